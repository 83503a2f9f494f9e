//! Wall-clock formatting (RFC 3339 timestamps, hour and day window names) without a
//! date library: the API only needs UTC civil dates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn epoch_millis(t: SystemTime) -> u64 {
    u64::try_from(
        t.duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads back a timestamp [`rfc3339`] wrote (`2026-11-26T05:31:52.123Z`).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 24 || !text.ends_with('Z') {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second, millis) = (
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..23)?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = u64::try_from(days_from_civil(i64::from(year), month, day)).ok()?;
    let secs = days * 86_400 + u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second);
    Some(UNIX_EPOCH + Duration::from_millis(secs * 1000 + u64::from(millis)))
}

/// `2026-11-26T05:31:52.123Z`
pub fn rfc3339(t: SystemTime) -> String {
    let ms = epoch_millis(t);
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let (y, mo, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The hour window `t` falls in (`2026-11-26T05`) and the seconds left in it.
pub fn hour_window(t: SystemTime) -> (String, u64) {
    let stamp = rfc3339(t);
    let secs = epoch_millis(t) / 1000;
    (stamp[..13].to_owned(), 3600 - secs % 3600)
}

/// The UTC day `t` falls in (`2026-11-26`) and the seconds left in it.
pub fn day_window(t: SystemTime) -> (String, u64) {
    let stamp = rfc3339(t);
    let secs = epoch_millis(t) / 1000;
    (stamp[..10].to_owned(), 86_400 - secs % 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2000-02-29T00:00:00Z, a leap day.
    const LEAP_DAY_2000: u64 = 951_782_400;

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_671_112_123);
        assert_eq!(rfc3339(t), "2026-11-26T05:31:52.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(LEAP_DAY_2000)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            hour_window(t),
            ("2026-11-26T05".to_owned(), 3600 - 31 * 60 - 52)
        );
        assert_eq!(day_window(t).0, "2026-11-26");
    }

    #[test]
    fn parses_what_it_writes() {
        for ms in [0, 951_782_400_000, 1_795_671_112_123, 4_102_444_799_999] {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t), "{}", rfc3339(t));
        }
        for bad in [
            "",
            "2026-11-26",
            "2026-13-01T00:00:00.000Z",
            "2026-11-26T05:31:52Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
