//! A list-append history, kept compactly as transactions end.
//!
//! A transaction is a few micro-operations on small integer keys: `append(key, value)` (each
//! value appended once in the whole history) and `read(key)` (the key's whole list). What the
//! checker needs of a read is where it stops in the key's order, so each read of a committed
//! transaction is compared with the longest read of its key at once: a prefix of it (or an
//! extension, which becomes the longest) is kept as its length; one that is neither is an
//! incompatible order, found here. Internal consistency and duplicate values are judged here
//! too, while the read's values are at hand. What stays per transaction is a dozen bytes per
//! micro-operation and a header.

use super::{Findings, Kind};
use rustc_hash::FxHashMap;

pub type Key = u32;
pub type Value = u32;

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Committed: its reads are what the database returned.
    Ok,
    /// Certainly did not happen (rolled back before or at its commit).
    Fail,
    /// May or may not have happened (the answer to its commit never came): its appends count
    /// only if a read shows them; it is never counted as lost.
    Info,
}

/// One micro-operation as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mop {
    Append(Key, Value),
    /// The list read (`None`: not known, as in a transaction that did not commit).
    Read(Key, Option<Vec<Value>>),
}

/// A transaction as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub process: u32,
    pub node: String,
    pub outcome: Outcome,
    /// When it was sent and when it ended, on one clock shared by the whole history (the
    /// history's event index, or time): real-time order is `completed < invoked` of another.
    pub invoked: u64,
    pub completed: u64,
    pub mops: Vec<Mop>,
}

/// A micro-operation as kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MopRec {
    pub key: Key,
    /// The value appended, or the read's length.
    pub n: u32,
    pub what: What,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    Append,
    /// A read before the transaction wrote the key: its length in the key's order.
    ExternalRead,
    /// A read after the transaction appended to the key itself.
    InternalRead,
    /// A read whose list is not known or not usable (an uncommitted transaction's, or one
    /// that disagreed with the key's order and was reported).
    UnusableRead,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TxnRec {
    pub process: u32,
    pub node: u16,
    pub outcome: Outcome,
    pub invoked: u64,
    pub completed: u64,
    pub first_mop: u32,
    pub mops: u16,
}

/// The most micro-operations one transaction may have.
pub const MAX_MOPS: usize = 64;

/// A history being recorded, and what was already found while recording it.
#[derive(Debug, Default)]
pub struct Recorder {
    pub(crate) txns: Vec<TxnRec>,
    pub(crate) mops: Vec<MopRec>,
    pub(crate) nodes: Vec<String>,
    /// Each key's longest read so far (its version order as far as reads show it).
    pub(crate) orders: FxHashMap<Key, Vec<Value>>,
    /// Who appended each value: transaction index and key.
    pub(crate) writers: FxHashMap<Value, (u32, Key)>,
    pub(crate) findings: Findings,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many transactions were recorded.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// Counts by outcome: committed, failed, indeterminate.
    pub fn outcomes(&self) -> (usize, usize, usize) {
        let mut out = (0, 0, 0);
        for t in &self.txns {
            match t.outcome {
                Outcome::Ok => out.0 += 1,
                Outcome::Fail => out.1 += 1,
                Outcome::Info => out.2 += 1,
            }
        }
        out
    }

    /// Records a transaction that ended; returns its index (`T<index>` in explanations).
    pub fn add(&mut self, txn: &Txn) -> u32 {
        let id = u32::try_from(self.txns.len()).unwrap_or(u32::MAX);
        let node = match self.nodes.iter().position(|n| *n == txn.node) {
            Some(i) => i,
            None => {
                self.nodes.push(txn.node.clone());
                self.nodes.len() - 1
            }
        };
        let first_mop = u32::try_from(self.mops.len()).unwrap_or(u32::MAX);
        let mops = &txn.mops[..txn.mops.len().min(MAX_MOPS)];
        // Within the transaction: what each key must read as, from its own reads and appends.
        let mut own: Vec<(Key, Own)> = vec![];
        for mop in mops {
            match mop {
                Mop::Append(key, value) => {
                    if let Some((other, _)) = self.writers.insert(*value, (id, *key)) {
                        self.findings.add(Kind::DuplicateElements, || {
                            format!("value {value} was appended twice: by T{other} and by T{id}")
                        });
                    }
                    match own.iter_mut().find(|(k, _)| k == key) {
                        Some((_, state)) => state.append(*value),
                        None => own.push((*key, Own::Suffix(vec![*value]))),
                    }
                    self.mops.push(MopRec {
                        key: *key,
                        n: *value,
                        what: What::Append,
                    });
                }
                Mop::Read(key, values) => {
                    let what = match (txn.outcome, values) {
                        (Outcome::Ok, Some(values)) => {
                            let state = own.iter_mut().find(|(k, _)| k == key);
                            let external = state.is_none();
                            let usable = self.read(id, *key, values, state.map(|(_, s)| s));
                            if !usable {
                                What::UnusableRead
                            } else if external {
                                What::ExternalRead
                            } else {
                                What::InternalRead
                            }
                        }
                        _ => What::UnusableRead,
                    };
                    if let (What::ExternalRead, Some(values)) = (what, values) {
                        own.push((
                            *key,
                            Own::Known {
                                read: values.clone(),
                                since: 0,
                            },
                        ));
                    }
                    self.mops.push(MopRec {
                        key: *key,
                        n: values
                            .as_ref()
                            .map_or(0, |v| u32::try_from(v.len()).unwrap_or(u32::MAX)),
                        what,
                    });
                }
            }
        }
        self.txns.push(TxnRec {
            process: txn.process,
            node: u16::try_from(node).unwrap_or(u16::MAX),
            outcome: txn.outcome,
            invoked: txn.invoked,
            completed: txn.completed,
            first_mop,
            mops: u16::try_from(mops.len()).unwrap_or(u16::MAX),
        });
        id
    }

    /// Judges one read of a committed transaction: no duplicates, agrees with the
    /// transaction's own state of the key, a prefix or an extension of the key's longest
    /// read. Returns whether it can place the transaction in the key's order.
    fn read(&mut self, id: u32, key: Key, values: &[Value], own: Option<&mut Own>) -> bool {
        let mut usable = true;
        // The key's longest read never holds a value twice (a read that does is not kept), so
        // neither does a prefix of it: only a read that goes further is searched.
        let known = self.orders.get(&key).is_some_and(|l| l.starts_with(values));
        let mut seen = rustc_hash::FxHashSet::default();
        if !known && let Some(dup) = values.iter().find(|v| !seen.insert(**v)) {
            self.findings.add(Kind::DuplicateElements, || {
                format!(
                    "T{id} read key {key} as {} where {dup} appears more than once",
                    list(values)
                )
            });
            usable = false;
        }
        if let Some(state) = own {
            match state.judge(values) {
                Agrees::Exactly => {}
                Agrees::NotRepeatable => {
                    let expected = state.describe();
                    self.findings.add(Kind::NonRepeatableRead, || {
                        format!(
                            "T{id} read key {key} as {} after it {expected}",
                            list(values)
                        )
                    });
                }
                Agrees::No => {
                    let expected = state.describe();
                    self.findings.add(Kind::Internal, || {
                        format!(
                            "T{id} read key {key} as {} after it {expected}",
                            list(values)
                        )
                    });
                    usable = false;
                }
            }
            *state = Own::Known {
                read: values.to_vec(),
                since: 0,
            };
        }
        if !usable {
            return false;
        }
        let longest = self.orders.entry(key).or_default();
        let common = longest
            .iter()
            .zip(values)
            .take_while(|(a, b)| a == b)
            .count();
        if common == values.len() {
            true
        } else if common == longest.len() {
            longest.clear();
            longest.extend_from_slice(values);
            true
        } else {
            let longest = list(longest);
            self.findings.add(Kind::IncompatibleOrder, || {
                format!(
                    "T{id} read key {key} as {}, but another read of it was {longest}: they part after {common} value(s)",
                    list(values)
                )
            });
            false
        }
    }

    /// How the checker names transaction `t`: `T12 (ok, process 3 on galera-ss-0)`.
    pub(crate) fn name(&self, t: u32) -> String {
        match self.txns.get(t as usize) {
            Some(r) => format!(
                "T{t} ({}, process {} on {})",
                match r.outcome {
                    Outcome::Ok => "ok",
                    Outcome::Fail => "failed",
                    Outcome::Info => "indeterminate",
                },
                r.process,
                self.nodes
                    .get(r.node as usize)
                    .map(String::as_str)
                    .unwrap_or("?")
            ),
            None => format!("T{t}"),
        }
    }

    pub(crate) fn mops_of(&self, t: u32) -> &[MopRec] {
        let r = &self.txns[t as usize];
        let from = r.first_mop as usize;
        &self.mops[from..from + r.mops as usize]
    }
}

/// What a transaction knows of a key it touched.
enum Own {
    /// It read the whole list, and appended the last `since` of these after.
    Known { read: Vec<Value>, since: usize },
    /// It appended these without reading first: a read must end with them.
    Suffix(Vec<Value>),
}

/// How a read agrees with what its transaction knew of the key.
enum Agrees {
    /// As one snapshot would have it.
    Exactly,
    /// It keeps what was read and ends with the transaction's own appends since, but others'
    /// appends came in between: allowed where reads need not repeat (read committed).
    NotRepeatable,
    /// It lost what was read or misses the transaction's own appends.
    No,
}

impl Own {
    fn append(&mut self, v: Value) {
        match self {
            Own::Known { read, since } => {
                read.push(v);
                *since += 1;
            }
            Own::Suffix(l) => l.push(v),
        }
    }

    fn judge(&self, values: &[Value]) -> Agrees {
        match self {
            Own::Known { read, .. } if read.as_slice() == values => Agrees::Exactly,
            Own::Known { read, since } => {
                let (before, own) = read.split_at(read.len() - since);
                if values.starts_with(before) && values.ends_with(own) && values.len() >= read.len()
                {
                    Agrees::NotRepeatable
                } else {
                    Agrees::No
                }
            }
            Own::Suffix(appended) if values.ends_with(appended) => Agrees::Exactly,
            Own::Suffix(_) => Agrees::No,
        }
    }

    fn describe(&self) -> String {
        match self {
            Own::Known { read, since: 0 } => format!("had read it as {}", list(read)),
            Own::Known { read, since } => format!(
                "had read it as {} and appended {}",
                list(&read[..read.len() - since]),
                list(&read[read.len() - since..])
            ),
            Own::Suffix(l) => format!("had appended {} to it", list(l)),
        }
    }
}

/// A list as a report shows it, at most 8 values: `[1 2 3]`, `[1 2 … 17 18] (40 values)`.
pub fn list(values: &[Value]) -> String {
    let show = |vs: &[Value]| {
        vs.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if values.len() <= 8 {
        format!("[{}]", show(values))
    } else {
        format!(
            "[{} … {}] ({} values)",
            show(&values[..3]),
            show(&values[values.len() - 3..]),
            values.len()
        )
    }
}
