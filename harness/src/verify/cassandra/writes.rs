//! CQL writes for a workload: writers insert rows through the driver at a consistency level
//! (and delete every Nth), recording each acknowledgement; the read-back reads the table with
//! every node as coordinator at that level and judges it like the Galera ledger: every
//! acknowledged write on every node, every acknowledged delete gone.

use super::session::{Connected, read_from_every_node, session};
use crate::cluster::Endpoint;
use crate::verify::Verdict;
use crate::verify::ledger::{self, History, Ledger, Rows, Target};
use scylla::client::session::Session;
use scylla::statement::{Consistency, Statement};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one write may take before it counts as not acknowledged.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed write (a node is down; the driver needs a moment).
const AFTER_FAILURE: Duration = Duration::from_millis(200);

/// Creates a keyspace (replicated to up to three nodes) and its table; returns `ks.writes`.
/// The caller registers the keyspace's drop first.
/// The replication factor of a workload's keyspace: one replica per node, at most three.
pub fn replication_factor(nodes: usize) -> usize {
    nodes.clamp(1, 3)
}

/// Why `level` can never be met on a keyspace of `nodes` nodes' replication factor.
pub fn unreachable_level(
    level: &crate::verify::cassandra::cql::Level,
    nodes: usize,
) -> Option<String> {
    let rf = replication_factor(nodes);
    let needed = level.replicas_needed()?;
    (needed > rf).then(|| {
        format!(
            "consistency {} needs {needed} replicas, but the workload's keyspace has replication factor {rf} ({nodes} node(s), one replica each, at most 3): every write would fail; use ONE, QUORUM or ALL",
            level.name
        )
    })
}

pub async fn prepare(
    connected: &Connected,
    keyspace: &str,
    nodes: usize,
) -> Result<String, String> {
    let session = &connected.session;
    let rf = replication_factor(nodes);
    for statement in [
        format!(
            "CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
        ),
        format!("CREATE TABLE {keyspace}.writes (id text PRIMARY KEY)"),
    ] {
        crate::verify::bounded(
            &statement,
            WRITE_TIMEOUT,
            session.query_unpaged(statement.clone(), &[]),
        )
        .await?;
    }
    crate::verify::bounded(
        "waiting for schema agreement",
        Duration::from_secs(60),
        session.await_schema_agreement(),
    )
    .await?;
    Ok(format!("{keyspace}.writes"))
}

/// Connects for a workload, as the `cql` verifier does.
pub async fn connect(
    nodes: &[Endpoint],
    login: Option<(String, String)>,
) -> Result<Connected, String> {
    session(nodes, login).await
}

async fn run(session: &Session, text: String, level: Consistency) -> Result<(), String> {
    let mut statement = Statement::new(text.clone());
    statement.set_consistency(level);
    match tokio::time::timeout(WRITE_TIMEOUT, session.query_unpaged(statement, &[])).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", WRITE_TIMEOUT.as_secs())),
    }
}

/// `writers` writers until `stop`; every acknowledgement goes into `ledger` as it comes.
pub async fn write_until(
    session: &Session,
    table: &str,
    level: Consistency,
    writers: usize,
    delete_every: u64,
    stop: &CancellationToken,
    ledger: &Ledger,
) {
    let one = |w: usize| {
        let writer = DriverWriter {
            session,
            table: table.to_string(),
            level,
            name: format!("writer {w}"),
            prefix: format!("w{w}"),
        };
        ledger::drive(writer, delete_every, AFTER_FAILURE, stop, ledger)
    };
    futures::future::join_all((0..writers).map(one)).await;
}

/// One writer through the driver, which picks the coordinator.
struct DriverWriter<'a> {
    session: &'a Session,
    table: String,
    level: Consistency,
    name: String,
    prefix: String,
}

#[async_trait::async_trait]
impl ledger::Writer for DriverWriter<'_> {
    fn target(&self, seq: u64) -> Target {
        Target {
            node: self.name.clone(),
            id: format!("{}-{seq}", self.prefix),
        }
    }

    async fn insert(&mut self, target: &Target) -> Result<(), String> {
        let insert = format!("INSERT INTO {} (id) VALUES ('{}')", self.table, target.id);
        run(self.session, insert, self.level).await
    }

    async fn delete(&mut self, _node: &str, id: &str) -> Result<(), String> {
        let delete = format!("DELETE FROM {} WHERE id = '{id}'", self.table);
        run(self.session, delete, self.level).await
    }
}

/// Reads the table with every node as coordinator at `level` (retrying failed reads once a
/// second until `settle`, for a node that is coming back, unless every failure is one no wait
/// can change) and judges the ledger.
pub async fn read_back(
    connected: &Connected,
    table: &str,
    level: Consistency,
    history: &History,
    settle: Duration,
) -> Verdict {
    let deadline = tokio::time::Instant::now() + settle;
    let query = format!("SELECT id FROM {table}");
    loop {
        let reads = read_from_every_node(connected, &query, level).await;
        let failures: Vec<&super::session::Unread> =
            reads.iter().filter_map(|(_, r)| r.as_ref().err()).collect();
        let hopeless = failures.iter().all(|f| f.lasting);
        if failures.is_empty() || hopeless || tokio::time::Instant::now() >= deadline {
            let nodes: Vec<String> = reads.iter().map(|(who, _)| who.clone()).collect();
            let reads: Vec<Result<Rows, String>> = reads
                .into_iter()
                .map(|(_, r)| match r {
                    Ok(ids) => Ok(ids.into_iter().map(|id| (id.clone(), id)).collect()),
                    Err(u) if u.lasting => Err(format!("{} (lasting: not retried)", u.why)),
                    Err(u) => Err(u.why),
                })
                .collect();
            // Writers go through the driver, not one per node; each coordinator's read at
            // `level` must show the same table.
            let rules = ledger::Rules {
                every_node_writes: false,
                full_copies: true,
            };
            return ledger::judge(&nodes, &reads, history, rules);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::eps;
    use harness_testkit::cql_standin::{Faults, StandIn};

    /// The read-back the tests judge: QUORUM, retrying for `settle_secs`.
    async fn read_back_at_quorum(
        session: &Connected,
        table: &str,
        history: &History,
        settle_secs: u64,
    ) -> Verdict {
        read_back(
            session,
            table,
            Consistency::Quorum,
            history,
            Duration::from_secs(settle_secs),
        )
        .await
    }

    async fn run_workload(standin: &StandIn) -> (Connected, String, History) {
        run_workload_on(eps(standin.endpoints())).await
    }

    async fn run_workload_on(nodes: Vec<Endpoint>) -> (Connected, String, History) {
        let session = connect(&nodes, None).await.unwrap();
        let table = prepare(&session, "harness_wl_t", nodes.len())
            .await
            .unwrap();
        let ledger = Ledger::new();
        let stop = CancellationToken::new();
        let writing = write_until(
            &session.session,
            &table,
            Consistency::Quorum,
            2,
            5,
            &stop,
            &ledger,
        );
        let timer = async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            stop.cancel();
        };
        tokio::join!(writing, timer);
        (session, table, ledger.snapshot())
    }

    // Layer 1 (the CQL protocol stand-in, not Cassandra: one shared store, no replication):
    // writers acknowledged at QUORUM through the bridges are all read back with every node as
    // coordinator, deletes gone; a node that returns a row fewer as coordinator is named.
    #[tokio::test]
    async fn acknowledged_cql_writes_are_read_back_through_every_node_and_a_short_read_is_named() {
        let standin = StandIn::start(3, None, Faults::default()).await;
        let (session, table, history) = run_workload(&standin).await;
        assert!(history.present().len() > 5, "{history:?}");
        assert!(!history.deleted().is_empty());
        let v = read_back_at_quorum(&session, &table, &history, 5).await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        let inserts = standin
            .coordinated()
            .iter()
            .filter(|c| c.statement.starts_with("INSERT INTO harness_wl_t.writes"))
            .map(|c| c.consistency)
            .collect::<std::collections::BTreeSet<u16>>();
        assert_eq!(inserts, [0x0004].into(), "written at QUORUM");

        let faulty = StandIn::start(
            3,
            None,
            Faults {
                short_reads_on: Some(1),
                ..Default::default()
            },
        )
        .await;
        let (session, table, history) = run_workload(&faulty).await;
        let nodes = eps(faulty.endpoints());
        let v = read_back_at_quorum(&session, &table, &history, 5).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&nodes[1].name) && v.summary.contains("acknowledged write(s) lost"),
            "{}",
            v.summary
        );
    }

    // Layer 1 (CQL stand-in playing Cassandra 4.0 and 4.1): system.local gives the node's own
    // address as 0.0.0.0 before 4.1; every node is still a coordinator at the address its
    // peers know, found by host ID.
    #[tokio::test]
    async fn a_node_that_says_0_0_0_0_is_read_through_its_bridge_on_4_0_and_4_1() {
        use harness_testkit::cql_standin::Release;
        for release in [Release::V40, Release::V41] {
            let standin = StandIn::start_release(3, None, Faults::default(), release).await;
            let (session, table, history) = run_workload(&standin).await;
            let v = read_back_at_quorum(&session, &table, &history, 5).await;
            assert!(v.passed, "{release:?}: {} {:?}", v.summary, v.evidence);
            assert!(!v.summary.contains("0.0.0.0"), "{}", v.summary);
        }
    }

    // Layer 1 (CQL stand-in): a node of the ring that is not a target cannot be reached
    // behind the port-forwards, whatever the wait; the read-back says so at once instead of
    // retrying for its whole settle time.
    #[tokio::test]
    async fn a_node_no_bridge_leads_to_fails_at_once_not_after_the_settle_time() {
        let standin = StandIn::start(3, None, Faults::default()).await;
        let all = eps(standin.endpoints());
        let (session, table, history) = run_workload_on(all[..2].to_vec()).await;
        let began = std::time::Instant::now();
        let v = read_back_at_quorum(&session, &table, &history, 120).await;
        assert!(!v.passed);
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "took {:?}",
            began.elapsed()
        );
        assert!(
            v.summary.contains("10.244.0.12")
                && v.summary.contains("is not one of the targets")
                && v.summary.contains("lasting: not retried"),
            "{}",
            v.summary
        );
    }
}
