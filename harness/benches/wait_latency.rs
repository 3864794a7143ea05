//! How long a watch-based wait takes to return after the event that satisfies it arrives,
//! against a mocked API server (tower-test). Target: under 50 ms (KUTTL re-checks every 1 s,
//! e2e-framework every 5 s). Run: `cargo bench --bench wait_latency`.

use harness::cluster::{RolloutKind, WaitCondition};
use harness::k8s::wait;
use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::json;
use std::time::{Duration, Instant};

fn sts(rv: &str, ready: i32) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "cassandra", "namespace": "ns", "resourceVersion": rv, "generation": 1},
        "spec": {"replicas": 4, "serviceName": "cassandra", "selector": {}, "template": {}},
        "status": {"observedGeneration": 1, "replicas": 4, "readyReplicas": ready, "updatedReplicas": 4, "currentRevision": "r", "updateRevision": "r"}})
}

async fn once() -> Duration {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let (tx, rx) = tokio::sync::oneshot::channel::<Instant>();
    let server = tokio::spawn(async move {
        let (_, reply) = handle.next_request().await.unwrap();
        let list = json!({"apiVersion": "apps/v1", "kind": "StatefulSetList", "metadata": {"resourceVersion": "1"}, "items": [sts("1", 3)]});
        reply.send_response(
            Response::builder()
                .body(Body::from(serde_json::to_vec(&list).unwrap()))
                .unwrap(),
        );
        let (_, reply) = handle.next_request().await.unwrap();
        // Let the wait settle on the not-ready state first, then send the satisfying event.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let event = format!("{}\n", json!({"type": "MODIFIED", "object": sts("2", 4)}));
        let sent = Instant::now();
        reply.send_response(
            Response::builder()
                .body(Body::from(event.into_bytes()))
                .unwrap(),
        );
        let _ = tx.send(sent);
        // Keep answering re-watches until the client goes away.
        while let Some((_, reply)) = handle.next_request().await {
            drop(reply);
        }
    });
    let spec = WaitCondition::Rollout {
        kind: RolloutKind::StatefulSet,
        name: "cassandra".into(),
        every_node: false,
    };
    wait::wait(&client, "ns", &spec, Duration::from_secs(10))
        .await
        .expect("wait");
    let returned = Instant::now();
    let sent = rx.await.expect("sent");
    drop(client);
    server.abort();
    returned.duration_since(sent)
}

#[tokio::main]
async fn main() {
    let runs = 200;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(once().await);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "wait latency after the satisfying watch event ({runs} runs): p50 {:?}, p95 {:?}, p99 {:?}, max {:?} (target < 50 ms)",
        pct(0.5),
        pct(0.95),
        pct(0.99),
        samples[samples.len() - 1]
    );
}
