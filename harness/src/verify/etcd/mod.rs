//! etcd: the discovery store of the Galera flow. `keys` checks the members (one cluster, every
//! member reached and healthy) and the Galera registrations (every node registered with a time
//! to live, nothing stale, stable over a window); `client` is what it asks a member, over the
//! HTTP client in `verify::http::client`.

pub mod client;
pub mod keys;
