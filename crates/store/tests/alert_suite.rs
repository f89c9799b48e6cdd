//! Early-warning tables (sensors, watches, alerts, raw events) run unchanged
//! against SQLite and a real PostgreSQL on 127.0.0.1.

mod pg;

use pingan_store::*;

async fn orgs(s: &Store) -> (OrgRow, OrgRow) {
    pg::city_and_station(s, "一派出所").await
}

async fn case_sensors(s: &Store) {
    let (city, st) = orgs(s).await;
    let a = s
        .create_sensor(
            &NewSensor {
                id: "CP-1".into(),
                kind: "checkpoint".into(),
                name: "卡口一".into(),
                org_id: st.id,
                position: Some((30.5, 104.0)),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(a.org_path, st.path);
    assert_eq!(a.status, "active");
    assert_eq!((a.lat, a.lng, a.last_seen), (Some(30.5), Some(104.0), None));
    let dup = s
        .create_sensor(
            &NewSensor {
                id: "CP-1".into(),
                kind: "drone".into(),
                name: "x".into(),
                org_id: city.id,
                position: None,
            },
            11,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(dup, StoreError::Conflict { field: "id", .. }),
        "{dup}"
    );
    s.create_sensor(
        &NewSensor {
            id: "DR-1".into(),
            kind: "drone".into(),
            name: "无人机".into(),
            org_id: city.id,
            position: None,
        },
        12,
    )
    .await
    .unwrap();
    let (in_station, n) = s.list_sensors(&st.path, Page::default()).await.unwrap();
    assert_eq!((in_station.len(), n), (1, 1));
    assert_eq!(s.all_sensors().await.unwrap().len(), 2);
    // last_seen only moves forward; status changes when given.
    s.update_sensor_liveness("CP-1", None, Some(500), 20)
        .await
        .unwrap();
    s.update_sensor_liveness("CP-1", Some("silent"), Some(400), 30)
        .await
        .unwrap();
    let a = s.get_sensor("CP-1").await.unwrap();
    assert_eq!(
        (a.status.as_str(), a.last_seen, a.updated_at),
        ("silent", Some(500), 30)
    );
    // The write-behind touch also only moves forward and leaves the status alone.
    s.touch_sensors(&[("CP-1".into(), 450), ("DR-1".into(), 900)], 40)
        .await
        .unwrap();
    let a = s.get_sensor("CP-1").await.unwrap();
    assert_eq!(
        (a.status.as_str(), a.last_seen, a.updated_at),
        ("silent", Some(500), 40)
    );
    assert_eq!(s.get_sensor("DR-1").await.unwrap().last_seen, Some(900));
    assert!(matches!(
        s.get_sensor("nope").await,
        Err(StoreError::NotFound {
            entity: "sensor",
            ..
        })
    ));
}

fn watch(label: &str, org_path: &str) -> NewWatch {
    NewWatch {
        label: label.into(),
        spec: format!("{{\"label\":\"{label}\"}}"),
        legal_basis: "刑事诉讼法第一百五十条".into(),
        case_ref: "CASE-1".into(),
        owner: "analyst".into(),
        org_path: org_path.into(),
        expires_at: 1_000,
        created_by: "analyst".into(),
    }
}

async fn case_watches(s: &Store) {
    let (city, st) = orgs(s).await;
    let w1 = s.create_watch(&watch("w1", &st.path), 5).await.unwrap();
    let w2 = s.create_watch(&watch("w2", &city.path), 6).await.unwrap();
    assert_eq!(w1.status, "active");
    assert_eq!(w1.legal_basis, "刑事诉讼法第一百五十条");
    assert_eq!(s.active_watches().await.unwrap().len(), 2);
    let mut changed = watch("w1b", &st.path);
    changed.expires_at = 2_000;
    let w1b = s.update_watch(w1.id, &changed, 7).await.unwrap();
    assert_eq!(
        (w1b.label.as_str(), w1b.expires_at, w1b.updated_at),
        ("w1b", 2_000, 7)
    );
    assert!(s.end_watch(w2.id, "expired", 1_000).await.unwrap());
    assert!(!s.end_watch(w2.id, "cancelled", 1_001).await.unwrap());
    let w2 = s.get_watch(w2.id).await.unwrap();
    assert_eq!((w2.status.as_str(), w2.ended_at), ("expired", Some(1_000)));
    // An ended watch cannot be changed.
    let e = s.update_watch(w2.id, &changed, 8).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict { field: "status", ref value, .. } if value == "expired")
    );
    let active = s.active_watches().await.unwrap();
    assert_eq!(active.iter().map(|w| w.id).collect::<Vec<_>>(), vec![w1.id]);
    let (scoped, n) = s
        .list_watches(
            &WatchFilter {
                path_prefix: st.path.clone(),
                status: None,
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!((scoped.len(), n, scoped[0].id), (1, 1, w1.id));
}

async fn case_alerts(s: &Store) {
    let (city, st) = orgs(s).await;
    let mk = |rule: &str, path: &str, time: i64| NewAlert {
        rule: rule.into(),
        watch_id: Some(1),
        org_path: path.into(),
        priority: "high".into(),
        time,
        draft: format!("{{\"rule\":\"{rule}\"}}"),
    };
    let ids = s
        .create_alerts(
            &[
                mk("sighting", &st.path, 100),
                mk("frequency", &st.path, 200),
                mk("sighting", &city.path, 300),
            ],
            400,
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let a = s.get_alert(ids[0]).await.unwrap();
    assert_eq!(
        (a.status.as_str(), a.hits, a.history.as_str(), a.time),
        ("new", 1, "[]", 100)
    );
    let all = |f: AlertFilter| async move { s.list_alerts(&f, Page::default()).await.unwrap() };
    let (rows, n) = all(AlertFilter {
        path_prefix: city.path.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(n, 3);
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1], ids[0]],
        "newest first"
    );
    let (rows, _) = all(AlertFilter {
        path_prefix: st.path.clone(),
        rule: Some("sighting".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[0]]);
    let (_, n) = all(AlertFilter {
        path_prefix: "/".into(),
        since: Some(200),
        ..Default::default()
    })
    .await;
    assert_eq!(n, 2);

    let change = AlertLifecycle {
        expected_status: "new".into(),
        status: "acknowledged".into(),
        history: "[{\"to\":\"acknowledged\"}]".into(),
        outcome: None,
        incident_id: None,
    };
    let a = s
        .update_alert_lifecycle(ids[0], &change, 500)
        .await
        .unwrap();
    assert_eq!((a.status.as_str(), a.updated_at), ("acknowledged", 500));
    // The same change again loses the race: the alert is no longer `new`.
    let e = s
        .update_alert_lifecycle(ids[0], &change, 501)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { ref value, .. } if value == "acknowledged"));
    s.add_alert_hits(ids[0], 4, 502).await.unwrap();
    assert_eq!(s.get_alert(ids[0]).await.unwrap().hits, 5);
    let (_, n) = all(AlertFilter {
        path_prefix: "/".into(),
        status: Some("new".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(n, 2);
}

async fn case_events(s: &Store) {
    let ev = |at: i64, hit: bool| NewEvent {
        at,
        sensor_id: "CP-1".into(),
        raw: format!("{{\"time\":{at}}}"),
        hit,
    };
    // More than one multi-row chunk.
    let mut batch: Vec<NewEvent> = (0..1_200).map(|i| ev(i, false)).collect();
    batch.push(ev(5, true));
    batch.push(ev(5_000, false));
    assert_eq!(s.insert_events(&batch).await.unwrap(), 1_202);
    assert_eq!(s.count_events().await.unwrap(), (1_202, 1));
    // Retention: only unhit events before the cut-off go.
    assert_eq!(s.purge_events(1_000).await.unwrap(), 1_000);
    assert_eq!(s.count_events().await.unwrap(), (202, 1));
    assert_eq!(s.purge_events(10_000).await.unwrap(), 201);
    assert_eq!(s.count_events().await.unwrap(), (1, 1));
    // A purge larger than one delete chunk removes everything due.
    let big: Vec<NewEvent> = (0..12_345).map(|i| ev(20_000 + i, false)).collect();
    assert_eq!(s.insert_events(&big).await.unwrap(), 12_345);
    assert_eq!(s.purge_events(20_000 + 12_000).await.unwrap(), 12_000);
    assert_eq!(s.count_events().await.unwrap(), (346, 1));
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_sensors(&$dbs.open("sensors").await).await;
        case_watches(&$dbs.open("watches").await).await;
        case_alerts(&$dbs.open("alerts").await).await;
        case_events(&$dbs.open("events").await).await;
    }};
}

#[tokio::test]
async fn alert_suite_sqlite() {
    let dbs = pg::Databases::sqlite("alert");
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn alert_suite_postgres() {
    let dbs = pg::Databases::postgres("a").await;
    suite!(dbs);
    dbs.finish().await;
}

/// SQLite keeps raw events in a file of their own: raw events an older
/// version stored in the main file move over once (ids kept, nothing moved
/// twice), and a write lock held on the main file does not hold up raw-event
/// inserts (the reason for the split: alert writes take that lock).
#[tokio::test]
async fn sqlite_raw_events_have_their_own_file() {
    use sqlx::Connection;
    let dbs = pg::Databases::sqlite("alert-events-file");
    let pg::Databases::Sqlite { root } = &dbs else {
        unreachable!("a SQLite set")
    };
    let main = root.join("pingan.db");
    let main = main.to_str().unwrap();
    assert_eq!(
        event_db_path(main),
        root.join("pingan.events.db").to_str().unwrap()
    );
    assert_eq!(event_db_path("/x/data"), "/x/data.events.db");
    let ev = |at: i64, hit: bool| NewEvent {
        at,
        sensor_id: "CP-1".into(),
        raw: format!("{{\"time\":{at}}}"),
        hit,
    };

    let s = Store::open(main).await.unwrap();
    // The earlier layout: rows in the main file's own alert_events table.
    s.execute_raw(
        "INSERT INTO alert_events (id, at, sensor_id, raw, hit) VALUES \
         (7, 1, 'CP-1', '{\"time\":1}', 1), (8, 2, 'CP-1', '{\"time\":2}', 0)",
    )
    .await
    .unwrap();
    s.close().await;
    let s = Store::open(main).await.unwrap();
    assert_eq!(s.count_events().await.unwrap(), (2, 1));
    // The main file's table was emptied by the move.
    assert_eq!(s.execute_raw("DELETE FROM alert_events").await.unwrap(), 0);
    assert_eq!(s.insert_events(&[ev(3, false)]).await.unwrap(), 1);

    // Another connection holds the main file's write lock …
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{main}"))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    // … and raw events are still stored (the main file's busy timeout is 10 s).
    let inserted = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        s.insert_events(&[ev(4, false), ev(5, true)]),
    )
    .await
    .expect("raw-event insert waited for the main file's write lock");
    assert_eq!(inserted.unwrap(), 2);
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    assert_eq!(s.count_events().await.unwrap(), (5, 2));
    assert_eq!(s.purge_events(10).await.unwrap(), 3);
    s.close().await;

    // Reopening moves nothing twice.
    let s = Store::open(main).await.unwrap();
    assert_eq!(s.count_events().await.unwrap(), (2, 2));
    s.close().await;
    dbs.finish().await;
}
