//! Console reporter: a line per step as it finishes, then a summary table. On a terminal, a
//! spinner per running step (indicatif) saying what it waits for, the try it is on and the time
//! left, with the run's progress (scenario 3 of 8); colours unless `NO_COLOR` is set (which
//! keeps the spinner). Not on a terminal (CI logs), plain lines: START when a step starts
//! (`finally` steps say so), and a `SLOW [>60s]` line every minute a step runs, with what it
//! waits for, as nextest does. A step's message is printed once, on its line; the table at the
//! end names the failures. Results go to stdout; logs go to stderr through `tracing`.

use super::Reporter;
use super::events::{CleanupOutcome, Event, Outcome, Phase, ScenarioOutcome, StepInfo};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

/// How often a step that runs long says so in plain output.
pub const SLOW_EVERY: Duration = Duration::from_secs(60);
/// The longest message part of a step's line.
const MESSAGE_CHARS: usize = 400;

/// Spinners for the running steps, drawn on stdout above the finished lines.
struct Spinners {
    progress: MultiProgress,
    running: HashMap<(String, String), ProgressBar>,
}

struct Row {
    name: String,
    outcome: Option<ScenarioOutcome>,
    secs: f64,
    steps_passed: usize,
    steps: usize,
}

pub struct ConsoleReporter<W: Write + Send> {
    out: W,
    colour: bool,
    live: Option<Spinners>,
    rows: Vec<Row>,
    failures: Vec<String>,
    scenarios_total: usize,
    scenarios_started: usize,
    /// Each started scenario's number among the run's and its count of main steps.
    scenario_steps: HashMap<String, (usize, usize)>,
    /// For each running step (plain output): the last minute a SLOW line was printed for.
    slow: HashMap<(String, String), u64>,
}

/// `scenario / finally step` as lines show a step.
fn step_label(scenario: &str, step: &StepInfo) -> String {
    let phase = match step.phase {
        Phase::Finally => "finally ",
        Phase::Guard => "guard ",
        Phase::Main => "",
    };
    let kind = step.verifier.unwrap_or(step.kind);
    format!("{scenario} / {phase}{} ({kind})", step.id)
}

/// A duration on a line: `42ms`, `1.3s`, `2m 05s`.
fn short(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 0.05 {
        format!("{}ms", d.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// The first line of a message, bounded, with control characters shown, not obeyed (an
/// escape sequence from a pod's log could retitle or clear the terminal).
fn bounded(text: &str) -> String {
    let text = crate::diag::visible(text);
    let first = text.lines().next().unwrap_or_default();
    if first.chars().count() > MESSAGE_CHARS {
        let cut: String = first.chars().take(MESSAGE_CHARS).collect();
        format!("{cut}… (the whole message is in the reports)")
    } else if text.lines().nth(1).is_some() {
        format!("{first} …")
    } else {
        first.to_string()
    }
}

impl<W: Write + Send> ConsoleReporter<W> {
    /// `terminal`: the output is an interactive terminal (spinners; colours unless NO_COLOR).
    pub fn new(out: W, terminal: bool) -> Self {
        let colour = colours(terminal, std::env::var_os("NO_COLOR").as_deref());
        let live = (terminal && std::env::var_os("CI").is_none()).then(|| Spinners {
            progress: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            running: HashMap::new(),
        });
        Self {
            out,
            colour,
            live,
            rows: vec![],
            failures: vec![],
            scenarios_total: 0,
            scenarios_started: 0,
            scenario_steps: HashMap::new(),
            slow: HashMap::new(),
        }
    }

    /// Where a step stands: `[step 3/12]` among its scenario's main steps (`[finally 1]` after
    /// them), with `scenario 2/5` in front when the run has several.
    fn progress(&self, scenario: &str, step: &StepInfo) -> String {
        let (nth, steps) = self
            .scenario_steps
            .get(scenario)
            .copied()
            .unwrap_or_default();
        let of_step = match step.phase {
            Phase::Main if steps > 0 => format!("step {}/{steps}", step.index + 1),
            Phase::Main => format!("step {}", step.index + 1),
            Phase::Finally => format!("finally {}", step.index + 1),
            Phase::Guard => "guard".to_string(),
        };
        let total = self.scenarios_total.max(self.scenarios_started);
        if total > 1 {
            format!("[scenario {nth}/{total} · {of_step}]")
        } else {
            format!("[{of_step}]")
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

    fn row(&mut self, scenario: &str) -> &mut Row {
        if let Some(i) = self.rows.iter().position(|r| r.name == scenario) {
            return &mut self.rows[i];
        }
        self.rows.push(Row {
            name: scenario.to_string(),
            outcome: None,
            secs: 0.0,
            steps_passed: 0,
            steps: 0,
        });
        self.rows.last_mut().expect("just pushed")
    }

    /// Prints a line above the spinners (terminal) or as is.
    fn print(&mut self, line: &str) {
        if let Some(live) = self.live.as_ref() {
            let _ = live.progress.println(line);
        } else {
            let _ = writeln!(self.out, "{line}");
        }
    }
}

impl<W: Write + Send> Reporter for ConsoleReporter<W> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                provider,
                cluster_version,
                scenarios,
                reran,
                selection,
            } => {
                self.scenarios_total = *scenarios;
                let on = if provider == "none" {
                    "without a cluster".to_string()
                } else if cluster_version.is_empty() || cluster_version == "-" {
                    format!("on {provider}")
                } else {
                    format!("on {provider} (Kubernetes {cluster_version})")
                };
                let line = format!(
                    "run {}: {scenarios} scenario(s) {on}{}{}",
                    crate::diag::visible(run_id),
                    selection
                        .partition
                        .as_ref()
                        .map_or(String::new(), |p| format!(", partition {p}")),
                    reran.as_ref().map_or(String::new(), |r| format!(
                        ", re-running the failed scenarios of run {}",
                        crate::diag::visible(r)
                    ))
                );
                self.print(&line);
            }
            Event::ScenarioStarted {
                scenario,
                namespace,
                steps,
                ..
            } => {
                self.scenarios_started += 1;
                self.scenario_steps
                    .insert(scenario.clone(), (self.scenarios_started, *steps));
                let ns = if namespace.is_empty() {
                    String::new()
                } else {
                    format!(" in namespace {namespace}")
                };
                let line = format!(
                    "{} {scenario}{ns} (scenario {} of {})",
                    self.paint("1", "==>"),
                    self.scenarios_started,
                    self.scenarios_total.max(self.scenarios_started)
                );
                self.print(&line);
            }
            Event::StepStarted { scenario, step } => {
                let label = step_label(scenario, step);
                let progress = self.progress(scenario, step);
                if let Some(live) = self.live.as_mut() {
                    let bar = live.progress.add(ProgressBar::new_spinner());
                    if let Ok(style) =
                        ProgressStyle::with_template("   {spinner} {prefix} {msg} {elapsed}")
                    {
                        bar.set_style(style);
                    }
                    bar.set_prefix(progress);
                    bar.set_message(label);
                    bar.enable_steady_tick(Duration::from_millis(120));
                    live.running
                        .insert((scenario.clone(), step.id.clone()), bar);
                    return;
                }
                // Plain output (CI): a line when a step starts, so a log shows what was running.
                self.slow.insert((scenario.clone(), step.id.clone()), 0);
                let line = format!("   START   {progress} {label}");
                self.print(&line);
            }
            Event::StepProgress {
                scenario,
                step,
                elapsed,
                left,
                attempt,
                note,
            } => {
                let mut what = vec![];
                if let Some(n) = note {
                    what.push(bounded(n));
                }
                if *attempt > 1 {
                    what.push(format!("attempt {attempt}"));
                }
                what.push(format!("{} left", short(*left)));
                let label = step_label(scenario, step);
                if let Some(live) = self.live.as_mut() {
                    if let Some(bar) = live.running.get(&(scenario.clone(), step.id.clone())) {
                        bar.set_message(format!("{label}: {}", what.join(", ")));
                    }
                    return;
                }
                let minutes = elapsed.as_secs() / SLOW_EVERY.as_secs();
                let key = (scenario.clone(), step.id.clone());
                if minutes > self.slow.get(&key).copied().unwrap_or(0) {
                    self.slow.insert(key, minutes);
                    let line = format!(
                        "   {} {label}: {}",
                        self.paint(
                            "33",
                            &format!("SLOW [>{}s]", minutes * SLOW_EVERY.as_secs())
                        ),
                        what.join(", ")
                    );
                    self.print(&line);
                }
            }
            Event::StepFinished {
                scenario,
                step,
                outcome,
                duration,
                attempts,
                ..
            } => {
                let code = match outcome {
                    Outcome::Passed => "32",
                    Outcome::Skipped { .. } => "33",
                    _ => "31",
                };
                let label = self.paint(code, &format!("{:<7}", outcome.label()));
                let mut line = format!(
                    "   {label} {} {}",
                    step_label(scenario, step),
                    short(*duration)
                );
                if let Some(n) = attempts {
                    line.push_str(&format!(" [{n} attempt(s)]"));
                }
                if step.continue_on_error && outcome.is_failure() {
                    line.push_str(" [continue_on_error: the later steps run, the scenario fails]");
                }
                if let Some(m) = outcome.message() {
                    line.push_str(&format!(": {}", bounded(m)));
                }
                if outcome.is_failure() {
                    self.failures.push(format!(
                        "{} [{}]",
                        step_label(scenario, step),
                        outcome.label()
                    ));
                }
                let passed = outcome == &Outcome::Passed;
                let row = self.row(scenario);
                row.steps += 1;
                row.steps_passed += usize::from(passed);
                self.slow.remove(&(scenario.clone(), step.id.clone()));
                if let Some(live) = self.live.as_mut()
                    && let Some(bar) = live.running.remove(&(scenario.clone(), step.id.clone()))
                {
                    bar.finish_and_clear();
                }
                self.print(&line);
            }
            Event::CleanupFinished {
                scenario,
                item,
                outcome,
            } => {
                let line = match outcome {
                    CleanupOutcome::Done { .. } => return,
                    CleanupOutcome::Kept { reason } => {
                        format!(
                            "   cleanup {scenario}: {}: kept ({reason})",
                            crate::diag::visible(item)
                        )
                    }
                    CleanupOutcome::Failed { message } => {
                        let item = crate::diag::visible(item);
                        self.failures
                            .push(format!("{scenario} / clean-up of {item}"));
                        format!(
                            "   {} {scenario}: {item}: {}",
                            self.paint("31", "CLEAN-UP FAILED"),
                            crate::diag::visible(message)
                        )
                    }
                };
                self.print(&line);
            }
            Event::ScenarioFinished {
                scenario,
                outcome,
                duration,
            } => {
                let row = self.row(scenario);
                row.outcome = Some(*outcome);
                row.secs = duration.as_secs_f64();
            }
            Event::RunFinished {
                duration,
                passed,
                failed,
            } => {
                let mut table = String::from(
                    "\nscenario                                 result   steps    time\n",
                );
                for r in &self.rows {
                    let result = match r.outcome {
                        Some(ScenarioOutcome::Passed) => self.paint("32", "PASS  "),
                        Some(ScenarioOutcome::Skipped) => self.paint("33", "SKIP  "),
                        Some(ScenarioOutcome::Failed) => self.paint("31", "FAIL  "),
                        Some(ScenarioOutcome::Unfinished) | None => self.paint("31", "UNFIN "),
                    };
                    table.push_str(&format!(
                        "{:<40} {result}   {:>2}/{:<2}  {:>7}\n",
                        r.name,
                        r.steps_passed,
                        r.steps,
                        short(
                            Duration::try_from_secs_f64(r.secs.max(0.0)).unwrap_or(Duration::MAX)
                        )
                    ));
                }
                for f in &self.failures {
                    table.push_str(&format!("failed: {f}\n"));
                }
                table.push_str(&format!(
                    "{passed} passed, {failed} failed in {} (scenarios; every step, guard and clean-up is a test case in junit.xml)",
                    short(*duration)
                ));
                self.print(&table);
            }
        }
    }

    fn finish(&mut self, _: &super::model::Run) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Whether output to a terminal (or not) gets colours, given `NO_COLOR` (no-color.org: set and
/// not empty turns them off). The console and the log lines on stderr both follow it.
pub fn colours(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    // Layer 1 (pure): NO_COLOR as no-color.org defines it, for the console and the log lines.
    #[test]
    fn no_color_set_and_not_empty_turns_colours_off_and_nothing_on_without_a_terminal() {
        use std::ffi::OsStr;
        assert!(colours(true, None));
        assert!(colours(true, Some(OsStr::new(""))));
        assert!(!colours(true, Some(OsStr::new("1"))));
        assert!(!colours(false, None));
    }

    fn plain(events: &[Event]) -> String {
        let mut r = ConsoleReporter::new(Vec::new(), false);
        for e in events {
            r.event(e);
        }
        String::from_utf8(r.into_inner()).unwrap()
    }

    // Layer 1 (pure): what CI logs show (not a terminal: no colours, no spinners).
    #[test]
    fn plain_lines_per_step_then_a_summary_table() {
        let text = plain(&sample::events());
        // Control characters from a message are shown, not obeyed.
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert!(text.contains("\\u{1b}[31mred"), "{text}");
        assert!(
            text.starts_with("run 20261123-1800-abcd: 2 scenario(s) on kind (Kubernetes v1.33.1), re-running the failed scenarios of run 20261122-0300-ffff\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "==> galera-node-loss in namespace h-galera-node-loss-abcd (scenario 2 of 2)"
            ),
            "{text}"
        );
        assert!(
            text.contains("PASS    memcached-pool / pool-distribution (memcache.pool) 1.2s"),
            "{text}"
        );
        assert!(
            text.contains(
                "PASS    galera-node-loss / status-after-rejoin (galera.status) 9.0s [3 attempt(s)]"
            ),
            "{text}"
        );
        assert!(
            text.contains("FAIL    galera-node-loss / optional-probe (exec) 1.2s [continue_on_error: the later steps run, the scenario fails]: exit code 1"),
            "{text}"
        );
        assert!(
            text.contains("CANCEL  galera-node-loss / finally dump (exec)"),
            "{text}"
        );
        assert!(
            text.contains("galera-node-loss                         FAIL      3/9"),
            "{text}"
        );
        // A message is printed once: the table names the failures without repeating them.
        assert_eq!(
            text.matches("acknowledged write(s) lost").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("failed: galera-node-loss / nothing-acknowledged-lost (workload) [FAIL]"),
            "{text}"
        );
        assert!(
            text.contains("failed: galera-node-loss / clean-up of namespace"),
            "{text}"
        );
        assert!(
            text.ends_with("1 passed, 1 failed in 1m 35s (scenarios; every step, guard and clean-up is a test case in junit.xml)\n"),
            "{text}"
        );
    }

    // A long step prints START, then a SLOW line each minute saying what it waits for (as
    // nextest's SLOW), instead of nothing until it ends; `finally` steps say so.
    #[test]
    fn a_long_step_says_what_it_waits_for_every_minute() {
        let step = sample::info(0, "galera-ready", "wait", Phase::Main);
        let progress = |secs: u64, note: &str| Event::StepProgress {
            scenario: "galera".into(),
            step: step.clone(),
            elapsed: Duration::from_secs(secs),
            left: Duration::from_secs(720 - secs),
            attempt: 1,
            note: Some(note.into()),
        };
        let text = plain(&[
            Event::ScenarioStarted {
                scenario: "galera".into(),
                file: "galera.yaml".into(),
                namespace: String::new(),
                description: None,
                tags: vec![],
                steps: 7,
            },
            Event::StepStarted {
                scenario: "galera".into(),
                step: step.clone(),
            },
            progress(10, "1/3 ready"),
            progress(60, "2/3 ready, 3/3 updated"),
            progress(70, "2/3 ready, 3/3 updated"),
            progress(120, "3/3 ready, 2/3 updated"),
            Event::StepStarted {
                scenario: "galera".into(),
                step: sample::info(0, "dump", "exec", Phase::Finally),
            },
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "==> galera (scenario 1 of 1)",
                "   START   [step 1/7] galera / galera-ready (wait)",
                "   SLOW [>60s] galera / galera-ready (wait): 2/3 ready, 3/3 updated, 11m 00s left",
                "   SLOW [>120s] galera / galera-ready (wait): 3/3 ready, 2/3 updated, 10m 00s left",
                "   START   [finally 1] galera / finally dump (exec)",
            ],
            "{text}"
        );
    }
}
