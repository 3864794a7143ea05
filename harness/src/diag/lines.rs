//! Maps key paths (`steps[3].wait.timeout`) to their line and column in a YAML text, so that
//! problems found after deserialization still point at the right place in the user's file.
//! Built from parser events: aliases are not expanded, so this is cheap even on hostile input.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

#[derive(Debug, Default)]
pub struct LineIndex {
    positions: HashMap<String, (usize, usize)>,
    duplicates: Vec<Duplicate>,
    /// Where each line starts (byte offsets): a line is found in one step, however many
    /// problems a long file has.
    line_starts: Vec<usize>,
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// A key given twice in one mapping (YAML parsers keep the last one silently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Key path of the key.
    pub path: String,
    /// Where it appears again, and where it first appeared.
    pub at: (usize, usize),
    pub first: (usize, usize),
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        keys: std::collections::HashSet<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    positions: HashMap<String, (usize, usize)>,
    duplicates: Vec<Duplicate>,
    document: usize,
    /// Index every document (a multi-document manifest), not only the first.
    every_document: bool,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Builder {
    /// The path of the node that starts now, and records where it starts.
    fn node_path(&mut self, mark: Marker) -> Option<String> {
        let position = (mark.line(), mark.col() + 1);
        match self.stack.last_mut() {
            // In a multi-document index each document's paths start with `#<index>`.
            None if self.every_document => Some(format!("#{}", self.document.saturating_sub(1))),
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.positions.entry(p.clone()).or_insert(position);
                Some(p)
            }
            Some(Frame::Map { path, key, .. }) => key.take().map(|k| join(path, &k)),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::DocumentStart => self.document += 1,
            Event::Scalar(value, ..) => {
                let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                if is_key {
                    if let Some(Frame::Map { path, key, keys }) = self.stack.last_mut() {
                        let p = join(path, &value);
                        let here = (mark.line(), mark.col() + 1);
                        let first = *self.positions.entry(p.clone()).or_insert(here);
                        if !keys.insert(value.clone())
                            && (self.every_document || self.document <= 1)
                        {
                            self.duplicates.push(Duplicate {
                                path: p,
                                at: here,
                                first,
                            });
                        }
                        *key = Some(value);
                    }
                } else {
                    self.node_path(mark);
                }
            }
            Event::Alias(_) => {
                self.node_path(mark);
            }
            Event::MappingStart(..) => {
                let path = self.node_path(mark).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    keys: Default::default(),
                });
            }
            Event::SequenceStart(..) => {
                let path = self.node_path(mark).unwrap_or_else(|| "?".into());
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

impl LineIndex {
    /// Indexes the first document of `text`; a text the parser rejects gives an empty index.
    pub fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut builder, false);
        Self {
            positions: builder.positions,
            duplicates: builder.duplicates,
            line_starts: line_starts(text),
        }
    }

    /// Line `line` (from 1) of `text`, the text this index was built from.
    pub fn line<'t>(&self, text: &'t str, line: usize) -> Option<&'t str> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .map_or(text.len(), |next| next.saturating_sub(1));
        text.get(start..end.max(start))
    }

    /// An index of every document of a multi-document text (a manifest file): paths start
    /// with `#<document index>` (`#1.spec.replicas`), and duplicates of every document count.
    pub fn build_every_document(text: &str) -> Self {
        let mut builder = Builder {
            every_document: true,
            ..Default::default()
        };
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut builder, true);
        Self {
            positions: builder.positions,
            duplicates: builder.duplicates,
            line_starts: line_starts(text),
        }
    }

    /// Keys given twice in one mapping, in file order.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// The line and column of `path`, or of its nearest indexed ancestor.
    pub fn position(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn finds_nested_keys_and_sequence_items() {
        let text = "name: x\nsteps:\n  - wait:\n      timeout: 5m\n  - sleep: 1s\n";
        let index = LineIndex::build(text);
        assert_eq!(index.position("name"), Some((1, 1)));
        assert_eq!(index.position("steps[0].wait.timeout"), Some((4, 7)));
        assert_eq!(index.position("steps[1].sleep"), Some((5, 5)));
        // unknown leaf falls back to its parent
        assert_eq!(index.position("steps[1].sleep.nope"), Some((5, 5)));
        // Lines by number, as the text holds them.
        assert_eq!(index.line(text, 1), Some("name: x"));
        assert_eq!(index.line(text, 5), Some("  - sleep: 1s"));
        assert_eq!(index.line(text, 6), Some(""));
        assert_eq!(index.line(text, 7), None);
        assert_eq!(index.line(text, 0), None);
        assert!(index.duplicates().is_empty());
    }

    #[test]
    fn finds_keys_given_twice_in_one_mapping() {
        let text =
            "name: x\nsteps:\n  - id: a\n    sleep: 1s\n    id: b\n  - id: a\n    sleep: 2s\n";
        let index = LineIndex::build(text);
        assert_eq!(
            index.duplicates(),
            &[Duplicate {
                path: "steps[0].id".into(),
                at: (5, 5),
                first: (3, 5),
            }]
        );
    }
}
