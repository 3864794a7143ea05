//! `cassandra.identity`: the first use records `pod`'s host ID; a later use (after the pod was
//! replaced) requires the same host ID and no `DN` ghost.

use super::{PodShell, Views, render, views};
use crate::check::Checker;
use crate::verify::{Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub pods: String,
    pub container: Option<String>,
    /// The pod that is replaced between the two observations.
    pub pod: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CassandraIdentitySpec {
    pub pods: String,
    pub container: Option<String>,
    pub pod: String,
}

#[async_trait::async_trait]
impl Verifier for CassandraIdentitySpec {
    const NAME: &'static str = "cassandra.identity";
    const CHECKS: &'static str = "first use records `pod`'s host ID; a later use (after the pod was replaced) requires the same host ID and no `DN` ghost";
    const FROM_VERIFY: bool = false;
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        Some(Self {
            pods: cx.selector(&format!("{path}.pods"), &raw.pods)?,
            container: raw.container,
            pod: raw.pod,
        })
    }

    fn from_flags(_: &VerifyFlags) -> Result<Self::Raw, String> {
        Err("cassandra.identity runs nodetool in pods: run it from a scenario step, not from `harness verify`".into())
    }

    fn needs_cluster(&self) -> bool {
        true
    }

    type Shape = crate::verify::NoTargets;

    fn targets(&self) {}

    async fn run(&self, cx: &VerifyContext<'_>, (): ()) -> Verdict {
        identity(self, cx.pods, cx.facts).await
    }
}

/// Identity across a pod replacement (pure part): `before` is the host ID recorded for the pod
/// at the first observation, if any.
pub fn judge_identity(pod: &str, views: &Views, before: Option<&str>) -> (Verdict, Option<String>) {
    let Some((me, Ok(ring))) = views.iter().find(|(p, _)| p.name == pod) else {
        return (
            Verdict::fail(format!("{pod}: no ring view"), render(views)),
            None,
        );
    };
    let Some(ip) = me.ip.as_deref() else {
        return (
            Verdict::fail(format!("{pod} has no IP"), render(views)),
            None,
        );
    };
    let Some(node) = ring.nodes.iter().find(|n| n.address == ip) else {
        return (
            Verdict::fail(
                format!("{pod} ({ip}) is not in its own view of the ring"),
                render(views),
            ),
            None,
        );
    };
    let mut problems = vec![];
    if !node.is_up_normal() {
        problems.push(format!("{pod} is {}", node.code()));
    }
    let ghosts: Vec<String> = views
        .iter()
        .filter_map(|(_, v)| v.as_ref().ok())
        .flat_map(|r| {
            r.nodes
                .iter()
                .filter(|n| n.status == super::nodetool::Status::Down)
                .map(|n| n.to_string())
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !ghosts.is_empty() {
        problems.push(format!(
            "ghost node(s) still in the ring: {}",
            ghosts.join(", ")
        ));
    }
    let summary = match before {
        None => format!(
            "{pod} has host ID {} (recorded for the comparison after its replacement)",
            node.host_id
        ),
        Some(old) if old == node.host_id => format!("{pod} kept host ID {old} (now at {ip})"),
        Some(old) => {
            problems.push(format!(
                "{pod} changed host ID from {old} to {}: it lost its data and joined as a new node",
                node.host_id
            ));
            String::new()
        }
    };
    let verdict = if problems.is_empty() {
        Verdict::pass(summary, render(views))
    } else {
        Verdict::fail(problems.join("; "), render(views))
    };
    (verdict, Some(node.host_id.clone()))
}

pub async fn identity(
    spec: &CassandraIdentitySpec,
    shell: &dyn PodShell,
    facts: &Mutex<BTreeMap<String, String>>,
) -> Verdict {
    let views = match views(shell, &spec.pods, spec.container.as_deref()).await {
        Ok(v) => v,
        Err(e) => return Verdict::fail(e, vec![]),
    };
    let key = format!("cassandra.identity/{}", spec.pod);
    let before = facts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .cloned();
    let (verdict, host_id) = judge_identity(&spec.pod, &views, before.as_deref());
    if let (None, Some(id)) = (before, host_id) {
        facts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, id);
    }
    verdict
}
