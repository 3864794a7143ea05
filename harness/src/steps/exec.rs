//! `exec`: runs a command in a pod, or in every pod of a selector, and checks its exit code and
//! output (contains / not_contains / regex) in each.

use super::{StepContext, StepFailure, StepResult};
use crate::exec::ExecOutput;
use crate::scenario::raw::{ExecExpect, ExecSpec};
use std::fmt::Write as _;

pub async fn run(spec: &ExecSpec, ctx: &StepContext<'_>) -> StepResult {
    let pods = match (&spec.pod, &spec.selector) {
        (Some(pod), _) => vec![pod.clone()],
        (None, Some(selector)) => {
            let pods = ctx.cluster.list_pods(ctx.namespace(), selector).await?;
            if pods.is_empty() {
                return Err(StepFailure::failed(
                    format!("no pod matches `{selector}`"),
                    "",
                ));
            }
            pods.into_iter().map(|p| p.name).collect()
        }
        (None, None) => {
            return Err(StepFailure::failed(
                "exec names neither a pod nor a selector",
                "",
            ));
        }
    };
    let mut transcript = String::new();
    let mut problems = vec![];
    for pod in &pods {
        let out = ctx
            .cluster
            .exec(
                ctx.namespace(),
                pod,
                spec.container.as_deref(),
                &spec.command,
                spec.stdin.as_deref(),
            )
            .await?;
        let _ = writeln!(
            transcript,
            "--- {pod}: exit {}\n{}{}",
            out.exit_code, out.stdout, out.stderr
        );
        problems.extend(
            check(&out, &spec.expect)
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

/// Every way the output misses its expectations.
pub fn check(out: &ExecOutput, expect: &ExecExpect) -> Vec<String> {
    let mut problems = vec![];
    if i64::from(out.exit_code) != expect.exit_code {
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
    for pattern in &expect.regex {
        match regex::Regex::new(pattern) {
            Ok(re) if re.is_match(&text) => {}
            Ok(_) => problems.push(format!("output does not match /{pattern}/")),
            Err(e) => problems.push(format!("bad regex /{pattern}/: {e}")),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn checks_exit_code_and_every_expectation() {
        let out = ExecOutput {
            stdout: "UN 10.0.0.1\nUN 10.0.0.2\n".into(),
            stderr: String::new(),
            exit_code: 0,
        };
        let ok = ExecExpect {
            exit_code: 0,
            contains: vec!["UN".into()],
            not_contains: vec!["DN".into()],
            regex: vec![r"(?m)^UN\s+10\.0\.0\.2".into()],
        };
        assert!(check(&out, &ok).is_empty());
        let bad = ExecExpect {
            exit_code: 1,
            contains: vec!["DN".into()],
            not_contains: vec!["UN".into()],
            regex: vec!["^x".into()],
        };
        assert_eq!(check(&out, &bad).len(), 4);
    }
}
