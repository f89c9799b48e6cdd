//! Response-time KPIs from incident timelines: per group (org, type) counts,
//! call→dispatch, dispatch→arrival and call→first-arrival (first response)
//! medians and 90th percentiles, compliance against targets (NFPA 1225 style:
//! "first unit dispatched within 60 s for 90% of calls") and year-over-year
//! change (同比).
//!
//! Percentiles use the **nearest-rank** method: for `n` sorted values the p-th
//! percentile is the value at 1-based rank `ceil(p/100 · n)`. It always returns
//! an observed value, and the median of an even count is the lower middle value.

use std::collections::BTreeMap;

use pingan_core::Timestamp;

use crate::incident::Incident;

/// Response times of one incident, extracted from its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentTimes {
    pub org_id: String,
    pub type_code: String,
    pub call_at: Timestamp,
    pub first_dispatch_at: Option<Timestamp>,
    pub first_arrival_at: Option<Timestamp>,
}

impl IncidentTimes {
    /// From an incident; `None` while it has no type (unclassified).
    pub fn from_incident(incident: &Incident) -> Option<IncidentTimes> {
        Some(IncidentTimes {
            org_id: incident.org_id().to_string(),
            type_code: incident.type_code()?.to_string(),
            call_at: incident.created_at(),
            first_dispatch_at: incident.first_dispatch_at(),
            first_arrival_at: incident.first_arrival_at(),
        })
    }

    fn secs(from: Timestamp, to: Option<Timestamp>) -> Option<i64> {
        to.map(|t| (t.millis() - from.millis()) / 1000)
            .filter(|s| *s >= 0)
    }

    pub fn call_to_dispatch_s(&self) -> Option<i64> {
        IncidentTimes::secs(self.call_at, self.first_dispatch_at)
    }

    /// First dispatch to first arrival.
    pub fn dispatch_to_arrival_s(&self) -> Option<i64> {
        IncidentTimes::secs(self.first_dispatch_at?, self.first_arrival_at)
    }

    /// Call to first arrival.
    pub fn first_response_s(&self) -> Option<i64> {
        IncidentTimes::secs(self.call_at, self.first_arrival_at)
    }
}

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    All,
    Org,
    Type,
    OrgAndType,
}

/// Compliance targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KpiTargets {
    /// Seconds from call to first dispatch (NFPA 1225: 60).
    pub call_to_dispatch_s: i64,
    /// Fraction of incidents that must meet it (NFPA 1225: 0.90).
    pub call_to_dispatch_fraction: f64,
    /// Seconds from call to first arrival.
    pub first_response_s: i64,
    pub first_response_fraction: f64,
}

impl Default for KpiTargets {
    fn default() -> Self {
        KpiTargets {
            call_to_dispatch_s: 60,
            call_to_dispatch_fraction: 0.90,
            first_response_s: 15 * 60,
            first_response_fraction: 0.90,
        }
    }
}

/// Summary of one duration measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationStats {
    /// Incidents that have this measure.
    pub n: usize,
    pub median_s: Option<i64>,
    pub p90_s: Option<i64>,
    pub mean_s: Option<f64>,
}

impl DurationStats {
    fn of(mut values: Vec<i64>) -> DurationStats {
        values.sort_unstable();
        DurationStats {
            n: values.len(),
            median_s: percentile_nearest_rank(&values, 50.0),
            p90_s: percentile_nearest_rank(&values, 90.0),
            mean_s: (!values.is_empty())
                .then(|| values.iter().sum::<i64>() as f64 / values.len() as f64),
        }
    }
}

/// Share of incidents meeting a time target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Compliance {
    pub target_s: i64,
    pub target_fraction: f64,
    pub within: usize,
    /// Incidents measured (those that reached the milestone; see `missing`).
    pub total: usize,
    /// Incidents counted in the group that never reached the milestone; they
    /// count as not compliant.
    pub missing: usize,
    pub fraction: Option<f64>,
    pub met: bool,
}

impl Compliance {
    fn of(values: &[i64], missing: usize, target_s: i64, target_fraction: f64) -> Compliance {
        let within = values.iter().filter(|v| **v <= target_s).count();
        let denom = values.len() + missing;
        let fraction = (denom > 0).then(|| within as f64 / denom as f64);
        Compliance {
            target_s,
            target_fraction,
            within,
            total: values.len(),
            missing,
            fraction,
            met: fraction.is_some_and(|f| f >= target_fraction),
        }
    }
}

/// KPIs of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKpi {
    pub org_id: Option<String>,
    pub type_code: Option<String>,
    pub count: usize,
    pub call_to_dispatch: DurationStats,
    pub dispatch_to_arrival: DurationStats,
    pub first_response: DurationStats,
    pub dispatch_compliance: Compliance,
    pub first_response_compliance: Compliance,
}

/// Nearest-rank percentile of ascending `sorted` values, `p` in (0, 100].
pub fn percentile_nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// KPIs for `rows` grouped as asked; groups ordered by (org, type).
/// An incident without a dispatch counts against dispatch compliance, so leave
/// diverted incidents (handled by partners) out of `rows` for police response
/// KPIs.
pub fn compute_kpis(
    rows: &[IncidentTimes],
    group_by: GroupBy,
    targets: &KpiTargets,
) -> Vec<GroupKpi> {
    let mut groups: BTreeMap<(Option<&str>, Option<&str>), Vec<&IncidentTimes>> = BTreeMap::new();
    for r in rows {
        let key = match group_by {
            GroupBy::All => (None, None),
            GroupBy::Org => (Some(r.org_id.as_str()), None),
            GroupBy::Type => (None, Some(r.type_code.as_str())),
            GroupBy::OrgAndType => (Some(r.org_id.as_str()), Some(r.type_code.as_str())),
        };
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((org, ty), rs)| {
            let c2d: Vec<i64> = rs.iter().filter_map(|r| r.call_to_dispatch_s()).collect();
            let d2a: Vec<i64> = rs
                .iter()
                .filter_map(|r| r.dispatch_to_arrival_s())
                .collect();
            let fr: Vec<i64> = rs.iter().filter_map(|r| r.first_response_s()).collect();
            // Only dispatched incidents are expected to reach an arrival.
            let dispatch_missing = rs.len() - c2d.len();
            let arrival_missing = c2d.len().saturating_sub(fr.len());
            GroupKpi {
                org_id: org.map(str::to_string),
                type_code: ty.map(str::to_string),
                count: rs.len(),
                dispatch_compliance: Compliance::of(
                    &c2d,
                    dispatch_missing,
                    targets.call_to_dispatch_s,
                    targets.call_to_dispatch_fraction,
                ),
                first_response_compliance: Compliance::of(
                    &fr,
                    arrival_missing,
                    targets.first_response_s,
                    targets.first_response_fraction,
                ),
                call_to_dispatch: DurationStats::of(c2d),
                dispatch_to_arrival: DurationStats::of(d2a),
                first_response: DurationStats::of(fr),
            }
        })
        .collect()
}

/// Year-over-year (同比) comparison of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct YearOverYear {
    pub org_id: Option<String>,
    pub type_code: Option<String>,
    pub count_current: usize,
    pub count_previous: usize,
    /// `(current − previous) / previous`, `None` when previous is 0.
    pub count_change: Option<f64>,
    pub median_first_response_current_s: Option<i64>,
    pub median_first_response_previous_s: Option<i64>,
    pub median_first_response_change: Option<f64>,
    pub dispatch_compliance_current: Option<f64>,
    pub dispatch_compliance_previous: Option<f64>,
    /// Difference in percentage points (current − previous) × 100.
    pub dispatch_compliance_change_pp: Option<f64>,
}

fn rel_change(cur: Option<f64>, prev: Option<f64>) -> Option<f64> {
    match (cur, prev) {
        (Some(c), Some(p)) if p != 0.0 => Some((c - p) / p),
        _ => None,
    }
}

/// Matches groups of two periods (e.g. this November and last November, both
/// computed with the same `GroupBy`) and reports the changes; groups present in
/// only one period appear with zero counts on the other side.
pub fn year_over_year(current: &[GroupKpi], previous: &[GroupKpi]) -> Vec<YearOverYear> {
    type Key = (Option<String>, Option<String>);
    let mut keys: BTreeMap<Key, (Option<&GroupKpi>, Option<&GroupKpi>)> = BTreeMap::new();
    for g in current {
        keys.entry((g.org_id.clone(), g.type_code.clone()))
            .or_default()
            .0 = Some(g);
    }
    for g in previous {
        keys.entry((g.org_id.clone(), g.type_code.clone()))
            .or_default()
            .1 = Some(g);
    }
    keys.into_iter()
        .map(|((org_id, type_code), (cur, prev))| {
            let count_current = cur.map_or(0, |g| g.count);
            let count_previous = prev.map_or(0, |g| g.count);
            let mfr_c = cur.and_then(|g| g.first_response.median_s);
            let mfr_p = prev.and_then(|g| g.first_response.median_s);
            let dc_c = cur.and_then(|g| g.dispatch_compliance.fraction);
            let dc_p = prev.and_then(|g| g.dispatch_compliance.fraction);
            YearOverYear {
                org_id,
                type_code,
                count_current,
                count_previous,
                count_change: rel_change(Some(count_current as f64), Some(count_previous as f64)),
                median_first_response_current_s: mfr_c,
                median_first_response_previous_s: mfr_p,
                median_first_response_change: rel_change(
                    mfr_c.map(|v| v as f64),
                    mfr_p.map(|v| v as f64),
                ),
                dispatch_compliance_current: dc_c,
                dispatch_compliance_previous: dc_p,
                dispatch_compliance_change_pp: match (dc_c, dc_p) {
                    (Some(c), Some(p)) => Some((c - p) * 100.0),
                    _ => None,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Disposition, IncidentNumber};
    use crate::taxonomy::Priority;

    fn row(org: &str, ty: &str, c2d: Option<i64>, d2a: Option<i64>) -> IncidentTimes {
        let call = Timestamp::from_secs(1_790_000_000);
        let d = c2d.map(|s| call.plus_secs(s));
        IncidentTimes {
            org_id: org.into(),
            type_code: ty.into(),
            call_at: call,
            first_dispatch_at: d,
            first_arrival_at: d.zip(d2a).map(|(d, a)| d.plus_secs(a)),
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile_nearest_rank(&v, 50.0), Some(5));
        assert_eq!(percentile_nearest_rank(&v, 90.0), Some(9));
        assert_eq!(percentile_nearest_rank(&v, 100.0), Some(10));
        assert_eq!(percentile_nearest_rank(&[7], 90.0), Some(7));
        assert_eq!(percentile_nearest_rank(&[], 50.0), None);
        assert_eq!(percentile_nearest_rank(&[1, 2, 3, 4, 5], 90.0), Some(5));
    }

    #[test]
    fn groups_stats_and_compliance() {
        let rows = vec![
            row("s1", "fire", Some(30), Some(300)),
            row("s1", "fire", Some(50), Some(400)),
            row("s1", "fire", Some(90), Some(200)),
            row("s1", "noise", Some(120), None),
            row("s2", "fire", None, None),
        ];
        let k = compute_kpis(&rows, GroupBy::OrgAndType, &KpiTargets::default());
        assert_eq!(k.len(), 3);
        let f = &k[0];
        assert_eq!(
            (f.org_id.as_deref(), f.type_code.as_deref()),
            (Some("s1"), Some("fire"))
        );
        assert_eq!(f.count, 3);
        assert_eq!(f.call_to_dispatch.median_s, Some(50));
        assert_eq!(f.call_to_dispatch.p90_s, Some(90));
        assert_eq!(f.dispatch_to_arrival.median_s, Some(300));
        // first response: 330, 450, 290 → sorted 290, 330, 450.
        assert_eq!(f.first_response.median_s, Some(330));
        assert_eq!(f.dispatch_compliance.within, 2);
        assert_eq!(f.dispatch_compliance.fraction, Some(2.0 / 3.0));
        assert!(!f.dispatch_compliance.met);
        assert!(f.first_response_compliance.met);
        // Dispatched but no arrival yet: counts against first-response compliance.
        assert_eq!(k[1].first_response_compliance.missing, 1);
        assert_eq!(k[1].first_response_compliance.fraction, Some(0.0));
        // Never dispatched: counts against dispatch compliance.
        assert_eq!(k[2].dispatch_compliance.missing, 1);
        assert_eq!(k[2].call_to_dispatch.median_s, None);
        let all = compute_kpis(&rows, GroupBy::All, &KpiTargets::default());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].count, 5);
        assert_eq!(all[0].dispatch_compliance.fraction, Some(2.0 / 5.0));
    }

    #[test]
    fn year_over_year_change() {
        let t = KpiTargets::default();
        let cur = compute_kpis(
            &[
                row("s1", "fire", Some(30), Some(300)),
                row("s1", "fire", Some(40), Some(200)),
            ],
            GroupBy::Org,
            &t,
        );
        let prev = compute_kpis(
            &[
                row("s1", "fire", Some(80), Some(400)),
                row("s1", "fire", Some(50), Some(400)),
                row("s1", "fire", Some(50), Some(600)),
                row("s1", "fire", Some(20), Some(600)),
                row("s2", "noise", Some(20), Some(600)),
            ],
            GroupBy::Org,
            &t,
        );
        let y = year_over_year(&cur, &prev);
        assert_eq!(y.len(), 2);
        assert_eq!(y[0].count_current, 2);
        assert_eq!(y[0].count_previous, 4);
        assert_eq!(y[0].count_change, Some(-0.5));
        assert_eq!(y[0].median_first_response_current_s, Some(240));
        assert_eq!(y[0].median_first_response_previous_s, Some(480));
        assert_eq!(y[0].dispatch_compliance_change_pp, Some(25.0));
        assert_eq!(y[1].count_current, 0);
        assert_eq!(y[1].count_change, Some(-1.0));
    }

    #[test]
    fn times_from_incident_timeline() {
        let t0 = Timestamp::from_secs(1_790_000_000);
        let mut inc = Incident::create(
            IncidentNumber::new(2026, 11, 24, 1).unwrap(),
            "s1",
            t0,
            "x",
            "",
        )
        .unwrap();
        assert_eq!(IncidentTimes::from_incident(&inc), None);
        inc.classify("fire", Priority::P1, t0.plus_secs(20), "x")
            .unwrap();
        inc.dispatch(&["a", "b"], t0.plus_secs(45), "x").unwrap();
        inc.arrive("b", t0.plus_secs(345)).unwrap();
        inc.arrive("a", t0.plus_secs(400)).unwrap();
        inc.clear(t0.plus_secs(900), "a", "").unwrap();
        inc.close(Disposition::Resolved, t0.plus_secs(901), "a")
            .unwrap();
        let r = IncidentTimes::from_incident(&inc).unwrap();
        assert_eq!(r.call_to_dispatch_s(), Some(45));
        assert_eq!(r.dispatch_to_arrival_s(), Some(300));
        assert_eq!(r.first_response_s(), Some(345));
    }
}
