//! Evidence files: every piece of evidence of a failed step, complete (JUnit and the console
//! are bounded), under `<dir>/<scenario>/<NN-step>/<title>.txt`, written as the step finishes
//! so they exist even if the run is cut short. Like every reporter it sees events after the
//! runner's redaction, so the files hold no secret.

use super::Reporter;
use super::events::{Event, Phase};
use std::path::{Path, PathBuf};

pub struct EvidenceFiles {
    dir: PathBuf,
    error: Option<std::io::Error>,
}

impl EvidenceFiles {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir, error: None }
    }
}

/// A file or folder name from free text (titles hold `/`, spaces, parentheses).
fn file_name(text: &str) -> String {
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

fn write_all(dir: &Path, evidence: &[crate::cluster::Evidence]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for e in evidence {
        std::fs::write(dir.join(format!("{}.txt", file_name(&e.title))), &e.body)?;
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
        let step_dir = match step.phase {
            Phase::Main => format!("{:02}-{}", step.index + 1, step.id),
            Phase::Finally => format!("finally-{:02}-{}", step.index + 1, step.id),
            Phase::Guard => format!("guard-{}", step.id),
        };
        let dir = self
            .dir
            .join(file_name(scenario))
            .join(file_name(&step_dir));
        if let Err(e) = write_all(&dir, evidence) {
            self.error.get_or_insert(std::io::Error::new(
                e.kind(),
                format!("writing evidence under {}: {e}", dir.display()),
            ));
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}
