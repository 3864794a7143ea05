//! How evenly a pool must hold keys, and key names a proxy's hash cannot clump.
//!
//! A server's share of N keys under a fair hash is binomial. The floor a server must reach is
//! the count that a hash giving it `min_share` of its fair share still exceeds with
//! probability 1 - 10⁻⁶: a healthy pool never fails by chance (whatever the ring's own
//! unevenness, up to `min_share`), while a starved server (a weight of 1 against 1000) or a
//! pool that lists one server holds next to nothing and fails.

use super::client::fnv1a;

/// The chance that a server holding `min_share` of its fair share falls below the floor.
pub const FALSE_ALARM: f64 = 1e-6;
/// The floor the check must reach at least, or it writes more keys: a starved server is then
/// told from a fair one by a wide margin.
pub const MIN_FLOOR: usize = 20;

/// The fewest keys a server among `servers` must hold out of `keys` (see the module docs).
pub fn floor(keys: usize, servers: usize, min_share: f64) -> usize {
    if servers == 0 || keys == 0 || min_share <= 0.0 {
        return 0;
    }
    let p = (min_share / servers as f64).clamp(1e-12, 1.0);
    if p >= 1.0 {
        return keys;
    }
    // P(X <= k) for X ~ Binomial(keys, p), summed in logs from k = 0 up: the floor is the
    // first k whose cumulative probability exceeds FALSE_ALARM.
    let n = keys as f64;
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    let mut ln_pmf = n * ln_q;
    let mut ln_cdf = ln_pmf;
    let limit = FALSE_ALARM.ln();
    for k in 0..keys {
        if ln_cdf > limit {
            return k;
        }
        let kf = k as f64;
        ln_pmf += ((n - kf) / (kf + 1.0)).ln() + ln_p - ln_q;
        ln_cdf = log_add(ln_cdf, ln_pmf);
    }
    keys
}

fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// The fewest keys that give every one of `servers` a floor of at least [`MIN_FLOOR`].
pub fn keys_needed(servers: usize, min_share: f64) -> usize {
    let mut keys = servers.max(1) * MIN_FLOOR;
    while floor(keys, servers, min_share) < MIN_FLOOR && keys < 10_000_000 {
        keys += keys / 4 + 1;
    }
    keys
}

/// A key name that looks random to any hash (a proxy's ketama on fnv1a_64 clumps sequential
/// names), unique to this run and index.
pub fn mixed_key(run: &str, group: u64, index: u64) -> String {
    let seed = format!("{run}/{group}/{index}");
    format!("harness:{run}:{:016x}", mix(fnv1a(seed.as_bytes())))
}

/// A finaliser (from MurmurHash3) so that near-identical inputs spread evenly.
pub fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): the floor against what a fair hash gives.
    #[test]
    fn the_floor_is_what_a_fair_hash_beats_with_certainty_and_a_starved_server_never_reaches() {
        // 300 keys over 3 servers at min_share 0.5: a server expecting 50 falls under 19 with
        // a chance below 1e-6; one expecting 100 (fair) never does.
        let f = floor(300, 3, 0.5);
        assert!((17..=22).contains(&f), "{f}");
        assert!(f > 1, "a starved server (about 0.3 keys) fails");
        assert!(floor(3000, 3, 0.5) > 400 && floor(3000, 3, 0.5) < 500);
        assert_eq!(floor(0, 3, 0.5), 0);
        assert_eq!(floor(10, 1, 1.0), 10);
        let keys = keys_needed(3, 0.5);
        assert!(floor(keys, 3, 0.5) >= MIN_FLOOR && keys < 600, "{keys}");
        // A fair hash over many trials: the share of the lowest of 3 servers, with 300 keys,
        // never goes under the floor in 20,000 simulated pools.
        let mut lowest = usize::MAX;
        for trial in 0..20_000u64 {
            let mut counts = [0usize; 3];
            for k in 0..300u64 {
                counts[(mix(trial * 1000 + k) % 3) as usize] += 1;
            }
            lowest = lowest.min(*counts.iter().min().unwrap());
        }
        assert!(lowest >= f, "{lowest} < {f}");
    }

    #[test]
    fn mixed_keys_are_unique_and_spread_bits() {
        let a = mixed_key("run", 0, 1);
        let b = mixed_key("run", 0, 2);
        assert_ne!(a, b);
        assert!(a.starts_with("harness:run:") && a.len() == "harness:run:".len() + 16);
    }
}
