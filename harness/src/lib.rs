//! The conformance harness: scenario files -> validated model -> plan -> executor -> reports.
//!
//! - [`scenario`]: loading and validating scenario files.
//! - [`plan`]: the resolved, IO-free plan of a run.
//! - [`exec`]: the executor, the [`exec::Cluster`] trait it runs against, and its events.
//! - [`steps`]: one module per step kind.
//! - [`verify`]: data-level verifiers (one module per verifier).
//! - [`report`]: reporters consuming events (console, JUnit, JSON).
//! - [`k8s`]: the `Cluster` on kube-rs, and the providers (kind, Minikube, existing).

pub mod cli;
pub mod diag;
pub mod exec;
pub mod k8s;
pub mod manifest;
pub mod plan;
pub mod redact;
pub mod report;
pub mod scenario;
pub mod steps;
pub mod vars;
pub mod verify;
