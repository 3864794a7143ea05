//! Regular expressions a scenario gives (log and output checks): judged at validation (valid,
//! bounded in compiled size, able to tell something apart) and compiled when a step first
//! uses them.

use super::{Checker, MAX_SCENARIO_PATTERN_BYTES};

impl Checker<'_> {
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
