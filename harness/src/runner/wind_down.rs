//! After the main steps, whatever happened: the workloads stopped and any left unjudged
//! reported, each guard's verdict, the `finally` steps, the undo of what verifiers wrote on
//! the servers they checked, and the clean-up list, last in first out.

use super::{
    CLEANUP_TIMEOUT, EVIDENCE_TIMEOUT, Executor, NAMESPACE_CLEANUP_TIMEOUT, Run, guard_info,
    guards, info,
};
use crate::cluster::CleanupItem;
use crate::report::events::{CleanupOutcome, Event, Outcome, Phase, StepInfo, Violation};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs one clean-up under `bound`: done (with its note), or why it failed or took too long.
pub(super) async fn bounded_cleanup(
    bound: Duration,
    work: impl std::future::Future<Output = Result<Option<String>, String>>,
) -> CleanupOutcome {
    match tokio::time::timeout(bound, work).await {
        Ok(Ok(note)) => CleanupOutcome::Done { note },
        Ok(Err(message)) => CleanupOutcome::Failed { message },
        Err(_) => CleanupOutcome::Failed {
            message: format!("timed out after {}", humantime::format_duration(bound)),
        },
    }
}

/// How long one clean-up item may take: a namespace as long as its pods are entitled to.
pub(super) fn cleanup_bound(item: &CleanupItem) -> Duration {
    match item {
        CleanupItem::Namespace(_) => NAMESPACE_CLEANUP_TIMEOUT,
        _ => CLEANUP_TIMEOUT,
    }
}

/// Why an item was kept rather than cleaned up, if it was.
pub(super) fn kept_because(
    policy: &crate::plan::CleanupPolicy,
    failed: bool,
) -> Option<&'static str> {
    if policy.keep {
        Some("--keep")
    } else if failed && policy.keep_on_failure {
        Some("--keep-on-failure")
    } else {
        None
    }
}

impl Executor<'_> {
    /// Workloads end with the main steps (a check of one has stopped it already). A workload
    /// whose judging step never ran (an earlier step failed) is still reported: its figures
    /// and history are the evidence of what the failure did to clients.
    pub(super) async fn stop_workloads(&self, run: &Run<'_>) {
        let plan = run.plan;
        run.state.workloads.stop_all().await;
        for (i, u) in run
            .state
            .workloads
            .unjudged(&run.state.step_started, &run.state.faults)
            .into_iter()
            .enumerate()
        {
            let mut info = StepInfo::setup(&format!("workload-{}", u.id));
            info.kind = "workload";
            info.index = plan.steps.len() + i;
            run.sink.emit(Event::StepFinished {
                scenario: plan.name.clone(),
                step: info,
                outcome: Outcome::Skipped {
                    reason: format!(
                        "workload `{}` was not judged (the step that checks it did not run); what it measured is reported",
                        u.id
                    ),
                },
                duration: Duration::ZERO,
                output: u.lines.join("\n"),
                evidence: vec![u.history_edn],
                attempts: None,
                violations: vec![],
                measured: crate::measured::Measured {
                    figures: u
                        .figures
                        .into_iter()
                        .map(|(name, value)| crate::measured::Figure { name, value })
                        .collect(),
                    workloads: u.span.into_iter().collect(),
                    marks: vec![],
                },
            });
        }
    }

    /// `finally` steps run whatever happened, each under its own timeout; a cancelled run
    /// still tears down.
    pub(super) async fn finally_steps(&self, run: &mut Run<'_>) {
        for (index, step) in run.plan.finally.iter().enumerate() {
            let info = info(step, index, Phase::Finally);
            let outcome = self
                .run_step(run, step, info, step.timeout, &CancellationToken::new())
                .await;
            run.failed |= outcome.is_failure();
        }
    }

    /// What verifiers wrote on the servers they checked goes first, while the bridges to
    /// those servers are still open (they close with the namespace).
    pub(super) async fn undo_verifier_writes(&self, run: &mut Run<'_>) {
        for (what, work) in run.state.undo.take() {
            let outcome =
                bounded_cleanup(CLEANUP_TIMEOUT, async { work.await.map(|()| None) }).await;
            run.failed |= outcome.failure().is_some();
            run.sink.emit(Event::CleanupFinished {
                scenario: run.plan.name.clone(),
                item: what,
                outcome,
            });
        }
    }

    /// The clean-up list, last in first out, each item bounded; kept instead with `--keep`,
    /// or `--keep-on-failure` after a failure.
    pub(super) async fn clean_up(&self, run: &mut Run<'_>) {
        let kept = kept_because(&run.plan.cleanup, run.failed);
        let items: Vec<CleanupItem> =
            std::mem::take(&mut *run.state.cleanup.lock().unwrap_or_else(|e| e.into_inner()));
        for item in items.into_iter().rev() {
            let outcome = match kept {
                Some(reason) => CleanupOutcome::Kept {
                    reason: reason.into(),
                },
                None => {
                    let outcome = bounded_cleanup(cleanup_bound(&item), async {
                        self.cluster.cleanup(&item).await.map_err(|e| e.to_string())
                    })
                    .await;
                    run.failed |= outcome.failure().is_some();
                    outcome
                }
            };
            run.sink.emit(Event::CleanupFinished {
                scenario: run.plan.name.clone(),
                item: item.to_string(),
                outcome,
            });
        }
    }

    /// Reports each guard as its own test case (evidence gathered once if any was violated);
    /// returns whether any failed.
    pub(super) async fn report_guards(
        &self,
        run: &Run<'_>,
        outcomes: &[guards::GuardOutcome],
    ) -> bool {
        let (plan, sink) = (run.plan, &run.sink);
        let verdicts: Vec<(Outcome, String)> = outcomes.iter().map(guards::verdict).collect();
        let any_failed = verdicts.iter().any(|(o, _)| o.is_failure());
        let now = outcomes.first().map(|o| o.ended).unwrap_or_default();
        let mut evidence = if any_failed && plan.cluster.required {
            tokio::time::timeout(EVIDENCE_TIMEOUT, self.cluster.evidence(&plan.namespace))
                .await
                .unwrap_or_default()
        } else {
            vec![]
        };
        for (index, (outcome, output)) in verdicts.into_iter().enumerate() {
            let step = guard_info(plan, index);
            // The evidence goes with the first violated guard.
            let evidence = if outcome.is_failure() {
                std::mem::take(&mut evidence)
            } else {
                vec![]
            };
            let watched = &outcomes[index];
            // It watched from its start to the end of the main steps.
            let duration = watched
                .started
                .map_or(Duration::ZERO, |s| now.saturating_sub(s));
            sink.emit(Event::StepFinished {
                scenario: plan.name.clone(),
                step,
                outcome,
                duration,
                output,
                evidence,
                attempts: None,
                violations: watched
                    .judge
                    .violations
                    .iter()
                    .map(|v| Violation {
                        at_secs: v.at.as_secs_f64(),
                        object: v.object.clone(),
                        what: v.what.clone(),
                    })
                    .collect(),
                measured: Default::default(),
            });
        }
        any_failed
    }
}

/// Layer 1 (pure): the clean-up policy and bounds.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::CleanupPolicy;

    #[test]
    fn everything_is_kept_with_keep_and_only_a_failed_run_with_keep_on_failure() {
        let keep = CleanupPolicy {
            keep: true,
            keep_on_failure: false,
        };
        let on_failure = CleanupPolicy {
            keep: false,
            keep_on_failure: true,
        };
        let neither = CleanupPolicy {
            keep: false,
            keep_on_failure: false,
        };
        assert_eq!(kept_because(&keep, false), Some("--keep"));
        assert_eq!(kept_because(&keep, true), Some("--keep"));
        assert_eq!(kept_because(&on_failure, false), None);
        assert_eq!(kept_because(&on_failure, true), Some("--keep-on-failure"));
        assert_eq!(kept_because(&neither, true), None);
    }

    #[test]
    fn a_namespace_gets_the_long_bound_and_other_items_the_short_one() {
        assert_eq!(
            cleanup_bound(&CleanupItem::Namespace("n".into())),
            NAMESPACE_CLEANUP_TIMEOUT
        );
        assert_eq!(
            cleanup_bound(&CleanupItem::Uncordon("node".into())),
            CLEANUP_TIMEOUT
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_clean_up_past_its_bound_fails_saying_so_and_one_that_ends_keeps_its_note() {
        let slow = bounded_cleanup(Duration::from_secs(5), async {
            tokio::time::sleep(Duration::from_secs(6)).await;
            Ok(None)
        })
        .await;
        assert_eq!(slow.failure(), Some("timed out after 5s"));
        let done = bounded_cleanup(Duration::from_secs(5), async { Ok(Some("gone".into())) }).await;
        assert!(matches!(done, CleanupOutcome::Done { note: Some(n) } if n == "gone"));
    }
}
