//! Scenario files: raw serde types ([`raw`]), loading with precise errors ([`load`]), variable
//! definitions ([`variables`]), and validation ([`validate`]) into the typed model ([`model`]).
//! Only this module knows the file's shape; step kinds and verifiers validate their own parts
//! through [`crate::check::Checker`].

pub mod load;
pub mod model;
pub mod raw;
pub mod schema;
pub mod validate;
pub mod variables;

pub use model::{Scenario, Step};
pub use validate::validate_file;

use std::path::{Path, PathBuf};

/// The run id scenarios are validated with when nothing will run (`validate`, `list`).
pub const CHECK_RUN_ID: &str = "check-000000";

/// Every `*.yaml`/`*.yml` under `root`, sorted, without reading them; a `root` that is not a
/// directory is returned as is (reading it says what is wrong with it). Symbolic links are
/// followed once: a directory reached again (a link loop) is not walked again, and a file
/// reached by two ways is listed once.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut seen = std::collections::HashSet::new();
    discover_into(root, &mut seen)
}

/// [`discover`] over several roots, each file once (by its canonical path).
pub fn discover_all(roots: &[PathBuf]) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = vec![];
    for root in roots {
        out.extend(discover_into(root, &mut seen).map_err(|e| (root.clone(), e))?);
    }
    Ok(out)
}

fn discover_into(
    root: &Path,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> std::io::Result<Vec<PathBuf>> {
    let once = |path: &Path, seen: &mut std::collections::HashSet<PathBuf>| {
        seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    };
    if !std::fs::metadata(root)?.is_dir() {
        return Ok(if once(root, seen) {
            vec![root.to_path_buf()]
        } else {
            vec![]
        });
    }
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    once(root, seen);
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            // `metadata` follows links: a linked directory is walked once, by its real path.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // a dangling link
            };
            if meta.is_dir() {
                if once(&path, seen) {
                    stack.push(path);
                }
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) && once(&path, seen)
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Namespace names are DNS labels: at most 63 characters.
pub fn namespace_name(scenario: &str, run_id: &str) -> String {
    let suffix: String = run_id
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let head: String = scenario.chars().take(63 - 3 - suffix.len()).collect();
    format!(
        "h-{}-{}",
        head.trim_end_matches('-'),
        suffix.to_ascii_lowercase()
    )
}

pub use schema::schema;
