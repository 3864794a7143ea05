//! Glue between the dev-only test doubles (`harness-testkit`, independent of this crate) and
//! the harness's own types. Compiled for unit tests only.

use crate::cluster::Endpoint;
use crate::verify::galera::Login;
use harness_testkit::{Server, rig};

/// Servers a double started, as the verifiers address them.
pub fn eps(servers: Vec<Server>) -> Vec<Endpoint> {
    servers.into_iter().map(Endpoint::from).collect()
}

/// The rig's Galera login.
pub fn galera_login() -> Login {
    Login {
        user: rig::GALERA_USER.into(),
        password: Some(rig::GALERA_PASSWORD.into()),
    }
}
