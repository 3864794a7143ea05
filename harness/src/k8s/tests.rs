//! Layer 3 (mocked API server, kube-rs style): a tower-test service stands in for the API
//! server; a verifier task checks the method, path, query and body of every request and
//! answers. Exec and port-forward (WebSocket upgrades) need a real connection: they are tested
//! against the fake API server in `stream_tests`.

use super::*;
use crate::cluster::{ClusterError, Fault, RolloutKind, WaitCondition};
use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use std::time::Duration;

pub(super) type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;
pub(super) type Reply = tower_test::mock::SendResponse<Response<Body>>;

pub(super) fn mock() -> (Client, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), handle)
}

/// The pods of a namespace, which every wait on a workload also watches (for a crash loop).
const PODS: &str = "/api/v1/namespaces/ns/pods";

/// The next request, checked: method, path, and query fragments. The crash watch a wait runs
/// beside its own (pods, when the test expects something else) is answered on the way: no
/// pods, and a watch that stays quiet.
async fn expect(handle: &mut Handle, method: Method, path: &str, query: &[&str]) -> (Value, Reply) {
    let (request, reply) = loop {
        let (request, reply) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("no request came for {method} {path}"))
            .unwrap_or_else(|| panic!("the client went away before {method} {path}"));
        if path == PODS || request.uri().path() != PODS {
            break (request, reply);
        }
        if request
            .uri()
            .query()
            .unwrap_or_default()
            .contains("watch=true")
        {
            // Kept open, quiet, as a watch with nothing to say is.
            tokio::spawn(async move {
                let _open = reply;
                std::future::pending::<()>().await;
            });
        } else {
            respond(reply, 200, &list(vec![], "1"));
        }
    };
    assert_eq!(request.method(), method, "{}", request.uri());
    assert_eq!(request.uri().path(), path, "{}", request.uri());
    let q = request.uri().query().unwrap_or_default().to_string();
    let decoded = q
        .replace("%3D", "=")
        .replace("%2C", ",")
        .replace("%2F", "/")
        .replace("%21", "!");
    for fragment in query {
        assert!(
            decoded.contains(fragment),
            "query of {path} lacks {fragment}: {q}"
        );
    }
    let body = request.into_body().collect_bytes().await.unwrap();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into()))
    };
    (body, reply)
}

pub(super) fn respond(reply: Reply, code: u16, body: &Value) {
    reply.send_response(
        Response::builder()
            .status(code)
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap(),
    );
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message, "metadata": {}})
}

fn apps_v1_resources() -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1", "resources": [
        {"name": "statefulsets", "singularName": "statefulset", "namespaced": true, "kind": "StatefulSet", "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
        {"name": "statefulsets/scale", "singularName": "", "namespaced": true, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}
    ]})
}

fn statefulset(rv: &str, ready: i32, updated: i32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "cassandra", "namespace": "ns", "resourceVersion": rv, "generation": 2},
        "spec": {"replicas": 4, "serviceName": "cassandra", "selector": {"matchLabels": {"app": "cassandra"}}, "template": {}},
        "status": {"observedGeneration": 2, "replicas": 4, "readyReplicas": ready, "updatedReplicas": updated, "currentRevision": "r2", "updateRevision": "r2"}})
}

fn manifest() -> crate::manifest::Manifest {
    crate::manifest::Manifest {
        origin: "statefulset.yaml#0".into(),
        object: json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "cassandra"}, "spec": {"replicas": 1}}),
    }
}

#[tokio::test]
async fn apply_creates_with_labels_and_registers_for_cleanup() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let (_, r) = expect(&mut handle, Method::GET, "/apis/apps/v1", &[]).await;
        respond(r, 200, &apps_v1_resources());
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            "/apis/apps/v1/namespaces/ns/statefulsets/cassandra",
            &[],
        )
        .await;
        respond(
            r,
            404,
            &status(404, "NotFound", "statefulsets.apps \"cassandra\" not found"),
        );
        let (body, r) = expect(
            &mut handle,
            Method::PATCH,
            "/apis/apps/v1/namespaces/ns/statefulsets/cassandra",
            &["fieldManager=harness"],
        )
        .await;
        assert_eq!(
            body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "harness"
        );
        assert_eq!(body["metadata"]["labels"]["harness.run-id"], "run-1");
        assert_eq!(
            body["metadata"]["labels"]["harness.scenario"],
            "cassandra-ring-join"
        );
        assert_eq!(body["metadata"]["namespace"], "ns");
        respond(r, 200, &statefulset("1", 0, 0));
    });
    let created = apply::apply_all(
        &client,
        "ns",
        &labels::ours("run-1", "cassandra-ring-join"),
        &[manifest()],
    )
    .await
    .unwrap();
    assert_eq!(
        created,
        vec![CleanupItem::Object {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            namespace: Some("ns".into()),
            name: "cassandra".into()
        }]
    );
    server.await.unwrap();
}

#[tokio::test]
async fn apply_of_an_existing_object_is_not_registered_and_a_conflict_is_reported() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        for round in 0..2 {
            let (_, r) = expect(&mut handle, Method::GET, "/apis/apps/v1", &[]).await;
            respond(r, 200, &apps_v1_resources());
            let (_, r) = expect(
                &mut handle,
                Method::GET,
                "/apis/apps/v1/namespaces/ns/statefulsets/cassandra",
                &[],
            )
            .await;
            respond(r, 200, &statefulset("5", 1, 1));
            let (_, r) = expect(
                &mut handle,
                Method::PATCH,
                "/apis/apps/v1/namespaces/ns/statefulsets/cassandra",
                &["fieldManager=harness"],
            )
            .await;
            if round == 0 {
                respond(r, 200, &statefulset("6", 1, 1));
            } else {
                respond(
                    r,
                    409,
                    &status(
                        409,
                        "Conflict",
                        "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas",
                    ),
                );
            }
        }
    });
    let labels = labels::ours("run-1", "s");
    assert!(
        apply::apply_all(&client, "ns", &labels, &[manifest()])
            .await
            .unwrap()
            .is_empty()
    );
    let err = apply::apply_all(&client, "ns", &labels, &[manifest()])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("conflict with \"kubectl\"") && err.to_string().contains("409"),
        "{err}"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn scale_patches_the_scale_subresource() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let (body, r) = expect(
            &mut handle,
            Method::PATCH,
            "/apis/apps/v1/namespaces/ns/statefulsets/cassandra/scale",
            &[],
        )
        .await;
        assert_eq!(body, json!({"spec": {"replicas": 4}}));
        respond(
            r,
            200,
            &json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "cassandra"}, "spec": {"replicas": 4}}),
        );
        let (_, r) = expect(
            &mut handle,
            Method::PATCH,
            "/api/v1/namespaces/ns/replicationcontrollers/cassandra/scale",
            &[],
        )
        .await;
        respond(
            r,
            404,
            &status(
                404,
                "NotFound",
                "replicationcontrollers \"cassandra\" not found",
            ),
        );
    });
    faults::scale(&client, "ns", ScalableKind::StatefulSet, "cassandra", 4)
        .await
        .unwrap();
    let err = faults::scale(
        &client,
        "ns",
        ScalableKind::ReplicationController,
        "cassandra",
        4,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClusterError::NotFound(_)), "{err}");
    server.await.unwrap();
}

fn list(items: Vec<Value>, rv: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSetList", "metadata": {"resourceVersion": rv}, "items": items})
}

fn watch_body(events: &[(&str, Value)]) -> Vec<u8> {
    events
        .iter()
        .map(|(t, o)| format!("{}\n", json!({"type": t, "object": o})))
        .collect::<String>()
        .into_bytes()
}

#[tokio::test]
async fn rollout_wait_relists_after_410_gone_ignores_stale_events_and_returns_on_the_satisfying_one()
 {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let path = "/apis/apps/v1/namespaces/ns/statefulsets";
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            path,
            &["fieldSelector=metadata.name=cassandra"],
        )
        .await;
        respond(r, 200, &list(vec![statefulset("10", 1, 4)], "10"));
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            path,
            &["watch=true", "resourceVersion=10"],
        )
        .await;
        let gone = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired", "message": "too old resource version: 10 (40)"});
        r.send_response(
            Response::builder()
                .body(Body::from(watch_body(&[("ERROR", gone)])))
                .unwrap(),
        );
        // 410 Gone: the watcher lists again.
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            path,
            &["fieldSelector=metadata.name=cassandra"],
        )
        .await;
        respond(r, 200, &list(vec![statefulset("40", 2, 4)], "40"));
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            path,
            &["watch=true", "resourceVersion=40"],
        )
        .await;
        // Out of order: rv 50 (3 ready) then a stale rv 45 claiming all 4 ready, then rv 51.
        let body = watch_body(&[
            ("MODIFIED", statefulset("50", 3, 4)),
            ("MODIFIED", statefulset("45", 4, 4)),
            ("MODIFIED", statefulset("51", 4, 4)),
        ]);
        r.send_response(Response::builder().body(Body::from(body)).unwrap());
    });
    let spec = WaitCondition::Rollout {
        kind: RolloutKind::StatefulSet,
        name: "cassandra".into(),
        every_node: false,
    };
    let found = wait::wait(&client, "ns", &spec, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(found, "4/4 replicas ready at revision r2");
    server.await.unwrap();
}

#[tokio::test]
async fn a_stale_event_alone_does_not_satisfy_the_wait_and_the_deadline_reports_the_last_state() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let path = "/apis/apps/v1/namespaces/ns/statefulsets";
        let (_, r) = expect(&mut handle, Method::GET, path, &[]).await;
        respond(r, 200, &list(vec![statefulset("60", 3, 4)], "60"));
        let (_, r) = expect(&mut handle, Method::GET, path, &["watch=true"]).await;
        // The watch stays open and nothing more arrives.
        let _keep_open = r;
        tokio::time::sleep(Duration::from_secs(3)).await;
    });
    let spec = WaitCondition::Rollout {
        kind: RolloutKind::StatefulSet,
        name: "cassandra".into(),
        every_node: false,
    };
    let err = wait::wait(&client, "ns", &spec, Duration::from_millis(500))
        .await
        .unwrap_err();
    match err {
        ClusterError::Timeout { after, last_state } => {
            assert_eq!(after, Duration::from_millis(500));
            assert_eq!(last_state, "3/4 ready, 4/4 updated, 4 existing");
        }
        other => panic!("{other}"),
    }
    server.abort();
}

#[tokio::test]
async fn endpoint_wait_counts_ready_addresses_of_the_services_slices() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let path = "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices";
        let slice = |rv: &str, ready: [bool; 3]| {
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": "mycache-memcached-abc", "namespace": "ns", "resourceVersion": rv},
                "endpoints": ready.iter().enumerate().map(|(i, r)| json!({"addresses": [format!("10.0.0.{i}")], "conditions": {"ready": r}})).collect::<Vec<_>>()})
        };
        while let Some((request, r)) = handle.next_request().await {
            let query = request
                .uri()
                .query()
                .unwrap_or_default()
                .replace("%3D", "=")
                .replace("%2F", "/");
            let watching = query.contains("watch=true");
            match request.uri().path() {
                p if p == path && !watching => {
                    assert!(
                        query
                            .contains("labelSelector=kubernetes.io/service-name=mycache-memcached"),
                        "{query}"
                    );
                    respond(
                        r,
                        200,
                        &json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList", "metadata": {"resourceVersion": "7"}, "items": [slice("7", [true, false, false])]}),
                    );
                }
                p if p == path => r.send_response(
                    Response::builder()
                        .body(Body::from(watch_body(&[(
                            "MODIFIED",
                            slice("8", [true, true, true]),
                        )])))
                        .unwrap(),
                ),
                // The check that the count is within reach finds no Service to look at.
                _ => respond(
                    r,
                    404,
                    &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
                ),
            }
        }
    });
    let spec = WaitCondition::Endpoints {
        service: "mycache-memcached".into(),
        count: 3,
    };
    assert_eq!(
        wait::wait(&client, "ns", &spec, Duration::from_secs(10))
            .await
            .unwrap(),
        "3 ready address(es)"
    );
    drop(client);
    server.await.unwrap();
}

// Layer 3 (mocked API): 3 ready addresses awaited from a Service whose only backing is a
// StatefulSet rolled out at 2 replicas: that can never come, so the wait fails at once saying
// why, instead of sitting out its timeout ("2 ready address(es)" after 5 minutes).
#[tokio::test]
async fn an_endpoint_count_no_statefulset_can_give_fails_at_once() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let mut open = vec![];
        while let Some((request, r)) = handle.next_request().await {
            let query = request.uri().query().unwrap_or_default().to_string();
            if query.contains("watch=true") {
                open.push(r);
                continue;
            }
            let empty = |kind: &str| json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "3"}, "items": []});
            let body = match request.uri().path() {
                "/api/v1/namespaces/ns/services/galera" => {
                    json!({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "galera", "namespace": "ns"},
                    "spec": {"clusterIP": "None", "selector": {"app": "galera"}}})
                }
                "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices" => {
                    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList", "metadata": {"resourceVersion": "7"},
                    "items": [{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                        "metadata": {"name": "galera-abc", "namespace": "ns", "resourceVersion": "7"},
                        "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}}, {"addresses": ["10.0.0.2"], "conditions": {"ready": true}}]}]})
                }
                PODS => {
                    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "5"}, "items": [
                    {"metadata": {"name": "galera-0", "namespace": "ns", "labels": {"app": "galera"},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "galera", "uid": "s1"}]}}]})
                }
                "/apis/apps/v1/namespaces/ns/statefulsets" => {
                    json!({"apiVersion": "apps/v1", "kind": "StatefulSetList", "metadata": {"resourceVersion": "5"}, "items": [
                    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "galera", "namespace": "ns", "generation": 2, "resourceVersion": "5"},
                     "spec": {"replicas": 2, "serviceName": "galera", "selector": {"matchLabels": {"app": "galera"}},
                              "template": {"metadata": {"labels": {"app": "galera"}}}},
                     "status": {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "currentReplicas": 2,
                                "currentRevision": "galera-1", "updateRevision": "galera-1"}}]})
                }
                "/apis/apps/v1/namespaces/ns/deployments" => empty("DeploymentList"),
                "/apis/apps/v1/namespaces/ns/daemonsets" => empty("DaemonSetList"),
                "/apis/apps/v1/namespaces/ns/replicasets" => empty("ReplicaSetList"),
                "/api/v1/namespaces/ns/replicationcontrollers" => {
                    empty("ReplicationControllerList")
                }
                other => panic!("unexpected request {other} {query}"),
            };
            respond(r, 200, &body);
        }
    });
    let spec = WaitCondition::Endpoints {
        service: "galera".into(),
        count: 3,
    };
    let started = std::time::Instant::now();
    let err = wait::wait(&client, "ns", &spec, Duration::from_secs(300))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains("Service galera can never have 3 ready addresses: StatefulSet galera is rolled out at 2 replica(s)"),
        "{err}"
    );
    server.abort();
}

#[tokio::test]
async fn namespace_cleanup_refuses_an_unlabelled_namespace_and_deletes_its_own() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let (_, r) = expect(&mut handle, Method::GET, "/api/v1/namespaces/default", &[]).await;
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        );
        // No DELETE may follow for `default`.
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces/h-demo-abc",
            &[],
        )
        .await;
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "h-demo-abc", "labels": labels::ours("run-1", "demo")}}),
        );
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces/h-demo-abc/pods",
            &[],
        )
        .await;
        respond(r, 200, &list(vec![], "5"));
        let (_, r) = expect(
            &mut handle,
            Method::DELETE,
            "/api/v1/namespaces/h-demo-abc",
            &[],
        )
        .await;
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "h-demo-abc"}, "status": {"phase": "Terminating"}}),
        );
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces",
            &["fieldSelector=metadata.name=h-demo-abc"],
        )
        .await;
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": "99"}, "items": []}),
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(200), handle.next_request())
                .await
                .map_or(true, |r| r.is_none()
                    || r.is_some_and(|(req, _)| req.method() != Method::DELETE))
        );
    });
    let err = namespace::delete(&client, "default", "run-1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClusterError::NotOurs(ref what) if what == "namespace default"),
        "{err}"
    );
    let note = namespace::delete(&client, "h-demo-abc", "run-1")
        .await
        .unwrap();
    assert!(
        note.starts_with("namespace h-demo-abc gone after "),
        "{note}"
    );
    drop(client);
    server.await.unwrap();
}

/// A Cassandra pod as the namespace holds it at clean-up: a 60 s grace period and a
/// `nodetool drain` preStop hook.
fn draining_pod(name: &str, deleting: bool) -> Value {
    let mut metadata = json!({"name": name, "namespace": "h-demo-abc"});
    if deleting {
        metadata["deletionTimestamp"] = json!("2026-12-07T10:00:00Z");
    }
    json!({"metadata": metadata, "spec": {"terminationGracePeriodSeconds": 60, "containers": [
        {"name": "cassandra", "image": "cassandra:4.1.11",
         "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "nodetool drain"]}}}}]}})
}

/// Serves a namespace deletion: four draining pods; the namespace's watch reports it gone
/// after `gone_after` (never, if `None`), with the namespace's conditions while it stays.
async fn serve_namespace_deletion(mut handle: Handle, gone_after: Option<Duration>) {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "h-demo-abc", "labels": labels::ours("run-1", "demo"), "resourceVersion": "7"},
        "status": {"phase": "Terminating", "conditions": [
            {"type": "NamespaceFinalizersRemaining", "status": "True",
             "message": "Some content in the namespace has finalizers remaining: kubernetes.io/pvc-protection in 4 resource instances"},
            {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "message": "All resources successfully discovered"}]}});
    let pods = |deleting| {
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "8"},
            "items": (0..4).map(|i| draining_pod(&format!("cassandra-{i}"), deleting)).collect::<Vec<_>>()})
    };
    let mut deleted = false;
    while let Some((request, reply)) = handle.next_request().await {
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        match (request.method().clone(), path.as_str()) {
            (Method::GET, "/api/v1/namespaces/h-demo-abc") => respond(reply, 200, &ns),
            (Method::GET, "/api/v1/namespaces/h-demo-abc/pods") => {
                respond(reply, 200, &pods(deleted))
            }
            (Method::DELETE, "/api/v1/namespaces/h-demo-abc") => {
                deleted = true;
                respond(reply, 200, &ns)
            }
            (Method::GET, "/api/v1/namespaces") if query.contains("watch=true") => {
                let ns = ns.clone();
                tokio::spawn(async move {
                    match gone_after {
                        Some(after) => {
                            tokio::time::sleep(after).await;
                            let body = watch_body(&[("DELETED", ns)]);
                            reply
                                .send_response(Response::builder().body(Body::from(body)).unwrap());
                        }
                        None => {
                            let _open = reply;
                            std::future::pending::<()>().await;
                        }
                    }
                });
            }
            (Method::GET, "/api/v1/namespaces") => respond(
                reply,
                200,
                &json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": "7"}, "items": [ns]}),
            ),
            (method, _) => panic!("unexpected {method} {path}?{query}"),
        }
    }
}

// Layer 3 (mocked API, paused clock): four Cassandra pods with a 60 s grace period and a
// drain hook take 2.5 minutes to go, longer than a fixed 2-minute wait; the namespace wait is
// bounded by what they are entitled to, so that is a clean-up done, saying how long it took.
#[tokio::test(start_paused = true)]
async fn a_namespace_whose_pods_take_their_grace_period_is_waited_for_not_failed() {
    let (client, handle) = mock();
    let server = tokio::spawn(serve_namespace_deletion(
        handle,
        Some(Duration::from_secs(150)),
    ));
    let note = namespace::delete(&client, "h-demo-abc", "run-1")
        .await
        .unwrap();
    assert_eq!(
        note,
        "namespace h-demo-abc gone after 2m 30s (4 pod(s), entitled to 1m 2s to stop)"
    );
    drop(client);
    server.abort();
}

// Layer 3 (mocked API, paused clock): a namespace that really stays past its pods' entitlement
// fails, naming the pods still there and what the namespace controller says holds it.
#[tokio::test(start_paused = true)]
async fn a_namespace_that_stays_past_the_bound_fails_naming_what_keeps_it() {
    let (client, handle) = mock();
    let server = tokio::spawn(serve_namespace_deletion(handle, None));
    let err = namespace::delete(&client, "h-demo-abc", "run-1")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("namespace h-demo-abc still terminating after 3m 2s (4 pod(s), entitled to 1m 2s to stop, waited 2m more)"),
        "{err}"
    );
    assert!(
        err.contains("cassandra-3 (deleting since 2026-12-07T10:00:00Z)")
            && err.contains("NamespaceFinalizersRemaining: Some content in the namespace has finalizers remaining: kubernetes.io/pvc-protection")
            && !err.contains("All resources successfully discovered"),
        "{err}"
    );
    drop(client);
    server.abort();
}

#[tokio::test]
async fn evidence_has_current_and_previous_logs_and_time_sorted_events() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        while let Some((request, reply)) = handle.next_request().await {
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let (code, body): (u16, Value) = match path.as_str() {
                "/api/v1/namespaces/ns/pods" => (
                    200,
                    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
                    {"metadata": {"name": "cassandra-0"}, "spec": {"containers": [{"name": "cassandra", "image": "cassandra:4.1.11"}]}}]}),
                ),
                "/api/v1/namespaces/ns/pods/cassandra-0/log" if query.contains("previous=true") => {
                    reply.send_response(
                        Response::builder()
                            .status(StatusCode::OK)
                            .body(Body::from(b"OutOfMemoryError before restart\n".to_vec()))
                            .unwrap(),
                    );
                    continue;
                }
                "/api/v1/namespaces/ns/pods/cassandra-0/log" => {
                    reply.send_response(
                        Response::builder()
                            .body(Body::from(b"Starting Cassandra\n".to_vec()))
                            .unwrap(),
                    );
                    continue;
                }
                "/api/v1/namespaces/ns/events" => (
                    200,
                    json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": [
                    {"metadata": {"name": "e2"}, "involvedObject": {"kind": "Pod", "name": "cassandra-0"}, "reason": "BackOff", "message": "Back-off restarting", "type": "Warning", "lastTimestamp": "2026-11-22T03:00:10Z"},
                    {"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "cassandra-0"}, "reason": "Pulled", "message": "image pulled", "type": "Normal", "lastTimestamp": "2026-11-22T03:00:01Z"}]}),
                ),
                p if p.starts_with("/api/v1/nodes") => (
                    200,
                    json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": [
                    {"metadata": {"name": "kind-worker"}, "spec": {"unschedulable": true}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}),
                ),
                _ => (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}),
                ),
            };
            respond(reply, code, &body);
        }
    });
    let evidence = evidence::collect(&client, "ns").await;
    let find = |title: &str| {
        evidence
            .iter()
            .find(|e| e.title == title)
            .map(|e| e.body.clone())
            .unwrap_or_else(|| panic!("no {title} in {evidence:?}"))
    };
    assert_eq!(find("logs cassandra-0/cassandra"), "Starting Cassandra\n");
    assert_eq!(
        find("logs cassandra-0/cassandra (previous container)"),
        "OutOfMemoryError before restart\n"
    );
    let events = find("events");
    assert!(
        events.find("Pulled").unwrap() < events.find("BackOff").unwrap(),
        "{events}"
    );
    assert_eq!(
        find("node conditions"),
        "kind-worker: Ready=True (cordoned)"
    );
    // The order of usefulness: events, container states, logs, then objects.
    let kinds: Vec<_> = evidence.iter().map(|e| e.kind).collect();
    let first = |k| kinds.iter().position(|x| *x == k).unwrap();
    use crate::cluster::EvidenceKind::*;
    assert!(first(Events) < first(ContainerStates));
    assert!(first(ContainerStates) < first(Log));
    assert!(first(Log) < first(Objects));
    drop(client);
    server.await.unwrap();
}

fn pod(uid: &str, rv: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "cassandra-1", "namespace": "ns", "uid": uid, "resourceVersion": rv},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
}

#[tokio::test]
async fn delete_pod_fault_waits_for_a_ready_replacement_with_a_new_uid() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/namespaces/ns/pods/cassandra-1",
            &[],
        )
        .await;
        respond(r, 200, &pod("old-uid", "10", true));
        let (_, r) = expect(
            &mut handle,
            Method::DELETE,
            "/api/v1/namespaces/ns/pods/cassandra-1",
            &[],
        )
        .await;
        respond(r, 200, &pod("old-uid", "11", true));
        // The replacement's watch and the crash watch beside it both list, then watch, the
        // pod by name: each gets the same answers.
        while let Some((request, r)) = handle.next_request().await {
            assert_eq!(request.uri().path(), "/api/v1/namespaces/ns/pods");
            let query = request
                .uri()
                .query()
                .unwrap_or_default()
                .replace("%3D", "=");
            assert!(
                query.contains("fieldSelector=metadata.name=cassandra-1"),
                "{query}"
            );
            if !query.contains("watch=true") {
                // Still the old pod, terminating (and still Ready): that must not count.
                respond(
                    r,
                    200,
                    &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "11"}, "items": [pod("old-uid", "11", true)]}),
                );
                continue;
            }
            let body = watch_body(&[
                ("DELETED", pod("old-uid", "12", false)),
                ("ADDED", pod("new-uid", "13", false)),
                ("MODIFIED", pod("new-uid", "14", true)),
            ]);
            r.send_response(Response::builder().body(Body::from(body)).unwrap());
        }
    });
    let fault = Fault::DeletePod {
        name: "cassandra-1".into(),
        wait_for_replacement: true,
    };
    let undo = faults::fault(&client, "ns", &fault, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(undo.is_empty());
    drop(client);
    server.await.unwrap();
}

#[tokio::test]
async fn cordon_patches_the_node_and_registers_an_uncordon() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let (body, r) = expect(
            &mut handle,
            Method::PATCH,
            "/api/v1/nodes/kind-worker2",
            &[],
        )
        .await;
        assert_eq!(body, json!({"spec": {"unschedulable": true}}));
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kind-worker2"}, "spec": {"unschedulable": true}}),
        );
    });
    let fault = Fault::Cordon {
        node: "kind-worker2".into(),
    };
    let undo = faults::fault(&client, "ns", &fault, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(undo, vec![CleanupItem::Uncordon("kind-worker2".into())]);
    server.await.unwrap();
}

/// The backbone's executor through `KubeCluster` on a mocked API server: namespace, apply,
/// a field wait, then clean-up last-in first-out (the ConfigMap before the namespace).
#[tokio::test]
async fn the_executor_runs_a_plan_through_kube_cluster() {
    use crate::report::events::{Collect, Event};
    use crate::runner::Executor;
    use crate::runner::tests::step;
    use crate::steps::Action;
    use crate::steps::apply::Apply;
    use crate::steps::wait::Wait;
    use std::sync::{Arc, Mutex};

    let (client, mut handle) = mock();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = log.clone();
    let ns = "h-demo-run1";
    let labels = labels::ours("run-1", "demo");
    let server = tokio::spawn(async move {
        let configmap = |labels: &std::collections::BTreeMap<String, String>| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": ns, "resourceVersion": "5", "labels": labels}, "data": {"k": "v"}});
        let mut open_watches = vec![];
        while let Some((request, reply)) = handle.next_request().await {
            let (method, path) = (request.method().clone(), request.uri().path().to_string());
            let query = request.uri().query().unwrap_or_default().to_string();
            seen.lock().unwrap().push(format!("{method} {path}"));
            let cm_path = format!("/api/v1/namespaces/{ns}/configmaps/cm");
            let (code, body) = match (method.as_str(), path.as_str()) {
                ("POST", "/api/v1/namespaces") => (
                    201,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                ),
                ("GET", "/api/v1") => (
                    200,
                    json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                    {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap", "verbs": ["create", "delete", "get", "list", "patch", "watch"]}]}),
                ),
                ("GET", p)
                    if p == cm_path
                        && seen
                            .lock()
                            .unwrap()
                            .iter()
                            .filter(|l| l.starts_with("PATCH"))
                            .count()
                            == 0 =>
                {
                    (404, status(404, "NotFound", "configmaps \"cm\" not found"))
                }
                ("GET", p) if p == cm_path => (200, configmap(&labels)),
                ("PATCH", p) if p == cm_path => (200, configmap(&labels)),
                ("GET", p)
                    if p == format!("/api/v1/namespaces/{ns}/configmaps")
                        && !query.contains("watch=true") =>
                {
                    (
                        200,
                        json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "5"}, "items": [configmap(&labels)]}),
                    )
                }
                ("GET", p) if p == format!("/api/v1/namespaces/{ns}/configmaps") => {
                    // The watch stays open: the wait is satisfied by the list.
                    open_watches.push(reply);
                    continue;
                }
                ("DELETE", p) if p == cm_path => (200, configmap(&labels)),
                ("GET", p) if p == format!("/api/v1/namespaces/{ns}") => (
                    200,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}),
                ),
                ("DELETE", p) if p == format!("/api/v1/namespaces/{ns}") => (
                    200,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                ),
                // The pods whose grace periods bound the namespace's deletion: none.
                ("GET", p) if p == format!("/api/v1/namespaces/{ns}/pods") => (
                    200,
                    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "9"}, "items": []}),
                ),
                ("GET", "/api/v1/namespaces") => (
                    200,
                    json!({"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": "9"}, "items": []}),
                ),
                other => panic!("unexpected request {other:?} {query}"),
            };
            respond(reply, code, &body);
        }
    });
    let cluster = KubeCluster::new(client, "mock", "v1.33.0", "run-1");
    let manifest = crate::manifest::Manifest {
        origin: "inline#0".into(),
        object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}}),
    };
    let mut plan = crate::runner::tests::plan(
        vec![
            step(
                "apply",
                Action::Apply(Apply {
                    manifests: vec![manifest],
                }),
            ),
            step(
                "wait",
                Action::Wait(Wait(WaitCondition::Field {
                    kind: "ConfigMap".into(),
                    name: "cm".into(),
                    path: ".data.k".into(),
                    equals: "v".into(),
                })),
            ),
        ],
        vec![],
    );
    plan.run_id = "run-1".into();
    plan.namespace = ns.into();
    let sink = Collect::default();
    let result = Executor {
        cluster: &cluster,
        sink: &sink,
        cancel: Default::default(),
    }
    .run_scenario(&plan)
    .await;
    let events = sink.events();
    assert!(result.passed, "{events:#?}");
    let cleanups: Vec<(String, Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::CleanupFinished { item, outcome, .. } => {
                Some((item.clone(), outcome.failure().map(str::to_string)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        cleanups,
        vec![
            (format!("ConfigMap {ns}/cm"), None),
            (format!("namespace {ns}"), None)
        ]
    );
    let log = log.lock().unwrap().clone();
    let delete_cm = log
        .iter()
        .position(|l| l == &format!("DELETE /api/v1/namespaces/{ns}/configmaps/cm"))
        .unwrap();
    let delete_ns = log
        .iter()
        .position(|l| l == &format!("DELETE /api/v1/namespaces/{ns}"))
        .unwrap();
    assert!(delete_cm < delete_ns, "{log:#?}");
    drop(cluster);
    server.abort();
}

#[tokio::test]
async fn apply_discovers_each_kind_once() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let (_, r) = expect(&mut handle, Method::GET, "/api/v1", &[]).await;
        respond(
            r,
            200,
            &json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap", "verbs": ["get", "patch"]}]}),
        );
        for name in ["a", "b"] {
            let path = format!("/api/v1/namespaces/ns/configmaps/{name}");
            let (_, r) = expect(&mut handle, Method::GET, &path, &[]).await;
            respond(r, 404, &status(404, "NotFound", "not found"));
            let (_, r) = expect(&mut handle, Method::PATCH, &path, &["fieldManager=harness"]).await;
            respond(
                r,
                200,
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
            );
        }
    });
    let cm = |name: &str| crate::manifest::Manifest {
        origin: format!("{name}#0"),
        object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
    };
    let created = apply::apply_all(
        &client,
        "ns",
        &labels::ours("run-1", "s"),
        &[cm("a"), cm("b")],
    )
    .await
    .unwrap();
    assert_eq!(created.len(), 2);
    server.await.unwrap();
}

/// Nodes as kind lists them: a Ready worker, the control plane with its NoSchedule taint, a
/// cordoned worker and one NotReady; only the first counts as schedulable.
#[tokio::test]
async fn nodes_are_judged_schedulable_by_readiness_cordon_and_taints() {
    let (client, mut handle) = mock();
    let ready = json!([{"type": "Ready", "status": "True"}]);
    let server = tokio::spawn(async move {
        let (_, r) = expect(&mut handle, Method::GET, "/api/v1/nodes", &[]).await;
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": [
                {"metadata": {"name": "kind-worker"}, "spec": {},
                 "status": {"conditions": ready, "allocatable": {"cpu": "4", "memory": "8026Mi", "pods": "110"}}},
                {"metadata": {"name": "kind-control-plane"}, "spec": {"taints": [
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
                 "status": {"conditions": ready}},
                {"metadata": {"name": "kind-worker2"}, "spec": {"unschedulable": true}, "status": {"conditions": ready}},
                {"metadata": {"name": "kind-worker3"}, "spec": {"taints": [
                    {"key": "example.com/soft", "effect": "PreferNoSchedule"}]},
                 "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
            ]}),
        );
        // What runs on the nodes already: only unfinished pods count.
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            "/api/v1/pods",
            &["fieldSelector=status.phase!=Succeeded,status.phase!=Failed"],
        )
        .await;
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
                {"metadata": {"name": "coredns", "namespace": "kube-system"},
                 "spec": {"nodeName": "kind-worker", "containers": [
                     {"name": "coredns", "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}}}]}},
                {"metadata": {"name": "kindnet", "namespace": "kube-system"},
                 "spec": {"nodeName": "kind-worker", "containers": [
                     {"name": "kindnet", "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}}}]}}
            ]}),
        );
    });
    let cluster = KubeCluster::new(client, "mock", "v1.33.0", "run-1");
    let nodes = cluster.nodes().await.unwrap();
    server.await.unwrap();
    assert_eq!(
        nodes[0].allocatable,
        Some(crate::capacity::Resources {
            cpu_milli: 4000,
            memory: 8026 << 20
        })
    );
    assert_eq!(
        nodes[0].requested,
        crate::capacity::Resources {
            cpu_milli: 200,
            memory: 120 << 20
        }
    );
    let judged: Vec<(&str, Option<&str>)> = nodes
        .iter()
        .map(|n| (n.name.as_str(), n.unschedulable.as_deref()))
        .collect();
    assert_eq!(
        judged,
        vec![
            ("kind-worker", None),
            (
                "kind-control-plane",
                Some("taint node-role.kubernetes.io/control-plane:NoSchedule")
            ),
            ("kind-worker2", Some("cordoned")),
            ("kind-worker3", Some("not Ready")),
        ]
    );
}

fn db_pod(uid: &str, rv: &str, ready: bool, restarts: i32) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "db-0", "namespace": "ns", "uid": uid, "resourceVersion": rv},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                   "containerStatuses": [{"name": "db", "image": "db", "imageID": "", "ready": ready,
                                          "restartCount": restarts}]}})
}

/// Guards' pod watch on the mocked API: the initial list is marked initial, then each change
/// arrives as it comes: readiness flapping, the restart count going up, the pod deleted.
#[tokio::test]
async fn the_pod_watch_reports_the_list_then_every_change() {
    use crate::cluster::{Observation, Watch};
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let path = "/api/v1/namespaces/ns/pods";
        let (_, r) = expect(&mut handle, Method::GET, path, &["labelSelector=app=db"]).await;
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "10"},
                    "items": [db_pod("u1", "10", true, 2)]}),
        );
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            path,
            &["watch=true", "resourceVersion=10"],
        )
        .await;
        let body = watch_body(&[
            ("MODIFIED", db_pod("u1", "11", false, 2)),
            ("MODIFIED", db_pod("u1", "12", true, 3)),
            ("DELETED", db_pod("u1", "13", true, 3)),
        ]);
        r.send_response(Response::builder().body(Body::from(body)).unwrap());
        // The watcher comes back for more; leave it waiting, as a quiet watch does.
        let _held = handle.next_request().await;
        futures::future::pending::<()>().await;
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let watch = Watch::Pods {
        selector: "app=db".into(),
    };
    let observing = tokio::spawn(async move {
        let _ = observe::observe(&client, "ns", &watch, tx).await;
    });
    let mut seen = vec![];
    for _ in 0..4 {
        let obs = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an observation")
            .expect("the watch goes on");
        let Observation::Pod {
            initial,
            ready,
            restarts,
            gone,
            ..
        } = obs
        else {
            panic!("{obs:?}")
        };
        seen.push((initial, ready, restarts["db"], gone));
    }
    assert_eq!(
        seen,
        vec![
            (true, true, 2, false),
            (false, false, 2, false),
            (false, true, 3, false),
            (false, true, 3, true)
        ]
    );
    observing.abort();
    server.abort();
}

// A rollout whose pod keeps crashing fails at once, quoting the container's last termination
// and its last log lines, instead of waiting out its timeout ("2/3 ready" after 12 minutes).
#[tokio::test]
async fn a_wait_fails_early_when_its_pod_keeps_crashing() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let mut open = vec![];
        while let Some((request, reply)) = handle.next_request().await {
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            match (path.as_str(), query.contains("watch=true")) {
                ("/apis/apps/v1/namespaces/ns/statefulsets", false) => {
                    respond(reply, 200, &list(vec![statefulset("5", 2, 3)], "5"))
                }
                (PODS, false) => {
                    let crashing = json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "cassandra-1", "namespace": "ns", "resourceVersion": "6",
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "cassandra", "uid": "u1"}]},
                        "status": {"phase": "Running", "containerStatuses": [{"name": "cassandra", "image": "x", "imageID": "", "ready": false,
                            "restartCount": 3,
                            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                            "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "message": "Only binlog_format='ROW' is currently supported"}}}]}});
                    let other = json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "unrelated", "namespace": "ns", "resourceVersion": "6"},
                        "status": {"containerStatuses": [{"name": "x", "image": "x", "imageID": "", "ready": false, "restartCount": 9,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
                    respond(reply, 200, &list(vec![other, crashing], "6"));
                }
                ("/api/v1/namespaces/ns/pods/cassandra-1/log", _) => {
                    assert!(
                        query.contains("previous=true") && query.contains("container=cassandra"),
                        "{query}"
                    );
                    reply.send_response(
                        Response::builder()
                            .body(Body::from(
                                "starting\n[ERROR] Aborting\n".as_bytes().to_vec(),
                            ))
                            .unwrap(),
                    );
                }
                (_, true) => open.push(reply),
                other => panic!("unexpected request {other:?}"),
            }
        }
    });
    let spec = WaitCondition::Rollout {
        kind: RolloutKind::StatefulSet,
        name: "cassandra".into(),
        every_node: false,
    };
    let started = std::time::Instant::now();
    let err = wait::wait(&client, "ns", &spec, Duration::from_secs(600))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains("pod cassandra-1 keeps crashing")
            && err.contains("restarted 3 times")
            && err.contains("Error (exit code 1): Only binlog_format='ROW'")
            && err.contains("[ERROR] Aborting"),
        "{err}"
    );
    assert!(!err.contains("unrelated"), "{err}");
    server.abort();
}

// The readiness check's wait: a named pod that turns not Ready is seen by its watch.
#[tokio::test]
async fn a_pod_not_ready_wait_returns_when_the_pod_turns_not_ready() {
    let (client, mut handle) = mock();
    let pod = |rv: &str, ready: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "galera-ss-2", "namespace": "ns", "resourceVersion": rv},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}})
    };
    let server = tokio::spawn(async move {
        let (_, r) = expect(
            &mut handle,
            Method::GET,
            PODS,
            &["fieldSelector=metadata.name=galera-ss-2"],
        )
        .await;
        respond(r, 200, &list(vec![pod("1", "True")], "1"));
        let (_, r) = expect(&mut handle, Method::GET, PODS, &["watch=true"]).await;
        r.send_response(
            Response::builder()
                .body(Body::from(watch_body(&[("MODIFIED", pod("2", "False"))])))
                .unwrap(),
        );
    });
    let spec = WaitCondition::PodNotReady {
        name: "galera-ss-2".into(),
    };
    let found = wait::wait(&client, "ns", &spec, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(found, "pod galera-ss-2 not Ready");
    server.await.unwrap();
}

/// A running `db-0` whose container `db` has restarted `restarts` times.
fn running_db_pod(rv: &str, restarts: i32) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "db-0", "namespace": "ns", "uid": "u1", "resourceVersion": rv},
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "db", "image": "db", "imageID": "", "ready": true,
                                          "restartCount": restarts, "state": {"running": {}}}]}})
}

/// Serves the log guard's requests by path, whatever their order: the pod list, a quiet
/// watch, the pod itself, and its log (`log` gives the status and body).
async fn serve_log_guard(mut handle: Handle, log: (u16, &'static str)) {
    let mut held = vec![];
    while let Some((request, reply)) = handle.next_request().await {
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        match path.as_str() {
            "/api/v1/namespaces/ns/pods" if query.contains("watch=true") => held.push(reply),
            "/api/v1/namespaces/ns/pods" => {
                respond(reply, 200, &list(vec![running_db_pod("5", 0)], "5"))
            }
            "/api/v1/namespaces/ns/pods/db-0" => respond(reply, 200, &running_db_pod("5", 0)),
            "/api/v1/namespaces/ns/pods/db-0/log" => {
                assert!(query.contains("follow=true"), "{query}");
                assert!(query.contains("container=db"), "{query}");
                reply.send_response(
                    Response::builder()
                        .status(log.0)
                        .body(Body::from(log.1.as_bytes().to_vec()))
                        .unwrap(),
                );
            }
            other => panic!("unexpected request {other}?{query}"),
        }
    }
}

async fn log_observations(
    log: (u16, &'static str),
    count: usize,
) -> Vec<crate::cluster::Observation> {
    use crate::cluster::Watch;
    let (client, handle) = mock();
    let server = tokio::spawn(serve_log_guard(handle, log));
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let watch = Watch::Logs {
        pods: crate::cluster::Selection::Selector("app=db".into()),
        container: None,
    };
    let observing = tokio::spawn(async move {
        let _ = observe::observe(&client, "ns", &watch, tx).await;
    });
    let mut seen = vec![];
    for _ in 0..count {
        let obs = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an observation")
            .expect("the watch goes on");
        seen.push(obs);
    }
    observing.abort();
    server.abort();
    seen
}

// Layer 3 (mocked API): the log guard says when it begins to follow a container's log, then
// passes on each line.
#[tokio::test]
async fn the_log_watch_says_what_it_follows_then_every_line() {
    use crate::cluster::Observation;
    let seen = log_observations((200, "ready\n[ERROR] disk full\n"), 3).await;
    assert_eq!(
        seen,
        vec![
            Observation::LogFollowed {
                pod: "db-0".into(),
                container: "db".into(),
                restarts: 0,
                error: None
            },
            Observation::LogLine {
                pod: "db-0".into(),
                container: "db".into(),
                line: "ready".into()
            },
            Observation::LogLine {
                pod: "db-0".into(),
                container: "db".into(),
                line: "[ERROR] disk full".into()
            },
        ]
    );
}

// Layer 3 (mocked API): a log the API refuses while its container still runs is reported, so
// the guard does not pass over what it could not read.
#[tokio::test]
async fn a_log_that_cannot_be_followed_while_its_container_runs_is_reported() {
    use crate::cluster::Observation;
    let seen = log_observations((500, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":500,"reason":"InternalError","message":"kubelet unreachable","metadata":{}}"#), 1).await;
    let [
        Observation::LogFollowed {
            pod,
            container,
            error: Some(error),
            ..
        },
    ] = seen.as_slice()
    else {
        panic!("{seen:?}")
    };
    assert_eq!((pod.as_str(), container.as_str()), ("db-0", "db"));
    assert!(error.contains("kubelet unreachable"), "{error}");
}

// Layer 3 (mocked API): `delete_pod`'s wait for the replacement fails at once when the new pod
// keeps crashing (it can never turn Ready), quoting its last termination and log lines, as
// `wait` steps do, instead of sitting out its timeout.
#[tokio::test]
async fn a_replacement_that_keeps_crashing_fails_the_fault_at_once() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let mut open = vec![];
        while let Some((request, reply)) = handle.next_request().await {
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let method = request.method().clone();
            let old = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "galera-1", "namespace": "ns", "uid": "old", "resourceVersion": "5"}});
            let new = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "galera-1", "namespace": "ns", "uid": "new", "resourceVersion": "7"},
                "status": {"phase": "Running", "containerStatuses": [{"name": "mariadb", "image": "x", "imageID": "", "ready": false,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "message": "WSREP: failed to open gcomm backend connection"}}}]}});
            match (method, path.as_str(), query.contains("watch=true")) {
                (Method::GET, "/api/v1/namespaces/ns/pods/galera-1", _) => {
                    respond(reply, 200, &old)
                }
                (Method::DELETE, "/api/v1/namespaces/ns/pods/galera-1", _) => {
                    respond(reply, 200, &old)
                }
                (Method::GET, PODS, false) => respond(reply, 200, &list(vec![new], "7")),
                (Method::GET, "/api/v1/namespaces/ns/pods/galera-1/log", _) => reply.send_response(
                    Response::builder()
                        .body(Body::from(b"WSREP: gcomm: connect failed\n".to_vec()))
                        .unwrap(),
                ),
                (_, _, true) => open.push(reply),
                other => panic!("unexpected request {other:?} {query}"),
            }
        }
    });
    let fault = Fault::DeletePod {
        name: "galera-1".into(),
        wait_for_replacement: true,
    };
    let started = std::time::Instant::now();
    let err = faults::fault(&client, "ns", &fault, Duration::from_secs(300))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains("the replacement of galera-1 cannot become Ready")
            && err.contains("restarted 3 times")
            && err.contains("failed to open gcomm backend connection")
            && err.contains("WSREP: gcomm: connect failed"),
        "{err}"
    );
    server.abort();
}

// Layer 3 (mocked API, paused clock): a rollout that never completes says, at its deadline,
// which of its pods are not Ready and why (their state and the conditions that are not True),
// not only "2/3 ready".
#[tokio::test(start_paused = true)]
async fn a_rollout_that_times_out_names_its_pods_that_are_not_ready_and_why() {
    let (client, mut handle) = mock();
    let server = tokio::spawn(async move {
        let mut open = vec![];
        while let Some((request, reply)) = handle.next_request().await {
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let owner = json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "cassandra", "uid": "u1"}]);
            let ready = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "cassandra-0", "namespace": "ns", "resourceVersion": "6", "ownerReferences": owner},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
            let stuck = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "cassandra-2", "namespace": "ns", "resourceVersion": "6", "ownerReferences": owner},
                "status": {"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [cassandra]"}],
                    "containerStatuses": [{"name": "cassandra", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                        "state": {"running": {}}}]}});
            match (path.as_str(), query.contains("watch=true")) {
                ("/apis/apps/v1/namespaces/ns/statefulsets", false) => {
                    respond(reply, 200, &list(vec![statefulset("5", 2, 3)], "5"))
                }
                (PODS, false) => respond(reply, 200, &list(vec![ready, stuck], "6")),
                (_, true) => open.push(reply),
                other => panic!("unexpected request {other:?}"),
            }
        }
    });
    let spec = WaitCondition::Rollout {
        kind: RolloutKind::StatefulSet,
        name: "cassandra".into(),
        every_node: false,
    };
    let err = wait::wait(&client, "ns", &spec, Duration::from_secs(300))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not ready: cassandra-2 Running; Ready=False (ContainersNotReady: containers with unready status: [cassandra])"),
        "{err}"
    );
    assert!(!err.contains("cassandra-0"), "{err}");
    server.abort();
}

// Layer 3 (mocked API): `rollout: { kind: DaemonSet, every_node: true }`. A DaemonSet whose
// nodeSelector picks one node of three rolls out "1/1"; waiting for it on every node fails at
// once naming the nodes left out, and passes when each schedulable node has its Ready pod.
#[tokio::test]
async fn a_daemonset_on_every_node_counts_the_nodes_not_its_own_desired_number() {
    for covered in [vec!["w1"], vec!["w1", "w2", "w3"]] {
        let (client, mut handle) = mock();
        let on = covered.clone();
        let server = tokio::spawn(async move {
            let mut open = vec![];
            while let Some((request, reply)) = handle.next_request().await {
                let path = request.uri().path().to_string();
                let query = request.uri().query().unwrap_or_default().to_string();
                let n = on.len() as i64;
                match (path.as_str(), query.contains("watch=true")) {
                    ("/apis/apps/v1/namespaces/ns/daemonsets", false) => respond(
                        reply,
                        200,
                        &list(
                            vec![json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                                "metadata": {"name": "mcrouter", "namespace": "ns", "generation": 1, "resourceVersion": "4"},
                                "spec": {"selector": {"matchLabels": {"app": "mcrouter"}}, "template": {}},
                                "status": {"observedGeneration": 1, "desiredNumberScheduled": n, "currentNumberScheduled": n,
                                    "numberMisscheduled": 0, "numberReady": n, "numberAvailable": n, "updatedNumberScheduled": n}})],
                            "4",
                        ),
                    ),
                    ("/api/v1/nodes", false) => {
                        let node = |name: &str| {
                            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
                        };
                        respond(
                            reply,
                            200,
                            &json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "1"},
                            "items": [node("w1"), node("w2"), node("w3")]}),
                        );
                    }
                    (PODS, false) => {
                        let pods: Vec<Value> = on.iter().map(|node| json!({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": format!("mcrouter-{node}"), "namespace": "ns", "resourceVersion": "5",
                                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "mcrouter", "uid": "d1"}]},
                            "spec": {"nodeName": node, "containers": []},
                            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})).collect();
                        respond(reply, 200, &list(pods, "5"));
                    }
                    (_, true) => open.push(reply),
                    other => panic!("unexpected request {other:?}"),
                }
            }
        });
        let spec = WaitCondition::Rollout {
            kind: RolloutKind::DaemonSet,
            name: "mcrouter".into(),
            every_node: true,
        };
        let started = std::time::Instant::now();
        let got = wait::wait(&client, "ns", &spec, Duration::from_secs(300)).await;
        assert!(started.elapsed() < Duration::from_secs(10));
        if covered.len() == 1 {
            let err = got.unwrap_err().to_string();
            assert!(
                err.contains("has a Ready pod on 1 of the 3 schedulable nodes: none on w2, w3"),
                "{err}"
            );
        } else {
            let done = got.unwrap();
            assert!(
                done.contains("a Ready pod on each of the 3 schedulable node(s)"),
                "{done}"
            );
        }
        server.abort();
    }
}

/// Serves one named object to list and watch (discovery of its kind included), the watch
/// left open: a wait on it sees it once. Other lists (the pods a crash watch follows) are
/// empty, their watches open.
async fn serve_one(
    mut handle: Handle,
    discovery: (&'static str, Value),
    collection: String,
    list_kind: &'static str,
    object: Value,
) {
    let mut open = vec![];
    while let Some((request, r)) = handle.next_request().await {
        let query = request.uri().query().unwrap_or_default().to_string();
        let path = request.uri().path().to_string();
        if path == discovery.0 {
            respond(r, 200, &discovery.1);
        } else if path == collection && query.contains("watch=true") {
            open.push(r);
        } else if path == collection {
            respond(
                r,
                200,
                &json!({"kind": list_kind, "apiVersion": "v1", "metadata": {"resourceVersion": "5"}, "items": [object.clone()]}),
            );
        } else if query.contains("watch=true") {
            open.push(r);
        } else if path == PODS {
            respond(
                r,
                200,
                &json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "5"}, "items": []}),
            );
        } else {
            panic!("unexpected request {path} {query}");
        }
    }
}

// Layer 3 (mocked API): a wait for `.spec.clusterIP` to be `None` on a Service created with a
// cluster IP can never succeed (the API server refuses to change it): it fails at once saying
// so, not after its 5 minutes.
#[tokio::test]
async fn a_wait_for_an_immutable_field_that_holds_another_value_fails_at_once() {
    let (client, handle) = mock();
    let server = tokio::spawn(serve_one(
        handle,
        (
            "/api/v1",
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "services", "singularName": "service", "namespaced": true, "kind": "Service", "verbs": ["get", "list", "watch"]}]}),
        ),
        "/api/v1/namespaces/ns/services".into(),
        "ServiceList",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "galera", "namespace": "ns", "resourceVersion": "5"},
            "spec": {"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"], "selector": {"app": "galera"}}}),
    ));
    let spec = WaitCondition::Field {
        kind: "Service".into(),
        name: "galera".into(),
        path: ".spec.clusterIP".into(),
        equals: "None".into(),
    };
    let started = std::time::Instant::now();
    let err = wait::wait(&client, "ns", &spec, Duration::from_secs(300))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains(".spec.clusterIP is 10.96.0.5, waiting for None")
            && err.contains("Service field .spec.clusterIP cannot change once set"),
        "{err}"
    );
    drop(client);
    server.abort();
}

// Layer 3 (mocked API): a rollout awaited of a StatefulSet that is being deleted can never
// come: the wait fails at once naming the deletion.
#[tokio::test]
async fn a_wait_on_an_object_being_deleted_fails_at_once() {
    let (client, handle) = mock();
    let server = tokio::spawn(serve_one(
        handle,
        ("/never-asked", json!({})),
        "/apis/apps/v1/namespaces/ns/statefulsets".into(),
        "StatefulSetList",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "galera", "namespace": "ns", "generation": 1, "resourceVersion": "5",
                "deletionTimestamp": "2026-12-07T10:00:00Z", "finalizers": ["example.com/hold"]},
            "spec": {"replicas": 3, "serviceName": "galera", "selector": {"matchLabels": {"app": "galera"}},
                "template": {"metadata": {"labels": {"app": "galera"}}}},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1}}),
    ));
    let spec = WaitCondition::Rollout {
        kind: crate::cluster::RolloutKind::StatefulSet,
        name: "galera".into(),
        every_node: false,
    };
    let started = std::time::Instant::now();
    let err = wait::wait(&client, "ns", &spec, Duration::from_secs(300))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains("StatefulSet galera is being deleted (since 2026-12-07"),
        "{err}"
    );
    drop(client);
    server.abort();
}

/// Serves a pause of `galera-ss-1` up to the agent's creation, which admission refuses:
/// first for Pod Security (the harness labels its namespace `privileged` and tries again),
/// then as `second` says. Returns the requests seen.
async fn agent_refused(
    mut handle: Handle,
    second: (u16, &'static str, &'static str),
) -> Vec<String> {
    let mut seen = vec![];
    let mut posts = 0;
    while let Some((request, r)) = handle.next_request().await {
        let (method, path) = (
            request.method().to_string(),
            request.uri().path().to_string(),
        );
        seen.push(format!("{method} {path}"));
        match (method.as_str(), path.as_str()) {
            ("GET", "/api/v1/namespaces/ns/pods/galera-ss-1") => respond(
                r,
                200,
                &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "galera-ss-1", "namespace": "ns"},
                    "spec": {"nodeName": "w1", "containers": [{"name": "mariadb", "image": "x"}]},
                    "status": {"podIP": "10.244.1.7", "containerStatuses": [{"name": "mariadb", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
                        "containerID": "containerd://d654ab798652fb794aedd35bbcb31c60c20d48fea4aae030d8da12e20b3b08b1"}]}}),
            ),
            ("GET", "/api/v1/namespaces/ns/pods/harness-fault-agent-w1") => respond(
                r,
                404,
                &status(404, "NotFound", "pods \"harness-fault-agent-w1\" not found"),
            ),
            ("GET", "/api/v1/namespaces/ns") | ("PATCH", "/api/v1/namespaces/ns") => respond(
                r,
                200,
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "labels": {"harness.scenario": "galera-partition"}}}),
            ),
            ("POST", "/api/v1/namespaces/ns/pods") => {
                posts += 1;
                if posts == 1 {
                    respond(
                        r,
                        403,
                        &status(
                            403,
                            "Forbidden",
                            "pods \"harness-fault-agent-w1\" is forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostPID=true), non-default capabilities",
                        ),
                    );
                } else {
                    respond(r, second.0, &status(second.0, second.1, second.2));
                }
            }
            other => panic!("unexpected request {other:?}"),
        }
    }
    seen
}

// Layer 3 (mocked API): the fault agent refused by Pod Security is retried once the harness
// labelled its own namespace `privileged`; refused again (a policy engine), the pause fails
// with a plain message saying what the agent needs, before anything was changed (no heal was
// registered).
#[tokio::test]
async fn a_fault_agent_refused_by_admission_fails_the_fault_saying_what_it_needs() {
    let (client, handle) = mock();
    let server = tokio::spawn(agent_refused(
        handle,
        (
            403,
            "Forbidden",
            "admission webhook \"validate.kyverno.svc\" denied the request: hostPID is not allowed",
        ),
    ));
    let cluster = KubeCluster::new(client, "mock", "v1.33.0", "run-1");
    let registered = std::sync::Mutex::new(vec![]);
    let fault = Fault::Pause {
        pod: "galera-ss-1".into(),
        container: None,
        lasting: None,
    };
    let err = crate::cluster::Cluster::inject(
        &cluster,
        "ns",
        "freeze",
        &fault,
        Duration::from_secs(30),
        &|item| registered.lock().unwrap().push(item),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("the fault agent was refused on node w1: admission webhook \"validate.kyverno.svc\" denied the request")
            && err.contains("host's PID namespace and the capabilities SYS_ADMIN, NET_ADMIN, SYS_PTRACE and KILL"),
        "{err}"
    );
    assert!(
        registered.lock().unwrap().is_empty(),
        "nothing changed, nothing to heal"
    );
    drop(cluster);
    let seen = server.await.unwrap();
    assert_eq!(
        seen.iter().filter(|s| s.starts_with("POST")).count(),
        2,
        "tried again after labelling the namespace: {seen:?}"
    );
    assert!(
        seen.contains(&"PATCH /api/v1/namespaces/ns".to_string()),
        "{seen:?}"
    );
}

/// A node host that records what it was asked.
#[derive(Default)]
struct RecordingNodes(std::sync::Mutex<Vec<String>>);

#[async_trait::async_trait]
impl crate::cluster::NodeHost for RecordingNodes {
    async fn fail(&self, node: &str, how: crate::cluster::NodeFault) -> Result<String, String> {
        self.0.lock().unwrap().push(format!("fail {node} {how:?}"));
        Ok(format!("docker kill {node}"))
    }
    async fn restore(&self, node: &str, how: crate::cluster::NodeFault) -> Result<String, String> {
        self.0
            .lock()
            .unwrap()
            .push(format!("restore {node} {how:?}"));
        Ok(format!("docker start {node}"))
    }
}

/// Serves the Node `kind-worker2` with its Ready condition `ready`, its watch left open.
async fn serve_node(mut handle: Handle, ready: &'static str) {
    let mut open = vec![];
    while let Some((request, r)) = handle.next_request().await {
        let query = request.uri().query().unwrap_or_default().to_string();
        assert_eq!(request.uri().path(), "/api/v1/nodes", "{query}");
        if query.contains("watch=true") {
            open.push(r);
            continue;
        }
        respond(
            r,
            200,
            &json!({"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "3"}, "items": [
                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kind-worker2", "resourceVersion": "3"},
                 "status": {"conditions": [{"type": "Ready", "status": ready, "message": "Kubelet stopped posting node status."}]}}]}),
        );
    }
}

// Layer 3 (mocked API, a recording node host): a node stopped through the provider is proven
// down by its Ready condition, and the proof marks the step's timeline; its start is
// registered before it is touched. A node that stays
// Ready fails the fault saying so; a provider that owns no nodes says it cannot.
#[tokio::test]
async fn a_node_fault_is_proven_by_the_node_turning_not_ready() {
    let fault = Fault::Node {
        name: "kind-worker2".into(),
        how: crate::cluster::NodeFault::Stop,
        lasting: None,
    };
    let (client, handle) = mock();
    let server = tokio::spawn(serve_node(handle, "Unknown"));
    let nodes = std::sync::Arc::new(RecordingNodes::default());
    let cluster =
        KubeCluster::new(client, "kind", "v1.33.0", "run-1").with_node_host(nodes.clone());
    let registered = std::sync::Mutex::new(vec![]);
    let journal = crate::journal::Journal::new();
    let said = journal
        .scope(crate::cluster::Cluster::inject(
            &cluster,
            "ns",
            "lose-worker2",
            &fault,
            Duration::from_secs(30),
            &|item| registered.lock().unwrap().push(item.to_string()),
        ))
        .await
        .unwrap();
    assert_eq!(
        said,
        "node kind-worker2 not Ready (Ready=Unknown: Kubelet stopped posting node status.)"
    );
    // The proof is a mark on the step's timeline, when it was seen.
    let marks = journal.take_measured().marks;
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(
        marks[0].what,
        "in effect: node kind-worker2 not Ready (Ready=Unknown: Kubelet stopped posting node status.)"
    );
    assert_eq!(
        *registered.lock().unwrap(),
        vec!["heal fault `lose-worker2` (start node kind-worker2)".to_string()]
    );
    assert_eq!(
        *nodes.0.lock().unwrap(),
        vec!["fail kind-worker2 Stop".to_string()]
    );
    drop(cluster);
    server.abort();

    let (client, handle) = mock();
    let server = tokio::spawn(serve_node(handle, "True"));
    let cluster = KubeCluster::new(client, "kind", "v1.33.0", "run-1")
        .with_node_host(std::sync::Arc::new(RecordingNodes::default()));
    let err = crate::cluster::Cluster::inject(
        &cluster,
        "ns",
        "lose-worker2",
        &fault,
        Duration::from_secs(1),
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "node fault had no effect: kind-worker2 stayed Ready after `docker kill kind-worker2`"
        ),
        "{err}"
    );
    drop(cluster);
    server.abort();

    let (client, _handle) = mock();
    let cluster = KubeCluster::new(client, "existing", "v1.33.0", "run-1");
    let err = crate::cluster::Cluster::inject(
        &cluster,
        "ns",
        "x",
        &fault,
        Duration::from_secs(1),
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("needs a provider that owns the nodes' machines"),
        "{err}"
    );
}

/// Serves a drain of node `w2`: galera-ss-1 (a StatefulSet's) and mcrouter-x (a DaemonSet's)
/// run there; evicting galera-ss-1 is refused (429) until the budget allows a disruption,
/// which it does on its first watch event when `frees` (else never). Returns the requests.
async fn serve_drain(mut handle: Handle, frees: bool) -> Vec<String> {
    let pdb = |allowed: i32, rv: &str| {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "galera-pdb", "namespace": "ns", "resourceVersion": rv},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "galera-ss"}}},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 3}})
    };
    let pod = |name: &str, owner: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns", "resourceVersion": "4",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner, "name": "x", "uid": "u", "controller": true}]},
            "spec": {"nodeName": "w2", "containers": [{"name": "c", "image": "i"}]}})
    };
    let (mut seen, mut open, mut evicted, mut pod_lists) = (vec![], vec![], false, 0);
    while let Some((request, r)) = handle.next_request().await {
        let (method, path) = (
            request.method().to_string(),
            request.uri().path().to_string(),
        );
        let query = request.uri().query().unwrap_or_default().to_string();
        seen.push(format!("{method} {path}"));
        match (method.as_str(), path.as_str()) {
            ("PATCH", "/api/v1/nodes/w2") => respond(
                r,
                200,
                &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w2"}}),
            ),
            ("GET", PODS) if query.contains("watch=true") => open.push(r),
            ("GET", PODS) => {
                pod_lists += 1;
                let items = if pod_lists == 1 {
                    vec![
                        pod("galera-ss-1", "StatefulSet"),
                        pod("mcrouter-x", "DaemonSet"),
                    ]
                } else {
                    vec![pod("mcrouter-x", "DaemonSet")]
                };
                respond(
                    r,
                    200,
                    &json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "5"}, "items": items}),
                );
            }
            ("POST", "/api/v1/namespaces/ns/pods/galera-ss-1/eviction") => {
                if evicted
                    || (frees && seen.iter().filter(|s| s.ends_with("/eviction")).count() > 1)
                {
                    evicted = true;
                    respond(
                        r,
                        201,
                        &json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
                    );
                } else {
                    respond(
                        r,
                        429,
                        &status(
                            429,
                            "TooManyRequests",
                            "Cannot evict pod as it would violate the pod's disruption budget.",
                        ),
                    );
                }
            }
            ("GET", "/apis/policy/v1/namespaces/ns/poddisruptionbudgets")
                if query.contains("watch=true") =>
            {
                if frees {
                    r.send_response(
                        Response::builder()
                            .body(Body::from(watch_body(&[("MODIFIED", pdb(1, "9"))])))
                            .unwrap(),
                    );
                } else {
                    open.push(r);
                }
            }
            ("GET", "/apis/policy/v1/namespaces/ns/poddisruptionbudgets") => respond(
                r,
                200,
                &json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudgetList", "metadata": {"resourceVersion": "8"}, "items": [pdb(0, "8")]}),
            ),
            other => panic!("unexpected request {other:?} {query}"),
        }
    }
    seen
}

// Layer 3 (mocked API): a drain cordons the node (its uncordon registered first), evicts the
// scenario's pods there through the Eviction API and leaves DaemonSet pods; an eviction a
// budget refuses is tried again when the budget changes, and one it refuses to the deadline
// fails naming the budget.
#[tokio::test]
async fn a_drain_evicts_through_budgets_and_names_one_that_blocks() {
    let fault = Fault::Drain { node: "w2".into() };
    let (client, handle) = mock();
    let server = tokio::spawn(serve_drain(handle, true));
    let cluster = KubeCluster::new(client, "kind", "v1.33.0", "run-1");
    let registered = std::sync::Mutex::new(vec![]);
    let said = crate::cluster::Cluster::inject(
        &cluster,
        "ns",
        "drain-w2",
        &fault,
        Duration::from_secs(20),
        &|i| registered.lock().unwrap().push(i.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(
        said,
        "node w2 cordoned and drained: 1 pod(s) evicted (galera-ss-1)"
    );
    assert_eq!(
        *registered.lock().unwrap(),
        vec!["uncordon node w2".to_string()]
    );
    drop(cluster);
    server.abort();

    let (client, handle) = mock();
    let server = tokio::spawn(serve_drain(handle, false));
    let cluster = KubeCluster::new(client, "kind", "v1.33.0", "run-1");
    let started = std::time::Instant::now();
    let err = crate::cluster::Cluster::inject(
        &cluster,
        "ns",
        "drain-w2",
        &fault,
        Duration::from_secs(2),
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains("evicting galera-ss-1: refused until the deadline")
            && err.contains(
                "PodDisruptionBudget galera-pdb allows 0 disruptions (2 of 2 desired healthy)"
            ),
        "{err}"
    );
    drop(cluster);
    server.abort();
}
