//! Escalation of unacknowledged dispatches: after a configurable time without
//! acknowledgement the dispatch moves to the next recommended unit, and when
//! those run out (or a limit is hit) the incident goes up to district command,
//! then to city command. [`escalation_step`] is a pure function of the state and
//! the clock; the server calls it from a timer and applies the returned action.

use pingan_core::Timestamp;

use crate::incident::CommandLevel;

/// Timing and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// Seconds a unit has to acknowledge before the dispatch moves on.
    pub ack_timeout_s: u32,
    /// How many times the dispatch may move to another unit before command
    /// takes over.
    pub max_redispatches: u32,
    /// Seconds district command has to act before city command is alerted.
    pub district_timeout_s: u32,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        EscalationPolicy {
            ack_timeout_s: 60,
            max_redispatches: 2,
            district_timeout_s: 180,
        }
    }
}

/// What the server should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscalationAction {
    /// Cancel `cancel_unit`'s dispatch and dispatch `next_unit` instead.
    Redispatch {
        incident_id: String,
        cancel_unit: String,
        next_unit: String,
        reason: String,
    },
    /// Hand the incident to a command level (district, then city).
    EscalateTo {
        incident_id: String,
        level: CommandLevel,
        reason: String,
    },
}

/// Escalation bookkeeping for one incident's pending dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationState {
    pub incident_id: String,
    pub policy: EscalationPolicy,
    /// Unit currently waiting to acknowledge.
    pub current_unit: String,
    pub dispatched_at: Timestamp,
    /// Remaining recommended units, best first (from the recommender).
    pub next_candidates: Vec<String>,
    /// Units already tried, in order.
    pub tried: Vec<String>,
    pub level: CommandLevel,
    pub escalated_at: Option<Timestamp>,
    pub acknowledged: bool,
}

impl EscalationState {
    /// Starts tracking after dispatching `unit` at `at`; `next_candidates` are the
    /// remaining recommendations in rank order.
    pub fn new(
        incident_id: &str,
        unit: &str,
        at: Timestamp,
        next_candidates: Vec<String>,
        policy: EscalationPolicy,
    ) -> EscalationState {
        EscalationState {
            incident_id: incident_id.to_string(),
            policy,
            current_unit: unit.to_string(),
            dispatched_at: at,
            next_candidates,
            tried: Vec::new(),
            level: CommandLevel::Station,
            escalated_at: None,
            acknowledged: false,
        }
    }

    /// Records an acknowledgement; escalation stops.
    pub fn acknowledge(&mut self, unit_id: &str) -> bool {
        if unit_id == self.current_unit {
            self.acknowledged = true;
        }
        self.acknowledged
    }

    /// When [`escalation_step`] will next return an action, if nothing changes.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        if self.acknowledged {
            return None;
        }
        match (self.level, self.escalated_at) {
            (CommandLevel::Station, _) => Some(
                self.dispatched_at
                    .plus_secs(i64::from(self.policy.ack_timeout_s)),
            ),
            (CommandLevel::District, Some(at)) => {
                Some(at.plus_secs(i64::from(self.policy.district_timeout_s)))
            }
            _ => None,
        }
    }

    /// Applies an action returned by [`escalation_step`] at `now`.
    pub fn apply(&mut self, action: &EscalationAction, now: Timestamp) {
        match action {
            EscalationAction::Redispatch { next_unit, .. } => {
                let prev = std::mem::replace(&mut self.current_unit, next_unit.clone());
                self.tried.push(prev);
                self.next_candidates.retain(|u| u != next_unit);
                self.dispatched_at = now;
            }
            EscalationAction::EscalateTo { level, .. } => {
                self.level = *level;
                self.escalated_at = Some(now);
            }
        }
    }
}

/// The action due at `now`, if any.
pub fn escalation_step(state: &EscalationState, now: Timestamp) -> Option<EscalationAction> {
    if state.acknowledged || now < state.next_deadline()? {
        return None;
    }
    match state.level {
        CommandLevel::Station => {
            let next = state
                .next_candidates
                .iter()
                .find(|u| **u != state.current_unit && !state.tried.contains(u));
            match next {
                Some(next) if (state.tried.len() as u32) < state.policy.max_redispatches => {
                    Some(EscalationAction::Redispatch {
                        incident_id: state.incident_id.clone(),
                        cancel_unit: state.current_unit.clone(),
                        next_unit: next.clone(),
                        reason: format!(
                            "{} 在{}秒内未确认，改派 {}",
                            state.current_unit, state.policy.ack_timeout_s, next
                        ),
                    })
                }
                _ => Some(EscalationAction::EscalateTo {
                    incident_id: state.incident_id.clone(),
                    level: CommandLevel::District,
                    reason: format!(
                        "{}个单位均未确认派警，升级至分局指挥",
                        state.tried.len() + 1
                    ),
                }),
            }
        }
        CommandLevel::District => Some(EscalationAction::EscalateTo {
            incident_id: state.incident_id.clone(),
            level: CommandLevel::City,
            reason: format!(
                "分局指挥{}秒内未处置，升级至市局指挥中心",
                state.policy.district_timeout_s
            ),
        }),
        CommandLevel::City => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redispatches_then_escalates_to_district_then_city() {
        let t0 = Timestamp::from_secs(1_790_000_000);
        let mut s = EscalationState::new(
            "JQ20261124000001",
            "car-1",
            t0,
            vec!["car-2".into(), "car-3".into(), "car-4".into()],
            EscalationPolicy::default(),
        );
        assert_eq!(escalation_step(&s, t0.plus_secs(59)), None);
        let a = escalation_step(&s, t0.plus_secs(60)).unwrap();
        assert_eq!(
            a,
            EscalationAction::Redispatch {
                incident_id: "JQ20261124000001".into(),
                cancel_unit: "car-1".into(),
                next_unit: "car-2".into(),
                reason: "car-1 在60秒内未确认，改派 car-2".into(),
            }
        );
        s.apply(&a, t0.plus_secs(60));
        assert_eq!(s.next_deadline(), Some(t0.plus_secs(120)));
        let a = escalation_step(&s, t0.plus_secs(121)).unwrap();
        s.apply(&a, t0.plus_secs(121));
        assert_eq!(s.current_unit, "car-3");
        assert_eq!(s.tried, ["car-1", "car-2"]);
        // max_redispatches = 2 reached: command takes over although car-4 remains.
        let a = escalation_step(&s, t0.plus_secs(181)).unwrap();
        assert!(matches!(
            a,
            EscalationAction::EscalateTo {
                level: CommandLevel::District,
                ..
            }
        ));
        s.apply(&a, t0.plus_secs(181));
        assert_eq!(escalation_step(&s, t0.plus_secs(300)), None);
        let a = escalation_step(&s, t0.plus_secs(361)).unwrap();
        assert!(matches!(
            a,
            EscalationAction::EscalateTo {
                level: CommandLevel::City,
                ..
            }
        ));
        s.apply(&a, t0.plus_secs(361));
        assert_eq!(escalation_step(&s, t0.plus_secs(10_000)), None);
    }

    #[test]
    fn acknowledgement_stops_and_no_candidates_escalates_at_once() {
        let t0 = Timestamp::from_secs(1_790_000_000);
        let mut s = EscalationState::new("i", "car-1", t0, vec![], EscalationPolicy::default());
        assert!(matches!(
            escalation_step(&s, t0.plus_secs(60)),
            Some(EscalationAction::EscalateTo {
                level: CommandLevel::District,
                ..
            })
        ));
        assert!(!s.acknowledge("car-9"));
        assert!(s.acknowledge("car-1"));
        assert_eq!(escalation_step(&s, t0.plus_secs(600)), None);
        assert_eq!(s.next_deadline(), None);
    }
}
