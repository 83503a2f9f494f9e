//! What a hostile or broken provider answer can no longer do: make a keyed request
//! follow a redirect (taking a custom key header to another host), or exhaust the
//! function's memory with a huge body. Against stubs on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;
use pixel_prompt_api::config::{ModelSpec, ProviderKind};
use pixel_prompt_api::providers::bedrock::BedrockClients;
use pixel_prompt_api::providers::{Backend, Generator, ProviderError, ProviderHttp, RealProviders};
use pixel_prompt_api::secrets::{ApiKey, KeyResolver};
use pixel_prompt_api::validation::GenerationParams;
use serde_json::json;

const KEY: &str = "sk-provider-key-never-elsewhere";

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn generator(base: &str, provider: ProviderKind, model: &str) -> Generator {
    Generator {
        models: vec![ModelSpec {
            name: "Model".into(),
            provider,
            model: model.into(),
        }],
        backend: Backend::Real(Box::new(RealProviders {
            http: ProviderHttp::new(Duration::from_secs(10)),
            base_urls: BTreeMap::from([(provider, base.to_owned())]),
            keys: Arc::new(KeyResolver::with_keys(
                [(provider, ApiKey::new(KEY))].into(),
            )),
            bedrock: BedrockClients::new(None, None),
        })),
        model_timeout: Duration::from_secs(20),
    }
}

async fn generate(generator: &Generator) -> Result<Vec<u8>, ProviderError> {
    generator
        .generate(0, "a fox", GenerationParams::default())
        .await
        .map(|image| image.bytes)
}

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

async fn record(State(seen): State<Seen>, headers: HeaderMap) -> StatusCode {
    seen.lock().unwrap().push(headers);
    StatusCode::OK
}

#[tokio::test]
async fn a_keyed_request_does_not_follow_a_redirect_elsewhere() {
    // Somewhere else: it must never see the request, let alone the key header.
    let seen: Seen = Arc::default();
    let elsewhere = serve(
        Router::new()
            .route("/{*path}", any(record))
            .with_state(Arc::clone(&seen)),
    )
    .await;
    // Google and BFL send their keys in custom headers (`x-goog-api-key`, `x-key`),
    // which an HTTP client keeps on a cross-origin redirect (it drops only
    // `Authorization` and cookies).
    let target = format!("{elsewhere}/collect");
    let redirecting =
        serve(
            Router::new().fallback(move || {
                let target = target.clone();
                async move {
                    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
                }
            }),
        )
        .await;
    for (provider, model) in [
        (
            ProviderKind::Gemini,
            "gemini-2.0-flash-preview-image-generation",
        ),
        (ProviderKind::Imagen, "imagen-3.0-generate-002"),
        (ProviderKind::Bfl, "flux-pro-1.1"),
        (ProviderKind::Openai, "dall-e-3"),
        (ProviderKind::Stability, "sd3-large-turbo"),
    ] {
        let result = generate(&generator(&redirecting, provider, model)).await;
        match result {
            Err(ProviderError::Http { status: 307, .. }) => {}
            other => panic!("{provider}: a redirect is an error, got {other:?}"),
        }
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "a keyed request reached another host: {:?}",
        seen.lock().unwrap()
    );
}

/// A server answering every request on raw HTTP/1.1: JSON naming `/huge.png` for
/// OpenAI's generation call, and 64 MB of image bytes for anything else, announced in
/// `Content-Length` or streamed chunked with no length.
async fn huge_server(announce: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let own = base.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let own = own.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let read = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..read]).to_string();
                if head.starts_with("POST /v1/images/generations") {
                    let body = json!({"data": [{"url": format!("{own}/huge.png")}]}).to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    return;
                }
                let chunk = vec![0x89u8; 1024 * 1024];
                let length = 64 * chunk.len();
                let head = if announce {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_owned()
                };
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..64 {
                    let written = if announce {
                        socket.write_all(&chunk).await
                    } else {
                        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                        framed.extend_from_slice(&chunk);
                        framed.extend_from_slice(b"\r\n");
                        socket.write_all(&framed).await
                    };
                    // The client hanging up early is what the test wants.
                    if written.is_err() {
                        return;
                    }
                }
                if !announce {
                    let _ = socket.write_all(b"0\r\n\r\n").await;
                }
            });
        }
    });
    base
}

#[tokio::test]
async fn a_huge_image_body_is_refused_not_buffered() {
    for announce in [true, false] {
        let base = huge_server(announce).await;
        for (provider, model) in [
            (ProviderKind::Openai, "dall-e-3"),
            (ProviderKind::Stability, "sd3-large-turbo"),
        ] {
            match generate(&generator(&base, provider, model)).await {
                Err(ProviderError::Malformed(message)) => {
                    assert!(message.contains("larger than 20 MB"), "{message}");
                }
                other => panic!(
                    "{provider} (length announced: {announce}): expected a size error, got {:?}",
                    other.map(|bytes| bytes.len())
                ),
            }
        }
    }
}
