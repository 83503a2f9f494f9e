//! Load benchmark of the API in local mode with fake providers, on 127.0.0.1 only.
//!
//! `cargo run --release -p pixel-prompt-api --example load -- [--users 100]
//! [--seconds 20] [--max-requests 40000] [--models 9] [--image-size 256]
//! [--fake-delay-ms 300] [--poll-ms 100]`
//!
//! The program starts itself a second time as the server (`--serve DIR`), so the
//! server's peak RSS (`VmHWM`) is measured apart from the load generator. Each simulated
//! user loops: `POST /generate`, then `GET /status/{jobId}` every `--poll-ms` (100 ms:
//! a stress pace; the web client polls every 2000 ms) until the job finishes. It stops after `--seconds` or `--max-requests`, whichever comes first, and
//! prints p50/p95/p99 latency and the error rate per route.
#![allow(clippy::print_stderr)]

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pixel_prompt_api::config::{Environment, ModelSpec, ProviderKind, RateLimits};
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
                    .clamp(1, 1000)
            }
            "--seconds" => args.seconds = number(value()?)?.clamp(1, 300),
            "--max-requests" => args.max_requests = number(value()?)?.clamp(1, 1_000_000),
            "--models" => {
                args.models = usize::try_from(number(value()?)?).unwrap_or(9).clamp(1, 20)
            }
            "--image-size" => {
                args.image_size = u32::try_from(number(value()?)?)
                    .unwrap_or(256)
                    .clamp(8, 2048)
            }
            "--fake-delay-ms" => args.fake_delay_ms = number(value()?)?,
            "--poll-ms" => args.poll_ms = number(value()?)?.clamp(10, 10_000),
            "--serve" => args.serve = Some(value()?),
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(args)
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
    let mut options = LocalOptions::new(Environment::Dev, LocalStorage::Folder(dir.into()));
    options.port = 0;
    options.fake_providers = true;
    options.models = models(args.models);
    options.fake_delay = Duration::from_millis(args.fake_delay_ms);
    options.fake_image_size = args.image_size;
    options.rate_limits = RateLimits {
        global_per_hour: 1_000_000,
        ip_per_day: 1_000_000,
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

    let data = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: no temporary folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut child = match Command::new(exe)
        .args(std::env::args().skip(1))
        .arg("--serve")
        .arg(data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: could not start the server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let Some(base) = line.trim().strip_prefix("LISTENING=").map(str::to_owned) else {
        eprintln!("error: the server did not start: {line:?}");
        let _ = child.kill();
        return ExitCode::FAILURE;
    };
    if !base.starts_with("http://127.0.0.1:") {
        eprintln!("error: refusing to load a non-loopback address {base}");
        let _ = child.kill();
        return ExitCode::FAILURE;
    }
    let idle_rss = peak_rss_kib(child.id());

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.users)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
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
    // Let the last jobs finish so the peak includes their images.
    tokio::time::sleep(Duration::from_millis(args.fake_delay_ms + 500)).await;
    let peak = peak_rss_kib(child.id());
    drop(child.stdin.take());
    let _ = child.wait();

    let mut s = samples.lock().await;
    s.generate.sort();
    s.status.sort();
    let total = (s.generate.len() + s.status.len()) as f64;
    println!(
        "users={} poll={}ms models={} image={}px fake_delay={}ms wall={:.1}s requests={} throughput={:.0} req/s",
        args.users,
        args.poll_ms,
        args.models,
        args.image_size,
        args.fake_delay_ms,
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
    println!(
        "server peak RSS: {} MiB (idle after start: {} MiB)",
        peak.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
        idle_rss.map_or("?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
    );
    if s.generate_errors + s.status_errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
