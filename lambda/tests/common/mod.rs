//! Helpers shared by the integration tests: a state on a temporary folder with fast
//! fake providers, and request/response shorthands for `oneshot`.
#![allow(dead_code, clippy::unwrap_used)]
// A module of each test crate: `pub` is its interface to the test files, not an API.
#![allow(unreachable_pub)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use pixel_prompt_api::config::{EnvironmentName, ModelSpec, ProviderKind, RateLimits};
use pixel_prompt_api::enhance::Enhancer;
use pixel_prompt_api::providers::fake::FakeProvider;
use pixel_prompt_api::providers::{Backend, Generator};
use pixel_prompt_api::store::{FolderStore, ObjectStore};
use pixel_prompt_api::{AppState, DispatchMode, StateParts};
use serde_json::Value;

pub fn models(n: usize) -> Vec<ModelSpec> {
    (0..n)
        .map(|i| ModelSpec {
            name: format!("Model {i}"),
            provider: ProviderKind::Openai,
            model: "dall-e-3".into(),
        })
        .collect()
}

pub struct TestApp {
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

pub fn parts(dir: &std::path::Path, generator: Generator, enhancer: Enhancer) -> StateParts {
    StateParts {
        environment: EnvironmentName::dev(),
        allowed_origins: vec!["*".into()],
        image_base_url: "https://cdn.example.test".into(),
        store: ObjectStore::Folder(FolderStore::new(dir)),
        rate_limits: RateLimits {
            global_per_hour: 1000,
            per_ip_per_day: 1000,
            ip_allowlist: vec![],
            ..RateLimits::default()
        },
        generator,
        enhancer,
        dispatch: DispatchMode::InProcess,
        serve_images: false,
        worker_timeout: Duration::from_mins(3),
        gallery_days: 30,
        emit_metrics: false,
    }
}

pub fn fake_generator(n: usize) -> Generator {
    Generator {
        models: models(n),
        backend: Backend::Fake(FakeProvider::new(Duration::from_millis(20), 16)),
        model_timeout: Duration::from_secs(5),
    }
}

/// A test app with fake providers; `tweak` edits the parts first.
pub fn app_with(tweak: impl FnOnce(&mut StateParts)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut p = parts(dir.path(), fake_generator(3), Enhancer::Fake);
    tweak(&mut p);
    TestApp {
        state: AppState::new(p),
        dir,
    }
}

pub fn ip(last: u8) -> SocketAddr {
    SocketAddr::from((IpAddr::from([203, 0, 113, last]), 40_000))
}

pub fn post(path: &str, body: &str, from: SocketAddr) -> Request<Body> {
    let mut request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(from));
    request
}

pub fn get(path: &str) -> Request<Body> {
    let mut request = Request::get(path).body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(ip(1)));
    request
}

pub async fn json(response: Response<Body>) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
}

/// Calls the router once.
pub async fn call(state: &AppState, request: Request<Body>) -> Response<Body> {
    use tower::ServiceExt as _;
    pixel_prompt_api::app(state.clone())
        .oneshot(request)
        .await
        .unwrap()
}

/// Polls `/status/{id}` through the router until the job finishes.
pub async fn wait_for_job(state: &AppState, job_id: &str) -> Value {
    test_support::poll::until_async(&format!("job {job_id} to finish"), JOB_DEADLINE, || async {
        let job = json(call(state, get(&format!("/status/{job_id}"))).await).await;
        test_support::job_finished(job["status"].as_str().unwrap_or_default()).then_some(job)
    })
    .await
}

/// Polls `{base}/status/{id}` over HTTP, as the web client does, until the job finishes.
pub async fn finished_job(http: &reqwest::Client, base: &str, job_id: &str) -> Value {
    test_support::poll::until_async(&format!("job {job_id} to finish"), JOB_DEADLINE, || async {
        let job: Value = http
            .get(format!("{base}/status/{job_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        test_support::job_finished(job["status"].as_str().unwrap_or_default()).then_some(job)
    })
    .await
}

/// Longer than any job here takes: it only turns a hang into a failure.
const JOB_DEADLINE: Duration = Duration::from_mins(1);
