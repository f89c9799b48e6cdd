//! Sensors and the events they emit, as the engine sees them (already parsed
//! and validated; the wire format lives in [`crate::wire`]).

use std::collections::BTreeMap;
use std::fmt;

use pingan_core::{LatLng, Timestamp};

use crate::ident::Identifier;

/// What kind of device a sensor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SensorKind {
    /// Road checkpoint / ANPR plate reader (卡口).
    Checkpoint,
    /// Face-capture camera.
    FaceCamera,
    /// Access-control door of a residential compound (门禁).
    AccessControl,
    /// Smart lock on a dwelling door.
    SmartLock,
    /// Drone whose detections carry their own location.
    Drone,
    /// Hotel / internet-café / transport check-in terminal.
    CheckIn,
    /// Wi-Fi / IMSI probe.
    Probe,
}

impl SensorKind {
    pub const ALL: [SensorKind; 7] = [
        SensorKind::Checkpoint,
        SensorKind::FaceCamera,
        SensorKind::AccessControl,
        SensorKind::SmartLock,
        SensorKind::Drone,
        SensorKind::CheckIn,
        SensorKind::Probe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SensorKind::Checkpoint => "checkpoint",
            SensorKind::FaceCamera => "face_camera",
            SensorKind::AccessControl => "access_control",
            SensorKind::SmartLock => "smart_lock",
            SensorKind::Drone => "drone",
            SensorKind::CheckIn => "check_in",
            SensorKind::Probe => "probe",
        }
    }

    pub fn parse(s: &str) -> Option<SensorKind> {
        SensorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A sensor registered with the engine. Events from it inherit its location
/// and owning org when they carry none of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorInfo {
    pub id: String,
    pub kind: SensorKind,
    /// Fixed position; `None` for mobile sensors (drones) whose events carry one.
    pub location: Option<LatLng>,
    /// Materialised path of the owning org node, e.g. `/1/3/17/`.
    pub org_path: String,
}

/// What happened at the sensor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    PlateRead,
    FaceCapture,
    DoorOpen,
    CardSwipe,
    CheckIn,
    ProbeHit,
    DroneDetection,
    /// A kind this build does not know, kept verbatim (lower-case snake case).
    Other(String),
}

impl EventKind {
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::PlateRead => "plate_read",
            EventKind::FaceCapture => "face_capture",
            EventKind::DoorOpen => "door_open",
            EventKind::CardSwipe => "card_swipe",
            EventKind::CheckIn => "check_in",
            EventKind::ProbeHit => "probe_hit",
            EventKind::DroneDetection => "drone_detection",
            EventKind::Other(s) => s,
        }
    }

    /// Parses a wire name. Unknown names become [`EventKind::Other`] provided
    /// they are short snake-case words; `None` otherwise.
    pub fn parse(s: &str) -> Option<EventKind> {
        let known = [
            EventKind::PlateRead,
            EventKind::FaceCapture,
            EventKind::DoorOpen,
            EventKind::CardSwipe,
            EventKind::CheckIn,
            EventKind::ProbeHit,
            EventKind::DroneDetection,
        ];
        if let Some(k) = known.into_iter().find(|k| k.as_str() == s) {
            return Some(k);
        }
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| EventKind::Other(s.to_string()))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation by one sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorEvent {
    pub sensor_id: String,
    /// When the sensor observed it (not when it reached us).
    pub time: Timestamp,
    pub kind: EventKind,
    pub identifiers: Vec<Identifier>,
    /// Free-form sensor attributes (direction, lane, confidence …), kept sorted
    /// so that anything derived from them is deterministic.
    pub attributes: BTreeMap<String, String>,
    /// Overrides the sensor's own location (drones, mobile terminals).
    pub location: Option<LatLng>,
}
