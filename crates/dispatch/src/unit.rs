//! Response units: kinds (patrol car … drone), their capabilities, and the unit
//! status state machine (available → dispatched → en route → on scene → …).

use std::collections::BTreeSet;
use std::fmt;

use crate::taxonomy::Capability;

/// Kind of response unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnitKind {
    PatrolCar,
    FootPatrol,
    Motorcycle,
    /// Community grid worker (网格员): a first responder, not police.
    GridWorker,
    /// Registered volunteer (平安志愿者): a first responder, not police.
    Volunteer,
    Drone,
}

impl UnitKind {
    pub const ALL: [UnitKind; 6] = [
        UnitKind::PatrolCar,
        UnitKind::FootPatrol,
        UnitKind::Motorcycle,
        UnitKind::GridWorker,
        UnitKind::Volunteer,
        UnitKind::Drone,
    ];

    pub fn code(self) -> &'static str {
        match self {
            UnitKind::PatrolCar => "patrol_car",
            UnitKind::FootPatrol => "foot_patrol",
            UnitKind::Motorcycle => "motorcycle",
            UnitKind::GridWorker => "grid_worker",
            UnitKind::Volunteer => "volunteer",
            UnitKind::Drone => "drone",
        }
    }

    pub fn from_code(code: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            UnitKind::PatrolCar => "巡逻车",
            UnitKind::FootPatrol => "步巡",
            UnitKind::Motorcycle => "摩托巡逻",
            UnitKind::GridWorker => "网格员",
            UnitKind::Volunteer => "志愿者",
            UnitKind::Drone => "无人机",
        }
    }

    /// Grid workers and volunteers may respond first (先行处警) but are not police.
    pub fn is_first_responder(self) -> bool {
        matches!(self, UnitKind::GridWorker | UnitKind::Volunteer)
    }

    /// Capabilities a unit of this kind has unless configured otherwise.
    pub fn default_capabilities(self) -> BTreeSet<Capability> {
        use Capability::*;
        let caps: &[Capability] = match self {
            UnitKind::PatrolCar => &[LawEnforcement, TrafficControl, FirstAid, Mediation],
            UnitKind::FootPatrol => &[LawEnforcement, FirstAid, Mediation],
            UnitKind::Motorcycle => &[LawEnforcement, TrafficControl],
            UnitKind::GridWorker => &[Mediation, FirstAid],
            UnitKind::Volunteer => &[FirstAid],
            UnitKind::Drone => &[AerialSearch],
        };
        caps.iter().copied().collect()
    }
}

/// Status of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitStatus {
    Available,
    Dispatched,
    EnRoute,
    OnScene,
    /// On duty but occupied (paperwork, custody transport, refuelling).
    Busy,
    OffDuty,
}

impl UnitStatus {
    pub fn code(self) -> &'static str {
        match self {
            UnitStatus::Available => "available",
            UnitStatus::Dispatched => "dispatched",
            UnitStatus::EnRoute => "en_route",
            UnitStatus::OnScene => "on_scene",
            UnitStatus::Busy => "busy",
            UnitStatus::OffDuty => "off_duty",
        }
    }

    pub fn from_code(code: &str) -> Option<UnitStatus> {
        [
            UnitStatus::Available,
            UnitStatus::Dispatched,
            UnitStatus::EnRoute,
            UnitStatus::OnScene,
            UnitStatus::Busy,
            UnitStatus::OffDuty,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Whether `self → to` is a legal status change.
    pub fn can_become(self, to: UnitStatus) -> bool {
        use UnitStatus::*;
        matches!(
            (self, to),
            (Available, Dispatched | Busy | OffDuty)
                // Dispatch cancelled, or the unit reports progress.
                | (Dispatched, Available | EnRoute | OnScene)
                | (EnRoute, Available | OnScene)
                // Cleared, or stays occupied with follow-up work.
                | (OnScene, Available | Busy)
                | (Busy, Available | OffDuty | Dispatched)
                | (OffDuty, Available)
        )
    }

    /// The new status, or a typed error naming both ends.
    pub fn transition(self, to: UnitStatus) -> Result<UnitStatus, UnitError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(UnitError::IllegalTransition { from: self, to })
        }
    }
}

impl fmt::Display for UnitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Errors about units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("unit status cannot change from {from} to {to}")]
    IllegalTransition { from: UnitStatus, to: UnitStatus },
    #[error("unit id must not be empty")]
    EmptyId,
}

impl UnitError {
    pub fn field(&self) -> &'static str {
        match self {
            UnitError::IllegalTransition { .. } => "status",
            UnitError::EmptyId => "unit_id",
        }
    }
}

/// A unit and its current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    id: String,
    kind: UnitKind,
    capabilities: BTreeSet<Capability>,
    status: UnitStatus,
}

impl Unit {
    /// A new unit, off duty, with its kind's default capabilities.
    pub fn new(id: &str, kind: UnitKind) -> Result<Unit, UnitError> {
        Unit::with_capabilities(id, kind, kind.default_capabilities())
    }

    pub fn with_capabilities(
        id: &str,
        kind: UnitKind,
        capabilities: BTreeSet<Capability>,
    ) -> Result<Unit, UnitError> {
        if id.trim().is_empty() {
            return Err(UnitError::EmptyId);
        }
        Ok(Unit {
            id: id.to_string(),
            kind,
            capabilities,
            status: UnitStatus::OffDuty,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn kind(&self) -> UnitKind {
        self.kind
    }
    pub fn capabilities(&self) -> &BTreeSet<Capability> {
        &self.capabilities
    }
    pub fn status(&self) -> UnitStatus {
        self.status
    }

    /// Applies a status change; the unit is unchanged on error.
    pub fn set_status(&mut self, to: UnitStatus) -> Result<(), UnitError> {
        self.status = self.status.transition(to)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cycle_is_legal() {
        let mut u = Unit::new("car-1", UnitKind::PatrolCar).unwrap();
        for s in [
            UnitStatus::Available,
            UnitStatus::Dispatched,
            UnitStatus::EnRoute,
            UnitStatus::OnScene,
            UnitStatus::Busy,
            UnitStatus::Available,
            UnitStatus::OffDuty,
        ] {
            u.set_status(s).unwrap();
        }
        assert_eq!(u.status(), UnitStatus::OffDuty);
    }

    #[test]
    fn illegal_transitions_are_refused() {
        let mut u = Unit::new("car-1", UnitKind::PatrolCar).unwrap();
        assert_eq!(
            u.set_status(UnitStatus::Dispatched),
            Err(UnitError::IllegalTransition {
                from: UnitStatus::OffDuty,
                to: UnitStatus::Dispatched
            })
        );
        assert_eq!(u.status(), UnitStatus::OffDuty);
        use UnitStatus::*;
        let all = [Available, Dispatched, EnRoute, OnScene, Busy, OffDuty];
        let legal: usize = all
            .iter()
            .map(|a| all.iter().filter(|b| a.can_become(**b)).count())
            .sum();
        assert_eq!(legal, 14);
        assert!(!OnScene.can_become(OffDuty));
        assert!(!EnRoute.can_become(Dispatched));
        assert!(!Available.can_become(Available));
        assert_eq!(Unit::new(" ", UnitKind::Drone), Err(UnitError::EmptyId));
    }

    #[test]
    fn kinds_and_capabilities() {
        assert!(UnitKind::GridWorker.is_first_responder());
        assert!(!UnitKind::PatrolCar.is_first_responder());
        assert!(
            UnitKind::Drone
                .default_capabilities()
                .contains(&Capability::AerialSearch)
        );
        assert_eq!(UnitKind::from_code("volunteer"), Some(UnitKind::Volunteer));
        assert_eq!(UnitStatus::from_code("en_route"), Some(UnitStatus::EnRoute));
    }
}
