//! The validator: one pass over a loaded scenario that collects every problem (not the first)
//! and produces the typed [`Scenario`] for one run. It checks what is the scenario's own (name,
//! tags, cluster needs, variables, timeouts, step ids) and hands each step to its kind
//! ([`crate::steps::RawAction::check`]). It reads the files a scenario names, and never talks to
//! a cluster.

use super::load::{self, Loaded};
use super::model::{ClusterNeeds, Retry, Scenario, Step, Timeouts};
use super::raw::RawStep;
use super::{namespace_name, variables};
use crate::check::Checker;
use crate::diag::Diagnostics;
use crate::steps::KINDS;
use crate::vars::{self, Values};
use std::collections::BTreeMap;
use std::path::Path;

/// More steps than any flow needs; beyond it, validating them all would only cost time.
pub const MAX_STEPS: usize = 1000;

/// More worker nodes than a conformance scenario needs (a kind or Minikube cluster of this
/// many runs on one machine).
pub const MAX_WORKERS: i64 = 100;

/// More guards than any flow needs: each holds a watch on the API server for the whole run.
pub const MAX_GUARDS: usize = 50;

/// Loads and validates a scenario file for the run `run_id`. The scenario is returned only when
/// there is no error; warnings come back either way.
pub fn validate_file(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    run_id: &str,
) -> (Option<Scenario>, Diagnostics) {
    match load::load(path) {
        Ok(loaded) => validate(path, &loaded, env, run_id),
        Err(d) => (None, d),
    }
}

pub fn validate(
    file: &Path,
    loaded: &Loaded,
    env: &dyn Fn(&str) -> Option<String>,
    run_id: &str,
) -> (Option<Scenario>, Diagnostics) {
    let raw = &loaded.raw;
    // Problems found before the variables are known, reported through the checker below.
    let mut early: Vec<(String, String)> = vec![];

    if !is_slug(&raw.name) {
        early.push(("name".into(), format!("`{}` must be lowercase letters, digits and `-` (it names the namespace), at most 40 characters", raw.name)));
    }
    for (i, tag) in raw.tags.iter().enumerate() {
        if !is_slug(tag) {
            early.push((
                format!("tags[{i}]"),
                format!("tag `{tag}` must be lowercase letters, digits and `-`"),
            ));
        }
    }
    for name in raw.variables.keys() {
        let path = format!("variables.{name}");
        if vars::BUILTINS.contains(&name.as_str()) {
            early.push((
                path,
                format!("`{name}` is set by the harness and cannot be redefined"),
            ));
        } else if !is_identifier(name) {
            early.push((path, format!("variable name `{name}` must be letters, digits and `_`, not starting with a digit")));
        }
    }
    let mut values = match variables::resolve(&raw.variables, env) {
        Ok(values) => values,
        Err(errors) => {
            for (name, message) in errors {
                early.push((format!("variables.{name}"), message));
            }
            // Keep checking the rest with what did resolve.
            let ok: BTreeMap<_, _> = raw
                .variables
                .iter()
                .filter(|(_, d)| d.value.is_some() && d.env.is_none())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            variables::resolve(&ok, env).unwrap_or_default()
        }
    };
    let namespace = if raw.cluster.required {
        namespace_name(&raw.name, run_id)
    } else {
        String::new()
    };
    add_builtins(&mut values, &namespace, run_id, &raw.name);

    let mut cx = Checker::new(file, Some(&loaded.lines), &values).with_env(env);
    for (path, message) in early {
        cx.error(&path, message);
    }
    let cluster = cluster_needs(&mut cx, &raw.cluster);
    let timeouts = timeouts(&mut cx, &raw.timeouts);
    if raw.steps.is_empty() {
        cx.error("steps", "a scenario needs at least one step");
    }
    let ids = step_ids(raw);
    check_step_ids(&mut cx, &ids);
    let mut workloads = BTreeMap::new();
    let too_many = raw.steps.len() + raw.finally.len() > MAX_STEPS;
    if too_many {
        cx.error(
            "steps",
            format!(
                "{} steps; a scenario has at most {MAX_STEPS} (split it into several scenarios)",
                raw.steps.len() + raw.finally.len()
            ),
        );
    }
    let (steps, finally) = if too_many {
        (vec![], vec![])
    } else {
        (
            build_steps(&mut cx, "steps", &raw.steps, &ids, &mut workloads, &cluster),
            build_steps(
                &mut cx,
                "finally",
                &raw.finally,
                &ids,
                &mut workloads,
                &cluster,
            ),
        )
    };
    warn_on_waits_for_uncreated(&mut cx, &steps, &finally);
    check_heals(&mut cx, &steps, &finally);
    check_own_durations(&mut cx, &timeouts, steps.iter().chain(&finally));
    let guards = build_guards(&mut cx, raw, &cluster);

    let diags = cx.into_diagnostics();
    if diags.has_errors() {
        return (None, diags);
    }
    let scenario = Scenario {
        file: file.to_path_buf(),
        name: raw.name.clone(),
        description: raw.description.clone(),
        tags: raw.tags.clone(),
        cluster,
        namespace,
        run_id: run_id.to_string(),
        values,
        timeouts,
        steps,
        finally,
        guards,
    };
    (Some(scenario), diags)
}

/// Guards with variables substituted; `from` names a main step (ids as written, or the
/// generated `<kind>-<n>`).
fn build_guards(
    cx: &mut Checker,
    raw: &super::raw::RawScenario,
    cluster: &ClusterNeeds,
) -> Vec<crate::guards::Guard> {
    let ids: Vec<String> = step_ids(raw)
        .into_iter()
        .filter(|s| s.section == "steps")
        .map(|s| s.id)
        .collect();
    if raw.guards.len() > MAX_GUARDS {
        cx.error(
            "guards",
            format!(
                "{} guards; a scenario has at most {MAX_GUARDS} (each holds a watch on the API server for the whole run): one guard's selector can cover many pods",
                raw.guards.len()
            ),
        );
        return vec![];
    }
    let mut names = BTreeMap::new();
    let mut out = vec![];
    for (i, guard) in raw.guards.iter().enumerate() {
        let path = format!("guards[{i}]");
        if !cluster.required {
            cx.error(&path, "guards watch a Kubernetes cluster, but the scenario says `cluster: { required: false }`");
            continue;
        }
        let Some(guard) = cx.render(&path, guard) else {
            continue;
        };
        if let Some(g) = guard.check(cx, &path, &ids) {
            if let Some(first) = names.insert(g.name.clone(), path.clone()) {
                cx.error(
                    &format!("{path}.name"),
                    format!(
                        "guard name `{}` is used twice (first at `{first}`): give each a `name`",
                        g.name
                    ),
                );
                continue;
            }
            out.push(g);
        }
    }
    out
}

fn add_builtins(values: &mut Values, namespace: &str, run_id: &str, scenario: &str) {
    for (name, value) in [
        ("namespace", namespace),
        ("run_id", run_id),
        ("scenario", scenario),
    ] {
        values.values.insert(name.to_string(), value.to_string());
    }
}

/// Waits on objects that no step creates are suspicious, not fatal (the object may come from an
/// operator or a controller).
fn warn_on_waits_for_uncreated(cx: &mut Checker, steps: &[Step], finally: &[Step]) {
    let created: Vec<(String, String)> = steps
        .iter()
        .chain(finally)
        .flat_map(|s| s.action.creates())
        .collect();
    for step in steps.iter().chain(finally) {
        if let Some((kind, name)) = step.action.watches()
            && !created.iter().any(|(k, n)| k == kind && n == name)
        {
            let message =
                format!("waits on {kind} `{name}`, which no apply step of this scenario creates");
            cx.warning(&format!("{}.{}", step.path, step.action.kind()), message);
        }
    }
}

use crate::check::is_slug;

fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_version(cx: &mut Checker, path: &str, text: &Option<String>) -> Option<(u32, u32)> {
    let text = text.as_ref()?;
    let parsed = text
        .trim_start_matches('v')
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    if parsed.is_none() {
        cx.error(
            path,
            format!("`{text}` is not a Kubernetes version; write MAJOR.MINOR such as `1.30`"),
        );
    }
    parsed
}

fn cluster_needs(cx: &mut Checker, raw: &super::raw::ClusterNeeds) -> ClusterNeeds {
    let workers = raw
        .workers
        .and_then(|w| cx.count_within("cluster.workers", w, 0, MAX_WORKERS))
        .unwrap_or(0);
    let range = raw.kubernetes.clone().unwrap_or_default();
    let min = parse_version(cx, "cluster.kubernetes.min", &range.min);
    let max = parse_version(cx, "cluster.kubernetes.max", &range.max);
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        cx.error("cluster.kubernetes", "`min` is newer than `max`");
    }
    if !raw.required && (raw.workers.is_some() || raw.kubernetes.is_some()) {
        cx.error(
            "cluster",
            "`workers` and `kubernetes` make no sense with `required: false`",
        );
    }
    ClusterNeeds {
        required: raw.required,
        workers,
        kubernetes_min: min,
        kubernetes_max: max,
    }
}

fn timeouts(cx: &mut Checker, raw: &super::raw::Timeouts) -> Timeouts {
    let mut t = Timeouts::default();
    for (key, text) in raw {
        let path = format!("timeouts.{key}");
        let kind = KINDS.iter().find(|k| **k == key.as_str());
        if key != "scenario" && key != "step" && kind.is_none() {
            let known: Vec<&str> = ["scenario", "step"]
                .into_iter()
                .chain(KINDS.iter().copied())
                .collect();
            let hint = crate::diag::hint(key, known.iter().copied());
            cx.error(
                &path,
                format!(
                    "unknown timeout `{key}`{hint}; `timeouts` takes `{}`",
                    known.join("`, `")
                ),
            );
            continue;
        }
        let Some(d) = cx.duration(&path, text) else {
            continue;
        };
        match (key.as_str(), kind) {
            ("scenario", _) => t.scenario = d,
            ("step", _) => {
                for kind in KINDS.iter().filter(|k| crate::steps::takes_step_timeout(k)) {
                    t.per_kind.entry(kind).or_insert(d);
                }
            }
            (_, Some(kind)) => {
                t.per_kind.insert(kind, d);
            }
            _ => {}
        }
    }
    t
}

/// A step's id as the plan, the reports and every reference (`since`, a guard's `from`) know
/// it: as written, or generated (`<kind>-<n>`, `finally-<kind>-<n>`).
#[derive(Debug, Clone)]
struct StepId {
    section: &'static str,
    index: usize,
    id: String,
    explicit: bool,
}

impl StepId {
    fn path(&self) -> String {
        format!("{}[{}]", self.section, self.index)
    }
}

/// Every step's id, main steps first, then `finally`.
fn step_ids(raw: &super::raw::RawScenario) -> Vec<StepId> {
    let section = |name: &'static str, steps: &[RawStep]| -> Vec<StepId> {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepId {
                section: name,
                index: i,
                id: s.id.clone().unwrap_or_else(|| {
                    format!(
                        "{}{}-{}",
                        if name == "finally" { "finally-" } else { "" },
                        s.action.kind(),
                        i + 1
                    )
                }),
                explicit: s.id.is_some(),
            })
            .collect()
    };
    let mut ids = section("steps", &raw.steps);
    ids.extend(section("finally", &raw.finally));
    ids
}

/// Ids are slugs and unique, generated ones included: `sleep-3` written on one step and
/// generated for the third would make two test cases, and references, ambiguous.
fn check_step_ids(cx: &mut Checker, ids: &[StepId]) {
    let mut seen: BTreeMap<&str, &StepId> = BTreeMap::new();
    for step in ids {
        if step.explicit && !is_slug(&step.id) {
            cx.error(
                &format!("{}.id", step.path()),
                format!(
                    "step id `{}` must be lowercase letters, digits and `-`",
                    crate::diag::visible(&step.id)
                ),
            );
        }
        let Some(first) = seen.get(step.id.as_str()).copied() else {
            seen.insert(&step.id, step);
            continue;
        };
        // Blame the id someone wrote; a generated one changes only by adding an id.
        let (written, other) = if step.explicit {
            (step, first)
        } else {
            (first, step)
        };
        let message = if first.explicit && step.explicit {
            format!(
                "duplicate step id `{}` (first used at `{}`)",
                step.id,
                first.path()
            )
        } else {
            format!(
                "step id `{}` is also the id generated for `{}` (a step without an `id`): give one of them another id",
                written.id,
                other.path()
            )
        };
        cx.error(&format!("{}.id", written.path()), message);
    }
}

/// A step that takes at least some time by its own settings (a `logs` step's `within`, a
/// check's `stable_for` or `duration`) and a timeout no longer than that can only fail: an
/// error for `logs` (it can only time out), a warning for a check (it may end sooner when it
/// fails early, but it can never pass).
fn check_own_durations<'s>(
    cx: &mut Checker,
    timeouts: &super::model::Timeouts,
    steps: impl Iterator<Item = &'s Step>,
) {
    for step in steps {
        let Some((key, lasts)) = step.action.lasts_at_least() else {
            continue;
        };
        let kind = step.action.kind();
        let timeout = step.timeout.unwrap_or_else(|| timeouts.for_kind(kind));
        let limit = timeout.min(timeouts.scenario);
        if lasts < limit {
            continue;
        }
        let at = match step.action.verifier() {
            Some(verifier) => format!("{}.{kind}.{verifier}.{key}", step.path),
            None => format!("{}.{kind}.{key}", step.path),
        };
        let message = format!(
            "`{key}` is {}, but the step may take only {} (its timeout{}): it can never pass; raise the step's `timeout` or shorten `{key}`",
            humantime::format_duration(lasts),
            humantime::format_duration(limit),
            if limit < timeout {
                ", cut by the scenario's"
            } else {
                ""
            }
        );
        if kind == "logs" {
            cx.error(&at, message);
        } else {
            cx.warning(&at, message);
        }
    }
}

/// A `heal` names a fault step that leaves something to heal (a pause, partition or node
/// fault without `for`), and heals it once: anything else would fail only at run time, after
/// the cluster was touched.
fn check_heals(cx: &mut Checker, steps: &[Step], finally: &[Step]) {
    let mut healed: BTreeMap<&str, &str> = BTreeMap::new();
    for step in steps.iter().chain(finally) {
        let Some(target) = step.action.heals() else {
            continue;
        };
        let at = format!("{}.fault.heal", step.path);
        // An unknown or later step is reported where step references are checked.
        let Some(fault) = steps.iter().find(|s| s.id == target) else {
            continue;
        };
        if !fault.action.fault_lasts() {
            cx.error(
                &at,
                format!(
                    "step `{target}` leaves nothing to heal: only a `pause`, `partition` or `node` fault without `for` lasts beyond its step (a `kill` is over at once, a fault with `for` heals itself, a `cordon` or `drain` is undone by `uncordon`)"
                ),
            );
        } else if let Some(first) = healed.insert(target, &step.path) {
            cx.error(
                &at,
                format!("step `{target}` is already healed at `{first}`"),
            );
        }
    }
}

fn build_steps(
    cx: &mut Checker,
    section: &str,
    raw: &[RawStep],
    ids: &[StepId],
    workloads: &mut BTreeMap<String, String>,
    cluster: &ClusterNeeds,
) -> Vec<Step> {
    let mut out = vec![];
    for (i, step) in raw.iter().enumerate() {
        let path = format!("{section}[{i}]");
        let kind = step.action.kind();
        let Some(id) = ids
            .iter()
            .find(|s| s.section == section && s.index == i)
            .map(|s| s.id.clone())
        else {
            continue;
        };
        let timeout = step
            .timeout
            .as_ref()
            .and_then(|t| cx.duration(&format!("{path}.timeout"), t));
        let retry = step.retry.as_ref().and_then(|r| {
            let at = format!("{path}.retry");
            if !crate::steps::retryable(kind) {
                let kinds: Vec<String> = crate::steps::retryable_kinds()
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect();
                cx.error(
                    &at,
                    format!(
                        "only {} steps (checks) can be retried; a `{kind}` step waits or acts once",
                        kinds.join(", ")
                    ),
                );
                return None;
            }
            let every = cx.duration(&format!("{at}.every"), &r.every);
            let for_ = cx.duration(&format!("{at}.for"), &r.for_);
            let (every, for_) = (every?, for_?);
            if every >= for_ {
                cx.error(
                    &at,
                    format!(
                        "`every` ({}) must be shorter than `for` ({}), or the step runs once",
                        r.every, r.for_
                    ),
                );
                return None;
            }
            Some(Retry { every, for_ })
        });
        let action_path = format!("{path}.{kind}");
        if let Some(action) = step.action.check(cx, &action_path) {
            if section == "finally"
                && let Some(w) = action.starts_workload()
            {
                cx.error(
                    &format!("{action_path}.start"),
                    format!(
                        "workload `{w}` would start in `finally`, after workloads are stopped: nothing would stop or check it; start it in `steps`"
                    ),
                );
            } else if let Some(w) = action.starts_workload()
                && let Some(first) = workloads.insert(w.to_string(), path.clone())
            {
                cx.error(
                    &format!("{action_path}.start"),
                    format!("workload `{w}` is already started at `{first}`"),
                );
            }
            for (key, id) in action.workload_refs() {
                if !workloads.contains_key(&id) {
                    cx.error(
                        &format!("{action_path}.{key}"),
                        format!("`{id}` is not a workload an earlier step starts"),
                    );
                }
            }
            for (key, id) in action.step_refs() {
                // Only main steps that run before this one have started by then, named as
                // everywhere else (as written or generated).
                let before = ids.iter().any(|s| {
                    s.id == id && s.section == "steps" && (section == "finally" || s.index < i)
                });
                if !before {
                    cx.error(
                        &format!("{action_path}.{key}"),
                        format!("`{id}` is not the id of a main step before this one"),
                    );
                }
            }
            if !cluster.required && action.needs_cluster() {
                cx.error(&action_path, "this step needs a Kubernetes cluster, but the scenario says `cluster: { required: false }`");
            }
            out.push(Step {
                id,
                description: step.description.clone(),
                timeout,
                continue_on_error: step.continue_on_error,
                retry,
                path,
                action,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Diagnostics {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, text).unwrap();
        validate_file(&path, &|_| None, super::super::CHECK_RUN_ID).1
    }

    // Layer 1 (pure).
    #[test]
    fn collects_every_problem_not_the_first() {
        let d = check(
            "name: Bad_Name\nsteps:\n  - id: a\n    sleep: 5 minuts\n  - id: a\n    scale: { kind: Pod, name: x, replicas: -1 }\n  - apply: { file: missing.yaml }\n",
        );
        let text = d.to_string();
        for expected in [
            "`name`",
            "steps[0].sleep",
            "duplicate step id `a`",
            "steps[1].scale.kind",
            "steps[1].scale.replicas",
            "steps[2].apply.file",
        ] {
            assert!(text.contains(expected), "missing {expected} in:\n{text}");
        }
        assert!(d.errors().all(|e| e.line.is_some()), "{text}");
    }

    #[test]
    fn unknown_variables_in_manifests_name_the_manifest_line() {
        let d = check(
            "name: ok\nsteps:\n  - apply:\n      inline: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: { name: \"${nme}\" }\n",
        );
        let e = d.errors().next().expect("an error");
        assert!(
            e.message.contains("inline:3:") && e.message.contains("`${nme}`"),
            "{e}"
        );
        assert_eq!(e.path, "steps[0].apply");
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn warns_on_waits_for_objects_no_step_creates() {
        let d =
            check("name: ok\nsteps:\n  - wait: { rollout: { kind: StatefulSet, name: ghost } }\n");
        assert!(!d.has_errors(), "{d}");
        assert!(d.warnings().next().unwrap().message.contains("ghost"));
    }

    #[test]
    fn zero_timeouts_and_steps_needing_a_cluster_in_static_scenarios_are_errors() {
        let d = check(
            "name: ok\ncluster: { required: false }\ntimeouts: { scenario: 0s }\nsteps:\n  - scale: { kind: StatefulSet, name: a, replicas: 1 }\n",
        );
        let text = d.to_string();
        assert!(
            text.contains("timeouts.scenario") && text.contains("zero"),
            "{text}"
        );
        assert!(text.contains("needs a Kubernetes cluster"), "{text}");
    }

    #[test]
    fn unknown_timeout_keys_are_named_with_a_hint() {
        let d = check("name: ok\ntimeouts: { wiat: 5m }\nsteps:\n  - sleep: 1s\n");
        let text = d.to_string();
        assert!(
            text.contains("timeouts.wiat") && text.contains("did you mean `wait`"),
            "{text}"
        );
    }

    #[test]
    fn secret_password_variables_must_be_marked_secret() {
        let d = check(
            "name: ok\nvariables: { pw: plain }\ncluster: { required: false }\nsteps:\n  - verify:\n      galera.status:\n        target: { endpoints: ['db:3306'] }\n        credentials: { user: root, password: { var: pw } }\n",
        );
        assert!(d.to_string().contains("not marked `secret: true`"), "{d}");
    }

    #[test]
    fn step_fields_are_checked_after_substitution_and_unknown_variables_are_named() {
        let d = check(
            "name: ok\ncluster: { required: false }\nvariables: { host: \"db:3306\" }\nsteps:\n  - verify:\n      memcache.pool:\n        target: { endpoints: [\"${host}\"] }\n  - verify:\n      memcache.pool:\n        target: { endpoints: [\"${hots}\"] }\n",
        );
        let errors: Vec<String> = d.errors().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("steps[1].verify")
                && errors[0].contains("`${hots}`")
                && errors[0].contains("did you mean `host`"),
            "{errors:?}"
        );
    }
}
