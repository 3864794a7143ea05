//! memcached and its proxies (mcrouter, twemproxy): the ASCII-protocol client with pipelined
//! writes, `stats`, and consistent hashing (`client`); who a server or a proxy is (`identity`);
//! how evenly keys must spread and well-mixed key names (`spread`); one file per verifier:
//! `pool`, `proxy`; and the workload's writers (`writes`).

pub mod client;
pub mod identity;
pub mod pool;
pub mod proxy;
pub mod spread;
pub mod writes;
