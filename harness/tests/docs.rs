//! The documentation that comes from the code stays current (layer 1: pure). The README's table
//! of verifiers is made from the registry; a verifier added without its line fails here.
//! `HARNESS_BLESS=1 cargo test --test docs` rewrites the table.

use std::path::Path;

const START: &str = "<!-- verifiers: generated from the registry (verify/registry.rs); a test keeps it current -->\n";
const END: &str = "<!-- end of verifiers -->";

#[test]
fn the_readme_lists_every_registered_verifier_as_the_registry_describes_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(START)
        .expect("the README's verifier table markers")
        + START.len();
    let end = start + readme[start..].find(END).expect("the end marker");
    let want = harness::verify::markdown_table();
    if std::env::var_os("HARNESS_BLESS").is_some() {
        let text = format!("{}{want}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, text).unwrap();
        return;
    }
    assert_eq!(
        &readme[start..end],
        want,
        "the README's verifier table is not what the registry says; run HARNESS_BLESS=1 cargo test -p harness --test docs"
    );
    for name in harness::verify::NAMES {
        assert!(
            readme[start..end].contains(&format!("| `{name}` |")),
            "{name} is not documented"
        );
    }
}

#[test]
fn harness_verify_help_lists_every_registered_verifier() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["verify", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for name in harness::verify::NAMES {
        let listed = help.lines().any(|l| l.trim() == *name);
        assert!(listed, "{name} missing:\n{help}");
    }
}
