//! The demo's early-warning life end to end: seeded sensors and watches, the
//! background feed of synthetic events raising alerts (stored, routed to the
//! sensor's station, broadcast live), the resident's door that stays shut
//! flagged as a silent sensor, and the retention purge of raw events.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::TestApp;
use pingan_server::alert_feed::{DEMO_MARKER, FeedMarker, SEEDED_BY, seed_demo};
use pingan_store::NewEvent;
use reqwest::StatusCode;
use serde_json::Value;

const PURPOSE: (&str, &str) = ("X-Purpose", "演示 预警联调");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_feed_raises_alerts_on_the_seeded_watches_and_flags_the_quiet_door() {
    let mut cfg = pingan_server::Config::default();
    cfg.alerts.demo_feed_rate = 400.0;
    cfg.alerts.demo_feed_hit_share = 0.05;
    cfg.alerts.sensor_silent_after_secs = 2;
    cfg.alerts.raw_flush_ms = 100;
    let app = TestApp::with_config(cfg).await;
    let admin = app.login("admin").await;
    let mut live = app.state.live.subscribe();

    let report = seed_demo(&app.state, 2026).await.unwrap();
    let sensors = app.state.store.all_sensors().await.unwrap();
    assert_eq!(sensors.len(), report.sensors);
    let count = |prefix: &str, kind: &str| {
        sensors
            .iter()
            .filter(|s| s.id.starts_with(prefix) && s.kind == kind)
            .count()
    };
    let checkpoints = count("KK-", "checkpoint");
    assert!((4..=12).contains(&checkpoints), "{checkpoints} checkpoints");
    assert_eq!(count("MJ-", "access_control"), 8);
    assert_eq!(count("DJ-", "check_in"), 6);
    assert_eq!(count("MC-", "smart_lock"), 3);
    assert_eq!(report.sensors, checkpoints + 17);
    // Three watched plates, two watched people, three elderly residents; each
    // with legal basis, case reference and an expiry within the 90-day limit.
    let watches = app.state.store.active_watches().await.unwrap();
    assert_eq!((report.watches, watches.len()), (8, 8));
    let now = app.state.now_ms();
    for w in &watches {
        assert_eq!(w.created_by, SEEDED_BY);
        assert!(!w.legal_basis.is_empty() && !w.case_ref.is_empty(), "{w:?}");
        assert!(w.expires_at > now && w.expires_at <= now + 90 * 86_400_000);
    }
    let marker: FeedMarker = serde_json::from_str(
        &app.state
            .store
            .get_meta(DEMO_MARKER)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(marker.quiet_sensors, vec!["MC-03".to_string()]);

    // Alerts appear live while the feed runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut created = Vec::new();
    while created.len() < 3 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), live.recv()).await {
            Ok(Ok(ev)) if ev.name == "alert.created" => created.push(ev),
            Ok(_) => {}
            Err(_) => {}
        }
    }
    assert!(created.len() >= 3, "only {} live alerts", created.len());
    for ev in &created {
        // The live notice masks identifiers.
        let v = ev.data["identifiers"][0]["value"].as_str().unwrap();
        assert!(v.contains('*'), "{v}");
    }

    // Stored alerts: only on the seeded watches, by the rules they carry,
    // routed to the station that owns the sensor.
    app.state.alerts.flush().await.unwrap();
    let (status, list) = app
        .get_with("/api/v1/alerts?limit=200", &admin, &[PURPOSE])
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    assert!(items.len() >= 3, "{list}");
    let by_id: HashMap<i64, &pingan_store::WatchRow> = watches.iter().map(|w| (w.id, w)).collect();
    let sensor_org: HashMap<&str, &str> = sensors
        .iter()
        .map(|s| (s.id.as_str(), s.org_path.as_str()))
        .collect();
    for item in items {
        let w = by_id[&item["watch_id"].as_i64().unwrap()];
        let rule = item["rule"].as_str().unwrap();
        let spec: Value = serde_json::from_str(&w.spec).unwrap();
        let expected = match spec["condition"]["type"].as_str().unwrap() {
            "sighting" => "sighting",
            "frequency" => "frequency",
            other => panic!("the feed raised a {rule} alert on a {other} watch"),
        };
        assert_eq!(rule, expected, "{item}");
        let sensor = item["sensor_id"].as_str().unwrap();
        assert_ne!(sensor, "MC-03");
        assert_eq!(item["org_path"], sensor_org[sensor], "{item}");
    }
    let (stored, hits) = app.state.store.count_events().await.unwrap();
    assert!(
        hits >= items.len() as i64 && stored > hits,
        "{stored} {hits}"
    );

    // The quiet door is flagged silent with no last-seen time; every other
    // sensor, fed continuously, is live with one.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (quiet, others) = loop {
        let (status, page) = app.get("/api/v1/sensors?limit=100", &admin).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap().clone();
        let quiet = items.iter().find(|s| s["id"] == "MC-03").unwrap().clone();
        let others: Vec<Value> = items.into_iter().filter(|s| s["id"] != "MC-03").collect();
        let settled = quiet["silent"] == true
            && others
                .iter()
                .all(|s| s["silent"] == false && s["last_seen_at"].is_string());
        if settled || Instant::now() > deadline {
            break (quiet, others);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(quiet["silent"], true, "{quiet}");
    assert_eq!(quiet["status"], "silent");
    assert!(quiet["last_seen_at"].is_null(), "{quiet}");
    assert_eq!(others.len(), report.sensors - 1);
    for s in &others {
        assert_eq!(s["silent"], false, "{s}");
        assert!(s["last_seen_at"].is_string(), "{s}");
    }
    let fed: HashSet<&str> = others.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(fed.contains("MC-01") && fed.contains("MC-02"));
    app.stop().await;
}

#[tokio::test]
async fn raw_events_past_retention_are_purged_unless_they_hit() {
    let mut cfg = pingan_server::Config::default();
    cfg.alerts.event_retention_hours = 1;
    cfg.alerts.purge_every_secs = 1;
    let app = TestApp::with_config(cfg).await;
    let now = app.state.now_ms();
    let ev = |at: i64, hit: bool| NewEvent {
        at,
        sensor_id: "KK-01".into(),
        raw: format!("{{\"time\":{at}}}"),
        hit,
    };
    let two_hours_ago = now - 2 * 3_600_000;
    app.state
        .store
        .insert_events(&[
            ev(two_hours_ago, false),
            ev(two_hours_ago + 1, false),
            ev(two_hours_ago, true),
            ev(now - 60_000, false),
        ])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut counts = app.state.store.count_events().await.unwrap();
    while counts != (2, 1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        counts = app.state.store.count_events().await.unwrap();
    }
    // The hit and the recent event stay.
    assert_eq!(counts, (2, 1));
    app.stop().await;
}
