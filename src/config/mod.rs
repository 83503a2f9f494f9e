//! Environment files: `environments/defaults.yaml` layered under one
//! environment's file, checked, and resolved into an [`Environment`].
//!
//! [`source`] finds and reads the files, [`serde_error`] turns serde's errors into
//! problems a user can act on, [`layering`] follows `extends:` and merges the
//! layers, [`resolve`] turns the merged file into an [`Environment`] applying the
//! pure decisions of [`rules`].

mod error;
mod layering;
mod locate;
mod model;
mod resolve;
mod rules;
mod serde_error;
mod source;

use std::path::Path;

pub use error::{ConfigError, Problem, did_you_mean};
pub use model::*;
/// The template's tests hold its Bedrock policy to this list.
#[cfg(test)]
pub use rules::BEDROCK_MODELS;
pub use source::{DEFAULTS_FILE, environment_names};

/// Loads, layers and checks one environment, reporting every problem at once:
/// `defaults.yaml`, then each file the environment's `extends:` chain names, then
/// its own file (or the base file it is an instance of).
pub fn load(dir: &Path, name: &str) -> Result<Environment, ConfigError> {
    resolve::resolve(name, layering::layer(dir, name)?)
}
