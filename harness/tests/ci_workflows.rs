//! The workflows under `ci/` run what they say (layer 1: no cluster). The release gate's
//! command is taken from `ci/release.yml` as written and run with its environment, the
//! scenario tests in dry-run mode (each validates its scenario instead of creating a cluster):
//! every scenario file must run as a test, and none may be filtered out or left ignored.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `run:` command and `env:` of the step named `step` in a workflow.
fn step(workflow: &str, step: &str) -> (String, Vec<(String, String)>) {
    let text = std::fs::read_to_string(root().join("ci").join(workflow)).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    for job in doc["jobs"].as_mapping().unwrap().values() {
        for s in job["steps"].as_sequence().unwrap() {
            if s["name"].as_str() == Some(step) {
                let env = s["env"]
                    .as_mapping()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                (
                                    k.as_str().unwrap().to_string(),
                                    // As GitHub evaluates it here: an expression of
                                    // an unset secret or variable is the empty string.
                                    match v.as_str().unwrap_or_default() {
                                        e if e.starts_with("${{") => String::new(),
                                        plain => plain.to_string(),
                                    },
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                return (s["run"].as_str().unwrap().trim().to_string(), env);
            }
        }
    }
    panic!("no step `{step}` in ci/{workflow}");
}

fn scenario_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .with_extension("")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let base = root().join("scenarios");
    let mut out = vec![];
    walk(&base, &base, &mut out);
    out.sort();
    out
}

/// A nested cargo run as a user's shell would start it: without what cargo and nextest set for
/// this test process (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `NEXTEST_*`...). Build scripts that
/// watch those (ring's does) would otherwise rerun, and the harness and its TLS stack be
/// compiled a second time inside the test.
fn without_test_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        let set_for_tests = k.starts_with("NEXTEST")
            || k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_EXE_")
            || matches!(
                k.as_str(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
                    | "__CARGO_FIX_YOLO"
                    | "RUST_TEST_THREADS"
            );
        if set_for_tests {
            cmd.env_remove(k);
        }
    }
}

#[test]
fn the_release_gate_runs_every_scenario_test() {
    let (command, env) = step("release.yml", "scenario tests on kind");
    assert!(command.starts_with("cargo nextest run"), "{command}");
    // The README gives users this very command for the cluster layer.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("`HARNESS_PROVIDER=kind {command}`")),
        "the README's cluster command is not the release gate's `{command}`"
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&command)
        .current_dir(root())
        .env("HARNESS_SCENARIO_DRY_RUN", "1")
        .env_remove("HARNESS_CONTEXT");
    without_test_env(&mut cmd);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the release gate's command");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command}\n{stdout}\n{stderr}");
    let scenarios = scenario_files();
    assert!(scenarios.len() >= 8, "{scenarios:?}");
    for name in &scenarios {
        assert!(
            stderr.contains(&format!("harness::scenarios {name}")),
            "{name} did not run:\n{stderr}"
        );
    }
    assert!(
        stderr.contains(&format!(
            "{} tests run: {} passed",
            scenarios.len(),
            scenarios.len()
        )),
        "{stderr}"
    );
}

#[test]
fn without_a_cluster_the_scenario_tests_say_why() {
    let mut cmd = Command::new("cargo");
    cmd.args([
        "nextest",
        "run",
        "--workspace",
        "--profile",
        "cluster",
        "--no-fail-fast",
    ])
    .current_dir(root())
    .env_remove("HARNESS_PROVIDER")
    .env_remove("HARNESS_CONTEXT")
    .env_remove("HARNESS_SCENARIO_DRY_RUN");
    without_test_env(&mut cmd);
    let out = cmd.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(
        all.contains("the scenario tests need a Kubernetes cluster: set HARNESS_PROVIDER=kind"),
        "{all}"
    );
}

/// The nightly's matrix: one job per slice, the number of slices in one place, and a merge job
/// that joins them (layer 1).
#[test]
fn the_nightly_matrix_runs_every_slice_and_merges_them() {
    let text = std::fs::read_to_string(root().join("ci/nightly.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let shards = doc["env"]["SHARDS"].as_u64().expect("env.SHARDS");
    let matrix: Vec<u64> = doc["jobs"]["scenarios"]["strategy"]["matrix"]["shard"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(serde_yaml::Value::as_u64)
        .collect();
    assert_eq!(
        matrix,
        (1..=shards).collect::<Vec<_>>(),
        "the matrix must list 1..=SHARDS"
    );
    let (run, _) = step("nightly.yml", "one slice of the scenarios on kind");
    assert!(
        run.contains("--partition \"${{ matrix.shard }}/${{ env.SHARDS }}\""),
        "{run}"
    );
    // Balanced by the last merged night's durations when the cache has them.
    assert!(
        run.contains("--partition-weights durations/summary.json"),
        "{run}"
    );
    // A fixed kind config would size every slice's cluster for the largest scenario of all.
    assert!(!run.contains("--kind-config"), "{run}");
    assert_eq!(doc["jobs"]["merge"]["needs"].as_str(), Some("scenarios"));
    let (merge, _) = step(
        "nightly.yml",
        "merge the slices into one run (exit 1 when a scenario failed)",
    );
    assert!(merge.contains("report merge"), "{merge}");
    // The merged summary is what the next night splits by: saved under the key it restores.
    let (keep, _) = step("nightly.yml", "the night's durations, for tomorrow's split");
    assert!(keep.contains("durations/summary.json"), "{keep}");
    assert!(text.contains("key: nightly-durations-${{ github.run_id }}"));
    assert!(text.contains("restore-keys: nightly-durations-"));
    // Every workflow that publishes a check may.
    for workflow in [
        "nightly.yml",
        "release.yml",
        "pull-request.yml",
        "kubernetes-versions.yml",
    ] {
        let doc: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(root().join("ci").join(workflow)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            doc["permissions"]["checks"].as_str(),
            Some("write"),
            "{workflow} publishes JUnit as a check"
        );
    }
    // Every seed scenario falls in one of the slices, and each slice has one.
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["list", "scenarios"])
        .current_dir(root())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let names: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 8, "{listing}");
    let slices = harness::cli::partition::slices(&names, shards as u32, None);
    for k in 1..=shards as u32 {
        assert!(
            slices.values().any(|v| *v == k),
            "slice {k}/{shards} would be empty: {slices:?}"
        );
    }
}

/// The workflows as GitHub reads them: actionlint (installed by scripts/install-test-deps.sh)
/// finds nothing, and the pull-request smoke job waits for the tests.
#[test]
fn the_workflows_pass_actionlint() {
    let actionlint = root().join("target/test-python/bin/actionlint");
    let workflows: Vec<PathBuf> = std::fs::read_dir(root().join("ci"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    assert!(workflows.len() >= 4);
    let out = Command::new(&actionlint)
        .args(&workflows)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/install-test-deps.sh",
                actionlint.display()
            )
        });
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let pr: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("ci/pull-request.yml")).unwrap())
            .unwrap();
    assert_eq!(pr["jobs"]["smoke"]["needs"].as_str(), Some("tests"));
}
