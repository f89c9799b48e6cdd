//! The sensor-event wire format for the HTTP edge (`POST /api/v1/events`):
//! one JSON event, or an NDJSON batch where every bad line is reported with
//! its line number, field and reason while the good lines are accepted.
//!
//! ```json
//! {"sensor_id":"CP-001","time":"2026-11-24T10:00:00+08:00","kind":"plate_read",
//!  "identifiers":[{"kind":"plate","value":"川A12345"}],
//!  "attributes":{"lane":2},"location":{"lat":30.65,"lng":104.06}}
//! ```
//! `time` is an RFC 3339 string or integer milliseconds since the epoch.
//! Valid lines take a typed zero-copy fast path; only a line that fails it is
//! re-read as a generic JSON value to name the offending field.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use pingan_core::{LatLng, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::event::{EventKind, SensorEvent};
use crate::ident::{IdentKind, Identifier, IdentifierError};
use crate::watch::ms;

#[derive(Debug, Clone, PartialEq)]
pub struct ParseOptions {
    /// Events stamped further than this ahead of `now` are rejected (clock
    /// skew tolerance). Ignored when no `now` is given (replay of history).
    pub max_future: Duration,
    pub max_identifiers: usize,
    pub max_line_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_future: Duration::from_secs(300),
            max_identifiers: 32,
            max_line_bytes: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum EventError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("line is longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("field is missing")]
    Missing,
    #[error("field has the wrong type, expected {0}")]
    WrongType(&'static str),
    #[error("unknown sensor {0:?}")]
    UnknownSensor(String),
    #[error("unknown identifier kind {0:?}")]
    UnknownIdentifierKind(String),
    #[error("bad identifier: {0}")]
    BadIdentifier(#[from] IdentifierError),
    #[error("more than {max} identifiers")]
    TooManyIdentifiers { max: usize },
    #[error("bad event kind {0:?}")]
    BadKind(String),
    #[error("bad time {0:?}: expected RFC 3339 or integer milliseconds")]
    BadTime(String),
    #[error("time {time:?} is more than {max_future_ms} ms ahead of now {now:?}")]
    TimeInFuture {
        time: Timestamp,
        now: Timestamp,
        max_future_ms: i64,
    },
    #[error("bad location: {0}")]
    BadLocation(String),
}

/// A rejected line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    /// 1-based line number within the batch.
    pub line: usize,
    /// Dotted path of the offending field (`identifiers[1].value`); empty when
    /// the line as a whole is bad.
    pub field: String,
    pub reason: EventError,
}

/// Outcome of a batch: accepted events with their line numbers, and rejections.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub events: Vec<(usize, SensorEvent)>,
    pub errors: Vec<LineError>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireTime<'a> {
    Millis(i64),
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

#[derive(Deserialize)]
struct WireIdent<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
struct WireLoc {
    lat: f64,
    lng: f64,
}

#[derive(Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    sensor_id: Cow<'a, str>,
    #[serde(borrow)]
    time: WireTime<'a>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    identifiers: Vec<WireIdent<'a>>,
    #[serde(default)]
    attributes: BTreeMap<String, Value>,
    #[serde(default)]
    location: Option<WireLoc>,
}

/// Parses RFC 3339 (`2026-11-24T10:00:00Z`, `…T10:00:00.123+08:00`).
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || d == 0 || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        let scale = 10i64.pow(3 - digits.len() as u32);
        frac_ms = digits.parse::<i64>().ok()? * scale;
    }
    let offset_min: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = i64::from(num(i + 1..i + 3)?);
            let om = i64::from(num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    let y = i32::try_from(y).ok()?;
    let t = Timestamp::from_civil_utc(y, mo, d, h, mi, sec);
    // Reject dates like 02-30 that the civil conversion would roll over.
    if t.to_civil_utc().2 != d {
        return None;
    }
    Some(Timestamp(t.millis() + frac_ms - offset_min * 60_000))
}

fn build(
    w: WireEvent<'_>,
    now: Option<Timestamp>,
    opts: &ParseOptions,
    known_sensor: &dyn Fn(&str) -> bool,
) -> Result<SensorEvent, (String, EventError)> {
    let f = |name: &str, e| (name.to_string(), e);
    if !known_sensor(&w.sensor_id) {
        return Err(f(
            "sensor_id",
            EventError::UnknownSensor(w.sensor_id.into_owned()),
        ));
    }
    let time = match w.time {
        WireTime::Millis(m) => Timestamp(m),
        WireTime::Text(s) => {
            parse_rfc3339(&s).ok_or_else(|| f("time", EventError::BadTime(s.into_owned())))?
        }
    };
    if let Some(now) = now {
        let max_future_ms = ms(opts.max_future);
        if time.millis() > now.millis().saturating_add(max_future_ms) {
            return Err(f(
                "time",
                EventError::TimeInFuture {
                    time,
                    now,
                    max_future_ms,
                },
            ));
        }
    }
    let kind = EventKind::parse(&w.kind)
        .ok_or_else(|| f("kind", EventError::BadKind(w.kind.to_string())))?;
    if w.identifiers.len() > opts.max_identifiers {
        return Err(f(
            "identifiers",
            EventError::TooManyIdentifiers {
                max: opts.max_identifiers,
            },
        ));
    }
    let mut identifiers = Vec::with_capacity(w.identifiers.len());
    for (i, wi) in w.identifiers.iter().enumerate() {
        let k = IdentKind::parse(&wi.kind).ok_or_else(|| {
            (
                format!("identifiers[{i}].kind"),
                EventError::UnknownIdentifierKind(wi.kind.to_string()),
            )
        })?;
        let id = Identifier::new(k, &wi.value).map_err(|e| {
            (
                format!("identifiers[{i}].value"),
                EventError::BadIdentifier(e),
            )
        })?;
        identifiers.push(id);
    }
    let location = match w.location {
        None => None,
        Some(l) => Some(LatLng::new(l.lat, l.lng).map_err(|e| {
            (
                format!("location.{}", e.field()),
                EventError::BadLocation(e.to_string()),
            )
        })?),
    };
    let attributes = w
        .attributes
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    Ok(SensorEvent {
        sensor_id: w.sensor_id.into_owned(),
        time,
        kind,
        identifiers,
        attributes,
        location,
    })
}

/// Names the field that made the typed fast path fail.
fn diagnose(line: &str, serde_msg: String) -> (String, EventError) {
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return (String::new(), EventError::MalformedJson(e.to_string())),
    };
    let Some(obj) = v.as_object() else {
        return (String::new(), EventError::WrongType("a JSON object"));
    };
    let need =
        |name: &str, ok: fn(&Value) -> bool, what: &'static str| -> Option<(String, EventError)> {
            match obj.get(name) {
                None | Some(Value::Null) => Some((name.to_string(), EventError::Missing)),
                Some(x) if !ok(x) => Some((name.to_string(), EventError::WrongType(what))),
                _ => None,
            }
        };
    if let Some(e) = need("sensor_id", Value::is_string, "a string") {
        return e;
    }
    if let Some(e) = need(
        "time",
        |x| x.is_string() || x.is_i64(),
        "an RFC 3339 string or integer milliseconds",
    ) {
        return e;
    }
    if let Some(e) = need("kind", Value::is_string, "a string") {
        return e;
    }
    match obj.get("identifiers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                for key in ["kind", "value"] {
                    match it.get(key) {
                        Some(Value::String(_)) => {}
                        None | Some(Value::Null) => {
                            return (format!("identifiers[{i}].{key}"), EventError::Missing);
                        }
                        Some(_) => {
                            return (
                                format!("identifiers[{i}].{key}"),
                                EventError::WrongType("a string"),
                            );
                        }
                    }
                }
            }
        }
        Some(_) => return ("identifiers".into(), EventError::WrongType("an array")),
    }
    if let Some(a) = obj.get("attributes")
        && !a.is_object()
        && !a.is_null()
    {
        return ("attributes".into(), EventError::WrongType("an object"));
    }
    if let Some(l) = obj.get("location")
        && !l.is_null()
    {
        for key in ["lat", "lng"] {
            if !l.get(key).is_some_and(Value::is_number) {
                return (format!("location.{key}"), EventError::WrongType("a number"));
            }
        }
    }
    (String::new(), EventError::MalformedJson(serde_msg))
}

fn parse_line(
    line: &str,
    now: Option<Timestamp>,
    opts: &ParseOptions,
    known_sensor: &dyn Fn(&str) -> bool,
) -> Result<SensorEvent, (String, EventError)> {
    if line.len() > opts.max_line_bytes {
        return Err((
            String::new(),
            EventError::LineTooLong {
                max: opts.max_line_bytes,
            },
        ));
    }
    match serde_json::from_str::<WireEvent<'_>>(line) {
        Ok(w) => build(w, now, opts, known_sensor),
        Err(e) => Err(diagnose(line, e.to_string())),
    }
}

/// Parses one JSON event (a request body that is not NDJSON).
pub fn parse_event(
    json: &str,
    now: Option<Timestamp>,
    opts: &ParseOptions,
    known_sensor: &dyn Fn(&str) -> bool,
) -> Result<SensorEvent, LineError> {
    parse_line(json.trim(), now, opts, known_sensor).map_err(|(field, reason)| LineError {
        line: 1,
        field,
        reason,
    })
}

/// Parses an NDJSON batch. Blank lines are skipped (but counted); every other
/// line yields an event or a [`LineError`].
pub fn parse_ndjson(
    input: &str,
    now: Option<Timestamp>,
    opts: &ParseOptions,
    known_sensor: &dyn Fn(&str) -> bool,
) -> Batch {
    let mut batch = Batch::default();
    for (i, raw) in input.split('\n').enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        match parse_line(line, now, opts, known_sensor) {
            Ok(ev) => batch.events.push((i + 1, ev)),
            Err((field, reason)) => batch.errors.push(LineError {
                line: i + 1,
                field,
                reason,
            }),
        }
    }
    batch
}

/// Serialisation view of an event in the wire format. Keys are in
/// alphabetical order, the order the generic JSON map used to write, so raw
/// events stored before and after this fast path read the same.
#[derive(Serialize)]
struct WireOut<'a> {
    attributes: &'a BTreeMap<String, String>,
    identifiers: Vec<IdentOut<'a>>,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<LocOut>,
    sensor_id: &'a str,
    time: i64,
}

#[derive(Serialize)]
struct IdentOut<'a> {
    kind: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct LocOut {
    lat: f64,
    lng: f64,
}

/// Renders an event in the wire format (stored as the raw event, and used to
/// write replayable files). Written straight from borrowed fields: this runs
/// for every accepted event, so it builds no intermediate JSON tree.
pub fn event_to_json(ev: &SensorEvent) -> String {
    let out = WireOut {
        attributes: &ev.attributes,
        identifiers: ev
            .identifiers
            .iter()
            .map(|i| IdentOut {
                kind: i.kind().as_str(),
                value: i.value(),
            })
            .collect(),
        kind: ev.kind.as_str(),
        location: ev.location.map(|l| LocOut {
            lat: l.lat(),
            lng: l.lng(),
        }),
        sensor_id: &ev.sensor_id,
        time: ev.time.millis(),
    };
    // Serialising borrowed strings, integers and finite floats cannot fail.
    serde_json::to_string(&out).unwrap_or_default()
}
