//! Image providers: one client per provider wire format (REFERENCE §2), chosen by the
//! model's `provider` field, plus a fake provider for local development. Every client
//! maps provider failures (401, 429, refused content, malformed answers) to a
//! `ProviderError` whose message is shown per model in `GET /status`.

pub mod bedrock;
pub mod bfl;
pub mod fake;
pub mod google;
pub mod http;
pub mod openai;
pub mod stability;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::config::{ModelSpec, ProviderKind};
use crate::secrets::{ApiKey, KeyError, KeyResolver};
use crate::validation::GenerationParams;
pub use pixel_prompt_contract::provider_error::{
    ProviderError, mentions_refusal, short, status_error,
};

impl From<KeyError> for ProviderError {
    fn from(e: KeyError) -> Self {
        Self::MissingKey(e.to_string())
    }
}

/// A failed HTTP exchange as the error a user sees.
pub fn http_error(e: reqwest::Error) -> ProviderError {
    // `without_url`: a URL may carry a query the user should not see.
    let timed_out = e.is_timeout();
    let e = e.without_url();
    if timed_out {
        ProviderError::NoAnswer
    } else if e.is_decode() {
        ProviderError::Malformed(e.to_string())
    } else {
        ProviderError::Network(error_chain(&e))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Shared HTTP clients and per-request timeout of the HTTP providers.
#[derive(Debug, Clone)]
pub struct ProviderHttp {
    /// For every call that carries a key: follows no redirect ([`http::keyed_client`]).
    pub client: reqwest::Client,
    /// For downloading a generated image from the URL a provider returned (no key).
    pub download_client: reqwest::Client,
    pub request_timeout: Duration,
    /// How often Black Forest Labs results are polled.
    pub poll_interval: Duration,
}

impl ProviderHttp {
    pub fn new(request_timeout: Duration) -> Self {
        Self {
            client: http::keyed_client(),
            download_client: http::download_client(),
            request_timeout,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Sends a request and returns the JSON body, or the mapped error.
async fn send_json(request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
    let response = request.send().await.map_err(http_error)?;
    let status = response.status().as_u16();
    let body = http::read_capped(response, http::MAX_JSON_BYTES).await?;
    let body = String::from_utf8_lossy(&body);
    if !(200..300).contains(&status) {
        return Err(status_error(status, &body));
    }
    serde_json::from_str(&body)
        .map_err(|e| ProviderError::Malformed(format!("the body is not JSON ({e})")))
}

/// Downloads an image from a URL the provider returned.
async fn download(http: &ProviderHttp, url: &str) -> Result<Vec<u8>, ProviderError> {
    let response = http
        .download_client
        .get(url)
        .timeout(http.request_timeout)
        .send()
        .await
        .map_err(http_error)?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(ProviderError::Http {
            status,
            message: "downloading the generated image failed".to_owned(),
        });
    }
    self::http::read_capped(response, self::http::MAX_IMAGE_BYTES).await
}

fn decode_base64(data: &str) -> Result<Vec<u8>, ProviderError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ProviderError::Malformed(format!("image data is not base64 ({e})")))
}

/// A generated image before it is checked and stored.
#[derive(Debug, Clone)]
pub struct GeneratedImage {
    pub bytes: Vec<u8>,
    /// Made by the fake provider.
    pub fake: bool,
}

/// Calls the real providers.
#[derive(Debug)]
pub struct RealProviders {
    pub http: ProviderHttp,
    pub base_urls: BTreeMap<ProviderKind, String>,
    pub keys: Arc<KeyResolver>,
    pub bedrock: bedrock::BedrockClients,
}

impl RealProviders {
    fn base(&self, provider: ProviderKind) -> &str {
        self.base_urls
            .get(&provider)
            .map(String::as_str)
            .or_else(|| provider.default_base_url())
            .unwrap_or_default()
    }

    async fn key(&self, provider: ProviderKind) -> Result<ApiKey, ProviderError> {
        Ok(self.keys.key(provider).await?)
    }

    pub async fn generate(
        &self,
        spec: &ModelSpec,
        prompt: &str,
        params: GenerationParams,
    ) -> Result<Vec<u8>, ProviderError> {
        let provider = spec.provider;
        let key = match provider {
            // Bedrock authenticates with the function's IAM role, not a key.
            ProviderKind::Bedrock => {
                return self.bedrock.generate(&spec.model, prompt, params).await;
            }
            other => self.key(other).await?,
        };
        let result = self.call(spec, prompt, &key).await;
        // A refused key may have been rotated (`pixelctl secrets set`): read it
        // again and retry once with the new one.
        if matches!(result, Err(ProviderError::Unauthorized(_)))
            && let Ok(Some(fresh)) = self.keys.replacement(provider, &key).await
        {
            tracing::info!(provider = %provider, "the provider refused the cached key; retrying with the key stored now");
            return self
                .call(spec, prompt, &fresh)
                .await
                .map_err(|e| scrub_error(scrub_error(e, &fresh), &key));
        }
        // A provider could echo the request in an error: never let the key through.
        result.map_err(|e| scrub_error(e, &key))
    }

    async fn call(
        &self,
        spec: &ModelSpec,
        prompt: &str,
        key: &ApiKey,
    ) -> Result<Vec<u8>, ProviderError> {
        let base = self.base(spec.provider);
        match spec.provider {
            ProviderKind::Openai | ProviderKind::Recraft => {
                openai::generate_image(&self.http, base, key, &spec.model, prompt).await
            }
            ProviderKind::Gemini => {
                google::gemini_image(&self.http, base, key, &spec.model, prompt).await
            }
            ProviderKind::Imagen => {
                google::imagen_image(&self.http, base, key, &spec.model, prompt).await
            }
            ProviderKind::Bfl => bfl::generate(&self.http, base, key, &spec.model, prompt).await,
            ProviderKind::Stability => {
                stability::generate(&self.http, base, key, &spec.model, prompt).await
            }
            ProviderKind::Bedrock => Err(ProviderError::Malformed(
                "bedrock has no HTTP client".into(),
            )),
        }
    }
}

fn scrub_error(error: ProviderError, key: &ApiKey) -> ProviderError {
    match error {
        ProviderError::ContentRefused(m) => ProviderError::ContentRefused(key.scrub(&m)),
        ProviderError::Malformed(m) => ProviderError::Malformed(key.scrub(&m)),
        ProviderError::Http { status, message } => ProviderError::Http {
            status,
            message: key.scrub(&message),
        },
        ProviderError::Network(m) => ProviderError::Network(key.scrub(&m)),
        other => other,
    }
}

/// Which backend generates images.
#[derive(Debug)]
pub enum Backend {
    Real(Box<RealProviders>),
    Fake(fake::FakeProvider),
}

/// The configured models and the backend that serves them.
#[derive(Debug)]
pub struct Generator {
    pub models: Vec<ModelSpec>,
    pub backend: Backend,
    pub model_timeout: Duration,
}

impl Generator {
    pub fn is_fake(&self) -> bool {
        matches!(self.backend, Backend::Fake(_))
    }

    /// Generates the image of model `index`, bounded by the per-model timeout.
    pub async fn generate(
        &self,
        index: usize,
        prompt: &str,
        params: GenerationParams,
    ) -> Result<GeneratedImage, ProviderError> {
        let Some(spec) = self.models.get(index) else {
            return Err(ProviderError::Malformed(format!(
                "no model at index {index}"
            )));
        };
        let work = async {
            match &self.backend {
                Backend::Real(real) => real
                    .generate(spec, prompt, params)
                    .await
                    .map(|bytes| GeneratedImage { bytes, fake: false }),
                Backend::Fake(fake) => Ok(GeneratedImage {
                    bytes: fake.generate(spec, prompt).await,
                    fake: true,
                }),
            }
        };
        tokio::time::timeout(self.model_timeout, work)
            .await
            .unwrap_or(Err(ProviderError::Timeout(self.model_timeout)))
    }
}
