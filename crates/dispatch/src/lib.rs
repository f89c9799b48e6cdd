//! Pure, deterministic domain logic of pingan's computer-aided dispatch (CAD):
//! incident taxonomy, call classification, incident and unit state machines,
//! duplicate-call detection, unit recommendation, escalation, one-key diversion
//! to partner agencies, response-time KPIs and the demo call generator.
//!
//! Nothing here performs I/O: time comes in as [`pingan_core::Timestamp`],
//! positions as [`pingan_core::LatLng`], and road travel times through the
//! [`recommend::TravelTimes`] trait that the server implements with the router.

pub mod classify;
pub mod duplicate;
pub mod incident;
pub mod recommend;
pub mod taxonomy;
pub mod unit;

pub use classify::{Classification, Classifier, ClassifierConfig, Evidence, LabelledCall};
pub use duplicate::{CallSighting, DuplicateConfig, MergeSuggestion, OpenIncident, suggest_merges};
pub use incident::{
    CommandLevel, Disposition, Incident, IncidentError, IncidentNumber, IncidentState,
    TimelineEntry, TimelineKind,
};
pub use recommend::{
    CandidateUnit, RecommendConfig, RecommendOutcome, RecommendRequest, Recommendation,
    TravelTimes, recommend,
};
pub use taxonomy::{
    Capability, IncidentType, Partner, Priority, Taxonomy, TaxonomyError, TypeSpec,
};
pub use unit::{Unit, UnitError, UnitKind, UnitStatus};
