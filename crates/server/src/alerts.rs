//! The early-warning service around the sans-IO `pingan_alert::Engine`.
//!
//! One dedicated OS thread owns the engine (workers own their state): it takes
//! commands from a bounded channel (event batches, sensor and watch changes,
//! flushes), runs every accepted event through [`pingan_alert::ingest`] — the
//! same step `pingan replay` uses — ticks the clock once a second, and hands
//! the resulting effects to one async persister task. The persister writes raw
//! events and alerts to the store, broadcasts `alert.created`/`alert.updated`
//! live events routed by org path, audits watch expiry and records sensor
//! liveness. When the command channel is full, ingestion is refused (HTTP 503
//! with `Retry-After`) instead of queueing without bound.
//!
//! This module also owns the JSON forms shared by the API, the store and the
//! CLI: [`WatchSpecDto`] (a watch as created over HTTP and persisted) and
//! [`AlertDraftDto`] (an alert draft as persisted, served and replayed).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pingan_alert::wire::event_to_json;
use pingan_alert::{
    Action, AlertDraft, Companion, Condition, Detail, Effect, EndReason, Engine, EngineConfig,
    EventKind, GeofenceTrigger, IdentKind, Identifier, LocalWindow, ParseOptions, Polygon,
    Priority, Routing, RuleKind, Scope, SensorEvent, SensorInfo, SensorKind, Target, WatchError,
    WatchId, WatchSpec,
};
use pingan_core::{Clock, LatLng, Timestamp};
use pingan_jurisdiction::Jurisdiction;
use pingan_store::{NewAlert, NewEvent, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};
use utoipa::ToSchema;

use crate::api::LatLngDto;
use crate::error::{ApiError, ApiResult};
use crate::live::LiveEvent;

/// Tuning of the service (from `[alerts]` in the config, see
/// [`AlertConfig::from_settings`]).
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Command channel capacity in batches; beyond it ingestion answers 503.
    pub queue_batches: usize,
    /// Events accepted but not yet written as raw events; beyond it ingestion
    /// answers 429 (the write-behind store is the bottleneck, slow down).
    pub queue_events: usize,
    /// The raw-event writer commits once this many events are buffered …
    pub raw_flush_events: usize,
    /// … or once the oldest buffered event has waited this long.
    pub raw_flush_every: Duration,
    /// Raw events per write (one atomic statement on SQLite). Raw events have
    /// their own database file on SQLite, so this bounds only how much one
    /// failed write retries, not how long alert writes wait.
    pub raw_tx_events: usize,
    /// How often the engine clock ticks (expiry, silence, suppression ends).
    pub tick: Duration,
    /// Raw events that hit no rule are purged after this.
    pub retention: Duration,
    /// How often the retention purge runs.
    pub purge_every: Duration,
    /// A sensor that sends nothing for this long is flagged silent.
    pub sensor_silent_after: Duration,
    pub parse: ParseOptions,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig::from_settings(&crate::config::AlertSettings::default())
    }
}

impl AlertConfig {
    pub fn from_settings(s: &crate::config::AlertSettings) -> Self {
        AlertConfig {
            queue_batches: s.queue_batches,
            queue_events: s.queue_events,
            raw_flush_events: s.raw_flush_events,
            raw_flush_every: Duration::from_millis(s.raw_flush_ms),
            raw_tx_events: 5_000,
            tick: Duration::from_secs(1),
            retention: Duration::from_secs(s.event_retention_hours * 3_600),
            purge_every: Duration::from_secs(s.purge_every_secs),
            sensor_silent_after: Duration::from_secs(s.sensor_silent_after_secs),
            parse: ParseOptions::default(),
        }
    }

    fn engine(&self) -> EngineConfig {
        EngineConfig {
            sensor_silent_after: Some(self.sensor_silent_after),
            ..EngineConfig::default()
        }
    }
}

// ---------------------------------------------------------------- wire forms

/// An identifier on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdentDto {
    /// `plate`, `id_number`, `phone`, `card`, `mac`, `face_id`, `imsi`, `imei`.
    pub kind: String,
    pub value: String,
}

impl IdentDto {
    pub fn from_ident(i: &Identifier) -> Self {
        IdentDto {
            kind: i.kind().as_str().to_string(),
            value: i.value().to_string(),
        }
    }

    /// The same identifier with its value masked for lists.
    pub fn masked(i: &Identifier) -> Self {
        IdentDto {
            kind: i.kind().as_str().to_string(),
            value: i.masked(),
        }
    }

    pub fn parse(&self, field: &str) -> ApiResult<Identifier> {
        let kind = IdentKind::parse(&self.kind).ok_or_else(|| {
            ApiError::invalid(
                format!("{field}.kind"),
                format!("unknown identifier kind {:?}", self.kind),
            )
        })?;
        Identifier::new(kind, &self.value)
            .map_err(|e| ApiError::invalid(format!("{field}.value"), e.to_string()))
    }
}

/// A time given as epoch milliseconds or RFC 3339.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TimeDto {
    Millis(i64),
    Text(String),
}

impl TimeDto {
    fn parse(&self, field: &str) -> ApiResult<Timestamp> {
        match self {
            TimeDto::Millis(ms) => Ok(Timestamp(*ms)),
            TimeDto::Text(s) => crate::api::parse_time(field, s)
                .map(Timestamp)
                .map_err(|e| ApiError::invalid(field, e.message)),
        }
    }
}

/// Who or what a watch targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetDto {
    Identifiers {
        identifiers: Vec<IdentDto>,
    },
    Entity {
        entity_id: String,
        identifiers: Vec<IdentDto>,
    },
    /// Everyone (optionally one identifier kind) in a bounded scope.
    Any {
        #[serde(default)]
        kind: Option<String>,
    },
}

/// Where a watch applies.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScopeDto {
    #[default]
    City,
    Org {
        org_path: String,
    },
    Area {
        polygon: Vec<LatLngDto>,
    },
    Sensors {
        sensors: Vec<String>,
    },
}

/// What turns a sighting into an alert. Durations are in seconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConditionDto {
    #[default]
    Sighting,
    Geofence {
        polygon: Vec<LatLngDto>,
        /// `enter`, `exit` or `dwell`.
        trigger: String,
        #[serde(default)]
        dwell_secs: Option<u64>,
    },
    Frequency {
        hits: u32,
        within_secs: u64,
    },
    CoOccurrence {
        /// The companion identifier; absent means anyone (同行 discovery).
        #[serde(default)]
        companion: Option<IdentDto>,
        within_secs: u64,
        times: u32,
        window_secs: u64,
    },
    FirstAppearance {
        lookback_secs: u64,
    },
    Silence {
        after_secs: u64,
    },
    Curfew {
        /// `[start_minute, end_minute)` local windows; start > end wraps midnight.
        windows: Vec<[u16; 2]>,
        #[serde(default = "default_offset")]
        utc_offset_minutes: i32,
    },
}

fn default_offset() -> i32 {
    8 * 60
}

/// A watch (布控) as created over HTTP and persisted. `legal_basis`,
/// `case_ref` and `expires_at` are mandatory; they are options here only so
/// that a missing one is answered with 422 naming it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WatchSpecDto {
    #[serde(default)]
    pub label: Option<String>,
    pub target: TargetDto,
    #[serde(default)]
    pub scope: ScopeDto,
    #[serde(default)]
    pub condition: ConditionDto,
    #[serde(default)]
    pub active_from: Option<TimeDto>,
    #[serde(default)]
    pub active_until: Option<TimeDto>,
    #[serde(default)]
    pub expires_at: Option<TimeDto>,
    #[serde(default)]
    pub legal_basis: Option<String>,
    #[serde(default)]
    pub case_ref: Option<String>,
    /// Defaults to the creating user.
    #[serde(default)]
    pub owner: Option<String>,
    /// `low`, `normal` (default), `high`, `critical`.
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub notify_orgs: Vec<String>,
    #[serde(default)]
    pub notify_users: Vec<String>,
}

fn polygon(points: &[LatLngDto], field: &str) -> ApiResult<Polygon> {
    let pts = points
        .iter()
        .enumerate()
        .map(|(i, p)| p.parse(&format!("{field}[{i}]")))
        .collect::<ApiResult<Vec<LatLng>>>()?;
    Polygon::new(&pts).map_err(|e| ApiError::invalid(field, e.to_string()))
}

fn secs(field: &str, s: u64) -> ApiResult<Duration> {
    if s == 0 {
        return Err(ApiError::invalid(field, "must be at least 1 second"));
    }
    Ok(Duration::from_secs(s))
}

fn required(field: &str, v: &Option<String>) -> ApiResult<String> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(ApiError::invalid(field, format!("{field} is required"))),
    }
}

pub(crate) fn priority_parse(s: &str) -> Option<Priority> {
    [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Critical,
    ]
    .into_iter()
    .find(|p| p.as_str() == s)
}

pub(crate) fn rule_parse(s: &str) -> Option<RuleKind> {
    use RuleKind as R;
    [
        R::Sighting,
        R::GeofenceEnter,
        R::GeofenceExit,
        R::GeofenceDwell,
        R::Frequency,
        R::CoOccurrence,
        R::FirstAppearance,
        R::Silence,
        R::Curfew,
        R::Spike,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
}

impl WatchSpecDto {
    /// The same spec with times normalised to milliseconds, as persisted.
    pub fn normalised(&self, spec: &WatchSpec) -> WatchSpecDto {
        let mut d = self.clone();
        d.active_from = Some(TimeDto::Millis(spec.active_from.millis()));
        d.active_until = spec.active_until.map(|t| TimeDto::Millis(t.millis()));
        d.expires_at = Some(TimeDto::Millis(spec.expires_at.millis()));
        d.owner = Some(spec.owner.to_string());
        d.label = Some(spec.label.to_string());
        d
    }

    /// Validates into an engine watch. `owner` is used when the spec names
    /// none; `now` is the default start.
    pub fn to_spec(&self, owner: &str, now: Timestamp) -> ApiResult<WatchSpec> {
        let legal_basis = required("legal_basis", &self.legal_basis)?;
        let case_ref = required("case_ref", &self.case_ref)?;
        let expires_at = match &self.expires_at {
            Some(t) => t.parse("expires_at")?,
            None => return Err(ApiError::invalid("expires_at", "expires_at is required")),
        };
        let idents = |list: &[IdentDto], field: &str| {
            list.iter()
                .enumerate()
                .map(|(i, d)| d.parse(&format!("{field}[{i}]")))
                .collect::<ApiResult<Vec<_>>>()
        };
        let target = match &self.target {
            TargetDto::Identifiers { identifiers } => {
                Target::Identifiers(idents(identifiers, "target.identifiers")?)
            }
            TargetDto::Entity {
                entity_id,
                identifiers,
            } => Target::Entity {
                entity_id: entity_id.clone(),
                identifiers: idents(identifiers, "target.identifiers")?,
            },
            TargetDto::Any { kind } => Target::AnyIdentifier {
                kind: match kind {
                    Some(k) => Some(IdentKind::parse(k).ok_or_else(|| {
                        ApiError::invalid("target.kind", format!("unknown identifier kind {k:?}"))
                    })?),
                    None => None,
                },
            },
        };
        let scope = match &self.scope {
            ScopeDto::City => Scope::City,
            ScopeDto::Org { org_path } => Scope::OrgSubtree(org_path.clone()),
            ScopeDto::Area { polygon: p } => Scope::Area(polygon(p, "scope.polygon")?),
            ScopeDto::Sensors { sensors } => Scope::Sensors(sensors.clone()),
        };
        let condition = match &self.condition {
            ConditionDto::Sighting => Condition::Sighting,
            ConditionDto::Geofence {
                polygon: p,
                trigger,
                dwell_secs,
            } => Condition::Geofence {
                area: polygon(p, "condition.polygon")?,
                trigger: match (trigger.as_str(), dwell_secs) {
                    ("enter", _) => GeofenceTrigger::Enter,
                    ("exit", _) => GeofenceTrigger::Exit,
                    ("dwell", Some(s)) => GeofenceTrigger::Dwell(secs("condition.dwell_secs", *s)?),
                    ("dwell", None) => {
                        return Err(ApiError::invalid(
                            "condition.dwell_secs",
                            "a dwell trigger needs dwell_secs",
                        ));
                    }
                    (t, _) => {
                        return Err(ApiError::invalid(
                            "condition.trigger",
                            format!("{t:?} is not enter, exit or dwell"),
                        ));
                    }
                },
            },
            ConditionDto::Frequency { hits, within_secs } => Condition::Frequency {
                hits: *hits,
                within: secs("condition.within_secs", *within_secs)?,
            },
            ConditionDto::CoOccurrence {
                companion,
                within_secs,
                times,
                window_secs,
            } => Condition::CoOccurrence {
                companion: match companion {
                    Some(c) => Companion::Identifier(c.parse("condition.companion")?),
                    None => Companion::Anyone,
                },
                within: secs("condition.within_secs", *within_secs)?,
                times: *times,
                window: secs("condition.window_secs", *window_secs)?,
            },
            ConditionDto::FirstAppearance { lookback_secs } => Condition::FirstAppearance {
                lookback: secs("condition.lookback_secs", *lookback_secs)?,
            },
            ConditionDto::Silence { after_secs } => Condition::Silence {
                after: secs("condition.after_secs", *after_secs)?,
            },
            ConditionDto::Curfew {
                windows,
                utc_offset_minutes,
            } => Condition::Curfew {
                windows: windows
                    .iter()
                    .enumerate()
                    .map(|(i, [a, b])| {
                        if *a >= 1440 || *b > 1440 {
                            Err(ApiError::invalid(
                                format!("condition.windows[{i}]"),
                                "minutes must be within a day",
                            ))
                        } else {
                            Ok(LocalWindow {
                                start_minute: *a,
                                end_minute: *b,
                            })
                        }
                    })
                    .collect::<ApiResult<Vec<_>>>()?,
                utc_offset_minutes: *utc_offset_minutes,
            },
        };
        let priority = match &self.priority {
            None => Priority::Normal,
            Some(p) => priority_parse(p).ok_or_else(|| {
                ApiError::invalid(
                    "priority",
                    format!("{p:?} is not low, normal, high or critical"),
                )
            })?,
        };
        let active_from = match &self.active_from {
            Some(t) => t.parse("active_from")?,
            None => now,
        };
        let active_until = match &self.active_until {
            Some(t) => Some(t.parse("active_until")?),
            None => None,
        };
        let owner = match self.owner.as_deref().map(str::trim) {
            Some(o) if !o.is_empty() => o.to_string(),
            _ => owner.to_string(),
        };
        let label = self
            .label
            .clone()
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| format!("{case_ref} {}", condition.name()));
        Ok(WatchSpec {
            label: label.into(),
            target,
            scope,
            condition,
            active_from,
            active_until,
            expires_at,
            legal_basis: legal_basis.into(),
            case_ref: case_ref.into(),
            owner: owner.into(),
            priority,
            action: Action {
                notify_orgs: self.notify_orgs.clone(),
                notify_users: self.notify_users.clone(),
            },
        })
    }
}

/// Maps an engine watch rejection to 422 naming the field.
pub fn watch_error(e: &WatchError) -> ApiError {
    ApiError::invalid(e.field(), e.to_string())
}

/// Where an alert goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoutingDto {
    pub org_path: Option<String>,
    pub owner: Option<String>,
    pub notify_orgs: Vec<String>,
    pub notify_users: Vec<String>,
}

/// An alert draft as the engine produced it, in JSON (persisted, served, and
/// printed by `pingan replay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertDraftDto {
    /// Engine-local alert number (identical under replay).
    pub seq: u64,
    /// Number of the triggering event in processing order; absent for clock-fired alerts.
    pub event_seq: Option<u64>,
    pub rule: String,
    pub watch_id: Option<u64>,
    pub label: String,
    pub priority: String,
    /// Event time (epoch ms).
    pub time: i64,
    pub sensor_id: Option<String>,
    pub location: Option<LatLngDto>,
    /// H3 cell (spike alerts), as its 64-bit index.
    pub cell: Option<u64>,
    pub identifiers: Vec<IdentDto>,
    pub entity_id: Option<String>,
    pub case_ref: Option<String>,
    pub legal_basis: Option<String>,
    /// Rule-specific facts, `{"type": …, …}`.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub routing: RoutingDto,
}

fn detail_json(d: &Detail) -> serde_json::Value {
    use serde_json::json;
    match d {
        Detail::None => json!({"type": "none"}),
        Detail::Presence { since } => json!({"type": "presence", "since": since.millis()}),
        Detail::Hits { count, within_ms } => {
            json!({"type": "hits", "count": count, "within_ms": within_ms})
        }
        Detail::CoOccurrence { times, window_ms } => {
            json!({"type": "co_occurrence", "times": times, "window_ms": window_ms})
        }
        Detail::FirstAppearance { previous } => {
            json!({"type": "first_appearance", "previous": previous.map(|t| t.millis())})
        }
        Detail::Silence {
            last_seen,
            after_ms,
        } => {
            json!({"type": "silence", "last_seen": last_seen.map(|t| t.millis()), "after_ms": after_ms})
        }
        Detail::Curfew { local_minute } => json!({"type": "curfew", "local_minute": local_minute}),
        Detail::Spike {
            kind,
            count,
            expected,
            threshold,
            p_value,
        } => {
            json!({"type": "spike", "kind": kind.as_str(), "count": count, "expected": expected, "threshold": threshold, "p_value": p_value})
        }
    }
}

fn detail_from_json(v: &serde_json::Value) -> Result<Detail, String> {
    let i = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
    let u = |k: &str| {
        i(k).and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| format!("detail.{k}"))
    };
    let t = |k: &str| i(k).map(Timestamp);
    Ok(match v.get("type").and_then(serde_json::Value::as_str) {
        Some("none") | None => Detail::None,
        Some("presence") => Detail::Presence {
            since: t("since").ok_or("detail.since")?,
        },
        Some("hits") => Detail::Hits {
            count: u("count")?,
            within_ms: i("within_ms").ok_or("detail.within_ms")?,
        },
        Some("co_occurrence") => Detail::CoOccurrence {
            times: u("times")?,
            window_ms: i("window_ms").ok_or("detail.window_ms")?,
        },
        Some("first_appearance") => Detail::FirstAppearance {
            previous: t("previous"),
        },
        Some("silence") => Detail::Silence {
            last_seen: t("last_seen"),
            after_ms: i("after_ms").ok_or("detail.after_ms")?,
        },
        Some("curfew") => Detail::Curfew {
            local_minute: i("local_minute")
                .and_then(|x| u16::try_from(x).ok())
                .ok_or("detail.local_minute")?,
        },
        Some("spike") => Detail::Spike {
            kind: v
                .get("kind")
                .and_then(serde_json::Value::as_str)
                .and_then(EventKind::parse)
                .ok_or("detail.kind")?,
            count: u("count")?,
            expected: v
                .get("expected")
                .and_then(serde_json::Value::as_f64)
                .ok_or("detail.expected")?,
            threshold: u("threshold")?,
            p_value: v
                .get("p_value")
                .and_then(serde_json::Value::as_f64)
                .ok_or("detail.p_value")?,
        },
        Some(other) => return Err(format!("detail.type {other:?}")),
    })
}

impl AlertDraftDto {
    /// The identifiers masked, and the label with any of their values in it
    /// masked too (a watch is often named after the plate it tracks): what
    /// lists and live streams show.
    pub fn masked(&self) -> (Vec<IdentDto>, String) {
        let parsed: Vec<Option<Identifier>> = self
            .identifiers
            .iter()
            .map(|i| IdentKind::parse(&i.kind).and_then(|k| Identifier::new(k, &i.value).ok()))
            .collect();
        let idents: Vec<IdentDto> = self
            .identifiers
            .iter()
            .zip(&parsed)
            .map(|(i, x)| match x {
                Some(x) => IdentDto::masked(x),
                None => IdentDto {
                    kind: i.kind.clone(),
                    value: "***".into(),
                },
            })
            .collect();
        let label = self.identifiers.iter().zip(&idents).fold(
            self.label.clone(),
            |l, (raw, m): (&IdentDto, &IdentDto)| {
                pingan_core::normalize::mask::replace_ignoring_case(&l, &raw.value, &m.value)
            },
        );
        (idents, label)
    }

    pub fn from_draft(d: &AlertDraft) -> Self {
        AlertDraftDto {
            seq: d.seq,
            event_seq: d.event_seq,
            rule: d.rule.as_str().to_string(),
            watch_id: d.watch_id.map(|w| w.0),
            label: d.label.clone(),
            priority: d.priority.as_str().to_string(),
            time: d.time.millis(),
            sensor_id: d.sensor_id.clone(),
            location: d.location.map(LatLngDto::from),
            cell: d.cell.map(u64::from),
            identifiers: d.identifiers.iter().map(IdentDto::from_ident).collect(),
            entity_id: d.entity_id.clone(),
            case_ref: d.case_ref.clone(),
            legal_basis: d.legal_basis.clone(),
            detail: detail_json(&d.detail),
            routing: RoutingDto {
                org_path: d.routing.org_path.clone(),
                owner: d.routing.owner.clone(),
                notify_orgs: d.routing.notify_orgs.clone(),
                notify_users: d.routing.notify_users.clone(),
            },
        }
    }

    /// Rebuilds the engine draft (for the lifecycle and CAP export); the error
    /// names the stored field that does not read back.
    pub fn to_draft(&self) -> Result<AlertDraft, String> {
        let identifiers = self
            .identifiers
            .iter()
            .map(|i| {
                IdentKind::parse(&i.kind)
                    .and_then(|k| Identifier::new(k, &i.value).ok())
                    .ok_or_else(|| format!("identifiers {}:{}", i.kind, i.value))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AlertDraft {
            seq: self.seq,
            event_seq: self.event_seq,
            rule: rule_parse(&self.rule).ok_or("rule")?,
            watch_id: self.watch_id.map(WatchId),
            label: self.label.clone(),
            priority: priority_parse(&self.priority).ok_or("priority")?,
            time: Timestamp(self.time),
            sensor_id: self.sensor_id.clone(),
            location: match self.location {
                Some(l) => Some(LatLng::new(l.lat, l.lng).map_err(|e| e.to_string())?),
                None => None,
            },
            cell: match self.cell {
                Some(c) => Some(h3o::CellIndex::try_from(c).map_err(|e| e.to_string())?),
                None => None,
            },
            identifiers,
            entity_id: self.entity_id.clone(),
            case_ref: self.case_ref.clone(),
            legal_basis: self.legal_basis.clone(),
            detail: detail_from_json(&self.detail)?,
            routing: Routing {
                org_path: self.routing.org_path.clone(),
                owner: self.routing.owner.clone(),
                notify_orgs: self.routing.notify_orgs.clone(),
                notify_users: self.routing.notify_users.clone(),
            },
        })
    }
}

// ---------------------------------------------------------------- service

/// Why a batch could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("the event queue is full")]
    Busy,
    #[error("too many accepted events are waiting to be stored")]
    Backlog,
    #[error("the alert engine has stopped")]
    Stopped,
}

enum Cmd {
    Events(Vec<SensorEvent>),
    Sensor(SensorInfo, oneshot::Sender<Result<(), String>>),
    AddWatch(
        WatchId,
        Box<WatchSpec>,
        oneshot::Sender<Result<(), WatchError>>,
    ),
    ReplaceWatch(
        WatchId,
        Box<WatchSpec>,
        oneshot::Sender<Result<(), WatchError>>,
    ),
    RemoveWatch(WatchId, oneshot::Sender<bool>),
    Flush(oneshot::Sender<()>),
}

/// Engine thread → alert persister: effects only, so an alert never waits
/// behind raw events.
enum Out {
    Effects(Vec<Effect>),
    /// Passed on to the raw writer once every earlier effect is persisted.
    Flush(oneshot::Sender<()>),
}

/// Engine thread → raw-event writer (write-behind). Events travel as parsed;
/// the writer renders their stored JSON, off the engine thread.
enum Raw {
    Batch {
        events: Vec<SensorEvent>,
        /// Per event: whether it triggered an alert (kept past retention).
        hits: Vec<bool>,
        /// Sensor id → latest event time seen in the batch (capped at now).
        seen: Vec<(String, i64)>,
    },
    Flush(oneshot::Sender<()>),
}

/// Admission control: events and batches accepted at the edge and not yet
/// written as raw events. Bounds the memory of every queue behind the edge.
#[derive(Debug)]
struct Gate {
    events: AtomicUsize,
    batches: AtomicUsize,
    max_events: usize,
    max_batches: usize,
}

impl Gate {
    /// Reserves room for a batch of `n` events. A batch larger than the whole
    /// budget is still admitted into an empty queue, so it cannot be refused forever.
    fn admit(&self, n: usize) -> Result<(), IngestError> {
        let before = self.events.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > self.max_events {
            self.events.fetch_sub(n, Ordering::AcqRel);
            return Err(IngestError::Backlog);
        }
        if self.batches.fetch_add(1, Ordering::AcqRel) >= self.max_batches {
            self.batches.fetch_sub(1, Ordering::AcqRel);
            self.events.fetch_sub(n, Ordering::AcqRel);
            return Err(IngestError::Busy);
        }
        Ok(())
    }

    fn release(&self, events: usize, batches: usize) {
        self.events.fetch_sub(events, Ordering::AcqRel);
        self.batches.fetch_sub(batches, Ordering::AcqRel);
    }
}

/// Handle to the early-warning worker. Cheap to share (`Arc`).
pub struct AlertService {
    tx: SyncSender<Cmd>,
    gate: Arc<Gate>,
    /// Sensor id → owning org path, for authorising sensor keys at the edge.
    sensors: RwLock<HashMap<String, String>>,
    /// Watch id → owning org path, the routing fallback for unlocated alerts.
    watch_orgs: Arc<RwLock<HashMap<u64, String>>>,
    pub config: AlertConfig,
}

impl std::fmt::Debug for AlertService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertService").finish_non_exhaustive()
    }
}

/// The org path (`/1/3/17/`) of org `id` in the jurisdiction tree.
fn org_path_of(j: &Jurisdiction, id: i64) -> Option<String> {
    let mut chain = vec![id];
    let mut cur = j.node(id)?.parent_id;
    while let Some(pid) = cur {
        chain.push(pid);
        cur = j.node(pid)?.parent_id;
    }
    let mut s = String::from("/");
    for id in chain.iter().rev() {
        s.push_str(&id.to_string());
        s.push('/');
    }
    Some(s)
}

pub(crate) fn root_path(j: &Jurisdiction) -> String {
    j.nodes()
        .iter()
        .find(|n| n.parent_id.is_none())
        .map(|n| format!("/{}/", n.id))
        .unwrap_or_else(|| "/".to_string())
}

/// Converts a stored sensor row into the engine's form.
pub fn sensor_info(row: &pingan_store::SensorRow) -> Result<SensorInfo, String> {
    let kind = SensorKind::parse(&row.kind).ok_or_else(|| format!("kind {:?}", row.kind))?;
    let location = match (row.lat, row.lng) {
        (Some(a), Some(b)) => Some(LatLng::new(a, b).map_err(|e| e.to_string())?),
        _ => None,
    };
    Ok(SensorInfo {
        id: row.id.clone(),
        kind,
        location,
        org_path: row.org_path.clone(),
    })
}

/// Parses a stored watch row back into its DTO and engine spec.
pub fn stored_watch(row: &pingan_store::WatchRow) -> Result<(WatchSpecDto, WatchSpec), String> {
    let dto: WatchSpecDto =
        serde_json::from_str(&row.spec).map_err(|e| format!("watch {} spec: {e}", row.id))?;
    let spec = dto
        .to_spec(&row.owner, Timestamp(row.created_at))
        .map_err(|e| format!("watch {} spec: {}", row.id, e.message))?;
    Ok((dto, spec))
}

impl AlertService {
    /// Restores sensors and active watches from the store and starts the
    /// engine thread and the persister task.
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        live: broadcast::Sender<LiveEvent>,
        jurisdiction: Arc<RwLock<Arc<Jurisdiction>>>,
        config: AlertConfig,
    ) -> anyhow::Result<Arc<AlertService>> {
        let now = clock.now();
        let mut engine = Engine::new(config.engine())?;
        let jl = jurisdiction.clone();
        engine.set_jurisdiction(Box::new(move |p: &LatLng| {
            let j = jl
                .read()
                .map(|g| g.clone())
                .unwrap_or_else(|e| e.into_inner().clone());
            let id = j.locate(*p).responsible()?;
            org_path_of(&j, id)
        }));
        let mut sensors = HashMap::new();
        for row in store.all_sensors().await? {
            match sensor_info(&row) {
                Ok(info) => {
                    engine.register_sensor(info, now)?;
                    sensors.insert(row.id.clone(), row.org_path.clone());
                }
                Err(e) => tracing::warn!(sensor = %row.id, error = %e, "stored sensor skipped"),
            }
        }
        let mut watch_orgs = HashMap::new();
        for row in store.active_watches().await? {
            let restored = stored_watch(&row).and_then(|(_, spec)| {
                engine
                    .insert_watch(WatchId(row.id as u64), spec, now)
                    .map_err(|e| e.to_string())
            });
            match restored {
                Ok(()) => {
                    watch_orgs.insert(row.id as u64, row.org_path.clone());
                }
                Err(e) => {
                    // Expired while the server was down (or unreadable): end it
                    // now so the store matches what the engine enforces.
                    tracing::warn!(watch = row.id, error = %e, "stored watch not restored");
                    if row.expires_at <= now.millis()
                        && store.end_watch(row.id, "expired", now.millis()).await?
                    {
                        audit_system(&store, now.millis(), "watch.expire", row.id, &row.case_ref)
                            .await;
                    }
                }
            }
        }
        // Event batches are bounded by the gate; the slack is for control commands.
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue_batches + 64);
        let (out_tx, out_rx) = mpsc::channel(256);
        // Every batch in the raw channel holds a gate slot, so with this
        // capacity the engine thread never blocks on it.
        let (raw_tx, raw_rx) = mpsc::channel(config.queue_batches + 1);
        let gate = Arc::new(Gate {
            events: AtomicUsize::new(0),
            batches: AtomicUsize::new(0),
            max_events: config.queue_events,
            max_batches: config.queue_batches,
        });
        let watch_orgs = Arc::new(RwLock::new(watch_orgs));
        let tick = config.tick;
        let worker_clock = clock.clone();
        let engine_raw = raw_tx.clone();
        std::thread::Builder::new()
            .name("alert-engine".into())
            .spawn(move || engine_loop(engine, rx, out_tx, engine_raw, worker_clock, tick))?;
        let fallback_root = {
            let j = jurisdiction
                .read()
                .map(|g| g.clone())
                .unwrap_or_else(|e| e.into_inner().clone());
            root_path(&j)
        };
        let (persister_store, writer_clock) = (store.clone(), clock.clone());
        let persister = Persister {
            store,
            clock,
            live,
            watch_orgs: watch_orgs.clone(),
            seq_to_id: HashMap::new(),
            seq_order: std::collections::VecDeque::new(),
            forget_after_ms: config.engine().suppression_window.as_millis() as i64 + 60_000,
            root: fallback_root,
            raw: raw_tx,
        };
        tokio::spawn(persister.run(out_rx));
        let writer = RawWriter {
            store: persister_store,
            clock: writer_clock,
            gate: gate.clone(),
            flush_events: config.raw_flush_events.max(1),
            flush_every: config.raw_flush_every,
            tx_events: config.raw_tx_events.max(1),
            retention: config.retention,
        };
        tokio::spawn(writer.run(raw_rx, config.purge_every));
        Ok(Arc::new(AlertService {
            tx,
            gate,
            sensors: RwLock::new(sensors),
            watch_orgs,
            config,
        }))
    }

    /// Whether a sensor is registered and owned inside `org_prefix`.
    pub fn sensor_allowed(&self, id: &str, org_prefix: &str) -> bool {
        self.sensors
            .read()
            .map(|m| m.get(id).is_some_and(|p| p.starts_with(org_prefix)))
            .unwrap_or(false)
    }

    /// Runs `f` with the check [`Self::sensor_allowed`] makes, reading the
    /// registry under one lock for a whole batch instead of once per line.
    pub fn with_sensor_check<R>(
        &self,
        org_prefix: &str,
        f: impl FnOnce(&dyn Fn(&str) -> bool) -> R,
    ) -> R {
        match self.sensors.read() {
            Ok(m) => f(&|id| m.get(id).is_some_and(|p| p.starts_with(org_prefix))),
            Err(_) => f(&|_| false),
        }
    }

    /// Queues accepted events without waiting: `Busy` when the engine queue
    /// is full, `Backlog` when too many accepted events still wait to be stored.
    pub fn try_ingest(&self, events: Vec<SensorEvent>) -> Result<(), IngestError> {
        let n = events.len();
        self.gate.admit(n)?;
        let refused = match self.tx.try_send(Cmd::Events(events)) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(_)) => IngestError::Busy,
            Err(TrySendError::Disconnected(_)) => IngestError::Stopped,
        };
        self.gate.release(n, 1);
        Err(refused)
    }

    /// `(events, batches)` accepted and not yet written as raw events.
    pub fn backlog(&self) -> (usize, usize) {
        (
            self.gate.events.load(Ordering::Acquire),
            self.gate.batches.load(Ordering::Acquire),
        )
    }

    /// Sends a control command, waiting (briefly) for queue space: control
    /// changes are rare and must not be dropped like surplus events.
    async fn control<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Cmd,
    ) -> Result<T, IngestError> {
        let (reply, rx) = oneshot::channel();
        let mut cmd = make(reply);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.tx.try_send(cmd) {
                Ok(()) => break,
                Err(TrySendError::Full(c)) if Instant::now() < deadline => {
                    cmd = c;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(TrySendError::Full(_)) => return Err(IngestError::Busy),
                Err(TrySendError::Disconnected(_)) => return Err(IngestError::Stopped),
            }
        }
        rx.await.map_err(|_| IngestError::Stopped)
    }

    pub async fn register_sensor(
        &self,
        info: SensorInfo,
    ) -> Result<Result<(), String>, IngestError> {
        let (id, path) = (info.id.clone(), info.org_path.clone());
        let r = self.control(|tx| Cmd::Sensor(info, tx)).await?;
        if r.is_ok()
            && let Ok(mut m) = self.sensors.write()
        {
            m.insert(id, path);
        }
        Ok(r)
    }

    pub async fn add_watch(
        &self,
        id: i64,
        org_path: &str,
        spec: WatchSpec,
    ) -> Result<Result<(), WatchError>, IngestError> {
        let r = self
            .control(|tx| Cmd::AddWatch(WatchId(id as u64), Box::new(spec), tx))
            .await?;
        if r.is_ok()
            && let Ok(mut m) = self.watch_orgs.write()
        {
            m.insert(id as u64, org_path.to_string());
        }
        Ok(r)
    }

    pub async fn replace_watch(
        &self,
        id: i64,
        spec: WatchSpec,
    ) -> Result<Result<(), WatchError>, IngestError> {
        self.control(|tx| Cmd::ReplaceWatch(WatchId(id as u64), Box::new(spec), tx))
            .await
    }

    pub async fn remove_watch(&self, id: i64) -> Result<bool, IngestError> {
        self.control(|tx| Cmd::RemoveWatch(WatchId(id as u64), tx))
            .await
    }

    /// Resolves once every command queued before it has been processed and
    /// its effects persisted and broadcast.
    pub async fn flush(&self) -> Result<(), IngestError> {
        self.control(Cmd::Flush).await
    }
}

fn engine_loop(
    mut engine: Engine,
    rx: Receiver<Cmd>,
    out: mpsc::Sender<Out>,
    raw: mpsc::Sender<Raw>,
    clock: Arc<dyn Clock>,
    tick: Duration,
) {
    let mut last_tick = Instant::now();
    loop {
        let cmd = match rx.recv_timeout(tick) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut msg = None;
        match cmd {
            Some(Cmd::Events(events)) => {
                let now = clock.now();
                let mut hits = Vec::with_capacity(events.len());
                let mut effects = Vec::new();
                for ev in &events {
                    let fx = pingan_alert::ingest(&mut engine, ev, now);
                    hits.push(
                        fx.iter()
                            .any(|e| matches!(e, Effect::Alert(a) if a.event_seq.is_some())),
                    );
                    effects.extend(fx);
                }
                // Alerts first: they go to the persister now, the raw events
                // behind them to the write-behind writer.
                if !effects.is_empty() && out.blocking_send(Out::Effects(effects)).is_err() {
                    return;
                }
                let mut seen: HashMap<&str, i64> = HashMap::new();
                for ev in &events {
                    let t = seen.entry(ev.sensor_id.as_str()).or_insert(i64::MIN);
                    *t = (*t).max(ev.time.millis().min(now.millis()));
                }
                let seen = seen.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                let batch = Raw::Batch { events, hits, seen };
                let sent = match raw.try_send(batch) {
                    Ok(()) => Ok(()),
                    // Cannot happen while the gate holds (see `start`); waiting
                    // is still correct, only slower.
                    Err(mpsc::error::TrySendError::Full(b)) => raw.blocking_send(b).map_err(|_| ()),
                    Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
                };
                if sent.is_err() {
                    return;
                }
            }
            Some(Cmd::Sensor(info, reply)) => {
                let _ = reply.send(
                    engine
                        .register_sensor(info, clock.now())
                        .map_err(|e| e.to_string()),
                );
            }
            Some(Cmd::AddWatch(id, spec, reply)) => {
                let _ = reply.send(engine.insert_watch(id, *spec, clock.now()));
            }
            Some(Cmd::ReplaceWatch(id, spec, reply)) => {
                let _ = reply.send(engine.replace_watch(id, *spec, clock.now()));
            }
            Some(Cmd::RemoveWatch(id, reply)) => {
                let _ = reply.send(engine.remove_watch(id).is_some());
            }
            Some(Cmd::Flush(reply)) => msg = Some(Out::Flush(reply)),
            None => {}
        }
        if let Some(m) = msg
            && out.blocking_send(m).is_err()
        {
            return;
        }
        if last_tick.elapsed() >= tick {
            last_tick = Instant::now();
            let effects = engine.tick(clock.now());
            if !effects.is_empty() && out.blocking_send(Out::Effects(effects)).is_err() {
                return;
            }
        }
    }
}

pub(crate) async fn audit_system(
    store: &Store,
    at: i64,
    action: &str,
    watch_id: i64,
    case_ref: &str,
) {
    let entry = crate::audit::Audit::ok(action, "watch", vec![watch_id.to_string()])
        .detail(format!("case_ref {case_ref}"))
        .by(at, None, "system", "system");
    if let Err(e) = store.audit_append(&[entry]).await {
        tracing::error!(error = %e, watch = watch_id, "watch expiry audit failed");
    }
}

struct Persister {
    store: Store,
    clock: Arc<dyn Clock>,
    live: broadcast::Sender<LiveEvent>,
    watch_orgs: Arc<RwLock<HashMap<u64, String>>>,
    /// Engine alert seq → stored alert id, until its suppression window ends.
    seq_to_id: HashMap<u64, i64>,
    /// Creation order of `seq_to_id` entries, to forget those whose window
    /// closed without repeats (the engine reports only windows that swallowed some).
    seq_order: std::collections::VecDeque<(i64, u64)>,
    /// Suppression window plus a margin for clock-tick lag.
    forget_after_ms: i64,
    root: String,
    /// Flushes are passed on to the raw writer.
    raw: mpsc::Sender<Raw>,
}

/// Retries a store step with backoff; the outcome is logged either way.
macro_rules! with_retry {
    ($what:literal, $e:expr) => {{
        let mut delay = Duration::from_millis(50);
        let mut tries = 0;
        loop {
            match $e.await {
                Ok(v) => break Some(v),
                Err(err) if tries < 3 => {
                    tracing::warn!(error = %err, step = $what, "alert persistence retry");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                    tries += 1;
                }
                Err(err) => {
                    tracing::error!(error = %err, step = $what, "alert persistence failed");
                    break None;
                }
            }
        }
    }};
}

impl Persister {
    async fn run(mut self, mut rx: mpsc::Receiver<Out>) {
        while let Some(m) = rx.recv().await {
            match m {
                Out::Effects(effects) => self.effects(effects).await,
                Out::Flush(reply) => {
                    // Every raw batch sent before this flush is already in the
                    // raw channel; the writer answers once they are stored.
                    if let Err(mpsc::error::SendError(Raw::Flush(reply))) =
                        self.raw.send(Raw::Flush(reply)).await
                    {
                        let _ = reply.send(());
                    }
                }
            }
        }
    }

    fn route(&self, d: &AlertDraft) -> String {
        if let Some(p) = &d.routing.org_path {
            return p.clone();
        }
        d.watch_id
            .and_then(|w| self.watch_orgs.read().ok()?.get(&w.0).cloned())
            .unwrap_or_else(|| self.root.clone())
    }

    /// Stores and broadcasts alerts first, then the other effects.
    async fn effects(&mut self, effects: Vec<Effect>) {
        let now = self.clock.now().millis();
        let mut drafts = Vec::new();
        let mut rows = Vec::new();
        for e in &effects {
            if let Effect::Alert(d) = e {
                let dto = AlertDraftDto::from_draft(d);
                let org_path = self.route(d);
                rows.push(NewAlert {
                    rule: dto.rule.clone(),
                    watch_id: dto.watch_id.map(|w| w as i64),
                    org_path: org_path.clone(),
                    priority: dto.priority.clone(),
                    time: dto.time,
                    draft: serde_json::to_string(&dto).unwrap_or_default(),
                });
                drafts.push((d.seq, dto, org_path));
            }
        }
        let ids = if rows.is_empty() {
            None
        } else {
            with_retry!("alerts", self.store.create_alerts(&rows, now))
        };
        if let Some(ids) = ids {
            for ((seq, dto, org_path), id) in drafts.into_iter().zip(ids) {
                self.seq_to_id.insert(seq, id);
                self.seq_order.push_back((now, seq));
                let _ = self.live.send(LiveEvent {
                    name: "alert.created",
                    org_path: Some(org_path.clone()),
                    data: alert_summary(id, &dto, &org_path, "new", 1, now),
                });
            }
        }
        for e in effects {
            match e {
                Effect::Alert(_) => {}
                Effect::WatchEnded {
                    watch_id,
                    at,
                    reason,
                    case_ref,
                    ..
                } => {
                    let id = watch_id.0 as i64;
                    let status = match reason {
                        EndReason::Expired => "expired",
                        EndReason::WindowClosed => "expired",
                    };
                    if let Some(true) =
                        with_retry!("watch end", self.store.end_watch(id, status, at.millis()))
                    {
                        audit_system(&self.store, now, "watch.expire", id, &case_ref).await;
                    }
                    if let Ok(mut m) = self.watch_orgs.write() {
                        m.remove(&watch_id.0);
                    }
                }
                Effect::SuppressionEnded {
                    alert_seq,
                    suppressed,
                    ..
                } => {
                    if let Some(id) = self.seq_to_id.remove(&alert_seq)
                        && suppressed > 0
                    {
                        with_retry!(
                            "hits",
                            self.store.add_alert_hits(id, i64::from(suppressed), now)
                        );
                        if let Ok(row) = self.store.get_alert(id).await {
                            let _ = self.live.send(LiveEvent {
                                name: "alert.updated",
                                org_path: Some(row.org_path.clone()),
                                data: serde_json::json!({"id": id, "status": row.status, "hits": row.hits}),
                            });
                        }
                    }
                }
                Effect::SensorSilent {
                    sensor_id,
                    last_seen,
                } => {
                    with_retry!(
                        "sensor silent",
                        self.store.update_sensor_liveness(
                            &sensor_id,
                            Some("silent"),
                            last_seen.map(|t| t.millis()),
                            now
                        )
                    );
                }
                Effect::SensorResumed { sensor_id, at } => {
                    with_retry!(
                        "sensor resumed",
                        self.store.update_sensor_liveness(
                            &sensor_id,
                            Some("active"),
                            Some(at.millis()),
                            now
                        )
                    );
                }
            }
        }
        while let Some(&(at, seq)) = self.seq_order.front() {
            if now - at <= self.forget_after_ms {
                break;
            }
            self.seq_order.pop_front();
            self.seq_to_id.remove(&seq);
        }
    }
}

/// The write-behind writer of raw events: buffers accepted events into large
/// batches, renders and writes them (on SQLite into their own database file,
/// so alert writes never queue behind them), records sensor liveness once per
/// flush, frees the admission budget, and runs the retention purge.
struct RawWriter {
    store: Store,
    clock: Arc<dyn Clock>,
    gate: Arc<Gate>,
    flush_events: usize,
    flush_every: Duration,
    tx_events: usize,
    retention: Duration,
}

/// What the raw writer holds between flushes.
#[derive(Default)]
struct RawBuffer {
    events: Vec<SensorEvent>,
    hits: Vec<bool>,
    seen: HashMap<String, i64>,
    batches: usize,
    since: Option<tokio::time::Instant>,
}

impl RawWriter {
    async fn run(self, mut rx: mpsc::Receiver<Raw>, purge_every: Duration) {
        let mut purge = tokio::time::interval(purge_every);
        purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut buf = RawBuffer::default();
        loop {
            let due = buf.since.map(|t| t + self.flush_every);
            tokio::select! {
                m = rx.recv() => match m {
                    Some(Raw::Batch { events, hits, seen }) => {
                        buf.events.extend(events);
                        buf.hits.extend(hits);
                        for (id, at) in seen {
                            let t = buf.seen.entry(id).or_insert(at);
                            *t = (*t).max(at);
                        }
                        buf.batches += 1;
                        buf.since.get_or_insert_with(tokio::time::Instant::now);
                        if buf.events.len() >= self.flush_events {
                            self.write(&mut buf).await;
                        }
                    }
                    Some(Raw::Flush(reply)) => {
                        self.write(&mut buf).await;
                        let _ = reply.send(());
                    }
                    None => {
                        self.write(&mut buf).await;
                        return;
                    }
                },
                _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                    self.write(&mut buf).await;
                }
                _ = purge.tick() => {
                    let cut = self.clock.now().millis() - self.retention.as_millis() as i64;
                    if let Some(n) = with_retry!("purge", self.store.purge_events(cut))
                        && n > 0
                    {
                        tracing::info!(purged = n, "raw events past retention purged");
                    }
                }
            }
        }
    }

    async fn write(&self, buf: &mut RawBuffer) {
        let RawBuffer {
            events,
            hits,
            seen,
            batches,
            ..
        } = std::mem::take(buf);
        let n = events.len();
        let now = self.clock.now().millis();
        if n > 0 {
            // Rendering tens of thousands of events is CPU work: keep it off
            // the async workers that serve HTTP and persist alerts.
            let rows = tokio::task::spawn_blocking(move || stored_events(&events, &hits))
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "rendering raw events failed");
                    Vec::new()
                });
            for chunk in rows.chunks(self.tx_events) {
                with_retry!("events", self.store.insert_events(chunk));
            }
        }
        let seen: Vec<(String, i64)> = seen.into_iter().collect();
        with_retry!("last seen", self.store.touch_sensors(&seen, now));
        // Written or given up after retries (logged): either way the budget is free.
        self.gate.release(n, batches);
    }
}

/// The stored rows of accepted events: the wire JSON and the hit flag.
fn stored_events(events: &[SensorEvent], hits: &[bool]) -> Vec<NewEvent> {
    events
        .iter()
        .zip(hits)
        .map(|(ev, &hit)| NewEvent {
            at: ev.time.millis(),
            sensor_id: ev.sensor_id.clone(),
            raw: event_to_json(ev),
            hit,
        })
        .collect()
}

/// The live-event payload of an alert: identifiers masked (the stream is a
/// notification; the full record is read, with a purpose, from the API).
pub fn alert_summary(
    id: i64,
    d: &AlertDraftDto,
    org_path: &str,
    status: &str,
    hits: i64,
    at: i64,
) -> serde_json::Value {
    let (masked, label) = d.masked();
    serde_json::json!({
        "id": id,
        "rule": d.rule,
        "label": label,
        "priority": d.priority,
        "status": status,
        "time": crate::api::rfc3339(d.time),
        "sensor_id": d.sensor_id,
        "location": d.location,
        "identifiers": masked,
        "org_path": org_path,
        "hits": hits,
        "at": crate::api::rfc3339(at),
    })
}

/// Sensors and watches for an offline replay, in the JSON the API serves
/// (`GET /api/v1/sensors` items and `GET /api/v1/watches` items).
#[derive(Debug, Clone, Deserialize)]
pub struct ReplaySensor {
    pub id: String,
    pub kind: String,
    pub org_path: String,
    #[serde(default)]
    pub location: Option<LatLngDto>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReplayWatch {
    pub id: i64,
    pub owner: String,
    pub spec: WatchSpecDto,
}

/// Runs an NDJSON event file through a fresh engine with the given sensors
/// and watches, exactly as live ingestion does, and returns the alert drafts.
pub fn replay_file(
    ndjson: &str,
    sensors: &[ReplaySensor],
    watches: &[ReplayWatch],
) -> anyhow::Result<(Vec<AlertDraftDto>, Vec<pingan_alert::LineError>)> {
    let mut engine = Engine::new(EngineConfig::default())?;
    let first = Timestamp(i64::MIN);
    for s in sensors {
        let kind = SensorKind::parse(&s.kind)
            .ok_or_else(|| anyhow::anyhow!("sensor {}: unknown kind {:?}", s.id, s.kind))?;
        let location = match s.location {
            Some(l) => Some(LatLng::new(l.lat, l.lng)?),
            None => None,
        };
        engine.register_sensor(
            SensorInfo {
                id: s.id.clone(),
                kind,
                location,
                org_path: s.org_path.clone(),
            },
            first,
        )?;
    }
    for w in watches {
        let spec = w.spec.to_spec(&w.owner, first).map_err(|e| {
            anyhow::anyhow!(
                "watch {}: {}: {}",
                w.id,
                e.field.unwrap_or_default(),
                e.message
            )
        })?;
        // Validation is against the watch's own start: history is replayed
        // as it was, not as of today.
        let at = spec.active_from;
        engine
            .insert_watch(WatchId(w.id as u64), spec, at)
            .map_err(|e| anyhow::anyhow!("watch {}: {e}", w.id))?;
    }
    let report = pingan_alert::replay(&mut engine, ndjson, None);
    Ok((
        report.alerts().map(AlertDraftDto::from_draft).collect(),
        report.errors,
    ))
}
