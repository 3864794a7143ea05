//! Scenario files: raw serde types ([`raw`]), loading with precise errors ([`load`]), variable
//! definitions ([`variables`]), and validation ([`validate`]) into the typed model ([`model`]).
//! Only this module knows the file's shape; step kinds and verifiers validate their own parts
//! through [`crate::check::Checker`].

pub mod load;
pub mod model;
pub mod raw;
pub mod validate;
pub mod variables;

pub use model::{Scenario, Step};
pub use validate::validate_file;

use std::path::{Path, PathBuf};

/// The run id scenarios are validated with when nothing will run (`validate`, `list`).
pub const CHECK_RUN_ID: &str = "check-000000";

/// Every `*.yaml`/`*.yml` under `root` (a file is returned as is), sorted, without reading them.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    if root.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
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
