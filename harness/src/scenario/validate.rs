//! The validator: one pass over a loaded scenario that collects every problem (not the first)
//! and produces the typed [`Scenario`]. It reads the manifest files a scenario names, and nothing
//! else; it never talks to a cluster.

use super::load::{self, Loaded, read_text};
use super::model::{
    Action, ClusterNeeds, ManifestSource, ScalableKind, Scale, Scenario, Step, Timeouts,
};
use super::raw::{ApplySpec, FaultSpec, RawAction, RawStep, WaitSpec};
use crate::diag::{Diagnostic, Diagnostics};
use crate::manifest;
use crate::vars;
use crate::verify::{PasswordSource, TargetSpec, VerifySpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Manifest files larger than this are refused.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// Loads and validates a scenario file. The scenario is returned only when there is no error;
/// warnings come back either way.
pub fn validate_file(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<Scenario>, Diagnostics) {
    match load::load(path) {
        Ok(loaded) => validate(path, &loaded, env),
        Err(d) => (None, d),
    }
}

struct Ctx<'a> {
    file: &'a Path,
    base: PathBuf,
    loaded: &'a Loaded,
    diags: Diagnostics,
    values: vars::Values,
    /// (kind, name) of every object some apply step creates.
    created: BTreeSet<(String, String)>,
}

impl Ctx<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        let d = Diagnostic::error(self.file, path, message).at(self.loaded.lines.position(path));
        self.diags.push(d);
    }
    fn warning(&mut self, path: &str, message: impl Into<String>) {
        let d = Diagnostic::warning(self.file, path, message).at(self.loaded.lines.position(path));
        self.diags.push(d);
    }

    fn duration(&mut self, path: &str, text: &str) -> Option<Duration> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() => {
                self.error(
                    path,
                    format!(
                        "duration `{text}` is zero; give a positive duration such as `30s` or `5m`"
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    path,
                    format!("`{text}` is not a duration ({e}); write e.g. `90s`, `5m` or `1h 30m`"),
                );
                None
            }
        }
    }

    fn count(&mut self, path: &str, n: i64, min: i64) -> Option<u32> {
        if n < min || n > i64::from(u32::MAX) {
            self.error(
                path,
                format!("{n} is out of range: it must be at least {min}"),
            );
            None
        } else {
            Some(n as u32)
        }
    }

    fn lookup(&self, name: &str) -> Option<String> {
        if vars::BUILTINS.contains(&name) {
            // Real values come with the plan; any text will do to check the manifests parse.
            return Some(format!("placeholder-{}", name.replace('_', "-")));
        }
        self.values.get(name).map(str::to_string)
    }

    fn var_hint(&self, name: &str) -> String {
        let names: Vec<&str> = self
            .values
            .values
            .keys()
            .map(String::as_str)
            .chain(vars::BUILTINS)
            .collect();
        crate::diag::did_you_mean(name, names)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default()
    }
}

pub fn validate(
    file: &Path,
    loaded: &Loaded,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<Scenario>, Diagnostics) {
    let raw = &loaded.raw;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut cx = Ctx {
        file,
        base,
        loaded,
        diags: Diagnostics::default(),
        values: Default::default(),
        created: BTreeSet::new(),
    };

    if !is_slug(&raw.name) {
        cx.error("name", format!("`{}` must be lowercase letters, digits and `-` (it names the namespace), at most 40 characters", raw.name));
    }
    for (i, tag) in raw.tags.iter().enumerate() {
        if !is_slug(tag) {
            cx.error(
                &format!("tags[{i}]"),
                format!("tag `{tag}` must be lowercase letters, digits and `-`"),
            );
        }
    }
    let cluster = cluster_needs(&mut cx, &raw.cluster);

    for name in raw.variables.keys() {
        let path = format!("variables.{name}");
        if vars::BUILTINS.contains(&name.as_str()) {
            cx.error(
                &path,
                format!("`{name}` is set by the harness and cannot be redefined"),
            );
        } else if !is_identifier(name) {
            cx.error(&path, format!("variable name `{name}` must be letters, digits and `_`, not starting with a digit"));
        }
    }
    match vars::resolve(&raw.variables, env) {
        Ok(values) => cx.values = values,
        Err(errors) => {
            for (name, message) in errors {
                cx.error(&format!("variables.{name}"), message);
            }
            // Keep checking the rest with what did resolve.
            let ok: BTreeMap<_, _> = raw
                .variables
                .iter()
                .filter(|(_, d)| d.value.is_some() && d.env.is_none())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            cx.values = vars::resolve(&ok, env).unwrap_or_default();
        }
    }

    let timeouts = timeouts(&mut cx, &raw.timeouts);
    if raw.steps.is_empty() {
        cx.error("steps", "a scenario needs at least one step");
    }
    let mut ids = BTreeMap::new();
    let steps = build_steps(&mut cx, "steps", &raw.steps, &mut ids, &cluster);
    let finally = build_steps(&mut cx, "finally", &raw.finally, &mut ids, &cluster);

    // Waits on objects that no step creates are suspicious, not fatal (the object may come from
    // an operator or a controller).
    for (section, list) in [("steps", &raw.steps), ("finally", &raw.finally)] {
        for (i, step) in list.iter().enumerate() {
            if let RawAction::Wait(w) = &step.action
                && let Some((kind, name)) = w.target()
            {
                let name =
                    vars::substitute(name, &|n| cx.lookup(n)).unwrap_or_else(|_| name.to_string());
                if !cx.created.contains(&(kind.to_string(), name.clone())) {
                    cx.warning(
                        &format!("{section}[{i}].wait"),
                        format!(
                            "waits on {kind} `{name}`, which no apply step of this scenario creates"
                        ),
                    );
                }
            }
        }
    }

    let scenario = Scenario {
        file: file.to_path_buf(),
        name: raw.name.clone(),
        description: raw.description.clone(),
        tags: raw.tags.clone(),
        cluster,
        variables: raw.variables.clone(),
        timeouts,
        steps,
        finally,
    };
    let diags = cx.diags;
    if diags.has_errors() {
        (None, diags)
    } else {
        (Some(scenario), diags)
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_version(cx: &mut Ctx, path: &str, text: &Option<String>) -> Option<(u32, u32)> {
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

fn cluster_needs(cx: &mut Ctx, raw: &super::raw::ClusterNeeds) -> ClusterNeeds {
    let workers = raw
        .workers
        .and_then(|w| cx.count("cluster.workers", w, 0))
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

fn timeouts(cx: &mut Ctx, raw: &super::raw::Timeouts) -> Timeouts {
    let mut t = Timeouts::default();
    if let Some(s) = &raw.scenario
        && let Some(d) = cx.duration("timeouts.scenario", s)
    {
        t.scenario = d;
    }
    if let Some(s) = &raw.step
        && let Some(d) = cx.duration("timeouts.step", s)
    {
        for (kind, v) in t.per_kind.iter_mut() {
            if *kind != "sleep" {
                *v = d;
            }
        }
    }
    let per_kind = [
        ("apply", &raw.apply),
        ("delete", &raw.delete),
        ("scale", &raw.scale),
        ("wait", &raw.wait),
        ("exec", &raw.exec),
        ("fault", &raw.fault),
        ("verify", &raw.verify),
    ];
    for (kind, value) in per_kind {
        if let Some(s) = value
            && let Some(d) = cx.duration(&format!("timeouts.{kind}"), s)
        {
            t.per_kind.insert(kind, d);
        }
    }
    t
}

fn build_steps(
    cx: &mut Ctx,
    section: &str,
    raw: &[RawStep],
    ids: &mut BTreeMap<String, String>,
    cluster: &ClusterNeeds,
) -> Vec<Step> {
    let mut out = vec![];
    for (i, step) in raw.iter().enumerate() {
        let path = format!("{section}[{i}]");
        let id = match &step.id {
            Some(id) => {
                if !is_slug(id) {
                    cx.error(
                        &format!("{path}.id"),
                        format!("step id `{id}` must be lowercase letters, digits and `-`"),
                    );
                }
                if let Some(first) = ids.get(id) {
                    cx.error(
                        &format!("{path}.id"),
                        format!("duplicate step id `{id}` (first used at `{first}`)"),
                    );
                } else {
                    ids.insert(id.clone(), path.clone());
                }
                id.clone()
            }
            None => format!(
                "{}{}-{}",
                if section == "finally" { "finally-" } else { "" },
                step.action.kind(),
                i + 1
            ),
        };
        let timeout = step
            .timeout
            .as_ref()
            .and_then(|t| cx.duration(&format!("{path}.timeout"), t));
        if let Some(action) = action(cx, &path, &step.action) {
            if !cluster.required && action.needs_cluster() {
                cx.error(&format!("{path}.{}", step.action.kind()), "this step needs a Kubernetes cluster, but the scenario says `cluster: { required: false }`");
            }
            out.push(Step {
                id,
                description: step.description.clone(),
                timeout,
                continue_on_error: step.continue_on_error,
                path,
                action,
            });
        }
    }
    out
}

fn exactly_one(cx: &mut Ctx, path: &str, options: &[(&str, bool)]) -> bool {
    let given: Vec<&str> = options
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
    let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
    match given.len() {
        1 => true,
        0 => {
            cx.error(path, format!("give one of {}", names.join(", ")));
            false
        }
        _ => {
            cx.error(
                path,
                format!(
                    "give only one of {}, not {}",
                    names.join(", "),
                    given.join(" and ")
                ),
            );
            false
        }
    }
}

/// The spec with variables substituted (so checks see what will run); unknown variables are
/// reported at the step (and the step is not checked further).
fn rendered<T: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    cx: &mut Ctx,
    path: &str,
    spec: &T,
) -> Option<T> {
    match crate::plan::render(spec, &|n| cx.lookup(n), path) {
        Ok(r) => Some(r),
        Err(e) => {
            let message = e.to_string();
            let message = message
                .split_once(": ")
                .map_or(message.as_str(), |(_, m)| m)
                .to_string();
            let hint = backticked_var(&message)
                .map(|v| cx.var_hint(&v))
                .unwrap_or_default();
            cx.error(path, format!("{message}{hint}"));
            None
        }
    }
}

fn backticked_var(message: &str) -> Option<String> {
    let start = message.find("`${")? + 3;
    let end = message[start..].find('}')? + start;
    Some(message[start..end].to_string())
}

/// Checks a step's action with its variables substituted; the model keeps the action as
/// written, since the plan substitutes the real values (namespace, run id) later.
fn action(cx: &mut Ctx, step_path: &str, original: &RawAction) -> Option<Action> {
    let path = format!("{step_path}.{}", original.kind());
    let checked = match original {
        RawAction::Delete(s) => RawAction::Delete(rendered(cx, &path, s)?),
        RawAction::Wait(s) => RawAction::Wait(rendered(cx, &path, s)?),
        RawAction::Exec(s) => RawAction::Exec(rendered(cx, &path, s)?),
        RawAction::Fault(s) => RawAction::Fault(rendered(cx, &path, s)?),
        RawAction::Verify(s) => RawAction::Verify(rendered(cx, &path, s)?),
        RawAction::Scale(s) => RawAction::Scale(rendered(cx, &path, s)?),
        other => other.clone(),
    };
    let action = check_action(cx, &path, &checked)?;
    Some(match (action, original) {
        (Action::Delete(_), RawAction::Delete(s)) => Action::Delete(s.clone()),
        (Action::Wait(_), RawAction::Wait(s)) => Action::Wait(s.clone()),
        (Action::Exec(_), RawAction::Exec(s)) => Action::Exec(s.clone()),
        (Action::Fault(_), RawAction::Fault(s)) => Action::Fault(s.clone()),
        (Action::Verify(_), RawAction::Verify(s)) => Action::Verify(Box::new(s.clone())),
        (Action::Scale(scale), RawAction::Scale(s)) => Action::Scale(Scale {
            name: s.name.clone(),
            ..scale
        }),
        (other, _) => other,
    })
}

fn check_action(cx: &mut Ctx, path: &str, raw: &RawAction) -> Option<Action> {
    let path = path.to_string();
    match raw {
        RawAction::Apply(spec) => apply(cx, &path, spec).map(Action::Apply),
        RawAction::Delete(spec) => {
            exactly_one(
                cx,
                &path,
                &[
                    ("name", spec.name.is_some()),
                    ("selector", spec.selector.is_some()),
                ],
            );
            if let Some(sel) = &spec.selector {
                check_selector(cx, &format!("{path}.selector"), sel);
            }
            Some(Action::Delete(spec.clone()))
        }
        RawAction::Scale(spec) => {
            let kind = scalable(cx, &format!("{path}.kind"), &spec.kind);
            let replicas = cx.count(&format!("{path}.replicas"), spec.replicas, 0);
            Some(Action::Scale(Scale {
                kind: kind?,
                name: spec.name.clone(),
                replicas: replicas?,
            }))
        }
        RawAction::Wait(spec) => {
            wait(cx, &path, spec);
            Some(Action::Wait(spec.clone()))
        }
        RawAction::Exec(spec) => {
            exactly_one(
                cx,
                &path,
                &[
                    ("pod", spec.pod.is_some()),
                    ("selector", spec.selector.is_some()),
                ],
            );
            if let Some(sel) = &spec.selector {
                check_selector(cx, &format!("{path}.selector"), sel);
            }
            if spec.command.is_empty() {
                cx.error(&format!("{path}.command"), "the command is empty");
            }
            if !(0..=255).contains(&spec.expect.exit_code) {
                cx.error(
                    &format!("{path}.expect.exit_code"),
                    format!("{} is not an exit code (0 to 255)", spec.expect.exit_code),
                );
            }
            for (i, re) in spec.expect.regex.iter().enumerate() {
                if let Err(e) = regex::Regex::new(re) {
                    cx.error(
                        &format!("{path}.expect.regex[{i}]"),
                        format!("invalid regular expression: {e}"),
                    );
                }
            }
            Some(Action::Exec(spec.clone()))
        }
        RawAction::Fault(spec) => {
            if let FaultSpec::ScaleToZeroAndBack { kind, .. } = spec {
                scalable(cx, &format!("{path}.scale_to_zero_and_back.kind"), kind)?;
            }
            Some(Action::Fault(spec.clone()))
        }
        RawAction::Verify(spec) => {
            verify(cx, &path, spec);
            Some(Action::Verify(Box::new(spec.clone())))
        }
        RawAction::Sleep(text) => cx.duration(&path, text).map(Action::Sleep),
    }
}

fn scalable(cx: &mut Ctx, path: &str, kind: &str) -> Option<ScalableKind> {
    let parsed = ScalableKind::parse(kind);
    if parsed.is_none() {
        let hint = crate::diag::did_you_mean(kind, ScalableKind::NAMES)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        cx.error(
            path,
            format!(
                "`{kind}` cannot be scaled; use one of {}{hint}",
                ScalableKind::NAMES.join(", ")
            ),
        );
    }
    parsed
}

const ROLLOUT_KINDS: [&str; 5] = [
    "StatefulSet",
    "Deployment",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
];

fn wait(cx: &mut Ctx, path: &str, spec: &WaitSpec) {
    match spec {
        WaitSpec::Rollout { kind, .. } | WaitSpec::ReadyReplicas { kind, .. }
            if !ROLLOUT_KINDS.contains(&kind.as_str()) =>
        {
            let sub = if matches!(spec, WaitSpec::Rollout { .. }) {
                "rollout"
            } else {
                "ready_replicas"
            };
            cx.error(
                &format!("{path}.{sub}.kind"),
                format!(
                    "`{kind}` has no rollout; use one of {}",
                    ROLLOUT_KINDS.join(", ")
                ),
            );
        }
        WaitSpec::ReadyReplicas { count, .. } => {
            cx.count(&format!("{path}.ready_replicas.count"), *count, 0);
        }
        WaitSpec::PodReady {
            name,
            selector,
            count,
        } => {
            exactly_one(
                cx,
                &format!("{path}.pod_ready"),
                &[("name", name.is_some()), ("selector", selector.is_some())],
            );
            if let Some(c) = count {
                cx.count(&format!("{path}.pod_ready.count"), *c, 1);
                if name.is_some() {
                    cx.error(
                        &format!("{path}.pod_ready.count"),
                        "`count` goes with `selector`, not `name`",
                    );
                }
            }
            if let Some(sel) = selector {
                check_selector(cx, &format!("{path}.pod_ready.selector"), sel);
            }
        }
        WaitSpec::Endpoints { count, .. } => {
            cx.count(&format!("{path}.endpoints.count"), *count, 0);
        }
        WaitSpec::Field { path: field, .. } => {
            if !field.starts_with('.') || field.len() < 2 {
                cx.error(
                    &format!("{path}.field.path"),
                    format!("`{field}` is not a field path; write e.g. `.status.phase`"),
                );
            }
        }
        WaitSpec::Rollout { .. } => {}
    }
}

fn check_selector(cx: &mut Ctx, path: &str, selector: &str) {
    for part in selector.split(',') {
        let part = part.trim();
        let ok = if let Some((k, v)) = part
            .split_once("!=")
            .or_else(|| part.split_once("=="))
            .or_else(|| part.split_once('='))
        {
            !k.trim().is_empty() && !v.contains('=') && !v.trim().is_empty()
        } else {
            !part.is_empty() && !part.contains(' ')
        };
        if !ok {
            cx.error(path, format!("`{selector}` is not a label selector; write e.g. `app=cassandra` or `app=x,tier=db`"));
            return;
        }
    }
}

fn apply(cx: &mut Ctx, path: &str, spec: &ApplySpec) -> Option<Vec<ManifestSource>> {
    if !exactly_one(
        cx,
        path,
        &[
            ("file", spec.file.is_some()),
            ("dir", spec.dir.is_some()),
            ("inline", spec.inline.is_some()),
        ],
    ) {
        return None;
    }
    let mut sources = vec![];
    if let Some(inline) = &spec.inline {
        sources.push(ManifestSource {
            origin: "inline".into(),
            text: inline.clone(),
        });
    } else if let Some(file) = &spec.file {
        let full = cx.base.join(file);
        match read_text(&full, MAX_MANIFEST_BYTES) {
            Ok(text) => sources.push(ManifestSource {
                origin: file.clone(),
                text,
            }),
            Err(e) => cx.error(
                &format!("{path}.file"),
                format!("manifest file `{}`: {}", full.display(), e.message),
            ),
        }
    } else if let Some(dir) = &spec.dir {
        let full = cx.base.join(dir);
        match std::fs::read_dir(&full) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                    })
                    .collect();
                files.sort();
                if files.is_empty() {
                    cx.error(
                        &format!("{path}.dir"),
                        format!("directory `{}` has no .yaml or .yml files", full.display()),
                    );
                }
                for f in files {
                    let origin = format!(
                        "{dir}/{}",
                        f.file_name().and_then(|n| n.to_str()).unwrap_or("?")
                    );
                    match read_text(&f, MAX_MANIFEST_BYTES) {
                        Ok(text) => sources.push(ManifestSource { origin, text }),
                        Err(e) => cx.error(
                            &format!("{path}.dir"),
                            format!("manifest file `{}`: {}", f.display(), e.message),
                        ),
                    }
                }
            }
            Err(e) => cx.error(
                &format!("{path}.dir"),
                format!("cannot read directory `{}`: {e}", full.display()),
            ),
        }
    }
    for source in &sources {
        check_manifests(cx, path, source);
    }
    Some(sources)
}

/// Renders a manifest source with placeholder built-ins and checks every document; problems
/// name the manifest file and its line, under the apply step's key path.
fn check_manifests(cx: &mut Ctx, path: &str, source: &ManifestSource) {
    let where_ = |line: Option<usize>| match line {
        Some(l) => format!("{}:{l}", source.origin),
        None => source.origin.clone(),
    };
    let rendered = match vars::substitute(&source.text, &|n| cx.lookup(n)) {
        Ok(text) => text,
        Err(unknown) => {
            for u in unknown {
                let hint = cx.var_hint(&u.name);
                cx.error(
                    path,
                    format!(
                        "{}:{}:{}: unknown variable `${{{}}}`{hint}",
                        source.origin, u.line, u.column, u.name
                    ),
                );
            }
            return;
        }
    };
    let (manifests, problems) = manifest::parse_documents(&source.origin, &rendered);
    for p in problems {
        cx.error(path, format!("{}: {}", where_(p.line), p.message));
    }
    if manifests.is_empty() && !rendered.trim().is_empty() {
        return;
    }
    for m in manifests {
        cx.created
            .insert((m.kind().to_string(), m.name().to_string()));
    }
}

fn target(cx: &mut Ctx, path: &str, t: &TargetSpec, needs_port: bool) {
    if !exactly_one(
        cx,
        path,
        &[
            ("pods", t.pods.is_some()),
            ("endpoints", !t.endpoints.is_empty()),
        ],
    ) {
        return;
    }
    if let Some(sel) = &t.pods {
        check_selector(cx, &format!("{path}.pods"), sel);
        match t.port {
            None if needs_port => cx.error(path, "`pods` needs a `port`"),
            Some(p) if !(1..=65535).contains(&p) => {
                cx.error(&format!("{path}.port"), format!("{p} is not a port"))
            }
            _ => {}
        }
    } else if t.port.is_some() {
        cx.error(
            &format!("{path}.port"),
            "`port` goes with `pods`; endpoints carry their own port",
        );
    }
    for (i, e) in t.endpoints.iter().enumerate() {
        if crate::verify::Endpoint::parse(e).is_none() {
            cx.error(
                &format!("{path}.endpoints[{i}]"),
                format!("`{e}` is not HOST:PORT"),
            );
        }
    }
}

fn verify(cx: &mut Ctx, path: &str, spec: &VerifySpec) {
    let path = format!("{path}.{}", spec.name());
    for (key, t) in spec.targets() {
        target(cx, &format!("{path}.{key}"), t, true);
    }
    if let Some(PasswordSource::Var(name)) = spec.credentials().and_then(|c| c.password.as_ref()) {
        if cx.values.get(name).is_none() {
            cx.error(
                &format!("{path}.credentials.password.var"),
                format!("unknown variable `{name}`{}", cx.var_hint(name)),
            );
        } else if !cx.values.is_secret(name) {
            cx.error(
                &format!("{path}.credentials.password.var"),
                format!("variable `{name}` holds a password but is not marked `secret: true`"),
            );
        }
    }
    match spec {
        VerifySpec::GaleraStatus(s) => {
            if let Some(n) = s.size {
                cx.count(&format!("{path}.size"), n, 1);
            }
        }
        VerifySpec::GaleraAckWrites(s) => {
            cx.duration(&format!("{path}.duration"), &s.duration);
            cx.duration(&format!("{path}.settle"), &s.settle);
            cx.count(&format!("{path}.writers_per_node"), s.writers_per_node, 1);
            cx.count(&format!("{path}.delete_every"), s.delete_every, 0);
            if let Some(d) = &s.during {
                cx.duration(&format!("{path}.during.after"), &d.after);
            }
        }
        VerifySpec::EtcdKeys(s) => {
            if s.cluster.is_empty() || s.cluster.contains('/') {
                cx.error(
                    &format!("{path}.cluster"),
                    "the Galera cluster name must be non-empty and contain no `/`",
                );
            }
        }
        VerifySpec::MemcachePool(s) => {
            cx.count(&format!("{path}.keys"), s.keys, 1);
            if !(0.0..=1.0).contains(&s.min_share) {
                cx.error(
                    &format!("{path}.min_share"),
                    format!("{} is not a fraction between 0 and 1", s.min_share),
                );
            }
        }
        VerifySpec::MemcacheProxy(s) => {
            cx.count(&format!("{path}.keys_per_proxy"), s.keys_per_proxy, 1);
            let p = &s.proxies;
            let ppath = format!("{path}.proxies");
            if exactly_one(
                cx,
                &ppath,
                &[
                    ("via_pods", p.via_pods.is_some()),
                    ("endpoints", !p.endpoints.is_empty()),
                ],
            ) {
                if p.via_pods.is_some() && (p.host_env.is_none() || p.port.is_none()) {
                    cx.error(
                        &ppath,
                        "`via_pods` needs `host_env` (e.g. NODE_NAME) and `port` (e.g. 5000)",
                    );
                }
                for (i, e) in p.endpoints.iter().enumerate() {
                    if crate::verify::Endpoint::parse(e).is_none() {
                        cx.error(
                            &format!("{ppath}.endpoints[{i}]"),
                            format!("`{e}` is not HOST:PORT"),
                        );
                    }
                }
            }
        }
        VerifySpec::Http(s) => {
            if !s.path.starts_with('/') {
                cx.error(&format!("{path}.path"), "an HTTP path starts with `/`");
            }
            if !(100..=599).contains(&s.status) {
                cx.error(
                    &format!("{path}.status"),
                    format!("{} is not an HTTP status", s.status),
                );
            }
        }
        VerifySpec::CassandraRing(s) => {
            cx.count(&format!("{path}.nodes"), s.nodes, 1);
            check_selector(cx, &format!("{path}.pods"), &s.pods);
            if let Some(d) = &s.stable_for {
                cx.duration(&format!("{path}.stable_for"), d);
            }
        }
        VerifySpec::CassandraIdentity(s) => check_selector(cx, &format!("{path}.pods"), &s.pods),
        VerifySpec::Cql(s) => {
            cx.count(&format!("{path}.expect_rows"), s.expect_rows, 0);
            if let Some(script) = &s.script {
                let full = cx.base.join(script);
                if !full.is_file() {
                    cx.error(
                        &format!("{path}.script"),
                        format!("CQL script `{}` does not exist", full.display()),
                    );
                }
            }
            if crate::verify::cql::consistency(&s.consistency).is_none() {
                cx.error(
                    &format!("{path}.consistency"),
                    format!(
                        "`{}` is not a consistency level ({})",
                        s.consistency,
                        crate::verify::cql::LEVELS.join(", ")
                    ),
                );
            }
        }
        VerifySpec::GaleraSync(_) | VerifySpec::CassandraSnapshot(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Diagnostics {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, text).unwrap();
        validate_file(&path, &|_| None).1
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
