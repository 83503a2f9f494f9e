//! What every response shares: CORS headers for the configured origins, an
//! `X-Correlation-ID` (echoed or created) carried by the request's log span, the
//! client's source IP taken from the request context, and one log line per request.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::request::RequestContext;
use tracing::Instrument;

use crate::AppState;

pub const CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

/// The request's correlation id.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// The client's source IP: API Gateway's `requestContext.http.sourceIp` on Lambda, the
/// TCP peer locally. Never a header or body field the client controls.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// A client-supplied id is kept if it is short and plain; otherwise a new one is made.
pub fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get(&CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn client_ip(request: &Request) -> ClientIp {
    let from_lambda = request
        .extensions()
        .get::<RequestContext>()
        .and_then(|ctx| match ctx {
            RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
            _ => None,
        })
        .and_then(|ip| ip.parse().ok());
    let from_socket = || {
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    };
    ClientIp(from_lambda.or_else(from_socket))
}

/// The `Access-Control-Allow-Origin` value for a request's `Origin`. A configured
/// origin ending in `:*` (`http://localhost:*`) allows that scheme and host on any
/// port, as local mode does for loopback.
pub fn allowed_origin(configured: &[String], origin: Option<&str>) -> Option<String> {
    if configured.iter().any(|o| o == "*") {
        return Some("*".to_owned());
    }
    match origin {
        Some(origin) => {
            let origin = origin.trim_end_matches('/');
            configured
                .iter()
                .any(|pattern| origin_matches(pattern, origin))
                .then(|| origin.to_owned())
        }
        // No Origin (not a browser): name the first configured origin.
        None => configured.iter().find(|o| !o.ends_with(":*")).cloned(),
    }
}

/// Whether `origin` is the configured origin `pattern`, or one of its ports when the
/// pattern ends in `:*`.
fn origin_matches(pattern: &str, origin: &str) -> bool {
    let Some(prefix) = pattern.strip_suffix(":*") else {
        return pattern.eq_ignore_ascii_case(origin);
    };
    let Some((head, rest)) = origin.split_at_checked(prefix.len()) else {
        return false;
    };
    head.eq_ignore_ascii_case(prefix)
        && (rest.is_empty()
            || rest.strip_prefix(':').is_some_and(|port| {
                !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
            }))
}

fn add_cors(headers: &mut HeaderMap, allow_origin: Option<&str>) {
    if let Some(value) = allow_origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let wildcard = value == "*";
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        if !wildcard {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, X-Correlation-ID"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("X-Correlation-ID"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}

/// The middleware around every route.
pub async fn around_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = correlation_id(request.headers());
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allow = allowed_origin(&state.allowed_origins, origin.as_deref());
    let ip = client_ip(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        correlation_id = %id,
        method = %method,
        path = %path,
    );
    request.extensions_mut().insert(CorrelationId(id.clone()));
    request.extensions_mut().insert(ip);

    let mut response = if method == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).instrument(span.clone()).await
    };
    add_cors(response.headers_mut(), allow.as_deref());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, elapsed_ms, "request completed");
        } else {
            tracing::info!(status, elapsed_ms, "request completed");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let list = vec![
            "http://localhost:5173".to_owned(),
            "https://app.example.com".to_owned(),
        ];
        assert_eq!(
            allowed_origin(&["*".to_owned()], Some("https://x")),
            Some("*".into())
        );
        assert_eq!(
            allowed_origin(&list, Some("https://app.example.com")),
            Some("https://app.example.com".into())
        );
        assert_eq!(allowed_origin(&list, Some("https://evil.example")), None);
        assert_eq!(
            allowed_origin(&list, None),
            Some("http://localhost:5173".into())
        );
    }

    #[test]
    fn port_patterns_allow_any_port_of_one_host() {
        let local = vec![
            "http://localhost:*".to_owned(),
            "http://127.0.0.1:*".to_owned(),
        ];
        let cases = [
            ("http://localhost:3000", true),
            ("http://localhost:5173", true),
            ("http://LOCALHOST:8080", true),
            ("http://localhost", true),
            ("http://127.0.0.1:4173/", true),
            ("https://localhost:3000", false),
            ("http://localhost.evil.example", false),
            ("http://localhost:3000.evil.example", false),
            ("http://localhost:", false),
            ("http://localhostx:3000", false),
            ("http://10.0.0.5:3000", false),
        ];
        for (origin, allowed) in cases {
            let expected = allowed.then(|| origin.trim_end_matches('/').to_owned());
            assert_eq!(allowed_origin(&local, Some(origin)), expected, "{origin}");
        }
        assert_eq!(allowed_origin(&local, None), None);
    }

    #[test]
    fn correlation_ids() {
        let mut headers = HeaderMap::new();
        headers.insert(CORRELATION_HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(correlation_id(&headers), "abc-123");
        headers.insert(
            CORRELATION_HEADER,
            HeaderValue::from_static("bad id {json}"),
        );
        assert_ne!(correlation_id(&headers), "bad id {json}");
        assert_eq!(correlation_id(&HeaderMap::new()).len(), 36);
    }
}
