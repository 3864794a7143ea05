//! The HTML report: `reports/<run>/index.html`, one self-contained file (inline CSS, no script,
//! no fetch), readable from a CI artifact. A header with the run, the provider, the cluster and
//! the totals; per scenario a timeline of its steps (bars on a time axis, coloured by outcome;
//! `finally` steps, guards and clean-up shown; fault steps marked), and under it each failed
//! step's message, output and evidence, collapsed. It sees events after the runner's redaction
//! like every reporter; everything from the cluster is escaped and bounded (head and tail).
//! Times are when the events arrived, relative to the scenario's start.

use super::Reporter;
use super::events::{CleanupOutcome, Event, Outcome, Phase};
use super::sanitize::{strip_ansi, truncate_middle};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Most characters of a step's output, and of each piece of its evidence, in the page.
const MAX_SECTION_CHARS: usize = 16_000;

pub struct HtmlReporter {
    path: PathBuf,
    run_id: String,
    provider: String,
    cluster_version: String,
    reran: Option<String>,
    passed: usize,
    failed: usize,
    total: Duration,
    scenarios: Vec<Scenario>,
}

#[derive(Default)]
struct Scenario {
    name: String,
    file: String,
    namespace: String,
    started: Option<Instant>,
    duration: Duration,
    passed: Option<bool>,
    open: BTreeMap<(u8, usize), Duration>,
    rows: Vec<Row>,
    cleanup: Vec<(Duration, String, Option<String>)>,
}

struct Row {
    label: String,
    kind: String,
    phase: Phase,
    outcome: &'static str,
    message: Option<String>,
    start: Duration,
    end: Duration,
    output: String,
    evidence: Vec<(String, String)>,
}

impl HtmlReporter {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            run_id: String::new(),
            provider: String::new(),
            cluster_version: String::new(),
            reran: None,
            passed: 0,
            failed: 0,
            total: Duration::ZERO,
            scenarios: vec![],
        }
    }

    fn scenario(&mut self, name: &str) -> &mut Scenario {
        if let Some(i) = self.scenarios.iter().position(|s| s.name == name) {
            return &mut self.scenarios[i];
        }
        self.scenarios.push(Scenario {
            name: name.to_string(),
            started: Some(Instant::now()),
            ..Default::default()
        });
        self.scenarios.last_mut().expect("just pushed")
    }

    /// The page.
    pub fn render(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>harness run {}</title><style>{CSS}</style></head><body>",
            esc(&self.run_id)
        );
        let _ = write!(
            h,
            "<header><h1>harness run <code>{}</code></h1><p class=\"meta\">{} · {} passed, {} failed · {:.1}s{}</p></header>",
            esc(&self.run_id),
            if self.provider == "none" {
                "no cluster".to_string()
            } else {
                format!(
                    "{} · Kubernetes {}",
                    esc(&self.provider),
                    esc(&self.cluster_version)
                )
            },
            self.passed,
            self.failed,
            self.total.as_secs_f64(),
            self.reran.as_ref().map_or(String::new(), |r| format!(
                " · re-ran the failures of <code>{}</code>",
                esc(r)
            ))
        );
        for s in &self.scenarios {
            render_scenario(&mut h, s);
        }
        h.push_str("</body></html>\n");
        h
    }
}

fn render_scenario(h: &mut String, s: &Scenario) {
    let verdict = match s.passed {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "unfinished",
    };
    let _ = write!(
        h,
        "<section class=\"scenario {verdict}\"><h2>{} <span class=\"badge {verdict}\">{}</span></h2><p class=\"meta\">{}{} · {:.1}s</p>",
        esc(&s.name),
        verdict.to_uppercase(),
        esc(&s.file),
        if s.namespace.is_empty() {
            " · no cluster".to_string()
        } else {
            format!(" · namespace <code>{}</code>", esc(&s.namespace))
        },
        s.duration.as_secs_f64()
    );
    let span = s
        .rows
        .iter()
        .map(|r| r.end)
        .chain(s.cleanup.iter().map(|c| c.0))
        .chain([s.duration])
        .max()
        .unwrap_or_default()
        .max(Duration::from_millis(1))
        .as_secs_f64();
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / span;
    let _ = write!(
        h,
        "<div class=\"timeline\"><div class=\"row axis\"><span class=\"label\"></span><span class=\"scale\"><span>0s</span><span>{:.1}s</span></span></div>",
        span,
    );
    for r in &s.rows {
        let left = pct(r.start);
        let width = (pct(r.end) - left).max(0.4);
        let fault = if r.kind == "fault" { " fault" } else { "" };
        let phase = match r.phase {
            Phase::Main => "",
            Phase::Finally => " finally",
            Phase::Guard => " guard",
        };
        // A guard's violations, where they happened (`+Ns object: what` lines of its output).
        let marks: String = if r.phase == Phase::Guard {
            r.output
                .lines()
                .filter_map(|l| l.strip_prefix('+')?.split_once("s ")?.0.parse::<u64>().ok())
                .map(|at| {
                    format!(
                        "<span class=\"mark\" style=\"left:{:.2}%\" title=\"violation at +{at}s\"></span>",
                        pct(Duration::from_secs(at)).min(100.0)
                    )
                })
                .collect()
        } else {
            String::new()
        };
        let _ = write!(
            h,
            "<div class=\"row{phase}\"><span class=\"label\">{}</span><span class=\"track\"><span class=\"bar {}{fault}\" style=\"left:{left:.2}%;width:{width:.2}%\" title=\"{} {} {:.1}s\"></span>{marks}</span></div>",
            esc(&r.label),
            r.outcome.to_lowercase(),
            esc(&r.label),
            r.outcome,
            (r.end.saturating_sub(r.start)).as_secs_f64()
        );
    }
    if let (Some(first), Some(last)) = (s.cleanup.first(), s.cleanup.last()) {
        let failed = s.cleanup.iter().any(|c| c.2.is_some());
        let left = pct(first.0);
        let width = (pct(last.0) - left).max(0.4);
        let _ = write!(
            h,
            "<div class=\"row cleanup\"><span class=\"label\">clean-up ({} item(s))</span><span class=\"track\"><span class=\"bar {}\" style=\"left:{left:.2}%;width:{width:.2}%\"></span></span></div>",
            s.cleanup.len(),
            if failed { "fail" } else { "pass" }
        );
    }
    h.push_str("</div>");
    for r in s
        .rows
        .iter()
        .filter(|r| r.message.is_some() && r.outcome != "SKIP")
    {
        let _ = write!(
            h,
            "<details class=\"failure\"><summary><span class=\"badge {}\">{}</span> {} <code>{}</code>: {}</summary>",
            r.outcome.to_lowercase(),
            r.outcome,
            esc(&r.label),
            esc(&r.kind),
            esc(&bounded(r.message.as_deref().unwrap_or_default()))
        );
        if !r.output.trim().is_empty() {
            let _ = write!(h, "<h4>output</h4><pre>{}</pre>", esc(&bounded(&r.output)));
        }
        for (title, body) in &r.evidence {
            let _ = write!(
                h,
                "<details class=\"evidence\"><summary>{}</summary><pre>{}</pre></details>",
                esc(title),
                esc(&bounded(body))
            );
        }
        h.push_str("</details>");
    }
    let failed_cleanup: Vec<&(Duration, String, Option<String>)> =
        s.cleanup.iter().filter(|c| c.2.is_some()).collect();
    if !failed_cleanup.is_empty() {
        h.push_str("<details class=\"failure\"><summary><span class=\"badge fail\">CLEAN-UP</span> items that could not be removed</summary><ul>");
        for (_, item, error) in failed_cleanup {
            let _ = write!(
                h,
                "<li><code>{}</code>: {}</li>",
                esc(item),
                esc(error.as_deref().unwrap_or_default())
            );
        }
        h.push_str("</ul></details>");
    }
    h.push_str("</section>");
}

fn bounded(text: &str) -> String {
    truncate_middle(&strip_ansi(text), MAX_SECTION_CHARS)
}

/// Text safe in HTML content and attribute values; characters no document may hold dropped.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if super::sanitize::is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em;color:#222}\
header h1{margin:.2em 0}.meta{color:#666;margin:.2em 0}code{font-family:ui-monospace,monospace}\
section.scenario{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}\
section.fail{border-left:6px solid #c62828}section.pass{border-left:6px solid #2e7d32}\
.badge{font-size:11px;font-weight:600;padding:1px 6px;border-radius:3px;color:#fff;background:#777}\
.badge.pass{background:#2e7d32}.badge.fail{background:#c62828}.badge.timeout{background:#ef6c00}.badge.cancel{background:#6a1b9a}.badge.skip{background:#9e9e9e}\
.timeline{margin:.5em 0}.scale{flex:1;display:flex;justify-content:space-between;font-size:11px;color:#888;border-bottom:1px solid #ddd}.row{display:flex;align-items:center;height:20px}\
.label{width:260px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:12px}\
.row.finally .label,.row.cleanup .label{font-style:italic}.row.guard .label{font-weight:600}\
.track{position:relative;flex:1;height:12px;background:#f3f3f3;border-radius:2px}\
.bar{position:absolute;top:0;height:12px;border-radius:2px;background:#9e9e9e}\
.bar.pass{background:#43a047}.bar.fail{background:#e53935}.bar.timeout{background:#fb8c00}.bar.cancel{background:#8e24aa}.bar.skip{background:#bdbdbd}\
.bar.fault{outline:2px dashed #212121;outline-offset:1px}.mark{position:absolute;top:-3px;width:3px;height:18px;background:#b71c1c}\
details.failure{margin:.4em 0;padding:.3em .6em;background:#fff5f5;border-radius:4px}\
details.evidence{margin:.2em 0 .2em 1em}pre{white-space:pre-wrap;word-break:break-all;background:#fafafa;padding:.5em;max-height:30em;overflow:auto;font-size:12px}";

impl Reporter for HtmlReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                provider,
                cluster_version,
                reran,
                ..
            } => {
                self.run_id = run_id.clone();
                self.provider = provider.clone();
                self.cluster_version = cluster_version.clone();
                self.reran = reran.clone();
            }
            Event::ScenarioStarted {
                scenario,
                file,
                namespace,
            } => {
                let s = self.scenario(scenario);
                s.file = file.clone();
                s.namespace = namespace.clone();
                s.started = Some(Instant::now());
            }
            Event::StepStarted { scenario, step } => {
                let s = self.scenario(scenario);
                let at = s.started.map(|t| t.elapsed()).unwrap_or_default();
                s.open.insert((phase_key(step.phase), step.index), at);
            }
            Event::StepFinished {
                scenario,
                step,
                outcome,
                duration,
                output,
                evidence,
            } => {
                let s = self.scenario(scenario);
                let end = s.started.map(|t| t.elapsed()).unwrap_or_default();
                let start = s
                    .open
                    .remove(&(phase_key(step.phase), step.index))
                    .unwrap_or_else(|| end.saturating_sub(*duration));
                // A guard watched the whole run: its bar spans it.
                let start = if step.phase == Phase::Guard {
                    Duration::ZERO
                } else {
                    start
                };
                let label = match step.phase {
                    Phase::Main => format!("{:02} {}", step.index + 1, step.id),
                    Phase::Finally => format!("finally {}", step.id),
                    Phase::Guard => format!("guard {}", step.id),
                };
                s.rows.push(Row {
                    label,
                    kind: step.kind.to_string(),
                    phase: step.phase,
                    outcome: outcome.label(),
                    message: match outcome {
                        Outcome::Passed => None,
                        other => other.message().map(str::to_string),
                    },
                    start,
                    end,
                    output: output.clone(),
                    evidence: evidence
                        .iter()
                        .map(|e| (e.title.clone(), e.body.clone()))
                        .collect(),
                });
            }
            Event::CleanupFinished {
                scenario,
                item,
                outcome,
            } => {
                let s = self.scenario(scenario);
                let at = s.started.map(|t| t.elapsed()).unwrap_or_default();
                let error = match outcome {
                    CleanupOutcome::Done => None,
                    CleanupOutcome::Kept { reason } => Some(format!("kept ({reason})")),
                    CleanupOutcome::Failed { message } => Some(message.clone()),
                };
                s.cleanup.push((at, item.clone(), error));
            }
            Event::ScenarioFinished {
                scenario,
                passed,
                duration,
            } => {
                let s = self.scenario(scenario);
                s.passed = Some(*passed);
                s.duration = *duration;
            }
            Event::RunFinished {
                duration,
                passed,
                failed,
            } => {
                self.total = *duration;
                self.passed = *passed;
                self.failed = *failed;
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.path, self.render())
    }
}

fn phase_key(p: Phase) -> u8 {
    match p {
        Phase::Main => 0,
        Phase::Finally => 1,
        Phase::Guard => 2,
    }
}

#[cfg(test)]
mod tests;
