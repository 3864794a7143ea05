//! `harness report merge RUN…`: the shards of one logical run (`--partition K/N` jobs of a CI
//! matrix) joined into one run: one `summary.json` listing its shards, one `junit.xml`, one
//! `index.html`, and the shards' evidence folders, all as a single run would have written
//! them. Shards that hold one scenario twice, that belong to different partitionings, or that
//! leave a slice missing are named and nothing is written (exit 2).

use crate::report::Reporter;
use crate::report::model::{FORMAT, Run};
use std::path::{Path, PathBuf};

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
            e.path(),
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
                        s.partition.as_deref().unwrap_or("not partitioned")
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if let Some(n) = ns.first() {
            for k in 1..=*n {
                let holders: Vec<&str> = shards
                    .iter()
                    .zip(&parts)
                    .filter(|(_, p)| p.is_some_and(|p| p.k == k))
                    .map(|(s, _)| s.run_id.as_str())
                    .collect();
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
    let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
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
    let first = &shards[0];
    let mut selection: Vec<String> = vec![];
    let mut tags: Vec<String> = vec![];
    for s in shards {
        for p in &s.selection {
            if !selection.contains(p) {
                selection.push(p.clone());
            }
        }
        for t in &s.tags {
            if !tags.contains(t) {
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

/// Reads each step's evidence back from its shard's files (the summary names them).
fn reload_evidence(run: &mut Run, shard_dir: &Path) {
    for scenario in &mut run.scenarios {
        for step in &mut scenario.steps {
            step.evidence = step
                .evidence_files
                .iter()
                .filter_map(|file| {
                    let body = std::fs::read_to_string(shard_dir.join(file)).ok()?;
                    let title = Path::new(file)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    Some(crate::cluster::Evidence::new(
                        crate::cluster::EvidenceKind::Other,
                        title,
                        body,
                    ))
                })
                .collect();
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `harness report merge`: exit 0 when written, 2 when the shards are not one run.
pub fn merge(given: &[PathBuf], report_dir: &Path) -> u8 {
    let mut shards = vec![];
    let mut dirs = vec![];
    let mut problems = vec![];
    for g in given {
        let path = summary_of(g);
        match read_run(&path) {
            Ok(mut run) => {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                reload_evidence(&mut run, &dir);
                shards.push(run);
                dirs.push(dir);
            }
            Err(e) => problems.push(e),
        }
    }
    let run_id = super::select::new_run_id();
    let merged = if problems.is_empty() {
        join(&run_id, &shards).map_err(|p| problems.extend(p)).ok()
    } else {
        None
    };
    let Some(merged) = merged else {
        eprintln!("error: the shards cannot be merged into one run:");
        for p in &problems {
            eprintln!("  {p}");
        }
        return super::EXIT_USAGE;
    };
    let out = report_dir.join(&run_id);
    for dir in &dirs {
        let evidence = dir.join("evidence");
        if evidence.is_dir()
            && let Err(e) = copy_dir(&evidence, &out.join("evidence"))
        {
            eprintln!("error: copying {}: {e}", evidence.display());
            return super::EXIT_USAGE;
        }
    }
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
            eprintln!("error: {e}");
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
    println!(
        "reports: {}, {} and {}",
        out.join("junit.xml").display(),
        out.join("summary.json").display(),
        out.join("index.html").display()
    );
    super::EXIT_PASS
}
