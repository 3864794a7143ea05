//! `rollout`: changes a StatefulSet's, Deployment's or DaemonSet's pod template (a container's
//! image, environment values, a restart, or an undo to the revision before) and waits until
//! its controller has rolled it through every pod (`k8s/rollout.rs`). Like a fault it opens a
//! window: guards excuse the restarts and unready pods of its workload (names beginning with
//! `<name>-`, no other pod's), workloads place their gaps against it.
//!
//! ```yaml
//! - rollout:
//!     kind: StatefulSet
//!     name: galera-ss
//!     image: { container: mariadb, to: "${galera_image_to}" }
//! - rollout: { kind: StatefulSet, name: galera-ss, undo: true }
//! ```

use super::{StepContext, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::{Change, Rollout, RolloutKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// StatefulSet, Deployment or DaemonSet.
    pub kind: String,
    pub name: String,
    /// A container's new image.
    pub image: Option<RawImage>,
    /// Environment values to set in a container (the others are kept).
    pub env: Option<RawEnv>,
    /// Replace every pod with no change but a new template annotation.
    #[serde(default)]
    pub restart: bool,
    /// Go back to the revision before the current one.
    #[serde(default)]
    pub undo: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    pub container: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    pub container: String,
    pub values: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RolloutStep(pub Rollout);

/// The most environment values one rollout sets.
const MAX_ENV: usize = 64;
/// The longest image reference or environment value.
const MAX_VALUE: usize = 4096;

#[async_trait::async_trait]
impl StepKind for RolloutStep {
    const NAME: &'static str = "rollout";
    const DOC: &'static str = "Change a workload's pod template (a container's `image`, `env` values, a `restart`, or an `undo` to the revision before) and wait until its controller has rolled it through every pod.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(900);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let kinds = [
            ("StatefulSet", RolloutKind::StatefulSet),
            ("Deployment", RolloutKind::Deployment),
            ("DaemonSet", RolloutKind::DaemonSet),
        ];
        let kind = cx.one_of(
            &format!("{path}.kind"),
            &raw.kind,
            "has no rollout (StatefulSet, Deployment and DaemonSet do)",
            &kinds,
        );
        let name = if crate::manifest::is_dns1123_subdomain(&raw.name) {
            Some(raw.name.clone())
        } else {
            cx.error(
                &format!("{path}.name"),
                format!(
                    "`{}` is not a {} name (lowercase letters, digits, `-` and `.`)",
                    crate::diag::visible(&raw.name),
                    raw.kind
                ),
            );
            None
        };
        if !cx.exactly_one(
            path,
            &[
                ("image", raw.image.is_some()),
                ("env", raw.env.is_some()),
                ("restart", raw.restart),
                ("undo", raw.undo),
            ],
        ) {
            return None;
        }
        let container = |cx: &mut Checker, at: &str, c: &str| {
            if crate::manifest::is_dns1035_label(c)
                || crate::manifest::is_dns1123_subdomain(c) && !c.contains('.')
            {
                Some(c.to_string())
            } else {
                cx.error(
                    at,
                    format!("`{}` is not a container name", crate::diag::visible(c)),
                );
                None
            }
        };
        let change = if let Some(i) = raw.image {
            let c = container(cx, &format!("{path}.image.container"), &i.container);
            let to = i.to.trim();
            let image = if to.is_empty()
                || to.len() > MAX_VALUE
                || to.chars().any(|ch| ch.is_whitespace() || ch.is_control())
            {
                cx.error(
                    &format!("{path}.image.to"),
                    "an image reference: no spaces, at most 4096 characters (`mariadb:11.8.2`)",
                );
                None
            } else {
                Some(to.to_string())
            };
            Change::Image {
                container: c?,
                image: image?,
            }
        } else if let Some(e) = raw.env {
            let c = container(cx, &format!("{path}.env.container"), &e.container);
            let mut ok = true;
            if e.values.is_empty() || e.values.len() > MAX_ENV {
                cx.error(
                    &format!("{path}.env.values"),
                    format!("give 1 to {MAX_ENV} values"),
                );
                ok = false;
            }
            for (k, v) in &e.values {
                let valid_name = !k.is_empty()
                    && !k.starts_with(|c: char| c.is_ascii_digit())
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
                if !valid_name {
                    cx.error(
                        &format!("{path}.env.values"),
                        format!(
                            "`{}` is not an environment variable name",
                            crate::diag::visible(k)
                        ),
                    );
                    ok = false;
                }
                if v.len() > MAX_VALUE {
                    cx.error(
                        &format!("{path}.env.values.{k}"),
                        format!("at most {MAX_VALUE} characters"),
                    );
                    ok = false;
                }
            }
            if !ok {
                return None;
            }
            Change::Env {
                container: c?,
                values: e.values,
            }
        } else if raw.restart {
            Change::Restart
        } else {
            Change::Undo
        };
        Some(RolloutStep(Rollout {
            kind: kind?,
            name: name?,
            change,
        }))
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        Ok(ctx
            .cluster
            .rollout(ctx.namespace(), &self.0, ctx.timeout)
            .await?)
    }

    fn summary(&self) -> String {
        format!(
            "rollout {}/{}: {}",
            self.0.kind.as_str(),
            self.0.name,
            self.0.change.describe()
        )
    }

    fn watches(&self) -> Option<(&str, &str)> {
        Some((self.0.kind.as_str(), &self.0.name))
    }

    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        // Every pod of the workload is replaced: a StatefulSet's `<name>-<ordinal>`, a
        // Deployment's `<name>-<hash>-<id>`, a DaemonSet's `<name>-<id>`; no other pod.
        Some(crate::cluster::Disrupted::Pods(vec![format!(
            "{}-*",
            self.0.name
        )]))
    }
}
