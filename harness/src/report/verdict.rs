//! The verdict reporter of `harness verify`: one `PASS name: summary` or `FAIL name: reason`
//! line per check on stdout, then its evidence, indented.

use super::Reporter;
use super::events::{CleanupOutcome, Event, Outcome};
use std::io::Write;

pub struct VerdictReporter<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> VerdictReporter<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> Reporter for VerdictReporter<W> {
    fn event(&mut self, event: &Event) {
        if let Event::CleanupFinished {
            item,
            outcome: CleanupOutcome::Failed { message },
            ..
        } = event
        {
            let line = format!("FAIL clean-up: {item}: {message}");
            let _ = writeln!(self.out, "{}", crate::diag::visible(&line));
            return;
        }
        let Event::StepFinished {
            step,
            outcome,
            output,
            ..
        } = event
        else {
            return;
        };
        let mut lines = output.lines();
        let head = match outcome {
            // A passing verdict's output starts with its summary.
            Outcome::Passed => format!("PASS {}: {}", step.id, lines.next().unwrap_or_default()),
            Outcome::Failed { message } => {
                lines.next();
                format!("FAIL {}: {message}", step.id)
            }
            Outcome::TimedOut { message } | Outcome::Cancelled { message } => {
                format!("FAIL {}: {message}", step.id)
            }
            other => format!("{other:?} {}", step.id),
        };
        // What servers answered and flags held is shown, never obeyed by the terminal.
        let _ = writeln!(self.out, "{}", crate::diag::visible(&head));
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let _ = writeln!(self.out, "  {}", crate::diag::visible(line));
        }
    }

    fn finish(&mut self, _: &super::model::Run) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::StepInfo;
    use std::time::Duration;

    fn finished(outcome: Outcome, output: &str) -> String {
        let mut r = VerdictReporter::new(Vec::new());
        r.event(&Event::StepFinished {
            scenario: "verify-memcache.pool".into(),
            step: StepInfo {
                verifier: Some("memcache.pool"),
                ..StepInfo::setup("memcache.pool")
            },
            outcome,
            duration: Duration::from_millis(5),
            output: output.into(),
            evidence: vec![],
            attempts: None,
            violations: vec![],
            measured: Default::default(),
        });
        String::from_utf8(r.out).unwrap()
    }

    // Layer 1 (pure).
    #[test]
    fn prints_the_verdict_then_the_evidence() {
        let pass = finished(Outcome::Passed, "2 servers hold keys\na: 50\nb: 50");
        assert_eq!(
            pass,
            "PASS memcache.pool: 2 servers hold keys\n  a: 50\n  b: 50\n"
        );
        let fail = finished(
            Outcome::Failed {
                message: "b: cannot connect".into(),
            },
            "b: cannot connect\na: 50",
        );
        assert_eq!(fail, "FAIL memcache.pool: b: cannot connect\n  a: 50\n");
    }

    #[test]
    fn a_failed_clean_up_is_printed() {
        let mut r = VerdictReporter::new(Vec::new());
        r.event(&Event::CleanupFinished {
            scenario: "verify-galera.sync".into(),
            item: "drop database harness_sync_1".into(),
            outcome: CleanupOutcome::Failed {
                message: "left on db-0".into(),
            },
        });
        r.event(&Event::CleanupFinished {
            scenario: "verify-galera.sync".into(),
            item: "drop database harness_sync_2".into(),
            outcome: CleanupOutcome::Done { note: None },
        });
        assert_eq!(
            String::from_utf8(r.out).unwrap(),
            "FAIL clean-up: drop database harness_sync_1: left on db-0\n"
        );
    }
}
