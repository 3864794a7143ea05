//! A whole node down: its machine stopped or frozen through the provider that owns it
//! ([`NodeHost`]: kind, Minikube's docker driver), proven by the Node turning not Ready (its
//! kubelet stops posting status; the control plane marks it after its grace period), and
//! brought back, proven Ready again. The heal is registered before the node is touched.

use super::{KubeCluster, watch};
use crate::cluster::{CleanupItem, ClusterError, Heal, NodeFault};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::runtime::watcher::Config;
use std::time::Duration;

/// The Node's Ready condition: its status and why, if it reports one.
pub fn ready_condition(node: &Node) -> Option<(String, String)> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| {
            (
                c.status.clone(),
                c.message.clone().or(c.reason.clone()).unwrap_or_default(),
            )
        })
}

/// Whether the Node is down (`want_ready` false) or up again (`true`), in words.
pub fn node_is(node: Option<&Node>, name: &str, want_ready: bool) -> Result<String, String> {
    let Some(n) = node else {
        return Err(format!("node {name} is not listed"));
    };
    match (ready_condition(n), want_ready) {
        (Some((s, _)), true) if s == "True" => Ok(format!("node {name} Ready again")),
        (Some((s, why)), false) if s != "True" => {
            Ok(format!("node {name} not Ready (Ready={s}: {why})"))
        }
        (Some((s, why)), _) => Err(format!("node {name} Ready={s} ({why})")),
        (None, _) => Err(format!("node {name} reports no Ready condition")),
    }
}

impl KubeCluster {
    async fn node_until(
        &self,
        name: &str,
        ready: bool,
        timeout: Duration,
    ) -> Result<String, ClusterError> {
        watch::until(
            Api::<Node>::all(self.client.clone()),
            Config::default().fields(&format!("metadata.name={name}")),
            timeout,
            |seen| node_is(seen.get(name), name, ready),
        )
        .await
    }

    pub(super) async fn node_fault(
        &self,
        step: &str,
        (name, how, lasting): (&str, NodeFault, Option<Duration>),
        timeout: Duration,
        register: &(dyn Fn(CleanupItem) + Send + Sync),
    ) -> Result<String, ClusterError> {
        let Some(host) = self.node_host() else {
            return Err(ClusterError::Api(format!(
                "stopping or freezing node {name} needs a provider that owns the nodes' machines (kind, or Minikube with the docker driver); the {} provider does not",
                self.provider
            )));
        };
        let heal = Heal {
            step: step.to_string(),
            namespace: String::new(),
            what: format!(
                "{} node {name}",
                match how {
                    NodeFault::Stop => "start",
                    NodeFault::Pause => "unpause",
                }
            ),
            calls: vec![],
            node: Some((name.to_string(), how)),
        };
        register(CleanupItem::Heal(heal.clone()));
        let said = host
            .fail(name, how)
            .await
            .map_err(|e| ClusterError::Api(format!("failing node {name}: {e}")))?;
        let down = self.node_until(name, false, timeout).await.map_err(|e| {
            ClusterError::Api(format!(
                "node fault had no effect: {name} stayed Ready after `{}` ({e})",
                said.trim()
            ))
        })?;
        crate::journal::mark(format!("in effect: {down}"));
        let mut out = vec![down];
        if let Some(d) = lasting {
            tokio::time::sleep(d).await;
            let up = self.heal_node(name, how, timeout).await?;
            crate::journal::mark(format!("healed: {up}"));
            out.push(up);
        }
        Ok(out.join("\n"))
    }

    /// Brings a failed node back and waits until it is Ready.
    pub(super) async fn heal_node(
        &self,
        name: &str,
        how: NodeFault,
        timeout: Duration,
    ) -> Result<String, ClusterError> {
        let Some(host) = self.node_host() else {
            return Err(ClusterError::Api(format!(
                "node {name} cannot be brought back: no provider owns its machine"
            )));
        };
        host.restore(name, how)
            .await
            .map_err(|e| ClusterError::Api(format!("restoring node {name}: {e}")))?;
        self.node_until(name, true, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(status: &str, message: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kind-worker2"},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": status, "message": message}
            ]}
        }))
        .unwrap()
    }

    // Layer 1 (pure): a node is down when its Ready condition is not True (False, or Unknown
    // once its kubelet stops posting), and back when it is True again.
    #[test]
    fn a_node_is_down_when_not_ready_and_back_when_ready() {
        let gone = node("Unknown", "Kubelet stopped posting node status.");
        assert_eq!(
            node_is(Some(&gone), "kind-worker2", false).unwrap(),
            "node kind-worker2 not Ready (Ready=Unknown: Kubelet stopped posting node status.)"
        );
        assert!(node_is(Some(&gone), "kind-worker2", true).is_err());
        let up = node("True", "kubelet is posting ready status");
        assert!(
            node_is(Some(&up), "kind-worker2", false)
                .unwrap_err()
                .contains("Ready=True")
        );
        assert_eq!(
            node_is(Some(&up), "kind-worker2", true).unwrap(),
            "node kind-worker2 Ready again"
        );
        assert!(node_is(None, "kind-worker2", false).is_err());
    }
}
