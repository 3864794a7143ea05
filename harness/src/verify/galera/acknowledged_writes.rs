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
use crate::verify::ledger::{self, History, Ledger, Rows};
use crate::verify::nonce;
use crate::verify::{
    Credentials, RawCredentials, RawTarget, Target, Verdict, Verifier, VerifyContext, VerifyFlags,
};
use crate::verify::{Need, One};
use mysql_async::Conn;
use serde::{Deserialize, Serialize};
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
    const CHECKS: &'static str = "first that the targets are one cluster (see below); concurrent writers on every node for `duration`; every acknowledged row on every node, every acknowledged delete gone, every node acknowledged writes of its own, every node's copy identical (rows and checksum); unacknowledged writes reported apart; optional `during: { delete_pod, after }`";
    type Raw = Raw;

    fn lasts_at_least(&self) -> Option<(&'static str, std::time::Duration)> {
        Some(("duration", self.duration))
    }

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        let target = raw.target.check(cx, &format!("{path}.target"), 2);
        let credentials = raw.credentials.check(cx, &format!("{path}.credentials"));
        let duration = cx.duration(&format!("{path}.duration"), &raw.duration);
        let settle = cx.duration(&format!("{path}.settle"), &raw.settle);
        let writers = cx.count_within(
            &format!("{path}.writers_per_node"),
            raw.writers_per_node,
            1,
            crate::verify::MAX_WRITERS,
        );
        let delete_every = cx.count_within(
            &format!("{path}.delete_every"),
            raw.delete_every,
            0,
            crate::verify::MAX_DELETE_EVERY,
        );
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

    type Shape = One<()>;

    fn targets(&self) -> One<Need<'_>> {
        One {
            target: Need {
                target: &self.target,
                min: 2,
            },
        }
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

    async fn run(&self, cx: &VerifyContext<'_>, at: One<Vec<Endpoint>>) -> Verdict {
        let login = Login::of(cx);
        let check = check_registering(self, &at.target, &login, Some(cx.undo));
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
    let members = match super::establish(nodes, login).await {
        Ok(note) => note,
        Err(why) => return Verdict::fail(why, vec![]),
    };
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
    let mut verdict = read_back(nodes, login, &table, &history, settle).await;
    verdict.evidence.insert(0, members);
    if let Err(e) = drop_table(nodes, login, &table).await {
        // The clean-up registered before the first write tries again at the scenario's end.
        verdict
            .evidence
            .push(format!("dropping the check's database: {e}"));
    }
    verdict
}

/// Creates a database and table unique to this run; returns `db.table`.
pub async fn prepare(nodes: &[Endpoint], login: &Login) -> Result<String, String> {
    prepare_named(nodes, login, &format!("harness_ack_{}", nonce())).await
}

/// [`prepare`] with a database name chosen by the caller.
pub async fn prepare_named(nodes: &[Endpoint], login: &Login, db: &str) -> Result<String, String> {
    let table = format!("{db}.writes");
    super::create_database(
        nodes,
        login,
        db,
        &[format!(
            "CREATE TABLE {table} (id VARCHAR(64) PRIMARY KEY, node VARCHAR(255))"
        )],
    )
    .await
    .map(|()| table)
}

/// Drops the database of `table` (see [`super::drop_database`]).
pub async fn drop_table(nodes: &[Endpoint], login: &Login, table: &str) -> Result<(), String> {
    let db = table.split('.').next().unwrap_or(table);
    super::drop_database(nodes, login, db).await
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
    let ledger = Ledger::new();
    let writing = write_until(nodes, login, table, writers, delete_every, &stop, &ledger);
    tokio::join!(timer, writing);
    ledger.snapshot()
}

/// Runs `writers` writers per node until `stop` is cancelled, recording every acknowledgement
/// in `ledger` as it comes (so a caller can read the ledger while they write).
pub async fn write_until(
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    writers: usize,
    delete_every: u64,
    stop: &tokio_util::sync::CancellationToken,
    ledger: &Ledger,
) {
    let tasks = nodes.iter().enumerate().flat_map(|(n, node)| {
        (0..writers).map(move |w| {
            let writer = NodeWriter {
                node: node.clone(),
                prefix: format!("n{n}-w{w}"),
                login: login.clone(),
                table: table.to_string(),
                conn: None,
            };
            ledger::drive(writer, delete_every, RECONNECT_PAUSE, stop, ledger)
        })
    });
    futures::future::join_all(tasks).await;
}

/// One writer on one node, with its own connection (opened again after an error).
struct NodeWriter {
    node: Endpoint,
    prefix: String,
    login: Login,
    table: String,
    conn: Option<Conn>,
}

impl NodeWriter {
    async fn statement(&mut self, sql: &str) -> Result<(), String> {
        if self.conn.is_none() {
            let conn = connect_within(&self.node, &self.login, OP_TIMEOUT)
                .await
                .map_err(|e| format!("{}: {e}", self.node))?;
            self.conn = Some(conn);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(format!("{}: not connected", self.node));
        };
        let result = run_within(conn, sql, OP_TIMEOUT).await;
        if result.is_err() {
            // A failed statement leaves the connection in doubt: open a new one next time.
            self.conn = None;
        }
        result.map_err(|e| format!("{}: {e}", self.node))
    }
}

#[async_trait::async_trait]
impl ledger::Writer for NodeWriter {
    fn target(&self, seq: u64) -> ledger::Target {
        ledger::Target {
            node: self.node.name.clone(),
            id: format!("{}-{seq}", self.prefix),
        }
    }

    async fn insert(&mut self, target: &ledger::Target) -> Result<(), String> {
        let sql = format!(
            "INSERT INTO {} (id, node) VALUES ('{}', '{}')",
            self.table,
            target.id,
            self.node.name.replace(['\\', '\''], "")
        );
        self.statement(&sql).await
    }

    async fn delete(&mut self, _node: &str, id: &str) -> Result<(), String> {
        let sql = format!("DELETE FROM {} WHERE id = '{id}'", self.table);
        self.statement(&sql).await
    }

    async fn close(self) {
        if let Some(c) = self.conn {
            let _ = c.disconnect().await;
        }
    }
}

/// Reads the table on every node (retrying until `settle` for nodes that are rejoining) and
/// compares with the history: every acknowledged row on every node, every node's copy the same.
pub async fn read_back(
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    history: &History,
    settle: Duration,
) -> Verdict {
    let deadline = Instant::now() + settle;
    let read_all = || {
        futures::future::join_all(
            nodes
                .iter()
                .map(|node| read_node(node, login, table, deadline)),
        )
    };
    let mut reads = read_all().await;
    // A transaction whose client went away mid-commit (a writer stopped or cut off by a
    // fault) can still be committing on its own node when the others already applied it:
    // copies that differ are read again for a while; a real divergence stays and is judged.
    let copies_settle = Instant::now() + COPIES_SETTLE;
    while !identical(&reads) && Instant::now() < copies_settle.min(deadline) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        reads = read_all().await;
    }
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    ledger::judge(&names, &reads, history, GALERA_RULES)
}

/// How long copies that differ are read again before the difference is judged.
const COPIES_SETTLE: Duration = Duration::from_secs(5);

/// Every node answered and holds the same rows.
fn identical(reads: &[Result<Rows, String>]) -> bool {
    let mut copies = reads.iter();
    match copies.next() {
        Some(Ok(first)) => copies.all(|r| r.as_ref().is_ok_and(|rows| rows == first)),
        _ => false,
    }
}

/// Writers run on every node, and every node holds the whole table.
pub const GALERA_RULES: ledger::Rules = ledger::Rules {
    every_node_writes: true,
    full_copies: true,
};

async fn read_node(
    node: &Endpoint,
    login: &Login,
    table: &str,
    deadline: Instant,
) -> Result<Rows, String> {
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
            Ok(rows) => {
                return Ok(rows
                    .into_iter()
                    .map(|(id, node)| {
                        let row = format!("{id}\t{node}");
                        (id, row)
                    })
                    .collect());
            }
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
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
        assert!(history.present().len() > 20, "too few writes: {history:?}");
        assert!(!history.deleted().is_empty());
        let v = read_back(
            &endpoints,
            &login,
            &table,
            &history,
            Duration::from_secs(30),
        )
        .await;
        assert!(v.passed, "{} {:?}", v.summary, v.evidence);

        let lost = history.present().iter().next().unwrap().clone();
        let resurrected = history.deleted().iter().next().unwrap().clone();
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
        drop_table(&endpoints, &login, &table).await.unwrap();

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
