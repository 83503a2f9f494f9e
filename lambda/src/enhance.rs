//! `POST /enhance`: rewrites a prompt with the configured chat model. Any provider
//! failure falls back to the original prompt with `fallback: true`, never a 500.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{EnhanceSpec, ProviderKind};
use crate::providers::{ProviderError, ProviderHttp, google, openai};
use crate::secrets::{ApiKey, KeyResolver};
use crate::validation::MAX_GENERATE_PROMPT;

const SYSTEM_PROMPT: &str = "You improve prompts for text-to-image models. Rewrite the user's \
prompt into one richer prompt that keeps its subject and intent and adds concrete detail about \
style, lighting, composition and mood. Answer with the new prompt only, under 80 words, with no \
preamble and no quotes.";

/// What `/enhance` answers: `original` and `enhanced`, plus `short_prompt` and
/// `long_prompt` (both the enhanced prompt), the fields the old web client reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enhancement {
    pub original: String,
    pub enhanced: String,
    /// The old web client's name for the enhanced prompt.
    pub short_prompt: String,
    /// The old web client's "long" variant; the same enhanced prompt.
    pub long_prompt: String,
    /// The chat model failed and `enhanced` is the original prompt.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
    /// Made by the built-in fake enhancer (local mode).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fake: bool,
}

/// The prompt enhancer.
#[derive(Debug)]
pub enum Enhancer {
    Chat {
        spec: EnhanceSpec,
        http: ProviderHttp,
        base_urls: BTreeMap<ProviderKind, String>,
        keys: Arc<KeyResolver>,
    },
    /// Appends fixed detail words, for local development without a key.
    Fake,
    /// No `ENHANCE_MODEL`: always the fallback.
    Disabled,
}

impl Enhancement {
    pub fn new(original: &str, enhanced: String, fallback: bool, fake: bool) -> Self {
        Self {
            original: original.to_owned(),
            short_prompt: enhanced.clone(),
            long_prompt: enhanced.clone(),
            enhanced,
            fallback,
            fake,
        }
    }
}

/// Cleans a model's answer: trims, drops wrapping quotes, caps the length so the result
/// is still a valid `/generate` prompt.
pub fn clean_answer(text: &str) -> String {
    let text = text
        .trim()
        .trim_matches(|c| c == '"' || c == '“' || c == '”')
        .trim();
    text.chars().take(MAX_GENERATE_PROMPT).collect()
}

impl Enhancer {
    async fn call(&self, prompt: &str) -> Result<String, ProviderError> {
        let Self::Chat {
            spec,
            http,
            base_urls,
            keys,
        } = self
        else {
            return Err(ProviderError::Malformed(
                "no chat model configured".to_owned(),
            ));
        };
        let key = keys.key(spec.provider).await?;
        let base = base_urls
            .get(&spec.provider)
            .map(String::as_str)
            .or_else(|| spec.provider.default_base_url())
            .unwrap_or_default();
        let ask = |key: ApiKey| async move {
            match spec.provider {
                ProviderKind::Gemini => {
                    google::gemini_chat(http, base, &key, &spec.model, SYSTEM_PROMPT, prompt).await
                }
                _ => openai::chat(http, base, &key, &spec.model, SYSTEM_PROMPT, prompt).await,
            }
        };
        let mut answer = ask(key.clone()).await;
        let mut used = vec![key.clone()];
        // A refused key may have been rotated: retry once with the one stored now.
        if matches!(answer, Err(ProviderError::Unauthorized(_)))
            && let Ok(Some(fresh)) = keys.replacement(spec.provider, &key).await
        {
            answer = ask(fresh.clone()).await;
            used.push(fresh);
        }
        answer.map_err(|e| {
            let text = used
                .iter()
                .fold(e.to_string(), |text, key| key.scrub(&text));
            ProviderError::Malformed(text)
        })
    }

    pub async fn enhance(&self, prompt: &str) -> Enhancement {
        let fallback = |reason: &str| {
            tracing::warn!(
                reason,
                "prompt enhancement fell back to the original prompt"
            );
            Enhancement::new(prompt, prompt.to_owned(), true, false)
        };
        match self {
            Self::Fake => Enhancement::new(
                prompt,
                clean_answer(&format!(
                    "{prompt}, highly detailed, dramatic lighting, rich colours, sharp focus"
                )),
                false,
                true,
            ),
            Self::Disabled => fallback("ENHANCE_MODEL is not set"),
            Self::Chat { .. } => match self.call(prompt).await {
                Ok(text) if !clean_answer(&text).is_empty() => {
                    Enhancement::new(prompt, clean_answer(&text), false, false)
                }
                Ok(_) => fallback("the chat model answered nothing"),
                Err(e) => fallback(&e.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_answers() {
        assert_eq!(clean_answer("  \"A fox at dawn\"\n"), "A fox at dawn");
        assert_eq!(clean_answer(&"x".repeat(5000)).len(), MAX_GENERATE_PROMPT);
    }

    #[tokio::test]
    async fn fake_and_disabled() {
        let fake = Enhancer::Fake.enhance("a fox").await;
        assert!(fake.fake && fake.enhanced.len() > "a fox".len());
        let off = Enhancer::Disabled.enhance("a fox").await;
        assert!(off.fallback);
        assert_eq!(off.enhanced, "a fox");
    }
}
