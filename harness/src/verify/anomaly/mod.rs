//! Isolation anomalies in transaction histories, found in the manner of Elle (Kingsbury and
//! Alvaro, "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020):
//! the pure part of the isolation workloads.
//!
//! - `history.rs`: a list-append transaction as it ran ([`Txn`]: micro-operations
//!   `append(key, value)` and `read(key)`, its outcome `ok`, `fail` or `info`), and the
//!   [`Recorder`] that keeps a history compactly as transactions end (a read is kept as its
//!   length once it is known to be a prefix of the key's longest read, so memory grows with
//!   the number of operations, not with the lengths of the lists read);
//! - `list_append.rs`: the checker: each key's version order from the reads, the write-write,
//!   write-read and read-write dependencies between transactions (and real-time order where
//!   the promised model needs it), cycles classified as G0, G1c, G-single and G2-item, and the
//!   anomalies seen without a cycle (G1a, G1b, dirty update, lost update, internal, duplicate,
//!   incompatible order, garbage read);
//! - `graph.rs`: the dependency graph, its strongly connected components and a shortest cycle
//!   of a given shape inside one;
//! - `counter.rs`: the counter workload's judgement (lost increments and lost updates of a
//!   read-modify-write); `stale.rs`: the stale-read workload's (a read started after another
//!   node acknowledged a write, returning an older value);
//! - `simulate.rs`: valid histories of a simulated strictly serializable store (tests, benchmark);
//! - `edn.rs`: a transaction as a line of Elle's list-append EDN history;
//! - this file: the anomalies' names and meanings, the consistency models and which anomalies
//!   each prohibits ([`Expect`]: a scenario's promise, with what it tolerates).

pub mod counter;
pub mod edn;
pub mod graph;
pub mod history;
pub mod list_append;
pub mod simulate;
pub mod stale;
#[cfg(test)]
mod tests;

pub use history::{Mop, Outcome, Recorder, Txn};

use serde::Serialize;
use std::collections::BTreeSet;

/// Every kind of anomaly the isolation workloads can find. The text form is Elle's name where
/// Elle has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// A cycle of write-write dependencies.
    G0,
    /// A committed transaction read a value an aborted transaction appended.
    G1a,
    /// A committed transaction read a state another transaction later overwrote within itself.
    G1b,
    /// A cycle of write-write and write-read dependencies, at least one write-read.
    G1c,
    /// A cycle with exactly one read-write anti-dependency (read skew).
    GSingle,
    /// A cycle with two or more read-write anti-dependencies (write skew).
    G2Item,
    /// A cycle that needs real-time order: a transaction saw the state from before one that
    /// had completed before it began (G0, G1c, G-single or G2-item once real time counts).
    Realtime,
    /// Two committed transactions read the same version of a key and both wrote it (P4).
    LostUpdate,
    /// A committed append lies after an aborted one in a key's order.
    DirtyUpdate,
    /// A transaction's read misses its own appends or what it read before.
    Internal,
    /// A transaction read a key again (after appending to it) and saw other transactions'
    /// appends it had not seen the first time: its reads are not of one snapshot.
    NonRepeatableRead,
    /// A read holds the same value twice.
    DuplicateElements,
    /// Two reads of a key, neither a prefix of the other: no single order of appends.
    IncompatibleOrder,
    /// A read holds a value no transaction appended to that key.
    GarbageRead,
    /// A read, started after a write to it was acknowledged, returned an older value.
    StaleRead,
    /// A counter ended below its acknowledged increments.
    LostIncrement,
    /// A counter ended above every increment that could have happened.
    PhantomIncrement,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::G0,
        Kind::G1a,
        Kind::G1b,
        Kind::G1c,
        Kind::GSingle,
        Kind::G2Item,
        Kind::Realtime,
        Kind::LostUpdate,
        Kind::DirtyUpdate,
        Kind::Internal,
        Kind::NonRepeatableRead,
        Kind::DuplicateElements,
        Kind::IncompatibleOrder,
        Kind::GarbageRead,
        Kind::StaleRead,
        Kind::LostIncrement,
        Kind::PhantomIncrement,
    ];

    /// The name a scenario writes (`allow: [g-single]`) and reports show.
    pub fn name(self) -> &'static str {
        match self {
            Kind::G0 => "G0",
            Kind::G1a => "G1a",
            Kind::G1b => "G1b",
            Kind::G1c => "G1c",
            Kind::GSingle => "G-single",
            Kind::G2Item => "G2-item",
            Kind::Realtime => "realtime-cycle",
            Kind::LostUpdate => "lost-update",
            Kind::DirtyUpdate => "dirty-update",
            Kind::Internal => "internal",
            Kind::NonRepeatableRead => "non-repeatable-read",
            Kind::DuplicateElements => "duplicate-elements",
            Kind::IncompatibleOrder => "incompatible-order",
            Kind::GarbageRead => "garbage-read",
            Kind::StaleRead => "stale-read",
            Kind::LostIncrement => "lost-increment",
            Kind::PhantomIncrement => "phantom-increment",
        }
    }

    /// One sentence for a person reading the report.
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::G0 => {
                "write cycle: transactions overwrote each other's appends in orders that no serial order explains (dirty write)"
            }
            Kind::G1a => {
                "aborted read: a committed transaction saw a value from a transaction that was rolled back"
            }
            Kind::G1b => {
                "intermediate read: a committed transaction saw a state another transaction was still changing"
            }
            Kind::G1c => {
                "circular information flow: each transaction of a cycle saw or overwrote the next one's writes"
            }
            Kind::GSingle => {
                "read skew: a transaction saw part of another's effects and missed the rest (a cycle with one anti-dependency)"
            }
            Kind::G2Item => {
                "write skew: transactions each missed the other's writes and both committed (a cycle with two or more anti-dependencies)"
            }
            Kind::Realtime => {
                "a cycle once real time counts: a transaction missed the effects of one that had completed before it began"
            }
            Kind::LostUpdate => {
                "lost update (P4): two committed transactions read the same state of a key and both wrote it, one overwriting the other unseen"
            }
            Kind::DirtyUpdate => {
                "dirty update: a committed append was ordered after an append that was rolled back"
            }
            Kind::Internal => {
                "a transaction's read misses its own appends or what it had read earlier"
            }
            Kind::NonRepeatableRead => {
                "a transaction read a key again and saw others' appends it had not seen before: its reads are not of one snapshot"
            }
            Kind::DuplicateElements => "a value appended once appears twice in a read",
            Kind::IncompatibleOrder => {
                "two reads of a key disagree on the order of its appends: neither is a prefix of the other"
            }
            Kind::GarbageRead => "a read returned a value no transaction appended to that key",
            Kind::StaleRead => {
                "a read started after a write was acknowledged and returned an older value"
            }
            Kind::LostIncrement => {
                "a counter ended below the increments that were acknowledged: acknowledged increments were lost"
            }
            Kind::PhantomIncrement => {
                "a counter ended above every increment that could have happened"
            }
        }
    }

    /// The kind a scenario names, if it names one.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// Anomalies no model allows: the history itself makes no sense (a broken client, store
    /// or proxy), whatever the isolation.
    pub fn is_nonsense(self) -> bool {
        matches!(
            self,
            Kind::Internal
                | Kind::DuplicateElements
                | Kind::IncompatibleOrder
                | Kind::GarbageRead
                | Kind::PhantomIncrement
        )
    }
}

/// The README's tables of anomalies and of models (what each prohibits), made from the code.
pub fn markdown_tables() -> String {
    let mut out = String::from("| anomaly | what it means |\n|---|---|\n");
    for k in Kind::ALL {
        let always = if k.is_nonsense() {
            " (no model allows it)"
        } else {
            ""
        };
        out.push_str(&format!("| `{}` | {}{always} |\n", k.name(), k.meaning()));
    }
    out.push_str("\n| `consistency` | fails on (besides those no model allows) |\n|---|---|\n");
    for m in Model::ALL {
        let names: Vec<String> = m
            .prohibits()
            .into_iter()
            .map(|k| format!("`{}`", k.name()))
            .collect();
        out.push_str(&format!("| `{}` | {} |\n", m.name(), names.join(", ")));
    }
    out
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a system promises its transactions, from weakest to strongest (Adya's and Elle's
/// names; the strong forms add real-time order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    ReadUncommitted,
    ReadCommitted,
    SnapshotIsolation,
    RepeatableRead,
    Serializable,
    StrongSnapshotIsolation,
    StrictSerializable,
}

impl Model {
    pub const ALL: [Model; 7] = [
        Model::ReadUncommitted,
        Model::ReadCommitted,
        Model::SnapshotIsolation,
        Model::RepeatableRead,
        Model::Serializable,
        Model::StrongSnapshotIsolation,
        Model::StrictSerializable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::ReadUncommitted => "read-uncommitted",
            Model::ReadCommitted => "read-committed",
            Model::SnapshotIsolation => "snapshot-isolation",
            Model::RepeatableRead => "repeatable-read",
            Model::Serializable => "serializable",
            Model::StrongSnapshotIsolation => "strong-snapshot-isolation",
            Model::StrictSerializable => "strict-serializable",
        }
    }

    pub fn parse(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The anomalies the model rules out (beyond those no model allows).
    pub fn prohibits(self) -> BTreeSet<Kind> {
        use Kind::*;
        let read_committed = [G0, G1a, G1b, G1c, DirtyUpdate];
        let mut out: BTreeSet<Kind> = match self {
            Model::ReadUncommitted => [G0].into(),
            Model::ReadCommitted => read_committed.into(),
            // Snapshot isolation rules out read skew and lost updates; write skew is its
            // known allowance (Adya's PL-SI admits G2-item).
            Model::SnapshotIsolation | Model::StrongSnapshotIsolation => read_committed
                .into_iter()
                .chain([GSingle, LostUpdate, LostIncrement, NonRepeatableRead])
                .collect(),
            Model::RepeatableRead | Model::Serializable | Model::StrictSerializable => {
                read_committed
                    .into_iter()
                    .chain([
                        GSingle,
                        G2Item,
                        LostUpdate,
                        LostIncrement,
                        NonRepeatableRead,
                    ])
                    .collect()
            }
        };
        if matches!(
            self,
            Model::StrongSnapshotIsolation | Model::StrictSerializable
        ) {
            out.extend([Realtime, StaleRead]);
        }
        out
    }

    /// Whether checking it needs real-time order between transactions.
    pub fn is_realtime(self) -> bool {
        matches!(
            self,
            Model::StrongSnapshotIsolation | Model::StrictSerializable
        )
    }
}

/// A scenario's promise: the model and the anomalies it tolerates anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expect {
    pub consistency: Model,
    pub allow: BTreeSet<Kind>,
}

impl Expect {
    /// Whether an anomaly of `kind` breaks the promise.
    pub fn fails_on(&self, kind: Kind) -> bool {
        !self.allow.contains(&kind)
            && (kind.is_nonsense() || self.consistency.prohibits().contains(&kind))
    }
}

/// One anomaly found, with the transactions that make it, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    pub kind: Kind,
    /// What happened, naming the transactions (by index, node and process) and keys.
    pub explanation: String,
}

/// What a checker found: at most [`EXAMPLES`] explained anomalies of each kind, and how many
/// of each kind there were.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Findings {
    pub examples: Vec<Anomaly>,
    pub counts: std::collections::BTreeMap<Kind, u64>,
}

/// How many anomalies of one kind are explained in full (the rest are counted).
pub const EXAMPLES: usize = 8;

impl Findings {
    pub fn add(&mut self, kind: Kind, explain: impl FnOnce() -> String) {
        let n = self.counts.entry(kind).or_insert(0);
        *n = n.saturating_add(1);
        if *n <= EXAMPLES as u64 {
            self.examples.push(Anomaly {
                kind,
                explanation: explain(),
            });
        }
    }

    pub fn count(&self, kind: Kind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, other: Findings) {
        for (kind, n) in other.counts {
            let c = self.counts.entry(kind).or_insert(0);
            *c = c.saturating_add(n);
        }
        for a in other.examples {
            if self.examples.iter().filter(|e| e.kind == a.kind).count() < EXAMPLES {
                self.examples.push(a);
            }
        }
    }

    /// The kinds found that break `expect`, in order.
    pub fn breaking(&self, expect: &Expect) -> Vec<Kind> {
        self.counts
            .iter()
            .filter(|(k, n)| **n > 0 && expect.fails_on(**k))
            .map(|(k, _)| *k)
            .collect()
    }

    /// A line per kind found (count, whether the promise allows it, its meaning), then each
    /// example.
    pub fn lines(&self, expect: &Expect) -> Vec<String> {
        let mut out = vec![];
        for (kind, n) in &self.counts {
            let verdict = if expect.fails_on(*kind) {
                format!("not allowed by {}", expect.consistency.name())
            } else if expect.allow.contains(kind) {
                "allowed by the scenario".to_string()
            } else {
                format!("allowed by {}", expect.consistency.name())
            };
            out.push(format!("{kind}: {n} ({verdict}): {}", kind.meaning()));
            for a in self.examples.iter().filter(|a| a.kind == *kind) {
                out.push(format!("  {}", a.explanation));
            }
        }
        out
    }
}
