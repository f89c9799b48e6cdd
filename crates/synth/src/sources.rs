//! Multi-source departmental records about the generated people, for the data hub
//! and its entity-resolution benchmark: household registry (户籍), hotel stays
//! (酒店住宿), net-café sessions (网吧上网), vehicle registry (车辆登记) and community
//! visits (社区走访). Each source carries the fields such a system really has and
//! the noise its clerks really make (missing IDs, traditional characters,
//! full-width digits, homophone typos, phone and address format variants, stale
//! phones), at configurable rates, and the ground-truth person id on every record.

use pingan_core::Timestamp;
use pingan_core::normalize::date::CivilDate;
use pingan_core::normalize::region;
use pingan_core::normalize::text::{to_full_width, to_traditional};

use crate::SynthCity;
use crate::csv;
use crate::names;
use crate::population::{HouseAddress, Person};
use crate::rng::{Permutation, Rng, key};
use crate::vehicles::Vehicle;

const D_SOURCE: u64 = 40;
const D_STAY: u64 = 50;
/// Share of odd-numbered hotel records that are a companion of the previous
/// record's guest (same hotel, check-in minutes apart): ≈ 15 % of all stays, the
/// "seen together" relations a profile shows.
pub(crate) const HOTEL_COMPANION_SHARE: f64 = 0.3;
const D_REGISTRY_ORDER: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    /// 户籍: one record per locally registered person; the cleanest source.
    HouseholdRegistry,
    /// 酒店住宿: guest registrations.
    HotelStay,
    /// 网吧上网: net-café log-ins (no address, no phone).
    NetCafe,
    /// 车辆登记: one record per vehicle, about its owner.
    VehicleRegistry,
    /// 社区走访: grid workers' visit notes; often no ID number, the noisiest.
    CommunityVisit,
}

impl SourceKind {
    pub const ALL: [SourceKind; 5] = [
        SourceKind::HouseholdRegistry,
        SourceKind::HotelStay,
        SourceKind::NetCafe,
        SourceKind::VehicleRegistry,
        SourceKind::CommunityVisit,
    ];

    /// Machine name: `household_registry`, `hotel_stay`, `net_cafe`,
    /// `vehicle_registry`, `community_visit`.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::HouseholdRegistry => "household_registry",
            SourceKind::HotelStay => "hotel_stay",
            SourceKind::NetCafe => "net_cafe",
            SourceKind::VehicleRegistry => "vehicle_registry",
            SourceKind::CommunityVisit => "community_visit",
        }
    }

    pub fn chinese_name(self) -> &'static str {
        match self {
            SourceKind::HouseholdRegistry => "户籍人口",
            SourceKind::HotelStay => "酒店住宿",
            SourceKind::NetCafe => "网吧上网",
            SourceKind::VehicleRegistry => "机动车登记",
            SourceKind::CommunityVisit => "社区走访",
        }
    }

    /// The owning department.
    pub fn department(self) -> &'static str {
        match self {
            SourceKind::HouseholdRegistry => "户政管理大队",
            SourceKind::HotelStay => "治安管理大队",
            SourceKind::NetCafe => "网络安全保卫大队",
            SourceKind::VehicleRegistry => "交通警察支队车辆管理所",
            SourceKind::CommunityVisit => "社区网格化服务中心",
        }
    }

    fn record_prefix(self) -> &'static str {
        match self {
            SourceKind::HouseholdRegistry => "HJ",
            SourceKind::HotelStay => "LG",
            SourceKind::NetCafe => "WB",
            SourceKind::VehicleRegistry => "CL",
            SourceKind::CommunityVisit => "ZF",
        }
    }

    /// The Chinese column header of this source's own CSV export (see
    /// [`SourceRecord::to_source_csv_row`]); the last column is the ground truth.
    pub fn csv_header(self) -> &'static str {
        match self {
            SourceKind::HouseholdRegistry => {
                "记录编号,姓名,性别,民族,出生日期,公民身份号码,联系电话,户籍地址,_truth_person"
            }
            SourceKind::HotelStay => {
                "记录编号,旅客姓名,性别,证件号码,手机号码,入住时间,旅馆名称,_truth_person"
            }
            SourceKind::NetCafe => "记录编号,姓名,证件号码,上机时间,场所名称,_truth_person",
            SourceKind::VehicleRegistry => {
                "记录编号,号牌号码,品牌,车身颜色,登记日期,所有人,身份证明号码,联系电话,住所地址,_truth_person"
            }
            SourceKind::CommunityVisit => {
                "记录编号,姓名,性别,出生日期,身份证号,联系电话,现住址,走访日期,_truth_person"
            }
        }
    }
}

/// Per-record probabilities of each kind of noise. "Format" noise keeps the value
/// valid (a normaliser recovers it exactly); "typo", "stale" and "missing" noise
/// change or remove information.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseConfig {
    /// ID number left empty.
    pub id_missing: f64,
    /// ID number written differently but validly: lower-case `x`, spaces,
    /// full-width digits, or the 15-digit first-generation form.
    pub id_format: f64,
    /// One digit mistyped (the checksum then fails).
    pub id_typo: f64,
    /// Name in traditional characters.
    pub name_traditional: f64,
    /// One character of the name replaced by a homophone.
    pub name_typo: f64,
    /// Spaces inside the name, full-width spaces, or another dot in `·` names.
    pub name_format: f64,
    pub phone_missing: f64,
    /// `+86 138 0013 8000`, `138-0013-8000`, `0086…`.
    pub phone_format: f64,
    /// The person's previous mobile number instead of the current one.
    pub phone_stale: f64,
    pub address_missing: f64,
    /// Short region names, no region, `3-2-501`, Chinese numerals, full-width,
    /// traditional, spaces, or the room left out.
    pub address_variant: f64,
    /// Birth date in another accepted format (`1990/3/7`, `19900307`, `1990年3月7日`).
    pub date_format: f64,
}

impl NoiseConfig {
    /// No noise at all: every record carries the clean values.
    pub fn none() -> NoiseConfig {
        NoiseConfig {
            id_missing: 0.0,
            id_format: 0.0,
            id_typo: 0.0,
            name_traditional: 0.0,
            name_typo: 0.0,
            name_format: 0.0,
            phone_missing: 0.0,
            phone_format: 0.0,
            phone_stale: 0.0,
            address_missing: 0.0,
            address_variant: 0.0,
            date_format: 0.0,
        }
    }

    /// Every rate scaled by `factor` (clamped to 1).
    pub fn scaled(&self, factor: f64) -> NoiseConfig {
        let f = |x: f64| (x * factor).clamp(0.0, 1.0);
        NoiseConfig {
            id_missing: f(self.id_missing),
            id_format: f(self.id_format),
            id_typo: f(self.id_typo),
            name_traditional: f(self.name_traditional),
            name_typo: f(self.name_typo),
            name_format: f(self.name_format),
            phone_missing: f(self.phone_missing),
            phone_format: f(self.phone_format),
            phone_stale: f(self.phone_stale),
            address_missing: f(self.address_missing),
            address_variant: f(self.address_variant),
            date_format: f(self.date_format),
        }
    }

    fn rate(&self, kind: NoiseKind) -> f64 {
        match kind {
            NoiseKind::IdMissing => self.id_missing,
            NoiseKind::IdFormat => self.id_format,
            NoiseKind::IdTypo => self.id_typo,
            NoiseKind::NameTraditional => self.name_traditional,
            NoiseKind::NameTypo => self.name_typo,
            NoiseKind::NameFormat => self.name_format,
            NoiseKind::PhoneMissing => self.phone_missing,
            NoiseKind::PhoneFormat => self.phone_format,
            NoiseKind::PhoneStale => self.phone_stale,
            NoiseKind::AddressMissing => self.address_missing,
            NoiseKind::AddressVariant => self.address_variant,
            NoiseKind::DateFormat => self.date_format,
        }
    }
}

/// One departmental source: how many records it holds and how noisy they are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceProfile {
    pub kind: SourceKind,
    /// Records per person for event sources (hotel, net café, community visit).
    /// The household registry always has one record per locally registered person
    /// and the vehicle registry one per vehicle.
    pub records_per_person: f64,
    pub noise: NoiseConfig,
}

impl SourceProfile {
    /// Realistic defaults: the registry is nearly clean, community visits are the
    /// noisiest and mostly lack ID numbers.
    pub fn defaults() -> Vec<SourceProfile> {
        let base = NoiseConfig {
            id_missing: 0.05,
            id_format: 0.10,
            id_typo: 0.01,
            name_traditional: 0.03,
            name_typo: 0.03,
            name_format: 0.05,
            phone_missing: 0.15,
            phone_format: 0.30,
            phone_stale: 0.05,
            address_missing: 0.05,
            address_variant: 0.60,
            date_format: 0.30,
        };
        vec![
            SourceProfile {
                kind: SourceKind::HouseholdRegistry,
                records_per_person: 1.0,
                noise: NoiseConfig {
                    id_missing: 0.0,
                    ..base.scaled(0.2)
                },
            },
            SourceProfile {
                kind: SourceKind::HotelStay,
                records_per_person: 0.8,
                noise: NoiseConfig {
                    id_missing: 0.02,
                    ..base
                },
            },
            SourceProfile {
                kind: SourceKind::NetCafe,
                records_per_person: 0.6,
                noise: base,
            },
            SourceProfile {
                kind: SourceKind::VehicleRegistry,
                records_per_person: 1.0,
                noise: NoiseConfig {
                    id_missing: 0.0,
                    ..base.scaled(0.5)
                },
            },
            SourceProfile {
                kind: SourceKind::CommunityVisit,
                records_per_person: 1.0,
                noise: NoiseConfig {
                    id_missing: 0.6,
                    ..base.scaled(1.5)
                },
            },
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoiseKind {
    IdMissing,
    IdFormat,
    IdTypo,
    NameTraditional,
    NameTypo,
    NameFormat,
    PhoneMissing,
    PhoneFormat,
    PhoneStale,
    AddressMissing,
    AddressVariant,
    DateFormat,
}

impl NoiseKind {
    pub const ALL: [NoiseKind; 12] = [
        NoiseKind::IdMissing,
        NoiseKind::IdFormat,
        NoiseKind::IdTypo,
        NoiseKind::NameTraditional,
        NoiseKind::NameTypo,
        NoiseKind::NameFormat,
        NoiseKind::PhoneMissing,
        NoiseKind::PhoneFormat,
        NoiseKind::PhoneStale,
        NoiseKind::AddressMissing,
        NoiseKind::AddressVariant,
        NoiseKind::DateFormat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::IdMissing => "id_missing",
            NoiseKind::IdFormat => "id_format",
            NoiseKind::IdTypo => "id_typo",
            NoiseKind::NameTraditional => "name_traditional",
            NoiseKind::NameTypo => "name_typo",
            NoiseKind::NameFormat => "name_format",
            NoiseKind::PhoneMissing => "phone_missing",
            NoiseKind::PhoneFormat => "phone_format",
            NoiseKind::PhoneStale => "phone_stale",
            NoiseKind::AddressMissing => "address_missing",
            NoiseKind::AddressVariant => "address_variant",
            NoiseKind::DateFormat => "date_format",
        }
    }
}

/// The set of noise kinds applied to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NoiseSet(u32);

impl NoiseSet {
    pub fn contains(self, kind: NoiseKind) -> bool {
        self.0 & (1 << kind as u32) != 0
    }

    pub fn insert(&mut self, kind: NoiseKind) {
        self.0 |= 1 << kind as u32;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = NoiseKind> {
        NoiseKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }

    /// `id_missing|name_typo`, empty when clean.
    pub fn to_names(self) -> String {
        self.iter()
            .map(NoiseKind::name)
            .collect::<Vec<_>>()
            .join("|")
    }
}

/// One record of one source, with raw (possibly noisy) text fields as the source
/// would export them, and the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub source: SourceKind,
    /// Unique within the source, e.g. `LG000001234`.
    pub record_id: String,
    /// Ground truth: the person this record is about.
    pub truth_person: u64,
    /// Ground truth for vehicle-registry records.
    pub truth_vehicle: Option<u64>,
    pub name: Option<String>,
    pub sex: Option<String>,
    pub ethnicity: Option<String>,
    pub birth_date: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub plate: Option<String>,
    pub brand: Option<String>,
    pub colour: Option<String>,
    /// Hotel or net-café name.
    pub place: Option<String>,
    /// Check-in, log-in, registration or visit time.
    pub event_time: Option<Timestamp>,
    pub noise: NoiseSet,
}

/// `2026-03-01 14:22:05` in China time, as departmental exports write times.
fn china_time(t: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = t.plus_millis(8 * 3_600_000).to_civil_utc();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

impl SourceRecord {
    pub const CSV_HEADER: &'static str = "source,record_id,truth_person,truth_vehicle,name,sex,ethnicity,birth_date,id_number,phone,address,plate,brand,colour,place,event_time,noise";

    /// All fields in the generic layout of [`SourceRecord::CSV_HEADER`].
    pub fn to_csv_row(&self) -> String {
        let time = self.event_time.map(china_time);
        csv::row([
            Some(self.source.name()),
            Some(self.record_id.as_str()),
            Some(self.truth_person.to_string().as_str()),
            self.truth_vehicle.map(|v| v.to_string()).as_deref(),
            self.name.as_deref(),
            self.sex.as_deref(),
            self.ethnicity.as_deref(),
            self.birth_date.as_deref(),
            self.id_number.as_deref(),
            self.phone.as_deref(),
            self.address.as_deref(),
            self.plate.as_deref(),
            self.brand.as_deref(),
            self.colour.as_deref(),
            self.place.as_deref(),
            time.as_deref(),
            Some(self.noise.to_names().as_str()),
        ])
    }

    /// The fields of this record's source in that source's own layout with Chinese
    /// headers ([`SourceKind::csv_header`]), as a departmental export looks.
    pub fn to_source_csv_row(&self) -> String {
        let truth = self.truth_person.to_string();
        let time = self.event_time.map(china_time);
        let date = time.as_deref().map(|t| &t[..10]);
        let id = Some(self.record_id.as_str());
        let fields: Vec<Option<&str>> = match self.source {
            SourceKind::HouseholdRegistry => vec![
                id,
                self.name.as_deref(),
                self.sex.as_deref(),
                self.ethnicity.as_deref(),
                self.birth_date.as_deref(),
                self.id_number.as_deref(),
                self.phone.as_deref(),
                self.address.as_deref(),
            ],
            SourceKind::HotelStay => vec![
                id,
                self.name.as_deref(),
                self.sex.as_deref(),
                self.id_number.as_deref(),
                self.phone.as_deref(),
                time.as_deref(),
                self.place.as_deref(),
            ],
            SourceKind::NetCafe => vec![
                id,
                self.name.as_deref(),
                self.id_number.as_deref(),
                time.as_deref(),
                self.place.as_deref(),
            ],
            SourceKind::VehicleRegistry => vec![
                id,
                self.plate.as_deref(),
                self.brand.as_deref(),
                self.colour.as_deref(),
                date,
                self.name.as_deref(),
                self.id_number.as_deref(),
                self.phone.as_deref(),
                self.address.as_deref(),
            ],
            SourceKind::CommunityVisit => vec![
                id,
                self.name.as_deref(),
                self.sex.as_deref(),
                self.birth_date.as_deref(),
                self.id_number.as_deref(),
                self.phone.as_deref(),
                self.address.as_deref(),
                date,
            ],
        };
        let mut line = csv::row(fields);
        line.push(',');
        line.push_str(&truth);
        line
    }
}

const HOTEL_BRANDS: [&str; 8] = [
    "锦江之星",
    "如家酒店",
    "汉庭酒店",
    "7天连锁酒店",
    "维也纳酒店",
    "全季酒店",
    "亚朵酒店",
    "城市便捷酒店",
];
const NETCAFE_NAMES: [&str; 6] = ["极速", "星际", "网鱼", "天空", "竞界", "蓝海"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Sex,
    Ethnicity,
    Birth,
    Phone,
    Address,
}

/// Who and what one record is about.
struct Subject<'a> {
    person: &'a Person,
    vehicle: Option<&'a Vehicle>,
    /// Hotel records: check-in time and hotel.
    stay: Option<(Timestamp, String)>,
}

/// Noise decisions for one record, drawn in a fixed order from its stream.
struct Noiser<'a> {
    rng: Rng,
    cfg: &'a NoiseConfig,
    set: NoiseSet,
}

impl Noiser<'_> {
    fn roll(&mut self, kind: NoiseKind) -> bool {
        // Always draw, so one rate's value does not shift the others' decisions.
        let hit = self.rng.unit() < self.cfg.rate(kind);
        if hit {
            self.set.insert(kind);
        }
        hit
    }
}

fn id_variant(rng: &mut Rng, id: &str) -> String {
    let digits_15 = (&id[6..8] == "19").then(|| format!("{}{}", &id[..6], &id[8..17]));
    match rng.below(4) {
        0 if id.ends_with('X') => id.to_lowercase(),
        1 if digits_15.is_some() => digits_15.unwrap_or_default(),
        2 => to_full_width(id),
        _ => format!("{} {} {}", &id[..6], &id[6..14], &id[14..]),
    }
}

fn id_typo(rng: &mut Rng, id: &str) -> String {
    let mut b = id.as_bytes().to_vec();
    let pos = rng.below(17) as usize;
    let delta = rng.range(1, 9) as u8;
    b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
    String::from_utf8_lossy(&b).into_owned()
}

fn name_format(rng: &mut Rng, name: &str) -> String {
    if name.contains('·') {
        let dot = *rng.pick(&[".", "•", " · ", "・"]);
        return name.replace('·', dot);
    }
    let chars: Vec<char> = name.chars().collect();
    match rng.below(3) {
        0 => chars
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        1 => format!(
            "{}\u{3000}{}",
            chars[0],
            chars[1..].iter().collect::<String>()
        ),
        _ => format!(" {name} "),
    }
}

fn phone_format(rng: &mut Rng, p: &str) -> String {
    match rng.below(5) {
        0 => format!("+86 {} {} {}", &p[..3], &p[3..7], &p[7..]),
        1 => format!("{}-{}-{}", &p[..3], &p[3..7], &p[7..]),
        2 => format!("0086{p}"),
        3 => format!("(+86){p}"),
        _ => to_full_width(p),
    }
}

fn date_format(rng: &mut Rng, d: CivilDate) -> String {
    match rng.below(5) {
        0 => format!("{}/{}/{}", d.y, d.m, d.d),
        1 => d.compact(),
        2 => format!("{}年{}月{}日", d.y, d.m, d.d),
        3 => format!("{}.{:02}.{:02}", d.y, d.m, d.d),
        _ => to_full_width(&d.to_string()),
    }
}

const CN_DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// A differently written address for the same house (see `NoiseConfig::address_variant`).
pub(crate) fn address_variant(rng: &mut Rng, a: &HouseAddress) -> String {
    let region = region::lookup(&a.district_code);
    match rng.below(8) {
        0 => a.local_text(),
        1 => {
            let (p, c) = region
                .map(|r| {
                    (
                        region::short_name(r.province),
                        r.city.map(region::short_name).unwrap_or_default(),
                    )
                })
                .unwrap_or_default();
            let district = region.map(|r| r.name).unwrap_or_default();
            let city = if c == p { "" } else { c };
            format!("{p}{city}{district}{}", a.local_text())
        }
        2 => format!(
            "{}{}{}-{}-{}",
            a.region_name,
            a.door_text(),
            a.building,
            a.unit,
            a.room
        ),
        3 => {
            let unit = CN_DIGITS
                .get(a.unit as usize)
                .copied()
                .map_or_else(|| a.unit.to_string(), str::to_owned);
            format!(
                "{}{}{}号楼{unit}单元{}室",
                a.region_name,
                a.door_text(),
                a.building,
                a.room
            )
        }
        4 => to_full_width(&a.text()),
        5 => format!(
            "{}{}{}{}{}栋{}单元",
            a.region_name,
            a.street_office,
            a.community,
            a.door_text(),
            a.building,
            a.unit
        ),
        6 => format!(
            "{} {} {}栋{}单元{}",
            a.region_name,
            a.door_text(),
            a.building,
            a.unit,
            a.room
        ),
        _ => to_traditional(&a.text()),
    }
}

impl SynthCity {
    fn profile(&self, kind: SourceKind) -> Option<&SourceProfile> {
        self.cfg.sources.iter().find(|p| p.kind == kind)
    }

    /// Number of candidate records of a source (the registry's records are the
    /// locally registered people among them; see [`SynthCity::record_count`]).
    fn candidates(&self, kind: SourceKind) -> u64 {
        let Some(p) = self.profile(kind) else {
            return 0;
        };
        match kind {
            SourceKind::HouseholdRegistry => self.cfg.people,
            SourceKind::VehicleRegistry => self.vehicle_count,
            _ => (self.cfg.people as f64 * p.records_per_person).round() as u64,
        }
    }

    /// Exact number of records [`SynthCity::records`] yields for `kind`.
    pub fn record_count(&self, kind: SourceKind) -> u64 {
        match kind {
            SourceKind::HouseholdRegistry if self.profile(kind).is_some() => self.local.count,
            _ => self.candidates(kind),
        }
    }

    /// One source's records, streamed (registry in a shuffled person order, event
    /// sources in time-independent random person order).
    pub fn records(&self, kind: SourceKind) -> impl Iterator<Item = SourceRecord> + '_ {
        (0..self.candidates(kind)).filter_map(move |k| self.record(kind, k))
    }

    /// Every source's records, source after source in [`SourceKind::ALL`] order.
    pub fn all_records(&self) -> impl Iterator<Item = SourceRecord> + '_ {
        SourceKind::ALL
            .into_iter()
            .flat_map(move |k| self.records(k))
    }

    /// Candidate record `k` of a source; `None` when the source is not configured,
    /// `k` is out of range, or (registry) the person is not registered locally.
    pub fn record(&self, kind: SourceKind, k: u64) -> Option<SourceRecord> {
        let profile = self.profile(kind)?;
        if k >= self.candidates(kind) {
            return None;
        }
        let mut rng = Rng::for_entity(self.cfg.seed, D_SOURCE + kind as u64, k);
        let mut stay = None;
        let (person, vehicle) = match kind {
            SourceKind::HotelStay => {
                let companion = k % 2 == 1 && rng.chance(HOTEL_COMPANION_SHARE);
                let (primary, time, place) = self.hotel_stay(if companion { k - 1 } else { k });
                let (i, time) = if companion {
                    let delay = rng.range(10, 300) as i64;
                    (self.companion_of(primary, &mut rng), time.plus_secs(delay))
                } else {
                    (primary, time)
                };
                stay = Some((time, place));
                (self.person(i), None)
            }
            SourceKind::HouseholdRegistry => {
                let i = Permutation::new(self.cfg.people, key(self.cfg.seed, D_REGISTRY_ORDER, 0))
                    .apply(k);
                let p = self.person(i);
                if !p.registered_locally {
                    return None;
                }
                (p, None)
            }
            SourceKind::VehicleRegistry => {
                let v = self.vehicle(k);
                (self.person(v.owner), Some(v))
            }
            _ => (self.person(rng.below(self.cfg.people)), None),
        };
        let subject = Subject {
            person: &person,
            vehicle: vehicle.as_ref(),
            stay,
        };
        Some(self.build_record(kind, k, subject, &mut rng, &profile.noise))
    }

    /// Guest, check-in time and hotel of stay `s` (the first guest's record).
    fn hotel_stay(&self, s: u64) -> (u64, Timestamp, String) {
        let mut rng = Rng::for_entity(self.cfg.seed, D_STAY, s);
        let person = rng.below(self.cfg.people);
        let day_ms = 86_400_000i64;
        let time = self.cfg.today.start_in_china().plus_millis(
            -(rng.range(1, 365) as i64) * day_ms + rng.range(12 * 3600, 23 * 3600) as i64 * 1000,
        );
        let street = &rng.pick(&self.cfg.streets).name;
        let place = format!("{}({street}店)", rng.pick(&HOTEL_BRANDS));
        (person, time, place)
    }

    /// Someone travelling with `primary`: a member of their household when there
    /// is another one, else anybody (a colleague or friend).
    fn companion_of(&self, primary: u64, rng: &mut Rng) -> u64 {
        let household = self.household(self.house_of(primary));
        let size = household.end - household.start;
        if size > 1 && rng.chance(0.7) {
            let j = household.start + rng.below(size - 1);
            return if j >= primary { j + 1 } else { j };
        }
        loop {
            let j = rng.below(self.cfg.people);
            if j != primary || self.cfg.people == 1 {
                return j;
            }
        }
    }

    fn build_record(
        &self,
        kind: SourceKind,
        k: u64,
        subject: Subject<'_>,
        rng: &mut Rng,
        noise: &NoiseConfig,
    ) -> SourceRecord {
        let Subject {
            person,
            vehicle,
            stay,
        } = subject;
        let mut nz = Noiser {
            rng: Rng::new(rng.next_u64()),
            cfg: noise,
            set: NoiseSet::default(),
        };
        // Which optional person fields this source records (names and ID numbers
        // are in every source; times, places and plates follow from the kind).
        use SourceKind as K;
        let has = |field: Field| -> bool {
            matches!(
                (kind, field),
                (K::HouseholdRegistry, _)
                    | (K::HotelStay, Field::Sex | Field::Phone)
                    | (K::VehicleRegistry, Field::Phone | Field::Address)
                    | (
                        K::CommunityVisit,
                        Field::Sex | Field::Birth | Field::Phone | Field::Address
                    )
            )
        };

        // Name.
        let mut name = person.name.clone();
        if nz.roll(NoiseKind::NameTypo) {
            name = names::misspell(&mut nz.rng, &name);
        }
        if nz.roll(NoiseKind::NameTraditional) {
            name = to_traditional(&name);
        }
        if nz.roll(NoiseKind::NameFormat) {
            name = name_format(&mut nz.rng, &name);
        }

        // ID number.
        let id_number = if nz.roll(NoiseKind::IdMissing) {
            None
        } else {
            let mut id = person.id_number.as_str().to_owned();
            if nz.roll(NoiseKind::IdTypo) {
                id = id_typo(&mut nz.rng, &id);
            } else if nz.roll(NoiseKind::IdFormat) {
                id = id_variant(&mut nz.rng, &id);
            }
            Some(id)
        };

        let phone = if has(Field::Phone) {
            person.phone.as_ref().and_then(|p| {
                if nz.roll(NoiseKind::PhoneMissing) {
                    return None;
                }
                let mut s = if nz.roll(NoiseKind::PhoneStale) {
                    self.previous_phone(person.id).as_str().to_owned()
                } else {
                    p.as_str().to_owned()
                };
                if nz.roll(NoiseKind::PhoneFormat) {
                    s = phone_format(&mut nz.rng, &s);
                }
                Some(s)
            })
        } else {
            None
        };

        let address = if has(Field::Address) && !nz.roll(NoiseKind::AddressMissing) {
            let (a, _) = self.house_address(person.home_house);
            Some(if nz.roll(NoiseKind::AddressVariant) {
                address_variant(&mut nz.rng, &a)
            } else {
                a.text()
            })
        } else {
            None
        };

        let birth_date = has(Field::Birth).then(|| {
            if nz.roll(NoiseKind::DateFormat) {
                date_format(&mut nz.rng, person.birth)
            } else {
                person.birth.to_string()
            }
        });

        let today = self.cfg.today.start_in_china();
        let day_ms = 86_400_000i64;
        let event_time = match kind {
            SourceKind::HouseholdRegistry => None,
            SourceKind::HotelStay => stay.as_ref().map(|s| s.0),
            SourceKind::NetCafe => Some(today.plus_millis(
                -(rng.range(1, 365) as i64) * day_ms + rng.below(86_400) as i64 * 1000,
            )),
            SourceKind::VehicleRegistry => {
                vehicle.map(|v| v.registered.start_in_china().plus_secs(9 * 3600))
            }
            SourceKind::CommunityVisit => Some(today.plus_millis(
                -(rng.range(0, 730) as i64) * day_ms + rng.range(9 * 3600, 17 * 3600) as i64 * 1000,
            )),
        };
        let street = rng.pick(&self.cfg.streets).name.clone();
        let place = match kind {
            SourceKind::HotelStay => stay.map(|s| s.1),
            SourceKind::NetCafe => Some(format!("{}网咖({street}店)", rng.pick(&NETCAFE_NAMES))),
            _ => None,
        };

        SourceRecord {
            source: kind,
            record_id: format!("{}{k:09}", kind.record_prefix()),
            truth_person: person.id,
            truth_vehicle: vehicle.map(|v| v.id),
            name: Some(name),
            sex: has(Field::Sex).then(|| person.sex.as_chinese().to_owned()),
            ethnicity: has(Field::Ethnicity).then(|| person.ethnicity.as_chinese().to_owned()),
            birth_date,
            id_number,
            phone,
            address,
            plate: vehicle.map(|v| v.plate.as_str().to_owned()),
            brand: vehicle.map(|v| v.brand.to_owned()),
            colour: vehicle.map(|v| v.colour.to_owned()),
            place,
            event_time,
            noise: nz.set,
        }
    }
}
