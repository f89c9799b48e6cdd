//! Pure, deterministic domain logic of pingan's computer-aided dispatch (CAD):
//! incident taxonomy, call classification, incident and unit state machines,
//! duplicate-call detection, unit recommendation, escalation, one-key diversion
//! to partner agencies, response-time KPIs and the demo call generator.
//!
//! Nothing here performs I/O: time comes in as [`pingan_core::Timestamp`],
//! positions as [`pingan_core::LatLng`], and road travel times through the
//! [`recommend::TravelTimes`] trait that the server implements with the router.

pub mod classify;
pub mod diversion;
pub mod duplicate;
pub mod escalation;
pub mod incident;
pub mod kpi;
pub mod recommend;
pub mod sim;
pub mod taxonomy;
pub mod unit;

pub use classify::{Classification, Classifier, ClassifierConfig, Evidence, LabelledCall};
pub use diversion::{
    DeliveryOutcome, DiversionFlags, DiversionPlan, Handoff, HandoffEffect, HandoffPayload,
    HandoffSnapshot, HandoffState, PartnerUpdate, RetryPolicy, decide_partners,
};
pub use duplicate::{CallSighting, DuplicateConfig, MergeSuggestion, OpenIncident, suggest_merges};
pub use escalation::{EscalationAction, EscalationPolicy, EscalationState, escalation_step};
pub use incident::{
    Channel, CommandLevel, Disposition, Incident, IncidentError, IncidentNumber, IncidentSnapshot,
    IncidentState, TimelineEntry, TimelineKind,
};
pub use kpi::{GroupBy, GroupKpi, IncidentTimes, KpiTargets, compute_kpis, year_over_year};
pub use recommend::{
    CandidateUnit, Leg, RecommendConfig, RecommendOutcome, RecommendRequest, Recommendation,
    Shortlist, StraightLineTravel, TravelTimes, rank, recommend, shortlist,
};
pub use sim::{CallGenerator, LocationSampler, SimCall, SimConfig, SimRng};
pub use taxonomy::{
    Capability, IncidentType, Partner, Priority, Taxonomy, TaxonomyError, TypeSpec,
};
pub use unit::{Unit, UnitError, UnitKind, UnitStatus};
