//! The importer and router on real data: the central Helsinki extract.

use std::path::{Path, PathBuf};

use pingan_core::LatLng;
use pingan_roads::{Direction, HighwayClass, graph_from_file, load_or_build};

fn extract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/helsinki.osm.pbf")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pingan-roads-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[test]
fn imports_real_extract_with_sane_sizes() {
    let g = graph_from_file(&extract()).unwrap();
    let s = g.stats();
    println!("helsinki: {s:?}");
    assert!(s.nodes > 1_000 && s.nodes < 20_000, "{s:?}");
    assert!(s.segments > 1_000, "{s:?}");
    assert!(s.oneway_segments > 100, "{s:?}");
    assert!(g.ways().iter().any(|w| w.class == HighwayClass::Primary));
    assert!(
        g.ways()
            .iter()
            .any(|w| w.class == HighwayClass::Residential)
    );
    assert!(g.ways().iter().any(|w| w.direction == Direction::Forward));
    let b = g.bbox();
    assert!(
        b.min_lat > 60.16 && b.max_lat < 60.18 && b.min_lng > 24.93 && b.max_lng < 24.96,
        "{b:?}"
    );
    // Everything lies in central Helsinki.
    let center = LatLng::new(60.17, 24.94).unwrap();
    for n in 0..g.node_count() as u32 {
        assert!(g.node_position(n).distance_m(&center) < 5_000.0);
    }
    assert!(
        g.ways()
            .iter()
            .filter_map(|w| w.name.as_deref())
            .any(|n| n == "Mannerheimintie"),
        "Mannerheimintie is a main road of the extract"
    );
}

#[test]
fn routes_and_oneways_on_real_data_via_cache() {
    let dir = temp_dir("helsinki");
    let (router, first) = load_or_build(&extract(), &dir).unwrap();
    assert!(!first.cache_hit);
    assert!(first.cache_file.exists());
    let (cached, second) = load_or_build(&extract(), &dir).unwrap();
    assert!(second.cache_hit);
    assert_eq!(second.source_hash, first.source_hash);
    assert_eq!(cached.graph().stats(), router.graph().stats());

    // The hierarchy (loaded from cache) agrees with Dijkstra on random pairs.
    let g = cached.graph();
    let n = g.node_count() as u64;
    let mut rng = Rng(5);
    for _ in 0..1000 {
        let (a, b) = ((rng.next() % n) as u32, (rng.next() % n) as u32);
        let d = g.dijkstra(a, b);
        assert!(d.is_some());
        assert_eq!(cached.node_eta_ch(a, b), d, "{a} -> {b}");
    }

    // One-way segments: driving along costs at most the segment's weight;
    // driving against it must detour. Were one-ways ignored, both would be equal.
    let (mut total, mut detour) = (0, 0);
    for seg in g
        .segments()
        .iter()
        .filter(|s| g.way(s).direction == Direction::Forward)
    {
        let with = cached.node_eta_ch(seg.a, seg.b).unwrap();
        let against = cached.node_eta_ch(seg.b, seg.a).unwrap();
        assert!(with <= u64::from(seg.weight_ms));
        total += 1;
        if against > with {
            detour += 1;
        }
    }
    assert!(
        total > 100 && detour * 10 >= total * 9,
        "{detour} of {total}"
    );

    // Routes between real places: Central Railway Station to Senate Square.
    let station = LatLng::new(60.1710, 24.9414).unwrap();
    let senate_square = LatLng::new(60.1693, 24.9520).unwrap();
    let (from, to) = (cached.snap(station), cached.snap(senate_square));
    assert!(from.distance_m() < 150.0 && to.distance_m() < 150.0);
    let eta = cached.eta(&from, &to).unwrap();
    assert_eq!(cached.eta_points(station, senate_square), Some(eta));
    println!(
        "station → senate square: {eta:?}, snapped {:.0} m and {:.0} m from the points",
        from.distance_m(),
        to.distance_m()
    );
    let straight = from.point().distance_m(&to.point());
    assert!(
        eta.metres >= straight && eta.metres < 3.0 * straight,
        "{straight}"
    );
    assert!(eta.secs() > 20.0 && eta.secs() < 600.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cache_rebuilds_when_source_changes() {
    let dir = temp_dir("rebuild");
    let src = dir.join("city.osm.pbf");
    std::fs::copy(extract(), &src).unwrap();
    let cache = dir.join("cache");
    let (_, a) = load_or_build(&src, &cache).unwrap();
    assert!(!a.cache_hit);
    // Replace the source by a different city (OSM XML this time).
    let city = pingan_roads::demo::generate(&pingan_roads::DemoCityConfig {
        size_m: 3_000.0,
        ..Default::default()
    });
    std::fs::write(&src, &city.xml).unwrap();
    let (router, b) = load_or_build(&src, &cache).unwrap();
    assert!(!b.cache_hit);
    assert_ne!(a.source_hash, b.source_hash);
    assert!(router.streets().get("人民东路").is_some());
    // A corrupted cache file is rebuilt, not trusted.
    let mut bytes = std::fs::read(&b.cache_file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    std::fs::write(&b.cache_file, &bytes).unwrap();
    let (_, c) = load_or_build(&src, &cache).unwrap();
    assert!(!c.cache_hit);
    let (_, d) = load_or_build(&src, &cache).unwrap();
    assert!(d.cache_hit);
    std::fs::remove_dir_all(&dir).unwrap();
}
