//! "Deployed" means "serving users": pixelctl deploys the real API (the
//! workspace's debug `bootstrap`) to the local AWS, which runs it, and these
//! tests use the app through the deployed HTTP API and CloudFront exactly as a
//! browser would, with the fake providers standing in for the AI APIs.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{LocalAws, Project, block_on};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// The API's real Lambda binary, as the workspace built it for these tests.
fn real_bootstrap() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/deployed-<hash> -> target/<profile>/bootstrap
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("bootstrap"))
        .unwrap();
    assert!(
        path.exists(),
        "{} is missing: build the API first with `cargo build -p pixel-prompt-api --bin bootstrap` (tools/test-all does)",
        path.display()
    );
    path
}

fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    test_support::hex(&Sha256::digest(&bytes))
}

/// The dev environment deployed with the real API, its provider keys stored
/// (dummy values: the fake providers only check one is sent).
struct Deployed {
    aws: LocalAws,
    project: Project,
    api: String,
}

impl Deployed {
    fn start() -> Self {
        // Dummy keys where the environments say they live: the fake providers
        // only check that one is sent.
        Self::deploy_on(LocalAws::with_keys_and(&["--fake-providers"]), &[])
    }

    /// Deployed with only these provider keys stored (the deploy is told the
    /// others are missing on purpose).
    fn start_with_keys(keys: &[&str]) -> Self {
        let aws = LocalAws::start_with(&["--fake-providers"]);
        for name in keys {
            aws.put_secure_string(&format!("/pixel-prompt/dev/{name}"), "sk-local-dummy-key");
        }
        Self::deploy_on(aws, &["--allow-missing-keys"])
    }

    fn deploy_on(aws: LocalAws, flags: &[&str]) -> Self {
        let deployed = Self {
            aws,
            project: Project::copy(),
            api: String::new(),
        };
        let mut flags = flags.to_vec();
        flags.push("--require-healthy");
        deployed
            .project
            .deploy_with(&deployed.aws, "dev", &real_bootstrap(), &flags, 0);
        let api = deployed.outputs()["served_locally"]["ApiEndpoint"]
            .as_str()
            .unwrap()
            .to_owned();
        Self { api, ..deployed }
    }

    fn deploy(&self, bootstrap: &Path, code: i32) -> Value {
        self.project
            .deploy_with(&self.aws, "dev", bootstrap, &["--require-healthy"], code)
            .json()
    }

    fn outputs(&self) -> Value {
        self.project
            .expect(&self.aws, &["outputs", "dev", "--format", "json"], 0)
            .json()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }
}

/// An HTTP client that connects `*.localhost` to 127.0.0.1 itself (as pixelctl
/// does), so nothing depends on the system resolver and nothing leaves the machine.
struct Http {
    client: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

impl Http {
    fn new() -> Self {
        struct Loopback;
        impl reqwest::dns::Resolve for Loopback {
            fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
                let host = name.as_str().to_ascii_lowercase();
                Box::pin(async move {
                    assert!(
                        host == "localhost" || host.ends_with(".localhost") || host == "127.0.0.1",
                        "tests only talk to this machine, not {host}"
                    );
                    let addresses: reqwest::dns::Addrs =
                        Box::new(vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))].into_iter());
                    Ok(addresses)
                })
            }
        }
        Self {
            client: reqwest::Client::builder()
                .dns_resolver(std::sync::Arc::new(Loopback))
                .timeout(Duration::from_mins(1))
                .build()
                .unwrap(),
        }
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let url_for_panic = url.to_owned();
        assert!(
            url.starts_with("http://") && url.contains(".localhost:"),
            "not a local URL: {url}"
        );
        let mut request = self.client.request(method.parse().unwrap(), url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        block_on(async move {
            let response = request
                .send()
                .await
                .unwrap_or_else(|error| panic!("{method} {url_for_panic}: {error}"));
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap().to_vec();
            Answer {
                status,
                headers,
                body,
            }
        })
    }

    fn get(&self, url: &str) -> Answer {
        self.send("GET", url, &[], None)
    }

    fn post(&self, url: &str, body: Value) -> Answer {
        self.send("POST", url, &[], Some(body))
    }
}

/// Polls the job until it is finished, as the web client does.
fn wait_for_job(http: &Http, deployed: &Deployed, job_id: &str) -> Value {
    test_support::poll::until(
        &format!("job {job_id} to finish"),
        Duration::from_secs(90),
        || {
            let status = http.get(&deployed.url(&format!("/status/{job_id}")));
            assert_eq!(
                status.status,
                200,
                "{}",
                String::from_utf8_lossy(&status.body)
            );
            let job = status.json();
            test_support::job_finished(job["status"].as_str().unwrap()).then_some(job)
        },
    )
}

#[test]
fn every_route_answers_through_the_deployed_api_and_images_load_through_cloudfront() {
    let deployed = Deployed::start();
    let http = Http::new();

    let health = http.get(&deployed.url("/health"));
    assert_eq!(health.status, 200);
    let health = health.json();
    assert_eq!(health["environment"], "dev");
    assert_eq!(health["models"], 3);
    assert_eq!(
        health["fakeProviders"], false,
        "the real providers' clients run"
    );
    assert_eq!(
        health["build"]["executableSha256"],
        sha256_file(&real_bootstrap()),
        "the deployed code is the code built"
    );

    // Generate: every model completes from the fake providers.
    let created = http.post(
        &deployed.url("/generate"),
        json!({"prompt": "a lighthouse at dawn", "steps": 20}),
    );
    assert_eq!(
        created.status,
        200,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let created = created.json();
    assert_eq!(created["totalModels"], 3);
    let job_id = created["jobId"].as_str().unwrap().to_owned();
    let job = wait_for_job(&http, &deployed, &job_id);
    assert_eq!(job["status"], "completed", "{job}");
    let results = job["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let cloudfront = deployed.outputs()["served_locally"]["CloudFrontDomain"]
        .as_str()
        .unwrap()
        .to_owned();
    for result in results {
        let url = result["imageUrl"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("http://{cloudfront}/images/{job_id}/")),
            "image URLs open on this machine: {url}"
        );
        let image = http.get(url);
        assert_eq!(image.status, 200, "{url}");
        assert_eq!(image.header("content-type"), "image/png", "{url}");
        assert!(image.body.starts_with(b"\x89PNG\r\n\x1a\n"), "{url}");
    }

    // The job's state and the rate-limit counters are never served: every path
    // outside images/* maps under site/ (the web app, not published in this
    // test), and the bucket policy grants CloudFront neither prefix.
    for private in [
        format!("http://{cloudfront}/jobs/{job_id}.json"),
        format!("http://{cloudfront}/ratelimit/"),
    ] {
        let answer = http.get(&private);
        assert_eq!(answer.status, 404, "{private}");
        let body = String::from_utf8_lossy(&answer.body);
        assert!(
            body.contains("<Code>NoSuchKey</Code>") && !body.contains("a lighthouse at dawn"),
            "{private}: {body}"
        );
    }

    // Gallery: the new generation is listed, and opens with its images.
    let list = http.get(&deployed.url("/gallery/list?limit=5"));
    assert_eq!(list.status, 200);
    let list = list.json();
    assert_eq!(list["galleries"][0]["id"], job_id.as_str(), "{list}");
    assert_eq!(list["galleries"][0]["imageCount"], 3);
    let gallery = http
        .get(&deployed.url(&format!("/gallery/{job_id}")))
        .json();
    assert_eq!(gallery["images"].as_array().unwrap().len(), 3, "{gallery}");

    // Enhance through the real chat client.
    let enhanced = http.post(&deployed.url("/enhance"), json!({"prompt": "a cat"}));
    assert_eq!(enhanced.status, 200);
    let enhanced = enhanced.json();
    assert_eq!(enhanced["original"], "a cat");
    assert!(enhanced.get("fallback").is_none(), "{enhanced}");
    assert!(enhanced["enhanced"].as_str().unwrap().len() > "a cat".len());

    // The contract's errors, with their status codes and shapes.
    let cases = [
        (
            "POST",
            "/generate",
            Some(json!({"prompt": "  "})),
            400,
            "PROMPT_REQUIRED",
        ),
        (
            "POST",
            "/generate",
            Some(json!({"prompt": "x".repeat(1001)})),
            400,
            "PROMPT_TOO_LONG",
        ),
        ("GET", "/status/no-such-job", None, 404, "JOB_NOT_FOUND"),
        ("GET", "/gallery/bad$id", None, 400, "INVALID_GALLERY_ID"),
    ];
    for (method, path, body, status, code) in cases {
        let answer = http.send(method, &deployed.url(path), &[], body);
        assert_eq!(answer.status, status, "{method} {path}");
        assert_eq!(answer.json()["error"], code, "{method} {path}");
    }
    let logged = http.post(
        &deployed.url("/log"),
        json!({"level": "error", "message": "from the test"}),
    );
    assert_eq!(logged.json(), json!({"success": true}));
    let unknown = http.get(&deployed.url("/nowhere"));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"], "Not found");

    // CORS as the gateway answers it for the page's origin.
    let preflight = http.send(
        "OPTIONS",
        &deployed.url("/generate"),
        &[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        None,
    );
    assert!(
        preflight.status < 300,
        "preflight answered {}",
        preflight.status
    );
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        "http://localhost:5173"
    );
    let foreign = http.send(
        "GET",
        &deployed.url("/gallery/list"),
        &[("origin", "https://evil.example")],
        None,
    );
    assert_eq!(foreign.header("access-control-allow-origin"), "");
}

#[test]
fn a_rollback_shows_in_behaviour_the_earlier_code_answers_again() {
    let deployed = Deployed::start();
    let http = Http::new();
    let first = real_bootstrap();
    // The same program with different bytes: a second release's code.
    let second = deployed.project.path("bootstrap-2");
    let mut bytes = std::fs::read(&first).unwrap();
    bytes.extend_from_slice(b"\0release two");
    std::fs::write(&second, bytes).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&second, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let build = || {
        http.get(&deployed.url("/health")).json()["build"]["executableSha256"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(build(), sha256_file(&first));
    deployed.deploy(&second, 0);
    assert_eq!(build(), sha256_file(&second), "the new code answers");

    deployed.project.expect(
        &deployed.aws,
        &["rollback", "dev", "--yes", "--require-healthy"],
        0,
    );
    assert_eq!(
        build(),
        sha256_file(&first),
        "the earlier code answers again"
    );
}

#[test]
fn a_function_that_crashes_at_start_fails_the_health_check() {
    let deployed = Deployed::start();
    // A bad configuration value: the API refuses to start without a valid
    // per-model timeout, as it would on Lambda.
    deployed.project.edit(
        "templates/pixel-prompt.yaml",
        "          IMAGES_BUCKET: !Ref ImagesBucket\n",
        "          IMAGES_BUCKET: !Ref ImagesBucket\n          MODEL_TIMEOUT_SECONDS: \"0\"\n",
    );
    let run = deployed.project.deploy_with(
        &deployed.aws,
        "dev",
        &real_bootstrap(),
        &["--require-healthy", "--health-timeout", "3"],
        1,
    );
    let report = run.json();
    assert_eq!(report["health"]["checked"], true);
    assert_eq!(report["health"]["healthy"], false);
    assert_eq!(report["health"]["status"], 500, "{report}");
    assert!(
        run.stderr.contains("did not pass its health check"),
        "{}",
        run.stderr
    );
}

/// Real-looking keys: the shapes OpenAI and Google issue.
const OPENAI_KEY: &str = "sk-proj-Tq7v9XbL2mN4pR8sK1wY6zA3cE5gH0jU";
const GOOGLE_KEY: &str = "AIzaSyD4f8Qm2Lx9Vn7Tb1Rk3Wp6Zc5Hs0Jy";

/// `pixelctl secrets set ENV PROVIDER` with the key piped on stdin, as CI does.
fn set_key(project: &Project, aws: &LocalAws, env: &str, provider: &str, key: &str) -> String {
    let output = project
        .pixelctl(aws)
        .args(["secrets", "set", env, provider])
        .write_stdin(format!("{key}\n"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap()
    )
}

/// The fake providers' request log (no key in it: only whether one was sent).
fn provider_requests(aws: &LocalAws) -> Vec<Value> {
    serde_json::from_str::<Value>(&aws.get("/_local-aws/providers/requests")).unwrap()["requests"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls a job through the deployed API until it is finished; with one Lambda
/// instance the gateway answers 500 while that instance is busy, so those are retried.
fn finished_job(http: &Http, api: &str, job_id: &str) -> Value {
    test_support::poll::until(
        &format!("job {job_id} to finish"),
        Duration::from_secs(90),
        || {
            let answer = http.get(&format!("{api}/status/{job_id}"));
            if answer.status != 200 {
                // One instance, busy: the gateway's 500; ask again.
                assert_eq!(
                    answer.status,
                    500,
                    "{}",
                    String::from_utf8_lossy(&answer.body)
                );
                return None;
            }
            let job = answer.json();
            test_support::job_finished(job["status"].as_str().unwrap()).then_some(job)
        },
    )
}

fn generate(http: &Http, api: &str, prompt: &str) -> Value {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "POST /generate never got an instance"
        );
        let created = http.post(&format!("{api}/generate"), json!({ "prompt": prompt }));
        if created.status == 200 {
            let job_id = created.json()["jobId"].as_str().unwrap().to_owned();
            return finished_job(http, api, &job_id);
        }
        // One instance, busy: the gateway's 500; try again.
        assert_eq!(
            created.status,
            500,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sha256_hex(text: &str) -> String {
    test_support::hex(&Sha256::digest(text.as_bytes()))
}

/// The JSON documents in a log group's events.
fn log_lines(aws: &LocalAws, group: &str) -> Vec<String> {
    let events = aws.aws_json(
        "logs",
        "Logs_20140328.FilterLogEvents",
        "1.1",
        &json!({"logGroupName": group}),
    );
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn no_key_shows_in_anything_a_run_produced_though_the_deployed_api_used_it() {
    let aws = LocalAws::start_with(&["--fake-providers"]);
    let project = Project::copy();
    project.git_init();
    let mut produced = String::new();
    produced.push_str(&set_key(&project, &aws, "dev", "openai", OPENAI_KEY));
    produced.push_str(&set_key(&project, &aws, "dev", "gemini", GOOGLE_KEY));
    let bootstrap = real_bootstrap();
    let artifact = bootstrap.to_str().unwrap();
    let mut run = |args: &[&str]| {
        let result = project.expect(&aws, args, 0);
        produced.push_str(&result.stdout);
        produced.push_str(&result.stderr);
        result
    };
    let report = run(&[
        "deploy",
        "dev",
        "--yes",
        "--artifact",
        artifact,
        "--require-healthy",
        "--output",
        "json",
    ])
    .json();
    let api = project
        .expect(&aws, &["outputs", "dev", "--format", "json"], 0)
        .json()["served_locally"]["ApiEndpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(report["outcome"], "created");
    run(&["deploy", "dev", "--yes", "--artifact", artifact]);

    // The deployed API reads the keys and sends them to the (fake) providers.
    let http = Http::new();
    let job = generate(&http, &api, "a lighthouse at dawn");
    assert_eq!(job["status"], "completed", "{job}");
    let enhanced = http.post(&format!("{api}/enhance"), json!({"prompt": "a cat"}));
    assert!(
        enhanced.json().get("fallback").is_none(),
        "{}",
        enhanced.json()
    );
    let sent: Vec<(String, bool)> = provider_requests(&aws)
        .iter()
        .map(|call| {
            (
                call["provider"].as_str().unwrap().to_owned(),
                call["key_present"].as_bool().unwrap(),
            )
        })
        .collect();
    for provider in ["openai", "gemini"] {
        assert!(
            sent.contains(&(provider.to_owned(), true)),
            "{provider} got its key: {sent:?}"
        );
    }

    let job_id = job["jobId"].as_str().unwrap();
    for args in [
        &["secrets", "list", "dev"][..],
        &["secrets", "list", "dev", "--output", "json"],
        &["status", "dev"],
        &["status", "dev", "--output", "json"],
        &["logs", "dev", "--since", "1h"],
        &["logs", "dev", "--since", "1h", "--output", "json"],
        &["history", "dev", "--output", "json"],
        &["outputs", "dev", "--format", "dotenv"],
        &["doctor", "dev"],
    ] {
        run(args);
    }
    // The deployed API's own log lines, readable, one generation's worth.
    let logs = run(&["logs", "dev", "--job", job_id]).stdout;
    assert!(logs.contains("INFO  job created"), "{logs}");
    assert_eq!(logs.matches("INFO  model completed").count(), 3, "{logs}");
    assert!(
        logs.contains("LAMBDA REPORT RequestId:"),
        "the worker's invocation: {logs}"
    );
    let all_logs = run(&["logs", "dev", "--since", "1h"]).stdout;
    assert!(
        all_logs.contains("provider key loaded")
            && all_logs.contains("location=ssm:/pixel-prompt/dev/openai-api-key"),
        "the key was read where the environment says: {all_logs}"
    );

    // Everything else a run left: files, the ledger and templates in S3, the
    // function's configuration, the stack, the raw log events, the providers' log.
    let mut files = vec![project.dir.path().to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            if path.ends_with(".git") {
                continue;
            }
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(text) = std::fs::read(&path) {
            produced.push_str(&String::from_utf8_lossy(&text));
        }
    }
    let config = aws.sdk_config();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let buckets = block_on(s3.list_buckets().send()).unwrap();
    for bucket in buckets.buckets() {
        let name = bucket.name().unwrap();
        let objects = block_on(s3.list_objects_v2().bucket(name).send()).unwrap();
        for object in objects.contents() {
            let key = object.key().unwrap();
            if Path::new(key)
                .extension()
                .is_some_and(|extension| extension == "png" || extension == "zip")
            {
                continue;
            }
            let body = block_on(async {
                s3.get_object()
                    .bucket(name)
                    .key(key)
                    .send()
                    .await
                    .unwrap()
                    .body
                    .collect()
                    .await
            })
            .unwrap()
            .into_bytes();
            produced.push_str(&String::from_utf8_lossy(&body));
        }
    }
    produced.push_str(&format!(
        "{:?}",
        common::function_configuration(&aws, "pixel-prompt-dev-api").environment()
    ));
    produced.push_str(&format!(
        "{:?}",
        block_on(
            aws.cloudformation()
                .describe_stacks()
                .stack_name("pixel-prompt-dev")
                .send()
        )
        .unwrap()
    ));
    let logs_client = aws_sdk_cloudwatchlogs::Client::new(&config);
    let events = block_on(
        logs_client
            .filter_log_events()
            .log_group_name("/aws/lambda/pixel-prompt-dev-api")
            .send(),
    )
    .unwrap();
    for event in events.events() {
        produced.push_str(event.message().unwrap_or_default());
    }
    assert!(
        events.events().len() > 10,
        "the scan sees the function's logs"
    );
    produced.push_str(&aws.get("/_local-aws/providers/requests"));
    assert!(produced.contains("job created") && produced.contains("ImagesBucket"));
    for key in [OPENAI_KEY, GOOGLE_KEY] {
        assert!(!produced.contains(key), "a key leaked");
    }
}

#[test]
fn a_failed_model_is_told_in_user_terms_detailed_in_the_log_and_counted() {
    // No OpenAI key stored: reading it fails with SSM's own error.
    let deployed = Deployed::start_with_keys(&["google-api-key"]);
    let http = Http::new();
    let created = http.send(
        "POST",
        &deployed.url("/generate"),
        &[("x-correlation-id", "hardening-check-1")],
        Some(json!({"prompt": "a lighthouse at dawn"})),
    );
    assert_eq!(created.status, 200);
    let job_id = created.json()["jobId"].as_str().unwrap().to_owned();
    let job = wait_for_job(&http, &deployed, &job_id);
    assert_eq!(job["status"], "partial", "{job}");
    let dalle = &job["results"][0];
    assert_eq!(dalle["error"], "the provider's API key could not be read");
    // What anyone holding the job id reads names no account, role, path or AWS error.
    let public = job.to_string();
    for private in [
        "ssm",
        "/pixel-prompt/dev",
        "ParameterNotFound",
        "123456789012",
        "arn:",
    ] {
        assert!(!public.contains(private), "`{private}` is public: {public}");
    }

    // The worker's log has the detail, with the job and correlation ids.
    let worker = deployed.outputs()["outputs"]["WorkerFunctionName"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines = log_lines(&deployed.aws, &format!("/aws/lambda/{worker}"));
    let detail = lines
        .iter()
        .find(|line| line.contains("model failed") && line.contains(&job_id))
        .unwrap_or_else(|| panic!("no log line for the failed model:\n{}", lines.join("\n")));
    assert!(
        detail.contains("/pixel-prompt/dev/openai-api-key"),
        "{detail}"
    );
    assert!(detail.contains("hardening-check-1"), "{detail}");

    // The worker's embedded metrics count it, per provider (the alarm divides the
    // environment's failures by its generations).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sum = |metric: &str, provider: &str| {
        let answer = deployed.aws.aws_json(
            "monitoring",
            "GraniteServiceVersion20100801.GetMetricStatistics",
            "1.0",
            &json!({
                "Namespace": "PixelPrompt", "MetricName": metric,
                "Dimensions": [{"Name": "Environment", "Value": "dev"}, {"Name": "Provider", "Value": provider}],
                "StartTime": now - 3600, "EndTime": now + 60, "Period": 3600, "Statistics": ["Sum"],
            }),
        );
        answer["Datapoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|point| point["Sum"].as_f64().unwrap())
            .sum::<f64>()
    };
    for (provider, failures) in [("openai", 1.0), ("gemini", 0.0), ("bedrock", 0.0)] {
        assert_eq!(
            (
                sum("ModelGenerations", provider),
                sum("ModelFailures", provider)
            ),
            (1.0, failures),
            "{provider}"
        );
    }
}

#[test]
fn a_rotated_key_reaches_the_running_instance_once_the_old_one_is_revoked() {
    let aws = LocalAws::start_with(&["--fake-providers"]);
    let project = Project::copy();
    // One instance of each function (the API for /enhance, the worker for the
    // models), each with its key cache.
    project.edit(
        "environments/dev.yaml",
        "reserved_concurrency: 5",
        "reserved_concurrency: 1",
    );
    project.edit(
        "environments/dev.yaml",
        "reserved_concurrency: 3",
        "reserved_concurrency: 1",
    );
    let old = "sk-proj-old0000000000000000000000000001";
    let new = "sk-proj-new0000000000000000000000000002";
    let newer = "sk-proj-newer00000000000000000000000003";
    set_key(&project, &aws, "dev", "openai", old);
    set_key(&project, &aws, "dev", "gemini", GOOGLE_KEY);
    project.deploy_with(&aws, "dev", &real_bootstrap(), &["--require-healthy"], 0);
    let api = project
        .expect(&aws, &["outputs", "dev", "--format", "json"], 0)
        .json()["served_locally"]["ApiEndpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = Http::new();
    let instances = || -> Vec<u64> {
        serde_json::from_str::<Value>(&aws.get("/_local-aws/lambda")).unwrap()["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|instance| instance["pid"].as_u64().unwrap())
            .collect()
    };

    let first = generate(&http, &api, "a red fox");
    assert_eq!(first["status"], "completed", "{first}");
    let running = instances();
    assert_eq!(
        running.len(),
        2,
        "one API and one worker instance; the worker cached the old key"
    );

    // Rotate: the new key is stored, then the provider stops accepting the old one.
    let said = set_key(&project, &aws, "dev", "openai", new);
    assert!(
        said.contains("at once when the provider refuses the old one"),
        "{said}"
    );
    // (The providers' log starts afresh here.)
    aws.control("/_local-aws/providers/reset", "{}");
    aws.control(
        "/_local-aws/providers/revoke",
        &json!({"provider": "openai", "key_sha256": sha256_hex(old)}).to_string(),
    );
    let rotated = std::time::Instant::now();
    let second = generate(&http, &api, "a blue fox");
    let took = rotated.elapsed();
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(instances(), running, "the same instance, not a new one");
    let openai: Vec<(bool, u64)> = provider_requests(&aws)
        .iter()
        .filter(|call| call["provider"] == "openai")
        .map(|call| {
            (
                call["key_revoked"].as_bool().unwrap_or(false),
                call["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        openai,
        [(true, 401), (false, 200)],
        "refused with the cached key, then served with the stored one"
    );
    eprintln!(
        "rotation: the first generation after `secrets set` completed in {took:?}, on the running instance"
    );
    let job_id = second["jobId"].as_str().unwrap();
    let logs = project
        .expect(&aws, &["logs", "dev", "--job", job_id], 0)
        .stdout;
    assert!(
        logs.contains("the provider refused the cached key; retrying with the key stored now"),
        "{logs}"
    );

    // The chat model behind /enhance follows a rotation the same way.
    set_key(&project, &aws, "dev", "openai", newer);
    aws.control(
        "/_local-aws/providers/revoke",
        &json!({"provider": "openai", "key_sha256": sha256_hex(new)}).to_string(),
    );
    let enhanced = loop {
        let answer = http.post(&format!("{api}/enhance"), json!({"prompt": "a cat"}));
        if answer.status != 500 {
            break answer;
        }
    };
    assert_eq!(enhanced.status, 200);
    assert!(
        enhanced.json().get("fallback").is_none(),
        "enhanced with the newer key: {}",
        enhanced.json()
    );
    assert_eq!(instances(), running);
}

#[test]
fn a_worker_event_that_keeps_failing_lands_in_the_dead_letter_queue_with_its_job() {
    let deployed = Deployed::start();
    deployed.aws.control(
        "/_local-aws/config",
        r#"{"async_retry_delay_seconds": 0.2}"#,
    );
    let out = deployed.outputs()["outputs"].clone();
    // A job the worker cannot read: every attempt fails.
    let job_id = "6f0c6b39-5d0a-4b0e-9a55-2b1f7c0c9e11";
    deployed.aws.s3_raw(
        "PUT",
        &format!(
            "/{}/jobs/{job_id}.json",
            out["ImagesBucket"].as_str().unwrap()
        ),
        "testing",
        "{not a job",
    );
    let payload = json!({"pixelPromptWorker": {"jobId": job_id, "correlationId": "dlq-check"}});
    block_on(
        deployed
            .aws
            .lambda()
            .invoke()
            .function_name(out["WorkerFunctionName"].as_str().unwrap())
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload.to_string()))
            .send(),
    )
    .unwrap();

    let queue = out["DeadLetterQueueUrl"].as_str().unwrap();
    let started = Instant::now();
    let message = loop {
        let answer = deployed.aws.aws_json(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            "1.0",
            &json!({"QueueUrl": queue, "WaitTimeSeconds": 5, "MaxNumberOfMessages": 1}),
        );
        if let Some(message) = answer["Messages"].as_array().and_then(|m| m.first()) {
            break message.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "nothing reached the dead-letter queue"
        );
    };
    let record: Value = serde_json::from_str(message["Body"].as_str().unwrap()).unwrap();
    assert_eq!(record["requestPayload"], payload, "{record:#}");
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    // The first attempt and the one retry the stack allows.
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
}

/// How many requests the fake providers hold right now.
fn held_requests(aws: &LocalAws) -> usize {
    let log: Value = serde_json::from_str(&aws.get("/_local-aws/providers/requests")).unwrap();
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|request| request["held"] == true && request["status"].is_null())
        .count()
}

#[test]
fn a_busy_hour_of_generation_does_not_throttle_status_polling() {
    let deployed = Deployed::start();
    let http = Http::new();
    // Every model of every job waits at its provider until released.
    for provider in ["openai", "gemini", "bedrock"] {
        deployed.aws.control(
            "/_local-aws/providers/hold",
            &json!({"provider": provider}).to_string(),
        );
    }
    // dev: the API has 5 instances, the worker 3. Five jobs: three generate, two wait.
    let mut jobs = Vec::new();
    for n in 0..5 {
        let created = http.post(
            &deployed.url("/generate"),
            json!({"prompt": format!("a busy hour, job {n}")}),
        );
        assert_eq!(
            created.status,
            200,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        jobs.push(created.json()["jobId"].as_str().unwrap().to_owned());
    }
    // Wait until three workers are inside their providers (3 models each).
    let started = Instant::now();
    while held_requests(&deployed.aws) < 9 {
        assert!(
            started.elapsed() < Duration::from_mins(1),
            "the workers never reached the providers"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let lambda: Value = serde_json::from_str(&deployed.aws.get("/_local-aws/lambda")).unwrap();
    let busy_workers = lambda["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["function"] == "pixel-prompt-dev-worker" && i["state"] == "busy")
        .count();
    assert_eq!(
        busy_workers, 3,
        "the worker keeps to its own concurrency: {lambda:#}"
    );

    // Meanwhile every status poll is answered.
    let mut statuses = BTreeSet::new();
    for _ in 0..4 {
        for job in &jobs {
            let answer = http.get(&deployed.url(&format!("/status/{job}")));
            assert_eq!(
                answer.status,
                200,
                "{}",
                String::from_utf8_lossy(&answer.body)
            );
            statuses.insert(answer.json()["status"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        statuses.is_subset(&BTreeSet::from([
            "pending".to_owned(),
            "in_progress".to_owned()
        ])),
        "{statuses:?}"
    );

    // Released, the waiting jobs run too.
    deployed.aws.control("/_local-aws/providers/release", "{}");
    for job in &jobs {
        assert_eq!(wait_for_job(&http, &deployed, job)["status"], "completed");
    }
}
