//! Alert lifecycle: new → acknowledged → verified (a human confirms the hit)
//! → dispatched (linked to an incident) → closed with an outcome. A hit can be
//! closed as a false positive before verification; a true positive cannot be
//! recorded without a human having verified it. Every transition is kept with
//! who did it and when, so the history can be audited and logged.

use pingan_core::Timestamp;
use thiserror::Error;

use crate::engine::AlertDraft;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertStatus {
    New,
    Acknowledged,
    Verified,
    Dispatched,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::New => "new",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Verified => "verified",
            AlertStatus::Dispatched => "dispatched",
            AlertStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    TruePositive,
    FalsePositive,
}

/// A lifecycle step requested by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Acknowledge,
    Verify { note: String },
    Dispatch { incident_id: String },
    Close { outcome: Outcome, note: String },
}

impl Transition {
    pub fn name(&self) -> &'static str {
        match self {
            Transition::Acknowledge => "acknowledge",
            Transition::Verify { .. } => "verify",
            Transition::Dispatch { .. } => "dispatch",
            Transition::Close { .. } => "close",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LifecycleError {
    #[error("cannot {action} an alert that is {from:?}")]
    IllegalTransition {
        from: AlertStatus,
        action: &'static str,
    },
    #[error("a true positive must be verified by a human before closing")]
    TruePositiveNeedsVerification,
    #[error("incident_id is empty")]
    EmptyIncidentId,
    #[error("actor is empty")]
    EmptyActor,
    #[error("time {at:?} is before the previous transition at {last:?}")]
    TimeGoesBackwards { at: Timestamp, last: Timestamp },
}

impl LifecycleError {
    pub fn field(&self) -> &'static str {
        match self {
            LifecycleError::IllegalTransition { .. } => "status",
            LifecycleError::TruePositiveNeedsVerification => "outcome",
            LifecycleError::EmptyIncidentId => "incident_id",
            LifecycleError::EmptyActor => "actor",
            LifecycleError::TimeGoesBackwards { .. } => "at",
        }
    }
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub from: AlertStatus,
    pub to: AlertStatus,
    pub transition: Transition,
    pub by: String,
    pub at: Timestamp,
}

/// A persisted alert with its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: String,
    pub draft: AlertDraft,
    pub created_at: Timestamp,
    status: AlertStatus,
    incident_id: Option<String>,
    outcome: Option<Outcome>,
    history: Vec<HistoryEntry>,
}

impl Alert {
    pub fn new(id: String, draft: AlertDraft, created_at: Timestamp) -> Alert {
        Alert {
            id,
            draft,
            created_at,
            status: AlertStatus::New,
            incident_id: None,
            outcome: None,
            history: Vec::new(),
        }
    }

    pub fn status(&self) -> AlertStatus {
        self.status
    }

    pub fn incident_id(&self) -> Option<&str> {
        self.incident_id.as_deref()
    }

    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    /// Applies `tr` by `by` at `at`, or refuses it without changing anything.
    pub fn apply(
        &mut self,
        tr: Transition,
        by: &str,
        at: Timestamp,
    ) -> Result<AlertStatus, LifecycleError> {
        use AlertStatus as S;
        if by.trim().is_empty() {
            return Err(LifecycleError::EmptyActor);
        }
        if let Some(last) = self.history.last()
            && at < last.at
        {
            return Err(LifecycleError::TimeGoesBackwards { at, last: last.at });
        }
        let illegal = || LifecycleError::IllegalTransition {
            from: self.status,
            action: tr.name(),
        };
        let to = match (&tr, self.status) {
            (Transition::Acknowledge, S::New) => S::Acknowledged,
            (Transition::Verify { .. }, S::New | S::Acknowledged) => S::Verified,
            (Transition::Dispatch { incident_id }, S::Verified) => {
                if incident_id.trim().is_empty() {
                    return Err(LifecycleError::EmptyIncidentId);
                }
                S::Dispatched
            }
            (Transition::Close { outcome, .. }, S::New | S::Acknowledged) => {
                if *outcome == Outcome::TruePositive {
                    return Err(LifecycleError::TruePositiveNeedsVerification);
                }
                S::Closed
            }
            (Transition::Close { .. }, S::Verified | S::Dispatched) => S::Closed,
            _ => return Err(illegal()),
        };
        match &tr {
            Transition::Dispatch { incident_id } => self.incident_id = Some(incident_id.clone()),
            Transition::Close { outcome, .. } => self.outcome = Some(*outcome),
            _ => {}
        }
        self.history.push(HistoryEntry {
            from: self.status,
            to,
            transition: tr,
            by: by.to_string(),
            at,
        });
        self.status = to;
        Ok(to)
    }
}
