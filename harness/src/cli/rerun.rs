//! `harness run --rerun-failed[=REPORT]`: the scenarios that failed (or never finished) in an
//! earlier run, read from its `summary.json` (a file, a run folder, a report folder holding
//! runs, or by default the latest run under `--report-dir`) through the same typed model the
//! summary is written from. A summary that cannot be understood fully is a usage error that
//! says what is wrong, never a green re-run, and never echoes the file's content.

use crate::report::model::{FORMAT, Run};
use std::path::{Path, PathBuf};

/// An earlier run and the scenarios of it to run again.
#[derive(Debug, PartialEq, Eq)]
pub struct Rerun {
    pub run_id: String,
    pub summary: PathBuf,
    /// (name, file) of each scenario that did not pass.
    pub failed: Vec<(String, PathBuf)>,
    /// What that run selected from (a re-run keeps it, so its own failures can be re-run).
    pub selection: Vec<String>,
}

/// The newest `summary.json` in the run folders directly under `dir`.
fn latest_under(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("summary.json"))
        .filter(|p| p.is_file())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

/// The summary a `--rerun-failed` value names: a `summary.json`, a run folder holding one, a
/// report folder (its latest run), or (empty) the latest run under `report_dir`.
pub fn summary_path(given: &str, report_dir: &Path) -> Result<PathBuf, String> {
    if given.is_empty() {
        return latest_under(report_dir).ok_or_else(|| {
            format!(
                "--rerun-failed: no earlier run with a summary.json under {}",
                report_dir.display()
            )
        });
    }
    let path = Path::new(given);
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        let own = path.join("summary.json");
        if own.is_file() {
            return Ok(own);
        }
        if let Some(latest) = latest_under(path) {
            return Ok(latest);
        }
    }
    Err(format!(
        "--rerun-failed: {} is not a run's summary.json, a run folder holding one, or a report folder of runs",
        crate::diag::visible(given)
    ))
}

/// A summary's key path as it may be shown: its indexes, and keys only where they are names a
/// summary uses (lowercase words); any other key (the file's own content: an escape sequence,
/// something that looks like a credential) is `<key>`.
pub fn shown_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let plain = |k: &str| {
        (1..=40).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if plain(key) { key } else { "<key>" });
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// Where in the summary a problem is, in words (never the value found there).
fn located(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    let at = shown_path(e.path());
    let kind = match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "it is not JSON",
        serde_json::error::Category::Data => "it is JSON, but not a run summary",
        serde_json::error::Category::Io => "it could not be read",
    };
    if at.is_empty() || at == "." {
        format!("{kind} (line {}, column {})", inner.line(), inner.column())
    } else {
        format!(
            "{kind}: the value at `{at}` is not what a summary holds there (line {}, column {})",
            inner.line(),
            inner.column()
        )
    }
}

/// The failed scenarios of the run whose summary is `path`, each checked: a name, and a
/// scenario file inside what that run selected from.
pub fn read(path: &Path) -> Result<Rerun, String> {
    let shown = path.display();
    let text = crate::check::read_text(path, 64 * 1024 * 1024)
        .map_err(|e| format!("--rerun-failed: {shown}: {e}"))?;
    let mut rerun = from_text(&text, &shown.to_string())?;
    rerun.summary = path.to_path_buf();
    Ok(rerun)
}

/// [`read`] of a summary's text; `shown` names where it came from.
pub fn from_text(text: &str, shown: &str) -> Result<Rerun, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let run: Run = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        format!(
            "--rerun-failed: {shown} cannot be read as a run summary: {}",
            located(&e)
        )
    })?;
    if run.format != FORMAT {
        return Err(format!(
            "--rerun-failed: {shown} is in summary format {}, which this harness does not read (it reads format {FORMAT})",
            run.format
        ));
    }
    let roots: Vec<PathBuf> = run
        .selection
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    if roots.is_empty() {
        return Err(format!(
            "--rerun-failed: {shown} names no scenario path that exists here (it selected from {}): run it from the folder the run was started in",
            crate::diag::visible(&run.selection.join(", "))
        ));
    }
    let mut failed = vec![];
    let mut problems = vec![];
    for (i, s) in run.scenarios.iter().enumerate() {
        if !matches!(
            s.outcome,
            crate::report::events::ScenarioOutcome::Failed
                | crate::report::events::ScenarioOutcome::Unfinished
        ) {
            continue;
        }
        let at = format!("scenarios[{i}]");
        if s.name.is_empty() {
            problems.push(format!("{at} did not pass but has no name"));
            continue;
        }
        let name = crate::diag::visible(&s.name);
        if s.file.is_empty() {
            problems.push(format!(
                "{at} ({name}) did not pass but names no scenario file"
            ));
            continue;
        }
        let file = PathBuf::from(&s.file);
        let inside = std::fs::canonicalize(&file)
            .ok()
            .filter(|f| f.is_file())
            .filter(|f| roots.iter().any(|r| f.starts_with(r)));
        match inside {
            Some(_) if matches!(
                file.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) =>
            {
                failed.push((s.name.clone(), file))
            }
            Some(_) => problems.push(format!(
                "{at} ({name}) names {}, which is not a scenario file (.yaml)",
                crate::diag::visible(&s.file)
            )),
            None => problems.push(format!(
                "{at} ({name}) names {}, which is not a file under the paths that run selected from ({})",
                crate::diag::visible(&s.file),
                crate::diag::visible(&run.selection.join(", "))
            )),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "--rerun-failed: {shown} cannot be re-run as it stands: {}",
            problems.join("; ")
        ));
    }
    Ok(Rerun {
        run_id: run.run_id,
        summary: PathBuf::from(shown),
        failed,
        selection: run.selection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::ScenarioOutcome;
    use crate::report::model::{Builder, Run};

    fn summary(dir: &Path, run_id: &str, scenarios: &[(&str, &str, ScenarioOutcome)]) -> PathBuf {
        let mut run: Run = Builder::new().run();
        run.run_id = run_id.into();
        run.selection = vec![dir.display().to_string()];
        for (name, file, outcome) in scenarios {
            run.scenarios.push(crate::report::model::Scenario {
                name: name.to_string(),
                file: file.to_string(),
                namespace: None,
                description: None,
                tags: vec![],
                outcome: *outcome,
                message: None,
                started_at: run.started_at.clone(),
                offset_secs: 0.0,
                finished_at: None,
                duration_secs: 0.0,
                steps: vec![],
                cleanup: vec![],
            });
        }
        let folder = dir.join("reports").join(run_id);
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("summary.json");
        crate::report::json::write(&path, &run).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        path
    }

    // Layer 1 (pure, files on disk): the latest run is found (bare, or given the report
    // folder); failed and unfinished scenarios are selected, passed and skipped ones are not.
    #[test]
    fn picks_the_failed_and_unfinished_scenarios_of_the_latest_run() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in ["a.yaml", "b.yaml", "c.yaml"] {
            std::fs::write(root.join(f), "name: x\n").unwrap();
        }
        let file = |f: &str| root.join(f).display().to_string();
        summary(
            root,
            "run-old",
            &[("a", &file("a.yaml"), ScenarioOutcome::Failed)],
        );
        summary(
            root,
            "run-new",
            &[
                ("a", &file("a.yaml"), ScenarioOutcome::Passed),
                ("b", &file("b.yaml"), ScenarioOutcome::Failed),
                ("c", &file("c.yaml"), ScenarioOutcome::Unfinished),
                ("d", &file("a.yaml"), ScenarioOutcome::Skipped),
            ],
        );
        let reports = root.join("reports");
        let latest = summary_path("", &reports).unwrap();
        assert_eq!(latest, reports.join("run-new/summary.json"));
        assert_eq!(
            summary_path(reports.to_str().unwrap(), Path::new("elsewhere")).unwrap(),
            latest,
            "the report folder itself names its latest run"
        );
        let rerun = read(&latest).unwrap();
        assert_eq!(rerun.run_id, "run-new");
        let names: Vec<&str> = rerun.failed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        let old = summary_path(reports.join("run-old").to_str().unwrap(), &reports).unwrap();
        assert_eq!(read(&old).unwrap().failed.len(), 1);
        let err = summary_path(root.join("nope").to_str().unwrap(), &reports).unwrap_err();
        assert!(err.contains("is not a run's summary.json"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = summary_path("", empty.path()).unwrap_err();
        assert!(err.contains("no earlier run"), "{err}");
    }

    // A summary that cannot be understood fully is refused, saying why, never echoing it.
    #[test]
    fn a_summary_it_cannot_read_fully_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.yaml"), "name: x\n").unwrap();
        let token = dir.path().join("token");
        std::fs::write(
            &token,
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.service-account-token\n",
        )
        .unwrap();
        let err = read(&token).unwrap_err();
        assert!(
            err.contains("it is not JSON") && !err.contains("eyJhbG"),
            "{err}"
        );
        let creds = dir.path().join("creds.json");
        std::fs::write(&creds, r#"{"url": "https://user:hunter2@git.example/x"}"#).unwrap();
        let err = read(&creds).unwrap_err();
        assert!(
            err.contains("not a run summary") && !err.contains("hunter2"),
            "{err}"
        );

        // A failed entry without a file, one outside the run's selection, one naming a folder.
        let path = summary(
            root,
            "run-x",
            &[
                ("nofile", "", ScenarioOutcome::Failed),
                ("outside", "/usr/share/doc/x.yaml", ScenarioOutcome::Failed),
                (
                    "folder",
                    &root.display().to_string(),
                    ScenarioOutcome::Failed,
                ),
            ],
        );
        let err = read(&path).unwrap_err();
        assert!(
            err.contains("scenarios[0] (nofile) did not pass but names no scenario file"),
            "{err}"
        );
        assert!(
            err.contains(
                "scenarios[1] (outside) names /usr/share/doc/x.yaml, which is not a file under"
            ),
            "{err}"
        );
        assert!(err.contains("scenarios[2] (folder)"), "{err}");
    }
}
