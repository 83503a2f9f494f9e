//! Provider API keys: read from SSM (SecureString, with decryption) or Secrets Manager
//! on first use, cached per Lambda instance for [`KEY_TTL`], and never printed.
//!
//! Rotation (`pixelctl secrets set`) reaches running instances two ways: a cached key
//! is read again once it is older than [`KEY_TTL`], and a key the provider refuses
//! (401/403) is read again at once ([`KeyResolver::replacement`]), so revoking the old
//! key switches every instance on its next call.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How long an instance uses a key before reading it again.
pub const KEY_TTL: Duration = Duration::from_mins(5);

/// A key in the cache, and when it must be read again (`None`: never, it was given).
#[derive(Debug, Clone)]
struct Cached {
    key: ApiKey,
    expires: Option<Instant>,
}

/// Where keys are read from.
#[derive(Debug)]
enum Source {
    Aws(Box<Option<aws_config::SdkConfig>>),
    /// Values by location, changeable while the resolver runs (unit tests).
    #[cfg(test)]
    Memory(Arc<std::sync::Mutex<BTreeMap<String, String>>>),
}

/// Resolves and caches provider keys.
#[derive(Debug)]
pub struct KeyResolver {
    locations: BTreeMap<ProviderKind, KeyLocation>,
    source: Source,
    cache: Mutex<BTreeMap<ProviderKind, Cached>>,
    /// How long a key read from its location is used ([`KEY_TTL`]).
    ttl: Duration,
}

impl KeyResolver {
    pub fn new(
        locations: BTreeMap<ProviderKind, KeyLocation>,
        aws: Option<aws_config::SdkConfig>,
    ) -> Self {
        Self {
            locations,
            source: Source::Aws(Box::new(aws)),
            cache: Mutex::new(BTreeMap::new()),
            ttl: KEY_TTL,
        }
    }

    /// A resolver that already holds the keys (tests, or keys passed in by code).
    pub fn with_keys(keys: BTreeMap<ProviderKind, ApiKey>) -> Self {
        Self {
            locations: BTreeMap::new(),
            source: Source::Aws(Box::new(None)),
            cache: Mutex::new(
                keys.into_iter()
                    .map(|(provider, key)| (provider, Cached { key, expires: None }))
                    .collect(),
            ),
            ttl: KEY_TTL,
        }
    }

    pub async fn key(&self, provider: ProviderKind) -> Result<ApiKey, KeyError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.get(&provider)
            && cached
                .expires
                .is_none_or(|expires| Instant::now() < expires)
        {
            return Ok(cached.key.clone());
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
        let changed = cache.get(&provider).is_some_and(|cached| cached.key != key);
        cache.insert(
            provider,
            Cached {
                key: key.clone(),
                expires: Some(Instant::now() + self.ttl),
            },
        );
        tracing::info!(provider = %provider, location = %location, changed, "provider key loaded");
        Ok(key)
    }

    /// After the provider refused `rejected`: reads the key again (unless another
    /// call already did) and returns it if it is a different one, to retry with.
    pub async fn replacement(
        &self,
        provider: ProviderKind,
        rejected: &ApiKey,
    ) -> Result<Option<ApiKey>, KeyError> {
        {
            let mut cache = self.cache.lock().await;
            if cache
                .get(&provider)
                .is_some_and(|cached| cached.key == *rejected && cached.expires.is_some())
            {
                cache.remove(&provider);
            }
        }
        let key = self.key(provider).await?;
        Ok((key != *rejected).then_some(key))
    }

    async fn read(&self, location: &KeyLocation) -> Result<String, KeyError> {
        let read_err = |message: String| KeyError::Read {
            location: location.to_string(),
            message,
        };
        let aws = || match &self.source {
            Source::Aws(aws) => aws
                .as_ref()
                .as_ref()
                .ok_or_else(|| read_err("no AWS configuration in this mode".to_owned())),
            #[cfg(test)]
            Source::Memory(_) => Err(read_err("no AWS configuration in this mode".to_owned())),
        };
        #[cfg(test)]
        if let Source::Memory(values) = &self.source {
            return values
                .lock()
                .map_err(|_| read_err("poisoned".to_owned()))?
                .get(&location.to_string())
                .cloned()
                .ok_or_else(|| read_err("not set".to_owned()));
        }
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

    /// A resolver over values the test can change while it runs.
    fn memory(
        provider: ProviderKind,
        location: &str,
        value: &str,
        ttl: Duration,
    ) -> (KeyResolver, Arc<std::sync::Mutex<BTreeMap<String, String>>>) {
        let location: KeyLocation = location.parse().unwrap();
        let values = Arc::new(std::sync::Mutex::new(BTreeMap::from([(
            location.to_string(),
            value.to_owned(),
        )])));
        let resolver = KeyResolver {
            locations: BTreeMap::from([(provider, location)]),
            source: Source::Memory(Arc::clone(&values)),
            cache: Mutex::new(BTreeMap::new()),
            ttl,
        };
        (resolver, values)
    }

    fn store(values: &std::sync::Mutex<BTreeMap<String, String>>, value: &str) {
        for stored in values.lock().unwrap().values_mut() {
            *stored = value.to_owned();
        }
    }

    #[tokio::test]
    async fn a_rotated_key_is_used_once_the_cached_one_expires() {
        const LOCATION: &str = "ssm:/pixel-prompt/dev/openai-api-key";
        // Within its time to live the cached key is used; past it, the stored one.
        for (ttl, after_rotation) in [(KEY_TTL, "sk-old-1111"), (Duration::ZERO, "sk-new-2222")] {
            let (resolver, values) = memory(ProviderKind::Openai, LOCATION, "sk-old-1111", ttl);
            assert_eq!(
                resolver.key(ProviderKind::Openai).await.unwrap().expose(),
                "sk-old-1111"
            );
            store(&values, "sk-new-2222");
            assert_eq!(
                resolver.key(ProviderKind::Openai).await.unwrap().expose(),
                after_rotation,
                "ttl {ttl:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_refused_key_is_read_again_at_once() {
        let (resolver, values) = memory(
            ProviderKind::Bfl,
            "secretsmanager:pixel-prompt/dev/bfl-api-key",
            "bfl-old-1111",
            KEY_TTL,
        );
        let old = resolver.key(ProviderKind::Bfl).await.unwrap();
        // Not rotated: nothing better to retry with.
        assert_eq!(
            resolver.replacement(ProviderKind::Bfl, &old).await.unwrap(),
            None
        );
        store(&values, "bfl-new-2222");
        let fresh = resolver
            .replacement(ProviderKind::Bfl, &old)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fresh.expose(), "bfl-new-2222");
        // A second model refused with the old key gets the new one without another read.
        store(&values, "bfl-newer-3333");
        assert_eq!(
            resolver.replacement(ProviderKind::Bfl, &old).await.unwrap(),
            Some(fresh)
        );
        // Keys given in code are never re-read.
        let given = KeyResolver::with_keys(BTreeMap::from([(ProviderKind::Bfl, old.clone())]));
        assert_eq!(given.key(ProviderKind::Bfl).await.unwrap(), old);
        assert_eq!(
            given.replacement(ProviderKind::Bfl, &old).await.unwrap(),
            None
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
