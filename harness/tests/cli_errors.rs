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
    // A tag that matches nothing is said, as `run` says it: exit 2, naming the tags there are.
    for command in ["list", "validate"] {
        let (code, stdout, stderr) = harness(&[command, "--tags", "nosuch"], "/usr/bin:/bin");
        assert_eq!(code, Some(2), "{command}: {stdout}");
        assert!(
            stderr.contains("no scenario matches the selected tags (nosuch)")
                && stderr.contains("smoke"),
            "{stderr}"
        );
    }
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
    while !(stdout.contains("START") && stdout.contains("long / long-sleep")) {
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
    assert!(xml.contains("cancelled by Ctrl-C / SIGTERM"), "{xml}");
}

// Layer 1 (the real binary, static scenarios, no cluster): `--rerun-failed` runs only what
// failed in the named run, and the new report says which run it re-ran; with nothing failed it
// runs nothing.
#[test]
fn rerun_failed_runs_only_the_failed_scenarios_and_names_the_earlier_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str, passing: bool| {
        let step = if passing {
            "  - sleep: 10ms\n".to_string()
        } else {
            "  - verify:\n      memcache.pool: { target: { endpoints: ['127.0.0.1:1'] }, keys: 10 }\n"
                .to_string()
        };
        std::fs::write(
            dir.path().join(format!("{name}.yaml")),
            format!("name: {name}\ncluster: {{ required: false }}\nsteps:\n{step}"),
        )
        .unwrap();
    };
    scenario("rr-a", true);
    scenario("rr-b", false);
    let reports = dir.path().join("reports");
    let reports_arg = reports.to_str().unwrap();
    let scenarios = dir.path().to_str().unwrap();
    let runs = || -> Vec<std::path::PathBuf> {
        let mut all: Vec<_> = std::fs::read_dir(&reports)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        all.sort_by_key(|p| p.metadata().unwrap().modified().unwrap());
        all
    };
    let summary = |run: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
    };
    let names = |s: &serde_json::Value| -> Vec<String> {
        s["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--provider", "none", "--report-dir", reports_arg];
        args.extend_from_slice(extra);
        harness(&args, "/usr/bin:/bin")
    };

    let (code, _, stderr) = run(&[scenarios]);
    assert_eq!(code, Some(1), "{stderr}");
    let first = runs().pop().unwrap();
    let first_id = summary(&first)["run_id"].as_str().unwrap().to_string();

    // Bare: the latest run under --report-dir, given after or before the scenario paths
    // without taking one of them.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (code, stdout, stderr) = run(&["--rerun-failed"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "re-running the failed scenarios of run {first_id}"
        )),
        "{stdout}"
    );
    let second = runs().pop().unwrap();
    let s = summary(&second);
    assert_eq!(s["reran"], first_id.as_str());
    assert_eq!(s["format"], 1);
    assert_eq!(names(&s), ["rr-b"]);
    let junit = std::fs::read_to_string(second.join("junit.xml")).unwrap();
    assert!(
        junit.contains(&format!(r#"name="reran" value="{first_id}""#)),
        "{junit}"
    );

    std::thread::sleep(std::time::Duration::from_millis(20));
    let (code, stdout, stderr) = run(&["--rerun-failed", scenarios]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert_eq!(names(&summary(&runs().pop().unwrap())), ["rr-b"]);

    // The report folder itself: its latest run. rr-b passes now.
    scenario("rr-b", true);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (code, stdout, stderr) = run(&[&format!("--rerun-failed={reports_arg}")]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let passed = runs().pop().unwrap();
    assert_eq!(names(&summary(&passed)), ["rr-b"]);

    // That run passed: re-running its failures runs nothing.
    let (code, stdout, _) = run(&[&format!("--rerun-failed={}", passed.display())]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("nothing to re-run"), "{stdout}");

    // The README's other form, with a space: a run folder after the flag is the run to
    // re-run (not a scenario path), and the harness says so.
    let (code, stdout, stderr) = run(&["--rerun-failed", passed.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("nothing to re-run"), "{stdout}");
    assert!(
        stderr.contains("as the run to re-run (a run, not a scenario path)"),
        "{stderr}"
    );
}

// Layer 1 (real binary): --report-dir below a regular file is said once, naming the path,
// before anything runs (exit 2).
#[test]
fn a_report_dir_that_cannot_be_created_is_said_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    std::fs::write(
        dir.path().join("s.yaml"),
        "name: s\ncluster: { required: false }\nsteps:\n  - sleep: 1s\n",
    )
    .unwrap();
    let reports = dir.path().join("file/reports");
    let (code, stdout, stderr) = harness(
        &[
            "run",
            "--provider",
            "none",
            "--report-dir",
            reports.to_str().unwrap(),
            dir.path().join("s.yaml").to_str().unwrap(),
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("cannot create the report folder"),
        "{stderr}"
    );
    assert!(stderr.contains("file/reports"), "{stderr}");
    assert_eq!(stderr.matches("Not a directory").count(), 1, "{stderr}");
    assert!(!stdout.contains("START"), "nothing ran: {stdout}");
}

// A summary it cannot understand fully is refused (exit 2) saying what is wrong, never a
// green re-run; a file that is no summary is never echoed; an entry pointing outside the run's
// scenario paths (at /usr) is refused at once instead of walking it.
#[test]
fn rerun_failed_refuses_a_summary_it_cannot_understand() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let folder = reports.join("run-x");
    std::fs::create_dir_all(&folder).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.a-service-account-token\n").unwrap();
    let summary = |scenarios: serde_json::Value| {
        serde_json::json!({
            "format": 1, "harness_version": "0.1.0", "run_id": "run-x", "provider": "none",
            "selection": [dir.path().display().to_string()],
            "started_at": "2026-11-30T00:00:00Z", "duration_secs": 1.0,
            "totals": {"scenarios": 1, "passed": 0, "failed": 1, "skipped": 0, "unfinished": 0,
                "steps": 0, "steps_passed": 0, "steps_failed": 0, "steps_timed_out": 0,
                "steps_skipped": 0, "steps_cancelled": 0},
            "scenarios": scenarios
        })
        .to_string()
    };
    let entry = |name: &str, file: &str| {
        serde_json::json!([{ "name": name, "file": file, "outcome": "failed",
            "started_at": "2026-11-30T00:00:00Z", "offset_secs": 0.0, "duration_secs": 1.0,
            "steps": [] }])
    };
    let cases = [
        (token.clone(), None, "is not JSON"),
        (
            folder.join("summary.json"),
            Some(summary(entry("nofile", ""))),
            "names no scenario file",
        ),
        (
            folder.join("summary.json"),
            Some(summary(entry("usr", "/usr"))),
            "not a file under the paths that run selected from",
        ),
        (
            folder.join("summary.json"),
            Some(r#"{"format": 7}"#.to_string()),
            "not a run summary",
        ),
    ];
    for (path, text, want) in cases {
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        let started = std::time::Instant::now();
        let (code, stdout, stderr) = harness(
            &[
                "run",
                "--provider",
                "none",
                "--report-dir",
                reports.to_str().unwrap(),
                &format!("--rerun-failed={}", path.display()),
            ],
            "/usr/bin:/bin",
        );
        assert_eq!(code, Some(2), "{want}: {stdout}{stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert!(
            !stderr.contains("eyJhbG") && !stdout.contains("eyJhbG"),
            "{stderr}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
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

// `harness schema | head -c 1` closes the pipe early: the harness stops quietly (exit 0), as
// ripgrep does; output to a full disk is a clear error (exit 2), never a panic.
#[test]
fn a_closed_pipe_stops_quietly_and_a_full_disk_is_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    for args in [&["schema"][..], &["list"][..], &["schema", "--summary"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one byte, then close our end of the pipe.
        let mut first = [0u8; 1];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
    if std::path::Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .arg("schema")
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("error: writing to standard output"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

// A secret value with every character JSON and YAML escape is masked in `plan --json` and
// `plan --manifests`: masking happens before anything is serialised.
#[test]
fn plan_masks_secrets_whatever_characters_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(
        &file,
        r#"name: secret-chars
cluster: { workers: 1 }
variables:
  pw: { env: HARNESS_TEST_PW, secret: true }
steps:
  - apply:
      inline: |
        apiVersion: v1
        kind: ConfigMap
        metadata: { name: cm }
        data:
          password: |-
            ${pw}
"#,
    )
    .unwrap();
    let secret = "a\"b\\c\td'e: f#g";
    for flag in ["--json", "--manifests"] {
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["plan", file.to_str().unwrap(), flag])
            .env("HARNESS_TEST_PW", secret)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("******"), "{flag}: {stdout}");
        for piece in [r#"a\"b\\c\td"#, "d''e", "d'e: f#g", r#"a"b"#] {
            assert!(!stdout.contains(piece), "{flag} shows {piece}: {stdout}");
        }
    }
}

// Layer 1 (real binary): both streams on one pipe that closes after one byte
// (`harness run ... 2>&1 | head -c 1`): the run stops writing quietly, with its verdict as the
// exit code, never a panic (101).
#[test]
fn both_streams_on_a_closed_pipe_are_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fails.yaml"),
        "name: refused\ncluster: { required: false }\nsteps:\n  - verify: { http: { target: { endpoints: [\"127.0.0.1:1\"] }, path: / } }\n",
    )
    .unwrap();
    let script = format!(
        "\"{}\" run --provider none --report-dir \"{}/reports\" \"{}/fails.yaml\" 2>&1 | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_harness"),
        dir.path().display(),
        dir.path().display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(code, "1", "exit code of the harness: {code}");
}

// Layer 1 (real binary): text from flags and file names reaches the terminal shown, never as
// escape sequences the terminal would obey.
#[test]
fn escapes_in_flags_and_file_names_are_shown_not_obeyed() {
    let esc = "\u{1b}[2J\u{1b}]0;pwned\u{7}";
    for args in [
        vec![
            "verify".to_string(),
            format!("memcache.pool{esc}"),
            "--endpoint".into(),
            "127.0.0.1:1".into(),
        ],
        vec![
            "verify".into(),
            "cql".into(),
            "--endpoint".into(),
            format!("127.0.0.1{esc}:9042"),
            "--query".into(),
            "SELECT 1".into(),
            "--expect-rows".into(),
            "1".into(),
        ],
        vec![
            "verify".into(),
            "cql".into(),
            "--endpoint".into(),
            "127.0.0.1:9042".into(),
            "--query".into(),
            "SELECT 1".into(),
            "--expect-rows".into(),
            "1".into(),
            "--consistency".into(),
            format!("ONE{esc}"),
        ],
        vec![
            "verify".into(),
            "memcache.pool".into(),
            "--endpoint".into(),
            "127.0.0.1:1".into(),
            "--timeout".into(),
            format!("5s{esc}"),
        ],
        vec![
            "verify".into(),
            "memcache.pool".into(),
            "--endpoint".into(),
            "127.0.0.1:1".into(),
            "--timeout".into(),
            "18446744073709551615s".into(),
        ],
    ] {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = harness(&refs, &std::env::var("PATH").unwrap());
        assert!(
            matches!(code, Some(1) | Some(2)),
            "{args:?}: {code:?} {stderr}"
        );
        for text in [&stdout, &stderr] {
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{args:?}: {text:?}"
            );
            assert!(!text.contains("panicked"), "{args:?}: {text}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("s{esc}.yaml"));
    std::fs::write(
        &file,
        "name: fine\ncluster: { required: false }\nsteps:\n  - sleep: 1s\n",
    )
    .unwrap();
    for command in ["list", "validate", "plan"] {
        let target = if command == "plan" {
            file.display().to_string()
        } else {
            dir.path().display().to_string()
        };
        let (code, stdout, stderr) = harness(&[command, &target], &std::env::var("PATH").unwrap());
        assert_eq!(code, Some(0), "{command}: {stderr}");
        assert!(stdout.contains("s\\u{1b}[2J"), "{command}: {stdout}");
        assert!(
            !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
            "{command}: {stdout:?}"
        );
    }
}

// Layer 1 (real binary): a secret used as a map key (holding a backslash and a tab, which JSON
// and YAML escape) is masked in both outputs, and a secret whose value is `null` leaves
// `plan --json` valid JSON with its own nulls intact.
#[test]
fn plan_masks_secret_keys_and_keeps_json_valid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(
        &file,
        r#"name: secret-keys
cluster: { workers: 1 }
variables:
  key: { env: HARNESS_TEST_KEY, secret: true }
  nothing: { env: HARNESS_TEST_NULL, secret: true }
steps:
  - apply:
      inline: |
        apiVersion: v1
        kind: ConfigMap
        metadata: { name: cm }
        data:
          '${key}': plain
          other: "${nothing}"
"#,
    )
    .unwrap();
    for flag in ["--json", "--manifests"] {
        let out = Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["plan", file.to_str().unwrap(), flag])
            .env("HARNESS_TEST_KEY", "Tb\tk\\ey-secret")
            .env("HARNESS_TEST_NULL", "null")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for piece in ["ey-secret", "Tb\\t", "Tb\t"] {
            assert!(!stdout.contains(piece), "{flag} shows {piece:?}: {stdout}");
        }
        if flag == "--json" {
            let v: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
            assert!(
                v["probe_window"].is_null() || v.get("probe_window").is_none(),
                "{v}"
            );
        }
    }
}

// Layer 1 (real binary, a closed port as the API server): the message names the server's URL
// and the cause under the client's words (connection refused), not only `client error`.
#[test]
fn an_unreachable_api_server_is_named_with_its_url_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lo\n  cluster: {{ server: \"https://{closed}\" }}\ncontexts:\n- name: lo\n  context: {{ cluster: lo, user: u }}\nusers:\n- name: u\n  user: {{ token: x }}\ncurrent-context: lo\n"
        ),
    )
    .unwrap();
    let (code, _, stderr) = harness(
        &[
            "run",
            "--context",
            "lo",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--report-dir",
            dir.path().join("reports").to_str().unwrap(),
            "scenarios/memcached/pool.yaml",
        ],
        "/usr/bin:/bin",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("context lo at https://{closed}"))
            && stderr.contains("Connection refused"),
        "{stderr}"
    );
}
