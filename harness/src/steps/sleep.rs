//! `sleep`: waits a fixed time. Allowed, discouraged: prefer `wait` on a condition.

use super::{StepContext, StepResult};
use std::time::Duration;

pub async fn run(duration: &Duration, _ctx: &StepContext<'_>) -> StepResult {
    tokio::time::sleep(*duration).await;
    Ok(format!("slept {}", humantime::format_duration(*duration)))
}
