//! `memcache.proxy`: through the proxy of each node, set keys with per-node values; read every
//! key back through every other node's proxy; and by direct gets, confirm that each key lives on
//! exactly one memcached server. Works with mcrouter and twemproxy (both speak the memcached
//! ASCII protocol). A failure names the proxy or server and the keys affected.

use super::client::connect;
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{RawProxyTarget, nonce};
use crate::verify::{RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub proxies: RawProxyTarget,
    /// The memcached servers behind the proxies, for the direct "lives on exactly one" check.
    pub servers: RawTarget,
    #[serde(default = "default_proxy_keys")]
    pub keys_per_proxy: i64,
}

fn default_proxy_keys() -> i64 {
    20
}

#[derive(Debug, Clone, Serialize)]
pub struct MemcacheProxySpec {
    pub proxies: Target,
    pub servers: Target,
    pub keys_per_proxy: u32,
}

#[async_trait::async_trait]
impl Verifier for MemcacheProxySpec {
    const NAME: &'static str = "memcache.proxy";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let proxies = raw.proxies.check(cx, &format!("{path}.proxies"), 2);
        let servers = raw.servers.check(cx, &format!("{path}.servers"), 1);
        let keys = cx.count(&format!("{path}.keys_per_proxy"), raw.keys_per_proxy, 1);
        Some(Self {
            proxies: proxies?,
            servers: servers?,
            keys_per_proxy: keys?,
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
    let run = nonce();
    let per_proxy = spec.keys_per_proxy as usize;
    let mut problems: Vec<String> = vec![];
    let mut evidence = vec![];
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

    // Layer 2 (real servers): three memcached servers and one twemproxy per "node", in the
    // role mcrouter plays on a cluster.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn keys_set_through_each_proxy_are_read_through_the_others_and_a_dead_server_is_named() {
        let (net, servers, server_endpoints) = rig::memcached(3).await;
        let server_endpoints = eps(server_endpoints);
        let (_proxies, proxy_endpoints) = rig::twemproxy(&net, &servers, 3).await;
        let proxy_endpoints = eps(proxy_endpoints);
        let spec = MemcacheProxySpec {
            proxies: Default::default(),
            servers: Default::default(),
            keys_per_proxy: 30,
        };
        let before = check(&spec, &proxy_endpoints, &server_endpoints).await;
        let v = before.clone();
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.evidence.iter().any(|e| e.contains("read 60 of 60 keys")),
            "{:?}",
            v.evidence
        );

        servers[0].stop().await;
        let v = check(&spec, &proxy_endpoints, &server_endpoints).await;
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
