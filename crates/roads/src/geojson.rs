//! Road network export as a GeoJSON FeatureCollection of LineStrings, the web
//! console's base map. It is this module's job to produce a wire format, hence
//! `serde_json` here and nowhere else in the crate.

use serde_json::{Value, json};

use crate::graph::RoadGraph;
use crate::profile::{Direction, HighwayClass};

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoJsonOptions {
    /// Keep only classes at least this important (`Some(Tertiary)`: arterials
    /// and above, for a zoomed-out map); `None` keeps everything.
    pub min_class: Option<HighwayClass>,
    /// Decimal places of coordinates (6 ≈ 0.1 m).
    pub precision: u32,
    /// Douglas–Peucker tolerance in metres (0: keep every point).
    pub simplify_m: f64,
}

impl Default for GeoJsonOptions {
    fn default() -> Self {
        GeoJsonOptions {
            min_class: None,
            precision: 6,
            simplify_m: 0.0,
        }
    }
}

/// One Feature per run of consecutive segments of the same way. One-way roads
/// are drawn in their direction of travel (a `oneway=-1` way is reversed), so
/// `oneway: true` always means "in the order of the coordinates".
pub fn to_geojson(graph: &RoadGraph, options: &GeoJsonOptions) -> Value {
    let scale = 10f64.powi(options.precision.min(9) as i32);
    let round = |v: f64| (v * scale).round() / scale;
    let coords = graph.coords();
    let mut features = Vec::new();
    let mut run: Vec<[f64; 2]> = Vec::new();
    let mut run_way: Option<u32> = None;
    let mut last_b = u32::MAX;
    let mut flush = |way: Option<u32>, run: &mut Vec<[f64; 2]>| {
        let Some(w) = way else { return };
        if run.len() < 2 {
            run.clear();
            return;
        }
        let info = &graph.ways()[w as usize];
        if info.direction == Direction::Backward {
            run.reverse();
        }
        if options.simplify_m > 0.0 {
            *run = simplify(run, options.simplify_m);
        }
        let line: Vec<Value> = run
            .iter()
            .map(|c| json!([round(c[1]), round(c[0])]))
            .collect();
        features.push(json!({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line},
            "properties": {
                "name": info.display_name(),
                "highway": info.class.as_tag(),
                "oneway": info.direction.is_oneway(),
            }
        }));
        run.clear();
    };
    for s in graph.segments() {
        let info = graph.way(s);
        if options.min_class.is_some_and(|m| info.class > m) {
            continue;
        }
        if run_way != Some(s.way) || last_b != s.a {
            flush(run_way, &mut run);
            run_way = Some(s.way);
            run.push(coords[s.a as usize]);
        }
        run.push(coords[s.b as usize]);
        last_b = s.b;
    }
    flush(run_way, &mut run);
    json!({"type": "FeatureCollection", "features": features})
}

/// Douglas–Peucker on `[lat, lng]` points, distances in local metres. End
/// points always stay, so junctions shared between lines are kept.
fn simplify(points: &[[f64; 2]], tolerance_m: f64) -> Vec<[f64; 2]> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let ky = pingan_core::geo::EARTH_RADIUS_M.to_radians();
    let kx = ky * points[0][0].to_radians().cos();
    let xy: Vec<[f64; 2]> = points.iter().map(|p| [p[1] * kx, p[0] * ky]).collect();
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0, points.len() - 1)];
    while let Some((i, j)) = stack.pop() {
        let (a, b) = (xy[i], xy[j]);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = (dx * dx + dy * dy).sqrt();
        let mut far = (0.0, i);
        for (k, p) in xy.iter().enumerate().take(j).skip(i + 1) {
            let d = if len > 0.0 {
                ((p[0] - a[0]) * dy - (p[1] - a[1]) * dx).abs() / len
            } else {
                ((p[0] - a[0]).powi(2) + (p[1] - a[1]).powi(2)).sqrt()
            };
            if d > far.0 {
                far = (d, k);
            }
        }
        if far.0 > tolerance_m {
            keep[far.1] = true;
            stack.push((i, far.1));
            stack.push((far.1, j));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(p, _)| *p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplification_drops_near_collinear_points_only() {
        // 1e-5 degrees of latitude is about 1.1 m.
        let line = [
            [30.0, 104.0],
            [30.00001, 104.001],
            [30.0, 104.002],
            [30.001, 104.003],
        ];
        assert_eq!(simplify(&line, 5.0), vec![line[0], line[2], line[3]]);
        assert_eq!(simplify(&line, 0.5), line.to_vec());
        assert_eq!(simplify(&line[..2], 100.0), line[..2].to_vec());
    }
}
