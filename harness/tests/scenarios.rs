//! One test per `scenarios/**/*.yaml` (layer 4: cluster). Names are the file's path under
//! `scenarios/` without the extension (`galera/etcd-sync`), so `--exact galera/etcd-sync`
//! resolves straight to its file; listing walks directories and reads no file.
//!
//! They run under nextest's `cluster` profile (`cargo nextest run --profile cluster`), whose
//! default filter is this binary; the other profiles leave it out by their default filter, so a
//! plain `cargo nextest run` needs no cluster. A cluster comes from the environment:
//! `HARNESS_CONTEXT=<kubeconfig context>` (an existing cluster) or
//! `HARNESS_PROVIDER=kind|minikube|k3s` (a cluster the harness creates); without one, each
//! test fails at once saying so (never "0 tests run" without a reason). Each test runs
//! `harness run <file>` and writes JUnit to `reports/nextest/<name>.xml`; on failure it prints
//! `Error: <message>` to stderr.
//!
//! `HARNESS_SCENARIO_DRY_RUN=1` makes each test validate its scenario instead of running it:
//! the workflows' own commands are tested that way (`tests/ci_workflows.rs`), every scenario
//! counted, without a cluster.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

const NO_CLUSTER: &str = "the scenario tests need a Kubernetes cluster: set HARNESS_PROVIDER=kind (or minikube, k3s) for one the harness creates, or HARNESS_CONTEXT=<kubeconfig context> for an existing one";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

fn cluster_configured() -> bool {
    ["HARNESS_CONTEXT", "HARNESS_PROVIDER"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "none"))
}

fn run_scenario(name: &str, file: &Path) -> Result<(), Failed> {
    if !cluster_configured() {
        let message = format!("Error: {NO_CLUSTER}");
        eprintln!("{message}");
        return Err(message.into());
    }
    if std::env::var_os("HARNESS_SCENARIO_DRY_RUN").is_some() {
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(root())
            .arg("validate")
            .arg(file)
            .output()
            .map_err(|e| format!("Error: cannot run the harness: {e}"))?;
        println!("dry run: validated {name}");
        return if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned().into())
        };
    }
    let junit = root()
        .join("reports/nextest")
        .join(format!("{}.xml", name.replace('/', "__")));
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(root())
        .arg("run")
        .arg(file)
        .arg("--junit")
        .arg(&junit)
        .output()
        .map_err(|e| format!("Error: cannot run the harness: {e}"))?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    let message = format!(
        "Error: scenario {name} failed (exit {:?}); JUnit: {}",
        out.status.code(),
        junit.display()
    );
    eprintln!("{message}");
    Err(message.into())
}

fn main() {
    let args = Arguments::from_args();
    let scenarios = root().join("scenarios");
    let mut files = vec![];
    walk(&scenarios, &mut files);
    files.sort();
    let trials = files
        .into_iter()
        .map(|file| {
            let rel = file
                .strip_prefix(&scenarios)
                .unwrap_or(&file)
                .with_extension("");
            let name = rel.to_string_lossy().replace('\\', "/");
            let test_name = name.clone();
            Trial::test(test_name, move || run_scenario(&name, &file))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
