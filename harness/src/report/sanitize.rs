//! Making arbitrary output (pod logs, tool output) safe for XML 1.0 reports: ANSI escape
//! sequences and characters XML 1.0 forbids are removed, and long text is cut to a bound,
//! keeping its head and tail.

/// Most characters of output kept per test case in JUnit (Jenkins keeps 50,000 of a failing
/// case's output; GitLab refuses files over 30 MB).
pub const MAX_OUTPUT_CHARS: usize = 48_000;

pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            // CSI: ESC [ params... final byte in @..~
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: ESC ] ... BEL or ESC \
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.peek() == Some(&'\\')) {
                        if c == '\u{1b}' {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

/// Characters allowed by XML 1.0: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

pub fn truncate_middle(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    if count <= max_chars {
        return text.to_string();
    }
    let keep = max_chars / 2;
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(count - keep).collect();
    format!(
        "{head}\n[... {} characters cut; the full output is in the report directory ...]\n{tail}",
        count - 2 * keep
    )
}

/// ANSI stripped, invalid characters dropped, cut to `max_chars`.
pub fn for_xml(text: &str, max_chars: usize) -> String {
    let clean: String = strip_ansi(text)
        .chars()
        .filter(|c| is_xml_char(*c))
        .collect();
    truncate_middle(&clean, max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure).
    #[test]
    fn strips_ansi_and_xml_invalid_characters() {
        let raw = "\u{1b}[31mred\u{1b}[0m ok\u{0}\u{1}\u{8}\u{1b}]0;title\u{7} end\u{FFFE}";
        assert_eq!(for_xml(raw, 100), "red ok end");
    }

    #[test]
    fn truncates_keeping_head_and_tail() {
        let text = format!("{}{}", "a".repeat(100), "b".repeat(100));
        let out = truncate_middle(&text, 20);
        assert!(
            out.starts_with("aaaaaaaaaa\n[... 180 characters cut"),
            "{out}"
        );
        assert!(out.ends_with("bbbbbbbbbb"));
    }
}
