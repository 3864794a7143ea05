//! Kubernetes label selectors as the API server accepts them, checked before a run.

use super::Checker;

impl Checker<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
