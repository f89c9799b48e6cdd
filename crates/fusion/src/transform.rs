//! Per-field transforms applied by a mapping, in order, to one raw value.
//!
//! Validating transforms (`id_number`, `phone`, `plate`, `date`, `datetime`) turn
//! the value into pingan's canonical form or fail with a reason; a failure rejects
//! the row for that field, it never passes the raw value through.

use std::collections::BTreeMap;

use pingan_core::normalize::{date, id_number::IdNumber, name, phone::Phone, plate::Plate, text};
use regex::Regex;

use crate::read::RawRow;

/// One step of a field's transform chain.
#[derive(Debug, Clone)]
pub enum Transform {
    /// Trims and collapses inner whitespace runs (incl. ideographic spaces) to one space.
    Trim,
    ToSimplified,
    HalfWidth,
    Upper,
    Lower,
    /// Person name normalisation (simplified, half-width, spacing).
    Name,
    /// GB 11643 ID number → canonical 18 characters (15-digit numbers upgraded).
    IdNumber,
    Phone,
    Plate,
    /// A date → `YYYY-MM-DD`.
    Date,
    /// A date with optional time of day → `YYYY-MM-DD HH:MM:SS` (China time as written).
    DateTime,
    /// Free-text address normalisation (simplified, half-width, spacing removed).
    Address,
    /// Replaces the value with capture group `group` of the first match.
    Regex {
        re: Regex,
        group: usize,
    },
    /// Replaces the value with a constant.
    Constant(String),
    /// Replaces the value with the non-empty trimmed values of `fields` joined by `sep`.
    Concat {
        fields: Vec<String>,
        sep: String,
    },
    /// Replaces the value through a table; unknown values take `default` or fail.
    Map {
        map: BTreeMap<String, String>,
        default: Option<String>,
    },
}

impl Transform {
    /// The parameterless transforms by their mapping-file names.
    pub fn simple(name: &str) -> Option<Transform> {
        Some(match name {
            "trim" => Transform::Trim,
            "to_simplified" => Transform::ToSimplified,
            "half_width" => Transform::HalfWidth,
            "upper" => Transform::Upper,
            "lower" => Transform::Lower,
            "name" => Transform::Name,
            "id_number" => Transform::IdNumber,
            "phone" => Transform::Phone,
            "plate" => Transform::Plate,
            "date" => Transform::Date,
            "datetime" => Transform::DateTime,
            "address" => Transform::Address,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Transform::Trim => "trim",
            Transform::ToSimplified => "to_simplified",
            Transform::HalfWidth => "half_width",
            Transform::Upper => "upper",
            Transform::Lower => "lower",
            Transform::Name => "name",
            Transform::IdNumber => "id_number",
            Transform::Phone => "phone",
            Transform::Plate => "plate",
            Transform::Date => "date",
            Transform::DateTime => "datetime",
            Transform::Address => "address",
            Transform::Regex { .. } => "regex",
            Transform::Constant(_) => "constant",
            Transform::Concat { .. } => "concat",
            Transform::Map { .. } => "map",
        }
    }

    /// Applies the transform to `value` (already known non-empty for value
    /// transforms). `Err` carries the rejection reason.
    pub fn apply(&self, value: &str, row: &RawRow) -> Result<String, String> {
        Ok(match self {
            Transform::Trim => text::collapse_spaces(value),
            Transform::ToSimplified => text::to_simplified(value),
            Transform::HalfWidth => text::to_half_width(value),
            Transform::Upper => value.to_uppercase(),
            Transform::Lower => value.to_lowercase(),
            Transform::Name => name::normalize_name(value).map_err(|e| e.to_string())?,
            Transform::IdNumber => IdNumber::parse(value)
                .map_err(|e| e.to_string())?
                .as_str()
                .to_owned(),
            Transform::Phone => Phone::parse(value)
                .map_err(|e| e.to_string())?
                .as_str()
                .to_owned(),
            Transform::Plate => Plate::parse(value)
                .map_err(|e| e.to_string())?
                .as_str()
                .to_owned(),
            Transform::Date => date::parse_date(value)
                .map_err(|e| e.to_string())?
                .to_string(),
            Transform::DateTime => parse_datetime(value)?,
            Transform::Address => normalize_address(value),
            Transform::Regex { re, group } => re
                .captures(value)
                .and_then(|c| c.get(*group))
                .map(|m| m.as_str().to_owned())
                .ok_or_else(|| format!("{value:?} does not match /{}/", re.as_str()))?,
            Transform::Constant(c) => c.clone(),
            Transform::Concat { fields, sep } => {
                let parts: Vec<&str> = fields
                    .iter()
                    .filter_map(|f| row.get(f))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                parts.join(sep)
            }
            Transform::Map { map, default } => match map.get(value) {
                Some(v) => v.clone(),
                None => default
                    .clone()
                    .ok_or_else(|| format!("{value:?} is not one of the mapped values"))?,
            },
        })
    }
}

/// Address normalisation for matching and display: simplified, half-width, no
/// whitespace (Chinese addresses carry no meaningful spaces).
pub(crate) fn normalize_address(value: &str) -> String {
    let s = text::to_half_width(&text::to_simplified(value));
    s.chars().filter(|c| !text::is_space(*c)).collect()
}

/// `YYYY-MM-DD[ T]HH:MM[:SS]` in any date form [`date::parse_date`] accepts.
pub(crate) fn parse_datetime(value: &str) -> Result<String, String> {
    let v = text::to_half_width(value.trim());
    let (d, t) = match v.find([' ', 'T']) {
        Some(p) => (&v[..p], v[p + 1..].trim()),
        None => (v.as_str(), ""),
    };
    let day = date::parse_date(d).map_err(|e| e.to_string())?;
    let (mut h, mut m, mut s) = (0u32, 0u32, 0u32);
    if !t.is_empty() {
        let t = t.trim_end_matches(['Z', 'z']);
        let t = t.split(['.', '+']).next().unwrap_or(t);
        let parts: Vec<&str> = t.split(':').collect();
        let num = |p: &str| p.parse::<u32>().ok();
        match parts.as_slice() {
            [hh, mm] => {
                h = num(hh).ok_or_else(|| format!("bad hour in {value:?}"))?;
                m = num(mm).ok_or_else(|| format!("bad minute in {value:?}"))?;
            }
            [hh, mm, ss] => {
                h = num(hh).ok_or_else(|| format!("bad hour in {value:?}"))?;
                m = num(mm).ok_or_else(|| format!("bad minute in {value:?}"))?;
                s = num(ss).ok_or_else(|| format!("bad second in {value:?}"))?;
            }
            _ => return Err(format!("time of day in {value:?} is not HH:MM[:SS]")),
        }
        if h > 23 || m > 59 || s > 59 {
            return Err(format!("time of day in {value:?} is out of range"));
        }
    }
    Ok(format!("{day} {h:02}:{m:02}:{s:02}"))
}

/// Parses the canonical `YYYY-MM-DD HH:MM:SS` (China time, UTC+8) into a timestamp.
pub(crate) fn datetime_to_timestamp(s: &str) -> Option<pingan_core::Timestamp> {
    let (d, t) = s.split_once(' ').unwrap_or((s, "00:00:00"));
    let day = date::parse_date(d).ok()?;
    let mut it = t.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, sec) = (it.next()??, it.next()??, it.next().unwrap_or(Some(0))?);
    Some(day.start_in_china().plus_secs(h * 3600 + m * 60 + sec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row() -> RawRow {
        RawRow {
            line: 2,
            fields: vec![
                (Arc::from("a"), " 甲 ".to_owned()),
                (Arc::from("b"), "".to_owned()),
                (Arc::from("c"), "乙".to_owned()),
            ],
        }
    }

    #[test]
    fn value_transforms() {
        let r = row();
        assert_eq!(
            Transform::Trim.apply("  王　 小明 ", &r).unwrap(),
            "王 小明"
        );
        assert_eq!(Transform::ToSimplified.apply("張偉", &r).unwrap(), "张伟");
        assert_eq!(Transform::HalfWidth.apply("ＡＢ１２", &r).unwrap(), "AB12");
        assert_eq!(Transform::Upper.apply("abc", &r).unwrap(), "ABC");
        assert_eq!(
            Transform::IdNumber.apply("11010519491231002x", &r).unwrap(),
            "11010519491231002X"
        );
        assert!(Transform::IdNumber.apply("110105194912310021", &r).is_err());
        assert_eq!(
            Transform::Phone.apply("+86 138-0013-8000", &r).unwrap(),
            "13800138000"
        );
        assert_eq!(
            Transform::Date.apply("1990年3月7日", &r).unwrap(),
            "1990-03-07"
        );
        assert!(Transform::Date.apply("1990-02-30", &r).is_err());
        assert_eq!(
            Transform::DateTime.apply("2026/11/24 08:30", &r).unwrap(),
            "2026-11-24 08:30:00"
        );
        assert!(Transform::DateTime.apply("2026-11-24 25:00", &r).is_err());
        assert_eq!(
            Transform::Address
                .apply("北京市 朝陽區 建國路８８號", &r)
                .unwrap(),
            "北京市朝阳区建国路88号"
        );
    }

    #[test]
    fn generating_transforms() {
        let r = row();
        let c = Transform::Concat {
            fields: vec!["a".into(), "b".into(), "c".into(), "missing".into()],
            sep: "-".into(),
        };
        assert_eq!(c.apply("", &r).unwrap(), "甲-乙");
        let m = Transform::Map {
            map: [("1".to_owned(), "男".to_owned())].into(),
            default: None,
        };
        assert_eq!(m.apply("1", &r).unwrap(), "男");
        assert_eq!(
            m.apply("9", &r).unwrap_err(),
            "\"9\" is not one of the mapped values"
        );
        let re = Transform::Regex {
            re: Regex::new(r"(\d+)室").unwrap(),
            group: 1,
        };
        assert_eq!(re.apply("3单元502室", &r).unwrap(), "502");
        assert!(re.apply("无", &r).is_err());
    }

    #[test]
    fn datetime_round_trip() {
        let t = datetime_to_timestamp("2026-11-24 08:30:00").unwrap();
        // 08:30 China time is 00:30 UTC.
        assert_eq!(t.to_rfc3339(), "2026-11-24T00:30:00.000Z");
    }
}
