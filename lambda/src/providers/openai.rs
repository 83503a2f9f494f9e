//! OpenAI's wire format: image generation (`dall-e-3` answers a URL, `gpt-image-1`
//! base64), also spoken by Recraft, and chat completions for prompt enhancement.

use serde_json::{Value, json};

use super::{ProviderError, ProviderHttp, decode_base64, download, send_json};
use crate::secrets::ApiKey;

/// `POST {base}/v1/images/generations`; returns the image bytes.
pub async fn generate_image(
    http: &ProviderHttp,
    base: &str,
    key: &ApiKey,
    model: &str,
    prompt: &str,
) -> Result<Vec<u8>, ProviderError> {
    let body = json!({"model": model, "prompt": prompt, "size": "1024x1024", "n": 1});
    let answer = send_json(
        http.client
            .post(format!("{base}/v1/images/generations"))
            .bearer_auth(key.expose())
            .timeout(http.request_timeout)
            .json(&body),
    )
    .await?;
    let first = answer
        .pointer("/data/0")
        .ok_or_else(|| ProviderError::Malformed("no `data[0]` in the answer".to_owned()))?;
    if let Some(b64) = first.get("b64_json").and_then(Value::as_str) {
        return decode_base64(b64);
    }
    match first.get("url").and_then(Value::as_str) {
        Some(url) => download(http, url).await,
        None => Err(ProviderError::Malformed(
            "`data[0]` has neither `b64_json` nor `url`".to_owned(),
        )),
    }
}

/// `POST {base}/v1/chat/completions`; returns the assistant's text.
pub async fn chat(
    http: &ProviderHttp,
    base: &str,
    key: &ApiKey,
    model: &str,
    system: &str,
    user: &str,
) -> Result<String, ProviderError> {
    let body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
        "max_tokens": 400,
        "temperature": 0.7,
    });
    let answer = send_json(
        http.client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key.expose())
            .timeout(http.request_timeout)
            .json(&body),
    )
    .await?;
    answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ProviderError::Malformed("no `choices[0].message.content` in the answer".to_owned())
        })
}
