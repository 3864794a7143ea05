//! kind: `kind create cluster --wait` from `--kind-config` or a config generated for the
//! scenarios' worker count; reuses a cluster only when the user named it; `kind export logs`
//! after a failed run; deletes only the cluster it created.

use super::{Prepared, Provider, ProviderError, Request, docker_running, run_tool};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// kind through its CLI.
#[derive(Debug, Default)]
pub struct Kind {
    /// `--kind-config`: the user's cluster config instead of a generated one.
    pub config: Option<PathBuf>,
    up: Option<Prepared>,
}

impl Kind {
    pub fn new(config: Option<PathBuf>) -> Self {
        Self { config, up: None }
    }
}

#[async_trait::async_trait]
impl Provider for Kind {
    fn node_host(&self) -> Option<std::sync::Arc<dyn crate::cluster::NodeHost>> {
        Some(std::sync::Arc::new(super::nodes::KindNodes::from_env()))
    }

    async fn up(&mut self, request: &Request) -> Result<Prepared, ProviderError> {
        let prepared = kind_up(
            &request.name,
            request.named,
            request.workers,
            self.config.as_deref(),
            &request.dir,
        )
        .await?;
        self.up = Some(prepared.clone());
        Ok(prepared)
    }

    async fn teardown(&mut self) -> Result<(), ProviderError> {
        match self.up.take() {
            Some(p) if p.created => run_tool(
                "kind",
                &[
                    "delete".into(),
                    "cluster".into(),
                    "--name".into(),
                    p.name.clone(),
                ],
                Duration::from_secs(300),
            )
            .await
            .map(|_| ()),
            _ => Ok(()),
        }
    }

    async fn preload(&self, images: &[String]) -> Vec<String> {
        let Some(p) = &self.up else {
            return vec![];
        };
        let name = p.name.clone();
        // kind itself skips nodes that already hold the image.
        super::preload_each(images, |image| {
            let args = kind_load_args(&name, &image);
            async move { run_tool("kind", &args, Duration::from_secs(600)).await }
        })
        .await
    }

    async fn export_logs(&self, dir: &Path) -> Result<(), ProviderError> {
        match &self.up {
            Some(p) => kind_export_logs(&p.name, dir).await,
            None => Ok(()),
        }
    }
}

/// A kind config with one control plane and `workers` workers.
pub fn kind_config(workers: u32) -> String {
    let mut text = String::from(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n",
    );
    for _ in 0..workers {
        text.push_str("  - role: worker\n");
    }
    text
}

/// `kind load docker-image IMAGE --name CLUSTER`.
pub fn kind_load_args(cluster: &str, image: &str) -> Vec<String> {
    vec![
        "load".into(),
        "docker-image".into(),
        "--name".into(),
        cluster.into(),
        "--".into(),
        image.into(),
    ]
}

pub fn kind_create_args(name: &str, config: &Path, kubeconfig: &Path) -> Vec<String> {
    vec![
        "create".into(),
        "cluster".into(),
        "--name".into(),
        name.into(),
        "--config".into(),
        config.display().to_string(),
        "--kubeconfig".into(),
        kubeconfig.display().to_string(),
        "--wait".into(),
        "5m".into(),
    ]
}

/// Creates a kind cluster (or reuses the one the user named) with `workers` workers.
async fn kind_up(
    name: &str,
    reuse: bool,
    workers: u32,
    config: Option<&Path>,
    dir: &Path,
) -> Result<Prepared, ProviderError> {
    // The binary first (so a missing kind is named as such), then the Docker daemon it needs.
    run_tool("kind", &["version".into()], Duration::from_secs(30)).await?;
    docker_running().await?;
    let kubeconfig = dir.join(format!("kubeconfig-{name}"));
    std::fs::create_dir_all(dir)
        .map_err(|e| ProviderError::Config(format!("{}: {e}", dir.display())))?;
    let existing = run_tool(
        "kind",
        &["get".into(), "clusters".into()],
        Duration::from_secs(30),
    )
    .await?;
    if existing.lines().any(|l| l.trim() == name) {
        if !reuse {
            return Err(ProviderError::Config(format!(
                "a kind cluster named `{name}` exists and was not created by this run; name it with --cluster-name to reuse it"
            )));
        }
        let text = run_tool(
            "kind",
            &[
                "get".into(),
                "kubeconfig".into(),
                "--name".into(),
                name.into(),
            ],
            Duration::from_secs(30),
        )
        .await?;
        std::fs::write(&kubeconfig, text).map_err(|e| ProviderError::Config(e.to_string()))?;
        return Ok(Prepared {
            provider: "kind",
            name: name.into(),
            kubeconfig: Some(kubeconfig),
            context: Some(format!("kind-{name}")),
            created: false,
        });
    }
    let config_path = match config {
        Some(p) => p.to_path_buf(),
        None => {
            let p = dir.join(format!("kind-{name}.yaml"));
            std::fs::write(&p, kind_config(workers))
                .map_err(|e| ProviderError::Config(e.to_string()))?;
            p
        }
    };
    run_tool(
        "kind",
        &kind_create_args(name, &config_path, &kubeconfig),
        Duration::from_secs(600),
    )
    .await?;
    Ok(Prepared {
        provider: "kind",
        name: name.into(),
        kubeconfig: Some(kubeconfig),
        context: Some(format!("kind-{name}")),
        created: true,
    })
}

async fn kind_export_logs(name: &str, dir: &Path) -> Result<(), ProviderError> {
    run_tool(
        "kind",
        &[
            "export".into(),
            "logs".into(),
            dir.display().to_string(),
            "--name".into(),
            name.into(),
        ],
        Duration::from_secs(300),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::command_line;

    // Layer 1 (pure): command lines and generated configs, without the binary.
    #[test]
    fn kind_config_has_one_control_plane_and_the_workers() {
        let text = kind_config(3);
        assert_eq!(text.matches("role: control-plane").count(), 1);
        assert_eq!(text.matches("role: worker").count(), 3);
        let parsed: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["apiVersion"], "kind.x-k8s.io/v1alpha4");
        assert_eq!(
            text,
            std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/kind/three-workers.yaml"
            ))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
                + "\n"
        );
    }

    #[test]
    fn create_command_line() {
        let args = kind_create_args("harness-x", Path::new("/r/kind.yaml"), Path::new("/r/kc"));
        assert_eq!(
            command_line("kind", &args),
            "kind create cluster --name harness-x --config /r/kind.yaml --kubeconfig /r/kc --wait 5m"
        );
        assert_eq!(
            command_line("kind", &kind_load_args("harness-x", "cassandra:4.1.11")),
            "kind load docker-image --name harness-x -- cassandra:4.1.11"
        );
        assert_eq!(
            command_line(
                "docker",
                &super::super::docker_pull_args("cassandra:4.1.11")
            ),
            "docker pull -- cassandra:4.1.11"
        );
    }
}
