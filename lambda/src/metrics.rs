//! Metrics in CloudWatch's embedded metric format (EMF): one JSON line on stdout per
//! model the worker ran, which CloudWatch Logs turns into the `PixelPrompt` metrics
//! `ModelGenerations` and `ModelFailures` (by `Environment`, and by `Environment` and
//! `Provider`). The stack's failed-generations alarm divides one by the other.

use std::io::Write as _;
use std::time::SystemTime;

use serde_json::json;

use crate::clock;
use crate::config::EnvironmentName;

/// The namespace of the API's own metrics.
pub const NAMESPACE: &str = "PixelPrompt";

/// The EMF record of one model outcome.
pub fn model_outcome_line(
    environment: &EnvironmentName,
    provider: &str,
    failed: bool,
    now: SystemTime,
) -> String {
    json!({
        "_aws": {
            "Timestamp": clock::epoch_millis(now),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Environment"], ["Environment", "Provider"]],
                "Metrics": [
                    {"Name": "ModelGenerations", "Unit": "Count"},
                    {"Name": "ModelFailures", "Unit": "Count"},
                ],
            }],
        },
        "Environment": environment.to_string(),
        "Provider": provider,
        "ModelGenerations": 1,
        "ModelFailures": u8::from(failed),
    })
    .to_string()
}

/// Writes the record on stdout, where Lambda sends it to CloudWatch Logs.
pub fn record_model_outcome(environment: &EnvironmentName, provider: &str, failed: bool) {
    let line = model_outcome_line(environment, provider, failed, SystemTime::now());
    // One write of the whole line, under stdout's lock: never interleaved with a log line.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_record_counts_one_generation_and_maybe_one_failure() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_671_112_123);
        for (failed, failures) in [(false, 0), (true, 1)] {
            let line = model_outcome_line(&"prod".parse().unwrap(), "openai", failed, at);
            assert!(!line.contains('\n'));
            let record: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(record["_aws"]["Timestamp"], 1_795_671_112_123_u64);
            let block = &record["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(block["Namespace"], "PixelPrompt");
            assert_eq!(block["Dimensions"][0], json!(["Environment"]));
            assert_eq!(record["Environment"], "prod");
            assert_eq!(record["Provider"], "openai");
            assert_eq!(record["ModelGenerations"], 1);
            assert_eq!(record["ModelFailures"], failures);
        }
    }
}
