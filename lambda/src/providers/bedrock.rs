//! Amazon Bedrock through `aws-sdk-bedrockruntime` (IAM, no key): Stability's models
//! (Stable Image Ultra and Core, Stable Diffusion 3.5 Large) in us-west-2 and Amazon's
//! (Nova Canvas, which reached its end of life on 2026-09-30, and Titan Image) in
//! us-east-1, where each is offered. Stability's are third-party models: their first use subscribes the account
//! through AWS Marketplace, which the function's role must be allowed to do.

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::Region;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_bedrockruntime::primitives::Blob;
use pixel_prompt_contract::provider::bedrock_region;
use serde_json::{Value, json};

use super::{ProviderError, decode_base64, mentions_refusal, short};
use crate::validation::GenerationParams;

/// The request body family of a Bedrock image model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    /// Amazon Nova Canvas / Titan Image: `taskType: TEXT_IMAGE`.
    Amazon,
    /// Stable Diffusion 3.5 on Bedrock: `{prompt, mode, aspect_ratio, output_format}`.
    StableDiffusion,
    /// Stable Image Ultra / Core: `{prompt, aspect_ratio, output_format}`; they refuse
    /// `mode` ("extraneous key [mode] is not permitted").
    StableImage,
}

fn body_format(model: &str) -> Option<BodyFormat> {
    if model.starts_with("amazon.") {
        Some(BodyFormat::Amazon)
    } else if model.starts_with("stability.sd3") {
        Some(BodyFormat::StableDiffusion)
    } else if model.starts_with("stability.") {
        Some(BodyFormat::StableImage)
    } else {
        None
    }
}

/// The `InvokeModel` request body.
pub fn request_body(model: &str, prompt: &str, params: GenerationParams) -> Option<Value> {
    Some(match body_format(model)? {
        BodyFormat::Amazon => json!({
            "taskType": "TEXT_IMAGE",
            "textToImageParams": {"text": prompt},
            "imageGenerationConfig": {
                "numberOfImages": 1,
                "height": 1024,
                "width": 1024,
                "cfgScale": params.guidance.clamp(1.1, 10.0),
            },
        }),
        BodyFormat::StableDiffusion => json!({
            "prompt": prompt,
            "mode": "text-to-image",
            "aspect_ratio": "1:1",
            "output_format": "png",
        }),
        BodyFormat::StableImage => json!({
            "prompt": prompt,
            "aspect_ratio": "1:1",
            "output_format": "png",
        }),
    })
}

/// The image in an `InvokeModel` answer body.
pub fn parse_answer(body: &[u8]) -> Result<Vec<u8>, ProviderError> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| ProviderError::Malformed(format!("the body is not JSON ({e})")))?;
    if let Some(reason) = answer
        .pointer("/finish_reasons/0")
        .and_then(Value::as_str)
        .filter(|r| r.to_lowercase().contains("filter"))
    {
        return Err(ProviderError::ContentRefused(short(reason)));
    }
    if let Some(error) = answer.get("error").and_then(Value::as_str) {
        return Err(if mentions_refusal(error) {
            ProviderError::ContentRefused(short(error))
        } else {
            ProviderError::Malformed(short(error))
        });
    }
    match answer.pointer("/images/0").and_then(Value::as_str) {
        Some(b64) => decode_base64(b64),
        None => Err(ProviderError::Malformed(
            "no `images[0]` in the answer".to_owned(),
        )),
    }
}

/// Bedrock clients per region, built from the function's AWS configuration.
#[derive(Debug, Clone)]
pub struct BedrockClients {
    sdk: Option<aws_config::SdkConfig>,
    endpoint_url: Option<String>,
}

impl BedrockClients {
    /// `endpoint_url` overrides the Bedrock endpoint (`PROVIDER_BASE_URLS.bedrock`).
    pub fn new(sdk: Option<aws_config::SdkConfig>, endpoint_url: Option<String>) -> Self {
        Self { sdk, endpoint_url }
    }

    fn client(&self, model: &str) -> Result<Client, ProviderError> {
        let sdk = self.sdk.as_ref().ok_or_else(|| {
            ProviderError::MissingKey(
                "Bedrock needs AWS credentials, which this mode has not".into(),
            )
        })?;
        let mut config = aws_sdk_bedrockruntime::config::Builder::from(sdk);
        if let Some(region) = bedrock_region(model) {
            config = config.region(Region::new(region));
        }
        if let Some(url) = &self.endpoint_url {
            config = config.endpoint_url(url);
        }
        Ok(Client::from_conf(config.build()))
    }

    pub async fn generate(
        &self,
        model: &str,
        prompt: &str,
        params: GenerationParams,
    ) -> Result<Vec<u8>, ProviderError> {
        let body = request_body(model, prompt, params).ok_or_else(|| {
            ProviderError::Malformed(format!(
                "Bedrock model `{model}` is not supported (use amazon.* or stability.* image models)"
            ))
        })?;
        let client = self.client(model)?;
        let output = client
            .invoke_model()
            .model_id(model)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body.to_string()))
            .send()
            .await
            .map_err(|err| {
                let status = err.raw_response().map(|r| r.status().as_u16());
                match err.as_service_error() {
                    Some(e)
                        if e.is_access_denied_exception()
                            && e.message().unwrap_or_default().contains("aws-marketplace") =>
                    {
                        ProviderError::AccessDenied(short(e.message().unwrap_or_default()))
                    }
                    Some(e) if e.is_access_denied_exception() => {
                        ProviderError::Unauthorized(status.unwrap_or(403))
                    }
                    Some(e)
                        if e.is_throttling_exception()
                            || e.is_service_quota_exceeded_exception() =>
                    {
                        ProviderError::RateLimited
                    }
                    Some(e) if mentions_refusal(e.message().unwrap_or_default()) => {
                        ProviderError::ContentRefused(short(e.message().unwrap_or_default()))
                    }
                    Some(e) => ProviderError::Http {
                        status: status.unwrap_or(500),
                        message: short(e.message().unwrap_or("Bedrock error")),
                    },
                    None => ProviderError::Network(DisplayErrorContext(&err).to_string()),
                }
            })?;
        parse_answer(output.body().as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_bodies() {
        assert_eq!(bedrock_region("amazon.nova-canvas-v1:0"), Some("us-east-1"));
        assert_eq!(
            bedrock_region("stability.sd3-5-large-v1:0"),
            Some("us-west-2")
        );
        let nova = request_body(
            "amazon.nova-canvas-v1:0",
            "a fox",
            GenerationParams::default(),
        )
        .unwrap();
        assert_eq!(nova["taskType"], "TEXT_IMAGE");
        assert_eq!(nova["imageGenerationConfig"]["cfgScale"], 7.0);
        let sd = request_body(
            "stability.sd3-5-large-v1:0",
            "a fox",
            GenerationParams::default(),
        )
        .unwrap();
        assert_eq!(sd["mode"], "text-to-image");
        assert_eq!(
            bedrock_region("stability.stable-image-ultra-v1:1"),
            Some("us-west-2")
        );
        let ultra = request_body(
            "stability.stable-image-ultra-v1:1",
            "a fox",
            GenerationParams::default(),
        )
        .unwrap();
        assert!(ultra.get("mode").is_none(), "{ultra}");
        assert_eq!(ultra["aspect_ratio"], "1:1");
        assert!(request_body("meta.llama3", "x", GenerationParams::default()).is_none());
    }

    #[test]
    fn answers() {
        assert_eq!(
            parse_answer(br#"{"images":["iVBORw0KGgo="]}"#).unwrap()[..4],
            *b"\x89PNG"
        );
        assert!(matches!(
            parse_answer(br#"{"images":[],"finish_reasons":["Filter reason: prompt"]}"#),
            Err(ProviderError::ContentRefused(_))
        ));
        assert!(matches!(
            parse_answer(b"{}"),
            Err(ProviderError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer(b"nope"),
            Err(ProviderError::Malformed(_))
        ));
    }
}
