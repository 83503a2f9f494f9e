//! OpenAI's wire format: image generation (the `gpt-image-*` models answer base64,
//! the retired `dall-e-*` ones a URL), also spoken by Recraft, and chat completions
//! for prompt enhancement.

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

/// Whether a chat model predates OpenAI's reasoning models and so still takes sampling
/// parameters. The reasoning families (o1, o3, o4, gpt-5, gpt-6 and whatever comes next)
/// reject `max_tokens` and any `temperature` but the default, so an unknown model is
/// treated as one of them.
fn takes_sampling_parameters(model: &str) -> bool {
    ["gpt-3.5", "gpt-4o", "gpt-4.1", "gpt-4-", "chatgpt-4o"]
        .iter()
        .any(|family| model.starts_with(family))
        || model == "gpt-4"
}

/// The chat completion request for `model`: `max_completion_tokens` (which every current
/// model accepts, and the reasoning models require), a temperature only where the model
/// takes one, and for reasoning models a low effort with room for the reasoning tokens
/// the budget also pays for.
pub fn chat_body(model: &str, system: &str, user: &str) -> Value {
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
    });
    if takes_sampling_parameters(model) {
        body["max_completion_tokens"] = json!(400);
        body["temperature"] = json!(0.7);
    } else {
        body["max_completion_tokens"] = json!(4000);
        body["reasoning_effort"] = json!("low");
    }
    body
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
    let body = chat_body(model, system, user);
    let answer = send_json(
        http.client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key.expose())
            .timeout(http.request_timeout)
            .json(&body),
    )
    .await?;
    if let Some(refusal) = answer
        .pointer("/choices/0/message/refusal")
        .and_then(Value::as_str)
    {
        return Err(ProviderError::ContentRefused(refusal.to_owned()));
    }
    answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ProviderError::Malformed("no `choices[0].message.content` in the answer".to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_bodies_fit_each_model_family() {
        // (model, max_completion_tokens, temperature, reasoning_effort)
        let cases = [
            ("gpt-4o-mini", Some(400), Some(0.7), None),
            ("gpt-4.1-mini", Some(400), Some(0.7), None),
            ("gpt-3.5-turbo", Some(400), Some(0.7), None),
            ("gpt-6-luna", Some(4000), None, Some("low")),
            ("gpt-5-mini", Some(4000), None, Some("low")),
            ("o4-mini", Some(4000), None, Some("low")),
            ("some-future-model", Some(4000), None, Some("low")),
        ];
        for (model, tokens, temperature, effort) in cases {
            let body = chat_body(model, "system", "user");
            assert_eq!(body["model"], model);
            assert!(body.get("max_tokens").is_none(), "{model}: {body}");
            assert_eq!(body["max_completion_tokens"].as_u64(), tokens, "{model}");
            assert_eq!(body["temperature"].as_f64(), temperature, "{model}");
            assert_eq!(body["reasoning_effort"].as_str(), effort, "{model}");
            assert_eq!(body["messages"][1]["content"], "user");
        }
    }
}
