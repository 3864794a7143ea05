//! Evidence when a step fails, gathered before clean-up, in order of how much it explains: the
//! namespace's events sorted by time; the state of every container of every pod (init
//! containers and sidecars included: waiting reason, last termination, restarts); the logs of
//! every container, current and previous (bounded tails); then the YAML of the workloads,
//! Services, PVCs and pods, and node conditions. Gathering never fails: what cannot be read is
//! said in the evidence. Nothing is written here: the runner redacts the evidence and a
//! reporter writes the files.

use crate::cluster::{Evidence, EvidenceKind};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStatus, Event, Node, PersistentVolumeClaim, Pod,
    ReplicationController, Service,
};
use kube::api::{ListParams, LogParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Log lines kept per container (current and previous).
pub const LOG_TAIL_LINES: i64 = 200;
pub const LOG_LIMIT_BYTES: i64 = 256 * 1024;

pub async fn collect(client: &Client, ns: &str) -> Vec<Evidence> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api.list(&ListParams::default()).await;
    let mut out = vec![events(client, ns).await];
    match &pods {
        Ok(list) => {
            out.push(Evidence::new(
                EvidenceKind::ContainerStates,
                "container states",
                list.items
                    .iter()
                    .map(pod_states)
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
            for pod in &list.items {
                out.extend(logs(&api, pod).await);
            }
        }
        Err(e) => out.push(Evidence::new(
            EvidenceKind::Other,
            "pods",
            format!("cannot list pods: {e}"),
        )),
    }
    out.push(objects::<StatefulSet>(client, ns, "statefulsets").await);
    out.push(objects::<Deployment>(client, ns, "deployments").await);
    out.push(objects::<DaemonSet>(client, ns, "daemonsets").await);
    out.push(objects::<ReplicationController>(client, ns, "replicationcontrollers").await);
    out.push(objects::<Service>(client, ns, "services").await);
    out.push(objects::<PersistentVolumeClaim>(client, ns, "persistentvolumeclaims").await);
    out.push(objects::<Pod>(client, ns, "pods").await);
    out.push(nodes(client).await);
    out
}

/// A pod's containers in start order, each with its role: init containers (a sidecar is an
/// init container that keeps running, `restartPolicy: Always`), then the app containers.
fn containers(pod: &Pod) -> Vec<(String, &'static str)> {
    let Some(spec) = pod.spec.as_ref() else {
        return vec![];
    };
    let init = spec.init_containers.iter().flatten().map(|c| {
        let role = if c.restart_policy.as_deref() == Some("Always") {
            "sidecar"
        } else {
            "init"
        };
        (c.name.clone(), role)
    });
    init.chain(spec.containers.iter().map(|c| (c.name.clone(), "")))
        .collect()
}

/// The logs of every container of a pod, current and previous (no previous container is the
/// normal case and is not mentioned).
async fn logs(api: &Api<Pod>, pod: &Pod) -> Vec<Evidence> {
    let name = pod.name_any();
    let mut out = vec![];
    for (container, role) in containers(pod) {
        for previous in [false, true] {
            let params = LogParams {
                container: Some(container.clone()),
                previous,
                tail_lines: Some(LOG_TAIL_LINES),
                limit_bytes: Some(LOG_LIMIT_BYTES),
                ..Default::default()
            };
            let title = format!(
                "logs {name}/{container}{}{}",
                if role.is_empty() {
                    String::new()
                } else {
                    format!(" ({role})")
                },
                if previous {
                    " (previous container)"
                } else {
                    ""
                }
            );
            match api.logs(&name, &params).await {
                Ok(text) => out.push(Evidence::new(EvidenceKind::Log, title, text)),
                Err(_) if previous => {}
                Err(e) => out.push(Evidence::new(
                    EvidenceKind::Log,
                    title,
                    format!("cannot read logs: {e}"),
                )),
            }
        }
    }
    out
}

/// Most of one container's log a `logs` step reads (the whole log, within reason).
pub const FULL_LOG_LIMIT_BYTES: i64 = 16 * 1024 * 1024;

/// The whole logs of every container of `pod` (and of their previous instances with
/// `previous`), for a `logs` step.
pub async fn container_logs(
    client: &Client,
    ns: &str,
    pod: &str,
    previous: bool,
    since: Option<std::time::Duration>,
) -> Result<Vec<crate::cluster::ContainerLog>, crate::cluster::ClusterError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let object = api
        .get(pod)
        .await
        .map_err(|e| super::api_error(&format!("reading pod {pod}"), e))?;
    let mut out = vec![];
    for (container, _) in containers(&object) {
        for earlier in [false, true] {
            if earlier && !previous {
                continue;
            }
            let params = LogParams {
                container: Some(container.clone()),
                previous: earlier,
                limit_bytes: Some(FULL_LOG_LIMIT_BYTES),
                since_seconds: since.map(|d| d.as_secs().max(1) as i64),
                ..Default::default()
            };
            match api.logs(pod, &params).await {
                Ok(text) => out.push(crate::cluster::ContainerLog {
                    pod: pod.to_string(),
                    container: container.clone(),
                    previous: earlier,
                    text,
                }),
                // No previous instance: nothing to read.
                Err(_) if earlier => {}
                Err(e) => {
                    return Err(super::api_error(
                        &format!("reading the log of {pod}/{container}"),
                        e,
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// One pod: phase and conditions not met, then one line per container with its state, its
/// last termination and its restarts.
fn pod_states(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| "not scheduled".into());
    let unmet: Vec<String> = status
        .and_then(|s| s.conditions.as_ref())
        .map(|c| {
            c.iter()
                .filter(|c| c.status != "True")
                .map(|c| match &c.reason {
                    Some(r) => format!("{}={} ({r})", c.type_, c.status),
                    None => format!("{}={}", c.type_, c.status),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut lines = vec![format!(
        "pod {} on {node}: {phase}{}",
        pod.name_any(),
        if unmet.is_empty() {
            String::new()
        } else {
            format!(", {}", unmet.join(", "))
        }
    )];
    let statuses: Vec<&ContainerStatus> = super::conditions::container_statuses(pod).collect();
    for (container, role) in containers(pod) {
        let role = if role.is_empty() {
            String::new()
        } else {
            format!(" ({role})")
        };
        let line = match statuses.iter().find(|s| s.name == container) {
            None => "no status yet".to_string(),
            Some(s) => {
                let mut parts = vec![state_text(s.state.as_ref())];
                if s.ready {
                    parts.push("ready".into());
                }
                if s.restart_count > 0 {
                    parts.push(format!("restarted {} time(s)", s.restart_count));
                }
                if let Some(last) = s.last_state.as_ref().filter(|l| l.terminated.is_some()) {
                    parts.push(format!("last {}", state_text(Some(last))));
                }
                parts.join(", ")
            }
        };
        lines.push(format!("  {container}{role}: {line}"));
    }
    lines.join("\n")
}

fn state_text(state: Option<&ContainerState>) -> String {
    let Some(state) = state else {
        return "unknown state".into();
    };
    if let Some(w) = &state.waiting {
        let reason = w.reason.clone().unwrap_or_else(|| "waiting".into());
        return match &w.message {
            Some(m) => format!("waiting: {reason}: {m}"),
            None => format!("waiting: {reason}"),
        };
    }
    if let Some(t) = &state.terminated {
        let reason = t.reason.clone().unwrap_or_else(|| "terminated".into());
        let at = t
            .finished_at
            .as_ref()
            .map(|f| format!(" at {}", f.0))
            .unwrap_or_default();
        let message = t
            .message
            .as_ref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        return format!(
            "terminated: {reason}, exit code {}{at}{message}",
            t.exit_code
        );
    }
    if let Some(r) = &state.running {
        return match &r.started_at {
            Some(t) => format!("running since {}", t.0),
            None => "running".into(),
        };
    }
    "unknown state".into()
}

pub async fn events(client: &Client, ns: &str) -> Evidence {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let body = match api.list(&ListParams::default()).await {
        Ok(list) => {
            let mut items = list.items;
            items.sort_by_key(event_time);
            items
                .iter()
                .map(|e| {
                    let obj = &e.involved_object;
                    format!(
                        "{} {} {}/{} {}: {}",
                        event_time(e),
                        e.type_.clone().unwrap_or_default(),
                        obj.kind.clone().unwrap_or_default(),
                        obj.name.clone().unwrap_or_default(),
                        e.reason.clone().unwrap_or_default(),
                        e.message.clone().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        Err(e) => format!("cannot list events: {e}"),
    };
    Evidence::new(EvidenceKind::Events, "events", body)
}

fn event_time(e: &Event) -> String {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0.to_string()))
        .unwrap_or_default()
}

async fn objects<K>(client: &Client, ns: &str, what: &str) -> Evidence
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let body = match api.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .into_iter()
            .map(|mut o| {
                o.meta_mut().managed_fields = None;
                serde_yaml::to_string(&o).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("---\n"),
        Err(e) => format!("cannot list {what}: {e}"),
    };
    Evidence::new(EvidenceKind::Objects, what, body)
}

async fn nodes(client: &Client) -> Evidence {
    let api: Api<Node> = Api::all(client.clone());
    let body = match api.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .iter()
            .map(|n| {
                let conditions: Vec<String> = n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .map(|c| {
                        c.iter()
                            .map(|c| format!("{}={}", c.type_, c.status))
                            .collect()
                    })
                    .unwrap_or_default();
                let unschedulable = n
                    .spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false);
                format!(
                    "{}: {}{}",
                    n.name_any(),
                    conditions.join(" "),
                    if unschedulable { " (cordoned)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("cannot list nodes: {e}"),
    };
    Evidence::new(EvidenceKind::Nodes, "node conditions", body)
}
