//! Provider API keys: read from SSM (SecureString, with decryption) or Secrets Manager
//! on first use, cached for the life of the Lambda instance, and never printed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aws_sdk_ssm::error::DisplayErrorContext;
use tokio::sync::Mutex;

use crate::config::{KeyLocation, ProviderKind};

/// An API key. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(Arc::from(key.into().trim()))
    }

    /// The key itself, for an HTTP header. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced, for error messages that might
    /// echo a request.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            text.to_owned()
        } else {
            text.replace(&*self.0, "[redacted]")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Why a key could not be had. Names the location, never a value.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no key location configured for `{0}` in PROVIDER_KEYS")]
    NotConfigured(ProviderKind),
    #[error("could not read `{location}`: {message}")]
    Read { location: String, message: String },
    #[error("`{0}` is empty")]
    Empty(String),
}

/// Resolves and caches provider keys.
#[derive(Debug)]
pub struct KeyResolver {
    locations: BTreeMap<ProviderKind, KeyLocation>,
    aws: Option<aws_config::SdkConfig>,
    cache: Mutex<BTreeMap<ProviderKind, ApiKey>>,
}

impl KeyResolver {
    pub fn new(
        locations: BTreeMap<ProviderKind, KeyLocation>,
        aws: Option<aws_config::SdkConfig>,
    ) -> Self {
        Self {
            locations,
            aws,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// A resolver that already holds the keys (tests, or keys passed in by code).
    pub fn with_keys(keys: BTreeMap<ProviderKind, ApiKey>) -> Self {
        Self {
            locations: BTreeMap::new(),
            aws: None,
            cache: Mutex::new(keys),
        }
    }

    pub async fn key(&self, provider: ProviderKind) -> Result<ApiKey, KeyError> {
        let mut cache = self.cache.lock().await;
        if let Some(key) = cache.get(&provider) {
            return Ok(key.clone());
        }
        let location = self
            .locations
            .get(&provider)
            .ok_or(KeyError::NotConfigured(provider))?;
        let value = self.read(location).await?;
        if value.trim().is_empty() {
            return Err(KeyError::Empty(location.to_string()));
        }
        let key = ApiKey::new(value);
        cache.insert(provider, key.clone());
        tracing::info!(provider = %provider, location = %location, "provider key loaded");
        Ok(key)
    }

    async fn read(&self, location: &KeyLocation) -> Result<String, KeyError> {
        let read_err = |message: String| KeyError::Read {
            location: location.to_string(),
            message,
        };
        let aws = || {
            self.aws
                .as_ref()
                .ok_or_else(|| read_err("no AWS configuration in this mode".to_owned()))
        };
        match location {
            KeyLocation::Env(name) => {
                std::env::var(name).map_err(|_| read_err("the variable is not set".to_owned()))
            }
            KeyLocation::Ssm(name) => {
                let client = aws_sdk_ssm::Client::new(aws()?);
                let output = client
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| read_err(DisplayErrorContext(&e).to_string()))?;
                output
                    .parameter()
                    .and_then(|p| p.value())
                    .map(str::to_owned)
                    .ok_or_else(|| read_err("the parameter has no value".to_owned()))
            }
            KeyLocation::SecretsManager(id) => {
                let client = aws_sdk_secretsmanager::Client::new(aws()?);
                let output = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| read_err(DisplayErrorContext(&e).to_string()))?;
                output
                    .secret_string()
                    .map(str::to_owned)
                    .ok_or_else(|| read_err("the secret has no SecretString".to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_never_shows() {
        let key = ApiKey::new("sk-secret-123456");
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert_eq!(
            key.scrub("bad key sk-secret-123456!"),
            "bad key [redacted]!"
        );
    }

    #[tokio::test]
    async fn unconfigured_provider_is_named() {
        let resolver = KeyResolver::new(BTreeMap::new(), None);
        let err = resolver.key(ProviderKind::Bfl).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "no key location configured for `bfl` in PROVIDER_KEYS"
        );
    }
}
