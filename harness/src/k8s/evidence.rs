//! Evidence when a step fails, gathered before clean-up: pod logs (current and previous
//! container, bounded), the namespace's events sorted by time, the YAML of the workloads,
//! Services and PVCs, and node conditions. Written to files under the report directory too.
//! Gathering never fails: what cannot be read is said in the evidence.

use crate::cluster::Evidence;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    Event, Node, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use kube::api::{ListParams, LogParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::path::Path;

/// Log lines kept per container (current and previous).
pub const LOG_TAIL_LINES: i64 = 200;
pub const LOG_LIMIT_BYTES: i64 = 256 * 1024;

pub async fn collect(client: &Client, ns: &str, dir: &Path) -> Vec<Evidence> {
    let mut out = vec![];
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    match pods.list(&ListParams::default()).await {
        Ok(list) => {
            for pod in list.items {
                let name = pod.name_any();
                let containers: Vec<String> = pod
                    .spec
                    .as_ref()
                    .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
                    .unwrap_or_default();
                for c in containers {
                    for previous in [false, true] {
                        let params = LogParams {
                            container: Some(c.clone()),
                            previous,
                            tail_lines: Some(LOG_TAIL_LINES),
                            limit_bytes: Some(LOG_LIMIT_BYTES),
                            ..Default::default()
                        };
                        let title = format!(
                            "logs {name}/{c}{}",
                            if previous {
                                " (previous container)"
                            } else {
                                ""
                            }
                        );
                        match pods.logs(&name, &params).await {
                            Ok(text) => out.push(Evidence { title, body: text }),
                            // No previous container is the normal case: say nothing.
                            Err(_) if previous => {}
                            Err(e) => out.push(Evidence {
                                title,
                                body: format!("cannot read logs: {e}"),
                            }),
                        }
                    }
                }
            }
        }
        Err(e) => out.push(Evidence {
            title: "pods".into(),
            body: format!("cannot list pods: {e}"),
        }),
    }
    out.push(events(client, ns).await);
    out.push(objects::<StatefulSet>(client, ns, "statefulsets").await);
    out.push(objects::<Deployment>(client, ns, "deployments").await);
    out.push(objects::<DaemonSet>(client, ns, "daemonsets").await);
    out.push(objects::<ReplicationController>(client, ns, "replicationcontrollers").await);
    out.push(objects::<Service>(client, ns, "services").await);
    out.push(objects::<PersistentVolumeClaim>(client, ns, "persistentvolumeclaims").await);
    out.push(objects::<Pod>(client, ns, "pods").await);
    out.push(nodes(client).await);
    write_files(dir, &out);
    out
}

fn write_files(dir: &Path, evidence: &[Evidence]) {
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    for e in evidence {
        let file: String = e
            .title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let _ = std::fs::write(dir.join(format!("{file}.txt")), &e.body);
    }
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
    Evidence {
        title: "events".into(),
        body,
    }
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
    Evidence {
        title: what.to_string(),
        body,
    }
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
    Evidence {
        title: "node conditions".into(),
        body,
    }
}
