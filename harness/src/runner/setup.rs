//! Before the first step: whether the cluster can hold the scenario (nodes, CPU, memory),
//! and the scenario's own namespace, registered for clean-up as soon as it exists.

use super::{Executor, Run, ScenarioResult, guard_info, info, skipped};
use crate::plan::ScenarioPlan;
use crate::report::events::{Event, Outcome, Phase, ScenarioOutcome, StepInfo};

impl Executor<'_> {
    /// Creates the scenario's namespace when it needs a cluster; why the main steps cannot
    /// run when that failed.
    pub(super) async fn set_up_namespace(&self, run: &mut Run<'_>) -> Option<String> {
        let plan = run.plan;
        if !plan.cluster.required {
            return None;
        }
        match self
            .cluster
            .create_namespace(&plan.namespace, &plan.name)
            .await
        {
            Ok(item) => {
                run.register_cleanup(item);
                None
            }
            Err(e) => {
                run.failed = true;
                run.sink.emit(Event::StepFinished {
                    scenario: plan.name.clone(),
                    step: StepInfo::setup("namespace"),
                    outcome: Outcome::Failed {
                        message: format!("creating namespace {}: {e}", plan.namespace),
                    },
                    duration: run.started.elapsed(),
                    output: String::new(),
                    evidence: vec![],
                    attempts: None,
                    violations: vec![],
                    measured: Default::default(),
                });
                Some("the namespace could not be created".to_string())
            }
        }
    }

    /// Why the cluster cannot hold the scenario: fewer schedulable nodes than its
    /// `cluster.workers` (each node named with why it does not count), less free CPU or memory
    /// than its pods request at their largest scale, or the nodes could not be listed. `None`
    /// when it fits.
    pub(super) async fn undersized(&self, plan: &ScenarioPlan) -> Option<String> {
        let want = plan.cluster.workers;
        if !plan.cluster.required || (want == 0 && plan.demand.is_empty()) {
            return None;
        }
        let nodes = match self.cluster.nodes().await {
            Ok(nodes) => nodes,
            Err(e) => return Some(format!("cannot count the cluster's nodes: {e}")),
        };
        let usable = nodes.iter().filter(|n| n.unschedulable.is_none()).count();
        if usable >= want as usize {
            return crate::capacity::fits(&plan.demand, &nodes).err();
        }
        let listed: Vec<String> = nodes
            .iter()
            .map(|n| match &n.unschedulable {
                None => n.name.clone(),
                Some(why) => format!("{} ({why})", n.name),
            })
            .collect();
        Some(format!(
            "the scenario declares cluster.workers: {want}, but the cluster has {usable} schedulable node(s), {} short: {}",
            want as usize - usable,
            if listed.is_empty() {
                "no nodes".to_string()
            } else {
                listed.join(", ")
            }
        ))
    }

    /// Reports a scenario the cluster cannot hold: failed, or skipped when the run asked for
    /// that (`--skip-undersized`); nothing was created, so there is nothing to clean up.
    pub(super) fn not_run(&self, run: &Run<'_>, shortfall: String) -> ScenarioResult {
        let (plan, sink, started) = (run.plan, &run.sink, run.started);
        let skip = plan.skip_if_undersized && !shortfall.starts_with("cannot count");
        let setup = StepInfo::setup("cluster-size");
        sink.emit(Event::StepFinished {
            scenario: plan.name.clone(),
            step: setup,
            outcome: if skip {
                Outcome::Skipped {
                    reason: format!("{shortfall} (--skip-undersized)"),
                }
            } else {
                Outcome::Failed {
                    message: shortfall.clone(),
                }
            },
            duration: started.elapsed(),
            output: String::new(),
            evidence: vec![],
            attempts: None,
            violations: vec![],
            measured: Default::default(),
        });
        let reason = "the cluster cannot hold the scenario";
        for (index, step) in plan.steps.iter().enumerate() {
            sink.emit(skipped(plan, info(step, index, Phase::Main), reason));
        }
        for (index, step) in plan.finally.iter().enumerate() {
            sink.emit(skipped(plan, info(step, index, Phase::Finally), reason));
        }
        for index in 0..plan.guards.len() {
            sink.emit(skipped(plan, guard_info(plan, index), reason));
        }
        sink.emit(Event::ScenarioFinished {
            scenario: plan.name.clone(),
            outcome: if skip {
                ScenarioOutcome::Skipped
            } else {
                ScenarioOutcome::Failed
            },
            duration: started.elapsed(),
        });
        ScenarioResult {
            name: plan.name.clone(),
            passed: skip,
        }
    }
}
