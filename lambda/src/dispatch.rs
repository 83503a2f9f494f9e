//! Hands a recorded job to the worker without running it inside the HTTP request: an
//! asynchronous invocation of this same Lambda function (`InvocationType::Event`), or a
//! tokio task in local mode.

use std::sync::Arc;

use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};

use tracing::Instrument;

use crate::worker::Worker;

/// The payload of a worker invocation; `main` tells it from an HTTP event by its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerEvent {
    #[serde(rename = "pixelPromptWorker")]
    pub task: WorkerTask,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerTask {
    pub job_id: String,
    /// The `X-Correlation-ID` of the request that created the job, for the worker's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl WorkerEvent {
    /// The worker task in a raw Lambda payload, if it is one.
    pub fn from_payload(payload: &serde_json::Value) -> Option<Self> {
        payload.get("pixelPromptWorker")?;
        serde_json::from_value(payload.clone()).ok()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("could not start the worker for job `{job_id}`: {message}")]
pub struct DispatchError {
    pub job_id: String,
    pub message: String,
}

/// How jobs reach the worker.
#[derive(Debug, Clone)]
pub enum Dispatcher {
    /// `lambda:InvokeFunction` on `AWS_LAMBDA_FUNCTION_NAME`, `InvocationType` `Event`.
    Lambda {
        client: aws_sdk_lambda::Client,
        function_name: String,
    },
    /// A tokio task in this process (local mode, tests).
    Spawn(Arc<Worker>),
}

impl Dispatcher {
    pub async fn dispatch(
        &self,
        job_id: &str,
        correlation_id: Option<&str>,
    ) -> Result<(), DispatchError> {
        match self {
            Self::Lambda {
                client,
                function_name,
            } => {
                let event = WorkerEvent {
                    task: WorkerTask {
                        job_id: job_id.to_owned(),
                        correlation_id: correlation_id.map(str::to_owned),
                    },
                };
                let payload = serde_json::to_vec(&event).map_err(|e| DispatchError {
                    job_id: job_id.to_owned(),
                    message: e.to_string(),
                })?;
                client
                    .invoke()
                    .function_name(function_name)
                    .invocation_type(InvocationType::Event)
                    .payload(Blob::new(payload))
                    .send()
                    .await
                    .map_err(|e| DispatchError {
                        job_id: job_id.to_owned(),
                        message: DisplayErrorContext(&e).to_string(),
                    })?;
                Ok(())
            }
            Self::Spawn(worker) => {
                let worker = Arc::clone(worker);
                let job_id = job_id.to_owned();
                let span = tracing::info_span!(
                    "worker",
                    job_id = %job_id,
                    correlation_id = correlation_id.unwrap_or_default(),
                );
                tokio::spawn(
                    async move {
                        if let Err(e) = worker.run(&job_id).await {
                            tracing::error!(error = %e, "worker failed");
                        }
                    }
                    .instrument(span),
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_payload_round_trip() {
        let event = WorkerEvent {
            task: WorkerTask {
                job_id: "abc".into(),
                correlation_id: Some("c-1".into()),
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"pixelPromptWorker": {"jobId": "abc", "correlationId": "c-1"}})
        );
        assert_eq!(WorkerEvent::from_payload(&json), Some(event));
        let old = serde_json::json!({"pixelPromptWorker": {"jobId": "abc"}});
        assert_eq!(
            WorkerEvent::from_payload(&old).unwrap().task.correlation_id,
            None
        );
        let http_event = serde_json::json!({"version": "2.0", "rawPath": "/generate"});
        assert_eq!(WorkerEvent::from_payload(&http_event), None);
    }
}
