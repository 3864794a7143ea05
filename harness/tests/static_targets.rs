//! Static targets from the command line and from a scenario without a cluster (layer 2: real
//! memcached servers in containers; needs Docker and the harness-rig image).
//! `harness verify` exits 0 when the check holds, 1 when it does not, 2 on bad usage; a
//! `cluster: { required: false }` scenario runs with `--provider none` and writes JUnit.

use std::process::Command;
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

async fn memcached(network: &str, name: &str) -> (ContainerAsync<GenericImage>, String) {
    let c = GenericImage::new(harness_testkit::rig::IMAGE, harness_testkit::rig::TAG)
        .with_wait_for(WaitFor::message_on_stderr("server listening"))
        .with_cmd([
            "memcached",
            "-u",
            "nobody",
            "-p",
            "11211",
            "-l",
            "0.0.0.0",
            "-m",
            "32",
            "-vv",
        ])
        .with_network(network)
        .with_container_name(name)
        .start()
        .await
        .expect("start memcached from the rig image (run scripts/install-test-deps.sh)");
    let ip = c.get_bridge_ip_address().await.expect("ip");
    (c, format!("{ip}:11211"))
}

fn harness(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("run harness");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

#[tokio::test]
#[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
async fn cli_verify_exit_codes_and_junit() {
    let net = format!("static-{}", suffix());
    let (_a, a) = memcached(&net, &format!("{net}-a")).await;
    let (_b, b) = memcached(&net, &format!("{net}-b")).await;
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("verify.xml");
    let (code, stdout, stderr) = harness(&[
        "verify",
        "memcache.pool",
        "--endpoint",
        &a,
        "--endpoint",
        &b,
        "--keys",
        "500",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("PASS memcache.pool"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="1""#) && xml.contains(r#"failures="0""#),
        "{xml}"
    );

    // A server that is not there: exit 1, and the failure names it.
    let (code, stdout, _) = harness(&[
        "verify",
        "memcache.pool",
        "--endpoint",
        &a,
        "--endpoint",
        "127.0.0.1:1",
        "--keys",
        "100",
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("127.0.0.1:1: cannot connect"), "{stdout}");

    // Bad usage: exit 2.
    let (code, _, stderr) = harness(&["verify", "memcache.pol", "--endpoint", &a]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("did you mean `memcache.pool`"), "{stderr}");
    let (code, _, stderr) = harness(&[
        "verify",
        "galera.status",
        "--endpoint",
        &a,
        "--user",
        "u",
        "--password-env",
        "HARNESS_TEST_UNSET_VAR",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[tokio::test]
#[ignore = "layer 2: needs Docker and the harness-rig image (scripts/install-test-deps.sh)"]
async fn scenario_without_a_cluster_runs_against_static_endpoints() {
    let net = format!("static-{}", suffix());
    let (_a, a) = memcached(&net, &format!("{net}-a")).await;
    let (_b, b) = memcached(&net, &format!("{net}-b")).await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("nightly.yaml");
    std::fs::write(
        &scenario,
        format!(
            "name: nightly-memcached\ncluster: {{ required: false }}\nvariables:\n  a: {{ env: MC_A }}\nsteps:\n  - verify:\n      memcache.pool:\n        target: {{ endpoints: [\"${{a}}\", \"{b}\"] }}\n        keys: 400\n  - id: down\n    continue_on_error: true\n    verify:\n      memcache.pool:\n        target: {{ endpoints: [\"127.0.0.1:1\"] }}\n"
        ),
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .env("MC_A", &a)
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
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one step fails on purpose: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("PASS") && stdout.contains("nightly-memcached / verify-1"),
        "{stdout}"
    );
    assert!(stdout.contains("127.0.0.1:1: cannot connect"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="2""#) && xml.contains(r#"failures="1""#),
        "{xml}"
    );
}
