//! Which build this process runs, so a deploy or a rollback can be checked by
//! behaviour: `GET /health` reports the crate version and the sha256 of the
//! running executable (the `bootstrap` inside the deployed zip).

use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The running build, as `GET /health` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct BuildInfo {
    pub version: &'static str,
    /// Hex sha256 of the executable; `None` if it could not be read.
    #[serde(rename = "executableSha256")]
    pub executable_sha256: Option<String>,
}

/// The running build, computed once per process (hashing the executable takes
/// tens of milliseconds, so it runs on a blocking thread the first time).
pub async fn current() -> BuildInfo {
    static HASH: OnceLock<Option<String>> = OnceLock::new();
    let hash = if let Some(hash) = HASH.get() {
        hash.clone()
    } else {
        let computed = tokio::task::spawn_blocking(executable_sha256)
            .await
            .ok()
            .flatten();
        HASH.get_or_init(|| computed).clone()
    };
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        executable_sha256: hash,
    }
}

fn executable_sha256() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).ok()?;
    let digest = hasher.finalize();
    Some(
        digest
            .iter()
            .fold(String::with_capacity(64), |mut text, byte| {
                let _ = write!(text, "{byte:02x}");
                text
            }),
    )
}
