//! What a running step has asked its servers and heard back. A deadline or Ctrl-C that cuts a
//! step short drops its future, and with it everything the step had gathered; the journal
//! outlives it, so the timeout message names the endpoints still pending (and what each was
//! asked) and the report keeps what was done until then.
//!
//! The runner gives each step a journal; the `verify` step makes it current for the verifier's
//! task, and the protocol clients record each round trip through [`track`] without knowing
//! who listens (nothing is recorded outside a step).

use crate::cluster::Endpoint;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Finished operations kept for the report (a write loop makes thousands; the most recent
/// ones say most, and per-endpoint totals keep the rest).
const KEPT_LINES: usize = 200;

tokio::task_local! {
    static CURRENT: Arc<Journal>;
}

#[derive(Debug)]
pub struct Journal {
    started: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The endpoints the step was going to talk to: (name, address).
    expected: Vec<(String, String)>,
    /// Each of them once, and the name each key (a name or an address) stands for: look-ups
    /// that stay cheap with thousands of endpoints.
    expected_set: std::collections::HashSet<(String, String)>,
    name_by_key: std::collections::HashMap<String, String>,
    open: BTreeMap<u64, Open>,
    next_id: u64,
    lines: VecDeque<String>,
    dropped_lines: u64,
    /// Per endpoint key: (answered, failed, connected). A connection accepted is no answer:
    /// a server that accepts and never sends a byte has answered nothing.
    totals: BTreeMap<String, (u64, u64, u64)>,
    /// What the step last saw of what it waits for (a wait's `2/3 ready`).
    note: Option<String>,
    /// What the step measured, for the reports.
    measured: crate::measured::Measured,
    /// Files the step produced for the report.
    attachments: Vec<crate::cluster::Evidence>,
}

#[derive(Debug)]
struct Open {
    key: String,
    what: String,
    since: Instant,
}

impl Default for Journal {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            inner: Mutex::default(),
        }
    }
}

impl Journal {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// What the step measured (see [`figures`] and [`workload_span`]), taken out.
    pub fn take_measured(&self) -> crate::measured::Measured {
        std::mem::take(&mut self.lock().measured)
    }

    /// The files the step gave the report (see [`attach`]), taken out.
    pub fn take_attachments(&self) -> Vec<crate::cluster::Evidence> {
        std::mem::take(&mut self.lock().attachments)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the endpoints the step is about to talk to, so one never contacted is named.
    pub fn expect(&self, endpoints: &[Endpoint]) {
        let mut inner = self.lock();
        for e in endpoints {
            let entry = (e.name.clone(), e.address());
            if inner.expected_set.insert(entry.clone()) {
                for key in [&entry.0, &entry.1] {
                    inner
                        .name_by_key
                        .entry(key.clone())
                        .or_insert_with(|| entry.0.clone());
                }
                inner.expected.push(entry);
            }
        }
    }

    /// Runs `f` with this journal current, so [`track`] calls inside it record here.
    pub async fn scope<F: Future>(self: &Arc<Self>, f: F) -> F::Output {
        CURRENT.scope(self.clone(), f).await
    }

    fn begin(&self, key: &str, what: String) -> u64 {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.open.insert(
            id,
            Open {
                key: key.to_string(),
                what,
                since: Instant::now(),
            },
        );
        id
    }

    fn end(&self, id: u64, error: Option<String>) {
        let mut inner = self.lock();
        let Some(open) = inner.open.remove(&id) else {
            return;
        };
        let at = open.since.duration_since(self.started);
        let took = open.since.elapsed();
        let totals = inner.totals.entry(open.key.clone()).or_default();
        let result = match error {
            None if open.what.starts_with("connect") => {
                totals.2 += 1;
                "connected".to_string()
            }
            None => {
                totals.0 += 1;
                "ok".to_string()
            }
            Some(e) => {
                totals.1 += 1;
                format!("failed: {e}")
            }
        };
        let who = if open.key.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.name_of(&inner, &open.key))
        };
        let line = format!(
            "+{} {who}{}: {result} ({})",
            seconds(at),
            open.what,
            seconds(took)
        );
        if inner.lines.len() == KEPT_LINES {
            inner.lines.pop_front();
            inner.dropped_lines += 1;
        }
        inner.lines.push_back(line);
    }

    /// The display name of an endpoint key (its name, or the name of the endpoint at that
    /// address).
    fn name_of(&self, inner: &Inner, key: &str) -> String {
        inner
            .name_by_key
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }

    /// Says what the step last saw of what it waits for.
    pub fn set_note(&self, text: String) {
        self.lock().note = Some(text);
    }

    /// One line saying what the step is doing now: what it last saw, else what is pending.
    pub fn now(&self) -> Option<String> {
        let inner = self.lock();
        if let Some(note) = &inner.note {
            return Some(note.clone());
        }
        let pending: Vec<String> = inner
            .open
            .values()
            .take(3)
            .map(|o| {
                let who = if o.key.is_empty() {
                    String::new()
                } else {
                    format!("{} ", self.name_of(&inner, &o.key))
                };
                format!("{who}{} for {}", o.what, seconds(o.since.elapsed()))
            })
            .collect();
        (!pending.is_empty()).then(|| format!("waiting on {}", pending.join(", ")))
    }

    /// One sentence for a step cut short: what it last saw of what it waited for; what was
    /// still pending, on which endpoint, for how long; which endpoints were never contacted;
    /// which had answered. `None` when the step recorded nothing.
    pub fn summary(&self) -> Option<String> {
        let inner = self.lock();
        if inner.expected.is_empty()
            && inner.open.is_empty()
            && inner.totals.is_empty()
            && inner.note.is_none()
        {
            return None;
        }
        let mut parts = vec![];
        if let Some(note) = &inner.note {
            parts.push(format!("last seen: {note}"));
        }
        let pending: Vec<String> = inner
            .open
            .values()
            .map(|o| {
                let who = if o.key.is_empty() {
                    String::new()
                } else {
                    format!("{} ", self.name_of(&inner, &o.key))
                };
                format!("{who}({} for {})", o.what, seconds(o.since.elapsed()))
            })
            .collect();
        if !pending.is_empty() {
            parts.push(format!("still waiting on {}", pending.join(", ")));
        }
        let open_keys: std::collections::HashSet<&str> =
            inner.open.values().map(|o| o.key.as_str()).collect();
        let heard = |name: &str, address: &str| {
            inner.totals.contains_key(name)
                || inner.totals.contains_key(address)
                || open_keys.contains(name)
                || open_keys.contains(address)
        };
        let untouched: Vec<&str> = inner
            .expected
            .iter()
            .filter(|(n, a)| !heard(n, a))
            .map(|(n, _)| n.as_str())
            .collect();
        if !untouched.is_empty() {
            parts.push(format!("never contacted {}", untouched.join(", ")));
        }
        // Totals by endpoint name: one endpoint may be recorded by name and by address.
        let mut by_name: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        for (key, (ok, failed, connected)) in inner.totals.iter().filter(|(k, _)| !k.is_empty()) {
            let sum = by_name.entry(self.name_of(&inner, key)).or_default();
            sum.0 += ok;
            sum.1 += failed;
            sum.2 += connected;
        }
        let answered: Vec<String> = by_name
            .iter()
            .filter(|(_, (ok, _, _))| *ok > 0)
            .map(|(name, (ok, failed, _))| {
                let failed = if *failed > 0 {
                    format!(", {failed} failed")
                } else {
                    String::new()
                };
                format!("{name} ({ok} answered{failed})")
            })
            .collect();
        if !answered.is_empty() {
            parts.push(format!("answered so far: {}", answered.join(", ")));
        }
        let silent: Vec<&str> = by_name
            .iter()
            .filter(|(_, (ok, failed, connected))| *ok == 0 && *failed == 0 && *connected > 0)
            .map(|(name, _)| name.as_str())
            .collect();
        if !silent.is_empty() {
            parts.push(format!(
                "connected to {} but never answered",
                silent.join(", ")
            ));
        }
        let failing: Vec<String> = by_name
            .iter()
            .filter(|(_, (ok, failed, _))| *ok == 0 && *failed > 0)
            .map(|(name, (_, failed, _))| format!("{name} ({failed} failed)"))
            .collect();
        if !failing.is_empty() {
            parts.push(format!("only failures from {}", failing.join(", ")));
        }
        if parts.is_empty() {
            parts.push("nothing was asked yet".into());
        }
        Some(parts.join("; "))
    }

    /// What was done until now, oldest first, then what is still pending, then what the step
    /// last saw of what it waits for: a step cut short keeps where it stood.
    pub fn lines(&self) -> Vec<String> {
        let inner = self.lock();
        let mut out = vec![];
        if inner.dropped_lines > 0 {
            out.push(format!(
                "({} earlier operations not shown)",
                inner.dropped_lines
            ));
        }
        out.extend(inner.lines.iter().cloned());
        for o in inner.open.values() {
            let who = if o.key.is_empty() {
                String::new()
            } else {
                format!("{}: ", self.name_of(&inner, &o.key))
            };
            out.push(format!(
                "+{} {who}{}: no answer yet ({})",
                seconds(o.since.duration_since(self.started)),
                o.what,
                seconds(o.since.elapsed())
            ));
        }
        if let Some(note) = &inner.note {
            out.push(format!("last seen: {note}"));
        }
        out
    }
}

/// Records figures the current step measured (`overall.p99_ms`), for the reports.
pub fn figures(named: impl IntoIterator<Item = (String, String)>) {
    if let Ok(journal) = CURRENT.try_with(Arc::clone) {
        journal.lock().measured.figures.extend(
            named
                .into_iter()
                .map(|(name, value)| crate::measured::Figure { name, value }),
        );
    }
}

/// Records a workload the current step judged, for the report's timeline.
pub fn workload_span(span: crate::measured::WorkloadSpan) {
    if let Ok(journal) = CURRENT.try_with(Arc::clone) {
        journal.lock().measured.workloads.push(span);
    }
}

/// Marks the current step's timeline now with what it confirmed (a fault took effect, healed).
pub fn mark(what: impl Into<String>) {
    if let Ok(journal) = CURRENT.try_with(Arc::clone) {
        let at_secs = journal.started.elapsed().as_secs_f64();
        journal.lock().measured.marks.push(crate::measured::Mark {
            at_secs,
            what: what.into(),
        });
    }
}

/// Gives the report a file the current step produced (a workload's history, spooled).
pub fn attach(evidence: crate::cluster::Evidence) {
    if let Ok(journal) = CURRENT.try_with(Arc::clone) {
        journal.lock().attachments.push(evidence);
    }
}

/// Says, in the current step's journal (if any), what the step last saw of what it waits for.
pub fn note(text: impl FnOnce() -> String) {
    if let Ok(journal) = CURRENT.try_with(Arc::clone) {
        journal.set_note(text());
    }
}

/// Records one operation on the endpoint `key` (its name or address; empty for none) in the
/// current step's journal, if there is one. An operation whose future is dropped stays
/// pending, which is what a deadline that cut it short should report.
pub async fn track<T, E: Display>(
    key: &str,
    what: impl FnOnce() -> String,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let Ok(journal) = CURRENT.try_with(Arc::clone) else {
        return f.await;
    };
    // Connecting is named by its failure ("cannot connect") where the error text is built;
    // the journal names the attempt.
    let what = what();
    let what = what
        .strip_prefix("cannot ")
        .map_or(what.clone(), str::to_string);
    let id = journal.begin(key, what);
    let result = f.await;
    journal.end(id, result.as_ref().err().map(|e| e.to_string()));
    result
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(name: &str, port: u16) -> Endpoint {
        Endpoint {
            name: name.into(),
            host: "127.0.0.1".into(),
            port,
            advertised: None,
            node: None,
            via: None,
        }
    }

    // Layer 1 (pure): a journal cut short names the pending operation, the endpoint never
    // contacted and the one that only failed, by their names even when recorded by address.
    #[tokio::test]
    async fn names_pending_untouched_and_answered_endpoints() {
        let journal = Journal::new();
        journal.expect(&[endpoint("a", 1), endpoint("b", 2), endpoint("c", 3)]);
        let work = journal.scope(async {
            track("127.0.0.1:1", || "connect".into(), async {
                Ok::<_, String>(())
            })
            .await
            .unwrap();
            let _ = track("a", || "SELECT 1".into(), async {
                Err::<(), _>("refused".to_string())
            })
            .await;
            track(
                "b",
                || "SELECT 2".into(),
                std::future::pending::<Result<(), String>>(),
            )
            .await
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(50), work)
                .await
                .is_err()
        );
        let summary = journal.summary().unwrap();
        assert!(
            summary.contains("still waiting on b (SELECT 2 for"),
            "{summary}"
        );
        assert!(summary.contains("never contacted c"), "{summary}");
        // Its connection was accepted, its one query refused: it answered nothing.
        assert!(
            summary.contains("only failures from a (1 failed)"),
            "{summary}"
        );
        let lines = journal.lines().join("\n");
        assert!(lines.contains("a: connect: connected"), "{lines}");
        assert!(lines.contains("a: SELECT 1: failed: refused"), "{lines}");
        assert!(lines.contains("b: SELECT 2: no answer yet"), "{lines}");
    }

    // Layer 1 (pure): outside a step nothing is recorded, and a long loop keeps only the most
    // recent lines.
    #[tokio::test]
    async fn records_only_inside_a_scope_and_bounds_its_lines() {
        let r = track("x", || "op".into(), async { Ok::<_, String>(7) }).await;
        assert_eq!(r, Ok(7));
        let journal = Journal::new();
        journal
            .scope(async {
                for i in 0..(KEPT_LINES + 50) {
                    let _ = track("x", || format!("op {i}"), async { Ok::<_, String>(()) }).await;
                }
            })
            .await;
        let lines = journal.lines();
        assert_eq!(lines.len(), KEPT_LINES + 1);
        assert!(lines[0].contains("50 earlier operations"), "{}", lines[0]);
        assert!(lines.last().unwrap().contains("op 249"));
        assert!(journal.summary().unwrap().contains("x (250 answered)"));
    }

    // Layer 1 (pure): a server that accepted the connection and never sent a byte has not
    // answered; the summary says it was connected to and never answered.
    #[tokio::test]
    async fn a_connection_accepted_is_not_an_answer() {
        let journal = Journal::new();
        journal
            .scope(async {
                let _ = track("x", || "cannot connect".into(), async {
                    Ok::<_, String>(())
                })
                .await;
                let _ = track("y", || "cannot connect".into(), async {
                    Ok::<_, String>(())
                })
                .await;
                let _ = track("y", || "get k".into(), async { Ok::<_, String>(()) }).await;
            })
            .await;
        let summary = journal.summary().unwrap();
        assert!(
            summary.contains("connected to x but never answered"),
            "{summary}"
        );
        assert!(
            summary.contains("answered so far: y (1 answered)"),
            "{summary}"
        );
        assert!(!summary.contains("x (1 answered)"), "{summary}");
    }
}
