//! `--partition K/N`: a deterministic slice of the selected scenarios, so a CI job matrix of N
//! jobs runs each scenario in exactly one job. By default a scenario's slice comes from a hash
//! of its name (FNV-1a, stable across versions and machines, as nextest's `hash:` partitions),
//! so adding a scenario moves only that one; with `--partition-weights SUMMARY` the scenarios
//! are spread by their durations in an earlier run (longest first onto the least loaded slice)
//! so the slices finish together.

use std::collections::BTreeMap;

/// Slice `k` of `n` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: u32,
    pub n: u32,
}

/// The most slices a selection is cut into.
pub const MAX_SLICES: u32 = 1000;

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || {
            format!(
                "`{}` is not a partition: write K/N with 1 <= K <= N <= {MAX_SLICES}, e.g. 2/3",
                crate::diag::visible(text)
            )
        };
        let (k, n) = text.split_once('/').ok_or_else(wrong)?;
        let (k, n): (u32, u32) = (
            k.trim().parse().map_err(|_| wrong())?,
            n.trim().parse().map_err(|_| wrong())?,
        );
        if k == 0 || n == 0 || k > n || n > MAX_SLICES {
            return Err(wrong());
        }
        Ok(Partition { k, n })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// FNV-1a (64 bit): fixed, so a scenario's slice never changes with the toolchain.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The slice (1-based) of each name. With `weights` (seconds per scenario name from an earlier
/// run), longest first onto the least loaded slice; a scenario without a weight counts as the
/// median of the known ones. Ties go by name, so the result depends on the names alone.
pub fn slices(
    names: &[&str],
    n: u32,
    weights: Option<&BTreeMap<String, f64>>,
) -> BTreeMap<String, u32> {
    let n = n.max(1);
    let Some(weights) = weights.filter(|w| !w.is_empty()) else {
        return names
            .iter()
            .map(|name| (name.to_string(), (fnv1a(name) % u64::from(n)) as u32 + 1))
            .collect();
    };
    let mut known: Vec<f64> = weights
        .values()
        .copied()
        .filter(|w| w.is_finite() && *w >= 0.0)
        .collect();
    known.sort_by(f64::total_cmp);
    let median = known.get(known.len() / 2).copied().unwrap_or(1.0);
    let mut order: Vec<(f64, &str)> = names
        .iter()
        .map(|name| {
            let w = weights
                .get(*name)
                .copied()
                .filter(|w| w.is_finite() && *w >= 0.0)
                .unwrap_or(median);
            (w, *name)
        })
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut load = vec![0.0f64; n as usize];
    let mut out = BTreeMap::new();
    for (w, name) in order {
        let (slice, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then_with(|| a.0.cmp(&b.0)))
            .unwrap_or((0, &0.0));
        load[slice] += w;
        out.insert(name.to_string(), slice as u32 + 1);
    }
    out
}

/// Seconds per scenario name, from an earlier run's summary.
pub fn weights_from(run: &crate::report::model::Run) -> BTreeMap<String, f64> {
    run.scenarios
        .iter()
        .map(|s| (s.name.clone(), s.duration_secs))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("scenario-{i}")).collect()
    }

    // Layer 1 (pure).
    #[test]
    fn every_scenario_is_in_exactly_one_slice_for_one_to_eight_slices() {
        let all = names(40);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        for n in 1..=8 {
            let s = slices(&refs, n, None);
            assert_eq!(s.len(), 40);
            assert!(s.values().all(|k| (1..=n).contains(k)), "{n}: {s:?}");
            // Every slice gets something when there is plenty.
            if n <= 4 {
                for k in 1..=n {
                    assert!(s.values().any(|v| *v == k), "slice {k}/{n} is empty");
                }
            }
        }
    }

    #[test]
    fn adding_a_scenario_moves_only_that_one() {
        let all = names(30);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let before = slices(&refs, 3, None);
        let mut more = refs.clone();
        more.push("a-new-scenario");
        let after = slices(&more, 3, None);
        for (name, k) in &before {
            assert_eq!(after[name], *k, "{name} moved");
        }
    }

    #[test]
    fn weights_balance_the_slices_by_duration() {
        let weights: BTreeMap<String, f64> = [
            ("cassandra-ring-join", 900.0),
            ("galera-node-loss", 700.0),
            ("galera-etcd-sync", 600.0),
            ("memcached-mcrouter-colocated", 300.0),
            ("memcached-pool", 120.0),
            ("cassandra-restart-identity", 500.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let refs: Vec<&str> = weights.keys().map(String::as_str).collect();
        let s = slices(&refs, 3, Some(&weights));
        let mut load = [0.0; 3];
        for (name, k) in &s {
            load[*k as usize - 1] += weights[name];
        }
        let (most, least) = (
            load.iter().copied().fold(0.0, f64::max),
            load.iter().copied().fold(f64::MAX, f64::min),
        );
        // 3120 s in all: the longest slice is within 30% of the ideal 1040 s.
        assert!(most <= 1040.0 * 1.3, "{load:?}");
        assert!(least > 0.0, "{load:?}");
        // A scenario of no earlier run counts as the median, and lands somewhere.
        let mut more = refs.clone();
        more.push("new");
        assert!(slices(&more, 3, Some(&weights)).contains_key("new"));
    }

    // Layer 1 (pure): the nightly's split. The seed scenarios weighted by the README's time
    // estimates (the middle of each range, in minutes) over the nightly's three slices: the
    // slowest slice is within 1.2x of the mean, where the name hash alone gives 2/0/5.
    #[test]
    fn the_seed_scenarios_split_by_their_durations_finish_together() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let mut weights: BTreeMap<String, f64> = BTreeMap::new();
        for line in readme
            .lines()
            .filter(|l| l.starts_with("| `") && l.contains(" min |"))
        {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let file = cells[1].trim_matches('`');
            let (lo, hi) = cells[4]
                .trim_end_matches(" min")
                .split_once('-')
                .expect("a range of minutes");
            let minutes = (lo.parse::<f64>().unwrap() + hi.parse::<f64>().unwrap()) / 2.0;
            // Scenario names are `system-file` (cassandra/ring-join is cassandra-ring-join).
            weights.insert(file.replace('/', "-"), minutes);
        }
        assert_eq!(weights.len(), 14, "{weights:?}");
        let names: Vec<&str> = weights.keys().map(String::as_str).collect();
        let split = slices(&names, 3, Some(&weights));
        let mut load = [0.0f64; 3];
        for (name, k) in &split {
            load[*k as usize - 1] += weights[name];
        }
        let mean = load.iter().sum::<f64>() / 3.0;
        let slowest = load.iter().copied().fold(0.0, f64::max);
        assert!(slowest <= 1.2 * mean, "{load:?} (mean {mean})");
    }

    #[test]
    fn partitions_are_parsed_strictly() {
        assert_eq!("2/3".parse::<Partition>(), Ok(Partition { k: 2, n: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "1/1001", "-1/3"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
