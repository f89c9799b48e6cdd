//! Demo life: a simulator that keeps the demo city busy. It owns the
//! simulated callers, the dispatchers' one-key dispatch and the officers in
//! the field; everything it does goes through the same service functions as
//! the API (call intake with classification, jurisdiction and duplicate
//! suggestions; recommendation and dispatch; the unit status machine; close),
//! so the console, the KPIs and the ledger see ordinary traffic.
//!
//! Calls come from `pingan_dispatch::CallGenerator` (Poisson arrivals with a
//! daily rhythm, the labelled Chinese corpus) at random road points. After a
//! dispatcher delay the best recommended unit is dispatched; the unit
//! acknowledges, drives (or walks) along its road route
//! (`pingan_roads::Route::position_at`) with positions persisted and published
//! as `unit.positions`, arrives, clears after an on-scene time, and the
//! incident is closed with a disposition. Idle patrol units drift on patrol.
//!
//! Calls that are not (only) police work take the dispatcher's one-key
//! diversion first (the same state change and signed, durably queued hand-offs
//! as `POST /incidents/{id}/divert`), to every partner the taxonomy and the
//! caller's words call for (`pingan_dispatch::decide_partners`) that has a
//! registered endpoint: non-police calls are handed over entirely and
//! followed until the partners report them resolved (then closed as handled
//! by partner) or hand them back (rejected, undeliverable, or 12345 sending an
//! urgent case back to 110: police are dispatched); joint incidents (a fire
//! with injuries) go to several partners and still get police units. Without
//! registered partners every call is police work, as before.
//!
//! [`Simulator::step`] advances to the server clock's "now"; [`spawn`] drives it
//! once a second for `pingan demo` (config `demo.simulate`). Decisions draw from
//! one seeded generator, so a run is reproducible given the same step times.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use pingan_core::{LatLng, Timestamp};
use pingan_dispatch::classify::{BUILTIN_CORPUS, parse_corpus};
use pingan_dispatch::sim::SimError;
use pingan_dispatch::{
    CallGenerator, Disposition, DiversionFlags, LocationSampler, Priority, SimCall, SimConfig,
    SimRng, Taxonomy, decide_partners,
};
use pingan_roads::{Eta, Route};
use pingan_store::PositionUpdate;
use serde_json::json;

use crate::AppState;
use crate::api::LatLngDto;
use crate::api::calls::{CallRequest, intake};
use crate::api::incidents::{apply_unit_status, merge_incidents, recommend_for};
use crate::config::DemoSettings;
use crate::demo::{CityMap, DemoRng, random_road_point};
use crate::dispatch::{self as svc, incident_error};
use crate::error::{ApiError, ApiResult};
use crate::live::LiveEvent;

/// The actor name on every timeline line the simulator writes.
pub const ACTOR: &str = "simulator";

/// Appends an audit record for the simulator, which acts as a dispatcher.
async fn audit_as_simulator(
    s: &AppState,
    action: &str,
    incident: i64,
    detail: &str,
) -> ApiResult<()> {
    let entry = crate::audit::Audit::ok(action, "incident", vec![incident.to_string()])
        .detail(detail)
        .by(s.now_ms(), None, ACTOR, "dispatcher");
    s.append_audit(vec![entry]).await
}

/// Simulator timing and volume.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSettings {
    pub seed: u64,
    /// Mean calls per day over the whole city.
    pub calls_per_day: f64,
    /// Seconds from a call to the dispatcher's one-key dispatch (min, max).
    pub dispatch_delay_s: (u32, u32),
    /// Seconds from dispatch to the unit's acknowledgement (min, max); keep
    /// below the escalation timeout or escalation takes over.
    pub ack_delay_s: (u32, u32),
    /// Seconds a unit stays on scene (min, max).
    pub on_scene_s: (u32, u32),
    /// Seconds from the scene being cleared to the incident being closed.
    pub report_s: (u32, u32),
    /// Chance per minute that an idle patrol unit starts a patrol leg.
    pub patrol_per_min: f64,
    /// At most this many units on patrol legs at once.
    pub max_patrols: usize,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            seed: 2026,
            calls_per_day: 1_500.0,
            dispatch_delay_s: (15, 75),
            ack_delay_s: (5, 25),
            on_scene_s: (8 * 60, 25 * 60),
            report_s: (60, 240),
            patrol_per_min: 0.05,
            max_patrols: 60,
        }
    }
}

impl SimSettings {
    /// The configured `[demo]` volume and seed with default timings.
    pub fn from_config(d: &DemoSettings) -> SimSettings {
        SimSettings {
            seed: d.seed,
            calls_per_day: d.calls_per_day,
            ..SimSettings::default()
        }
    }
}

/// What one [`Simulator::step`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    pub calls: usize,
    pub dispatched: usize,
    pub acknowledged: usize,
    pub arrived: usize,
    pub cleared: usize,
    pub closed: usize,
    /// Calls merged into an open incident about the same event.
    pub merged: usize,
    /// Units whose position changed.
    pub moved: usize,
    /// Actions refused by the services (e.g. a human dispatcher got there
    /// first); they are dropped or retried, never forced.
    pub refused: usize,
    /// Incidents handed entirely to partner agencies (one-key diversion).
    pub diverted: usize,
    /// Incidents handed to partners while police respond too (联动).
    pub joint: usize,
    /// Hand-offs queued (one per partner of a diverted or joint incident).
    pub handoffs: usize,
    /// Diverted incidents that came back to police: a partner refused it,
    /// delivery failed for good, or 12345 returned it to 110.
    pub taken_back: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Dispatch {
        incident: i64,
        attempt: u32,
    },
    Acknowledge {
        unit: i64,
        incident: i64,
    },
    Clear {
        unit: i64,
        incident: i64,
    },
    Close {
        incident: i64,
        attempt: u32,
    },
    /// The dispatcher checks on a diverted incident's hand-offs.
    FollowUp {
        incident: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Incident(i64),
    Patrol,
}

/// A unit moving along a road route.
#[derive(Debug, Clone)]
struct Trip {
    route: Route,
    started: Timestamp,
    /// Speed relative to the car profile the route was timed with.
    pace: f64,
    dest: Dest,
    last: Option<LatLng>,
}

impl Trip {
    /// Route milliseconds covered at `now`.
    fn covered_ms(&self, now: Timestamp) -> u64 {
        ((now.millis() - self.started.millis()).max(0) as f64 * self.pace) as u64
    }
}

/// Speed of a unit kind relative to a car on the same roads.
fn pace_of(kind: &str) -> f64 {
    match kind {
        // ~5 km/h against a car's ~35 km/h in town.
        "foot_patrol" | "grid_worker" | "volunteer" => 0.15,
        "drone" => 1.3,
        _ => 1.0,
    }
}

/// Random road points of the city (the demo's own unit-placement sampler).
struct RoadSampler<'a> {
    city: &'a CityMap,
}

impl LocationSampler for RoadSampler<'_> {
    fn sample(&mut self, rng: &mut SimRng) -> LatLng {
        let b = self.city.bbox;
        let mut r = DemoRng::new(rng.next_u64());
        random_road_point(
            &mut r,
            self.city,
            (b.min_lat, b.min_lng, b.max_lat, b.max_lng),
        )
    }
}

/// The simulator's state between steps.
pub struct Simulator {
    settings: SimSettings,
    generator: CallGenerator,
    rng: SimRng,
    last: Option<Timestamp>,
    agenda: BTreeMap<(i64, u64), Task>,
    seq: u64,
    trips: HashMap<i64, Trip>,
    /// Units whose field work (acknowledge, drive, clear) the simulator plays.
    officers: HashSet<i64>,
    /// New incident → the open incident intake suggested it duplicates.
    duplicates: HashMap<i64, i64>,
    /// Diverted incidents whose hand-offs the dispatcher is following.
    followed: HashSet<i64>,
    /// When the dispatcher next looks over the diverted incidents for ones
    /// nobody follows (diverted at the console, or before a restart).
    next_scan: Option<Timestamp>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("settings", &self.settings)
            .field("last", &self.last)
            .field("pending", &self.agenda.len())
            .field("trips", &self.trips.len())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator with the built-in labelled call corpus.
    pub fn new(settings: SimSettings) -> Result<Simulator, SimError> {
        let corpus = parse_corpus(BUILTIN_CORPUS, &Taxonomy::builtin())
            .map_err(|_| SimError::EmptyCorpus)?;
        let generator = CallGenerator::new(
            SimConfig {
                seed: settings.seed,
                calls_per_day: settings.calls_per_day,
                ..SimConfig::default()
            },
            corpus,
        )?;
        Ok(Simulator {
            rng: SimRng::new(settings.seed ^ 0x5349_4D55_4C41_5445),
            settings,
            generator,
            last: None,
            agenda: BTreeMap::new(),
            seq: 0,
            trips: HashMap::new(),
            officers: HashSet::new(),
            duplicates: HashMap::new(),
            followed: HashSet::new(),
            next_scan: None,
        })
    }

    /// Tasks waiting for their time.
    pub fn pending(&self) -> usize {
        self.agenda.len()
    }

    fn between(&mut self, (lo, hi): (u32, u32)) -> i64 {
        let span = u64::from(hi.saturating_sub(lo)) + 1;
        (i64::from(lo) + self.rng.below(span) as i64) * 1000
    }

    fn schedule(&mut self, at: Timestamp, task: Task) {
        self.seq += 1;
        self.agenda.insert((at.millis(), self.seq), task);
    }

    /// Advances the city to the server clock's now: takes the calls that
    /// arrived since the last step, runs due dispatcher and officer actions,
    /// moves units and starts patrols. The first step only starts the clock.
    pub async fn step(&mut self, s: &AppState) -> ApiResult<StepReport> {
        let mut report = StepReport::default();
        let Some(city) = s.city() else {
            return Ok(report);
        };
        let now = s.now();
        let from = self.last.unwrap_or(now);
        if now < from {
            return Ok(report);
        }
        self.last = Some(now);

        let calls = self
            .generator
            .calls_between(from, now, &mut RoadSampler { city: &city });
        for c in calls {
            if let Err(e) = self.admit(s, &c, &mut report).await {
                tracing::debug!(error = %e.message, "simulated call refused");
                report.refused += 1;
            }
        }

        s.dispatch.ensure_units(s).await?;
        self.adopt_units(s, &city, now).await?;
        self.adopt_diverted(s, now).await?;

        while let Some(entry) = self.agenda.first_entry() {
            if entry.key().0 > now.millis() {
                break;
            }
            let task = entry.remove();
            if let Err(e) = self.run(s, &city, task, now, &mut report).await {
                tracing::debug!(?task, error = %e.message, "simulated action refused");
                report.refused += 1;
            }
        }

        self.move_units(s, now, &mut report).await?;
        self.start_patrols(s, &city, from, now);
        Ok(report)
    }

    /// Takes a call from outside the generator (a scripted scenario for a
    /// presentation, a test) exactly as a generated one: intake, duplicate
    /// merge, and the dispatcher's decision after the usual delay. Returns the
    /// incident id.
    pub async fn add_call(&mut self, s: &AppState, c: &SimCall) -> ApiResult<i64> {
        let mut report = StepReport::default();
        self.admit(s, c, &mut report).await
    }

    async fn admit(
        &mut self,
        s: &AppState,
        c: &SimCall,
        report: &mut StepReport,
    ) -> ApiResult<i64> {
        let id = self.take_call(s, c).await?;
        report.calls += 1;
        if self.merge_duplicate(s, id).await {
            report.merged += 1;
            return Ok(id);
        }
        let d = self.between(self.settings.dispatch_delay_s);
        self.schedule(
            c.at.plus_millis(d),
            Task::Dispatch {
                incident: id,
                attempt: 0,
            },
        );
        Ok(id)
    }

    /// A dispatcher merges a call that intake flagged as a duplicate of an
    /// open incident of the same kind into it (instead of sending a second
    /// unit).
    async fn merge_duplicate(&mut self, s: &AppState, id: i64) -> bool {
        let Some(&into) = self.duplicates.get(&id) else {
            return false;
        };
        self.duplicates.remove(&id);
        let rows = (
            s.store.get_incident(into).await,
            s.store.get_incident(id).await,
        );
        let (Ok(into), Ok(from)) = rows else {
            return false;
        };
        // Intake suggests by place and time only; the dispatcher reading both
        // merges only calls about the same kind of event (a crash reported
        // beside an open fraud case is a new incident, and a call for a
        // partner must not vanish into a police case).
        let root = |r: &pingan_store::IncidentRow| {
            r.type_code
                .as_deref()
                .map(|t| t.split('.').next().unwrap_or(t).to_string())
        };
        if root(&into) != root(&from) {
            return false;
        }
        merge_incidents(s, &into, &from, "同一事件重复报警", ACTOR)
            .await
            .is_ok()
    }

    /// One generated call through the API's intake path.
    async fn take_call(&mut self, s: &AppState, c: &SimCall) -> ApiResult<i64> {
        let req = CallRequest {
            channel: c.channel.code().to_string(),
            caller_phone: c.caller_phone.clone(),
            caller_name: None,
            description: c.description.clone(),
            location: Some(LatLngDto {
                lat: c.point.lat(),
                lng: c.point.lng(),
            }),
            address: None,
            time: Some(c.at.millis().to_string()),
        };
        let r = intake(s, ACTOR, req).await?;
        // The simulator plays a call taker: its records carry caller data
        // like anyone's, so they are audited like anyone's.
        audit_as_simulator(
            s,
            "call.create",
            r.incident.id,
            "demo simulator took a call",
        )
        .await?;
        if let Some(d) = r.duplicates.first() {
            self.duplicates.insert(r.incident.id, d.incident_id);
        }
        Ok(r.incident.id)
    }

    /// Plays the officers of units dispatched by anyone (the simulator or a
    /// person at the console), and picks up units left mid-job by a restart.
    async fn adopt_units(&mut self, s: &AppState, city: &CityMap, now: Timestamp) -> ApiResult<()> {
        let mut units = s.dispatch.units();
        units.sort_by_key(|u| u.id);
        for u in units {
            let Some(incident) = u.incident_id else {
                continue;
            };
            if self.officers.contains(&u.id) {
                continue;
            }
            match u.status.as_str() {
                "dispatched" => {
                    self.officers.insert(u.id);
                    let d = self.between(self.settings.ack_delay_s);
                    self.schedule(
                        now.plus_millis(d),
                        Task::Acknowledge {
                            unit: u.id,
                            incident,
                        },
                    );
                }
                "en_route" => {
                    self.officers.insert(u.id);
                    let row = s.store.get_incident(incident).await?;
                    if let Ok(to) = LatLng::new(row.lat, row.lng) {
                        self.start_trip(city, &u, to, Dest::Incident(incident), now, 1.0);
                    }
                }
                "on_scene" => {
                    self.officers.insert(u.id);
                    let d = self.between(self.settings.on_scene_s);
                    self.schedule(
                        now.plus_millis(d),
                        Task::Clear {
                            unit: u.id,
                            incident,
                        },
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Once a minute: follows every diverted incident nobody follows yet.
    async fn adopt_diverted(&mut self, s: &AppState, now: Timestamp) -> ApiResult<()> {
        if self.next_scan.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.next_scan = Some(now.plus_secs(FOLLOW_UP_S));
        let filter = pingan_store::IncidentFilter {
            status: Some("diverted".into()),
            ..Default::default()
        };
        let mut offset = 0;
        loop {
            let page = pingan_store::Page { limit: 500, offset };
            let (rows, total) = s.store.list_incidents(&filter, page).await?;
            for r in &rows {
                self.follow(r.id, now.plus_secs(FOLLOW_UP_S));
            }
            offset += rows.len() as i64;
            if rows.is_empty() || offset >= total {
                return Ok(());
            }
        }
    }

    /// Schedules a check on a diverted incident unless one is pending.
    fn follow(&mut self, incident: i64, at: Timestamp) {
        if self.followed.insert(incident) {
            self.schedule(at, Task::FollowUp { incident });
        }
    }

    async fn run(
        &mut self,
        s: &AppState,
        city: &CityMap,
        task: Task,
        now: Timestamp,
        report: &mut StepReport,
    ) -> ApiResult<()> {
        match task {
            Task::Dispatch { incident, attempt } => {
                let row = s.store.get_incident(incident).await?;
                // Someone else dispatched, diverted, merged or closed it.
                if row.status != "classified" {
                    return Ok(());
                }
                let Some(tc) = row.type_code.as_deref() else {
                    return Ok(());
                };
                if !self.hand_off(s, &row, tc, now, report).await? {
                    return Ok(());
                }
                let prio = row
                    .priority
                    .as_deref()
                    .and_then(|p| Priority::from_str(p).ok())
                    .unwrap_or(Priority::P3);
                let point =
                    LatLng::new(row.lat, row.lng).map_err(|e| ApiError::internal(e.to_string()))?;
                let recs = recommend_for(s, point, tc, prio, 5)?;
                let Some(best) = recs.first() else {
                    // Nobody free: the dispatcher tries again a minute later.
                    if attempt < 10 {
                        self.schedule(
                            now.plus_secs(60),
                            Task::Dispatch {
                                incident,
                                attempt: attempt + 1,
                            },
                        );
                    }
                    return Ok(());
                };
                let next: Vec<i64> = recs
                    .iter()
                    .skip(1)
                    .filter(|r| !r.first_responder)
                    .map(|r| r.unit_id)
                    .collect();
                match svc::dispatch_units(s, incident, &[best.unit_id], ACTOR, next).await {
                    Ok(_) => {
                        report.dispatched += 1;
                        self.officers.insert(best.unit_id);
                        let d = self.between(self.settings.ack_delay_s);
                        self.schedule(
                            now.plus_millis(d),
                            Task::Acknowledge {
                                unit: best.unit_id,
                                incident,
                            },
                        );
                        Ok(())
                    }
                    Err(e) => {
                        if attempt < 10 {
                            self.schedule(
                                now.plus_secs(10),
                                Task::Dispatch {
                                    incident,
                                    attempt: attempt + 1,
                                },
                            );
                        }
                        Err(e)
                    }
                }
            }
            Task::Acknowledge { unit, incident } => {
                let u = s.store.get_unit(unit).await?;
                // Escalation moved the job on, or a person stood the unit down.
                if u.status != "dispatched" || u.incident_id != Some(incident) {
                    self.officers.remove(&unit);
                    return Ok(());
                }
                if let Err(e) = apply_unit_status(s, &u, "acknowledged", ACTOR).await {
                    self.officers.remove(&unit);
                    return Err(e);
                }
                report.acknowledged += 1;
                let u = s.store.get_unit(unit).await?;
                apply_unit_status(s, &u, "en_route", ACTOR).await?;
                let row = s.store.get_incident(incident).await?;
                let entry = s.dispatch.unit(unit);
                if let (Some(entry), Ok(to)) = (entry, LatLng::new(row.lat, row.lng)) {
                    let from = self.trips.get(&unit).and_then(|t| t.last);
                    let entry = crate::dispatch::UnitEntry {
                        position: from.or(entry.position),
                        ..entry
                    };
                    self.start_trip(city, &entry, to, Dest::Incident(incident), now, 1.0);
                }
                Ok(())
            }
            Task::Clear { unit, incident } => {
                self.officers.remove(&unit);
                let u = s.store.get_unit(unit).await?;
                if u.status != "on_scene" || u.incident_id != Some(incident) {
                    return Ok(());
                }
                apply_unit_status(s, &u, "cleared", ACTOR).await?;
                report.cleared += 1;
                if s.store.get_incident(incident).await?.status == "cleared" {
                    let d = self.between(self.settings.report_s);
                    self.schedule(
                        now.plus_millis(d),
                        Task::Close {
                            incident,
                            attempt: 0,
                        },
                    );
                }
                Ok(())
            }
            Task::Close { incident, attempt } => {
                let row = s.store.get_incident(incident).await?;
                match row.status.as_str() {
                    "closed" => Ok(()),
                    "cleared" => {
                        let d = self.disposition(&row);
                        close_incident(s, incident, d).await?;
                        report.closed += 1;
                        self.citizen_evaluates(s, &row).await;
                        Ok(())
                    }
                    // Another unit is still working the scene.
                    _ if attempt < 20 => {
                        self.schedule(
                            now.plus_secs(120),
                            Task::Close {
                                incident,
                                attempt: attempt + 1,
                            },
                        );
                        Ok(())
                    }
                    _ => Ok(()),
                }
            }
            Task::FollowUp { incident } => self.follow_up(s, incident, now, report).await,
        }
    }

    /// The dispatcher's one-key diversion of a classified incident to the
    /// partners its type and the caller's words call for, limited to partners
    /// with a registered endpoint (an agency without a link is not handed
    /// anything; police handle the call). Returns whether police still
    /// respond: yes for police-only and joint incidents, and for an incident
    /// handed off before (it came back to 110).
    async fn hand_off(
        &mut self,
        s: &AppState,
        row: &pingan_store::IncidentRow,
        type_code: &str,
        now: Timestamp,
        report: &mut StepReport,
    ) -> ApiResult<bool> {
        let tax = s.dispatch.taxonomy();
        let Some(ty) = tax.get(type_code) else {
            return Ok(true);
        };
        let plan = decide_partners(ty, &DiversionFlags::from_text(&row.description));
        if plan.partners.is_empty() || !s.store.incident_handoffs(row.id).await?.is_empty() {
            return Ok(true);
        }
        let mut partners = Vec::new();
        for p in plan.partners {
            if s.store.find_partner(p.code()).await?.is_some() {
                partners.push(p);
            }
        }
        if partners.is_empty() {
            return Ok(true);
        }
        let note = format!("{}，请按职责处置", ty.name_zh());
        let (_, ids) = svc::divert_incident(s, row.id, &partners, &note, ACTOR).await?;
        let codes: Vec<&str> = partners.iter().map(|p| p.code()).collect();
        audit_as_simulator(
            s,
            "incident.divert",
            row.id,
            &format!("caller data sent to partners {}", codes.join(",")),
        )
        .await?;
        report.handoffs += ids.len();
        if plan.police_response {
            report.joint += 1;
            return Ok(true);
        }
        report.diverted += 1;
        self.follow(row.id, now.plus_secs(FOLLOW_UP_S));
        Ok(false)
    }

    /// Checks a diverted incident: closed as handled by partner once every
    /// hand-off is resolved; taken back and dispatched to police when a
    /// partner refused it or delivery failed; dispatched to police when 12345
    /// returned it to 110 (the platform reopened it); otherwise checked again.
    async fn follow_up(
        &mut self,
        s: &AppState,
        incident: i64,
        now: Timestamp,
        report: &mut StepReport,
    ) -> ApiResult<()> {
        self.followed.remove(&incident);
        let row = s.store.get_incident(incident).await?;
        let back_to_police = match row.status.as_str() {
            "classified" => true,
            "diverted" => {
                let hs = s.store.incident_handoffs(incident).await?;
                if let Some(h) = hs
                    .iter()
                    .find(|h| h.status == "rejected" || h.status == "failed")
                {
                    let reason = format!(
                        "{} {}：{}，110接回处置",
                        h.partner,
                        h.status,
                        h.feedback.as_deref().unwrap_or("无反馈")
                    );
                    svc::mutate(s, incident, move |inc, at| {
                        let e = inc
                            .reopen(&reason, Default::default(), at, ACTOR)
                            .map_err(incident_error)?;
                        Ok((vec![e], json!({"op": "reopen"})))
                    })
                    .await?;
                    true
                } else if !hs.is_empty() && hs.iter().all(|h| h.status == "resolved") {
                    close_incident(s, incident, Disposition::HandledByPartner).await?;
                    report.closed += 1;
                    self.citizen_evaluates(s, &row).await;
                    return Ok(());
                } else {
                    self.follow(incident, now.plus_secs(FOLLOW_UP_S));
                    return Ok(());
                }
            }
            // Closed, or someone at the console took it over.
            _ => false,
        };
        if back_to_police {
            report.taken_back += 1;
            let d = self.between(self.settings.dispatch_delay_s);
            self.schedule(
                now.plus_millis(d),
                Task::Dispatch {
                    incident,
                    attempt: 0,
                },
            );
        }
        Ok(())
    }

    /// About a third of callers leave an evaluation after closure, mostly
    /// satisfied, so the supervisors' screen has something to follow up.
    /// (A real citizen posts it through the portal with the receipt code;
    /// the simulator never sees codes, which are stored only as hashes.)
    async fn citizen_evaluates(&mut self, s: &AppState, row: &pingan_store::IncidentRow) {
        if self.rng.below(100) >= 30 {
            return;
        }
        const COMMENTS: [(i64, &str); 8] = [
            (5, "民警到得很快，处理得很好，谢谢！"),
            (5, "态度好，办事效率高"),
            (4, "整体满意，就是等的时间稍长"),
            (4, ""),
            (3, "问题解决了，但沟通可以更清楚一些"),
            (2, "等了很久民警才到"),
            (1, "没有解决问题，希望再跟进"),
            (5, ""),
        ];
        let x = self.rng.below(100);
        let pick = match x {
            0..=39 => 0,
            40..=54 => 1,
            55..=69 => 2,
            70..=79 => 3,
            80..=87 => 4,
            88..=94 => 5,
            95..=97 => 6,
            _ => 7,
        };
        let (stars, comment) = COMMENTS[pick];
        let e = pingan_store::NewEvaluation {
            incident_id: row.id,
            org_id: row.org_id,
            org_path: row.org_path.clone(),
            stars,
            comment: comment.to_string(),
        };
        if let Err(err) = s.store.create_evaluation(&e, s.now_ms()).await {
            tracing::debug!(incident = row.id, error = %err, "simulated evaluation not stored");
        }
    }

    /// A plausible outcome for the incident's type.
    fn disposition(&mut self, row: &pingan_store::IncidentRow) -> Disposition {
        let ty = row.type_code.as_deref().unwrap_or("other");
        let root = ty.split('.').next().unwrap_or(ty);
        let x = self.rng.below(100);
        match root {
            "dispute" | "noise" if x < 55 => Disposition::Mediated,
            "criminal" if x < 45 => Disposition::CaseOpened {
                case_no: format!("A{}{:05}", row.number.get(2..10).unwrap_or("0"), row.id),
            },
            _ if x < 75 => Disposition::Resolved,
            _ if x < 95 => Disposition::NoFinding,
            _ => Disposition::FalseReport,
        }
    }

    /// Starts a unit on the road route from where it is to `to`.
    fn start_trip(
        &mut self,
        city: &CityMap,
        u: &crate::dispatch::UnitEntry,
        to: LatLng,
        dest: Dest,
        now: Timestamp,
        pace_factor: f64,
    ) {
        let Some(from) = u.position else {
            return;
        };
        let r = &city.router;
        let route = r
            .route(&r.snap(from), &r.snap(to))
            .unwrap_or_else(|| straight_route(from, to));
        self.trips.insert(
            u.id,
            Trip {
                route,
                started: now,
                pace: pace_of(&u.kind) * pace_factor,
                dest,
                last: Some(from),
            },
        );
    }

    /// Moves every travelling unit to where its route puts it now; persists
    /// and publishes the positions; arrivals put the unit on scene.
    async fn move_units(
        &mut self,
        s: &AppState,
        now: Timestamp,
        report: &mut StepReport,
    ) -> ApiResult<()> {
        let mut ids: Vec<i64> = self.trips.keys().copied().collect();
        ids.sort_unstable();
        let mut updates = Vec::new();
        let mut arrived = Vec::new();
        let mut by_path: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for id in ids {
            let Some(entry) = s.dispatch.unit(id) else {
                self.trips.remove(&id);
                continue;
            };
            let Some(trip) = self.trips.get_mut(&id) else {
                continue;
            };
            // A patrolling unit that got a job stops patrolling.
            if trip.dest == Dest::Patrol && entry.status != "available" {
                self.trips.remove(&id);
                continue;
            }
            let covered = trip.covered_ms(now);
            let p = trip.route.position_at(covered);
            if trip.last != Some(p) {
                trip.last = Some(p);
                updates.push(PositionUpdate {
                    unit_id: id,
                    lat: p.lat(),
                    lng: p.lng(),
                    at: now.millis(),
                });
                by_path
                    .entry(entry.org_path.clone())
                    .or_default()
                    .push(json!({
                        "id": id,
                        "position": {"lat": p.lat(), "lng": p.lng()},
                        "at": crate::api::rfc3339(now.millis()),
                    }));
            }
            if covered >= trip.route.eta.millis {
                arrived.push((id, trip.dest));
            }
        }
        if !updates.is_empty() {
            s.store.update_positions(&updates).await?;
            for u in &updates {
                if let Ok(p) = LatLng::new(u.lat, u.lng) {
                    s.dispatch.update_position(s, u.unit_id, p, u.at);
                }
            }
            report.moved += updates.len();
            for (path, items) in by_path {
                let _ = s.live.send(LiveEvent {
                    name: "unit.positions",
                    org_path: Some(path),
                    data: json!({ "items": items }),
                });
            }
        }
        for (id, dest) in arrived {
            self.trips.remove(&id);
            let Dest::Incident(incident) = dest else {
                continue;
            };
            let u = s.store.get_unit(id).await?;
            if u.status != "en_route" || u.incident_id != Some(incident) {
                self.officers.remove(&id);
                continue;
            }
            match apply_unit_status(s, &u, "on_scene", ACTOR).await {
                Ok(_) => {
                    report.arrived += 1;
                    let d = self.between(self.settings.on_scene_s);
                    self.schedule(now.plus_millis(d), Task::Clear { unit: id, incident });
                }
                Err(e) => {
                    tracing::debug!(unit = id, error = %e.message, "simulated arrival refused");
                    self.officers.remove(&id);
                    report.refused += 1;
                }
            }
        }
        Ok(())
    }

    /// Sends some idle patrol units on a leg of up to about a kilometre.
    fn start_patrols(&mut self, s: &AppState, city: &CityMap, from: Timestamp, now: Timestamp) {
        let minutes = (now.millis() - from.millis()) as f64 / 60_000.0;
        if minutes <= 0.0 {
            return;
        }
        let chance = (self.settings.patrol_per_min * minutes).min(1.0);
        let mut patrolling = self
            .trips
            .values()
            .filter(|t| t.dest == Dest::Patrol)
            .count();
        let mut units = s.dispatch.units();
        units.sort_by_key(|u| u.id);
        for u in units {
            if patrolling >= self.settings.max_patrols {
                break;
            }
            if u.status != "available"
                || !matches!(u.kind.as_str(), "patrol_car" | "motorcycle" | "foot_patrol")
                || self.trips.contains_key(&u.id)
            {
                continue;
            }
            if self.rng.next_f64() >= chance {
                continue;
            }
            let Some(at) = u.position else {
                continue;
            };
            let north = (self.rng.next_f64() - 0.5) * 2_000.0;
            let east = (self.rng.next_f64() - 0.5) * 2_000.0;
            let Some(target) = city.router.snap_within(at.offset_m(north, east), 300.0) else {
                continue;
            };
            // Patrols cruise at about half the speed of a response.
            self.start_trip(city, &u, target.point(), Dest::Patrol, now, 0.5);
            patrolling += 1;
        }
    }
}

/// Seconds between the dispatcher's checks on a diverted incident (every
/// hand-off ends resolved, rejected, returned or failed, so checks end).
const FOLLOW_UP_S: i64 = 60;

/// Closes an incident with `d` and drops its escalation timer.
async fn close_incident(s: &AppState, incident: i64, d: Disposition) -> ApiResult<()> {
    let code = svc::disposition_string(&d);
    svc::mutate(s, incident, move |inc, at| {
        let e = inc.close(d, at, ACTOR).map_err(incident_error)?;
        Ok((vec![e], json!({ "disposition": code })))
    })
    .await?;
    s.dispatch.escalation_drop(incident);
    Ok(())
}

/// A direct line at town driving speed, for the rare point the road network
/// cannot connect.
fn straight_route(from: LatLng, to: LatLng) -> Route {
    let metres = from.distance_m(&to);
    let millis = (metres / 8.0 * 1000.0) as u64;
    Route {
        eta: Eta { millis, metres },
        path: vec![from, to],
        times_ms: vec![0, millis],
    }
}

/// Drives the simulator once a second with the server clock, once the city's
/// road network is loaded. Started by [`crate::build`] when `demo.simulate` is on.
pub fn spawn(s: &AppState) {
    let st = s.clone();
    tokio::spawn(async move {
        let mut sim: Option<Simulator> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if st.city().is_none() {
                continue;
            }
            let sim = match &mut sim {
                Some(x) => x,
                None => match Simulator::new(SimSettings::from_config(&st.config.demo)) {
                    Ok(x) => sim.insert(x),
                    Err(e) => {
                        tracing::warn!(error = %e, "demo simulator not started");
                        return;
                    }
                },
            };
            match sim.step(&st).await {
                Ok(r) if r.calls + r.dispatched + r.arrived + r.closed > 0 => {
                    tracing::debug!(?r, "demo simulator step");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e.message, "demo simulator step failed; retrying in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    });
}
