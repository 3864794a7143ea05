//! Turning a selection of scenario files into plans: discover the files, validate every one for
//! this run (printing every problem), filter by tags, plan. Every command that reads scenarios
//! goes through here.

use super::{EXIT_USAGE, Select};
use crate::diag::Diagnostics;
use crate::plan::{self, CleanupPolicy, ScenarioPlan};
use crate::scenario::{self, Scenario};
use std::path::PathBuf;

pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A new run id: UTC time plus a few pseudo-random hex digits.
pub fn new_run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        h.finish() & 0xffff
    )
}

/// The scenario paths a selection reads (`scenarios/` when none is given), as given.
pub fn roots(select: &Select) -> Vec<String> {
    root_paths(select)
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

fn root_paths(select: &Select) -> Vec<PathBuf> {
    if select.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        select.paths.clone()
    }
}

fn files(select: &Select) -> Result<Vec<PathBuf>, u8> {
    let roots = root_paths(select);
    let out = match scenario::discover_all(&roots) {
        Ok(found) => found,
        Err((root, e)) => {
            say!("error: {}: {e}", root.display());
            return Err(EXIT_USAGE);
        }
    };
    if out.is_empty() {
        say!("error: no scenario files (*.yaml) found");
        return Err(EXIT_USAGE);
    }
    Ok(out)
}

/// Validates every selected file for the run `run_id`; prints every diagnostic to stderr.
/// `Err` (the exit code) when any file has an error.
pub fn load_all(select: &Select, run_id: &str) -> Result<Vec<Scenario>, u8> {
    let paths = files(select)?;
    let mut scenarios = vec![];
    let mut all = Diagnostics::default();
    for path in &paths {
        let (scenario, diags) = scenario::validate_file(path, &env_lookup, run_id);
        all.0.extend(diags.0);
        scenarios.extend(scenario);
    }
    for d in &all.0 {
        say!("{d}");
    }
    if all.has_errors() {
        say!(
            "error: {} problem(s) in {} file(s); nothing was run",
            all.errors().count(),
            paths.len()
        );
        return Err(EXIT_USAGE);
    }
    // Two files with one name would share a namespace and a report.
    let mut by_name: std::collections::BTreeMap<&str, Vec<&Scenario>> = Default::default();
    for s in &scenarios {
        by_name.entry(s.name.as_str()).or_default().push(s);
    }
    let clashes: Vec<String> = by_name
        .iter()
        .filter(|(_, list)| list.len() > 1)
        .map(|(name, list)| {
            let files: Vec<String> = list.iter().map(|s| s.file.display().to_string()).collect();
            format!(
                "{}: error at `name`: scenario name `{name}` is used by {} files ({}); each scenario needs its own name (it names the namespace and the report)",
                files[1],
                files.len(),
                files.join(", ")
            )
        })
        .collect();
    if !clashes.is_empty() {
        for c in &clashes {
            say!("{c}");
        }
        return Err(EXIT_USAGE);
    }
    if !select.tags.is_empty() {
        let carried: std::collections::BTreeSet<&str> = scenarios
            .iter()
            .flat_map(|s| s.tags.iter().map(String::as_str))
            .collect();
        let carried = carried.into_iter().collect::<Vec<_>>().join(", ");
        scenarios.retain(|s| s.tags.iter().any(|t| select.tags.contains(t)));
        // A tag that matches nothing is a typo, whatever the command: `list` and `run` agree.
        if scenarios.is_empty() {
            say!(
                "error: no scenario matches the selected tags ({}); the selected scenarios carry: {}",
                select.tags.join(", "),
                if carried.is_empty() {
                    "no tags"
                } else {
                    &carried
                }
            );
            return Err(EXIT_USAGE);
        }
    }
    Ok(scenarios)
}

/// Loads, validates and plans a selection.
pub fn plans(
    select: &Select,
    run_id: &str,
    cleanup: CleanupPolicy,
) -> Result<Vec<ScenarioPlan>, u8> {
    Ok(load_all(select, run_id)?
        .iter()
        .map(|s| plan::plan(s, cleanup))
        .collect())
}
