//! The validated scenario: every value checked and typed, manifests read (not yet rendered).

use super::raw::{DeleteSpec, ExecSpec, FaultSpec, VariableDef, WaitSpec};
use crate::verify::VerifySpec;
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
    pub variables: BTreeMap<String, VariableDef>,
    pub timeouts: Timeouts,
    pub steps: Vec<Step>,
    pub finally: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNeeds {
    pub required: bool,
    pub workers: u32,
    pub kubernetes_min: Option<(u32, u32)>,
    pub kubernetes_max: Option<(u32, u32)>,
}

/// Built-in defaults, overridden by the scenario's `timeouts`, overridden by a step's `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    pub scenario: Duration,
    pub per_kind: BTreeMap<&'static str, Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        let m = |s| Duration::from_secs(s);
        let per_kind = BTreeMap::from([
            ("apply", m(60)),
            ("delete", m(180)),
            ("scale", m(60)),
            ("wait", m(300)),
            ("exec", m(120)),
            ("fault", m(300)),
            ("verify", m(300)),
            ("sleep", m(3600)),
        ]);
        Self {
            scenario: m(30 * 60),
            per_kind,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    /// Given by the user, or `<kind>-<n>` (1-based position) when not.
    pub id: String,
    pub description: Option<String>,
    pub timeout: Option<Duration>,
    pub continue_on_error: bool,
    /// Key path in the scenario file, e.g. `steps[3]`.
    pub path: String,
    pub action: Action,
}

/// Workload kinds that have a scale subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ScalableKind {
    StatefulSet,
    Deployment,
    ReplicaSet,
    ReplicationController,
}

impl ScalableKind {
    pub const NAMES: [&'static str; 4] = [
        "StatefulSet",
        "Deployment",
        "ReplicaSet",
        "ReplicationController",
    ];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "StatefulSet" => Some(Self::StatefulSet),
            "Deployment" => Some(Self::Deployment),
            "ReplicaSet" => Some(Self::ReplicaSet),
            "ReplicationController" => Some(Self::ReplicationController),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone)]
pub struct ManifestSource {
    /// Path of the manifest file (as the user wrote it, relative to the scenario) or `inline`.
    pub origin: String,
    pub text: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Scale {
    pub kind: ScalableKind,
    pub name: String,
    pub replicas: u32,
}

#[derive(Debug, Clone)]
pub enum Action {
    Apply(Vec<ManifestSource>),
    Delete(DeleteSpec),
    Scale(Scale),
    Wait(WaitSpec),
    Exec(ExecSpec),
    Fault(FaultSpec),
    Verify(Box<VerifySpec>),
    Sleep(Duration),
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Apply(_) => "apply",
            Action::Delete(_) => "delete",
            Action::Scale(_) => "scale",
            Action::Wait(_) => "wait",
            Action::Exec(_) => "exec",
            Action::Fault(_) => "fault",
            Action::Verify(_) => "verify",
            Action::Sleep(_) => "sleep",
        }
    }

    pub fn needs_cluster(&self) -> bool {
        match self {
            Action::Verify(v) => v.needs_cluster(),
            Action::Sleep(_) => false,
            _ => true,
        }
    }
}
