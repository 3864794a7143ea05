//! The plan: a validated scenario with what a run decides (concrete timeouts per step, the
//! clean-up policy). Building it does no IO and parses nothing (validation already substituted
//! the variables and typed every value); printing it never shows a secret.

use crate::manifest::Manifest;
use crate::scenario::model::ClusterNeeds;
use crate::scenario::{Scenario, Step};
use crate::steps::Action;
use crate::vars::Values;
use serde::Serialize;
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
    #[serde(serialize_with = "crate::check::duration_text")]
    pub deadline: Duration,
    pub cleanup: CleanupPolicy,
    pub steps: Vec<PlannedStep>,
    pub finally: Vec<PlannedStep>,
    pub guards: Vec<crate::guards::Guard>,
    /// What its pods request at its largest scale (checked against the nodes before it runs).
    pub demand: crate::capacity::Demand,
    /// The container images its manifests name (preloaded into kind or Minikube).
    pub images: Vec<String>,
    /// How long guards keep watching after the last step that starts pods: the time the
    /// slowest probe of the scenario's pods needs to fail, with which probe it is.
    #[serde(serialize_with = "crate::check::opt_duration_text")]
    pub probe_window: Option<Duration>,
    pub probe_window_reason: Option<String>,
    /// Run option (`--skip-undersized`): a cluster with fewer schedulable nodes than
    /// `cluster.workers` skips the scenario instead of failing it.
    pub skip_if_undersized: bool,
    /// Values to mask in every output; never serialized.
    #[serde(skip)]
    pub secrets: Vec<String>,
    /// Resolved variables, for verifiers that read a password by name; never serialized.
    #[serde(skip)]
    pub values: Values,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub kind: &'static str,
    pub description: Option<String>,
    #[serde(serialize_with = "crate::check::duration_text")]
    pub timeout: Duration,
    pub continue_on_error: bool,
    pub retry: Option<crate::scenario::model::Retry>,
    pub action: Action,
}

/// Builds the plan of one validated scenario: concrete timeouts and the clean-up policy.
pub fn plan(scenario: &Scenario, cleanup: CleanupPolicy) -> ScenarioPlan {
    let plan_steps = |steps: &[Step]| -> Vec<PlannedStep> {
        steps
            .iter()
            .map(|s| PlannedStep {
                id: s.id.clone(),
                kind: s.action.kind(),
                description: s.description.clone(),
                timeout: s
                    .timeout
                    .unwrap_or_else(|| scenario.timeouts.for_kind(s.action.kind())),
                continue_on_error: s.continue_on_error,
                retry: s.retry,
                action: s.action.clone(),
            })
            .collect()
    };
    let applied = applied(scenario);
    let probe = crate::capacity::probe_window(&applied);
    ScenarioPlan {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        description: scenario.description.clone(),
        tags: scenario.tags.clone(),
        run_id: scenario.run_id.clone(),
        namespace: scenario.namespace.clone(),
        cluster: scenario.cluster.clone(),
        deadline: scenario.timeouts.scenario,
        cleanup,
        steps: plan_steps(&scenario.steps),
        finally: plan_steps(&scenario.finally),
        guards: scenario.guards.clone(),
        demand: demand_of(scenario, &applied),
        images: images_of(scenario, &applied),
        probe_window: probe.as_ref().map(|(d, _)| *d),
        probe_window_reason: probe.map(|(_, why)| why),
        skip_if_undersized: false,
        secrets: scenario
            .values
            .secret_values()
            .into_iter()
            .chain(secret_manifest_values(&applied))
            .collect(),
        values: scenario.values.clone(),
    }
}

impl PlannedStep {
    /// One line saying what the step does.
    pub fn summary(&self) -> String {
        self.action.summary()
    }
}

/// Every manifest the scenario applies, `finally` included.
fn applied(scenario: &Scenario) -> Vec<&Manifest> {
    scenario
        .steps
        .iter()
        .chain(&scenario.finally)
        .flat_map(|s| s.action.applies())
        .collect()
}

/// What the workloads the scenario applies request at their largest scale.
fn demand_of(scenario: &Scenario, applied: &[&Manifest]) -> crate::capacity::Demand {
    let scaled: Vec<(String, String, u32)> = scenario
        .steps
        .iter()
        .filter_map(|step| step.action.scales())
        .collect();
    crate::capacity::demand(applied, &scaled)
}

/// The values of every Secret the scenario applies (`stringData` as written, `data` decoded):
/// a pod that logs one must not put it in a report, even when no variable holds it.
fn secret_manifest_values(applied: &[&Manifest]) -> Vec<String> {
    use base64::Engine;
    let mut out = vec![];
    for m in applied.iter().filter(|m| m.kind() == "Secret") {
        let field = |name: &str| {
            m.object
                .get(name)
                .and_then(|d| d.as_object())
                .into_iter()
                .flat_map(|map| map.values())
                .filter_map(|v| v.as_str())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        out.extend(field("stringData"));
        out.extend(field("data").iter().filter_map(|b64| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok()
        }));
    }
    out
}

/// Secret manifests show their keys but never their values.
fn redact_manifest(m: &Manifest, redactor: &crate::redact::Redactor) -> serde_json::Value {
    let mut object = m.object.clone();
    redactor.redact_value(&mut object);
    if m.kind() == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(map) = object.get_mut(field).and_then(|d| d.as_object_mut()) {
                for v in map.values_mut() {
                    *v = serde_json::Value::String(crate::redact::MASK.into());
                }
            }
        }
    }
    object
}

impl ScenarioPlan {
    /// The plan as JSON (`harness plan --json`), every secret masked before serialisation.
    pub fn render_json(&self) -> String {
        let redactor = crate::redact::Redactor::new(self.secrets.clone());
        let mut value = serde_json::to_value(self).unwrap_or_default();
        redactor.redact_value(&mut value);
        // Keys and values were masked in the value: the text is JSON as serialised (a pass over
        // the text would break it, a secret `null` turning every null into a mask).
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

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
        if !self.guards.is_empty() {
            let _ = writeln!(
                out,
                "  guards (watched from their step to the end of the main steps{}):",
                match (&self.probe_window, &self.probe_window_reason) {
                    (Some(w), Some(why)) => format!(
                        ", and at least {} after the last step that starts or waits for pods, the time the slowest probe needs to fail ({why})",
                        humantime::format_duration(*w)
                    ),
                    _ => String::new(),
                }
            );
            for g in &self.guards {
                let from = self.steps.get(g.from).map_or("-", |s| s.id.as_str());
                let _ = writeln!(
                    out,
                    "    - {} [from {from}{}]: {}",
                    g.name,
                    if g.fail_fast { ", fail fast" } else { "" },
                    redactor.redact(&g.kind.summary())
                );
            }
        }
        for (title, steps) in [("steps", &self.steps), ("finally", &self.finally)] {
            if steps.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  {title}:");
            for (i, s) in steps.iter().enumerate() {
                let mut flags = String::new();
                if let Some(r) = &s.retry {
                    flags.push_str(&format!(
                        ", retried every {} for {}",
                        humantime::format_duration(r.every),
                        humantime::format_duration(r.for_)
                    ));
                }
                if s.continue_on_error {
                    flags.push_str(", continue on error");
                }
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
                if manifests {
                    for m in s.action.applies() {
                        let yaml = serde_yaml::to_string(&redact_manifest(m, &redactor))
                            .unwrap_or_default();
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

/// The images to preload: what the manifests name, the fault agent's when a step makes a
/// pod-level fault, and those rollouts move to.
fn images_of(scenario: &Scenario, applied: &[&crate::manifest::Manifest]) -> Vec<String> {
    let mut images = crate::capacity::images(applied);
    let agent = scenario
        .steps
        .iter()
        .chain(&scenario.finally)
        .any(|s| matches!(&s.action, crate::steps::Action::Fault(f) if f.0.needs_agent()));
    if agent {
        let image = crate::fault_agent::agent_image();
        if !images.contains(&image) {
            images.push(image);
        }
    }
    // The images rollouts move to.
    for s in scenario.steps.iter().chain(&scenario.finally) {
        if let crate::steps::Action::Rollout(r) = &s.action
            && let crate::cluster::Change::Image { image, .. } = &r.0.change
            && !images.contains(image)
        {
            images.push(image.clone());
        }
    }
    images
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
        let (scenario, diags) = validate_file(&path, &env, "20261122-abcdef");
        let scenario = scenario.unwrap_or_else(|| panic!("{diags}"));
        plan(&scenario, CleanupPolicy::default())
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
        let m = p.steps[0].action.applies();
        assert_eq!(m[1].name(), "web-cfg");
        assert_eq!(m[1].object["data"]["ns"], "h-demo-abcdef");
        assert_eq!(
            p.steps[2].summary(),
            "exec in every pod of app=web: echo s3cr3t-value"
        );
    }

    // Layer 1 (pure): a scenario with a pod-level fault preloads the fault agent's image; one
    // without does not.
    #[test]
    fn a_pod_level_fault_preloads_the_fault_agent_image() {
        let with = planned(
            "name: f\nsteps:\n  - apply:\n      inline: |\n        apiVersion: v1\n        kind: Pod\n        metadata: { name: p }\n        spec: { containers: [{ name: c, image: 'memcached:1.6' }] }\n  - fault: { pause: { pod: p, for: 5s } }\n",
        );
        assert_eq!(
            with.images,
            vec![
                "memcached:1.6".to_string(),
                crate::fault_agent::agent_image()
            ]
        );
        let without = planned("name: g\nsteps:\n  - fault: { delete_pod: { name: p } }\n");
        assert!(without.images.is_empty(), "{:?}", without.images);
    }

    #[test]
    fn printed_plan_never_shows_a_secret() {
        let p = planned(SCENARIO);
        let text = p.render_text(true);
        assert!(text.contains("creds") && text.contains("******"), "{text}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("h-demo-abcdef"));
    }

    // Layer 1 (pure): the values of Secrets a scenario applies are secrets of the run even when
    // no variable holds them (`stringData` as written, `data` decoded), so a pod that logs one
    // is masked in every report; other manifests' values are not.
    #[test]
    fn secret_manifest_values_are_masked_like_secret_variables() {
        let p = planned(
            "name: literal\nsteps:\n  - apply:\n      inline: |\n        apiVersion: v1\n        kind: Secret\n        metadata: { name: creds }\n        stringData: { root: literal-root-pw }\n        data: { sst: c3N0LXB3LWI2NA== }\n        ---\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: { name: cfg }\n        data: { mode: not-a-secret }\n",
        );
        assert!(
            p.secrets.contains(&"literal-root-pw".to_string()),
            "{:?}",
            p.secrets
        );
        assert!(
            p.secrets.contains(&"sst-pw-b64".to_string()),
            "{:?}",
            p.secrets
        );
        assert!(
            !p.secrets.contains(&"not-a-secret".to_string()),
            "{:?}",
            p.secrets
        );
    }

    #[test]
    fn namespace_names_are_dns_labels() {
        let n = crate::scenario::namespace_name(&"x".repeat(40), "run-ABCDEF123");
        assert!(n.len() <= 63 && n.ends_with("def123"), "{n}");
    }
}
