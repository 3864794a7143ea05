//! Any bytes as a shard folder given to `harness report merge`: a summary.json (the bytes up
//! to the first NUL) and one evidence file (the rest), which the summary may name or not. The
//! merge must refuse or write, never panic or hang, and never read outside the shard's folder
//! (a planted file beside the shard must not reach the merged reports).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (summary, evidence) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(root) = tempfile::tempdir() else { return };
    let shard = root.path().join("shard");
    let _ = std::fs::create_dir_all(shard.join("evidence"));
    let _ = std::fs::write(shard.join("summary.json"), summary);
    let _ = std::fs::write(shard.join("evidence").join("e.txt"), evidence);
    let _ = std::fs::write(root.path().join("planted.txt"), "PLANTED-OUTSIDE-THE-SHARD");
    let out = root.path().join("merged");
    let _ = harness::cli::merge::merge(&[shard], &out);
    for entry in walk(&out) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains("PLANTED-OUTSIDE-THE-SHARD"), "{}", entry.display());
    }
});

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
