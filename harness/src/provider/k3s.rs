//! k3s: one node in a container through testcontainers (DaemonSet-per-node and anti-affinity
//! flows need several nodes: use kind); the container is removed at teardown.

use super::{Prepared, Provider, ProviderError, Request, docker_running, run_tool};
use std::path::Path;
use std::time::Duration;
use testcontainers::{ContainerAsync, GenericImage};

/// Nodes a k3s cluster from this provider has (its server schedules pods).
pub const K3S_NODES: u32 = 1;

pub struct K3s {
    /// The image (name, tag) to start.
    pub image: (String, String),
    container: Option<ContainerAsync<GenericImage>>,
}

impl Default for K3s {
    fn default() -> Self {
        Self {
            image: (K3S_IMAGE.0.to_string(), K3S_IMAGE.1.to_string()),
            container: None,
        }
    }
}

#[async_trait::async_trait]
impl Provider for K3s {
    async fn up(&mut self, request: &Request) -> Result<Prepared, ProviderError> {
        if request.workers > K3S_NODES {
            return Err(ProviderError::Config(format!(
                "k3s gives {K3S_NODES} node, but the selected scenarios need {} (cluster.workers): use --provider kind",
                request.workers
            )));
        }
        docker_running().await?;
        image_present(&self.image).await?;
        let (prepared, container) = k3s_up(&self.image, &request.dir).await?;
        self.container = Some(container);
        Ok(prepared)
    }

    async fn teardown(&mut self) -> Result<(), ProviderError> {
        if let Some(c) = self.container.take() {
            c.rm()
                .await
                .map_err(|e| ProviderError::Config(format!("removing the k3s container: {e}")))?;
        }
        Ok(())
    }
}

/// k3s in a container, one node (DaemonSet-per-node flows need several nodes: use kind).
pub const K3S_IMAGE: (&str, &str) = ("rancher/k3s", "v1.33.4-k3s1");

/// Fails early, saying why, when the image is neither on this machine nor pullable (testcontainers
/// would otherwise report a bare pull error after its own retries).
async fn image_present((name, tag): &(String, String)) -> Result<(), ProviderError> {
    let image = format!("{name}:{tag}");
    let inspect = run_tool(
        "docker",
        &["image".into(), "inspect".into(), image.clone()],
        Duration::from_secs(20),
    )
    .await;
    if inspect.is_ok() {
        return Ok(());
    }
    match run_tool(
        "docker",
        &["pull".into(), image.clone()],
        IMAGE_PULL_TIMEOUT,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(ProviderError::Config(format!(
            "the k3s image {image} is not on this machine and could not be pulled ({}); load it with `docker load` (or pull it where a registry is reachable), or use --provider kind",
            match e {
                ProviderError::Failed { output, .. } =>
                    output.trim().lines().last().unwrap_or("").to_string(),
                other => other.to_string(),
            }
        ))),
    }
}

/// How long pulling the k3s image may take.
const IMAGE_PULL_TIMEOUT: Duration = Duration::from_secs(600);

/// Starts k3s through testcontainers; the returned container is removed when dropped, so the
/// caller holds it for the run. Settings as testcontainers-modules' k3s module.
async fn k3s_up(
    (name, tag): &(String, String),
    dir: &Path,
) -> Result<
    (
        Prepared,
        testcontainers::ContainerAsync<testcontainers::GenericImage>,
    ),
    ProviderError,
> {
    use testcontainers::core::{ExecCommand, IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{GenericImage, ImageExt};
    let image = GenericImage::new(name.as_str(), tag.as_str())
        .with_exposed_port(6443.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "Node controller sync successful",
        ));
    let container = image
        .with_cmd(["server", "--snapshotter=native", "--disable=traefik"])
        .with_privileged(true)
        .with_userns_mode("host")
        .with_startup_timeout(Duration::from_secs(300))
        .start()
        .await
        .map_err(|e| ProviderError::Config(format!("starting {name}:{tag}: {e}")))?;
    let port = container
        .get_host_port_ipv4(6443)
        .await
        .map_err(|e| ProviderError::Config(e.to_string()))?;
    let mut exec = container
        .exec(ExecCommand::new(["cat", "/etc/rancher/k3s/k3s.yaml"]))
        .await
        .map_err(|e| ProviderError::Config(format!("reading the k3s kubeconfig: {e}")))?;
    let text = String::from_utf8_lossy(
        &exec
            .stdout_to_vec()
            .await
            .map_err(|e| ProviderError::Config(e.to_string()))?,
    )
    .into_owned();
    let kubeconfig = dir.join("kubeconfig-k3s");
    std::fs::create_dir_all(dir).map_err(|e| ProviderError::Config(e.to_string()))?;
    std::fs::write(&kubeconfig, k3s_kubeconfig(&text, port))
        .map_err(|e| ProviderError::Config(e.to_string()))?;
    let prepared = Prepared {
        provider: "k3s",
        name: container.id().to_string(),
        kubeconfig: Some(kubeconfig),
        context: Some("default".into()),
        created: true,
    };
    Ok((prepared, container))
}

/// The kubeconfig k3s writes, pointed at the port Docker mapped for its API server.
pub fn k3s_kubeconfig(text: &str, port: u16) -> String {
    text.replace(
        "https://127.0.0.1:6443",
        &format!("https://127.0.0.1:{port}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layer 2 (the machine's real Docker Engine, which has no k3s image and no registry here):
    // k3s fails before starting anything, naming the image and what to do; a request for more
    // nodes than k3s gives fails before Docker is asked.
    #[tokio::test]
    async fn k3s_fails_early_naming_a_missing_image_or_too_many_nodes() {
        let dir = std::env::temp_dir();
        let mut k3s = K3s {
            image: ("harness-test/no-such-k3s".into(), "0".into()),
            container: None,
        };
        let request = Request {
            name: "t".into(),
            named: false,
            workers: 1,
            dir: dir.clone(),
        };
        let err = k3s.up(&request).await.unwrap_err().to_string();
        assert!(
            err.contains("harness-test/no-such-k3s:0 is not on this machine"),
            "{err}"
        );
        let err = k3s
            .up(&Request {
                workers: 3,
                ..request
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("need 3 (cluster.workers)"), "{err}");
    }

    // Layer 1 (pure).
    #[test]
    fn k3s_kubeconfig_points_at_the_mapped_port() {
        let text = "clusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n";
        assert_eq!(
            k3s_kubeconfig(text, 32771),
            "clusters:\n- cluster:\n    server: https://127.0.0.1:32771\n  name: default\n"
        );
    }
}
