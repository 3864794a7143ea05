//! `memcache.proxy`: through the proxy of each node, set keys with per-node values; read every
//! key back through every other node's proxy; and by direct gets, confirm that each key lives on
//! exactly one memcached server and that every server holds at least the floor a fair hash
//! beats (`spread`; key names look random to any hash). The proxies must be on at least two
//! distinct nodes (or, for static endpoints, lead to two distinct addresses), and be distinct
//! processes where they can say who they are (mcrouter's `stats`); the servers must be memcached
//! servers (their own `stats`). Every round trip has its own bound, and the first path that
//! cannot answer stops the check, naming the proxy or the server behind it. Works with mcrouter
//! and twemproxy (both speak the memcached ASCII protocol). Everything written is deleted,
//! through every path it could have taken, and by a clean-up registered before the first write.

use super::client::{OpError, connect_within};
use super::identity;
use super::pool::delete_later;
use super::spread;
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{Need, Proxied, RawProxyTarget, Undo, nonce};
use crate::verify::{RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub proxies: RawProxyTarget,
    /// The memcached servers behind the proxies, for the direct "lives on exactly one" check.
    pub servers: RawTarget,
    /// Keys written through each proxy (raised when needed so that a starved server is told
    /// from a fair one: see `spread`).
    #[serde(default = "default_proxy_keys")]
    pub keys_per_proxy: i64,
    /// Each server must hold what a hash giving it this fraction of its fair share would give,
    /// but for a one-in-a-million chance.
    #[serde(
        default = "default_min_share",
        deserialize_with = "crate::check::finite"
    )]
    pub min_share: f64,
}

fn default_proxy_keys() -> i64 {
    20
}
fn default_min_share() -> f64 {
    0.5
}

/// The most keys written through one proxy.
pub const MAX_KEYS_PER_PROXY: i64 = 100_000;
/// Each round trip through a proxy or to a server: a proxy that waits on a frozen server
/// answers with an error after its own timeout (twemproxy's is often 2 s); silence beyond this
/// is a path that cannot answer.
pub const ROUND_TRIP: Duration = Duration::from_secs(5);
/// How long a server may take to answer `version` when the check asks who is silent.
const PROBE: Duration = Duration::from_secs(2);
/// Gets sent through one proxy to see whether another's counter moves (same process?).
const COUNTER_PROBES: u64 = 50;

#[derive(Debug, Clone, Serialize)]
pub struct MemcacheProxySpec {
    pub proxies: Target,
    pub servers: Target,
    pub keys_per_proxy: u32,
    pub min_share: f64,
}

#[async_trait::async_trait]
impl Verifier for MemcacheProxySpec {
    const NAME: &'static str = "memcache.proxy";
    const CHECKS: &'static str = "proxies on at least two distinct nodes (static endpoints: two distinct addresses; one proxy named twice fails) and distinct processes where they can say who they are (mcrouter's `stats`; twemproxy's are told apart by address, and the verdict says so); the servers are memcached servers; well-mixed keys set through each node's proxy are read through every other proxy, found on exactly one server, and every server holds at least what a fair hash gives but once in a million; each round trip is bounded and the first path that cannot answer stops the check, naming it; `via_pods` + `host_env` reach the proxy on each app pod's node (`nc $NODE_NAME 5000` by exec)";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let proxies = raw.proxies.check(cx, &format!("{path}.proxies"), 2);
        let servers = raw.servers.check(cx, &format!("{path}.servers"), 1);
        let keys = cx.count_within(
            &format!("{path}.keys_per_proxy"),
            raw.keys_per_proxy,
            1,
            MAX_KEYS_PER_PROXY,
        );
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
        Some(Self {
            proxies: proxies?,
            servers: servers?,
            keys_per_proxy: keys?,
            min_share: raw.min_share,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        if flags.proxies.is_empty() {
            return Err("memcache.proxy needs --proxy HOST:PORT (repeatable)".into());
        }
        Ok(Raw {
            proxies: RawProxyTarget {
                endpoints: flags.proxies.clone(),
                ..Default::default()
            },
            servers: flags.target(),
            keys_per_proxy: flags.keys.unwrap_or_else(default_proxy_keys),
            min_share: default_min_share(),
        })
    }

    type Shape = Proxied<()>;

    fn targets(&self) -> Proxied<Need<'_>> {
        Proxied {
            proxies: Need {
                target: &self.proxies,
                min: 2,
            },
            servers: Need {
                target: &self.servers,
                min: 1,
            },
        }
    }

    async fn run(&self, cx: &VerifyContext<'_>, at: Proxied<Vec<Endpoint>>) -> Verdict {
        check_registering(self, &at.proxies, &at.servers, Some(cx.undo)).await
    }
}

pub async fn check(
    spec: &MemcacheProxySpec,
    proxies: &[Endpoint],
    servers: &[Endpoint],
) -> Verdict {
    check_registering(spec, proxies, servers, None).await
}

/// The keys written through each proxy: enough that every server's floor is at least
/// [`spread::MIN_FLOOR`].
pub fn keys_per_proxy(spec: &MemcacheProxySpec, proxies: usize, servers: usize) -> usize {
    (spec.keys_per_proxy as usize)
        .max(spread::keys_needed(servers, spec.min_share).div_ceil(proxies.max(1)))
}

/// [`check`], registering the deletion of what it writes before its first write.
pub async fn check_registering(
    spec: &MemcacheProxySpec,
    proxies: &[Endpoint],
    servers: &[Endpoint],
    undo: Option<&Undo>,
) -> Verdict {
    let mut evidence = vec![];
    match distinct_places(proxies).await {
        Ok(places) => evidence.extend(places),
        Err(problem) => return Verdict::fail(problem, evidence),
    }
    let (told_apart, by_address_only) = match distinct_processes(proxies).await {
        Ok(found) => found,
        Err(problem) => return Verdict::fail(problem, evidence),
    };
    evidence.push(told_apart);
    // The servers must be memcached servers: a proxy listed among them would pass reads.
    let mut problems = vec![];
    for (server, found) in servers
        .iter()
        .zip(futures::future::join_all(servers.iter().map(identity::server)).await)
    {
        match found {
            Ok(s) => evidence.push(format!("{server}: {}", s.describe())),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Verdict::fail(problems.join("; "), evidence);
    }
    let run = nonce();
    let per_proxy = keys_per_proxy(spec, proxies.len(), servers.len());
    // key -> (proxy it was written through, value)
    let planned: Vec<(usize, String, String)> = proxies
        .iter()
        .enumerate()
        .flat_map(|(p, proxy)| {
            let run = &run;
            (0..per_proxy).map(move |j| {
                let key = spread::mixed_key(run, p as u64, j as u64);
                (p, key, format!("set-through-{}-{j}", proxy.name))
            })
        })
        .collect();
    let all_keys: Arc<Vec<String>> = Arc::new(planned.iter().map(|(_, k, _)| k.clone()).collect());
    let paths: Vec<Endpoint> = servers.iter().chain(proxies).cloned().collect();
    let done = Arc::new(AtomicBool::new(false));
    delete_later(
        undo,
        format!(
            "delete the {} keys of memcache.proxy run {run} (on every server and through every proxy)",
            all_keys.len()
        ),
        &paths,
        all_keys.clone(),
        done.clone(),
    );
    let mut verdict = write_and_judge(spec, proxies, servers, &planned, evidence).await;
    if verdict.passed && by_address_only {
        verdict.summary.push_str(
            "; the proxies cannot say who they are (no `stats`, as twemproxy): told apart by address only",
        );
    }
    match super::pool::delete_everywhere(&paths, &all_keys).await {
        Ok(()) => done.store(true, Ordering::Release),
        Err(e) => verdict
            .evidence
            .push(format!("deleting the check's keys: {e}")),
    }
    verdict
}

/// Who among the servers does not answer a plain `version` promptly: what a proxy that cannot
/// answer waits on.
async fn silent_servers(servers: &[Endpoint]) -> Vec<String> {
    let asked = futures::future::join_all(servers.iter().map(|s| async move {
        let mut client = connect_within(s, PROBE).await?;
        client.version().await
    }))
    .await;
    servers
        .iter()
        .zip(asked)
        .filter_map(|(s, r)| {
            r.err().map(|e| {
                format!(
                    "memcached server {s} does not answer ({}: {})",
                    e.op, e.cause
                )
            })
        })
        .collect()
}

/// A path that failed: the proxy's error, and which servers behind it are silent.
async fn stopped_at(proxy: &Endpoint, e: &OpError, servers: &[Endpoint]) -> String {
    let silent = silent_servers(servers).await;
    format!(
        "{} {proxy} failed `{}`: {}{}; the check stopped at the first path that cannot answer",
        if e.is_silence() {
            "proxy"
        } else {
            "through proxy"
        },
        e.op,
        e.cause,
        if silent.is_empty() {
            "; every server behind it answers directly".to_string()
        } else {
            format!("; behind it, {}", silent.join("; "))
        }
    )
}

async fn write_and_judge(
    spec: &MemcacheProxySpec,
    proxies: &[Endpoint],
    servers: &[Endpoint],
    planned: &[(usize, String, String)],
    mut evidence: Vec<String>,
) -> Verdict {
    let mut problems: Vec<String> = vec![];
    let mut written: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (p, proxy) in proxies.iter().enumerate() {
        let mine: Vec<(String, String)> = planned
            .iter()
            .filter(|(q, _, _)| *q == p)
            .map(|(_, k, v)| (k.clone(), v.clone()))
            .collect();
        let result = async {
            let mut client = connect_within(proxy, ROUND_TRIP).await?;
            for (key, value) in &mine {
                client.set(key, value.as_bytes()).await?;
            }
            // Read back on the same connection: the pipelined sets are applied by then.
            let keys: Vec<String> = mine.iter().map(|(k, _)| k.clone()).collect();
            client.get_many(&keys).await
        }
        .await;
        let values = match result {
            Ok(v) => v,
            Err(e) => {
                problems.push(stopped_at(proxy, &e, servers).await);
                return Verdict::fail(problems.join("; "), evidence);
            }
        };
        let failed: Vec<String> = mine
            .iter()
            .filter(|(k, v)| values.get(k).map(Vec::as_slice) != Some(v.as_bytes()))
            .map(|(k, _)| k.clone())
            .collect();
        evidence.push(format!(
            "{proxy}: set {} keys, {} not read back through it",
            mine.len(),
            failed.len()
        ));
        if !failed.is_empty() {
            problems.push(format!(
                "{proxy}: {} key(s) not stored through this proxy, e.g. {}",
                failed.len(),
                failed[..failed.len().min(3)].join(", ")
            ));
        }
        written.extend(
            mine.into_iter()
                .filter(|(k, _)| !failed.contains(k))
                .map(|(k, v)| (k, (p, v))),
        );
    }
    // Read every key through every other proxy.
    for (r, reader) in proxies.iter().enumerate() {
        let keys: Vec<String> = written
            .iter()
            .filter(|(_, (p, _))| *p != r)
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let values = match async {
            connect_within(reader, ROUND_TRIP)
                .await?
                .get_many(&keys)
                .await
        }
        .await
        {
            Ok(v) => v,
            Err(e) => {
                problems.push(stopped_at(reader, &e, servers).await);
                return Verdict::fail(problems.join("; "), evidence);
            }
        };
        let wrong: Vec<String> = keys
            .iter()
            .filter_map(|k| match values.get(k) {
                Some(v) if v.as_slice() == written[k].1.as_bytes() => None,
                Some(v) => Some(format!("{k}: wrong value {:?}", String::from_utf8_lossy(v))),
                None => Some(format!("{k}: missing")),
            })
            .collect();
        evidence.push(format!(
            "{reader}: read {} of {} keys written through other proxies",
            keys.len() - wrong.len(),
            keys.len()
        ));
        if !wrong.is_empty() {
            problems.push(format!(
                "{reader}: {} key(s) failed through this proxy, e.g. {}",
                wrong.len(),
                wrong[..wrong.len().min(3)].join("; ")
            ));
        }
    }
    // Direct gets: each key must live on exactly one server.
    let keys: Vec<String> = written.keys().cloned().collect();
    let mut holders: BTreeMap<&String, Vec<&Endpoint>> = keys.iter().map(|k| (k, vec![])).collect();
    for server in servers {
        match async {
            connect_within(server, ROUND_TRIP)
                .await?
                .get_many(&keys)
                .await
        }
        .await
        {
            Err(e) => {
                problems.push(format!("memcached server {e}"));
                return Verdict::fail(problems.join("; "), evidence);
            }
            Ok(values) => {
                evidence.push(format!(
                    "{server}: holds {} of the {} keys",
                    values.len(),
                    keys.len()
                ));
                for k in values.keys() {
                    if let Some(h) = holders.get_mut(k) {
                        h.push(server);
                    }
                }
            }
        }
    }
    let nowhere: Vec<&str> = holders
        .iter()
        .filter(|(_, h)| h.is_empty())
        .map(|(k, _)| k.as_str())
        .collect();
    let many: Vec<String> = holders
        .iter()
        .filter(|(_, h)| h.len() > 1)
        .map(|(k, h)| {
            format!(
                "{k} on {}",
                h.iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            )
        })
        .collect();
    if !nowhere.is_empty() {
        problems.push(format!(
            "{} key(s) on no memcached server, e.g. {}",
            nowhere.len(),
            nowhere[..nowhere.len().min(5)].join(", ")
        ));
    }
    if !many.is_empty() {
        problems.push(format!(
            "{} key(s) on more than one server, e.g. {}",
            many.len(),
            many[..many.len().min(5)].join(", ")
        ));
    }
    problems.extend(spread_problems(spec, servers, &holders));
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{} keys set through {} proxies, read through every other proxy, each on exactly one of {} servers",
                keys.len(),
                proxies.len(),
                servers.len()
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

/// Proxies that can say who they are (mcrouter's `stats`: pid, version, start time) must be
/// distinct processes: two addresses with one identity are confirmed by a counter (gets sent
/// through one move the other's count) and fail naming both. Proxies that cannot say
/// (twemproxy) are told apart by address only, and the note says so.
/// `Ok` has the evidence line and whether some proxies were told apart by address only.
async fn distinct_processes(proxies: &[Endpoint]) -> Result<(String, bool), String> {
    let asked = futures::future::join_all(proxies.iter().map(identity::proxy)).await;
    let unreachable: Vec<&String> = asked.iter().filter_map(|a| a.as_ref().err()).collect();
    if !unreachable.is_empty() {
        let each: Vec<&str> = unreachable.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "{} of the {} proxies cannot be reached: {}",
            unreachable.len(),
            proxies.len(),
            each.join("; ")
        ));
    }
    let ids: Vec<Option<identity::Proxy>> = asked.into_iter().map(|a| a.ok().flatten()).collect();
    let known: Vec<(&Endpoint, &identity::Proxy)> = proxies
        .iter()
        .zip(&ids)
        .filter_map(|(p, id)| id.as_ref().map(|id| (p, id)))
        .collect();
    for (i, (a, ia)) in known.iter().enumerate() {
        for (b, ib) in &known[i + 1..] {
            if (&ia.pid, ia.started, &ia.version) != (&ib.pid, ib.started, &ib.version) {
                continue;
            }
            if same_counter(a, b).await {
                return Err(format!(
                    "proxies {a} and {b} are one process (pid {}, started at {}, {}; gets sent through {a} move {b}'s counter): one proxy reached at two addresses proves nothing across nodes",
                    ia.pid, ia.started, ia.version
                ));
            }
        }
    }
    let note = if known.len() == proxies.len() {
        format!(
            "the {} proxies are distinct processes, by their own stats",
            proxies.len()
        )
    } else if known.is_empty() {
        "the proxies do not say who they are (no `stats`, as twemproxy): they were told apart by address only".to_string()
    } else {
        format!(
            "{} of the {} proxies said who they are; the others were told apart by address only",
            known.len(),
            proxies.len()
        )
    };
    Ok((note, known.len() < proxies.len()))
}

/// Whether gets sent through `a` show in `b`'s get counter (the same process).
async fn same_counter(a: &Endpoint, b: &Endpoint) -> bool {
    let count = |e: &Endpoint| {
        let e = e.clone();
        async move {
            identity::proxy(&e)
                .await
                .ok()
                .flatten()
                .and_then(|p| p.gets_counter)
                .map(|(_, n)| n)
        }
    };
    let Some(before) = count(b).await else {
        // No counter to compare: the same pid, start and version are taken as one process.
        return true;
    };
    let sent = async {
        let mut client = connect_within(a, ROUND_TRIP).await?;
        for i in 0..COUNTER_PROBES {
            client.get(&format!("harness:identity-probe:{i}")).await?;
        }
        Ok::<_, OpError>(())
    }
    .await;
    if sent.is_err() {
        return false;
    }
    count(b)
        .await
        .is_some_and(|after| after.saturating_sub(before) >= COUNTER_PROBES)
}

/// Where each proxy runs: its node when known (pods), else the addresses its name resolves to.
/// Two proxies in one place are one proxy named twice (or two on one node); fewer than two
/// places compare nothing across nodes. `Ok` has one evidence line per proxy.
async fn distinct_places(proxies: &[Endpoint]) -> Result<Vec<String>, String> {
    let mut by_place: BTreeMap<String, &Endpoint> = BTreeMap::new();
    let mut lines = vec![];
    // An application pod must dial its own node's proxy: a variable that names another node
    // (a fixed node name instead of `spec.nodeName`) reaches one proxy from every node.
    let strays: Vec<String> = proxies
        .iter()
        .filter_map(|p| {
            let (via, node) = (p.via.as_ref()?, p.node.as_ref()?);
            (!via.dials_own_node(node)).then(|| {
                format!(
                    "{} runs on node {node} (address {}) but dials ${} = `{}`{}, not its own node",
                    via.pod,
                    via.host_ip.as_deref().unwrap_or("unknown"),
                    via.variable,
                    crate::diag::visible(&via.value),
                    if via.resolves_to.is_empty() {
                        String::new()
                    } else {
                        format!(" (resolving to {})", via.resolves_to.join(", "))
                    }
                )
            })
        })
        .collect();
    if !strays.is_empty() {
        return Err(format!(
            "application pods do not reach the proxy on their own node: {}",
            strays.join("; ")
        ));
    }
    for proxy in proxies {
        let places: Vec<String> = match &proxy.node {
            Some(node) => vec![format!("node {node}")],
            None => {
                let mut addrs: Vec<String> = tokio::net::lookup_host(proxy.address())
                    .await
                    .map_err(|e| format!("proxy {proxy}: {e}"))?
                    .map(|a| a.to_string())
                    .collect();
                addrs.sort();
                addrs.dedup();
                addrs
            }
        };
        for place in &places {
            if let Some(other) = by_place.insert(place.clone(), proxy) {
                return Err(if proxy.node.is_some() {
                    format!(
                        "proxies {other} and {proxy} both run on {place}: each node's proxy must be checked from that node"
                    )
                } else {
                    format!(
                        "proxies {other} and {proxy} are the same proxy (both reach {place}): name each proxy once"
                    )
                });
            }
        }
        let dials = proxy
            .via
            .as_ref()
            .map(|v| {
                format!(
                    " (its pod dials ${} = `{}`)",
                    v.variable,
                    crate::diag::visible(&v.value)
                )
            })
            .unwrap_or_default();
        lines.push(format!("{proxy}: on {}{dials}", places.join(", ")));
    }
    if proxies.len() < 2 {
        return Err(format!(
            "memcache.proxy needs proxies on at least two distinct nodes to test reads across nodes, but found {} ({})",
            proxies.len(),
            lines.join("; ")
        ));
    }
    Ok(lines)
}

/// Servers holding fewer of the stored keys than a fair hash gives but once in a million.
fn spread_problems(
    spec: &MemcacheProxySpec,
    servers: &[Endpoint],
    holders: &BTreeMap<&String, Vec<&Endpoint>>,
) -> Vec<String> {
    let stored = holders.values().filter(|h| !h.is_empty()).count();
    if servers.is_empty() || stored == 0 {
        return vec![];
    }
    let fair = stored as f64 / servers.len() as f64;
    let floor = spread::floor(stored, servers.len(), spec.min_share).max(1);
    servers
        .iter()
        .filter_map(|server| {
            let held = holders.values().filter(|h| h.contains(&server)).count();
            (held < floor).then(|| {
                format!(
                    "{server}: holds {held} of the {stored} keys written through the proxies, below {floor} (what a hash giving it {:.0}% of its fair share {fair:.0} exceeds but once in a million): the proxies' hashing does not spread keys over the pool",
                    spec.min_share * 100.0
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (closed ports, no server): proxies that cannot be reached at all were told apart
    // by nothing; the check says they cannot be reached, not that addresses told them apart.
    #[tokio::test]
    async fn proxies_nobody_answers_for_are_unreachable_not_told_apart() {
        let closed = |_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            Endpoint::parse(&l.local_addr().unwrap().to_string()).unwrap()
        };
        let proxies: Vec<Endpoint> = (0..2).map(closed).collect();
        let err = distinct_processes(&proxies).await.unwrap_err();
        assert!(
            err.starts_with("2 of the 2 proxies cannot be reached"),
            "{err}"
        );
        assert!(!err.contains("told apart"), "{err}");
    }
}

#[cfg(test)]
mod rig {
    use super::*;
    use crate::testing::eps;
    use harness_testkit::rig;
    use tokio::time::Instant;

    fn spec() -> MemcacheProxySpec {
        MemcacheProxySpec {
            proxies: Default::default(),
            servers: Default::default(),
            keys_per_proxy: 30,
            min_share: 0.5,
        }
    }

    async fn nothing_left(servers: &[Endpoint]) {
        for server in servers {
            assert_eq!(rig::memcached_items(&server.address()).await, 0, "{server}");
        }
    }

    // Layer 2 (real servers): proxies whose hashing sends nearly every key to one server fail
    // naming the starved servers; the same proxy named twice (by address and by name, or one
    // proxy alone) compares nothing across nodes and fails saying so; and nothing is left on
    // the servers.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_skewed_pool_and_one_proxy_named_twice_never_pass() {
        let (net, servers, server_endpoints) = rig::memcached(3).await;
        let server_endpoints = eps(server_endpoints);
        let (_proxies, proxy_endpoints) =
            rig::twemproxy_weighted(&net, &servers, 2, &[1000, 1, 1]).await;
        let proxy_endpoints = eps(proxy_endpoints);
        let v = check(&spec(), &proxy_endpoints, &server_endpoints).await;
        assert!(!v.passed, "{:?}", v.evidence);
        for starved in &server_endpoints[1..] {
            assert!(
                v.summary.contains(&format!("{starved}: holds ")),
                "{}",
                v.summary
            );
        }
        assert!(
            v.summary
                .contains("the proxies' hashing does not spread keys over the pool"),
            "{}",
            v.summary
        );
        assert!(
            !v.summary
                .contains(&format!("{}: holds", server_endpoints[0]))
        );

        let one = &proxy_endpoints[0];
        let mut by_name = one.clone();
        by_name.name = format!("localhost-alias-of-{}", one.name);
        let v = check(&spec(), &[one.clone(), by_name.clone()], &server_endpoints).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "proxies {one} and {by_name} are the same proxy (both reach {})",
                one.address()
            )),
            "{}",
            v.summary
        );
        let v = check(&spec(), std::slice::from_ref(one), &server_endpoints).await;
        assert!(!v.passed);
        assert!(
            v.summary
                .contains("needs proxies on at least two distinct nodes"),
            "{}",
            v.summary
        );
        // A pool that lists one server: the others hold nothing.
        let (_one_server, lone) = rig::twemproxy_weighted(&net, &servers[..1], 2, &[1]).await;
        let v = check(&spec(), &eps(lone), &server_endpoints).await;
        assert!(
            !v.passed && v.summary.contains("does not spread keys over the pool"),
            "{}",
            v.summary
        );
        nothing_left(&server_endpoints).await;
    }

    // Layer 2 (real servers): three memcached servers and one twemproxy per "node", in the
    // role mcrouter plays on a cluster, on twemproxy's default hash (fnv1a_64, ketama): a
    // healthy pool passes every time, on every hash that spreads keys; a stopped server is
    // named at once.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_healthy_pool_passes_every_time_on_every_hash_and_a_dead_server_is_named() {
        let (net, servers, server_endpoints) = rig::memcached(3).await;
        let server_endpoints = eps(server_endpoints);
        let (_proxies, proxy_endpoints) = rig::twemproxy(&net, &servers, 3).await;
        let proxy_endpoints = eps(proxy_endpoints);
        for run in 0..10 {
            let v = check(&spec(), &proxy_endpoints, &server_endpoints).await;
            assert!(v.passed, "run {run}: {} {:?}", v.summary, v.evidence);
            assert!(
                v.summary.contains("told apart by address only"),
                "{}",
                v.summary
            );
        }
        for hash in [
            "md5",
            "crc16",
            "crc32a",
            "fnv1_64",
            "fnv1a_64",
            "fnv1_32",
            "fnv1a_32",
            "hsieh",
            "murmur",
            "jenkins",
            "one_at_a_time",
        ] {
            let (_p, hashed) =
                rig::twemproxy_hashed(&net, &servers, 2, &[1, 1, 1], Some(hash)).await;
            for run in 0..2 {
                let v = check(&spec(), &eps(hashed.clone()), &server_endpoints).await;
                assert!(v.passed, "{hash} run {run}: {} {:?}", v.summary, v.evidence);
            }
        }
        // twemproxy's crc32 yields 15 bits, so on ketama's 32-bit ring every key lands on one
        // server: a real skew, failed every time, not by chance.
        let (_p, crc32) = rig::twemproxy_hashed(&net, &servers, 2, &[1, 1, 1], Some("crc32")).await;
        let v = check(&spec(), &eps(crc32), &server_endpoints).await;
        assert!(
            !v.passed && v.summary.contains("does not spread keys over the pool"),
            "{}",
            v.summary
        );
        nothing_left(&server_endpoints).await;

        servers[0].stop().await;
        let started = Instant::now();
        let v = check(&spec(), &proxy_endpoints, &server_endpoints).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "{}: cannot ask who it is",
                server_endpoints[0].name
            )),
            "{}",
            v.summary
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    // A proxy that accepts connections and never answers, and a server frozen mid-check
    // (its container paused): the check stops within seconds at the first path that cannot
    // answer, naming the proxy or the server behind it, not after the step's deadline.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_silent_proxy_and_a_frozen_server_fail_within_seconds_naming_them() {
        let (net, servers, server_endpoints) = rig::memcached(3).await;
        let server_endpoints = eps(server_endpoints);
        let (_proxies, proxy_endpoints) = rig::twemproxy(&net, &servers, 2).await;
        let mut proxies = eps(proxy_endpoints);
        let (_silent, silent) = rig::silent_listener(&net, &format!("{net}-silent")).await;
        let silent = eps(vec![silent]).remove(0);

        let started = Instant::now();
        let with_silent = vec![proxies[0].clone(), silent.clone()];
        let v = check(&spec(), &with_silent, &server_endpoints).await;
        assert!(!v.passed);
        assert!(
            v.summary
                .contains(&format!("proxy {silent} failed `get of "))
                && v.summary.contains("no answer within 5s")
                && v.summary
                    .contains("every server behind it answers directly"),
            "{}",
            v.summary
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );
        nothing_left(&server_endpoints).await;

        // The check's write phase with one server frozen.
        servers[1].container.pause().await.unwrap();
        let started = Instant::now();
        let planned: Vec<(usize, String, String)> = (0..2)
            .flat_map(|p| {
                (0..120u64)
                    .map(move |j| (p, spread::mixed_key("frozen", p as u64, j), format!("v{j}")))
            })
            .collect();
        proxies.truncate(2);
        let v = write_and_judge(&spec(), &proxies, &server_endpoints, &planned, vec![]).await;
        let took = started.elapsed();
        servers[1].container.unpause().await.unwrap();
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "behind it, memcached server {} does not answer",
                server_endpoints[1]
            )),
            "{}",
            v.summary
        );
        assert!(took < Duration::from_secs(60), "{took:?}");
    }

    // One proxy reached at two addresses: where it can say who it is (a memcached used as the
    // proxy answers `stats` with its pid and start time, as mcrouter does), the two addresses
    // are one process and fail naming both; where it cannot (twemproxy), the verdict says the
    // proxies were told apart by address only.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn one_proxy_at_two_addresses_is_named_where_it_can_say_who_it_is() {
        let (net, servers, server_endpoints) = rig::memcached(1).await;
        let server_endpoints = eps(server_endpoints);
        let (_fwd, forwarded) =
            rig::forwarder(&net, &format!("{net}-fwd"), &servers[0], 11211).await;
        let proxies = vec![server_endpoints[0].clone(), eps(vec![forwarded]).remove(0)];
        let v = check(&spec(), &proxies, &server_endpoints).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "proxies {} and {} are one process",
                proxies[0], proxies[1]
            )),
            "{}",
            v.summary
        );

        let (_p, twem) = rig::twemproxy(&net, &servers, 1).await;
        let twem = eps(twem).remove(0);
        let (_node, p0) = (&_p[0], twem.clone());
        let (_fwd2, via) = rig::forwarder(&net, &format!("{net}-fwd2"), &_p[0], 5000).await;
        let v = check(&spec(), &[p0, eps(vec![via]).remove(0)], &server_endpoints).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.summary.contains("told apart by address only"),
            "{}",
            v.summary
        );
    }
}
