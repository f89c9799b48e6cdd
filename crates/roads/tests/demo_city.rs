//! The demo city end to end: generated OSM XML → the same importer as real
//! extracts → routing checked against Dijkstra, ETAs, streets, GeoJSON.

use std::sync::OnceLock;

use pingan_core::LatLng;
use pingan_roads::demo::{self, DemoCityConfig};
use pingan_roads::{
    Direction, EtaStrategy, GeoJsonOptions, HighwayClass, Router, Snap, router_from_osm_xml,
    to_geojson,
};

fn city() -> &'static (demo::DemoCity, Router) {
    static CITY: OnceLock<(demo::DemoCity, Router)> = OnceLock::new();
    CITY.get_or_init(|| {
        let city = demo::generate(&DemoCityConfig::default());
        let router = router_from_osm_xml(city.xml.as_bytes()).unwrap();
        (city, router)
    })
}

/// Deterministic test randomness (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_point(rng: &mut Rng) -> LatLng {
    let b = DemoCityConfig::default().bbox();
    LatLng::new(
        b.min_lat + rng.unit() * (b.max_lat - b.min_lat),
        b.min_lng + rng.unit() * (b.max_lng - b.min_lng),
    )
    .unwrap()
}

#[test]
fn router_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
}

#[test]
fn graph_has_city_scale_and_profile_applied() {
    let (city, router) = city();
    let g = router.graph();
    let s = g.stats();
    println!(
        "demo city: {} osm nodes, {} ways; graph {s:?}",
        city.nodes, city.ways
    );
    assert!(s.nodes > 20_000 && s.nodes < 80_000, "{s:?}");
    assert!(s.segments > s.nodes, "{s:?}");
    assert!(s.oneway_segments > 300, "{s:?}");
    // The pedestrian street and private compound lanes are not in the graph.
    assert!(router.streets().get("春熙路步行街").is_none());
    assert!(city.xml.contains("春熙路步行街"));
    assert!(city.xml.contains("v=\"private\""));
    let private_spurs = city.xml.matches("v=\"private\"").count();
    let service_ways = g
        .ways()
        .iter()
        .filter(|w| w.class == HighwayClass::Service)
        .count();
    let written_service = city.xml.matches("v=\"service\"").count();
    assert_eq!(service_ways, written_service - private_spurs);
    // The expressway is one-way by implication and kept (two carriageways).
    let motorway: Vec<_> = g
        .ways()
        .iter()
        .filter(|w| w.class == HighwayClass::Motorway)
        .collect();
    assert_eq!(motorway.len(), 2);
    assert!(motorway.iter().all(|w| w.direction == Direction::Forward));
    // Couplets tagged oneway=-1 import as backward.
    assert!(g.ways().iter().any(|w| w.direction == Direction::Backward));
    // The network fills the configured square.
    let (want, got) = (DemoCityConfig::default().bbox(), g.bbox());
    for (w, h) in [
        (want.min_lat, got.min_lat),
        (want.max_lat, got.max_lat),
        (want.min_lng, got.min_lng),
        (want.max_lng, got.max_lng),
    ] {
        assert!((w - h).abs() < 1e-4, "{want:?} {got:?}");
    }
    // Every point of the city is near a road.
    let mut rng = Rng(1);
    for _ in 0..500 {
        let snap = router.snap(random_point(&mut rng));
        // Streets are 250 m apart; a missing piece leaves at most a 500 m gap.
        assert!(snap.distance_m() < 260.0, "{}", snap.distance_m());
    }
}

#[test]
fn contraction_hierarchy_matches_dijkstra_on_1000_node_pairs() {
    let (_, router) = city();
    let n = router.graph().node_count() as u64;
    let mut rng = Rng(42);
    for _ in 0..1000 {
        let (a, b) = ((rng.next() % n) as u32, (rng.next() % n) as u32);
        let ch = router.node_eta_ch(a, b);
        let dj = router.graph().dijkstra(a, b);
        assert!(dj.is_some(), "the kept component is strongly connected");
        assert_eq!(ch, dj, "{a} -> {b}");
    }
}

#[test]
fn contraction_hierarchy_matches_dijkstra_on_1000_snapped_pairs() {
    let (_, router) = city();
    let mut rng = Rng(7);
    for _ in 0..1000 {
        let from = router.snap(random_point(&mut rng));
        let to = router.snap(random_point(&mut rng));
        let eta = router.eta(&from, &to).unwrap();
        assert_eq!(Some(eta.millis), router.eta_dijkstra(&from, &to));
        // Roads are never shorter than the straight line between the snaps.
        assert!(eta.metres + 1e-6 >= from.point().distance_m(&to.point()) * 0.999);
    }
}

#[test]
fn oneway_couplet_is_respected() {
    let (_, router) = city();
    let g = router.graph();
    // A one-way residential segment: along it is one hop, against it a detour.
    let seg = g
        .segments()
        .iter()
        .find(|s| {
            g.way(s).class == HighwayClass::Residential && g.way(s).direction == Direction::Forward
        })
        .unwrap();
    let with = router.node_eta_ch(seg.a, seg.b).unwrap();
    let against = router.node_eta_ch(seg.b, seg.a).unwrap();
    assert_eq!(with, u64::from(seg.weight_ms));
    assert!(against > with, "{with} {against}");
    // Snapped: from a quarter to three quarters along the segment, and back.
    let p = |t: f64| {
        let (a, b) = (g.node_position(seg.a), g.node_position(seg.b));
        LatLng::new(
            a.lat() + (b.lat() - a.lat()) * t,
            a.lng() + (b.lng() - a.lng()) * t,
        )
        .unwrap()
    };
    let (q1, q3) = (router.snap(p(0.25)), router.snap(p(0.75)));
    let fwd = router.eta(&q1, &q3).unwrap();
    assert!(
        fwd.millis.abs_diff(u64::from(seg.weight_ms) / 2) <= 1,
        "{fwd:?}"
    );
    assert!((fwd.metres - seg.length_m / 2.0).abs() < 0.5);
    let back = router.eta(&q3, &q1).unwrap();
    assert!(back.millis > fwd.millis + 10_000, "{back:?}");
    assert_eq!(router.eta_dijkstra(&q3, &q1), Some(back.millis));
    let route = router.route(&q3, &q1).unwrap();
    assert_eq!(route.eta, back);
    assert_eq!(route.path.first(), Some(&q3.point()));
    assert_eq!(route.path.last(), Some(&q1.point()));
    assert_eq!(route.times_ms.len(), route.path.len());
    assert_eq!(route.times_ms.last(), Some(&back.millis));
    assert!(route.times_ms.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn routes_carry_timing_for_moving_units() {
    let (_, router) = city();
    let mut rng = Rng(3);
    for _ in 0..50 {
        let from = router.snap(random_point(&mut rng));
        let to = router.snap(random_point(&mut rng));
        let route = router.route(&from, &to).unwrap();
        assert_eq!(route.eta, router.eta(&from, &to).unwrap());
        assert_eq!(route.times_ms.len(), route.path.len());
        assert_eq!(route.times_ms[0], 0);
        assert_eq!(*route.times_ms.last().unwrap(), route.eta.millis);
        assert!(route.times_ms.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(route.position_at(0), from.point());
        assert_eq!(route.position_at(route.eta.millis + 1_000), to.point());
        // Half-way in time, the vehicle is on a road.
        let mid = route.position_at(route.eta.millis / 2);
        assert!(router.snap(mid).distance_m() < 0.5);
    }
}

#[test]
fn many_to_one_etas_agree_with_single_queries() {
    let (_, router) = city();
    let mut rng = Rng(99);
    let units: Vec<Snap> = (0..300)
        .map(|_| router.snap(random_point(&mut rng)))
        .collect();
    let incident = router.snap(random_point(&mut rng));
    let all = router.eta_many(&units, &incident, None);
    for (u, eta) in units.iter().zip(&all) {
        let single = router.eta(u, &incident).unwrap();
        let many = eta.unwrap();
        assert_eq!(many.millis, single.millis);
        // Equal-time paths may differ in length; metres stay plausible.
        assert!(many.metres >= u.point().distance_m(&incident.point()) * 0.999);
    }
    let bounded = router.eta_many(&units, &incident, Some(300_000));
    for (b, a) in bounded.iter().zip(&all) {
        let a = a.unwrap();
        assert_eq!(
            b.map(|e| e.millis),
            (a.millis <= 300_000).then_some(a.millis)
        );
    }
    let mut sorted: Vec<(u64, usize)> = all
        .iter()
        .enumerate()
        .map(|(i, e)| (e.unwrap().millis, i))
        .collect();
    sorted.sort();
    for k in [1, 5, 20] {
        let rd = router.nearest_by_eta_with(&units, &incident, k, EtaStrategy::ReverseDijkstra);
        let ch = router.nearest_by_eta_with(&units, &incident, k, EtaStrategy::ChPruned);
        let want: Vec<u64> = sorted[..k].iter().map(|s| s.0).collect();
        assert_eq!(rd.iter().map(|r| r.1.millis).collect::<Vec<_>>(), want);
        assert_eq!(ch.iter().map(|r| r.1.millis).collect::<Vec<_>>(), want);
        for (i, e) in rd.iter().chain(&ch) {
            assert_eq!(all[*i].unwrap().millis, e.millis);
        }
    }
    // Within a slack: exactly the sources no slower than the k-th plus the
    // slack, best first, with the full search's ETAs.
    for (k, slack) in [(1, 0), (5, 0), (5, 60_000), (20, 15_000), (300, 0)] {
        let within = router.nearest_by_eta_within(&units, &incident, k, slack);
        let kth = sorted[k - 1].0;
        let want: Vec<u64> = sorted
            .iter()
            .map(|s| s.0)
            .filter(|&ms| ms <= kth + slack)
            .collect();
        assert_eq!(
            within.iter().map(|r| r.1.millis).collect::<Vec<_>>(),
            want,
            "k={k} slack={slack}"
        );
        for (i, e) in &within {
            assert_eq!(all[*i].unwrap().millis, e.millis);
        }
    }
    assert_eq!(router.nearest_by_eta(&units, &incident, 0), vec![]);
    assert_eq!(router.nearest_by_eta(&[], &incident, 3), vec![]);
    assert_eq!(
        router.nearest_by_eta_within(&[], &incident, 3, 1000),
        vec![]
    );
}

#[test]
fn streets_are_found_by_name_and_address() {
    let (city, router) = city();
    let streets = router.streets();
    assert!(streets.streets().len() > 120, "{}", streets.streets().len());
    let renmin = streets.get("人民东路").unwrap();
    assert_eq!(renmin.class, HighwayClass::Primary);
    // 人民东路 runs east from the centre along its latitude, 7.5 km long.
    let center = DemoCityConfig::default().center;
    assert!(
        (renmin.length_m - 7_500.0).abs() < 5.0,
        "{}",
        renmin.length_m
    );
    assert!((renmin.point.lat() - center.lat()).abs() < 1e-6);
    assert!(renmin.point.lng() > center.lng());
    assert!((renmin.point.distance_m(&center) - 3_750.0).abs() < 5.0);
    let hits = streets.find("人民东路", 5);
    assert_eq!(hits[0].name, "人民东路");
    assert_eq!(hits[0].score, 1.0);
    let hits = streets.find("人民", 5);
    let names: Vec<&str> = hits.iter().map(|h| h.name.as_str()).collect();
    assert!(
        names.contains(&"人民东路") && names.contains(&"人民西路"),
        "{names:?}"
    );
    let hits = streets.find("四川省成都市人民西路128号", 3);
    assert_eq!(hits[0].name, "人民西路");
    let hits = streets.find("一环路", 10);
    assert_eq!(hits.len(), 4);
    assert!(streets.find("不存在的地方", 5).is_empty());
    // Every street's sample point is on the road network.
    for st in streets.streets() {
        assert!(router.snap(st.point).distance_m() < 0.5, "{}", st.name);
        assert!(city.names.contains(&st.name), "{}", st.name);
    }
}

#[test]
fn geojson_export_by_class() {
    let (_, router) = city();
    let all = to_geojson(router.graph(), &GeoJsonOptions::default());
    let features = all["features"].as_array().unwrap();
    assert!(features.len() > 1_000);
    let f = &features[0];
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["geometry"]["type"], "LineString");
    assert!(f["properties"]["highway"].is_string());
    assert!(f["properties"]["oneway"].is_boolean());
    let main = to_geojson(
        router.graph(),
        &GeoJsonOptions {
            min_class: Some(HighwayClass::Secondary),
            precision: 5,
            simplify_m: 0.0,
        },
    );
    let main_features = main["features"].as_array().unwrap();
    assert!(main_features.len() < features.len() / 5);
    for f in main_features {
        let hw = f["properties"]["highway"].as_str().unwrap();
        assert!(
            HighwayClass::from_tag(hw).unwrap() <= HighwayClass::Secondary,
            "{hw}"
        );
    }
    let points = |v: &serde_json::Value| -> usize {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["geometry"]["coordinates"].as_array().unwrap().len())
            .sum()
    };
    let simplified = to_geojson(
        router.graph(),
        &GeoJsonOptions {
            simplify_m: 5.0,
            ..GeoJsonOptions::default()
        },
    );
    assert_eq!(
        simplified["features"].as_array().unwrap().len(),
        features.len()
    );
    assert!(
        points(&simplified) * 3 < points(&all),
        "{} {}",
        points(&simplified),
        points(&all)
    );
    // Coordinates are [lng, lat] inside the city.
    let b = DemoCityConfig::default().bbox().expand_m(2.0);
    let c = &main_features[0]["geometry"]["coordinates"][0];
    let (lng, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    assert!(b.contains(&LatLng::new(lat, lng).unwrap()));
}

#[test]
fn demo_city_loads_through_file_import_and_cache() {
    let dir = std::env::temp_dir().join(format!("pingan-roads-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = DemoCityConfig {
        seed: 11,
        size_m: 4_000.0,
        ..DemoCityConfig::default()
    };
    let (router, city, first) = demo::load_or_build_demo(&config, &dir).unwrap();
    assert!(!first.cache_hit);
    let (again, _, second) = demo::load_or_build_demo(&config, &dir).unwrap();
    assert!(second.cache_hit);
    assert_eq!(router.graph().stats(), again.graph().stats());
    // The file import gives the same graph as the in-memory import.
    let direct = router_from_osm_xml(city.xml.as_bytes()).unwrap();
    assert_eq!(direct.graph().segments(), again.graph().segments());
    assert!(again.streets().get("人民西路").is_some());
    assert!(
        config
            .bbox()
            .contains(&again.streets().get("解放北路").unwrap().point)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
