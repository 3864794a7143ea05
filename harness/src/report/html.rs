//! The HTML report: `reports/<run>/index.html`, one self-contained file (inline CSS, no script,
//! no fetch), readable from a CI artifact, rendered from the run model. At the top, the run
//! (provider, cluster, totals, links to `summary.json`, `junit.xml` and the run it re-ran) and a
//! failures-first overview: every failed scenario and step with the first line of its reason,
//! linked to its card. Then per scenario a timeline on the run's shared time axis (scenarios run
//! in parallel line up): its steps as bars coloured by outcome, `finally` steps, guards (their
//! violations marked where they happened), fault steps (each confirmation of a fault's effect
//! and of its heal marked when it was proven), clean-up; marks for retried steps,
//! `continue_on_error` failures and skipped steps; workloads (when their writers ran, their
//! throughput, and their longest stretches without an acknowledged write, overall and per
//! node, in red); descriptions; and under it each failed step's
//! message, output and evidence (with links to the complete files), collapsed; what steps
//! measured (a workload's figures) in a table per step. Everything from
//! the cluster is escaped and bounded (head and tail); long tokens wrap; it reads at 400 px.

use super::Reporter;
use super::events::{Phase, ScenarioOutcome};
use super::model::{CleanupStatus, Run, Scenario, Status, Step};
use super::sanitize::{strip_ansi, truncate_middle};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Most characters of a step's output, and of each piece of its evidence, in the page.
const MAX_SECTION_CHARS: usize = 16_000;

pub struct HtmlReporter {
    path: PathBuf,
}

impl HtmlReporter {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl Reporter for HtmlReporter {
    fn finish(&mut self, run: &Run) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.path, render(run)).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("writing the HTML report {}: {e}", self.path.display()),
            )
        })
    }
}

/// A duration as people read it: `42 ms` below a second, `1.3 s`, `4m 05s`.
pub fn human(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", (secs * 1000.0).max(0.0))
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let s = secs.round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

fn anchor(scenario: &str, step: Option<&Step>) -> String {
    let base = super::model::file_name(scenario);
    match step {
        None => format!("s-{base}"),
        Some(st) => format!(
            "s-{base}-{}-{}",
            match st.phase {
                Phase::Main => "m",
                Phase::Finally => "f",
                Phase::Guard => "g",
            },
            super::model::file_name(&st.id)
        ),
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
}

/// The page.
pub fn render(run: &Run) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>harness run {}</title><style>{CSS}</style></head><body>",
        esc(&run.run_id)
    );
    let t = &run.totals;
    let mut counts = vec![
        format!("{} passed", t.passed),
        format!("{} failed", t.failed),
    ];
    if t.skipped > 0 {
        counts.push(format!("{} skipped", t.skipped));
    }
    if t.unfinished > 0 {
        counts.push(format!("{} unfinished", t.unfinished));
    }
    let _ = write!(
        h,
        "<header><h1>harness run <code>{}</code></h1><p class=\"meta\">{} · {} · {}</p><p class=\"meta\">started {} · <a href=\"summary.json\">summary.json</a> · <a href=\"junit.xml\">junit.xml</a>{}{}{}</p></header>",
        esc(&run.run_id),
        match (run.provider.as_str(), &run.cluster_version) {
            ("none", _) => "no cluster".to_string(),
            (p, Some(v)) => format!("{} · Kubernetes {}", esc(p), esc(v)),
            (p, None) => esc(p),
        },
        counts.join(", "),
        human(run.duration_secs),
        esc(&run.started_at),
        run.reran.as_ref().map_or(String::new(), |r| {
            match href(&format!("../{r}/index.html")) {
                Some(link) => format!(
                    " · re-ran the failures of <a href=\"{link}\"><code>{}</code></a>",
                    esc(r)
                ),
                None => format!(" · re-ran the failures of <code>{}</code>", esc(r)),
            }
        }),
        run.partition
            .as_ref()
            .map_or(String::new(), |p| format!(" · partition {}", esc(p))),
        if run.shards.is_empty() {
            String::new()
        } else {
            format!(
                " · merged from {} shard(s): {}",
                run.shards.len(),
                run.shards
                    .iter()
                    .map(|s| format!("<code>{}</code>", esc(s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    overview(&mut h, run);
    let span = run
        .scenarios
        .iter()
        .map(|s| s.offset_secs + scenario_span(s))
        .fold(run.duration_secs, f64::max)
        .max(0.001);
    for s in &run.scenarios {
        render_scenario(&mut h, s, span);
    }
    h.push_str("</body></html>\n");
    h
}

/// Failures first: every scenario that did not pass, with each failed step's first line.
fn overview(h: &mut String, run: &Run) {
    let failing: Vec<&Scenario> = run
        .scenarios
        .iter()
        .filter(|s| s.outcome != ScenarioOutcome::Passed)
        .collect();
    if failing.is_empty() {
        let _ = write!(
            h,
            "<section class=\"overview pass\"><h2>Every scenario passed</h2></section>"
        );
        return;
    }
    let _ = write!(
        h,
        "<section class=\"overview\"><h2>{} of {} scenario(s) did not pass</h2><ul>",
        failing.len(),
        run.scenarios.len()
    );
    for s in failing {
        let label = match s.outcome {
            ScenarioOutcome::Skipped => "skip",
            ScenarioOutcome::Unfinished => "unfinished",
            _ => "fail",
        };
        let _ = write!(
            h,
            "<li><span class=\"badge {label}\">{}</span> <a href=\"#{}\">{}</a>",
            label.to_uppercase(),
            anchor(&s.name, None),
            esc(&s.name)
        );
        let failed: Vec<&Step> = s.steps.iter().filter(|st| st.status.is_failure()).collect();
        if failed.is_empty() {
            if let Some(m) = &s.message {
                let _ = write!(h, ": {}", esc(&bounded(first_line(m))));
            }
        } else {
            h.push_str("<ul>");
            for st in failed {
                let _ = write!(
                    h,
                    "<li><span class=\"badge {}\">{}</span> <a href=\"#{}\">{}</a>{}: {}</li>",
                    st.status.label().to_lowercase(),
                    st.status.label(),
                    anchor(&s.name, Some(st)),
                    esc(&label_of(st)),
                    if st.continue_on_error {
                        " <span class=\"note\">(continue_on_error)</span>"
                    } else {
                        ""
                    },
                    esc(&bounded(first_line(
                        st.message.as_deref().unwrap_or_default()
                    )))
                );
            }
            h.push_str("</ul>");
        }
        for c in s
            .cleanup
            .iter()
            .filter(|c| c.status == CleanupStatus::Failed)
        {
            let _ = write!(
                h,
                "<ul><li><span class=\"badge fail\">CLEAN-UP</span> <code>{}</code>: {}</li></ul>",
                esc(&c.item),
                esc(&bounded(first_line(
                    c.message.as_deref().unwrap_or_default()
                )))
            );
        }
        h.push_str("</li>");
    }
    h.push_str("</ul></section>");
}

fn label_of(st: &Step) -> String {
    match st.phase {
        Phase::Main => st.id.clone(),
        Phase::Finally => format!("finally {}", st.id),
        Phase::Guard => format!("guard {}", st.id),
    }
}

/// The narrowest bar drawn, in percent of the axis, so a short step stays visible.
const MIN_WIDTH: f64 = 0.4;

/// A point `secs` on an axis `span` seconds long, in percent: within 0..=100 whatever the
/// numbers (the page is drawn from a summary that may come from another machine).
fn at(secs: f64, span: f64) -> f64 {
    let p = 100.0 * secs / span;
    if p.is_finite() {
        p.clamp(0.0, 100.0)
    } else {
        0.0
    }
}

/// Where a bar from `from` to `to` seconds sits on the axis: (left, width) in percent, within
/// 0..=100 and at least [`MIN_WIDTH`] wide; a bar at the very end moves left to stay visible.
fn place(from: f64, to: f64, span: f64) -> (f64, f64) {
    let left = at(from, span);
    let width = (at(to, span) - left).max(MIN_WIDTH);
    (left.min(100.0 - width), width)
}

/// How long a scenario's timeline runs (steps, clean-up and its own duration).
fn scenario_span(s: &Scenario) -> f64 {
    s.steps
        .iter()
        .map(|st| st.offset_secs + st.duration_secs)
        .chain(s.cleanup.iter().map(|c| c.offset_secs))
        .fold(s.duration_secs, f64::max)
}

fn render_scenario(h: &mut String, s: &Scenario, span: f64) {
    let verdict = match s.outcome {
        ScenarioOutcome::Passed => "pass",
        ScenarioOutcome::Failed => "fail",
        ScenarioOutcome::Skipped => "skip",
        ScenarioOutcome::Unfinished => "unfinished",
    };
    let _ = write!(
        h,
        "<section class=\"scenario {verdict}\" id=\"{}\"><h2>{} <span class=\"badge {verdict}\">{}</span></h2><p class=\"meta\">{}{} · started +{} · {}</p>",
        anchor(&s.name, None),
        esc(&s.name),
        verdict.to_uppercase(),
        esc(&s.file),
        match &s.namespace {
            None => " · no cluster".to_string(),
            Some(ns) => format!(" · namespace <code>{}</code>", esc(ns)),
        },
        human(s.offset_secs),
        human(s.duration_secs)
    );
    if let Some(d) = &s.description {
        let _ = write!(h, "<p class=\"description\">{}</p>", esc(d));
    }
    // One axis for the whole run: a scenario starts where it started.
    let _ = write!(
        h,
        "<div class=\"timeline\"><div class=\"row axis\"><span class=\"label\"></span><span class=\"scale\"><span>0 s</span><span>{}</span><span>{}</span></span></div>",
        human(span / 2.0),
        human(span),
    );
    for st in &s.steps {
        let start = s.offset_secs + st.offset_secs;
        let (left, width) = place(start, start + st.duration_secs, span);
        let fault = if st.fault { " fault" } else { "" };
        let phase = match st.phase {
            Phase::Main => "",
            Phase::Finally => " finally",
            Phase::Guard => " guard",
        };
        // A guard's violations, where they happened.
        let marks: String = st
            .violations
            .iter()
            .map(|v| {
                format!(
                    "<span class=\"mark\" style=\"left:{:.2}%\" title=\"{} at +{}\"></span>",
                    at(s.offset_secs + v.at_secs, span),
                    esc(&v.what),
                    human(v.at_secs)
                )
            })
            .chain(st.marks.iter().map(|m| {
                format!(
                    "<span class=\"mark proof\" style=\"left:{:.2}%\" title=\"{} (+{})\"></span>",
                    at(start + m.at_secs, span),
                    esc(&m.what),
                    human(m.at_secs)
                )
            }))
            .collect();
        let mut notes = vec![];
        if let Some(n) = st.attempts {
            notes.push(if st.status == Status::Passed {
                format!("passed on attempt {n}")
            } else {
                format!("{n} attempts")
            });
        }
        if st.continue_on_error && st.status.is_failure() {
            notes.push("continue_on_error".into());
        }
        if st.status == Status::Skipped {
            notes.push("skipped".into());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"note\">({})</span>", esc(&notes.join(", ")))
        };
        let _ = write!(
            h,
            "<div class=\"row{phase}\"><span class=\"label\" title=\"{}\">{}{notes}</span><span class=\"track\"><span class=\"bar {}{fault}\" style=\"left:{left:.2}%;width:{width:.2}%\" title=\"{} {} from +{} for {}\"></span>{marks}</span></div>",
            esc(st.description.as_deref().unwrap_or(&st.id)),
            esc(&label_of(st)),
            st.status.label().to_lowercase(),
            esc(&label_of(st)),
            st.status.label(),
            human(st.offset_secs),
            human(st.duration_secs)
        );
    }
    // Workloads on the same axis: when their writers ran, and each one's longest stretch
    // without an acknowledged write (overall, then per node).
    for st in &s.steps {
        for w in &st.workloads {
            let Some(base) = s
                .steps
                .iter()
                .find(|o| o.phase == Phase::Main && o.id == w.started_with_step)
                .map(|o| s.offset_secs + o.offset_secs + w.started_after_secs)
            else {
                continue;
            };
            let (left, width) = place(base, base + w.ran_for_secs, span);
            for (i, u) in w.unavailable.iter().enumerate() {
                let label = if i == 0 {
                    format!("workload {} · {:.1} writes/s", w.id, w.throughput)
                } else {
                    format!("· {}", u.who)
                };
                let (gap_left, gap_width) = place(base + u.from_secs, base + u.to_secs, span);
                let _ = write!(
                    h,
                    "<div class=\"row workload\"><span class=\"label\" title=\"{}\">{}</span><span class=\"track\"><span class=\"bar workload\" style=\"left:{left:.2}%;width:{width:.2}%\" title=\"workload {} from +{} for {}\"></span><span class=\"gap\" style=\"left:{gap_left:.2}%;width:{gap_width:.2}%\" title=\"{}: no acknowledged write for {} (+{} to +{} after the workload started)\"></span></span></div>",
                    esc(&label),
                    esc(&label),
                    esc(&w.id),
                    human(base),
                    human(w.ran_for_secs),
                    esc(&u.who),
                    human((u.to_secs - u.from_secs).max(0.0)),
                    human(u.from_secs),
                    human(u.to_secs)
                );
            }
            // Throughput and latency over time, with the fault steps shaded.
            // The workload's own fault windows (a lasting fault until its heal); from an older
            // summary, the fault steps' spans.
            let faults: Vec<(f64, f64, String)> = if w.faults.is_empty() {
                s.steps
                    .iter()
                    .filter(|f| f.fault)
                    .map(|f| {
                        let from = s.offset_secs + f.offset_secs - base;
                        (from, from + f.duration_secs, label_of(f))
                    })
                    .collect()
            } else {
                w.faults
                    .iter()
                    .map(|f| (f.from_secs, f.to_secs, f.step.clone()))
                    .collect()
            };
            h.push_str(&plots(w, &faults));
        }
    }
    if let (Some(first), Some(last)) = (s.cleanup.first(), s.cleanup.last()) {
        let failed = s.cleanup.iter().any(|c| c.status == CleanupStatus::Failed);
        let (left, width) = place(
            s.offset_secs + first.offset_secs,
            s.offset_secs + last.offset_secs,
            span,
        );
        let _ = write!(
            h,
            "<div class=\"row cleanup\"><span class=\"label\">clean-up ({} item(s))</span><span class=\"track\"><span class=\"bar {}\" style=\"left:{left:.2}%;width:{width:.2}%\"></span></span></div>",
            s.cleanup.len(),
            if failed { "fail" } else { "pass" }
        );
    }
    h.push_str("</div>");
    // What steps measured (a workload's throughput, latencies, unavailability), as a table.
    for st in s.steps.iter().filter(|st| !st.figures.is_empty()) {
        let _ = write!(
            h,
            "<details class=\"figures\"><summary>figures of {}</summary><table>",
            esc(&label_of(st))
        );
        for f in &st.figures {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(&f.name),
                esc(&f.value)
            );
        }
        h.push_str("</table></details>");
    }
    for st in s.steps.iter().filter(|st| st.status.is_failure()) {
        let _ = write!(
            h,
            "<details class=\"failure\" id=\"{}\"><summary><span class=\"badge {}\">{}</span> {} <code>{}</code>: {}</summary>",
            anchor(&s.name, Some(st)),
            st.status.label().to_lowercase(),
            st.status.label(),
            esc(&label_of(st)),
            esc(st.verifier.as_deref().unwrap_or(&st.kind)),
            esc(&bounded(st.message.as_deref().unwrap_or_default()))
        );
        if let Some(d) = &st.description {
            let _ = write!(h, "<p class=\"description\">{}</p>", esc(d));
        }
        if !st.output.trim().is_empty() {
            let _ = write!(h, "<h4>output</h4><pre>{}</pre>", esc(&bounded(&st.output)));
        }
        for (i, e) in st.evidence.iter().enumerate() {
            let link = st
                .evidence_files
                .get(i)
                .and_then(|f| href(f))
                .map(|f| format!(" <a href=\"{f}\">complete file</a>"))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<details class=\"evidence\"><summary>{}{link}</summary><pre>{}</pre></details>",
                esc(&e.title),
                esc(&bounded(&e.body))
            );
        }
        h.push_str("</details>");
    }
    let failed_cleanup: Vec<_> = s
        .cleanup
        .iter()
        .filter(|c| c.status == CleanupStatus::Failed)
        .collect();
    if !failed_cleanup.is_empty() {
        h.push_str("<details class=\"failure\"><summary><span class=\"badge fail\">CLEAN-UP</span> items that could not be removed</summary><ul>");
        for c in failed_cleanup {
            let _ = write!(
                h,
                "<li><code>{}</code>: {}</li>",
                esc(&c.item),
                esc(c.message.as_deref().unwrap_or_default())
            );
        }
        h.push_str("</ul></details>");
    }
    h.push_str("</section>");
}

fn bounded(text: &str) -> String {
    truncate_middle(&strip_ansi(text), MAX_SECTION_CHARS)
}

/// A link to a file of the run, or `None`: only a relative path of plain names (`..` only
/// leading, as the one run folder beside another), never a scheme (`javascript:`), a host
/// (`//x`) or an absolute path; every byte outside a small safe set percent-encoded.
pub fn href(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let leading_up = parts.iter().take_while(|p| **p == "..").count();
    let names = &parts[leading_up..];
    if path.is_empty()
        || leading_up > 1
        || names.is_empty()
        || names
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains([':', '\\']))
    {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Some(out)
}

/// Text safe in HTML content and attribute values: characters no document may hold dropped,
/// and those that reorder or hide text (bidi overrides, zero-width marks) shown as `\u{..}`.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if crate::diag::is_invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
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

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em;color:#222;overflow-wrap:anywhere}\
header h1{margin:.2em 0;font-size:1.5em}.meta{color:#666;margin:.2em 0}code{font-family:ui-monospace,monospace}\
.description{color:#444;font-style:italic;margin:.2em 0}.note{color:#666;font-size:11px}\
section.overview{border:1px solid #e0b4b4;background:#fff8f8;border-radius:6px;padding:.6em 1em}section.overview.pass{border-color:#b7dfb9;background:#f6fff6}\
section.overview h2{font-size:1.1em;margin:.2em 0}section.overview ul{margin:.2em 0;padding-left:1.2em}\
section.scenario{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}\
section.fail{border-left:6px solid #c62828}section.pass{border-left:6px solid #2e7d32}section.skip{border-left:6px solid #9e9e9e}section.unfinished{border-left:6px solid #6a1b9a}\
.badge{font-size:11px;font-weight:600;padding:1px 6px;border-radius:3px;color:#fff;background:#777;white-space:nowrap}\
.badge.pass{background:#2e7d32}.badge.fail{background:#c62828}.badge.timeout{background:#ef6c00}.badge.cancel{background:#6a1b9a}.badge.skip{background:#9e9e9e}.badge.unfinished{background:#6a1b9a}\
.timeline{margin:.5em 0}.scale{flex:1;display:flex;justify-content:space-between;font-size:11px;color:#888;border-bottom:1px solid #ddd}.row{display:flex;align-items:center;min-height:20px}\
.label{width:260px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:12px;padding-right:4px}\
.row.finally .label,.row.cleanup .label{font-style:italic}.row.guard .label{font-weight:600}\
.track{position:relative;flex:1;min-width:120px;height:12px;background:#f3f3f3;border-radius:2px}\
.bar{position:absolute;top:0;height:12px;border-radius:2px;background:#9e9e9e}\
.bar.pass{background:#43a047}.bar.fail{background:#e53935}.bar.timeout{background:#fb8c00}.bar.cancel{background:#8e24aa}.bar.skip{background:#bdbdbd}\
.bar.fault{outline:2px dashed #212121;outline-offset:1px}.mark{position:absolute;top:-3px;width:3px;height:18px;background:#b71c1c}.mark.proof{background:#2e7d32}.bar.workload{background:#90caf9}.plots{margin:4px 0 8px 0}.plot{display:block;max-width:100%;height:auto}.plot rect.fault{fill:#ffcdd2}.gap{position:absolute;top:2px;height:8px;background:#c62828;border-radius:1px}\
details.failure{margin:.4em 0;padding:.3em .6em;background:#fff5f5;border-radius:4px}\
details.evidence{margin:.2em 0 .2em 1em}pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fafafa;padding:.5em;max-height:30em;overflow:auto;font-size:12px}\
@media (max-width:700px){body{padding:.5em}.label{width:38%}.track{min-width:0}section.scenario{padding:.5em}}";

/// A workload's plots: acknowledged writes per second and the slowest write's latency, over
/// its run, overall and per node, with `faults` (start and end from the workload's start, and
/// the step) shaded. Inline SVG: nothing fetched, nothing run.
fn plots(w: &crate::measured::WorkloadSpan, faults: &[(f64, f64, String)]) -> String {
    if w.series.is_empty() || w.ran_for_secs <= 0.0 {
        return String::new();
    }
    let rate = |s: &crate::measured::Series| -> Vec<f64> {
        let width = f64::from(s.bucket_secs.max(1));
        s.acknowledged
            .iter()
            .map(|n| f64::from(*n) / width)
            .collect()
    };
    let latency = |s: &crate::measured::Series| -> Vec<f64> {
        s.max_latency_ms.iter().map(|ms| f64::from(*ms)).collect()
    };
    format!(
        "<div class=\"plots\">{}{}</div>",
        plot(w, faults, "acknowledged writes/s", &rate),
        plot(w, faults, "slowest acknowledged write (ms)", &latency)
    )
}

const PALETTE: [&str; 6] = [
    "#212121", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00897b",
];

fn plot(
    w: &crate::measured::WorkloadSpan,
    faults: &[(f64, f64, String)],
    what: &str,
    values: &dyn Fn(&crate::measured::Series) -> Vec<f64>,
) -> String {
    const W: f64 = 720.0;
    const H: f64 = 120.0;
    let all: Vec<(&str, u32, Vec<f64>)> = w
        .series
        .iter()
        .map(|s| (s.who.as_str(), s.bucket_secs.max(1), values(s)))
        .collect();
    let top = all
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0);
    let x = |secs: f64| (secs / w.ran_for_secs).clamp(0.0, 1.0) * W;
    let y = |v: f64| H - (v / top).clamp(0.0, 1.0) * H;
    let mut svg = format!(
        "<svg class=\"plot\" viewBox=\"0 0 {W} {}\" width=\"{W}\" height=\"{}\" role=\"img\"><title>{} of workload {}</title>",
        H + 16.0,
        H + 16.0,
        esc(what),
        esc(&w.id)
    );
    for (from, to, step) in faults {
        if *to < 0.0 || *from > w.ran_for_secs {
            continue;
        }
        let (a, b) = (x(*from), x(*to).max(x(*from) + 2.0));
        let _ = write!(
            svg,
            "<rect class=\"fault\" x=\"{a:.1}\" y=\"0\" width=\"{:.1}\" height=\"{H}\"><title>fault `{}`</title></rect>",
            b - a,
            esc(step)
        );
    }
    for (i, (who, bucket, v)) in all.iter().enumerate() {
        let points: Vec<String> = v
            .iter()
            .enumerate()
            .map(|(k, value)| {
                let secs = (k as f64 + 0.5) * f64::from(*bucket);
                format!("{:.1},{:.1}", x(secs), y(*value))
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" points=\"{}\"><title>{}</title></polyline>",
            PALETTE[i % PALETTE.len()],
            if i == 0 { 2 } else { 1 },
            points.join(" "),
            esc(who)
        );
    }
    let legend: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, (who, _, _))| {
            format!(
                "<tspan fill=\"{}\">{}</tspan>",
                PALETTE[i % PALETTE.len()],
                esc(who)
            )
        })
        .collect();
    let _ = write!(
        svg,
        "<text x=\"2\" y=\"{}\" font-size=\"11\">{} (top {}; {} s): {}</text></svg>",
        H + 13.0,
        esc(what),
        if top >= 10.0 {
            format!("{top:.0}")
        } else {
            format!("{top:.1}")
        },
        w.ran_for_secs.round(),
        legend.join(" · ")
    );
    svg
}

#[cfg(test)]
mod tests;
