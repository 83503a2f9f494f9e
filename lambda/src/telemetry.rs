//! Structured JSON logs (one object per line, CloudWatch-friendly) with the request's
//! correlation id from the enclosing span.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber; `RUST_LOG` overrides the `info` default. A second
/// call (tests, a CLI that already set one up) is a no-op.
pub fn init_json_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn")
    });
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .with_ansi(false)
        .try_init();
}
