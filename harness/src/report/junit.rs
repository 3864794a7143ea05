//! JUnit XML through quick-junit, rendered from the run model: one `testsuite` per scenario,
//! one `testcase` per step named by its id (ids are unique, so inserting a step renames no
//! other case, and CI history stays attached), `finally` steps by their id too, guards as
//! `guard <name>`, a failed clean-up as `clean-up`; `classname` = scenario. A failure's
//! `type` is the verifier (`galera.status`) or the step kind; its text (what GitLab and
//! junit2html show) holds the message, the head and tail of the output and the paths of the
//! evidence files; `system-out` holds the output and evidence, each section budgeted (see
//! [`super::budget`]) and sanitized (see [`super::sanitize`]). Reports validate against the
//! Jenkins xUnit JUnit schema (`fixtures/junit/jenkins-xunit-junit-10.xsd`). What a step
//! measured (a workload's figures) is a suite property named `<step id>.<figure>`.

use super::Reporter;
use super::events::Phase;
use super::model::{CleanupStatus, Run, Scenario, Status, Step};
use super::sanitize::{MAX_OUTPUT_CHARS, for_xml, truncate_middle};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::PathBuf;
use std::time::Duration;

/// Characters of a failure's own text (message, output head and tail, evidence paths).
const FAILURE_TEXT_CHARS: usize = 8_000;

pub struct JunitReporter {
    path: PathBuf,
}

impl JunitReporter {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

/// The JUnit name of a step: its id; guards and set-up steps prefixed.
pub fn case_name(step: &Step) -> String {
    match step.phase {
        Phase::Guard => format!("guard {}", step.id),
        _ if step.kind == "setup" => format!("setup {}", step.id),
        _ => step.id.clone(),
    }
}

/// The report as XML text.
pub fn render(run: &Run) -> String {
    let mut report = Report::new(format!("harness run {}", run.run_id));
    report
        .set_time(Duration::try_from_secs_f64(run.duration_secs.max(0.0)).unwrap_or(Duration::MAX));
    let mut properties = vec![
        ("run_id".to_string(), run.run_id.clone()),
        ("provider".to_string(), run.provider.clone()),
    ];
    if let Some(v) = &run.cluster_version {
        properties.push(("cluster_version".into(), v.clone()));
    }
    if let Some(r) = &run.reran {
        properties.push(("reran".into(), r.clone()));
    }
    if let Some(p) = &run.partition {
        properties.push(("partition".into(), p.clone()));
    }
    for shard in &run.shards {
        properties.push(("shard".into(), shard.clone()));
    }
    for scenario in &run.scenarios {
        report.add_test_suite(suite(run, scenario, &properties));
    }
    // Names, ids and figures come from input (a merged summary, a scenario file): a character
    // XML 1.0 cannot hold (U+FFFE, a control character) would make the whole file unreadable.
    schema_compatible(report.to_string().unwrap_or_default())
        .chars()
        .filter(|c| super::sanitize::is_xml_char(*c))
        .collect()
}

fn suite(run: &Run, s: &Scenario, properties: &[(String, String)]) -> TestSuite {
    let mut suite = TestSuite::new(s.name.as_str());
    for (k, v) in properties {
        suite.add_property(Property::new(k.as_str(), v.as_str()));
    }
    suite.add_property(Property::new("file", s.file.as_str()));
    if let Some(ns) = &s.namespace {
        suite.add_property(Property::new("namespace", ns.as_str()));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s.started_at) {
        suite.set_timestamp(t);
    }
    suite.set_time(Duration::try_from_secs_f64(s.duration_secs.max(0.0)).unwrap_or(Duration::MAX));
    // What steps measured, as `<step id>.<figure>` (the schema allows properties on suites only).
    for step in &s.steps {
        for f in &step.figures {
            suite.add_property(Property::new(
                format!("{}.{}", step.id, f.name),
                f.value.as_str(),
            ));
        }
    }
    for step in &s.steps {
        suite.add_test_case(case(run, s, step));
    }
    let failed: Vec<String> = s
        .cleanup
        .iter()
        .filter(|c| c.status == CleanupStatus::Failed)
        .map(|c| format!("{}: {}", c.item, c.message.as_deref().unwrap_or_default()))
        .collect();
    if !failed.is_empty() {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(for_xml(
            &format!("{} clean-up item(s) could not be removed", failed.len()),
            1000,
        ));
        status.set_type("cleanup");
        status.set_description(for_xml(&failed.join("\n"), FAILURE_TEXT_CHARS));
        let mut case = TestCase::new("clean-up", status);
        case.set_classname(s.name.as_str());
        suite.add_test_case(case);
    }
    suite
}

fn case(run: &Run, s: &Scenario, step: &Step) -> TestCase {
    let status = match step.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Skipped => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(for_xml(step.message.as_deref().unwrap_or_default(), 1000));
            st
        }
        Status::Failed | Status::TimedOut | Status::Cancelled => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = step.message.as_deref().unwrap_or_default();
            st.set_message(for_xml(message.lines().next().unwrap_or_default(), 1000));
            st.set_type(step.verifier.as_deref().unwrap_or(&step.kind));
            st.set_description(for_xml(&failure_text(run, step), FAILURE_TEXT_CHARS));
            st
        }
    };
    let mut case = TestCase::new(case_name(step), status);
    case.set_classname(s.name.as_str());
    case.set_time(
        Duration::try_from_secs_f64(step.duration_secs.max(0.0)).unwrap_or(Duration::MAX),
    );
    // Each section keeps its share of the bound (see `budget`); the cut to MAX_OUTPUT_CHARS
    // after cleaning is only a last resort.
    let out = super::budget::fit(&step.output, &step.evidence, MAX_OUTPUT_CHARS - 200);
    if !out.trim().is_empty() {
        case.set_system_out(for_xml(&out, MAX_OUTPUT_CHARS));
    }
    case
}

/// What a CI system shows for a failed test: the status and message, the head and tail of the
/// output, and where the complete evidence is.
pub fn failure_text(run: &Run, step: &Step) -> String {
    let mut text = format!(
        "{} {}{}: {}\n",
        step.status.label(),
        step.id,
        step.verifier
            .as_deref()
            .map(|v| format!(" ({v})"))
            .unwrap_or_default(),
        step.message.as_deref().unwrap_or_default()
    );
    if let Some(n) = step.attempts {
        text.push_str(&format!("attempts: {n}\n"));
    }
    if !step.output.trim().is_empty() {
        text.push_str("\n--- output (head and tail) ---\n");
        text.push_str(&truncate_middle(&step.output, FAILURE_TEXT_CHARS / 2));
        text.push('\n');
    }
    if !step.evidence_files.is_empty() {
        text.push_str(&format!(
            "\n--- evidence (complete) under reports/{}/ ---\n",
            run.run_id
        ));
        for f in &step.evidence_files {
            text.push_str(f);
            text.push('\n');
        }
    }
    text
}

/// quick-junit writes a `skipped` count on `<testsuites>`, which the Jenkins schemas do not allow
/// there (they allow it on `<testsuite>`); the per-suite counts keep the information.
fn schema_compatible(xml: String) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml;
    };
    let end = xml[start..].find('>').map_or(xml.len(), |e| start + e);
    let tag = &xml[start..end];
    let cleaned = regex::Regex::new(r#"\sskipped="\d+""#)
        .map(|re| re.replace(tag, "").into_owned())
        .unwrap_or_else(|_| tag.to_string());
    format!("{}{}{}", &xml[..start], cleaned, &xml[end..])
}

impl Reporter for JunitReporter {
    fn finish(&mut self, run: &Run) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.path, render(run)).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("writing the JUnit report {}: {e}", self.path.display()),
            )
        })
    }
}

#[cfg(test)]
mod tests;
