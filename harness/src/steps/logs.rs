//! `logs`: reads the whole logs of the selected pods (every container, init containers and
//! sidecars included, or one `container`; with `previous: true` also the instances before their
//! last restart) and checks them: every pod's logs must hold each `contains` text and match
//! each `regex`; no log may hold a `not_contains` text. Secret values may be listed under
//! `not_contains` (the password must never be logged): reports mask them like any secret.
//!
//! `since: <step id>` looks only at what was logged since that step started. With `within: 2m`
//! the step also follows the logs (of pods created meanwhile too): it passes as soon as every
//! expected line has appeared, and a `not_contains` text is watched for the whole window.

use super::{StepContext, StepFailure, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::{ContainerLog, Observation, Selection, Watch};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
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
    /// Only what was logged since this main step started.
    pub since: Option<String>,
    /// Follow the logs for up to this long.
    pub within: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    pub pods: Selection,
    pub container: Option<String>,
    pub previous: bool,
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
    #[serde(serialize_with = "super::exec::patterns")]
    pub regex: Vec<crate::check::Pattern>,
    pub since: Option<String>,
    #[serde(serialize_with = "crate::check::opt_duration_text")]
    pub within: Option<Duration>,
}

#[async_trait::async_trait]
impl StepKind for Logs {
    const NAME: &'static str = "logs";
    const DOC: &'static str = "Check the logs of pods' containers (current and `previous`): `contains`, `not_contains`, `regex`, `since` a step, `within` a time.";
    const RETRYABLE: bool = true;
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let pods = cx.pods(path, raw.pod.as_ref(), raw.selector.as_ref());
        let regex = cx.patterns(
            &format!("{path}.regex"),
            &raw.regex,
            crate::check::Judged::Lines,
        );
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
        let within = match &raw.within {
            Some(w) => Some(cx.duration(&format!("{path}.within"), w)?),
            None => None,
        };
        Some(Logs {
            pods: pods?,
            container: raw.container,
            previous: raw.previous,
            contains: raw.contains,
            not_contains: raw.not_contains,
            regex: regex?,
            since: raw.since,
            within,
        })
    }

    fn lasts_at_least(&self) -> Option<(&'static str, Duration)> {
        self.within.map(|w| ("within", w))
    }

    fn step_refs(&self) -> Vec<(&'static str, String)> {
        self.since.iter().map(|id| ("since", id.clone())).collect()
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        let pods = ctx.pod_names(&self.pods).await?;
        // What to look back at: since the named step started (plus a second of clock slack).
        let since = self.since.as_ref().and_then(|id| {
            ctx.state
                .step_started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(id)
                .map(|t| t.elapsed() + Duration::from_secs(1))
        });
        // Follow first, then read what is there, so no line falls between the two.
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let watch = Watch::Logs {
            pods: self.pods.clone(),
            container: self.container.clone(),
        };
        let following = async {
            match self.within {
                Some(_) => ctx.cluster.observe(ctx.namespace(), &watch, tx).await,
                None => Ok(()),
            }
        };
        tokio::pin!(following);
        let mut tally = Tally::new(self, &pods);
        let mut transcript = String::new();
        for pod in &pods {
            let logs: Vec<ContainerLog> = ctx
                .cluster
                .container_logs(ctx.namespace(), pod, self.previous, since)
                .await?
                .into_iter()
                .filter(|l| self.container.as_ref().is_none_or(|c| *c == l.container))
                .collect();
            if logs.is_empty() && self.within.is_none() {
                tally.problems.push(format!(
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
                for line in log.text.lines() {
                    tally.line(&log.pod, &label(log), line);
                }
            }
        }
        if let Some(within) = self.within {
            let deadline = tokio::time::Instant::now() + within;
            let mut followed = 0u64;
            // Expected lines end the wait as soon as they are all seen; forbidden ones are
            // watched for the whole window.
            while !(tally.satisfied() && self.not_contains.is_empty()) {
                tokio::select! {
                    line = rx.recv() => match line {
                        Some(Observation::LogLine { pod, container, line }) => {
                            followed += 1;
                            tally.line(&pod, &format!("{pod}/{container}"), &line);
                        }
                        Some(_) => {}
                        None => break,
                    },
                    ended = &mut following => {
                        ended?;
                    }
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
            let _ = writeln!(
                transcript,
                "followed {followed} new line(s) for up to {}",
                humantime::format_duration(within)
            );
        }
        let problems = tally.problems();
        if problems.is_empty() {
            Ok(transcript)
        } else {
            Err(StepFailure::failed(problems.join("; "), transcript))
        }
    }

    fn summary(&self) -> String {
        let place = self.pods.describe();
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

/// What the logs have shown so far: per required pod the expected texts and patterns not yet
/// seen, and every forbidden text seen (pure; fed line by line).
struct Tally<'a> {
    spec: &'a Logs,
    /// pod -> indexes of `contains` not seen, and of `regex` not matched.
    missing: BTreeMap<String, (BTreeSet<usize>, BTreeSet<usize>)>,
    /// (log label, needle) -> lines holding it.
    forbidden: BTreeMap<(String, usize), usize>,
    problems: Vec<String>,
}

impl<'a> Tally<'a> {
    fn new(spec: &'a Logs, pods: &[String]) -> Self {
        let all = |n: usize| (0..n).collect::<BTreeSet<usize>>();
        Self {
            spec,
            missing: pods
                .iter()
                .map(|p| (p.clone(), (all(spec.contains.len()), all(spec.regex.len()))))
                .collect(),
            forbidden: BTreeMap::new(),
            problems: vec![],
        }
    }

    fn line(&mut self, pod: &str, log: &str, line: &str) {
        if let Some((texts, patterns)) = self.missing.get_mut(pod) {
            texts.retain(|&i| !line.contains(self.spec.contains[i].as_str()));
            patterns.retain(|&i| !self.spec.regex[i].is_match(line));
        }
        for (i, needle) in self.spec.not_contains.iter().enumerate() {
            if line.contains(needle.as_str()) {
                *self.forbidden.entry((log.to_string(), i)).or_default() += 1;
            }
        }
    }

    fn satisfied(&self) -> bool {
        self.missing
            .values()
            .all(|(t, p)| t.is_empty() && p.is_empty())
    }

    fn problems(&self) -> Vec<String> {
        let mut out = self.problems.clone();
        for (pod, (texts, patterns)) in &self.missing {
            for &i in texts {
                out.push(format!(
                    "{pod}: no log line contains `{}`",
                    self.spec.contains[i]
                ));
            }
            for &i in patterns {
                out.push(format!(
                    "{pod}: no log line matches /{}/",
                    self.spec.regex[i].as_str()
                ));
            }
        }
        for ((log, i), hits) in &self.forbidden {
            out.push(format!(
                "{log}: {hits} log line(s) contain `{}`",
                self.spec.not_contains[*i]
            ));
        }
        out
    }
}

/// What one pod's logs miss or hold that they must not (pure).
pub fn judge(spec: &Logs, pod: &str, logs: &[ContainerLog]) -> Vec<String> {
    let mut tally = Tally::new(spec, &[pod.to_string()]);
    for log in logs {
        for line in log.text.lines() {
            tally.line(pod, &label(log), line);
        }
    }
    tally.problems()
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
            regex: vec![crate::check::Pattern::new(r"^WSREP: .*Primary").unwrap()],
            since: None,
            within: None,
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
