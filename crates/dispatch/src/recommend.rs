//! Unit recommendation: the best units for an incident by road travel time,
//! filtered by the capabilities the incident type requires, with grid workers
//! and volunteers added as first responders (先行处警) where the type allows,
//! and a machine-readable plus human-readable reason for every ranking.
//!
//! Road ETAs come through [`TravelTimes`], implemented by the server with the
//! road router. Candidates are first cut down by straight-line distance, so the
//! router is asked about a few dozen units even when thousands are on duty.

use std::collections::BTreeSet;

use pingan_core::LatLng;

use crate::taxonomy::{Capability, IncidentType, Priority};
use crate::unit::{UnitKind, UnitStatus};

/// Road travel times from many origins to one destination.
pub trait TravelTimes {
    /// For each `from[i]`, `Some((eta_s, distance_m))` by road to `to`, or `None`
    /// when no route exists (off the network, disconnected). The result has
    /// exactly `from.len()` entries, in order.
    fn etas(&self, to: LatLng, from: &[LatLng]) -> Vec<Option<(u32, u32)>>;

    /// Like [`TravelTimes::etas`], but only the `k` fastest origins and those
    /// at most `slack_s` slower than the `k`-th must be timed; a router may
    /// stop searching there and answer [`Leg::TooSlow`] for the rest. The
    /// default times every origin.
    fn fastest(&self, to: LatLng, from: &[LatLng], k: usize, slack_s: u32) -> Vec<Leg> {
        let _ = (k, slack_s);
        self.etas(to, from)
            .into_iter()
            .map(|e| match e {
                Some((eta_s, distance_m)) => Leg::Eta { eta_s, distance_m },
                None => Leg::NoRoute,
            })
            .collect()
    }
}

/// One origin's answer from [`TravelTimes::fastest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    Eta {
        eta_s: u32,
        distance_m: u32,
    },
    /// No road leads from it to the destination.
    NoRoute,
    /// Slower than the asked-for bound; not timed.
    TooSlow,
}

/// Straight-line travel at a fixed speed with a detour factor: for tests,
/// benchmarks and as a fallback when no road graph is loaded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StraightLineTravel {
    pub speed_mps: f64,
    /// Road distance ≈ straight-line distance × this factor (≈1.3 in cities).
    pub detour_factor: f64,
}

impl Default for StraightLineTravel {
    fn default() -> Self {
        StraightLineTravel {
            speed_mps: 30.0 / 3.6,
            detour_factor: 1.3,
        }
    }
}

impl TravelTimes for StraightLineTravel {
    fn etas(&self, to: LatLng, from: &[LatLng]) -> Vec<Option<(u32, u32)>> {
        from.iter()
            .map(|p| {
                let d = p.distance_m(&to) * self.detour_factor;
                Some(((d / self.speed_mps).round() as u32, d.round() as u32))
            })
            .collect()
    }
}

/// A unit the recommender may pick.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateUnit {
    pub unit_id: String,
    pub kind: UnitKind,
    pub status: UnitStatus,
    pub capabilities: BTreeSet<Capability>,
    pub position: LatLng,
    /// Seconds since the position was reported.
    pub position_age_s: u32,
    /// Priority of the incident the unit is currently assigned to, if any;
    /// lets a P1 incident pre-empt units on P3/P4 work.
    pub current_incident_priority: Option<Priority>,
}

/// What the recommender is asked about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendRequest<'a> {
    pub point: LatLng,
    pub incident_type: &'a IncidentType,
    pub priority: Priority,
}

/// Tunables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendConfig {
    /// Police (non-first-responder) units returned at most.
    pub max_results: usize,
    /// First responders returned at most, for eligible types.
    pub max_first_responders: usize,
    /// Positions older than this are flagged and ranked as if `stale_penalty_s`
    /// further away.
    pub stale_after_s: u32,
    pub stale_penalty_s: u32,
    /// Nearest units by straight line, per pool, that are routed by road.
    pub prefilter_count: usize,
    /// Units farther than this in a straight line are not considered.
    pub max_straight_line_m: f64,
    /// Allow P1 incidents to take units already on P3/P4 incidents.
    pub allow_preemption: bool,
    /// Ranking penalty for pre-empting a unit.
    pub preemption_penalty_s: u32,
    /// Cruise speed of drones, which fly straight instead of using roads.
    pub drone_speed_mps: f64,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        RecommendConfig {
            max_results: 5,
            max_first_responders: 2,
            stale_after_s: 120,
            stale_penalty_s: 120,
            prefilter_count: 24,
            max_straight_line_m: 20_000.0,
            allow_preemption: true,
            preemption_penalty_s: 90,
            drone_speed_mps: 15.0,
        }
    }
}

/// Machine-readable reason attached to a recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Fastest road ETA among the returned units of its pool.
    FastestEta,
    /// Slower than the pool's best by this many seconds.
    SlowerThanBest { extra_s: u32 },
    /// Has every capability the type requires (listed).
    HasRequiredCapabilities { capabilities: Vec<Capability> },
    /// A grid worker or volunteer sent ahead of police (先行处警).
    FirstResponder,
    /// Position older than the stale threshold.
    PositionStale { age_s: u32 },
    /// Currently on a lower-priority incident; taking it pre-empts that work.
    PreemptsLowerPriority { current: Priority },
    /// A drone: ETA and distance by straight-line flight, not by road.
    AirRoute,
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::FastestEta => "fastest_eta",
            Reason::SlowerThanBest { .. } => "slower_than_best",
            Reason::HasRequiredCapabilities { .. } => "has_required_capabilities",
            Reason::FirstResponder => "first_responder",
            Reason::PositionStale { .. } => "position_stale",
            Reason::PreemptsLowerPriority { .. } => "preempts_lower_priority",
            Reason::AirRoute => "air_route",
        }
    }
}

/// One recommended unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub unit_id: String,
    pub kind: UnitKind,
    pub eta_s: u32,
    pub distance_m: u32,
    /// Grid worker or volunteer, labelled 先行处警.
    pub first_responder: bool,
    /// `Some("先行处警")` for first responders.
    pub label: Option<&'static str>,
    pub position_stale: bool,
    pub reasons: Vec<Reason>,
    pub explanation_zh: String,
    pub explanation_en: String,
}

/// Why candidates were left out, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exclusions {
    pub not_available: usize,
    pub missing_capabilities: usize,
    pub first_responders_not_eligible: usize,
    pub beyond_range: usize,
    /// Within range but not among the nearest `prefilter_count` of their pool.
    pub not_shortlisted: usize,
    pub no_route: usize,
    /// Routed, but ranked below the result limits.
    pub ranked_out: usize,
}

/// The recommender's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendOutcome {
    /// Ordered by ranking ETA (road ETA plus stale/pre-emption penalties).
    pub recommendations: Vec<Recommendation>,
    /// Shortlisted units that got an ETA (by road, or by air for drones).
    pub routed: usize,
    pub exclusions: Exclusions,
}

/// A shortlisted unit: an owned copy of the candidate, so the caller can
/// release whatever guards its unit index before routing.
#[derive(Debug, Clone, PartialEq)]
struct Shortlisted {
    unit: CandidateUnit,
    straight_m: f64,
    preempts: Option<Priority>,
}

/// The units that passed the cheap filters (status, capabilities, first
/// responder eligibility, straight-line range and the per-pool prefilter),
/// before any road routing. Built by [`shortlist`], ranked by [`rank`].
#[derive(Debug, Clone, PartialEq)]
pub struct Shortlist {
    police: Vec<Shortlisted>,
    first: Vec<Shortlisted>,
    max_first_responders: usize,
    exclusions: Exclusions,
}

impl Shortlist {
    /// The shortlisted units, police first. Few: at most
    /// `prefilter_count` per pool.
    pub fn units(&self) -> impl Iterator<Item = &CandidateUnit> {
        self.police.iter().chain(&self.first).map(|s| &s.unit)
    }

    /// Mutable access to the shortlisted units, e.g. to set
    /// `position_age_s` at query time when candidates come from a cache.
    pub fn units_mut(&mut self) -> impl Iterator<Item = &mut CandidateUnit> {
        self.police
            .iter_mut()
            .chain(&mut self.first)
            .map(|s| &mut s.unit)
    }

    /// Why candidates were left out so far.
    pub fn exclusions(&self) -> Exclusions {
        self.exclusions
    }
}

fn format_duration_zh(s: u32) -> String {
    if s < 60 {
        format!("{s}秒")
    } else {
        format!("{}分{}秒", s / 60, s % 60)
    }
}

/// Ranks units for an incident: [`shortlist`], then [`rank`].
pub fn recommend(
    request: &RecommendRequest<'_>,
    candidates: &[CandidateUnit],
    travel: &dyn TravelTimes,
    config: &RecommendConfig,
) -> RecommendOutcome {
    rank(
        request,
        shortlist(request, candidates, config),
        travel,
        config,
    )
}

/// The cheap first phase of [`recommend`]: filters candidates by status,
/// capabilities and straight-line range, and keeps the nearest
/// `prefilter_count` of each pool (police, first responders). Only the kept
/// units are copied, so a caller can run this over a large shared index.
pub fn shortlist<'a>(
    request: &RecommendRequest<'_>,
    candidates: impl IntoIterator<Item = &'a CandidateUnit>,
    config: &RecommendConfig,
) -> Shortlist {
    let ty = request.incident_type;
    let required = ty.required_capabilities();
    let mut ex = Exclusions::default();
    // Equirectangular approximation: within the prefilter's tens of kilometres
    // it is accurate to well under 0.1%, and it avoids trigonometry per unit.
    let m_per_deg = pingan_core::geo::EARTH_RADIUS_M.to_radians();
    let cos_lat = request.point.lat().to_radians().cos();
    let approx_m = |p: &LatLng| {
        let dy = (p.lat() - request.point.lat()) * m_per_deg;
        let dx = (p.lng() - request.point.lng()) * m_per_deg * cos_lat;
        (dx * dx + dy * dy).sqrt()
    };
    // (unit, straight-line metres, pre-empted priority)
    type Listed<'a> = (&'a CandidateUnit, f64, Option<Priority>);
    let mut police: Vec<Listed<'a>> = Vec::new();
    let mut first: Vec<Listed<'a>> = Vec::new();
    for u in candidates {
        let preempts = match (u.status, u.current_incident_priority) {
            (UnitStatus::Available, _) => None,
            (UnitStatus::Dispatched | UnitStatus::EnRoute, Some(cur))
                if config.allow_preemption
                    && request.priority == Priority::P1
                    && cur >= Priority::P3 =>
            {
                Some(cur)
            }
            _ => {
                ex.not_available += 1;
                continue;
            }
        };
        let fr = u.kind.is_first_responder();
        if fr && !ty.first_responder_eligible() {
            ex.first_responders_not_eligible += 1;
            continue;
        }
        // First responders are sent for presence and first aid, not to replace
        // police, so the police capability filter does not apply to them.
        if !fr && !required.is_subset(&u.capabilities) {
            ex.missing_capabilities += 1;
            continue;
        }
        let straight_m = approx_m(&u.position);
        if straight_m > config.max_straight_line_m {
            ex.beyond_range += 1;
            continue;
        }
        if fr {
            first.push((u, straight_m, preempts));
        } else {
            police.push((u, straight_m, preempts));
        }
    }
    let keep = |pool: &mut Vec<Listed<'a>>, ex: &mut Exclusions| {
        let k = config.prefilter_count.max(1);
        if pool.len() > k {
            pool.select_nth_unstable_by(k - 1, |a, b| {
                a.1.total_cmp(&b.1).then(a.0.unit_id.cmp(&b.0.unit_id))
            });
            ex.not_shortlisted += pool.len() - k;
            pool.truncate(k);
        }
    };
    keep(&mut police, &mut ex);
    let max_fr = if ty.first_responder_eligible() {
        config.max_first_responders
    } else {
        0
    };
    if max_fr == 0 {
        ex.not_shortlisted += first.len();
        first.clear();
    }
    keep(&mut first, &mut ex);
    let owned = |pool: Vec<Listed<'a>>| -> Vec<Shortlisted> {
        pool.into_iter()
            .map(|(u, straight_m, preempts)| Shortlisted {
                unit: u.clone(),
                straight_m,
                preempts,
            })
            .collect()
    };
    Shortlist {
        police: owned(police),
        first: owned(first),
        max_first_responders: max_fr,
        exclusions: ex,
    }
}

/// The second phase of [`recommend`]: road ETAs for the shortlisted units
/// (straight-line flight for drones), stale and pre-emption penalties, the
/// result limits per pool, and the reasons.
pub fn rank(
    request: &RecommendRequest<'_>,
    shortlist: Shortlist,
    travel: &dyn TravelTimes,
    config: &RecommendConfig,
) -> RecommendOutcome {
    let required = request.incident_type.required_capabilities();
    let Shortlist {
        police,
        first,
        max_first_responders: max_fr,
        exclusions: mut ex,
    } = shortlist;
    let n_police = police.len();
    let all: Vec<Shortlisted> = police.into_iter().chain(first).collect();
    let limits = [config.max_results, max_fr];
    // Drones fly: they get a straight-line ETA and are not sent to the router.
    let mut etas: Vec<Option<(u32, u32)>> = all
        .iter()
        .map(|s| {
            (s.unit.kind == UnitKind::Drone).then(|| {
                let d = s.unit.position.distance_m(&request.point);
                (
                    (d / config.drone_speed_mps.max(0.1)).round() as u32,
                    d.round() as u32,
                )
            })
        })
        .collect();
    // A unit ranks by its road ETA plus `penalty` (stale position,
    // pre-emption). Only a pool's `limit` best ranking ETAs are kept, so the
    // router need only find the `limit` fastest road units plus those within
    // the pool's largest penalty (and one second for rounding) of the last of
    // them: nobody slower can be ranked into the pool.
    let penalty = |s: &Shortlisted| {
        let stale = if s.unit.position_age_s > config.stale_after_s {
            config.stale_penalty_s
        } else {
            0
        };
        let preempt = if s.preempts.is_some() {
            config.preemption_penalty_s
        } else {
            0
        };
        stale.saturating_add(preempt)
    };
    // Origins the router may have left out as too slow to rank (not "no route").
    let mut too_slow = vec![false; all.len()];
    for (pool, range) in [(0, 0..n_police), (1, n_police..all.len())] {
        let road: Vec<usize> = range
            .filter(|&i| all[i].unit.kind != UnitKind::Drone)
            .collect();
        if road.is_empty() || limits[pool] == 0 {
            continue;
        }
        let origins: Vec<LatLng> = road.iter().map(|&i| all[i].unit.position).collect();
        let slack = road
            .iter()
            .map(|&i| penalty(&all[i]))
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let found = travel.fastest(request.point, &origins, limits[pool], slack);
        assert_eq!(
            found.len(),
            origins.len(),
            "TravelTimes::fastest must return one entry per origin"
        );
        for (&i, leg) in road.iter().zip(found) {
            match leg {
                Leg::Eta { eta_s, distance_m } => etas[i] = Some((eta_s, distance_m)),
                Leg::NoRoute => {}
                Leg::TooSlow => too_slow[i] = true,
            }
        }
    }

    // (ranking eta, index, eta, distance)
    let mut ranked: [Vec<(u32, usize, u32, u32)>; 2] = [Vec::new(), Vec::new()];
    for (i, (s, eta)) in all.iter().zip(&etas).enumerate() {
        let Some((eta_s, dist_m)) = *eta else {
            if too_slow[i] {
                ex.ranked_out += 1;
            } else {
                ex.no_route += 1;
            }
            continue;
        };
        let rank_eta = eta_s.saturating_add(penalty(s));
        ranked[usize::from(i >= n_police)].push((rank_eta, i, eta_s, dist_m));
    }
    let mut out: Vec<(u32, Recommendation)> = Vec::new();
    for (pool, limit) in ranked.iter_mut().zip(limits) {
        pool.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(all[a.1].unit.unit_id.cmp(&all[b.1].unit.unit_id))
        });
        ex.ranked_out += pool.len().saturating_sub(limit);
        pool.truncate(limit);
        // Reasons compare raw road ETAs, so a stale unit that is nearer still says so.
        let best = pool.iter().map(|p| p.2).min();
        for &(rank_eta, i, eta_s, distance_m) in pool.iter() {
            let s = &all[i];
            out.push((
                rank_eta,
                explain(s, eta_s, distance_m, best, required, config),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.unit_id.cmp(&b.1.unit_id)));
    RecommendOutcome {
        recommendations: out.into_iter().map(|(_, r)| r).collect(),
        routed: all.len(),
        exclusions: ex,
    }
}

fn explain(
    s: &Shortlisted,
    eta_s: u32,
    distance_m: u32,
    best_eta: Option<u32>,
    required: &BTreeSet<Capability>,
    config: &RecommendConfig,
) -> Recommendation {
    let u = &s.unit;
    let fr = u.kind.is_first_responder();
    let mut reasons = Vec::new();
    let mut zh = Vec::new();
    let mut en = Vec::new();
    if u.kind == UnitKind::Drone {
        reasons.push(Reason::AirRoute);
        zh.push("无人机直线飞行".to_string());
        en.push("drone, straight-line flight".to_string());
    }
    if fr {
        reasons.push(Reason::FirstResponder);
        zh.push("先行处警：网格员/志愿者先期到场，警力随后".to_string());
        en.push("first responder sent ahead of police".to_string());
    }
    zh.push(format!(
        "{}，道路距离{}米，预计{}到达",
        u.kind.name_zh(),
        distance_m,
        format_duration_zh(eta_s)
    ));
    en.push(format!(
        "{} {} m by road, ETA {} s",
        u.kind.code(),
        distance_m,
        eta_s
    ));
    match best_eta {
        Some(b) if eta_s <= b => {
            reasons.push(Reason::FastestEta);
            zh.push("同类中最快到达".to_string());
            en.push("fastest of its group".to_string());
        }
        Some(b) => {
            let extra_s = eta_s - b;
            reasons.push(Reason::SlowerThanBest { extra_s });
            zh.push(format!("比最快者慢{}", format_duration_zh(extra_s)));
            en.push(format!("{extra_s} s slower than the fastest"));
        }
        None => {}
    }
    if !fr && !required.is_empty() {
        let caps: Vec<Capability> = required.iter().copied().collect();
        let names: Vec<&str> = caps.iter().map(|c| c.name_zh()).collect();
        zh.push(format!("具备所需能力：{}", names.join("、")));
        let codes: Vec<&str> = caps.iter().map(|c| c.code()).collect();
        en.push(format!("has required {}", codes.join(", ")));
        reasons.push(Reason::HasRequiredCapabilities { capabilities: caps });
    }
    let stale = u.position_age_s > config.stale_after_s;
    if stale {
        reasons.push(Reason::PositionStale {
            age_s: u.position_age_s,
        });
        zh.push(format!(
            "位置已{}未更新，排序降权",
            format_duration_zh(u.position_age_s)
        ));
        en.push(format!("position {} s old, ranked lower", u.position_age_s));
    }
    if let Some(cur) = s.preempts {
        reasons.push(Reason::PreemptsLowerPriority { current: cur });
        zh.push(format!("正在处置{cur}警情，可改派"));
        en.push(format!("currently on a {cur} incident, can be reassigned"));
    }
    Recommendation {
        unit_id: u.unit_id.clone(),
        kind: u.kind,
        eta_s,
        distance_m,
        first_responder: fr,
        label: fr.then_some("先行处警"),
        position_stale: stale,
        reasons,
        explanation_zh: zh.join("；"),
        explanation_en: en.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::Taxonomy;

    fn unit(id: &str, kind: UnitKind, north_m: f64, age: u32) -> CandidateUnit {
        let base = LatLng::new(30.6, 104.06).unwrap();
        CandidateUnit {
            unit_id: id.into(),
            kind,
            status: UnitStatus::Available,
            capabilities: kind.default_capabilities(),
            position: base.offset_m(north_m, 0.0),
            position_age_s: age,
            current_incident_priority: None,
        }
    }

    /// Routes like the straight line but reports no route for one unit position.
    struct HoleyTravel(LatLng);
    impl TravelTimes for HoleyTravel {
        fn etas(&self, to: LatLng, from: &[LatLng]) -> Vec<Option<(u32, u32)>> {
            let base = StraightLineTravel::default().etas(to, from);
            from.iter()
                .zip(base)
                .map(|(p, e)| if p.distance_m(&self.0) < 1.0 { None } else { e })
                .collect()
        }
    }

    /// Times like the straight line, but leaves out (as a router stopping at
    /// the bound would) every origin slower than the k-th plus the slack.
    struct BoundedTravel;
    impl TravelTimes for BoundedTravel {
        fn etas(&self, to: LatLng, from: &[LatLng]) -> Vec<Option<(u32, u32)>> {
            StraightLineTravel::default().etas(to, from)
        }
        fn fastest(&self, to: LatLng, from: &[LatLng], k: usize, slack_s: u32) -> Vec<Leg> {
            let all = self.etas(to, from);
            let mut sorted: Vec<u32> = all.iter().flatten().map(|e| e.0).collect();
            sorted.sort_unstable();
            let bound = sorted
                .get(k.max(1) - 1)
                .map_or(u32::MAX, |kth| kth + slack_s);
            all.into_iter()
                .map(|e| match e {
                    Some((eta_s, distance_m)) if eta_s <= bound => Leg::Eta { eta_s, distance_m },
                    Some(_) => Leg::TooSlow,
                    None => Leg::NoRoute,
                })
                .collect()
        }
    }

    /// Full timing, for comparison with [`BoundedTravel`].
    struct FullTravel;
    impl TravelTimes for FullTravel {
        fn etas(&self, to: LatLng, from: &[LatLng]) -> Vec<Option<(u32, u32)>> {
            StraightLineTravel::default().etas(to, from)
        }
    }

    #[test]
    fn a_router_stopping_at_the_bound_ranks_the_same_units() {
        let tax = Taxonomy::builtin();
        let point = LatLng::new(30.6, 104.06).unwrap();
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for round in 0..200 {
            let ty = if round % 2 == 0 {
                tax.get("criminal.theft").unwrap()
            } else {
                tax.get("dispute.neighbour")
                    .or_else(|| tax.get("criminal.theft"))
                    .unwrap()
            };
            let kinds = [
                UnitKind::PatrolCar,
                UnitKind::FootPatrol,
                UnitKind::GridWorker,
                UnitKind::Volunteer,
                UnitKind::Drone,
            ];
            let cands: Vec<CandidateUnit> = (0..40)
                .map(|i| {
                    let kind = kinds[next(kinds.len() as u64) as usize];
                    // Some stale positions, so penalties reorder the ranking.
                    let age = if next(4) == 0 { 600 } else { 10 };
                    let mut u = unit(&format!("u{i}"), kind, next(6000) as f64, age);
                    if next(6) == 0 {
                        u.status = UnitStatus::Dispatched;
                        u.current_incident_priority = Some(Priority::P4);
                    }
                    u
                })
                .collect();
            let req = RecommendRequest {
                point,
                incident_type: ty,
                priority: if round % 3 == 0 {
                    Priority::P1
                } else {
                    Priority::P2
                },
            };
            let config = RecommendConfig::default();
            let full = recommend(&req, &cands, &FullTravel, &config);
            let bounded = recommend(&req, &cands, &BoundedTravel, &config);
            assert_eq!(
                bounded.recommendations, full.recommendations,
                "round {round}"
            );
            // Left-out units are ranked out, never "no route".
            assert_eq!(bounded.exclusions.no_route, 0);
            assert_eq!(
                bounded.exclusions.ranked_out, full.exclusions.ranked_out,
                "round {round}"
            );
        }
    }

    #[test]
    fn ranks_by_eta_filters_capabilities_and_labels_first_responders() {
        let tax = Taxonomy::builtin();
        let ty = tax.get("criminal.theft").unwrap();
        let point = LatLng::new(30.6, 104.06).unwrap();
        let mut busy = unit("busy", UnitKind::PatrolCar, 10.0, 0);
        busy.status = UnitStatus::OnScene;
        let cands = vec![
            unit("car-far", UnitKind::PatrolCar, 3000.0, 5),
            unit("car-near", UnitKind::PatrolCar, 600.0, 5),
            unit("car-stale", UnitKind::PatrolCar, 500.0, 900),
            unit("drone", UnitKind::Drone, 100.0, 1),
            unit("grid", UnitKind::GridWorker, 200.0, 10),
            unit("vol", UnitKind::Volunteer, 900.0, 10),
            unit("vol-far", UnitKind::Volunteer, 5000.0, 10),
            unit("noroute", UnitKind::FootPatrol, 700.0, 5),
            busy,
            unit("car-out", UnitKind::PatrolCar, 30_000.0, 5),
        ];
        let travel = HoleyTravel(point.offset_m(700.0, 0.0));
        let config = RecommendConfig {
            max_results: 2,
            ..RecommendConfig::default()
        };
        let req = RecommendRequest {
            point,
            incident_type: ty,
            priority: Priority::P2,
        };
        let out = recommend(&req, &cands, &travel, &config);
        let ids: Vec<&str> = out
            .recommendations
            .iter()
            .map(|r| r.unit_id.as_str())
            .collect();
        // 500 m stale (≈78 s + 120 s penalty) ranks after the fresh 600 m car (≈94 s).
        assert_eq!(ids, ["grid", "car-near", "vol", "car-stale"]);
        let grid = &out.recommendations[0];
        assert!(grid.first_responder);
        assert_eq!(grid.label, Some("先行处警"));
        assert_eq!(grid.reasons[0], Reason::FirstResponder);
        let stale = &out.recommendations[3];
        assert!(stale.position_stale);
        assert!(
            stale
                .reasons
                .contains(&Reason::PositionStale { age_s: 900 })
        );
        assert!(stale.explanation_zh.contains("位置已15分0秒未更新"));
        let near = &out.recommendations[1];
        assert_eq!(near.reasons[0], Reason::SlowerThanBest { extra_s: 16 });
        assert_eq!(stale.reasons[0], Reason::FastestEta);
        assert_eq!(near.distance_m, 780);
        assert_eq!(near.eta_s, 94);
        assert_eq!(
            out.exclusions,
            Exclusions {
                not_available: 1,
                missing_capabilities: 1,
                first_responders_not_eligible: 0,
                beyond_range: 1,
                not_shortlisted: 0,
                no_route: 1,
                ranked_out: 2,
            }
        );
    }

    #[test]
    fn ineligible_types_get_no_first_responders_and_p1_preempts() {
        let tax = Taxonomy::builtin();
        let ty = tax.get("criminal.robbery").unwrap();
        assert!(!ty.first_responder_eligible());
        let point = LatLng::new(30.6, 104.06).unwrap();
        let mut busy_low = unit("busy-low", UnitKind::PatrolCar, 100.0, 0);
        busy_low.status = UnitStatus::EnRoute;
        busy_low.current_incident_priority = Some(Priority::P4);
        let mut busy_high = unit("busy-high", UnitKind::PatrolCar, 50.0, 0);
        busy_high.status = UnitStatus::EnRoute;
        busy_high.current_incident_priority = Some(Priority::P2);
        let cands = vec![
            unit("grid", UnitKind::GridWorker, 10.0, 0),
            unit("car", UnitKind::PatrolCar, 2000.0, 0),
            busy_low,
            busy_high,
        ];
        let req = RecommendRequest {
            point,
            incident_type: ty,
            priority: Priority::P1,
        };
        let out = recommend(
            &req,
            &cands,
            &StraightLineTravel::default(),
            &RecommendConfig::default(),
        );
        let ids: Vec<&str> = out
            .recommendations
            .iter()
            .map(|r| r.unit_id.as_str())
            .collect();
        assert_eq!(ids, ["busy-low", "car"]);
        assert_eq!(
            out.recommendations[0].reasons.last(),
            Some(&Reason::PreemptsLowerPriority {
                current: Priority::P4
            })
        );
        assert_eq!(out.exclusions.first_responders_not_eligible, 1);
        assert_eq!(out.exclusions.not_available, 1);
    }

    #[test]
    fn drones_fly_straight() {
        let tax = Taxonomy::builtin();
        let ty = tax.get("missing_person").unwrap();
        let point = LatLng::new(30.6, 104.06).unwrap();
        let cands = vec![unit("drone-1", UnitKind::Drone, 1500.0, 0)];
        // The holey router has no route from 1500 m north; the drone needs none.
        let travel = HoleyTravel(point.offset_m(1500.0, 0.0));
        let out = recommend(
            &RecommendRequest {
                point,
                incident_type: ty,
                priority: Priority::P2,
            },
            &cands,
            &travel,
            &RecommendConfig::default(),
        );
        let r = &out.recommendations[0];
        assert_eq!((r.distance_m, r.eta_s), (1500, 100));
        assert_eq!(r.reasons[0], Reason::AirRoute);
        assert_eq!(out.exclusions.no_route, 0);
    }

    #[test]
    fn prefilter_limits_routing() {
        let tax = Taxonomy::builtin();
        let ty = tax.get("noise").unwrap();
        let point = LatLng::new(30.6, 104.06).unwrap();
        let cands: Vec<CandidateUnit> = (0..500)
            .map(|i| {
                unit(
                    &format!("u{i:03}"),
                    UnitKind::PatrolCar,
                    100.0 + i as f64 * 10.0,
                    0,
                )
            })
            .collect();
        let config = RecommendConfig::default();
        let out = recommend(
            &RecommendRequest {
                point,
                incident_type: ty,
                priority: Priority::P4,
            },
            &cands,
            &StraightLineTravel::default(),
            &config,
        );
        assert_eq!(out.routed, config.prefilter_count);
        assert_eq!(out.exclusions.not_shortlisted, 500 - config.prefilter_count);
        let ids: Vec<&str> = out
            .recommendations
            .iter()
            .map(|r| r.unit_id.as_str())
            .collect();
        assert_eq!(ids, ["u000", "u001", "u002", "u003", "u004"]);
    }
}
