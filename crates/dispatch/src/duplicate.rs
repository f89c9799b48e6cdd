//! Duplicate-call detection: several people often call about one event (a fire,
//! a crash). A new call is compared with recent open incidents; those within a
//! radius and a time window are suggested for merging, best match first.

use pingan_core::{LatLng, Timestamp};

use crate::taxonomy::Taxonomy;

/// The new call as far as matching is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSighting {
    pub at: Timestamp,
    pub point: LatLng,
    /// Suggested or confirmed type code; `None` while unclassified.
    pub type_code: Option<String>,
}

/// An open incident that a call might belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenIncident {
    pub incident_id: String,
    pub at: Timestamp,
    pub point: LatLng,
    pub type_code: Option<String>,
}

/// Matching window and weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicateConfig {
    pub radius_m: f64,
    pub window_s: i64,
    /// Weights of closeness in space, closeness in time and type similarity;
    /// they need not sum to 1 (the score is normalised by their sum).
    pub weight_distance: f64,
    pub weight_time: f64,
    pub weight_type: f64,
    pub max_results: usize,
}

impl Default for DuplicateConfig {
    fn default() -> Self {
        DuplicateConfig {
            radius_m: 300.0,
            window_s: 30 * 60,
            weight_distance: 0.45,
            weight_time: 0.25,
            weight_type: 0.30,
            max_results: 5,
        }
    }
}

/// A suggested merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeSuggestion {
    pub incident_id: String,
    pub distance_m: f64,
    /// Seconds between the incident and the call (absolute).
    pub dt_s: i64,
    /// 1 same type, 0.6 same top-level category, 0.5 unknown, 0.1 different.
    pub type_similarity: f64,
    /// 0–1, higher is a more likely duplicate.
    pub score: f64,
}

/// Type similarity via the taxonomy tree.
pub fn type_similarity(taxonomy: &Taxonomy, a: Option<&str>, b: Option<&str>) -> f64 {
    match (a, b) {
        (Some(a), Some(b)) if a == b => 1.0,
        (Some(a), Some(b)) => {
            let ra = taxonomy.root_of(a).map(|t| t.code());
            let rb = taxonomy.root_of(b).map(|t| t.code());
            if ra.is_some() && ra == rb { 0.6 } else { 0.1 }
        }
        // An unclassified side neither supports nor contradicts the match.
        _ => 0.5,
    }
}

/// Incidents within `radius_m` and `window_s` of the call, ranked by score
/// (ties by distance, then id, for determinism).
pub fn suggest_merges(
    call: &CallSighting,
    open: &[OpenIncident],
    taxonomy: &Taxonomy,
    config: &DuplicateConfig,
) -> Vec<MergeSuggestion> {
    let wsum = (config.weight_distance + config.weight_time + config.weight_type).max(f64::EPSILON);
    let mut out: Vec<MergeSuggestion> = open
        .iter()
        .filter_map(|inc| {
            let distance_m = call.point.distance_m(&inc.point);
            let dt_s = (call.at.millis() - inc.at.millis()).abs() / 1000;
            if distance_m > config.radius_m || dt_s > config.window_s {
                return None;
            }
            let ts = type_similarity(
                taxonomy,
                call.type_code.as_deref(),
                inc.type_code.as_deref(),
            );
            let near = 1.0 - distance_m / config.radius_m.max(f64::EPSILON);
            let recent = 1.0 - dt_s as f64 / config.window_s.max(1) as f64;
            let score = (config.weight_distance * near
                + config.weight_time * recent
                + config.weight_type * ts)
                / wsum;
            Some(MergeSuggestion {
                incident_id: inc.incident_id.clone(),
                distance_m,
                dt_s,
                type_similarity: ts,
                score,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.distance_m.total_cmp(&b.distance_m))
            .then(a.incident_id.cmp(&b.incident_id))
    });
    out.truncate(config.max_results);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_nearby_same_type_first_and_filters_window() {
        let tax = Taxonomy::builtin();
        let base = LatLng::new(30.6, 104.06).unwrap();
        let t0 = Timestamp::from_secs(1_790_000_000);
        let call = CallSighting {
            at: t0.plus_secs(120),
            point: base,
            type_code: Some("traffic.accident_injury".into()),
        };
        let inc = |id: &str, n: f64, dt: i64, ty: Option<&str>| OpenIncident {
            incident_id: id.into(),
            at: t0.plus_secs(dt),
            point: base.offset_m(n, 0.0),
            type_code: ty.map(Into::into),
        };
        let open = vec![
            inc("far", 500.0, 0, Some("traffic.accident_injury")),
            inc("old", 10.0, -3600, Some("traffic.accident_injury")),
            inc("same", 80.0, 0, Some("traffic.accident_injury")),
            inc("other", 20.0, 60, Some("noise")),
            inc("sibling", 50.0, 60, Some("traffic.accident")),
        ];
        let s = suggest_merges(&call, &open, &tax, &DuplicateConfig::default());
        let ids: Vec<&str> = s.iter().map(|m| m.incident_id.as_str()).collect();
        assert_eq!(ids, ["same", "sibling", "other"]);
        assert_eq!(s[0].dt_s, 120);
        assert!((s[0].distance_m - 80.0).abs() < 0.5);
        assert_eq!(s[0].type_similarity, 1.0);
        assert_eq!(
            type_similarity(&tax, Some("dispute.family"), Some("dispute.labour")),
            0.6
        );
        assert_eq!(type_similarity(&tax, None, Some("fire")), 0.5);
    }
}
