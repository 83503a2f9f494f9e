//! The Pixel Prompt API: an axum router (`app`) that runs on AWS Lambda behind an API
//! Gateway HTTP API (see `main.rs`) and locally on 127.0.0.1 (see [`local`]).
//!
//! A request records a job and hands it to the worker ([`dispatch`]); the worker calls
//! every configured model ([`providers`]) and stores real image files under `images/`
//! ([`store`]), which CloudFront serves.

#[cfg(feature = "server")]
pub mod assemble;
#[cfg(feature = "server")]
pub mod build;
pub mod clock;
pub mod config;
#[cfg(feature = "server")]
pub mod dispatch;
#[cfg(feature = "server")]
pub mod enhance;
pub mod error;
#[cfg(feature = "server")]
pub mod gallery;
pub mod image;
#[cfg(feature = "server")]
pub mod job;
#[cfg(feature = "server")]
pub mod lambda_entry;
#[cfg(feature = "server")]
pub mod local;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod middleware;
pub mod providers;
#[cfg(feature = "server")]
pub mod ratelimit;
#[cfg(feature = "server")]
pub mod routes;
pub mod secrets;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;
pub mod validation;
#[cfg(feature = "server")]
pub mod worker;

#[cfg(feature = "server")]
use std::sync::Arc;

#[cfg(feature = "server")]
pub use error::AppError;

#[cfg(feature = "server")]
use config::{EnvironmentName, RateLimits};
#[cfg(feature = "server")]
use dispatch::Dispatcher;
#[cfg(feature = "server")]
use enhance::Enhancer;
#[cfg(feature = "server")]
use job::JobStore;
#[cfg(feature = "server")]
use providers::Generator;
#[cfg(feature = "server")]
use ratelimit::RateLimiter;
#[cfg(feature = "server")]
use store::ObjectStore;
#[cfg(feature = "server")]
use worker::Worker;

/// How the router reaches the worker.
#[cfg(feature = "server")]
#[derive(Debug, Clone)]
pub enum DispatchMode {
    /// Invoke this Lambda function asynchronously.
    Lambda {
        client: aws_sdk_lambda::Client,
        function_name: String,
    },
    /// Run the worker as a tokio task in this process.
    InProcess,
}

/// The parts an [`AppState`] is made of.
#[cfg(feature = "server")]
#[derive(Debug)]
pub struct StateParts {
    pub environment: EnvironmentName,
    pub allowed_origins: Vec<String>,
    /// Prefix of image URLs: `https://{CLOUDFRONT_DOMAIN}` or the local server.
    pub image_base_url: String,
    pub store: ObjectStore,
    pub rate_limits: RateLimits,
    pub generator: Generator,
    pub enhancer: Enhancer,
    pub dispatch: DispatchMode,
    /// Serve `GET /images/...` from the store (local mode: no CloudFront).
    pub serve_images: bool,
    /// The worker's time limit: `GET /status` reports a job unfinished well past it
    /// as failed ([`job::stale_after`]).
    pub worker_timeout: std::time::Duration,
    /// Days the bucket keeps gallery entries: the window `total` counts.
    pub gallery_days: u32,
    /// Write a metric record per model outcome on stdout (on Lambda: CloudWatch).
    pub emit_metrics: bool,
}

/// Shared state of every request; cheap to clone.
#[cfg(feature = "server")]
#[derive(Debug, Clone)]
pub struct AppState(Arc<StateInner>);

#[cfg(feature = "server")]
#[derive(Debug)]
pub struct StateInner {
    pub environment: EnvironmentName,
    pub allowed_origins: Vec<String>,
    pub image_base_url: String,
    pub store: ObjectStore,
    pub jobs: JobStore,
    pub limiter: RateLimiter,
    pub worker: Arc<Worker>,
    pub dispatcher: Dispatcher,
    pub enhancer: Enhancer,
    pub serve_images: bool,
    /// How long after its creation an unfinished job is reported failed.
    pub stale_after: std::time::Duration,
}

#[cfg(feature = "server")]
impl AppState {
    pub fn new(parts: StateParts) -> Self {
        let jobs = JobStore::new(parts.store.clone());
        let worker = Arc::new(Worker {
            store: parts.store.clone(),
            jobs: jobs.clone(),
            generator: parts.generator,
            image_base_url: parts.image_base_url.clone(),
            gallery_days: parts.gallery_days,
            metrics: parts.emit_metrics.then(|| parts.environment.clone()),
        });
        let dispatcher = match parts.dispatch {
            DispatchMode::Lambda {
                client,
                function_name,
            } => Dispatcher::Lambda {
                client,
                function_name,
            },
            DispatchMode::InProcess => Dispatcher::Spawn(Arc::clone(&worker)),
        };
        Self(Arc::new(StateInner {
            environment: parts.environment,
            allowed_origins: parts.allowed_origins,
            image_base_url: parts.image_base_url,
            limiter: RateLimiter::new(parts.store.clone(), parts.rate_limits),
            store: parts.store,
            jobs,
            worker,
            dispatcher,
            enhancer: parts.enhancer,
            serve_images: parts.serve_images,
            stale_after: job::stale_after(parts.worker_timeout),
        }))
    }

    /// Whether images come from the fake provider.
    pub fn is_fake(&self) -> bool {
        self.0.worker.generator.is_fake()
    }
}

#[cfg(feature = "server")]
impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// The API's router with its middleware (CORS, correlation id, request log).
#[cfg(feature = "server")]
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}
