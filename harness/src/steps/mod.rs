//! Step kinds: one file each, registered once in the `step_kinds!` list at the bottom of this
//! file. A step kind owns its file format (`Raw`, what a scenario may write under its key), the
//! validation that turns it into a typed value ([`StepKind::check`]), and what it does
//! ([`StepKind::run`]). The scenario loader, the validator, the plan and the runner all work
//! through the generated [`RawAction`] and [`Action`]; none of them names a kind.

pub mod apply;
pub mod delete;
pub mod exec;
pub mod fault;
pub mod logs;
pub mod rollout;
pub mod scale;
pub mod sleep;
pub mod verify;
pub mod wait;
pub mod workload;

pub use exec::check_output;

use crate::check::Checker;
use crate::cluster::{CleanupItem, Cluster, ClusterError};
use crate::report::events::Outcome;
use crate::vars::Values;
use serde::de::{DeserializeOwned, MapAccess};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One kind of step. Adding a kind: a file in `steps/` implementing this, plus one line in
/// `step_kinds!` below.
#[async_trait::async_trait]
pub trait StepKind: Sized + Clone + Debug + Serialize + Send + Sync {
    /// The key that names the kind in a scenario step (`wait:`).
    const NAME: &'static str;
    /// One sentence on what the step does (the editor schema's description of its key).
    const DOC: &'static str;
    /// Its timeout unless the scenario's `timeouts` or the step's `timeout` says otherwise.
    const DEFAULT_TIMEOUT: Duration;
    /// Whether variables are substituted in the raw spec before [`StepKind::check`] sees it
    /// (`apply` substitutes in its manifests itself, to report their own lines).
    const RENDER: bool = true;
    /// Whether a failing try may be repeated (`retry:`): checks, which change nothing when
    /// they fail.
    const RETRYABLE: bool = false;
    /// Whether `timeouts.step` sets its timeout (`sleep`'s duration is its own).
    const TAKES_STEP_TIMEOUT: bool = true;
    /// What the scenario file says under the kind's key (its JSON Schema is what `harness
    /// schema` prints for it).
    type Raw: DeserializeOwned + Serialize + Clone + Debug + schemars::JsonSchema;

    /// Validates the raw spec into the typed one, reporting every problem at `path`.
    fn check(raw: Self::Raw, cx: &mut Checker, path: &str) -> Option<Self>;
    async fn run(&self, ctx: &StepContext<'_>) -> StepResult;
    /// One line saying what the step does (plans, reports).
    fn summary(&self) -> String;
    fn needs_cluster(&self) -> bool {
        true
    }
    /// (kind, name) of the objects the step creates.
    fn creates(&self) -> Vec<(String, String)> {
        vec![]
    }
    /// The manifests the step applies (the plan's capacity demand, images and secrets).
    fn applies(&self) -> &[crate::manifest::Manifest] {
        &[]
    }
    /// (kind, name, replicas) the step scales to (the plan's capacity demand).
    fn scales(&self) -> Option<(String, String, u32)> {
        None
    }
    /// The verifier the step runs, for reports (`galera.status`).
    fn verifier(&self) -> Option<&'static str> {
        None
    }
    /// (kind, name) of the object the step waits on.
    fn watches(&self) -> Option<(&str, &str)> {
        None
    }
    /// (key, id) of the main steps the step refers to (checked to exist and to come before it).
    fn step_refs(&self) -> Vec<(&'static str, String)> {
        vec![]
    }
    /// (key, id) of the workloads the step refers to (started by an earlier step).
    fn workload_refs(&self) -> Vec<(&'static str, String)> {
        vec![]
    }
    /// The id of the workload the step starts.
    fn starts_workload(&self) -> Option<&str> {
        None
    }
    /// The pods the step disrupts on purpose (guards excuse what that causes).
    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        None
    }
    /// Whether the fault it makes stays after it ends (its window stays open until a step
    /// that heals it, or the end of the main steps).
    fn fault_lasts(&self) -> bool {
        false
    }
    /// The fault step whose lasting fault it heals.
    fn heals(&self) -> Option<&str> {
        None
    }
    /// (key, duration): the step takes at least this long by what it was told (a window it
    /// watches, a time it writes for); a step timeout no longer than it can only fail.
    fn lasts_at_least(&self) -> Option<(&'static str, Duration)> {
        None
    }
}

pub struct StepContext<'a> {
    pub cluster: &'a dyn Cluster,
    /// The running step's id.
    pub step: &'a str,
    /// The scenario's namespace (empty without a cluster).
    pub namespace: &'a str,
    pub scenario: &'a str,
    /// The scenario's resolved variables (verifier passwords read by name).
    pub values: &'a Values,
    /// What this step may take (its timeout, or what is left of the scenario's).
    pub timeout: Duration,
    pub state: Arc<ScenarioState>,
    /// What the step asked and heard so far; the runner reads it when a deadline cuts the
    /// step short.
    pub journal: Arc<crate::journal::Journal>,
}

/// What the steps of one scenario share.
#[derive(Debug, Default)]
pub struct ScenarioState {
    /// What to remove at the end, last first.
    pub cleanup: Mutex<Vec<CleanupItem>>,
    /// What earlier steps recorded for later ones (e.g. a pod's host ID before its replacement).
    pub facts: Mutex<BTreeMap<String, String>>,
    /// What verifiers wrote on the servers they check, to remove at the end, last first.
    pub undo: crate::verify::Undo,
    /// Background workloads started by `workload` steps.
    pub workloads: crate::verify::workload::Workloads,
    /// When each main step started (for `since: <step id>`).
    pub step_started: Mutex<BTreeMap<String, tokio::time::Instant>>,
    /// The fault windows: guards excuse by them, workloads are placed against them.
    pub faults: crate::guards::FaultLog,
    /// The values every event is masked with: the plan's secrets, and those learnt while
    /// running (a password read from a Secret).
    pub redactor: std::sync::RwLock<crate::redact::Redactor>,
}

impl ScenarioState {
    pub fn new(secrets: Vec<String>) -> Self {
        Self {
            redactor: std::sync::RwLock::new(crate::redact::Redactor::new(secrets)),
            ..Default::default()
        }
    }

    /// Masks `values` in everything reported from now on.
    pub fn add_secrets(&self, values: impl IntoIterator<Item = String>) {
        self.redactor
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add(values);
    }
}

impl StepContext<'_> {
    pub fn namespace(&self) -> &str {
        self.namespace
    }
    pub fn step_id(&self) -> &str {
        self.step
    }
    /// The names of the selected pods; a selector that matches none is a failure.
    pub async fn pod_names(
        &self,
        pods: &crate::cluster::Selection,
    ) -> Result<Vec<String>, StepFailure> {
        match pods {
            crate::cluster::Selection::Name(pod) => Ok(vec![pod.clone()]),
            crate::cluster::Selection::Selector(selector) => {
                let pods = self.cluster.list_pods(self.namespace(), selector).await?;
                if pods.is_empty() {
                    return Err(StepFailure::failed(
                        format!("no pod matches `{selector}`"),
                        "",
                    ));
                }
                Ok(pods.into_iter().map(|p| p.name).collect())
            }
        }
    }
    /// Registers things to remove at the end, last first.
    pub fn register(&self, items: impl IntoIterator<Item = CleanupItem>) {
        self.state
            .cleanup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(items);
    }
}

#[derive(Debug)]
pub struct StepFailure {
    pub outcome: Outcome,
    pub output: String,
}

impl StepFailure {
    pub fn failed(message: impl Into<String>, output: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Failed {
                message: message.into(),
            },
            output: output.into(),
        }
    }
    pub fn timed_out(message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::TimedOut {
                message: message.into(),
            },
            output: String::new(),
        }
    }
    /// What the step had done when it failed (the journal of a step cut short).
    pub fn with_output(mut self, output: impl Into<String>) -> Self {
        self.output = output.into();
        self
    }
    pub fn cancelled() -> Self {
        Self {
            outcome: Outcome::Cancelled {
                message: "cancelled by Ctrl-C / SIGTERM".into(),
            },
            output: String::new(),
        }
    }
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.outcome.message().unwrap_or(self.outcome.label()))
    }
}

impl From<ClusterError> for StepFailure {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Timeout { .. } => Self {
                outcome: Outcome::TimedOut {
                    message: e.to_string(),
                },
                output: String::new(),
            },
            other => Self::failed(other.to_string(), ""),
        }
    }
}

pub type StepResult = Result<String, StepFailure>;

/// An externally tagged enum written as a one-key map (`rollout: {...}`); serde_yaml 0.9 would
/// otherwise expect a YAML tag (`!rollout`). Structs and scalars pass through unchanged.
struct Singleton<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Singleton<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_yaml::with::singleton_map::deserialize(d).map(Singleton)
    }
}

fn check_kind<K: StepKind>(raw: &K::Raw, cx: &mut Checker, path: &str) -> Option<K> {
    let raw = if K::RENDER {
        cx.render(path, raw)?
    } else {
        raw.clone()
    };
    K::check(raw, cx, path)
}

macro_rules! step_kinds {
    ($($variant:ident: $module:ident::$kind:ident),* $(,)?) => {
        /// A step's kind with its spec as written in the scenario file.
        #[derive(Debug, Clone)]
        pub enum RawAction {
            $($variant(<$module::$kind as StepKind>::Raw)),*
        }

        /// A step's kind with its validated, typed spec.
        #[derive(Debug, Clone, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $($variant($module::$kind)),*
        }

        /// Every step kind's key, in registration order.
        pub const KINDS: &[&str] = &[$(<$module::$kind as StepKind>::NAME),*];

        /// Each step kind's key with what it does.
        pub const KIND_DOCS: &[(&str, &str)] =
            &[$((<$module::$kind as StepKind>::NAME, <$module::$kind as StepKind>::DOC)),*];

        /// Each kind's key with the JSON Schema of what a scenario may write under it.
        pub fn kind_schemas(
            generator: &mut schemars::SchemaGenerator,
        ) -> Vec<(&'static str, schemars::Schema)> {
            vec![$((
                <$module::$kind as StepKind>::NAME,
                generator.subschema_for::<<$module::$kind as StepKind>::Raw>(),
            )),*]
        }

        /// The built-in timeout of a kind (`None` for a name that is no kind).
        pub fn default_timeout(kind: &str) -> Option<Duration> {
            $(if kind == <$module::$kind as StepKind>::NAME {
                return Some(<$module::$kind as StepKind>::DEFAULT_TIMEOUT);
            })*
            None
        }

        /// Whether `kind` may be retried.
        pub fn retryable(kind: &str) -> bool {
            $(if kind == <$module::$kind as StepKind>::NAME {
                return <$module::$kind as StepKind>::RETRYABLE;
            })*
            false
        }

        /// The kinds whose failing tries may be repeated, for messages.
        pub fn retryable_kinds() -> Vec<&'static str> {
            let mut out = vec![];
            $(if <$module::$kind as StepKind>::RETRYABLE {
                out.push(<$module::$kind as StepKind>::NAME);
            })*
            out
        }

        /// Whether `timeouts.step` sets the timeout of `kind`.
        pub fn takes_step_timeout(kind: &str) -> bool {
            $(if kind == <$module::$kind as StepKind>::NAME {
                return <$module::$kind as StepKind>::TAKES_STEP_TIMEOUT;
            })*
            false
        }

        impl RawAction {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$module::$kind as StepKind>::NAME),*
                }
            }

            /// Reads the value of the step key `key`; `None` when `key` names no step kind.
            pub fn next_value<'de, A: MapAccess<'de>>(
                key: &str,
                map: &mut A,
            ) -> Option<Result<Self, A::Error>> {
                $(if key == <$module::$kind as StepKind>::NAME {
                    return Some(map.next_value::<Singleton<_>>().map(|v| Self::$variant(v.0)));
                })*
                None
            }

            /// Validates into the typed action; problems are reported at `path`.
            pub fn check(&self, cx: &mut Checker, path: &str) -> Option<Action> {
                match self {
                    $(Self::$variant(raw) => {
                        check_kind::<$module::$kind>(raw, cx, path).map(Action::$variant)
                    })*
                }
            }
        }

        impl Action {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$module::$kind as StepKind>::NAME),*
                }
            }
            pub fn summary(&self) -> String {
                match self {
                    $(Self::$variant(a) => a.summary()),*
                }
            }
            pub fn needs_cluster(&self) -> bool {
                match self {
                    $(Self::$variant(a) => a.needs_cluster()),*
                }
            }
            pub fn creates(&self) -> Vec<(String, String)> {
                match self {
                    $(Self::$variant(a) => a.creates()),*
                }
            }
            pub fn applies(&self) -> &[crate::manifest::Manifest] {
                match self {
                    $(Self::$variant(a) => a.applies()),*
                }
            }
            pub fn scales(&self) -> Option<(String, String, u32)> {
                match self {
                    $(Self::$variant(a) => a.scales()),*
                }
            }
            pub fn verifier(&self) -> Option<&'static str> {
                match self {
                    $(Self::$variant(a) => a.verifier()),*
                }
            }
            pub fn watches(&self) -> Option<(&str, &str)> {
                match self {
                    $(Self::$variant(a) => a.watches()),*
                }
            }
            pub fn step_refs(&self) -> Vec<(&'static str, String)> {
                match self {
                    $(Self::$variant(a) => a.step_refs()),*
                }
            }
            pub fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
                match self {
                    $(Self::$variant(a) => a.disrupts()),*
                }
            }
            pub fn lasts_at_least(&self) -> Option<(&'static str, Duration)> {
                match self {
                    $(Self::$variant(a) => a.lasts_at_least()),*
                }
            }
            pub fn fault_lasts(&self) -> bool {
                match self {
                    $(Self::$variant(a) => a.fault_lasts()),*
                }
            }
            pub fn heals(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(a) => a.heals()),*
                }
            }
            pub fn workload_refs(&self) -> Vec<(&'static str, String)> {
                match self {
                    $(Self::$variant(a) => a.workload_refs()),*
                }
            }
            pub fn starts_workload(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(a) => a.starts_workload()),*
                }
            }
            pub async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
                match self {
                    $(Self::$variant(a) => a.run(ctx).await),*
                }
            }
        }
    };
}

step_kinds! {
    Apply: apply::Apply,
    Delete: delete::Delete,
    Scale: scale::Scale,
    Wait: wait::Wait,
    Exec: exec::Exec,
    Logs: logs::Logs,
    Fault: fault::FaultStep,
    Verify: verify::Verify,
    Sleep: sleep::Sleep,
    Workload: workload::WorkloadStep,
    Rollout: rollout::RolloutStep,
}

pub use apply::Apply;
pub use verify::Verify;
