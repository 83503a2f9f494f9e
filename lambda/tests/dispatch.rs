//! The Lambda hand-off: `POST /generate` invokes this function asynchronously
//! (`X-Amz-Invocation-Type: Event`) with the worker payload, checked against a stub of
//! the Lambda Invoke API; a failed hand-off marks the job failed and answers 500.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use pixel_prompt_api::DispatchMode;
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

async fn invoke(
    State(seen): State<Seen>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    seen.lock()
        .unwrap()
        .push((name.clone(), kind, serde_json::from_slice(&body).unwrap()));
    if name == "broken" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::ACCEPTED
    }
}

async fn lambda_stub() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, seen)
}

fn lambda_client(endpoint: &str) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{Credentials, Region};
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

#[tokio::test]
async fn generate_invokes_the_function_asynchronously_with_the_worker_payload() {
    let (endpoint, seen) = lambda_stub().await;
    let app = common::app_with(|p| {
        p.dispatch = DispatchMode::Lambda {
            client: lambda_client(&endpoint),
            function_name: "pixel-prompt-dev-api".into(),
        };
    });
    let mut request = common::post("/generate", r#"{"prompt":"a fox"}"#, common::ip(1));
    request
        .headers_mut()
        .insert("x-correlation-id", "trace-7".parse().unwrap());
    let response = common::call(&app.state, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let job_id = common::json(response).await["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let calls = seen.lock().unwrap().clone();
    assert_eq!(
        calls,
        [(
            "pixel-prompt-dev-api".to_owned(),
            "Event".to_owned(),
            json!({"pixelPromptWorker": {"jobId": job_id, "correlationId": "trace-7"}})
        )]
    );
    // Nothing ran in the request: the job waits for the worker.
    let job =
        common::json(common::call(&app.state, common::get(&format!("/status/{job_id}"))).await)
            .await;
    assert_eq!(job["status"], "pending");
}

#[tokio::test]
async fn failed_hand_off_fails_the_job_and_answers_500() {
    let (endpoint, _seen) = lambda_stub().await;
    let app = common::app_with(|p| {
        p.dispatch = DispatchMode::Lambda {
            client: lambda_client(&endpoint),
            function_name: "broken".into(),
        };
    });
    let response = common::call(
        &app.state,
        common::post("/generate", r#"{"prompt":"a fox"}"#, common::ip(1)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        common::json(response).await,
        json!({"error": "INTERNAL_SERVER_ERROR", "message": "An internal error occurred"})
    );
    let jobs: Vec<_> = std::fs::read_dir(app.dir.path().join("jobs"))
        .unwrap()
        .collect();
    assert_eq!(jobs.len(), 1);
    let job: Value =
        serde_json::from_slice(&std::fs::read(jobs[0].as_ref().unwrap().path()).unwrap()).unwrap();
    assert_eq!(job["status"], "failed");
    assert_eq!(job["results"][0]["error"], "the job could not be started");
}
