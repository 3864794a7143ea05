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
pub mod sanitize;
pub mod verdict;

use events::{Event, EventSink};
use std::sync::Mutex;

/// Something that turns events into output.
pub trait Reporter: Send {
    fn event(&mut self, event: &Event);
    /// Called once after the run, to write files.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fans events out to every reporter, in order.
pub struct Fanout(pub Mutex<Vec<Box<dyn Reporter>>>);

impl Fanout {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Self(Mutex::new(reporters))
    }
    pub fn finish(&self) -> std::io::Result<()> {
        let mut reporters = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for r in reporters.iter_mut() {
            r.finish()?;
        }
        Ok(())
    }
}

impl EventSink for Fanout {
    fn emit(&self, event: Event) {
        let mut reporters = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for r in reporters.iter_mut() {
            r.event(&event);
        }
    }
}
