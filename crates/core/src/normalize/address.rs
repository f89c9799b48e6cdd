//! Free-text Chinese addresses split into the parts of a standard address
//! (标准地址): province / city / district (matched against the division table),
//! street (街道/镇/乡), community (社区/村), road + door number (路/街/大道/巷/胡同 +
//! 号, with `二段`-style sections), building (栋/幢/座/号楼), unit (单元),
//! floor (层) and room (室/号/户).
//!
//! The parser is forgiving: every part is optional, input is cleaned first
//! (full-width → half-width, traditional → simplified, whitespace and punctuation
//! removed, `#` read as `号`, Chinese numerals before 栋/单元/层/室/号 turned into
//! digits), and `3-2-501` is read as building-unit-room. Text it cannot place is
//! kept in `poi` (between door number and building, e.g. a compound's name) or
//! `rest`, never silently dropped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use super::region::{self, Region, RegionLevel};
use super::text::{is_space, to_half_width, to_simplified};

/// The parts of one address. Region names are the table's full names
/// (`四川省`, `成都市`, `锦江区`) even when the input used short forms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ParsedAddress {
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    /// Six-digit code of the most specific matched division.
    pub region_code: Option<String>,
    pub street: Option<String>,
    pub community: Option<String>,
    /// Road name including its section, e.g. `人民南路二段`.
    pub road: Option<String>,
    /// Door number without `号`, e.g. `12`, `12-1`, `12附3`.
    pub number: Option<String>,
    /// Unplaced text after the door number and before the building (compound name).
    pub poi: Option<String>,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub floor: Option<String>,
    pub room: Option<String>,
    /// Unplaced text after the last recognised part.
    pub rest: Option<String>,
}

impl ParsedAddress {
    /// True when nothing at all was recognised or kept.
    pub fn is_empty(&self) -> bool {
        *self == ParsedAddress::default()
    }

    /// The canonical text of the recognised parts, e.g.
    /// `四川省成都市锦江区春熙路街道红星社区人民南路二段12号3栋2单元501室`.
    /// `poi` and `rest` are left out, so two spellings of the same place agree.
    pub fn standard_form(&self) -> String {
        let mut s = String::new();
        for part in [&self.province, &self.city, &self.district]
            .into_iter()
            .flatten()
        {
            if !s.ends_with(part.as_str()) {
                s.push_str(part);
            }
        }
        for part in [&self.street, &self.community, &self.road]
            .into_iter()
            .flatten()
        {
            s.push_str(part);
        }
        let numbered = [
            (&self.number, "号"),
            (&self.building, "栋"),
            (&self.unit, "单元"),
            (&self.floor, "层"),
            (&self.room, "室"),
        ];
        for (part, marker) in numbered {
            if let Some(p) = part {
                let _ = write!(s, "{p}{marker}");
            }
        }
        s
    }

    /// The part below the district (road, number, building, unit, room), the key a
    /// geocoder matches inside a known district.
    pub fn local_form(&self) -> String {
        let mut s = String::new();
        if let Some(r) = &self.road {
            s.push_str(r);
        }
        let numbered = [
            (&self.number, "号"),
            (&self.building, "栋"),
            (&self.unit, "单元"),
            (&self.floor, "层"),
            (&self.room, "室"),
        ];
        for (part, marker) in numbered {
            if let Some(p) = part {
                let _ = write!(s, "{p}{marker}");
            }
        }
        s
    }
}

/// Parses free text with no location context.
pub fn parse_address(text: &str) -> ParsedAddress {
    parse_address_in(text, "")
}

/// Parses free text, preferring divisions whose code starts with `context_prefix`
/// when a name is ambiguous (`朝阳区` is in both Beijing and Changchun); pass e.g.
/// `"5101"` for records from a Chengdu source. The context never invents parts the
/// text does not contain.
pub fn parse_address_in(text: &str, context_prefix: &str) -> ParsedAddress {
    let c = clean(text);
    let mut out = ParsedAddress::default();
    let mut i = 0;
    parse_regions(&c, &mut i, context_prefix, &mut out);
    parse_street_and_community(&c, &mut i, &mut out);
    parse_road_and_number(&c, &mut i, &mut out);
    parse_building_parts(&c, &mut i, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Cleaning

fn is_punct(c: char) -> bool {
    matches!(
        c,
        ',' | '，'
            | '、'
            | ';'
            | '；'
            | ':'
            | '：'
            | '"'
            | '“'
            | '”'
            | '\''
            | '‘'
            | '’'
            | '('
            | ')'
            | '（'
            | '）'
            | '['
            | ']'
            | '【'
            | '】'
            | '<'
            | '>'
            | '《'
            | '》'
            | '。'
            | '!'
            | '?'
            | '~'
            | '*'
    )
}

fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn is_cn_numeral(c: char) -> bool {
    cn_digit(c).is_some() || c == '十' || c == '百'
}

/// Value of a Chinese numeral up to 999 (`十二` 12, `二十` 20, `一〇一` 101).
fn cn_value(s: &[char]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    if !s.iter().any(|&c| c == '十' || c == '百') {
        // Digit-by-digit form: 一〇一.
        return s
            .iter()
            .try_fold(0u32, |acc, &c| Some(acc * 10 + cn_digit(c)?));
    }
    let mut total = 0;
    let mut cur: Option<u32> = None;
    for &c in s {
        match c {
            '百' => {
                total += cur.unwrap_or(1) * 100;
                cur = None;
            }
            '十' => {
                total += cur.unwrap_or(1) * 10;
                cur = None;
            }
            // 零 only marks a skipped place (一百零一).
            '零' | '〇' => {}
            _ => {
                if cur.is_some() {
                    return None;
                }
                cur = Some(cn_digit(c)?);
            }
        }
    }
    Some(total + cur.unwrap_or(0))
}

const ROMAN_SECTION: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// `2` → `二`, `12` → `十二` (road sections are written in Chinese numerals).
fn to_cn_numeral(n: u32) -> String {
    match n {
        0..=9 => ROMAN_SECTION[n as usize].to_owned(),
        10..=19 => format!(
            "十{}",
            if n == 10 {
                ""
            } else {
                ROMAN_SECTION[(n - 10) as usize]
            }
        ),
        20..=99 => format!(
            "{}十{}",
            ROMAN_SECTION[(n / 10) as usize],
            if n.is_multiple_of(10) {
                ""
            } else {
                ROMAN_SECTION[(n % 10) as usize]
            }
        ),
        _ => n.to_string(),
    }
}

/// Markers before which a Chinese numeral is a count, not part of a name.
fn numeral_marker_at(c: &[char], j: usize) -> bool {
    match c.get(j) {
        Some('栋' | '幢' | '单' | '层' | '室' | '座') => true,
        // `号` but not `号路`, `号桥` (names such as 一号路 keep their numeral).
        Some('号') => !matches!(c.get(j + 1), Some('路' | '街' | '巷' | '桥' | '线' | '道')),
        _ => false,
    }
}

fn clean(text: &str) -> Vec<char> {
    let s = to_simplified(&to_half_width(text));
    let raw: Vec<char> = s
        .chars()
        .filter(|&c| !is_space(c) && !is_punct(c))
        .map(|c| match c {
            '#' | '＃' => '号',
            '—' | '–' | '－' | '~' => '-',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    // Chinese numerals before count markers become digits: 三单元 → 3单元.
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if is_cn_numeral(raw[i]) {
            let mut j = i;
            while j < raw.len() && is_cn_numeral(raw[j]) {
                j += 1;
            }
            let prev_is_name = i > 0 && !raw[i - 1].is_ascii_digit() && !is_marker_end(raw[i - 1]);
            if numeral_marker_at(&raw, j)
                && !prev_is_name
                && let Some(v) = cn_value(&raw[i..j])
            {
                out.extend(v.to_string().chars());
                i = j;
                continue;
            }
            out.extend_from_slice(&raw[i..j]);
            i = j;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// Characters that end a recognised part, after which a numeral starts a count.
fn is_marker_end(c: char) -> bool {
    matches!(
        c,
        '号' | '栋'
            | '幢'
            | '座'
            | '元'
            | '层'
            | '楼'
            | '区'
            | '院'
            | '路'
            | '街'
            | '道'
            | '巷'
            | '段'
            | '同'
            | '村'
    )
}

// ---------------------------------------------------------------------------
// Regions

struct NameIndex {
    by_name: HashMap<String, Vec<Region>>,
    /// For each first character, the lengths (in chars) of names starting with it,
    /// longest first: only those prefixes are looked up.
    lengths: HashMap<char, Vec<usize>>,
}

fn name_index() -> &'static NameIndex {
    static INDEX: OnceLock<NameIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_name: HashMap<String, Vec<Region>> = HashMap::new();
        for r in region::all() {
            if matches!(
                r.name,
                "市辖区" | "县" | "省直辖县级行政区划" | "自治区直辖县级行政区划"
            ) {
                continue;
            }
            by_name.entry(r.name.to_owned()).or_default().push(r);
            if r.level() != RegionLevel::County {
                let short = region::short_name(r.name);
                if short != r.name {
                    by_name.entry(short.to_owned()).or_default().push(r);
                }
            }
        }
        let mut lengths: HashMap<char, Vec<usize>> = HashMap::new();
        for k in by_name.keys() {
            if let Some(first) = k.chars().next() {
                lengths.entry(first).or_default().push(k.chars().count());
            }
        }
        for v in lengths.values_mut() {
            v.sort_unstable_by(|a, b| b.cmp(a));
            v.dedup();
        }
        NameIndex { by_name, lengths }
    })
}

/// Characters after which a short region name is really the start of a road or
/// place name (`南京路`, `成都大道`).
fn blocks_short_name(c: Option<&char>) -> bool {
    matches!(
        c,
        Some(
            '路' | '街'
                | '巷'
                | '道'
                | '大'
                | '桥'
                | '东'
                | '西'
                | '南'
                | '北'
                | '中'
                | '小'
                | '花'
                | '广'
                | '商'
                | '区'
                | '县'
                | '市'
                | '镇'
                | '乡'
                | '旗'
        )
    )
}

fn match_region(
    c: &[char],
    at: usize,
    level: RegionLevel,
    within: Option<&str>,
    context: &str,
) -> Option<(Region, usize)> {
    let idx = name_index();
    let lengths = c.get(at).and_then(|first| idx.lengths.get(first))?;
    let mut key = String::new();
    for &len in lengths {
        if at + len > c.len() {
            continue;
        }
        key.clear();
        key.extend(&c[at..at + len]);
        let Some(cands) = idx.by_name.get(&key) else {
            continue;
        };
        let is_short = |r: &Region| r.name != key;
        let ok: Vec<Region> = cands
            .iter()
            .copied()
            .filter(|r| r.level() == level)
            .filter(|r| within.is_none_or(|w| r.code.starts_with(w)))
            .filter(|r| !(is_short(r) && blocks_short_name(c.get(at + len))))
            .collect();
        if ok.is_empty() {
            continue;
        }
        let best = ok
            .iter()
            .copied()
            .max_by_key(|r| {
                let shared = r
                    .code
                    .chars()
                    .zip(context.chars())
                    .take_while(|(a, b)| a == b)
                    .count();
                // Prefer context matches; among equals keep table order (lowest code).
                (shared, std::cmp::Reverse(r.code))
            })
            .unwrap_or(ok[0]);
        return Some((best, len));
    }
    None
}

fn parse_regions(c: &[char], i: &mut usize, context: &str, out: &mut ParsedAddress) {
    let mut province: Option<Region> = None;
    let mut city: Option<Region> = None;
    let mut district: Option<Region> = None;
    if let Some((r, len)) = match_region(c, *i, RegionLevel::Province, None, context) {
        province = Some(r);
        *i += len;
        // "北京市北京市…" and "四川省四川…" repeats occur in exports.
        while let Some((_, len)) =
            match_region(c, *i, RegionLevel::Province, Some(&r.code[..2]), context)
        {
            *i += len;
        }
    }
    let within2 = province.map(|p| p.code[..2].to_owned());
    if let Some((r, len)) = match_region(c, *i, RegionLevel::City, within2.as_deref(), context) {
        city = Some(r);
        *i += len;
    }
    let within = city
        .map(|r| r.code[..4].to_owned())
        .or_else(|| within2.clone());
    if let Some((r, len)) = match_region(c, *i, RegionLevel::County, within.as_deref(), context) {
        district = Some(r);
        *i += len;
    }
    let most_specific = district.or(city).or(province);
    if let Some(r) = most_specific {
        out.region_code = Some(r.code.to_owned());
        out.province = Some(r.province.to_owned());
        out.city = r.city.map(str::to_owned);
        out.district = district.map(|d| d.name.to_owned());
    }
}

// ---------------------------------------------------------------------------
// Street, community

fn find(c: &[char], from: usize, window: usize, pat: &[char]) -> Option<usize> {
    let end = (from + window).min(c.len());
    (from..end).find(|&j| c[j..].starts_with(pat))
}

fn is_road_suffix_char(c: Option<&char>) -> bool {
    matches!(c, Some('路' | '街' | '巷' | '道' | '大' | '胡'))
}

fn text(c: &[char]) -> String {
    c.iter().collect()
}

fn parse_street_and_community(c: &[char], i: &mut usize, out: &mut ParsedAddress) {
    if let Some(j) = find(c, *i + 1, 10, &['街', '道']) {
        out.street = Some(text(&c[*i..j + 2]));
        *i = j + 2;
    } else if let Some(j) = (*i + 1..(*i + 8).min(c.len())).find(|&j| {
        matches!(c[j], '镇' | '乡')
            && !is_road_suffix_char(c.get(j + 1))
            && c[*i..j].iter().all(|ch| !ch.is_ascii_digit())
    }) {
        out.street = Some(text(&c[*i..j + 1]));
        *i = j + 1;
    }
    if let Some(j) = find(c, *i + 1, 10, &['社', '区']) {
        out.community = Some(text(&c[*i..j + 2]));
        *i = j + 2;
    } else if let Some(j) = (*i + 1..(*i + 8).min(c.len())).find(|&j| {
        c[j] == '村'
            && !is_road_suffix_char(c.get(j + 1))
            && c[*i..j].iter().all(|ch| !ch.is_ascii_digit())
    }) {
        out.community = Some(text(&c[*i..j + 1]));
        *i = j + 1;
        if c[*i..].starts_with(&['委', '会']) {
            *i += 2;
        }
    }
}

// ---------------------------------------------------------------------------
// Road and door number

fn digit_run(c: &[char], at: usize) -> usize {
    c[at.min(c.len())..]
        .iter()
        .take_while(|ch| ch.is_ascii_digit())
        .count()
}

/// Optional road section after the suffix, with an optional direction:
/// `二段`, `2段` → `二段`; `南三段` → `南三段`; `北段` → `北段` (text, chars consumed).
fn section(c: &[char], at: usize) -> Option<(String, usize)> {
    let (dir, at0) = match c.get(at) {
        Some(&d @ ('东' | '西' | '南' | '北' | '中')) => (Some(d), at + 1),
        _ => (None, at),
    };
    let prefix: String = dir.into_iter().collect();
    let consumed = |n: usize| at0 - at + n + 1;
    let n = digit_run(c, at0);
    if n > 0 && c.get(at0 + n) == Some(&'段') {
        let v: u32 = text(&c[at0..at0 + n]).parse().ok()?;
        return Some((format!("{prefix}{}段", to_cn_numeral(v)), consumed(n)));
    }
    let m = c[at0.min(c.len())..]
        .iter()
        .take_while(|&&ch| is_cn_numeral(ch))
        .count();
    if c.get(at0 + m) == Some(&'段') && (m > 0 || dir.is_some()) {
        let numeral = if m > 0 {
            to_cn_numeral(cn_value(&c[at0..at0 + m])?)
        } else {
            String::new()
        };
        return Some((format!("{prefix}{numeral}段"), consumed(m)));
    }
    None
}

fn parse_road_and_number(c: &[char], i: &mut usize, out: &mut ParsedAddress) {
    const SUFFIXES: [&[char]; 5] = [&['大', '道'], &['胡', '同'], &['路'], &['街'], &['巷']];
    let start = *i;
    let end = (start + 16).min(c.len());
    'outer: for j in start + 1..end {
        if c[start..j].iter().any(|ch| ch.is_ascii_digit()) {
            break;
        }
        for suf in SUFFIXES {
            if c[j..].starts_with(suf) {
                let mut k = j + suf.len();
                let mut road = text(&c[start..k]);
                if let Some((sec, used)) = section(c, k) {
                    road.push_str(&sec);
                    k += used;
                }
                out.road = Some(road);
                *i = k;
                break 'outer;
            }
        }
    }
    // Door number: digits, optionally `-`/`附`/`之` and more digits, then 号 (not 号楼).
    let at = *i;
    let n = digit_run(c, at);
    if n == 0 {
        return;
    }
    let mut k = at + n;
    if matches!(c.get(k), Some('-' | '附' | '之')) {
        let m = digit_run(c, k + 1);
        if m > 0 && c.get(k + 1 + m) == Some(&'号') {
            k += 1 + m;
        }
    }
    if c.get(k) == Some(&'号') && c.get(k + 1) != Some(&'楼') {
        out.number = Some(text(&c[at..k]));
        *i = k + 1;
        // `12号附1号` is the same door number as `12附1号`.
        let m = digit_run(c, k + 2);
        if c.get(k + 1) == Some(&'附') && m > 0 && c.get(k + 2 + m) == Some(&'号') {
            out.number = Some(format!(
                "{}附{}",
                text(&c[at..k]),
                text(&c[k + 2..k + 2 + m])
            ));
            *i = k + 3 + m;
        }
        if c.get(*i) == Some(&'院') {
            *i += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// Building, unit, floor, room

fn alnum_run(c: &[char], at: usize) -> usize {
    c[at.min(c.len())..]
        .iter()
        .take_while(|ch| ch.is_ascii_alphanumeric())
        .count()
}

fn parse_building_parts(c: &[char], i: &mut usize, out: &mut ParsedAddress) {
    let mut unplaced = String::new();
    let mut any_part = false;
    let flush = |buf: &mut String, out: &mut ParsedAddress, any_part: bool| {
        if buf.is_empty() {
            return;
        }
        let slot = if any_part {
            &mut out.rest
        } else {
            &mut out.poi
        };
        match slot {
            Some(s) => s.push_str(buf),
            None => *slot = Some(buf.clone()),
        }
        buf.clear();
    };
    while *i < c.len() {
        let at = *i;
        let n = alnum_run(c, at);
        if n == 0 {
            unplaced.push(c[at]);
            *i += 1;
            continue;
        }
        let run = text(&c[at..at + n]);
        let k = at + n;
        // 3-2-501: building-unit-room.
        if c.get(k) == Some(&'-') && out.building.is_none() {
            let n2 = alnum_run(c, k + 1);
            let k2 = k + 1 + n2;
            if n2 > 0 && c.get(k2) == Some(&'-') {
                let n3 = alnum_run(c, k2 + 1);
                if n3 > 0 {
                    flush(&mut unplaced, out, any_part);
                    out.building = Some(run);
                    out.unit = Some(text(&c[k + 1..k2]));
                    out.room = Some(text(&c[k2 + 1..k2 + 1 + n3]));
                    any_part = true;
                    *i = k2 + 1 + n3;
                    if matches!(c.get(*i), Some('室' | '号' | '房')) {
                        *i += 1;
                    }
                    continue;
                }
            }
        }
        let rest = &c[k..];
        let (slot, used): (Option<&mut Option<String>>, usize) = if rest.starts_with(&['号', '楼'])
        {
            (Some(&mut out.building), 2)
        } else if rest.starts_with(&['单', '元']) {
            (Some(&mut out.unit), 2)
        } else {
            match rest.first() {
                Some('栋' | '幢' | '座') => (Some(&mut out.building), 1),
                // `3楼` is a building in a compound but a floor in a tower: when the
                // room that follows starts with the same digits (`12楼1205`), a floor.
                Some('楼')
                    if out.building.is_none()
                        && out.unit.is_none()
                        && !text(&c[k + 1..k + 1 + alnum_run(c, k + 1)]).starts_with(&run) =>
                {
                    (Some(&mut out.building), 1)
                }
                Some('层' | '楼') => (Some(&mut out.floor), 1),
                Some('室' | '房' | '户') => (Some(&mut out.room), 1),
                Some('号') if out.building.is_some() || out.unit.is_some() => {
                    (Some(&mut out.room), 1)
                }
                None if out.building.is_some() || out.unit.is_some() || out.floor.is_some() => {
                    (Some(&mut out.room), 0)
                }
                _ => (None, 0),
            }
        };
        match slot {
            Some(slot) if slot.is_none() => {
                *slot = Some(run);
                flush(&mut unplaced, out, any_part);
                any_part = true;
                *i = k + used;
            }
            _ => {
                unplaced.push_str(&run);
                *i = k;
            }
        }
    }
    flush(&mut unplaced, out, any_part);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> ParsedAddress {
        parse_address(s)
    }

    #[test]
    fn full_address() {
        let a = p("四川省成都市锦江区春熙路街道红星社区人民南路二段12号3栋2单元501室");
        assert_eq!(a.province.as_deref(), Some("四川省"));
        assert_eq!(a.city.as_deref(), Some("成都市"));
        assert_eq!(a.district.as_deref(), Some("锦江区"));
        assert_eq!(a.region_code.as_deref(), Some("510104"));
        assert_eq!(a.street.as_deref(), Some("春熙路街道"));
        assert_eq!(a.community.as_deref(), Some("红星社区"));
        assert_eq!(a.road.as_deref(), Some("人民南路二段"));
        assert_eq!(a.number.as_deref(), Some("12"));
        assert_eq!(a.building.as_deref(), Some("3"));
        assert_eq!(a.unit.as_deref(), Some("2"));
        assert_eq!(a.room.as_deref(), Some("501"));
        assert_eq!(a.poi, None);
        assert_eq!(a.rest, None);
        assert_eq!(
            a.standard_form(),
            "四川省成都市锦江区春熙路街道红星社区人民南路二段12号3栋2单元501室"
        );
        assert_eq!(a.local_form(), "人民南路二段12号3栋2单元501室");
    }

    #[test]
    fn noisy_variants_agree() {
        let expected = p("四川省成都市锦江区人民南路二段12号3栋2单元501室").standard_form();
        for s in [
            "四川成都锦江区人民南路2段12号3栋2单元501室",
            "四川省 成都市 锦江区 人民南路二段 12号 3-2-501",
            "成都市锦江区人民南路二段１２号３栋２单元５０１",
            "四川省成都市錦江區人民南路二段12号3幢二单元501号",
            "四川省成都市锦江区人民南路二段12#3号楼2单元501室",
        ] {
            let a = p(s);
            assert_eq!(
                a.local_form(),
                "人民南路二段12号3栋2单元501室",
                "{s} → {a:?}"
            );
            assert_eq!(a.region_code.as_deref(), Some("510104"), "{s}");
        }
        assert_eq!(expected, "四川省成都市锦江区人民南路二段12号3栋2单元501室");
    }

    #[test]
    fn municipalities_and_ambiguity() {
        let a = p("北京市朝阳区建国路88号");
        assert_eq!(a.region_code.as_deref(), Some("110105"));
        assert_eq!(a.city.as_deref(), Some("北京市"));
        assert_eq!(a.standard_form(), "北京市朝阳区建国路88号");
        // 朝阳区 alone: the context decides between Beijing and Changchun.
        assert_eq!(
            parse_address_in("朝阳区建国路88号", "2201")
                .region_code
                .as_deref(),
            Some("220104")
        );
        assert_eq!(
            parse_address_in("朝阳区建国路88号", "11")
                .region_code
                .as_deref(),
            Some("110105")
        );
        // 南京路 in Shanghai is a road, not the city of Nanjing.
        let b = p("上海市黄浦区南京东路100号");
        assert_eq!(b.road.as_deref(), Some("南京东路"));
        assert_eq!(b.region_code.as_deref(), Some("310101"));
        let c = p("南京路100号");
        assert_eq!(c.region_code, None);
        assert_eq!(c.road.as_deref(), Some("南京路"));
    }

    #[test]
    fn missing_parts_and_noise() {
        let a = p("解放路7号");
        assert_eq!(
            (a.road.as_deref(), a.number.as_deref()),
            (Some("解放路"), Some("7"))
        );
        assert_eq!(a.region_code, None);
        let b = p("人民路15号锦绣花园6栋1单元1102");
        assert_eq!(b.poi.as_deref(), Some("锦绣花园"));
        assert_eq!(
            (b.building.as_deref(), b.unit.as_deref(), b.room.as_deref()),
            (Some("6"), Some("1"), Some("1102"))
        );
        let c = p("文化巷3号附近小卖部");
        assert_eq!(c.road.as_deref(), Some("文化巷"));
        assert_eq!(c.poi.as_deref(), Some("附近小卖部"));
        let d = p("某某镇某某村3组");
        assert_eq!(d.street.as_deref(), Some("某某镇"));
        assert_eq!(d.community.as_deref(), Some("某某村"));
        assert_eq!(d.poi.as_deref(), Some("3组"));
        assert!(p("").is_empty());
        assert!(p("  ，，  ").is_empty());
        let e = p("人民路12号5楼");
        assert_eq!(e.building.as_deref(), Some("5"));
        let f = p("人民路12号3栋5楼502");
        assert_eq!(
            (f.floor.as_deref(), f.room.as_deref()),
            (Some("5"), Some("502"))
        );
        let g = p("新村路8号");
        assert_eq!(g.community, None);
        assert_eq!(g.road.as_deref(), Some("新村路"));
        let h = p("一环路南3段5号");
        assert_eq!(h.road.as_deref(), Some("一环路南三段"));
        assert_eq!(h.number.as_deref(), Some("5"));
        let t = p("成都市武侯区人民南路四段1号数字大厦12楼1205室");
        assert_eq!(t.poi.as_deref(), Some("数字大厦"));
        assert_eq!(
            (t.building, t.floor.as_deref(), t.room.as_deref()),
            (None, Some("12"), Some("1205"))
        );
        let u = p("解放路12号附3号2栋");
        assert_eq!(u.number.as_deref(), Some("12附3"));
        assert_eq!(u.building.as_deref(), Some("2"));
        assert_eq!(p("解放路12附3号").number.as_deref(), Some("12附3"));
        let v = p("解放路88号院3号楼2单元401");
        assert_eq!(
            (
                v.number.as_deref(),
                v.building.as_deref(),
                v.unit.as_deref(),
                v.room.as_deref()
            ),
            (Some("88"), Some("3"), Some("2"), Some("401"))
        );
        let i = p("天府大道北段1700号");
        assert_eq!(i.road.as_deref(), Some("天府大道北段"));
        assert_eq!(i.number.as_deref(), Some("1700"));
        // A direction not followed by 段 belongs to what comes next.
        let j = p("人民路南12号");
        assert_eq!(j.road.as_deref(), Some("人民路"));
    }

    #[test]
    fn numerals() {
        assert_eq!(cn_value(&['十', '二']), Some(12));
        assert_eq!(cn_value(&['二', '十']), Some(20));
        assert_eq!(cn_value(&['一', '百', '零', '一']), Some(101));
        assert_eq!(cn_value(&['一', '〇', '一']), Some(101));
        assert_eq!(to_cn_numeral(12), "十二");
        assert_eq!(to_cn_numeral(20), "二十");
        assert_eq!(to_cn_numeral(3), "三");
    }

    const ROADS: [&str; 6] = [
        "人民路",
        "解放大道",
        "文化巷",
        "建设北路",
        "府青路二段",
        "东风街",
    ];
    const DISTRICTS: [(&str, &str); 3] = [
        ("四川省成都市锦江区", "510104"),
        ("成都市武侯区", "510107"),
        ("", ""),
    ];

    proptest! {
        #[test]
        fn generated_addresses_parse_back(
            d in 0usize..3,
            road in 0usize..6,
            number in 1u32..999,
            building in proptest::option::of(1u32..40),
            unit in proptest::option::of(1u32..9),
            room in proptest::option::of(101u32..3299),
            spaced in any::<bool>(),
            full_width in any::<bool>(),
        ) {
            let (district, code) = DISTRICTS[d];
            let mut s = format!("{district}{}{number}号", ROADS[road]);
            let sep = if spaced { " " } else { "" };
            if let Some(b) = building { s.push_str(&format!("{sep}{b}栋")); }
            if let Some(u) = unit { s.push_str(&format!("{sep}{u}单元")); }
            if let Some(r) = room { s.push_str(&format!("{sep}{r}室")); }
            let input = if full_width { super::super::text::to_full_width(&s) } else { s.clone() };
            let a = parse_address(&input);
            let standard = a.standard_form();
            prop_assert_eq!(a.region_code.as_deref(), (!code.is_empty()).then_some(code));
            prop_assert_eq!(a.road.as_deref(), Some(ROADS[road]));
            prop_assert_eq!(a.number, Some(number.to_string()));
            prop_assert_eq!(a.building, building.map(|b| b.to_string()));
            prop_assert_eq!(a.unit, unit.map(|u| u.to_string()));
            prop_assert_eq!(a.room, room.map(|r| r.to_string()));
            prop_assert_eq!(a.poi, None);
            // The standard form is a fixed point.
            let again = parse_address(&standard);
            prop_assert_eq!(again.standard_form(), standard);
        }

        #[test]
        fn never_panics_and_keeps_text(s in "\\PC{0,40}") {
            let _ = parse_address(&s);
        }
    }
}
