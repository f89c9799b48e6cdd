//! Incidents: the human-readable incident number (`JQ` + date + daily sequence)
//! and the incident lifecycle state machine. Every accepted transition appends a
//! [`TimelineEntry`]; illegal transitions are refused with a typed error and leave
//! the incident untouched.

use std::fmt;
use std::str::FromStr;

use pingan_core::Timestamp;

use crate::taxonomy::{Partner, Priority};

/// Errors about incident numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentNumberError {
    #[error("incident number {value:?} must be JQ followed by 8 date digits and 6 sequence digits")]
    Malformed { value: String },
    #[error("date {year:04}-{month:02}-{day:02} is not a calendar date")]
    BadDate { year: i32, month: u32, day: u32 },
    #[error("daily sequence {seq} is outside 1..=999999")]
    SeqOutOfRange { seq: u32 },
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// `JQ` + `yyyymmdd` + 6-digit daily sequence, e.g. `JQ20261124000123`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IncidentNumber {
    year: i32,
    month: u32,
    day: u32,
    seq: u32,
}

impl IncidentNumber {
    /// Builds a number from a local calendar date and the day's sequence (from 1).
    pub fn new(year: i32, month: u32, day: u32, seq: u32) -> Result<Self, IncidentNumberError> {
        if !(1000..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return Err(IncidentNumberError::BadDate { year, month, day });
        }
        if !(1..=999_999).contains(&seq) {
            return Err(IncidentNumberError::SeqOutOfRange { seq });
        }
        Ok(IncidentNumber {
            year,
            month,
            day,
            seq,
        })
    }

    /// Number for a call received at `at`, dated in the local time zone given as
    /// minutes east of UTC (China: 480).
    pub fn for_time(
        at: Timestamp,
        utc_offset_min: i32,
        seq: u32,
    ) -> Result<Self, IncidentNumberError> {
        let (y, m, d, ..) = at.plus_secs(i64::from(utc_offset_min) * 60).to_civil_utc();
        IncidentNumber::new(y, m, d, seq)
    }

    pub fn date(&self) -> (i32, u32, u32) {
        (self.year, self.month, self.day)
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }
}

impl fmt::Display for IncidentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "JQ{:04}{:02}{:02}{:06}",
            self.year, self.month, self.day, self.seq
        )
    }
}

impl FromStr for IncidentNumber {
    type Err = IncidentNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || IncidentNumberError::Malformed {
            value: s.to_string(),
        };
        let digits = s.strip_prefix("JQ").ok_or_else(malformed)?;
        if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let num = |r: std::ops::Range<usize>| digits[r].parse::<u32>().map_err(|_| malformed());
        IncidentNumber::new(num(0..4)? as i32, num(4..6)?, num(6..8)?, num(8..14)?)
    }
}

/// Channel a call arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Tel110,
    Hotline12345,
    Fire119,
    Ems120,
    App,
    Sms,
    Partner,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Tel110,
        Channel::Hotline12345,
        Channel::Fire119,
        Channel::Ems120,
        Channel::App,
        Channel::Sms,
        Channel::Partner,
    ];

    /// Wire code: `110`, `12345`, `119`, `120`, `app`, `sms`, `partner`.
    pub fn code(self) -> &'static str {
        match self {
            Channel::Tel110 => "110",
            Channel::Hotline12345 => "12345",
            Channel::Fire119 => "119",
            Channel::Ems120 => "120",
            Channel::App => "app",
            Channel::Sms => "sms",
            Channel::Partner => "partner",
        }
    }

    pub fn from_code(code: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// Lifecycle states of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentState {
    Created,
    Classified,
    /// Handed entirely to partner agencies (一键分流); police do not attend.
    Diverted,
    Dispatched,
    Acknowledged,
    EnRoute,
    OnScene,
    Cleared,
    Closed,
}

impl IncidentState {
    pub fn code(self) -> &'static str {
        match self {
            IncidentState::Created => "created",
            IncidentState::Classified => "classified",
            IncidentState::Diverted => "diverted",
            IncidentState::Dispatched => "dispatched",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::EnRoute => "en_route",
            IncidentState::OnScene => "on_scene",
            IncidentState::Cleared => "cleared",
            IncidentState::Closed => "closed",
        }
    }

    /// Whether units are committed (between dispatch and clearance).
    pub fn is_active_response(self) -> bool {
        matches!(
            self,
            IncidentState::Dispatched
                | IncidentState::Acknowledged
                | IncidentState::EnRoute
                | IncidentState::OnScene
        )
    }

    /// Rank along the response path, so per-unit progress only moves the
    /// incident forward.
    fn progress(self) -> u8 {
        match self {
            IncidentState::Created => 0,
            IncidentState::Classified => 1,
            IncidentState::Diverted => 2,
            IncidentState::Dispatched => 3,
            IncidentState::Acknowledged => 4,
            IncidentState::EnRoute => 5,
            IncidentState::OnScene => 6,
            IncidentState::Cleared => 7,
            IncidentState::Closed => 8,
        }
    }
}

impl fmt::Display for IncidentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How an incident ended (处警结果).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Handled on scene (现场处置).
    Resolved,
    /// Turned into a criminal or administrative case (立案) with its case number.
    CaseOpened { case_no: String },
    /// Mediated to agreement (调解成功).
    Mediated,
    /// Nothing found on arrival (到场未见).
    NoFinding,
    /// False or malicious report (虚假报警).
    FalseReport,
    /// Completed by a partner agency after diversion.
    HandledByPartner,
    /// Merged into another incident (duplicate call).
    Duplicate { of: String },
    /// Anything else, with the officer's wording.
    Other { text: String },
}

impl Disposition {
    pub fn code(&self) -> &'static str {
        match self {
            Disposition::Resolved => "resolved",
            Disposition::CaseOpened { .. } => "case_opened",
            Disposition::Mediated => "mediated",
            Disposition::NoFinding => "no_finding",
            Disposition::FalseReport => "false_report",
            Disposition::HandledByPartner => "handled_by_partner",
            Disposition::Duplicate { .. } => "duplicate",
            Disposition::Other { .. } => "other",
        }
    }
}

/// Command level of an org node, for escalation (三级指挥).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommandLevel {
    Station,
    District,
    City,
}

impl CommandLevel {
    pub fn code(self) -> &'static str {
        match self {
            CommandLevel::Station => "station",
            CommandLevel::District => "district",
            CommandLevel::City => "city",
        }
    }
}

/// What happened, as recorded on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimelineKind {
    Created,
    Classified,
    Diverted,
    Dispatched,
    Acknowledged,
    EnRoute,
    Arrived,
    UnitCleared,
    Cleared,
    Closed,
    Transferred,
    Escalated,
    Reopened,
    UnitCancelled,
    CallMerged,
}

impl TimelineKind {
    pub fn code(self) -> &'static str {
        match self {
            TimelineKind::Created => "created",
            TimelineKind::Classified => "classified",
            TimelineKind::Diverted => "diverted",
            TimelineKind::Dispatched => "dispatched",
            TimelineKind::Acknowledged => "acknowledged",
            TimelineKind::EnRoute => "en_route",
            TimelineKind::Arrived => "arrived",
            TimelineKind::UnitCleared => "unit_cleared",
            TimelineKind::Cleared => "cleared",
            TimelineKind::Closed => "closed",
            TimelineKind::Transferred => "transferred",
            TimelineKind::Escalated => "escalated",
            TimelineKind::Reopened => "reopened",
            TimelineKind::UnitCancelled => "unit_cancelled",
            TimelineKind::CallMerged => "call_merged",
        }
    }
}

/// One line of an incident's timeline; the server persists it and publishes it
/// as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: TimelineKind,
    /// User id, unit id or `system`.
    pub actor: String,
    /// Human-readable detail (Chinese or English), e.g. the unit, the reason.
    pub detail: String,
    /// Unit concerned, for unit-level entries.
    pub unit_id: Option<String>,
}

/// Requested actions, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentAction {
    Classify,
    Divert,
    Dispatch,
    Acknowledge,
    EnRoute,
    Arrive,
    ClearUnit,
    CancelUnit,
    Clear,
    Close,
    Transfer,
    Escalate,
    Reopen,
    MergeCall,
}

/// Errors from incident transitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    #[error("cannot {action:?} an incident in state {from}")]
    IllegalTransition {
        from: IncidentState,
        action: IncidentAction,
    },
    #[error("unit {unit_id:?} is not assigned to this incident")]
    UnitNotAssigned { unit_id: String },
    #[error("unit {unit_id:?} is already assigned to this incident")]
    UnitAlreadyAssigned { unit_id: String },
    #[error("unit {unit_id:?} cannot {action:?} from its assignment stage {stage}")]
    IllegalUnitStep {
        unit_id: String,
        action: IncidentAction,
        stage: &'static str,
    },
    #[error("no units given to dispatch")]
    NoUnits,
    #[error("diversion needs at least one partner")]
    NoPartners,
    #[error("{field} must not be empty")]
    EmptyField { field: &'static str },
    #[error("transfer target {org:?} is the current responsible org")]
    TransferToSelf { org: String },
    #[error("cannot escalate from {from:?} to {to:?}: not higher")]
    NotHigherLevel {
        from: CommandLevel,
        to: CommandLevel,
    },
    #[error("reopen window of {window_s} s after closing has passed")]
    ReopenWindowPassed { window_s: i64 },
    #[error("time {at} is earlier than the last timeline entry {last}")]
    TimeWentBackwards { at: i64, last: i64 },
    #[error("stored incident is inconsistent: {what}")]
    InconsistentSnapshot { what: &'static str },
}

impl IncidentError {
    /// Input field the error is about, for the API's error shape.
    pub fn field(&self) -> &'static str {
        match self {
            IncidentError::IllegalTransition { .. } => "state",
            IncidentError::UnitNotAssigned { .. }
            | IncidentError::UnitAlreadyAssigned { .. }
            | IncidentError::IllegalUnitStep { .. }
            | IncidentError::NoUnits => "unit_ids",
            IncidentError::NoPartners => "partners",
            IncidentError::EmptyField { field } => field,
            IncidentError::TransferToSelf { .. } => "org_id",
            IncidentError::NotHigherLevel { .. } => "level",
            IncidentError::ReopenWindowPassed { .. } => "closed_at",
            IncidentError::TimeWentBackwards { .. } => "at",
            IncidentError::InconsistentSnapshot { .. } => "snapshot",
        }
    }
}

/// A unit's progress on this incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub unit_id: String,
    pub dispatched_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub en_route_at: Option<Timestamp>,
    pub arrived_at: Option<Timestamp>,
    pub cleared_at: Option<Timestamp>,
    /// Dispatch withdrawn (e.g. escalated to another unit) before arrival.
    pub cancelled_at: Option<Timestamp>,
}

impl Assignment {
    fn stage(&self) -> &'static str {
        if self.cancelled_at.is_some() {
            "cancelled"
        } else if self.cleared_at.is_some() {
            "cleared"
        } else if self.arrived_at.is_some() {
            "on_scene"
        } else if self.en_route_at.is_some() {
            "en_route"
        } else if self.acknowledged_at.is_some() {
            "acknowledged"
        } else {
            "dispatched"
        }
    }

    /// Still committed to the incident.
    pub fn is_active(&self) -> bool {
        self.cancelled_at.is_none() && self.cleared_at.is_none()
    }
}

/// Rules for reopening closed incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReopenPolicy {
    /// How long after closing an incident may be reopened (then a new incident
    /// must be created instead).
    pub window_s: i64,
}

impl Default for ReopenPolicy {
    fn default() -> Self {
        ReopenPolicy {
            window_s: 72 * 3600,
        }
    }
}

/// Every field of an incident, for persistence: the store saves it and
/// [`Incident::from_snapshot`] restores it after checking it is consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentSnapshot {
    pub number: IncidentNumber,
    pub state: IncidentState,
    pub type_code: Option<String>,
    pub priority: Option<Priority>,
    pub org_id: String,
    pub command_level: CommandLevel,
    pub partners: Vec<Partner>,
    pub assignments: Vec<Assignment>,
    pub disposition: Option<Disposition>,
    pub closed_at: Option<Timestamp>,
    pub merged_calls: u32,
    pub timeline: Vec<TimelineEntry>,
}

/// An incident and its full history. Fields are private: the state machine is
/// the only way to change them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    number: IncidentNumber,
    state: IncidentState,
    type_code: Option<String>,
    priority: Option<Priority>,
    org_id: String,
    command_level: CommandLevel,
    partners: Vec<Partner>,
    assignments: Vec<Assignment>,
    disposition: Option<Disposition>,
    closed_at: Option<Timestamp>,
    merged_calls: u32,
    timeline: Vec<TimelineEntry>,
}

impl Incident {
    /// A new incident from a call, owned by the station `org_id`.
    pub fn create(
        number: IncidentNumber,
        org_id: &str,
        at: Timestamp,
        actor: &str,
        summary: &str,
    ) -> Result<Incident, IncidentError> {
        if org_id.trim().is_empty() {
            return Err(IncidentError::EmptyField { field: "org_id" });
        }
        let mut inc = Incident {
            number,
            state: IncidentState::Created,
            type_code: None,
            priority: None,
            org_id: org_id.to_string(),
            command_level: CommandLevel::Station,
            partners: Vec::new(),
            assignments: Vec::new(),
            disposition: None,
            closed_at: None,
            merged_calls: 0,
            timeline: Vec::new(),
        };
        inc.push(at, TimelineKind::Created, actor, summary.to_string(), None);
        Ok(inc)
    }

    pub fn number(&self) -> IncidentNumber {
        self.number
    }
    pub fn state(&self) -> IncidentState {
        self.state
    }
    pub fn type_code(&self) -> Option<&str> {
        self.type_code.as_deref()
    }
    pub fn priority(&self) -> Option<Priority> {
        self.priority
    }
    pub fn org_id(&self) -> &str {
        &self.org_id
    }
    pub fn command_level(&self) -> CommandLevel {
        self.command_level
    }
    pub fn partners(&self) -> &[Partner] {
        &self.partners
    }
    pub fn assignments(&self) -> &[Assignment] {
        &self.assignments
    }
    pub fn disposition(&self) -> Option<&Disposition> {
        self.disposition.as_ref()
    }
    pub fn closed_at(&self) -> Option<Timestamp> {
        self.closed_at
    }
    pub fn merged_calls(&self) -> u32 {
        self.merged_calls
    }
    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.timeline
    }
    /// Time of the first timeline entry (the call).
    pub fn created_at(&self) -> Timestamp {
        self.timeline[0].at
    }

    /// All fields, for persistence.
    pub fn snapshot(&self) -> IncidentSnapshot {
        IncidentSnapshot {
            number: self.number,
            state: self.state,
            type_code: self.type_code.clone(),
            priority: self.priority,
            org_id: self.org_id.clone(),
            command_level: self.command_level,
            partners: self.partners.clone(),
            assignments: self.assignments.clone(),
            disposition: self.disposition.clone(),
            closed_at: self.closed_at,
            merged_calls: self.merged_calls,
            timeline: self.timeline.clone(),
        }
    }

    /// Restores a persisted incident, refusing snapshots that the state machine
    /// could not have produced (so a corrupted row cannot smuggle in a state).
    pub fn from_snapshot(s: IncidentSnapshot) -> Result<Incident, IncidentError> {
        let corrupt = |what: &'static str| IncidentError::InconsistentSnapshot { what };
        if s.timeline.first().map(|e| e.kind) != Some(TimelineKind::Created) {
            return Err(corrupt("timeline must start with created"));
        }
        if !s.timeline.windows(2).all(|w| w[0].at <= w[1].at) {
            return Err(corrupt("timeline out of order"));
        }
        if s.org_id.trim().is_empty() {
            return Err(IncidentError::EmptyField { field: "org_id" });
        }
        if s.state != IncidentState::Created && (s.type_code.is_none() || s.priority.is_none()) {
            return Err(corrupt("classified incident without type or priority"));
        }
        if (s.state == IncidentState::Closed) != (s.closed_at.is_some() && s.disposition.is_some())
        {
            return Err(corrupt(
                "closed_at and disposition must be set exactly when closed",
            ));
        }
        let active = s.assignments.iter().filter(|a| a.is_active()).count();
        if s.state.is_active_response() != (active > 0) {
            return Err(corrupt(
                "active assignments must match an active response state",
            ));
        }
        Ok(Incident {
            number: s.number,
            state: s.state,
            type_code: s.type_code,
            priority: s.priority,
            org_id: s.org_id,
            command_level: s.command_level,
            partners: s.partners,
            assignments: s.assignments,
            disposition: s.disposition,
            closed_at: s.closed_at,
            merged_calls: s.merged_calls,
            timeline: s.timeline,
        })
    }

    fn push(
        &mut self,
        at: Timestamp,
        kind: TimelineKind,
        actor: &str,
        detail: String,
        unit_id: Option<&str>,
    ) -> TimelineEntry {
        let entry = TimelineEntry {
            at,
            kind,
            actor: actor.to_string(),
            detail,
            unit_id: unit_id.map(str::to_string),
        };
        self.timeline.push(entry.clone());
        entry
    }

    fn check_time(&self, at: Timestamp) -> Result<(), IncidentError> {
        match self.timeline.last() {
            Some(last) if at < last.at => Err(IncidentError::TimeWentBackwards {
                at: at.millis(),
                last: last.at.millis(),
            }),
            _ => Ok(()),
        }
    }

    fn illegal(&self, action: IncidentAction) -> IncidentError {
        IncidentError::IllegalTransition {
            from: self.state,
            action,
        }
    }

    /// Sets (or, before dispatch, corrects) type and priority.
    pub fn classify(
        &mut self,
        type_code: &str,
        priority: Priority,
        at: Timestamp,
        actor: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        // Reclassification stays possible while units respond: call takers
        // often learn more after the first dispatch.
        let ok = matches!(
            self.state,
            IncidentState::Created | IncidentState::Classified
        ) || self.state.is_active_response();
        if !ok {
            return Err(self.illegal(IncidentAction::Classify));
        }
        if type_code.trim().is_empty() {
            return Err(IncidentError::EmptyField { field: "type_code" });
        }
        self.type_code = Some(type_code.to_string());
        self.priority = Some(priority);
        if self.state == IncidentState::Created {
            self.state = IncidentState::Classified;
        }
        Ok(self.push(
            at,
            TimelineKind::Classified,
            actor,
            format!("{type_code} {priority}"),
            None,
        ))
    }

    /// Hands the incident to partner agencies without a police response.
    pub fn divert(
        &mut self,
        partners: &[Partner],
        at: Timestamp,
        actor: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        if self.state != IncidentState::Classified {
            return Err(self.illegal(IncidentAction::Divert));
        }
        if partners.is_empty() {
            return Err(IncidentError::NoPartners);
        }
        self.partners = partners.to_vec();
        self.state = IncidentState::Diverted;
        let names: Vec<&str> = partners.iter().map(|p| p.code()).collect();
        Ok(self.push(at, TimelineKind::Diverted, actor, names.join(","), None))
    }

    /// Records partners informed alongside a police response (joint incidents)
    /// without changing the state.
    pub fn add_partners(&mut self, partners: &[Partner]) {
        for p in partners {
            if !self.partners.contains(p) {
                self.partners.push(*p);
            }
        }
    }

    /// Assigns one or more units in one action (一键派警). Allowed from
    /// classified, and as reinforcement while a response is active.
    pub fn dispatch(
        &mut self,
        unit_ids: &[&str],
        at: Timestamp,
        actor: &str,
    ) -> Result<Vec<TimelineEntry>, IncidentError> {
        self.check_time(at)?;
        if !(self.state == IncidentState::Classified || self.state.is_active_response()) {
            return Err(self.illegal(IncidentAction::Dispatch));
        }
        if unit_ids.is_empty() {
            return Err(IncidentError::NoUnits);
        }
        for (i, u) in unit_ids.iter().enumerate() {
            if u.trim().is_empty() {
                return Err(IncidentError::EmptyField { field: "unit_id" });
            }
            if self
                .assignments
                .iter()
                .any(|a| a.unit_id == *u && a.is_active())
                || unit_ids[..i].contains(u)
            {
                return Err(IncidentError::UnitAlreadyAssigned {
                    unit_id: u.to_string(),
                });
            }
        }
        let mut out = Vec::new();
        for u in unit_ids {
            self.assignments.push(Assignment {
                unit_id: u.to_string(),
                dispatched_at: at,
                acknowledged_at: None,
                en_route_at: None,
                arrived_at: None,
                cleared_at: None,
                cancelled_at: None,
            });
            out.push(self.push(at, TimelineKind::Dispatched, actor, u.to_string(), Some(u)));
        }
        if self.state == IncidentState::Classified {
            self.state = IncidentState::Dispatched;
        }
        Ok(out)
    }

    fn active_assignment(&mut self, unit_id: &str) -> Result<usize, IncidentError> {
        self.assignments
            .iter()
            .rposition(|a| a.unit_id == unit_id && a.is_active())
            .ok_or_else(|| IncidentError::UnitNotAssigned {
                unit_id: unit_id.to_string(),
            })
    }

    fn advance(&mut self, to: IncidentState) {
        if to.progress() > self.state.progress() {
            self.state = to;
        }
    }

    fn unit_step(
        &mut self,
        unit_id: &str,
        action: IncidentAction,
        at: Timestamp,
    ) -> Result<(), IncidentError> {
        self.check_time(at)?;
        if !self.state.is_active_response() {
            return Err(self.illegal(action));
        }
        let i = self.active_assignment(unit_id)?;
        let a = &mut self.assignments[i];
        let stage = a.stage();
        let allowed = match action {
            IncidentAction::Acknowledge => stage == "dispatched",
            IncidentAction::EnRoute => matches!(stage, "dispatched" | "acknowledged"),
            IncidentAction::Arrive => matches!(stage, "dispatched" | "acknowledged" | "en_route"),
            IncidentAction::ClearUnit => stage == "on_scene",
            IncidentAction::CancelUnit => stage != "on_scene",
            _ => false,
        };
        if !allowed {
            return Err(IncidentError::IllegalUnitStep {
                unit_id: unit_id.to_string(),
                action,
                stage,
            });
        }
        match action {
            IncidentAction::Acknowledge => a.acknowledged_at = Some(at),
            IncidentAction::EnRoute => {
                // Moving implies acknowledgement.
                a.acknowledged_at.get_or_insert(at);
                a.en_route_at = Some(at);
            }
            IncidentAction::Arrive => {
                a.acknowledged_at.get_or_insert(at);
                a.arrived_at = Some(at);
            }
            IncidentAction::ClearUnit => a.cleared_at = Some(at),
            IncidentAction::CancelUnit => a.cancelled_at = Some(at),
            _ => unreachable!("filtered by `allowed` above"),
        }
        Ok(())
    }

    /// The unit confirmed the dispatch (接警确认).
    pub fn acknowledge(
        &mut self,
        unit_id: &str,
        at: Timestamp,
    ) -> Result<TimelineEntry, IncidentError> {
        self.unit_step(unit_id, IncidentAction::Acknowledge, at)?;
        self.advance(IncidentState::Acknowledged);
        Ok(self.push(
            at,
            TimelineKind::Acknowledged,
            unit_id,
            String::new(),
            Some(unit_id),
        ))
    }

    pub fn en_route(
        &mut self,
        unit_id: &str,
        at: Timestamp,
    ) -> Result<TimelineEntry, IncidentError> {
        self.unit_step(unit_id, IncidentAction::EnRoute, at)?;
        self.advance(IncidentState::EnRoute);
        Ok(self.push(
            at,
            TimelineKind::EnRoute,
            unit_id,
            String::new(),
            Some(unit_id),
        ))
    }

    /// The unit is on scene (到达现场).
    pub fn arrive(&mut self, unit_id: &str, at: Timestamp) -> Result<TimelineEntry, IncidentError> {
        self.unit_step(unit_id, IncidentAction::Arrive, at)?;
        self.advance(IncidentState::OnScene);
        Ok(self.push(
            at,
            TimelineKind::Arrived,
            unit_id,
            String::new(),
            Some(unit_id),
        ))
    }

    /// One unit leaves the scene. When it was the last committed unit the
    /// incident is cleared too, and a `cleared` entry follows.
    pub fn clear_unit(
        &mut self,
        unit_id: &str,
        at: Timestamp,
    ) -> Result<Vec<TimelineEntry>, IncidentError> {
        self.unit_step(unit_id, IncidentAction::ClearUnit, at)?;
        let mut out = vec![self.push(
            at,
            TimelineKind::UnitCleared,
            unit_id,
            String::new(),
            Some(unit_id),
        )];
        if !self.assignments.iter().any(Assignment::is_active) {
            self.state = IncidentState::Cleared;
            out.push(self.push(
                at,
                TimelineKind::Cleared,
                unit_id,
                "last unit cleared".to_string(),
                None,
            ));
        }
        Ok(out)
    }

    /// Withdraws a dispatch before arrival (escalation to another unit, or the
    /// unit is needed elsewhere).
    pub fn cancel_unit(
        &mut self,
        unit_id: &str,
        at: Timestamp,
        actor: &str,
        reason: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.unit_step(unit_id, IncidentAction::CancelUnit, at)?;
        // With no committed unit left the incident falls back to awaiting dispatch.
        if !self.assignments.iter().any(Assignment::is_active) {
            self.state = IncidentState::Classified;
        }
        Ok(self.push(
            at,
            TimelineKind::UnitCancelled,
            actor,
            reason.to_string(),
            Some(unit_id),
        ))
    }

    /// The scene is cleared: requires a unit to have arrived; every still-active
    /// assignment is cleared with it.
    pub fn clear(
        &mut self,
        at: Timestamp,
        actor: &str,
        note: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        if self.state != IncidentState::OnScene {
            return Err(self.illegal(IncidentAction::Clear));
        }
        for a in self.assignments.iter_mut().filter(|a| a.is_active()) {
            if a.arrived_at.is_some() {
                a.cleared_at = Some(at);
            } else {
                a.cancelled_at = Some(at);
            }
        }
        self.state = IncidentState::Cleared;
        Ok(self.push(at, TimelineKind::Cleared, actor, note.to_string(), None))
    }

    /// Closes with a disposition: from cleared, or from diverted once the partner
    /// has finished.
    pub fn close(
        &mut self,
        disposition: Disposition,
        at: Timestamp,
        actor: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        let ok = match (&self.state, &disposition) {
            (IncidentState::Cleared, _) => true,
            (IncidentState::Diverted, Disposition::HandledByPartner) => true,
            // A duplicate or false report may be closed before anyone attends.
            (
                IncidentState::Created | IncidentState::Classified,
                Disposition::Duplicate { .. } | Disposition::FalseReport,
            ) => true,
            _ => false,
        };
        if !ok {
            return Err(self.illegal(IncidentAction::Close));
        }
        let detail = match &disposition {
            Disposition::CaseOpened { case_no } => format!("case_opened {case_no}"),
            Disposition::Duplicate { of } => format!("duplicate of {of}"),
            Disposition::Other { text } => format!("other: {text}"),
            d => d.code().to_string(),
        };
        self.disposition = Some(disposition);
        self.closed_at = Some(at);
        self.state = IncidentState::Closed;
        Ok(self.push(at, TimelineKind::Closed, actor, detail, None))
    }

    /// Moves responsibility to another org node (station, district or city),
    /// with a reason. Not possible once closed.
    pub fn transfer(
        &mut self,
        to_org: &str,
        to_level: CommandLevel,
        reason: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        if self.state == IncidentState::Closed {
            return Err(self.illegal(IncidentAction::Transfer));
        }
        if to_org.trim().is_empty() {
            return Err(IncidentError::EmptyField { field: "org_id" });
        }
        if reason.trim().is_empty() {
            return Err(IncidentError::EmptyField { field: "reason" });
        }
        if to_org == self.org_id {
            return Err(IncidentError::TransferToSelf {
                org: to_org.to_string(),
            });
        }
        let detail = format!("{} -> {to_org}: {reason}", self.org_id);
        self.org_id = to_org.to_string();
        self.command_level = to_level;
        Ok(self.push(at, TimelineKind::Transferred, actor, detail, None))
    }

    /// Raises command to a higher level (station → district → city) while the
    /// responsible org stays; used by the escalation policy and by supervisors.
    pub fn escalate(
        &mut self,
        to: CommandLevel,
        reason: &str,
        at: Timestamp,
        actor: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        if matches!(self.state, IncidentState::Closed | IncidentState::Cleared) {
            return Err(self.illegal(IncidentAction::Escalate));
        }
        if to <= self.command_level {
            return Err(IncidentError::NotHigherLevel {
                from: self.command_level,
                to,
            });
        }
        if reason.trim().is_empty() {
            return Err(IncidentError::EmptyField { field: "reason" });
        }
        let detail = format!("{} -> {}: {reason}", self.command_level.code(), to.code());
        self.command_level = to;
        Ok(self.push(at, TimelineKind::Escalated, actor, detail, None))
    }

    /// Reopens an incident: a closed one within the policy window (new
    /// information, complaint), or a diverted one coming back to 110 (回流). The
    /// incident returns to `classified`, ready for dispatch.
    pub fn reopen(
        &mut self,
        reason: &str,
        policy: ReopenPolicy,
        at: Timestamp,
        actor: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        if reason.trim().is_empty() {
            return Err(IncidentError::EmptyField { field: "reason" });
        }
        match self.state {
            IncidentState::Closed => {
                let closed = self.closed_at.expect("closed incidents have closed_at");
                if at.millis() - closed.millis() > policy.window_s * 1000 {
                    return Err(IncidentError::ReopenWindowPassed {
                        window_s: policy.window_s,
                    });
                }
            }
            IncidentState::Diverted | IncidentState::Cleared => {}
            _ => return Err(self.illegal(IncidentAction::Reopen)),
        }
        self.state = IncidentState::Classified;
        self.disposition = None;
        self.closed_at = None;
        Ok(self.push(at, TimelineKind::Reopened, actor, reason.to_string(), None))
    }

    /// Attaches a further call about the same event (duplicate merge).
    pub fn merge_call(
        &mut self,
        at: Timestamp,
        actor: &str,
        summary: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        self.check_time(at)?;
        if self.state == IncidentState::Closed {
            return Err(self.illegal(IncidentAction::MergeCall));
        }
        self.merged_calls += 1;
        Ok(self.push(
            at,
            TimelineKind::CallMerged,
            actor,
            summary.to_string(),
            None,
        ))
    }

    /// Time of the first dispatch, if any.
    pub fn first_dispatch_at(&self) -> Option<Timestamp> {
        self.assignments.iter().map(|a| a.dispatched_at).min()
    }

    /// Time the first unit arrived, if any.
    pub fn first_arrival_at(&self) -> Option<Timestamp> {
        self.assignments.iter().filter_map(|a| a.arrived_at).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(1_790_000_000 + s)
    }

    fn new_incident() -> Incident {
        let n = IncidentNumber::new(2026, 11, 24, 123).unwrap();
        Incident::create(n, "station-1", t(0), "taker-7", "电动车被偷").unwrap()
    }

    #[test]
    fn number_formats_and_parses() {
        let n = IncidentNumber::new(2026, 11, 24, 123).unwrap();
        assert_eq!(n.to_string(), "JQ20261124000123");
        assert_eq!("JQ20261124000123".parse::<IncidentNumber>().unwrap(), n);
        assert!(matches!(
            "JQ2026112400012".parse::<IncidentNumber>(),
            Err(IncidentNumberError::Malformed { .. })
        ));
        assert_eq!(
            IncidentNumber::new(2026, 2, 29, 1),
            Err(IncidentNumberError::BadDate {
                year: 2026,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            IncidentNumber::new(2026, 1, 1, 0),
            Err(IncidentNumberError::SeqOutOfRange { seq: 0 })
        );
        // 2026-11-23 20:30 UTC is already 24 Nov in Beijing.
        let at = Timestamp::from_civil_utc(2026, 11, 23, 20, 30, 0);
        assert_eq!(
            IncidentNumber::for_time(at, 480, 7).unwrap().to_string(),
            "JQ20261124000007"
        );
    }

    #[test]
    fn full_lifecycle_records_timeline() {
        let mut inc = new_incident();
        inc.classify("criminal.theft", Priority::P2, t(20), "taker-7")
            .unwrap();
        inc.dispatch(&["car-1", "car-2"], t(45), "taker-7").unwrap();
        assert_eq!(inc.state(), IncidentState::Dispatched);
        inc.acknowledge("car-1", t(60)).unwrap();
        inc.en_route("car-1", t(70)).unwrap();
        inc.en_route("car-2", t(75)).unwrap();
        inc.arrive("car-2", t(400)).unwrap();
        inc.arrive("car-1", t(420)).unwrap();
        assert_eq!(inc.state(), IncidentState::OnScene);
        inc.clear_unit("car-2", t(900)).unwrap();
        inc.clear(t(1200), "car-1", "已处置").unwrap();
        inc.close(Disposition::Resolved, t(1300), "car-1").unwrap();
        assert_eq!(inc.state(), IncidentState::Closed);
        assert_eq!(inc.first_dispatch_at(), Some(t(45)));
        assert_eq!(inc.first_arrival_at(), Some(t(400)));
        let kinds: Vec<&str> = inc.timeline().iter().map(|e| e.kind.code()).collect();
        assert_eq!(
            kinds,
            [
                "created",
                "classified",
                "dispatched",
                "dispatched",
                "acknowledged",
                "en_route",
                "en_route",
                "arrived",
                "arrived",
                "unit_cleared",
                "cleared",
                "closed"
            ]
        );
        assert_eq!(inc.assignments()[0].cleared_at, Some(t(1200)));
        assert_eq!(inc.assignments()[1].acknowledged_at, Some(t(75)));
    }

    #[test]
    fn illegal_transitions_are_refused_without_change() {
        let mut inc = new_incident();
        let before = inc.clone();
        assert_eq!(
            inc.dispatch(&["car-1"], t(5), "x"),
            Err(IncidentError::IllegalTransition {
                from: IncidentState::Created,
                action: IncidentAction::Dispatch
            })
        );
        assert_eq!(
            inc.close(Disposition::Resolved, t(5), "x"),
            Err(IncidentError::IllegalTransition {
                from: IncidentState::Created,
                action: IncidentAction::Close
            })
        );
        assert_eq!(inc, before);
        inc.classify("noise", Priority::P4, t(10), "x").unwrap();
        inc.dispatch(&["car-1"], t(20), "x").unwrap();
        assert_eq!(
            inc.acknowledge("car-9", t(30)),
            Err(IncidentError::UnitNotAssigned {
                unit_id: "car-9".into()
            })
        );
        assert_eq!(
            inc.dispatch(&["car-1"], t(30), "x"),
            Err(IncidentError::UnitAlreadyAssigned {
                unit_id: "car-1".into()
            })
        );
        assert_eq!(
            inc.clear(t(30), "x", ""),
            Err(IncidentError::IllegalTransition {
                from: IncidentState::Dispatched,
                action: IncidentAction::Clear
            })
        );
        inc.arrive("car-1", t(40)).unwrap();
        assert_eq!(
            inc.acknowledge("car-1", t(41)),
            Err(IncidentError::IllegalUnitStep {
                unit_id: "car-1".into(),
                action: IncidentAction::Acknowledge,
                stage: "on_scene"
            })
        );
        assert_eq!(
            inc.divert(&[Partner::Hotline12345], t(42), "x"),
            Err(IncidentError::IllegalTransition {
                from: IncidentState::OnScene,
                action: IncidentAction::Divert
            })
        );
        assert_eq!(
            inc.arrive("car-1", t(10)),
            Err(IncidentError::TimeWentBackwards {
                at: t(10).millis(),
                last: t(40).millis()
            })
        );
    }

    #[test]
    fn divert_return_and_reopen_rules() {
        let mut inc = new_incident();
        inc.classify("non_police.utilities", Priority::P4, t(10), "x")
            .unwrap();
        inc.divert(&[Partner::Hotline12345], t(20), "x").unwrap();
        assert_eq!(inc.state(), IncidentState::Diverted);
        // 12345 sends it back as urgent (回流110).
        inc.reopen(
            "12345回流：燃气泄漏",
            ReopenPolicy::default(),
            t(600),
            "12345",
        )
        .unwrap();
        assert_eq!(inc.state(), IncidentState::Classified);
        inc.dispatch(&["car-3"], t(620), "x").unwrap();
        inc.cancel_unit("car-3", t(700), "system", "未确认，改派")
            .unwrap();
        assert_eq!(inc.state(), IncidentState::Classified);
        inc.dispatch(&["car-4"], t(701), "x").unwrap();
        inc.arrive("car-4", t(900)).unwrap();
        inc.clear(t(1000), "car-4", "").unwrap();
        inc.close(Disposition::NoFinding, t(1001), "car-4").unwrap();
        let policy = ReopenPolicy { window_s: 3600 };
        assert_eq!(
            inc.reopen("再次来电", policy, t(1001 + 3601), "x"),
            Err(IncidentError::ReopenWindowPassed { window_s: 3600 })
        );
        inc.reopen("再次来电", policy, t(1001 + 3600), "x").unwrap();
        assert_eq!(inc.disposition(), None);
    }

    #[test]
    fn snapshot_round_trip_and_validation() {
        let mut inc = new_incident();
        inc.classify("fire", Priority::P1, t(1), "x").unwrap();
        inc.dispatch(&["car-1"], t(2), "x").unwrap();
        let snap = inc.snapshot();
        assert_eq!(Incident::from_snapshot(snap.clone()).unwrap(), inc);
        let mut bad = snap.clone();
        bad.state = IncidentState::Closed;
        assert!(matches!(
            Incident::from_snapshot(bad),
            Err(IncidentError::InconsistentSnapshot { .. })
        ));
        let mut bad = snap;
        bad.assignments.clear();
        assert_eq!(
            Incident::from_snapshot(bad),
            Err(IncidentError::InconsistentSnapshot {
                what: "active assignments must match an active response state"
            })
        );
    }

    #[test]
    fn transfer_and_escalation() {
        let mut inc = new_incident();
        assert_eq!(
            inc.transfer("station-1", CommandLevel::Station, "x", t(1), "x"),
            Err(IncidentError::TransferToSelf {
                org: "station-1".into()
            })
        );
        assert_eq!(
            inc.transfer("station-2", CommandLevel::Station, " ", t(1), "x"),
            Err(IncidentError::EmptyField { field: "reason" })
        );
        let e = inc
            .transfer(
                "station-2",
                CommandLevel::Station,
                "地址属于邻辖区",
                t(2),
                "x",
            )
            .unwrap();
        assert_eq!(e.detail, "station-1 -> station-2: 地址属于邻辖区");
        inc.escalate(CommandLevel::District, "超时未确认", t(3), "system")
            .unwrap();
        assert_eq!(
            inc.escalate(CommandLevel::Station, "x", t(4), "x"),
            Err(IncidentError::NotHigherLevel {
                from: CommandLevel::District,
                to: CommandLevel::Station
            })
        );
        assert_eq!(inc.command_level(), CommandLevel::District);
        assert_eq!(inc.org_id(), "station-2");
    }
}
