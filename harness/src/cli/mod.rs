//! The command line: `list`, `validate`, `plan`, `run`, `verify`. Exit codes: 0 all passed,
//! 1 a scenario or check failed, 2 invalid input or usage. Results go to stdout, logs to stderr.
//!
//! Thin on purpose: every command selects scenarios through `select` and runs plans through
//! [`run::execute`]; `harness verify` builds a one-step static plan and goes the same way.

/// Writes one line to standard error with every control or invisible character shown, not
/// obeyed (the text may hold what a file, a summary or a flag held), and never panics: a
/// closed stderr (`harness run 2>&1 | head -c 1`) is not an error worth dying for.
macro_rules! say {
    ($($t:tt)*) => {
        $crate::cli::say_line(&format!($($t)*))
    };
}

pub mod merge;
pub mod partition;
pub mod rerun;
mod run;
mod select;
mod verify;

pub use run::{execute, version_mismatch};
pub use select::new_run_id;

use crate::plan::CleanupPolicy;
use crate::verify::VerifyFlags;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

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
    Run(Box<RunArgs>),
    /// Run one verifier against static endpoints (no cluster needed).
    Verify(Box<VerifyArgs>),
    /// Print the JSON Schema of scenario files (for editors: yaml-language-server), or with
    /// --summary the JSON Schema of a run's summary.json.
    Schema {
        /// The schema of summary.json instead.
        #[arg(long)]
        summary: bool,
    },
    /// Work with reports of earlier runs.
    #[command(subcommand)]
    Report(ReportCommand),
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Join the runs of one logical run (the `--partition K/N` shards of a CI matrix) into one:
    /// one summary.json listing its shards, one junit.xml, one index.html, the evidence.
    Merge {
        /// Each shard's run folder (or its summary.json).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Where the merged run's folder is written.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
    },
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
    /// JUnit report path (default: `REPORT_DIR/RUN_ID/junit.xml`).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// Keep everything the scenarios created.
    #[arg(long)]
    pub keep: bool,
    /// Keep the namespace of a failed scenario for inspection (and the cluster the harness
    /// created, which holds it; the run says how to delete it).
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Keep the cluster the harness created.
    #[arg(long)]
    pub keep_cluster: bool,
    /// Do not pull the scenarios' images once on the host and load them into the kind or
    /// Minikube cluster before the first scenario (each node then pulls for itself).
    #[arg(long)]
    pub no_preload: bool,
    /// Skip (instead of fail) a scenario whose `cluster.workers` exceeds the schedulable nodes
    /// the cluster has.
    #[arg(long)]
    pub skip_undersized: bool,
    /// Run only the scenarios that failed (or never finished) in an earlier run: its
    /// summary.json or run folder, by default the latest run under --report-dir.
    /// `--rerun-failed` alone takes the latest run; `--rerun-failed=REPORT` names one (with
    /// `=`, so that it never takes a scenario path that follows it).
    #[arg(
        long,
        value_name = "REPORT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ""
    )]
    pub rerun_failed: Option<String>,
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
    /// Run slice K of N of the selected scenarios (`2/3`): each scenario is in exactly one
    /// slice, by a hash of its name (stable when scenarios are added). For a CI job matrix;
    /// `harness report merge` joins the slices' reports.
    #[arg(long, env = "HARNESS_PARTITION")]
    pub partition: Option<partition::Partition>,
    /// With --partition: spread the scenarios by their durations in this earlier run (a run
    /// folder or its summary.json) so the slices finish together.
    #[arg(long, requires = "partition")]
    pub partition_weights: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The verifier (every one is listed below, from the registry).
    pub verifier: String,
    #[command(flatten)]
    pub flags: VerifyFlags,
    /// Bound on the whole check.
    #[arg(long, default_value = "5m")]
    pub timeout: String,
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// The command line with `harness verify --help` listing every registered verifier.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut listed = String::from("The verifier, one of:\n");
    for ((name, checks), (_, here)) in crate::verify::DOCS.iter().zip(crate::verify::FROM_VERIFY) {
        let only = if *here {
            ""
        } else {
            " (in a scenario only: it needs pods or a workload, not static endpoints)"
        };
        listed.push_str(&format!("\n  {name}{only}\n      {checks}\n"));
    }
    Cli::command().mut_subcommand("verify", |c| {
        c.mut_arg("verifier", |a| a.long_help(listed.clone()))
    })
}

pub fn main() -> ExitCode {
    use clap::FromArgMatches;
    let parsed = command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
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
            say!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAIL);
        }
    };
    ExitCode::from(runtime.block_on(dispatch(cli)))
}

/// What is logged unless `HARNESS_LOG` says otherwise: warnings and errors, but not kube's or
/// the Cassandra driver's own lines. Every error they meet comes back to the harness as a
/// value and is reported once, with its context, in the step's result; their line for it is a
/// duplicate without context, and during a fault step (a pod deleted on purpose, a node
/// restarting under a workload: dozens of driver reconnects) an alarming one.
pub const DEFAULT_LOG_FILTER: &str = "warn,kube_client=off,scylla=off";

pub(crate) fn log_filter(spec: Option<&str>) -> tracing_subscriber::EnvFilter {
    spec.and_then(|s| tracing_subscriber::EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER))
}

fn init_tracing() {
    let filter = log_filter(std::env::var("HARNESS_LOG").ok().as_deref());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr closed) is dropped, not a panic.
        .log_internal_errors(false)
        .with_env_filter(filter)
        .with_ansi(crate::report::console::colours(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
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
        Command::Run(args) => run::run(*args).await,
        Command::Report(ReportCommand::Merge { runs, report_dir }) => {
            merge::merge(&runs, &report_dir)
        }
        Command::Verify(args) => verify::verify(*args).await,
        Command::Schema { summary } => {
            let text = if summary {
                crate::report::model::Run::schema()
            } else {
                crate::scenario::schema()
            };
            print_or_stop(&text)
        }
    }
}

fn list(select: &Select) -> u8 {
    match select::load_all(select, crate::scenario::CHECK_RUN_ID) {
        Ok(scenarios) => {
            let mut text = String::new();
            for s in scenarios {
                text.push_str(&format!(
                    "{:<36} {:<24} {}\n",
                    s.name,
                    s.tags.join(","),
                    s.file.display()
                ));
            }
            write_out(&text).err().unwrap_or(EXIT_PASS)
        }
        Err(code) => code,
    }
}

fn validate(select: &Select) -> u8 {
    let started = Instant::now();
    match select::load_all(select, crate::scenario::CHECK_RUN_ID) {
        Ok(scenarios) => {
            let mut text = String::new();
            for s in &scenarios {
                text.push_str(&format!("ok  {} ({})\n", s.name, s.file.display()));
            }
            text.push_str(&format!(
                "{} scenario(s) valid in {:.0} ms\n",
                scenarios.len(),
                started.elapsed().as_secs_f64() * 1000.0
            ));
            write_out(&text).err().unwrap_or(EXIT_PASS)
        }
        Err(code) => code,
    }
}

fn plan_cmd(file: &Path, manifests: bool, json: bool, run_id: Option<String>) -> u8 {
    let select = Select {
        paths: vec![file.to_path_buf()],
        tags: vec![],
    };
    let run_id = run_id.unwrap_or_else(new_run_id);
    let plans = match select::plans(&select, &run_id, CleanupPolicy::default()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut text = String::new();
    for p in plans {
        if json {
            text.push_str(&p.render_json());
            text.push('\n');
        } else {
            text.push_str(&p.render_text(manifests));
        }
    }
    write_out(&text).err().unwrap_or(EXIT_PASS)
}

/// See [`say!`].
pub(crate) fn say_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{}", crate::diag::visible(text));
}

/// Writes to standard output, every control or invisible character shown (file names, names
/// and values from scenario files are input). A closed pipe (`harness list | head -1`) stops quietly, as
/// ripgrep does (`Err(0)`); another write error (a full disk) is said plainly (`Err(2)`).
pub(crate) fn write_out(text: &str) -> Result<(), u8> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let text = crate::diag::visible(text);
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(EXIT_PASS),
        Err(e) => {
            say!("error: writing to standard output: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// [`write_out`] of one text and a line break, as an exit code.
pub(crate) fn print_or_stop(text: &str) -> u8 {
    write_out(&format!("{text}\n")).err().unwrap_or(EXIT_PASS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a subscriber with `filter` prints for the lines a fault step can cause.
    fn printed(filter: Option<&str>) -> String {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_env_filter(log_filter(filter))
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "kube_client::client", "Unsuccessful data error parse: 500");
            tracing::debug!(target: "harness::k8s::bridge", "port-forward to galera-1:3306: pod not found");
            tracing::warn!(target: "harness::cli::run", "a warning the user must see");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    // Layer 1 (pure): by default a deleted pod's expected consequences (kube's own error line,
    // a bridge to the pod failing) print nothing, while the harness's warnings still do;
    // HARNESS_LOG brings them back.
    #[test]
    fn expected_fault_noise_is_quiet_by_default_and_loud_on_request() {
        let quiet = printed(None);
        assert!(quiet.contains("a warning the user must see"), "{quiet}");
        assert!(!quiet.contains("500"), "{quiet}");
        assert!(!quiet.contains("pod not found"), "{quiet}");
        let loud = printed(Some("debug"));
        assert!(
            loud.contains("500") && loud.contains("pod not found"),
            "{loud}"
        );
    }
}
