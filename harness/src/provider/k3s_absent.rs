//! The k3s provider when the binary is built without the `k3s` feature: it keeps the CLI the
//! same and says, before anything starts, how to get the provider.

use super::{Prepared, Provider, ProviderError, Request};

/// Nodes a k3s cluster from this provider would have.
pub const K3S_NODES: u32 = 1;

/// Built like the real provider (`K3s::default()`), so the CLI does not change with the feature.
#[derive(Default)]
pub struct K3s {
    _absent: (),
}

#[async_trait::async_trait]
impl Provider for K3s {
    async fn up(&mut self, _: &Request) -> Result<Prepared, ProviderError> {
        Err(ProviderError::Config(
            "this harness was built without the k3s provider: build it with `--features k3s` (a default feature), or use --provider kind".into(),
        ))
    }

    async fn teardown(&mut self) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layer 1: without the feature, asking for k3s is a usage error that says how to get it.
    #[tokio::test]
    async fn k3s_without_its_feature_says_how_to_get_it() {
        let request = Request {
            name: "x".into(),
            named: false,
            workers: 1,
            dir: std::env::temp_dir(),
        };
        let Err(err) = K3s::default().up(&request).await else {
            panic!("k3s started without its feature");
        };
        assert!(err.to_string().contains("--features k3s"), "{err}");
    }
}
