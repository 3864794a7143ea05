//! `galera.acknowledged_writes` (Jepsen-lite): concurrent writers insert rows through every node
//! for a bounded time, deleting every Nth acknowledged row again; then every acknowledged row
//! must be readable on every node and every acknowledged delete gone. Writes that failed (never
//! acknowledged) are reported apart from acknowledged writes that were lost.
//!
//! The check runs in phases ([`prepare`], [`write_phase`], [`read_back`], [`drop_table`]) so that
//! tests can inject faults between them.

use super::{Login, connect, connect_within, rows, run, run_within};
use crate::check::Checker;
use crate::cluster::Endpoint;
use crate::verify::nonce;
use crate::verify::{
    Credentials, RawCredentials, RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags,
};
use mysql_async::Conn;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// One write operation may take this long before it counts as failed.
const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before a writer reconnects after an error (bounds the retry rate against a dead node).
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub target: RawTarget,
    pub credentials: RawCredentials,
    /// How long writers run, e.g. `20s`.
    #[serde(default = "default_write_duration")]
    pub duration: String,
    /// Concurrent writers per node.
    #[serde(default = "one")]
    pub writers_per_node: i64,
    /// Every Nth acknowledged insert is deleted again (0 = no deletes).
    #[serde(default = "default_delete_every")]
    pub delete_every: i64,
    /// How long to wait for nodes to converge before reading back, e.g. `60s`.
    #[serde(default = "default_settle")]
    pub settle: String,
    /// A fault injected while the writers run (cluster scenarios only).
    pub during: Option<RawDuring>,
}

/// Deletes a pod `after` the writers started (the node-loss scenario).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDuring {
    pub delete_pod: String,
    #[serde(default = "default_fault_after")]
    pub after: String,
}

fn default_fault_after() -> String {
    "3s".into()
}
fn default_write_duration() -> String {
    "10s".into()
}
fn default_settle() -> String {
    "60s".into()
}
fn one() -> i64 {
    1
}
fn default_delete_every() -> i64 {
    5
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraAckWritesSpec {
    pub target: Target,
    pub credentials: Credentials,
    #[serde(serialize_with = "crate::check::duration_text")]
    pub duration: Duration,
    pub writers_per_node: u32,
    pub delete_every: u32,
    #[serde(serialize_with = "crate::check::duration_text")]
    pub settle: Duration,
    pub during: Option<During>,
}

/// A pod deleted `after` the writers started.
#[derive(Debug, Clone, Serialize)]
pub struct During {
    pub delete_pod: String,
    #[serde(serialize_with = "crate::check::duration_text")]
    pub after: Duration,
}

#[async_trait::async_trait]
impl Verifier for GaleraAckWritesSpec {
    const NAME: &'static str = "galera.acknowledged_writes";
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 2);
        let credentials = raw.credentials.check(cx, &format!("{path}.credentials"));
        let duration = cx.duration(&format!("{path}.duration"), &raw.duration);
        let settle = cx.duration(&format!("{path}.settle"), &raw.settle);
        let writers = cx.count(&format!("{path}.writers_per_node"), raw.writers_per_node, 1);
        let delete_every = cx.count(&format!("{path}.delete_every"), raw.delete_every, 0);
        let during = match raw.during {
            Some(d) => Some(During {
                after: cx.duration(&format!("{path}.during.after"), &d.after)?,
                delete_pod: d.delete_pod,
            }),
            None => None,
        };
        Some(Self {
            target: target?,
            credentials: credentials?,
            duration: duration?,
            writers_per_node: writers?,
            delete_every: delete_every?,
            settle: settle?,
            during,
        })
    }

    fn from_flags(flags: &VerifyFlags) -> Result<Raw, String> {
        Ok(Raw {
            target: flags.target(),
            credentials: RawCredentials::from_flags(flags)?,
            duration: flags
                .duration
                .clone()
                .unwrap_or_else(default_write_duration),
            writers_per_node: one(),
            delete_every: default_delete_every(),
            settle: default_settle(),
            during: None,
        })
    }

    fn targets(&self) -> Vec<(&'static str, &Target, usize)> {
        vec![("target", &self.target, 2)]
    }

    fn credentials(&self) -> Option<&Credentials> {
        Some(&self.credentials)
    }

    fn needs_cluster(&self) -> bool {
        self.target.needs_cluster() || self.during.is_some()
    }

    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        self.during
            .as_ref()
            .map(|d| crate::cluster::Disrupted::Pods(vec![d.delete_pod.clone()]))
    }

    async fn run(&self, cx: &VerifyContext<'_>) -> Verdict {
        let login = Login::of(cx);
        let check = check_registering(self, cx.get("target"), &login, Some(cx.undo));
        let Some(during) = &self.during else {
            return check.await;
        };
        let fault = async {
            tokio::time::sleep(during.after).await;
            match cx.pods.delete_pod(&during.delete_pod).await {
                Ok(()) => format!(
                    "fault: deleted pod {} {} after the writers started",
                    during.delete_pod,
                    humantime::format_duration(during.after)
                ),
                Err(e) => format!("fault: deleting pod {} failed: {e}", during.delete_pod),
            }
        };
        let (mut verdict, note) = tokio::join!(check, fault);
        verdict.evidence.insert(0, note);
        verdict
    }
}

/// What the writers were told.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// Acknowledged inserts that were not deleted afterwards.
    pub present: BTreeSet<String>,
    /// Acknowledged inserts whose delete was acknowledged too.
    pub deleted: BTreeSet<String>,
    /// Acknowledged inserts whose delete failed: either state is correct.
    pub uncertain: BTreeSet<String>,
    /// Inserts that failed: never acknowledged, so they may or may not exist.
    pub unacknowledged: Vec<(String, String)>,
    /// Acknowledged inserts per node.
    pub acks_per_node: BTreeMap<String, usize>,
}

/// What became of one write.
pub enum Write {
    /// The insert failed: never acknowledged, so it may or may not exist.
    Refused(String),
    /// Acknowledged and kept.
    Kept,
    /// Acknowledged, then deleted (the delete acknowledged too).
    Deleted,
    /// Acknowledged, but its delete failed: either state is correct.
    DeleteFailed,
}

impl History {
    /// Records what became of write `id` by `writer` (the node or writer it went through).
    pub fn record(&mut self, writer: &str, id: String, write: Write) {
        if !matches!(write, Write::Refused(_)) {
            *self.acks_per_node.entry(writer.to_string()).or_default() += 1;
        }
        match write {
            Write::Refused(why) => self.unacknowledged.push((id, why)),
            Write::Kept => {
                self.present.insert(id);
            }
            Write::Deleted => {
                self.deleted.insert(id);
            }
            Write::DeleteFailed => {
                self.uncertain.insert(id);
            }
        }
    }
}

/// Records into a shared ledger (the lock is held only for the update).
fn record(history: &Mutex<History>, writer: &str, id: String, write: Write) {
    history
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(writer, id, write);
}

pub async fn check(spec: &GaleraAckWritesSpec, nodes: &[Endpoint], login: &Login) -> Verdict {
    check_registering(spec, nodes, login, None).await
}

/// [`check`], registering the drop of its database before it creates it.
pub async fn check_registering(
    spec: &GaleraAckWritesSpec,
    nodes: &[Endpoint],
    login: &Login,
    undo: Option<&crate::verify::Undo>,
) -> Verdict {
    let (duration, settle) = (spec.duration, spec.settle);
    if let Err(why) = super::establish(nodes, login).await {
        return Verdict::fail(why, vec![]);
    }
    let db = format!("harness_ack_{}", nonce());
    super::drop_later(undo, nodes, login, &db);
    let table = match prepare_named(nodes, login, &db).await {
        Ok(t) => t,
        Err(e) => return Verdict::fail(e, vec![]),
    };
    let history = write_phase(
        nodes,
        login,
        &table,
        duration,
        spec.writers_per_node as usize,
        u64::from(spec.delete_every),
    )
    .await;
    let verdict = read_back(nodes, login, &table, &history, settle).await;
    drop_table(nodes, login, &table).await;
    verdict
}

/// Creates a database and table unique to this run; returns `db.table`.
pub async fn prepare(nodes: &[Endpoint], login: &Login) -> Result<String, String> {
    prepare_named(nodes, login, &format!("harness_ack_{}", nonce())).await
}

/// [`prepare`] with a database name chosen by the caller.
pub async fn prepare_named(nodes: &[Endpoint], login: &Login, db: &str) -> Result<String, String> {
    let mut errors = vec![];
    for node in nodes {
        match connect(node, login).await {
            Ok(mut conn) => {
                let r = async {
                    run(&mut conn, &format!("CREATE DATABASE {db}")).await?;
                    run(&mut conn, &format!("CREATE TABLE {db}.writes (id VARCHAR(64) PRIMARY KEY, node VARCHAR(255))")).await
                }
                .await;
                let _ = conn.disconnect().await;
                return r
                    .map(|_| format!("{db}.writes"))
                    .map_err(|e| format!("{node}: {e}"));
            }
            Err(e) => errors.push(format!("{node}: {e}")),
        }
    }
    Err(format!(
        "no node could create the table: {}",
        errors.join("; ")
    ))
}

pub async fn drop_table(nodes: &[Endpoint], login: &Login, table: &str) {
    let db = table.split('.').next().unwrap_or(table);
    for node in nodes {
        if let Ok(mut conn) = connect(node, login).await {
            let ok = run(&mut conn, &format!("DROP DATABASE IF EXISTS {db}"))
                .await
                .is_ok();
            let _ = conn.disconnect().await;
            if ok {
                return;
            }
        }
    }
}

/// Runs `writers` writers per node until `duration` has passed.
pub async fn write_phase(
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    duration: Duration,
    writers: usize,
    delete_every: u64,
) -> History {
    let stop = tokio_util::sync::CancellationToken::new();
    let timer = async {
        tokio::time::sleep(duration).await;
        stop.cancel();
    };
    let history = Arc::new(Mutex::new(History::default()));
    let writing = write_until(
        nodes,
        login,
        table,
        writers,
        delete_every,
        &stop,
        history.clone(),
    );
    tokio::join!(timer, writing);
    history.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Runs `writers` writers per node until `stop` is cancelled, recording every acknowledgement
/// in `history` as it comes (so a caller can read the ledger while they write).
pub async fn write_until(
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    writers: usize,
    delete_every: u64,
    stop: &tokio_util::sync::CancellationToken,
    history: Arc<Mutex<History>>,
) {
    let tasks = nodes.iter().enumerate().flat_map(|(n, node)| {
        let history = history.clone();
        (0..writers).map(move |w| {
            writer(
                node,
                n,
                w,
                login,
                table,
                stop,
                delete_every,
                history.clone(),
            )
        })
    });
    futures::future::join_all(tasks).await;
}

#[allow(clippy::too_many_arguments)]
async fn writer(
    node: &Endpoint,
    n: usize,
    w: usize,
    login: &Login,
    table: &str,
    stop: &tokio_util::sync::CancellationToken,
    delete_every: u64,
    history: Arc<Mutex<History>>,
) {
    let mut conn: Option<Conn> = None;
    let mut seq: u64 = 0;
    while !stop.is_cancelled() {
        seq += 1;
        let id = format!("n{n}-w{w}-{seq}");
        if conn.is_none() {
            match connect_within(node, login, OP_TIMEOUT).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    // The write was attempted and failed: it is not acknowledged.
                    record(
                        &history,
                        &node.name,
                        id,
                        Write::Refused(format!("{node}: {e}")),
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
                        _ = stop.cancelled() => {}
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let insert = format!(
            "INSERT INTO {table} (id, node) VALUES ('{id}', '{}')",
            node.name.replace('\'', "")
        );
        match run_within(c, &insert, OP_TIMEOUT).await {
            Ok(()) => {
                let delete = delete_every > 0 && seq.is_multiple_of(delete_every);
                let deleted = if delete {
                    Some(
                        run_within(
                            c,
                            &format!("DELETE FROM {table} WHERE id = '{id}'"),
                            OP_TIMEOUT,
                        )
                        .await,
                    )
                } else {
                    None
                };
                let write = match deleted {
                    None => Write::Kept,
                    Some(Ok(())) => Write::Deleted,
                    Some(Err(_)) => {
                        conn = None;
                        Write::DeleteFailed
                    }
                };
                record(&history, &node.name, id, write);
            }
            Err(e) => {
                record(
                    &history,
                    &node.name,
                    id,
                    Write::Refused(format!("{node}: {e}")),
                );
                conn = None;
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    }
    if let Some(c) = conn {
        let _ = c.disconnect().await;
    }
}

/// Reads the table on every node (retrying until `settle` for nodes that are rejoining) and
/// compares with the history.
pub async fn read_back(
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    history: &History,
    settle: Duration,
) -> Verdict {
    let deadline = Instant::now() + settle;
    let reads = futures::future::join_all(
        nodes
            .iter()
            .map(|node| read_node(node, login, table, deadline)),
    )
    .await;
    judge(nodes, &reads, history)
}

async fn read_node(
    node: &Endpoint,
    login: &Login,
    table: &str,
    deadline: Instant,
) -> Result<BTreeSet<String>, String> {
    // A node that was killed needs time to rejoin and catch up; there is no event to watch, so
    // this retries once a second until the settle deadline.
    loop {
        let attempt = async {
            let mut conn = connect(node, login).await?;
            run(&mut conn, "SET SESSION wsrep_sync_wait = 1").await?;
            let r = rows(&mut conn, &format!("SELECT id, node FROM {table}")).await;
            let _ = conn.disconnect().await;
            r
        }
        .await;
        match attempt {
            Ok(rows) => return Ok(rows.into_iter().map(|(id, _)| id).collect()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// The verdict (pure): missing acknowledged rows and present acknowledged deletes, by node.
pub fn judge(
    nodes: &[Endpoint],
    reads: &[Result<BTreeSet<String>, String>],
    h: &History,
) -> Verdict {
    let mut problems = vec![];
    let acked = h.present.len() + h.deleted.len() + h.uncertain.len();
    let mut evidence = vec![
        format!(
            "acknowledged inserts: {acked} ({} later deleted with acknowledgement, {} with a failed delete)",
            h.deleted.len(),
            h.uncertain.len()
        ),
        format!("acknowledged inserts per node: {:?}", h.acks_per_node),
        format!(
            "writes not acknowledged (failed, may or may not exist; not counted as lost): {}",
            h.unacknowledged.len()
        ),
    ];
    for (id, e) in h.unacknowledged.iter().take(5) {
        evidence.push(format!("  not acknowledged: {id}: {e}"));
    }
    let unacked: BTreeSet<&String> = h.unacknowledged.iter().map(|(id, _)| id).collect();
    if acked == 0 {
        problems.push("no write was acknowledged by any node".to_string());
    }
    for (node, read) in nodes.iter().zip(reads) {
        match read {
            Err(e) => problems.push(format!("{node}: could not read back: {e}")),
            Ok(got) => {
                let missing: Vec<&String> =
                    h.present.iter().filter(|id| !got.contains(*id)).collect();
                let resurrected: Vec<&String> =
                    h.deleted.iter().filter(|id| got.contains(*id)).collect();
                let committed_unacked = got.iter().filter(|id| unacked.contains(id)).count();
                evidence.push(format!(
                    "{node}: {} rows; {} acknowledged rows missing; {} acknowledged deletes still present; {committed_unacked} unacknowledged writes committed anyway",
                    got.len(),
                    missing.len(),
                    resurrected.len()
                ));
                if !missing.is_empty() {
                    problems.push(format!(
                        "{node}: {} acknowledged write(s) lost, e.g. {}",
                        missing.len(),
                        sample(&missing)
                    ));
                }
                if !resurrected.is_empty() {
                    problems.push(format!(
                        "{node}: {} acknowledged delete(s) not applied, e.g. {}",
                        resurrected.len(),
                        sample(&resurrected)
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Verdict::pass(
            format!(
                "{acked} acknowledged writes present on all {} nodes; {} unacknowledged reported apart",
                nodes.len(),
                h.unacknowledged.len()
            ),
            evidence,
        )
    } else {
        Verdict::fail(problems.join("; "), evidence)
    }
}

fn sample(ids: &[&String]) -> String {
    let shown: Vec<&str> = ids.iter().take(5).map(|s| s.as_str()).collect();
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): the judgement; layer 2 runs it on a real cluster with a node killed.
    #[test]
    fn lost_and_resurrected_rows_are_named_by_node_and_unacknowledged_are_apart() {
        let nodes = [
            Endpoint::parse("a:3306").unwrap(),
            Endpoint::parse("b:3306").unwrap(),
        ];
        let h = History {
            present: ["n0-w0-1", "n0-w0-2"].map(String::from).into(),
            deleted: ["n0-w0-3"].map(String::from).into(),
            unacknowledged: vec![("n1-w0-9".into(), "b: refused".into())],
            ..Default::default()
        };
        let good: BTreeSet<String> = ["n0-w0-1", "n0-w0-2", "n1-w0-9"].map(String::from).into();
        let bad: BTreeSet<String> = ["n0-w0-1", "n0-w0-3"].map(String::from).into();
        let v = judge(&nodes, &[Ok(good.clone()), Ok(good.clone())], &h);
        assert!(v.passed, "{}", v.summary);
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("not acknowledged") && e.contains(": 1")),
            "{:?}",
            v.evidence
        );
        let v = judge(&nodes, &[Ok(good), Ok(bad)], &h);
        assert!(!v.passed);
        assert!(
            v.summary
                .contains("b:3306: 1 acknowledged write(s) lost, e.g. n0-w0-2"),
            "{}",
            v.summary
        );
        assert!(
            v.summary
                .contains("b:3306: 1 acknowledged delete(s) not applied, e.g. n0-w0-3"),
            "{}",
            v.summary
        );
        assert!(!v.summary.contains("a:3306"), "{}", v.summary);
    }
}

#[cfg(test)]
mod rig {
    use super::*;
    use crate::testing::{eps, galera_login};
    use crate::verify::galera::{connect, run};
    use harness_testkit::rig;

    async fn local_only(node: &Endpoint, sql: &str) {
        let mut conn = connect(node, &galera_login()).await.unwrap();
        // wsrep_on=OFF for the session: the change stays on this node only, which is exactly
        // the divergence the check must catch.
        run(&mut conn, "SET SESSION wsrep_on = OFF").await.unwrap();
        run(&mut conn, sql).await.unwrap();
    }

    // Layer 2 (real servers): concurrent writers on a 3-node Galera cluster; a divergence
    // injected on one node is caught and named.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn acknowledged_writes_hold_and_injected_divergence_is_named_by_node() {
        let (_nodes, endpoints) = rig::galera(3).await;
        let endpoints = eps(endpoints);
        let login = galera_login();
        let table = prepare(&endpoints, &login).await.unwrap();
        let history = write_phase(&endpoints, &login, &table, Duration::from_secs(4), 2, 5).await;
        assert!(history.present.len() > 20, "too few writes: {history:?}");
        assert!(!history.deleted.is_empty());
        let v = read_back(
            &endpoints,
            &login,
            &table,
            &history,
            Duration::from_secs(30),
        )
        .await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);

        let lost = history.present.iter().next().unwrap().clone();
        let resurrected = history.deleted.iter().next().unwrap().clone();
        local_only(
            &endpoints[1],
            &format!("DELETE FROM {table} WHERE id = '{lost}'"),
        )
        .await;
        local_only(
            &endpoints[2],
            &format!("INSERT INTO {table} (id, node) VALUES ('{resurrected}', 'x')"),
        )
        .await;
        let v = read_back(
            &endpoints,
            &login,
            &table,
            &history,
            Duration::from_secs(30),
        )
        .await;
        assert!(!v.passed);
        assert!(
            v.summary.contains(&format!(
                "{}: 1 acknowledged write(s) lost, e.g. {lost}",
                endpoints[1].name
            )),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains(&format!(
                "{}: 1 acknowledged delete(s) not applied, e.g. {resurrected}",
                endpoints[2].name
            )),
            "{}",
            v.summary
        );
        assert!(
            !v.summary.contains(&format!("{}:", endpoints[0].name)),
            "{}",
            v.summary
        );
        drop_table(&endpoints, &login, &table).await;

        // Through the runner: a step that times out mid-write, and one cancelled (Ctrl-C)
        // mid-write, leave no database behind (the drop registered before the first write runs
        // at the scenario's end); so does a passing one.
        let spec = GaleraAckWritesSpec {
            target: crate::verify::Target::Endpoints(endpoints.clone()),
            credentials: crate::verify::Credentials {
                user: rig::GALERA_USER.into(),
                password: Some(crate::verify::PasswordSource::Env(
                    "HARNESS_RIG_GALERA_PW".into(),
                )),
            },
            duration: Duration::from_secs(30),
            writers_per_node: 1,
            delete_every: 5,
            settle: Duration::from_secs(30),
            during: None,
        };
        // SAFETY of the test: no other test reads this variable.
        unsafe { std::env::set_var("HARNESS_RIG_GALERA_PW", rig::GALERA_PASSWORD) };
        let step = |timeout: u64, spec: GaleraAckWritesSpec| {
            let mut s = crate::runner::tests::step(
                "writes",
                crate::steps::Action::Verify(crate::steps::Verify(
                    crate::verify::VerifySpec::GaleraAckWrites(spec),
                )),
            );
            s.timeout = Duration::from_secs(timeout);
            s
        };
        let mut short = spec.clone();
        short.duration = Duration::from_secs(2);
        for (what, plan_step, cancel_after) in [
            ("timed out", step(4, spec.clone()), None),
            (
                "cancelled",
                step(60, spec.clone()),
                Some(Duration::from_secs(3)),
            ),
            ("passed", step(60, short), None),
        ] {
            let mut plan = crate::runner::tests::plan(vec![plan_step], vec![]);
            plan.cluster.required = false;
            plan.namespace = String::new();
            let sink = crate::report::events::Collect::default();
            let cancel = tokio_util::sync::CancellationToken::new();
            let runner = crate::runner::Executor {
                cluster: &crate::cluster::NoCluster,
                sink: &sink,
                cancel: cancel.clone(),
            };
            let canceller = async {
                if let Some(after) = cancel_after {
                    tokio::time::sleep(after).await;
                    cancel.cancel();
                }
            };
            let (result, ()) = tokio::join!(runner.run_scenario(&plan), canceller);
            assert_eq!(
                result.passed,
                what == "passed",
                "{what}: {:#?}",
                sink.events()
            );
            let mut conn = connect(&endpoints[0], &login).await.unwrap();
            let left = rows(
                &mut conn,
                "SELECT SCHEMA_NAME, 'db' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'harness%'",
            )
            .await
            .unwrap();
            assert_eq!(left, vec![], "{what}: databases left behind");
        }
    }

    // Layer 2 (real servers): a node killed while writers run; its failed writes are reported
    // as not acknowledged, apart from (zero) lost acknowledged writes, once it has rejoined.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn node_killed_during_writes_reports_unacknowledged_apart_from_lost() {
        let (nodes, endpoints) = rig::galera(3).await;
        let endpoints = eps(endpoints);
        let login = galera_login();
        let spec = GaleraAckWritesSpec {
            target: Default::default(),
            credentials: crate::verify::Credentials {
                user: rig::GALERA_USER.into(),
                password: None,
            },
            duration: Duration::from_secs(8),
            writers_per_node: 1,
            delete_every: 4,
            settle: Duration::from_secs(120),
            during: None,
        };
        let fault = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            nodes[2]
                .container
                .stop_with_timeout(Some(0))
                .await
                .expect("kill node");
            tokio::time::sleep(Duration::from_secs(3)).await;
            nodes[2].start().await;
        };
        let (v, ()) = tokio::join!(check(&spec, &endpoints, &login), fault);
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);
        let unacked = v
            .evidence
            .iter()
            .find(|e| e.starts_with("writes not acknowledged"))
            .unwrap();
        let count: usize = unacked.rsplit(": ").next().unwrap().parse().unwrap();
        assert!(
            count > 0,
            "the killed node's writes should have failed: {:?}",
            v.evidence
        );
        assert!(
            v.evidence
                .iter()
                .any(|e| e.contains("not acknowledged: n2-")),
            "{:?}",
            v.evidence
        );
    }
}
