//! The administrative-division table (province → prefecture city → county) used to
//! validate the region part of ID numbers and to recognise place names in addresses.
//!
//! The table is `data/adcodes.csv` from the `cpca` package (MIT, see
//! `data/ATTRIBUTION.md`), embedded at compile time and parsed once on first use.
//! Rows without coordinates (e.g. `市辖区`) inherit their parent's centre.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::LatLng;

static ADCODES_CSV: &str = include_str!("../../data/adcodes.csv");

/// Names the source uses for pseudo-cities that group counties administered directly
/// by a province or municipality; they are not real city names.
const PSEUDO_CITY_NAMES: [&str; 4] = [
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
];

/// The level of a division in the three-level hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegionLevel {
    Province,
    City,
    County,
}

/// One administrative division.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// Six-digit division code, e.g. `510104`.
    pub code: &'static str,
    /// The division's own name, e.g. `锦江区`.
    pub name: &'static str,
    /// Name of the province-level division it belongs to, e.g. `四川省`.
    pub province: &'static str,
    /// Name of the prefecture-level city it belongs to (its own name for a city row).
    /// For the four municipalities it is the municipality's name; `None` for province
    /// rows and for county-level cities administered directly by a province (仙桃市).
    pub city: Option<&'static str>,
    /// Latitude of the division's centre (inherited from the parent when the source
    /// has none).
    pub lat: f64,
    /// Longitude of the division's centre.
    pub lng: f64,
}

impl Region {
    pub fn level(&self) -> RegionLevel {
        level_of(self.code)
    }

    /// The centre as a validated point (`None` only if the table had no coordinates
    /// anywhere up the hierarchy, which does not happen with the shipped data).
    pub fn point(&self) -> Option<LatLng> {
        LatLng::new(self.lat, self.lng).ok()
    }

    /// Province + city + own name without repetition, e.g. `四川省成都市锦江区`,
    /// `北京市东城区`, `湖北省仙桃市`.
    pub fn full_name(&self) -> String {
        let mut s = String::from(self.province);
        if let Some(city) = self.city
            && city != self.province
            && city != self.name
        {
            s.push_str(city);
        }
        if self.name != self.province && !PSEUDO_CITY_NAMES.contains(&self.name) {
            s.push_str(self.name);
        }
        s
    }
}

/// How an ID number's region code relates to the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RegionStatus {
    /// The six-digit code is in the table.
    Listed(Region),
    /// Only the province (and perhaps city) prefix is listed: the county was abolished
    /// or renamed before the table was made, or created after it. Older ID numbers
    /// legitimately keep such codes for life.
    Unlisted {
        province: Region,
        city: Option<Region>,
    },
}

impl RegionStatus {
    /// The most specific listed region (the county, else the city, else the province).
    pub fn best(&self) -> Region {
        match self {
            RegionStatus::Listed(r) => *r,
            RegionStatus::Unlisted { province, city } => city.unwrap_or(*province),
        }
    }

    pub fn is_listed(&self) -> bool {
        matches!(self, RegionStatus::Listed(_))
    }
}

struct Table {
    rows: Vec<Region>,
    by_code: HashMap<&'static str, usize>,
    by_name: HashMap<&'static str, Vec<usize>>,
}

fn level_of(code: &str) -> RegionLevel {
    if code.ends_with("0000") {
        RegionLevel::Province
    } else if code.ends_with("00") {
        RegionLevel::City
    } else {
        RegionLevel::County
    }
}

struct RawRow {
    code: &'static str,
    name: &'static str,
    coords: Option<(f64, f64)>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(build_table)
}

fn build_table() -> Table {
    let mut raw: Vec<RawRow> = ADCODES_CSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let line = line.trim_end_matches('\r');
            let mut it = line.split(',');
            let adcode = it.next()?;
            let name = it.next()?;
            let lng = it.next().and_then(|s| s.parse::<f64>().ok());
            let lat = it.next().and_then(|s| s.parse::<f64>().ok());
            if adcode.len() < 6 || !adcode.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(RawRow {
                code: &adcode[..6],
                name,
                coords: lat.zip(lng),
            })
        })
        .collect();
    raw.sort_by_key(|r| r.code);
    raw.dedup_by_key(|r| r.code);
    let raw_idx: HashMap<&str, usize> = raw.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    let name_of = |code: &str| raw_idx.get(code).map(|&i| raw[i].name);
    let coords_of = |code: &str| raw_idx.get(code).and_then(|&i| raw[i].coords);

    let mut rows = Vec::with_capacity(raw.len());
    for r in &raw {
        let prov_code = format!("{}0000", &r.code[..2]);
        let city_code = format!("{}00", &r.code[..4]);
        let province = name_of(&prov_code).unwrap_or(r.name);
        let city = match level_of(r.code) {
            RegionLevel::Province => None,
            RegionLevel::City | RegionLevel::County => match name_of(&city_code) {
                Some(n) if PSEUDO_CITY_NAMES.contains(&n) => {
                    // Municipalities (北京市 …) act as their own city; counties under a
                    // province directly have no prefecture city.
                    if matches!(&r.code[..2], "11" | "12" | "31" | "50") {
                        Some(province)
                    } else {
                        None
                    }
                }
                Some(n) => Some(n),
                None => None,
            },
        };
        let (lat, lng) = r
            .coords
            .or_else(|| coords_of(&city_code))
            .or_else(|| coords_of(&prov_code))
            .unwrap_or((f64::NAN, f64::NAN));
        rows.push(Region {
            code: r.code,
            name: r.name,
            province,
            city,
            lat,
            lng,
        });
    }
    let by_code = rows.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    let mut by_name: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if !PSEUDO_CITY_NAMES.contains(&r.name) {
            by_name.entry(r.name).or_default().push(i);
        }
    }
    Table {
        rows,
        by_code,
        by_name,
    }
}

/// The division with this exact six-digit code.
pub fn lookup(code: &str) -> Option<Region> {
    let t = table();
    t.by_code.get(code).map(|&i| t.rows[i])
}

/// The province-level division of any six-digit code (`51xxxx` → 四川省).
pub fn province_of(code: &str) -> Option<Region> {
    let prefix = code.get(..2)?;
    lookup(&format!("{prefix}0000"))
}

/// The prefecture-level row of any six-digit code (`5101xx` → 成都市), when listed
/// and not a pseudo-city grouping.
pub fn city_of(code: &str) -> Option<Region> {
    let prefix = code.get(..4)?;
    lookup(&format!("{prefix}00")).filter(|r| !PSEUDO_CITY_NAMES.contains(&r.name))
}

/// Classifies a six-digit region code for ID-number validation: listed, listed only
/// by its province prefix, or unknown (`None`).
pub fn status(code: &str) -> Option<RegionStatus> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(r) = lookup(code) {
        return Some(RegionStatus::Listed(r));
    }
    let province = province_of(code)?;
    Some(RegionStatus::Unlisted {
        province,
        city: city_of(code),
    })
}

/// Every listed division, ordered by code.
pub fn all() -> impl Iterator<Item = Region> {
    table().rows.iter().copied()
}

/// The county-level divisions whose code starts with `prefix` (e.g. `5101` for the
/// districts and counties of 成都市), ordered by code.
pub fn counties_with_prefix(prefix: &str) -> impl Iterator<Item = Region> + '_ {
    all().filter(move |r| {
        r.level() == RegionLevel::County
            && r.code.starts_with(prefix)
            && !PSEUDO_CITY_NAMES.contains(&r.name)
    })
}

/// All divisions with exactly this name (names such as `朝阳区` repeat across cities).
pub fn find_by_name(name: &str) -> Vec<Region> {
    let t = table();
    t.by_name
        .get(name)
        .map(|v| v.iter().map(|&i| t.rows[i]).collect())
        .unwrap_or_default()
}

/// The short form of a division name used in everyday writing: `四川省` → `四川`,
/// `成都市` → `成都`, `广西壮族自治区` → `广西`, `锦江区` stays (a one-character
/// stem such as `县` would be ambiguous, so names of two characters are kept).
pub fn short_name(name: &str) -> &str {
    const SUFFIXES: [&str; 11] = [
        "维吾尔自治区",
        "壮族自治区",
        "回族自治区",
        "特别行政区",
        "自治区",
        "自治州",
        "自治县",
        "省",
        "市",
        "地区",
        "盟",
    ];
    for suf in SUFFIXES {
        if let Some(stem) = name.strip_suffix(suf)
            && stem.chars().count() >= 2
        {
            return stem;
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_county_city_province() {
        let r = lookup("510104").expect("锦江区");
        assert_eq!(r.name, "锦江区");
        assert_eq!(r.province, "四川省");
        assert_eq!(r.city, Some("成都市"));
        assert_eq!(r.level(), RegionLevel::County);
        assert_eq!(r.full_name(), "四川省成都市锦江区");
        assert!((r.lat - 30.598158).abs() < 1e-9);
        assert!((r.lng - 104.117022).abs() < 1e-9);

        let c = lookup("510100").expect("成都市");
        assert_eq!(c.level(), RegionLevel::City);
        assert_eq!(c.city, Some("成都市"));
        assert_eq!(c.full_name(), "四川省成都市");

        let p = lookup("510000").expect("四川省");
        assert_eq!(p.level(), RegionLevel::Province);
        assert_eq!(p.city, None);
        assert_eq!(p.full_name(), "四川省");
    }

    #[test]
    fn municipalities_and_direct_counties() {
        let r = lookup("110101").expect("东城区");
        assert_eq!(r.city, Some("北京市"));
        assert_eq!(r.full_name(), "北京市东城区");
        let x = lookup("429004").expect("仙桃市");
        assert_eq!(x.city, None);
        assert_eq!(x.full_name(), "湖北省仙桃市");
    }

    #[test]
    fn missing_coordinates_are_inherited() {
        // 520301 市辖区 has no coordinates in the source; it takes 遵义市's.
        let r = lookup("520301").expect("row exists");
        let city = lookup("520300").expect("遵义市");
        assert_eq!((r.lat, r.lng), (city.lat, city.lng));
        assert!(all().all(|r| r.point().is_some()), "every row has a centre");
    }

    #[test]
    fn table_size_and_status() {
        assert_eq!(all().count(), 3511);
        assert!(status("510104").is_some_and(|s| s.is_listed()));
        // 510117 郫都区 (2016) is newer than the table: province and city prefix known.
        match status("510117") {
            Some(RegionStatus::Unlisted { province, city }) => {
                assert_eq!(province.name, "四川省");
                assert_eq!(city.map(|c| c.name), Some("成都市"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(status("990101"), None);
        assert_eq!(status("51010"), None);
        assert_eq!(counties_with_prefix("5101").count(), 20);
    }

    #[test]
    fn names() {
        let hits = find_by_name("朝阳区");
        let codes: Vec<&str> = hits.iter().map(|r| r.code).collect();
        assert!(codes.contains(&"110105"), "{codes:?}");
        assert!(codes.contains(&"220104"), "{codes:?}");
        assert_eq!(short_name("四川省"), "四川");
        assert_eq!(short_name("广西壮族自治区"), "广西");
        assert_eq!(short_name("成都市"), "成都");
        assert_eq!(short_name("锦江区"), "锦江区");
        assert_eq!(short_name("沙市"), "沙市");
    }
}
