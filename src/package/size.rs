//! Lambda's package size limits, and how close an artifact comes to them.

use std::fmt;

use serde::Serialize;

/// Lambda's limit for a zip uploaded directly (50 MB, as AWS counts: MiB).
pub const ZIPPED_LIMIT_BYTES: u64 = 50 * 1024 * 1024;
/// Lambda's limit for the unzipped function code (250 MB, as AWS counts: MiB).
pub const UNZIPPED_LIMIT_BYTES: u64 = 250 * 1024 * 1024;
/// From this share of a limit on, the report warns (in percent).
pub const WARN_AT_PERCENT: u64 = 80;

/// How a size compares with its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeVerdict {
    Fits,
    NearLimit,
    OverLimit,
}

/// One size checked against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeCheck {
    pub bytes: u64,
    pub limit_bytes: u64,
    pub verdict: SizeVerdict,
}

impl SizeCheck {
    pub fn new(bytes: u64, limit_bytes: u64) -> SizeCheck {
        let verdict = if bytes > limit_bytes {
            SizeVerdict::OverLimit
        } else if u128::from(bytes) * 100 >= u128::from(limit_bytes) * u128::from(WARN_AT_PERCENT) {
            SizeVerdict::NearLimit
        } else {
            SizeVerdict::Fits
        };
        SizeCheck {
            bytes,
            limit_bytes,
            verdict,
        }
    }

    /// Percentage of the limit used, rounded down.
    pub fn percent(&self) -> u64 {
        if self.limit_bytes == 0 {
            return 100;
        }
        // u128: no overflow for any u64 size.
        u64::try_from(u128::from(self.bytes) * 100 / u128::from(self.limit_bytes))
            .unwrap_or(u64::MAX)
    }
}

/// The zip and the unzipped code against Lambda's two limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeReport {
    pub zipped: SizeCheck,
    pub unzipped: SizeCheck,
}

impl SizeReport {
    /// The worse of the two verdicts.
    pub fn verdict(&self) -> SizeVerdict {
        self.zipped.verdict.max(self.unzipped.verdict)
    }
}

/// Checks a zip of `zipped_bytes` holding `unzipped_bytes` of code against Lambda's limits.
pub fn size_report(zipped_bytes: u64, unzipped_bytes: u64) -> SizeReport {
    SizeReport {
        zipped: SizeCheck::new(zipped_bytes, ZIPPED_LIMIT_BYTES),
        unzipped: SizeCheck::new(unzipped_bytes, UNZIPPED_LIMIT_BYTES),
    }
}

impl fmt::Display for SizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zip {} of {} ({}%), unzipped {} of {} ({}%)",
            megabytes(self.zipped.bytes),
            megabytes(self.zipped.limit_bytes),
            self.zipped.percent(),
            megabytes(self.unzipped.bytes),
            megabytes(self.unzipped.limit_bytes),
            self.unzipped.percent(),
        )
    }
}

/// Formats bytes as AWS's "MB" (MiB) with one decimal.
pub fn megabytes(bytes: u64) -> String {
    let tenths = u128::from(bytes) * 10 / (1024 * 1024);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn verdicts_follow_the_thresholds() {
        use SizeVerdict::*;
        let cases = [
            // (zipped, unzipped, zipped verdict, unzipped verdict, overall)
            (0, 0, Fits, Fits, Fits),
            (MB, 2 * MB, Fits, Fits, Fits),
            (40 * MB - 1, 200 * MB - 1, Fits, Fits, Fits),
            (40 * MB, 10 * MB, NearLimit, Fits, NearLimit),
            (10 * MB, 200 * MB, Fits, NearLimit, NearLimit),
            (50 * MB, 250 * MB, NearLimit, NearLimit, NearLimit),
            (50 * MB + 1, 100 * MB, OverLimit, Fits, OverLimit),
            (10 * MB, 250 * MB + 1, Fits, OverLimit, OverLimit),
            (40 * MB, 250 * MB + 1, NearLimit, OverLimit, OverLimit),
            (u64::MAX, u64::MAX, OverLimit, OverLimit, OverLimit),
        ];
        for (zipped, unzipped, zv, uv, overall) in cases {
            let report = size_report(zipped, unzipped);
            assert_eq!(report.zipped.verdict, zv, "zipped {zipped}");
            assert_eq!(report.unzipped.verdict, uv, "unzipped {unzipped}");
            assert_eq!(report.verdict(), overall, "{zipped}/{unzipped}");
        }
    }

    #[test]
    fn the_limits_are_aws_megabytes() {
        assert_eq!(ZIPPED_LIMIT_BYTES, 52_428_800);
        assert_eq!(UNZIPPED_LIMIT_BYTES, 262_144_000);
    }

    #[test]
    fn report_reads_as_sizes_and_percentages() {
        let report = size_report(900 * 1024, 2 * MB + MB / 2);
        assert_eq!(
            report.to_string(),
            "zip 0.8 MB of 50.0 MB (1%), unzipped 2.5 MB of 250.0 MB (1%)"
        );
        assert_eq!(size_report(45 * MB, 0).zipped.percent(), 90);
        assert!(size_report(u64::MAX, 0).zipped.percent() > 100);
    }
}
