//! `wait`: a watch-based condition under the step's deadline; on timeout the cluster layer
//! reports the last state seen and why it did not match.

use super::{StepContext, StepKind, StepResult};
use crate::check::{Checker, ScalarString};
use crate::cluster::{RolloutKind, Selection, WaitCondition};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Raw {
    /// StatefulSet/Deployment/DaemonSet/ReplicaSet/ReplicationController fully rolled out;
    /// `every_node: true` (DaemonSet): on every schedulable node, not only those it selects.
    Rollout {
        kind: String,
        name: String,
        #[serde(default)]
        every_node: bool,
    },
    /// At least `count` ready replicas.
    ReadyReplicas {
        kind: String,
        name: String,
        count: i64,
    },
    /// A named pod, or `count` pods of a selector (all of them if no count), Ready.
    PodReady {
        name: Option<String>,
        selector: Option<String>,
        count: Option<i64>,
    },
    /// At least `count` ready addresses in the EndpointSlices of a Service.
    Endpoints { service: String, count: i64 },
    /// A field of an object (JSON path such as `.status.phase`) equal to a value.
    Field {
        kind: String,
        name: String,
        path: String,
        equals: ScalarString,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Wait(pub WaitCondition);

fn rollout_kind(cx: &mut Checker, path: &str, kind: &str) -> Option<RolloutKind> {
    let options: Vec<(&str, RolloutKind)> =
        RolloutKind::ALL.iter().map(|k| (k.as_str(), *k)).collect();
    cx.one_of(path, kind, "has no rollout", &options)
}

#[async_trait::async_trait]
impl StepKind for Wait {
    const NAME: &'static str = "wait";
    const DOC: &'static str = "Wait (watch-based, bounded by the step's timeout) for a rollout, ready replicas, ready pods, endpoints or a field's value.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let condition = match raw {
            Raw::Rollout {
                kind,
                name,
                every_node,
            } => {
                let kind = rollout_kind(cx, &format!("{path}.rollout.kind"), &kind)?;
                if every_node && kind != RolloutKind::DaemonSet {
                    cx.error(
                        &format!("{path}.rollout.every_node"),
                        format!(
                            "`every_node` is for a DaemonSet (one pod per node); a {} has replicas, not nodes",
                            kind.as_str()
                        ),
                    );
                    return None;
                }
                WaitCondition::Rollout {
                    kind,
                    name,
                    every_node,
                }
            }
            Raw::ReadyReplicas { kind, name, count } => {
                let kind = rollout_kind(cx, &format!("{path}.ready_replicas.kind"), &kind);
                let count = cx.count(&format!("{path}.ready_replicas.count"), count, 0);
                WaitCondition::ReadyReplicas {
                    kind: kind?,
                    name,
                    count: count?,
                }
            }
            Raw::PodReady {
                name,
                selector,
                count,
            } => {
                let sub = format!("{path}.pod_ready");
                let one = cx.exactly_one(
                    &sub,
                    &[("name", name.is_some()), ("selector", selector.is_some())],
                );
                let count = match count {
                    Some(c) => {
                        if name.is_some() {
                            cx.error(
                                &format!("{sub}.count"),
                                "`count` goes with `selector`, not `name`",
                            );
                        }
                        Some(cx.count(&format!("{sub}.count"), c, 1)?)
                    }
                    None => None,
                };
                if !one {
                    return None;
                }
                let pods = match (name, selector) {
                    (Some(name), _) => Selection::Name(name),
                    (None, Some(sel)) => {
                        Selection::Selector(cx.selector(&format!("{sub}.selector"), &sel)?)
                    }
                    (None, None) => return None,
                };
                WaitCondition::PodReady { pods, count }
            }
            Raw::Endpoints { service, count } => WaitCondition::Endpoints {
                count: cx.count(&format!("{path}.endpoints.count"), count, 0)?,
                service,
            },
            Raw::Field {
                kind,
                name,
                path: field,
                equals,
            } => {
                if !field.starts_with('.') || field.len() < 2 {
                    cx.error(
                        &format!("{path}.field.path"),
                        format!("`{field}` is not a field path; write e.g. `.status.phase`"),
                    );
                    return None;
                }
                WaitCondition::Field {
                    kind,
                    name,
                    path: field,
                    equals: equals.0,
                }
            }
        };
        Some(Wait(condition))
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        Ok(ctx
            .cluster
            .wait(ctx.namespace(), &self.0, ctx.timeout)
            .await?)
    }

    fn summary(&self) -> String {
        match &self.0 {
            WaitCondition::Rollout {
                kind,
                name,
                every_node,
            } => format!(
                "wait for {}/{name} to roll out{}",
                kind.as_str(),
                if *every_node {
                    " on every schedulable node"
                } else {
                    ""
                }
            ),
            WaitCondition::ReadyReplicas { kind, name, count } => {
                format!(
                    "wait for {count} ready replica(s) of {}/{name}",
                    kind.as_str()
                )
            }
            WaitCondition::PodReady { pods, count } => match count {
                Some(n) => format!("wait for {n} Ready pod(s) {pods}"),
                None => format!("wait for pod(s) {pods} to be Ready"),
            },
            WaitCondition::PodNotReady { name } => format!("pod {name} not Ready"),
            WaitCondition::Endpoints { service, count } => {
                format!("wait for {count} ready endpoint(s) of Service {service}")
            }
            WaitCondition::Field {
                kind,
                name,
                path,
                equals,
            } => format!("wait for {kind}/{name} {path} = {equals}"),
        }
    }

    fn watches(&self) -> Option<(&str, &str)> {
        match &self.0 {
            WaitCondition::Rollout { kind, name, .. }
            | WaitCondition::ReadyReplicas { kind, name, .. } => Some((kind.as_str(), name)),
            WaitCondition::Field { kind, name, .. } => Some((kind, name)),
            WaitCondition::PodReady { .. } | WaitCondition::PodNotReady { .. } => None,
            WaitCondition::Endpoints { service, .. } => Some(("Service", service)),
        }
    }
}
