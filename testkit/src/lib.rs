//! Test doubles for the harness, kept out of the product: `cargo build --release` of `harness`
//! never compiles them. Each says what it stands in for and what it is not.
//!
//! - [`fake_api`]: a fake Kubernetes API server for exec and port-forward streams (layer 3).
//! - [`cql_standin`]: a CQL native-protocol v4 stand-in (not Cassandra) for the `cql` verifier.
//! - [`rig`]: real MariaDB Galera, etcd, memcached and twemproxy servers in containers (layer 2).

pub mod cql_standin;
pub mod fake_api;
pub mod rig;

/// A server a double started: a display name, where to reach it, and the address it tells its
/// peers (a pod IP behind a bridge), when that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub advertised: Option<String>,
}

impl Server {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        Self {
            name: format!("{host}:{port}"),
            host,
            port,
            advertised: None,
        }
    }
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A short token unique to this process and call, for container and network names.
pub fn nonce() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{:x}{:x}{:x}",
        nanos & 0xff_ffff_ffff,
        std::process::id() & 0xffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
