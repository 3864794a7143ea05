//! The list-append checker (Elle's inference on the recorded history).
//!
//! Each key's version order is its longest read (every usable read is a prefix of it, the
//! recorder saw to that). From it: who wrote each version (write-write dependencies between
//! consecutive appenders), which version each read saw (write-read from its writer, and
//! read-write to the writer of the next version), and, for the models that order transactions
//! in real time, real-time edges (each transaction from those that completed before it was
//! invoked, reduced to the frontier as Elle does). Cycles in that graph are the G anomalies;
//! the others are read off the orders and reads directly. Failed transactions are not in the
//! graph (their appends only make G1a and dirty updates); indeterminate ones are, when a read
//! shows their appends.

use super::graph::{Dep, Deps, Edge, Graph, Search};
use super::history::{MopRec, Outcome, Recorder, What, list};
use super::{Findings, Kind};
use rustc_hash::FxHashMap;

/// How many edges of one component the cycle search tries per anomaly class: a broken system
/// can put most of a history in one component, and a few examples of each class are enough.
const TRIES_PER_COMPONENT: usize = 64;

/// Checks a history; `realtime`: also look for cycles that need real-time order.
pub fn check(h: &Recorder, realtime: bool) -> Findings {
    let mut found = h.findings.clone();
    let mut edges: Vec<Edge> = vec![];
    // Each key's order as the transactions that appended each position (NONE: no one did).
    let mut by_position: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    // Where in each key's order the first append of a failed transaction is.
    let mut first_aborted: FxHashMap<u32, usize> = FxHashMap::default();
    for (&key, order) in &h.orders {
        let mut writers = Vec::with_capacity(order.len());
        let mut aborted_at = None;
        for (pos, value) in order.iter().enumerate() {
            let writer = match h.writers.get(value) {
                Some(&(t, k)) if k == key => t,
                _ => {
                    let before = list(&order[..pos]);
                    found.add(Kind::GarbageRead, || {
                        format!(
                            "key {key} was read holding {value} after {before}, but no transaction appended {value} to key {key}"
                        )
                    });
                    NONE
                }
            };
            if writer != NONE {
                let outcome = h.txns[writer as usize].outcome;
                if outcome == Outcome::Fail && aborted_at.is_none() {
                    aborted_at = Some(pos);
                } else if outcome != Outcome::Fail
                    && let Some(at) = aborted_at
                {
                    let (aborted, aborter) = (order[at], h.name(writers[at]));
                    let name = h.name(writer);
                    found.add(Kind::DirtyUpdate, || {
                        format!(
                            "key {key}: {name} appended {value} after {aborted}, which {aborter} appended and then rolled back"
                        )
                    });
                }
            }
            if pos > 0 && writer != NONE {
                let prev = writers[pos - 1];
                if prev != NONE && prev != writer && live(h, prev) && live(h, writer) {
                    edges.push(Edge {
                        from: prev,
                        to: writer,
                        dep: Dep::Ww,
                        key,
                        value: *value,
                    });
                }
            }
            writers.push(writer);
        }
        if let Some(at) = aborted_at {
            first_aborted.insert(key, at);
        }
        by_position.insert(key, writers);
    }

    // Reads: what each committed transaction saw.
    let mut read_then_appended: Vec<(u32, u32, u32)> = vec![];
    for (t, rec) in h.txns.iter().enumerate() {
        if rec.outcome != Outcome::Ok {
            continue;
        }
        let t = t as u32;
        let mops = h.mops_of(t);
        for (i, m) in mops.iter().enumerate() {
            if !matches!(m.what, What::ExternalRead | What::InternalRead) {
                continue;
            }
            let (key, len) = (m.key, m.n as usize);
            let empty = vec![];
            let order = h.orders.get(&key).unwrap_or(&empty);
            let writers = by_position.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&at) = first_aborted.get(&key)
                && len > at
            {
                let (value, aborter, name) = (order[at], h.name(writers[at]), h.name(t));
                found.add(Kind::G1a, || {
                    format!(
                        "{name} read key {key} as {}, which holds {value}, appended by {aborter}, which was rolled back",
                        list(&order[..len])
                    )
                });
            }
            if len > 0 {
                let writer = writers[len - 1];
                if writer != NONE && writer != t {
                    let seen = order[len - 1];
                    if let Some(later) = appended_after(h.mops_of(writer), key, seen) {
                        let (name, by) = (h.name(t), h.name(writer));
                        found.add(Kind::G1b, || {
                            format!(
                                "{name} read key {key} as {}, ending in {seen}, an intermediate state of {by}, which appended {later} to it after {seen}",
                                list(&order[..len])
                            )
                        });
                    }
                    if live(h, writer) && m.what == What::ExternalRead {
                        edges.push(Edge {
                            from: writer,
                            to: t,
                            dep: Dep::Wr,
                            key,
                            value: seen,
                        });
                    }
                }
            }
            if m.what == What::ExternalRead {
                // The next version by another transaction: a read of an intermediate state
                // (G1b, above) saw its writer, not the writer's own later append.
                let seen_writer = len.checked_sub(1).map(|p| writers[p]);
                let next_at = (len..writers.len())
                    .find(|&p| Some(writers[p]) != seen_writer || writers[p] == NONE)
                    .unwrap_or(writers.len());
                let len = next_at;
                if let Some(&next) = writers.get(len)
                    && next != NONE
                    && next != t
                    && live(h, next)
                {
                    edges.push(Edge {
                        from: t,
                        to: next,
                        dep: Dep::Rw,
                        key,
                        value: order[len],
                    });
                }
                if mops[i + 1..]
                    .iter()
                    .any(|a| a.what == What::Append && a.key == key)
                {
                    read_then_appended.push((key, m.n, t));
                }
            }
        }
    }
    lost_updates(h, &mut read_then_appended, &mut found);

    let n = h.txns.len();
    if realtime {
        edges.extend(realtime_edges(h));
    }
    let graph = Graph::new(n, edges);
    // The search's buffers only when there is a cycle to explain.
    let mut search: Option<Search<'_>> = None;
    for component in graph.components(Deps::NO_RT) {
        let search = search.get_or_insert_with(|| Search::new(&graph));
        search.within(&component);
        cycles_in(h, &graph, search, &component, &mut found);
    }
    if realtime {
        for component in graph.components(Deps::ALL) {
            let search = search.get_or_insert_with(|| Search::new(&graph));
            search.within(&component);
            realtime_cycles_in(h, &graph, search, &component, &mut found);
        }
    }
    found
}

const NONE: u32 = u32::MAX;

/// Whether a transaction takes part in the graph (it did not certainly fail).
fn live(h: &Recorder, t: u32) -> bool {
    h.txns[t as usize].outcome != Outcome::Fail
}

/// The value a transaction appended to `key` after `value`, if it did.
fn appended_after(mops: &[MopRec], key: u32, value: u32) -> Option<u32> {
    let mut after = false;
    let mut last = None;
    for m in mops
        .iter()
        .filter(|m| m.what == What::Append && m.key == key)
    {
        if after {
            last = Some(m.n);
        }
        after |= m.n == value;
    }
    last
}

/// Two committed transactions that read the same state of a key and then both appended to
/// it: whichever committed second overwrote the first without seeing it.
fn lost_updates(h: &Recorder, reads: &mut [(u32, u32, u32)], found: &mut Findings) {
    reads.sort_unstable();
    for group in reads.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        if group.len() < 2 {
            continue;
        }
        let (key, len) = (group[0].0, group[0].1 as usize);
        let names: Vec<String> = group.iter().take(4).map(|g| h.name(g.2)).collect();
        let state = h
            .orders
            .get(&key)
            .map(|o| list(&o[..len.min(o.len())]))
            .unwrap_or_else(|| "[]".into());
        let more = if group.len() > 4 {
            format!(" and {} more", group.len() - 4)
        } else {
            String::new()
        };
        found.add(Kind::LostUpdate, || {
            format!(
                "{}{more} all read key {key} as {state} and then appended to it, all committed",
                names.join(", ")
            )
        });
    }
}

/// The cycles of one component without real time: G0, G1c, G-single and G2-item, at most one
/// example of each.
fn cycles_in(
    h: &Recorder,
    graph: &Graph,
    search: &mut Search<'_>,
    component: &[u32],
    found: &mut Findings,
) {
    let inside: Vec<Edge> = component
        .iter()
        .flat_map(|&t| graph.out(t).iter().copied())
        .filter(|e| component.binary_search(&e.to).is_ok())
        .collect();
    let mut first_cycle = |dep: Dep, deps: Deps, found: &mut Findings| {
        let cycle = inside
            .iter()
            .filter(|e| e.dep == dep)
            .take(TRIES_PER_COMPONENT)
            .find_map(|e| search.cycle(e, deps));
        match cycle {
            Some(c) => {
                found.add(classify(&c), || explain(h, &c));
                true
            }
            None => false,
        }
    };
    if !first_cycle(Dep::Ww, Deps::WW, found) {
        first_cycle(Dep::Wr, Deps::WW_WR, found);
    }
    if !first_cycle(Dep::Rw, Deps::WW_WR, found) {
        first_cycle(Dep::Rw, Deps::NO_RT, found);
    }
}

/// Cycles of one component that need real time (one example).
fn realtime_cycles_in(
    h: &Recorder,
    graph: &Graph,
    search: &mut Search<'_>,
    component: &[u32],
    found: &mut Findings,
) {
    for e in component
        .iter()
        .flat_map(|&t| graph.out(t).iter())
        .filter(|e| e.dep == Dep::Rt && component.binary_search(&e.to).is_ok())
        .take(TRIES_PER_COMPONENT)
    {
        if let Some(c) = search.cycle(e, Deps::ALL) {
            found.add(Kind::Realtime, || {
                format!("{} ({})", explain(h, &c), classify(&c).name())
            });
            return;
        }
    }
}

/// A cycle's class by its edges: any anti-dependency makes it G-single (one) or G2-item
/// (more); otherwise any write-read makes it G1c; otherwise G0.
fn classify(cycle: &[Edge]) -> Kind {
    let rw = cycle.iter().filter(|e| e.dep == Dep::Rw).count();
    match rw {
        0 if cycle.iter().any(|e| e.dep == Dep::Wr) => Kind::G1c,
        0 => Kind::G0,
        1 => Kind::GSingle,
        _ => Kind::G2Item,
    }
}

/// A cycle in words: each edge, why it orders its two transactions.
fn explain(h: &Recorder, cycle: &[Edge]) -> String {
    let mut parts = vec![];
    for e in cycle {
        let (a, b) = (h.name(e.from), h.name(e.to));
        let (k, v) = (e.key, e.value);
        parts.push(match e.dep {
            Dep::Ww => format!("{a} appended to key {k} right before {b} appended {v} (ww)"),
            Dep::Wr => format!("{b} read key {k} ending in {v}, which {a} appended (wr)"),
            Dep::Rw => format!("{a} read key {k} without {v}, which {b} appended next (rw)"),
            Dep::Rt => format!("{a} completed before {b} was invoked (realtime)"),
        });
    }
    let first = cycle.first().map(|e| h.name(e.from)).unwrap_or_default();
    format!(
        "a cycle of {} transactions: {}; so {first} must come before itself",
        cycle.len(),
        parts.join("; ")
    )
}

/// Real-time edges, reduced as Elle reduces them: each invoked transaction gets an edge from
/// every transaction of the frontier (completed, and not completed before another one that
/// completed since); a transaction that completes takes out of the frontier those it has
/// edges from, as it implies them: exactly the frontier's members that completed before it
/// was invoked (a member is never put back once out).
fn realtime_edges(h: &Recorder) -> Vec<Edge> {
    // (time, 0 = invocation or 1 = completion, transaction): at equal times the invocation
    // comes first, so only a strictly earlier completion orders two transactions.
    let mut events: Vec<(u64, u8, u32)> = vec![];
    for (t, r) in h.txns.iter().enumerate() {
        if r.outcome == Outcome::Fail {
            continue;
        }
        events.push((r.invoked, 0, t as u32));
        if r.outcome == Outcome::Ok {
            events.push((r.completed, 1, t as u32));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = vec![];
    let mut edges = vec![];
    for (_, what, t) in events {
        if what == 0 {
            for &f in &frontier {
                edges.push(Edge {
                    from: f,
                    to: t,
                    dep: Dep::Rt,
                    key: 0,
                    value: 0,
                });
            }
        } else {
            let invoked = h.txns[t as usize].invoked;
            frontier.retain(|&f| h.txns[f as usize].completed >= invoked);
            frontier.push(t);
        }
    }
    edges
}
