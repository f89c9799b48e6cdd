//! Polygonal areas (geofences, watch scopes) and the point-in-polygon test.
//!
//! Kept as plain vertex lists in degrees: city-scale fences are small enough
//! that planar even–odd ray casting on lng/lat is exact for our purposes, and
//! it keeps the hot path free of conversions. The R-tree that finds candidate
//! areas for a point lives in the engine.

use std::sync::Arc;

use pingan_core::{BBox, LatLng};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AreaError {
    #[error("polygon ring {ring} has {count} distinct vertices; at least 3 are needed")]
    TooFewVertices { ring: usize, count: usize },
    #[error("polygon has more than {max} vertices")]
    TooManyVertices { max: usize },
}

/// Largest vertex count accepted for one polygon (all rings), which bounds the
/// per-event cost of a containment test.
pub const MAX_VERTICES: usize = 10_000;

/// A polygon with an outer ring and optional holes. Rings need not be closed
/// (a repeated first vertex is dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon(Arc<Inner>);

/// Shared, so that cloning a fence into many watches costs one pointer.
#[derive(Debug, PartialEq)]
struct Inner {
    /// `[lng, lat]` pairs; ring 0 is the exterior, the rest are holes.
    rings: Vec<Vec<[f64; 2]>>,
    bbox: BBox,
}

impl Polygon {
    /// A polygon without holes.
    pub fn new(exterior: &[LatLng]) -> Result<Polygon, AreaError> {
        Polygon::with_holes(exterior, &[])
    }

    pub fn with_holes(exterior: &[LatLng], holes: &[Vec<LatLng>]) -> Result<Polygon, AreaError> {
        let mut rings = Vec::with_capacity(1 + holes.len());
        let mut total = 0;
        for (i, ring) in std::iter::once(exterior)
            .chain(holes.iter().map(Vec::as_slice))
            .enumerate()
        {
            let mut pts: Vec<[f64; 2]> = ring.iter().map(|p| [p.lng(), p.lat()]).collect();
            if pts.len() > 1 && pts.first() == pts.last() {
                pts.pop();
            }
            if pts.len() < 3 {
                return Err(AreaError::TooFewVertices {
                    ring: i,
                    count: pts.len(),
                });
            }
            total += pts.len();
            if total > MAX_VERTICES {
                return Err(AreaError::TooManyVertices { max: MAX_VERTICES });
            }
            rings.push(pts);
        }
        let mut bbox = BBox {
            min_lat: f64::INFINITY,
            min_lng: f64::INFINITY,
            max_lat: f64::NEG_INFINITY,
            max_lng: f64::NEG_INFINITY,
        };
        for [lng, lat] in &rings[0] {
            bbox.min_lat = bbox.min_lat.min(*lat);
            bbox.max_lat = bbox.max_lat.max(*lat);
            bbox.min_lng = bbox.min_lng.min(*lng);
            bbox.max_lng = bbox.max_lng.max(*lng);
        }
        Ok(Polygon(Arc::new(Inner { rings, bbox })))
    }

    /// An axis-aligned rectangle, handy for tests and demo fences.
    pub fn rect(south_west: LatLng, north_east: LatLng) -> Polygon {
        let (s, w, n, e) = (
            south_west.lat(),
            south_west.lng(),
            north_east.lat(),
            north_east.lng(),
        );
        let bbox = BBox {
            min_lat: s.min(n),
            min_lng: w.min(e),
            max_lat: s.max(n),
            max_lng: w.max(e),
        };
        Polygon(Arc::new(Inner {
            rings: vec![vec![[w, s], [e, s], [e, n], [w, n]]],
            bbox,
        }))
    }

    /// A regular polygon approximating a circle of `radius_m` around `center`.
    pub fn circle(center: LatLng, radius_m: f64, sides: usize) -> Polygon {
        let sides = sides.max(3);
        let pts: Vec<LatLng> = (0..sides)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / sides as f64;
                center.offset_m(radius_m * a.cos(), radius_m * a.sin())
            })
            .collect();
        // Three or more distinct offsets of a valid point always form a ring.
        Polygon::new(&pts).unwrap_or_else(|_| Polygon::rect(center, center))
    }

    pub fn bbox(&self) -> BBox {
        self.0.bbox
    }

    /// The exterior ring as coordinates.
    pub fn exterior(&self) -> Vec<LatLng> {
        self.0.rings[0]
            .iter()
            .filter_map(|[lng, lat]| LatLng::new(*lat, *lng).ok())
            .collect()
    }

    /// Whether `p` lies inside the exterior ring and outside every hole.
    /// Points exactly on an edge may fall either way.
    pub fn contains(&self, p: &LatLng) -> bool {
        if !self.0.bbox.contains(p) {
            return false;
        }
        let (x, y) = (p.lng(), p.lat());
        let inside_ring = |ring: &[[f64; 2]]| {
            let mut inside = false;
            let mut j = ring.len() - 1;
            for i in 0..ring.len() {
                let [xi, yi] = ring[i];
                let [xj, yj] = ring[j];
                if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                    inside = !inside;
                }
                j = i;
            }
            inside
        };
        inside_ring(&self.0.rings[0]) && !self.0.rings[1..].iter().any(|h| inside_ring(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    #[test]
    fn contains_respects_holes_and_concavity() {
        // An L-shaped polygon with a hole in its long arm.
        let l = [
            ll(0.0, 0.0),
            ll(0.0, 3.0),
            ll(1.0, 3.0),
            ll(1.0, 1.0),
            ll(3.0, 1.0),
            ll(3.0, 0.0),
            ll(0.0, 0.0),
        ];
        let hole = vec![ll(0.2, 2.0), ll(0.2, 2.5), ll(0.8, 2.5), ll(0.8, 2.0)];
        let poly = Polygon::with_holes(&l, &[hole]).unwrap();
        assert!(poly.contains(&ll(0.5, 0.5)));
        assert!(poly.contains(&ll(2.5, 0.5)));
        assert!(!poly.contains(&ll(2.0, 2.0)), "concave notch");
        assert!(!poly.contains(&ll(0.5, 2.2)), "inside the hole");
        assert!(poly.contains(&ll(0.5, 2.8)));
        assert!(!poly.contains(&ll(-0.1, 0.5)));
    }

    #[test]
    fn rejects_degenerate_rings() {
        assert_eq!(
            Polygon::new(&[ll(0.0, 0.0), ll(1.0, 1.0), ll(0.0, 0.0)]),
            Err(AreaError::TooFewVertices { ring: 0, count: 2 })
        );
    }

    #[test]
    fn circle_contains_its_centre_not_far_points() {
        let c = ll(30.65, 104.06);
        let poly = Polygon::circle(c, 500.0, 32);
        assert!(poly.contains(&c));
        assert!(poly.contains(&c.offset_m(400.0, 0.0)));
        assert!(!poly.contains(&c.offset_m(600.0, 0.0)));
    }
}
