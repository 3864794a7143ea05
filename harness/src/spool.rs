//! Evidence too long to hold in memory (a workload's history over an hour: gigabytes) is
//! written to a temporary file as it is made, a [`Spool`], and carried by its [`Evidence`]
//! beside a short excerpt. The evidence-files reporter copies it into the run's folder; the
//! file is deleted when the last holder drops it (the end of the run).
//!
//! [`Evidence`]: crate::cluster::Evidence

use std::collections::VecDeque;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

/// A finished spooled file (shared: cloning an event does not copy it).
#[derive(Debug, Clone)]
pub struct Spool {
    path: Arc<tempfile::TempPath>,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its line count.
    pub lines: u64,
}

impl PartialEq for Spool {
    fn eq(&self, other: &Self) -> bool {
        self.path() == other.path()
    }
}
impl Eq for Spool {}

impl Spool {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A copy with `map` applied to each line (redaction), in a new spool; lines are read one
    /// at a time, so memory stays bounded whatever the file's size.
    pub fn map_lines(&self, map: impl Fn(&str) -> String) -> std::io::Result<Spool> {
        let mut out = SpoolWriter::new(0)?;
        let reader = std::io::BufReader::new(std::fs::File::open(self.path())?);
        for line in reader.lines() {
            out.line(&map(&line?));
        }
        out.finish().map(|(spool, _)| spool)
    }
}

/// Writes a spool line by line, keeping the last `tail` lines for the excerpt.
pub struct SpoolWriter {
    out: BufWriter<std::fs::File>,
    path: tempfile::TempPath,
    bytes: u64,
    lines: u64,
    tail: VecDeque<String>,
    keep: usize,
    /// The first write error; later lines are dropped, and `finish` reports it.
    error: Option<std::io::Error>,
}

impl SpoolWriter {
    /// A new spool in the system's temporary folder, keeping the last `tail` lines.
    pub fn new(tail: usize) -> std::io::Result<Self> {
        let (file, path) = tempfile::Builder::new()
            .prefix("harness-evidence-")
            .tempfile()?
            .into_parts();
        Ok(Self {
            out: BufWriter::with_capacity(64 * 1024, file),
            path,
            bytes: 0,
            lines: 0,
            tail: VecDeque::with_capacity(tail),
            keep: tail,
            error: None,
        })
    }

    /// Appends one line (a line break is added).
    pub fn line(&mut self, text: &str) {
        if self.error.is_some() {
            return;
        }
        match self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
        {
            Ok(()) => {
                self.bytes = self.bytes.saturating_add(text.len() as u64 + 1);
                self.lines = self.lines.saturating_add(1);
                if self.keep > 0 {
                    if self.tail.len() == self.keep {
                        self.tail.pop_front();
                    }
                    self.tail.push_back(text.to_string());
                }
            }
            Err(e) => self.error = Some(e),
        }
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Flushes and closes it: the spool and the excerpt of its last lines.
    pub fn finish(mut self) -> std::io::Result<(Spool, Vec<String>)> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok((
            Spool {
                path: Arc::new(self.path),
                bytes: self.bytes,
                lines: self.lines,
            },
            self.tail.into_iter().collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (local files): a spool keeps every line on disk and only its tail in memory,
    // maps line by line, and its file goes when the last holder drops it.
    #[test]
    fn a_spool_keeps_every_line_on_disk_its_tail_in_memory_and_is_deleted_when_dropped() {
        let mut w = SpoolWriter::new(2).unwrap();
        for i in 0..1000 {
            w.line(&format!("line {i} secret"));
        }
        let (spool, tail) = w.finish().unwrap();
        assert_eq!(tail, vec!["line 998 secret", "line 999 secret"]);
        assert_eq!(spool.lines, 1000);
        let text = std::fs::read_to_string(spool.path()).unwrap();
        assert_eq!(text.lines().count(), 1000);
        assert_eq!(spool.bytes, text.len() as u64);
        let masked = spool.map_lines(|l| l.replace("secret", "***")).unwrap();
        let text = std::fs::read_to_string(masked.path()).unwrap();
        assert!(!text.contains("secret") && text.contains("line 0 ***\n"));
        let path = spool.path().to_path_buf();
        let copy = spool.clone();
        drop(spool);
        assert!(path.exists(), "a clone still holds it");
        drop(copy);
        assert!(!path.exists(), "the last holder deletes it");
    }
}
