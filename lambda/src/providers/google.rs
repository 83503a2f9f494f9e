//! Google's Generative Language API: Gemini `generateContent` (images as `inlineData`,
//! and text for prompt enhancement) and Imagen `predict` (Google shut every Imagen model
//! down in 2026; kept for environments that still name one). The key travels in the
//! `x-goog-api-key` header rather than `?key=`, so it never appears in a URL.

use serde_json::{Value, json};

use super::{ProviderError, ProviderHttp, decode_base64, send_json};
use crate::secrets::ApiKey;

fn refusal_reason(answer: &Value) -> Option<String> {
    if let Some(reason) = answer
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)
    {
        return Some(format!("prompt blocked ({reason})"));
    }
    let finish = answer
        .pointer("/candidates/0/finishReason")
        .and_then(Value::as_str)?;
    let refused = matches!(
        finish,
        "SAFETY"
            | "PROHIBITED_CONTENT"
            | "BLOCKLIST"
            | "SPII"
            | "RECITATION"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION"
            | "IMAGE_OTHER"
            | "NO_IMAGE"
    );
    if !refused {
        return None;
    }
    // The image models explain a stop in `finishMessage`.
    Some(
        match answer
            .pointer("/candidates/0/finishMessage")
            .and_then(Value::as_str)
        {
            Some(message) => format!("generation stopped ({finish}): {}", super::short(message)),
            None => format!("generation stopped ({finish})"),
        },
    )
}

/// The image in a `generateContent` answer: the last `inlineData` part that is not a
/// thought. Gemini's thinking image models send interim "thought" images
/// (`"thought": true`) before the final one.
pub fn final_image(answer: &Value) -> Option<&str> {
    answer
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array)?
        .iter()
        .filter(|part| part.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|part| {
            part.get("inlineData")
                .or_else(|| part.get("inline_data"))
                .and_then(|d| d.get("data"))
                .and_then(Value::as_str)
        })
        .next_back()
}

/// `POST {base}/v1beta/models/{model}:generateContent` asking for an image.
pub async fn gemini_image(
    http: &ProviderHttp,
    base: &str,
    key: &ApiKey,
    model: &str,
    prompt: &str,
) -> Result<Vec<u8>, ProviderError> {
    let body = json!({
        "contents": [{"parts": [{"text": prompt}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]},
    });
    let answer = send_json(
        http.client
            .post(format!("{base}/v1beta/models/{model}:generateContent"))
            .header("x-goog-api-key", key.expose())
            .timeout(http.request_timeout)
            .json(&body),
    )
    .await?;
    match final_image(&answer) {
        Some(b64) => decode_base64(b64),
        None => Err(match refusal_reason(&answer) {
            Some(reason) => ProviderError::ContentRefused(reason),
            None => {
                ProviderError::Malformed("no image part (`inlineData`) in the answer".to_owned())
            }
        }),
    }
}

/// `POST {base}/v1beta/models/{model}:predict` (Imagen).
pub async fn imagen_image(
    http: &ProviderHttp,
    base: &str,
    key: &ApiKey,
    model: &str,
    prompt: &str,
) -> Result<Vec<u8>, ProviderError> {
    let body = json!({"instances": [{"prompt": prompt}], "parameters": {"sampleCount": 1}});
    let answer = send_json(
        http.client
            .post(format!("{base}/v1beta/models/{model}:predict"))
            .header("x-goog-api-key", key.expose())
            .timeout(http.request_timeout)
            .json(&body),
    )
    .await?;
    if let Some(b64) = answer
        .pointer("/predictions/0/bytesBase64Encoded")
        .and_then(Value::as_str)
    {
        return decode_base64(b64);
    }
    let filtered = answer
        .pointer("/predictions/0/raiFilteredReason")
        .and_then(Value::as_str);
    Err(match (filtered, answer.get("predictions")) {
        (Some(reason), _) => ProviderError::ContentRefused(reason.to_owned()),
        // Imagen answers `{}` when every sample was filtered.
        (None, None) => ProviderError::ContentRefused("no image returned (filtered)".to_owned()),
        (None, Some(_)) => ProviderError::Malformed(
            "no `predictions[0].bytesBase64Encoded` in the answer".to_owned(),
        ),
    })
}

/// Gemini text generation for prompt enhancement.
pub async fn gemini_chat(
    http: &ProviderHttp,
    base: &str,
    key: &ApiKey,
    model: &str,
    system: &str,
    user: &str,
) -> Result<String, ProviderError> {
    let body = json!({
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": [{"role": "user", "parts": [{"text": user}]}],
    });
    let answer = send_json(
        http.client
            .post(format!("{base}/v1beta/models/{model}:generateContent"))
            .header("x-goog-api-key", key.expose())
            .timeout(http.request_timeout)
            .json(&body),
    )
    .await?;
    let text: String = answer
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    if text.trim().is_empty() {
        Err(match refusal_reason(&answer) {
            Some(reason) => ProviderError::ContentRefused(reason),
            None => ProviderError::Malformed("no text in the answer".to_owned()),
        })
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_non_thought_image_is_taken() {
        let answer = json!({"candidates": [{"content": {"parts": [
            {"text": "Sketching", "thought": true},
            {"inlineData": {"mimeType": "image/png", "data": "draft1"}, "thought": true},
            {"inlineData": {"mimeType": "image/png", "data": "draft2"}, "thought": true},
            {"text": "Here it is"},
            {"inlineData": {"mimeType": "image/png", "data": "final"}},
        ]}}]});
        assert_eq!(final_image(&answer), Some("final"));
        let only_thoughts = json!({"candidates": [{"content": {"parts": [
            {"inlineData": {"data": "draft"}, "thought": true},
        ]}}]});
        assert_eq!(final_image(&only_thoughts), None);
        let snake =
            json!({"candidates": [{"content": {"parts": [{"inline_data": {"data": "x"}}]}}]});
        assert_eq!(final_image(&snake), Some("x"));
    }

    #[test]
    fn refusal_reasons() {
        let cases = [
            (
                json!({"promptFeedback": {"blockReason": "SAFETY"}}),
                Some("prompt blocked (SAFETY)"),
            ),
            (
                json!({"candidates": [{"finishReason": "IMAGE_PROHIBITED_CONTENT"}]}),
                Some("generation stopped (IMAGE_PROHIBITED_CONTENT)"),
            ),
            (
                json!({"candidates": [{"finishReason": "NO_IMAGE", "finishMessage": "The model did not produce an image."}]}),
                Some("generation stopped (NO_IMAGE): The model did not produce an image."),
            ),
            (
                json!({"candidates": [{"finishReason": "IMAGE_RECITATION"}]}),
                Some("generation stopped (IMAGE_RECITATION)"),
            ),
            (
                json!({"candidates": [{"finishReason": "IMAGE_OTHER"}]}),
                Some("generation stopped (IMAGE_OTHER)"),
            ),
            (
                json!({"candidates": [{"finishReason": "IMAGE_SAFETY"}]}),
                Some("generation stopped (IMAGE_SAFETY)"),
            ),
            (json!({"candidates": [{"finishReason": "STOP"}]}), None),
            (
                json!({"candidates": [{"finishReason": "MAX_TOKENS"}]}),
                None,
            ),
        ];
        for (answer, expected) in cases {
            assert_eq!(refusal_reason(&answer).as_deref(), expected, "{answer}");
        }
    }
}
