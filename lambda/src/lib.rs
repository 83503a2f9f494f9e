//! The Pixel Prompt API: an axum router (`app`) that runs on AWS Lambda behind an API
//! Gateway HTTP API (see `main.rs`) and locally on 127.0.0.1 (see [`local`]).
//!
//! A request records a job and hands it to the worker ([`dispatch`]); the worker calls
//! every configured model ([`providers`]) and stores real image files under `images/`
//! ([`store`]), which CloudFront serves.

pub mod assemble;
pub mod build;
pub mod clock;
pub mod config;
pub mod dispatch;
pub mod enhance;
pub mod error;
pub mod gallery;
pub mod image;
pub mod job;
pub mod lambda_entry;
pub mod local;
pub mod metrics;
pub mod middleware;
pub mod providers;
pub mod ratelimit;
pub mod routes;
pub mod secrets;
pub mod store;
pub mod telemetry;
pub mod validation;
pub mod worker;

use std::sync::Arc;

pub use error::AppError;

use config::{Environment, RateLimits};
use dispatch::Dispatcher;
use enhance::Enhancer;
use job::JobStore;
use providers::Generator;
use ratelimit::RateLimiter;
use store::ObjectStore;
use worker::Worker;

/// How the router reaches the worker.
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
#[derive(Debug)]
pub struct StateParts {
    pub environment: Environment,
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
#[derive(Debug, Clone)]
pub struct AppState(Arc<StateInner>);

#[derive(Debug)]
pub struct StateInner {
    pub environment: Environment,
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

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// The API's router with its middleware (CORS, correlation id, request log).
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}
