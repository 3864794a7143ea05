//! The `workload` verifier: `verify: { workload: <id> }` (or with limits) stops the workload,
//! reads its ledger back from every node, measures its figures against the limits, and hands
//! its history to the report.

use super::{SETTLE, Store, span_of, writes};
use crate::check::Checker;
use crate::verify::figures::Limits;
use crate::verify::{Verdict, Verifier, VerifyContext, VerifyFlags};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `verify: { workload: <id> }`, or with limits on what it measured:
/// `verify: { workload: { id: <id>, max_unavailable: 30s, min_acknowledged: 100, ... } }`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSpec {
    pub id: String,
    #[serde(flatten)]
    pub limits: Limits,
}

/// The workload's id alone, or the id with limits.
#[derive(Debug, Clone)]
pub enum WorkloadRaw {
    Id(String),
    WithLimits(WorkloadLimitsRaw),
}

/// `workload: { id, ... }`: limits on the figures the workload measured.
#[derive(Debug, Clone, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadLimitsRaw {
    /// The workload to check (the id its `workload: { start }` step gave).
    pub id: String,
    /// Fail when no write was acknowledged (by any node) for longer than this (`30s`).
    pub max_unavailable: Option<String>,
    /// Fail when one node acknowledged no write for longer than this (`5m`): its recovery time.
    pub max_node_unavailable: Option<String>,
    /// Fail below this many acknowledged writes per second over the whole run.
    #[serde(default, deserialize_with = "crate::check::finite_opt")]
    pub min_throughput: Option<f64>,
    /// Fail when the 99th percentile latency of acknowledged writes exceeds this (`500ms`).
    pub max_p99: Option<String>,
    /// Fail when a node acknowledged fewer writes than this.
    pub min_acknowledged: Option<i64>,
    /// Acknowledged writes tolerated lost (memcached only: a restarted cache forgets its keys).
    pub max_lost: Option<i64>,
    /// Fail when more nodes than this acknowledged nothing at the same time (a second without
    /// an acknowledged write, and the one before): `1` for a rolling upgrade.
    pub max_nodes_down_together: Option<i64>,
}

impl<'de> Deserialize<'de> for WorkloadRaw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = WorkloadRaw;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a workload id, or a map with `id` and limits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WorkloadRaw, E> {
                Ok(WorkloadRaw::Id(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<WorkloadRaw, A::Error> {
                WorkloadLimitsRaw::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(WorkloadRaw::WithLimits)
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Serialize for WorkloadRaw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WorkloadRaw::Id(id) => s.serialize_str(id),
            WorkloadRaw::WithLimits(l) => l.serialize(s),
        }
    }
}

impl schemars::JsonSchema for WorkloadRaw {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WorkloadCheck".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let limits = generator.subschema_for::<WorkloadLimitsRaw>();
        schemars::json_schema!({
            "description": "The workload's id, or its id with limits on what it measured.",
            "anyOf": [{ "type": "string" }, limits]
        })
    }
}

/// The longest window a limit may name.
pub const MAX_LIMIT_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The largest count or rate a limit may name.
pub const MAX_LIMIT_COUNT: i64 = 1_000_000_000;

#[async_trait::async_trait]
impl Verifier for WorkloadSpec {
    const NAME: &'static str = "workload";
    const CHECKS: &'static str = "stops the workload `<id>` if it still runs, then checks its ledger: every acknowledged write on every node, every acknowledged delete gone, every node's copy identical (Galera, CQL) or each key on its owner (memcached); unacknowledged writes reported apart; measures acknowledged and refused writes, throughput, latency (p50, p99, max) and the longest stretch without an acknowledged write, overall and per node, and fails past any limit given (`max_unavailable`, `max_node_unavailable`, `min_throughput`, `max_p99`, `min_acknowledged`; `max_lost`: acknowledged keys a restarted cache may forget; `max_nodes_down_together`: nodes without an acknowledged write at the same time); what the writers were told in the output (counts, each refusal reason with an example) and every operation as a Jepsen history (EDN, streamed to a file as it is made, so a workload of hours stays in bounded memory)";
    const FROM_VERIFY: bool = false;
    type Raw = WorkloadRaw;

    fn check(raw: WorkloadRaw, cx: &mut Checker, path: &str) -> Option<Self> {
        let (id, id_path, limits) = match raw {
            WorkloadRaw::Id(id) => (id, path.to_string(), WorkloadLimitsRaw::default()),
            WorkloadRaw::WithLimits(l) => (l.id.clone(), format!("{path}.id"), l),
        };
        if id.trim().is_empty() {
            cx.error(
                &id_path,
                "name the workload to check (the id its `workload: { start }` step gave)",
            );
            return None;
        }
        let window = |cx: &mut Checker, key: &str, v: &Option<String>| match v {
            None => Some(None),
            Some(text) => cx
                .bounded_duration(&format!("{path}.{key}"), text, MAX_LIMIT_WINDOW)
                .map(Some),
        };
        let max_unavailable = window(cx, "max_unavailable", &limits.max_unavailable);
        let max_node_unavailable = window(cx, "max_node_unavailable", &limits.max_node_unavailable);
        let max_p99 = window(cx, "max_p99", &limits.max_p99);
        let min_throughput = match limits.min_throughput {
            Some(v) if !(v.is_finite() && v > 0.0 && v <= MAX_LIMIT_COUNT as f64) => {
                cx.error(
                    &format!("{path}.min_throughput"),
                    format!("must be a number of writes per second above 0 and at most {MAX_LIMIT_COUNT}"),
                );
                None
            }
            v => Some(v),
        };
        let min_acknowledged = match limits.min_acknowledged {
            Some(v) if !(1..=MAX_LIMIT_COUNT).contains(&v) => {
                cx.error(
                    &format!("{path}.min_acknowledged"),
                    format!("must be a count from 1 to {MAX_LIMIT_COUNT}"),
                );
                None
            }
            v => Some(v.map(|v| v.unsigned_abs())),
        };
        let max_lost = match limits.max_lost {
            Some(v) if !(0..=MAX_LIMIT_COUNT).contains(&v) => {
                cx.error(
                    &format!("{path}.max_lost"),
                    format!("must be a count from 0 to {MAX_LIMIT_COUNT}"),
                );
                None
            }
            v => Some(v.map(|v| v.unsigned_abs())),
        };
        let max_down = match limits.max_nodes_down_together {
            Some(v) if !(0..=1000).contains(&v) => {
                cx.error(
                    &format!("{path}.max_nodes_down_together"),
                    "must be a count of nodes from 0 to 1000",
                );
                None
            }
            v => Some(v.and_then(|v| u32::try_from(v).ok())),
        };
        Some(Self {
            id,
            limits: Limits {
                max_lost: max_lost?,
                max_nodes_down_together: max_down?,
                max_unavailable: max_unavailable?,
                max_node_unavailable: max_node_unavailable?,
                min_throughput: min_throughput?,
                max_p99: max_p99?,
                min_acknowledged: min_acknowledged?,
            },
        })
    }

    fn from_flags(_: &VerifyFlags) -> Result<WorkloadRaw, String> {
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
        if let Some(w) = cx.workloads.lock().get_mut(&self.id) {
            w.judged = true;
        }
        if self.limits.max_lost.is_some() && !matches!(store, Store::Memcache { .. }) {
            return Verdict::fail(
                format!(
                    "workload `{}`: max_lost tolerates the keys a cache forgets (memcache.writes); this workload's store keeps what it acknowledged",
                    self.id
                ),
                vec![stopped],
            );
        }
        let transactions = matches!(
            store,
            Store::GaleraTransactions { .. } | Store::GaleraComponents { .. }
        );
        if !transactions && history.acknowledged() == 0 {
            let mut evidence = vec![stopped];
            evidence.extend(history.summary_lines());
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
                session,
                table,
                level,
            } => {
                crate::verify::cassandra::writes::read_back(
                    session, table, *level, &history, SETTLE,
                )
                .await
            }
            Store::Memcache { servers } => {
                crate::verify::memcache::writes::read_back(
                    servers,
                    &history,
                    self.limits.max_lost.unwrap_or(0),
                )
                .await
            }
            Store::GaleraComponents { nodes, recorded } => {
                recorded.judge(&self.id, nodes, self.limits.max_nodes_down_together)
            }
            // Judged by the anomaly checker (which says when there is nothing to check).
            Store::GaleraTransactions {
                nodes,
                login,
                table,
                config,
                recorded,
            } => {
                crate::verify::galera::isolation::judge(
                    &self.id, nodes, login, table, config, recorded, SETTLE,
                )
                .await
            }
        };
        verdict.evidence.insert(0, stopped);
        self.with_figures(cx, verdict, &store, &history)
    }
}

impl WorkloadSpec {
    /// The verdict with the workload's figures (and the limits judged on them), its history
    /// attached, and what its writers were told.
    fn with_figures(
        &self,
        cx: &VerifyContext<'_>,
        mut verdict: Verdict,
        store: &Store,
        history: &crate::verify::ledger::History,
    ) -> Verdict {
        if let Some((figures, origin)) = cx.workloads.figures(&self.id) {
            let steps: Vec<(String, tokio::time::Instant)> = cx
                .steps_started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(id, t)| (id.clone(), *t))
                .collect();
            let faults = cx.faults.seen_from(origin, figures.ran_for);
            let describe = |w: &crate::verify::figures::Window| {
                format!(
                    "{}{}",
                    crate::verify::figures::relative_to_steps(w, origin, &steps),
                    crate::verify::figures::during(w, &faults)
                )
            };
            verdict.evidence.splice(1..1, figures.lines(&describe));
            crate::journal::figures(figures.named());
            if let Some(mut span) = span_of(&self.id, &figures, origin, &steps) {
                span.faults = super::fault_spans(&faults);
                crate::journal::workload_span(span);
            }
            // A sampler's own rounds judge nodes down together; its seconds do not again.
            let limits = match store {
                Store::GaleraComponents { .. } => Limits {
                    max_nodes_down_together: None,
                    ..self.limits.clone()
                },
                _ => self.limits.clone(),
            };
            let exceeded = limits.exceeded(&figures, &describe);
            if !exceeded.is_empty() {
                let limits = format!("workload `{}`: {}", self.id, exceeded.join("; "));
                verdict.summary = if verdict.passed {
                    limits
                } else {
                    format!("{}; {limits}", verdict.summary)
                };
                verdict.passed = false;
            }
        }
        crate::journal::attach(cx.workloads.history_evidence(&self.id));
        verdict.evidence.push(format!(
            "what the writers of workload `{}` were told (every operation is in its EDN history):",
            self.id
        ));
        verdict.evidence.extend(store.told(history));
        verdict
    }
}
