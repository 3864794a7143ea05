//! memcached writes for a workload: writers set keys on their owners (rendezvous hashing, as the
//! pool check and pymemcache's `HashClient` spread them), each acknowledged by a round trip,
//! and delete every Nth; the read-back reads each key from its owner: every acknowledged set
//! there with its value, every acknowledged delete gone. A server that restarted loses its keys
//! (it is a cache): the verdict names it with the keys it lost, and the user decides whether a
//! fault belongs in the workload's window.

use super::client::{KEY_TTL_SECS, TcpClient, connect, owner};
use crate::cluster::Endpoint;
use crate::verify::Verdict;
use crate::verify::ledger::{self, History, Ledger, Target};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Pause after a failed write (a server is down).
const AFTER_FAILURE: Duration = Duration::from_millis(200);

/// `writers` writers until `stop`; keys are `harness:<run>:w<w>-<seq>`, their value the key.
pub async fn write_until(
    servers: &[Endpoint],
    run: &str,
    writers: usize,
    delete_every: u64,
    stop: &CancellationToken,
    ledger: &Ledger,
) {
    let one = |w: usize| {
        let writer = KeyWriter {
            servers: servers.to_vec(),
            prefix: format!("harness:{run}:w{w}"),
            clients: BTreeMap::new(),
        };
        ledger::drive(writer, delete_every, AFTER_FAILURE, stop, ledger)
    };
    futures::future::join_all((0..writers).map(one)).await;
}

/// One writer: each key set on its owner, over a connection per server (opened again after
/// an error, which leaves a connection out of step).
struct KeyWriter {
    servers: Vec<Endpoint>,
    prefix: String,
    clients: BTreeMap<String, TcpClient>,
}

impl KeyWriter {
    async fn client(&mut self, server: &Endpoint) -> Result<&mut TcpClient, String> {
        if !self.clients.contains_key(&server.name) {
            self.clients
                .insert(server.name.clone(), connect(server).await?);
        }
        self.clients
            .get_mut(&server.name)
            .ok_or_else(|| format!("{server}: not connected"))
    }
}

#[async_trait::async_trait]
impl ledger::Writer for KeyWriter {
    fn target(&self, seq: u64) -> Target {
        let key = format!("{}-{seq}", self.prefix);
        Target {
            node: owner(&key, &self.servers).name.clone(),
            id: key,
        }
    }

    async fn insert(&mut self, target: &Target) -> Result<(), String> {
        let key = &target.id;
        let server = owner(key, &self.servers).clone();
        let result = async {
            let client = self.client(&server).await?;
            client.set(key, key.as_bytes()).await?;
            // `set` is pipelined: a round trip makes it acknowledged.
            client.version().await?;
            Ok::<_, String>(())
        }
        .await;
        if result.is_err() {
            self.clients.remove(&server.name);
        }
        result
    }

    async fn delete(&mut self, node: &str, key: &str) -> Result<(), String> {
        let Some(server) = self.servers.iter().find(|s| s.name == node).cloned() else {
            return Err(format!("no server {node}"));
        };
        let result = async {
            let client = self.client(&server).await?;
            client.delete_all(&[key.to_string()]).await?;
            Ok::<_, String>(())
        }
        .await;
        if result.is_err() {
            self.clients.remove(&server.name);
        }
        result
    }
}

/// How many keys one `get` asks for: a workload of hours is read back in pieces.
const READ_BATCH: usize = 4096;

/// What one server's read-back found so far.
#[derive(Default)]
struct ServerReadBack {
    batch: Vec<String>,
    acknowledged: usize,
    lost: usize,
    first_lost: Option<String>,
    resurrected: usize,
    first_resurrected: Option<String>,
    /// Why it could not be read (the rest of its keys are counted, not read).
    unread: Option<(String, usize)>,
}

impl ServerReadBack {
    async fn read(&mut self, server: &Endpoint, history: &History) {
        let keys = std::mem::take(&mut self.batch);
        if let Some((_, n)) = &mut self.unread {
            *n += keys.len();
            return;
        }
        match async { connect(server).await?.get_many(&keys).await }.await {
            Ok(values) => {
                for k in keys {
                    if history.present().contains(&k) {
                        self.acknowledged += 1;
                        if values.get(&k).map(Vec::as_slice) != Some(k.as_bytes()) {
                            self.lost += 1;
                            self.first_lost.get_or_insert(k);
                        }
                    } else if values.contains_key(&k) {
                        self.resurrected += 1;
                        self.first_resurrected.get_or_insert(k);
                    }
                }
            }
            Err(e) => self.unread = Some((e.to_string(), keys.len())),
        }
    }
}

/// Reads every key the ledger names from its owner and judges: lost sets and resurrected
/// deletes, by server. Keys are read in batches of [`READ_BATCH`], so memory stays bounded.
/// `tolerated`: acknowledged keys that may be lost in all (a cache restarted on purpose
/// forgets them): within it, each server's lost keys are evidence, not a failure.
pub async fn read_back(servers: &[Endpoint], history: &History, tolerated: u64) -> Verdict {
    let mut by_server: Vec<ServerReadBack> =
        servers.iter().map(|_| ServerReadBack::default()).collect();
    for key in history.present().iter().chain(history.deleted().iter()) {
        let owner_name = &owner(&key, servers).name;
        let Some(i) = servers.iter().position(|s| &s.name == owner_name) else {
            continue;
        };
        by_server[i].batch.push(key);
        if by_server[i].batch.len() >= READ_BATCH {
            by_server[i].read(&servers[i], history).await;
        }
    }
    for (server, found) in servers.iter().zip(&mut by_server) {
        if !found.batch.is_empty() {
            found.read(server, history).await;
        }
    }
    let lost: u64 = by_server.iter().map(|f| f.lost as u64).sum();
    let tolerate = lost <= tolerated;
    let mut problems = vec![];
    let mut evidence = vec![];
    if tolerated > 0 {
        evidence.push(format!(
            "{lost} acknowledged key(s) lost in all, {} max_lost {tolerated}",
            if tolerate { "within" } else { "above" }
        ));
    }
    for (server, found) in servers.iter().zip(&mut by_server) {
        if let Some((e, n)) = &found.unread {
            problems.push(format!("{e} ({n} keys not read)"));
            continue;
        }
        if found.acknowledged + found.resurrected == 0 && found.first_resurrected.is_none() {
            // Nothing was written to it.
            continue;
        }
        evidence.push(format!(
            "{server}: {} of its {} acknowledged key(s) read back, {} deleted key(s) present",
            found.acknowledged - found.lost,
            found.acknowledged,
            found.resurrected
        ));
        if let Some(first) = &found.first_lost {
            let line = format!(
                "{server}: {} acknowledged write(s) lost, e.g. {first}",
                found.lost
            );
            if tolerate {
                evidence.push(format!("{line} (tolerated)"));
            } else {
                problems.push(line);
            }
        }
        if let Some(first) = &found.first_resurrected {
            problems.push(format!(
                "{server}: {} acknowledged delete(s) not applied, e.g. {first}",
                found.resurrected
            ));
        }
    }
    // Writes went to each key's owner: a server that was sent writes must have acknowledged
    // some of them.
    let attempted: Vec<String> = servers
        .iter()
        .filter(|s| history.refusals_per_node.contains_key(&s.name))
        .map(|s| s.name.clone())
        .collect();
    problems.extend(ledger::silent_nodes(&attempted, history));
    let acknowledged = history.present().len() + history.deleted().len();
    evidence.push(format!(
        "{} write(s) not acknowledged (may or may not be there)",
        history.unacknowledged.len()
    ));
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{acknowledged} acknowledged write(s) on their {} server(s); every acknowledged delete gone",
                servers.len()
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

/// Deletes every key the ledger names from its owner, in batches (they also expire after
/// [`KEY_TTL_SECS`] seconds).
pub async fn delete_keys(servers: &[Endpoint], history: &History) -> Result<(), String> {
    let mut batches: Vec<Vec<String>> = servers.iter().map(|_| vec![]).collect();
    let mut errors: BTreeSet<String> = BTreeSet::new();
    let delete = |server: &Endpoint, keys: Vec<String>| {
        let server = server.clone();
        async move {
            async { connect(&server).await?.delete_all(&keys).await }
                .await
                .map_err(|e| e.to_string())
        }
    };
    for key in history.ids() {
        let owner_name = &owner(&key, servers).name;
        let Some(i) = servers.iter().position(|s| &s.name == owner_name) else {
            continue;
        };
        batches[i].push(key);
        if batches[i].len() >= READ_BATCH
            && let Err(e) = delete(&servers[i], std::mem::take(&mut batches[i])).await
        {
            errors.insert(e);
        }
    }
    for (server, keys) in servers.iter().zip(batches) {
        if !keys.is_empty()
            && let Err(e) = delete(server, keys).await
        {
            errors.insert(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} (the keys expire after {KEY_TTL_SECS}s)",
            errors.into_iter().collect::<Vec<_>>().join("; ")
        ))
    }
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers): three memcached servers from the rig image.
    use super::*;
    use crate::testing::eps;
    use harness_testkit::rig;

    // Writes keep going while a server is stopped: writes to it are refused and recorded
    // apart; after it restarts (empty, as a cache is) its acknowledged keys are named lost,
    // the others' all read back; nothing is left behind.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn writes_are_read_back_and_a_restarted_server_is_named_with_its_lost_keys_unless_tolerated()
     {
        let (_net, nodes, servers) = rig::memcached(3).await;
        let servers = eps(servers);
        let run = crate::verify::nonce();
        let write = |secs: u64| {
            let (servers, run) = (servers.clone(), run.clone());
            async move {
                let ledger = Ledger::new();
                let stop = CancellationToken::new();
                let timer = async {
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    stop.cancel();
                };
                tokio::join!(write_until(&servers, &run, 2, 5, &stop, &ledger), timer);
                ledger.snapshot()
            }
        };
        let history = write(2).await;
        assert!(history.present().len() > 20 && !history.deleted().is_empty());
        let v = read_back(&servers, &history, 0).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);

        nodes[1].stop().await;
        let during = write(2).await;
        assert!(
            !during.unacknowledged.is_empty(),
            "writes to the stopped server were refused"
        );
        nodes[1].start().await;
        let mut all = history.clone();
        for id in during.present().iter() {
            all.record("during", id, ledger::Write::Kept);
        }
        let v = read_back(&servers, &all, 0).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!("{}: ", servers[1].name))
                && v.summary.contains("acknowledged write(s) lost"),
            "{}",
            v.summary
        );
        assert!(
            !v.summary.contains(&format!("{}: ", servers[0].name)),
            "{}",
            v.summary
        );
        // The scenario can tolerate what a restarted cache forgets: within `max_lost` the
        // lost keys are told, not failed; one fewer than were lost still fails.
        let lost: u64 = v
            .summary
            .split(": ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let v = read_back(&servers, &all, lost).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.evidence
                .iter()
                .any(|l| l.contains("acknowledged write(s) lost") && l.ends_with("(tolerated)")),
            "{:?}",
            v.evidence
        );
        assert!(!read_back(&servers, &all, lost - 1).await.passed);

        delete_keys(&servers, &all).await.unwrap();
        delete_keys(&servers, &during).await.unwrap();
        for s in [&servers[0], &servers[2]] {
            assert_eq!(rig::memcached_items(&s.address()).await, 0, "{s}");
        }
    }
}
