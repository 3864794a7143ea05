//! `galera.status`: on every node `wsrep_cluster_size` = N, `wsrep_cluster_status` = Primary,
//! `wsrep_local_state_comment` = Synced, `wsrep_connected` = ON, `wsrep_ready` = ON, and all
//! nodes report the same `wsrep_cluster_state_uuid`. A failure names the node and the value seen.

use super::{Login, same_server, survey};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{
    Credentials, RawCredentials, RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    pub credentials: RawCredentials,
    /// Expected `wsrep_cluster_size` on every node; defaults to the number of targets.
    pub size: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraStatusSpec {
    pub target: Target,
    pub credentials: Credentials,
    pub size: Option<u32>,
}

#[async_trait::async_trait]
impl Verifier for GaleraStatusSpec {
    const NAME: &'static str = "galera.status";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let credentials = raw.credentials.check(cx, &format!("{path}.credentials"));
        let size = match raw.size {
            Some(n) => Some(cx.count(&format!("{path}.size"), n, 1)?),
            None => None,
        };
        Some(Self {
            target: target?,
            credentials: credentials?,
            size,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            credentials: RawCredentials::from_flags(flags)?,
            size: flags.size,
        })
    }

    fn targets(&self) -> Vec<(&'static str, &Target, usize)> {
        vec![("target", &self.target, 1)]
    }

    fn credentials(&self) -> Option<&Credentials> {
        Some(&self.credentials)
    }

    async fn run(&self, cx: &VerifyContext<'_>) -> Verdict {
        check(self, cx.get("target"), &Login::of(cx)).await
    }
}

pub async fn check(spec: &GaleraStatusSpec, nodes: &[Endpoint], login: &Login) -> Verdict {
    let size = spec.size.map_or(nodes.len().to_string(), |n| n.to_string());
    let expected = [
        ("wsrep_cluster_size", size.as_str()),
        ("wsrep_cluster_status", "Primary"),
        ("wsrep_local_state_comment", "Synced"),
        ("wsrep_connected", "ON"),
        ("wsrep_ready", "ON"),
    ];
    let facts = survey(nodes, login).await;
    if let Some(twice) = same_server(nodes, &facts) {
        return Verdict::fail(twice, vec![]);
    }
    let seen: Vec<_> = facts.into_iter().map(|f| f.map(|f| f.status)).collect();
    judge(nodes, &seen, &expected)
}

/// The verdict over what each node reported (pure, so it is tested without servers).
pub fn judge(
    nodes: &[Endpoint],
    seen: &[Result<BTreeMap<String, String>, String>],
    expected: &[(&str, &str)],
) -> Verdict {
    let mut problems = vec![];
    let mut evidence = vec![];
    let mut uuids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (node, result) in nodes.iter().zip(seen) {
        match result {
            Err(e) => {
                problems.push(format!("{node}: {e}"));
                evidence.push(format!("{node}: unreachable: {e}"));
            }
            Ok(status) => {
                let get = |k: &str| status.get(k).map_or("<missing>", String::as_str);
                let line: Vec<String> = expected
                    .iter()
                    .map(|(k, _)| format!("{k}={}", get(k)))
                    .collect();
                evidence.push(format!(
                    "{node}: {} wsrep_local_index={} wsrep_cluster_state_uuid={}",
                    line.join(" "),
                    get("wsrep_local_index"),
                    get("wsrep_cluster_state_uuid")
                ));
                for (key, want) in expected {
                    let got = get(key);
                    if got != *want {
                        problems.push(format!("{node}: {key} is {got}, expected {want}"));
                    }
                }
                uuids
                    .entry(get("wsrep_cluster_state_uuid").to_string())
                    .or_default()
                    .push(node.to_string());
            }
        }
    }
    if uuids.len() > 1 {
        let groups: Vec<String> = uuids
            .iter()
            .map(|(u, n)| format!("{u} on {}", n.join(", ")))
            .collect();
        problems.push(format!(
            "nodes disagree on wsrep_cluster_state_uuid: {}",
            groups.join("; ")
        ));
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{} node(s) Primary and Synced, cluster size {}",
                nodes.len(),
                expected[0].1
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Endpoint {
        Endpoint::parse(&format!("{name}:3306")).unwrap()
    }

    fn status(size: &str, comment: &str, uuid: &str) -> Result<BTreeMap<String, String>, String> {
        Ok([
            ("wsrep_cluster_size", size),
            ("wsrep_cluster_status", "Primary"),
            ("wsrep_local_state_comment", comment),
            ("wsrep_connected", "ON"),
            ("wsrep_ready", "ON"),
            ("wsrep_cluster_state_uuid", uuid),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
    }

    const EXPECT: [(&str, &str); 5] = [
        ("wsrep_cluster_size", "3"),
        ("wsrep_cluster_status", "Primary"),
        ("wsrep_local_state_comment", "Synced"),
        ("wsrep_connected", "ON"),
        ("wsrep_ready", "ON"),
    ];

    // Layer 1 (pure): the judgement; layer 2 tests run it on real servers.
    #[test]
    fn names_the_node_and_the_value_seen() {
        let nodes = [node("a"), node("b"), node("c")];
        let seen = [
            status("3", "Synced", "u1"),
            status("2", "Donor/Desynced", "u1"),
            Err("cannot connect: refused".into()),
        ];
        let v = judge(&nodes, &seen, &EXPECT);
        assert!(!v.passed);
        assert!(
            v.summary
                .contains("b:3306: wsrep_cluster_size is 2, expected 3"),
            "{}",
            v.summary
        );
        assert!(
            v.summary
                .contains("b:3306: wsrep_local_state_comment is Donor/Desynced"),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains("c:3306: cannot connect"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn disagreeing_state_uuids_fail() {
        let nodes = [node("a"), node("b")];
        let mut expect = EXPECT;
        expect[0].1 = "2";
        let v = judge(
            &nodes,
            &[status("2", "Synced", "u1"), status("2", "Synced", "u2")],
            &expect,
        );
        assert!(!v.passed && v.summary.contains("disagree"), "{}", v.summary);
        let v = judge(
            &nodes,
            &[status("2", "Synced", "u1"), status("2", "Synced", "u1")],
            &expect,
        );
        assert!(v.passed, "{}", v.summary);
    }
}

#[cfg(test)]
mod rig {
    use super::*;
    use crate::testing::{eps, galera_login};
    use crate::verify::galera::sync as galera_sync;
    use harness_testkit::rig;
    use std::time::Duration;

    fn spec(size: u32) -> GaleraStatusSpec {
        GaleraStatusSpec {
            target: Default::default(),
            credentials: crate::verify::Credentials {
                user: rig::GALERA_USER.into(),
                password: None,
            },
            size: Some(size),
        }
    }

    /// Galera has no event to watch for a rejoin: retry the check once a second, bounded.
    async fn until_passes(nodes: &[Endpoint], limit: Duration) -> Verdict {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let v = check(&spec(3), nodes, &galera_login()).await;
            if v.passed || tokio::time::Instant::now() >= end {
                return v;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    // Layer 2 (real servers): a 3-node MariaDB 10.11 / Galera 4 cluster in containers.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn status_and_sync_pass_then_name_a_stopped_node_which_rejoins() {
        let (nodes, endpoints) = rig::galera(3).await;
        let endpoints = eps(endpoints);
        let login = galera_login();
        let v = until_passes(&endpoints, Duration::from_secs(60)).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert_eq!(v.evidence.len(), 3);
        let sync = galera_sync::check(&endpoints, &login).await;
        assert!(sync.passed, "{} {:?}", sync.summary, sync.evidence);
        assert!(
            sync.evidence
                .iter()
                .any(|e| e.contains("DELETE FROM") && e.contains("-g2:3306")),
            "{:?}",
            sync.evidence
        );

        nodes[2].stop().await;
        let v = check(&spec(3), &endpoints, &login).await;
        assert!(!v.passed);
        let stopped = &endpoints[2].name;
        assert!(
            v.summary.contains(&format!("{stopped}: cannot connect")),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains(&format!(
                "{}: wsrep_cluster_size is 2, expected 3",
                endpoints[0].name
            )),
            "{}",
            v.summary
        );
        assert!(!format!("{v:?}").contains(rig::GALERA_PASSWORD));
        let sync = galera_sync::check(&endpoints, &login).await;
        assert!(
            !sync.passed && sync.summary.contains(stopped.as_str()),
            "{}",
            sync.summary
        );

        nodes[2].start().await;
        let v = until_passes(&endpoints, Duration::from_secs(120)).await;
        assert!(
            v.passed,
            "node did not rejoin: {} {:?}",
            v.summary, v.evidence
        );
    }
}
