//! Each rule type on scripted event sequences, with the exact alerts expected.
// `&[x.clone()]` reads better than `slice::from_ref(&x)` in scripted sequences.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use std::time::Duration;

use common::*;
use pingan_alert::*;

const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

#[test]
fn sighting_alert_carries_watch_metadata_and_routing() {
    let mut e = city(quiet_config());
    let w = e
        .add_watch(spec(ids(&[plate("川A12345")]), Condition::Sighting), t0())
        .unwrap();
    let alerts = run(
        &mut e,
        &[
            ev("S1", 10, &[plate("川B00001")]),
            ev("S1", 20, &[plate("川a12345")]),
        ],
    );
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.seq, 1);
    assert_eq!(a.event_seq, Some(2));
    assert_eq!(a.rule, RuleKind::Sighting);
    assert_eq!(a.watch_id, Some(w));
    assert_eq!(a.time, at(20));
    assert_eq!(a.sensor_id, s("S1"));
    assert_eq!(a.location, Some(s1_loc()));
    assert_eq!(a.identifiers, vec![plate("川A12345")]);
    assert_eq!(a.case_ref, s("A5101-2026-0001"));
    assert_eq!(a.priority, Priority::High);
    assert_eq!(
        a.routing,
        Routing {
            org_path: s("/1/3/17/"),
            owner: s("u:li.na"),
            notify_orgs: v(&["/1/"]),
            notify_users: v(&["u:duty"]),
        }
    );
}

#[test]
fn jurisdiction_function_routes_by_location() {
    let mut e = city(quiet_config());
    let north = s1_loc().lat() + 0.005;
    e.set_jurisdiction(Box::new(move |p| {
        (p.lat() > north).then(|| "/1/9/".to_string())
    }));
    e.add_watch(spec(ids(&[plate("川A12345")]), Condition::Sighting), t0())
        .unwrap();
    let alerts = run(
        &mut e,
        &[
            ev("S1", 10, &[plate("川A12345")]),
            ev("S2", 20, &[plate("川A12345")]),
        ],
    );
    let orgs: Vec<_> = alerts.iter().map(|a| a.routing.org_path.clone()).collect();
    assert_eq!(orgs, vec![s("/1/3/17/"), s("/1/9/")]);
}

#[test]
fn scopes_limit_where_a_watch_applies() {
    let mut e = city(quiet_config());
    let a = plate("川A00001");
    let mut org = spec(ids(&[a.clone()]), Condition::Sighting);
    org.scope = Scope::OrgSubtree("/1/3/".into());
    let w_org = e.add_watch(org, t0()).unwrap();
    let mut poly = spec(ids(&[a.clone()]), Condition::Sighting);
    poly.scope = Scope::Area(Polygon::circle(s2_loc(), 200.0, 16));
    let w_poly = e.add_watch(poly, t0()).unwrap();
    let mut list = spec(ids(&[a.clone()]), Condition::Sighting);
    list.scope = Scope::Sensors(vec!["S3".into()]);
    let w_list = e.add_watch(list, t0()).unwrap();

    let alerts = run(
        &mut e,
        &[
            ev("S1", 1, &[a.clone()]),
            ev("S2", 2, &[a.clone()]),
            ev("S3", 3, &[a.clone()]),
            // A drone over S2's area is inside the polygon but not in /1/3/.
            ev_at("D1", 4, &[a.clone()], s2_loc().offset_m(50.0, 0.0)),
        ],
    );
    let got: Vec<_> = alerts
        .iter()
        .map(|x| (x.sensor_id.clone().unwrap(), x.watch_id.unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("S1".to_string(), w_org),
            ("S2".to_string(), w_org),
            ("S2".to_string(), w_poly),
            ("S3".to_string(), w_list),
            ("D1".to_string(), w_poly),
        ]
    );

    let mut bad = spec(ids(&[a]), Condition::Sighting);
    bad.scope = Scope::Sensors(vec!["S9".into()]);
    assert_eq!(
        e.add_watch(bad, t0()),
        Err(WatchError::UnknownSensor("S9".into()))
    );
}

#[test]
fn active_window_and_expiry() {
    let mut e = city(quiet_config());
    let a = plate("川A00002");
    let mut sp = spec(ids(&[a.clone()]), Condition::Sighting);
    sp.active_from = at(HOUR);
    sp.expires_at = at(2 * HOUR);
    let w = e.add_watch(sp, t0()).unwrap();
    let mut sp2 = spec(ids(&[a.clone()]), Condition::Sighting);
    sp2.active_until = Some(at(90 * MIN));
    let w2 = e.add_watch(sp2, t0()).unwrap();

    let mut got = Vec::new();
    for (secs, clock) in [
        (30 * MIN, 30 * MIN),
        (80 * MIN, 80 * MIN),
        (100 * MIN, 100 * MIN),
    ] {
        got.extend(
            e.process(&ev("S1", secs, &[a.clone()]), at(clock))
                .into_iter()
                .map(|x| (secs, x.watch_id.unwrap())),
        );
    }
    assert_eq!(
        got,
        vec![
            (30 * MIN, w2),
            (80 * MIN, w),
            (80 * MIN, w2),
            (100 * MIN, w)
        ]
    );

    // Matching stops at expiry even before tick reports it.
    assert!(
        e.process(&ev("S1", 2 * HOUR - 1, &[a.clone()]), at(2 * HOUR + 5))
            .is_empty()
    );
    let effects = e.tick(at(2 * HOUR + 5));
    assert_eq!(
        effects,
        vec![
            Effect::WatchEnded {
                watch_id: w2,
                at: at(90 * MIN),
                reason: EndReason::WindowClosed,
                owner: "u:li.na".into(),
                case_ref: "A5101-2026-0001".into(),
            },
            Effect::WatchEnded {
                watch_id: w,
                at: at(2 * HOUR),
                reason: EndReason::Expired,
                owner: "u:li.na".into(),
                case_ref: "A5101-2026-0001".into(),
            },
        ]
    );
    assert_eq!(e.watch_count(), 0);
    assert!(e.tick(at(3 * HOUR)).is_empty());
}

#[test]
fn watch_management_remove_replace_insert() {
    let mut e = city(quiet_config());
    let a = plate("川A00003");
    let b = plate("川B00003");
    let w = e
        .add_watch(spec(ids(&[a.clone()]), Condition::Sighting), t0())
        .unwrap();
    e.replace_watch(w, spec(ids(&[b.clone()]), Condition::Sighting), t0())
        .unwrap();
    assert_eq!(run(&mut e, &[ev("S1", 1, &[a.clone()])]).len(), 0);
    assert_eq!(run(&mut e, &[ev("S1", 2, &[b.clone()])]).len(), 1);
    assert!(e.remove_watch(w).is_some());
    assert_eq!(run(&mut e, &[ev("S1", 3, &[b.clone()])]).len(), 0);
    e.insert_watch(
        WatchId(77),
        spec(ids(&[a.clone()]), Condition::Sighting),
        t0(),
    )
    .unwrap();
    assert_eq!(
        e.insert_watch(WatchId(77), spec(ids(&[a]), Condition::Sighting), t0()),
        Err(WatchError::DuplicateId(WatchId(77)))
    );
    assert_eq!(
        e.add_watch(spec(ids(&[b]), Condition::Sighting), t0()),
        Ok(WatchId(78))
    );
    assert_eq!(
        e.replace_watch(
            WatchId(5),
            spec(ids(&[plate("X1")]), Condition::Sighting),
            t0()
        ),
        Err(WatchError::NotFound(WatchId(5)))
    );
}

#[test]
fn dedup_within_suppression_window_counts_repeats() {
    let mut e = city(EngineConfig {
        suppression_window: Duration::from_secs(600),
        sensor_silent_after: None,
        ..EngineConfig::default()
    });
    let a = plate("川A00004");
    e.add_watch(spec(ids(&[a.clone()]), Condition::Sighting), t0())
        .unwrap();
    let mut out = Vec::new();
    for x in [
        ev("S1", 0, &[a.clone()]),
        ev("S1", 60, &[a.clone()]),
        ev("S1", 120, &[a.clone()]),
        ev("S2", 130, &[a.clone()]),
        ev("S1", 700, &[a.clone()]),
    ] {
        out.extend(ingest(&mut e, &x, x.time));
    }
    let alert = |o: &Effect| match o {
        Effect::Alert(a) => Some((a.seq, a.sensor_id.clone().unwrap(), a.time)),
        _ => None,
    };
    let alerts: Vec<_> = out.iter().filter_map(alert).collect();
    assert_eq!(
        alerts,
        vec![
            (1, "S1".to_string(), at(0)),
            (2, "S2".to_string(), at(130)),
            (3, "S1".to_string(), at(700)),
        ]
    );
    // The window of alert 1 closed at t=600 (seen at the tick before the
    // t=700 event), having swallowed two repeats.
    assert!(out.contains(&Effect::SuppressionEnded {
        alert_seq: 1,
        suppressed: 2,
        last_time: at(120),
    }));
    assert_eq!(e.stats().suppressed, 2);
    assert_eq!(e.stats().alerts, 3);
    // Alert 2's window had no repeats, so nothing is reported for it.
    let ends = e.tick(at(2000));
    assert_eq!(ends, vec![]);
}

#[test]
fn geofence_enter_exit_dwell() {
    let mut e = city(quiet_config());
    let p = card("SUP-0001");
    let area = Polygon::circle(s2_loc(), 300.0, 24);
    let fence = |trigger| Condition::Geofence {
        area: area.clone(),
        trigger,
    };
    let w_enter = e
        .add_watch(spec(ids(&[p.clone()]), fence(GeofenceTrigger::Enter)), t0())
        .unwrap();
    let w_exit = e
        .add_watch(spec(ids(&[p.clone()]), fence(GeofenceTrigger::Exit)), t0())
        .unwrap();
    let w_dwell = e
        .add_watch(
            spec(
                ids(&[p.clone()]),
                fence(GeofenceTrigger::Dwell(Duration::from_secs(10 * 60))),
            ),
            t0(),
        )
        .unwrap();
    let inside = s2_loc();
    let outside = s1_loc();
    let alerts = run(
        &mut e,
        &[
            ev_at("D1", 0, &[p.clone()], outside),
            ev_at("D1", 60, &[p.clone()], inside),
            ev_at("D1", 5 * 60, &[p.clone()], inside),
            ev_at("D1", 12 * 60, &[p.clone()], inside),
            ev_at("D1", 20 * 60, &[p.clone()], inside),
            ev_at("D1", 25 * 60, &[p.clone()], outside),
            ev_at("D1", 30 * 60, &[p.clone()], inside),
            ev_at("D1", 41 * 60, &[p.clone()], inside),
        ],
    );
    let got: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                (a.time.millis() - t0().millis()) / 60_000,
                a.rule,
                a.watch_id.unwrap(),
                a.detail.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, RuleKind::GeofenceEnter, w_enter, Detail::None),
            (
                12,
                RuleKind::GeofenceDwell,
                w_dwell,
                Detail::Presence { since: at(60) }
            ),
            (
                25,
                RuleKind::GeofenceExit,
                w_exit,
                Detail::Presence { since: at(60) }
            ),
            (30, RuleKind::GeofenceEnter, w_enter, Detail::None),
            (
                41,
                RuleKind::GeofenceDwell,
                w_dwell,
                Detail::Presence { since: at(30 * 60) }
            ),
        ]
    );
}

#[test]
fn frequency_per_identifier_and_for_anyone_in_scope() {
    let mut e = city(quiet_config());
    let a = plate("川A00005");
    let cond = Condition::Frequency {
        hits: 3,
        within: Duration::from_secs(10 * 60),
    };
    let w = e
        .add_watch(spec(ids(&[a.clone()]), cond.clone()), t0())
        .unwrap();
    let mut any = spec(
        Target::AnyIdentifier {
            kind: Some(IdentKind::Plate),
        },
        cond,
    );
    any.scope = Scope::Sensors(vec!["S3".into()]);
    let w_any = e.add_watch(any, t0()).unwrap();
    let m = |x: i64| x * MIN;
    let b = plate("川B00005");
    let alerts = run(
        &mut e,
        &[
            ev("S1", m(0), &[a.clone()]),
            ev("S2", m(4), &[a.clone()]),
            ev("S1", m(8), &[a.clone()]),
            ev("S1", m(9), &[a.clone()]),
            ev("S1", m(20), &[a.clone()]),
            ev("S1", m(31), &[a.clone()]),
            ev("S1", m(35), &[a.clone()]),
            ev("S1", m(38), &[a.clone()]),
            // Anyone at S3: b three times in 10 min, a phone ignored by kind.
            ev("S3", m(50), &[b.clone(), phone("13800000000")]),
            ev("S3", m(52), &[b.clone(), phone("13800000000")]),
            ev("S3", m(59), &[b.clone(), phone("13800000000")]),
        ],
    );
    let got: Vec<_> = alerts
        .iter()
        .map(|x| {
            (
                x.watch_id.unwrap(),
                (x.time.millis() - t0().millis()) / 60_000,
                x.identifiers[0].value().to_string(),
                x.detail.clone(),
            )
        })
        .collect();
    let hits = Detail::Hits {
        count: 3,
        within_ms: 600_000,
    };
    assert_eq!(
        got,
        vec![
            (w, 8, "川A00005".to_string(), hits.clone()),
            (w, 38, "川A00005".to_string(), hits.clone()),
            (w_any, 59, "川B00005".to_string(), hits),
        ]
    );
}

#[test]
fn co_occurrence_watched_pair() {
    let mut e = city(quiet_config());
    let a = plate("川A00006");
    let p = phone("13900000006");
    let w = e
        .add_watch(
            spec(
                ids(&[a.clone()]),
                Condition::CoOccurrence {
                    companion: Companion::Identifier(p.clone()),
                    within: Duration::from_secs(60),
                    times: 2,
                    window: Duration::from_secs(DAY as u64),
                },
            ),
            t0(),
        )
        .unwrap();
    let alerts = run(
        &mut e,
        &[
            ev("S1", 0, &[a.clone()]),
            ev("S1", 30, &[p.clone()]), // occurrence 1
            ev("S1", 50, &[p.clone()]), // same sensor within Δt: merged
            ev("S2", 1000, &[a.clone()]),
            ev("S2", 1100, &[p.clone()]), // 100 s apart: not together
            ev("S3", 2000, &[p.clone()]),
            ev("S3", 2010, &[a.clone()]), // occurrence 2 → alert
        ],
    );
    assert_eq!(
        summary(&alerts),
        vec![(
            RuleKind::CoOccurrence,
            2010,
            s("S3"),
            v(&["川A00006", "13900000006"])
        )]
    );
    assert_eq!(alerts[0].watch_id, Some(w));
    assert_eq!(
        alerts[0].detail,
        Detail::CoOccurrence {
            times: 2,
            window_ms: DAY * 1000
        }
    );
}

#[test]
fn co_occurrence_anyone_with_watched_identifier() {
    let mut e = city(quiet_config());
    let a = plate("川A00007");
    let (b, c, d) = (plate("川B00007"), plate("川C00007"), plate("川D00007"));
    e.add_watch(
        spec(
            ids(&[a.clone()]),
            Condition::CoOccurrence {
                companion: Companion::Anyone,
                within: Duration::from_secs(60),
                times: 2,
                window: Duration::from_secs(DAY as u64),
            },
        ),
        t0(),
    )
    .unwrap();
    let alerts = run(
        &mut e,
        &[
            ev("S1", 0, &[b.clone()]),
            ev("S1", 20, &[a.clone()]), // (a,b) #1 from the recent buffer
            ev("S1", 50, &[c.clone()]), // (a,c) #1 from a's anchor
            ev("S2", 500, &[a.clone(), b.clone()]), // (a,b) #2 → alert
            ev("S2", 1000, &[d.clone()]), // a's anchor is 500 s old
            ev("S3", 2000, &[c.clone()]),
            ev("S3", 2030, &[a.clone()]), // (a,c) #2 → alert
        ],
    );
    assert_eq!(
        summary(&alerts),
        vec![
            (
                RuleKind::CoOccurrence,
                500,
                s("S2"),
                v(&["川A00007", "川B00007"])
            ),
            (
                RuleKind::CoOccurrence,
                2030,
                s("S3"),
                v(&["川A00007", "川C00007"])
            ),
        ]
    );
}

#[test]
fn first_appearance_after_learning_period() {
    let mut e = city(quiet_config());
    let mut sp = spec(
        Target::AnyIdentifier { kind: None },
        Condition::FirstAppearance {
            lookback: Duration::from_secs(DAY as u64),
        },
    );
    sp.scope = Scope::Area(Polygon::circle(s1_loc(), 300.0, 16));
    e.add_watch(sp, t0()).unwrap();
    let (b, c) = (plate("川B00008"), plate("川C00008"));
    let alerts = run(
        &mut e,
        &[
            ev("S1", HOUR, &[b.clone()]),      // learning
            ev("S2", 25 * HOUR, &[c.clone()]), // outside the area
            ev("S1", 25 * HOUR, &[b.clone()]), // seen 24 h ago: known
            ev("S1", 26 * HOUR, &[c.clone()]), // new → alert
            ev("S1", 27 * HOUR, &[c.clone()]), // known now
            ev("S1", 50 * HOUR, &[b.clone()]), // 25 h since last → alert
            // A drone over the area goes through the R-tree path.
            ev_at(
                "D1",
                51 * HOUR,
                &[plate("川D00008")],
                s1_loc().offset_m(100.0, 0.0),
            ),
        ],
    );
    assert_eq!(
        summary(&alerts),
        vec![
            (
                RuleKind::FirstAppearance,
                26 * HOUR,
                s("S1"),
                v(&["川C00008"])
            ),
            (
                RuleKind::FirstAppearance,
                50 * HOUR,
                s("S1"),
                v(&["川B00008"])
            ),
            (
                RuleKind::FirstAppearance,
                51 * HOUR,
                s("D1"),
                v(&["川D00008"])
            ),
        ]
    );
    assert_eq!(
        alerts[1].detail,
        Detail::FirstAppearance {
            previous: Some(at(25 * HOUR))
        }
    );
}

#[test]
fn silence_fires_from_tick_once_per_spell() {
    let mut e = city(quiet_config());
    let k = card("DOOR-88");
    let mut sp = spec(
        ids(&[k.clone()]),
        Condition::Silence {
            after: Duration::from_secs(2 * DAY as u64),
        },
    );
    sp.scope = Scope::Sensors(vec!["S3".into()]);
    sp.label = "独居老人 2 天未出门".into();
    let w = e.add_watch(sp, t0()).unwrap();
    assert!(run(&mut e, &[ev("S3", DAY, &[k.clone()])]).is_empty());
    // A sighting elsewhere does not count: it is out of scope.
    assert!(run(&mut e, &[ev("S1", 2 * DAY, &[k.clone()])]).is_empty());
    assert!(e.tick(at(2 * DAY + HOUR)).is_empty());
    let fx = e.tick(at(3 * DAY));
    assert_eq!(fx.len(), 1);
    let Effect::Alert(a) = &fx[0] else {
        panic!("expected an alert, got {fx:?}")
    };
    assert_eq!(a.rule, RuleKind::Silence);
    assert_eq!(a.watch_id, Some(w));
    assert_eq!(a.time, at(3 * DAY));
    assert_eq!(a.event_seq, None);
    assert_eq!(a.sensor_id, s("S3"));
    assert_eq!(a.location, Some(s3_loc()));
    assert_eq!(a.routing.org_path, s("/1/4/20/"));
    assert_eq!(
        a.detail,
        Detail::Silence {
            last_seen: Some(at(DAY)),
            after_ms: 2 * DAY * 1000
        }
    );
    assert!(e.tick(at(4 * DAY)).is_empty());
    assert!(run(&mut e, &[ev("S3", 5 * DAY, &[k.clone()])]).is_empty());
    let fx = e.tick(at(7 * DAY));
    assert!(matches!(&fx[..], [Effect::Alert(a)] if a.time == at(7 * DAY)));
}

#[test]
fn silence_counts_from_creation_when_never_seen() {
    let mut e = city(quiet_config());
    let k = card("DOOR-89");
    let mut sp = spec(
        ids(&[k]),
        Condition::Silence {
            after: Duration::from_secs(DAY as u64),
        },
    );
    sp.scope = Scope::Sensors(vec!["S3".into()]);
    e.add_watch(sp, at(HOUR)).unwrap();
    let fx = e.tick(at(DAY + HOUR));
    assert!(matches!(&fx[..], [Effect::Alert(a)]
        if a.time == at(DAY + HOUR)
        && a.detail == Detail::Silence { last_seen: None, after_ms: DAY * 1000 }));
}

#[test]
fn curfew_in_local_time() {
    let mut e = city(quiet_config());
    let a = card("SUP-0002");
    e.add_watch(
        spec(
            ids(&[a.clone()]),
            Condition::Curfew {
                windows: vec![LocalWindow {
                    start_minute: 22 * 60,
                    end_minute: 6 * 60,
                }],
                utc_offset_minutes: 8 * 60,
            },
        ),
        t0(),
    )
    .unwrap();
    let alerts = run(
        &mut e,
        &[
            ev("S1", 4 * HOUR, &[a.clone()]),             // 12:00 local
            ev("S1", 15 * HOUR, &[a.clone()]),            // 23:00 local
            ev("S1", 21 * HOUR + 59 * MIN, &[a.clone()]), // 05:59 local
            ev("S1", 22 * HOUR, &[a.clone()]),            // 06:00 local
        ],
    );
    let got: Vec<_> = alerts.iter().map(|x| x.detail.clone()).collect();
    assert_eq!(
        got,
        vec![
            Detail::Curfew {
                local_minute: 23 * 60
            },
            Detail::Curfew {
                local_minute: 5 * 60 + 59
            },
        ]
    );
}

#[test]
fn entity_watch_reports_entity_and_matched_identifier() {
    let mut e = city(quiet_config());
    e.add_watch(
        spec(
            Target::Entity {
                entity_id: "P-42".into(),
                identifiers: vec![plate("川A00009"), phone("13700000009")],
            },
            Condition::Sighting,
        ),
        t0(),
    )
    .unwrap();
    let alerts = run(&mut e, &[ev("S1", 5, &[phone("13700000009")])]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].entity_id, s("P-42"));
    assert_eq!(alerts[0].identifiers, vec![phone("13700000009")]);
}

#[test]
fn short_silence_thresholds_are_checked_at_half_their_period() {
    let mut e = city(EngineConfig {
        suppression_window: Duration::ZERO,
        sensor_silent_after: Some(Duration::from_secs(10)),
        ..EngineConfig::default()
    });
    for sid in ["S1", "S2", "S3", "D1"] {
        e.process(&ev(sid, 0, &[]), at(0));
    }
    // Liveness is checked every 5 s (half the threshold), not once a minute:
    // at 1 s, at the first tick from 6 s on (8 s), then from 13 s on.
    assert!(e.tick(at(1)).is_empty());
    e.process(&ev("S1", 8, &[]), at(8));
    assert!(e.tick(at(8)).is_empty());
    assert!(e.tick(at(12)).is_empty());
    let silent: Vec<String> = e
        .tick(at(13))
        .into_iter()
        .map(|f| match f {
            Effect::SensorSilent { sensor_id, .. } => sensor_id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(silent, vec!["S2", "S3", "D1"]);
}

#[test]
fn silent_sensors_are_flagged_and_resume() {
    let mut e = city(EngineConfig {
        suppression_window: Duration::ZERO,
        sensor_silent_after: Some(Duration::from_secs(HOUR as u64)),
        ..EngineConfig::default()
    });
    for sid in ["S1", "S2", "S3", "D1"] {
        e.process(&ev(sid, 0, &[]), at(0));
    }
    assert!(e.tick(at(30 * MIN)).is_empty());
    e.process(&ev("S1", 50 * MIN, &[]), at(50 * MIN));
    let fx = e.tick(at(HOUR));
    let silent: Vec<_> = fx
        .iter()
        .map(|f| match f {
            Effect::SensorSilent { sensor_id, .. } => sensor_id.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(silent, vec!["S2", "S3", "D1"]);
    assert!(e.sensor_status("S2").unwrap().silent);
    e.process(&ev("S2", HOUR + 10, &[]), at(HOUR + 10));
    assert_eq!(
        e.tick(at(HOUR + 20)),
        vec![Effect::SensorResumed {
            sensor_id: "S2".into(),
            at: at(HOUR + 10)
        }]
    );
}

#[test]
fn same_input_same_output_across_engines() {
    let build = || {
        let mut e = city(EngineConfig {
            sensor_silent_after: None,
            ..EngineConfig::default()
        });
        for i in 0..200 {
            let cond = match i % 4 {
                0 => Condition::Sighting,
                1 => Condition::Frequency {
                    hits: 2,
                    within: Duration::from_secs(HOUR as u64),
                },
                2 => Condition::CoOccurrence {
                    companion: Companion::Anyone,
                    within: Duration::from_secs(120),
                    times: 1,
                    window: Duration::from_secs(DAY as u64),
                },
                _ => Condition::Curfew {
                    windows: vec![LocalWindow {
                        start_minute: 0,
                        end_minute: 600,
                    }],
                    utc_offset_minutes: 480,
                },
            };
            e.add_watch(
                spec(ids(&[plate(&format!("川A{:05}", i % 50))]), cond),
                t0(),
            )
            .unwrap();
        }
        e
    };
    let events: Vec<SensorEvent> = (0..2000)
        .map(|i| {
            let sensor = ["S1", "S2", "S3"][i % 3];
            ev(
                sensor,
                (i as i64) * 37,
                &[
                    plate(&format!("川A{:05}", (i * 7) % 60)),
                    plate(&format!("川Z{:03}", i % 13)),
                ],
            )
        })
        .collect();
    let mut e1 = build();
    let mut e2 = build();
    let a1 = run(&mut e1, &events);
    let a2 = run(&mut e2, &events);
    assert!(a1.len() > 100, "{}", a1.len());
    assert_eq!(a1, a2);
}

#[test]
fn repeated_identifier_in_one_event_counts_once() {
    let mut e = city(quiet_config());
    let a = plate("川A00010");
    e.add_watch(
        spec(
            ids(&[a.clone()]),
            Condition::Frequency {
                hits: 2,
                within: Duration::from_secs(600),
            },
        ),
        t0(),
    )
    .unwrap();
    assert!(run(&mut e, &[ev("S1", 0, &[a.clone(), a.clone()])]).is_empty());
    assert_eq!(run(&mut e, &[ev("S1", 10, &[a.clone()])]).len(), 1);
}

#[test]
fn shared_identifier_watches_are_removed_independently() {
    let mut e = city(quiet_config());
    let a = plate("川A00011");
    let w1 = e
        .add_watch(spec(ids(&[a.clone()]), Condition::Sighting), t0())
        .unwrap();
    let w2 = e
        .add_watch(spec(ids(&[a.clone()]), Condition::Sighting), t0())
        .unwrap();
    let w3 = e
        .add_watch(spec(ids(&[a.clone()]), Condition::Sighting), t0())
        .unwrap();
    let fired = |e: &mut Engine, secs| -> Vec<WatchId> {
        run(e, &[ev("S1", secs, &[a.clone()])])
            .iter()
            .map(|x| x.watch_id.unwrap())
            .collect()
    };
    assert_eq!(fired(&mut e, 1), vec![w1, w2, w3]);
    e.remove_watch(w2).unwrap();
    assert_eq!(fired(&mut e, 2), vec![w1, w3]);
    e.remove_watch(w1).unwrap();
    assert_eq!(fired(&mut e, 3), vec![w3]);
    e.remove_watch(w3).unwrap();
    assert_eq!(fired(&mut e, 4), vec![]);
    assert_eq!(e.remove_watch(w3), None);
}

#[test]
fn sensors_registered_after_an_area_rule_are_covered() {
    let mut e = city(quiet_config());
    let mut sp = spec(
        Target::AnyIdentifier { kind: None },
        Condition::Frequency {
            hits: 2,
            within: Duration::from_secs(600),
        },
    );
    let spot = s3_loc().offset_m(-5000.0, 0.0);
    sp.scope = Scope::Area(Polygon::circle(spot, 200.0, 16));
    e.add_watch(sp, t0()).unwrap();
    e.register_sensor(
        SensorInfo {
            id: "S4".into(),
            kind: SensorKind::FaceCamera,
            location: Some(spot),
            org_path: "/1/5/".into(),
        },
        t0(),
    )
    .unwrap();
    let f = Identifier::new(IdentKind::FaceId, "face-77").unwrap();
    let alerts = run(
        &mut e,
        &[ev("S4", 10, &[f.clone()]), ev("S4", 20, &[f.clone()])],
    );
    assert_eq!(
        summary(&alerts),
        vec![(RuleKind::Frequency, 20, s("S4"), v(&["face-77"]))]
    );
    // Moving the sensor out of the area takes it out of the rule.
    e.register_sensor(
        SensorInfo {
            id: "S4".into(),
            kind: SensorKind::FaceCamera,
            location: Some(s3_loc()),
            org_path: "/1/5/".into(),
        },
        t0(),
    )
    .unwrap();
    assert!(
        run(
            &mut e,
            &[ev("S4", 30, &[f.clone()]), ev("S4", 40, &[f.clone()])]
        )
        .is_empty()
    );
    assert_eq!(
        e.register_sensor(
            SensorInfo {
                id: "S5".into(),
                kind: SensorKind::SmartLock,
                location: None,
                org_path: "1/5".into(),
            },
            t0(),
        ),
        Err(EngineError::BadOrgPath {
            sensor: "S5".into(),
            path: "1/5".into()
        })
    );
}

#[test]
fn silence_of_an_org_scoped_watch_routes_to_that_org() {
    let mut e = city(quiet_config());
    let mut sp = spec(
        ids(&[card("DOOR-90")]),
        Condition::Silence {
            after: Duration::from_secs(DAY as u64),
        },
    );
    sp.scope = Scope::OrgSubtree("/1/4/".into());
    let w = e.add_watch(sp, t0()).unwrap();
    assert_eq!(e.watch_ids(), vec![w]);
    assert_eq!(
        e.sensor_ids().collect::<Vec<_>>(),
        vec!["S1", "S2", "S3", "D1"]
    );
    let fx = e.tick(at(DAY));
    assert!(matches!(&fx[..], [Effect::Alert(a)]
        if a.sensor_id.is_none() && a.routing.org_path == s("/1/4/")));
}
