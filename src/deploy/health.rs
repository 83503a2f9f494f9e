//! Step 10: is the API answering? Never sends anything to a host that the
//! configured endpoint says is not really there.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::local_hosts::{LocalAws, loopback_address};
use crate::progress::Progress;

/// What the health check found.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub checked: bool,
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub attempts: u32,
    /// Why the check was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl HealthReport {
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            checked: false,
            healthy: false,
            url: None,
            status: None,
            attempts: 0,
            detail: Some(reason.into()),
        }
    }
}

/// Which URL to check, if any: `--health-url` wins; with a loopback AWS
/// endpoint (the local AWS) the stack's API is checked where that endpoint
/// serves it; with any other custom endpoint the outputs name real AWS hosts
/// nothing there serves, so the check is skipped rather than sent to them.
pub fn health_target(
    api_endpoint: Option<&str>,
    health_url: Option<&str>,
    custom_endpoint: Option<&str>,
) -> Result<String, String> {
    if let Some(url) = health_url {
        return Ok(url.to_owned());
    }
    let Some(endpoint) = api_endpoint.filter(|e| !e.is_empty()) else {
        return Err("the stack has no ApiEndpoint output".to_owned());
    };
    let endpoint = match custom_endpoint {
        None => endpoint.to_owned(),
        Some(custom) => match LocalAws::from_endpoint(custom) {
            Some(local) => local.api_url(endpoint).ok_or_else(|| {
                format!("the ApiEndpoint output `{endpoint}` is not an HTTP API URL the local AWS at {custom} serves; pass --health-url")
            })?,
            None => {
                return Err(format!(
                    "AWS calls go to {custom}, so the stack's ApiEndpoint names a host that isn't served here; pass --health-url to check one that is"
                ));
            }
        },
    };
    Ok(format!("{}/gallery/list", endpoint.trim_end_matches('/')))
}

/// An HTTP client for `url` that connects `*.localhost` hosts to 127.0.0.1
/// itself rather than asking the system resolver, which may not know them.
pub fn client_for(url: &str, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(timeout);
    if let Some((host, address)) = loopback_address(url) {
        builder = builder.resolve(&host, address);
    }
    builder.build()
}

/// GETs `url` until it answers 2xx or `budget` runs out, backing off between tries.
pub async fn check(url: &str, budget: Duration, progress: &dyn Progress) -> HealthReport {
    progress.step(&format!("Checking health: GET {url}"));
    let client = match client_for(url, Duration::from_secs(10)) {
        Ok(client) => client,
        Err(error) => {
            return HealthReport {
                checked: true,
                healthy: false,
                url: Some(url.to_owned()),
                status: None,
                attempts: 0,
                detail: Some(format!("cannot create an HTTP client: {error}")),
            };
        }
    };
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (status, detail) = match client.get(url).send().await {
            Ok(response) => (
                Some(response.status().as_u16()),
                format!("answered {}", response.status()),
            ),
            Err(error) => (None, format!("{error}")),
        };
        let healthy = status.is_some_and(|status| (200..300).contains(&status));
        if healthy || started.elapsed() + delay > budget {
            return HealthReport {
                checked: true,
                healthy,
                url: Some(url.to_owned()),
                status,
                attempts,
                detail: Some(detail),
            };
        }
        progress.note(&format!("attempt {attempts}: {detail}; retrying"));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::health_target;

    #[test]
    fn never_targets_aws_hosts_behind_a_custom_endpoint() {
        let api = Some("https://abc123.execute-api.us-west-2.amazonaws.com");
        assert_eq!(
            health_target(api, None, None).unwrap(),
            "https://abc123.execute-api.us-west-2.amazonaws.com/gallery/list"
        );
        assert_eq!(
            health_target(api, None, Some("http://127.0.0.1:4566")).unwrap(),
            "http://abc123.execute-api.localhost:4566/gallery/list"
        );
        assert!(
            health_target(api, None, Some("http://10.1.2.3:4566"))
                .unwrap_err()
                .contains("--health-url")
        );
        assert!(
            health_target(
                Some("https://example.com"),
                None,
                Some("http://127.0.0.1:4566")
            )
            .unwrap_err()
            .contains("--health-url")
        );
        assert_eq!(
            health_target(
                api,
                Some("http://127.0.0.1:9000/gallery/list"),
                Some("http://127.0.0.1:4566")
            )
            .unwrap(),
            "http://127.0.0.1:9000/gallery/list"
        );
        assert!(health_target(None, None, None).is_err());
    }
}
