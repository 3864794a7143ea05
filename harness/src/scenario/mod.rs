//! Scenario files: raw serde types ([`raw`]), loading with precise errors ([`load`]), the
//! key-path line index ([`lines`]), validation ([`validate`]) into the typed model ([`model`]).

pub mod lines;
pub mod load;
pub mod model;
pub mod raw;
pub mod validate;

pub use model::{Action, Scenario, Step};
pub use validate::validate_file;

use std::path::{Path, PathBuf};

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
