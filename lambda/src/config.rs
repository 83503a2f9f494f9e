//! Reads the Lambda's environment variables (set by the CloudFormation template) into
//! typed settings, so every other module works with checked values instead of strings.
//! The types and the parsing of each variable are the contract crate's, shared with pixelctl.

use std::collections::BTreeMap;
use std::time::Duration;

pub use pixel_prompt_contract::limits::{
    DEFAULT_ENHANCE_GLOBAL_RATE_LIMIT, DEFAULT_ENHANCE_IP_RATE_LIMIT, DEFAULT_GLOBAL_RATE_LIMIT,
    DEFAULT_IP_RATE_LIMIT,
};
use pixel_prompt_contract::names::var;
pub use pixel_prompt_contract::variables::{
    ConfigError, parse_allowlist, parse_base_urls, parse_enhance, parse_models, parse_origins,
    parse_provider_keys,
};
use pixel_prompt_contract::variables::{invalid, parse_number};
pub use pixel_prompt_contract::{
    EnhanceSpec, EnvironmentName, KeyLocation, ModelSpec, ProviderKind, RateLimits,
};

/// Per-model timeout when `MODEL_TIMEOUT_SECONDS` is unset.
pub const DEFAULT_MODEL_TIMEOUT: Duration = Duration::from_mins(2);
/// `IMAGE_EXPIRY_DAYS` when unset.
pub const DEFAULT_IMAGE_EXPIRY_DAYS: u32 = 30;

/// Everything the API reads from its environment.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub environment: EnvironmentName,
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

impl ApiConfig {
    /// Reads the settings through `var` (the process environment in production, a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let require = |name: &'static str| get(name).ok_or(ConfigError::Missing { name });

        let environment = require(var::ENVIRONMENT)?
            .trim()
            .parse()
            .map_err(|e| invalid(var::ENVIRONMENT, e))?;
        let models = parse_models(&require(var::MODELS)?)?;
        let provider_keys = match get(var::PROVIDER_KEYS) {
            Some(raw) => parse_provider_keys(&raw)?,
            None => BTreeMap::new(),
        };
        let enhance = match get(var::ENHANCE_MODEL) {
            Some(raw) => Some(parse_enhance(&raw)?),
            None => None,
        };
        let rate_limits = RateLimits {
            global_per_hour: parse_number(
                var::GLOBAL_RATE_LIMIT,
                get(var::GLOBAL_RATE_LIMIT),
                DEFAULT_GLOBAL_RATE_LIMIT,
            )?,
            per_ip_per_day: parse_number(
                var::IP_RATE_LIMIT,
                get(var::IP_RATE_LIMIT),
                DEFAULT_IP_RATE_LIMIT,
            )?,
            ip_allowlist: parse_allowlist(get(var::IP_ALLOWLIST).as_deref().unwrap_or(""))?,
            enhance_global_per_hour: parse_number(
                var::ENHANCE_GLOBAL_RATE_LIMIT,
                get(var::ENHANCE_GLOBAL_RATE_LIMIT),
                DEFAULT_ENHANCE_GLOBAL_RATE_LIMIT,
            )?,
            enhance_per_ip_per_day: parse_number(
                var::ENHANCE_IP_RATE_LIMIT,
                get(var::ENHANCE_IP_RATE_LIMIT),
                DEFAULT_ENHANCE_IP_RATE_LIMIT,
            )?,
        };
        let images_bucket = require(var::IMAGES_BUCKET)?.trim().to_owned();
        let domain = require(var::CLOUDFRONT_DOMAIN)?;
        let image_base_url = cloudfront_base_url(&domain);
        let allowed_origins = parse_origins(get(var::ALLOWED_ORIGINS).as_deref().unwrap_or("*"));
        let timeout_secs = parse_number(
            var::MODEL_TIMEOUT_SECONDS,
            get(var::MODEL_TIMEOUT_SECONDS),
            120,
        )?;
        if timeout_secs == 0 {
            return Err(invalid(var::MODEL_TIMEOUT_SECONDS, "must be at least 1"));
        }
        let model_timeout = Duration::from_secs(u64::from(timeout_secs));
        let provider_base_urls = match get(var::PROVIDER_BASE_URLS) {
            Some(raw) => parse_base_urls(&raw)?,
            None => BTreeMap::new(),
        };
        let worker_timeout = match get(var::WORKER_TIMEOUT_SECONDS) {
            Some(raw) => {
                let secs = parse_number(var::WORKER_TIMEOUT_SECONDS, Some(raw), 0)?;
                if u64::from(secs) <= model_timeout.as_secs() {
                    return Err(invalid(
                        var::WORKER_TIMEOUT_SECONDS,
                        format!(
                            "{secs} s leaves no time after the {} s per-model timeout",
                            model_timeout.as_secs()
                        ),
                    ));
                }
                Duration::from_secs(u64::from(secs))
            }
            None => model_timeout + Duration::from_mins(1),
        };
        let image_expiry_days = parse_number(
            var::IMAGE_EXPIRY_DAYS,
            get(var::IMAGE_EXPIRY_DAYS),
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
            function_name: get(var::AWS_LAMBDA_FUNCTION_NAME),
            worker_function_name: get(var::WORKER_FUNCTION_NAME),
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

    fn settings(env: &HashMap<&'static str, &'static str>) -> Result<ApiConfig, ConfigError> {
        ApiConfig::from_lookup(|k| env.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn reads_the_template_contract() {
        let s = settings(&base_env()).unwrap();
        assert_eq!(s.environment, EnvironmentName::dev());
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
        assert_eq!(s.rate_limits.per_ip_per_day, 20);
        assert_eq!(s.rate_limits.ip_allowlist.len(), 2);
        assert_eq!(s.rate_limits.enhance_global_per_hour, 40);
        assert_eq!(s.rate_limits.enhance_per_ip_per_day, 4);
        assert_eq!(s.image_base_url, "https://d111.cloudfront.net");
        assert_eq!(
            s.allowed_origins,
            vec!["http://localhost:5173", "https://app.example.com"]
        );
        assert_eq!(s.model_timeout, DEFAULT_MODEL_TIMEOUT);
        assert_eq!(s.worker_timeout, Duration::from_mins(3));
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
