//! Request limits: what an environment file sets under `rate_limits`, what the
//! stack passes the API, what the API enforces. One set of field names.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// `GLOBAL_RATE_LIMIT` when unset: requests per hour for the whole API.
pub const DEFAULT_GLOBAL_RATE_LIMIT: u32 = 1000;
/// `IP_RATE_LIMIT` when unset: requests per day for one source IP.
pub const DEFAULT_IP_RATE_LIMIT: u32 = 50;
/// `ENHANCE_GLOBAL_RATE_LIMIT` when unset: `/enhance` calls per hour for the whole API.
pub const DEFAULT_ENHANCE_GLOBAL_RATE_LIMIT: u32 = 500;
/// `ENHANCE_IP_RATE_LIMIT` when unset: `/enhance` calls per day for one source IP.
pub const DEFAULT_ENHANCE_IP_RATE_LIMIT: u32 = 50;

/// Request limits (`GLOBAL_RATE_LIMIT`, `IP_RATE_LIMIT`, `IP_ALLOWLIST`, and for the
/// paid chat completion behind `/enhance` its own `ENHANCE_GLOBAL_RATE_LIMIT` and
/// `ENHANCE_IP_RATE_LIMIT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    pub global_per_hour: u32,
    pub per_ip_per_day: u32,
    /// Source addresses no limit applies to.
    pub ip_allowlist: Vec<IpAddr>,
    pub enhance_global_per_hour: u32,
    pub enhance_per_ip_per_day: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            global_per_hour: DEFAULT_GLOBAL_RATE_LIMIT,
            per_ip_per_day: DEFAULT_IP_RATE_LIMIT,
            ip_allowlist: Vec::new(),
            enhance_global_per_hour: DEFAULT_ENHANCE_GLOBAL_RATE_LIMIT,
            enhance_per_ip_per_day: DEFAULT_ENHANCE_IP_RATE_LIMIT,
        }
    }
}
