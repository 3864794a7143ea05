//! What guards cost, on the fake API server (`harness_testkit::fake_api`): API requests (watches
//! and log follows) and resident memory for N followed pods, each with a main container and an
//! init container. Run: `cargo bench --bench guard_cost`.

use harness::cluster::{Cluster, Watch};
use harness::k8s::KubeCluster;
use harness_testkit::fake_api::{Command, FakeApi, FakeContainer, FakePod};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn pod(i: usize) -> FakePod {
    FakePod {
        name: format!("db-{i}"),
        ip: format!("10.244.{}.{}", i / 250, i % 250 + 1),
        node: format!("node-{}", i % 3),
        labels: BTreeMap::from([("app".to_string(), "db".to_string())]),
        commands: Arc::new(|_: &[String]| Command::Output {
            stdout: String::new(),
            stderr: String::new(),
            exit: 0,
        }),
        ports: BTreeMap::new(),
        generation: 0,
        log: (0..50)
            .map(|l| format!("db-{i} line {l} of its log\n"))
            .collect(),
        previous_log: None,
        init_containers: vec![FakeContainer {
            name: "init".into(),
            log: "init done\n".into(),
            status: serde_json::json!({"state": {"terminated": {"exitCode": 0}}}),
            ..Default::default()
        }],
    }
}

async fn measure(pods: usize) {
    let api = FakeApi::start((0..pods).map(pod).collect()).await;
    let cluster = KubeCluster::new(api.client.clone(), "fake", "v1.33.0", "bench");
    let before = rss_kib();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let watch = Watch::Logs {
        pods: harness::cluster::Selection::Selector("app=db".into()),
        container: None,
    };
    let observing = cluster.observe("ns", &watch, tx);
    let mut lines = 0u64;
    let counting = async {
        while let Some(_obs) = rx.recv().await {
            lines += 1;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        tokio::join!(observing, counting)
    })
    .await;
    let after = rss_kib();
    let requests = api.requests();
    let follows = requests
        .iter()
        .filter(|r| r.contains("follow=true"))
        .count();
    let watches = requests.iter().filter(|r| r.contains("watch=true")).count();
    println!(
        "{pods:>4} pods: {watches} watch, {follows} log follows ({} containers), {lines} lines judged, RSS +{} KiB ({:.1} KiB per followed container)",
        pods * 2,
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / (pods * 2) as f64
    );
}

#[tokio::main]
async fn main() {
    for pods in [10, 100, 300] {
        measure(pods).await;
    }
}
