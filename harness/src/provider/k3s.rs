//! k3s: one node in a container through testcontainers (DaemonSet-per-node and anti-affinity
//! flows need several nodes: use kind); the container is removed at teardown.

use super::{Prepared, Provider, ProviderError, Request, docker_running};
use std::path::Path;
use std::time::Duration;
use testcontainers::{ContainerAsync, GenericImage};

#[derive(Default)]
pub struct K3s {
    container: Option<ContainerAsync<GenericImage>>,
}

#[async_trait::async_trait]
impl Provider for K3s {
    async fn up(&mut self, request: &Request) -> Result<Prepared, ProviderError> {
        let (prepared, container) = k3s_up(&request.dir).await?;
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

/// Starts k3s through testcontainers; the returned container is removed when dropped, so the
/// caller holds it for the run. Settings as testcontainers-modules' k3s module.
async fn k3s_up(
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
    docker_running().await?;
    let image = GenericImage::new(K3S_IMAGE.0, K3S_IMAGE.1)
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
        .map_err(|e| {
            ProviderError::Config(format!("starting {}:{}: {e}", K3S_IMAGE.0, K3S_IMAGE.1))
        })?;
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
