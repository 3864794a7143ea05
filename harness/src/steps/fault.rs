//! `fault`: deletes a pod (and waits for its replacement), cordons or uncordons a node, or scales
//! a workload to zero and back. A cordon registers an uncordon for clean-up.

use super::scale::scalable;
use super::{StepContext, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::Fault;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Raw {
    /// Delete a pod; by default wait for a replacement (new UID) to be Ready.
    DeletePod {
        name: String,
        #[serde(default = "yes")]
        wait_for_replacement: bool,
    },
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    /// Scale a workload to zero, wait until its pods are gone, scale it back and wait for rollout.
    ScaleToZeroAndBack {
        kind: String,
        name: String,
    },
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultStep(pub Fault);

#[async_trait::async_trait]
impl StepKind for FaultStep {
    const NAME: &'static str = "fault";
    const DOC: &'static str = "Inject a fault: `delete_pod`, `cordon`/`uncordon` a node, or `scale_to_zero_and_back`; guards excuse what it causes.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        Some(FaultStep(match raw {
            Raw::DeletePod {
                name,
                wait_for_replacement,
            } => Fault::DeletePod {
                name,
                wait_for_replacement,
            },
            Raw::Cordon { node } => Fault::Cordon { node },
            Raw::Uncordon { node } => Fault::Uncordon { node },
            Raw::ScaleToZeroAndBack { kind, name } => Fault::ScaleToZeroAndBack {
                kind: scalable(cx, &format!("{path}.scale_to_zero_and_back.kind"), &kind)?,
                name,
            },
        }))
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        let undo = ctx
            .cluster
            .fault(ctx.namespace(), &self.0, ctx.timeout)
            .await?;
        ctx.register(undo);
        Ok(match &self.0 {
            Fault::DeletePod {
                name,
                wait_for_replacement: true,
            } => format!("deleted pod {name}; its replacement is Ready"),
            Fault::DeletePod { name, .. } => format!("deleted pod {name}"),
            Fault::Cordon { node } => format!("cordoned node {node}"),
            Fault::Uncordon { node } => format!("uncordoned node {node}"),
            Fault::ScaleToZeroAndBack { kind, name } => {
                format!("scaled {}/{name} to zero and back", kind.as_str())
            }
        })
    }

    fn summary(&self) -> String {
        match &self.0 {
            Fault::DeletePod {
                name,
                wait_for_replacement,
            } => format!(
                "fault: delete pod {name}{}",
                if *wait_for_replacement {
                    " and wait for its replacement"
                } else {
                    ""
                }
            ),
            Fault::Cordon { node } => format!("fault: cordon node {node}"),
            Fault::Uncordon { node } => format!("fault: uncordon node {node}"),
            Fault::ScaleToZeroAndBack { kind, name } => {
                format!("fault: scale {}/{name} to zero and back", kind.as_str())
            }
        }
    }

    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        use crate::cluster::Disrupted;
        Some(match &self.0 {
            Fault::DeletePod { name, .. } => Disrupted::Pods(vec![name.clone()]),
            Fault::Cordon { .. } | Fault::Uncordon { .. } | Fault::ScaleToZeroAndBack { .. } => {
                Disrupted::AnyPod
            }
        })
    }
}
