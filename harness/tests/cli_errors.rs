//! The command line's promises on bad usage and missing tools (layer 1: runs the real binary,
//! no cluster). Exit 2 with one clear message; nothing touched.

use std::process::Command;

fn harness(args: &[&str], path: &str) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("PATH", path)
        .env_remove("HARNESS_CONTEXT")
        .env_remove("HARNESS_PROVIDER")
        .args(args)
        .output()
        .expect("run harness");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_kind_binary_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = harness(
        &[
            "run",
            "scenarios/memcached/pool.yaml",
            "--provider",
            "kind",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        "/nonexistent",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`kind` is not installed") && stderr.contains("kind.sigs.k8s.io"),
        "{stderr}"
    );
}

#[test]
fn a_missing_minikube_binary_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = harness(
        &[
            "run",
            "scenarios/memcached/pool.yaml",
            "--provider",
            "minikube",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        "/nonexistent",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`minikube` is not installed"), "{stderr}");
}

#[test]
fn an_unknown_context_exits_2_and_an_existing_cluster_needs_a_named_context() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .unwrap();
    let (code, _, stderr) = harness(
        &[
            "run",
            "scenarios/memcached/pool.yaml",
            "--context",
            "nope",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the kubeconfig {} has no context `nope`; it has no contexts",
            kubeconfig.display()
        )),
        "{stderr}"
    );
    let (code, _, stderr) = harness(
        &[
            "run",
            "scenarios/memcached/pool.yaml",
            "--provider",
            "existing",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pass --context"), "{stderr}");
}

#[test]
fn provider_none_and_k3s_name_the_scenarios_they_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = harness(
        &[
            "run",
            "scenarios/memcached/pool.yaml",
            "scenarios/galera/etcd-sync.yaml",
            "--provider",
            "none",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--provider none runs no cluster"),
        "{stderr}"
    );
    assert!(
        stderr.contains("memcached-pool (scenarios/memcached/pool.yaml, cluster.workers: 3)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("scenarios/galera/etcd-sync.yaml"),
        "{stderr}"
    );
    let (code, _, stderr) = harness(
        &[
            "run",
            "scenarios/memcached/pool.yaml",
            "--provider",
            "k3s",
            "--report-dir",
            dir.path().to_str().unwrap(),
        ],
        "/nonexistent",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("k3s gives 1 node"), "{stderr}");
    assert!(stderr.contains("memcached-pool"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let (code, _, _) = harness(&["frobnicate"], "/usr/bin:/bin");
    assert_eq!(code, Some(2));
    let (code, stdout, _) = harness(&["--help"], "/usr/bin:/bin");
    assert_eq!(code, Some(0));
    assert!(stdout.contains("validate") && stdout.contains("verify"));
    let (code, _, stderr) = harness(&["run", "--parallel", "0"], "/usr/bin:/bin");
    assert_eq!(code, Some(2), "{stderr}");
    let (code, _, stderr) = harness(&["validate", "no/such/dir"], "/usr/bin:/bin");
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn list_and_plan_work_on_the_seed_scenarios() {
    let (code, stdout, stderr) = harness(&["list", "--tags", "smoke"], "/usr/bin:/bin");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("memcached-pool")
            && stdout.contains("galera-etcd-sync")
            && !stdout.contains("cassandra-ring-join"),
        "{stdout}"
    );
    let (code, stdout, stderr) = harness(
        &[
            "plan",
            "scenarios/cassandra/ring-join.yaml",
            "--run-id",
            "20261122-000000-beef",
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("namespace: h-cassandra-ring-join-00beef"),
        "{stdout}"
    );
    assert!(
        stdout.contains("scale StatefulSet/cassandra to 4"),
        "{stdout}"
    );
    assert!(stdout.contains("[timeout 25m]"), "{stdout}");
}

/// Ctrl-C / SIGTERM end to end (layer 1, no cluster): the running step is cancelled, `finally`
/// still runs, the reports are written, and the exit code is 1.
#[test]
fn sigterm_cancels_the_run_runs_finally_and_writes_reports() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("long.yaml");
    std::fs::write(
        &scenario,
        "name: long\ncluster: { required: false }\nsteps:\n  - id: long-sleep\n    sleep: 60s\n  - id: never\n    sleep: 1s\nfinally:\n  - id: teardown\n    sleep: 10ms\n",
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--provider",
            "none",
            "--junit",
            junit.to_str().unwrap(),
            "--report-dir",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Plain output announces each step as it starts; send SIGTERM once the long one runs.
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut stdout = String::new();
    while !stdout.contains("START   long / long-sleep") {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the harness ended early: {stdout}"
        );
        stdout.push_str(&line);
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    reader.read_to_string(&mut stdout).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CANCEL  long / long-sleep"), "{stdout}");
    assert!(stdout.contains("SKIP    long / never"), "{stdout}");
    assert!(
        stdout.contains("PASS    long / finally teardown"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit written after the signal");
    assert!(xml.contains(r#"type="cancelled""#), "{xml}");
}

// Layer 1 (the real binary, static scenarios, no cluster): `--rerun-failed` runs only what
// failed in the named run, and the new report says which run it re-ran; with nothing failed it
// runs nothing.
#[test]
fn rerun_failed_runs_only_the_failed_scenarios_and_names_the_earlier_run() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["rr-a", "rr-b"] {
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            format!("name: {name}\ncluster: {{ required: false }}\nsteps:\n  - sleep: 10ms\n"),
        )
        .unwrap();
    }
    let reports = dir.path().join("reports");
    let earlier = reports.join("run-earlier");
    std::fs::create_dir_all(&earlier).unwrap();
    let file = |n: &str| dir.path().join(format!("{n}.yaml")).display().to_string();
    std::fs::write(
        earlier.join("summary.json"),
        serde_json::json!({"run_id": "run-earlier", "scenarios": [
            {"name": "rr-a", "file": file("rr-a"), "passed": true},
            {"name": "rr-b", "file": file("rr-b"), "passed": false}]})
        .to_string(),
    )
    .unwrap();
    let (code, stdout, stderr) = harness(
        &[
            "run",
            "--provider",
            "none",
            "--report-dir",
            reports.to_str().unwrap(),
            "--rerun-failed",
            earlier.to_str().unwrap(),
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("re-running the failed scenarios of run run-earlier"),
        "{stdout}"
    );
    let new_run = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| *p != earlier)
        .expect("a new run folder");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new_run.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["reran"], "run-earlier");
    let names: Vec<&str> = summary["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["rr-b"]);
    let junit = std::fs::read_to_string(new_run.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"name="reran" value="run-earlier""#),
        "{junit}"
    );

    // The new run passed: re-running its failures runs nothing.
    let (code, stdout, _) = harness(
        &[
            "run",
            "--provider",
            "none",
            "--report-dir",
            reports.to_str().unwrap(),
            "--rerun-failed",
            new_run.to_str().unwrap(),
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(0));
    assert!(stdout.contains("nothing to re-run"), "{stdout}");
}

// A password given where the name of its environment variable belongs is never printed, on
// the command line as in a scenario run; a variable name that is not set is named.
#[test]
fn a_password_given_as_password_env_is_never_printed() {
    let (code, stdout, stderr) = harness(
        &[
            "verify",
            "galera.status",
            "--endpoint",
            "127.0.0.1:1",
            "--user",
            "root",
            "--password-env",
            "S3cr3t-hunter2",
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        !stderr.contains("S3cr3t") && !stdout.contains("S3cr3t"),
        "{stderr}"
    );
    assert!(stderr.contains("its name is not shown"), "{stderr}");
    let (code, _, stderr) = harness(
        &[
            "verify",
            "galera.status",
            "--endpoint",
            "127.0.0.1:1",
            "--user",
            "root",
            "--password-env",
            "HARNESS_SURELY_UNSET_PW",
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`HARNESS_SURELY_UNSET_PW`, which is not set"),
        "{stderr}"
    );
}
