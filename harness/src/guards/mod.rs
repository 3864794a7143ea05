//! Guards: conditions a scenario declares for the whole run, watched in the background from
//! the step that starts them (default: the first) to the end of the main steps, with watches,
//! not polls. `spec.rs` owns the file format and its validation; `judge.rs` the pure judgement
//! of what the cluster reports (`cluster::Observation`s), fault windows included; the runner
//! (`runner/guards.rs`) starts the watches, feeds the judges and reports each guard as its own
//! test case.

pub mod judge;
pub mod spec;

pub use judge::{FaultLog, FaultWindow, Judge, Violation};
pub use spec::{Guard, GuardKind, RawGuard};
