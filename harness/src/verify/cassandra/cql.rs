//! `cql`: the scylla driver connects from outside the cluster through the port-forward bridges,
//! with an address translator that maps each node's own address (the pod IP that
//! `system.local` / `system.peers` advertise) to its local bridge, so node discovery works. It
//! runs a CQL script once (the seed's `initial-seed.cql`), then reads the query back with every
//! node as the coordinator, both at the chosen consistency, and checks that the nodes the driver
//! read from `system.local` + `system.peers` are the targets and agree, by IP and host ID, with
//! `nodetool status` from a target pod.

use super::nodetool::Ring;
use super::session::{STATEMENT_TIMEOUT, session};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::{
    Credentials, RawCredentials, RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags,
    bounded,
};
use crate::verify::{Need, One};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};
use scylla::statement::{Consistency, Statement};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// CQL scripts larger than this are refused.
pub const MAX_SCRIPT_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    pub credentials: Option<RawCredentials>,
    /// A CQL script (path relative to the scenario) run once before the reads.
    pub script: Option<String>,
    /// A query read back with every node as coordinator.
    pub query: String,
    pub expect_rows: i64,
    #[serde(default = "default_consistency")]
    pub consistency: String,
    /// Compare `system.local` + `system.peers` with `nodetool status` run in the first target
    /// pod (pod targets only).
    #[serde(default = "yes")]
    pub nodetool: bool,
    /// The container that has `nodetool`, when the pod has several.
    pub container: Option<String>,
    /// Every node's `release_version` (its own `system.local`) must start with this (`4.1`):
    /// after a rollout, every node runs the new version, not only every pod restarted.
    pub version: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_consistency() -> String {
    "QUORUM".into()
}

/// A consistency level with its CQL name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub name: &'static str,
    pub value: Consistency,
}

impl Level {
    /// Replicas that must answer for the level, where it names a number (`TWO`, `THREE`);
    /// `None` for the levels relative to the replication factor.
    pub fn replicas_needed(&self) -> Option<usize> {
        match self.value {
            Consistency::One | Consistency::LocalOne => Some(1),
            Consistency::Two => Some(2),
            Consistency::Three => Some(3),
            _ => None,
        }
    }
}

impl Serialize for Level {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A CQL script: where it came from (as written) and its text, read once at validation.
#[derive(Debug, Clone, Serialize)]
pub struct Script {
    pub file: String,
    #[serde(skip)]
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CqlSpec {
    pub target: Target,
    pub credentials: Option<Credentials>,
    pub script: Option<Script>,
    pub query: String,
    pub expect_rows: u32,
    pub consistency: Level,
    pub nodetool: bool,
    pub container: Option<String>,
    pub version: Option<String>,
}

#[async_trait::async_trait]
impl Verifier for CqlSpec {
    const NAME: &'static str = "cql";
    const CHECKS: &'static str = "scylla driver through the bridges with address translation; runs `script` once and reads `query` with every node as coordinator, both at `consistency`, expects `expect_rows`; the driver's peers match the targets and, for pod targets, agree by IP and host ID with `nodetool status` from the first pod (`nodetool: false` skips it, `container` picks the container); two targets that lead to one node fail naming both; `version: 4.1`: every node's `release_version` (its own `system.local`) starts with it";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 1);
        let credentials = match &raw.credentials {
            Some(c) => Some(c.check(cx, &format!("{path}.credentials"))?),
            None => None,
        };
        let expect_rows = cx.count(&format!("{path}.expect_rows"), raw.expect_rows, 0);
        let script = match raw.script {
            Some(file) => {
                let text = cx.read_file(
                    &format!("{path}.script"),
                    "CQL script",
                    &file,
                    MAX_SCRIPT_BYTES,
                )?;
                Some(Script { file, text })
            }
            None => None,
        };
        let levels: Vec<(&str, Level)> = LEVELS
            .iter()
            .filter_map(|n| consistency(n).map(|l| (*n, l)))
            .collect();
        let level = cx.one_of(
            &format!("{path}.consistency"),
            &raw.consistency,
            "is not a consistency level",
            &levels,
        );
        let version = cx.version_prefix(&format!("{path}.version"), raw.version, "4.1")?;
        Some(Self {
            target: target?,
            credentials,
            script,
            query: raw.query,
            expect_rows: expect_rows?,
            consistency: level?,
            nodetool: raw.nodetool,
            container: raw.container,
            version,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            credentials: match &flags.user {
                Some(_) => Some(RawCredentials::from_flags(flags)?),
                None => None,
            },
            script: flags.script.clone(),
            query: flags.query.clone().ok_or("cql needs --query")?,
            expect_rows: flags.expect_rows.ok_or("cql needs --expect-rows")?,
            consistency: flags.consistency.clone(),
            nodetool: false,
            container: None,
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
        self.credentials.as_ref()
    }

    async fn run(&self, cx: &VerifyContext<'_>, at: One<Vec<Endpoint>>) -> Verdict {
        let nodetool = match (self.nodetool, self.target.pod_selector()) {
            (true, Some(selector)) => {
                match super::first_pod_view(cx.pods, selector, self.container.as_deref()).await {
                    Ok(view) => Some(view),
                    Err(e) => {
                        return Verdict::fail(
                            format!(
                                "cql: comparing with nodetool: {e} (`nodetool: false` skips it)"
                            ),
                            vec![],
                        );
                    }
                }
            }
            _ => None,
        };
        let login = cx
            .login
            .user
            .clone()
            .map(|u| (u, cx.login.password.clone().unwrap_or_default()));
        check(
            self,
            &at.target,
            login,
            self.script.as_ref().map(|s| s.text.as_str()),
            nodetool.as_ref(),
        )
        .await
    }
}

/// The consistency levels a check may ask for, by their CQL names.
pub const LEVELS: [&str; 7] = [
    "ONE",
    "TWO",
    "THREE",
    "QUORUM",
    "ALL",
    "LOCAL_QUORUM",
    "LOCAL_ONE",
];

/// The level named `name` (one of [`LEVELS`]).
pub fn consistency(name: &str) -> Option<Level> {
    let value = match name {
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "THREE" => Consistency::Three,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "LOCAL_ONE" => Consistency::LocalOne,
        _ => return None,
    };
    LEVELS
        .iter()
        .find(|l| **l == name)
        .map(|name| Level { name, value })
}

/// Statements of a CQL script: split on `;`, comments (`--`, `//`) and blank lines dropped.
pub fn statements(script: &str) -> Vec<String> {
    let without_comments: String = script
        .lines()
        .map(|l| {
            let cut = [l.find("--"), l.find("//")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(l.len());
            &l[..cut]
        })
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The keyspace of a `USE ks` statement.
pub fn use_keyspace(statement: &str) -> Option<&str> {
    let mut words = statement.split_whitespace();
    words.next().filter(|w| w.eq_ignore_ascii_case("USE"))?;
    words.next().map(|k| k.trim_matches('"'))
}

/// `nodetool status` as one pod of the target saw it.
#[derive(Debug, Clone)]
pub struct NodetoolView {
    pub pod: String,
    pub ring: Ring,
}

/// Differences between nodetool's ring and the nodes `system.local` + `system.peers` list,
/// both as (IP, host ID).
pub fn disagreements(nodetool: &Ring, driver: &[(IpAddr, String)]) -> Vec<String> {
    let normal = |ip: &str| {
        ip.parse::<IpAddr>()
            .map_or(ip.to_string(), |ip| ip.to_string())
    };
    let from_nodetool: BTreeSet<(String, String)> = nodetool
        .nodes
        .iter()
        .map(|n| (normal(&n.address), n.host_id.to_ascii_lowercase()))
        .collect();
    let from_driver: BTreeSet<(String, String)> = driver
        .iter()
        .map(|(ip, id)| (ip.to_string(), id.to_ascii_lowercase()))
        .collect();
    let mut out = vec![];
    for (ip, id) in from_nodetool.difference(&from_driver) {
        out.push(format!(
            "nodetool lists {ip} (host ID {id}), system.local/system.peers do not"
        ));
    }
    for (ip, id) in from_driver.difference(&from_nodetool) {
        out.push(format!(
            "system.local/system.peers list {ip} (host ID {id}), nodetool does not"
        ));
    }
    out
}

pub async fn check(
    spec: &CqlSpec,
    nodes: &[Endpoint],
    login: Option<(String, String)>,
    script: Option<&str>,
    nodetool: Option<&NodetoolView>,
) -> Verdict {
    let mut log = vec![];
    match run(spec, nodes, login, script, nodetool, &mut log).await {
        Ok(summary) => Verdict::pass(summary, log),
        Err(problem) => Verdict::fail(problem, log),
    }
}

async fn run(
    spec: &CqlSpec,
    nodes: &[Endpoint],
    login: Option<(String, String)>,
    script: Option<&str>,
    nodetool: Option<&NodetoolView>,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let level = spec.consistency.value;
    let connected = session(nodes, login).await?;
    let (session, identified) = (&connected.session, &connected.nodes);
    log.extend(identified.describe());
    log.push(format!("connected through {}", nodes[0]));
    if let Some(want) = &spec.version {
        let wrong: Vec<String> = identified
            .versions()
            .into_iter()
            .filter(|(_, v)| !v.starts_with(want.as_str()))
            .map(|(node, v)| format!("{node} runs Cassandra {v}, expected {want}"))
            .collect();
        if !wrong.is_empty() {
            return Err(wrong.join("; "));
        }
    }

    if let Some(script) = script {
        for statement in statements(script) {
            if let Some(keyspace) = use_keyspace(&statement) {
                bounded(
                    &statement,
                    STATEMENT_TIMEOUT,
                    session.use_keyspace(keyspace, false),
                )
                .await?;
            } else {
                // The script writes at the check's consistency too (the driver's default,
                // LOCAL_QUORUM, cannot be met by a single node with replication factor 2).
                let mut at_level = Statement::new(statement.clone());
                at_level.set_consistency(level);
                bounded(
                    &statement,
                    STATEMENT_TIMEOUT,
                    session.query_unpaged(at_level, &[]),
                )
                .await?;
            }
            log.push(format!("{statement}: ok"));
        }
        bounded(
            "waiting for schema agreement",
            STATEMENT_TIMEOUT,
            session.await_schema_agreement(),
        )
        .await?;
    }

    let state = session.get_cluster_state();
    let known = state.get_nodes_info();
    log.push(format!(
        "the driver sees {} node(s) (system.local + system.peers): {}",
        known.len(),
        known
            .iter()
            .map(|n| format!(
                "{} {}",
                identified.address_of(n.host_id, n.address.ip()),
                n.host_id
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut problems = vec![];
    match nodetool {
        Some(view) => {
            let driver: Vec<(IpAddr, String)> = known
                .iter()
                .map(|n| {
                    let ip = identified.address_of(n.host_id, n.address.ip());
                    (ip, n.host_id.to_string())
                })
                .collect();
            let found = disagreements(&view.ring, &driver);
            if found.is_empty() {
                log.push(format!(
                    "system.local + system.peers agree with `nodetool status` in {}",
                    view.pod
                ));
            }
            problems.extend(
                found
                    .into_iter()
                    .map(|d| format!("{d} (nodetool ran in {})", view.pod)),
            );
        }
        None => log.push(
            "system.local + system.peers not compared with nodetool: no pod to run it in".into(),
        ),
    }
    if known.len() != nodes.len() {
        problems.push(format!(
            "system.local + system.peers list {} node(s), but there are {} targets",
            known.len(),
            nodes.len()
        ));
    }
    for node in known {
        let profile = ExecutionProfile::builder()
            .load_balancing_policy(SingleTargetLoadBalancingPolicy::new(
                NodeIdentifier::Node(node.clone()),
                None,
            ))
            .build();
        let mut statement = Statement::new(spec.query.clone());
        statement.set_consistency(level);
        statement.set_execution_profile_handle(Some(profile.into_handle()));
        let what = format!(
            "{} as coordinator",
            identified.label(node.host_id, node.address.ip())
        );
        if let Err(why) = identified.translate(
            node.host_id,
            SocketAddr::new(node.address.ip(), node.address.port()),
        ) {
            problems.push(format!("{what}: {why}"));
            continue;
        }
        match bounded(
            &what,
            STATEMENT_TIMEOUT,
            session.query_unpaged(statement, &[]),
        )
        .await
        {
            Ok(result) => match result.into_rows_result() {
                Ok(rows) => {
                    let n = rows.rows_num();
                    log.push(format!("{what}: {n} row(s) at {}", spec.consistency));
                    if n != spec.expect_rows as usize {
                        problems.push(format!("{what}: {n} row(s), expected {}", spec.expect_rows));
                    }
                }
                Err(e) => problems.push(format!("{what}: not a rows result: {e}")),
            },
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{} row(s) read with each of {} node(s) as coordinator at {}",
            spec.expect_rows,
            known.len(),
            spec.consistency
        ))
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::cassandra::session::session_through_any;

    // Layer 1 (pure): script splitting, USE detection, nodetool against the driver.
    #[test]
    fn splits_the_seed_script_into_statements() {
        let script = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/cassandra/initial-seed.cql"
        ))
        .unwrap();
        let s = statements(&script);
        assert_eq!(s.len(), 7, "{s:?}");
        assert!(s[0].starts_with("DROP KEYSPACE IF EXISTS my_cassandra_keyspace"));
        assert_eq!(use_keyspace(&s[2]), Some("my_cassandra_keyspace"));
        assert_eq!(use_keyspace(&s[3]), None);
        assert_eq!(
            statements("-- only a comment\n; ;\nSELECT 1; // trailing\n"),
            vec!["SELECT 1"]
        );
        assert!(consistency("QUORUM").is_some() && consistency("quorum").is_none());
        assert!(LEVELS.iter().all(|l| consistency(l).is_some()));
    }

    #[test]
    fn nodetool_and_the_driver_are_compared_by_ip_and_host_id() {
        let ring = crate::verify::cassandra::nodetool::parse_status(
            "Datacenter: DC1\n===============\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n\
             --  Address     Load       Tokens  Owns (effective)  Host ID                               Rack\n\
             UN  10.244.0.10 104.6 KiB  256     100.0%            11111111-1111-4111-1111-111111111100  Rack1\n\
             UN  10.244.0.11 99.2 KiB   256     100.0%            11111111-1111-4111-1111-111111111101  Rack1\n",
        )
        .unwrap();
        let same = vec![
            (
                "10.244.0.11".parse().unwrap(),
                "11111111-1111-4111-1111-111111111101".to_string(),
            ),
            (
                "10.244.0.10".parse().unwrap(),
                "11111111-1111-4111-1111-111111111100".to_string(),
            ),
        ];
        assert!(disagreements(&ring, &same).is_empty());
        let mut other = same.clone();
        other[0].1 = "22222222-1111-4111-1111-111111111101".into();
        let d = disagreements(&ring, &other);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].starts_with("nodetool lists 10.244.0.11 (host ID 11111111-"));
        assert!(d[1].starts_with("system.local/system.peers list 10.244.0.11 (host ID 22222222-"));
        assert_eq!(disagreements(&ring, &same[..1]).len(), 1);
    }

    // Layer 1 (no server): a closed port fails within the bound, naming the endpoint. No
    // Cassandra or Scylla server can run here: the CQL round trip is exercised on a cluster.
    #[tokio::test]
    async fn an_unreachable_node_fails_naming_it() {
        let spec = CqlSpec {
            target: Default::default(),
            credentials: None,
            script: None,
            query: "SELECT emp_id FROM my_cassandra_keyspace.employee".into(),
            expect_rows: 3,
            consistency: consistency("QUORUM").unwrap(),
            nodetool: true,
            container: None,
            version: None,
        };
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let v = check(
            &spec,
            &[Endpoint::parse(&closed.to_string()).unwrap()],
            None,
            None,
            None,
        )
        .await;
        assert!(!v.passed);
        assert!(
            v.summary.starts_with(&format!("connecting to {closed}")),
            "{}",
            v.summary
        );
    }

    // Layer 2b: the CQL protocol STAND-IN (`cql_standin`), not Cassandra. The scylla driver
    // really connects, discovers the nodes through system.local/system.peers, translates their
    // unroutable "pod IPs" to the local listeners, waits for schema agreement, runs the seed
    // script and reads with each node as coordinator. Replication, consistency semantics and
    // Cassandra's own behaviour are not exercised: those run only on a cluster.
    mod stand_in {
        use super::*;
        use crate::testing::eps;
        use crate::verify::cassandra::nodetool::parse_status;
        use harness_testkit::cql_standin::{Faults, StandIn, host_id};

        const READ: &str = "SELECT emp_id FROM my_cassandra_keyspace.employee";
        const QUORUM: u16 = 0x0004;

        fn spec() -> CqlSpec {
            CqlSpec {
                target: Default::default(),
                credentials: None,
                script: None,
                query: READ.into(),
                expect_rows: 3,
                consistency: consistency("QUORUM").unwrap(),
                nodetool: true,
                container: None,
                version: None,
            }
        }

        fn seed_script() -> String {
            std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/cassandra/initial-seed.cql"
            ))
            .unwrap()
        }

        fn nodetool_of(standin: &StandIn) -> NodetoolView {
            NodetoolView {
                pod: "cassandra-0".into(),
                ring: parse_status(&standin.nodetool_status()).unwrap(),
            }
        }

        async fn seed_and_read(standin: &StandIn, login: Option<(&str, &str)>) -> Verdict {
            let view = nodetool_of(standin);
            check(
                &spec(),
                &eps(standin.endpoints()),
                login.map(|(u, p)| (u.to_string(), p.to_string())),
                Some(&seed_script()),
                Some(&view),
            )
            .await
        }

        // Layer 3 (the CQL protocol stand-in, playing Cassandra 4.0.13 by default): the version
        // each node gives in its own system.local is what `version` judges; a node behind
        // the expected release is named.
        #[tokio::test]
        async fn every_nodes_release_version_is_checked() {
            let standin = StandIn::start(3, None, Faults::default()).await;
            let view = nodetool_of(&standin);
            let at = |v: &str| CqlSpec {
                version: Some(v.into()),
                ..spec()
            };
            let nodes = eps(standin.endpoints());
            let v = check(&at("4.0"), &nodes, None, Some(&seed_script()), Some(&view)).await;
            assert!(v.passed, "{}\n{}", v.summary, v.evidence.join("\n"));
            let v = check(&at("4.1"), &nodes, None, None, Some(&view)).await;
            assert!(!v.passed);
            assert!(
                v.summary
                    .contains(&format!("{} runs Cassandra 4.0.13, expected 4.1", nodes[0]))
                    && v.summary.contains(&nodes[2].to_string()),
                "{}",
                v.summary
            );
        }

        #[tokio::test]
        async fn seeds_then_reads_with_every_node_as_coordinator_through_the_bridges() {
            let standin = StandIn::start(3, None, Faults::default()).await;
            let v = seed_and_read(&standin, None).await;
            assert!(v.passed, "{}\n{}", v.summary, v.evidence.join("\n"));
            assert_eq!(
                v.summary,
                "3 row(s) read with each of 3 node(s) as coordinator at QUORUM"
            );
            assert_eq!(standin.rows("my_cassandra_keyspace.employee"), 3);
            let done = standin.coordinated();
            // The script ran once, in order (the driver sends USE to every connection).
            let script: Vec<&str> = done
                .iter()
                .map(|c| c.statement.as_str())
                .filter(|s| !s.starts_with("USE ") && *s != READ)
                .collect();
            assert_eq!(script.len(), 6, "{script:?}");
            assert!(
                done.iter()
                    .filter(|c| c.statement.starts_with("INSERT"))
                    .all(|c| c.consistency == QUORUM),
                "the script writes at the check's consistency: {done:?}"
            );
            assert!(script[0].starts_with("DROP KEYSPACE IF EXISTS"));
            assert!(script[5].contains("'Bob'"));
            // Every node, reached only through the translated "pod IP", coordinated one read
            // at the asked consistency.
            let mut readers: Vec<usize> = done
                .iter()
                .filter(|c| c.statement == READ)
                .map(|c| {
                    assert_eq!(c.consistency, QUORUM);
                    c.node
                })
                .collect();
            readers.sort();
            assert_eq!(readers, vec![0, 1, 2]);
            assert!(
                v.evidence
                    .iter()
                    .any(|l| l.contains("agree with `nodetool status` in cassandra-0")),
                "{:?}",
                v.evidence
            );
            assert!(
                v.evidence.iter().any(|l| l.contains(&host_id(2))),
                "{:?}",
                v.evidence
            );
        }

        #[tokio::test]
        async fn static_servers_are_discovered_where_they_advertise_themselves() {
            let standin = StandIn::start_static(3).await;
            let all = eps(standin.endpoints());
            let v = check(&spec(), &all, None, Some(&seed_script()), None).await;
            assert!(v.passed, "{}\n{}", v.summary, v.evidence.join("\n"));
            assert!(
                v.evidence
                    .iter()
                    .any(|l| l.contains("not compared with nodetool: no pod to run it in")),
                "{:?}",
                v.evidence
            );
            // Given one contact point, the driver still finds all three (passed through
            // untranslated), and the check says the targets are not the whole ring.
            let v = check(&spec(), &all[..1], None, None, None).await;
            assert_eq!(
                v.summary,
                "system.local + system.peers list 3 node(s), but there are 1 targets"
            );
            // A server named by host name: the driver and the translator resolve it.
            let local = StandIn::start_static_on(&[std::net::Ipv4Addr::LOCALHOST]).await;
            let port = eps(local.endpoints())[0].port;
            let by_name = Endpoint::parse(&format!("localhost:{port}")).unwrap();
            let v = check(
                &spec(),
                std::slice::from_ref(&by_name),
                None,
                Some(&seed_script()),
                None,
            )
            .await;
            assert!(v.passed, "{}\n{}", v.summary, v.evidence.join("\n"));
            // The same server named twice (by name and by address, or exactly) never passes.
            let by_address = eps(local.endpoints())[0].clone();
            for twice in [
                [by_name.clone(), by_address.clone()],
                [by_address.clone(), by_address.clone()],
            ] {
                let v = check(&spec(), &twice, None, None, None).await;
                assert!(!v.passed);
                assert!(
                    v.summary.contains(&format!(
                        "{} and {} are the same Cassandra node",
                        twice[0], twice[1]
                    )),
                    "{}",
                    v.summary
                );
            }
            let readers: BTreeSet<usize> = standin
                .coordinated()
                .iter()
                .filter(|c| c.statement == READ)
                .map(|c| c.node)
                .collect();
            assert_eq!(readers, BTreeSet::from([0, 1, 2]));
        }

        #[tokio::test]
        async fn logs_in_and_never_reports_the_password() {
            let standin =
                StandIn::start(2, Some(("cassandra", "s3cret-pw")), Faults::default()).await;
            let ok = seed_and_read(&standin, Some(("cassandra", "s3cret-pw"))).await;
            assert!(ok.passed, "{}\n{}", ok.summary, ok.evidence.join("\n"));
            let bad = seed_and_read(&standin, Some(("cassandra", "wrong-pw"))).await;
            assert!(!bad.passed);
            assert!(bad.summary.starts_with("connecting to "), "{}", bad.summary);
            assert!(
                bad.summary
                    .contains("username and/or password are incorrect"),
                "{}",
                bad.summary
            );
            for v in [&ok, &bad] {
                let all = format!("{}{}", v.summary, v.evidence.join(""));
                assert!(!all.contains("s3cret-pw") && !all.contains("wrong-pw"));
            }
        }

        /// Seeds and reads from three stand-in nodes with `faults`; the check must fail and
        /// its summary say each of `says`.
        async fn fails_saying(faults: Faults, says: &[String]) {
            let standin = StandIn::start(3, None, faults).await;
            let v = seed_and_read(&standin, None).await;
            assert!(!v.passed, "{}", v.summary);
            for s in says {
                assert!(
                    v.summary.contains(s.as_str()),
                    "`{s}` not in: {}",
                    v.summary
                );
            }
        }

        #[tokio::test]
        async fn a_coordinator_that_returns_fewer_rows_is_named() {
            let faults = Faults {
                short_reads_on: Some(1),
                ..Faults::default()
            };
            // Node 1 is reached at its bridge; the summary names its pod and pod IP.
            let says = ["cassandra-1 (10.244.0.11) as coordinator: 2 row(s), expected 3".into()];
            fails_saying(faults, &says).await;
        }

        #[tokio::test]
        async fn a_node_missing_from_system_peers_is_named() {
            let faults = Faults {
                unlisted: Some(2),
                ..Faults::default()
            };
            let says = [
                format!(
                    "nodetool lists 10.244.0.12 (host ID {}), system.local/system.peers do not (nodetool ran in cassandra-0)",
                    host_id(2)
                ),
                "system.local + system.peers list 2 node(s), but there are 3 targets".into(),
            ];
            fails_saying(faults, &says).await;
        }

        #[tokio::test]
        async fn a_host_id_that_differs_from_nodetool_is_named() {
            let faults = Faults {
                wrong_local_host_id_on: Some(0),
                ..Faults::default()
            };
            let says = [
                format!(
                    "nodetool lists 10.244.0.10 (host ID {}), system.local/system.peers do not",
                    host_id(0)
                ),
                "system.local/system.peers list 10.244.0.10 (host ID ee".into(),
            ];
            fails_saying(faults, &says).await;
        }

        #[tokio::test]
        async fn a_target_of_another_cluster_fails_naming_the_clusters() {
            let faults = Faults {
                other_cluster: Some(2),
                ..Faults::default()
            };
            let says = [
                "the targets belong to 2 different clusters".to_string(),
                "cassandra-2 in \"elsewhere\"".into(),
            ];
            fails_saying(faults, &says).await;
        }

        // Two bridges (two pod IPs) that lead to one server: only the node itself can say.
        #[tokio::test]
        async fn two_targets_that_answer_as_one_host_id_fail_naming_both() {
            let standin = StandIn::start(3, None, Faults::default()).await;
            let mut nodes = eps(standin.endpoints());
            nodes[2].host = nodes[0].host.clone();
            nodes[2].port = nodes[0].port;
            let v = check(&spec(), &nodes, None, None, None).await;
            assert!(!v.passed);
            assert!(
                v.summary.contains(&format!(
                    "cassandra-0 and cassandra-2 are the same Cassandra node (both answer as host ID {})",
                    host_id(0)
                )),
                "{}",
                v.summary
            );
        }

        // The seed's verdicts on Cassandra 4.1 too (system.local names the node's own address).
        #[tokio::test]
        async fn seeds_and_reads_on_4_1_as_on_4_0() {
            use harness_testkit::cql_standin::Release;
            let standin = StandIn::start_release(3, None, Faults::default(), Release::V41).await;
            let v = seed_and_read(&standin, None).await;
            assert!(v.passed, "{}\n{}", v.summary, v.evidence.join("\n"));
            assert!(
                v.evidence.iter().any(|l| l.contains("Cassandra 4.1.11")),
                "{:?}",
                v.evidence
            );
            let on_40 = StandIn::start(3, None, Faults::default()).await;
            let v = seed_and_read(&on_40, None).await;
            assert!(v.passed, "{}\n{}", v.summary, v.evidence.join("\n"));
            assert!(
                v.evidence
                    .iter()
                    .any(|l| l.contains("system.local.rpc_address 0.0.0.0")),
                "{:?}",
                v.evidence
            );
        }

        // A check needs every target to answer; a clean-up (dropping what a workload wrote)
        // needs one, so a node down at the end does not leave the keyspace behind.
        #[tokio::test]
        async fn a_clean_up_session_goes_through_any_node_that_answers() {
            let standin = StandIn::start(2, None, Faults::default()).await;
            let mut nodes = eps(standin.endpoints());
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let mut down = Endpoint::parse(&closed.to_string()).unwrap();
            down.name = "cassandra-9".into();
            down.advertised = Some("10.244.0.99".into());
            nodes.insert(0, down);
            let strict = session(&nodes, None).await.err().expect("a target is down");
            assert!(strict.starts_with("connecting to cassandra-9"), "{strict}");
            let any = session_through_any(&nodes, None)
                .await
                .expect("two nodes answer");
            any.session
                .query_unpaged("DROP KEYSPACE IF EXISTS gone", &[])
                .await
                .expect("the drop runs through a node that answered");
        }

        #[tokio::test]
        async fn a_failing_statement_stops_the_script_and_is_named() {
            let standin = StandIn::start(1, None, Faults::default()).await;
            let v = check(
                &spec(),
                &eps(standin.endpoints()),
                None,
                Some("USE missing_keyspace;\nSELECT 1;"),
                None,
            )
            .await;
            assert!(!v.passed);
            assert!(
                v.summary.starts_with("USE missing_keyspace: ")
                    && v.summary
                        .contains("Keyspace 'missing_keyspace' does not exist"),
                "{}",
                v.summary
            );
            assert!(
                !standin
                    .coordinated()
                    .iter()
                    .any(|c| c.statement == "SELECT 1")
            );
        }
    }
}
