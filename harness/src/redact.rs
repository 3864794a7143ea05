//! Masks secret values (passwords, tokens) in any text bound for logs or reports.

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

pub const MASK: &str = "******";

impl Redactor {
    pub fn new(mut secrets: Vec<String>) -> Self {
        // Short values would mask ordinary words; longest first so overlaps mask fully.
        secrets.retain(|s| s.len() >= 3);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
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
    }
}
