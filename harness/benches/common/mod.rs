//! What the rig benchmarks share (the library's `From<Server>` for `Endpoint` exists only in its
//! own unit tests, where the test kit is a dependency of the library).

use harness::cluster::Endpoint;
use harness_testkit::Server;

/// Rig servers as the verifiers address them.
pub fn endpoints(servers: Vec<Server>) -> Vec<Endpoint> {
    servers
        .into_iter()
        .map(|s| Endpoint {
            name: s.name,
            host: s.host,
            port: s.port,
            advertised: s.advertised,
            node: None,
            via: None,
        })
        .collect()
}
