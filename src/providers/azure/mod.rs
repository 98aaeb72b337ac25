//! The Azure provider (placeholder until its SDK implementation lands).

use crate::cloud::Cloud;
use crate::providers::{Desired, Outputs, Problem, Provider, ProviderConfig, ProviderError};
use crate::topology::Network;

pub struct AzureProvider {
    #[allow(dead_code)]
    cfg: ProviderConfig,
}

impl AzureProvider {
    pub async fn new(cfg: ProviderConfig) -> Result<AzureProvider, ProviderError> {
        Ok(AzureProvider { cfg })
    }
}

fn todo() -> ProviderError {
    ProviderError::Attribute("not implemented".into())
}

#[async_trait::async_trait]
impl Provider for AzureProvider {
    fn cloud(&self) -> Cloud {
        Cloud::Azure
    }
    async fn preflight(&self, _networks: &[Network]) -> Vec<crate::providers::Problem> {
        Vec::<Problem>::new()
    }
    async fn read(
        &self,
        _d: &Desired,
        _id: Option<&str>,
    ) -> Result<Option<Outputs>, ProviderError> {
        Err(todo())
    }
    async fn create(&self, _d: &Desired) -> Result<Outputs, ProviderError> {
        Err(todo())
    }
    async fn update(
        &self,
        _d: &Desired,
        _id: &str,
        _changed: &[String],
    ) -> Result<Outputs, ProviderError> {
        Err(todo())
    }
    async fn delete(&self, _d: &Desired, _id: &str) -> Result<(), ProviderError> {
        Err(todo())
    }
}
