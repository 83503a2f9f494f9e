//! The real provider clients against the fake providers of `tools/local-aws` (each
//! provider's documented wire format, `fake_providers_main.py`) and Bedrock against the
//! local AWS: proves the clients and the fakes agree, including on errors and refusals.
//! Needs the repository's Python venv (`tools/local-aws/setup.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the message

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use pixel_prompt_api::config::{EnhanceSpec, ModelSpec, ProviderKind, parse_base_urls};
use pixel_prompt_api::enhance::Enhancer;
use pixel_prompt_api::image;
use pixel_prompt_api::providers::bedrock::BedrockClients;
use pixel_prompt_api::providers::{Backend, Generator, ProviderError, ProviderHttp, RealProviders};
use pixel_prompt_api::secrets::{ApiKey, KeyResolver};
use pixel_prompt_api::validation::GenerationParams;
use serde_json::{Value, json};

const KEY: &str = "sk-fake-rust-key-5d81c2";

/// A Python server of `tools/local-aws`, killed when dropped.
struct Server {
    child: Child,
    /// The lines it printed once ready (`NAME=value`).
    lines: BTreeMap<String, String>,
}

impl Server {
    /// Starts `tools/local-aws/{script} --port 0` and reads its first `ready_lines` lines.
    fn start(script: &str, ready_lines: usize) -> Self {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let python: PathBuf = repo.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run tools/local-aws/setup.sh",
            python.display()
        );
        let mut child = Command::new(python)
            .arg(repo.join("tools/local-aws").join(script))
            .args(["--port", "0"])
            .current_dir(repo)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {script}: {e} (run tools/local-aws/setup.sh)"));
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut lines = BTreeMap::new();
        for _ in 0..ready_lines {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let (name, value) = line
                .trim()
                .split_once('=')
                .unwrap_or_else(|| panic!("{script} printed {line:?} instead of NAME=value"));
            lines.insert(name.to_owned(), value.to_owned());
        }
        Self { child, lines }
    }

    fn line(&self, name: &str) -> &str {
        &self.lines[name]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake providers, and the local AWS for Bedrock.
struct Fakes {
    providers: Server,
    aws: Option<Server>,
}

impl Fakes {
    fn start(with_bedrock: bool) -> Self {
        Self {
            providers: Server::start("fake_providers_main.py", 1),
            aws: with_bedrock.then(|| Server::start("local_aws.py", 1)),
        }
    }

    fn base_urls(&self) -> BTreeMap<ProviderKind, String> {
        parse_base_urls(self.providers.line("FAKE_PROVIDERS_BASE_URLS")).unwrap()
    }

    fn aws_endpoint(&self) -> &str {
        self.aws.as_ref().unwrap().line("LOCAL_AWS_ENDPOINT")
    }

    /// The fake providers' control origin, `http://127.0.0.1:PORT`.
    fn origin(&self) -> String {
        let openai = &self.base_urls()[&ProviderKind::Openai];
        openai.strip_suffix("/openai").unwrap().to_owned()
    }

    /// Arms a control where the provider is served: Bedrock on the local AWS
    /// (`/_local-aws/providers/...`), the others on the fake providers (`/_fake/...`).
    async fn control(&self, name: &str, body: Value) {
        let url = if body["provider"] == "bedrock" {
            format!("{}/_local-aws/providers/{name}", self.aws_endpoint())
        } else {
            format!("{}/_fake/{name}", self.origin())
        };
        post_control(&url, &body).await;
    }

    /// Clears every control on both servers.
    async fn reset(&self) {
        post_control(&format!("{}/_fake/reset", self.origin()), &json!({})).await;
        if self.aws.is_some() {
            let url = format!("{}/_local-aws/providers/reset", self.aws_endpoint());
            post_control(&url, &json!({})).await;
        }
    }

    async fn requests(&self) -> Vec<Value> {
        let log: Value = reqwest::get(format!("{}/_fake/requests", self.origin()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["requests"].as_array().unwrap().clone()
    }

    fn generator(&self, models: Vec<ModelSpec>, key: &str) -> Generator {
        let mut http = ProviderHttp::new(Duration::from_secs(5));
        http.poll_interval = Duration::from_millis(10);
        let keys = ProviderKind::ALL
            .iter()
            .map(|p| (*p, ApiKey::new(key)))
            .collect();
        let bedrock = match &self.aws {
            Some(aws) => BedrockClients::new(
                Some(sdk_config()),
                Some(aws.line("LOCAL_AWS_ENDPOINT").to_owned()),
            ),
            None => BedrockClients::new(None, None),
        };
        Generator {
            models,
            backend: Backend::Real(Box::new(RealProviders {
                http,
                base_urls: self.base_urls(),
                keys: Arc::new(KeyResolver::with_keys(keys)),
                bedrock,
            })),
            model_timeout: Duration::from_secs(10),
        }
    }
}

async fn post_control(url: &str, body: &Value) {
    let status = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{url} {body}: {status}");
}

fn sdk_config() -> aws_config::SdkConfig {
    use aws_sdk_bedrockruntime::config::{Credentials, SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}

/// Every provider kind's models, as an environment file would list them (Imagen is shut
/// down: the fake answers it 404, like Google).
fn all_models() -> Vec<ModelSpec> {
    [
        ("GPT Image", ProviderKind::Openai, "gpt-image-2.6-sunburst"),
        (
            "Gemini Flash",
            ProviderKind::Gemini,
            "gemini-3.1-flash-image",
        ),
        ("Gemini Pro", ProviderKind::Gemini, "gemini-3-pro-image"),
        ("Flux Pro", ProviderKind::Bfl, "flux-2-pro"),
        ("Flux Flex", ProviderKind::Bfl, "flux-2-flex"),
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

async fn generate_all(
    generator: &Generator,
    prompt: &str,
) -> Vec<(ModelSpec, Result<Vec<u8>, ProviderError>)> {
    let mut results = Vec::new();
    for (i, model) in generator.models.iter().enumerate() {
        let result = generator
            .generate(i, prompt, GenerationParams::default())
            .await
            .map(|image| image.bytes);
        results.push((model.clone(), result));
    }
    results
}

#[tokio::test]
async fn every_provider_returns_a_real_image() {
    let fakes = Fakes::start(true);
    let generator = fakes.generator(all_models(), KEY);
    let mut images = Vec::new();
    for (model, result) in generate_all(&generator, "a red fox at dawn").await {
        let bytes = result.unwrap_or_else(|e| panic!("{}: {e}", model.name));
        assert_eq!(
            image::detect(&bytes),
            Some(image::ImageFormat::Png),
            "{}",
            model.name
        );
        // IHDR: the fakes' 64x64 pictures, not a stub's bytes (nor Gemini's 32x32 thought images).
        assert_eq!(
            &bytes[12..24],
            b"IHDR\0\0\0\x40\0\0\0\x40",
            "{}",
            model.name
        );
        images.push(bytes);
    }
    images.sort();
    images.dedup();
    assert_eq!(
        images.len(),
        all_models().len(),
        "each model drew its own image"
    );

    let requests = fakes.requests().await;
    assert!(
        requests
            .iter()
            .all(|r| r["key_present"] == true && r["status"] == 200)
    );
    assert!(!Value::Array(requests.clone()).to_string().contains(KEY));
    let polls = requests
        .iter()
        .filter(|r| r["path"] == "/bfl/v1/get_result")
        .count();
    assert_eq!(
        polls, 4,
        "BFL is polled until Ready: Pending, then Ready, for each of two models"
    );
}

#[tokio::test]
async fn enhance_returns_a_longer_prompt() {
    let fakes = Fakes::start(false);
    for (provider, model) in [
        // A reasoning model: the fake refuses max_tokens and a temperature, as OpenAI does.
        (ProviderKind::Openai, "gpt-6-luna"),
        (ProviderKind::Openai, "gpt-4o-mini"),
        (ProviderKind::Gemini, "gemini-3.5-flash"),
    ] {
        let enhancer = Enhancer::Chat {
            spec: EnhanceSpec {
                provider,
                model: model.into(),
            },
            http: ProviderHttp::new(Duration::from_secs(5)),
            base_urls: fakes.base_urls(),
            keys: Arc::new(KeyResolver::with_keys(
                [(provider, ApiKey::new(KEY))].into(),
            )),
        };
        let result = enhancer.enhance("a fox").await;
        assert!(!result.fallback, "{provider}: {result:?}");
        assert!(
            result.enhanced.starts_with("a fox, ") && result.enhanced.len() > "a fox".len(),
            "{provider}: {}",
            result.enhanced
        );
        fakes
            .control("refuse", json!({"provider": provider.as_str(), "times": 1}))
            .await;
        let refused = enhancer.enhance("a fox").await;
        assert!(
            refused.fallback && refused.enhanced == "a fox",
            "{provider}"
        );
    }
}

#[tokio::test]
async fn provider_errors_reach_users_as_the_right_error() {
    let fakes = Fakes::start(true);
    let generator = fakes.generator(all_models(), KEY);
    let providers: Vec<&str> = ProviderKind::ALL.iter().map(|p| p.as_str()).collect();

    for provider in &providers {
        fakes.control("refuse", json!({"provider": provider})).await;
    }
    for (model, result) in generate_all(&generator, "a fox").await {
        assert!(
            matches!(result, Err(ProviderError::ContentRefused(_))),
            "{}: {result:?}",
            model.name
        );
    }

    fakes.reset().await;
    for provider in &providers {
        fakes
            .control("fail", json!({"provider": provider, "status": 429}))
            .await;
    }
    for (model, result) in generate_all(&generator, "a fox").await {
        assert_eq!(
            result.err(),
            Some(ProviderError::RateLimited),
            "{}",
            model.name
        );
    }

    fakes.reset().await;
    for provider in &providers {
        fakes
            .control(
                "fail",
                json!({"provider": provider, "status": 503, "message": "overloaded, try later"}),
            )
            .await;
    }
    for (model, result) in generate_all(&generator, "a fox").await {
        match result {
            Err(ProviderError::Http {
                status: 503,
                message,
            }) => {
                assert!(message.contains("overloaded"), "{}: {message}", model.name);
            }
            other => panic!("{}: {other:?}", model.name),
        }
    }

    // An empty key reaches each HTTP provider as a missing one: its own 401 or 403.
    fakes.reset().await;
    let http_models: Vec<ModelSpec> = all_models()
        .into_iter()
        .filter(|m| m.provider != ProviderKind::Bedrock)
        .collect();
    let keyless = fakes.generator(http_models, "");
    for (model, result) in generate_all(&keyless, "a fox").await {
        assert!(
            matches!(result, Err(ProviderError::Unauthorized(401 | 403))),
            "{}: {result:?}",
            model.name
        );
    }
}

#[tokio::test]
async fn bad_keys_filtered_images_and_shut_down_models_are_reported_as_such() {
    let fakes = Fakes::start(false);
    let models: Vec<ModelSpec> = all_models()
        .into_iter()
        .filter(|m| m.provider != ProviderKind::Bedrock)
        .collect();
    let generator = fakes.generator(models, KEY);
    for provider in ["openai", "gemini", "bfl", "recraft", "stability"] {
        fakes
            .control("bad-key", json!({"provider": provider}))
            .await;
    }
    for (model, result) in generate_all(&generator, "a fox").await {
        // Gemini answers a bad key with 400 API_KEY_INVALID: still a key problem.
        assert!(
            matches!(result, Err(ProviderError::Unauthorized(400 | 401 | 403))),
            "{}: {result:?}",
            model.name
        );
    }

    fakes.reset().await;
    fakes
        .control("refuse", json!({"provider": "stability", "kind": "output"}))
        .await;
    fakes
        .control(
            "refuse",
            json!({"provider": "gemini", "kind": "output", "reason": "IMAGE_PROHIBITED_CONTENT"}),
        )
        .await;
    for (model, result) in generate_all(&generator, "a fox").await {
        match model.provider {
            ProviderKind::Stability | ProviderKind::Gemini => assert!(
                matches!(&result, Err(ProviderError::ContentRefused(m)) if m.contains("CONTENT_FILTERED") || m.contains("IMAGE_PROHIBITED_CONTENT")),
                "{}: {result:?}",
                model.name
            ),
            _ => assert!(result.is_ok(), "{}: {result:?}", model.name),
        }
    }

    fakes.reset().await;
    fakes
        .control(
            "models",
            json!({"provider": "openai", "model": "gpt-image-2.6-sunburst", "state": "retired"}),
        )
        .await;
    let results = generate_all(&generator, "a fox").await;
    match &results[0].1 {
        Err(ProviderError::Http {
            status: 404,
            message,
        }) => assert!(message.contains("deprecated"), "{message}"),
        other => panic!("{other:?}"),
    }
}
