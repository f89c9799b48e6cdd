//! End-to-end data-hub benchmark, printing its numbers: synthetic multi-source CSV
//! exports (pingan-synth, with ground truth) → import + normalise + resolve + index
//! → pairwise precision/recall/F1 of entity resolution → search p50/p99 for names,
//! addresses and identifiers → peak RSS.
//!
//! Size knob: `FUSION_BENCH_PEOPLE` (default 20000). Run with
//! `cargo bench -p pingan-fusion --bench fusion`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use pingan_core::{LatLng, Timestamp};
use pingan_fusion::hub::Hub;
use pingan_fusion::ingest::{ImportOptions, import};
use pingan_fusion::mapping::Mapping;
use pingan_fusion::read::FileFormat;
use pingan_fusion::resolve::Resolver;
use pingan_fusion::search::{SearchIndex, SearchQuery};
use pingan_synth::{SourceKind, StreetRef, SynthCity, SynthConfig};

fn mapping_for(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::HouseholdRegistry => {
            include_str!("../examples/mappings/household_registry.toml")
        }
        SourceKind::HotelStay => include_str!("../examples/mappings/hotel_stay.toml"),
        SourceKind::NetCafe => include_str!("../examples/mappings/net_cafe.toml"),
        SourceKind::VehicleRegistry => include_str!("../examples/mappings/vehicle_registry.toml"),
        SourceKind::CommunityVisit => include_str!("../examples/mappings/community_visit.toml"),
    }
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// A `/proc/self/status` memory line in MiB (0 where unavailable).
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let people: u64 = std::env::var("FUSION_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let center = LatLng::new(30.657, 104.066).expect("valid centre");
    let roads = [
        "红星路",
        "人民南路",
        "春熙路",
        "蜀都大道",
        "解放路",
        "建设路",
        "府青路",
        "玉林街",
        "科华北路",
        "东大街",
    ];
    let streets: Vec<StreetRef> = (0..120)
        .map(|i| {
            let name = if i < roads.len() {
                roads[i].to_owned()
            } else {
                format!("新华{i}路")
            };
            StreetRef::new(
                name,
                center.offset_m(
                    (i / 12) as f64 * 400.0 - 2000.0,
                    (i % 12) as f64 * 400.0 - 2000.0,
                ),
            )
        })
        .collect();
    let city = SynthCity::new(SynthConfig::new(42, people, "510104", "川A", streets))
        .expect("valid synth config");
    let dir = std::env::temp_dir().join(format!("pingan-fusion-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // 1. Departmental exports as files, with the truth column kept aside.
    let t = Instant::now();
    let mut files = Vec::new();
    let mut truth: HashMap<(String, u64), u64> = HashMap::new();
    let mut total_rows = 0u64;
    for kind in SourceKind::ALL {
        let name = format!("{}.csv", kind.name());
        let path = dir.join(&name);
        let mut w = BufWriter::new(File::create(&path).expect("create csv"));
        writeln!(w, "{}", kind.csv_header()).expect("write");
        for (i, r) in city.records(kind).enumerate() {
            writeln!(w, "{}", r.to_source_csv_row()).expect("write");
            truth.insert((name.clone(), i as u64 + 2), r.truth_person);
            total_rows += 1;
        }
        w.flush().expect("flush");
        files.push((kind, name, path));
    }
    println!(
        "generated {total_rows} records of {people} people in {} sources: {:.2} s",
        files.len(),
        t.elapsed().as_secs_f64()
    );

    println!("RSS after generation {:.0} MiB", status_mib("VmRSS:"));

    // 2. Import + normalise + resolve + index (FUSION_BENCH_NO_INDEX=1 skips the index).
    let index = if std::env::var_os("FUSION_BENCH_NO_INDEX").is_some() {
        None
    } else {
        Some(SearchIndex::open_or_create(&dir.join("index")).expect("index"))
    };
    // Lean: records are not kept in memory (a server keeps them in SQL).
    let lean = std::env::var_os("FUSION_BENCH_LEAN").is_some();
    let mut hub = if lean {
        Hub::lean(Resolver::default(), index)
    } else {
        Hub::new(Resolver::default(), index)
    };
    let t_all = Instant::now();
    for (kind, name, path) in &files {
        let m = Mapping::from_toml(mapping_for(*kind)).expect("mapping");
        let opts = ImportOptions {
            batch_size: 5000,
            ..ImportOptions::new(
                FileFormat::Csv,
                Timestamp::from_civil_utc(2026, 11, 24, 0, 0, 0),
            )
        };
        let t = Instant::now();
        let f = File::open(path).expect("open");
        let cp = import(&m, name, f, &opts, None, &mut hub, &mut |_| {}).expect("import");
        let s = t.elapsed().as_secs_f64();
        println!(
            "  {:<20} read {:>9} accepted {:>9} rejected {:>7} merged {:>9}  {:>7.2} s {:>9.0} rec/s",
            kind.name(),
            cp.counts.read,
            cp.counts.accepted,
            cp.counts.rejected,
            cp.counts.merged,
            s,
            cp.counts.read as f64 / s
        );
    }
    hub.flush().expect("commit index");
    let secs = t_all.elapsed().as_secs_f64();
    println!(
        "RSS after import {:.0} MiB (anon {:.0} MiB, file-backed {:.0} MiB)",
        status_mib("VmRSS:"),
        status_mib("RssAnon:"),
        status_mib("RssFile:")
    );
    println!(
        "end-to-end import+normalise+resolve+index: {} records in {secs:.2} s = {:.0} records/s; {} person entities",
        hub.record_count(),
        hub.record_count() as f64 / secs,
        hub.resolver().person_count()
    );
    let mut reasons: HashMap<String, u64> = HashMap::new();
    for r in hub.rejections() {
        let key = r.reason.split(':').next().unwrap_or("").to_owned();
        *reasons
            .entry(format!("{} {}", r.field.as_deref().unwrap_or("-"), key))
            .or_default() += 1;
    }
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (r, n) in reasons.iter().take(6) {
        println!("  rejected {n:>7} × {r}");
    }

    // 3. Resolution quality, pairwise over accepted person records.
    let mut pred_truth: HashMap<(u32, u64), u64> = HashMap::new();
    let mut pred: HashMap<u32, u64> = HashMap::new();
    let mut gold: HashMap<u64, u64> = HashMap::new();
    for i in 0..hub.record_count() {
        let rid = pingan_fusion::resolve::RecordId(i as u32);
        let Some(e) = hub.resolver().person_of(rid) else {
            continue;
        };
        let Some((file, line)) = hub.location(rid) else {
            continue;
        };
        let Some(&t) = truth.get(&(file.to_owned(), line)) else {
            continue;
        };
        *pred_truth.entry((e.0, t)).or_default() += 1;
        *pred.entry(e.0).or_default() += 1;
        *gold.entry(t).or_default() += 1;
    }
    let tp: u64 = pred_truth.values().map(|n| pairs(*n)).sum();
    let pp: u64 = pred.values().map(|n| pairs(*n)).sum();
    let gp: u64 = gold.values().map(|n| pairs(*n)).sum();
    let precision = tp as f64 / pp.max(1) as f64;
    let recall = tp as f64 / gp.max(1) as f64;
    let f1 = 2.0 * precision * recall / (precision + recall).max(f64::MIN_POSITIVE);
    println!(
        "resolution (pairwise): precision {precision:.4} recall {recall:.4} F1 {f1:.4}  ({} predicted entities, {} true people, {} possible matches queued)",
        pred.len(),
        gold.len(),
        hub.resolver().possible_matches().len()
    );

    // 4. Search latency.
    let Some(search) = hub.search() else {
        println!("peak RSS {:.0} MiB", peak_rss_mib());
        return;
    };
    let mut queries: Vec<(&str, String)> = Vec::new();
    let step = (people as usize / 400).max(1);
    for kind in [SourceKind::HouseholdRegistry, SourceKind::VehicleRegistry] {
        for r in city.records(kind).step_by(step) {
            if let Some(n) = r.name {
                queries.push(("name", n));
            }
            if let Some(road) = r
                .address
                .as_deref()
                .and_then(|a| pingan_core::normalize::address::parse_address(a).road)
            {
                queries.push(("address", road));
            }
            if let Some(i) = r.id_number {
                queries.push(("id_number", i));
            }
            if let Some(p) = r.phone {
                queries.push(("phone", p));
            }
            if let Some(p) = r.plate {
                queries.push(("plate", p));
            }
        }
    }
    let mut by_kind: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut empty: HashMap<&str, u32> = HashMap::new();
    let mut all = Vec::new();
    for (kind, q) in &queries {
        let t = Instant::now();
        let res = search
            .search(&SearchQuery {
                text: q.clone(),
                limit: 20,
                ..SearchQuery::default()
            })
            .expect("search");
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if res.total == 0 {
            *empty.entry(*kind).or_default() += 1;
        }
        by_kind.entry(kind).or_default().push(ms);
        all.push(ms);
    }
    let mut kinds: Vec<_> = by_kind.into_iter().collect();
    kinds.sort_by(|a, b| a.0.cmp(b.0));
    for (k, mut v) in kinds {
        v.sort_by(f64::total_cmp);
        println!(
            "search {k:<10} n={:>4} p50 {:.3} ms p99 {:.3} ms ({} without hits)",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            empty.get(k).copied().unwrap_or(0)
        );
    }
    all.sort_by(f64::total_cmp);
    println!(
        "search all        n={:>4} p50 {:.3} ms p99 {:.3} ms",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    drop(hub);
    let _ = std::fs::remove_dir_all(&dir);
}
