//! The validation context: what step kinds and verifiers use to turn their raw, as-written
//! values into typed ones. It collects every problem (not the first) as a [`Diagnostic`] with
//! the file, the key path and the line; a conversion returns `None` when its value is unusable,
//! and the scenario is refused as a whole if any error was collected.
//!
//! Variables are substituted here, once, with the run's real values: nothing downstream parses
//! or renders a scenario value again.

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

    /// Regular expressions, each reported at `path[i]` when invalid or vacuous; `None` if any
    /// is. `judged` says what they are matched against.
    pub fn patterns(
        &mut self,
        path: &str,
        patterns: &[String],
        judged: Judged,
    ) -> Option<Vec<Pattern>> {
        let mut out = vec![];
        for (i, re) in patterns.iter().enumerate() {
            if let Some(r) = self.pattern(&format!("{path}[{i}]"), re, judged) {
                out.push(r);
            }
        }
        (out.len() == patterns.len()).then_some(out)
    }

    /// One regular expression that can tell something apart: not invalid, not matching every
    /// text (the empty string matches, so every line would), and, when lines are judged one at
    /// a time, not needing a line break (it could never match).
    pub fn pattern(&mut self, path: &str, pattern: &str, judged: Judged) -> Option<Pattern> {
        let key = (pattern.to_string(), judged);
        let judged_before = self.patterns.get(&key).cloned();
        let verdict = match judged_before {
            Some(verdict) => verdict,
            None => {
                let verdict = self.judge_pattern(pattern, judged);
                self.patterns.insert(key, verdict.clone());
                verdict
            }
        };
        match verdict {
            Ok(re) => Some(re),
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }

    fn judge_pattern(&mut self, pattern: &str, judged: Judged) -> Result<Pattern, String> {
        use regex_automata::nfa::thompson::{Compiler, Config};
        let shown = crate::diag::visible(pattern);
        // The NFA regex builds, measured, within what the scenario's patterns have left; it
        // also answers the emptiness question, and is dropped: the pattern is compiled for
        // matching only when a step first uses it.
        let left = MAX_SCENARIO_PATTERN_BYTES.saturating_sub(self.pattern_bytes);
        let limit = PATTERN_SIZE_LIMIT.min(left);
        let nfa = Compiler::new()
            .configure(Config::new().nfa_size_limit(Some(limit)))
            .build(pattern);
        let nfa = match nfa {
            Ok(nfa) => nfa,
            Err(_) if limit < PATTERN_SIZE_LIMIT => {
                return Err(format!(
                    "the scenario's patterns together compile to more than {} MiB at this one: use fewer or simpler patterns (`\\w` and `\\d` match all of Unicode; `[a-z0-9_]` is far smaller)",
                    MAX_SCENARIO_PATTERN_BYTES / (1024 * 1024)
                ));
            }
            // Invalid or too big alone: regex says which, in its words.
            Err(_) => {
                return Err(
                    match regex::RegexBuilder::new(pattern)
                        .size_limit(PATTERN_SIZE_LIMIT)
                        .build()
                    {
                        Err(e) => format!("invalid regular expression: {e}"),
                        Ok(_) => "invalid regular expression".into(),
                    },
                );
            }
        };
        self.pattern_bytes = self.pattern_bytes.saturating_add(nfa.memory_usage());
        if judged == Judged::Lines && needs_line_break(pattern) {
            return Err(format!(
                "`{shown}` contains a line break, but logs are judged one line at a time: it can never match"
            ));
        }
        if let Some(why) = matches_everything(&nfa, pattern, judged) {
            return Err(format!("`{shown}` {why}: it tells nothing apart"));
        }
        Ok(Pattern::checked(pattern))
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

    /// A Kubernetes label selector: comma-separated `key`, `!key`, `key=value`, `key==value`,
    /// `key!=value`, `key in (a,b)`, `key notin (a,b)`, with keys and values as Kubernetes
    /// labels allow them.
    pub fn selector(&mut self, path: &str, selector: &str) -> Option<String> {
        match selector_problem(selector) {
            None => Some(selector.to_string()),
            Some(why) => {
                self.error(
                    path,
                    format!("`{selector}` is not a label selector ({why}); write e.g. `app=cassandra` or `app=x,tier=db`"),
                );
                None
            }
        }
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

/// What a pattern is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Judged {
    /// Each log line alone.
    Lines,
    /// A command's whole output.
    Text,
}

impl Judged {
    fn what(self) -> &'static str {
        match self {
            Judged::Lines => "line",
            Judged::Text => "output",
        }
    }
}

/// The compiled size one pattern may take: beyond it, the pattern is refused at once.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Why a pattern matches every text it could be given (every line, every output), or `None`
/// when some text escapes it. A pattern that can match the empty string with no assertion
/// (`x*`) matches at the start of anything; otherwise the question is settled on a DFA of the
/// pattern, walked over every valid UTF-8 text (without line breaks, for lines): if every
/// walk meets a match, nothing escapes (`.|^$`). `^\s*$|x` is not refused: `abc` escapes it.
/// When the DFA would be too big to build, the pattern is given the benefit of the doubt.
fn matches_everything(
    nfa: &regex_automata::nfa::thompson::NFA,
    pattern: &str,
    judged: Judged,
) -> Option<String> {
    use regex_automata::dfa::{Automaton, StartKind, dense};
    use regex_automata::util::start;
    use regex_automata::{Anchored, MatchKind};
    let every = format!("matches every {}", judged.what());
    if let Ok(hir) = regex_syntax::parse(pattern)
        && hir.properties().minimum_len() == Some(0)
        && hir.properties().look_set().is_empty()
    {
        return Some(format!("{every} (it matches the empty text anywhere)"));
    }
    // Most patterns let a short text through: no automaton needs building for those.
    let vm = regex_automata::nfa::thompson::pikevm::PikeVM::new_from_nfa(nfa.clone()).ok()?;
    let mut cache = vm.create_cache();
    let probes = ["", "a", "Z9", " ", "é", "\u{1}", "x y\tz", "-"];
    if probes.iter().any(|p| !vm.is_match(&mut cache, *p)) {
        return None;
    }
    const DFA_LIMIT: usize = 4 << 20;
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .start_kind(StartKind::Unanchored)
                .match_kind(MatchKind::All)
                .dfa_size_limit(Some(DFA_LIMIT))
                .determinize_size_limit(Some(DFA_LIMIT)),
        )
        .build_from_nfa(nfa)
        .ok()?;
    let start = dfa
        .start_state(&start::Config::new().anchored(Anchored::No))
        .ok()?;
    // Valid UTF-8 as an automaton (RFC 3629): where a text may stop, and what bytes follow.
    #[derive(Clone, Copy, PartialEq, Eq, Hash)]
    enum Utf8 {
        Start,
        Cont(u8),
        E0,
        Ed,
        F0,
        F4,
    }
    fn next(u: Utf8, b: u8) -> Option<Utf8> {
        use Utf8::*;
        match (u, b) {
            (Start, 0x00..=0x7f) => Some(Start),
            (Start, 0xc2..=0xdf) => Some(Cont(1)),
            (Start, 0xe0) => Some(E0),
            (Start, 0xe1..=0xec | 0xee..=0xef) => Some(Cont(2)),
            (Start, 0xed) => Some(Ed),
            (Start, 0xf0) => Some(F0),
            (Start, 0xf1..=0xf3) => Some(Cont(3)),
            (Start, 0xf4) => Some(F4),
            (E0, 0xa0..=0xbf) | (Ed, 0x80..=0x9f) => Some(Cont(1)),
            (F0, 0x90..=0xbf) | (F4, 0x80..=0x8f) => Some(Cont(2)),
            (Cont(n), 0x80..=0xbf) => Some(if n == 1 { Start } else { Cont(n - 1) }),
            _ => None,
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([(start, Utf8::Start)]);
    seen.insert((start, Utf8::Start));
    while let Some((state, utf8)) = queue.pop_front() {
        // A match already happened: every longer text holds it too.
        if dfa.is_match_state(state) {
            continue;
        }
        if dfa.is_dead_state(state) {
            return None;
        }
        if utf8 == Utf8::Start && !dfa.is_match_state(dfa.next_eoi_state(state)) {
            // The text read so far, ending here, holds no match.
            return None;
        }
        for b in 0..=255u8 {
            if b == b'\n' && judged == Judged::Lines {
                continue;
            }
            let Some(u) = next(utf8, b) else { continue };
            let to = (dfa.next_state(state, b), u);
            if seen.insert(to) {
                queue.push_back(to);
            }
        }
    }
    Some(every)
}

/// Whether a pattern can only match text holding a line break (a literal `\n` in it).
fn needs_line_break(pattern: &str) -> bool {
    use regex_syntax::hir::{Hir, HirKind};
    fn walk(h: &Hir) -> bool {
        match h.kind() {
            HirKind::Literal(lit) => lit.0.contains(&b'\n'),
            HirKind::Concat(parts) => parts.iter().any(walk),
            // An alternative without a line break can still match.
            HirKind::Alternation(parts) => parts.iter().all(walk),
            HirKind::Repetition(r) => r.min > 0 && walk(&r.sub),
            HirKind::Capture(c) => walk(&c.sub),
            HirKind::Class(class) => match class {
                regex_syntax::hir::Class::Unicode(u) => u
                    .ranges()
                    .iter()
                    .all(|r| r.start() == '\n' && r.end() == '\n'),
                regex_syntax::hir::Class::Bytes(b) => b
                    .ranges()
                    .iter()
                    .all(|r| r.start() == b'\n' && r.end() == b'\n'),
            },
            HirKind::Empty | HirKind::Look(_) => false,
        }
    }
    regex_syntax::parse(pattern).is_ok_and(|h| walk(&h))
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

/// A YAML scalar taken as text (`3`, `true` and `abc` are all fine as values to compare with).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ScalarString(pub String);

impl schemars::JsonSchema for ScalarString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "number", "boolean"]})
    }
}

impl<'de> serde::Deserialize<'de> for ScalarString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Serializes a typed duration as humantime text (`5m 30s`) in plans and reports.
/// Serializes an optional `Duration` as text.
pub fn opt_duration_text<S: serde::Serializer>(
    d: &Option<Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => duration_text(d, s),
        None => s.serialize_none(),
    }
}

pub fn duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// Why `selector` is not a Kubernetes label selector, or `None` when it is one.
pub fn selector_problem(selector: &str) -> Option<String> {
    if selector.trim().is_empty() {
        return Some("it is empty".into());
    }
    for requirement in split_requirements(selector) {
        let r = requirement.trim();
        if r.is_empty() {
            return Some("it has an empty requirement between commas".into());
        }
        let (key, values) = if let Some(key) = r.strip_prefix('!') {
            (key.trim(), vec![])
        } else if let Some((k, v)) = r.split_once("!=").or_else(|| r.split_once("==")) {
            (k.trim(), vec![v.trim()])
        } else if let Some((k, v)) = r.split_once('=') {
            (k.trim(), vec![v.trim()])
        } else if let Some((k, set)) = set_requirement(r) {
            (k, set)
        } else {
            (r, vec![])
        };
        if let Some(why) = label_key_problem(key) {
            return Some(why);
        }
        for v in values {
            if let Some(why) = label_value_problem(v) {
                return Some(why);
            }
        }
    }
    None
}

/// Splits at commas outside parentheses (`a in (x,y),b=c`).
fn split_requirements(selector: &str) -> Vec<&str> {
    let mut out = vec![];
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&selector[start..]);
    out
}

/// `key in (a,b)` / `key notin (a,b)`.
fn set_requirement(r: &str) -> Option<(&str, Vec<&str>)> {
    let open = r.find('(')?;
    let inner = r[open + 1..].strip_suffix(')')?;
    let head = r[..open].trim();
    let key = head
        .strip_suffix(" notin")
        .or_else(|| head.strip_suffix(" in"))?
        .trim();
    Some((key, inner.split(',').map(str::trim).collect()))
}

fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if !is_label_name(name) {
        return Some(format!(
            "`{key}` is not a label key: up to 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
        ));
    }
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part.len() <= 63
                    && part
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !ok {
            return Some(format!(
                "`{p}` is not a DNS subdomain prefix of a label key"
            ));
        }
    }
    None
}

fn label_value_problem(value: &str) -> Option<String> {
    (!value.is_empty() && !is_label_name(value)).then(|| {
        format!(
            "`{value}` is not a label value: up to 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
        )
    })
}

/// A number that is one: `.nan` and `.inf` are refused where they are read, with the key's
/// path (JSON, which the variables pass through, cannot hold them: a limit would silently turn
/// into none).
pub fn finite<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = <f64 as serde::Deserialize>::deserialize(d)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!("{v} is not a number")))
    }
}

/// [`finite`], when the key may be left out.
pub fn finite_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match <Option<f64> as serde::Deserialize>::deserialize(d)? {
        Some(v) if !v.is_finite() => Err(serde::de::Error::custom(format!("{v} is not a number"))),
        v => Ok(v),
    }
}

/// A regular expression checked at validation (valid, bounded, able to tell something apart)
/// and compiled for matching when a step first uses it: a scenario with a thousand Unicode
/// patterns holds their text, not a thousand automata. Clones share the compiled form.
#[derive(Clone)]
pub struct Pattern(std::sync::Arc<PatternInner>);

struct PatternInner {
    text: String,
    compiled: std::sync::OnceLock<regex::Regex>,
}

impl Pattern {
    /// A pattern validation has checked (its syntax parsed, its NFA built within bounds).
    fn checked(text: &str) -> Self {
        Pattern(std::sync::Arc::new(PatternInner {
            text: text.to_string(),
            compiled: std::sync::OnceLock::new(),
        }))
    }

    /// A pattern from code (tests, built-in patterns): compiled at once.
    pub fn new(text: &str) -> Result<Self, regex::Error> {
        let regex = regex::Regex::new(text)?;
        let p = Self::checked(text);
        let _ = p.0.compiled.set(regex);
        Ok(p)
    }

    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The compiled form. Validation parsed the same text with the same syntax and bounded
    /// its NFA, so only the size limit could refuse it here; none is set, the bound having
    /// been applied where the scenario was judged.
    pub fn regex(&self) -> &regex::Regex {
        self.0.compiled.get_or_init(|| {
            regex::RegexBuilder::new(&self.0.text)
                .size_limit(usize::MAX)
                .dfa_size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .expect("a pattern that passed validation compiles")
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex().is_match(text)
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}/", self.0.text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure): a pattern is refused when it matches every text it can be given, not
    // when it can merely match the empty one; the answer comes from the pattern's automaton.
    #[test]
    fn a_pattern_is_vacuous_when_every_text_matches_not_when_the_empty_one_does() {
        let judge = |p: &str, j: Judged| {
            let nfa = regex_automata::nfa::thompson::NFA::new(p).unwrap();
            matches_everything(&nfa, p, j)
        };
        for everything in [
            ".|^$",
            "x*",
            "^",
            "$|a",
            r"\w|\W|^$",
            "(ERROR)?",
            r"(?s).|^$",
        ] {
            assert!(judge(everything, Judged::Lines).is_some(), "{everything}");
        }
        for telling in [
            r"^\s*$|x",
            r"[\x00-\x7F]|^$",
            "(?s).",
            "^$",
            r"\w+ 7 (ERROR|WARN)",
            r"\bx",
            "[^é]|^$",
        ] {
            assert!(judge(telling, Judged::Lines).is_none(), "{telling}");
        }
        // Output may hold line breaks; a line never does.
        assert!(judge(r"[^\n]|^$", Judged::Lines).is_some());
        assert!(judge(r"[^\n]|^$", Judged::Text).is_none());
    }

    // Layer 1 (pure).
    #[test]
    fn label_selectors_follow_the_kubernetes_grammar() {
        for good in [
            "app=cassandra",
            "app=x,tier=db",
            "app.kubernetes.io/name=galera",
            "app!=x",
            "app==x",
            "app",
            "!canary",
            "env in (prod, qa),tier notin (web)",
            "app=",
        ] {
            assert_eq!(selector_problem(good), None, "{good}");
        }
        for bad in [
            "app=mc foo",
            "app=x,",
            "",
            "a b",
            "-app=x",
            "app=x y,tier=db",
            "Example.com/app=x",
            "app=-x",
            &format!("app={}", "x".repeat(64)),
        ] {
            assert!(selector_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_pattern_that_needs_a_line_break_is_found() {
        for needs in [r"a\nb", "a\nb", r"(x|y)\n", r"[\n]", r"\x0A", r"(a\n|b\n)"] {
            assert!(needs_line_break(needs), "{needs}");
        }
        for fine in [
            r"a\s+b",
            r"(a|\n)",
            r"a(\n)?b",
            r"[\n ]",
            r"ERROR",
            r"\[ERROR\]",
        ] {
            assert!(!needs_line_break(fine), "{fine}");
        }
    }
}
