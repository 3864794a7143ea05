//! Kubernetes manifests in scenarios: splitting multi-document YAML, checking each document is a
//! Kubernetes object, and for built-in kinds that it deserializes into its k8s-openapi type
//! without losing a field (a misspelt field would otherwise be dropped silently by the server).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One rendered object, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// `file.yaml#2` (document index) or `inline#0`.
    pub origin: String,
    pub object: Value,
}

impl Manifest {
    pub fn api_version(&self) -> &str {
        self.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A problem in one document, with a 1-based line in the source text when known.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestProblem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl ManifestProblem {
    fn new(line: Option<usize>, message: impl Into<String>) -> Self {
        Self {
            line,
            column: None,
            message: message.into(),
        }
    }
}

/// Parses every document of `text`; returns the objects and every problem found.
pub fn parse_documents(origin: &str, text: &str) -> (Vec<Manifest>, Vec<ManifestProblem>) {
    let mut manifests = vec![];
    let mut problems = vec![];
    let text = crate::yaml_guard::strip_bom(text);
    if let Err(deep) = crate::yaml_guard::check_depth(text) {
        problems.push(ManifestProblem {
            line: Some(deep.line),
            column: Some(deep.column),
            message: deep.to_string(),
        });
        return (manifests, problems);
    }
    // serde keeps the last of a key given twice, silently: say so first.
    let lines = crate::diag::lines::LineIndex::build_every_document(text);
    let mut duplicated = vec![];
    for d in lines.duplicates() {
        let (document, path) = split_document(&d.path);
        duplicated.push(document);
        problems.push(ManifestProblem {
            line: Some(d.at.0),
            column: Some(d.at.1),
            message: format!(
                "document {document}: `{}` is given twice in the same mapping (first at line {}); YAML would silently keep only the last one",
                crate::diag::visible(path),
                d.first.0
            ),
        });
    }
    let starts = document_start_lines(text);
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let first_line = starts.get(index).copied();
        let value: Value = match serde_path_to_error::deserialize::<_, Option<Value>>(document) {
            Ok(Some(v)) => v,
            Ok(None) => continue, // an empty document (e.g. a trailing `---`)
            Err(e) => {
                let inner = e.inner();
                let (line, column) = inner
                    .location()
                    .map(|l| (Some(l.line()), Some(l.column())))
                    .unwrap_or((first_line, None));
                let mut message = inner.to_string();
                if let Some(cut) = message.rfind(" at line ") {
                    message.truncate(cut);
                }
                problems.push(ManifestProblem {
                    line,
                    column,
                    message: format!("document {index}: {message}"),
                });
                // serde_yaml cannot resume after a syntax error in a stream.
                break;
            }
        };
        if duplicated.contains(&index) {
            continue;
        }
        let checked = check_object(&value).map(|()| quantities_of(&value));
        match checked {
            Ok(wrong) if !wrong.is_empty() => {
                for (path, message) in wrong {
                    let at = lines.position(&format!("#{index}.{path}"));
                    problems.push(ManifestProblem {
                        line: at.map(|p| p.0).or(first_line),
                        column: at.map(|p| p.1),
                        message: format!("document {index}: `{path}`: {message}"),
                    });
                }
            }
            Ok(_) => manifests.push(Manifest {
                origin: format!("{origin}#{index}"),
                object: value,
            }),
            Err(messages) => {
                for m in messages {
                    problems.push(ManifestProblem::new(
                        first_line,
                        format!("document {index}: {m}"),
                    ));
                }
            }
        }
    }
    (manifests, problems)
}

/// 1-based line where each document starts (after `---` separators).
fn document_start_lines(text: &str) -> Vec<usize> {
    let mut starts = vec![];
    let mut expecting = true;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") {
            expecting = true;
            continue;
        }
        let content = !t.trim().is_empty() && !t.trim_start().starts_with('#');
        if expecting && content {
            starts.push(i + 1);
            expecting = false;
        }
    }
    starts
}

/// apiVersion/kind pairs removed from Kubernetes, with what replaced them.
const REMOVED_APIS: [(&str, &str, &str); 7] = [
    (
        "extensions/v1beta1",
        "*",
        "removed in 1.16 (use apps/v1 or networking.k8s.io/v1)",
    ),
    (
        "apps/v1beta1",
        "*",
        "removed in 1.16 (use apps/v1, which requires spec.selector)",
    ),
    (
        "apps/v1beta2",
        "*",
        "removed in 1.16 (use apps/v1, which requires spec.selector)",
    ),
    (
        "policy/v1beta1",
        "PodDisruptionBudget",
        "removed in 1.25 (use policy/v1)",
    ),
    ("batch/v1beta1", "CronJob", "removed in 1.25 (use batch/v1)"),
    (
        "rbac.authorization.k8s.io/v1beta1",
        "*",
        "removed in 1.22 (use rbac.authorization.k8s.io/v1)",
    ),
    (
        "storage.k8s.io/v1beta1",
        "StorageClass",
        "removed in 1.22 (use storage.k8s.io/v1)",
    ),
];

/// The name grammars of Kubernetes objects. They live here, with the manifests, so that the
/// validation context (`check`) uses them without manifests reaching back into it.
/// A Kubernetes DNS-1035 label (a Service's name): a lowercase letter, then lowercase letters,
/// digits and `-`, at most 63, not ending with `-`.
pub fn is_dns1035_label(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-')
}

/// A Kubernetes DNS-1123 subdomain (a pod's name): dot-separated labels of lowercase letters,
/// digits and `-`, each starting and ending with a letter or digit, at most 253 in all.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Whether `name` is a name the API server takes for a `kind`: a path segment for the RBAC
/// kinds (as the API server validates them), a DNS-1123 subdomain for the rest.
fn valid_name(kind: &str, name: &str) -> bool {
    match kind {
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            name != "."
                && name != ".."
                && !name.contains(['/', '%'])
                && !name.chars().any(char::is_control)
        }
        _ => is_dns1123_subdomain(name),
    }
}

/// Checks one document: an object with apiVersion, kind and metadata.name, not a removed API,
/// and for built-in kinds, a faithful k8s-openapi round trip.
pub fn check_object(value: &Value) -> Result<(), Vec<String>> {
    let mut problems = vec![];
    let Some(map) = value.as_object() else {
        return Err(vec![
            "is not a Kubernetes object (expected a mapping with apiVersion, kind and metadata)"
                .into(),
        ]);
    };
    let api_version = map.get("apiVersion").and_then(Value::as_str);
    let kind = map.get("kind").and_then(Value::as_str);
    if api_version.is_none() {
        problems.push(
            "is not a Kubernetes object: `apiVersion` is missing or not a string".to_string(),
        );
    }
    if kind.is_none() {
        problems.push("is not a Kubernetes object: `kind` is missing or not a string".to_string());
    }
    match value.pointer("/metadata/name").and_then(Value::as_str) {
        None | Some("") => {
            problems.push("is not a Kubernetes object: `metadata.name` is missing".to_string())
        }
        // Object names are DNS-1123 subdomains (RBAC names: any path segment, `system:x`);
        // no name holds `/` or is `..`: the name is part of the path the harness addresses
        // the object by.
        Some(name) if !valid_name(kind.unwrap_or_default(), name) => problems.push(format!(
            "`metadata.name` `{}` is not a Kubernetes object name (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253 characters)",
            crate::diag::visible(name)
        )),
        Some(_) => {}
    }
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Err(problems);
    };
    for (api, removed_kind, why) in REMOVED_APIS {
        if api == api_version && (removed_kind == "*" || removed_kind == kind) {
            problems.push(format!("{api_version} {kind} was {why}"));
        }
    }
    if problems.is_empty()
        && let Some(expected) = builtin_api_version(kind)
        && expected != api_version
    {
        problems.push(format!(
            "`{kind}` is a built-in kind served as `apiVersion: {expected}`, not `{api_version}`"
        ));
    }
    if kind == "Namespace" {
        problems.push(
            "a scenario must not create Namespaces: the harness creates one per scenario".into(),
        );
    }
    if let Some(ns) = value.pointer("/metadata/namespace").and_then(Value::as_str) {
        problems.push(format!(
            "sets metadata.namespace `{ns}`: objects go into the scenario's own namespace; remove it"
        ));
    }
    if problems.is_empty()
        && let Err(e) = check_typed(api_version, kind, value)
    {
        problems.push(e);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Why `image` is not an OCI image reference (the distribution grammar Docker, containerd and
/// the kubelet use), or `None`: `[domain[:port]/]path[:tag][@algorithm:hex]`, path components
/// lowercase, a tag of at most 128 word characters, `.` and `-`, a `sha256` digest of exactly
/// 64 hex digits, the name at most 255 characters. A reference that starts with `-` is refused
/// too: a command line would read it as an option.
pub fn image_problem(image: &str) -> Option<String> {
    static REFERENCE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        let component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
        let domain_part = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let domain =
            format!(r"(?:{domain_part}(?:\.{domain_part})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?");
        let pattern = format!(
            r"^(?:(?P<domain>{domain})/)?(?P<path>{component}(?:/{component})*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}))?(?:@(?P<algorithm>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(?P<hex>[0-9a-fA-F]{{32,}}))?$"
        );
        regex::Regex::new(&pattern).expect("the reference grammar compiles")
    });
    let shown = crate::diag::visible(image);
    if image.is_empty() {
        return Some("the image is empty".into());
    }
    if image.starts_with('-') {
        return Some(format!(
            "`{shown}` is not an image reference: it starts with `-`, which a command line reads as an option"
        ));
    }
    let Some(parts) = REFERENCE.captures(image) else {
        let why = if image.chars().any(char::is_whitespace) {
            "it contains white space"
        } else if REFERENCE.is_match(&image.to_ascii_lowercase()) {
            "repository names are lowercase"
        } else if image.contains('@') {
            "a digest is `@<algorithm>:<hex>`, e.g. `@sha256:` and 64 hex digits"
        } else {
            "it does not follow `[registry[:port]/]name[:tag][@sha256:digest]`"
        };
        return Some(format!("`{shown}` is not an image reference: {why}"));
    };
    // A first part without `.` or `:` that is not `localhost` is a path component, which
    // must be lowercase.
    if let Some(domain) = parts.name("domain").map(|d| d.as_str())
        && !domain.contains(['.', ':'])
        && domain != "localhost"
        && domain.chars().any(|c| c.is_ascii_uppercase())
    {
        return Some(format!(
            "`{shown}` is not an image reference: repository names are lowercase"
        ));
    }
    let name_len = parts.name("domain").map_or(0, |d| d.len() + 1) + parts["path"].len();
    if name_len > 255 {
        return Some(format!(
            "`{shown}` is not an image reference: its name is longer than 255 characters"
        ));
    }
    if let (Some(algorithm), Some(hex)) = (parts.name("algorithm"), parts.name("hex")) {
        let wanted = match algorithm.as_str() {
            "sha256" => Some(64),
            "sha384" => Some(96),
            "sha512" => Some(128),
            _ => None,
        };
        if let Some(wanted) = wanted
            && hex.len() != wanted
        {
            return Some(format!(
                "`{shown}` is not an image reference: a {} digest has {wanted} hex digits, this one {}",
                algorithm.as_str(),
                hex.len()
            ));
        }
    }
    None
}

/// The images of an object's pod template (or pod), with their key paths.
fn images_of(value: &Value) -> Vec<(String, String)> {
    let spec = match value.get("kind").and_then(Value::as_str) {
        Some("Pod") => ("spec", value.pointer("/spec")),
        Some("CronJob") => (
            "spec.jobTemplate.spec.template.spec",
            value.pointer("/spec/jobTemplate/spec/template/spec"),
        ),
        _ => ("spec.template.spec", value.pointer("/spec/template/spec")),
    };
    let (at, Some(spec)) = spec else {
        return vec![];
    };
    let mut out = vec![];
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in spec
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(image) = c.get("image").and_then(Value::as_str) {
                out.push((format!("{at}.{key}[{i}].image"), image.to_string()));
            }
        }
    }
    out
}

/// `(document index, path)` of a multi-document index's path (`#2.spec.replicas`).
fn split_document(path: &str) -> (usize, &str) {
    let rest = path.strip_prefix('#').unwrap_or(path);
    let (number, path) = rest.split_once('.').unwrap_or((rest, ""));
    (number.parse().unwrap_or(0), path)
}

/// The quantities and image references of an object that are wrong: (key path, why).
pub fn quantities_of(value: &Value) -> Vec<(String, String)> {
    let mut problems = vec![];
    quantities(value, String::new(), None, &mut problems);
    for (path, image) in images_of(value) {
        if let Some(why) = image_problem(&image) {
            problems.push((path, why));
        }
    }
    problems
}

/// Every resource quantity of an object (`resources.requests`/`limits` of each container,
/// volume claims, `sizeLimit`, a volume's `capacity`), judged with the API server's grammar;
/// a CPU quantity no node could have (`500M`: 500 million cores) is refused with the likely
/// meaning. `within` is the name of the quantity map being walked (`requests`, `limits`).
fn quantities(
    value: &Value,
    path: String,
    within: Option<&str>,
    problems: &mut Vec<(String, String)>,
) {
    /// More cores than any node has: a unit mistake.
    const MOST_CORES: u128 = 100_000;
    let Some(map) = value.as_object() else {
        if let Some(items) = value.as_array() {
            for (i, item) in items.iter().enumerate() {
                quantities(item, format!("{path}[{i}]"), None, problems);
            }
        }
        return;
    };
    for (key, v) in map {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let is_quantity = within.is_some() || key == "sizeLimit";
        if is_quantity {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    problems.push((here, "must be a quantity such as `500m` or `1Gi`".into()));
                    continue;
                }
            };
            match crate::quantity::parse(&text) {
                Err(why) => problems.push((
                    here,
                    format!(
                        "`{}` is not a Kubernetes quantity: {why}",
                        crate::diag::visible(&text)
                    ),
                )),
                Ok(q) if key == "cpu" && q.milli > MOST_CORES * 1000 => problems.push((
                    here,
                    format!(
                        "`{text}` is {} cores, more than any node has; millicores are written with a small `m` (`500m`)",
                        q.units()
                    ),
                )),
                Ok(_) => {}
            }
            continue;
        }
        let next = match (key.as_str(), path.rsplit('.').next()) {
            ("requests" | "limits", Some("resources")) => Some(key.as_str()),
            ("capacity" | "overhead" | "hard", _) => Some(key.as_str()),
            _ => None,
        };
        quantities(v, here, next, problems);
    }
}

/// The apiVersion Kubernetes serves a built-in kind at (from k8s-openapi's own types).
fn builtin_api_version(kind: &str) -> Option<&'static str> {
    use k8s_openapi::Resource;
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};
    use k8s_openapi::api::{autoscaling::v2 as hpa, storage::v1 as storage};
    use k8s_openapi::api::{networking::v1 as net, policy::v1 as policy, rbac::v1 as rbac};
    fn pair<T: Resource>() -> (&'static str, &'static str) {
        (T::KIND, T::API_VERSION)
    }
    let known = [
        pair::<core::ConfigMap>(),
        pair::<core::Secret>(),
        pair::<core::Service>(),
        pair::<core::Pod>(),
        pair::<core::ReplicationController>(),
        pair::<core::PersistentVolume>(),
        pair::<core::PersistentVolumeClaim>(),
        pair::<core::ServiceAccount>(),
        pair::<core::Endpoints>(),
        pair::<core::LimitRange>(),
        pair::<core::ResourceQuota>(),
        pair::<apps::StatefulSet>(),
        pair::<apps::Deployment>(),
        pair::<apps::DaemonSet>(),
        pair::<apps::ReplicaSet>(),
        pair::<batch::Job>(),
        pair::<batch::CronJob>(),
        pair::<policy::PodDisruptionBudget>(),
        pair::<rbac::Role>(),
        pair::<rbac::RoleBinding>(),
        pair::<rbac::ClusterRole>(),
        pair::<rbac::ClusterRoleBinding>(),
        pair::<storage::StorageClass>(),
        pair::<net::NetworkPolicy>(),
        pair::<net::Ingress>(),
        pair::<hpa::HorizontalPodAutoscaler>(),
    ];
    known.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v)
}

fn check_typed(api_version: &str, kind: &str, value: &Value) -> Result<(), String> {
    use k8s_openapi::api::{
        apps::v1 as apps, batch::v1 as batch, core::v1 as core, policy::v1 as policy,
    };
    use k8s_openapi::api::{rbac::v1 as rbac, storage::v1 as storage};
    match (api_version, kind) {
        ("v1", "ConfigMap") => round_trip::<core::ConfigMap>(value),
        ("v1", "Secret") => round_trip::<core::Secret>(value),
        ("v1", "Service") => round_trip::<core::Service>(value),
        ("v1", "Pod") => round_trip::<core::Pod>(value),
        ("v1", "ReplicationController") => round_trip::<core::ReplicationController>(value),
        ("v1", "PersistentVolume") => round_trip::<core::PersistentVolume>(value),
        ("v1", "PersistentVolumeClaim") => round_trip::<core::PersistentVolumeClaim>(value),
        ("v1", "ServiceAccount") => round_trip::<core::ServiceAccount>(value),
        ("apps/v1", "StatefulSet") => round_trip::<apps::StatefulSet>(value),
        ("apps/v1", "Deployment") => round_trip::<apps::Deployment>(value),
        ("apps/v1", "DaemonSet") => round_trip::<apps::DaemonSet>(value),
        ("apps/v1", "ReplicaSet") => round_trip::<apps::ReplicaSet>(value),
        ("batch/v1", "Job") => round_trip::<batch::Job>(value),
        ("policy/v1", "PodDisruptionBudget") => round_trip::<policy::PodDisruptionBudget>(value),
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<rbac::Role>(value),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<rbac::RoleBinding>(value),
        ("storage.k8s.io/v1", "StorageClass") => round_trip::<storage::StorageClass>(value),
        _ => Ok(()), // custom resources and other kinds are checked by the API server
    }
}

/// Deserializes into `T` and back; any field present before and missing after was not a field of
/// the type (a typo or a field at the wrong level).
fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<(), String> {
    let typed: T =
        serde_json::from_value(value.clone()).map_err(|e| format!("does not deserialize: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("does not serialize back: {e}"))?;
    let mut dropped = vec![];
    dropped_fields(value, &back, String::new(), &mut dropped);
    if dropped.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "has fields the {} type does not know (misspelt or misplaced?): {}",
            kind_of(value),
            dropped.join(", ")
        ))
    }
}

fn kind_of(value: &Value) -> &str {
    value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("object")
}

fn dropped_fields(before: &Value, after: &Value, path: String, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, v) in b {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match a.get(k) {
                    None if !v.is_null() => out.push(p),
                    Some(av) => dropped_fields(v, av, p, out),
                    None => {}
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                dropped_fields(bv, av, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn accepts_a_valid_statefulset_and_reports_a_misspelt_field() {
        let good = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: c}\nspec:\n  serviceName: c\n  replicas: 1\n  selector: {matchLabels: {app: c}}\n  template:\n    metadata: {labels: {app: c}}\n    spec: {containers: [{name: c, image: 'cassandra:4.1.11'}]}\n";
        let (m, p) = parse_documents("s.yaml", good);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(m[0].kind(), "StatefulSet");
        let typo = good.replace("replicas: 1", "replica: 1");
        let (_, p) = parse_documents("s.yaml", &typo);
        assert!(p[0].message.contains("spec.replica"), "{p:?}");
        assert_eq!(p[0].line, Some(1));
    }

    #[test]
    fn reports_non_objects_removed_apis_and_multi_document_lines() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# second\napiVersion: apps/v1beta1\nkind: StatefulSet\nmetadata: {name: b}\n---\n- just\n- a list\n";
        let (m, p) = parse_documents("x.yaml", text);
        assert_eq!(m.len(), 1);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].message.contains("removed in 1.16"));
        assert_eq!(p[0].line, Some(6));
        assert!(p[1].message.contains("not a Kubernetes object"));
        assert_eq!(p[1].line, Some(10));
    }

    #[test]
    fn built_in_kinds_must_use_their_api_version() {
        let v: Value = serde_json::json!({"apiVersion": "v1", "kind": "StatefulSet", "metadata": {"name": "x"}});
        let problems = check_object(&v).unwrap_err();
        assert!(
            problems[0].contains("`apiVersion: apps/v1`, not `v1`"),
            "{problems:?}"
        );
        let crd: Value = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Cassandra", "metadata": {"name": "x"}});
        assert!(check_object(&crd).is_ok());
    }

    #[test]
    fn refuses_namespaces_and_foreign_namespace_fields() {
        let v: Value =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}});
        assert!(check_object(&v).is_err());
        let v: Value = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}});
        assert!(check_object(&v).unwrap_err()[0].contains("namespace"));
    }
}

#[cfg(test)]
mod image_tests {
    use super::image_problem;

    // Layer 1 (pure): the OCI reference grammar, as the kubelet and Docker parse it.
    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for good in [
            "busybox",
            "busybox:1.36",
            "library/busybox:1.36",
            "docker.io/library/mariadb:11.4.4",
            "localhost:5000/team/app:v1.2-rc_3",
            "registry.example.com:443/a/b/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "[::1]:5000/app:1",
            "jphalip/mcrouter:0.36.0",
        ] {
            assert_eq!(image_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("-v", "starts with `-`"),
            ("--help", "starts with `-`"),
            ("BusyBox:1", "lowercase"),
            ("Library/busybox", "lowercase"),
            ("quay.io/Org/app:1", "lowercase"),
            ("busy box", "white space"),
            ("busybox@sha256:abc", "digest"),
            (
                "busybox@sha256:0123456789abcdef0123456789abcdef",
                "64 hex digits, this one 32",
            ),
            ("busybox:", "does not follow"),
            ("busybox::1", "does not follow"),
            ("a//b", "does not follow"),
        ] {
            let problem = image_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(problem.contains(why), "{bad}: {problem}");
        }
        let long = format!("{}:1", "a".repeat(256));
        assert!(image_problem(&long).unwrap().contains("255"));
    }
}
