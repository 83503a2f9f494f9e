//! What the tests of pixelctl (`tests/`, unit tests in `src/`) and of the API
//! (`lambda/tests/`) share, so each exists once: the local AWS launcher, a raw
//! HTTP/1.1 client for 127.0.0.1, and polling for a state with a deadline.
//!
//! Test code only (a dev-dependency): a failure here is a test failure, so it
//! panics with a message that says what to do.
// A test library: a setup that fails panics with its message, as an assert does.
#![allow(clippy::expect_used, clippy::missing_panics_doc)]

pub mod http;
pub mod local_aws;
pub mod poll;

pub use local_aws::LocalAws;

/// The repository's root (this crate lives in `test-support/` inside it).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Lowercase hex of `bytes`: the digests tests compare with what pixelctl wrote.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
            let _ = write!(text, "{byte:02x}");
            text
        })
}

/// True for a job status the web client stops polling at.
pub fn job_finished(status: &str) -> bool {
    ["completed", "partial", "failed"].contains(&status)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_job_is_finished_only_in_a_final_status() {
        for (status, finished) in [
            ("completed", true),
            ("partial", true),
            ("failed", true),
            ("in_progress", false),
            ("pending", false),
            ("", false),
        ] {
            assert_eq!(super::job_finished(status), finished, "{status:?}");
        }
    }
}
