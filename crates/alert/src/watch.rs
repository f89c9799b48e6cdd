//! Watches (布控): what to look for, where, for how long, on what legal basis,
//! and who is told. Validation here is the gate an oversight body relies on:
//! no watch without an expiry, a legal basis, a case reference and an owner.

use std::sync::Arc;
use std::time::Duration;

use pingan_core::Timestamp;
use thiserror::Error;

use crate::area::Polygon;
use crate::ident::{IdentKind, Identifier};

/// Engine-assigned watch number (the server may restore its own via
/// [`crate::Engine::insert_watch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchId(pub u64);

impl std::fmt::Display for WatchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "W{}", self.0)
    }
}

/// Who or what is watched.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A list of identifiers (a plate, a phone, a stolen-vehicle list …).
    Identifiers(Vec<Identifier>),
    /// A resolved entity (一人一档); the caller passes the identifiers it resolved to.
    Entity {
        entity_id: String,
        identifiers: Vec<Identifier>,
    },
    /// Every identifier (optionally of one kind) seen in the scope. Only for
    /// area rules ([`Condition::Frequency`], [`Condition::FirstAppearance`]) and
    /// only with a bounded scope, never city-wide.
    AnyIdentifier { kind: Option<IdentKind> },
}

impl Target {
    /// The explicit identifiers of the target (empty for `AnyIdentifier`).
    pub fn identifiers(&self) -> &[Identifier] {
        match self {
            Target::Identifiers(v) | Target::Entity { identifiers: v, .. } => v,
            Target::AnyIdentifier { .. } => &[],
        }
    }

    pub fn entity_id(&self) -> Option<&str> {
        match self {
            Target::Entity { entity_id, .. } => Some(entity_id),
            _ => None,
        }
    }
}

/// Where a watch applies. Creating the watch applies it to every sensor in the
/// scope at once (一键布控).
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    City,
    /// Every sensor whose owning org path starts with this prefix, e.g. `/1/3/`.
    OrgSubtree(String),
    /// Every event located inside the polygon (sensor or event location).
    Area(Polygon),
    /// Exactly these sensors.
    Sensors(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeofenceTrigger {
    Enter,
    Exit,
    /// Continuously inside (every sighting since entering was inside) for at
    /// least this long, confirmed by a sighting.
    Dwell(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Companion {
    /// A watched pair: the target together with this identifier.
    Identifier(Identifier),
    /// Anyone seen together with the target (同行 discovery).
    Anyone,
}

/// A daily local-time window `[start, end)` in minutes after local midnight;
/// `start > end` wraps past midnight (22:00–06:00 is `1320..360`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalWindow {
    pub start_minute: u16,
    pub end_minute: u16,
}

impl LocalWindow {
    pub fn contains(&self, minute: u16) -> bool {
        if self.start_minute <= self.end_minute {
            (self.start_minute..self.end_minute).contains(&minute)
        } else {
            minute >= self.start_minute || minute < self.end_minute
        }
    }
}

/// What turns a sighting of the target into an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Any sighting in scope (the classic watchlist hit).
    Sighting,
    /// Entering, leaving or dwelling in an area.
    Geofence {
        area: Polygon,
        trigger: GeofenceTrigger,
    },
    /// At least `hits` sightings of one identifier within `within`.
    Frequency { hits: u32, within: Duration },
    /// The target and a companion at the same sensor within `within` of each
    /// other, `times` times inside `window` (同行/碰撞). Sightings at one
    /// sensor closer than `within` to an already counted one are one occurrence.
    CoOccurrence {
        companion: Companion,
        within: Duration,
        times: u32,
        window: Duration,
    },
    /// An identifier seen in the scope that was not seen there during the
    /// preceding `lookback`. The first `lookback` after the watch becomes
    /// active only learns, so a new rule does not flag everyone.
    FirstAppearance { lookback: Duration },
    /// No sighting in scope for `after` (an elderly resident's door). Fired by
    /// [`crate::Engine::tick`], once per silent spell.
    Silence { after: Duration },
    /// A sighting during forbidden local hours.
    Curfew {
        windows: Vec<LocalWindow>,
        utc_offset_minutes: i32,
    },
}

impl Condition {
    pub fn name(&self) -> &'static str {
        match self {
            Condition::Sighting => "sighting",
            Condition::Geofence { .. } => "geofence",
            Condition::Frequency { .. } => "frequency",
            Condition::CoOccurrence { .. } => "co_occurrence",
            Condition::FirstAppearance { .. } => "first_appearance",
            Condition::Silence { .. } => "silence",
            Condition::Curfew { .. } => "curfew",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

/// Who is notified besides the routed station and the owner.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Action {
    pub notify_orgs: Vec<String>,
    pub notify_users: Vec<String>,
}

/// Everything needed to create a watch.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSpec {
    /// Short human description shown with its alerts. (The four text fields
    /// are `Arc<str>` because thousands of watches of one operation share
    /// them; the engine interns them.)
    pub label: Arc<str>,
    pub target: Target,
    pub scope: Scope,
    pub condition: Condition,
    /// Sightings before this are ignored (a watch may be scheduled ahead).
    pub active_from: Timestamp,
    /// Optional earlier end of matching; `None` means until expiry.
    pub active_until: Option<Timestamp>,
    /// Mandatory hard end, after which the watch is dropped and its expiry reported.
    pub expires_at: Timestamp,
    /// Statute / approval document the watch rests on.
    pub legal_basis: Arc<str>,
    /// Case the watch serves.
    pub case_ref: Arc<str>,
    /// User accountable for the watch.
    pub owner: Arc<str>,
    pub priority: Priority,
    pub action: Action,
}

impl WatchSpec {
    /// When matching stops: the earlier of `active_until` and `expires_at`.
    pub fn end(&self) -> Timestamp {
        self.active_until
            .map_or(self.expires_at, |u| u.min(self.expires_at))
    }
}

/// Limits every watch must respect.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchPolicy {
    /// Longest allowed time between creation and expiry.
    pub max_duration: Duration,
    /// Most identifiers one watch may list (bulk lists are split by the caller).
    pub max_identifiers: usize,
}

impl Default for WatchPolicy {
    fn default() -> Self {
        WatchPolicy {
            max_duration: Duration::from_secs(90 * 86_400),
            max_identifiers: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WatchError {
    #[error("legal_basis is required")]
    MissingLegalBasis,
    #[error("case_ref is required")]
    MissingCaseRef,
    #[error("owner is required")]
    MissingOwner,
    #[error("expires_at {expires_at:?} is not after now {now:?}")]
    ExpiryInPast {
        expires_at: Timestamp,
        now: Timestamp,
    },
    #[error("expires_at is more than {max_days} days ahead")]
    ExpiryTooFarAhead { max_days: u64 },
    #[error("active window is empty: active_from must precede active_until and expires_at")]
    EmptyActiveWindow,
    #[error("target lists no identifiers")]
    EmptyTarget,
    #[error("target lists {count} identifiers, more than the {max} allowed")]
    TooManyIdentifiers { count: usize, max: usize },
    #[error("entity_id is empty")]
    EmptyEntityId,
    #[error("an any-identifier target is not allowed with condition {condition}")]
    AnyTargetNotAllowed { condition: &'static str },
    #[error("an any-identifier target needs a bounded scope, not the whole city")]
    AnyTargetNeedsBoundedScope,
    #[error("scope sensor list is empty")]
    EmptySensorScope,
    #[error("scope names unknown sensor {0}")]
    UnknownSensor(String),
    #[error("scope org path {0:?} must start and end with '/'")]
    BadOrgPath(String),
    #[error("condition parameter {field} is invalid: {reason}")]
    BadCondition {
        field: &'static str,
        reason: &'static str,
    },
    #[error("watch {0} already exists")]
    DuplicateId(WatchId),
    #[error("watch {0} does not exist")]
    NotFound(WatchId),
}

impl WatchError {
    /// The offending input field, for `{"error":{"field"}}` responses.
    pub fn field(&self) -> &'static str {
        match self {
            WatchError::MissingLegalBasis => "legal_basis",
            WatchError::MissingCaseRef => "case_ref",
            WatchError::MissingOwner => "owner",
            WatchError::ExpiryInPast { .. } | WatchError::ExpiryTooFarAhead { .. } => "expires_at",
            WatchError::EmptyActiveWindow => "active_from",
            WatchError::EmptyTarget
            | WatchError::TooManyIdentifiers { .. }
            | WatchError::AnyTargetNotAllowed { .. } => "target",
            WatchError::EmptyEntityId => "target.entity_id",
            WatchError::AnyTargetNeedsBoundedScope
            | WatchError::EmptySensorScope
            | WatchError::UnknownSensor(_)
            | WatchError::BadOrgPath(_) => "scope",
            WatchError::BadCondition { field, .. } => field,
            WatchError::DuplicateId(_) | WatchError::NotFound(_) => "id",
        }
    }
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Checks a spec against the policy at `now` (sensor existence is checked by
/// the engine, which knows the registry).
pub fn validate(spec: &WatchSpec, now: Timestamp, policy: &WatchPolicy) -> Result<(), WatchError> {
    if spec.legal_basis.trim().is_empty() {
        return Err(WatchError::MissingLegalBasis);
    }
    if spec.case_ref.trim().is_empty() {
        return Err(WatchError::MissingCaseRef);
    }
    if spec.owner.trim().is_empty() {
        return Err(WatchError::MissingOwner);
    }
    if spec.expires_at <= now {
        return Err(WatchError::ExpiryInPast {
            expires_at: spec.expires_at,
            now,
        });
    }
    if spec.expires_at.millis().saturating_sub(now.millis()) > ms(policy.max_duration) {
        return Err(WatchError::ExpiryTooFarAhead {
            max_days: policy.max_duration.as_secs() / 86_400,
        });
    }
    if spec.active_from >= spec.end() {
        return Err(WatchError::EmptyActiveWindow);
    }
    match &spec.target {
        Target::Identifiers(v) | Target::Entity { identifiers: v, .. } => {
            if v.is_empty() {
                return Err(WatchError::EmptyTarget);
            }
            if v.len() > policy.max_identifiers {
                return Err(WatchError::TooManyIdentifiers {
                    count: v.len(),
                    max: policy.max_identifiers,
                });
            }
            if let Target::Entity { entity_id, .. } = &spec.target
                && entity_id.trim().is_empty()
            {
                return Err(WatchError::EmptyEntityId);
            }
        }
        Target::AnyIdentifier { .. } => {
            if !matches!(
                spec.condition,
                Condition::Frequency { .. } | Condition::FirstAppearance { .. }
            ) {
                return Err(WatchError::AnyTargetNotAllowed {
                    condition: spec.condition.name(),
                });
            }
            if spec.scope == Scope::City {
                return Err(WatchError::AnyTargetNeedsBoundedScope);
            }
        }
    }
    match &spec.scope {
        Scope::Sensors(v) if v.is_empty() => return Err(WatchError::EmptySensorScope),
        Scope::OrgSubtree(p) if !(p.starts_with('/') && p.ends_with('/')) => {
            return Err(WatchError::BadOrgPath(p.clone()));
        }
        _ => {}
    }
    let bad = |field, reason| Err(WatchError::BadCondition { field, reason });
    match &spec.condition {
        Condition::Sighting => {}
        Condition::Geofence { trigger, .. } => {
            if let GeofenceTrigger::Dwell(d) = trigger
                && d.is_zero()
            {
                return bad("condition.dwell", "must be positive");
            }
        }
        Condition::Frequency { hits, within } => {
            if *hits < 2 {
                return bad("condition.hits", "must be at least 2");
            }
            if within.is_zero() {
                return bad("condition.within", "must be positive");
            }
        }
        Condition::CoOccurrence {
            companion,
            within,
            times,
            window,
        } => {
            if *times == 0 {
                return bad("condition.times", "must be at least 1");
            }
            if within.is_zero() {
                return bad("condition.within", "must be positive");
            }
            if window < within {
                return bad("condition.window", "must not be shorter than within");
            }
            if let Companion::Identifier(c) = companion
                && spec.target.identifiers().contains(c)
            {
                return bad("condition.companion", "must differ from the target");
            }
        }
        Condition::FirstAppearance { lookback } => {
            if lookback.is_zero() {
                return bad("condition.lookback", "must be positive");
            }
        }
        Condition::Silence { after } => {
            if after.is_zero() {
                return bad("condition.after", "must be positive");
            }
        }
        Condition::Curfew {
            windows,
            utc_offset_minutes,
        } => {
            if windows.is_empty() {
                return bad("condition.windows", "must not be empty");
            }
            if windows.iter().any(|w| {
                w.start_minute >= 1440 || w.end_minute >= 1440 || w.start_minute == w.end_minute
            }) {
                return bad(
                    "condition.windows",
                    "minutes must be below 1440 and start must differ from end",
                );
            }
            if utc_offset_minutes.abs() > 14 * 60 {
                return bad("condition.utc_offset_minutes", "must be within ±14 h");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(now: Timestamp) -> WatchSpec {
        WatchSpec {
            label: "stolen car".into(),
            target: Target::Identifiers(vec![
                Identifier::new(IdentKind::Plate, "川A12345").unwrap(),
            ]),
            scope: Scope::City,
            condition: Condition::Sighting,
            active_from: now,
            active_until: None,
            expires_at: now.plus_secs(7 * 86_400),
            legal_basis: "刑事诉讼法 第一百五十条".into(),
            case_ref: "A5101-2026-0042".into(),
            owner: "u:zhang.wei".into(),
            priority: Priority::High,
            action: Action::default(),
        }
    }

    #[test]
    fn mandatory_fields_are_enforced() {
        let now = Timestamp::from_secs(1_800_000_000);
        let p = WatchPolicy::default();
        assert_eq!(validate(&spec(now), now, &p), Ok(()));
        let mut s = spec(now);
        s.legal_basis = "  ".into();
        assert_eq!(validate(&s, now, &p), Err(WatchError::MissingLegalBasis));
        let mut s = spec(now);
        s.case_ref = "".into();
        assert_eq!(validate(&s, now, &p), Err(WatchError::MissingCaseRef));
        let mut s = spec(now);
        s.owner = "".into();
        assert_eq!(validate(&s, now, &p).unwrap_err().field(), "owner");
    }

    #[test]
    fn expiry_must_be_future_and_bounded() {
        let now = Timestamp::from_secs(1_800_000_000);
        let p = WatchPolicy::default();
        let mut s = spec(now);
        s.expires_at = now;
        assert_eq!(
            validate(&s, now, &p),
            Err(WatchError::ExpiryInPast {
                expires_at: now,
                now
            })
        );
        s.expires_at = now.plus_secs(91 * 86_400);
        assert_eq!(
            validate(&s, now, &p),
            Err(WatchError::ExpiryTooFarAhead { max_days: 90 })
        );
        s.expires_at = now.plus_secs(90 * 86_400);
        assert_eq!(validate(&s, now, &p), Ok(()));
        s.active_until = Some(now);
        assert_eq!(validate(&s, now, &p), Err(WatchError::EmptyActiveWindow));
    }

    #[test]
    fn any_target_is_restricted() {
        let now = Timestamp::from_secs(1_800_000_000);
        let p = WatchPolicy::default();
        let mut s = spec(now);
        s.target = Target::AnyIdentifier { kind: None };
        assert_eq!(
            validate(&s, now, &p),
            Err(WatchError::AnyTargetNotAllowed {
                condition: "sighting"
            })
        );
        s.condition = Condition::FirstAppearance {
            lookback: Duration::from_secs(86_400),
        };
        assert_eq!(
            validate(&s, now, &p),
            Err(WatchError::AnyTargetNeedsBoundedScope)
        );
        s.scope = Scope::OrgSubtree("/1/3/".into());
        assert_eq!(validate(&s, now, &p), Ok(()));
    }

    #[test]
    fn curfew_windows_wrap_midnight() {
        let w = LocalWindow {
            start_minute: 22 * 60,
            end_minute: 6 * 60,
        };
        assert!(w.contains(23 * 60));
        assert!(w.contains(0));
        assert!(w.contains(359));
        assert!(!w.contains(360));
        assert!(!w.contains(12 * 60));
    }
}
