//! Masks secret values (passwords, tokens) in any text bound for logs or reports.

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
    /// Every secret at once, longest first where they overlap: one pass over a text whatever
    /// the number of secrets.
    matcher: Option<aho_corasick::AhoCorasick>,
}

pub const MASK: &str = "******";

impl Redactor {
    pub fn new(secrets: Vec<String>) -> Self {
        let mut r = Self {
            secrets,
            matcher: None,
        };
        r.tidy();
        r
    }

    /// Adds values learnt while running (a password read from a Secret).
    pub fn add(&mut self, values: impl IntoIterator<Item = String>) {
        self.secrets.extend(values);
        self.tidy();
    }

    fn tidy(&mut self) {
        // Short values would mask ordinary words. Each line of a multi-line value is a secret
        // too (a log shows one line at a time).
        let lines: Vec<String> = self
            .secrets
            .iter()
            .filter(|s| s.contains('\n'))
            .flat_map(|s| {
                s.lines()
                    .map(str::trim)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        self.secrets.extend(lines);
        self.secrets.retain(|s| s.trim().len() >= 3);
        self.secrets
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.secrets.dedup();
        self.matcher = (!self.secrets.is_empty())
            .then(|| {
                aho_corasick::AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&self.secrets)
                    .ok()
            })
            .flatten();
    }

    /// Masks every string inside a JSON value, keys included, before it is serialised: a
    /// secret holding `"`, `\`, a tab or an apostrophe no longer matches once JSON or YAML has
    /// escaped it.
    pub fn redact_value(&self, value: &mut serde_json::Value) {
        if self.matcher.is_none() {
            return;
        }
        match value {
            serde_json::Value::String(s) => {
                let masked = self.redact(s);
                if masked != *s {
                    *s = masked;
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    self.redact_value(v);
                }
            }
            serde_json::Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.redact_value(&mut v);
                    map.insert(self.redact(&key), v);
                }
            }
            _ => {}
        }
    }

    /// Whether there is anything to mask.
    pub fn is_active(&self) -> bool {
        self.matcher.is_some()
    }

    pub fn redact(&self, text: &str) -> String {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                let mut out = String::with_capacity(text.len());
                m.replace_all_with(text, &mut out, |_, _, dst| {
                    dst.push_str(MASK);
                    true
                });
                out
            }
            _ => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn masks_every_occurrence_and_prefers_longest() {
        let r = Redactor::new(vec!["pass".into(), "password123".into(), "x".into()]);
        assert_eq!(r.redact("a password123 b pass x"), "a ****** b ****** x");
        let mut r = Redactor::new(vec!["abc".into(), "zz-top".into(), "abc".into()]);
        r.add(["line-one\nline-two".to_string()]);
        assert_eq!(r.redact("abc zz-top line-two"), "****** ****** ******");
    }
}
