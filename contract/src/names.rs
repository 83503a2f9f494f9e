//! The names between deployer, template and API: the stack parameters pixelctl
//! fills and the environment variables the template passes them on as, which the
//! API reads. `templates/pixel-prompt.yaml` spells them too (pixelctl's template
//! tests hold it to [`API_VARIABLES`] and [`WORKER_VARIABLES`]).

/// Environment variables the API reads.
pub mod var {
    pub const ENVIRONMENT: &str = "ENVIRONMENT";
    pub const MODELS: &str = "MODELS";
    pub const ENHANCE_MODEL: &str = "ENHANCE_MODEL";
    pub const PROVIDER_KEYS: &str = "PROVIDER_KEYS";
    pub const PROVIDER_BASE_URLS: &str = "PROVIDER_BASE_URLS";
    pub const GLOBAL_RATE_LIMIT: &str = "GLOBAL_RATE_LIMIT";
    pub const IP_RATE_LIMIT: &str = "IP_RATE_LIMIT";
    pub const IP_ALLOWLIST: &str = "IP_ALLOWLIST";
    pub const ENHANCE_GLOBAL_RATE_LIMIT: &str = "ENHANCE_GLOBAL_RATE_LIMIT";
    pub const ENHANCE_IP_RATE_LIMIT: &str = "ENHANCE_IP_RATE_LIMIT";
    pub const IMAGES_BUCKET: &str = "IMAGES_BUCKET";
    pub const IMAGE_EXPIRY_DAYS: &str = "IMAGE_EXPIRY_DAYS";
    pub const CLOUDFRONT_DOMAIN: &str = "CLOUDFRONT_DOMAIN";
    pub const ALLOWED_ORIGINS: &str = "ALLOWED_ORIGINS";
    pub const MODEL_TIMEOUT_SECONDS: &str = "MODEL_TIMEOUT_SECONDS";
    pub const WORKER_FUNCTION_NAME: &str = "WORKER_FUNCTION_NAME";
    pub const WORKER_TIMEOUT_SECONDS: &str = "WORKER_TIMEOUT_SECONDS";
    /// Set by Lambda itself.
    pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
}

/// Stack parameters pixelctl fills from an environment file.
pub mod parameter {
    pub const ENVIRONMENT_NAME: &str = "EnvironmentName";
    pub const MODELS_JSON: &str = "ModelsJson";
    pub const ENHANCE_MODEL_JSON: &str = "EnhanceModelJson";
    /// Every key location the environment's models use (the worker's).
    pub const PROVIDER_KEYS_JSON: &str = "ProviderKeysJson";
    /// The key location of the chat model behind `/enhance` (the API function's).
    pub const API_PROVIDER_KEYS_JSON: &str = "ApiProviderKeysJson";
    pub const GLOBAL_RATE_LIMIT_PER_HOUR: &str = "GlobalRateLimitPerHour";
    pub const IP_RATE_LIMIT_PER_DAY: &str = "IpRateLimitPerDay";
    pub const ENHANCE_GLOBAL_RATE_LIMIT_PER_HOUR: &str = "EnhanceGlobalRateLimitPerHour";
    pub const ENHANCE_IP_RATE_LIMIT_PER_DAY: &str = "EnhanceIpRateLimitPerDay";
    pub const IP_ALLOW_LIST: &str = "IpAllowList";
    pub const IMAGE_EXPIRY_DAYS: &str = "ImageExpiryDays";
    pub const WORKER_TIMEOUT_SECONDS: &str = "WorkerTimeoutSeconds";
}

/// The API function's variables that come straight from a parameter (`Ref`).
pub const API_VARIABLES: [(&str, &str); 11] = [
    (var::ENVIRONMENT, parameter::ENVIRONMENT_NAME),
    (var::MODELS, parameter::MODELS_JSON),
    (var::ENHANCE_MODEL, parameter::ENHANCE_MODEL_JSON),
    (var::PROVIDER_KEYS, parameter::API_PROVIDER_KEYS_JSON),
    (
        var::GLOBAL_RATE_LIMIT,
        parameter::GLOBAL_RATE_LIMIT_PER_HOUR,
    ),
    (var::IP_RATE_LIMIT, parameter::IP_RATE_LIMIT_PER_DAY),
    (
        var::ENHANCE_GLOBAL_RATE_LIMIT,
        parameter::ENHANCE_GLOBAL_RATE_LIMIT_PER_HOUR,
    ),
    (
        var::ENHANCE_IP_RATE_LIMIT,
        parameter::ENHANCE_IP_RATE_LIMIT_PER_DAY,
    ),
    (var::IP_ALLOWLIST, parameter::IP_ALLOW_LIST),
    (var::IMAGE_EXPIRY_DAYS, parameter::IMAGE_EXPIRY_DAYS),
    (
        var::WORKER_TIMEOUT_SECONDS,
        parameter::WORKER_TIMEOUT_SECONDS,
    ),
];

/// The worker function's variables that come straight from a parameter (`Ref`).
pub const WORKER_VARIABLES: [(&str, &str); 5] = [
    (var::ENVIRONMENT, parameter::ENVIRONMENT_NAME),
    (var::MODELS, parameter::MODELS_JSON),
    (var::PROVIDER_KEYS, parameter::PROVIDER_KEYS_JSON),
    (var::IMAGE_EXPIRY_DAYS, parameter::IMAGE_EXPIRY_DAYS),
    (
        var::WORKER_TIMEOUT_SECONDS,
        parameter::WORKER_TIMEOUT_SECONDS,
    ),
];
