//! `--partition K/N` and `harness report merge`, through the real binary (layer 1: static
//! scenarios, no server; the `rig` module, layer 2: three shards against real memcached
//! servers, as three processes at once).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn harness(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(cwd)
        .env_remove("HARNESS_PARTITION")
        .output()
        .expect("run the harness")
}

/// Five static scenarios: four that pass, one that fails (a refused connection, real).
fn scenarios(dir: &Path) {
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    for i in 0..4 {
        std::fs::write(
            scenarios.join(format!("s{i}.yaml")),
            format!("name: static-{i}\ncluster: {{ required: false }}\nsteps:\n  - id: settle\n    sleep: 10ms\n"),
        )
        .unwrap();
    }
    std::fs::write(
        scenarios.join("fails.yaml"),
        "name: static-fails\ncluster: { required: false }\nsteps:\n  - id: refused\n    verify: { http: { target: { endpoints: [\"127.0.0.1:1\"] }, path: / } }\n",
    )
    .unwrap();
}

/// The run folders under `reports`, oldest first.
fn runs(reports: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(reports)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// A step as compared: (id, status, message).
type StepContent = (String, String, String);

/// What a run says of its scenarios, without ids and times: (name, outcome, steps), sorted by
/// name.
fn content(summary: &serde_json::Value) -> Vec<(String, String, Vec<StepContent>)> {
    let mut out: Vec<_> = summary["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["outcome"].as_str().unwrap().to_string(),
                s["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|st| {
                        (
                            st["id"].as_str().unwrap().to_string(),
                            st["status"].as_str().unwrap().to_string(),
                            st["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The JUnit test cases as (suite, case, failed), sorted.
fn cases(run: &Path) -> Vec<(String, String, bool)> {
    let xml = std::fs::read_to_string(run.join("junit.xml")).unwrap();
    let mut out = vec![];
    let mut suite = String::new();
    for part in xml.split('<').skip(1) {
        let attr = |name: &str| {
            part.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default()
                .to_string()
        };
        if part.starts_with("testsuite ") {
            suite = attr("name");
        } else if part.starts_with("testcase ") {
            out.push((suite.clone(), attr("name"), false));
        } else if part.starts_with("failure")
            && let Some(last) = out.last_mut()
        {
            last.2 = true;
        }
    }
    out.sort();
    out
}

#[test]
fn three_shards_merged_say_what_one_run_of_all_says_and_bad_shard_sets_are_named() {
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let whole = harness(
        &[
            "run",
            "--provider",
            "none",
            "--report-dir",
            "whole",
            "scenarios",
        ],
        dir.path(),
    );
    assert_eq!(
        whole.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let whole = runs(&dir.path().join("whole")).remove(0);

    let mut slices = 0;
    for k in 1..=3 {
        let out = harness(
            &[
                "run",
                "--provider",
                "none",
                "--report-dir",
                "shards",
                "--partition",
                &format!("{k}/3"),
                "scenarios",
            ],
            dir.path(),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{stdout}");
        if !stdout.contains("holds no scenario") {
            slices += 1;
        }
    }
    // Every slice wrote a run, an empty one too.
    let shard_runs = runs(&dir.path().join("shards"));
    assert_eq!(shard_runs.len(), 3);
    // Every scenario ran in exactly one shard.
    let mut names: Vec<String> = shard_runs
        .iter()
        .flat_map(|r| content(&summary(r)).into_iter().map(|c| c.0))
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    names.dedup();
    assert_eq!(names.len(), 5, "a scenario ran twice: {names:?}");
    for r in &shard_runs {
        assert!(summary(r)["partition"].as_str().unwrap().ends_with("/3"));
    }

    // These five names hash into all three slices (FNV-1a of the name, fixed).
    assert_eq!(slices, 3);
    {
        let mut args = vec!["report", "merge", "--report-dir", "merged"];
        let shown: Vec<String> = shard_runs.iter().map(|p| p.display().to_string()).collect();
        args.extend(shown.iter().map(String::as_str));
        let out = harness(&args, dir.path());
        // The merged run holds the failing scenario: exit 1, as `run` of all of them.
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let merged = runs(&dir.path().join("merged")).remove(0);
        let (m, w) = (summary(&merged), summary(&whole));
        assert_eq!(content(&m), content(&w));
        assert_eq!(m["totals"], w["totals"]);
        assert_eq!(m["shards"].as_array().unwrap().len(), 3);
        assert_eq!(cases(&merged), cases(&whole));
        let html = std::fs::read_to_string(merged.join("index.html")).unwrap();
        for name in &names {
            assert!(
                html.contains(name.as_str()),
                "{name} not in the merged page"
            );
        }
        // --rerun-failed reads the merged run: it re-runs the one failed scenario.
        let out = harness(
            &[
                "run",
                "--provider",
                "none",
                "--report-dir",
                "rerun",
                &format!("--rerun-failed={}", merged.display()),
            ],
            dir.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("re-running 1 scenario(s)"), "{stderr}");

        // One shard missing, one given twice: named, nothing written.
        let out = harness(
            &[
                "report",
                "merge",
                "--report-dir",
                "bad",
                &shown[0],
                &shown[0],
                &shown[1],
            ],
            dir.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        // The same run twice is named as such, and the slice left out is still named.
        assert!(stderr.contains("is missing"), "{stderr}");
        assert!(
            stderr.contains("are the same run: give each shard once"),
            "{stderr}"
        );
        assert!(!dir.path().join("bad").exists());
    }
}

#[test]
fn a_partition_is_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let out = harness(
        &[
            "run",
            "--provider",
            "none",
            "--partition",
            "4/3",
            "scenarios",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a partition"));
}

mod rig {
    use super::*;
    use harness_testkit::rig;

    // Layer 2: three shards as three processes at once, each checking real memcached servers
    // from scenarios without a cluster, merged into one passing run.
    #[tokio::test]
    #[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
    async fn three_shards_against_real_servers_run_at_once_and_merge() {
        let (_node, port) = rig::memcached_published().await;
        let dir = tempfile::tempdir().unwrap();
        let scenarios = dir.path().join("scenarios");
        std::fs::create_dir_all(&scenarios).unwrap();
        for i in 0..6 {
            std::fs::write(
                scenarios.join(format!("pool-{i}.yaml")),
                format!(
                    "name: pool-{i}\ncluster: {{ required: false }}\nsteps:\n  - id: set-get\n    verify: {{ memcache.pool: {{ target: {{ endpoints: [\"127.0.0.1:{port}\"] }}, keys: 200 }} }}\n"
                ),
            )
            .unwrap();
        }
        let children: Vec<_> = (1..=3)
            .map(|k| {
                Command::new(env!("CARGO_BIN_EXE_harness"))
                    .args([
                        "run",
                        "--provider",
                        "none",
                        "--report-dir",
                        "shards",
                        "--partition",
                        &format!("{k}/3"),
                        "scenarios",
                    ])
                    .current_dir(dir.path())
                    .output()
            })
            .collect();
        for c in children {
            let out = c.unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        let shard_runs = runs(&dir.path().join("shards"));
        let mut args = vec![
            "report".to_string(),
            "merge".into(),
            "--report-dir".into(),
            "merged".into(),
        ];
        args.extend(shard_runs.iter().map(|p| p.display().to_string()));
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = harness(&arg_refs, dir.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let merged = summary(&runs(&dir.path().join("merged")).remove(0));
        assert_eq!(merged["totals"]["scenarios"], 6);
        assert_eq!(merged["totals"]["passed"], 6);
    }
}

/// Runs `harness` with `args` in `cwd`, killed after `limit` (a hang is a failure, not a wait).
fn harness_within(args: &[&str], cwd: &Path, env: &[(&str, &str)], limit: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the harness");
    let began = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if began.elapsed() > std::time::Duration::from_secs(limit) {
            child.kill().unwrap();
            panic!("harness {args:?} did not finish within {limit}s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Every file under `dir`, as text (lossy), for a search.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.push_str(&all_text(&entry.path()));
        } else if kind.is_file() {
            out.push_str(&String::from_utf8_lossy(
                &std::fs::read(entry.path()).unwrap(),
            ));
        }
    }
    out
}

// Layer 1 (real files, a FIFO, symlinks and /proc, through the real binary): a shard's summary
// is input from another machine. The evidence it names outside its own run folder (`..`, an
// absolute path, /proc/self/environ, /dev/zero, a FIFO, a symlink out, one 8 MB file named 400
// times) is left out and said, never read, and the merge neither hangs nor copies a secret.
#[cfg(unix)]
#[test]
fn a_hostile_shard_is_read_only_inside_its_own_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let out = harness(
        &[
            "run",
            "--provider",
            "none",
            "--report-dir",
            "shard",
            "scenarios/fails.yaml",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let run = runs(&dir.path().join("shard")).remove(0);
    std::fs::write(dir.path().join("secret.txt"), "PRIVATE-KEY-MATERIAL").unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("id_rsa"), "PRIVATE-KEY-MATERIAL").unwrap();
    let evidence = run.join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(evidence.join("fifo"))
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), evidence.join("link-out")).unwrap();
    std::os::unix::fs::symlink(&outside, evidence.join("folder-out")).unwrap();
    std::fs::write(evidence.join("big.txt"), "x".repeat(8 * 1024 * 1024)).unwrap();
    let mut named: Vec<String> = [
        "../../secret.txt",
        "/proc/self/environ",
        "evidence/fifo",
        "/dev/zero",
        "evidence/link-out",
        "evidence/folder-out/id_rsa",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    named.extend(std::iter::repeat_n("evidence/big.txt".to_string(), 400));
    let mut s = summary(&run);
    s["scenarios"][0]["steps"][0]["evidence_files"] = serde_json::json!(named);
    std::fs::write(run.join("summary.json"), s.to_string()).unwrap();

    let merged = harness_within(
        &[
            "report",
            "merge",
            run.to_str().unwrap(),
            "--report-dir",
            "merged",
        ],
        dir.path(),
        &[("HARNESS_TEST_SECRET", "TOPSECRET-ENV")],
        120,
    );
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert_eq!(merged.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("were left out"), "{stderr}");
    for said in [
        "../../secret.txt not a plain path",
        "/proc/self/environ not a plain path",
        "evidence/fifo is not a regular file",
        "evidence/link-out leads outside the shard's run folder",
        "folder-out: not a regular file or folder (a symlink is not followed)",
    ] {
        assert!(stderr.contains(said), "`{said}` not in {stderr}");
    }
    let written = all_text(&dir.path().join("merged"));
    assert!(!written.contains("PRIVATE-KEY-MATERIAL"));
    assert!(!written.contains("TOPSECRET-ENV"));
    // The big file was read (once) and is in the merged evidence.
    assert!(written.contains(&"x".repeat(1000)));
}

// Layer 1 (real folders, real binary): an output folder inside a shard would copy the merge
// into itself; one run given twice (its folder and its summary) is not two shards; a shard
// claiming a partition that is no slice is refused. Each is exit 2, named, nothing written.
#[test]
fn shard_sets_that_are_not_one_run_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let out = harness(
        &[
            "run",
            "--provider",
            "none",
            "--report-dir",
            "shard",
            "scenarios/s0.yaml",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let run = runs(&dir.path().join("shard")).remove(0);
    let inside = run.join("evidence").join("out");
    let merged = harness_within(
        &[
            "report",
            "merge",
            run.to_str().unwrap(),
            "--report-dir",
            inside.to_str().unwrap(),
        ],
        dir.path(),
        &[],
        60,
    );
    let stderr = String::from_utf8_lossy(&merged.stderr);
    assert_eq!(merged.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lies inside the shard"), "{stderr}");
    assert!(!inside.exists());

    let twice = harness(
        &[
            "report",
            "merge",
            run.to_str().unwrap(),
            run.join("summary.json").to_str().unwrap(),
            "--report-dir",
            "merged",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert_eq!(twice.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("are the same run: give each shard once"),
        "{stderr}"
    );

    for claim in ["5/3", "0/0"] {
        let mut s = summary(&run);
        s["partition"] = serde_json::json!(claim);
        std::fs::write(run.join("summary.json"), s.to_string()).unwrap();
        let out = harness(
            &[
                "report",
                "merge",
                run.to_str().unwrap(),
                "--report-dir",
                "merged",
            ],
            dir.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{claim}: {stderr}");
        assert!(
            stderr.contains(&format!("`{claim}` is not a partition")),
            "{stderr}"
        );
    }
    assert!(!dir.path().join("merged").exists());
}

// Layer 1 (real binary): more slices than scenarios. Every slice writes a run, the empty ones
// too, and the merge of all of them is the whole run; a tag that matches nothing is exit 2 in
// every slice, not an empty slice that passes.
#[test]
fn empty_slices_write_runs_that_merge_and_a_tag_typo_fails_every_slice() {
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let n = 12;
    let mut empty = 0;
    for k in 1..=n {
        let part = format!("{k}/{n}");
        let out = harness(
            &[
                "run",
                "--provider",
                "none",
                "--report-dir",
                "shards",
                "--partition",
                &part,
                "scenarios",
            ],
            dir.path(),
        );
        assert!(matches!(out.status.code(), Some(0 | 1)));
        if String::from_utf8_lossy(&out.stdout).contains("holds no scenario") {
            assert_eq!(out.status.code(), Some(0));
            empty += 1;
        }
        let typo = harness(
            &[
                "run",
                "--provider",
                "none",
                "--report-dir",
                "typo",
                "--partition",
                &part,
                "--tags",
                "nightlyy",
                "scenarios",
            ],
            dir.path(),
        );
        assert_eq!(typo.status.code(), Some(2), "{part}");
        assert!(
            String::from_utf8_lossy(&typo.stderr).contains("no scenario matches the selected tags")
        );
    }
    assert!(
        empty >= 7,
        "five scenarios leave at least seven of twelve slices empty"
    );
    let shards = runs(&dir.path().join("shards"));
    assert_eq!(shards.len(), n);
    let mut args = vec![
        "report".to_string(),
        "merge".into(),
        "--report-dir".into(),
        "merged".into(),
    ];
    args.extend(shards.iter().map(|p| p.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = harness(&refs, dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = summary(&runs(&dir.path().join("merged")).remove(0));
    assert_eq!(merged["totals"]["scenarios"], 5);
    assert_eq!(merged["shards"].as_array().unwrap().len(), n);
    assert!(!dir.path().join("typo").exists());
}

// Layer 1 (real binary): a summary is someone else's file. A key of its own (an escape
// sequence, a credential-like name) where the JSON breaks is not echoed, and a number no run
// measured (1e300 seconds) is refused where it is read, not a panic in the JUnit writer.
#[test]
fn a_hostile_summary_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    scenarios(dir.path());
    let out = harness(
        &[
            "run",
            "--provider",
            "none",
            "--report-dir",
            "shard",
            "scenarios/s0.yaml",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let run = runs(&dir.path().join("shard")).remove(0);
    let good = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let broken = good.replacen("{", "{\"\u{1b}[2JAKIAIOSFODNN7EXAMPLE\": [1, 2,, 3],", 1);
    std::fs::write(run.join("summary.json"), &broken).unwrap();
    for args in [
        vec![
            "report",
            "merge",
            run.to_str().unwrap(),
            "--report-dir",
            "merged",
        ],
        vec![
            "run",
            "--provider",
            "none",
            "--report-dir",
            "again",
            "--rerun-failed",
            run.to_str().unwrap(),
        ],
    ] {
        let out = harness(&args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("AKIA") && !stderr.contains('\u{1b}'),
            "{stderr}"
        );
    }
    let mut s = summary(&{
        std::fs::write(run.join("summary.json"), &good).unwrap();
        run.clone()
    });
    s["duration_secs"] = serde_json::json!(1e300);
    std::fs::write(run.join("summary.json"), s.to_string()).unwrap();
    let out = harness(
        &[
            "report",
            "merge",
            run.to_str().unwrap(),
            "--report-dir",
            "merged",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("duration_secs") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
