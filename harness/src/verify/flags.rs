//! The flags of `harness verify`, shared by every verifier: each builds its raw spec from them
//! ([`super::Verifier::from_flags`]) and then goes through the same validation as a scenario.

use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub struct VerifyFlags {
    /// A server HOST:PORT (repeatable).
    #[arg(long = "endpoint", required = true)]
    pub endpoints: Vec<String>,
    /// A proxy HOST:PORT for memcache.proxy (repeatable).
    #[arg(long = "proxy")]
    pub proxies: Vec<String>,
    /// For etcd.keys: a Galera node address that must be registered (repeatable).
    #[arg(long = "node")]
    pub nodes: Vec<String>,
    /// For etcd.keys: the Galera cluster name.
    #[arg(long)]
    pub cluster: Option<String>,
    /// For etcd.keys: each registration must expire within this (e.g. 30s).
    #[arg(long)]
    pub max_ttl: Option<String>,
    /// For etcd.keys: the registrations must match for this long, watched (e.g. 30s).
    #[arg(long)]
    pub stable_for: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Name of the environment variable that holds the password (never the password itself).
    #[arg(long)]
    pub password_env: Option<String>,
    /// Expected Galera cluster size (default: the number of endpoints).
    #[arg(long)]
    pub size: Option<i64>,
    /// Keys for memcache checks.
    #[arg(long)]
    pub keys: Option<i64>,
    /// Duration of galera.acknowledged_writes, e.g. 10s.
    #[arg(long)]
    pub duration: Option<String>,
    /// HTTP path for the http verifier.
    #[arg(long)]
    pub path: Option<String>,
    /// Metric family the http verifier must find.
    #[arg(long)]
    pub metric_family: Option<String>,
    /// For cql: the query read back with every node as coordinator.
    #[arg(long)]
    pub query: Option<String>,
    /// For cql: how many rows the query must return.
    #[arg(long)]
    pub expect_rows: Option<i64>,
    /// For cql: the consistency level of the script and the reads.
    #[arg(long, default_value = "QUORUM")]
    pub consistency: String,
    /// For cql: a CQL script run once before the reads.
    #[arg(long)]
    pub script: Option<String>,
}

impl VerifyFlags {
    /// `--endpoint` values as a raw static target.
    pub fn target(&self) -> super::RawTarget {
        super::RawTarget::endpoints(&self.endpoints)
    }
}
