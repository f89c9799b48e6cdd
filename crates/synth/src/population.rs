//! People, houses and residence links.
//!
//! Identity: person `i` is mapped by a keyed permutation to either the local or the
//! elsewhere identity space; inside a space a second permutation picks a virtual
//! cell in (region weight units × birth-day weight units × slots). A real
//! (region, birth day) cell owns as many virtual cells as the product of its
//! weights, and the virtual cell's rank inside it becomes the ID sequence number,
//! so ID numbers are unique by construction while regions and birth years follow
//! their weights.
//!
//! Houses: consecutive people share a household (≈ 2.6 per occupied house); houses
//! fill door numbers of the streets round-robin, each door number holding a
//! compound of buildings × units × floors × rooms sized so that every street gets
//! a few dozen door numbers.

use pingan_core::LatLng;
use pingan_core::normalize::date::{CivilDate, days_in_month};
use pingan_core::normalize::id_number::{IdNumber, Sex};
use pingan_core::normalize::phone::Phone;
use pingan_core::time::{civil_from_days, days_from_civil};

use crate::csv;
use crate::names::{self, Ethnicity};
use crate::rng::{Permutation, Rng, Weighted, key, mix64};
use crate::{IdentitySpace, SynthCity, SynthError};
use pingan_core::normalize::region::Region;

pub(crate) const D_ALL: u64 = 1;
pub(crate) const D_LOCAL: u64 = 2;
pub(crate) const D_ELSEWHERE: u64 = 3;
pub(crate) const D_PERSON: u64 = 4;
pub(crate) const D_FAMILY: u64 = 5;
pub(crate) const D_PHONE: u64 = 6;
pub(crate) const D_HOUSE: u64 = 7;
pub(crate) const D_HOUSE_USE: u64 = 8;
pub(crate) const D_RESIDENCE: u64 = 9;
pub(crate) const D_STREET: u64 = 10;

const FIRST_YEAR: i32 = 1940;
const LAST_YEAR: i32 = 2015;
/// ID sequence numbers per sex and (region, birth day): 000–999 split by parity.
const SEQ_PER_SEX: u64 = 500;

const MOBILE_PREFIXES: [&str; 42] = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "170", "171", "173", "175", "176", "177",
    "178", "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "193",
    "195", "198", "199",
];

const COMMUNITIES: [&str; 32] = [
    "红星", "和平", "友谊", "光明", "幸福", "团结", "建设", "新华", "东风", "胜利", "文化", "育才",
    "锦华", "金沙", "桂花", "玉林", "芳草", "紫荆", "望江", "书院", "双桥", "莲花", "青龙", "白果",
    "银杏", "翠竹", "安康", "长乐", "万福", "永丰", "春晓", "石羊",
];

/// Relative births per year: smaller cohorts before 1950 (and fewer survivors),
/// the large 1960s–80s cohorts, and fewer births after 1990.
fn year_weight(y: i32) -> u64 {
    match y {
        ..=1949 => 1,
        1950..=1961 => 3,
        1962..=1976 => 5,
        1977..=1990 => 4,
        1991..=2005 => 3,
        _ => 3,
    }
}

/// `(per-year weights × days, per-year weights)`.
pub(crate) fn birth_days() -> (Weighted, Vec<u64>) {
    let years: Vec<i32> = (FIRST_YEAR..=LAST_YEAR).collect();
    let weights: Vec<u64> = years.iter().map(|&y| year_weight(y)).collect();
    let days = Weighted::new(years.iter().zip(&weights).map(|(&y, &w)| {
        let n: u32 = (1..=12).map(|m| days_in_month(y, m)).sum();
        w * u64::from(n)
    }));
    (days, weights)
}

pub(crate) fn identity_space(
    regions: Vec<Region>,
    region_weights: Weighted,
    days: &Weighted,
    year_weights: &[u64],
    count: u64,
    people: u64,
) -> Result<IdentitySpace, SynthError> {
    let v = region_weights.total() * days.total();
    let max_region = (0..regions.len())
        .map(|i| region_weights.weight(i))
        .max()
        .unwrap_or(1);
    let max_mult = max_region * year_weights.iter().copied().max().unwrap_or(1);
    let slots = count.div_ceil(v.max(1)).max(1);
    if slots * max_mult > SEQ_PER_SEX {
        return Err(SynthError::TooManyPeople {
            people,
            max: (SEQ_PER_SEX / max_mult) * v,
        });
    }
    Ok(IdentitySpace {
        regions,
        region_weights,
        count,
        slots,
    })
}

/// How many buildings, units, floors and rooms per floor one door number holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    buildings: u64,
    units: u64,
    floors: u64,
    rooms: u64,
    streets: u64,
}

impl Layout {
    const TIERS: [(u64, u64, u64, u64); 5] = [
        (1, 1, 3, 2),
        (2, 2, 3, 2),
        (4, 2, 6, 2),
        (6, 3, 11, 2),
        (10, 4, 18, 2),
    ];

    /// The smallest compound size that keeps door numbers per street around 40.
    pub(crate) fn for_houses(houses: u64, streets: u64) -> Layout {
        let streets = streets.max(1);
        let (buildings, units, floors, rooms) = Self::TIERS
            .iter()
            .copied()
            .find(|&(b, u, f, r)| houses.div_ceil(b * u * f * r) <= streets * 40)
            .unwrap_or(Self::TIERS[Self::TIERS.len() - 1]);
        Layout {
            buildings,
            units,
            floors,
            rooms,
            streets,
        }
    }

    fn capacity(&self) -> u64 {
        self.buildings * self.units * self.floors * self.rooms
    }

    /// `(street index, door index on the street, building, unit, floor, room)`.
    fn locate(&self, h: u64) -> (usize, u64, u32, u32, u32, u32) {
        let door = h / self.capacity();
        let within = h % self.capacity();
        let per_building = self.units * self.floors * self.rooms;
        let building = within / per_building + 1;
        let unit = within % per_building / (self.floors * self.rooms) + 1;
        let floor = within % (self.floors * self.rooms) / self.rooms + 1;
        let room = floor * 100 + within % self.rooms + 1;
        (
            (door % self.streets) as usize,
            door / self.streets,
            building as u32,
            unit as u32,
            floor as u32,
            room as u32,
        )
    }
}

/// Per-street constants of the address scheme, computed once.
#[derive(Debug, Clone)]
pub(crate) struct StreetInfo {
    district_code: &'static str,
    region_name: String,
    street_office: String,
    community: String,
    sin: f64,
    cos: f64,
}

/// Sub-district offices group six consecutive streets and take the first one's
/// name; communities are named per street; each street gets a fixed bearing along
/// which its door numbers run.
pub(crate) fn street_info(
    seed: u64,
    streets: &[crate::StreetRef],
    regions: &[Region],
) -> Vec<StreetInfo> {
    streets
        .iter()
        .zip(regions)
        .enumerate()
        .map(|(s, (_, region))| {
            let k = key(seed, D_STREET, s as u64);
            let community = COMMUNITIES[(mix64(k) % COMMUNITIES.len() as u64) as usize];
            let (sin, cos) = ((k % 360) as f64).to_radians().sin_cos();
            StreetInfo {
                district_code: region.code,
                region_name: region.full_name(),
                street_office: format!("{}街道", streets[s / 6 * 6].name),
                community: format!("{community}社区"),
                sin,
                cos,
            }
        })
        .collect()
}

/// A generated person. `id` is the ground-truth person id used by every record.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: u64,
    pub name: String,
    pub sex: Sex,
    pub ethnicity: Ethnicity,
    pub birth: CivilDate,
    pub id_number: IdNumber,
    /// Young children may have none.
    pub phone: Option<Phone>,
    /// The house the person currently lives in.
    pub home_house: u64,
    /// Whether the ID number was issued in the city's local area.
    pub registered_locally: bool,
}

impl Person {
    pub const CSV_HEADER: &'static str =
        "person_id,name,sex,ethnicity,birth_date,id_number,phone,home_house,registered_locally";

    pub fn to_csv_row(&self) -> String {
        csv::row([
            Some(self.id.to_string().as_str()),
            Some(self.name.as_str()),
            Some(self.sex.as_chinese()),
            Some(self.ethnicity.as_chinese()),
            Some(self.birth.to_string().as_str()),
            Some(self.id_number.as_str()),
            self.phone.as_ref().map(|p| p.as_str()),
            Some(self.home_house.to_string().as_str()),
            Some(if self.registered_locally { "1" } else { "0" }),
        ])
    }
}

/// A standard address down to the room.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseAddress {
    /// Six-digit district code.
    pub district_code: String,
    /// `四川省成都市锦江区`.
    pub region_name: String,
    /// The sub-district office (街道), e.g. `人民路街道`.
    pub street_office: String,
    /// The residents' community (社区), e.g. `红星社区`.
    pub community: String,
    pub road: String,
    pub number: u32,
    pub building: u32,
    pub unit: u32,
    pub floor: u32,
    pub room: u32,
}

impl HouseAddress {
    /// The full standard text: `四川省成都市锦江区人民路街道红星社区人民路12号3栋2单元501室`.
    pub fn text(&self) -> String {
        format!(
            "{}{}{}{}",
            self.region_name,
            self.street_office,
            self.community,
            self.local_text()
        )
    }

    /// Road down to room: `人民路12号3栋2单元501室`.
    pub fn local_text(&self) -> String {
        format!(
            "{}{}号{}栋{}单元{}室",
            self.road, self.number, self.building, self.unit, self.room
        )
    }

    /// Road and door number: `人民路12号` (the compound's address).
    pub fn door_text(&self) -> String {
        format!("{}{}号", self.road, self.number)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HouseUse {
    /// Lived in by its owner's household.
    OwnerOccupied,
    /// Let to tenants.
    Rented,
    Vacant,
}

impl HouseUse {
    pub fn as_chinese(self) -> &'static str {
        match self {
            HouseUse::OwnerOccupied => "自住",
            HouseUse::Rented => "出租",
            HouseUse::Vacant => "空置",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct House {
    pub id: u64,
    pub address: HouseAddress,
    /// Near the street's sample point (within ~400 m).
    pub point: LatLng,
    pub area_m2: f64,
    pub use_: HouseUse,
    /// Person id of the owner (an adult; for rented and vacant houses usually
    /// someone living elsewhere).
    pub owner: u64,
}

impl House {
    pub const CSV_HEADER: &'static str =
        "house_id,address,district_code,road,number,building,unit,room,lat,lng,area_m2,use,owner";

    pub fn to_csv_row(&self) -> String {
        let a = &self.address;
        csv::row([
            Some(self.id.to_string().as_str()),
            Some(a.text().as_str()),
            Some(a.district_code.as_str()),
            Some(a.road.as_str()),
            Some(a.number.to_string().as_str()),
            Some(a.building.to_string().as_str()),
            Some(a.unit.to_string().as_str()),
            Some(a.room.to_string().as_str()),
            Some(format!("{:.6}", self.point.lat()).as_str()),
            Some(format!("{:.6}", self.point.lng()).as_str()),
            Some(format!("{:.1}", self.area_m2).as_str()),
            Some(self.use_.as_chinese()),
            Some(self.owner.to_string().as_str()),
        ])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResidenceRole {
    /// Lives in a house owned by the household (实有人口·常住).
    Resident,
    /// Rents the house (租户).
    Tenant,
}

impl ResidenceRole {
    pub fn as_chinese(self) -> &'static str {
        match self {
            ResidenceRole::Resident => "居住",
            ResidenceRole::Tenant => "租住",
        }
    }
}

/// A person living in a house from `since` until `until` (`None`: still there).
#[derive(Debug, Clone, PartialEq)]
pub struct Residence {
    pub person: u64,
    pub house: u64,
    pub role: ResidenceRole,
    pub since: CivilDate,
    pub until: Option<CivilDate>,
}

impl Residence {
    pub const CSV_HEADER: &'static str = "person_id,house_id,role,since,until";

    pub fn to_csv_row(&self) -> String {
        csv::row([
            Some(self.person.to_string().as_str()),
            Some(self.house.to_string().as_str()),
            Some(self.role.as_chinese()),
            Some(self.since.to_string().as_str()),
            self.until.map(|u| u.to_string()).as_deref(),
        ])
    }
}

fn date_from_epoch_days(d: i64) -> CivilDate {
    let (y, m, d) = civil_from_days(d);
    CivilDate { y, m, d }
}

impl SynthCity {
    /// `(identity space, index inside it, local?)` of person `i`.
    fn space_of(&self, i: u64) -> (&IdentitySpace, u64, bool, u64) {
        let j = Permutation::new(self.cfg.people, key(self.cfg.seed, D_ALL, 0)).apply(i);
        if j < self.local.count {
            (&self.local, j, true, D_LOCAL)
        } else {
            (&self.elsewhere, j - self.local.count, false, D_ELSEWHERE)
        }
    }

    /// Region, birth date and sequence rank (0..500) of person `i`.
    fn cell_of(&self, i: u64) -> (Region, CivilDate, u64, bool) {
        let (space, j, local, domain) = self.space_of(i);
        let w_days = self.days.total();
        let v_total = space.region_weights.total() * w_days;
        let x = Permutation::new(space.slots * v_total, key(self.cfg.seed, domain, 0)).apply(j);
        let (slot, v) = (x / v_total, x % v_total);
        let (ri, o_r) = space.region_weights.locate(v / w_days);
        let (yi, off) = self.days.locate(v % w_days);
        let w_y = self.year_weights[yi];
        let (day, o_d) = (off / w_y, off % w_y);
        let mult = space.region_weights.weight(ri) * w_y;
        let rank = slot * mult + o_r * w_y + o_d;
        let year = 1940 + yi as i32;
        let birth = date_from_epoch_days(days_from_civil(year, 1, 1) + day as i64);
        (space.regions[ri], birth, rank, local)
    }

    pub(crate) fn birth_of(&self, i: u64) -> CivilDate {
        self.cell_of(i).1
    }

    pub(crate) fn age_of(&self, i: u64) -> u32 {
        self.birth_of(i).years_until(self.cfg.today)
    }

    /// An adult (≥ 20) drawn from `rng`; gives up after 64 draws (then any person).
    pub(crate) fn random_adult(&self, rng: &mut Rng) -> u64 {
        let mut i = 0;
        for _ in 0..64 {
            i = rng.below(self.cfg.people);
            if self.age_of(i) >= 20 {
                break;
            }
        }
        i
    }

    /// Mobile number `generation` of person `i` (0 = current, 1 = the previous one).
    pub(crate) fn phone_of(&self, i: u64, generation: u64) -> Phone {
        let space = MOBILE_PREFIXES.len() as u64 * 100_000_000;
        let x = Permutation::new(space, key(self.cfg.seed, D_PHONE, 0))
            .apply(generation * self.cfg.people + i);
        let s = format!(
            "{}{:08}",
            MOBILE_PREFIXES[(x / 100_000_000) as usize],
            x % 100_000_000
        );
        // Cannot fail: every prefix is 1[3-9]x and the suffix has 8 digits.
        Phone::parse(&s).expect("generated mobile numbers are valid")
    }

    /// The person's mobile number before the current one (for stale-phone noise).
    pub fn previous_phone(&self, i: u64) -> Phone {
        self.phone_of(i, 1)
    }

    pub fn house_of(&self, i: u64) -> u64 {
        (u128::from(i) * u128::from(self.occupied_houses) / u128::from(self.cfg.people)) as u64
    }

    /// Ids of the people whose home is house `h` (empty for vacant houses).
    pub fn household(&self, h: u64) -> std::ops::Range<u64> {
        if h >= self.occupied_houses {
            return 0..0;
        }
        let n = u128::from(self.cfg.people);
        let hh = u128::from(self.occupied_houses);
        let start = (u128::from(h) * n).div_ceil(hh) as u64;
        let end = ((u128::from(h) + 1) * n).div_ceil(hh) as u64;
        start..end.min(self.cfg.people)
    }

    /// Person `i` (`i < people`).
    ///
    /// # Panics
    /// If `i >= people`, or (a bug) if a generated ID number failed validation.
    pub fn person(&self, i: u64) -> Person {
        assert!(i < self.cfg.people, "person {i} out of range");
        let mut rng = Rng::for_entity(self.cfg.seed, D_PERSON, i);
        let (region, birth, rank, local) = self.cell_of(i);
        let sex = if rng.chance(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let seq = rank * 2 + u64::from(sex == Sex::Male);
        let id_number = IdNumber::build(region.code, birth.as_tuple(), seq as u16)
            .expect("identity cells give valid, unique ID numbers");
        let home_house = self.house_of(i);
        let (name, ethnicity) = if rng.chance(self.cfg.minority_share) {
            (names::uyghur_name(&mut rng, sex), Ethnicity::Uyghur)
        } else {
            let mut family = Rng::for_entity(self.cfg.seed, D_FAMILY, home_house);
            let family_name = names::surname(&mut family);
            let surname = if rng.chance(0.7) {
                family_name
            } else {
                names::surname(&mut rng)
            };
            (
                format!("{surname}{}", names::given_name(&mut rng, sex, birth.y)),
                Ethnicity::Han,
            )
        };
        let age = birth.years_until(self.cfg.today);
        let phone = (age >= 12 || rng.chance(0.5)).then(|| self.phone_of(i, 0));
        Person {
            id: i,
            name,
            sex,
            ethnicity,
            birth,
            id_number,
            phone,
            home_house,
            registered_locally: local,
        }
    }

    pub(crate) fn house_use(&self, h: u64) -> HouseUse {
        if h >= self.occupied_houses {
            return HouseUse::Vacant;
        }
        let mut rng = Rng::for_entity(self.cfg.seed, D_HOUSE_USE, h);
        if rng.chance(self.cfg.rented_share) {
            HouseUse::Rented
        } else {
            HouseUse::OwnerOccupied
        }
    }

    /// The standard address of house `h` and its point.
    pub(crate) fn house_address(&self, h: u64) -> (HouseAddress, LatLng) {
        let (s, k, building, unit, floor, room) = self.layout.locate(h);
        let street = &self.cfg.streets[s];
        let info = &self.street_info[s];
        let along = (k % 60) as f64 * 12.0 - 354.0;
        let side =
            if k.is_multiple_of(2) { 1.0 } else { -1.0 } * (20.0 + 10.0 * f64::from(building));
        let point = street.point.offset_m(
            along * info.cos - side * info.sin,
            along * info.sin + side * info.cos,
        );
        (
            HouseAddress {
                district_code: info.district_code.to_owned(),
                region_name: info.region_name.clone(),
                street_office: info.street_office.clone(),
                community: info.community.clone(),
                road: street.name.clone(),
                number: (k + 1) as u32,
                building,
                unit,
                floor,
                room,
            },
            point,
        )
    }

    /// House `h` (`h < house_count()`).
    ///
    /// # Panics
    /// If `h >= house_count()`.
    pub fn house(&self, h: u64) -> House {
        assert!(h < self.total_houses, "house {h} out of range");
        let mut rng = Rng::for_entity(self.cfg.seed, D_HOUSE, h);
        let (address, point) = self.house_address(h);
        let use_ = self.house_use(h);
        let area_m2 = rng.range(450, 1600) as f64 / 10.0;
        let owner = match use_ {
            HouseUse::OwnerOccupied => match self.household(h).find(|&i| self.age_of(i) >= 20) {
                Some(i) => i,
                None => self.random_adult(&mut rng),
            },
            HouseUse::Rented | HouseUse::Vacant => self.random_adult(&mut rng),
        };
        House {
            id: h,
            address,
            point,
            area_m2,
            use_,
            owner,
        }
    }

    /// Person `i`'s residence links: the current one first, then possibly a
    /// previous, closed one.
    pub fn residences_of(&self, i: u64) -> Vec<Residence> {
        let mut rng = Rng::for_entity(self.cfg.seed, D_RESIDENCE, i);
        let birth = self.birth_of(i).days_since_epoch();
        let today = self.cfg.today.days_since_epoch();
        let h = self.house_of(i);
        let role = match self.house_use(h) {
            HouseUse::Rented => ResidenceRole::Tenant,
            _ => ResidenceRole::Resident,
        };
        let since = match role {
            ResidenceRole::Tenant => today - rng.range(30, 1500) as i64,
            ResidenceRole::Resident => {
                today - rng.below((today - birth).clamp(0, 20 * 365) as u64 + 1) as i64
            }
        }
        .max(birth);
        let mut out = vec![Residence {
            person: i,
            house: h,
            role,
            since: date_from_epoch_days(since),
            until: None,
        }];
        if rng.chance(self.cfg.moved_share) && self.total_houses > 1 {
            let mut prev = rng.below(self.total_houses - 1);
            if prev >= h {
                prev += 1;
            }
            let until = since - rng.range(1, 60) as i64;
            let prev_since = until - rng.range(180, 3000) as i64;
            if prev_since >= birth {
                out.push(Residence {
                    person: i,
                    house: prev,
                    role: if rng.chance(0.5) {
                        ResidenceRole::Tenant
                    } else {
                        ResidenceRole::Resident
                    },
                    since: date_from_epoch_days(prev_since),
                    until: Some(date_from_epoch_days(until)),
                });
            }
        }
        out
    }
}
