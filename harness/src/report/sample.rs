//! A sample run for the reporters' tests (layer 1): two scenarios, one passing; one with every
//! kind of step result: passed, a fault, failed (with hostile output and evidence), timed out,
//! skipped after the timeout, retried (passed on its third try), `continue_on_error`, a
//! cancelled `finally` step, a violated guard and a failed clean-up; a workload check with its
//! figures and unavailability windows.

use super::events::{
    CleanupOutcome, Event, Figure, Measured, Outcome, Phase, ScenarioOutcome, Selection, StepInfo,
    Unavailable, Violation, WorkloadSpan,
};
use crate::cluster::{Evidence, EvidenceKind};
use std::time::Duration;

pub const HOSTILE: &str =
    "<script>alert(1)</script> & \"quotes\" \u{1b}[31mred\u{1b}[0m NUL\u{0} BEL\u{7}";

pub fn info(index: usize, id: &str, kind: &'static str, phase: Phase) -> StepInfo {
    StepInfo {
        index,
        id: id.into(),
        kind,
        verifier: None,
        description: None,
        phase,
        continue_on_error: false,
        fault: false,
    }
}

pub fn finished(scenario: &str, step: StepInfo, outcome: Outcome, output: &str) -> Event {
    Event::StepFinished {
        scenario: scenario.into(),
        step,
        outcome,
        duration: Duration::from_millis(1234),
        output: output.into(),
        evidence: vec![],
        attempts: None,
        violations: vec![],
        measured: Default::default(),
    }
}

pub fn events() -> Vec<Event> {
    let bad = "galera-node-loss";
    let verify = |i, id: &str, verifier| StepInfo {
        verifier: Some(verifier),
        ..info(i, id, "verify", Phase::Main)
    };
    vec![
        Event::RunStarted {
            run_id: "20261123-1800-abcd".into(),
            provider: "kind".into(),
            cluster_version: "v1.33.1".into(),
            scenarios: 2,
            reran: Some("20261122-0300-ffff".into()),
            selection: Selection {
                paths: vec!["scenarios".into()],
                tags: vec![],
                partition: None,
            },
        },
        Event::ScenarioStarted {
            scenario: "memcached-pool".into(),
            file: "scenarios/memcached/pool.yaml".into(),
            namespace: "h-memcached-pool-abcd".into(),
            description: Some("Seed 003, first half.".into()),
            tags: vec!["smoke".into()],
            steps: 2,
        },
        finished("memcached-pool", info(0, "memcached", "apply", Phase::Main), Outcome::Passed, "applied"),
        finished("memcached-pool", verify(1, "pool-distribution", "memcache.pool"), Outcome::Passed, "3000 keys"),
        Event::ScenarioFinished {
            scenario: "memcached-pool".into(),
            outcome: ScenarioOutcome::Passed,
            duration: Duration::from_secs(3),
        },
        Event::ScenarioStarted {
            scenario: bad.into(),
            file: "scenarios/galera/node-loss.yaml".into(),
            namespace: "h-galera-node-loss-abcd".into(),
            description: Some("A Galera pod deleted while writers run.".into()),
            tags: vec!["nightly".into()],
            steps: 4,
        },
        finished(bad, info(0, "galera", "apply", Phase::Main), Outcome::Passed, "ok"),
        {
            let mut e = finished(
                bad,
                StepInfo {
                    fault: true,
                    ..info(1, "lose-a-node", "fault", Phase::Main)
                },
                Outcome::Passed,
                "deleted",
            );
            // What the fault proved, when: the timeline marks it.
            if let Event::StepFinished { measured, .. } = &mut e {
                measured.marks = vec![crate::measured::Mark {
                    at_secs: 0.8,
                    what: format!("in effect: galera-ss-1 replaced {HOSTILE}"),
                }];
            }
            e
        },
        Event::StepFinished {
            scenario: bad.into(),
            step: StepInfo {
                description: Some("Every acknowledged write on every node.".into()),
                ..verify(2, "nothing-acknowledged-lost", "workload")
            },
            outcome: Outcome::Failed {
                message: format!("galera-ss-1: 3 acknowledged write(s) lost {HOSTILE}"),
            },
            duration: Duration::from_secs(12),
            output: format!("{}{}", "log line\n".repeat(10_000), "x".repeat(200_000)),
            evidence: vec![
                Evidence::new(EvidenceKind::Events, "events", format!("Warning BackOff {HOSTILE}")),
                Evidence::new(EvidenceKind::Log, "pod galera-ss-1/mariadb log (previous)", "boom"),
            ],
            attempts: None,
            violations: vec![],
            measured: Measured {
                figures: [
                    ("overall.acknowledged", "9120"),
                    ("overall.throughput_per_s", "304.0"),
                    ("overall.p99_ms", "41.200"),
                    ("overall.longest_unavailable_s", "1.200"),
                    ("galera-ss-1.longest_unavailable_s", "38.100"),
                    ("galera-ss-1.longest_unavailable_from_s", "6.000"),
                    ("galera-ss-1.longest_unavailable_to_s", "44.100"),
                ]
                .into_iter()
                .map(|(n, v)| Figure {
                    name: n.into(),
                    value: v.into(),
                })
                .collect(),
                workloads: vec![WorkloadSpan {
                    id: "writes".into(),
                    started_with_step: "galera".into(),
                    started_after_secs: 0.5,
                    ran_for_secs: 30.0,
                    throughput: 304.0,
                    unavailable: vec![
                        Unavailable {
                            who: "overall".into(),
                            from_secs: 6.0,
                            to_secs: 7.2,
                        },
                        Unavailable {
                            who: format!("galera-ss-1 {HOSTILE}"),
                            from_secs: 6.0,
                            to_secs: 29.0,
                        },
                    ],
                    series: vec![
                        crate::measured::Series {
                            who: "overall".into(),
                            bucket_secs: 1,
                            acknowledged: (0..30).map(|s| if s == 6 { 0 } else { 300 }).collect(),
                            refused: (0..30).map(|s| if s == 6 { 4 } else { 0 }).collect(),
                            max_latency_ms: (0..30).map(|s| if s == 7 { 900 } else { 12 }).collect(),
                        },
                        crate::measured::Series {
                            who: format!("galera-ss-1 {HOSTILE}"),
                            bucket_secs: 1,
                            acknowledged: (0..30).map(|s| if s >= 6 { 0 } else { 100 }).collect(),
                            refused: (0..30).map(|s| if s >= 6 { 2 } else { 0 }).collect(),
                            max_latency_ms: vec![12; 30],
                        },
                    ],
                    // A lasting fault: from its step to the step that healed it.
                    faults: vec![crate::measured::FaultSpan {
                        step: "lose-a-node".into(),
                        from_secs: 5.5,
                        to_secs: 20.0,
                    }],
                }],
                marks: vec![],
            },
        },
        Event::StepFinished {
            scenario: bad.into(),
            step: verify(3, "status-after-rejoin", "galera.status"),
            outcome: Outcome::Passed,
            duration: Duration::from_secs(9),
            output: "passed on attempt 3 (retried every 2s for 1m)\n3 of the cluster's 3 members checked".into(),
            evidence: vec![],
            attempts: Some(3),
            violations: vec![],
            measured: Default::default(),
        },
        finished(
            bad,
            StepInfo {
                continue_on_error: true,
                ..info(4, "optional-probe", "exec", Phase::Main)
            },
            Outcome::Failed {
                message: "exit code 1, expected 0".into(),
            },
            "probe said no",
        ),
        finished(
            bad,
            info(5, "back-to-three", "wait", Phase::Main),
            Outcome::TimedOut {
                message: "step `back-to-three` did not finish within 5m: last seen: 2/3 ready".into(),
            },
            "",
        ),
        finished(
            bad,
            info(6, "later", "logs", Phase::Main),
            Outcome::Skipped {
                reason: "step `back-to-three` timed out".into(),
            },
            "",
        ),
        finished(
            bad,
            info(0, "dump", "exec", Phase::Finally),
            Outcome::Cancelled {
                message: "cancelled by Ctrl-C / SIGTERM".into(),
            },
            "",
        ),
        Event::StepFinished {
            scenario: bad.into(),
            step: info(0, "no-restarts", "no_restarts", Phase::Guard),
            outcome: Outcome::Failed {
                message: "guard `no-restarts` violated 1 time(s); first at +20s: Pod/galera-ss-0: restarted".into(),
            },
            duration: Duration::from_secs(60),
            output: "from +0s: 3 pods\nexcused: galera-ss-1 restarted, during `lose-a-node`\n+20s Pod/galera-ss-0: restarted".into(),
            evidence: vec![],
            attempts: None,
            violations: vec![Violation {
                at_secs: 20.0,
                object: "Pod/galera-ss-0".into(),
                what: "restarted".into(),
            }],
            measured: Default::default(),
        },
        Event::CleanupFinished {
            scenario: bad.into(),
            item: "drop database harness_ack_1".into(),
            outcome: CleanupOutcome::Done { note: None },
        },
        Event::CleanupFinished {
            scenario: bad.into(),
            item: "namespace h-galera-node-loss-abcd".into(),
            outcome: CleanupOutcome::Failed {
                message: "timed out after 3m".into(),
            },
        },
        Event::ScenarioFinished {
            scenario: bad.into(),
            outcome: ScenarioOutcome::Failed,
            duration: Duration::from_secs(90),
        },
        Event::RunFinished {
            duration: Duration::from_secs(95),
            passed: 1,
            failed: 1,
        },
    ]
}

/// The run model of [`events`].
pub fn run() -> super::model::Run {
    let mut b = super::model::Builder::new();
    for e in events() {
        b.see(&e);
    }
    b.run()
}
