//! The `wait` step on the cluster: each condition watches exactly the objects it needs
//! (by name with a field selector, or by label selector) and is evaluated on every change.

use super::{conditions, watch};
use crate::cluster::ClusterError;
use crate::cluster::{RolloutKind, Selection, WaitCondition};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::Config;
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::time::Duration;

fn by_name(name: &str) -> Config {
    Config::default().fields(&format!("metadata.name={name}"))
}

/// A wait on one named object: `check` on it, unless it is being deleted (then it never will).
fn settled<K: kube::Resource>(
    seen: &BTreeMap<String, K>,
    name: &str,
    kind: &str,
    check: impl Fn(&K) -> conditions::Check,
) -> watch::Progress {
    match seen.get(name) {
        Some(o) if o.meta().deletion_timestamp.is_some() => watch::Progress::Never(format!(
            "{kind} {name} is being deleted (since {}): what the wait awaits of it cannot come",
            o.meta()
                .deletion_timestamp
                .as_ref()
                .map_or_else(String::new, |t| t.0.to_string())
        )),
        Some(o) => check(o).into(),
        None => watch::Progress::Waiting(format!("{kind} {name} does not exist")),
    }
}

/// Watches one named workload of kind `K` until `check` holds.
async fn rollout<K>(
    client: Client,
    ns: &str,
    kind: &str,
    name: &str,
    timeout: Duration,
    check: fn(&K) -> conditions::Check,
) -> Result<String, ClusterError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    watch::until_settled(
        Api::<K>::namespaced(client, ns),
        by_name(name),
        timeout,
        |s| settled(s, name, kind, check),
    )
    .await
}

/// Watches one named object of any kind (through discovery) until `check` holds on its JSON;
/// fails at once when it is being deleted or `never` says why it cannot come.
async fn watch_object(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
    timeout: Duration,
    check: impl Fn(&serde_json::Value) -> conditions::Check,
    never: impl Fn(&str, &serde_json::Value) -> Option<String>,
) -> Result<String, ClusterError> {
    let (api, _) =
        super::apply::dynamic_api(client, super::apply::api_version_of(kind), kind, Some(ns))
            .await?;
    watch::until_settled(api, by_name(name), timeout, |s| {
        let settled = settled(s, name, kind, |o| {
            check(&serde_json::to_value(o).unwrap_or_default())
        });
        match (settled, s.get(name)) {
            (watch::Progress::Waiting(seen), Some(o)) => {
                match never(kind, &serde_json::to_value(o).unwrap_or_default()) {
                    Some(why) => watch::Progress::Never(format!("{seen}, and {why}")),
                    None => watch::Progress::Waiting(seen),
                }
            }
            (other, _) => other,
        }
    })
    .await
}

/// Waits for `spec`; beside it, watches the pods it waits for, and fails at once when one keeps
/// crashing ([`conditions::CRASH_LOOP_RESTARTS`] restarts, in back-off), quoting the
/// container's last termination and its last log lines, instead of running out the timeout.
pub async fn wait(
    client: &Client,
    ns: &str,
    spec: &WaitCondition,
    timeout: Duration,
) -> Result<String, ClusterError> {
    let waited = async {
        let Some(crashing) = crash_watch(client, ns, spec, timeout) else {
            return wait_for(client, ns, spec, timeout).await;
        };
        let waited = wait_for(client, ns, spec, timeout);
        tokio::pin!(waited);
        tokio::select! {
            r = &mut waited => r,
            crash = crashing => match crash {
                Ok(found) => Err(ClusterError::Api(found)),
                // The crash watch timed out or failed: the main wait says how it ends.
                Err(_) => waited.await,
            },
        }
    };
    let waited = async {
        let done = waited.await?;
        match spec {
            WaitCondition::Rollout {
                name,
                every_node: true,
                ..
            } => on_every_node(client, ns, name)
                .await
                .map(|n| format!("{done}; {n}")),
            _ => Ok(done),
        }
    };
    match waited.await {
        // "2/3 ready" after the whole timeout says little: which pods, and why not.
        Err(ClusterError::Timeout { after, last_state }) => Err(ClusterError::Timeout {
            after,
            last_state: match not_ready_pods(client, ns, spec).await {
                Some(pods) => format!("{last_state}; not ready: {pods}"),
                None => last_state,
            },
        }),
        other => other,
    }
}

/// Why a Service can never have `count` ready addresses, watched beside the wait: the
/// StatefulSets whose pods it selects are all rolled out, and together hold fewer replicas
/// (a StatefulSet done at 2 replicas cannot give 3 addresses). `None` when that cannot be said
/// (no such StatefulSet, or one still changing): the wait then runs as it would.
async fn endpoints_out_of_reach(
    client: Client,
    ns: &str,
    service: &str,
    count: u32,
    timeout: Duration,
) -> Option<String> {
    let svc = Api::<k8s_openapi::api::core::v1::Service>::namespaced(client.clone(), ns)
        .get_opt(service)
        .await
        .ok()??;
    let selector = svc
        .spec
        .and_then(|s| s.selector)
        .filter(|s| !s.is_empty())?;
    let selects = |labels: Option<&BTreeMap<String, String>>| {
        labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v)))
    };
    // Only when StatefulSets alone can give the addresses: a pod of anything else (or of no
    // controller) selected now, or another workload whose pods it would select, can add some.
    let listed = kube::api::ListParams::default();
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&listed)
        .await
        .ok()?;
    let other_pod = pods.items.iter().any(|p| {
        selects(p.metadata.labels.as_ref())
            && !p
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "StatefulSet")
    });
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns)
        .list(&listed)
        .await
        .ok()?;
    let daemonsets = Api::<DaemonSet>::namespaced(client.clone(), ns)
        .list(&listed)
        .await
        .ok()?;
    let replicasets = Api::<ReplicaSet>::namespaced(client.clone(), ns)
        .list(&listed)
        .await
        .ok()?;
    let controllers = Api::<ReplicationController>::namespaced(client.clone(), ns)
        .list(&listed)
        .await
        .ok()?;
    let template = |t: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>| {
        selects(
            t.and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        )
    };
    let other_workload = deployments
        .items
        .iter()
        .any(|d| template(Some(&d.spec.template)))
        || daemonsets
            .items
            .iter()
            .any(|d| template(Some(&d.spec.template)))
        || replicasets
            .items
            .iter()
            .any(|r| template(r.spec.template.as_ref()))
        || controllers
            .items
            .iter()
            .any(|r| template(r.spec.as_ref().and_then(|s| s.template.as_ref())));
    if other_pod || other_workload {
        return None;
    }
    let mut why = None;
    watch::until_quietly(
        Api::<StatefulSet>::namespaced(client, ns),
        Config::default(),
        timeout,
        |sets| {
            let selected: Vec<&StatefulSet> = sets
                .values()
                .filter(|s| template(Some(&s.spec.template)))
                .collect();
            let done = !selected.is_empty()
                && selected
                    .iter()
                    .all(|s| conditions::statefulset_rolled_out(s).is_ok());
            let most: i64 = selected
                .iter()
                .map(|s| i64::from(s.spec.replicas.unwrap_or(1)))
                .sum();
            if done && most < i64::from(count) {
                let each: Vec<String> = selected
                    .iter()
                    .map(|s| {
                        format!(
                            "StatefulSet {} is rolled out at {} replica(s)",
                            s.metadata.name.as_deref().unwrap_or_default(),
                            s.spec.replicas.unwrap_or(1)
                        )
                    })
                    .collect();
                why = Some(format!(
                    "Service {service} can never have {count} ready addresses: {} ({most} in all)",
                    each.join(", ")
                ));
                Ok(String::new())
            } else {
                Err("the selected StatefulSets can still give the addresses".into())
            }
        },
    )
    .await
    .ok()?;
    why
}

/// That a rolled-out DaemonSet has a Ready pod on every schedulable node. Its own count
/// (`desiredNumberScheduled`) is of the nodes its selector and tolerations pick: a nodeSelector
/// that picks one node of three rolls out "1/1". Once rolled out, nothing changes that: a node
/// left out fails at once, named.
async fn on_every_node(client: &Client, ns: &str, name: &str) -> Result<String, ClusterError> {
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
        .list(&kube::api::ListParams::default())
        .await
        .map_err(|e| super::api_error("listing nodes", e))?;
    let schedulable: std::collections::BTreeSet<String> = nodes
        .items
        .iter()
        .filter(|n| conditions::node_unschedulable(n).is_none())
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&kube::api::ListParams::default())
        .await
        .map_err(|e| super::api_error("listing pods", e))?;
    let covered: std::collections::BTreeSet<String> = pods
        .items
        .iter()
        .filter(|p| conditions::owned_by(p, "DaemonSet", name) && conditions::pod_is_ready(p))
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    let left_out: Vec<&String> = schedulable.difference(&covered).collect();
    if left_out.is_empty() {
        Ok(format!(
            "a Ready pod on each of the {} schedulable node(s)",
            schedulable.len()
        ))
    } else {
        Err(ClusterError::Api(format!(
            "DaemonSet {name} has a Ready pod on {} of the {} schedulable nodes: none on {} (its nodeSelector, affinity or tolerations leave them out)",
            schedulable.intersection(&covered).count(),
            schedulable.len(),
            left_out
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// The pods a rollout wait waits for that are not Ready, each with why (`None` when the wait
/// is on no workload, or all its pods are Ready).
async fn not_ready_pods(client: &Client, ns: &str, spec: &WaitCondition) -> Option<String> {
    let (WaitCondition::Rollout { kind, name, .. }
    | WaitCondition::ReadyReplicas { kind, name, .. }) = spec
    else {
        return None;
    };
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&kube::api::ListParams::default())
        .await
        .ok()?;
    let each: Vec<String> = pods
        .items
        .iter()
        .filter(|p| conditions::owned_by(p, kind.as_str(), name))
        .filter(|p| !conditions::pod_is_ready(p))
        .map(conditions::why_not_ready)
        .collect();
    (!each.is_empty()).then(|| each.join("; "))
}

/// The pods `spec` waits for, watched for a crash loop; `None` when it waits for no pods.
pub(super) fn crash_watch<'a>(
    client: &'a Client,
    ns: &'a str,
    spec: &'a WaitCondition,
    timeout: Duration,
) -> Option<impl std::future::Future<Output = Result<String, ClusterError>> + 'a> {
    let (config, owner): (Config, Option<(String, String)>) = match spec {
        WaitCondition::Rollout { kind, name, .. }
        | WaitCondition::ReadyReplicas { kind, name, .. } => (
            Config::default(),
            Some((kind.as_str().to_string(), name.clone())),
        ),
        WaitCondition::PodReady {
            pods: Selection::Name(name),
            ..
        } => (by_name(name), None),
        WaitCondition::PodReady {
            pods: Selection::Selector(selector),
            ..
        } => (Config::default().labels(selector), None),
        WaitCondition::Endpoints { .. }
        | WaitCondition::Field { .. }
        | WaitCondition::PodNotReady { .. } => return None,
    };
    let api = Api::<Pod>::namespaced(client.clone(), ns);
    Some(async move {
        let mut crash: Option<(String, String, i32, String)> = None;
        watch::until_quietly(api.clone(), config, timeout, |pods| {
            crash = pods
                .values()
                .filter(|p| {
                    owner
                        .as_ref()
                        .is_none_or(|(kind, name)| conditions::owned_by(p, kind, name))
                })
                .find_map(|p| {
                    let (container, restarts, last) = conditions::crash_loop(p)?;
                    Some((
                        p.metadata.name.clone().unwrap_or_default(),
                        container,
                        restarts,
                        last,
                    ))
                });
            crash
                .as_ref()
                .map(|_| "crash-looping".to_string())
                .ok_or_else(|| "no pod crash-loops".to_string())
        })
        .await?;
        let Some((pod, container, restarts, last)) = crash else {
            return Err(ClusterError::Api("no crash seen".into()));
        };
        let params = kube::api::LogParams {
            container: Some(container.clone()),
            previous: true,
            tail_lines: Some(15),
            ..Default::default()
        };
        let lines =
            match tokio::time::timeout(Duration::from_secs(10), api.logs(&pod, &params)).await {
                Ok(Ok(text)) if !text.trim().is_empty() => {
                    format!("; its last log lines:\n{}", text.trim_end())
                }
                _ => String::new(),
            };
        Ok(format!(
            "pod {pod} keeps crashing while this step waits for it: container {container} restarted {restarts} times and is in back-off; last terminated: {last}{lines}"
        ))
    })
}

async fn wait_for(
    client: &Client,
    ns: &str,
    spec: &WaitCondition,
    timeout: Duration,
) -> Result<String, ClusterError> {
    let c = client.clone();
    match spec {
        WaitCondition::Rollout { kind, name, .. } => {
            let kind_name = kind.as_str();
            match kind {
                RolloutKind::StatefulSet => {
                    rollout::<StatefulSet>(
                        c,
                        ns,
                        kind_name,
                        name,
                        timeout,
                        conditions::statefulset_rolled_out,
                    )
                    .await
                }
                RolloutKind::Deployment => {
                    rollout::<Deployment>(
                        c,
                        ns,
                        kind_name,
                        name,
                        timeout,
                        conditions::deployment_rolled_out,
                    )
                    .await
                }
                RolloutKind::DaemonSet => {
                    rollout::<DaemonSet>(
                        c,
                        ns,
                        kind_name,
                        name,
                        timeout,
                        conditions::daemonset_rolled_out,
                    )
                    .await
                }
                RolloutKind::ReplicaSet => {
                    rollout::<ReplicaSet>(
                        c,
                        ns,
                        kind_name,
                        name,
                        timeout,
                        conditions::replicaset_ready,
                    )
                    .await
                }
                RolloutKind::ReplicationController => {
                    rollout::<ReplicationController>(
                        c,
                        ns,
                        kind_name,
                        name,
                        timeout,
                        conditions::replication_controller_ready,
                    )
                    .await
                }
            }
        }
        WaitCondition::ReadyReplicas { kind, name, count } => {
            watch_object(
                client,
                ns,
                kind.as_str(),
                name,
                timeout,
                |o| conditions::at_least_ready(o, i64::from(*count)),
                |_, _| None,
            )
            .await
        }
        WaitCondition::PodReady {
            pods: Selection::Name(name),
            ..
        } => {
            watch::until(Api::<Pod>::namespaced(c, ns), by_name(name), timeout, |s| {
                conditions::pods_ready(s.values(), None)
            })
            .await
        }
        WaitCondition::PodReady {
            pods: Selection::Selector(selector),
            count,
        } => {
            watch::until(
                Api::<Pod>::namespaced(c, ns),
                Config::default().labels(selector),
                timeout,
                |s| conditions::pods_ready(s.values(), count.map(i64::from)),
            )
            .await
        }
        WaitCondition::PodNotReady { name } => {
            watch::until(
                Api::<Pod>::namespaced(c, ns),
                by_name(name),
                timeout,
                |s| match s.get(name.as_str()) {
                    Some(p) if !conditions::pod_is_ready(p) => Ok(format!("pod {name} not Ready")),
                    Some(_) => Err(format!("pod {name} still Ready")),
                    None => Err(format!("pod {name} does not exist")),
                },
            )
            .await
        }
        WaitCondition::Endpoints { service, count } => {
            let config = Config::default().labels(&format!("kubernetes.io/service-name={service}"));
            let ready = watch::until(
                Api::<EndpointSlice>::namespaced(c.clone(), ns),
                config,
                timeout,
                |s| conditions::endpoints_ready(s.values(), i64::from(*count)),
            );
            let never = endpoints_out_of_reach(c, ns, service, *count, timeout);
            tokio::pin!(ready);
            tokio::select! {
                r = &mut ready => r,
                why = never => match why {
                    Some(why) => Err(ClusterError::Api(why)),
                    None => ready.await,
                },
            }
        }
        WaitCondition::Field {
            kind,
            name,
            path,
            equals,
        } => {
            watch_object(
                client,
                ns,
                kind,
                name,
                timeout,
                |o| conditions::field_equals(o, path, equals),
                |kind, o| conditions::immutable_differs(kind, o, path, equals),
            )
            .await
        }
    }
}
