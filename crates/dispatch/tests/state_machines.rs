//! Property tests: random action sequences against the incident and unit state
//! machines never panic, refused actions change nothing, and accepted actions
//! append exactly the expected timeline entries.

use pingan_core::Timestamp;
use pingan_dispatch::incident::ReopenPolicy;
use pingan_dispatch::{
    CommandLevel, Disposition, Incident, IncidentNumber, IncidentState, Partner, Priority, Unit,
    UnitKind, UnitStatus,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Classify,
    Divert,
    Dispatch(u8),
    Ack(u8),
    EnRoute(u8),
    Arrive(u8),
    ClearUnit(u8),
    Cancel(u8),
    Clear,
    Close,
    Transfer(u8),
    Escalate(u8),
    Reopen,
    Merge,
}

fn op() -> impl Strategy<Value = Op> {
    let u = 0u8..3;
    prop_oneof![
        Just(Op::Classify),
        Just(Op::Divert),
        u.clone().prop_map(Op::Dispatch),
        u.clone().prop_map(Op::Ack),
        u.clone().prop_map(Op::EnRoute),
        u.clone().prop_map(Op::Arrive),
        u.clone().prop_map(Op::ClearUnit),
        u.clone().prop_map(Op::Cancel),
        Just(Op::Clear),
        Just(Op::Close),
        u.clone().prop_map(Op::Transfer),
        (0u8..3).prop_map(Op::Escalate),
        Just(Op::Reopen),
        Just(Op::Merge),
    ]
}

proptest! {
    #[test]
    fn incident_state_machine_is_consistent(ops in proptest::collection::vec(op(), 1..60)) {
        let t0 = Timestamp::from_secs(1_790_000_000);
        let mut inc = Incident::create(IncidentNumber::new(2026, 11, 24, 1).unwrap(), "s0", t0, "x", "").unwrap();
        for (i, op) in ops.iter().enumerate() {
            let at = t0.plus_secs(i as i64 + 1);
            let before = inc.clone();
            let unit = |n: &u8| format!("u{n}");
            let res: Result<usize, _> = match op {
                Op::Classify => inc.classify("fire", Priority::P1, at, "x").map(|_| 1),
                Op::Divert => inc.divert(&[Partner::Fire119], at, "x").map(|_| 1),
                Op::Dispatch(n) => inc.dispatch(&[&unit(n)], at, "x").map(|v| v.len()),
                Op::Ack(n) => inc.acknowledge(&unit(n), at).map(|_| 1),
                Op::EnRoute(n) => inc.en_route(&unit(n), at).map(|_| 1),
                Op::Arrive(n) => inc.arrive(&unit(n), at).map(|_| 1),
                Op::ClearUnit(n) => inc.clear_unit(&unit(n), at).map(|v| v.len()),
                Op::Cancel(n) => inc.cancel_unit(&unit(n), at, "x", "r").map(|_| 1),
                Op::Clear => inc.clear(at, "x", "").map(|_| 1),
                Op::Close => inc.close(Disposition::Resolved, at, "x").map(|_| 1),
                Op::Transfer(n) => inc.transfer(&format!("s{n}"), CommandLevel::Station, "r", at, "x").map(|_| 1),
                Op::Escalate(n) => {
                    let level = [CommandLevel::Station, CommandLevel::District, CommandLevel::City][*n as usize];
                    inc.escalate(level, "r", at, "x").map(|_| 1)
                }
                Op::Reopen => inc.reopen("r", ReopenPolicy::default(), at, "x").map(|_| 1),
                Op::Merge => inc.merge_call(at, "x", "").map(|_| 1),
            };
            match res {
                Ok(added) => prop_assert_eq!(inc.timeline().len(), before.timeline().len() + added),
                Err(_) => prop_assert_eq!(&inc, &before),
            }
            // Invariants that must hold after every step.
            let active = inc.assignments().iter().filter(|a| a.is_active()).count();
            if inc.state().is_active_response() {
                prop_assert!(active > 0, "active response without units: {:?}", inc.state());
            }
            if matches!(inc.state(), IncidentState::Closed | IncidentState::Cleared | IncidentState::Created) {
                prop_assert_eq!(active, 0);
            }
            prop_assert_eq!(inc.closed_at().is_some(), inc.state() == IncidentState::Closed);
            prop_assert!(inc.timeline().windows(2).all(|w| w[0].at <= w[1].at));
        }
    }

    #[test]
    fn unit_status_changes_only_along_legal_edges(steps in proptest::collection::vec(0usize..6, 1..50)) {
        let all = [
            UnitStatus::Available,
            UnitStatus::Dispatched,
            UnitStatus::EnRoute,
            UnitStatus::OnScene,
            UnitStatus::Busy,
            UnitStatus::OffDuty,
        ];
        let mut u = Unit::new("u", UnitKind::Motorcycle).unwrap();
        for s in steps {
            let from = u.status();
            let to = all[s];
            match u.set_status(to) {
                Ok(()) => prop_assert!(from.can_become(to) && u.status() == to),
                Err(_) => prop_assert!(!from.can_become(to) && u.status() == from),
            }
        }
    }
}
