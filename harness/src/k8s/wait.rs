//! The `wait` step on the cluster: each condition watches exactly the objects it needs
//! (by name with a field selector, or by label selector) and is evaluated on every change.

use super::{conditions, watch};
use crate::exec::ClusterError;
use crate::scenario::raw::WaitSpec;
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

fn one<K>(
    seen: &BTreeMap<String, K>,
    name: &str,
    kind: &str,
    check: impl Fn(&K) -> conditions::Check,
) -> conditions::Check {
    match seen.get(name) {
        Some(o) => check(o),
        None => Err(format!("{kind} {name} does not exist")),
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
    watch::until(
        Api::<K>::namespaced(client, ns),
        by_name(name),
        timeout,
        |s| one(s, name, kind, check),
    )
    .await
}

/// Watches one named object of any kind (through discovery) until `check` holds on its JSON.
async fn watch_object(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
    timeout: Duration,
    check: impl Fn(&serde_json::Value) -> conditions::Check,
) -> Result<String, ClusterError> {
    let (api, _) =
        super::apply::dynamic_api(client, super::apply::api_version_of(kind), kind, Some(ns))
            .await?;
    watch::until(api, by_name(name), timeout, |s| {
        one(s, name, kind, |o| {
            check(&serde_json::to_value(o).unwrap_or_default())
        })
    })
    .await
}

pub async fn wait(
    client: &Client,
    ns: &str,
    spec: &WaitSpec,
    timeout: Duration,
) -> Result<String, ClusterError> {
    let c = client.clone();
    match spec {
        WaitSpec::Rollout { kind, name } => match kind.as_str() {
            "StatefulSet" => {
                rollout::<StatefulSet>(
                    c,
                    ns,
                    kind,
                    name,
                    timeout,
                    conditions::statefulset_rolled_out,
                )
                .await
            }
            "Deployment" => {
                rollout::<Deployment>(
                    c,
                    ns,
                    kind,
                    name,
                    timeout,
                    conditions::deployment_rolled_out,
                )
                .await
            }
            "DaemonSet" => {
                rollout::<DaemonSet>(c, ns, kind, name, timeout, conditions::daemonset_rolled_out)
                    .await
            }
            "ReplicaSet" => {
                rollout::<ReplicaSet>(c, ns, kind, name, timeout, conditions::replicaset_ready)
                    .await
            }
            "ReplicationController" => {
                rollout::<ReplicationController>(
                    c,
                    ns,
                    kind,
                    name,
                    timeout,
                    conditions::replication_controller_ready,
                )
                .await
            }
            other => Err(ClusterError::Api(format!("{other} has no rollout"))),
        },
        WaitSpec::ReadyReplicas { kind, name, count } => {
            watch_object(client, ns, kind, name, timeout, |o| {
                conditions::at_least_ready(o, *count)
            })
            .await
        }
        WaitSpec::PodReady {
            name: Some(name), ..
        } => {
            watch::until(Api::<Pod>::namespaced(c, ns), by_name(name), timeout, |s| {
                conditions::pods_ready(s.values(), None)
            })
            .await
        }
        WaitSpec::PodReady {
            selector, count, ..
        } => {
            let sel = selector.clone().unwrap_or_default();
            watch::until(
                Api::<Pod>::namespaced(c, ns),
                Config::default().labels(&sel),
                timeout,
                |s| conditions::pods_ready(s.values(), *count),
            )
            .await
        }
        WaitSpec::Endpoints { service, count } => {
            let config = Config::default().labels(&format!("kubernetes.io/service-name={service}"));
            watch::until(
                Api::<EndpointSlice>::namespaced(c, ns),
                config,
                timeout,
                |s| conditions::endpoints_ready(s.values(), *count),
            )
            .await
        }
        WaitSpec::Field {
            kind,
            name,
            path,
            equals,
        } => {
            watch_object(client, ns, kind, name, timeout, |o| {
                conditions::field_equals(o, path, &equals.0)
            })
            .await
        }
    }
}
