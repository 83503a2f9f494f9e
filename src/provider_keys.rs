//! Which provider keys an environment needs, which providers share one, and
//! which models fail when one is missing: pure decisions for `secrets`,
//! `deploy` and `doctor`.

use std::fmt;

use serde::Serialize;

use crate::config::{Environment, KeyLocation, ProviderKind};

/// One place a key lives, and what uses it. Gemini and Imagen share a Google
/// key by default: one entry, two providers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEntry {
    pub location: KeyLocation,
    /// Every provider whose key lives here (configured in `providers:`).
    pub providers: Vec<ProviderKind>,
    /// Display names of the image models that need it.
    pub models: Vec<String>,
    /// Whether `POST /enhance`'s chat model needs it.
    pub enhance: bool,
}

impl KeyEntry {
    /// Whether anything the environment runs needs this key.
    pub fn used(&self) -> bool {
        self.enhance || !self.models.is_empty()
    }

    /// What fails without it, for a warning: `DALL-E 3, Gemini 2.0 (and /enhance)`.
    pub fn consequences(&self) -> String {
        let mut parts = self.models.clone();
        if self.enhance {
            parts.push("/enhance (falls back to the original prompt)".to_owned());
        }
        parts.join(", ")
    }

    pub fn provider_names(&self) -> String {
        self.providers
            .iter()
            .map(|provider| provider.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A key location as `secrets list` and `deploy` name it: `SSM NAME`,
/// `Secrets Manager ID`.
pub struct Shown<'a>(pub &'a KeyLocation);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            KeyLocation::Ssm(name) => write!(f, "SSM {name}"),
            KeyLocation::SecretsManager(id) => write!(f, "Secrets Manager {id}"),
            KeyLocation::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// Every key location the environment configures, grouped, in the order of
/// `providers:`; with what uses each.
pub fn entries(environment: &Environment) -> Vec<KeyEntry> {
    let mut entries: Vec<KeyEntry> = Vec::new();
    for (provider, location) in &environment.providers {
        if !provider.needs_api_key() {
            continue;
        }
        let models: Vec<String> = environment
            .models
            .iter()
            .filter(|model| model.provider == *provider)
            .map(|model| model.name.clone())
            .collect();
        let enhance = environment.enhance.provider == *provider;
        match entries.iter_mut().find(|entry| entry.location == *location) {
            Some(entry) => {
                entry.providers.push(*provider);
                entry.models.extend(models);
                entry.enhance |= enhance;
            }
            None => entries.push(KeyEntry {
                location: location.clone(),
                providers: vec![*provider],
                models,
                enhance,
            }),
        }
    }
    entries
}

/// The keys the environment's models and chat model need.
pub fn needed(environment: &Environment) -> Vec<KeyEntry> {
    entries(environment)
        .into_iter()
        .filter(KeyEntry::used)
        .collect()
}

/// Why a provider's key can't be set or removed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("`{name}` is not a provider; known providers: {known}{suggestion}")]
    Unknown {
        name: String,
        known: String,
        suggestion: String,
    },
    #[error("`bedrock` needs no API key: the function calls Bedrock with its IAM role")]
    NoKeyNeeded,
    #[error(
        "environment `{environment}` names no key location for `{provider}`; add `providers.{provider}.api_key` (`ssm` or `secrets_manager`) to environments/defaults.yaml or environments/{environment}.yaml"
    )]
    NotConfigured {
        environment: String,
        provider: ProviderKind,
    },
}

/// Reads a provider's name as typed on the command line.
pub fn parse_provider(name: &str) -> Result<ProviderKind, LookupError> {
    let lower = name.trim().to_ascii_lowercase();
    ProviderKind::ALL
        .into_iter()
        .find(|provider| provider.as_str() == lower)
        .ok_or_else(|| {
            let names = ProviderKind::ALL.map(ProviderKind::as_str);
            LookupError::Unknown {
                name: name.to_owned(),
                known: names.join(", "),
                suggestion: crate::config::did_you_mean(&lower, names.iter().copied())
                    .map(|guess| format!(" (did you mean `{guess}`?)"))
                    .unwrap_or_default(),
            }
        })
}

/// The entry holding `provider`'s key in `environment`.
pub fn entry_for(
    environment: &Environment,
    provider: ProviderKind,
) -> Result<KeyEntry, LookupError> {
    if !provider.needs_api_key() {
        return Err(LookupError::NoKeyNeeded);
    }
    entries(environment)
        .into_iter()
        .find(|entry| entry.providers.contains(&provider))
        .ok_or_else(|| LookupError::NotConfigured {
            environment: environment.name.clone(),
            provider,
        })
}

/// The needed entries whose location holds no key, given which locations do.
pub fn missing(needed: &[KeyEntry], is_set: impl Fn(&KeyLocation) -> bool) -> Vec<KeyEntry> {
    needed
        .iter()
        .filter(|entry| !is_set(&entry.location))
        .cloned()
        .collect()
}

/// The command that sets an entry's key: named after its first provider.
pub fn set_command(environment: &str, entry: &KeyEntry) -> String {
    let provider = entry
        .providers
        .first()
        .map_or("PROVIDER", |provider| provider.as_str());
    format!("pixelctl secrets set {environment} {provider}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::environment;

    fn names(entries: &[KeyEntry]) -> Vec<(String, Vec<&'static str>, Vec<String>, bool)> {
        entries
            .iter()
            .map(|entry| {
                (
                    Shown(&entry.location).to_string(),
                    entry.providers.iter().map(|p| p.as_str()).collect(),
                    entry.models.clone(),
                    entry.enhance,
                )
            })
            .collect()
    }

    #[test]
    fn dev_needs_the_openai_and_google_keys_only() {
        let dev = environment("dev");
        assert_eq!(
            names(&needed(&dev)),
            [
                (
                    "SSM /pixel-prompt/dev/openai-api-key".to_owned(),
                    vec!["openai"],
                    vec!["GPT Image 2.6 Sunburst".to_owned()],
                    true
                ),
                (
                    "SSM /pixel-prompt/dev/google-api-key".to_owned(),
                    vec!["gemini", "imagen"],
                    vec!["Gemini 3.1 Flash Image".to_owned()],
                    false
                ),
            ]
        );
        // Recraft, Stability and BFL are configured but unused in dev.
        assert_eq!(entries(&dev).len(), 5);
    }

    #[test]
    fn gemini_and_imagen_share_one_entry_in_prod() {
        let prod = environment("prod");
        let google = entry_for(&prod, ProviderKind::Imagen).unwrap();
        assert_eq!(google, entry_for(&prod, ProviderKind::Gemini).unwrap());
        assert_eq!(
            google.providers,
            [ProviderKind::Gemini, ProviderKind::Imagen]
        );
        assert_eq!(
            google.models,
            [
                "Gemini 3.1 Flash Image".to_owned(),
                "Gemini 3 Pro Image".to_owned()
            ]
        );
        let bfl = entry_for(&prod, ProviderKind::Bfl).unwrap();
        assert_eq!(
            bfl.location,
            KeyLocation::SecretsManager("pixel-prompt/prod/bfl-api-key".to_owned())
        );
        assert_eq!(bfl.models, ["FLUX.2 Pro", "FLUX.2 Flex"]);
        assert_eq!(needed(&prod).len(), 5);
    }

    #[test]
    fn missing_keys_name_the_models_that_fail() {
        let dev = environment("dev");
        let needed = needed(&dev);
        let cases: [(&[&str], Vec<&str>); 3] = [
            (
                &[],
                vec![
                    "GPT Image 2.6 Sunburst, /enhance (falls back to the original prompt)",
                    "Gemini 3.1 Flash Image",
                ],
            ),
            (
                &["/pixel-prompt/dev/openai-api-key"],
                vec!["Gemini 3.1 Flash Image"],
            ),
            (
                &[
                    "/pixel-prompt/dev/openai-api-key",
                    "/pixel-prompt/dev/google-api-key",
                ],
                vec![],
            ),
        ];
        for (set, failing) in cases {
            let missing = missing(&needed, |location| match location {
                KeyLocation::Ssm(name) => set.contains(&name.as_str()),
                KeyLocation::SecretsManager(_) | KeyLocation::Env(_) => false,
            });
            let consequences: Vec<String> = missing.iter().map(KeyEntry::consequences).collect();
            assert_eq!(consequences, failing, "set: {set:?}");
        }
        assert_eq!(
            set_command("dev", &needed[1]),
            "pixelctl secrets set dev gemini"
        );
    }

    #[test]
    fn providers_parse_with_help() {
        assert_eq!(parse_provider("OpenAI"), Ok(ProviderKind::Openai));
        assert_eq!(
            parse_provider("bedrock").and_then(|p| entry_for(&environment("dev"), p)),
            Err(LookupError::NoKeyNeeded)
        );
        let error = parse_provider("opanai").unwrap_err().to_string();
        assert!(error.contains("did you mean `openai`?"), "{error}");
        assert!(error.contains("recraft"), "{error}");
    }
}
