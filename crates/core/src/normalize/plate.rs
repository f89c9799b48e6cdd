//! Motor-vehicle plates of mainland China per GA 36-2018: a province abbreviation,
//! the issuing authority's letter, then
//! - 5 serial characters (digits and letters except `I`/`O`) for ordinary plates,
//! - 6 for new-energy plates: `D`/`F` + letter-or-digit + 4 digits for small cars
//!   (`川AD12345`), 5 digits + `D`/`F` for large vehicles (`川A12345D`),
//! - 4 serial characters + a suffix for special plates: 警 police, 学 driving school,
//!   挂 trailer, 港/澳 cross-border (粤Z only), 领 consulate, 试 test, 超 oversize.
//!
//! Input may be lower-case, full-width, traditional (`滬`, `學`), and contain spaces,
//! dots or the `·` that is printed on physical plates; the canonical form has none.

use std::fmt;

use thiserror::Error;

use super::text::compact_identifier;

/// `(abbreviation, province name, two-digit region prefix)`.
const PROVINCES: [(char, &str, &str); 31] = [
    ('京', "北京", "11"),
    ('津', "天津", "12"),
    ('冀', "河北", "13"),
    ('晋', "山西", "14"),
    ('蒙', "内蒙古", "15"),
    ('辽', "辽宁", "21"),
    ('吉', "吉林", "22"),
    ('黑', "黑龙江", "23"),
    ('沪', "上海", "31"),
    ('苏', "江苏", "32"),
    ('浙', "浙江", "33"),
    ('皖', "安徽", "34"),
    ('闽', "福建", "35"),
    ('赣', "江西", "36"),
    ('鲁', "山东", "37"),
    ('豫', "河南", "41"),
    ('鄂', "湖北", "42"),
    ('湘', "湖南", "43"),
    ('粤', "广东", "44"),
    ('桂', "广西", "45"),
    ('琼', "海南", "46"),
    ('渝', "重庆", "50"),
    ('川', "四川", "51"),
    ('贵', "贵州", "52"),
    ('云', "云南", "53"),
    ('藏', "西藏", "54"),
    ('陕', "陕西", "61"),
    ('甘', "甘肃", "62"),
    ('青', "青海", "63"),
    ('宁', "宁夏", "64"),
    ('新', "新疆", "65"),
];

/// Traditional forms seen in Hong Kong/Taiwan-keyboard input.
fn simplify(c: char) -> char {
    match c {
        '滬' => '沪',
        '遼' => '辽',
        '魯' => '鲁',
        '蘇' => '苏',
        '贛' => '赣',
        '陝' => '陕',
        '閩' => '闽',
        '貴' => '贵',
        '寧' => '宁',
        '瓊' => '琼',
        '雲' => '云',
        '粵' => '粤',
        '晉' => '晋',
        '學' => '学',
        '掛' => '挂',
        '領' => '领',
        '試' => '试',
        _ => c,
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PlateError {
    #[error("plate is empty")]
    Empty,
    #[error("plate has {len} characters; expected 7 (8 for new-energy plates)")]
    Length { len: usize },
    #[error("plate starts with {found:?}, not a province abbreviation")]
    Province { found: char },
    #[error("plate issuing-authority code {found:?} is not a letter A–Z (except I)")]
    Authority { found: char },
    #[error("plate has invalid character {found:?} at position {position}")]
    Character { position: usize, found: char },
    #[error("plate serial {serial:?} matches no GA 36 format")]
    Serial { serial: String },
    #[error("{suffix} plates are issued only as 粤Z")]
    CrossBorder { suffix: char },
}

impl PlateError {
    /// The name of the offending field, for error responses.
    pub fn field(&self) -> &'static str {
        "plate"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlateKind {
    Ordinary,
    NewEnergySmall,
    NewEnergyLarge,
    Police,
    Coach,
    Trailer,
    HongKong,
    Macau,
    Consulate,
    Test,
    Oversize,
}

impl PlateKind {
    fn from_suffix(c: char) -> Option<PlateKind> {
        Some(match c {
            '警' => PlateKind::Police,
            '学' => PlateKind::Coach,
            '挂' => PlateKind::Trailer,
            '港' => PlateKind::HongKong,
            '澳' => PlateKind::Macau,
            '领' => PlateKind::Consulate,
            '试' => PlateKind::Test,
            '超' => PlateKind::Oversize,
            _ => return None,
        })
    }

    pub fn is_new_energy(self) -> bool {
        matches!(self, PlateKind::NewEnergySmall | PlateKind::NewEnergyLarge)
    }
}

/// A validated plate in canonical form (`川A12345`, `川AD12345`, `粤Z1234港`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plate {
    canonical: String,
    kind: PlateKind,
}

fn is_serial_char(c: char) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && c != 'I' && c != 'O')
}

impl Plate {
    pub fn parse(input: &str) -> Result<Plate, PlateError> {
        let compact = compact_identifier(input, &['·', '•', '・', '.', '-', '_']);
        let chars: Vec<char> = compact.chars().map(simplify).collect();
        if chars.is_empty() {
            return Err(PlateError::Empty);
        }
        let province = chars[0];
        if province_entry(province).is_none() {
            return Err(PlateError::Province { found: province });
        }
        if !matches!(chars.len(), 7 | 8) {
            return Err(PlateError::Length { len: chars.len() });
        }
        let authority = chars[1];
        if !authority.is_ascii_uppercase() || authority == 'I' {
            return Err(PlateError::Authority { found: authority });
        }
        let last = chars[chars.len() - 1];
        let serial: String = chars[2..].iter().collect();
        let serial_err = || PlateError::Serial {
            serial: serial.clone(),
        };
        let kind = if let Some(kind) = PlateKind::from_suffix(last) {
            if chars.len() != 7 {
                return Err(serial_err());
            }
            check_chars(&chars[2..6], 2, is_serial_char)?;
            if matches!(kind, PlateKind::HongKong | PlateKind::Macau)
                && (province != '粤' || authority != 'Z')
            {
                return Err(PlateError::CrossBorder { suffix: last });
            }
            kind
        } else if chars.len() == 7 {
            check_chars(&chars[2..7], 2, is_serial_char)?;
            PlateKind::Ordinary
        } else {
            let s = &chars[2..8];
            if matches!(s[0], 'D' | 'F') {
                check_chars(&s[1..2], 3, is_serial_char)?;
                check_chars(&s[2..6], 4, |c| c.is_ascii_digit())?;
                PlateKind::NewEnergySmall
            } else if matches!(s[5], 'D' | 'F') {
                check_chars(&s[0..5], 2, |c| c.is_ascii_digit())?;
                PlateKind::NewEnergyLarge
            } else {
                return Err(serial_err());
            }
        };
        Ok(Plate {
            canonical: chars.iter().collect(),
            kind,
        })
    }

    /// Canonical form without separators.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    pub fn kind(&self) -> PlateKind {
        self.kind
    }

    /// The province abbreviation (`川`).
    pub fn province(&self) -> char {
        self.canonical.chars().next().unwrap_or_default()
    }

    /// The issuing-authority letter (`A` for the provincial capital's bureau).
    pub fn authority(&self) -> char {
        self.canonical.chars().nth(1).unwrap_or_default()
    }

    /// Province abbreviation and authority letter (`川A`), the plate's issuing area.
    pub fn prefix(&self) -> &str {
        let end = self
            .canonical
            .char_indices()
            .nth(2)
            .map_or(self.canonical.len(), |(i, _)| i);
        &self.canonical[..end]
    }

    /// Everything after the prefix (`12345`, `D12345`, `1234警`).
    pub fn serial(&self) -> &str {
        &self.canonical[self.prefix().len()..]
    }

    /// The province's short name (`四川`).
    pub fn province_name(&self) -> &'static str {
        province_entry(self.province()).map_or("", |e| e.1)
    }

    /// The province's two-digit administrative code prefix (`51`).
    pub fn province_code(&self) -> &'static str {
        province_entry(self.province()).map_or("", |e| e.2)
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl std::str::FromStr for Plate {
    type Err = PlateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Plate::parse(s)
    }
}

/// All 31 province abbreviations, in administrative-code order.
pub fn province_abbreviations() -> impl Iterator<Item = char> {
    PROVINCES.iter().map(|p| p.0)
}

/// The abbreviation for a two-digit province code (`"51"` → `川`).
pub fn abbreviation_for_province_code(code2: &str) -> Option<char> {
    PROVINCES.iter().find(|p| p.2 == code2).map(|p| p.0)
}

fn province_entry(c: char) -> Option<&'static (char, &'static str, &'static str)> {
    PROVINCES.iter().find(|p| p.0 == c)
}

/// Checks `chars` (starting at 0-based plate `offset`) against `ok`.
fn check_chars(chars: &[char], offset: usize, ok: impl Fn(char) -> bool) -> Result<(), PlateError> {
    match chars.iter().position(|&c| !ok(c)) {
        Some(i) => Err(PlateError::Character {
            position: offset + i + 1,
            found: chars[i],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind(s: &str) -> PlateKind {
        Plate::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .kind()
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("川A12345"), PlateKind::Ordinary);
        assert_eq!(kind("京N8P8F8"), PlateKind::Ordinary);
        assert_eq!(kind("川AD12345"), PlateKind::NewEnergySmall);
        assert_eq!(kind("沪AFA1234"), PlateKind::NewEnergySmall);
        assert_eq!(kind("粤B12345D"), PlateKind::NewEnergyLarge);
        assert_eq!(kind("川A1234警"), PlateKind::Police);
        assert_eq!(kind("川A1234学"), PlateKind::Coach);
        assert_eq!(kind("川A1234挂"), PlateKind::Trailer);
        assert_eq!(kind("粤Z1234港"), PlateKind::HongKong);
        assert_eq!(kind("粤Z1234澳"), PlateKind::Macau);
        assert_eq!(kind("沪A1234领"), PlateKind::Consulate);
        assert_eq!(kind("川A1234试"), PlateKind::Test);
        assert_eq!(kind("川A1234超"), PlateKind::Oversize);
        assert!(PlateKind::NewEnergyLarge.is_new_energy());
    }

    #[test]
    fn normalisation() {
        for s in [
            "川a12345",
            "川A·12345",
            " 川 A 1 2 3 4 5 ",
            "川Ａ１２３４５",
            "川A-12345",
            "川A.12345",
        ] {
            assert_eq!(
                Plate::parse(s).map(|p| p.to_string()),
                Ok("川A12345".into()),
                "{s}"
            );
        }
        assert_eq!(
            Plate::parse("滬A·1234學").map(|p| p.to_string()),
            Ok("沪A1234学".into())
        );
        let p = Plate::parse("川AD12345").expect("valid");
        assert_eq!(p.province(), '川');
        assert_eq!(p.authority(), 'A');
        assert_eq!(p.prefix(), "川A");
        assert_eq!(p.serial(), "D12345");
        assert_eq!(p.province_name(), "四川");
        assert_eq!(p.province_code(), "51");
        assert_eq!(abbreviation_for_province_code("51"), Some('川'));
        assert_eq!(province_abbreviations().count(), 31);
    }

    #[test]
    fn rejections() {
        assert_eq!(Plate::parse(""), Err(PlateError::Empty));
        assert_eq!(
            Plate::parse("台A12345"),
            Err(PlateError::Province { found: '台' })
        );
        assert_eq!(Plate::parse("川A1234"), Err(PlateError::Length { len: 6 }));
        assert_eq!(
            Plate::parse("川112345"),
            Err(PlateError::Authority { found: '1' })
        );
        assert_eq!(
            Plate::parse("川I12345"),
            Err(PlateError::Authority { found: 'I' })
        );
        assert_eq!(
            Plate::parse("川A1234O"),
            Err(PlateError::Character {
                position: 7,
                found: 'O'
            })
        );
        assert_eq!(
            Plate::parse("川A12I45"),
            Err(PlateError::Character {
                position: 5,
                found: 'I'
            })
        );
        assert_eq!(
            Plate::parse("川AD1234A"),
            Err(PlateError::Character {
                position: 8,
                found: 'A'
            })
        );
        assert_eq!(
            Plate::parse("川A1234AD"),
            Err(PlateError::Character {
                position: 7,
                found: 'A'
            })
        );
        assert_eq!(
            Plate::parse("川A123456"),
            Err(PlateError::Serial {
                serial: "123456".into()
            })
        );
        assert_eq!(
            Plate::parse("川A1234港"),
            Err(PlateError::CrossBorder { suffix: '港' })
        );
        assert_eq!(
            Plate::parse("川A12345警"),
            Err(PlateError::Serial {
                serial: "12345警".into()
            })
        );
    }

    proptest! {
        #[test]
        fn ordinary_round_trip(p in 0usize..31, a in "[A-HJ-Z]", serial in "[0-9A-HJ-NP-Z]{5}", style in 0usize..3) {
            let prov = PROVINCES[p].0;
            let canonical = format!("{prov}{a}{serial}");
            let input = match style {
                0 => canonical.clone(),
                1 => format!("{prov}{}·{}", a.to_lowercase(), serial.to_lowercase()),
                _ => format!("{prov}{}", super::super::text::to_full_width(&format!("{a} {serial}"))),
            };
            let plate = Plate::parse(&input).expect("valid");
            prop_assert_eq!(plate.as_str(), canonical.as_str());
            prop_assert_eq!(plate.kind(), PlateKind::Ordinary);
            prop_assert_eq!(Plate::parse(plate.as_str()), Ok(plate.clone()));
        }

        #[test]
        fn new_energy_round_trip(p in 0usize..31, df in "[DF]", second in "[0-9A-HJ-NP-Z]", digits in "[0-9]{4}", large in any::<bool>()) {
            let prov = PROVINCES[p].0;
            let s = if large {
                format!("{prov}A{}{digits}{df}", if second.as_bytes()[0].is_ascii_digit() { second.clone() } else { "7".into() })
            } else {
                format!("{prov}A{df}{second}{digits}")
            };
            let plate = Plate::parse(&s).expect("valid");
            prop_assert_eq!(plate.kind(), if large { PlateKind::NewEnergyLarge } else { PlateKind::NewEnergySmall });
            prop_assert_eq!(plate.as_str(), s.as_str());
        }

        #[test]
        fn never_panics(s in "\\PC{0,12}") {
            let _ = Plate::parse(&s);
        }
    }
}
