//! The values of the API's environment variables as the stack writes them: how
//! each is parsed and checked, with an error that names the variable. pixelctl
//! checks what it passes with the same functions.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::names::var;
use crate::{EnhanceSpec, KeyLocation, ModelSpec, ProviderKind};

/// A configuration problem found at cold start; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable `{name}` is required but not set")]
    Missing { name: &'static str },
    #[error("environment variable `{name}` is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub fn invalid(name: &'static str, reason: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.to_string(),
    }
}

/// Parses `MODELS`: a non-empty JSON array of `{name, provider, model}`.
pub fn parse_models(raw: &str) -> Result<Vec<ModelSpec>, ConfigError> {
    let models: Vec<ModelSpec> = serde_json::from_str(raw).map_err(|e| invalid(var::MODELS, e))?;
    if models.is_empty() {
        return Err(invalid(var::MODELS, "the list of models is empty"));
    }
    if let Some(m) = models
        .iter()
        .find(|m| m.name.trim().is_empty() || m.model.trim().is_empty())
    {
        return Err(invalid(
            var::MODELS,
            format!("a `{}` model has an empty name or model id", m.provider),
        ));
    }
    Ok(models)
}

/// Parses `ENHANCE_MODEL`; only `openai` and `gemini` serve chat.
pub fn parse_enhance(raw: &str) -> Result<EnhanceSpec, ConfigError> {
    let spec: EnhanceSpec =
        serde_json::from_str(raw).map_err(|e| invalid(var::ENHANCE_MODEL, e))?;
    if spec.provider.can_enhance() {
        Ok(spec)
    } else {
        Err(invalid(
            var::ENHANCE_MODEL,
            format!(
                "provider `{}` has no chat model; use openai or gemini",
                spec.provider
            ),
        ))
    }
}

/// Parses `PROVIDER_KEYS`: `{"openai": "ssm:/pixel-prompt/dev/openai", ...}`.
pub fn parse_provider_keys(raw: &str) -> Result<BTreeMap<ProviderKind, KeyLocation>, ConfigError> {
    let map: BTreeMap<ProviderKind, String> =
        serde_json::from_str(raw).map_err(|e| invalid(var::PROVIDER_KEYS, e))?;
    map.into_iter()
        .map(|(provider, location)| {
            location
                .parse()
                .map(|l| (provider, l))
                .map_err(|e| invalid(var::PROVIDER_KEYS, format!("`{provider}`: {e}")))
        })
        .collect()
}

/// Parses `PROVIDER_BASE_URLS`: `{"openai": "http://127.0.0.1:9000"}`.
pub fn parse_base_urls(raw: &str) -> Result<BTreeMap<ProviderKind, String>, ConfigError> {
    let map: BTreeMap<ProviderKind, String> =
        serde_json::from_str(raw).map_err(|e| invalid(var::PROVIDER_BASE_URLS, e))?;
    map.into_iter()
        .map(|(provider, url)| {
            base_url(provider, &url)
                .map(|url| (provider, url))
                .map_err(|reason| invalid(var::PROVIDER_BASE_URLS, reason))
        })
        .collect()
}

/// One provider's base URL: an http(s) URL, without a trailing `/`.
pub fn base_url(provider: ProviderKind, url: &str) -> Result<String, String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(format!("`{provider}`: `{url}` is not an http(s) URL"))
    }
}

pub fn parse_number(
    name: &'static str,
    raw: Option<String>,
    default: u32,
) -> Result<u32, ConfigError> {
    match raw {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| invalid(name, format!("`{v}` is not a whole number"))),
    }
}

/// Parses `IP_ALLOWLIST` (comma-separated, may be empty).
pub fn parse_allowlist(raw: &str) -> Result<Vec<IpAddr>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| invalid(var::IP_ALLOWLIST, format!("`{s}` is not an IP address")))
        })
        .collect()
}

/// Parses `ALLOWED_ORIGINS` (comma-separated; `*` allows any origin).
pub fn parse_origins(raw: &str) -> Vec<String> {
    let origins: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if origins.is_empty() {
        vec!["*".to_owned()]
    } else {
        origins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_variable() {
        // (parser, raw value, expected message)
        type Parser = fn(&str) -> Result<(), ConfigError>;
        let cases: [(Parser, &str, &str); 7] = [
            (
                |raw| parse_models(raw).map(drop),
                "[]",
                "environment variable `MODELS` is not valid: the list of models is empty",
            ),
            (
                |raw| parse_models(raw).map(drop),
                r#"[{"name":" ","provider":"openai","model":"m"}]"#,
                "environment variable `MODELS` is not valid: a `openai` model has an empty name or model id",
            ),
            (
                |raw| parse_enhance(raw).map(drop),
                r#"{"provider":"bfl","model":"flux"}"#,
                "environment variable `ENHANCE_MODEL` is not valid: provider `bfl` has no chat model; use openai or gemini",
            ),
            (
                |raw| parse_provider_keys(raw).map(drop),
                r#"{"openai":"plaintext-key"}"#,
                "environment variable `PROVIDER_KEYS` is not valid: `openai`: expected `ssm:NAME`, `secretsmanager:NAME` or `env:NAME`",
            ),
            (
                |raw| parse_base_urls(raw).map(drop),
                r#"{"openai":"ftp://x"}"#,
                "environment variable `PROVIDER_BASE_URLS` is not valid: `openai`: `ftp://x` is not an http(s) URL",
            ),
            (
                |raw| parse_allowlist(raw).map(drop),
                "10.0.0.1, nope",
                "environment variable `IP_ALLOWLIST` is not valid: `nope` is not an IP address",
            ),
            (
                |raw| parse_number("GLOBAL_RATE_LIMIT", Some(raw.to_owned()), 1).map(drop),
                "many",
                "environment variable `GLOBAL_RATE_LIMIT` is not valid: `many` is not a whole number",
            ),
        ];
        for (parse, raw, expected) in cases {
            let message = parse(raw).map_err(|e| e.to_string());
            assert_eq!(message, Err(expected.to_owned()), "{raw}");
        }
    }

    #[test]
    fn accepted_values() {
        assert_eq!(
            parse_base_urls(r#"{"openai":"http://127.0.0.1:9000/"}"#).unwrap(),
            BTreeMap::from([(ProviderKind::Openai, "http://127.0.0.1:9000".to_owned())])
        );
        assert_eq!(parse_allowlist(" ").unwrap(), Vec::<IpAddr>::new());
        assert_eq!(parse_origins(""), vec!["*"]);
        assert_eq!(
            parse_origins("http://a:1/, https://b"),
            vec!["http://a:1", "https://b"]
        );
        assert_eq!(
            parse_provider_keys(r#"{"bfl":"secretsmanager:x"}"#).unwrap(),
            BTreeMap::from([(ProviderKind::Bfl, KeyLocation::SecretsManager("x".into()))])
        );
    }
}
