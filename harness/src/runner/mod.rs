//! The runner: executes scenario plans against a [`Cluster`], step by step, under each step's
//! deadline and the scenario's; stops at the first failure unless a step says
//! `continue_on_error`; always runs `finally` steps and the last-in-first-out clean-up list,
//! after success, failure, timeout or cancellation (Ctrl-C). It emits [`Event`]s and never prints.
//!
//! A scenario's life is a list of phases ([`Executor::run_scenario`]), each in its own file:
//! `setup.rs` (does the cluster fit, the namespace), `main_steps.rs` (the steps with the guards
//! beside them), `step.rs` (one step's tries), `wind_down.rs` (workloads, guard verdicts,
//! `finally`, undo, clean-up); `sink.rs` redacts every event on its way out.

use crate::cluster::{CleanupItem, Cluster};
use crate::plan::{PlannedStep, ScenarioPlan};
use crate::report::events::{Event, EventSink, Outcome, Phase, ScenarioOutcome, StepInfo};
use crate::steps::ScenarioState;
use sink::RedactingSink;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How often a running step says what it is waiting for ([`Event::StepProgress`]).
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// How long evidence gathering may take after a failure.
pub const EVIDENCE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long each clean-up item may take (a namespace: as long as the cluster layer's own
/// bound from its pods' grace periods, at most [`NAMESPACE_CLEANUP_TIMEOUT`]).
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(180);
pub const NAMESPACE_CLEANUP_TIMEOUT: Duration = Duration::from_secs(16 * 60);

/// Outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioResult {
    pub name: String,
    pub passed: bool,
}

pub struct Executor<'a> {
    pub cluster: &'a dyn Cluster,
    pub sink: &'a dyn EventSink,
    /// Cancelled on Ctrl-C / SIGTERM.
    pub cancel: CancellationToken,
}

/// One scenario's run as its phases pass it along: the plan, the state its steps share, the
/// redacting way out, its clock, and whether anything has failed yet.
struct Run<'r> {
    pub plan: &'r ScenarioPlan,
    pub state: &'r Arc<ScenarioState>,
    pub sink: RedactingSink<'r>,
    pub started: Instant,
    pub deadline: Instant,
    pub failed: bool,
}

impl Run<'_> {
    fn register_cleanup(&self, item: CleanupItem) {
        self.state
            .cleanup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(item);
    }
}

impl Executor<'_> {
    /// A scenario's life, phase by phase.
    pub async fn run_scenario(&self, plan: &ScenarioPlan) -> ScenarioResult {
        let state = Arc::new(ScenarioState::new(plan.secrets.clone()));
        let mut run = self.start(plan, &state);
        if let Some(shortfall) = self.undersized(plan).await {
            return self.not_run(&run, shortfall);
        }
        let skip_reason = self.set_up_namespace(&mut run).await;
        let guard_outcomes = self.main_steps_under_guards(&mut run, skip_reason).await;
        self.stop_workloads(&run).await;
        run.failed |= self.report_guards(&run, &guard_outcomes).await;
        self.finally_steps(&mut run).await;
        self.undo_verifier_writes(&mut run).await;
        self.clean_up(&mut run).await;
        finish(run)
    }

    fn start<'r>(&'r self, plan: &'r ScenarioPlan, state: &'r Arc<ScenarioState>) -> Run<'r> {
        let sink = RedactingSink {
            inner: self.sink,
            redactor: &state.redactor,
        };
        let started = Instant::now();
        sink.emit(Event::ScenarioStarted {
            scenario: plan.name.clone(),
            file: plan.file.display().to_string(),
            namespace: plan.namespace.clone(),
            description: Some(plan.description.trim().to_string()).filter(|d| !d.is_empty()),
            tags: plan.tags.clone(),
            steps: plan.steps.len(),
        });
        Run {
            plan,
            state,
            sink,
            started,
            deadline: started + plan.deadline,
            failed: false,
        }
    }
}

fn finish(run: Run<'_>) -> ScenarioResult {
    run.sink.emit(Event::ScenarioFinished {
        scenario: run.plan.name.clone(),
        outcome: if run.failed {
            ScenarioOutcome::Failed
        } else {
            ScenarioOutcome::Passed
        },
        duration: run.started.elapsed(),
    });
    ScenarioResult {
        name: run.plan.name.clone(),
        passed: !run.failed,
    }
}

fn info(step: &PlannedStep, index: usize, phase: Phase) -> StepInfo {
    StepInfo {
        index,
        id: step.id.clone(),
        kind: step.kind,
        verifier: step.action.verifier(),
        description: step.description.clone(),
        phase,
        continue_on_error: step.continue_on_error,
        fault: step.action.disrupts().is_some(),
    }
}

/// A guard as a step of the reports.
fn guard_info(plan: &ScenarioPlan, index: usize) -> StepInfo {
    let guard = &plan.guards[index];
    StepInfo {
        index,
        id: guard.name.clone(),
        kind: guard.kind.key(),
        verifier: None,
        description: Some(guard.kind.summary()),
        phase: Phase::Guard,
        continue_on_error: false,
        fault: false,
    }
}

fn skipped(plan: &ScenarioPlan, step: StepInfo, reason: &str) -> Event {
    Event::StepFinished {
        scenario: plan.name.clone(),
        step,
        outcome: Outcome::Skipped {
            reason: reason.to_string(),
        },
        duration: Duration::ZERO,
        output: String::new(),
        evidence: vec![],
        attempts: None,
        violations: vec![],
        measured: Default::default(),
    }
}

mod guards;
mod main_steps;
mod setup;
mod sink;
mod step;
mod wind_down;
#[cfg(test)]
use wind_down::bounded_cleanup;

#[cfg(test)]
pub(crate) mod tests;
