//! Reading a scenario file into its raw serde types. Every failure becomes a [`Diagnostic`] that
//! names the file, the key path and the line; nothing here panics on user input.

use super::raw::RawScenario;
use crate::check::read_text;
use crate::diag::lines::LineIndex;
use crate::diag::{Diagnostic, Diagnostics};
use crate::yaml_guard;
use std::path::Path;

/// Scenario files larger than this are refused before parsing.
pub const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;

/// A parsed scenario file with the text it came from (for line lookups).
#[derive(Debug)]
pub struct Loaded {
    pub raw: RawScenario,
    pub text: String,
    pub lines: LineIndex,
}

pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let text = read_text(path, MAX_SCENARIO_BYTES)
        .map_err(|e| Diagnostics(vec![Diagnostic::error(path, "", e.message).at(e.position)]))?;
    parse(path, text)
}

/// True when the text holds no YAML content at all (empty, blank or only comments).
fn is_blank_yaml(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

pub fn parse(path: &Path, text: String) -> Result<Loaded, Diagnostics> {
    let text = match yaml_guard::strip_bom(&text) {
        stripped if stripped.len() != text.len() => stripped.to_string(),
        _ => text,
    };
    if let Err(deep) = yaml_guard::check_depth(&text) {
        return Err(Diagnostics(vec![
            Diagnostic::error(path, "", deep.to_string()).at(Some((deep.line, deep.column))),
        ]));
    }
    if is_blank_yaml(&text) {
        return Err(Diagnostics(vec![Diagnostic::error(
            path,
            "",
            "the file is empty (it has no YAML content, only blank lines or comments); a scenario needs at least `name` and `steps`",
        )
        .at(Some((1, 1)))]));
    }
    let lines = LineIndex::build(&text);
    if !lines.duplicates().is_empty() {
        return Err(Diagnostics(
            lines
                .duplicates()
                .iter()
                .map(|d| {
                    Diagnostic::error(
                        path,
                        d.path.clone(),
                        format!(
                            "this key is given twice in the same mapping (first at line {}); YAML would silently keep only the last one",
                            d.first.0
                        ),
                    )
                    .at(Some(d.at))
                })
                .collect(),
        ));
    }
    let deserializer = serde_yaml::Deserializer::from_str(&text);
    let first = match serde_path_to_error::deserialize::<_, RawScenario>(deserializer) {
        Ok(raw) => return Ok(Loaded { raw, text, lines }),
        Err(err) => describe(path, &text, &lines, err),
    };
    // The typed pass stops at its first problem. When the text is valid YAML, judge each part
    // on its own (each top-level key, each step, finally step and guard) so one run reports
    // every shape problem of the file; the first keeps the exact position the typed pass gave.
    let mut all = match serde_yaml::from_str::<serde_yaml::Value>(&text) {
        Ok(value) => shape_problems(path, &text, &lines, value),
        Err(_) => vec![],
    };
    match all.iter_mut().find(|d| d.path == first.path) {
        Some(same) => *same = first,
        None => all.insert(0, first),
    }
    Err(Diagnostics(all))
}

/// Every part of the file that does not deserialize, each judged apart: the top-level keys
/// (unknown ones with a hint; missing required ones), and every element of `steps`, `finally`
/// and `guards`. Within one part, the first problem.
fn shape_problems(
    path: &Path,
    text: &str,
    lines: &LineIndex,
    value: serde_yaml::Value,
) -> Vec<Diagnostic> {
    use serde::de::DeserializeOwned;
    use serde_yaml::Value;
    let serde_yaml::Value::Mapping(map) = value else {
        return vec![];
    };
    fn part<T: DeserializeOwned>(
        path: &Path,
        text: &str,
        lines: &LineIndex,
        at: &str,
        value: Value,
        out: &mut Vec<Diagnostic>,
    ) {
        if let Err(err) = serde_path_to_error::deserialize::<_, T>(value) {
            let inner_path = err.path().to_string();
            let full = match inner_path.as_str() {
                "." | "?" | "" => at.to_string(),
                p if p.starts_with('[') => format!("{at}{p}"),
                p => format!("{at}.{p}"),
            };
            out.push(describe_at(path, text, lines, full, err.into_inner()));
        }
    }
    fn each<T: DeserializeOwned>(
        path: &Path,
        text: &str,
        lines: &LineIndex,
        at: &str,
        value: Value,
        out: &mut Vec<Diagnostic>,
    ) {
        match value {
            Value::Sequence(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    part::<T>(path, text, lines, &format!("{at}[{i}]"), item, out);
                }
            }
            other => part::<Vec<T>>(path, text, lines, at, other, out),
        }
    }
    const KEYS: [&str; 10] = [
        "name",
        "description",
        "tags",
        "cluster",
        "variables",
        "timeouts",
        "steps",
        "finally",
        "guards",
        "",
    ];
    let mut out = vec![];
    for required in ["name", "steps"] {
        if !map.contains_key(Value::String(required.into())) {
            out.push(
                Diagnostic::error(path, "", format!("missing field `{required}`")).at(Some((1, 1))),
            );
        }
    }
    for (key, value) in map {
        let Some(key) = key.as_str().map(str::to_string) else {
            continue;
        };
        match key.as_str() {
            "name" | "description" => part::<String>(path, text, lines, &key, value, &mut out),
            "tags" => part::<Vec<String>>(path, text, lines, &key, value, &mut out),
            "cluster" => part::<super::raw::ClusterNeeds>(path, text, lines, &key, value, &mut out),
            "variables" => part::<std::collections::BTreeMap<String, super::raw::VariableDef>>(
                path, text, lines, &key, value, &mut out,
            ),
            "timeouts" => part::<super::raw::Timeouts>(path, text, lines, &key, value, &mut out),
            "steps" | "finally" => {
                each::<super::raw::RawStep>(path, text, lines, &key, value, &mut out)
            }
            "guards" => each::<crate::guards::RawGuard>(path, text, lines, &key, value, &mut out),
            unknown => {
                let known = KEYS.iter().filter(|k| !k.is_empty()).copied();
                out.push(
                    Diagnostic::error(
                        path,
                        unknown.to_string(),
                        format!(
                            "unknown top-level key `{}`{}",
                            crate::diag::visible(unknown),
                            crate::diag::hint(unknown, known)
                        ),
                    )
                    .at(lines.position(unknown)),
                );
            }
        }
    }
    out
}

/// Turns a serde error into a diagnostic: key path, line and column, and a "did you mean" hint
/// for unknown keys and kinds.
fn describe(
    path: &Path,
    text: &str,
    lines: &LineIndex,
    err: serde_path_to_error::Error<serde_yaml::Error>,
) -> Diagnostic {
    let key_path = err.path().to_string();
    describe_at(path, text, lines, key_path, err.into_inner())
}

/// [`describe`] of an error at `key_path`.
fn describe_at(
    path: &Path,
    text: &str,
    lines: &LineIndex,
    key_path: String,
    inner: serde_yaml::Error,
) -> Diagnostic {
    // A syntax error leaves the parser inside a key it could not read: serde_path_to_error
    // writes it `?`. The path is where the parser was; the unread key has no name.
    let mut key_path = key_path
        .split('.')
        .filter(|segment| *segment != "?")
        .collect::<Vec<_>>()
        .join(".");
    if key_path == "." {
        key_path.clear();
    }
    let mut message = inner.to_string();
    // serde_yaml appends " at line L column C"; we print the position ourselves.
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    // serde_yaml prefixes its own copy of the path ("steps[0].wait: ..."); we print ours.
    static SERDE_PATH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[\w\[\]\.\-]+: ").expect("a valid pattern")
    });
    if let Some(m) = SERDE_PATH.find(&message) {
        message = message[m.end()..].to_string();
    }
    if let Some(unknown) = backticked_after(&message, "unknown field `") {
        if !key_path.ends_with(&unknown) {
            key_path = if key_path.is_empty() {
                unknown.clone()
            } else {
                format!("{key_path}.{unknown}")
            };
        }
        message = with_hint(&message, &unknown);
    } else if let Some(unknown) = backticked_after(&message, "unknown variant `") {
        message = with_hint(&message, &unknown);
    }
    if message.starts_with("mapping values are not allowed in this context") {
        message = "a `key: value` pair where only a plain value can be: this line is indented deeper than the key above it, so YAML reads it as part of that key's value (indent it like its sibling keys), or a value holds `: ` and needs quotes".into();
    } else if message.starts_with("did not find expected key") {
        message =
            "this line's indentation matches no key above it: indent it like its sibling keys"
                .into();
    } else if message.starts_with("did not find expected '-' indicator") {
        message = "this line's indentation breaks the list above it: indent a new item like the other `- ` items, or a key of an item like that item's first key".into();
    }
    if message.contains("recursion limit exceeded") {
        message = format!("{message}: the document nests too deeply");
    }
    if message.contains("repetition limit exceeded") {
        message = format!("{message}: anchors and aliases expand too much (a YAML bomb?)");
    }
    let mut position = inner.location().map(|l| (l.line(), l.column()));
    // A value refused by its own check (`.nan`) is reported by serde at the mapping around
    // it; the key's own line, when it lies further in, is where the user looks.
    let at_key = (!key_path.is_empty())
        .then(|| lines.position(&key_path))
        .flatten();
    position = match (position, at_key) {
        (None, key) => key,
        (Some(serde), Some(key)) if key.0 > serde.0 => Some(key),
        (serde, _) => serde,
    };
    if let Some((line, column)) = position
        && tab_near(lines.line(text, line), column)
    {
        message = "a tab character is used for indentation or spacing here; YAML allows only spaces there".into();
    }
    if is_password_path(&key_path) {
        // Never repeat what was written where a password source belongs: it may be the password.
        message = "a password is never written into a scenario; give where it comes from: `{ env: VARIABLE }`, `{ var: NAME }` (a variable marked `secret: true`) or `{ secret: { name: SECRET, key: KEY } }`".into();
    }
    Diagnostic::error(path, key_path, plain_words(&message)).at(position)
}

fn is_password_path(key_path: &str) -> bool {
    key_path.ends_with(".password")
        || key_path.contains(".password.")
        || key_path.ends_with(".credentials")
}

/// Whether the line of an error holds a tab at or before the reported column.
fn tab_near(line: Option<&str>, column: usize) -> bool {
    line.is_some_and(|l| l.chars().take(column.max(1)).any(|c| c == '\t'))
}

/// serde's words for Rust types, in the words of a scenario file.
fn plain_words(message: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        (
            r"(struct|enum|tuple struct) [A-Z][A-Za-z0-9_]*",
            "a map of keys",
        ),
        (r"(map|mapping) with one of", "one of"),
        (
            r"\b(i8|i16|i32|i64|u8|u16|u32|u64|usize|isize)\b",
            "a whole number",
        ),
        (r"\b(f32|f64)\b", "a number"),
        (r"a boolean", "`true` or `false`"),
        (r"\bunit value\b", "nothing (an empty value)"),
        (r"\bOption\b", "an optional value"),
        (r"\bsequence\b", "list"),
        (r"\bVec<[^>]*>", "a list"),
        (r"\bString\b", "a string"),
        (r"invalid type: map, expected", "found a map, expected"),
        (
            r"invalid type: sequence, expected",
            "found a list, expected",
        ),
    ];
    // Compiled once: a file with a thousand problems is described in milliseconds.
    static COMPILED: std::sync::LazyLock<Vec<(regex::Regex, &'static str)>> =
        std::sync::LazyLock::new(|| {
            WORDS
                .iter()
                .map(|(pattern, words)| {
                    (regex::Regex::new(pattern).expect("a valid pattern"), *words)
                })
                .collect()
        });
    let mut out = message.to_string();
    for (re, words) in COMPILED.iter() {
        out = re.replace_all(&out, *words).into_owned();
    }
    out
}

fn backticked_after(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let end = message[start..].find('`')? + start;
    Some(message[start..end].to_string())
}

fn with_hint(message: &str, unknown: &str) -> String {
    let expected: Vec<&str> = message
        .split_once("expected")
        .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    format!(
        "{message}{}",
        crate::diag::hint(unknown, expected.iter().copied())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> Diagnostic {
        parse(Path::new("t.yaml"), text.to_string())
            .unwrap_err()
            .0
            .remove(0)
    }

    // Layer 1 (pure).
    #[test]
    fn unknown_step_field_names_path_line_and_hint() {
        let d =
            error_of("name: x\nsteps:\n  - wait:\n      rollout: { kind: StatefulSet, nmae: a }\n");
        assert_eq!(d.path, "steps[0].wait.rollout.nmae", "{d}");
        assert_eq!(d.line, Some(4), "{d}");
        assert!(d.message.contains("did you mean `name`"), "{d}");
    }

    #[test]
    fn unknown_step_kind_gets_a_hint() {
        let d = error_of("name: x\nsteps:\n  - aplly: { file: a.yaml }\n");
        assert_eq!(d.path, "steps[0]", "{d}");
        assert!(d.message.contains("did you mean `apply`"), "{d}");
        assert_eq!(d.line, Some(3), "{d}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let d = error_of(
            "name: x\nsteps:\n  - scale: { kind: StatefulSet, name: a, replicas: four }\n",
        );
        assert_eq!(d.path, "steps[0].scale.replicas", "{d}");
        assert_eq!(d.line, Some(3), "{d}");
    }

    #[test]
    fn empty_and_comment_only_files_are_refused() {
        assert!(error_of("").message.contains("empty"));
        assert!(
            error_of("# nothing\n   \n# here\n")
                .message
                .contains("empty")
        );
    }
}
