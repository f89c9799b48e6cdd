//! The dispatch (CAD) service: owns the incident taxonomy and classifier, an
//! in-memory index of unit positions snapped to the road network, per-incident
//! locks, and the escalation and hand-off outbox workers.
//!
//! Incidents are not cached: each state change loads the stored row and
//! timeline, replays the timeline through `pingan_dispatch::Incident` (so the
//! crate's state machine decides what is legal), applies the new action and
//! writes the row patch and new timeline lines in one transaction. Replaying a
//! few dozen lines costs microseconds and keeps every server process honest
//! after restarts.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use pingan_core::{LatLng, Timestamp};
use pingan_dispatch::diversion::{self, HandoffInput};
use pingan_dispatch::{
    CandidateUnit, Capability, Classifier, CommandLevel, DeliveryOutcome, Disposition,
    EscalationAction, EscalationPolicy, EscalationState, Handoff, HandoffState, Incident,
    IncidentError, IncidentNumber, IncidentState, Partner, PartnerUpdate, Priority,
    RecommendConfig, RecommendRequest, RetryPolicy, Shortlist, Taxonomy, TimelineEntry,
    TimelineKind, UnitKind, UnitStatus,
};
use pingan_roads::Snap;
use pingan_store::{IncidentPatch, IncidentRow, NewTimelineEntry, TimelineRow, UnitMove};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::live::LiveEvent;

/// China Standard Time, for dating incident numbers (JQ + local day).
pub const UTC_OFFSET_MIN: i32 = 480;

/// A unit as the recommender sees it.
#[derive(Debug, Clone)]
pub struct UnitEntry {
    pub id: i64,
    pub callsign: String,
    pub kind: String,
    pub org_path: String,
    pub status: String,
    pub capabilities: Vec<String>,
    pub position: Option<LatLng>,
    pub position_at: Option<i64>,
    pub incident_id: Option<i64>,
    /// Road snap of `position`, computed when the position changes.
    pub snap: Option<Snap>,
    /// The recommender's view of the unit, kept current with status and
    /// position so a recommendation reads the index without copying it;
    /// `None` without a position or with an unknown kind or status.
    pub(crate) candidate: Option<CandidateUnit>,
}

impl UnitEntry {
    /// Recomputes [`UnitEntry::candidate`] after a change of status,
    /// position or capabilities. `position_age_s` is left at 0: it depends on
    /// the query time and is set on the shortlisted few.
    fn refresh_candidate(&mut self) {
        self.candidate = match (
            self.position,
            UnitKind::from_code(&self.kind),
            UnitStatus::from_code(&self.status),
        ) {
            (Some(position), Some(kind), Some(status)) => Some(CandidateUnit {
                unit_id: self.id.to_string(),
                kind,
                status,
                capabilities: unit_capabilities(self),
                position,
                position_age_s: 0,
                current_incident_priority: None,
            }),
            _ => None,
        };
    }
}

/// What a recommendation needs to know about a shortlisted unit besides its
/// candidate entry: its id, callsign and road snap.
#[derive(Debug, Clone)]
pub(crate) struct ShortlistedUnit {
    pub(crate) id: i64,
    pub(crate) callsign: String,
    pub(crate) snap: Option<Snap>,
}

/// How long the units last recommended for an incident stand in for a fresh
/// recommendation when that incident is dispatched (escalation candidates).
const RECENT_RECOMMENDATION_MS: i64 = 60_000;
/// Bound on remembered recommendations (oldest half dropped beyond it).
const RECENT_RECOMMENDATION_CAP: usize = 4096;

/// The dispatch service held in [`AppState::dispatch`].
pub struct DispatchService {
    taxonomy: RwLock<Arc<Taxonomy>>,
    classifier: RwLock<Arc<Classifier>>,
    units: RwLock<HashMap<i64, UnitEntry>>,
    units_loaded_at: Mutex<Option<i64>>,
    /// Per incident: when it was last recommended and the police units shown.
    recent_recommendations: Mutex<HashMap<i64, (i64, Vec<i64>)>>,
    locks: Vec<tokio::sync::Mutex<()>>,
    escalations: Mutex<HashMap<i64, EscalationState>>,
    /// Incidents whose escalation changed since it was last stored.
    escalations_dirty: Mutex<std::collections::HashSet<i64>>,
    policy: RwLock<EscalationPolicy>,
    retry: RwLock<RetryPolicy>,
    http: reqwest::Client,
    outbox_wake: tokio::sync::Notify,
}

impl std::fmt::Debug for DispatchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchService").finish_non_exhaustive()
    }
}

/// How long the unit index may be reused before it is re-read from the store
/// (units created, moved between orgs or changed by other processes).
const UNIT_INDEX_TTL_MS: i64 = 30_000;

impl DispatchService {
    pub fn new() -> DispatchService {
        DispatchService {
            taxonomy: RwLock::new(Arc::new(Taxonomy::builtin())),
            classifier: RwLock::new(Arc::new(Classifier::builtin())),
            units: RwLock::new(HashMap::new()),
            units_loaded_at: Mutex::new(None),
            recent_recommendations: Mutex::new(HashMap::new()),
            locks: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
            escalations: Mutex::new(HashMap::new()),
            escalations_dirty: Mutex::new(Default::default()),
            policy: RwLock::new(EscalationPolicy::default()),
            retry: RwLock::new(RetryPolicy::default()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(
                    RetryPolicy::default().request_timeout_ms,
                ))
                .build()
                .unwrap_or_default(),
            outbox_wake: tokio::sync::Notify::new(),
        }
    }

    pub fn taxonomy(&self) -> Arc<Taxonomy> {
        read(&self.taxonomy).clone()
    }

    /// Replaces the taxonomy (admin edits) and retrains the classifier on it,
    /// so suggestions use the edited default priorities and leaf types.
    pub fn set_taxonomy(&self, t: Taxonomy) {
        let corpus: Vec<_> = pingan_dispatch::classify::parse_corpus(
            pingan_dispatch::classify::BUILTIN_CORPUS,
            &Taxonomy::builtin(),
        )
        .unwrap_or_default()
        .into_iter()
        .filter(|c| t.get(&c.type_code).is_some() && t.children(&c.type_code).next().is_none())
        .collect();
        match Classifier::train(&t, &corpus, Default::default()) {
            Ok(c) => *write(&self.classifier) = Arc::new(c),
            Err(e) => {
                tracing::warn!(error = %e, "classifier kept: cannot retrain on the edited taxonomy")
            }
        }
        *write(&self.taxonomy) = Arc::new(t);
    }

    pub fn classifier(&self) -> Arc<Classifier> {
        read(&self.classifier).clone()
    }

    /// Escalation timing (acknowledgement timeout etc.).
    pub fn set_escalation_policy(&self, p: EscalationPolicy) {
        *write(&self.policy) = p;
    }

    pub fn escalation_policy(&self) -> EscalationPolicy {
        *read(&self.policy)
    }

    /// Hand-off retry schedule.
    pub fn set_retry_policy(&self, p: RetryPolicy) {
        *write(&self.retry) = p;
    }

    /// Wakes the outbox worker (after new hand-offs are queued).
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    pub(crate) async fn lock(&self, incident_id: i64) -> tokio::sync::MutexGuard<'_, ()> {
        self.locks[incident_id.rem_euclid(self.locks.len() as i64) as usize]
            .lock()
            .await
    }

    /// Re-reads all units from the store when the index is older than its TTL.
    pub async fn ensure_units(&self, s: &AppState) -> ApiResult<()> {
        let now = s.now_ms();
        let fresh = lock_std(&self.units_loaded_at).is_some_and(|t| now - t < UNIT_INDEX_TTL_MS);
        if fresh {
            return Ok(());
        }
        self.reload_units(s).await
    }

    /// Replaces the unit index with the store's units, keeping snaps of
    /// unchanged positions.
    pub async fn reload_units(&self, s: &AppState) -> ApiResult<()> {
        let rows = s.store.all_units().await?;
        let city = s.city();
        let old = read(&self.units).clone();
        let mut map = HashMap::with_capacity(rows.len());
        for u in rows {
            let position = match (u.lat, u.lng) {
                (Some(a), Some(b)) => LatLng::new(a, b).ok(),
                _ => None,
            };
            let snap = match old.get(&u.id) {
                Some(o) if o.position == position && o.snap.is_some() => o.snap,
                _ => match (&city, position) {
                    (Some(c), Some(p)) => Some(c.router.snap(p)),
                    _ => None,
                },
            };
            let mut entry = UnitEntry {
                id: u.id,
                callsign: u.callsign,
                kind: u.kind,
                org_path: u.org_path,
                status: u.status,
                capabilities: u.capabilities,
                position,
                position_at: u.position_at,
                incident_id: u.incident_id,
                snap,
                candidate: None,
            };
            entry.refresh_candidate();
            map.insert(u.id, entry);
        }
        *write(&self.units) = map;
        *lock_std(&self.units_loaded_at) = Some(s.now_ms());
        Ok(())
    }

    /// Applies a position report to the index (from the positions endpoint's
    /// live events or the demo's movement).
    pub fn update_position(&self, s: &AppState, unit_id: i64, p: LatLng, at: i64) {
        let snap = s.city().map(|c| c.router.snap(p));
        if let Some(u) = write(&self.units).get_mut(&unit_id) {
            if u.position_at.is_some_and(|t| t > at) {
                return;
            }
            u.position = Some(p);
            u.position_at = Some(at);
            u.snap = snap;
            match u.candidate.as_mut() {
                Some(c) => c.position = p,
                None => u.refresh_candidate(),
            }
        }
    }

    pub(crate) fn set_unit_status_cached(&self, unit_id: i64, status: &str, incident: Option<i64>) {
        if let Some(u) = write(&self.units).get_mut(&unit_id) {
            u.status = status.to_string();
            u.incident_id = incident;
            match (u.candidate.as_mut(), UnitStatus::from_code(status)) {
                (Some(c), Some(st)) => c.status = st,
                _ => u.refresh_candidate(),
            }
        }
    }

    pub fn unit(&self, id: i64) -> Option<UnitEntry> {
        read(&self.units).get(&id).cloned()
    }

    /// A snapshot of every indexed unit.
    pub fn units(&self) -> Vec<UnitEntry> {
        read(&self.units).values().cloned().collect()
    }

    /// The recommender's first phase over the unit index, under its read
    /// lock without copying the index: only the shortlisted few are copied,
    /// their position ages set for `now_ms`, with their ids, callsigns and
    /// road snaps keyed by candidate id.
    pub(crate) fn shortlist(
        &self,
        request: &RecommendRequest<'_>,
        config: &RecommendConfig,
        now_ms: i64,
    ) -> (Shortlist, HashMap<String, ShortlistedUnit>) {
        let units = read(&self.units);
        let mut list = pingan_dispatch::shortlist(
            request,
            units.values().filter_map(|u| u.candidate.as_ref()),
            config,
        );
        let mut found = HashMap::new();
        for c in list.units_mut() {
            let Some(u) = c.unit_id.parse::<i64>().ok().and_then(|id| units.get(&id)) else {
                continue;
            };
            c.position_age_s = u
                .position_at
                .map(|t| ((now_ms - t).max(0) / 1000).min(u32::MAX as i64) as u32)
                .unwrap_or(u32::MAX);
            found.insert(
                c.unit_id.clone(),
                ShortlistedUnit {
                    id: u.id,
                    callsign: u.callsign.clone(),
                    snap: u.snap,
                },
            );
        }
        (list, found)
    }

    /// Remembers the police units just recommended for an incident, so its
    /// dispatch can arm escalation with them without routing again.
    pub(crate) fn remember_recommendation(&self, incident_id: i64, at: i64, units: Vec<i64>) {
        let mut m = lock_std(&self.recent_recommendations);
        if m.len() >= RECENT_RECOMMENDATION_CAP {
            let mut ats: Vec<i64> = m.values().map(|v| v.0).collect();
            let mid = ats.len() / 2;
            let cut = *ats.select_nth_unstable(mid).1;
            m.retain(|_, v| v.0 > cut);
        }
        m.insert(incident_id, (at, units));
    }

    /// The police units recommended for an incident within the last minute.
    pub(crate) fn recent_recommendation(&self, incident_id: i64, now: i64) -> Option<Vec<i64>> {
        lock_std(&self.recent_recommendations)
            .get(&incident_id)
            .filter(|(at, _)| now - at <= RECENT_RECOMMENDATION_MS && now >= *at)
            .map(|(_, u)| u.clone())
    }

    pub(crate) fn escalation_register(&self, st: EscalationState) {
        let id = id_of(&st.incident_id);
        lock_std(&self.escalations).insert(id, st);
        lock_std(&self.escalations_dirty).insert(id);
    }

    pub(crate) fn escalation_ack(&self, incident_id: i64, unit_id: i64) {
        lock_std(&self.escalations_dirty).insert(incident_id);
        let mut m = lock_std(&self.escalations);
        if let Some(st) = m.get_mut(&incident_id)
            && st.acknowledge(&unit_id.to_string())
        {
            m.remove(&incident_id);
        }
    }

    pub(crate) fn escalation_drop(&self, incident_id: i64) {
        lock_std(&self.escalations).remove(&incident_id);
        lock_std(&self.escalations_dirty).insert(incident_id);
    }

    /// Due escalation actions at `now`, applied to the tracked states.
    pub(crate) fn escalation_due(&self, now: Timestamp) -> Vec<EscalationAction> {
        let mut m = lock_std(&self.escalations);
        let mut out = Vec::new();
        let mut done = Vec::new();
        for (id, st) in m.iter_mut() {
            if let Some(a) = pingan_dispatch::escalation_step(st, now) {
                st.apply(&a, now);
                out.push(a);
                lock_std(&self.escalations_dirty).insert(*id);
            }
            if st.next_deadline().is_none() {
                done.push(*id);
            }
        }
        for id in done {
            m.remove(&id);
            lock_std(&self.escalations_dirty).insert(id);
        }
        out
    }
}

impl Default for DispatchService {
    fn default() -> Self {
        Self::new()
    }
}

fn id_of(s: &str) -> i64 {
    s.parse().unwrap_or(-1)
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

fn lock_std<T>(l: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

/// Maps a domain error to the API: illegal transitions are conflicts (409),
/// missing inputs are 422 on the named field.
pub(crate) fn incident_error(e: IncidentError) -> ApiError {
    match &e {
        IncidentError::IllegalTransition { .. }
        | IncidentError::IllegalUnitStep { .. }
        | IncidentError::UnitAlreadyAssigned { .. }
        | IncidentError::UnitNotAssigned { .. }
        | IncidentError::ReopenWindowPassed { .. }
        | IncidentError::TimeWentBackwards { .. } => {
            ApiError::conflict(e.to_string()).with_field(e.field())
        }
        _ => ApiError::invalid(e.field(), e.to_string()),
    }
}

fn corrupt(what: &str) -> ApiError {
    ApiError::internal(format!("stored incident timeline is inconsistent: {what}"))
}

/// Parses a disposition code (`case_opened:<no>`, `duplicate:<number>`,
/// `other:<text>` carry their argument after a colon).
pub fn parse_disposition(s: &str) -> Option<Disposition> {
    let (code, arg) = match s.split_once(':') {
        Some((c, a)) => (c.trim(), a.trim().to_string()),
        None => (s.trim(), String::new()),
    };
    Some(match code {
        "resolved" => Disposition::Resolved,
        "case_opened" if !arg.is_empty() => Disposition::CaseOpened { case_no: arg },
        "mediated" => Disposition::Mediated,
        "no_finding" => Disposition::NoFinding,
        "false_report" => Disposition::FalseReport,
        "handled_by_partner" => Disposition::HandledByPartner,
        "duplicate" if !arg.is_empty() => Disposition::Duplicate { of: arg },
        "other" if !arg.is_empty() => Disposition::Other { text: arg },
        _ => return None,
    })
}

pub(crate) fn disposition_string(d: &Disposition) -> String {
    match d {
        Disposition::CaseOpened { case_no } => format!("case_opened:{case_no}"),
        Disposition::Duplicate { of } => format!("duplicate:{of}"),
        Disposition::Other { text } => format!("other:{text}"),
        d => d.code().to_string(),
    }
}

fn level_from(s: &str) -> Option<CommandLevel> {
    match s {
        "station" => Some(CommandLevel::Station),
        "district" => Some(CommandLevel::District),
        "city" => Some(CommandLevel::City),
        _ => None,
    }
}

/// Rebuilds the domain incident from its stored timeline. Each line's `data`
/// holds the arguments the crate needs to repeat the step.
pub fn replay(row: &IncidentRow, timeline: &[TimelineRow]) -> ApiResult<Incident> {
    let number = IncidentNumber::from_str(&row.number).map_err(|_| corrupt("number"))?;
    let mut inc: Option<Incident> = None;
    for t in timeline {
        let e = &t.entry;
        let at = Timestamp(e.at);
        let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
        let text = |k: &str| data[k].as_str().unwrap_or_default().to_string();
        let unit = e.unit_id.map(|u| u.to_string()).unwrap_or_default();
        let Some(i) = inc.as_mut() else {
            if e.kind != "created" {
                return Err(corrupt("first line is not 'created'"));
            }
            inc = Some(
                Incident::create(number, &text("org"), at, &e.actor, &e.detail)
                    .map_err(|_| corrupt("created"))?,
            );
            continue;
        };
        let r: Result<(), IncidentError> = match e.kind.as_str() {
            "classified" => {
                let p = Priority::from_str(&text("priority")).map_err(|_| corrupt("priority"))?;
                i.classify(&text("type"), p, at, &e.actor).map(drop)
            }
            "diverted" => {
                let ps: Vec<Partner> = data["partners"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().and_then(Partner::from_code))
                            .collect()
                    })
                    .unwrap_or_default();
                if data["joint"].as_bool() == Some(true) {
                    i.add_partners(&ps);
                    Ok(())
                } else {
                    i.divert(&ps, at, &e.actor).map(drop)
                }
            }
            "dispatched" => i.dispatch(&[unit.as_str()], at, &e.actor).map(drop),
            "acknowledged" => i.acknowledge(&unit, at).map(drop),
            "en_route" => i.en_route(&unit, at).map(drop),
            "arrived" => i.arrive(&unit, at).map(drop),
            "unit_cleared" => i.clear_unit(&unit, at).map(drop),
            // Written by clear_unit together with the last unit's line.
            "cleared" if data["auto"].as_bool() == Some(true) => Ok(()),
            "cleared" => i.clear(at, &e.actor, &e.detail).map(drop),
            "unit_cancelled" => i.cancel_unit(&unit, at, &e.actor, &e.detail).map(drop),
            "closed" => {
                let d = parse_disposition(&text("disposition"))
                    .ok_or_else(|| corrupt("disposition"))?;
                i.close(d, at, &e.actor).map(drop)
            }
            "transferred" => {
                let lvl = level_from(&text("level")).ok_or_else(|| corrupt("level"))?;
                i.transfer(&text("org"), lvl, &text("reason"), at, &e.actor)
                    .map(drop)
            }
            "escalated" => {
                let lvl = level_from(&text("level")).ok_or_else(|| corrupt("level"))?;
                i.escalate(lvl, &text("reason"), at, &e.actor).map(drop)
            }
            "reopened" => i
                .reopen(&e.detail, Default::default(), at, &e.actor)
                .map(drop),
            "call_merged" => i.merge_call(at, &e.actor, &e.detail).map(drop),
            // Hand-off progress lines are informational.
            "handoff" => Ok(()),
            other => return Err(corrupt(other)),
        };
        r.map_err(|err| corrupt(&format!("{} at line {}: {err}", e.kind, t.id)))?;
    }
    inc.ok_or_else(|| corrupt("empty timeline"))
}

/// A domain timeline entry as a store row, with replay arguments.
pub(crate) fn to_row(e: &TimelineEntry, data: &Value) -> NewTimelineEntry {
    let data = if e.kind == TimelineKind::Cleared && data["op"] == "clear_unit" {
        json!({"auto": true})
    } else {
        data.clone()
    };
    NewTimelineEntry {
        at: e.at.millis(),
        kind: e.kind.code().to_string(),
        actor: e.actor.clone(),
        detail: e.detail.clone(),
        unit_id: e.unit_id.as_deref().and_then(|u| u.parse().ok()),
        data: data.to_string(),
    }
}

/// The row patch that mirrors the domain incident after a step.
pub(crate) fn patch_of(inc: &Incident) -> IncidentPatch {
    IncidentPatch {
        status: Some(inc.state().code().to_string()),
        type_code: inc.type_code().map(str::to_string),
        priority: inc.priority().map(|p| p.to_string()),
        org_id: inc.org_id().parse().ok(),
        disposition: inc.disposition().map(disposition_string),
        dispatched_at: inc.first_dispatch_at().map(|t| t.millis()),
        arrived_at: inc.first_arrival_at().map(|t| t.millis()),
        closed_at: inc.closed_at().map(|t| t.millis()),
        reopen: inc.closed_at().is_none(),
    }
}

/// The capabilities of a stored unit: its listed codes, or its kind's defaults.
pub(crate) fn unit_capabilities(u: &UnitEntry) -> std::collections::BTreeSet<Capability> {
    let listed: std::collections::BTreeSet<Capability> = u
        .capabilities
        .iter()
        .filter_map(|c| Capability::from_code(c))
        .collect();
    if listed.is_empty() {
        UnitKind::from_code(&u.kind)
            .map(UnitKind::default_capabilities)
            .unwrap_or_default()
    } else {
        listed
    }
}

/// Runs one state change on an incident under its lock: replay, apply `op`,
/// persist the row patch, new timeline lines and unit assignments in one
/// transaction, publish `incident.updated`
/// and hand the new state to [`case_state_changed`]. `op` returns the new
/// timeline entries and the replay data to store with them.
pub(crate) async fn mutate<F>(s: &AppState, id: i64, op: F) -> ApiResult<(IncidentRow, Incident)>
where
    F: FnOnce(&mut Incident, Timestamp) -> ApiResult<(Vec<TimelineEntry>, Value)>,
{
    mutate_moving(s, id, Vec::new(), op).await
}

/// [`mutate`] that also moves `units` in the same transaction, each only if
/// it is still in the status it was checked in (so two dispatchers racing
/// for one unit cannot both win, in one process or several), then updates
/// the unit index and publishes `unit.status` for each.
pub(crate) async fn mutate_moving<F>(
    s: &AppState,
    id: i64,
    units: Vec<UnitMove>,
    op: F,
) -> ApiResult<(IncidentRow, Incident)>
where
    F: FnOnce(&mut Incident, Timestamp) -> ApiResult<(Vec<TimelineEntry>, Value)>,
{
    let svc = s.dispatch.clone();
    let _g = svc.lock(id).await;
    let row = s.store.get_incident(id).await?;
    let tl = s.store.incident_timeline(id).await?;
    let mut inc = replay(&row, &tl)?;
    // The timeline must not go backwards even if the clock does (tests with a
    // fixed clock, NTP steps): never earlier than the last line.
    let last = tl.last().map(|t| t.entry.at).unwrap_or(0);
    let now = Timestamp(s.now_ms().max(last));
    let (entries, data) = op(&mut inc, now)?;
    let rows: Vec<NewTimelineEntry> = entries.iter().map(|e| to_row(e, &data)).collect();
    let mut patch = patch_of(&inc);
    // Unchanged org: nothing to move (and no org path to look up).
    if patch.org_id == Some(row.org_id) {
        patch.org_id = None;
    }
    let updated = s
        .store
        .update_incident_with_assignments(
            id,
            &patch,
            &rows,
            &assignment_rows(id, &inc),
            &units,
            now.millis(),
        )
        .await?;
    for m in &units {
        unit_moved(s, m);
    }
    case_state_changed(s, &updated, &rows).await;
    Ok((updated, inc))
}

/// The domain assignments as store rows (one row per dispatch of a unit,
/// numbered per unit), written with the incident's change.
fn assignment_rows(id: i64, inc: &Incident) -> Vec<pingan_store::AssignmentRow> {
    let mut seen: HashMap<&str, i64> = HashMap::new();
    let mut out = Vec::with_capacity(inc.assignments().len());
    for a in inc.assignments() {
        let seq = seen.entry(a.unit_id.as_str()).or_insert(0);
        *seq += 1;
        let stage = if a.cancelled_at.is_some() {
            "cancelled"
        } else if a.cleared_at.is_some() {
            "cleared"
        } else if a.arrived_at.is_some() {
            "on_scene"
        } else if a.en_route_at.is_some() {
            "en_route"
        } else if a.acknowledged_at.is_some() {
            "acknowledged"
        } else {
            "dispatched"
        };
        out.push(pingan_store::AssignmentRow {
            incident_id: id,
            unit_id: a.unit_id.parse().unwrap_or(-1),
            seq: *seq,
            stage: stage.to_string(),
            dispatched_at: a.dispatched_at.millis(),
            acknowledged_at: a.acknowledged_at.map(|t| t.millis()),
            arrived_at: a.arrived_at.map(|t| t.millis()),
            cleared_at: a.cleared_at.or(a.cancelled_at).map(|t| t.millis()),
        });
    }
    out
}

/// Every incident state change passes through here: it publishes
/// `incident.created`/`incident.updated` for the console and wakes the ledger
/// feed worker (the store's triggers queued the state change durably in the
/// change's own transaction; see [`crate::citizen`]).
pub async fn case_state_changed(s: &AppState, row: &IncidentRow, lines: &[NewTimelineEntry]) {
    s.citizen.feed.wake();
    let dto = match crate::api::incidents::incident_dto(s, row, false).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(incident = row.id, error = %e.message, "incident event not published");
            return;
        }
    };
    let name = if lines.iter().any(|l| l.kind == "created") {
        "incident.created"
    } else {
        "incident.updated"
    };
    let _ = s.live.send(LiveEvent {
        name,
        org_path: Some(row.org_path.clone()),
        data: json!({ "incident": dto }),
    });
}

/// Publishes a unit's status for the console.
pub(crate) fn unit_status_event(
    s: &AppState,
    unit_id: i64,
    status: &str,
    incident: Option<i64>,
    org_path: &str,
) {
    let _ = s.live.send(LiveEvent {
        name: "unit.status",
        org_path: Some(org_path.to_string()),
        data: json!({"id": unit_id, "status": status, "incident_id": incident, "at": crate::api::rfc3339(s.now_ms())}),
    });
}

/// After a unit moved in the store: the index and the live stream follow.
fn unit_moved(s: &AppState, m: &UnitMove) {
    s.dispatch
        .set_unit_status_cached(m.unit_id, &m.to, m.incident_id);
    if let Some(u) = s.dispatch.unit(m.unit_id) {
        unit_status_event(s, m.unit_id, &m.to, m.incident_id, &u.org_path);
    }
}

/// A move of `unit` from the status it was read in.
pub(crate) fn move_from(
    unit: &pingan_store::UnitRow,
    to: UnitStatus,
    incident: Option<i64>,
) -> UnitMove {
    UnitMove {
        unit_id: unit.id,
        from: vec![unit.status.clone()],
        to: to.code().to_string(),
        incident_id: incident,
    }
}

/// Moves a unit (compare-and-set, see [`UnitMove`]) outside any incident change.
pub(crate) async fn move_unit(s: &AppState, m: UnitMove) -> ApiResult<()> {
    s.store.move_unit(&m, s.now_ms()).await?;
    unit_moved(s, &m);
    Ok(())
}

/// Dispatches units to an incident in one action: checks every unit's status
/// machine first (so nothing changes if one is illegal), then records the
/// incident step and the unit statuses, and arms escalation for the first unit.
pub async fn dispatch_units(
    s: &AppState,
    incident_id: i64,
    unit_ids: &[i64],
    actor: &str,
    next_candidates: Vec<i64>,
) -> ApiResult<IncidentRow> {
    if unit_ids.is_empty() {
        return Err(ApiError::invalid("unit_ids", "no units given to dispatch"));
    }
    let mut units = Vec::with_capacity(unit_ids.len());
    for &u in unit_ids {
        let row = s
            .store
            .find_unit(u)
            .await?
            .ok_or_else(|| ApiError::invalid("unit_ids", format!("unit {u} does not exist")))?;
        let from = UnitStatus::from_code(&row.status)
            .ok_or_else(|| ApiError::internal(format!("unit {u} has unknown status")))?;
        from.transition(UnitStatus::Dispatched).map_err(|e| {
            ApiError::conflict(format!("unit {u} ({}): {e}", row.callsign)).with_field("unit_ids")
        })?;
        units.push(row);
    }
    let ids: Vec<String> = unit_ids.iter().map(i64::to_string).collect();
    let actor = actor.to_string();
    // Each unit is taken only if still in the status just checked.
    let moves = units
        .iter()
        .map(|u| move_from(u, UnitStatus::Dispatched, Some(incident_id)))
        .collect();
    let (row, _) = mutate_moving(s, incident_id, moves, move |inc, now| {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let e = inc.dispatch(&refs, now, &actor).map_err(incident_error)?;
        Ok((e, json!({"op": "dispatch"})))
    })
    .await?;
    let policy = s.dispatch.escalation_policy();
    s.dispatch.escalation_register(EscalationState::new(
        &incident_id.to_string(),
        &unit_ids[0].to_string(),
        Timestamp(s.now_ms()),
        next_candidates
            .into_iter()
            .filter(|c| !unit_ids.contains(c))
            .map(|c| c.to_string())
            .collect(),
        policy,
    ));
    // Stored before answering, so a restart right after still escalates.
    persist_escalations(s).await;
    Ok(row)
}

/// Applies one escalation action: re-dispatch to the next unit, or raise the
/// command level (the district or city command is notified).
pub async fn apply_escalation(s: &AppState, a: EscalationAction) -> ApiResult<()> {
    match a {
        EscalationAction::Redispatch {
            incident_id,
            cancel_unit,
            next_unit,
            reason,
        } => {
            let id = id_of(&incident_id);
            let cancel: i64 = id_of(&cancel_unit);
            let next: i64 = id_of(&next_unit);
            let r = reason.clone();
            // The silent unit stands down with the cancellation, if it is
            // still dispatched to this incident.
            let stand_down = s
                .store
                .find_unit(cancel)
                .await?
                .filter(|u| u.status == "dispatched" && u.incident_id == Some(id))
                .map(|u| move_from(&u, UnitStatus::Available, None));
            mutate_moving(s, id, stand_down.into_iter().collect(), move |inc, now| {
                let e = inc
                    .cancel_unit(&cancel_unit, now, "system", &r)
                    .map_err(incident_error)?;
                Ok((vec![e], json!({"op": "cancel"})))
            })
            .await?;
            // The tracked escalation already moved on to `next`; dispatch it
            // without re-arming a fresh state.
            let nu = s.store.find_unit(next).await?.filter(|u| {
                UnitStatus::from_code(&u.status)
                    .is_some_and(|st| st.can_become(UnitStatus::Dispatched))
            });
            if let Some(u) = nu {
                let n = next.to_string();
                let take = move_from(&u, UnitStatus::Dispatched, Some(id));
                mutate_moving(s, id, vec![take], move |inc, now| {
                    let e = inc
                        .dispatch(&[n.as_str()], now, "system")
                        .map_err(incident_error)?;
                    Ok((e, json!({"op": "dispatch"})))
                })
                .await?;
            }
            Ok(())
        }
        EscalationAction::EscalateTo {
            incident_id,
            level,
            reason,
        } => {
            let id = id_of(&incident_id);
            let (row, _) = mutate(s, id, move |inc, now| {
                let e = inc
                    .escalate(level, &reason, now, "system")
                    .map_err(incident_error)?;
                Ok((vec![e], json!({"level": level.code(), "reason": reason})))
            })
            .await?;
            // Notify the command at that level: the district (or city) above
            // the responsible station sees the incident in its stream.
            let j = s.jurisdiction();
            let target = j
                .ancestors(row.org_id)
                .into_iter()
                .find(|n| n.kind.as_str() == level.code())
                .map(|n| n.id);
            if let Some(t) = target
                && let Ok(org) = s.store.get_org(t).await
            {
                let _ = s.live.send(LiveEvent {
                    name: "incident.updated",
                    org_path: Some(org.path),
                    data: json!({"incident": crate::api::incidents::incident_dto(s, &row, false).await?, "escalated_to": level.code()}),
                });
            }
            Ok(())
        }
    }
}

fn escalation_json(st: &EscalationState) -> String {
    json!({
        "incident_id": st.incident_id,
        "ack_timeout_s": st.policy.ack_timeout_s,
        "max_redispatches": st.policy.max_redispatches,
        "district_timeout_s": st.policy.district_timeout_s,
        "current_unit": st.current_unit,
        "dispatched_at": st.dispatched_at.millis(),
        "next_candidates": st.next_candidates,
        "tried": st.tried,
        "level": st.level.code(),
        "escalated_at": st.escalated_at.map(Timestamp::millis),
        "acknowledged": st.acknowledged,
    })
    .to_string()
}

fn escalation_from_json(text: &str) -> Option<EscalationState> {
    let v: Value = serde_json::from_str(text).ok()?;
    let list = |k: &str| -> Option<Vec<String>> {
        v[k].as_array()?
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let secs = |k: &str| v[k].as_u64().and_then(|x| u32::try_from(x).ok());
    Some(EscalationState {
        incident_id: v["incident_id"].as_str()?.to_string(),
        policy: EscalationPolicy {
            ack_timeout_s: secs("ack_timeout_s")?,
            max_redispatches: secs("max_redispatches")?,
            district_timeout_s: secs("district_timeout_s")?,
        },
        current_unit: v["current_unit"].as_str()?.to_string(),
        dispatched_at: Timestamp(v["dispatched_at"].as_i64()?),
        next_candidates: list("next_candidates")?,
        tried: list("tried")?,
        level: level_from(v["level"].as_str()?)?,
        escalated_at: v["escalated_at"].as_i64().map(Timestamp),
        acknowledged: v["acknowledged"].as_bool()?,
    })
}

/// Writes the escalations that changed since the last call (upsert with the
/// next deadline, or delete when acknowledged, dropped or finished). Failed
/// writes stay marked and are retried on the next escalation tick.
pub(crate) async fn persist_escalations(s: &AppState) {
    let ids: Vec<i64> = lock_std(&s.dispatch.escalations_dirty).drain().collect();
    for id in ids {
        let st = lock_std(&s.dispatch.escalations).get(&id).cloned();
        let r = match st {
            Some(st) => {
                s.store
                    .put_escalation(&pingan_store::EscalationRow {
                        incident_id: id,
                        state: escalation_json(&st),
                        deadline: st.next_deadline().map(Timestamp::millis),
                        updated_at: s.now_ms(),
                    })
                    .await
            }
            None => s.store.delete_escalation(id).await.map(drop),
        };
        if let Err(e) = r {
            tracing::warn!(incident = id, error = %e, "escalation not stored; retrying");
            lock_std(&s.dispatch.escalations_dirty).insert(id);
        }
    }
}

/// Re-arms the stored escalations at start (deadlines are absolute, so one
/// that passed while the server was down fires on the first tick). An entry
/// whose incident closed, or whose waiting unit acknowledged or was stood
/// down before the last write reached the store, is discarded.
pub async fn restore_escalations(s: &AppState) -> ApiResult<usize> {
    let mut armed = 0;
    for row in s.store.pending_escalations().await? {
        let st = escalation_from_json(&row.state);
        let live = match &st {
            Some(st) if st.next_deadline().is_some() => {
                let inc = s.store.find_incident(row.incident_id).await?;
                let waiting = s
                    .store
                    .incident_assignments(row.incident_id)
                    .await?
                    .iter()
                    .rev()
                    .find(|a| a.unit_id.to_string() == st.current_unit)
                    .is_some_and(|a| a.stage == "dispatched");
                inc.is_some_and(|i| i.status != "closed")
                    && (waiting || st.level != CommandLevel::Station)
            }
            _ => false,
        };
        match st {
            Some(st) if live => {
                lock_std(&s.dispatch.escalations).insert(row.incident_id, st);
                armed += 1;
            }
            _ => {
                s.store.delete_escalation(row.incident_id).await?;
            }
        }
    }
    Ok(armed)
}

/// Starts the background workers: escalation timer, hand-off outbox, and the
/// unit index follower.
pub fn start_workers(s: &AppState) {
    let st = s.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let due = st.dispatch.escalation_due(st.now());
            for a in due {
                if let Err(e) = apply_escalation(&st, a).await {
                    tracing::warn!(error = %e.message, "escalation step failed");
                }
            }
            persist_escalations(&st).await;
        }
    });
    let st = s.clone();
    tokio::spawn(async move { outbox_worker(st).await });
    let st = s.clone();
    let mut rx = s.live.subscribe();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) if ev.name == "unit.positions" || ev.name == "unit.position" => {
                    let items = ev.data["items"]
                        .as_array()
                        .cloned()
                        .unwrap_or_else(|| vec![ev.data.clone()]);
                    let now = st.now_ms();
                    for it in items {
                        let (Some(id), Some(lat), Some(lng)) = (
                            it["id"].as_i64(),
                            it["position"]["lat"].as_f64(),
                            it["position"]["lng"].as_f64(),
                        ) else {
                            continue;
                        };
                        if let Ok(p) = LatLng::new(lat, lng) {
                            st.dispatch.update_position(&st, id, p, now);
                        }
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Missed reports: re-read positions from the store.
                    let _ = st.dispatch.reload_units(&st).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// One hand-off's lifecycle rebuilt from its stored history.
fn handoff_of(row: &pingan_store::HandoffRow, policy: &RetryPolicy) -> ApiResult<Handoff> {
    let partner = Partner::from_code(&row.partner).ok_or_else(|| corrupt("handoff partner"))?;
    let hist: Vec<Value> = serde_json::from_str(&row.history).unwrap_or_default();
    let mut h = Handoff::new(
        &row.id.to_string(),
        &row.incident_id.to_string(),
        partner,
        Timestamp(row.created_at),
        row.seed as u64,
    );
    for e in hist {
        let at = Timestamp(e["at"].as_i64().unwrap_or(row.created_at));
        let detail = e["detail"].as_str().unwrap_or_default().to_string();
        let r = match e["event"].as_str().unwrap_or_default() {
            "delivered" => h.record_attempt(DeliveryOutcome::Delivered, at, policy),
            "failed" => h.record_attempt(DeliveryOutcome::Failed { error: detail }, at, policy),
            "accepted" => h.partner_update(PartnerUpdate::Accepted { note: detail }, at),
            "rejected" => h.partner_update(PartnerUpdate::Rejected { reason: detail }, at),
            "resolved" => h.partner_update(PartnerUpdate::Resolved { feedback: detail }, at),
            "returned_to_110" => {
                h.partner_update(PartnerUpdate::ReturnTo110 { reason: detail }, at)
            }
            _ => continue,
        };
        r.map_err(|e| corrupt(&format!("handoff history: {e}")))?;
    }
    Ok(h)
}

/// Stores a hand-off event and the resulting state (guarded by the previous
/// state so two writers cannot both apply).
pub(crate) async fn record_handoff_event(
    s: &AppState,
    row: &pingan_store::HandoffRow,
    event: &str,
    detail: &str,
    h: &Handoff,
) -> ApiResult<bool> {
    let mut hist: Vec<Value> = serde_json::from_str(&row.history).unwrap_or_default();
    hist.push(json!({"at": s.now_ms(), "event": event, "detail": detail}));
    let mut next = row.clone();
    next.status = h.state().code().to_string();
    next.attempts = i64::from(h.attempts());
    next.next_attempt_at = h.next_attempt_at().map(|t| t.millis());
    next.feedback = h.feedback().map(str::to_string).or(row.feedback.clone());
    next.history = serde_json::Value::Array(hist).to_string();
    let ok = s
        .store
        .update_handoff(&next, &row.status, s.now_ms())
        .await?;
    if ok {
        let inc = s.store.get_incident(row.incident_id).await?;
        let _ = s.live.send(LiveEvent {
            name: "handoff.updated",
            org_path: Some(inc.org_path),
            data: json!({"id": row.id, "incident_id": row.incident_id, "partner": row.partner, "status": next.status, "attempts": next.attempts, "feedback": next.feedback}),
        });
    }
    Ok(ok)
}

/// Applies a partner's callback to a hand-off.
pub async fn partner_callback(
    s: &AppState,
    handoff_id: i64,
    update: PartnerUpdate,
) -> ApiResult<pingan_store::HandoffRow> {
    let policy = *read(&s.dispatch.retry);
    let row = s.store.get_handoff(handoff_id).await?;
    let mut h = handoff_of(&row, &policy)?;
    let (event, detail) = match &update {
        PartnerUpdate::Accepted { note } => ("accepted", note.clone()),
        PartnerUpdate::Rejected { reason } => ("rejected", reason.clone()),
        PartnerUpdate::Resolved { feedback } => ("resolved", feedback.clone()),
        PartnerUpdate::ReturnTo110 { reason } => ("returned_to_110", reason.clone()),
    };
    let now = Timestamp(
        s.now_ms()
            .max(h.history().last().map(|e| e.at.millis()).unwrap_or(0)),
    );
    h.partner_update(update, now)
        .map_err(|e| ApiError::conflict(e.to_string()).with_field(e.field()))?;
    if !record_handoff_event(s, &row, event, &detail, &h).await? {
        return Err(ApiError::conflict(
            "the hand-off changed concurrently; retry",
        ));
    }
    {
        let _g = s.dispatch.lock(row.incident_id).await;
        let last = s
            .store
            .incident_timeline(row.incident_id)
            .await?
            .last()
            .map(|t| t.entry.at)
            .unwrap_or(0);
        let line = NewTimelineEntry {
            at: s.now_ms().max(last),
            kind: "handoff".into(),
            actor: format!("partner:{}", row.partner),
            detail: format!("{} {}: {detail}", row.partner, h.state().code()),
            unit_id: None,
            data: "{}".into(),
        };
        s.store
            .update_incident(
                row.incident_id,
                &IncidentPatch::default(),
                &[line],
                s.now_ms(),
            )
            .await?;
    }
    // 12345 found the case urgent: it comes back to 110 (reopened for dispatch).
    if h.state() == HandoffState::ReturnedTo110 {
        let reason = detail.clone();
        let _ = mutate(s, row.incident_id, move |inc, now| {
            let e = inc
                .reopen(
                    &format!("12345 退回110: {reason}"),
                    Default::default(),
                    now,
                    "partner:12345",
                )
                .map_err(incident_error)?;
            Ok((vec![e], json!({"op": "reopen"})))
        })
        .await;
    }
    s.store.get_handoff(handoff_id).await.map_err(Into::into)
}

async fn outbox_worker(s: AppState) {
    loop {
        let now = s.now_ms();
        let due = match s.store.due_handoffs(now, 32).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot read due hand-offs");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        for row in &due {
            if let Err(e) = deliver(&s, row).await {
                tracing::warn!(handoff = row.id, error = %e.message, "outbox: delivery bookkeeping failed");
            }
        }
        if !due.is_empty() {
            continue;
        }
        let wait = match s.store.next_handoff_due().await {
            Ok(Some(t)) => (t - s.now_ms()).clamp(10, 5_000) as u64,
            _ => 5_000,
        };
        tokio::select! {
            _ = s.dispatch.outbox_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
    }
}

/// One delivery attempt of a due hand-off: POST the signed payload to the
/// partner's webhook and record the outcome (retry time or sent).
async fn deliver(s: &AppState, row: &pingan_store::HandoffRow) -> ApiResult<()> {
    let policy = *read(&s.dispatch.retry);
    let mut h = handoff_of(row, &policy)?;
    let outcome = match s.store.find_partner(&row.partner).await? {
        None => DeliveryOutcome::Failed {
            error: format!("no endpoint configured for partner {}", row.partner),
        },
        Some(p) => {
            let body = row.payload.clone().into_bytes();
            let sig = diversion::sign(p.secret.as_bytes(), Timestamp(s.now_ms()), &body);
            let r = s
                .dispatch
                .http
                .post(&p.webhook_url)
                .header("content-type", "application/json")
                .header(diversion::SIGNATURE_HEADER, sig)
                .header("X-Pingan-Handoff", row.id.to_string())
                .timeout(Duration::from_millis(policy.request_timeout_ms))
                .body(body)
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().is_success() => DeliveryOutcome::Delivered,
                Ok(resp) => DeliveryOutcome::Failed {
                    error: format!("partner answered {}", resp.status()),
                },
                Err(e) => DeliveryOutcome::Failed {
                    error: format!("transport: {e}"),
                },
            }
        }
    };
    let (event, detail) = match &outcome {
        DeliveryOutcome::Delivered => ("delivered", String::new()),
        DeliveryOutcome::Failed { error } => ("failed", error.clone()),
    };
    let last = h.history().last().map(|e| e.at.millis()).unwrap_or(0);
    let now = Timestamp(s.now_ms().max(last));
    h.record_attempt(outcome, now, &policy)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    record_handoff_event(s, row, event, &detail, &h).await?;
    Ok(())
}

/// One-key diversion of incident `id` to `partners` (the divert route and the
/// demo simulator): a classified incident police do not attend becomes
/// `diverted`; one police attend (classified or in an active response)
/// records the partners as a joint incident; then one signed hand-off per
/// partner is queued in the durable outbox. Returns the incident after the
/// change and the hand-off ids.
pub(crate) async fn divert_incident(
    s: &AppState,
    id: i64,
    partners: &[Partner],
    note: &str,
    actor: &str,
) -> ApiResult<(IncidentRow, Vec<i64>)> {
    let current = s.store.get_incident(id).await?;
    let police = current
        .type_code
        .as_deref()
        .and_then(|t| s.dispatch.taxonomy().get(t).map(|ty| ty.police_response()))
        .unwrap_or(true);
    let ps = partners.to_vec();
    let who = actor.to_string();
    let (row, _) = mutate(s, id, move |inc, now| {
        let codes: Vec<&str> = ps.iter().map(|x| x.code()).collect();
        if inc.state() == IncidentState::Classified && !police {
            let e = inc.divert(&ps, now, &who).map_err(incident_error)?;
            Ok((vec![e], json!({"partners": codes})))
        } else if inc.state() == IncidentState::Classified || inc.state().is_active_response() {
            inc.add_partners(&ps);
            let e = TimelineEntry {
                at: now,
                kind: TimelineKind::Diverted,
                actor: who.clone(),
                detail: format!("joint: {}", codes.join(",")),
                unit_id: None,
            };
            Ok((vec![e], json!({"partners": codes, "joint": true})))
        } else {
            Err(ApiError::conflict(format!(
                "cannot divert an incident in state {}",
                inc.state()
            ))
            .with_field("state"))
        }
    })
    .await?;
    let ids = divert(s, &row, partners, note, actor).await?;
    Ok((row, ids))
}

/// Builds the EIDO-style payloads and queues one hand-off per partner.
pub async fn divert(
    s: &AppState,
    row: &IncidentRow,
    partners: &[Partner],
    note: &str,
    actor: &str,
) -> ApiResult<Vec<i64>> {
    let tax = s.dispatch.taxonomy();
    let ty_code = row.type_code.clone().unwrap_or_else(|| "other".into());
    let ty = tax
        .get(&ty_code)
        .or_else(|| tax.iter().next())
        .ok_or_else(|| ApiError::internal("empty taxonomy"))?;
    let plan = pingan_dispatch::DiversionPlan {
        partners: partners.to_vec(),
        police_response: ty.police_response(),
    };
    let priority = row
        .priority
        .as_deref()
        .and_then(|p| Priority::from_str(p).ok())
        .unwrap_or(ty.default_priority());
    let point = LatLng::new(row.lat, row.lng).map_err(|e| ApiError::internal(e.to_string()))?;
    let now = Timestamp(s.now_ms());
    let notes = [(now, actor, note)];
    let mut new = Vec::new();
    for (i, p) in partners.iter().enumerate() {
        let seed = (row.id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64;
        let payload = diversion::build_payload(&HandoffInput {
            message_id: &format!("{}-{}", row.number, p.code()),
            now,
            sender: diversion::AgencyRef {
                id: row.org_id.to_string(),
                name: "pingan 110".into(),
            },
            partner: *p,
            plan: &plan,
            incident_number: &row.number,
            incident_type: ty,
            priority,
            created_at: Timestamp(row.created_at),
            summary: &row.description,
            point,
            address: row.address.as_deref(),
            org_id: &row.org_id.to_string(),
            caller_phone: Some(&row.caller_phone),
            caller_name: row.caller_name.as_deref(),
            notes: if note.is_empty() { &[] } else { &notes },
        });
        new.push(pingan_store::NewHandoff {
            incident_id: row.id,
            partner: p.code().to_string(),
            seed: seed as i64,
            payload: String::from_utf8_lossy(&diversion::payload_body(&payload)).into_owned(),
            history: "[]".into(),
        });
    }
    let ids = s.store.enqueue_handoffs(&new, now.millis()).await?;
    s.dispatch.wake_outbox();
    Ok(ids)
}
