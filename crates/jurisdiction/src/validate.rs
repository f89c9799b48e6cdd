//! Topological validity of a jurisdiction area: every ring simple (no crossing,
//! touching or folding back on itself), enclosing a real area, holes inside their
//! shell and not crossing it or each other, and a multipolygon's parts not
//! overlapping.
//!
//! `geo::Validation` checks the same rules, but its ring self-intersection test
//! compares every segment with every other one (O(n²)): a 200,000-vertex sliver
//! would hold a request for minutes. Here each ring's segments go into an R-tree
//! and only segments with overlapping bounding boxes are compared, under a fixed
//! budget of comparisons so that even an adversarial ring answers quickly (as
//! "too complex"). Ring-versus-ring relations, which are few, use geo's `Relate`
//! on prepared geometries (itself R-tree backed), as `geo::Validation` does.

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{
    BoundingRect, Coord, Intersects, Line, LineString, MultiPolygon, Polygon, PreparedGeometry,
    Relate,
};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::relate::IntersectionMatrix;

use crate::AreaError;

fn boundaries_share_line(im: &IntersectionMatrix) -> bool {
    im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional
}

fn interiors_overlap(im: &IntersectionMatrix) -> bool {
    im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional
}

/// Segment pairs compared at most (plus [`PAIR_BUDGET_PER_SEGMENT`] per
/// segment) before an area is refused as too complex to validate.
const PAIR_BUDGET_BASE: usize = 1_000_000;
const PAIR_BUDGET_PER_SEGMENT: usize = 16;
/// A ring enclosing less than this is treated as enclosing nothing.
const MIN_RING_AREA_M2: f64 = 1.0;

/// Checks every ring and the relations between rings and parts. Ring and
/// polygon numbers in errors are 0-based; ring 0 is a polygon's shell, ring k a
/// hole.
pub(crate) fn validate(mp: &MultiPolygon<f64>) -> Result<(), AreaError> {
    let segments: usize =
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| r.0.len())
            .sum();
    let mut budget = PAIR_BUDGET_BASE + PAIR_BUDGET_PER_SEGMENT * segments;
    for (pi, poly) in mp.0.iter().enumerate() {
        for (ri, ring) in std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .enumerate()
        {
            check_ring(ring, pi, ri, &mut budget, segments)?;
        }
        check_holes(poly, pi)?;
    }
    check_parts(mp)
}

/// A ring's vertices without consecutive repeats, each with its index in the
/// ring as given (so errors point at the caller's vertex numbers).
fn dedup(ring: &LineString<f64>) -> Vec<(Coord<f64>, usize)> {
    let mut out: Vec<(Coord<f64>, usize)> = Vec::with_capacity(ring.0.len());
    for (i, c) in ring.0.iter().enumerate() {
        if out.last().is_none_or(|(p, _)| p != c) {
            out.push((*c, i));
        }
    }
    out
}

type SegEntry = GeomWithData<Rectangle<[f64; 2]>, usize>;

fn check_ring(
    ring: &LineString<f64>,
    polygon: usize,
    ring_no: usize,
    budget: &mut usize,
    vertices: usize,
) -> Result<(), AreaError> {
    let pts = dedup(ring);
    // A closed ring of three distinct vertices has four positions; fewer
    // distinct vertices cannot enclose anything.
    if pts.len() < 4 {
        return Err(AreaError::TooFewPoints {
            polygon,
            ring: ring_no,
            points: pts.len(),
        });
    }
    let m = pts.len() - 1;
    let seg = |k: usize| Line::new(pts[k].0, pts[k + 1].0);
    let tree: RTree<SegEntry> = RTree::bulk_load(
        (0..m)
            .map(|k| {
                let r = seg(k).bounding_rect();
                GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    k,
                )
            })
            .collect(),
    );
    for k in 0..m {
        let a = seg(k);
        let r = a.bounding_rect();
        let env = rstar::AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        for e in tree.locate_in_envelope_intersecting(&env) {
            let j = e.data;
            if j <= k {
                continue;
            }
            *budget = budget
                .checked_sub(1)
                .ok_or(AreaError::TooComplex { vertices })?;
            let adjacent = j == k + 1 || (k == 0 && j == m - 1);
            let hit = match line_intersection(a, seg(j)) {
                None => None,
                // Neighbours share a vertex; only folding back onto each other
                // (a spike) is wrong.
                Some(LineIntersection::SinglePoint { .. }) if adjacent => None,
                Some(LineIntersection::SinglePoint { intersection, .. }) => Some(intersection),
                Some(LineIntersection::Collinear { intersection }) => Some(if adjacent {
                    // The shared vertex is where it folds back.
                    if j == k + 1 { a.end } else { a.start }
                } else {
                    intersection.start
                }),
            };
            if let Some(at) = hit {
                return Err(AreaError::SelfIntersection {
                    polygon,
                    ring: ring_no,
                    segment_a: pts[k].1,
                    segment_b: pts[j].1,
                    lat: at.y,
                    lng: at.x,
                });
            }
        }
    }
    let area_m2 = ring_area_m2(&pts);
    if area_m2 < MIN_RING_AREA_M2 {
        return Err(AreaError::ZeroArea {
            polygon,
            ring: ring_no,
            area_m2,
        });
    }
    Ok(())
}

/// Shoelace area in square metres, longitudes scaled by the ring's mean latitude.
fn ring_area_m2(pts: &[(Coord<f64>, usize)]) -> f64 {
    let lat0 = pts.iter().map(|(c, _)| c.y).sum::<f64>() / pts.len() as f64;
    let k = lat0.to_radians().cos();
    let o = pts[0].0;
    let twice: f64 = pts
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0].0 - o, w[1].0 - o);
            a.x * k * b.y - b.x * k * a.y
        })
        .sum();
    (twice / 2.0).abs() * crate::METRES_PER_DEGREE * crate::METRES_PER_DEGREE
}

fn ring_poly(r: &LineString<f64>) -> Polygon<f64> {
    Polygon::new(r.clone(), vec![])
}

fn check_holes(poly: &Polygon<f64>, polygon: usize) -> Result<(), AreaError> {
    if poly.interiors().is_empty() {
        return Ok(());
    }
    let shell = ring_poly(poly.exterior());
    let shell = PreparedGeometry::from(&shell);
    let holes: Vec<Polygon<f64>> = poly.interiors().iter().map(ring_poly).collect();
    for (h, hole) in holes.iter().enumerate() {
        let im = shell.relate(hole);
        if !im.is_contains() {
            return Err(AreaError::HoleOutsideShell {
                polygon,
                ring: h + 1,
            });
        }
        if boundaries_share_line(&im) {
            return Err(AreaError::RingsTouchOnALine {
                polygon,
                ring_a: 0,
                ring_b: h + 1,
            });
        }
        let hb = hole.bounding_rect();
        for (g, other) in holes.iter().enumerate().skip(h + 1) {
            if hb
                .zip(other.bounding_rect())
                .is_none_or(|(a, b)| !a.intersects(&b))
            {
                continue;
            }
            let im = hole.relate(other);
            if interiors_overlap(&im) {
                return Err(AreaError::HolesOverlap {
                    polygon,
                    ring_a: h + 1,
                    ring_b: g + 1,
                });
            }
            if boundaries_share_line(&im) {
                return Err(AreaError::RingsTouchOnALine {
                    polygon,
                    ring_a: h + 1,
                    ring_b: g + 1,
                });
            }
        }
    }
    Ok(())
}

/// A multipolygon's parts may touch at points but not overlap or share an edge
/// (shared edges mean they should be one polygon).
fn check_parts(mp: &MultiPolygon<f64>) -> Result<(), AreaError> {
    let rects: Vec<_> = mp.0.iter().map(|p| p.bounding_rect()).collect();
    for i in 0..mp.0.len() {
        for j in i + 1..mp.0.len() {
            if rects[i]
                .zip(rects[j])
                .is_none_or(|(a, b)| !a.intersects(&b))
            {
                continue;
            }
            let im = mp.0[i].relate(&mp.0[j]);
            if interiors_overlap(&im) {
                return Err(AreaError::PolygonsOverlap {
                    polygon_a: i,
                    polygon_b: j,
                });
            }
        }
    }
    Ok(())
}
