//! The seed scenarios and their fixtures (layer 1: pure). Every scenario validates with no error
//! and no warning (so every object a scenario waits on is created by that scenario); every
//! fixture manifest parses into its k8s-openapi type without dropping a field; every image is
//! pinned to a tag that is not `latest`.

use harness::manifest::parse_documents;
use harness::scenario::{discover, validate_file};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn manifests() -> Vec<PathBuf> {
    let mut out = vec![];
    for dir in ["cassandra", "galera", "memcached"] {
        out.extend(discover(&root().join("fixtures").join(dir)).expect("fixtures dir"));
    }
    assert!(out.len() >= 9, "{out:?}");
    out
}

fn images(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "image"
                    && let Some(s) = v.as_str()
                {
                    out.push(s.to_string());
                }
                images(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| images(x, out)),
        _ => {}
    }
}

/// Fixture text with every `${var}` replaced by a plausible value, as a plan would.
fn rendered(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    harness::vars::substitute(&text, &|name| {
        Some(if name == "mcrouter_image" {
            "registry.example/mcrouter:0.36.0".into()
        } else if name == "jmx_exporter_image" {
            // The scenario's default (an image built from fixtures/images/jmx-exporter).
            "harness/jmx-exporter:0.20.0".into()
        } else {
            format!("value-of-{name}")
        })
    })
    .unwrap()
}

#[test]
fn every_seed_scenario_validates_without_errors_or_warnings() {
    let files = discover(&root().join("scenarios")).unwrap();
    assert_eq!(files.len(), 14, "{files:?}");
    for file in files {
        let (scenario, diags) = validate_file(&file, &|_| None, harness::scenario::CHECK_RUN_ID);
        assert!(
            scenario.is_some() && diags.0.is_empty(),
            "{}:\n{diags}",
            file.display()
        );
        let scenario = scenario.unwrap();
        assert!(
            scenario
                .tags
                .iter()
                .any(|t| ["smoke", "nightly", "release"].contains(&t.as_str())),
            "{}",
            file.display()
        );
        assert!(
            scenario.cluster.workers >= 1,
            "{} states no cluster needs",
            file.display()
        );
    }
}

#[test]
fn every_fixture_manifest_round_trips_through_k8s_openapi() {
    for path in manifests() {
        let (objects, problems) = parse_documents(&path.display().to_string(), &rendered(&path));
        assert!(problems.is_empty(), "{}: {problems:?}", path.display());
        assert!(!objects.is_empty(), "{}", path.display());
    }
}

#[test]
fn every_image_is_pinned_and_not_latest() {
    let mut seen = 0;
    for path in manifests() {
        let (objects, _) = parse_documents(&path.display().to_string(), &rendered(&path));
        for object in objects {
            let mut found = vec![];
            images(&object.object, &mut found);
            for image in found {
                seen += 1;
                let last = image.rsplit('/').next().unwrap_or(&image);
                let tag = last.split_once(':').map(|(_, t)| t);
                assert!(
                    image.contains('@') || tag.is_some_and(|t| !t.is_empty() && t != "latest"),
                    "{}: image `{image}` is not pinned",
                    path.display()
                );
            }
        }
    }
    assert!(seen >= 6, "only {seen} images found");
}

/// What jmx_exporter names an MBean attribute: the first rule whose pattern matches the
/// `domain<key=value, ...><>attribute: value` line, with `$n` filled from the captures and the
/// name lowercased (`lowercaseOutputName`).
fn exporter_name(rules: &[serde_yaml::Value], line: &str) -> Option<String> {
    rules.iter().find_map(|rule| {
        let pattern = regex::Regex::new(rule["pattern"].as_str()?).expect("rule pattern");
        let captures = pattern.captures(line)?;
        let mut name = rule["name"].as_str()?.to_string();
        for i in (1..captures.len()).rev() {
            name = name.replace(&format!("${i}"), captures.get(i).map_or("", |m| m.as_str()));
        }
        Some(name.to_lowercase())
    })
}

// Layer 1: ties the metrics scenario to its exporter rules (jmx_exporter itself runs only on a
// cluster): the family the scenario asks for is one the rules produce from Cassandra's
// client-request read latency MBean.
#[test]
fn the_metrics_scenario_asks_for_a_family_the_exporter_rules_produce() {
    let configmap: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("fixtures/cassandra/jmx-exporter.yaml")).unwrap(),
    )
    .unwrap();
    let config: serde_yaml::Value =
        serde_yaml::from_str(configmap["data"]["config.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(config["lowercaseOutputName"].as_bool(), Some(true));
    let rules = config["rules"].as_sequence().unwrap();
    let read_latency =
        "org.apache.cassandra.metrics<type=ClientRequest, scope=Read, name=Latency><>Count: 7";
    let produced = exporter_name(rules, read_latency).expect("a rule for client request latency");

    let scenario: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("scenarios/cassandra/metrics.yaml")).unwrap(),
    )
    .unwrap();
    let http = scenario["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|s| s["verify"].get("http"))
        .expect("an http step");
    assert_eq!(http["metric_family"].as_str(), Some(produced.as_str()));
    assert_eq!(http["target"]["port"].as_i64(), Some(7070));
    let agent = std::fs::read_to_string(root().join("fixtures/cassandra/statefulset-metrics.yaml"))
        .unwrap();
    assert!(agent.contains("jmx_prometheus_javaagent.jar=7070:/etc/jmx-exporter/config.yaml"));
    // A bean no rule names is dropped, as jmx_exporter drops it when rules are given.
    assert_eq!(
        exporter_name(rules, "java.lang<type=Memory><HeapMemoryUsage>used: 1"),
        None
    );
}

// Layer 1: the metrics scenario depends on nothing fetched inside the cluster. Its exporter
// image is the one the repository's script builds (and the workflows run it), and the jar the
// init container copies is where the Dockerfile puts it.
#[test]
fn the_jmx_exporter_comes_from_the_image_the_repository_builds() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap();
    let scenario = read("scenarios/cassandra/metrics.yaml");
    let script = read("fixtures/images/build-scenario-images.sh");
    let dockerfile = read("fixtures/images/jmx-exporter/Dockerfile");
    let fixture = read("fixtures/cassandra/statefulset-metrics.yaml");
    let image = "harness/jmx-exporter:0.20.0";
    assert!(scenario.contains(&format!("default: \"{image}\"")));
    assert!(script.contains(&format!("docker build --quiet -t {image} jmx-exporter")));
    assert!(dockerfile.contains("/jmx_prometheus_javaagent.jar") && dockerfile.contains("0.20.0"));
    assert!(
        fixture
            .contains("[cp, /jmx_prometheus_javaagent.jar, /agent/jmx_prometheus_javaagent.jar]")
    );
    assert!(
        !fixture.contains("https://"),
        "nothing is fetched from inside the cluster"
    );
    for (workflow, runs) in [
        ("ci/nightly.yml", "-- run scenarios/"),
        (
            "ci/release.yml",
            "nextest run --workspace --profile cluster",
        ),
    ] {
        let text = read(workflow);
        let build = text
            .find("run: fixtures/images/build-scenario-images.sh")
            .unwrap();
        let run = text.find(runs).unwrap();
        assert!(
            build < run,
            "{workflow} builds the images before it runs the scenarios"
        );
    }
}
