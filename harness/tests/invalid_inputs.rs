//! Bad input corpus (layer 1: pure, runs the real binary): one test per file under
//! `fixtures/invalid/`. Each `NAME.yaml` has a `NAME.expect` listing what the error must say:
//! `path:` (the key path), `line:` (as `FILE:LINE:`), and `contains:` lines. Every case must
//! exit with code 2, name the file, and never panic. A huge file is generated here rather than
//! committed.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/invalid")
}

fn validate(file: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("validate")
        .arg(file)
        .output()
        .expect("run harness");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_case(file: &Path, expect: &str) -> Result<(), Failed> {
    let (code, stderr) = validate(file);
    let shown = file.display().to_string();
    let mut problems = vec![];
    if code != Some(2) {
        problems.push(format!("exit code {code:?}, expected 2"));
    }
    if stderr.contains("panicked") {
        problems.push("the harness panicked".to_string());
    }
    if !stderr.contains(&shown) {
        problems.push(format!("the message does not name the file {shown}"));
    }
    for line in expect.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("bad expect line `{line}`"))?;
        let wanted = match key {
            "path" => format!("at `{value}`"),
            "line" => format!("{shown}:{value}:"),
            "contains" => value.to_string(),
            other => return Err(format!("unknown expect key `{other}`").into()),
        };
        if !stderr.contains(&wanted) {
            problems.push(format!("missing `{wanted}`"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n--- stderr:\n{stderr}", problems.join("\n")).into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![];
    let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("fixtures/invalid")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let expect_path = path.with_extension("expect");
        trials.push(Trial::test(format!("invalid::{name}"), move || {
            let expect = std::fs::read_to_string(&expect_path)
                .map_err(|e| format!("{}: {e}", expect_path.display()))?;
            check_case(&path, &expect)
        }));
    }
    trials.push(Trial::test("invalid::huge-file", || {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("huge.yaml");
        let mut text = String::from("name: huge\nsteps:\n");
        while text.len() <= 2 * 1024 * 1024 {
            text.push_str("  - sleep: 1s\n");
        }
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        check_case(&path, "contains: larger than the limit\n")
    }));
    trials.push(Trial::test("invalid::corpus-has-at-least-25-cases", || {
        let count = std::fs::read_dir(corpus())
            .map_err(|e| e.to_string())?
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
            })
            .count();
        if count >= 25 {
            Ok(())
        } else {
            Err(format!("only {count} cases").into())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}
