//! Cassandra checks that run `nodetool` inside the pods: `cassandra.ring` (every pod's view
//! agrees, N nodes `UN`, unique host IDs, every pod's IP present, optionally stable for a
//! window), `cassandra.identity` (a replaced pod keeps its host ID, no ghost `DN` node) and
//! `cassandra.snapshot` (take, list, clear). They reach the pods through [`PodShell`], which the
//! cluster layer implements with exec, so the judgements are tested on recorded outputs. One file
//! per verifier (`ring`, `identity`, `snapshot`, `cql`); `nodetool` parses `nodetool status`.

pub mod cql;
pub mod identity;
pub mod nodetool;
pub mod probe;
pub mod ring;
pub mod session;
pub mod snapshot;
pub mod writes;

pub use identity::{identity, judge_identity};
pub use ring::{judge_ring, ring, stability_sample};
pub use snapshot::snapshot;

pub use super::{PodRef, PodShell};
use cql::NodetoolView;
use nodetool::{Ring, parse_status};

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

pub(crate) async fn views(
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

pub(crate) fn render(views: &Views) -> Vec<String> {
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

#[cfg(test)]
mod tests;
