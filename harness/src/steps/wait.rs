//! `wait`: a watch-based condition under the step's deadline; on timeout the cluster layer
//! reports the last state seen and why it did not match.

use super::{StepContext, StepResult};
use crate::scenario::raw::WaitSpec;

pub async fn run(spec: &WaitSpec, ctx: &StepContext<'_>) -> StepResult {
    Ok(ctx.cluster.wait(ctx.namespace(), spec, ctx.timeout).await?)
}
