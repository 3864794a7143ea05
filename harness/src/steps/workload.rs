//! `workload`: starts a background workload under an id, or stops one. It keeps writing while
//! the following steps run (faults, scales, restarts); `verify: { workload: <id> }` checks its
//! ledger later (see `verify/workload.rs`). `galera.writes` writes on every Galera node;
//! `cql.writes` through the Cassandra driver at a consistency level (default QUORUM) into a
//! keyspace of its own, replicated to up to three nodes; `memcache.writes` sets keys on their
//! owners among the memcached servers.
//!
//! ```yaml
//! - workload:
//!     start: writes
//!     galera.writes:
//!       target: { pods: app=galera-ss, port: 3306 }
//!       credentials: { user: root, password: { var: galera_root_password } }
//!       writers_per_node: 2
//!       delete_every: 5
//! - fault: { delete_pod: { name: galera-ss-1, wait_for_replacement: true } }
//! - workload: { stop: writes }
//! - verify: { workload: writes }
//! ```

use super::verify::{login_for, resolve};
use super::{StepContext, StepFailure, StepKind, StepResult};
use crate::check::Checker;
use crate::verify::galera::{acknowledged_writes as writes, drop_later, establish};
use crate::verify::{Credentials, RawCredentials, RawTarget, Target, nonce};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub start: Option<String>,
    pub stop: Option<String>,
    #[serde(rename = "galera.writes")]
    pub galera_writes: Option<RawGaleraWrites>,
    #[serde(rename = "cql.writes")]
    pub cql_writes: Option<Box<RawCqlWrites>>,
    #[serde(rename = "memcache.writes")]
    pub memcache_writes: Option<RawMemcacheWrites>,
    #[serde(rename = "galera.transactions")]
    pub galera_transactions: Option<Box<RawGaleraTransactions>>,
    #[serde(rename = "galera.components")]
    pub galera_components: Option<Box<RawGaleraComponents>>,
}

/// Every Galera node's place in the cluster, sampled in the background (`Primary`, `Synced`).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGaleraComponents {
    pub target: RawTarget,
    pub credentials: RawCredentials,
    /// How often every node is asked (`1s`; from 100ms to 1m).
    #[serde(default = "one_second")]
    pub every: String,
}

fn one_second() -> String {
    "1s".into()
}

/// Transactions on every Galera node, checked for isolation anomalies against a promise.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGaleraTransactions {
    pub target: RawTarget,
    pub credentials: RawCredentials,
    /// `list-append` (Elle's), `counter` (read-modify-write) or `stale-read` (a write on one
    /// node, then a read on another).
    pub workload: String,
    #[serde(default = "one")]
    pub workers_per_node: i64,
    /// Keys (lists, counters) in use at a time.
    #[serde(default = "eight")]
    pub keys: i64,
    /// The session's isolation level: read-uncommitted, read-committed, repeatable-read or
    /// serializable (the server's default when not given).
    pub isolation: Option<String>,
    /// The session's `wsrep_sync_wait` (0 to 15; the server's setting when not given).
    pub sync_wait: Option<i64>,
    /// What the system promises, and what the scenario tolerates anyway.
    pub expect: RawPromise,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPromise {
    /// read-uncommitted, read-committed, snapshot-isolation, repeatable-read, serializable,
    /// strong-snapshot-isolation or strict-serializable.
    pub consistency: String,
    /// Anomalies tolerated even though the model rules them out (`lost-update`, `stale-read`,
    /// `G-single`...).
    #[serde(default)]
    pub allow: Vec<String>,
}

fn eight() -> i64 {
    8
}

/// The most keys a transaction workload uses at a time.
pub const MAX_KEYS: i64 = 10_000;

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMemcacheWrites {
    /// The memcached servers (keys go to their owners by rendezvous hashing).
    pub target: RawTarget,
    #[serde(default = "two")]
    pub writers: i64,
    /// Delete every Nth acknowledged key (0: never).
    #[serde(default = "five")]
    pub delete_every: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCqlWrites {
    pub target: RawTarget,
    pub credentials: Option<RawCredentials>,
    /// The consistency of the writes and of the read-back.
    #[serde(default = "quorum")]
    pub consistency: String,
    #[serde(default = "two")]
    pub writers: i64,
    /// Delete every Nth acknowledged row (0: never).
    #[serde(default = "five")]
    pub delete_every: i64,
}

fn quorum() -> String {
    "QUORUM".into()
}
fn two() -> i64 {
    2
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGaleraWrites {
    pub target: RawTarget,
    pub credentials: RawCredentials,
    #[serde(default = "one")]
    pub writers_per_node: i64,
    /// Delete every Nth acknowledged row (0: never).
    #[serde(default = "five")]
    pub delete_every: i64,
}

fn one() -> i64 {
    1
}
fn five() -> i64 {
    5
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadStep {
    Start { id: String, writes: Writes },
    Stop { id: String },
}

/// What a workload writes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Writes {
    Galera(GaleraWrites),
    Cql(CqlWrites),
    Memcache(MemcacheWrites),
    GaleraTransactions(GaleraTransactions),
    GaleraComponents(GaleraComponents),
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraComponents {
    pub target: Target,
    pub credentials: Credentials,
    #[serde(serialize_with = "crate::check::duration_text")]
    pub every: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraTransactions {
    pub target: Target,
    pub credentials: Credentials,
    pub config: crate::verify::galera::isolation::Config,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemcacheWrites {
    pub target: Target,
    pub writers: u32,
    pub delete_every: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CqlWrites {
    pub target: Target,
    pub credentials: Option<Credentials>,
    pub consistency: crate::verify::cassandra::cql::Level,
    pub writers: u32,
    pub delete_every: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct GaleraWrites {
    pub target: Target,
    pub credentials: Credentials,
    pub writers_per_node: u32,
    pub delete_every: u32,
}

#[async_trait::async_trait]
impl StepKind for WorkloadStep {
    const NAME: &'static str = "workload";
    const DOC: &'static str = "Start a background workload (`start` with its kind) or stop one (`stop`); `verify: { workload: ID }` checks what it wrote.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    type Raw = Raw;

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        if !cx.exactly_one(
            path,
            &[("start", raw.start.is_some()), ("stop", raw.stop.is_some())],
        ) {
            return None;
        }
        for (key, id) in [("start", &raw.start), ("stop", &raw.stop)] {
            if let Some(id) = id
                && !crate::check::is_slug(id)
            {
                cx.error(
                    &format!("{path}.{key}"),
                    format!(
                        "`{}` is not a workload id: lowercase letters, digits and `-`, at most 40",
                        crate::diag::visible(id)
                    ),
                );
                return None;
            }
        }
        if let Some(id) = raw.stop {
            if raw.galera_writes.is_some()
                || raw.cql_writes.is_some()
                || raw.memcache_writes.is_some()
                || raw.galera_transactions.is_some()
                || raw.galera_components.is_some()
            {
                cx.error(
                    path,
                    "a `stop` names the workload only; its kind was given when it started",
                );
                return None;
            }
            return Some(WorkloadStep::Stop { id });
        }
        let id = raw.start?;
        if !cx.exactly_one(
            path,
            &[
                ("galera.writes", raw.galera_writes.is_some()),
                ("cql.writes", raw.cql_writes.is_some()),
                ("memcache.writes", raw.memcache_writes.is_some()),
                ("galera.transactions", raw.galera_transactions.is_some()),
                ("galera.components", raw.galera_components.is_some()),
            ],
        ) {
            return None;
        }
        if let Some(c) = raw.galera_components {
            let at = format!("{path}.galera.components");
            let target = c.target.check(cx, &format!("{at}.target"), 1);
            let credentials = c.credentials.check(cx, &format!("{at}.credentials"));
            let every = cx
                .bounded_duration(&format!("{at}.every"), &c.every, Duration::from_secs(60))
                .and_then(|d| {
                    if d < Duration::from_millis(100) {
                        cx.error(
                            &format!("{at}.every"),
                            "at least 100ms (each round asks every node)",
                        );
                        None
                    } else {
                        Some(d)
                    }
                });
            return Some(WorkloadStep::Start {
                id,
                writes: Writes::GaleraComponents(GaleraComponents {
                    target: target?,
                    credentials: credentials?,
                    every: every?,
                }),
            });
        }
        if let Some(t) = raw.galera_transactions {
            return Some(WorkloadStep::Start {
                id,
                writes: Writes::GaleraTransactions(transactions(*t, cx, path)?),
            });
        }
        if let Some(m) = raw.memcache_writes {
            let at = format!("{path}.memcache.writes");
            let target = m.target.check(cx, &format!("{at}.target"), 1);
            let writers = cx.count_within(
                &format!("{at}.writers"),
                m.writers,
                1,
                crate::verify::MAX_WRITERS,
            );
            let delete_every = cx.count_within(
                &format!("{at}.delete_every"),
                m.delete_every,
                0,
                crate::verify::MAX_DELETE_EVERY,
            );
            return Some(WorkloadStep::Start {
                id,
                writes: Writes::Memcache(MemcacheWrites {
                    target: target?,
                    writers: writers?,
                    delete_every: delete_every?,
                }),
            });
        }
        if let Some(g) = raw.galera_writes {
            let at = format!("{path}.galera.writes");
            let target = g.target.check(cx, &format!("{at}.target"), 1);
            let credentials = g.credentials.check(cx, &format!("{at}.credentials"));
            let writers = cx.count_within(
                &format!("{at}.writers_per_node"),
                g.writers_per_node,
                1,
                crate::verify::MAX_WRITERS,
            );
            let delete_every = cx.count_within(
                &format!("{at}.delete_every"),
                g.delete_every,
                0,
                crate::verify::MAX_DELETE_EVERY,
            );
            return Some(WorkloadStep::Start {
                id,
                writes: Writes::Galera(GaleraWrites {
                    target: target?,
                    credentials: credentials?,
                    writers_per_node: writers?,
                    delete_every: delete_every?,
                }),
            });
        }
        let c = raw.cql_writes?;
        let at = format!("{path}.cql.writes");
        let target = c.target.check(cx, &format!("{at}.target"), 1);
        let credentials = match &c.credentials {
            Some(creds) => Some(creds.check(cx, &format!("{at}.credentials"))?),
            None => None,
        };
        let consistency = crate::verify::cassandra::cql::consistency(&c.consistency);
        if consistency.is_none() {
            cx.error(
                &format!("{at}.consistency"),
                format!(
                    "`{}` is not a consistency level: ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM or LOCAL_ONE",
                    c.consistency
                ),
            );
        }
        // With fixed endpoints the replication factor is known now; with pods, at the start.
        if let (Some(level), Some(crate::verify::Target::Endpoints(endpoints))) =
            (&consistency, &target)
            && let Some(why) =
                crate::verify::cassandra::writes::unreachable_level(level, endpoints.len())
        {
            cx.error(&format!("{at}.consistency"), why);
        }
        let writers = cx.count_within(
            &format!("{at}.writers"),
            c.writers,
            1,
            crate::verify::MAX_WRITERS,
        );
        let delete_every = cx.count_within(
            &format!("{at}.delete_every"),
            c.delete_every,
            0,
            crate::verify::MAX_DELETE_EVERY,
        );
        Some(WorkloadStep::Start {
            id,
            writes: Writes::Cql(CqlWrites {
                target: target?,
                credentials,
                consistency: consistency?,
                writers: writers?,
                delete_every: delete_every?,
            }),
        })
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        match self {
            WorkloadStep::Stop { id } => ctx
                .state
                .workloads
                .stop(id)
                .await
                .map_err(|e| StepFailure::failed(e, "")),
            WorkloadStep::Start {
                id,
                writes: Writes::Galera(galera),
            } => {
                let nodes = resolve(ctx, &galera.target).await?;
                let login = login_for(Some(&galera.credentials), "galera.writes", ctx).await?;
                let login = crate::verify::galera::Login {
                    user: login.user.unwrap_or_default(),
                    password: login.password,
                };
                establish(&nodes, &login)
                    .await
                    .map_err(|e| StepFailure::failed(format!("galera.writes: {e}"), ""))?;
                let db = format!("harness_workload_{}", nonce());
                // The drop is registered before the first write: it runs however the run ends.
                drop_later(Some(&ctx.state.undo), &nodes, &login, &db);
                let table = writes::prepare_named(&nodes, &login, &db)
                    .await
                    .map_err(|e| StepFailure::failed(format!("galera.writes: {e}"), ""))?;
                let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
                ctx.state
                    .workloads
                    .start_galera(
                        id,
                        nodes,
                        login,
                        table,
                        galera.writers_per_node as usize,
                        u64::from(galera.delete_every),
                    )
                    .map_err(|e| StepFailure::failed(e, ""))?;
                Ok(format!(
                    "workload `{id}` started: {} writer(s) on each of {}",
                    galera.writers_per_node,
                    names.join(", ")
                ))
            }
            WorkloadStep::Start {
                id,
                writes: Writes::GaleraTransactions(t),
            } => start_transactions(ctx, id, t).await,
            WorkloadStep::Start {
                id,
                writes: Writes::GaleraComponents(c),
            } => {
                let nodes = resolve(ctx, &c.target).await?;
                let login = login_for(Some(&c.credentials), "galera.components", ctx).await?;
                let login = crate::verify::galera::Login {
                    user: login.user.unwrap_or_default(),
                    password: login.password,
                };
                let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
                ctx.state
                    .workloads
                    .start_galera_components(id, nodes, login, c.every)
                    .map_err(|e| StepFailure::failed(e, ""))?;
                Ok(format!(
                    "workload `{id}` started: sampling {} every {}",
                    names.join(", "),
                    humantime::format_duration(c.every)
                ))
            }
            WorkloadStep::Start {
                id,
                writes: Writes::Memcache(m),
            } => {
                let servers = resolve(ctx, &m.target).await?;
                let ledger = ctx
                    .state
                    .workloads
                    .start_memcache(
                        id,
                        servers.clone(),
                        m.writers as usize,
                        u64::from(m.delete_every),
                    )
                    .map_err(|e| StepFailure::failed(e, ""))?;
                // The keys go at the end whatever happens (they also expire on their own).
                ctx.state
                    .undo
                    .register(format!("delete the keys of workload {id}"), async move {
                        let h = ledger.snapshot();
                        crate::verify::memcache::writes::delete_keys(&servers, &h).await
                    });
                Ok(format!(
                    "workload `{id}` started: {} memcached writer(s)",
                    m.writers
                ))
            }
            WorkloadStep::Start {
                id,
                writes: Writes::Cql(cql),
            } => {
                use crate::verify::cassandra::writes as cql_writes;
                let nodes = resolve(ctx, &cql.target).await?;
                if let Some(why) = cql_writes::unreachable_level(&cql.consistency, nodes.len()) {
                    return Err(StepFailure::failed(format!("cql.writes: {why}"), ""));
                }
                let login = login_for(cql.credentials.as_ref(), "cql.writes", ctx).await?;
                let login = login.user.zip(login.password);
                let failed = |e: String| StepFailure::failed(format!("cql.writes: {e}"), "");
                let session = cql_writes::connect(&nodes, login.clone())
                    .await
                    .map_err(failed)?;
                let keyspace = format!("harness_workload_{}", nonce());
                // The drop is registered before the first write: it runs however the run ends.
                let (drop_nodes, drop_keyspace) = (nodes.clone(), keyspace.clone());
                ctx.state
                    .undo
                    .register(format!("drop keyspace {keyspace}"), async move {
                        // One node that answers is enough to drop it (one may be down now).
                        let session = crate::verify::cassandra::session::session_through_any(
                            &drop_nodes,
                            login,
                        )
                        .await?;
                        session
                            .session
                            .query_unpaged(format!("DROP KEYSPACE IF EXISTS {drop_keyspace}"), &[])
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    });
                let table = cql_writes::prepare(&session, &keyspace, nodes.len())
                    .await
                    .map_err(failed)?;
                ctx.state
                    .workloads
                    .start_cql(
                        id,
                        std::sync::Arc::new(session),
                        table,
                        cql.consistency.value,
                        (cql.writers as usize, u64::from(cql.delete_every)),
                    )
                    .map_err(|e| StepFailure::failed(e, ""))?;
                Ok(format!(
                    "workload `{id}` started: {} CQL writer(s) at {}",
                    cql.writers, cql.consistency.name
                ))
            }
        }
    }

    fn summary(&self) -> String {
        match self {
            WorkloadStep::Start {
                id,
                writes: Writes::Galera(galera),
            } => format!(
                "start workload `{id}`: galera.writes, {} writer(s) per node",
                galera.writers_per_node
            ),
            WorkloadStep::Start {
                id,
                writes: Writes::Memcache(m),
            } => format!(
                "start workload `{id}`: memcache.writes, {} writer(s)",
                m.writers
            ),
            WorkloadStep::Start {
                id,
                writes: Writes::Cql(cql),
            } => format!(
                "start workload `{id}`: cql.writes, {} writer(s) at {}",
                cql.writers, cql.consistency.name
            ),
            WorkloadStep::Start {
                id,
                writes: Writes::GaleraTransactions(t),
            } => format!(
                "start workload `{id}`: galera.transactions {}, {} worker(s) per node, promising {}",
                t.config.shape.name(),
                t.config.workers_per_node,
                t.config.expect.consistency.name()
            ),
            WorkloadStep::Start {
                id,
                writes: Writes::GaleraComponents(c),
            } => format!(
                "start workload `{id}`: galera.components, every {}",
                humantime::format_duration(c.every)
            ),
            WorkloadStep::Stop { id } => format!("stop workload `{id}`"),
        }
    }

    fn needs_cluster(&self) -> bool {
        match self {
            WorkloadStep::Start {
                writes: Writes::Galera(g),
                ..
            } => g.target.needs_cluster(),
            WorkloadStep::Start {
                writes: Writes::Cql(c),
                ..
            } => c.target.needs_cluster(),
            WorkloadStep::Start {
                writes: Writes::Memcache(m),
                ..
            } => m.target.needs_cluster(),
            WorkloadStep::Start {
                writes: Writes::GaleraTransactions(t),
                ..
            } => t.target.needs_cluster(),
            WorkloadStep::Start {
                writes: Writes::GaleraComponents(c),
                ..
            } => c.target.needs_cluster(),
            WorkloadStep::Stop { .. } => false,
        }
    }

    fn workload_refs(&self) -> Vec<(&'static str, String)> {
        match self {
            WorkloadStep::Stop { id } => vec![("stop", id.clone())],
            WorkloadStep::Start { .. } => vec![],
        }
    }

    fn starts_workload(&self) -> Option<&str> {
        match self {
            WorkloadStep::Start { id, .. } => Some(id),
            WorkloadStep::Stop { .. } => None,
        }
    }
}

/// `galera.transactions` checked: the workload, its bounds and the promise.
fn transactions(
    t: RawGaleraTransactions,
    cx: &mut Checker,
    path: &str,
) -> Option<GaleraTransactions> {
    use crate::verify::anomaly::{Expect, Kind, Model};
    use crate::verify::galera::isolation::{Config, Level, Shape};
    let at = format!("{path}.galera.transactions");
    let target = t.target.check(cx, &format!("{at}.target"), 1);
    let credentials = t.credentials.check(cx, &format!("{at}.credentials"));
    let shape = cx.one_of(
        &format!("{at}.workload"),
        &t.workload,
        "is not a transaction workload",
        &Shape::NAMES,
    );
    let workers = cx.count_within(
        &format!("{at}.workers_per_node"),
        t.workers_per_node,
        1,
        crate::verify::MAX_WRITERS,
    );
    let keys = cx.count_within(&format!("{at}.keys"), t.keys, 1, MAX_KEYS);
    let isolation = match &t.isolation {
        None => Some(None),
        Some(level) => cx
            .one_of(
                &format!("{at}.isolation"),
                level,
                "is not an isolation level",
                &Level::NAMES,
            )
            .map(Some),
    };
    let sync_wait = match t.sync_wait {
        None => Some(None),
        Some(n) => cx
            .count_within(&format!("{at}.sync_wait"), n, 0, 15)
            .map(|n| u8::try_from(n).ok()),
    };
    let models: Vec<(&str, Model)> = Model::ALL.iter().map(|m| (m.name(), *m)).collect();
    let consistency = cx.one_of(
        &format!("{at}.expect.consistency"),
        &t.expect.consistency,
        "is not a consistency model",
        &models,
    );
    let kinds: Vec<(&str, Kind)> = Kind::ALL.iter().map(|k| (k.name(), *k)).collect();
    let mut allow = std::collections::BTreeSet::new();
    for (i, name) in t.expect.allow.iter().enumerate() {
        let found = Kind::parse(name).or_else(|| {
            cx.one_of(
                &format!("{at}.expect.allow[{i}]"),
                name,
                "is not an anomaly",
                &kinds,
            )
        });
        allow.extend(found);
    }
    if let (Some(Shape::StaleRead), Some(Some(n))) = (shape, sync_wait)
        && n & 1 == 0
        && n != 0
    {
        cx.warning(
            &format!("{at}.sync_wait"),
            format!(
                "{n} does not include 1 (reads wait for the cluster), so stale reads are possible"
            ),
        );
    }
    Some(GaleraTransactions {
        target: target?,
        credentials: credentials?,
        config: Config {
            shape: shape?,
            workers_per_node: workers?,
            keys: keys?,
            isolation: isolation?,
            sync_wait: sync_wait?,
            expect: Expect {
                consistency: consistency?,
                allow,
            },
        },
    })
}

/// Starts a transaction workload: a database of its own (dropped however the run ends), the
/// table, the workers.
async fn start_transactions(ctx: &StepContext<'_>, id: &str, t: &GaleraTransactions) -> StepResult {
    let failed = |e: String| StepFailure::failed(format!("galera.transactions: {e}"), "");
    let nodes = resolve(ctx, &t.target).await?;
    if t.config.shape == crate::verify::galera::isolation::Shape::StaleRead && nodes.len() < 2 {
        return Err(failed(format!(
            "stale-read needs two nodes or more (a write on one, a read on another); the target has {}",
            nodes.len()
        )));
    }
    let login = login_for(Some(&t.credentials), "galera.transactions", ctx).await?;
    let login = crate::verify::galera::Login {
        user: login.user.unwrap_or_default(),
        password: login.password,
    };
    establish(&nodes, &login).await.map_err(failed)?;
    let db = format!("harness_txn_{}", nonce());
    drop_later(Some(&ctx.state.undo), &nodes, &login, &db);
    let table = crate::verify::galera::isolation::prepare(&nodes, &login, &db, &t.config)
        .await
        .map_err(failed)?;
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    ctx.state
        .workloads
        .start_galera_transactions(id, nodes, login, table, t.config.clone())
        .map_err(|e| StepFailure::failed(e, ""))?;
    Ok(format!(
        "workload `{id}` started: {} {} worker(s) on each of {}",
        t.config.workers_per_node,
        t.config.shape.name(),
        names.join(", ")
    ))
}
