//! Any bytes as a scenario file: loading and validating must return diagnostics, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = Path::new("fuzz.yaml");
        if let Ok(loaded) = harness::scenario::load::parse(path, text.to_string()) {
            let _ = harness::scenario::validate::validate(path, &loaded, &|_| None);
        }
    }
});
