//! Events the runner emits. Reporters consume them; the executor never prints.

use crate::cluster::Evidence;
pub use crate::measured::{Figure, Measured, Unavailable, WorkloadSpan};
use std::time::Duration;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Main,
    Finally,
    /// A guard's verdict over the whole run (`id` is the guard's name).
    Guard,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepInfo {
    pub index: usize,
    pub id: String,
    pub kind: &'static str,
    /// The verifier a `verify` step runs (`galera.status`).
    pub verifier: Option<&'static str>,
    pub description: Option<String>,
    pub phase: Phase,
    /// Later steps run even when it fails (the scenario still fails).
    pub continue_on_error: bool,
    /// It disrupts pods on purpose (a fault step, or a verifier with `during:`).
    pub fault: bool,
}

impl StepInfo {
    /// A step that is none of the scenario's: set-up (`namespace`, `cluster-size`).
    pub fn setup(id: &str) -> Self {
        Self {
            index: 0,
            id: id.to_string(),
            kind: "setup",
            verifier: None,
            description: None,
            phase: Phase::Main,
            continue_on_error: false,
            fault: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed {
        message: String,
    },
    TimedOut {
        message: String,
    },
    /// The step did not run (an earlier step failed, the deadline passed, or Ctrl-C).
    Skipped {
        reason: String,
    },
    Cancelled {
        message: String,
    },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed { .. } | Outcome::TimedOut { .. } | Outcome::Cancelled { .. }
        )
    }
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "PASS",
            Outcome::Failed { .. } => "FAIL",
            Outcome::TimedOut { .. } => "TIMEOUT",
            Outcome::Skipped { .. } => "SKIP",
            Outcome::Cancelled { .. } => "CANCEL",
        }
    }
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Passed => None,
            Outcome::Failed { message }
            | Outcome::TimedOut { message }
            | Outcome::Cancelled { message } => Some(message),
            Outcome::Skipped { reason } => Some(reason),
        }
    }
}

/// What became of one clean-up item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CleanupOutcome {
    /// Removed; with what is worth knowing (how long a namespace took to go).
    Done { note: Option<String> },
    /// Left on purpose (`--keep`, `--keep-on-failure`).
    Kept { reason: String },
    /// Not removed: what was left where, and why. The scenario fails.
    Failed { message: String },
}

impl CleanupOutcome {
    pub fn failure(&self) -> Option<&str> {
        match self {
            CleanupOutcome::Failed { message } => Some(message),
            _ => None,
        }
    }
}

/// A guard's violation: when (since the scenario started), on what, what was seen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Violation {
    /// Seconds since the scenario started.
    #[serde(deserialize_with = "crate::measured::seconds")]
    pub at_secs: f64,
    /// The object it happened to (`Pod/galera-ss-1`, `galera-ss-0/mariadb`).
    pub object: String,
    pub what: String,
}

/// How a scenario ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioOutcome {
    Passed,
    Failed,
    /// Not run: the cluster cannot hold it (`--skip-undersized`).
    Skipped,
    /// Started and never finished (the run was killed).
    Unfinished,
}

/// What the run selected its scenarios from, for the reports and for `--rerun-failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Selection {
    /// The scenario paths (files or folders), as given.
    pub paths: Vec<String>,
    pub tags: Vec<String>,
    /// `K/N` when the run was one slice of a partitioned selection.
    pub partition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        provider: String,
        cluster_version: String,
        scenarios: usize,
        /// The run whose failed scenarios this one re-runs (`--rerun-failed`).
        reran: Option<String>,
        selection: Selection,
    },
    ScenarioStarted {
        scenario: String,
        file: String,
        namespace: String,
        description: Option<String>,
        tags: Vec<String>,
        /// How many main steps it has (progress lines count them).
        #[serde(default)]
        steps: usize,
    },
    StepStarted {
        scenario: String,
        step: StepInfo,
    },
    /// A step still running, every [`crate::runner::HEARTBEAT`]: what it waits for now.
    StepProgress {
        scenario: String,
        step: StepInfo,
        #[serde(serialize_with = "secs")]
        elapsed: Duration,
        /// What is left of its deadline.
        #[serde(serialize_with = "secs")]
        left: Duration,
        /// The try it is on (a step with `retry`).
        attempt: u32,
        /// What it last saw or is waiting on (`2/3 ready`, `galera-ss-1 connect for 4s`).
        note: Option<String>,
    },
    StepFinished {
        scenario: String,
        step: StepInfo,
        outcome: Outcome,
        #[serde(serialize_with = "secs")]
        duration: Duration,
        /// What the step printed or found (command output, verifier evidence).
        output: String,
        /// Gathered from the cluster when the step failed, before clean-up.
        evidence: Vec<Evidence>,
        /// How many tries a step with `retry` took.
        attempts: Option<u32>,
        /// A guard's violations.
        violations: Vec<Violation>,
        /// What the step measured (a workload's figures and where its windows were).
        measured: Measured,
    },
    CleanupFinished {
        scenario: String,
        item: String,
        outcome: CleanupOutcome,
    },
    ScenarioFinished {
        scenario: String,
        outcome: ScenarioOutcome,
        #[serde(serialize_with = "secs")]
        duration: Duration,
    },
    RunFinished {
        #[serde(serialize_with = "secs")]
        duration: Duration,
        passed: usize,
        failed: usize,
    },
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Where events go. Implementations must be cheap: they are called from the executor's tasks.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Collects events in memory (tests, and reporters that write at the end).
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Collect {
    fn emit(&self, event: Event) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(event);
    }
}

impl Collect {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
