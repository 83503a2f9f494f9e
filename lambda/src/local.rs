//! Local mode: the same router served on 127.0.0.1 for frontend development, with jobs
//! and images in a local folder or in S3 (the local AWS), and optionally the built-in
//! fake providers so no API key is needed.
//!
//! `pixelctl local [--port N] [--data-dir DIR | --s3-endpoint URL --bucket B]
//! [--fake-providers] [--env dev]` maps onto [`LocalOptions`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), pixel_prompt_api::local::LocalError> {
//! use pixel_prompt_api::config::{EnvironmentName, ModelSpec, ProviderKind};
//! use pixel_prompt_api::local::{self, LocalOptions, LocalStorage};
//! // The environment's models: `pixelctl local` passes what its file lists.
//! let models = vec![ModelSpec {
//!     name: "GPT Image 2.6 Sunburst".into(),
//!     provider: ProviderKind::Openai,
//!     model: "gpt-image-2.6-sunburst".into(),
//! }];
//! let storage = LocalStorage::Folder(".pixelctl/local".into());
//! let mut options = LocalOptions::new(EnvironmentName::dev(), storage, models);
//! options.port = 3001;
//! options.fake_providers = true;
//! let server = local::bind(options).await?;      // binds 127.0.0.1 only
//! eprintln!("API on {}", server.base_url());
//! server.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! `serve(options)` does the same and stops on Ctrl-C. Images are served at
//! `GET /images/...` and the URLs in `/status` point there. Without fake providers the
//! models call the real providers, with keys from `provider_keys` (`env:NAME` reads a
//! variable of this process; `ssm:`/`secretsmanager:` read the local AWS in S3 mode).
//! Logs go to whatever `tracing` subscriber the caller installed
//! ([`crate::telemetry::init_json_logs`] installs the JSON one).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use tokio::net::TcpListener;

use crate::config::{
    DEFAULT_MODEL_TIMEOUT, EnhanceSpec, EnvironmentName, KeyLocation, ModelSpec, ProviderKind,
    RateLimits,
};
use crate::enhance::Enhancer;
use crate::providers::fake::FakeProvider;
use crate::providers::{Backend, Generator};
use crate::secrets::KeyResolver;
use crate::store::{FolderStore, ObjectStore, S3Store};
use crate::{AppState, DispatchMode, StateParts, app, assemble};

/// Where local mode keeps jobs, images and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalStorage {
    /// `--data-dir DIR`: plain files under DIR (created if missing).
    Folder(PathBuf),
    /// `--s3-endpoint URL --bucket B`: an S3-compatible endpoint such as the local AWS;
    /// the bucket is created if missing. Credentials come from the usual AWS variables,
    /// or dummy ones when none are set.
    S3 {
        endpoint_url: String,
        bucket: String,
        region: String,
    },
}

/// Everything `pixelctl local` can set.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    pub storage: LocalStorage,
    /// Serve placeholder images and a canned `/enhance` instead of calling providers.
    pub fake_providers: bool,
    pub environment: EnvironmentName,
    /// The models of the environment.
    pub models: Vec<ModelSpec>,
    pub enhance_model: Option<EnhanceSpec>,
    pub provider_keys: BTreeMap<ProviderKind, KeyLocation>,
    pub provider_base_urls: BTreeMap<ProviderKind, String>,
    /// CORS origins: any loopback origin by default ([`loopback_origins`]). `*` lets
    /// any web page the developer opens call this API (and spend the provider keys
    /// it holds), so `pixelctl local` allows it only with fake providers.
    pub allowed_origins: Vec<String>,
    pub rate_limits: RateLimits,
    pub model_timeout: Duration,
    /// Simulated generation time of the fake provider.
    pub fake_delay: Duration,
    /// Width and height of fake images, in pixels.
    pub fake_image_size: u32,
}

/// Every origin on this machine, on any port: `http://localhost:*`,
/// `http://127.0.0.1:*`, `http://[::1]:*` (a dev server, a preview, the old web
/// client on its port 3000).
pub fn loopback_origins() -> Vec<String> {
    ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

impl LocalOptions {
    /// Options that serve `models` (the environment's: pixelctl passes what the
    /// environment file lists, so this crate repeats no environment).
    pub fn new(
        environment: EnvironmentName,
        storage: LocalStorage,
        models: Vec<ModelSpec>,
    ) -> Self {
        let fake = FakeProvider::default();
        Self {
            port: 3001,
            storage,
            fake_providers: false,
            environment,
            models,
            enhance_model: None,
            provider_keys: BTreeMap::new(),
            provider_base_urls: BTreeMap::new(),
            allowed_origins: loopback_origins(),
            rate_limits: RateLimits::default(),
            model_timeout: DEFAULT_MODEL_TIMEOUT,
            fake_delay: fake.delay,
            fake_image_size: fake.size,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create the data folder `{path}`: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bucket `{bucket}` at `{endpoint}` is not usable: {message}")]
    Bucket {
        bucket: String,
        endpoint: String,
        message: String,
    },
    #[error("the local server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// A bound local server, not yet serving.
pub struct LocalServer {
    listener: TcpListener,
    router: axum::Router,
    addr: SocketAddr,
}

impl LocalServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the value for the frontend's `VITE_API_ENDPOINT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LocalError> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(LocalError::Serve)
    }
}

async fn local_s3(endpoint_url: &str, region: &str) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(Region::new(region.to_owned()));
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none()
    {
        loader = loader.credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "pixelctl-local",
        ));
    }
    loader.load().await
}

async fn ensure_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
    endpoint: &str,
) -> Result<(), LocalError> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut request = client.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request
        .send()
        .await
        .map(|_| ())
        .map_err(|e| LocalError::Bucket {
            bucket: bucket.to_owned(),
            endpoint: endpoint.to_owned(),
            message: DisplayErrorContext(&e).to_string(),
        })
}

/// Binds 127.0.0.1:`port` and builds the router for `options`.
pub async fn bind(options: LocalOptions) -> Result<LocalServer, LocalError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port))
        .await
        .map_err(|source| LocalError::Bind {
            port: options.port,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| LocalError::Bind {
        port: options.port,
        source,
    })?;

    let (store, aws) = match &options.storage {
        LocalStorage::Folder(path) => {
            tokio::fs::create_dir_all(path)
                .await
                .map_err(|source| LocalError::DataDir {
                    path: path.display().to_string(),
                    source,
                })?;
            (ObjectStore::Folder(FolderStore::new(path)), None)
        }
        LocalStorage::S3 {
            endpoint_url,
            bucket,
            region,
        } => {
            let sdk = local_s3(endpoint_url, region).await;
            let client = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(true)
                    .build(),
            );
            ensure_bucket(&client, bucket, region, endpoint_url).await?;
            (
                ObjectStore::S3(S3Store::new(client, bucket.clone())),
                Some(sdk),
            )
        }
    };

    let base_url = format!("http://{addr}");
    let (generator, enhancer) = if options.fake_providers {
        (
            Generator {
                models: options.models.clone(),
                backend: Backend::Fake(FakeProvider::new(
                    options.fake_delay,
                    options.fake_image_size,
                )),
                model_timeout: options.model_timeout,
            },
            Enhancer::Fake,
        )
    } else {
        let keys = Arc::new(KeyResolver::new(options.provider_keys.clone(), aws));
        // Bedrock uses the machine's own AWS configuration, not the local endpoint.
        let bedrock_sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
        (
            assemble::real_generator(
                options.models.clone(),
                Arc::clone(&keys),
                options.provider_base_urls.clone(),
                Some(bedrock_sdk),
                options.model_timeout,
            ),
            assemble::real_enhancer(
                options.enhance_model.clone(),
                keys,
                options.provider_base_urls.clone(),
            ),
        )
    };
    tracing::info!(
        address = %base_url,
        environment = %options.environment,
        fake_providers = options.fake_providers,
        models = options.models.len(),
        "Pixel Prompt API (local mode) listening"
    );
    let state = AppState::new(StateParts {
        environment: options.environment,
        allowed_origins: options.allowed_origins,
        image_base_url: base_url,
        store,
        rate_limits: options.rate_limits,
        generator,
        enhancer,
        dispatch: DispatchMode::InProcess,
        serve_images: true,
        worker_timeout: options.model_timeout + Duration::from_mins(1),
        gallery_days: crate::config::DEFAULT_IMAGE_EXPIRY_DAYS,
        emit_metrics: false,
    });
    Ok(LocalServer {
        listener,
        router: app(state),
        addr,
    })
}

/// Serves `options` on 127.0.0.1 until Ctrl-C.
#[allow(
    clippy::print_stderr,
    reason = "the standalone local API's one banner says where it listens; there is no ui layer in this binary"
)]
pub async fn serve(options: LocalOptions) -> Result<(), LocalError> {
    let fake = options.fake_providers;
    let server = bind(options).await?;
    eprintln!(
        "Pixel Prompt API on {}{} (Ctrl-C stops)",
        server.base_url(),
        if fake { " with FAKE providers" } else { "" }
    );
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
