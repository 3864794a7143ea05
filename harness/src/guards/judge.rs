//! The pure judgement of a guard: it is fed what the cluster reports, with the time since the
//! scenario started and the fault windows the runner knows of, and says when the guard is
//! violated. Times are offsets from the scenario's start, so tests need no clock.
//!
//! A fault window excuses what a fault explains: a restart, an unready period that begins, or
//! a Warning event about a pod, inside a fault step (or a check that injects one), or within
//! [`FAULT_SETTLE`] after it, for the pods it names (all pods when it names none).

use super::spec::{Guard, GuardKind};
use crate::cluster::Observation;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// How long after a fault ends its consequences are still excused (a replacement pod's first
/// readiness, a container that restarts once as its peers come back).
pub const FAULT_SETTLE: Duration = Duration::from_secs(30);

/// Log lines kept per container to show around a match.
const CONTEXT_LINES: usize = 3;

/// A time a fault was being injected (or a check injecting one ran).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultWindow {
    pub start: Duration,
    /// `None` while it runs.
    pub end: Option<Duration>,
    /// The pods it disrupts; `None`: any pod (a cordon, a scale to zero). A name ending in
    /// `*` stands for every pod whose name begins with the rest (a rollout's `galera-ss-*`).
    pub pods: Option<Vec<String>>,
    /// The step, for reports.
    pub step: String,
}

/// The fault windows of one scenario, from its start: the one record the guards excuse by and
/// the workloads place what clients saw against. The runner opens a window as a fault step
/// starts and closes it when the step ends, or, for a fault that lasts, when its heal does.
#[derive(Debug)]
pub struct FaultLog {
    /// When the scenario's state was made (time zero of every window).
    pub origin: tokio::time::Instant,
    pub windows: std::sync::Mutex<Vec<FaultWindow>>,
}

impl Default for FaultLog {
    fn default() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
            windows: std::sync::Mutex::new(vec![]),
        }
    }
}

impl FaultLog {
    /// The windows as seen from `from` (a workload's start), clipped to `ran_for`: step,
    /// start and end (an open one to the end).
    pub fn seen_from(
        &self,
        from: tokio::time::Instant,
        ran_for: Duration,
    ) -> Vec<(String, Duration, Duration)> {
        let end = from + ran_for;
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|w| (w, self.origin + w.start, w.end.map(|e| self.origin + e)))
            .filter(|(_, start, stop)| *start <= end && stop.is_none_or(|t| t >= from))
            .map(|(w, start, stop)| {
                (
                    w.step.clone(),
                    start.saturating_duration_since(from),
                    stop.unwrap_or(end).min(end).saturating_duration_since(from),
                )
            })
            .collect()
    }
}

impl FaultWindow {
    fn covers(&self, pod: &str, at: Duration) -> bool {
        let until = self.end.map(|e| e + FAULT_SETTLE);
        at >= self.start
            && until.is_none_or(|u| at <= u)
            && self.pods.as_ref().is_none_or(|pods| {
                pods.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => pod.starts_with(prefix),
                    None => p == pod,
                })
            })
    }
}

fn excused<'a>(faults: &'a [FaultWindow], pod: &str, at: Duration) -> Option<&'a FaultWindow> {
    faults.iter().find(|f| f.covers(pod, at))
}

/// One violation: when, of what, what was seen, and the lines around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub at: Duration,
    pub object: String,
    pub what: String,
    pub context: Vec<String>,
}

#[derive(Debug)]
pub struct Judge {
    pub guard: Guard,
    pub violations: Vec<Violation>,
    /// What was excused, for the report.
    pub excused: Vec<String>,
    observed: BTreeSet<String>,
    seen: u64,
    /// (pod uid, container) -> restart count last seen.
    restarts: BTreeMap<(String, String), i32>,
    /// pod -> (not Ready since, excused by a fault, already reported).
    unready: BTreeMap<String, (Duration, bool, bool)>,
    recent: BTreeMap<(String, String), VecDeque<String>>,
    /// Container instances whose log was followed, and the lines read.
    follows: u64,
    lines: u64,
}

impl Judge {
    pub fn new(guard: Guard) -> Self {
        Self {
            guard,
            violations: vec![],
            excused: vec![],
            observed: BTreeSet::new(),
            seen: 0,
            restarts: BTreeMap::new(),
            unready: BTreeMap::new(),
            recent: BTreeMap::new(),
            follows: 0,
            lines: 0,
        }
    }

    /// Takes one observation; returns how many violations it added.
    pub fn see(&mut self, at: Duration, obs: &Observation, faults: &[FaultWindow]) -> usize {
        self.seen += 1;
        let before = self.violations.len();
        // Disjoint borrows: the guard's kind is read while the state it judges is updated.
        let Judge {
            guard,
            violations,
            excused: excuses,
            observed,
            restarts: counts,
            unready,
            recent,
            follows,
            lines,
            ..
        } = self;
        match (&guard.kind, obs) {
            (
                GuardKind::NoRestarts { .. },
                Observation::Pod {
                    name,
                    uid,
                    initial,
                    restarts,
                    gone,
                    ..
                },
            ) => {
                observed.insert(name.clone());
                if *gone {
                    return 0;
                }
                for (container, count) in restarts {
                    let key = (uid.clone(), container.clone());
                    // Restarts before the guard started do not count; a pod created since
                    // started from zero.
                    let last =
                        *counts
                            .entry(key.clone())
                            .or_insert(if *initial { *count } else { 0 });
                    if *count > last {
                        let what = format!(
                            "container {container} of {name} restarted (restart count {last} -> {count})"
                        );
                        match excused(faults, name, at) {
                            Some(f) => excuses.push(format!("{what}, during `{}`", f.step)),
                            None => violations.push(Violation {
                                at,
                                object: format!("Pod/{name}"),
                                what,
                                context: vec![],
                            }),
                        }
                    }
                    counts.insert(key, *count);
                }
            }
            (
                GuardKind::NoUnready { grace, .. },
                Observation::Pod {
                    name, ready, gone, ..
                },
            ) => {
                let grace = *grace;
                observed.insert(name.clone());
                if *ready || *gone {
                    if let Some((since, excuse, reported)) = unready.remove(name) {
                        let long = at.saturating_sub(since);
                        if !excuse && !reported && long > grace {
                            violations.push(unready_for(name, since, long, grace));
                        }
                    }
                } else if !unready.contains_key(name) {
                    let excuse = excused(faults, name, at);
                    if let Some(f) = excuse {
                        excuses.push(format!(
                            "{name} not Ready from +{}, during `{}`",
                            secs(at),
                            f.step
                        ));
                    }
                    unready.insert(name.clone(), (at, excuse.is_some(), false));
                }
            }
            (
                GuardKind::NoLogMatch { regex, .. },
                Observation::LogLine {
                    pod,
                    container,
                    line,
                },
            ) => {
                observed.insert(format!("{pod}/{container}"));
                *lines += 1;
                let recent = recent.entry((pod.clone(), container.clone())).or_default();
                if regex.is_match(line) {
                    let mut context: Vec<String> = recent.iter().cloned().collect();
                    context.push(format!("> {line}"));
                    violations.push(Violation {
                        at,
                        object: format!("{pod}/{container}"),
                        what: format!("logged `{}`", line.trim_end()),
                        context,
                    });
                }
                if recent.len() == CONTEXT_LINES {
                    recent.pop_front();
                }
                recent.push_back(line.clone());
            }
            (
                GuardKind::NoLogMatch { .. },
                Observation::LogFollowed {
                    pod,
                    container,
                    restarts,
                    error,
                },
            ) => {
                observed.insert(format!("{pod}/{container}"));
                if let Some(e) = error {
                    let what = format!(
                        "could not follow the log of container {container} (restart {restarts}), which still runs: {e}"
                    );
                    match excused(faults, pod, at) {
                        Some(f) => excuses.push(format!("{pod}: {what}, during `{}`", f.step)),
                        None => violations.push(Violation {
                            at,
                            object: format!("{pod}/{container}"),
                            what,
                            context: vec![],
                        }),
                    }
                } else {
                    *follows += 1;
                }
            }
            (
                GuardKind::NoWarningEvents { reasons },
                Observation::Event {
                    kind,
                    reason,
                    object,
                    message,
                },
            ) => {
                observed.insert(object.clone());
                if kind == "Warning" && (reasons.is_empty() || reasons.contains(reason)) {
                    let what = format!("Warning {reason} on {object}: {message}");
                    let pod = object.strip_prefix("Pod/").unwrap_or(object);
                    match excused(faults, pod, at) {
                        Some(f) => excuses.push(format!("{what}, during `{}`", f.step)),
                        None => violations.push(Violation {
                            at,
                            object: object.clone(),
                            what,
                            context: vec![],
                        }),
                    }
                }
            }
            // What a guard does not judge, listed pair by pair: a new kind of guard or of
            // observation does not compile until it is judged here.
            (
                GuardKind::NoRestarts { .. } | GuardKind::NoUnready { .. },
                Observation::LogLine { .. }
                | Observation::LogFollowed { .. }
                | Observation::Event { .. },
            )
            | (GuardKind::NoLogMatch { .. }, Observation::Pod { .. } | Observation::Event { .. })
            | (
                GuardKind::NoWarningEvents { .. },
                Observation::Pod { .. }
                | Observation::LogLine { .. }
                | Observation::LogFollowed { .. },
            ) => {}
        }
        violations.len() - before
    }

    /// When an unready pod will outlast its grace (so a `fail_fast` guard need not wait for
    /// the next observation).
    pub fn next_deadline(&self) -> Option<Duration> {
        let GuardKind::NoUnready { grace, .. } = &self.guard.kind else {
            return None;
        };
        self.unready
            .values()
            .filter(|(_, excuse, reported)| !excuse && !reported)
            .map(|(since, _, _)| *since + *grace)
            .min()
    }

    /// Judges what is still open at `now` (pods not Ready beyond their grace); returns how many
    /// violations it added.
    pub fn tick(&mut self, now: Duration) -> usize {
        let GuardKind::NoUnready { grace, .. } = &self.guard.kind else {
            return 0;
        };
        let grace = *grace;
        let mut added = vec![];
        for (name, (since, excuse, reported)) in self.unready.iter_mut() {
            let long = now.saturating_sub(*since);
            if !*excuse && !*reported && long > grace {
                *reported = true;
                added.push(unready_for(name, *since, long, grace));
            }
        }
        let n = added.len();
        self.violations.extend(added);
        n
    }

    /// One line on what the guard watched: which objects, how many, and how much it read.
    pub fn watched(&self) -> String {
        let names = listed(&self.observed);
        let what = match &self.guard.kind {
            GuardKind::NoRestarts { .. } | GuardKind::NoUnready { .. } => format!(
                "watched {} pod(s){names}, {} update(s)",
                self.observed.len(),
                self.seen
            ),
            GuardKind::NoLogMatch { .. } => format!(
                "followed the log of {} container(s){names} ({} instance(s) counting restarts), {} line(s) read",
                self.observed.len(),
                self.follows,
                self.lines
            ),
            GuardKind::NoWarningEvents { .. } => format!(
                "read {} event(s) about {} object(s){names}",
                self.seen,
                self.observed.len()
            ),
        };
        format!("{}: {what}", self.guard.kind.summary())
    }

    /// Why the guard cannot vouch for anything: its selector matched no pod the whole time it
    /// watched (a typo, or pods that never came). Events need no selector, so a quiet
    /// namespace is not blind.
    pub fn blind(&self) -> Option<String> {
        if !self.observed.is_empty() {
            return None;
        }
        match &self.guard.kind {
            GuardKind::NoRestarts { selector } | GuardKind::NoUnready { selector, .. } => {
                Some(format!("no pod matched {selector} while it watched"))
            }
            GuardKind::NoLogMatch {
                selector,
                container,
                ..
            } => Some(format!(
                "it followed no log: no running container{} of a pod matching {selector} while it watched",
                container
                    .as_ref()
                    .map_or(String::new(), |c| format!(" named {c}"))
            )),
            GuardKind::NoWarningEvents { .. } => None,
        }
    }
}

/// ` (a, b, c and 4 more)`, or nothing when empty.
fn listed(names: &BTreeSet<String>) -> String {
    const SHOWN: usize = 6;
    if names.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = names.iter().take(SHOWN).map(String::as_str).collect();
    match names.len().saturating_sub(SHOWN) {
        0 => format!(" ({})", shown.join(", ")),
        more => format!(" ({} and {more} more)", shown.join(", ")),
    }
}

fn unready_for(name: &str, since: Duration, long: Duration, grace: Duration) -> Violation {
    Violation {
        at: since,
        object: format!("Pod/{name}"),
        what: format!(
            "{name} was not Ready for {}s from +{} (grace {})",
            long.as_secs(),
            secs(since),
            humantime::format_duration(grace)
        ),
        context: vec![],
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

#[cfg(test)]
mod tests;
