//! Events the runner emits. Reporters consume them; the executor never prints.

use crate::cluster::Evidence;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
    pub description: Option<String>,
    pub phase: Phase,
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
    Done,
    /// Left on purpose (`--keep`, `--keep-on-failure`).
    Kept {
        reason: String,
    },
    /// Not removed: what was left where, and why. The scenario fails.
    Failed {
        message: String,
    },
}

impl CleanupOutcome {
    pub fn failure(&self) -> Option<&str> {
        match self {
            CleanupOutcome::Failed { message } => Some(message),
            _ => None,
        }
    }
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
    },
    ScenarioStarted {
        scenario: String,
        file: String,
        namespace: String,
    },
    StepStarted {
        scenario: String,
        step: StepInfo,
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
    },
    CleanupFinished {
        scenario: String,
        item: String,
        outcome: CleanupOutcome,
    },
    ScenarioFinished {
        scenario: String,
        passed: bool,
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
