//! Calendar dates (UTC) for shutdown dates: parsed from `YYYY-MM-DD`, compared in days.
//! Small enough not to need a date crate.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// A day, counted from 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    days: i64,
}

impl Date {
    /// Today in UTC, by this machine's clock.
    pub fn today() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    pub fn from_system_time(time: SystemTime) -> Self {
        let seconds = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX) - 1,
        };
        Self {
            days: seconds.div_euclid(86_400),
        }
    }

    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self {
            days: days_from_civil(year, month, day),
        })
    }

    /// `self - earlier`, in days.
    pub fn days_since(self, earlier: Self) -> i64 {
        self.days - earlier.days
    }

    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the algorithm keeps day in 1..=31 and month in 1..=12"
    )]
    fn civil(self) -> (i64, u32, u32) {
        // Howard Hinnant's civil_from_days.
        let z = self.days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.civil();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for Date {
    type Err = String;

    /// `YYYY-MM-DD`, or the date part of an RFC 3339 timestamp.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("`{text}` is not a date (YYYY-MM-DD)");
        let date = text.get(..10).ok_or_else(invalid)?;
        let mut parts = date.split('-');
        let (Some(year), Some(month), Some(day), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return Err(invalid());
        }
        let number = |part: &str| part.parse::<u32>().map_err(|_| invalid());
        Self::from_ymd(i64::from(number(year)?), number(month)?, number(day)?).ok_or_else(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_count_days() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2026-11-29",
            "2027-01-14",
            "2099-12-31",
        ] {
            let date: Date = text.parse().unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(date.to_string(), text);
        }
        let day = |text: &str| {
            text.parse::<Date>()
                .unwrap_or_else(|error| panic!("{error}"))
        };
        assert_eq!(day("2027-01-14").days_since(day("2026-11-29")), 46);
        assert_eq!(day("2026-11-29").days_since(day("2027-01-14")), -46);
        assert_eq!(day("2026-09-30T00:00:00Z"), day("2026-09-30"));
        assert_eq!(
            Date::from_system_time(UNIX_EPOCH + std::time::Duration::from_hours(24 * 365)),
            day("1971-01-01")
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-02-29",
            "26-01-01",
            "2026/01/01",
            "tomorrow!!",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }
}
