//! The rules an environment must follow, each a pure function from values to
//! findings (the key, what is wrong, what to do), so a table of cases tests it.
//! [`super::resolve`] applies them and places each finding in the file that set the key.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::model::{EnhanceSpec, KeyLocation, ModelSpec, ProviderKind, secrets_path};

/// Values CloudWatch Logs accepts for `RetentionInDays`.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
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

/// What a rule found wrong with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Dotted path of the key, e.g. `models[2].provider`.
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

fn finding(key: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> Finding {
    Finding {
        key: key.into(),
        message: message.into(),
        hint: Some(hint.into()),
    }
}

/// A stack name CloudFormation accepts (after `{env}` is replaced).
pub fn stack_name(stack_name: &str) -> Option<Finding> {
    (!stack_name.is_empty() && !is_stack_name(stack_name)).then(|| {
        finding(
            "stack_name",
            format!("`{stack_name}` is not a valid CloudFormation stack name"),
            "use letters, digits and hyphens, starting with a letter, at most 128 characters",
        )
    })
}

/// A base file's `instances:` pattern: a prefix and `*`.
pub fn instances(pattern: &str) -> Option<Finding> {
    (!pattern.contains('*') || pattern.starts_with('*')).then(|| {
        finding(
            "instances",
            format!("`{pattern}` names no family of environments"),
            "use a prefix and `*`, such as `pr-*`",
        )
    })
}

pub fn region(region: &str) -> Option<Finding> {
    (!region.is_empty() && !is_region(region)).then(|| {
        finding(
            "region",
            format!("`{region}` does not look like an AWS region"),
            "use a region code such as `us-west-2`",
        )
    })
}

/// One of the Lambda build profiles of the workspace `Cargo.toml`.
pub fn build_profile(profile: &str, profiles: &[&str]) -> Option<Finding> {
    (!profiles.contains(&profile)).then(|| {
        finding(
            "build_profile",
            format!("`{profile}` is not a Lambda build profile"),
            format!(
                "use one of {} (defined in the workspace Cargo.toml)",
                profiles.join(", ")
            ),
        )
    })
}

/// `value` within `range`; `reason` (may be empty) says why the range is what it is.
pub fn in_range(
    key: &str,
    value: u32,
    range: &RangeInclusive<u32>,
    reason: &str,
) -> Option<Finding> {
    (!range.contains(&value)).then(|| {
        let because = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        finding(
            key,
            format!("{value} is out of range"),
            format!(
                "use a value from {} to {}{because}",
                range.start(),
                range.end()
            ),
        )
    })
}

pub fn log_retention(days: u32) -> Option<Finding> {
    (!LOG_RETENTION_DAYS.contains(&days)).then(|| {
        finding(
            "lambda.log_retention_days",
            format!("{days} is not a retention CloudWatch Logs offers"),
            format!(
                "use one of {}",
                LOG_RETENTION_DAYS.map(|days| days.to_string()).join(", ")
            ),
        )
    })
}

/// The addresses of `rate_limits.ip_allowlist`, and a finding for each entry that is none.
pub fn ip_allowlist(entries: &[String]) -> (Vec<IpAddr>, Vec<Finding>) {
    let mut addresses = Vec::new();
    let mut findings = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match entry.parse::<IpAddr>() {
            Ok(address) => addresses.push(address),
            Err(_) => findings.push(finding(
                format!("rate_limits.ip_allowlist[{index}]"),
                format!("`{entry}` is not an IP address"),
                "list single IPv4 or IPv6 addresses, such as `203.0.113.7`",
            )),
        }
    }
    (addresses, findings)
}

pub fn cors_origins(origins: &[String]) -> Vec<Finding> {
    origins
        .iter()
        .enumerate()
        .filter(|(_, origin)| !is_origin(origin))
        .map(|(index, origin)| {
            finding(
                format!("api.cors_origins[{index}]"),
                format!("`{origin}` is not an origin"),
                "write scheme and host with no path or trailing slash, such as `https://app.example.com`, or `*`",
            )
        })
        .collect()
}

/// API Gateway's throttling of the paid routes: a rate in range, and no looser
/// than the other routes'.
pub fn paid_throttle(
    paid_burst: u32,
    paid_rate: f64,
    throttle_burst: u32,
    throttle_rate: u32,
) -> Vec<Finding> {
    const TIGHTER: &str = "the paid routes (POST /generate, POST /enhance) must be throttled at least as tightly as the others";
    let mut findings = Vec::new();
    if !(0.01..=10000.0).contains(&paid_rate) {
        findings.push(finding(
            "api.paid_throttle_rate",
            format!("{paid_rate} is out of range"),
            "use requests per second from 0.01 to 10000",
        ));
    }
    if paid_burst > throttle_burst {
        findings.push(finding(
            "api.paid_throttle_burst",
            format!("{paid_burst} is looser than `api.throttle_burst` ({throttle_burst})"),
            TIGHTER,
        ));
    }
    if paid_rate > f64::from(throttle_rate) {
        findings.push(finding(
            "api.paid_throttle_rate",
            format!("{paid_rate} is looser than `api.throttle_rate` ({throttle_rate})"),
            TIGHTER,
        ));
    }
    findings
}

pub fn alarm_email(email: &str) -> Option<Finding> {
    (!is_email(email)).then(|| {
        finding(
            "alarms.email",
            format!("`{email}` is not an e-mail address"),
            "write one address such as `oncall@example.com`, or \"\" for none",
        )
    })
}

/// What a missing `alarms.email` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// Refused: a protected environment's alarms must reach someone.
    Problem(Finding),
    /// Valid, but `pixelctl validate` advises against it.
    Advice(Finding),
}

/// `alarms.email` is not set in environment `name`.
pub fn missing_alarm_email(termination_protection: bool, name: &str) -> Option<Missing> {
    if termination_protection {
        Some(Missing::Problem(finding(
            "alarms.email",
            "is required for an environment with `termination_protection: true`: without it no alarm reaches anyone",
            "set the address of the team on call, such as `alarms.email: oncall@example.com`",
        )))
    } else if name != "dev" {
        Some(Missing::Advice(finding(
            "alarms.email",
            "is not set: the alarms and the budget of this environment notify no one",
            "set the address of the team that should hear about it (recommended for every environment but dev)",
        )))
    } else {
        None
    }
}

/// The worker's latency alarm must be able to fire before the worker times out.
pub fn worker_alarm(worker_p95_ms: u32, worker_timeout_seconds: u32) -> Option<Finding> {
    (worker_p95_ms >= worker_timeout_seconds.saturating_mul(1000) && worker_timeout_seconds > 0)
        .then(|| {
            finding(
                "alarms.worker_p95_ms",
                format!(
                    "{worker_p95_ms} ms is not below the worker's {worker_timeout_seconds} s timeout: the alarm could never fire"
                ),
                "set it below `worker.timeout_seconds` (in milliseconds)",
            )
        })
}

pub fn tags(tags: &BTreeMap<String, String>) -> Vec<Finding> {
    let mut findings = Vec::new();
    if tags.len() > 40 {
        findings.push(finding(
            "tags",
            format!("{} tags is too many", tags.len()),
            "keep at most 40 (AWS allows 50 per resource; the template adds its own)",
        ));
    }
    for (key, value) in tags {
        let path = format!("tags.{key}");
        if key.is_empty() || key.len() > 128 || key.to_ascii_lowercase().starts_with("aws:") {
            findings.push(finding(
                &path,
                format!("`{key}` is not a valid tag key"),
                "use 1 to 128 characters, not starting with `aws:`",
            ));
        }
        if value.len() > 256 {
            findings.push(Finding {
                key: path,
                message: "tag value is longer than 256 characters".to_owned(),
                hint: None,
            });
        }
    }
    findings
}

/// Every key location lies under environment `name`'s secrets path (the Lambda may
/// read there and nowhere else); Bedrock takes none.
pub fn key_locations(name: &str, providers: &BTreeMap<ProviderKind, KeyLocation>) -> Vec<Finding> {
    let path = secrets_path(name);
    let mut findings = Vec::new();
    for (provider, location) in providers {
        if !provider.needs_api_key() {
            findings.push(finding(
                format!("providers.{provider}"),
                "Bedrock is called with the function's IAM role and takes no API key",
                "remove this entry",
            ));
            continue;
        }
        let (name, prefix, kind) = match location {
            KeyLocation::Ssm(name) => (name, format!("/{path}/"), "ssm"),
            KeyLocation::SecretsManager(id) => (id, format!("{path}/"), "secrets_manager"),
            // Environment files spell no `env:` location (`ApiKeyFile`): it is local mode's own.
            KeyLocation::Env(name) => (name, String::new(), "env"),
        };
        if !name.starts_with(&prefix) || name.len() == prefix.len() {
            findings.push(finding(
                format!("providers.{provider}.api_key.{kind}"),
                format!("`{name}` is outside this environment's secrets path"),
                format!(
                    "name it `{prefix}<name>`: the Lambda may read keys there and nowhere else"
                ),
            ));
        }
    }
    findings
}

/// The model list: not empty, as long as `model_count` says, each named once, each
/// with a model id, a Bedrock model the stack may invoke or a provider with a key.
pub fn models(
    models: &[ModelSpec],
    model_count: u32,
    providers: &BTreeMap<ProviderKind, KeyLocation>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if models.is_empty() {
        findings.push(finding(
            "models",
            "lists no model",
            "list at least one model",
        ));
    }
    if !(1..=20).contains(&model_count) {
        findings.push(finding(
            "model_count",
            format!("{model_count} is out of range"),
            "use a value from 1 to 20",
        ));
    } else if model_count as usize != models.len() {
        findings.push(finding(
            "model_count",
            format!("is {model_count} but `models` lists {} models", models.len()),
            format!(
                "set `model_count: {}` or list {model_count} models (an environment file replaces the whole list)",
                models.len()
            ),
        ));
    }
    let mut names = BTreeSet::new();
    for (index, model) in models.iter().enumerate() {
        let at = format!("models[{index}]");
        if model.name.trim().is_empty() {
            findings.push(finding(
                format!("{at}.name"),
                "is empty",
                "give the model a display name",
            ));
        } else if !names.insert(model.name.as_str()) {
            findings.push(finding(
                format!("{at}.name"),
                format!("`{}` is listed twice", model.name),
                "give each model its own name",
            ));
        }
        if model.model.trim().is_empty() {
            findings.push(finding(
                format!("{at}.model"),
                "is empty",
                "give the provider's model id",
            ));
        }
        if model.provider == ProviderKind::Bedrock {
            if !BEDROCK_MODELS.contains(&model.model.as_str()) {
                findings.push(finding(
                    format!("{at}.model"),
                    format!(
                        "`{}` is not a Bedrock model the stack may invoke",
                        model.model
                    ),
                    format!("use one of {}", BEDROCK_MODELS.join(", ")),
                ));
            }
        } else if !providers.contains_key(&model.provider) {
            findings.push(finding(
                format!("{at}.provider"),
                format!(
                    "model `{}` uses `{}`, which has no API key location",
                    model.name, model.provider
                ),
                format!(
                    "add `providers.{}.api_key` (an `ssm` or `secrets_manager` name)",
                    model.provider
                ),
            ));
        }
    }
    findings
}

/// The chat model behind `/enhance`: a provider that serves chat, with a key.
pub fn enhance(
    enhance: &EnhanceSpec,
    providers: &BTreeMap<ProviderKind, KeyLocation>,
) -> Option<Finding> {
    if !enhance.provider.can_enhance() {
        Some(finding(
            "enhance.provider",
            format!(
                "`{}` has no chat model to enhance prompts",
                enhance.provider
            ),
            "use `openai` or `gemini`",
        ))
    } else if !providers.contains_key(&enhance.provider) {
        Some(finding(
            "enhance.provider",
            format!("`{}` has no API key location", enhance.provider),
            format!("add `providers.{}.api_key`", enhance.provider),
        ))
    } else {
        None
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
    use super::*;

    /// `Some(message)` of a finding, for tables.
    fn message(finding: Option<Finding>) -> Option<String> {
        finding.map(|finding| finding.message)
    }

    fn messages(findings: Vec<Finding>) -> Vec<(String, String)> {
        findings
            .into_iter()
            .map(|finding| (finding.key, finding.message))
            .collect()
    }

    /// (key, message) of each expected finding.
    type Expected<'a> = &'a [(&'a str, &'a str)];

    fn owned(pairs: Expected<'_>) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, message)| ((*key).to_owned(), (*message).to_owned()))
            .collect()
    }

    #[test]
    fn names_regions_and_patterns() {
        // (rule, value, expected message)
        type Rule = fn(&str) -> Option<Finding>;
        let cases: [(Rule, &str, Option<&str>); 14] = [
            (stack_name, "pixel-prompt-dev", None),
            (stack_name, "", None),
            (
                stack_name,
                "1pixel",
                Some("`1pixel` is not a valid CloudFormation stack name"),
            ),
            (
                stack_name,
                "pixel_prompt",
                Some("`pixel_prompt` is not a valid CloudFormation stack name"),
            ),
            (region, "us-west-2", None),
            (region, "ap-southeast-1", None),
            (region, "", None),
            (
                region,
                "us-west",
                Some("`us-west` does not look like an AWS region"),
            ),
            (
                region,
                "US-WEST-2",
                Some("`US-WEST-2` does not look like an AWS region"),
            ),
            (instances, "pr-*", None),
            (
                instances,
                "pr-",
                Some("`pr-` names no family of environments"),
            ),
            (
                instances,
                "*-pr",
                Some("`*-pr` names no family of environments"),
            ),
            (alarm_email, "oncall@example.com", None),
            (
                alarm_email,
                "oncall@example",
                Some("`oncall@example` is not an e-mail address"),
            ),
        ];
        for (rule, value, expected) in cases {
            assert_eq!(
                message(rule(value)),
                expected.map(str::to_owned),
                "{value:?}"
            );
        }
    }

    #[test]
    fn ranges_and_retention() {
        let cases = [
            (5, 1..=10, "", None),
            (0, 1..=10, "", Some("use a value from 1 to 10")),
            (11, 1..=10, "why", Some("use a value from 1 to 10: why")),
        ];
        for (value, range, reason, hint) in cases {
            let found = in_range("k", value, &range, reason);
            assert_eq!(found.clone().and_then(|f| f.hint), hint.map(str::to_owned));
            assert_eq!(
                message(found),
                hint.map(|_| format!("{value} is out of range"))
            );
        }
        assert_eq!(log_retention(14), None);
        assert_eq!(
            message(log_retention(10)),
            Some("10 is not a retention CloudWatch Logs offers".to_owned())
        );
        assert_eq!(build_profile("lambda", &["lambda", "lambda-dev"]), None);
        assert_eq!(
            build_profile("release", &["lambda", "lambda-dev"]).and_then(|f| f.hint),
            Some("use one of lambda, lambda-dev (defined in the workspace Cargo.toml)".to_owned())
        );
    }

    #[test]
    fn allowlists_and_origins() {
        let (addresses, findings) =
            ip_allowlist(&["203.0.113.7".into(), "10.0.0.0/8".into(), "::1".into()]);
        assert_eq!(addresses.len(), 2);
        assert_eq!(
            messages(findings),
            owned(&[(
                "rate_limits.ip_allowlist[1]",
                "`10.0.0.0/8` is not an IP address"
            )])
        );
        let origins: Vec<String> = [
            "*",
            "https://app.example.com",
            "http://localhost:5173",
            "https://x/",
            "app.example.com",
            "https://a b",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            messages(cors_origins(&origins)),
            owned(&[
                ("api.cors_origins[3]", "`https://x/` is not an origin"),
                ("api.cors_origins[4]", "`app.example.com` is not an origin"),
                ("api.cors_origins[5]", "`https://a b` is not an origin"),
            ])
        );
    }

    #[test]
    fn paid_routes_are_throttled_at_least_as_tightly() {
        // (paid burst, paid rate, burst, rate, expected)
        let cases: [(u32, f64, u32, u32, Expected<'_>); 4] = [
            (10, 1.0, 20, 10, &[]),
            (
                30,
                1.0,
                20,
                10,
                &[(
                    "api.paid_throttle_burst",
                    "30 is looser than `api.throttle_burst` (20)",
                )],
            ),
            (
                10,
                20.0,
                20,
                10,
                &[(
                    "api.paid_throttle_rate",
                    "20 is looser than `api.throttle_rate` (10)",
                )],
            ),
            (
                10,
                0.0,
                20,
                10,
                &[("api.paid_throttle_rate", "0 is out of range")],
            ),
        ];
        for (paid_burst, paid_rate, burst, rate, expected) in cases {
            assert_eq!(
                messages(paid_throttle(paid_burst, paid_rate, burst, rate)),
                owned(expected),
                "{paid_burst} {paid_rate} {burst} {rate}"
            );
        }
    }

    #[test]
    fn alarms() {
        let kind = |missing: Option<Missing>| match missing {
            Some(Missing::Problem(_)) => "problem",
            Some(Missing::Advice(_)) => "advice",
            None => "none",
        };
        // (termination protection, environment, expected)
        let cases = [
            (true, "prod", "problem"),
            (true, "dev", "problem"),
            (false, "qa", "advice"),
            (false, "dev", "none"),
        ];
        for (protected, name, expected) in cases {
            assert_eq!(
                kind(missing_alarm_email(protected, name)),
                expected,
                "{protected} {name}"
            );
        }
        // (p95 ms, worker timeout s, no finding: the alarm can fire before the timeout)
        let cases = [(179_000, 180, true), (180_000, 180, false), (5000, 0, true)];
        for (p95, timeout, fires) in cases {
            assert_eq!(
                worker_alarm(p95, timeout).is_none(),
                fires,
                "{p95} {timeout}"
            );
        }
    }

    #[test]
    fn tags_follow_aws_limits() {
        let cases: [(Expected<'_>, Expected<'_>); 4] = [
            (&[("team", "images")], &[]),
            (
                &[("aws:cost", "x")],
                &[("tags.aws:cost", "`aws:cost` is not a valid tag key")],
            ),
            (&[("", "x")], &[("tags.", "`` is not a valid tag key")]),
            (
                &[("team", &"v".repeat(257))],
                &[("tags.team", "tag value is longer than 256 characters")],
            ),
        ];
        for (given, expected) in cases {
            let given: BTreeMap<String, String> = given
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(messages(tags(&given)), owned(expected), "{given:?}");
        }
        let many: BTreeMap<String, String> =
            (0..41).map(|i| (format!("t{i}"), String::new())).collect();
        assert_eq!(
            messages(tags(&many)),
            owned(&[("tags", "41 tags is too many")])
        );
    }

    fn keys(entries: &[(ProviderKind, KeyLocation)]) -> BTreeMap<ProviderKind, KeyLocation> {
        entries.iter().cloned().collect()
    }

    #[test]
    fn key_locations_stay_under_the_secrets_path() {
        use KeyLocation::{SecretsManager, Ssm};
        let cases: [(Vec<(ProviderKind, KeyLocation)>, Expected<'_>); 5] = [
            (
                vec![(ProviderKind::Openai, Ssm("/pixel-prompt/qa/openai".into()))],
                &[],
            ),
            (
                vec![(
                    ProviderKind::Bfl,
                    SecretsManager("pixel-prompt/qa/bfl".into()),
                )],
                &[],
            ),
            (
                vec![(
                    ProviderKind::Openai,
                    Ssm("/pixel-prompt/prod/openai".into()),
                )],
                &[(
                    "providers.openai.api_key.ssm",
                    "`/pixel-prompt/prod/openai` is outside this environment's secrets path",
                )],
            ),
            (
                vec![(ProviderKind::Bfl, SecretsManager("pixel-prompt/qa/".into()))],
                &[(
                    "providers.bfl.api_key.secrets_manager",
                    "`pixel-prompt/qa/` is outside this environment's secrets path",
                )],
            ),
            (
                vec![(ProviderKind::Bedrock, Ssm("/pixel-prompt/qa/x".into()))],
                &[(
                    "providers.bedrock",
                    "Bedrock is called with the function's IAM role and takes no API key",
                )],
            ),
        ];
        for (providers, expected) in cases {
            assert_eq!(
                messages(key_locations("qa", &keys(&providers))),
                owned(expected),
                "{providers:?}"
            );
        }
    }

    fn model(name: &str, provider: ProviderKind, id: &str) -> ModelSpec {
        ModelSpec {
            name: name.to_owned(),
            provider,
            model: id.to_owned(),
        }
    }

    #[test]
    fn model_lists() {
        let openai = keys(&[(
            ProviderKind::Openai,
            KeyLocation::Ssm("/pixel-prompt/qa/openai".into()),
        )]);
        let ultra = BEDROCK_MODELS[0];
        let cases: [(Vec<ModelSpec>, u32, Expected<'_>); 6] = [
            (
                vec![
                    model("A", ProviderKind::Openai, "m"),
                    model("B", ProviderKind::Bedrock, ultra),
                ],
                2,
                &[],
            ),
            (
                vec![],
                0,
                &[
                    ("models", "lists no model"),
                    ("model_count", "0 is out of range"),
                ],
            ),
            (
                vec![model("A", ProviderKind::Openai, "m")],
                2,
                &[("model_count", "is 2 but `models` lists 1 models")],
            ),
            (
                vec![
                    model("A", ProviderKind::Openai, "m"),
                    model("A", ProviderKind::Openai, " "),
                ],
                2,
                &[
                    ("models[1].name", "`A` is listed twice"),
                    ("models[1].model", "is empty"),
                ],
            ),
            (
                vec![model("N", ProviderKind::Bedrock, "amazon.nova-canvas-v1:0")],
                1,
                &[(
                    "models[0].model",
                    "`amazon.nova-canvas-v1:0` is not a Bedrock model the stack may invoke",
                )],
            ),
            (
                vec![model("G", ProviderKind::Gemini, "g")],
                1,
                &[(
                    "models[0].provider",
                    "model `G` uses `gemini`, which has no API key location",
                )],
            ),
        ];
        for (list, count, expected) in cases {
            assert_eq!(
                messages(models(&list, count, &openai)),
                owned(expected),
                "{list:?}"
            );
        }
    }

    #[test]
    fn the_enhance_model() {
        let openai = keys(&[(ProviderKind::Openai, KeyLocation::Ssm("/x".into()))]);
        let spec = |provider| EnhanceSpec {
            provider,
            model: "m".to_owned(),
        };
        let cases = [
            (ProviderKind::Openai, None),
            (
                ProviderKind::Gemini,
                Some("`gemini` has no API key location"),
            ),
            (
                ProviderKind::Bfl,
                Some("`bfl` has no chat model to enhance prompts"),
            ),
        ];
        for (provider, expected) in cases {
            assert_eq!(
                message(enhance(&spec(provider), &openai)),
                expected.map(str::to_owned),
                "{provider}"
            );
        }
    }
}
