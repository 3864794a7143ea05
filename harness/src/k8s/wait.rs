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
    spec: &WaitCondition,
    timeout: Duration,
) -> Result<String, ClusterError> {
    let c = client.clone();
    match spec {
        WaitCondition::Rollout { kind, name } => {
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
            watch_object(client, ns, kind.as_str(), name, timeout, |o| {
                conditions::at_least_ready(o, i64::from(*count))
            })
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
        WaitCondition::Endpoints { service, count } => {
            let config = Config::default().labels(&format!("kubernetes.io/service-name={service}"));
            watch::until(
                Api::<EndpointSlice>::namespaced(c, ns),
                config,
                timeout,
                |s| conditions::endpoints_ready(s.values(), i64::from(*count)),
            )
            .await
        }
        WaitCondition::Field {
            kind,
            name,
            path,
            equals,
        } => {
            watch_object(client, ns, kind, name, timeout, |o| {
                conditions::field_equals(o, path, equals)
            })
            .await
        }
    }
}
