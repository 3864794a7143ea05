//! One namespace per scenario: created with the harness labels, deleted at the end (and waited
//! for, as long as its pods are entitled to take), and never deleted when it lacks this run's
//! labels.

use super::{api_error, labels, watch};
use crate::cluster::{CleanupItem, ClusterError};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::time::Duration;

/// How long deleting a namespace may take beyond what its pods are entitled to: the namespace
/// controller's passes over its content, volumes released by their finalizers.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest a namespace's deletion is waited for, whatever its pods ask.
pub const DELETE_TIMEOUT_MAX: Duration = Duration::from_secs(15 * 60);
/// A pod's grace period when its spec gives none.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// The kubelet gives a preStop hook that outlives the grace period 2 seconds more, once.
const HOOK_EXTENSION: Duration = Duration::from_secs(2);

pub async fn create(
    client: &Client,
    name: &str,
    run_id: &str,
    scenario: &str,
) -> Result<CleanupItem, ClusterError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels::ours(run_id, scenario)),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .map_err(|e| api_error(&format!("creating namespace {name}"), e))?;
    Ok(CleanupItem::Namespace(name.to_string()))
}

/// How long a pod may take to stop once deleted: its grace period (the one its deletion set,
/// or its spec's), and the kubelet's extension for a preStop hook.
fn entitlement(pod: &Pod) -> Duration {
    let seconds = pod.metadata.deletion_grace_period_seconds.or_else(|| {
        pod.spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
    });
    let grace = seconds.map_or(DEFAULT_GRACE, |s| {
        Duration::from_secs(u64::try_from(s).unwrap_or(0))
    });
    let hook = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .any(|c| c.lifecycle.as_ref().is_some_and(|l| l.pre_stop.is_some()));
    grace + if hook { HOOK_EXTENSION } else { Duration::ZERO }
}

/// How long deleting the namespace may take: [`DELETE_TIMEOUT`] beyond the longest any of its
/// pods is entitled to (they stop together), at most [`DELETE_TIMEOUT_MAX`].
pub fn deletion_bound(pods: &[Pod]) -> Duration {
    let longest = pods.iter().map(entitlement).max().unwrap_or_default();
    (DELETE_TIMEOUT + longest).min(DELETE_TIMEOUT_MAX)
}

/// Deletes the namespace if it is this run's and waits until it is gone, bounded by what its
/// pods are entitled to. Says how long it took; at the bound, says what keeps it.
pub async fn delete(client: &Client, name: &str, run_id: &str) -> Result<String, ClusterError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = api
        .get_opt(name)
        .await
        .map_err(|e| api_error(&format!("reading namespace {name}"), e))?
    else {
        return Ok(format!("namespace {name} was already gone"));
    };
    if !labels::is_ours(ns.metadata.labels.as_ref(), run_id) {
        return Err(ClusterError::NotOurs(format!("namespace {name}")));
    }
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), name);
    let pods = pods_api
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error(&format!("listing the pods of namespace {name}"), e))?
        .items;
    let bound = deletion_bound(&pods);
    let began = tokio::time::Instant::now();
    api.delete(name, &DeleteParams::foreground())
        .await
        .map_err(|e| api_error(&format!("deleting namespace {name}"), e))?;
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let waited = watch::until(api.clone(), config, bound, |seen| {
        if seen.is_empty() {
            Ok("gone".into())
        } else {
            Err(format!("namespace {name} is still terminating"))
        }
    })
    .await;
    let took = humantime::format_duration(Duration::from_secs(began.elapsed().as_secs()));
    let entitled = match pods.len() {
        0 => "no pods".to_string(),
        n => format!(
            "{n} pod(s), entitled to {} to stop",
            humantime::format_duration(pods.iter().map(entitlement).max().unwrap_or_default())
        ),
    };
    match waited {
        Ok(_) => Ok(format!("namespace {name} gone after {took} ({entitled})")),
        Err(ClusterError::Timeout { .. }) => Err(ClusterError::Api(format!(
            "namespace {name} still terminating after {took} ({entitled}, waited {} more): {}",
            humantime::format_duration(DELETE_TIMEOUT),
            what_keeps(&api, &pods_api, name).await
        ))),
        Err(e) => Err(e),
    }
}

/// What keeps a terminating namespace: the pods still there (and since when they are being
/// deleted) and what the namespace controller says remains (content, finalizers).
async fn what_keeps(api: &Api<Namespace>, pods: &Api<Pod>, name: &str) -> String {
    let mut out = vec![];
    match pods.list(&ListParams::default()).await {
        Ok(list) if !list.items.is_empty() => {
            let each: Vec<String> = list
                .items
                .iter()
                .map(|p| {
                    let pod = p.metadata.name.clone().unwrap_or_default();
                    match &p.metadata.deletion_timestamp {
                        Some(t) => format!("{pod} (deleting since {})", t.0),
                        None => format!("{pod} (not being deleted)"),
                    }
                })
                .collect();
            out.push(format!("pods {}", each.join(", ")));
        }
        Ok(_) => {}
        Err(e) => out.push(format!("its pods could not be listed: {e}")),
    }
    if let Ok(Some(ns)) = api.get_opt(name).await {
        let conditions = ns.status.and_then(|s| s.conditions).unwrap_or_default();
        out.extend(
            conditions
                .into_iter()
                .filter(|c| c.status == "True")
                .filter_map(|c| c.message.map(|m| format!("{}: {m}", c.type_))),
        );
        if let Some(finalizers) = ns.spec.and_then(|s| s.finalizers).filter(|f| !f.is_empty()) {
            out.push(format!("namespace finalizers {}", finalizers.join(", ")));
        }
    }
    if out.is_empty() {
        "nothing it holds could be named".into()
    } else {
        out.join("; ")
    }
}
