//! Black Forest Labs (Flux): submit a task, poll its result until `Ready`, then
//! download `result.sample`. Only the statuses that end a task end the poll: one the
//! client does not know means the task is still running, until the per-model timeout.

use serde_json::{Value, json};

use super::http::trusted_url;
use super::{ProviderError, ProviderHttp, download, send_json};
use crate::secrets::ApiKey;

/// The `polling_url` BFL returned, if it is safe to send the key there (https on a
/// `bfl.ai` host, or the configured base URL's origin; see [`trusted_url`]).
/// Otherwise the `get_result` endpoint.
fn poll_url(base: &str, answer: &Value, id: &str) -> String {
    answer
        .get("polling_url")
        .and_then(Value::as_str)
        .and_then(|url| trusted_url(url, "bfl.ai", base))
        .map_or_else(|| format!("{base}/v1/get_result?id={id}"), String::from)
}

/// `POST {base}/v1/{model}` then polls until the image is ready. The caller bounds the
/// whole exchange with the per-model timeout.
pub async fn generate(
    http: &ProviderHttp,
    base: &str,
    key: &ApiKey,
    model: &str,
    prompt: &str,
) -> Result<Vec<u8>, ProviderError> {
    let task = send_json(
        http.client
            .post(format!("{base}/v1/{model}"))
            .header("x-key", key.expose())
            .timeout(http.request_timeout)
            .json(&json!({"prompt": prompt, "width": 1024, "height": 1024})),
    )
    .await?;
    let id = task
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::Malformed("no task `id` in the answer".to_owned()))?;
    let url = poll_url(base, &task, id);
    loop {
        let result = send_json(
            http.client
                .get(&url)
                .header("x-key", key.expose())
                .timeout(http.request_timeout),
        )
        .await?;
        let status = result.get("status").and_then(Value::as_str).unwrap_or("");
        match poll_outcome(status) {
            PollOutcome::Ready => {
                let sample = result
                    .pointer("/result/sample")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ProviderError::Malformed("`Ready` without `result.sample`".to_owned())
                    })?;
                return download(http, sample).await;
            }
            PollOutcome::Running => tokio::time::sleep(http.poll_interval).await,
            PollOutcome::Refused => {
                return Err(ProviderError::ContentRefused(status.to_owned()));
            }
            PollOutcome::Failed => {
                return Err(ProviderError::Http {
                    status: 200,
                    message: format!("task ended with status `{status}`"),
                });
            }
        }
    }
}

/// What a poll's `status` means for the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PollOutcome {
    Ready,
    Refused,
    Failed,
    /// `Pending`, `Queued`, `Processing`, `Task not found` (another cluster may not know
    /// a new task yet), no status, or one this client does not know.
    Running,
}

fn poll_outcome(status: &str) -> PollOutcome {
    match status {
        "Ready" => PollOutcome::Ready,
        "Content Moderated" | "Request Moderated" => PollOutcome::Refused,
        "Error" | "Failed" => PollOutcome::Failed,
        _ => PollOutcome::Running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_final_statuses_end_the_poll() {
        let cases = [
            ("Ready", PollOutcome::Ready),
            ("Content Moderated", PollOutcome::Refused),
            ("Request Moderated", PollOutcome::Refused),
            ("Error", PollOutcome::Failed),
            ("Failed", PollOutcome::Failed),
            // Right after a submit another cluster may not know the task yet.
            ("Task not found", PollOutcome::Running),
            ("Pending", PollOutcome::Running),
            ("Queued", PollOutcome::Running),
            ("Processing", PollOutcome::Running),
            ("Task not found yet", PollOutcome::Running),
            ("Upsampling", PollOutcome::Running),
            ("", PollOutcome::Running),
        ];
        for (status, expected) in cases {
            assert_eq!(poll_outcome(status), expected, "{status:?}");
        }
    }

    #[test]
    fn polling_url_is_trusted_only_on_known_hosts() {
        let base = "https://api.bfl.ai";
        let cases = [
            (
                json!({"polling_url": "https://api.us1.bfl.ai/v1/get_result?id=1"}),
                "https://api.us1.bfl.ai/v1/get_result?id=1",
            ),
            (
                json!({"polling_url": "https://evil.example/v1/get_result?id=1"}),
                "https://api.bfl.ai/v1/get_result?id=1",
            ),
            (
                json!({"polling_url": "http://x.bfl.ai/p"}),
                "https://api.bfl.ai/v1/get_result?id=1",
            ),
            (
                json!({"polling_url": "https://attacker.example?.bfl.ai"}),
                "https://api.bfl.ai/v1/get_result?id=1",
            ),
            (json!({}), "https://api.bfl.ai/v1/get_result?id=1"),
        ];
        for (answer, expected) in cases {
            assert_eq!(poll_url(base, &answer, "1"), expected);
        }
        assert_eq!(
            poll_url(
                "http://127.0.0.1:9",
                &json!({"polling_url": "http://127.0.0.1:9/v1/get_result?id=1"}),
                "1"
            ),
            "http://127.0.0.1:9/v1/get_result?id=1"
        );
    }
}
