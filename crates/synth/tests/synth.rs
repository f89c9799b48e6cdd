//! Black-box tests of the generator: determinism, validity of every identifier,
//! address round trips through the core parser, and configured noise rates.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use pingan_core::LatLng;
use pingan_core::normalize::address::parse_address;
use pingan_core::normalize::date::parse_date;
use pingan_core::normalize::id_number::{IdNumber, Sex};
use pingan_core::normalize::name::normalize_name;
use pingan_core::normalize::phone::{Phone, PhoneKind};
use pingan_core::normalize::plate::{Plate, PlateKind};
use pingan_synth::{
    HouseUse, NoiseConfig, NoiseKind, SourceKind, SourceProfile, StreetRef, SynthCity, SynthConfig,
    SynthError,
};

const STREETS: [&str; 14] = [
    "人民南路二段",
    "春熙路",
    "红星路",
    "蜀都大道",
    "解放路",
    "建设路",
    "府青路",
    "玉林街",
    "文化巷",
    "东风大道",
    "武侯祠大街",
    "锦里路",
    "总府路",
    "盐市口街",
];

fn streets() -> Vec<StreetRef> {
    let center = LatLng::new(30.6598, 104.0633).expect("valid");
    STREETS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let p = center.offset_m(
                (i as f64 - 7.0) * 400.0,
                ((i * 7) % 11) as f64 * 300.0 - 1500.0,
            );
            let s = StreetRef::new(*name, p);
            if i % 3 == 0 {
                s.in_district("510107")
            } else {
                s
            }
        })
        .collect()
}

fn config(seed: u64, people: u64) -> SynthConfig {
    SynthConfig::new(seed, people, "510104", "川A", streets())
}

fn city(seed: u64, people: u64) -> SynthCity {
    SynthCity::new(config(seed, people)).expect("valid config")
}

fn digest(c: &SynthCity) -> u64 {
    let mut h = DefaultHasher::new();
    for p in c.people() {
        p.to_csv_row().hash(&mut h);
    }
    for x in c.houses() {
        x.to_csv_row().hash(&mut h);
    }
    for r in c.residences() {
        r.to_csv_row().hash(&mut h);
    }
    for v in c.vehicles() {
        v.to_csv_row().hash(&mut h);
    }
    for r in c.all_records() {
        r.to_csv_row().hash(&mut h);
        r.to_source_csv_row().hash(&mut h);
    }
    h.finish()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = digest(&city(7, 1500));
    let b = digest(&city(7, 1500));
    let c = digest(&city(8, 1500));
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Random access agrees with streaming.
    let c1 = city(7, 1500);
    let streamed: Vec<_> = c1.people().skip(700).take(3).collect();
    assert_eq!(
        streamed,
        vec![c1.person(700), c1.person(701), c1.person(702)]
    );
}

#[test]
fn people_have_valid_unique_ids_consistent_with_their_attributes() {
    let c = city(11, 20_000);
    let mut ids = HashSet::new();
    let mut phones = HashSet::new();
    let mut local = 0;
    let mut minority = 0;
    let mut males = 0;
    for p in c.people() {
        let parsed = IdNumber::parse(p.id_number.as_str()).expect("every generated ID parses");
        assert_eq!(parsed, p.id_number);
        assert_eq!(parsed.sex(), p.sex);
        assert_eq!(parsed.birth_date(), p.birth.as_tuple());
        assert!((1940..=2015).contains(&p.birth.y), "{}", p.birth);
        assert!(parsed.region_status().is_listed());
        assert!(ids.insert(p.id_number), "duplicate ID {}", p.id_number);
        if p.registered_locally {
            local += 1;
            assert!(
                p.id_number.region_code().starts_with("5101"),
                "{}",
                p.id_number
            );
        } else {
            assert!(!p.id_number.region_code().starts_with("5101"));
        }
        if let Some(ph) = &p.phone {
            assert_eq!(ph.kind(), PhoneKind::Mobile);
            assert!(phones.insert(ph.as_str().to_owned()), "duplicate phone");
        } else {
            assert!(p.birth.years_until(c.config().today) < 12);
        }
        assert_eq!(normalize_name(&p.name).as_deref(), Ok(p.name.as_str()));
        let n = p.name.chars().count();
        if p.name.contains('·') {
            minority += 1;
        } else {
            assert!((2..=4).contains(&n), "{}", p.name);
        }
        males += usize::from(p.sex == Sex::Male);
        assert!(c.household(p.home_house).contains(&p.id));
    }
    assert_eq!(local, 16_000);
    assert!((150..=450).contains(&minority), "{minority}");
    assert!((9_500..=10_500).contains(&males), "{males}");
    // The commonest surnames lead.
    let wang = c.people().filter(|p| p.name.starts_with('王')).count();
    assert!((900..=2100).contains(&wang), "{wang}");
}

#[test]
fn houses_have_parseable_standard_addresses_near_their_street() {
    let c = city(3, 5_000);
    let mut texts = HashSet::new();
    let mut rented = 0;
    for h in c.houses() {
        let a = &h.address;
        let text = a.text();
        assert!(texts.insert(text.clone()), "duplicate address {text}");
        let parsed = parse_address(&text);
        assert_eq!(
            parsed.region_code.as_deref(),
            Some(a.district_code.as_str()),
            "{text}"
        );
        assert_eq!(
            parsed.street.as_deref(),
            Some(a.street_office.as_str()),
            "{text}"
        );
        assert_eq!(
            parsed.community.as_deref(),
            Some(a.community.as_str()),
            "{text}"
        );
        assert_eq!(parsed.road.as_deref(), Some(a.road.as_str()), "{text}");
        assert_eq!(parsed.number, Some(a.number.to_string()));
        assert_eq!(parsed.building, Some(a.building.to_string()));
        assert_eq!(parsed.unit, Some(a.unit.to_string()));
        assert_eq!(parsed.room, Some(a.room.to_string()));
        let street = c
            .config()
            .streets
            .iter()
            .find(|s| s.name == a.road)
            .expect("known street");
        assert!(h.point.distance_m(&street.point) < 600.0);
        assert!(c.person(h.owner).birth.years_until(c.config().today) >= 20);
        match h.use_ {
            HouseUse::Vacant => assert!(c.household(h.id).is_empty()),
            HouseUse::Rented => {
                rented += 1;
                assert!(!c.household(h.id).is_empty());
            }
            HouseUse::OwnerOccupied => assert!(!c.household(h.id).is_empty()),
        }
    }
    assert!(rented > 200, "{rented}");
    for r in c.residences() {
        assert!(r.since <= c.config().today);
        assert!(r.since >= c.person(r.person).birth);
        if let Some(u) = r.until {
            assert!(r.since < u);
        } else {
            assert_eq!(r.house, c.person(r.person).home_house);
        }
    }
}

#[test]
fn vehicles_have_unique_valid_plates_of_the_city() {
    let c = city(5, 30_000);
    assert_eq!(c.vehicle_count(), 9_000);
    let mut plates = HashSet::new();
    let mut nev = 0;
    for v in c.vehicles() {
        let p = Plate::parse(v.plate.as_str()).expect("every plate parses");
        assert_eq!(p, v.plate);
        assert_eq!(p.prefix(), "川A");
        assert!(plates.insert(p.as_str().to_owned()), "duplicate {}", p);
        nev += usize::from(p.kind().is_new_energy());
        assert!(matches!(
            p.kind(),
            PlateKind::Ordinary | PlateKind::NewEnergySmall | PlateKind::NewEnergyLarge
        ));
        assert!(c.person(v.owner).birth.years_until(v.registered) >= 18);
        assert!(v.registered <= c.config().today);
    }
    assert_eq!(nev, 9_000 * 15 / 100);
}

#[test]
fn clean_sources_carry_exact_values_and_ground_truth() {
    let mut cfg = config(9, 3_000);
    for s in &mut cfg.sources {
        s.noise = NoiseConfig::none();
    }
    let c = SynthCity::new(cfg).expect("valid");
    for kind in SourceKind::ALL {
        let records: Vec<_> = c.records(kind).collect();
        assert_eq!(records.len() as u64, c.record_count(kind), "{kind:?}");
        let mut ids = HashSet::new();
        for r in &records {
            assert!(ids.insert(r.record_id.clone()));
            assert!(r.noise.is_empty());
            let p = c.person(r.truth_person);
            assert_eq!(r.name.as_deref(), Some(p.name.as_str()));
            assert_eq!(r.id_number.as_deref(), Some(p.id_number.as_str()));
            if let Some(addr) = &r.address {
                assert_eq!(addr, &c.house(p.home_house).address.text());
            }
            if let Some(ph) = &r.phone {
                assert_eq!(Some(ph.as_str()), p.phone.as_ref().map(|x| x.as_str()));
            }
            if let Some(b) = &r.birth_date {
                assert_eq!(parse_date(b), Ok(p.birth));
            }
            if kind == SourceKind::VehicleRegistry {
                let v = c.vehicle(r.truth_vehicle.expect("vehicle truth"));
                assert_eq!(v.owner, p.id);
                assert_eq!(r.plate.as_deref(), Some(v.plate.as_str()));
            }
            assert_eq!(
                r.to_source_csv_row().split(',').count(),
                kind.csv_header().split(',').count(),
                "{}",
                r.to_source_csv_row()
            );
        }
    }
    assert_eq!(c.record_count(SourceKind::HouseholdRegistry), 2_400);
    assert_eq!(c.record_count(SourceKind::HotelStay), 2_400);
}

#[test]
fn noise_rates_follow_the_configuration_and_format_noise_is_recoverable() {
    let rate = 0.2;
    let mut cfg = config(13, 4_000);
    let uniform = NoiseConfig {
        id_missing: rate,
        id_format: rate,
        id_typo: rate,
        name_traditional: rate,
        name_typo: rate,
        name_format: rate,
        phone_missing: rate,
        phone_format: rate,
        phone_stale: rate,
        address_missing: rate,
        address_variant: rate,
        date_format: rate,
    };
    cfg.sources = vec![SourceProfile {
        kind: SourceKind::CommunityVisit,
        records_per_person: 5.0,
        noise: uniform,
    }];
    let c = SynthCity::new(cfg).expect("valid");
    let records: Vec<_> = c.records(SourceKind::CommunityVisit).collect();
    assert_eq!(records.len(), 20_000);
    let share = |num: usize, den: usize| num as f64 / den as f64;
    let count = |k: NoiseKind| records.iter().filter(|r| r.noise.contains(k)).count();
    let n = records.len();
    for k in [
        NoiseKind::NameTypo,
        NoiseKind::NameTraditional,
        NoiseKind::NameFormat,
        NoiseKind::IdMissing,
        NoiseKind::AddressMissing,
        NoiseKind::DateFormat,
    ] {
        let s = share(count(k), n);
        assert!((s - rate).abs() < 0.015, "{k:?}: {s}");
    }
    // Conditional rates: typos among present IDs, format among untouched IDs.
    let present = n - count(NoiseKind::IdMissing);
    let s = share(count(NoiseKind::IdTypo), present);
    assert!((s - rate).abs() < 0.015, "id_typo {s}");
    let s = share(
        count(NoiseKind::IdFormat),
        present - count(NoiseKind::IdTypo),
    );
    assert!((s - rate).abs() < 0.02, "id_format {s}");

    for r in &records {
        let p = c.person(r.truth_person);
        if let Some(id) = &r.id_number {
            let parsed = IdNumber::parse(id);
            if r.noise.contains(NoiseKind::IdTypo) {
                assert!(parsed.is_err(), "typo {id} still valid");
            } else {
                assert_eq!(parsed, Ok(p.id_number), "{id}");
            }
        }
        if let Some(ph) = &r.phone {
            let parsed = Phone::parse(ph).expect("format noise keeps phones valid");
            if r.noise.contains(NoiseKind::PhoneStale) {
                assert_eq!(parsed, c.previous_phone(p.id));
            } else {
                assert_eq!(Some(&parsed), p.phone.as_ref());
            }
        }
        if let Some(b) = &r.birth_date {
            assert_eq!(parse_date(b), Ok(p.birth), "{b}");
        }
        if let Some(a) = &r.address {
            let parsed = parse_address(a);
            let h = c.house(p.home_house).address;
            assert_eq!(parsed.road.as_deref(), Some(h.road.as_str()), "{a}");
            assert_eq!(parsed.number, Some(h.number.to_string()), "{a}");
            assert_eq!(parsed.building, Some(h.building.to_string()), "{a}");
            assert_eq!(parsed.unit, Some(h.unit.to_string()), "{a}");
            if !a.ends_with("单元") {
                assert_eq!(parsed.room, Some(h.room.to_string()), "{a}");
            }
        }
        let name = r.name.as_deref().expect("every source has names");
        if !r.noise.contains(NoiseKind::NameTypo) {
            let norm = normalize_name(name).expect("names stay valid");
            // OpenCC's round trip is not perfect for every rare character.
            if r.noise.contains(NoiseKind::NameTraditional) && norm != p.name {
                continue;
            }
            assert_eq!(norm, p.name, "{name}");
        }
    }
}

#[test]
fn hotel_guests_sometimes_check_in_together() {
    let c = city(21, 5_000);
    let records: Vec<_> = c.records(SourceKind::HotelStay).collect();
    let (mut pairs, mut together, mut household) = (0, 0, 0);
    for pair in records.chunks(2) {
        let [a, b] = pair else { continue };
        pairs += 1;
        let (ta, tb) = (a.event_time.expect("time"), b.event_time.expect("time"));
        let gap = tb.secs() - ta.secs();
        if a.place == b.place && (10..=300).contains(&gap) {
            together += 1;
            assert_ne!(a.truth_person, b.truth_person);
            household += usize::from(
                c.person(a.truth_person).home_house == c.person(b.truth_person).home_house,
            );
        }
    }
    let share = together as f64 / pairs as f64;
    assert!((share - 0.3).abs() < 0.03, "{share}");
    assert!(household * 2 > together, "{household} of {together}");
}

#[test]
fn configuration_errors_name_the_field() {
    let mut cfg = config(1, 10);
    cfg.region_code = "999999".into();
    assert_eq!(
        SynthCity::new(cfg).err(),
        Some(SynthError::RegionCode {
            code: "999999".into()
        })
    );
    let mut cfg = config(1, 10);
    cfg.plate_prefix = "川".into();
    assert!(matches!(
        SynthCity::new(cfg),
        Err(SynthError::PlatePrefix { .. })
    ));
    let mut cfg = config(1, 10);
    cfg.streets.clear();
    assert_eq!(SynthCity::new(cfg).err(), Some(SynthError::NoStreets));
    let mut cfg = config(1, 10);
    cfg.streets[0].district_code = Some("123".into());
    assert!(matches!(
        SynthCity::new(cfg),
        Err(SynthError::StreetDistrict { .. })
    ));
    assert_eq!(
        SynthCity::new(config(1, 0)).err(),
        Some(SynthError::NoPeople)
    );
    let mut cfg = config(1, 10);
    cfg.local_share = 1.5;
    assert!(matches!(
        SynthCity::new(cfg),
        Err(SynthError::Share {
            field: "local_share",
            ..
        })
    ));
    assert!(matches!(
        SynthCity::new(config(1, 100_000_000)),
        Err(SynthError::TooManyVehicles { .. } | SynthError::TooManyPeople { .. })
    ));
    // Five million people fit (the benchmark size).
    assert!(SynthCity::new(config(1, 5_000_000)).is_ok());
}

/// FNV-1a, stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a(rows: impl Iterator<Item = String>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for row in rows {
        for b in row.bytes().chain([b'\n']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    h
}

#[test]
fn output_is_pinned() {
    // Golden values: if a change to the generator alters them, every demo city and
    // benchmark corpus changes too; update them deliberately, never casually.
    let c = city(2026, 400);
    assert_eq!(
        c.person(0).to_csv_row(),
        "0,徐楠超,男,汉族,1981-04-11,510184198104110116,18651366476,0,1"
    );
    assert_eq!(
        c.record(SourceKind::HotelStay, 0)
            .expect("in range")
            .to_csv_row(),
        "hotel_stay,LG000000000,341,,朋宝有,男,,,510114195312280117,(+86)13093387512,,,,,维也纳酒店(府青路店),2026-09-01 21:37:40,name_typo|phone_format"
    );
    let people = fnv1a(c.people().map(|p| p.to_csv_row()));
    let houses = fnv1a(c.houses().map(|h| h.to_csv_row()));
    let vehicles = fnv1a(c.vehicles().map(|v| v.to_csv_row()));
    let records = fnv1a(c.all_records().map(|r| r.to_csv_row()));
    assert_eq!(
        [people, houses, vehicles, records],
        [
            0x92642cb6ab8ae0de,
            0x53841a6d7cc3198b,
            0x5ca47160bcf08ca3,
            0x996b734ad3ba1f0d
        ]
    );
}
