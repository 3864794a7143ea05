//! etcd: the discovery store of the Galera flow. `keys` checks member health and the Galera
//! registrations, over the HTTP client in `verify::http::client`.

pub mod keys;
