//! Minikube: `minikube start -p NAME --nodes N`; deleted at the end (it always creates its
//! profile).

use super::{Prepared, Provider, ProviderError, Request, run_tool};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Minikube {
    up: Option<Prepared>,
}

#[async_trait::async_trait]
impl Provider for Minikube {
    fn node_host(&self) -> Option<std::sync::Arc<dyn crate::cluster::NodeHost>> {
        let profile = self.up.as_ref()?.name.clone();
        Some(std::sync::Arc::new(super::nodes::MinikubeNodes { profile }))
    }

    async fn up(&mut self, request: &Request) -> Result<Prepared, ProviderError> {
        // Minikube's control plane is schedulable: one node more than the workers asked for.
        let prepared = minikube_up(&request.name, request.workers + 1).await?;
        self.up = Some(prepared.clone());
        Ok(prepared)
    }

    async fn preload(&self, images: &[String]) -> Vec<String> {
        let Some(p) = &self.up else {
            return vec![];
        };
        let profile = p.name.clone();
        super::preload_each(images, |image| {
            let args = minikube_load_args(&profile, &image);
            async move { run_tool("minikube", &args, Duration::from_secs(600)).await }
        })
        .await
    }

    async fn teardown(&mut self) -> Result<(), ProviderError> {
        match self.up.take() {
            Some(p) if p.created => run_tool(
                "minikube",
                &["delete".into(), "-p".into(), p.name.clone()],
                Duration::from_secs(300),
            )
            .await
            .map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// `minikube -p PROFILE image load IMAGE` (it skips an image the nodes already hold).
pub fn minikube_load_args(profile: &str, image: &str) -> Vec<String> {
    vec![
        "-p".into(),
        profile.into(),
        "image".into(),
        "load".into(),
        "--".into(),
        image.into(),
    ]
}

pub fn minikube_start_args(profile: &str, nodes: u32) -> Vec<String> {
    vec![
        "start".into(),
        "-p".into(),
        profile.into(),
        "--nodes".into(),
        nodes.max(1).to_string(),
        "--wait=all".into(),
    ]
}

async fn minikube_up(profile: &str, nodes: u32) -> Result<Prepared, ProviderError> {
    run_tool("minikube", &["version".into()], Duration::from_secs(30)).await?;
    run_tool(
        "minikube",
        &minikube_start_args(profile, nodes),
        Duration::from_secs(900),
    )
    .await?;
    Ok(Prepared {
        provider: "minikube",
        name: profile.into(),
        kubeconfig: None,
        context: Some(profile.into()),
        created: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::command_line;

    // Layer 1 (pure).
    #[test]
    fn start_command_line() {
        assert_eq!(
            command_line("minikube", &minikube_start_args("p", 0)),
            "minikube start -p p --nodes 1 --wait=all"
        );
        assert_eq!(
            command_line("minikube", &minikube_load_args("p", "memcached:1.6.38")),
            "minikube -p p image load -- memcached:1.6.38"
        );
    }
}
