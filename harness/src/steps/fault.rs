//! `fault`: deletes a pod (and waits for its replacement), cordons or uncordons a node, or scales
//! a workload to zero and back. A cordon registers an uncordon for clean-up.

use super::{StepContext, StepResult};
use crate::scenario::raw::FaultSpec;

pub async fn run(spec: &FaultSpec, ctx: &StepContext<'_>) -> StepResult {
    let undo = ctx
        .cluster
        .fault(ctx.namespace(), spec, ctx.timeout)
        .await?;
    ctx.register(undo);
    Ok(match spec {
        FaultSpec::DeletePod {
            name,
            wait_for_replacement: true,
        } => format!("deleted pod {name}; its replacement is Ready"),
        FaultSpec::DeletePod { name, .. } => format!("deleted pod {name}"),
        FaultSpec::Cordon { node } => format!("cordoned node {node}"),
        FaultSpec::Uncordon { node } => format!("uncordoned node {node}"),
        FaultSpec::ScaleToZeroAndBack { kind, name } => {
            format!("scaled {kind}/{name} to zero and back")
        }
    })
}
