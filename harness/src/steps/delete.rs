//! `delete`: removes objects by name or selector (only objects the harness labelled).

use super::{StepContext, StepResult};
use crate::scenario::raw::DeleteSpec;

pub async fn run(spec: &DeleteSpec, ctx: &StepContext<'_>) -> StepResult {
    ctx.cluster
        .delete(ctx.namespace(), spec, ctx.timeout)
        .await?;
    Ok(format!(
        "deleted {} {}",
        spec.kind,
        spec.name
            .clone()
            .or(spec.selector.clone())
            .unwrap_or_default()
    ))
}
