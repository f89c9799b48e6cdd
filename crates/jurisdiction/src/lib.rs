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

mod placement;
mod validate;

pub use placement::{PlacementError, Tolerance};

/// Why an area was refused. Polygon and ring numbers are 0-based positions in
/// the GeoJSON coordinates (ring 0 is a polygon's shell, ring k its k-th hole);
/// vertex and segment numbers too (segment k runs from vertex k to k+1).
#[derive(Debug, Error, PartialEq)]
pub enum AreaError {
    #[error("area is not valid GeoJSON: {0}")]
    Json(String),
    #[error("area must be a Polygon or MultiPolygon, got {0}")]
    NotPolygonal(String),
    #[error(
        "polygon {polygon} ring {ring} has {points} positions (repeated neighbours counted once); a ring needs at least 4, the first repeated as the last"
    )]
    TooFewPoints {
        polygon: usize,
        ring: usize,
        points: usize,
    },
    #[error(
        "polygon {polygon} ring {ring} is not closed: its last position {last_lng},{last_lat} differs from its first {first_lng},{first_lat}"
    )]
    NotClosed {
        polygon: usize,
        ring: usize,
        first_lat: f64,
        first_lng: f64,
        last_lat: f64,
        last_lng: f64,
    },
    #[error("area coordinate {lng},{lat} is outside WGS84 range")]
    OutOfRange { lat: f64, lng: f64 },
    #[error(
        "polygon {polygon} ring {ring} intersects itself: segment {segment_a} (from vertex {segment_a}) meets segment {segment_b} at {lng},{lat}"
    )]
    SelfIntersection {
        polygon: usize,
        ring: usize,
        segment_a: usize,
        segment_b: usize,
        lat: f64,
        lng: f64,
    },
    #[error("polygon {polygon} ring {ring} encloses no area ({area_m2:.3} m²)")]
    ZeroArea {
        polygon: usize,
        ring: usize,
        area_m2: f64,
    },
    #[error("polygon {polygon} hole (ring {ring}) is not inside the polygon's shell (ring 0)")]
    HoleOutsideShell { polygon: usize, ring: usize },
    #[error("polygon {polygon} rings {ring_a} and {ring_b} share a stretch of boundary")]
    RingsTouchOnALine {
        polygon: usize,
        ring_a: usize,
        ring_b: usize,
    },
    #[error("polygon {polygon} holes (rings {ring_a} and {ring_b}) overlap")]
    HolesOverlap {
        polygon: usize,
        ring_a: usize,
        ring_b: usize,
    },
    #[error("polygons {polygon_a} and {polygon_b} of the MultiPolygon overlap")]
    PolygonsOverlap { polygon_a: usize, polygon_b: usize },
    #[error(
        "area with {vertices} vertices is too complex to validate (too many segments with overlapping extents); simplify it"
    )]
    TooComplex { vertices: usize },
}

/// Parses a GeoJSON geometry, Feature (its geometry) or bare coordinates object
/// into a multipolygon and refuses anything that is not a valid area: rings
/// not closed or with fewer than 4 positions, coordinates outside WGS84,
/// self-intersecting or zero-area rings, holes outside their shell, overlapping
/// parts. Use it for every area that is about to be stored.
pub fn parse_area(text: &str) -> Result<MultiPolygon<f64>, AreaError> {
    let geometry = parse_geometry(text)?;
    let rings: Vec<&Vec<Vec<geojson::Position>>> = match &geometry.value {
        geojson::GeometryValue::Polygon { coordinates } => vec![coordinates],
        geojson::GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        other => return Err(AreaError::NotPolygonal(other.type_name().into())),
    };
    // Closure and ring size are checked on the positions as given: converting to
    // geo closes rings silently.
    for (polygon, poly) in rings.iter().enumerate() {
        for (ring, r) in poly.iter().enumerate() {
            if r.len() < 4 {
                return Err(AreaError::TooFewPoints {
                    polygon,
                    ring,
                    points: r.len(),
                });
            }
            for p in r {
                let c = p.as_slice();
                if c.len() < 2 || LatLng::new(c[1], c[0]).is_err() {
                    return Err(AreaError::OutOfRange {
                        lat: c.get(1).copied().unwrap_or(f64::NAN),
                        lng: c.first().copied().unwrap_or(f64::NAN),
                    });
                }
            }
            let (f, l) = (r[0].as_slice(), r[r.len() - 1].as_slice());
            if f[..2] != l[..2] {
                return Err(AreaError::NotClosed {
                    polygon,
                    ring,
                    first_lat: f[1],
                    first_lng: f[0],
                    last_lat: l[1],
                    last_lng: l[0],
                });
            }
        }
    }
    let mp = to_multipolygon(geometry)?;
    validate::validate(&mp)?;
    Ok(mp)
}

/// Reads an area that was validated when it was stored, without repeating the
/// topology checks (loading the tree must not refuse or drop an area stored
/// before those checks existed).
pub fn read_area(text: &str) -> Result<MultiPolygon<f64>, AreaError> {
    to_multipolygon(parse_geometry(text)?)
}

fn parse_geometry(text: &str) -> Result<geojson::Geometry, AreaError> {
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| AreaError::Json(e.to_string()))?;
    match gj {
        geojson::GeoJson::Geometry(g) => Ok(g),
        geojson::GeoJson::Feature(f) => f
            .geometry
            .ok_or_else(|| AreaError::NotPolygonal("Feature without geometry".into())),
        geojson::GeoJson::FeatureCollection(_) => {
            Err(AreaError::NotPolygonal("FeatureCollection".into()))
        }
    }
}

fn to_multipolygon(geometry: geojson::Geometry) -> Result<MultiPolygon<f64>, AreaError> {
    let kind = geometry.value.type_name().to_string();
    let g: geo::Geometry<f64> = geometry
        .try_into()
        .map_err(|e: geojson::Error| AreaError::Json(e.to_string()))?;
    match g {
        geo::Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        geo::Geometry::MultiPolygon(mp) => Ok(mp),
        _ => Err(AreaError::NotPolygonal(kind)),
    }
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

pub(crate) const METRES_PER_DEGREE: f64 = 111_195.08;

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

    fn poly_json(rings: &[&[(f64, f64)]]) -> String {
        let rings: Vec<Vec<[f64; 2]>> = rings
            .iter()
            .map(|r| r.iter().map(|&(x, y)| [x, y]).collect())
            .collect();
        serde_json::json!({"type": "Polygon", "coordinates": rings}).to_string()
    }

    #[test]
    fn a_bowtie_is_refused_naming_ring_segments_and_point() {
        let bowtie = poly_json(&[&[
            (104.0, 30.0),
            (104.1, 30.1),
            (104.1, 30.0),
            (104.0, 30.1),
            (104.0, 30.0),
        ]]);
        let e = parse_area(&bowtie).unwrap_err();
        match e {
            AreaError::SelfIntersection {
                polygon: 0,
                ring: 0,
                segment_a: 0,
                segment_b: 2,
                lat,
                lng,
            } => {
                assert!((lat - 30.05).abs() < 1e-9 && (lng - 104.05).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with(
            "polygon 0 ring 0 intersects itself: segment 0 (from vertex 0) meets segment 2 at 104.05"
        ));
    }

    #[test]
    fn unclosed_short_and_tiny_rings_are_refused() {
        assert_eq!(
            parse_area(&poly_json(&[&[
                (104.0, 30.0),
                (104.1, 30.0),
                (104.1, 30.1),
                (104.0, 30.1)
            ]])),
            Err(AreaError::NotClosed {
                polygon: 0,
                ring: 0,
                first_lat: 30.0,
                first_lng: 104.0,
                last_lat: 30.1,
                last_lng: 104.0
            })
        );
        // Four positions but only two distinct vertices.
        assert_eq!(
            parse_area(&poly_json(&[&[
                (104.0, 30.0),
                (104.1, 30.0),
                (104.1, 30.0),
                (104.0, 30.0)
            ]])),
            Err(AreaError::TooFewPoints {
                polygon: 0,
                ring: 0,
                points: 3
            })
        );
        // A triangle of a few square centimetres.
        match parse_area(&poly_json(&[&[
            (104.0, 30.0),
            (104.000001, 30.0),
            (104.0, 30.000001),
            (104.0, 30.0),
        ]])) {
            Err(AreaError::ZeroArea {
                polygon: 0,
                ring: 0,
                area_m2,
            }) => assert!(area_m2 > 0.0 && area_m2 < 0.01, "{area_m2}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn holes_must_lie_inside_their_shell_and_parts_must_not_overlap() {
        let shell: &[(f64, f64)] = &[
            (104.0, 30.0),
            (104.1, 30.0),
            (104.1, 30.1),
            (104.0, 30.1),
            (104.0, 30.0),
        ];
        let inside: &[(f64, f64)] = &[
            (104.02, 30.02),
            (104.04, 30.02),
            (104.04, 30.04),
            (104.02, 30.02),
        ];
        let outside: &[(f64, f64)] = &[(104.2, 30.2), (104.3, 30.2), (104.3, 30.3), (104.2, 30.2)];
        assert!(parse_area(&poly_json(&[shell, inside])).is_ok());
        assert_eq!(
            parse_area(&poly_json(&[shell, inside, outside])),
            Err(AreaError::HoleOutsideShell {
                polygon: 0,
                ring: 2
            })
        );
        let mp = serde_json::json!({"type": "MultiPolygon", "coordinates": [
            [[[104.0, 30.0], [104.1, 30.0], [104.1, 30.1], [104.0, 30.0]]],
            [[[104.05, 30.0], [104.2, 30.0], [104.2, 30.1], [104.05, 30.0]]],
        ]});
        assert_eq!(
            parse_area(&mp.to_string()),
            Err(AreaError::PolygonsOverlap {
                polygon_a: 0,
                polygon_b: 1
            })
        );
    }

    #[test]
    fn a_200k_vertex_sliver_is_refused_quickly() {
        // Out along a line in 100k steps and back the same way: zero area, every
        // segment lying on its return twin.
        let n = 100_000;
        let mut ring: Vec<(f64, f64)> = (0..=n)
            .map(|i| (104.0 + 0.1 * i as f64 / n as f64, 30.0))
            .collect();
        ring.extend(
            (0..n)
                .rev()
                .map(|i| (104.0 + 0.1 * i as f64 / n as f64, 30.0)),
        );
        let e = parse_area(&poly_json(&[&ring])).unwrap_err();
        assert!(
            matches!(
                e,
                AreaError::SelfIntersection {
                    polygon: 0,
                    ring: 0,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    /// A valid polygon whose left side is a sawtooth of `teeth` teeth, turned
    /// 45° so that every tooth's bounding box overlaps nearly every other's.
    fn turned_sawtooth(teeth: usize) -> Vec<(f64, f64)> {
        let e = 1.0 / (2 * teeth) as f64;
        let mut ring: Vec<(f64, f64)> = (0..=2 * teeth)
            .map(|k| (if k % 2 == 0 { 0.0 } else { 1.0 }, k as f64 * e))
            .collect();
        ring.extend([(2.0, 1.0), (2.0, 0.0), (0.0, 0.0)]);
        let (c, s) = (
            std::f64::consts::FRAC_1_SQRT_2,
            std::f64::consts::FRAC_1_SQRT_2,
        );
        ring.iter()
            .map(|&(x, y)| {
                (
                    104.0 + 0.05 * (x * c - y * s),
                    30.0 + 0.05 * (x * s + y * c),
                )
            })
            .collect()
    }

    #[test]
    fn adversarial_rings_answer_too_complex_within_a_bounded_budget() {
        // Unturned, the same sawtooth is cheap and valid.
        let e = 1.0 / 20_000.0;
        let mut plain: Vec<(f64, f64)> = (0..=20_000)
            .map(|k| {
                (
                    104.0 + if k % 2 == 0 { 0.0 } else { 0.05 },
                    30.0 + 0.05 * k as f64 * e,
                )
            })
            .collect();
        plain.extend([(104.1, 30.05), (104.1, 30.0), (104.0, 30.0)]);
        assert!(parse_area(&poly_json(&[&plain])).is_ok());
        let turned = turned_sawtooth(10_000);
        assert_eq!(
            parse_area(&poly_json(&[&turned])),
            Err(AreaError::TooComplex { vertices: 20_004 })
        );
    }

    fn square(
        id: i64,
        parent: Option<i64>,
        kind: OrgKind,
        min: (f64, f64),
        max: (f64, f64),
    ) -> OrgNode {
        OrgNode {
            id,
            parent_id: parent,
            kind,
            code: format!("O{id}"),
            name: format!("所{id}"),
            area: Some(MultiPolygon(vec![rect_polygon(min.1, min.0, max.1, max.0)])),
        }
    }

    #[test]
    fn placement_refuses_sibling_overlap_and_overhang_but_not_shared_borders() {
        let j = sample();
        let tol = Tolerance::default();
        let area = |min_lat, min_lng, max_lat, max_lng| {
            MultiPolygon(vec![rect_polygon(min_lat, min_lng, max_lat, max_lng)])
        };
        // Station 4 re-submitting its own area, and a new station tiling the
        // rest of district 3 (shares its border with station 6).
        assert_eq!(
            j.check_placement(
                Some(4),
                OrgKind::Station,
                Some(2),
                &area(30.0, 104.0, 30.5, 104.5),
                tol
            ),
            Ok(())
        );
        assert_eq!(
            j.check_placement(
                None,
                OrgKind::Station,
                Some(3),
                &area(30.5, 104.5, 31.0, 105.0),
                tol
            ),
            Ok(())
        );
        // Reaching 0.01° into station 6 (about 1 km × 48 km) is refused naming it.
        match j.check_placement(
            None,
            OrgKind::Station,
            Some(3),
            &area(30.49, 104.5, 31.0, 105.0),
            tol,
        ) {
            Err(PlacementError::OverlapsSibling {
                id: 6,
                code,
                name,
                overlap_m2,
                tolerance_m2,
            }) => {
                assert_eq!((code.as_str(), name.as_str()), ("S6", "东南"));
                assert!(overlap_m2 > 50_000_000.0, "{overlap_m2}");
                assert_eq!(tolerance_m2, 1_000.0);
            }
            other => panic!("{other:?}"),
        }
        // Half of it over the border into district 2's ground.
        match j.check_placement(
            None,
            OrgKind::Station,
            Some(3),
            &area(30.5, 104.4, 30.6, 104.6),
            tol,
        ) {
            Err(PlacementError::OutsideParent {
                id: 3,
                code,
                outside_pct,
                ..
            }) => {
                assert_eq!(code, "D3");
                assert!((outside_pct - 50.0).abs() < 0.5, "{outside_pct}");
            }
            other => panic!("{other:?}"),
        }
        // Shrinking district 2 to its southern half leaves station 5 outside.
        match j.check_placement(
            Some(2),
            OrgKind::District,
            Some(1),
            &area(30.0, 104.0, 30.5, 104.5),
            tol,
        ) {
            Err(PlacementError::LeavesChildOutside {
                id: 5,
                code,
                outside_pct,
                ..
            }) => {
                assert_eq!(code, "S5");
                assert!((outside_pct - 100.0).abs() < 0.01, "{outside_pct}");
            }
            other => panic!("{other:?}"),
        }
        // Siblings are found under the same parent only: a district-sized area
        // under the city overlaps district 2.
        let j2 = Jurisdiction::new(vec![
            square(1, None, OrgKind::City, (104.0, 30.0), (105.0, 31.0)),
            square(2, Some(1), OrgKind::District, (104.0, 30.0), (104.5, 31.0)),
        ]);
        assert!(matches!(
            j2.check_placement(
                None,
                OrgKind::District,
                Some(1),
                &area(30.0, 104.4, 31.0, 105.0),
                tol
            ),
            Err(PlacementError::OverlapsSibling { id: 2, .. })
        ));
    }
}
