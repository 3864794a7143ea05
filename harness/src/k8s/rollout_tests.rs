//! Layer 3 (mocked API): rollouts against a StatefulSet controller played by the test, which
//! answers as the API server and the StatefulSet controller do: a template patch makes a new
//! update revision; under RollingUpdate the pods move to it (or one crash-loops); under
//! OnDelete they move only when deleted; an undo puts back the previous ControllerRevision's
//! template. Watches are left open and quiet: every state is read at list time.

use super::*;
use crate::cluster::{Change, Rollout, RolloutKind};
use http::{Method, Response};
use kube::client::Body;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::tests::{Handle, Reply, mock, respond};

const STS: &str = "/apis/apps/v1/namespaces/ns/statefulsets";
const PODS: &str = "/api/v1/namespaces/ns/pods";

/// How the played controller behaves after a template change.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// Every pod moves to the new revision and is Ready.
    Rolls,
    /// The new pod crash-loops; the rest stay old.
    Stalls,
    /// Nothing moves until a pod is deleted.
    OnDelete,
    /// RollingUpdate with `partition: 2`: only the pods from ordinal 2 move.
    Partitioned,
}

struct Controller {
    behaviour: Behaviour,
    generation: i64,
    observed: i64,
    current: String,
    update: String,
    /// Each pod's (uid, revision, crashing).
    pods: Vec<(String, String, bool)>,
    patches: Vec<Value>,
    deleted: Vec<String>,
}

impl Controller {
    fn new(behaviour: Behaviour) -> Self {
        Self {
            behaviour,
            generation: 1,
            observed: 1,
            current: "galera-ss-old".into(),
            update: "galera-ss-old".into(),
            pods: (0..3)
                .map(|i| (format!("uid-{i}"), "galera-ss-old".into(), false))
                .collect(),
            patches: vec![],
            deleted: vec![],
        }
    }

    fn updated(&self) -> usize {
        self.pods.iter().filter(|p| p.1 == self.update).count()
    }

    fn ready(&self) -> usize {
        self.pods.iter().filter(|p| !p.2).count()
    }

    fn sts(&self) -> Value {
        let strategy = match self.behaviour {
            Behaviour::OnDelete => json!({"type": "OnDelete"}),
            Behaviour::Partitioned => {
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
            }
            _ => json!({"type": "RollingUpdate"}),
        };
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": "galera-ss", "namespace": "ns", "generation": self.generation, "resourceVersion": "5"},
               "spec": {"replicas": 3, "serviceName": "galera", "selector": {"matchLabels": {"app": "galera-ss"}},
                        "updateStrategy": strategy,
                        "template": {"metadata": {"labels": {"app": "galera-ss"}},
                                     "spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.4.4"}]}}},
               "status": {"observedGeneration": self.observed, "replicas": 3, "readyReplicas": self.ready(),
                          "updatedReplicas": self.updated(), "currentRevision": self.current, "updateRevision": self.update}})
    }

    fn pod(&self, i: usize) -> Value {
        let (uid, revision, crashing) = &self.pods[i];
        let container = if *crashing {
            json!({"name": "mariadb", "ready": false, "restartCount": 5, "image": "mariadb:11.8.2", "imageID": "",
                   "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}})
        } else {
            json!({"name": "mariadb", "ready": true, "restartCount": 0, "image": "i", "imageID": "", "state": {"running": {}}})
        };
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("galera-ss-{i}"), "namespace": "ns", "uid": uid, "resourceVersion": "5",
                            "labels": {"app": "galera-ss", "controller-revision-hash": revision},
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "galera-ss", "uid": "s"}]},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if *crashing {"False"} else {"True"}}],
                          "containerStatuses": [container]}})
    }

    /// A template patch: a new revision, and the controller's reaction.
    fn patched(&mut self, patch: Value) {
        self.patches.push(patch);
        self.generation += 1;
        self.observed = self.generation;
        self.update = format!("galera-ss-r{}", self.generation);
        match self.behaviour {
            Behaviour::Rolls => {
                for p in &mut self.pods {
                    p.0.push_str("-new");
                    p.1 = self.update.clone();
                }
                self.current = self.update.clone();
            }
            Behaviour::Stalls => {
                // The highest ordinal first, as the controller goes: it never becomes Ready.
                self.pods[2] = ("uid-2-new".into(), self.update.clone(), true);
            }
            Behaviour::OnDelete => {}
            Behaviour::Partitioned => {
                self.pods[2] = ("uid-2-new".into(), self.update.clone(), false);
            }
        }
    }

    fn delete(&mut self, i: usize) {
        self.deleted.push(format!("galera-ss-{i}"));
        self.pods[i] = (format!("uid-{i}-new"), self.update.clone(), false);
        if self.updated() == 3 {
            self.current = self.update.clone();
        }
    }
}

/// The next request that is not a watch (watches are kept open and quiet, in `open`):
/// method, path, query and body.
async fn next(
    handle: &mut Handle,
    open: &mut Vec<Reply>,
) -> Option<(Method, String, String, Vec<u8>, Reply)> {
    while let Some((request, reply)) = handle.next_request().await {
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        let method = request.method().clone();
        let body = request.into_body().collect_bytes().await.unwrap().to_vec();
        if query.contains("watch=true") {
            open.push(reply);
            continue;
        }
        return Some((method, path, query, body, reply));
    }
    None
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "5"}, "items": items})
}

/// Plays the API server and the controller until the client goes away.
async fn serve(mut handle: Handle, c: Arc<Mutex<Controller>>) {
    let mut open = vec![];
    while let Some((method, path, query, body, reply)) = next(&mut handle, &mut open).await {
        let mut c = c.lock().unwrap();
        match (method, path.as_str()) {
            (Method::GET, p) if p == format!("{STS}/galera-ss") => respond(reply, 200, &c.sts()),
            (Method::PATCH, p) if p == format!("{STS}/galera-ss") => {
                c.patched(serde_json::from_slice(&body).unwrap());
                respond(reply, 200, &c.sts());
            }
            (Method::GET, STS) => respond(reply, 200, &list("StatefulSetList", vec![c.sts()])),
            (Method::GET, PODS) => {
                let pods = (0..3).map(|i| c.pod(i)).collect();
                respond(reply, 200, &list("PodList", pods))
            }
            (Method::GET, "/apis/apps/v1/namespaces/ns/controllerrevisions") => respond(
                reply,
                200,
                &list(
                    "ControllerRevisionList",
                    vec![
                        json!({"metadata": {"name": "galera-ss-old", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "galera-ss", "uid": "s"}]},
                               "revision": 1, "data": {"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.4.4"}]}}}}}),
                        json!({"metadata": {"name": c.update.clone(), "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "galera-ss", "uid": "s"}]},
                               "revision": 2, "data": {"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.8.2"}]}}}}}),
                        json!({"metadata": {"name": "someone-else-old", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "other", "uid": "o"}]},
                               "revision": 1, "data": {"spec": {}}}),
                    ],
                ),
            ),
            (m, p) if p.starts_with(&format!("{PODS}/galera-ss-")) => {
                let rest = &p[PODS.len() + 1..];
                let i: usize = rest
                    .trim_start_matches("galera-ss-")
                    .split('/')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                if rest.ends_with("/log") {
                    reply.send_response(
                        Response::builder()
                            .body(Body::from(
                                "mariadbd: unknown option '--x'\n".as_bytes().to_vec(),
                            ))
                            .unwrap(),
                    );
                } else if m == Method::DELETE {
                    let pod = c.pod(i);
                    c.delete(i);
                    respond(reply, 200, &pod);
                } else {
                    respond(reply, 200, &c.pod(i));
                }
            }
            (m, p) => panic!("unexpected {m} {p}?{query}"),
        }
    }
}

async fn roll(
    behaviour: Behaviour,
    change: Change,
    timeout: Duration,
) -> (
    Result<String, crate::cluster::ClusterError>,
    Arc<Mutex<Controller>>,
) {
    roll_from(Controller::new(behaviour), change, timeout).await
}

/// Rolls `change` through the StatefulSet `controller` plays, from its state now.
async fn roll_from(
    controller: Controller,
    change: Change,
    timeout: Duration,
) -> (
    Result<String, crate::cluster::ClusterError>,
    Arc<Mutex<Controller>>,
) {
    let (client, handle) = mock();
    let c = Arc::new(Mutex::new(controller));
    let server = tokio::spawn(serve(handle, c.clone()));
    let r = Rollout {
        kind: RolloutKind::StatefulSet,
        name: "galera-ss".into(),
        change,
    };
    let result = rollout::rollout(&client, "ns", &r, timeout).await;
    drop(client);
    server.abort();
    (result, c)
}

fn new_image() -> Change {
    Change::Image {
        container: "mariadb".into(),
        image: "mariadb:11.8.2".into(),
    }
}

// An image rolled through a RollingUpdate StatefulSet: the patch names the container and the
// image, and the step ends when the controller has every pod at the new revision.
#[tokio::test]
async fn an_image_rolls_through_every_pod_to_the_new_revision() {
    let (result, c) = roll(Behaviour::Rolls, new_image(), Duration::from_secs(10)).await;
    let said = result.unwrap();
    assert!(
        said.starts_with(
            "StatefulSet/galera-ss: image of mariadb to mariadb:11.8.2 (was revision galera-ss-old)"
        ),
        "{said}"
    );
    assert!(
        said.contains("3/3 replicas ready at revision galera-ss-r2"),
        "{said}"
    );
    let c = c.lock().unwrap();
    assert_eq!(
        c.patches,
        vec![
            json!({"spec": {"template": {"spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.8.2"}]}}}})
        ]
    );
}

// A new pod that crash-loops stops the rollout at once, naming the pod and quoting its last
// state and log, not at the end of the step's timeout.
#[tokio::test]
async fn a_stalled_rollout_fails_early_naming_the_crashing_pod() {
    let started = std::time::Instant::now();
    let (result, _) = roll(Behaviour::Stalls, new_image(), Duration::from_secs(120)).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("galera-ss-2")
            && err.contains("keeps crashing")
            && err.contains("unknown option"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "failed only after {:?}",
        started.elapsed()
    );
}

// OnDelete: nothing moves by itself, so the rollout deletes each pod, highest ordinal first,
// and waits for its replacement at the new revision before the next.
#[tokio::test]
async fn on_delete_pods_are_replaced_one_at_a_time_highest_first() {
    let (result, c) = roll(Behaviour::OnDelete, new_image(), Duration::from_secs(10)).await;
    let said = result.unwrap();
    let c = c.lock().unwrap();
    assert_eq!(c.deleted, vec!["galera-ss-2", "galera-ss-1", "galera-ss-0"]);
    for i in (0..3).rev() {
        assert!(
            said.contains(&format!(
                "galera-ss-{i} replaced: Ready at revision galera-ss-r2"
            )),
            "{said}"
        );
    }
    assert!(
        said.contains("3/3 replicas ready at revision galera-ss-r2"),
        "{said}"
    );
}

// An undo patches back the template of the revision before the current one (this
// StatefulSet's, not another's), as `kubectl rollout undo` does.
#[tokio::test]
async fn an_undo_puts_back_the_previous_revisions_template() {
    // The StatefulSet is at revision 2 (galera-ss-r2) after an upgrade.
    let mut upgraded = Controller::new(Behaviour::Rolls);
    upgraded.patched(json!({}));
    let (result, c) = roll_from(upgraded, Change::Undo, Duration::from_secs(10)).await;
    let said = result.unwrap();
    assert!(
        said.contains("undo to the previous revision (was revision galera-ss-r2)"),
        "{said}"
    );
    let c = c.lock().unwrap();
    assert_eq!(
        c.patches.last().unwrap(),
        &json!({"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.4.4"}]}}}})
    );
}

// A container the template does not have is refused before anything changes.
#[tokio::test]
async fn a_container_the_template_lacks_is_refused_before_any_change() {
    let wrong = Change::Image {
        container: "mysql".into(),
        image: "x".into(),
    };
    let (result, c) = roll(Behaviour::Rolls, wrong, Duration::from_secs(5)).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("no container `mysql` (it has: mariadb)"),
        "{err}"
    );
    assert!(c.lock().unwrap().patches.is_empty());
}

// A partitioned rollout (a canary): only the ordinals from the partition move, and the
// rollout is done then, though the StatefulSet's current revision stays the old one.
#[tokio::test]
async fn a_partitioned_rollout_is_done_when_the_ordinals_from_it_moved() {
    let (result, c) = roll(Behaviour::Partitioned, new_image(), Duration::from_secs(10)).await;
    let said = result.unwrap();
    assert!(
        said.contains(
            "partitioned rollout complete: 1 pod(s) from ordinal 2 at revision galera-ss-r2"
        ),
        "{said}"
    );
    let c = c.lock().unwrap();
    assert_eq!(c.current, "galera-ss-old");
    assert!(c.deleted.is_empty());
}

/// Plays a Deployment at revision 2 with its two ReplicaSets (and another Deployment's), done
/// rolling at once after a patch; records the patches.
async fn serve_deployment(mut handle: Handle, patches: Arc<Mutex<Vec<Value>>>) {
    let mut open = vec![];
    let deployment = |generation: i64| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "app", "namespace": "ns", "generation": generation, "resourceVersion": "5",
                            "annotations": {"deployment.kubernetes.io/revision": "2"}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "app"}},
                        "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "app", "image": "app:2"}]}}},
               "status": {"observedGeneration": generation, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2}})
    };
    let set = |name: &str, revision: &str, owner: &str, image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": name, "namespace": "ns", "annotations": {"deployment.kubernetes.io/revision": revision},
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner, "uid": "d"}]},
               "spec": {"selector": {"matchLabels": {"app": "app"}},
                        "template": {"metadata": {"labels": {"app": "app", "pod-template-hash": name}}, "spec": {"containers": [{"name": "app", "image": image}]}}}})
    };
    let mut generation = 1;
    while let Some((method, path, query, body, reply)) = next(&mut handle, &mut open).await {
        match (method, path.as_str()) {
            (Method::GET, "/apis/apps/v1/namespaces/ns/deployments/app") => {
                respond(reply, 200, &deployment(generation))
            }
            (Method::PATCH, "/apis/apps/v1/namespaces/ns/deployments/app") => {
                patches
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                generation += 1;
                respond(reply, 200, &deployment(generation));
            }
            (Method::GET, "/apis/apps/v1/namespaces/ns/deployments") => respond(
                reply,
                200,
                &list("DeploymentList", vec![deployment(generation)]),
            ),
            (Method::GET, "/apis/apps/v1/namespaces/ns/replicasets") => respond(
                reply,
                200,
                &list(
                    "ReplicaSetList",
                    vec![
                        set("app-5d8", "1", "app", "app:1"),
                        set("app-7f9", "2", "app", "app:2"),
                        set("other-1a2", "1", "other", "other:1"),
                    ],
                ),
            ),
            (Method::GET, PODS) => respond(reply, 200, &list("PodList", vec![])),
            (m, p) => panic!("unexpected {m} {p}?{query}"),
        }
    }
}

// A Deployment's undo takes its previous ReplicaSet's template (not another Deployment's),
// without the pod-template-hash label, and replaces the current template whole.
#[tokio::test]
async fn a_deployment_undo_puts_back_its_previous_replicasets_template() {
    let (client, handle) = mock();
    let patches = Arc::new(Mutex::new(vec![]));
    let server = tokio::spawn(serve_deployment(handle, patches.clone()));
    let r = Rollout {
        kind: RolloutKind::Deployment,
        name: "app".into(),
        change: Change::Undo,
    };
    let said = rollout::rollout(&client, "ns", &r, Duration::from_secs(10))
        .await
        .unwrap();
    drop(client);
    server.abort();
    assert!(
        said.contains("(was revision 2)") && said.contains("2/2 replicas available"),
        "{said}"
    );
    assert_eq!(
        patches.lock().unwrap().clone(),
        vec![json!({"spec": {"template": {"$patch": "replace",
                                          "metadata": {"labels": {"app": "app"}},
                                          "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}})]
    );
}
