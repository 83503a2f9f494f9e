//! The CloudFormation template and the parameters that make it one
//! environment's stack. Pure: no AWS, no terminal.

use pixel_prompt_contract::names::parameter;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_norway::Value;

use crate::config::{Environment, Problem};
use crate::error::{CommandError, CommandResult};
use crate::project::Project;

/// The template file, relative to the project root.
pub const TEMPLATE_FILE: &str = "templates/pixel-prompt.yaml";

/// Outputs the deployer and the frontend depend on.
pub const REQUIRED_OUTPUTS: [&str; 5] = [
    "ApiEndpoint",
    "CloudFrontDomain",
    "DistributionId",
    "ImagesBucket",
    "FunctionName",
];

/// CloudFormation's limit for a template passed inline as `TemplateBody`.
pub const MAX_INLINE_TEMPLATE_BYTES: usize = 51_200;

/// Lambda's limit on the total size of a function's environment variables.
const MAX_LAMBDA_ENV_BYTES: usize = 4096;

/// Shown for the artifact until `pixelctl build` or a deploy has made one.
pub const PLACEHOLDER_BUCKET: &str = "pixelctl-artifacts-not-yet-created";
pub const PLACEHOLDER_KEY: &str = "artifacts/not-yet-built.zip";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not valid YAML: {message}")]
    Syntax { path: PathBuf, message: String },
}

/// A declared template parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateParameter {
    pub name: String,
    pub no_echo: bool,
    pub has_default: bool,
    /// What CloudFormation will check the value against, read from the template.
    pub constraints: ParameterConstraints,
}

/// A parameter's `AllowedValues`, `AllowedPattern`, `MinLength`/`MaxLength` and
/// `MinValue`/`MaxValue`, as the template declares them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParameterConstraints {
    pub allowed_values: Option<Vec<String>>,
    pub allowed_pattern: Option<String>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub description: Option<String>,
}

impl ParameterConstraints {
    fn read(declaration: &Value) -> Self {
        let scalar = |value: &Value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        };
        let text = |key: &str| declaration.get(key).and_then(scalar);
        Self {
            allowed_values: declaration
                .get("AllowedValues")
                .and_then(Value::as_sequence)
                .map(|values| values.iter().filter_map(scalar).collect()),
            allowed_pattern: text("AllowedPattern"),
            min_length: text("MinLength").and_then(|value| value.parse().ok()),
            max_length: text("MaxLength").and_then(|value| value.parse().ok()),
            min_value: text("MinValue").and_then(|value| value.parse().ok()),
            max_value: text("MaxValue").and_then(|value| value.parse().ok()),
            description: text("ConstraintDescription"),
        }
    }

    /// Why CloudFormation would refuse `value`, or `None`. Pure.
    pub fn violation(&self, value: &str) -> Option<String> {
        if let Some(allowed) = &self.allowed_values
            && !allowed.iter().any(|allowed| allowed == value)
        {
            return Some(format!("is not one of {}", allowed.join(", ")));
        }
        if let Some(pattern) = &self.allowed_pattern {
            // CloudFormation matches the whole value.
            let whole = format!(
                "^(?:{})$",
                pattern.trim_start_matches('^').trim_end_matches('$')
            );
            match regex_lite::Regex::new(&whole) {
                Ok(regex) if !regex.is_match(value) => {
                    return Some(format!("does not match the pattern `{pattern}`"));
                }
                _ => {}
            }
        }
        let length = value.chars().count();
        if let Some(min) = self.min_length
            && length < min
        {
            return Some(format!("is shorter than {min} characters"));
        }
        if let Some(max) = self.max_length
            && length > max
        {
            return Some(format!("is longer than {max} characters"));
        }
        if self.min_value.is_some() || self.max_value.is_some() {
            let Ok(number) = value.parse::<f64>() else {
                return Some("is not a number".to_owned());
            };
            if let Some(min) = self.min_value
                && number < min
            {
                return Some(format!("is less than {min}"));
            }
            if let Some(max) = self.max_value
                && number > max
            {
                return Some(format!("is more than {max}"));
            }
        }
        None
    }
}

/// The template as read from disk, plus what pixelctl needs to know about it.
#[derive(Debug, Clone)]
pub struct Template {
    pub path: PathBuf,
    pub body: String,
    pub parameters: Vec<TemplateParameter>,
    pub outputs: Vec<String>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let body = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, body)
    }

    pub fn parse(path: &Path, body: String) -> Result<Self, TemplateError> {
        let document: Value =
            serde_norway::from_str(&body).map_err(|error| TemplateError::Syntax {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
        let section = |name: &str| -> Vec<(String, Value)> {
            document
                .get(name)
                .and_then(Value::as_mapping)
                .map(|mapping| {
                    mapping
                        .iter()
                        .filter_map(|(key, value)| Some((key.as_str()?.to_owned(), value.clone())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let parameters = section("Parameters")
            .into_iter()
            .map(|(name, declaration)| TemplateParameter {
                no_echo: is_true(declaration.get("NoEcho")),
                has_default: declaration.get("Default").is_some(),
                constraints: ParameterConstraints::read(&declaration),
                name,
            })
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            parameters,
            outputs: section("Outputs")
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
            body,
        })
    }

    /// Names of the parameters whose values must never be shown.
    pub fn secret_parameters(&self) -> Vec<&str> {
        self.parameters
            .iter()
            .filter(|parameter| parameter.no_echo)
            .map(|parameter| parameter.name.as_str())
            .collect()
    }

    /// Problems with the template itself, independent of any environment.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut report = |message: String, hint: Option<String>| {
            problems.push(Problem {
                file: self.path.clone(),
                line: None,
                key: String::new(),
                message,
                hint,
            });
        };
        for output in REQUIRED_OUTPUTS {
            if !self.outputs.iter().any(|name| name == output) {
                report(
                    format!("declares no output `{output}`"),
                    Some("pixelctl reads it to write frontend/.env and check health".to_owned()),
                );
            }
        }
        if self.body.len() > MAX_INLINE_TEMPLATE_BYTES {
            report(
                format!(
                    "is {} bytes, over CloudFormation's {MAX_INLINE_TEMPLATE_BYTES}-byte limit for an inline template",
                    self.body.len()
                ),
                Some("shorten descriptions or split the stack".to_owned()),
            );
        }
        problems
    }

    /// Values CloudFormation would refuse by the template's own parameter constraints,
    /// found before anything is built or uploaded. The artifact's placeholders
    /// (offline renders) and `NoEcho` values (never shown) are not checked here.
    pub fn constraint_problems(
        &self,
        parameters: &Parameters,
        environment: &str,
        environment_file: &Path,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        for declared in &self.parameters {
            let Some(value) = parameters.values.get(&declared.name) else {
                continue;
            };
            if declared.no_echo || value == PLACEHOLDER_BUCKET || value == PLACEHOLDER_KEY {
                continue;
            }
            let Some(violation) = declared.constraints.violation(value) else {
                continue;
            };
            let what = if declared.name == "EnvironmentName" {
                "use another environment name (the file's name, or the name you typed)"
            } else {
                "change the value in the environment's files"
            };
            let hint = match &declared.constraints.description {
                Some(description) => format!("{what}: {description}"),
                None => what.to_owned(),
            };
            problems.push(Problem {
                file: environment_file.to_path_buf(),
                line: None,
                key: String::new(),
                message: format!(
                    "parameter `{}` = `{value}` {violation}, so CloudFormation would refuse it ({}, environment `{environment}`)",
                    declared.name,
                    self.path.display()
                ),
                hint: Some(hint),
            });
        }
        problems
    }

    /// Problems matching `parameters` against what the template declares.
    pub fn parameter_problems(&self, parameters: &Parameters, environment: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut report = |message: String| {
            problems.push(Problem {
                file: self.path.clone(),
                line: None,
                key: String::new(),
                message: format!("{message} (environment `{environment}`)"),
                hint: Some("keep src/template.rs and the template's Parameters in step".to_owned()),
            });
        };
        for declared in &self.parameters {
            if !declared.has_default && !parameters.values.contains_key(&declared.name) {
                report(format!("parameter `{}` gets no value", declared.name));
            }
        }
        for name in parameters.values.keys() {
            if !self
                .parameters
                .iter()
                .any(|declared| &declared.name == name)
            {
                report(format!(
                    "pixelctl passes `{name}`, which the template does not declare"
                ));
            }
        }
        problems
    }
}

/// Logical ids of the resources a stack delete leaves behind (`DeletionPolicy: Retain`).
pub fn retained_resources(body: &str) -> Vec<String> {
    let Ok(document) = serde_norway::from_str::<Value>(body) else {
        return Vec::new();
    };
    let Some(resources) = document.get("Resources").and_then(Value::as_mapping) else {
        return Vec::new();
    };
    resources
        .iter()
        .filter(|(_, resource)| {
            matches!(
                resource.get("DeletionPolicy").and_then(Value::as_str),
                Some("Retain" | "RetainExceptOnCreate")
            )
        })
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect()
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Where the Lambda's zip lives in the artifact store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactLocation {
    pub bucket: String,
    pub key: String,
}

impl ArtifactLocation {
    pub fn placeholder() -> Self {
        Self {
            bucket: PLACEHOLDER_BUCKET.to_owned(),
            key: PLACEHOLDER_KEY.to_owned(),
        }
    }
}

/// Parameter values for one environment, keyed by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Parameters {
    pub values: BTreeMap<String, String>,
}

/// One entry of CloudFormation's parameters file form.
#[derive(Debug, Serialize)]
struct ParameterEntry<'a> {
    #[serde(rename = "ParameterKey")]
    key: &'a str,
    #[serde(rename = "ParameterValue")]
    value: &'a str,
}

/// The key locations the worker gets (`ProviderKeysJson`): only those of the
/// providers this environment calls, so the function learns of no other key.
pub fn worker_provider_keys(
    environment: &Environment,
) -> BTreeMap<crate::config::ProviderKind, crate::config::KeyLocation> {
    let used = |provider: &crate::config::ProviderKind| {
        environment.enhance.provider == *provider
            || environment
                .models
                .iter()
                .any(|model| model.provider == *provider)
    };
    environment
        .providers
        .iter()
        .filter(|(provider, _)| used(provider))
        .map(|(provider, location)| (*provider, location.clone()))
        .collect()
}

impl Parameters {
    /// The values that make the template `environment`'s stack.
    pub fn for_environment(environment: &Environment, artifact: &ArtifactLocation) -> Self {
        let models = serde_json::to_string(&environment.models).unwrap_or_default();
        let enhance = serde_json::to_string(&environment.enhance).unwrap_or_default();
        let keys: BTreeMap<&str, String> = worker_provider_keys(environment)
            .into_iter()
            .map(|(provider, location)| (provider.as_str(), location.to_reference()))
            .collect();
        // The API function calls only the chat model behind /enhance.
        let api_keys: BTreeMap<&str, String> = keys
            .iter()
            .filter(|(provider, _)| **provider == environment.enhance.provider.as_str())
            .map(|(provider, location)| (*provider, location.clone()))
            .collect();
        let keys = serde_json::to_string(&keys).unwrap_or_default();
        let api_keys = serde_json::to_string(&api_keys).unwrap_or_default();
        let values = [
            (parameter::ENVIRONMENT_NAME, environment.name.clone()),
            ("ArtifactBucket", artifact.bucket.clone()),
            ("ArtifactKey", artifact.key.clone()),
            ("Architecture", environment.architecture.to_string()),
            ("LambdaMemoryMb", environment.lambda.memory_mb.to_string()),
            (
                "LambdaTimeoutSeconds",
                environment.lambda.timeout_seconds.to_string(),
            ),
            (
                "ReservedConcurrency",
                environment.lambda.reserved_concurrency.to_string(),
            ),
            ("WorkerMemoryMb", environment.worker.memory_mb.to_string()),
            (
                parameter::WORKER_TIMEOUT_SECONDS,
                environment.worker.timeout_seconds.to_string(),
            ),
            (
                "WorkerReservedConcurrency",
                environment.worker.reserved_concurrency.to_string(),
            ),
            (
                "LogRetentionDays",
                environment.lambda.log_retention_days.to_string(),
            ),
            ("ModelCount", environment.model_count.to_string()),
            (parameter::MODELS_JSON, models),
            (parameter::ENHANCE_MODEL_JSON, enhance),
            (parameter::PROVIDER_KEYS_JSON, keys),
            (parameter::API_PROVIDER_KEYS_JSON, api_keys),
            ("SecretsPath", environment.secrets_path()),
            (
                "BedrockModelArns",
                bedrock_model_arns(environment).join(","),
            ),
            (
                parameter::GLOBAL_RATE_LIMIT_PER_HOUR,
                environment.rate_limits.global_per_hour.to_string(),
            ),
            (
                parameter::IP_RATE_LIMIT_PER_DAY,
                environment.rate_limits.per_ip_per_day.to_string(),
            ),
            (
                parameter::ENHANCE_GLOBAL_RATE_LIMIT_PER_HOUR,
                environment.rate_limits.enhance_global_per_hour.to_string(),
            ),
            (
                parameter::ENHANCE_IP_RATE_LIMIT_PER_DAY,
                environment.rate_limits.enhance_per_ip_per_day.to_string(),
            ),
            (
                parameter::IP_ALLOW_LIST,
                environment
                    .rate_limits
                    .ip_allowlist
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("AllowedOrigins", environment.api.cors_origins.join(",")),
            (
                parameter::IMAGE_EXPIRY_DAYS,
                environment.images.expiry_days.to_string(),
            ),
            (
                "PriceClass",
                environment.cdn.price_class.as_str().to_owned(),
            ),
            ("ThrottleBurst", environment.api.throttle_burst.to_string()),
            ("ThrottleRate", environment.api.throttle_rate.to_string()),
            (
                "PaidThrottleBurst",
                environment.api.paid_throttle_burst.to_string(),
            ),
            (
                "PaidThrottleRate",
                environment.api.paid_throttle_rate.to_string(),
            ),
            (
                "ErrorsAlarmThreshold",
                environment.alarms.errors_threshold.to_string(),
            ),
            (
                "Api5xxAlarmThreshold",
                environment.alarms.api_5xx_threshold.to_string(),
            ),
            (
                "ApiDurationAlarmMs",
                environment.alarms.api_p95_ms.to_string(),
            ),
            (
                "WorkerDurationAlarmMs",
                environment.alarms.worker_p95_ms.to_string(),
            ),
            (
                "FailedGenerationsAlarmPercent",
                environment.alarms.failed_generations_percent.to_string(),
            ),
            (
                "AlarmEmail",
                environment.alarms.email.clone().unwrap_or_default(),
            ),
            (
                "MonthlyBudgetUsd",
                environment.budget.monthly_usd.to_string(),
            ),
            (
                "BudgetTagFilter",
                environment.budget.by_environment_tag.to_string(),
            ),
        ];
        Self {
            values: values
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        }
    }

    /// CloudFormation's `[{"ParameterKey": ..., "ParameterValue": ...}]` form.
    pub fn to_cloudformation_json(&self) -> String {
        let entries: Vec<ParameterEntry<'_>> = self
            .values
            .iter()
            .map(|(key, value)| ParameterEntry { key, value })
            .collect();
        let mut json = serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".to_owned());
        json.push('\n');
        json
    }

    /// Problems with the values themselves, such as Lambda's environment size.
    pub fn problems(&self, environment: &Environment, file: &Path) -> Vec<Problem> {
        // The API function's environment (the larger of the two) carries these
        // values plus short names, the bucket, the domain and the worker's name.
        let env_bytes: usize = [
            parameter::ENVIRONMENT_NAME,
            "ModelCount",
            parameter::MODELS_JSON,
            parameter::ENHANCE_MODEL_JSON,
            parameter::API_PROVIDER_KEYS_JSON,
            parameter::GLOBAL_RATE_LIMIT_PER_HOUR,
            parameter::IP_RATE_LIMIT_PER_DAY,
            parameter::ENHANCE_GLOBAL_RATE_LIMIT_PER_HOUR,
            parameter::ENHANCE_IP_RATE_LIMIT_PER_DAY,
            parameter::IP_ALLOW_LIST,
            parameter::IMAGE_EXPIRY_DAYS,
            parameter::WORKER_TIMEOUT_SECONDS,
            "AllowedOrigins",
        ]
        .iter()
        .filter_map(|key| self.values.get(*key))
        .map(|value| value.len() + 28)
        .sum::<usize>()
            + 300;
        if env_bytes > MAX_LAMBDA_ENV_BYTES {
            return vec![Problem {
                file: file.to_path_buf(),
                line: None,
                key: "models".to_owned(),
                message: format!(
                    "the Lambda's environment would be about {env_bytes} bytes, over Lambda's {MAX_LAMBDA_ENV_BYTES}-byte limit (environment `{}`)",
                    environment.name
                ),
                hint: Some("shorten model names or the IP allow-list".to_owned()),
            }];
        }
        Vec::new()
    }

    /// A copy with every value of a `secret` parameter replaced by `****`.
    pub fn redacted(&self, secret: &[&str]) -> Self {
        Self {
            values: self
                .values
                .iter()
                .map(|(key, value)| {
                    let shown = if secret.contains(&key.as_str()) {
                        crate::redact::MASK.to_owned()
                    } else {
                        value.clone()
                    };
                    (key.clone(), shown)
                })
                .collect(),
        }
    }
}

/// The foundation-model ARNs of the environment's Bedrock models, in the region each
/// is called in (the API's own rule), for the worker's `bedrock:InvokeModel`.
pub fn bedrock_model_arns(environment: &Environment) -> Vec<String> {
    let mut arns: Vec<String> = environment
        .models
        .iter()
        .filter(|model| model.provider == crate::config::ProviderKind::Bedrock)
        .map(|model| {
            let region = pixel_prompt_contract::provider::bedrock_region(&model.model)
                .unwrap_or(&environment.region);
            format!(
                "arn:{}:bedrock:{region}::foundation-model/{}",
                partition(region),
                model.model
            )
        })
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// The AWS partition a region belongs to.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Stack tags: the environment's own plus the ones pixelctl uses to find its stacks.
pub fn stack_tags(environment: &Environment) -> BTreeMap<String, String> {
    let mut tags = environment.tags.clone();
    tags.insert("pixelctl:environment".to_owned(), environment.name.clone());
    tags
}

/// A template and parameters ready to hand to CloudFormation.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub environment: Environment,
    pub template: Template,
    pub parameters: Parameters,
}

/// Loads `env` and the template, and fills in the parameters for `artifact`;
/// any problem with them is the user's to fix (a usage error).
pub fn render(
    project: &Project,
    env: &str,
    artifact: &ArtifactLocation,
) -> CommandResult<Rendered> {
    let environment =
        crate::config::load(&project.environments_dir(), env).map_err(CommandError::usage)?;
    let template = Template::load(&project.template_path()).map_err(CommandError::usage)?;
    let parameters = Parameters::for_environment(&environment, artifact);
    let mut problems = template.problems();
    problems.extend(template.parameter_problems(&parameters, env));
    problems.extend(template.constraint_problems(&parameters, env, &environment.file));
    problems.extend(parameters.problems(&environment, &environment.file));
    if !problems.is_empty() {
        return Err(CommandError::usage(crate::config::ConfigError::Invalid(
            problems,
        )));
    }
    Ok(Rendered {
        environment,
        template,
        parameters,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_constraints_read_from_the_template_decide() {
        let template = super::Template::parse(
            std::path::Path::new("t.yaml"),
            r#"
Parameters:
  EnvironmentName:
    Type: String
    AllowedPattern: "^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
    MaxLength: 8
  Retention:
    Type: Number
    AllowedValues: [1, 3, 7]
  Memory:
    Type: Number
    MinValue: 128
    MaxValue: 1024
  Bucket:
    Type: String
    MinLength: 3
Outputs: {}
"#
            .to_owned(),
        )
        .unwrap();
        let constraints = |name: &str| {
            template
                .parameters
                .iter()
                .find(|parameter| parameter.name == name)
                .unwrap()
                .constraints
                .clone()
        };
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("EnvironmentName", "qa", None),
            ("EnvironmentName", "pr-123", None),
            (
                "EnvironmentName",
                "QA_1",
                Some("does not match the pattern `^[a-z][a-z0-9]*(-[a-z0-9]+)*$`"),
            ),
            (
                "EnvironmentName",
                "pr--1",
                Some("does not match the pattern `^[a-z][a-z0-9]*(-[a-z0-9]+)*$`"),
            ),
            (
                "EnvironmentName",
                "abcdefghi",
                Some("is longer than 8 characters"),
            ),
            ("Retention", "7", None),
            ("Retention", "5", Some("is not one of 1, 3, 7")),
            ("Memory", "256", None),
            ("Memory", "64", Some("is less than 128")),
            ("Memory", "2048", Some("is more than 1024")),
            ("Memory", "lots", Some("is not a number")),
            ("Bucket", "ab", Some("is shorter than 3 characters")),
        ];
        for (name, value, expected) in cases {
            assert_eq!(
                constraints(name).violation(value).as_deref(),
                *expected,
                "{name} = {value}"
            );
        }
    }

    use super::*;

    fn repository_template() -> Template {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(TEMPLATE_FILE);
        Template::load(&path).unwrap_or_else(|error| panic!("{error}"))
    }

    /// `VARIABLE: !Ref Parameter` lines of a function's `Environment.Variables`.
    fn variables_of(template: &str, function: &str) -> Vec<(String, String)> {
        let start = template
            .find(&format!("\n  {function}:\n"))
            .unwrap_or_else(|| panic!("no `{function}` in the template"));
        let block = &template[start..];
        let variables = block.find("        Variables:\n").map_or_else(
            || panic!("`{function}` has no variables"),
            |at| &block[at + "        Variables:\n".len()..],
        );
        variables
            .lines()
            .take_while(|line| line.starts_with("          "))
            .filter_map(|line| {
                let (name, value) = line.trim().split_once(": !Ref ")?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect()
    }

    #[test]
    fn the_template_passes_each_contract_parameter_as_its_variable() {
        use pixel_prompt_contract::names::{API_VARIABLES, WORKER_VARIABLES};
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(TEMPLATE_FILE);
        let template = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{error}"));
        for (function, expected) in [
            ("ApiFunction", &API_VARIABLES[..]),
            ("WorkerFunction", &WORKER_VARIABLES[..]),
        ] {
            let found = variables_of(&template, function);
            for (variable, parameter) in expected {
                assert!(
                    found
                        .iter()
                        .any(|(name, value)| name == variable && value == parameter),
                    "{function}: `{variable}: !Ref {parameter}` missing from {found:?}"
                );
            }
        }
        // And pixelctl renders every one of those parameters.
        let rendered = Parameters::for_environment(
            &crate::test_support::environment("dev"),
            &ArtifactLocation::placeholder(),
        );
        for (_, parameter) in API_VARIABLES.iter().chain(&WORKER_VARIABLES) {
            assert!(
                rendered.values.contains_key(*parameter),
                "`{parameter}` is not rendered"
            );
        }
    }

    #[test]
    fn the_worker_may_call_every_bedrock_model_an_environment_may_name() {
        // The worker's policy names exactly the environment's Bedrock models (the
        // ARNs are rendered from `models`, tests/offline.rs); each needs a region.
        for model in crate::config::BEDROCK_MODELS {
            assert!(
                pixel_prompt_contract::provider::bedrock_region(model).is_some(),
                "no Bedrock region for `{model}`"
            );
        }
        // Stability's Bedrock models are third-party: their first use subscribes the
        // account through AWS Marketplace, as the caller.
        let template = repository_template();
        for action in [
            "aws-marketplace:ViewSubscriptions",
            "aws-marketplace:Subscribe",
        ] {
            assert!(template.body.contains(action), "the worker lacks {action}");
        }
    }
}
