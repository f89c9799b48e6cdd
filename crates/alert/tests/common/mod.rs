//! Shared fixtures for the engine's black-box tests: a small city of sensors,
//! event and watch builders, and a Monday-midnight base time.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use pingan_alert::*;
use pingan_core::{LatLng, Timestamp};

/// Monday 2026-11-02 00:00:00 UTC.
pub fn t0() -> Timestamp {
    Timestamp::from_civil_utc(2026, 11, 2, 0, 0, 0)
}

pub fn at(secs: i64) -> Timestamp {
    t0().plus_secs(secs)
}

pub fn ll(lat: f64, lng: f64) -> LatLng {
    LatLng::new(lat, lng).unwrap()
}

pub fn s1_loc() -> LatLng {
    ll(30.65, 104.06)
}

pub fn s2_loc() -> LatLng {
    s1_loc().offset_m(1000.0, 0.0)
}

pub fn s3_loc() -> LatLng {
    ll(30.70, 104.10)
}

pub fn plate(v: &str) -> Identifier {
    Identifier::new(IdentKind::Plate, v).unwrap()
}

pub fn phone(v: &str) -> Identifier {
    Identifier::new(IdentKind::Phone, v).unwrap()
}

pub fn card(v: &str) -> Identifier {
    Identifier::new(IdentKind::Card, v).unwrap()
}

pub fn quiet_config() -> EngineConfig {
    EngineConfig {
        suppression_window: Duration::ZERO,
        sensor_silent_after: None,
        ..EngineConfig::default()
    }
}

/// Sensors S1 (/1/3/17/), S2 1 km north of S1 (/1/3/18/), S3 (/1/4/20/) and a
/// drone D1 (/1/4/) without a fixed position.
pub fn city(cfg: EngineConfig) -> Engine {
    let mut e = Engine::new(cfg).unwrap();
    for (id, kind, loc, org) in [
        ("S1", SensorKind::Checkpoint, Some(s1_loc()), "/1/3/17/"),
        ("S2", SensorKind::Checkpoint, Some(s2_loc()), "/1/3/18/"),
        ("S3", SensorKind::AccessControl, Some(s3_loc()), "/1/4/20/"),
        ("D1", SensorKind::Drone, None, "/1/4/"),
    ] {
        e.register_sensor(
            SensorInfo {
                id: id.into(),
                kind,
                location: loc,
                org_path: org.into(),
            },
            t0(),
        )
        .unwrap();
    }
    e
}

pub fn ev(sensor: &str, secs: i64, idents: &[Identifier]) -> SensorEvent {
    SensorEvent {
        sensor_id: sensor.into(),
        time: at(secs),
        kind: EventKind::PlateRead,
        identifiers: idents.to_vec(),
        attributes: Default::default(),
        location: None,
    }
}

pub fn ev_at(sensor: &str, secs: i64, idents: &[Identifier], loc: LatLng) -> SensorEvent {
    SensorEvent {
        location: Some(loc),
        ..ev(sensor, secs, idents)
    }
}

pub fn spec(target: Target, condition: Condition) -> WatchSpec {
    WatchSpec {
        label: "test watch".into(),
        target,
        scope: Scope::City,
        condition,
        active_from: t0(),
        active_until: None,
        expires_at: t0().plus_secs(30 * 86_400),
        legal_basis: "公安机关办理刑事案件程序规定 第二百六十五条".into(),
        case_ref: "A5101-2026-0001".into(),
        owner: "u:li.na".into(),
        priority: Priority::High,
        action: Action {
            notify_orgs: vec!["/1/".into()],
            notify_users: vec!["u:duty".into()],
        },
    }
}

pub fn ids(target: &[Identifier]) -> Target {
    Target::Identifiers(target.to_vec())
}

/// Feeds events in order with the clock at each event's time, like replay.
pub fn run(e: &mut Engine, events: &[SensorEvent]) -> Vec<AlertDraft> {
    let mut out = Vec::new();
    for x in events {
        for eff in ingest(e, x, x.time) {
            if let Effect::Alert(a) = eff {
                out.push(*a);
            }
        }
    }
    out
}

/// `(rule, event time offset in s, sensor, identifiers)` of each alert.
pub fn summary(alerts: &[AlertDraft]) -> Vec<(RuleKind, i64, Option<String>, Vec<String>)> {
    alerts
        .iter()
        .map(|a| {
            (
                a.rule,
                (a.time.millis() - t0().millis()) / 1000,
                a.sensor_id.clone(),
                a.identifiers
                    .iter()
                    .map(|i| i.value().to_string())
                    .collect(),
            )
        })
        .collect()
}

pub fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

pub fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|x| x.to_string()).collect()
}
