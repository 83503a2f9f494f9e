//! Builds the real provider backend and the prompt enhancer from settings; shared by
//! the Lambda entry point and local mode so both wire providers the same way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{EnhanceSpec, ModelSpec, ProviderKind};
use crate::enhance::Enhancer;
use crate::providers::bedrock::BedrockClients;
use crate::providers::{Backend, Generator, ProviderHttp, RealProviders};
use crate::secrets::KeyResolver;

/// `/enhance` must answer well inside API Gateway's 30 s.
pub const ENHANCE_TIMEOUT: Duration = Duration::from_secs(20);

/// A generator calling the real providers.
pub fn real_generator(
    models: Vec<ModelSpec>,
    keys: Arc<KeyResolver>,
    base_urls: BTreeMap<ProviderKind, String>,
    sdk: Option<aws_config::SdkConfig>,
    model_timeout: Duration,
) -> Generator {
    let bedrock = BedrockClients::new(sdk, base_urls.get(&ProviderKind::Bedrock).cloned());
    Generator {
        models,
        backend: Backend::Real(Box::new(RealProviders {
            http: ProviderHttp::new(model_timeout),
            base_urls,
            keys,
            bedrock,
        })),
        model_timeout,
    }
}

/// The enhancer for `ENHANCE_MODEL` (disabled when unset).
pub fn real_enhancer(
    spec: Option<EnhanceSpec>,
    keys: Arc<KeyResolver>,
    base_urls: BTreeMap<ProviderKind, String>,
) -> Enhancer {
    match spec {
        Some(spec) => Enhancer::Chat {
            spec,
            http: ProviderHttp::new(ENHANCE_TIMEOUT),
            base_urls,
            keys,
        },
        None => Enhancer::Disabled,
    }
}
