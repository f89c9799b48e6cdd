//! The engine's edges: wire parsing with line errors, CAP export, the alert
//! lifecycle, replay == live, and spike detection inside the engine.
// `&[x.clone()]` reads better than `slice::from_ref(&x)` in scripted sequences.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use std::time::Duration;

use common::*;
use pingan_alert::spike::SplitMix64;
use pingan_alert::wire::{event_to_json, parse_rfc3339};
use pingan_alert::*;
use pingan_core::Timestamp;

fn known(id: &str) -> bool {
    matches!(id, "S1" | "S2" | "S3" | "D1")
}

#[test]
fn rfc3339_parsing() {
    assert_eq!(parse_rfc3339("2026-11-02T08:00:00+08:00"), Some(t0()));
    assert_eq!(parse_rfc3339("2026-11-02T00:00:00Z"), Some(t0()));
    assert_eq!(
        parse_rfc3339("2026-11-02T00:00:01.5Z"),
        Some(t0().plus_millis(1500))
    );
    assert_eq!(
        parse_rfc3339("2026-11-01T19:30:00.123-04:30"),
        Some(t0().plus_millis(123))
    );
    for bad in [
        "2026-02-30T00:00:00Z",
        "2026-11-02 00:00:00",
        "2026-11-02T24:00:00Z",
        "2026-11-02T00:00:00+0800",
        "2026-13-02T00:00:00Z",
        "yesterday",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn ndjson_batch_reports_bad_lines_and_accepts_the_rest() {
    let now = t0();
    let input = [
        r#"{"sensor_id":"S1","time":"2026-11-02T07:59:00+08:00","kind":"plate_read","identifiers":[{"kind":"plate","value":" 川a12345 "}],"attributes":{"lane":2,"dir":"N"}}"#,
        r#"{"sensor_id":"S1","time":1,"kind":"plate_read""#,
        r#"{"sensor_id":"S9","time":0,"kind":"plate_read"}"#,
        "",
        r#"{"sensor_id":"S2","time":0,"kind":"check_in","identifiers":[{"kind":"plate","value":"川A1"},{"kind":"id_number","value":"51010119900101"}]}"#,
        r#"{"sensor_id":"S2","time":"2026-11-02T00:10:00Z","kind":"plate_read"}"#,
        r#"{"time":0,"kind":"plate_read"}"#,
        r#"{"sensor_id":"D1","time":0,"kind":"drone_detection","location":{"lat":95.0,"lng":104.0}}"#,
        r#"{"sensor_id":"S3","time":0,"kind":"door_open","identifiers":{"kind":"card"}}"#,
        r#"{"sensor_id":"S3","time":0,"kind":"door_open","identifiers":[{"kind":"passport","value":"E1"}]}"#,
        r#"{"sensor_id":"S3","time":"soon","kind":"door_open"}"#,
        r#"{"sensor_id":"S3","time":0,"kind":"Door Open"}"#,
        r#"{"sensor_id":"D1","time":1000,"kind":"drone_detection","identifiers":[{"kind":"face_id","value":"F-9"}],"location":{"lat":30.6,"lng":104.0}}"#,
        r#"[1,2]"#,
    ]
    .join("\n");
    let batch = parse_ndjson(&input, Some(now), &ParseOptions::default(), &known);
    let accepted: Vec<usize> = batch.events.iter().map(|(l, _)| *l).collect();
    assert_eq!(accepted, vec![1, 13]);
    let first = &batch.events[0].1;
    assert_eq!(first.time, now.plus_secs(-60));
    assert_eq!(first.identifiers, vec![plate("川A12345")]);
    assert_eq!(first.attributes.get("lane").map(String::as_str), Some("2"));
    assert_eq!(first.attributes.get("dir").map(String::as_str), Some("N"));
    assert_eq!(batch.events[1].1.location, Some(ll(30.6, 104.0)));

    let errs: Vec<(usize, &str, String)> = batch
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str(), format!("{:?}", e.reason)))
        .collect();
    let kinds: Vec<(usize, &str)> = errs.iter().map(|(l, f, _)| (*l, *f)).collect();
    assert_eq!(
        kinds,
        vec![
            (2, ""),
            (3, "sensor_id"),
            (5, "identifiers[1].value"),
            (6, "time"),
            (7, "sensor_id"),
            (8, "location.lat"),
            (9, "identifiers"),
            (10, "identifiers[0].kind"),
            (11, "time"),
            (12, "kind"),
            (14, ""),
        ]
    );
    let reason = |line: usize| &batch.errors.iter().find(|e| e.line == line).unwrap().reason;
    assert!(matches!(reason(2), EventError::MalformedJson(_)));
    assert_eq!(reason(3), &EventError::UnknownSensor("S9".into()));
    assert_eq!(
        reason(5),
        &EventError::BadIdentifier(IdentifierError::BadLength {
            kind: IdentKind::IdNumber,
            value: "51010119900101".into()
        })
    );
    assert_eq!(
        reason(6),
        &EventError::TimeInFuture {
            time: now.plus_secs(600),
            now,
            max_future_ms: 300_000
        }
    );
    assert_eq!(reason(7), &EventError::Missing);
    assert!(matches!(reason(8), EventError::BadLocation(_)));
    assert_eq!(reason(9), &EventError::WrongType("an array"));
    assert_eq!(
        reason(10),
        &EventError::UnknownIdentifierKind("passport".into())
    );
    assert_eq!(reason(11), &EventError::BadTime("soon".into()));
    assert_eq!(reason(12), &EventError::BadKind("Door Open".into()));
    assert_eq!(reason(14), &EventError::WrongType("a JSON object"));
}

#[test]
fn single_event_parse_and_wire_round_trip() {
    let e = ev_at(
        "D1",
        42,
        &[plate("川A00042"), card("C-1")],
        ll(30.61, 104.01),
    );
    let json = event_to_json(&e);
    let back = parse_event(&json, None, &ParseOptions::default(), &known).unwrap();
    assert_eq!(back, e);
    let err = parse_event(
        r#"{"sensor_id":"S1","time":0,"kind":"plate_read","identifiers":[{"kind":"plate"}]}"#,
        None,
        &ParseOptions::default(),
        &known,
    )
    .unwrap_err();
    assert_eq!(
        (err.line, err.field.as_str(), err.reason),
        (1, "identifiers[0].value", EventError::Missing)
    );
}

/// The raw-event form is byte-for-byte what the earlier generic-JSON writer
/// produced (sorted keys, `location` only when known, attribute values as
/// strings), so stored raw events keep one shape across versions.
#[test]
fn wire_form_is_exact_and_stable() {
    let mut e = ev_at(
        "D1",
        42,
        &[plate("川A00042"), card("C-1")],
        ll(30.61, 104.01),
    );
    e.attributes.insert("lane".into(), "2".into());
    e.attributes.insert("dir".into(), "N\"E".into());
    assert_eq!(
        event_to_json(&e),
        format!(
            r#"{{"attributes":{{"dir":"N\"E","lane":"2"}},"identifiers":[{{"kind":"plate","value":"川A00042"}},{{"kind":"card","value":"C-1"}}],"kind":"{}","location":{{"lat":30.61,"lng":104.01}},"sensor_id":"D1","time":{}}}"#,
            e.kind.as_str(),
            e.time.millis()
        )
    );
    e.location = None;
    e.attributes.clear();
    e.identifiers.clear();
    assert_eq!(
        event_to_json(&e),
        format!(
            r#"{{"attributes":{{}},"identifiers":[],"kind":"{}","sensor_id":"D1","time":{}}}"#,
            e.kind.as_str(),
            e.time.millis()
        )
    );
}

fn sample_alert() -> AlertDraft {
    let mut e = city(quiet_config());
    let mut sp = spec(ids(&[plate("川A12345")]), Condition::Sighting);
    sp.label = "盗抢车辆 <A&B> \"test\"".into();
    sp.priority = Priority::Critical;
    e.add_watch(sp, t0()).unwrap();
    let mut a = e.process(&ev("S1", 90, &[plate("川A12345")]), at(90));
    a.remove(0)
}

#[test]
fn cap_export_is_valid_cap_1_2() {
    use quick_xml::NsReader;
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;

    let a = sample_alert();
    let xml = to_cap_xml(&a, "pingan-alert-1", at(95), &CapOptions::default()).unwrap();

    let mut reader = NsReader::from_str(&xml);
    let mut path: Vec<String> = Vec::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut root_ns = None;
    loop {
        match reader.read_resolved_event().unwrap() {
            (ns, Event::Start(s)) => {
                let name = String::from_utf8(s.local_name().as_ref().to_vec()).unwrap();
                if path.is_empty()
                    && let ResolveResult::Bound(n) = ns
                {
                    root_ns = Some(String::from_utf8(n.as_ref().to_vec()).unwrap());
                }
                path.push(name);
            }
            (_, Event::Text(t)) => {
                let text = t.decode().unwrap().into_owned();
                let text = quick_xml::escape::unescape(&text).unwrap().into_owned();
                texts.push((path.join("/"), text));
            }
            (_, Event::GeneralRef(r)) => {
                let name = String::from_utf8(r.as_ref().to_vec()).unwrap();
                let ch = match name.as_str() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity {other}"),
                };
                let p = path.join("/");
                match texts.last_mut() {
                    Some((lp, t)) if *lp == p => t.push_str(ch),
                    _ => texts.push((p, ch.to_string())),
                }
            }
            (_, Event::End(_)) => {
                path.pop();
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    // Entity references split text nodes; join adjacent pieces per element.
    let mut joined: Vec<(String, String)> = Vec::new();
    for (p, t) in texts {
        if t.trim().is_empty() {
            continue;
        }
        match joined.last_mut() {
            Some((lp, lt)) if *lp == p => lt.push_str(&t),
            _ => joined.push((p, t)),
        }
    }
    assert_eq!(
        root_ns.as_deref(),
        Some("urn:oasis:names:tc:emergency:cap:1.2")
    );
    let get = |p: &str| {
        joined
            .iter()
            .find(|(k, _)| k == p)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("missing {p} in\n{xml}"))
    };
    assert_eq!(get("alert/identifier"), "pingan-alert-1");
    assert_eq!(get("alert/sender"), "pingan");
    assert_eq!(get("alert/sent"), "2026-11-02T08:01:35+08:00");
    assert_eq!(get("alert/status"), "Actual");
    assert_eq!(get("alert/msgType"), "Alert");
    assert_eq!(get("alert/scope"), "Restricted");
    assert_eq!(get("alert/restriction"), "law-enforcement use only");
    assert_eq!(get("alert/info/category"), "Security");
    assert_eq!(
        get("alert/info/event"),
        "盗抢车辆 <A&B> \"test\" (sighting)"
    );
    assert_eq!(get("alert/info/headline"), "盗抢车辆 <A&B> \"test\"");
    assert_eq!(get("alert/info/urgency"), "Immediate");
    assert_eq!(get("alert/info/severity"), "Extreme");
    assert_eq!(get("alert/info/certainty"), "Observed");
    assert_eq!(get("alert/info/area/areaDesc"), "sensor S1");
    assert_eq!(get("alert/info/area/circle"), "30.650000,104.060000 0.5");
    let desc = get("alert/info/description");
    assert!(desc.contains("plate:川A***45"), "{desc}");
    assert!(
        !desc.contains("川A12345"),
        "identifier must be masked: {desc}"
    );
    assert!(xml.contains("&lt;A&amp;B&gt;"));

    assert_eq!(
        to_cap_xml(&a, "bad id", at(95), &CapOptions::default()),
        Err(CapError::BadToken {
            field: "identifier",
            value: "bad id".into()
        })
    );
}

#[test]
fn lifecycle_happy_path_and_refusals() {
    let mut a = Alert::new("A-1".into(), sample_alert(), at(91));
    assert_eq!(a.status(), AlertStatus::New);
    assert_eq!(
        a.apply(
            Transition::Dispatch {
                incident_id: "I-1".into()
            },
            "u:x",
            at(92)
        ),
        Err(LifecycleError::IllegalTransition {
            from: AlertStatus::New,
            action: "dispatch"
        })
    );
    assert_eq!(
        a.apply(
            Transition::Close {
                outcome: Outcome::TruePositive,
                note: String::new()
            },
            "u:x",
            at(92)
        ),
        Err(LifecycleError::TruePositiveNeedsVerification)
    );
    assert_eq!(
        a.apply(Transition::Acknowledge, "", at(92)),
        Err(LifecycleError::EmptyActor)
    );
    assert_eq!(
        a.apply(Transition::Acknowledge, "u:duty", at(92)),
        Ok(AlertStatus::Acknowledged)
    );
    assert_eq!(
        a.apply(Transition::Acknowledge, "u:duty", at(93)),
        Err(LifecycleError::IllegalTransition {
            from: AlertStatus::Acknowledged,
            action: "acknowledge"
        })
    );
    assert_eq!(
        a.apply(
            Transition::Verify {
                note: "图像比对一致".into()
            },
            "u:chief",
            at(80)
        ),
        Err(LifecycleError::TimeGoesBackwards {
            at: at(80),
            last: at(92)
        })
    );
    assert_eq!(
        a.apply(
            Transition::Verify {
                note: "图像比对一致".into()
            },
            "u:chief",
            at(100)
        ),
        Ok(AlertStatus::Verified)
    );
    assert_eq!(
        a.apply(
            Transition::Dispatch {
                incident_id: " ".into()
            },
            "u:chief",
            at(101)
        ),
        Err(LifecycleError::EmptyIncidentId)
    );
    assert_eq!(
        a.apply(
            Transition::Dispatch {
                incident_id: "I-7".into()
            },
            "u:chief",
            at(101)
        ),
        Ok(AlertStatus::Dispatched)
    );
    assert_eq!(a.incident_id(), Some("I-7"));
    assert_eq!(
        a.apply(
            Transition::Close {
                outcome: Outcome::TruePositive,
                note: "已查获".into()
            },
            "u:officer",
            at(200)
        ),
        Ok(AlertStatus::Closed)
    );
    assert_eq!(a.outcome(), Some(Outcome::TruePositive));
    assert_eq!(
        a.apply(Transition::Acknowledge, "u:x", at(300)),
        Err(LifecycleError::IllegalTransition {
            from: AlertStatus::Closed,
            action: "acknowledge"
        })
    );
    let steps: Vec<_> = a
        .history()
        .iter()
        .map(|h| (h.from, h.to, h.by.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (AlertStatus::New, AlertStatus::Acknowledged, "u:duty"),
            (AlertStatus::Acknowledged, AlertStatus::Verified, "u:chief"),
            (AlertStatus::Verified, AlertStatus::Dispatched, "u:chief"),
            (AlertStatus::Dispatched, AlertStatus::Closed, "u:officer"),
        ]
    );

    // Closing straight from new as a false positive.
    let mut b = Alert::new("A-2".into(), sample_alert(), at(91));
    assert_eq!(
        b.apply(
            Transition::Close {
                outcome: Outcome::FalsePositive,
                note: "误识别".into()
            },
            "u:duty",
            at(95)
        ),
        Ok(AlertStatus::Closed)
    );
    assert_eq!(b.outcome(), Some(Outcome::FalsePositive));
}

/// A day of scripted traffic with every rule type armed.
fn scenario() -> (Engine, String) {
    let mut e = city(EngineConfig {
        sensor_silent_after: Some(Duration::from_secs(6 * 3600)),
        ..EngineConfig::default()
    });
    let watched = plate("川A77777");
    let friend = phone("13912345678");
    e.add_watch(spec(ids(&[watched.clone()]), Condition::Sighting), t0())
        .unwrap();
    e.add_watch(
        spec(
            ids(&[watched.clone()]),
            Condition::CoOccurrence {
                companion: Companion::Identifier(friend.clone()),
                within: Duration::from_secs(120),
                times: 2,
                window: Duration::from_secs(86_400),
            },
        ),
        t0(),
    )
    .unwrap();
    e.add_watch(
        spec(
            ids(&[watched.clone()]),
            Condition::Frequency {
                hits: 4,
                within: Duration::from_secs(3600),
            },
        ),
        t0(),
    )
    .unwrap();
    let mut sil = spec(
        ids(&[card("DOOR-1")]),
        Condition::Silence {
            after: Duration::from_secs(4 * 3600),
        },
    );
    sil.scope = Scope::Sensors(vec!["S3".into()]);
    e.add_watch(sil, t0()).unwrap();
    let mut short = spec(ids(&[plate("川B11111")]), Condition::Sighting);
    short.expires_at = at(5 * 3600);
    e.add_watch(short, t0()).unwrap();

    let mut rng = SplitMix64(99);
    let mut lines = Vec::new();
    let mut t = 0i64;
    for _ in 0..600 {
        t += (rng.next_u64() % 240) as i64;
        let sensor = ["S1", "S2", "S3"][(rng.next_u64() % 3) as usize];
        let r = rng.next_u64() % 10;
        let idents = match r {
            0 if rng.next_u64().is_multiple_of(2) => vec![watched.clone(), friend.clone()],
            0 => vec![watched.clone()],
            1 => vec![friend.clone()],
            2 => vec![card("DOOR-1")],
            3 => vec![plate("川B11111")],
            _ => vec![plate(&format!("川C{:05}", rng.next_u64() % 500))],
        };
        lines.push(event_to_json(&ev(sensor, t, &idents)));
        if r == 5 {
            lines.push("{broken".to_string());
        }
    }
    (e, lines.join("\n"))
}

#[test]
fn replay_gives_the_same_effects_as_live_ingestion() {
    let (mut live_engine, file) = scenario();
    // Live: each line arrives on its own, parsed as a single event, with the
    // clock at the event time.
    let mut live = Vec::new();
    let mut clock = Timestamp(i64::MIN);
    for line in file.lines() {
        let Ok(ev) = parse_event(line, None, &ParseOptions::default(), &known) else {
            continue;
        };
        clock = clock.max(ev.time);
        live.extend(ingest(&mut live_engine, &ev, clock));
    }
    let end = clock.plus_secs(86_400);
    live.extend(live_engine.tick(end));

    let (mut replay_engine, file2) = scenario();
    assert_eq!(file, file2, "the scenario itself is deterministic");
    let report = replay(&mut replay_engine, &file2, Some(end));
    assert_eq!(report.effects, live);
    assert_eq!(report.events, 600);
    assert!(
        report
            .errors
            .iter()
            .all(|e| matches!(e.reason, EventError::MalformedJson(_)))
    );
    assert!(!report.errors.is_empty());

    // Every kind of outcome happened, so the comparison is not vacuous.
    let rules: std::collections::BTreeSet<_> = report.alerts().map(|a| a.rule).collect();
    assert!(rules.contains(&RuleKind::Sighting));
    assert!(rules.contains(&RuleKind::CoOccurrence));
    assert!(rules.contains(&RuleKind::Frequency));
    assert!(report.effects.iter().any(|e| matches!(
        e,
        Effect::WatchEnded {
            reason: EndReason::Expired,
            ..
        }
    )));
    assert!(
        report
            .effects
            .iter()
            .any(|e| matches!(e, Effect::SuppressionEnded { .. }))
    );
}

#[test]
fn engine_flags_an_injected_spike_in_its_hour() {
    let mut e = city(EngineConfig {
        sensor_silent_after: None,
        spike: Some(SpikeConfig {
            kinds: Some(vec![EventKind::PlateRead]),
            ..SpikeConfig::default()
        }),
        ..EngineConfig::default()
    });
    let mut rng = SplitMix64(2026);
    let hours = 3 * 168;
    let spike_hour = 2 * 168 + 3 * 24 + 10;
    let mut spikes = Vec::new();
    let mut n = 0u64;
    for h in 0..hours {
        let mut count = rng.poisson(4.0);
        if h == spike_hour {
            count += 30;
        }
        for k in 0..count {
            n += 1;
            let secs = h * 3600 + i64::from(k) * 3600 / i64::from(count);
            let x = ev("S1", secs, &[plate(&format!("川E{n:06}"))]);
            for a in e.process(&x, x.time) {
                spikes.push(a);
            }
        }
        // Door events at the same place are not counted (kind filter).
        let door = SensorEvent {
            kind: EventKind::DoorOpen,
            ..ev("S1", h * 3600 + 1, &[])
        };
        assert!(e.process(&door, door.time).is_empty());
    }
    let hours_flagged: Vec<i64> = spikes
        .iter()
        .map(|a| (a.time.millis() - t0().millis()) / 3_600_000)
        .collect();
    assert_eq!(hours_flagged, vec![spike_hour]);
    let a = &spikes[0];
    assert_eq!(a.rule, RuleKind::Spike);
    assert_eq!(a.routing.org_path, s("/1/3/17/"));
    assert_eq!(a.routing.owner, s("system:spike"));
    let Detail::Spike {
        kind,
        count,
        expected,
        threshold,
        p_value,
    } = &a.detail
    else {
        panic!("{:?}", a.detail)
    };
    assert_eq!(kind, &EventKind::PlateRead);
    assert_eq!(
        count, threshold,
        "fires as soon as the threshold is reached"
    );
    assert!((2.5..6.0).contains(expected), "{expected}");
    assert!(*p_value <= 1e-4);
    let cell = a.cell.unwrap();
    assert_eq!(cell.resolution(), h3o::Resolution::Eight);
}

#[test]
fn engine_can_move_to_a_worker_thread() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Engine>();
    assert_send::<Effect>();
    assert_send::<Alert>();
}
