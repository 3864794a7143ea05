//! Rollouts: a change to a workload's pod template (an image, environment values, a restart
//! annotation, or the template of the revision before, as `kubectl rollout undo` takes it),
//! then the wait until the controller says it is done (`conditions`, by its own rules:
//! revisions, partitions). Where a StatefulSet's strategy is `OnDelete` the pods change only
//! when deleted, so this deletes them one at a time, highest ordinal first, each replaced,
//! at the new revision and Ready before the next. Each pod seen Ready at the new revision is
//! marked on the step's timeline; a crash-looping new pod fails the rollout at once.

use super::{api_error, conditions, watch};
use crate::cluster::{Change, ClusterError, Rollout, RolloutKind, WaitCondition};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::watcher::Config;
use kube::{Api, Client};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

pub async fn rollout(
    client: &Client,
    ns: &str,
    r: &Rollout,
    timeout: Duration,
) -> Result<String, ClusterError> {
    let deadline = Instant::now() + timeout;
    let what = format!("{}/{}", r.kind.as_str(), r.name);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource(r.kind)?);
    let object = api.get(&r.name).await.map_err(|e| api_error(&what, e))?;
    let object = serde_json::to_value(&object).map_err(|e| ClusterError::Api(e.to_string()))?;
    let before = revision_of(r.kind, &object);
    let patch = match &r.change {
        Change::Undo => undo_patch(client, ns, r, &object).await?,
        change => template_patch(change, &object, &chrono::Utc::now().to_rfc3339())
            .map_err(|e| ClusterError::Api(format!("{what}: {e}")))?,
    };
    api.patch(&r.name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .map_err(|e| api_error(&format!("changing {what}"), e))?;
    let mut said = vec![format!("{what}: {} (was {before})", r.change.describe())];
    let on_delete = r.kind == RolloutKind::StatefulSet
        && object
            .pointer("/spec/updateStrategy/type")
            .and_then(Value::as_str)
            == Some("OnDelete");
    let selector = selector_of(&object);
    let marking = mark_replacements(client, ns, &selector, r.kind, left(deadline));
    let rolled = async {
        if on_delete {
            said.extend(one_pod_at_a_time(client, ns, &r.name, deadline).await?);
        }
        let condition = WaitCondition::Rollout {
            kind: r.kind,
            name: r.name.clone(),
            every_node: false,
        };
        super::wait::wait(client, ns, &condition, left(deadline)).await
    };
    // The marks are a side show: however their watch ends, the rollout's own wait decides.
    let marking = async {
        let _ = marking.await;
        std::future::pending::<String>().await
    };
    let done = tokio::select! {
        done = rolled => done?,
        never = marking => never,
    };
    said.push(done);
    Ok(said.join("\n"))
}

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn resource(kind: RolloutKind) -> Result<ApiResource, ClusterError> {
    match kind {
        RolloutKind::StatefulSet => Ok(ApiResource::erase::<StatefulSet>(&())),
        RolloutKind::Deployment => Ok(ApiResource::erase::<Deployment>(&())),
        RolloutKind::DaemonSet => Ok(ApiResource::erase::<DaemonSet>(&())),
        other => Err(ClusterError::Api(format!(
            "a {} has no rollout (its pods do not change with its template)",
            other.as_str()
        ))),
    }
}

/// Where the workload's revision stands, in words.
pub fn revision_of(kind: RolloutKind, object: &Value) -> String {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match kind {
        RolloutKind::StatefulSet => text("/status/updateRevision")
            .map_or("no revision yet".into(), |r| format!("revision {r}")),
        RolloutKind::Deployment => text("/metadata/annotations/deployment.kubernetes.io~1revision")
            .map_or("no revision yet".into(), |r| format!("revision {r}")),
        _ => format!(
            "generation {}",
            object
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
        ),
    }
}

/// The names of the template's containers (init containers included).
pub fn containers_of(object: &Value) -> Vec<String> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|k| object.pointer(&format!("/spec/template/spec/{k}")))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The strategic merge patch for an image, environment or restart change. A container the
/// template does not have is refused (a strategic merge would add it).
pub fn template_patch(change: &Change, object: &Value, now: &str) -> Result<Value, String> {
    let named = |container: &str| {
        let have = containers_of(object);
        if have.iter().any(|c| c == container) {
            Ok(())
        } else {
            Err(format!(
                "its template has no container `{container}` (it has: {})",
                have.join(", ")
            ))
        }
    };
    let init = |container: &str| {
        object
            .pointer("/spec/template/spec/initContainers")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.get("name").and_then(Value::as_str) == Some(container))
            })
    };
    let list = |container: &str| {
        if init(container) {
            "initContainers"
        } else {
            "containers"
        }
    };
    Ok(match change {
        Change::Image { container, image } => {
            named(container)?;
            json!({"spec": {"template": {"spec": {list(container): [{"name": container, "image": image}]}}}})
        }
        Change::Env { container, values } => {
            named(container)?;
            let env: Vec<Value> = values
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            json!({"spec": {"template": {"spec": {list(container): [{"name": container, "env": env}]}}}})
        }
        Change::Restart => {
            json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}})
        }
        Change::Undo => return Err("an undo is not a template change".into()),
    })
}

/// Of the revisions (number, name) a workload has, the one just before `current`.
pub fn previous_revision(revisions: &[(i64, String)], current: i64) -> Option<&(i64, String)> {
    revisions
        .iter()
        .filter(|(n, _)| *n < current)
        .max_by_key(|(n, _)| *n)
}

fn owned_by(meta: &kube::api::ObjectMeta, kind: RolloutKind, name: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == kind.as_str() && o.name == name)
}

/// The patch that puts back the template of the revision before the current one: a
/// StatefulSet's or DaemonSet's ControllerRevision holds it as a strategic merge patch; a
/// Deployment's previous ReplicaSet holds the template itself (without its
/// `pod-template-hash`), which replaces the current one whole.
async fn undo_patch(
    client: &Client,
    ns: &str,
    r: &Rollout,
    object: &Value,
) -> Result<Value, ClusterError> {
    let what = format!("{}/{}", r.kind.as_str(), r.name);
    let none = || ClusterError::Api(format!("{what} has no earlier revision to undo to"));
    if r.kind == RolloutKind::Deployment {
        let sets = Api::<ReplicaSet>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
            .map_err(|e| api_error("listing ReplicaSets", e))?;
        let number = |meta: &kube::api::ObjectMeta| {
            meta.annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                .and_then(|v| v.parse::<i64>().ok())
        };
        let current = object
            .pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(none)?;
        let owned: Vec<&ReplicaSet> = sets
            .items
            .iter()
            .filter(|s| owned_by(&s.metadata, r.kind, &r.name))
            .collect();
        let numbered: Vec<(i64, String)> = owned
            .iter()
            .filter_map(|s| Some((number(&s.metadata)?, s.metadata.name.clone()?)))
            .collect();
        let (_, previous) = previous_revision(&numbered, current).ok_or_else(none)?;
        let set = owned
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(previous))
            .ok_or_else(none)?;
        let mut template = serde_json::to_value(set.spec.template.as_ref())
            .map_err(|e| ClusterError::Api(e.to_string()))?;
        return Ok(deployment_undo(&mut template));
    }
    let revisions = Api::<ControllerRevision>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error("listing ControllerRevisions", e))?;
    let owned: Vec<&ControllerRevision> = revisions
        .items
        .iter()
        .filter(|c| owned_by(&c.metadata, r.kind, &r.name))
        .collect();
    let numbered: Vec<(i64, String)> = owned
        .iter()
        .filter_map(|c| Some((c.revision?, c.metadata.name.clone()?)))
        .collect();
    let current = match r.kind {
        RolloutKind::StatefulSet => {
            let update = object
                .pointer("/status/updateRevision")
                .and_then(Value::as_str);
            numbered
                .iter()
                .find(|(_, n)| Some(n.as_str()) == update)
                .map(|(n, _)| *n)
        }
        _ => numbered.iter().map(|(n, _)| *n).max(),
    }
    .ok_or_else(none)?;
    let (_, previous) = previous_revision(&numbered, current).ok_or_else(none)?;
    let revision = owned
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(previous))
        .ok_or_else(none)?;
    match &revision.data.0 {
        Value::Null => Err(none()),
        data => Ok(data.clone()),
    }
}

/// A Deployment's previous template as a patch that replaces the current one.
pub fn deployment_undo(template: &mut Value) -> Value {
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("pod-template-hash");
    }
    if let Some(t) = template.as_object_mut() {
        t.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The workload's pod selector (`matchLabels`), as a label selector.
fn selector_of(object: &Value) -> String {
    object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The revision label a pod carries for its controller.
fn revision_label(kind: RolloutKind) -> &'static str {
    match kind {
        RolloutKind::Deployment => "pod-template-hash",
        _ => "controller-revision-hash",
    }
}

/// Marks on the step's timeline each pod of the workload that turns Ready with a revision it
/// did not have when the rollout began (runs until dropped, or `timeout`).
async fn mark_replacements(
    client: &Client,
    ns: &str,
    selector: &str,
    kind: RolloutKind,
    timeout: Duration,
) -> Result<String, ClusterError> {
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    let label = revision_label(kind);
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut marked: std::collections::BTreeSet<(String, String)> = Default::default();
    watch::until_quietly(api, Config::default().labels(selector), timeout, |pods| {
        for (name, p) in pods {
            let revision = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(label))
                .cloned()
                .unwrap_or_default();
            let was = first
                .entry(name.clone())
                .or_insert_with(|| revision.clone());
            if *was != revision
                && conditions::pod_is_ready(p)
                && marked.insert((name.clone(), revision.clone()))
            {
                crate::journal::mark(format!("{name} Ready at revision {revision}"));
            }
        }
        Err("marking".to_string())
    })
    .await
}

/// `OnDelete`: each pod not at the update revision is deleted, highest ordinal first, and
/// its replacement waited for (at the new revision and Ready) before the next.
async fn one_pod_at_a_time(
    client: &Client,
    ns: &str,
    name: &str,
    deadline: Instant,
) -> Result<Vec<String>, ClusterError> {
    let sets = Api::<StatefulSet>::namespaced(client.clone(), ns);
    let by_name = |n: &str| Config::default().fields(&format!("metadata.name={n}"));
    // The controller must have seen the change to name the new revision.
    watch::until(sets.clone(), by_name(name), left(deadline), |m| {
        let s = m.get(name).ok_or("not seen yet")?;
        let observed = s.status.as_ref().and_then(|st| st.observed_generation);
        if observed < s.metadata.generation {
            return Err("the controller has not observed the change yet".to_string());
        }
        Ok("observed".to_string())
    })
    .await?;
    let set = sets
        .get(name)
        .await
        .map_err(|e| api_error(&format!("StatefulSet {name}"), e))?;
    let replicas = set.spec.replicas.unwrap_or(1);
    let update = set
        .status
        .and_then(|st| st.update_revision)
        .unwrap_or_default();
    let update = update.as_str();
    let pods = Api::<Pod>::namespaced(client.clone(), ns);
    let mut said = vec![];
    for ordinal in (0..replicas).rev() {
        let pod = format!("{name}-{ordinal}");
        let Some(p) = pods
            .get_opt(&pod)
            .await
            .map_err(|e| api_error(&format!("pod {pod}"), e))?
        else {
            continue;
        };
        let at = p
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("controller-revision-hash"))
            .map(String::as_str);
        if at == Some(update) {
            continue;
        }
        let uid = p.metadata.uid.clone().unwrap_or_default();
        pods.delete(&pod, &DeleteParams::default())
            .await
            .map_err(|e| api_error(&format!("deleting pod {pod}"), e))?;
        let done = watch::until_settled(pods.clone(), by_name(&pod), left(deadline), |m| {
            replaced_at_revision(m.get(&pod), &pod, &uid, update)
        })
        .await?;
        said.push(done);
    }
    Ok(said)
}

/// Whether `pod` was replaced (a new UID), at `revision` and Ready; a replacement that
/// crash-loops never will be.
pub fn replaced_at_revision(
    pod: Option<&Pod>,
    name: &str,
    old_uid: &str,
    revision: &str,
) -> watch::Progress {
    use watch::Progress::{Done, Never, Waiting};
    let Some(p) = pod else {
        return Waiting(format!("{name} deleted, its replacement not created yet"));
    };
    if p.metadata.uid.as_deref() == Some(old_uid) {
        return Waiting(format!("{name} still the old pod (terminating)"));
    }
    let at = p
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("controller-revision-hash"))
        .map(String::as_str)
        .unwrap_or("none");
    if at != revision {
        return Waiting(format!("{name} recreated at revision {at}, not {revision}"));
    }
    if let Some((container, restarts, last)) = conditions::crash_loop(p) {
        return Never(format!(
            "{name} at revision {revision} keeps crashing: container {container} restarted {restarts} times; last terminated: {last}"
        ));
    }
    if !conditions::pod_is_ready(p) {
        return Waiting(conditions::why_not_ready(p));
    }
    Done(format!("{name} replaced: Ready at revision {revision}"))
}

#[cfg(test)]
mod tests {
    //! Layer 1 (pure): the patches, the revision before, and an OnDelete replacement's
    //! progress.
    use super::*;

    fn sts() -> Value {
        json!({"metadata": {"name": "galera-ss", "generation": 4},
               "spec": {"selector": {"matchLabels": {"app": "galera-ss"}},
                        "template": {"spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.4.4"}],
                                              "initContainers": [{"name": "register", "image": "curl"}]}}},
               "status": {"updateRevision": "galera-ss-7d9f"}})
    }

    #[test]
    fn template_patches_name_the_container_and_refuse_one_it_lacks() {
        let image = Change::Image {
            container: "mariadb".into(),
            image: "mariadb:11.8.2".into(),
        };
        assert_eq!(
            template_patch(&image, &sts(), "t").unwrap(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.8.2"}]}}}})
        );
        let init = Change::Image {
            container: "register".into(),
            image: "curl:2".into(),
        };
        assert!(
            template_patch(&init, &sts(), "t")
                .unwrap()
                .pointer("/spec/template/spec/initContainers")
                .is_some()
        );
        let env = Change::Env {
            container: "mariadb".into(),
            values: [("MARIADB_X".to_string(), "1".to_string())].into(),
        };
        assert_eq!(
            template_patch(&env, &sts(), "t")
                .unwrap()
                .pointer("/spec/template/spec/containers/0/env"),
            Some(&json!([{"name": "MARIADB_X", "value": "1"}]))
        );
        let restart = template_patch(&Change::Restart, &sts(), "2026-12-08T00:00:00Z").unwrap();
        assert_eq!(
            restart
                .pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"),
            Some(&json!("2026-12-08T00:00:00Z"))
        );
        let wrong = Change::Image {
            container: "mysql".into(),
            image: "x".into(),
        };
        assert_eq!(
            template_patch(&wrong, &sts(), "t").unwrap_err(),
            "its template has no container `mysql` (it has: mariadb, register)"
        );
        assert_eq!(
            revision_of(RolloutKind::StatefulSet, &sts()),
            "revision galera-ss-7d9f"
        );
        assert_eq!(selector_of(&sts()), "app=galera-ss");
    }

    #[test]
    fn undo_goes_to_the_revision_just_before_the_current_one() {
        let revisions = vec![
            (1, "a".to_string()),
            (3, "c".to_string()),
            (2, "b".to_string()),
        ];
        assert_eq!(previous_revision(&revisions, 3).unwrap().1, "b");
        assert_eq!(previous_revision(&revisions, 2).unwrap().1, "a");
        assert!(previous_revision(&revisions, 1).is_none());
        let mut template =
            json!({"metadata": {"labels": {"app": "x", "pod-template-hash": "5d8"}}, "spec": {}});
        let patch = deployment_undo(&mut template);
        assert_eq!(
            patch,
            json!({"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "x"}}, "spec": {}}}})
        );
    }

    fn pod(uid: &str, revision: &str, ready: bool, crashing: bool) -> Pod {
        let state = if crashing {
            json!({"waiting": {"reason": "CrashLoopBackOff"}})
        } else {
            json!({"running": {}})
        };
        serde_json::from_value(json!({
            "metadata": {"name": "galera-ss-2", "uid": uid, "labels": {"controller-revision-hash": revision}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                       "containerStatuses": [{"name": "mariadb", "ready": ready, "restartCount": if crashing {4} else {0}, "image": "i", "imageID": "",
                                              "state": state,
                                              "lastState": if crashing { json!({"terminated": {"exitCode": 1, "reason": "Error"}}) } else { json!({}) }}]}
        }))
        .unwrap()
    }

    #[test]
    fn an_on_delete_replacement_is_done_at_the_new_revision_and_ready() {
        use watch::Progress::*;
        let r = |p: Option<&Pod>| replaced_at_revision(p, "galera-ss-2", "old", "galera-ss-7d9f");
        assert!(matches!(r(None), Waiting(_)));
        assert!(
            matches!(r(Some(&pod("old", "galera-ss-1a2b", true, false))), Waiting(w) if w.contains("old pod"))
        );
        assert!(
            matches!(r(Some(&pod("new", "galera-ss-1a2b", true, false))), Waiting(w) if w.contains("not galera-ss-7d9f"))
        );
        assert!(matches!(
            r(Some(&pod("new", "galera-ss-7d9f", false, false))),
            Waiting(_)
        ));
        assert!(
            matches!(r(Some(&pod("new", "galera-ss-7d9f", false, true))), Never(w) if w.contains("keeps crashing"))
        );
        assert!(matches!(
            r(Some(&pod("new", "galera-ss-7d9f", true, false))),
            Done(_)
        ));
    }
}
