//! Any bytes as a run summary given to `--rerun-failed`: it must say what it cannot read, never
//! panic, never hang, and never repeat the text it could not understand.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Err(message) = harness::cli::rerun::from_text(text, "fuzz.json")
    {
        // A long token of the input must not come back in the message (a planted secret).
        for token in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            if token.len() >= 24 && token.starts_with("SECRET") {
                assert!(!message.contains(token), "{message}");
            }
        }
    }
});
