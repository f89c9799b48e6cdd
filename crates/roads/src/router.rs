//! The router: contraction hierarchy over a [`RoadGraph`], snapping points to the
//! nearest road segment, point-to-point routes and many-to-one ETAs.
//!
//! A snapped point sits part-way along one segment. Leaving it costs the
//! remaining part of that segment towards whichever end the segment's direction
//! allows; arriving costs the part from the entry end. These partial costs are
//! rounded to whole milliseconds once, so the hierarchy and Dijkstra see the very
//! same integer problem and agree exactly.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

use fast_paths::{FastGraph, InputGraph, PathCalculator};
use pingan_core::LatLng;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

use crate::graph::{NodeId, RoadGraph, Segment, WayInfo};
use crate::streets::StreetIndex;

/// Travel time and driven distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eta {
    pub millis: u64,
    pub metres: f64,
}

impl Eta {
    pub fn secs(&self) -> f64 {
        self.millis as f64 / 1000.0
    }
}

/// A route with its geometry, from the snapped start to the snapped end.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub eta: Eta,
    pub path: Vec<LatLng>,
    /// Milliseconds from the start at which each point of `path` is reached
    /// (same length as `path`, non-decreasing, last = `eta.millis`).
    pub times_ms: Vec<u64>,
}

impl Route {
    /// Where a vehicle following the route is `elapsed_ms` after leaving,
    /// interpolated along the path (clamped to the start and the end).
    pub fn position_at(&self, elapsed_ms: u64) -> LatLng {
        let i = self.times_ms.partition_point(|&t| t <= elapsed_ms);
        if i == 0 {
            return self.path[0];
        }
        if i >= self.path.len() {
            return *self.path.last().expect("a route has at least one point");
        }
        let (t0, t1) = (self.times_ms[i - 1], self.times_ms[i]);
        let (a, b) = (self.path[i - 1], self.path[i]);
        let f = if t1 > t0 {
            (elapsed_ms - t0) as f64 / (t1 - t0) as f64
        } else {
            1.0
        };
        LatLng::new(
            a.lat() + (b.lat() - a.lat()) * f,
            a.lng() + (b.lng() - a.lng()) * f,
        )
        .expect("interpolation between valid coordinates is valid")
    }
}

/// A point placed on the nearest road segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snap {
    segment: u32,
    /// Position along the segment: 0 at its first node, 1 at its second.
    fraction: f64,
    point: LatLng,
    distance_m: f64,
}

impl Snap {
    /// The point on the road.
    pub fn point(&self) -> LatLng {
        self.point
    }

    /// Straight-line distance from the queried point to the road, in metres.
    pub fn distance_m(&self) -> f64 {
        self.distance_m
    }

    /// Index of the segment in [`RoadGraph::segments`].
    pub fn segment(&self) -> usize {
        self.segment as usize
    }

    pub fn fraction(&self) -> f64 {
        self.fraction
    }
}

/// How [`Router::nearest_by_eta_with`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtaStrategy {
    /// One Dijkstra backwards from the target, stopped once the k best sources
    /// are final (the default: one search whatever the number of sources).
    ReverseDijkstra,
    /// Sources in order of straight-line distance, one hierarchy query each,
    /// stopped when the straight-line lower bound exceeds the k-th best ETA.
    ChPruned,
}

type SegmentGeom = GeomWithData<Line<[f64; 2]>, u32>;

/// Equirectangular projection to metres around the graph's centre, accurate to
/// well under a metre across a city; used only to find and project onto the
/// nearest segment.
#[derive(Debug, Clone, Copy)]
struct Projection {
    lat0: f64,
    lng0: f64,
    kx: f64,
    ky: f64,
}

impl Projection {
    fn new(center_lat: f64, center_lng: f64) -> Self {
        // Metres per degree of latitude.
        let ky = pingan_core::geo::EARTH_RADIUS_M.to_radians();
        Projection {
            lat0: center_lat,
            lng0: center_lng,
            kx: ky * center_lat.to_radians().cos(),
            ky,
        }
    }

    fn to_xy(self, lat: f64, lng: f64) -> [f64; 2] {
        [(lng - self.lng0) * self.kx, (lat - self.lat0) * self.ky]
    }
}

/// A prepared road network: graph, hierarchy, segment index and street index.
/// Shareable across threads; queries take `&self`.
pub struct Router {
    graph: RoadGraph,
    ch: FastGraph,
    tree: RTree<SegmentGeom>,
    projection: Projection,
    streets: StreetIndex,
    /// Reused query state: a calculator holds per-node arrays, too costly to
    /// allocate per query.
    calculators: Mutex<Vec<PathCalculator>>,
    /// Reused state of the backward many-to-one search, for the same reason.
    searches: Mutex<Vec<SearchSpace>>,
    /// Largest metres per millisecond of any arc, for admissible lower bounds.
    max_m_per_ms: f64,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("stats", &self.graph.stats())
            .finish_non_exhaustive()
    }
}

/// Builds the contraction hierarchy for a graph (the expensive step).
pub(crate) fn prepare_ch(graph: &RoadGraph) -> FastGraph {
    let mut input = InputGraph::new();
    for (from, to, w) in graph.arcs() {
        input.add_edge(from as usize, to as usize, w as usize);
    }
    input.freeze();
    // Every node of the kept component has arcs, so the hierarchy's node ids
    // are exactly the graph's.
    debug_assert_eq!(input.get_num_nodes(), graph.node_count());
    fast_paths::prepare(&input)
}

impl Router {
    /// Prepares a router: builds the hierarchy and the indices.
    pub fn new(graph: RoadGraph) -> Router {
        let ch = prepare_ch(&graph);
        Router::from_prepared(graph, ch)
    }

    /// Assembles a router from a graph and its already-built hierarchy.
    pub(crate) fn from_prepared(graph: RoadGraph, ch: FastGraph) -> Router {
        let coords = graph.coords();
        let (mut lat, mut lng) = (0.0, 0.0);
        for c in coords {
            lat += c[0];
            lng += c[1];
        }
        let n = coords.len().max(1) as f64;
        let projection = Projection::new(lat / n, lng / n);
        let geoms = graph
            .segments()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let a = coords[s.a as usize];
                let b = coords[s.b as usize];
                GeomWithData::new(
                    Line::new(projection.to_xy(a[0], a[1]), projection.to_xy(b[0], b[1])),
                    i as u32,
                )
            })
            .collect();
        let tree = RTree::bulk_load(geoms);
        let max_m_per_ms = graph
            .segments()
            .iter()
            .map(|s| s.length_m / f64::from(s.weight_ms))
            .fold(0.0, f64::max);
        let streets = StreetIndex::build(&graph);
        Router {
            graph,
            ch,
            tree,
            projection,
            streets,
            calculators: Mutex::new(Vec::new()),
            searches: Mutex::new(Vec::new()),
            max_m_per_ms,
        }
    }

    pub fn graph(&self) -> &RoadGraph {
        &self.graph
    }

    pub fn streets(&self) -> &StreetIndex {
        &self.streets
    }

    pub(crate) fn ch(&self) -> &FastGraph {
        &self.ch
    }

    /// Bytes of the hierarchy's arrays (shortcuts included).
    pub fn ch_byte_size(&self) -> usize {
        // An edge is five machine words (base, adj, weight, two replaced edges).
        let edge = 5 * std::mem::size_of::<usize>();
        let n = self.ch.get_num_nodes();
        (self.ch.get_num_out_edges() + self.ch.get_num_in_edges()) * edge
            + n * 3 * std::mem::size_of::<usize>()
    }

    /// The way a snapped point lies on.
    pub fn way_of(&self, snap: &Snap) -> &WayInfo {
        self.graph
            .way(&self.graph.segments()[snap.segment as usize])
    }

    /// Places a point on the nearest road segment (perpendicular projection,
    /// clamped to the segment's ends).
    pub fn snap(&self, p: LatLng) -> Snap {
        let q = self.projection.to_xy(p.lat(), p.lng());
        let nearest = self
            .tree
            .nearest_neighbor(&q)
            .expect("a router always has at least one segment");
        let seg = self.graph.segments()[nearest.data as usize];
        let [ax, ay] = nearest.geom().from;
        let [bx, by] = nearest.geom().to;
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 {
            (((q[0] - ax) * dx + (q[1] - ay) * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let a = self.graph.coords()[seg.a as usize];
        let b = self.graph.coords()[seg.b as usize];
        let point = LatLng::new(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
            .expect("interpolation between valid coordinates is valid");
        Snap {
            segment: nearest.data,
            fraction: t,
            point,
            distance_m: p.distance_m(&point),
        }
    }

    /// Snaps, refusing points farther than `max_m` from every road.
    pub fn snap_within(&self, p: LatLng, max_m: f64) -> Option<Snap> {
        let s = self.snap(p);
        (s.distance_m <= max_m).then_some(s)
    }

    fn seg(&self, snap: &Snap) -> (Segment, &WayInfo) {
        let s = self.graph.segments()[snap.segment as usize];
        (s, self.graph.way(&s))
    }

    /// Ways out of a snapped start: `(node, ms, metres)` to reach each allowed end.
    fn departures(&self, snap: &Snap) -> Ends {
        let (s, way) = self.seg(snap);
        let t = snap.fraction;
        let mut v = Ends::default();
        if way.direction.forward() {
            v.push((s.b, partial(s.weight_ms, 1.0 - t), s.length_m * (1.0 - t)));
        }
        if way.direction.backward() {
            v.push((s.a, partial(s.weight_ms, t), s.length_m * t));
        }
        v
    }

    /// Ways into a snapped end: `(node, ms, metres)` from each allowed entry end.
    fn arrivals(&self, snap: &Snap) -> Ends {
        let (s, way) = self.seg(snap);
        let t = snap.fraction;
        let mut v = Ends::default();
        if way.direction.forward() {
            v.push((s.a, partial(s.weight_ms, t), s.length_m * t));
        }
        if way.direction.backward() {
            v.push((s.b, partial(s.weight_ms, 1.0 - t), s.length_m * (1.0 - t)));
        }
        v
    }

    /// Driving straight along a shared segment without touching a node, when the
    /// direction allows.
    fn same_segment(&self, from: &Snap, to: &Snap) -> Option<Eta> {
        if from.segment != to.segment {
            return None;
        }
        let (s, way) = self.seg(from);
        let (t0, t1) = (from.fraction, to.fraction);
        let ok = (t1 >= t0 && way.direction.forward()) || (t1 <= t0 && way.direction.backward());
        ok.then(|| Eta {
            millis: partial(s.weight_ms, (t1 - t0).abs()),
            metres: s.length_m * (t1 - t0).abs(),
        })
    }

    fn with_calculator<T>(&self, f: impl FnOnce(&mut PathCalculator) -> T) -> T {
        let mut calc = self
            .calculators
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| fast_paths::create_calculator(&self.ch));
        let out = f(&mut calc);
        self.calculators
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(calc);
        out
    }

    /// Hierarchy query between snapped points: best time and the node path used.
    fn ch_query(
        &self,
        calc: &mut PathCalculator,
        from: &Snap,
        to: &Snap,
    ) -> Option<(u64, Vec<usize>)> {
        let starts: Vec<(usize, usize)> = self
            .departures(from)
            .iter()
            .map(|&(n, ms, _)| (n as usize, ms as usize))
            .collect();
        let ends: Vec<(usize, usize)> = self
            .arrivals(to)
            .iter()
            .map(|&(n, ms, _)| (n as usize, ms as usize))
            .collect();
        let via_nodes = calc
            .calc_path_multiple_sources_and_targets(&self.ch, starts, ends)
            // The weight includes the start and end offsets.
            .map(|p| (p.get_weight() as u64, p.get_nodes().clone()));
        let direct = self.same_segment(from, to).map(|e| e.millis);
        match (via_nodes, direct) {
            (Some((w, _)), Some(d)) if d <= w => Some((d, Vec::new())),
            (Some(x), _) => Some(x),
            (None, Some(d)) => Some((d, Vec::new())),
            (None, None) => None,
        }
    }

    /// Metres driven for a node path between two snaps (empty path: same segment).
    fn path_metres(&self, from: &Snap, to: &Snap, nodes: &[usize]) -> f64 {
        let (Some(&first), Some(&last)) = (nodes.first(), nodes.last()) else {
            return self.same_segment(from, to).map_or(0.0, |e| e.metres);
        };
        let start = self
            .departures(from)
            .into_iter()
            .filter(|d| d.0 as usize == first)
            .min_by_key(|d| d.1)
            .map_or(0.0, |d| d.2);
        let end = self
            .arrivals(to)
            .into_iter()
            .filter(|d| d.0 as usize == last)
            .min_by_key(|d| d.1)
            .map_or(0.0, |d| d.2);
        let middle: f64 = nodes
            .windows(2)
            .map(|w| {
                self.graph
                    .arc_length(w[0] as NodeId, w[1] as NodeId)
                    .unwrap_or(0.0)
            })
            .sum();
        start + middle + end
    }

    /// Travel time and distance by road between two snapped points (hierarchy).
    pub fn eta(&self, from: &Snap, to: &Snap) -> Option<Eta> {
        self.with_calculator(|calc| {
            let (millis, nodes) = self.ch_query(calc, from, to)?;
            Some(Eta {
                millis,
                metres: self.path_metres(from, to, &nodes),
            })
        })
    }

    /// Snaps both points and routes between them.
    pub fn eta_points(&self, from: LatLng, to: LatLng) -> Option<Eta> {
        self.eta(&self.snap(from), &self.snap(to))
    }

    /// The route with its geometry, for moving a unit along the road.
    pub fn route(&self, from: &Snap, to: &Snap) -> Option<Route> {
        self.with_calculator(|calc| {
            let (millis, nodes) = self.ch_query(calc, from, to)?;
            let mut path = vec![from.point];
            let mut times_ms = vec![0];
            if let Some(&first) = nodes.first() {
                let mut t = self
                    .departures(from)
                    .into_iter()
                    .filter(|d| d.0 as usize == first)
                    .map(|d| d.1)
                    .min()
                    .unwrap_or(0);
                path.push(self.graph.node_position(first as NodeId));
                times_ms.push(t);
                for w in nodes.windows(2) {
                    t += u64::from(
                        self.graph
                            .arc_weight(w[0] as NodeId, w[1] as NodeId)
                            .unwrap_or(0),
                    );
                    path.push(self.graph.node_position(w[1] as NodeId));
                    times_ms.push(t);
                }
            }
            path.push(to.point);
            times_ms.push(millis);
            // A snap exactly on a node repeats that point; keep one (the times
            // agree there, the partial segment being empty).
            let mut keep = vec![true; path.len()];
            for i in 1..path.len() {
                keep[i] = path[i] != path[i - 1];
            }
            let mut k = keep.iter();
            path.retain(|_| *k.next().unwrap_or(&true));
            let mut k = keep.iter();
            times_ms.retain(|_| *k.next().unwrap_or(&true));
            Some(Route {
                eta: Eta {
                    millis,
                    metres: self.path_metres(from, to, &nodes),
                },
                path,
                times_ms,
            })
        })
    }

    /// The same query by plain Dijkstra (reference for tests; slower).
    pub fn eta_dijkstra(&self, from: &Snap, to: &Snap) -> Option<u64> {
        let starts: Vec<(NodeId, u64)> = self.departures(from).iter().map(|d| (d.0, d.1)).collect();
        let ends: Vec<(NodeId, u64)> = self.arrivals(to).iter().map(|d| (d.0, d.1)).collect();
        let via = self.graph.dijkstra_multi(&starts, &ends);
        let direct = self.same_segment(from, to).map(|e| e.millis);
        match (via, direct) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hierarchy travel time between two graph nodes, in ms.
    ///
    /// # Panics
    /// When a node id is out of range.
    pub fn node_eta_ch(&self, source: NodeId, target: NodeId) -> Option<u64> {
        self.with_calculator(|calc| {
            calc.calc_path(&self.ch, source as usize, target as usize)
                .map(|p| p.get_weight() as u64)
        })
    }

    /// ETA from every source to one target, in input order; `None` for sources
    /// that cannot reach it within `max_ms` (or at all when `max_ms` is `None`).
    /// One Dijkstra backwards from the target.
    pub fn eta_many(
        &self,
        sources: &[Snap],
        target: &Snap,
        max_ms: Option<u64>,
    ) -> Vec<Option<Eta>> {
        let mut out = vec![None; sources.len()];
        for (i, eta) in self.reverse_search(sources, target, sources.len(), max_ms, None) {
            out[i] = Some(eta);
        }
        out
    }

    /// The `k` sources with the smallest ETA to the target, best first, as
    /// `(index into sources, eta)`. Exact. Uses [`EtaStrategy::ReverseDijkstra`].
    pub fn nearest_by_eta(&self, sources: &[Snap], target: &Snap, k: usize) -> Vec<(usize, Eta)> {
        self.reverse_search(sources, target, k, None, None)
    }

    /// [`Router::nearest_by_eta`] with a chosen strategy (both are exact; they
    /// differ only in speed, see the `routing` bench).
    pub fn nearest_by_eta_with(
        &self,
        sources: &[Snap],
        target: &Snap,
        k: usize,
        strategy: EtaStrategy,
    ) -> Vec<(usize, Eta)> {
        match strategy {
            EtaStrategy::ReverseDijkstra => self.reverse_search(sources, target, k, None, None),
            EtaStrategy::ChPruned => self.ch_pruned(sources, target, k),
        }
    }

    /// The `k` sources with the smallest ETA to the target and every further
    /// source at most `slack_ms` slower than the `k`-th, best first, as
    /// `(index into sources, eta)`; the search stops there, so sources beyond
    /// that bound are left out (as are unreachable ones). Exact within the
    /// bound. A caller that ranks by ETA plus a per-source penalty of at most
    /// `slack_ms` gets every source that can reach its top `k` this way.
    pub fn nearest_by_eta_within(
        &self,
        sources: &[Snap],
        target: &Snap,
        k: usize,
        slack_ms: u64,
    ) -> Vec<(usize, Eta)> {
        self.reverse_search(sources, target, k, None, Some(slack_ms))
    }

    /// Backward Dijkstra from the target's entry nodes. A source's ETA is final
    /// once the search has settled everything cheaper than its best candidate, so
    /// results come out in ETA order and the search stops after `k` of them
    /// (or, with `slack_ms`, once it is that far beyond the `k`-th).
    fn reverse_search(
        &self,
        sources: &[Snap],
        target: &Snap,
        k: usize,
        max_ms: Option<u64>,
        slack_ms: Option<u64>,
    ) -> Vec<(usize, Eta)> {
        // Results up to `cap` ms are kept; with a slack it closes in on the
        // k-th result plus the slack as soon as that result is known.
        let mut cap = max_ms.unwrap_or(u64::MAX);
        let mut results = Vec::with_capacity(k.min(sources.len()));
        if k == 0 || sources.is_empty() {
            return results;
        }
        let mut space = self
            .searches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_else(|| SearchSpace::new(self.graph.node_count()));
        space.begin();
        // Sources leaving through each node (a linked list per node), with the
        // cost of their partial segment.
        let mut attached: Vec<(u32, u64, f64, u32)> = Vec::with_capacity(sources.len() * 2);
        let mut best: Vec<(u64, f64)> = vec![(u64::MAX, 0.0); sources.len()];
        let mut done = vec![false; sources.len()];
        let mut candidates: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        for (i, s) in sources.iter().enumerate() {
            for (node, ms, m) in self.departures(s) {
                let head = space.head(node);
                attached.push((i as u32, ms, m, head));
                space.set_head(node, attached.len() as u32 - 1);
            }
            if let Some(e) = self.same_segment(s, target) {
                best[i] = (e.millis, e.metres);
                candidates.push(Reverse((e.millis, i)));
            }
        }
        let mut heap = BinaryHeap::new();
        for (node, ms, m) in self.arrivals(target) {
            if ms < space.dist(node) {
                space.set(node, ms, m);
                heap.push(Reverse((ms, node)));
            }
        }
        // Without a slack the search is complete at k results.
        let complete = |results: &Vec<(usize, Eta)>| slack_ms.is_none() && results.len() >= k;
        let mut finalize = |upto: u64,
                            cap: &mut u64,
                            candidates: &mut BinaryHeap<Reverse<(u64, usize)>>,
                            best: &[(u64, f64)],
                            results: &mut Vec<(usize, Eta)>| {
            while let Some(&Reverse((c, i))) = candidates.peek() {
                if c > upto || complete(results) {
                    break;
                }
                candidates.pop();
                if done[i] || best[i].0 != c || c > *cap {
                    continue;
                }
                done[i] = true;
                results.push((
                    i,
                    Eta {
                        millis: c,
                        metres: best[i].1,
                    },
                ));
                if let Some(slack) = slack_ms
                    && results.len() == k
                {
                    *cap = (*cap).min(c.saturating_add(slack));
                }
            }
        };
        while let Some(Reverse((d, u))) = heap.pop() {
            if d > space.dist(u) {
                continue;
            }
            finalize(d, &mut cap, &mut candidates, &best, &mut results);
            if complete(&results) || d > cap {
                break;
            }
            let here_m = space.metres[u as usize];
            let mut a = space.head(u);
            while a != u32::MAX {
                let (i, ms, m, next) = attached[a as usize];
                let c = d + ms;
                if c < best[i as usize].0 {
                    best[i as usize] = (c, here_m + m);
                    candidates.push(Reverse((c, i as usize)));
                }
                a = next;
            }
            for arc in self.graph.in_arcs(u) {
                let nd = d + u64::from(arc.weight_ms);
                if nd < space.dist(arc.to) {
                    let m = here_m + self.graph.segments()[arc.segment as usize].length_m;
                    space.set(arc.to, nd, m);
                    heap.push(Reverse((nd, arc.to)));
                }
            }
        }
        self.searches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(space);
        finalize(u64::MAX, &mut cap, &mut candidates, &best, &mut results);
        results
    }

    /// Hierarchy queries in order of straight-line distance, stopped by an
    /// admissible lower bound (no arc is faster than `max_m_per_ms`).
    fn ch_pruned(&self, sources: &[Snap], target: &Snap, k: usize) -> Vec<(usize, Eta)> {
        if k == 0 || sources.is_empty() {
            return Vec::new();
        }
        let mut order: Vec<(f64, usize)> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| (s.point.distance_m(&target.point), i))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.with_calculator(|calc| {
            // (ms, index, node path) of the best so far, kept sorted.
            let mut top: Vec<(u64, usize, Vec<usize>)> = Vec::with_capacity(k + 1);
            for (straight, i) in order {
                // Partial offsets round to the nearest ms once at each end.
                let bound = (straight / self.max_m_per_ms).floor() as u64;
                let bound = bound.saturating_sub(2);
                if top.len() == k && bound > top[k - 1].0 {
                    break;
                }
                if let Some((ms, nodes)) = self.ch_query(calc, &sources[i], target) {
                    let pos = top.partition_point(|e| (e.0, e.1) <= (ms, i));
                    if pos < k {
                        top.insert(pos, (ms, i, nodes));
                        top.truncate(k);
                    }
                }
            }
            top.into_iter()
                .map(|(ms, i, nodes)| {
                    (
                        i,
                        Eta {
                            millis: ms,
                            metres: self.path_metres(&sources[i], target, &nodes),
                        },
                    )
                })
                .collect()
        })
    }
}

/// The (at most two) `(node, ms, metres)` ends by which a snapped point is
/// left or reached, without allocating: the many-to-one search builds one per unit.
#[derive(Debug, Clone, Copy, Default)]
struct Ends {
    items: [(NodeId, u64, f64); 2],
    len: usize,
}

impl Ends {
    fn push(&mut self, end: (NodeId, u64, f64)) {
        self.items[self.len] = end;
        self.len += 1;
    }

    fn iter(&self) -> std::slice::Iter<'_, (NodeId, u64, f64)> {
        self.items[..self.len].iter()
    }
}

impl IntoIterator for Ends {
    type Item = (NodeId, u64, f64);
    type IntoIter = std::iter::Take<std::array::IntoIter<(NodeId, u64, f64), 2>>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len)
    }
}

/// Per-node arrays of the backward search, valid only where stamped with the
/// current epoch, so starting a search costs nothing per node.
struct SearchSpace {
    epoch: u32,
    stamp: Vec<u32>,
    dist: Vec<u64>,
    metres: Vec<f64>,
    head: Vec<u32>,
}

impl SearchSpace {
    fn new(n: usize) -> Self {
        SearchSpace {
            epoch: 0,
            stamp: vec![0; n],
            dist: vec![u64::MAX; n],
            metres: vec![0.0; n],
            head: vec![u32::MAX; n],
        }
    }

    fn begin(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped after 4 billion searches: clear once and start over.
            self.stamp.fill(0);
            self.epoch = 1;
        }
    }

    fn touch(&mut self, node: NodeId) {
        let i = node as usize;
        if self.stamp[i] != self.epoch {
            self.stamp[i] = self.epoch;
            self.dist[i] = u64::MAX;
            self.metres[i] = 0.0;
            self.head[i] = u32::MAX;
        }
    }

    fn dist(&self, node: NodeId) -> u64 {
        let i = node as usize;
        if self.stamp[i] == self.epoch {
            self.dist[i]
        } else {
            u64::MAX
        }
    }

    fn head(&self, node: NodeId) -> u32 {
        let i = node as usize;
        if self.stamp[i] == self.epoch {
            self.head[i]
        } else {
            u32::MAX
        }
    }

    fn set(&mut self, node: NodeId, dist: u64, metres: f64) {
        self.touch(node);
        self.dist[node as usize] = dist;
        self.metres[node as usize] = metres;
    }

    fn set_head(&mut self, node: NodeId, head: u32) {
        self.touch(node);
        self.head[node as usize] = head;
    }
}

/// Whole milliseconds for a fraction of a segment.
fn partial(weight_ms: u32, fraction: f64) -> u64 {
    (f64::from(weight_ms) * fraction.clamp(0.0, 1.0)).round() as u64
}
