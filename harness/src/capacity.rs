//! What a scenario asks of the cluster's capacity, from its own manifests (no IO): the CPU and
//! memory requests of every pod it will run at its largest scale (a `scale` step may raise a
//! workload's replicas), and whether the schedulable nodes' free capacity (allocatable minus
//! what their pods already request, as the scheduler counts) can hold them. A scenario that
//! cannot fit fails at once, naming the shortfall, instead of a wait timing out on Pending pods.

use crate::cluster::NodeInfo;
use crate::manifest::Manifest;
use serde_json::Value;
use std::collections::BTreeMap;

pub use crate::cluster::Resources;

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} CPU and {}",
            cpu_text(self.cpu_milli),
            memory_text(self.memory)
        )
    }
}

fn cpu_text(milli: u64) -> String {
    if milli.is_multiple_of(1000) {
        format!("{}", milli / 1000)
    } else {
        format!("{milli}m")
    }
}

fn memory_text(bytes: u64) -> String {
    const MI: u64 = 1 << 20;
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{}Gi", bytes >> 30)
    } else {
        format!("{}Mi", bytes.div_ceil(MI))
    }
}

/// What a scenario's pods request at its largest scale.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Demand {
    /// Pods of replicated workloads and bare pods, in total.
    pub total: Resources,
    /// DaemonSet pods: this much on every schedulable node.
    pub per_node: Resources,
    /// The largest single pod (it must fit on one node).
    pub largest_pod: Resources,
    /// `StatefulSet/cassandra: 4 x 500m CPU and 1Gi`, for messages.
    pub parts: Vec<String>,
}

impl Demand {
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

/// A Kubernetes CPU quantity in millicores (`500m`, `2`, `0.5`), by the API server's grammar
/// ([`crate::quantity`]); saturating at `u64::MAX`.
pub fn parse_cpu(q: &str) -> Option<u64> {
    crate::quantity::parse(q).ok().map(|q| q.milli_u64())
}

/// A Kubernetes memory quantity in bytes (`256Mi`, `1Gi`, `1G`, `500M`, `1024`, `1e9`), by the
/// API server's grammar; saturating at `u64::MAX`.
pub fn parse_memory(q: &str) -> Option<u64> {
    crate::quantity::parse(q).ok().map(|q| q.units())
}

fn quantity(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One container's requests (its limits where it gives no request, as the API server defaults).
fn container_requests(c: &Value) -> Resources {
    let get = |what: &str| {
        quantity(c.pointer(&format!("/resources/requests/{what}")))
            .or_else(|| quantity(c.pointer(&format!("/resources/limits/{what}"))))
    };
    Resources {
        cpu_milli: get("cpu").and_then(|q| parse_cpu(&q)).unwrap_or(0),
        memory: get("memory").and_then(|q| parse_memory(&q)).unwrap_or(0),
    }
}

/// A pod spec's effective request, as the scheduler counts it: the app containers and native
/// sidecars together, or the largest init container if that is more.
pub fn pod_requests(spec: &Value) -> Resources {
    let list = |key: &str| {
        spec.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (sidecars, init): (Vec<Value>, Vec<Value>) = list("initContainers")
        .into_iter()
        .partition(|c| c.get("restartPolicy").and_then(Value::as_str) == Some("Always"));
    let running = list("containers")
        .iter()
        .chain(&sidecars)
        .map(container_requests)
        .fold(Resources::default(), Resources::plus);
    init.iter()
        .map(container_requests)
        .fold(running, Resources::max)
}

/// The demand of the workloads the scenario applies, at their largest replica counts.
/// `scaled` holds (kind, name, replicas) of every `scale` step.
pub fn demand(manifests: &[&Manifest], scaled: &[(String, String, u32)]) -> Demand {
    let mut largest: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (kind, name, replicas) in scaled {
        let e = largest.entry((kind.clone(), name.clone())).or_default();
        *e = (*e).max(u64::from(*replicas));
    }
    let mut d = Demand::default();
    for m in manifests {
        let (kind, name) = (m.kind().to_string(), m.name().to_string());
        let template = |path: &str| m.object.pointer(path).cloned();
        let (spec, count, daemon) = match kind.as_str() {
            "StatefulSet" | "Deployment" | "ReplicaSet" | "ReplicationController" => {
                let replicas = m
                    .object
                    .pointer("/spec/replicas")
                    .and_then(Value::as_u64)
                    .unwrap_or(1);
                let most = largest
                    .get(&(kind.clone(), name.clone()))
                    .copied()
                    .unwrap_or(0)
                    .max(replicas);
                (template("/spec/template/spec"), most, false)
            }
            "DaemonSet" => (template("/spec/template/spec"), 1, true),
            "Job" => {
                let parallelism = m
                    .object
                    .pointer("/spec/parallelism")
                    .and_then(Value::as_u64)
                    .unwrap_or(1);
                (template("/spec/template/spec"), parallelism, false)
            }
            "Pod" => (template("/spec"), 1, false),
            _ => continue,
        };
        let Some(spec) = spec else { continue };
        let pod = pod_requests(&spec);
        if pod == Resources::default() || count == 0 {
            continue;
        }
        d.largest_pod = d.largest_pod.max(pod);
        if daemon {
            d.per_node = d.per_node.plus(pod);
            d.parts.push(format!("{kind}/{name}: {pod} on every node"));
        } else {
            d.total = d.total.plus(pod.times(count));
            d.parts.push(format!("{kind}/{name}: {count} x {pod}"));
        }
    }
    d
}

/// The longest a probe of the scenario's pods may take to fail from its container's start:
/// `initialDelaySeconds + failureThreshold × periodSeconds + timeoutSeconds` (Kubernetes'
/// defaults 0, 3, 10 and 1), over every liveness, readiness and startup probe of every
/// container; with what it is, for the plan. Guards keep watching that long after the last
/// step that starts pods, so a probe on the wrong port has time to fail while they watch.
pub fn probe_window(manifests: &[&Manifest]) -> Option<(std::time::Duration, String)> {
    let mut longest: Option<(u64, String)> = None;
    for m in manifests {
        let spec = match m.kind() {
            "Pod" => m.object.pointer("/spec"),
            _ => m.object.pointer("/spec/template/spec"),
        };
        let Some(spec) = spec else { continue };
        let containers = ["initContainers", "containers"]
            .iter()
            .filter_map(|k| spec.get(*k).and_then(Value::as_array))
            .flatten();
        for c in containers {
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                let Some(p) = c.get(probe) else { continue };
                let get = |k: &str, default: u64| {
                    p.get(k)
                        .and_then(Value::as_u64)
                        .unwrap_or(default)
                        .min(3600)
                };
                let (delay, threshold, period, timeout) = (
                    get("initialDelaySeconds", 0),
                    get("failureThreshold", 3),
                    get("periodSeconds", 10),
                    get("timeoutSeconds", 1),
                );
                let secs = delay + threshold * period + timeout;
                if longest.as_ref().is_none_or(|(l, _)| secs > *l) {
                    longest = Some((
                        secs,
                        format!(
                            "{} of {}/{} container {}: {delay}s + {threshold} × {period}s + {timeout}s",
                            probe.trim_end_matches("Probe"),
                            m.kind(),
                            m.name(),
                            c.get("name").and_then(Value::as_str).unwrap_or("?")
                        ),
                    ));
                }
            }
        }
    }
    longest.map(|(s, what)| (std::time::Duration::from_secs(s), what))
}

/// `Ok` when the schedulable nodes' free capacity holds the demand; otherwise the shortfall,
/// with what the scenario asks and what each node has free.
pub fn fits(demand: &Demand, nodes: &[NodeInfo]) -> Result<(), String> {
    let usable: Vec<&NodeInfo> = nodes
        .iter()
        .filter(|n| n.unschedulable.is_none() && n.allocatable.is_some())
        .collect();
    if demand.is_empty() || usable.is_empty() {
        return Ok(());
    }
    let free = |n: &NodeInfo| {
        let a = n.allocatable.unwrap_or_default();
        Resources {
            cpu_milli: a.cpu_milli.saturating_sub(n.requested.cpu_milli),
            memory: a.memory.saturating_sub(n.requested.memory),
        }
    };
    let daemon = demand.per_node;
    let after_daemons: Vec<(String, Resources)> = usable
        .iter()
        .map(|n| {
            let f = free(n);
            (
                n.name.clone(),
                Resources {
                    cpu_milli: f.cpu_milli.saturating_sub(daemon.cpu_milli),
                    memory: f.memory.saturating_sub(daemon.memory),
                },
            )
        })
        .collect();
    let total_free = after_daemons
        .iter()
        .fold(Resources::default(), |acc, (_, r)| acc.plus(*r));
    let nodes_text = usable
        .iter()
        .map(|n| format!("{} {} free", n.name, free(n)))
        .collect::<Vec<_>>()
        .join(", ");
    let asks = demand.parts.join("; ");
    if !daemon.fits_in(usable.iter().map(|n| free(n)).fold(
        Resources {
            cpu_milli: u64::MAX,
            memory: u64::MAX,
        },
        |a, b| Resources {
            cpu_milli: a.cpu_milli.min(b.cpu_milli),
            memory: a.memory.min(b.memory),
        },
    )) {
        return Err(format!(
            "the scenario's DaemonSet pods need {daemon} on every node, more than some node has free ({nodes_text}); it asks: {asks}"
        ));
    }
    if !demand.total.fits_in(total_free) {
        return Err(format!(
            "the scenario requests {} at its largest scale (besides its DaemonSets), but the schedulable nodes have {total_free} free after them ({nodes_text}); it asks: {asks}",
            demand.total
        ));
    }
    let roomiest = after_daemons
        .iter()
        .any(|(_, r)| demand.largest_pod.fits_in(*r));
    if !roomiest {
        return Err(format!(
            "the scenario's largest pod requests {}, more than any one node has free ({nodes_text})",
            demand.largest_pod
        ));
    }
    Ok(())
}

/// The container images of the workloads and pods in `manifests` (init containers included),
/// each once, in order of appearance.
pub fn images(manifests: &[&Manifest]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for m in manifests {
        let spec = match m.kind() {
            "Pod" => m.object.pointer("/spec"),
            "CronJob" => m.object.pointer("/spec/jobTemplate/spec/template/spec"),
            _ => m.object.pointer("/spec/template/spec"),
        };
        let Some(spec) = spec else { continue };
        for key in ["initContainers", "containers"] {
            for c in spec
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(image) = c.get("image").and_then(Value::as_str)
                    && !out.iter().any(|i| i == image)
                {
                    out.push(image.to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
