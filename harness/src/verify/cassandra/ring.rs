//! `cassandra.ring`: `nodetool status` in every pod; all views agree, N nodes `UN`, unique host
//! IDs, every pod's IP present; optionally stable (sampled) for a window.

use super::{PodShell, Views, render, views};
use crate::check::Checker;
use crate::verify::{Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// Cassandra pods; `nodetool status` runs in each of them.
    pub pods: String,
    pub container: Option<String>,
    /// Number of `UN` nodes every pod must see.
    pub nodes: i64,
    /// Optionally require the ring to stay unchanged for this long, e.g. `30s`.
    pub stable_for: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CassandraRingSpec {
    pub pods: String,
    pub container: Option<String>,
    pub nodes: u32,
    pub stable_for: Option<Duration>,
}

#[async_trait::async_trait]
impl Verifier for CassandraRingSpec {
    const NAME: &'static str = "cassandra.ring";
    const CHECKS: &'static str = "`nodetool status` in every pod: all views agree, `nodes` nodes `UN`, unique host IDs, every pod's IP present; optional `stable_for` window, looked at every `window/6` (1-10 s), so a node that flaps down and back inside it fails";
    const FROM_VERIFY: bool = false;
    type Raw = Raw;

    fn lasts_at_least(&self) -> Option<(&'static str, std::time::Duration)> {
        self.stable_for.map(|d| ("stable_for", d))
    }

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let nodes = cx.count_within(&format!("{path}.nodes"), raw.nodes, 1, 1000);
        let pods = cx.selector(&format!("{path}.pods"), &raw.pods);
        let stable_for = match &raw.stable_for {
            Some(d) => Some(cx.duration(&format!("{path}.stable_for"), d)?),
            None => None,
        };
        Some(Self {
            pods: pods?,
            container: raw.container,
            nodes: nodes?,
            stable_for,
        })
    }

    fn from_flags(_: &VerifyFlags) -> Result<Self::Raw, String> {
        Err("cassandra.ring runs nodetool in pods: run it from a scenario step, not from `harness verify`".into())
    }

    fn needs_cluster(&self) -> bool {
        true
    }

    type Shape = crate::verify::NoTargets;

    fn targets(&self) {}

    async fn run(&self, cx: &VerifyContext<'_>, (): ()) -> Verdict {
        ring(self, cx.pods).await
    }
}

pub fn judge_ring(views: &Views, nodes: usize) -> Verdict {
    let mut problems = vec![];
    let mut distinct = BTreeSet::new();
    for (pod, view) in views {
        let ring = match view {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: {e}", pod.name));
                continue;
            }
        };
        let up: Vec<_> = ring.nodes.iter().filter(|n| n.is_up_normal()).collect();
        if up.len() != nodes {
            problems.push(format!(
                "{} sees {} UN node(s), expected {nodes}",
                pod.name,
                up.len()
            ));
        }
        let others: Vec<String> = ring
            .nodes
            .iter()
            .filter(|n| !n.is_up_normal())
            .map(|n| n.to_string())
            .collect();
        if !others.is_empty() {
            problems.push(format!(
                "{} sees nodes that are not UN: {}",
                pod.name,
                others.join(", ")
            ));
        }
        let ids: BTreeSet<&str> = ring.nodes.iter().map(|n| n.host_id.as_str()).collect();
        if ids.len() != ring.nodes.len() {
            problems.push(format!("{} sees duplicate host IDs", pod.name));
        }
        distinct.insert(
            ring.nodes
                .iter()
                .map(|n| (n.address.clone(), n.code(), n.host_id.clone()))
                .collect::<BTreeSet<_>>(),
        );
    }
    let addresses: BTreeSet<String> = views
        .iter()
        .filter_map(|(_, v)| v.as_ref().ok())
        .flat_map(|r| r.nodes.iter().map(|n| n.address.clone()))
        .collect();
    for (pod, _) in views {
        if let Some(ip) = &pod.ip
            && !addresses.contains(ip)
        {
            problems.push(format!(
                "{} ({ip}) is in no pod's view of the ring",
                pod.name
            ));
        }
    }
    if distinct.len() > 1 {
        problems.push(format!(
            "the pods disagree: {} different views",
            distinct.len()
        ));
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{} pod(s) agree: {nodes} nodes UN with unique host IDs",
                views.len()
            ),
            render(views),
        )
    } else {
        Verdict::fail(problems.join("; "), render(views))
    }
}

pub async fn ring(spec: &CassandraRingSpec, shell: &dyn PodShell) -> Verdict {
    let nodes = spec.nodes as usize;
    let first = match views(shell, &spec.pods, spec.container.as_deref()).await {
        Ok(v) => v,
        Err(e) => return Verdict::fail(e, vec![]),
    };
    let verdict = judge_ring(&first, nodes);
    let Some(window) = spec.stable_for else {
        return verdict;
    };
    if !verdict.passed {
        return verdict;
    }
    stay_stable(spec, shell, nodes, first, window).await
}

/// How often the ring is looked at during a stability window: gossip has no event stream to
/// watch, so the window is sampled, often enough to catch a node that flaps down and back.
pub fn stability_sample(window: Duration) -> Duration {
    (window / 6).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// The ring must look the same (and pass) at every sample until the window has passed.
async fn stay_stable(
    spec: &CassandraRingSpec,
    shell: &dyn PodShell,
    nodes: usize,
    first: Views,
    window: Duration,
) -> Verdict {
    let snapshot = |v: &Views| {
        v.iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|r| {
                r.nodes
                    .iter()
                    .map(|n| (n.address.clone(), n.host_id.clone(), n.code()))
                    .collect::<BTreeSet<_>>()
            })
            .collect::<BTreeSet<_>>()
    };
    let start = tokio::time::Instant::now();
    let every = stability_sample(window);
    let mut ticks = tokio::time::interval_at(start + every, every);
    let mut samples = 0;
    loop {
        let at = ticks.tick().await.min(start + window);
        let elapsed = humantime::format_duration(at - start);
        let now = match views(shell, &spec.pods, spec.container.as_deref()).await {
            Ok(v) => v,
            Err(e) => return Verdict::fail(format!("{e} ({elapsed} into the window)"), vec![]),
        };
        samples += 1;
        let judged = judge_ring(&now, nodes);
        if !judged.passed || snapshot(&first) != snapshot(&now) {
            let why = if judged.passed {
                "the ring changed".to_string()
            } else {
                judged.summary
            };
            return Verdict::fail(
                format!(
                    "{why}, {elapsed} into the {} stability window",
                    humantime::format_duration(window)
                ),
                [render(&first), render(&now)].concat(),
            );
        }
        if at >= start + window {
            return Verdict::pass(
                format!(
                    "{} pod(s) agree: {nodes} nodes UN with unique host IDs, unchanged over {} ({samples} looks)",
                    now.len(),
                    humantime::format_duration(window)
                ),
                render(&now),
            );
        }
    }
}
