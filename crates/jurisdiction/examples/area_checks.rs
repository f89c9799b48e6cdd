//! Prints how long area validation and placement checks take on large and
//! adversarial inputs: `cargo run --release -p pingan-jurisdiction --example area_checks`.

use std::time::Instant;

use geo::MultiPolygon;
use pingan_jurisdiction::{
    Jurisdiction, OrgKind, OrgNode, Tolerance, area_to_geojson, parse_area, rect_polygon,
};

fn polygon(ring: &[(f64, f64)]) -> String {
    let coords: Vec<[f64; 2]> = ring.iter().map(|&(x, y)| [x, y]).collect();
    serde_json::json!({"type": "Polygon", "coordinates": [coords]}).to_string()
}

/// A closed circle-like ring of `n` vertices around (104.05, 30.05).
fn circle(n: usize, r: f64) -> Vec<(f64, f64)> {
    let mut ring: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            (104.05 + r * a.cos(), 30.05 + r * a.sin())
        })
        .collect();
    ring.push(ring[0]);
    ring
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    println!("{label:<58} {:>9.1} ms", t.elapsed().as_secs_f64() * 1e3);
    out
}

fn main() {
    let n = 200_000;
    let big = polygon(&circle(n, 0.04));
    let mp = time("valid 200k-vertex circle: parse_area", || parse_area(&big))
        .expect("a circle is valid");

    let mut sliver: Vec<(f64, f64)> = (0..=n / 2)
        .map(|i| (104.0 + 0.1 * i as f64 / (n / 2) as f64, 30.0))
        .collect();
    sliver.extend(
        (0..n / 2)
            .rev()
            .map(|i| (104.0 + 0.1 * i as f64 / (n / 2) as f64, 30.0)),
    );
    let e = time("200k-vertex zero-area sliver: parse_area (refused)", || {
        parse_area(&polygon(&sliver))
    });
    println!("  -> {}", e.unwrap_err());

    // A sawtooth turned 45°: every segment's box overlaps every other's.
    let teeth = n / 2;
    let step = 1.0 / (2 * teeth) as f64;
    let (c, s) = (
        std::f64::consts::FRAC_1_SQRT_2,
        std::f64::consts::FRAC_1_SQRT_2,
    );
    let mut saw: Vec<(f64, f64)> = (0..=2 * teeth)
        .map(|k| (if k % 2 == 0 { 0.0 } else { 1.0 }, k as f64 * step))
        .collect();
    saw.extend([(2.0, 1.0), (2.0, 0.0), (0.0, 0.0)]);
    let saw: Vec<(f64, f64)> = saw
        .iter()
        .map(|&(x, y)| {
            (
                104.0 + 0.05 * (x * c - y * s),
                30.0 + 0.05 * (x * s + y * c),
            )
        })
        .collect();
    let e = time("200k-vertex turned sawtooth: parse_area (refused)", || {
        parse_area(&polygon(&saw))
    });
    println!("  -> {}", e.unwrap_err());

    // Placement of the circle among 24 stations tiling a district.
    let mut nodes = vec![
        OrgNode {
            id: 1,
            parent_id: None,
            kind: OrgKind::City,
            code: "C".into(),
            name: "市局".into(),
            area: Some(MultiPolygon(vec![rect_polygon(30.0, 104.0, 30.2, 104.2)])),
        },
        OrgNode {
            id: 2,
            parent_id: Some(1),
            kind: OrgKind::District,
            code: "D".into(),
            name: "分局".into(),
            area: Some(MultiPolygon(vec![rect_polygon(30.0, 104.0, 30.2, 104.2)])),
        },
    ];
    for i in 0..24 {
        let (row, col) = ((i / 4) as f64, (i % 4) as f64);
        nodes.push(OrgNode {
            id: 10 + i,
            parent_id: Some(2),
            kind: OrgKind::Station,
            code: format!("S{i}"),
            name: format!("派出所{i}"),
            area: Some(MultiPolygon(vec![rect_polygon(
                30.0 + row * 0.2 / 6.0,
                104.0 + col * 0.05,
                30.0 + (row + 1.0) * 0.2 / 6.0,
                104.0 + (col + 1.0) * 0.05,
            )])),
        });
    }
    let j = Jurisdiction::new(nodes.clone());
    let r = time("placement of the 200k circle among 24 stations", || {
        j.check_placement(None, OrgKind::Station, Some(2), &mp, Tolerance::default())
    });
    println!("  -> {}", r.unwrap_err());
    let own = nodes[2].area.clone().unwrap();
    let r = time(
        "placement of a station's own rectangle (shared borders)",
        || {
            j.check_placement(
                Some(10),
                OrgKind::Station,
                Some(2),
                &own,
                Tolerance::default(),
            )
        },
    );
    assert_eq!(r, Ok(()));
    let text = area_to_geojson(&own);
    time("parse_area of a 5-vertex station area", || {
        parse_area(&text)
    })
    .unwrap();
}
