//! `fault`: deletes a pod (and waits for its replacement), cordons or uncordons a node, scales
//! a workload to zero and back; and through the fault agent on the pods' nodes, pauses a
//! container (SIGSTOP), kills containers (SIGKILL, one after another), or partitions pods
//! from others, each proven to have taken effect; `heal` undoes a lasting one. A cordon
//! registers an uncordon, a pod-level fault its heal, before anything is changed.

use super::scale::scalable;
use super::{StepContext, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::Fault;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Raw {
    /// Delete a pod; by default wait for a replacement (new UID) to be Ready.
    DeletePod {
        name: String,
        #[serde(default = "yes")]
        wait_for_replacement: bool,
    },
    Cordon {
        node: String,
    },
    Uncordon {
        node: String,
    },
    /// Scale a workload to zero, wait until its pods are gone, scale it back and wait for rollout.
    ScaleToZeroAndBack {
        kind: String,
        name: String,
    },
    /// Freeze every process of a container (SIGSTOP from outside it: PID 1 cannot ignore it);
    /// proven by their state `T`. Resumed after `for`, or by a `heal` step, or the clean-up.
    Pause {
        pod: String,
        /// The container (default: the pod's first).
        container: Option<String>,
        #[serde(rename = "for")]
        lasting: Option<String>,
    },
    /// SIGKILL a container's processes in each pod, `spread` apart (no grace period, no
    /// preStop, no trap); proven by its restart with a last state killed by signal 9.
    Kill {
        pods: Vec<String>,
        container: Option<String>,
        /// Time between one pod's kill and the next (`0s`: at once, one after another).
        spread: Option<String>,
    },
    /// Cut the network both ways between the pods of `isolate` and those of `from` (a label
    /// selector each; pods in both are isolated), proven on `port` of the `from` pods (it
    /// answered just before, and does not after). Healed after `for`, or by a `heal` step, or
    /// the clean-up.
    Partition {
        isolate: String,
        from: String,
        port: i64,
        #[serde(rename = "for")]
        lasting: Option<String>,
    },
    /// Stop (`how: stop`) or freeze (`how: pause`) a whole node's machine (kind, Minikube's
    /// docker driver); proven by the Node turning not Ready, brought back after `for`, or by a
    /// `heal` step, or the clean-up, proven Ready again.
    Node {
        name: String,
        how: String,
        #[serde(rename = "for")]
        lasting: Option<String>,
    },
    /// Cordon a node and evict the scenario's pods on it through the Eviction API (their
    /// PodDisruptionBudgets respected, a budget that blocks named at the deadline); the
    /// uncordon is registered first.
    Drain {
        node: String,
    },
    /// Heal now what an earlier `pause`, `partition` or `node` step made (its id), proven
    /// healed.
    Heal(String),
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultStep(pub Fault);

#[async_trait::async_trait]
impl StepKind for FaultStep {
    const NAME: &'static str = "fault";
    const DOC: &'static str = "Inject a fault: `delete_pod`, `cordon`/`uncordon` a node, or `scale_to_zero_and_back`; guards excuse what it causes.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        Some(FaultStep(match raw {
            Raw::DeletePod {
                name,
                wait_for_replacement,
            } => Fault::DeletePod {
                name,
                wait_for_replacement,
            },
            Raw::Cordon { node } => Fault::Cordon { node },
            Raw::Uncordon { node } => Fault::Uncordon { node },
            Raw::ScaleToZeroAndBack { kind, name } => Fault::ScaleToZeroAndBack {
                kind: scalable(cx, &format!("{path}.scale_to_zero_and_back.kind"), &kind)?,
                name,
            },
            Raw::Pause {
                pod,
                container,
                lasting,
            } => {
                let at = format!("{path}.pause");
                let pod = object_name(cx, &format!("{at}.pod"), "pod", pod);
                let container =
                    optional_name(cx, &format!("{at}.container"), "container", container);
                let lasting = lasting
                    .map(|l| cx.bounded_duration(&format!("{at}.for"), &l, MAX_FAULT))
                    .transpose_none();
                Fault::Pause {
                    pod: pod?,
                    container: container?,
                    lasting: lasting?,
                }
            }
            Raw::Kill {
                pods,
                container,
                spread,
            } => {
                let at = format!("{path}.kill");
                if pods.is_empty() {
                    cx.error(&format!("{at}.pods"), "name at least one pod to kill");
                }
                if pods.len() > MAX_KILLED {
                    cx.error(
                        &format!("{at}.pods"),
                        format!("at most {MAX_KILLED} pods in one kill"),
                    );
                }
                let named: Vec<Option<String>> = pods
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| object_name(cx, &format!("{at}.pods[{i}]"), "pod", p))
                    .collect();
                let container =
                    optional_name(cx, &format!("{at}.container"), "container", container);
                let spread = match spread {
                    Some(s) => match cx.duration_or_zero(&format!("{at}.spread"), &s) {
                        Some(d) if d > MAX_FAULT => {
                            cx.error(
                                &format!("{at}.spread"),
                                format!(
                                    "a spread of {} is longer than the longest allowed, {}",
                                    humantime::format_duration(d),
                                    humantime::format_duration(MAX_FAULT)
                                ),
                            );
                            None
                        }
                        other => other,
                    },
                    None => Some(Duration::ZERO),
                };
                Fault::Kill {
                    pods: named.into_iter().collect::<Option<Vec<_>>>()?,
                    container: container?,
                    spread: spread?,
                }
            }
            Raw::Partition {
                isolate,
                from,
                port,
                lasting,
            } => {
                let at = format!("{path}.partition");
                let isolate = cx.selector(&format!("{at}.isolate"), &isolate);
                let from = cx.selector(&format!("{at}.from"), &from);
                let port = cx.port(&format!("{at}.port"), port);
                let lasting = lasting
                    .map(|l| cx.bounded_duration(&format!("{at}.for"), &l, MAX_FAULT))
                    .transpose_none();
                Fault::Partition {
                    isolate: crate::cluster::Selection::Selector(isolate?),
                    from: crate::cluster::Selection::Selector(from?),
                    port: port?,
                    lasting: lasting?,
                }
            }
            Raw::Node { name, how, lasting } => {
                let at = format!("{path}.node");
                let name = object_name(cx, &format!("{at}.name"), "node", name);
                let how = cx.one_of(
                    &format!("{at}.how"),
                    &how,
                    "is not a way a node fails",
                    &[
                        ("stop", crate::cluster::NodeFault::Stop),
                        ("pause", crate::cluster::NodeFault::Pause),
                    ],
                );
                let lasting = lasting
                    .map(|l| cx.bounded_duration(&format!("{at}.for"), &l, MAX_FAULT))
                    .transpose_none();
                Fault::Node {
                    name: name?,
                    how: how?,
                    lasting: lasting?,
                }
            }
            Raw::Drain { node } => Fault::Drain {
                node: object_name(cx, &format!("{path}.drain.node"), "node", node)?,
            },
            Raw::Heal(step) => Fault::Heal { step },
        }))
    }

    fn step_refs(&self) -> Vec<(&'static str, String)> {
        match &self.0 {
            Fault::Heal { step } => vec![("heal", step.clone())],
            _ => vec![],
        }
    }

    fn lasts_at_least(&self) -> Option<(&'static str, Duration)> {
        match &self.0 {
            Fault::Pause {
                lasting: Some(d), ..
            } => Some(("pause.for", *d)),
            Fault::Partition {
                lasting: Some(d), ..
            } => Some(("partition.for", *d)),
            Fault::Node {
                lasting: Some(d), ..
            } => Some(("node.for", *d)),
            Fault::Kill { pods, spread, .. } => {
                let gaps = u32::try_from(pods.len().saturating_sub(1)).unwrap_or(u32::MAX);
                Some(("kill.spread", spread.saturating_mul(gaps)))
            }
            _ => None,
        }
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        if self.0.made_by_inject() {
            let said = ctx
                .cluster
                .inject(
                    ctx.namespace(),
                    ctx.step_id(),
                    &self.0,
                    ctx.timeout,
                    &|heal| ctx.register([heal]),
                )
                .await?;
            return Ok(said);
        }
        if let Fault::Heal { step } = &self.0 {
            return heal(ctx, step).await;
        }
        let undo = ctx
            .cluster
            .fault(ctx.namespace(), &self.0, ctx.timeout)
            .await?;
        ctx.register(undo);
        Ok(match &self.0 {
            Fault::DeletePod {
                name,
                wait_for_replacement: true,
            } => format!("deleted pod {name}; its replacement is Ready"),
            Fault::DeletePod { name, .. } => format!("deleted pod {name}"),
            Fault::Cordon { node } => format!("cordoned node {node}"),
            Fault::Uncordon { node } => format!("uncordoned node {node}"),
            Fault::ScaleToZeroAndBack { kind, name } => {
                format!("scaled {}/{name} to zero and back", kind.as_str())
            }
            other => format!("{other:?}"),
        })
    }

    fn summary(&self) -> String {
        match &self.0 {
            Fault::DeletePod {
                name,
                wait_for_replacement,
            } => format!(
                "fault: delete pod {name}{}",
                if *wait_for_replacement {
                    " and wait for its replacement"
                } else {
                    ""
                }
            ),
            Fault::Cordon { node } => format!("fault: cordon node {node}"),
            Fault::Uncordon { node } => format!("fault: uncordon node {node}"),
            Fault::ScaleToZeroAndBack { kind, name } => {
                format!("fault: scale {}/{name} to zero and back", kind.as_str())
            }
            Fault::Pause {
                pod,
                container,
                lasting,
            } => format!(
                "fault: pause {}{}{}",
                pod,
                container
                    .as_ref()
                    .map(|c| format!(" (container {c})"))
                    .unwrap_or_default(),
                until(*lasting)
            ),
            Fault::Kill { pods, spread, .. } => format!(
                "fault: kill (SIGKILL) {}{}",
                pods.join(", "),
                if pods.len() > 1 {
                    format!(", {} apart", humantime::format_duration(*spread))
                } else {
                    String::new()
                }
            ),
            Fault::Partition {
                isolate,
                from,
                port,
                lasting,
            } => format!(
                "fault: partition pods {isolate} from pods {from} (proven on port {port}){}",
                until(*lasting)
            ),
            Fault::Node { name, how, lasting } => format!(
                "fault: {} node {name}{}",
                match how {
                    crate::cluster::NodeFault::Stop => "stop",
                    crate::cluster::NodeFault::Pause => "freeze",
                },
                until(*lasting)
            ),
            Fault::Drain { node } => {
                format!("fault: drain node {node} (evictions, budgets respected)")
            }
            Fault::Heal { step } => format!("fault: heal what step `{step}` made"),
        }
    }

    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        use crate::cluster::Disrupted;
        Some(match &self.0 {
            Fault::DeletePod { name, .. } => Disrupted::Pods(vec![name.clone()]),
            Fault::Pause { pod, .. } => Disrupted::Pods(vec![pod.clone()]),
            Fault::Kill { pods, .. } => Disrupted::Pods(pods.clone()),
            Fault::Heal { .. } => return None,
            Fault::Cordon { .. }
            | Fault::Uncordon { .. }
            | Fault::ScaleToZeroAndBack { .. }
            | Fault::Partition { .. }
            | Fault::Node { .. }
            | Fault::Drain { .. } => Disrupted::AnyPod,
        })
    }

    fn fault_lasts(&self) -> bool {
        self.0.lasts_beyond_its_step()
    }

    fn heals(&self) -> Option<&str> {
        match &self.0 {
            Fault::Heal { step } => Some(step),
            _ => None,
        }
    }
}

/// The longest a fault may last or spread: an hour.
const MAX_FAULT: Duration = Duration::from_secs(3600);
/// The most pods one `kill` may name.
const MAX_KILLED: usize = 64;

fn until(lasting: Option<Duration>) -> String {
    match lasting {
        Some(d) => format!(" for {}", humantime::format_duration(d)),
        None => " until healed".into(),
    }
}

/// A pod or container name as Kubernetes allows it, or an error at `path`.
fn object_name(cx: &mut Checker, path: &str, what: &str, name: String) -> Option<String> {
    if crate::manifest::is_dns1123_subdomain(&name) {
        Some(name)
    } else {
        cx.error(
            path,
            format!(
                "`{}` is not a {what} name (lowercase letters, digits, `-` and `.`)",
                crate::diag::visible(&name)
            ),
        );
        None
    }
}

/// An optional name: `Some(None)` when not given, `None` when invalid.
fn optional_name(
    cx: &mut Checker,
    path: &str,
    what: &str,
    name: Option<String>,
) -> Option<Option<String>> {
    match name {
        None => Some(None),
        Some(n) => object_name(cx, path, what, n).map(Some),
    }
}

/// `Option<Option<T>>` from an optional value's check: not given is fine (`Some(None)`), an
/// invalid one is not (`None`).
trait TransposeNone<T> {
    fn transpose_none(self) -> Option<Option<T>>;
}

impl<T> TransposeNone<T> for Option<Option<T>> {
    fn transpose_none(self) -> Option<Option<T>> {
        match self {
            None => Some(None),
            Some(Some(v)) => Some(Some(v)),
            Some(None) => None,
        }
    }
}

/// Heals what the fault step `step` made: runs its heal clean-up now (and takes it off the
/// list).
async fn heal(ctx: &StepContext<'_>, step: &str) -> StepResult {
    let item = {
        let mut items = ctx.state.cleanup.lock().unwrap_or_else(|e| e.into_inner());
        let found = items
            .iter()
            .rposition(|i| matches!(i, crate::cluster::CleanupItem::Heal(h) if h.step == step));
        found.map(|i| items.remove(i))
    };
    let Some(item) = item else {
        return Err(super::StepFailure::failed(
            format!(
                "nothing to heal for step `{step}`: it made no lasting fault, or it was healed already"
            ),
            "",
        ));
    };
    let said = ctx.cluster.cleanup(&item).await?;
    crate::journal::mark(format!(
        "healed: {item}{}",
        said.as_deref()
            .map(|s| format!("; {s}"))
            .unwrap_or_default()
    ));
    Ok(format!(
        "healed: {item}{}",
        said.map(|s| format!("; {s}")).unwrap_or_default()
    ))
}
