//! `sleep`: waits a fixed time. Allowed, discouraged: prefer `wait` on a condition.

use super::{StepContext, StepKind, StepResult};
use crate::check::Checker;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Sleep(#[serde(serialize_with = "crate::check::duration_text")] pub Duration);

#[async_trait::async_trait]
impl StepKind for Sleep {
    const NAME: &'static str = "sleep";
    const DOC: &'static str = "Wait a fixed time (a duration such as `5s`).";
    const TAKES_STEP_TIMEOUT: bool = false;
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
    type Raw = String;

    fn check(raw: String, cx: &mut Checker, path: &str) -> Option<Self> {
        cx.duration(path, &raw).map(Sleep)
    }

    async fn run(&self, _ctx: &StepContext<'_>) -> StepResult {
        tokio::time::sleep(self.0).await;
        Ok(format!("slept {}", humantime::format_duration(self.0)))
    }

    fn summary(&self) -> String {
        format!("sleep {}", humantime::format_duration(self.0))
    }

    fn needs_cluster(&self) -> bool {
        false
    }
}
