//! Evidence files: every piece of evidence of a failed step, complete (JUnit and the console
//! are bounded), under `<run>/evidence/<scenario>/<NN-step>/<title>.txt` (the paths the run
//! model names, see [`super::model::evidence_dir`]), written as the step finishes so they exist
//! even if the run is cut short. Like every reporter it sees events after the runner's
//! redaction, so the files hold no secret.

use super::Reporter;
use super::events::Event;
use super::model::{evidence_dir, file_name};
use std::path::{Path, PathBuf};

pub struct EvidenceFiles {
    run_dir: PathBuf,
    error: Option<std::io::Error>,
}

impl EvidenceFiles {
    /// Writes under `run_dir` (the run's own folder).
    pub fn new(run_dir: PathBuf) -> Self {
        Self {
            run_dir,
            error: None,
        }
    }
}

fn write_all(dir: &Path, evidence: &[crate::cluster::Evidence]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for e in evidence {
        let path = dir.join(format!("{}.txt", file_name(&e.title)));
        match &e.spooled {
            // The complete file, not its excerpt: linked where the spool is on the same file
            // system (an hour's history is gigabytes), copied where it is not.
            Some(spool) => {
                let _ = std::fs::remove_file(&path);
                if std::fs::hard_link(spool.path(), &path).is_err() {
                    std::fs::copy(spool.path(), &path)?;
                }
            }
            None => std::fs::write(path, &e.body)?,
        }
    }
    Ok(())
}

impl Reporter for EvidenceFiles {
    fn event(&mut self, event: &Event) {
        let Event::StepFinished {
            scenario,
            step,
            evidence,
            ..
        } = event
        else {
            return;
        };
        if evidence.is_empty() {
            return;
        }
        let dir = self.run_dir.join(evidence_dir(scenario, step));
        if let Err(e) = write_all(&dir, evidence) {
            self.error.get_or_insert(std::io::Error::new(
                e.kind(),
                format!("writing evidence under {}: {e}", dir.display()),
            ));
        }
    }

    fn finish(&mut self, _: &super::model::Run) -> std::io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}

/// Layer 1 (local files): a spooled piece of evidence is written whole, not its excerpt.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Evidence, EvidenceKind};
    use crate::report::events::{Outcome, StepInfo};

    #[test]
    fn a_spooled_history_is_copied_whole_beside_the_other_evidence() {
        let mut w = crate::spool::SpoolWriter::new(1).unwrap();
        for i in 0..1000 {
            w.line(&format!("{{:index {i}}}"));
        }
        let (spool, tail) = w.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut reporter = EvidenceFiles::new(dir.path().to_path_buf());
        let step = StepInfo::setup("workload-w");
        reporter.event(&Event::StepFinished {
            scenario: "s".into(),
            step: step.clone(),
            outcome: Outcome::Passed,
            duration: std::time::Duration::ZERO,
            output: String::new(),
            evidence: vec![
                Evidence::spooled(EvidenceKind::Other, "history.edn", tail.join("\n"), spool),
                Evidence::new(EvidenceKind::Events, "events", "an event"),
            ],
            attempts: None,
            violations: vec![],
            measured: Default::default(),
        });
        let folder = dir.path().join(evidence_dir("s", &step));
        let history = std::fs::read_to_string(folder.join("history.edn.txt")).unwrap();
        assert_eq!(history.lines().count(), 1000);
        assert!(history.starts_with("{:index 0}\n"));
        assert_eq!(
            std::fs::read_to_string(folder.join("events.txt")).unwrap(),
            "an event"
        );
    }
}
