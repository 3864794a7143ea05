//! Executor tests against a scripted `Cluster` double (layer 1: no cluster, no network).

use super::*;
use crate::cluster::{
    CleanupItem, ClusterError, DeleteTarget, Endpoint, Evidence, ExecOutput, Fault, NodeInfo,
    PodInfo, PodTarget, ProxyPods, RolloutKind, ScalableKind, Selection, WaitCondition,
};
use crate::cluster::{Observation, Watch};
use crate::manifest::Manifest;
use crate::plan::{CleanupPolicy, PlannedStep, ScenarioPlan};
use crate::report::events::Collect;
use crate::scenario::model::ClusterNeeds;
use crate::steps::Action;
use crate::steps::apply::Apply;
use crate::steps::exec::{Exec, Expect};
use crate::steps::fault::FaultStep;
use crate::steps::wait::Wait;
use async_trait::async_trait;
use std::sync::Mutex as StdMutex;

/// Records every call; `wait` blocks forever on objects named `never`, exec fails in pods named
/// `bad`, and evidence says which namespace it came from.
#[derive(Default)]
struct Scripted {
    calls: StdMutex<Vec<String>>,
    nodes: Vec<NodeInfo>,
    /// What a guard's watch reports, at times since it started; then it stays open, quiet,
    /// as a real watch does. `Err` ends it with that error.
    observations: Vec<(u64, Observation)>,
    watch_error: Option<String>,
    /// Clean-up of objects with this name fails.
    stuck: Option<String>,
}

impl Scripted {
    fn log(&self, s: String) {
        self.calls.lock().unwrap().push(s);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Cluster for Scripted {
    fn describe(&self) -> (String, String) {
        ("scripted".into(), "v1.33.0".into())
    }
    async fn create_namespace(&self, ns: &str, _: &str) -> Result<CleanupItem, ClusterError> {
        self.log(format!("create-namespace {ns}"));
        Ok(CleanupItem::Namespace(ns.into()))
    }
    async fn apply(
        &self,
        ns: &str,
        _: &str,
        manifests: &[Manifest],
    ) -> Result<Vec<CleanupItem>, ClusterError> {
        self.log(format!("apply {}", manifests.len()));
        Ok(manifests
            .iter()
            .map(|m| CleanupItem::Object {
                api_version: "v1".into(),
                kind: m.kind().into(),
                namespace: Some(ns.into()),
                name: m.name().into(),
            })
            .collect())
    }
    async fn delete(&self, _: &str, _: &DeleteTarget, _: Duration) -> Result<(), ClusterError> {
        Ok(())
    }
    async fn scale(
        &self,
        _: &str,
        _: ScalableKind,
        name: &str,
        n: u32,
    ) -> Result<(), ClusterError> {
        self.log(format!("scale {name} {n}"));
        Ok(())
    }
    async fn wait(&self, _: &str, c: &WaitCondition, _: Duration) -> Result<String, ClusterError> {
        if let WaitCondition::Rollout { name, .. } = c
            && name == "never"
        {
            // As the real wait does: what it last saw is the journal's note.
            crate::journal::note(|| "3/4 ready, 4/4 updated".into());
            std::future::pending::<()>().await;
        }
        Ok("ready".into())
    }
    async fn list_pods(&self, _: &str, _: &str) -> Result<Vec<PodInfo>, ClusterError> {
        Ok(vec![])
    }
    async fn exec(
        &self,
        _: &str,
        pod: &str,
        _: Option<&str>,
        _: &[String],
        _: Option<&str>,
    ) -> Result<ExecOutput, ClusterError> {
        self.log(format!("exec {pod}"));
        // `third-time` fails until its third exec.
        let tries = self
            .calls()
            .iter()
            .filter(|c| *c == "exec third-time")
            .count();
        Ok(ExecOutput {
            stdout: format!("hello from {pod} password=hunter2-secret\n"),
            stderr: String::new(),
            exit_code: i32::from(pod == "bad" || (pod == "third-time" && tries < 3)),
        })
    }
    async fn fault(
        &self,
        _: &str,
        f: &Fault,
        _: Duration,
    ) -> Result<Vec<CleanupItem>, ClusterError> {
        match f {
            Fault::Cordon { node } => Ok(vec![CleanupItem::Uncordon(node.clone())]),
            // Deleting a pod and waiting for its replacement takes a while.
            Fault::DeletePod { .. } => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(vec![])
            }
            _ => Ok(vec![]),
        }
    }
    async fn endpoints(&self, _: &str, t: &PodTarget) -> Result<Vec<Endpoint>, ClusterError> {
        panic!("static endpoints never reach the cluster: {t:?}")
    }
    async fn proxy_endpoints(&self, _: &str, _: &ProxyPods) -> Result<Vec<Endpoint>, ClusterError> {
        Ok(vec![])
    }
    async fn secret_value(&self, _: &str, _: &str, _: &str) -> Result<String, ClusterError> {
        Ok(String::new())
    }
    async fn container_logs(
        &self,
        _: &str,
        pod: &str,
        _: bool,
        _: Option<Duration>,
    ) -> Result<Vec<crate::cluster::ContainerLog>, ClusterError> {
        self.log(format!("logs {pod}"));
        Ok(vec![])
    }
    async fn observe(
        &self,
        _: &str,
        watch: &Watch,
        tx: tokio::sync::mpsc::Sender<Observation>,
    ) -> Result<(), ClusterError> {
        self.log(format!("observe {watch:?}"));
        if let Some(e) = &self.watch_error {
            return Err(ClusterError::Api(e.clone()));
        }
        let start = tokio::time::Instant::now();
        for (at, obs) in &self.observations {
            tokio::time::sleep_until(start + Duration::from_secs(*at)).await;
            if tx.send(obs.clone()).await.is_err() {
                return Ok(());
            }
        }
        futures::future::pending::<()>().await;
        Ok(())
    }
    async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        self.log("list-nodes".into());
        Ok(self.nodes.clone())
    }
    async fn inject(
        &self,
        ns: &str,
        step: &str,
        fault: &Fault,
        _: Duration,
        register: &(dyn Fn(CleanupItem) + Send + Sync),
    ) -> Result<String, ClusterError> {
        self.log(format!("inject {step}"));
        register(CleanupItem::Heal(crate::cluster::Heal {
            step: step.into(),
            namespace: ns.into(),
            what: format!("undo {fault:?}"),
            calls: vec![],
            node: None,
        }));
        Ok(format!("{step}: made"))
    }
    async fn evidence(&self, ns: &str) -> Vec<Evidence> {
        self.log("evidence".into());
        vec![Evidence {
            kind: crate::cluster::EvidenceKind::Events,
            title: "events".into(),
            body: format!("events of {ns}: hunter2-secret"),
            spooled: None,
        }]
    }
    async fn cleanup(&self, item: &CleanupItem) -> Result<Option<String>, ClusterError> {
        self.log(format!("cleanup {item}"));
        match &self.stuck {
            Some(name) if item.to_string().ends_with(&format!("/{name}")) => Err(
                ClusterError::Api(format!("{item} has a finalizer that never clears")),
            ),
            _ => Ok(None),
        }
    }
}

/// A step with a 5 s timeout (shared with the Kubernetes layer's end-to-end test).
pub(crate) fn step(id: &str, action: Action) -> PlannedStep {
    PlannedStep {
        id: id.into(),
        kind: "x",
        description: None,
        timeout: Duration::from_secs(5),
        continue_on_error: false,
        retry: None,
        action,
    }
}

/// A wait the scripted cluster never satisfies.
pub(crate) fn hang() -> Action {
    Action::Wait(Wait(WaitCondition::Rollout {
        kind: RolloutKind::StatefulSet,
        name: "never".into(),
        every_node: false,
    }))
}

fn exec_in(pod: &str) -> Action {
    Action::Exec(Exec {
        pods: Selection::Name(pod.into()),
        container: None,
        command: vec!["true".into()],
        stdin: None,
        expect: Expect::default(),
    })
}

fn apply(manifests: Vec<Manifest>) -> Action {
    Action::Apply(Apply { manifests })
}

fn configmap(name: &str) -> Manifest {
    Manifest {
        origin: "inline#0".into(),
        object: serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
    }
}

/// A plan of scenario `demo` in namespace `h-demo-r` that needs a cluster.
pub(crate) fn plan(steps: Vec<PlannedStep>, finally: Vec<PlannedStep>) -> ScenarioPlan {
    ScenarioPlan {
        name: "demo".into(),
        file: "demo.yaml".into(),
        description: String::new(),
        tags: vec![],
        run_id: "r".into(),
        namespace: "h-demo-r".into(),
        cluster: ClusterNeeds {
            required: true,
            workers: 0,
            kubernetes_min: None,
            kubernetes_max: None,
        },
        deadline: Duration::from_secs(60),
        cleanup: CleanupPolicy::default(),
        steps,
        finally,
        guards: vec![],
        demand: Default::default(),
        images: vec![],
        probe_window: None,
        probe_window_reason: None,
        skip_if_undersized: false,
        secrets: vec!["hunter2-secret".into()],
        values: Default::default(),
    }
}

fn outcomes(events: &[Event]) -> Vec<(String, &'static str)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { step, outcome, .. } => Some((step.id.clone(), outcome.label())),
            _ => None,
        })
        .collect()
}

async fn run(
    cluster: &Scripted,
    plan: &ScenarioPlan,
    cancel: CancellationToken,
) -> (ScenarioResult, Vec<Event>) {
    let sink = Collect::default();
    let result = Executor {
        cluster,
        sink: &sink,
        cancel,
    }
    .run_scenario(plan)
    .await;
    (result, sink.events())
}

// Layer 1 (pure, scripted cluster double).
#[tokio::test]
async fn stops_at_first_failure_runs_finally_and_cleans_up_last_first() {
    let cluster = Scripted::default();
    let p = plan(
        vec![
            step("cm-a", apply(vec![configmap("a")])),
            step("cm-b", apply(vec![configmap("b")])),
            step("broken", exec_in("bad")),
            step("after", exec_in("good")),
        ],
        vec![step("teardown", exec_in("good"))],
    );
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    assert_eq!(
        outcomes(&events),
        vec![
            ("cm-a".into(), "PASS"),
            ("cm-b".into(), "PASS"),
            ("broken".into(), "FAIL"),
            ("after".into(), "SKIP"),
            ("teardown".into(), "PASS")
        ]
    );
    let calls = cluster.calls();
    let cleanups: Vec<&String> = calls.iter().filter(|c| c.starts_with("cleanup")).collect();
    assert_eq!(
        cleanups,
        [
            "cleanup ConfigMap h-demo-r/b",
            "cleanup ConfigMap h-demo-r/a",
            "cleanup namespace h-demo-r"
        ]
    );
    // evidence is gathered for the failure, before any clean-up
    let evidence_at = calls.iter().position(|c| c == "evidence").unwrap();
    let first_cleanup = calls.iter().position(|c| c.starts_with("cleanup")).unwrap();
    assert!(evidence_at < first_cleanup);
    assert!(matches!(
        events.last(),
        Some(Event::ScenarioFinished {
            outcome: crate::report::events::ScenarioOutcome::Failed,
            ..
        })
    ));
}

#[tokio::test]
async fn continue_on_error_keeps_going_but_fails_the_scenario() {
    let cluster = Scripted::default();
    let mut broken = step("broken", exec_in("bad"));
    broken.continue_on_error = true;
    let p = plan(vec![broken, step("after", exec_in("good"))], vec![]);
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    assert_eq!(
        outcomes(&events),
        vec![("broken".into(), "FAIL"), ("after".into(), "PASS")]
    );
}

#[tokio::test(start_paused = true)]
async fn step_deadline_times_out_and_cleanup_still_runs() {
    let cluster = Scripted::default();
    let p = plan(
        vec![step("hang", hang()), step("after", exec_in("good"))],
        vec![],
    );
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    assert_eq!(
        outcomes(&events),
        vec![("hang".into(), "TIMEOUT"), ("after".into(), "SKIP")]
    );
    assert!(
        cluster
            .calls()
            .contains(&"cleanup namespace h-demo-r".to_string())
    );
}

#[tokio::test(start_paused = true)]
async fn scenario_deadline_bounds_each_step() {
    let cluster = Scripted::default();
    let mut p = plan(vec![step("hang", hang())], vec![]);
    p.deadline = Duration::from_secs(2);
    let started = tokio::time::Instant::now();
    let (_, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the 5 s step timeout was not cut to the 2 s deadline"
    );
    let Some(Event::StepFinished {
        outcome: Outcome::TimedOut { message },
        ..
    }) = events
        .iter()
        .find(|e| matches!(e, Event::StepFinished { .. }))
    else {
        panic!("{events:?}")
    };
    assert!(message.contains("scenario deadline"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_cancels_the_running_step_then_finally_and_cleanup_run() {
    let cluster = Scripted::default();
    let p = plan(
        vec![
            step("cm", apply(vec![configmap("a")])),
            step("hang", hang()),
            step("after", exec_in("good")),
        ],
        vec![step("teardown", exec_in("good"))],
    );
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trigger.cancel();
    });
    let (result, events) = run(&cluster, &p, cancel).await;
    assert!(!result.passed);
    assert_eq!(
        outcomes(&events),
        vec![
            ("cm".into(), "PASS"),
            ("hang".into(), "CANCEL"),
            ("after".into(), "SKIP"),
            ("teardown".into(), "PASS")
        ]
    );
    // The cancelled wait keeps where it stood in its output (the reports show it).
    let hang_output = events.iter().find_map(|e| match e {
        Event::StepFinished { step, output, .. } if step.id == "hang" => Some(output.clone()),
        _ => None,
    });
    assert_eq!(
        hang_output.as_deref(),
        Some("last seen: 3/4 ready, 4/4 updated")
    );
    let calls = cluster.calls();
    assert!(calls.contains(&"evidence".to_string()));
    assert_eq!(calls.iter().filter(|c| c.starts_with("cleanup")).count(), 2);
}

#[tokio::test]
async fn keep_on_failure_keeps_and_cordon_registers_an_uncordon() {
    let cluster = Scripted::default();
    let mut p = plan(
        vec![
            step(
                "cordon",
                Action::Fault(FaultStep(Fault::Cordon {
                    node: "kind-worker".into(),
                })),
            ),
            step("broken", exec_in("bad")),
        ],
        vec![],
    );
    p.cleanup.keep_on_failure = true;
    let (_, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!cluster.calls().iter().any(|c| c.starts_with("cleanup")));
    let kept: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::CleanupFinished { .. }))
        .collect();
    assert_eq!(kept.len(), 2);
    assert!(
        matches!(kept[0], Event::CleanupFinished { item, .. } if item == "uncordon node kind-worker")
    );

    let cluster = Scripted::default();
    p.cleanup.keep_on_failure = false;
    run(&cluster, &p, CancellationToken::new()).await;
    assert!(
        cluster
            .calls()
            .contains(&"cleanup uncordon node kind-worker".to_string())
    );
}

#[tokio::test]
async fn secrets_never_reach_the_sink() {
    let cluster = Scripted::default();
    let p = plan(
        vec![step("ok", exec_in("good")), step("broken", exec_in("bad"))],
        vec![],
    );
    let (_, events) = run(&cluster, &p, CancellationToken::new()).await;
    let text = serde_json::to_string(&events).unwrap();
    assert!(text.contains("hello from good"), "{text}");
    assert!(!text.contains("hunter2-secret"), "{text}");
}

#[tokio::test]
async fn a_verifier_whose_servers_are_unreachable_fails_the_step_naming_them() {
    let cluster = Scripted::default();
    use crate::verify::cassandra::cql::{CqlSpec, consistency};
    let spec = crate::verify::VerifySpec::Cql(CqlSpec {
        target: crate::verify::Target::Endpoints(vec![Endpoint::parse("127.0.0.1:9042").unwrap()]),
        credentials: None,
        script: None,
        query: "SELECT emp_id FROM my_cassandra_keyspace.employee".into(),
        expect_rows: 3,
        consistency: consistency("QUORUM").unwrap(),
        nodetool: true,
        container: None,
        version: None,
    });
    let mut s = step("ring", Action::Verify(crate::steps::Verify(spec)));
    s.kind = "verify";
    let (result, events) = run(&cluster, &plan(vec![s], vec![]), CancellationToken::new()).await;
    assert!(!result.passed);
    let message = events.iter().find_map(|e| match e {
        Event::StepFinished {
            outcome: Outcome::Failed { message },
            ..
        } => Some(message.clone()),
        _ => None,
    });
    let message = message.expect("a failure message");
    assert!(
        message.starts_with("connecting to 127.0.0.1:9042"),
        "{message}"
    );
}

/// A TCP server that accepts connections and never says anything (a hung server).
async fn silent_server() -> (Endpoint, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut endpoint = Endpoint::parse(&format!("127.0.0.1:{port}")).unwrap();
    endpoint.name = format!("hung-{port}");
    (endpoint, task)
}

// Layer 1 (pure, loopback sockets): a step deadline that cuts a verifier short names the
// endpoints still pending and what each was asked, and the report keeps what was done.
#[tokio::test]
async fn a_verifier_cut_short_by_its_deadline_names_the_pending_endpoints() {
    let (a, _a) = silent_server().await;
    let (b, _b) = silent_server().await;
    let spec =
        crate::verify::VerifySpec::GaleraStatus(crate::verify::galera::status::GaleraStatusSpec {
            target: crate::verify::Target::Endpoints(vec![a.clone(), b.clone()]),
            credentials: crate::verify::Credentials {
                user: "root".into(),
                password: None,
            },
            size: None,
            durable_commits: false,
            version: None,
        });
    let mut s = step("status", Action::Verify(crate::steps::Verify(spec)));
    s.kind = "verify";
    s.timeout = Duration::from_millis(700);
    let mut p = plan(vec![s], vec![]);
    p.cluster.required = false;
    let (result, events) = run(&Scripted::default(), &p, CancellationToken::new()).await;
    assert!(!result.passed);
    let (message, output) = events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished {
                outcome: Outcome::TimedOut { message },
                output,
                ..
            } => Some((message.clone(), output.clone())),
            _ => None,
        })
        .expect("the step timed out");
    assert!(message.contains("did not finish within 700ms"), "{message}");
    for node in [&a.name, &b.name] {
        assert!(
            message.contains(&format!("{node} (connect for")),
            "{message}"
        );
        assert!(
            output.contains(&format!("{node}: connect: no answer yet")),
            "{output}"
        );
    }
}

// Layer 1 (scripted cluster): a scenario that declares more workers than the cluster has
// schedulable nodes fails at once, naming the shortfall and each node that does not count,
// with nothing created; `--skip-undersized` skips it instead.
#[tokio::test]
async fn a_cluster_with_too_few_schedulable_nodes_fails_or_skips_the_scenario_at_once() {
    let node = |name: &str, why: Option<&str>| NodeInfo {
        name: name.into(),
        unschedulable: why.map(str::to_string),
        allocatable: None,
        requested: Default::default(),
    };
    let cluster = Scripted {
        nodes: vec![
            node(
                "cp",
                Some("taint node-role.kubernetes.io/control-plane:NoSchedule"),
            ),
            node("w1", None),
            node("w2", Some("cordoned")),
        ],
        ..Default::default()
    };
    let mut quick = step("never-runs", hang());
    quick.timeout = Duration::from_millis(50);
    let mut p = plan(vec![quick], vec![]);
    p.cluster.workers = 3;
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    let message = events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished {
                outcome: Outcome::Failed { message },
                ..
            } => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        message,
        "the scenario declares cluster.workers: 3, but the cluster has 1 schedulable node(s), 2 short: cp (taint node-role.kubernetes.io/control-plane:NoSchedule), w1, w2 (cordoned)"
    );
    assert_eq!(cluster.calls(), vec!["list-nodes"], "nothing was created");
    assert_eq!(
        outcomes(&events),
        vec![
            ("cluster-size".to_string(), "FAIL"),
            ("never-runs".to_string(), "SKIP")
        ]
    );

    p.skip_if_undersized = true;
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(result.passed);
    assert_eq!(outcomes(&events)[0], ("cluster-size".to_string(), "SKIP"));

    // Enough schedulable nodes: the scenario runs.
    p.cluster.workers = 1;
    p.skip_if_undersized = false;
    let cluster = Scripted {
        nodes: cluster.nodes.clone(),
        ..Default::default()
    };
    let (_, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert_eq!(outcomes(&events)[0].0, "never-runs");
}

// Layer 1 (scripted cluster): a retried step passes on its third attempt and says so; one that
// never passes fails when `for` is up with the last failure and the number of attempts; a
// step without `retry` runs once.
#[tokio::test(start_paused = true)]
async fn a_retried_step_passes_on_a_later_attempt_or_fails_with_the_last_failure() {
    let retry = crate::scenario::model::Retry {
        every: Duration::from_secs(2),
        for_: Duration::from_secs(10),
    };
    let cluster = Scripted::default();
    let mut flaky = step("eventually", exec_in("third-time"));
    flaky.timeout = Duration::from_secs(60);
    flaky.retry = Some(retry);
    let (result, events) = run(
        &cluster,
        &plan(vec![flaky], vec![]),
        CancellationToken::new(),
    )
    .await;
    assert!(result.passed);
    let output = events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished { output, .. } => Some(output.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        output.starts_with("passed on attempt 3 (retried every 2s for 10s)"),
        "{output}"
    );

    let cluster = Scripted::default();
    let mut never = step("never", exec_in("bad"));
    never.timeout = Duration::from_secs(60);
    never.retry = Some(retry);
    let (result, events) = run(
        &cluster,
        &plan(vec![never], vec![]),
        CancellationToken::new(),
    )
    .await;
    assert!(!result.passed);
    let message = events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished {
                outcome: Outcome::Failed { message },
                ..
            } => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    // Tries at 0, 2, 4, 6 and 8 s; the next would start at 10 s, when `for` is up.
    assert!(
        message.ends_with("(attempt 5, retried every 2s for 10s; the last failure)"),
        "{message}"
    );
    let execs = cluster.calls().iter().filter(|c| *c == "exec bad").count();
    assert_eq!(execs, 5);

    let cluster = Scripted::default();
    let (_, _) = run(
        &cluster,
        &plan(vec![step("once", exec_in("bad"))], vec![]),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        cluster.calls().iter().filter(|c| *c == "exec bad").count(),
        1
    );
}

fn sleep_step(id: &str, secs: u64) -> PlannedStep {
    let mut s = step(
        id,
        Action::Sleep(crate::steps::sleep::Sleep(Duration::from_secs(secs))),
    );
    s.timeout = Duration::from_secs(60);
    s
}

fn guard(
    name: &str,
    from: usize,
    fail_fast: bool,
    kind: crate::guards::GuardKind,
) -> crate::guards::Guard {
    crate::guards::Guard {
        name: name.into(),
        from,
        fail_fast,
        kind,
    }
}

fn pod_seen(name: &str, initial: bool, restarts: i32) -> Observation {
    Observation::Pod {
        name: name.into(),
        uid: format!("uid-{name}"),
        initial,
        ready: true,
        restarts: std::collections::BTreeMap::from([("db".to_string(), restarts)]),
        gone: false,
    }
}

/// (step id, label, message) of every step and guard, in order.
fn verdicts(events: &[Event]) -> Vec<(String, &'static str, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { step, outcome, .. } => Some((
                match step.phase {
                    Phase::Guard => format!("guard {}", step.id),
                    _ => step.id.clone(),
                },
                outcome.label(),
                outcome.message().unwrap_or_default().to_string(),
            )),
            _ => None,
        })
        .collect()
}

// Layer 1 (scripted cluster, paused clock): a restart while a fault step deletes that pod is
// excused; a restart of another pod outside it fails the guard (its own test case) and the
// scenario, while every step still runs.
#[tokio::test(start_paused = true)]
async fn a_guard_excuses_what_a_fault_explains_and_fails_on_the_rest() {
    let cluster = Scripted {
        observations: vec![
            (1, pod_seen("db-0", true, 0)),
            (1, pod_seen("db-1", true, 0)),
            (12, pod_seen("db-1", false, 1)),
            (20, pod_seen("db-0", false, 1)),
        ],
        ..Default::default()
    };
    let mut fault = step(
        "kill-db-1",
        Action::Fault(FaultStep(Fault::DeletePod {
            name: "db-1".into(),
            wait_for_replacement: true,
        })),
    );
    fault.timeout = Duration::from_secs(60);
    let mut p = plan(
        vec![sleep_step("before", 10), fault, sleep_step("after", 10)],
        vec![],
    );
    p.guards = vec![guard(
        "no-restarts",
        0,
        false,
        crate::guards::GuardKind::NoRestarts {
            selector: "app=db".into(),
        },
    )];
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    let v = verdicts(&events);
    assert_eq!(
        v.iter()
            .map(|(id, label, _)| (id.as_str(), *label))
            .collect::<Vec<_>>(),
        vec![
            ("before", "PASS"),
            ("kill-db-1", "PASS"),
            ("after", "PASS"),
            ("guard no-restarts", "FAIL")
        ]
    );
    assert_eq!(
        v[3].2,
        "guard `no-restarts` violated 1 time(s); first at +20s: Pod/db-0: container db of db-0 restarted (restart count 0 -> 1)"
    );
    let output = events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished { step, output, .. } if step.phase == Phase::Guard => {
                Some(output.clone())
            }
            _ => None,
        })
        .unwrap();
    assert!(
        output.contains(
            "excused: container db of db-1 restarted (restart count 0 -> 1), during `kill-db-1`"
        ),
        "{output}"
    );
    // Evidence was gathered for the violated guard, before clean-up.
    let calls = cluster.calls();
    let evidence = calls.iter().position(|c| c == "evidence").unwrap();
    let cleanup = calls.iter().position(|c| c.starts_with("cleanup")).unwrap();
    assert!(evidence < cleanup, "{calls:?}");
}

// Layer 1: a `fail_fast` guard stops the running step at its first violation and skips the
// rest; a guard that starts at a later step watches only from there; a guard whose step never
// ran is skipped; a guard that cannot watch fails.
#[tokio::test(start_paused = true)]
async fn fail_fast_later_starts_unstarted_and_blind_guards() {
    let line = |text: &str| Observation::LogLine {
        pod: "db-0".into(),
        container: "db".into(),
        line: text.into(),
    };
    let cluster = Scripted {
        observations: vec![(2, line("ok")), (3, line("[ERROR] disk full"))],
        ..Default::default()
    };
    let mut p = plan(vec![sleep_step("one", 10), sleep_step("two", 10)], vec![]);
    p.guards = vec![
        guard(
            "no-errors",
            0,
            true,
            crate::guards::GuardKind::NoLogMatch {
                selector: "app=db".into(),
                container: None,
                regex: crate::check::Pattern::new(r"\[ERROR\]").unwrap(),
            },
        ),
        guard(
            "from-two",
            1,
            false,
            crate::guards::GuardKind::NoRestarts {
                selector: "app=db".into(),
            },
        ),
    ];
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    let v = verdicts(&events);
    assert_eq!(v[0].0, "one");
    assert_eq!(v[0].1, "CANCEL");
    assert!(v[0].2.contains("a fail_fast guard was violated"), "{v:?}");
    assert_eq!((v[1].0.as_str(), v[1].1), ("two", "SKIP"));
    assert_eq!(v[1].2, "a fail_fast guard was violated");
    assert_eq!(v[2].0, "guard no-errors");
    assert_eq!(
        v[2].2,
        "guard `no-errors` violated 1 time(s); first at +3s: db-0/db: logged `[ERROR] disk full`"
    );
    // Its step never ran: skipped, not passed.
    assert_eq!((v[3].0.as_str(), v[3].1), ("guard from-two", "SKIP"));

    let blind = Scripted {
        watch_error: Some("403 Forbidden: pods is forbidden".into()),
        ..Default::default()
    };
    let mut p = plan(vec![sleep_step("one", 1)], vec![]);
    p.guards = vec![guard(
        "no-restarts",
        0,
        false,
        crate::guards::GuardKind::NoRestarts {
            selector: "app=db".into(),
        },
    )];
    let (result, events) = run(&blind, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    let v = verdicts(&events);
    assert_eq!(v[1].1, "FAIL");
    assert!(v[1].2.contains("could not watch the cluster"), "{v:?}");
}

// Layer 1 (scripted cluster): a scenario whose pods request more than the schedulable nodes
// have free fails at once, naming the shortfall and what asks it, with nothing created.
#[tokio::test]
async fn a_scenario_that_cannot_fit_the_nodes_fails_before_creating_anything() {
    use crate::capacity::{Demand, Resources};
    let cluster = Scripted {
        nodes: vec![NodeInfo {
            name: "kind-worker".into(),
            unschedulable: None,
            allocatable: Some(Resources {
                cpu_milli: 2000,
                memory: 4 << 30,
            }),
            requested: Resources {
                cpu_milli: 500,
                memory: 0,
            },
        }],
        ..Default::default()
    };
    let mut p = plan(vec![step("never-runs", hang())], vec![]);
    p.cluster.workers = 1;
    p.demand = Demand {
        total: Resources {
            cpu_milli: 4000,
            memory: 1 << 30,
        },
        per_node: Resources::default(),
        largest_pod: Resources {
            cpu_milli: 1000,
            memory: 256 << 20,
        },
        parts: vec!["StatefulSet/cassandra: 4 x 1 CPU and 256Mi".into()],
    };
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    let v = verdicts(&events);
    assert_eq!((v[0].0.as_str(), v[0].1), ("cluster-size", "FAIL"));
    assert!(
        v[0].2
            .starts_with("the scenario requests 4 CPU and 1Gi at its largest scale"),
        "{v:?}"
    );
    assert!(
        v[0].2.contains("kind-worker 1500m CPU and 4Gi free"),
        "{v:?}"
    );
    assert_eq!(cluster.calls(), vec!["list-nodes"], "nothing was created");
}

// A clean-up that fails is a failure: the scenario fails (exit 1) and the event names what was
// left where; so does a verifier's clean-up that fails.
#[tokio::test]
async fn a_failed_clean_up_fails_the_scenario_naming_what_was_left() {
    let cluster = Scripted {
        stuck: Some("stuck".into()),
        ..Default::default()
    };
    let p = plan(
        vec![step(
            "cm",
            apply(vec![configmap("stuck"), configmap("fine")]),
        )],
        vec![],
    );
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed, "{events:#?}");
    let failed: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::CleanupFinished { item, outcome, .. } => {
                outcome.failure().map(|m| format!("{item}: {m}"))
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert!(failed[0].contains("ConfigMap h-demo-r/stuck") && failed[0].contains("finalizer"));

    // A verifier's clean-up (registered in the scenario's state) that fails.
    let state = ScenarioState::new(vec![]);
    state.undo.register("drop database x", async {
        Err::<(), String>("database x left on db-0: no node could drop it".into())
    });
    let work = state.undo.take().remove(0).1;
    let outcome = bounded_cleanup(CLEANUP_TIMEOUT, async { work.await.map(|()| None) }).await;
    assert_eq!(
        outcome.failure(),
        Some("database x left on db-0: no node could drop it")
    );
}

// Layer 1 (scripted cluster, paused clock): guards keep watching after the last step that
// starts pods for as long as the slowest probe needs to fail, so a liveness probe that kills
// its container 25 s after the apply is caught though the main steps ended at 2 s; without
// probes the guard stops with the main steps and the same restart is outside what it judged.
#[tokio::test(start_paused = true)]
async fn guards_watch_for_the_probe_window_after_the_last_step_that_starts_pods() {
    let script = || Scripted {
        observations: vec![
            (0, pod_seen("db-0", true, 0)),
            (25, pod_seen("db-0", false, 1)),
        ],
        ..Default::default()
    };
    let make = |window: Option<u64>| {
        let mut p = plan(
            vec![
                step("deploy", apply(vec![configmap("db")])),
                sleep_step("settle", 2),
            ],
            vec![],
        );
        p.guards = vec![guard(
            "no-restarts",
            0,
            false,
            crate::guards::GuardKind::NoRestarts {
                selector: "app=db".into(),
            },
        )];
        p.probe_window = window.map(Duration::from_secs);
        p.probe_window_reason = window.map(|_| "liveness of StatefulSet/db container db".into());
        p
    };

    let cluster = script();
    let (result, events) = run(&cluster, &make(Some(31)), CancellationToken::new()).await;
    assert!(!result.passed);
    let v = verdicts(&events);
    assert_eq!(v[2].0, "guard no-restarts");
    assert_eq!(v[2].1, "FAIL", "{v:?}");
    assert!(v[2].2.contains("first at +25s"), "{v:?}");

    let cluster = script();
    let (result, events) = run(&cluster, &make(None), CancellationToken::new()).await;
    assert!(result.passed, "{:?}", verdicts(&events));
}

// Layer 1 (scripted cluster): a guard whose selector matched no pod the whole run fails
// saying it watched nothing (a typo in a selector must not pass as "no restarts").
#[tokio::test(start_paused = true)]
async fn a_guard_that_watched_nothing_fails() {
    let cluster = Scripted::default();
    let mut p = plan(vec![sleep_step("settle", 2)], vec![]);
    p.guards = vec![guard(
        "no-restarts",
        0,
        false,
        crate::guards::GuardKind::NoRestarts {
            selector: "app=dbb".into(),
        },
    )];
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    assert!(!result.passed);
    let v = verdicts(&events);
    assert_eq!((v[1].0.as_str(), v[1].1), ("guard no-restarts", "FAIL"));
    assert_eq!(
        v[1].2,
        "guard `no-restarts` watched nothing, so it cannot vouch for the run: no pod matched app=dbb while it watched (from +0s to +2s)"
    );
}

// Layer 1 (scripted cluster, paused clock): a pause that lasts beyond its step excuses what it
// causes to its pod until the step that heals it, and no longer; the heal runs the clean-up
// it registered (once: the clean-up list no longer holds it).
#[tokio::test(start_paused = true)]
async fn a_lasting_fault_excuses_its_pod_until_it_is_healed() {
    let cluster = Scripted {
        observations: vec![
            (1, pod_seen("db-1", true, 0)),
            // Beyond the pause step's end and the settling time after it, before the heal.
            (55, pod_seen("db-1", false, 1)),
            // After the heal and its settling time.
            (110, pod_seen("db-1", false, 2)),
        ],
        ..Default::default()
    };
    let pause = step(
        "freeze-db-1",
        Action::Fault(FaultStep(Fault::Pause {
            pod: "db-1".into(),
            container: None,
            lasting: None,
        })),
    );
    let heal = step(
        "thaw",
        Action::Fault(FaultStep(Fault::Heal {
            step: "freeze-db-1".into(),
        })),
    );
    let mut p = plan(
        vec![
            sleep_step("before", 10),
            pause,
            sleep_step("frozen", 60),
            heal,
            sleep_step("after", 60),
        ],
        vec![],
    );
    // Room for its 130 s of steps.
    p.deadline = Duration::from_secs(600);
    p.guards = vec![guard(
        "no-restarts",
        0,
        false,
        crate::guards::GuardKind::NoRestarts {
            selector: "app=db".into(),
        },
    )];
    let (result, events) = run(&cluster, &p, CancellationToken::new()).await;
    let v = verdicts(&events);
    assert!(!result.passed, "{v:?}");
    assert_eq!(v[3], ("thaw".into(), "PASS", String::new()), "{v:?}");
    assert_eq!(
        v[5].2,
        "guard `no-restarts` violated 1 time(s); first at +110s: Pod/db-1: container db of db-1 restarted (restart count 1 -> 2)"
    );
    let calls = cluster.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("cleanup heal"))
            .count(),
        1,
        "healed by its step, not again at the clean-up: {calls:?}"
    );
}
