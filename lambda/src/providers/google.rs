//! Google's Generative Language API: Gemini `generateContent` (images as `inlineData`,
//! and text for prompt enhancement) and Imagen `predict`. The key travels in the
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
    matches!(
        finish,
        "SAFETY" | "PROHIBITED_CONTENT" | "IMAGE_SAFETY" | "BLOCKLIST" | "RECITATION"
    )
    .then(|| format!("generation stopped ({finish})"))
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
    let parts = answer
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array);
    let data = parts.into_iter().flatten().find_map(|part| {
        part.get("inlineData")
            .or_else(|| part.get("inline_data"))
            .and_then(|d| d.get("data"))
            .and_then(Value::as_str)
    });
    match data {
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
