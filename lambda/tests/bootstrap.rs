//! The `bootstrap` executable against a stub of the Lambda Runtime API on 127.0.0.1:
//! cold start, HTTP events (stage prefix, 404, validation, enhance fallback) answered
//! in API Gateway's format. Every AWS endpoint points at a closed local port.
//! `BOOTSTRAP_BIN=path` tests another build (e.g. the release binary) and prints its
//! start time and peak RSS with `--nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Runtime {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    responses: Arc<Mutex<Vec<(String, Value)>>>,
    first_poll: Arc<Mutex<Option<Instant>>>,
}

async fn next(State(rt): State<Runtime>) -> impl IntoResponse {
    rt.first_poll
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    loop {
        let event = rt.events.lock().unwrap().pop_front();
        if let Some((id, event)) = event {
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                "4102444800000".parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-west-2:123456789012:function:pixel-prompt-dev-api"
                    .parse()
                    .unwrap(),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793".parse().unwrap(),
            );
            return (headers, event.to_string());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn respond(State(rt): State<Runtime>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    rt.responses.lock().unwrap().push((id, value));
    "{}"
}

async fn error(State(rt): State<Runtime>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let value = json!({"runtimeError": String::from_utf8_lossy(&body)});
    rt.responses.lock().unwrap().push((id, value));
    "{}"
}

fn http_event(method: &str, path: &str, stage: &str, body: Option<&str>) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "origin": "http://localhost:5173"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.test",
            "domainPrefix": "api", "requestId": "r", "routeKey": "$default", "stage": stage,
            "time": "26/Nov/2026:05:00:00 +0000", "timeEpoch": 1_795_640_400_000_u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "t"}
        },
        "body": body, "isBase64Encoded": false
    })
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_serves_api_gateway_events() {
    let rt = Runtime::default();
    let events = [
        ("1", http_event("GET", "/nope", "$default", None)),
        (
            "2",
            http_event("POST", "/prod/generate", "prod", Some("{}")),
        ),
        (
            "3",
            http_event(
                "POST",
                "/enhance",
                "$default",
                Some(r#"{"prompt":"a fox"}"#),
            ),
        ),
    ];
    rt.events
        .lock()
        .unwrap()
        .extend(events.iter().map(|(id, e)| ((*id).to_owned(), e.clone())));
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let api = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let binary = std::env::var("BOOTSTRAP_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_bootstrap").to_owned());
    let started = Instant::now();
    let mut child = Command::new(&binary)
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "pixel-prompt-dev-api"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("ENVIRONMENT", "dev"),
            (
                "MODELS",
                r#"[{"name":"DALL-E 3","provider":"openai","model":"dall-e-3"}]"#,
            ),
            (
                "PROVIDER_KEYS",
                r#"{"openai":"ssm:/pixel-prompt/dev/openai"}"#,
            ),
            ("IMAGES_BUCKET", "bucket"),
            ("CLOUDFRONT_DOMAIN", "d111.cloudfront.net"),
            ("ALLOWED_ORIGINS", "http://localhost:5173"),
            // No S3 here: the caller is exempt from rate limits (which /enhance has too).
            ("IP_ALLOWLIST", "198.51.100.7"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bootstrap");
    let deadline = Instant::now() + Duration::from_secs(20);
    while rt.responses.lock().unwrap().len() < events.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let first_poll = rt
        .first_poll
        .lock()
        .unwrap()
        .map(|t| t.duration_since(started));
    let rss = peak_rss_kib(child.id());
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "bootstrap `{binary}`: first poll after {first_poll:?}, peak RSS {} KiB",
        rss.unwrap_or_default()
    );

    let responses: Vec<(String, Value)> = rt.responses.lock().unwrap().clone();
    assert_eq!(responses.len(), events.len(), "logs:\n{logs}");
    let by_id = |id: &str| {
        responses
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let body = |v: &Value| serde_json::from_str::<Value>(v["body"].as_str().unwrap()).unwrap();

    let not_found = by_id("1");
    assert_eq!(not_found["statusCode"], 404);
    assert_eq!(
        body(&not_found),
        json!({"error": "Not found", "path": "/nope", "method": "GET"})
    );
    assert_eq!(
        not_found["headers"]["access-control-allow-origin"],
        "http://localhost:5173"
    );

    let invalid = by_id("2");
    assert_eq!(
        invalid["statusCode"], 400,
        "stage prefix not stripped: {invalid}"
    );
    assert_eq!(body(&invalid)["error"], "PROMPT_REQUIRED");

    let enhance = by_id("3");
    assert_eq!(enhance["statusCode"], 200);
    assert_eq!(
        body(&enhance),
        json!({"original": "a fox", "enhanced": "a fox", "short_prompt": "a fox",
               "long_prompt": "a fox", "fallback": true})
    );

    // Logs are JSON lines and carry the correlation id of each request.
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "no JSON log lines:\n{logs}");
    assert!(
        lines
            .iter()
            .any(|l| l.pointer("/span/correlation_id").is_some()),
        "{logs}"
    );
    assert!(!logs.contains("testing\""), "a credential in the logs");
}
