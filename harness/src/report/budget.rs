//! Fitting a failed step's output and evidence into a bounded report (JUnit `system-out`).
//! Cutting the middle of the whole text lost exactly the useful parts; instead each section
//! gets a share by how much it explains (the failure itself, then events and container states,
//! then each log's last lines, then object YAML): sections smaller than their share keep
//! everything and leave the rest to the others (weighted max-min fairness), and a section that
//! must be cut keeps its most recent lines. The evidence files on disk stay complete.

use crate::cluster::Evidence;

/// The failure's own output weighs more than any evidence.
const OUTPUT_WEIGHT: usize = 6;

/// `output` then each evidence section under a `===== title =====` header, in at most about
/// `max_chars` characters.
pub fn fit(output: &str, evidence: &[Evidence], max_chars: usize) -> String {
    let headers: Vec<String> = evidence
        .iter()
        .map(|e| format!("\n===== {} =====\n", e.title))
        .collect();
    let header_chars: usize = headers.iter().map(|h| h.chars().count()).sum();
    let mut sections: Vec<(usize, &str)> = vec![(OUTPUT_WEIGHT, output)];
    sections.extend(evidence.iter().map(|e| (e.kind.weight(), e.body.as_str())));
    let needs: Vec<usize> = sections.iter().map(|(_, b)| b.chars().count()).collect();
    let allowed = shares(
        &needs,
        &sections.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
        max_chars.saturating_sub(header_chars),
    );
    let mut out = keep_head_and_tail(output, allowed[0]);
    for (i, e) in evidence.iter().enumerate() {
        out.push_str(&headers[i]);
        out.push_str(&keep_tail(&e.body, allowed[i + 1]));
    }
    out
}

/// How many characters each section may keep: weighted max-min fair shares of `budget`.
fn shares(needs: &[usize], weights: &[usize], budget: usize) -> Vec<usize> {
    let mut allowed = vec![0; needs.len()];
    let mut open: Vec<usize> = (0..needs.len()).filter(|&i| needs[i] > 0).collect();
    let mut left = budget;
    while !open.is_empty() {
        let total_weight: usize = open.iter().map(|&i| weights[i].max(1)).sum();
        let per_weight = left / total_weight;
        let (small, large): (Vec<usize>, Vec<usize>) = open
            .iter()
            .partition(|&&i| needs[i] <= per_weight * weights[i].max(1));
        if small.is_empty() {
            for &i in &large {
                allowed[i] = per_weight * weights[i].max(1);
            }
            break;
        }
        for &i in &small {
            allowed[i] = needs[i];
            left -= needs[i];
        }
        open = large;
    }
    allowed
}

/// The last whole lines of `text` that fit in `max` characters, after a line saying what was
/// cut.
fn keep_tail(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    // Room for the line that says what was cut.
    let room = max.saturating_sub(120);
    let mut kept = 0;
    let mut start = text.len();
    for (at, line) in line_starts(text).into_iter().rev() {
        let chars = line.chars().count();
        if kept + chars > room {
            break;
        }
        kept += chars;
        start = at;
    }
    let cut_lines = text[..start].lines().count();
    format!(
        "[... {cut_lines} earlier line(s), {} characters, cut here; the evidence files hold all of it ...]\n{}",
        total - kept,
        &text[start..]
    )
}

/// The byte offset where each line starts, with the line.
fn line_starts(text: &str) -> Vec<(usize, &str)> {
    let mut out = vec![];
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        out.push((at, line));
        at += line.len();
    }
    out
}

/// The failure output's summary comes first and its latest lines last: keep both ends.
fn keep_head_and_tail(text: &str, max: usize) -> String {
    super::sanitize::truncate_middle(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::EvidenceKind;

    fn numbered(prefix: &str, lines: usize) -> String {
        (0..lines).map(|i| format!("{prefix} line {i}\n")).collect()
    }

    // Layer 1 (pure): a huge object dump and a huge log cannot push the events, the container
    // states or the failure out of a bounded report; each cut section keeps its latest lines.
    #[test]
    fn every_section_keeps_its_most_recent_lines_within_the_bound() {
        let evidence = vec![
            Evidence::new(EvidenceKind::Events, "events", numbered("event", 40)),
            Evidence::new(
                EvidenceKind::ContainerStates,
                "container states",
                "discover (init): waiting: CrashLoopBackOff\n",
            ),
            Evidence::new(
                EvidenceKind::Log,
                "logs galera-0/mariadb",
                numbered("mariadb", 5000),
            ),
            Evidence::new(
                EvidenceKind::Log,
                "logs galera-1/mariadb",
                numbered("other", 3),
            ),
            Evidence::new(
                EvidenceKind::Objects,
                "statefulsets",
                numbered("yaml", 20_000),
            ),
        ];
        let text = fit("galera.sync: galera-1: row missing\n", &evidence, 20_000);
        assert!(text.chars().count() <= 20_000, "{}", text.chars().count());
        assert!(text.starts_with("galera.sync: galera-1: row missing"));
        // Small sections whole.
        assert!(text.contains("event line 0\n") && text.contains("event line 39\n"));
        assert!(text.contains("discover (init): waiting: CrashLoopBackOff"));
        assert!(text.contains("other line 2\n"));
        // Big ones cut from the front: the latest lines stay.
        assert!(text.contains("mariadb line 4999\n") && !text.contains("mariadb line 0\n"));
        assert!(text.contains("yaml line 19999\n") && !text.contains("yaml line 0\n"));
        assert!(text.contains("earlier line(s)"), "{text}");
        // The log gets twice the object dump's share.
        let section = |title: &str| {
            let start = text.find(&format!("===== {title} =====")).unwrap();
            let rest = &text[start + 1..];
            rest[..rest.find("\n=====").unwrap_or(rest.len())].len()
        };
        let (log, yaml) = (section("logs galera-0/mariadb"), section("statefulsets"));
        assert!(log > yaml * 3 / 2, "log {log} yaml {yaml}");
        // Everything fits: nothing is cut.
        let small = fit("out\n", &evidence[..2], 20_000);
        assert!(!small.contains("cut"), "{small}");
    }
}
