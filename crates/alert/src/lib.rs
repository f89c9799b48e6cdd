//! pingan's early-warning engine (预警/布控), sans-IO: sensor events and the
//! clock go in, alert drafts and effects come out; the server owns storage,
//! transport and time.
//!
//! - [`ident`]: identifier kinds and light normalisation.
//! - [`event`]: sensors and sensor events.
//! - [`area`]: polygons for geofences and scopes.
//! - [`watch`]: watches (target, scope, condition, legal basis, expiry) and their validation.
//! - [`engine`]: the matching engine ([`Engine::process`], [`Engine::tick`]).
//! - [`spike`]: seasonal spike statistic, also usable on incident counts.
//! - [`lifecycle`]: alert status machine.
//! - [`cap`]: CAP 1.2 XML export.
//! - [`wire`]: NDJSON / JSON event parsing with per-line errors.
//! - [`mod@replay`]: deterministic replay of event files.

pub mod area;
pub mod cap;
pub mod engine;
pub mod event;
pub mod ident;
pub mod lifecycle;
pub mod replay;
pub mod spike;
pub mod watch;
pub mod wire;

pub use area::{AreaError, Polygon};
pub use cap::{CapError, CapOptions, to_cap_xml};
pub use engine::{
    AlertDraft, Detail, Effect, EndReason, Engine, EngineConfig, EngineError, EngineStats,
    Jurisdiction, Routing, RuleKind, SensorStatus, SpikeConfig,
};
pub use event::{EventKind, SensorEvent, SensorInfo, SensorKind};
pub use ident::{IdentKind, Identifier, IdentifierError};
pub use lifecycle::{Alert, AlertStatus, HistoryEntry, LifecycleError, Outcome, Transition};
pub use replay::{ReplayReport, ingest, replay};
pub use spike::{SpikeFinding, SpikeParams, detect_spikes};
pub use watch::{
    Action, Companion, Condition, GeofenceTrigger, LocalWindow, Priority, Scope, Target,
    WatchError, WatchId, WatchPolicy, WatchSpec,
};
pub use wire::{Batch, EventError, LineError, ParseOptions, parse_event, parse_ndjson};
