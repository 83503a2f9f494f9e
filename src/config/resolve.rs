//! Resolution: the layered file of one environment turned into an [`Environment`],
//! every value required and checked by [`super::rules`], every problem placed in the
//! file (and at the line) that set the key.

use super::error::{ConfigError, Problem};
use super::layering::Layers;
use super::locate;
use super::model::{
    AlarmSettings, AlarmsFile, ApiFile, ApiSettings, Architecture, BudgetSettings, CdnSettings,
    DeployMode, EnhanceSpec, EnvFile, Environment, ImageSettings, LambdaFile, LambdaSettings,
    PriceClass, ProviderKind, RateLimits, RateLimitsFile, WorkerFile, WorkerSettings,
};
use super::rules::{self, Finding, MIN_WORKER_TIMEOUT_SECONDS, Missing};
use super::source::Source;

/// Turns the layered file of environment `name` into an [`Environment`],
/// reporting every problem at once.
pub(super) fn resolve(name: &str, layers: Layers) -> Result<Environment, ConfigError> {
    Resolver {
        name,
        layers: &layers.sources,
        problems: Vec::new(),
    }
    .resolve(layers.file)
}

/// Turns a layered [`EnvFile`] into an [`Environment`], collecting problems.
struct Resolver<'a> {
    name: &'a str,
    /// `defaults.yaml` first, the environment's own file last.
    layers: &'a [Source],
    problems: Vec<Problem>,
}

impl<'a> Resolver<'a> {
    /// The file a key was set in: the environment's own file wins; a list
    /// item counts as set where its list is, since lists replace whole.
    fn source_of(&self, key: &str) -> &'a Source {
        let list = key.split('[').next().unwrap_or(key);
        self.layers
            .iter()
            .rev()
            .find(|source| {
                locate::contains(&source.text, key)
                    || (list != key && locate::contains(&source.text, list))
            })
            .unwrap_or_else(|| self.own())
    }

    /// The environment's own file (or the base file it is an instance of).
    fn own(&self) -> &'a Source {
        let own = self.layers.len() - 1;
        &self.layers[own]
    }

    fn report(&mut self, key: &str, message: impl Into<String>, hint: impl Into<Option<String>>) {
        let problem = self.source_of(key).problem(key, message, hint.into());
        self.problems.push(problem);
    }

    /// Reports what a rule found, in the file that set the key.
    fn apply(&mut self, findings: impl IntoIterator<Item = Finding>) {
        for finding in findings {
            self.report(&finding.key, finding.message, finding.hint);
        }
    }

    fn required<T>(&mut self, key: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            let problem = Problem {
                file: self.own().path.clone(),
                line: None,
                key: key.to_owned(),
                message: "is not set".to_owned(),
                hint: Some(format!(
                    "set it in `{}` (for every environment) or in `{}`",
                    self.layers[0].path.display(),
                    self.own().path.display()
                )),
            };
            self.problems.push(problem);
        }
        value
    }

    fn in_range(
        &mut self,
        key: &str,
        value: Option<u32>,
        range: std::ops::RangeInclusive<u32>,
    ) -> u32 {
        self.in_range_because(key, value, range, "")
    }

    /// [`Self::in_range`] with the reason for the range in the hint.
    fn in_range_because(
        &mut self,
        key: &str,
        value: Option<u32>,
        range: std::ops::RangeInclusive<u32>,
        reason: &str,
    ) -> u32 {
        let Some(value) = self.required(key, value) else {
            return 0;
        };
        self.apply(rules::in_range(key, value, &range, reason));
        value
    }

    fn lambda(&mut self, lambda_file: &LambdaFile) -> LambdaSettings {
        let lambda = LambdaSettings {
            memory_mb: self.in_range("lambda.memory_mb", lambda_file.memory_mb, 128..=10240),
            timeout_seconds: self.in_range_because(
                "lambda.timeout_seconds",
                lambda_file.timeout_seconds,
                1..=30,
                "the API function serves HTTP routes only, and API Gateway gives up after 30 s",
            ),
            reserved_concurrency: self.in_range(
                "lambda.reserved_concurrency",
                lambda_file.reserved_concurrency,
                0..=1000,
            ),
            log_retention_days: self
                .required("lambda.log_retention_days", lambda_file.log_retention_days)
                .unwrap_or(7),
        };
        self.apply(rules::log_retention(lambda.log_retention_days));
        lambda
    }

    fn worker(&mut self, worker_file: &WorkerFile) -> WorkerSettings {
        WorkerSettings {
            memory_mb: self.in_range("worker.memory_mb", worker_file.memory_mb, 128..=10240),
            timeout_seconds: self.in_range_because(
                "worker.timeout_seconds",
                worker_file.timeout_seconds,
                MIN_WORKER_TIMEOUT_SECONDS..=900,
                "the worker waits up to 120 s per model (all in parallel), then stores the images",
            ),
            reserved_concurrency: self.in_range(
                "worker.reserved_concurrency",
                worker_file.reserved_concurrency,
                0..=1000,
            ),
        }
    }

    fn rate_limits(&mut self, limits: RateLimitsFile) -> RateLimits {
        let rate_limits = RateLimits {
            global_per_hour: self.in_range(
                "rate_limits.global_per_hour",
                limits.global_per_hour,
                1..=1_000_000,
            ),
            per_ip_per_day: self.in_range(
                "rate_limits.per_ip_per_day",
                limits.per_ip_per_day,
                1..=1_000_000,
            ),
            ip_allowlist: Vec::new(),
            enhance_global_per_hour: self.in_range(
                "rate_limits.enhance_global_per_hour",
                limits.enhance_global_per_hour,
                1..=1_000_000,
            ),
            enhance_per_ip_per_day: self.in_range(
                "rate_limits.enhance_per_ip_per_day",
                limits.enhance_per_ip_per_day,
                1..=1_000_000,
            ),
        };
        let (allowed, findings) = rules::ip_allowlist(&limits.ip_allowlist.unwrap_or_default());
        self.apply(findings);
        RateLimits {
            ip_allowlist: allowed,
            ..rate_limits
        }
    }

    fn api(&mut self, api_file: ApiFile) -> ApiSettings {
        // The stack always allows its own CloudFront domain (which serves the
        // web app); this list names other origins, such as a dev server, and may be empty.
        let cors_origins = self
            .required("api.cors_origins", api_file.cors_origins)
            .unwrap_or_default();
        self.apply(rules::cors_origins(&cors_origins));
        let throttle_burst = self.in_range("api.throttle_burst", api_file.throttle_burst, 1..=5000);
        let throttle_rate = self.in_range("api.throttle_rate", api_file.throttle_rate, 1..=10000);
        let paid_throttle_burst = self.in_range(
            "api.paid_throttle_burst",
            api_file.paid_throttle_burst,
            1..=5000,
        );
        let paid_throttle_rate = self
            .required("api.paid_throttle_rate", api_file.paid_throttle_rate)
            .unwrap_or(1.0);
        self.apply(rules::paid_throttle(
            paid_throttle_burst,
            paid_throttle_rate,
            throttle_burst,
            throttle_rate,
        ));
        ApiSettings {
            cors_origins,
            throttle_burst,
            throttle_rate,
            paid_throttle_burst,
            paid_throttle_rate,
        }
    }

    /// The alarms, and the advice (not a problem) when an unprotected environment has no email.
    fn alarms(
        &mut self,
        alarms_file: AlarmsFile,
        termination_protection: bool,
        name: &str,
        worker_timeout_seconds: u32,
    ) -> (AlarmSettings, Vec<Problem>) {
        let email = alarms_file.email.filter(|email| !email.trim().is_empty());
        if let Some(email) = &email {
            self.apply(rules::alarm_email(email));
        }
        let mut advice = Vec::new();
        if email.is_none() {
            match rules::missing_alarm_email(termination_protection, name) {
                Some(Missing::Problem(finding)) => self.apply([finding]),
                Some(Missing::Advice(finding)) => {
                    advice.push(self.source_of(&finding.key).problem(
                        &finding.key,
                        finding.message,
                        finding.hint,
                    ));
                }
                None => {}
            }
        }
        let alarms = AlarmSettings {
            email,
            errors_threshold: self.in_range(
                "alarms.errors_threshold",
                alarms_file.errors_threshold,
                1..=100_000,
            ),
            api_5xx_threshold: self.in_range(
                "alarms.api_5xx_threshold",
                alarms_file.api_5xx_threshold,
                1..=100_000,
            ),
            api_p95_ms: self.in_range("alarms.api_p95_ms", alarms_file.api_p95_ms, 1..=30_000),
            worker_p95_ms: self.in_range(
                "alarms.worker_p95_ms",
                alarms_file.worker_p95_ms,
                1..=900_000,
            ),
            failed_generations_percent: self.in_range(
                "alarms.failed_generations_percent",
                alarms_file.failed_generations_percent,
                1..=100,
            ),
        };
        self.apply(rules::worker_alarm(
            alarms.worker_p95_ms,
            worker_timeout_seconds,
        ));
        (alarms, advice)
    }

    fn resolve(mut self, file: EnvFile) -> Result<Environment, ConfigError> {
        let name = self.name.to_owned();
        let stack_name = self
            .required("stack_name", file.stack_name)
            .map(|stack| stack.replace("{env}", &name))
            .unwrap_or_default();
        self.apply(rules::stack_name(&stack_name));
        if let Some(pattern) = &file.instances {
            self.apply(rules::instances(pattern));
        }
        let region = self.required("region", file.region).unwrap_or_default();
        self.apply(rules::region(&region));
        let architecture = self
            .required("architecture", file.architecture)
            .unwrap_or(Architecture::X86_64);
        let confirm_changes = self
            .required("confirm_changes", file.confirm_changes)
            .unwrap_or(true);
        let termination_protection = self
            .required("termination_protection", file.termination_protection)
            .unwrap_or(false);
        // A protected environment only ever runs what its stack declares.
        let hotswap = file.hotswap.unwrap_or(!termination_protection);
        let deploy_mode = file.deploy_mode.unwrap_or(DeployMode::Standard);
        let build_profile = file
            .build_profile
            .unwrap_or_else(|| crate::package::LAMBDA_PROFILE.to_owned());
        self.apply(rules::build_profile(
            &build_profile,
            &crate::package::LAMBDA_PROFILES,
        ));

        let lambda = self.lambda(&file.lambda.unwrap_or_default());

        let worker = self.worker(&file.worker.unwrap_or_default());

        let rate_limits = self.rate_limits(file.rate_limits.unwrap_or_default());

        let api = self.api(file.api.unwrap_or_default());

        let images = ImageSettings {
            expiry_days: self.in_range(
                "images.expiry_days",
                file.images.unwrap_or_default().expiry_days,
                1..=3650,
            ),
        };
        let cdn = CdnSettings {
            price_class: self
                .required("cdn.price_class", file.cdn.unwrap_or_default().price_class)
                .unwrap_or(PriceClass::Class100),
        };

        let (alarms, advice) = self.alarms(
            file.alarms.unwrap_or_default(),
            termination_protection,
            &name,
            worker.timeout_seconds,
        );

        let budget_file = file.budget.unwrap_or_default();
        let budget = BudgetSettings {
            monthly_usd: self.in_range(
                "budget.monthly_usd",
                budget_file.monthly_usd,
                1..=1_000_000,
            ),
            by_environment_tag: self
                .required("budget.by_environment_tag", budget_file.by_environment_tag)
                .unwrap_or(false),
        };

        let tags = file.tags.unwrap_or_default();
        self.apply(rules::tags(&tags));

        let mut providers = std::collections::BTreeMap::new();
        for (provider, settings) in file.providers.unwrap_or_default() {
            match settings.api_key.location(&name) {
                Some(location) => {
                    providers.insert(provider, location);
                }
                None => self.report(
                    &format!("providers.{provider}.api_key"),
                    "must name exactly one place",
                    "write `ssm: /pixel-prompt/{env}/NAME` or `secrets_manager: pixel-prompt/{env}/NAME` under it".to_owned(),
                ),
            }
        }
        self.apply(rules::key_locations(self.name, &providers));

        let models = self.required("models", file.models).unwrap_or_default();
        let model_count = self.required("model_count", file.model_count).unwrap_or(0);
        self.apply(rules::models(&models, model_count, &providers));

        let enhance = self
            .required("enhance", file.enhance)
            .unwrap_or(EnhanceSpec {
                provider: ProviderKind::Openai,
                model: String::new(),
            });
        self.apply(rules::enhance(&enhance, &providers));

        if !self.problems.is_empty() {
            return Err(ConfigError::Invalid(self.problems));
        }
        Ok(Environment {
            name,
            file: self.own().path.clone(),
            stack_name,
            region,
            architecture,
            confirm_changes,
            termination_protection,
            hotswap,
            deploy_mode,
            build_profile,
            lambda,
            worker,
            rate_limits,
            api,
            images,
            cdn,
            alarms,
            budget,
            tags,
            providers,
            enhance,
            model_count,
            models,
            advice,
        })
    }
}
