//! Each provider client against a local stub server (axum on 127.0.0.1:0) speaking that
//! provider's wire format: success, BFL polling, 401, 429, refused content, garbage and
//! timeouts. The prompt tells the stub how to behave.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use pixel_prompt_api::config::{ModelSpec, ProviderKind};
use pixel_prompt_api::image;
use pixel_prompt_api::providers::bedrock::BedrockClients;
use pixel_prompt_api::providers::{Backend, Generator, ProviderError, ProviderHttp, RealProviders};
use pixel_prompt_api::secrets::{ApiKey, KeyResolver};
use pixel_prompt_api::validation::GenerationParams;
use serde_json::{Value, json};

const KEY: &str = "sk-stub-key-0123456789";

#[derive(Clone, Default)]
struct Stub {
    base: Arc<Mutex<String>>,
    polls: Arc<Mutex<HashMap<String, u32>>>,
    seen_keys: Arc<Mutex<Vec<String>>>,
    slow: Arc<Gate>,
}

/// Where a "slow" request waits until the test lets it go: how long a provider
/// takes is the test's decision, not a sleep's.
struct Gate {
    open: tokio::sync::watch::Sender<bool>,
    waiting: tokio::sync::watch::Sender<usize>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            open: tokio::sync::watch::channel(false).0,
            waiting: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Gate {
    /// Counts the request as waiting, then waits until `release` (forever if never).
    async fn pass(&self) {
        let mut open = self.open.subscribe();
        self.waiting.send_modify(|waiting| *waiting += 1);
        open.wait_for(|open| *open).await.unwrap();
    }

    /// Returns once `count` requests wait at the gate.
    async fn until_waiting(&self, count: usize) {
        let mut waiting = self.waiting.subscribe();
        waiting.wait_for(|waiting| *waiting >= count).await.unwrap();
    }

    fn release(&self) {
        self.open.send_replace(true);
    }
}

fn png() -> Vec<u8> {
    image::placeholder_png("stub", 8)
}

fn b64_png() -> String {
    base64::engine::general_purpose::STANDARD.encode(png())
}

/// A Gemini thought image: a PNG that is not the final one.
fn draft_png() -> Vec<u8> {
    image::placeholder_png("draft", 8)
}

fn b64_draft() -> String {
    base64::engine::general_purpose::STANDARD.encode(draft_png())
}

/// The stub's answer for a prompt that asks for a failure, if it does. A "slow"
/// prompt waits at the stub's gate first.
async fn failure(stub: &Stub, prompt: &str, refusal: Response) -> Option<Response> {
    if prompt.contains("slow") {
        stub.slow.pass().await;
    }
    Some(match prompt {
        p if p.contains("unauthorized") => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "Incorrect API key provided"}})),
        )
            .into_response(),
        p if p.contains("ratelimit") => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": {"message": "Rate limit reached"}})),
        )
            .into_response(),
        p if p.contains("refuse") => refusal,
        p if p.contains("garbage") => (StatusCode::OK, "<html>not json</html>").into_response(),
        _ => return None,
    })
}

fn key_ok(stub: &Stub, headers: &HeaderMap, header: &str) -> bool {
    let value = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    stub.seen_keys.lock().unwrap().push(value.clone());
    value == KEY || value == format!("Bearer {KEY}")
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"message": "missing key"}})),
    )
        .into_response()
}

async fn openai_images(
    State(stub): State<Stub>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !key_ok(&stub, &headers, "authorization") {
        return unauthorized();
    }
    let prompt = body["prompt"].as_str().unwrap_or_default();
    let refusal = (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": "content_policy_violation", "message": "Your request was rejected by our safety system"}}))).into_response();
    if let Some(r) = failure(&stub, prompt, refusal).await {
        return r;
    }
    assert_eq!(body["size"], "1024x1024");
    assert_eq!(body["n"], 1);
    if prompt.contains("notimage") {
        return Json(json!({"data": [{"b64_json": base64::engine::general_purpose::STANDARD.encode(b"{\"json\": true}")}]})).into_response();
    }
    match body["model"].as_str() {
        Some(model) if model.starts_with("gpt-image-") => {
            Json(json!({"data": [{"b64_json": b64_png()}]})).into_response()
        }
        _ => {
            let base = stub.base.lock().unwrap().clone();
            Json(json!({"data": [{"url": format!("{base}/files/image.png")}]})).into_response()
        }
    }
}

async fn file() -> Vec<u8> {
    png()
}

async fn google(
    State(stub): State<Stub>,
    Path(action): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !key_ok(&stub, &headers, "x-goog-api-key") {
        return unauthorized();
    }
    if let Some(model) = action.strip_suffix(":generateContent") {
        assert!(model.starts_with("gemini"));
        let prompt = body
            .pointer("/contents/0/parts/0/text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let refusal = Json(json!({"promptFeedback": {"blockReason": "SAFETY"}})).into_response();
        if prompt.contains("badkey") {
            // What the Gemini API answers a key it does not know.
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]}})),
            )
                .into_response();
        }
        for (word, reason) in [
            ("noimage", "NO_IMAGE"),
            ("imageprohibited", "IMAGE_PROHIBITED_CONTENT"),
            ("imagerecitation", "IMAGE_RECITATION"),
            ("imageother", "IMAGE_OTHER"),
        ] {
            if prompt.contains(word) {
                return Json(json!({"candidates": [{"content": {"parts": [{"text": "I can't make that image."}]}, "finishReason": reason, "finishMessage": "Unable to show the generated image."}]})).into_response();
            }
        }
        if let Some(r) = failure(&stub, prompt, refusal).await {
            return r;
        }
        if body.get("systemInstruction").is_some() {
            return Json(json!({"candidates": [{"content": {"parts": [{"text": "\"A fox, golden hour\""}]}}]})).into_response();
        }
        assert_eq!(
            body["generationConfig"]["responseModalities"],
            json!(["TEXT", "IMAGE"])
        );
        // Thinking image models send interim thought images before the final one.
        return Json(json!({"candidates": [{"content": {"parts": [
            {"text": "Planning the composition", "thought": true},
            {"inlineData": {"mimeType": "image/png", "data": b64_draft()}, "thought": true},
            {"text": "Here is your image"},
            {"inlineData": {"mimeType": "image/png", "data": b64_png()}}
        ]}, "finishReason": "STOP"}]}))
        .into_response();
    }
    if let Some(model) = action.strip_suffix(":predict") {
        assert!(model.starts_with("imagen-"), "{model}");
        let prompt = body
            .pointer("/instances/0/prompt")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(r) = failure(&stub, prompt, Json(json!({})).into_response()).await {
            return r;
        }
        assert_eq!(body["parameters"]["sampleCount"], 1);
        return Json(
            json!({"predictions": [{"bytesBase64Encoded": b64_png(), "mimeType": "image/png"}]}),
        )
        .into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

async fn bfl_submit(
    State(stub): State<Stub>,
    Path(model): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !key_ok(&stub, &headers, "x-key") {
        return unauthorized();
    }
    assert!(model.starts_with("flux-2-"), "{model}");
    let prompt = body["prompt"].as_str().unwrap_or_default();
    let moderated = prompt.contains("refuse");
    if !moderated && let Some(r) = failure(&stub, prompt, StatusCode::OK.into_response()).await {
        return r;
    }
    assert_eq!(body["width"], 1024);
    let id = if moderated {
        "moderated".to_owned()
    } else {
        format!("task-{}", fastrand::u32(..))
    };
    stub.polls.lock().unwrap().insert(id.clone(), 0);
    let base = stub.base.lock().unwrap().clone();
    Json(json!({"id": id, "polling_url": format!("{base}/v1/get_result?id={id}")})).into_response()
}

async fn bfl_result(
    State(stub): State<Stub>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !key_ok(&stub, &headers, "x-key") {
        return unauthorized();
    }
    let id = query.get("id").cloned().unwrap_or_default();
    if id == "moderated" {
        return Json(json!({"id": id, "status": "Content Moderated"})).into_response();
    }
    let polls = {
        let mut map = stub.polls.lock().unwrap();
        let count = map.entry(id.clone()).or_default();
        *count += 1;
        *count
    };
    // BFL may add statuses; one the client does not know means "still running".
    match polls {
        1 => return Json(json!({"id": id, "status": "Pending"})).into_response(),
        2 => {
            return Json(json!({"id": id, "status": "Upsampling", "progress": 0.8}))
                .into_response();
        }
        _ => {}
    }
    let base = stub.base.lock().unwrap().clone();
    Json(json!({"id": id, "status": "Ready", "result": {"sample": format!("{base}/files/sample.png")}})).into_response()
}

fn multipart_field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"\r\n\r\n");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find("\r\n--")? + start;
    Some(body[start..end].to_owned())
}

async fn stability(State(stub): State<Stub>, headers: HeaderMap, body: Bytes) -> Response {
    if !key_ok(&stub, &headers, "authorization") {
        return unauthorized();
    }
    assert_eq!(headers["accept"], "image/*");
    let body = String::from_utf8_lossy(&body).into_owned();
    let prompt = multipart_field(&body, "prompt").unwrap_or_default();
    assert_eq!(
        multipart_field(&body, "output_format").as_deref(),
        Some("png")
    );
    assert_eq!(
        multipart_field(&body, "aspect_ratio").as_deref(),
        Some("1:1")
    );
    assert_eq!(
        multipart_field(&body, "model").as_deref(),
        Some("sd3.5-large-turbo")
    );
    let refusal = (StatusCode::FORBIDDEN, Json(json!({"name": "content_moderation", "errors": ["Your request was flagged by our content moderation system"]}))).into_response();
    if let Some(r) = failure(&stub, &prompt, refusal).await {
        return r;
    }
    if prompt.contains("filtered") {
        // The output filter caught it: 200, a blurred image, and the header says so.
        return (
            [
                ("content-type", "image/png"),
                ("finish-reason", "CONTENT_FILTERED"),
            ],
            png(),
        )
            .into_response();
    }
    (
        [("content-type", "image/png"), ("finish-reason", "SUCCESS")],
        png(),
    )
        .into_response()
}

async fn bedrock(Path(model): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(auth.starts_with("AWS4-HMAC-SHA256"), "unsigned request");
    let model = model.replace("%3A", ":");
    let region = if model.starts_with("amazon.nova") {
        "us-east-1"
    } else {
        "us-west-2"
    };
    assert!(
        auth.contains(&format!("/{region}/bedrock/aws4_request")),
        "{model} signed for the wrong region: {auth}"
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    let prompt = body
        .pointer("/textToImageParams/text")
        .or_else(|| body.get("prompt"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let error = |status: StatusCode, kind: &str, message: &str| {
        (
            status,
            [("x-amzn-errortype", kind.to_owned())],
            Json(json!({"message": message})),
        )
            .into_response()
    };
    if model.starts_with("stability.stable-image") && body.get("mode").is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Malformed input request: #: extraneous key [mode] is not permitted, please reformat your input and try again.",
        );
    }
    match prompt {
        p if p.contains("marketplace") => error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "Model access is denied due to IAM user or service role is not authorized to perform the required AWS Marketplace actions (aws-marketplace:ViewSubscriptions, aws-marketplace:Subscribe) to enable access to this model.",
        ),
        p if p.contains("unauthorized") => error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "You don't have access to the model",
        ),
        p if p.contains("ratelimit") => error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests",
        ),
        p if p.contains("refuse") => error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "This request has been blocked by our content filters.",
        ),
        p if p.contains("garbage") => Json(json!({"artifacts": []})).into_response(),
        _ => Json(json!({"images": [b64_png()]})).into_response(),
    }
}

async fn openai_chat(
    State(stub): State<Stub>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !key_ok(&stub, &headers, "authorization") {
        return unauthorized();
    }
    let prompt = body
        .pointer("/messages/1/content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(r) = failure(&stub, prompt, StatusCode::BAD_REQUEST.into_response()).await {
        return r;
    }
    // Reasoning models (everything after gpt-4.1) reject max_tokens and a temperature
    // other than the default, as OpenAI's API does.
    let model = body["model"].as_str().unwrap_or_default();
    if !model.starts_with("gpt-4") {
        let unsupported = |message: &str, param: &str, code: &str| {
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})),
            )
                .into_response()
        };
        if body.get("max_tokens").is_some() {
            return unsupported(
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            );
        }
        if body
            .get("temperature")
            .is_some_and(|t| t.as_f64() != Some(1.0))
        {
            return unsupported(
                "Unsupported value: 'temperature' does not support 0.7 with this model. Only the default (1) value is supported.",
                "temperature",
                "unsupported_value",
            );
        }
    }
    Json(json!({"choices": [{"message": {"role": "assistant", "content": format!("{prompt}, cinematic lighting")}}]})).into_response()
}

async fn start_stub() -> (String, Stub) {
    let stub = Stub::default();
    let router = Router::new()
        .route("/v1/images/generations", post(openai_images))
        .route("/v1/chat/completions", post(openai_chat))
        .route("/files/{name}", get(file))
        .route("/v1beta/models/{action}", post(google))
        .route("/v1/get_result", get(bfl_result))
        .route("/v1/{model}", post(bfl_submit))
        .route("/v2beta/stable-image/generate/sd3", post(stability))
        .route("/model/{model}/invoke", post(bedrock))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    stub.base.lock().unwrap().clone_from(&base);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, stub)
}

fn test_sdk_config() -> aws_config::SdkConfig {
    use aws_sdk_bedrockruntime::config::{Credentials, SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

fn generator(base: &str, models: Vec<ModelSpec>, timeout: Duration) -> Generator {
    let mut http = ProviderHttp::new(Duration::from_secs(2));
    http.poll_interval = Duration::from_millis(10);
    let base_urls = ProviderKind::ALL
        .iter()
        .map(|p| (*p, base.to_owned()))
        .collect();
    let keys = ProviderKind::ALL
        .iter()
        .map(|p| (*p, ApiKey::new(KEY)))
        .collect();
    Generator {
        models,
        backend: Backend::Real(Box::new(RealProviders {
            http,
            base_urls,
            keys: Arc::new(KeyResolver::with_keys(keys)),
            bedrock: BedrockClients::new(Some(test_sdk_config()), Some(base.to_owned())),
        })),
        model_timeout: timeout,
    }
}

fn all_models() -> Vec<ModelSpec> {
    [
        ("GPT Image", ProviderKind::Openai, "gpt-image-2.6-sunburst"),
        ("Gemini", ProviderKind::Gemini, "gemini-3.1-flash-image"),
        ("Gemini Pro", ProviderKind::Gemini, "gemini-3-pro-image"),
        // Google shut Imagen down; the client stays for environments that still name it.
        ("Imagen", ProviderKind::Imagen, "imagen-4.0-generate-001"),
        ("Flux Pro", ProviderKind::Bfl, "flux-2-pro"),
        ("Recraft", ProviderKind::Recraft, "recraftv4_1"),
        ("SD3.5 Turbo", ProviderKind::Stability, "sd3.5-large-turbo"),
        (
            "Stable Image Ultra",
            ProviderKind::Bedrock,
            "stability.stable-image-ultra-v1:1",
        ),
        (
            "SD 3.5",
            ProviderKind::Bedrock,
            "stability.sd3-5-large-v1:0",
        ),
    ]
    .into_iter()
    .map(|(name, provider, model)| ModelSpec {
        name: name.into(),
        provider,
        model: model.into(),
    })
    .collect()
}

async fn run_all(prompt: &str) -> Vec<(String, Result<Vec<u8>, ProviderError>)> {
    let (base, _stub) = start_stub().await;
    let models = all_models();
    let generator = generator(&base, models.clone(), Duration::from_secs(3));
    let mut out = Vec::new();
    for (i, model) in models.iter().enumerate() {
        let result = generator
            .generate(i, prompt, GenerationParams::default())
            .await
            .map(|g| g.bytes);
        out.push((model.name.clone(), result));
    }
    out
}

#[tokio::test]
async fn every_provider_returns_a_png_on_success() {
    let (base, stub) = start_stub().await;
    let models = all_models();
    let generator = generator(&base, models.clone(), Duration::from_secs(5));
    for (i, model) in models.iter().enumerate() {
        let image = generator
            .generate(i, "a red fox", GenerationParams::default())
            .await;
        let bytes = image
            .unwrap_or_else(|e| panic!("{}: {e}", model.name))
            .bytes;
        assert_eq!(
            image::detect(&bytes),
            Some(image::ImageFormat::Png),
            "{}",
            model.name
        );
    }
    // BFL was polled until Ready: `Pending`, then `Upsampling`, a status the client
    // does not know, which means "still running", then `Ready`.
    assert!(stub.polls.lock().unwrap().values().any(|n| *n == 3));
    // Every HTTP provider got the key in its own header.
    assert!(
        stub.seen_keys
            .lock()
            .unwrap()
            .iter()
            .all(|k| k.ends_with(KEY))
    );
}

#[tokio::test]
async fn unauthorized_maps_to_a_key_error() {
    for (model, result) in run_all("unauthorized").await {
        match result {
            Err(ProviderError::Unauthorized(401 | 403)) => {}
            other => panic!("{model}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn rate_limited_maps_to_429_message() {
    for (model, result) in run_all("ratelimit").await {
        assert_eq!(result.err(), Some(ProviderError::RateLimited), "{model}");
    }
}

#[tokio::test]
async fn refused_content_is_reported_per_model() {
    for (model, result) in run_all("refuse this").await {
        assert!(
            matches!(result, Err(ProviderError::ContentRefused(_))),
            "{model}: {result:?}"
        );
    }
}

#[tokio::test]
async fn garbage_answers_are_malformed() {
    for (model, result) in run_all("garbage").await {
        assert!(
            matches!(result, Err(ProviderError::Malformed(_))),
            "{model}: {result:?}"
        );
        let message = result.unwrap_err().to_string();
        assert!(!message.contains(KEY), "{model}: key in {message}");
    }
}

#[tokio::test]
async fn per_model_timeout_stops_a_slow_provider() {
    // The stub holds every "slow" request and is never let go: only the timeout
    // can end these calls.
    let (base, _stub) = start_stub().await;
    let models = all_models();
    let generator = generator(&base, models.clone(), Duration::from_millis(300));
    for (i, model) in models
        .iter()
        .enumerate()
        .filter(|(_, m)| m.provider != ProviderKind::Bedrock)
    {
        let result = generator
            .generate(i, "slow fox", GenerationParams::default())
            .await;
        assert_eq!(
            result.err(),
            Some(ProviderError::Timeout(Duration::from_millis(300))),
            "{}",
            model.name
        );
    }
    assert_eq!(
        ProviderError::Timeout(Duration::from_millis(300)).to_string(),
        "timed out after 0.3 s"
    );
}

#[tokio::test]
async fn request_timeout_of_the_http_client_is_reported() {
    let (base, _stub) = start_stub().await;
    let mut g = generator(&base, all_models(), Duration::from_secs(10));
    if let Backend::Real(real) = &mut g.backend {
        real.http.request_timeout = Duration::from_millis(200);
    }
    let result = g.generate(0, "slow fox", GenerationParams::default()).await;
    assert_eq!(result.err(), Some(ProviderError::NoAnswer));
}

#[tokio::test]
async fn unreachable_provider_is_a_network_error() {
    let g = generator("http://127.0.0.1:9", all_models(), Duration::from_secs(5));
    let result = g.generate(0, "a fox", GenerationParams::default()).await;
    assert!(
        matches!(result, Err(ProviderError::Network(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn missing_key_names_the_provider_not_a_value() {
    let (base, _stub) = start_stub().await;
    let mut g = generator(&base, all_models(), Duration::from_secs(5));
    if let Backend::Real(real) = &mut g.backend {
        real.keys = Arc::new(KeyResolver::new(std::collections::BTreeMap::new(), None));
    }
    let err = g
        .generate(0, "a fox", GenerationParams::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no API key: no key location configured for `openai` in PROVIDER_KEYS"
    );
}

#[tokio::test]
async fn enhancer_openai_and_gemini_chat() {
    use pixel_prompt_api::config::EnhanceSpec;
    use pixel_prompt_api::enhance::Enhancer;
    let (base, _stub) = start_stub().await;
    for (provider, model) in [
        // A reasoning model: refuses max_tokens and a non-default temperature.
        (ProviderKind::Openai, "gpt-6-luna"),
        (ProviderKind::Openai, "gpt-4o-mini"),
        (ProviderKind::Gemini, "gemini-3.5-flash"),
    ] {
        let enhancer = Enhancer::Chat {
            spec: EnhanceSpec {
                provider,
                model: model.into(),
            },
            http: ProviderHttp::new(Duration::from_secs(2)),
            base_urls: [(provider, base.clone())].into(),
            keys: Arc::new(KeyResolver::with_keys(
                [(provider, ApiKey::new(KEY))].into(),
            )),
        };
        let result = enhancer.enhance("a fox").await;
        assert!(!result.fallback, "{provider} {model}");
        assert!(
            result.enhanced.len() > "a fox".len(),
            "{provider}: {}",
            result.enhanced
        );
        assert!(!result.enhanced.starts_with('"'));
        let failed = enhancer.enhance("unauthorized fox").await;
        assert!(failed.fallback);
        assert_eq!(failed.enhanced, "unauthorized fox");
    }
}

/// Generates with the one model named `name` of `all_models`.
async fn generate_one(name: &str, prompt: &str) -> Result<Vec<u8>, ProviderError> {
    let (base, _stub) = start_stub().await;
    let g = generator(&base, pick(&[name]), Duration::from_secs(5));
    g.generate(0, prompt, GenerationParams::default())
        .await
        .map(|generated| generated.bytes)
}

#[tokio::test]
async fn gemini_returns_the_final_image_not_a_thought_image() {
    for name in ["Gemini", "Gemini Pro"] {
        let bytes = generate_one(name, "a red fox").await.unwrap();
        assert_eq!(bytes, png(), "{name} returned an interim thought image");
        assert_ne!(bytes, draft_png());
    }
}

#[tokio::test]
async fn gemini_image_refusal_reasons_are_refusals() {
    for (prompt, reason) in [
        ("noimage fox", "NO_IMAGE"),
        ("imageprohibited fox", "IMAGE_PROHIBITED_CONTENT"),
        ("imagerecitation fox", "IMAGE_RECITATION"),
        ("imageother fox", "IMAGE_OTHER"),
    ] {
        match generate_one("Gemini", prompt).await {
            Err(ProviderError::ContentRefused(message)) => {
                assert!(message.contains(reason), "{message}");
            }
            other => panic!("{prompt}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_bad_gemini_key_is_a_key_problem() {
    let result = generate_one("Gemini", "badkey fox").await;
    assert_eq!(result.err(), Some(ProviderError::Unauthorized(400)));
    assert_eq!(
        ProviderError::Unauthorized(400).to_string(),
        "provider rejected the API key or access (HTTP 400)"
    );
}

#[tokio::test]
async fn a_stability_image_its_filter_blurred_is_a_refusal() {
    let result = generate_one("SD3.5 Turbo", "filtered fox").await;
    assert!(
        matches!(&result, Err(ProviderError::ContentRefused(m)) if m.contains("CONTENT_FILTERED")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_third_party_bedrock_model_without_marketplace_rights_says_so() {
    let result = generate_one("Stable Image Ultra", "marketplace fox").await;
    match result {
        Err(ProviderError::AccessDenied(message)) => {
            assert!(message.contains("aws-marketplace:Subscribe"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

mod common;

/// Runs one job through the router with real provider clients against the stub.
async fn run_job(generator: Generator, prompt: &str) -> (Value, tempfile::TempDir) {
    use pixel_prompt_api::enhance::Enhancer;
    let dir = tempfile::tempdir().unwrap();
    let state =
        pixel_prompt_api::AppState::new(common::parts(dir.path(), generator, Enhancer::Disabled));
    let body = json!({"prompt": prompt}).to_string();
    let answer =
        common::json(common::call(&state, common::post("/generate", &body, common::ip(1))).await)
            .await;
    let job = common::wait_for_job(&state, answer["jobId"].as_str().unwrap()).await;
    (job, dir)
}

fn pick(names: &[&str]) -> Vec<ModelSpec> {
    all_models()
        .into_iter()
        .filter(|m| names.contains(&m.name.as_str()))
        .collect()
}

#[tokio::test]
async fn job_with_every_model_succeeding_is_completed() {
    let (base, _stub) = start_stub().await;
    let (job, dir) = run_job(
        generator(&base, all_models(), Duration::from_secs(5)),
        "a fox",
    )
    .await;
    assert_eq!(job["status"], "completed", "{job:#}");
    assert_eq!(job["completedModels"], 9);
    for result in job["results"].as_array().unwrap() {
        let key = result["imageUrl"]
            .as_str()
            .unwrap()
            .strip_prefix("https://cdn.example.test/")
            .unwrap();
        let bytes = std::fs::read(dir.path().join(key)).unwrap();
        assert_eq!(image::detect(&bytes), Some(image::ImageFormat::Png));
        assert!(result.get("fake").is_none());
    }
}

#[tokio::test]
async fn job_with_some_models_failing_is_partial() {
    let (base, _stub) = start_stub().await;
    let mut g = generator(
        &base,
        pick(&["Recraft", "SD3.5 Turbo", "GPT Image"]),
        Duration::from_secs(5),
    );
    if let Backend::Real(real) = &mut g.backend {
        real.base_urls
            .insert(ProviderKind::Stability, "http://127.0.0.1:9".into());
    }
    let (job, _dir) = run_job(g, "a fox").await;
    assert_eq!(job["status"], "partial", "{job:#}");
    let statuses: Vec<&str> = job["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["completed", "completed", "error"]);
    assert!(
        job["results"][2]["error"]
            .as_str()
            .unwrap()
            .starts_with("could not reach the provider")
    );
    assert!(job["results"][2].get("imageUrl").is_none());
}

#[tokio::test]
async fn job_with_every_model_failing_is_failed() {
    let (base, _stub) = start_stub().await;
    let (job, _dir) = run_job(
        generator(
            &base,
            pick(&["GPT Image", "Gemini", "Flux Pro"]),
            Duration::from_secs(5),
        ),
        "unauthorized fox",
    )
    .await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["completedModels"], 3);
    for result in job["results"].as_array().unwrap() {
        assert_eq!(
            result["error"],
            "provider rejected the API key or access (HTTP 401)"
        );
        assert!(result["completedAt"].is_string() && result["startedAt"].is_string());
    }
    assert!(!job.to_string().contains(KEY));
}

#[tokio::test]
async fn data_that_is_not_an_image_is_not_stored() {
    let (base, _stub) = start_stub().await;
    let (job, dir) = run_job(
        generator(&base, pick(&["GPT Image"]), Duration::from_secs(5)),
        "notimage fox",
    )
    .await;
    assert_eq!(job["status"], "failed");
    assert_eq!(
        job["results"][0]["error"],
        "provider returned data that is not a PNG, JPEG or WebP image"
    );
    assert!(!dir.path().join("images").exists());
}

#[tokio::test]
async fn progress_is_visible_while_a_model_runs() {
    use pixel_prompt_api::enhance::Enhancer;
    let (base, stub) = start_stub().await;
    let dir = tempfile::tempdir().unwrap();
    // A timeout far beyond the test: the models end when the stub lets them go.
    let g = generator(
        &base,
        pick(&["GPT Image", "Imagen"]),
        Duration::from_mins(1),
    );
    let state = pixel_prompt_api::AppState::new(common::parts(dir.path(), g, Enhancer::Disabled));
    let answer = common::json(
        common::call(
            &state,
            common::post("/generate", r#"{"prompt":"slow fox"}"#, common::ip(1)),
        )
        .await,
    )
    .await;
    let job_id = answer["jobId"].as_str().unwrap();
    stub.slow.until_waiting(2).await;
    let running =
        common::json(common::call(&state, common::get(&format!("/status/{job_id}"))).await).await;
    assert_eq!(running["status"], "in_progress", "{running:#}");
    assert_eq!(running["completedModels"], 0, "{running:#}");
    for result in running["results"].as_array().unwrap() {
        assert_eq!(result["status"], "in_progress", "{running:#}");
        assert!(result["startedAt"].is_string(), "{running:#}");
        assert!(result.get("completedAt").is_none(), "{running:#}");
    }
    stub.slow.release();
    let done = common::wait_for_job(&state, job_id).await;
    assert_eq!(done["status"], "completed", "{done:#}");
    assert_eq!(done["completedModels"], 2);
}

#[tokio::test]
async fn a_model_that_never_answers_times_out_in_the_job() {
    // The stub holds the "slow" request and is never let go.
    let (base, _stub) = start_stub().await;
    let (job, _dir) = run_job(
        generator(&base, pick(&["GPT Image"]), Duration::from_millis(300)),
        "slow fox",
    )
    .await;
    assert_eq!(job["status"], "failed", "{job:#}");
    assert_eq!(job["results"][0]["error"], "timed out after 0.3 s");
    assert!(job["results"][0]["completedAt"].is_string());
}
