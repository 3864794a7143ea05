//! The typed terms of the cluster port: which workloads, which conditions, which faults, which
//! pods. Step kinds and verifiers build these from validated scenario values; the Kubernetes
//! layer acts on them without parsing anything.

use serde::Serialize;
use std::time::Duration;

/// Workload kinds that have a scale subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ScalableKind {
    StatefulSet,
    Deployment,
    ReplicaSet,
    ReplicationController,
}

impl ScalableKind {
    pub const ALL: [Self; 4] = [
        Self::StatefulSet,
        Self::Deployment,
        Self::ReplicaSet,
        Self::ReplicationController,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatefulSet => "StatefulSet",
            Self::Deployment => "Deployment",
            Self::ReplicaSet => "ReplicaSet",
            Self::ReplicationController => "ReplicationController",
        }
    }
}

/// Workload kinds whose rollout can be awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RolloutKind {
    StatefulSet,
    Deployment,
    DaemonSet,
    ReplicaSet,
    ReplicationController,
}

impl RolloutKind {
    pub const ALL: [Self; 5] = [
        Self::StatefulSet,
        Self::Deployment,
        Self::DaemonSet,
        Self::ReplicaSet,
        Self::ReplicationController,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatefulSet => "StatefulSet",
            Self::Deployment => "Deployment",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::ReplicationController => "ReplicationController",
        }
    }
}

impl From<ScalableKind> for RolloutKind {
    fn from(k: ScalableKind) -> Self {
        match k {
            ScalableKind::StatefulSet => Self::StatefulSet,
            ScalableKind::Deployment => Self::Deployment,
            ScalableKind::ReplicaSet => Self::ReplicaSet,
            ScalableKind::ReplicationController => Self::ReplicationController,
        }
    }
}

/// One object by name, or the objects of a label selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    Name(String),
    Selector(String),
}

impl Selection {
    /// The pods in words, for plans: `galera-0`, or `every pod of app=galera`.
    pub fn describe(&self) -> String {
        match self {
            Self::Name(name) => name.clone(),
            Self::Selector(selector) => format!("every pod of {selector}"),
        }
    }
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Selector(selector) => write!(f, "-l {selector}"),
        }
    }
}

/// A condition a `wait` step watches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitCondition {
    /// The workload fully rolled out.
    /// `every_node`: a DaemonSet must also cover every schedulable node, not only the nodes
    /// its own selector and tolerations pick.
    Rollout {
        kind: RolloutKind,
        name: String,
        every_node: bool,
    },
    /// At least `count` ready replicas.
    ReadyReplicas {
        kind: RolloutKind,
        name: String,
        count: u32,
    },
    /// A named pod Ready, or `count` pods of a selector (all of them when `None`).
    PodReady { pods: Selection, count: Option<u32> },
    /// A named pod not Ready (a readiness check made it fail on purpose).
    PodNotReady { name: String },
    /// At least `count` ready addresses in the EndpointSlices of a Service.
    Endpoints { service: String, count: u32 },
    /// A field of an object (a path such as `.status.phase`) equal to a value.
    Field {
        kind: String,
        name: String,
        path: String,
        equals: String,
    },
}

/// Objects to delete: by name or selector; only objects the harness labelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteTarget {
    pub kind: String,
    pub objects: Selection,
    /// Wait until the objects are gone (bounded by the step timeout).
    pub wait: bool,
}

/// A change rolled through a workload's pods by its controller (`rollout` step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// StatefulSet, Deployment or DaemonSet.
    pub kind: RolloutKind,
    pub name: String,
    pub change: Change,
}

/// What a rollout changes in the pod template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A container's image.
    Image { container: String, image: String },
    /// Environment values of a container (others kept).
    Env {
        container: String,
        values: std::collections::BTreeMap<String, String>,
    },
    /// Nothing but a new template annotation, as `kubectl rollout restart` does.
    Restart,
    /// Back to the revision before the current one, as `kubectl rollout undo` does.
    Undo,
}

impl Change {
    /// In words, for the plan and the step's output.
    pub fn describe(&self) -> String {
        match self {
            Change::Image { container, image } => format!("image of {container} to {image}"),
            Change::Env { container, values } => format!(
                "environment of {container}: {}",
                values.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Change::Restart => "restart".into(),
            Change::Undo => "undo to the previous revision".into(),
        }
    }
}

/// A fault injected on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Delete a pod; optionally wait for a replacement (new UID) to be Ready.
    DeletePod {
        name: String,
        wait_for_replacement: bool,
    },
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    /// Scale a workload to zero, wait until its pods are gone, scale it back, wait for rollout.
    ScaleToZeroAndBack {
        kind: ScalableKind,
        name: String,
    },
    /// Freeze every process of a container (SIGSTOP from outside its PID namespace); resume
    /// after `lasting` if given, else at a `heal` step or the clean-up.
    Pause {
        pod: String,
        container: Option<String>,
        #[serde(serialize_with = "crate::check::opt_duration_text")]
        lasting: Option<Duration>,
    },
    /// SIGKILL every process of a container in each pod, `spread` apart (no grace period, no
    /// preStop, no trap); the kubelet restarts it.
    Kill {
        pods: Vec<String>,
        container: Option<String>,
        #[serde(serialize_with = "crate::check::duration_text")]
        spread: Duration,
    },
    /// Cut the network both ways between the `isolate` pods and the `from` pods (those of
    /// `from` not in `isolate`), proven on `port` of the `from` pods; healed after `lasting`
    /// if given, else at a `heal` step or the clean-up.
    Partition {
        isolate: Selection,
        from: Selection,
        port: u16,
        #[serde(serialize_with = "crate::check::opt_duration_text")]
        lasting: Option<Duration>,
    },
    /// A whole node stopped or frozen (its container on the host, for kind and Minikube's
    /// docker driver), proven by the Node turning not Ready; back after `lasting` if given,
    /// else at a `heal` step or the clean-up, proven Ready again.
    Node {
        name: String,
        how: NodeFault,
        #[serde(serialize_with = "crate::check::opt_duration_text")]
        lasting: Option<Duration>,
    },
    /// Cordon a node and evict the scenario's pods on it through the Eviction API,
    /// respecting PodDisruptionBudgets; the uncordon is registered first.
    Drain {
        node: String,
    },
    /// Heal now what the fault step `step` made (and prove it healed).
    Heal {
        step: String,
    },
}

/// How a node fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeFault {
    /// Its machine stops (every process on it ends; the kubelet too).
    Stop,
    /// Its machine freezes (every process on it stops where it is).
    Pause,
}

impl Fault {
    /// Whether the fault is made by the fault agent on the pods' nodes.
    pub fn needs_agent(&self) -> bool {
        matches!(
            self,
            Fault::Pause { .. } | Fault::Kill { .. } | Fault::Partition { .. }
        )
    }

    /// Whether it is made through `Cluster::inject` (which proves it and registers its heal)
    /// rather than `Cluster::fault`.
    pub fn made_by_inject(&self) -> bool {
        self.needs_agent() || matches!(self, Fault::Node { .. } | Fault::Drain { .. })
    }

    /// Whether it stays in effect after its step ends (until a `heal` step or the clean-up).
    pub fn lasts_beyond_its_step(&self) -> bool {
        matches!(
            self,
            Fault::Pause { lasting: None, .. }
                | Fault::Partition { lasting: None, .. }
                | Fault::Node { lasting: None, .. }
        )
    }
}

/// Servers in pods of a selector, reached through port-forward bridges to `port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodTarget {
    pub selector: String,
    pub port: u16,
}

/// Proxies reached from inside application pods: one app pod per node runs
/// `nc $<host_env> <port>`, so the check goes through the proxy on that pod's own node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyPods {
    pub via_pods: String,
    pub host_env: String,
    pub port: u16,
}

/// What a guard asks the cluster to report, for as long as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// Every change of the matching pods (readiness, restart counts, deletion).
    Pods { selector: String },
    /// Every log line of the matching pods' containers (or one container), also of pods
    /// created later.
    Logs {
        pods: Selection,
        container: Option<String>,
    },
    /// Every event of the namespace.
    Events,
}

/// One thing the cluster reported to a guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Pod {
        name: String,
        uid: String,
        /// Part of the list the watch started with (restarts before it do not count).
        initial: bool,
        ready: bool,
        /// Restart count per container (init containers included).
        restarts: std::collections::BTreeMap<String, i32>,
        /// The pod is gone (deleted).
        gone: bool,
    },
    LogLine {
        pod: String,
        container: String,
        line: String,
    },
    /// A container instance's log began to be followed (its lines follow as `LogLine`s), or
    /// could not be, while the container still ran: the guard is blind to it.
    LogFollowed {
        pod: String,
        container: String,
        restarts: i32,
        error: Option<String>,
    },
    Event {
        /// `Normal` or `Warning`.
        kind: String,
        reason: String,
        /// `Pod/galera-ss-1`.
        object: String,
        message: String,
    },
}

/// The pods a step disrupts on purpose (a fault), which guards excuse while it runs and
/// settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disrupted {
    Pods(Vec<String>),
    /// A node or a whole workload: any pod may be affected.
    AnyPod,
}

/// CPU in millicores and memory in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resources {
    pub cpu_milli: u64,
    pub memory: u64,
}

impl Resources {
    // Saturating: a demand past u64 is more than any cluster has, and stays so (it never
    // wraps to a small number that would fit).
    pub fn plus(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.saturating_add(o.cpu_milli),
            memory: self.memory.saturating_add(o.memory),
        }
    }
    pub fn max(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.max(o.cpu_milli),
            memory: self.memory.max(o.memory),
        }
    }
    pub fn times(self, n: u64) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.saturating_mul(n),
            memory: self.memory.saturating_mul(n),
        }
    }
    pub fn fits_in(self, o: Resources) -> bool {
        self.cpu_milli <= o.cpu_milli && self.memory <= o.memory
    }
}
