//! `http`: a GET on every target returns the expected status and contains the expected text;
//! with `metric_family`, the body is Prometheus text that has that family (`# TYPE name ...` or
//! a sample line `name{...} value` / `name value`).

use super::client::request;
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{Need, One};
use crate::verify::{RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    #[serde(default = "default_http_path")]
    pub path: String,
    #[serde(default = "default_status")]
    pub status: i64,
    #[serde(default)]
    pub contains: Vec<String>,
    /// A Prometheus metric family that must appear (`# TYPE <name>` or a sample line).
    pub metric_family: Option<String>,
}

fn default_http_path() -> String {
    "/".into()
}
fn default_status() -> i64 {
    200
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpSpec {
    pub target: Target,
    pub path: String,
    pub status: u16,
    pub contains: Vec<String>,
    pub metric_family: Option<String>,
}

#[async_trait::async_trait]
impl Verifier for HttpSpec {
    const NAME: &'static str = "http";
    const CHECKS: &'static str =
        "GET `path` returns `status`, contains text, or a Prometheus `metric_family`";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        if !raw.path.starts_with('/') {
            cx.error(&format!("{path}.path"), "an HTTP path starts with `/`");
        }
        let status = match u16::try_from(raw.status) {
            Ok(s) if (100..=599).contains(&s) => Some(s),
            _ => {
                cx.error(
                    &format!("{path}.status"),
                    format!("{} is not an HTTP status", raw.status),
                );
                None
            }
        };
        if !raw.path.starts_with('/') {
            return None;
        }
        Some(Self {
            target: target?,
            path: raw.path,
            status: status?,
            contains: raw.contains,
            metric_family: raw.metric_family,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            path: flags.path.clone().unwrap_or_else(default_http_path),
            status: default_status(),
            contains: vec![],
            metric_family: flags.metric_family.clone(),
        })
    }

    type Shape = One<()>;

    fn targets(&self) -> One<Need<'_>> {
        One {
            target: Need {
                target: &self.target,
                min: 1,
            },
        }
    }

    async fn run(&self, _: &VerifyContext<'_>, at: One<Vec<Endpoint>>) -> Verdict {
        check(self, &at.target).await
    }
}

pub async fn check(spec: &HttpSpec, targets: &[Endpoint]) -> Verdict {
    let mut problems = vec![];
    let mut evidence = vec![];
    for t in targets {
        match request(t, "GET", &spec.path, None).await {
            Err(e) => problems.push(e),
            Ok(r) => {
                evidence.push(format!(
                    "{t}: GET {} -> HTTP {} ({} bytes)",
                    spec.path,
                    r.status,
                    r.body.len()
                ));
                if r.status != spec.status {
                    problems.push(format!("{t}: HTTP {} (expected {})", r.status, spec.status));
                }
                for needle in &spec.contains {
                    if !r.body.contains(needle.as_str()) {
                        problems.push(format!("{t}: body does not contain `{needle}`"));
                    }
                }
                if let Some(family) = &spec.metric_family
                    && !has_metric_family(&r.body, family)
                {
                    problems.push(format!("{t}: no metric family `{family}` in the response"));
                }
            }
        }
    }
    if problems.is_empty() {
        Verdict::pass(
            format!("{} endpoint(s) answered as expected", targets.len()),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

pub fn has_metric_family(body: &str, family: &str) -> bool {
    body.lines().any(|line| {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            return rest.split_whitespace().next() == Some(family);
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        !line.starts_with('#')
            && (name == family
                || name
                    .strip_prefix(family)
                    .is_some_and(|s| ["_total", "_count", "_sum", "_bucket"].contains(&s)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn finds_metric_families_by_type_line_or_sample() {
        let body = "# HELP jvm_memory_bytes_used Used bytes\n# TYPE jvm_memory_bytes_used gauge\njvm_memory_bytes_used{area=\"heap\"} 1.0\ncassandra_requests_total 4\n";
        assert!(has_metric_family(body, "jvm_memory_bytes_used"));
        assert!(has_metric_family(body, "cassandra_requests"));
        assert!(!has_metric_family(body, "jvm_memory"));
        assert!(!has_metric_family(body, "missing"));
    }
}

#[cfg(test)]
mod rig {
    use super::*;
    use crate::testing::eps;
    use harness_testkit::rig;

    // Layer 2 (real servers): etcd serves real Prometheus text on /metrics, the way a Cassandra
    // pod with a Prometheus exporter does on a cluster (that one runs only there).
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_metric_family_is_found_in_real_prometheus_text_and_problems_are_named() {
        let (nodes, endpoints) = rig::etcd(1).await;
        let endpoints = eps(endpoints);
        let spec = |path: &str, family: &str| HttpSpec {
            target: Default::default(),
            path: path.into(),
            status: 200,
            contains: vec![],
            metric_family: Some(family.into()),
        };
        let v = check(&spec("/metrics", "etcd_server_has_leader"), &endpoints).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.evidence[0].contains("GET /metrics -> HTTP 200"),
            "{:?}",
            v.evidence
        );

        let e = &endpoints[0];
        let v = check(
            &spec("/metrics", "cassandra_clientrequest_latency"),
            &endpoints,
        )
        .await;
        assert_eq!(
            v.summary,
            format!("{e}: no metric family `cassandra_clientrequest_latency` in the response")
        );
        let v = check(&spec("/no-such-path", "etcd_server_has_leader"), &endpoints).await;
        assert!(
            v.summary
                .starts_with(&format!("{e}: HTTP 404 (expected 200)")),
            "{}",
            v.summary
        );

        nodes[0].stop().await;
        let v = check(&spec("/metrics", "etcd_server_has_leader"), &endpoints).await;
        assert!(!v.passed);
        assert!(v.summary.contains(&e.to_string()), "{}", v.summary);
    }
}
