//! `cql`: the scylla driver connects from outside the cluster through the port-forward bridges,
//! with an address translator that maps each node's own address (pod IP:9042, what
//! `system.peers` advertises) to its local bridge, so node discovery works. It runs a CQL script
//! once (the seed's `initial-seed.cql`), then reads the query back with every node as the
//! coordinator at the chosen consistency, and checks that the driver's view of the ring
//! (`system.local` + `system.peers`) has as many nodes as there are targets.

use super::{CqlSpec, Endpoint, Verdict};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};
use scylla::statement::{Consistency, Statement};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn consistency(name: &str) -> Option<Consistency> {
    Some(match name {
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "THREE" => Consistency::Three,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "LOCAL_ONE" => Consistency::LocalOne,
        _ => return None,
    })
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

/// Maps each node's advertised address to where this process reaches it. Static endpoints
/// (no advertised address) map to themselves.
pub fn translation(nodes: &[Endpoint]) -> Result<HashMap<SocketAddr, SocketAddr>, String> {
    let mut map = HashMap::new();
    for n in nodes {
        let local: SocketAddr = n.address().parse().map_err(|e| format!("{n}: {e}"))?;
        let advertised = match &n.advertised {
            Some(ip) => format!("{ip}:9042")
                .parse()
                .map_err(|e| format!("{n}: advertised address {ip}: {e}"))?,
            None => local,
        };
        map.insert(advertised, local);
    }
    Ok(map)
}

async fn bounded<T, E: std::fmt::Display>(
    what: &str,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(|e| format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {}s", limit.as_secs())),
    }
}

pub async fn check(
    spec: &CqlSpec,
    nodes: &[Endpoint],
    login: Option<(String, String)>,
    script: Option<&str>,
) -> Verdict {
    let mut log = vec![];
    match run(spec, nodes, login, script, &mut log).await {
        Ok(summary) => Verdict::pass(summary, log),
        Err(problem) => Verdict::fail(problem, log),
    }
}

async fn run(
    spec: &CqlSpec,
    nodes: &[Endpoint],
    login: Option<(String, String)>,
    script: Option<&str>,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let level = consistency(&spec.consistency)
        .ok_or_else(|| format!("`{}` is not a consistency level", spec.consistency))?;
    let first = nodes.first().ok_or("no CQL endpoint")?;
    let map = translation(nodes)?;
    let mut builder = SessionBuilder::new()
        .known_node_addr(
            first
                .address()
                .parse()
                .map_err(|e| format!("{first}: {e}"))?,
        )
        .address_translator(Arc::new(map));
    if let Some((user, password)) = login {
        builder = builder.user(user, password);
    }
    let session: Session = bounded(
        &format!("connecting to {first}"),
        CONNECT_TIMEOUT,
        builder.build(),
    )
    .await?;
    log.push(format!("connected through {first}"));

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
                bounded(
                    &statement,
                    STATEMENT_TIMEOUT,
                    session.query_unpaged(statement.as_str(), &[]),
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
            .map(|n| format!("{} {}", n.address, n.host_id))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut problems = vec![];
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
        let what = format!("{} as coordinator", node.address);
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
                    if n as i64 != spec.expect_rows {
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

    // Layer 1 (pure): script splitting, USE detection, the address translation table.
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
    }

    #[test]
    fn pod_addresses_translate_to_their_local_bridges() {
        let mut a = Endpoint::parse("127.0.0.1:40001").unwrap();
        a.advertised = Some("10.244.1.5".into());
        let b = Endpoint::parse("192.0.2.7:9042").unwrap();
        let map = translation(&[a, b]).unwrap();
        assert_eq!(
            map[&"10.244.1.5:9042".parse().unwrap()],
            "127.0.0.1:40001".parse().unwrap()
        );
        assert_eq!(
            map[&"192.0.2.7:9042".parse().unwrap()],
            "192.0.2.7:9042".parse().unwrap()
        );
        assert!(consistency("QUORUM").is_some() && consistency("quorum").is_none());
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
            consistency: "QUORUM".into(),
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
        )
        .await;
        assert!(!v.passed);
        assert!(
            v.summary.starts_with(&format!("connecting to {closed}")),
            "{}",
            v.summary
        );
    }
}
