//! Where a local AWS on this machine serves what AWS names by hostname.
//!
//! A stack's outputs name `https://{apiId}.execute-api.{region}.amazonaws.com`
//! and `{label}.cloudfront.net`. When every AWS call goes to a loopback endpoint
//! (the project's local AWS), those hosts are served by that endpoint's port as
//! `http://{apiId}.execute-api.localhost:{port}` and
//! `{label}.cloudfront.localhost:{port}`: the health check, `frontend/.env`,
//! the web app's build and where pixelctl says to open it use those forms
//! instead of skipping or naming a host nothing here serves.
//! Pure: no network, no resolver.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A local AWS reached at a loopback endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAws {
    port: u16,
}

impl LocalAws {
    /// `Some` when `endpoint` is an `http(s)://` URL on a loopback host
    /// (`127.x.x.x`, `[::1]`, `localhost`) with an explicit port.
    pub fn from_endpoint(endpoint: &str) -> Option<Self> {
        let (host, port) = host_and_port(endpoint)?;
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        Some(Self { port: port? }).filter(|_| loopback)
    }

    /// The local form of an HTTP API's URL (`https://{id}.execute-api.{region}.amazonaws.com[/path]`).
    pub fn api_url(self, url: &str) -> Option<String> {
        let rest = url.trim().strip_prefix("https://")?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (id, region_and_domain) = host.split_once(".execute-api.")?;
        let region = region_and_domain.strip_suffix(".amazonaws.com")?;
        if !is_label(id) || !is_label(region) {
            return None;
        }
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        Some(format!(
            "http://{}.execute-api.localhost:{}{path}",
            id.to_ascii_lowercase(),
            self.port
        ))
    }

    /// The local form of a distribution's domain (`{label}.cloudfront.net` -> `{label}.cloudfront.localhost:{port}`).
    pub fn cloudfront_domain(self, domain: &str) -> Option<String> {
        let label = domain.trim().strip_suffix(".cloudfront.net")?;
        is_label(label).then(|| {
            format!(
                "{}.cloudfront.localhost:{}",
                label.to_ascii_lowercase(),
                self.port
            )
        })
    }

    /// The local form of a URL on a distribution (`https://{label}.cloudfront.net[/path]`).
    pub fn cloudfront_url(self, url: &str) -> Option<String> {
        let rest = url.trim().strip_prefix("https://")?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        Some(format!("http://{}/{path}", self.cloudfront_domain(host)?))
    }

    /// The outputs with `ApiEndpoint`, `CloudFrontDomain` and `SiteUrl` in their
    /// local forms (values that aren't AWS forms stay as they are).
    pub fn localize_outputs(self, outputs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut local = outputs.clone();
        if let Some(url) = outputs.get("SiteUrl").and_then(|u| self.cloudfront_url(u)) {
            local.insert("SiteUrl".to_owned(), url);
        }
        if let Some(url) = outputs.get("ApiEndpoint").and_then(|u| self.api_url(u)) {
            local.insert("ApiEndpoint".to_owned(), url);
        }
        if let Some(domain) = outputs
            .get("CloudFrontDomain")
            .and_then(|d| self.cloudfront_domain(d))
        {
            local.insert("CloudFrontDomain".to_owned(), domain);
        }
        local
    }
}

/// Where to connect for `url` when its host is `localhost` or ends in
/// `.localhost`: 127.0.0.1 at the URL's port. `*.localhost` is loopback by
/// RFC 6761, but the system resolver may not know it, so HTTP clients pin it.
pub fn loopback_address(url: &str) -> Option<(String, SocketAddr)> {
    let (host, port) = host_and_port(url)?;
    let lower = host.to_ascii_lowercase();
    if lower != "localhost" && !lower.ends_with(".localhost") {
        return None;
    }
    let port = port.unwrap_or(if url.starts_with("https://") { 443 } else { 80 });
    Some((
        lower,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
    ))
}

/// The host and port (if given) of an `http(s)://` URL.
fn host_and_port(url: &str) -> Option<(&str, Option<u16>)> {
    let rest = url
        .trim()
        .strip_prefix("http://")
        .or_else(|| url.trim().strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if let Some(v6) = authority.strip_prefix('[') {
        let (address, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((&authority[..address.len() + 2], port));
    }
    match authority.split_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
    .filter(|(host, _)| !host.is_empty())
}

fn is_label(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_only() {
        let cases = [
            ("http://127.0.0.1:4566", Some(4566)),
            ("http://127.0.0.1:4566/", Some(4566)),
            ("http://localhost:9000", Some(9000)),
            ("http://[::1]:4566", Some(4566)),
            ("http://127.0.0.1", None),
            ("http://10.0.0.5:4566", None),
            ("https://cloudformation.us-west-2.amazonaws.com", None),
            ("ftp://127.0.0.1:21", None),
            ("", None),
        ];
        for (endpoint, port) in cases {
            assert_eq!(
                LocalAws::from_endpoint(endpoint),
                port.map(|port| LocalAws { port }),
                "{endpoint:?}"
            );
        }
    }

    #[test]
    fn aws_hosts_map_to_local_forms() {
        let local = LocalAws { port: 4566 };
        let cases = [
            (
                "https://Abc123.execute-api.us-west-2.amazonaws.com",
                Some("http://abc123.execute-api.localhost:4566"),
            ),
            (
                "https://abc123.execute-api.us-west-2.amazonaws.com/prod/x",
                Some("http://abc123.execute-api.localhost:4566/prod/x"),
            ),
            ("http://abc123.execute-api.us-west-2.amazonaws.com", None),
            ("https://example.com", None),
            ("https://a.b.execute-api.us-west-2.amazonaws.com", None),
        ];
        for (url, expected) in cases {
            assert_eq!(local.api_url(url).as_deref(), expected, "{url:?}");
        }
        assert_eq!(
            local.cloudfront_domain("D111abc.cloudfront.net").as_deref(),
            Some("d111abc.cloudfront.localhost:4566")
        );
        assert_eq!(local.cloudfront_domain("cdn.example.com"), None);
        assert_eq!(
            local
                .cloudfront_url("https://D1abc.cloudfront.net/")
                .as_deref(),
            Some("http://d1abc.cloudfront.localhost:4566/")
        );
        assert_eq!(
            local
                .cloudfront_url("https://d1.cloudfront.net/gallery?x=1")
                .as_deref(),
            Some("http://d1.cloudfront.localhost:4566/gallery?x=1")
        );
        assert_eq!(
            local.cloudfront_url("https://d1.cloudfront.net").as_deref(),
            Some("http://d1.cloudfront.localhost:4566/")
        );
        assert_eq!(local.cloudfront_url("http://d1.cloudfront.net/"), None);
        assert_eq!(local.cloudfront_url("https://app.example.com/"), None);
        let outputs = BTreeMap::from([
            (
                "ApiEndpoint".to_owned(),
                "https://abc.execute-api.us-west-2.amazonaws.com".to_owned(),
            ),
            (
                "CloudFrontDomain".to_owned(),
                "d1.cloudfront.net".to_owned(),
            ),
            ("ImagesBucket".to_owned(), "bucket".to_owned()),
            (
                "SiteUrl".to_owned(),
                "https://d1.cloudfront.net/".to_owned(),
            ),
        ]);
        let mapped = local.localize_outputs(&outputs);
        assert_eq!(mapped["SiteUrl"], "http://d1.cloudfront.localhost:4566/");
        assert_eq!(
            mapped["ApiEndpoint"],
            "http://abc.execute-api.localhost:4566"
        );
        assert_eq!(mapped["CloudFrontDomain"], "d1.cloudfront.localhost:4566");
        assert_eq!(mapped["ImagesBucket"], "bucket");
    }

    #[test]
    fn localhost_names_resolve_to_loopback() {
        let cases = [
            (
                "http://abc.execute-api.localhost:4566/health",
                Some(("abc.execute-api.localhost", 4566)),
            ),
            ("http://LOCALHOST:80/", Some(("localhost", 80))),
            ("http://x.localhost/", Some(("x.localhost", 80))),
            ("http://127.0.0.1:4566/", None),
            ("https://abc.execute-api.us-west-2.amazonaws.com", None),
            ("http://localhost.example.com/", None),
        ];
        for (url, expected) in cases {
            let found = loopback_address(url);
            assert_eq!(
                found
                    .as_ref()
                    .map(|(host, address)| (host.as_str(), address.port())),
                expected,
                "{url:?}"
            );
            if let Some((_, address)) = found {
                assert!(address.ip().is_loopback());
            }
        }
    }
}
