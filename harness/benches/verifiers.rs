//! The verifiers against the usual alternatives, like for like, on the same real servers (layer
//! 2 rig), the two sides interleaved run by run (alternating which goes first) so that drift on
//! a shared machine falls on both; each line gives min / median / max over the runs.
//!
//! - `memcache.pool` on 10,000 keys over 3 servers vs pymemcache's `HashClient` used as its
//!   documentation recommends (`set_many` / `get_many`), doing the same work: each server's
//!   `stats` before and after, every value read back and compared, the keys' spread over the
//!   servers judged against the same floor (from each server's count of items stored, so
//!   Python hashes each key only where pymemcache itself does), every key deleted. Both timed
//!   in process.
//! - memcached I/O alone: the same 10,000 `noreply` sets, batched gets and deletes through
//!   memcache-async flushing after every command vs the harness's pipelined stream, with the
//!   write system calls each made.
//! - `galera.sync` on 3 nodes vs the seed's `89-galera-sync-test.sh` way: one `mariadb` CLI
//!   process per statement, run from the host (no `docker exec`), each output checked. The
//!   harness side also establishes membership (each node's view of the others) first.
//!
//! Needs Docker, the rig image, pymemcache in the project's python and the `mariadb` client on
//! the host: scripts/install-test-deps.sh (which the README's test command runs) installs them
//! too. Run: `cargo bench --bench verifiers`.

mod common;

use harness::cluster::Endpoint;
use harness::verify::Target;
use harness::verify::galera::{Login, sync as galera_sync};
use harness::verify::memcache::client::{Client, Pipelined, counting_writes};
use harness::verify::memcache::pool::{self as memcache_pool, MemcachePoolSpec};
use harness_testkit::rig;
use std::path::Path;
use std::pin::Pin;
use std::process::Command;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

const RUNS: usize = 11;
const KEYS: u32 = 10_000;
const MIN_SHARE: f64 = 0.5;

/// `min / median / max` of a set of runs.
fn spread(runs: &[Duration]) -> String {
    let mut v = runs.to_vec();
    v.sort();
    format!(
        "{:.1} / {:.1} / {:.1} ms",
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() - 1])
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(runs: &[Duration]) -> Duration {
    let mut v = runs.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn report(what: &str, ours: &[Duration], other: &str, theirs: &[Duration]) {
    println!(
        "{what}: harness {} vs {other} {} over {} interleaved runs each: {:.1}x (medians)",
        spread(ours),
        spread(theirs),
        ours.len(),
        median(theirs).as_secs_f64() / median(ours).as_secs_f64()
    );
}

fn python() -> String {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-python/bin/python");
    if venv.exists() {
        venv.display().to_string()
    } else {
        "python3".into()
    }
}

/// pymemcache doing what `memcache.pool` does; returns the in-process time. `c_hash`: its
/// rendezvous hashing over zlib's CRC-32 (C) instead of its default pure-Python murmur3, the
/// cheapest hash it can be given.
fn pymemcache(servers: &[String], run: usize, c_hash: bool) -> Duration {
    let py_c_hash = if c_hash { "True" } else { "False" };
    let script = format!(
        r#"
import time, zlib
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient
from pymemcache.client.rendezvous import RendezvousHash
class CHash(RendezvousHash):
    def __init__(self, nodes=None, seed=0):
        super().__init__(nodes, seed, hash_function=lambda s, seed: zlib.crc32(s.encode(), seed))
servers = [(h, int(p)) for h, p in (s.rsplit(':', 1) for s in {servers:?})]
start = time.perf_counter()
direct = [Client(s, no_delay=True) for s in servers]
before = [c.stats() for c in direct]
assert all(b'pid' in s for s in before), "not memcached"
client = HashClient(servers, use_pooling=True, no_delay=True, hasher=CHash if {py_c_hash} else RendezvousHash)
keys = ['bench:py:{run}:%d' % k for k in range({KEYS})]
assert not client.set_many({{k: k for k in keys}}, expire=600, noreply=True)
got = client.get_many(keys)
bad = [k for k in keys if got.get(k) != k.encode()]
assert not bad, "%d keys read back wrong or missing" % len(bad)
after = [c.stats() for c in direct]
# The spread from each server's own count of items stored (no second pass of hashing).
counts = [a[b'total_items'] - b[b'total_items'] for a, b in zip(after, before)]
fair = {KEYS} / len(servers)
assert sum(counts) == {KEYS} and min(counts) >= {MIN_SHARE} * fair, counts
assert all(a[b'evictions'] == b[b'evictions'] for a, b in zip(after, before)), "evictions"
client.delete_many(keys, noreply=False)
print(time.perf_counter() - start)
"#
    );
    let out = Command::new(python())
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "pymemcache failed (target/test-python/bin/pip install pymemcache): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("seconds");
    Duration::from_secs_f64(secs)
}

/// 10,000 sets, batched gets (every value compared) and deletes on one server over `stream`.
async fn io_round<S>(server: &Endpoint, stream: S, run: usize, tag: &str) -> Duration
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let mut client = Client::new(server.clone(), stream);
    let keys: Vec<String> = (0..KEYS)
        .map(|k| format!("bench:{tag}:{run}:{k}"))
        .collect();
    for key in &keys {
        client.set(key, key.as_bytes()).await.expect("set");
    }
    let got = client.get_many(&keys).await.expect("get");
    assert!(
        keys.iter()
            .all(|k| got.get(k).map(Vec::as_slice) == Some(k.as_bytes())),
        "values read back wrong"
    );
    client.delete_all(&keys).await.expect("delete");
    start.elapsed()
}

/// The seed's sync test: one `mariadb` process per statement, from the host, output checked.
fn cli_sync(hosts: &[String], run: usize) -> Duration {
    let (user, pass) = (rig::GALERA_USER, rig::GALERA_PASSWORD);
    let db = format!("synctest_cli_{run}");
    let n = hosts.len();
    let both = "aaa\txxx\nid\tthis is my name\n";
    let one = "id\tthis is my name\n";
    let read =
        format!("SET SESSION wsrep_sync_wait = 1; SELECT id, name FROM {db}.test ORDER BY id");
    let mut statements: Vec<(usize, String, Option<&str>)> = vec![
        (0, format!("CREATE DATABASE {db}"), None),
        (
            0,
            format!("CREATE TABLE {db}.test (id CHAR(10) PRIMARY KEY, name VARCHAR(20))"),
            None,
        ),
        (
            0,
            format!("INSERT INTO {db}.test VALUES ('aaa', 'xxx'), ('id', 'this is my name')"),
            None,
        ),
    ];
    statements.extend((1..n).map(|i| (i, read.clone(), Some(both))));
    statements.push((
        n - 1,
        format!("DELETE FROM {db}.test WHERE id = 'aaa'"),
        None,
    ));
    statements.extend((0..n).map(|i| (i, read.clone(), Some(one))));
    statements.push((1, format!("DROP DATABASE {db}"), None));
    let start = Instant::now();
    for (node, sql, expect) in statements {
        let out = Command::new("mariadb")
            .args([
                "--batch",
                "--skip-column-names",
                "-u",
                user,
                &format!("-p{pass}"),
                "-h",
                &hosts[node],
                "-e",
                &sql,
            ])
            .output()
            .expect("the mariadb client (apt-get install mariadb-client)");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(expected) = expect {
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{sql}");
        }
    }
    start.elapsed()
}

#[tokio::main]
async fn main() {
    // memcached: 3 servers.
    let (_net, _mc, servers) = rig::memcached(3).await;
    let servers = common::endpoints(servers);
    let spec = MemcachePoolSpec {
        target: Target::Endpoints(servers.clone()),
        keys: KEYS,
        min_share: MIN_SHARE,
        min_memory: None,
        version: None,
    };
    let addresses: Vec<String> = servers.iter().map(|s| s.address()).collect();
    let (mut ours, mut theirs, mut theirs_c) = (vec![], vec![], vec![]);
    for run in 0..RUNS {
        let harness = async {
            let t = Instant::now();
            let v = memcache_pool::check(&spec, &servers).await;
            assert!(v.passed, "{}", v.summary);
            t.elapsed()
        };
        // Rotate who goes first.
        match run % 3 {
            0 => {
                ours.push(harness.await);
                theirs.push(pymemcache(&addresses, run, false));
                theirs_c.push(pymemcache(&addresses, run, true));
            }
            1 => {
                theirs.push(pymemcache(&addresses, run, false));
                theirs_c.push(pymemcache(&addresses, run, true));
                ours.push(harness.await);
            }
            _ => {
                theirs_c.push(pymemcache(&addresses, run, true));
                ours.push(harness.await);
                theirs.push(pymemcache(&addresses, run, false));
            }
        }
    }
    report(
        &format!("memcache.pool, {KEYS} keys, 3 servers"),
        &ours,
        "pymemcache HashClient set_many/get_many (its default murmur3 rendezvous hash)",
        &theirs,
    );
    report(
        &format!("memcache.pool, {KEYS} keys, 3 servers"),
        &ours,
        "pymemcache HashClient set_many/get_many (rendezvous over C CRC-32)",
        &theirs_c,
    );

    let server = &servers[0];
    let (mut piped, mut flushed) = (vec![], vec![]);
    let (mut piped_calls, mut flushed_calls) = (0, 0);
    for run in 0..RUNS {
        let pipelined = async {
            let stream = TcpStream::connect(server.address()).await.expect("connect");
            let _ = stream.set_nodelay(true);
            // The stream is made inside the count, so its writes are counted.
            counting_writes(async { io_round(server, Pipelined::new(stream), run, "piped").await })
                .await
        };
        let flushing = async {
            let stream = TcpStream::connect(server.address()).await.expect("connect");
            let _ = stream.set_nodelay(true);
            let mut counted = Counting {
                inner: stream,
                writes: 0,
            };
            let d = io_round(server, &mut counted, run, "flushed").await;
            (d, counted.writes)
        };
        let ((p, pc), (f, fc)) = if run % 2 == 0 {
            let p = pipelined.await;
            (p, flushing.await)
        } else {
            let f = flushing.await;
            (pipelined.await, f)
        };
        piped.push(p);
        flushed.push(f);
        (piped_calls, flushed_calls) = (pc, fc);
    }
    report(
        &format!(
            "memcached I/O, {KEYS} sets + gets + deletes, 1 server ({piped_calls} vs {flushed_calls} write calls)"
        ),
        &piped,
        "memcache-async flushing every command",
        &flushed,
    );

    // Galera: 3 nodes.
    let (_nodes, servers) = rig::galera(3).await;
    let endpoints = common::endpoints(servers);
    let login = Login {
        user: rig::GALERA_USER.into(),
        password: Some(rig::GALERA_PASSWORD.into()),
    };
    let hosts: Vec<String> = endpoints.iter().map(|e| e.host.clone()).collect();
    let (mut ours, mut theirs) = (vec![], vec![]);
    for run in 0..RUNS {
        let harness = async {
            let t = Instant::now();
            let v = galera_sync::check(&endpoints, &login).await;
            assert!(v.passed, "{}", v.summary);
            t.elapsed()
        };
        if run % 2 == 0 {
            ours.push(harness.await);
            theirs.push(cli_sync(&hosts, run));
        } else {
            theirs.push(cli_sync(&hosts, run));
            ours.push(harness.await);
        }
    }
    report(
        "galera.sync, 3 nodes",
        &ours,
        "one mariadb CLI process per statement, from the host",
        &theirs,
    );
}

/// A plain stream that counts its write calls (each one a `sendto` on a TCP stream).
struct Counting<S> {
    inner: S,
    writes: u64,
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = polled {
            self.writes += 1;
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}
