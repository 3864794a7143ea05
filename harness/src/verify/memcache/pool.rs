//! `memcache.pool`: every server is a memcached (its own `stats`: pid, start time, version,
//! memory) and a distinct one (each got a probe key of its own, and must hold exactly that
//! one); set/get works on each; then K keys spread with client-side consistent hashing
//! (rendezvous, as pymemcache's `HashClient`) are written to their owners, read back, none
//! refused or evicted meanwhile, and every server holds at least the floor a fair hash beats
//! (`spread`). With `min_memory`, each server's memory limit must be at least that. Everything
//! written is deleted at the end, and by a clean-up registered before the first write.

use super::client::{TcpClient, connect, owner};
use super::identity::{self, Server};
use super::spread;
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::nonce;
use crate::verify::{Need, One};
use crate::verify::{RawTarget, Target, Undo, Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    /// Keys spread with client-side consistent hashing.
    #[serde(default = "default_keys")]
    pub keys: i64,
    /// Each server must hold what a hash giving it this fraction of its fair share (keys /
    /// servers) would give, but for a one-in-a-million chance.
    #[serde(
        default = "default_min_share",
        deserialize_with = "crate::check::finite"
    )]
    pub min_share: f64,
    /// The memory each server must have for items (`limit_maxbytes`), as a Kubernetes
    /// quantity, e.g. `64Mi`: a server started with too little refuses or evicts what the pool
    /// must hold.
    pub min_memory: Option<String>,
    /// Every server's version (its `stats`) must start with this (`1.6`): after a rollout,
    /// every server runs the new version, not only every pod restarted.
    pub version: Option<String>,
}

fn default_keys() -> i64 {
    1000
}
fn default_min_share() -> f64 {
    0.5
}

/// The most keys one check writes (more proves nothing more, and costs memory and time).
pub const MAX_KEYS: i64 = 1_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct MemcachePoolSpec {
    pub target: Target,
    pub keys: u32,
    pub min_share: f64,
    /// Bytes.
    pub min_memory: Option<u64>,
    pub version: Option<String>,
}

#[async_trait::async_trait]
impl Verifier for MemcachePoolSpec {
    const NAME: &'static str = "memcache.pool";
    const CHECKS: &'static str = "every server is a memcached by its own `stats` (a proxy listed among them fails) and a distinct one (each holds its own probe key and no other's); set/get on each; `keys` spread by rendezvous hashing are read back, none refused for lack of memory, and every server holds at least what a hash giving it `min_share` of its fair share beats but once in a million; `min_memory`: each server's memory for items; `version: 1.6`: every server's version starts with it";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let keys = cx.count_within(&format!("{path}.keys"), raw.keys, 1, MAX_KEYS);
        if !(raw.min_share > 0.0 && raw.min_share <= 1.0) {
            cx.error(
                &format!("{path}.min_share"),
                format!(
                    "{} is not a fraction above 0 and at most 1 (0 would not check the spread)",
                    raw.min_share
                ),
            );
            return None;
        }
        let min_memory = match &raw.min_memory {
            None => None,
            Some(q) => match crate::quantity::parse(q) {
                Ok(q) => Some(q.units()),
                Err(why) => {
                    cx.error(
                        &format!("{path}.min_memory"),
                        format!("`{q}` is not a quantity ({why}); write e.g. `64Mi`"),
                    );
                    return None;
                }
            },
        };
        let version = cx.version_prefix(&format!("{path}.version"), raw.version, "1.6")?;
        Some(Self {
            target: target?,
            keys: keys?,
            min_share: raw.min_share,
            min_memory,
            version,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            keys: flags.keys.unwrap_or_else(default_keys),
            min_share: default_min_share(),
            min_memory: None,
            version: None,
        })
    }

    type Shape = One<()>;

    fn targets(&self) -> One<Need<'_>> {
        One {
            target: Need {
                target: &self.target,
                min: 1,
            },
        }
    }

    async fn run(&self, cx: &VerifyContext<'_>, at: One<Vec<Endpoint>>) -> Verdict {
        check_registering(self, &at.target, Some(cx.undo)).await
    }
}

pub async fn check(spec: &MemcachePoolSpec, servers: &[Endpoint]) -> Verdict {
    check_registering(spec, servers, None).await
}

/// Registers the deletion of `keys` on every server (bounded, each round trip) before the first
/// write; it does nothing once the check has deleted them itself (`done`).
pub fn delete_later(
    undo: Option<&Undo>,
    what: String,
    servers: &[Endpoint],
    keys: Arc<Vec<String>>,
    done: Arc<AtomicBool>,
) {
    let Some(undo) = undo else {
        return;
    };
    let servers = servers.to_vec();
    undo.register(what, async move {
        if done.load(Ordering::Acquire) {
            return Ok(());
        }
        delete_everywhere(&servers, &keys).await
    });
}

/// Deletes `keys` on every server; `Err` names the servers where they may be left (they also
/// expire on their own).
pub async fn delete_everywhere(servers: &[Endpoint], keys: &[String]) -> Result<(), String> {
    let results = futures::future::join_all(
        servers
            .iter()
            .map(|s| async move { connect(s).await?.delete_all(keys).await }),
    )
    .await;
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} key(s) may be left until they expire in {}s: {}",
            keys.len(),
            super::client::KEY_TTL_SECS,
            errors.join("; ")
        ))
    }
}

/// [`check`], registering the deletion of what it writes before its first write.
pub async fn check_registering(
    spec: &MemcachePoolSpec,
    servers: &[Endpoint],
    undo: Option<&Undo>,
) -> Verdict {
    let run = nonce();
    let mut problems = vec![];
    let mut evidence = vec![];
    // Who is who, from each server's own stats: nothing is written to what is no memcached.
    let who = futures::future::join_all(servers.iter().map(identity::server)).await;
    let mut before: Vec<Server> = vec![];
    for (server, found) in servers.iter().zip(who) {
        match found {
            Ok(s) => {
                let evictions = identity::evictions_setting(server)
                    .await
                    .unwrap_or_else(|| "?".into());
                evidence.push(format!("{server}: {}, evictions {evictions}", s.describe()));
                if let Some(want) = &spec.version
                    && !s.version.starts_with(want.as_str())
                {
                    problems.push(format!(
                        "{server} runs memcached {}, expected {want}",
                        s.version
                    ));
                }
                if let Some(min) = spec.min_memory
                    && s.max_bytes < min
                {
                    problems.push(format!(
                        "{server}: has {} MiB for items (limit_maxbytes {}), less than the {} MiB the pool must hold per server (min_memory)",
                        s.max_bytes / (1024 * 1024),
                        s.max_bytes,
                        min / (1024 * 1024)
                    ));
                }
                before.push(s);
            }
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Verdict::fail(problems.join("; "), evidence);
    }
    let probes: Vec<String> = (0..servers.len())
        .map(|i| format!("harness:{run}:probe:{i}"))
        .collect();
    let keys: Vec<String> = (0..spec.keys)
        .map(|k| format!("harness:{run}:pool:{k}"))
        .collect();
    let everything: Arc<Vec<String>> = Arc::new(probes.iter().chain(&keys).cloned().collect());
    let done = Arc::new(AtomicBool::new(false));
    delete_later(
        undo,
        format!(
            "delete the {} keys of memcache.pool run {run}",
            everything.len()
        ),
        servers,
        everything.clone(),
        done.clone(),
    );
    let verdict = write_and_judge(spec, servers, &probes, &keys, &before, evidence).await;
    let mut verdict = verdict;
    match delete_everywhere(servers, &everything).await {
        Ok(()) => done.store(true, Ordering::Release),
        // The registered clean-up tries again at the scenario's end.
        Err(e) => verdict
            .evidence
            .push(format!("deleting the check's keys: {e}")),
    }
    verdict
}

async fn write_and_judge(
    spec: &MemcachePoolSpec,
    servers: &[Endpoint],
    probes: &[String],
    keys: &[String],
    before: &[Server],
    mut evidence: Vec<String>,
) -> Verdict {
    let mut problems = vec![];
    // Each server gets its own probe key, and must then hold exactly that one: a server that
    // holds another's is that other server (or forwards to it).
    let mut clients: Vec<TcpClient> = vec![];
    for (server, probe) in servers.iter().zip(probes) {
        let written = async {
            let mut client = connect(server).await?;
            client.set(probe, server.name.as_bytes()).await?;
            match client.get(probe).await? {
                Some(v) if v == server.name.as_bytes() => Ok(client),
                other => Err(format!(
                    "{server}: set then get returned {:?}",
                    other.map(|v| String::from_utf8_lossy(&v).into_owned())
                )),
            }
        }
        .await;
        match written {
            Ok(c) => clients.push(c),
            Err(e) => return Verdict::fail(e, evidence),
        }
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let held = match client.get_many(probes).await {
            Ok(h) => h,
            Err(e) => return Verdict::fail(e.to_string(), evidence),
        };
        if let Some((j, _)) = probes
            .iter()
            .enumerate()
            .find(|(j, p)| *j != i && held.contains_key(*p))
        {
            return Verdict::fail(
                format!(
                    "{} and {} are the same server (the key written to {} was read back from {}): naming one server twice proves nothing about distribution",
                    servers[i], servers[j], servers[j], servers[i]
                ),
                evidence,
            );
        }
    }
    evidence.push(format!(
        "{} distinct servers: each holds its own probe key and no other's",
        servers.len()
    ));

    let mut by_server: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for key in keys {
        let o = owner(key, servers);
        let index = servers.iter().position(|s| s == o).unwrap_or(0);
        by_server.entry(index).or_default().push(key.clone());
    }
    let per_server =
        futures::future::join_all(clients.iter_mut().enumerate().map(|(i, client)| {
            let keys = by_server.get(&i).cloned().unwrap_or_default();
            async move { write_and_read(client, &keys).await }
        }))
        .await;
    let floor = spread::floor(keys.len(), servers.len(), spec.min_share).max(1);
    let fair = keys.len() as f64 / servers.len() as f64;
    for (i, result) in per_server.into_iter().enumerate() {
        let server = &servers[i];
        match result {
            Err(e) => problems.push(e),
            Ok((stored, missing)) => {
                evidence.push(format!(
                    "{server}: {stored} keys (fair share {fair:.0}, at least {floor} required)"
                ));
                if !missing.is_empty() {
                    problems.push(format!(
                        "{server}: {} key(s) written but not read back (refused or evicted), e.g. {}",
                        missing.len(),
                        missing[..missing.len().min(3)].join(", ")
                    ));
                }
                if stored < floor {
                    problems.push(format!(
                        "{server}: holds {stored} keys, below {floor} (what a hash giving it {:.0}% of its fair share {fair:.0} exceeds but once in a million)",
                        spec.min_share * 100.0
                    ));
                }
            }
        }
    }
    // What the servers refused or dropped meanwhile, by their own counters.
    for (server, was) in servers.iter().zip(before) {
        if let Ok(now) = identity::server(server).await {
            let refused = now.refused.saturating_sub(was.refused);
            let evicted = now.evictions.saturating_sub(was.evictions);
            if refused > 0 {
                problems.push(format!(
                    "{server}: refused {refused} write(s) for lack of memory during the check (store_no_memory/store_too_large), with {} MiB for items",
                    now.max_bytes / (1024 * 1024)
                ));
            }
            if evicted > 0 {
                evidence.push(format!(
                    "{server}: evicted {evicted} item(s) during the check"
                ));
            }
        }
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{} keys spread over {} distinct memcached servers, each above its floor of {floor}",
                keys.len(),
                servers.len()
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

/// Writes keys (pipelined), reads them back; returns (keys read back, keys missing).
pub async fn write_and_read<S>(
    client: &mut super::client::Client<S>,
    keys: &[String],
) -> Result<(usize, Vec<String>), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for key in keys {
        client.set(key, key.as_bytes()).await?;
    }
    let got = client.get_many(keys).await?;
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| got.get(*k).map(Vec::as_slice) != Some(k.as_bytes()))
        .cloned()
        .collect();
    Ok((keys.len() - missing.len(), missing))
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers): memcached 1.6 servers and twemproxy from the rig image.
    use super::*;
    use crate::testing::eps;
    use harness_testkit::rig;
    use rig::memcached_items as items;
    use std::time::Duration;

    fn spec(keys: u32) -> MemcachePoolSpec {
        MemcachePoolSpec {
            target: Default::default(),
            keys,
            min_share: 0.5,
            min_memory: None,
            version: None,
        }
    }

    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn keys_spread_over_every_server_versions_are_checked_and_a_stopped_server_is_named() {
        let (_net, nodes, servers) = rig::memcached(3).await;
        let servers = eps(servers);
        let v = check(&spec(3000), &servers).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.evidence
                .iter()
                .filter(|e| e.contains("keys (fair share 1000"))
                .count()
                == 3,
            "{:?}",
            v.evidence
        );
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("memcached 1.6") && e.contains("evictions on")),
            "{:?}",
            v.evidence
        );
        for s in &servers {
            assert_eq!(items(&s.address()).await, 0, "{s}: keys left");
        }
        // The version every server runs, from its own stats: the rig's 1.6 passes; another
        // fails naming each server's.
        let at = |v: &str| MemcachePoolSpec {
            version: Some(v.into()),
            ..spec(30)
        };
        let v = check(&at("1.6"), &servers).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        let v = check(&at("1.7"), &servers).await;
        assert!(!v.passed);
        assert!(
            v.summary
                .contains(&format!("{} runs memcached 1.6", servers[0].name))
                && v.summary.contains("expected 1.7"),
            "{}",
            v.summary
        );

        nodes[1].stop().await;
        let v = check(&spec(3000), &servers).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "{}: cannot ask who it is (`stats`)",
                servers[1].name
            )),
            "{}",
            v.summary
        );
    }

    // memcache-async flushes after every command (`noreply` sets and deletes included): without
    // the pipeline, 10,000 keys cost about 20,000 write calls; with it, a few hundred.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn ten_thousand_keys_take_a_few_hundred_write_calls() {
        let (_net, _nodes, servers) = rig::memcached(3).await;
        let servers = eps(servers);
        let (v, writes) =
            super::super::client::counting_writes(check(&spec(10_000), &servers)).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        eprintln!("{writes} write calls for 10,000 keys over 3 servers");
        // Sets: about 1 MB in 64 KiB flushes; gets: 100 keys per round trip; deletes: one
        // round trip per server; probes and their checks: a few per server.
        assert!(
            (30..=400).contains(&writes),
            "{writes} write calls for 10,000 keys over 3 servers"
        );
        for s in &servers {
            assert_eq!(items(&s.address()).await, 0, "{s}: keys left");
        }
    }

    // A twemproxy listed among the servers: named as no memcached, every time (today's verdict
    // does not depend on where a probe key hashes).
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_proxy_listed_as_a_server_is_named_every_time() {
        let (net, nodes, servers) = rig::memcached(2).await;
        let (_proxies, proxy) = rig::twemproxy(&net, &nodes, 1).await;
        let mut listed = eps(servers);
        listed.extend(eps(proxy.clone()));
        for _ in 0..5 {
            let v = check(&spec(300), &listed).await;
            assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
            assert!(
                v.summary.contains(&format!(
                    "{} is not a memcached server: it closed the connection without answering `stats`",
                    proxy[0].name
                )),
                "{}",
                v.summary
            );
        }
        for s in &listed[..2] {
            assert_eq!(items(&s.address()).await, 0, "{s}: keys left");
        }
    }

    // memcached started with too little memory, refusing sets once full (`-m 2 -M`): the
    // memory limit is read against what the pool must hold, and refused writes are seen.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_server_with_too_little_memory_is_named_and_its_refusals_seen() {
        let (_net, _nodes, servers) = rig::memcached_with(3, "-m 2 -M").await;
        let servers = eps(servers);
        let v = check(
            &MemcachePoolSpec {
                min_memory: Some(64 * 1024 * 1024),
                ..spec(300)
            },
            &servers,
        )
        .await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "{}: has 2 MiB for items (limit_maxbytes 2097152), less than the 64 MiB",
                servers[0]
            )),
            "{}",
            v.summary
        );
        // Without the bound, enough keys to fill 2 MiB: the refusals are seen.
        let v = check(&spec(60_000), &servers).await;
        assert!(!v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary.contains("refused") && v.summary.contains("for lack of memory"),
            "{}",
            v.summary
        );
    }

    // Through the runner: a 300,000-key check cancelled mid-write (Ctrl-C) and one cut short
    // by its deadline leave no key behind: the clean-up registered before the first write runs.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_check_cancelled_or_timed_out_mid_write_leaves_no_key() {
        let (_net, _nodes, servers) = rig::memcached(3).await;
        let servers = eps(servers);
        for (what, timeout, cancel_after) in [
            ("cancelled", 120, Some(Duration::from_millis(700))),
            ("timed out", 1, None),
        ] {
            let spec = MemcachePoolSpec {
                target: Target::Endpoints(servers.clone()),
                ..spec(300_000)
            };
            let mut step = crate::runner::tests::step(
                "pool",
                crate::steps::Action::Verify(crate::steps::Verify(
                    crate::verify::VerifySpec::MemcachePool(spec),
                )),
            );
            step.timeout = Duration::from_secs(timeout);
            let mut plan = crate::runner::tests::plan(vec![step], vec![]);
            plan.cluster.required = false;
            plan.namespace = String::new();
            let sink = crate::report::events::Collect::default();
            let cancel = tokio_util::sync::CancellationToken::new();
            let runner = crate::runner::Executor {
                cluster: &crate::cluster::NoCluster,
                sink: &sink,
                cancel: cancel.clone(),
            };
            let canceller = async {
                if let Some(after) = cancel_after {
                    tokio::time::sleep(after).await;
                    cancel.cancel();
                }
            };
            let (result, ()) = tokio::join!(runner.run_scenario(&plan), canceller);
            assert!(!result.passed, "{what}");
            for s in &servers {
                assert_eq!(items(&s.address()).await, 0, "{what}: keys left on {s}");
            }
        }
    }
}

#[cfg(test)]
mod rig_identity {
    //! Layer 2 (real servers): memcached 1.6 from the rig image, its port published.
    use super::*;
    use harness_testkit::rig;
    use rig::memcached_items as items;

    fn spec(keys: u32) -> MemcachePoolSpec {
        MemcachePoolSpec {
            target: Default::default(),
            keys,
            min_share: 0.5,
            min_memory: None,
            version: None,
        }
    }

    #[tokio::test]
    #[ignore = "needs Docker and the rig image (scripts/test.sh runs it)"]
    async fn one_server_named_twice_fails_and_no_key_is_left_behind() {
        let (_node, port) = rig::memcached_published().await;
        let a = format!("127.0.0.1:{port}");
        let twice: Vec<Endpoint> = [a.clone(), format!("localhost:{port}")]
            .iter()
            .map(|e| Endpoint::parse(e).unwrap())
            .collect();
        let v = check(&spec(200), &twice).await;
        assert!(
            !v.passed && v.summary.contains("are the same server"),
            "{v:?}"
        );
        assert_eq!(items(&a).await, 0, "the failed check left keys");
        // One server alone passes (a pool of one is legitimate) and cleans up after itself.
        let v = check(&spec(200), &twice[..1]).await;
        assert!(v.passed, "{v:?}");
        assert_eq!(items(&a).await, 0, "the passing check left keys");
    }
}
