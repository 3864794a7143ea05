//! `apply`: server-side apply of rendered manifests into the scenario namespace; what was
//! created is registered for clean-up.

use super::{StepContext, StepResult};
use crate::manifest::Manifest;

pub async fn run(manifests: &[Manifest], ctx: &StepContext<'_>) -> StepResult {
    let created = ctx
        .cluster
        .apply(ctx.namespace(), &ctx.plan.name, manifests)
        .await?;
    let mut out: Vec<String> = manifests
        .iter()
        .map(|m| format!("applied {}/{}", m.kind(), m.name()))
        .collect();
    out.push(format!(
        "{} object(s) created and registered for clean-up",
        created.len()
    ));
    ctx.register(created);
    Ok(out.join("\n"))
}
