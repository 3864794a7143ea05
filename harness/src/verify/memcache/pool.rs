//! `memcache.pool`: set/get on every server; then K keys spread with client-side consistent
//! hashing (rendezvous, as pymemcache's `HashClient`) are written to their owners, read back,
//! and every server must hold at least `min_share` of its fair share (K / servers).

use super::client::{Client, connect, owner};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::nonce;
use crate::verify::{RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio::io::BufWriter;
use tokio::net::TcpStream;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    /// Keys spread with client-side consistent hashing.
    #[serde(default = "default_keys")]
    pub keys: i64,
    /// Each server must hold at least this fraction of its fair share (keys / servers).
    #[serde(default = "default_min_share")]
    pub min_share: f64,
}

fn default_keys() -> i64 {
    1000
}
fn default_min_share() -> f64 {
    0.5
}

#[derive(Debug, Clone, Serialize)]
pub struct MemcachePoolSpec {
    pub target: Target,
    pub keys: u32,
    pub min_share: f64,
}

#[async_trait::async_trait]
impl Verifier for MemcachePoolSpec {
    const NAME: &'static str = "memcache.pool";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let keys = cx.count(&format!("{path}.keys"), raw.keys, 1);
        if !(0.0..=1.0).contains(&raw.min_share) {
            cx.error(
                &format!("{path}.min_share"),
                format!("{} is not a fraction between 0 and 1", raw.min_share),
            );
            return None;
        }
        Some(Self {
            target: target?,
            keys: keys?,
            min_share: raw.min_share,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            keys: flags.keys.unwrap_or_else(default_keys),
            min_share: default_min_share(),
        })
    }

    fn targets(&self) -> Vec<(&'static str, &Target, usize)> {
        vec![("target", &self.target, 1)]
    }

    async fn run(&self, cx: &VerifyContext<'_>) -> Verdict {
        check(self, cx.get("target")).await
    }
}

pub async fn check(spec: &MemcachePoolSpec, servers: &[Endpoint]) -> Verdict {
    let run = nonce();
    let mut problems = vec![];
    let mut evidence = vec![];
    let mut clients: Vec<Client<BufWriter<TcpStream>>> = vec![];
    for server in servers {
        match probe(server, &run).await {
            Ok((client, version)) => {
                evidence.push(format!("{server}: set/get ok (memcached {version})"));
                clients.push(client);
            }
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Verdict::fail(problems.join("; "), evidence);
    }
    let probe_key = vec![format!("harness:{run}:probe")];
    if let Some(twice) = same_server(servers, &mut clients, &probe_key[0]).await {
        cleanup(&mut clients, &probe_key).await;
        return Verdict::fail(twice, evidence);
    }
    let keys: Vec<String> = (0..spec.keys)
        .map(|k| format!("harness:{run}:pool:{k}"))
        .collect();
    let mut by_server: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for key in &keys {
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
    for (i, client) in clients.iter_mut().enumerate() {
        let mut own = by_server.remove(&i).unwrap_or_default();
        own.extend(probe_key.iter().cloned());
        cleanup(std::slice::from_mut(client), &own).await;
    }
    let fair = keys.len() as f64 / servers.len() as f64;
    let floor = (fair * spec.min_share).floor() as usize;
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
                        "{server}: {} key(s) written but not read back, e.g. {}",
                        missing.len(),
                        missing[..missing.len().min(3)].join(", ")
                    ));
                }
                if stored < floor {
                    problems.push(format!("{server}: holds {stored} keys, below {floor} ({:.0}% of its fair share {fair:.0})", spec.min_share * 100.0));
                }
            }
        }
    }
    if problems.is_empty() {
        Verdict::pass(
            format!("{} keys spread over {} servers", keys.len(), servers.len()),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

/// Two targets that are one server: each server got the probe key with its own name as the
/// value, one after the other, so a server that holds another's name is that other server.
pub async fn same_server<S>(
    servers: &[Endpoint],
    clients: &mut [Client<S>],
    probe_key: &str,
) -> Option<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for (server, client) in servers.iter().zip(clients.iter_mut()) {
        let Ok(Some(value)) = client.get(probe_key).await else {
            continue;
        };
        if let Some(other) = servers
            .iter()
            .find(|s| s.name.as_bytes() == value && s.name != server.name)
        {
            return Some(format!(
                "{server} and {other} are the same server (the key written to {other} was read back from {server}): naming one server twice proves nothing about distribution"
            ));
        }
    }
    None
}

/// Deletes what a check wrote; a failure to delete is left to the keys' expiry.
pub async fn cleanup<S>(clients: &mut [Client<S>], keys: &[String])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for client in clients.iter_mut() {
        if let Err(e) = client.delete_all(keys).await {
            tracing::debug!("deleting the check's keys: {e} (they expire on their own)");
        }
    }
}

async fn probe(
    server: &Endpoint,
    run: &str,
) -> Result<(Client<BufWriter<TcpStream>>, String), String> {
    let mut client = connect(server).await?;
    let key = format!("harness:{run}:probe");
    client.set(&key, server.name.as_bytes()).await?;
    match client.get(&key).await? {
        Some(v) if v == server.name.as_bytes() => {}
        other => return Err(format!("{server}: set then get returned {other:?}")),
    }
    let version = client.version().await?;
    Ok((client, version))
}

/// Writes keys (pipelined), reads them back; returns (keys read back, keys missing).
pub async fn write_and_read<S>(
    client: &mut Client<S>,
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
    use super::*;
    use crate::testing::eps;
    use harness_testkit::rig;

    // Layer 2 (real servers): three memcached 1.6 servers.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn keys_spread_over_every_server_and_a_stopped_server_is_named() {
        let (_net, nodes, servers) = rig::memcached(3).await;
        let servers = eps(servers);
        let spec = MemcachePoolSpec {
            target: Default::default(),
            keys: 3000,
            min_share: 0.7,
        };
        let v = check(&spec, &servers).await;
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

        // An impossible bound fails and names a server.
        let strict = MemcachePoolSpec {
            min_share: 1.0,
            ..spec.clone()
        };
        let v = check(&strict, &servers).await;
        assert!(
            !v.passed && v.summary.contains("below 1000"),
            "{}",
            v.summary
        );

        nodes[1].stop().await;
        let v = check(&spec, &servers).await;
        assert!(!v.passed);
        assert!(
            v.summary
                .contains(&format!("{}: cannot connect", servers[1].name)),
            "{}",
            v.summary
        );
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
