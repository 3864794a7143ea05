//! How validation time grows with the size of hostile-but-bounded inputs (the shapes of the
//! round-3 input trial): for each shape, a file of size n and one of size 4n are validated,
//! interleaved, 5 times each; min/median/max are printed, and the run fails loudly when the
//! larger one takes more than 8 times the smaller (linear growth is 4 times; quadratic, 16).
//! It also prints the largest resident memory the process reached.
//!
//! Run: `cargo bench --bench validation_scaling` (release build).

use harness::scenario::validate::validate_file;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Each shape: a name and a writer of the scenario at size `n` into `dir` (returns its path).
type Shape = (&'static str, fn(&Path, usize) -> PathBuf);

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a scenario");
    path
}

/// Steps each with a distinct small Unicode pattern.
fn distinct_patterns(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("name: patterns\nsteps:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - exec: {{ pod: a, command: [x], expect: {{ regex: ['\\w+ {i} \\d+ é'] }} }}\n"
        ));
    }
    write(dir, "patterns.yaml", &text)
}

/// `logs` steps each with a small distinct Unicode pattern (the round-4 trial's shape: a
/// thousand of them at 4n).
fn logs_patterns(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("name: logs\nsteps:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - logs: {{ selector: app=a, regex: ['\\w+ {i} (ERROR|WARN)'] }}\n"
        ));
    }
    write(dir, "logs.yaml", &text)
}

/// Steps all with the same pattern.
fn same_pattern(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("name: patterns\nsteps:\n");
    for _ in 0..n {
        text.push_str("  - exec: { pod: a, command: [x], expect: { regex: ['\\w+ \\d+ é'] } }\n");
    }
    write(dir, "same.yaml", &text)
}

/// One inline manifest with `n` unknown `${…}` references.
fn undefined_variables(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from(
        "name: vars\nsteps:\n  - apply:\n      inline: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: { name: c }\n        data:\n",
    );
    for i in 0..n {
        text.push_str(&format!("          k{i}: \"${{nope{i}}}\"\n"));
    }
    write(dir, "vars.yaml", &text)
}

/// `n` steps applying one manifest file of 64 KiB.
fn one_file_applied_often(dir: &Path, n: usize) -> PathBuf {
    let mut manifest =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: { name: big }\ndata:\n");
    let mut i = 0;
    while manifest.len() < 64 * 1024 {
        manifest.push_str(&format!("  key{i}: \"{}\"\n", "x".repeat(60)));
        i += 1;
    }
    write(dir, "big.yaml", &manifest);
    let mut text = String::from("name: applies\nsteps:\n");
    for _ in 0..n {
        text.push_str("  - apply: { file: big.yaml }\n");
    }
    write(dir, "applies.yaml", &text)
}

/// `n` steps each with a misspelt key (every shape problem is reported).
fn shape_problems(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("name: shapes\nsteps:\n");
    for _ in 0..n {
        text.push_str("  - slep: 1s\n");
    }
    write(dir, "shapes.yaml", &text)
}

/// One large inline manifest with `n` keys (no variables).
fn large_manifest(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from(
        "name: manifest\nsteps:\n  - apply:\n      inline: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: { name: c }\n        data:\n",
    );
    for i in 0..n {
        text.push_str(&format!("          k{i}: \"value {i}\"\n"));
    }
    write(dir, "manifest.yaml", &text)
}

fn time(path: &Path) -> Duration {
    let started = Instant::now();
    let _ = validate_file(path, &|_| None, "bench-000000");
    started.elapsed()
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn rss_peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let shapes: [(Shape, usize); 7] = [
        (("distinct patterns (steps)", distinct_patterns), 250),
        (
            ("logs, distinct Unicode patterns (steps)", logs_patterns),
            250,
        ),
        (("one pattern (steps)", same_pattern), 250),
        (("unknown ${} (references)", undefined_variables), 8_000),
        (
            ("one 64 KiB file applied (steps)", one_file_applied_often),
            60,
        ),
        (("shape problems (steps)", shape_problems), 250),
        (("inline manifest (keys)", large_manifest), 5_000),
    ];
    let mut superlinear = vec![];
    println!(
        "{:<36} {:>7} {:>30} {:>30} {:>6}",
        "shape", "n", "n: min/median/max", "4n: min/median/max", "ratio"
    );
    for ((name, make), n) in shapes {
        let small_dir = tempfile::tempdir().expect("tempdir");
        let large_dir = tempfile::tempdir().expect("tempdir");
        let small = make(small_dir.path(), n);
        let large = make(large_dir.path(), 4 * n);
        // Warm-up, then interleaved runs so drift hits both sides alike.
        time(&small);
        time(&large);
        let (mut a, mut b) = (vec![], vec![]);
        for _ in 0..5 {
            a.push(time(&small));
            b.push(time(&large));
        }
        let (a, b) = (stats(a), stats(b));
        let ratio = b.1.as_secs_f64() / a.1.as_secs_f64().max(1e-6);
        println!(
            "{name:<36} {n:>7} {:>30} {:>30} {ratio:>6.1}",
            format!("{:.1?}/{:.1?}/{:.1?}", a.0, a.1, a.2),
            format!("{:.1?}/{:.1?}/{:.1?}", b.0, b.1, b.2),
        );
        // Tiny times are noise: only a ratio over measurable work counts.
        if ratio > 8.0 && b.1 > Duration::from_millis(20) {
            superlinear.push(format!("{name}: {ratio:.1}x for 4x the input"));
        }
    }
    println!("peak resident memory: {} MiB", rss_peak_kib() / 1024);
    if !superlinear.is_empty() {
        eprintln!(
            "validation grows faster than linearly:\n  {}",
            superlinear.join("\n  ")
        );
        std::process::exit(1);
    }
}
