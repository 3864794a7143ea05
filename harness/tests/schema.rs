//! `harness schema` (layer 1, the real binary): the JSON Schema editors use accepts every
//! scenario in `scenarios/` and refuses files whose shape is wrong (an unknown key, a step with
//! two kinds or none, a verifier that does not exist, a wrong type), as the loader does.

use std::process::Command;

fn schema() -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("schema")
        .output()
        .expect("run harness schema");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

fn yaml(text: &str) -> serde_json::Value {
    serde_yaml::from_str(text).expect("YAML")
}

fn scenario_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scenario_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn every_scenario_matches_the_schema_and_wrong_shapes_do_not() {
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let mut files = vec![];
    scenario_files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"),
        &mut files,
    );
    assert!(files.len() >= 8, "{files:?}");
    for file in &files {
        let doc = yaml(&std::fs::read_to_string(file).unwrap());
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
    for (what, text) in [
        (
            "unknown top-level key",
            "name: x\nstepz: []\nsteps: [{sleep: 1s}]\n",
        ),
        (
            "a step with two kinds",
            "name: x\nsteps:\n  - sleep: 1s\n    exec: { pod: p, command: [true] }\n",
        ),
        ("a step with no kind", "name: x\nsteps:\n  - id: nothing\n"),
        (
            "an unknown verifier",
            "name: x\nsteps:\n  - verify: { galera.statuz: {} }\n",
        ),
        (
            "two verifiers in one step",
            "name: x\nsteps:\n  - verify: { http: {}, cql: {} }\n",
        ),
        (
            "a wrong type",
            "name: x\nsteps:\n  - scale: { kind: StatefulSet, name: s, replicas: many }\n",
        ),
        (
            "an unknown key in a step kind",
            "name: x\nsteps:\n  - wait: { rollout: { kind: StatefulSet, name: s }, forever: true }\n",
        ),
        (
            "a literal password",
            "name: x\nsteps:\n  - verify:\n      galera.status:\n        target: { endpoints: [a:1] }\n        credentials: { user: root, password: hunter2 }\n",
        ),
    ] {
        assert!(
            !validator.is_valid(&yaml(text)),
            "the schema accepted {what}"
        );
    }
}

// The committed copy the scenarios' modelines point at is what `harness schema` prints.
#[test]
fn the_committed_schema_is_current() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenario.schema.json"
    ))
    .expect("scenario.schema.json at the repository root");
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        committed,
        schema(),
        "scenario.schema.json is stale: run `cargo run -q -p harness -- schema > scenario.schema.json`"
    );
}

fn summary_schema() -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["schema", "--summary"])
        .output()
        .expect("run harness schema --summary");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

#[test]
fn the_committed_summary_schema_is_current() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../summary.schema.json"
    ))
    .expect("summary.schema.json at the repository root");
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        committed,
        summary_schema(),
        "summary.schema.json is stale: run `cargo run -q -p harness -- schema --summary > summary.schema.json`"
    );
}

// A real run's summary.json (passed, failed and skipped steps, a failed clean-up-free static
// run) matches the documented schema; absent values are absent, never placeholders.
#[test]
fn a_run_summary_matches_its_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.yaml");
    std::fs::write(
        &scenario,
        "name: summary-shape\ndescription: A pass, a failure, a skip.\ntags: [smoke]\ncluster: { required: false }\nsteps:\n  - id: settle\n    sleep: 10ms\n  - id: pool\n    verify:\n      memcache.pool: { target: { endpoints: ['127.0.0.1:1'] }, keys: 10 }\n  - id: after\n    sleep: 10ms\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--provider", "none", "--report-dir"])
        .arg(&reports)
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let run = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&summary_schema()).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
    let steps = &summary["scenarios"][0]["steps"];
    assert_eq!(steps[1]["verifier"], "memcache.pool");
    assert_eq!(steps[1]["status"], "failed");
    assert_eq!(steps[2]["status"], "skipped");
    assert_eq!(
        summary["scenarios"][0]["description"],
        "A pass, a failure, a skip."
    );
    assert!(
        !text.contains("\"-\"") && !text.contains(": \"\""),
        "placeholders: {text}"
    );
    assert!(
        summary.get("cluster_version").is_none(),
        "no cluster, no version"
    );
}

// Layer 1: the editor has something to show for every key a user types: each step kind and
// verifier is described (from its own declaration), definitions are named after what they
// hold, `timeouts` lists its keys, and fixed vocabularies are enums.
#[test]
fn completion_data_exists_for_every_step_kind_and_verifier() {
    let s = schema();
    let defs = s["$defs"].as_object().unwrap();
    for name in defs.keys() {
        assert!(!name.starts_with("Raw"), "a definition is named {name}");
    }
    for kind in harness::steps::KINDS {
        let p = &s["$defs"]["Step"]["properties"][*kind];
        assert!(
            p["description"].as_str().is_some_and(|d| d.len() > 20),
            "step kind {kind} has no description: {p}"
        );
    }
    for name in harness::verify::NAMES {
        let p = &s["$defs"]["Verify"]["properties"][*name];
        assert!(
            p["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Checks ")),
            "verifier {name} has no description: {p}"
        );
        let target = p["$ref"].as_str().unwrap_or_default();
        assert!(!target.contains("Raw"), "{name} refers to {target}");
    }
    let keys: Vec<&str> = s["properties"]["timeouts"]["propertyNames"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    assert!(keys.contains(&"scenario") && keys.contains(&"step") && keys.contains(&"wait"));
    assert_eq!(
        s["$defs"]["ScaleStep"]["properties"]["kind"]["enum"][0],
        "StatefulSet"
    );
    let levels = s["$defs"]["CqlWrites"]["properties"]["consistency"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no consistency enum: {}", s["$defs"]["CqlWrites"]));
    assert!(levels.iter().any(|l| l == "QUORUM"), "{levels:?}");
}
