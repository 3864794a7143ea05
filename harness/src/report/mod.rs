//! Reporters: they consume the runner's [`Event`]s (defined here, in [`events`], beside their
//! consumers) and write results. The console reporter prints
//! live progress to stdout; the JUnit and JSON reporters write files at the end of the run; the
//! evidence files reporter writes each failed step's evidence, complete, as it comes; the HTML
//! reporter writes one self-contained page with a timeline per scenario.

pub mod budget;
pub mod console;
pub mod events;
pub mod evidence_files;
pub mod html;
pub mod json;
pub mod junit;
pub mod model;
#[cfg(test)]
pub(crate) mod sample;
pub mod sanitize;
pub mod verdict;

use events::{Event, EventSink};
use std::sync::Mutex;

/// Something that turns a run into output: live, from each event as it comes (the console, the
/// evidence files), or at the end, from the run model every reporter shares (JUnit, HTML, the
/// summary).
pub trait Reporter: Send {
    fn event(&mut self, _event: &Event) {}
    /// Called once after the run, with the whole run, to write files.
    fn finish(&mut self, _run: &model::Run) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fans events out to every reporter, in order, and builds the one run model they finish with.
pub struct Fanout(Mutex<(model::Builder, Vec<Box<dyn Reporter>>)>);

impl Fanout {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Self(Mutex::new((model::Builder::new(), reporters)))
    }

    /// The run as seen so far.
    pub fn run(&self) -> model::Run {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0.run()
    }

    /// Lets every reporter write; one that fails does not stop the others. Returns what failed.
    pub fn finish(&self) -> Vec<std::io::Error> {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let run = guard.0.run();
        guard
            .1
            .iter_mut()
            .filter_map(|r| r.finish(&run).err())
            .collect()
    }
}

impl EventSink for Fanout {
    fn emit(&self, event: Event) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (builder, reporters) = &mut *guard;
        builder.see(&event);
        for r in reporters.iter_mut() {
            r.event(&event);
        }
    }
}
