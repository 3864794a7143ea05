//! `workload`: starts a background workload under an id, or stops one. It keeps writing while
//! the following steps run (faults, scales, restarts); `verify: { workload: <id> }` checks its
//! ledger later (see `verify/workload.rs`).
//!
//! ```yaml
//! - workload:
//!     start: writes
//!     galera.writes:
//!       target: { pods: app=galera-ss, port: 3306 }
//!       credentials: { user: root, password: { var: galera_root_password } }
//!       writers_per_node: 2
//!       delete_every: 5
//! - fault: { delete_pod: { name: galera-ss-1, wait_for_replacement: true } }
//! - workload: { stop: writes }
//! - verify: { workload: writes }
//! ```

use super::verify::{login_for, resolve};
use super::{StepContext, StepFailure, StepKind, StepResult};
use crate::check::Checker;
use crate::verify::galera::{acknowledged_writes as writes, drop_later, establish};
use crate::verify::{Credentials, RawCredentials, RawTarget, Target, nonce};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub start: Option<String>,
    pub stop: Option<String>,
    #[serde(rename = "galera.writes")]
    pub galera_writes: Option<RawGaleraWrites>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGaleraWrites {
    pub target: RawTarget,
    pub credentials: RawCredentials,
    #[serde(default = "one")]
    pub writers_per_node: i64,
    /// Delete every Nth acknowledged row (0: never).
    #[serde(default = "five")]
    pub delete_every: i64,
}

fn one() -> i64 {
    1
}
fn five() -> i64 {
    5
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadStep {
    Start { id: String, galera: GaleraWrites },
    Stop { id: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraWrites {
    pub target: Target,
    pub credentials: Credentials,
    pub writers_per_node: u32,
    pub delete_every: u32,
}

#[async_trait::async_trait]
impl StepKind for WorkloadStep {
    const NAME: &'static str = "workload";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        if !cx.exactly_one(
            path,
            &[("start", raw.start.is_some()), ("stop", raw.stop.is_some())],
        ) {
            return None;
        }
        if let Some(id) = raw.stop {
            if raw.galera_writes.is_some() {
                cx.error(
                    &format!("{path}.galera.writes"),
                    "a `stop` names the workload only; its kind was given when it started",
                );
                return None;
            }
            return Some(WorkloadStep::Stop { id });
        }
        let id = raw.start?;
        let Some(g) = raw.galera_writes else {
            cx.error(path, "say what to start: `galera.writes`");
            return None;
        };
        let at = format!("{path}.galera.writes");
        let target = g.target.check(cx, &format!("{at}.target"), 1);
        let credentials = g.credentials.check(cx, &format!("{at}.credentials"));
        let writers = cx.count(&format!("{at}.writers_per_node"), g.writers_per_node, 1);
        let delete_every = cx.count(&format!("{at}.delete_every"), g.delete_every, 0);
        Some(WorkloadStep::Start {
            id,
            galera: GaleraWrites {
                target: target?,
                credentials: credentials?,
                writers_per_node: writers?,
                delete_every: delete_every?,
            },
        })
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        match self {
            WorkloadStep::Stop { id } => ctx
                .state
                .workloads
                .stop(id)
                .await
                .map_err(|e| StepFailure::failed(e, "")),
            WorkloadStep::Start { id, galera } => {
                let nodes = resolve(ctx, &galera.target).await?;
                let login = login_for(Some(&galera.credentials), "galera.writes", ctx).await?;
                let login = crate::verify::galera::Login {
                    user: login.user.unwrap_or_default(),
                    password: login.password,
                };
                establish(&nodes, &login)
                    .await
                    .map_err(|e| StepFailure::failed(format!("galera.writes: {e}"), ""))?;
                let db = format!("harness_workload_{}", nonce());
                // The drop is registered before the first write: it runs however the run ends.
                drop_later(Some(&ctx.state.undo), &nodes, &login, &db);
                let table = writes::prepare_named(&nodes, &login, &db)
                    .await
                    .map_err(|e| StepFailure::failed(format!("galera.writes: {e}"), ""))?;
                let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
                ctx.state
                    .workloads
                    .start_galera(
                        id,
                        nodes,
                        login,
                        table,
                        galera.writers_per_node as usize,
                        u64::from(galera.delete_every),
                    )
                    .map_err(|e| StepFailure::failed(e, ""))?;
                Ok(format!(
                    "workload `{id}` started: {} writer(s) on each of {}",
                    galera.writers_per_node,
                    names.join(", ")
                ))
            }
        }
    }

    fn summary(&self) -> String {
        match self {
            WorkloadStep::Start { id, galera } => format!(
                "start workload `{id}`: galera.writes, {} writer(s) per node",
                galera.writers_per_node
            ),
            WorkloadStep::Stop { id } => format!("stop workload `{id}`"),
        }
    }

    fn needs_cluster(&self) -> bool {
        match self {
            WorkloadStep::Start { galera, .. } => galera.target.needs_cluster(),
            WorkloadStep::Stop { .. } => false,
        }
    }

    fn workload_refs(&self) -> Vec<(&'static str, String)> {
        match self {
            WorkloadStep::Stop { id } => vec![("stop", id.clone())],
            WorkloadStep::Start { .. } => vec![],
        }
    }

    fn starts_workload(&self) -> Option<&str> {
        match self {
            WorkloadStep::Start { id, .. } => Some(id),
            WorkloadStep::Stop { .. } => None,
        }
    }
}
