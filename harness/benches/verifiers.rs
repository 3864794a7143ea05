//! The verifiers against the seeds' own ways, on the same real servers in one run (layer 2 rig):
//! - `memcache.pool` on 10,000 keys vs pymemcache's `HashClient` (the seed's client, with
//!   `use_pooling=True`) doing the same sets and gets one by one;
//! - `galera.sync` vs the seed's `89-galera-sync-test.sh` way: one `mariadb` CLI call per
//!   statement, each through `docker exec` as the seed went through `kubectl exec`.
//!
//! Target: at least 10x faster than each. Needs Docker, the rig image and `pip install pymemcache`.
//! Run: `cargo bench --bench verifiers`.

use harness::cluster::Endpoint;
use harness::verify::Target;
use harness::verify::galera::{Login, sync as galera_sync};
use harness::verify::memcache::pool::{self as memcache_pool, MemcachePoolSpec};
use harness_testkit::{Server, rig};
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 5;
const KEYS: u32 = 10_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pymemcache(servers: &[String]) -> Duration {
    let script = format!(
        r#"
import time
from pymemcache.client.hash import HashClient
servers = [(h, int(p)) for h, p in (s.rsplit(':', 1) for s in {servers:?})]
client = HashClient(servers, use_pooling=True)
start = time.perf_counter()
for k in range({KEYS}):
    client.set('bench:py:%d' % k, 'bench:py:%d' % k)
missing = sum(1 for k in range({KEYS}) if client.get('bench:py:%d' % k) is None)
print(time.perf_counter() - start, missing)
"#
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "pymemcache failed (pip install pymemcache): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let secs: f64 = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("0"), "pymemcache lost keys");
    Duration::from_secs_f64(secs)
}

/// The seed's sync test: one CLI process per statement (`kubectl exec ... mysql -e`).
fn cli_sync(containers: &[String], hosts: &[String]) -> Duration {
    let (user, pass) = (rig::GALERA_USER, rig::GALERA_PASSWORD);
    let n = containers.len();
    let mut statements: Vec<(usize, String)> = vec![
        (0, "create database synctest_cli; use synctest_cli; create table test (id char(10) primary key, name varchar(20));".into()),
        (0, "insert into synctest_cli.test values ('aaa','xxx'); select * from synctest_cli.test;".into()),
        (0, "insert into synctest_cli.test values ('id','this is my name'); select * from synctest_cli.test;".into()),
    ];
    statements.extend((0..n).map(|i| (i, "select * from synctest_cli.test;".to_string())));
    statements.push((
        n - 1,
        "delete from synctest_cli.test where id = 'aaa';".into(),
    ));
    statements.extend((0..n).map(|i| (i, "select * from synctest_cli.test;".to_string())));
    statements.push((
        1,
        "drop table synctest_cli.test; drop database synctest_cli; show databases;".into(),
    ));
    let start = Instant::now();
    for (node, sql) in statements {
        let out = Command::new("docker")
            .args([
                "exec",
                &containers[node],
                "mariadb",
                "-u",
                user,
                &format!("-p{pass}"),
                "-h",
                &hosts[node],
                "-e",
                &sql,
            ])
            .output()
            .expect("docker exec");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    start.elapsed()
}

/// A rig server as the verifiers address it.
fn endpoints(servers: Vec<Server>) -> Vec<Endpoint> {
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

#[tokio::main]
async fn main() {
    // memcached: 3 servers.
    let (_net, _mc, servers) = rig::memcached(3).await;
    let servers = endpoints(servers);
    let spec = MemcachePoolSpec {
        target: Target::Endpoints(servers.clone()),
        keys: KEYS,
        min_share: 0.5,
        min_memory: None,
    };
    let mut ours = vec![];
    for _ in 0..RUNS {
        let t = Instant::now();
        let v = memcache_pool::check(&spec, &servers).await;
        assert!(v.passed, "{}", v.summary);
        ours.push(t.elapsed());
    }
    let addresses: Vec<String> = servers.iter().map(|s| s.address()).collect();
    let theirs: Vec<Duration> = (0..RUNS).map(|_| pymemcache(&addresses)).collect();
    let (o, t) = (median(ours), median(theirs));
    println!(
        "memcache.pool, {KEYS} keys: harness {o:?} vs pymemcache HashClient {t:?}: {:.1}x",
        t.as_secs_f64() / o.as_secs_f64()
    );

    // Galera: 3 nodes.
    let (nodes, servers) = rig::galera(3).await;
    let endpoints = endpoints(servers);
    let login = Login {
        user: rig::GALERA_USER.into(),
        password: Some(rig::GALERA_PASSWORD.into()),
    };
    let mut ours = vec![];
    for _ in 0..RUNS {
        let t = Instant::now();
        let v = galera_sync::check(&endpoints, &login).await;
        assert!(v.passed, "{}", v.summary);
        ours.push(t.elapsed());
    }
    let containers: Vec<String> = nodes.iter().map(|n| n.container.id().to_string()).collect();
    let hosts: Vec<String> = endpoints.iter().map(|e| e.host.clone()).collect();
    let theirs: Vec<Duration> = (0..RUNS).map(|_| cli_sync(&containers, &hosts)).collect();
    let (o, t) = (median(ours), median(theirs));
    println!(
        "galera.sync, 3 nodes: harness {o:?} vs one mariadb CLI call per statement {t:?}: {:.1}x",
        t.as_secs_f64() / o.as_secs_f64()
    );
}
