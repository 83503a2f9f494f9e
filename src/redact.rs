//! Keeps secrets out of everything pixelctl prints or writes.

/// What a secret value is shown as, in text and JSON alike.
pub const MASK: &str = "****";

/// Replaces every occurrence of each secret in `text` with [`MASK`].
/// Empty secrets are ignored (they would match everywhere).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), MASK)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_occurrence_and_ignores_empty_secrets() {
        let secrets = vec!["s3cr3t".to_owned(), String::new()];
        assert_eq!(scrub("a=s3cr3t b=s3cr3t", &secrets), "a=**** b=****");
        assert_eq!(scrub("nothing here", &secrets), "nothing here");
    }
}
