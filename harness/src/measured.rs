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
    /// What it confirmed, when (a fault's proof of effect and of its heal).
    #[serde(default)]
    pub marks: Vec<Mark>,
}

/// A moment of a step the timeline marks: what was confirmed, seconds from the step's start.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Mark {
    #[serde(deserialize_with = "seconds")]
    pub at_secs: f64,
    pub what: String,
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
    #[serde(deserialize_with = "seconds")]
    pub started_after_secs: f64,
    #[serde(deserialize_with = "seconds")]
    pub ran_for_secs: f64,
    /// Acknowledged writes per second over the whole run.
    #[serde(deserialize_with = "seconds")]
    pub throughput: f64,
    /// The longest stretch without an acknowledged write: overall (`who` = `overall`) and per
    /// node, in seconds from the workload's start.
    pub unavailable: Vec<Unavailable>,
    /// What clients saw over time, overall then per node, for the report's plots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Series>,
    /// The faults while it ran (a lasting one until its heal), from its start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpan>,
}

/// A fault's window, in seconds from a workload's start.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct FaultSpan {
    pub step: String,
    #[serde(deserialize_with = "seconds")]
    pub from_secs: f64,
    #[serde(deserialize_with = "seconds")]
    pub to_secs: f64,
}

/// A workload's operations over time, in buckets of `bucket_secs` from its start (at most
/// [`MAX_BUCKETS`], however long it ran).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Series {
    pub who: String,
    pub bucket_secs: u32,
    /// Acknowledged writes in each bucket.
    #[serde(deserialize_with = "buckets")]
    pub acknowledged: Vec<u32>,
    /// Refused or unanswered writes in each bucket.
    #[serde(deserialize_with = "buckets")]
    pub refused: Vec<u32>,
    /// The slowest acknowledged write of each bucket, in milliseconds (rounded up).
    #[serde(deserialize_with = "buckets")]
    pub max_latency_ms: Vec<u32>,
}

/// Reads a series' buckets from a summary: at most [`MAX_BUCKETS`] (a summary read back comes
/// from another run, maybe another machine).
fn buckets<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    let v = <Vec<u32> as serde::Deserialize>::deserialize(d)?;
    if v.len() > MAX_BUCKETS {
        return Err(serde::de::Error::custom(format!(
            "{} buckets, more than the {MAX_BUCKETS} a series has",
            v.len()
        )));
    }
    Ok(v)
}

/// The most points a series gives a plot.
pub const MAX_BUCKETS: usize = 600;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Unavailable {
    pub who: String,
    #[serde(deserialize_with = "seconds")]
    pub from_secs: f64,
    #[serde(deserialize_with = "seconds")]
    pub to_secs: f64,
}

/// The most seconds a summary may give for a duration or an offset (about 31 years): a
/// summary read back (`--rerun-failed`, `report merge`) comes from another run, maybe another
/// machine, and a time past this is no time a run took.
pub const MAX_SECS: f64 = 1e9;

/// Reads a number of seconds (or a rate) from a summary: finite, at least 0, at most
/// [`MAX_SECS`]; anything else is refused where it is read, with its path.
pub fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = <f64 as serde::Deserialize>::deserialize(d)?;
    if v.is_finite() && (0.0..=MAX_SECS).contains(&v) {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "{v} is no number of seconds (0 to {MAX_SECS})"
        )))
    }
}
