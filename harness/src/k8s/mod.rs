//! The Kubernetes layer: [`KubeCluster`] implements the cluster port ([`Cluster`]) on kube-rs,
//! one module per operation (apply, wait, exec, port-forward bridges, faults, evidence,
//! namespaces). Getting a cluster (kind, Minikube, k3s, an existing context) is `provider`'s job.

pub mod apply;
pub mod bridge;
pub mod conditions;
pub mod drain;
pub mod evidence;
pub mod exec_status;
pub mod fault_agent;
pub mod faults;
pub mod labels;
pub mod namespace;
pub mod node_fault;
pub mod observe;
pub mod rollout;
pub mod wait;
pub mod watch;

use crate::cluster::{
    CleanupItem, Cluster, ClusterError, ContainerLog, DeleteTarget, Endpoint, Evidence, ExecOutput,
    Fault, Heal, NodeInfo, Observation, PodInfo, PodTarget, ProxyPods, ScalableKind, WaitCondition,
    Watch,
};
use crate::manifest::Manifest;
use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;

pub struct KubeCluster {
    pub client: Client,
    pub provider: String,
    pub version: String,
    pub run_id: String,
    /// Port-forward and exec bridges, closed when their namespace is cleaned up.
    bridges: Mutex<Vec<(String, JoinHandle<()>)>>,
    /// What can stop and restore the nodes' machines, when the provider owns them.
    nodes: Option<std::sync::Arc<dyn crate::cluster::NodeHost>>,
}

/// How long a node brought back at clean-up may take to turn Ready.
const CLEANUP_NODE: Duration = Duration::from_secs(170);

pub fn api_error(what: &str, e: kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(s) if s.code == 404 => {
            ClusterError::NotFound(format!("{what}: {}", s.message))
        }
        kube::Error::Api(s) => {
            ClusterError::Api(format!("{what}: {} ({} {})", s.message, s.code, s.reason))
        }
        other => ClusterError::Api(format!("{what}: {other}")),
    }
}

impl KubeCluster {
    pub fn new(client: Client, provider: &str, version: &str, run_id: &str) -> Self {
        Self {
            client,
            provider: provider.to_string(),
            version: version.to_string(),
            run_id: run_id.to_string(),
            bridges: Mutex::new(vec![]),
            nodes: None,
        }
    }

    /// The provider's hold on the nodes' machines (node faults need it).
    pub fn with_node_host(mut self, host: std::sync::Arc<dyn crate::cluster::NodeHost>) -> Self {
        self.nodes = Some(host);
        self
    }

    pub(crate) fn node_host(&self) -> Option<&std::sync::Arc<dyn crate::cluster::NodeHost>> {
        self.nodes.as_ref()
    }

    /// What an application pod dials through `$host_env`: the value, and what it resolves to
    /// in the pod (`getent`, or busybox's `nslookup`).
    async fn what_it_dials(
        &self,
        namespace: &str,
        pod: &Pod,
        name: &str,
        host_env: &str,
    ) -> Result<crate::cluster::Via, ClusterError> {
        let script = format!(
            "printf '%s\\n' \"${host_env}\"; if command -v getent >/dev/null 2>&1; then getent ahostsv4 \"${host_env}\"; else nslookup \"${host_env}\"; fi"
        );
        let command = vec!["/bin/sh".to_string(), "-c".to_string(), script];
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            self.exec(namespace, name, None, &command, None),
        )
        .await
        .map_err(|_| {
            ClusterError::Api(format!(
                "reading ${host_env} in {name}: no answer within 30s"
            ))
        })?
        .map_err(|e| ClusterError::Api(format!("reading ${host_env} in {name}: {e}")))?;
        let mut lines = out.stdout.lines();
        let value = lines.next().unwrap_or_default().trim().to_string();
        let rest: String = lines.collect::<Vec<_>>().join("\n");
        Ok(crate::cluster::Via {
            pod: name.to_string(),
            variable: host_env.to_string(),
            value,
            resolves_to: crate::cluster::resolver::addresses(&rest)
                .into_iter()
                .collect(),
            host_ip: pod.status.as_ref().and_then(|s| s.host_ip.clone()),
        })
    }

    fn keep_bridge(&self, namespace: &str, task: JoinHandle<()>) {
        self.bridges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((namespace.to_string(), task));
    }

    fn close_bridges(&self, namespace: &str) {
        let mut bridges = self.bridges.lock().unwrap_or_else(|e| e.into_inner());
        bridges.retain(|(ns, task)| {
            if ns == namespace {
                task.abort();
            }
            ns != namespace
        });
    }

    pub async fn pods(&self, namespace: &str, selector: &str) -> Result<Vec<Pod>, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let mut pods = api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| api_error(&format!("listing pods {selector}"), e))?
            .items;
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(pods)
    }
}

fn pod_info(p: &Pod) -> PodInfo {
    PodInfo {
        name: p.metadata.name.clone().unwrap_or_default(),
        ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
        node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        ready: conditions::pod_is_ready(p),
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    fn describe(&self) -> (String, String) {
        (self.provider.clone(), self.version.clone())
    }

    async fn create_namespace(
        &self,
        namespace: &str,
        scenario: &str,
    ) -> Result<CleanupItem, ClusterError> {
        namespace::create(&self.client, namespace, &self.run_id, scenario).await
    }

    async fn apply(
        &self,
        namespace: &str,
        scenario: &str,
        manifests: &[Manifest],
    ) -> Result<Vec<CleanupItem>, ClusterError> {
        apply::apply_all(
            &self.client,
            namespace,
            &labels::ours(&self.run_id, scenario),
            manifests,
        )
        .await
    }

    async fn delete(
        &self,
        namespace: &str,
        spec: &DeleteTarget,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        apply::delete(&self.client, namespace, &self.run_id, spec, timeout).await
    }

    async fn scale(
        &self,
        namespace: &str,
        kind: ScalableKind,
        name: &str,
        replicas: u32,
    ) -> Result<(), ClusterError> {
        faults::scale(&self.client, namespace, kind, name, replicas).await
    }

    async fn rollout(
        &self,
        namespace: &str,
        rollout: &crate::cluster::Rollout,
        timeout: Duration,
    ) -> Result<String, ClusterError> {
        rollout::rollout(&self.client, namespace, rollout, timeout).await
    }

    async fn wait(
        &self,
        namespace: &str,
        condition: &WaitCondition,
        timeout: Duration,
    ) -> Result<String, ClusterError> {
        wait::wait(&self.client, namespace, condition, timeout).await
    }

    async fn list_pods(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<PodInfo>, ClusterError> {
        Ok(self
            .pods(namespace, selector)
            .await?
            .iter()
            .map(pod_info)
            .collect())
    }

    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
        stdin: Option<&str>,
    ) -> Result<ExecOutput, ClusterError> {
        bridge::exec(
            &self.client,
            &self.version,
            namespace,
            pod,
            container,
            command,
            stdin,
        )
        .await
    }

    async fn fault(
        &self,
        namespace: &str,
        fault: &Fault,
        timeout: Duration,
    ) -> Result<Vec<CleanupItem>, ClusterError> {
        faults::fault(&self.client, namespace, fault, timeout).await
    }

    async fn inject(
        &self,
        namespace: &str,
        step: &str,
        fault: &Fault,
        timeout: Duration,
        register: &(dyn Fn(CleanupItem) + Send + Sync),
    ) -> Result<String, ClusterError> {
        let ns = namespace;
        match fault {
            Fault::Pause {
                pod,
                container,
                lasting,
            } => {
                self.pause(
                    ns,
                    step,
                    pod,
                    container.as_deref(),
                    *lasting,
                    timeout,
                    register,
                )
                .await
            }
            Fault::Kill {
                pods,
                container,
                spread,
            } => {
                self.kill(ns, pods, container.as_deref(), *spread, timeout)
                    .await
            }
            Fault::Partition {
                isolate,
                from,
                port,
                lasting,
            } => {
                self.partition(
                    ns,
                    step,
                    (isolate, from),
                    *port,
                    *lasting,
                    timeout,
                    register,
                )
                .await
            }
            Fault::Drain { node } => self.drain(ns, node, timeout, register).await,
            Fault::Node { name, how, lasting } => {
                self.node_fault(step, (name, *how, *lasting), timeout, register)
                    .await
            }
            other => Err(ClusterError::Api(format!(
                "{other:?} is not made through `inject`"
            ))),
        }
    }

    async fn endpoints(
        &self,
        namespace: &str,
        target: &PodTarget,
    ) -> Result<Vec<Endpoint>, ClusterError> {
        let (selector, port) = (target.selector.as_str(), target.port);
        let pods = self.pods(namespace, selector).await?;
        if pods.is_empty() {
            return Err(ClusterError::NotFound(format!(
                "no pod matches `{selector}`"
            )));
        }
        let mut out = vec![];
        for p in &pods {
            let name = p.metadata.name.clone().unwrap_or_default();
            let (addr, task) =
                bridge::port_forward_listener(self.client.clone(), namespace, &name, port).await?;
            self.keep_bridge(namespace, task);
            out.push(Endpoint {
                name: format!("{name}:{port}"),
                host: addr.ip().to_string(),
                port: addr.port(),
                advertised: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
                node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                via: None,
            });
        }
        Ok(out)
    }

    async fn proxy_endpoints(
        &self,
        namespace: &str,
        target: &ProxyPods,
    ) -> Result<Vec<Endpoint>, ClusterError> {
        let (selector, host_env, port) = (
            target.via_pods.as_str(),
            target.host_env.as_str(),
            target.port,
        );
        let pods = self.pods(namespace, selector).await?;
        // One application pod per node: each reaches the proxy on its own node.
        let mut seen_nodes = std::collections::BTreeSet::new();
        let mut out = vec![];
        for p in pods.iter().filter(|p| conditions::pod_is_ready(p)) {
            let info = pod_info(p);
            let node = info.node.clone().unwrap_or_default();
            if !seen_nodes.insert(node.clone()) {
                continue;
            }
            let via = self
                .what_it_dials(namespace, p, &info.name, host_env)
                .await?;
            let (addr, task) = bridge::exec_nc_listener(
                self.client.clone(),
                namespace,
                &info.name,
                host_env,
                port,
            )
            .await?;
            self.keep_bridge(namespace, task);
            out.push(Endpoint {
                name: format!("{}@{node}", info.name),
                host: addr.ip().to_string(),
                port: addr.port(),
                advertised: None,
                node: info.node.clone(),
                via: Some(via),
            });
        }
        if out.is_empty() {
            return Err(ClusterError::NotFound(format!(
                "no ready pod matches `{selector}`"
            )));
        }
        Ok(out)
    }

    async fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<String, ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api
            .get(name)
            .await
            .map_err(|e| api_error(&format!("reading Secret {name}"), e))?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone());
        let bytes = bytes.or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
        });
        let bytes = bytes
            .ok_or_else(|| ClusterError::NotFound(format!("Secret {name} has no key {key}")))?;
        String::from_utf8(bytes)
            .map_err(|_| ClusterError::Api(format!("Secret {name} key {key} is not UTF-8")))
    }

    async fn container_logs(
        &self,
        namespace: &str,
        pod: &str,
        previous: bool,
        since: Option<Duration>,
    ) -> Result<Vec<ContainerLog>, ClusterError> {
        evidence::container_logs(&self.client, namespace, pod, previous, since).await
    }

    async fn observe(
        &self,
        namespace: &str,
        watch: &Watch,
        tx: tokio::sync::mpsc::Sender<Observation>,
    ) -> Result<(), ClusterError> {
        observe::observe(&self.client, namespace, watch, tx).await
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        use crate::capacity::{Resources, parse_cpu, parse_memory, pod_requests};
        let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        let nodes = api
            .list(&ListParams::default())
            .await
            .map_err(|e| api_error("listing nodes", e))?;
        // What the pods already on each node request, as the scheduler counts it (pods that
        // finished hold nothing).
        let pods: Api<Pod> = Api::all(self.client.clone());
        let running = pods
            .list(&ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed"))
            .await
            .map_err(|e| api_error("listing the pods of every namespace", e))?;
        let mut requested: std::collections::BTreeMap<String, Resources> = Default::default();
        for p in &running.items {
            let (Some(node), Some(spec)) = (
                p.spec.as_ref().and_then(|s| s.node_name.clone()),
                p.spec.as_ref().and_then(|s| serde_json::to_value(s).ok()),
            ) else {
                continue;
            };
            let r = requested.entry(node).or_default();
            let pod = pod_requests(&spec);
            r.cpu_milli += pod.cpu_milli;
            r.memory += pod.memory;
        }
        Ok(nodes
            .items
            .iter()
            .map(|n| {
                let name = n.metadata.name.clone().unwrap_or_default();
                let allocatable = n
                    .status
                    .as_ref()
                    .and_then(|s| s.allocatable.as_ref())
                    .and_then(|a| {
                        Some(Resources {
                            cpu_milli: parse_cpu(&a.get("cpu")?.0)?,
                            memory: parse_memory(&a.get("memory")?.0)?,
                        })
                    });
                NodeInfo {
                    requested: requested.get(&name).copied().unwrap_or_default(),
                    unschedulable: conditions::node_unschedulable(n),
                    allocatable,
                    name,
                }
            })
            .collect())
    }

    async fn evidence(&self, namespace: &str) -> Vec<Evidence> {
        evidence::collect(&self.client, namespace).await
    }

    async fn cleanup(&self, item: &CleanupItem) -> Result<Option<String>, ClusterError> {
        match item {
            CleanupItem::Namespace(ns) => {
                self.close_bridges(ns);
                namespace::delete(&self.client, ns, &self.run_id)
                    .await
                    .map(Some)
            }
            CleanupItem::Object {
                api_version,
                kind,
                namespace,
                name,
            } => apply::delete_owned(
                &self.client,
                api_version,
                kind,
                namespace.as_deref(),
                name,
                &self.run_id,
            )
            .await
            .map(|()| None),
            CleanupItem::Heal(Heal {
                node: Some((node, how)),
                ..
            }) => self.heal_node(node, *how, CLEANUP_NODE).await.map(Some),
            CleanupItem::Heal(heal) => self.heal(heal).await,
            CleanupItem::Uncordon(node) => {
                let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
                let patch = serde_json::json!({"spec": {"unschedulable": false}});
                api.patch(node, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| None)
                    .map_err(|e| api_error(&format!("uncordoning {node}"), e))
            }
        }
    }
}

#[cfg(test)]
mod rollout_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
