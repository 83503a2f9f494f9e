//! Waiting for a state, not for a time: poll a check until it holds. The
//! deadline only turns a hang into a failure; it decides no outcome.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a check is repeated.
const EVERY: Duration = Duration::from_millis(20);

/// Calls `check` until it returns `Some`, and returns that; fails naming `what`
/// once `deadline` has passed.
pub fn until<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(EVERY);
    }
}

/// [`until`] for async checks (sleeps with tokio, so the server under test runs
/// meanwhile on the same runtime).
pub async fn until_async<T, F>(what: &str, deadline: Duration, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(EVERY).await;
    }
}
