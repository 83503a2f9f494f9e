//! Stability AI's v2beta SD3 endpoint: a multipart form in, raw image bytes out.

use reqwest::multipart::Form;

use super::{ProviderError, ProviderHttp, status_error};
use crate::secrets::ApiKey;

/// `POST {base}/v2beta/stable-image/generate/sd3` with `Accept: image/*`.
pub async fn generate(
    http: &ProviderHttp,
    base: &str,
    key: &ApiKey,
    model: &str,
    prompt: &str,
) -> Result<Vec<u8>, ProviderError> {
    let form = Form::new()
        .text("prompt", prompt.to_owned())
        .text("model", model.to_owned())
        .text("output_format", "png")
        .text("aspect_ratio", "1:1");
    let response = http
        .client
        .post(format!("{base}/v2beta/stable-image/generate/sd3"))
        .bearer_auth(key.expose())
        .header(reqwest::header::ACCEPT, "image/*")
        .timeout(http.request_timeout)
        .multipart(form)
        .send()
        .await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let bytes = super::http::read_capped(response, super::http::MAX_IMAGE_BYTES).await?;
    if !(200..300).contains(&status) {
        return Err(status_error(status, &String::from_utf8_lossy(&bytes)));
    }
    if crate::image::detect(&bytes).is_none() {
        return Err(ProviderError::Malformed(format!(
            "the answer is not an image (content type `{content_type}`)"
        )));
    }
    Ok(bytes.to_vec())
}
