//! Server-side apply (field manager `harness`) of any kind, custom resources included, through
//! discovery and the dynamic API; every object gets the harness labels and, when this apply
//! created it, a clean-up entry. Deleting only ever touches objects with this run's labels.

use super::{api_error, labels, watch};
use crate::cluster::{CleanupItem, ClusterError};
use crate::cluster::{DeleteTarget, Selection};
use crate::manifest::Manifest;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::discovery::{self, Scope};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::time::Duration;

pub const FIELD_MANAGER: &str = "harness";

pub fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

/// The dynamic API for a kind in a namespace (or cluster-wide for cluster-scoped kinds).
/// The API resource of a kind and whether it is namespaced (one discovery request).
async fn discover(
    client: &Client,
    api_version: &str,
    kind: &str,
) -> Result<(ApiResource, bool), ClusterError> {
    let (resource, caps) = discovery::pinned_kind(client, &gvk(api_version, kind))
        .await
        .map_err(|e| {
            api_error(
                &format!("discovering {api_version} {kind} (is its CRD installed?)"),
                e,
            )
        })?;
    Ok((resource, caps.scope == Scope::Namespaced))
}

fn api_for(
    client: &Client,
    resource: &ApiResource,
    namespaced: bool,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match (namespaced, namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, resource),
        _ => Api::all_with(client.clone(), resource),
    }
}

/// The dynamic API for a kind in a namespace (or cluster-wide for cluster-scoped kinds), and
/// whether the kind is namespaced.
pub async fn dynamic_api(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Result<(Api<DynamicObject>, bool), ClusterError> {
    let (resource, namespaced) = discover(client, api_version, kind).await?;
    Ok((
        api_for(client, &resource, namespaced, namespace),
        namespaced,
    ))
}

pub async fn apply_all(
    client: &Client,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    manifests: &[Manifest],
) -> Result<Vec<CleanupItem>, ClusterError> {
    let mut created = vec![];
    // One discovery request per kind, not per object.
    let mut kinds: std::collections::HashMap<(String, String), (ApiResource, bool)> =
        Default::default();
    for m in manifests {
        let key = (m.api_version().to_string(), m.kind().to_string());
        if !kinds.contains_key(&key) {
            let found = discover(client, m.api_version(), m.kind()).await?;
            kinds.insert(key.clone(), found);
        }
        let (resource, namespaced) = &kinds[&key];
        let namespaced = *namespaced;
        let api = api_for(client, resource, namespaced, Some(namespace));
        let mut object: DynamicObject = serde_json::from_value(m.object.clone())
            .map_err(|e| ClusterError::Api(format!("{}: {e}", m.origin)))?;
        object.labels_mut().extend(labels.clone());
        if namespaced {
            object.metadata.namespace = Some(namespace.to_string());
        }
        let name = m.name().to_string();
        let existed = api
            .get_opt(&name)
            .await
            .map_err(|e| api_error(&format!("reading {} {name}", m.kind()), e))?
            .is_some();
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&object),
        )
        .await
        .map_err(|e| api_error(&format!("applying {} {name} ({})", m.kind(), m.origin), e))?;
        if !existed {
            created.push(CleanupItem::Object {
                api_version: m.api_version().to_string(),
                kind: m.kind().to_string(),
                namespace: namespaced.then(|| namespace.to_string()),
                name,
            });
        }
    }
    Ok(created)
}

/// Deletes an object the harness created (clean-up); refuses one without this run's labels.
pub async fn delete_owned(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    run_id: &str,
) -> Result<(), ClusterError> {
    let (api, _) = dynamic_api(client, api_version, kind, namespace).await?;
    let Some(object) = api
        .get_opt(name)
        .await
        .map_err(|e| api_error(&format!("reading {kind} {name}"), e))?
    else {
        return Ok(());
    };
    if !labels::is_ours(object.metadata.labels.as_ref(), run_id) {
        return Err(ClusterError::NotOurs(format!("{kind} {name}")));
    }
    api.delete(name, &DeleteParams::background())
        .await
        .map(|_| ())
        .map_err(|e| api_error(&format!("deleting {kind} {name}"), e))
}

/// The apiVersion of the built-in kinds a step can name by kind alone.
pub fn api_version_of(kind: &str) -> &'static str {
    match kind {
        "StatefulSet" | "Deployment" | "DaemonSet" | "ReplicaSet" => "apps/v1",
        "Job" => "batch/v1",
        "EndpointSlice" => "discovery.k8s.io/v1",
        "PodDisruptionBudget" => "policy/v1",
        _ => "v1",
    }
}

/// The `delete` step: by name or selector, only this run's objects, optionally waiting until gone.
pub async fn delete(
    client: &Client,
    namespace: &str,
    run_id: &str,
    spec: &DeleteTarget,
    timeout: Duration,
) -> Result<(), ClusterError> {
    let (api, namespaced) = dynamic_api(
        client,
        api_version_of(&spec.kind),
        &spec.kind,
        Some(namespace),
    )
    .await?;
    let targets: Vec<DynamicObject> = match &spec.objects {
        Selection::Name(name) => api
            .get_opt(name)
            .await
            .map_err(|e| api_error(&format!("reading {} {name}", spec.kind), e))?
            .into_iter()
            .collect(),
        Selection::Selector(sel) => {
            api.list(&ListParams::default().labels(sel))
                .await
                .map_err(|e| api_error(&format!("listing {} {sel}", spec.kind), e))?
                .items
        }
    };
    if targets.is_empty() {
        return Err(ClusterError::NotFound(format!(
            "no {} matches {}",
            spec.kind, spec.objects
        )));
    }
    // Everything inside the scenario's namespace is the harness's (it created the namespace);
    // a cluster-scoped object must carry this run's labels.
    for t in targets.iter().filter(|_| !namespaced) {
        if !labels::is_ours(t.metadata.labels.as_ref(), run_id) {
            return Err(ClusterError::NotOurs(format!(
                "{} {}",
                spec.kind,
                t.name_any()
            )));
        }
    }
    for t in &targets {
        api.delete(&t.name_any(), &DeleteParams::background())
            .await
            .map_err(|e| api_error(&format!("deleting {} {}", spec.kind, t.name_any()), e))?;
    }
    if spec.wait {
        let names: Vec<String> = targets.iter().map(|t| t.name_any()).collect();
        let config = match &spec.objects {
            Selection::Selector(sel) => watcher::Config::default().labels(sel),
            Selection::Name(name) => {
                watcher::Config::default().fields(&format!("metadata.name={name}"))
            }
        };
        watch::until(api, config, timeout, |seen| {
            let left: Vec<&String> = names.iter().filter(|n| seen.contains_key(*n)).collect();
            if left.is_empty() {
                Ok(format!("{} deleted", names.join(", ")))
            } else {
                Err(format!("still present: {left:?}"))
            }
        })
        .await?;
    }
    Ok(())
}
