//! CQL writes for a workload: writers insert rows through the driver at a consistency level
//! (and delete every Nth), recording each acknowledgement; the read-back reads the table with
//! every node as coordinator at that level and judges it like the Galera ledger: every
//! acknowledged write on every node, every acknowledged delete gone.

use super::cql::{read_from_every_node, session};
use crate::cluster::Endpoint;
use crate::verify::Verdict;
use crate::verify::galera::acknowledged_writes::{self as ledger, History, Write};
use scylla::client::session::Session;
use scylla::statement::{Consistency, Statement};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one write may take before it counts as not acknowledged.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed write (a node is down; the driver needs a moment).
const AFTER_FAILURE: Duration = Duration::from_millis(200);

/// Creates a keyspace (replicated to up to three nodes) and its table; returns `ks.writes`.
/// The caller registers the keyspace's drop first.
pub async fn prepare(session: &Session, keyspace: &str, nodes: usize) -> Result<String, String> {
    let rf = nodes.clamp(1, 3);
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
) -> Result<Session, String> {
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

/// `writers` writers until `stop`; every acknowledgement goes into `history` as it comes.
pub async fn write_until(
    session: &Session,
    table: &str,
    level: Consistency,
    writers: usize,
    delete_every: u64,
    stop: &CancellationToken,
    history: Arc<Mutex<History>>,
) {
    let one = |w: usize| {
        let history = history.clone();
        async move {
            let mut seq = 0u64;
            while !stop.is_cancelled() {
                seq += 1;
                let id = format!("w{w}-{seq}");
                let insert = format!("INSERT INTO {table} (id) VALUES ('{id}')");
                let write = match run(session, insert, level).await {
                    Err(e) => Write::Refused(e),
                    Ok(()) if delete_every > 0 && seq.is_multiple_of(delete_every) => {
                        let delete = format!("DELETE FROM {table} WHERE id = '{id}'");
                        match run(session, delete, level).await {
                            Ok(()) => Write::Deleted,
                            Err(_) => Write::DeleteFailed,
                        }
                    }
                    Ok(()) => Write::Kept,
                };
                let refused = matches!(write, Write::Refused(_));
                history.lock().unwrap_or_else(|e| e.into_inner()).record(
                    &format!("writer {w}"),
                    id,
                    write,
                );
                if refused {
                    tokio::select! {
                        _ = tokio::time::sleep(AFTER_FAILURE) => {}
                        _ = stop.cancelled() => {}
                    }
                }
            }
        }
    };
    futures::future::join_all((0..writers).map(one)).await;
}

/// Reads the table with every node as coordinator at `level` (retrying failed reads once a
/// second until `settle`, for a node that is coming back) and judges the ledger.
pub async fn read_back(
    session: &Session,
    targets: &[Endpoint],
    table: &str,
    level: Consistency,
    history: &History,
    settle: Duration,
) -> Verdict {
    let deadline = tokio::time::Instant::now() + settle;
    let query = format!("SELECT id FROM {table}");
    loop {
        let reads = read_from_every_node(session, targets, &query, level).await;
        let failing = reads.iter().any(|(_, r)| r.is_err());
        if !failing || tokio::time::Instant::now() >= deadline {
            let nodes: Vec<Endpoint> = reads
                .iter()
                .map(|(who, _)| Endpoint {
                    name: who.clone(),
                    host: String::new(),
                    port: 0,
                    advertised: None,
                    node: None,
                })
                .collect();
            let reads: Vec<Result<BTreeSet<String>, String>> =
                reads.into_iter().map(|(_, r)| r).collect();
            return ledger::judge(&nodes, &reads, history);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::eps;
    use harness_testkit::cql_standin::{Faults, StandIn};

    async fn run_workload(standin: &StandIn) -> (Session, String, History) {
        let nodes = eps(standin.endpoints());
        let session = connect(&nodes, None).await.unwrap();
        let table = prepare(&session, "harness_wl_t", nodes.len())
            .await
            .unwrap();
        let history = Arc::new(Mutex::new(History::default()));
        let stop = CancellationToken::new();
        let writing = write_until(
            &session,
            &table,
            Consistency::Quorum,
            2,
            5,
            &stop,
            history.clone(),
        );
        let timer = async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            stop.cancel();
        };
        tokio::join!(writing, timer);
        let h = history.lock().unwrap().clone();
        (session, table, h)
    }

    // Layer 1 (the CQL protocol stand-in, not Cassandra: one shared store, no replication):
    // writers acknowledged at QUORUM through the bridges are all read back with every node as
    // coordinator, deletes gone; a node that returns a row fewer as coordinator is named.
    #[tokio::test]
    async fn acknowledged_cql_writes_are_read_back_through_every_node_and_a_short_read_is_named() {
        let standin = StandIn::start(3, None, Faults::default()).await;
        let (session, table, history) = run_workload(&standin).await;
        assert!(history.present.len() > 5, "{history:?}");
        assert!(!history.deleted.is_empty());
        let nodes = eps(standin.endpoints());
        let v = read_back(
            &session,
            &nodes,
            &table,
            Consistency::Quorum,
            &history,
            Duration::from_secs(5),
        )
        .await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        let inserts = standin
            .coordinated()
            .iter()
            .filter(|c| c.statement.starts_with("INSERT INTO harness_wl_t.writes"))
            .map(|c| c.consistency)
            .collect::<BTreeSet<u16>>();
        assert_eq!(inserts, BTreeSet::from([0x0004]), "written at QUORUM");

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
        let v = read_back(
            &session,
            &nodes,
            &table,
            Consistency::Quorum,
            &history,
            Duration::from_secs(5),
        )
        .await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&nodes[1].name) && v.summary.contains("acknowledged write(s) lost"),
            "{}",
            v.summary
        );
    }
}
