//! The models an environment offers: what its file lists, what the stack passes
//! in `MODELS` and `ENHANCE_MODEL`, what the API calls.

use serde::{Deserialize, Serialize};

use crate::ProviderKind;

/// An image model: its display name, who serves it and the provider's model id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub provider: ProviderKind,
    pub model: String,
}

/// The chat model that rewrites prompts for `POST /enhance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnhanceSpec {
    pub provider: ProviderKind,
    pub model: String,
}
