//! Guards beside the main steps: each waits for the step that starts it, then feeds what the
//! cluster reports (`Cluster::observe`) to its judge, with the fault windows the main loop
//! records, until the main steps end. A `fail_fast` guard trips the run at its first violation.
//! A guard that could not watch fails: it never says PASS about what it did not see.

use crate::cluster::Cluster;
use crate::guards::{FaultWindow, Guard, Judge};
use crate::report::events::Outcome;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What guards share with the main loop.
pub(super) struct GuardRun<'a> {
    /// When the scenario started (tokio's clock, so tests can pause it).
    pub origin: Instant,
    /// The index of the main step running now (`None` before the first).
    pub step: watch::Receiver<Option<usize>>,
    pub faults: &'a Mutex<Vec<FaultWindow>>,
    /// Cancelled when the main steps are over.
    pub stop: CancellationToken,
    /// Cancelled by a `fail_fast` guard's violation.
    pub trip: CancellationToken,
}

pub(super) struct GuardOutcome {
    pub judge: Judge,
    /// When it started watching; `None`: its step never ran.
    pub started: Option<Duration>,
    /// When it stopped (the end of the main steps).
    pub ended: Duration,
    pub error: Option<String>,
}

pub(super) async fn watch_all(
    cluster: &dyn Cluster,
    namespace: &str,
    guards: &[Guard],
    run: &GuardRun<'_>,
) -> Vec<GuardOutcome> {
    futures::future::join_all(guards.iter().map(|g| watch_one(cluster, namespace, g, run))).await
}

async fn watch_one(
    cluster: &dyn Cluster,
    namespace: &str,
    guard: &Guard,
    run: &GuardRun<'_>,
) -> GuardOutcome {
    let mut judge = Judge::new(guard.clone());
    let mut step = run.step.clone();
    // Wait for the step that starts the guard.
    loop {
        if step.borrow().is_some_and(|i| i >= guard.from) {
            break;
        }
        tokio::select! {
            changed = step.changed() => if changed.is_err() {
                return GuardOutcome { judge, started: None, ended: run.origin.elapsed(), error: None };
            },
            _ = run.stop.cancelled() => return GuardOutcome { judge, started: None, ended: run.origin.elapsed(), error: None },
        }
    }
    let started = run.origin.elapsed();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let watch = guard.kind.watch();
    let observing = cluster.observe(namespace, &watch, tx);
    tokio::pin!(observing);
    let mut watching = true;
    let mut error: Option<String> = None;
    let trip = |judge: &Judge, added: usize| {
        if added > 0 && judge.guard.fail_fast {
            run.trip.cancel();
        }
    };
    loop {
        let deadline = judge.next_deadline().map(|d| run.origin + d);
        tokio::select! {
            ended = &mut observing, if watching => {
                watching = false;
                if let Err(e) = ended {
                    error = Some(e.to_string());
                }
            }
            obs = rx.recv() => match obs {
                Some(obs) => {
                    let added = see(&mut judge, run, &obs);
                    trip(&judge, added);
                }
                // The watch ended and everything it sent was judged.
                None => break,
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                let added = judge.tick(run.origin.elapsed());
                trip(&judge, added);
            }
            _ = run.stop.cancelled() => break,
        }
    }
    // Drain what arrived before the end of the main steps.
    while let Ok(obs) = rx.try_recv() {
        see(&mut judge, run, &obs);
    }
    judge.tick(run.origin.elapsed());
    if error.is_none() && !run.stop.is_cancelled() {
        error = Some("the watch ended before the main steps did".into());
    }
    GuardOutcome {
        judge,
        started: Some(started),
        ended: run.origin.elapsed(),
        error,
    }
}

/// Judges one observation now, against the fault windows as they stand (the lock is held for
/// the judgement only, which never waits).
fn see(judge: &mut Judge, run: &GuardRun<'_>, obs: &crate::cluster::Observation) -> usize {
    let faults = run.faults.lock().unwrap_or_else(|e| e.into_inner());
    judge.see(run.origin.elapsed(), obs, &faults)
}

/// A guard's verdict as a test case: passed with what it watched (and what faults excused),
/// failed with every violation (time, object, what was seen, lines around it), skipped when its
/// step never ran.
pub(super) fn verdict(outcome: &GuardOutcome) -> (Outcome, String) {
    let judge = &outcome.judge;
    let Some(started) = outcome.started else {
        return (
            Outcome::Skipped {
                reason: "the step that starts it never ran".into(),
            },
            String::new(),
        );
    };
    let mut output = vec![format!("from +{}s: {}", started.as_secs(), judge.watched())];
    output.extend(judge.excused.iter().map(|e| format!("excused: {e}")));
    for v in &judge.violations {
        output.push(format!("+{}s {}: {}", v.at.as_secs(), v.object, v.what));
        output.extend(v.context.iter().map(|c| format!("    {c}")));
    }
    let output = output.join("\n");
    if let Some(e) = &outcome.error {
        return (
            Outcome::Failed {
                message: format!(
                    "guard `{}` could not watch the cluster, so it cannot vouch for the run: {e}",
                    judge.guard.name
                ),
            },
            output,
        );
    }
    if let Some(why) = judge.blind() {
        return (
            Outcome::Failed {
                message: format!(
                    "guard `{}` watched nothing, so it cannot vouch for the run: {why} (from +{}s to +{}s)",
                    judge.guard.name,
                    started.as_secs(),
                    outcome.ended.as_secs()
                ),
            },
            output,
        );
    }
    match judge.violations.first() {
        None => (Outcome::Passed, output),
        Some(first) => (
            Outcome::Failed {
                message: format!(
                    "guard `{}` violated {} time(s); first at +{}s: {}: {}",
                    judge.guard.name,
                    judge.violations.len(),
                    first.at.as_secs(),
                    first.object,
                    first.what
                ),
            },
            output,
        ),
    }
}
