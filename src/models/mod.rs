//! Whether the providers still serve an environment's models, and until when: the check
//! `validate --online` shows and `deploy` runs before building, so the next retirement
//! reaches the operator before the users. Providers that publish a model list are asked
//! (OpenAI's `shutdown_date`, Gemini's list, Bedrock's `modelLifecycle`); the others can't
//! be, and say so. This module holds the decisions (pure, table-tested) and `check`, which
//! any command (a later `doctor`) can call.

pub mod catalog;
mod date;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::aws::Aws;
use crate::config::{Environment, ProviderKind};
use crate::progress::Progress;
pub use catalog::ProviderEndpoints;
pub use date::Date;

/// A model retiring this soon or sooner is worth a warning.
pub const WARNING_DAYS: i64 = 90;

/// What a provider said about one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Served; `shutdown` once the provider has announced a date.
    Served { shutdown: Option<Date> },
    /// The provider does not serve it (any more); `detail` says how it told us.
    Gone { detail: String },
    /// Could not be asked; `reason` says why (no model list, no key, unreachable).
    Unchecked { reason: String },
}

/// The verdict on one model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Served with no shutdown announced, or one more than `WARNING_DAYS` away.
    Ok { shutdown: Option<Date> },
    /// Served, but shuts down within `WARNING_DAYS`.
    Retiring { shutdown: Date, days: i64 },
    /// Not served: a deploy with it would fail the model's every generation.
    ShutDown { detail: String },
    /// Not asked.
    Unchecked { reason: String },
}

/// Decides what a lookup means on `today`.
pub fn assess(lookup: &Lookup, today: Date) -> Verdict {
    match lookup {
        Lookup::Gone { detail } => Verdict::ShutDown {
            detail: detail.clone(),
        },
        Lookup::Unchecked { reason } => Verdict::Unchecked {
            reason: reason.clone(),
        },
        Lookup::Served { shutdown: None } => Verdict::Ok { shutdown: None },
        Lookup::Served {
            shutdown: Some(date),
        } => {
            let days = date.days_since(today);
            if days <= 0 {
                Verdict::ShutDown {
                    detail: format!("its shutdown date {date} has passed"),
                }
            } else if days <= WARNING_DAYS {
                Verdict::Retiring {
                    shutdown: *date,
                    days,
                }
            } else {
                Verdict::Ok {
                    shutdown: Some(*date),
                }
            }
        }
    }
}

/// One configured model (an image model, or the chat model behind `/enhance`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfiguredModel {
    /// The display name, or `enhance` for the chat model.
    pub name: String,
    pub provider: ProviderKind,
    pub model: String,
}

/// The environment's models, the enhance model last.
pub fn configured_models(environment: &Environment) -> Vec<ConfiguredModel> {
    environment
        .models
        .iter()
        .map(|model| ConfiguredModel {
            name: model.name.clone(),
            provider: model.provider,
            model: model.model.clone(),
        })
        .chain(std::iter::once(ConfiguredModel {
            name: "enhance".to_owned(),
            provider: environment.enhance.provider,
            model: environment.enhance.model.clone(),
        }))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelFinding {
    #[serde(flatten)]
    pub model: ConfiguredModel,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The check's result for one environment.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub environment: String,
    pub checked_on: Date,
    pub models: Vec<ModelFinding>,
}

impl ModelReport {
    pub fn shut_down(&self) -> impl Iterator<Item = &ModelFinding> {
        self.models
            .iter()
            .filter(|finding| matches!(finding.verdict, Verdict::ShutDown { .. }))
    }

    pub fn retiring(&self) -> impl Iterator<Item = &ModelFinding> {
        self.models
            .iter()
            .filter(|finding| matches!(finding.verdict, Verdict::Retiring { .. }))
    }

    /// The refusal `deploy` gives when a model is shut down: which, where, and what to do.
    pub fn refusal(&self, file_hint: &str) -> Option<String> {
        let gone: Vec<&ModelFinding> = self.shut_down().collect();
        if gone.is_empty() {
            return None;
        }
        let mut message = format!(
            "{} of {}'s models {} shut down, so every generation with {} would fail:",
            gone.len(),
            self.environment,
            if gone.len() == 1 { "is" } else { "are" },
            if gone.len() == 1 { "it" } else { "them" },
        );
        for finding in &gone {
            if let Verdict::ShutDown { detail } = &finding.verdict {
                message.push_str(&format!(
                    "\n  `{}` ({}, {}): {detail}",
                    finding.model.model, finding.model.provider, finding.model.name
                ));
            }
        }
        message.push_str(&format!(
            "\n  replace {} in {file_hint} with a model the provider serves (its model list or deprecation page names the replacement), \
             check with `pixelctl validate --online {}`, then deploy again",
            if gone.len() == 1 { "it" } else { "them" },
            self.environment
        ));
        Some(message)
    }
}

impl fmt::Display for ModelReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_width = self
            .models
            .iter()
            .map(|finding| finding.model.name.len())
            .max()
            .unwrap_or(0);
        let id_width = self
            .models
            .iter()
            .map(|finding| finding.model.provider.as_str().len() + 1 + finding.model.model.len())
            .max()
            .unwrap_or(0);
        for finding in &self.models {
            let (label, detail) = match &finding.verdict {
                Verdict::Ok { shutdown: None } => ("ok", "served".to_owned()),
                Verdict::Ok {
                    shutdown: Some(date),
                } => ("ok", format!("served; shuts down {date}")),
                Verdict::Retiring { shutdown, days } => (
                    "RETIRING",
                    format!("shuts down {shutdown}, in {days} days: replace it before then"),
                ),
                Verdict::ShutDown { detail } => ("SHUT DOWN", detail.clone()),
                Verdict::Unchecked { reason } => ("unchecked", reason.clone()),
            };
            let id = format!("{}/{}", finding.model.provider, finding.model.model);
            writeln!(
                f,
                "  {label:<9}  {:<name_width$}  {id:<id_width$}  {detail}",
                finding.model.name
            )?;
        }
        Ok(())
    }
}

/// Asks each provider about each of `environment`'s models. Keys are read from where the
/// environment says they live (never printed); providers without a base URL to ask (see
/// [`ProviderEndpoints`]) are not contacted.
pub async fn check(
    aws: &Aws,
    environment: &Environment,
    endpoints: &ProviderEndpoints,
    today: Date,
    progress: &dyn Progress,
) -> ModelReport {
    let models = configured_models(environment);
    let mut lists: BTreeMap<ProviderKind, Result<catalog::ModelList, String>> = BTreeMap::new();
    let mut findings = Vec::new();
    for configured in &models {
        let lookup = match configured.provider {
            ProviderKind::Bedrock => {
                let region = pixel_prompt_contract::provider::bedrock_region(&configured.model)
                    .unwrap_or(&environment.region);
                match aws
                    .foundation_model_lifecycle(&configured.model, region)
                    .await
                {
                    Ok(lifecycle) => catalog::bedrock_lookup(lifecycle.as_ref(), region),
                    Err(error) => Lookup::Unchecked {
                        reason: format!("Bedrock did not answer: {error:#}"),
                    },
                }
            }
            provider => {
                if let std::collections::btree_map::Entry::Vacant(slot) = lists.entry(provider) {
                    slot.insert(fetch_list(aws, environment, endpoints, provider, progress).await);
                }
                match lists.get(&provider) {
                    Some(Ok(list)) => list.lookup(&configured.model),
                    Some(Err(reason)) => Lookup::Unchecked {
                        reason: reason.clone(),
                    },
                    None => Lookup::Unchecked {
                        reason: "not asked".to_owned(),
                    },
                }
            }
        };
        findings.push(ModelFinding {
            model: configured.clone(),
            verdict: assess(&lookup, today),
        });
    }
    ModelReport {
        environment: environment.name.clone(),
        checked_on: today,
        models: findings,
    }
}

/// One provider's model list, or why it was not had.
async fn fetch_list(
    aws: &Aws,
    environment: &Environment,
    endpoints: &ProviderEndpoints,
    provider: ProviderKind,
    progress: &dyn Progress,
) -> Result<catalog::ModelList, String> {
    if !catalog::publishes_a_list(provider) {
        return Err(format!(
            "{provider} publishes no model list to check against"
        ));
    }
    let base = endpoints.base_url(provider)?;
    let location = environment
        .providers
        .get(&provider)
        .ok_or_else(|| format!("no key location for {provider} in this environment"))?;
    let key = aws
        .provider_key(location)
        .await
        .map_err(|error| format!("its key could not be read ({error:#})"))?;
    progress.note(&format!("asking {provider} which models it serves"));
    catalog::fetch(endpoints.client(), provider, &base, &key)
        .await
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        text.parse().unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn assess_decides_by_what_the_provider_said_and_the_date() {
        let today = day("2026-11-29");
        let served = |date: Option<&str>| Lookup::Served {
            shutdown: date.map(day),
        };
        let cases = [
            (served(None), Verdict::Ok { shutdown: None }),
            (
                served(Some("2027-06-01")),
                Verdict::Ok {
                    shutdown: Some(day("2027-06-01")),
                },
            ),
            (
                served(Some("2027-01-14")),
                Verdict::Retiring {
                    shutdown: day("2027-01-14"),
                    days: 46,
                },
            ),
            (
                served(Some("2027-02-27")),
                Verdict::Retiring {
                    shutdown: day("2027-02-27"),
                    days: 90,
                },
            ),
            (
                served(Some("2027-02-28")),
                Verdict::Ok {
                    shutdown: Some(day("2027-02-28")),
                },
            ),
            (
                served(Some("2026-11-29")),
                Verdict::ShutDown {
                    detail: "its shutdown date 2026-11-29 has passed".to_owned(),
                },
            ),
            (
                Lookup::Gone {
                    detail: "not in the list".to_owned(),
                },
                Verdict::ShutDown {
                    detail: "not in the list".to_owned(),
                },
            ),
            (
                Lookup::Unchecked {
                    reason: "no key".to_owned(),
                },
                Verdict::Unchecked {
                    reason: "no key".to_owned(),
                },
            ),
        ];
        for (lookup, expected) in cases {
            assert_eq!(assess(&lookup, today), expected, "{lookup:?}");
        }
    }

    #[test]
    fn the_refusal_names_each_model_its_provider_and_what_to_do() {
        let report = ModelReport {
            environment: "dev".to_owned(),
            checked_on: day("2026-11-29"),
            models: vec![
                ModelFinding {
                    model: ConfiguredModel {
                        name: "Old".to_owned(),
                        provider: ProviderKind::Openai,
                        model: "dall-e-3".to_owned(),
                    },
                    verdict: Verdict::ShutDown {
                        detail: "openai no longer lists it".to_owned(),
                    },
                },
                ModelFinding {
                    model: ConfiguredModel {
                        name: "New".to_owned(),
                        provider: ProviderKind::Gemini,
                        model: "gemini-3.1-flash-image".to_owned(),
                    },
                    verdict: Verdict::Ok { shutdown: None },
                },
            ],
        };
        let refusal = report.refusal("environments/dev.yaml").unwrap_or_default();
        assert!(
            refusal.starts_with("1 of dev's models is shut down"),
            "{refusal}"
        );
        assert!(
            refusal.contains("`dall-e-3` (openai, Old): openai no longer lists it"),
            "{refusal}"
        );
        assert!(refusal.contains("environments/dev.yaml"), "{refusal}");
        assert!(!refusal.contains("gemini-3.1"), "{refusal}");
        let fine = ModelReport {
            models: report.models[1..].to_vec(),
            ..report
        };
        assert_eq!(fine.refusal("x"), None);
    }
}
