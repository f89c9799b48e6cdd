//! Generation throughput at benchmark scale: streams every row kind for N people
//! (default 1,000,000; `cargo run --release -p pingan-synth --example synth_bench -- 5000000`)
//! and prints rows per second and a digest of the output.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use pingan_core::LatLng;
use pingan_synth::{SourceKind, StreetRef, SynthCity, SynthConfig};

fn main() {
    let people: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let center = LatLng::new(30.6598, 104.0633).expect("valid");
    let names = [
        "人民南路二段",
        "春熙路",
        "红星路",
        "蜀都大道",
        "解放路",
        "建设路",
        "府青路",
        "玉林街",
    ];
    let streets: Vec<StreetRef> = (0..200)
        .map(|i| {
            let name = format!(
                "{}{}",
                names[i % names.len()],
                if i < names.len() {
                    String::new()
                } else {
                    format!("{}号线", i)
                }
            );
            let name = if i < names.len() {
                name
            } else {
                format!("新华{i}路")
            };
            StreetRef::new(
                name,
                center.offset_m(
                    (i / 15) as f64 * 500.0 - 3500.0,
                    (i % 15) as f64 * 500.0 - 3500.0,
                ),
            )
        })
        .collect();
    let city = SynthCity::new(SynthConfig::new(42, people, "510104", "川A", streets))
        .expect("valid config");

    let mut digest = DefaultHasher::new();
    let mut time = |label: &str, rows: &mut dyn Iterator<Item = String>| {
        let t = Instant::now();
        let mut n = 0u64;
        let mut bytes = 0usize;
        for r in rows {
            bytes += r.len() + 1;
            r.hash(&mut digest);
            n += 1;
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{label:<20} {n:>10} rows {:>8.1} MB {s:>7.2} s {:>10.0} rows/s",
            bytes as f64 / 1e6,
            n as f64 / s
        );
    };
    time("people", &mut city.people().map(|p| p.to_csv_row()));
    time("houses", &mut city.houses().map(|h| h.to_csv_row()));
    time("residences", &mut city.residences().map(|r| r.to_csv_row()));
    time("vehicles", &mut city.vehicles().map(|v| v.to_csv_row()));
    for kind in SourceKind::ALL {
        time(
            kind.name(),
            &mut city.records(kind).map(|r| r.to_source_csv_row()),
        );
    }
    println!("digest {:016x}", digest.finish());
}
