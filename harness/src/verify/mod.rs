//! Data-level verifiers: one module per verifier, each an `async fn check(spec, targets, ..)`
//! that talks to the servers through their native protocol and returns a [`Verdict`]. The
//! verifiers know nothing of Kubernetes: the cluster layer turns pod targets into local
//! endpoints (port-forward bridges) before calling them, so the same code runs against static
//! endpoints from the CLI.

mod spec;
pub use spec::*;

pub mod cassandra;
pub mod cql;
#[cfg(test)]
pub(crate) mod cql_standin;
pub mod etcd_keys;
pub mod galera;
pub mod galera_ack;
pub mod galera_status;
pub mod galera_sync;
pub mod http_check;
pub mod http_client;
pub mod memcache;
pub mod memcache_pool;
pub mod memcache_proxy;
pub mod nodetool;
#[cfg(any(test, feature = "rig"))]
pub mod rig;

use std::fmt;
use std::path::Path;
use std::time::Duration;

/// One server to talk to: a display name (pod name, or the address as given) and a socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// The address the server is known by inside its cluster (pod IP), when that differs.
    pub advertised: Option<String>,
}

impl Endpoint {
    /// Parses `HOST:PORT` (`[v6]:PORT` for IPv6).
    pub fn parse(text: &str) -> Option<Self> {
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().ok()?;
        if host.is_empty() || port == 0 || host.contains(char::is_whitespace) {
            return None;
        }
        Some(Self {
            name: text.to_string(),
            host: host.to_string(),
            port,
            advertised: None,
        })
    }

    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The address other members of the cluster know this server by.
    pub fn cluster_address(&self) -> &str {
        self.advertised.as_deref().unwrap_or(&self.host)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a verifier found: pass or fail, a one-line summary, and evidence lines (what each
/// endpoint said) for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    pub summary: String,
    pub evidence: Vec<String>,
}

impl Verdict {
    pub fn pass(summary: impl Into<String>, evidence: Vec<String>) -> Self {
        Self {
            passed: true,
            summary: summary.into(),
            evidence,
        }
    }
    pub fn fail(summary: impl Into<String>, evidence: Vec<String>) -> Self {
        Self {
            passed: false,
            summary: summary.into(),
            evidence,
        }
    }
}

/// Resolved inputs of a verifier run.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Endpoints per target key (`target`, `nodes`, `servers`).
    pub by_key: Vec<(&'static str, Vec<Endpoint>)>,
    /// Proxy endpoints for `memcache.proxy`.
    pub proxies: Vec<Endpoint>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `nodetool status` from a target pod, for `cql` to compare with what the driver reads.
    pub nodetool: Option<cql::NodetoolView>,
}

impl Targets {
    pub fn get(&self, key: &str) -> &[Endpoint] {
        self.by_key
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Usage(String),
}

/// A short token unique to this run of a check (names its keys, databases and tables).
pub fn nonce() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!(
        "{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    format!(
        "{:012x}",
        memcache::fnv1a(seed.as_bytes()) & 0xffff_ffff_ffff
    )
}

/// Runs one operation of a check under `limit`; an error or a timeout comes back as
/// `"{what}: {cause}"`, so every verifier reports a server that does not answer the same way.
pub async fn bounded<T, E: fmt::Display>(
    what: &str,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(|e| format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {}s", limit.as_secs())),
    }
}

/// Runs a verifier. `scenario_file` anchors relative paths (CQL scripts). The caller bounds the
/// whole check (the step's deadline, or `--timeout` of `harness verify`).
pub async fn run(
    spec: &VerifySpec,
    targets: &Targets,
    scenario_file: &Path,
) -> Result<Verdict, VerifyError> {
    let login = || galera::Login {
        user: targets.user.clone().unwrap_or_else(|| "root".into()),
        password: targets.password.clone(),
    };
    match spec {
        VerifySpec::GaleraStatus(s) => {
            Ok(galera_status::check(s, targets.get("target"), &login()).await)
        }
        VerifySpec::GaleraSync(_) => Ok(galera_sync::check(targets.get("target"), &login()).await),
        VerifySpec::GaleraAckWrites(s) => {
            Ok(galera_ack::check(s, targets.get("target"), &login()).await)
        }
        VerifySpec::EtcdKeys(s) => {
            Ok(etcd_keys::check(s, targets.get("target"), targets.get("nodes")).await)
        }
        VerifySpec::MemcachePool(s) => Ok(memcache_pool::check(s, targets.get("target")).await),
        VerifySpec::MemcacheProxy(s) => {
            Ok(memcache_proxy::check(s, &targets.proxies, targets.get("servers")).await)
        }
        VerifySpec::Http(s) => Ok(http_check::check(s, targets.get("target")).await),
        VerifySpec::CassandraRing(_)
        | VerifySpec::CassandraIdentity(_)
        | VerifySpec::CassandraSnapshot(_) => Err(VerifyError::Usage(format!(
            "{} runs nodetool in pods: it needs a cluster",
            spec.name()
        ))),
        VerifySpec::Cql(s) => {
            let script = match &s.script {
                Some(path) => {
                    let full = scenario_file.parent().unwrap_or(Path::new(".")).join(path);
                    Some(std::fs::read_to_string(&full).map_err(|e| {
                        VerifyError::Usage(format!("CQL script {}: {e}", full.display()))
                    })?)
                }
                None => None,
            };
            let login = targets
                .user
                .clone()
                .map(|u| (u, targets.password.clone().unwrap_or_default()));
            Ok(cql::check(
                s,
                targets.get("target"),
                login,
                script.as_deref(),
                targets.nodetool.as_ref(),
            )
            .await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn parses_endpoints() {
        let e = Endpoint::parse("10.0.0.1:3306").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("10.0.0.1", 3306));
        assert_eq!(
            Endpoint::parse("[::1]:11211").unwrap().address(),
            "[::1]:11211"
        );
        for bad in ["nohost", ":80", "h:0", "h:99999", "h:x"] {
            assert!(Endpoint::parse(bad).is_none(), "{bad}");
        }
    }
}
