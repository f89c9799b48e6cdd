//! Deterministic replay: an NDJSON event file run through the same engine
//! step that live ingestion uses, so `pingan replay FILE` reproduces exactly
//! the alerts the live system raised for the same events in the same order.

use pingan_core::Timestamp;

use crate::engine::{Effect, Engine};
use crate::event::SensorEvent;
use crate::wire::{LineError, ParseOptions, parse_ndjson};

/// The per-event step shared by live ingestion and replay: advance the clock
/// to `now` (expiries, silence, suppression ends …), then match the event.
/// The server calls this for every accepted event, in acceptance order.
pub fn ingest(engine: &mut Engine, event: &SensorEvent, now: Timestamp) -> Vec<Effect> {
    let mut out = engine.tick(now);
    out.extend(
        engine
            .process(event, now)
            .into_iter()
            .map(|d| Effect::Alert(Box::new(d))),
    );
    out
}

/// Everything a replay produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayReport {
    /// Alerts and effects in the order they were produced.
    pub effects: Vec<Effect>,
    /// Lines of the file that were rejected.
    pub errors: Vec<LineError>,
    pub events: usize,
}

impl ReplayReport {
    /// Only the alert drafts, in order.
    pub fn alerts(&self) -> impl Iterator<Item = &crate::engine::AlertDraft> {
        self.effects.iter().filter_map(|e| match e {
            Effect::Alert(a) => Some(a.as_ref()),
            _ => None,
        })
    }
}

/// Replays `ndjson` through `engine` (which the caller has set up with the
/// sensors and watches of the period, as a fresh state). The clock is the
/// event time, never moving backwards; future-time checks do not apply to
/// history. If `until` is given, a final tick at that time flushes
/// clock-driven effects (silence, expiry) after the last event.
pub fn replay(engine: &mut Engine, ndjson: &str, until: Option<Timestamp>) -> ReplayReport {
    let batch = parse_ndjson(ndjson, None, &ParseOptions::default(), &|id| {
        engine.has_sensor(id)
    });
    let mut report = ReplayReport {
        errors: batch.errors,
        events: batch.events.len(),
        ..ReplayReport::default()
    };
    let mut clock = Timestamp(i64::MIN);
    for (_, ev) in &batch.events {
        clock = clock.max(ev.time);
        report.effects.extend(ingest(engine, ev, clock));
    }
    if let Some(u) = until {
        report.effects.extend(engine.tick(u.max(clock)));
    }
    report
}
