//! Why one model produced no image, in words safe to show users: the error every
//! provider client returns, and how a provider's non-success HTTP answer maps to
//! it. pixelctl maps a provider's answer to its model-list request the same way.

use std::time::Duration;

use serde_json::Value;

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

/// Truncates a provider's message for display.
pub fn short(text: &str) -> String {
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

pub fn mentions_refusal(text: &str) -> bool {
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
