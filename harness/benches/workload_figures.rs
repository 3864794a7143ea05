//! What a workload's ledger and its figures cost: a memcached workload on the rig (3 servers,
//! 8 writers, every 5th key deleted again) runs until its ledger holds at least 100,000
//! operations; then the live heap the ledger holds (a counting allocator: live bytes before the
//! workload started and after it stopped, its connections closed), and the time to compute the
//! figures and the EDN history from it, min / median / max over 11 runs.
//!
//! Needs Docker and the rig image (scripts/install-test-deps.sh). Run:
//! `cargo bench --bench workload_figures`.

mod common;

use harness::verify::figures::WorkloadFigures;
use harness::verify::history_edn;
use harness::verify::workload::Workloads;
use harness_testkit::rig;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const OPS: usize = 100_000;
const RUNS: usize = 11;

fn spread(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:.1} / {:.1} / {:.1} ms",
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() - 1])
    )
}

#[tokio::main]
async fn main() {
    let (_net, _nodes, servers) = rig::memcached(3).await;
    let servers = common::endpoints(servers);
    let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    let workloads = Workloads::default();
    let before = LIVE.load(Ordering::Relaxed);
    let started = Instant::now();
    let ledger = workloads
        .start_memcache("bench", servers.clone(), 8, 5)
        .expect("start");
    while ledger.operations() < OPS {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    workloads.stop("bench").await.expect("stop");
    let ran = started.elapsed();
    let history = ledger.snapshot();
    let ops = history.ops.len();
    drop(history);
    let held = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "ledger of {ops} operations ({:.0} ops/s over {:.1}s, 8 writers, 3 servers): {:.1} MiB live, {:.0} bytes per operation, {:.1} MiB per 100,000",
        ops as f64 / ran.as_secs_f64(),
        ran.as_secs_f64(),
        held as f64 / 1048576.0,
        held as f64 / ops as f64,
        held as f64 / ops as f64 * 100_000.0 / 1048576.0
    );

    let history = ledger.snapshot();
    let (mut figures, mut edn) = (vec![], vec![]);
    let mut edn_bytes = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let f = WorkloadFigures::from_ops(&history.ops, ran, &names);
        figures.push(t.elapsed());
        assert!(f.overall.acknowledged > 0);
        let t = Instant::now();
        let text = history_edn::history(&history.ops);
        edn.push(t.elapsed());
        edn_bytes = text.len();
    }
    println!(
        "figures of {ops} operations: {} over {RUNS} runs; EDN history ({:.1} MiB): {}",
        spread(figures),
        edn_bytes as f64 / 1048576.0,
        spread(edn)
    );
    let keys: Vec<String> = history.ops.iter().map(|o| o.id.clone()).collect();
    harness::verify::memcache::pool::delete_everywhere(&servers, &keys)
        .await
        .expect("keys removed");
}
