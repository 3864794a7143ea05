//! `scale`: sets replicas through the scale subresource.

use super::{StepContext, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::ScalableKind;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub kind: String,
    pub name: String,
    pub replicas: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    pub kind: ScalableKind,
    pub name: String,
    pub replicas: u32,
}

/// The kinds a scenario may name, for validation and hints.
pub fn scalable(cx: &mut Checker, path: &str, kind: &str) -> Option<ScalableKind> {
    let options: Vec<(&str, ScalableKind)> =
        ScalableKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    cx.one_of(path, kind, "cannot be scaled", &options)
}

#[async_trait::async_trait]
impl StepKind for Scale {
    const NAME: &'static str = "scale";
    const DOC: &'static str = "Set a workload's replicas through the scale subresource.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    type Raw = Raw;

    fn scales(&self) -> Option<(String, String, u32)> {
        Some((
            self.kind.as_str().to_string(),
            self.name.clone(),
            self.replicas,
        ))
    }

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let kind = scalable(cx, &format!("{path}.kind"), &raw.kind);
        let replicas = cx.count(&format!("{path}.replicas"), raw.replicas, 0);
        Some(Scale {
            kind: kind?,
            name: raw.name,
            replicas: replicas?,
        })
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        ctx.cluster
            .scale(ctx.namespace(), self.kind, &self.name, self.replicas)
            .await?;
        Ok(format!(
            "scaled {}/{} to {} replicas",
            self.kind.as_str(),
            self.name,
            self.replicas
        ))
    }

    fn summary(&self) -> String {
        format!(
            "scale {}/{} to {}",
            self.kind.as_str(),
            self.name,
            self.replicas
        )
    }
}
