//! Recommendation among 2,000 on-duty units with a straight-line `TravelTimes`
//! (the server swaps in the road router). Prints p50/p99 of single calls in
//! addition to criterion's report.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use pingan_core::LatLng;
use pingan_dispatch::recommend::{
    CandidateUnit, RecommendConfig, RecommendRequest, StraightLineTravel, recommend,
};
use pingan_dispatch::sim::SimRng;
use pingan_dispatch::{Priority, Taxonomy, UnitKind, UnitStatus};

fn fleet(n: usize, rng: &mut SimRng) -> Vec<CandidateUnit> {
    let centre = LatLng::new(30.62, 104.07).expect("valid");
    (0..n)
        .map(|i| {
            let kind = UnitKind::ALL[i % UnitKind::ALL.len()];
            let status = match rng.below(10) {
                0..=5 => UnitStatus::Available,
                6 => UnitStatus::EnRoute,
                7 => UnitStatus::OnScene,
                8 => UnitStatus::Busy,
                _ => UnitStatus::OffDuty,
            };
            CandidateUnit {
                unit_id: format!("u{i:05}"),
                kind,
                status,
                capabilities: kind.default_capabilities(),
                position: centre.offset_m(
                    (rng.next_f64() - 0.5) * 30_000.0,
                    (rng.next_f64() - 0.5) * 30_000.0,
                ),
                position_age_s: rng.below(600) as u32,
                current_incident_priority: (status == UnitStatus::EnRoute).then_some(Priority::P3),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let taxonomy = Taxonomy::builtin();
    let types = [
        "criminal.theft",
        "traffic.accident_injury",
        "noise",
        "dispute.family",
    ];
    let mut rng = SimRng::new(2026);
    let units = fleet(2_000, &mut rng);
    let travel = StraightLineTravel::default();
    let config = RecommendConfig::default();
    let centre = LatLng::new(30.62, 104.07).expect("valid");
    let points: Vec<LatLng> = (0..1_000)
        .map(|_| {
            centre.offset_m(
                (rng.next_f64() - 0.5) * 25_000.0,
                (rng.next_f64() - 0.5) * 25_000.0,
            )
        })
        .collect();

    let mut samples = Vec::with_capacity(20_000);
    for i in 0..20_000 {
        let ty = taxonomy.get(types[i % types.len()]).expect("built-in type");
        let req = RecommendRequest {
            point: points[i % points.len()],
            incident_type: ty,
            priority: if i % 3 == 0 {
                Priority::P1
            } else {
                Priority::P3
            },
        };
        let t = Instant::now();
        black_box(recommend(&req, &units, &travel, &config));
        samples.push(t.elapsed().as_nanos() as u64);
    }
    samples.sort_unstable();
    let pct =
        |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "recommend among 2000 units: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({} calls)",
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0,
        *samples.last().expect("non-empty") as f64 / 1000.0,
        samples.len()
    );

    let ty = taxonomy.get("criminal.theft").expect("built-in type");
    let req = RecommendRequest {
        point: centre,
        incident_type: ty,
        priority: Priority::P2,
    };
    c.bench_function("recommend_2000_units", |b| {
        b.iter(|| recommend(black_box(&req), black_box(&units), &travel, &config))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
