//! HTTP: a small client (`client`, also used by etcd's checks) and the `http` verifier (`check`).

pub mod check;
pub mod client;
