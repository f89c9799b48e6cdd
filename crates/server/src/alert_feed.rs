//! The demo city's early-warning life: [`seed_demo`] places sensors on the
//! demo streets (checkpoint plate readers on the main roads, face-recognition
//! doors of residential compounds, hotel and internet-café check-in terminals,
//! smart locks of a few elderly residents who live alone) and creates a handful
//! of watches with legal basis, case reference and expiry; [`spawn`] starts the
//! background feed that sends synthetic sensor events through the same engine
//! queue as `POST /api/v1/events`, with occasional sightings of the watched
//! identifiers, so alerts appear live on the console.
//!
//! The feed runs only in a demo store (one that [`seed_demo`] marked) and only
//! while `alerts.demo_feed` is on; it never fabricates hits on watches that an
//! operator created, only on the ones the demo seeded. Identities (plates, ID
//! numbers, phones) come from `pingan_synth` with the demo's seed and default
//! population, so watched people and vehicles are residents the data hub knows.

use std::time::Duration;

use pingan_alert::{EventKind, IdentKind, Identifier, SensorEvent, SensorKind};
use pingan_core::{LatLng, Timestamp};
use pingan_roads::HighwayClass;
use pingan_store::{NewSensor, NewWatch, SensorRow, WatchRow};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::alerts::{
    ConditionDto, IdentDto, IngestError, ScopeDto, TargetDto, TimeDto, WatchSpecDto,
};
use crate::demo::{CityMap, DemoRng};

/// Meta key marking a store whose demo sensors and watches were seeded; its
/// value is the [`FeedMarker`] JSON.
pub const DEMO_MARKER: &str = "demo.alerts";
/// `created_by` of the watches the demo seeds (the only ones the feed hits).
pub const SEEDED_BY: &str = "demo";
/// Population the identities are drawn from: the default of `pingan demo
/// --people`, so the watched people are residents in the data hub.
const DEMO_PEOPLE: u64 = 2_000;
/// How long the seeded watches run (the policy allows at most 90 days).
const WATCH_DAYS: i64 = 60;
/// An elderly resident's door that stays shut this long raises a silence alert.
const ELDERLY_SILENCE_SECS: u64 = 12 * 3_600;
/// How often the feed sends a batch.
const FEED_PERIOD: Duration = Duration::from_millis(200);

/// What the feed needs to know beyond the store's sensors and watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedMarker {
    pub seed: u64,
    /// Sensors the feed never sends from: the door of a resident who stays
    /// inside, so the console shows a silent sensor and, later, a silence alert.
    pub quiet_sensors: Vec<String>,
}

/// What [`seed_demo`] created.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoAlertsReport {
    pub sensors: usize,
    pub watches: usize,
}

/// A sensor placed by [`plan_sensors`].
#[derive(Debug, Clone, PartialEq)]
struct PlannedSensor {
    id: String,
    kind: SensorKind,
    name: String,
    point: LatLng,
}

/// Deterministic sensor layout on the city's named streets: up to 12
/// checkpoints on the most important roads, then 8 compound doors, 6 check-in
/// terminals and 3 elderly residents' doors on other streets picked by `rng`.
fn plan_sensors(city: &CityMap, rng: &mut DemoRng) -> Vec<PlannedSensor> {
    let streets = city.router.streets().streets();
    let mut order: Vec<usize> = (0..streets.len()).collect();
    // Most important class first, then longest; the name breaks ties so the
    // layout never depends on the index's internal order.
    order.sort_by(|&a, &b| {
        let (x, y) = (&streets[a], &streets[b]);
        x.class
            .cmp(&y.class)
            .then(y.length_m.total_cmp(&x.length_m))
            .then(x.name.cmp(&y.name))
    });
    let main: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| streets[i].class <= HighwayClass::SecondaryLink)
        .take(12)
        .collect();
    // Too few main roads (a small extract): the longest streets stand in.
    let main = if main.len() >= 4 {
        main
    } else {
        order.iter().copied().take(12).collect()
    };
    let mut out: Vec<PlannedSensor> = main
        .iter()
        .enumerate()
        .map(|(n, &i)| PlannedSensor {
            id: format!("KK-{:02}", n + 1),
            kind: SensorKind::Checkpoint,
            name: format!("{}治安卡口", streets[i].name),
            point: streets[i].point_along(0.5),
        })
        .collect();
    let mut rest: Vec<usize> = order
        .iter()
        .copied()
        .filter(|i| !main.contains(i))
        .collect();
    if rest.is_empty() {
        rest = order.clone();
    }
    let pick = |rng: &mut DemoRng| {
        let i = rest[rng.below(rest.len())];
        let s = &streets[i];
        (s.name.clone(), s.point_along(0.2 + 0.6 * rng.unit()))
    };
    for n in 1..=8 {
        let (street, point) = pick(rng);
        out.push(PlannedSensor {
            id: format!("MJ-{n:02}"),
            kind: SensorKind::AccessControl,
            name: format!("{street}小区人脸门禁"),
            point,
        });
    }
    for n in 1..=6 {
        let (street, point) = pick(rng);
        let what = if n % 2 == 1 {
            "宾馆入住登记终端"
        } else {
            "网吧实名上网终端"
        };
        out.push(PlannedSensor {
            id: format!("DJ-{n:02}"),
            kind: SensorKind::CheckIn,
            name: format!("{street}{what}"),
            point,
        });
    }
    for n in 1..=3 {
        let (street, point) = pick(rng);
        out.push(PlannedSensor {
            id: format!("MC-{n:02}"),
            kind: SensorKind::SmartLock,
            name: format!("{street}独居老人智能门锁"),
            point,
        });
    }
    out
}

/// The synthetic population the demo's identities come from.
fn synth_city(seed: u64, points: &[(String, LatLng)]) -> anyhow::Result<pingan_synth::SynthCity> {
    let streets = points
        .iter()
        .map(|(n, p)| pingan_synth::StreetRef::new(n.clone(), *p))
        .collect();
    Ok(pingan_synth::SynthCity::new(
        pingan_synth::SynthConfig::new(seed, DEMO_PEOPLE, "510104", "川A", streets),
    )?)
}

/// Legal basis of the seeded criminal-case watches.
const CRIMINAL_BASIS: &str =
    "公安机关办理刑事案件程序规定 第二百六十四条（经县级以上公安机关负责人批准）";

/// One watch the demo seeds: city-wide, on a criminal-case basis, owned by the
/// demo analyst (callers override scope and basis where they differ).
fn demo_watch(
    label: String,
    idents: Vec<IdentDto>,
    condition: ConditionDto,
    case_ref: &str,
    priority: &str,
    expires_at: i64,
) -> WatchSpecDto {
    WatchSpecDto {
        label: Some(label),
        target: TargetDto::Identifiers {
            identifiers: idents,
        },
        scope: ScopeDto::City,
        condition,
        active_from: None,
        active_until: None,
        expires_at: Some(TimeDto::Millis(expires_at)),
        legal_basis: Some(CRIMINAL_BASIS.into()),
        case_ref: Some(case_ref.into()),
        owner: Some("analyst".into()),
        priority: Some(priority.into()),
        notify_orgs: vec![],
        notify_users: vec![],
    }
}

fn ident(kind: &str, value: &str) -> IdentDto {
    IdentDto {
        kind: kind.into(),
        value: value.into(),
    }
}

/// Places the demo's sensors and watches in a demo city whose server is
/// running (the city's streets must be loaded), registers them with the
/// engine and marks the store for the feed. Run once, on a fresh demo.
pub async fn seed_demo(state: &AppState, seed: u64) -> anyhow::Result<DemoAlertsReport> {
    let city = state
        .city()
        .ok_or_else(|| anyhow::anyhow!("the demo sensors need the city's streets"))?;
    let now = state.now_ms();
    let mut rng = DemoRng::new(seed ^ 0xA1E2_7F00_D5EE_D000);
    let planned = plan_sensors(&city, &mut rng);
    let j = state.jurisdiction();
    for p in &planned {
        let org_id = j
            .locate(p.point)
            .responsible()
            .ok_or_else(|| anyhow::anyhow!("sensor {}: no org covers its position", p.id))?;
        let row = state
            .store
            .create_sensor(
                &NewSensor {
                    id: p.id.clone(),
                    kind: p.kind.as_str().into(),
                    name: p.name.clone(),
                    org_id,
                    position: Some((p.point.lat(), p.point.lng())),
                },
                now,
            )
            .await?;
        let info = crate::alerts::sensor_info(&row).map_err(|e| anyhow::anyhow!(e))?;
        state
            .alerts
            .register_sensor(info)
            .await?
            .map_err(|e| anyhow::anyhow!("sensor {}: {e}", p.id))?;
    }

    let points: Vec<(String, LatLng)> = planned.iter().map(|p| (p.name.clone(), p.point)).collect();
    let synth = synth_city(seed, &points)?;
    let plates: Vec<String> = [17u64, 101, 233]
        .iter()
        .map(|v| {
            synth
                .vehicle(v % synth.vehicle_count())
                .plate
                .as_str()
                .to_string()
        })
        .collect();
    let adults: Vec<pingan_synth::Person> = synth
        .people()
        .filter(|p| (1976..=2004).contains(&p.birth.y))
        .skip(40)
        .take(2)
        .collect();
    let elderly: Vec<pingan_synth::Person> = synth
        .people()
        .filter(|p| p.birth.y <= 1956)
        .take(3)
        .collect();
    let expires = now + WATCH_DAYS * 86_400_000;
    let check_ins: Vec<String> = planned
        .iter()
        .filter(|p| p.kind == SensorKind::CheckIn)
        .map(|p| p.id.clone())
        .collect();
    let surname = |p: &pingan_synth::Person| p.name.chars().next().unwrap_or('某');
    let mut specs = vec![
        demo_watch(
            format!("盗抢车辆 {}", plates[0]),
            vec![ident("plate", &plates[0])],
            ConditionDto::Sighting,
            "A5101042026110031",
            "critical",
            expires,
        ),
        demo_watch(
            format!("肇事逃逸嫌疑车辆 {}", plates[1]),
            vec![ident("plate", &plates[1])],
            ConditionDto::Sighting,
            "A5101042026110047",
            "high",
            expires,
        ),
        demo_watch(
            format!("涉嫌套牌车辆 {}（30分钟内3次过卡）", plates[2]),
            vec![ident("plate", &plates[2])],
            ConditionDto::Frequency {
                hits: 3,
                within_secs: 1_800,
            },
            "A5101042026110052",
            "normal",
            expires,
        ),
    ];
    if let Some(p) = adults.first() {
        specs.push(WatchSpecDto {
            legal_basis: Some("公安机关办理刑事案件程序规定 第二百七十四条（网上追逃）".into()),
            ..demo_watch(
                format!("网上在逃人员 {}某", surname(p)),
                vec![ident("id_number", p.id_number.as_str())],
                ConditionDto::Sighting,
                "A5101042026100118",
                "critical",
                expires,
            )
        });
    }
    if let Some(p) = adults.get(1) {
        specs.push(WatchSpecDto {
            scope: ScopeDto::Sensors {
                sensors: check_ins.clone(),
            },
            ..demo_watch(
                format!("涉案人员频繁入住 {}某", surname(p)),
                vec![ident("id_number", p.id_number.as_str())],
                ConditionDto::Frequency {
                    hits: 2,
                    within_secs: 7_200,
                },
                "A5101042026110066",
                "high",
                expires,
            )
        });
    }
    let locks: Vec<&PlannedSensor> = planned
        .iter()
        .filter(|p| p.kind == SensorKind::SmartLock)
        .collect();
    for (k, (p, lock)) in elderly.iter().zip(&locks).enumerate() {
        specs.push(WatchSpecDto {
            scope: ScopeDto::Sensors {
                sensors: vec![lock.id.clone()],
            },
            legal_basis: Some("老年人权益保障法 社区关爱服务（本人及监护人书面同意）".into()),
            ..demo_watch(
                format!("独居老人关爱 {}某（12小时无开门）", surname(p)),
                vec![ident("id_number", p.id_number.as_str())],
                ConditionDto::Silence {
                    after_secs: ELDERLY_SILENCE_SECS,
                },
                &format!("GA-2026-GA-{:03}", k + 1),
                "normal",
                expires,
            )
        });
    }
    let org_path = crate::alerts::root_path(&j);
    let n_watches = specs.len();
    for dto in specs {
        let spec = dto
            .to_spec("analyst", Timestamp(now))
            .map_err(|e| anyhow::anyhow!("demo watch {:?}: {}", dto.label, e.message))?;
        let stored = dto.normalised(&spec);
        let row = state
            .store
            .create_watch(
                &NewWatch {
                    label: spec.label.to_string(),
                    spec: serde_json::to_string(&stored)?,
                    legal_basis: spec.legal_basis.to_string(),
                    case_ref: spec.case_ref.to_string(),
                    owner: spec.owner.to_string(),
                    org_path: org_path.clone(),
                    expires_at: spec.expires_at.millis(),
                    created_by: SEEDED_BY.into(),
                },
                now,
            )
            .await?;
        let case_ref = spec.case_ref.to_string();
        state
            .alerts
            .add_watch(row.id, &row.org_path, spec)
            .await?
            .map_err(|e| anyhow::anyhow!("demo watch {}: {e}", row.id))?;
        crate::alerts::audit_system(&state.store, now, "watch.create", row.id, &case_ref).await;
    }
    // The last elderly resident stays inside: the feed never opens that door.
    let marker = FeedMarker {
        seed,
        quiet_sensors: locks.last().map(|l| vec![l.id.clone()]).unwrap_or_default(),
    };
    state
        .store
        .set_meta(DEMO_MARKER, &serde_json::to_string(&marker)?)
        .await?;
    Ok(DemoAlertsReport {
        sensors: planned.len(),
        watches: n_watches,
    })
}

/// A watched identifier the feed may sight, and where.
#[derive(Debug, Clone, PartialEq)]
struct HitTarget {
    ident: Identifier,
    /// Sensors that can observe it (by kind and the watch's scope).
    sensors: Vec<usize>,
}

/// The feed's generator: pure and deterministic given its seed and the clock
/// passed in, so it is tested without a server.
pub(crate) struct Feed {
    sensors: Vec<(String, SensorKind)>,
    plates: Vec<Identifier>,
    people: Vec<(Identifier, Option<Identifier>)>,
    hits: Vec<HitTarget>,
    /// Elderly residents who come and go: (sensor index, their identifier).
    residents: Vec<(usize, Identifier)>,
    hit_share: f64,
    rng: DemoRng,
}

/// Which event a sensor kind sends and which identifier kind it reads.
fn reads(kind: SensorKind) -> (EventKind, IdentKind) {
    match kind {
        SensorKind::Checkpoint => (EventKind::PlateRead, IdentKind::Plate),
        SensorKind::AccessControl | SensorKind::SmartLock => {
            (EventKind::DoorOpen, IdentKind::IdNumber)
        }
        SensorKind::CheckIn => (EventKind::CheckIn, IdentKind::IdNumber),
        SensorKind::FaceCamera => (EventKind::FaceCapture, IdentKind::IdNumber),
        SensorKind::Drone => (EventKind::DroneDetection, IdentKind::Plate),
        SensorKind::Probe => (EventKind::ProbeHit, IdentKind::Phone),
    }
}

impl Feed {
    /// Builds the generator from the store's sensors and the demo's watches.
    /// Sensors in `marker.quiet_sensors` never send; silence watches are fed by
    /// their residents coming and going, never by random sightings.
    pub(crate) fn new(
        marker: &FeedMarker,
        sensors: &[SensorRow],
        watches: &[WatchRow],
        hit_share: f64,
    ) -> anyhow::Result<Feed> {
        let mut live: Vec<(String, SensorKind, Option<LatLng>)> = Vec::new();
        for s in sensors {
            if marker.quiet_sensors.contains(&s.id) || s.status == "disabled" {
                continue;
            }
            let info = crate::alerts::sensor_info(s).map_err(|e| anyhow::anyhow!(e))?;
            live.push((info.id, info.kind, info.location));
        }
        live.sort_by(|a, b| a.0.cmp(&b.0));
        let points: Vec<(String, LatLng)> = live
            .iter()
            .filter_map(|(id, _, p)| p.map(|p| (id.clone(), p)))
            .collect();
        if points.is_empty() {
            anyhow::bail!("the demo feed needs at least one located sensor");
        }
        let synth = synth_city(marker.seed, &points)?;
        let plates = synth
            .vehicles()
            .map(|v| Identifier::new(IdentKind::Plate, v.plate.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let people = synth
            .people()
            .map(|p| {
                let id = Identifier::new(IdentKind::IdNumber, p.id_number.as_str())?;
                let phone = p
                    .phone
                    .as_ref()
                    .map(|ph| Identifier::new(IdentKind::Phone, ph.as_str()))
                    .transpose()?;
                Ok((id, phone))
            })
            .collect::<Result<Vec<_>, pingan_alert::IdentifierError>>()?;
        let index = |id: &str| live.iter().position(|s| s.0 == id);
        let mut hits = Vec::new();
        let mut residents = Vec::new();
        for w in watches
            .iter()
            .filter(|w| w.created_by == SEEDED_BY && w.status == "active")
        {
            let (dto, spec) = crate::alerts::stored_watch(w).map_err(|e| anyhow::anyhow!(e))?;
            let in_scope: Option<Vec<usize>> = match &dto.scope {
                ScopeDto::Sensors { sensors } => {
                    Some(sensors.iter().filter_map(|s| index(s)).collect())
                }
                _ => None,
            };
            for ident in spec.target.identifiers() {
                let able: Vec<usize> = (0..live.len())
                    .filter(|&i| reads(live[i].1).1 == ident.kind())
                    .filter(|i| in_scope.as_ref().is_none_or(|s| s.contains(i)))
                    .collect();
                if let ConditionDto::Silence { .. } = dto.condition {
                    residents.extend(able.iter().map(|&i| (i, ident.clone())));
                } else if !able.is_empty() {
                    hits.push(HitTarget {
                        ident: ident.clone(),
                        sensors: able,
                    });
                }
            }
        }
        Ok(Feed {
            sensors: live.into_iter().map(|(id, k, _)| (id, k)).collect(),
            plates,
            people,
            hits,
            residents,
            hit_share,
            rng: DemoRng::new(marker.seed ^ 0xFEED),
        })
    }

    /// The next synthetic event at `now`.
    pub(crate) fn next(&mut self, now: Timestamp) -> SensorEvent {
        let rng = &mut self.rng;
        // An elderly resident opening their door: about one event in 500.
        if !self.residents.is_empty() && rng.below(500) == 0 {
            let (s, ident) = self.residents[rng.below(self.residents.len())].clone();
            return self.event(s, vec![ident], now);
        }
        if !self.hits.is_empty() && rng.unit() < self.hit_share {
            let t = &self.hits[rng.below(self.hits.len())];
            let s = t.sensors[rng.below(t.sensors.len())];
            let ident = t.ident.clone();
            return self.event(s, vec![ident], now);
        }
        // Plate readers see most of the traffic.
        let s = if rng.below(10) < 6 {
            let cps: Vec<usize> = (0..self.sensors.len())
                .filter(|&i| self.sensors[i].1 == SensorKind::Checkpoint)
                .collect();
            if cps.is_empty() {
                rng.below(self.sensors.len())
            } else {
                cps[rng.below(cps.len())]
            }
        } else {
            rng.below(self.sensors.len())
        };
        let idents = match reads(self.sensors[s].1).1 {
            IdentKind::Plate if !self.plates.is_empty() => {
                vec![self.plates[rng.below(self.plates.len())].clone()]
            }
            IdentKind::Phone => {
                let (_, phone) = &self.people[rng.below(self.people.len())];
                phone.iter().cloned().collect()
            }
            _ => {
                let (id, phone) = &self.people[rng.below(self.people.len())];
                let mut v = vec![id.clone()];
                // Check-in terminals also record the guest's phone.
                if self.sensors[s].1 == SensorKind::CheckIn
                    && let Some(p) = phone
                {
                    v.push(p.clone());
                }
                v
            }
        };
        self.event(s, idents, now)
    }

    fn event(&self, s: usize, identifiers: Vec<Identifier>, now: Timestamp) -> SensorEvent {
        let (id, kind) = &self.sensors[s];
        SensorEvent {
            sensor_id: id.clone(),
            time: now,
            kind: reads(*kind).0,
            identifiers,
            attributes: Default::default(),
            location: None,
        }
    }
}

/// Starts the demo feed task if `alerts.demo_feed` is on. It waits for the
/// store's demo marker (set by [`seed_demo`]), then sends a batch every 200 ms
/// at `alerts.demo_feed_rate` events/s; batches the engine refuses (queue
/// full) are dropped, as a real gateway under backpressure would shed load.
pub fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let cfg = &state.config.alerts;
    if !cfg.demo_feed {
        return None;
    }
    let (rate, share) = (cfg.demo_feed_rate, cfg.demo_feed_hit_share);
    Some(tokio::spawn(run(state.clone(), rate, share)))
}

async fn run(state: AppState, rate: f64, hit_share: f64) {
    let mut backoff = Duration::from_secs(1);
    let marker: FeedMarker = loop {
        match state.store.get_meta(DEMO_MARKER).await {
            Ok(Some(v)) => match serde_json::from_str(&v) {
                Ok(m) => break m,
                Err(e) => {
                    tracing::error!(error = %e, "demo feed marker unreadable; feed stopped");
                    return;
                }
            },
            Ok(None) => backoff = Duration::from_secs(1),
            Err(e) => {
                tracing::warn!(error = %e, "demo feed: reading the marker failed");
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        tokio::time::sleep(backoff).await;
    };
    let feed = async {
        let sensors = state.store.all_sensors().await?;
        let watches = state.store.active_watches().await?;
        Feed::new(&marker, &sensors, &watches, hit_share)
    };
    let mut feed = match feed.await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "demo feed could not start");
            return;
        }
    };
    tracing::info!(rate, "demo event feed started");
    let mut tick = tokio::time::interval(FEED_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let per_tick = rate * FEED_PERIOD.as_secs_f64();
    let mut owed = 0.0;
    loop {
        tick.tick().await;
        owed += per_tick;
        let n = owed.floor() as usize;
        if n == 0 {
            continue;
        }
        owed -= n as f64;
        let now = state.now();
        let batch: Vec<SensorEvent> = (0..n).map(|_| feed.next(now)).collect();
        match state.alerts.try_ingest(batch) {
            Ok(()) => {}
            Err(IngestError::Busy | IngestError::Backlog) => {
                tracing::debug!(events = n, "demo feed batch shed under backpressure");
            }
            Err(IngestError::Stopped) => {
                tracing::info!("alert engine stopped; demo feed ends");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensor(id: &str, kind: &str, lat: f64) -> SensorRow {
        SensorRow {
            id: id.into(),
            kind: kind.into(),
            name: id.into(),
            org_id: 1,
            org_path: "/1/".into(),
            lat: Some(lat),
            lng: Some(104.06),
            status: "active".into(),
            last_seen: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn watch(id: i64, created_by: &str, dto: WatchSpecDto) -> WatchRow {
        WatchRow {
            id,
            label: String::new(),
            spec: serde_json::to_string(&dto).unwrap(),
            legal_basis: CRIMINAL_BASIS.into(),
            case_ref: "C".into(),
            owner: "analyst".into(),
            org_path: "/1/".into(),
            expires_at: 86_400_000,
            created_by: created_by.into(),
            status: "active".into(),
            ended_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    const WATCHED: &str = "川A9F3K2";
    const OPERATOR: &str = "川A77777";
    const RESIDENT: &str = "510104194503070021";

    fn feed(seed: u64) -> Feed {
        let sensors = vec![
            sensor("KK-01", "checkpoint", 30.60),
            sensor("MJ-01", "access_control", 30.61),
            sensor("DJ-01", "check_in", 30.62),
            sensor("MC-01", "smart_lock", 30.63),
            sensor("MC-02", "smart_lock", 30.64),
        ];
        let plate = |p: &str| vec![ident("plate", p)];
        let watches = vec![
            watch(
                1,
                SEEDED_BY,
                demo_watch(
                    "w".into(),
                    plate(WATCHED),
                    ConditionDto::Sighting,
                    "C1",
                    "high",
                    86_400_000,
                ),
            ),
            // An operator's watch: the feed must never aim at it.
            watch(
                2,
                "analyst",
                demo_watch(
                    "o".into(),
                    plate(OPERATOR),
                    ConditionDto::Sighting,
                    "C2",
                    "high",
                    86_400_000,
                ),
            ),
            watch(
                3,
                SEEDED_BY,
                WatchSpecDto {
                    scope: ScopeDto::Sensors {
                        sensors: vec!["MC-01".into()],
                    },
                    ..demo_watch(
                        "r".into(),
                        vec![ident("id_number", RESIDENT)],
                        ConditionDto::Silence { after_secs: 3_600 },
                        "C3",
                        "normal",
                        86_400_000,
                    )
                },
            ),
        ];
        let marker = FeedMarker {
            seed,
            quiet_sensors: vec!["MC-02".into()],
        };
        Feed::new(&marker, &sensors, &watches, 0.01).unwrap()
    }

    #[test]
    fn feed_aims_only_at_seeded_watches_and_keeps_the_quiet_door_shut() {
        let mut f = feed(2026);
        assert_eq!(f.hits.len(), 1);
        assert_eq!(f.hits[0].ident.value(), WATCHED);
        assert_eq!(f.residents.len(), 1);
        let mut watched = 0;
        let mut resident = 0;
        let mut by_sensor: std::collections::BTreeMap<String, usize> = Default::default();
        for i in 0..20_000 {
            let e = f.next(Timestamp(i));
            assert_eq!(e.time, Timestamp(i));
            *by_sensor.entry(e.sensor_id.clone()).or_default() += 1;
            let kinds: Vec<IdentKind> = e.identifiers.iter().map(Identifier::kind).collect();
            match e.sensor_id.as_str() {
                "KK-01" => {
                    assert_eq!(
                        (e.kind.clone(), kinds),
                        (EventKind::PlateRead, vec![IdentKind::Plate])
                    )
                }
                "DJ-01" => {
                    assert_eq!(e.kind, EventKind::CheckIn);
                    assert_eq!(kinds[0], IdentKind::IdNumber);
                }
                "MJ-01" | "MC-01" => {
                    assert_eq!(
                        (e.kind.clone(), kinds),
                        (EventKind::DoorOpen, vec![IdentKind::IdNumber])
                    )
                }
                other => panic!("event from {other}"),
            }
            let v = e.identifiers[0].value();
            assert_ne!(v, OPERATOR);
            if v == WATCHED {
                assert_eq!(e.sensor_id, "KK-01");
                watched += 1;
            }
            if v == RESIDENT {
                assert_eq!(e.sensor_id, "MC-01");
                resident += 1;
            }
        }
        // About 1 % of the events sight the watched plate, 1 in 500 is the resident.
        assert!((100..=300).contains(&watched), "{watched}");
        assert!((15..=70).contains(&resident), "{resident}");
        assert_eq!(by_sensor.len(), 4, "{by_sensor:?}");
        // Plate readers carry most of the traffic.
        assert!(by_sensor["KK-01"] > 10_000, "{by_sensor:?}");
    }

    #[test]
    fn feed_is_deterministic_per_seed() {
        let (mut a, mut b, mut c) = (feed(1), feed(1), feed(2));
        let run =
            |f: &mut Feed| -> Vec<SensorEvent> { (0..500).map(|i| f.next(Timestamp(i))).collect() };
        let (x, y, z) = (run(&mut a), run(&mut b), run(&mut c));
        assert_eq!(x, y);
        assert_ne!(x, z);
    }
}
