//! `verify`: resolves the verifier's targets (port-forward or exec-`nc` bridges for pods, or
//! static endpoints) and its credentials, then runs the data-level check. The same resolver
//! serves scenario steps and `harness verify` (a one-step static plan).

use super::{StepContext, StepFailure, StepKind, StepResult};
use crate::check::Checker;
use crate::cluster::{Endpoint, Fault};
use crate::verify::{
    Login, PasswordSource, PodRef, PodShell, RawVerify, Target, Verdict, VerifyContext, VerifySpec,
};
use serde::Serialize;
use std::time::Duration;

/// How long one `nodetool`-style command in a pod may take.
pub const POD_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize)]
pub struct Verify(pub VerifySpec);

#[async_trait::async_trait]
impl StepKind for Verify {
    const NAME: &'static str = "verify";
    const DOC: &'static str =
        "Run one verifier: check a system at the data level through its own protocol.";
    const RETRYABLE: bool = true;
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
    type Raw = RawVerify;

    fn check(raw: RawVerify, cx: &mut Checker, path: &str) -> Option<Self> {
        raw.check(cx, path).map(Verify)
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        let spec = &self.0;
        let mut endpoints = std::collections::BTreeMap::new();
        for (key, target, min) in spec.targets() {
            let list =
                crate::journal::track("", || format!("reaching `{key}`"), resolve(ctx, target))
                    .await?;
            ctx.journal.expect(&list);
            if list.len() < min {
                let names: Vec<String> = list.iter().map(|e| e.name.clone()).collect();
                return Err(StepFailure::failed(
                    format!(
                        "{}: `{key}` resolved to {} endpoint(s) ({}), but the check needs at least {min} to compare anything",
                        spec.name(),
                        list.len(),
                        if names.is_empty() {
                            "none".into()
                        } else {
                            names.join(", ")
                        }
                    ),
                    "",
                ));
            }
            endpoints.insert(key, list);
        }
        let login = login(spec, ctx).await?;
        let shell = ClusterShell { ctx };
        let facts = &ctx.state.facts;
        let cx = VerifyContext {
            login,
            pods: &shell,
            facts,
            undo: &ctx.state.undo,
            workloads: &ctx.state.workloads,
            steps_started: &ctx.state.step_started,
            faults: &ctx.state.faults,
        };
        step_result(ctx.journal.scope(spec.run(&cx, endpoints)).await)
    }

    fn summary(&self) -> String {
        format!("verify {}", self.0.name())
    }

    fn verifier(&self) -> Option<&'static str> {
        Some(self.0.name())
    }

    fn needs_cluster(&self) -> bool {
        self.0.needs_cluster()
    }

    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        self.0.disrupts()
    }

    fn lasts_at_least(&self) -> Option<(&'static str, Duration)> {
        self.0.lasts_at_least()
    }

    fn workload_refs(&self) -> Vec<(&'static str, String)> {
        self.0.workload_refs()
    }
}

/// The endpoints of one target: static ones as given, pods through local bridges.
pub async fn resolve(ctx: &StepContext<'_>, target: &Target) -> Result<Vec<Endpoint>, StepFailure> {
    Ok(match target {
        Target::Endpoints(list) => list.clone(),
        Target::Pods(pods) => ctx.cluster.endpoints(ctx.namespace(), pods).await?,
        Target::ViaPods(proxies) => {
            ctx.cluster
                .proxy_endpoints(ctx.namespace(), proxies)
                .await?
        }
    })
}

async fn login(spec: &VerifySpec, ctx: &StepContext<'_>) -> Result<Login, StepFailure> {
    login_for(spec.credentials(), spec.name(), ctx).await
}

/// The login `creds` describe, its password read now (and masked from then on); `who` names
/// the check in messages.
pub(super) async fn login_for(
    creds: Option<&crate::verify::Credentials>,
    who: &str,
    ctx: &StepContext<'_>,
) -> Result<Login, StepFailure> {
    let Some(creds) = creds else {
        return Ok(Login::default());
    };
    let password = match &creds.password {
        None => None,
        Some(PasswordSource::Env(var)) => Some(std::env::var(var).map_err(|_| {
            StepFailure::failed(
                format!(
                    "{who}: the password variable {} is not set",
                    crate::vars::env_name_shown(var)
                ),
                "",
            )
        })?),
        Some(PasswordSource::Var(name)) => ctx.values.get(name).map(str::to_string),
        Some(PasswordSource::Secret { name, key }) => {
            Some(ctx.cluster.secret_value(ctx.namespace(), name, key).await?)
        }
    };
    // A password read at run time (a Secret, the environment) is masked like the plan's.
    ctx.state.add_secrets(password.clone());
    Ok(Login {
        user: Some(creds.user.clone()),
        password,
    })
}

/// The cluster as verifiers that work inside pods see it: pods of a selector, commands run in
/// them, and a pod deleted on purpose.
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
                ready: p.ready,
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
        let out = crate::journal::track(pod, || command.join(" "), async {
            tokio::time::timeout(POD_COMMAND_TIMEOUT, call)
                .await
                .map_err(|_| {
                    format!(
                        "{pod}: `{}` took longer than {POD_COMMAND_TIMEOUT:?}",
                        command.join(" ")
                    )
                })
        })
        .await?
        .map_err(|e| e.to_string())?;
        Ok((out.exit_code, format!("{}{}", out.stdout, out.stderr)))
    }

    async fn wait_ready(&self, name: &str, ready: bool, within: Duration) -> Result<(), String> {
        let condition = if ready {
            crate::cluster::WaitCondition::PodReady {
                pods: crate::cluster::Selection::Name(name.to_string()),
                count: None,
            }
        } else {
            crate::cluster::WaitCondition::PodNotReady {
                name: name.to_string(),
            }
        };
        self.ctx
            .cluster
            .wait(self.ctx.namespace(), &condition, within)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn delete_pod(&self, name: &str) -> Result<(), String> {
        let fault = Fault::DeletePod {
            name: name.to_string(),
            wait_for_replacement: false,
        };
        self.ctx
            .cluster
            .fault(self.ctx.namespace(), &fault, self.ctx.timeout)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A verdict as a step's result: the summary, then the evidence lines.
fn step_result(verdict: Verdict) -> StepResult {
    let output = format!("{}\n{}", verdict.summary, verdict.evidence.join("\n"));
    if verdict.passed {
        Ok(output)
    } else {
        Err(StepFailure::failed(verdict.summary, output))
    }
}
