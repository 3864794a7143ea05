//! The counter workload's judgement: each transaction read a counter and wrote back one more.
//! A counter that ends below its acknowledged increments lost some (on that node); two
//! acknowledged increments that read the same value wrote the same value, one overwriting the
//! other unseen (a lost update); a counter above every increment that could have happened
//! (acknowledged and indeterminate) counts writes nobody made.

use super::{Findings, Kind, Outcome};
use std::collections::BTreeMap;

/// What the increments were told, by counter.
#[derive(Debug, Default)]
pub struct Counters {
    keys: BTreeMap<u32, Tally>,
    /// Acknowledged increments: counter, value read, node index, process.
    reads: Vec<(u32, u64, u16, u32)>,
    nodes: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    acknowledged: u64,
    indeterminate: u64,
}

impl Counters {
    /// Counters `0..keys` start at zero.
    pub fn new(keys: u32) -> Self {
        Self {
            keys: (0..keys).map(|k| (k, Tally::default())).collect(),
            ..Self::default()
        }
    }

    /// An increment of `key` that read `read` ended with `outcome`.
    pub fn increment(&mut self, key: u32, read: u64, outcome: Outcome, node: &str, process: u32) {
        let tally = self.keys.entry(key).or_default();
        match outcome {
            Outcome::Ok => tally.acknowledged += 1,
            Outcome::Info => tally.indeterminate += 1,
            Outcome::Fail => return,
        }
        if outcome == Outcome::Ok {
            let n = match self.nodes.iter().position(|n| n == node) {
                Some(i) => i,
                None => {
                    self.nodes.push(node.to_string());
                    self.nodes.len() - 1
                }
            };
            self.reads
                .push((key, read, u16::try_from(n).unwrap_or(u16::MAX), process));
        }
    }

    /// Acknowledged and indeterminate increments in all.
    pub fn totals(&self) -> (u64, u64) {
        self.keys.values().fold((0, 0), |(a, i), t| {
            (a + t.acknowledged, i + t.indeterminate)
        })
    }

    /// Judges the counters' final values as each node holds them (`None`: a counter's row is
    /// missing there).
    pub fn judge(&mut self, finals: &[(String, BTreeMap<u32, i64>)]) -> Findings {
        let mut found = Findings::default();
        for (node, values) in finals {
            for (&key, tally) in &self.keys {
                let value = values.get(&key).copied().unwrap_or(0);
                let got = u64::try_from(value).unwrap_or(0);
                if value < 0 || got < tally.acknowledged {
                    let lost = tally.acknowledged.saturating_sub(got);
                    found.add(Kind::LostIncrement, || {
                        format!(
                            "{node}: counter {key} is {value} after {} acknowledged increment(s): at least {lost} lost",
                            tally.acknowledged
                        )
                    });
                } else if got > tally.acknowledged + tally.indeterminate {
                    found.add(Kind::PhantomIncrement, || {
                        format!(
                            "{node}: counter {key} is {value}, above its {} acknowledged and {} indeterminate increment(s)",
                            tally.acknowledged, tally.indeterminate
                        )
                    });
                }
            }
        }
        self.reads.sort_unstable();
        for group in self.reads.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
            if group.len() < 2 {
                continue;
            }
            let (key, read) = (group[0].0, group[0].1);
            let who: Vec<String> = group
                .iter()
                .take(4)
                .map(|&(_, _, n, p)| {
                    format!(
                        "process {p} on {}",
                        self.nodes
                            .get(n as usize)
                            .map(String::as_str)
                            .unwrap_or("?")
                    )
                })
                .collect();
            found.add(Kind::LostUpdate, || {
                format!(
                    "{} acknowledged increments of counter {key} all read {read} and wrote {}: {}",
                    group.len(),
                    read + 1,
                    who.join(", ")
                )
            });
        }
        found
    }
}
