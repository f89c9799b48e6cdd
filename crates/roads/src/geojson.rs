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
}

impl Default for GeoJsonOptions {
    fn default() -> Self {
        GeoJsonOptions {
            min_class: None,
            precision: 6,
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
