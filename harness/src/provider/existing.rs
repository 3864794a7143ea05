//! An existing cluster: used only when the user names its kubeconfig context, and never
//! deleted.

use super::{Prepared, Provider, ProviderError, Request};
use std::path::PathBuf;

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
