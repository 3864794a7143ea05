//! Pod-level faults on the cluster: the fault agent, one pod per node the faults touch, in the
//! scenario's namespace (so it goes with it): the host's PID namespace and the capabilities
//! SYS_ADMIN, NET_ADMIN, SYS_PTRACE and KILL (not privileged), running `sleep`; each fault
//! execs the agent script ([`crate::fault_agent`]) in it. Every fault registers its heal
//! before it changes anything, then proves it took effect: a pause by its processes' state
//! `T`, a kill by the container's restart with a last state killed by signal 9, a partition by
//! connections from inside the isolated pods that worked just before and fail after.

use super::{KubeCluster, api_error, bridge, conditions, labels, watch};
use crate::cluster::{AgentCall, CleanupItem, ClusterError, Heal, Selection};
use crate::fault_agent::{self as agent, Ask, Signal};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher::Config;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::fault_agent::agent_image;

/// The longest the agent may take to start on a node.
const AGENT_START: Duration = Duration::from_secs(120);

/// The agent pod on `node`.
pub fn agent_pod_name(node: &str) -> String {
    let name = format!("harness-fault-agent-{node}");
    name.chars().take(253).collect()
}

/// The agent pod for `node` (pinned to it by `nodeName`, tolerating every taint).
pub fn agent_pod(node: &str, image: &str, run_id: &str, scenario: &str) -> serde_json::Value {
    let mut labels = labels::ours(run_id, scenario);
    labels.insert("harness.fault-agent".into(), "true".into());
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": agent_pod_name(node), "labels": labels},
        "spec": {
            "nodeName": node,
            "hostPID": true,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 0,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "agent",
                "image": image,
                "command": ["sleep", "2147483647"],
                "securityContext": {
                    "capabilities": {"add": ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "KILL"]}
                },
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}
            }]
        }
    })
}

/// For each isolated pod, whether it reached each peer (address, port).
type Reached = Vec<(String, Vec<((String, u16), bool)>)>;

/// What a fault needs to know of one pod.
#[derive(Debug, Clone)]
struct Target {
    pod: String,
    node: String,
    ip: String,
    container: String,
    container_id: String,
    restarts: i32,
}

fn target_of(p: &Pod, container: Option<&str>) -> Result<Target, ClusterError> {
    let pod = p.name_any();
    let spec = p.spec.clone().unwrap_or_default();
    let status = p.status.clone().unwrap_or_default();
    let name = match container {
        Some(c) => c.to_string(),
        None => spec
            .containers
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
    };
    let cs = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            ClusterError::NotFound(format!("pod {pod} has no running container `{name}`"))
        })?;
    let container_id = cs
        .container_id
        .as_deref()
        .and_then(agent::container_id)
        .map(str::to_string)
        .ok_or_else(|| {
            ClusterError::Api(format!(
                "container `{name}` of pod {pod} has no container ID yet (not started)"
            ))
        })?;
    Ok(Target {
        node: spec
            .node_name
            .ok_or_else(|| ClusterError::Api(format!("pod {pod} is not scheduled on a node")))?,
        ip: status.pod_ip.unwrap_or_default(),
        container: name,
        container_id,
        restarts: cs.restart_count,
        pod,
    })
}

impl KubeCluster {
    async fn target(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
    ) -> Result<Target, ClusterError> {
        let p = Api::<Pod>::namespaced(self.client.clone(), ns)
            .get(pod)
            .await
            .map_err(|e| api_error(&format!("reading pod {pod}"), e))?;
        target_of(&p, container)
    }

    async fn targets(&self, ns: &str, pods: &Selection) -> Result<Vec<Target>, ClusterError> {
        let selector = match pods {
            Selection::Name(name) => return Ok(vec![self.target(ns, name, None).await?]),
            Selection::Selector(s) => s,
        };
        let listed = self.pods(ns, selector).await?;
        if listed.is_empty() {
            return Err(ClusterError::NotFound(format!(
                "no pod matches `{selector}`"
            )));
        }
        listed.iter().map(|p| target_of(p, None)).collect()
    }

    /// The agent pod on `node`, created if need be (the namespace is labelled for Pod Security
    /// `privileged` when admission refuses it for that reason; the harness owns the
    /// namespace), once Ready.
    async fn agent_on(
        &self,
        ns: &str,
        node: &str,
        timeout: Duration,
    ) -> Result<String, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let name = agent_pod_name(node);
        let existing = api
            .get_opt(&name)
            .await
            .map_err(|e| api_error(&format!("reading the fault agent {name}"), e))?;
        if existing.is_none() {
            let scenario = self.scenario_of(ns).await;
            let pod: Pod =
                serde_json::from_value(agent_pod(node, &agent_image(), &self.run_id, &scenario))
                    .map_err(|e| ClusterError::Api(format!("the fault agent's pod: {e}")))?;
            let mut created = api.create(&PostParams::default(), &pod).await;
            if let Err(kube::Error::Api(s)) = &created
                && s.code == 403
                && s.message.contains("PodSecurity")
            {
                let namespaces: Api<k8s_openapi::api::core::v1::Namespace> =
                    Api::all(self.client.clone());
                let patch = serde_json::json!({"metadata": {"labels": {
                    "pod-security.kubernetes.io/enforce": "privileged"}}});
                namespaces
                    .patch(ns, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(|e| {
                        api_error(&format!("labelling namespace {ns} for the fault agent"), e)
                    })?;
                created = api.create(&PostParams::default(), &pod).await;
            }
            if let Err(e) = created {
                return Err(match e {
                    kube::Error::Api(s) if s.code == 403 || s.code == 422 || s.code == 400 => {
                        ClusterError::Api(format!(
                            "the fault agent was refused on node {node}: {} ({} {}). Pause, kill and partition need a pod in the scenario's namespace with the host's PID namespace and the capabilities SYS_ADMIN, NET_ADMIN, SYS_PTRACE and KILL (Pod Security level `privileged`); a policy engine (Kyverno, Gatekeeper) must allow it there",
                            s.message, s.code, s.reason
                        ))
                    }
                    other => api_error(&format!("creating the fault agent on node {node}"), other),
                });
            }
        }
        let limit = timeout.min(AGENT_START);
        watch::until(
            api,
            Config::default().fields(&format!("metadata.name={name}")),
            limit,
            |seen| conditions::pods_ready(seen.values(), Some(1)),
        )
        .await
        .map_err(|e| {
            ClusterError::Api(format!(
                "the fault agent on node {node} did not start ({e}); its image {} must be on the node (preload it, or name another with HARNESS_FAULT_AGENT_IMAGE)",
                agent_image()
            ))
        })?;
        Ok(name)
    }

    /// The scenario a namespace belongs to (its label), for the agent's labels.
    async fn scenario_of(&self, ns: &str) -> String {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        namespaces
            .get_opt(ns)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.labels().get(labels::SCENARIO).cloned())
            .unwrap_or_default()
    }

    /// Runs one agent call; its output, or why it failed.
    pub(super) async fn call(&self, ns: &str, call: &AgentCall) -> Result<String, ClusterError> {
        let out = bridge::exec(
            &self.client,
            &self.version,
            ns,
            &call.agent_pod,
            Some("agent"),
            &call.argv,
            None,
        )
        .await?;
        if out.exit_code == 0 {
            Ok(out.stdout)
        } else {
            Err(ClusterError::Api(format!(
                "the fault agent {} failed (exit {}): {}{}",
                call.agent_pod,
                out.exit_code,
                out.stdout.trim(),
                out.stderr.trim()
            )))
        }
    }

    async fn ask(
        &self,
        ns: &str,
        agent_pod: &str,
        t: &Target,
        ask: &Ask,
    ) -> Result<String, ClusterError> {
        self.call(
            ns,
            &AgentCall {
                agent_pod: agent_pod.to_string(),
                argv: agent::command(&t.container_id, ask),
            },
        )
        .await
    }

    /// Heals a pod-level fault: each of its calls, in order (a call that fails does not stop
    /// the others).
    pub(super) async fn heal(&self, heal: &Heal) -> Result<Option<String>, ClusterError> {
        let mut failed = vec![];
        for call in &heal.calls {
            if let Err(e) = self.call(&heal.namespace, call).await {
                failed.push(e.to_string());
            }
        }
        if failed.is_empty() {
            Ok(Some(format!(
                "{} ({} agent call(s))",
                heal.what,
                heal.calls.len()
            )))
        } else {
            Err(ClusterError::Api(failed.join("; ")))
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn pause(
        &self,
        ns: &str,
        step: &str,
        pod: &str,
        container: Option<&str>,
        lasting: Option<Duration>,
        timeout: Duration,
        register: &(dyn Fn(CleanupItem) + Send + Sync),
    ) -> Result<String, ClusterError> {
        let t = self.target(ns, pod, container).await?;
        let agent_pod = self.agent_on(ns, &t.node, timeout).await?;
        let heal = Heal {
            step: step.to_string(),
            namespace: ns.to_string(),
            what: format!("resume {pod}"),
            calls: vec![AgentCall {
                agent_pod: agent_pod.clone(),
                argv: agent::command(&t.container_id, &Ask::Signal(Signal::Cont)),
            }],
            node: None,
        };
        register(CleanupItem::Heal(heal.clone()));
        let out = self
            .ask(ns, &agent_pod, &t, &Ask::Signal(Signal::Stop))
            .await?;
        agent::signalled(&out).map_err(ClusterError::Api)?;
        let state = self.ask(ns, &agent_pod, &t, &Ask::State).await?;
        let paused = agent::paused(&state)
            .map_err(|e| ClusterError::Api(format!("{pod} ({}): {e}", t.container)))?;
        let mut said = vec![format!(
            "paused {pod} ({}) on node {}: {paused}",
            t.container, t.node
        )];
        crate::journal::mark(format!("in effect: {}", said[0]));
        if let Some(d) = lasting {
            tokio::time::sleep(d).await;
            self.heal(&heal).await?;
            let state = self.ask(ns, &agent_pod, &t, &Ask::State).await?;
            let resumed = agent::resumed(&state)
                .map_err(|e| ClusterError::Api(format!("resuming {pod}: {e}")))?;
            said.push(format!(
                "resumed after {}: {resumed}",
                humantime::format_duration(d)
            ));
            crate::journal::mark(format!("healed: {pod} {resumed}"));
        }
        Ok(said.join("\n"))
    }

    pub(super) async fn kill(
        &self,
        ns: &str,
        pods: &[String],
        container: Option<&str>,
        spread: Duration,
        timeout: Duration,
    ) -> Result<String, ClusterError> {
        // Every agent first, so the kills come `spread` apart.
        let mut targets = vec![];
        for pod in pods {
            let t = self.target(ns, pod, container).await?;
            let agent_pod = self.agent_on(ns, &t.node, timeout).await?;
            targets.push((t, agent_pod));
        }
        let mut said = vec![];
        for (i, (t, agent_pod)) in targets.iter().enumerate() {
            if i > 0 && !spread.is_zero() {
                tokio::time::sleep(spread).await;
            }
            let out = self
                .ask(ns, agent_pod, t, &Ask::Signal(Signal::Kill))
                .await?;
            let n = agent::signalled(&out).map_err(ClusterError::Api)?;
            if n == 0 {
                return Err(ClusterError::Api(format!(
                    "kill had no effect: no process of {} ({}) was found on node {}",
                    t.pod, t.container, t.node
                )));
            }
        }
        for (t, _) in &targets {
            let proof = self.killed(ns, t, timeout).await?;
            crate::journal::mark(format!("in effect: {proof}"));
            said.push(proof);
        }
        Ok(said.join("\n"))
    }

    /// Waits until the kubelet restarted `t`'s container after a kill by signal 9.
    async fn killed(
        &self,
        ns: &str,
        t: &Target,
        timeout: Duration,
    ) -> Result<String, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let (pod, container, before) = (t.pod.clone(), t.container.clone(), t.restarts);
        watch::until(
            api,
            Config::default().fields(&format!("metadata.name={pod}")),
            timeout,
            |seen| killed_by_signal_9(seen.get(&pod), &pod, &container, before),
        )
        .await
        .map_err(|e| ClusterError::Api(format!("kill of {pod} not confirmed: {e}")))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn partition(
        &self,
        ns: &str,
        step: &str,
        (isolate, from): (&Selection, &Selection),
        port: u16,
        lasting: Option<Duration>,
        timeout: Duration,
        register: &(dyn Fn(CleanupItem) + Send + Sync),
    ) -> Result<String, ClusterError> {
        let isolated = self.targets(ns, isolate).await?;
        let names: Vec<&str> = isolated.iter().map(|t| t.pod.as_str()).collect();
        let others: Vec<Target> = self
            .targets(ns, from)
            .await?
            .into_iter()
            .filter(|t| !names.contains(&t.pod.as_str()))
            .collect();
        if others.is_empty() {
            return Err(ClusterError::Api(format!(
                "nothing to partition {} from: every pod of {from} is among them",
                names.join(", ")
            )));
        }
        let mut agents: BTreeMap<String, String> = BTreeMap::new();
        for t in isolated.iter().chain(&others) {
            if !agents.contains_key(&t.node) {
                let a = self.agent_on(ns, &t.node, timeout).await?;
                agents.insert(t.node.clone(), a);
            }
        }
        let ips = |ts: &[Target]| ts.iter().map(|t| t.ip.clone()).collect::<Vec<_>>();
        let (isolated_ips, other_ips) = (ips(&isolated), ips(&others));
        // Proof needs a connection that works before.
        let reach = async |ts: &[Target]| -> Result<Reached, ClusterError> {
            let mut out = vec![];
            for t in ts {
                let mut seen = vec![];
                for o in &others {
                    let ask = Ask::Reach {
                        address: o.ip.clone(),
                        port,
                    };
                    let said = self.ask(ns, &agents[&t.node], t, &ask).await?;
                    seen.push((
                        (o.ip.clone(), port),
                        agent::reached(&said).map_err(ClusterError::Api)?,
                    ));
                }
                out.push((t.pod.clone(), seen));
            }
            Ok(out)
        };
        for (pod, seen) in reach(&isolated).await? {
            let dark = agent::unreached(&seen);
            if !dark.is_empty() {
                return Err(ClusterError::Api(format!(
                    "the partition could not be proven: {pod} does not reach {} even before it (is port {port} the one the pods of {from} listen on?)",
                    dark.join(", ")
                )));
            }
        }
        let route = |t: &Target, add: bool, to: &[String]| AgentCall {
            agent_pod: agents[&t.node].clone(),
            argv: agent::command(
                &t.container_id,
                &Ask::Blackhole {
                    add,
                    addresses: to.to_vec(),
                },
            ),
        };
        let calls = |add: bool| {
            isolated
                .iter()
                .map(|t| route(t, add, &other_ips))
                .chain(others.iter().map(|t| route(t, add, &isolated_ips)))
                .collect::<Vec<_>>()
        };
        let heal = Heal {
            step: step.to_string(),
            namespace: ns.to_string(),
            what: format!(
                "reconnect {} with {}",
                names.join(", "),
                others
                    .iter()
                    .map(|t| t.pod.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            calls: calls(false),
            node: None,
        };
        register(CleanupItem::Heal(heal.clone()));
        for call in calls(true) {
            self.call(ns, &call).await?;
        }
        let mut said = vec![];
        for (pod, seen) in reach(&isolated).await? {
            said.push(agent::cut_off(&pod, &seen).map_err(ClusterError::Api)?);
        }
        crate::journal::mark(format!("in effect: {}", said.join("; ")));
        if let Some(d) = lasting {
            tokio::time::sleep(d).await;
            self.heal(&heal).await?;
            for (pod, seen) in reach(&isolated).await? {
                let dark = agent::unreached(&seen);
                if !dark.is_empty() {
                    return Err(ClusterError::Api(format!(
                        "the heal did not take effect: {pod} still does not reach {}",
                        dark.join(", ")
                    )));
                }
            }
            said.push(format!(
                "healed after {}: {} reach(es) every peer again",
                humantime::format_duration(d),
                names.join(", ")
            ));
            crate::journal::mark(format!(
                "healed: {} reach(es) every peer again",
                names.join(", ")
            ));
        }
        Ok(said.join("\n"))
    }
}

/// The kill of `container` in `pod` is proven: its restart count went past `before` and its
/// last state says it was killed by signal 9 (exit code 137).
pub fn killed_by_signal_9(
    pod: Option<&Pod>,
    name: &str,
    container: &str,
    before: i32,
) -> Result<String, String> {
    let Some(p) = pod else {
        return Err(format!("pod {name} is gone"));
    };
    let cs = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .ok_or_else(|| format!("pod {name} has no status for container `{container}`"))?;
    if cs.restart_count <= before {
        return Err(format!(
            "{name} ({container}) not restarted yet (restart count {})",
            cs.restart_count
        ));
    }
    let last = cs
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .ok_or_else(|| format!("{name} ({container}) restarted, with no last termination"))?;
    if last.signal == Some(9) || last.exit_code == 137 {
        Ok(format!(
            "killed {name} ({container}): restart count {before} -> {}, last state exit code {}{}",
            cs.restart_count,
            last.exit_code,
            last.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ))
    } else {
        Err(format!(
            "kill had no effect as such: {name} ({container}) restarted, but its last state is exit code {}{}, not a kill by signal 9",
            last.exit_code,
            last.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "galera-ss-1"},
            "spec": {"nodeName": "w1", "containers": [{"name": "mariadb", "image": "x"}]},
            "status": status
        }))
        .unwrap()
    }

    // Layer 1 (pure): a kill is proven only by a restart whose last state is a kill by
    // signal 9; a restart for another reason, or none, is not.
    #[test]
    fn a_kill_is_proven_by_a_restart_killed_by_signal_9_only() {
        let killed = pod(
            serde_json::json!({"containerStatuses": [{"name": "mariadb", "image": "x", "imageID": "", "ready": false,
            "restartCount": 1, "lastState": {"terminated": {"exitCode": 137, "reason": "Error"}}}]}),
        );
        let said = killed_by_signal_9(Some(&killed), "galera-ss-1", "mariadb", 0).unwrap();
        assert_eq!(
            said,
            "killed galera-ss-1 (mariadb): restart count 0 -> 1, last state exit code 137 (Error)"
        );
        let not_yet = killed_by_signal_9(Some(&killed), "galera-ss-1", "mariadb", 1).unwrap_err();
        assert!(not_yet.contains("not restarted yet"), "{not_yet}");
        let other = pod(
            serde_json::json!({"containerStatuses": [{"name": "mariadb", "image": "x", "imageID": "", "ready": false,
            "restartCount": 1, "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
        );
        let err = killed_by_signal_9(Some(&other), "galera-ss-1", "mariadb", 0).unwrap_err();
        assert!(err.contains("not a kill by signal 9"), "{err}");
        assert!(killed_by_signal_9(None, "galera-ss-1", "mariadb", 0).is_err());
    }

    // Layer 1 (pure): the agent asks for what it needs and no more: the host's PID namespace
    // and four capabilities, not `privileged`; pinned to its node, tolerating its taints.
    #[test]
    fn the_agent_pod_has_the_host_pid_namespace_and_four_capabilities_not_privileged() {
        let p = agent_pod(
            "kind-worker2",
            "busybox:1.36.1",
            "run-1",
            "galera-partition",
        );
        assert_eq!(p["metadata"]["name"], "harness-fault-agent-kind-worker2");
        assert_eq!(p["spec"]["nodeName"], "kind-worker2");
        assert_eq!(p["spec"]["hostPID"], true);
        assert_eq!(p["spec"]["hostNetwork"], serde_json::Value::Null);
        let sc = &p["spec"]["containers"][0]["securityContext"];
        assert_eq!(sc["privileged"], serde_json::Value::Null);
        assert_eq!(
            sc["capabilities"]["add"],
            serde_json::json!(["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "KILL"])
        );
        assert_eq!(
            p["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "harness"
        );
        let _: Pod = serde_json::from_value(p).expect("a valid Pod");
    }

    #[test]
    fn a_target_needs_a_started_container() {
        let started = pod(
            serde_json::json!({"podIP": "10.244.1.7", "containerStatuses": [{"name": "mariadb", "image": "x", "imageID": "", "ready": true,
            "restartCount": 2, "containerID": "containerd://d654ab798652fb794aedd35bbcb31c60c20d48fea4aae030d8da12e20b3b08b1"}]}),
        );
        let t = target_of(&started, None).unwrap();
        assert_eq!(
            (t.node.as_str(), t.ip.as_str(), t.restarts),
            ("w1", "10.244.1.7", 2)
        );
        assert!(t.container_id.starts_with("d654ab"));
        let waiting = pod(
            serde_json::json!({"containerStatuses": [{"name": "mariadb", "image": "x", "imageID": "", "ready": false, "restartCount": 0}]}),
        );
        let err = target_of(&waiting, None).unwrap_err().to_string();
        assert!(err.contains("has no container ID yet"), "{err}");
        let err = target_of(&started, Some("sidecar"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no running container `sidecar`"), "{err}");
    }
}
