//! Property tests: the wire parser never panics and round-trips what it
//! renders; RFC 3339 parsing agrees with the civil-time formatter; the alert
//! lifecycle keeps its invariants under any sequence of requests.

use pingan_alert::wire::{event_to_json, parse_rfc3339};
use pingan_alert::*;
use pingan_core::{LatLng, Timestamp};
use proptest::prelude::*;

fn known(id: &str) -> bool {
    id.starts_with('S')
}

proptest! {
    #[test]
    fn ndjson_parser_never_panics_and_counts_every_line(input in "[ -~\\n{}\\[\\]\":,0-9a-z]{0,400}") {
        let batch = parse_ndjson(&input, Some(Timestamp(0)), &ParseOptions::default(), &known);
        let non_blank = input.split('\n').filter(|l| !l.trim().is_empty()).count();
        prop_assert_eq!(batch.events.len() + batch.errors.len(), non_blank);
        for e in &batch.errors {
            prop_assert!(e.line >= 1 && e.line <= input.split('\n').count());
        }
    }

    #[test]
    fn rendered_events_parse_back(
        sensor in "S[0-9]{1,4}",
        ms in 0i64..4_000_000_000_000,
        plates in proptest::collection::vec("[A-Z0-9]{5,7}", 0..4),
        lat in -89.0f64..89.0,
        lng in -179.0f64..179.0,
        with_loc in any::<bool>(),
    ) {
        let identifiers: Vec<Identifier> = plates
            .iter()
            .map(|p| Identifier::new(IdentKind::Plate, &format!("川{p}")).unwrap())
            .collect();
        let ev = SensorEvent {
            sensor_id: sensor,
            time: Timestamp(ms),
            kind: EventKind::PlateRead,
            identifiers,
            attributes: Default::default(),
            location: with_loc.then(|| LatLng::new(lat, lng).unwrap()),
        };
        let mut back = parse_event(&event_to_json(&ev), None, &ParseOptions::default(), &known)
            .expect("rendered events parse");
        // serde_json's default float parsing may differ from the shortest
        // round-trip text in the last bit (1e-14°, far below a millimetre).
        match (back.location, ev.location) {
            (Some(b), Some(e)) => {
                prop_assert!((b.lat() - e.lat()).abs() < 1e-12 && (b.lng() - e.lng()).abs() < 1e-12);
                back.location = ev.location;
            }
            (b, e) => prop_assert_eq!(b, e),
        }
        prop_assert_eq!(back, ev);
    }

    #[test]
    fn rfc3339_round_trips(ms in -2_000_000_000_000i64..4_000_000_000_000) {
        let t = Timestamp(ms);
        prop_assert_eq!(parse_rfc3339(&t.to_rfc3339()), Some(t));
    }

    #[test]
    fn lifecycle_invariants(steps in proptest::collection::vec((0u8..6, 0i64..3), 0..12)) {
        let draft = AlertDraft {
            seq: 1,
            event_seq: Some(1),
            rule: RuleKind::Sighting,
            watch_id: Some(WatchId(1)),
            label: "w".into(),
            priority: Priority::Normal,
            time: Timestamp(0),
            sensor_id: None,
            location: None,
            cell: None,
            identifiers: vec![],
            entity_id: None,
            case_ref: None,
            legal_basis: None,
            detail: Detail::None,
            routing: Routing::default(),
        };
        let mut a = Alert::new("A".into(), draft, Timestamp(0));
        let mut clock = 0i64;
        for (op, dt) in steps {
            clock += dt - 1;
            let tr = match op {
                0 => Transition::Acknowledge,
                1 => Transition::Verify { note: "ok".into() },
                2 => Transition::Dispatch { incident_id: "I-1".into() },
                3 => Transition::Close { outcome: Outcome::TruePositive, note: String::new() },
                4 => Transition::Close { outcome: Outcome::FalsePositive, note: String::new() },
                _ => Transition::Dispatch { incident_id: String::new() },
            };
            let before = a.clone();
            match a.apply(tr, "u:x", Timestamp(clock)) {
                Ok(to) => prop_assert_eq!(a.status(), to),
                Err(_) => prop_assert_eq!(&a, &before, "a refused step changes nothing"),
            }
        }
        let h = a.history();
        for pair in h.windows(2) {
            prop_assert_eq!(pair[0].to, pair[1].from);
            prop_assert!(pair[0].at <= pair[1].at);
        }
        if a.outcome() == Some(Outcome::TruePositive) {
            prop_assert!(h.iter().any(|e| e.to == AlertStatus::Verified));
        }
        if a.status() == AlertStatus::Dispatched {
            prop_assert!(a.incident_id().is_some());
        }
        if let Some(last) = h.last() {
            prop_assert_eq!(last.to, a.status());
        }
        prop_assert_eq!(h.iter().filter(|e| e.to == AlertStatus::Closed).count() <= 1, true);
    }
}
