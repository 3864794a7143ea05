//! One step's run: its tries under its deadline (and `retry`), the heartbeat that says what
//! it waits for, the journal that names what a deadline or Ctrl-C cut short, and the evidence
//! gathered when it fails.

use super::{EVIDENCE_TIMEOUT, Executor, HEARTBEAT, Run};
use crate::cluster::{Evidence, EvidenceKind};
use crate::journal::Journal;
use crate::plan::PlannedStep;
use crate::report::events::{Event, Outcome, StepInfo};
use crate::steps::{StepContext, StepFailure};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

impl Executor<'_> {
    /// Runs one step (main or `finally`) under the lesser of its timeout and `remaining`,
    /// retrying as it says, saying every [`HEARTBEAT`] what it waits for; gathers the
    /// cluster's evidence when it fails and emits its `StepFinished`.
    pub(super) async fn run_step(
        &self,
        run: &Run<'_>,
        step: &PlannedStep,
        info: StepInfo,
        remaining: Duration,
        cancel: &CancellationToken,
    ) -> Outcome {
        let (plan, sink) = (run.plan, &run.sink);
        sink.emit(Event::StepStarted {
            scenario: plan.name.clone(),
            step: info.clone(),
        });
        let started = Instant::now();
        let limit = step.timeout.min(remaining);
        // Tokio's clock, so the tests' paused time drives the retries as real time does.
        let first_try = tokio::time::Instant::now();
        let attempt = std::sync::atomic::AtomicU32::new(0);
        let journal = Journal::new();
        // A step with `retry` runs again after a failure, every `every`, while `for` has not
        // passed since the first try (and the step's own deadline allows).
        let tries = async {
            loop {
                let n = attempt.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let left = limit.saturating_sub(first_try.elapsed());
                let result = self.attempt(run, step, limit, left, cancel, &journal).await;
                let Some(retry) = step.retry else {
                    break result;
                };
                let failed_check = matches!(
                    &result,
                    Err(StepFailure {
                        outcome: Outcome::Failed { .. },
                        ..
                    })
                );
                let next_try = first_try.elapsed() + retry.every;
                if !failed_check || next_try >= retry.for_ || next_try >= limit {
                    break with_attempts(result, n, retry);
                }
                tokio::select! {
                    _ = tokio::time::sleep(retry.every) => {}
                    _ = cancel.cancelled() => break Err(StepFailure::cancelled()),
                }
            }
        };
        // While it runs, say every HEARTBEAT what it waits for.
        let heartbeat = async {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let elapsed = first_try.elapsed();
                sink.emit(Event::StepProgress {
                    scenario: plan.name.clone(),
                    step: info.clone(),
                    elapsed,
                    left: limit.saturating_sub(elapsed),
                    attempt: attempt.load(std::sync::atomic::Ordering::Relaxed),
                    note: journal.now(),
                });
            }
        };
        let result = tokio::select! {
            r = tries => r,
            () = heartbeat => unreachable!("the heartbeat never ends"),
        };
        let attempt = attempt.load(std::sync::atomic::Ordering::Relaxed);
        let (outcome, output) = match result {
            Ok(output) => (Outcome::Passed, output),
            Err(f) => (f.outcome, f.output),
        };
        // Files the step produced (a workload's history) come first, then the cluster's.
        let mut evidence: Vec<Evidence> = journal.take_attachments();
        if outcome.is_failure() && plan.cluster.required {
            evidence.extend(
                tokio::time::timeout(EVIDENCE_TIMEOUT, self.cluster.evidence(&plan.namespace))
                    .await
                    .unwrap_or_else(|_| {
                        vec![Evidence::new(
                            EvidenceKind::Other,
                            "evidence",
                            "gathering evidence timed out",
                        )]
                    }),
            );
        }
        sink.emit(Event::StepFinished {
            scenario: plan.name.clone(),
            step: info,
            outcome: outcome.clone(),
            duration: started.elapsed(),
            output,
            evidence,
            attempts: step.retry.map(|_| attempt),
            violations: vec![],
            measured: journal.take_measured(),
        });
        outcome
    }

    /// One try of a step, bounded by what is `left` of its deadline `limit`; a deadline or
    /// Ctrl-C that cuts it short reports what its journal saw.
    async fn attempt(
        &self,
        run: &Run<'_>,
        step: &PlannedStep,
        limit: Duration,
        left: Duration,
        cancel: &CancellationToken,
        journal: &Arc<Journal>,
    ) -> Result<String, StepFailure> {
        let plan = run.plan;
        let ctx = StepContext {
            cluster: self.cluster,
            step: &step.id,
            namespace: &plan.namespace,
            scenario: &plan.name,
            values: &plan.values,
            timeout: left,
            state: run.state.clone(),
            journal: journal.clone(),
        };
        tokio::select! {
            r = tokio::time::timeout(left, journal.scope(step.action.run(&ctx))) => match r {
                Ok(r) => r,
                Err(_) => Err(StepFailure::timed_out(format!(
                    "step `{}` did not finish within {}{}{}",
                    step.id,
                    humantime::format_duration(limit),
                    if limit < step.timeout { " (what was left of the scenario deadline)" } else { "" },
                    ctx.journal.summary().map(|s| format!(": {s}")).unwrap_or_default()
                ))
                .with_output(ctx.journal.lines().join("\n"))),
            },
            _ = cancel.cancelled() => Err(if self.cancel.is_cancelled() {
                StepFailure::cancelled()
            } else {
                StepFailure {
                    outcome: Outcome::Cancelled {
                        message: "stopped: a fail_fast guard was violated (see its guard test case)".into(),
                    },
                    output: String::new(),
                }
            }
            .with_output(ctx.journal.lines().join("\n"))),
        }
    }
}

/// A retried step's result says how many tries it took (and, failing, that the last failure
/// is the one shown).
fn with_attempts(
    result: Result<String, StepFailure>,
    attempts: u32,
    retry: crate::scenario::model::Retry,
) -> Result<String, StepFailure> {
    let window = format!(
        "every {} for {}",
        humantime::format_duration(retry.every),
        humantime::format_duration(retry.for_)
    );
    match result {
        Ok(output) => Ok(format!(
            "passed on attempt {attempts} (retried {window})\n{output}"
        )),
        Err(mut f) => {
            let note = format!(" (attempt {attempts}, retried {window}; the last failure)");
            f.outcome = match f.outcome {
                Outcome::Failed { message } => Outcome::Failed {
                    message: format!("{message}{note}"),
                },
                Outcome::TimedOut { message } => Outcome::TimedOut {
                    message: format!("{message}{note}"),
                },
                other => other,
            };
            Err(f)
        }
    }
}
