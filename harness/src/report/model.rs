//! The run model: what happened in a run, built from its events by one [`Builder`]. The
//! reporters that write at the end (JUnit, HTML, the JSON summary) all render this one model,
//! so their names, counts and times cannot drift apart. Serialised, it is `summary.json`: a
//! documented, versioned format (its JSON Schema is `harness schema --summary`) that
//! `--rerun-failed`, `report merge` and users' dashboards read back, typed.
//!
//! Absent means absent: a field with no value is left out, never filled with a placeholder.

use super::events::{
    CleanupOutcome, Event, Outcome, Phase, ScenarioOutcome, Selection, StepInfo, Violation,
};
use crate::cluster::Evidence;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The version of the summary format this harness writes and reads.
pub const FORMAT: u32 = 1;

/// A run, as `summary.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    /// The version of this format; a reader refuses a version it does not know.
    pub format: u32,
    /// The harness that wrote it (`harness --version`).
    pub harness_version: String,
    pub run_id: String,
    /// `kind`, `minikube`, `existing`, `k3s` or `none`.
    pub provider: String,
    /// The Kubernetes version of the cluster (`v1.33.1`); absent without a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_version: Option<String>,
    /// The run whose failed scenarios this one re-ran (`--rerun-failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reran: Option<String>,
    /// The scenario paths (files or folders) the run selected from, as given.
    pub selection: Vec<String>,
    /// The tags the selection was narrowed to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `K/N` when the run was one slice of a partitioned selection (`--partition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The runs (shards) a merged run was made of (`harness report merge`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<String>,
    /// Wall-clock start, RFC 3339 in UTC.
    pub started_at: String,
    /// Wall-clock end; absent when the run was cut off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(deserialize_with = "crate::measured::seconds")]
    pub duration_secs: f64,
    pub totals: Totals,
    pub scenarios: Vec<Scenario>,
}

/// Counts over the run: scenarios, and steps (guards and clean-up failures included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Totals {
    pub scenarios: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub unfinished: usize,
    pub steps: usize,
    pub steps_passed: usize,
    pub steps_failed: usize,
    pub steps_timed_out: usize,
    pub steps_skipped: usize,
    pub steps_cancelled: usize,
}

/// One scenario of a run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scenario {
    pub name: String,
    /// The scenario file, as the run found it.
    pub file: String,
    /// Its namespace; absent without a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub outcome: ScenarioOutcome,
    /// Why it did not pass: the first failure's message (or why it was skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub started_at: String,
    /// Seconds from the run's start to the scenario's (scenarios run in parallel share the
    /// run's axis).
    #[serde(deserialize_with = "crate::measured::seconds")]
    pub offset_secs: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(deserialize_with = "crate::measured::seconds")]
    pub duration_secs: f64,
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanup: Vec<Cleanup>,
}

/// How a step (or guard) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    TimedOut,
    Skipped,
    Cancelled,
}

impl Status {
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::TimedOut | Status::Cancelled)
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::TimedOut => "TIMEOUT",
            Status::Skipped => "SKIP",
            Status::Cancelled => "CANCEL",
        }
    }
}

/// One step, `finally` step, guard or set-up step of a scenario, in the order they ended
/// (guards last).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// Its position in its phase (0-based).
    pub index: usize,
    /// The step's id (unique in the scenario), or the guard's name.
    pub id: String,
    /// The step kind (`verify`), the guard's kind (`no_restarts`), or `setup`.
    pub kind: String,
    /// The verifier a `verify` step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: Status,
    /// Why it did not pass (or why it was skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Seconds from the scenario's start to the step's.
    #[serde(deserialize_with = "crate::measured::seconds")]
    pub offset_secs: f64,
    #[serde(deserialize_with = "crate::measured::seconds")]
    pub duration_secs: f64,
    /// How many tries a step with `retry` took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Later steps ran although it failed (the scenario still fails).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
    /// It disrupted pods on purpose.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fault: bool,
    /// Its evidence, complete, relative to the run's folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence_files: Vec<String>,
    /// A guard's violations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    /// What the step printed or found, its head and tail within 16,000 characters (the
    /// JUnit and HTML reports show it; a merge of shards reads it back).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        serialize_with = "bounded_output"
    )]
    pub output: String,
    /// What it measured (a workload check's throughput, latencies and unavailability, overall
    /// and per node), in the order measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub figures: Vec<Figure>,
    /// The workloads it judged, placed on the scenario's timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadSpan>,
    /// What it confirmed and when (a fault's proof of effect, its heal), for the timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<crate::measured::Mark>,
    /// Its evidence itself (in the JUnit and HTML reports; the summary names the files).
    #[serde(skip)]
    pub evidence: Vec<Evidence>,
}

pub use super::events::{Figure, Unavailable, WorkloadSpan};

fn bounded_output<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::sanitize::truncate_middle(text, 16_000))
}

/// What became of one thing the scenario created.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cleanup {
    pub item: String,
    pub status: CleanupStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Seconds from the scenario's start.
    #[serde(deserialize_with = "crate::measured::seconds")]
    pub offset_secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CleanupStatus {
    Done,
    Kept,
    Failed,
}

impl Run {
    /// The scenarios that did not pass (failed, or never finished).
    pub fn not_passed(&self) -> impl Iterator<Item = &Scenario> {
        self.scenarios.iter().filter(|s| {
            matches!(
                s.outcome,
                ScenarioOutcome::Failed | ScenarioOutcome::Unfinished
            )
        })
    }

    /// Recounts [`Totals`] from the scenarios.
    pub fn recount(&mut self) {
        let mut t = Totals {
            scenarios: self.scenarios.len(),
            ..Default::default()
        };
        for s in &self.scenarios {
            match s.outcome {
                ScenarioOutcome::Passed => t.passed += 1,
                ScenarioOutcome::Failed => t.failed += 1,
                ScenarioOutcome::Skipped => t.skipped += 1,
                ScenarioOutcome::Unfinished => t.unfinished += 1,
            }
            for step in &s.steps {
                t.steps += 1;
                match step.status {
                    Status::Passed => t.steps_passed += 1,
                    Status::Failed => t.steps_failed += 1,
                    Status::TimedOut => t.steps_timed_out += 1,
                    Status::Skipped => t.steps_skipped += 1,
                    Status::Cancelled => t.steps_cancelled += 1,
                }
            }
        }
        self.totals = t;
    }

    /// The JSON Schema of `summary.json`.
    pub fn schema() -> String {
        let schema = schemars::schema_for!(Run);
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    }
}

/// The folder, under the run's, that holds a step's evidence files.
pub fn evidence_dir(scenario: &str, step: &StepInfo) -> String {
    let step_dir = match step.phase {
        Phase::Main => format!("{:02}-{}", step.index + 1, step.id),
        Phase::Finally => format!("finally-{:02}-{}", step.index + 1, step.id),
        Phase::Guard => format!("guard-{}", step.id),
    };
    format!("evidence/{}/{}", file_name(scenario), file_name(&step_dir))
}

/// A file or folder name from free text (titles hold `/`, spaces, parentheses).
pub fn file_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Builds the [`Run`] from events as they come.
pub struct Builder {
    run: Run,
    started: Instant,
    /// When each scenario started (its steps' offsets count from it).
    scenario_started: Vec<(String, Instant)>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Self {
            run: Run {
                format: FORMAT,
                harness_version: env!("CARGO_PKG_VERSION").to_string(),
                run_id: String::new(),
                provider: String::new(),
                cluster_version: None,
                reran: None,
                selection: vec![],
                tags: vec![],
                partition: None,
                shards: vec![],
                started_at: rfc3339(chrono::Utc::now()),
                finished_at: None,
                duration_secs: 0.0,
                totals: Totals::default(),
                scenarios: vec![],
            },
            started: Instant::now(),
            scenario_started: vec![],
        }
    }

    fn scenario(&mut self, name: &str) -> &mut Scenario {
        if let Some(i) = self.run.scenarios.iter().position(|s| s.name == name) {
            return &mut self.run.scenarios[i];
        }
        let now = Instant::now();
        self.scenario_started.push((name.to_string(), now));
        self.run.scenarios.push(Scenario {
            name: name.to_string(),
            file: String::new(),
            namespace: None,
            description: None,
            tags: vec![],
            outcome: ScenarioOutcome::Unfinished,
            message: None,
            started_at: rfc3339(chrono::Utc::now()),
            offset_secs: secs(now.saturating_duration_since(self.started)),
            finished_at: None,
            duration_secs: 0.0,
            steps: vec![],
            cleanup: vec![],
        });
        self.run.scenarios.last_mut().expect("just pushed")
    }

    /// Time since `scenario` started.
    fn since_start(&self, scenario: &str) -> Duration {
        self.scenario_started
            .iter()
            .find(|(n, _)| n == scenario)
            .map_or(Duration::ZERO, |(_, t)| t.elapsed())
    }

    pub fn see(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                provider,
                cluster_version,
                reran,
                selection:
                    Selection {
                        paths,
                        tags,
                        partition,
                    },
                ..
            } => {
                self.started = Instant::now();
                self.run.started_at = rfc3339(chrono::Utc::now());
                self.run.run_id = run_id.clone();
                self.run.provider = provider.clone();
                self.run.cluster_version =
                    Some(cluster_version.clone()).filter(|v| !v.is_empty() && v != "-");
                self.run.reran = reran.clone();
                self.run.selection = paths.clone();
                self.run.tags = tags.clone();
                self.run.partition = partition.clone();
            }
            Event::ScenarioStarted {
                scenario,
                file,
                namespace,
                description,
                tags,
                ..
            } => {
                let s = self.scenario(scenario);
                s.file = file.clone();
                s.namespace = Some(namespace.clone()).filter(|n| !n.is_empty());
                s.description = description.clone();
                s.tags = tags.clone();
            }
            Event::StepStarted { .. } | Event::StepProgress { .. } => {}
            Event::StepFinished {
                scenario,
                step,
                outcome,
                duration,
                output,
                evidence,
                attempts,
                violations,
                measured,
            } => {
                let end = self.since_start(scenario);
                let (status, message) = match outcome {
                    Outcome::Passed => (Status::Passed, None),
                    Outcome::Failed { message } => (Status::Failed, Some(message.clone())),
                    Outcome::TimedOut { message } => (Status::TimedOut, Some(message.clone())),
                    Outcome::Skipped { reason } => (Status::Skipped, Some(reason.clone())),
                    Outcome::Cancelled { message } => (Status::Cancelled, Some(message.clone())),
                };
                let dir = evidence_dir(scenario, step);
                let model = Step {
                    index: step.index,
                    id: step.id.clone(),
                    kind: step.kind.to_string(),
                    verifier: step.verifier.map(str::to_string),
                    phase: step.phase,
                    description: step.description.clone(),
                    status,
                    message,
                    offset_secs: secs(end.saturating_sub(*duration)),
                    duration_secs: secs(*duration),
                    attempts: *attempts,
                    continue_on_error: step.continue_on_error,
                    fault: step.fault,
                    evidence_files: evidence
                        .iter()
                        .map(|e| format!("{dir}/{}.txt", file_name(&e.title)))
                        .collect(),
                    violations: violations.clone(),
                    output: output.clone(),
                    figures: measured.figures.clone(),
                    workloads: measured.workloads.clone(),
                    marks: measured.marks.clone(),
                    evidence: evidence.clone(),
                };
                let s = self.scenario(scenario);
                if status.is_failure() && s.message.is_none() {
                    s.message = model.message.as_ref().map(|m| format!("{}: {m}", model.id));
                }
                s.steps.push(model);
            }
            Event::CleanupFinished {
                scenario,
                item,
                outcome,
            } => {
                let at = secs(self.since_start(scenario));
                let (status, message) = match outcome {
                    CleanupOutcome::Done { note } => (CleanupStatus::Done, note.clone()),
                    CleanupOutcome::Kept { reason } => (CleanupStatus::Kept, Some(reason.clone())),
                    CleanupOutcome::Failed { message } => {
                        (CleanupStatus::Failed, Some(message.clone()))
                    }
                };
                let s = self.scenario(scenario);
                if status == CleanupStatus::Failed && s.message.is_none() {
                    s.message = Some(format!(
                        "clean-up of {item}: {}",
                        message.as_deref().unwrap_or_default()
                    ));
                }
                s.cleanup.push(Cleanup {
                    item: item.clone(),
                    status,
                    message,
                    offset_secs: at,
                });
            }
            Event::ScenarioFinished {
                scenario,
                outcome,
                duration,
            } => {
                let s = self.scenario(scenario);
                s.outcome = *outcome;
                s.duration_secs = secs(*duration);
                s.finished_at = Some(rfc3339(chrono::Utc::now()));
                if *outcome == ScenarioOutcome::Skipped && s.message.is_none() {
                    s.message = s.steps.iter().find_map(|st| st.message.clone());
                }
            }
            Event::RunFinished { duration, .. } => {
                self.run.duration_secs = secs(*duration);
                self.run.finished_at = Some(rfc3339(chrono::Utc::now()));
            }
        }
    }

    /// The run as seen so far (scenarios that never finished stay `unfinished`).
    pub fn run(&self) -> Run {
        let mut run = self.run.clone();
        if run.finished_at.is_none() {
            run.duration_secs = secs(self.started.elapsed());
        }
        run.recount();
        run
    }
}
