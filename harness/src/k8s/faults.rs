//! Scaling through the scale subresource, and the faults: delete a pod and wait for a
//! replacement with a new UID to be Ready; cordon / uncordon a node; scale to zero and back.

use super::{api_error, conditions, watch};
use crate::cluster::{CleanupItem, ClusterError};
use crate::cluster::{Fault, ScalableKind, WaitCondition};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod, ReplicationController};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::watcher::Config;
use kube::{Api, Client, ResourceExt};
use std::time::Duration;

pub async fn scale(
    client: &Client,
    ns: &str,
    kind: ScalableKind,
    name: &str,
    replicas: u32,
) -> Result<(), ClusterError> {
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    let params = PatchParams::default();
    let c = client.clone();
    let r = match kind {
        ScalableKind::StatefulSet => {
            Api::<StatefulSet>::namespaced(c, ns)
                .patch_scale(name, &params, &Patch::Merge(&patch))
                .await
        }
        ScalableKind::Deployment => {
            Api::<Deployment>::namespaced(c, ns)
                .patch_scale(name, &params, &Patch::Merge(&patch))
                .await
        }
        ScalableKind::ReplicaSet => {
            Api::<ReplicaSet>::namespaced(c, ns)
                .patch_scale(name, &params, &Patch::Merge(&patch))
                .await
        }
        ScalableKind::ReplicationController => {
            Api::<ReplicationController>::namespaced(c, ns)
                .patch_scale(name, &params, &Patch::Merge(&patch))
                .await
        }
    };
    r.map(|_| ()).map_err(|e| {
        api_error(
            &format!("scaling {} {name} to {replicas}", kind.as_str()),
            e,
        )
    })
}

async fn current_replicas(
    client: &Client,
    ns: &str,
    kind: ScalableKind,
    name: &str,
) -> Result<(i32, String), ClusterError> {
    let c = client.clone();
    let what = format!("reading the scale of {} {name}", kind.as_str());
    let scale = match kind {
        ScalableKind::StatefulSet => Api::<StatefulSet>::namespaced(c, ns).get_scale(name).await,
        ScalableKind::Deployment => Api::<Deployment>::namespaced(c, ns).get_scale(name).await,
        ScalableKind::ReplicaSet => Api::<ReplicaSet>::namespaced(c, ns).get_scale(name).await,
        ScalableKind::ReplicationController => {
            Api::<ReplicationController>::namespaced(c, ns)
                .get_scale(name)
                .await
        }
    }
    .map_err(|e| api_error(&what, e))?;
    let replicas = scale.spec.and_then(|s| s.replicas).unwrap_or(0);
    let selector = scale.status.and_then(|s| s.selector).unwrap_or_default();
    Ok((replicas, selector))
}

pub async fn fault(
    client: &Client,
    ns: &str,
    fault: &Fault,
    timeout: Duration,
) -> Result<Vec<CleanupItem>, ClusterError> {
    match fault {
        Fault::DeletePod {
            name,
            wait_for_replacement,
        } => {
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let old = api
                .get(name)
                .await
                .map_err(|e| api_error(&format!("reading pod {name}"), e))?;
            let old_uid = old.uid().unwrap_or_default();
            api.delete(name, &DeleteParams::default())
                .await
                .map_err(|e| api_error(&format!("deleting pod {name}"), e))?;
            if *wait_for_replacement {
                let config = Config::default().fields(&format!("metadata.name={name}"));
                let replaced =
                    watch::until(api, config, timeout, |seen| match seen.get(name.as_str()) {
                        Some(p)
                            if p.uid().unwrap_or_default() != old_uid
                                && conditions::pod_is_ready(p) =>
                        {
                            Ok(format!("{name} replaced (new UID) and Ready"))
                        }
                        Some(p) if p.uid().unwrap_or_default() == old_uid => {
                            Err(format!("{name} is still the old pod (terminating)"))
                        }
                        Some(p) => conditions::pods_ready([p], None).map(|_| String::new()),
                        None => Err(format!("{name} is gone, no replacement yet")),
                    });
                // A replacement that keeps crashing can never turn Ready: said at once, with
                // its last termination and log lines, as a wait on pods says it.
                let by_name = crate::cluster::WaitCondition::PodReady {
                    pods: crate::cluster::Selection::Name(name.clone()),
                    count: None,
                };
                match super::wait::crash_watch(client, ns, &by_name, timeout) {
                    Some(crashing) => {
                        tokio::pin!(replaced);
                        tokio::select! {
                            r = &mut replaced => { r?; }
                            crash = crashing => match crash {
                                Ok(found) => {
                                    return Err(ClusterError::Api(format!(
                                        "the replacement of {name} cannot become Ready: {found}"
                                    )));
                                }
                                Err(_) => { replaced.await?; }
                            },
                        }
                    }
                    None => {
                        replaced.await?;
                    }
                }
            }
            Ok(vec![])
        }
        Fault::Cordon { node } => {
            cordon(client, node, true).await?;
            Ok(vec![CleanupItem::Uncordon(node.clone())])
        }
        Fault::Uncordon { node } => {
            cordon(client, node, false).await?;
            Ok(vec![])
        }
        Fault::ScaleToZeroAndBack { kind, name } => {
            let kind = *kind;
            let (replicas, selector) = current_replicas(client, ns, kind, name).await?;
            scale(client, ns, kind, name, 0).await?;
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            watch::until(pods, Config::default().labels(&selector), timeout, |seen| {
                if seen.is_empty() {
                    Ok("no pods left".into())
                } else {
                    Err(format!("{} pod(s) still present", seen.len()))
                }
            })
            .await?;
            // The API reports replicas as int32; a negative count never comes back from it.
            scale(client, ns, kind, name, u32::try_from(replicas).unwrap_or(0)).await?;
            let rollout = WaitCondition::Rollout {
                kind: kind.into(),
                name: name.clone(),
                every_node: false,
            };
            super::wait::wait(client, ns, &rollout, timeout).await?;
            Ok(vec![])
        }
        // Made through the fault agent (`Cluster::inject`), healed by the `heal` step.
        Fault::Pause { .. }
        | Fault::Kill { .. }
        | Fault::Partition { .. }
        | Fault::Node { .. }
        | Fault::Drain { .. }
        | Fault::Heal { .. } => Err(ClusterError::Api(format!(
            "{fault:?} is made through `Cluster::inject`, not here"
        ))),
    }
}

async fn cordon(client: &Client, node: &str, unschedulable: bool) -> Result<(), ClusterError> {
    let api: Api<Node> = Api::all(client.clone());
    let patch = serde_json::json!({"spec": {"unschedulable": unschedulable}});
    api.patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| api_error(&format!("cordoning node {node}"), e))
}
