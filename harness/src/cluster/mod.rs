//! The cluster port: everything the runner and the step kinds need from Kubernetes, in typed
//! terms (no scenario-file types reach it). The real implementation (kube-rs) lives in `k8s`;
//! `NoCluster` serves runs without a cluster; tests use doubles. Errors carry the tool output or
//! API message they came from.

mod endpoint;
mod vocabulary;

pub use endpoint::{Endpoint, Via};
pub mod resolver;
pub use vocabulary::*;

use crate::manifest::Manifest;
use async_trait::async_trait;
use std::time::Duration;

/// Something the harness created and must remove, last first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CleanupItem {
    Namespace(String),
    /// A cluster-scoped or namespaced object created by an apply step.
    Object {
        api_version: String,
        kind: String,
        namespace: Option<String>,
        name: String,
    },
    /// A node the scenario cordoned: uncordon it.
    Uncordon(String),
    /// Undo what a pod-level fault did (resume frozen processes, restore routes), registered
    /// before the fault is made.
    Heal(Heal),
}

/// How to heal a pod-level fault: the fault agent's calls that undo it, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heal {
    /// The fault step that made it (a `heal` step names it).
    pub step: String,
    pub namespace: String,
    /// What it undoes, in words (`resume galera-ss-2`).
    pub what: String,
    #[serde(skip)]
    pub calls: Vec<AgentCall>,
    /// A node to bring back (and wait for, Ready).
    pub node: Option<(String, NodeFault)>,
}

/// What owns the nodes' machines and can stop, freeze and restore one: kind's and Minikube's
/// docker driver (a node is a container on the host). Given to the cluster by the provider.
#[async_trait]
pub trait NodeHost: Send + Sync {
    /// Stops (`Stop`) or freezes (`Pause`) the node's machine; what the tool said.
    async fn fail(&self, node: &str, how: NodeFault) -> Result<String, String>;
    /// Undoes it (`docker start`, `docker unpause`).
    async fn restore(&self, node: &str, how: NodeFault) -> Result<String, String>;
}

/// One call of the fault agent on a node: the agent pod, and the command run in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCall {
    pub agent_pod: String,
    pub argv: Vec<String>,
}

impl std::fmt::Display for CleanupItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CleanupItem::Namespace(n) => write!(f, "namespace {n}"),
            CleanupItem::Object {
                kind,
                namespace: Some(ns),
                name,
                ..
            } => write!(f, "{kind} {ns}/{name}"),
            CleanupItem::Object { kind, name, .. } => write!(f, "{kind} {name}"),
            CleanupItem::Uncordon(n) => write!(f, "uncordon node {n}"),
            CleanupItem::Heal(h) => write!(f, "heal fault `{}` ({})", h.step, h.what),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// The log of one container of a pod (`previous`: of the instance before its last restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLog {
    pub pod: String,
    pub container: String,
    pub previous: bool,
    pub text: String,
}

/// A node of the cluster and whether new pods can land on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    /// `None` when pods can be scheduled there; otherwise why not (not Ready, cordoned, a
    /// NoSchedule taint).
    pub unschedulable: Option<String>,
    /// What the node offers pods (`status.allocatable`), when it says.
    pub allocatable: Option<Resources>,
    /// What the pods already on it request.
    pub requested: Resources,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    pub name: String,
    pub ip: Option<String>,
    pub node: Option<String>,
    pub ready: bool,
}

/// One piece of evidence gathered when a step fails.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub title: String,
    /// The evidence itself, or, when it is spooled, an excerpt of it.
    pub body: String,
    /// The complete evidence, when too long to hold in memory (a workload's history).
    #[serde(skip)]
    pub spooled: Option<crate::spool::Spool>,
}

impl Evidence {
    pub fn new(kind: EvidenceKind, title: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            kind,
            title: title.into(),
            body: body.into(),
            spooled: None,
        }
    }

    /// Evidence kept in a file: `excerpt` stands for it in reports that show evidence inline.
    pub fn spooled(
        kind: EvidenceKind,
        title: impl Into<String>,
        excerpt: String,
        spool: crate::spool::Spool,
    ) -> Self {
        Self {
            kind,
            title: title.into(),
            body: excerpt,
            spooled: Some(spool),
        }
    }
}

/// What a piece of evidence is. Reports that must cut keep the most of what explains a failure
/// best: events and container states, then the last lines of each log, then object YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Events,
    ContainerStates,
    Log,
    Nodes,
    Objects,
    /// Anything else (a note that gathering failed).
    Other,
}

impl EvidenceKind {
    /// Its share of a bounded report relative to the others (the failure itself has 6).
    pub fn weight(self) -> usize {
        match self {
            EvidenceKind::Events | EvidenceKind::ContainerStates => 4,
            EvidenceKind::Log | EvidenceKind::Other => 2,
            EvidenceKind::Nodes | EvidenceKind::Objects => 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Api(String),
    #[error("timed out after {}: last seen: {last_state}", human(*after))]
    Timeout { after: Duration, last_state: String },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("refusing to touch {0}: it lacks the harness labels, so the harness did not create it")]
    NotOurs(String),
    #[error("{0} needs a Kubernetes cluster, and this run has none")]
    NoCluster(&'static str),
}

/// What a scenario can do to a cluster. Every call is scoped to the scenario's namespace.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Provider name and server version, for reports.
    fn describe(&self) -> (String, String);
    async fn create_namespace(
        &self,
        namespace: &str,
        scenario: &str,
    ) -> Result<CleanupItem, ClusterError>;
    /// Applies objects; returns clean-up items for those it created (not those it updated).
    async fn apply(
        &self,
        namespace: &str,
        scenario: &str,
        manifests: &[Manifest],
    ) -> Result<Vec<CleanupItem>, ClusterError>;
    async fn delete(
        &self,
        namespace: &str,
        target: &DeleteTarget,
        timeout: Duration,
    ) -> Result<(), ClusterError>;
    async fn scale(
        &self,
        namespace: &str,
        kind: ScalableKind,
        name: &str,
        replicas: u32,
    ) -> Result<(), ClusterError>;
    async fn wait(
        &self,
        namespace: &str,
        condition: &WaitCondition,
        timeout: Duration,
    ) -> Result<String, ClusterError>;
    async fn list_pods(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<PodInfo>, ClusterError>;
    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
        stdin: Option<&str>,
    ) -> Result<ExecOutput, ClusterError>;
    /// Runs a fault; returns clean-up items it implies (a cordon implies an uncordon).
    async fn fault(
        &self,
        namespace: &str,
        fault: &Fault,
        timeout: Duration,
    ) -> Result<Vec<CleanupItem>, ClusterError>;
    /// Makes a pod-level fault (pause, kill, partition) through the fault agent and proves it
    /// took effect; its heal is given to `register` before anything is changed. `step`: the
    /// fault step's id. What it observed, in words, for the step's output.
    async fn inject(
        &self,
        _namespace: &str,
        _step: &str,
        _fault: &Fault,
        _timeout: Duration,
        _register: &(dyn Fn(CleanupItem) + Send + Sync),
    ) -> Result<String, ClusterError> {
        Err(ClusterError::NoCluster("a pod-level fault"))
    }
    /// Rolls `rollout` through its workload's pods and waits until its controller says it is
    /// done (every pod at the new revision and ready), deleting pods one at a time itself
    /// where the update strategy is `OnDelete`. What it saw, in words.
    async fn rollout(
        &self,
        _namespace: &str,
        _rollout: &Rollout,
        _timeout: Duration,
    ) -> Result<String, ClusterError> {
        Err(ClusterError::NoCluster("a rollout"))
    }
    /// Local endpoints for a verifier's pod target (port-forward bridges). Static endpoints
    /// never reach the cluster: the verify step resolves them itself.
    async fn endpoints(
        &self,
        namespace: &str,
        target: &PodTarget,
    ) -> Result<Vec<Endpoint>, ClusterError>;
    /// Local endpoints bridged to `nc $host_env port` in one app pod per node (pod proxy
    /// targets only, as above).
    async fn proxy_endpoints(
        &self,
        namespace: &str,
        target: &ProxyPods,
    ) -> Result<Vec<Endpoint>, ClusterError>;
    /// A key of a Secret in the namespace (for verifier credentials).
    async fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<String, ClusterError>;
    /// The logs of every container of `pod` (init containers and sidecars included), and with
    /// `previous` those of their previous instances where there are any; with `since`, only
    /// what was logged in that last stretch of time.
    async fn container_logs(
        &self,
        namespace: &str,
        pod: &str,
        previous: bool,
        since: Option<Duration>,
    ) -> Result<Vec<ContainerLog>, ClusterError>;
    /// Reports what a guard watches until `tx` closes or the future is dropped (watches, not
    /// polls); an error that the watch cannot recover from ends it.
    async fn observe(
        &self,
        namespace: &str,
        watch: &Watch,
        tx: tokio::sync::mpsc::Sender<Observation>,
    ) -> Result<(), ClusterError>;
    /// The cluster's nodes, each with whether pods can be scheduled on it.
    async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError>;
    /// Pod logs (current and previous), events, object state: bounded, never failing.
    async fn evidence(&self, namespace: &str) -> Vec<Evidence>;
    /// Removes what the harness created; says how it went when there is something to say
    /// (how long a namespace took to go).
    async fn cleanup(&self, item: &CleanupItem) -> Result<Option<String>, ClusterError>;
}

/// The cluster of a run that has none: static-target scenarios only. Validation already refuses
/// cluster steps in such scenarios; these errors are the second line of defence.
pub struct NoCluster;

#[async_trait]
impl Cluster for NoCluster {
    fn describe(&self) -> (String, String) {
        ("none".into(), "-".into())
    }
    async fn create_namespace(&self, _: &str, _: &str) -> Result<CleanupItem, ClusterError> {
        Err(ClusterError::NoCluster("a namespace"))
    }
    async fn apply(
        &self,
        _: &str,
        _: &str,
        _: &[Manifest],
    ) -> Result<Vec<CleanupItem>, ClusterError> {
        Err(ClusterError::NoCluster("apply"))
    }
    async fn delete(&self, _: &str, _: &DeleteTarget, _: Duration) -> Result<(), ClusterError> {
        Err(ClusterError::NoCluster("delete"))
    }
    async fn scale(&self, _: &str, _: ScalableKind, _: &str, _: u32) -> Result<(), ClusterError> {
        Err(ClusterError::NoCluster("scale"))
    }
    async fn wait(&self, _: &str, _: &WaitCondition, _: Duration) -> Result<String, ClusterError> {
        Err(ClusterError::NoCluster("wait"))
    }
    async fn list_pods(&self, _: &str, _: &str) -> Result<Vec<PodInfo>, ClusterError> {
        Err(ClusterError::NoCluster("listing pods"))
    }
    async fn exec(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
        _: &[String],
        _: Option<&str>,
    ) -> Result<ExecOutput, ClusterError> {
        Err(ClusterError::NoCluster("exec"))
    }
    async fn fault(
        &self,
        _: &str,
        _: &Fault,
        _: Duration,
    ) -> Result<Vec<CleanupItem>, ClusterError> {
        Err(ClusterError::NoCluster("fault"))
    }
    async fn endpoints(&self, _: &str, _: &PodTarget) -> Result<Vec<Endpoint>, ClusterError> {
        Err(ClusterError::NoCluster("a pod target"))
    }
    async fn proxy_endpoints(&self, _: &str, _: &ProxyPods) -> Result<Vec<Endpoint>, ClusterError> {
        Err(ClusterError::NoCluster("a pod proxy target"))
    }
    async fn secret_value(&self, _: &str, _: &str, _: &str) -> Result<String, ClusterError> {
        Err(ClusterError::NoCluster("a Secret password"))
    }
    async fn container_logs(
        &self,
        _: &str,
        _: &str,
        _: bool,
        _: Option<Duration>,
    ) -> Result<Vec<ContainerLog>, ClusterError> {
        Err(ClusterError::NoCluster("pod logs"))
    }
    async fn observe(
        &self,
        _: &str,
        _: &Watch,
        _: tokio::sync::mpsc::Sender<Observation>,
    ) -> Result<(), ClusterError> {
        Err(ClusterError::NoCluster("a guard"))
    }
    async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        Err(ClusterError::NoCluster("listing nodes"))
    }
    async fn evidence(&self, _: &str) -> Vec<Evidence> {
        vec![]
    }
    async fn cleanup(&self, _: &CleanupItem) -> Result<Option<String>, ClusterError> {
        Ok(None)
    }
}

/// A duration as people read it, to a tenth of a second (`2m`, `4.5s`, `1h 2m 3s`), never
/// `299.99999996s`.
pub fn human(d: Duration) -> String {
    let tenths = (d.as_millis() + 50) / 100;
    let rounded = Duration::from_millis(u64::try_from(tenths * 100).unwrap_or(u64::MAX));
    if rounded >= Duration::from_secs(60) {
        humantime::format_duration(Duration::from_secs(rounded.as_secs())).to_string()
    } else {
        format!("{:.1}s", rounded.as_secs_f64()).replace(".0s", "s")
    }
}
