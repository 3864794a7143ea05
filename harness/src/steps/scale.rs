//! `scale`: sets replicas through the scale subresource.

use super::{StepContext, StepResult};
use crate::scenario::model::Scale;

pub async fn run(spec: &Scale, ctx: &StepContext<'_>) -> StepResult {
    ctx.cluster
        .scale(ctx.namespace(), spec.kind, &spec.name, spec.replicas)
        .await?;
    Ok(format!(
        "scaled {}/{} to {} replicas",
        spec.kind.as_str(),
        spec.name,
        spec.replicas
    ))
}
