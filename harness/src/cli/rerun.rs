//! `harness run --rerun-failed [REPORT]`: the scenarios that failed (or never finished) in an
//! earlier run, read from its `summary.json` (a file, a run folder, or by default the latest run
//! under `--report-dir`).

use std::path::{Path, PathBuf};

/// An earlier run and the scenarios of it to run again.
#[derive(Debug, PartialEq, Eq)]
pub struct Rerun {
    pub run_id: String,
    pub summary: PathBuf,
    /// (name, file) of each scenario that did not pass.
    pub failed: Vec<(String, PathBuf)>,
}

/// The summary a `--rerun-failed` value names: a `summary.json`, a run folder holding one, or
/// (empty) the most recent run folder under `report_dir` that has one.
pub fn summary_path(given: &Path, report_dir: &Path) -> Result<PathBuf, String> {
    if given.as_os_str().is_empty() {
        let entries = std::fs::read_dir(report_dir).map_err(|e| {
            format!(
                "--rerun-failed: cannot read the report folder {}: {e}",
                report_dir.display()
            )
        })?;
        let latest = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("summary.json"))
            .filter(|p| p.is_file())
            .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
        return latest.ok_or_else(|| {
            format!(
                "--rerun-failed: no earlier run with a summary.json under {}",
                report_dir.display()
            )
        });
    }
    let path = if given.is_dir() {
        given.join("summary.json")
    } else {
        given.to_path_buf()
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "--rerun-failed: {} is not a run's summary.json or a run folder holding one",
            given.display()
        ))
    }
}

/// The failed scenarios of the run whose summary is `path`.
pub fn read(path: &Path) -> Result<Rerun, String> {
    let text = crate::check::read_text(path, 64 * 1024 * 1024)
        .map_err(|e| format!("--rerun-failed: {}: {e}", path.display()))?;
    let summary: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "--rerun-failed: {} is not a run summary: {e}",
            path.display()
        )
    })?;
    let run_id = summary["run_id"].as_str().unwrap_or_default().to_string();
    let Some(scenarios) = summary["scenarios"].as_array() else {
        return Err(format!(
            "--rerun-failed: {} lists no scenarios",
            path.display()
        ));
    };
    let failed = scenarios
        .iter()
        // `passed` is false for a failure and null for a scenario that never finished
        // (cancelled): both run again.
        .filter(|s| s["passed"].as_bool() != Some(true))
        .filter_map(|s| {
            Some((
                s["name"].as_str()?.to_string(),
                PathBuf::from(s["file"].as_str()?),
            ))
        })
        .collect();
    Ok(Rerun {
        run_id,
        summary: path.to_path_buf(),
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure, files on disk): the latest run is found; failed and unfinished scenarios
    // are selected, passed ones are not; a folder or a file may be named.
    #[test]
    fn picks_the_failed_and_unfinished_scenarios_of_the_latest_run() {
        let dir = tempfile::tempdir().unwrap();
        let write = |run: &str, body: serde_json::Value| {
            let folder = dir.path().join(run);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(folder.join("summary.json"), body.to_string()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        write(
            "run-old",
            serde_json::json!({"run_id": "run-old", "scenarios": [{"name": "a", "file": "scenarios/a.yaml", "passed": false}]}),
        );
        write(
            "run-new",
            serde_json::json!({"run_id": "run-new", "scenarios": [
                {"name": "a", "file": "scenarios/a.yaml", "passed": true},
                {"name": "b", "file": "scenarios/b.yaml", "passed": false},
                {"name": "c", "file": "scenarios/c.yaml", "passed": null}]}),
        );
        let latest = summary_path(Path::new(""), dir.path()).unwrap();
        assert_eq!(latest, dir.path().join("run-new/summary.json"));
        let rerun = read(&latest).unwrap();
        assert_eq!(rerun.run_id, "run-new");
        assert_eq!(
            rerun.failed,
            vec![
                ("b".to_string(), PathBuf::from("scenarios/b.yaml")),
                ("c".to_string(), PathBuf::from("scenarios/c.yaml"))
            ]
        );
        let old = summary_path(&dir.path().join("run-old"), dir.path()).unwrap();
        assert_eq!(read(&old).unwrap().failed.len(), 1);
        let err = summary_path(&dir.path().join("nope"), dir.path()).unwrap_err();
        assert!(err.contains("is not a run's summary.json"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = summary_path(Path::new(""), empty.path()).unwrap_err();
        assert!(err.contains("no earlier run"), "{err}");
    }
}
