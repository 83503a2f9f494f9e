//! The HTTP routes of the old contract (`/generate`, `/status/{jobId}`, `/enhance`,
//! `/gallery/...`, `/log`) and the JSON 404 for anything else.

use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::AppError;
use crate::gallery;
use crate::job::Job;
use crate::middleware::{ClientIp, CorrelationId, around_request};
use crate::ratelimit::LimitScope;
use crate::validation::{self, MAX_ENHANCE_PROMPT};

/// Longest message `POST /log` keeps; longer ones are cut.
const MAX_LOG_FIELD: usize = 4000;

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/generate", post(generate))
        .route("/status/{job_id}", get(status))
        .route("/enhance", post(enhance))
        .route("/gallery/list", get(gallery_list))
        .route("/gallery/{gallery_id}", get(gallery_detail))
        .route("/log", post(client_log))
        .route("/health", get(health));
    if state.serve_images {
        router = router.route("/images/{*key}", get(image_file));
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            around_request,
        ))
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "Not found", "path": uri.path(), "method": method.as_str()})),
    )
        .into_response()
}

async fn generate(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Extension(CorrelationId(correlation_id)): Extension<CorrelationId>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let input = validation::check_generate(&body)?;
    let now = SystemTime::now();
    state.limiter.admit(LimitScope::Generate, ip, now).await?;

    let job_id = uuid::Uuid::new_v4().to_string();
    let models = &state.worker.generator.models;
    let mut job = Job::new(job_id.clone(), input.prompt, input.params, models, now);
    state.jobs.save(&job).await.map_err(AppError::internal)?;
    if let Err(e) = state
        .dispatcher
        .dispatch(&job_id, Some(&correlation_id))
        .await
    {
        job.fail_unfinished("the job could not be started", SystemTime::now());
        if let Err(save) = state.jobs.save(&job).await {
            tracing::error!(error = %save, "could not record the failed dispatch");
        }
        return Err(AppError::internal(e));
    }
    tracing::info!(
        job_id,
        total_models = models.len(),
        fake = state.is_fake(),
        "job created"
    );
    let mut answer = json!({
        "jobId": job_id,
        "message": "Job created; poll /status/{jobId} for results",
        "totalModels": models.len(),
    });
    if state.is_fake() {
        answer["fake"] = json!(true);
        answer["message"] = json!("Job created with FAKE providers (placeholder images)");
    }
    Ok(Json(answer))
}

async fn status(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<Job>, AppError> {
    if !validation::is_valid_job_id(&job_id) {
        return Err(AppError::JobNotFound(job_id));
    }
    match state.jobs.load(&job_id).await.map_err(AppError::internal)? {
        Some(job) => Ok(Json(job.as_seen_at(SystemTime::now(), state.stale_after))),
        None => Err(AppError::JobNotFound(job_id)),
    }
}

async fn enhance(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    body: Bytes,
) -> Result<Json<crate::enhance::Enhancement>, AppError> {
    let map = validation::parse_object(&body)?;
    let prompt = validation::check_prompt(map.get("prompt"), MAX_ENHANCE_PROMPT)?;
    // Each call is a paid chat completion: its own per-IP and global limits.
    state
        .limiter
        .admit(LimitScope::Enhance, ip, SystemTime::now())
        .await?;
    Ok(Json(state.enhancer.enhance(&prompt).await))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

async fn gallery_list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<gallery::GalleryPage>, AppError> {
    let limit = match query.limit.as_deref() {
        None | Some("") => 20,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| AppError::InvalidParameter("limit must be from 1 to 100".to_owned()))?,
    };
    let cursor = query.cursor.filter(|c| !c.is_empty());
    if cursor
        .as_deref()
        .is_some_and(|c| !gallery::is_valid_cursor(c))
    {
        return Err(AppError::InvalidParameter("cursor is not valid".to_owned()));
    }
    let page = gallery::list(
        &state.store,
        cursor.as_deref(),
        limit,
        state.worker.gallery_days,
    )
    .await
    .map_err(AppError::internal)?;
    Ok(Json(page))
}

async fn gallery_detail(
    State(state): State<AppState>,
    Path(gallery_id): Path<String>,
) -> Result<Json<Value>, AppError> {
    if !validation::is_valid_gallery_id(&gallery_id) {
        return Err(AppError::InvalidGalleryId(gallery_id));
    }
    let images = gallery::images(&state.store, &state.image_base_url, &gallery_id)
        .await
        .map_err(AppError::internal)?;
    Ok(Json(
        json!({"galleryId": gallery_id, "total": images.len(), "images": images}),
    ))
}

fn cut(text: &str) -> String {
    text.chars().take(MAX_LOG_FIELD).collect()
}

async fn client_log(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let map = validation::parse_object(&body)?;
    let message = match map.get("message") {
        Some(Value::String(m)) if !m.trim().is_empty() => cut(m),
        _ => return Err(AppError::InvalidParameter("message is required".to_owned())),
    };
    let level = match map.get("level") {
        None | Some(Value::Null) => "info",
        Some(Value::String(level)) => client_log_level(level).ok_or_else(invalid_level)?,
        Some(_) => return Err(invalid_level()),
    };
    let stack = map.get("stack").and_then(Value::as_str).map(cut);
    let metadata = map.get("metadata").map(|m| cut(&m.to_string()));
    state
        .limiter
        .admit(LimitScope::Log, ip, SystemTime::now())
        .await?;
    let stack = stack.as_deref().unwrap_or_default();
    let metadata = metadata.as_deref().unwrap_or_default();
    match level {
        "error" => tracing::error!(target: "client", message, stack, metadata, "client log"),
        "warn" => tracing::warn!(target: "client", message, stack, metadata, "client log"),
        "debug" => tracing::debug!(target: "client", message, stack, metadata, "client log"),
        _ => tracing::info!(target: "client", message, stack, metadata, "client log"),
    }
    Ok(Json(json!({"success": true})))
}

/// The log level a client names, in any case; the old web client sends `ERROR`,
/// `WARNING`, `INFO` and `DEBUG`.
pub fn client_log_level(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_lowercase().as_str() {
        "debug" => Some("debug"),
        "info" => Some("info"),
        "warn" | "warning" => Some("warn"),
        "error" => Some("error"),
        _ => None,
    }
}

fn invalid_level() -> AppError {
    AppError::InvalidParameter("level must be one of debug, info, warn, error".to_owned())
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "environment": state.environment,
        "models": state.worker.generator.models.len(),
        "fakeProviders": state.is_fake(),
        "build": crate::build::current().await,
    }))
}

/// `GET /images/...` in local mode, where no CloudFront serves the bucket.
async fn image_file(
    State(state): State<AppState>,
    Path(key): Path<String>,
    uri: Uri,
) -> Result<Response, AppError> {
    let key = format!("images/{key}");
    if crate::store::check_key(&key).is_err() {
        return Ok(not_found(Method::GET, uri).await);
    }
    match state.store.get(&key).await.map_err(AppError::internal)? {
        Some(object) => {
            let content_type = object
                .content_type
                .or_else(|| {
                    crate::image::detect(&object.bytes).map(|f| f.content_type().to_owned())
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            Ok((
                [(header::CONTENT_TYPE, content_type)],
                Body::from(object.bytes),
            )
                .into_response())
        }
        None => Ok(not_found(Method::GET, uri).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_log_levels_in_any_case() {
        let cases = [
            ("error", Some("error")),
            ("ERROR", Some("error")),
            ("WARNING", Some("warn")),
            ("warn", Some("warn")),
            ("Info", Some("info")),
            ("DEBUG", Some("debug")),
            ("fatal", None),
            ("", None),
        ];
        for (level, expected) in cases {
            assert_eq!(client_log_level(level), expected, "{level}");
        }
    }
}
