//! The three-tier command structure (三级指挥): a city bureau, its district bureaus
//! and their police stations, each with a jurisdiction area, and the lookup from a
//! point to (station, district, city).
//!
//! Lookup is exact on borders and holes: a point on a boundary belongs to the
//! area (ties between neighbours go to the lower id, so the answer is stable), a
//! point inside a hole does not. A point outside every station falls to the
//! district containing it, else to the nearest district within
//! [`Jurisdiction::FALLBACK_RADIUS_M`], else to the city.

use std::collections::HashMap;

use geo::{BoundingRect, Distance, Euclidean, Intersects, MultiPolygon, Point, Polygon};
use pingan_core::LatLng;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    City,
    District,
    Station,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::City => "city",
            OrgKind::District => "district",
            OrgKind::Station => "station",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        match s {
            "city" => Some(OrgKind::City),
            "district" => Some(OrgKind::District),
            "station" => Some(OrgKind::Station),
            _ => None,
        }
    }

    /// The kind a child of this kind must have.
    pub fn child(self) -> Option<OrgKind> {
        match self {
            OrgKind::City => Some(OrgKind::District),
            OrgKind::District => Some(OrgKind::Station),
            OrgKind::Station => None,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum AreaError {
    #[error("area is not valid GeoJSON: {0}")]
    Json(String),
    #[error("area must be a Polygon or MultiPolygon, got {0}")]
    NotPolygonal(String),
    #[error("area polygon ring {ring} has {points} points; a ring needs at least 4 (closed)")]
    TooFewPoints { ring: usize, points: usize },
    #[error("area coordinate {lng},{lat} is outside WGS84 range")]
    OutOfRange { lat: f64, lng: f64 },
}

/// Parses a GeoJSON geometry, Feature (its geometry) or bare coordinates object
/// into a multipolygon, validating ring sizes and coordinate ranges.
pub fn parse_area(text: &str) -> Result<MultiPolygon<f64>, AreaError> {
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| AreaError::Json(e.to_string()))?;
    let geometry = match gj {
        geojson::GeoJson::Geometry(g) => g,
        geojson::GeoJson::Feature(f) => f
            .geometry
            .ok_or_else(|| AreaError::NotPolygonal("Feature without geometry".into()))?,
        geojson::GeoJson::FeatureCollection(_) => {
            return Err(AreaError::NotPolygonal("FeatureCollection".into()));
        }
    };
    let kind = geometry.value.type_name().to_string();
    let g: geo::Geometry<f64> = geometry
        .try_into()
        .map_err(|e: geojson::Error| AreaError::Json(e.to_string()))?;
    let mp = match g {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(mp) => mp,
        _ => return Err(AreaError::NotPolygonal(kind)),
    };
    let mut ring_no = 0;
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            if ring.0.len() < 4 {
                return Err(AreaError::TooFewPoints {
                    ring: ring_no,
                    points: ring.0.len(),
                });
            }
            for c in &ring.0 {
                if LatLng::new(c.y, c.x).is_err() {
                    return Err(AreaError::OutOfRange { lat: c.y, lng: c.x });
                }
            }
            ring_no += 1;
        }
    }
    Ok(mp)
}

/// GeoJSON geometry text for an area.
pub fn area_to_geojson(area: &MultiPolygon<f64>) -> String {
    let g = geojson::Geometry::new(geojson::GeometryValue::from(area));
    g.to_string()
}

#[derive(Debug, Clone)]
pub struct OrgNode {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub kind: OrgKind,
    pub code: String,
    pub name: String,
    pub area: Option<MultiPolygon<f64>>,
}

/// How a point was resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolution {
    /// Inside (or on the border of) a station's area.
    Station,
    /// Outside every station but inside a district's area.
    District,
    /// Outside every area, assigned to the nearest district this far away.
    NearestDistrict { distance_m: f64 },
    /// Outside every area and far from all districts.
    City,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Located {
    pub station: Option<i64>,
    pub district: Option<i64>,
    pub city: Option<i64>,
    pub resolution: Resolution,
}

impl Located {
    /// The most specific responsible node.
    pub fn responsible(&self) -> Option<i64> {
        self.station.or(self.district).or(self.city)
    }
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// The org tree with spatial indexes over station and district areas.
#[derive(Debug)]
pub struct Jurisdiction {
    nodes: Vec<OrgNode>,
    by_id: HashMap<i64, usize>,
    /// Areas in a locally scaled plane (x = lng·cos φ₀, y = lat) so that Euclidean
    /// distances are proportional to metres across the city.
    scaled: Vec<Option<MultiPolygon<f64>>>,
    stations: RTree<Entry>,
    districts: RTree<Entry>,
    cos_lat0: f64,
}

const METRES_PER_DEGREE: f64 = 111_195.08;

impl Jurisdiction {
    pub const FALLBACK_RADIUS_M: f64 = 5_000.0;

    pub fn new(nodes: Vec<OrgNode>) -> Jurisdiction {
        let lats: Vec<f64> = nodes
            .iter()
            .filter_map(|n| n.area.as_ref()?.bounding_rect())
            .map(|r| r.center().y)
            .collect();
        let lat0 = if lats.is_empty() {
            0.0
        } else {
            lats.iter().sum::<f64>() / lats.len() as f64
        };
        let cos_lat0 = lat0.to_radians().cos();
        let mut by_id = HashMap::new();
        let mut scaled = Vec::with_capacity(nodes.len());
        let (mut st, mut di) = (Vec::new(), Vec::new());
        for (i, n) in nodes.iter().enumerate() {
            by_id.insert(n.id, i);
            let s = n.area.as_ref().map(|a| scale(a, cos_lat0));
            if let Some(rect) = s.as_ref().and_then(|a| a.bounding_rect()) {
                let e = GeomWithData::new(
                    Rectangle::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    i,
                );
                match n.kind {
                    OrgKind::Station => st.push(e),
                    OrgKind::District => di.push(e),
                    OrgKind::City => {}
                }
            }
            scaled.push(s);
        }
        Jurisdiction {
            nodes,
            by_id,
            scaled,
            stations: RTree::bulk_load(st),
            districts: RTree::bulk_load(di),
            cos_lat0,
        }
    }

    pub fn node(&self, id: i64) -> Option<&OrgNode> {
        self.by_id.get(&id).map(|&i| &self.nodes[i])
    }

    pub fn nodes(&self) -> &[OrgNode] {
        &self.nodes
    }

    /// The chain from `id` up to the root, starting with `id`.
    pub fn ancestors(&self, id: i64) -> Vec<&OrgNode> {
        let mut out = Vec::new();
        let mut cur = self.node(id);
        while let Some(n) = cur {
            if out.len() > self.nodes.len() {
                break; // a cycle in bad data; never loop forever
            }
            out.push(n);
            cur = n.parent_id.and_then(|p| self.node(p));
        }
        out
    }

    fn ancestor_of_kind(&self, id: i64, kind: OrgKind) -> Option<i64> {
        self.ancestors(id)
            .into_iter()
            .find(|n| n.kind == kind)
            .map(|n| n.id)
    }

    fn root_city(&self) -> Option<i64> {
        self.nodes
            .iter()
            .filter(|n| n.kind == OrgKind::City)
            .map(|n| n.id)
            .min()
    }

    fn containing(&self, tree: &RTree<Entry>, q: Point<f64>) -> Option<usize> {
        let env = AABB::from_point([q.x(), q.y()]);
        tree.locate_in_envelope_intersecting(&env)
            .map(|e| e.data)
            .filter(|&i| self.scaled[i].as_ref().is_some_and(|a| a.intersects(&q)))
            .min_by_key(|&i| self.nodes[i].id)
    }

    /// Resolves a point to its station, district and city.
    pub fn locate(&self, p: LatLng) -> Located {
        let q = Point::new(p.lng() * self.cos_lat0, p.lat());
        if let Some(i) = self.containing(&self.stations, q) {
            let id = self.nodes[i].id;
            return Located {
                station: Some(id),
                district: self.ancestor_of_kind(id, OrgKind::District),
                city: self.ancestor_of_kind(id, OrgKind::City),
                resolution: Resolution::Station,
            };
        }
        if let Some(i) = self.containing(&self.districts, q) {
            let id = self.nodes[i].id;
            return Located {
                station: None,
                district: Some(id),
                city: self.ancestor_of_kind(id, OrgKind::City),
                resolution: Resolution::District,
            };
        }
        let nearest = self
            .districts
            .iter()
            .filter_map(|e| {
                let a = self.scaled[e.data].as_ref()?;
                Some((
                    Euclidean.distance(&q, a) * METRES_PER_DEGREE,
                    self.nodes[e.data].id,
                ))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        match nearest {
            Some((d, id)) if d <= Self::FALLBACK_RADIUS_M => Located {
                station: None,
                district: Some(id),
                city: self.ancestor_of_kind(id, OrgKind::City),
                resolution: Resolution::NearestDistrict { distance_m: d },
            },
            _ => Located {
                station: None,
                district: None,
                city: self.root_city(),
                resolution: Resolution::City,
            },
        }
    }
}

fn scale(a: &MultiPolygon<f64>, cos_lat0: f64) -> MultiPolygon<f64> {
    use geo::MapCoords;
    a.map_coords(|c| geo::coord! { x: c.x * cos_lat0, y: c.y })
}

/// A closed rectangular ring polygon, handy for generated jurisdictions and tests.
pub fn rect_polygon(min_lat: f64, min_lng: f64, max_lat: f64, max_lng: f64) -> Polygon<f64> {
    Polygon::new(
        geo::LineString::from(vec![
            (min_lng, min_lat),
            (max_lng, min_lat),
            (max_lng, max_lat),
            (min_lng, max_lat),
            (min_lng, min_lat),
        ]),
        vec![],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    /// City 1; district 2 (west half) with stations 4 (south-west) and 5 (north-west,
    /// with a hole); district 3 (east half) with station 6 covering only its south.
    fn sample() -> Jurisdiction {
        let mp = |p: Polygon<f64>| Some(MultiPolygon(vec![p]));
        let mut nw = rect_polygon(30.5, 104.0, 31.0, 104.5);
        nw.interiors_push(geo::LineString::from(vec![
            (104.2, 30.7),
            (104.3, 30.7),
            (104.3, 30.8),
            (104.2, 30.8),
            (104.2, 30.7),
        ]));
        Jurisdiction::new(vec![
            OrgNode {
                id: 1,
                parent_id: None,
                kind: OrgKind::City,
                code: "C".into(),
                name: "市".into(),
                area: mp(rect_polygon(30.0, 104.0, 31.0, 105.0)),
            },
            OrgNode {
                id: 2,
                parent_id: Some(1),
                kind: OrgKind::District,
                code: "D2".into(),
                name: "西".into(),
                area: mp(rect_polygon(30.0, 104.0, 31.0, 104.5)),
            },
            OrgNode {
                id: 3,
                parent_id: Some(1),
                kind: OrgKind::District,
                code: "D3".into(),
                name: "东".into(),
                area: mp(rect_polygon(30.0, 104.5, 31.0, 105.0)),
            },
            OrgNode {
                id: 4,
                parent_id: Some(2),
                kind: OrgKind::Station,
                code: "S4".into(),
                name: "西南".into(),
                area: mp(rect_polygon(30.0, 104.0, 30.5, 104.5)),
            },
            OrgNode {
                id: 5,
                parent_id: Some(2),
                kind: OrgKind::Station,
                code: "S5".into(),
                name: "西北".into(),
                area: mp(nw),
            },
            OrgNode {
                id: 6,
                parent_id: Some(3),
                kind: OrgKind::Station,
                code: "S6".into(),
                name: "东南".into(),
                area: mp(rect_polygon(30.0, 104.5, 30.5, 105.0)),
            },
        ])
    }

    #[test]
    fn interior_points_resolve_to_all_three_tiers() {
        let j = sample();
        assert_eq!(
            j.locate(ll(30.25, 104.25)),
            Located {
                station: Some(4),
                district: Some(2),
                city: Some(1),
                resolution: Resolution::Station
            }
        );
        assert_eq!(j.locate(ll(30.9, 104.1)).station, Some(5));
        assert_eq!(j.locate(ll(30.2, 104.9)).station, Some(6));
    }

    #[test]
    fn borders_belong_to_an_area_deterministically() {
        let j = sample();
        // Shared edge between stations 4 and 5 (lat 30.5): lower id wins.
        assert_eq!(j.locate(ll(30.5, 104.25)).station, Some(4));
        // Corner shared by stations 4, 5 and 6's district boundary.
        assert_eq!(j.locate(ll(30.5, 104.5)).station, Some(4));
        // Outer edge of the city still counts.
        assert_eq!(j.locate(ll(30.0, 104.9)).station, Some(6));
    }

    #[test]
    fn holes_are_excluded_but_their_rim_is_included() {
        let j = sample();
        let inside_hole = j.locate(ll(30.75, 104.25));
        assert_eq!(
            inside_hole,
            Located {
                station: None,
                district: Some(2),
                city: Some(1),
                resolution: Resolution::District
            }
        );
        assert_eq!(
            j.locate(ll(30.7, 104.25)).station,
            Some(5),
            "the hole's rim is part of the polygon"
        );
    }

    #[test]
    fn outside_stations_falls_to_district_then_nearest_then_city() {
        let j = sample();
        let r = j.locate(ll(30.8, 104.8));
        assert_eq!(
            (r.station, r.district, r.resolution),
            (None, Some(3), Resolution::District)
        );
        // 0.01° north of the city's north edge ≈ 1.1 km: nearest district.
        let r = j.locate(ll(31.01, 104.9));
        assert_eq!((r.station, r.district), (None, Some(3)));
        match r.resolution {
            Resolution::NearestDistrict { distance_m } => {
                assert!((distance_m - 1112.0).abs() < 5.0, "{distance_m}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            j.locate(ll(35.0, 110.0)),
            Located {
                station: None,
                district: None,
                city: Some(1),
                resolution: Resolution::City
            }
        );
    }

    #[test]
    fn geojson_round_trip_and_validation() {
        let mp = parse_area(
            r#"{"type":"Polygon","coordinates":[[[104,30],[105,30],[105,31],[104,30]]]}"#,
        )
        .unwrap();
        assert_eq!(mp.0.len(), 1);
        assert_eq!(parse_area(&area_to_geojson(&mp)).unwrap(), mp);
        let feat = r#"{"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[[[[104,30],[105,30],[105,31],[104,30]]]]}}"#;
        assert_eq!(parse_area(feat).unwrap(), mp);
        assert!(matches!(
            parse_area(r#"{"type":"Point","coordinates":[1,2]}"#),
            Err(AreaError::NotPolygonal(_))
        ));
        assert!(matches!(
            parse_area(r#"{"type":"Polygon","coordinates":[[[104,30],[105,30],[104,30]]]}"#),
            Err(AreaError::TooFewPoints { .. })
        ));
        assert!(matches!(
            parse_area(
                r#"{"type":"Polygon","coordinates":[[[104,95],[105,30],[105,31],[104,95]]]}"#
            ),
            Err(AreaError::OutOfRange { .. })
        ));
        assert!(matches!(parse_area("{nope"), Err(AreaError::Json(_))));
    }
}
