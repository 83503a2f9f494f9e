//! The Lambda executable (`bootstrap`): JSON logs, then the runtime loop of
//! [`pixel_prompt_api::lambda_entry::run`] serving HTTP events and worker invocations.

// The runtime future nests deeply (router, SDK clients, worker).
#![recursion_limit = "256"]

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pixel_prompt_api::telemetry::init_json_logs();
    match pixel_prompt_api::lambda_entry::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
