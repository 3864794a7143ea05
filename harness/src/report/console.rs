//! Console reporter: a line per step as it finishes, then a summary table. On a terminal (and
//! never with `NO_COLOR` or `CI`), colours and a spinner per running step (indicatif); plain
//! lines otherwise. Results go to stdout; logs go to stderr through `tracing`.

use super::Reporter;
use super::events::{CleanupOutcome, Event, Outcome, Phase};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

/// Spinners for the running steps, drawn on stdout above the finished lines.
struct Spinners {
    progress: MultiProgress,
    running: HashMap<(String, String), ProgressBar>,
}

pub struct ConsoleReporter<W: Write + Send> {
    out: W,
    colour: bool,
    live: Option<Spinners>,
    rows: Vec<(String, bool, f64, usize, usize)>,
    failures: Vec<String>,
}

impl<W: Write + Send> ConsoleReporter<W> {
    /// `terminal`: the output is an interactive terminal (colours and live lines).
    pub fn new(out: W, terminal: bool) -> Self {
        let colour =
            terminal && std::env::var_os("NO_COLOR").is_none() && std::env::var_os("CI").is_none();
        let live = colour.then(|| Spinners {
            progress: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            running: HashMap::new(),
        });
        Self {
            out,
            colour,
            live,
            rows: vec![],
            failures: vec![],
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write + Send> Reporter for ConsoleReporter<W> {
    fn event(&mut self, event: &Event) {
        let line = match event {
            Event::RunStarted {
                run_id,
                provider,
                cluster_version,
                scenarios,
                reran,
            } => Some(format!(
                "run {run_id}: {scenarios} scenario(s) on {provider} ({cluster_version}){}",
                reran.as_ref().map_or(String::new(), |r| format!(
                    ", re-running the failed scenarios of run {r}"
                ))
            )),
            Event::ScenarioStarted {
                scenario,
                namespace,
                ..
            } => {
                let ns = if namespace.is_empty() {
                    String::new()
                } else {
                    format!(" in namespace {namespace}")
                };
                Some(format!("{} {scenario}{ns}", self.paint("1", "==>")))
            }
            Event::StepStarted { scenario, step } => {
                if let Some(live) = self.live.as_mut() {
                    let bar = live.progress.add(ProgressBar::new_spinner());
                    if let Ok(style) = ProgressStyle::with_template("   {spinner} {msg} {elapsed}")
                    {
                        bar.set_style(style);
                    }
                    bar.set_message(format!("{scenario} / {} ({})", step.id, step.kind));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    live.running
                        .insert((scenario.clone(), step.id.clone()), bar);
                    return;
                }
                // Plain output (CI): a line when a step starts, so a log shows what was running.
                Some(format!(
                    "   START   {scenario} / {} ({})",
                    step.id, step.kind
                ))
            }
            Event::StepFinished {
                scenario,
                step,
                outcome,
                duration,
                ..
            } => {
                let code = match outcome {
                    Outcome::Passed => "32",
                    Outcome::Skipped { .. } => "33",
                    _ => "31",
                };
                let label = self.paint(code, &format!("{:<7}", outcome.label()));
                let phase = match step.phase {
                    Phase::Finally => "finally ",
                    Phase::Guard => "guard ",
                    Phase::Main => "",
                };
                let mut line = format!(
                    "   {label} {scenario} / {phase}{} ({}) {:.1}s",
                    step.id,
                    step.kind,
                    duration.as_secs_f64()
                );
                if let Some(m) = outcome.message() {
                    let first = m.lines().next().unwrap_or_default();
                    line.push_str(&format!(": {first}"));
                }
                if outcome.is_failure() {
                    self.failures.push(format!(
                        "{scenario} / {}: {}",
                        step.id,
                        outcome.message().unwrap_or_default()
                    ));
                }
                if let Some(row) = self.rows.iter_mut().find(|r| r.0 == *scenario) {
                    if outcome == &Outcome::Passed {
                        row.3 += 1;
                    }
                    row.4 += 1;
                } else {
                    self.rows.push((
                        scenario.clone(),
                        false,
                        0.0,
                        usize::from(outcome == &Outcome::Passed),
                        1,
                    ));
                }
                if let Some(live) = self.live.as_mut() {
                    if let Some(bar) = live.running.remove(&(scenario.clone(), step.id.clone())) {
                        bar.finish_and_clear();
                    }
                    // Printed above the spinners that are still running.
                    let _ = live.progress.println(&line);
                    return;
                }
                Some(line)
            }
            Event::CleanupFinished {
                scenario,
                item,
                outcome,
            } => match outcome {
                CleanupOutcome::Done => None,
                CleanupOutcome::Kept { reason } => {
                    Some(format!("   cleanup {scenario}: {item}: kept ({reason})"))
                }
                CleanupOutcome::Failed { message } => {
                    Some(format!("   CLEAN-UP FAILED {scenario}: {item}: {message}"))
                }
            },
            Event::ScenarioFinished {
                scenario,
                passed,
                duration,
            } => {
                if let Some(row) = self.rows.iter_mut().find(|r| r.0 == *scenario) {
                    row.1 = *passed;
                    row.2 = duration.as_secs_f64();
                }
                None
            }
            Event::RunFinished {
                duration,
                passed,
                failed,
            } => {
                let mut table = String::from(
                    "\nscenario                                 result   steps    time\n",
                );
                for (name, ok, secs, steps_ok, steps) in &self.rows {
                    let result = if *ok {
                        self.paint("32", "PASS  ")
                    } else {
                        self.paint("31", "FAIL  ")
                    };
                    table.push_str(&format!(
                        "{name:<40} {result}   {steps_ok:>2}/{steps:<2}  {secs:>6.1}s\n"
                    ));
                }
                for f in &self.failures {
                    table.push_str(&format!("failed: {f}\n"));
                }
                table.push_str(&format!(
                    "{passed} passed, {failed} failed in {:.1}s",
                    duration.as_secs_f64()
                ));
                Some(table)
            }
        };
        if let Some(line) = line {
            let _ = writeln!(self.out, "{line}");
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::StepInfo;

    // Layer 1 (pure): what CI logs show (not a terminal: no colours, no spinners).
    #[test]
    fn plain_lines_per_step_then_a_summary_table() {
        let mut r = ConsoleReporter::new(Vec::new(), false);
        let step = |id: &str| StepInfo {
            index: 0,
            id: id.into(),
            kind: "verify",
            description: None,
            phase: Phase::Main,
        };
        let events = [
            Event::ScenarioStarted {
                scenario: "galera-etcd-sync".into(),
                file: "f".into(),
                namespace: "h-g-1".into(),
            },
            Event::StepStarted {
                scenario: "galera-etcd-sync".into(),
                step: step("status"),
            },
            Event::StepFinished {
                scenario: "galera-etcd-sync".into(),
                step: step("status"),
                outcome: Outcome::Passed,
                duration: Duration::from_millis(1500),
                output: String::new(),
                evidence: vec![],
            },
            Event::StepFinished {
                scenario: "galera-etcd-sync".into(),
                step: step("sync"),
                outcome: Outcome::Failed {
                    message: "galera-ss-2:3306: cannot connect\nmore".into(),
                },
                duration: Duration::from_secs(2),
                output: String::new(),
                evidence: vec![],
            },
            Event::ScenarioFinished {
                scenario: "galera-etcd-sync".into(),
                passed: false,
                duration: Duration::from_secs(4),
            },
            Event::RunFinished {
                duration: Duration::from_secs(4),
                passed: 0,
                failed: 1,
            },
        ];
        for e in &events {
            r.event(e);
        }
        let text = String::from_utf8(r.into_inner()).unwrap();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            text.contains("==> galera-etcd-sync in namespace h-g-1"),
            "{text}"
        );
        assert!(
            text.contains("PASS    galera-etcd-sync / status (verify) 1.5s"),
            "{text}"
        );
        assert!(
            text.contains(
                "FAIL    galera-etcd-sync / sync (verify) 2.0s: galera-ss-2:3306: cannot connect\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("galera-etcd-sync                         FAIL      1/2"),
            "{text}"
        );
        assert!(text.ends_with("0 passed, 1 failed in 4.0s\n"), "{text}");
    }
}
