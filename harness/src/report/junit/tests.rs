//! JUnit output checked by independent consumers: xmllint against the Jenkins xUnit schema,
//! junitparser for the counts and for the failure text GitLab shows (the `<failure>` element's
//! text, not `system-out`), and junit2html's rendering (layer 1: pure, but needs `xmllint` and
//! python with `junitparser` and `junit2html`, which `scripts/install-test-deps.sh` installs).

use super::*;
use crate::report::sample;
use std::path::Path;
use std::process::Command;

fn schema() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/junit/jenkins-xunit-junit-10.xsd")
}

fn tool(cmd: &mut Command, what: &str) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("{what} is needed for this test ({e}); run scripts/install-test-deps.sh")
    })
}

/// The python the test dependencies were installed into (`target/test-python`), else python3.
fn python() -> std::path::PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-python/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

fn written() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    std::fs::write(&path, render(&sample::run())).unwrap();
    (dir, path)
}

#[test]
fn cases_are_named_by_step_id_and_failures_carry_their_reason_bounded_and_clean() {
    let xml = render(&sample::run());
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}') && !xml.contains('\u{7}'));
    assert!(
        xml.len() < 3 * MAX_OUTPUT_CHARS + 40_000,
        "output not bounded: {} bytes",
        xml.len()
    );
    for name in [
        r#"name="nothing-acknowledged-lost""#,
        r#"name="status-after-rejoin""#,
        r#"name="dump""#,
        r#"name="guard no-restarts""#,
        r#"name="clean-up""#,
    ] {
        assert!(xml.contains(name), "{name}");
    }
    assert!(!xml.contains(r#"name="03 "#), "no numbered names");
    assert!(
        xml.contains(r#"type="workload""#),
        "the verifier is the failure's type"
    );
    assert!(xml.contains(r#"<property name="provider" value="kind"/>"#));
    assert!(xml.contains(r#"<property name="reran" value="20261122-0300-ffff"/>"#));
    assert!(xml.contains("characters cut"));
    assert!(xml.contains("===== pod galera-ss-1/mariadb log (previous) ====="));
    assert!(
        !xml[..xml.find("<testsuite ").unwrap()].contains("skipped="),
        "testsuites must not carry `skipped`"
    );
}

#[test]
fn report_validates_against_the_jenkins_xunit_schema() {
    let (_dir, path) = written();
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

// What GitLab shows for a failed test is the text of its `<failure>` element; junitparser reads
// it the same way. Every failure has its reason there, and the counts are right.
#[test]
fn junitparser_reads_the_counts_and_the_failure_text_gitlab_shows() {
    let (_dir, path) = written();
    let script = r#"
import sys
from junitparser import JUnitXml, Failure, Error
xml = JUnitXml.fromfile(sys.argv[1])
for s in xml:
    print("SUITE", s.name, s.tests, s.failures, s.errors, s.skipped, round(s.time, 3))
    for case in s:
        for r in case.result:
            if isinstance(r, (Failure, Error)):
                text = (r.text or "").strip().splitlines()
                print("CASE", case.name, "|", r.type, "|", text[0] if text else "<empty>")
"#;
    let out = tool(
        Command::new(python()).arg("-c").arg(script).arg(&path),
        "python with junitparser",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let suites: Vec<&str> = text.lines().filter(|l| l.starts_with("SUITE")).collect();
    // node-loss: 9 steps and guards (4 failures: the lost writes, the optional probe, the timeout,
    // the cancelled finally step, and the guard = 5), the skipped step, and the clean-up (error).
    assert_eq!(
        suites,
        [
            "SUITE memcached-pool 2 0 0 0 3.0",
            "SUITE galera-node-loss 10 5 1 1 90.0"
        ],
        "{text}"
    );
    for want in [
        "CASE nothing-acknowledged-lost | workload | FAIL nothing-acknowledged-lost (workload): galera-ss-1: 3 acknowledged write(s) lost",
        "CASE back-to-three | wait | TIMEOUT back-to-three: step `back-to-three` did not finish within 5m: last seen: 2/3 ready",
        "CASE guard no-restarts | no_restarts | FAIL no-restarts: guard `no-restarts` violated 1 time(s)",
        "CASE clean-up | cleanup | namespace h-galera-node-loss-abcd: timed out after 3m",
    ] {
        assert!(text.lines().any(|l| l.starts_with(want)), "{want}\n{text}");
    }
    assert!(!text.contains("<empty>"), "a failure without text: {text}");
}

// junit2html renders the failure's reason and the evidence paths.
#[test]
fn junit2html_shows_why_a_step_failed() {
    let (dir, path) = written();
    let html = dir.path().join("junit.html");
    let out = tool(
        Command::new(python())
            .args(["-m", "junit2htmlreport"])
            .arg(&path)
            .arg(&html),
        "python with junit2html",
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("3 acknowledged write(s) lost"),
        "reason missing"
    );
    assert!(
        page.contains("evidence/galera-node-loss/03-nothing-acknowledged-lost/events.txt"),
        "evidence path missing"
    );
}

// What a step measured is a property of its scenario's suite, named `<step id>.<figure>`, and
// junitparser reads it back (the schema test above validates the same file).
#[test]
fn a_workload_s_figures_are_suite_properties() {
    let xml = render(&sample::run());
    assert!(
        xml.contains(
            r#"<property name="nothing-acknowledged-lost.overall.p99_ms" value="41.200"/>"#
        ),
        "{}",
        &xml[..xml.len().min(3000)]
    );
    let (_dir, path) = written();
    let script = r#"
import sys
from junitparser import JUnitXml
for suite in JUnitXml.fromfile(sys.argv[1]):
    for p in suite.properties():
        if p.name.startswith('nothing-acknowledged-lost.'):
            print(p.name, p.value)
"#;
    let out = tool(
        Command::new(python()).arg("-c").arg(script).arg(&path),
        "python with junitparser",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("nothing-acknowledged-lost.galera-ss-1.longest_unavailable_s 38.100"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// Layer 1 (xmllint): a run id, scenario name, step id and figure name holding characters
// XML 1.0 cannot hold (U+FFFE, U+FFFF, control characters; a merged summary can carry any)
// still give a well-formed file a CI system can read.
#[test]
fn names_holding_non_xml_characters_still_give_well_formed_xml() {
    let mut run = sample::run();
    let bad = "x\u{fffe}\u{ffff}\u{1}\u{b}y";
    run.run_id = format!("run{bad}");
    run.partition = Some(format!("1/2{bad}"));
    for s in &mut run.scenarios {
        s.name = format!("{}{bad}", s.name);
        for st in &mut s.steps {
            st.id = format!("{}{bad}", st.id);
            for f in &mut st.figures {
                f.name = format!("{}{bad}", f.name);
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    std::fs::write(&path, render(&run)).unwrap();
    let out = tool(Command::new("xmllint").arg("--noout").arg(&path), "xmllint");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&path).unwrap().contains("runxy"));
}
