//! Dispatch persistence suite, run unchanged on SQLite and on a real throwaway
//! PostgreSQL: incident numbering, patches with timeline, calls, assignments,
//! partners, the hand-off outbox and taxonomy overrides.

mod pg;

use pingan_store::*;

async fn station(s: &Store) -> (OrgRow, OrgRow) {
    pg::city_and_station(s, "东门派出所").await
}

fn call(at: i64) -> NewCall {
    NewCall {
        channel: "110".into(),
        caller_phone: "13812345678".into(),
        caller_name: Some("张三".into()),
        description: "有人打架".into(),
        lat: 31.2,
        lng: 121.4,
        address: Some("人民路1号".into()),
        received_at: at,
    }
}

fn entry(at: i64, kind: &str, unit: Option<i64>) -> NewTimelineEntry {
    NewTimelineEntry {
        at,
        kind: kind.into(),
        actor: "u1".into(),
        detail: format!("{kind} detail"),
        unit_id: unit,
        data: "{}".into(),
    }
}

async fn case_incidents(s: &Store) {
    let (city, st) = station(s).await;
    let new = |day: &str, at: i64| NewIncident {
        day: day.into(),
        status: "created".into(),
        type_code: None,
        priority: None,
        org_id: st.id,
        call: call(at),
        timeline: vec![entry(at, "created", None)],
    };
    let a = s
        .create_incident(&new("20261124", 1000), 1000)
        .await
        .unwrap();
    let b = s
        .create_incident(&new("20261124", 2000), 2000)
        .await
        .unwrap();
    let c = s
        .create_incident(&new("20261125", 3000), 3000)
        .await
        .unwrap();
    assert_eq!(a.number, "JQ20261124000001");
    assert_eq!(b.number, "JQ20261124000002");
    assert_eq!(c.number, "JQ20261125000001");
    assert_eq!(a.org_path, st.path);
    assert_eq!(a.caller_name.as_deref(), Some("张三"));
    assert_eq!(a.address.as_deref(), Some("人民路1号"));
    assert!(matches!(
        s.create_incident(&new("2026-11", 1), 1).await,
        Err(StoreError::Corrupt { .. })
    ));

    // Patch with timeline in one step; dispatched_at keeps the first value.
    let p = IncidentPatch {
        status: Some("dispatched".into()),
        type_code: Some("fight".into()),
        priority: Some("P2".into()),
        dispatched_at: Some(1500),
        ..Default::default()
    };
    let a2 = s
        .update_incident(a.id, &p, &[entry(1500, "dispatched", Some(7))], 1500)
        .await
        .unwrap();
    assert_eq!(a2.status, "dispatched");
    assert_eq!(a2.type_code.as_deref(), Some("fight"));
    assert_eq!(a2.dispatched_at, Some(1500));
    let again = IncidentPatch {
        dispatched_at: Some(9999),
        ..Default::default()
    };
    let a3 = s.update_incident(a.id, &again, &[], 1600).await.unwrap();
    assert_eq!(a3.dispatched_at, Some(1500));
    assert_eq!(a3.status, "dispatched");
    let tl = s.incident_timeline(a.id).await.unwrap();
    assert_eq!(
        tl.iter().map(|t| t.entry.kind.as_str()).collect::<Vec<_>>(),
        ["created", "dispatched"]
    );
    assert_eq!(tl[1].entry.unit_id, Some(7));
    assert!(matches!(
        s.update_incident(999_999, &p, &[], 1).await,
        Err(StoreError::NotFound { .. })
    ));

    // Close then reopen.
    let closed = IncidentPatch {
        status: Some("closed".into()),
        disposition: Some("resolved".into()),
        closed_at: Some(5000),
        ..Default::default()
    };
    let a4 = s.update_incident(a.id, &closed, &[], 5000).await.unwrap();
    assert_eq!(a4.closed_at, Some(5000));
    assert_eq!(a4.disposition.as_deref(), Some("resolved"));
    let reopen = IncidentPatch {
        status: Some("classified".into()),
        reopen: true,
        ..Default::default()
    };
    let a5 = s.update_incident(a.id, &reopen, &[], 6000).await.unwrap();
    assert_eq!(a5.closed_at, None);
    assert_eq!(a5.disposition, None);

    // Transfer moves the org path.
    let tr = IncidentPatch {
        org_id: Some(city.id),
        ..Default::default()
    };
    let b2 = s.update_incident(b.id, &tr, &[], 2500).await.unwrap();
    assert_eq!(b2.org_path, city.path);

    // Lists: scope, filters, open flag.
    let all = IncidentFilter {
        path_prefix: city.path.clone(),
        ..Default::default()
    };
    let (rows, total) = s.list_incidents(&all, Page::default()).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(rows[0].id, c.id, "newest first");
    let station_only = IncidentFilter {
        path_prefix: st.path.clone(),
        ..Default::default()
    };
    assert_eq!(
        s.list_incidents(&station_only, Page::default())
            .await
            .unwrap()
            .1,
        2
    );
    let since = IncidentFilter {
        path_prefix: city.path.clone(),
        since: Some(2000),
        until: Some(3000),
        ..Default::default()
    };
    let (rows, _) = s.list_incidents(&since, Page::default()).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [b.id]);
    s.update_incident(c.id, &closed, &[], 5000).await.unwrap();
    let open = IncidentFilter {
        path_prefix: city.path.clone(),
        open: true,
        ..Default::default()
    };
    assert_eq!(s.list_incidents(&open, Page::default()).await.unwrap().1, 2);
    let by_prio = IncidentFilter {
        path_prefix: city.path.clone(),
        priority: Some("P2".into()),
        ..Default::default()
    };
    assert_eq!(
        s.list_incidents(&by_prio, Page::default()).await.unwrap().1,
        1
    );
    assert_eq!(
        s.find_incident_by_number("JQ20261124000002")
            .await
            .unwrap()
            .map(|r| r.id),
        Some(b.id)
    );

    // Calls.
    let mut dup = call(2100);
    dup.caller_phone = "13900000000".into();
    s.add_call(b.id, &dup, &entry(2100, "call_merged", None))
        .await
        .unwrap();
    let calls = s.incident_calls(b.id).await.unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].call.caller_phone, "13900000000");
    assert_eq!(s.incident_timeline(b.id).await.unwrap().len(), 2);

    // Assignments: insert then update in place.
    let mut asg = AssignmentRow {
        incident_id: a.id,
        unit_id: 7,
        seq: 1,
        stage: "dispatched".into(),
        dispatched_at: 1500,
        acknowledged_at: None,
        arrived_at: None,
        cleared_at: None,
    };
    s.put_assignment(&asg).await.unwrap();
    asg.stage = "on_scene".into();
    asg.acknowledged_at = Some(1600);
    asg.arrived_at = Some(1900);
    s.put_assignment(&asg).await.unwrap();
    let second = AssignmentRow {
        unit_id: 8,
        ..asg.clone()
    };
    s.put_assignment(&second).await.unwrap();
    let list = s.incident_assignments(a.id).await.unwrap();
    assert_eq!(list, vec![asg, second]);
}

async fn case_handoffs(s: &Store) {
    let (_, st) = station(s).await;
    let inc = s
        .create_incident(
            &NewIncident {
                day: "20261124".into(),
                status: "classified".into(),
                type_code: Some("noise".into()),
                priority: Some("P4".into()),
                org_id: st.id,
                call: call(1000),
                timeline: vec![],
            },
            1000,
        )
        .await
        .unwrap();
    s.upsert_partner(&PartnerRow {
        code: "12345".into(),
        name: "市民热线".into(),
        webhook_url: "http://127.0.0.1:1/a".into(),
        secret: "s1".into(),
        updated_at: 1,
    })
    .await
    .unwrap();
    s.upsert_partner(&PartnerRow {
        code: "12345".into(),
        name: "市民热线".into(),
        webhook_url: "http://127.0.0.1:2/b".into(),
        secret: "s2".into(),
        updated_at: 2,
    })
    .await
    .unwrap();
    let p = s.find_partner("12345").await.unwrap().unwrap();
    assert_eq!(p.webhook_url, "http://127.0.0.1:2/b");
    assert_eq!(p.secret, "s2");
    assert_eq!(s.find_partner("120").await.unwrap(), None);

    let ids = s
        .enqueue_handoffs(
            &[
                NewHandoff {
                    incident_id: inc.id,
                    partner: "12345".into(),
                    seed: 42,
                    payload: "{\"a\":1}".into(),
                    history: "[]".into(),
                },
                NewHandoff {
                    incident_id: inc.id,
                    partner: "120".into(),
                    seed: -5,
                    payload: "{}".into(),
                    history: "[]".into(),
                },
            ],
            2000,
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(s.due_handoffs(1999, 10).await.unwrap().len(), 0);
    let due = s.due_handoffs(2000, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[1].seed, -5);
    assert_eq!(s.next_handoff_due().await.unwrap(), Some(2000));

    // A failed attempt reschedules; a stale writer is refused.
    let mut h = due[0].clone();
    h.attempts = 1;
    h.next_attempt_at = Some(3000);
    h.history = "[{\"state\":\"queued\"}]".into();
    assert!(s.update_handoff(&h, "queued", 2001).await.unwrap());
    h.status = "sent".into();
    h.next_attempt_at = None;
    assert!(s.update_handoff(&h, "queued", 3001).await.unwrap());
    assert!(!s.update_handoff(&h, "queued", 3002).await.unwrap());
    let got = s.get_handoff(h.id).await.unwrap();
    assert_eq!(got.status, "sent");
    assert_eq!(got.attempts, 1);
    assert_eq!(got.next_attempt_at, None);
    assert_eq!(s.due_handoffs(10_000, 10).await.unwrap().len(), 1);
    assert_eq!(s.incident_handoffs(inc.id).await.unwrap().len(), 2);
    assert!(matches!(
        s.get_handoff(999_999).await,
        Err(StoreError::NotFound { .. })
    ));

    // Taxonomy overrides, in update order; removal is spec None.
    s.put_taxonomy_override(&TaxonomyOverrideRow {
        code: "noise".into(),
        spec: Some("{\"code\":\"noise\"}".into()),
        updated_by: "admin".into(),
        updated_at: 5,
    })
    .await
    .unwrap();
    s.put_taxonomy_override(&TaxonomyOverrideRow {
        code: "drone".into(),
        spec: None,
        updated_by: "admin".into(),
        updated_at: 6,
    })
    .await
    .unwrap();
    let o = s.taxonomy_overrides().await.unwrap();
    assert_eq!(
        o.iter().map(|o| o.code.as_str()).collect::<Vec<_>>(),
        ["noise", "drone"]
    );
    assert_eq!(o[1].spec, None);
}

/// Intake's one-transaction path and the duplicate candidates' box query.
async fn case_intake_paths(s: &Store) {
    let (_city, st) = station(s).await;
    let at_point = |lat: f64, lng: f64, at: i64| NewIncident {
        day: "20261124".into(),
        status: "created".into(),
        type_code: None,
        priority: None,
        org_id: st.id,
        call: NewCall {
            lat,
            lng,
            ..call(at)
        },
        timeline: vec![
            entry(at, "created", None),
            entry(at + 5, "classified", None),
        ],
    };
    let classify = IncidentPatch {
        status: Some("classified".into()),
        type_code: Some("fight".into()),
        priority: Some("P2".into()),
        ..Default::default()
    };
    let a = s
        .create_incident_changed(&at_point(31.2, 121.4, 1000), &classify, 1005)
        .await
        .unwrap();
    assert_eq!(a.number, "JQ20261124000001");
    assert_eq!(
        (
            a.status.as_str(),
            a.type_code.as_deref(),
            a.priority.as_deref()
        ),
        ("classified", Some("fight"), Some("P2"))
    );
    assert_eq!((a.created_at, a.updated_at), (1000, 1005));
    assert_eq!(a, s.get_incident(a.id).await.unwrap());
    let kinds: Vec<String> = s
        .incident_timeline(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.entry.kind)
        .collect();
    assert_eq!(kinds, ["created", "classified"]);
    let moving = IncidentPatch {
        org_id: Some(st.id),
        ..classify.clone()
    };
    assert!(matches!(
        s.create_incident_changed(&at_point(31.2, 121.4, 1000), &moving, 1005)
            .await,
        Err(StoreError::Corrupt {
            field: "incident.org_id",
            ..
        })
    ));

    // Near a (inside the box), far away, too old, and closed.
    let b = s
        .create_incident(&at_point(31.2010, 121.4010, 2000), 2000)
        .await
        .unwrap();
    s.create_incident(&at_point(31.3, 121.4, 2000), 2000)
        .await
        .unwrap();
    s.create_incident(&at_point(31.2, 121.4, 10), 10)
        .await
        .unwrap();
    let c = s
        .create_incident(&at_point(31.2001, 121.3999, 3000), 3000)
        .await
        .unwrap();
    let closed = IncidentPatch {
        status: Some("closed".into()),
        closed_at: Some(3500),
        disposition: Some("resolved".into()),
        ..Default::default()
    };
    s.update_incident(c.id, &closed, &[], 3500).await.unwrap();
    let near = s
        .open_incidents_near((31.195, 31.205), (121.395, 121.405), 500, 10)
        .await
        .unwrap();
    let ids: Vec<i64> = near.iter().map(|r| r.id).collect();
    assert_eq!(ids, [b.id, a.id], "newest first, open, in box and window");
    let one = s
        .open_incidents_near((31.195, 31.205), (121.395, 121.405), 500, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);

    // A change with its assignments in one transaction; a foreign one is refused
    // and leaves nothing behind.
    let asg = AssignmentRow {
        incident_id: a.id,
        unit_id: 7,
        seq: 1,
        stage: "dispatched".into(),
        dispatched_at: 4000,
        acknowledged_at: None,
        arrived_at: None,
        cleared_at: None,
    };
    let dispatched = IncidentPatch {
        status: Some("dispatched".into()),
        dispatched_at: Some(4000),
        ..Default::default()
    };
    let foreign = AssignmentRow {
        incident_id: b.id,
        ..asg.clone()
    };
    assert!(matches!(
        s.update_incident_with_assignments(
            a.id,
            &dispatched,
            &[entry(4000, "dispatched", Some(7))],
            &[foreign],
            &[],
            4000
        )
        .await,
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(s.get_incident(a.id).await.unwrap().status, "classified");
    assert!(s.incident_assignments(b.id).await.unwrap().is_empty());
    let a2 = s
        .update_incident_with_assignments(
            a.id,
            &dispatched,
            &[entry(4000, "dispatched", Some(7))],
            std::slice::from_ref(&asg),
            &[],
            4000,
        )
        .await
        .unwrap();
    assert_eq!(
        (a2.status.as_str(), a2.dispatched_at),
        ("dispatched", Some(4000))
    );
    assert_eq!(s.incident_assignments(a.id).await.unwrap(), vec![asg]);
    assert_eq!(s.incident_timeline(a.id).await.unwrap().len(), 3);
    assert!(matches!(
        s.update_incident_with_assignments(999_999, &dispatched, &[], &[], &[], 1)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Unit status changes are compare-and-set, alone and inside an incident's
/// change: the loser of a race gets `Changed` and writes nothing.
async fn case_unit_moves(s: &Store) {
    let (_, st) = station(s).await;
    let unit = s
        .create_unit(
            &NewUnit {
                callsign: "巡1".into(),
                kind: "patrol_car".into(),
                org_id: st.id,
                status: "available".into(),
                capabilities: vec![],
                position: None,
            },
            1000,
        )
        .await
        .unwrap();
    let new = |at: i64| NewIncident {
        day: "20261124".into(),
        status: "classified".into(),
        type_code: Some("fight".into()),
        priority: Some("P2".into()),
        org_id: st.id,
        call: call(at),
        timeline: vec![entry(at, "created", None)],
    };
    let a = s.create_incident(&new(1000), 1000).await.unwrap();
    let b = s.create_incident(&new(1100), 1100).await.unwrap();
    let dispatched = IncidentPatch {
        status: Some("dispatched".into()),
        dispatched_at: Some(2000),
        ..Default::default()
    };
    let take = |incident: i64| UnitMove {
        unit_id: unit.id,
        from: vec!["available".into(), "busy".into()],
        to: "dispatched".into(),
        incident_id: Some(incident),
    };
    // The first dispatch takes the unit with the incident's change.
    let a2 = s
        .update_incident_with_assignments(
            a.id,
            &dispatched,
            &[entry(2000, "dispatched", Some(unit.id))],
            &[],
            &[take(a.id)],
            2000,
        )
        .await
        .unwrap();
    assert_eq!(a2.status, "dispatched");
    let u = s.get_unit(unit.id).await.unwrap();
    assert_eq!(
        (u.status.as_str(), u.incident_id),
        ("dispatched", Some(a.id))
    );
    // A second dispatch that checked the unit as available before loses:
    // its incident row and timeline stay as they were.
    let lost = s
        .update_incident_with_assignments(
            b.id,
            &dispatched,
            &[entry(2100, "dispatched", Some(unit.id))],
            &[],
            &[take(b.id)],
            2100,
        )
        .await;
    match lost {
        Err(StoreError::Changed { field, message, .. }) => {
            assert_eq!(field, "status");
            assert!(
                message.contains("is no longer available or busy"),
                "{message}"
            );
        }
        other => panic!("expected Changed, got {other:?}"),
    }
    assert_eq!(s.get_incident(b.id).await.unwrap().status, "classified");
    assert_eq!(s.incident_timeline(b.id).await.unwrap().len(), 1);
    let u = s.get_unit(unit.id).await.unwrap();
    assert_eq!(
        (u.status.as_str(), u.incident_id),
        ("dispatched", Some(a.id))
    );
    // Alone: a stand-down from the checked status applies once.
    let stand_down = UnitMove {
        unit_id: unit.id,
        from: vec!["dispatched".into()],
        to: "available".into(),
        incident_id: None,
    };
    s.move_unit(&stand_down, 3000).await.unwrap();
    assert!(matches!(
        s.move_unit(&stand_down, 3001).await,
        Err(StoreError::Changed { .. })
    ));
    let u = s.get_unit(unit.id).await.unwrap();
    assert_eq!((u.status.as_str(), u.incident_id), ("available", None));
    // A status that merely contains an expected one does not match.
    assert!(matches!(
        s.move_unit(
            &UnitMove {
                from: vec!["avail".into()],
                ..stand_down.clone()
            },
            3002
        )
        .await,
        Err(StoreError::Changed { .. })
    ));
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_unit_moves(&$dbs.open("unit_moves").await).await;
        case_incidents(&$dbs.open("incidents").await).await;
        case_handoffs(&$dbs.open("handoffs").await).await;
        case_intake_paths(&$dbs.open("intake").await).await;
    }};
}

#[tokio::test]
async fn dispatch_suite_sqlite() {
    let dbs = pg::Databases::sqlite("dispatch");
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn dispatch_suite_postgres() {
    let dbs = pg::Databases::postgres("d").await;
    suite!(dbs);
    dbs.finish().await;
}
