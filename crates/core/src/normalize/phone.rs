//! Mainland China telephone numbers: mobiles (`1[3-9]` + 9 digits), landlines with
//! their area code (`010`, `02x` with 8-digit numbers; `0xxx` with 7 or 8), and
//! short service numbers (110, 12345, 95588, 400 hotlines …).
//!
//! Input may carry `+86`/`0086`/`86`, spaces, dashes, dots, brackets, full-width
//! digits, and for mobiles the old trunk `0` (`013800138000`). International-format
//! landlines drop the trunk `0` (`+86 28 8555 1234`) and get it back.
//!
//! Canonical forms: mobile `13800138000`, landline `028-85551234`, service numbers as
//! bare digits. Extensions (`转123`, `ext 12`) are rejected rather than dropped, so
//! the caller can decide whether the extension matters.

use std::fmt;

use thiserror::Error;

use super::text::compact_identifier;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number has invalid character {found:?}")]
    Character { found: char },
    #[error(
        "phone number has country code +{code}; only mainland China (+86) numbers are accepted"
    )]
    ForeignCountryCode { code: String },
    #[error("phone number {digits} has an extension; store the extension separately")]
    Extension { digits: String },
    #[error("mobile number {digits} does not start with 13–19 or is not 11 digits")]
    Mobile { digits: String },
    #[error("landline area code in {digits} is not a mainland area code")]
    AreaCode { digits: String },
    #[error("landline number {digits} has a local part of the wrong length or first digit")]
    LocalNumber { digits: String },
    #[error("landline number {digits} has no area code")]
    MissingAreaCode { digits: String },
    #[error("{digits} is not a mobile, landline or service number")]
    Unrecognised { digits: String },
}

impl PhoneError {
    /// The name of the offending field, for error responses.
    pub fn field(&self) -> &'static str {
        "phone"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhoneKind {
    Mobile,
    Landline,
    /// Emergency, government hotline, carrier and 95/96/400/800 service numbers.
    Service,
}

/// A validated telephone number in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone {
    canonical: String,
    kind: PhoneKind,
}

const EMERGENCY: [&str; 6] = ["110", "112", "114", "119", "120", "122"];

impl Phone {
    /// Parses any mobile, landline (with area code) or service number.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        parse_inner(input, None)
    }

    /// Like [`Phone::parse`], but a landline written without its area code (7 or 8
    /// digits) gets `default_area` (e.g. `"028"` for records from a Chengdu source).
    pub fn parse_with_area_code(input: &str, default_area: &str) -> Result<Phone, PhoneError> {
        parse_inner(input, Some(default_area))
    }

    /// Canonical form: `13800138000`, `028-85551234`, `110`.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The last four digits (all digits of a shorter service number).
    pub fn last4(&self) -> &str {
        let s = self.canonical.as_str();
        &s[s.len().saturating_sub(4)..]
    }

    /// The landline area code without separator (`028`), `None` for other kinds.
    pub fn area_code(&self) -> Option<&str> {
        match self.kind {
            PhoneKind::Landline => self.canonical.split('-').next(),
            _ => None,
        }
    }

    /// The number without area code (the whole number for mobiles and services).
    pub fn local_number(&self) -> &str {
        match self.kind {
            PhoneKind::Landline => self.canonical.rsplit('-').next().unwrap_or(&self.canonical),
            _ => &self.canonical,
        }
    }

    /// Digits only (`02885551234`), a handy exact-match key.
    pub fn digits(&self) -> String {
        self.canonical
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    }

    /// E.164 (`+8613800138000`, `+862885551234`); `None` for service numbers, which
    /// cannot be dialled from abroad.
    pub fn e164(&self) -> Option<String> {
        match self.kind {
            PhoneKind::Mobile => Some(format!("+86{}", self.canonical)),
            PhoneKind::Landline => Some(format!("+86{}", &self.digits()[1..])),
            PhoneKind::Service => None,
        }
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl std::str::FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

fn is_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

fn is_service(d: &str) -> bool {
    let n = d.len();
    EMERGENCY.contains(&d)
        || (n == 5
            && (d.starts_with("100")
                || d.starts_with("12")
                || d.starts_with("95")
                || d.starts_with("96")))
        || ((6..=8).contains(&n) && (d.starts_with("95") || d.starts_with("96")))
        || (n == 10 && (d.starts_with("400") || d.starts_with("800")))
}

/// Splits `0…` digits into a valid (area, local) pair.
fn split_landline(d: &str) -> Result<(&str, &str), PhoneError> {
    let err_area = || PhoneError::AreaCode {
        digits: d.to_owned(),
    };
    let b = d.as_bytes();
    if b.len() < 3 || b[0] != b'0' {
        return Err(err_area());
    }
    let area_len = match b[1] {
        b'1' if b[2] == b'0' => 3,
        b'2' => 3,
        b'3'..=b'9' => 4,
        _ => return Err(err_area()),
    };
    if d.len() <= area_len {
        return Err(PhoneError::LocalNumber {
            digits: d.to_owned(),
        });
    }
    let (area, local) = d.split_at(area_len);
    let len_ok = if area_len == 3 {
        local.len() == 8
    } else {
        matches!(local.len(), 7 | 8)
    };
    if !len_ok || local.starts_with(['0', '1']) {
        return Err(PhoneError::LocalNumber {
            digits: d.to_owned(),
        });
    }
    Ok((area, local))
}

fn parse_inner(input: &str, default_area: Option<&str>) -> Result<Phone, PhoneError> {
    let raw = compact_identifier(input, &['-', '(', ')', '（', '）', '.', '·', '/', '—', '_']);
    if raw.is_empty() {
        return Err(PhoneError::Empty);
    }
    if let Some(pos) = raw.find(['转', '#', 'E', 'X']) {
        let digits: String = raw[..pos].chars().filter(char::is_ascii_digit).collect();
        return Err(PhoneError::Extension { digits });
    }
    let (body, international) = if let Some(rest) = raw.strip_prefix("+86") {
        (rest.to_owned(), true)
    } else if let Some(rest) = raw.strip_prefix("0086") {
        (rest.to_owned(), true)
    } else if let Some(rest) = raw
        .strip_prefix('+')
        .or_else(|| raw.strip_prefix("00").filter(|r| !r.starts_with('0')))
    {
        if raw.starts_with('+') || rest.len() > 11 {
            let code: String = rest.chars().take(3).collect();
            return Err(PhoneError::ForeignCountryCode { code });
        }
        (raw.clone(), false)
    } else if raw.len() == 13 && raw.starts_with("86") && is_mobile(&raw[2..]) {
        (raw[2..].to_owned(), true)
    } else {
        (raw, false)
    };
    if let Some(found) = body.chars().find(|c| !c.is_ascii_digit()) {
        return Err(PhoneError::Character { found });
    }
    let mut d = body;
    if international && !d.starts_with('1') && !d.starts_with('0') {
        d.insert(0, '0');
    }
    // Old habit: a trunk 0 before a mobile dialled from another city.
    if d.len() == 12 && d.starts_with('0') && is_mobile(&d[1..]) {
        d.remove(0);
    }
    if d.starts_with('1') && d.len() == 11 {
        return if is_mobile(&d) {
            Ok(Phone {
                canonical: d,
                kind: PhoneKind::Mobile,
            })
        } else {
            Err(PhoneError::Mobile { digits: d })
        };
    }
    if !international && is_service(&d) {
        return Ok(Phone {
            canonical: d,
            kind: PhoneKind::Service,
        });
    }
    if d.starts_with('0') {
        let (area, local) = split_landline(&d)?;
        return Ok(Phone {
            canonical: format!("{area}-{local}"),
            kind: PhoneKind::Landline,
        });
    }
    if matches!(d.len(), 7 | 8) && !d.starts_with('1') {
        return match default_area {
            Some(area) => {
                let full = format!("{}{d}", area.trim());
                let (area, local) = split_landline(&full)?;
                Ok(Phone {
                    canonical: format!("{area}-{local}"),
                    kind: PhoneKind::Landline,
                })
            }
            None => Err(PhoneError::MissingAreaCode { digits: d }),
        };
    }
    if d.starts_with('1') && d.len() > 8 {
        return Err(PhoneError::Mobile { digits: d });
    }
    Err(PhoneError::Unrecognised { digits: d })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(s: &str) -> (String, PhoneKind) {
        let p = Phone::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (p.as_str().to_owned(), p.kind())
    }

    #[test]
    fn mobiles() {
        for s in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+86 138 0013 8000",
            "+86-13800138000",
            "(+86)13800138000",
            "008613800138000",
            "8613800138000",
            "013800138000",
            "１３８００１３８０００",
        ] {
            assert_eq!(canon(s), ("13800138000".into(), PhoneKind::Mobile), "{s}");
        }
        let p = Phone::parse("19912345678").expect("valid");
        assert_eq!(p.last4(), "5678");
        assert_eq!(p.e164().as_deref(), Some("+8619912345678"));
        assert_eq!(
            Phone::parse("12345678901"),
            Err(PhoneError::Mobile {
                digits: "12345678901".into()
            })
        );
        assert_eq!(
            Phone::parse("1380013800"),
            Err(PhoneError::Mobile {
                digits: "1380013800".into()
            })
        );
    }

    #[test]
    fn landlines() {
        for s in [
            "028-85551234",
            "02885551234",
            "(028)85551234",
            "028 8555 1234",
            "+86 28 8555 1234",
            "0086-28-85551234",
            "（０２８）８５５５１２３４",
        ] {
            assert_eq!(
                canon(s),
                ("028-85551234".into(), PhoneKind::Landline),
                "{s}"
            );
        }
        assert_eq!(canon("010-62751234").0, "010-62751234");
        assert_eq!(canon("0571-8765432").0, "0571-8765432");
        assert_eq!(canon("057187654321").0, "0571-87654321");
        let p = Phone::parse("028-85551234").expect("valid");
        assert_eq!(p.area_code(), Some("028"));
        assert_eq!(p.local_number(), "85551234");
        assert_eq!(p.last4(), "1234");
        assert_eq!(p.digits(), "02885551234");
        assert_eq!(p.e164().as_deref(), Some("+862885551234"));
        assert_eq!(
            Phone::parse("85551234"),
            Err(PhoneError::MissingAreaCode {
                digits: "85551234".into()
            })
        );
        assert_eq!(
            Phone::parse_with_area_code("8555 1234", "028").map(|p| p.to_string()),
            Ok("028-85551234".into())
        );
        assert_eq!(
            Phone::parse("010-1234567"),
            Err(PhoneError::LocalNumber {
                digits: "0101234567".into()
            })
        );
        assert_eq!(
            Phone::parse("028-05551234"),
            Err(PhoneError::LocalNumber {
                digits: "02805551234".into()
            })
        );
        assert_eq!(
            Phone::parse("01185551234"),
            Err(PhoneError::AreaCode {
                digits: "01185551234".into()
            })
        );
        assert!(matches!(
            Phone::parse("028-85551234转801"),
            Err(PhoneError::Extension { .. })
        ));
        assert!(matches!(
            Phone::parse("028-85551234 ext 801"),
            Err(PhoneError::Extension { .. })
        ));
    }

    #[test]
    fn services_and_garbage() {
        for s in ["110", "120", "12345", "10086", "95588", "400-810-8888"] {
            assert_eq!(canon(s).1, PhoneKind::Service, "{s}");
        }
        assert_eq!(canon("400-810-8888").0, "4008108888");
        assert_eq!(
            Phone::parse("110").map(|p| p.last4().to_owned()),
            Ok("110".into())
        );
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse(" - "), Err(PhoneError::Empty));
        assert_eq!(
            Phone::parse("138001380a0"),
            Err(PhoneError::Character { found: 'A' })
        );
        assert!(matches!(
            Phone::parse("+1 415 555 0100"),
            Err(PhoneError::ForeignCountryCode { .. })
        ));
        assert!(matches!(
            Phone::parse("999"),
            Err(PhoneError::Unrecognised { .. })
        ));
    }

    proptest! {
        #[test]
        fn mobile_variants_agree(second in 3u8..10, rest in "[0-9]{9}", style in 0usize..6) {
            let d = format!("1{second}{rest}");
            let s = match style {
                0 => d.clone(),
                1 => format!("+86 {} {} {}", &d[..3], &d[3..7], &d[7..]),
                2 => format!("{}-{}-{}", &d[..3], &d[3..7], &d[7..]),
                3 => format!("0086{d}"),
                4 => super::super::text::to_full_width(&d),
                _ => format!("86{d}"),
            };
            let p = Phone::parse(&s).expect("valid mobile");
            prop_assert_eq!(p.as_str(), d.as_str());
            prop_assert_eq!(p.kind(), PhoneKind::Mobile);
            prop_assert_eq!(Phone::parse(p.as_str()), Ok(p.clone()));
        }

        #[test]
        fn landline_round_trip(area in prop_oneof![Just("010".to_string()), "02[0-9]", "0[3-9][0-9]{2}"], first in 2u8..10, rest in "[0-9]{7}", short in any::<bool>()) {
            let local = if area.len() == 4 && short {
                format!("{first}{}", &rest[..6])
            } else {
                format!("{first}{rest}")
            };
            let p = Phone::parse(&format!("{area} {local}")).expect("valid landline");
            prop_assert_eq!(p.as_str(), format!("{area}-{local}"));
            prop_assert_eq!(Phone::parse(p.as_str()), Ok(p.clone()));
            prop_assert_eq!(Phone::parse(&p.digits()), Ok(p.clone()));
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = Phone::parse(&s);
        }
    }
}
