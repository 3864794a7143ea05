//! Layer 1 (pure): the sample run (every kind of step result, a guard, a fault, clean-up)
//! rendered and parsed back as XML (the page is well-formed), its structure checked: the
//! failures-first overview linked to the cards, the bars, the marks, the links.

use super::*;
use crate::report::sample;
use quick_xml::Reader;
use quick_xml::events::Event as Xml;

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

/// Every `href` of the page.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn failures_come_first_every_outcome_is_on_the_timeline_and_details_are_linked() {
    let html = render(&sample::run());
    // `HARNESS_HTML_SAMPLE=path` keeps the page, to look at it (scripts/html-screenshot.sh).
    if let Ok(path) = std::env::var("HARNESS_HTML_SAMPLE") {
        std::fs::write(path, &html).unwrap();
    }
    let (elements, text) = parse(&html);
    // The overview comes before any scenario card and names each failed step.
    let overview = html.find("class=\"overview\"").expect("an overview");
    let first_card = html.find("class=\"scenario ").unwrap();
    assert!(overview < first_card);
    let head = &text[..text.find("memcached-pool").unwrap_or(text.len())];
    for want in [
        "1 of 2 scenario(s) did not pass",
        "nothing-acknowledged-lost",
        "galera-ss-1: 3 acknowledged write(s) lost",
        "optional-probe",
        "(continue_on_error)",
        "back-to-three",
        "guard no-restarts",
    ] {
        assert!(
            head.contains(want),
            "{want} missing from the overview: {head}"
        );
    }
    assert!(
        !head.contains("status-after-rejoin"),
        "a pass is not in the overview"
    );
    // Every link of the overview leads to a card or a failure on the page.
    let anchors: Vec<String> = html
        .split("id=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .map(str::to_string)
        .collect();
    let hrefs = links(&html);
    for l in hrefs.iter().filter(|l| l.starts_with('#')) {
        assert!(anchors.contains(&l[1..].to_string()), "dangling link {l}");
    }
    for want in [
        "summary.json",
        "junit.xml",
        "../20261122-0300-ffff/index.html",
        "evidence/galera-node-loss/03-nothing-acknowledged-lost/events.txt",
    ] {
        assert!(
            hrefs.iter().any(|h| h == want),
            "no link to {want}: {hrefs:?}"
        );
    }
    let bars: Vec<&String> = elements
        .iter()
        .filter(|(n, c)| n == "span" && c.starts_with("bar "))
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        bars,
        vec![
            "bar pass",
            "bar pass",
            "bar pass",
            "bar pass fault",
            "bar fail",
            "bar pass",
            "bar fail",
            "bar timeout",
            "bar skip",
            "bar cancel",
            "bar fail",
            "bar workload",
            "bar workload",
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
    // The guard's violation is marked on its bar, typed (not scraped from its output).
    assert_eq!(elements.iter().filter(|(_, c)| c == "mark").count(), 1);
    // The fault's confirmation is its own mark on the fault step's bar, saying what it proved.
    assert_eq!(
        elements.iter().filter(|(_, c)| c == "mark proof").count(),
        1
    );
    assert!(
        html.contains("in effect: galera-ss-1 replaced"),
        "the proof's words"
    );
    // Retried, continue_on_error and skipped steps are marked; descriptions are shown.
    for want in [
        "passed on attempt 3",
        "continue_on_error",
        "skipped",
        "A Galera pod deleted while writers run.",
        "Every acknowledged write on every node.",
    ] {
        assert!(text.contains(want), "{want}");
    }
    // Failed, timed-out, cancelled steps, the guard and the clean-up: collapsed details; the
    // skipped step is not a failure to read.
    let failures = elements
        .iter()
        .filter(|(n, c)| n == "details" && c == "failure")
        .count();
    assert_eq!(failures, 6);
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
    assert!(html.len() < 250_000, "{}", html.len());
    // Long tokens wrap, and narrow screens get a narrower label column.
    assert!(html.contains("overflow-wrap:anywhere") && html.contains("@media (max-width:700px)"));
    // Short steps are not "0.0s".
    assert!(!text.contains("0.0s"));
    for want in [
        "20261123-1800-abcd",
        "kind",
        "v1.33.1",
        "1 passed, 1 failed",
        "scenarios/galera/node-loss.yaml",
        "timed out after 3m",
    ] {
        assert!(text.contains(want), "{want}");
    }
}

// A workload is drawn on the scenario's axis: its row starts where the step that started it
// started (plus the delay), and each longest stretch without an acknowledged write is a red
// gap with its figures in the title; names from the cluster are escaped; the figures table.
#[test]
fn a_workload_and_its_unavailability_are_on_the_timeline() {
    let html = render(&sample::run());
    let (elements, text) = parse(&html);
    let rows = elements
        .iter()
        .filter(|(n, c)| n == "div" && c == "row workload")
        .count();
    assert_eq!(rows, 2, "overall and one node");
    assert_eq!(
        elements
            .iter()
            .filter(|(n, c)| n == "span" && c == "gap")
            .count(),
        2
    );
    assert!(text.contains("workload writes · 304.0 writes/s"), "{text}");
    assert!(
        html.contains("title=\"overall: no acknowledged write for 1.2 s (+6.0 s to +7.2 s after the workload started)\""),
        "{}",
        &html[html.find("row workload").unwrap_or(0)..][..1500.min(html.len() - html.find("row workload").unwrap_or(0))]
    );
    assert!(!html.contains("<script"), "hostile names escaped");
    assert!(text.contains("figures of nothing-acknowledged-lost"));
    assert!(text.contains("overall.p99_ms") && text.contains("41.200"));
}

// Layer 1 (pure): a workload's throughput and latency over time are drawn, overall and per
// node, with the fault steps shaded; self-contained, every name escaped.
#[test]
fn a_workload_is_plotted_over_time_with_its_faults_shaded() {
    let html = render(&sample::run());
    let (elements, _) = parse(&html);
    let count = |name: &str, class: &str| {
        elements
            .iter()
            .filter(|(n, c)| n == name && c == class)
            .count()
    };
    assert_eq!(count("svg", "plot"), 2, "throughput and latency");
    assert_eq!(count("rect", "fault"), 2, "the fault step, on each plot");
    assert_eq!(
        html.matches("<polyline").count(),
        4,
        "overall and one node, twice"
    );
    assert!(
        html.contains("<title>fault `lose-a-node`</title>"),
        "{html}"
    );
    assert!(html.contains("acknowledged writes/s (top 300;"), "{html}");
    assert!(
        html.contains("slowest acknowledged write (ms) (top 900;"),
        "{html}"
    );
    // The overall line drops to 0 in second 6: its point there is at the bottom.
    let overall = &html[html.find("<polyline").unwrap()..];
    let points = &overall[overall.find("points=\"").unwrap() + 8..];
    let point6 = points.split(' ').nth(6).unwrap();
    assert!(point6.ends_with(",120.0"), "{point6}");
    assert!(!html.contains("<script"), "hostile names escaped");
}

/// Every `left:X%;width:Y%` of the page, as numbers.
fn placements(html: &str) -> Vec<(f64, f64)> {
    html.split("left:")
        .skip(1)
        .filter_map(|rest| {
            let (left, rest) = rest.split_once('%')?;
            let width = rest.strip_prefix(";width:")?.split_once('%')?.0;
            Some((left.parse().ok()?, width.parse().ok()?))
        })
        .collect()
}

// Layer 1 (pure): the page is drawn from a summary, which a real run (a node's final gap) or
// another machine can fill with any numbers: a gap in the last 0.4% of the axis, a gap that
// ends before it starts, a workload longer than the run, a run of no length. Every bar stays
// on the axis and nothing panics.
#[test]
fn bars_stay_on_the_axis_whatever_the_numbers() {
    for (from, to, ran_for, duration) in [
        (29.99, 30.0, 30.0, 30.0),
        (30.0, 30.0, 30.0, 30.0),
        (20.0, 10.0, 30.0, 30.0),
        (0.0, 1e9, 1e9, 0.0),
        (1e9, 1e9, 0.0, 0.0),
    ] {
        let mut run = sample::run();
        run.duration_secs = duration;
        for s in &mut run.scenarios {
            for st in &mut s.steps {
                for w in &mut st.workloads {
                    w.ran_for_secs = ran_for;
                    for u in &mut w.unavailable {
                        u.from_secs = from;
                        u.to_secs = to;
                    }
                }
            }
        }
        let html = render(&run);
        let placed = placements(&html);
        assert!(placed.len() > 5, "{placed:?}");
        for (left, width) in placed {
            assert!(
                (0.0..=100.0).contains(&left) && width > 0.0 && left + width <= 100.0 + 1e-6,
                "({from}, {to}, {ran_for}, {duration}): left {left} width {width}"
            );
        }
    }
}

// Layer 1 (pure): a browser reads the page. An evidence file named like a script URL is no
// link; a bidi override in a name is shown, not obeyed (it would reorder the page).
#[test]
fn links_are_relative_files_only_and_bidi_controls_are_shown() {
    let mut run = sample::run();
    for s in &mut run.scenarios {
        s.name = format!("{}\u{202e}evil", s.name);
        for st in &mut s.steps {
            for f in &mut st.evidence_files {
                *f = "javascript:alert(document.cookie)".into();
            }
        }
    }
    let html = render(&run);
    assert!(
        !html.contains("href=\"javascript"),
        "a script URL became a link"
    );
    assert!(!html.contains('\u{202e}'));
    assert!(html.contains("\\u{202e}evil"));
    for link in links(&html) {
        assert!(
            !link.contains(':') && !link.starts_with('/'),
            "not a relative file: {link}"
        );
    }
    assert_eq!(
        super::href("evidence/a b.txt").as_deref(),
        Some("evidence/a%20b.txt")
    );
    assert_eq!(
        super::href("../run-1/index.html").as_deref(),
        Some("../run-1/index.html")
    );
    for bad in [
        "javascript:alert(1)",
        "/etc/passwd",
        "//evil.example/x",
        "a/../../b",
        "",
        "../../x",
    ] {
        assert_eq!(super::href(bad), None, "{bad}");
    }
}
