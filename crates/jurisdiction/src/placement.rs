//! Whether an area fits the tree: it must not overlap a sibling's area (two
//! stations answering for the same street would leave lookup to pick the lower
//! id) and must lie within its parent's area when the parent has one.
//!
//! Shared borders are fine; a small overlap or overhang is tolerated because
//! real boundaries are digitised independently and never meet exactly.
//! Candidate siblings come from the R-trees' bounding boxes, so only neighbours
//! pay for the polygon clipping.

use geo::{Area, BooleanOps, BoundingRect, MultiPolygon};
use rstar::AABB;
use thiserror::Error;

use crate::{Jurisdiction, METRES_PER_DEGREE, OrgKind, scale};

/// How much overlap and overhang is accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// An overlap with a sibling is refused once it exceeds this many m² …
    pub overlap_m2: f64,
    /// … or this fraction of the smaller of the two areas, whichever is less.
    pub overlap_fraction: f64,
    /// The fraction of an area that may lie outside its parent's area.
    pub outside_fraction: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            overlap_m2: 1_000.0,
            overlap_fraction: 0.01,
            outside_fraction: 0.01,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum PlacementError {
    #[error(
        "area overlaps sibling {code} {name} (org {id}) by {overlap_m2:.0} m², more than the {tolerance_m2:.0} m² tolerated"
    )]
    OverlapsSibling {
        id: i64,
        code: String,
        name: String,
        overlap_m2: f64,
        tolerance_m2: f64,
    },
    #[error(
        "{outside_pct:.1}% of the area lies outside its parent {code} {name} (org {id}); at most {allowed_pct:.1}% may"
    )]
    OutsideParent {
        id: i64,
        code: String,
        name: String,
        outside_pct: f64,
        allowed_pct: f64,
    },
    #[error(
        "child {code} {name} (org {id}) would lie {outside_pct:.1}% outside this area; at most {allowed_pct:.1}% may"
    )]
    LeavesChildOutside {
        id: i64,
        code: String,
        name: String,
        outside_pct: f64,
        allowed_pct: f64,
    },
}

impl Jurisdiction {
    /// Checks that `area`, given to node `id` (None for a node not yet created)
    /// of `kind` under `parent_id`, neither overlaps a sibling (another node of
    /// the same kind under the same parent; `id` itself is skipped) nor lies
    /// outside the parent's area beyond `tol`, nor leaves one of `id`'s children
    /// outside it beyond `tol`.
    pub fn check_placement(
        &self,
        id: Option<i64>,
        kind: OrgKind,
        parent_id: Option<i64>,
        area: &MultiPolygon<f64>,
        tol: Tolerance,
    ) -> Result<(), PlacementError> {
        let mine = scale(area, self.cos_lat0);
        let m2 = METRES_PER_DEGREE * METRES_PER_DEGREE;
        let my_area = mine.unsigned_area() * m2;
        let Some(rect) = mine.bounding_rect() else {
            return Ok(());
        };
        let env = AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        let candidates: Vec<usize> = match kind {
            OrgKind::Station => self
                .stations
                .locate_in_envelope_intersecting(&env)
                .map(|e| e.data)
                .collect(),
            OrgKind::District => self
                .districts
                .locate_in_envelope_intersecting(&env)
                .map(|e| e.data)
                .collect(),
            // City bureaus are few and not indexed.
            OrgKind::City => (0..self.nodes.len())
                .filter(|&i| self.nodes[i].kind == OrgKind::City)
                .collect(),
        };
        let mut siblings: Vec<usize> = candidates
            .into_iter()
            .filter(|&i| {
                let n = &self.nodes[i];
                n.parent_id == parent_id && Some(n.id) != id && n.kind == kind
            })
            .collect();
        siblings.sort_by_key(|&i| self.nodes[i].id);
        for i in siblings {
            let Some(theirs) = self.scaled[i].as_ref() else {
                continue;
            };
            if theirs
                .bounding_rect()
                .is_none_or(|r| !geo::Intersects::intersects(&r, &rect))
            {
                continue;
            }
            let overlap_m2 = mine.intersection(theirs).unsigned_area() * m2;
            let smaller = my_area.min(theirs.unsigned_area() * m2);
            let tolerance_m2 = tol.overlap_m2.min(tol.overlap_fraction * smaller);
            if overlap_m2 > tolerance_m2 {
                let n = &self.nodes[i];
                return Err(PlacementError::OverlapsSibling {
                    id: n.id,
                    code: n.code.clone(),
                    name: n.name.clone(),
                    overlap_m2,
                    tolerance_m2,
                });
            }
        }
        let outside_pct = |inner: &MultiPolygon<f64>, outer: &MultiPolygon<f64>| {
            let a = inner.unsigned_area();
            let f = if a > 0.0 {
                inner.difference(outer).unsigned_area() / a
            } else {
                0.0
            };
            (f > tol.outside_fraction).then_some(f * 100.0)
        };
        let allowed_pct = tol.outside_fraction * 100.0;
        if let Some(pi) = parent_id.and_then(|p| self.by_id.get(&p).copied())
            && let Some(parent) = self.scaled[pi].as_ref()
            && let Some(outside_pct) = outside_pct(&mine, parent)
        {
            let n = &self.nodes[pi];
            return Err(PlacementError::OutsideParent {
                id: n.id,
                code: n.code.clone(),
                name: n.name.clone(),
                outside_pct,
                allowed_pct,
            });
        }
        // Shrinking a district must not leave its stations hanging outside.
        let mut children: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| id.is_some() && self.nodes[i].parent_id == id)
            .collect();
        children.sort_by_key(|&i| self.nodes[i].id);
        for i in children {
            if let Some(child) = self.scaled[i].as_ref()
                && let Some(outside_pct) = outside_pct(child, &mine)
            {
                let n = &self.nodes[i];
                return Err(PlacementError::LeavesChildOutside {
                    id: n.id,
                    code: n.code.clone(),
                    name: n.name.clone(),
                    outside_pct,
                    allowed_pct,
                });
            }
        }
        Ok(())
    }
}
