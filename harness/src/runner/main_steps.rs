//! The main steps, with the scenario's guards watching beside them: each step runs in turn
//! unless a reason to skip the rest has appeared (a failure, the scenario's deadline, a
//! `fail_fast` guard, Ctrl-C); a step that disrupts pods opens a fault window while it runs;
//! after the last step that starts pods the guards keep watching for the slowest probe.

use super::{Executor, Run, guards, info, skipped};
use crate::cluster::Disrupted;
use crate::guards::FaultWindow;
use crate::plan::PlannedStep;
use crate::report::events::{Outcome, Phase};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Why a step does not run, decided before it would start; `None`: it runs.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Skip {
    /// A reason found earlier still holds.
    Already,
    /// A new reason; `fails` when it fails the scenario (Ctrl-C alone does not).
    Now { reason: String, fails: bool },
}

/// Decides whether the next main step runs: an earlier reason holds; else a tripped
/// `fail_fast` guard (not Ctrl-C), Ctrl-C, or the scenario's deadline having passed.
pub(super) fn skip_before(
    earlier: Option<&str>,
    guard_tripped: bool,
    ctrl_c: bool,
    left: Duration,
    scenario_deadline: Duration,
) -> Option<Skip> {
    if earlier.is_some() {
        Some(Skip::Already)
    } else if guard_tripped && !ctrl_c {
        Some(Skip::Now {
            reason: "a fail_fast guard was violated".into(),
            fails: true,
        })
    } else if ctrl_c {
        Some(Skip::Now {
            reason: "the run was cancelled (Ctrl-C)".into(),
            fails: false,
        })
    } else if left.is_zero() {
        Some(Skip::Now {
            reason: format!(
                "the scenario deadline of {} passed",
                humantime::format_duration(scenario_deadline)
            ),
            fails: true,
        })
    } else {
        None
    }
}

/// Why the steps after `step` do not run, given how it ended; `None`: they do (it passed,
/// or failed with `continue_on_error`).
pub(super) fn skip_after(step: &PlannedStep, outcome: &Outcome, ctrl_c: bool) -> Option<String> {
    if !outcome.is_failure() {
        return None;
    }
    match outcome {
        Outcome::Cancelled { .. } => Some(if ctrl_c {
            "the run was cancelled (Ctrl-C)".into()
        } else {
            "a fail_fast guard was violated".into()
        }),
        _ if step.continue_on_error => None,
        Outcome::TimedOut { .. } => Some(format!(
            "step `{}` ran out of time ({}), so the later steps were not run",
            step.id,
            humantime::format_duration(step.timeout)
        )),
        _ => Some(format!(
            "step `{}` failed, so the later steps were not run",
            step.id
        )),
    }
}

/// Whether the step starts pods (applies, scales or disrupts them) or waits for them: the
/// probe window counts from the last such step's end (a wait ends once its pods run).
pub(super) fn starts_pods(step: &PlannedStep) -> bool {
    !step.action.applies().is_empty()
        || step.action.scales().is_some()
        || step.action.disrupts().is_some()
        || matches!(step.action, crate::steps::Action::Wait(_))
}

impl Executor<'_> {
    /// Runs the main steps with the guards beside them; returns each guard's outcome.
    /// `skip_reason`: why no main step may run (the namespace could not be created).
    pub(super) async fn main_steps_under_guards(
        &self,
        run: &mut Run<'_>,
        skip_reason: Option<String>,
    ) -> Vec<guards::GuardOutcome> {
        let (step_tx, step_rx) = watch::channel(None);
        let state = run.state;
        let guard_run = guards::GuardRun {
            origin: state.faults.origin,
            step: step_rx,
            faults: &state.faults.windows,
            stop: CancellationToken::new(),
            trip: self.cancel.child_token(),
        };
        let plan = run.plan;
        let main = async {
            self.main_steps(run, skip_reason, &guard_run, &step_tx)
                .await;
            guard_run.stop.cancel();
        };
        let ((), verdicts) = tokio::join!(
            main,
            guards::watch_all(self.cluster, &plan.namespace, &plan.guards, &guard_run)
        );
        verdicts
    }

    async fn main_steps(
        &self,
        run: &mut Run<'_>,
        mut skip_reason: Option<String>,
        guard_run: &guards::GuardRun<'_>,
        step_tx: &watch::Sender<Option<usize>>,
    ) {
        let plan = run.plan;
        let mut pods_started: Option<tokio::time::Instant> = None;
        let mut lasting_windows: std::collections::BTreeMap<String, usize> = Default::default();
        for (index, step) in plan.steps.iter().enumerate() {
            let info = info(step, index, Phase::Main);
            let left = run.deadline.saturating_duration_since(Instant::now());
            match skip_before(
                skip_reason.as_deref(),
                guard_run.trip.is_cancelled(),
                self.cancel.is_cancelled(),
                left,
                plan.deadline,
            ) {
                None => {}
                Some(Skip::Already) => {
                    let reason = skip_reason.as_deref().unwrap_or_default();
                    run.sink.emit(skipped(plan, info, reason));
                    continue;
                }
                Some(Skip::Now { reason, fails }) => {
                    run.failed |= fails;
                    run.sink.emit(skipped(plan, info, &reason));
                    skip_reason = Some(reason);
                    continue;
                }
            }
            step_tx.send_replace(Some(index));
            run.state
                .step_started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(step.id.clone(), tokio::time::Instant::now());
            let window = open_fault_window(guard_run, step);
            let outcome = self.run_step(run, step, info, left, &guard_run.trip).await;
            // A fault that lasts beyond its step keeps its window open until the step that
            // heals it ends (or to the end: the clean-up heals it).
            let lasting = step.action.fault_lasts() && outcome == Outcome::Passed;
            let healed = step
                .action
                .heals()
                .and_then(|id| lasting_windows.remove(id));
            let now = Some(guard_run.origin.elapsed());
            let mut all = guard_run.faults.lock().unwrap_or_else(|e| e.into_inner());
            match window {
                Some(i) if lasting => {
                    lasting_windows.insert(step.id.clone(), i);
                }
                Some(i) => all[i].end = now,
                None => {}
            }
            if let Some(i) = healed {
                all[i].end = now;
            }
            drop(all);
            if starts_pods(step) {
                pods_started = Some(tokio::time::Instant::now());
            }
            run.failed |= outcome.is_failure();
            if skip_reason.is_none() {
                skip_reason = skip_after(step, &outcome, self.cancel.is_cancelled());
            }
        }
        self.hold_for_probe_window(run, pods_started, guard_run)
            .await;
    }

    /// Guards keep watching until the slowest probe of the scenario's pods has had time to
    /// fail (a liveness probe on the wrong port kills its container only after its delay and
    /// failures), within the scenario's deadline; not after a failure.
    async fn hold_for_probe_window(
        &self,
        run: &Run<'_>,
        pods_started: Option<tokio::time::Instant>,
        guard_run: &guards::GuardRun<'_>,
    ) {
        let plan = run.plan;
        let (Some(window), Some(at)) = (plan.probe_window, pods_started) else {
            return;
        };
        if run.failed || plan.guards.is_empty() {
            return;
        }
        let left = run.deadline.saturating_duration_since(Instant::now());
        let until = (at + window).min(tokio::time::Instant::now() + left);
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = self.cancel.cancelled() => {}
            _ = guard_run.trip.cancelled() => {}
        }
    }
}

/// A step that disrupts pods opens a fault window (its index), closed when it ends.
fn open_fault_window(guard_run: &guards::GuardRun<'_>, step: &PlannedStep) -> Option<usize> {
    let disrupted = step.action.disrupts()?;
    let mut all = guard_run.faults.lock().unwrap_or_else(|e| e.into_inner());
    all.push(FaultWindow {
        start: guard_run.origin.elapsed(),
        end: None,
        pods: match disrupted {
            Disrupted::Pods(p) => Some(p),
            Disrupted::AnyPod => None,
        },
        step: step.id.clone(),
    });
    Some(all.len() - 1)
}

/// Layer 1 (pure): the decisions of the main-step phase.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::tests::step;
    use crate::steps::Action;

    fn sleep(id: &str) -> PlannedStep {
        step(
            id,
            Action::Sleep(crate::steps::sleep::Sleep(Duration::from_secs(1))),
        )
    }

    #[test]
    fn a_step_is_skipped_for_an_earlier_reason_a_tripped_guard_ctrl_c_or_the_deadline() {
        let minute = Duration::from_secs(60);
        let second = Duration::from_secs(1);
        assert_eq!(skip_before(None, false, false, second, minute), None);
        assert_eq!(
            skip_before(Some("x"), true, true, Duration::ZERO, minute),
            Some(Skip::Already)
        );
        assert_eq!(
            skip_before(None, true, false, second, minute),
            Some(Skip::Now {
                reason: "a fail_fast guard was violated".into(),
                fails: true
            })
        );
        // Ctrl-C cancels the guards' token too: it is not a guard's violation, and it does
        // not by itself fail the scenario.
        assert_eq!(
            skip_before(None, true, true, second, minute),
            Some(Skip::Now {
                reason: "the run was cancelled (Ctrl-C)".into(),
                fails: false
            })
        );
        assert_eq!(
            skip_before(None, false, false, Duration::ZERO, minute),
            Some(Skip::Now {
                reason: "the scenario deadline of 1m passed".into(),
                fails: true
            })
        );
    }

    #[test]
    fn the_steps_after_a_failure_are_skipped_unless_it_may_fail() {
        let failed = Outcome::Failed {
            message: "no".into(),
        };
        let timed_out = Outcome::TimedOut {
            message: "slow".into(),
        };
        let cancelled = Outcome::Cancelled {
            message: "stop".into(),
        };
        let mut s = sleep("s");
        assert_eq!(skip_after(&s, &Outcome::Passed, false), None);
        assert_eq!(
            skip_after(&s, &failed, false).as_deref(),
            Some("step `s` failed, so the later steps were not run")
        );
        assert_eq!(
            skip_after(&s, &timed_out, false).as_deref(),
            Some("step `s` ran out of time (5s), so the later steps were not run")
        );
        s.continue_on_error = true;
        assert_eq!(skip_after(&s, &failed, false), None);
        assert_eq!(skip_after(&s, &timed_out, false), None);
        // A cancelled step stops the rest even when it may fail.
        assert_eq!(
            skip_after(&s, &cancelled, true).as_deref(),
            Some("the run was cancelled (Ctrl-C)")
        );
        assert_eq!(
            skip_after(&s, &cancelled, false).as_deref(),
            Some("a fail_fast guard was violated")
        );
    }

    #[test]
    fn waits_and_steps_that_start_pods_move_the_probe_window_and_others_do_not() {
        assert!(!starts_pods(&sleep("s")));
        let wait = step(
            "w",
            Action::Wait(crate::steps::wait::Wait(
                crate::cluster::WaitCondition::PodNotReady { name: "x".into() },
            )),
        );
        assert!(starts_pods(&wait));
        let fault = step(
            "f",
            Action::Fault(crate::steps::fault::FaultStep(
                crate::cluster::Fault::DeletePod {
                    name: "p-0".into(),
                    wait_for_replacement: false,
                },
            )),
        );
        assert!(starts_pods(&fault));
    }
}
