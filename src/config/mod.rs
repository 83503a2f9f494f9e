//! Environment files: `environments/defaults.yaml` layered under one
//! environment's file, checked, and resolved into an [`Environment`].

mod error;
mod locate;
mod model;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

pub use error::{ConfigError, Problem, did_you_mean};
pub use model::*;

/// The file every environment layers over.
pub const DEFAULTS_FILE: &str = "defaults.yaml";

/// Values CloudWatch Logs accepts for `RetentionInDays`.
const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The shortest worker timeout: the worker waits up to 120 s per model (all in
/// parallel), then stores the images.
pub const MIN_WORKER_TIMEOUT_SECONDS: u32 = 130;

/// The Bedrock models the API can call (all Stability models in us-west-2; Nova
/// Canvas reached its end of life on 2026-09-30). The worker's IAM policy allows
/// the ones an environment lists.
pub const BEDROCK_MODELS: [&str; 3] = [
    "stability.stable-image-ultra-v1:1",
    "stability.stable-image-core-v1:1",
    "stability.sd3-5-large-v1:0",
];

/// The names of the environments in `dir`: every `*.yaml` except the defaults and
/// the base files (those declaring `instances:`, which are no environment themselves).
pub fn environment_names(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let mut names: Vec<String> = yaml_files(dir)?
        .into_iter()
        .filter(|name| instances_of(dir, name).is_none())
        .collect();
    names.sort();
    Ok(names)
}

/// Every `*.yaml` in `dir` but the defaults, by name without the extension.
fn yaml_files(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| path.file_name().is_some_and(|name| name != DEFAULTS_FILE))
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// The `instances:` pattern of `dir/<name>.yaml`, if it is a base file.
fn instances_of(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.yaml"))).ok()?;
    let value: Value = serde_norway::from_str(&text).ok()?;
    value.get("instances")?.as_str().map(str::to_owned)
}

/// Whether `name` matches `pattern`, where `*` stands for any text (one or more
/// characters). Pure.
pub fn instance_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.get(1..).and_then(|tail| tail.find(part)) {
            Some(at) => rest = &rest[at + 1 + part.len()..],
            None => return false,
        }
    }
    rest.len() > last.len() && rest.ends_with(last)
}

/// The file environment `name` comes from: `<name>.yaml`, or the base file whose
/// `instances:` pattern matches `name`.
fn environment_file(dir: &Path, name: &str) -> Result<String, ConfigError> {
    let files = yaml_files(dir)?;
    if files.iter().any(|file| file == name) {
        if let Some(pattern) = instances_of(dir, name) {
            return Err(ConfigError::BaseFile {
                name: name.to_owned(),
                example: pattern.replacen('*', "1", 1).replace('*', ""),
                pattern,
            });
        }
        return Ok(format!("{name}.yaml"));
    }
    for file in &files {
        if instances_of(dir, file).is_some_and(|pattern| instance_matches(&pattern, name)) {
            return Ok(format!("{file}.yaml"));
        }
    }
    Err(ConfigError::UnknownEnvironment {
        name: name.to_owned(),
        dir: dir.display().to_string(),
        available: environment_names(dir)?,
    })
}

/// One source file: its path as shown to users, its text, and what it parsed to.
struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    /// Reads `dir/file`; problems name it as `environments/file`, the way a
    /// user sees it from the repository's root.
    fn read(dir: &Path, file: &str) -> Result<Self, ConfigError> {
        let full = dir.join(file);
        let text = std::fs::read_to_string(&full).map_err(|source| ConfigError::Read {
            path: full.clone(),
            source,
        })?;
        let path = match dir.file_name() {
            Some(folder) => Path::new(folder).join(file),
            None => full,
        };
        Ok(Self { path, text })
    }

    fn problem(&self, key: &str, message: impl Into<String>, hint: Option<String>) -> Problem {
        Problem {
            file: self.path.clone(),
            line: locate::locate(&self.text, key),
            key: key.to_owned(),
            message: message.into(),
            hint,
        }
    }

    /// Parses the file on its own, so type errors and unknown keys carry its
    /// lines, and returns it as a value ready for layering.
    fn parse(&self) -> Result<Value, Problem> {
        if self.text.trim().is_empty() {
            return Ok(Value::Mapping(Mapping::new()));
        }
        serde_norway::from_str::<EnvFile>(&self.text)
            .map_err(|error| self.serde_problem(&error))?;
        let value: Value =
            serde_norway::from_str(&self.text).map_err(|error| self.serde_problem(&error))?;
        // A file of comments only states nothing: it must not blank the layers under it.
        Ok(match value {
            Value::Null => Value::Mapping(Mapping::new()),
            value => value,
        })
    }

    fn serde_problem(&self, error: &serde_norway::Error) -> Problem {
        let line = error.location().map(|location| location.line());
        let text = error.to_string();
        let text = match text.rfind(" at line ") {
            Some(position) => &text[..position],
            None => &text,
        };
        // serde_norway prefixes the key path: `lambda.memory_mb: invalid type ...`.
        let (path, message) = match text.split_once(": ") {
            Some((path, message)) if !path.contains(' ') => (path, message),
            _ => ("", text),
        };
        let (key, hint) = explain_serde_message(path, message);
        Problem {
            file: self.path.clone(),
            line,
            key,
            message: message.to_owned(),
            hint,
        }
    }
}

/// Turns serde's wording into the key a user wrote and a hint.
fn explain_serde_message(path: &str, message: &str) -> (String, Option<String>) {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        let expected = quoted.iter().skip(1).copied();
        let hint = match did_you_mean(field, expected) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => format!("known keys here: {}", quoted[1..].join(", ")),
        };
        return (join(field), Some(hint));
    }
    if let Some(variant) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split('`').next())
    {
        let expected: Vec<&str> = quoted.iter().skip(1).copied().collect();
        let hint = match did_you_mean(variant, expected.iter().copied()) {
            Some(suggestion) => format!(
                "did you mean `{suggestion}`? valid: {}",
                expected.join(", ")
            ),
            None => format!("valid: {}", expected.join(", ")),
        };
        return (path.to_owned(), Some(hint));
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        return (
            path.to_owned(),
            Some("see environments/defaults.yaml for the expected form".to_owned()),
        );
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return (join(field), Some(format!("add `{field}` here")));
    }
    if path.is_empty() && message.contains("while") {
        return (
            String::new(),
            Some(
                "YAML syntax error: check indentation, quoting and brackets near this line"
                    .to_owned(),
            ),
        );
    }
    (path.to_owned(), None)
}

/// Overlays `over` onto `base`: maps merge key by key, anything else replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// Loads, layers and checks one environment, reporting every problem at once:
/// `defaults.yaml`, then each file the environment's `extends:` chain names, then
/// its own file (or the base file it is an instance of).
pub fn load(dir: &Path, name: &str) -> Result<Environment, ConfigError> {
    let own_file = environment_file(dir, name)?;
    let defaults = Source::read(dir, DEFAULTS_FILE)?;
    let mut problems = Vec::new();
    // Own file first, then what it extends, and so on.
    let mut chain: Vec<(Source, Value)> = Vec::new();
    let mut next = Some(own_file);
    while let Some(file) = next.take() {
        let source = Source::read(dir, &file)?;
        let value = match source.parse() {
            Ok(value) => value,
            Err(problem) => {
                problems.push(problem);
                break;
            }
        };
        if let Some(parent) = value.get("extends").and_then(Value::as_str) {
            let parent_file = format!("{parent}.yaml");
            if parent_file == DEFAULTS_FILE
                || chain
                    .iter()
                    .any(|(seen, _)| seen.path.ends_with(&parent_file))
                || source.path.ends_with(&parent_file)
            {
                problems.push(source.problem(
                    "extends",
                    format!("`{parent}` makes a loop of `extends:`"),
                    Some("every environment already layers over defaults.yaml; extend another environment file".to_owned()),
                ));
            } else if !dir.join(&parent_file).is_file() {
                problems.push(
                    source.problem(
                        "extends",
                        format!("there is no environments/{parent_file} to extend"),
                        did_you_mean(parent, yaml_files(dir)?.iter().map(String::as_str))
                            .map(|suggestion| format!("did you mean `{suggestion}`?")),
                    ),
                );
            } else {
                next = Some(parent_file);
            }
        }
        chain.push((source, value));
    }
    let mut merged = Value::Mapping(Mapping::new());
    match defaults.parse() {
        Ok(value) => merge(&mut merged, value),
        Err(problem) => problems.push(problem),
    }
    for (_, value) in chain.iter().rev() {
        merge(&mut merged, value.clone());
    }
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    let mut layers: Vec<&Source> = vec![&defaults];
    layers.extend(chain.iter().rev().map(|(source, _)| source));
    let own = layers[layers.len() - 1];
    let file: EnvFile = serde_norway::from_value(merged)
        .map_err(|error| ConfigError::Invalid(vec![own.problem("", error.to_string(), None)]))?;
    Resolver {
        name,
        layers,
        problems: Vec::new(),
    }
    .resolve(file)
}

/// Turns a layered [`EnvFile`] into an [`Environment`], collecting problems.
struct Resolver<'a> {
    name: &'a str,
    /// `defaults.yaml` first, the environment's own file last.
    layers: Vec<&'a Source>,
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
            .copied()
            .unwrap_or_else(|| self.own())
    }

    /// The environment's own file (or the base file it is an instance of).
    fn own(&self) -> &'a Source {
        self.layers[self.layers.len() - 1]
    }

    fn report(&mut self, key: &str, message: impl Into<String>, hint: impl Into<Option<String>>) {
        let problem = self.source_of(key).problem(key, message, hint.into());
        self.problems.push(problem);
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
        if !range.contains(&value) {
            let because = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            self.report(
                key,
                format!("{value} is out of range"),
                format!(
                    "use a value from {} to {}{because}",
                    range.start(),
                    range.end()
                ),
            );
        }
        value
    }

    fn resolve(mut self, file: EnvFile) -> Result<Environment, ConfigError> {
        let name = self.name.to_owned();
        let stack_name = self
            .required("stack_name", file.stack_name)
            .map(|stack| stack.replace("{env}", &name))
            .unwrap_or_default();
        if !stack_name.is_empty() && !is_stack_name(&stack_name) {
            self.report(
                "stack_name",
                format!("`{stack_name}` is not a valid CloudFormation stack name"),
                "use letters, digits and hyphens, starting with a letter, at most 128 characters"
                    .to_owned(),
            );
        }
        if let Some(pattern) = &file.instances
            && (!pattern.contains('*') || pattern.starts_with('*'))
        {
            self.report(
                "instances",
                format!("`{pattern}` names no family of environments"),
                "use a prefix and `*`, such as `pr-*`".to_owned(),
            );
        }
        let region = self.required("region", file.region).unwrap_or_default();
        if !region.is_empty() && !is_region(&region) {
            self.report(
                "region",
                format!("`{region}` does not look like an AWS region"),
                "use a region code such as `us-west-2`".to_owned(),
            );
        }
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
        if !crate::package::LAMBDA_PROFILES.contains(&build_profile.as_str()) {
            self.report(
                "build_profile",
                format!("`{build_profile}` is not a Lambda build profile"),
                format!(
                    "use one of {} (defined in the workspace Cargo.toml)",
                    crate::package::LAMBDA_PROFILES.join(", ")
                ),
            );
        }

        let lambda_file = file.lambda.unwrap_or_default();
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
        if !LOG_RETENTION_DAYS.contains(&lambda.log_retention_days) {
            let days = lambda.log_retention_days;
            self.report(
                "lambda.log_retention_days",
                format!("{days} is not a retention CloudWatch Logs offers"),
                format!(
                    "use one of {}",
                    LOG_RETENTION_DAYS.map(|days| days.to_string()).join(", ")
                ),
            );
        }

        let worker_file = file.worker.unwrap_or_default();
        let worker = WorkerSettings {
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
        };

        let limits = file.rate_limits.unwrap_or_default();
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
        let mut rate_limits = rate_limits;
        for (index, ip) in limits.ip_allowlist.unwrap_or_default().iter().enumerate() {
            match ip.parse::<IpAddr>() {
                Ok(ip) => rate_limits.ip_allowlist.push(ip),
                Err(_) => self.report(
                    &format!("rate_limits.ip_allowlist[{index}]"),
                    format!("`{ip}` is not an IP address"),
                    "list single IPv4 or IPv6 addresses, such as `203.0.113.7`".to_owned(),
                ),
            }
        }

        let api_file = file.api.unwrap_or_default();
        // The stack always allows its own CloudFront domain (which serves the
        // web app); this list names other origins, such as a dev server, and may be empty.
        let cors_origins = self
            .required("api.cors_origins", api_file.cors_origins)
            .unwrap_or_default();
        for (index, origin) in cors_origins.iter().enumerate() {
            if !is_origin(origin) {
                self.report(
                    &format!("api.cors_origins[{index}]"),
                    format!("`{origin}` is not an origin"),
                    "write scheme and host with no path or trailing slash, such as `https://app.example.com`, or `*`".to_owned(),
                );
            }
        }
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
        if !(0.01..=10000.0).contains(&paid_throttle_rate) {
            self.report(
                "api.paid_throttle_rate",
                format!("{paid_throttle_rate} is out of range"),
                "use requests per second from 0.01 to 10000".to_owned(),
            );
        }
        if paid_throttle_burst > throttle_burst {
            self.report(
                "api.paid_throttle_burst",
                format!("{paid_throttle_burst} is looser than `api.throttle_burst` ({throttle_burst})"),
                "the paid routes (POST /generate, POST /enhance) must be throttled at least as tightly as the others".to_owned(),
            );
        }
        if paid_throttle_rate > f64::from(throttle_rate) {
            self.report(
                "api.paid_throttle_rate",
                format!("{paid_throttle_rate} is looser than `api.throttle_rate` ({throttle_rate})"),
                "the paid routes (POST /generate, POST /enhance) must be throttled at least as tightly as the others".to_owned(),
            );
        }
        let api = ApiSettings {
            cors_origins,
            throttle_burst,
            throttle_rate,
            paid_throttle_burst,
            paid_throttle_rate,
        };

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

        let alarms_file = file.alarms.unwrap_or_default();
        let email = alarms_file.email.filter(|email| !email.trim().is_empty());
        if let Some(email) = email.as_ref().filter(|email| !is_email(email)) {
            self.report(
                "alarms.email",
                format!("`{email}` is not an e-mail address"),
                "write one address such as `oncall@example.com`, or \"\" for none".to_owned(),
            );
        }
        let mut advice = Vec::new();
        if email.is_none() {
            if termination_protection {
                self.report(
                    "alarms.email",
                    "is required for an environment with `termination_protection: true`: without it no alarm reaches anyone",
                    "set the address of the team on call, such as `alarms.email: oncall@example.com`".to_owned(),
                );
            } else if name != "dev" {
                advice.push(self.source_of("alarms.email").problem(
                    "alarms.email",
                    "is not set: the alarms and the budget of this environment notify no one",
                    Some("set the address of the team that should hear about it (recommended for every environment but dev)".to_owned()),
                ));
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
        if alarms.worker_p95_ms >= worker.timeout_seconds.saturating_mul(1000)
            && worker.timeout_seconds > 0
        {
            self.report(
                "alarms.worker_p95_ms",
                format!(
                    "{} ms is not below the worker's {} s timeout: the alarm could never fire",
                    alarms.worker_p95_ms, worker.timeout_seconds
                ),
                "set it below `worker.timeout_seconds` (in milliseconds)".to_owned(),
            );
        }

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
        self.check_tags(&tags);

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
        self.check_key_locations(&providers);

        let models = self.required("models", file.models).unwrap_or_default();
        let model_count = self.required("model_count", file.model_count).unwrap_or(0);
        self.check_models(&models, model_count, &providers);

        let enhance = self
            .required("enhance", file.enhance)
            .unwrap_or(EnhanceSpec {
                provider: ProviderKind::Openai,
                model: String::new(),
            });
        if !enhance.provider.can_enhance() {
            self.report(
                "enhance.provider",
                format!(
                    "`{}` has no chat model to enhance prompts",
                    enhance.provider
                ),
                "use `openai` or `gemini`".to_owned(),
            );
        } else if !providers.contains_key(&enhance.provider) {
            self.report(
                "enhance.provider",
                format!("`{}` has no API key location", enhance.provider),
                format!("add `providers.{}.api_key`", enhance.provider),
            );
        }

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

    fn check_tags(&mut self, tags: &std::collections::BTreeMap<String, String>) {
        if tags.len() > 40 {
            self.report(
                "tags",
                format!("{} tags is too many", tags.len()),
                "keep at most 40 (AWS allows 50 per resource; the template adds its own)"
                    .to_owned(),
            );
        }
        for (key, value) in tags {
            let path = format!("tags.{key}");
            if key.is_empty() || key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
                self.report(
                    &path,
                    format!("`{key}` is not a valid tag key"),
                    "use 1 to 128 characters, not starting with `aws:`".to_owned(),
                );
            }
            if value.len() > 256 {
                self.report(&path, "tag value is longer than 256 characters", None);
            }
        }
    }

    fn check_key_locations(
        &mut self,
        providers: &std::collections::BTreeMap<ProviderKind, KeyLocation>,
    ) {
        let path = secrets_path(self.name);
        for (provider, location) in providers {
            let key = format!("providers.{provider}.api_key");
            if !provider.needs_api_key() {
                self.report(
                    &format!("providers.{provider}"),
                    "Bedrock is called with the function's IAM role and takes no API key",
                    "remove this entry".to_owned(),
                );
                continue;
            }
            let (name, prefix, kind) = match location {
                KeyLocation::Ssm(name) => (name, format!("/{path}/"), "ssm"),
                KeyLocation::SecretsManager(id) => (id, format!("{path}/"), "secrets_manager"),
                // Environment files spell no `env:` location (`ApiKeyFile`); local mode's own.
                KeyLocation::Env(name) => (name, String::new(), "env"),
            };
            if !name.starts_with(&prefix) || name.len() == prefix.len() {
                self.report(
                    &format!("{key}.{kind}"),
                    format!("`{name}` is outside this environment's secrets path"),
                    format!(
                        "name it `{prefix}<name>`: the Lambda may read keys there and nowhere else"
                    ),
                );
            }
        }
    }

    fn check_models(
        &mut self,
        models: &[ModelSpec],
        model_count: u32,
        providers: &std::collections::BTreeMap<ProviderKind, KeyLocation>,
    ) {
        if models.is_empty() {
            self.report(
                "models",
                "lists no model",
                "list at least one model".to_owned(),
            );
        }
        if !(1..=20).contains(&model_count) {
            self.report(
                "model_count",
                format!("{model_count} is out of range"),
                "use a value from 1 to 20".to_owned(),
            );
        } else if model_count as usize != models.len() {
            self.report(
                "model_count",
                format!("is {model_count} but `models` lists {} models", models.len()),
                format!(
                    "set `model_count: {}` or list {model_count} models (an environment file replaces the whole list)",
                    models.len()
                ),
            );
        }
        let mut names = BTreeSet::new();
        for (index, model) in models.iter().enumerate() {
            let at = format!("models[{index}]");
            if model.name.trim().is_empty() {
                self.report(
                    &format!("{at}.name"),
                    "is empty",
                    "give the model a display name".to_owned(),
                );
            } else if !names.insert(model.name.as_str()) {
                self.report(
                    &format!("{at}.name"),
                    format!("`{}` is listed twice", model.name),
                    "give each model its own name".to_owned(),
                );
            }
            if model.model.trim().is_empty() {
                self.report(
                    &format!("{at}.model"),
                    "is empty",
                    "give the provider's model id".to_owned(),
                );
            }
            if model.provider == ProviderKind::Bedrock {
                if !BEDROCK_MODELS.contains(&model.model.as_str()) {
                    self.report(
                        &format!("{at}.model"),
                        format!(
                            "`{}` is not a Bedrock model the stack may invoke",
                            model.model
                        ),
                        format!("use one of {}", BEDROCK_MODELS.join(", ")),
                    );
                }
            } else if !providers.contains_key(&model.provider) {
                self.report(
                    &format!("{at}.provider"),
                    format!(
                        "model `{}` uses `{}`, which has no API key location",
                        model.name, model.provider
                    ),
                    format!(
                        "add `providers.{}.api_key` (an `ssm` or `secrets_manager` name)",
                        model.provider
                    ),
                );
            }
        }
    }
}

fn is_stack_name(name: &str) -> bool {
    name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()))
}

fn is_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some(host) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !host.is_empty() && !host.contains('/') && !host.contains(' ')
}

fn is_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((user, domain)) => !user.is_empty() && domain.contains('.') && !email.contains(' '),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::instance_matches;

    #[test]
    fn instance_patterns_match_whole_names() {
        let cases = [
            ("pr-*", "pr-123", true),
            ("pr-*", "pr-", false),
            ("pr-*", "qa", false),
            ("pr-*", "xpr-1", false),
            ("pr-*-eu", "pr-7-eu", true),
            ("pr-*-eu", "pr-7-us", false),
            ("pr-*-eu", "pr--eu", false),
            ("qa", "qa", true),
            ("qa", "qa2", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                instance_matches(pattern, name),
                expected,
                "{pattern} {name}"
            );
        }
    }
}
