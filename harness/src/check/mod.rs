//! The validation context: what step kinds and verifiers use to turn their raw, as-written
//! values into typed ones. It collects every problem (not the first) as a [`Diagnostic`] with
//! the file, the key path and the line; a conversion returns `None` when its value is unusable,
//! and the scenario is refused as a whole if any error was collected.
//!
//! Variables are substituted here, once, with the run's real values: nothing downstream parses
//! or renders a scenario value again.
//!
//! Beside the context and its plain conversions here: `pattern.rs` (regular expressions,
//! judged at validation), `selector.rs` (label selectors), `files.rs` (files a scenario names),
//! `forms.rs` (serde forms the raw specs share).

use crate::cluster::Endpoint;
use crate::diag::lines::LineIndex;
use crate::diag::{Diagnostic, Diagnostics};
use crate::vars::{self, Values};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest duration a scenario may give anywhere (a scenario's own timeout included): a
/// day. Longer runs belong in several scenarios; the bound keeps every deadline computable.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

pub struct Checker<'a> {
    file: &'a Path,
    /// Secret variable values, masked in every message.
    redactor: crate::redact::Redactor,
    /// Relative paths in the scenario are relative to its directory.
    base: PathBuf,
    lines: Option<&'a LineIndex>,
    values: &'a Values,
    diags: Diagnostics,
    /// The environment the run will read (passwords named by `env:`), when known.
    env: Option<&'a Env<'a>>,
    /// Manifests already read and parsed, by the file or directory they came from (with their
    /// text's size): a scenario that applies one file in many steps reads it once.
    manifests: std::collections::HashMap<PathBuf, (Vec<crate::manifest::Manifest>, u64)>,
    /// Manifest text the scenario brings, counting each apply (bounded by
    /// [`MAX_SCENARIO_MANIFEST_BYTES`]).
    manifest_bytes: u64,
    /// Each distinct pattern judged once: a thousand steps with one pattern compile it once.
    patterns: std::collections::HashMap<(String, Judged), Result<Pattern, String>>,
    /// The compiled size of the scenario's distinct patterns together (bounded by
    /// [`MAX_SCENARIO_PATTERN_BYTES`]).
    pattern_bytes: usize,
}

/// The most memory a scenario's patterns may take compiled, all together.
pub const MAX_SCENARIO_PATTERN_BYTES: usize = 32 * 1024 * 1024;

/// The most manifest text one scenario may apply, counting a file as often as it is applied:
/// what its plan holds in memory.
pub const MAX_SCENARIO_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// How a run reads its environment (a variable's value by name).
pub type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

impl<'a> Checker<'a> {
    pub fn new(file: &'a Path, lines: Option<&'a LineIndex>, values: &'a Values) -> Self {
        Self {
            file,
            redactor: crate::redact::Redactor::new(values.secret_values()),
            base: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            lines,
            values,
            diags: Diagnostics::default(),
            env: None,
            manifests: Default::default(),
            manifest_bytes: 0,
            patterns: Default::default(),
            pattern_bytes: 0,
        }
    }

    /// Checks `env:` sources against `env` (the run's environment) from now on.
    pub fn with_env(mut self, env: &'a Env<'a>) -> Self {
        self.env = Some(env);
        self
    }

    /// Whether the environment variable `name` is set, when the environment is known.
    pub fn env_is_set(&self, name: &str) -> Option<bool> {
        self.env.map(|env| env(name).is_some())
    }

    pub fn file(&self) -> &Path {
        self.file
    }

    pub fn values(&self) -> &Values {
        self.values
    }

    pub fn into_diagnostics(self) -> Diagnostics {
        self.diags
    }

    pub fn has_errors(&self) -> bool {
        self.diags.has_errors()
    }

    fn position(&self, path: &str) -> Option<(usize, usize)> {
        self.lines.and_then(|l| l.position(path))
    }

    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        let message = self.redactor.redact(&message.into());
        let d = Diagnostic::error(self.file, path, message).at(self.position(path));
        self.diags.push(d);
    }

    pub fn warning(&mut self, path: &str, message: impl Into<String>) {
        let message = self.redactor.redact(&message.into());
        let d = Diagnostic::warning(self.file, path, message).at(self.position(path));
        self.diags.push(d);
    }

    /// Appends problems found elsewhere (e.g. by a nested loader).
    pub fn extend(&mut self, diags: Diagnostics) {
        self.diags.0.extend(diags.0);
    }

    /// A positive duration such as `90s`, `5m` or `1h 30m`, at most [`MAX_DURATION`].
    pub fn duration(&mut self, path: &str, text: &str) -> Option<Duration> {
        self.bounded_duration(path, text, MAX_DURATION)
    }

    /// A version a verifier checks every server against, or its beginning (`11.8`, `1.6`):
    /// not empty, at most 64 characters, no control characters; trimmed.
    pub fn version_prefix(
        &mut self,
        path: &str,
        given: Option<String>,
        example: &str,
    ) -> Option<Option<String>> {
        match given {
            Some(v) if v.trim().is_empty() || v.len() > 64 || v.chars().any(char::is_control) => {
                self.error(
                    path,
                    format!(
                        "a version or its beginning, such as `{example}` (at most 64 characters)"
                    ),
                );
                None
            }
            v => Some(v.map(|v| v.trim().to_string())),
        }
    }

    /// A positive duration of at most `max`.
    pub fn bounded_duration(&mut self, path: &str, text: &str, max: Duration) -> Option<Duration> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() => {
                self.error(
                    path,
                    format!(
                        "duration `{text}` is zero; give a positive duration such as `30s` or `5m`"
                    ),
                );
                None
            }
            Ok(d) if d > max => {
                self.error(
                    path,
                    format!(
                        "duration `{text}` is longer than the longest allowed here, {}",
                        humantime::format_duration(max)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    path,
                    format!("`{text}` is not a duration ({e}); write e.g. `90s`, `5m` or `1h 30m`"),
                );
                None
            }
        }
    }

    /// `pod:` or `selector:` (exactly one) as a typed selection.
    pub fn pods(
        &mut self,
        path: &str,
        pod: Option<&String>,
        selector: Option<&String>,
    ) -> Option<crate::cluster::Selection> {
        let one = self.exactly_one(
            path,
            &[("pod", pod.is_some()), ("selector", selector.is_some())],
        );
        let selector = match selector {
            Some(sel) => self.selector(&format!("{path}.selector"), sel),
            None => None,
        };
        if !one {
            return None;
        }
        match pod {
            Some(pod) if !crate::manifest::is_dns1123_subdomain(pod) => {
                self.error(
                    &format!("{path}.pod"),
                    if pod.is_empty() {
                        "the pod's name is empty".to_string()
                    } else {
                        format!(
                            "`{}` is not a pod name (lowercase letters, digits, `-` and `.`, at most 253)",
                            crate::diag::visible(pod)
                        )
                    },
                );
                None
            }
            Some(pod) => Some(crate::cluster::Selection::Name(pod.clone())),
            None => selector.map(crate::cluster::Selection::Selector),
        }
    }

    /// A duration that may be zero (`0s`: a grace period of none), at most [`MAX_DURATION`].
    pub fn duration_or_zero(&mut self, path: &str, text: &str) -> Option<Duration> {
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d > MAX_DURATION => {
                self.error(
                    path,
                    format!(
                        "duration `{text}` is longer than the longest allowed here, {}",
                        humantime::format_duration(MAX_DURATION)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(_) if text.trim() == "0" => Some(Duration::ZERO),
            Err(e) => {
                self.error(
                    path,
                    format!("`{text}` is not a duration ({e}); write e.g. `0s`, `20s` or `1m`"),
                );
                None
            }
        }
    }

    /// A whole number of at least `min` (and at most what Kubernetes' int32 fields hold).
    pub fn count(&mut self, path: &str, n: i64, min: i64) -> Option<u32> {
        self.count_within(path, n, min, i64::from(i32::MAX))
    }

    /// A whole number from `min` to `max`.
    pub fn count_within(&mut self, path: &str, n: i64, min: i64, max: i64) -> Option<u32> {
        if n < min || n > max {
            let range = if max == i64::from(i32::MAX) {
                format!("at least {min}")
            } else {
                format!("from {min} to {max}")
            };
            self.error(path, format!("{n} is out of range: it must be {range}"));
            None
        } else {
            u32::try_from(n).ok()
        }
    }

    pub fn port(&mut self, path: &str, n: i64) -> Option<u16> {
        match u16::try_from(n) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.error(path, format!("{n} is not a port (1 to 65535)"));
                None
            }
        }
    }

    pub fn endpoint(&mut self, path: &str, text: &str) -> Option<Endpoint> {
        let parsed = Endpoint::parse(text);
        if parsed.is_none() {
            self.error(path, format!("`{text}` is not HOST:PORT"));
        }
        parsed
    }

    /// One of `options` (name, given?) must be given; says which when not.
    pub fn exactly_one(&mut self, path: &str, options: &[(&str, bool)]) -> bool {
        let given: Vec<&str> = options
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| *n)
            .collect();
        let names: Vec<String> = options.iter().map(|(n, _)| format!("`{n}`")).collect();
        match given.len() {
            1 => true,
            0 => {
                self.error(path, format!("give one of {}", names.join(", ")));
                false
            }
            _ => {
                self.error(
                    path,
                    format!(
                        "give only one of {}, not {}",
                        names.join(", "),
                        given.join(" and ")
                    ),
                );
                false
            }
        }
    }

    /// One of a closed set of names (kinds, levels), with a hint when misspelt.
    pub fn one_of<T: Copy>(
        &mut self,
        path: &str,
        given: &str,
        what: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, v)) = options.iter().find(|(n, _)| *n == given) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let hint = crate::diag::hint(given, names.iter().copied());
        self.error(
            path,
            format!("`{given}` {what}; use one of {}{hint}", names.join(", ")),
        );
        None
    }

    /// The value of a variable (built-ins included).
    pub fn lookup(&self, name: &str) -> Option<String> {
        self.values.get(name).map(str::to_string)
    }

    /// " (did you mean `x`?)" for a misspelt variable name, or nothing.
    pub fn var_hint(&self, name: &str) -> String {
        crate::diag::hint(name, self.values.values.keys().map(String::as_str))
    }

    /// Substitutes `${var}` in a text; unknown variables are reported at `path`.
    pub fn substitute(&mut self, path: &str, text: &str) -> Option<String> {
        match vars::substitute(text, &|n| self.lookup(n)) {
            Ok(t) => Some(t),
            Err(undefined) => {
                let u = &undefined.first[0];
                let hint = self.var_hint(&u.name);
                let more = match undefined.total - 1 {
                    0 => String::new(),
                    n => format!(" (and {n} more unknown variable reference(s) in this text)"),
                };
                self.error(
                    path,
                    format!(
                        "unknown variable `${{{}}}`{hint}{more}",
                        crate::diag::visible(&u.name)
                    ),
                );
                None
            }
        }
    }

    /// A raw spec with variables substituted in every string; an unknown variable is reported at
    /// `path` and the spec is not checked further.
    pub fn render<T: Serialize + DeserializeOwned>(&mut self, path: &str, spec: &T) -> Option<T> {
        match vars::render(spec, &|n| self.lookup(n)) {
            Ok(r) => Some(r),
            Err(vars::RenderError::Unknown(name)) => {
                let hint = self.var_hint(&name);
                self.error(path, format!("unknown variable `${{{name}}}`{hint}"));
                None
            }
            Err(vars::RenderError::Invalid(message)) => {
                self.error(path, message);
                None
            }
        }
    }
}

/// A name of the harness's own (scenario, tag, step id, workload id): lowercase letters,
/// digits and `-`, at most 40, not starting or ending with `-`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

mod files;
mod forms;
mod pattern;
mod selector;

pub use files::{ReadError, read_text};
pub use forms::{ScalarString, duration_text, finite, finite_opt, opt_duration_text};
pub use pattern::{Judged, PATTERN_SIZE_LIMIT, Pattern};
pub use selector::selector_problem;
