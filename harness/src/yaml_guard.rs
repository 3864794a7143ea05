//! Guards on YAML text before any parser sees it, in one linear pass. The YAML parsers take
//! time quadratic in the nesting depth (40 KB of `[` took 4 s, 1 MB never finished), so text
//! that nests deeper than [`MAX_DEPTH`] is refused here with its line and column, whatever its
//! size. Block scalars (`|`, `>`) are text, not structure: an inline manifest is judged when it
//! is parsed as a manifest.

/// Deeper than any scenario or Kubernetes manifest needs (they stay under about 20).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the document nests more than {MAX_DEPTH} levels deep (at line {}, column {}); no scenario or manifest needs that many",
            self.line, self.column
        )
    }
}

/// Removes a UTF-8 byte-order mark, which editors on Windows write and YAML allows.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Refuses text that nests deeper than [`MAX_DEPTH`] (block indentation, `- ` items and flow
/// brackets counted together).
pub fn check_depth(text: &str) -> Result<(), TooDeep> {
    let mut scan = Scan::default();
    for (i, raw) in text.split('\n').enumerate() {
        scan.line(i + 1, raw.strip_suffix('\r').unwrap_or(raw))?;
    }
    Ok(())
}

#[derive(Default)]
struct Scan {
    /// Indentation of the open block collections.
    blocks: Vec<usize>,
    flow: usize,
    quote: Option<char>,
    /// Inside a block scalar whose header line had this indentation.
    block_scalar: Option<usize>,
}

impl Scan {
    fn line(&mut self, number: usize, line: &str) -> Result<(), TooDeep> {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if let Some(parent) = self.block_scalar {
            if rest.trim().is_empty() || indent > parent {
                return Ok(());
            }
            self.block_scalar = None;
        }
        let mut depth = self.flow;
        let mut start = 0;
        if self.flow == 0 && self.quote.is_none() {
            if rest.is_empty() || rest.starts_with('#') {
                return Ok(());
            }
            while self.blocks.last().is_some_and(|&top| top > indent) {
                self.blocks.pop();
            }
            if self.blocks.last() != Some(&indent) {
                self.blocks.push(indent);
            }
            depth = self.blocks.len();
            // `- - - x`: each item marker opens one more level on the same line.
            let bytes = rest.as_bytes();
            while start + 1 < bytes.len() && bytes[start] == b'-' && bytes[start + 1] == b' ' {
                depth += 1;
                start += 2;
                while start < bytes.len() && bytes[start] == b' ' {
                    start += 1;
                }
            }
            if depth > MAX_DEPTH {
                return Err(TooDeep {
                    line: number,
                    column: indent + 1,
                });
            }
        }
        let base = depth - self.flow;
        let mut previous: Option<char> = None;
        let mut chars = rest[start..].char_indices().peekable();
        let mut content_end = rest.len();
        while let Some((i, c)) = chars.next() {
            match self.quote {
                Some('"') => match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => self.quote = None,
                    _ => {}
                },
                Some(_) => {
                    if c == '\'' {
                        if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                            chars.next();
                        } else {
                            self.quote = None;
                        }
                    }
                }
                None => match c {
                    '#' if previous.is_none_or(|p| p == ' ' || p == '\t') => {
                        content_end = start + i;
                        break;
                    }
                    '"' | '\'' if previous.is_none_or(|p| " [{,:-?".contains(p)) => {
                        self.quote = Some(c);
                    }
                    '[' | '{' => {
                        self.flow += 1;
                        if base + self.flow > MAX_DEPTH {
                            return Err(TooDeep {
                                line: number,
                                column: indent + start + i + 1,
                            });
                        }
                    }
                    ']' | '}' => self.flow = self.flow.saturating_sub(1),
                    _ => {}
                },
            }
            if !c.is_whitespace() || self.quote.is_some() {
                previous = Some(c);
            } else if previous.is_some() {
                previous = Some(' ');
            }
        }
        if self.flow == 0 && self.quote.is_none() && is_block_scalar_header(&rest[..content_end]) {
            self.block_scalar = Some(indent);
        }
        Ok(())
    }
}

/// `key: |`, `- >-`, `|2+`...: the lines that follow are a block scalar's text.
fn is_block_scalar_header(content: &str) -> bool {
    let t = content.trim_end();
    let Some(pos) = t.rfind(['|', '>']) else {
        return false;
    };
    let indicators = &t[pos + 1..];
    let before = t[..pos].trim_end();
    indicators
        .chars()
        .all(|c| c == '-' || c == '+' || c.is_ascii_digit())
        && (before.is_empty() || before.ends_with(':') || before.ends_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn ordinary_documents_pass() {
        let text = "name: x\nsteps:\n  - apply:\n      inline: |\n        a: [[[[[[\n        b: {\n  - exec: { pod: p, command: [sh, -c, \"echo '[[[[' # not a comment\"] } # [[[[\n";
        assert_eq!(check_depth(text), Ok(()));
        assert_eq!(check_depth("a: 'it''s [ok'\nb: \"x\\\"[\"\n"), Ok(()));
    }

    #[test]
    fn deep_brackets_dashes_and_indentation_are_refused_with_their_line() {
        let brackets = format!("a: {}\n", "[".repeat(65));
        assert_eq!(check_depth(&brackets).unwrap_err().line, 1);
        let dashes = format!("x: 1\n{}y\n", "- ".repeat(70));
        assert_eq!(check_depth(&dashes).unwrap_err().line, 2);
        let mut indented = String::new();
        for i in 0..70 {
            indented.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        assert_eq!(check_depth(&indented).unwrap_err().line, 65);
        assert_eq!(check_depth(&"[".repeat(63)), Ok(()));
    }

    #[test]
    fn a_megabyte_of_brackets_is_refused_but_the_same_in_a_block_scalar_is_text() {
        let text = format!("a: {}", "[".repeat(1024 * 1024));
        assert_eq!(check_depth(&text).unwrap_err().column, 67);
        let deep_in_a_scalar = format!("a: |\n  {}\n", "[".repeat(1024 * 1024));
        assert_eq!(check_depth(&deep_in_a_scalar), Ok(()));
    }

    #[test]
    fn a_byte_order_mark_is_removed() {
        assert_eq!(strip_bom("\u{feff}name: x"), "name: x");
        assert_eq!(strip_bom("name: x"), "name: x");
    }
}
