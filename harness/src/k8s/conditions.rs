//! Wait conditions as small pure functions, in the style of kube-runtime's `wait::Condition`:
//! each looks at the latest state and says either what it found (`Ok`) or why the wait must go
//! on (`Err`), which is what a timeout reports as the last state seen.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::Value;

pub type Check = Result<String, String>;

fn generation_seen(generation: Option<i64>, observed: Option<i64>) -> Result<(), String> {
    match (generation, observed) {
        (Some(g), Some(o)) if o >= g => Ok(()),
        (None, _) => Ok(()),
        (Some(g), o) => Err(format!(
            "the controller has not observed generation {g} yet (observed {})",
            o.map_or("none".into(), |o| o.to_string())
        )),
    }
}

/// StatefulSet rollout complete, by the controller's own rules (as `kubectl rollout status`
/// reads them): generation observed, every replica ready, and every pod the strategy updates
/// at `updateRevision` (with a `partition`, the ordinals from it; otherwise all, and
/// `currentRevision == updateRevision`). While waiting it says how many pods are at the new
/// revision; with `OnDelete`, that pods take it only when deleted.
pub fn statefulset_rolled_out(s: &StatefulSet) -> Check {
    let want = s.spec.replicas.unwrap_or(1);
    let st = s.status.clone().unwrap_or_default();
    generation_seen(s.metadata.generation, st.observed_generation)?;
    let strategy = s.spec.update_strategy.as_ref();
    let on_delete = strategy.and_then(|u| u.type_.as_deref()) == Some("OnDelete");
    let partition = strategy
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .clamp(0, want);
    let ready = st.ready_replicas.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    let revision = st.update_revision.clone().unwrap_or_default();
    if st.replicas != want || ready != want {
        return Err(format!(
            "{ready}/{want} ready, {updated}/{want} updated, {} existing",
            st.replicas
        ));
    }
    if partition > 0 && !on_delete {
        let must = want - partition;
        if updated < must {
            return Err(format!(
                "{updated} of the {must} pod(s) from ordinal {partition} at revision {revision}"
            ));
        }
        return Ok(format!(
            "partitioned rollout complete: {updated} pod(s) from ordinal {partition} at revision {revision}, {want}/{want} ready"
        ));
    }
    if updated != want {
        return Err(format!(
            "{updated} of {want} pods at revision {revision}{}",
            if on_delete {
                " (updateStrategy OnDelete: a pod takes the new revision only when it is deleted)"
            } else {
                ""
            }
        ));
    }
    if st.current_revision != st.update_revision {
        return Err(format!(
            "currentRevision {:?} differs from updateRevision {:?}",
            st.current_revision, st.update_revision
        ));
    }
    Ok(format!(
        "{want}/{want} replicas ready at revision {revision}"
    ))
}

pub fn deployment_rolled_out(d: &Deployment) -> Check {
    let want = d.spec.replicas.unwrap_or(1);
    let st = d.status.clone().unwrap_or_default();
    generation_seen(d.metadata.generation, st.observed_generation)?;
    let (total, updated, available) = (
        st.replicas.unwrap_or(0),
        st.updated_replicas.unwrap_or(0),
        st.available_replicas.unwrap_or(0),
    );
    if updated != want || available != want || total != want {
        return Err(format!(
            "{available}/{want} available, {updated}/{want} updated, {total} existing"
        ));
    }
    Ok(format!("{want}/{want} replicas available"))
}

pub fn daemonset_rolled_out(d: &DaemonSet) -> Check {
    let st = d.status.clone().unwrap_or_default();
    generation_seen(d.metadata.generation, st.observed_generation)?;
    let want = st.desired_number_scheduled;
    let (updated, available, ready) = (
        st.updated_number_scheduled.unwrap_or(0),
        st.number_available.unwrap_or(0),
        st.number_ready,
    );
    if want == 0 {
        return Err("no node is scheduled to run it (desiredNumberScheduled is 0)".into());
    }
    if updated != want || available != want || ready != want {
        return Err(format!(
            "{ready}/{want} ready, {available}/{want} available, {updated}/{want} updated"
        ));
    }
    Ok(format!("{want}/{want} nodes ready"))
}

pub fn replicaset_ready(r: &ReplicaSet) -> Check {
    let want = r.spec.replicas.unwrap_or(1);
    let st = r.status.clone().unwrap_or_default();
    generation_seen(r.metadata.generation, st.observed_generation)?;
    replicas_ready(want, st.replicas, st.ready_replicas.unwrap_or(0))
}

pub fn replication_controller_ready(r: &ReplicationController) -> Check {
    let want = r.spec.as_ref().and_then(|x| x.replicas).unwrap_or(1);
    let st = r.status.clone().unwrap_or_default();
    generation_seen(r.metadata.generation, st.observed_generation)?;
    replicas_ready(want, st.replicas, st.ready_replicas.unwrap_or(0))
}

fn replicas_ready(want: i32, existing: i32, ready: i32) -> Check {
    if ready != want || existing != want {
        return Err(format!("{ready}/{want} ready, {existing} existing"));
    }
    Ok(format!("{want}/{want} replicas ready"))
}

/// At least `count` ready replicas, read from `.status.readyReplicas` (any workload kind).
pub fn at_least_ready(object: &Value, count: i64) -> Check {
    let ready = object
        .pointer("/status/readyReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if ready >= count {
        Ok(format!("{ready} ready replicas (wanted {count})"))
    } else {
        Err(format!("{ready}/{count} ready replicas"))
    }
}

/// Why pods cannot be scheduled on a node (`None` when they can): not Ready, cordoned, or a
/// NoSchedule / NoExecute taint (kind's control plane has one when there are workers).
pub fn node_unschedulable(node: &k8s_openapi::api::core::v1::Node) -> Option<String> {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    if !ready {
        return Some("not Ready".into());
    }
    let spec = node.spec.as_ref();
    if spec.and_then(|s| s.unschedulable).unwrap_or(false) {
        return Some("cordoned".into());
    }
    spec.and_then(|s| s.taints.as_ref())
        .and_then(|taints| {
            taints
                .iter()
                .find(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        })
        .map(|t| format!("taint {}:{}", t.key, t.effect))
}

/// The status of every container of a pod, init containers (sidecars among them) first.
pub fn container_statuses(
    p: &Pod,
) -> impl Iterator<Item = &k8s_openapi::api::core::v1::ContainerStatus> {
    p.status.iter().flat_map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    })
}

/// How many restarts with the container waiting in back-off make a pod "crash-looping": a wait
/// for it fails at once instead of running out its timeout.
pub const CRASH_LOOP_RESTARTS: i32 = 3;

/// A container of `p` that keeps crashing: `(container, restarts, its last termination)`.
pub fn crash_loop(p: &Pod) -> Option<(String, i32, String)> {
    container_statuses(p).find_map(|c| {
        let waiting = c.state.as_ref()?.waiting.as_ref()?;
        if waiting.reason.as_deref() != Some("CrashLoopBackOff")
            || c.restart_count < CRASH_LOOP_RESTARTS
        {
            return None;
        }
        let last = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| {
                format!(
                    "{} (exit code {}){}",
                    t.reason.as_deref().unwrap_or("terminated"),
                    t.exit_code,
                    t.message
                        .as_deref()
                        .map(|m| format!(": {}", m.trim()))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "no termination recorded".into());
        Some((c.name.clone(), c.restart_count, last))
    })
}

/// Whether a pod belongs to what a wait waits for: a workload `kind`/`name` (its own pods, or
/// for a Deployment its ReplicaSets' pods), or pods by name or selector.
pub fn owned_by(p: &Pod, kind: &str, name: &str) -> bool {
    p.metadata.owner_references.iter().flatten().any(|o| {
        (o.kind == kind && o.name == name)
            || (kind == "Deployment"
                && o.kind == "ReplicaSet"
                && o.name
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('-')))
    })
}

pub fn pod_is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_state(p: &Pod) -> String {
    let phase = p
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    let waiting: Vec<String> = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| {
            cs.iter()
                .filter_map(|c| {
                    c.state
                        .as_ref()?
                        .waiting
                        .as_ref()?
                        .reason
                        .clone()
                        .map(|r| format!("{}: {r}", c.name))
                })
                .collect()
        })
        .unwrap_or_default();
    let name = p.metadata.name.clone().unwrap_or_default();
    if waiting.is_empty() {
        format!("{name} {phase}")
    } else {
        format!("{name} {phase} ({})", waiting.join(", "))
    }
}

/// Why a pod is not Ready, as far as its status says: its state (phase, containers waiting or
/// terminated) and its conditions that are not True, with their reasons and messages.
pub fn why_not_ready(p: &Pod) -> String {
    let conditions: Vec<String> = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| {
            cs.iter()
                .filter(|c| c.status != "True")
                .map(|c| {
                    let why = [c.reason.as_deref(), c.message.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ");
                    if why.is_empty() {
                        format!("{}={}", c.type_, c.status)
                    } else {
                        format!("{}={} ({why})", c.type_, c.status)
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if conditions.is_empty() {
        pod_state(p)
    } else {
        format!("{}; {}", pod_state(p), conditions.join(", "))
    }
}

/// Ready pods among those seen: every one of them (no count) or at least `count`.
pub fn pods_ready<'a>(pods: impl IntoIterator<Item = &'a Pod>, count: Option<i64>) -> Check {
    let pods: Vec<&Pod> = pods.into_iter().collect();
    let ready = pods.iter().filter(|p| pod_is_ready(p)).count() as i64;
    let not_ready: Vec<String> = pods
        .iter()
        .filter(|p| !pod_is_ready(p))
        .map(|p| pod_state(p))
        .collect();
    let ok = match count {
        Some(c) => ready >= c,
        None => !pods.is_empty() && not_ready.is_empty(),
    };
    if ok {
        Ok(format!("{ready} pod(s) ready"))
    } else if pods.is_empty() {
        Err("no pod matches yet".into())
    } else {
        Err(format!(
            "{ready}/{} pod(s) ready; not ready: {}",
            count.unwrap_or(pods.len() as i64),
            not_ready.join(", ")
        ))
    }
}

/// At least `count` ready addresses over a Service's EndpointSlices (`ready: null` counts as
/// ready, as the API documents).
pub fn endpoints_ready<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    count: i64,
) -> Check {
    let mut ready = 0i64;
    let mut total = 0i64;
    for s in slices {
        for e in s.endpoints.iter().flatten() {
            let n = e.addresses.len() as i64;
            total += n;
            if e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true) {
                ready += n;
            }
        }
    }
    if ready >= count {
        Ok(format!("{ready} ready address(es)"))
    } else {
        Err(format!("{ready}/{count} ready addresses ({total} in all)"))
    }
}

/// The value at a `.a.b[0].c` field path, as text (strings unquoted).
pub fn field_value(object: &Value, path: &str) -> Option<String> {
    let mut pointer = String::new();
    for part in path.trim_start_matches('.').split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.strip_suffix(']')),
            None => (part, None),
        };
        pointer.push('/');
        pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        if let Some(i) = index {
            pointer.push('/');
            pointer.push_str(i);
        }
    }
    object.pointer(&pointer).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

pub fn field_equals(object: &Value, path: &str, want: &str) -> Check {
    match field_value(object, path) {
        Some(v) if v == want => Ok(format!("{path} is {v}")),
        Some(v) => Err(format!("{path} is {v}, waiting for {want}")),
        None => Err(format!("{path} is not set, waiting for {want}")),
    }
}

/// Fields the API server refuses to change once set, by kind (the ones a wait is likely to
/// name): awaiting another value there can never succeed.
const IMMUTABLE: &[(&str, &str)] = &[
    ("Service", ".spec.clusterIP"),
    ("Service", ".spec.clusterIPs"),
    ("StatefulSet", ".spec.serviceName"),
    ("StatefulSet", ".spec.selector"),
    ("StatefulSet", ".spec.podManagementPolicy"),
    ("Deployment", ".spec.selector"),
    ("DaemonSet", ".spec.selector"),
    ("ReplicaSet", ".spec.selector"),
    ("Job", ".spec.selector"),
    ("PersistentVolumeClaim", ".spec.storageClassName"),
    ("PersistentVolumeClaim", ".spec.volumeName"),
    ("Pod", ".spec.nodeName"),
    ("Pod", ".spec.restartPolicy"),
    ("Pod", ".spec.serviceAccountName"),
];

/// Why a wait for `path` to equal `want` on `object` (of `kind`) can never succeed: the field
/// is one the API server never changes once set (or the object is marked `immutable`, for
/// `.data` of a ConfigMap or Secret), and it holds another value. `None` otherwise.
pub fn immutable_differs(kind: &str, object: &Value, path: &str, want: &str) -> Option<String> {
    let immutable = IMMUTABLE
        .iter()
        .any(|(k, p)| *k == kind && (path == *p || path.starts_with(&format!("{p}."))))
        || (matches!(kind, "ConfigMap" | "Secret")
            && path.starts_with(".data")
            && object.get("immutable") == Some(&Value::Bool(true)));
    let have = field_value(object, path)?;
    (immutable && have != want).then(|| {
        format!(
            "{kind} field {path} cannot change once set (it is {have}; the API server refuses any other value): delete and re-create the object, or wait for what it holds"
        )
    })
}

#[cfg(test)]
mod tests;
