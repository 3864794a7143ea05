//! `harness report merge RUN…`: the shards of one logical run (`--partition K/N` jobs of a CI
//! matrix) joined into one run: one `summary.json` listing its shards, one `junit.xml`, one
//! `index.html`, and the shards' evidence folders, all as a single run would have written
//! them. Shards that hold one scenario twice, that belong to different partitionings, or that
//! leave a slice missing are named and nothing is written (exit 2).
//!
//! A shard is an input from another machine (CI feeds whatever its jobs uploaded): evidence is
//! read only from regular files inside the shard's own run folder (resolved, so no `..` or
//! symlink leads out), bounded in size and count, each read once; the evidence folder is
//! copied without following symlinks; the output may not lie inside an input. Whatever is
//! skipped is said, never read.

use crate::report::Reporter;
use crate::report::model::{FORMAT, Run};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The largest evidence file read back from a shard.
pub const MAX_EVIDENCE_FILE: u64 = 16 * 1024 * 1024;
/// What all evidence read back from the shards may add up to.
pub const MAX_EVIDENCE_TOTAL: u64 = 256 * 1024 * 1024;
/// The most files an evidence folder copy takes from all shards together.
pub const MAX_EVIDENCE_FILES: usize = 100_000;

/// A shard as given: a run folder or its `summary.json`.
fn summary_of(given: &Path) -> PathBuf {
    if given.is_dir() {
        given.join("summary.json")
    } else {
        given.to_path_buf()
    }
}

/// Reads a run's summary, typed; never repeats what it could not understand.
pub fn read_run(path: &Path) -> Result<Run, String> {
    let shown = path.display();
    let text =
        crate::check::read_text(path, 64 * 1024 * 1024).map_err(|e| format!("{shown}: {e}"))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let run: Run = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        format!(
            "{shown} is not a run summary (at `{}`, line {})",
            super::rerun::shown_path(e.path()),
            e.inner().line()
        )
    })?;
    if run.format != FORMAT {
        return Err(format!(
            "{shown} is in summary format {}, which this harness does not read (it reads {FORMAT})",
            run.format
        ));
    }
    Ok(run)
}

/// Joins shards into one run named `run_id`; every problem that makes them not one run.
pub fn join(run_id: &str, shards: &[Run]) -> Result<Run, Vec<String>> {
    let mut problems = vec![];
    if shards.is_empty() {
        return Err(vec!["no shard given".into()]);
    }
    // One run given twice (by its folder and by its summary) is not two shards.
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for s in shards {
        *ids.entry(s.run_id.as_str()).or_default() += 1;
    }
    let mut twice: Vec<(&str, usize)> = ids.into_iter().filter(|(_, n)| *n > 1).collect();
    twice.sort();
    for (id, n) in twice {
        problems.push(format!(
            "run {} is given {n} times: each shard once",
            crate::diag::visible(id)
        ));
    }
    // A partition a shard claims must be a slice.
    for s in shards {
        if let Some(text) = s.partition.as_deref()
            && let Err(e) = text.parse::<super::partition::Partition>()
        {
            problems.push(format!("run {}: {e}", crate::diag::visible(&s.run_id)));
        }
    }
    // Partitioned shards: one N, each K once, none missing.
    let parts: Vec<Option<super::partition::Partition>> = shards
        .iter()
        .map(|s| s.partition.as_deref().and_then(|p| p.parse().ok()))
        .collect();
    if parts.iter().any(Option::is_some) {
        let ns: std::collections::BTreeSet<u32> = parts.iter().flatten().map(|p| p.n).collect();
        if ns.len() > 1 || parts.iter().any(Option::is_none) {
            problems.push(format!(
                "the shards come from different partitionings: {}",
                shards
                    .iter()
                    .map(|s| format!(
                        "{} ({})",
                        crate::diag::visible(&s.run_id),
                        crate::diag::visible(s.partition.as_deref().unwrap_or("not partitioned"))
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if let Some(n) = ns.first() {
            let mut by_slice: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
            for (s, p) in shards.iter().zip(&parts) {
                if let Some(p) = p {
                    by_slice.entry(p.k).or_default().push(s.run_id.as_str());
                }
            }
            for k in 1..=*n {
                let holders = by_slice.get(&k).cloned().unwrap_or_default();
                match holders.len() {
                    0 => problems.push(format!("slice {k}/{n} is missing")),
                    1 => {}
                    _ => problems.push(format!(
                        "slice {k}/{n} is given {} times (runs {})",
                        holders.len(),
                        crate::diag::visible(&holders.join(", "))
                    )),
                }
            }
        }
    }
    // One scenario in one shard only.
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for shard in shards {
        for s in &shard.scenarios {
            if let Some(first) = seen.insert(&s.name, &shard.run_id) {
                problems.push(format!(
                    "scenario `{}` is in two shards: {} and {}",
                    crate::diag::visible(&s.name),
                    crate::diag::visible(first),
                    crate::diag::visible(&shard.run_id)
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // The cluster is said by a shard that ran something (an empty slice ran on none).
    let first = shards
        .iter()
        .find(|s| !s.scenarios.is_empty())
        .unwrap_or(&shards[0]);
    // In the order first seen, each once (linear, whatever the shards list).
    let mut selection: Vec<String> = vec![];
    let mut tags: Vec<String> = vec![];
    let (mut seen_paths, mut seen_tags) = (HashSet::new(), HashSet::new());
    for s in shards {
        for p in &s.selection {
            if seen_paths.insert(p.as_str()) {
                selection.push(p.clone());
            }
        }
        for t in &s.tags {
            if seen_tags.insert(t.as_str()) {
                tags.push(t.clone());
            }
        }
    }
    let started = shards
        .iter()
        .map(|s| s.started_at.clone())
        .min()
        .unwrap_or_default();
    let finished = shards
        .iter()
        .map(|s| s.finished_at.clone())
        .collect::<Option<Vec<_>>>()
        .and_then(|f| f.into_iter().max());
    let mut merged = Run {
        format: FORMAT,
        harness_version: first.harness_version.clone(),
        run_id: run_id.to_string(),
        provider: first.provider.clone(),
        cluster_version: first.cluster_version.clone(),
        reran: None,
        selection,
        tags,
        partition: None,
        shards: shards.iter().map(|s| s.run_id.clone()).collect(),
        started_at: started,
        finished_at: finished,
        // The shards ran side by side: the logical run took as long as its longest shard.
        duration_secs: shards.iter().map(|s| s.duration_secs).fold(0.0, f64::max),
        totals: Default::default(),
        scenarios: shards.iter().flat_map(|s| s.scenarios.clone()).collect(),
    };
    merged.recount();
    Ok(merged)
}

/// What reading the shards' files left out, said once at the end (never read).
#[derive(Default)]
struct Skipped {
    lines: Vec<String>,
    count: usize,
}

impl Skipped {
    fn add(&mut self, line: String) {
        self.count += 1;
        if self.lines.len() < 10 {
            self.lines.push(line);
        }
    }

    fn report(&self) {
        if self.count == 0 {
            return;
        }
        say!(
            "warning: {} file(s) of the shards were left out:",
            self.count
        );
        for l in &self.lines {
            say!("  {l}");
        }
        if self.count > self.lines.len() {
            say!("  ... and {} more", self.count - self.lines.len());
        }
    }
}

/// `file` (as a summary names it) inside the run folder `root` (canonical): a relative path
/// without `..`, resolving inside `root`, to a regular file of at most [`MAX_EVIDENCE_FILE`].
fn evidence_path(root: &Path, file: &str) -> Result<PathBuf, String> {
    let relative = Path::new(file);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err("not a plain path inside the shard's run folder".into());
    }
    let resolved = root
        .join(relative)
        .canonicalize()
        .map_err(|e| format!("cannot be opened ({e})"))?;
    if !resolved.starts_with(root) {
        return Err("leads outside the shard's run folder".into());
    }
    let meta = std::fs::metadata(&resolved).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > MAX_EVIDENCE_FILE {
        return Err(format!(
            "is {} bytes, over the {MAX_EVIDENCE_FILE}-byte bound",
            meta.len()
        ));
    }
    Ok(resolved)
}

/// Reads at most `limit` bytes of the regular file at `path` (checked again once open).
fn read_regular(path: &Path, limit: u64) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("is not a regular file".into());
    }
    let mut bytes = vec![];
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads each step's evidence back from its shard's files (the summary names them), within
/// the bounds above; each distinct file is read once.
fn reload_evidence(run: &mut Run, shard_dir: &Path, budget: &mut u64, skipped: &mut Skipped) {
    let Ok(root) = shard_dir.canonicalize() else {
        return;
    };
    let mut read: HashMap<PathBuf, Option<std::sync::Arc<str>>> = HashMap::new();
    for scenario in &mut run.scenarios {
        for step in &mut scenario.steps {
            let mut evidence = vec![];
            let mut attached: HashSet<PathBuf> = HashSet::new();
            for file in &step.evidence_files {
                let shown = crate::diag::visible(file);
                let path = match evidence_path(&root, file) {
                    Ok(p) => p,
                    Err(why) => {
                        skipped.add(format!("{}: {shown} {why}", shard_dir.display()));
                        continue;
                    }
                };
                let body = match read.get(&path) {
                    Some(body) => body.clone(),
                    None => {
                        let body = match read_regular(&path, MAX_EVIDENCE_FILE) {
                            Ok(text) => Some(std::sync::Arc::<str>::from(text)),
                            Err(why) => {
                                skipped.add(format!("{}: {shown} {why}", shard_dir.display()));
                                None
                            }
                        };
                        read.insert(path.clone(), body.clone());
                        body
                    }
                };
                let Some(body) = body else { continue };
                // A file named twice is one piece of evidence; every piece counts against
                // the bound, so no name repeated makes the merge hold more.
                if !attached.insert(path.clone()) {
                    continue;
                }
                if body.len() as u64 > *budget {
                    skipped.add(format!(
                        "{}: {shown} is over what the merge reads of all shards ({MAX_EVIDENCE_TOTAL} bytes)",
                        shard_dir.display()
                    ));
                    continue;
                }
                *budget -= body.len() as u64;
                let title = Path::new(file)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                evidence.push(crate::cluster::Evidence::new(
                    crate::cluster::EvidenceKind::Other,
                    title,
                    body.to_string(),
                ));
            }
            step.evidence = evidence;
        }
    }
}

/// Copies the folder `from` into `to`: folders and regular files only (a symlink, a FIFO or
/// a device is left out and said), within the bounds above.
fn copy_dir(
    from: &Path,
    to: &Path,
    budget: &mut (u64, usize),
    skipped: &mut Skipped,
) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        // The entry's own type: a symlink is not followed.
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target, budget, skipped)?;
        } else if kind.is_file() {
            let len = entry.metadata()?.len();
            if len > MAX_EVIDENCE_FILE || len > budget.0 || budget.1 == 0 {
                skipped.add(format!(
                    "{}: {len} bytes, over the evidence bounds",
                    entry.path().display()
                ));
                continue;
            }
            let mut source = std::fs::File::open(entry.path())?.take(MAX_EVIDENCE_FILE);
            let mut sink = std::fs::File::create(&target)?;
            let copied = std::io::copy(&mut source, &mut sink)?;
            budget.0 = budget.0.saturating_sub(copied);
            budget.1 -= 1;
        } else {
            skipped.add(format!(
                "{}: not a regular file or folder (a symlink is not followed)",
                entry.path().display()
            ));
        }
    }
    Ok(())
}

/// The deepest existing ancestor of `path`, resolved, with the rest appended: where `path`
/// will be once created.
fn resolved_ahead(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = vec![];
    let mut at = absolute.as_path();
    loop {
        if let Ok(real) = at.canonicalize() {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                at = parent;
            }
            _ => return absolute,
        }
    }
}

/// `harness report merge`: the merged run's verdict as `run` gives it (0 every scenario passed,
/// 1 one failed or never finished), once written; 2 when the shards are not one run or the
/// reports cannot be written.
pub fn merge(given: &[PathBuf], report_dir: &Path) -> u8 {
    let mut shards = vec![];
    let mut dirs: Vec<PathBuf> = vec![];
    let mut problems = vec![];
    let mut skipped = Skipped::default();
    let mut budget = MAX_EVIDENCE_TOTAL;
    let mut summaries: HashMap<PathBuf, &Path> = HashMap::new();
    let output = resolved_ahead(report_dir);
    for g in given {
        let path = summary_of(g);
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        if let Ok(real) = path.canonicalize()
            && let Some(first) = summaries.insert(real, g)
        {
            problems.push(format!(
                "{} and {} are the same run: give each shard once",
                first.display(),
                g.display()
            ));
            continue;
        }
        if let Ok(real_dir) = dir.canonicalize()
            && output.starts_with(&real_dir)
        {
            problems.push(format!(
                "--report-dir {} lies inside the shard {}: the merge would copy its output into itself; write it elsewhere",
                report_dir.display(),
                dir.display()
            ));
            continue;
        }
        match read_run(&path) {
            Ok(mut run) => {
                reload_evidence(&mut run, &dir, &mut budget, &mut skipped);
                shards.push(run);
                dirs.push(dir);
            }
            Err(e) => problems.push(e),
        }
    }
    let run_id = super::select::new_run_id();
    // Every problem of the set at once: the shards that could be read are judged too.
    let merged = match join(&run_id, &shards) {
        Ok(merged) if problems.is_empty() => Some(merged),
        Ok(_) => None,
        Err(p) => {
            // "No shard given" says nothing new when every shard given was refused.
            let none_readable = shards.is_empty() && !problems.is_empty();
            problems.extend(p.into_iter().filter(|_| !none_readable));
            None
        }
    };
    let Some(merged) = merged else {
        say!("error: the shards cannot be merged into one run:");
        for p in &problems {
            say!("  {p}");
        }
        return super::EXIT_USAGE;
    };
    let out = report_dir.join(&run_id);
    if let Err(e) = std::fs::create_dir_all(&out) {
        say!(
            "error: cannot create the report folder {}: {e}",
            out.display()
        );
        return super::EXIT_USAGE;
    }
    let mut copy_budget = (MAX_EVIDENCE_TOTAL, MAX_EVIDENCE_FILES);
    for dir in &dirs {
        let evidence = dir.join("evidence");
        // The folder itself must be a folder, not a symlink to one.
        let is_folder = std::fs::symlink_metadata(&evidence).is_ok_and(|m| m.is_dir());
        if is_folder
            && let Err(e) = copy_dir(
                &evidence,
                &out.join("evidence"),
                &mut copy_budget,
                &mut skipped,
            )
        {
            say!("error: copying {}: {e}", evidence.display());
            return super::EXIT_USAGE;
        }
    }
    skipped.report();
    let mut reporters: Vec<Box<dyn Reporter>> = vec![
        Box::new(crate::report::json::SummaryReporter::new(
            out.join("summary.json"),
        )),
        Box::new(crate::report::junit::JunitReporter::new(
            out.join("junit.xml"),
        )),
        Box::new(crate::report::html::HtmlReporter::new(
            out.join("index.html"),
        )),
    ];
    let mut failed = false;
    for r in &mut reporters {
        if let Err(e) = r.finish(&merged) {
            say!("error: {e}");
            failed = true;
        }
    }
    if failed {
        return super::EXIT_USAGE;
    }
    println!(
        "merged {} shard(s) into run {}: {} scenario(s), {} passed, {} failed",
        shards.len(),
        run_id,
        merged.totals.scenarios,
        merged.totals.passed,
        merged.totals.failed + merged.totals.unfinished
    );
    let verdict = if merged.not_passed().next().is_some() {
        super::EXIT_FAIL
    } else {
        super::EXIT_PASS
    };
    println!(
        "reports: {}, {} and {}",
        out.join("junit.xml").display(),
        out.join("summary.json").display(),
        out.join("index.html").display()
    );
    verdict
}
