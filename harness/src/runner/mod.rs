//! The runner: executes scenario plans against a [`Cluster`], step by step, under each step's
//! deadline and the scenario's; stops at the first failure unless a step says
//! `continue_on_error`; always runs `finally` steps and the last-in-first-out clean-up list,
//! after success, failure, timeout or cancellation (Ctrl-C). It emits [`Event`]s and never prints.

use crate::cluster::{CleanupItem, Cluster, Disrupted, Evidence, EvidenceKind};
use crate::guards::FaultWindow;
use crate::journal::Journal;
use crate::plan::{PlannedStep, ScenarioPlan};
use crate::redact::Redactor;
use crate::report::events::{
    CleanupOutcome, Event, EventSink, Outcome, Phase, ScenarioOutcome, StepInfo, Violation,
};
use crate::steps::{ScenarioState, StepContext, StepFailure};
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

/// Runs one clean-up under `bound`: done (with its note), or why it failed or took too long.
async fn bounded_cleanup(
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

/// Masks secrets in every event before it reaches the real sink (and so every report, file
/// and line of console output).
struct RedactingSink<'a> {
    inner: &'a dyn EventSink,
    redactor: &'a std::sync::RwLock<Redactor>,
}

impl RedactingSink<'_> {
    fn emit(&self, event: Event) {
        let r = &*self.redactor.read().unwrap_or_else(|e| e.into_inner());
        let event = match event {
            Event::StepFinished {
                scenario,
                step,
                outcome,
                duration,
                output,
                evidence,
                attempts,
                violations,
                measured,
            } => Event::StepFinished {
                scenario,
                step,
                outcome: match outcome {
                    Outcome::Failed { message } => Outcome::Failed {
                        message: r.redact(&message),
                    },
                    Outcome::TimedOut { message } => Outcome::TimedOut {
                        message: r.redact(&message),
                    },
                    Outcome::Cancelled { message } => Outcome::Cancelled {
                        message: r.redact(&message),
                    },
                    other => other,
                },
                duration,
                output: r.redact(&output),
                evidence: evidence
                    .into_iter()
                    .map(|e| Evidence {
                        body: r.redact(&e.body),
                        ..e
                    })
                    .collect(),
                attempts,
                violations: violations
                    .into_iter()
                    .map(|v| Violation {
                        what: r.redact(&v.what),
                        ..v
                    })
                    .collect(),
                measured: crate::report::events::Measured {
                    figures: measured
                        .figures
                        .into_iter()
                        .map(|f| crate::report::events::Figure {
                            name: r.redact(&f.name),
                            value: r.redact(&f.value),
                        })
                        .collect(),
                    workloads: measured
                        .workloads
                        .into_iter()
                        .map(|w| crate::report::events::WorkloadSpan {
                            id: r.redact(&w.id),
                            started_with_step: r.redact(&w.started_with_step),
                            unavailable: w
                                .unavailable
                                .into_iter()
                                .map(|u| crate::report::events::Unavailable {
                                    who: r.redact(&u.who),
                                    ..u
                                })
                                .collect(),
                            ..w
                        })
                        .collect(),
                },
            },
            Event::CleanupFinished {
                scenario,
                item,
                outcome,
            } => Event::CleanupFinished {
                scenario,
                item,
                outcome: match outcome {
                    CleanupOutcome::Failed { message } => CleanupOutcome::Failed {
                        message: r.redact(&message),
                    },
                    other => other,
                },
            },
            other => other,
        };
        self.inner.emit(event);
    }
}

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

impl Executor<'_> {
    pub async fn run_scenario(&self, plan: &ScenarioPlan) -> ScenarioResult {
        let state = Arc::new(ScenarioState::new(plan.secrets.clone()));
        let sink = RedactingSink {
            inner: self.sink,
            redactor: &state.redactor,
        };
        let started = Instant::now();
        let deadline = started + plan.deadline;
        sink.emit(Event::ScenarioStarted {
            scenario: plan.name.clone(),
            file: plan.file.display().to_string(),
            namespace: plan.namespace.clone(),
            description: Some(plan.description.trim().to_string()).filter(|d| !d.is_empty()),
            tags: plan.tags.clone(),
            steps: plan.steps.len(),
        });
        if let Some(shortfall) = self.undersized(plan).await {
            return self.not_run(plan, &sink, started, shortfall);
        }
        let mut failed = false;

        if plan.cluster.required {
            match self
                .cluster
                .create_namespace(&plan.namespace, &plan.name)
                .await
            {
                Ok(item) => state
                    .cleanup
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(item),
                Err(e) => {
                    failed = true;
                    sink.emit(Event::StepFinished {
                        scenario: plan.name.clone(),
                        step: StepInfo::setup("namespace"),
                        outcome: Outcome::Failed {
                            message: format!("creating namespace {}: {e}", plan.namespace),
                        },
                        duration: started.elapsed(),
                        output: String::new(),
                        evidence: vec![],
                        attempts: None,
                        violations: vec![],
                        measured: Default::default(),
                    });
                }
            }
        }

        let mut skip_reason: Option<String> =
            failed.then(|| "the namespace could not be created".to_string());
        // Guards watch beside the main steps, from the step that starts each to their end.
        let origin = tokio::time::Instant::now();
        let (step_tx, step_rx) = tokio::sync::watch::channel(None);
        let faults = std::sync::Mutex::new(Vec::new());
        let guard_run = guards::GuardRun {
            origin,
            step: step_rx,
            faults: &faults,
            stop: CancellationToken::new(),
            trip: self.cancel.child_token(),
        };
        let main_steps = async {
            // When the last step that starts pods (applies, scales, or disrupts them) or waits
            // for them ended: a wait ends once its pods run, so the window counts from no
            // earlier than their containers' start.
            let mut pods_started: Option<tokio::time::Instant> = None;
            for (index, step) in plan.steps.iter().enumerate() {
                let info = info(step, index, Phase::Main);
                if skip_reason.is_none()
                    && guard_run.trip.is_cancelled()
                    && !self.cancel.is_cancelled()
                {
                    failed = true;
                    skip_reason = Some("a fail_fast guard was violated".into());
                }
                if let Some(reason) = &skip_reason {
                    sink.emit(skipped(plan, info, reason));
                    continue;
                }
                if self.cancel.is_cancelled() {
                    skip_reason = Some("the run was cancelled (Ctrl-C)".into());
                    sink.emit(skipped(
                        plan,
                        info,
                        skip_reason.as_deref().unwrap_or_default(),
                    ));
                    continue;
                }
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    failed = true;
                    skip_reason = Some(format!(
                        "the scenario deadline of {} passed",
                        humantime::format_duration(plan.deadline)
                    ));
                    sink.emit(skipped(
                        plan,
                        info,
                        skip_reason.as_deref().unwrap_or_default(),
                    ));
                    continue;
                }
                step_tx.send_replace(Some(index));
                state
                    .step_started
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(step.id.clone(), tokio::time::Instant::now());
                let window = step.action.disrupts().map(|d| {
                    let mut all = faults.lock().unwrap_or_else(|e| e.into_inner());
                    all.push(FaultWindow {
                        start: origin.elapsed(),
                        end: None,
                        pods: match d {
                            Disrupted::Pods(p) => Some(p),
                            Disrupted::AnyPod => None,
                        },
                        step: step.id.clone(),
                    });
                    all.len() - 1
                });
                let outcome = self
                    .run_step(plan, step, info, remaining, &state, &sink, &guard_run.trip)
                    .await;
                if let Some(i) = window {
                    faults.lock().unwrap_or_else(|e| e.into_inner())[i].end =
                        Some(origin.elapsed());
                }
                if !step.action.applies().is_empty()
                    || step.action.scales().is_some()
                    || step.action.disrupts().is_some()
                    || matches!(step.action, crate::steps::Action::Wait(_))
                {
                    pods_started = Some(tokio::time::Instant::now());
                }
                if outcome.is_failure() {
                    failed = true;
                    if matches!(outcome, Outcome::Cancelled { .. }) {
                        skip_reason = Some(if self.cancel.is_cancelled() {
                            "the run was cancelled (Ctrl-C)".into()
                        } else {
                            "a fail_fast guard was violated".into()
                        });
                    } else if !step.continue_on_error {
                        skip_reason = Some(match outcome {
                            Outcome::TimedOut { .. } => format!(
                                "step `{}` ran out of time ({}), so the later steps were not run",
                                step.id,
                                humantime::format_duration(step.timeout)
                            ),
                            _ => format!(
                                "step `{}` failed, so the later steps were not run",
                                step.id
                            ),
                        });
                    }
                }
            }
            // Guards keep watching until the slowest probe of the scenario's pods has had
            // time to fail (a liveness probe on the wrong port kills its container only after
            // its delay and failures), within the scenario's deadline.
            if let (Some(window), Some(at)) = (plan.probe_window, pods_started)
                && !failed
                && !plan.guards.is_empty()
            {
                let left = deadline.saturating_duration_since(Instant::now());
                let until = (at + window).min(tokio::time::Instant::now() + left);
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = self.cancel.cancelled() => {}
                    _ = guard_run.trip.cancelled() => {}
                }
            }
            guard_run.stop.cancel();
        };
        let ((), verdicts) = tokio::join!(
            main_steps,
            guards::watch_all(self.cluster, &plan.namespace, &plan.guards, &guard_run)
        );
        // Workloads end with the main steps (a check of one has stopped it already).
        state.workloads.stop_all().await;
        // A workload whose judging step never ran (an earlier step failed) is still reported:
        // its figures and history are the evidence of what the failure did to clients.
        for (i, u) in state
            .workloads
            .unjudged(&state.step_started)
            .into_iter()
            .enumerate()
        {
            let mut info = StepInfo::setup(&format!("workload-{}", u.id));
            info.kind = "workload";
            info.index = plan.steps.len() + i;
            sink.emit(Event::StepFinished {
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
                evidence: vec![Evidence::new(
                    EvidenceKind::Other,
                    format!("workload-{}-history.edn", u.id),
                    u.history_edn,
                )],
                attempts: None,
                violations: vec![],
                measured: crate::measured::Measured {
                    figures: u
                        .figures
                        .into_iter()
                        .map(|(name, value)| crate::measured::Figure { name, value })
                        .collect(),
                    workloads: u.span.into_iter().collect(),
                },
            });
        }
        failed |= self.report_guards(plan, &verdicts, &sink).await;

        // `finally` steps run whatever happened, each under its own timeout; a cancelled run
        // still tears down.
        for (index, step) in plan.finally.iter().enumerate() {
            let info = info(step, index, Phase::Finally);
            let outcome = self
                .run_step(
                    plan,
                    step,
                    info,
                    step.timeout,
                    &state,
                    &sink,
                    &CancellationToken::new(),
                )
                .await;
            failed |= outcome.is_failure();
        }

        // What verifiers wrote on the servers they checked goes first, while the bridges to
        // those servers are still open (they close with the namespace).
        for (what, work) in state.undo.take() {
            let outcome =
                bounded_cleanup(CLEANUP_TIMEOUT, async { work.await.map(|()| None) }).await;
            failed |= outcome.failure().is_some();
            sink.emit(Event::CleanupFinished {
                scenario: plan.name.clone(),
                item: what,
                outcome,
            });
        }
        let keep = plan.cleanup.keep || (failed && plan.cleanup.keep_on_failure);
        let items: Vec<CleanupItem> =
            std::mem::take(&mut *state.cleanup.lock().unwrap_or_else(|e| e.into_inner()));
        for item in items.into_iter().rev() {
            let outcome = if keep {
                CleanupOutcome::Kept {
                    reason: if plan.cleanup.keep {
                        "--keep".into()
                    } else {
                        "--keep-on-failure".into()
                    },
                }
            } else {
                let bound = match item {
                    CleanupItem::Namespace(_) => NAMESPACE_CLEANUP_TIMEOUT,
                    _ => CLEANUP_TIMEOUT,
                };
                let outcome = bounded_cleanup(bound, async {
                    self.cluster.cleanup(&item).await.map_err(|e| e.to_string())
                })
                .await;
                failed |= outcome.failure().is_some();
                outcome
            };
            sink.emit(Event::CleanupFinished {
                scenario: plan.name.clone(),
                item: item.to_string(),
                outcome,
            });
        }

        sink.emit(Event::ScenarioFinished {
            scenario: plan.name.clone(),
            outcome: if failed {
                ScenarioOutcome::Failed
            } else {
                ScenarioOutcome::Passed
            },
            duration: started.elapsed(),
        });
        ScenarioResult {
            name: plan.name.clone(),
            passed: !failed,
        }
    }

    /// Reports each guard as its own test case (evidence gathered once if any was violated);
    /// returns whether any failed.
    async fn report_guards(
        &self,
        plan: &ScenarioPlan,
        outcomes: &[guards::GuardOutcome],
        sink: &RedactingSink<'_>,
    ) -> bool {
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

    /// Why the cluster cannot hold the scenario: fewer schedulable nodes than its
    /// `cluster.workers` (each node named with why it does not count), less free CPU or memory
    /// than its pods request at their largest scale, or the nodes could not be listed. `None`
    /// when it fits.
    async fn undersized(&self, plan: &ScenarioPlan) -> Option<String> {
        let want = plan.cluster.workers;
        if !plan.cluster.required || (want == 0 && plan.demand.is_empty()) {
            return None;
        }
        let nodes = match self.cluster.nodes().await {
            Ok(nodes) => nodes,
            Err(e) => return Some(format!("cannot count the cluster's nodes: {e}")),
        };
        let usable = nodes.iter().filter(|n| n.unschedulable.is_none()).count();
        if usable >= want as usize {
            return crate::capacity::fits(&plan.demand, &nodes).err();
        }
        let listed: Vec<String> = nodes
            .iter()
            .map(|n| match &n.unschedulable {
                None => n.name.clone(),
                Some(why) => format!("{} ({why})", n.name),
            })
            .collect();
        Some(format!(
            "the scenario declares cluster.workers: {want}, but the cluster has {usable} schedulable node(s), {} short: {}",
            want as usize - usable,
            if listed.is_empty() {
                "no nodes".to_string()
            } else {
                listed.join(", ")
            }
        ))
    }

    /// Reports a scenario the cluster cannot hold: failed, or skipped when the run asked for
    /// that (`--skip-undersized`); nothing was created, so there is nothing to clean up.
    fn not_run(
        &self,
        plan: &ScenarioPlan,
        sink: &RedactingSink<'_>,
        started: Instant,
        shortfall: String,
    ) -> ScenarioResult {
        let skip = plan.skip_if_undersized && !shortfall.starts_with("cannot count");
        let setup = StepInfo::setup("cluster-size");
        sink.emit(Event::StepFinished {
            scenario: plan.name.clone(),
            step: setup,
            outcome: if skip {
                Outcome::Skipped {
                    reason: format!("{shortfall} (--skip-undersized)"),
                }
            } else {
                Outcome::Failed {
                    message: shortfall.clone(),
                }
            },
            duration: started.elapsed(),
            output: String::new(),
            evidence: vec![],
            attempts: None,
            violations: vec![],
            measured: Default::default(),
        });
        let reason = "the cluster cannot hold the scenario";
        for (index, step) in plan.steps.iter().enumerate() {
            sink.emit(skipped(plan, info(step, index, Phase::Main), reason));
        }
        for (index, step) in plan.finally.iter().enumerate() {
            sink.emit(skipped(plan, info(step, index, Phase::Finally), reason));
        }
        for index in 0..plan.guards.len() {
            sink.emit(skipped(plan, guard_info(plan, index), reason));
        }
        sink.emit(Event::ScenarioFinished {
            scenario: plan.name.clone(),
            outcome: if skip {
                ScenarioOutcome::Skipped
            } else {
                ScenarioOutcome::Failed
            },
            duration: started.elapsed(),
        });
        ScenarioResult {
            name: plan.name.clone(),
            passed: skip,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_step(
        &self,
        plan: &ScenarioPlan,
        step: &PlannedStep,
        info: StepInfo,
        remaining: Duration,
        state: &Arc<ScenarioState>,
        sink: &RedactingSink<'_>,
        cancel: &CancellationToken,
    ) -> Outcome {
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
                let result = self
                    .attempt(plan, step, limit, left, state, cancel, &journal)
                    .await;
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
        let mut evidence: Vec<Evidence> = journal
            .take_attachments()
            .into_iter()
            .map(|(name, body)| Evidence::new(EvidenceKind::Other, &name, body))
            .collect();
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
}

impl Executor<'_> {
    /// One try of a step, bounded by what is `left` of its deadline `limit`; a deadline or
    /// Ctrl-C that cuts it short reports what its journal saw.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        plan: &ScenarioPlan,
        step: &PlannedStep,
        limit: Duration,
        left: Duration,
        state: &Arc<ScenarioState>,
        cancel: &CancellationToken,
        journal: &Arc<Journal>,
    ) -> Result<String, StepFailure> {
        let ctx = StepContext {
            cluster: self.cluster,
            namespace: &plan.namespace,
            scenario: &plan.name,
            values: &plan.values,
            timeout: left,
            state: state.clone(),
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

#[cfg(test)]
pub(crate) mod tests;
