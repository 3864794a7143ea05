//! `delete`: removes objects by name or selector (only objects the harness labelled).

use super::{StepContext, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::{DeleteTarget, Selection};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub kind: String,
    pub name: Option<String>,
    pub selector: Option<String>,
    /// Wait until the objects are gone (bounded by the step timeout).
    #[serde(default = "yes")]
    pub wait: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize)]
pub struct Delete(pub DeleteTarget);

#[async_trait::async_trait]
impl StepKind for Delete {
    const NAME: &'static str = "delete";
    const DOC: &'static str = "Delete an object the scenario created.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        if !cx.exactly_one(
            path,
            &[
                ("name", raw.name.is_some()),
                ("selector", raw.selector.is_some()),
            ],
        ) {
            return None;
        }
        let objects = match (raw.name, raw.selector) {
            (Some(name), _) => Selection::Name(name),
            (None, Some(sel)) => {
                Selection::Selector(cx.selector(&format!("{path}.selector"), &sel)?)
            }
            (None, None) => return None,
        };
        Some(Delete(DeleteTarget {
            kind: raw.kind,
            objects,
            wait: raw.wait,
        }))
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        ctx.cluster
            .delete(ctx.namespace(), &self.0, ctx.timeout)
            .await?;
        Ok(format!("deleted {} {}", self.0.kind, self.0.objects))
    }

    fn summary(&self) -> String {
        format!("delete {} {}", self.0.kind, self.0.objects)
    }
}
