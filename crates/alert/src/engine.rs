//! The sans-IO matching engine: sensors and watches are registered, events and
//! the clock come in through [`Engine::process`] and [`Engine::tick`], alert
//! drafts and effects come out. No I/O, no system clock, no threads.
//!
//! Cost per event stays flat as watches grow: identifier watches are found by
//! one hash lookup per identifier; "any identifier" area rules are resolved to
//! per-sensor lists when they or the sensor are registered, and an R-tree over
//! their areas serves events that carry their own location (drones).
//!
//! Determinism: outputs are produced in event-identifier order, then watch-id
//! order; everything that fires from the clock is drained from ordered
//! structures (`BTreeSet`/`BTreeMap`). Hash maps are only ever looked up, or
//! pruned with order-independent effects, never iterated into an output.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use h3o::{CellIndex, Resolution};
use pingan_core::{LatLng, Timestamp};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use thiserror::Error;

use crate::event::{EventKind, SensorEvent, SensorInfo};
use crate::ident::Identifier;
use crate::spike::{SeasonalBaseline, SpikeError, SpikeParams, poisson_tail};
use crate::watch::{
    self, Companion, Condition, GeofenceTrigger, Priority, Scope, Target, WatchError, WatchId,
    WatchPolicy, WatchSpec, ms,
};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Maps a location to the materialised org path of the station responsible
/// for it (the dispatch crate's jurisdiction polygons, supplied by the caller).
pub type Jurisdiction = Box<dyn Fn(&LatLng) -> Option<String> + Send + Sync>;

/// Spike detection on event counts per H3 cell and event kind.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeConfig {
    /// H3 resolution of the counting cells (8 ≈ 0.74 km² per cell).
    pub resolution: Resolution,
    pub params: SpikeParams,
    /// Event kinds counted; `None` counts every kind.
    pub kinds: Option<Vec<EventKind>>,
    /// Local-time offset used to place hours into hour-of-week slots.
    pub utc_offset_minutes: i32,
    /// Accountable owner of spike alerts (e.g. the duty desk's account).
    pub owner: String,
    pub notify_orgs: Vec<String>,
}

impl Default for SpikeConfig {
    fn default() -> Self {
        SpikeConfig {
            resolution: Resolution::Eight,
            params: SpikeParams::default(),
            kinds: None,
            utc_offset_minutes: 8 * 60,
            owner: "system:spike".into(),
            notify_orgs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub policy: WatchPolicy,
    /// Same watch + identifier (+ companion) + sensor within this window → one
    /// alert; later hits are counted and reported when the window closes.
    /// Zero disables suppression.
    pub suppression_window: Duration,
    /// A sensor that sends nothing for this long is flagged silent by `tick`.
    pub sensor_silent_after: Option<Duration>,
    pub spike: Option<SpikeConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            policy: WatchPolicy::default(),
            suppression_window: Duration::from_secs(600),
            sensor_silent_after: Some(Duration::from_secs(3600)),
            spike: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineError {
    #[error("spike configuration: {0}")]
    Spike(#[from] SpikeError),
    #[error("sensor id is empty")]
    EmptySensorId,
    #[error("sensor {sensor} org_path {path:?} must start and end with '/'")]
    BadOrgPath { sensor: String, path: String },
}

/// Which rule produced an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    Sighting,
    GeofenceEnter,
    GeofenceExit,
    GeofenceDwell,
    Frequency,
    CoOccurrence,
    FirstAppearance,
    Silence,
    Curfew,
    Spike,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Sighting => "sighting",
            RuleKind::GeofenceEnter => "geofence_enter",
            RuleKind::GeofenceExit => "geofence_exit",
            RuleKind::GeofenceDwell => "geofence_dwell",
            RuleKind::Frequency => "frequency",
            RuleKind::CoOccurrence => "co_occurrence",
            RuleKind::FirstAppearance => "first_appearance",
            RuleKind::Silence => "silence",
            RuleKind::Curfew => "curfew",
            RuleKind::Spike => "spike",
        }
    }
}

/// Rule-specific facts behind an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    None,
    /// Entered at `since` (exit and dwell alerts).
    Presence {
        since: Timestamp,
    },
    Hits {
        count: u32,
        within_ms: i64,
    },
    CoOccurrence {
        times: u32,
        window_ms: i64,
    },
    /// `previous` is the last sighting before the lookback, if still retained
    /// (state is kept for two lookbacks).
    FirstAppearance {
        previous: Option<Timestamp>,
    },
    Silence {
        last_seen: Option<Timestamp>,
        after_ms: i64,
    },
    Curfew {
        local_minute: u16,
    },
    Spike {
        kind: EventKind,
        count: u32,
        expected: f64,
        threshold: u32,
        p_value: f64,
    },
}

/// Where an alert should go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Routing {
    /// Org path of the station responsible for the location (jurisdiction
    /// function, else the sensor's owning org).
    pub org_path: Option<String>,
    /// The watch owner (or the spike owner).
    pub owner: Option<String>,
    pub notify_orgs: Vec<String>,
    pub notify_users: Vec<String>,
}

/// An alert as the engine produces it; the server persists it as an
/// [`crate::Alert`] and runs its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDraft {
    /// Engine-local alert number, strictly increasing; identical under replay.
    pub seq: u64,
    /// Number of the event (1-based, in processing order) that triggered it;
    /// `None` for clock-fired alerts (silence).
    pub event_seq: Option<u64>,
    pub rule: RuleKind,
    pub watch_id: Option<WatchId>,
    pub label: String,
    pub priority: Priority,
    /// Event time, or the deadline for clock-fired alerts.
    pub time: Timestamp,
    pub sensor_id: Option<String>,
    pub location: Option<LatLng>,
    /// H3 cell (spike alerts).
    pub cell: Option<CellIndex>,
    /// The watched identifier first, then a companion if any.
    pub identifiers: Vec<Identifier>,
    pub entity_id: Option<String>,
    pub case_ref: Option<String>,
    pub legal_basis: Option<String>,
    pub detail: Detail,
    pub routing: Routing,
}

/// Why a watch stopped matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// `expires_at` reached.
    Expired,
    /// `active_until` reached before expiry.
    WindowClosed,
}

/// Outputs of [`Engine::tick`] (and effects queued by `process`).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Alert(Box<AlertDraft>),
    /// The watch was dropped; the server audits this.
    WatchEnded {
        watch_id: WatchId,
        at: Timestamp,
        reason: EndReason,
        owner: String,
        case_ref: String,
    },
    /// A suppression window closed after swallowing `suppressed` repeat hits
    /// of alert `alert_seq`, the last at `last_time`.
    SuppressionEnded {
        alert_seq: u64,
        suppressed: u32,
        last_time: Timestamp,
    },
    SensorSilent {
        sensor_id: String,
        last_seen: Option<Timestamp>,
    },
    SensorResumed {
        sensor_id: String,
        at: Timestamp,
    },
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    pub events: u64,
    pub unknown_sensor: u64,
    pub alerts: u64,
    pub suppressed: u64,
}

/// A sensor's liveness as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SensorStatus {
    pub last_seen: Option<Timestamp>,
    pub silent: bool,
}

struct Anchor {
    t: i64,
    watch: WatchId,
    ident: Identifier,
}

struct SensorState {
    info: SensorInfo,
    registered_at: i64,
    cell: Option<CellIndex>,
    last_seen: Option<Timestamp>,
    silent: bool,
    /// Any-identifier watches scoped by org or sensor list that cover this sensor.
    any_static: Vec<WatchId>,
    /// Any-identifier area watches containing this sensor's fixed location.
    any_area: Vec<WatchId>,
    /// Recent identifiers (for "anyone with X" co-occurrence).
    recent: VecDeque<(i64, Identifier)>,
    /// Recent sightings of co-occurrence targets.
    anchors: VecDeque<Anchor>,
}

struct WatchEntry {
    spec: WatchSpec,
    /// Resolved sensor-list scope, sorted.
    sensors: Vec<u32>,
    end: i64,
}

impl WatchEntry {
    fn active(&self, t: i64, now: i64) -> bool {
        self.spec.active_from.millis() <= t && t < self.end && now < self.spec.expires_at.millis()
    }

    fn in_scope(&self, si: u32, info: &SensorInfo, loc: Option<LatLng>) -> bool {
        match &self.spec.scope {
            Scope::City => true,
            Scope::OrgSubtree(p) => info.org_path.starts_with(p.as_str()),
            Scope::Area(poly) => loc.is_some_and(|l| poly.contains(&l)),
            Scope::Sensors(_) => self.sensors.binary_search(&si).is_ok(),
        }
    }
}

#[derive(Clone, Copy)]
struct GeoState {
    inside: bool,
    since: i64,
    last_t: i64,
    dwell_fired: bool,
}

#[derive(Clone, Copy)]
struct SilenceState {
    deadline: Option<i64>,
    last_seen: Option<i64>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct SuppressKey {
    watch: WatchId,
    ident: Identifier,
    other: Option<Identifier>,
    sensor: u32,
}

struct Suppression {
    alert_seq: u64,
    until: i64,
    count: u32,
    last: i64,
}

struct SpikeCell {
    baseline: SeasonalBaseline,
    hour: i64,
    count: u32,
    threshold: Option<(u32, f64)>,
    fired: bool,
}

#[derive(Default)]
struct RuleState {
    geo: FastMap<(WatchId, Identifier), GeoState>,
    freq: FastMap<(WatchId, Identifier), VecDeque<i64>>,
    co: FastMap<(WatchId, Identifier), VecDeque<(i64, u32)>>,
    first: FastMap<(WatchId, Identifier), i64>,
    silence: FastMap<(WatchId, Identifier), SilenceState>,
    silence_queue: BTreeSet<(i64, WatchId, Identifier)>,
    suppress: FastMap<SuppressKey, Suppression>,
    suppress_queue: BTreeMap<(i64, u64), SuppressKey>,
}

struct Hit {
    watch: WatchId,
    rule: RuleKind,
    ident: Identifier,
    companion: Option<Identifier>,
    detail: Detail,
}

struct Ctx<'a> {
    si: u32,
    t: i64,
    loc: Option<LatLng>,
    ev: &'a SensorEvent,
}

/// How often (in clock time) `tick` re-checks sensor liveness (O(sensors)),
/// at most; a shorter `sensor_silent_after` checks at half that period, so a
/// sensor is flagged within 1.5 × its threshold.
const HOUSEKEEPING_MS: i64 = 60_000;
/// How often `tick` prunes stale rule state (O(state)); stale entries are
/// harmless meanwhile, this only bounds memory.
const PRUNE_MS: i64 = 15 * 60_000;
/// Longest gap of empty hours replayed into a spike baseline (4 weeks).
const MAX_GAP_HOURS: i64 = 4 * 168;
const HOUR_MS: i64 = 3_600_000;

/// The early-warning engine. See the module docs.
pub struct Engine {
    cfg: EngineConfig,
    jurisdiction: Option<Jurisdiction>,
    sensors: Vec<SensorState>,
    sensor_idx: FastMap<Box<str>, u32>,
    /// Boxed so the table stays small (its spare capacity holds pointers, not specs).
    watches: FastMap<WatchId, Box<WatchEntry>>,
    next_watch: u64,
    by_ident: FastMap<Identifier, Watchers>,
    any_watches: BTreeSet<WatchId>,
    any_area_tree: RTree<GeomWithData<Rectangle<[f64; 2]>, WatchId>>,
    ends: BTreeSet<(i64, WatchId)>,
    /// Multiset of co-occurrence `within` values; the largest bounds buffers.
    co_within: BTreeMap<i64, u32>,
    anyone_co: usize,
    st: RuleState,
    /// Shared copies of watch texts (label, legal basis, case, owner).
    interned: HashSet<Arc<str>, foldhash::fast::RandomState>,
    spike: FastMap<(CellIndex, EventKind), SpikeCell>,
    stats: EngineStats,
    alert_seq: u64,
    pending: Vec<Effect>,
    next_housekeeping: i64,
    next_prune: i64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sensors", &self.sensors.len())
            .field("watches", &self.watches.len())
            .field("stats", &self.stats)
            .finish()
    }
}

fn rect_of(b: pingan_core::BBox) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([b.min_lng, b.min_lat], [b.max_lng, b.max_lat])
}

/// The watches on one identifier. Almost every identifier has exactly one,
/// so that case needs no heap allocation.
enum Watchers {
    One(WatchId),
    /// Sorted, at least two.
    Many(Vec<WatchId>),
}

impl Watchers {
    fn as_slice(&self) -> &[WatchId] {
        match self {
            Watchers::One(id) => std::slice::from_ref(id),
            Watchers::Many(v) => v,
        }
    }

    fn insert(&mut self, id: WatchId) {
        match self {
            Watchers::One(old) if *old == id => {}
            Watchers::One(old) => {
                let mut v = vec![*old, id];
                v.sort_unstable();
                *self = Watchers::Many(v);
            }
            Watchers::Many(v) => sorted_insert(v, id),
        }
    }

    /// Removes `id`; returns whether nothing is left.
    fn remove(&mut self, id: WatchId) -> bool {
        match self {
            Watchers::One(old) => *old == id,
            Watchers::Many(v) => {
                sorted_remove(v, id);
                if let [only] = v[..] {
                    *self = Watchers::One(only);
                }
                false
            }
        }
    }
}

fn sorted_insert(v: &mut Vec<WatchId>, id: WatchId) {
    if let Err(pos) = v.binary_search(&id) {
        v.insert(pos, id);
    }
}

fn sorted_remove(v: &mut Vec<WatchId>, id: WatchId) {
    if let Ok(pos) = v.binary_search(&id) {
        v.remove(pos);
    }
}

/// Hour-of-week slot (Monday 00:00 local = 0) of an hour index counted from
/// the epoch in local time. 1970-01-01 was a Thursday, hence the 72 h shift.
fn hour_of_week(local_hour: i64) -> usize {
    (local_hour + 72).rem_euclid(168) as usize
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Result<Engine, EngineError> {
        if let Some(s) = &cfg.spike {
            s.params.validate()?;
        }
        Ok(Engine {
            cfg,
            jurisdiction: None,
            sensors: Vec::new(),
            sensor_idx: FastMap::default(),
            watches: FastMap::default(),
            next_watch: 1,
            by_ident: FastMap::default(),
            any_watches: BTreeSet::new(),
            any_area_tree: RTree::new(),
            ends: BTreeSet::new(),
            co_within: BTreeMap::new(),
            anyone_co: 0,
            st: RuleState::default(),
            interned: HashSet::default(),
            spike: FastMap::default(),
            stats: EngineStats::default(),
            alert_seq: 0,
            pending: Vec::new(),
            next_housekeeping: i64::MIN,
            next_prune: i64::MIN,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Installs the location → responsible station function used for routing.
    pub fn set_jurisdiction(&mut self, f: Jurisdiction) {
        self.jurisdiction = Some(f);
    }

    /// Registers a sensor, or updates it (location, org, kind) if the id is known.
    ///
    /// # Panics
    /// When more than `u32::MAX` sensors are registered.
    pub fn register_sensor(&mut self, info: SensorInfo, now: Timestamp) -> Result<(), EngineError> {
        if info.id.trim().is_empty() {
            return Err(EngineError::EmptySensorId);
        }
        if !(info.org_path.starts_with('/') && info.org_path.ends_with('/')) {
            return Err(EngineError::BadOrgPath {
                sensor: info.id.clone(),
                path: info.org_path.clone(),
            });
        }
        let cell = match (&self.cfg.spike, info.location) {
            (Some(s), Some(l)) => h3o::LatLng::new(l.lat(), l.lng())
                .ok()
                .map(|p| p.to_cell(s.resolution)),
            _ => None,
        };
        let si = match self.sensor_idx.get(info.id.as_str()) {
            Some(&si) => {
                let s = &mut self.sensors[si as usize];
                s.info = info;
                s.cell = cell;
                si
            }
            None => {
                let si = u32::try_from(self.sensors.len()).expect("fewer than 2^32 sensors");
                self.sensor_idx.insert(info.id.clone().into_boxed_str(), si);
                self.sensors.push(SensorState {
                    info,
                    registered_at: now.millis(),
                    cell,
                    last_seen: None,
                    silent: false,
                    any_static: Vec::new(),
                    any_area: Vec::new(),
                    recent: VecDeque::new(),
                    anchors: VecDeque::new(),
                });
                si
            }
        };
        // Recompute which any-identifier watches cover the sensor.
        let mut stat = Vec::new();
        let mut area = Vec::new();
        for &wid in &self.any_watches {
            let w = &self.watches[&wid];
            let s = &self.sensors[si as usize];
            match &w.spec.scope {
                Scope::Area(p) => {
                    if s.info.location.is_some_and(|l| p.contains(&l)) {
                        area.push(wid);
                    }
                }
                _ => {
                    if w.in_scope(si, &s.info, None) {
                        stat.push(wid);
                    }
                }
            }
        }
        let s = &mut self.sensors[si as usize];
        s.any_static = stat;
        s.any_area = area;
        Ok(())
    }

    pub fn has_sensor(&self, id: &str) -> bool {
        self.sensor_idx.contains_key(id)
    }

    pub fn sensor(&self, id: &str) -> Option<&SensorInfo> {
        self.sensor_idx
            .get(id)
            .map(|&si| &self.sensors[si as usize].info)
    }

    pub fn sensor_status(&self, id: &str) -> Option<SensorStatus> {
        self.sensor_idx.get(id).map(|&si| {
            let s = &self.sensors[si as usize];
            SensorStatus {
                last_seen: s.last_seen,
                silent: s.silent,
            }
        })
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Every installed watch id, ascending.
    pub fn watch_ids(&self) -> Vec<WatchId> {
        let mut v: Vec<WatchId> = self.watches.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Registered sensor ids in registration order.
    pub fn sensor_ids(&self) -> impl Iterator<Item = &str> {
        self.sensors.iter().map(|s| s.info.id.as_str())
    }

    pub fn watch_count(&self) -> usize {
        self.watches.len()
    }

    pub fn watch(&self, id: WatchId) -> Option<&WatchSpec> {
        self.watches.get(&id).map(|w| &w.spec)
    }

    /// Validates and installs a watch on every sensor in its scope at once;
    /// returns the engine-assigned id.
    pub fn add_watch(&mut self, spec: WatchSpec, now: Timestamp) -> Result<WatchId, WatchError> {
        let id = WatchId(self.next_watch);
        self.insert_watch(id, spec, now)?;
        Ok(id)
    }

    /// Installs a watch under a caller-chosen id (restoring persisted watches).
    pub fn insert_watch(
        &mut self,
        id: WatchId,
        spec: WatchSpec,
        now: Timestamp,
    ) -> Result<(), WatchError> {
        watch::validate(&spec, now, &self.cfg.policy)?;
        if self.watches.contains_key(&id) {
            return Err(WatchError::DuplicateId(id));
        }
        let mut sensors = Vec::new();
        if let Scope::Sensors(names) = &spec.scope {
            for n in names {
                match self.sensor_idx.get(n.as_str()) {
                    Some(&si) => sensors.push(si),
                    None => return Err(WatchError::UnknownSensor(n.clone())),
                }
            }
            sensors.sort_unstable();
            sensors.dedup();
        }
        self.next_watch = self.next_watch.max(id.0 + 1);
        let mut spec = spec;
        for field in [
            &mut spec.label,
            &mut spec.legal_basis,
            &mut spec.case_ref,
            &mut spec.owner,
        ] {
            match self.interned.get(field) {
                Some(shared) => *field = Arc::clone(shared),
                None => {
                    self.interned.insert(Arc::clone(field));
                }
            }
        }
        let end = spec.end().millis();
        let mut keys: Vec<&Identifier> = spec.target.identifiers().iter().collect();
        if let Condition::CoOccurrence {
            companion: Companion::Identifier(c),
            ..
        } = &spec.condition
        {
            keys.push(c);
        }
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            self.by_ident
                .entry(k.clone())
                .and_modify(|w| w.insert(id))
                .or_insert(Watchers::One(id));
        }
        if let Condition::CoOccurrence {
            within, companion, ..
        } = &spec.condition
        {
            *self.co_within.entry(ms(*within)).or_default() += 1;
            if *companion == Companion::Anyone {
                self.anyone_co += 1;
            }
        }
        if let Condition::Silence { after } = &spec.condition {
            let start = spec.active_from.millis().max(now.millis());
            for ident in spec.target.identifiers() {
                let deadline = start.saturating_add(ms(*after));
                self.st.silence.insert(
                    (id, ident.clone()),
                    SilenceState {
                        deadline: Some(deadline),
                        last_seen: None,
                    },
                );
                self.st.silence_queue.insert((deadline, id, ident.clone()));
            }
        }
        let entry = WatchEntry { spec, sensors, end };
        if matches!(entry.spec.target, Target::AnyIdentifier { .. }) {
            self.any_watches.insert(id);
            for (si, s) in self.sensors.iter_mut().enumerate() {
                match &entry.spec.scope {
                    Scope::Area(p) => {
                        if s.info.location.is_some_and(|l| p.contains(&l)) {
                            sorted_insert(&mut s.any_area, id);
                        }
                    }
                    _ => {
                        if entry.in_scope(si as u32, &s.info, None) {
                            sorted_insert(&mut s.any_static, id);
                        }
                    }
                }
            }
            if let Scope::Area(p) = &entry.spec.scope {
                self.any_area_tree
                    .insert(GeomWithData::new(rect_of(p.bbox()), id));
            }
        }
        self.ends.insert((end, id));
        self.watches.insert(id, Box::new(entry));
        Ok(())
    }

    /// Validates `spec` and swaps it in for watch `id`; rule state of the old
    /// version is dropped.
    pub fn replace_watch(
        &mut self,
        id: WatchId,
        spec: WatchSpec,
        now: Timestamp,
    ) -> Result<(), WatchError> {
        watch::validate(&spec, now, &self.cfg.policy)?;
        if !self.watches.contains_key(&id) {
            return Err(WatchError::NotFound(id));
        }
        if let Scope::Sensors(names) = &spec.scope
            && let Some(n) = names.iter().find(|n| !self.has_sensor(n))
        {
            return Err(WatchError::UnknownSensor(n.clone()));
        }
        let old = self.remove_watch(id);
        match self.insert_watch(id, spec, now) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Only reachable if validation disagrees with itself; restore.
                if let Some(old) = old {
                    let _ = self.insert_watch(id, old, now);
                }
                Err(e)
            }
        }
    }

    /// Revokes a watch; returns its spec if it existed.
    pub fn remove_watch(&mut self, id: WatchId) -> Option<WatchSpec> {
        let entry = self.watches.remove(&id)?;
        let spec = entry.spec;
        let mut keys: Vec<&Identifier> = spec.target.identifiers().iter().collect();
        if let Condition::CoOccurrence {
            companion: Companion::Identifier(c),
            ..
        } = &spec.condition
        {
            keys.push(c);
        }
        for k in keys {
            if let Some(v) = self.by_ident.get_mut(k)
                && v.remove(id)
            {
                self.by_ident.remove(k);
            }
        }
        if let Condition::CoOccurrence {
            within, companion, ..
        } = &spec.condition
        {
            let w = ms(*within);
            if let Some(c) = self.co_within.get_mut(&w) {
                *c -= 1;
                if *c == 0 {
                    self.co_within.remove(&w);
                }
            }
            if *companion == Companion::Anyone {
                self.anyone_co -= 1;
            }
        }
        if let Condition::Silence { .. } = &spec.condition {
            for ident in spec.target.identifiers() {
                if let Some(s) = self.st.silence.remove(&(id, ident.clone()))
                    && let Some(d) = s.deadline
                {
                    self.st.silence_queue.remove(&(d, id, ident.clone()));
                }
            }
        }
        if self.any_watches.remove(&id) {
            for s in &mut self.sensors {
                sorted_remove(&mut s.any_static, id);
                sorted_remove(&mut s.any_area, id);
            }
            if let Scope::Area(p) = &spec.scope {
                self.any_area_tree
                    .remove(&GeomWithData::new(rect_of(p.bbox()), id));
            }
        }
        self.ends.remove(&(entry.end, id));
        for text in [&spec.label, &spec.legal_basis, &spec.case_ref, &spec.owner] {
            // Only the interner and this spec hold it: no other watch uses it.
            if Arc::strong_count(text) == 2 {
                self.interned.remove(text);
            }
        }
        Some(spec)
    }

    fn max_within(&self) -> i64 {
        self.co_within.keys().next_back().copied().unwrap_or(0)
    }

    /// Matches one event against every rule. `now` is the wall clock (used for
    /// expiry); windows are measured in event time. Events from unknown
    /// sensors are counted and ignored (the wire layer rejects them first).
    pub fn process(&mut self, ev: &SensorEvent, now: Timestamp) -> Vec<AlertDraft> {
        let mut out = Vec::new();
        let Some(&si) = self.sensor_idx.get(ev.sensor_id.as_str()) else {
            self.stats.unknown_sensor += 1;
            return out;
        };
        self.stats.events += 1;
        let event_seq = self.stats.events;
        let t = ev.time.millis();
        let now_ms = now.millis();
        let s = &mut self.sensors[si as usize];
        if s.last_seen.is_none_or(|ls| ls < ev.time) {
            s.last_seen = Some(ev.time);
        }
        if s.silent {
            s.silent = false;
            self.pending.push(Effect::SensorResumed {
                sensor_id: s.info.id.clone(),
                at: ev.time,
            });
        }
        let ctx = Ctx {
            si,
            t,
            loc: ev.location.or(s.info.location),
            ev,
        };
        let mut hits: Vec<Hit> = Vec::new();
        let max_within = self.max_within();

        // (a) earlier sightings of "anyone with X" targets at this sensor.
        if self.anyone_co > 0 && !self.sensors[si as usize].anchors.is_empty() {
            let s = &self.sensors[si as usize];
            for a in &s.anchors {
                let Some(w) = self.watches.get(&a.watch) else {
                    continue;
                };
                let Condition::CoOccurrence {
                    companion: Companion::Anyone,
                    within,
                    times,
                    window,
                } = &w.spec.condition
                else {
                    continue;
                };
                if (t - a.t).abs() > ms(*within) || !w.active(t, now_ms) {
                    continue;
                }
                for z in &ev.identifiers {
                    if w.spec.target.identifiers().contains(z) {
                        continue;
                    }
                    if let Some(n) = record_co(
                        &mut self.st.co,
                        (a.watch, z.clone()),
                        t,
                        si,
                        ms(*within),
                        ms(*window),
                        *times,
                    ) {
                        hits.push(Hit {
                            watch: a.watch,
                            rule: RuleKind::CoOccurrence,
                            ident: a.ident.clone(),
                            companion: Some(z.clone()),
                            detail: Detail::CoOccurrence {
                                times: n,
                                window_ms: ms(*window),
                            },
                        });
                    }
                }
            }
        }

        // (b) watches on the event's identifiers (a repeated identifier in
        // one event counts once).
        for (i, ident) in ev.identifiers.iter().enumerate() {
            if ev.identifiers[..i].contains(ident) {
                continue;
            }
            let Some(ids) = self.by_ident.get(ident) else {
                continue;
            };
            for &wid in ids.as_slice() {
                let Some(w) = self.watches.get(&wid) else {
                    continue;
                };
                let sensor = &mut self.sensors[si as usize];
                if !w.active(t, now_ms) || !w.in_scope(si, &sensor.info, ctx.loc) {
                    continue;
                }
                eval_watch(
                    w,
                    wid,
                    ident,
                    &ctx,
                    &mut self.st,
                    sensor,
                    max_within,
                    &mut hits,
                );
            }
        }

        // (c) any-identifier area rules covering this sensor or location.
        let sensor = &self.sensors[si as usize];
        if !self.any_watches.is_empty()
            && (!sensor.any_static.is_empty()
                || !sensor.any_area.is_empty()
                || ev.location.is_some())
        {
            let mut cands: Vec<WatchId> = sensor.any_static.clone();
            match ev.location {
                None => cands.extend_from_slice(&sensor.any_area),
                Some(l) => {
                    for g in self.any_area_tree.locate_all_at_point(&[l.lng(), l.lat()]) {
                        cands.push(g.data);
                    }
                }
            }
            cands.sort_unstable();
            cands.dedup();
            for wid in cands {
                let Some(w) = self.watches.get(&wid) else {
                    continue;
                };
                let sensor = &mut self.sensors[si as usize];
                if !w.active(t, now_ms) || !w.in_scope(si, &sensor.info, ctx.loc) {
                    continue;
                }
                let Target::AnyIdentifier { kind } = w.spec.target else {
                    continue;
                };
                for (i, ident) in ev.identifiers.iter().enumerate() {
                    if kind.is_none_or(|k| k == ident.kind())
                        && !ev.identifiers[..i].contains(ident)
                    {
                        eval_watch(
                            w,
                            wid,
                            ident,
                            &ctx,
                            &mut self.st,
                            sensor,
                            max_within,
                            &mut hits,
                        );
                    }
                }
            }
        }

        // (d) remember identifiers for "anyone with X" rules.
        if self.anyone_co > 0 {
            let s = &mut self.sensors[si as usize];
            while s.recent.front().is_some_and(|(rt, _)| *rt < t - max_within) {
                s.recent.pop_front();
            }
            for ident in &ev.identifiers {
                s.recent.push_back((t, ident.clone()));
            }
        }

        for hit in hits {
            if let Some(d) = self.emit(hit, &ctx, event_seq) {
                out.push(d);
            }
        }

        // (e) spike counting.
        if let Some(d) = self.count_for_spike(&ctx, event_seq) {
            out.push(d);
        }
        out
    }

    fn routing_org(&self, loc: Option<LatLng>, si: Option<u32>) -> Option<String> {
        loc.and_then(|l| self.jurisdiction.as_ref().and_then(|j| j(&l)))
            .or_else(|| si.map(|si| self.sensors[si as usize].info.org_path.clone()))
    }

    fn draft_for_watch(
        &mut self,
        hit: Hit,
        time: Timestamp,
        si: Option<u32>,
        loc: Option<LatLng>,
        event_seq: Option<u64>,
    ) -> Option<AlertDraft> {
        let w = self.watches.get(&hit.watch)?;
        // Clock-fired alerts of a multi-sensor watch have no sensor: route
        // them to the org subtree the watch covers, if it names one.
        let org = self.routing_org(loc, si).or_else(|| match &w.spec.scope {
            Scope::OrgSubtree(p) => Some(p.clone()),
            _ => None,
        });
        self.alert_seq += 1;
        self.stats.alerts += 1;
        let spec = &w.spec;
        let mut identifiers = vec![hit.ident];
        identifiers.extend(hit.companion);
        Some(AlertDraft {
            seq: self.alert_seq,
            event_seq,
            rule: hit.rule,
            watch_id: Some(hit.watch),
            label: spec.label.to_string(),
            priority: spec.priority,
            time,
            sensor_id: si.map(|si| self.sensors[si as usize].info.id.clone()),
            location: loc,
            cell: None,
            identifiers,
            entity_id: spec.target.entity_id().map(str::to_string),
            case_ref: Some(spec.case_ref.to_string()),
            legal_basis: Some(spec.legal_basis.to_string()),
            detail: hit.detail,
            routing: Routing {
                org_path: org,
                owner: Some(spec.owner.to_string()),
                notify_orgs: spec.action.notify_orgs.clone(),
                notify_users: spec.action.notify_users.clone(),
            },
        })
    }

    /// Applies suppression, then turns a hit into a draft.
    fn emit(&mut self, hit: Hit, ctx: &Ctx<'_>, event_seq: u64) -> Option<AlertDraft> {
        let window = ms(self.cfg.suppression_window);
        let t = ctx.t;
        let key = (window > 0).then(|| SuppressKey {
            watch: hit.watch,
            ident: hit.ident.clone(),
            other: hit.companion.clone(),
            sensor: ctx.si,
        });
        if let Some(key) = &key
            && let Some(s) = self.st.suppress.get_mut(key)
            && t < s.until
        {
            s.count += 1;
            s.last = s.last.max(t);
            self.stats.suppressed += 1;
            return None;
        }
        let draft =
            self.draft_for_watch(hit, ctx.ev.time, Some(ctx.si), ctx.loc, Some(event_seq))?;
        if let Some(key) = key {
            let until = t.saturating_add(window);
            if let Some(old) = self.st.suppress.insert(
                key.clone(),
                Suppression {
                    alert_seq: draft.seq,
                    until,
                    count: 0,
                    last: t,
                },
            ) {
                self.st.suppress_queue.remove(&(old.until, old.alert_seq));
            }
            self.st.suppress_queue.insert((until, draft.seq), key);
        }
        Some(draft)
    }

    fn count_for_spike(&mut self, ctx: &Ctx<'_>, event_seq: u64) -> Option<AlertDraft> {
        let cfg = self.cfg.spike.as_ref()?;
        let kind = &ctx.ev.kind;
        if cfg.kinds.as_ref().is_some_and(|ks| !ks.contains(kind)) {
            return None;
        }
        let cell = match ctx.ev.location {
            Some(l) => h3o::LatLng::new(l.lat(), l.lng())
                .ok()
                .map(|p| p.to_cell(cfg.resolution)),
            None => self.sensors[ctx.si as usize].cell,
        }?;
        let p = cfg.params;
        let hour = (ctx.t + i64::from(cfg.utc_offset_minutes) * 60_000).div_euclid(HOUR_MS);
        let sc = self
            .spike
            .entry((cell, kind.clone()))
            .or_insert_with(|| SpikeCell {
                // 168 is non-zero, so this cannot fail.
                baseline: SeasonalBaseline::new(168).expect("non-zero period"),
                hour,
                count: 0,
                threshold: None,
                fired: false,
            });
        if hour < sc.hour {
            // Late event for a closed bucket: its count is already final.
            return None;
        }
        if hour > sc.hour {
            let winsor = sc.threshold.map_or(sc.count, |(k, _)| sc.count.min(k));
            sc.baseline.observe(hour_of_week(sc.hour), winsor, &p);
            let gap_start = (sc.hour + 1).max(hour - MAX_GAP_HOURS);
            for h in gap_start..hour {
                sc.baseline.observe(hour_of_week(h), 0, &p);
            }
            sc.hour = hour;
            sc.count = 0;
            sc.fired = false;
            sc.threshold = sc.baseline.threshold(hour_of_week(hour), &p);
        }
        sc.count += 1;
        let (k, lambda) = sc.threshold?;
        if sc.fired || sc.count < k {
            return None;
        }
        sc.fired = true;
        let count = sc.count;
        let kind = kind.clone();
        let owner = cfg.owner.clone();
        let notify_orgs = cfg.notify_orgs.clone();
        let centre = LatLng::new(h3o::LatLng::from(cell).lat(), h3o::LatLng::from(cell).lng()).ok();
        let org = self.routing_org(centre.or(ctx.loc), Some(ctx.si));
        self.alert_seq += 1;
        self.stats.alerts += 1;
        Some(AlertDraft {
            seq: self.alert_seq,
            event_seq: Some(event_seq),
            rule: RuleKind::Spike,
            watch_id: None,
            label: format!("{kind} spike"),
            priority: Priority::Normal,
            time: ctx.ev.time,
            sensor_id: Some(ctx.ev.sensor_id.clone()),
            location: centre,
            cell: Some(cell),
            identifiers: Vec::new(),
            entity_id: None,
            case_ref: None,
            legal_basis: None,
            detail: Detail::Spike {
                kind,
                count,
                expected: lambda,
                threshold: k,
                p_value: poisson_tail(count, lambda),
            },
            routing: Routing {
                org_path: org,
                owner: Some(owner),
                notify_orgs,
                notify_users: Vec::new(),
            },
        })
    }

    /// Advances the clock: fires silence alerts whose deadline passed, closes
    /// suppression windows, drops ended watches (reported for audit), flags
    /// silent sensors and prunes stale rule state. Returns effects in a
    /// deterministic order.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Effect> {
        let n = now.millis();
        let mut out = std::mem::take(&mut self.pending);

        while let Some((deadline, wid, ident)) = self.st.silence_queue.first().cloned() {
            if deadline > n {
                break;
            }
            self.st.silence_queue.pop_first();
            let Some(state) = self.st.silence.get_mut(&(wid, ident.clone())) else {
                continue;
            };
            state.deadline = None;
            let last_seen = state.last_seen;
            let Some(w) = self.watches.get(&wid) else {
                continue;
            };
            if deadline >= w.end {
                continue;
            }
            let Condition::Silence { after } = w.spec.condition else {
                continue;
            };
            let loc = match &w.spec.scope {
                Scope::Sensors(_) if w.sensors.len() == 1 => {
                    self.sensors[w.sensors[0] as usize].info.location
                }
                _ => None,
            };
            let si = match &w.spec.scope {
                Scope::Sensors(_) if w.sensors.len() == 1 => Some(w.sensors[0]),
                _ => None,
            };
            let hit = Hit {
                watch: wid,
                rule: RuleKind::Silence,
                ident,
                companion: None,
                detail: Detail::Silence {
                    last_seen: last_seen.map(Timestamp),
                    after_ms: ms(after),
                },
            };
            if let Some(d) = self.draft_for_watch(hit, Timestamp(deadline), si, loc, None) {
                out.push(Effect::Alert(Box::new(d)));
            }
        }

        while let Some((&(until, seq), _)) = self.st.suppress_queue.first_key_value() {
            if until > n {
                break;
            }
            let Some((_, key)) = self.st.suppress_queue.pop_first() else {
                break;
            };
            if let Some(s) = self.st.suppress.remove(&key)
                && s.count > 0
            {
                out.push(Effect::SuppressionEnded {
                    alert_seq: seq,
                    suppressed: s.count,
                    last_time: Timestamp(s.last),
                });
            }
        }

        while let Some(&(end, wid)) = self.ends.first() {
            if end > n {
                break;
            }
            self.ends.pop_first();
            if let Some(spec) = self.remove_watch(wid) {
                out.push(Effect::WatchEnded {
                    watch_id: wid,
                    at: Timestamp(end),
                    reason: if end >= spec.expires_at.millis() {
                        EndReason::Expired
                    } else {
                        EndReason::WindowClosed
                    },
                    owner: spec.owner.to_string(),
                    case_ref: spec.case_ref.to_string(),
                });
            }
        }

        if n >= self.next_housekeeping {
            let every = self.cfg.sensor_silent_after.map_or(HOUSEKEEPING_MS, |a| {
                (ms(a) / 2).clamp(1_000, HOUSEKEEPING_MS)
            });
            self.next_housekeeping = n.saturating_add(every);
            if let Some(after) = self.cfg.sensor_silent_after {
                let after = ms(after);
                for s in &mut self.sensors {
                    let since = s.last_seen.map_or(s.registered_at, |t| t.millis());
                    if !s.silent && since.saturating_add(after) <= n {
                        s.silent = true;
                        out.push(Effect::SensorSilent {
                            sensor_id: s.info.id.clone(),
                            last_seen: s.last_seen,
                        });
                    }
                }
            }
            if n >= self.next_prune {
                self.next_prune = n.saturating_add(PRUNE_MS);
                self.prune(n);
            }
        }
        out
    }

    /// Drops rule state that can no longer influence an alert.
    fn prune(&mut self, now: i64) {
        let watches = &self.watches;
        let param = |wid: &WatchId| watches.get(wid).map(|w| &w.spec.condition);
        self.st.geo.retain(|(wid, _), _| watches.contains_key(wid));
        self.st.freq.retain(|(wid, _), dq| match param(wid) {
            Some(Condition::Frequency { within, .. }) => {
                dq.back().is_some_and(|&t| t >= now - ms(*within))
            }
            _ => false,
        });
        self.st.co.retain(|(wid, _), dq| match param(wid) {
            Some(Condition::CoOccurrence { window, .. }) => {
                dq.back().is_some_and(|&(t, _)| t >= now - ms(*window))
            }
            _ => false,
        });
        self.st.first.retain(|(wid, _), t| match param(wid) {
            // Kept for two lookbacks so an alert can still name the previous sighting.
            Some(Condition::FirstAppearance { lookback }) => {
                *t >= now.saturating_sub(ms(*lookback).saturating_mul(2))
            }
            _ => false,
        });
        let horizon = now - self.max_within();
        for s in &mut self.sensors {
            while s.anchors.front().is_some_and(|a| a.t < horizon) {
                s.anchors.pop_front();
            }
            while s.recent.front().is_some_and(|(t, _)| *t < horizon) {
                s.recent.pop_front();
            }
        }
    }
}

/// Records one co-occurrence of `key` at `(t, si)`; returns the number of
/// occurrences when that reaches `times` (and resets the count).
fn record_co(
    co: &mut FastMap<(WatchId, Identifier), VecDeque<(i64, u32)>>,
    key: (WatchId, Identifier),
    t: i64,
    si: u32,
    within: i64,
    window: i64,
    times: u32,
) -> Option<u32> {
    let dq = co.entry(key).or_default();
    while dq.front().is_some_and(|&(ft, _)| ft < t - window) {
        dq.pop_front();
    }
    // Repeated sightings at one sensor within Δt are one occurrence.
    if dq
        .iter()
        .any(|&(ot, os)| os == si && (t - ot).abs() <= within)
    {
        return None;
    }
    dq.push_back((t, si));
    if dq.len() as u32 >= times {
        let n = dq.len() as u32;
        dq.clear();
        return Some(n);
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn eval_watch(
    w: &WatchEntry,
    wid: WatchId,
    ident: &Identifier,
    ctx: &Ctx<'_>,
    st: &mut RuleState,
    sensor: &mut SensorState,
    max_within: i64,
    hits: &mut Vec<Hit>,
) {
    let t = ctx.t;
    let hit = |rule, detail| Hit {
        watch: wid,
        rule,
        ident: ident.clone(),
        companion: None,
        detail,
    };
    match &w.spec.condition {
        Condition::Sighting => hits.push(hit(RuleKind::Sighting, Detail::None)),
        Condition::Geofence { area, trigger } => {
            let Some(loc) = ctx.loc else { return };
            let inside = area.contains(&loc);
            let g = st.geo.entry((wid, ident.clone())).or_insert(GeoState {
                inside: false,
                since: t,
                last_t: i64::MIN,
                dwell_fired: false,
            });
            if t < g.last_t {
                // Out-of-order sighting: presence is judged in time order only.
                return;
            }
            let first = g.last_t == i64::MIN;
            g.last_t = t;
            match (g.inside && !first, inside) {
                (false, true) => {
                    g.inside = true;
                    g.since = t;
                    g.dwell_fired = false;
                    if *trigger == GeofenceTrigger::Enter {
                        hits.push(hit(RuleKind::GeofenceEnter, Detail::None));
                    }
                }
                (true, false) => {
                    g.inside = false;
                    if *trigger == GeofenceTrigger::Exit {
                        hits.push(hit(
                            RuleKind::GeofenceExit,
                            Detail::Presence {
                                since: Timestamp(g.since),
                            },
                        ));
                    }
                }
                (true, true) => {
                    if let GeofenceTrigger::Dwell(d) = trigger
                        && !g.dwell_fired
                        && t - g.since >= ms(*d)
                    {
                        g.dwell_fired = true;
                        hits.push(hit(
                            RuleKind::GeofenceDwell,
                            Detail::Presence {
                                since: Timestamp(g.since),
                            },
                        ));
                    }
                }
                (false, false) => g.inside = false,
            }
        }
        Condition::Frequency { hits: n, within } => {
            let within = ms(*within);
            let dq = st.freq.entry((wid, ident.clone())).or_default();
            dq.push_back(t);
            while dq.front().is_some_and(|&ft| ft <= t - within) {
                dq.pop_front();
            }
            if dq.len() as u32 >= *n {
                let count = dq.len() as u32;
                dq.clear();
                hits.push(hit(
                    RuleKind::Frequency,
                    Detail::Hits {
                        count,
                        within_ms: within,
                    },
                ));
            }
        }
        Condition::CoOccurrence {
            companion,
            within,
            times,
            window,
        } => {
            let within_ms = ms(*within);
            let window_ms = ms(*window);
            let targets = w.spec.target.identifiers();
            let mut partners: Vec<(Identifier, Identifier)> = Vec::new();
            match companion {
                Companion::Identifier(y) => {
                    if ident == y {
                        let mut found: Option<&Identifier> =
                            ctx.ev.identifiers.iter().find(|i| targets.contains(i));
                        if found.is_none() {
                            found = sensor
                                .anchors
                                .iter()
                                .find(|a| {
                                    a.watch == wid && a.ident != *y && (t - a.t).abs() <= within_ms
                                })
                                .map(|a| &a.ident);
                        }
                        if let Some(x) = found {
                            partners.push((x.clone(), y.clone()));
                        }
                    } else {
                        let found = ctx.ev.identifiers.contains(y)
                            || sensor.anchors.iter().any(|a| {
                                a.watch == wid && a.ident == *y && (t - a.t).abs() <= within_ms
                            });
                        if found {
                            partners.push((ident.clone(), y.clone()));
                        }
                    }
                }
                Companion::Anyone => {
                    let mut comps: Vec<&Identifier> = ctx
                        .ev
                        .identifiers
                        .iter()
                        .chain(
                            sensor
                                .recent
                                .iter()
                                .filter(|(rt, _)| (t - rt).abs() <= within_ms)
                                .map(|(_, i)| i),
                        )
                        .filter(|i| !targets.contains(i))
                        .collect();
                    comps.sort_unstable();
                    comps.dedup();
                    partners.extend(comps.into_iter().map(|z| (ident.clone(), z.clone())));
                }
            }
            while sensor.anchors.front().is_some_and(|a| a.t < t - max_within) {
                sensor.anchors.pop_front();
            }
            sensor.anchors.push_back(Anchor {
                t,
                watch: wid,
                ident: ident.clone(),
            });
            for (x, z) in partners {
                if let Some(n) = record_co(
                    &mut st.co,
                    (wid, z.clone()),
                    t,
                    ctx.si,
                    within_ms,
                    window_ms,
                    *times,
                ) {
                    hits.push(Hit {
                        watch: wid,
                        rule: RuleKind::CoOccurrence,
                        ident: x,
                        companion: Some(z),
                        detail: Detail::CoOccurrence {
                            times: n,
                            window_ms,
                        },
                    });
                }
            }
        }
        Condition::FirstAppearance { lookback } => {
            let lookback = ms(*lookback);
            let learn_until = w.spec.active_from.millis().saturating_add(lookback);
            let prev = st.first.insert((wid, ident.clone()), t);
            if let Some(p) = prev
                && p > t
            {
                // Keep the latest sighting when events arrive out of order.
                st.first.insert((wid, ident.clone()), p);
            }
            let new = prev.is_none_or(|p| p < t - lookback);
            if t >= learn_until && new {
                hits.push(hit(
                    RuleKind::FirstAppearance,
                    Detail::FirstAppearance {
                        previous: prev.map(Timestamp),
                    },
                ));
            }
        }
        Condition::Silence { after } => {
            let key = (wid, ident.clone());
            let s = st.silence.entry(key).or_insert(SilenceState {
                deadline: None,
                last_seen: None,
            });
            if s.last_seen.is_some_and(|l| l >= t) {
                return;
            }
            s.last_seen = Some(t);
            if let Some(d) = s.deadline {
                st.silence_queue.remove(&(d, wid, ident.clone()));
            }
            let d = t.saturating_add(ms(*after));
            s.deadline = Some(d);
            st.silence_queue.insert((d, wid, ident.clone()));
        }
        Condition::Curfew {
            windows,
            utc_offset_minutes,
        } => {
            let minute =
                (t.div_euclid(60_000) + i64::from(*utc_offset_minutes)).rem_euclid(1440) as u16;
            if windows.iter().any(|win| win.contains(minute)) {
                hits.push(hit(
                    RuleKind::Curfew,
                    Detail::Curfew {
                        local_minute: minute,
                    },
                ));
            }
        }
    }
}
