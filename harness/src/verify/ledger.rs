//! The ledger every write workload keeps: what each writer was told (acknowledged inserts,
//! acknowledged deletes, refusals, by node) and when each operation started and ended; the
//! writer loop the systems' writers share ([`drive`]: a system only says how to insert and
//! delete one row, key or document); and the judgement of what each node holds against the
//! ledger ([`judge`]).
//!
//! One place on purpose: a rule about what a PASS needs (every node acknowledged writes, every
//! copy identical) is written once and holds for every system.

use crate::verify::Verdict;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the writers were told.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// Acknowledged inserts that were not deleted afterwards.
    pub present: BTreeSet<String>,
    /// Acknowledged inserts whose delete was acknowledged too.
    pub deleted: BTreeSet<String>,
    /// Acknowledged inserts whose delete failed: either state is correct.
    pub uncertain: BTreeSet<String>,
    /// Inserts that failed: never acknowledged, so they may or may not exist.
    pub unacknowledged: Vec<(String, String)>,
    /// Acknowledged inserts per node (or server, or writer).
    pub acks_per_node: BTreeMap<String, usize>,
    /// Refused inserts per node.
    pub refusals_per_node: BTreeMap<String, usize>,
    /// Every operation with its timing, in the order they ended.
    pub ops: Vec<Op>,
}

/// One operation a writer made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub id: String,
    pub node: String,
    /// The writer that made it, as a history checker's process: each writer has its own, and a
    /// writer whose operation was not acknowledged continues as a new one (the outcome of the
    /// old one's last operation is unknown).
    pub process: u64,
    pub kind: OpKind,
    /// When it was sent and when its answer came, from the workload's start.
    pub start: Duration,
    pub end: Duration,
    /// Whether it was acknowledged; the refusal otherwise.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Insert,
    Delete,
}

/// What became of one write.
pub enum Write {
    /// The insert failed: never acknowledged, so it may or may not exist.
    Refused(String),
    /// Acknowledged and kept.
    Kept,
    /// Acknowledged, then deleted (the delete acknowledged too).
    Deleted,
    /// Acknowledged, but its delete failed: either state is correct.
    DeleteFailed,
}

impl History {
    /// Records what became of write `id` through `node` (the node or writer it went through).
    pub fn record(&mut self, node: &str, id: String, write: Write) {
        match write {
            Write::Refused(why) => {
                *self.refusals_per_node.entry(node.to_string()).or_default() += 1;
                self.unacknowledged.push((id, why));
            }
            acked => {
                *self.acks_per_node.entry(node.to_string()).or_default() += 1;
                match acked {
                    Write::Kept => self.present.insert(id),
                    Write::Deleted => self.deleted.insert(id),
                    _ => self.uncertain.insert(id),
                };
            }
        }
    }

    /// Acknowledged inserts, deleted later or not.
    pub fn acknowledged(&self) -> usize {
        self.present.len() + self.deleted.len() + self.uncertain.len()
    }
}

/// A workload's ledger, shared by its writers and read while they write.
#[derive(Debug)]
pub struct Ledger {
    origin: Instant,
    history: Mutex<History>,
    next_process: std::sync::atomic::AtomicU64,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

impl Ledger {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            history: Mutex::new(History::default()),
            next_process: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// When the ledger was opened (the writers' time zero).
    pub fn origin(&self) -> Instant {
        self.origin
    }

    fn since(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.origin)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records what became of a write (the lock is held only for the update).
    pub fn record(&self, node: &str, id: String, write: Write) {
        self.lock().record(node, id, write);
    }

    /// How many operations were recorded so far.
    pub fn operations(&self) -> usize {
        self.lock().ops.len()
    }

    /// A copy of what was recorded so far.
    pub fn snapshot(&self) -> History {
        self.lock().clone()
    }

    /// A process id no writer had before.
    fn new_process(&self) -> u64 {
        self.next_process
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// How long the workload has run so far.
    pub fn elapsed(&self) -> Duration {
        self.since(Instant::now())
    }

    fn op(&self, op: OpAt<'_>, start: Instant, error: Option<&String>) {
        let OpAt {
            node,
            id,
            kind,
            process,
        } = op;
        let op = Op {
            id: id.to_string(),
            node: node.to_string(),
            process,
            kind,
            start: self.since(start),
            end: self.since(Instant::now()),
            error: error.cloned(),
        };
        self.lock().ops.push(op);
    }
}

/// Which operation [`Ledger::op`] records.
struct OpAt<'a> {
    node: &'a str,
    id: &'a str,
    kind: OpKind,
    process: u64,
}

/// One write a [`Writer`] attempted: where it went, its id, and whether it was acknowledged.
pub struct Attempt {
    pub node: String,
    pub id: String,
    pub result: Result<(), String>,
}

/// How one system writes: insert write `seq` (connecting as needed), and delete a write again.
/// The loop around it ([`drive`]) is the same for every system.
#[async_trait::async_trait]
pub trait Writer: Send {
    async fn insert(&mut self, seq: u64) -> Attempt;
    async fn delete(&mut self, node: &str, id: &str) -> Result<(), String>;
    /// Closes what the writer holds open.
    async fn close(self)
    where
        Self: Sized,
    {
    }
}

/// Runs one writer until `stop`: every `delete_every`th acknowledged insert is deleted again;
/// each outcome goes into `ledger` as it comes; after a refusal the writer pauses `pause`
/// (bounding the retry rate against a dead node).
pub async fn drive<W: Writer>(
    mut writer: W,
    delete_every: u64,
    pause: Duration,
    stop: &CancellationToken,
    ledger: &Ledger,
) {
    let mut seq: u64 = 0;
    let mut process = ledger.new_process();
    while !stop.is_cancelled() {
        seq = seq.saturating_add(1);
        let started = Instant::now();
        let attempt = writer.insert(seq).await;
        ledger.op(
            OpAt {
                node: &attempt.node,
                id: &attempt.id,
                kind: OpKind::Insert,
                process,
            },
            started,
            attempt.result.as_ref().err(),
        );
        if attempt.result.is_err() {
            process = ledger.new_process();
        }
        let write = match attempt.result {
            Err(e) => Write::Refused(e),
            Ok(()) if delete_every > 0 && seq.is_multiple_of(delete_every) => {
                let started = Instant::now();
                let deleted = writer.delete(&attempt.node, &attempt.id).await;
                ledger.op(
                    OpAt {
                        node: &attempt.node,
                        id: &attempt.id,
                        kind: OpKind::Delete,
                        process,
                    },
                    started,
                    deleted.as_ref().err(),
                );
                if deleted.is_err() {
                    process = ledger.new_process();
                }
                if deleted.is_ok() {
                    Write::Deleted
                } else {
                    Write::DeleteFailed
                }
            }
            Ok(()) => Write::Kept,
        };
        let refused = matches!(write, Write::Refused(_));
        ledger.record(&attempt.node, attempt.id, write);
        if refused {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.cancelled() => {}
            }
        }
    }
    writer.close().await;
}

/// What one node holds of what the workload wrote: each row's id, and the whole row as text
/// (every column), so copies can be compared beyond the ledger.
pub type Rows = BTreeMap<String, String>;

/// How [`judge`] reads the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Writers ran on every node (Galera): each node must have acknowledged writes itself.
    pub every_node_writes: bool,
    /// Every node holds a full copy (Galera, CQL reads through each coordinator): the copies
    /// must be identical, also in rows the ledger does not name.
    pub full_copies: bool,
}

/// The verdict (pure): lost acknowledged writes and applied-again deletes, by node; a node
/// that acknowledged nothing; copies that differ.
pub fn judge(
    nodes: &[String],
    reads: &[Result<Rows, String>],
    h: &History,
    rules: Rules,
) -> Verdict {
    let mut problems = vec![];
    let acked = h.acknowledged();
    let mut evidence = vec![
        format!(
            "acknowledged inserts: {acked} ({} later deleted with acknowledgement, {} with a failed delete)",
            h.deleted.len(),
            h.uncertain.len()
        ),
        format!("acknowledged inserts per node: {:?}", h.acks_per_node),
        format!(
            "writes not acknowledged (failed, may or may not exist; not counted as lost): {}",
            h.unacknowledged.len()
        ),
    ];
    for (id, e) in h.unacknowledged.iter().take(5) {
        evidence.push(format!("  not acknowledged: {id}: {e}"));
    }
    if acked == 0 {
        problems.push("no write was acknowledged by any node".to_string());
    }
    if rules.every_node_writes {
        problems.extend(silent_nodes(nodes, h));
    }
    let unacked: BTreeSet<&String> = h.unacknowledged.iter().map(|(id, _)| id).collect();
    for (node, read) in nodes.iter().zip(reads) {
        match read {
            Err(e) => problems.push(format!("{node}: could not read back: {e}")),
            Ok(got) => {
                let missing: Vec<&String> = h
                    .present
                    .iter()
                    .filter(|id| !got.contains_key(*id))
                    .collect();
                let resurrected: Vec<&String> = h
                    .deleted
                    .iter()
                    .filter(|id| got.contains_key(*id))
                    .collect();
                let committed_unacked = got.keys().filter(|id| unacked.contains(id)).count();
                evidence.push(format!(
                    "{node}: {} rows (checksum {}); {} acknowledged rows missing; {} acknowledged deletes still present; {committed_unacked} unacknowledged writes committed anyway",
                    got.len(),
                    checksum(got),
                    missing.len(),
                    resurrected.len()
                ));
                if !missing.is_empty() {
                    problems.push(format!(
                        "{node}: {} acknowledged write(s) lost, e.g. {}",
                        missing.len(),
                        sample(&missing)
                    ));
                }
                if !resurrected.is_empty() {
                    problems.push(format!(
                        "{node}: {} acknowledged delete(s) not applied, e.g. {}",
                        resurrected.len(),
                        sample(&resurrected)
                    ));
                }
            }
        }
    }
    if rules.full_copies
        && let Some(differ) = copies_differ(nodes, reads)
    {
        problems.push(differ);
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{acked} acknowledged writes present on each of the {} nodes checked, their copies identical; {} unacknowledged reported apart",
                nodes.len(),
                h.unacknowledged.len()
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

/// Nodes among `nodes` that acknowledged none of the writes sent to them, with the refusals
/// they gave (writers ran on each, so each must have acknowledged some).
pub fn silent_nodes(nodes: &[String], h: &History) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| h.acks_per_node.get(*n).copied().unwrap_or(0) == 0)
        .map(|n| {
            let refused = h.refusals_per_node.get(n).copied().unwrap_or(0);
            let example = h
                .unacknowledged
                .iter()
                .find(|(_, why)| why.contains(n.as_str()))
                .map(|(_, why)| format!(", e.g. {why}"))
                .unwrap_or_default();
            format!(
                "{n} acknowledged none of the writes its writers sent ({refused} refused{example}): a node that takes no writes is not a working member"
            )
        })
        .collect()
}

/// A stable checksum of a node's copy (FNV-1a over its rows in id order), for the evidence.
pub fn checksum(rows: &Rows) -> String {
    let mut text = Vec::new();
    for (id, row) in rows {
        text.extend_from_slice(id.as_bytes());
        text.push(0);
        text.extend_from_slice(row.as_bytes());
        text.push(b'\n');
    }
    format!("{:016x}", crate::verify::memcache::client::fnv1a(&text))
}

/// When the nodes that were read hold different copies: which differ from the largest group,
/// with their counts, checksums and an example row.
fn copies_differ(nodes: &[String], reads: &[Result<Rows, String>]) -> Option<String> {
    let read: Vec<(&String, &Rows)> = nodes
        .iter()
        .zip(reads)
        .filter_map(|(n, r)| r.as_ref().ok().map(|r| (n, r)))
        .collect();
    let mut groups: BTreeMap<String, Vec<(&String, &Rows)>> = BTreeMap::new();
    for (node, rows) in &read {
        groups.entry(checksum(rows)).or_default().push((node, rows));
    }
    if groups.len() < 2 {
        return None;
    }
    let mut ordered: Vec<&Vec<(&String, &Rows)>> = groups.values().collect();
    // The largest group first (the first node's on a tie): the others are said to differ.
    ordered.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let (reference_nodes, reference) = (ordered[0], ordered[0][0].1);
    let describe = |g: &Vec<(&String, &Rows)>| {
        let names: Vec<&str> = g.iter().map(|(n, _)| n.as_str()).collect();
        format!(
            "{} {} {} rows (checksum {})",
            names.join(", "),
            if names.len() == 1 { "holds" } else { "hold" },
            g[0].1.len(),
            checksum(g[0].1)
        )
    };
    let mut parts = vec![];
    for g in &ordered[1..] {
        let rows = g[0].1;
        let example = rows
            .iter()
            .find(|(id, row)| reference.get(*id) != Some(row))
            .map(|(id, row)| format!("row `{id}` ({row}) is not in the others' copy"))
            .or_else(|| {
                reference
                    .keys()
                    .find(|id| !rows.contains_key(*id))
                    .map(|id| format!("row `{id}` is missing there"))
            })
            .unwrap_or_default();
        parts.push(format!("{}: {example}", describe(g)));
    }
    Some(format!(
        "the nodes' copies of what the check wrote differ: {}; but {}",
        parts.join("; "),
        describe(reference_nodes)
    ))
}

fn sample(ids: &[&String]) -> String {
    let shown: Vec<&str> = ids.iter().take(5).map(|s| s.as_str()).collect();
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(ids: &[&str]) -> Rows {
        ids.iter()
            .map(|id| (id.to_string(), format!("{id}\tnode")))
            .collect()
    }

    const GALERA: Rules = Rules {
        every_node_writes: true,
        full_copies: true,
    };

    fn history() -> History {
        let mut h = History::default();
        h.record("a", "n0-1".into(), Write::Kept);
        h.record("a", "n0-2".into(), Write::Kept);
        h.record("a", "n0-3".into(), Write::Deleted);
        h.record("b", "n1-1".into(), Write::Kept);
        h.record("b", "n1-9".into(), Write::Refused("b: refused".into()));
        h
    }

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    // Layer 1 (pure): the judgement every write workload shares.
    #[test]
    fn lost_and_resurrected_rows_are_named_by_node_and_unacknowledged_are_apart() {
        let h = history();
        let good = rows(&["n0-1", "n0-2", "n1-1", "n1-9"]);
        let v = judge(&names(), &[Ok(good.clone()), Ok(good.clone())], &h, GALERA);
        assert!(v.passed, "{}", v.summary);
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("not acknowledged") && e.contains(": 1")),
            "{:?}",
            v.evidence
        );
        let bad = rows(&["n0-1", "n0-3", "n1-1", "n1-9"]);
        let v = judge(&names(), &[Ok(good), Ok(bad)], &h, GALERA);
        assert!(!v.passed);
        assert!(
            v.summary
                .contains("b: 1 acknowledged write(s) lost, e.g. n0-2"),
            "{}",
            v.summary
        );
        assert!(
            v.summary
                .contains("b: 1 acknowledged delete(s) not applied, e.g. n0-3"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn a_node_that_acknowledged_nothing_fails_with_its_refusals() {
        let mut h = History::default();
        h.record("a", "n0-1".into(), Write::Kept);
        h.record("b", "n1-1".into(), Write::Refused("b: read only".into()));
        h.record("b", "n1-2".into(), Write::Refused("b: read only".into()));
        let copy = rows(&["n0-1"]);
        let v = judge(&names(), &[Ok(copy.clone()), Ok(copy.clone())], &h, GALERA);
        assert!(!v.passed);
        assert!(
            v.summary.contains(
                "b acknowledged none of the writes its writers sent (2 refused, e.g. b: read only)"
            ),
            "{}",
            v.summary
        );
        // Writers through a driver (not one per node) are not held to it.
        let driver = Rules {
            every_node_writes: false,
            full_copies: true,
        };
        assert!(judge(&names(), &[Ok(copy.clone()), Ok(copy)], &h, driver).passed);
    }

    #[test]
    fn copies_that_differ_outside_the_ledger_fail_naming_the_node() {
        let h = history();
        let good = rows(&["n0-1", "n0-2", "n1-1"]);
        let mut extra = good.clone();
        extra.insert("stray".into(), "stray\tx".into());
        let nodes: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
        let v = judge(
            &nodes,
            &[Ok(good.clone()), Ok(extra), Ok(good.clone())],
            &h,
            GALERA,
        );
        assert!(!v.passed, "{}", v.summary);
        assert!(
            v.summary.contains("b holds 4 rows") && v.summary.contains("row `stray`"),
            "{}",
            v.summary
        );
        assert!(v.summary.contains("but a, c hold 3 rows"), "{}", v.summary);
        // A row changed behind the cluster's back (same id, other content) differs too.
        let mut changed = good.clone();
        changed.insert("n0-1".into(), "n0-1\tsomeone-else".into());
        let v = judge(
            &nodes,
            &[Ok(good.clone()), Ok(good), Ok(changed)],
            &h,
            GALERA,
        );
        assert!(
            !v.passed && v.summary.contains("c holds 3 rows"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn nothing_acknowledged_is_nothing_to_compare() {
        let v = judge(
            &names(),
            &[Ok(Rows::new()), Ok(Rows::new())],
            &History::default(),
            GALERA,
        );
        assert!(
            !v.passed && v.summary.contains("no write was acknowledged"),
            "{}",
            v.summary
        );
    }

    struct Scripted {
        refuse_from: u64,
        deleted: Vec<String>,
    }

    #[async_trait::async_trait]
    impl Writer for Scripted {
        async fn insert(&mut self, seq: u64) -> Attempt {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Attempt {
                node: "n".into(),
                id: format!("w-{seq}"),
                result: if seq >= self.refuse_from {
                    Err("down".into())
                } else {
                    Ok(())
                },
            }
        }
        async fn delete(&mut self, _: &str, id: &str) -> Result<(), String> {
            self.deleted.push(id.to_string());
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_writer_loop_records_every_outcome_with_its_timing() {
        let ledger = Ledger::new();
        let stop = CancellationToken::new();
        let writer = Scripted {
            refuse_from: 7,
            deleted: vec![],
        };
        let timer = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            stop.cancel();
        };
        tokio::join!(
            drive(writer, 3, Duration::from_millis(100), &stop, &ledger),
            timer
        );
        let h = ledger.snapshot();
        assert_eq!(h.present.len(), 4, "{h:?}"); // 1 2 4 5
        assert_eq!(h.deleted.len(), 2, "{h:?}"); // 3 6
        assert!(!h.unacknowledged.is_empty());
        let deletes = h.ops.iter().filter(|o| o.kind == OpKind::Delete).count();
        assert_eq!(deletes, 2);
        let first = &h.ops[0];
        assert_eq!(first.start, Duration::ZERO);
        assert_eq!(first.end, Duration::from_millis(1));
        // Refused writes pause: about five in 500 ms, not hundreds.
        assert!(h.unacknowledged.len() <= 6, "{}", h.unacknowledged.len());
    }
}
