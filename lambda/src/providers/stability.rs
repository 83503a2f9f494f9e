//! Stability AI's v2beta SD3 endpoint: a multipart form in, raw image bytes out. An image
//! its output filter caught still arrives with 200, blurred, and says so in the
//! `finish-reason: CONTENT_FILTERED` header: that is a refusal, not an image.

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
        .await
        .map_err(super::http_error)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let finish_reason = response
        .headers()
        .get("finish-reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = super::http::read_capped(response, super::http::MAX_IMAGE_BYTES).await?;
    if !(200..300).contains(&status) {
        return Err(status_error(status, &String::from_utf8_lossy(&bytes)));
    }
    if let Some(refusal) = refusal(finish_reason.as_deref()) {
        return Err(refusal);
    }
    if crate::image::detect(&bytes).is_none() {
        return Err(ProviderError::Malformed(format!(
            "the answer is not an image (content type `{content_type}`)"
        )));
    }
    Ok(bytes.clone())
}

/// What a `finish-reason` header means: `SUCCESS` (or none) is an image; `CONTENT_FILTERED`
/// is a blurred image the output filter caught; anything else is an error.
fn refusal(finish_reason: Option<&str>) -> Option<ProviderError> {
    match finish_reason.map(str::trim) {
        None | Some("" | "SUCCESS") => None,
        Some("CONTENT_FILTERED") => Some(ProviderError::ContentRefused(
            "the output filter blurred the image (finish-reason CONTENT_FILTERED)".to_owned(),
        )),
        Some(other) => Some(ProviderError::Malformed(format!(
            "the image did not finish (finish-reason {other})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        assert_eq!(refusal(None), None);
        assert_eq!(refusal(Some("SUCCESS")), None);
        assert!(matches!(
            refusal(Some("CONTENT_FILTERED")),
            Some(ProviderError::ContentRefused(_))
        ));
        assert!(matches!(
            refusal(Some("ERROR")),
            Some(ProviderError::Malformed(_))
        ));
    }
}
