//! The plan: a validated scenario with everything resolved (concrete timeouts, the namespace
//! name, rendered manifests, variables substituted in every step, the clean-up policy). Building
//! it does no IO; printing it never shows a secret.

use crate::manifest::{self, Manifest};
use crate::scenario::model::{ClusterNeeds, Scale};
use crate::scenario::raw::{DeleteSpec, ExecSpec, FaultSpec, WaitSpec};
use crate::scenario::{Action, Scenario, Step};
use crate::vars::{self, Values};
use crate::verify::VerifySpec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CleanupPolicy {
    /// `--keep`: never delete what the scenario created.
    pub keep: bool,
    /// `--keep-on-failure`: keep the namespace of a failed scenario for inspection.
    pub keep_on_failure: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioPlan {
    pub name: String,
    pub file: PathBuf,
    pub description: String,
    pub tags: Vec<String>,
    pub run_id: String,
    /// Empty for scenarios that need no cluster.
    pub namespace: String,
    pub cluster: ClusterNeeds,
    #[serde(with = "humantime_serde_secs")]
    pub deadline: Duration,
    pub cleanup: CleanupPolicy,
    pub steps: Vec<PlannedStep>,
    pub finally: Vec<PlannedStep>,
    /// Values to mask in every output; never serialized.
    #[serde(skip)]
    pub secrets: Vec<String>,
    /// Resolved variables (secret ones excluded), for verifiers that read them by name.
    #[serde(skip)]
    pub values: Values,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub kind: &'static str,
    pub description: Option<String>,
    #[serde(with = "humantime_serde_secs")]
    pub timeout: Duration,
    pub continue_on_error: bool,
    pub action: PlannedAction,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedAction {
    Apply(Vec<Manifest>),
    Delete(DeleteSpec),
    Scale(Scale),
    Wait(WaitSpec),
    Exec(ExecSpec),
    Fault(FaultSpec),
    Verify(Box<VerifySpec>),
    Sleep(#[serde(with = "humantime_serde_secs")] Duration),
}

mod humantime_serde_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{file}: {message}")]
    Render { file: String, message: String },
}

/// Namespace names are DNS labels: at most 63 characters.
pub fn namespace_name(scenario: &str, run_id: &str) -> String {
    let suffix: String = run_id
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = scenario.chars().take(63 - 3 - suffix.len()).collect();
    format!(
        "h-{}-{}",
        head.trim_end_matches('-'),
        suffix.to_ascii_lowercase()
    )
}

/// Builds the plan of one validated scenario. `values` are its resolved variables.
pub fn plan(
    scenario: &Scenario,
    values: &Values,
    run_id: &str,
    cleanup: CleanupPolicy,
) -> Result<ScenarioPlan, PlanError> {
    let namespace = if scenario.cluster.required {
        namespace_name(&scenario.name, run_id)
    } else {
        String::new()
    };
    let mut all = values.clone();
    all.values.insert("namespace".into(), namespace.clone());
    all.values.insert("run_id".into(), run_id.to_string());
    all.values.insert("scenario".into(), scenario.name.clone());
    let lookup = |n: &str| all.get(n).map(str::to_string);
    let plan_steps = |steps: &[Step]| -> Result<Vec<PlannedStep>, PlanError> {
        steps
            .iter()
            .map(|s| plan_step(scenario, s, &lookup))
            .collect()
    };
    Ok(ScenarioPlan {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        description: scenario.description.clone(),
        tags: scenario.tags.clone(),
        run_id: run_id.to_string(),
        namespace,
        cluster: scenario.cluster.clone(),
        deadline: scenario.timeouts.scenario,
        cleanup,
        steps: plan_steps(&scenario.steps)?,
        finally: plan_steps(&scenario.finally)?,
        secrets: values.secret_values(),
        values: all,
    })
}

fn render_err(file: &str, message: impl Into<String>) -> PlanError {
    PlanError::Render {
        file: file.to_string(),
        message: message.into(),
    }
}

/// Substitutes variables in every string of a spec.
pub fn render<T: Serialize + DeserializeOwned>(
    spec: &T,
    lookup: &dyn Fn(&str) -> Option<String>,
    at: &str,
) -> Result<T, PlanError> {
    fn walk(
        v: &mut serde_json::Value,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), String> {
        match v {
            serde_json::Value::String(s) => {
                *s = vars::substitute(s, lookup)
                    .map_err(|u| format!("unknown variable `${{{}}}`", u[0].name))?;
            }
            serde_json::Value::Array(a) => a.iter_mut().try_for_each(|x| walk(x, lookup))?,
            serde_json::Value::Object(o) => o.values_mut().try_for_each(|x| walk(x, lookup))?,
            _ => {}
        }
        Ok(())
    }
    let mut value = serde_json::to_value(spec).map_err(|e| render_err(at, e.to_string()))?;
    walk(&mut value, lookup).map_err(|e| render_err(at, e))?;
    serde_json::from_value(value).map_err(|e| render_err(at, e.to_string()))
}

fn plan_step(
    scenario: &Scenario,
    step: &Step,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<PlannedStep, PlanError> {
    let kind = step.action.kind();
    let timeout = step.timeout.unwrap_or_else(|| {
        scenario
            .timeouts
            .per_kind
            .get(kind)
            .copied()
            .unwrap_or(Duration::from_secs(300))
    });
    let at = format!("{}: {}", scenario.file.display(), step.path);
    let action = match &step.action {
        Action::Apply(sources) => {
            let mut manifests = vec![];
            for source in sources {
                let text = vars::substitute(&source.text, lookup).map_err(|u| {
                    render_err(
                        &source.origin,
                        format!("unknown variable `${{{}}}`", u[0].name),
                    )
                })?;
                let (objects, problems) = manifest::parse_documents(&source.origin, &text);
                if let Some(p) = problems.first() {
                    return Err(render_err(&source.origin, p.message.clone()));
                }
                manifests.extend(objects);
            }
            PlannedAction::Apply(manifests)
        }
        Action::Delete(s) => PlannedAction::Delete(render(s, lookup, &at)?),
        Action::Scale(s) => {
            let name = vars::substitute(&s.name, lookup)
                .map_err(|u| render_err(&at, format!("unknown variable `${{{}}}`", u[0].name)))?;
            PlannedAction::Scale(Scale { name, ..s.clone() })
        }
        Action::Wait(s) => PlannedAction::Wait(render(s, lookup, &at)?),
        Action::Exec(s) => PlannedAction::Exec(render(s, lookup, &at)?),
        Action::Fault(s) => PlannedAction::Fault(render(s, lookup, &at)?),
        Action::Verify(s) => PlannedAction::Verify(Box::new(render(s.as_ref(), lookup, &at)?)),
        Action::Sleep(d) => PlannedAction::Sleep(*d),
    };
    Ok(PlannedStep {
        id: step.id.clone(),
        kind,
        description: step.description.clone(),
        timeout,
        continue_on_error: step.continue_on_error,
        action,
    })
}

impl PlannedStep {
    /// One line saying what the step does.
    pub fn summary(&self) -> String {
        match &self.action {
            PlannedAction::Apply(m) => {
                let objects: Vec<String> = m
                    .iter()
                    .map(|m| format!("{}/{}", m.kind(), m.name()))
                    .collect();
                format!("apply {} object(s): {}", m.len(), objects.join(", "))
            }
            PlannedAction::Delete(d) => format!(
                "delete {} {}",
                d.kind,
                d.name
                    .clone()
                    .or(d.selector.as_ref().map(|s| format!("-l {s}")))
                    .unwrap_or_default()
            ),
            PlannedAction::Scale(s) => {
                format!("scale {}/{} to {}", s.kind.as_str(), s.name, s.replicas)
            }
            PlannedAction::Wait(w) => {
                format!("wait {}", serde_json::to_string(w).unwrap_or_default())
            }
            PlannedAction::Exec(e) => format!(
                "exec in {}: {}",
                e.pod
                    .clone()
                    .or(e.selector.as_ref().map(|s| format!("every pod of {s}")))
                    .unwrap_or_default(),
                e.command.join(" ")
            ),
            PlannedAction::Fault(f) => {
                format!("fault {}", serde_json::to_string(f).unwrap_or_default())
            }
            PlannedAction::Verify(v) => format!("verify {}", v.name()),
            PlannedAction::Sleep(d) => format!("sleep {}", humantime::format_duration(*d)),
        }
    }
}

/// Secret manifests show their keys but never their values.
fn redact_manifest(m: &Manifest) -> serde_json::Value {
    let mut object = m.object.clone();
    if m.kind() == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(map) = object.get_mut(field).and_then(|d| d.as_object_mut()) {
                for v in map.values_mut() {
                    *v = serde_json::Value::String("<redacted>".into());
                }
            }
        }
    }
    object
}

impl ScenarioPlan {
    /// The readable form `harness plan` prints; with `manifests`, the rendered objects too.
    pub fn render_text(&self, manifests: bool) -> String {
        let redactor = crate::redact::Redactor::new(self.secrets.clone());
        let mut out = String::new();
        let _ = writeln!(out, "scenario {} ({})", self.name, self.file.display());
        if !self.description.is_empty() {
            let _ = writeln!(out, "  {}", self.description.trim());
        }
        let _ = writeln!(
            out,
            "  tags: {}",
            if self.tags.is_empty() {
                "-".into()
            } else {
                self.tags.join(", ")
            }
        );
        if self.cluster.required {
            let _ = writeln!(out, "  namespace: {}", self.namespace);
            let _ = writeln!(
                out,
                "  cluster: {} worker node(s){}",
                self.cluster.workers,
                version_range(&self.cluster)
            );
        } else {
            let _ = writeln!(out, "  cluster: none (static endpoints)");
        }
        let _ = writeln!(
            out,
            "  deadline: {}",
            humantime::format_duration(self.deadline)
        );
        let cleanup = if self.cleanup.keep {
            "keep everything (--keep)"
        } else if self.cleanup.keep_on_failure {
            "delete what was created, last first; keep it if the scenario fails"
        } else {
            "delete what was created, last first, whatever the outcome"
        };
        let _ = writeln!(out, "  cleanup: {cleanup}");
        for (title, steps) in [("steps", &self.steps), ("finally", &self.finally)] {
            if steps.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  {title}:");
            for (i, s) in steps.iter().enumerate() {
                let flags = if s.continue_on_error {
                    ", continue on error"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "    {:>2}. {} [timeout {}{flags}]",
                    i + 1,
                    s.id,
                    humantime::format_duration(s.timeout)
                );
                let _ = writeln!(out, "        {}", s.summary());
                if let Some(d) = &s.description {
                    let _ = writeln!(out, "        # {}", d.trim());
                }
                if manifests && let PlannedAction::Apply(list) = &s.action {
                    for m in list {
                        let yaml = serde_yaml::to_string(&redact_manifest(m)).unwrap_or_default();
                        let _ = writeln!(out, "        --- # {}", m.origin);
                        for line in yaml.lines() {
                            let _ = writeln!(out, "        {line}");
                        }
                    }
                }
            }
        }
        redactor.redact(&out)
    }
}

fn version_range(c: &ClusterNeeds) -> String {
    let v = |x: Option<(u32, u32)>| x.map(|(a, b)| format!("{a}.{b}"));
    match (v(c.kubernetes_min), v(c.kubernetes_max)) {
        (None, None) => String::new(),
        (Some(a), None) => format!(", Kubernetes >= {a}"),
        (None, Some(b)) => format!(", Kubernetes <= {b}"),
        (Some(a), Some(b)) => format!(", Kubernetes {a} to {b}"),
    }
}

impl fmt::Display for ScenarioPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_text(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::validate_file;

    fn planned(text: &str) -> ScenarioPlan {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, text).unwrap();
        let env = |k: &str| (k == "PW").then(|| "s3cr3t-value".to_string());
        let (scenario, diags) = validate_file(&path, &env);
        let scenario = scenario.unwrap_or_else(|| panic!("{diags}"));
        let values = vars::resolve(&scenario.variables, &env).unwrap();
        plan(
            &scenario,
            &values,
            "20261122-abcdef",
            CleanupPolicy::default(),
        )
        .unwrap()
    }

    const SCENARIO: &str = "name: demo\ntimeouts: { wait: 7m }\nvariables:\n  pw: { env: PW, secret: true }\n  app: web\nsteps:\n  - apply:\n      inline: |\n        apiVersion: v1\n        kind: Secret\n        metadata: { name: creds }\n        stringData: { password: \"${pw}\" }\n        ---\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: { name: \"${app}-cfg\" }\n        data: { ns: \"${namespace}\" }\n  - wait: { field: { kind: ConfigMap, name: \"${app}-cfg\", path: .data.ns, equals: x } }\n  - id: quick\n    timeout: 10s\n    exec: { selector: \"app=${app}\", command: [echo, \"${pw}\"] }\n";

    // Layer 1 (pure).
    #[test]
    fn resolves_timeouts_namespace_and_variables() {
        let p = planned(SCENARIO);
        assert_eq!(p.namespace, "h-demo-abcdef");
        assert_eq!(p.steps[0].timeout, Duration::from_secs(60));
        assert_eq!(p.steps[1].timeout, Duration::from_secs(420));
        assert_eq!(p.steps[2].timeout, Duration::from_secs(10));
        let PlannedAction::Apply(m) = &p.steps[0].action else {
            panic!()
        };
        assert_eq!(m[1].name(), "web-cfg");
        assert_eq!(m[1].object["data"]["ns"], "h-demo-abcdef");
        let PlannedAction::Exec(e) = &p.steps[2].action else {
            panic!()
        };
        assert_eq!(e.selector.as_deref(), Some("app=web"));
    }

    #[test]
    fn printed_plan_never_shows_a_secret() {
        let p = planned(SCENARIO);
        let text = p.render_text(true);
        assert!(
            text.contains("creds") && text.contains("<redacted>"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("h-demo-abcdef"));
    }

    #[test]
    fn namespace_names_are_dns_labels() {
        let n = namespace_name(&"x".repeat(40), "run-ABCDEF123");
        assert!(n.len() <= 63 && n.ends_with("def123"), "{n}");
    }
}
