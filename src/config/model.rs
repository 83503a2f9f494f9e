//! The shape of an environment: what a file may say (`EnvFile`, every key
//! optional so files can layer) and what a resolved environment is (`Environment`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use pixel_prompt_contract::{EnhanceSpec, KeyLocation, ModelSpec, ProviderKind, RateLimits};

/// How CloudFormation applies a change set: `express` finishes once the
/// configuration is applied (no stabilisation wait, no automatic rollback),
/// `standard` waits and rolls back a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployMode {
    Express,
    Standard,
}

/// One environment file as written: every key optional, unknown keys refused.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    /// Another environment file (its name, without `.yaml`) this one layers over.
    #[expect(
        dead_code,
        reason = "followed while layering (from the YAML value); declared so unknown keys are still refused"
    )]
    pub extends: Option<String>,
    /// Makes this file a base that is no environment of its own: any name matching
    /// this pattern (`*` for any text, e.g. `pr-*`) is an environment made from it.
    pub instances: Option<String>,
    pub stack_name: Option<String>,
    pub region: Option<String>,
    pub architecture: Option<Architecture>,
    pub confirm_changes: Option<bool>,
    pub termination_protection: Option<bool>,
    pub hotswap: Option<bool>,
    pub deploy_mode: Option<DeployMode>,
    pub build_profile: Option<String>,
    pub lambda: Option<LambdaFile>,
    pub worker: Option<WorkerFile>,
    pub rate_limits: Option<RateLimitsFile>,
    pub api: Option<ApiFile>,
    pub images: Option<ImagesFile>,
    pub cdn: Option<CdnFile>,
    pub alarms: Option<AlarmsFile>,
    pub budget: Option<BudgetFile>,
    pub tags: Option<BTreeMap<String, String>>,
    pub providers: Option<BTreeMap<ProviderKind, ProviderFile>>,
    pub enhance: Option<EnhanceSpec>,
    pub model_count: Option<u32>,
    pub models: Option<Vec<ModelSpec>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaFile {
    pub memory_mb: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub reserved_concurrency: Option<u32>,
    pub log_retention_days: Option<u32>,
}

/// The generation worker: its own function, timeout and concurrency.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerFile {
    pub memory_mb: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub reserved_concurrency: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsFile {
    pub global_per_hour: Option<u32>,
    pub per_ip_per_day: Option<u32>,
    pub ip_allowlist: Option<Vec<String>>,
    pub enhance_global_per_hour: Option<u32>,
    pub enhance_per_ip_per_day: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFile {
    pub cors_origins: Option<Vec<String>>,
    pub throttle_burst: Option<u32>,
    pub throttle_rate: Option<u32>,
    pub paid_throttle_burst: Option<u32>,
    pub paid_throttle_rate: Option<f64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesFile {
    pub expiry_days: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnFile {
    pub price_class: Option<PriceClass>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmsFile {
    pub email: Option<String>,
    pub errors_threshold: Option<u32>,
    pub api_5xx_threshold: Option<u32>,
    pub api_p95_ms: Option<u32>,
    pub worker_p95_ms: Option<u32>,
    pub failed_generations_percent: Option<u32>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFile {
    pub monthly_usd: Option<u32>,
    pub by_environment_tag: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub api_key: ApiKeyFile,
}

/// `api_key: { ssm: NAME }` or `api_key: { secrets_manager: ID }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyFile {
    pub ssm: Option<String>,
    pub secrets_manager: Option<String>,
}

impl ApiKeyFile {
    /// The one location named, with `{env}` replaced by `environment`, or `None`
    /// when none or both are.
    pub fn location(self, environment: &str) -> Option<KeyLocation> {
        let expand = |name: String| name.replace("{env}", environment);
        match (self.ssm, self.secrets_manager) {
            (Some(name), None) => Some(KeyLocation::Ssm(expand(name))),
            (None, Some(id)) => Some(KeyLocation::SecretsManager(expand(id))),
            _ => None,
        }
    }
}

/// A resolved environment: every value known, checked and ready to render.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    /// The file the environment comes from, as a user sees it (`environments/qa.yaml`;
    /// for an instance of a base file, the base file).
    pub file: std::path::PathBuf,
    pub stack_name: String,
    pub region: String,
    pub architecture: Architecture,
    pub confirm_changes: bool,
    pub termination_protection: bool,
    /// Whether `deploy --hotswap` may replace the functions' code outside CloudFormation.
    pub hotswap: bool,
    /// How CloudFormation applies this environment's change sets.
    pub deploy_mode: DeployMode,
    /// The Cargo profile the Lambda is built with for this environment.
    pub build_profile: String,
    pub lambda: LambdaSettings,
    pub worker: WorkerSettings,
    pub rate_limits: RateLimits,
    pub api: ApiSettings,
    pub images: ImageSettings,
    pub cdn: CdnSettings,
    pub alarms: AlarmSettings,
    pub budget: BudgetSettings,
    pub tags: BTreeMap<String, String>,
    pub providers: BTreeMap<ProviderKind, KeyLocation>,
    pub enhance: EnhanceSpec,
    pub model_count: u32,
    pub models: Vec<ModelSpec>,
    /// What is valid but not recommended (`pixelctl validate` shows it).
    #[serde(skip)]
    pub advice: Vec<super::Problem>,
}

impl Environment {
    /// The path under which this environment's keys must live (`pixel-prompt/dev`).
    pub fn secrets_path(&self) -> String {
        secrets_path(&self.name)
    }
}

/// The path under which an environment's keys must live; the Lambda's IAM
/// policy grants reads below it and nowhere else.
pub fn secrets_path(environment: &str) -> String {
    format!("pixel-prompt/{environment}")
}

#[derive(Debug, Clone, Serialize)]
pub struct LambdaSettings {
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub reserved_concurrency: u32,
    pub log_retention_days: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerSettings {
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub reserved_concurrency: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiSettings {
    pub cors_origins: Vec<String>,
    pub throttle_burst: u32,
    pub throttle_rate: u32,
    /// Per-route throttling of `POST /generate` and `POST /enhance`, each.
    pub paid_throttle_burst: u32,
    pub paid_throttle_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageSettings {
    pub expiry_days: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CdnSettings {
    pub price_class: PriceClass,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlarmSettings {
    pub email: Option<String>,
    pub errors_threshold: u32,
    pub api_5xx_threshold: u32,
    pub api_p95_ms: u32,
    pub worker_p95_ms: u32,
    pub failed_generations_percent: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct BudgetSettings {
    pub monthly_usd: u32,
    pub by_environment_tag: bool,
}

/// The Lambda's instruction set, spelled as CloudFormation spells it: the
/// packaging step's own type, so what the file says is what gets built.
pub use crate::package::Architecture;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum PriceClass {
    #[serde(rename = "PriceClass_100")]
    Class100,
    #[serde(rename = "PriceClass_200")]
    Class200,
    #[serde(rename = "PriceClass_All")]
    All,
}

impl PriceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Class100 => "PriceClass_100",
            Self::Class200 => "PriceClass_200",
            Self::All => "PriceClass_All",
        }
    }
}
