//! Translating serde's errors about an environment file into a [`Problem`]: the
//! key a user wrote (not serde's wording), the line, and a hint they can act on.

use std::path::Path;

use super::error::{Problem, did_you_mean};

/// The problem `error` is, in file `file`.
pub(super) fn problem(file: &Path, error: &serde_norway::Error) -> Problem {
    let (key, message, hint) = translate(&error.to_string());
    Problem {
        file: file.to_path_buf(),
        line: error.location().map(|location| location.line()),
        key,
        message,
        hint,
    }
}

/// serde's message (`lambda.memory_mb: invalid type ... at line 3 column 5`) as the
/// key, the message without its position, and a hint.
fn translate(text: &str) -> (String, String, Option<String>) {
    let text = match text.rfind(" at line ") {
        Some(position) => &text[..position],
        None => text,
    };
    // serde_norway prefixes the key path: `lambda.memory_mb: invalid type ...`.
    let (path, message) = match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (path, message),
        _ => ("", text),
    };
    let (key, hint) = explain_serde_message(path, message);
    (key, message.to_owned(), hint)
}

/// Turns serde's wording into the key a user wrote and a hint.
fn explain_serde_message(path: &str, message: &str) -> (String, Option<String>) {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        let expected = quoted.iter().skip(1).copied();
        let hint = match did_you_mean(field, expected) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => format!("known keys here: {}", quoted[1..].join(", ")),
        };
        return (join(field), Some(hint));
    }
    if let Some(variant) = message
        .strip_prefix("unknown variant `")
        .and_then(|rest| rest.split('`').next())
    {
        let expected: Vec<&str> = quoted.iter().skip(1).copied().collect();
        let hint = match did_you_mean(variant, expected.iter().copied()) {
            Some(suggestion) => format!(
                "did you mean `{suggestion}`? valid: {}",
                expected.join(", ")
            ),
            None => format!("valid: {}", expected.join(", ")),
        };
        return (path.to_owned(), Some(hint));
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        return (
            path.to_owned(),
            Some("see environments/defaults.yaml for the expected form".to_owned()),
        );
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return (join(field), Some(format!("add `{field}` here")));
    }
    if path.is_empty() && message.contains("while") {
        return (
            String::new(),
            Some(
                "YAML syntax error: check indentation, quoting and brackets near this line"
                    .to_owned(),
            ),
        );
    }
    (path.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn serde_messages_become_keys_and_hints() {
        // (serde's message, key, message, hint)
        let cases: [(&str, &str, &str, Option<&str>); 7] = [
            (
                "lambda: unknown field `memory`, expected one of `memory_mb`, `timeout_seconds` at line 3 column 3",
                "lambda.memory",
                "unknown field `memory`, expected one of `memory_mb`, `timeout_seconds`",
                Some("did you mean `memory_mb`?"),
            ),
            (
                "unknown field `zzz`, expected `a` or `b`",
                "zzz",
                "unknown field `zzz`, expected `a` or `b`",
                Some("known keys here: a, b"),
            ),
            (
                "models[1].provider: unknown variant `gemeni`, expected one of `openai`, `gemini` at line 29 column 15",
                "models[1].provider",
                "unknown variant `gemeni`, expected one of `openai`, `gemini`",
                Some("did you mean `gemini`? valid: openai, gemini"),
            ),
            (
                "lambda.memory_mb: invalid type: string \"lots\", expected u32 at line 4 column 14",
                "lambda.memory_mb",
                "invalid type: string \"lots\", expected u32",
                Some("see environments/defaults.yaml for the expected form"),
            ),
            (
                "models[0]: missing field `model` at line 8 column 5",
                "models[0].model",
                "missing field `model`",
                Some("add `model` here"),
            ),
            (
                "did not find expected key while parsing a block mapping at line 2 column 1",
                "",
                "did not find expected key while parsing a block mapping",
                Some("YAML syntax error: check indentation, quoting and brackets near this line"),
            ),
            (
                "tags.team: something else",
                "tags.team",
                "something else",
                None,
            ),
        ];
        for (text, key, message, hint) in cases {
            assert_eq!(
                translate(text),
                (key.to_owned(), message.to_owned(), hint.map(str::to_owned)),
                "{text}"
            );
        }
    }
}
