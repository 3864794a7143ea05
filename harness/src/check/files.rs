//! Files a scenario names (manifests, CQL scripts): read once, regular files only, bounded,
//! as UTF-8, with the manifest text a scenario brings counted against its bound.

use super::{Checker, MAX_SCENARIO_MANIFEST_BYTES};
use std::path::{Path, PathBuf};

impl Checker<'_> {
    /// Reads a file named by the scenario (relative to it), as UTF-8 of bounded size.
    pub fn read_file(
        &mut self,
        path: &str,
        what: &str,
        relative: &str,
        max: u64,
    ) -> Option<String> {
        let full = self.base.join(relative);
        match read_text(&full, max) {
            Ok(text) => Some(text),
            Err(problem) => {
                self.error(path, format!("{what} `{}`: {problem}", full.display()));
                None
            }
        }
    }

    /// The manifests parsed earlier from `source` (a resolved file or directory), if any.
    pub fn parsed_manifests(&self, source: &Path) -> Option<(Vec<crate::manifest::Manifest>, u64)> {
        self.manifests.get(source).cloned()
    }

    /// Keeps what `source` parsed into, for the next step that applies it.
    pub fn keep_manifests(
        &mut self,
        source: PathBuf,
        parsed: Vec<crate::manifest::Manifest>,
        bytes: u64,
    ) {
        self.manifests.insert(source, (parsed, bytes));
    }

    /// Counts `bytes` more manifest text against the scenario's bound; `false` (reported at
    /// `path`) once it is exceeded.
    pub fn count_manifest_bytes(&mut self, path: &str, bytes: u64) -> bool {
        let total = self.manifest_bytes.saturating_add(bytes);
        let over = total > MAX_SCENARIO_MANIFEST_BYTES;
        if over && self.manifest_bytes <= MAX_SCENARIO_MANIFEST_BYTES {
            self.error(
                path,
                format!(
                    "the scenario's manifests add up to more than {} MiB here (each apply of a file counts): split the scenario, or apply the objects once",
                    MAX_SCENARIO_MANIFEST_BYTES / (1024 * 1024)
                ),
            );
        }
        self.manifest_bytes = total;
        !over
    }

    /// The scenario's directory joined with `relative`.
    pub fn resolve_path(&self, relative: &str) -> PathBuf {
        self.base.join(relative)
    }
}

/// Why a file could not be read, and where in it (invalid UTF-8), in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub message: String,
    pub position: Option<(usize, usize)>,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a path that is not a regular file is, in words.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_char_device() {
        "a character device (such as /dev/zero)"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads a regular file as UTF-8 text, never more than `max` bytes (devices, pipes and
/// directories are refused before anything is read).
pub fn read_text(path: &Path, max: u64) -> Result<String, ReadError> {
    let plain = |message: String| ReadError {
        message,
        position: None,
    };
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| plain(format!("cannot read file: {e}")))?;
    if !meta.is_file() {
        return Err(plain(format!(
            "is {}, not a regular file",
            file_kind(&meta.file_type())
        )));
    }
    if meta.len() > max {
        return Err(plain(format!(
            "file is {} bytes, larger than the limit of {max} bytes",
            meta.len()
        )));
    }
    let too_big = || {
        plain(format!(
            "file is larger than the limit of {max} bytes (it grew while being read)"
        ))
    };
    let mut bytes = vec![];
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(|e| plain(format!("cannot read file: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let valid = &e.as_bytes()[..offset];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = offset - valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
        ReadError {
            message: format!("file is not valid UTF-8 (invalid byte at offset {offset})"),
            position: Some((line, column)),
        }
    })
}
