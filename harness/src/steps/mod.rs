//! Step kinds: one module each, every one an `async fn run(spec, ctx) -> StepResult` with the
//! same small signature. A step returns its output (what it printed or found) or a
//! [`StepFailure`] saying why it failed, with that output as evidence.

mod apply;
mod delete;
mod exec;
mod fault;
mod scale;
mod sleep;
mod verify;
mod wait;

use crate::exec::{CleanupItem, Cluster, ClusterError, Outcome};
use crate::plan::{PlannedAction, ScenarioPlan};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct StepContext<'a> {
    pub cluster: &'a dyn Cluster,
    pub plan: &'a ScenarioPlan,
    /// What this step may take (its timeout, or what is left of the scenario's).
    pub timeout: Duration,
    pub state: Arc<ScenarioState>,
}

/// What the steps of one scenario share.
#[derive(Debug, Default)]
pub struct ScenarioState {
    /// What to remove at the end, last first.
    pub cleanup: Mutex<Vec<CleanupItem>>,
    /// What earlier steps recorded for later ones (e.g. a pod's host ID before its replacement).
    pub facts: Mutex<std::collections::BTreeMap<String, String>>,
}

impl StepContext<'_> {
    pub fn namespace(&self) -> &str {
        &self.plan.namespace
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
    pub fn cancelled() -> Self {
        Self {
            outcome: Outcome::Cancelled {
                message: "cancelled by Ctrl-C / SIGTERM".into(),
            },
            output: String::new(),
        }
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

pub async fn run(action: &PlannedAction, ctx: &StepContext<'_>) -> StepResult {
    match action {
        PlannedAction::Apply(m) => apply::run(m, ctx).await,
        PlannedAction::Delete(s) => delete::run(s, ctx).await,
        PlannedAction::Scale(s) => scale::run(s, ctx).await,
        PlannedAction::Wait(s) => wait::run(s, ctx).await,
        PlannedAction::Exec(s) => exec::run(s, ctx).await,
        PlannedAction::Fault(s) => fault::run(s, ctx).await,
        PlannedAction::Verify(s) => verify::run(s, ctx).await,
        PlannedAction::Sleep(d) => sleep::run(d, ctx).await,
    }
}
