//! Shared harness for tests that run pixelctl against the local AWS: a fresh
//! local AWS per test, a throwaway copy of the project, a real bootstrap.
#![allow(
    dead_code,
    unused_imports,
    unused_macros,
    clippy::unwrap_used,
    clippy::expect_used
)]
// A module of each test crate: `pub` is its interface to the test files, not an API.
#![allow(unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::OnceLock;

use assert_cmd::Command;
use tempfile::TempDir;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One local AWS server on a free port, stopped when dropped.
pub struct LocalAws {
    _server: test_support::LocalAws,
    pub endpoint: String,
    /// With `--fake-providers`: their base URLs, as `PIXELCTL_PROVIDER_BASE_URLS` wants them.
    pub fake_providers: Option<String>,
}

impl LocalAws {
    /// A bare local AWS: no provider keys stored (a deploy refuses to start).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A local AWS holding a dummy key at every provider key location of
    /// every environment, as a team has after `pixelctl secrets set`; the
    /// request log starts empty.
    pub fn with_keys() -> Self {
        Self::with_keys_and(&[])
    }

    /// [`LocalAws::with_keys`] with extra launcher options.
    pub fn with_keys_and(options: &[&str]) -> Self {
        let aws = Self::start_with(options);
        for env in ["dev", "staging", "prod"] {
            aws.put_provider_keys(env, "sk-local-dummy-key");
        }
        aws.clear_requests();
        aws
    }

    /// Stores `value` at each provider key location of `env` (environments/defaults.yaml).
    pub fn put_provider_keys(&self, env: &str, value: &str) {
        for name in [
            "openai-api-key",
            "google-api-key",
            "recraft-api-key",
            "stability-api-key",
        ] {
            self.put_secure_string(&format!("/pixel-prompt/{env}/{name}"), value);
        }
        self.create_secret(&format!("pixel-prompt/{env}/bfl-api-key"), value);
    }

    /// Starts it with extra launcher options (e.g. `--fake-providers`).
    pub fn start_with(options: &[&str]) -> Self {
        let server = test_support::LocalAws::start(options);
        Self {
            endpoint: server.endpoint.clone(),
            fake_providers: server.fake_providers.clone(),
            _server: server,
        }
    }

    /// What the fake providers and Bedrock were asked, oldest first.
    pub fn provider_requests(&self) -> Vec<serde_json::Value> {
        let body = self.get("/_local-aws/providers/requests");
        let json: serde_json::Value = serde_json::from_str(&body).expect("requests JSON");
        json["requests"].as_array().expect("requests list").clone()
    }

    /// POSTs a JSON body to one of the local AWS's control endpoints.
    pub fn control(&self, path: &str, body: &str) -> String {
        http(
            &self.endpoint,
            "POST",
            path,
            &[("content-type", "application/json")],
            body,
        )
    }

    pub fn get(&self, path: &str) -> String {
        http(&self.endpoint, "GET", path, &[], "")
    }

    /// Polls until the stack's operation waits at its `stack-resource` hold on
    /// `logical_id` (waiting for a state: the deadline only turns a hang into a failure).
    pub fn wait_held(&self, stack: &str, logical_id: &str) {
        wait_until(
            &format!("{stack}'s operation to reach {logical_id}"),
            || {
                let holds: serde_json::Value =
                    serde_json::from_str(&self.get("/_local-aws/hold")).expect("holds JSON");
                holds["stack_resources"]
                    .as_array()
                    .expect("holds list")
                    .iter()
                    .any(|hold| {
                        hold["stack_name"] == stack
                            && hold["logical_id"] == logical_id
                            && hold["reached"] == true
                    })
            },
        );
    }

    /// The AWS operations pixelctl (signed with the tests' `testing` key, not a
    /// deployed function's) made since the last `clear_requests`.
    pub fn requests(&self) -> Vec<String> {
        let body = self.get("/_local-aws/requests");
        let json: serde_json::Value = serde_json::from_str(&body).expect("requests JSON");
        json["requests"]
            .as_array()
            .expect("requests list")
            .iter()
            .filter(|call| call["caller"] == "testing")
            .map(|call| call["operation"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub fn clear_requests(&self) {
        self.control("/_local-aws/requests/clear", "{}");
    }

    /// Arms a one-shot failure of `logical_id` in the next operation on `stack`.
    pub fn fail_next(&self, stack: &str, logical_id: &str, reason: &str) {
        let body =
            serde_json::json!({"stack_name": stack, "logical_id": logical_id, "reason": reason});
        self.control("/_local-aws/fail", &body.to_string());
    }

    /// Stores an SSM SecureString (the way a provider key lives in AWS).
    pub fn put_secure_string(&self, name: &str, value: &str) {
        let body = serde_json::json!({"Name": name, "Value": value, "Type": "SecureString", "Overwrite": true});
        self.json_call("ssm", "AmazonSSM.PutParameter", &body);
    }

    /// Creates a Secrets Manager secret (where the BFL key lives).
    pub fn create_secret(&self, name: &str, value: &str) {
        let body = serde_json::json!({"Name": name, "SecretString": value});
        self.json_call("secretsmanager", "secretsmanager.CreateSecret", &body);
    }

    /// One JSON 1.1 API call, signed for `service` (the local AWS routes by the signature).
    pub fn json_call(&self, service: &str, target: &str, body: &serde_json::Value) -> String {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20261126/us-west-2/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        http(
            &self.endpoint,
            "POST",
            "/",
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", target),
                ("authorization", &authorization),
            ],
            &body.to_string(),
        )
    }

    /// Calls a JSON-protocol AWS API of the local AWS (CloudWatch, KMS, SQS, Logs,
    /// Budgets ...) as account 123456789012 and returns the answer.
    pub fn aws_json(
        &self,
        signing_service: &str,
        target: &str,
        json_version: &str,
        body: &serde_json::Value,
    ) -> serde_json::Value {
        let content_type = format!("application/x-amz-json-{json_version}");
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20261126/us-west-2/{signing_service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let answer = http(
            &self.endpoint,
            "POST",
            "/",
            &[
                ("content-type", content_type.as_str()),
                ("x-amz-target", target),
                ("authorization", authorization.as_str()),
            ],
            &body.to_string(),
        );
        serde_json::from_str(&answer)
            .unwrap_or_else(|error| panic!("{target} answered no JSON ({error}): {answer}"))
    }

    /// Calls a query-protocol AWS API (SNS, STS) and returns its XML answer.
    pub fn aws_query(&self, signing_service: &str, access_key: &str, form: &str) -> String {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/20261126/us-west-2/{signing_service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        http(
            &self.endpoint,
            "POST",
            "/",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", authorization.as_str()),
            ],
            form,
        )
    }

    /// Credentials of another AWS account (its access key id), by assuming a role there.
    pub fn other_account_key(&self, account: &str) -> String {
        let answer = self.aws_query(
            "sts",
            "testing",
            &format!(
                "Action=AssumeRole&Version=2011-06-15&RoleSessionName=elsewhere&RoleArn=arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2Fowner"
            ),
        );
        xml_value(&answer, "AccessKeyId").unwrap_or_else(|| panic!("no AccessKeyId in {answer}"))
    }

    /// A path-style S3 request signed (in name only) with `access_key`.
    pub fn s3_raw(&self, method: &str, path: &str, access_key: &str, body: &str) -> String {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/20261126/us-west-2/s3/aws4_request, SignedHeaders=host, Signature=0"
        );
        http(
            &self.endpoint,
            method,
            path,
            &[
                ("authorization", authorization.as_str()),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ],
            body,
        )
    }

    /// A CloudFormation client for checking what a command did.
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::Config::builder()
                .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
                .region(aws_sdk_cloudformation::config::Region::new("us-west-2"))
                .endpoint_url(&self.endpoint)
                .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .build(),
        )
    }

    /// The buckets that exist, by name.
    pub fn buckets(&self) -> Vec<String> {
        block_on(self.s3().list_buckets().send())
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|bucket| bucket.name().map(str::to_owned))
            .collect()
    }

    /// SDK settings for this local AWS with the tests' dummy credentials, for
    /// any client: `aws_sdk_cloudwatch::Client::new(&aws.sdk_config())`.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-west-2"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "tests",
                    ),
                ),
            )
            .build()
    }

    /// An S3 client (path-style, as the local AWS needs) for checking objects.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("us-west-2"))
                .endpoint_url(&self.endpoint)
                .force_path_style(true)
                .credentials_provider(aws_sdk_s3::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .build(),
        )
    }

    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::from_conf(
            aws_sdk_cloudfront::Config::builder()
                .behavior_version(aws_sdk_cloudfront::config::BehaviorVersion::latest())
                .region(aws_sdk_cloudfront::config::Region::new("us-west-2"))
                .endpoint_url(&self.endpoint)
                .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .build(),
        )
    }

    /// The local AWS's port.
    pub fn port(&self) -> u16 {
        self.endpoint.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// A request to whatever the local AWS serves at `host` (a distribution's
    /// or an API's local host name), sent to 127.0.0.1 with that `Host`.
    pub fn fetch(&self, host: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Fetched {
        assert!(
            host.ends_with(".localhost"),
            "not a local host name: {host}"
        );
        let host = format!("{host}:{}", self.port());
        let mut all = vec![("host", host.as_str())];
        all.extend_from_slice(headers);
        test_support::http::request(&self.endpoint, method, path, &all, b"")
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
                .region(aws_sdk_lambda::config::Region::new("us-west-2"))
                .endpoint_url(&self.endpoint)
                .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                    "testing", "testing", None, None, "tests",
                ))
                .build(),
        )
    }
}

/// An answer from [`LocalAws::fetch`].
pub use test_support::http::Response as Fetched;

/// The repository's web app packages, installed once per test run (`npm ci`
/// when `frontend/node_modules` is missing or older than the lock file), for
/// test projects to link to instead of installing their own.
pub fn frontend_node_modules() -> &'static Path {
    static MODULES: OnceLock<PathBuf> = OnceLock::new();
    MODULES.get_or_init(|| {
        let frontend = repo_root().join("frontend");
        let installed = frontend.join("node_modules").join(".package-lock.json");
        let modified = |path: &Path| {
            std::fs::metadata(path)
                .and_then(|meta| meta.modified())
                .ok()
        };
        if modified(&installed) < modified(&frontend.join("package-lock.json")) {
            let status = Process::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&frontend)
                .status()
                .expect("npm installs the web app's packages (install Node.js 20.19+ with npm)");
            assert!(status.success(), "npm ci failed in {}", frontend.display());
        }
        frontend.join("node_modules")
    })
}

/// Copies `from` into `to`, leaving out build output and installed packages.
fn copy_sources(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["node_modules", "dist", ".env", "artifacts"]
            .iter()
            .any(|skip| name == *skip)
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_sources(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The text of the first `<name>...</name>` element of an XML answer.
/// Polls `check` until it holds, for at most a minute.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    test_support::poll::until(what, std::time::Duration::from_mins(1), || {
        check().then_some(())
    });
}

pub fn xml_value(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// Like [`http`], but any status: (status, body).
pub fn http_status(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let answer = test_support::http::request(endpoint, method, path, headers, body.as_bytes());
    (answer.status, answer.text())
}

/// A minimal HTTP/1.1 request to 127.0.0.1 (tests only talk to this machine)
/// that must answer 200; its body.
pub fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let (status, answer) = http_status(endpoint, method, path, headers, body);
    assert_eq!(status, 200, "{method} {path} failed:\n{answer}");
    answer
}

/// Compiles the stub Lambda runtime (`tools/runtime_stub.c`) into a `bootstrap`:
/// a real executable that passes the glibc check like the Lambda does, built in
/// milliseconds, and that the local AWS runs like the real one. It answers every
/// event (an API Gateway request included) with `200 {"status":"ok","stub":CODE}`,
/// so a deploy's health check passes; `code` makes each variant's bytes (and
/// sha256) differ.
pub fn compile_bootstrap(code: u8) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pixelctl-test-bootstrap-{}-{code}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("bootstrap");
    let status = Process::new("gcc")
        .args(["-O2", &format!("-DSTUB_CODE={code}"), "-o"])
        .arg(&binary)
        .arg(repo_root().join("tools/runtime_stub.c"))
        .status()
        .expect("gcc builds the test bootstrap (apt-get install gcc)");
    assert!(status.success());
    binary
}

/// The test bootstrap most tests deploy.
pub fn bootstrap() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| compile_bootstrap(0))
}

/// A second, different bootstrap, for tests that deploy a new artifact.
pub fn other_bootstrap() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| compile_bootstrap(1))
}

/// A throwaway copy of the project (environments, template, frontend).
pub struct Project {
    pub dir: TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// What a finished process left: its exit code (-1 if a signal ended it) and output.
    pub fn of(output: std::process::Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Asserts the exit code, showing `what` ran and everything it printed on a mismatch.
    pub fn exited(self, code: i32, what: &str) -> Run {
        assert_eq!(
            self.code, code,
            "{what}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }
}

/// `deploy ENV --yes --artifact BOOTSTRAP --output json EXTRA..`: how the tests deploy.
fn deploy_args(env: &str, bootstrap: &Path, extra: &[&str]) -> Vec<String> {
    let artifact = bootstrap.to_str().unwrap();
    [
        "deploy",
        env,
        "--yes",
        "--artifact",
        artifact,
        "--output",
        "json",
    ]
    .iter()
    .chain(extra)
    .map(|arg| (*arg).to_owned())
    .collect()
}

impl Project {
    pub fn copy() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["environments", "templates"] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            for entry in std::fs::read_dir(repo_root().join(folder)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(
                    entry.path(),
                    dir.path().join(folder).join(entry.file_name()),
                )
                .unwrap();
            }
        }
        std::fs::create_dir_all(dir.path().join("frontend")).unwrap();
        Self { dir }
    }

    /// A copy that also holds the web app's sources (`frontend/`), its
    /// `node_modules` linked to the repository's (installed once per run).
    pub fn with_frontend() -> Self {
        let project = Self::copy();
        let frontend = project.path("frontend");
        copy_sources(&repo_root().join("frontend"), &frontend);
        std::os::unix::fs::symlink(frontend_node_modules(), frontend.join("node_modules")).unwrap();
        project
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    pub fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path(relative), text).unwrap();
    }

    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = self.read(relative);
        assert!(text.contains(from), "{relative} has no {from:?}");
        self.write(relative, &text.replacen(from, to, 1));
    }

    /// pixelctl with dummy credentials, pointed at `aws`, with no terminal.
    pub fn pixelctl(&self, aws: &LocalAws) -> Command {
        Command::from_std(self.process(aws))
    }

    /// Starts pixelctl in the background with its output captured.
    pub fn spawn_piped(&self, aws: &LocalAws, args: &[&str]) -> Child {
        self.process(aws)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Starts pixelctl in the background and reads its output as it comes, so a
    /// test can wait for a line (a state, not a time) before it releases a hold.
    pub fn start(&self, aws: &LocalAws, args: &[&str]) -> Running {
        let mut child = self.spawn_piped(aws, args);
        let stdout = Transcript::follow(child.stdout.take().unwrap());
        let stderr = Transcript::follow(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        }
    }

    /// Starts pixelctl in the background (output discarded), e.g. a deploy to race.
    pub fn spawn(&self, aws: &LocalAws, args: &[&str]) -> Child {
        self.process(aws)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The pixelctl process `pixelctl` runs, to spawn with pipes of one's own.
    pub fn process(&self, aws: &LocalAws) -> Process {
        self.process_at(&aws.endpoint)
    }

    /// Runs a command that needs no AWS (`validate`, `render`, usage errors) and
    /// asserts its exit code. AWS is an address where nothing listens: a call
    /// would fail, never reach anything.
    pub fn offline(&self, args: &[&str], code: i32) -> Run {
        let output = self
            .process_at("http://127.0.0.1:9")
            .args(args)
            .output()
            .unwrap();
        Run::of(output).exited(code, &format!("pixelctl {args:?}"))
    }

    fn process_at(&self, endpoint: &str) -> Process {
        let mut command = Process::new(assert_cmd::cargo::cargo_bin("pixelctl"));
        command
            .current_dir(self.dir.path())
            .env_remove("PIXELCTL_PROJECT_DIR")
            .env_remove("AWS_PROFILE")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path())
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com");
        command
    }

    /// Runs pixelctl with its output captured; gives up (killing it) after
    /// `deadline`, for commands that must end and once looped for ever. The deadline
    /// only guards against a hang: it decides no outcome.
    pub fn run_within(&self, aws: &LocalAws, args: &[&str], deadline: std::time::Duration) -> Run {
        let mut child = self
            .process(aws)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > deadline {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "pixelctl {args:?} still ran after {deadline:?}; stderr so far:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Run::of(child.wait_with_output().unwrap())
    }

    pub fn run(&self, aws: &LocalAws, args: &[&str]) -> Run {
        Run::of(self.pixelctl(aws).args(args).output().unwrap())
    }

    /// Runs and asserts the exit code, showing everything on a mismatch.
    pub fn expect(&self, aws: &LocalAws, args: &[&str], code: i32) -> Run {
        self.run(aws, args)
            .exited(code, &format!("pixelctl {args:?}"))
    }

    /// Makes the project a git repository with one commit (frontend/.env and
    /// target/ ignored, as in the real repository).
    pub fn git_init(&self) {
        self.write(".gitignore", "frontend/.env\ntarget/\n");
        self.git(&["init", "--quiet"]);
        self.git(&["add", "--all"]);
        self.commit("initial");
    }

    pub fn git(&self, args: &[&str]) -> String {
        let output = Process::new("git")
            .arg("-C")
            .arg(self.dir.path())
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn commit(&self, message: &str) {
        self.git(&[
            "commit",
            "--quiet",
            "--all",
            "--allow-empty",
            "--message",
            message,
        ]);
    }

    /// `deploy ENV --yes` with a given bootstrap, as JSON.
    pub fn deploy_with(
        &self,
        aws: &LocalAws,
        env: &str,
        bootstrap: &Path,
        extra: &[&str],
        code: i32,
    ) -> Run {
        let args = deploy_args(env, bootstrap, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.expect(aws, &args, code)
    }

    /// Starts the tests' deploy of `env` (the stub bootstrap, `--output json`)
    /// without waiting for it, to meet it at a line it prints.
    pub fn start_deploy(&self, aws: &LocalAws, env: &str, extra: &[&str]) -> Running {
        let args = deploy_args(env, bootstrap(), extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.start(aws, &args)
    }

    /// `deploy ENV --yes` with the test bootstrap, as JSON.
    pub fn deploy(&self, aws: &LocalAws, env: &str, extra: &[&str], code: i32) -> Run {
        self.deploy_with(aws, env, bootstrap(), extra, code)
    }

    /// Starts `pixelctl local ENV --fake-providers` on a free port.
    pub fn serve_api(&self, env: &str) -> LocalApi {
        let child = Process::new(assert_cmd::cargo::cargo_bin("pixelctl"))
            .current_dir(self.dir.path())
            .args([
                "local",
                env,
                "--fake-providers",
                "--port",
                "0",
                "--data-dir",
            ])
            .arg(self.path("api-data"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut api = LocalApi {
            child,
            base: String::new(),
        };
        let mut stderr = BufReader::new(api.child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "pixelctl local exited"
            );
            if let Some(rest) = line.split("API on ").nth(1) {
                assert!(line.contains("FAKE"), "fake providers are labelled: {line}");
                rest.split_whitespace()
                    .next()
                    .unwrap()
                    .clone_into(&mut api.base);
                // Keep reading its stderr so the server never blocks on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
                return api;
            }
        }
    }
}

/// The API served by `pixelctl local`, stopped when dropped.
pub struct LocalApi {
    child: Child,
    pub base: String,
}

impl LocalApi {
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalApi {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What Lambda reports about a function's configuration.
pub fn function_configuration(
    aws: &LocalAws,
    function: &str,
) -> aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput {
    block_on(
        aws.lambda()
            .get_function_configuration()
            .function_name(function)
            .send(),
    )
    .unwrap()
}

/// Runs a future to completion on a small runtime (for SDK checks in tests).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A pixelctl run in the background whose output the test reads as it grows.
pub struct Running {
    child: Child,
    stdout: Transcript,
    stderr: Transcript,
    args: Vec<String>,
}

impl Running {
    /// Waits until stderr shows `text`.
    pub fn wait_for_stderr(&self, text: &str) {
        self.stderr.wait_for(text);
    }

    /// Waits for the end and asserts the exit code, showing everything on a mismatch.
    pub fn finish(mut self, code: i32) -> Run {
        let status = self.child.wait().unwrap();
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
        };
        assert_eq!(
            run.code, code,
            "pixelctl {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args, run.stdout, run.stderr
        );
        run
    }
}

/// Output of a child process (or a terminal), read into memory by a thread as it grows.
pub struct Transcript {
    text: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Transcript {
    pub fn follow(mut from: impl Read + Send + 'static) -> Self {
        let text = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&text);
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = from.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..read]);
            }
        });
        Self {
            text,
            reader: Some(reader),
        }
    }

    /// What has been read so far.
    pub fn now(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// Waits until `what` shows; fails at once if the other end closes first
    /// (the deadline only turns a hang into a failure).
    pub fn wait_for(&self, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(2);
        loop {
            // Read `closed` first: text read before the close is then in `now`.
            let closed = self.closed();
            let text = self.now();
            if text.contains(what) {
                return;
            }
            assert!(!closed, "it ended without showing {what:?}:\n{text}");
            assert!(
                std::time::Instant::now() < deadline,
                "never showed {what:?}:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// True once the other end closed (the process ended).
    pub fn closed(&self) -> bool {
        self.reader
            .as_ref()
            .is_none_or(std::thread::JoinHandle::is_finished)
    }

    /// Everything, once the other end has closed.
    pub fn finish(mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.now()
    }
}

/// The whole of a run as one text for a snapshot: exit code, stdout and stderr,
/// so a change anywhere in what the user sees shows in review.
pub fn whole_run(run: &Run) -> String {
    let section = |text: &str| {
        if text.is_empty() || text.ends_with('\n') {
            text.to_owned()
        } else {
            format!("{text}\n[no newline at the end]\n")
        }
    };
    format!(
        "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        run.code,
        section(&run.stdout),
        section(&run.stderr)
    )
}

/// Snapshot settings that replace what changes from run to run: the project's
/// path, temporary paths, times, durations, ports, ids and hashes. Hold the guard
/// while asserting.
pub fn whole_run_filters(project: &Path) -> insta::internals::SettingsBindDropGuard {
    let mut settings = insta::Settings::clone_current();
    let mut paths = vec![project.to_path_buf()];
    if let Ok(canonical) = project.canonicalize() {
        paths.push(canonical);
    }
    for path in paths {
        settings.add_filter(&regex_lite::escape(&path.to_string_lossy()), "[project]");
    }
    // The bootstraps the tests build live under the repository's target/.
    settings.add_filter(
        &regex_lite::escape(&repo_root().to_string_lossy()),
        "[repo]",
    );
    for (pattern, replacement) in [
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]"),
        (
            r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d| UTC)?",
            "[time]",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (r"\b[0-9a-f]{64}\b", "[sha256]"),
        (r"\b[0-9a-f]{40}\b", "[git-sha]"),
        // The local AWS's account (12 digits: not a short hash below).
        (r"\b123456789012\b", "[account]"),
        // Short hashes: a commit, an artifact in a table.
        (r"\b[0-9a-f]{12,16}\b", "[short-hash]"),
        // A hash cut short for a table (`artifacts/094c8f…`).
        (r"\b[0-9a-f]{32,63}…", "[hash]…"),
        (r"/tmp/pixelctl-test-bootstrap-\d+-(\d)", "[bootstrap-${1}]"),
        (r"localhost:\d+", "localhost:[port]"),
        (r"pixelctl-\d{10}-\d+", "pixelctl-[change-set]"),
        // Names the local AWS makes up, as AWS does: API ids, distribution
        // domains and ids, CloudFormation's physical-name suffixes.
        (r"\b[a-z0-9]{6,12}\.execute-api\.", "[api-id].execute-api."),
        (
            r"\b[a-z0-9]{12,16}\.cloudfront\.",
            "[distribution].cloudfront.",
        ),
        (r"\b[A-Z0-9]{13,14}\b", "[distribution-id]"),
        (r"-[A-Z0-9]{12,13}\b", "-[suffix]"),
        (r"(bucket)-[a-z0-9]{12}\b", "${1}-[suffix]"),
        (r"\(\d+[smhd] ago\)", "([age] ago)"),
        // A column as wide as the longest cell (a list of generated alarm names).
        (r" {60,}", " [padding] "),
        // Measured durations (`in 2.4s`, `after 130 ms`); whole seconds are
        // settings (`after 30 s`) and stay.
        (r"\b\d+\.\d+ ?s\b|\b\d+ ?ms\b", "[duration]"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings.bind_to_scope()
}

/// Asserts a named snapshot of a whole run (see `whole_run`) with volatile values
/// filtered (see `whole_run_filters`); the snapshot lives with the calling test.
macro_rules! assert_whole_run {
    ($name:expr, $project:expr, $run:expr) => {{
        let _filters = $crate::common::whole_run_filters($project);
        insta::assert_snapshot!($name, $crate::common::whole_run($run));
    }};
}
pub(crate) use assert_whole_run;
