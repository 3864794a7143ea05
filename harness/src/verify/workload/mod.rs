//! Background workloads that keep writing across the steps of a scenario (through faults,
//! scales and restarts), and the `workload` verifier that checks their ledger afterwards.
//!
//! A `workload` step starts one under an id (`galera.writes`: writers on every Galera node;
//! `cql.writes`: writers through the driver at a consistency level; `memcache.writes`: keys
//! set on their owners; acknowledged writes and deletes recorded as they happen) or stops it; `verify: { workload:
//! <id> }` stops it if it still runs and checks the ledger on every node: every acknowledged
//! write readable, every acknowledged delete gone, unacknowledged writes reported apart, the
//! history kept as evidence (EDN, streamed to a file). The runner stops whatever still runs
//! when the main steps end; the database is dropped by a clean-up registered before the first
//! write. The verifier is in `check.rs`; this file keeps the running workloads.

use super::figures::WorkloadFigures;
use super::galera::Login;
use super::galera::acknowledged_writes as writes;
use super::ledger::{History, Ledger};
use crate::cluster::Endpoint;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
#[cfg(test)]
use {
    super::figures::Limits,
    super::{Verdict, Verifier, VerifyContext},
    check::WorkloadSpec,
};

pub mod check;

/// How long, after the writers stop, a node may take to catch up before its rows are judged.
pub const SETTLE: Duration = Duration::from_secs(300);

/// The workloads of one scenario, by id.
#[derive(Default)]
pub struct Workloads {
    running: Mutex<BTreeMap<String, Running>>,
}

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
        session: Arc<super::cassandra::session::Connected>,
        table: String,
        level: scylla::statement::Consistency,
    },
    Memcache {
        servers: Vec<Endpoint>,
    },
    /// Every Galera node's place in the cluster, sampled.
    GaleraComponents {
        /// The nodes sampled, by name.
        nodes: Vec<String>,
        recorded: Arc<super::galera::components::Recorded>,
    },
    /// Transactions on every Galera node, judged for isolation anomalies.
    GaleraTransactions {
        nodes: Vec<Endpoint>,
        login: Login,
        table: String,
        config: Arc<super::galera::isolation::Config>,
        recorded: Arc<super::galera::isolation::Recorded>,
    },
}

impl Store {
    /// What the workload's operations were told, in lines for the step's output.
    fn told(&self, history: &History) -> Vec<String> {
        match self {
            Store::GaleraTransactions {
                config, recorded, ..
            } => vec![recorded.counts(config.shape)],
            Store::GaleraComponents { .. } => vec![],
            _ => history.summary_lines(),
        }
    }
}

/// One write workload: where it writes, its ledger, and how to stop it.
pub struct Running {
    pub store: Store,
    /// Node (or writer) names the workload writes to, for its per-node figures.
    pub nodes: Vec<String>,
    pub ledger: Arc<Ledger>,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    started: tokio::time::Instant,
    stopped_after: Option<Duration>,
    /// A `verify: { workload }` step judged it.
    judged: bool,
}

/// A workload no step judged (the one that would have was skipped after a failure, or none
/// was written): what it measured, which is the evidence of what went wrong.
pub struct Unjudged {
    pub id: String,
    pub lines: Vec<String>,
    pub figures: Vec<(String, String)>,
    pub span: Option<crate::measured::WorkloadSpan>,
    /// Its history as a Jepsen history (EDN), spooled.
    pub history_edn: crate::cluster::Evidence,
}

impl Workloads {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
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
        let names = nodes.iter().map(|n| n.name.clone()).collect();
        self.start(id, store, names, move |stop, ledger| async move {
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

    /// Starts a transaction workload on every Galera node into `table` (created by the
    /// caller), in the background, under `id`.
    pub fn start_galera_transactions(
        &self,
        id: &str,
        nodes: Vec<Endpoint>,
        login: Login,
        table: String,
        config: super::galera::isolation::Config,
    ) -> Result<(), String> {
        let config = Arc::new(config);
        let recorded = Arc::new(super::galera::isolation::Recorded::new(&config));
        let store = Store::GaleraTransactions {
            nodes: nodes.clone(),
            login: login.clone(),
            table: table.clone(),
            config: config.clone(),
            recorded: recorded.clone(),
        };
        let names = nodes.iter().map(|n| n.name.clone()).collect();
        self.start(id, store, names, move |stop, ledger| async move {
            super::galera::isolation::run_until(
                &nodes, &login, &table, &config, &stop, &ledger, &recorded,
            )
            .await;
        })
    }

    /// Starts sampling every Galera node's place in the cluster each `every`, under `id`.
    pub fn start_galera_components(
        &self,
        id: &str,
        nodes: Vec<Endpoint>,
        login: Login,
        every: Duration,
    ) -> Result<(), String> {
        let recorded = Arc::new(super::galera::components::Recorded::default());
        let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
        let store = Store::GaleraComponents {
            nodes: names.clone(),
            recorded: recorded.clone(),
        };
        self.start(id, store, names, move |stop, ledger| async move {
            super::galera::components::run_until(&nodes, &login, every, &stop, &ledger, &recorded)
                .await;
        })
    }

    /// Starts `writers` CQL writers into `table` (created by the caller) through `session`,
    /// at `level`, deleting every `delete_every`th row, in the background, under `id`.
    pub fn start_cql(
        &self,
        id: &str,
        session: Arc<super::cassandra::session::Connected>,
        table: String,
        level: scylla::statement::Consistency,
        (writers, delete_every): (usize, u64),
    ) -> Result<(), String> {
        let store = Store::Cql {
            session: session.clone(),
            table: table.clone(),
            level,
        };
        // Figures per writer (the driver picks the coordinator).
        self.start(id, store, vec![], move |stop, ledger| async move {
            super::cassandra::writes::write_until(
                &session.session,
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
        let names = servers.iter().map(|n| n.name.clone()).collect();
        let run = super::nonce();
        self.start(id, store, names, move |stop, ledger| async move {
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

    fn start<F, Fut>(
        &self,
        id: &str,
        store: Store,
        nodes: Vec<String>,
        writers: F,
    ) -> Result<(), String>
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
                nodes,
                ledger,
                stop,
                task: Some(task),
                started: tokio::time::Instant::now(),
                stopped_after: None,
                judged: false,
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
        if let Store::GaleraComponents { .. } = &w.store {
            return Ok(format!(
                "workload `{id}` stopped after {}s",
                w.stopped_after.unwrap_or_default().as_secs()
            ));
        }
        if let Store::GaleraTransactions {
            config, recorded, ..
        } = &w.store
        {
            return Ok(format!(
                "workload `{id}` stopped after {}s: {}",
                w.stopped_after.unwrap_or_default().as_secs(),
                recorded.counts(config.shape)
            ));
        }
        let (acknowledged, deleted, unacknowledged) = w.ledger.counts();
        Ok(format!(
            "workload `{id}` stopped after {}s: {acknowledged} acknowledged insert(s), {deleted} acknowledged delete(s), {unacknowledged} unacknowledged",
            w.stopped_after.unwrap_or_default().as_secs(),
        ))
    }

    /// Stops every workload still running (the end of the main steps).
    pub async fn stop_all(&self) {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        for id in ids {
            let _ = self.stop(&id).await;
        }
    }

    /// The workloads no step judged, each with its figures and history (stop them first).
    pub fn unjudged(
        &self,
        steps_started: &Mutex<BTreeMap<String, tokio::time::Instant>>,
        faults: &crate::guards::FaultLog,
    ) -> Vec<Unjudged> {
        let ids: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, w)| !w.judged)
            .map(|(id, _)| id.clone())
            .collect();
        let steps: Vec<(String, tokio::time::Instant)> = steps_started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, t)| (id.clone(), *t))
            .collect();
        let mut out = vec![];
        for id in ids {
            let Some((store, history)) = self.ledger(&id) else {
                continue;
            };
            let mut lines = store.told(&history);
            let (mut figures, mut span) = (vec![], None);
            if let Some((f, origin)) = self.figures(&id) {
                let faults = faults.seen_from(origin, f.ran_for);
                let describe = |w: &super::figures::Window| {
                    format!(
                        "{}{}",
                        super::figures::relative_to_steps(w, origin, &steps),
                        super::figures::during(w, &faults)
                    )
                };
                lines.splice(0..0, f.lines(&describe));
                figures = f.named();
                span = span_of(&id, &f, origin, &steps).map(|mut s| {
                    s.faults = fault_spans(&faults);
                    s
                });
            }
            out.push(Unjudged {
                history_edn: self.history_evidence(&id),
                id,
                lines,
                figures,
                span,
            });
        }
        out
    }

    /// Where a workload wrote and what it was told, once stopped.
    fn ledger(&self, id: &str) -> Option<(Store, History)> {
        let all = self.lock();
        let w = all.get(id)?;
        Some((w.store.clone(), w.ledger.snapshot()))
    }

    /// What a stopped workload's operations measure, and when its writers started.
    fn figures(&self, id: &str) -> Option<(WorkloadFigures, tokio::time::Instant)> {
        let all = self.lock();
        let w = all.get(id)?;
        let ran_for = w.stopped_after.unwrap_or_else(|| w.ledger.elapsed());
        Some((w.ledger.figures(ran_for, &w.nodes), w.ledger.origin()))
    }

    /// A workload's history as evidence (`workload-<id>-history.edn`): the complete EDN file,
    /// its last lines inline.
    fn history_evidence(&self, id: &str) -> crate::cluster::Evidence {
        let title = format!("workload-{id}-history.edn");
        match self.lock().get(id) {
            Some(w) => w.ledger.history_evidence(&title),
            None => crate::cluster::Evidence::new(
                crate::cluster::EvidenceKind::Other,
                title,
                "no such workload",
            ),
        }
    }
}

/// The workload on the scenario's timeline: placed after the latest step that started before
/// its writers did (none: nowhere to place it).
pub fn span_of(
    id: &str,
    figures: &WorkloadFigures,
    origin: tokio::time::Instant,
    steps: &[(String, tokio::time::Instant)],
) -> Option<crate::measured::WorkloadSpan> {
    use crate::measured::{Unavailable, WorkloadSpan};
    let (step, started) = crate::verify::figures::step_before(steps, origin)?;
    let window = |who: &str, f: &crate::verify::figures::Figures| Unavailable {
        who: who.to_string(),
        from_secs: f.longest_unavailable.from.as_secs_f64(),
        to_secs: f.longest_unavailable.to.as_secs_f64(),
    };
    let mut unavailable = vec![window("overall", &figures.overall)];
    unavailable.extend(figures.nodes.iter().map(|(n, f)| window(n, f)));
    Some(WorkloadSpan {
        id: id.to_string(),
        started_with_step: step.clone(),
        started_after_secs: (origin - *started).as_secs_f64(),
        ran_for_secs: figures.ran_for.as_secs_f64(),
        throughput: figures.overall.throughput,
        unavailable,
        series: figures
            .series
            .iter()
            .map(|(who, seconds)| series_of(who, seconds))
            .collect(),
        faults: vec![],
    })
}

/// Fault windows as the report carries them.
pub fn fault_spans(faults: &[(String, Duration, Duration)]) -> Vec<crate::measured::FaultSpan> {
    faults
        .iter()
        .map(|(step, from, to)| crate::measured::FaultSpan {
            step: step.clone(),
            from_secs: from.as_secs_f64(),
            to_secs: to.as_secs_f64(),
        })
        .collect()
}

/// A second-by-second series in at most [`crate::measured::MAX_BUCKETS`] buckets.
pub fn series_of(who: &str, seconds: &[crate::verify::figures::Second]) -> crate::measured::Series {
    let width = seconds.len().div_ceil(crate::measured::MAX_BUCKETS).max(1);
    let mut out = crate::measured::Series {
        who: who.to_string(),
        bucket_secs: u32::try_from(width).unwrap_or(u32::MAX),
        acknowledged: vec![],
        refused: vec![],
        max_latency_ms: vec![],
    };
    for chunk in seconds.chunks(width) {
        out.acknowledged.push(
            chunk
                .iter()
                .fold(0u32, |n, s| n.saturating_add(s.acknowledged)),
        );
        out.refused
            .push(chunk.iter().fold(0u32, |n, s| n.saturating_add(s.refused)));
        out.max_latency_ms.push(
            chunk
                .iter()
                .map(|s| s.max_latency_us.div_ceil(1000))
                .max()
                .unwrap_or(0),
        );
    }
    out
}

/// No step started (a verifier run outside a scenario).
#[cfg(test)]
static NO_STEPS: Mutex<BTreeMap<String, tokio::time::Instant>> = Mutex::new(BTreeMap::new());

/// A verifier context over these workloads, for the tests.
#[cfg(test)]
fn test_context<'a>(
    workloads: &'a Workloads,
    undo: &'a crate::verify::Undo,
    facts: &'a Mutex<BTreeMap<String, String>>,
    steps_started: &'a Mutex<BTreeMap<String, tokio::time::Instant>>,
) -> VerifyContext<'a> {
    VerifyContext {
        login: crate::verify::Login::default(),
        pods: &crate::verify::NoPods,
        facts,
        undo,
        workloads,
        steps_started,
        faults: &NO_FAULTS,
    }
}

/// No fault windows (a verifier run outside a scenario).
#[cfg(test)]
static NO_FAULTS: std::sync::LazyLock<crate::guards::FaultLog> =
    std::sync::LazyLock::new(Default::default);

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
        super::test_context(workloads, undo, facts, &super::NO_STEPS)
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
        let spec = WorkloadSpec {
            id: "w".into(),
            limits: Limits::default(),
        };
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
        assert!(history.present().len() > 20, "too few writes");
        assert!(
            !history.unacknowledged.is_empty(),
            "writes to the stopped node were refused and recorded apart"
        );
        assert!(
            v.evidence
                .iter()
                .any(|l| l.contains("not acknowledged") && l.contains("x (e.g. ")),
            "each refusal reason is in the evidence, counted, with an example: {:?}",
            v.evidence
        );

        let lost = history.present().iter().next().unwrap().clone();
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

#[cfg(test)]
mod rig_figures {
    //! Layer 2 (real servers): what workloads measure across a node stop, on a three-node
    //! Galera cluster and three memcached servers from the rig image.
    use super::*;
    use crate::testing::{eps, galera_login};
    use harness_testkit::rig;

    /// What each test shares: its workloads, undo list, facts and the steps a scenario would
    /// have started (each test its own, so tests in one process do not see each other's).
    #[derive(Default)]
    struct Scene {
        workloads: Workloads,
        undo: crate::verify::Undo,
        facts: Mutex<BTreeMap<String, String>>,
        steps: Mutex<BTreeMap<String, tokio::time::Instant>>,
    }

    impl Scene {
        fn context(&self) -> VerifyContext<'_> {
            super::test_context(&self.workloads, &self.undo, &self.facts, &self.steps)
        }

        fn step_starts(&self, id: &str) {
            self.steps
                .lock()
                .unwrap()
                .insert(id.into(), tokio::time::Instant::now());
        }

        async fn verify(&self, spec: WorkloadSpec) -> Verdict {
            spec.run(&self.context(), ()).await
        }

        fn figures(&self, id: &str) -> WorkloadFigures {
            self.workloads.figures(id).unwrap().0
        }

        /// Workload `id` writes for 2 s, then `node` (named `down`) is stopped for 3 s (the
        /// step `stop-a-node`) and started again; returns once it acknowledged a write again.
        async fn outage(&self, id: &str, node: &rig::Node, down: &str) -> Outage {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let stopped_at = elapsed(&self.workloads, id);
            self.step_starts("stop-a-node");
            node.stop().await;
            let stop_returned = elapsed(&self.workloads, id);
            tokio::time::sleep(Duration::from_secs(3)).await;
            let before = acks(&self.workloads, id, down);
            let started_at = elapsed(&self.workloads, id);
            node.start().await;
            acknowledges_again(&self.workloads, id, down, before).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Outage {
                stopped_at,
                stop_returned,
                started_at,
            }
        }
    }

    /// When a node was stopped and started again, from the workload's start.
    struct Outage {
        stopped_at: Duration,
        stop_returned: Duration,
        started_at: Duration,
    }

    impl Outage {
        /// The window opens while the node goes down (the stop was asked for at `stopped_at`
        /// and done at `stop_returned`) and closes only after it was started again.
        fn assert_bracketed_by(&self, window: super::super::figures::Window, down: &str) {
            let Outage {
                stopped_at,
                stop_returned,
                started_at,
            } = self;
            assert!(
                window.from + Duration::from_secs(1) >= *stopped_at
                    && window.from <= *stop_returned
                    && window.to >= *started_at,
                "{down}: window {window} does not bracket the stop (asked at {stopped_at:?}, done at {stop_returned:?}, started again at {started_at:?})"
            );
        }
    }

    fn elapsed(workloads: &Workloads, id: &str) -> Duration {
        workloads.lock()[id].ledger.elapsed()
    }

    fn acks(workloads: &Workloads, id: &str, node: &str) -> usize {
        let h = workloads.lock()[id].ledger.snapshot();
        h.acks_per_node.get(node).copied().unwrap_or(0)
    }

    /// Waits (bounded) until `node` acknowledged a write after `after` acknowledgements.
    async fn acknowledges_again(workloads: &Workloads, id: &str, node: &str, after: usize) {
        tokio::time::timeout(Duration::from_secs(120), async {
            while acks(workloads, id, node) <= after {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{node} never acknowledged a write again"));
    }

    fn limit(id: &str, max_node_unavailable: Duration) -> WorkloadSpec {
        WorkloadSpec {
            id: id.into(),
            limits: Limits {
                max_node_unavailable: Some(max_node_unavailable),
                ..Limits::default()
            },
        }
    }

    // Nothing stopped: no node goes a second without an acknowledged write. A node stopped for
    // 3 s: its window brackets the stop; a limit below it fails naming the node, the window
    // and the limit, one above it passes; the figures go to the step's journal and the history
    // to an EDN attachment.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn galera_a_stopped_node_shows_as_its_window_and_limits_judge_it() {
        let (nodes, endpoints) = rig::galera(3).await;
        let endpoints = eps(endpoints);
        let login = galera_login();
        let scene = Scene::default();
        let db = format!("harness_figures_{}", crate::verify::nonce());
        crate::verify::galera::drop_later(Some(&scene.undo), &endpoints, &login, &db);
        let table = writes::prepare_named(&endpoints, &login, &db)
            .await
            .unwrap();
        let start = |id: &str| {
            scene
                .workloads
                .start_galera(id, endpoints.clone(), login.clone(), table.clone(), 1, 5)
                .unwrap()
        };

        scene.step_starts("start-quiet");
        start("quiet");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let journal = crate::journal::Journal::new();
        let v = journal
            .scope(scene.verify(limit("quiet", Duration::from_secs(1))))
            .await;
        assert!(
            v.passed,
            "{} {:?}",
            v.summary,
            &v.evidence[..v.evidence.len().min(6)]
        );
        for (node, f) in &scene.figures("quiet").nodes {
            assert!(
                f.longest_unavailable.length() < Duration::from_secs(1) && f.acknowledged > 10,
                "{node}: {f:?}"
            );
        }
        let measured = journal.take_measured();
        let named: Vec<(String, String)> = measured
            .figures
            .iter()
            .map(|f| (f.name.clone(), f.value.clone()))
            .collect();
        let span = &measured.workloads[0];
        assert_eq!(span.started_with_step, "start-quiet");
        assert!(
            span.started_after_secs < 1.0 && span.ran_for_secs >= 3.0,
            "{span:?}"
        );
        assert_eq!(span.unavailable.len(), 4, "overall and each node: {span:?}");
        assert!(
            named.iter().any(|(n, _)| n == "overall.p99_ms")
                && named
                    .iter()
                    .any(|(n, _)| n == &format!("{}.longest_unavailable_s", endpoints[2].name)),
            "{named:?}"
        );
        let attached = journal.take_attachments();
        assert_eq!(attached.len(), 1);
        assert_eq!(attached[0].title, "workload-quiet-history.edn");
        let spooled = attached[0]
            .spooled
            .as_ref()
            .expect("the history is spooled");
        assert!(spooled.lines >= 2 && spooled.path().exists(), "{spooled:?}");

        start("w");
        let down = &endpoints[2].name;
        let outage = scene.outage("w", &nodes[2], down).await;

        let v = scene.verify(limit("w", Duration::from_secs(1))).await;
        assert!(!v.passed);
        let figures = scene.figures("w");
        let window = figures.nodes[down].longest_unavailable;
        outage.assert_bracketed_by(window, down);
        // Named with the figure, where it lies among the steps, and the limit.
        let named = format!("{down} acknowledged no write for {window}; from ");
        let at = v
            .summary
            .find(&named)
            .unwrap_or_else(|| panic!("{}", v.summary));
        let said = &v.summary[at..];
        let said = &said[..said
            .find("above max_node_unavailable 1.0s")
            .expect(&v.summary)];
        assert!(said.contains("after step `stop-a-node` started"), "{said}");
        // The others kept acknowledging.
        for other in &endpoints[..2] {
            assert!(
                figures.nodes[&other.name].longest_unavailable.length() < window.length(),
                "{}: {:?}",
                other.name,
                figures.nodes[&other.name]
            );
        }
        let v = scene.verify(limit("w", Duration::from_secs(600))).await;
        assert!(
            v.passed,
            "{} {:?}",
            v.summary,
            &v.evidence[..v.evidence.len().min(8)]
        );

        for (what, work) in scene.undo.take() {
            work.await.unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }

    // memcached: a server stopped for 3 s and started again. Its window brackets the stop and a
    // limit below it is named (the verdict also names the keys the restart lost: a cache forgets).
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn memcached_a_restarted_server_shows_as_its_window_and_limits_judge_it() {
        let (_net, nodes, servers) = rig::memcached(3).await;
        let servers = eps(servers);
        let scene = Scene::default();
        scene
            .workloads
            .start_memcache("quiet", servers.clone(), 2, 5)
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let v = scene.verify(limit("quiet", Duration::from_secs(1))).await;
        assert!(
            v.passed,
            "{} {:?}",
            v.summary,
            &v.evidence[..v.evidence.len().min(6)]
        );

        scene
            .workloads
            .start_memcache("w", servers.clone(), 2, 5)
            .unwrap();
        let down = &servers[1].name;
        let outage = scene.outage("w", &nodes[1], down).await;

        let v = scene.verify(limit("w", Duration::from_secs(1))).await;
        assert!(!v.passed);
        let figures = scene.figures("w");
        let window = figures.nodes[down].longest_unavailable;
        outage.assert_bracketed_by(window, down);
        assert!(
            v.summary
                .contains(&format!("{down} acknowledged no write for {window}; from "))
                && v.summary.contains("after step `stop-a-node` started")
                && v.summary.contains("above max_node_unavailable 1.0s"),
            "{}",
            v.summary
        );
        let above = Limits {
            max_node_unavailable: Some(Duration::from_secs(600)),
            ..Limits::default()
        };
        assert!(above.exceeded(&figures, &|w| w.to_string()).is_empty());
        pool_keys_removed(&servers, &scene.workloads).await;
    }

    /// The keys the workloads wrote, removed (the step's clean-up does this in a scenario).
    async fn pool_keys_removed(servers: &[Endpoint], workloads: &Workloads) {
        for id in ["quiet", "w"] {
            let h = workloads.ledger(id).unwrap().1;
            let keys: Vec<String> = h.ids().collect();
            crate::verify::memcache::pool::delete_everywhere(servers, &keys)
                .await
                .unwrap();
        }
    }
}
