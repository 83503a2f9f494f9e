//! The worker fails safely: a retried invocation buys no image twice, a job its
//! worker never finished is reported failed, and what `GET /status` says about a
//! failure never carries AWS error text or key locations.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::{Json, Router};
use base64::Engine as _;
use common::*;
use pixel_prompt_api::config::{KeyLocation, ModelSpec, ProviderKind};
use pixel_prompt_api::job::{Job, ModelStatus, overall_status};
use pixel_prompt_api::lambda_entry::handle_event;
use pixel_prompt_api::providers::bedrock::BedrockClients;
use pixel_prompt_api::providers::{Backend, Generator, ProviderHttp, RealProviders};
use pixel_prompt_api::secrets::{ApiKey, KeyResolver};
use serde_json::{Value, json};

type Calls = Arc<Mutex<Vec<String>>>;

/// An OpenAI images endpoint that records the model of every request it bills.
async fn images(State(calls): State<Calls>, body: Bytes) -> Json<Value> {
    let request: Value = serde_json::from_slice(&body).unwrap();
    calls
        .lock()
        .unwrap()
        .push(request["model"].as_str().unwrap_or_default().to_owned());
    let png = pixel_prompt_api::image::placeholder_png("stub", 8);
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    Json(json!({"data": [{"b64_json": b64}]}))
}

async fn provider_stub() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let router = Router::new()
        .route("/v1/images/generations", axum::routing::post(images))
        .with_state(Arc::clone(&calls));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, calls)
}

fn three_models() -> Vec<ModelSpec> {
    (0..3)
        .map(|i| ModelSpec {
            name: format!("Model {i}"),
            provider: ProviderKind::Openai,
            model: format!("model-{i}"),
        })
        .collect()
}

fn real(base: &str, keys: KeyResolver) -> Generator {
    Generator {
        models: three_models(),
        backend: Backend::Real(Box::new(RealProviders {
            http: ProviderHttp::new(Duration::from_secs(5)),
            base_urls: BTreeMap::from([(ProviderKind::Openai, base.to_owned())]),
            keys: Arc::new(keys),
            bedrock: BedrockClients::new(None, None),
        })),
        model_timeout: Duration::from_secs(5),
    }
}

fn with_key() -> KeyResolver {
    KeyResolver::with_keys([(ProviderKind::Openai, ApiKey::new("sk-test-key-1"))].into())
}

const JOB_ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

/// A job created `age` ago whose models an earlier attempt left as `statuses`.
fn job(age: Duration, statuses: [ModelStatus; 3]) -> Job {
    let created = SystemTime::now() - age;
    let mut job = Job::new(
        JOB_ID.into(),
        "a fox".into(),
        pixel_prompt_api::validation::GenerationParams::default(),
        &three_models(),
        created,
    );
    let mut stored = serde_json::to_value(&job).unwrap();
    let created_at = stored["createdAt"].clone();
    for (index, status) in statuses.iter().enumerate() {
        let result = &mut stored["results"][index];
        result["status"] = serde_json::to_value(status).unwrap();
        if *status != ModelStatus::Pending {
            result["startedAt"] = created_at.clone();
        }
        if *status == ModelStatus::Completed {
            result["imageUrl"] = json!(format!(
                "https://cdn.example.test/images/{JOB_ID}/0{index}-model-{index}.png"
            ));
        }
    }
    stored["status"] = serde_json::to_value(overall_status(statuses)).unwrap();
    job = serde_json::from_value(stored).unwrap();
    job
}

async fn run_worker(state: &pixel_prompt_api::AppState) -> Value {
    handle_event(
        state.clone(),
        lambda_http::LambdaEvent::new(
            json!({"pixelPromptWorker": {"jobId": JOB_ID}}),
            lambda_http::Context::default(),
        ),
    )
    .await
    .unwrap()
}

async fn status(state: &pixel_prompt_api::AppState) -> Value {
    json(call(state, get(&format!("/status/{JOB_ID}"))).await).await
}

#[tokio::test]
async fn a_retried_worker_generates_only_the_models_no_attempt_started() {
    let (base, calls) = provider_stub().await;
    let app = app_with(|p| p.generator = real(&base, with_key()));
    // The first attempt finished model 0, was generating model 1 when it died, and
    // never reached model 2.
    let earlier = job(
        Duration::from_secs(20),
        [
            ModelStatus::Completed,
            ModelStatus::InProgress,
            ModelStatus::Pending,
        ],
    );
    app.state.jobs.save(&earlier).await.unwrap();

    let answer = run_worker(&app.state).await;
    assert_eq!(answer, json!({"jobId": JOB_ID, "status": "partial"}));
    assert_eq!(
        *calls.lock().unwrap(),
        ["model-2"],
        "only the model no attempt had started is bought"
    );
    let job = status(&app.state).await;
    assert_eq!(job["results"][0]["status"], "completed");
    assert_eq!(job["results"][1]["status"], "error");
    assert!(
        job["results"][1]["error"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{job}"
    );
    assert_eq!(job["results"][2]["status"], "completed");

    // And a third delivery of the same event buys nothing at all.
    run_worker(&app.state).await;
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_job_no_worker_finished_is_reported_failed_and_never_started_late() {
    let (base, calls) = provider_stub().await;
    let app = app_with(|p| {
        p.generator = real(&base, with_key());
        p.worker_timeout = Duration::from_mins(1);
    });
    // Queued 10 minutes ago; its worker never ran (throttled, crashed at start, ...).
    let stale = job(Duration::from_mins(10), [ModelStatus::Pending; 3]);
    app.state.jobs.save(&stale).await.unwrap();

    let shown = status(&app.state).await;
    assert_eq!(shown["status"], "failed", "{shown}");
    assert_eq!(shown["completedModels"], 3);
    for result in shown["results"].as_array().unwrap() {
        assert_eq!(result["error"], "the job did not finish in time");
    }

    // A worker event that arrives this late pays for nothing.
    assert_eq!(run_worker(&app.state).await["status"], "failed");
    assert!(calls.lock().unwrap().is_empty());

    // A young unfinished job is still just pending.
    let young = job(Duration::from_secs(5), [ModelStatus::Pending; 3]);
    app.state.jobs.save(&young).await.unwrap();
    assert_eq!(status(&app.state).await["status"], "pending");
}

#[tokio::test]
async fn a_failed_key_read_is_reported_without_aws_details() {
    use aws_sdk_ssm::config::{Credentials, SharedCredentialsProvider};
    let (base, calls) = provider_stub().await;
    // The key lives in SSM, and reading it fails with the SDK's own error text
    // (here: nothing answers at the endpoint).
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let keys = KeyResolver::new(
        [(
            ProviderKind::Openai,
            KeyLocation::Ssm("/pixel-prompt/prod/openai-api-key".into()),
        )]
        .into(),
        Some(sdk),
    );
    let app = app_with(|p| p.generator = real(&base, keys));
    let created = json(
        call(
            &app.state,
            post("/generate", r#"{"prompt":"a lighthouse"}"#, ip(1)),
        )
        .await,
    )
    .await;
    let job = wait_for_job(&app.state, created["jobId"].as_str().unwrap()).await;
    assert_eq!(job["status"], "failed");
    let text = job.to_string();
    for private in [
        "ssm",
        "/pixel-prompt/prod",
        "127.0.0.1",
        "dispatch",
        "openai-api-key",
    ] {
        assert!(!text.contains(private), "`{private}` is public: {text}");
    }
    assert_eq!(
        job["results"][0]["error"],
        "the provider's API key could not be read"
    );
    assert!(calls.lock().unwrap().is_empty());
}
