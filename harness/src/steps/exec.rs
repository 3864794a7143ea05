//! `exec`: runs a command in a pod, or in every pod of a selector, and checks its exit code and
//! output (contains / not_contains / regex) in each.

use super::{StepContext, StepFailure, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::{ExecOutput, Selection};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub pod: Option<String>,
    /// Run in every pod matching this label selector.
    pub selector: Option<String>,
    pub container: Option<String>,
    pub command: Vec<String>,
    pub stdin: Option<String>,
    #[serde(default)]
    pub expect: RawExpect,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(default)]
    pub not_contains: Vec<String>,
    #[serde(default)]
    pub regex: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exec {
    pub pods: Selection,
    pub container: Option<String>,
    pub command: Vec<String>,
    pub stdin: Option<String>,
    pub expect: Expect,
}

/// What the output of each pod must show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Expect {
    pub exit_code: i32,
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
    #[serde(serialize_with = "patterns")]
    pub regex: Vec<crate::check::Pattern>,
}

pub(crate) fn patterns<S: serde::Serializer>(
    r: &[crate::check::Pattern],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(r.iter().map(crate::check::Pattern::as_str))
}

pub(crate) fn pattern<S: serde::Serializer>(
    r: &crate::check::Pattern,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.as_str())
}

#[async_trait::async_trait]
impl StepKind for Exec {
    const NAME: &'static str = "exec";
    const DOC: &'static str =
        "Run a command in pods (`pod` or `selector`) and check its exit code and output.";
    const RETRYABLE: bool = true;
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let pods = cx.pods(path, raw.pod.as_ref(), raw.selector.as_ref());
        if raw.command.is_empty() {
            cx.error(&format!("{path}.command"), "the command is empty");
        }
        let exit_code = match i32::try_from(raw.expect.exit_code) {
            Ok(c) if (0..=255).contains(&c) => Some(c),
            _ => {
                cx.error(
                    &format!("{path}.expect.exit_code"),
                    format!("{} is not an exit code (0 to 255)", raw.expect.exit_code),
                );
                None
            }
        };
        for (key, list) in [
            ("contains", &raw.expect.contains),
            ("not_contains", &raw.expect.not_contains),
        ] {
            if let Some(i) = list.iter().position(|t| t.is_empty()) {
                cx.error(
                    &format!("{path}.expect.{key}[{i}]"),
                    "an empty text is in every output: it tells nothing apart",
                );
            }
        }
        let regex = cx.patterns(
            &format!("{path}.expect.regex"),
            &raw.expect.regex,
            crate::check::Judged::Text,
        );
        if raw.command.is_empty() {
            return None;
        }
        Some(Exec {
            pods: pods?,
            container: raw.container,
            command: raw.command,
            stdin: raw.stdin,
            expect: Expect {
                exit_code: exit_code?,
                contains: raw.expect.contains,
                not_contains: raw.expect.not_contains,
                regex: regex?,
            },
        })
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        let pods = ctx.pod_names(&self.pods).await?;
        let mut transcript = String::new();
        let mut problems = vec![];
        for pod in &pods {
            let out = ctx
                .cluster
                .exec(
                    ctx.namespace(),
                    pod,
                    self.container.as_deref(),
                    &self.command,
                    self.stdin.as_deref(),
                )
                .await?;
            let _ = writeln!(
                transcript,
                "--- {pod}: exit {}\n{}{}",
                out.exit_code, out.stdout, out.stderr
            );
            problems.extend(
                check_output(&out, &self.expect)
                    .into_iter()
                    .map(|p| format!("{pod}: {p}")),
            );
        }
        if problems.is_empty() {
            Ok(transcript)
        } else {
            Err(StepFailure::failed(problems.join("; "), transcript))
        }
    }

    fn summary(&self) -> String {
        let place = self.pods.describe();
        format!("exec in {place}: {}", self.command.join(" "))
    }
}

/// Every way the output misses its expectations.
pub fn check_output(out: &ExecOutput, expect: &Expect) -> Vec<String> {
    let mut problems = vec![];
    if out.exit_code != expect.exit_code {
        problems.push(format!(
            "exit code {} (expected {})",
            out.exit_code, expect.exit_code
        ));
    }
    let text = format!("{}{}", out.stdout, out.stderr);
    for needle in &expect.contains {
        if !text.contains(needle.as_str()) {
            problems.push(format!("output does not contain `{needle}`"));
        }
    }
    for needle in &expect.not_contains {
        if text.contains(needle.as_str()) {
            problems.push(format!("output contains `{needle}`"));
        }
    }
    for re in &expect.regex {
        if !re.is_match(&text) {
            problems.push(format!("output does not match /{}/", re.as_str()));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regexes(list: &[&str]) -> Vec<crate::check::Pattern> {
        list.iter()
            .map(|r| crate::check::Pattern::new(r).unwrap())
            .collect()
    }

    // Layer 1 (pure).
    #[test]
    fn checks_exit_code_and_every_expectation() {
        let out = ExecOutput {
            stdout: "UN 10.0.0.1\nUN 10.0.0.2\n".into(),
            stderr: String::new(),
            exit_code: 0,
        };
        let ok = Expect {
            exit_code: 0,
            contains: vec!["UN".into()],
            not_contains: vec!["DN".into()],
            regex: regexes(&[r"(?m)^UN\s+10\.0\.0\.2"]),
        };
        assert!(check_output(&out, &ok).is_empty());
        let bad = Expect {
            exit_code: 1,
            contains: vec!["DN".into()],
            not_contains: vec!["UN".into()],
            regex: regexes(&["^x"]),
        };
        assert_eq!(check_output(&out, &bad).len(), 4);
    }
}
