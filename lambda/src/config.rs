//! Reads the Lambda's environment variables (set by the CloudFormation template) into
//! typed settings, so every other module works with checked values instead of strings.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Per-model timeout when `MODEL_TIMEOUT_SECONDS` is unset.
pub const DEFAULT_MODEL_TIMEOUT: Duration = Duration::from_secs(120);
/// `GLOBAL_RATE_LIMIT` when unset: requests per hour for the whole API.
pub const DEFAULT_GLOBAL_RATE_LIMIT: u32 = 1000;
/// `IP_RATE_LIMIT` when unset: requests per day for one source IP.
pub const DEFAULT_IP_RATE_LIMIT: u32 = 50;
/// `IMAGE_EXPIRY_DAYS` when unset.
pub const DEFAULT_IMAGE_EXPIRY_DAYS: u32 = 30;
/// `ENHANCE_GLOBAL_RATE_LIMIT` when unset: `/enhance` calls per hour for the whole API.
pub const DEFAULT_ENHANCE_GLOBAL_RATE_LIMIT: u32 = 500;
/// `ENHANCE_IP_RATE_LIMIT` when unset: `/enhance` calls per day for one source IP.
pub const DEFAULT_ENHANCE_IP_RATE_LIMIT: u32 = 50;

/// A configuration problem found at cold start; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable `{name}` is required but not set")]
    Missing { name: &'static str },
    #[error("environment variable `{name}` is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.to_string(),
    }
}

/// The deployment environment (`ENVIRONMENT`): any name the stack was deployed
/// with (`dev`, `prod`, `qa`, `pr-123`; the template's `EnvironmentName` says which
/// names a stack accepts). It names the metrics' `Environment` dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Environment(String);

impl Environment {
    /// `dev`, what local mode runs as unless told otherwise.
    pub fn dev() -> Self {
        Self("dev".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not an environment name (lower-case letters, digits and hyphens, starting with a letter)"
            ))
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which API serves a model. Chosen from the `provider` field, never from a display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Gemini,
    Imagen,
    Bfl,
    Recraft,
    Stability,
    Bedrock,
}

impl ProviderKind {
    pub const ALL: [Self; 7] = [
        Self::Openai,
        Self::Gemini,
        Self::Imagen,
        Self::Bfl,
        Self::Recraft,
        Self::Stability,
        Self::Bedrock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Gemini => "gemini",
            Self::Imagen => "imagen",
            Self::Bfl => "bfl",
            Self::Recraft => "recraft",
            Self::Stability => "stability",
            Self::Bedrock => "bedrock",
        }
    }

    /// The public base URL of the provider's HTTP API (`None` for Bedrock: the SDK
    /// resolves it from the region).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::Openai => Some("https://api.openai.com"),
            Self::Gemini | Self::Imagen => Some("https://generativelanguage.googleapis.com"),
            Self::Bfl => Some("https://api.bfl.ai"),
            Self::Recraft => Some("https://external.api.recraft.ai"),
            Self::Stability => Some("https://api.stability.ai"),
            Self::Bedrock => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `MODELS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub name: String,
    pub provider: ProviderKind,
    pub model: String,
}

/// `ENHANCE_MODEL`: the chat model behind `POST /enhance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnhanceSpec {
    pub provider: ProviderKind,
    pub model: String,
}

/// Where a provider's API key lives (a value of `PROVIDER_KEYS`). Never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// `ssm:/name`: an SSM SecureString parameter, read with decryption.
    Ssm(String),
    /// `secretsmanager:name`: a Secrets Manager secret's `SecretString`.
    SecretsManager(String),
    /// `env:NAME`: a variable of this process (local development only).
    Env(String),
}

impl FromStr for KeyLocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| "expected `ssm:NAME`, `secretsmanager:NAME` or `env:NAME`".to_owned())?;
        if rest.is_empty() {
            return Err("a key location needs a name after the colon".to_owned());
        }
        match scheme {
            "ssm" => Ok(Self::Ssm(rest.to_owned())),
            "secretsmanager" => Ok(Self::SecretsManager(rest.to_owned())),
            "env" => Ok(Self::Env(rest.to_owned())),
            // The text before the colon is not echoed: it could be part of a pasted key.
            _ => Err("unknown key location scheme (use ssm:, secretsmanager: or env:)".to_owned()),
        }
    }
}

impl fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ssm(n) => write!(f, "ssm:{n}"),
            Self::SecretsManager(n) => write!(f, "secretsmanager:{n}"),
            Self::Env(n) => write!(f, "env:{n}"),
        }
    }
}

/// Request limits (`GLOBAL_RATE_LIMIT`, `IP_RATE_LIMIT`, `IP_ALLOWLIST`, and for the
/// paid chat completion behind `/enhance` its own `ENHANCE_GLOBAL_RATE_LIMIT` and
/// `ENHANCE_IP_RATE_LIMIT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub global_per_hour: u32,
    pub ip_per_day: u32,
    pub ip_allowlist: Vec<IpAddr>,
    pub enhance_global_per_hour: u32,
    pub enhance_ip_per_day: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            global_per_hour: DEFAULT_GLOBAL_RATE_LIMIT,
            ip_per_day: DEFAULT_IP_RATE_LIMIT,
            ip_allowlist: Vec::new(),
            enhance_global_per_hour: DEFAULT_ENHANCE_GLOBAL_RATE_LIMIT,
            enhance_ip_per_day: DEFAULT_ENHANCE_IP_RATE_LIMIT,
        }
    }
}

/// Everything the API reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub models: Vec<ModelSpec>,
    pub provider_keys: BTreeMap<ProviderKind, KeyLocation>,
    pub enhance: Option<EnhanceSpec>,
    pub rate_limits: RateLimits,
    pub images_bucket: String,
    /// `https://{CLOUDFRONT_DOMAIN}` (or the value itself when it names its
    /// scheme): the prefix of every returned image URL.
    pub image_base_url: String,
    pub allowed_origins: Vec<String>,
    pub model_timeout: Duration,
    pub provider_base_urls: BTreeMap<ProviderKind, String>,
    /// `AWS_LAMBDA_FUNCTION_NAME`: this function.
    pub function_name: Option<String>,
    /// `WORKER_FUNCTION_NAME`: the function jobs are handed to (the stack's worker);
    /// this function itself when unset.
    pub worker_function_name: Option<String>,
    /// `WORKER_TIMEOUT_SECONDS`: the worker function's timeout, after which (plus a
    /// margin) `GET /status` reports an unfinished job failed. Default: the per-model
    /// timeout plus 60 s.
    pub worker_timeout: Duration,
    /// `IMAGE_EXPIRY_DAYS`: how long the bucket keeps images and gallery entries
    /// (default 30), the window the gallery's `total` counts.
    pub image_expiry_days: u32,
}

impl Settings {
    /// Reads the settings through `var` (the process environment in production, a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let require = |name: &'static str| get(name).ok_or(ConfigError::Missing { name });

        let environment = require("ENVIRONMENT")?
            .trim()
            .parse()
            .map_err(|e| invalid("ENVIRONMENT", e))?;
        let models = parse_models(&require("MODELS")?)?;
        let provider_keys = match get("PROVIDER_KEYS") {
            Some(raw) => parse_provider_keys(&raw)?,
            None => BTreeMap::new(),
        };
        let enhance = match get("ENHANCE_MODEL") {
            Some(raw) => Some(parse_enhance(&raw)?),
            None => None,
        };
        let rate_limits = RateLimits {
            global_per_hour: parse_number(
                "GLOBAL_RATE_LIMIT",
                get("GLOBAL_RATE_LIMIT"),
                DEFAULT_GLOBAL_RATE_LIMIT,
            )?,
            ip_per_day: parse_number("IP_RATE_LIMIT", get("IP_RATE_LIMIT"), DEFAULT_IP_RATE_LIMIT)?,
            ip_allowlist: parse_allowlist(get("IP_ALLOWLIST").as_deref().unwrap_or(""))?,
            enhance_global_per_hour: parse_number(
                "ENHANCE_GLOBAL_RATE_LIMIT",
                get("ENHANCE_GLOBAL_RATE_LIMIT"),
                DEFAULT_ENHANCE_GLOBAL_RATE_LIMIT,
            )?,
            enhance_ip_per_day: parse_number(
                "ENHANCE_IP_RATE_LIMIT",
                get("ENHANCE_IP_RATE_LIMIT"),
                DEFAULT_ENHANCE_IP_RATE_LIMIT,
            )?,
        };
        let images_bucket = require("IMAGES_BUCKET")?.trim().to_owned();
        let domain = require("CLOUDFRONT_DOMAIN")?;
        let image_base_url = cloudfront_base_url(&domain);
        let allowed_origins = parse_origins(get("ALLOWED_ORIGINS").as_deref().unwrap_or("*"));
        let timeout_secs =
            parse_number("MODEL_TIMEOUT_SECONDS", get("MODEL_TIMEOUT_SECONDS"), 120)?;
        if timeout_secs == 0 {
            return Err(invalid("MODEL_TIMEOUT_SECONDS", "must be at least 1"));
        }
        let model_timeout = Duration::from_secs(u64::from(timeout_secs));
        let provider_base_urls = match get("PROVIDER_BASE_URLS") {
            Some(raw) => parse_base_urls(&raw)?,
            None => BTreeMap::new(),
        };
        let worker_timeout = match get("WORKER_TIMEOUT_SECONDS") {
            Some(raw) => {
                let secs = parse_number("WORKER_TIMEOUT_SECONDS", Some(raw), 0)?;
                if u64::from(secs) <= model_timeout.as_secs() {
                    return Err(invalid(
                        "WORKER_TIMEOUT_SECONDS",
                        format!(
                            "{secs} s leaves no time after the {} s per-model timeout",
                            model_timeout.as_secs()
                        ),
                    ));
                }
                Duration::from_secs(u64::from(secs))
            }
            None => model_timeout + Duration::from_secs(60),
        };
        let image_expiry_days = parse_number(
            "IMAGE_EXPIRY_DAYS",
            get("IMAGE_EXPIRY_DAYS"),
            DEFAULT_IMAGE_EXPIRY_DAYS,
        )?
        .max(1);
        Ok(Self {
            environment,
            models,
            provider_keys,
            enhance,
            rate_limits,
            images_bucket,
            image_base_url,
            allowed_origins,
            model_timeout,
            provider_base_urls,
            function_name: get("AWS_LAMBDA_FUNCTION_NAME"),
            worker_function_name: get("WORKER_FUNCTION_NAME"),
            worker_timeout,
            image_expiry_days,
        })
    }
}

/// `https://{domain}`; a value that names its scheme keeps it, so a local AWS
/// can hand its functions `http://{id}.cloudfront.localhost:{port}`.
fn cloudfront_base_url(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('/');
    if domain.starts_with("https://") || domain.starts_with("http://") {
        domain.to_owned()
    } else {
        format!("https://{domain}")
    }
}

/// Parses `MODELS`: a non-empty JSON array of `{name, provider, model}`.
pub fn parse_models(raw: &str) -> Result<Vec<ModelSpec>, ConfigError> {
    let models: Vec<ModelSpec> = serde_json::from_str(raw).map_err(|e| invalid("MODELS", e))?;
    if models.is_empty() {
        return Err(invalid("MODELS", "the list of models is empty"));
    }
    if let Some(m) = models
        .iter()
        .find(|m| m.name.trim().is_empty() || m.model.trim().is_empty())
    {
        return Err(invalid(
            "MODELS",
            format!("a `{}` model has an empty name or model id", m.provider),
        ));
    }
    Ok(models)
}

/// Parses `ENHANCE_MODEL`; only `openai` and `gemini` serve chat.
pub fn parse_enhance(raw: &str) -> Result<EnhanceSpec, ConfigError> {
    let spec: EnhanceSpec = serde_json::from_str(raw).map_err(|e| invalid("ENHANCE_MODEL", e))?;
    match spec.provider {
        ProviderKind::Openai | ProviderKind::Gemini => Ok(spec),
        other => Err(invalid(
            "ENHANCE_MODEL",
            format!("provider `{other}` has no chat model; use openai or gemini"),
        )),
    }
}

/// Parses `PROVIDER_KEYS`: `{"openai": "ssm:/pixel-prompt/dev/openai", ...}`.
pub fn parse_provider_keys(raw: &str) -> Result<BTreeMap<ProviderKind, KeyLocation>, ConfigError> {
    let map: BTreeMap<ProviderKind, String> =
        serde_json::from_str(raw).map_err(|e| invalid("PROVIDER_KEYS", e))?;
    map.into_iter()
        .map(|(provider, location)| {
            location
                .parse()
                .map(|l| (provider, l))
                .map_err(|e| invalid("PROVIDER_KEYS", format!("`{provider}`: {e}")))
        })
        .collect()
}

/// Parses `PROVIDER_BASE_URLS`: `{"openai": "http://127.0.0.1:9000"}`.
pub fn parse_base_urls(raw: &str) -> Result<BTreeMap<ProviderKind, String>, ConfigError> {
    let map: BTreeMap<ProviderKind, String> =
        serde_json::from_str(raw).map_err(|e| invalid("PROVIDER_BASE_URLS", e))?;
    for (provider, url) in &map {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "PROVIDER_BASE_URLS",
                format!("`{provider}`: `{url}` is not an http(s) URL"),
            ));
        }
    }
    Ok(map
        .into_iter()
        .map(|(p, u)| (p, u.trim_end_matches('/').to_owned()))
        .collect())
}

fn parse_number(name: &'static str, raw: Option<String>, default: u32) -> Result<u32, ConfigError> {
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
                .map_err(|_| invalid("IP_ALLOWLIST", format!("`{s}` is not an IP address")))
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
    use std::collections::HashMap;

    fn base_env() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("ENVIRONMENT", "dev"),
            (
                "MODELS",
                r#"[{"name":"DALL-E 3","provider":"openai","model":"dall-e-3"},{"name":"Nova Canvas","provider":"bedrock","model":"amazon.nova-canvas-v1:0"}]"#,
            ),
            (
                "PROVIDER_KEYS",
                r#"{"openai":"ssm:/pixel-prompt/dev/openai","bfl":"secretsmanager:pixel-prompt/dev/bfl"}"#,
            ),
            (
                "ENHANCE_MODEL",
                r#"{"provider":"openai","model":"gpt-4o-mini"}"#,
            ),
            ("GLOBAL_RATE_LIMIT", "100"),
            ("IP_RATE_LIMIT", "20"),
            ("IP_ALLOWLIST", "10.0.0.1, ::1"),
            ("ENHANCE_GLOBAL_RATE_LIMIT", "40"),
            ("ENHANCE_IP_RATE_LIMIT", "4"),
            ("IMAGES_BUCKET", "bucket"),
            ("CLOUDFRONT_DOMAIN", "d111.cloudfront.net"),
            (
                "ALLOWED_ORIGINS",
                "http://localhost:5173,https://app.example.com/",
            ),
        ])
    }

    fn settings(env: &HashMap<&'static str, &'static str>) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|k| env.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn reads_the_template_contract() {
        let s = settings(&base_env()).unwrap();
        assert_eq!(s.environment, Environment::dev());
        assert_eq!(s.models.len(), 2);
        assert_eq!(s.models[1].provider, ProviderKind::Bedrock);
        assert_eq!(
            s.provider_keys[&ProviderKind::Openai],
            KeyLocation::Ssm("/pixel-prompt/dev/openai".into())
        );
        assert_eq!(
            s.provider_keys[&ProviderKind::Bfl],
            KeyLocation::SecretsManager("pixel-prompt/dev/bfl".into())
        );
        assert_eq!(s.rate_limits.global_per_hour, 100);
        assert_eq!(s.rate_limits.ip_per_day, 20);
        assert_eq!(s.rate_limits.ip_allowlist.len(), 2);
        assert_eq!(s.rate_limits.enhance_global_per_hour, 40);
        assert_eq!(s.rate_limits.enhance_ip_per_day, 4);
        assert_eq!(s.image_base_url, "https://d111.cloudfront.net");
        assert_eq!(
            s.allowed_origins,
            vec!["http://localhost:5173", "https://app.example.com"]
        );
        assert_eq!(s.model_timeout, DEFAULT_MODEL_TIMEOUT);
        assert_eq!(s.worker_timeout, Duration::from_secs(180));
        assert_eq!(s.image_expiry_days, 30);
        assert_eq!(s.worker_function_name, None);
    }

    #[test]
    fn worker_settings() {
        let mut env = base_env();
        env.insert("WORKER_FUNCTION_NAME", "pixel-prompt-dev-worker");
        env.insert("WORKER_TIMEOUT_SECONDS", "200");
        env.insert("IMAGE_EXPIRY_DAYS", "7");
        let s = settings(&env).unwrap();
        assert_eq!(
            s.worker_function_name.as_deref(),
            Some("pixel-prompt-dev-worker")
        );
        assert_eq!(s.worker_timeout, Duration::from_secs(200));
        assert_eq!(s.image_expiry_days, 7);
        env.insert("WORKER_TIMEOUT_SECONDS", "100");
        let err = settings(&env).unwrap_err().to_string();
        assert!(
            err.contains("WORKER_TIMEOUT_SECONDS") && err.contains("120 s"),
            "{err}"
        );
    }

    #[test]
    fn any_environment_name_is_accepted() {
        for name in ["dev", "prod", "qa", "pr-123"] {
            let mut env = base_env();
            env.insert("ENVIRONMENT", name);
            let settings = settings(&env).unwrap();
            assert_eq!(settings.environment.as_str(), name);
            assert_eq!(settings.environment.to_string(), name);
        }
    }

    #[test]
    fn rejects_bad_values_naming_the_variable() {
        let cases: [(&'static str, &'static str, &str); 9] = [
            ("MODEL_TIMEOUT_SECONDS", "0", "MODEL_TIMEOUT_SECONDS"),
            ("ENVIRONMENT", "QA 1", "ENVIRONMENT"),
            ("MODELS", "[]", "MODELS"),
            (
                "MODELS",
                r#"[{"name":"x","provider":"midjourney","model":"m"}]"#,
                "MODELS",
            ),
            (
                "PROVIDER_KEYS",
                r#"{"openai":"plaintext-key"}"#,
                "PROVIDER_KEYS",
            ),
            (
                "ENHANCE_MODEL",
                r#"{"provider":"bfl","model":"flux"}"#,
                "ENHANCE_MODEL",
            ),
            ("IP_ALLOWLIST", "not-an-ip", "IP_ALLOWLIST"),
            ("GLOBAL_RATE_LIMIT", "many", "GLOBAL_RATE_LIMIT"),
            ("ENHANCE_IP_RATE_LIMIT", "-1", "ENHANCE_IP_RATE_LIMIT"),
        ];
        for (name, value, expected) in cases {
            let mut env = base_env();
            env.insert(name, value);
            let err = settings(&env).unwrap_err().to_string();
            assert!(err.contains(expected), "{name}={value}: {err}");
            assert!(!err.contains("plaintext-key"), "a key leaked into: {err}");
        }
    }

    #[test]
    fn missing_required_variable_is_named() {
        let mut env = base_env();
        env.remove("IMAGES_BUCKET");
        assert_eq!(
            settings(&env).unwrap_err().to_string(),
            "environment variable `IMAGES_BUCKET` is required but not set"
        );
    }

    #[test]
    fn empty_allowlist_and_default_origins() {
        let mut env = base_env();
        env.insert("IP_ALLOWLIST", "");
        env.remove("ALLOWED_ORIGINS");
        let s = settings(&env).unwrap();
        assert!(s.rate_limits.ip_allowlist.is_empty());
        assert_eq!(s.allowed_origins, vec!["*"]);
    }

    #[test]
    fn image_base_url_adds_https_unless_a_scheme_is_named() {
        let cases = [
            ("d111.cloudfront.net", "https://d111.cloudfront.net"),
            (" d111.cloudfront.net/ ", "https://d111.cloudfront.net"),
            (
                "https://d111.cloudfront.net/",
                "https://d111.cloudfront.net",
            ),
            (
                "http://e2abc.cloudfront.localhost:4566",
                "http://e2abc.cloudfront.localhost:4566",
            ),
        ];
        for (domain, expected) in cases {
            assert_eq!(cloudfront_base_url(domain), expected, "{domain:?}");
        }
    }
}
