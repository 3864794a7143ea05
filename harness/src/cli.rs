//! The command line: `list`, `validate`, `plan`, `run`, `verify`. Exit codes: 0 all passed,
//! 1 a scenario or check failed, 2 invalid input or usage. Results go to stdout, logs to stderr.

use crate::diag::Diagnostics;
use crate::exec::{Cluster, Event, EventSink, Executor, NoCluster};
use crate::plan::{self, CleanupPolicy, ScenarioPlan};
use crate::report::{
    Fanout, Reporter, console::ConsoleReporter, json::JsonReporter, junit::JunitReporter,
};
use crate::scenario::{self, Scenario};
use crate::vars;
use crate::verify::{self, Targets, VerifySpec};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "harness",
    version,
    about = "Conformance harness for stateful systems on Kubernetes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List scenarios (name, tags, file).
    List(Select),
    /// Validate scenario files; every problem is reported with file, key path and line.
    Validate(Select),
    /// Print the resolved plan of a scenario (timeouts, namespace, rendered manifests).
    Plan {
        file: PathBuf,
        /// Also print the rendered manifests (Secret values are redacted).
        #[arg(long)]
        manifests: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Run id to plan with (default: a new one).
        #[arg(long)]
        run_id: Option<String>,
    },
    /// Run scenarios.
    Run(RunArgs),
    /// Run one verifier against static endpoints (no cluster needed).
    Verify(Box<VerifyArgs>),
}

#[derive(Args, Debug, Clone)]
pub struct Select {
    /// Scenario files or directories (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Only scenarios with one of these tags (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    Kind,
    Minikube,
    Existing,
    K3s,
    /// No cluster: only scenarios with `cluster: { required: false }`.
    None,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: Select,
    /// How to get a cluster. `--context` implies `existing`.
    #[arg(long, value_enum, env = "HARNESS_PROVIDER", default_value = "kind")]
    pub provider: Provider,
    /// Use this existing kubeconfig context (never deleted).
    #[arg(long, env = "HARNESS_CONTEXT")]
    pub context: Option<String>,
    #[arg(long, env = "HARNESS_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// JUnit report path (default: <report-dir>/<run-id>/junit.xml).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// Keep everything the scenarios created.
    #[arg(long)]
    pub keep: bool,
    /// Keep the namespace of a failed scenario for inspection.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Keep the cluster the harness created.
    #[arg(long)]
    pub keep_cluster: bool,
    /// kind/minikube: use (or create) the cluster with this name; a cluster the harness did
    /// not create is reused only when named here, and never deleted.
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// kind: the cluster config (default: generated for the scenarios' worker count).
    #[arg(long)]
    pub kind_config: Option<PathBuf>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub parallel: u16,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The verifier: galera.status, galera.sync, galera.acknowledged_writes, etcd.keys,
    /// memcache.pool, memcache.proxy, http, cql.
    pub verifier: String,
    /// A server HOST:PORT (repeatable).
    #[arg(long = "endpoint", required = true)]
    pub endpoints: Vec<String>,
    /// A proxy HOST:PORT for memcache.proxy (repeatable).
    #[arg(long = "proxy")]
    pub proxies: Vec<String>,
    /// For etcd.keys: a Galera node address that must be registered (repeatable).
    #[arg(long = "node")]
    pub nodes: Vec<String>,
    /// For etcd.keys: the Galera cluster name.
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Name of the environment variable that holds the password (never the password itself).
    #[arg(long)]
    pub password_env: Option<String>,
    /// Expected Galera cluster size (default: the number of endpoints).
    #[arg(long)]
    pub size: Option<i64>,
    /// Keys for memcache checks.
    #[arg(long)]
    pub keys: Option<i64>,
    /// Duration of galera.acknowledged_writes, e.g. 10s.
    #[arg(long)]
    pub duration: Option<String>,
    /// HTTP path for the http verifier.
    #[arg(long)]
    pub path: Option<String>,
    /// Metric family the http verifier must find.
    #[arg(long)]
    pub metric_family: Option<String>,
    /// For cql: the query read back with every node as coordinator.
    #[arg(long)]
    pub query: Option<String>,
    /// For cql: how many rows the query must return.
    #[arg(long)]
    pub expect_rows: Option<i64>,
    /// For cql: the consistency level of the script and the reads.
    #[arg(long, default_value = "QUORUM")]
    pub consistency: String,
    /// For cql: a CQL script run once before the reads.
    #[arg(long)]
    pub script: Option<String>,
    /// Bound on the whole check.
    #[arg(long, default_value = "5m")]
    pub timeout: String,
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_PASS
            });
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAIL);
        }
    };
    ExitCode::from(runtime.block_on(dispatch(cli)))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARNESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        Command::List(select) => list(&select),
        Command::Validate(select) => validate(&select),
        Command::Plan {
            file,
            manifests,
            json,
            run_id,
        } => plan_cmd(&file, manifests, json, run_id),
        Command::Run(args) => run(args).await,
        Command::Verify(args) => verify_cmd(*args).await,
    }
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A new run id: UTC time plus a few pseudo-random hex digits.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        h.finish() & 0xffff
    )
}

fn files(select: &Select) -> Result<Vec<PathBuf>, u8> {
    let roots = if select.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        select.paths.clone()
    };
    let mut out = vec![];
    for root in roots {
        match scenario::discover(&root) {
            Ok(found) => out.extend(found),
            Err(e) => {
                eprintln!("error: {}: {e}", root.display());
                return Err(EXIT_USAGE);
            }
        }
    }
    if out.is_empty() {
        eprintln!("error: no scenario files (*.yaml) found");
        return Err(EXIT_USAGE);
    }
    Ok(out)
}

/// Validates every file; prints every diagnostic to stderr. `Err` when any file has an error.
fn load_all(select: &Select) -> Result<Vec<Scenario>, u8> {
    let paths = files(select)?;
    let mut scenarios = vec![];
    let mut all = Diagnostics::default();
    for path in &paths {
        let (scenario, diags) = scenario::validate_file(path, &env_lookup);
        all.0.extend(diags.0);
        scenarios.extend(scenario);
    }
    for d in &all.0 {
        eprintln!("{d}");
    }
    if all.has_errors() {
        eprintln!(
            "error: {} problem(s) in {} file(s); nothing was run",
            all.errors().count(),
            paths.len()
        );
        return Err(EXIT_USAGE);
    }
    if !select.tags.is_empty() {
        scenarios.retain(|s| s.tags.iter().any(|t| select.tags.contains(t)));
    }
    Ok(scenarios)
}

fn list(select: &Select) -> u8 {
    match load_all(select) {
        Ok(scenarios) => {
            for s in scenarios {
                println!(
                    "{:<36} {:<24} {}",
                    s.name,
                    s.tags.join(","),
                    s.file.display()
                );
            }
            EXIT_PASS
        }
        Err(code) => code,
    }
}

fn validate(select: &Select) -> u8 {
    let started = Instant::now();
    match load_all(select) {
        Ok(scenarios) => {
            for s in &scenarios {
                println!("ok  {} ({})", s.name, s.file.display());
            }
            println!(
                "{} scenario(s) valid in {:.0} ms",
                scenarios.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
            EXIT_PASS
        }
        Err(code) => code,
    }
}

fn plans(
    scenarios: &[Scenario],
    run_id: &str,
    cleanup: CleanupPolicy,
) -> Result<Vec<ScenarioPlan>, u8> {
    let mut out = vec![];
    for s in scenarios {
        let values = match vars::resolve(&s.variables, &env_lookup) {
            Ok(v) => v,
            Err(errors) => {
                for (name, message) in errors {
                    eprintln!(
                        "{}: error at `variables.{name}`: {message}",
                        s.file.display()
                    );
                }
                return Err(EXIT_USAGE);
            }
        };
        match plan::plan(s, &values, run_id, cleanup) {
            Ok(p) => out.push(p),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(EXIT_USAGE);
            }
        }
    }
    Ok(out)
}

fn plan_cmd(file: &Path, manifests: bool, json: bool, run_id: Option<String>) -> u8 {
    let select = Select {
        paths: vec![file.to_path_buf()],
        tags: vec![],
    };
    let scenarios = match load_all(&select) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let run_id = run_id.unwrap_or_else(new_run_id);
    let plans = match plans(&scenarios, &run_id, CleanupPolicy::default()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    for p in plans {
        if json {
            let text = serde_json::to_string_pretty(&p).unwrap_or_default();
            println!(
                "{}",
                crate::redact::Redactor::new(p.secrets.clone()).redact(&text)
            );
        } else {
            print!("{}", p.render_text(manifests));
        }
    }
    EXIT_PASS
}

async fn run(args: RunArgs) -> u8 {
    let scenarios = match load_all(&args.select) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if scenarios.is_empty() {
        eprintln!("error: no scenario matches the selected tags");
        return EXIT_USAGE;
    }
    let run_id = new_run_id();
    let cleanup = CleanupPolicy {
        keep: args.keep,
        keep_on_failure: args.keep_on_failure,
    };
    let plans = match plans(&scenarios, &run_id, cleanup) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let needs_cluster = plans.iter().any(|p| p.cluster.required);
    let provider = if args.context.is_some() {
        Provider::Existing
    } else {
        args.provider
    };
    if needs_cluster && provider == Provider::None {
        eprintln!(
            "error: some selected scenarios need a Kubernetes cluster, but --provider none was given"
        );
        return EXIT_USAGE;
    }
    let run_dir = args.report_dir.join(&run_id);
    let junit = args
        .junit
        .clone()
        .unwrap_or_else(|| run_dir.join("junit.xml"));
    let summary = run_dir.join("summary.json");
    if !needs_cluster {
        return execute(&NoCluster, &plans, &run_id, &junit, &summary, args.parallel).await;
    }
    run_on_cluster(&args, provider, &plans, &run_id, &run_dir, &junit, &summary).await
}

/// Gets a cluster from the provider, runs the plans on it, exports logs on failure and gives
/// the cluster back (unless --keep-cluster or the harness did not create it).
async fn run_on_cluster(
    args: &RunArgs,
    provider: Provider,
    plans: &[ScenarioPlan],
    run_id: &str,
    run_dir: &Path,
    junit: &Path,
    summary: &Path,
) -> u8 {
    use crate::k8s::provider::{self as prov, Prepared};
    let workers = plans.iter().map(|p| p.cluster.workers).max().unwrap_or(0);
    let default_name = format!("harness-{}", run_id.rsplit('-').next().unwrap_or("run"));
    let name = args.cluster_name.clone().unwrap_or(default_name);
    // k3s lives as long as this handle (testcontainers removes it on drop).
    let mut k3s = None;
    let prepared = match provider {
        Provider::Kind => {
            prov::kind_up(
                &name,
                args.cluster_name.is_some(),
                workers,
                args.kind_config.as_deref(),
                run_dir,
            )
            .await
        }
        Provider::Minikube => prov::minikube_up(&name, workers + 1).await,
        Provider::Existing => Ok(Prepared {
            provider: "existing",
            name: args.context.clone().unwrap_or_default(),
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            created: false,
        }),
        Provider::K3s => match prov::k3s_up(run_dir).await {
            Ok((prepared, container)) => {
                k3s = Some(container);
                Ok(prepared)
            }
            Err(e) => Err(e),
        },
        Provider::None => unreachable!("checked by the caller"),
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if provider == Provider::Existing && prepared.context.is_none() {
        eprintln!(
            "error: an existing cluster is used only when you name its context: pass --context NAME (or set HARNESS_CONTEXT)"
        );
        return EXIT_USAGE;
    }
    let give_back = |code: u8| {
        let prepared = prepared.clone();
        async move {
            if !args.keep_cluster
                && let Err(e) = prov::teardown(&prepared).await
            {
                eprintln!(
                    "warning: deleting the {} cluster {}: {e}",
                    prepared.provider, prepared.name
                );
            }
            code
        }
    };
    let (client, version) =
        match prov::client_for(prepared.kubeconfig.as_deref(), prepared.context.as_deref()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return give_back(EXIT_USAGE).await;
            }
        };
    if let Some(problem) = plans.iter().find_map(|p| version_mismatch(p, &version)) {
        eprintln!("error: {problem}");
        return give_back(EXIT_USAGE).await;
    }
    let cluster = crate::k8s::KubeCluster::new(
        client,
        prepared.provider,
        &version,
        run_id,
        run_dir.join("evidence"),
    );
    let code = execute(&cluster, plans, run_id, junit, summary, args.parallel).await;
    if code != EXIT_PASS
        && prepared.provider == "kind"
        && let Err(e) = prov::kind_export_logs(&prepared.name, &run_dir.join("kind-logs")).await
    {
        eprintln!("warning: kind export logs: {e}");
    }
    let code = give_back(code).await;
    drop(k3s);
    code
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
        format!(
            "scenario {} needs Kubernetes {:?}..{:?}, the server is {server}",
            plan.name, plan.cluster.kubernetes_min, plan.cluster.kubernetes_max
        )
    })
}

/// Runs plans against a cluster with every reporter attached; returns the exit code.
pub async fn execute(
    cluster: &dyn Cluster,
    plans: &[ScenarioPlan],
    run_id: &str,
    junit: &Path,
    json: &Path,
    parallel: u16,
) -> u8 {
    let console: Box<dyn Reporter> = Box::new(ConsoleReporter::new(
        std::io::stdout(),
        std::io::stdout().is_terminal(),
    ));
    let reporters: Vec<Box<dyn Reporter>> = vec![
        console,
        Box::new(JunitReporter::new(junit.to_path_buf())),
        Box::new(JsonReporter::new(json.to_path_buf())),
    ];
    let sink = Fanout::new(reporters);
    let cancel = CancellationToken::new();
    let signals = cancel_on_signal(cancel.clone());
    let (provider, version) = cluster.describe();
    sink.emit(Event::RunStarted {
        run_id: run_id.to_string(),
        provider,
        cluster_version: version,
        scenarios: plans.len(),
    });
    let started = Instant::now();
    let executor = Executor {
        cluster,
        sink: &sink,
        cancel: cancel.clone(),
    };
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(plans.iter().map(|p| executor.run_scenario(p)))
        .buffer_unordered(parallel.into())
        .collect()
        .await;
    signals.abort();
    let failed = results.iter().filter(|r| !r.passed).count();
    sink.emit(Event::RunFinished {
        duration: started.elapsed(),
        passed: results.len() - failed,
        failed,
    });
    if let Err(e) = sink.finish() {
        eprintln!("error: writing reports: {e}");
        return EXIT_FAIL;
    }
    eprintln!("reports: {} and {}", junit.display(), json.display());
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

/// Builds a verifier spec from CLI flags; `Err` is a usage message.
pub fn verify_spec(args: &VerifyArgs) -> Result<VerifySpec, String> {
    use crate::verify::*;
    let target = TargetSpec {
        pods: None,
        port: None,
        endpoints: args.endpoints.clone(),
    };
    let creds = || -> Result<Credentials, String> {
        Ok(Credentials {
            user: args.user.clone().ok_or("this verifier needs --user")?,
            password: args.password_env.clone().map(PasswordSource::Env),
        })
    };
    for e in args
        .endpoints
        .iter()
        .chain(&args.proxies)
        .chain(&args.nodes)
    {
        if Endpoint::parse(e).is_none() && !args.nodes.contains(e) {
            return Err(format!("`{e}` is not HOST:PORT"));
        }
    }
    let spec = match args.verifier.as_str() {
        "galera.status" => VerifySpec::GaleraStatus(GaleraStatusSpec {
            target,
            credentials: creds()?,
            size: args.size,
        }),
        "galera.sync" => VerifySpec::GaleraSync(GaleraSyncSpec {
            target,
            credentials: creds()?,
        }),
        "galera.acknowledged_writes" => VerifySpec::GaleraAckWrites(GaleraAckWritesSpec {
            target,
            credentials: creds()?,
            duration: args.duration.clone().unwrap_or_else(|| "10s".into()),
            writers_per_node: 1,
            delete_every: 5,
            settle: "60s".into(),
            during: None,
        }),
        "etcd.keys" => VerifySpec::EtcdKeys(EtcdKeysSpec {
            target,
            cluster: args
                .cluster
                .clone()
                .ok_or("etcd.keys needs --cluster (the Galera cluster name)")?,
            nodes: TargetSpec {
                pods: None,
                port: None,
                endpoints: args
                    .nodes
                    .iter()
                    .map(|n| {
                        if n.contains(':') {
                            n.clone()
                        } else {
                            format!("{n}:3306")
                        }
                    })
                    .collect(),
            },
            api: EtcdApi::Any,
        }),
        "memcache.pool" => VerifySpec::MemcachePool(MemcachePoolSpec {
            target,
            keys: args.keys.unwrap_or(1000),
            min_share: 0.5,
        }),
        "memcache.proxy" => {
            if args.proxies.is_empty() {
                return Err("memcache.proxy needs --proxy HOST:PORT (repeatable)".into());
            }
            VerifySpec::MemcacheProxy(MemcacheProxySpec {
                proxies: ProxyTargetSpec {
                    endpoints: args.proxies.clone(),
                    ..Default::default()
                },
                servers: target,
                keys_per_proxy: args.keys.unwrap_or(20),
            })
        }
        "http" => VerifySpec::Http(HttpSpec {
            target,
            path: args.path.clone().unwrap_or_else(|| "/".into()),
            status: 200,
            contains: vec![],
            metric_family: args.metric_family.clone(),
        }),
        "cql" => {
            if crate::verify::cql::consistency(&args.consistency).is_none() {
                return Err(format!(
                    "--consistency `{}` is not one of {}",
                    args.consistency,
                    crate::verify::cql::LEVELS.join(", ")
                ));
            }
            VerifySpec::Cql(CqlSpec {
                target,
                credentials: match &args.user {
                    Some(_) => Some(creds()?),
                    None => None,
                },
                script: args.script.clone(),
                query: args.query.clone().ok_or("cql needs --query")?,
                expect_rows: args.expect_rows.ok_or("cql needs --expect-rows")?,
                consistency: args.consistency.clone(),
                nodetool: false,
                container: None,
            })
        }
        other if VerifySpec::NAMES.contains(&other) => {
            return Err(format!(
                "{other} runs nodetool in pods: run it from a scenario step, not from `harness verify`"
            ));
        }
        other => {
            let hint = crate::diag::did_you_mean(other, VerifySpec::NAMES)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown verifier `{other}`{hint}; one of: {}",
                VerifySpec::NAMES.join(", ")
            ));
        }
    };
    if spec.needs_cluster() {
        return Err(format!(
            "{} needs a cluster; run it from a scenario",
            spec.name()
        ));
    }
    Ok(spec)
}

async fn verify_cmd(args: VerifyArgs) -> u8 {
    let spec = match verify_spec(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let timeout = match humantime::parse_duration(&args.timeout) {
        Ok(d) if !d.is_zero() => d,
        _ => {
            eprintln!(
                "error: --timeout `{}` is not a positive duration",
                args.timeout
            );
            return EXIT_USAGE;
        }
    };
    let mut targets = Targets::default();
    for (key, t) in spec.targets() {
        targets.by_key.push((
            key,
            crate::exec::cluster::static_endpoints(&t.endpoints).unwrap_or_default(),
        ));
    }
    if let VerifySpec::MemcacheProxy(p) = &spec {
        targets.proxies =
            crate::exec::cluster::static_endpoints(&p.proxies.endpoints).unwrap_or_default();
    }
    targets.user = args.user.clone();
    let mut secrets = vec![];
    if let Some(var) = &args.password_env {
        match std::env::var(var) {
            Ok(p) => {
                secrets.push(p.clone());
                targets.password = Some(p);
            }
            Err(_) => {
                eprintln!("error: --password-env names `{var}`, which is not set");
                return EXIT_USAGE;
            }
        }
    }
    let redactor = crate::redact::Redactor::new(secrets);
    let started = Instant::now();
    let result = tokio::time::timeout(timeout, verify::run(&spec, &targets, Path::new("."))).await;
    let verdict = match result {
        Ok(Ok(v)) => v,
        Ok(Err(verify::VerifyError::Usage(e))) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
        Err(_) => verify::Verdict::fail(
            format!("{} did not finish within {}", spec.name(), args.timeout),
            vec![],
        ),
    };
    let label = if verdict.passed { "PASS" } else { "FAIL" };
    println!(
        "{label} {}: {}",
        spec.name(),
        redactor.redact(&verdict.summary)
    );
    for line in &verdict.evidence {
        println!("  {}", redactor.redact(line));
    }
    if let Some(path) = &args.junit
        && let Err(e) = write_verify_junit(path, &spec, &verdict, started.elapsed(), &redactor)
    {
        eprintln!("error: writing {}: {e}", path.display());
        return EXIT_FAIL;
    }
    if verdict.passed { EXIT_PASS } else { EXIT_FAIL }
}

fn write_verify_junit(
    path: &Path,
    spec: &VerifySpec,
    verdict: &verify::Verdict,
    took: Duration,
    redactor: &crate::redact::Redactor,
) -> std::io::Result<()> {
    use crate::exec::{Outcome, Phase, StepInfo};
    let mut junit = JunitReporter::new(path.to_path_buf());
    let scenario = format!("verify-{}", spec.name());
    let events = [
        Event::RunStarted {
            run_id: new_run_id(),
            provider: "static".into(),
            cluster_version: "-".into(),
            scenarios: 1,
        },
        Event::ScenarioStarted {
            scenario: scenario.clone(),
            file: "-".into(),
            namespace: String::new(),
        },
        Event::StepFinished {
            scenario: scenario.clone(),
            step: StepInfo {
                index: 0,
                id: spec.name().into(),
                kind: "verify",
                description: None,
                phase: Phase::Main,
            },
            outcome: if verdict.passed {
                Outcome::Passed
            } else {
                Outcome::Failed {
                    message: redactor.redact(&verdict.summary),
                }
            },
            duration: took,
            output: redactor.redact(&verdict.evidence.join("\n")),
            evidence: vec![],
        },
        Event::ScenarioFinished {
            scenario,
            passed: verdict.passed,
            duration: took,
        },
        Event::RunFinished {
            duration: took,
            passed: usize::from(verdict.passed),
            failed: usize::from(!verdict.passed),
        },
    ];
    for e in &events {
        junit.event(e);
    }
    junit.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::cql_standin::StandIn;

    fn verify_args(argv: &[&str]) -> VerifyArgs {
        let argv = [&["harness", "verify"], argv].concat();
        match Cli::try_parse_from(argv).expect("valid arguments").command {
            Command::Verify(args) => *args,
            other => panic!("{other:?}"),
        }
    }

    // Layer 2b: `harness verify cql` on servers outside Kubernetes, against the CQL protocol
    // stand-in (not Cassandra): exit 0 with JUnit, 1 when the rows differ, 2 on bad usage.
    #[tokio::test]
    async fn verify_cql_on_static_servers_exits_0_1_or_2() {
        let standin = StandIn::start_static(3).await;
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("cql.xml");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/cassandra/initial-seed.cql"
        );
        let endpoints: Vec<String> = standin.endpoints().iter().map(|e| e.address()).collect();
        let mut common = vec![];
        for e in &endpoints {
            common.extend(["--endpoint", e.as_str()]);
        }
        common.extend([
            "--query",
            "SELECT emp_id FROM my_cassandra_keyspace.employee",
        ]);
        let run = |extra: &[&str]| verify_args(&[&["cql"], common.as_slice(), extra].concat());

        let seeded = run(&[
            "--consistency",
            "ONE",
            "--script",
            script,
            "--expect-rows",
            "3",
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(verify_cmd(seeded).await, EXIT_PASS);
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(xml.contains("cql") && !xml.contains("<failure"), "{xml}");

        assert_eq!(verify_cmd(run(&["--expect-rows", "4"])).await, EXIT_FAIL);
        assert_eq!(
            verify_cmd(run(&["--expect-rows", "3", "--script", "/no/such.cql"])).await,
            EXIT_USAGE
        );
        assert!(verify_spec(&run(&["--expect-rows", "3", "--consistency", "MOST"])).is_err());
        assert_eq!(
            verify_spec(&run(&[])).unwrap_err(),
            "cql needs --expect-rows"
        );
    }
}
