//! Console reporter: a line per step as it finishes (with a "running" line on a terminal), then
//! a summary table. Colours only on a terminal and never with `NO_COLOR`; plain lines in CI.
//! Results go to stdout; logs go to stderr through `tracing`.

use super::Reporter;
use crate::exec::{Event, Outcome, Phase};
use std::io::Write;

pub struct ConsoleReporter<W: Write + Send> {
    out: W,
    colour: bool,
    live: bool,
    rows: Vec<(String, bool, f64, usize, usize)>,
    failures: Vec<String>,
}

impl<W: Write + Send> ConsoleReporter<W> {
    /// `terminal`: the output is an interactive terminal (colours and live lines).
    pub fn new(out: W, terminal: bool) -> Self {
        let colour =
            terminal && std::env::var_os("NO_COLOR").is_none() && std::env::var_os("CI").is_none();
        Self {
            out,
            colour,
            live: colour,
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
            } => Some(format!(
                "run {run_id}: {scenarios} scenario(s) on {provider} ({cluster_version})"
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
            Event::StepStarted { scenario, step } if self.live => {
                let _ = write!(
                    self.out,
                    "   ... {scenario} / {} ({}) running\r",
                    step.id, step.kind
                );
                let _ = self.out.flush();
                None
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
                let phase = if step.phase == Phase::Finally {
                    "finally "
                } else {
                    ""
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
                Some(if self.live {
                    format!("\u{1b}[2K{line}")
                } else {
                    line
                })
            }
            Event::CleanupFinished {
                scenario,
                item,
                error: Some(e),
            } => Some(format!("   cleanup {scenario}: {item}: {e}")),
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
            _ => None,
        };
        if let Some(line) = line {
            let _ = writeln!(self.out, "{line}");
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
