//! Galera's isolation workloads (`workload: { start, galera.transactions }`): transactions on
//! every node, recorded as they end, judged by the anomaly checker (`verify/anomaly/`) against
//! the scenario's promise.
//!
//! - `list-append` (Elle's): 1 to 4 micro-operations per transaction on a few keys (each key
//!   retired after a few dozen appends, so lists stay short), `append` as `INSERT ... ON
//!   DUPLICATE KEY UPDATE v = CONCAT(v, ',', x)` and `read` as `SELECT v`;
//! - `counter`: read a counter, write back one more (a read-modify-write in the client, as an
//!   application does it);
//! - `stale-read`: write a register on one node (acknowledged), then read it on another node
//!   with a read started after the acknowledgement.
//!
//! An error before `COMMIT` was sent is a failed transaction (it cannot have committed); the
//! certification failure Galera reports at `COMMIT` (deadlock, 1213) is one too; any other
//! error or silence at `COMMIT` leaves it indeterminate (`info`), and its writer continues as a
//! new process, as Jepsen requires. Each node's isolation level and `wsrep_sync_wait` in force
//! are read at the start and reported.

use super::{Login, connect_within};
use crate::cluster::Endpoint;
use crate::verify::Verdict;
use crate::verify::anomaly::{
    self, Expect, Findings, Mop, Outcome, Txn, counter::Counters, edn, stale::StaleReads,
};
use crate::verify::ledger::Ledger;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one statement may take before the transaction is given up.
const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause after an error (bounding the retry rate against a dead node).
const ERROR_PAUSE: Duration = Duration::from_millis(200);
/// Appends per key, on average, before list-append moves to fresh keys.
const APPENDS_PER_KEY: u32 = 16;

/// Which workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    ListAppend,
    Counter,
    StaleRead,
}

impl Shape {
    pub const NAMES: [(&'static str, Shape); 3] = [
        ("list-append", Shape::ListAppend),
        ("counter", Shape::Counter),
        ("stale-read", Shape::StaleRead),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A session setting the scenario asks for on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Level {
    pub const NAMES: [(&'static str, Level); 4] = [
        ("read-uncommitted", Level::ReadUncommitted),
        ("read-committed", Level::ReadCommitted),
        ("repeatable-read", Level::RepeatableRead),
        ("serializable", Level::Serializable),
    ];

    fn sql(self) -> &'static str {
        match self {
            Level::ReadUncommitted => "READ UNCOMMITTED",
            Level::ReadCommitted => "READ COMMITTED",
            Level::RepeatableRead => "REPEATABLE READ",
            Level::Serializable => "SERIALIZABLE",
        }
    }
}

/// What a transaction workload does and what the scenario promises of it.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub shape: Shape,
    pub workers_per_node: u32,
    /// Keys (lists, counters) in use at a time.
    pub keys: u32,
    /// The session isolation level (the server's default when not given).
    pub isolation: Option<Level>,
    /// The session's `wsrep_sync_wait` (the server's setting when not given).
    pub sync_wait: Option<u8>,
    pub expect: Expect,
}

/// What the workload's transactions were told, by shape.
#[derive(Debug, Default)]
pub struct Recorded {
    list: Mutex<anomaly::Recorder>,
    counters: Mutex<Counters>,
    stale: Mutex<StaleReads>,
    /// Each node's isolation level and `wsrep_sync_wait`, read at the start.
    pub settings: Mutex<Vec<String>>,
}

impl Recorded {
    pub fn new(config: &Config) -> Self {
        Self {
            counters: Mutex::new(Counters::new(config.keys)),
            ..Self::default()
        }
    }

    /// One line of counts for the step's output.
    pub fn counts(&self, shape: Shape) -> String {
        match shape {
            Shape::ListAppend => {
                let (ok, fail, info) = lock(&self.list).outcomes();
                format!(
                    "{} transaction(s): {ok} committed, {fail} failed, {info} indeterminate",
                    ok + fail + info
                )
            }
            Shape::Counter => {
                let (ok, info) = lock(&self.counters).totals();
                format!("{ok} acknowledged increment(s), {info} indeterminate")
            }
            Shape::StaleRead => {
                let (pairs, stale) = lock(&self.stale).totals();
                format!("{pairs} read(s) after a write acknowledged on another node, {stale} stale")
            }
        }
    }

    /// How many operations the verdict can rest on.
    fn evidence_count(&self, shape: Shape) -> u64 {
        match shape {
            Shape::ListAppend => lock(&self.list).outcomes().0 as u64,
            Shape::Counter => lock(&self.counters).totals().0,
            Shape::StaleRead => lock(&self.stale).totals().0,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates the workload's table in `db` (counters start at zero); returns `db.table`.
pub async fn prepare(
    nodes: &[Endpoint],
    login: &Login,
    db: &str,
    config: &Config,
) -> Result<String, String> {
    let (table, columns) = match config.shape {
        Shape::ListAppend => ("lists", "k INT PRIMARY KEY, v TEXT NOT NULL"),
        Shape::Counter => ("counters", "k INT PRIMARY KEY, v BIGINT NOT NULL"),
        Shape::StaleRead => ("registers", "k INT PRIMARY KEY, v BIGINT NOT NULL"),
    };
    let mut statements = vec![format!(
        "CREATE TABLE {db}.{table} ({columns}) ENGINE=InnoDB"
    )];
    if config.shape == Shape::Counter {
        let rows: Vec<String> = (0..config.keys).map(|k| format!("({k}, 0)")).collect();
        statements.push(format!(
            "INSERT INTO {db}.{table} VALUES {}",
            rows.join(", ")
        ));
    }
    super::create_database(nodes, login, db, &statements)
        .await
        .map(|()| format!("{db}.{table}"))
}

/// Runs the workload on every node until `stop`.
pub async fn run_until(
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    config: &Config,
    stop: &CancellationToken,
    ledger: &Ledger,
    recorded: &Recorded,
) {
    *lock(&recorded.settings) = settings(nodes, login, config).await;
    let values = AtomicU32::new(0);
    let workers = nodes
        .iter()
        .enumerate()
        .flat_map(|(n, node)| (0..config.workers_per_node).map(move |w| (n, node, w)));
    let tasks = workers.map(|(n, node, w)| {
        let worker = Worker {
            session: Session::new(node, login, config),
            table,
            config,
            ledger,
            recorded,
            values: &values,
            rng: fastrand::Rng::with_seed((n as u64) << 32 | u64::from(w)),
            process: ledger.new_process() as u32,
            index: n * config.workers_per_node as usize + w as usize,
        };
        async move {
            match config.shape {
                Shape::StaleRead => worker.stale_reads(nodes, login, stop).await,
                _ => worker.transactions(stop).await,
            }
        }
    });
    futures::future::join_all(tasks).await;
}

/// Each node's isolation level and `wsrep_sync_wait` as a new session of the workload has them.
async fn settings(nodes: &[Endpoint], login: &Login, config: &Config) -> Vec<String> {
    let mut out = vec![];
    for node in nodes {
        let mut session = Session::new(node, login, config);
        let line = match session.connection().await {
            Ok(conn) => {
                let isolation = match conn
                    .query_first::<String, _>("SELECT @@SESSION.tx_isolation")
                    .await
                {
                    Ok(Some(v)) => v,
                    _ => conn
                        .query_first::<String, _>("SELECT @@SESSION.transaction_isolation")
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "unknown".into()),
                };
                let sync_wait = conn
                    .query_first::<String, _>("SELECT @@SESSION.wsrep_sync_wait")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "unknown".into());
                format!(
                    "{}: isolation {isolation}, wsrep_sync_wait {sync_wait}",
                    node.name
                )
            }
            Err(e) => format!("{}: settings not read: {}", node.name, e.message),
        };
        session.close().await;
        out.push(line);
    }
    out
}

/// One connection to one node, opened again after an error, with the scenario's session
/// settings.
struct Session<'a> {
    node: &'a Endpoint,
    login: &'a Login,
    setup: Vec<String>,
    conn: Option<Conn>,
}

/// Why a statement did not succeed: a refusal the server reported (with its code), or no
/// answer (the connection is in doubt).
struct Refused {
    code: Option<u16>,
    message: String,
}

impl<'a> Session<'a> {
    fn new(node: &'a Endpoint, login: &'a Login, config: &Config) -> Self {
        let mut setup = vec![];
        if let Some(level) = config.isolation {
            setup.push(format!(
                "SET SESSION TRANSACTION ISOLATION LEVEL {}",
                level.sql()
            ));
        }
        if let Some(n) = config.sync_wait {
            setup.push(format!("SET SESSION wsrep_sync_wait = {n}"));
        }
        Self {
            node,
            login,
            setup,
            conn: None,
        }
    }

    async fn connection(&mut self) -> Result<&mut Conn, Refused> {
        if self.conn.is_none() {
            let mut conn = connect_within(self.node, self.login, OP_TIMEOUT)
                .await
                .map_err(|message| Refused {
                    code: None,
                    message,
                })?;
            for sql in &self.setup {
                if let Err(e) = bounded(conn.query_drop(sql.as_str())).await {
                    let _ = conn.disconnect().await;
                    return Err(e);
                }
            }
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or_else(|| Refused {
            code: None,
            message: "not connected".into(),
        })
    }

    async fn exec(&mut self, sql: &str) -> Result<(), Refused> {
        let conn = self.connection().await?;
        let r = bounded(conn.query_drop(sql)).await;
        self.forget_on_silence(&r);
        r
    }

    async fn first<T: mysql_async::prelude::FromValue + Send + 'static>(
        &mut self,
        sql: &str,
    ) -> Result<Option<T>, Refused> {
        let conn = self.connection().await?;
        let r = bounded(conn.query_first::<T, _>(sql)).await;
        self.forget_on_silence(&r);
        r
    }

    /// A connection that gave no answer is in doubt: a new one next time.
    fn forget_on_silence<T>(&mut self, r: &Result<T, Refused>) {
        if matches!(r, Err(Refused { code: None, .. })) {
            self.conn = None;
        }
    }

    /// Rolls back what a failed transaction left open (or drops the connection).
    async fn abandon(&mut self) {
        if self.conn.is_some() && self.exec("ROLLBACK").await.is_err() {
            self.conn = None;
        }
    }

    async fn close(self) {
        if let Some(c) = self.conn {
            let _ = c.disconnect().await;
        }
    }
}

async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, Refused> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(mysql_async::Error::Server(e))) => Err(Refused {
            code: Some(e.code),
            message: format!("{} ({})", e.message, e.code),
        }),
        Ok(Err(e)) => Err(Refused {
            code: None,
            message: crate::verify::plainly(&e),
        }),
        Err(_) => Err(Refused {
            code: None,
            message: format!("no answer within {}s", OP_TIMEOUT.as_secs()),
        }),
    }
}

/// Galera's certification failure and InnoDB's deadlock: the transaction was rolled back.
const ER_LOCK_DEADLOCK: u16 = 1213;

/// One writer: a connection to its node and its own random choices.
struct Worker<'a> {
    session: Session<'a>,
    table: &'a str,
    config: &'a Config,
    ledger: &'a Ledger,
    recorded: &'a Recorded,
    values: &'a AtomicU32,
    rng: fastrand::Rng,
    process: u32,
    index: usize,
}

impl Worker<'_> {
    /// List-append or counter transactions until `stop`.
    async fn transactions(mut self, stop: &CancellationToken) {
        while !stop.is_cancelled() {
            let outcome = match self.config.shape {
                Shape::Counter => self.increment().await,
                _ => self.list_append().await,
            };
            match outcome {
                Outcome::Ok => continue,
                Outcome::Info => self.process = self.ledger.new_process() as u32,
                Outcome::Fail => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(ERROR_PAUSE) => {}
                _ = stop.cancelled() => {}
            }
        }
        self.session.close().await;
    }

    /// The micro-operations of the next list-append transaction.
    fn plan(&mut self) -> Vec<Mop> {
        let keys = self.config.keys.max(1);
        let mut mops = vec![];
        for _ in 0..1 + self.rng.usize(..4) {
            let window = self.values.load(Ordering::Relaxed) / (keys * APPENDS_PER_KEY);
            let key = window * keys + self.rng.u32(..keys);
            if self.rng.bool() {
                let value = self.values.fetch_add(1, Ordering::Relaxed) + 1;
                mops.push(Mop::Append(key, value));
            } else {
                mops.push(Mop::Read(key, None));
            }
        }
        mops
    }

    async fn list_append(&mut self) -> Outcome {
        let mut mops = self.plan();
        let node = self.session.node.name.clone();
        let process = u64::from(self.process);
        let invoked_mops = edn::invoked(&mops);
        let (invoked, start) = self.ledger.begin(|index, time| {
            edn::line(
                index,
                time,
                edn::Event::Invoke,
                process,
                &invoked_mops,
                &node,
            )
        });
        let result = self.run_list_append(&mut mops).await;
        let outcome = match &result {
            Ok(()) => Outcome::Ok,
            Err((outcome, _)) => *outcome,
        };
        let completed = self
            .ledger
            .end(&node, start, outcome == Outcome::Ok, |index, time| {
                let event = match &result {
                    Ok(()) => edn::Event::Ok,
                    Err((Outcome::Fail, e)) => edn::Event::Fail(e),
                    Err((_, e)) => edn::Event::Info(e),
                };
                let shown = if outcome == Outcome::Ok {
                    &mops
                } else {
                    &invoked_mops
                };
                edn::line(index, time, event, process, shown, &node)
            });
        lock(&self.recorded.list).add(&Txn {
            process: self.process,
            node,
            outcome,
            invoked,
            completed,
            mops: if outcome == Outcome::Ok {
                mops
            } else {
                invoked_mops
            },
        });
        outcome
    }

    /// One list-append transaction; its reads are filled in.
    async fn run_list_append(&mut self, mops: &mut [Mop]) -> Result<(), (Outcome, String)> {
        let table = self.table;
        let before_commit = async {
            self.session.exec("START TRANSACTION").await?;
            for m in mops.iter_mut() {
                match m {
                    Mop::Append(k, v) => {
                        self.session
                            .exec(&format!(
                                "INSERT INTO {table} (k, v) VALUES ({k}, '{v}') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', '{v}')"
                            ))
                            .await?
                    }
                    Mop::Read(k, read) => {
                        let text: Option<String> = self
                            .session
                            .first(&format!("SELECT v FROM {table} WHERE k = {k}"))
                            .await?;
                        *read = Some(parse_list(text.as_deref()));
                    }
                }
            }
            Ok::<(), Refused>(())
        }
        .await;
        if let Err(e) = before_commit {
            self.session.abandon().await;
            return Err((Outcome::Fail, e.message));
        }
        self.commit().await
    }

    /// `COMMIT`: acknowledged, certainly rolled back, or in doubt.
    async fn commit(&mut self) -> Result<(), (Outcome, String)> {
        match self.session.exec("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) if e.code == Some(ER_LOCK_DEADLOCK) => {
                self.session.abandon().await;
                Err((Outcome::Fail, e.message))
            }
            Err(e) => {
                self.session.conn = None;
                Err((Outcome::Info, e.message))
            }
        }
    }

    /// One counter increment: read it, write back one more.
    async fn increment(&mut self) -> Outcome {
        let key = self.rng.u32(..self.config.keys.max(1));
        let node = self.session.node.name.clone();
        let process = u64::from(self.process);
        let (_, start) = self.ledger.begin(|index, time| {
            counter_line(index, time, ":invoke", process, key, None, &node, None)
        });
        let table = self.table;
        let read = async {
            self.session.exec("START TRANSACTION").await?;
            let v: Option<i64> = self
                .session
                .first(&format!("SELECT v FROM {table} WHERE k = {key}"))
                .await?;
            let v = v.ok_or_else(|| Refused {
                code: None,
                message: format!("counter {key} has no row"),
            })?;
            let next = v.saturating_add(1);
            self.session
                .exec(&format!("UPDATE {table} SET v = {next} WHERE k = {key}"))
                .await?;
            Ok::<i64, Refused>(v)
        }
        .await;
        let (result, read) = match read {
            Err(e) => {
                self.session.abandon().await;
                (Err((Outcome::Fail, e.message)), None)
            }
            Ok(v) => (self.commit().await, Some(v)),
        };
        let outcome = match &result {
            Ok(()) => Outcome::Ok,
            Err((o, _)) => *o,
        };
        self.ledger
            .end(&node, start, outcome == Outcome::Ok, |index, time| {
                let (type_, error) = match &result {
                    Ok(()) => (":ok", None),
                    Err((Outcome::Fail, e)) => (":fail", Some(e.as_str())),
                    Err((_, e)) => (":info", Some(e.as_str())),
                };
                counter_line(index, time, type_, process, key, read, &node, error)
            });
        if let Some(v) = read {
            lock(&self.recorded.counters).increment(
                key,
                u64::try_from(v).unwrap_or(0),
                outcome,
                &node,
                self.process,
            );
        }
        outcome
    }

    /// Write-then-read pairs on this worker's own register, the write on one node and the read
    /// on the next, round the nodes, until `stop`.
    async fn stale_reads(self, nodes: &[Endpoint], login: &Login, stop: &CancellationToken) {
        let key = u32::try_from(self.index).unwrap_or(u32::MAX);
        let mut sessions: Vec<Session<'_>> = nodes
            .iter()
            .map(|n| Session::new(n, login, self.config))
            .collect();
        let mut value: u64 = 0;
        let mut round = self.index;
        let mut process = u64::from(self.process);
        while !stop.is_cancelled() && nodes.len() >= 2 {
            round = round.wrapping_add(1);
            let (w, r) = (round % nodes.len(), (round + 1) % nodes.len());
            value += 1;
            let writer = nodes[w].name.clone();
            let (_, start) = self.ledger.begin(|index, time| {
                register_line(
                    index,
                    time,
                    ":invoke",
                    process,
                    ":write",
                    key,
                    Some(value),
                    &writer,
                    None,
                )
            });
            let wrote = sessions[w]
                .exec(&format!(
                    "INSERT INTO {} (k, v) VALUES ({key}, {value}) ON DUPLICATE KEY UPDATE v = {value}",
                    self.table
                ))
                .await;
            let acknowledged_at = self.ledger.elapsed();
            self.ledger
                .end(&writer, start, wrote.is_ok(), |index, time| {
                    let (t, e) = match &wrote {
                        Ok(()) => (":ok", None),
                        Err(e) => (":info", Some(e.message.as_str())),
                    };
                    register_line(
                        index,
                        time,
                        t,
                        process,
                        ":write",
                        key,
                        Some(value),
                        &writer,
                        e,
                    )
                });
            if wrote.is_err() {
                process = self.ledger.new_process();
                pause(stop).await;
                continue;
            }
            let reader = nodes[r].name.clone();
            let (_, started) = self.ledger.begin(|index, time| {
                register_line(
                    index, time, ":invoke", process, ":read", key, None, &reader, None,
                )
            });
            let read: Result<Option<i64>, Refused> = sessions[r]
                .first(&format!("SELECT v FROM {} WHERE k = {key}", self.table))
                .await;
            self.ledger
                .end(&reader, started, read.is_ok(), |index, time| {
                    let (t, v, e) = match &read {
                        Ok(v) => (":ok", v.map(|v| u64::try_from(v).unwrap_or(0)), None),
                        Err(e) => (":fail", None, Some(e.message.as_str())),
                    };
                    register_line(index, time, t, process, ":read", key, v, &reader, e)
                });
            match read {
                Ok(read) => lock(&self.recorded.stale).record(anomaly::stale::Pair {
                    key,
                    wrote: value,
                    writer: &writer,
                    acknowledged_at,
                    read: read.map(|v| u64::try_from(v).unwrap_or(0)),
                    reader: &reader,
                    read_started_at: started,
                }),
                Err(_) => pause(stop).await,
            }
        }
        for s in sessions {
            s.close().await;
        }
        self.session.close().await;
    }
}

async fn pause(stop: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(ERROR_PAUSE) => {}
        _ = stop.cancelled() => {}
    }
}

/// A list as the table holds it (`1,2,3`); a part that is not a value the workload wrote reads
/// as one no transaction appended.
fn parse_list(text: Option<&str>) -> Vec<u32> {
    match text {
        None | Some("") => vec![],
        Some(t) => t
            .split(',')
            .map(|v| v.trim().parse().unwrap_or(u32::MAX))
            .collect(),
    }
}

/// A counter increment as a history line (Elle's rw-register form: a read, then a write).
#[allow(clippy::too_many_arguments)]
fn counter_line(
    index: u64,
    time: Duration,
    type_: &str,
    process: u64,
    key: u32,
    read: Option<i64>,
    node: &str,
    error: Option<&str>,
) -> String {
    let (r, w) = match read {
        Some(v) => (v.to_string(), v.saturating_add(1).to_string()),
        None => ("nil".into(), "nil".into()),
    };
    crate::verify::history_edn::event(
        index,
        time,
        type_,
        process,
        ":txn",
        &format!("[[:r {key} {r}] [:w {key} {w}]]"),
        node,
        error,
    )
}

/// A register write or read as a history line (`:value [key value]`).
#[allow(clippy::too_many_arguments)]
fn register_line(
    index: u64,
    time: Duration,
    type_: &str,
    process: u64,
    f: &str,
    key: u32,
    value: Option<u64>,
    node: &str,
    error: Option<&str>,
) -> String {
    let v = value.map_or("nil".to_string(), |v| v.to_string());
    crate::verify::history_edn::event(
        index,
        time,
        type_,
        process,
        f,
        &format!("[{key} {v}]"),
        node,
        error,
    )
}

/// The verdict on a stopped workload: what the checker found against the promise.
pub async fn judge(
    id: &str,
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    config: &Config,
    recorded: &Recorded,
    settle: Duration,
) -> Verdict {
    let counts = recorded.counts(config.shape);
    let mut evidence = vec![format!("{} workload: {counts}", config.shape.name())];
    evidence.extend(lock(&recorded.settings).iter().cloned());
    if recorded.evidence_count(config.shape) == 0 {
        return Verdict::fail(
            format!(
                "workload `{id}` has no acknowledged {}: nothing to check",
                match config.shape {
                    Shape::StaleRead => "read after a write",
                    _ => "transaction",
                }
            ),
            evidence,
        );
    }
    let found: Findings = match config.shape {
        Shape::ListAppend => anomaly::list_append::check(
            &lock(&recorded.list),
            config.expect.consistency.is_realtime(),
        ),
        Shape::StaleRead => {
            let stale = lock(&recorded.stale);
            evidence.extend(stale.lines());
            stale.findings()
        }
        Shape::Counter => {
            let finals = match final_counters(nodes, login, table, settle).await {
                Ok(f) => f,
                Err(e) => return Verdict::fail(format!("workload `{id}`: {e}"), evidence),
            };
            for (node, values) in &finals {
                let total: i64 = values.values().fold(0i64, |a, v| a.saturating_add(*v));
                evidence.push(format!("{node}: counters sum to {total}"));
            }
            lock(&recorded.counters).judge(&finals)
        }
    };
    crate::journal::figures(
        found
            .counts
            .iter()
            .map(|(k, n)| (format!("anomalies.{}", k.name()), n.to_string()))
            .collect::<Vec<_>>(),
    );
    let breaking = found.breaking(&config.expect);
    evidence.extend(found.lines(&config.expect));
    let promise = promise(&config.expect);
    if breaking.is_empty() {
        let also = if found.counts.is_empty() {
            "no anomaly found".to_string()
        } else {
            let kinds: Vec<String> = found.counts.keys().map(|k| k.name().to_string()).collect();
            format!("only anomalies it allows ({})", kinds.join(", "))
        };
        Verdict::pass(
            format!(
                "workload `{id}` ({}): {counts}; {also} under {promise}",
                config.shape.name()
            ),
            evidence,
        )
    } else {
        let named: Vec<String> = breaking
            .iter()
            .map(|k| format!("{k} ({})", found.count(*k)))
            .collect();
        let first = found
            .examples
            .iter()
            .find(|a| breaking.contains(&a.kind))
            .map(|a| format!(": {}", a.explanation))
            .unwrap_or_default();
        Verdict::fail(
            format!(
                "workload `{id}` ({}): {} break {promise}{first}",
                config.shape.name(),
                named.join(", ")
            ),
            evidence,
        )
    }
}

/// The promise in words: `snapshot-isolation (allowing stale-read)`.
fn promise(expect: &Expect) -> String {
    if expect.allow.is_empty() {
        expect.consistency.name().to_string()
    } else {
        let allowed: Vec<&str> = expect.allow.iter().map(|k| k.name()).collect();
        format!(
            "{} (allowing {})",
            expect.consistency.name(),
            allowed.join(", ")
        )
    }
}

/// Every node's counters, retrying a node that does not answer until `settle` has passed (a
/// node rejoining after a fault).
async fn final_counters(
    nodes: &[Endpoint],
    login: &Login,
    table: &str,
    settle: Duration,
) -> Result<Vec<(String, BTreeMap<u32, i64>)>, String> {
    let deadline = tokio::time::Instant::now() + settle;
    let mut out = vec![];
    for node in nodes {
        loop {
            let read = async {
                let mut conn = super::connect(node, login).await?;
                let rows: Vec<(u32, i64)> =
                    super::bounded_query(&mut conn, &format!("SELECT k, v FROM {table}")).await?;
                let _ = conn.disconnect().await;
                Ok::<_, String>(rows.into_iter().collect::<BTreeMap<u32, i64>>())
            }
            .await;
            match read {
                Ok(values) => {
                    out.push((node.name.clone(), values));
                    break;
                }
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!("{}: counters not read: {e}", node.name));
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Layer 1 (pure): the list as the table holds it, and the history lines.
    use super::*;

    #[test]
    fn lists_parse_and_foreign_values_read_as_unwritten() {
        assert_eq!(parse_list(None), Vec::<u32>::new());
        assert_eq!(parse_list(Some("")), Vec::<u32>::new());
        assert_eq!(parse_list(Some("1,22,3")), vec![1, 22, 3]);
        assert_eq!(parse_list(Some("1,x")), vec![1, u32::MAX]);
    }

    #[test]
    fn counter_and_register_lines_are_edn() {
        let c = counter_line(
            0,
            Duration::from_nanos(5),
            ":ok",
            2,
            3,
            Some(7),
            "n\"0",
            None,
        );
        assert!(edn_format::parse_str(&c).is_ok(), "{c}");
        assert!(c.contains("[[:r 3 7] [:w 3 8]]"), "{c}");
        let r = register_line(
            1,
            Duration::ZERO,
            ":info",
            2,
            ":write",
            4,
            None,
            "n",
            Some("x\ny"),
        );
        assert!(edn_format::parse_str(&r).is_ok(), "{r}");
    }
}

#[cfg(test)]
mod rig {
    //! Layer 2 (real servers): the isolation workloads on a three-node MariaDB 10.11 Galera 4
    //! cluster from the rig image. What a healthy cluster shows is measured and printed; what
    //! the tests require of the checker does not depend on the server misbehaving: anomalies
    //! are planted (a value appended on one node alone with replication off, a counter set
    //! back on one node) and must be found from what the workloads read.
    use super::*;
    use crate::testing::{eps, galera_login};
    use crate::verify::anomaly::{Kind, Model};
    use crate::verify::workload::Workloads;
    use crate::verify::workload::check::WorkloadSpec;
    use crate::verify::{Verifier, VerifyContext};
    use harness_testkit::rig;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    fn config(shape: Shape, model: Model, sync_wait: Option<u8>) -> Config {
        Config {
            shape,
            workers_per_node: 2,
            keys: 4,
            isolation: None,
            sync_wait,
            expect: Expect {
                consistency: model,
                allow: Default::default(),
            },
        }
    }

    struct Scene {
        endpoints: Vec<Endpoint>,
        login: Login,
        workloads: Workloads,
        undo: crate::verify::Undo,
        facts: Mutex<BTreeMap<String, String>>,
        steps: Mutex<BTreeMap<String, tokio::time::Instant>>,
        faults: crate::guards::FaultLog,
    }

    impl Scene {
        async fn new(endpoints: Vec<Endpoint>) -> Self {
            let login = galera_login();
            // A node of a rig just started can drop a first connection on a loaded machine
            // (once seen in a full run): Galera has no event to watch, so try again, bounded.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while let Err(e) = super::super::establish(&endpoints, &login).await {
                assert!(tokio::time::Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Self {
                endpoints,
                login,
                workloads: Workloads::default(),
                undo: Default::default(),
                facts: Default::default(),
                steps: Default::default(),
                faults: Default::default(),
            }
        }

        /// Runs a workload for `secs` and returns its table and verdict.
        async fn run(
            &self,
            id: &str,
            config: Config,
            secs: u64,
        ) -> (String, crate::verify::Verdict) {
            let table = self.start(id, config).await;
            tokio::time::sleep(Duration::from_secs(secs)).await;
            (table, self.verify(id).await)
        }

        async fn start(&self, id: &str, config: Config) -> String {
            let table = self.table(&config).await;
            self.start_on(id, table, config)
        }

        /// A database and table of the workload's shape, dropped at the end.
        async fn table(&self, config: &Config) -> String {
            let db = format!("harness_txn_{}", crate::verify::nonce());
            super::super::drop_later(Some(&self.undo), &self.endpoints, &self.login, &db);
            prepare(&self.endpoints, &self.login, &db, config)
                .await
                .unwrap()
        }

        fn start_on(&self, id: &str, table: String, config: Config) -> String {
            self.workloads
                .start_galera_transactions(
                    id,
                    self.endpoints.clone(),
                    self.login.clone(),
                    table.clone(),
                    config,
                )
                .unwrap();
            table
        }

        async fn verify(&self, id: &str) -> crate::verify::Verdict {
            let cx = VerifyContext {
                login: Default::default(),
                pods: &crate::verify::NoPods,
                facts: &self.facts,
                undo: &self.undo,
                workloads: &self.workloads,
                steps_started: &self.steps,
                faults: &self.faults,
            };
            WorkloadSpec {
                id: id.into(),
                limits: Default::default(),
            }
            .run(&cx, ())
            .await
        }

        /// [`Self::on_one_node`], saying whether it went through.
        async fn try_on_one_node(&self, n: usize, sql: &str) -> Result<(), String> {
            let mut conn = super::super::connect(&self.endpoints[n], &self.login).await?;
            super::super::run(&mut conn, "SET SESSION wsrep_on = OFF").await?;
            let r = super::super::run(&mut conn, sql).await;
            let _ = conn.disconnect().await;
            r
        }

        /// Runs `sql` on node `n` with replication off for the session: the change stays there.
        async fn on_one_node(&self, n: usize, sql: &str) {
            let mut conn = super::super::connect(&self.endpoints[n], &self.login)
                .await
                .unwrap();
            super::super::run(&mut conn, "SET SESSION wsrep_on = OFF")
                .await
                .unwrap();
            super::super::run(&mut conn, sql).await.unwrap();
            let _ = conn.disconnect().await;
        }

        async fn clean_up(self) {
            for (what, work) in self.undo.take() {
                work.await.unwrap_or_else(|e| panic!("{what}: {e}"));
            }
        }
    }

    fn show(what: &str, v: &crate::verify::Verdict) {
        eprintln!("{what}: {}", v.summary);
        for line in v.evidence.iter().take(40) {
            eprintln!("  {line}");
        }
    }

    // list-append on a healthy cluster: many transactions commit, the history makes sense (no
    // internal, duplicate, incompatible or garbage read) and whatever isolation anomalies
    // 10.11 shows are printed (at the server's default isolation and with SERIALIZABLE
    // sessions). Then every list loses its first value on one node (replication off): the
    // workload's own reads there disagree with earlier reads, and the checker names it.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn list_append_on_a_healthy_cluster_and_a_planted_divergence() {
        let (_nodes, endpoints) = rig::galera(3).await;
        let scene = Scene::new(eps(endpoints)).await;
        // The planted run's table first: DDL after minutes of load on a loaded machine can
        // wait long (a full test run once saw CREATE DATABASE unanswered for 30 s).
        let planted = scene
            .table(&config(Shape::ListAppend, Model::ReadCommitted, None))
            .await;
        let (_, v) = scene
            .run(
                "healthy",
                config(Shape::ListAppend, Model::ReadCommitted, None),
                8,
            )
            .await;
        show("list-append, healthy", &v);
        assert!(v.passed, "{}", v.summary);
        assert!(
            v.evidence
                .iter()
                .any(|l| l.contains("isolation REPEATABLE-READ")),
            "{:?}",
            v.evidence
        );
        let committed: usize = v
            .evidence
            .iter()
            .find_map(|l| l.strip_prefix("list-append workload: "))
            .and_then(|l| l.split(": ").nth(1))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(committed > 0, "{:?}", v.evidence);

        // SERIALIZABLE sessions (reads lock on their node; certification orders writes across
        // nodes): measured and printed.
        let serializable = Config {
            isolation: Some(Level::Serializable),
            ..config(Shape::ListAppend, Model::ReadCommitted, None)
        };
        let (_, v) = scene.run("serializable", serializable, 8).await;
        show("list-append, serializable sessions", &v);
        assert!(v.passed, "{}", v.summary);

        let table = scene.start_on(
            "planted",
            planted,
            config(Shape::ListAppend, Model::ReadCommitted, None),
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        // On node 2 alone, every list keeps losing its first value for three seconds: node 2's
        // reads are then not prefixes of what was read before (repeated, because an append
        // replicated from another node brings the whole list back).
        // (A truncation that meets a workload's lock is tried again the next time.)
        let until = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut planted = 0;
        while tokio::time::Instant::now() < until {
            let sql = format!(
                "UPDATE {table} SET v = SUBSTRING(v, LOCATE(',', v) + 1) WHERE v LIKE '%,%'"
            );
            if scene.try_on_one_node(2, &sql).await.is_ok() {
                planted += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(planted > 0, "no truncation went through");
        let v = scene.verify("planted").await;
        show("list-append, planted", &v);
        assert!(!v.passed);
        assert!(v.summary.contains("incompatible-order"), "{}", v.summary);
        scene.clean_up().await;
    }

    // Stale reads: with the server's wsrep_sync_wait (0) a read on another node right after an
    // acknowledged write may miss it: counted and printed. With wsrep_sync_wait = 1 (reads
    // wait until the node has applied what the cluster committed) there must be none, under
    // a promise that prohibits them.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn stale_reads_counted_by_default_and_gone_with_sync_wait() {
        let (_nodes, endpoints) = rig::galera(3).await;
        let scene = Scene::new(eps(endpoints)).await;
        let (_, v) = scene
            .run(
                "default",
                config(Shape::StaleRead, Model::SnapshotIsolation, None),
                8,
            )
            .await;
        show("stale-read, wsrep_sync_wait default", &v);
        assert!(
            v.passed,
            "snapshot isolation allows stale reads: {}",
            v.summary
        );
        assert!(
            v.evidence.iter().any(|l| l.contains("wsrep_sync_wait 0")),
            "{:?}",
            v.evidence
        );

        let (_, v) = scene
            .run(
                "sync",
                config(Shape::StaleRead, Model::StrictSerializable, Some(1)),
                8,
            )
            .await;
        show("stale-read, wsrep_sync_wait 1", &v);
        assert!(
            v.evidence.iter().any(|l| l.contains("wsrep_sync_wait 1")),
            "{:?}",
            v.evidence
        );
        assert!(v.passed, "{}", v.summary);
        assert!(v.summary.contains("no anomaly found"), "{}", v.summary);
        scene.clean_up().await;
    }

    // Counters: increments on every node. At the server's default isolation (REPEATABLE
    // READ, where a plain SELECT does not lock) a read-modify-write loses updates: what the
    // healthy cluster shows is printed, tolerated. With SERIALIZABLE sessions the reads lock on
    // their node and certification orders writes across nodes; lost increments are then rare
    // but not impossible (a full test run on a loaded machine saw 1 of 377 on one counter, as
    // Jepsen saw lost updates in 12.1.2): printed, never a phantom. Then one counter is set
    // back on one node alone: the lost increments are named on that node.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn counter_increments_and_a_planted_loss() {
        let (_nodes, endpoints) = rig::galera(3).await;
        let scene = Scene::new(eps(endpoints)).await;
        let lenient = Config {
            expect: Expect {
                consistency: Model::SnapshotIsolation,
                allow: [Kind::LostUpdate, Kind::LostIncrement].into(),
            },
            ..config(Shape::Counter, Model::SnapshotIsolation, None)
        };
        let (_, v) = scene.run("default", lenient, 8).await;
        show("counter, default isolation", &v);
        assert!(v.passed, "{}", v.summary);

        let strict = Config {
            isolation: Some(Level::Serializable),
            ..config(Shape::Counter, Model::SnapshotIsolation, None)
        };
        let (table, v) = scene.run("serializable", strict, 8).await;
        show("counter, serializable sessions", &v);
        assert!(!v.summary.contains("phantom-increment"), "{}", v.summary);

        scene
            .on_one_node(1, &format!("UPDATE {table} SET v = 0 WHERE k = 0"))
            .await;
        // Judged again: the same history against what the nodes hold now.
        let v = scene.verify("serializable").await;
        show("counter, planted", &v);
        assert!(!v.passed);
        let named = format!("{}: counter 0 is 0 after", scene.endpoints[1].name);
        assert!(
            v.summary.contains("lost-increment") && v.evidence.iter().any(|l| l.contains(&named)),
            "{} {:?}",
            v.summary,
            v.evidence
        );
        scene.clean_up().await;
    }

    // The seed scenario `galera/isolation` states what the fixture promises of each workload:
    // its exact configurations (read from the file, validated as a run would) run together on
    // a healthy cluster here and every promise must hold, so the nightly cannot fail a
    // healthy Galera on its own default configuration.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn the_isolation_scenarios_promises_hold_on_a_healthy_cluster() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/galera/isolation.yaml");
        let (scenario, diags) = crate::scenario::validate::validate_file(&file, &|_| None, "run1");
        let scenario = scenario.unwrap_or_else(|| panic!("{diags:?}"));
        let configs: Vec<(String, Config)> = scenario
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                crate::steps::Action::Workload(crate::steps::workload::WorkloadStep::Start {
                    id,
                    writes: crate::steps::workload::Writes::GaleraTransactions(t),
                }) => Some((id.clone(), t.config.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(configs.len(), 5, "{configs:?}");
        let (_nodes, endpoints) = rig::galera(3).await;
        let scene = Scene::new(eps(endpoints)).await;
        for (id, config) in &configs {
            scene.start(id, config.clone()).await;
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
        for (id, _) in &configs {
            let v = scene.verify(id).await;
            show(id, &v);
            assert!(v.passed, "{id}: {}", v.summary);
        }
        scene.clean_up().await;
    }
}
