//! Layer 1 (pure): quantities, pod requests, demand at the largest scale, and the fit.

use super::*;
use serde_json::json;

fn manifest(object: Value) -> Manifest {
    Manifest {
        origin: "t.yaml#0".into(),
        object,
    }
}

fn node(name: &str, cpu: &str, mem: &str, used_cpu: u64, used_mem: u64) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        unschedulable: None,
        allocatable: Some(Resources {
            cpu_milli: parse_cpu(cpu).unwrap(),
            memory: parse_memory(mem).unwrap(),
        }),
        requested: Resources {
            cpu_milli: used_cpu,
            memory: used_mem,
        },
    }
}

#[test]
fn parses_kubernetes_quantities() {
    assert_eq!(parse_cpu("500m"), Some(500));
    assert_eq!(parse_cpu("2"), Some(2000));
    assert_eq!(parse_cpu("0.25"), Some(250));
    assert_eq!(parse_memory("256Mi"), Some(256 << 20));
    assert_eq!(parse_memory("1Gi"), Some(1 << 30));
    assert_eq!(parse_memory("1G"), Some(1_000_000_000));
    assert_eq!(parse_memory("128974848"), Some(128_974_848));
    assert_eq!(parse_memory("1e3"), Some(1000));
    assert_eq!(parse_memory("lots"), None);
}

#[test]
fn a_pod_counts_its_containers_and_sidecars_or_its_largest_init_container() {
    let spec = json!({
        "initContainers": [
            {"name": "big-init", "resources": {"requests": {"cpu": "2", "memory": "64Mi"}}},
            {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}}}],
        "containers": [
            {"name": "db", "resources": {"requests": {"cpu": "500m"}, "limits": {"memory": "1Gi"}}}]});
    // Running: 600m and 1Gi + 32Mi; the init container needs 2 CPU: the larger of each.
    assert_eq!(
        pod_requests(&spec),
        Resources {
            cpu_milli: 2000,
            memory: (1 << 30) + (32 << 20)
        }
    );
}

#[test]
fn demand_takes_the_largest_scale_and_daemonsets_per_node_then_judges_the_fit() {
    let sts = manifest(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "cassandra"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "c", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]}}}}),
    );
    let ds = manifest(
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "mcrouter"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "m", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}),
    );
    let svc = manifest(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}));
    let d = demand(
        &[&sts, &ds, &svc],
        &[("StatefulSet".into(), "cassandra".into(), 4)],
    );
    assert_eq!(
        d.total,
        Resources {
            cpu_milli: 4000,
            memory: 8 << 30
        }
    );
    assert_eq!(
        d.parts,
        vec![
            "StatefulSet/cassandra: 4 x 1 CPU and 2Gi",
            "DaemonSet/mcrouter: 100m CPU and 64Mi on every node"
        ]
    );
    // Three 2-CPU/4Gi workers with a little in use: 5.4 CPU and ~11.8Gi free after the
    // DaemonSet: fits.
    let roomy = [
        node("w1", "2", "4Gi", 100, 0),
        node("w2", "2", "4Gi", 0, 0),
        node("w3", "2", "4Gi", 0, 0),
    ];
    assert_eq!(fits(&d, &roomy), Ok(()));
    // One worker: not enough, and the message says by how much and what asks it.
    let small = [node("kind-worker", "2", "4Gi", 250, 300 << 20)];
    let err = fits(&d, &small).unwrap_err();
    assert!(
        err.starts_with("the scenario requests 4 CPU and 8Gi at its largest scale (besides its DaemonSets), but the schedulable nodes have 1650m CPU and 3732Mi free after them (kind-worker 1750m CPU and 3796Mi free)"),
        "{err}"
    );
    assert!(
        err.contains("StatefulSet/cassandra: 4 x 1 CPU and 2Gi"),
        "{err}"
    );
    // Enough in total, but no node can hold the largest pod.
    let fragmented: Vec<NodeInfo> = (0..8)
        .map(|i| node(&format!("w{i}"), "1", "1536Mi", 0, 0))
        .collect();
    let one_pod = demand(&[&sts], &[]);
    let err = fits(&one_pod, &fragmented).unwrap_err();
    assert!(
        err.contains("largest pod requests 1 CPU and 2Gi, more than any one node"),
        "{err}"
    );
    // Nodes that report no allocatable (or a scenario that requests nothing): no judgement.
    assert_eq!(fits(&Demand::default(), &small), Ok(()));
}

#[test]
fn images_of_every_workload_and_init_container_once_each() {
    let sts = manifest(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "g"},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "d", "image": "curlimages/curl:8.11.1"}],
            "containers": [{"name": "r", "image": "curlimages/curl:8.11.1"}, {"name": "m", "image": "mariadb:11.4.4"}]}}}}),
    );
    let pod = manifest(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "b", "image": "busybox:1.36.1"}]}}),
    );
    let cm = manifest(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
    assert_eq!(
        images(&[&sts, &pod, &cm]),
        vec!["curlimages/curl:8.11.1", "mariadb:11.4.4", "busybox:1.36.1"]
    );
}

#[test]
fn the_probe_window_is_the_slowest_probe_to_fail_with_kubernetes_defaults() {
    let sts = manifest(json!({
        "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "db",
             "readinessProbe": {"exec": {"command": ["true"]}},
             "livenessProbe": {"tcpSocket": {"port": 3306}, "initialDelaySeconds": 30,
                               "periodSeconds": 5, "failureThreshold": 6, "timeoutSeconds": 2}}
        ]}}}
    }));
    let (window, why) = probe_window(&[&sts]).unwrap();
    // 30 + 6 × 5 + 2; the readiness probe with the defaults is 0 + 3 × 10 + 1 = 31.
    assert_eq!(window, std::time::Duration::from_secs(62));
    assert_eq!(
        why,
        "liveness of StatefulSet/db container db: 30s + 6 × 5s + 2s"
    );
    let pod = manifest(json!({
        "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "startupProbe": {"exec": {"command": ["true"]}}}]}
    }));
    assert_eq!(
        probe_window(&[&pod]).unwrap().0,
        std::time::Duration::from_secs(31)
    );
    let none = manifest(json!({"kind": "ConfigMap", "metadata": {"name": "c"}}));
    assert_eq!(probe_window(&[&none]), None);
    // Absurd numbers are bounded, not overflowed.
    let huge = manifest(json!({
        "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "livenessProbe": {
            "initialDelaySeconds": u64::MAX, "periodSeconds": u64::MAX, "failureThreshold": u64::MAX}}]}
    }));
    assert!(
        probe_window(&[&huge]).unwrap().0 <= std::time::Duration::from_secs(4 * 3600 + 3600 * 3600)
    );
}
