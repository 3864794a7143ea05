//! `memcache.proxy`: through the proxy of each node, set keys with per-node values; read every
//! key back through every other node's proxy; and by direct gets, confirm that each key lives on
//! exactly one memcached server. Works with mcrouter and twemproxy (both speak the memcached
//! ASCII protocol). A failure names the proxy or server and the keys affected.

use super::memcache::connect;
use super::{Endpoint, MemcacheProxySpec, Verdict, nonce};
use std::collections::BTreeMap;

pub async fn check(
    spec: &MemcacheProxySpec,
    proxies: &[Endpoint],
    servers: &[Endpoint],
) -> Verdict {
    let run = nonce();
    let per_proxy = spec.keys_per_proxy.max(1) as usize;
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
            // A round trip on the same connection: the noreply sets are applied before it answers.
            let _ = client.get(&keys[0].0).await?;
            Ok::<_, String>(keys)
        }
        .await;
        match result {
            Ok(keys) => {
                evidence.push(format!("{proxy}: set {} keys", keys.len()));
                written.extend(keys.into_iter().map(|(k, v)| (k, (p, v))));
            }
            Err(e) => problems.push(format!("writing through proxy {e}")),
        }
    }
    // Read every key through every other proxy.
    for (r, reader) in proxies.iter().enumerate() {
        let keys: Vec<String> = written
            .iter()
            .filter(|(_, (p, _))| *p != r || proxies.len() == 1)
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let got = async { connect(reader).await?.get_many(&keys).await }.await;
        match got {
            Err(e) => problems.push(format!(
                "reading through proxy {e} ({} keys not read)",
                keys.len()
            )),
            Ok(values) => {
                let wrong: Vec<&String> = keys
                    .iter()
                    .filter(|k| {
                        values.get(*k).map(|v| v.as_slice()) != Some(written[*k].1.as_bytes())
                    })
                    .collect();
                evidence.push(format!(
                    "{reader}: read {} of {} keys written through other proxies",
                    keys.len() - wrong.len(),
                    keys.len()
                ));
                if !wrong.is_empty() {
                    let sample: Vec<&str> = wrong.iter().take(5).map(|s| s.as_str()).collect();
                    problems.push(format!(
                        "{reader}: {} key(s) missing or wrong through this proxy: {}",
                        wrong.len(),
                        sample.join(", ")
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
