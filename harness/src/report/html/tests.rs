//! Layer 1 (pure): a run with passed, failed, timed-out, skipped and cancelled steps, a guard,
//! a fault step and clean-up, rendered and parsed back as XML (the page is well-formed).

use super::*;
use crate::cluster::{Evidence, EvidenceKind};
use crate::report::events::StepInfo;
use quick_xml::Reader;
use quick_xml::events::Event as Xml;

fn info(index: usize, id: &str, kind: &'static str, phase: Phase) -> StepInfo {
    StepInfo {
        index,
        id: id.into(),
        kind,
        description: None,
        phase,
    }
}

fn finished(step: StepInfo, outcome: Outcome, output: &str, evidence: Vec<Evidence>) -> Event {
    Event::StepFinished {
        scenario: "galera-node-loss".into(),
        step,
        outcome,
        duration: Duration::from_millis(5),
        output: output.into(),
        evidence,
    }
}

/// Every element's name with its `class` attribute, and all text, from the page.
fn parse(html: &str) -> (Vec<(String, String)>, String) {
    let body = html.trim_start_matches("<!DOCTYPE html>\n");
    let mut reader = Reader::from_str(body);
    let mut elements = vec![];
    let mut text = String::new();
    loop {
        match reader.read_event().expect("well-formed") {
            Xml::Start(e) | Xml::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let class = e
                    .attributes()
                    .filter_map(Result::ok)
                    .find(|a| a.key.as_ref() == b"class")
                    .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                    .unwrap_or_default();
                for a in e.attributes().filter_map(Result::ok) {
                    let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    let value = String::from_utf8_lossy(&a.value).into_owned();
                    assert!(
                        !(key == "src" || key == "href") || !value.contains("//"),
                        "no fetch: {key}={value}"
                    );
                }
                elements.push((name, class));
            }
            Xml::Text(t) => text.push_str(&t.decode().unwrap()),
            Xml::GeneralRef(r) => {
                text.push_str(match r.as_ref() {
                    b"lt" => "<",
                    b"gt" => ">",
                    b"amp" => "&",
                    b"quot" => "\"",
                    _ => "'",
                });
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    (elements, text)
}

#[test]
fn every_outcome_is_on_the_timeline_and_failures_are_collapsed_with_their_evidence() {
    let mut r = HtmlReporter::new("unused.html".into());
    let hostile = "<script>alert(1)</script> & \"quotes\" \u{1b}[31mred\u{1b}[0m";
    let events = vec![
        Event::RunStarted {
            run_id: "20261123-1800-abcd".into(),
            provider: "kind".into(),
            cluster_version: "v1.33.1".into(),
            scenarios: 1,
            reran: Some("20261122-0300-ffff".into()),
        },
        Event::ScenarioStarted {
            scenario: "galera-node-loss".into(),
            file: "scenarios/galera/node-loss.yaml".into(),
            namespace: "h-galera-node-loss-abcd".into(),
        },
        finished(
            info(0, "apply", "apply", Phase::Main),
            Outcome::Passed,
            "ok",
            vec![],
        ),
        finished(
            info(1, "lose-a-node", "fault", Phase::Main),
            Outcome::Passed,
            "deleted",
            vec![],
        ),
        finished(
            info(2, "writes", "verify", Phase::Main),
            Outcome::Failed {
                message: format!("galera-ss-1: 3 acknowledged write(s) lost {hostile}"),
            },
            &"log line\n".repeat(10_000),
            vec![Evidence::new(
                EvidenceKind::Events,
                "events",
                format!("Warning BackOff {hostile}"),
            )],
        ),
        finished(
            info(3, "status", "verify", Phase::Main),
            Outcome::TimedOut {
                message: "step `status` did not finish within 5m".into(),
            },
            "",
            vec![],
        ),
        finished(
            info(4, "later", "wait", Phase::Main),
            Outcome::Skipped {
                reason: "step `writes` failed".into(),
            },
            "",
            vec![],
        ),
        finished(
            info(0, "dump", "exec", Phase::Finally),
            Outcome::Cancelled {
                message: "cancelled by Ctrl-C / SIGTERM".into(),
            },
            "",
            vec![],
        ),
        finished(
            info(0, "no-restarts", "no_restarts", Phase::Guard),
            Outcome::Failed {
                message: "guard `no-restarts` violated 1 time(s)".into(),
            },
            "+20s Pod/galera-ss-0: restarted",
            vec![],
        ),
        Event::CleanupFinished {
            scenario: "galera-node-loss".into(),
            item: "namespace h-galera-node-loss-abcd".into(),
            outcome: crate::report::events::CleanupOutcome::Failed {
                message: "timed out after 3m".into(),
            },
        },
        Event::ScenarioFinished {
            scenario: "galera-node-loss".into(),
            passed: false,
            duration: Duration::from_secs(90),
        },
        Event::RunFinished {
            duration: Duration::from_secs(95),
            passed: 0,
            failed: 1,
        },
    ];
    for e in &events {
        r.event(e);
    }
    let html = r.render();
    // `HARNESS_HTML_SAMPLE=path` keeps the page, to look at it (scripts/html-screenshot.sh).
    if let Ok(path) = std::env::var("HARNESS_HTML_SAMPLE") {
        std::fs::write(path, &html).unwrap();
    }
    let (elements, text) = parse(&html);
    let bars: Vec<&String> = elements
        .iter()
        .filter(|(n, c)| n == "span" && c.starts_with("bar "))
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        bars,
        vec![
            "bar pass",
            "bar pass fault",
            "bar fail",
            "bar timeout",
            "bar skip",
            "bar cancel",
            "bar fail",
            "bar fail"
        ]
    );
    let rows: Vec<&String> = elements
        .iter()
        .filter(|(n, c)| n == "div" && c.starts_with("row"))
        .map(|(_, c)| c)
        .collect();
    assert!(rows.contains(&&"row finally".to_string()));
    assert!(rows.contains(&&"row guard".to_string()));
    assert!(rows.contains(&&"row cleanup".to_string()));
    // The guard's violation is marked on its bar.
    assert_eq!(elements.iter().filter(|(_, c)| c == "mark").count(), 1);
    // Failed, timed-out, cancelled steps, the guard and the clean-up: collapsed details; the
    // skipped step is not a failure to read.
    let failures = elements
        .iter()
        .filter(|(n, c)| n == "details" && c == "failure")
        .count();
    assert_eq!(failures, 5);
    assert!(!html.contains(" open"), "collapsed by default");
    // Hostile text is text, not markup; ANSI escapes are gone; long output is cut with its
    // head and tail kept.
    assert!(!html.contains("<script>"));
    assert!(
        text.contains("<script>alert(1)</script> & \"quotes\""),
        "{text}"
    );
    assert!(!html.contains('\u{1b}'));
    assert!(html.contains("characters cut"));
    assert!(html.len() < 200_000, "{}", html.len());
    for want in [
        "20261123-1800-abcd",
        "kind",
        "v1.33.1",
        "0 passed, 1 failed",
        "20261122-0300-ffff",
        "scenarios/galera/node-loss.yaml",
        "timed out after 3m",
    ] {
        assert!(text.contains(want), "{want}");
    }
}
