//! An environment's name (`dev`, `prod`, `pr-123`): the rule both the deployer and
//! the API apply to it, and the type that carries a name that passed it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The name a stack was deployed with (`ENVIRONMENT`): lower-case letters, digits
/// and hyphens, starting with a letter. It names the metrics' `Environment` dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvironmentName(String);

impl EnvironmentName {
    /// `dev`, what local mode runs as unless told otherwise.
    pub fn dev() -> Self {
        Self("dev".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `name` may name an environment.
pub fn is_environment_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl FromStr for EnvironmentName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_environment_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not an environment name (lower-case letters, digits and hyphens, starting with a letter)"
            ))
        }
    }
}

impl TryFrom<String> for EnvironmentName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<EnvironmentName> for String {
    fn from(name: EnvironmentName) -> Self {
        name.0
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names() {
        let cases = [
            ("dev", true),
            ("prod", true),
            ("pr-123", true),
            ("qa2", true),
            ("", false),
            ("QA", false),
            ("1qa", false),
            ("-qa", false),
            ("qa 1", false),
            ("qa_1", false),
        ];
        for (name, valid) in cases {
            assert_eq!(is_environment_name(name), valid, "{name:?}");
            assert_eq!(name.parse::<EnvironmentName>().is_ok(), valid, "{name:?}");
        }
    }
}
