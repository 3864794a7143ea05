//! The conformance harness: scenario file -> raw serde types -> validated, typed model -> plan
//! -> runner (emits events) -> reporters. `ARCHITECTURE.md` at the repository root draws it.
//!
//! - [`scenario`]: loading and validating scenario files (the only module that knows their shape).
//! - [`check`]: the validation context step kinds and verifiers use on their raw specs.
//! - [`steps`]: one module per step kind, registered in one list.
//! - [`guards`]: conditions watched for the whole run (no restarts, no unready, no log match, no
//!   warning events).
//! - [`verify`]: data-level verifiers grouped by system, registered in one list.
//! - [`plan`]: the IO-free plan of a run.
//! - [`runner`]: executes plans against the cluster port and emits events.
//! - [`journal`]: what a running step asked and heard, kept for a deadline that cuts it short.
//! - [`measured`]: what a step measured (figures, workload spans), as the reports carry it.
//! - [`cluster`]: the cluster port and its typed vocabulary; [`k8s`] implements it on kube-rs.
//! - [`provider`]: getting a cluster (kind, Minikube, k3s, an existing context).
//! - [`report`]: the events and the reporters that consume them (console, JUnit, JSON).
//! - [`cli`]: the command line, thin: select, then run through the same pipeline.

pub mod capacity;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod diag;
pub mod fault_agent;
pub mod guards;
pub mod journal;
pub mod k8s;
pub mod manifest;
pub mod measured;
pub mod plan;
pub mod provider;
pub mod quantity;
pub mod redact;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod spool;
pub mod steps;
#[cfg(test)]
mod testing;
pub mod vars;
pub mod verify;
pub mod yaml_guard;
