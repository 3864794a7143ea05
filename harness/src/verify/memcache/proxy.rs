//! `memcache.proxy`: through the proxy of each node, set keys with per-node values; read every
//! key back through every other node's proxy; and by direct gets, confirm that each key lives on
//! exactly one memcached server and that every server holds at least `min_share` of its fair
//! share (a proxy whose hashing sends every key to one server fails). The proxies must be on at
//! least two distinct nodes (or, for static endpoints, lead to two distinct addresses), or the
//! cross-node claim is never tested. Works with mcrouter and twemproxy (both speak the memcached
//! ASCII protocol). A failure names the proxy or server and the keys affected.

use super::client::connect;
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{RawProxyTarget, nonce};
use crate::verify::{RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub proxies: RawProxyTarget,
    /// The memcached servers behind the proxies, for the direct "lives on exactly one" check.
    pub servers: RawTarget,
    /// Keys written through each proxy (raised when needed so that every server expects at
    /// least [`MIN_KEYS_PER_SERVER`], enough to judge the spread).
    #[serde(default = "default_proxy_keys")]
    pub keys_per_proxy: i64,
    /// Each server must hold at least this fraction of its fair share (keys / servers).
    #[serde(default = "default_min_share")]
    pub min_share: f64,
}

fn default_proxy_keys() -> i64 {
    20
}
fn default_min_share() -> f64 {
    0.5
}

/// Keys each server should get at a fair spread: at 100, a server below half its share is
/// over seven standard deviations from what uniform hashing gives, so a well-spread pool never
/// fails by chance and a skewed one does.
pub const MIN_KEYS_PER_SERVER: usize = 100;

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
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let proxies = raw.proxies.check(cx, &format!("{path}.proxies"), 2);
        let servers = raw.servers.check(cx, &format!("{path}.servers"), 1);
        let keys = cx.count(&format!("{path}.keys_per_proxy"), raw.keys_per_proxy, 1);
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

    fn targets(&self) -> Vec<(&'static str, &Target, usize)> {
        vec![("proxies", &self.proxies, 2), ("servers", &self.servers, 1)]
    }

    async fn run(&self, cx: &VerifyContext<'_>) -> Verdict {
        check(self, cx.get("proxies"), cx.get("servers")).await
    }
}

pub async fn check(
    spec: &MemcacheProxySpec,
    proxies: &[Endpoint],
    servers: &[Endpoint],
) -> Verdict {
    let mut evidence = vec![];
    match distinct_places(proxies).await {
        Ok(places) => evidence.extend(places),
        Err(problem) => return Verdict::fail(problem, evidence),
    }
    let run = nonce();
    let per_proxy = (spec.keys_per_proxy as usize)
        .max((MIN_KEYS_PER_SERVER * servers.len()).div_ceil(proxies.len().max(1)));
    let mut problems: Vec<String> = vec![];
    // key -> (proxy it was written through, value)
    let mut written: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (p, proxy) in proxies.iter().enumerate() {
        let result = async {
            let mut client = connect(proxy).await?;
            let mut keys = vec![];
            for j in 0..per_proxy {
                let key = format!("harness:{run}:p{p}:{j}");
                let value = format!("set-through-{}-{j}", proxy.name);
                client.set(&key, value.as_bytes()).await?;
                keys.push((key, value));
            }
            // Read each key back on the same connection: the noreply sets before it are applied
            // by then, and a key whose server is down shows here with the proxy's error.
            let mut stored = vec![];
            let mut failed = vec![];
            for (key, value) in keys {
                match client.get(&key).await {
                    Ok(Some(v)) if v == value.as_bytes() => stored.push((key, value)),
                    Ok(other) => failed.push(format!(
                        "{key}: read back {:?}",
                        other.map(|v| String::from_utf8_lossy(&v).into_owned())
                    )),
                    Err(e) => failed.push(format!("{key}: {}", e.cause)),
                }
            }
            Ok::<_, String>((stored, failed))
        }
        .await;
        match result {
            Ok((stored, failed)) => {
                evidence.push(format!(
                    "{proxy}: set {} keys, {} not stored",
                    stored.len(),
                    failed.len()
                ));
                if !failed.is_empty() {
                    problems.push(format!(
                        "{proxy}: {} key(s) not stored through this proxy, e.g. {}",
                        failed.len(),
                        failed[..failed.len().min(3)].join("; ")
                    ));
                }
                written.extend(stored.into_iter().map(|(k, v)| (k, (p, v))));
            }
            Err(e) => problems.push(format!("writing through proxy {e}")),
        }
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
        match read_all(reader, &keys).await {
            Err(e) => problems.push(format!(
                "reading through proxy {e} ({} keys not read)",
                keys.len()
            )),
            Ok(values) => {
                let mut wrong = vec![];
                for k in &keys {
                    match values.get(k) {
                        Some(Ok(v)) if v.as_slice() == written[k].1.as_bytes() => {}
                        Some(Ok(v)) => {
                            wrong.push(format!("{k}: wrong value {:?}", String::from_utf8_lossy(v)))
                        }
                        Some(Err(e)) => wrong.push(format!("{k}: {e}")),
                        None => wrong.push(format!("{k}: missing")),
                    }
                }
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
        }
    }
    // Direct gets: each key must live on exactly one server.
    let keys: Vec<String> = written.keys().cloned().collect();
    let mut holders: BTreeMap<&String, Vec<&Endpoint>> = keys.iter().map(|k| (k, vec![])).collect();
    let mut reachable = 0;
    for server in servers {
        match async { connect(server).await?.get_many(&keys).await }.await {
            Err(e) => problems.push(format!("memcached server {e}")),
            Ok(values) => {
                reachable += 1;
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
    if reachable == servers.len() {
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
    }
    // Leave nothing behind: delete every key directly on every server (expiry is the net).
    for server in servers {
        if let Ok(mut client) = connect(server).await {
            super::pool::cleanup(std::slice::from_mut(&mut client), &keys).await;
        }
    }
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

/// Where each proxy runs: its node when known (pods), else the addresses its name resolves to.
/// Two proxies in one place are one proxy named twice (or two on one node); fewer than two
/// places compare nothing across nodes. `Ok` has one evidence line per proxy.
async fn distinct_places(proxies: &[Endpoint]) -> Result<Vec<String>, String> {
    let mut by_place: BTreeMap<String, &Endpoint> = BTreeMap::new();
    let mut lines = vec![];
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
        lines.push(format!("{proxy}: on {}", places.join(", ")));
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

/// Servers holding less than `min_share` of their fair share of the stored keys.
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
    let floor = (fair * spec.min_share).floor() as usize;
    servers
        .iter()
        .filter_map(|server| {
            let held = holders.values().filter(|h| h.contains(&server)).count();
            (held < floor).then(|| {
                format!(
                    "{server}: holds {held} of the {stored} keys written through the proxies, below {floor} ({:.0}% of its fair share {fair:.0}): the proxies' hashing does not spread keys over the pool",
                    spec.min_share * 100.0
                )
            })
        })
        .collect()
}

/// Values through one proxy: a multi-get, and key by key when that fails (a proxy answers a
/// multi-get with one error when any of its servers is down), so each key gets its own outcome.
async fn read_all(
    proxy: &Endpoint,
    keys: &[String],
) -> Result<BTreeMap<String, Result<Vec<u8>, String>>, String> {
    let mut client = connect(proxy).await?;
    if let Ok(values) = client.get_many(keys).await {
        return Ok(values.into_iter().map(|(k, v)| (k, Ok(v))).collect());
    }
    // A timed-out or broken connection is out of step: only then open a new one.
    let mut out = BTreeMap::new();
    let mut client = connect(proxy).await?;
    for key in keys {
        match client.get(key).await {
            Ok(Some(v)) => {
                out.insert(key.clone(), Ok(v));
            }
            Ok(None) => {}
            Err(e) => {
                out.insert(key.clone(), Err(e.cause));
                client = connect(proxy).await?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod rig {
    use super::*;
    use crate::testing::eps;
    use harness_testkit::rig;

    fn spec() -> MemcacheProxySpec {
        MemcacheProxySpec {
            proxies: Default::default(),
            servers: Default::default(),
            keys_per_proxy: 30,
            min_share: 0.5,
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

        // Nothing of the harness's is left on the servers.
        for server in &server_endpoints {
            assert_eq!(rig::memcached_items(&server.address()).await, 0, "{server}");
        }
    }

    // Layer 2 (real servers): three memcached servers and one twemproxy per "node", in the
    // role mcrouter plays on a cluster.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn keys_set_through_each_proxy_are_read_through_the_others_and_a_dead_server_is_named() {
        let (net, servers, server_endpoints) = rig::memcached(3).await;
        let server_endpoints = eps(server_endpoints);
        let (_proxies, proxy_endpoints) = rig::twemproxy(&net, &servers, 3).await;
        let proxy_endpoints = eps(proxy_endpoints);
        let before = check(&spec(), &proxy_endpoints, &server_endpoints).await;
        let v = before.clone();
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        // 30 keys per proxy are raised to 100 so that each of the 3 servers expects 100.
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("read 200 of 200 keys")),
            "{:?}",
            v.evidence
        );

        servers[0].stop().await;
        let v = check(&spec(), &proxy_endpoints, &server_endpoints).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "memcached server {}: cannot connect",
                server_endpoints[0].name
            )),
            "{}",
            v.summary
        );
        assert!(
            v.summary
                .contains("key(s) not stored through this proxy, e.g. harness:"),
            "the failing keys are named: {} {:?} (before the stop: {:?})",
            v.summary,
            v.evidence,
            before.evidence
        );
        assert!(
            v.summary.contains("SERVER_ERROR"),
            "the proxy's error is shown: {}",
            v.summary
        );
    }
}
