//! JUnit XML through quick-junit: one `testsuite` per scenario, one `testcase` per step
//! (`classname` = scenario name), failures with message, type and the step's output and evidence
//! in `system-out` (each section budgeted, see [`super::budget`], and sanitized, see
//! [`super::sanitize`]). Reports validate against the
//! Jenkins xUnit JUnit schema (`fixtures/junit/jenkins-xunit-junit-10.xsd`).

use super::Reporter;
use super::events::{CleanupOutcome, Event, Outcome, Phase};
use super::sanitize::{MAX_OUTPUT_CHARS, for_xml};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::PathBuf;
use std::time::Duration;

pub struct JunitReporter {
    path: PathBuf,
    report_name: String,
    properties: Vec<(String, String)>,
    suites: Vec<TestSuite>,
    cleanup_errors: Vec<(String, String)>,
    total: Duration,
}

impl JunitReporter {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            report_name: "harness".into(),
            properties: vec![],
            suites: vec![],
            cleanup_errors: vec![],
            total: Duration::ZERO,
        }
    }

    fn suite(&mut self, name: &str) -> &mut TestSuite {
        if let Some(i) = self.suites.iter().position(|s| s.name.as_str() == name) {
            return &mut self.suites[i];
        }
        let mut suite = TestSuite::new(name);
        for (k, v) in &self.properties {
            suite.add_property(Property::new(k.as_str(), v.as_str()));
        }
        self.suites.push(suite);
        self.suites.last_mut().expect("just pushed")
    }

    /// The report as XML text.
    pub fn render(&self) -> String {
        let mut report = Report::new(self.report_name.as_str());
        report.set_time(self.total);
        report.add_test_suites(self.suites.iter().cloned());
        let xml = report.to_string().unwrap_or_default();
        schema_compatible(xml)
    }
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
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                provider,
                cluster_version,
                reran,
                ..
            } => {
                self.report_name = format!("harness run {run_id}");
                self.properties = vec![
                    ("run_id".into(), run_id.clone()),
                    ("provider".into(), provider.clone()),
                    ("cluster_version".into(), cluster_version.clone()),
                ];
                if let Some(r) = reran {
                    self.properties.push(("reran".into(), r.clone()));
                }
            }
            Event::ScenarioStarted {
                scenario,
                file,
                namespace,
            } => {
                let suite = self.suite(scenario);
                suite.add_property(Property::new("file", file.as_str()));
                suite.add_property(Property::new("namespace", namespace.as_str()));
                suite.set_timestamp(chrono_now());
            }
            Event::StepFinished {
                scenario,
                step,
                outcome,
                duration,
                output,
                evidence,
            } => {
                let name = match step.phase {
                    Phase::Main => format!("{:02} {}", step.index + 1, step.id),
                    Phase::Finally => format!("finally {:02} {}", step.index + 1, step.id),
                    Phase::Guard => format!("guard {}", step.id),
                };
                let status = match outcome {
                    Outcome::Passed => TestCaseStatus::success(),
                    Outcome::Skipped { reason } => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(for_xml(reason, 1000));
                        s
                    }
                    Outcome::Failed { message }
                    | Outcome::TimedOut { message }
                    | Outcome::Cancelled { message } => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        let ty = match outcome {
                            Outcome::TimedOut { .. } => "timeout",
                            Outcome::Cancelled { .. } => "cancelled",
                            _ => step.kind,
                        };
                        s.set_message(for_xml(message, 4000));
                        s.set_type(ty);
                        s
                    }
                };
                let mut case = TestCase::new(name, status);
                case.set_classname(scenario.as_str());
                case.set_time(*duration);
                // Each section keeps its share of the bound (see `budget`); the cut to
                // MAX_OUTPUT_CHARS after cleaning is only a last resort.
                let out = super::budget::fit(output, evidence, MAX_OUTPUT_CHARS - 200);
                if !out.trim().is_empty() {
                    case.set_system_out(for_xml(&out, MAX_OUTPUT_CHARS));
                }
                self.suite(scenario).add_test_case(case);
            }
            Event::CleanupFinished {
                scenario,
                item,
                outcome: CleanupOutcome::Failed { message: error },
            } => {
                self.cleanup_errors
                    .push((scenario.clone(), format!("{item}: {error}")));
            }
            Event::ScenarioFinished {
                scenario, duration, ..
            } => {
                let errors: Vec<String> = self
                    .cleanup_errors
                    .iter()
                    .filter(|(s, _)| s == scenario)
                    .map(|(_, e)| e.clone())
                    .collect();
                let suite = self.suite(scenario);
                if !errors.is_empty() {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(for_xml(
                        &format!("{} clean-up item(s) failed", errors.len()),
                        1000,
                    ));
                    s.set_type("cleanup");
                    let mut case = TestCase::new("cleanup", s);
                    case.set_classname(scenario.as_str());
                    case.set_system_out(for_xml(&errors.join("\n"), MAX_OUTPUT_CHARS));
                    suite.add_test_case(case);
                }
                suite.set_time(*duration);
            }
            Event::RunFinished { duration, .. } => self.total = *duration,
            _ => {}
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.path, self.render())
    }
}

fn chrono_now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().fixed_offset()
}

#[cfg(test)]
mod tests;
