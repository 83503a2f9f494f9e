//! Request limits (a global count per hour and a per-IP count per day) kept as counters
//! in the object store and changed only by compare-and-swap writes with retry, so the
//! limits hold under concurrent requests on any number of Lambda instances.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::config::RateLimits;
use crate::error::AppError;
use crate::store::{ObjectStore, PutCondition, PutOutcome};

/// How long a request keeps retrying a contended counter before answering 503.
const CONTENTION_BUDGET: Duration = Duration::from_secs(10);

/// Which endpoint family a request counts against; each has its own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    Generate,
    /// `POST /enhance`: a paid chat completion on the provider key image generation
    /// uses too, so it has limits of its own.
    Enhance,
    Log,
}

impl LimitScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Enhance => "enhance",
            Self::Log => "log",
        }
    }

    /// (requests per hour for everyone, requests per UTC day for one IP).
    fn limits(self, limits: &RateLimits) -> (u32, u32) {
        match self {
            Self::Generate | Self::Log => (limits.global_per_hour, limits.per_ip_per_day),
            Self::Enhance => (
                limits.enhance_global_per_hour,
                limits.enhance_per_ip_per_day,
            ),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Counter {
    count: u32,
}

#[derive(Debug, PartialEq, Eq)]
enum Take {
    Taken,
    Denied,
}

#[derive(Debug, Clone)]
pub struct RateLimiter {
    store: ObjectStore,
    limits: RateLimits,
}

impl RateLimiter {
    pub fn new(store: ObjectStore, limits: RateLimits) -> Self {
        Self { store, limits }
    }

    /// Admits one request from `ip` or answers `RATE_LIMIT_EXCEEDED` with `retryAfter`.
    /// The per-IP counter is taken first; if the global limit then refuses, the IP's
    /// unit is given back. Sequential on purpose: a client over its own limit never
    /// writes the shared global counter, so one abusive IP cannot make it contended.
    pub async fn admit(
        &self,
        scope: LimitScope,
        ip: Option<IpAddr>,
        now: SystemTime,
    ) -> Result<(), AppError> {
        if ip.is_some_and(|ip| self.limits.ip_allowlist.contains(&ip)) {
            return Ok(());
        }
        let (day, day_left) = clock::day_window(now);
        let (hour, hour_left) = clock::hour_window(now);
        let who = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let ip_key = format!("ratelimit/{}/ip/{day}/{who}.json", scope.as_str());
        let global_key = format!("ratelimit/{}/global/{hour}.json", scope.as_str());
        let (global_limit, ip_limit) = scope.limits(&self.limits);

        if self.adjust(&ip_key, ip_limit, 1).await? == Take::Denied {
            return Err(AppError::RateLimited {
                scope: "ip",
                retry_after_secs: day_left,
            });
        }
        if self.adjust(&global_key, global_limit, 1).await? == Take::Denied {
            if let Err(e) = self.adjust(&ip_key, u32::MAX, -1).await {
                tracing::warn!(error = %e, "could not give back a per-IP rate-limit unit");
            }
            return Err(AppError::RateLimited {
                scope: "global",
                retry_after_secs: hour_left,
            });
        }
        Ok(())
    }

    /// Adds `delta` to the counter at `key` unless that would pass `limit`.
    async fn adjust(&self, key: &str, limit: u32, delta: i64) -> Result<Take, AppError> {
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let current = self
                .store
                .get_json::<Counter>(key)
                .await
                .map_err(AppError::internal)?;
            let (count, condition) = match current {
                None => (0, PutCondition::Absent),
                Some((counter, tag)) => (counter.count, PutCondition::Matches(tag)),
            };
            let next = i64::from(count) + delta;
            if delta > 0 && next > i64::from(limit) {
                return Ok(Take::Denied);
            }
            if next < 0 {
                return Ok(Take::Taken);
            }
            let counter = Counter {
                count: u32::try_from(next).unwrap_or(u32::MAX),
            };
            match self
                .store
                .put_json(key, &counter, condition)
                .await
                .map_err(AppError::internal)?
            {
                PutOutcome::Written => return Ok(Take::Taken),
                PutOutcome::ConditionFailed => {
                    if started.elapsed() > CONTENTION_BUDGET {
                        return Err(AppError::Busy);
                    }
                    attempt = attempt.saturating_add(1);
                    let ceiling = u64::from(attempt.min(12)) * 2 + 2;
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=ceiling))).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FolderStore;
    use std::sync::Arc;

    fn limiter(dir: &std::path::Path, global: u32, ip: u32, allow: Vec<IpAddr>) -> RateLimiter {
        RateLimiter::new(
            ObjectStore::Folder(FolderStore::new(dir)),
            RateLimits {
                global_per_hour: global,
                per_ip_per_day: ip,
                ip_allowlist: allow,
                enhance_global_per_hour: 100,
                enhance_per_ip_per_day: 2,
            },
        )
    }

    /// Runs `n` concurrent admissions, one IP per request when `distinct`.
    pub(crate) async fn admitted_under_load(
        limiter: RateLimiter,
        n: u8,
        distinct: bool,
    ) -> (usize, usize) {
        let limiter = Arc::new(limiter);
        let now = SystemTime::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let limiter = Arc::clone(&limiter);
            let ip = IpAddr::from([10, 0, 0, if distinct { i } else { 1 }]);
            tasks.spawn(async move { limiter.admit(LimitScope::Generate, Some(ip), now).await });
        }
        let (mut ok, mut limited) = (0, 0);
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(()) => ok += 1,
                Err(AppError::RateLimited { .. }) => limited += 1,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        (ok, limited)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn per_ip_limit_is_exact_under_50_concurrent_requests() {
        let dir = tempfile::tempdir().unwrap();
        let (ok, limited) =
            admitted_under_load(limiter(dir.path(), 1000, 7, vec![]), 50, false).await;
        assert_eq!((ok, limited), (7, 43));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn global_limit_is_exact_and_gives_back_ip_units() {
        let dir = tempfile::tempdir().unwrap();
        let limiter = limiter(dir.path(), 20, 5, vec![]);
        let (ok, limited) = admitted_under_load(limiter.clone(), 50, true).await;
        assert_eq!((ok, limited), (20, 30));
        // An IP refused by the global limit got its unit back.
        let (day, _) = clock::day_window(SystemTime::now());
        let mut total = 0;
        for i in 0..50u8 {
            let key = format!("ratelimit/generate/ip/{day}/10.0.0.{i}.json");
            if let Some((c, _)) = limiter.store.get_json::<Counter>(&key).await.unwrap() {
                total += c.count;
            }
        }
        assert_eq!(total, 20);
    }

    #[tokio::test]
    async fn allowlisted_ip_is_never_limited_and_scopes_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let vip = IpAddr::from([192, 0, 2, 1]);
        let limiter = limiter(dir.path(), 1, 1, vec![vip]);
        let now = SystemTime::now();
        for _ in 0..5 {
            limiter
                .admit(LimitScope::Generate, Some(vip), now)
                .await
                .unwrap();
        }
        let other = Some(IpAddr::from([192, 0, 2, 2]));
        limiter
            .admit(LimitScope::Generate, other, now)
            .await
            .unwrap();
        let err = limiter
            .admit(LimitScope::Generate, other, now)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AppError::RateLimited { scope: "ip", retry_after_secs } if retry_after_secs > 0)
        );
        limiter.admit(LimitScope::Log, other, now).await.unwrap();
        // /enhance counts apart, against its own per-IP limit (2 here).
        for _ in 0..2 {
            limiter
                .admit(LimitScope::Enhance, other, now)
                .await
                .unwrap();
        }
        assert!(matches!(
            limiter.admit(LimitScope::Enhance, other, now).await,
            Err(AppError::RateLimited { scope: "ip", .. })
        ));
    }
}
