//! Layer 1 (pure): each condition on hand-written object states.

use super::*;
use serde_json::json;

fn sts(
    generation: i64,
    observed: i64,
    replicas: i32,
    ready: i32,
    updated: i32,
    cur: &str,
    upd: &str,
) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": "cassandra", "generation": generation},
        "spec": {"replicas": replicas, "serviceName": "cassandra", "selector": {}, "template": {}},
        "status": {"observedGeneration": observed, "replicas": replicas, "readyReplicas": ready, "updatedReplicas": updated, "currentRevision": cur, "updateRevision": upd}
    }))
    .unwrap()
}

#[test]
fn statefulset_rollout_needs_generation_readiness_updates_and_one_revision() {
    assert!(statefulset_rolled_out(&sts(2, 2, 4, 4, 4, "r2", "r2")).is_ok());
    assert!(
        statefulset_rolled_out(&sts(2, 1, 4, 4, 4, "r2", "r2"))
            .unwrap_err()
            .contains("generation 2")
    );
    assert_eq!(
        statefulset_rolled_out(&sts(2, 2, 4, 3, 4, "r2", "r2")).unwrap_err(),
        "3/4 ready, 4/4 updated, 4 existing"
    );
    assert!(
        statefulset_rolled_out(&sts(2, 2, 4, 4, 4, "r1", "r2"))
            .unwrap_err()
            .contains("currentRevision")
    );
}

/// A StatefulSet mid-rollout under `strategy`.
fn rolling(strategy: serde_json::Value, ready: i32, updated: i32) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": "galera-ss", "generation": 3},
        "spec": {"replicas": 3, "serviceName": "g", "selector": {}, "template": {}, "updateStrategy": strategy},
        "status": {"observedGeneration": 3, "replicas": 3, "readyReplicas": ready, "updatedReplicas": updated, "currentRevision": "galera-ss-old", "updateRevision": "galera-ss-7d9f"}
    }))
    .unwrap()
}

#[test]
fn statefulset_rollouts_follow_partitions_and_on_delete() {
    // Progress names the revision.
    let rolling_update = json!({"type": "RollingUpdate"});
    assert_eq!(
        statefulset_rolled_out(&rolling(rolling_update.clone(), 3, 2)).unwrap_err(),
        "2 of 3 pods at revision galera-ss-7d9f"
    );
    // With a partition, only the ordinals from it are updated: done then, though the current
    // revision stays the old one.
    let partitioned = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
    let done = statefulset_rolled_out(&rolling(partitioned.clone(), 3, 1)).unwrap();
    assert!(
        done.starts_with("partitioned rollout complete: 1 pod(s) from ordinal 2"),
        "{done}"
    );
    assert!(
        statefulset_rolled_out(&rolling(partitioned, 2, 1))
            .unwrap_err()
            .contains("2/3 ready")
    );
    let waiting = statefulset_rolled_out(&rolling(
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}),
        3,
        1,
    ))
    .unwrap_err();
    assert_eq!(
        waiting,
        "1 of the 2 pod(s) from ordinal 1 at revision galera-ss-7d9f"
    );
    // OnDelete: the wait says why nothing moves.
    let why = statefulset_rolled_out(&rolling(json!({"type": "OnDelete"}), 3, 0)).unwrap_err();
    assert!(
        why.contains("OnDelete") && why.starts_with("0 of 3 pods"),
        "{why}"
    );
}

#[test]
fn deployment_daemonset_and_replication_controller_readiness() {
    let d: Deployment = serde_json::from_value(json!({"metadata": {"generation": 1}, "spec": {"replicas": 2, "selector": {}, "template": {}}, "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}})).unwrap();
    assert!(
        deployment_rolled_out(&d)
            .unwrap_err()
            .contains("3 existing"),
        "an old pod is still there"
    );
    let ds: DaemonSet = serde_json::from_value(json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberMisscheduled": 0, "numberReady": 3, "updatedNumberScheduled": 3, "numberAvailable": 3}})).unwrap();
    assert!(daemonset_rolled_out(&ds).is_ok());
    let rc: ReplicationController = serde_json::from_value(json!({"metadata": {"generation": 2}, "spec": {"replicas": 4}, "status": {"observedGeneration": 2, "replicas": 4, "readyReplicas": 1}})).unwrap();
    assert_eq!(
        replication_controller_ready(&rc).unwrap_err(),
        "1/4 ready, 4 existing"
    );
    assert!(at_least_ready(&json!({"status": {"readyReplicas": 1}}), 1).is_ok());
    assert!(at_least_ready(&json!({"status": {}}), 1).is_err());
}

fn pod(name: &str, ready: bool) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name}, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
      "containerStatuses": if ready { json!([]) } else { json!([{"name": "c", "ready": false, "restartCount": 1, "image": "i", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]) }}}))
    .unwrap()
}

#[test]
fn pods_ready_by_count_or_all_and_says_which_are_not() {
    let pods = [pod("a", true), pod("b", false)];
    assert!(pods_ready(&pods, Some(1)).is_ok());
    let why = pods_ready(&pods, None).unwrap_err();
    assert!(why.contains("b Running (c: CrashLoopBackOff)"), "{why}");
    assert_eq!(pods_ready(&[], None).unwrap_err(), "no pod matches yet");
}

#[test]
fn endpoint_slices_count_ready_addresses_with_null_as_ready() {
    let slice: EndpointSlice = serde_json::from_value(
        json!({"addressType": "IPv4", "metadata": {"name": "s"}, "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
            {"addresses": ["10.0.0.3"]}
        ]}),
    )
    .unwrap();
    assert_eq!(endpoints_ready([&slice], 2).unwrap(), "2 ready address(es)");
    assert_eq!(
        endpoints_ready([&slice], 3).unwrap_err(),
        "2/3 ready addresses (3 in all)"
    );
}

#[test]
fn field_paths_with_indexes() {
    let o = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready"}]}, "spec": {"clusterIP": "None", "replicas": 3}});
    assert!(field_equals(&o, ".status.phase", "Running").is_ok());
    assert!(field_equals(&o, ".status.conditions[0].type", "Ready").is_ok());
    assert!(field_equals(&o, ".spec.replicas", "3").is_ok());
    assert_eq!(
        field_equals(&o, ".spec.clusterIP", "x").unwrap_err(),
        ".spec.clusterIP is None, waiting for x"
    );
    assert!(
        field_equals(&o, ".nope", "x")
            .unwrap_err()
            .contains("not set")
    );
}

// Layer 1 (pure): a field the API server never changes once set, holding another value,
// means the wait can never succeed; a mutable field, or an immutable one already right or not
// yet set, does not.
#[test]
fn an_immutable_field_that_differs_is_out_of_reach() {
    let svc = json!({"spec": {"clusterIP": "10.96.0.5", "type": "ClusterIP"}});
    let why = immutable_differs("Service", &svc, ".spec.clusterIP", "None").unwrap();
    assert!(
        why.contains("cannot change once set (it is 10.96.0.5"),
        "{why}"
    );
    assert_eq!(
        immutable_differs("Service", &svc, ".spec.clusterIP", "10.96.0.5"),
        None
    );
    assert_eq!(
        immutable_differs("Service", &svc, ".spec.type", "NodePort"),
        None
    );
    let sts = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}}});
    assert!(
        immutable_differs("StatefulSet", &sts, ".spec.selector.matchLabels.app", "b").is_some()
    );
    assert_eq!(
        immutable_differs(
            "Deployment",
            &json!({}),
            ".spec.selector.matchLabels.app",
            "b"
        ),
        None
    );
    let cm = json!({"immutable": true, "data": {"k": "v"}});
    assert!(immutable_differs("ConfigMap", &cm, ".data.k", "w").is_some());
    let cm = json!({"data": {"k": "v"}});
    assert_eq!(immutable_differs("ConfigMap", &cm, ".data.k", "w"), None);
}
