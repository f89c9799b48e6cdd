//! The road graph: nodes, ways, directed segments, adjacency, and plain Dijkstra.
//!
//! Built by a pure function from the importer's output. Every consecutive node
//! pair of a way is one segment with an integer travel time in milliseconds, so
//! the contraction hierarchy and Dijkstra compare exactly. Only the largest
//! strongly connected component is kept: a point snapped onto an isolated scrap
//! (a private car park behind an access gate, an extract's clipped edge) would
//! otherwise have no route to anywhere.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use pingan_core::{BBox, LatLng};

use crate::osm::OsmRoads;
use crate::profile::{Direction, HighwayClass};

/// Index of a node in a [`RoadGraph`].
pub type NodeId = u32;

/// Attributes shared by every segment of one OSM way.
#[derive(Debug, Clone, PartialEq)]
pub struct WayInfo {
    pub name: Option<String>,
    pub name_zh: Option<String>,
    pub class: HighwayClass,
    pub direction: Direction,
    pub speed_kmh: f64,
}

impl WayInfo {
    /// The Chinese name when tagged, else the plain name.
    pub fn display_name(&self) -> Option<&str> {
        self.name_zh.as_deref().or(self.name.as_deref())
    }
}

/// One piece of a way between two consecutive nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub a: NodeId,
    pub b: NodeId,
    pub way: u32,
    pub length_m: f64,
    /// Travel time along the whole segment, ≥ 1 ms.
    pub weight_ms: u32,
}

/// A directed adjacency entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arc {
    pub(crate) to: NodeId,
    pub(crate) weight_ms: u32,
    pub(crate) segment: u32,
}

/// Compressed adjacency lists (one per direction).
#[derive(Debug, Clone, Default)]
pub(crate) struct Adjacency {
    first: Vec<u32>,
    arcs: Vec<Arc>,
}

impl Adjacency {
    fn build(n: usize, mut edges: Vec<(NodeId, Arc)>) -> Self {
        edges.sort_by_key(|(from, arc)| (*from, arc.to, arc.weight_ms));
        let mut first = vec![0u32; n + 1];
        for (from, _) in &edges {
            first[*from as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        Adjacency {
            first,
            arcs: edges.into_iter().map(|(_, a)| a).collect(),
        }
    }

    pub(crate) fn of(&self, node: NodeId) -> &[Arc] {
        &self.arcs[self.first[node as usize] as usize..self.first[node as usize + 1] as usize]
    }

    fn byte_size(&self) -> usize {
        self.first.len() * 4 + self.arcs.len() * std::mem::size_of::<Arc>()
    }
}

/// A routable road network for cars.
#[derive(Debug, Clone)]
pub struct RoadGraph {
    coords: Vec<[f64; 2]>,
    ways: Vec<WayInfo>,
    segments: Vec<Segment>,
    out: Adjacency,
    inc: Adjacency,
}

/// Counts reported after import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphStats {
    pub nodes: usize,
    pub segments: usize,
    /// Directed arcs (a two-way segment counts twice).
    pub arcs: usize,
    pub ways: usize,
    pub oneway_segments: usize,
}

impl RoadGraph {
    /// Builds the graph from imported ways: drops nodes the file lacked (splitting
    /// ways there), then keeps the largest strongly connected component.
    pub(crate) fn from_osm(roads: OsmRoads) -> RoadGraph {
        let mut ways = Vec::with_capacity(roads.ways.len());
        let mut segments = Vec::new();
        for way in roads.ways {
            let way_idx = ways.len() as u32;
            for pair in way.nodes.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                let (pa, pb) = (roads.coords[a as usize], roads.coords[b as usize]);
                if a == b || pa[0].is_nan() || pb[0].is_nan() {
                    continue;
                }
                let length_m = haversine(pa, pb);
                segments.push(Segment {
                    a,
                    b,
                    way: way_idx,
                    length_m,
                    weight_ms: weight_ms(length_m, way.profile.speed_kmh),
                });
            }
            ways.push(WayInfo {
                name: way.profile.name,
                name_zh: way.profile.name_zh,
                class: way.profile.class,
                direction: way.profile.direction,
                speed_kmh: way.profile.speed_kmh,
            });
        }
        RoadGraph::from_parts_filtered(roads.coords, ways, segments)
    }

    /// Keeps the largest strongly connected component and renumbers nodes densely
    /// in order of first use, so the same input always gives the same graph.
    fn from_parts_filtered(
        coords: Vec<[f64; 2]>,
        ways: Vec<WayInfo>,
        segments: Vec<Segment>,
    ) -> RoadGraph {
        let n = coords.len();
        let arcs = directed_arcs(&ways, &segments);
        let keep = largest_scc(n, &arcs);
        let mut remap = vec![u32::MAX; n];
        let mut new_coords = Vec::new();
        let mut kept = Vec::with_capacity(segments.len());
        for s in segments {
            if !(keep[s.a as usize] && keep[s.b as usize]) {
                continue;
            }
            for v in [s.a, s.b] {
                if remap[v as usize] == u32::MAX {
                    remap[v as usize] = new_coords.len() as u32;
                    new_coords.push(coords[v as usize]);
                }
            }
            kept.push(Segment {
                a: remap[s.a as usize],
                b: remap[s.b as usize],
                ..s
            });
        }
        RoadGraph::from_parts(new_coords, ways, kept)
    }

    /// Assembles a graph from already-consistent parts (also used by the cache).
    pub(crate) fn from_parts(
        coords: Vec<[f64; 2]>,
        ways: Vec<WayInfo>,
        segments: Vec<Segment>,
    ) -> RoadGraph {
        let n = coords.len();
        let arcs = directed_arcs(&ways, &segments);
        let out = Adjacency::build(
            n,
            arcs.iter()
                .map(|&(from, to, weight_ms, segment)| {
                    (
                        from,
                        Arc {
                            to,
                            weight_ms,
                            segment,
                        },
                    )
                })
                .collect(),
        );
        let inc = Adjacency::build(
            n,
            arcs.iter()
                .map(|&(from, to, weight_ms, segment)| {
                    (
                        to,
                        Arc {
                            to: from,
                            weight_ms,
                            segment,
                        },
                    )
                })
                .collect(),
        );
        RoadGraph {
            coords,
            ways,
            segments,
            out,
            inc,
        }
    }

    pub fn node_count(&self) -> usize {
        self.coords.len()
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn ways(&self) -> &[WayInfo] {
        &self.ways
    }

    pub fn way(&self, segment: &Segment) -> &WayInfo {
        &self.ways[segment.way as usize]
    }

    /// The position of a node.
    ///
    /// # Panics
    /// When `node` is not a node of this graph.
    pub fn node_position(&self, node: NodeId) -> LatLng {
        let [lat, lng] = self.coords[node as usize];
        LatLng::new(lat, lng).expect("graph coordinates are validated at import")
    }

    /// The smallest box holding every node (for an extract, its road
    /// network's extent; points far outside it are outside the city).
    pub fn bbox(&self) -> BBox {
        let mut b = BBox {
            min_lat: f64::INFINITY,
            min_lng: f64::INFINITY,
            max_lat: f64::NEG_INFINITY,
            max_lng: f64::NEG_INFINITY,
        };
        for c in &self.coords {
            b.min_lat = b.min_lat.min(c[0]);
            b.min_lng = b.min_lng.min(c[1]);
            b.max_lat = b.max_lat.max(c[0]);
            b.max_lng = b.max_lng.max(c[1]);
        }
        b
    }

    pub(crate) fn coords(&self) -> &[[f64; 2]] {
        &self.coords
    }

    #[cfg(test)]
    pub(crate) fn out_arcs(&self, node: NodeId) -> &[Arc] {
        self.out.of(node)
    }

    pub(crate) fn in_arcs(&self, node: NodeId) -> &[Arc] {
        self.inc.of(node)
    }

    /// Every directed arc `(from, to, weight_ms)`, the input of the hierarchy.
    pub(crate) fn arcs(&self) -> impl Iterator<Item = (NodeId, NodeId, u32)> + '_ {
        (0..self.coords.len() as u32).flat_map(move |from| {
            self.out
                .of(from)
                .iter()
                .map(move |a| (from, a.to, a.weight_ms))
        })
    }

    pub fn stats(&self) -> GraphStats {
        GraphStats {
            nodes: self.coords.len(),
            segments: self.segments.len(),
            arcs: self.out.arcs.len(),
            ways: self.ways.len(),
            oneway_segments: self
                .segments
                .iter()
                .filter(|s| self.way(s).direction.is_oneway())
                .count(),
        }
    }

    /// Approximate heap bytes held by the graph (coordinates, segments, ways and
    /// both adjacency arrays).
    pub fn byte_size(&self) -> usize {
        self.coords.len() * 16
            + self.segments.len() * std::mem::size_of::<Segment>()
            + self
                .ways
                .iter()
                .map(|w| {
                    std::mem::size_of::<WayInfo>()
                        + w.name.as_ref().map_or(0, String::len)
                        + w.name_zh.as_ref().map_or(0, String::len)
                })
                .sum::<usize>()
            + self.out.byte_size()
            + self.inc.byte_size()
    }

    /// Plain Dijkstra between two nodes: travel time in ms, or `None` when
    /// unreachable. The reference the contraction hierarchy is checked against.
    ///
    /// # Panics
    /// When a node id is out of range.
    pub fn dijkstra(&self, source: NodeId, target: NodeId) -> Option<u64> {
        self.dijkstra_multi(&[(source, 0)], &[(target, 0)])
    }

    /// Dijkstra from several weighted sources to the cheapest of several weighted
    /// targets (`(node, initial cost in ms)`).
    pub(crate) fn dijkstra_multi(
        &self,
        sources: &[(NodeId, u64)],
        targets: &[(NodeId, u64)],
    ) -> Option<u64> {
        let n = self.coords.len();
        let mut dist = vec![u64::MAX; n];
        let mut target_extra = vec![u64::MAX; n];
        for &(t, extra) in targets {
            target_extra[t as usize] = target_extra[t as usize].min(extra);
        }
        let mut heap = BinaryHeap::new();
        for &(s, d) in sources {
            if d < dist[s as usize] {
                dist[s as usize] = d;
                heap.push(Reverse((d, s)));
            }
        }
        let mut best = u64::MAX;
        while let Some(Reverse((d, u))) = heap.pop() {
            if d > dist[u as usize] {
                continue;
            }
            if d >= best {
                break;
            }
            let extra = target_extra[u as usize];
            if extra != u64::MAX {
                best = best.min(d + extra);
            }
            for arc in self.out.of(u) {
                let nd = d + u64::from(arc.weight_ms);
                if nd < dist[arc.to as usize] {
                    dist[arc.to as usize] = nd;
                    heap.push(Reverse((nd, arc.to)));
                }
            }
        }
        (best != u64::MAX).then_some(best)
    }

    /// Length in metres of the cheapest arc `from → to` (what a path through
    /// those nodes actually drove).
    pub(crate) fn arc_length(&self, from: NodeId, to: NodeId) -> Option<f64> {
        self.out
            .of(from)
            .iter()
            .filter(|a| a.to == to)
            .min_by_key(|a| a.weight_ms)
            .map(|a| self.segments[a.segment as usize].length_m)
    }

    /// Weight of the cheapest arc `from → to`.
    pub(crate) fn arc_weight(&self, from: NodeId, to: NodeId) -> Option<u32> {
        self.out
            .of(from)
            .iter()
            .filter(|a| a.to == to)
            .map(|a| a.weight_ms)
            .min()
    }
}

/// Travel time in whole milliseconds, never zero (a zero arc would let the
/// hierarchy and Dijkstra pick different but equal-cost paths through loops).
pub(crate) fn weight_ms(length_m: f64, speed_kmh: f64) -> u32 {
    let ms = (length_m / (speed_kmh / 3.6) * 1000.0).round();
    (ms as u32).max(1)
}

/// Great-circle distance between two `[lat, lng]` pairs, in metres.
pub(crate) fn haversine(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (p1, p2) = (a[0].to_radians(), b[0].to_radians());
    let dp = p2 - p1;
    let dl = (b[1] - a[1]).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * pingan_core::geo::EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// `(from, to, weight_ms, segment)` for every direction a car may use.
fn directed_arcs(ways: &[WayInfo], segments: &[Segment]) -> Vec<(NodeId, NodeId, u32, u32)> {
    let mut arcs = Vec::with_capacity(segments.len() * 2);
    for (i, s) in segments.iter().enumerate() {
        let dir = ways[s.way as usize].direction;
        if dir.forward() {
            arcs.push((s.a, s.b, s.weight_ms, i as u32));
        }
        if dir.backward() {
            arcs.push((s.b, s.a, s.weight_ms, i as u32));
        }
    }
    arcs
}

/// Marks the nodes of the largest strongly connected component (Kosaraju, with
/// explicit stacks so a long road chain cannot overflow the call stack).
fn largest_scc(n: usize, arcs: &[(NodeId, NodeId, u32, u32)]) -> Vec<bool> {
    let fwd = Adjacency::build(
        n,
        arcs.iter()
            .map(|&(f, t, w, s)| {
                (
                    f,
                    Arc {
                        to: t,
                        weight_ms: w,
                        segment: s,
                    },
                )
            })
            .collect(),
    );
    let bwd = Adjacency::build(
        n,
        arcs.iter()
            .map(|&(f, t, w, s)| {
                (
                    t,
                    Arc {
                        to: f,
                        weight_ms: w,
                        segment: s,
                    },
                )
            })
            .collect(),
    );
    // Pass 1: finishing order on the forward graph.
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<(NodeId, usize)> = Vec::new();
    for start in 0..n as u32 {
        if visited[start as usize] {
            continue;
        }
        visited[start as usize] = true;
        stack.push((start, 0));
        while let Some(&mut (u, ref mut next)) = stack.last_mut() {
            let arcs = fwd.of(u);
            if *next < arcs.len() {
                let v = arcs[*next].to;
                *next += 1;
                if !visited[v as usize] {
                    visited[v as usize] = true;
                    stack.push((v, 0));
                }
            } else {
                order.push(u);
                stack.pop();
            }
        }
    }
    // Pass 2: components on the reverse graph in reverse finishing order.
    let mut comp = vec![u32::MAX; n];
    let mut sizes: Vec<usize> = Vec::new();
    let mut todo = Vec::new();
    for &root in order.iter().rev() {
        if comp[root as usize] != u32::MAX {
            continue;
        }
        let c = sizes.len() as u32;
        let mut size = 0;
        comp[root as usize] = c;
        todo.push(root);
        while let Some(u) = todo.pop() {
            size += 1;
            for a in bwd.of(u) {
                if comp[a.to as usize] == u32::MAX {
                    comp[a.to as usize] = c;
                    todo.push(a.to);
                }
            }
        }
        sizes.push(size);
    }
    // Nodes no arc touches are singleton components; they never win unless the
    // graph has no arcs, in which case nothing is kept.
    let biggest = sizes
        .iter()
        .enumerate()
        .max_by_key(|&(i, s)| (*s, Reverse(i)))
        .map(|(i, _)| i as u32);
    comp.iter()
        .map(|&c| Some(c) == biggest && sizes[c as usize] > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osm::import_xml_bytes;

    fn graph(xml: &str) -> RoadGraph {
        RoadGraph::from_osm(import_xml_bytes(xml.as_bytes()).unwrap())
    }

    #[test]
    fn weights_are_integer_ms() {
        assert_eq!(weight_ms(100.0, 36.0), 10_000);
        assert_eq!(weight_ms(0.0, 36.0), 1);
    }

    #[test]
    fn oneway_dead_end_is_dropped_and_oneway_respected() {
        // A two-way square 1-2-3-4 plus a one-way spur 4→5 that cannot come back.
        let xml = r#"<osm version="0.6">
          <node id="1" lat="30.000" lon="104.000"/><node id="2" lat="30.001" lon="104.000"/>
          <node id="3" lat="30.001" lon="104.001"/><node id="4" lat="30.000" lon="104.001"/>
          <node id="5" lat="29.999" lon="104.002"/>
          <way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
          <way id="2"><nd ref="3"/><nd ref="4"/><nd ref="1"/><tag k="highway" v="residential"/></way>
          <way id="3"><nd ref="4"/><nd ref="5"/><tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
        </osm>"#;
        let g = graph(xml);
        assert_eq!(g.node_count(), 4);
        assert_eq!(g.segments().len(), 4);
        let s = g.stats();
        assert_eq!((s.arcs, s.oneway_segments), (6, 2));
        // Node order is first use: 1→0, 2→1, 3→2, 4→3.
        let one = g.dijkstra(0, 1).unwrap();
        // 0→1 goes along the one-way directly; 1→0 must go round 1→2→3→0.
        let back = g.dijkstra(1, 0).unwrap();
        assert!(back > 2 * one, "{one} {back}");
        assert_eq!(
            back,
            [(1, 2), (2, 3), (3, 0)]
                .iter()
                .map(|&(a, b)| u64::from(
                    g.out_arcs(a).iter().find(|x| x.to == b).unwrap().weight_ms
                ))
                .sum::<u64>()
        );
    }
}
