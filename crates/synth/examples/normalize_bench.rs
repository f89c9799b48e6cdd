//! Throughput of the core normalisers on realistic noisy input: generates N
//! community-visit and hotel records (default 200,000) and times each normaliser
//! over their fields (`cargo run --release -p pingan-synth --example normalize_bench -- 500000`).

use std::time::Instant;

use pingan_core::LatLng;
use pingan_core::normalize::address::parse_address_in;
use pingan_core::normalize::date::parse_date;
use pingan_core::normalize::id_number::IdNumber;
use pingan_core::normalize::mask::mask_id_number;
use pingan_core::normalize::name::normalize_name;
use pingan_core::normalize::phone::Phone;
use pingan_core::normalize::plate::Plate;
use pingan_synth::{SourceKind, SourceRecord, StreetRef, SynthCity, SynthConfig};

fn bench<T>(label: &str, inputs: &[&str], f: impl Fn(&str) -> T) {
    let t = Instant::now();
    let mut ok = 0usize;
    for s in inputs {
        let r = f(s);
        ok += usize::from(std::hint::black_box(&r) as *const T as usize != 0);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{label:<16} {:>9} inputs {secs:>7.3} s {:>8.2} µs/input {:>10.0} /s",
        inputs.len(),
        secs * 1e6 / inputs.len().max(1) as f64,
        ok as f64 / secs
    );
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let center = LatLng::new(30.6598, 104.0633).expect("valid");
    let roads = [
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
    ];
    let streets = roads
        .iter()
        .enumerate()
        .map(|(i, r)| StreetRef::new(*r, center.offset_m(i as f64 * 300.0, 0.0)))
        .collect();
    let city = SynthCity::new(SynthConfig::new(1, n / 2, "510104", "川A", streets)).expect("valid");
    let t = Instant::now();
    let records: Vec<SourceRecord> = city
        .records(SourceKind::CommunityVisit)
        .chain(city.records(SourceKind::HotelStay))
        .take(n as usize)
        .collect();
    println!(
        "generated {} records in {:.2} s",
        records.len(),
        t.elapsed().as_secs_f64()
    );
    let col = |f: fn(&SourceRecord) -> Option<&str>| -> Vec<&str> {
        records.iter().filter_map(f).collect()
    };
    let names = col(|r| r.name.as_deref());
    let ids = col(|r| r.id_number.as_deref());
    let phones = col(|r| r.phone.as_deref());
    let dates = col(|r| r.birth_date.as_deref());
    let addresses = col(|r| r.address.as_deref());
    let plates: Vec<String> = city
        .vehicles()
        .take(n as usize)
        .map(|v| v.plate.as_str().to_lowercase())
        .collect();
    let plates: Vec<&str> = plates.iter().map(String::as_str).collect();
    bench("name", &names, normalize_name);
    bench("id_number", &ids, IdNumber::parse);
    bench("phone", &phones, Phone::parse);
    bench("date", &dates, parse_date);
    bench("address", &addresses, |a| parse_address_in(a, "5101"));
    bench("plate", &plates, Plate::parse);
    bench("mask_id", &ids, mask_id_number);
}
