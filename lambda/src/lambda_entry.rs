//! The Lambda side of the API: builds the state from the environment, and routes each
//! invocation either to the router (API Gateway HTTP API, payload 2.0) or, for the
//! asynchronous worker payload, to the worker.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_config::BehaviorVersion;
use axum::Router;
use axum::http::Uri;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Adapter, LambdaEvent, Service};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::config::{ApiConfig, ConfigError};
use crate::dispatch::WorkerEvent;
use crate::secrets::KeyResolver;
use crate::store::{ObjectStore, S3Store};
use crate::worker::WorkerError;
use crate::{AppState, DispatchMode, StateParts, app, assemble};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("environment variable `AWS_LAMBDA_FUNCTION_NAME` is not set (not running on Lambda?)")]
    NoFunctionName,
}

/// The state of a Lambda instance, from its environment variables.
pub async fn state_from_env() -> Result<AppState, StartupError> {
    let settings = ApiConfig::from_lookup(|name| std::env::var(name).ok())?;
    let function_name = settings
        .function_name
        .clone()
        .ok_or(StartupError::NoFunctionName)?;
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let store = ObjectStore::S3(S3Store::new(
        aws_sdk_s3::Client::new(&sdk),
        settings.images_bucket.clone(),
    ));
    let keys = Arc::new(KeyResolver::new(
        settings.provider_keys.clone(),
        Some(sdk.clone()),
    ));
    let generator = assemble::real_generator(
        settings.models.clone(),
        Arc::clone(&keys),
        settings.provider_base_urls.clone(),
        Some(sdk.clone()),
        settings.model_timeout,
    );
    let enhancer = assemble::real_enhancer(
        settings.enhance.clone(),
        keys,
        settings.provider_base_urls.clone(),
    );
    tracing::info!(
        environment = %settings.environment,
        models = settings.models.len(),
        "Pixel Prompt API starting"
    );
    Ok(AppState::new(StateParts {
        environment: settings.environment,
        allowed_origins: settings.allowed_origins,
        image_base_url: settings.image_base_url,
        store,
        rate_limits: settings.rate_limits,
        generator,
        enhancer,
        dispatch: DispatchMode::Lambda {
            client: aws_sdk_lambda::Client::new(&sdk),
            // The stack's worker function; this one when the stack has none.
            function_name: settings.worker_function_name.unwrap_or(function_name),
        },
        serve_images: false,
        worker_timeout: settings.worker_timeout,
        gallery_days: settings.image_expiry_days,
        emit_metrics: true,
    }))
}

/// The path without a named stage prefix (`/prod/generate` -> `/generate`); `None` if
/// there is nothing to strip. The old API broke under a named stage.
pub fn strip_stage(path: &str, stage: Option<&str>) -> Option<String> {
    let stage = stage.filter(|s| !s.is_empty() && *s != "$default")?;
    let prefix = format!("/{stage}");
    let rest = path.strip_prefix(&prefix)?;
    if rest.is_empty() {
        Some("/".to_owned())
    } else if rest.starts_with('/') {
        Some(rest.to_owned())
    } else {
        None
    }
}

/// The router, with the stage prefix removed from each path first.
#[derive(Clone)]
pub struct StageStripping(pub Router);

impl Service<lambda_http::Request> for StageStripping {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = axum::routing::future::RouteFuture<Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <Router as Service<lambda_http::Request>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, mut request: lambda_http::Request) -> Self::Future {
        let stage = match request.extensions().get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
            _ => None,
        };
        if let Some(path) = strip_stage(request.uri().path(), stage.as_deref()) {
            let path_and_query = match request.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            };
            if let Ok(uri) = path_and_query.parse::<Uri>() {
                *request.uri_mut() = uri;
            }
        }
        self.0.call(request)
    }
}

/// Handles one Lambda invocation: a worker payload or an HTTP event.
pub async fn handle_event(
    state: AppState,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_http::Error> {
    let router = app(state.clone());
    handle_event_with(state, router, event).await
}

/// [`handle_event`] with a router built once per instance.
pub async fn handle_event_with(
    state: AppState,
    router: Router,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_http::Error> {
    let LambdaEvent { payload, context } = event;
    if let Some(worker_event) = WorkerEvent::from_payload(&payload) {
        let job_id = worker_event.task.job_id;
        let span = tracing::info_span!(
            "worker",
            job_id = %job_id,
            correlation_id = worker_event.task.correlation_id.as_deref().unwrap_or_default(),
            request_id = %context.request_id,
        );
        return match state.worker.run(&job_id).instrument(span).await {
            Ok(status) => Ok(json!({"jobId": job_id, "status": status})),
            // Retrying cannot make a missing job appear: report and finish.
            Err(WorkerError::JobMissing(id)) => {
                tracing::error!(job_id = %id, "worker invoked for a job that does not exist");
                Ok(json!({"jobId": id, "error": "JOB_NOT_FOUND"}))
            }
            // A store failure may pass: fail the invocation so Lambda retries it.
            Err(e) => Err(e.into()),
        };
    }
    let request: LambdaRequest = serde_json::from_value(payload)?;
    let mut adapter = Adapter::from(StageStripping(router));
    let response = adapter
        .call(LambdaEvent::new(request, context))
        .await
        .map_err(|never| match never {})?;
    Ok(serde_json::to_value(response)?)
}

/// Runs the Lambda runtime loop until the instance is shut down.
pub async fn run() -> Result<(), lambda_http::Error> {
    let state = state_from_env().await?;
    let router = app(state.clone());
    lambda_http::lambda_runtime::run(lambda_http::service_fn(move |event| {
        handle_event_with(state.clone(), router.clone(), event)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_prefix() {
        let cases = [
            ("/prod/generate", Some("prod"), Some("/generate")),
            ("/prod", Some("prod"), Some("/")),
            ("/generate", Some("prod"), None),
            ("/production/x", Some("prod"), None),
            ("/generate", Some("$default"), None),
            ("/generate", None, None),
        ];
        for (path, stage, expected) in cases {
            assert_eq!(
                strip_stage(path, stage).as_deref(),
                expected,
                "{path} {stage:?}"
            );
        }
    }
}
