//! Cassandra checks that run `nodetool` inside the pods: `cassandra.ring` (every pod's view
//! agrees, N nodes `UN`, unique host IDs, every pod's IP present, optionally stable for a
//! window), `cassandra.identity` (a replaced pod keeps its host ID, no ghost `DN` node) and
//! `cassandra.snapshot` (take, list, clear). They reach the pods through [`PodShell`], which the
//! cluster layer implements with exec, so the judgements are tested on recorded outputs.

use super::cql::NodetoolView;
use super::nodetool::{Ring, parse_status};
use super::{CassandraIdentitySpec, CassandraRingSpec, CassandraSnapshotSpec, Verdict, nonce};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

/// A pod: name and IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub ip: Option<String>,
}

/// What the Cassandra checks need from the cluster.
#[async_trait]
pub trait PodShell: Send + Sync {
    async fn pods(&self, selector: &str) -> Result<Vec<PodRef>, String>;
    /// Runs a command; `Ok((exit code, stdout + stderr))`.
    async fn run(
        &self,
        pod: &str,
        container: Option<&str>,
        command: &[&str],
    ) -> Result<(i32, String), String>;
}

/// Each pod's parsed view of the ring.
pub type Views = Vec<(PodRef, Result<Ring, String>)>;

/// One pod's `nodetool status`, parsed.
async fn status_of(
    shell: &dyn PodShell,
    pod: &str,
    container: Option<&str>,
) -> Result<Ring, String> {
    match shell.run(pod, container, &["nodetool", "status"]).await? {
        (0, text) => parse_status(&text).map_err(|e| e.to_string()),
        (code, text) => Err(format!("nodetool status exited {code}: {}", text.trim())),
    }
}

async fn views(
    shell: &dyn PodShell,
    selector: &str,
    container: Option<&str>,
) -> Result<Views, String> {
    let pods = shell.pods(selector).await?;
    if pods.is_empty() {
        return Err(format!("no pod matches `{selector}`"));
    }
    let mut out = vec![];
    for pod in pods {
        let view = status_of(shell, &pod.name, container).await;
        out.push((pod, view));
    }
    Ok(out)
}

/// `nodetool status` in the first pod of `selector`, for `cql` to compare with
/// `system.local` / `system.peers`.
pub async fn first_pod_view(
    shell: &dyn PodShell,
    selector: &str,
    container: Option<&str>,
) -> Result<NodetoolView, String> {
    let pod = shell
        .pods(selector)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| format!("no pod matches `{selector}`"))?;
    let ring = status_of(shell, &pod.name, container)
        .await
        .map_err(|e| format!("{}: {e}", pod.name))?;
    Ok(NodetoolView {
        pod: pod.name,
        ring,
    })
}

fn render(views: &Views) -> Vec<String> {
    views
        .iter()
        .map(|(pod, view)| match view {
            Ok(ring) => format!(
                "{} sees: {}",
                pod.name,
                ring.nodes
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Err(e) => format!("{}: {e}", pod.name),
        })
        .collect()
}

/// The ring judgement (pure).
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
    let nodes = spec.nodes.max(0) as usize;
    let first = match views(shell, &spec.pods, spec.container.as_deref()).await {
        Ok(v) => v,
        Err(e) => return Verdict::fail(e, vec![]),
    };
    let verdict = judge_ring(&first, nodes);
    let Some(window) = spec
        .stable_for
        .as_deref()
        .and_then(|w| humantime::parse_duration(w).ok())
    else {
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

pub async fn snapshot(spec: &CassandraSnapshotSpec, shell: &dyn PodShell) -> Verdict {
    let tag = format!("harness-{}", nonce());
    let c = spec.container.as_deref();
    let mut log = vec![];
    let mut step = |cmd: Vec<&str>, text: String, code: i32| {
        log.push(format!(
            "$ {} -> exit {code}\n{}",
            cmd.join(" "),
            text.trim()
        ))
    };
    let take = ["nodetool", "snapshot", "-t", &tag, spec.keyspace.as_str()];
    match shell.run(&spec.pod, c, &take).await {
        Ok((0, text)) => step(take.to_vec(), text, 0),
        Ok((code, text)) => {
            return Verdict::fail(
                format!(
                    "{}: nodetool snapshot exited {code}: {}",
                    spec.pod,
                    text.trim()
                ),
                log,
            );
        }
        Err(e) => return Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
    let list = ["nodetool", "listsnapshots"];
    match shell.run(&spec.pod, c, &list).await {
        Ok((0, text)) if text.contains(&tag) => step(list.to_vec(), text, 0),
        Ok((code, text)) => {
            return Verdict::fail(
                format!("{}: listsnapshots does not show {tag}", spec.pod),
                [log, vec![format!("exit {code}: {text}")]].concat(),
            );
        }
        Err(e) => return Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
    // 4.x and later refuse `clearsnapshot` without -t or --all.
    let clear = [
        "nodetool",
        "clearsnapshot",
        "-t",
        &tag,
        "--",
        spec.keyspace.as_str(),
    ];
    match shell.run(&spec.pod, c, &clear).await {
        Ok((0, text)) => step(clear.to_vec(), text, 0),
        Ok((code, text)) => {
            return Verdict::fail(
                format!("{}: clearsnapshot exited {code}: {}", spec.pod, text.trim()),
                log,
            );
        }
        Err(e) => return Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
    match shell.run(&spec.pod, c, &list).await {
        Ok((0, text)) if !text.contains(&tag) => Verdict::pass(
            format!(
                "snapshot {tag} of {} taken, listed and cleared on {}",
                spec.keyspace, spec.pod
            ),
            log,
        ),
        Ok((_, text)) => Verdict::fail(
            format!(
                "{}: snapshot {tag} is still listed after clearsnapshot",
                spec.pod
            ),
            [log, vec![text]].concat(),
        ),
        Err(e) => Verdict::fail(format!("{}: {e}", spec.pod), log),
    }
}

/// Bound on one `nodetool` call.
pub const NODETOOL_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests;
