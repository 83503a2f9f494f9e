//! What every HTTP provider call shares, so a hostile or broken answer cannot take the
//! key or the instance with it: keyed requests never follow a redirect (a key header
//! would travel to wherever the redirect points), bodies are read with a size cap (a
//! huge body would exhaust the function's memory), and a URL a provider hands back is
//! parsed and must be https on one of the provider's own hosts before a key is sent
//! to it.

use std::time::Duration;

use reqwest::Url;
use reqwest::redirect::Policy;

use super::ProviderError;

/// Largest JSON answer read: Gemini and Imagen carry the image inline in base64.
pub const MAX_JSON_BYTES: usize = 32 * 1024 * 1024;
/// Largest image read, downloaded or returned raw (a 1024x1024 PNG is 1-3 MB).
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// Redirects an unkeyed image download may follow (signed storage URLs redirect).
const DOWNLOAD_REDIRECTS: usize = 5;

/// The client for calls that carry a key: redirects are answers, not followed.
pub fn keyed_client() -> reqwest::Client {
    builder()
        .redirect(Policy::none())
        .build()
        .unwrap_or_default()
}

/// The client for image downloads, which carry no key.
pub fn download_client() -> reqwest::Client {
    builder()
        .redirect(Policy::limited(DOWNLOAD_REDIRECTS))
        .build()
        .unwrap_or_default()
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("pixel-prompt-api/", env!("CARGO_PKG_VERSION")))
}

/// The body of `response`, refused as soon as it passes `limit` bytes (before any of
/// it is read when `Content-Length` says so already).
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ProviderError> {
    let too_large = || {
        ProviderError::Malformed(format!(
            "the answer is larger than {} MB",
            limit / (1024 * 1024)
        ))
    };
    let announced = response.content_length().unwrap_or(0);
    if usize::try_from(announced).map_or(true, |length| length > limit) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(super::http_error)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `candidate` if a key may be sent there: it parses as a URL with no user info and
/// is either https on `host` or one of its subdomains (`host` = `bfl.ai` allows
/// `api.us1.bfl.ai`), or on the very origin of `base`, the base URL the function
/// was configured with (a test stub, a proxy). String matching is not enough:
/// `https://attacker.example?.bfl.ai` ends in `.bfl.ai` and is `attacker.example`.
pub fn trusted_url(candidate: &str, host: &str, base: &str) -> Option<Url> {
    let url = Url::parse(candidate).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let on_provider_host = url.scheme() == "https"
        && url.port().is_none()
        && url.host_str().is_some_and(|name| {
            name == host
                || name
                    .strip_suffix(host)
                    .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
        });
    let on_base_origin = Url::parse(base).is_ok_and(|base| base.origin() == url.origin());
    (on_provider_host || on_base_origin).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_on_the_providers_hosts_are_trusted() {
        let base = "https://api.bfl.ai";
        let cases = [
            ("https://api.bfl.ai/v1/get_result?id=1", true),
            ("https://api.us1.bfl.ai/v1/get_result?id=1", true),
            ("https://API.EU1.BFL.AI/v1/get_result?id=1", true),
            // The attacks string matching let through or could.
            ("https://attacker.example?.bfl.ai", false),
            ("https://attacker.example/?x=.bfl.ai", false),
            ("https://attacker.example#.bfl.ai", false),
            ("https://api.bfl.ai@attacker.example/v1/get_result", false),
            ("https://user:pw@api.bfl.ai/v1/get_result", false),
            ("https://bfl.ai.attacker.example/x", false),
            ("https://evilbfl.ai/x", false),
            ("https://.bfl.ai/x", false),
            ("http://api.us1.bfl.ai/v1/get_result?id=1", false),
            ("https://api.us1.bfl.ai:8443/v1/get_result?id=1", false),
            ("ftp://api.bfl.ai/x", false),
            ("/v1/get_result?id=1", false),
            ("not a url", false),
        ];
        for (candidate, trusted) in cases {
            assert_eq!(
                trusted_url(candidate, "bfl.ai", base).is_some(),
                trusted,
                "{candidate}"
            );
        }
        // A configured base (the fake providers, a stub) is trusted on its own origin only.
        let local = "http://127.0.0.1:9000/bfl";
        assert!(
            trusted_url(
                "http://127.0.0.1:9000/bfl/v1/get_result?id=1",
                "bfl.ai",
                local
            )
            .is_some()
        );
        assert!(trusted_url("http://127.0.0.1:9001/v1/get_result?id=1", "bfl.ai", local).is_none());
        assert!(trusted_url("http://localhost:9000/v1/get_result?id=1", "bfl.ai", local).is_none());
    }
}
