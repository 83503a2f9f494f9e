//! Provider API keys: where one lives (never the key itself) and the key once read,
//! which never shows itself.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long an API instance uses a key before reading it again.
pub const KEY_TTL: Duration = Duration::from_mins(5);

/// Where a provider's API key lives. Never the key itself.
///
/// Two spellings, one per place it is written: `{ssm: NAME}` in serde (environment
/// output, JSON), and `ssm:NAME` in a value of `PROVIDER_KEYS` ([`FromStr`],
/// [`KeyLocation::to_reference`]). No `Display`: each side says which form it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLocation {
    /// `ssm:/name`: an SSM SecureString parameter, read with decryption.
    Ssm(String),
    /// `secretsmanager:name`: a Secrets Manager secret's `SecretString`.
    SecretsManager(String),
    /// `env:NAME`: a variable of the API's own process (local development only).
    Env(String),
}

impl KeyLocation {
    /// The form a value of `PROVIDER_KEYS` takes: `ssm:NAME`, `secretsmanager:ID`, `env:NAME`.
    pub fn to_reference(&self) -> String {
        match self {
            Self::Ssm(n) => format!("ssm:{n}"),
            Self::SecretsManager(n) => format!("secretsmanager:{n}"),
            Self::Env(n) => format!("env:{n}"),
        }
    }
}

impl FromStr for KeyLocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| "expected `ssm:NAME`, `secretsmanager:NAME` or `env:NAME`".to_owned())?;
        if rest.is_empty() {
            return Err("a key location needs a name after the colon".to_owned());
        }
        match scheme {
            "ssm" => Ok(Self::Ssm(rest.to_owned())),
            "secretsmanager" => Ok(Self::SecretsManager(rest.to_owned())),
            "env" => Ok(Self::Env(rest.to_owned())),
            // The text before the colon is not echoed: it could be part of a pasted key.
            _ => Err("unknown key location scheme (use ssm:, secretsmanager: or env:)".to_owned()),
        }
    }
}

/// An API key. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(Arc::from(key.into().trim()))
    }

    /// The key itself, for an HTTP header. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced, for error messages that might
    /// echo a request.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            text.to_owned()
        } else {
            text.replace(&*self.0, "[redacted]")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_form_round_trips() {
        let cases = [
            (
                "ssm:/pixel-prompt/dev/openai",
                KeyLocation::Ssm("/pixel-prompt/dev/openai".into()),
            ),
            (
                "secretsmanager:pixel-prompt/dev/bfl",
                KeyLocation::SecretsManager("pixel-prompt/dev/bfl".into()),
            ),
            (
                "env:OPENAI_API_KEY",
                KeyLocation::Env("OPENAI_API_KEY".into()),
            ),
        ];
        for (text, location) in cases {
            assert_eq!(text.parse::<KeyLocation>().as_ref(), Ok(&location));
            assert_eq!(location.to_reference(), text);
        }
    }

    #[test]
    fn refusals_never_echo_what_could_be_a_key() {
        // (text, expected message)
        let cases = [
            (
                "sk-plaintext",
                "expected `ssm:NAME`, `secretsmanager:NAME` or `env:NAME`",
            ),
            ("ssm:", "a key location needs a name after the colon"),
            (
                "sk-live:abc",
                "unknown key location scheme (use ssm:, secretsmanager: or env:)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                text.parse::<KeyLocation>(),
                Err(expected.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn serde_spelling() {
        let json = serde_json::to_string(&[
            KeyLocation::Ssm("a".into()),
            KeyLocation::SecretsManager("b".into()),
            KeyLocation::Env("C".into()),
        ])
        .unwrap();
        assert_eq!(json, r#"[{"ssm":"a"},{"secrets_manager":"b"},{"env":"C"}]"#);
    }

    #[test]
    fn a_key_never_shows_itself() {
        let key = ApiKey::new(" sk-secret-value\n");
        assert_eq!(key.expose(), "sk-secret-value");
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert_eq!(key.scrub("bad key sk-secret-value"), "bad key [redacted]");
    }
}
