//! Pure checks on what a client sends: prompt length, generation parameters, the content
//! filter and id formats. No I/O, so every rule is covered by a table of cases.

use serde_json::Value;

use crate::error::AppError;

/// Longest prompt `POST /generate` accepts (characters, after trimming).
pub const MAX_GENERATE_PROMPT: usize = 1000;
/// Longest prompt `POST /enhance` accepts.
pub const MAX_ENHANCE_PROMPT: usize = 500;
pub const DEFAULT_STEPS: u32 = 25;
pub const STEPS_RANGE: std::ops::RangeInclusive<u32> = 1..=100;
pub const DEFAULT_GUIDANCE: f64 = 7.0;
/// From 0: the old web client's guidance slider runs from 0 to 10 in steps of 0.5.
pub const GUIDANCE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=20.0;

/// Terms the content filter refuses, matched as whole words (a trailing `s` allowed).
/// Multi-word terms match as consecutive words.
pub const BLOCKED_TERMS: &[&str] = &[
    "nsfw",
    "nude",
    "nudity",
    "naked",
    "porn",
    "pornographic",
    "hentai",
    "explicit sex",
    "sexual",
    "gore",
    "gory",
    "beheading",
    "self harm",
    "child abuse",
];

/// Generation parameters after defaults and range checks.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GenerationParams {
    pub steps: u32,
    pub guidance: f64,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            steps: DEFAULT_STEPS,
            guidance: DEFAULT_GUIDANCE,
        }
    }
}

/// A checked `POST /generate` request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateInput {
    pub prompt: String,
    pub params: GenerationParams,
}

/// Parses a JSON body into an object, or `INVALID_JSON`.
pub fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, AppError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AppError::InvalidJson("expected a JSON object".to_owned())),
        Err(e) => Err(AppError::InvalidJson(e.to_string())),
    }
}

/// Trims the prompt and checks presence, length and content.
pub fn check_prompt(value: Option<&Value>, max: usize) -> Result<String, AppError> {
    let prompt = match value {
        Some(Value::String(s)) => s.trim(),
        None | Some(Value::Null) => return Err(AppError::PromptRequired),
        Some(_) => {
            return Err(AppError::InvalidParameter(
                "prompt must be a string".to_owned(),
            ));
        }
    };
    if prompt.is_empty() {
        return Err(AppError::PromptRequired);
    }
    let length = prompt.chars().count();
    if length > max {
        return Err(AppError::PromptTooLong { length, max });
    }
    if let Some(term) = blocked_term(prompt) {
        return Err(AppError::InappropriateContent {
            term: term.to_owned(),
        });
    }
    Ok(prompt.to_owned())
}

/// Validates a `POST /generate` body. A body `ip` is ignored: the source IP comes
/// from the request context.
pub fn check_generate(body: &[u8]) -> Result<GenerateInput, AppError> {
    let map = parse_object(body)?;
    let prompt = check_prompt(map.get("prompt"), MAX_GENERATE_PROMPT)?;
    let steps = match map.get("steps") {
        None | Some(Value::Null) => DEFAULT_STEPS,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| STEPS_RANGE.contains(n))
            .ok_or_else(|| {
                AppError::InvalidParameter(format!(
                    "steps must be a whole number from {} to {}",
                    STEPS_RANGE.start(),
                    STEPS_RANGE.end()
                ))
            })?,
    };
    let guidance = match map.get("guidance") {
        None | Some(Value::Null) => DEFAULT_GUIDANCE,
        Some(v) => v
            .as_f64()
            .filter(|g| GUIDANCE_RANGE.contains(g))
            .ok_or_else(|| {
                AppError::InvalidParameter(format!(
                    "guidance must be a number from {} to {}",
                    GUIDANCE_RANGE.start(),
                    GUIDANCE_RANGE.end()
                ))
            })?,
    };
    Ok(GenerateInput {
        prompt,
        params: GenerationParams { steps, guidance },
    })
}

/// The first blocked term found in `text`, if any.
pub fn blocked_term(text: &str) -> Option<&'static str> {
    let words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    BLOCKED_TERMS.iter().copied().find(|term| {
        let parts: Vec<&str> = term.split(' ').collect();
        words.windows(parts.len()).any(|window| {
            window.iter().zip(&parts).all(|(word, part)| {
                word == part || word.strip_suffix('s').is_some_and(|stem| stem == *part)
            })
        })
    })
}

/// Gallery ids match `^[A-Za-z0-9-]+$` (at most 128 characters).
pub fn is_valid_gallery_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Job ids are UUIDs; anything else cannot name a job.
pub fn is_valid_job_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> &'static str {
        match check_generate(body.as_bytes()) {
            Ok(_) => "OK",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn generate_rules() {
        let long = format!(r#"{{"prompt":"{}"}}"#, "a".repeat(1001));
        let exact = format!(r#"{{"prompt":"  {}  "}}"#, "é".repeat(1000));
        let cases = [
            (r#"{"prompt":"a cat"}"#, "OK"),
            (r#"{"prompt":"a cat","steps":1,"guidance":1}"#, "OK"),
            (r#"{"prompt":"a cat","steps":100,"guidance":20.0}"#, "OK"),
            (r#"{"prompt":"a cat","ip":"1.2.3.4"}"#, "OK"),
            (r"{}", "PROMPT_REQUIRED"),
            (r#"{"prompt":null}"#, "PROMPT_REQUIRED"),
            (r#"{"prompt":"   \n "}"#, "PROMPT_REQUIRED"),
            (r#"{"prompt":42}"#, "INVALID_PARAMETER"),
            (long.as_str(), "PROMPT_TOO_LONG"),
            (exact.as_str(), "OK"),
            (r#"{"prompt":"a cat","steps":0}"#, "INVALID_PARAMETER"),
            (r#"{"prompt":"a cat","steps":101}"#, "INVALID_PARAMETER"),
            (r#"{"prompt":"a cat","steps":2.5}"#, "INVALID_PARAMETER"),
            (r#"{"prompt":"a cat","steps":"25"}"#, "INVALID_PARAMETER"),
            // The old client's slider: 0 to 10 in steps of 0.5, and a `control` field.
            (r#"{"prompt":"a cat","guidance":0}"#, "OK"),
            (r#"{"prompt":"a cat","guidance":0.5,"control":1.0}"#, "OK"),
            (r#"{"prompt":"a cat","steps":28,"guidance":10}"#, "OK"),
            (r#"{"prompt":"a cat","guidance":-0.5}"#, "INVALID_PARAMETER"),
            (r#"{"prompt":"a cat","guidance":21}"#, "INVALID_PARAMETER"),
            (r#"{"prompt":"NSFW cat"}"#, "INAPPROPRIATE_CONTENT"),
            ("not json", "INVALID_JSON"),
            ("[1,2]", "INVALID_JSON"),
            ("", "INVALID_JSON"),
        ];
        for (body, expected) in cases {
            assert_eq!(code(body), expected, "body: {body}");
        }
    }

    #[test]
    fn defaults_and_trimming() {
        let input = check_generate(br#"{"prompt":"  a red fox  "}"#).unwrap();
        assert_eq!(input.prompt, "a red fox");
        assert_eq!(input.params, GenerationParams::default());
    }

    #[test]
    fn content_filter() {
        let cases = [
            ("a nude statue", Some("nude")),
            ("NUDES!", Some("nude")),
            ("so much Gore.", Some("gore")),
            ("explicit, sex scene", Some("explicit sex")),
            ("about self-harm", Some("self harm")),
            ("al gore giving a speech", Some("gore")),
            ("a nudelman sculpture", None),
            ("an explicit instruction manual", None),
            ("a pornographer's camera", None),
            ("sunset over the harbour", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(blocked_term(text), expected, "text: {text}");
        }
    }

    #[test]
    fn ids() {
        assert!(is_valid_gallery_id("abc-DEF-123"));
        for bad in ["", "a/b", "../x", "a b", "é", "a_b"] {
            assert!(!is_valid_gallery_id(bad), "{bad}");
        }
        assert!(is_valid_job_id("67e55044-10b1-426f-9247-bb680e5fe0c8"));
        assert!(!is_valid_job_id("../jobs/x"));
    }
}
