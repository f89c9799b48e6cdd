//! Calendar dates as Chinese departmental data writes them, parsed into a validated
//! [`CivilDate`].
//!
//! Accepted (full-width digits and separators too): `2026-11-24`, `2026/11/24`,
//! `2026.11.24`, `2026年11月24日` (the final `日`/`号` optional), `20261124`, with one-
//! or two-digit month and day in the separated forms, and an optional time part
//! after a space or `T` (`2026-11-24 08:30:00`), which is ignored.
//!
//! Two-digit years (`26-11-24`) are rejected with [`DateError::TwoDigitYear`]: they
//! are ambiguous both in century and in field order (YY-MM-DD vs DD-MM-YY), and
//! guessing wrong silently corrupts birth dates, so the caller must fix the source.

use std::fmt;

use thiserror::Error;

use super::text::half_width_char;
use crate::Timestamp;
use crate::time::{civil_from_days, days_from_civil};

/// Earliest and latest year accepted; anything outside is a data-entry error.
pub const MIN_YEAR: i32 = 1800;
pub const MAX_YEAR: i32 = 2200;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DateError {
    #[error("date is empty")]
    Empty,
    #[error(
        "date {input:?} is not in a recognised format (use 2026-11-24, 2026/11/24, 2026年11月24日 or 20261124)"
    )]
    Format { input: String },
    #[error("date {input:?} has a two-digit year; write the full year")]
    TwoDigitYear { input: String },
    #[error("year {year} is outside {MIN_YEAR}..={MAX_YEAR}")]
    Year { year: i32 },
    #[error("month {month} is not 1..=12")]
    Month { month: u32 },
    #[error("day {day} does not exist in {year:04}-{month:02}")]
    Day { year: i32, month: u32, day: u32 },
}

impl DateError {
    /// The name of the offending field, for error responses.
    pub fn field(&self) -> &'static str {
        match self {
            DateError::Year { .. } => "year",
            DateError::Month { .. } => "month",
            DateError::Day { .. } => "day",
            _ => "date",
        }
    }
}

/// A validated proleptic-Gregorian calendar date. Fields are public for reading;
/// build one with [`CivilDate::new`] (or [`parse_date`]) so that it is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    pub y: i32,
    pub m: u32,
    pub d: u32,
}

pub fn is_leap_year(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days in month `m` (1–12) of year `y`; 0 for an invalid month.
pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// China Standard Time offset (UTC+8, no daylight saving) in milliseconds: a date
/// "today" in Chinese records is the date in Beijing, not in UTC.
const CST_OFFSET_MS: i64 = 8 * 3_600_000;

impl CivilDate {
    pub fn new(y: i32, m: u32, d: u32) -> Result<CivilDate, DateError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
            return Err(DateError::Year { year: y });
        }
        if !(1..=12).contains(&m) {
            return Err(DateError::Month { month: m });
        }
        if d == 0 || d > days_in_month(y, m) {
            return Err(DateError::Day {
                year: y,
                month: m,
                day: d,
            });
        }
        Ok(CivilDate { y, m, d })
    }

    /// The calendar date in China (UTC+8) at instant `t`.
    pub fn in_china(t: Timestamp) -> CivilDate {
        let days = (t.millis() + CST_OFFSET_MS).div_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        CivilDate { y, m, d }
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(&self) -> i64 {
        days_from_civil(self.y, self.m, self.d)
    }

    /// The date `days` days later (earlier if negative).
    pub fn plus_days(&self, days: i64) -> CivilDate {
        let (y, m, d) = civil_from_days(self.days_since_epoch() + days);
        CivilDate { y, m, d }
    }

    /// Midnight China time at the start of this date, as a timestamp.
    pub fn start_in_china(&self) -> Timestamp {
        Timestamp::from_millis(self.days_since_epoch() * 86_400_000 - CST_OFFSET_MS)
    }

    /// Completed years from `self` (a birth date) to `on`; 0 if `on` is earlier.
    pub fn years_until(&self, on: CivilDate) -> u32 {
        let mut age = on.y - self.y;
        if (on.m, on.d) < (self.m, self.d) {
            age -= 1;
        }
        age.max(0) as u32
    }

    pub fn as_tuple(&self) -> (i32, u32, u32) {
        (self.y, self.m, self.d)
    }

    /// `YYYYMMDD`, the compact form used inside ID numbers.
    pub fn compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.y, self.m, self.d)
    }
}

/// ISO 8601 `YYYY-MM-DD`.
impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.y, self.m, self.d)
    }
}

impl std::str::FromStr for CivilDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_date(s)
    }
}

/// Parses a date in any of the formats listed in the module documentation.
pub fn parse_date(input: &str) -> Result<CivilDate, DateError> {
    let s: String = input.chars().map(half_width_char).collect();
    let s = s.trim();
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let format_err = || DateError::Format {
        input: input.to_owned(),
    };
    // Cut an optional time part: "2026-11-24 08:30", "2026-11-24T08:30:00Z".
    let date_part = match s.find([' ', 'T']) {
        Some(i) => {
            let rest = s[i + 1..].trim_start();
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format_err());
            }
            &s[..i]
        }
        None => s,
    };
    let date_part = date_part.trim_end_matches(['日', '号']);

    let all_digits = date_part.bytes().all(|b| b.is_ascii_digit());
    if all_digits {
        return match date_part.len() {
            8 => {
                let y = date_part[..4].parse().map_err(|_| format_err())?;
                let m = date_part[4..6].parse().map_err(|_| format_err())?;
                let d = date_part[6..8].parse().map_err(|_| format_err())?;
                CivilDate::new(y, m, d)
            }
            6 => Err(DateError::TwoDigitYear {
                input: input.to_owned(),
            }),
            _ => Err(format_err()),
        };
    }

    let parts: Vec<&str> = date_part.split(['-', '/', '.', '年', '月']).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format_err());
    }
    // One separator style per date ("2026-11/24" is a typo, not a format).
    let seps: Vec<char> = date_part.chars().filter(|c| !c.is_ascii_digit()).collect();
    let consistent =
        matches!(seps.as_slice(), ['年', '月']) || (seps.len() == 2 && seps[0] == seps[1]);
    if !consistent {
        return Err(format_err());
    }
    if parts[0].len() != 4 {
        return if parts[0].len() <= 2 {
            Err(DateError::TwoDigitYear {
                input: input.to_owned(),
            })
        } else {
            Err(format_err())
        };
    }
    if parts[1].len() > 2 || parts[2].len() > 2 {
        return Err(format_err());
    }
    let y = parts[0].parse().map_err(|_| format_err())?;
    let m = parts[1].parse().map_err(|_| format_err())?;
    let d = parts[2].parse().map_err(|_| format_err())?;
    CivilDate::new(y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> (i32, u32, u32) {
        parse_date(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .as_tuple()
    }

    #[test]
    fn formats() {
        for s in [
            "2026-11-24",
            "2026/11/24",
            "2026.11.24",
            "2026年11月24日",
            "2026年11月24号",
            "2026年11月24",
            "20261124",
            "２０２６－１１－２４",
            "２０２６年１１月２４日",
            " 2026-11-24 08:30:00 ",
            "2026-11-24T08:30:00Z",
        ] {
            assert_eq!(ok(s), (2026, 11, 24), "{s}");
        }
        assert_eq!(ok("2026-1-5"), (2026, 1, 5));
        assert_eq!(ok("2024年2月29日"), (2024, 2, 29));
        assert_eq!(
            parse_date("2026-11-24").map(|d| d.to_string()),
            Ok("2026-11-24".into())
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(parse_date(""), Err(DateError::Empty));
        assert!(matches!(
            parse_date("26-11-24"),
            Err(DateError::TwoDigitYear { .. })
        ));
        assert!(matches!(
            parse_date("261124"),
            Err(DateError::TwoDigitYear { .. })
        ));
        assert_eq!(
            parse_date("2023-02-29"),
            Err(DateError::Day {
                year: 2023,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            parse_date("1900-02-29"),
            Err(DateError::Day {
                year: 1900,
                month: 2,
                day: 29
            })
        );
        assert_eq!(ok("2000-02-29"), (2000, 2, 29));
        assert_eq!(
            parse_date("2026-13-01"),
            Err(DateError::Month { month: 13 })
        );
        assert_eq!(parse_date("2026-04-31").map_err(|e| e.field()), Err("day"));
        assert_eq!(
            parse_date("1700-01-01"),
            Err(DateError::Year { year: 1700 })
        );
        for bad in [
            "2026-11/24",
            "2026--11-24",
            "2026-11",
            "abc",
            "2026-011-24",
            "2026-11-24 abc",
            "202611245",
        ] {
            assert!(
                matches!(parse_date(bad), Err(DateError::Format { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn china_date_and_age() {
        // 2026-11-23T16:00Z is midnight of the 24th in Beijing.
        let t = Timestamp::from_civil_utc(2026, 11, 23, 16, 0, 0);
        assert_eq!(CivilDate::in_china(t).as_tuple(), (2026, 11, 24));
        assert_eq!(
            CivilDate::in_china(t.plus_millis(-1)).as_tuple(),
            (2026, 11, 23)
        );
        let birth = CivilDate::new(1990, 11, 25).expect("valid");
        assert_eq!(
            birth.years_until(CivilDate::new(2026, 11, 24).expect("valid")),
            35
        );
        assert_eq!(
            birth.years_until(CivilDate::new(2026, 11, 25).expect("valid")),
            36
        );
        assert_eq!(
            birth.start_in_china().plus_millis(0),
            Timestamp::from_civil_utc(1990, 11, 24, 16, 0, 0)
        );
        assert_eq!(birth.plus_days(7).as_tuple(), (1990, 12, 2));
    }

    proptest! {
        #[test]
        fn every_valid_date_round_trips_in_every_format(days in -60_000i64..80_000, style in 0usize..6) {
            let (y, m, d) = civil_from_days(days);
            let s = match style {
                0 => format!("{y:04}-{m:02}-{d:02}"),
                1 => format!("{y}/{m}/{d}"),
                2 => format!("{y}.{m:02}.{d:02}"),
                3 => format!("{y}年{m}月{d}日"),
                4 => format!("{y:04}{m:02}{d:02}"),
                _ => super::super::text::to_full_width(&format!("{y:04}-{m:02}-{d:02}")),
            };
            let parsed = parse_date(&s).expect("valid date parses");
            prop_assert_eq!(parsed.as_tuple(), (y, m, d));
            prop_assert_eq!(parse_date(&parsed.to_string()), Ok(parsed));
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = parse_date(&s);
        }
    }
}
