//! `verify`: resolves the verifier's targets (port-forward bridges for pods, or static
//! endpoints) and its credentials, then runs the data-level check.

use super::{StepContext, StepFailure, StepResult};
use crate::exec::cluster::static_endpoints;
use crate::scenario::raw::FaultSpec;
use crate::verify::cassandra::{self, PodRef, PodShell};
use crate::verify::{self, PasswordSource, Targets, VerifySpec};

/// The cluster as the Cassandra checks see it: pods of a selector, and commands run in them.
struct ClusterShell<'a> {
    ctx: &'a StepContext<'a>,
}

#[async_trait::async_trait]
impl PodShell for ClusterShell<'_> {
    async fn pods(&self, selector: &str) -> Result<Vec<PodRef>, String> {
        let pods = self
            .ctx
            .cluster
            .list_pods(self.ctx.namespace(), selector)
            .await
            .map_err(|e| e.to_string())?;
        Ok(pods
            .into_iter()
            .map(|p| PodRef {
                name: p.name,
                ip: p.ip,
            })
            .collect())
    }
    async fn run(
        &self,
        pod: &str,
        container: Option<&str>,
        command: &[&str],
    ) -> Result<(i32, String), String> {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let call = self
            .ctx
            .cluster
            .exec(self.ctx.namespace(), pod, container, &command, None);
        let out = tokio::time::timeout(cassandra::NODETOOL_TIMEOUT, call)
            .await
            .map_err(|_| {
                format!(
                    "{pod}: `{}` took longer than {:?}",
                    command.join(" "),
                    cassandra::NODETOOL_TIMEOUT
                )
            })?
            .map_err(|e| e.to_string())?;
        Ok((out.exit_code, format!("{}{}", out.stdout, out.stderr)))
    }
}

pub async fn run(spec: &VerifySpec, ctx: &StepContext<'_>) -> StepResult {
    let shell = ClusterShell { ctx };
    let cassandra = match spec {
        VerifySpec::CassandraRing(s) => Some(cassandra::ring(s, &shell).await),
        VerifySpec::CassandraIdentity(s) => {
            Some(cassandra::identity(s, &shell, &ctx.state.facts).await)
        }
        VerifySpec::CassandraSnapshot(s) => Some(cassandra::snapshot(s, &shell).await),
        _ => None,
    };
    if let Some(verdict) = cassandra {
        return step_result(verdict);
    }
    let ns = ctx.namespace();
    let mut targets = Targets::default();
    for (key, target) in spec.targets() {
        let endpoints = match static_endpoints(&target.endpoints) {
            Some(list) => list,
            None => ctx.cluster.endpoints(ns, target).await?,
        };
        if endpoints.is_empty() {
            return Err(StepFailure::failed(
                format!("{}: `{key}` resolved to no endpoint", spec.name()),
                "",
            ));
        }
        targets.by_key.push((key, endpoints));
    }
    if let VerifySpec::Cql(c) = spec
        && c.nodetool
        && let Some(selector) = &c.target.pods
    {
        let view = cassandra::first_pod_view(&shell, selector, c.container.as_deref())
            .await
            .map_err(|e| {
                StepFailure::failed(
                    format!("cql: comparing with nodetool: {e} (`nodetool: false` skips it)"),
                    "",
                )
            })?;
        targets.nodetool = Some(view);
    }
    if let VerifySpec::MemcacheProxy(p) = spec {
        targets.proxies = match static_endpoints(&p.proxies.endpoints) {
            Some(list) => list,
            None => ctx.cluster.proxy_endpoints(ns, &p.proxies).await?,
        };
    }
    if let Some(creds) = spec.credentials() {
        targets.user = Some(creds.user.clone());
        targets.password = match &creds.password {
            None => None,
            Some(PasswordSource::Env(var)) => Some(std::env::var(var).map_err(|_| {
                StepFailure::failed(
                    format!("{}: the password variable `{var}` is not set", spec.name()),
                    "",
                )
            })?),
            Some(PasswordSource::Var(name)) => ctx.plan.values.get(name).map(str::to_string),
            Some(PasswordSource::Secret { name, key }) => {
                Some(ctx.cluster.secret_value(ns, name, key).await?)
            }
        };
    }
    let check = verify::run(spec, &targets, &ctx.plan.file);
    let (verdict, fault_note) = match spec {
        VerifySpec::GaleraAckWrites(s) if s.during.is_some() => {
            let during = s.during.clone().expect("checked");
            let after = humantime::parse_duration(&during.after).unwrap_or_default();
            let fault = async {
                tokio::time::sleep(after).await;
                let f = FaultSpec::DeletePod {
                    name: during.delete_pod.clone(),
                    wait_for_replacement: false,
                };
                match ctx.cluster.fault(ns, &f, ctx.timeout).await {
                    Ok(_) => format!(
                        "fault: deleted pod {} {} after the writers started",
                        during.delete_pod, during.after
                    ),
                    Err(e) => format!("fault: deleting pod {} failed: {e}", during.delete_pod),
                }
            };
            let (verdict, note) = tokio::join!(check, fault);
            (verdict, Some(note))
        }
        _ => (check.await, None),
    };
    let mut verdict = verdict.map_err(|e| StepFailure::failed(e.to_string(), ""))?;
    if let Some(note) = fault_note {
        verdict.evidence.insert(0, note);
    }
    step_result(verdict)
}

/// A verdict as a step's result: the summary, then the evidence lines.
fn step_result(verdict: verify::Verdict) -> StepResult {
    let output = format!("{}\n{}", verdict.summary, verdict.evidence.join("\n"));
    if verdict.passed {
        Ok(output)
    } else {
        Err(StepFailure::failed(verdict.summary, output))
    }
}
