//! A JSON summary of the run (scenarios, steps, outcomes, durations), written next to the JUnit
//! report for tools that prefer JSON.

use super::Reporter;
use super::events::{CleanupOutcome, Event, Outcome};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub run_id: String,
    pub provider: String,
    pub cluster_version: String,
    /// The run whose failed scenarios this one re-ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reran: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub duration_secs: f64,
    pub scenarios: Vec<ScenarioSummary>,
}

#[derive(Debug, Default, Serialize)]
pub struct ScenarioSummary {
    pub name: String,
    pub file: String,
    pub namespace: String,
    pub passed: Option<bool>,
    pub duration_secs: f64,
    pub steps: Vec<StepSummary>,
    pub cleanup_errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct StepSummary {
    pub id: String,
    pub kind: String,
    pub phase: super::events::Phase,
    pub outcome: Outcome,
    pub duration_secs: f64,
}

pub struct JsonReporter {
    path: PathBuf,
    pub summary: Summary,
}

impl JsonReporter {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            summary: Summary::default(),
        }
    }
    fn scenario(&mut self, name: &str) -> &mut ScenarioSummary {
        if let Some(i) = self.summary.scenarios.iter().position(|s| s.name == name) {
            return &mut self.summary.scenarios[i];
        }
        self.summary.scenarios.push(ScenarioSummary {
            name: name.to_string(),
            ..Default::default()
        });
        self.summary.scenarios.last_mut().expect("just pushed")
    }
}

fn round(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

impl Reporter for JsonReporter {
    fn event(&mut self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                provider,
                cluster_version,
                reran,
                ..
            } => {
                self.summary.reran = reran.clone();
                self.summary.run_id = run_id.clone();
                self.summary.provider = provider.clone();
                self.summary.cluster_version = cluster_version.clone();
            }
            Event::ScenarioStarted {
                scenario,
                file,
                namespace,
            } => {
                let s = self.scenario(scenario);
                s.file = file.clone();
                s.namespace = namespace.clone();
            }
            Event::StepFinished {
                scenario,
                step,
                outcome,
                duration,
                ..
            } => {
                let summary = StepSummary {
                    id: step.id.clone(),
                    kind: step.kind.to_string(),
                    phase: step.phase,
                    outcome: outcome.clone(),
                    duration_secs: round(duration.as_secs_f64()),
                };
                self.scenario(scenario).steps.push(summary);
            }
            Event::CleanupFinished {
                scenario,
                item,
                outcome: CleanupOutcome::Failed { message: e },
            } => {
                let line = format!("{item}: {e}");
                self.scenario(scenario).cleanup_errors.push(line);
            }
            Event::ScenarioFinished {
                scenario,
                passed,
                duration,
            } => {
                let s = self.scenario(scenario);
                s.passed = Some(*passed);
                s.duration_secs = round(duration.as_secs_f64());
            }
            Event::RunFinished {
                duration,
                passed,
                failed,
            } => {
                self.summary.passed = *passed;
                self.summary.failed = *failed;
                self.summary.duration_secs = round(duration.as_secs_f64());
            }
            _ => {}
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(&self.summary).map_err(std::io::Error::other)?;
        std::fs::write(&self.path, text)
    }
}
