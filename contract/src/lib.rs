//! The contract between pixelctl (which writes an environment's settings into
//! the stack's parameters) and the API (which reads them back from its
//! environment variables): one definition of every type and name both sides use.
//!
//! Nothing here touches AWS or the network, so pixelctl can link it without the API.

pub mod environment;
pub mod keys;
pub mod limits;
pub mod model;
pub mod names;
pub mod provider;
pub mod provider_error;
pub mod variables;

pub use environment::EnvironmentName;
pub use keys::{ApiKey, KEY_TTL, KeyLocation};
pub use limits::RateLimits;
pub use model::{EnhanceSpec, ModelSpec};
pub use provider::ProviderKind;
