//! Who serves a model: the providers the API can call, and the facts about them
//! the deployer needs too (which take an API key, which serve chat, where a
//! Bedrock model is offered).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which API serves a model. Chosen from the `provider` field, never from a display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Gemini,
    Imagen,
    Bfl,
    Recraft,
    Stability,
    Bedrock,
}

impl ProviderKind {
    pub const ALL: [Self; 7] = [
        Self::Openai,
        Self::Gemini,
        Self::Imagen,
        Self::Bfl,
        Self::Recraft,
        Self::Stability,
        Self::Bedrock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Gemini => "gemini",
            Self::Imagen => "imagen",
            Self::Bfl => "bfl",
            Self::Recraft => "recraft",
            Self::Stability => "stability",
            Self::Bedrock => "bedrock",
        }
    }

    /// The public base URL of the provider's HTTP API (`None` for Bedrock: the SDK
    /// resolves it from the region).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::Openai => Some("https://api.openai.com"),
            Self::Gemini | Self::Imagen => Some("https://generativelanguage.googleapis.com"),
            Self::Bfl => Some("https://api.bfl.ai"),
            Self::Recraft => Some("https://external.api.recraft.ai"),
            Self::Stability => Some("https://api.stability.ai"),
            Self::Bedrock => None,
        }
    }

    /// Whether the provider is called with an API key (Bedrock uses the IAM role).
    pub fn needs_api_key(self) -> bool {
        self != Self::Bedrock
    }

    /// Whether the provider can serve the chat model behind `/enhance`.
    pub fn can_enhance(self) -> bool {
        matches!(self, Self::Openai | Self::Gemini)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|provider| provider.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<String> = Self::ALL.iter().map(|p| format!("`{p}`")).collect();
                format!(
                    "unknown provider `{s}`, expected one of {}",
                    known.join(", ")
                )
            })
    }
}

/// The region a Bedrock model is offered in, `None` for the function's own region.
pub fn bedrock_region(model: &str) -> Option<&'static str> {
    if model.starts_with("amazon.nova-canvas") || model.starts_with("amazon.titan-image") {
        Some("us-east-1")
    } else if model.starts_with("stability.") {
        Some("us-west-2")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_agree_with_serde() {
        for provider in ProviderKind::ALL {
            assert_eq!(provider.as_str().parse::<ProviderKind>(), Ok(provider));
            assert_eq!(
                serde_json::to_string(&provider).ok(),
                Some(format!("\"{provider}\""))
            );
        }
        let error = "midjourney".parse::<ProviderKind>().unwrap_err();
        assert!(error.contains("unknown provider `midjourney`"), "{error}");
    }

    #[test]
    fn what_each_provider_can_do() {
        // (provider, needs an API key, serves chat)
        let cases = [
            (ProviderKind::Openai, true, true),
            (ProviderKind::Gemini, true, true),
            (ProviderKind::Imagen, true, false),
            (ProviderKind::Bfl, true, false),
            (ProviderKind::Recraft, true, false),
            (ProviderKind::Stability, true, false),
            (ProviderKind::Bedrock, false, false),
        ];
        for (provider, key, chat) in cases {
            assert_eq!(provider.needs_api_key(), key, "{provider}");
            assert_eq!(provider.can_enhance(), chat, "{provider}");
        }
    }

    #[test]
    fn bedrock_regions() {
        let cases = [
            ("amazon.nova-canvas-v1:0", Some("us-east-1")),
            ("amazon.titan-image-generator-v2:0", Some("us-east-1")),
            ("stability.stable-image-ultra-v1:1", Some("us-west-2")),
            ("anthropic.claude", None),
        ];
        for (model, region) in cases {
            assert_eq!(bedrock_region(model), region, "{model}");
        }
    }
}
