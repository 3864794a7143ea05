//! Diagnostics: one problem found in a user's file, with the file, the key path, the line and the
//! column, rendered the way compilers do (`file:line:col: error: path: message`).

pub mod lines;

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// Key path inside the file, e.g. `steps[3].wait.timeout`; empty for the whole file.
    pub path: String,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &Path, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            file: file.to_path_buf(),
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn warning(file: &Path, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(file, path, message)
        }
    }

    pub fn at(mut self, position: Option<(usize, usize)>) -> Self {
        if let Some((line, column)) = position {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", visible(&self.file.display().to_string()))?;
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, ":{line}:{column}")?,
            (Some(line), None) => write!(f, ":{line}")?,
            _ => {}
        }
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {severity}")?;
        if !self.path.is_empty() {
            write!(f, " at `{}`", visible(&self.path))?;
        }
        write!(f, ": {}", visible(&self.message))
    }
}

/// Whether `c` changes nothing visible: zero-width characters, joiners, direction marks and
/// overrides, the byte-order mark, soft hyphens.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{061c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// Text safe to print on a terminal: control characters (an escape sequence could retitle or
/// clear it) and invisible characters shown as `\u{1b}`, `\u{200d}`; line breaks and tabs
/// kept.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (c.is_control() && c != '\n' && c != '\t') || is_invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `text` holds characters that are not what they look like: invisible ones, or
/// letters outside ASCII (a Cyrillic `а` looks like a Latin `a`).
pub fn deceptive(text: &str) -> bool {
    text.chars().any(|c| {
        is_invisible(c)
            || (c.is_control() && c != '\n' && c != '\t')
            || (!c.is_ascii() && c.is_alphabetic())
    })
}

/// `text` shown so that look-alike and invisible characters can be seen: every character
/// outside printable ASCII as `\u{..}`.
pub fn spelled_out(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

/// Every problem found in one or more files; the error type of loading and validation.
#[derive(Debug, Clone, Default, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// "did you mean" for a misspelt key or kind, when one candidate is close enough.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// " (did you mean `x`?)" for a misspelt name, or nothing; when `given` holds look-alike or
/// invisible characters, it is spelled out so that the two names do not look identical.
pub fn hint<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let suggestion = did_you_mean(given, candidates);
    let spelled = if deceptive(given) {
        format!(
            "; `{}` holds characters that look like others or cannot be seen, spelled out: `{}`",
            visible(given),
            spelled_out(given)
        )
    } else {
        String::new()
    };
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?{spelled})"),
        None if !spelled.is_empty() => format!(" ({})", &spelled[2..]),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_and_invisible_characters_are_spelled_out() {
        let cyrillic = "m\u{435}mcache.pool";
        let h = hint(cyrillic, ["memcache.pool"]);
        assert!(h.contains("did you mean `memcache.pool`?"), "{h}");
        assert!(h.contains("`m\\u{435}mcache.pool`"), "{h}");
        let joiner = "status\u{200d}";
        assert!(hint(joiner, ["status"]).contains("status\\u{200d}"));
        assert_eq!(visible("a\u{1b}]0;title\u{7}b"), "a\\u{1b}]0;title\\u{7}b");
        assert_eq!(hint("steps", ["step"]), " (did you mean `step`?)");
    }

    // Layer 1 (pure).
    #[test]
    fn renders_file_line_column_path_and_message() {
        let d = Diagnostic::error(Path::new("s.yaml"), "steps[3].wait.timeout", "bad")
            .at(Some((12, 7)));
        assert_eq!(
            d.to_string(),
            "s.yaml:12:7: error at `steps[3].wait.timeout`: bad"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("contineu_on_error", ["continue_on_error", "id"]),
            Some("continue_on_error")
        );
        assert_eq!(did_you_mean("zzz", ["continue_on_error", "id"]), None);
    }
}
