//! One test per `scenarios/**/*.yaml` (layer 4: cluster). Names are the file's path under
//! `scenarios/` without the extension (`galera/etcd-sync`), so `--exact galera/etcd-sync`
//! resolves straight to its file; listing walks directories and reads no file.
//!
//! The tests are ignored unless a cluster is configured through the environment:
//! `HARNESS_CONTEXT=<kubeconfig context>` (an existing cluster) or `HARNESS_PROVIDER=kind|minikube`
//! (a cluster the harness creates). Each test runs `harness run <file>` and writes JUnit to
//! `reports/nextest/<name>.xml`; on failure it prints `Error: <message>` to stderr.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

const IGNORE_REASON: &str = "needs a Kubernetes cluster: set HARNESS_CONTEXT or HARNESS_PROVIDER";

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
        let message = format!("Error: {IGNORE_REASON}");
        eprintln!("{message}");
        return Err(message.into());
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
    let ignored = !cluster_configured();
    let trials = files
        .into_iter()
        .map(|file| {
            let rel = file
                .strip_prefix(&scenarios)
                .unwrap_or(&file)
                .with_extension("");
            let name = rel.to_string_lossy().replace('\\', "/");
            let test_name = name.clone();
            Trial::test(test_name, move || run_scenario(&name, &file)).with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
