//! Any bytes as a scenario file: loading, validating (with the variable renderer) and planning
//! must return diagnostics or a plan, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = Path::new("fuzz.yaml");
        if let Ok(loaded) = harness::scenario::load::parse(path, text.to_string()) {
            let (scenario, _) =
                harness::scenario::validate::validate(path, &loaded, &|_| None, "fuzz-000001");
            if let Some(s) = scenario {
                let _ = harness::plan::plan(&s, Default::default()).render_text(true);
            }
        }
    }
});
