//! The documentation that comes from the code stays current (layer 1: pure). The README's table
//! of verifiers is made from the registry; a verifier added without its line fails here.
//! `HARNESS_BLESS=1 cargo test --test docs` rewrites the table.

use std::path::Path;

const START: &str = "<!-- verifiers: generated from the registry (verify/registry.rs); a test keeps it current -->\n";
const END: &str = "<!-- end of verifiers -->";

/// The README's section between `start` and `end` is `want` (with `HARNESS_BLESS` set, it is
/// rewritten to be); returns the section as it stands.
fn generated_section(start: &str, end: &str, want: &str, made_by: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let from = readme
        .find(start)
        .unwrap_or_else(|| panic!("the README lacks the marker {start}"))
        + start.len();
    let to = from + readme[from..].find(end).expect("the end marker");
    if std::env::var_os("HARNESS_BLESS").is_some() {
        let text = format!("{}{want}{}", &readme[..from], &readme[to..]);
        std::fs::write(&path, text).unwrap();
        return want.to_string();
    }
    assert_eq!(
        &readme[from..to],
        want,
        "the README's section is not what {made_by} says; run HARNESS_BLESS=1 cargo test -p harness --test docs"
    );
    readme[from..to].to_string()
}

#[test]
fn the_readme_lists_every_registered_verifier_as_the_registry_describes_it() {
    let table = generated_section(
        START,
        END,
        &harness::verify::markdown_table(),
        "the registry",
    );
    for name in harness::verify::NAMES {
        assert!(
            table.contains(&format!("| `{name}` |")),
            "{name} is not documented"
        );
    }
}

#[test]
fn harness_verify_help_lists_every_registered_verifier() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["verify", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let only = " (in a scenario only: it needs pods or a workload, not static endpoints)";
    for (name, here) in harness::verify::FROM_VERIFY {
        let line = if *here {
            name.to_string()
        } else {
            format!("{name}{only}")
        };
        let listed = help.lines().any(|l| l.trim() == line);
        assert!(listed, "`{line}` missing:\n{help}");
        // The mark says what `harness verify` does with it.
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
            .args([
                "verify",
                name,
                "--endpoint",
                "127.0.0.1:1",
                "--timeout",
                "2s",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        let refused = run.status.code() == Some(2)
            && (stderr.contains("scenario") || stderr.contains("needs a cluster"));
        assert_eq!(refused, !here, "{name}: {stderr}");
    }
}

/// The README's table of bounds says what the code enforces.
#[test]
fn the_readme_states_the_bounds_the_code_enforces() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let mib = |bytes: u64| format!("{} MiB", bytes / (1024 * 1024));
    let rows = [
        (
            "| scenario file |",
            mib(harness::scenario::load::MAX_SCENARIO_BYTES),
        ),
        (
            "| manifest file (",
            mib(harness::steps::apply::MAX_MANIFEST_BYTES),
        ),
        (
            "| manifest text of one scenario",
            mib(harness::check::MAX_SCENARIO_MANIFEST_BYTES),
        ),
        (
            "| CQL script |",
            mib(harness::verify::cassandra::cql::MAX_SCRIPT_BYTES),
        ),
        (
            "| nesting |",
            format!("{} levels", harness::yaml_guard::MAX_DEPTH),
        ),
        (
            "| steps (",
            harness::scenario::validate::MAX_STEPS.to_string(),
        ),
        (
            "| guards |",
            harness::scenario::validate::MAX_GUARDS.to_string(),
        ),
        (
            "| one pattern, compiled |",
            mib(harness::check::PATTERN_SIZE_LIMIT as u64),
        ),
        (
            "| a scenario's distinct patterns",
            mib(harness::check::MAX_SCENARIO_PATTERN_BYTES as u64),
        ),
        (
            "| any duration",
            format!("{}h", harness::check::MAX_DURATION.as_secs() / 3600),
        ),
        (
            "| `stable_for`",
            format!(
                "{}h",
                harness::verify::etcd::keys::MAX_WINDOW.as_secs() / 3600
            ),
        ),
        (
            "| `cluster.workers` |",
            format!("0 to {}", harness::scenario::validate::MAX_WORKERS),
        ),
        (
            "| writers of",
            format!("1 to {}", harness::verify::MAX_WRITERS),
        ),
        (
            "| `delete_every` |",
            format!("0 to {}", harness::verify::MAX_DELETE_EVERY),
        ),
        (
            "| `memcache.pool` keys |",
            format!("1 to {}", harness::verify::memcache::pool::MAX_KEYS),
        ),
        (
            "| `memcache.proxy` keys per proxy |",
            format!(
                "1 to {}",
                harness::verify::memcache::proxy::MAX_KEYS_PER_PROXY
            ),
        ),
    ];
    for (row, bound) in rows {
        let line = readme
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("the README has no bounds row {row}"));
        assert!(
            line.ends_with(&format!("| {bound} |")),
            "README row `{line}` should say {bound}"
        );
    }
}

/// The supported Kubernetes range is said in one place in the code and the README says it.
#[test]
fn the_readme_states_the_supported_kubernetes_range() {
    use harness::k8s::bridge::{NEWEST_KNOWN, OLDEST_SUPPORTED};
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let range = format!(
        "Supported Kubernetes: {}.{} to {}.{}",
        OLDEST_SUPPORTED.0, OLDEST_SUPPORTED.1, NEWEST_KNOWN.0, NEWEST_KNOWN.1
    );
    assert!(readme.contains(&range), "the README does not say `{range}`");
    let weekly = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/kubernetes-versions.yml"),
    )
    .unwrap();
    assert!(
        weekly.contains(&format!(
            "kindest/node:v{}.{}.",
            OLDEST_SUPPORTED.0, OLDEST_SUPPORTED.1
        )),
        "the weekly workflow does not run the oldest supported minor"
    );
}

/// The README's step table names every registered verifier in its `verify` row, in order.
#[test]
fn the_step_table_lists_every_verifier() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `verify` |"))
        .expect("the step table's verify row");
    let listed: Vec<String> = harness::verify::NAMES
        .iter()
        .map(|n| format!("`{n}`"))
        .collect();
    assert!(
        row.contains(&listed.join(", ")),
        "the verify row should list {}:\n{row}",
        listed.join(", ")
    );
}

const ANOMALIES_START: &str =
    "<!-- anomalies: generated from verify/anomaly/mod.rs; a test keeps it current -->\n";
const ANOMALIES_END: &str = "<!-- end of anomalies -->";

/// Every anomaly the checker can name, and every model with what it prohibits, as the code
/// says (`HARNESS_BLESS=1` rewrites them).
#[test]
fn the_readme_explains_every_anomaly_and_model_as_the_checker_has_them() {
    let tables = generated_section(
        ANOMALIES_START,
        ANOMALIES_END,
        &harness::verify::anomaly::markdown_tables(),
        "the checker",
    );
    for kind in harness::verify::anomaly::Kind::ALL {
        assert!(tables.contains(&format!("| `{}` |", kind.name())), "{kind}");
    }
}

/// The README's upgrade gate: the versions come from the environment, as written there
/// (`harness plan` through the real binary; the run itself needs a cluster).
#[test]
fn the_upgrade_gate_takes_its_versions_from_the_environment() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    assert!(readme.contains(
        "export HARNESS_GALERA_IMAGE_TO=mariadb:11.4.7 HARNESS_GALERA_VERSION_TO=11.4.7\nharness plan scenarios/galera/rolling-upgrade.yaml"
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["plan", "scenarios/galera/rolling-upgrade.yaml"])
        .env("HARNESS_GALERA_IMAGE_TO", "mariadb:11.4.7")
        .env("HARNESS_GALERA_VERSION_TO", "11.4.7")
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        plan.contains("rollout StatefulSet/galera-ss: image of mariadb to mariadb:11.4.7"),
        "{plan}"
    );
    // The image the rollout moves to is preloaded with the manifests' own.
    let json = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(["plan", "--json", "scenarios/galera/rolling-upgrade.yaml"])
        .env("HARNESS_GALERA_IMAGE_TO", "mariadb:11.4.7")
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let images: Vec<&str> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.as_str())
        .collect();
    assert!(
        images.contains(&"mariadb:11.4.7") && images.contains(&"mariadb:11.4.4"),
        "{images:?}"
    );
}
