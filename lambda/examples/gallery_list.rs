//! What `GET /gallery/list` costs as the gallery grows: local mode on a folder (as
//! `pixelctl local` runs), on 127.0.0.1 only.
//!
//! `cargo run --release -p pixel-prompt-api --example gallery_list -- [--galleries 1500]
//! [--users 100] [--seconds 10]`
//!
//! Seeds `--galleries` finished generations (each one's gallery entry, recorded as
//! the worker records it), starts the server as a second process (`--serve DIR`),
//! then runs `--users` concurrent clients for `--seconds` against
//! `GET /gallery/list`, and for comparison as long against `GET /status/{jobId}`,
//! and prints requests per second and p50/p95/p99 latency for each.
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
use std::time::{Duration, Instant, SystemTime};

use pixel_prompt_api::config::{EnvironmentName, ModelSpec, ProviderKind, RateLimits};
use pixel_prompt_api::gallery;
use pixel_prompt_api::job::{Job, JobStore};
use pixel_prompt_api::local::{self, LocalOptions, LocalStorage};
use pixel_prompt_api::store::{FolderStore, ObjectStore};
use tokio::sync::Mutex;

/// The three models each seeded job and the server have (fake providers serve them).
fn models() -> Vec<ModelSpec> {
    [
        ProviderKind::Openai,
        ProviderKind::Gemini,
        ProviderKind::Bedrock,
    ]
    .into_iter()
    .map(|provider| ModelSpec {
        name: format!("{provider} model"),
        provider,
        model: format!("{provider}-model"),
    })
    .collect()
}

struct Args {
    galleries: u64,
    users: usize,
    seconds: u64,
    serve: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        galleries: 1500,
        users: 100,
        seconds: 10,
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
            "--galleries" => args.galleries = number(value()?)?.clamp(1, 1_000_000),
            "--users" => {
                args.users = usize::try_from(number(value()?)?)
                    .unwrap_or(100)
                    .clamp(1, 1000);
            }
            "--seconds" => args.seconds = number(value()?)?.clamp(1, 300),
            "--serve" => args.serve = Some(value()?),
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(args)
}

const JOB_ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

/// Records `count` finished generations, one second apart, as the worker does.
async fn seed(dir: &std::path::Path, count: u64) -> Result<(), String> {
    let store = ObjectStore::Folder(FolderStore::new(dir));
    let start = SystemTime::now() - Duration::from_secs(count + 60);
    for i in 0..count {
        let id = format!("{i:08x}-0000-4000-8000-000000000000");
        gallery::record(
            &store,
            &id,
            start + Duration::from_secs(i),
            format!("http://127.0.0.1/images/{id}/00-model.png"),
            3,
            pixel_prompt_api::config::DEFAULT_IMAGE_EXPIRY_DAYS,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let job = Job::new(
        JOB_ID.into(),
        "a lighthouse".into(),
        pixel_prompt_api::validation::GenerationParams::default(),
        &models(),
        SystemTime::now(),
    );
    JobStore::new(store)
        .save(&job)
        .await
        .map_err(|e| e.to_string())
}

async fn serve(dir: &str) -> ExitCode {
    let mut options = LocalOptions::new(
        EnvironmentName::dev(),
        LocalStorage::Folder(dir.into()),
        models(),
    );
    options.port = 0;
    options.fake_providers = true;
    options.rate_limits = RateLimits {
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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// `users` clients hammering `url` for `seconds`; prints one line of results.
async fn hammer(label: &str, url: &str, users: usize, seconds: u64) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(users)
        .build()
        .map_err(|e| e.to_string())?;
    let samples: Arc<Mutex<(Vec<Duration>, u64)>> = Arc::default();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..users {
        let (http, url, samples) = (http.clone(), url.to_owned(), Arc::clone(&samples));
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                let mut s = samples.lock().await;
                s.0.push(t.elapsed());
                if !ok {
                    s.1 += 1;
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let (mut latencies, errors) = std::mem::take(&mut *samples.lock().await);
    latencies.sort();
    println!(
        "{label:<18} {:>8.0} req/s  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  ({} requests, {errors} errors)",
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        latencies.len()
    );
    Ok(())
}

async fn measure(args: &Args) -> Result<(), String> {
    let dir = tempfile_dir()?;
    seed(&dir, args.galleries).await?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut server = Command::new(exe)
        .args(["--serve", &dir.display().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let stdout = server.stdout.take().ok_or("no server stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let base = line
        .trim()
        .strip_prefix("LISTENING=")
        .ok_or_else(|| format!("unexpected server output: {line:?}"))?
        .to_owned();
    println!(
        "{} galleries, {} concurrent users, {} s per route, server {base}",
        args.galleries, args.users, args.seconds
    );
    let result = async {
        hammer(
            "GET /gallery/list",
            &format!("{base}/gallery/list"),
            args.users,
            args.seconds,
        )
        .await?;
        hammer(
            "GET /status/{id}",
            &format!("{base}/status/{JOB_ID}"),
            args.users,
            args.seconds,
        )
        .await
    }
    .await;
    drop(server.stdin.take());
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("gallery-list-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = &args.serve {
        return runtime.block_on(serve(dir));
    }
    match runtime.block_on(measure(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
