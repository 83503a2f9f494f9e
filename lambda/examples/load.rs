//! Load benchmark of the API in local mode with fake providers, on 127.0.0.1 only.
//!
//! `cargo run --release -p pixel-prompt-api --example load -- [--users 100]
//! [--seconds 20] [--max-requests 40000] [--models 9] [--image-size 256]
//! [--fake-delay-ms 300] [--poll-ms 100] [--target URL]`
//!
//! The program starts itself a second time as the server (`--serve DIR`), so the
//! server's peak RSS (`VmHWM`) is measured apart from the load generator. With
//! `--target URL` it starts no server and loads that API instead (the deployed stack
//! on the local AWS, `bench/deployed-api`): only this machine, so the URL's host must be
//! 127.0.0.1, `localhost` or `*.localhost`, and names are connected to 127.0.0.1 here,
//! never looked up; `--models`, `--image-size` and `--fake-delay-ms` are then the
//! deployment's business, there is no server RSS to report, and a request may take
//! 30 s (API Gateway's limit) instead of 10 before it counts as an error. Each simulated
//! user loops: `POST /generate`, then `GET /status/{jobId}` every `--poll-ms` (100 ms:
//! a stress pace; the web client polls every 2000 ms) until the job finishes. It stops after `--seconds` or `--max-requests`, whichever comes first, and
//! prints p50/p95/p99 latency and the error rate per route.
// A benchmark: its output is the point.
#![allow(clippy::print_stderr, clippy::print_stdout)]
// Rates and percentiles over counts far below 2^52.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pixel_prompt_api::config::{EnvironmentName, ModelSpec, ProviderKind, RateLimits};
use pixel_prompt_api::local::{self, LocalOptions, LocalStorage};
use tokio::sync::Mutex;

struct Args {
    users: usize,
    seconds: u64,
    max_requests: u64,
    models: usize,
    image_size: u32,
    fake_delay_ms: u64,
    poll_ms: u64,
    serve: Option<String>,
    target: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        users: 100,
        seconds: 20,
        max_requests: 40_000,
        models: 9,
        image_size: 256,
        fake_delay_ms: 300,
        poll_ms: 100,
        serve: None,
        target: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match flag.as_str() {
            "--users" => {
                args.users = usize::try_from(number(value()?)?)
                    .unwrap_or(100)
                    .clamp(1, 1000);
            }
            "--seconds" => args.seconds = number(value()?)?.clamp(1, 300),
            "--max-requests" => args.max_requests = number(value()?)?.clamp(1, 1_000_000),
            "--models" => {
                args.models = usize::try_from(number(value()?)?).unwrap_or(9).clamp(1, 20);
            }
            "--image-size" => {
                args.image_size = u32::try_from(number(value()?)?)
                    .unwrap_or(256)
                    .clamp(8, 2048);
            }
            "--fake-delay-ms" => args.fake_delay_ms = number(value()?)?,
            "--poll-ms" => args.poll_ms = number(value()?)?.clamp(10, 10_000),
            "--serve" => args.serve = Some(value()?),
            "--target" => args.target = Some(value()?),
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(args)
}

/// The base URL of `--target` (no trailing `/`) and an HTTP client that connects its host
/// to 127.0.0.1. Refuses anything that is not this machine.
fn target_client(target: &str, users: usize) -> Result<(String, reqwest::Client), String> {
    let url = reqwest::Url::parse(target).map_err(|e| format!("--target {target}: {e}"))?;
    if url.scheme() != "http" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "--target {target}: expected http://HOST:PORT[/PATH], no query"
        ));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let builder = match host.as_str() {
        "127.0.0.1" => client_builder(users, Duration::from_secs(30)),
        name if name == "localhost" || name.ends_with(".localhost") => {
            // Port 0: the URL's own port is used.
            client_builder(users, Duration::from_secs(30))
                .resolve(name, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        }
        other => {
            return Err(format!(
                "--target {target}: refusing host `{other}`; only 127.0.0.1, localhost and *.localhost"
            ));
        }
    };
    let client = builder.build().map_err(|e| format!("HTTP client: {e}"))?;
    Ok((url.as_str().trim_end_matches('/').to_owned(), client))
}

/// Local mode gives up on a request after 10 s. A deployed API is given 30 s, API
/// Gateway's own integration limit (past it the gateway answers 503, an error here too):
/// the web client sets no timeout of its own, so a slow answer is slow, not lost.
fn client_builder(users: usize, timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .pool_max_idle_per_host(users)
        .timeout(timeout)
}

/// The server this run started (killed and reaped when the run ends), if any.
struct Spawned {
    child: std::process::Child,
    _data: tempfile::TempDir,
}

/// Starts this program again as the local-mode server; its child and base URL.
fn spawn_server() -> Result<(Spawned, String), String> {
    let data = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(std::env::args().skip(1))
        .arg("--serve")
        .arg(data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start the server: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let base = line.trim().strip_prefix("LISTENING=").map(str::to_owned);
    let mut spawned = Spawned { child, _data: data };
    let problem = match base {
        Some(base) if base.starts_with("http://127.0.0.1:") => return Ok((spawned, base)),
        Some(base) => format!("refusing to load a non-loopback address {base}"),
        None => format!("the server did not start: {line:?}"),
    };
    let _ = spawned.child.kill();
    Err(problem)
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // The server stops when its stdin closes.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn models(n: usize) -> Vec<ModelSpec> {
    (0..n)
        .map(|i| ModelSpec {
            name: format!("Fake Model {i}"),
            provider: ProviderKind::ALL[i % ProviderKind::ALL.len()],
            model: format!("fake-{i}"),
        })
        .collect()
}

/// Server side: local mode on a folder, fake providers, 127.0.0.1 exempt from limits.
async fn serve(args: &Args, dir: &str) -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        pixel_prompt_api::telemetry::init_json_logs();
    }
    let mut options = LocalOptions::new(
        EnvironmentName::dev(),
        LocalStorage::Folder(dir.into()),
        models(args.models),
    );
    options.port = 0;
    options.fake_providers = true;
    options.fake_delay = Duration::from_millis(args.fake_delay_ms);
    options.fake_image_size = args.image_size;
    options.rate_limits = RateLimits {
        global_per_hour: 1_000_000,
        per_ip_per_day: 1_000_000,
        ip_allowlist: vec![[127, 0, 0, 1].into()],
        ..RateLimits::default()
    };
    let server = match local::bind(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("LISTENING={}", server.base_url());
    let stdin_closed = async {
        // The parent closes our stdin when it is done.
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    };
    match server.run_until(stdin_closed).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct Samples {
    generate: Vec<Duration>,
    status: Vec<Duration>,
    generate_errors: u64,
    status_errors: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
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

async fn user(
    poll: Duration,
    http: reqwest::Client,
    base: String,
    deadline: Instant,
    budget: Arc<AtomicU64>,
    samples: Arc<Mutex<Samples>>,
) {
    let take = || {
        budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    };
    while Instant::now() < deadline && take() {
        let started = Instant::now();
        let answer = http
            .post(format!("{base}/generate"))
            .json(&serde_json::json!({"prompt": "a lighthouse in a storm, oil painting"}))
            .send()
            .await;
        let job_id = match answer {
            Ok(r) if r.status().is_success() => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["jobId"].as_str().map(str::to_owned)),
            _ => None,
        };
        let elapsed = started.elapsed();
        {
            let mut s = samples.lock().await;
            s.generate.push(elapsed);
            if job_id.is_none() {
                s.generate_errors += 1;
            }
        }
        let Some(job_id) = job_id else { continue };
        loop {
            tokio::time::sleep(poll).await;
            if Instant::now() >= deadline || !take() {
                return;
            }
            let started = Instant::now();
            let answer = http.get(format!("{base}/status/{job_id}")).send().await;
            let finished = match answer {
                Ok(r) if r.status().is_success() => {
                    r.json::<serde_json::Value>().await.ok().map(|v| {
                        matches!(
                            v["status"].as_str(),
                            Some("completed" | "partial" | "failed")
                        )
                    })
                }
                _ => None,
            };
            let elapsed = started.elapsed();
            let mut s = samples.lock().await;
            s.status.push(elapsed);
            match finished {
                None => s.status_errors += 1,
                Some(true) => break,
                Some(false) => {}
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &args.serve {
        return serve(&args, dir).await;
    }

    let (server, base, http) = match &args.target {
        Some(target) => match target_client(target, args.users) {
            Ok((base, http)) => (None, base, http),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => match spawn_server() {
            Ok((server, base)) => {
                let http = client_builder(args.users, Duration::from_secs(10))
                    .build()
                    .unwrap_or_default();
                (Some(server), base, http)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let idle_rss = server.as_ref().and_then(|s| peak_rss_kib(s.child.id()));

    let samples = Arc::new(Mutex::new(Samples::default()));
    let budget = Arc::new(AtomicU64::new(args.max_requests));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut users = tokio::task::JoinSet::new();
    for _ in 0..args.users {
        users.spawn(user(
            Duration::from_millis(args.poll_ms),
            http.clone(),
            base.clone(),
            deadline,
            Arc::clone(&budget),
            Arc::clone(&samples),
        ));
    }
    while users.join_next().await.is_some() {}
    let wall = started.elapsed();
    let peak = match &server {
        Some(server) => {
            // Let the last jobs finish so the peak includes their images.
            tokio::time::sleep(Duration::from_millis(args.fake_delay_ms + 500)).await;
            peak_rss_kib(server.child.id())
        }
        None => None,
    };
    drop(server);

    let mut s = samples.lock().await;
    s.generate.sort();
    s.status.sort();
    let total = (s.generate.len() + s.status.len()) as f64;
    let setup = match &args.target {
        Some(_) => format!("target={base}"),
        None => format!(
            "models={} image={}px fake_delay={}ms",
            args.models, args.image_size, args.fake_delay_ms
        ),
    };
    println!(
        "users={} poll={}ms {setup} wall={:.1}s requests={} throughput={:.0} req/s",
        args.users,
        args.poll_ms,
        wall.as_secs_f64(),
        total,
        total / wall.as_secs_f64()
    );
    println!("| route | requests | errors | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    for (name, data, errors) in [
        ("POST /generate", &s.generate, s.generate_errors),
        ("GET /status/{jobId}", &s.status, s.status_errors),
    ] {
        println!(
            "| {name} | {} | {} ({:.2}%) | {:.1} | {:.1} | {:.1} | {:.1} |",
            data.len(),
            errors,
            100.0 * errors as f64 / (data.len().max(1)) as f64,
            percentile(data, 50.0),
            percentile(data, 95.0),
            percentile(data, 99.0),
            data.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        );
    }
    if args.target.is_none() {
        println!(
            "server peak RSS: {} MiB (idle after start: {} MiB)",
            peak.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
            idle_rss.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
        );
    }
    if s.generate_errors + s.status_errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
