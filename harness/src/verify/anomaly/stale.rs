//! The stale-read workload's judgement: a value written on one node and acknowledged, then
//! read on another node by a read that started after the acknowledgement. Under a real-time
//! promise (strong snapshot isolation, strict serializability) the read must return it or a
//! later value; anything older is a stale read.

use super::{Findings, Kind};
use crate::verify::figures::secs;
use std::collections::BTreeMap;
use std::time::Duration;

/// Write-then-read pairs, counted by the node read.
#[derive(Debug, Default)]
pub struct StaleReads {
    /// Node read: pairs, stale reads.
    by_reader: BTreeMap<String, (u64, u64)>,
    found: Findings,
}

/// One pair: what was written where and when it was acknowledged, what was read where and
/// when the read started.
pub struct Pair<'a> {
    pub key: u32,
    pub wrote: u64,
    pub writer: &'a str,
    pub acknowledged_at: Duration,
    pub read: Option<u64>,
    pub reader: &'a str,
    pub read_started_at: Duration,
}

impl StaleReads {
    pub fn record(&mut self, p: Pair<'_>) {
        let tally = self.by_reader.entry(p.reader.to_string()).or_default();
        tally.0 += 1;
        if p.read.is_none_or(|r| r < p.wrote) {
            tally.1 += 1;
            let read = p.read.map_or("no value".to_string(), |r| format!("{r}"));
            self.found.add(Kind::StaleRead, || {
                format!(
                    "register {} read on {} at {} returned {read}, though {} had been acknowledged on {} at {}, before the read started",
                    p.key,
                    p.reader,
                    secs(p.read_started_at),
                    p.wrote,
                    p.writer,
                    secs(p.acknowledged_at)
                )
            });
        }
    }

    /// Pairs and stale reads in all.
    pub fn totals(&self) -> (u64, u64) {
        self.by_reader
            .values()
            .fold((0, 0), |(n, s), t| (n + t.0, s + t.1))
    }

    /// A line per node read.
    pub fn lines(&self) -> Vec<String> {
        self.by_reader
            .iter()
            .map(|(node, (n, s))| {
                format!("{node}: {s} stale of {n} read(s) after a write acknowledged elsewhere")
            })
            .collect()
    }

    pub fn findings(&self) -> Findings {
        self.found.clone()
    }
}
