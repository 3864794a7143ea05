//! Bad input corpus (layer 1: pure, runs the real binary): one test per file under
//! `fixtures/invalid/`. Each `NAME.yaml` has a `NAME.expect` listing what the error must say:
//! `path:` (the key path), `line:` (as `FILE:LINE:`), `contains:` lines (matched against the
//! messages only, never the file name), `absent:` lines (text that must not appear anywhere,
//! such as a secret), `problems:` (how many the summary line counts), and `exit:` (default 2;
//! `exit: 0` for tricky inputs that are valid).
//! Every case must finish (a 5 s guard against hangs), name the file, never panic and never
//! show a Rust type name. Generated cases (a huge file, a FIFO, a device) are built here.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/invalid")
}

/// Runs `harness validate FILE`; `None` for the exit code when it did not finish within 5 s
/// (a hang guard, not a speed target: the README's benchmark numbers are measured apart).
fn validate(file: &Path) -> (Option<i32>, String) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("validate")
        .arg(file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run harness");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > std::time::Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    (status.and_then(|s| s.code()), stderr)
}

/// Words that only a Rust type could have put into a message.
const TYPE_NAMES: [&str; 8] = [
    "struct ", "enum ", "i64", "u32", "u16", "Raw", "Spec", "Option<",
];

fn check_case(file: &Path, expect: &str) -> Result<(), Failed> {
    let (code, stderr) = validate(file);
    let shown = file.display().to_string();
    let mut problems = vec![];
    let wanted_exit = expect
        .lines()
        .find_map(|l| l.strip_prefix("exit: "))
        .map_or(Ok(2), str::parse::<i32>)
        .map_err(|e| format!("bad exit line: {e}"))?;
    if code != Some(wanted_exit) {
        problems.push(format!(
            "exit code {code:?}, expected {wanted_exit} (None: did not finish in 5 s)"
        ));
    }
    // The messages alone: each line after the file name (and position) it starts with.
    let messages: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(shown.as_str()))
        .collect();
    for word in TYPE_NAMES {
        if messages.iter().any(|m| m.contains(word)) {
            problems.push(format!("a message shows the internal word `{word}`"));
        }
    }
    if stderr.contains("panicked") {
        problems.push("the harness panicked".to_string());
    }
    if wanted_exit != 0 && !stderr.contains(&shown) {
        problems.push(format!("the message does not name the file {shown}"));
    }
    for line in expect.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("bad expect line `{line}`"))?;
        match key {
            "path" => {
                let wanted = format!("at `{value}`");
                if !messages.iter().any(|m| m.contains(&wanted)) {
                    problems.push(format!("no message {wanted}"));
                }
            }
            "line" => {
                let wanted = format!("{shown}:{value}:");
                if !stderr.lines().any(|l| l.starts_with(&wanted)) {
                    problems.push(format!("no message at line {value}"));
                }
            }
            "contains" => {
                let body = |m: &&str| {
                    m.split_once(": error")
                        .map_or(*m, |(_, rest)| rest)
                        .contains(value)
                };
                if !messages.iter().any(body) {
                    problems.push(format!("no message says `{value}`"));
                }
            }
            "absent" => {
                if stderr.contains(value) {
                    problems.push(format!("`{value}` appears in the output"));
                }
            }
            "problems" => {
                let wanted = format!("{value} problem(s)");
                if !stderr.contains(&wanted) {
                    problems.push(format!("the summary does not count {wanted}"));
                }
            }
            "exit" => {}
            other => return Err(format!("unknown expect key `{other}`").into()),
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
    trials.push(Trial::test("invalid::fifo", || {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("pipe.yaml");
        let status = Command::new("mkfifo")
            .arg(&path)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err("mkfifo failed".into());
        }
        check_case(&path, "contains: named pipe\n")
    }));
    trials.push(Trial::test("invalid::apply-from-dev-zero", || {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("zero.yaml");
        std::fs::write(
            &path,
            "name: zero\nsteps:\n  - apply: { file: /dev/zero }\n",
        )
        .map_err(|e| e.to_string())?;
        check_case(
            &path,
            "path: steps[0].apply.file\nline: 3\ncontains: character device\n",
        )
    }));
    trials.push(Trial::test("invalid::corpus-has-at-least-60-cases", || {
        let count = std::fs::read_dir(corpus())
            .map_err(|e| e.to_string())?
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
            })
            .count();
        if count >= 60 {
            Ok(())
        } else {
            Err(format!("only {count} cases").into())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}
