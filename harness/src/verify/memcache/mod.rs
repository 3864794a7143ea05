//! memcached and its proxies (mcrouter, twemproxy): the ASCII-protocol client and consistent
//! hashing (`client`), and one file per verifier: `pool`, `proxy`.

pub mod client;
pub mod pool;
pub mod proxy;
pub mod writes;
