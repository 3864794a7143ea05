//! What a step measured, as the reports carry it: named figures (a workload's `overall.p99_ms`)
//! and the workloads it judged, placed on the timeline. A leaf: the journal records these while
//! a step runs, the runner puts them in the step's event, the run model keeps them.

/// What a step measured: named figures, and the workloads it judged, to draw on the timeline.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Measured {
    pub figures: Vec<Figure>,
    pub workloads: Vec<WorkloadSpan>,
}

/// One measured figure: `overall.p99_ms` = `12.500` (units in the name; `-` when there was
/// nothing to measure).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Figure {
    pub name: String,
    pub value: String,
}

/// A workload on the scenario's timeline: when it ran (from the start of the step that started
/// it), its throughput, and its longest stretches without an acknowledged write.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct WorkloadSpan {
    /// The workload's id.
    pub id: String,
    /// The step during which its writers started, and how long after that step's start.
    pub started_with_step: String,
    pub started_after_secs: f64,
    pub ran_for_secs: f64,
    /// Acknowledged writes per second over the whole run.
    pub throughput: f64,
    /// The longest stretch without an acknowledged write: overall (`who` = `overall`) and per
    /// node, in seconds from the workload's start.
    pub unavailable: Vec<Unavailable>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Unavailable {
    pub who: String,
    pub from_secs: f64,
    pub to_secs: f64,
}
