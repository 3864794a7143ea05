//! `harness run`: selects and plans scenarios, gets a cluster from the provider, runs the plans
//! with every reporter attached, and gives the cluster back.

use super::select::{self, new_run_id};
use super::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE, Provider, RunArgs};
use crate::cluster::{Cluster, NoCluster};
use crate::plan::{CleanupPolicy, ScenarioPlan};
use crate::provider as prov;
use crate::report::events::{Event, EventSink, Selection};
use crate::report::{
    Fanout, Reporter, console::ConsoleReporter, evidence_files::EvidenceFiles, html::HtmlReporter,
    json::SummaryReporter, junit::JunitReporter,
};
use crate::runner::Executor;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a run is, besides its plans: its id and report paths, how many scenarios run at once,
/// what it selected from, and the run it re-runs.
#[derive(Debug, Clone)]
pub struct RunSetup {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub junit: PathBuf,
    pub summary: PathBuf,
    pub parallel: u16,
    pub reran: Option<String>,
    pub selection: Selection,
}

pub async fn run(mut args: RunArgs) -> u8 {
    let run_id = new_run_id();
    let cleanup = CleanupPolicy {
        keep: args.keep,
        keep_on_failure: args.keep_on_failure,
    };
    // `--rerun-failed REPORT` (a space, not `=`): clap reads REPORT as a scenario path. A path
    // that is a run (a folder with a summary.json, or the summary itself) is no scenario: it is
    // the run to re-run, and the harness says that is how it understood it.
    if args.rerun_failed.as_deref() == Some("")
        && let Some(i) = args.select.paths.iter().position(|p| {
            p.join("summary.json").is_file()
                || (p.is_file() && p.file_name().is_some_and(|n| n == "summary.json"))
        })
    {
        let report = args.select.paths.remove(i);
        say!(
            "--rerun-failed: taking {} as the run to re-run (a run, not a scenario path)",
            report.display()
        );
        args.rerun_failed = Some(report.display().to_string());
    }
    let rerun = match &args.rerun_failed {
        None => None,
        Some(given) => {
            let earlier = super::rerun::summary_path(given, &args.report_dir)
                .and_then(|p| super::rerun::read(&p));
            match earlier {
                Ok(r) => Some(r),
                Err(e) => {
                    say!("error: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    };
    let mut roots = select::roots(&args.select);
    if let Some(r) = &rerun {
        if args.select.paths.is_empty() {
            roots = r.selection.clone();
        }
        if r.failed.is_empty() {
            println!(
                "nothing to re-run: every scenario of run {} passed ({})",
                crate::diag::visible(&r.run_id),
                r.summary.display()
            );
            return EXIT_PASS;
        }
        // Unless the user narrowed the selection, the failed scenarios' own files.
        if args.select.paths.is_empty() {
            args.select.paths = r.failed.iter().map(|(_, f)| f.clone()).collect();
            args.select.paths.sort();
            args.select.paths.dedup();
        }
    }
    let mut plans = match select::plans(&args.select, &run_id, cleanup) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(r) = &rerun {
        let gone: Vec<String> = r
            .failed
            .iter()
            .filter(|(name, _)| !plans.iter().any(|p| p.name == *name))
            .map(|(name, file)| format!("{} ({})", crate::diag::visible(name), file.display()))
            .collect();
        if !gone.is_empty() {
            say!(
                "error: --rerun-failed: these scenarios of run {} match no scenario selected now (renamed, or outside the paths given?): {}",
                crate::diag::visible(&r.run_id),
                gone.join(", ")
            );
            return EXIT_USAGE;
        }
        plans.retain(|p| r.failed.iter().any(|(name, _)| *name == p.name));
        say!(
            "re-running {} scenario(s) that did not pass in run {}",
            plans.len(),
            crate::diag::visible(&r.run_id)
        );
    }
    let reran = rerun.map(|r| r.run_id);
    // Before any slicing: a tag that matches nothing is a typo in every slice, not a slice
    // that happens to be empty.
    if plans.is_empty() {
        say!("error: no scenario matches the selected tags");
        return EXIT_USAGE;
    }
    if let Some(part) = args.partition {
        let weights = match &args.partition_weights {
            None => None,
            Some(given) => {
                let path = if given.is_dir() {
                    given.join("summary.json")
                } else {
                    given.clone()
                };
                match super::merge::read_run(&path) {
                    Ok(run) => Some(super::partition::weights_from(&run)),
                    Err(e) => {
                        say!("error: --partition-weights: {e}");
                        return EXIT_USAGE;
                    }
                }
            }
        };
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        let slices = super::partition::slices(&names, part.n, weights.as_ref());
        let before = plans.len();
        plans.retain(|p| slices.get(&p.name) == Some(&part.k));
        say!(
            "partition {part}: {} of {before} selected scenario(s)",
            plans.len()
        );
        if plans.is_empty() {
            // As nextest, an empty slice passes; it still writes its run (its partition, no
            // scenario), so that `report merge` of every slice finds each one.
            println!("partition {part} holds no scenario: an empty run is written");
        }
    }
    for p in &mut plans {
        p.skip_if_undersized = args.skip_undersized;
    }
    let needs_cluster = plans.iter().any(|p| p.cluster.required);
    let provider = if args.context.is_some() {
        Provider::Existing
    } else {
        args.provider
    };
    if needs_cluster && provider == Provider::None {
        say!(
            "error: --provider none runs no cluster, but these selected scenarios need one:\n{}\nchoose a provider (kind, minikube, k3s) or --context NAME, or select only scenarios with `cluster: {{ required: false }}`",
            names_of(plans.iter().filter(|p| p.cluster.required))
        );
        return EXIT_USAGE;
    }
    if provider == Provider::K3s {
        let too_big: Vec<&ScenarioPlan> = plans
            .iter()
            .filter(|p| p.cluster.required && p.cluster.workers > prov::K3S_NODES)
            .collect();
        if !too_big.is_empty() {
            say!(
                "error: k3s gives {} node, but these selected scenarios need more (cluster.workers):\n{}\nuse --provider kind, or select other scenarios",
                prov::K3S_NODES,
                names_of(too_big.into_iter())
            );
            return EXIT_USAGE;
        }
    }
    let run_dir = args.report_dir.join(&run_id);
    let setup = RunSetup {
        junit: args
            .junit
            .clone()
            .unwrap_or_else(|| run_dir.join("junit.xml")),
        summary: run_dir.join("summary.json"),
        run_dir,
        run_id,
        parallel: args.parallel,
        reran,
        selection: Selection {
            paths: roots,
            tags: args.select.tags.clone(),
            partition: args.partition.map(|p| p.to_string()),
        },
    };
    // Where the reports go must be writable before anything runs: a run whose verdicts cannot
    // be written is a run wasted.
    if let Err(e) = std::fs::create_dir_all(&setup.run_dir) {
        say!(
            "error: cannot create the report folder {}: {e} (--report-dir {})",
            setup.run_dir.display(),
            args.report_dir.display()
        );
        return EXIT_USAGE;
    }
    if !needs_cluster {
        return execute(&NoCluster, &plans, &setup).await;
    }
    run_on_cluster(&args, provider, &plans, &setup).await
}

/// One line per scenario: name, file and the nodes it declares.
fn names_of<'a>(plans: impl Iterator<Item = &'a ScenarioPlan>) -> String {
    plans
        .map(|p| {
            format!(
                "  {} ({}, cluster.workers: {})",
                p.name,
                p.file.display(),
                p.cluster.workers
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The provider the user chose.
fn provider_for(choice: Provider, args: &RunArgs) -> Box<dyn prov::Provider> {
    match choice {
        Provider::Kind => Box::new(prov::Kind::new(args.kind_config.clone())),
        Provider::Minikube => Box::new(prov::Minikube::default()),
        Provider::K3s => Box::new(prov::K3s::default()),
        Provider::Existing | Provider::None => Box::new(prov::Existing {
            context: args.context.clone(),
            kubeconfig: args.kubeconfig.clone(),
        }),
    }
}

/// Gets a cluster from the provider, runs the plans on it, exports logs on failure and gives
/// the cluster back (unless --keep-cluster; one the harness did not create is never deleted).
async fn run_on_cluster(
    args: &RunArgs,
    choice: Provider,
    plans: &[ScenarioPlan],
    setup: &RunSetup,
) -> u8 {
    let request = prov::Request {
        name: args.cluster_name.clone().unwrap_or_else(|| {
            format!(
                "harness-{}",
                setup.run_id.rsplit('-').next().unwrap_or("run")
            )
        }),
        named: args.cluster_name.is_some(),
        workers: plans.iter().map(|p| p.cluster.workers).max().unwrap_or(0),
        dir: setup.run_dir.clone(),
    };
    let mut provider = provider_for(choice, args);
    let prepared = match provider.up(&request).await {
        Ok(p) => p,
        Err(e) => {
            say!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if !args.no_preload {
        let mut images: Vec<String> = vec![];
        for image in plans.iter().flat_map(|p| &p.images) {
            if !images.contains(image) {
                images.push(image.clone());
            }
        }
        for line in provider.preload(&images).await {
            say!("preload: {line}");
        }
    }
    let code = run_prepared(&prepared, &*provider, plans, setup).await;
    let keep = cluster_kept(args.keep_cluster, args.keep_on_failure, code != EXIT_PASS);
    if let Some(why) = keep
        && prepared.created
    {
        say!(
            "keeping the {} cluster {} ({why}); delete it when done: {}",
            prepared.provider,
            prepared.name,
            delete_command(prepared.provider, &prepared.name)
        );
    }
    if keep.is_none()
        && let Err(e) = provider.teardown().await
    {
        say!(
            "warning: deleting the {} cluster {}: {e}",
            prepared.provider,
            prepared.name
        );
    }
    code
}

/// Why the cluster the harness created stays after the run, if it does: `--keep-cluster`, or
/// `--keep-on-failure` when something failed (the failed scenarios' namespaces are kept for
/// inspection, and a deleted cluster would take them along).
fn cluster_kept(keep_cluster: bool, keep_on_failure: bool, failed: bool) -> Option<&'static str> {
    if keep_cluster {
        Some("--keep-cluster")
    } else if keep_on_failure && failed {
        Some("--keep-on-failure kept the failed scenarios' namespaces in it")
    } else {
        None
    }
}

/// The command that deletes a cluster the harness created.
fn delete_command(provider: &str, name: &str) -> String {
    match provider {
        "kind" => format!("kind delete cluster --name {name}"),
        "minikube" => format!("minikube delete -p {name}"),
        other => format!("the {other} provider's own delete for {name}"),
    }
}

/// Runs the plans on a prepared cluster; after a failure, the provider exports its logs.
async fn run_prepared(
    prepared: &prov::Prepared,
    provider: &dyn prov::Provider,
    plans: &[ScenarioPlan],
    setup: &RunSetup,
) -> u8 {
    let (client, version) =
        match prov::client_for(prepared.kubeconfig.as_deref(), prepared.context.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                say!("error: {e}");
                return EXIT_USAGE;
            }
        };
    match server_supported(&version) {
        Err(problem) => {
            say!("error: {problem}");
            return EXIT_USAGE;
        }
        Ok(Some(warning)) => say!("warning: {warning}"),
        Ok(None) => {}
    }
    if let Some(problem) = plans.iter().find_map(|p| version_mismatch(p, &version)) {
        say!("error: {problem}");
        return EXIT_USAGE;
    }
    let mut cluster =
        crate::k8s::KubeCluster::new(client, prepared.provider, &version, &setup.run_id);
    if let Some(host) = provider.node_host() {
        cluster = cluster.with_node_host(host);
    }
    let code = execute(&cluster, plans, setup).await;
    if code != EXIT_PASS
        && let Err(e) = provider
            .export_logs(&setup.run_dir.join("cluster-logs"))
            .await
    {
        say!(
            "warning: exporting the {} cluster's logs: {e}",
            prepared.provider
        );
    }
    code
}

/// Whether the harness runs against a server of `version`: `Err` for one older than it
/// supports (nothing runs), a warning for one newer than it knows.
pub fn server_supported(version: &str) -> Result<Option<String>, String> {
    use crate::k8s::bridge::{NEWEST_KNOWN, OLDEST_SUPPORTED, minor_version};
    let range = format!(
        "{}.{} to {}.{}",
        OLDEST_SUPPORTED.0, OLDEST_SUPPORTED.1, NEWEST_KNOWN.0, NEWEST_KNOWN.1
    );
    match minor_version(version) {
        None => Err(format!(
            "the API server reports version `{}`, which is not a Kubernetes version; the harness supports Kubernetes {range}",
            crate::diag::visible(version)
        )),
        Some(v) if v < OLDEST_SUPPORTED => Err(format!(
            "the API server is Kubernetes {version}, older than the oldest the harness supports ({range})"
        )),
        Some(v) if v > NEWEST_KNOWN => Ok(Some(format!(
            "the API server is Kubernetes {version}, newer than the newest the harness knows ({range}); it uses only stable APIs, so it runs"
        ))),
        Some(_) => Ok(None),
    }
}

/// A scenario's Kubernetes version range against the server's `vMAJOR.MINOR.PATCH`.
pub fn version_mismatch(plan: &ScenarioPlan, server: &str) -> Option<String> {
    let mut parts = server.trim_start_matches('v').split(['.', '-', '+']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    let v = (major, minor);
    let min = plan.cluster.kubernetes_min.filter(|m| v < *m);
    let max = plan.cluster.kubernetes_max.filter(|m| v > *m);
    min.or(max).map(|_| {
        let minor = |(major, minor): (u32, u32)| format!("{major}.{minor}");
        let range = match (plan.cluster.kubernetes_min, plan.cluster.kubernetes_max) {
            (Some(lo), Some(hi)) => format!("Kubernetes {} to {}", minor(lo), minor(hi)),
            (Some(lo), None) => format!("Kubernetes {} or newer", minor(lo)),
            (None, Some(hi)) => format!("Kubernetes {} or older", minor(hi)),
            (None, None) => "any Kubernetes".into(),
        };
        format!(
            "scenario {} needs {range}; the API server is {}",
            plan.name,
            crate::diag::visible(server)
        )
    })
}

/// Runs plans against a cluster with every reporter attached; returns the exit code.
pub async fn execute(cluster: &dyn Cluster, plans: &[ScenarioPlan], setup: &RunSetup) -> u8 {
    let console: Box<dyn Reporter> = Box::new(ConsoleReporter::new(
        std::io::stdout(),
        std::io::stdout().is_terminal(),
    ));
    let index = setup.run_dir.join("index.html");
    let reporters: Vec<Box<dyn Reporter>> = vec![
        console,
        Box::new(JunitReporter::new(setup.junit.clone())),
        Box::new(SummaryReporter::new(setup.summary.clone())),
        // Evidence files sit in the run's own folder, where the summary names them.
        Box::new(EvidenceFiles::new(setup.run_dir.clone())),
        Box::new(HtmlReporter::new(index.clone())),
    ];
    let code = execute_with(cluster, plans, setup, reporters).await;
    say!(
        "reports: {}, {} and {}",
        setup.junit.display(),
        setup.summary.display(),
        index.display()
    );
    code
}

/// Runs plans against a cluster with the given reporters; returns the exit code.
pub async fn execute_with(
    cluster: &dyn Cluster,
    plans: &[ScenarioPlan],
    setup: &RunSetup,
    reporters: Vec<Box<dyn Reporter>>,
) -> u8 {
    let sink = Fanout::new(reporters);
    let cancel = CancellationToken::new();
    let signals = cancel_on_signal(cancel.clone());
    let (provider, version) = cluster.describe();
    sink.emit(Event::RunStarted {
        run_id: setup.run_id.clone(),
        provider,
        cluster_version: version,
        scenarios: plans.len(),
        reran: setup.reran.clone(),
        selection: setup.selection.clone(),
    });
    let started = Instant::now();
    let executor = Executor {
        cluster,
        sink: &sink,
        cancel: cancel.clone(),
    };
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(plans.iter().map(|p| executor.run_scenario(p)))
        .buffer_unordered(setup.parallel.max(1).into())
        .collect()
        .await;
    signals.abort();
    let failed = results.iter().filter(|r| !r.passed).count();
    sink.emit(Event::RunFinished {
        duration: started.elapsed(),
        passed: results.len() - failed,
        failed,
    });
    let errors = sink.finish();
    for e in &errors {
        say!("error: {e}");
    }
    if !errors.is_empty() {
        // Not a usage problem: the run happened and its verdicts stand, partly unreported.
        return EXIT_FAIL;
    }
    if failed > 0 || cancel.is_cancelled() {
        EXIT_FAIL
    } else {
        EXIT_PASS
    }
}

/// Cancels the run on Ctrl-C or SIGTERM. The handlers are registered before this returns (not
/// when the task first runs), so a signal that comes right after start is not lost.
fn cancel_on_signal(cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (interrupt, terminate) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        tokio::spawn(async move {
            match (interrupt, terminate) {
                (Ok(mut i), Ok(mut t)) => {
                    tokio::select! {
                        _ = i.recv() => {}
                        _ = t.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
            tracing::warn!(
                "interrupted: stopping the running steps, collecting evidence and cleaning up"
            );
            cancel.cancel();
        })
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        cancel.cancel();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): the supported range, said before anything runs.
    #[test]
    fn servers_older_than_1_24_are_refused_and_newer_ones_warned_about() {
        assert_eq!(server_supported("v1.24.17"), Ok(None));
        assert_eq!(server_supported("v1.33.1+k3s1"), Ok(None));
        let old = server_supported("v1.23.4").unwrap_err();
        assert!(
            old.contains("v1.23.4") && old.contains("1.24 to 1.37"),
            "{old}"
        );
        assert!(server_supported("v1.40.0").unwrap().is_some());
        assert!(server_supported("weird").is_err());
    }

    // Layer 1 (pure): --keep-on-failure keeps what failed, so the cluster holding it stays
    // too (and says how to delete it); a run that passed gives its cluster back.
    #[test]
    fn a_failure_kept_for_inspection_keeps_its_cluster() {
        assert_eq!(cluster_kept(false, false, true), None);
        assert_eq!(cluster_kept(false, true, false), None);
        assert!(cluster_kept(false, true, true).is_some_and(|w| w.contains("--keep-on-failure")));
        assert_eq!(cluster_kept(true, false, false), Some("--keep-cluster"));
        assert_eq!(
            delete_command("kind", "harness-ab12"),
            "kind delete cluster --name harness-ab12"
        );
    }

    // Layer 1 (pure): a scenario's own floor is said in words, not as Rust values.
    #[test]
    fn a_scenario_floor_is_said_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("floor.yaml");
        std::fs::write(
            &file,
            "name: floor\ncluster: { workers: 1, kubernetes: { min: \"1.29\" } }\nsteps:\n  - sleep: 1s\n",
        )
        .unwrap();
        let (scenario, diags) = crate::scenario::validate::validate_file(&file, &|_| None, "run1");
        let scenario = scenario.unwrap_or_else(|| panic!("{diags:?}"));
        let plan = crate::plan::plan(&scenario, crate::plan::CleanupPolicy::default());
        assert_eq!(version_mismatch(&plan, "v1.29.0"), None);
        assert_eq!(
            version_mismatch(&plan, "v1.24.17").as_deref(),
            Some("scenario floor needs Kubernetes 1.29 or newer; the API server is v1.24.17")
        );
    }
}
