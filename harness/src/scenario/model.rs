//! The validated scenario: every value checked and typed, variables substituted with the run's
//! values, manifests parsed. Nothing downstream parses a scenario value again.

use crate::steps::Action;
use crate::vars::Values;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub cluster: ClusterNeeds,
    /// `h-<name>-<run>`; empty for scenarios that need no cluster.
    pub namespace: String,
    pub run_id: String,
    /// Resolved variables, built-ins included; secret ones are masked in every output.
    pub values: Values,
    pub timeouts: Timeouts,
    pub steps: Vec<Step>,
    pub finally: Vec<Step>,
    pub guards: Vec<crate::guards::Guard>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNeeds {
    pub required: bool,
    pub workers: u32,
    pub kubernetes_min: Option<(u32, u32)>,
    pub kubernetes_max: Option<(u32, u32)>,
}

/// Built-in defaults (each step kind's own), overridden by the scenario's `timeouts`, overridden
/// by a step's `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    pub scenario: Duration,
    /// Per step kind, where the scenario set one (`step:` sets them all).
    pub per_kind: BTreeMap<&'static str, Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            scenario: Duration::from_secs(30 * 60),
            per_kind: BTreeMap::new(),
        }
    }
}

impl Timeouts {
    /// The timeout of a step of `kind` that sets none itself.
    pub fn for_kind(&self, kind: &str) -> Duration {
        self.per_kind
            .get(kind)
            .copied()
            .or_else(|| crate::steps::default_timeout(kind))
            .unwrap_or(Duration::from_secs(300))
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Given by the user, or `<kind>-<n>` (1-based position) when not.
    pub id: String,
    pub description: Option<String>,
    pub timeout: Option<Duration>,
    pub continue_on_error: bool,
    /// Repeat a failing step until it passes or the time is up (`exec` and `verify` only).
    pub retry: Option<Retry>,
    /// Key path in the scenario file, e.g. `steps[3]`.
    pub path: String,
    pub action: Action,
}

/// How a failing step is repeated: every `every`, until `for_` has passed since the first try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Retry {
    #[serde(serialize_with = "crate::check::duration_text")]
    pub every: Duration,
    #[serde(rename = "for", serialize_with = "crate::check::duration_text")]
    pub for_: Duration,
}
