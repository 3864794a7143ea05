//! Variables: their resolved values, and substituting `${name}` in manifests and step fields.
//! `$${` writes a literal `${` (for shell scripts in ConfigMaps); a bare `$NAME` is left alone.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Names the harness defines for every scenario.
pub const BUILTINS: [&str; 3] = ["namespace", "run_id", "scenario"];

/// Whether `text` looks like an environment variable's name (`[A-Z_][A-Z0-9_]*`). Only then
/// is it repeated in a message: a value given where a variable's name belongs may be the
/// password itself.
pub fn looks_like_env_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'_'))
        && bytes.all(|b| matches!(b, b'A'..=b'Z' | b'0'..=b'9' | b'_'))
        && text.len() <= 128
}

/// An environment variable's name as a message shows it: `` `NAME` ``, or words saying the
/// value is not shown because it does not look like a name.
pub fn env_name_shown(text: &str) -> String {
    if looks_like_env_name(text) {
        format!("`{text}`")
    } else {
        "(its name is not shown: it does not look like a variable name, `[A-Z_][A-Z0-9_]*`, and may be the password itself)".into()
    }
}

/// Resolved variable values, with the set of secret values to mask.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub values: BTreeMap<String, String>,
    pub secret: Vec<String>,
}

impl Values {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
    pub fn is_secret(&self, name: &str) -> bool {
        self.secret.iter().any(|s| s == name)
    }
    pub fn secret_values(&self) -> Vec<String> {
        self.secret
            .iter()
            .filter_map(|n| self.values.get(n).cloned())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// A `${name}` with no value, at a 1-based line and column of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// The unknown names of a text: the first [`Undefined::SHOWN`] with their positions, and how
/// many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undefined {
    pub first: Vec<Unknown>,
    pub total: usize,
}

impl Undefined {
    pub const SHOWN: usize = 5;
}

/// Replaces `${name}` with its value; reports the unknown names (the first few with their
/// positions, and the count). One pass: positions are counted as the scan goes.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Undefined> {
    let mut out = String::with_capacity(text.len());
    let mut undefined = Undefined {
        first: vec![],
        total: 0,
    };
    let mut rest = text;
    let mut consumed = 0usize;
    // The line of `consumed` and the offset its line starts at.
    let mut cursor = Cursor::default();
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            rest = escaped;
            consumed += pos + 3;
            continue;
        }
        if let Some(body) = after.strip_prefix('{')
            && let Some(end) = body.find('}')
        {
            let name = &body[..end];
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => {
                    undefined.total += 1;
                    if undefined.first.len() < Undefined::SHOWN {
                        let (line, column) = cursor.advance(text, consumed + pos);
                        undefined.first.push(Unknown {
                            name: name.to_string(),
                            line,
                            column,
                        });
                    }
                }
            }
            rest = &body[end + 1..];
            consumed += pos + 2 + end + 1;
            continue;
        }
        out.push('$');
        rest = after;
        consumed += pos + 1;
    }
    out.push_str(rest);
    if undefined.total == 0 {
        Ok(out)
    } else {
        Err(undefined)
    }
}

/// Line and column of increasing offsets of one text, counting each byte once.
#[derive(Default)]
struct Cursor {
    offset: usize,
    line: usize,
    line_start: usize,
}

impl Cursor {
    /// The 1-based line and column (in characters) of `offset`, which is not before the last.
    fn advance(&mut self, text: &str, offset: usize) -> (usize, usize) {
        let passed = &text[self.offset..offset];
        let newlines = passed.bytes().filter(|b| *b == b'\n').count();
        if newlines > 0 {
            self.line += newlines;
            self.line_start = self.offset + passed.rfind('\n').map_or(0, |p| p + 1);
        }
        self.offset = offset;
        (
            self.line + 1,
            text[self.line_start..offset].chars().count() + 1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "ns").then(|| "ns-1".to_string())
    }

    // Layer 1 (pure).
    #[test]
    fn substitutes_known_names_and_keeps_escapes_and_bare_dollars() {
        let out = substitute("a ${ns} $${HOME} $PATH $", &lookup).unwrap();
        assert_eq!(out, "a ns-1 ${HOME} $PATH $");
    }

    #[test]
    fn reports_every_unknown_name_with_position() {
        let err = substitute("x: ${ns}\ny: ${nope}\nz: é ${other}", &lookup).unwrap_err();
        assert_eq!(err.total, 2);
        assert_eq!(
            err.first[0],
            Unknown {
                name: "nope".into(),
                line: 2,
                column: 4
            }
        );
        assert_eq!(err.first[1].name, "other");
        assert_eq!((err.first[1].line, err.first[1].column), (3, 6));
    }

    #[test]
    fn many_unknown_names_give_the_first_few_and_a_count_in_one_pass() {
        let text = "a: ${x}\n".repeat(200_000);
        let started = std::time::Instant::now();
        let err = substitute(&text, &lookup).unwrap_err();
        assert_eq!(err.total, 200_000);
        assert_eq!(err.first.len(), Undefined::SHOWN);
        assert_eq!((err.first[4].line, err.first[4].column), (5, 4));
        // Not a speed target: a quadratic scan of 1.6 MB takes minutes, this one milliseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown variable `${{{0}}}`")]
    Unknown(String),
    #[error("{0}")]
    Invalid(String),
}

/// Substitutes variables in every string of a spec (through its serde form).
pub fn render<T: Serialize + DeserializeOwned>(
    spec: &T,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<T, RenderError> {
    fn walk(
        v: &mut serde_json::Value,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), RenderError> {
        match v {
            serde_json::Value::String(s) => {
                *s = substitute(s, lookup)
                    .map_err(|u| RenderError::Unknown(u.first[0].name.clone()))?;
            }
            serde_json::Value::Array(a) => a.iter_mut().try_for_each(|x| walk(x, lookup))?,
            serde_json::Value::Object(o) => o.values_mut().try_for_each(|x| walk(x, lookup))?,
            _ => {}
        }
        Ok(())
    }
    let mut value = serde_json::to_value(spec).map_err(|e| RenderError::Invalid(e.to_string()))?;
    walk(&mut value, lookup)?;
    serde_json::from_value(value).map_err(|e| RenderError::Invalid(e.to_string()))
}
