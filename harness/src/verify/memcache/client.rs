//! What the memcached verifiers share: a memcache-async client over any
//! `AsyncRead + AsyncWrite` (a TCP stream here; a port-forward or exec stream from the cluster
//! layer, which bridges them to local sockets), and client-side consistent hashing.

use crate::cluster::Endpoint;
use memcache_async::ascii::Protocol;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, BufWriter};
use tokio::net::TcpStream;

pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Every key a check writes expires after this, a safety net for a run that is killed before it
/// deletes its keys.
pub const KEY_TTL_SECS: u32 = 600;
/// Keys per `get` command (memcached reads long key lists fine, proxies prefer short ones).
pub const MULTIGET_CHUNK: usize = 100;

pub struct Client<S> {
    pub endpoint: Endpoint,
    proto: Protocol<S>,
}

/// A failed operation: where, what, and the cause as the server or the OS said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub endpoint: String,
    pub op: String,
    pub cause: String,
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.endpoint, self.op, self.cause)
    }
}

impl From<OpError> for String {
    fn from(e: OpError) -> String {
        e.to_string()
    }
}

/// Runs one operation under [`OP_TIMEOUT`], naming the endpoint and the operation on failure
/// (and recording it in the step's journal).
async fn bounded<T>(
    endpoint: &Endpoint,
    op: impl FnOnce() -> String,
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, OpError> {
    let op = op();
    let key = endpoint.address();
    crate::journal::track(&key, || op.clone(), async {
        let cause = match tokio::time::timeout(OP_TIMEOUT, f).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {}s", OP_TIMEOUT.as_secs()),
        };
        Err(OpError {
            endpoint: endpoint.to_string(),
            op: op.clone(),
            cause,
        })
    })
    .await
}

pub async fn connect(endpoint: &Endpoint) -> Result<Client<BufWriter<TcpStream>>, OpError> {
    let stream = bounded(
        endpoint,
        || "cannot connect".into(),
        TcpStream::connect(endpoint.address()),
    )
    .await?;
    let _ = stream.set_nodelay(true);
    // memcache-async writes a command in several pieces and flushes each; a write buffer makes
    // that one syscall per command instead of three.
    Ok(Client::new(endpoint.clone(), BufWriter::new(stream)))
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(endpoint: Endpoint, stream: S) -> Self {
        Self {
            endpoint,
            proto: Protocol::new(stream),
        }
    }

    /// `set` with `noreply` (pipelined); follow with a round trip before reading elsewhere.
    pub async fn set(&mut self, key: &str, value: &[u8]) -> Result<(), OpError> {
        bounded(
            &self.endpoint,
            || format!("set {key}"),
            self.proto.set(key, value, KEY_TTL_SECS),
        )
        .await
    }

    /// Deletes keys (pipelined) and makes one round trip, so they are gone when this returns.
    pub async fn delete_all(&mut self, keys: &[String]) -> Result<(), OpError> {
        for key in keys {
            bounded(
                &self.endpoint,
                || format!("delete {key}"),
                self.proto.delete(key),
            )
            .await?;
        }
        self.version().await.map(|_| ())
    }

    /// A value, or `None` when the key is absent.
    pub async fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, OpError> {
        let found = async {
            match self.proto.get(key).await {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        };
        bounded(&self.endpoint.clone(), || format!("get {key}"), found).await
    }

    /// Values of many keys, in chunks.
    pub async fn get_many(&mut self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, OpError> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(MULTIGET_CHUNK) {
            let endpoint = self.endpoint.clone();
            out.extend(
                bounded(
                    &endpoint,
                    || format!("get of {} keys", chunk.len()),
                    self.proto.get_multi(chunk),
                )
                .await?,
            );
        }
        Ok(out)
    }

    pub async fn version(&mut self) -> Result<String, OpError> {
        let endpoint = self.endpoint.clone();
        bounded(&endpoint, || "version".into(), self.proto.version()).await
    }
}

/// FNV-1a, 64 bit: a stable hash (the same in every run and on every platform).
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Rendezvous (highest random weight) hashing, the scheme of pymemcache's `HashClient`: the
/// server with the highest hash of (server, key) owns the key; removing a server moves only its
/// own keys.
pub fn owner<'a>(key: &str, servers: &'a [Endpoint]) -> &'a Endpoint {
    servers
        .iter()
        .max_by_key(|s| {
            let mut data = s.name.as_bytes().to_vec();
            data.push(b'/');
            data.extend_from_slice(key.as_bytes());
            mix(fnv1a(&data))
        })
        .expect("at least one server")
}

/// A finaliser (from MurmurHash3) so that near-identical inputs spread evenly.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn rendezvous_hashing_spreads_keys_and_moves_only_the_removed_servers_keys() {
        let servers: Vec<Endpoint> = (0..3)
            .map(|i| Endpoint::parse(&format!("mc-{i}:11211")).unwrap())
            .collect();
        let mut counts = [0usize; 3];
        for k in 0..3000 {
            let key = format!("key-{k}");
            let o = owner(&key, &servers);
            counts[servers.iter().position(|s| s == o).unwrap()] += 1;
        }
        assert!(counts.iter().all(|c| *c > 800), "{counts:?}");
        let fewer = &servers[..2];
        for k in 0..3000 {
            let key = format!("key-{k}");
            let before = owner(&key, &servers);
            if before != &servers[2] {
                assert_eq!(
                    owner(&key, fewer),
                    before,
                    "{key} moved although its server stayed"
                );
            }
        }
    }
}
