//! One namespace per scenario: created with the harness labels, deleted at the end (and waited
//! for, bounded), and never deleted when it lacks this run's labels.

use super::{api_error, labels, watch};
use crate::cluster::{CleanupItem, ClusterError};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::time::Duration;

/// How long deleting a namespace may take before clean-up reports it.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

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

pub async fn delete(client: &Client, name: &str, run_id: &str) -> Result<(), ClusterError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = api
        .get_opt(name)
        .await
        .map_err(|e| api_error(&format!("reading namespace {name}"), e))?
    else {
        return Ok(());
    };
    if !labels::is_ours(ns.metadata.labels.as_ref(), run_id) {
        return Err(ClusterError::NotOurs(format!("namespace {name}")));
    }
    api.delete(name, &DeleteParams::foreground())
        .await
        .map_err(|e| api_error(&format!("deleting namespace {name}"), e))?;
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watch::until(api, config, DELETE_TIMEOUT, |seen| {
        if seen.is_empty() {
            Ok("gone".into())
        } else {
            Err(format!("namespace {name} is still terminating"))
        }
    })
    .await
    .map(|_| ())
}
