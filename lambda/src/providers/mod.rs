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

/// Why one model produced no image. The message is safe to show to users.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("provider rejected the API key or access (HTTP {0})")]
    Unauthorized(u16),
    /// Access needs a permission the caller lacks (e.g. AWS Marketplace's subscribe
    /// actions on a third-party Bedrock model's first use); the message says which.
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("provider rate limit or quota exceeded (HTTP 429)")]
    RateLimited,
    #[error("provider refused the prompt: {0}")]
    ContentRefused(String),
    #[error("provider returned an unexpected response: {0}")]
    Malformed(String),
    #[error("provider error (HTTP {status}): {message}")]
    Http { status: u16, message: String },
    #[error("could not reach the provider: {0}")]
    Network(String),
    #[error("timed out after {} s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("the provider did not answer in time")]
    NoAnswer,
    #[error("no API key: {0}")]
    MissingKey(String),
    #[error("provider returned data that is not a PNG, JPEG or WebP image")]
    NotAnImage,
}

impl ProviderError {
    /// The message `GET /status` shows, which anyone holding the job id can read:
    /// what failed in a user's terms. Never a key location or the AWS error text of a
    /// failed key read (account, role, parameter path), never network internals;
    /// ARNs and account ids in a provider's own words are blanked. The whole error
    /// goes to the log with the job and correlation ids.
    pub fn public_message(&self) -> String {
        match self {
            Self::MissingKey(_) => "the provider's API key could not be read".to_owned(),
            Self::Network(_) => "could not reach the provider".to_owned(),
            other => without_aws_identifiers(&other.to_string()),
        }
    }
}

/// `text` with ARNs and 12-digit account ids replaced by `[redacted]`.
fn without_aws_identifiers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, word) in text.split(' ').enumerate() {
        if index > 0 {
            out.push(' ');
        }
        let core = word.trim_matches(|c: char| "\"'`()[]{},;".contains(c));
        let is_account = core.len() == 12 && core.chars().all(|c| c.is_ascii_digit());
        if core.starts_with("arn:") || is_account {
            out.push_str(&word.replace(core, "[redacted]"));
        } else {
            out.push_str(word);
        }
    }
    out
}

impl From<KeyError> for ProviderError {
    fn from(e: KeyError) -> Self {
        Self::MissingKey(e.to_string())
    }
}

impl From<reqwest::Error> for ProviderError {
    fn from(e: reqwest::Error) -> Self {
        // `without_url`: a URL may carry a query the user should not see.
        let timed_out = e.is_timeout();
        let e = e.without_url();
        if timed_out {
            Self::NoAnswer
        } else if e.is_decode() {
            Self::Malformed(e.to_string())
        } else {
            Self::Network(error_chain(&e))
        }
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

/// Truncates a provider's message for display.
fn short(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// The human message inside a provider's error body.
fn provider_message(body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<Value>(body) {
        let candidates = [
            json.pointer("/error/message"),
            json.pointer("/message"),
            json.pointer("/detail"),
            json.pointer("/errors/0"),
            json.pointer("/error"),
            json.pointer("/name"),
        ];
        if let Some(text) = candidates.into_iter().flatten().find_map(Value::as_str) {
            return short(text);
        }
        if let Some(detail) = json.get("detail") {
            return short(&detail.to_string());
        }
    }
    if body.trim().is_empty() {
        "empty response body".to_owned()
    } else {
        short(body)
    }
}

fn mentions_refusal(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "content_policy",
        "content policy",
        "safety",
        "moderat",
        "content filter",
        "flagged",
        "nsfw",
        "blocked",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// Whether a 400 is a provider's way of saying the key is wrong: Google answers a bad
/// key with `400 INVALID_ARGUMENT` and an `ErrorInfo` whose reason is `API_KEY_INVALID`.
fn is_bad_key(body: &str) -> bool {
    body.contains("API_KEY_INVALID") || body.contains("API key not valid")
}

/// Maps a non-success HTTP answer to an error.
pub fn status_error(status: u16, body: &str) -> ProviderError {
    let message = provider_message(body);
    match status {
        401 => ProviderError::Unauthorized(status),
        400 if is_bad_key(body) => ProviderError::Unauthorized(status),
        403 if !mentions_refusal(body) => ProviderError::Unauthorized(status),
        429 => ProviderError::RateLimited,
        400 | 403 | 422 if mentions_refusal(body) => ProviderError::ContentRefused(message),
        _ => ProviderError::Http { status, message },
    }
}

/// Sends a request and returns the JSON body, or the mapped error.
async fn send_json(request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
    let response = request.send().await?;
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
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_messages_leave_out_what_only_operators_may_read() {
        let cases = [
            (
                ProviderError::MissingKey("could not read `ssm:/pixel-prompt/prod/openai-api-key`: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/pixel-prompt-prod-WorkerRole/x is not authorized".into()),
                "the provider's API key could not be read",
            ),
            (
                ProviderError::Network("error sending request: client error (Connect): tcp connect error: 10.0.3.7:443".into()),
                "could not reach the provider",
            ),
            (
                ProviderError::Http { status: 403, message: "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized (account 123456789012)".into() },
                "provider error (HTTP 403): User: [redacted] is not authorized (account [redacted])",
            ),
            (ProviderError::RateLimited, "provider rate limit or quota exceeded (HTTP 429)"),
            (
                ProviderError::ContentRefused("Your request was rejected by our safety system".into()),
                "provider refused the prompt: Your request was rejected by our safety system",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.public_message(), expected, "{error:?}");
        }
    }

    #[test]
    fn status_mapping() {
        let cases = [
            (
                401,
                r#"{"error":{"message":"Incorrect API key"}}"#,
                ProviderError::Unauthorized(401),
            ),
            (
                403,
                r#"{"message":"Forbidden"}"#,
                ProviderError::Unauthorized(403),
            ),
            (
                429,
                r#"{"error":{"message":"quota"}}"#,
                ProviderError::RateLimited,
            ),
            (
                400,
                r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#,
                ProviderError::Unauthorized(400),
            ),
            (
                400,
                r#"{"error":{"code":"content_policy_violation","message":"Your request was rejected by our safety system"}}"#,
                ProviderError::ContentRefused(
                    "Your request was rejected by our safety system".into(),
                ),
            ),
            (
                403,
                r#"{"name":"content_moderation","errors":["Your request was flagged by our content moderation system"]}"#,
                ProviderError::ContentRefused(
                    "Your request was flagged by our content moderation system".into(),
                ),
            ),
            (
                500,
                "<html>oops</html>",
                ProviderError::Http {
                    status: 500,
                    message: "<html>oops</html>".into(),
                },
            ),
            (
                400,
                r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#,
                ProviderError::Unauthorized(400),
            ),
            (
                400,
                r#"{"error":{"message":"Invalid size","code":"invalid_value"}}"#,
                ProviderError::Http {
                    status: 400,
                    message: "Invalid size".into(),
                },
            ),
            (
                502,
                "",
                ProviderError::Http {
                    status: 502,
                    message: "empty response body".into(),
                },
            ),
        ];
        for (status, body, expected) in cases {
            assert_eq!(status_error(status, body), expected, "{status} {body}");
        }
    }
}
