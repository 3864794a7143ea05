//! Verifier specs as a scenario (or the CLI) states them: what to check and against which
//! targets. The checks themselves live in one module per verifier.

use crate::scenario::raw::ScalarString;
use serde::{Deserialize, Serialize};

/// Where a verifier's servers are: pods of a selector in the scenario namespace (reached through
/// port-forward bridges), or fixed `host:port` endpoints (static targets, no cluster needed).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Label selector of the pods, e.g. `app=galera`.
    pub pods: Option<String>,
    /// Container port on each pod.
    pub port: Option<i64>,
    /// Static `host:port` endpoints.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// Proxies reached from inside application pods: one app pod per node runs
/// `nc $<host_env> <port>`, so the check goes through the proxy on that pod's own node.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxyTargetSpec {
    /// Label selector of the application pods that reach their node-local proxy.
    pub via_pods: Option<String>,
    /// Environment variable in those pods that names the host to dial (e.g. `NODE_NAME`).
    pub host_env: Option<String>,
    pub port: Option<i64>,
    /// Static proxy `host:port` endpoints.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// A password from an environment variable of the harness, a scenario variable marked secret,
/// or a Kubernetes Secret in the scenario namespace. Never a literal.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum PasswordSource {
    Env(String),
    Var(String),
    Secret { name: String, key: String },
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub user: String,
    #[serde(default, with = "serde_yaml::with::singleton_map")]
    pub password: Option<PasswordSource>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GaleraStatusSpec {
    pub target: TargetSpec,
    pub credentials: Credentials,
    /// Expected `wsrep_cluster_size` on every node; defaults to the number of targets.
    pub size: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GaleraSyncSpec {
    pub target: TargetSpec,
    pub credentials: Credentials,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GaleraAckWritesSpec {
    pub target: TargetSpec,
    pub credentials: Credentials,
    /// How long writers run, e.g. `20s`.
    #[serde(default = "default_write_duration")]
    pub duration: String,
    /// Concurrent writers per node.
    #[serde(default = "one")]
    pub writers_per_node: i64,
    /// Every Nth acknowledged insert is deleted again (0 = no deletes).
    #[serde(default = "default_delete_every")]
    pub delete_every: i64,
    /// How long to wait for nodes to converge before reading back, e.g. `60s`.
    #[serde(default = "default_settle")]
    pub settle: String,
    /// A fault injected while the writers run (cluster scenarios only).
    pub during: Option<DuringFault>,
}

/// Deletes a pod `after` the writers started (the node-loss scenario).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DuringFault {
    pub delete_pod: String,
    #[serde(default = "default_fault_after")]
    pub after: String,
}

fn default_fault_after() -> String {
    "3s".into()
}

fn default_write_duration() -> String {
    "10s".into()
}
fn default_settle() -> String {
    "60s".into()
}
fn one() -> i64 {
    1
}
fn default_delete_every() -> i64 {
    5
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EtcdApi {
    V2,
    V3,
    /// Registrations found through v2, else v3 (etcd keeps the two key spaces apart).
    #[default]
    Any,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EtcdKeysSpec {
    /// etcd client endpoints (port 2379).
    pub target: TargetSpec,
    /// Galera cluster name: registrations live under `/galera/<cluster>/<ip>/`.
    pub cluster: String,
    /// The Galera nodes whose addresses must be registered (pod IPs, or static addresses).
    pub nodes: TargetSpec,
    #[serde(default)]
    pub api: EtcdApi,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemcachePoolSpec {
    pub target: TargetSpec,
    /// Keys spread with client-side consistent hashing.
    #[serde(default = "default_keys")]
    pub keys: i64,
    /// Each server must hold at least this fraction of its fair share (keys / servers).
    #[serde(default = "default_min_share")]
    pub min_share: f64,
}

fn default_keys() -> i64 {
    1000
}
fn default_min_share() -> f64 {
    0.5
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemcacheProxySpec {
    pub proxies: ProxyTargetSpec,
    /// The memcached servers behind the proxies, for the direct "lives on exactly one" check.
    pub servers: TargetSpec,
    #[serde(default = "default_proxy_keys")]
    pub keys_per_proxy: i64,
}

fn default_proxy_keys() -> i64 {
    20
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    pub target: TargetSpec,
    #[serde(default = "default_http_path")]
    pub path: String,
    #[serde(default = "default_status")]
    pub status: i64,
    #[serde(default)]
    pub contains: Vec<String>,
    /// A Prometheus metric family that must appear (`# TYPE <name>` or a sample line).
    pub metric_family: Option<String>,
}

fn default_http_path() -> String {
    "/".into()
}
fn default_status() -> i64 {
    200
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CassandraRingSpec {
    /// Cassandra pods; `nodetool status` runs in each of them.
    pub pods: String,
    pub container: Option<String>,
    /// Number of `UN` nodes every pod must see.
    pub nodes: i64,
    /// Optionally require the ring to stay unchanged for this long, e.g. `30s`.
    pub stable_for: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CassandraIdentitySpec {
    pub pods: String,
    pub container: Option<String>,
    /// The pod that is replaced between the two observations.
    pub pod: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CassandraSnapshotSpec {
    pub pod: String,
    pub container: Option<String>,
    pub keyspace: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CqlSpec {
    pub target: TargetSpec,
    pub credentials: Option<Credentials>,
    /// A CQL script (path relative to the scenario) run once before the reads.
    pub script: Option<String>,
    /// A query read back with every node as coordinator.
    pub query: String,
    pub expect_rows: i64,
    #[serde(default = "default_consistency")]
    pub consistency: String,
    /// Compare `system.local` + `system.peers` with `nodetool status` run in the first target
    /// pod (pod targets only).
    #[serde(default = "yes")]
    pub nodetool: bool,
    /// The container that has `nodetool`, when the pod has several.
    pub container: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_consistency() -> String {
    "QUORUM".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssertValue {
    pub equals: ScalarString,
}

/// Every verifier a `verify` step can name.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum VerifySpec {
    #[serde(rename = "cassandra.ring")]
    CassandraRing(CassandraRingSpec),
    #[serde(rename = "cassandra.identity")]
    CassandraIdentity(CassandraIdentitySpec),
    #[serde(rename = "cassandra.snapshot")]
    CassandraSnapshot(CassandraSnapshotSpec),
    #[serde(rename = "cql")]
    Cql(CqlSpec),
    #[serde(rename = "galera.status")]
    GaleraStatus(GaleraStatusSpec),
    #[serde(rename = "galera.sync")]
    GaleraSync(GaleraSyncSpec),
    #[serde(rename = "galera.acknowledged_writes")]
    GaleraAckWrites(GaleraAckWritesSpec),
    #[serde(rename = "etcd.keys")]
    EtcdKeys(EtcdKeysSpec),
    #[serde(rename = "memcache.pool")]
    MemcachePool(MemcachePoolSpec),
    #[serde(rename = "memcache.proxy")]
    MemcacheProxy(MemcacheProxySpec),
    #[serde(rename = "http")]
    Http(HttpSpec),
}

impl VerifySpec {
    pub const NAMES: [&'static str; 11] = [
        "cassandra.ring",
        "cassandra.identity",
        "cassandra.snapshot",
        "cql",
        "galera.status",
        "galera.sync",
        "galera.acknowledged_writes",
        "etcd.keys",
        "memcache.pool",
        "memcache.proxy",
        "http",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            VerifySpec::CassandraRing(_) => "cassandra.ring",
            VerifySpec::CassandraIdentity(_) => "cassandra.identity",
            VerifySpec::CassandraSnapshot(_) => "cassandra.snapshot",
            VerifySpec::Cql(_) => "cql",
            VerifySpec::GaleraStatus(_) => "galera.status",
            VerifySpec::GaleraSync(_) => "galera.sync",
            VerifySpec::GaleraAckWrites(_) => "galera.acknowledged_writes",
            VerifySpec::EtcdKeys(_) => "etcd.keys",
            VerifySpec::MemcachePool(_) => "memcache.pool",
            VerifySpec::MemcacheProxy(_) => "memcache.proxy",
            VerifySpec::Http(_) => "http",
        }
    }

    /// Targets with their key names, for validation and resolution.
    pub fn targets(&self) -> Vec<(&'static str, &TargetSpec)> {
        match self {
            VerifySpec::Cql(s) => vec![("target", &s.target)],
            VerifySpec::GaleraStatus(s) => vec![("target", &s.target)],
            VerifySpec::GaleraSync(s) => vec![("target", &s.target)],
            VerifySpec::GaleraAckWrites(s) => vec![("target", &s.target)],
            VerifySpec::EtcdKeys(s) => vec![("target", &s.target), ("nodes", &s.nodes)],
            VerifySpec::MemcachePool(s) => vec![("target", &s.target)],
            VerifySpec::MemcacheProxy(s) => vec![("servers", &s.servers)],
            VerifySpec::Http(s) => vec![("target", &s.target)],
            VerifySpec::CassandraRing(_)
            | VerifySpec::CassandraIdentity(_)
            | VerifySpec::CassandraSnapshot(_) => {
                vec![]
            }
        }
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        match self {
            VerifySpec::GaleraStatus(s) => Some(&s.credentials),
            VerifySpec::GaleraSync(s) => Some(&s.credentials),
            VerifySpec::GaleraAckWrites(s) => Some(&s.credentials),
            VerifySpec::Cql(s) => s.credentials.as_ref(),
            _ => None,
        }
    }

    /// Whether the verifier needs a Kubernetes cluster (exec in pods) whatever its targets say.
    pub fn needs_cluster(&self) -> bool {
        matches!(
            self,
            VerifySpec::CassandraRing(_)
                | VerifySpec::CassandraIdentity(_)
                | VerifySpec::CassandraSnapshot(_)
        ) || self.targets().iter().any(|(_, t)| t.pods.is_some())
            || matches!(self, VerifySpec::MemcacheProxy(s) if s.proxies.via_pods.is_some())
            || matches!(self, VerifySpec::GaleraAckWrites(s) if s.during.is_some())
    }
}
