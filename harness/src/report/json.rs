//! `summary.json`: the run model (see [`super::model`]) as JSON, for `--rerun-failed`,
//! `harness report merge` and users' dashboards. Its fields are documented by the model's
//! types; `harness schema --summary` prints its JSON Schema.

use super::Reporter;
use super::model::Run;
use std::path::PathBuf;

pub struct SummaryReporter {
    path: PathBuf,
}

impl SummaryReporter {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

/// Writes `run` as `summary.json` at `path`.
pub fn write(path: &std::path::Path, run: &Run) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(run).map_err(std::io::Error::other)?;
    std::fs::write(path, text).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("writing the summary {}: {e}", path.display()),
        )
    })
}

impl Reporter for SummaryReporter {
    fn finish(&mut self, run: &Run) -> std::io::Result<()> {
        write(&self.path, run)
    }
}
