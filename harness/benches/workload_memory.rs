//! What a long workload costs in memory: the ledger (a write's fate in one byte), its running
//! figures, and its EDN history streamed to a spooled file, as the operations grow.
//!
//! 1. Scaled time: eight writers that answer at once (no server) drive the real ledger, the
//!    same code a workload runs, to 18,000,000 operations, what an hour at 5,000 operations a
//!    second makes. Resident memory (`VmRSS`, and its peak `VmHWM`) is printed at each
//!    doubling, then after the verdict's inputs are taken (a copy of the fates, the figures,
//!    the history evidence). Target: under 256 MiB resident at the end.
//! 2. Real server: a memcached workload on the rig (3 servers, 8 writers, every 5th key
//!    deleted again) for `HARNESS_BENCH_REAL_SECS` seconds (default 60): operations, rate,
//!    and resident memory per operation; then the read-back (in batches) and key removal.
//!
//! Part 2 needs Docker and the rig image (scripts/install-test-deps.sh). Run:
//! `cargo bench --bench workload_memory`; `HARNESS_BENCH_OPS` changes part 1's count.

mod common;

use harness::verify::ledger::{self, Ledger, Target, Writer};
use harness::verify::workload::Workloads;
use harness_testkit::rig;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Resident and peak resident memory of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A writer whose server answers at once: nothing but the ledger's own cost is measured.
struct Instant_ {
    prefix: String,
    nodes: [&'static str; 3],
}

#[async_trait::async_trait]
impl Writer for Instant_ {
    fn target(&self, seq: u64) -> Target {
        Target {
            node: self.nodes[(seq % 3) as usize].to_string(),
            id: format!("{}-{seq}", self.prefix),
        }
    }
    async fn insert(&mut self, target: &Target) -> Result<(), String> {
        // Let the other writers (and the watcher) run, as a round trip would.
        if target.id.ends_with('0') {
            tokio::task::yield_now().await;
        }
        Ok(())
    }
    async fn delete(&mut self, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

async fn scaled(total: usize) {
    let (rss0, _) = memory();
    println!("scaled time: {total} operations through the ledger, 8 writers, no server");
    println!("  operations    resident MiB   peak MiB   bytes/op (resident growth)");
    let ledger = std::sync::Arc::new(Ledger::new());
    let stop = CancellationToken::new();
    let started = Instant::now();
    let writers = {
        let ledger = ledger.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let one = |w: usize| {
                let writer = Instant_ {
                    prefix: format!("w{w}"),
                    nodes: ["memcached-0", "memcached-1", "memcached-2"],
                };
                let (stop, ledger) = (stop.clone(), ledger.clone());
                async move { ledger::drive(writer, 5, Duration::from_millis(100), &stop, &ledger).await }
            };
            futures::future::join_all((0..8).map(one)).await;
        })
    };
    let mut next = 1_000_000usize.min(total);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let ops = ledger.operations();
        if ops >= next {
            let (rss, peak) = memory();
            println!(
                "  {ops:>10}    {rss:>12.1}   {peak:>8.1}   {:>8.1}",
                (rss - rss0) * 1048576.0 / ops as f64
            );
            if next >= total {
                break;
            }
            next = (next * 2).min(total);
        }
    }
    stop.cancel();
    writers.await.expect("writers");
    let ran = started.elapsed();
    let ops = ledger.operations();
    // What the verdict takes: a copy of the fates, the figures, the history evidence.
    let history = ledger.snapshot();
    let figures = ledger.figures(ran, &[]);
    let evidence = ledger.history_evidence("history.edn");
    let spool = evidence.spooled.as_ref().expect("spooled");
    let (rss, peak) = memory();
    println!(
        "  {ops} operations in {:.1}s ({:.0} ops/s); {} acknowledged inserts; p99 {:?}",
        ran.as_secs_f64(),
        ops as f64 / ran.as_secs_f64(),
        history.acknowledged(),
        figures.overall.p99
    );
    println!(
        "  with the verdict's inputs taken: {rss:.1} MiB resident, peak {peak:.1} MiB (target: under 256); history file {:.0} MiB, {} lines, {} bytes inline",
        spool.bytes as f64 / 1048576.0,
        spool.lines,
        evidence.body.len()
    );
    assert!(
        peak < 256.0,
        "peak resident {peak:.1} MiB is over the 256 MiB target"
    );
}

async fn real(secs: u64) {
    let (_net, _nodes, servers) = rig::memcached(3).await;
    let servers = common::endpoints(servers);
    let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    let workloads = Workloads::default();
    let (rss0, _) = memory();
    let started = Instant::now();
    let ledger = workloads
        .start_memcache("bench", servers.clone(), 8, 5)
        .expect("start");
    println!("real server: memcached on the rig (3 servers, 8 writers) for {secs}s");
    println!("  seconds   operations    resident MiB   bytes/op (resident growth)");
    let mut at = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        at += 1;
        if at % 10 == 0 || started.elapsed() >= Duration::from_secs(secs) {
            let ops = ledger.operations().max(1);
            let (rss, _) = memory();
            println!(
                "  {at:>7}   {ops:>10}    {rss:>12.1}   {:>8.1}",
                (rss - rss0) * 1048576.0 / ops as f64
            );
        }
    }
    workloads.stop("bench").await.expect("stop");
    let ran = started.elapsed();
    let ops = ledger.operations();
    let figures = ledger.figures(ran, &names);
    println!(
        "  {ops} operations ({:.0} ops/s); overall p50 {:?} p99 {:?}",
        ops as f64 / ran.as_secs_f64(),
        figures.overall.p50,
        figures.overall.p99
    );
    let history = ledger.snapshot();
    let t = Instant::now();
    let verdict = harness::verify::memcache::writes::read_back(&servers, &history, 0).await;
    let (rss, peak) = memory();
    println!(
        "  read-back of {} keys in batches: {:.1}s, {} ({rss:.1} MiB resident, peak {peak:.1})",
        history.acknowledged(),
        t.elapsed().as_secs_f64(),
        if verdict.passed { "passed" } else { "FAILED" }
    );
    harness::verify::memcache::writes::delete_keys(&servers, &history)
        .await
        .expect("keys removed");
}

#[tokio::main]
async fn main() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    scaled(env("HARNESS_BENCH_OPS", 18_000_000) as usize).await;
    real(env("HARNESS_BENCH_REAL_SECS", 60)).await;
}
