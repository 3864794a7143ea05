//! How the list-append checker grows: histories of 10^4, 10^5 and 10^6 transactions of a
//! simulated strictly serializable store (1 to 4 micro-operations each, 5% failed, 5%
//! indeterminate, keys retired as Elle's generator does), recorded as a workload records them
//! and checked as the strictest model needs (real-time order included). For each size, three
//! runs, interleaved with the other sizes: recording time, checking time, transactions per
//! second (min/median/max), and the bytes the recorder holds and the check's peak allocation
//! above it (a counting allocator, so each figure is this history's own).
//!
//! Elle's README gives 100,000 to 160,000 transactions a second (22 million in about two
//! minutes, with 60 GB of heap): the target is at least that per core. Run:
//! `cargo bench --bench anomaly_checker` (`HARNESS_BENCH_MAX_TXNS` caps the largest size).

use harness::verify::anomaly::{Recorder, list_append, simulate};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live and peak bytes.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Run {
    record: Duration,
    check: Duration,
    held: usize,
    check_peak: usize,
}

fn one(txns: usize, seed: u64) -> Run {
    // The simulated transactions exist before the recorder starts: not counted.
    let txns = simulate::serial_txns(txns, 8, seed);
    let before = LIVE.load(Ordering::Relaxed);
    let record_started = Instant::now();
    let mut again = Recorder::new();
    for t in &txns {
        again.add(t);
    }
    let record = record_started.elapsed();
    let held = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    drop(txns);
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    let check_started = Instant::now();
    let found = list_append::check(&again, true);
    let check = check_started.elapsed();
    let check_peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(
        found.counts.is_empty(),
        "a valid history: {:?}",
        found.examples
    );
    Run {
        record,
        check,
        held,
        check_peak,
    }
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let max: usize = std::env::var("HARNESS_BENCH_MAX_TXNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let sizes: Vec<usize> = [10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|n| *n <= max)
        .collect();
    let mut runs: Vec<Vec<Run>> = sizes.iter().map(|_| vec![]).collect();
    for round in 0..3 {
        for (i, &n) in sizes.iter().enumerate() {
            runs[i].push(one(n, round));
        }
    }
    println!("list-append checker, real-time order included (3 runs each, interleaved)");
    println!(
        "{:>10}  {:>26}  {:>26}  {:>30}  {:>10}  {:>12}",
        "txns",
        "record s (min/med/max)",
        "check s (min/med/max)",
        "check txn/s (min/med/max)",
        "held MiB",
        "check MiB"
    );
    for (i, &n) in sizes.iter().enumerate() {
        let r = &runs[i];
        let rec = stats(r.iter().map(|x| x.record.as_secs_f64()).collect());
        let chk = stats(r.iter().map(|x| x.check.as_secs_f64()).collect());
        let rate = stats(r.iter().map(|x| n as f64 / x.check.as_secs_f64()).collect());
        let held = r.iter().map(|x| x.held).max().unwrap_or(0);
        let peak = r.iter().map(|x| x.check_peak).max().unwrap_or(0);
        println!(
            "{n:>10}  {:>8.3}/{:>8.3}/{:>8.3}  {:>8.3}/{:>8.3}/{:>8.3}  {:>9.0}/{:>9.0}/{:>9.0}  {:>10.1}  {:>12.1}",
            rec.0,
            rec.1,
            rec.2,
            chk.0,
            chk.1,
            chk.2,
            rate.0,
            rate.1,
            rate.2,
            mib(held),
            mib(peak)
        );
    }
    println!("held: what the recorder keeps of the history; check: the checker's peak above it");
}
