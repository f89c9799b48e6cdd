//! Early warning end to end over HTTP: sensors, sensor keys, watches (with
//! their mandatory legal basis), event ingestion with per-line rejections,
//! alerts routed to the responsible station, lifecycle, CAP export, audit of
//! personal-data reads, and replay of the same file giving the same alerts.

mod common;

use common::{TestApp, error_code};
use geo::Centroid;
use pingan_server::alerts::{AlertDraftDto, ReplaySensor, ReplayWatch, replay_file};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PURPOSE: (&str, &str) = ("X-Purpose", "案件侦查 CASE-2026-001");
const PLATE: &str = "川A12345";

struct Station {
    org_id: i64,
    path: String,
    /// A point well inside the station's area.
    center: (f64, f64),
}

async fn station_of(app: &TestApp, username: &str) -> Station {
    let user = app
        .state
        .store
        .get_user_by_username(username)
        .await
        .unwrap()
        .unwrap();
    let org = app.state.store.get_org(user.org_id).await.unwrap();
    let j = app.state.jurisdiction();
    let area = j.node(org.id).unwrap().area.clone().unwrap();
    let c = area.centroid().unwrap();
    Station {
        org_id: org.id,
        path: org.path,
        center: (c.y(), c.x()),
    }
}

async fn sensor(app: &TestApp, admin: &str, id: &str, st: &Station) {
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/sensors",
            Some(admin),
            Some(json!({"id": id, "kind": "checkpoint", "name": format!("卡口 {id}"), "org_id": st.org_id,
                "location": {"lat": st.center.0, "lng": st.center.1}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn sensor_key(app: &TestApp, admin: &str, st: &Station) -> String {
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/apikeys",
            Some(admin),
            Some(json!({"name": "checkpoint feed", "role": "sensor", "org_id": st.org_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["secret"].as_str().unwrap().to_string()
}

fn watch_body(app: &TestApp) -> Value {
    json!({
        // Named after the plate, as watches often are: lists must mask it here too.
        "label": format!("盗抢车辆 {PLATE}"),
        "target": {"type": "identifiers", "identifiers": [{"kind": "plate", "value": PLATE}]},
        "legal_basis": "公安机关办理刑事案件程序规定 第二百六十四条",
        "case_ref": "CASE-2026-001",
        "expires_at": app.state.now_ms() + 86_400_000,
        "priority": "high"
    })
}

async fn post_watch(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.raw(
        "POST",
        "/api/v1/watches",
        Some(token),
        "application/json",
        body.to_string().into_bytes(),
        &[PURPOSE],
    )
    .await
}

async fn events(app: &TestApp, key: &str, ndjson: &str) -> (StatusCode, Value) {
    app.raw(
        "POST",
        "/api/v1/events",
        Some(key),
        "application/x-ndjson",
        ndjson.as_bytes().to_vec(),
        &[],
    )
    .await
}

fn plate_event(sensor: &str, plate: &str, time: i64) -> String {
    json!({"sensor_id": sensor, "time": time, "kind": "plate_read",
        "identifiers": [{"kind": "plate", "value": plate}]})
    .to_string()
}

#[tokio::test]
async fn watch_events_alert_lifecycle_cap_jurisdiction_audit() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let analyst = app.login("analyst").await;
    let officer_a = app.login("officer01").await;
    let officer_b = app.login("officer02").await;
    let a = station_of(&app, "officer01").await;
    let b = station_of(&app, "officer02").await;
    assert_ne!(a.path, b.path);
    sensor(&app, &admin, "CP-A1", &a).await;
    sensor(&app, &admin, "CP-B1", &b).await;
    let key_a = sensor_key(&app, &admin, &a).await;

    // A watch without its legal basis is refused, naming the field.
    let mut no_basis = watch_body(&app);
    no_basis.as_object_mut().unwrap().remove("legal_basis");
    let (status, body) = post_watch(&app, &analyst, no_basis).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "invalid_field");
    assert_eq!(body["error"]["field"], "legal_basis");
    let mut no_expiry = watch_body(&app);
    no_expiry.as_object_mut().unwrap().remove("expires_at");
    let (status, body) = post_watch(&app, &analyst, no_expiry).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "expires_at");
    // A station officer may not place watches at all.
    let (status, _) = post_watch(&app, &officer_a, watch_body(&app)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, watch) = post_watch(&app, &analyst, watch_body(&app)).await;
    assert_eq!(status, StatusCode::CREATED, "{watch}");
    assert_eq!(watch["status"], "active");
    let watch_id = watch["id"].as_i64().unwrap();

    // A batch with bad lines: the good ones are accepted.
    let t = app.state.now_ms();
    let batch = [
        plate_event("CP-A1", PLATE, t),
        "{not json".to_string(),
        plate_event("CP-NOPE", PLATE, t),
        plate_event("CP-A1", "川B99999", t + 1),
        json!({"sensor_id": "CP-A1", "time": t, "kind": "plate_read",
            "identifiers": [{"kind": "dna", "value": "x"}]})
        .to_string(),
        // Station A's key may not speak for station B's sensor.
        plate_event("CP-B1", PLATE, t),
        plate_event("CP-A1", PLATE, t + 3_600_000),
    ]
    .join("\n");
    let (status, body) = events(&app, &key_a, &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 2);
    let rejected: Vec<(i64, String)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                r["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (2, String::new()),
            (3, "sensor_id".to_string()),
            (5, "identifiers[0].kind".to_string()),
            (6, "sensor_id".to_string()),
            (7, "time".to_string()),
        ],
        "{body}"
    );
    // Nothing acceptable → 422 with the same report shape; malformed JSON body → 400.
    let (status, body) = events(&app, &key_a, "{broken").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["accepted"], 0);
    // ...which also speaks the one error shape, naming the first bad line.
    assert_eq!(error_code(&body), "invalid_field");
    assert!(
        body["error"]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("line 1")),
        "{body}"
    );
    let (status, body) = app
        .raw(
            "POST",
            "/api/v1/events",
            Some(&key_a),
            "application/json",
            b"[{".to_vec(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A user without events:write cannot post events.
    let (status, _) = events(&app, &officer_a, &plate_event("CP-A1", PLATE, t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    app.state.alerts.flush().await.unwrap();

    // Reading alerts needs a purpose.
    let (status, body) = app.get("/api/v1/alerts", &officer_a).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "purpose_required");
    let (status, list) = app.get_with("/api/v1/alerts", &officer_a, &[PURPOSE]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "{list}");
    let item = &list["items"][0];
    let alert_id = item["id"].as_i64().unwrap();
    assert_eq!(item["rule"], "sighting");
    assert_eq!(item["status"], "new");
    assert_eq!(item["priority"], "high");
    assert_eq!(item["watch_id"], watch_id);
    assert_eq!(item["org_path"], a.path.as_str());
    assert_eq!(item["identifiers"][0]["kind"], "plate");
    let masked = item["identifiers"][0]["value"].as_str().unwrap();
    assert_ne!(masked, PLATE);
    assert!(masked.contains('*'), "{masked}");
    assert_eq!(item["label"], format!("盗抢车辆 {masked}"));
    // Filters.
    let (_, none) = app
        .get_with("/api/v1/alerts?rule=frequency", &officer_a, &[PURPOSE])
        .await;
    assert_eq!(none["total"], 0);
    let (_, since) = app
        .get_with(
            &format!("/api/v1/alerts?since={}", t + 1),
            &officer_a,
            &[PURPOSE],
        )
        .await;
    assert_eq!(since["total"], 0);

    // Another station's officer neither lists nor reads it.
    let (_, other) = app.get_with("/api/v1/alerts", &officer_b, &[PURPOSE]).await;
    assert_eq!(other["total"], 0);
    let path = format!("/api/v1/alerts/{alert_id}");
    let (status, _) = app.get_with(&path, &officer_b, &[PURPOSE]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The single read shows the identifier in full and is audited.
    let (status, full) = app.get_with(&path, &officer_a, &[PURPOSE]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(full["identifiers"][0]["value"], PLATE);
    assert_eq!(full["label"], format!("盗抢车辆 {PLATE}"));
    assert_eq!(full["draft"]["sensor_id"], "CP-A1");
    assert_eq!(full["draft"]["time"], t);
    assert_eq!(full["draft"]["legal_basis"], watch["legal_basis"]);
    let (reads, _) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                action: Some("alert.read".into()),
                object_id: Some(alert_id.to_string()),
                ..Default::default()
            },
            pingan_store::Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].entry.username, "officer01");
    assert_eq!(reads[0].entry.purpose.as_deref(), Some(PURPOSE.1));
    let (created, _) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                action: Some("watch.create".into()),
                ..Default::default()
            },
            pingan_store::Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].entry.object_ids, vec![watch_id.to_string()]);

    // CAP 1.2 export.
    let resp = app
        .client
        .get(format!("{}{path}/cap", app.base))
        .bearer_auth(&officer_a)
        .header(PURPOSE.0, PURPOSE.1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("application/cap+xml"), "{ctype}");
    let xml = resp.text().await.unwrap();
    assert!(
        xml.contains("xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\""),
        "{xml}"
    );
    assert!(xml.contains(&format!("<identifier>pingan-alert-{alert_id}</identifier>")));
    assert!(
        !xml.contains(PLATE),
        "the CAP export shows the plate: {xml}"
    );
    assert!(
        xml.contains(&format!("<event>盗抢车辆 {masked} (sighting)</event>")),
        "{xml}"
    );
    for tag in [
        "<sender>",
        "<sent>",
        "<status>",
        "<msgType>",
        "<scope>",
        "<info>",
    ] {
        assert!(xml.contains(tag), "missing {tag}: {xml}");
    }
    assert!(!xml.contains(PLATE), "CAP export must mask identifiers");

    // Lifecycle: new → acknowledged → verified → dispatched → closed.
    let step = |action: &'static str, body: Option<Value>| {
        let app = &app;
        let token = officer_a.clone();
        async move {
            app.call(
                "POST",
                &format!("/api/v1/alerts/{alert_id}/{action}"),
                Some(&token),
                body,
            )
            .await
        }
    };
    let (status, body) = step("dispatch", Some(json!({"incident_id": "INC-7"}))).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "unverified alert dispatched: {body}"
    );
    assert_eq!(error_code(&body), "conflict");
    let (status, body) = step("ack", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("acknowledged"))
    );
    let (status, _) = step("ack", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = step("close", Some(json!({"outcome": "true_positive"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "outcome");
    let (status, body) = step("verify", Some(json!({"note": "核对车辆照片一致"}))).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("verified"))
    );
    let (status, body) = step("dispatch", Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "incident_id");
    let (status, body) = step("dispatch", Some(json!({"incident_id": "INC-7"}))).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("dispatched"))
    );
    assert_eq!(body["incident_id"], "INC-7");
    let (status, body) = step(
        "close",
        Some(json!({"outcome": "true_positive", "note": "已查获"})),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("closed"))
    );
    assert_eq!(body["outcome"], "true_positive");
    let actions: Vec<&str> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["acknowledge", "verify", "dispatch", "close"]);
    let (status, _) = step("ack", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Officer B cannot act on it either (not found for them).
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/v1/alerts/{alert_id}/ack"),
            Some(&officer_b),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Cancelling the watch stops matching; the cancel is audited.
    let (status, body) = app
        .raw(
            "DELETE",
            &format!("/api/v1/watches/{watch_id}"),
            Some(&analyst),
            "application/json",
            vec![],
            &[PURPOSE],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
    let t2 = app.state.now_ms();
    let (status, body) = events(&app, &key_a, &plate_event("CP-A1", PLATE, t2)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.state.alerts.flush().await.unwrap();
    let (_, list) = app.get_with("/api/v1/alerts", &admin, &[PURPOSE]).await;
    assert_eq!(list["total"], 1, "a cancelled watch still matched: {list}");
    // Raw events are kept (3 accepted so far, 1 of which hit).
    assert_eq!(app.state.store.count_events().await.unwrap(), (3, 1));
    let (status, sensor) = app.get("/api/v1/sensors/CP-A1", &officer_a).await;
    assert_eq!(status, StatusCode::OK);
    assert!(sensor["last_seen"].is_string(), "{sensor}");
    let (status, _) = app.get("/api/v1/sensors/CP-B1", &officer_a).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn watch_change_and_validation() {
    let app = TestApp::demo().await;
    let analyst = app.login("analyst").await;
    let mut body = watch_body(&app);
    body["condition"] = json!({"type": "frequency", "hits": 3, "within_secs": 600});
    let (status, w) = post_watch(&app, &analyst, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{w}");
    let id = w["id"].as_i64().unwrap();
    // Bad identifiers and conditions name their field.
    let mut bad = body.clone();
    bad["target"]["identifiers"][0]["kind"] = json!("dna");
    let (status, e) = post_watch(&app, &analyst, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "target.identifiers[0].kind");
    let mut bad = body.clone();
    bad["expires_at"] = json!(app.state.now_ms() - 1);
    let (status, e) = post_watch(&app, &analyst, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "expires_at");
    let mut bad = body.clone();
    bad["scope"] = json!({"type": "sensors", "sensors": ["NOPE"]});
    let (status, e) = post_watch(&app, &analyst, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "scope.sensors[0]");
    // Writes need a purpose.
    let (status, e) = app
        .call(
            "POST",
            "/api/v1/watches",
            Some(&analyst),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&e), "purpose_required");

    // PATCH replaces the named fields only.
    let (status, w2) = app
        .raw(
            "PATCH",
            &format!("/api/v1/watches/{id}"),
            Some(&analyst),
            "application/json",
            json!({"case_ref": "CASE-2026-002", "priority": "critical"})
                .to_string()
                .into_bytes(),
            &[PURPOSE],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{w2}");
    assert_eq!(w2["case_ref"], "CASE-2026-002");
    assert_eq!(w2["spec"]["priority"], "critical");
    assert_eq!(w2["spec"]["condition"]["hits"], 3);
    assert_eq!(w2["legal_basis"], w["legal_basis"]);
    let (status, e) = app
        .raw(
            "PATCH",
            &format!("/api/v1/watches/{id}"),
            Some(&analyst),
            "application/json",
            json!({"legal_basis": " "}).to_string().into_bytes(),
            &[PURPOSE],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "legal_basis");
    // One watch: the change is there; without a purpose it is refused, and
    // the refusal is on the record too.
    let (status, one) = app
        .get_with(&format!("/api/v1/watches/{id}"), &analyst, &[PURPOSE])
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        (one["id"].as_i64(), &one["case_ref"]),
        (Some(id), &json!("CASE-2026-002"))
    );
    let (status, e) = app.get(&format!("/api/v1/watches/{id}"), &analyst).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&e), "purpose_required");
    let (reads, _) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                object_id: Some(id.to_string()),
                object_type: Some("watch".into()),
                ..Default::default()
            },
            pingan_store::Page::default(),
        )
        .await
        .unwrap();
    let seen: Vec<(&str, &str, Option<&str>, Option<&str>)> = reads
        .iter()
        .take(2)
        .map(|r| {
            (
                r.entry.action.as_str(),
                r.entry.outcome.as_str(),
                r.entry.purpose.as_deref(),
                r.entry.detail.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "GET /api/v1/watches/{id}",
                "refused",
                None,
                Some("400 purpose_required")
            ),
            ("watch.read", "ok", Some(PURPOSE.1), None),
        ]
    );
    let (status, list) = app
        .get_with("/api/v1/watches?status=active", &analyst, &[PURPOSE])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    let (updates, _) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                action: Some("watch.update".into()),
                object_id: Some(id.to_string()),
                ..Default::default()
            },
            pingan_store::Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].entry.purpose.as_deref(), Some(PURPOSE.1));
    app.stop().await;
}

#[tokio::test]
async fn replay_gives_the_alerts_of_live_ingestion() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let analyst = app.login("analyst").await;
    let a = station_of(&app, "officer01").await;
    let b = station_of(&app, "officer03").await;
    sensor(&app, &admin, "CP-1", &a).await;
    sensor(&app, &admin, "CP-2", &b).await;
    // The feed's key belongs to the city, so it may send for both stations.
    let city = app
        .state
        .store
        .get_user_by_username("admin")
        .await
        .unwrap()
        .unwrap()
        .org_id;
    let city_key = sensor_key(
        &app,
        &admin,
        &Station {
            org_id: city,
            path: String::new(),
            center: (0.0, 0.0),
        },
    )
    .await;
    // A sighting watch, a frequency watch and a co-occurrence watch.
    let (s1, _) = post_watch(&app, &analyst, watch_body(&app)).await;
    let mut freq = watch_body(&app);
    freq["target"]["identifiers"][0]["value"] = json!("川C55555");
    freq["condition"] = json!({"type": "frequency", "hits": 2, "within_secs": 600});
    let (s2, _) = post_watch(&app, &analyst, freq).await;
    let mut co = watch_body(&app);
    co["target"]["identifiers"][0]["value"] = json!("川D66666");
    co["condition"] = json!({"type": "co_occurrence", "companion": {"kind": "plate", "value": "川E77777"},
        "within_secs": 60, "times": 1, "window_secs": 3600});
    let (s3, w3) = post_watch(&app, &analyst, co).await;
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CREATED
        ),
        "{w3}"
    );

    let t = app.state.now_ms();
    let mut lines = Vec::new();
    for i in 0..30i64 {
        let (sensor, plate) = match i % 6 {
            0 => ("CP-1", PLATE),
            1 => ("CP-2", "川C55555"),
            2 => ("CP-2", "川D66666"),
            3 => ("CP-2", "川E77777"),
            4 => ("CP-1", "川F00000"),
            _ => ("CP-1", "川C55555"),
        };
        lines.push(plate_event(sensor, plate, t + i * 1_000));
    }
    let file = lines.join("\n");
    let (status, body) = events(&app, &city_key, &file).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 30);
    app.state.alerts.flush().await.unwrap();

    let (_, list) = app
        .get_with("/api/v1/alerts?limit=100", &admin, &[PURPOSE])
        .await;
    let mut live: Vec<AlertDraftDto> = Vec::new();
    for item in list["items"].as_array().unwrap() {
        let (_, full) = app
            .get_with(
                &format!("/api/v1/alerts/{}", item["id"]),
                &admin,
                &[PURPOSE],
            )
            .await;
        live.push(serde_json::from_value(full["draft"].clone()).unwrap());
    }
    live.sort_by_key(|d| d.seq);
    let rules: Vec<&str> = live.iter().map(|d| d.rule.as_str()).collect();
    assert!(
        rules.contains(&"sighting")
            && rules.contains(&"frequency")
            && rules.contains(&"co_occurrence"),
        "{rules:?}"
    );

    // Replay the same file with the sensors and watches as the API serves them.
    let (_, sensors) = app.get("/api/v1/sensors", &admin).await;
    let (_, watches) = app.get_with("/api/v1/watches", &admin, &[PURPOSE]).await;
    let sensors: Vec<ReplaySensor> = serde_json::from_value(sensors["items"].clone()).unwrap();
    let watches: Vec<ReplayWatch> = serde_json::from_value(watches["items"].clone()).unwrap();
    let (replayed, errors) = replay_file(&file, &sensors, &watches).unwrap();
    assert!(errors.is_empty());
    assert_eq!(replayed, live);
    app.stop().await;
}

#[tokio::test]
async fn backlog_of_unstored_events_answers_429_until_written() {
    // Room for 3 events between the edge and the raw-event store, and a writer
    // that only writes on flush: the second batch must be refused, not queued.
    let mut cfg = pingan_server::Config::default();
    cfg.alerts.queue_events = 3;
    cfg.alerts.raw_flush_events = 1_000_000;
    cfg.alerts.raw_flush_ms = 3_600_000;
    let app = TestApp::with_config(cfg).await;
    let admin = app.login("admin").await;
    let a = station_of(&app, "officer01").await;
    sensor(&app, &admin, "CP-Q1", &a).await;
    let key = sensor_key(&app, &admin, &a).await;
    let t = app.state.now_ms();
    let two = [
        plate_event("CP-Q1", "川A10001", t),
        plate_event("CP-Q1", "川A10002", t),
    ]
    .join("\n");
    let (status, body) = events(&app, &key, &two).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.state.alerts.backlog(), (2, 1));

    let resp = app
        .client
        .post(format!("{}/api/v1/events", app.base))
        .bearer_auth(&key)
        .header("content-type", "application/x-ndjson")
        .body(two.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "backlog");
    // Nothing of the refused batch was kept.
    assert_eq!(app.state.alerts.backlog(), (2, 1));

    // Once the first batch is written the budget is free again.
    app.state.alerts.flush().await.unwrap();
    assert_eq!(app.state.alerts.backlog(), (0, 0));
    assert_eq!(app.state.store.count_events().await.unwrap(), (2, 0));
    let (status, body) = events(&app, &key, &two).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.state.alerts.flush().await.unwrap();
    assert_eq!(app.state.store.count_events().await.unwrap(), (4, 0));
    app.stop().await;
}
