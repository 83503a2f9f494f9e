//! AWS errors by kind, decided from the SDK's error code and the HTTP status, not
//! from message text, so a caller branches on `kind` instead of searching strings.

use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::config::http::HttpResponse;

/// What an AWS error means to pixelctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked about does not exist (no such stack, key, bucket, function...).
    NotFound,
    /// A conditional request's condition does not hold (S3 `412 PreconditionFailed`).
    PreconditionFailed,
    /// A concurrent conditional write; nothing was written (S3 `409 ConditionalRequestConflict`).
    Conflict,
    /// AWS asked to slow down (after the SDK's own retries).
    Throttled,
    /// The credentials may not do this, or are not valid.
    AccessDenied,
    /// Anything else: the code and message say what.
    Other,
}

/// The kind of an error AWS answered with `code` (and HTTP `status`, for answers
/// without a body, such as HEAD requests). `message` is read in one case only:
/// CloudFormation has no code of its own for a missing stack, only a
/// `ValidationError` saying the stack "does not exist".
pub fn kind_of(code: Option<&str>, message: Option<&str>, status: Option<u16>) -> ErrorKind {
    match code {
        Some(
            "NoSuchKey"
            | "NoSuchBucket"
            | "NotFound"
            | "NoSuchVersion"
            | "NoSuchEntity"
            | "NoSuchDistribution"
            | "NoSuchInvalidation"
            | "ResourceNotFoundException"
            | "ParameterNotFound"
            | "ChangeSetNotFound"
            | "StackNotFoundException"
            | "LogGroupNotFoundException",
        ) => ErrorKind::NotFound,
        Some("ValidationError") if message.is_some_and(|text| text.contains("does not exist")) => {
            ErrorKind::NotFound
        }
        Some("PreconditionFailed") => ErrorKind::PreconditionFailed,
        Some("ConditionalRequestConflict") => ErrorKind::Conflict,
        Some(
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "ProvisionedThroughputExceededException"
            | "PriorRequestNotComplete"
            | "BandwidthLimitExceeded",
        ) => ErrorKind::Throttled,
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "Forbidden"
            | "UnauthorizedOperation"
            | "AuthorizationError"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "SignatureDoesNotMatch",
        ) => ErrorKind::AccessDenied,
        Some(_) => ErrorKind::Other,
        None => match status {
            Some(404) => ErrorKind::NotFound,
            Some(412) => ErrorKind::PreconditionFailed,
            Some(409) => ErrorKind::Conflict,
            Some(429 | 503) => ErrorKind::Throttled,
            Some(401 | 403) => ErrorKind::AccessDenied,
            _ => ErrorKind::Other,
        },
    }
}

/// The kind of an SDK error (any service: they share the error metadata and HTTP types).
/// An error AWS did not answer (no connection, a timeout) is `Other`.
pub fn kind<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> ErrorKind {
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    match error {
        SdkError::ServiceError(service) => {
            kind_of(service.err().code(), service.err().message(), status)
        }
        _ => ErrorKind::Other,
    }
}

/// A failed AWS call: what pixelctl was doing, the kind, and AWS's code and message.
/// Displays as "{action}: {code}: {message}" (or the SDK's cause chain when AWS did not answer).
#[derive(Debug, thiserror::Error)]
#[error("{action}: {detail}")]
pub struct AwsError {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub action: String,
    detail: String,
}

impl AwsError {
    /// `action` says what failed, e.g. "cannot read stack `pixel-prompt-dev`".
    pub fn new<E>(action: impl Into<String>, error: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self {
            kind: kind(error),
            code: error
                .as_service_error()
                .and_then(|service| service.code().map(str::to_owned)),
            action: action.into(),
            detail: super::describe_error(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_codes_and_statuses() {
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<u16>, ErrorKind);
        let cases: &[Case] = &[
            (Some("NoSuchKey"), None, Some(404), ErrorKind::NotFound),
            (Some("NoSuchBucket"), None, Some(404), ErrorKind::NotFound),
            (Some("NotFound"), None, Some(404), ErrorKind::NotFound),
            (
                Some("ResourceNotFoundException"),
                Some("Function not found"),
                Some(404),
                ErrorKind::NotFound,
            ),
            (
                Some("ParameterNotFound"),
                None,
                Some(400),
                ErrorKind::NotFound,
            ),
            (
                Some("ValidationError"),
                Some("Stack with id pixel-prompt-dev does not exist"),
                Some(400),
                ErrorKind::NotFound,
            ),
            // Any other validation error is not "not found"...
            (
                Some("ValidationError"),
                Some("Template format error"),
                Some(400),
                ErrorKind::Other,
            ),
            // ... and an access error quoting "does not exist" stays an access error.
            (
                Some("AccessDenied"),
                Some("the policy that would allow it does not exist"),
                Some(403),
                ErrorKind::AccessDenied,
            ),
            (
                Some("PreconditionFailed"),
                None,
                Some(412),
                ErrorKind::PreconditionFailed,
            ),
            (
                Some("ConditionalRequestConflict"),
                None,
                Some(409),
                ErrorKind::Conflict,
            ),
            (
                Some("Throttling"),
                Some("Rate exceeded"),
                Some(400),
                ErrorKind::Throttled,
            ),
            (
                Some("ThrottlingException"),
                None,
                Some(400),
                ErrorKind::Throttled,
            ),
            (
                Some("TooManyRequestsException"),
                None,
                Some(429),
                ErrorKind::Throttled,
            ),
            (Some("SlowDown"), None, Some(503), ErrorKind::Throttled),
            (
                Some("AccessDeniedException"),
                None,
                Some(400),
                ErrorKind::AccessDenied,
            ),
            (
                Some("ExpiredToken"),
                None,
                Some(400),
                ErrorKind::AccessDenied,
            ),
            (
                Some("InvalidClientTokenId"),
                None,
                Some(403),
                ErrorKind::AccessDenied,
            ),
            (
                Some("InternalError"),
                Some("We encountered an internal error"),
                Some(500),
                ErrorKind::Other,
            ),
            // HEAD answers have no body: the status decides.
            (None, None, Some(404), ErrorKind::NotFound),
            (None, None, Some(403), ErrorKind::AccessDenied),
            (None, None, Some(412), ErrorKind::PreconditionFailed),
            (None, None, Some(500), ErrorKind::Other),
            (None, None, None, ErrorKind::Other),
        ];
        for &(code, message, status, expected) in cases {
            assert_eq!(
                kind_of(code, message, status),
                expected,
                "{code:?} {message:?} {status:?}"
            );
        }
    }
}
