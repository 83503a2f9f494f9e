//! Asking the providers which models they serve: OpenAI's `GET /v1/models` (each model's
//! `shutdown_date`) and the Gemini API's `GET /v1beta/models` (paged; it reports no
//! lifecycle, so a model it no longer serves is simply missing). Where pixelctl may send
//! these requests is decided here too: never to a real provider host when AWS itself is a
//! custom endpoint (the local AWS), unless `PIXELCTL_PROVIDER_BASE_URLS` says where.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use super::{Date, Lookup};
use crate::aws::BedrockLifecycle;
use crate::config::ProviderKind;
use pixel_prompt_contract::ApiKey;

/// The variable naming other base URLs for the providers (the API's `PROVIDER_BASE_URLS` shape).
pub const BASE_URLS_VARIABLE: &str = "PIXELCTL_PROVIDER_BASE_URLS";

/// Whether a provider publishes a model list the check can read.
pub fn publishes_a_list(provider: ProviderKind) -> bool {
    matches!(
        provider,
        ProviderKind::Openai | ProviderKind::Gemini | ProviderKind::Imagen | ProviderKind::Bedrock
    )
}

/// Where the check sends each provider's requests.
#[derive(Debug, Clone)]
pub struct ProviderEndpoints {
    overrides: BTreeMap<ProviderKind, String>,
    /// AWS calls go to a custom endpoint (the local AWS): real providers are off limits.
    custom_aws_endpoint: bool,
    client: reqwest::Client,
}

impl ProviderEndpoints {
    pub fn new(overrides: BTreeMap<ProviderKind, String>, custom_aws_endpoint: bool) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("pixelctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            overrides,
            custom_aws_endpoint,
            client,
        }
    }

    /// Reads `PIXELCTL_PROVIDER_BASE_URLS` (`{"openai": "http://127.0.0.1:9000/openai"}`).
    pub fn parse(raw: &str) -> Result<BTreeMap<ProviderKind, String>, String> {
        pixel_prompt_contract::variables::parse_base_urls(raw)
            .map_err(|error| format!("{BASE_URLS_VARIABLE}: {error}"))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The base URL to ask `provider` at, or why it is not asked.
    pub fn base_url(&self, provider: ProviderKind) -> Result<String, String> {
        if let Some(url) = self.overrides.get(&provider) {
            return Ok(url.clone());
        }
        if self.custom_aws_endpoint {
            return Err(format!(
                "not asked: with a custom AWS endpoint pixelctl contacts no real provider; \
                 set {BASE_URLS_VARIABLE} to check {provider} elsewhere"
            ));
        }
        provider
            .default_base_url()
            .map(str::to_owned)
            .ok_or_else(|| format!("{provider} has no HTTP API to ask"))
    }
}

/// A provider's list of served models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelList {
    /// OpenAI: id -> announced shutdown date.
    OpenAi(BTreeMap<String, Option<Date>>),
    /// The Gemini API: the ids it serves.
    Google(BTreeSet<String>),
}

impl ModelList {
    pub fn lookup(&self, model: &str) -> Lookup {
        match self {
            Self::OpenAi(models) => match models.get(model) {
                Some(shutdown) => Lookup::Served {
                    shutdown: *shutdown,
                },
                None => Lookup::Gone {
                    detail: "OpenAI's model list (GET /v1/models) no longer names it".to_owned(),
                },
            },
            Self::Google(models) => {
                if models.contains(model) {
                    Lookup::Served { shutdown: None }
                } else {
                    Lookup::Gone {
                        detail:
                            "the Gemini API's model list (GET /v1beta/models) no longer names it"
                                .to_owned(),
                    }
                }
            }
        }
    }
}

/// What Bedrock's lifecycle means for a model (`None`: `GetFoundationModel` found none).
pub fn bedrock_lookup(lifecycle: Option<&BedrockLifecycle>, region: &str) -> Lookup {
    match lifecycle {
        None => Lookup::Gone {
            detail: format!(
                "Bedrock does not offer it in {region} (GetFoundationModel found no such model: past its end of life, or never offered there)"
            ),
        },
        Some(lifecycle) => Lookup::Served {
            shutdown: lifecycle.end_of_life.map(Date::from_system_time),
        },
    }
}

/// Why a model list could not be had. The message never holds the key.
#[derive(Debug, thiserror::Error)]
#[error("{provider} did not list its models: {message}")]
pub struct CatalogError {
    provider: ProviderKind,
    message: String,
}

async fn get_json(
    request: reqwest::RequestBuilder,
    provider: ProviderKind,
    key: &ApiKey,
) -> Result<Value, CatalogError> {
    let fail = |message: String| CatalogError {
        provider,
        message: key.scrub(&message),
    };
    let response = request
        .send()
        .await
        .map_err(|error| fail(error.without_url().to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|error| fail(error.without_url().to_string()))?;
    if !(200..300).contains(&status) {
        let error = pixel_prompt_contract::provider_error::status_error(status, &body);
        return Err(fail(error.to_string()));
    }
    serde_json::from_str(&body).map_err(|error| fail(format!("the answer is not JSON ({error})")))
}

/// Fetches `provider`'s model list from `base`.
pub async fn fetch(
    client: &reqwest::Client,
    provider: ProviderKind,
    base: &str,
    key: &ApiKey,
) -> Result<ModelList, CatalogError> {
    match provider {
        ProviderKind::Openai => {
            let answer = get_json(
                client
                    .get(format!("{base}/v1/models"))
                    .bearer_auth(key.expose()),
                provider,
                key,
            )
            .await?;
            Ok(ModelList::OpenAi(openai_models(&answer)))
        }
        ProviderKind::Gemini | ProviderKind::Imagen => {
            let mut models = BTreeSet::new();
            let mut token = String::new();
            // Pages of up to 1000; a handful at most.
            for _ in 0..50 {
                let answer = get_json(
                    client
                        .get(format!(
                            "{base}/v1beta/models?pageSize=1000&pageToken={}",
                            percent_encode(&token)
                        ))
                        .header("x-goog-api-key", key.expose()),
                    provider,
                    key,
                )
                .await?;
                models.extend(google_models(&answer));
                match answer.get("nextPageToken").and_then(Value::as_str) {
                    Some(next) if !next.is_empty() => next.clone_into(&mut token),
                    _ => break,
                }
            }
            Ok(ModelList::Google(models))
        }
        other => Err(CatalogError {
            provider: other,
            message: "it publishes no model list".to_owned(),
        }),
    }
}

/// A query value with everything but unreserved characters percent-encoded.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `{"data": [{"id", "shutdown_date": "YYYY-MM-DD" | null}]}`.
fn openai_models(answer: &Value) -> BTreeMap<String, Option<Date>> {
    answer
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|model| {
            let id = model.get("id")?.as_str()?.to_owned();
            let shutdown = model
                .get("shutdown_date")
                .and_then(Value::as_str)
                .and_then(|date| date.parse().ok());
            Some((id, shutdown))
        })
        .collect()
}

/// `{"models": [{"name": "models/<id>"}]}`.
fn google_models(answer: &Value) -> impl Iterator<Item = String> + '_ {
    answer
        .get("models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|model| {
            let name = model.get("name")?.as_str()?;
            Some(name.strip_prefix("models/").unwrap_or(name).to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base_urls_never_reach_a_real_provider_from_a_custom_endpoint() {
        let fake: BTreeMap<ProviderKind, String> = [(
            ProviderKind::Openai,
            "http://127.0.0.1:9000/openai".to_owned(),
        )]
        .into();
        let cases = [
            (
                fake.clone(),
                true,
                ProviderKind::Openai,
                Ok("http://127.0.0.1:9000/openai"),
            ),
            (fake.clone(), true, ProviderKind::Gemini, Err("not asked")),
            (
                fake.clone(),
                false,
                ProviderKind::Gemini,
                Ok("https://generativelanguage.googleapis.com"),
            ),
            (
                BTreeMap::new(),
                false,
                ProviderKind::Openai,
                Ok("https://api.openai.com"),
            ),
            (
                BTreeMap::new(),
                true,
                ProviderKind::Openai,
                Err("not asked"),
            ),
        ];
        for (overrides, custom, provider, expected) in cases {
            let endpoints = ProviderEndpoints::new(overrides, custom);
            match (endpoints.base_url(provider), expected) {
                (Ok(url), Ok(wanted)) => assert_eq!(url, wanted),
                (Err(reason), Err(wanted)) => assert!(reason.starts_with(wanted), "{reason}"),
                (got, wanted) => panic!("{provider} custom={custom}: {got:?}, wanted {wanted:?}"),
            }
        }
    }

    #[test]
    fn lists_are_read_as_the_providers_write_them() {
        let openai = openai_models(&json!({"object": "list", "data": [
            {"id": "gpt-image-2.6-sunburst", "object": "model", "shutdown_date": null},
            {"id": "gpt-4o-mini", "object": "model", "shutdown_date": "2027-01-14"},
            {"id": "odd", "shutdown_date": "soon"},
        ]}));
        let list = ModelList::OpenAi(openai);
        assert_eq!(
            list.lookup("gpt-4o-mini"),
            Lookup::Served {
                shutdown: "2027-01-14".parse().ok()
            }
        );
        assert_eq!(
            list.lookup("gpt-image-2.6-sunburst"),
            Lookup::Served { shutdown: None }
        );
        assert_eq!(list.lookup("odd"), Lookup::Served { shutdown: None });
        assert!(matches!(list.lookup("dall-e-3"), Lookup::Gone { .. }));

        let google = ModelList::Google(
            google_models(&json!({"models": [{"name": "models/gemini-3.1-flash-image"}]}))
                .collect(),
        );
        assert_eq!(
            google.lookup("gemini-3.1-flash-image"),
            Lookup::Served { shutdown: None }
        );
        assert!(matches!(
            google.lookup("imagen-3.0-generate-002"),
            Lookup::Gone { .. }
        ));
    }

    /// 2026-09-30T00:00:00Z.
    const SEPTEMBER_30_2026: u64 = 1_790_726_400;

    #[test]
    fn bedrock_lifecycles() {
        let eol = std::time::UNIX_EPOCH + Duration::from_secs(SEPTEMBER_30_2026);
        let legacy = BedrockLifecycle {
            status: "LEGACY".to_owned(),
            end_of_life: Some(eol),
        };
        assert_eq!(
            bedrock_lookup(Some(&legacy), "us-east-1"),
            Lookup::Served {
                shutdown: "2026-09-30".parse().ok()
            }
        );
        let active = BedrockLifecycle {
            status: "ACTIVE".to_owned(),
            end_of_life: None,
        };
        assert_eq!(
            bedrock_lookup(Some(&active), "us-west-2"),
            Lookup::Served { shutdown: None }
        );
        assert!(matches!(
            bedrock_lookup(None, "us-east-1"),
            Lookup::Gone { detail } if detail.contains("us-east-1")
        ));
    }
}
