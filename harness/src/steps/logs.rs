//! `logs`: reads the whole logs of the selected pods (every container, init containers and
//! sidecars included, or one `container`; with `previous: true` also the instances before their
//! last restart) and checks them: every pod's logs must hold each `contains` text and match
//! each `regex`; no log may hold a `not_contains` text. Secret values may be listed under
//! `not_contains` (the password must never be logged): reports mask them like any secret.
//!
//! It checks the logs as they are when the step runs; following a log until a line appears
//! (`within`) is not built yet.

use super::{StepContext, StepFailure, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::{ContainerLog, Selection};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub pod: Option<String>,
    pub selector: Option<String>,
    /// One container; every container when absent.
    pub container: Option<String>,
    /// Also the logs of previous container instances.
    #[serde(default)]
    pub previous: bool,
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(default)]
    pub not_contains: Vec<String>,
    #[serde(default)]
    pub regex: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    pub pods: Selection,
    pub container: Option<String>,
    pub previous: bool,
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
    #[serde(serialize_with = "super::exec::patterns")]
    pub regex: Vec<regex::Regex>,
}

#[async_trait::async_trait]
impl StepKind for Logs {
    const NAME: &'static str = "logs";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let one = cx.exactly_one(
            path,
            &[
                ("pod", raw.pod.is_some()),
                ("selector", raw.selector.is_some()),
            ],
        );
        let selector = match &raw.selector {
            Some(sel) => cx.selector(&format!("{path}.selector"), sel),
            None => None,
        };
        let mut regex = vec![];
        for (i, re) in raw.regex.iter().enumerate() {
            match regex::Regex::new(re) {
                Ok(r) => regex.push(r),
                Err(e) => cx.error(
                    &format!("{path}.regex[{i}]"),
                    format!("invalid regular expression: {e}"),
                ),
            }
        }
        for (key, list) in [
            ("contains", &raw.contains),
            ("not_contains", &raw.not_contains),
        ] {
            if let Some(i) = list.iter().position(|t| t.is_empty()) {
                cx.error(
                    &format!("{path}.{key}[{i}]"),
                    "an empty text would match every log",
                );
            }
        }
        if raw.contains.is_empty() && raw.not_contains.is_empty() && raw.regex.is_empty() {
            cx.error(
                path,
                "checks nothing: give `contains`, `not_contains` or `regex`",
            );
            return None;
        }
        if !one || regex.len() != raw.regex.len() {
            return None;
        }
        let pods = match raw.pod {
            Some(pod) => Selection::Name(pod),
            None => Selection::Selector(selector?),
        };
        Some(Logs {
            pods,
            container: raw.container,
            previous: raw.previous,
            contains: raw.contains,
            not_contains: raw.not_contains,
            regex,
        })
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        let pods = match &self.pods {
            Selection::Name(pod) => vec![pod.clone()],
            Selection::Selector(selector) => {
                let pods = ctx.cluster.list_pods(ctx.namespace(), selector).await?;
                if pods.is_empty() {
                    return Err(StepFailure::failed(
                        format!("no pod matches `{selector}`"),
                        "",
                    ));
                }
                pods.into_iter().map(|p| p.name).collect()
            }
        };
        let mut transcript = String::new();
        let mut problems = vec![];
        for pod in &pods {
            let logs: Vec<ContainerLog> = ctx
                .cluster
                .container_logs(ctx.namespace(), pod, self.previous)
                .await?
                .into_iter()
                .filter(|l| self.container.as_ref().is_none_or(|c| *c == l.container))
                .collect();
            if logs.is_empty() {
                problems.push(format!(
                    "{pod}: no log of {}",
                    self.container
                        .as_ref()
                        .map_or("any container".to_string(), |c| format!("container `{c}`"))
                ));
                continue;
            }
            for log in &logs {
                let _ = writeln!(
                    transcript,
                    "{}: {} line(s) read",
                    label(log),
                    log.text.lines().count()
                );
            }
            problems.extend(judge(self, pod, &logs));
        }
        if problems.is_empty() {
            Ok(transcript)
        } else {
            Err(StepFailure::failed(problems.join("; "), transcript))
        }
    }

    fn summary(&self) -> String {
        let place = match &self.pods {
            Selection::Name(pod) => pod.clone(),
            Selection::Selector(s) => format!("every pod of {s}"),
        };
        format!(
            "check the logs of {place}{}",
            self.container
                .as_ref()
                .map_or(String::new(), |c| format!(" ({c})"))
        )
    }
}

fn label(log: &ContainerLog) -> String {
    format!(
        "{}/{}{}",
        log.pod,
        log.container,
        if log.previous { " (previous)" } else { "" }
    )
}

/// What one pod's logs miss or hold that they must not (pure).
pub fn judge(spec: &Logs, pod: &str, logs: &[ContainerLog]) -> Vec<String> {
    let mut problems = vec![];
    for needle in &spec.contains {
        if !logs.iter().any(|l| l.text.contains(needle.as_str())) {
            problems.push(format!("{pod}: no log line contains `{needle}`"));
        }
    }
    for re in &spec.regex {
        if !logs
            .iter()
            .any(|l| l.text.lines().any(|line| re.is_match(line)))
        {
            problems.push(format!("{pod}: no log line matches /{}/", re.as_str()));
        }
    }
    for needle in &spec.not_contains {
        for log in logs {
            let hits = log
                .text
                .lines()
                .filter(|l| l.contains(needle.as_str()))
                .count();
            if hits > 0 {
                problems.push(format!(
                    "{}: {hits} log line(s) contain `{needle}`",
                    label(log)
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(container: &str, previous: bool, text: &str) -> ContainerLog {
        ContainerLog {
            pod: "galera-ss-0".into(),
            container: container.into(),
            previous,
            text: text.into(),
        }
    }

    // Layer 1 (pure): each expectation is judged over every container of the pod; a forbidden
    // text is named with the container (previous instances too) and how many lines hold it.
    #[test]
    fn judges_presence_absence_and_patterns_per_container() {
        let spec = Logs {
            pods: Selection::Name("galera-ss-0".into()),
            container: None,
            previous: true,
            contains: vec!["Synchronized with group".into()],
            not_contains: vec!["hunter2".into()],
            regex: vec![regex::Regex::new(r"^WSREP: .*Primary").unwrap()],
        };
        let good = [
            log("discover", false, "registered peers: none\n"),
            log(
                "mariadb",
                false,
                "WSREP: view Primary\nWSREP: Synchronized with group\n",
            ),
        ];
        assert!(judge(&spec, "galera-ss-0", &good).is_empty());
        let bad = [
            log("mariadb", false, "auth root:hunter2\n"),
            log("mariadb", true, "sst root:hunter2\nagain hunter2\n"),
        ];
        assert_eq!(
            judge(&spec, "galera-ss-0", &bad),
            vec![
                "galera-ss-0: no log line contains `Synchronized with group`",
                "galera-ss-0: no log line matches /^WSREP: .*Primary/",
                "galera-ss-0/mariadb: 1 log line(s) contain `hunter2`",
                "galera-ss-0/mariadb (previous): 2 log line(s) contain `hunter2`",
            ]
        );
    }
}
