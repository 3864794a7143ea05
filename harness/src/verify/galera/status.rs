//! `galera.status`: on every node `wsrep_cluster_size` = N, `wsrep_cluster_status` = Primary,
//! `wsrep_local_state_comment` = Synced, `wsrep_connected` = ON, `wsrep_ready` = ON, and all
//! nodes report the same `wsrep_cluster_state_uuid`. A failure names the node and the value seen.

use super::{Facts, Login, REQUIRED_SETTINGS, same_server, survey};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{
    Credentials, RawCredentials, RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags,
};
use crate::verify::{Need, One};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    pub credentials: RawCredentials,
    /// Expected `wsrep_cluster_size` on every node; defaults to the number of targets.
    pub size: Option<i64>,
    /// Require commits durable on each node (`innodb_flush_log_at_trx_commit=1`): with 0 or 2,
    /// what was acknowledged in the last second is lost when several nodes crash together.
    #[serde(default)]
    pub durable_commits: bool,
    /// Every node's server version must start with this (`11.8`, `10.11.14`): after a
    /// rollout, every node runs the new version, not only every pod restarted.
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraStatusSpec {
    pub target: Target,
    pub credentials: Credentials,
    pub size: Option<u32>,
    pub durable_commits: bool,
    pub version: Option<String>,
}

#[async_trait::async_trait]
impl Verifier for GaleraStatusSpec {
    const NAME: &'static str = "galera.status";
    const CHECKS: &'static str = "on every node size, `Primary`, `Synced`, connected, ready, one state UUID; every target in every other target's component (\"N of the cluster's M members checked\"); the settings Galera requires: `binlog_format=ROW`, InnoDB by default, `innodb_autoinc_lock_mode=2`, `innodb_doublewrite`, `wsrep_on`, a provider; `durable_commits: true`: `innodb_flush_log_at_trx_commit=1` on every node; `version: 11.8`: every node's server version starts with it";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let credentials = raw.credentials.check(cx, &format!("{path}.credentials"));
        let size = match raw.size {
            Some(n) => Some(cx.count_within(&format!("{path}.size"), n, 1, 100)?),
            None => None,
        };
        let version = cx.version_prefix(&format!("{path}.version"), raw.version, "11.8")?;
        Some(Self {
            target: target?,
            credentials: credentials?,
            size,
            durable_commits: raw.durable_commits,
            version,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            credentials: RawCredentials::from_flags(flags)?,
            size: flags.size,
            durable_commits: false,
            version: None,
        })
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

    async fn run(&self, cx: &VerifyContext<'_>, at: One<Vec<Endpoint>>) -> Verdict {
        check(self, &at.target, &Login::of(cx)).await
    }
}

pub async fn check(spec: &GaleraStatusSpec, nodes: &[Endpoint], login: &Login) -> Verdict {
    let size = spec.size.map_or(nodes.len().to_string(), |n| n.to_string());
    let expected = expected(&size);
    let facts = survey(nodes, login).await;
    if let Some(twice) = same_server(nodes, &facts) {
        return Verdict::fail(twice, vec![]);
    }
    let mut verdict = judge(nodes, &facts, &expected);
    if let Some(want) = &spec.version {
        let (lines, wrong) = versions(nodes, &facts, want);
        verdict.evidence.extend(lines);
        if !wrong.is_empty() {
            verdict.summary = if verdict.passed {
                wrong.join("; ")
            } else {
                format!("{}; {}", verdict.summary, wrong.join("; "))
            };
            verdict.passed = false;
        }
    }
    if spec.durable_commits {
        let lossy = lossy_commits(nodes, &facts);
        if lossy.is_empty() {
            verdict.evidence.push(
                "every node flushes its log at each commit (innodb_flush_log_at_trx_commit=1)"
                    .into(),
            );
        } else {
            verdict.summary = if verdict.passed {
                lossy.join("; ")
            } else {
                format!("{}; {}", verdict.summary, lossy.join("; "))
            };
            verdict.passed = false;
        }
    }
    verdict
}

/// Each node's server version (`SELECT VERSION()`, read with its settings), and the nodes
/// whose version does not start with `want`.
pub fn versions(
    nodes: &[Endpoint],
    facts: &[Result<Facts, String>],
    want: &str,
) -> (Vec<String>, Vec<String>) {
    let (mut lines, mut wrong) = (vec![], vec![]);
    for (node, f) in nodes.iter().zip(facts) {
        let Ok(f) = f else { continue };
        let got = f.setting("version");
        lines.push(format!("{node}: version {got}"));
        if !got.starts_with(want) {
            wrong.push(format!(
                "{node} runs version {}, expected {want}",
                if got.is_empty() { "<missing>" } else { got }
            ));
        }
    }
    (lines, wrong)
}

/// Nodes whose acknowledged commits a crash of several nodes at once can lose
/// (`innodb_flush_log_at_trx_commit` other than 1), or that could not say.
pub fn lossy_commits(nodes: &[Endpoint], facts: &[Result<Facts, String>]) -> Vec<String> {
    nodes
        .iter()
        .zip(facts)
        .filter_map(|(node, f)| {
            let got = f.as_ref().ok()?.setting("innodb_flush_log_at_trx_commit");
            (got != "1").then(|| {
                format!(
                    "{node}: innodb_flush_log_at_trx_commit is {}, but durable commits need 1 (with 0 or 2, commits acknowledged in about the last second are lost when several nodes crash together)",
                    if got.is_empty() { "<missing>" } else { got }
                )
            })
        })
        .collect()
}

/// The status every node must report, with the cluster size `size`.
pub fn expected(size: &str) -> [(&'static str, &str); 5] {
    [
        ("wsrep_cluster_size", size),
        ("wsrep_cluster_status", "Primary"),
        ("wsrep_local_state_comment", "Synced"),
        ("wsrep_connected", "ON"),
        ("wsrep_ready", "ON"),
    ]
}

/// The verdict over what each node reported (pure, so it is tested without servers): the
/// expected status, the settings Galera requires, one state UUID, and every node in every
/// other's component.
pub fn judge(
    nodes: &[Endpoint],
    seen: &[Result<Facts, String>],
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
            Ok(facts) => {
                let get = |k: &str| match facts.get(k) {
                    "" => "<missing>",
                    v => v,
                };
                let line: Vec<String> = expected
                    .iter()
                    .map(|(k, _)| format!("{k}={}", get(k)))
                    .collect();
                let settings: Vec<String> = facts
                    .settings
                    .iter()
                    .filter(|(k, _)| !k.contains("address"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                evidence.push(format!(
                    "{node}: {} wsrep_local_index={} wsrep_cluster_state_uuid={} wsrep_gcomm_uuid={} members={}; {}",
                    line.join(" "),
                    get("wsrep_local_index"),
                    get("wsrep_cluster_state_uuid"),
                    get("wsrep_gcomm_uuid"),
                    facts.members.as_ref().map_or_else(|e| format!("<{e}>"), |m| m.len().to_string()),
                    settings.join(" ")
                ));
                for (key, want) in expected {
                    let got = get(key);
                    if got != *want {
                        problems.push(format!("{node}: {key} is {got}, expected {want}"));
                    }
                }
                problems.extend(setting_problems(node, facts));
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
    let membership = super::one_component(nodes, seen);
    match &membership {
        Ok(note) => evidence.push(note.clone()),
        Err(e) => problems.push(e.clone()),
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{}: each Primary and Synced, cluster size {}, the settings Galera requires in place",
                membership.unwrap_or_default(),
                expected[0].1
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

/// A setting of MariaDB's list of mandatory Galera options that differs on `node`.
fn setting_problems(node: &Endpoint, facts: &Facts) -> Vec<String> {
    let mut out = vec![];
    for (key, want) in REQUIRED_SETTINGS {
        let got = facts.setting(key);
        // innodb_doublewrite reads ON or 1 depending on the version.
        let same = got.eq_ignore_ascii_case(want) || (want == "ON" && got == "1");
        if !same {
            let got = if got.is_empty() { "<missing>" } else { got };
            out.push(format!(
                "{node}: {key} is {got}, but Galera requires {want}"
            ));
        }
    }
    let provider = facts.setting("wsrep_provider");
    if provider.is_empty() || provider.eq_ignore_ascii_case("none") {
        out.push(format!(
            "{node}: wsrep_provider is {}, but Galera requires the path of its library",
            if provider.is_empty() {
                "<missing>"
            } else {
                provider
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Endpoint {
        Endpoint::parse(&format!("{name}:3306")).unwrap()
    }

    fn status_of(
        size: &str,
        comment: &str,
        uuid: &str,
        binlog: &str,
        members: &[&str],
        me: &str,
    ) -> Result<Facts, String> {
        let status = [
            ("wsrep_cluster_size", size),
            ("wsrep_cluster_status", "Primary"),
            ("wsrep_local_state_comment", comment),
            ("wsrep_connected", "ON"),
            ("wsrep_ready", "ON"),
            ("wsrep_cluster_state_uuid", uuid),
            ("wsrep_gcomm_uuid", me),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let settings = [
            ("binlog_format", binlog),
            ("default_storage_engine", "InnoDB"),
            ("innodb_autoinc_lock_mode", "2"),
            ("innodb_doublewrite", "ON"),
            ("wsrep_on", "ON"),
            ("wsrep_provider", "/usr/lib/galera/libgalera_smm.so"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Ok(Facts {
            server: format!("{me}:3306"),
            wsrep_on: "ON".into(),
            status,
            settings,
            members: Ok(members.iter().map(|m| m.to_string()).collect()),
        })
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
        let all = ["a", "b", "c"];
        let seen = [
            status_of("3", "Synced", "u1", "ROW", &all, "a"),
            status_of("2", "Donor/Desynced", "u1", "ROW", &all, "b"),
            Err("cannot connect: refused".into()),
        ];
        let v = judge(&nodes, &seen, &EXPECT);
        assert!(!v.passed);
        for want in [
            "b:3306: wsrep_cluster_size is 2, expected 3",
            "b:3306: wsrep_local_state_comment is Donor/Desynced",
            "c:3306: cannot connect",
        ] {
            assert!(v.summary.contains(want), "{want}: {}", v.summary);
        }
    }

    #[test]
    fn disagreeing_state_uuids_fail() {
        let nodes = [node("a"), node("b")];
        let mut expect = EXPECT;
        expect[0].1 = "2";
        let ab = ["a", "b"];
        let v = judge(
            &nodes,
            &[
                status_of("2", "Synced", "u1", "ROW", &ab, "a"),
                status_of("2", "Synced", "u2", "ROW", &ab, "b"),
            ],
            &expect,
        );
        assert!(!v.passed && v.summary.contains("disagree"), "{}", v.summary);
        let v = judge(
            &nodes,
            &[
                status_of("2", "Synced", "u1", "ROW", &ab, "a"),
                status_of("2", "Synced", "u1", "ROW", &ab, "b"),
            ],
            &expect,
        );
        assert!(v.passed, "{}", v.summary);
        assert!(
            v.summary
                .starts_with("2 of the cluster's 2 members checked"),
            "{}",
            v.summary
        );
    }

    #[test]
    fn a_setting_galera_requires_is_named_with_the_node() {
        let nodes = [node("a"), node("b")];
        let mut expect = EXPECT;
        expect[0].1 = "2";
        let ab = ["a", "b"];
        let mut b = status_of("2", "Synced", "u1", "ROW", &ab, "b").unwrap();
        b.settings
            .insert("innodb_autoinc_lock_mode".into(), "1".into());
        let v = judge(
            &nodes,
            &[status_of("2", "Synced", "u1", "STATEMENT", &ab, "a"), Ok(b)],
            &expect,
        );
        assert!(!v.passed);
        assert!(
            v.summary
                .contains("a:3306: binlog_format is STATEMENT, but Galera requires ROW"),
            "{}",
            v.summary
        );
        assert!(
            v.summary
                .contains("b:3306: innodb_autoinc_lock_mode is 1, but Galera requires 2"),
            "{}",
            v.summary
        );
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
            durable_commits: false,
            version: None,
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
        // One line per node, and the membership they agree on.
        assert_eq!(v.evidence.len(), 4, "{:?}", v.evidence);
        assert!(
            v.evidence[3].contains("3 of the cluster's 3 members checked"),
            "{:?}",
            v.evidence
        );
        // The version every node runs, read through the protocol: the rig's 10.11 passes,
        // another fails naming each node's.
        let at = |v: &str| GaleraStatusSpec {
            version: Some(v.into()),
            ..spec(3)
        };
        let v = check(&at("10.11"), &endpoints, &login).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        assert!(
            v.evidence
                .iter()
                .filter(|l| l.contains(": version 10.11"))
                .count()
                == 3,
            "{:?}",
            v.evidence
        );
        let v = check(&at("11.8"), &endpoints, &login).await;
        assert!(!v.passed);
        assert!(
            v.summary
                .contains(&format!("{} runs version 10.11", endpoints[0].name))
                && v.summary.contains("expected 11.8"),
            "{}",
            v.summary
        );
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
