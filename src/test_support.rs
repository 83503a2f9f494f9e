//! What pixelctl's unit tests share: a local AWS server (the tests' shared
//! launcher) and the repository's environments.

use std::path::PathBuf;

/// One local AWS on a free port, stopped when dropped.
pub use ::test_support::LocalAws;

/// One of the repository's own environments, loaded as `pixelctl` loads it.
pub fn environment(name: &str) -> crate::config::Environment {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate::config::load(&root.join("environments"), name)
        .unwrap_or_else(|error| panic!("environment `{name}`: {error}"))
}
