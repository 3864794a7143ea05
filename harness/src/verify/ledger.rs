//! The ledger every write workload keeps: what each writer was told (acknowledged inserts,
//! acknowledged deletes, refusals, by node), its figures as operations end, and its history,
//! streamed to a spooled file as it is made; the writer loop the systems' writers share
//! ([`drive`]: a system only says where write `seq` goes and how to insert and delete one row,
//! key or document); and the judgement of what each node holds against the ledger ([`judge`]).
//!
//! One place on purpose: a rule about what a PASS needs (every node acknowledged writes, every
//! copy identical) is written once and holds for every system.
//!
//! Bounded for hours of writing: a write's fate is one byte, by writer and sequence number;
//! figures are running tallies; the history goes to disk, with only its last lines in memory.

use super::figures::{Tallies, WorkloadFigures};
use super::history_edn::OpKind;
use crate::cluster::{Evidence, EvidenceKind};
use crate::spool::SpoolWriter;
use crate::verify::Verdict;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What became of one write, as the ledger keeps it (one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Fate {
    Unknown = 0,
    Refused = 1,
    Kept = 2,
    Deleted = 3,
    DeleteFailed = 4,
}

impl Fate {
    fn from_byte(b: u8) -> Fate {
        match b {
            1 => Fate::Refused,
            2 => Fate::Kept,
            3 => Fate::Deleted,
            4 => Fate::DeleteFailed,
            _ => Fate::Unknown,
        }
    }
}

/// How far ahead of a writer's last write a sequence number may be and still be kept by
/// position (beyond it, by id).
const MAX_SEQ_GAP: u64 = 1 << 16;

/// What the writers were told.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// The fate of each write `<prefix>-<seq>`, by prefix (the writer), at `seq - 1`.
    by_writer: BTreeMap<String, Vec<u8>>,
    /// Writes whose id has no such form, by id.
    other: BTreeMap<String, u8>,
    counts: [usize; 5],
    /// Inserts that failed: never acknowledged, so they may or may not exist; with why (each
    /// distinct reason held once). Few: a writer pauses after each refusal.
    pub unacknowledged: Vec<(String, Arc<str>)>,
    reasons: BTreeSet<Arc<str>>,
    /// Acknowledged inserts per node (or server, or writer).
    pub acks_per_node: BTreeMap<String, usize>,
    /// Refused inserts per node.
    pub refusals_per_node: BTreeMap<String, usize>,
}

/// The writes of one fate in a [`History`]: counted, listed, asked about.
#[derive(Clone, Copy)]
pub struct Writes<'a> {
    history: &'a History,
    fate: Fate,
}

impl<'a> Writes<'a> {
    pub fn len(&self) -> usize {
        self.history.counts[self.fate as usize]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn contains(&self, id: &str) -> bool {
        self.history.fate(id) == self.fate
    }
    /// Their ids, made as they are listed (writer by writer, in order).
    pub fn iter(self) -> impl Iterator<Item = String> + 'a {
        let fate = self.fate as u8;
        self.history
            .by_writer
            .iter()
            .flat_map(move |(prefix, fates)| {
                fates
                    .iter()
                    .enumerate()
                    .filter(move |(_, f)| **f == fate)
                    .map(move |(i, _)| format!("{prefix}-{}", i + 1))
            })
            .chain(
                self.history
                    .other
                    .iter()
                    .filter(move |(_, f)| **f == fate)
                    .map(|(id, _)| id.clone()),
            )
    }
}

impl std::fmt::Debug for Writes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().take(20)).finish()
    }
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

/// `<prefix>-<seq>` split, when the id has that form.
fn by_position(id: &str) -> Option<(&str, u64)> {
    let (prefix, text) = id.rsplit_once('-')?;
    let seq: u64 = text.parse().ok()?;
    // Only the canonical form (`w-7`, not `w-07` or `w-+7`): one id, one position.
    (seq > 0 && seq.to_string() == text).then_some((prefix, seq))
}

impl History {
    /// Records what became of write `id` through `node` (the node or writer it went through).
    pub fn record(&mut self, node: &str, id: String, write: Write) {
        let fate = match &write {
            Write::Refused(_) => Fate::Refused,
            Write::Kept => Fate::Kept,
            Write::Deleted => Fate::Deleted,
            Write::DeleteFailed => Fate::DeleteFailed,
        };
        if let Write::Refused(why) = write {
            *self.refusals_per_node.entry(node.to_string()).or_default() += 1;
            let why: Arc<str> = match self.reasons.get(why.as_str()) {
                Some(known) => known.clone(),
                None => {
                    let new: Arc<str> = why.into();
                    self.reasons.insert(new.clone());
                    new
                }
            };
            self.unacknowledged.push((id.clone(), why));
        } else {
            *self.acks_per_node.entry(node.to_string()).or_default() += 1;
        }
        let before = self.set_fate(id, fate);
        if before != Fate::Unknown {
            self.counts[before as usize] -= 1;
        }
        self.counts[fate as usize] += 1;
    }

    /// Sets a write's fate; what it was before.
    fn set_fate(&mut self, id: String, fate: Fate) -> Fate {
        if let Some((prefix, seq)) = by_position(&id) {
            let index = (seq - 1) as usize;
            let fates = match self.by_writer.get_mut(prefix) {
                Some(f) => f,
                None => self.by_writer.entry(prefix.to_string()).or_default(),
            };
            if seq <= fates.len() as u64 + MAX_SEQ_GAP {
                if fates.len() <= index {
                    fates.resize(index + 1, Fate::Unknown as u8);
                }
                let before = Fate::from_byte(fates[index]);
                fates[index] = fate as u8;
                return before;
            }
        }
        self.other
            .insert(id, fate as u8)
            .map_or(Fate::Unknown, Fate::from_byte)
    }

    fn fate(&self, id: &str) -> Fate {
        if let Some((prefix, seq)) = by_position(id)
            && let Some(b) = self
                .by_writer
                .get(prefix)
                .and_then(|f| f.get((seq - 1) as usize))
        {
            return Fate::from_byte(*b);
        }
        self.other
            .get(id)
            .copied()
            .map_or(Fate::Unknown, Fate::from_byte)
    }

    fn writes(&self, fate: Fate) -> Writes<'_> {
        Writes {
            history: self,
            fate,
        }
    }

    /// Acknowledged inserts that were not deleted afterwards.
    pub fn present(&self) -> Writes<'_> {
        self.writes(Fate::Kept)
    }
    /// Acknowledged inserts whose delete was acknowledged too.
    pub fn deleted(&self) -> Writes<'_> {
        self.writes(Fate::Deleted)
    }
    /// Acknowledged inserts whose delete failed: either state is correct.
    pub fn uncertain(&self) -> Writes<'_> {
        self.writes(Fate::DeleteFailed)
    }

    /// Acknowledged inserts, deleted later or not.
    pub fn acknowledged(&self) -> usize {
        self.present().len() + self.deleted().len() + self.uncertain().len()
    }

    /// Every id a writer tried, acknowledged or not.
    pub fn ids(&self) -> impl Iterator<Item = String> + '_ {
        self.present()
            .iter()
            .chain(self.deleted().iter())
            .chain(self.uncertain().iter())
            .chain(self.unacknowledged.iter().map(|(id, _)| id.clone()))
    }

    /// What the writers were told, in a few lines: counts, and each distinct refusal with how
    /// often it came and an example (the complete history is the EDN file).
    pub fn summary_lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{} acknowledged insert(s) ({} deleted again with acknowledgement, {} with a failed delete), {} not acknowledged",
            self.acknowledged(),
            self.deleted().len(),
            self.uncertain().len(),
            self.unacknowledged.len()
        )];
        let mut by_reason: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for (id, why) in &self.unacknowledged {
            by_reason.entry(why).or_insert((0, id)).0 += 1;
        }
        let mut reasons: Vec<_> = by_reason.into_iter().collect();
        reasons.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
        for (why, (n, id)) in reasons.iter().take(10) {
            out.push(format!("  not acknowledged {n}x (e.g. {id}): {why}"));
        }
        if reasons.len() > 10 {
            out.push(format!(
                "  and {} other reason(s) (see the history)",
                reasons.len() - 10
            ));
        }
        out
    }
}

/// How many lines of the history stay in memory (and stand for it in inline reports).
pub const HISTORY_EXCERPT_LINES: usize = 200;

/// A workload's ledger, shared by its writers and read while they write.
pub struct Ledger {
    origin: Instant,
    inner: Mutex<Inner>,
    next_process: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ledger({} operations)", self.operations())
    }
}

struct Inner {
    history: History,
    tallies: Tallies,
    /// The history as EDN, on disk.
    edn: Edn,
    next_index: u64,
    operations: usize,
}

/// The EDN history: written to as operations happen, closed once the workload's writers
/// stopped and its evidence is taken (every later taker shares the one file), or lost.
enum Edn {
    Writing(SpoolWriter),
    Written(crate::spool::Spool, Vec<String>),
    Lost(String),
}

impl Edn {
    fn line(&mut self, text: impl FnOnce() -> String) {
        if let Edn::Writing(w) = self {
            w.line(&text());
        }
    }
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

/// An operation in flight: what [`Ledger::invoke`] recorded, for its completion.
struct Invoked<'a> {
    node: &'a str,
    id: &'a str,
    kind: OpKind,
    process: u64,
    start: Duration,
}

impl Ledger {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            inner: Mutex::new(Inner {
                history: History::default(),
                tallies: Tallies::default(),
                edn: match SpoolWriter::new(HISTORY_EXCERPT_LINES) {
                    Ok(w) => Edn::Writing(w),
                    Err(e) => Edn::Lost(format!("the history could not be kept: {e}")),
                },
                next_index: 0,
                operations: 0,
            }),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records what became of a write (the lock is held only for the update).
    pub fn record(&self, node: &str, id: String, write: Write) {
        self.lock().history.record(node, id, write);
    }

    /// How many operations ended so far.
    pub fn operations(&self) -> usize {
        self.lock().operations
    }

    /// A copy of what the writers were told so far (one byte a write).
    pub fn snapshot(&self) -> History {
        self.lock().history.clone()
    }

    /// Counts of what the writers were told so far: acknowledged inserts, of them deleted,
    /// not acknowledged.
    pub fn counts(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        let h = &inner.history;
        (h.acknowledged(), h.deleted().len(), h.unacknowledged.len())
    }

    /// A process id no writer had before.
    pub fn new_process(&self) -> u64 {
        self.next_process
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// How long the workload has run so far.
    pub fn elapsed(&self) -> Duration {
        self.since(Instant::now())
    }

    /// The figures so far, for a workload that ran `ran_for`, with `nodes` listed even if
    /// they saw no operation.
    pub fn figures(&self, ran_for: Duration, nodes: &[String]) -> WorkloadFigures {
        self.lock().tallies.figures(ran_for, nodes)
    }

    /// The history as evidence: the complete EDN file, and its last lines inline. Closes the
    /// file: call it once the writers stopped (an operation after that is not in it).
    pub fn history_evidence(&self, title: &str) -> Evidence {
        let mut inner = self.lock();
        let operations = inner.operations;
        inner.edn = match std::mem::replace(&mut inner.edn, Edn::Lost(String::new())) {
            Edn::Writing(w) => match w.finish() {
                Ok((spool, tail)) => Edn::Written(spool, tail),
                Err(e) => Edn::Lost(format!("the history could not be kept: {e}")),
            },
            done => done,
        };
        match &inner.edn {
            Edn::Written(spool, tail) => {
                let mut excerpt = format!(
                    ";; {} lines, {} operations; the last {} here, every one in the evidence file\n",
                    spool.lines,
                    operations,
                    tail.len()
                );
                for line in tail {
                    excerpt.push_str(line);
                    excerpt.push('\n');
                }
                Evidence::spooled(EvidenceKind::Other, title, excerpt, spool.clone())
            }
            Edn::Lost(why) => Evidence::new(EvidenceKind::Other, title, why.clone()),
            Edn::Writing(_) => Evidence::new(EvidenceKind::Other, title, "the history is open"),
        }
    }

    /// An operation of another shape (a transaction) is sent: `line(index, time)` makes its
    /// invocation's line, written now, in real-time order. Returns its index and time.
    pub fn begin(&self, line: impl FnOnce(u64, Duration) -> String) -> (u64, Duration) {
        let mut inner = self.lock();
        let start = self.since(Instant::now());
        let index = inner.next_index;
        inner.next_index += 1;
        inner.edn.line(|| line(index, start));
        (index, start)
    }

    /// Its answer came (acknowledged or not) on `node`, which began at `start`: the
    /// completion's line, and the figures. Returns the completion's index.
    pub fn end(
        &self,
        node: &str,
        start: Duration,
        acknowledged: bool,
        line: impl FnOnce(u64, Duration) -> String,
    ) -> u64 {
        let mut inner = self.lock();
        let end = self.since(Instant::now());
        let index = inner.next_index;
        inner.next_index += 1;
        inner.operations += 1;
        inner.edn.line(|| line(index, end));
        inner.tallies.add(node, start, end, acknowledged);
        index
    }

    /// An operation is sent: its invocation goes into the history now, in real-time order.
    fn invoke<'a>(&self, node: &'a str, id: &'a str, kind: OpKind, process: u64) -> Invoked<'a> {
        let mut inner = self.lock();
        let start = self.since(Instant::now());
        let index = inner.next_index;
        inner.next_index += 1;
        inner
            .edn
            .line(|| super::history_edn::line(index, start, None, process, kind, id, node));
        Invoked {
            node,
            id,
            kind,
            process,
            start,
        }
    }

    /// Its answer came (`error`: refused or unanswered): the completion, and the figures.
    fn complete(&self, op: Invoked<'_>, error: Option<&str>) {
        let mut inner = self.lock();
        let end = self.since(Instant::now());
        let index = inner.next_index;
        inner.next_index += 1;
        inner.operations += 1;
        inner.edn.line(|| {
            super::history_edn::line(index, end, Some(error), op.process, op.kind, op.id, op.node)
        });
        inner.tallies.add(op.node, op.start, end, error.is_none());
    }
}

/// Where one write goes and under which id, decided before it is sent.
pub struct Target {
    pub node: String,
    pub id: String,
}

/// How one system writes: where write `seq` goes, insert it (connecting as needed), and delete
/// a write again. The loop around it ([`drive`]) is the same for every system.
#[async_trait::async_trait]
pub trait Writer: Send {
    fn target(&self, seq: u64) -> Target;
    async fn insert(&mut self, target: &Target) -> Result<(), String>;
    async fn delete(&mut self, node: &str, id: &str) -> Result<(), String>;
    /// Closes what the writer holds open.
    async fn close(self)
    where
        Self: Sized,
    {
    }
}

/// Runs one writer until `stop`: every `delete_every`th acknowledged insert is deleted again;
/// each operation goes into `ledger` as it is sent and as it ends; after a refusal the writer
/// pauses `pause` (bounding the retry rate against a dead node).
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
        let target = writer.target(seq);
        let invoked = ledger.invoke(&target.node, &target.id, OpKind::Insert, process);
        let result = writer.insert(&target).await;
        ledger.complete(invoked, result.as_ref().err().map(String::as_str));
        if result.is_err() {
            process = ledger.new_process();
        }
        let write = match result {
            Err(e) => Write::Refused(e),
            Ok(()) if delete_every > 0 && seq.is_multiple_of(delete_every) => {
                let invoked = ledger.invoke(&target.node, &target.id, OpKind::Delete, process);
                let deleted = writer.delete(&target.node, &target.id).await;
                ledger.complete(invoked, deleted.as_ref().err().map(String::as_str));
                if deleted.is_err() {
                    process = ledger.new_process();
                    Write::DeleteFailed
                } else {
                    Write::Deleted
                }
            }
            Ok(()) => Write::Kept,
        };
        let refused = matches!(write, Write::Refused(_));
        ledger.record(&target.node, target.id, write);
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
            h.deleted().len(),
            h.uncertain().len()
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
    let unacked: BTreeSet<&str> = h.unacknowledged.iter().map(|(id, _)| id.as_str()).collect();
    for (node, read) in nodes.iter().zip(reads) {
        match read {
            Err(e) => problems.push(format!("{node}: could not read back: {e}")),
            Ok(got) => {
                let missing: Vec<String> = h
                    .present()
                    .iter()
                    .filter(|id| !got.contains_key(id))
                    .collect();
                let resurrected: Vec<String> = h
                    .deleted()
                    .iter()
                    .filter(|id| got.contains_key(id))
                    .collect();
                let committed_unacked = got
                    .keys()
                    .filter(|id| unacked.contains(id.as_str()))
                    .count();
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

fn sample(ids: &[String]) -> String {
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
        fn target(&self, seq: u64) -> Target {
            Target {
                node: "n".into(),
                id: format!("w-{seq}"),
            }
        }
        async fn insert(&mut self, target: &Target) -> Result<(), String> {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let seq: u64 = target.id[2..].parse().unwrap();
            if seq >= self.refuse_from {
                Err("down".into())
            } else {
                Ok(())
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
        assert_eq!(h.present().len(), 4, "{h:?}"); // 1 2 4 5
        assert_eq!(h.deleted().len(), 2, "{h:?}"); // 3 6
        assert!(h.present().contains("w-5") && h.deleted().contains("w-6"));
        assert!(!h.present().contains("w-6") && !h.present().contains("w-05"));
        assert!(!h.unacknowledged.is_empty());
        // Refused writes pause: about five in 500 ms, not hundreds.
        assert!(h.unacknowledged.len() <= 6, "{}", h.unacknowledged.len());
        // Every insert and the two deletes, each sent and answered, in real-time order.
        let edn = ledger.history_evidence("h");
        let text = std::fs::read_to_string(edn.spooled.as_ref().unwrap().path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), ledger.operations() * 2);
        assert_eq!(lines.iter().filter(|l| l.contains(":f :delete")).count(), 4);
        assert!(
            lines[0].starts_with(
                "{:index 0, :time 0, :type :invoke, :process 0, :f :add, :value \"w-1\""
            ) && lines[1].starts_with("{:index 1, :time 1000000, :type :ok"),
            "{}",
            &text[..200]
        );
        let f = ledger.figures(Duration::from_millis(500), &["n".into()]);
        assert_eq!(f.overall.acknowledged, 6 + 2);
        assert_eq!(f.overall.p50, Some(Duration::from_millis(1)));
        assert!(edn.body.contains("operations; the last"), "{}", edn.body);
    }
}
