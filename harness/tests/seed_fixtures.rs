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
        } else {
            format!("value-of-{name}")
        })
    })
    .unwrap()
}

#[test]
fn every_seed_scenario_validates_without_errors_or_warnings() {
    let files = discover(&root().join("scenarios")).unwrap();
    assert_eq!(files.len(), 7, "{files:?}");
    for file in files {
        let (scenario, diags) = validate_file(&file, &|_| None);
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
