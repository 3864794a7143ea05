//! Data-level verifiers, grouped by the system they check: `cassandra/`, `galera/`, `etcd/`,
//! `memcache/`, `http/`, `dns/` (the cluster's service discovery), each with its protocol
//! client and one file per verifier. A verifier
//! owns its file format (`Raw`), its validation into a typed spec, its `harness verify` flags
//! and its check ([`Verifier`]); it is registered once in `registry.rs`, from which the spec
//! enum, the names, validation, the CLI and dispatch all follow.
//!
//! Verifiers know nothing of Kubernetes: the `verify` step resolves pod targets into local
//! endpoints (port-forward bridges) and hands them over in a [`VerifyContext`], so the same code
//! runs against static endpoints from the CLI.

pub mod anomaly;
pub mod cassandra;
pub mod dns;
pub mod etcd;
pub mod figures;
pub mod galera;
pub mod history_edn;
pub mod http;
pub mod ledger;
pub mod memcache;
pub mod workload;

mod flags;
mod registry;
mod target;

pub use flags::VerifyFlags;
pub use registry::{DOCS, FROM_VERIFY, NAMES, RawVerify, VerifySpec};

/// The README's table of verifiers, made from the registry.
pub fn markdown_table() -> String {
    let mut out = String::from("| verifier | checks |\n|---|---|\n");
    for (name, checks) in DOCS {
        out.push_str(&format!("| `{name}` | {checks} |\n"));
    }
    out
}
pub use target::{
    Credentials, Need, NoTargets, One, PasswordSource, Proxied, RawCredentials, RawProxyTarget,
    RawTarget, Registry, Shape, Target,
};

use crate::check::Checker;
use crate::cluster::Endpoint;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::sync::Mutex;
use std::time::Duration;

/// One verifier. Adding one: a file implementing this in its system's folder, plus one line in
/// `registry.rs`.
/// The most concurrent writers a workload or a check runs (per node where it says so): each is
/// a connection the server must hold.
pub const MAX_WRITERS: i64 = 64;

/// The largest `delete_every` (one delete per this many writes).
pub const MAX_DELETE_EVERY: i64 = 1_000_000;

#[async_trait::async_trait]
pub trait Verifier: Sized + Clone + Debug + Serialize + Send + Sync {
    /// The key that names it under `verify:` and on `harness verify`.
    const NAME: &'static str;
    /// What it checks, in one paragraph of Markdown: the README's table of verifiers and
    /// `harness verify --help` are made from it.
    const CHECKS: &'static str;
    /// Whether `harness verify` can run it (static endpoints); `false` for verifiers that
    /// need pods or a scenario's workload, whose `from_flags` says so.
    const FROM_VERIFY: bool = true;
    /// What a scenario says under its key.
    type Raw: DeserializeOwned + Serialize + Clone + Debug + schemars::JsonSchema;

    /// Validates the raw spec (variables already substituted) into the typed one.
    fn check(raw: Self::Raw, cx: &mut Checker, path: &str) -> Option<Self>;
    /// The raw spec from `harness verify` flags; `Err` is a usage message.
    fn from_flags(flags: &VerifyFlags) -> Result<Self::Raw, String>;
    /// The shape of its targets ([`NoTargets`], [`One`], [`Registry`], [`Proxied`]).
    type Shape: Shape;
    /// Its targets, each with the fewest endpoints it must resolve to (a check that would
    /// compare nothing is refused); [`Verifier::run`] gets them resolved, in the same shape.
    fn targets(&self) -> <Self::Shape as Shape>::Of<Need<'_>>;
    fn credentials(&self) -> Option<&Credentials> {
        None
    }
    /// (key, id) of the workloads it checks (started by an earlier `workload` step).
    fn workload_refs(&self) -> Vec<(&'static str, String)> {
        vec![]
    }
    /// The pods it disrupts on purpose while it checks (a fault injected during writes).
    fn disrupts(&self) -> Option<crate::cluster::Disrupted> {
        None
    }
    /// (key, duration) it takes at least by its own settings (`stable_for`, `duration`).
    fn lasts_at_least(&self) -> Option<(&'static str, std::time::Duration)> {
        None
    }
    /// Whether it needs a Kubernetes cluster (pods to reach or to exec in).
    fn needs_cluster(&self) -> bool {
        Self::Shape::each::<Need<'_>>(&self.targets())
            .iter()
            .any(|(_, need)| need.target.needs_cluster())
    }
    async fn run(
        &self,
        cx: &VerifyContext<'_>,
        at: <Self::Shape as Shape>::Of<Vec<Endpoint>>,
    ) -> Verdict;
}

/// What a verifier found: pass or fail, a one-line summary, and evidence lines (what each
/// endpoint said) for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    pub summary: String,
    pub evidence: Vec<String>,
}

impl Verdict {
    pub fn pass(summary: impl Into<String>, evidence: Vec<String>) -> Self {
        Self {
            passed: true,
            summary: summary.into(),
            evidence,
        }
    }
    pub fn fail(summary: impl Into<String>, evidence: Vec<String>) -> Self {
        Self {
            passed: false,
            summary: summary.into(),
            evidence,
        }
    }
}

/// A pod: name, IP and whether it is Ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub ip: Option<String>,
    pub ready: bool,
}

/// What verifiers that work inside pods need from the cluster (exec, listing, a fault).
#[async_trait::async_trait]
pub trait PodShell: Send + Sync {
    async fn pods(&self, selector: &str) -> Result<Vec<PodRef>, String>;
    /// Runs a command; `Ok((exit code, stdout + stderr))`.
    async fn run(
        &self,
        pod: &str,
        container: Option<&str>,
        command: &[&str],
    ) -> Result<(i32, String), String>;
    /// Deletes a pod without waiting for its replacement (faults injected during a check).
    async fn delete_pod(&self, name: &str) -> Result<(), String> {
        Err(format!("cannot delete pod {name}: this run has no cluster"))
    }
    /// Waits (watching) until pod `name` is Ready (`ready`) or not Ready, at most `within`.
    async fn wait_ready(&self, name: &str, ready: bool, within: Duration) -> Result<(), String> {
        let _ = (ready, within);
        Err(format!("cannot watch pod {name}: this run has no cluster"))
    }
}

/// A run without pods (static targets).
pub struct NoPods;

#[async_trait::async_trait]
impl PodShell for NoPods {
    async fn pods(&self, selector: &str) -> Result<Vec<PodRef>, String> {
        Err(format!("listing pods `{selector}` needs a cluster"))
    }
    async fn run(&self, pod: &str, _: Option<&str>, _: &[&str]) -> Result<(i32, String), String> {
        Err(format!("exec in {pod} needs a cluster"))
    }
}

/// Login resolved for a run: user and password (the password never appears in a verdict).
#[derive(Debug, Clone, Default)]
pub struct Login {
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Clean-ups a verifier registers before its first write (dropping its database, say). The
/// runner runs them, last first, at the scenario's end whatever happened: also after the step
/// timed out or was cancelled mid-write, when the verifier itself never got to clean up.
#[derive(Default)]
pub struct Undo(Mutex<Vec<(String, UndoFuture)>>);

pub type UndoFuture = futures::future::BoxFuture<'static, Result<(), String>>;

impl Undo {
    pub fn register(
        &self,
        what: impl Into<String>,
        work: impl std::future::Future<Output = Result<(), String>> + Send + 'static,
    ) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((what.into(), Box::pin(work)));
    }

    /// Everything registered, last first.
    pub fn take(&self) -> Vec<(String, UndoFuture)> {
        let mut all = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        all.reverse();
        all
    }
}

impl Debug for Undo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.lock().map_or(0, |v| v.len());
        write!(f, "Undo({n} registered)")
    }
}

/// What a verifier gets to work with besides its endpoints: login, the pods (exec), the facts
/// earlier steps recorded, and where to register its clean-ups.
pub struct VerifyContext<'a> {
    pub login: Login,
    pub pods: &'a dyn PodShell,
    pub facts: &'a Mutex<BTreeMap<String, String>>,
    pub undo: &'a Undo,
    /// The scenario's background workloads (`verify: { workload }` checks their ledgers).
    pub workloads: &'a workload::Workloads,
    /// When each main step started (a workload's windows are placed among them).
    pub steps_started: &'a Mutex<BTreeMap<String, tokio::time::Instant>>,
    /// The scenario's fault windows (a workload's windows are placed against them).
    pub faults: &'a crate::guards::FaultLog,
}

/// A short token unique to this run of a check (names its keys, databases and tables).
pub fn nonce() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seed = format!(
        "{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    format!(
        "{:012x}",
        memcache::client::fnv1a(seed.as_bytes()) & 0xffff_ffff_ffff
    )
}

/// Runs one operation of a check under `limit`; an error or a timeout comes back as
/// `"{what}: {cause}"`, so every verifier reports a server that does not answer the same way.
/// The operation is recorded in the step's journal (see [`crate::journal`]).
pub async fn bounded<T, E: fmt::Display>(
    what: &str,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    bounded_on("", what, limit, f).await
}

/// [`bounded`] for an operation on one endpoint (its name or address), so a deadline that cuts
/// the check short can say which endpoint had not answered.
pub async fn bounded_on<T, E: fmt::Display>(
    endpoint: &str,
    what: &str,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    crate::journal::track(endpoint, || what.to_string(), async {
        match tokio::time::timeout(limit, f).await {
            Ok(r) => r.map_err(|e| format!("{what}: {}", plainly(&e))),
            Err(_) => Err(format!("{what}: no answer within {}s", limit.as_secs())),
        }
    })
    .await
}

/// An error as a person reads it: a client's chain of causes often repeats itself
/// (`Input/output error: Input/output error: Connection refused`); each cause is said once.
pub fn plainly(e: &dyn fmt::Display) -> String {
    let text = e.to_string();
    let mut parts: Vec<&str> = vec![];
    for part in text.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): a chain of causes that repeats itself is said once.
    #[test]
    fn repeated_causes_are_said_once() {
        let e = "Input/output error: Input/output error: Connection refused (os error 111)";
        assert_eq!(
            plainly(&e),
            "Input/output error: Connection refused (os error 111)"
        );
        assert_eq!(plainly(&"a: b: a"), "a: b: a");
    }
}
