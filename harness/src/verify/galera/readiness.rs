//! `galera.readiness`: what a Galera pod's readiness means. The node is desynced on purpose
//! (`SET GLOBAL wsrep_desync = ON` through the check's own connection: it keeps replicating
//! but leaves flow control, and reports `Donor/Desynced`), and its pod must become not Ready;
//! synced again, it must become Ready again. A readiness probe that always succeeds (pods Ready
//! before they are Synced) keeps the pod Ready and fails here, while rollout waits and later
//! status checks, which see a settled cluster, cannot tell. The desync is undone by a clean-up
//! registered before it, whatever happens.

use super::{Login, connect, rows, run};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{
    Credentials, Need, One, RawCredentials, RawTarget, Target, Verdict, Verifier, VerifyContext,
    VerifyFlags,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The Galera pods (`{ pods: app=galera-ss, port: 3306 }`).
    pub target: RawTarget,
    pub credentials: RawCredentials,
    /// The pod to desync, e.g. `galera-ss-2`.
    pub pod: String,
    /// How long the pod may take to become not Ready once desynced, and Ready again once
    /// synced (its probe's period times its failure threshold, and some).
    #[serde(default = "default_within")]
    pub within: String,
}

fn default_within() -> String {
    "2m".into()
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraReadinessSpec {
    pub target: Target,
    pub credentials: Credentials,
    pub pod: String,
    #[serde(serialize_with = "crate::check::duration_text")]
    pub within: Duration,
}

#[async_trait::async_trait]
impl Verifier for GaleraReadinessSpec {
    const NAME: &'static str = "galera.readiness";
    const CHECKS: &'static str = "what readiness means: `pod` desynced on purpose (`wsrep_desync`) must become not Ready within `within`, and Ready again once synced; a probe that says Ready before Synced fails; the desync is undone by a clean-up registered before it";
    const FROM_VERIFY: bool = false;
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let credentials = raw.credentials.check(cx, &format!("{path}.credentials"));
        let within = cx.bounded_duration(
            &format!("{path}.within"),
            &raw.within,
            Duration::from_secs(3600),
        );
        if let Some(t) = &target
            && !t.needs_cluster()
        {
            cx.error(
                &format!("{path}.target"),
                "galera.readiness watches pods: give `pods` and `port`, not static endpoints",
            );
            return None;
        }
        if raw.pod.trim().is_empty() {
            cx.error(&format!("{path}.pod"), "name the pod to desync");
            return None;
        }
        Some(Self {
            target: target?,
            credentials: credentials?,
            pod: raw.pod,
            within: within?,
        })
    }

    fn from_flags(_: &VerifyFlags) -> Result<Raw, String> {
        Err("galera.readiness watches pods: run it from a scenario".into())
    }

    type Shape = One<()>;

    fn targets(&self) -> One<Need<'_>> {
        One {
            target: Need {
                target: &self.target,
                min: 1,
            },
        }
    }

    fn credentials(&self) -> Option<&Credentials> {
        Some(&self.credentials)
    }

    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        Some(crate::cluster::Disrupted::Pods(vec![self.pod.clone()]))
    }

    async fn run(&self, cx: &VerifyContext<'_>, at: One<Vec<Endpoint>>) -> Verdict {
        let prefix = format!("{}:", self.pod);
        let Some(node) = at.target.iter().find(|e| e.name.starts_with(&prefix)) else {
            let names: Vec<&str> = at.target.iter().map(|e| e.name.as_str()).collect();
            return Verdict::fail(
                format!(
                    "{} is not one of the target's pods ({})",
                    self.pod,
                    names.join(", ")
                ),
                vec![],
            );
        };
        check(self, node, &Login::of(cx), cx.pods, Some(cx.undo)).await
    }
}

/// `wsrep_local_state_comment` of `node`.
async fn state_of(node: &Endpoint, login: &Login) -> Result<String, String> {
    let mut conn = connect(node, login).await?;
    let r = rows(
        &mut conn,
        "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'",
    )
    .await;
    let _ = conn.disconnect().await;
    Ok(r?.into_iter().next().map(|(_, v)| v).unwrap_or_default())
}

async fn set_desync(node: &Endpoint, login: &Login, on: bool) -> Result<(), String> {
    let mut conn = connect(node, login).await?;
    let r = run(
        &mut conn,
        &format!(
            "SET GLOBAL wsrep_desync = {}",
            if on { "ON" } else { "OFF" }
        ),
    )
    .await;
    let _ = conn.disconnect().await;
    r
}

/// The check against `node` (the pod `spec.pod`), watching the pod through `pods`.
pub async fn check(
    spec: &GaleraReadinessSpec,
    node: &Endpoint,
    login: &Login,
    pods: &dyn crate::verify::PodShell,
    undo: Option<&crate::verify::Undo>,
) -> Verdict {
    let mut evidence = vec![];
    match state_of(node, login).await {
        Ok(s) if s == "Synced" => evidence.push(format!("{node}: Synced before the check")),
        Ok(s) => {
            return Verdict::fail(
                format!("{node} is {s}, not Synced, before anything was done to it"),
                evidence,
            );
        }
        Err(e) => return Verdict::fail(e, evidence),
    }
    if let Some(undo) = undo {
        let (node, login) = (node.clone(), login.clone());
        undo.register(format!("undo the desync of {}", spec.pod), async move {
            set_desync(&node, &login, false).await
        });
    }
    if let Err(e) = set_desync(node, login, true).await {
        return Verdict::fail(format!("{node}: desyncing it: {e}"), evidence);
    }
    let desynced = Instant::now();
    evidence.push(format!(
        "{node}: desynced ({})",
        state_of(node, login).await.unwrap_or_else(|e| e)
    ));
    let not_ready = pods.wait_ready(&spec.pod, false, spec.within).await;
    let went = desynced.elapsed();
    // Synced again whatever the pod did: the clean-up does it too, this is the check's own
    // second half.
    let resync = set_desync(node, login, false).await;
    if let Err(e) = not_ready {
        return Verdict::fail(
            format!(
                "{} stayed Ready for {} while its node was desynced (not Synced): its readiness probe does not check that the node is Synced ({e})",
                spec.pod,
                humantime::format_duration(spec.within)
            ),
            evidence,
        );
    }
    evidence.push(format!(
        "{}: not Ready {:.1}s after the desync",
        spec.pod,
        went.as_secs_f64()
    ));
    if let Err(e) = resync {
        return Verdict::fail(format!("{node}: syncing it again: {e}"), evidence);
    }
    let synced = Instant::now();
    let back = pods.wait_ready(&spec.pod, true, spec.within).await;
    if let Err(e) = back {
        return Verdict::fail(
            format!(
                "{} did not become Ready again within {} after its node was synced again ({e})",
                spec.pod,
                humantime::format_duration(spec.within)
            ),
            evidence,
        );
    }
    evidence.push(format!(
        "{}: Ready again {:.1}s after the node was synced",
        spec.pod,
        synced.elapsed().as_secs_f64()
    ));
    Verdict::pass(
        format!(
            "{} became not Ready {:.1}s after its node was desynced, and Ready again once synced: its readiness means Synced",
            spec.pod,
            went.as_secs_f64()
        ),
        evidence,
    )
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers) with a scripted pod watch: the desync and its undo on a real
    //! 3-node Galera cluster; the pod's readiness as a kubelet would report it with a probe
    //! that checks Synced (it polls the node) and with one that always succeeds.
    use super::*;
    use crate::testing::{eps, galera_login};
    use crate::verify::{PodRef, PodShell};
    use harness_testkit::rig;

    /// A kubelet's view of one pod: Ready as its probe says, the probe checking the node's
    /// state every half second (or, `always_ready`, never failing).
    struct Kubelet {
        node: Endpoint,
        always_ready: bool,
    }

    #[async_trait::async_trait]
    impl PodShell for Kubelet {
        async fn pods(&self, _: &str) -> Result<Vec<PodRef>, String> {
            Ok(vec![])
        }
        async fn run(&self, _: &str, _: Option<&str>, _: &[&str]) -> Result<(i32, String), String> {
            Err("no exec here".into())
        }
        async fn wait_ready(
            &self,
            name: &str,
            ready: bool,
            within: Duration,
        ) -> Result<(), String> {
            let end = Instant::now() + within;
            loop {
                let probe_ok = self.always_ready
                    || state_of(&self.node, &galera_login()).await.as_deref() == Ok("Synced");
                if probe_ok == ready {
                    return Ok(());
                }
                if Instant::now() >= end {
                    return Err(format!(
                        "pod {name} still {}",
                        if ready { "not Ready" } else { "Ready" }
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    fn spec() -> GaleraReadinessSpec {
        GaleraReadinessSpec {
            target: Default::default(),
            credentials: Credentials {
                user: rig::GALERA_USER.into(),
                password: None,
            },
            pod: "galera-ss-2".into(),
            within: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn a_probe_that_says_ready_before_synced_fails_and_the_desync_is_undone() {
        let (_nodes, endpoints) = rig::galera(3).await;
        let node = eps(endpoints).remove(2);
        let login = galera_login();
        let honest = Kubelet {
            node: node.clone(),
            always_ready: false,
        };
        let undo = crate::verify::Undo::default();
        let v = check(&spec(), &node, &login, &honest, Some(&undo)).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("desynced (Donor/Desynced)")),
            "{:?}",
            v.evidence
        );
        assert_eq!(state_of(&node, &login).await.unwrap(), "Synced");

        let lying = Kubelet {
            node: node.clone(),
            always_ready: true,
        };
        let v = check(&spec(), &node, &login, &lying, Some(&undo)).await;
        assert!(!v.passed);
        assert!(
            v.summary
                .contains("galera-ss-2 stayed Ready for 5s while its node was desynced"),
            "{}",
            v.summary
        );
        // The check synced it again (the node passes through Joined while it catches up);
        // the registered clean-up would too.
        let end = Instant::now() + Duration::from_secs(20);
        while state_of(&node, &login).await.unwrap() != "Synced" {
            assert!(Instant::now() < end, "the node did not sync again");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for (what, work) in undo.take() {
            work.await.unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
}
