//! Step 10: is the API answering? Never sends anything to a host that the
//! configured endpoint says is not really there.

use std::time::{Duration, Instant};

use serde::Serialize;

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

/// Which URL to check, if any: `--health-url` wins; with a custom AWS
/// endpoint the stack's outputs name real AWS hosts nothing here serves, so
/// the check is skipped rather than sent there.
pub fn health_target(
    api_endpoint: Option<&str>,
    health_url: Option<&str>,
    custom_endpoint: Option<&str>,
) -> Result<String, String> {
    if let Some(url) = health_url {
        return Ok(url.to_owned());
    }
    if let Some(endpoint) = custom_endpoint {
        return Err(format!(
            "AWS calls go to {endpoint}, so the stack's ApiEndpoint names a host that isn't served here; pass --health-url to check one that is"
        ));
    }
    match api_endpoint {
        Some(endpoint) if !endpoint.is_empty() => {
            Ok(format!("{}/gallery/list", endpoint.trim_end_matches('/')))
        }
        _ => Err("the stack has no ApiEndpoint output".to_owned()),
    }
}

/// GETs `url` until it answers 2xx or `budget` runs out, backing off between tries.
pub async fn check(url: &str, budget: Duration, progress: &dyn Progress) -> HealthReport {
    progress.step(&format!("Checking health: GET {url}"));
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
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
        assert!(
            health_target(api, None, Some("http://127.0.0.1:4566"))
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
