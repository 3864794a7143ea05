//! JUnit output checked by independent consumers: xmllint against the Jenkins xUnit schema and
//! junitparser for the counts (layer 1: pure, but needs `xmllint` and python's `junitparser`,
//! which `scripts/install-test-deps.sh` installs).

use super::*;
use crate::cluster::Evidence;
use crate::report::events::StepInfo;
use std::path::Path;
use std::process::Command;

fn info(index: usize, id: &str, phase: Phase) -> StepInfo {
    StepInfo {
        index,
        id: id.into(),
        kind: "exec",
        description: None,
        phase,
    }
}

fn finished(
    scenario: &str,
    step: StepInfo,
    outcome: Outcome,
    output: &str,
    evidence: Vec<Evidence>,
) -> Event {
    Event::StepFinished {
        scenario: scenario.into(),
        step,
        outcome,
        duration: Duration::from_millis(1234),
        output: output.into(),
        evidence,
    }
}

/// Two scenarios: one passing; one with a failure (hostile output), a skip, a finally step and a
/// failed clean-up.
fn sample_events() -> Vec<Event> {
    let hostile = format!(
        "\u{1b}[31mERROR\u{1b}[0m pod log with NUL\u{0} and BEL\u{7} <tag> & \"quotes\"\n{}",
        "x".repeat(200_000)
    );
    vec![
        Event::RunStarted {
            run_id: "20261122-000000-abcd".into(),
            provider: "kind".into(),
            cluster_version: "v1.33.1".into(),
            scenarios: 2,
            reran: None,
        },
        Event::ScenarioStarted {
            scenario: "good".into(),
            file: "scenarios/good.yaml".into(),
            namespace: "h-good-abcd".into(),
        },
        finished(
            "good",
            info(0, "apply", Phase::Main),
            Outcome::Passed,
            "applied",
            vec![],
        ),
        finished(
            "good",
            info(1, "check", Phase::Main),
            Outcome::Passed,
            "",
            vec![],
        ),
        Event::ScenarioFinished {
            scenario: "good".into(),
            passed: true,
            duration: Duration::from_secs(3),
        },
        Event::ScenarioStarted {
            scenario: "bad".into(),
            file: "scenarios/bad.yaml".into(),
            namespace: "h-bad-abcd".into(),
        },
        finished(
            "bad",
            info(0, "apply", Phase::Main),
            Outcome::Passed,
            "",
            vec![],
        ),
        finished(
            "bad",
            info(1, "ring", Phase::Main),
            Outcome::Failed {
                message: "cassandra-2 sees 3 UN nodes, expected 4\u{1b}[0m".into(),
            },
            &hostile,
            vec![Evidence {
                kind: crate::cluster::EvidenceKind::Log,
                title: "pod cassandra-2 log (previous)".into(),
                body: "boom\u{1b}[1m".into(),
            }],
        ),
        finished(
            "bad",
            info(2, "after", Phase::Main),
            Outcome::Skipped {
                reason: "step `ring` failed".into(),
            },
            "",
            vec![],
        ),
        finished(
            "bad",
            info(0, "teardown", Phase::Finally),
            Outcome::TimedOut {
                message: "took too long".into(),
            },
            "",
            vec![],
        ),
        Event::CleanupFinished {
            scenario: "bad".into(),
            item: "namespace h-bad-abcd".into(),
            outcome: crate::report::events::CleanupOutcome::Failed {
                message: "timed out".into(),
            },
        },
        Event::ScenarioFinished {
            scenario: "bad".into(),
            passed: false,
            duration: Duration::from_secs(7),
        },
        Event::RunFinished {
            duration: Duration::from_secs(10),
            passed: 1,
            failed: 1,
        },
    ]
}

fn render(events: &[Event]) -> String {
    let mut r = JunitReporter::new("unused.xml".into());
    for e in events {
        r.event(e);
    }
    r.render()
}

fn schema() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/junit/jenkins-xunit-junit-10.xsd")
}

fn tool(cmd: &mut Command, what: &str) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("{what} is needed for this test ({e}); run scripts/install-test-deps.sh")
    })
}

#[test]
fn report_has_the_expected_shape_and_bounded_clean_output() {
    let xml = render(&sample_events());
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}') && !xml.contains('\u{7}'));
    assert!(
        xml.len() < 2 * MAX_OUTPUT_CHARS + 20_000,
        "output not bounded: {} bytes",
        xml.len()
    );
    assert!(xml.contains(r#"classname="bad""#) && xml.contains(r#"name="02 ring""#));
    assert!(xml.contains(r#"<property name="provider" value="kind"/>"#));
    assert!(xml.contains(r#"<property name="run_id" value="20261122-000000-abcd"/>"#));
    assert!(xml.contains("characters cut"));
    assert!(xml.contains("===== pod cassandra-2 log (previous) ====="));
    assert!(
        !xml[..xml.find("<testsuite ").unwrap()].contains("skipped="),
        "testsuites must not carry `skipped`"
    );
}

#[test]
fn report_validates_against_the_jenkins_xunit_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    std::fs::write(&path, render(&sample_events())).unwrap();
    let out = tool(
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(schema())
            .arg(&path),
        "xmllint",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn junitparser_reads_the_right_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    std::fs::write(&path, render(&sample_events())).unwrap();
    let script = r#"
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
for s in xml:
    print(s.name, s.tests, s.failures, s.errors, s.skipped, round(s.time, 3))
"#;
    let out = tool(
        Command::new("python3").arg("-c").arg(script).arg(&path),
        "python3 with junitparser",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    // good: 2 tests. bad: apply, ring (failure), after (skipped), finally teardown (failure), cleanup (error).
    assert_eq!(lines, ["good 2 0 0 0 3.0", "bad 5 2 1 1 7.0"], "{text}");
}
