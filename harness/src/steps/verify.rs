//! `verify`: resolves the verifier's targets (port-forward bridges for pods, or static
//! endpoints) and its credentials, then runs the data-level check.

use super::{StepContext, StepFailure, StepResult};
use crate::scenario::raw::FaultSpec;
use crate::verify::{self, PasswordSource, Targets, VerifySpec};

pub async fn run(spec: &VerifySpec, ctx: &StepContext<'_>) -> StepResult {
    let ns = ctx.namespace();
    let mut targets = Targets::default();
    for (key, target) in spec.targets() {
        let endpoints = ctx.cluster.endpoints(ns, target).await?;
        if endpoints.is_empty() {
            return Err(StepFailure::failed(
                format!("{}: `{key}` resolved to no endpoint", spec.name()),
                "",
            ));
        }
        targets.by_key.push((key, endpoints));
    }
    if let VerifySpec::MemcacheProxy(p) = spec {
        targets.proxies = ctx.cluster.proxy_endpoints(ns, &p.proxies).await?;
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
    let check = verify::run(spec, &targets, ctx.timeout, &ctx.plan.file);
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
    let output = format!("{}\n{}", verdict.summary, verdict.evidence.join("\n"));
    if verdict.passed {
        Ok(output)
    } else {
        Err(StepFailure::failed(verdict.summary, output))
    }
}
