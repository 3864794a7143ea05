//! `apply`: server-side apply of manifests into the scenario namespace; what was created is
//! registered for clean-up. Manifests come from one file, every `*.yaml`/`*.yml` of a
//! directory, or inline text; variables are substituted and the documents parsed once, at
//! validation.

use super::{StepContext, StepKind, StepResult};
use crate::check::{Checker, read_text};
use crate::manifest::{self, Manifest};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Manifest files larger than this are refused.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// Paths are relative to the scenario file.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub file: Option<String>,
    pub dir: Option<String>,
    pub inline: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Apply {
    pub manifests: Vec<Manifest>,
}

/// Manifest text and where it came from (a path as written, or `inline`).
struct Source {
    origin: String,
    text: String,
}

#[async_trait::async_trait]
impl StepKind for Apply {
    const NAME: &'static str = "apply";
    const DOC: &'static str = "Apply Kubernetes manifests (server-side) into the scenario's namespace: `file`, `dir` or `inline`; what it creates is deleted at clean-up.";
    const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
    const RENDER: bool = false;
    type Raw = Raw;

    fn applies(&self) -> &[Manifest] {
        &self.manifests
    }

    fn check(raw: Raw, cx: &mut Checker, path: &str) -> Option<Self> {
        if !cx.exactly_one(
            path,
            &[
                ("file", raw.file.is_some()),
                ("dir", raw.dir.is_some()),
                ("inline", raw.inline.is_some()),
            ],
        ) {
            return None;
        }
        // A file or directory applied by an earlier step was read and parsed then.
        let (key_path, named) = match (&raw.file, &raw.dir) {
            (Some(file), _) => (format!("{path}.file"), Some(cx.resolve_path(file))),
            (_, Some(dir)) => (format!("{path}.dir"), Some(cx.resolve_path(dir))),
            _ => (format!("{path}.inline"), None),
        };
        if let Some((manifests, bytes)) = named.as_ref().and_then(|n| cx.parsed_manifests(n)) {
            return cx
                .count_manifest_bytes(&key_path, bytes)
                .then_some(Apply { manifests });
        }
        let mut sources = vec![];
        if let Some(inline) = raw.inline {
            sources.push(Source {
                origin: "inline".into(),
                text: inline,
            });
        } else if let Some(file) = raw.file {
            let text = cx.read_file(&key_path, "manifest file", &file, MAX_MANIFEST_BYTES)?;
            sources.push(Source { origin: file, text });
        } else if let Some(dir) = raw.dir {
            sources = read_dir(cx, &key_path, &dir)?;
        }
        let bytes = sources.iter().map(|s| s.text.len() as u64).sum::<u64>();
        if !cx.count_manifest_bytes(&key_path, bytes) {
            return None;
        }
        let mut manifests = vec![];
        for source in &sources {
            manifests.extend(parse(cx, path, source));
        }
        if let Some(named) = named {
            cx.keep_manifests(named, manifests.clone(), bytes);
        }
        Some(Apply { manifests })
    }

    async fn run(&self, ctx: &StepContext<'_>) -> StepResult {
        let created = ctx
            .cluster
            .apply(ctx.namespace(), ctx.scenario, &self.manifests)
            .await?;
        let mut out: Vec<String> = self
            .manifests
            .iter()
            .map(|m| format!("applied {}/{}", m.kind(), m.name()))
            .collect();
        out.push(format!(
            "{} object(s) created and registered for clean-up",
            created.len()
        ));
        ctx.register(created);
        Ok(out.join("\n"))
    }

    fn summary(&self) -> String {
        let objects: Vec<String> = self
            .manifests
            .iter()
            .map(|m| format!("{}/{}", m.kind(), m.name()))
            .collect();
        format!(
            "apply {} object(s): {}",
            self.manifests.len(),
            objects.join(", ")
        )
    }

    fn creates(&self) -> Vec<(String, String)> {
        self.manifests
            .iter()
            .map(|m| (m.kind().to_string(), m.name().to_string()))
            .collect()
    }
}

fn read_dir(cx: &mut Checker, path: &str, dir: &str) -> Option<Vec<Source>> {
    let full = cx.resolve_path(dir);
    let entries = match std::fs::read_dir(&full) {
        Ok(entries) => entries,
        Err(e) => {
            cx.error(
                path,
                format!("cannot read directory `{}`: {e}", full.display()),
            );
            return None;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    if files.is_empty() {
        cx.error(
            path,
            format!("directory `{}` has no .yaml or .yml files", full.display()),
        );
    }
    let mut sources = vec![];
    for f in files {
        let origin = format!(
            "{dir}/{}",
            f.file_name().and_then(|n| n.to_str()).unwrap_or("?")
        );
        match read_text(&f, MAX_MANIFEST_BYTES) {
            Ok(text) => sources.push(Source { origin, text }),
            Err(problem) => cx.error(path, format!("manifest file `{}`: {problem}", f.display())),
        }
    }
    Some(sources)
}

/// Substitutes variables and parses every document; problems name the manifest and its line,
/// under the apply step's key path.
fn parse(cx: &mut Checker, path: &str, source: &Source) -> Vec<Manifest> {
    let rendered = match crate::vars::substitute(&source.text, &|n| cx.lookup(n)) {
        Ok(text) => text,
        Err(undefined) => {
            for u in &undefined.first {
                let hint = cx.var_hint(&u.name);
                cx.error(
                    path,
                    format!(
                        "{}:{}:{}: unknown variable `${{{}}}`{hint}",
                        source.origin,
                        u.line,
                        u.column,
                        crate::diag::visible(&u.name)
                    ),
                );
            }
            if undefined.total > undefined.first.len() {
                cx.error(
                    path,
                    format!(
                        "{}: {} more unknown variable reference(s) not listed",
                        source.origin,
                        undefined.total - undefined.first.len()
                    ),
                );
            }
            return vec![];
        }
    };
    let (manifests, problems) = manifest::parse_documents(&source.origin, &rendered);
    for p in problems {
        let at = match p.line {
            Some(l) => format!("{}:{l}", source.origin),
            None => source.origin.clone(),
        };
        cx.error(path, format!("{at}: {}", p.message));
    }
    manifests
}
