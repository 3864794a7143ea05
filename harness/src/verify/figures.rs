//! What a workload's operations say about what users are promised: acknowledged and refused
//! writes, throughput, latency (p50, p99, max) and the longest stretch in which no write was
//! acknowledged, overall and per node; and the limits a scenario can set on them
//! ([`Limits`]), judged with the measured figure in the message.
//!
//! Tallied as operations end ([`Tallies`]: counts, latencies by microsecond, the longest gap
//! so far), so an hour of writing takes no more memory than a minute.

use super::history_edn::OpKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A stretch of the workload's time, from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    #[serde(serialize_with = "crate::check::duration_text")]
    pub from: Duration,
    #[serde(serialize_with = "crate::check::duration_text")]
    pub to: Duration,
}

impl Window {
    pub fn length(&self) -> Duration {
        self.to.saturating_sub(self.from)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (from {} to {} after the workload started)",
            secs(self.length()),
            secs(self.from),
            secs(self.to)
        )
    }
}

/// Where `window` (from the workload's start at `origin`) lies among the steps that started
/// (`steps`: id and start): `4.1s (from 2.9s to 7.0s after the workload started; from 0.4s
/// after step `lose-a-node` started to 1.2s after step `status` started)`.
pub fn relative_to_steps(
    window: &Window,
    origin: tokio::time::Instant,
    steps: &[(String, tokio::time::Instant)],
) -> String {
    let at = |offset: Duration| {
        let t = origin + offset;
        step_before(steps, t)
            .map(|(id, started)| format!("{} after step `{id}` started", secs(t - *started)))
    };
    match (at(window.from), at(window.to)) {
        (Some(from), Some(to)) => format!("{window}; from {from} to {to}"),
        _ => window.to_string(),
    }
}

/// The faults `window` overlaps (step, start and end from the workload's start), in words:
/// `, during fault `isolate-ss-2``, or nothing.
pub fn during(window: &Window, faults: &[(String, Duration, Duration)]) -> String {
    let names: Vec<String> = faults
        .iter()
        .filter(|(_, from, to)| {
            window.from <= *to && *from <= window.to && window.length() > Duration::ZERO
        })
        .map(|(step, _, _)| format!("`{step}`"))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(
            ", during fault{} {}",
            if names.len() > 1 { "s" } else { "" },
            names.join(", ")
        )
    }
}

/// The step that started last at or before `t` (id and start).
pub fn step_before(
    steps: &[(String, tokio::time::Instant)],
    t: tokio::time::Instant,
) -> Option<&(String, tokio::time::Instant)> {
    steps
        .iter()
        .filter(|(_, started)| *started <= t)
        .max_by_key(|(_, started)| *started)
}

/// A duration as seconds with one decimal (`4.2s`), or milliseconds below one second.
pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The figures of one node (or of all of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Acknowledged writes (inserts and deletes).
    pub acknowledged: u64,
    /// Writes the system refused or did not answer.
    pub refused: u64,
    /// Acknowledged writes per second over the workload's whole run.
    pub throughput: f64,
    /// Latency of acknowledged writes (send to answer).
    #[serde(serialize_with = "crate::check::opt_duration_text")]
    pub p50: Option<Duration>,
    #[serde(serialize_with = "crate::check::opt_duration_text")]
    pub p99: Option<Duration>,
    #[serde(serialize_with = "crate::check::opt_duration_text")]
    pub max: Option<Duration>,
    /// The longest stretch of the run in which no write was acknowledged (the run's start and
    /// end count as edges: a node that never answered after a fault is unavailable to the end).
    pub longest_unavailable: Window,
}

/// A workload's figures: overall and per node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadFigures {
    /// How long the workload ran.
    #[serde(serialize_with = "crate::check::duration_text")]
    pub ran_for: Duration,
    pub overall: Figures,
    pub nodes: BTreeMap<String, Figures>,
    /// Second by second, overall then per node: what clients saw over time.
    #[serde(skip)]
    pub series: Vec<(String, Vec<Second>)>,
}

/// One second of a workload: writes acknowledged and refused that ended in it, and the
/// slowest acknowledged one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    pub acknowledged: u32,
    pub refused: u32,
    pub max_latency_us: u32,
}

/// The most seconds a series keeps (a day); later operations count in the last one.
pub const MAX_SERIES_SECONDS: usize = 24 * 3600;

impl WorkloadFigures {
    /// From the operations of a workload that ran for `ran_for`; `nodes` are the nodes it wrote
    /// to (a node that saw no operation at all still gets its figures: unavailable throughout).
    pub fn from_ops(ops: &[Op], ran_for: Duration, nodes: &[String]) -> Self {
        let mut ordered: Vec<&Op> = ops.iter().collect();
        ordered.sort_by_key(|o| o.end);
        let mut tallies = Tallies::default();
        for op in ordered {
            tallies.add(&op.node, op.start, op.end, op.error.is_none());
        }
        tallies.figures(ran_for, nodes)
    }

    /// One line per figure set, for the evidence (`describe` says where a window was).
    pub fn lines(&self, describe: &dyn Fn(&Window) -> String) -> Vec<String> {
        let line = |who: &str, f: &Figures| {
            format!(
                "{who}: {} acknowledged, {} refused, {:.1} writes/s, latency p50 {} p99 {} max {}, longest without an acknowledged write {}",
                f.acknowledged,
                f.refused,
                f.throughput,
                opt(f.p50),
                opt(f.p99),
                opt(f.max),
                describe(&f.longest_unavailable)
            )
        };
        let mut out = vec![format!(
            "workload figures over {} of writing:",
            secs(self.ran_for)
        )];
        out.push(line("overall", &self.overall));
        out.extend(self.nodes.iter().map(|(n, f)| line(n, f)));
        out
    }

    /// Name-value pairs for the reports (`overall.p99_ms`, `<node>.acknowledged`).
    pub fn named(&self) -> Vec<(String, String)> {
        let mut out = vec![(
            "ran_for_s".to_string(),
            format!("{:.3}", self.ran_for.as_secs_f64()),
        )];
        let mut add = |who: &str, f: &Figures| {
            let ms = |d: Option<Duration>| {
                d.map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64() * 1000.0))
            };
            out.push((format!("{who}.acknowledged"), f.acknowledged.to_string()));
            out.push((format!("{who}.refused"), f.refused.to_string()));
            out.push((
                format!("{who}.throughput_per_s"),
                format!("{:.1}", f.throughput),
            ));
            out.push((format!("{who}.p50_ms"), ms(f.p50)));
            out.push((format!("{who}.p99_ms"), ms(f.p99)));
            out.push((format!("{who}.max_ms"), ms(f.max)));
            let w = f.longest_unavailable;
            out.push((
                format!("{who}.longest_unavailable_s"),
                format!("{:.3}", w.length().as_secs_f64()),
            ));
            out.push((
                format!("{who}.longest_unavailable_from_s"),
                format!("{:.3}", w.from.as_secs_f64()),
            ));
            out.push((
                format!("{who}.longest_unavailable_to_s"),
                format!("{:.3}", w.to.as_secs_f64()),
            ));
        };
        add("overall", &self.overall);
        for (node, f) in &self.nodes {
            add(node, f);
        }
        out
    }
}

fn opt(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".into(), secs)
}

/// Running tallies of a workload's operations, overall and per node, fed as each ends (in the
/// order they end).
#[derive(Debug, Clone, Default)]
pub struct Tallies {
    overall: Tally,
    nodes: BTreeMap<String, Tally>,
}

impl Tallies {
    /// An operation through `node`, sent at `start`, answered at `end` (both from the
    /// workload's start); `acknowledged` or refused.
    pub fn add(&mut self, node: &str, start: Duration, end: Duration, acknowledged: bool) {
        self.overall.add(start, end, acknowledged);
        match self.nodes.get_mut(node) {
            Some(t) => t.add(start, end, acknowledged),
            None => {
                let mut t = Tally::default();
                t.add(start, end, acknowledged);
                self.nodes.insert(node.to_string(), t);
            }
        }
    }

    /// The figures of a workload that ran `ran_for` (at least until its last answer); `nodes`
    /// get figures even if they saw no operation (unavailable throughout).
    pub fn figures(&self, ran_for: Duration, nodes: &[String]) -> WorkloadFigures {
        let ran_for = ran_for.max(self.overall.last_end);
        let empty = Tally::default();
        let mut per_node: BTreeMap<String, Figures> = self
            .nodes
            .iter()
            .map(|(n, t)| (n.clone(), t.figures(ran_for)))
            .collect();
        for n in nodes {
            per_node
                .entry(n.clone())
                .or_insert_with(|| empty.figures(ran_for));
        }
        let mut series = vec![("overall".to_string(), self.overall.seconds.clone())];
        series.extend(
            self.nodes
                .iter()
                .map(|(n, t)| (n.clone(), t.seconds.clone())),
        );
        for n in nodes {
            if !self.nodes.contains_key(n) {
                series.push((n.clone(), vec![]));
            }
        }
        WorkloadFigures {
            ran_for,
            overall: self.overall.figures(ran_for),
            nodes: per_node,
            series,
        }
    }
}

/// The tally of one node (or of all).
#[derive(Debug, Clone, Default)]
struct Tally {
    acknowledged: u64,
    refused: u64,
    /// Acknowledged latencies by their microseconds (from 10 ms by tens, from 1 s by
    /// thousands): exact percentiles in a few thousand entries, whatever the count.
    latencies: BTreeMap<u64, u64>,
    max: Option<Duration>,
    /// The last acknowledgement so far (the run's start before the first).
    previous_ack: Duration,
    longest_gap: Window,
    last_end: Duration,
    /// Second by second (by when each operation ended).
    seconds: Vec<Second>,
}

/// A latency's key in [`Tally::latencies`].
fn latency_key(latency: Duration) -> u64 {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    match us {
        0..10_000 => us,
        10_000..1_000_000 => us - us % 10,
        _ => us - us % 1000,
    }
}

impl Tally {
    fn add(&mut self, start: Duration, end: Duration, acknowledged: bool) {
        self.last_end = self.last_end.max(end);
        let at = usize::try_from(end.as_secs())
            .unwrap_or(usize::MAX)
            .min(MAX_SERIES_SECONDS - 1);
        if self.seconds.len() <= at {
            self.seconds.resize(at + 1, Second::default());
        }
        let second = &mut self.seconds[at];
        if !acknowledged {
            second.refused = second.refused.saturating_add(1);
            self.refused = self.refused.saturating_add(1);
            return;
        }
        second.acknowledged = second.acknowledged.saturating_add(1);
        let us = u32::try_from(end.saturating_sub(start).as_micros()).unwrap_or(u32::MAX);
        second.max_latency_us = second.max_latency_us.max(us);
        self.acknowledged = self.acknowledged.saturating_add(1);
        let latency = end.saturating_sub(start);
        *self.latencies.entry(latency_key(latency)).or_default() += 1;
        self.max = self.max.max(Some(latency));
        // Answers arrive in the order they end; one a hair early is taken as at the last.
        let at = end.max(self.previous_ack);
        if at - self.previous_ack > self.longest_gap.length() {
            self.longest_gap = Window {
                from: self.previous_ack,
                to: at,
            };
        }
        self.previous_ack = at;
    }

    fn figures(&self, ran_for: Duration) -> Figures {
        let secs = ran_for.as_secs_f64();
        let to_end = Window {
            from: self.previous_ack,
            to: ran_for.max(self.previous_ack),
        };
        Figures {
            acknowledged: self.acknowledged,
            refused: self.refused,
            throughput: if secs > 0.0 {
                self.acknowledged as f64 / secs
            } else {
                0.0
            },
            p50: self.percentile(50),
            p99: self.percentile(99),
            max: self.max,
            longest_unavailable: if to_end.length() > self.longest_gap.length() {
                to_end
            } else {
                self.longest_gap
            },
        }
    }

    /// Nearest-rank percentile (rank = ceil(p/100 * n), 1-based).
    fn percentile(&self, p: u64) -> Option<Duration> {
        if self.acknowledged == 0 {
            return None;
        }
        let rank = (p * self.acknowledged).div_ceil(100).max(1);
        let mut seen = 0u64;
        for (us, n) in &self.latencies {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(*us));
            }
        }
        self.max
    }
}

/// One operation a writer made, as it ended (what [`WorkloadFigures::from_ops`] tallies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub id: String,
    pub node: String,
    /// The writer that made it, as a history checker's process: each writer has its own, and a
    /// writer whose operation was not acknowledged continues as a new one (the outcome of the
    /// old one's last operation is unknown).
    pub process: u64,
    pub kind: OpKind,
    /// When it was sent and when its answer came, from the workload's start.
    pub start: Duration,
    pub end: Duration,
    /// Whether it was acknowledged; the refusal otherwise.
    pub error: Option<String>,
}

/// What a scenario requires of a workload's figures (`verify: { workload: { id, ... } }`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Limits {
    /// No stretch longer than this without any acknowledged write (on any node).
    #[serde(
        serialize_with = "crate::check::opt_duration_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_unavailable: Option<Duration>,
    /// No node longer than this without acknowledging a write.
    #[serde(
        serialize_with = "crate::check::opt_duration_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_node_unavailable: Option<Duration>,
    /// At least this many acknowledged writes per second, over the whole run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_throughput: Option<f64>,
    /// The 99th percentile latency of acknowledged writes at most this.
    #[serde(
        serialize_with = "crate::check::opt_duration_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_p99: Option<Duration>,
    /// Each node acknowledged at least this many writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_acknowledged: Option<u64>,
    /// Acknowledged writes the scenario tolerates losing: a cache restarted on purpose forgets
    /// its keys (memcached only; judged with the read-back, not the figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lost: Option<u64>,
    /// At most this many nodes down at once: a node is down in a second when it acknowledged
    /// no write in it nor in the second before (a rolling upgrade takes one at a time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_nodes_down_together: Option<u32>,
}

/// The most nodes down in one second (no acknowledged write in it nor in the second before),
/// when it first happened (the second's start), and which nodes they were.
pub fn most_down_together(f: &WorkloadFigures) -> (usize, usize, Vec<String>) {
    let nodes: Vec<&(String, Vec<Second>)> =
        f.series.iter().filter(|(n, _)| n != "overall").collect();
    let seconds = (f.ran_for.as_secs() as usize).min(MAX_SERIES_SECONDS);
    let acked = |s: &[Second], i: usize| s.get(i).is_some_and(|x| x.acknowledged > 0);
    let (mut most, mut at, mut who) = (0, 0, vec![]);
    for i in 1..seconds {
        let down: Vec<String> = nodes
            .iter()
            .filter(|(_, s)| !acked(s, i) && !acked(s, i - 1))
            .map(|(n, _)| n.clone())
            .collect();
        if down.len() > most {
            (most, at, who) = (down.len(), i, down);
        }
    }
    (most, at, who)
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Every limit exceeded, each named with the measured figure and the limit (`describe`
    /// says where a window was).
    pub fn exceeded(
        &self,
        f: &WorkloadFigures,
        describe: &dyn Fn(&Window) -> String,
    ) -> Vec<String> {
        let mut out = vec![];
        if let Some(max) = self.max_unavailable {
            let w = f.overall.longest_unavailable;
            if w.length() > max {
                out.push(format!(
                    "no write was acknowledged for {}, above max_unavailable {}",
                    describe(&w),
                    secs(max)
                ));
            }
        }
        if let Some(max) = self.max_node_unavailable {
            for (node, nf) in &f.nodes {
                let w = nf.longest_unavailable;
                if w.length() > max {
                    out.push(format!(
                        "{node} acknowledged no write for {}, above max_node_unavailable {}",
                        describe(&w),
                        secs(max)
                    ));
                }
            }
        }
        if let Some(min) = self.min_throughput
            && f.overall.throughput < min
        {
            out.push(format!(
                "throughput {:.1} acknowledged writes/s, below min_throughput {min}",
                f.overall.throughput
            ));
        }
        if let Some(max) = self.max_p99 {
            match f.overall.p99 {
                Some(p99) if p99 > max => out.push(format!(
                    "p99 latency {}, above max_p99 {}",
                    secs(p99),
                    secs(max)
                )),
                Some(_) => {}
                None => out.push(format!(
                    "no acknowledged write to measure a p99 latency against max_p99 {}",
                    secs(max)
                )),
            }
        }
        if let Some(max) = self.max_nodes_down_together {
            let (most, at, who) = most_down_together(f);
            if most > max as usize {
                out.push(format!(
                    "{most} nodes acknowledged no write together ({}) from {}s after the workload started, above max_nodes_down_together {max}",
                    who.join(", "),
                    at.saturating_sub(1)
                ));
            }
        }
        if let Some(min) = self.min_acknowledged {
            for (node, nf) in &f.nodes {
                if nf.acknowledged < min {
                    out.push(format!(
                        "{node} acknowledged {} write(s), below min_acknowledged {min}",
                        nf.acknowledged
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! Layer 1 (pure).
    use super::*;

    // Nodes down together: one at a time passes a limit of 1; two at once (two seconds each,
    // overlapping) is named with the nodes; a single slow second is not a node down.
    #[test]
    fn nodes_down_together_are_counted_from_the_seconds() {
        let mut ops = vec![];
        for node in ["a", "b", "c"] {
            for ms in (0..10_000).step_by(100) {
                let down = match node {
                    "a" => (2_000..4_000).contains(&ms),
                    "b" => (5_000..7_500).contains(&ms),
                    // c: one slow second only.
                    _ => (8_000..9_000).contains(&ms),
                };
                ops.push(op(node, ms, ms + 50, !down));
            }
        }
        let nodes: Vec<String> = ["a", "b", "c"].iter().map(|n| n.to_string()).collect();
        let f = WorkloadFigures::from_ops(&ops, Duration::from_secs(10), &nodes);
        assert_eq!(most_down_together(&f).0, 1);
        let limit = Limits {
            max_nodes_down_together: Some(1),
            ..Limits::default()
        };
        assert!(limit.exceeded(&f, &|w| w.to_string()).is_empty());
        // b goes down while a still is.
        for o in &mut ops {
            if o.node == "b" && (2_000..5_000).contains(&o.start.as_millis()) {
                o.error = Some("refused".into());
            }
        }
        let f = WorkloadFigures::from_ops(&ops, Duration::from_secs(10), &nodes);
        let said = limit.exceeded(&f, &|w| w.to_string());
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("2 nodes acknowledged no write together (a, b)"),
            "{said:?}"
        );
    }

    fn op(node: &str, start_ms: u64, end_ms: u64, ok: bool) -> Op {
        Op {
            id: format!("{node}-{start_ms}"),
            node: node.into(),
            process: 0,
            kind: crate::verify::history_edn::OpKind::Insert,
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
            error: (!ok).then(|| "refused".to_string()),
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn plain(w: &Window) -> String {
        w.to_string()
    }

    #[test]
    fn a_node_down_for_a_while_shows_its_window_and_the_others_carry_on() {
        let mut ops = vec![];
        for t in (0..10_000).step_by(100) {
            ops.push(op("a", t, t + 5, true));
            // b is down from 3 s to 7 s: refused in between.
            ops.push(op("b", t, t + 7, !(3000..7000).contains(&t)));
        }
        let f = WorkloadFigures::from_ops(&ops, ms(10_000), &["a".into(), "b".into()]);
        let b = &f.nodes["b"];
        assert_eq!(b.longest_unavailable.from, ms(2907));
        assert_eq!(b.longest_unavailable.to, ms(7007));
        assert_eq!(b.refused, 40);
        assert!(f.overall.longest_unavailable.length() <= ms(100));
        assert_eq!(f.overall.p50, Some(ms(5)));
        assert_eq!(f.overall.p99, Some(ms(7)));
        assert_eq!(f.overall.max, Some(ms(7)));
        assert_eq!(f.overall.acknowledged, 160);
        assert!((f.overall.throughput - 16.0).abs() < 0.01);

        let limits = Limits {
            max_node_unavailable: Some(ms(3000)),
            max_unavailable: Some(ms(1000)),
            ..Default::default()
        };
        let exceeded = limits.exceeded(&f, &plain);
        assert_eq!(exceeded.len(), 1, "{exceeded:?}");
        assert!(
            exceeded[0].starts_with("b acknowledged no write for 4.1s (from 2.9s to 7.0s")
                && exceeded[0].ends_with("above max_node_unavailable 3.0s"),
            "{}",
            exceeded[0]
        );
        let limits = Limits {
            max_node_unavailable: Some(ms(5000)),
            ..Default::default()
        };
        assert!(limits.exceeded(&f, &plain).is_empty());
    }

    #[test]
    fn a_node_that_never_answers_is_unavailable_throughout_and_below_any_minimum() {
        let ops = vec![op("a", 0, 10, true), op("a", 10, 20, true)];
        let f = WorkloadFigures::from_ops(&ops, ms(5000), &["a".into(), "c".into()]);
        assert_eq!(f.nodes["c"].longest_unavailable.length(), ms(5000));
        assert_eq!(f.nodes["c"].p99, None);
        // The end of the run is an edge: nothing after 20 ms.
        assert_eq!(f.overall.longest_unavailable.from, ms(20));
        let limits = Limits {
            min_acknowledged: Some(1),
            max_p99: Some(ms(5)),
            min_throughput: Some(100.0),
            ..Default::default()
        };
        let exceeded = limits.exceeded(&f, &plain);
        assert!(
            exceeded
                .iter()
                .any(|e| e == "c acknowledged 0 write(s), below min_acknowledged 1"),
            "{exceeded:?}"
        );
        assert!(
            exceeded
                .iter()
                .any(|e| e == "p99 latency 10.0ms, above max_p99 5.0ms"),
            "{exceeded:?}"
        );
        assert!(
            exceeded
                .iter()
                .any(|e| e
                    .starts_with("throughput 0.4 acknowledged writes/s, below min_throughput 100")),
            "{exceeded:?}"
        );
    }

    #[test]
    fn a_window_is_placed_among_the_steps_around_it() {
        let origin = tokio::time::Instant::now();
        let steps = vec![
            ("writes".to_string(), origin),
            ("lose-a-node".to_string(), origin + ms(5000)),
            ("status".to_string(), origin + ms(30_000)),
        ];
        let w = Window {
            from: ms(6000),
            to: ms(31_500),
        };
        assert_eq!(
            relative_to_steps(&w, origin, &steps),
            "25.5s (from 6.0s to 31.5s after the workload started); from 1.0s after step `lose-a-node` started to 1.5s after step `status` started"
        );
        // Nothing started before it: the window alone.
        assert_eq!(relative_to_steps(&w, origin, &[]), w.to_string());
    }

    // Layer 1 (pure): a window is said to be during the faults it overlaps, and only those.
    #[test]
    fn a_window_names_the_faults_it_overlaps() {
        let faults = vec![
            ("isolate-ss-2".to_string(), ms(5000), ms(35_000)),
            ("later".to_string(), ms(50_000), ms(60_000)),
        ];
        let w = Window {
            from: ms(6000),
            to: ms(37_200),
        };
        assert_eq!(during(&w, &faults), ", during fault `isolate-ss-2`");
        let both = Window {
            from: ms(0),
            to: ms(55_000),
        };
        assert_eq!(
            during(&both, &faults),
            ", during faults `isolate-ss-2`, `later`"
        );
        let none = Window {
            from: ms(40_000),
            to: ms(45_000),
        };
        assert_eq!(during(&none, &faults), "");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let tally = |latencies: &[Duration]| {
            let mut t = Tally::default();
            for l in latencies {
                t.add(Duration::ZERO, *l, true);
            }
            t
        };
        let v: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(tally(&v).percentile(50), Some(ms(50)));
        assert_eq!(tally(&v).percentile(99), Some(ms(99)));
        assert_eq!(tally(&v[..1]).percentile(99), Some(ms(1)));
        assert_eq!(tally(&[]).percentile(99), None);
        // Beyond 10 ms by tens of microseconds, beyond a second by milliseconds: a few
        // thousand keys for any number of operations.
        let t = tally(&[
            Duration::from_micros(12_345),
            Duration::from_micros(2_345_678),
        ]);
        assert_eq!(t.percentile(50), Some(Duration::from_micros(12_340)));
        assert_eq!(t.percentile(99), Some(Duration::from_micros(2_345_000)));
        assert_eq!(t.max, Some(Duration::from_micros(2_345_678)));
        let mut many = Tally::default();
        for i in 0..1_000_000u64 {
            many.add(Duration::ZERO, Duration::from_micros(10_000 + i * 3), true);
        }
        assert!(many.latencies.len() <= 300_000, "{}", many.latencies.len());
    }
}
