//! GB 11643-1999 citizen identity numbers (公民身份号码): 6-digit region code,
//! 8-digit birth date, 3-digit sequence (odd = male, even = female) and an
//! ISO 7064 MOD 11-2 check character (`0`–`9` or `X`).
//!
//! [`IdNumber::parse`] accepts 18-character numbers (lower-case `x`, full-width
//! digits and embedded spaces tolerated) and first-generation 15-digit numbers,
//! which are upgraded to 18 digits by inserting the century `19` and computing the
//! check character. The birth date must exist (leap years included) and, with
//! [`IdNumber::parse_at`], must not lie after the reference day. The region code's
//! province must be a real one; a county code missing from the table (abolished,
//! renamed or newer than the table) is accepted and reported through
//! [`IdNumber::region_status`].

use std::fmt;

use thiserror::Error;

use super::date::CivilDate;
use super::region::{self, RegionStatus};
use super::text::compact_identifier;
use crate::Timestamp;

/// Birth years before this are treated as typing errors (no living person has one).
pub const MIN_BIRTH_YEAR: i32 = 1900;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IdNumberError {
    #[error("ID number is empty")]
    Empty,
    #[error("ID number has {len} characters; expected 18 (or 15 for a first-generation card)")]
    Length { len: usize },
    #[error("ID number has invalid character {found:?} at position {position}")]
    Character { position: usize, found: char },
    #[error("ID number check character is {found:?}, expected {expected:?}")]
    Checksum { expected: char, found: char },
    #[error("ID number birth date {value} is not a valid date")]
    BirthDate { value: String },
    #[error("ID number birth year {year} is before {MIN_BIRTH_YEAR}")]
    BirthYearTooEarly { year: i32 },
    #[error("ID number birth date {birth} is after the reference date {reference}")]
    BirthDateInFuture {
        birth: CivilDate,
        reference: CivilDate,
    },
    #[error("ID number region code {code} has no known province")]
    Region { code: String },
    #[error("ID number sequence {seq} is outside 0..=999")]
    Sequence { seq: u16 },
}

impl IdNumberError {
    /// The name of the offending field, for error responses.
    pub fn field(&self) -> &'static str {
        "id_number"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// 男 / 女.
    pub fn as_chinese(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
}

/// A valid 18-character identity number. Holding one proves the checksum, birth
/// date and province are valid. `Debug` prints it masked so that it does not leak
/// into logs; use [`IdNumber::as_str`] or `Display` for the full value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber {
    // ASCII digits, with `X` only at index 17: always valid UTF-8.
    bytes: [u8; 18],
}

impl IdNumber {
    /// Parses and validates an 18- or 15-character ID number (no future check; see
    /// [`IdNumber::parse_at`]).
    pub fn parse(input: &str) -> Result<IdNumber, IdNumberError> {
        parse_inner(input, None)
    }

    /// Like [`IdNumber::parse`], and also rejects a birth date after the China-time
    /// calendar day of `now` (pass the clock's reading; the core never reads it).
    pub fn parse_at(input: &str, now: Timestamp) -> Result<IdNumber, IdNumberError> {
        parse_inner(input, Some(CivilDate::in_china(now)))
    }

    /// Like [`IdNumber::parse`] with an explicit reference day, if any.
    pub fn parse_on(input: &str, reference: Option<CivilDate>) -> Result<IdNumber, IdNumberError> {
        parse_inner(input, reference)
    }

    /// The MOD 11-2 check character for the first 17 digits, or `None` unless
    /// `first17` is exactly 17 ASCII digits.
    pub fn check_char(first17: &str) -> Option<char> {
        let b = first17.as_bytes();
        if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(check_char_bytes(b))
    }

    /// Builds the number for a region, birth date and 3-digit sequence (odd for men,
    /// even for women), computing the check character. For generators and tests.
    pub fn build(
        region6: &str,
        birth: (i32, u32, u32),
        seq3: u16,
    ) -> Result<IdNumber, IdNumberError> {
        if seq3 > 999 {
            return Err(IdNumberError::Sequence { seq: seq3 });
        }
        if region6.len() != 6 || !region6.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdNumberError::Region {
                code: region6.to_owned(),
            });
        }
        let (y, m, d) = birth;
        if !(0..=9999).contains(&y) || m > 99 || d > 99 {
            return Err(IdNumberError::BirthDate {
                value: format!("{y}-{m}-{d}"),
            });
        }
        // Assembled in place rather than formatted and re-parsed: generators call
        // this millions of times.
        let mut bytes = [0u8; 18];
        bytes[..6].copy_from_slice(region6.as_bytes());
        let put = |bytes: &mut [u8; 18], at: usize, width: usize, mut v: u32| {
            for k in (at..at + width).rev() {
                bytes[k] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(&mut bytes, 6, 4, y as u32);
        put(&mut bytes, 10, 2, m);
        put(&mut bytes, 12, 2, d);
        put(&mut bytes, 14, 3, u32::from(seq3));
        bytes[17] = check_char_bytes(&bytes[..17]) as u8;
        finish(bytes, None)
    }

    /// The 18-character canonical form (upper-case `X`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }

    /// `(year, month, day)` of birth.
    pub fn birth_date(&self) -> (i32, u32, u32) {
        self.birth().as_tuple()
    }

    /// The birth date as a [`CivilDate`].
    pub fn birth(&self) -> CivilDate {
        let n = |r: std::ops::Range<usize>| {
            self.bytes[r]
                .iter()
                .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
        };
        CivilDate {
            y: n(6..10) as i32,
            m: n(10..12),
            d: n(12..14),
        }
    }

    /// Age in completed years on the given day.
    pub fn age_on(&self, on: CivilDate) -> u32 {
        self.birth().years_until(on)
    }

    /// Sex from the parity of the sequence code's last digit.
    pub fn sex(&self) -> Sex {
        if (self.bytes[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The six-digit region code where the number was first issued.
    pub fn region_code(&self) -> &str {
        &self.as_str()[..6]
    }

    /// The three-digit sequence code.
    pub fn sequence(&self) -> u16 {
        self.bytes[14..17]
            .iter()
            .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
    }

    /// Whether the region code is listed, or only its province/city prefix is.
    pub fn region_status(&self) -> RegionStatus {
        // Cannot panic: parsing rejected every code whose province is unknown, and
        // `status` is `Some` for every such six-digit code.
        region::status(self.region_code()).expect("parse checked the region's province")
    }

    /// The 15-digit first-generation form, if the number could have had one (born
    /// 1900–1999).
    pub fn to_15(&self) -> Option<String> {
        let s = self.as_str();
        (&s[6..8] == "19").then(|| format!("{}{}", &s[..6], &s[8..17]))
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IdNumber({})",
            super::mask::mask_id_number(self.as_str())
        )
    }
}

impl std::str::FromStr for IdNumber {
    type Err = IdNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdNumber::parse(s)
    }
}

fn check_char_bytes(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    char::from(CHECK_CHARS[(sum % 11) as usize])
}

fn parse_inner(input: &str, reference: Option<CivilDate>) -> Result<IdNumber, IdNumberError> {
    let s = compact_identifier(input, &['-']);
    if s.is_empty() {
        return Err(IdNumberError::Empty);
    }
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len();
    if len != 18 && len != 15 {
        return Err(IdNumberError::Length { len });
    }
    for (i, &c) in chars.iter().enumerate() {
        let ok = c.is_ascii_digit() || (len == 18 && i == 17 && c == 'X');
        if !ok {
            return Err(IdNumberError::Character {
                position: i + 1,
                found: c,
            });
        }
    }
    let mut bytes = [0u8; 18];
    if len == 18 {
        bytes.copy_from_slice(s.as_bytes());
        let expected = check_char_bytes(&bytes[..17]);
        let found = char::from(bytes[17]);
        if expected != found {
            return Err(IdNumberError::Checksum { expected, found });
        }
    } else {
        let b = s.as_bytes();
        bytes[..6].copy_from_slice(&b[..6]);
        bytes[6..8].copy_from_slice(b"19");
        bytes[8..17].copy_from_slice(&b[6..15]);
        bytes[17] = check_char_bytes(&bytes[..17]) as u8;
    }
    finish(bytes, reference)
}

/// Date and region checks shared by parsing and building.
fn finish(bytes: [u8; 18], reference: Option<CivilDate>) -> Result<IdNumber, IdNumberError> {
    let id = IdNumber { bytes };
    let b = id.birth();
    if b.y < MIN_BIRTH_YEAR {
        return Err(IdNumberError::BirthYearTooEarly { year: b.y });
    }
    let birth = CivilDate::new(b.y, b.m, b.d).map_err(|_| IdNumberError::BirthDate {
        value: format!("{:04}{:02}{:02}", b.y, b.m, b.d),
    })?;
    if let Some(reference) = reference
        && birth > reference
    {
        return Err(IdNumberError::BirthDateInFuture { birth, reference });
    }
    if region::status(id.region_code()).is_none() {
        return Err(IdNumberError::Region {
            code: id.region_code().to_owned(),
        });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 11010519491231002X is the worked example in GB 11643-1999 Annex A.
    const STANDARD_EXAMPLE: &str = "11010519491231002X";

    #[test]
    fn standard_example() {
        let id = IdNumber::parse(STANDARD_EXAMPLE).expect("valid");
        assert_eq!(id.as_str(), STANDARD_EXAMPLE);
        assert_eq!(id.birth_date(), (1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.sequence(), 2);
        assert_eq!(IdNumber::check_char("11010519491231002"), Some('X'));
        assert!(matches!(id.region_status(), RegionStatus::Listed(r) if r.name == "朝阳区"));
        assert_eq!(format!("{id:?}"), "IdNumber(110105********002X)");
        assert_eq!(id.to_string(), STANDARD_EXAMPLE);
    }

    #[test]
    fn tolerant_input() {
        for s in [
            "11010519491231002x",
            " 110105 19491231 002X ",
            "１１０１０５１９４９１２３１００２Ｘ",
            "110105-19491231-002X",
        ] {
            assert_eq!(
                IdNumber::parse(s).map(|i| i.to_string()),
                Ok(STANDARD_EXAMPLE.into()),
                "{s}"
            );
        }
    }

    #[test]
    fn fifteen_digit_upgrade() {
        // 15-digit form of the standard example.
        let id = IdNumber::parse("110105491231002").expect("valid");
        assert_eq!(id.as_str(), STANDARD_EXAMPLE);
        assert_eq!(id.to_15().as_deref(), Some("110105491231002"));
        let id2 = IdNumber::parse("510104900307123").expect("valid");
        assert_eq!(id2.birth_date(), (1990, 3, 7));
        assert_eq!(id2.sex(), Sex::Male);
        assert_eq!(id2.as_str().len(), 18);
    }

    #[test]
    fn errors() {
        assert_eq!(IdNumber::parse(""), Err(IdNumberError::Empty));
        assert_eq!(
            IdNumber::parse("1234"),
            Err(IdNumberError::Length { len: 4 })
        );
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::Checksum {
                expected: 'X',
                found: '1'
            })
        );
        assert_eq!(
            IdNumber::parse("1101051949123100X2"),
            Err(IdNumberError::Character {
                position: 17,
                found: 'X'
            })
        );
        assert_eq!(
            IdNumber::parse("110105491231A02"),
            Err(IdNumberError::Character {
                position: 13,
                found: 'A'
            })
        );
        // 2023-02-29 does not exist; 2024-02-29 does; 1900 was not a leap year.
        let bad = IdNumber::build("510104", (2023, 2, 29), 123);
        assert_eq!(
            bad,
            Err(IdNumberError::BirthDate {
                value: "20230229".into()
            })
        );
        assert!(IdNumber::build("510104", (2024, 2, 29), 123).is_ok());
        assert!(IdNumber::build("510104", (2000, 2, 29), 123).is_ok());
        assert!(matches!(
            IdNumber::build("510104", (1900, 2, 29), 1),
            Err(IdNumberError::BirthDate { .. })
        ));
        assert_eq!(
            IdNumber::build("510104", (1899, 5, 1), 1),
            Err(IdNumberError::BirthYearTooEarly { year: 1899 })
        );
        assert_eq!(
            IdNumber::build("990104", (1990, 5, 1), 1),
            Err(IdNumberError::Region {
                code: "990104".into()
            })
        );
        assert_eq!(
            IdNumber::build("510104", (1990, 5, 1), 1000),
            Err(IdNumberError::Sequence { seq: 1000 })
        );
        assert_eq!(IdNumber::check_char("1234"), None);
        assert_eq!(IdNumber::check_char("1101051949123100a"), None);
    }

    #[test]
    fn future_birth_dates() {
        let id = IdNumber::build("510104", (2026, 11, 25), 11).expect("structurally valid");
        let today = CivilDate::new(2026, 11, 24).expect("valid");
        assert!(matches!(
            IdNumber::parse_on(id.as_str(), Some(today)),
            Err(IdNumberError::BirthDateInFuture { .. })
        ));
        assert!(IdNumber::parse_on(id.as_str(), Some(today.plus_days(1))).is_ok());
        // 2026-11-24T16:30Z is already the 25th in Beijing.
        let now = Timestamp::from_civil_utc(2026, 11, 24, 16, 30, 0);
        assert!(IdNumber::parse_at(id.as_str(), now).is_ok());
        assert!(IdNumber::parse_at(id.as_str(), now.plus_secs(-3600)).is_err());
    }

    #[test]
    fn abolished_county_is_accepted_and_reported() {
        // 510117 郫都区 is missing from the table, 510124 郫县 is listed.
        let id = IdNumber::build("510117", (1985, 6, 1), 42).expect("province known");
        match id.region_status() {
            RegionStatus::Unlisted { province, city } => {
                assert_eq!(province.name, "四川省");
                assert_eq!(city.map(|c| c.name), Some("成都市"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            IdNumber::build("510124", (1985, 6, 1), 42)
                .expect("valid")
                .region_status()
                .is_listed()
        );
    }

    fn region_codes() -> Vec<&'static str> {
        region::all().map(|r| r.code).collect()
    }

    proptest! {
        #[test]
        fn build_parse_round_trip(
            ri in 0usize..3511,
            days in -25_000i64..20_000,
            seq in 0u16..1000,
        ) {
            let codes = region_codes();
            let code = codes[ri % codes.len()];
            let (y, m, d) = crate::time::civil_from_days(days);
            let id = IdNumber::build(code, (y, m, d), seq).expect("valid parts");
            let again = IdNumber::parse(id.as_str()).expect("round trip");
            prop_assert_eq!(again, id);
            prop_assert_eq!(again.birth_date(), (y, m, d));
            prop_assert_eq!(again.region_code(), code);
            prop_assert_eq!(again.sequence(), seq);
            prop_assert_eq!(again.sex(), if seq % 2 == 1 { Sex::Male } else { Sex::Female });
            prop_assert_eq!(IdNumber::parse(&id.as_str().to_lowercase()), Ok(id));
            if let Some(short) = id.to_15() {
                prop_assert_eq!(IdNumber::parse(&short), Ok(id));
            }
        }

        #[test]
        fn any_single_digit_change_is_detected(
            days in -25_000i64..20_000,
            seq in 0u16..1000,
            pos in 0usize..17,
            delta in 1u8..10,
        ) {
            let (y, m, d) = crate::time::civil_from_days(days);
            let id = IdNumber::build("510104", (y, m, d), seq).expect("valid");
            let mut b = id.as_str().as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(b).expect("ascii");
            prop_assert!(IdNumber::parse(&s).is_err(), "{} accepted", s);
        }

        #[test]
        fn never_panics(s in "\\PC{0,24}") {
            let _ = IdNumber::parse(&s);
        }
    }
}
