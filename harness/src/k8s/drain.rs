//! A maintenance drain: the node cordoned (its uncordon registered first), then each of the
//! scenario's pods on it evicted through the Eviction API, so PodDisruptionBudgets are
//! respected: an eviction the API refuses (429) is tried again each time a budget in the
//! namespace changes, until the step's deadline, which names the budgets that allow no
//! disruption. Pods of DaemonSets stay (as `kubectl drain --ignore-daemonsets`), and pods of
//! other namespaces are not the harness's to move. Proven when none of the evicted pods is left
//! on the node.

use super::{KubeCluster, api_error, watch};
use crate::cluster::{CleanupItem, ClusterError};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{EvictParams, ListParams, Patch, PatchParams};
use kube::runtime::watcher::{self, Config};
use kube::{Api, ResourceExt};
use std::time::Duration;

/// Whether a pod belongs to a DaemonSet (a drain leaves it).
pub fn of_a_daemonset(p: &Pod) -> bool {
    p.owner_references()
        .iter()
        .any(|o| o.kind == "DaemonSet" && o.controller == Some(true))
}

/// The budgets that allow no disruption now, in words.
pub fn blocking(pdbs: &[PodDisruptionBudget]) -> Vec<String> {
    pdbs.iter()
        .filter_map(|b| {
            let st = b.status.as_ref()?;
            (st.disruptions_allowed.unwrap_or(0) == 0).then(|| {
                format!(
                    "PodDisruptionBudget {} allows 0 disruptions ({} of {} desired healthy)",
                    b.name_any(),
                    st.current_healthy.unwrap_or(0),
                    st.desired_healthy.unwrap_or(0)
                )
            })
        })
        .collect()
}

impl KubeCluster {
    pub(super) async fn drain(
        &self,
        ns: &str,
        node: &str,
        timeout: Duration,
        register: &(dyn Fn(CleanupItem) + Send + Sync),
    ) -> Result<String, ClusterError> {
        let deadline = tokio::time::Instant::now() + timeout;
        register(CleanupItem::Uncordon(node.to_string()));
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        let patch = serde_json::json!({"spec": {"unschedulable": true}});
        nodes
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| api_error(&format!("cordoning node {node}"), e))?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
        let listed = pods
            .list(&on_node)
            .await
            .map_err(|e| api_error(&format!("listing the pods on node {node}"), e))?;
        let evict: Vec<String> = listed
            .items
            .iter()
            .filter(|p| !of_a_daemonset(p))
            .map(|p| p.name_any())
            .collect();
        for name in &evict {
            self.evict(ns, name, deadline).await?;
        }
        let left = tokio::time::Instant::now();
        let gone = watch::until(
            pods,
            Config::default().fields(&format!("spec.nodeName={node}")),
            deadline.saturating_duration_since(left),
            |seen| {
                let still: Vec<&String> = evict.iter().filter(|n| seen.contains_key(*n)).collect();
                if still.is_empty() {
                    Ok(String::new())
                } else {
                    Err(format!(
                        "{} still on node {node}: {}",
                        still.len(),
                        still
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            },
        )
        .await;
        gone.map_err(|e| ClusterError::Api(format!("drain of node {node} not done: {e}")))?;
        Ok(format!(
            "node {node} cordoned and drained: {} pod(s) evicted ({})",
            evict.len(),
            if evict.is_empty() {
                "none of the scenario's pods ran there".to_string()
            } else {
                evict.join(", ")
            }
        ))
    }

    /// Evicts one pod; while a disruption budget refuses it, tries again at each change of a
    /// budget in the namespace, until `deadline`.
    async fn evict(
        &self,
        ns: &str,
        pod: &str,
        deadline: tokio::time::Instant,
    ) -> Result<(), ClusterError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let budgets: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), ns);
        let mut changes = watcher::watcher(budgets.clone(), Config::default()).boxed();
        loop {
            match pods.evict(pod, &EvictParams::default()).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 429 => {
                    let next = tokio::time::timeout_at(deadline, changes.next()).await;
                    if next.is_err() {
                        let listed = budgets
                            .list(&ListParams::default())
                            .await
                            .map(|l| l.items)
                            .unwrap_or_default();
                        let why = blocking(&listed);
                        return Err(ClusterError::Api(format!(
                            "evicting {pod}: refused until the deadline ({}){}",
                            s.message,
                            if why.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", why.join("; "))
                            }
                        )));
                    }
                }
                Err(e) => return Err(api_error(&format!("evicting {pod}"), e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): what a drain leaves and which budgets it names.
    #[test]
    fn a_drain_leaves_daemonset_pods_and_names_budgets_that_allow_nothing() {
        let ds: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "mcrouter-x",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "mcrouter", "uid": "u", "controller": true}]}}))
        .unwrap();
        let sts: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "galera-ss-1",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "galera-ss", "uid": "u", "controller": true}]}}))
        .unwrap();
        assert!(of_a_daemonset(&ds) && !of_a_daemonset(&sts));
        let pdb = |name: &str, allowed: i32| -> PodDisruptionBudget {
            serde_json::from_value(serde_json::json!({"metadata": {"name": name},
                "status": {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 3, "expectedPods": 3}}))
            .unwrap()
        };
        assert_eq!(
            blocking(&[pdb("galera-pdb", 0), pdb("etcd-pdb", 1)]),
            vec!["PodDisruptionBudget galera-pdb allows 0 disruptions (2 of 3 desired healthy)"]
        );
    }
}
