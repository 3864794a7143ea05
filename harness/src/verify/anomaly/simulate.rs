//! Histories of a strictly serializable store, simulated: the valid histories the checker's
//! tests and its benchmark run on (any anomaly found in one is the checker's error).

use super::history::{Key, Value};
use super::{Mop, Outcome, Recorder, Txn};

fn a(k: Key, v: Value) -> Mop {
    Mop::Append(k, v)
}

/// A deterministic generator (splitmix64), so a failing seed can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A strictly serializable store simulated: each transaction takes effect at one instant
/// between its invocation and completion, in that order; some fail (no effect), some are
/// indeterminate (with or without effect). Returns the history.
pub fn serial_history(txns: usize, keys: u32, seed: u64) -> Recorder {
    let mut rec = Recorder::new();
    for t in serial_txns(txns, keys, seed) {
        rec.add(&t);
    }
    rec
}

/// The transactions of [`serial_history`], in the order they completed.
pub fn serial_txns(txns: usize, keys: u32, seed: u64) -> Vec<Txn> {
    let mut rng = Rng(seed);
    // (effect time, invoked, completed, outcome, applies, micro-operations)
    let mut planned = vec![];
    let mut value: Value = 0;
    for i in 0..txns as u64 {
        let invoked = i * 10 + rng.below(10);
        let effect = invoked + 1 + rng.below(30);
        let completed = effect + 1 + rng.below(30);
        let mut mops = vec![];
        for _ in 0..1 + rng.below(4) {
            // Keys are retired after 16 appends each on average, as the workload does, so
            // lists stay short however long the history.
            let window = value / (keys * 16);
            let k = window * keys + rng.below(u64::from(keys)) as Key;
            if rng.below(2) == 0 {
                value += 1;
                mops.push(a(k, value));
            } else {
                mops.push(Mop::Read(k, None));
            }
        }
        let (outcome, applies) = match rng.below(20) {
            0 => (Outcome::Fail, false),
            1 => (Outcome::Info, rng.below(2) == 0),
            _ => (Outcome::Ok, true),
        };
        planned.push((effect, invoked, completed, outcome, applies, mops));
    }
    planned.sort_by_key(|p| p.0);
    let mut state: std::collections::HashMap<Key, Vec<Value>> = Default::default();
    let mut done = vec![];
    for (_, invoked, completed, outcome, applies, mut mops) in planned {
        let mut local = state.clone_keys_of(&mops);
        for m in &mut mops {
            match m {
                Mop::Append(k, v) => local.entry(*k).or_default().push(*v),
                Mop::Read(k, vs) => {
                    *vs = match outcome {
                        Outcome::Ok => Some(local.get(k).cloned().unwrap_or_default()),
                        _ => None,
                    }
                }
            }
        }
        if applies {
            state.extend(local);
        }
        done.push((invoked, completed, outcome, mops));
    }
    // In the order they complete, as a workload records them.
    done.sort_by_key(|d| d.1);
    done.into_iter()
        .enumerate()
        .map(|(i, (invoked, completed, outcome, mops))| Txn {
            process: i as u32 % 16,
            node: format!("n{}", i % 3),
            outcome,
            invoked,
            completed,
            mops,
        })
        .collect()
}

trait CloneKeys {
    fn clone_keys_of(&self, mops: &[Mop]) -> std::collections::HashMap<Key, Vec<Value>>;
}
impl CloneKeys for std::collections::HashMap<Key, Vec<Value>> {
    fn clone_keys_of(&self, mops: &[Mop]) -> std::collections::HashMap<Key, Vec<Value>> {
        mops.iter()
            .map(|m| match m {
                Mop::Append(k, _) | Mop::Read(k, _) => *k,
            })
            .map(|k| (k, self.get(&k).cloned().unwrap_or_default()))
            .collect()
    }
}
