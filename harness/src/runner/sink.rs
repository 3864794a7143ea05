//! The one way out of the runner: every event passes the scenario's redactor (the plan's
//! secrets, the values of the Secrets it applies, passwords read at run time) before any
//! reporter sees it.

use crate::cluster::Evidence;
use crate::redact::Redactor;
use crate::report::events::{CleanupOutcome, Event, EventSink, Outcome, Violation};

/// Masks secrets in every event before it reaches the real sink (and so every report, file
/// and line of console output).
pub(super) struct RedactingSink<'a> {
    pub inner: &'a dyn EventSink,
    pub redactor: &'a std::sync::RwLock<Redactor>,
}

impl RedactingSink<'_> {
    pub fn emit(&self, event: Event) {
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
                    .map(|e| redact_evidence(r, e))
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
                            series: w
                                .series
                                .into_iter()
                                .map(|s| crate::measured::Series {
                                    who: r.redact(&s.who),
                                    ..s
                                })
                                .collect(),
                            faults: w
                                .faults
                                .into_iter()
                                .map(|f| crate::measured::FaultSpan {
                                    step: r.redact(&f.step),
                                    ..f
                                })
                                .collect(),
                            ..w
                        })
                        .collect(),
                    marks: measured
                        .marks
                        .into_iter()
                        .map(|m| crate::measured::Mark {
                            what: r.redact(&m.what),
                            ..m
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

/// Evidence with every secret masked; a spooled file is copied line by line through the
/// redactor (bounded memory), and dropped, with a note, if that copy cannot be made.
fn redact_evidence(r: &Redactor, e: Evidence) -> Evidence {
    let spooled = match e.spooled {
        Some(spool) if r.is_active() => match spool.map_lines(|line| r.redact(line)) {
            Ok(masked) => Some(masked),
            Err(err) => {
                return Evidence {
                    body: format!(
                        "{}\n(the complete file could not be masked for secrets, so it is not kept: {err})",
                        r.redact(&e.body)
                    ),
                    spooled: None,
                    ..e
                };
            }
        },
        other => other,
    };
    Evidence {
        body: r.redact(&e.body),
        spooled,
        ..e
    }
}

/// Layer 1 (local files): spooled evidence reaches the reporters masked, line by line, and
/// the file a reporter copies holds no secret.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::EvidenceKind;
    use crate::report::events::{Collect, StepInfo};

    #[test]
    fn a_spooled_history_is_masked_before_any_reporter_sees_it() {
        let mut w = crate::spool::SpoolWriter::new(1).unwrap();
        w.line("{:index 0, :value \"w-1\"}");
        w.line("{:index 1, :error \"Access denied for hunter2-secret\"}");
        let (spool, tail) = w.finish().unwrap();
        let original = spool.path().to_path_buf();
        let collect = Collect::default();
        let redactor = std::sync::RwLock::new(Redactor::new(vec!["hunter2-secret".into()]));
        let sink = RedactingSink {
            inner: &collect,
            redactor: &redactor,
        };
        sink.emit(Event::StepFinished {
            scenario: "s".into(),
            step: StepInfo::setup("workload-w"),
            outcome: Outcome::Passed,
            duration: std::time::Duration::ZERO,
            output: String::new(),
            evidence: vec![Evidence::spooled(
                EvidenceKind::Other,
                "history.edn",
                tail.join("\n"),
                spool,
            )],
            attempts: None,
            violations: vec![],
            measured: Default::default(),
        });
        let events = collect.events();
        let Event::StepFinished { evidence, .. } = &events[0] else {
            panic!("{events:?}");
        };
        let masked = evidence[0].spooled.as_ref().expect("still spooled");
        assert_ne!(masked.path(), original, "a masked copy, not the original");
        let text = std::fs::read_to_string(masked.path()).unwrap();
        assert!(
            !text.contains("hunter2") && text.contains("Access denied for ******"),
            "{text}"
        );
        assert!(
            !evidence[0].body.contains("hunter2"),
            "{}",
            evidence[0].body
        );
        assert_eq!(text.lines().count(), 2);
    }
}
