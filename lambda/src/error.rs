//! The API's error type: every handler returns `Result<_, AppError>`, and this module
//! turns an error into the old JSON shape `{error, message, details?, retryAfter?}`.

#[cfg(feature = "server")]
use axum::Json;
#[cfg(feature = "server")]
use axum::response::{IntoResponse, Response};
use http::StatusCode;
#[cfg(feature = "server")]
use http::{HeaderValue, header};
#[cfg(feature = "server")]
use serde::Serialize;

/// An error a client sees. Internal causes are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("prompt is required")]
    PromptRequired,
    #[error("prompt is {length} characters; the limit is {max}")]
    PromptTooLong { length: usize, max: usize },
    #[error("prompt contains blocked content")]
    InappropriateContent { term: String },
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("rate limit exceeded: {scope}")]
    RateLimited {
        scope: &'static str,
        retry_after_secs: u64,
    },
    #[error("job `{0}` not found")]
    JobNotFound(String),
    #[error("gallery id `{0}` is not valid")]
    InvalidGalleryId(String),
    #[error("the rate limiter is busy; retry shortly")]
    Busy,
    #[error("internal error: {0}")]
    Internal(String),
}

#[cfg(feature = "server")]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The machine-readable code of the old API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PromptRequired => "PROMPT_REQUIRED",
            Self::PromptTooLong { .. } => "PROMPT_TOO_LONG",
            Self::InappropriateContent { .. } => "INAPPROPRIATE_CONTENT",
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::InvalidParameter(_) => "INVALID_PARAMETER",
            Self::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
            Self::JobNotFound(_) => "JOB_NOT_FOUND",
            Self::InvalidGalleryId(_) => "INVALID_GALLERY_ID",
            Self::Busy => "SERVICE_BUSY",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::PromptRequired
            | Self::PromptTooLong { .. }
            | Self::InappropriateContent { .. }
            | Self::InvalidJson(_)
            | Self::InvalidParameter(_)
            | Self::InvalidGalleryId(_) => StatusCode::BAD_REQUEST,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::JobNotFound(_) => StatusCode::NOT_FOUND,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    #[cfg(feature = "server")]
    fn body(&self) -> ErrorBody<'static> {
        let (message, details, retry_after) = match self {
            Self::PromptTooLong { length, max } => (
                format!("Prompt must be at most {max} characters"),
                Some(serde_json::json!({"length": length, "maxLength": max})),
                None,
            ),
            Self::InappropriateContent { .. } => (
                "Prompt contains content that is not allowed".to_owned(),
                None,
                None,
            ),
            Self::RateLimited {
                scope,
                retry_after_secs,
            } => (
                match *scope {
                    "ip" => "Too many requests from this IP address today".to_owned(),
                    _ => "Too many requests to the service this hour".to_owned(),
                },
                Some(serde_json::json!({"limit": scope})),
                Some(*retry_after_secs),
            ),
            Self::Busy => (self.to_string(), None, Some(1)),
            Self::Internal(_) => ("An internal error occurred".to_owned(), None, None),
            Self::PromptRequired => ("Prompt is required".to_owned(), None, None),
            other => (other.to_string(), None, None),
        };
        ErrorBody {
            error: self.code(),
            message,
            details,
            retry_after,
        }
    }
}

#[cfg(feature = "server")]
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(cause) => {
                tracing::error!(error.code = self.code(), cause = %cause, "request failed");
            }
            Self::InappropriateContent { term } => {
                tracing::warn!(error.code = self.code(), blocked_term = %term, "request refused");
            }
            _ => tracing::info!(
                error.code = self.code(),
                status = status.as_u16(),
                "request refused"
            ),
        }
        let body = self.body();
        let retry_after = body.retry_after;
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
