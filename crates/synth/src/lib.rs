//! Deterministic synthetic population for the demo city and the benchmarks:
//! people with valid GB 11643 ID numbers and mobile phones, standard addresses on
//! the caller's streets, houses, residence links, vehicles with valid plates, and
//! multi-source departmental records about the same people with realistic noise
//! and the ground-truth person id on every record.
//!
//! Everything is a pure function of [`SynthConfig`]: entity `i` of each kind is
//! computed from its own hash-derived random stream, so rows can be generated in
//! any order or on demand ([`SynthCity::person`]) and streamed ([`SynthCity::people`])
//! without holding the population in memory, and the same seed always gives
//! byte-identical output. Identifiers (ID numbers, phones, plates) are made unique
//! by keyed permutations rather than by remembering the ones already issued.

mod csv;
mod names;
mod population;
mod rng;
mod sources;
mod vehicles;

use pingan_core::LatLng;
use pingan_core::normalize::date::CivilDate;
use pingan_core::normalize::plate::Plate;
use pingan_core::normalize::region::{self, Region, RegionLevel};
use thiserror::Error;

pub use names::Ethnicity;
pub use population::{House, HouseAddress, HouseUse, Person, Residence, ResidenceRole};
pub use sources::{NoiseConfig, NoiseKind, NoiseSet, SourceKind, SourceProfile, SourceRecord};
pub use vehicles::Vehicle;

use crate::population::Layout;
use crate::rng::Weighted;

/// A named street of the city with one point on it (from the road network).
#[derive(Debug, Clone, PartialEq)]
pub struct StreetRef {
    pub name: String,
    pub point: LatLng,
    /// Six-digit code of the district the street lies in; `None` means the
    /// config's [`SynthConfig::region_code`].
    pub district_code: Option<String>,
}

impl StreetRef {
    pub fn new(name: impl Into<String>, point: LatLng) -> StreetRef {
        StreetRef {
            name: name.into(),
            point,
            district_code: None,
        }
    }

    pub fn in_district(mut self, code: impl Into<String>) -> StreetRef {
        self.district_code = Some(code.into());
        self
    }
}

/// Everything the generator needs. [`SynthConfig::new`] fills realistic defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    pub seed: u64,
    /// The size knob: number of people.
    pub people: u64,
    /// The city's region code: a county-level code (`510104`) makes it the home
    /// county with its sibling counties as the rest of the "local" area; a city- or
    /// province-level code makes all its counties local.
    pub region_code: String,
    /// Plate prefix of the city, e.g. `川A`.
    pub plate_prefix: String,
    pub streets: Vec<StreetRef>,
    /// The reference "today" for ages, dates of residence and record times.
    pub today: CivilDate,
    /// Share of people whose ID number was issued locally.
    pub local_share: f64,
    /// Share of people with a transliterated minority (Uyghur) name.
    pub minority_share: f64,
    /// Vehicles per person (≈ 0.3 for a Chinese city).
    pub vehicles_per_person: f64,
    /// Occupied houses that are rented out.
    pub rented_share: f64,
    /// Extra vacant houses, as a share of occupied ones.
    pub vacant_share: f64,
    /// People with a previous residence (a closed link) besides the current one.
    pub moved_share: f64,
    /// The departmental sources and their noise.
    pub sources: Vec<SourceProfile>,
}

impl SynthConfig {
    pub fn new(
        seed: u64,
        people: u64,
        region_code: impl Into<String>,
        plate_prefix: impl Into<String>,
        streets: Vec<StreetRef>,
    ) -> SynthConfig {
        SynthConfig {
            seed,
            people,
            region_code: region_code.into(),
            plate_prefix: plate_prefix.into(),
            streets,
            today: CivilDate {
                y: 2026,
                m: 11,
                d: 24,
            },
            local_share: 0.8,
            minority_share: 0.015,
            vehicles_per_person: 0.3,
            rented_share: 0.2,
            vacant_share: 0.1,
            moved_share: 0.15,
            sources: SourceProfile::defaults(),
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum SynthError {
    #[error("region_code {code} is not a listed division")]
    RegionCode { code: String },
    #[error("district_code {code} of street {street:?} is not a listed division")]
    StreetDistrict { street: String, code: String },
    #[error("plate_prefix {prefix:?} is not a province abbreviation and letter")]
    PlatePrefix { prefix: String },
    #[error("streets is empty; at least one named street is needed")]
    NoStreets,
    #[error("people must be at least 1")]
    NoPeople,
    #[error("{field} = {value} is outside 0..=1")]
    Share { field: &'static str, value: f64 },
    #[error("people = {people} exceeds what unique ID numbers allow for this region ({max})")]
    TooManyPeople { people: u64, max: u64 },
    #[error("{vehicles} vehicles exceed the {capacity} plates of prefix {prefix}")]
    TooManyVehicles {
        vehicles: u64,
        capacity: u64,
        prefix: String,
    },
}

/// A regional identity space: region weights × birth-day weights (see
/// `population::identity`).
#[derive(Debug, Clone)]
pub(crate) struct IdentitySpace {
    pub(crate) regions: Vec<Region>,
    pub(crate) region_weights: Weighted,
    pub(crate) count: u64,
    pub(crate) slots: u64,
}

/// A generated city. Cheap to create (tables of a few hundred kB); every row is
/// computed on demand.
#[derive(Debug, Clone)]
pub struct SynthCity {
    pub(crate) cfg: SynthConfig,
    pub(crate) plate: Plate,
    pub(crate) days: Weighted,
    pub(crate) year_weights: Vec<u64>,
    pub(crate) local: IdentitySpace,
    pub(crate) elsewhere: IdentitySpace,
    pub(crate) street_info: Vec<population::StreetInfo>,
    pub(crate) layout: Layout,
    pub(crate) occupied_houses: u64,
    pub(crate) total_houses: u64,
    pub(crate) vehicle_count: u64,
}

fn county_like(r: &Region) -> bool {
    r.level() == RegionLevel::County && !matches!(r.name, "市辖区" | "县")
}

impl SynthCity {
    pub fn new(cfg: SynthConfig) -> Result<SynthCity, SynthError> {
        if cfg.people == 0 {
            return Err(SynthError::NoPeople);
        }
        if cfg.streets.is_empty() {
            return Err(SynthError::NoStreets);
        }
        for (field, value) in [
            ("local_share", cfg.local_share),
            ("minority_share", cfg.minority_share),
            ("rented_share", cfg.rented_share),
            ("vacant_share", cfg.vacant_share),
            ("moved_share", cfg.moved_share),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SynthError::Share { field, value });
            }
        }
        if !(0.0..=5.0).contains(&cfg.vehicles_per_person) {
            return Err(SynthError::Share {
                field: "vehicles_per_person",
                value: cfg.vehicles_per_person,
            });
        }
        let home = region::lookup(&cfg.region_code).ok_or_else(|| SynthError::RegionCode {
            code: cfg.region_code.clone(),
        })?;
        let plate = Plate::parse(&format!("{}12345", cfg.plate_prefix))
            .ok()
            .filter(|p| p.prefix() == cfg.plate_prefix)
            .ok_or_else(|| SynthError::PlatePrefix {
                prefix: cfg.plate_prefix.clone(),
            })?;
        let street_regions = cfg
            .streets
            .iter()
            .map(|s| {
                let code = s.district_code.as_deref().unwrap_or(&cfg.region_code);
                region::lookup(code).ok_or_else(|| SynthError::StreetDistrict {
                    street: s.name.clone(),
                    code: code.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        // Local area: the home county (heavy) and its siblings, or every county of
        // a city/province code.
        let local_prefix: &str = match home.level() {
            RegionLevel::County | RegionLevel::City => &home.code[..4],
            RegionLevel::Province => &home.code[..2],
        };
        let mut local_regions: Vec<Region> = region::all()
            .filter(|r| county_like(r) && r.code.starts_with(local_prefix))
            .collect();
        if local_regions.is_empty() {
            local_regions.push(home);
        }
        let local_weights = Weighted::new(
            local_regions
                .iter()
                .map(|r| if r.code == home.code { 10 } else { 2 }),
        );
        let elsewhere_regions: Vec<Region> = region::all()
            .filter(|r| county_like(r) && !r.code.starts_with(local_prefix))
            .collect();
        let elsewhere_weights = Weighted::new(elsewhere_regions.iter().map(|_| 1));

        let (days, year_weights) = population::birth_days();
        let n_local = (cfg.people as f64 * cfg.local_share).round() as u64;
        let local = population::identity_space(
            local_regions,
            local_weights,
            &days,
            &year_weights,
            n_local,
            cfg.people,
        )?;
        let elsewhere = population::identity_space(
            elsewhere_regions,
            elsewhere_weights,
            &days,
            &year_weights,
            cfg.people - n_local,
            cfg.people,
        )?;

        let occupied_houses = (cfg.people * 10 / 26).max(1);
        let total_houses =
            occupied_houses + (occupied_houses as f64 * cfg.vacant_share).round() as u64;
        let layout = Layout::for_houses(total_houses, cfg.streets.len() as u64);
        let vehicle_count = (cfg.people as f64 * cfg.vehicles_per_person).round() as u64;
        vehicles::check_capacity(vehicle_count, &cfg.plate_prefix)?;

        let street_info = population::street_info(cfg.seed, &cfg.streets, &street_regions);
        Ok(SynthCity {
            cfg,
            plate,
            days,
            year_weights,
            local,
            elsewhere,
            street_info,
            layout,
            occupied_houses,
            total_houses,
            vehicle_count,
        })
    }

    pub fn config(&self) -> &SynthConfig {
        &self.cfg
    }

    pub fn people_count(&self) -> u64 {
        self.cfg.people
    }

    pub fn house_count(&self) -> u64 {
        self.total_houses
    }

    pub fn vehicle_count(&self) -> u64 {
        self.vehicle_count
    }

    /// All people, in id order.
    pub fn people(&self) -> impl Iterator<Item = Person> + '_ {
        (0..self.cfg.people).map(move |i| self.person(i))
    }

    /// All houses, in id order.
    pub fn houses(&self) -> impl Iterator<Item = House> + '_ {
        (0..self.total_houses).map(move |h| self.house(h))
    }

    /// All residence links, grouped by person (current link first).
    pub fn residences(&self) -> impl Iterator<Item = Residence> + '_ {
        (0..self.cfg.people).flat_map(move |i| self.residences_of(i))
    }

    /// All vehicles, in id order.
    pub fn vehicles(&self) -> impl Iterator<Item = Vehicle> + '_ {
        (0..self.vehicle_count).map(move |v| self.vehicle(v))
    }
}
