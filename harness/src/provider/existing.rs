//! An existing cluster: used only when the user names its kubeconfig context, and never
//! deleted. A context the kubeconfig does not have is refused before anything else, listing
//! the contexts it has and saying which kubeconfig was read.

use super::{Prepared, Provider, ProviderError, Request};
use kube::config::Kubeconfig;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Existing {
    pub context: Option<String>,
    pub kubeconfig: Option<PathBuf>,
}

#[async_trait::async_trait]
impl Provider for Existing {
    async fn up(&mut self, _: &Request) -> Result<Prepared, ProviderError> {
        let Some(context) = self.context.clone() else {
            return Err(ProviderError::Config(
                "an existing cluster is used only when you name its context: pass --context NAME (or set HARNESS_CONTEXT)".into(),
            ));
        };
        let (config, source) = read_kubeconfig(self.kubeconfig.as_deref())?;
        check_context(&config, &context, &source)?;
        Ok(Prepared {
            provider: "existing",
            name: context.clone(),
            kubeconfig: self.kubeconfig.clone(),
            context: Some(context),
            created: false,
        })
    }

    async fn teardown(&mut self) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The kubeconfig the run will use (the file given, else `$KUBECONFIG`'s files merged, else
/// `~/.kube/config`) and where it was read from, for messages.
fn read_kubeconfig(path: Option<&Path>) -> Result<(Kubeconfig, String), ProviderError> {
    let source = match path {
        Some(p) => p.display().to_string(),
        None => match std::env::var("KUBECONFIG") {
            Ok(v) if !v.is_empty() => format!("{v} (from $KUBECONFIG)"),
            _ => "~/.kube/config (no --kubeconfig, $KUBECONFIG unset)".to_string(),
        },
    };
    let config = match path {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    }
    .map_err(|e| ProviderError::Config(format!("reading the kubeconfig {source}: {e}")))?;
    Ok((config, source))
}

/// `Ok` when `context` is one of the kubeconfig's contexts; otherwise a message listing them.
fn check_context(config: &Kubeconfig, context: &str, source: &str) -> Result<(), ProviderError> {
    let names: Vec<&str> = config.contexts.iter().map(|c| c.name.as_str()).collect();
    if names.contains(&context) {
        return Ok(());
    }
    let have = if names.is_empty() {
        "it has no contexts".to_string()
    } else {
        format!("its contexts are: {}", names.join(", "))
    };
    Err(ProviderError::Config(format!(
        "the kubeconfig {source} has no context `{context}`; {have}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 1 (pure, a kubeconfig file on disk): an unknown context is refused before any
    // connection, naming the file read and the contexts it has.
    #[tokio::test]
    async fn an_unknown_context_lists_the_contexts_and_names_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: kind-dev\n  context: {cluster: c, user: u}\n- name: prod\n  context: {cluster: c, user: u}\n",
        )
        .unwrap();
        let mut existing = Existing {
            context: Some("kind-typo".into()),
            kubeconfig: Some(path.clone()),
        };
        let err = existing
            .up(&Request::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "the kubeconfig {} has no context `kind-typo`",
                path.display()
            )),
            "{err}"
        );
        assert!(err.contains("its contexts are: kind-dev, prod"), "{err}");
        existing.context = Some("prod".into());
        let prepared = existing.up(&Request::default()).await.unwrap();
        assert_eq!(prepared.context.as_deref(), Some("prod"));
        assert!(!prepared.created);
    }
}
