//! Background workloads that keep writing across the steps of a scenario (through faults,
//! scales and restarts), and the `workload` verifier that checks their ledger afterwards.
//!
//! A `workload` step starts one under an id (`galera.writes`: writers on every Galera node;
//! `cql.writes`: writers through the driver at a consistency level; `memcache.writes`: keys
//! set on their owners; acknowledged writes and deletes recorded as they happen) or stops it; `verify: { workload:
//! <id> }` stops it if it still runs and checks the ledger on every node: every acknowledged
//! write readable, every acknowledged delete gone, unacknowledged writes reported apart, the
//! history kept as evidence (JSON lines). The runner stops whatever still runs when the main
//! steps end; the database is dropped by a clean-up registered before the first write.

use super::galera::Login;
use super::galera::acknowledged_writes as writes;
use super::ledger::{History, Ledger};
use super::{Verdict, Verifier, VerifyContext, VerifyFlags};
use crate::check::Checker;
use crate::cluster::Endpoint;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long, after the writers stop, a node may take to catch up before its rows are judged.
pub const SETTLE: Duration = Duration::from_secs(300);

/// The workloads of one scenario, by id.
#[derive(Default)]
pub struct Workloads(Mutex<BTreeMap<String, Running>>);

impl std::fmt::Debug for Workloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        write!(f, "Workloads({ids:?})")
    }
}

/// Where a workload writes.
#[derive(Clone)]
pub enum Store {
    Galera {
        nodes: Vec<Endpoint>,
        login: Login,
        table: String,
    },
    Cql {
        nodes: Vec<Endpoint>,
        session: Arc<scylla::client::session::Session>,
        table: String,
        level: scylla::statement::Consistency,
    },
    Memcache {
        servers: Vec<Endpoint>,
    },
}

/// One write workload: where it writes, its ledger, and how to stop it.
pub struct Running {
    pub store: Store,
    pub ledger: Arc<Ledger>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    started: tokio::time::Instant,
    stopped_after: Option<Duration>,
}

impl Workloads {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts Galera writers on every node into `table` (created by the caller), in the
    /// background, under `id`.
    pub fn start_galera(
        &self,
        id: &str,
        nodes: Vec<Endpoint>,
        login: Login,
        table: String,
        writers: usize,
        delete_every: u64,
    ) -> Result<(), String> {
        let store = Store::Galera {
            nodes: nodes.clone(),
            login: login.clone(),
            table: table.clone(),
        };
        self.start(id, store, move |stop, ledger| async move {
            writes::write_until(
                &nodes,
                &login,
                &table,
                writers,
                delete_every,
                &stop,
                &ledger,
            )
            .await;
        })
    }

    /// Starts `writers` CQL writers into `table` (created by the caller) through `session`,
    /// at `level`, deleting every `delete_every`th row, in the background, under `id`.
    pub fn start_cql(
        &self,
        id: &str,
        nodes: Vec<Endpoint>,
        session: Arc<scylla::client::session::Session>,
        table: String,
        level: scylla::statement::Consistency,
        (writers, delete_every): (usize, u64),
    ) -> Result<(), String> {
        let store = Store::Cql {
            nodes,
            session: session.clone(),
            table: table.clone(),
            level,
        };
        self.start(id, store, move |stop, ledger| async move {
            super::cassandra::writes::write_until(
                &session,
                &table,
                level,
                writers,
                delete_every,
                &stop,
                &ledger,
            )
            .await;
        })
    }

    /// Starts `writers` memcached writers on `servers` (keys on their owners) in the
    /// background, under `id`; returns the ledger, so the caller can register the keys' removal.
    pub fn start_memcache(
        &self,
        id: &str,
        servers: Vec<Endpoint>,
        writers: usize,
        delete_every: u64,
    ) -> Result<Arc<Ledger>, String> {
        let store = Store::Memcache {
            servers: servers.clone(),
        };
        let run = super::nonce();
        self.start(id, store, move |stop, ledger| async move {
            super::memcache::writes::write_until(
                &servers,
                &run,
                writers,
                delete_every,
                &stop,
                &ledger,
            )
            .await;
        })?;
        Ok(self.lock()[id].ledger.clone())
    }

    fn start<F, Fut>(&self, id: &str, store: Store, writers: F) -> Result<(), String>
    where
        F: FnOnce(CancellationToken, Arc<Ledger>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut all = self.lock();
        if all.contains_key(id) {
            return Err(format!("workload `{id}` was already started"));
        }
        let stop = CancellationToken::new();
        let ledger = Arc::new(Ledger::new());
        let task = tokio::spawn(writers(stop.clone(), ledger.clone()));
        all.insert(
            id.to_string(),
            Running {
                store,
                ledger,
                stop,
                task: Some(task),
                started: tokio::time::Instant::now(),
                stopped_after: None,
            },
        );
        Ok(())
    }

    /// Stops the workload `id` and waits for its writers; `Ok` with what it did.
    pub async fn stop(&self, id: &str) -> Result<String, String> {
        let task = {
            let mut all = self.lock();
            let Some(w) = all.get_mut(id) else {
                return Err(format!("no workload `{id}` was started"));
            };
            w.stop.cancel();
            if w.stopped_after.is_none() {
                w.stopped_after = Some(w.started.elapsed());
            }
            w.task.take()
        };
        if let Some(task) = task {
            let _ = task.await;
        }
        let all = self.lock();
        let w = &all[id];
        let h = w.ledger.snapshot();
        Ok(format!(
            "workload `{id}` stopped after {}s: {} acknowledged insert(s), {} acknowledged delete(s), {} unacknowledged",
            w.stopped_after.unwrap_or_default().as_secs(),
            h.present.len() + h.deleted.len() + h.uncertain.len(),
            h.deleted.len(),
            h.unacknowledged.len()
        ))
    }

    /// Stops every workload still running (the end of the main steps).
    pub async fn stop_all(&self) {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        for id in ids {
            let _ = self.stop(&id).await;
        }
    }

    /// Where a workload wrote and what it was told, once stopped.
    fn ledger(&self, id: &str) -> Option<(Store, History)> {
        let all = self.lock();
        let w = all.get(id)?;
        Some((w.store.clone(), w.ledger.snapshot()))
    }
}

/// The history as JSON lines, one per write, for the report.
pub fn history_lines(h: &History) -> Vec<String> {
    let line = |id: &str, outcome: &str, detail: Option<&str>| {
        serde_json::json!({"id": id, "outcome": outcome, "detail": detail}).to_string()
    };
    let mut out = vec![];
    out.extend(h.present.iter().map(|id| line(id, "acknowledged", None)));
    out.extend(
        h.deleted
            .iter()
            .map(|id| line(id, "acknowledged, then deleted", None)),
    );
    out.extend(
        h.uncertain
            .iter()
            .map(|id| line(id, "acknowledged, delete failed", None)),
    );
    out.extend(
        h.unacknowledged
            .iter()
            .map(|(id, why)| line(id, "not acknowledged", Some(why))),
    );
    out
}

/// `verify: { workload: <id> }`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSpec {
    pub id: String,
}

#[async_trait::async_trait]
impl Verifier for WorkloadSpec {
    const NAME: &'static str = "workload";
    const CHECKS: &'static str = "stops the workload `<id>` if it still runs, then checks its ledger: every acknowledged write on every node, every acknowledged delete gone, every node's copy identical (Galera, CQL) or each key on its owner (memcached); unacknowledged writes reported apart; the history in the output";
    type Raw = String;

    fn check(raw: String, cx: &mut Checker, path: &str) -> Option<Self> {
        if raw.trim().is_empty() {
            cx.error(
                path,
                "name the workload to check (the id its `workload: { start }` step gave)",
            );
            return None;
        }
        Some(Self { id: raw })
    }

    fn from_flags(_: &VerifyFlags) -> Result<String, String> {
        Err("workload checks what a scenario's workload step wrote: run it from a scenario".into())
    }

    fn needs_cluster(&self) -> bool {
        false
    }

    fn workload_refs(&self) -> Vec<(&'static str, String)> {
        vec![("workload", self.id.clone())]
    }

    type Shape = crate::verify::NoTargets;

    fn targets(&self) {}

    async fn run(&self, cx: &VerifyContext<'_>, (): ()) -> Verdict {
        let stopped = match cx.workloads.stop(&self.id).await {
            Ok(note) => note,
            Err(e) => return Verdict::fail(e, vec![]),
        };
        let Some((store, history)) = cx.workloads.ledger(&self.id) else {
            return Verdict::fail(format!("no workload `{}` was started", self.id), vec![]);
        };
        if history.present.len() + history.deleted.len() + history.uncertain.len() == 0 {
            let mut evidence = vec![stopped];
            evidence.extend(history_lines(&history));
            return Verdict::fail(
                format!(
                    "workload `{}` has no acknowledged write: nothing to check",
                    self.id
                ),
                evidence,
            );
        }
        let mut verdict = match &store {
            Store::Galera {
                nodes,
                login,
                table,
            } => writes::read_back(nodes, login, table, &history, SETTLE).await,
            Store::Cql {
                nodes,
                session,
                table,
                level,
            } => {
                super::cassandra::writes::read_back(session, nodes, table, *level, &history, SETTLE)
                    .await
            }
            Store::Memcache { servers } => {
                super::memcache::writes::read_back(servers, &history).await
            }
        };
        verdict.evidence.insert(0, stopped);
        verdict
            .evidence
            .push(format!("history of workload `{}` (JSON lines):", self.id));
        verdict.evidence.extend(history_lines(&history));
        verdict
    }
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers): a three-node Galera cluster from the rig image.
    use super::*;
    use crate::testing::{eps, galera_login};
    use crate::verify::galera::{connect, run};
    use harness_testkit::rig;

    fn context<'a>(
        workloads: &'a Workloads,
        undo: &'a crate::verify::Undo,
        facts: &'a Mutex<BTreeMap<String, String>>,
    ) -> VerifyContext<'a> {
        VerifyContext {
            login: crate::verify::Login::default(),
            pods: &crate::verify::NoPods,
            facts,
            undo,
            workloads,
        }
    }

    // A workload keeps writing while a node is stopped and started again; afterwards every
    // acknowledged write is on every node and every acknowledged delete gone, and the history
    // is in the evidence. A row then removed from one node alone is caught, named by node. The
    // database is dropped by the clean-up registered before the first write.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn writes_across_a_node_restart_are_all_there_and_an_injected_loss_is_named() {
        let (nodes, endpoints) = rig::galera(3).await;
        let endpoints = eps(endpoints);
        let login = galera_login();
        let workloads = Workloads::default();
        let undo = crate::verify::Undo::default();
        let facts = Mutex::default();
        crate::verify::galera::establish(&endpoints, &login)
            .await
            .unwrap();
        let db = format!("harness_workload_{}", crate::verify::nonce());
        crate::verify::galera::drop_later(Some(&undo), &endpoints, &login, &db);
        let table = writes::prepare_named(&endpoints, &login, &db)
            .await
            .unwrap();
        workloads
            .start_galera("w", endpoints.clone(), login.clone(), table.clone(), 2, 5)
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        nodes[2].stop().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        nodes[2].start().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let spec = WorkloadSpec { id: "w".into() };
        let v = spec.run(&context(&workloads, &undo, &facts), ()).await;
        assert!(
            v.passed,
            "{} {:?}",
            v.summary,
            &v.evidence[..v.evidence.len().min(8)]
        );
        assert!(
            v.evidence[0].starts_with("workload `w` stopped after"),
            "{:?}",
            v.evidence[0]
        );
        let history = workloads.ledger("w").unwrap().1;
        assert!(history.present.len() > 20, "too few writes");
        assert!(
            !history.unacknowledged.is_empty(),
            "writes to the stopped node were refused and recorded apart"
        );
        assert!(
            v.evidence
                .iter()
                .any(|l| l.starts_with("{") && l.contains("\"outcome\":\"acknowledged\"")),
            "the history is in the evidence as JSON lines"
        );

        let lost = history.present.iter().next().unwrap().clone();
        let mut conn = connect(&endpoints[1], &login).await.unwrap();
        run(&mut conn, "SET SESSION wsrep_on = OFF").await.unwrap();
        run(
            &mut conn,
            &format!("DELETE FROM {table} WHERE id = '{lost}'"),
        )
        .await
        .unwrap();
        let v = spec.run(&context(&workloads, &undo, &facts), ()).await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "{}: 1 acknowledged write(s) lost, e.g. {lost}",
                endpoints[1].name
            )),
            "{}",
            v.summary
        );

        for (what, work) in undo.take() {
            work.await.unwrap_or_else(|e| panic!("{what}: {e}"));
        }
        use mysql_async::prelude::Queryable;
        let dbs: Vec<String> = conn.query("SHOW DATABASES").await.unwrap();
        assert!(!dbs.contains(&db), "{dbs:?}");
    }
}
