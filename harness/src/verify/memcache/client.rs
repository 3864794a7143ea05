//! What the memcached verifiers share: a memcache-async client over any
//! `AsyncRead + AsyncWrite` (a TCP stream here; a port-forward or exec stream from the cluster
//! layer, which bridges them to local sockets) whose writes are pipelined ([`Pipelined`]),
//! `stats` on a connection of its own (who a server is, its memory and evictions), and
//! client-side consistent hashing.

use crate::cluster::Endpoint;
use memcache_async::ascii::Protocol;
use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

pub const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Every key a check writes expires after this, a safety net for a run that is killed before it
/// deletes its keys.
pub const KEY_TTL_SECS: u32 = 600;
/// Keys per `get` command (memcached reads long key lists fine, proxies prefer short ones).
pub const MULTIGET_CHUNK: usize = 100;
/// Writes wait in the pipeline until this much is waiting, or until the next read.
pub const PIPELINE_BYTES: usize = 64 * 1024;

/// A stream whose writes wait in a buffer until an answer is needed: memcache-async flushes
/// after every command, `noreply` sets and deletes included, which costs a system call each;
/// here a flush is deferred to the next read (the server must have every command before it can
/// answer the one being read) or to [`PIPELINE_BYTES`] waiting. Every command a verifier sends
/// is followed by a round trip (a `get`, or `version`), so nothing waits forever.
pub struct Pipelined<S> {
    inner: S,
    pending: Vec<u8>,
    /// Write system calls made on `inner` (shared, so a test can count them).
    writes: Arc<AtomicU64>,
}

tokio::task_local! {
    /// Where the connections opened inside [`counting_writes`] add their write calls.
    static WRITE_COUNTER: Arc<AtomicU64>;
}

/// Runs `f` and counts the write system calls of every memcached connection it opens (a test's
/// or a benchmark's view of what pipelining saves; connections opened elsewhere are not counted).
pub async fn counting_writes<F: std::future::Future>(f: F) -> (F::Output, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let out = WRITE_COUNTER.scope(counter.clone(), f).await;
    (out, counter.load(Ordering::Relaxed))
}

impl<S> Pipelined<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            writes: WRITE_COUNTER.try_with(Arc::clone).unwrap_or_default(),
        }
    }

    /// How many writes reached the underlying stream so far.
    pub fn write_calls(&self) -> Arc<AtomicU64> {
        self.writes.clone()
    }
}

impl<S: AsyncWrite + Unpin> Pipelined<S> {
    /// Sends what is waiting, then flushes the underlying stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.writes.fetch_add(1, Ordering::Relaxed);
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Pipelined<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() + buf.len() > PIPELINE_BYTES {
            match this.poll_drain(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        this.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // Deferred: the next read (or a full buffer) sends what is waiting.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Pipelined<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_read(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

pub struct Client<S> {
    pub endpoint: Endpoint,
    proto: Protocol<S>,
    /// Each round trip's bound.
    limit: Duration,
}

/// A failed operation: where, what, and the cause as the server or the OS said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub endpoint: String,
    pub op: String,
    pub cause: String,
}

impl OpError {
    /// The server (or the proxy) did not answer within its bound.
    pub fn is_silence(&self) -> bool {
        self.cause.starts_with("no answer within")
    }
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

/// Runs one operation under `limit`, naming the endpoint and the operation on failure (and
/// recording it in the step's journal).
async fn bounded<T>(
    endpoint: &Endpoint,
    limit: Duration,
    op: impl FnOnce() -> String,
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, OpError> {
    let op = op();
    let key = endpoint.address();
    crate::journal::track(&key, || op.clone(), async {
        let cause = match tokio::time::timeout(limit, f).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {}", humantime::format_duration(limit)),
        };
        Err(OpError {
            endpoint: endpoint.to_string(),
            op: op.clone(),
            cause,
        })
    })
    .await
}

/// A connection over TCP with pipelined writes.
pub type TcpClient = Client<Pipelined<TcpStream>>;

pub async fn connect(endpoint: &Endpoint) -> Result<TcpClient, OpError> {
    connect_within(endpoint, OP_TIMEOUT).await
}

/// [`connect`] whose round trips (the connect included) are each bounded by `limit`.
pub async fn connect_within(endpoint: &Endpoint, limit: Duration) -> Result<TcpClient, OpError> {
    let stream = bounded(
        endpoint,
        limit,
        || "cannot connect".into(),
        TcpStream::connect(endpoint.address()),
    )
    .await?;
    let _ = stream.set_nodelay(true);
    let mut client = Client::new(endpoint.clone(), Pipelined::new(stream));
    client.limit = limit;
    Ok(client)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(endpoint: Endpoint, stream: S) -> Self {
        Self {
            endpoint,
            proto: Protocol::new(stream),
            limit: OP_TIMEOUT,
        }
    }

    /// `set` with `noreply` (pipelined); follow with a round trip before reading elsewhere.
    pub async fn set(&mut self, key: &str, value: &[u8]) -> Result<(), OpError> {
        bounded(
            &self.endpoint,
            self.limit,
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
                self.limit,
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
        bounded(
            &self.endpoint.clone(),
            self.limit,
            || format!("get {key}"),
            found,
        )
        .await
    }

    /// Values of many keys, in chunks.
    pub async fn get_many(&mut self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, OpError> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(MULTIGET_CHUNK) {
            let endpoint = self.endpoint.clone();
            out.extend(
                bounded(
                    &endpoint,
                    self.limit,
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
        bounded(
            &endpoint,
            self.limit,
            || "version".into(),
            self.proto.version(),
        )
        .await
    }
}

/// `stats` (or `stats <args>`, e.g. `settings`, `items`) on a connection of its own: every
/// `STAT name value` line up to `END`. A proxy that does not speak it (twemproxy closes the
/// connection) gets an error saying so.
pub async fn stats(
    endpoint: &Endpoint,
    args: &str,
    limit: Duration,
) -> Result<BTreeMap<String, String>, OpError> {
    let command = if args.is_empty() {
        "stats".to_string()
    } else {
        format!("stats {args}")
    };
    let what = command.clone();
    bounded(endpoint, limit, || what, async {
        let mut stream = TcpStream::connect(endpoint.address())
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot connect: {e}")))?;
        stream
            .write_all(format!("{command}\r\n").as_bytes())
            .await?;
        let mut text = Vec::new();
        let mut buf = [0u8; 8192];
        while !text.ends_with(b"END\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::other(format!(
                    "closed the connection without answering `{command}`"
                )));
            }
            text.extend_from_slice(&buf[..n]);
            if text.len() > 1024 * 1024 {
                return Err(std::io::Error::other(format!(
                    "answered `{command}` with more than 1 MiB"
                )));
            }
            if text.starts_with(b"ERROR") || text.starts_with(b"CLIENT_ERROR") {
                return Err(std::io::Error::other(format!(
                    "does not know `{command}`: {}",
                    String::from_utf8_lossy(&text).trim()
                )));
            }
        }
        Ok(String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|l| l.strip_prefix("STAT "))
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect())
    })
    .await
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
