//! Node faults for the providers that own the nodes' machines: a kind node is a container on
//! the host (docker, or podman with `KIND_EXPERIMENTAL_PROVIDER=podman`), killed (power lost)
//! or paused, then started or unpaused; a Minikube node is stopped and started with `minikube
//! node stop|start`, and frozen as a container (its docker driver). Each command is bounded.

use super::run_tool;
use crate::cluster::{NodeFault, NodeHost};
use std::time::Duration;

const NODE_COMMAND: Duration = Duration::from_secs(120);

/// kind's nodes, containers of `engine`.
pub struct KindNodes {
    pub engine: String,
}

impl KindNodes {
    pub fn from_env() -> Self {
        let engine = std::env::var("KIND_EXPERIMENTAL_PROVIDER")
            .ok()
            .filter(|e| e == "podman" || e == "nerdctl")
            .unwrap_or_else(|| "docker".into());
        Self { engine }
    }
}

/// The container engine's command that fails (`restore` false) or restores a node: power lost
/// is `kill` (SIGKILL to the node's init: nothing shuts down cleanly), a freeze `pause`.
pub fn container_command(node: &str, how: NodeFault, restore: bool) -> Vec<String> {
    let verb = match (how, restore) {
        (NodeFault::Stop, false) => "kill",
        (NodeFault::Stop, true) => "start",
        (NodeFault::Pause, false) => "pause",
        (NodeFault::Pause, true) => "unpause",
    };
    vec![verb.into(), node.into()]
}

/// Minikube's command for a node of `profile`: `node stop|start` for a stop; a freeze goes to
/// the container (the docker driver).
pub fn minikube_command(
    profile: &str,
    node: &str,
    how: NodeFault,
    restore: bool,
) -> Option<Vec<String>> {
    match how {
        NodeFault::Stop => Some(vec![
            "-p".into(),
            profile.into(),
            "node".into(),
            if restore { "start" } else { "stop" }.into(),
            node.into(),
        ]),
        NodeFault::Pause => None,
    }
}

#[async_trait::async_trait]
impl NodeHost for KindNodes {
    async fn fail(&self, node: &str, how: NodeFault) -> Result<String, String> {
        let args = container_command(node, how, false);
        run_tool(&self.engine, &args, NODE_COMMAND)
            .await
            .map(|_| format!("{} {}", self.engine, args.join(" ")))
            .map_err(|e| e.to_string())
    }
    async fn restore(&self, node: &str, how: NodeFault) -> Result<String, String> {
        let args = container_command(node, how, true);
        run_tool(&self.engine, &args, NODE_COMMAND)
            .await
            .map(|_| format!("{} {}", self.engine, args.join(" ")))
            .map_err(|e| e.to_string())
    }
}

/// Minikube's nodes, of `profile`.
pub struct MinikubeNodes {
    pub profile: String,
}

impl MinikubeNodes {
    async fn run(&self, node: &str, how: NodeFault, restore: bool) -> Result<String, String> {
        let (program, args) = match minikube_command(&self.profile, node, how, restore) {
            Some(args) => ("minikube", args),
            None => ("docker", container_command(node, how, restore)),
        };
        run_tool(program, &args, NODE_COMMAND)
            .await
            .map(|_| format!("{program} {}", args.join(" ")))
            .map_err(|e| {
                if program == "docker" {
                    format!("{e} (freezing a Minikube node needs its docker driver)")
                } else {
                    e.to_string()
                }
            })
    }
}

#[async_trait::async_trait]
impl NodeHost for MinikubeNodes {
    async fn fail(&self, node: &str, how: NodeFault) -> Result<String, String> {
        self.run(node, how, false).await
    }
    async fn restore(&self, node: &str, how: NodeFault) -> Result<String, String> {
        self.run(node, how, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): the command lines that fail and restore a node.
    #[test]
    fn node_faults_are_these_command_lines() {
        assert_eq!(
            container_command("kind-worker2", NodeFault::Stop, false),
            ["kill", "kind-worker2"]
        );
        assert_eq!(
            container_command("kind-worker2", NodeFault::Stop, true),
            ["start", "kind-worker2"]
        );
        assert_eq!(
            container_command("kind-worker2", NodeFault::Pause, false),
            ["pause", "kind-worker2"]
        );
        assert_eq!(
            container_command("kind-worker2", NodeFault::Pause, true),
            ["unpause", "kind-worker2"]
        );
        assert_eq!(
            minikube_command("h-run", "h-run-m02", NodeFault::Stop, false).unwrap(),
            ["-p", "h-run", "node", "stop", "h-run-m02"]
        );
        assert_eq!(
            minikube_command("h-run", "h-run-m02", NodeFault::Stop, true).unwrap(),
            ["-p", "h-run", "node", "start", "h-run-m02"]
        );
        assert!(minikube_command("h-run", "h-run-m02", NodeFault::Pause, false).is_none());
    }
}
