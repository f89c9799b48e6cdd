//! Vehicles with unique, valid GA 36 plates of the city's prefix: 85 % ordinary
//! (five characters, up to two letters), 13 % small new-energy (`D`/`F` …), 2 %
//! large new-energy. Each kind's serial space is enumerated and a keyed permutation
//! picks a distinct serial per vehicle.

use pingan_core::normalize::date::{CivilDate, days_in_month};
use pingan_core::normalize::plate::{Plate, PlateKind};
use pingan_core::time::{civil_from_days, days_from_civil};

use crate::csv;
use crate::rng::{Permutation, Rng, key};
use crate::{SynthCity, SynthError};

pub(crate) const D_VEHICLE: u64 = 20;
pub(crate) const D_PLATE: u64 = 21;

/// GA 36 serial letters: A–Z without I and O.
const LETTERS: &[u8; 24] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const ALNUM: &[u8; 34] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Letter positions of the ordinary serial patterns.
const ORDINARY_PATTERNS: [&[usize]; 9] =
    [&[], &[0], &[1], &[2], &[3], &[4], &[0, 1], &[3, 4], &[0, 4]];

fn pattern_capacity(letters: &[usize]) -> u64 {
    24u64.pow(letters.len() as u32) * 10u64.pow(5 - letters.len() as u32)
}

fn ordinary_capacity() -> u64 {
    ORDINARY_PATTERNS.iter().map(|p| pattern_capacity(p)).sum()
}

const SMALL_NEV_CAPACITY: u64 = 2 * 34 * 10_000;
const LARGE_NEV_CAPACITY: u64 = 2 * 100_000;

/// Buckets of 100: 0..85 ordinary, 85..98 small new-energy, 98..100 large.
fn kind_and_index(v: u64) -> (PlateKind, u64) {
    let (block, b) = (v / 100, v % 100);
    match b {
        0..85 => (PlateKind::Ordinary, block * 85 + b),
        85..98 => (PlateKind::NewEnergySmall, block * 13 + b - 85),
        _ => (PlateKind::NewEnergyLarge, block * 2 + b - 98),
    }
}

/// Vehicles one prefix can hold with the fixed kind mix.
pub(crate) fn max_vehicles() -> u64 {
    (ordinary_capacity() / 85)
        .min(SMALL_NEV_CAPACITY / 13)
        .min(LARGE_NEV_CAPACITY / 2)
        * 100
}

pub(crate) fn check_capacity(vehicles: u64, prefix: &str) -> Result<(), SynthError> {
    let capacity = max_vehicles();
    if vehicles > capacity {
        return Err(SynthError::TooManyVehicles {
            vehicles,
            capacity,
            prefix: prefix.to_owned(),
        });
    }
    Ok(())
}

fn ordinary_serial(mut x: u64) -> String {
    for letters in ORDINARY_PATTERNS {
        let cap = pattern_capacity(letters);
        if x < cap {
            let mut out = [b'0'; 5];
            for pos in (0..5).rev() {
                if letters.contains(&pos) {
                    out[pos] = LETTERS[(x % 24) as usize];
                    x /= 24;
                } else {
                    out[pos] = b'0' + (x % 10) as u8;
                    x /= 10;
                }
            }
            return String::from_utf8_lossy(&out).into_owned();
        }
        x -= cap;
    }
    String::new()
}

fn serial(kind: PlateKind, x: u64) -> String {
    match kind {
        PlateKind::NewEnergySmall => {
            let df = if x.is_multiple_of(2) { 'D' } else { 'F' };
            let x = x / 2;
            format!("{df}{}{:04}", char::from(ALNUM[(x % 34) as usize]), x / 34)
        }
        PlateKind::NewEnergyLarge => {
            let df = if x.is_multiple_of(2) { 'D' } else { 'F' };
            format!("{:05}{df}", x / 2)
        }
        _ => ordinary_serial(x),
    }
}

const BRANDS: [&str; 16] = [
    "大众",
    "丰田",
    "本田",
    "日产",
    "别克",
    "吉利",
    "长安",
    "哈弗",
    "五菱",
    "奔驰",
    "宝马",
    "奥迪",
    "现代",
    "福特",
    "马自达",
    "雪佛兰",
];
const NEV_BRANDS: [&str; 8] = [
    "比亚迪",
    "特斯拉",
    "蔚来",
    "理想",
    "小鹏",
    "埃安",
    "极氪",
    "五菱",
];
const TRUCK_BRANDS: [&str; 4] = ["宇通", "金龙", "比亚迪", "中通"];
const COLOURS: [&str; 7] = ["白", "黑", "银", "灰", "红", "蓝", "棕"];

#[derive(Debug, Clone, PartialEq)]
pub struct Vehicle {
    pub id: u64,
    pub plate: Plate,
    pub brand: &'static str,
    pub colour: &'static str,
    /// Person id of the registered owner (an adult).
    pub owner: u64,
    pub registered: CivilDate,
}

impl Vehicle {
    pub const CSV_HEADER: &'static str = "vehicle_id,plate,kind,brand,colour,owner,registered";

    pub fn to_csv_row(&self) -> String {
        csv::row([
            Some(self.id.to_string().as_str()),
            Some(self.plate.as_str()),
            Some(format!("{:?}", self.plate.kind()).as_str()),
            Some(self.brand),
            Some(self.colour),
            Some(self.owner.to_string().as_str()),
            Some(self.registered.to_string().as_str()),
        ])
    }
}

impl SynthCity {
    /// Vehicle `v` (`v < vehicle_count()`).
    ///
    /// # Panics
    /// If `v >= vehicle_count()`, or (a bug) if a generated plate failed validation.
    pub fn vehicle(&self, v: u64) -> Vehicle {
        assert!(v < self.vehicle_count, "vehicle {v} out of range");
        let mut rng = Rng::for_entity(self.cfg.seed, D_VEHICLE, v);
        let (kind, idx) = kind_and_index(v);
        let capacity = match kind {
            PlateKind::NewEnergySmall => SMALL_NEV_CAPACITY,
            PlateKind::NewEnergyLarge => LARGE_NEV_CAPACITY,
            _ => ordinary_capacity(),
        };
        let x = Permutation::new(capacity, key(self.cfg.seed, D_PLATE, kind as u64)).apply(idx);
        let text = format!("{}{}", self.plate.prefix(), serial(kind, x));
        let plate = Plate::parse(&text).expect("generated plates are valid");
        let brand = match kind {
            PlateKind::NewEnergySmall => *rng.pick(&NEV_BRANDS),
            PlateKind::NewEnergyLarge => *rng.pick(&TRUCK_BRANDS),
            _ => *rng.pick(&BRANDS),
        };
        let colour = *rng.pick(&COLOURS);
        let owner = self.random_adult(&mut rng);
        let today = self.cfg.today.days_since_epoch();
        let birth = self.birth_of(owner);
        let adult_day = days_from_civil(
            birth.y + 18,
            birth.m,
            birth.d.min(days_in_month(birth.y + 18, birth.m)),
        );
        let earliest = adult_day.max(today - 15 * 365).min(today);
        let day = earliest + rng.below((today - earliest) as u64 + 1) as i64;
        let (y, m, d) = civil_from_days(day);
        Vehicle {
            id: v,
            plate,
            brand,
            colour,
            owner,
            registered: CivilDate { y, m, d },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_spaces() {
        assert_eq!(ordinary_serial(0), "00000");
        assert_eq!(ordinary_serial(99_999), "99999");
        assert_eq!(ordinary_serial(100_000), "A0000");
        assert_eq!(serial(PlateKind::NewEnergySmall, 0), "D00000");
        assert_eq!(serial(PlateKind::NewEnergyLarge, 3), "00001F");
        assert_eq!(ordinary_capacity(), 100_000 + 5 * 240_000 + 3 * 576_000);
        assert_eq!(kind_and_index(0), (PlateKind::Ordinary, 0));
        assert_eq!(kind_and_index(185), (PlateKind::NewEnergySmall, 13));
        assert_eq!(kind_and_index(299), (PlateKind::NewEnergyLarge, 5));
    }

    #[test]
    fn every_serial_of_every_kind_is_a_valid_plate() {
        for x in (0..ordinary_capacity()).step_by(997) {
            let p = Plate::parse(&format!("川A{}", ordinary_serial(x))).expect("valid");
            assert_eq!(p.kind(), PlateKind::Ordinary);
        }
        for x in (0..SMALL_NEV_CAPACITY).step_by(101) {
            let p = Plate::parse(&format!("川A{}", serial(PlateKind::NewEnergySmall, x)))
                .expect("valid");
            assert_eq!(p.kind(), PlateKind::NewEnergySmall);
        }
        for x in (0..LARGE_NEV_CAPACITY).step_by(101) {
            let p = Plate::parse(&format!("川A{}", serial(PlateKind::NewEnergyLarge, x)))
                .expect("valid");
            assert_eq!(p.kind(), PlateKind::NewEnergyLarge);
        }
    }
}
