//! Dispatch API end to end over the demo city: intake by coordinates and by
//! address, masking, state machine through the API (including 409s),
//! recommendation order, escalation, diversion to a real local partner
//! endpoint that fails and then recovers, and bad input.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A point where an available patrol car stands (inside the city, on a road).
async fn unit_point(app: &TestApp, token: &str) -> (f64, f64) {
    let (_, units) = app
        .get(
            "/api/v1/units?limit=50&status=available&kind=patrol_car",
            token,
        )
        .await;
    let u = units["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["position"].is_object())
        .expect("a positioned patrol car");
    (
        u["position"]["lat"].as_f64().unwrap(),
        u["position"]["lng"].as_f64().unwrap(),
    )
}

async fn post_call(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.call("POST", "/api/v1/calls", Some(token), Some(body))
        .await
}

#[tokio::test]
async fn intake_state_machine_recommendation_and_bad_input() {
    let app = TestApp::demo().await;
    let t = app.login("dispatcher").await;
    let (lat, lng) = unit_point(&app, &t).await;

    // Intake by coordinates: classified, numbered, masked, jurisdiction resolved.
    let (st, r) = post_call(
        &app,
        &t,
        json!({"channel": "110", "caller_phone": "13812345678", "caller_name": "张三",
               "description": "有两个人在饭店门口打架，其中一个拿着刀", "location": {"lat": lat, "lng": lng}}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let inc = &r["incident"];
    let id = inc["id"].as_i64().unwrap();
    let number = inc["number"].as_str().unwrap();
    assert!(number.starts_with("JQ") && number.len() == 16, "{number}");
    assert_eq!(inc["caller"]["phone_masked"], "138****5678");
    assert!(inc["caller"].get("phone").is_none());
    assert_eq!(inc["status"], "classified");
    assert!(inc["org"]["station_id"].is_i64(), "{inc}");
    assert_eq!(r["suggestion"]["type_code"], inc["type_code"]);
    assert!(r["suggestion"]["confidence"].as_f64().unwrap() > 0.0);
    assert!(!r["suggestion"]["evidence"].as_array().unwrap().is_empty());

    // A second call at the same place is suggested as a duplicate.
    let (_, r2) = post_call(
        &app,
        &t,
        json!({"channel": "110", "caller_phone": "13900001111", "description": "饭店门口有人打架",
               "location": {"lat": lat, "lng": lng}}),
    )
    .await;
    let dups = r2["duplicates"].as_array().unwrap();
    assert_eq!(dups[0]["incident_id"].as_i64(), Some(id), "{r2}");
    assert!(dups[0]["distance_m"].as_f64().unwrap() < 1.0);

    // Caller data revealed only with X-Purpose for dispatch roles.
    let (st, full) = app
        .get_with(
            &format!("/api/v1/incidents/{id}"),
            &t,
            &[("X-Purpose", "回拨报警人核实")],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(full["caller"]["phone"], "13812345678");
    assert_eq!(full["timeline"][0]["kind"], "created");
    assert_eq!(full["timeline"][1]["kind"], "classified");

    // Recommendations are ordered by ETA; the unit at the spot is first.
    let (st, rec) = app
        .get(&format!("/api/v1/incidents/{id}/recommendations"), &t)
        .await;
    assert_eq!(st, StatusCode::OK, "{rec}");
    let items = rec["items"].as_array().unwrap();
    assert!(!items.is_empty());
    let police: Vec<&Value> = items
        .iter()
        .filter(|i| i["first_responder"] == false)
        .collect();
    for w in police.windows(2) {
        assert!(w[0]["eta_s"].as_u64() <= w[1]["eta_s"].as_u64(), "{rec}");
    }
    assert!(police[0]["eta_s"].as_u64().unwrap() < 30, "{rec}");
    assert!(
        police[0]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("fastest_eta"))
    );
    let u1 = police[0]["unit_id"].as_i64().unwrap();
    let u2 = police[1]["unit_id"].as_i64().unwrap();

    // One-key dispatch of two units.
    let (st, d) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/dispatch"),
            Some(&t),
            Some(json!({"unit_ids": [u1, u2]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "dispatched");
    assert_eq!(d["units"].as_array().unwrap().len(), 2);
    // Dispatching a dispatched unit again is a conflict.
    let (st, e) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/dispatch"),
            Some(&t),
            Some(json!({"unit_ids": [u1]})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    assert_eq!(error_code(&e), "conflict");
    // A committed unit cannot be deleted from under its incident.
    let admin = app.login("admin").await;
    let (st, e) = app
        .call("DELETE", &format!("/api/v1/units/{u1}"), Some(&admin), None)
        .await;
    assert_eq!(
        (st, error_code(&e).as_str()),
        (StatusCode::CONFLICT, "in_use"),
        "{e}"
    );
    // Unknown unit: 422 naming the field.
    let (st, e) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/dispatch"),
            Some(&t),
            Some(json!({"unit_ids": [99999999]})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "unit_ids");
    // Malformed body.
    let (st, e) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/dispatch"),
            Some(&t),
            Some(json!({"unit_ids": "x"})),
        )
        .await;
    assert!(st.is_client_error(), "{st} {e}");
    assert!(e["error"]["code"].is_string());

    // Unit progress: on_scene before ack is allowed, clearing from dispatched is a stand-down.
    let status = |u: i64, s: &str| {
        let app = &app;
        let t = t.clone();
        let s = s.to_string();
        async move {
            app.call(
                "POST",
                &format!("/api/v1/units/{u}/status"),
                Some(&t),
                Some(json!({"status": s})),
            )
            .await
        }
    };
    let (st, _) = status(u1, "acknowledged").await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = status(u1, "en_route").await;
    assert_eq!(st, StatusCode::OK);
    let (st, e) = status(u1, "off_duty").await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    let (st, _) = status(u1, "on_scene").await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = status(u2, "available").await; // stood down before arrival
    assert_eq!(st, StatusCode::OK);
    let (_, cur) = app.get(&format!("/api/v1/incidents/{id}"), &t).await;
    assert_eq!(cur["status"], "on_scene");
    assert!(cur["arrived_at"].is_string());
    // Closing before clearing is illegal.
    let (st, e) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/close"),
            Some(&t),
            Some(json!({"disposition": "resolved"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    let (st, _) = status(u1, "cleared").await;
    assert_eq!(st, StatusCode::OK);
    let (st, c) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/close"),
            Some(&t),
            Some(json!({"disposition": "case_opened:A2026-1"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "closed");
    let (_, fin) = app.get(&format!("/api/v1/incidents/{id}"), &t).await;
    let kinds: Vec<&str> = fin["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "classified",
            "dispatched",
            "dispatched",
            "acknowledged",
            "en_route",
            "arrived",
            "unit_cancelled",
            "unit_cleared",
            "cleared",
            "closed"
        ]
    );
    let (_, u) = app.get(&format!("/api/v1/units/{u1}"), &t).await;
    assert_eq!(u["status"], "available");

    // Override the classification of the second incident.
    let id2 = r2["incident"]["id"].as_i64().unwrap();
    let (st, c) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id2}/classify"),
            Some(&t),
            Some(json!({"type_code": "noise", "priority": "P4"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(
        (c["type_code"].as_str(), c["priority"].as_str()),
        (Some("noise"), Some("P4"))
    );
    let (st, _) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id2}/classify"),
            Some(&t),
            Some(json!({"type_code": "nope"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

    // Bad intake.
    let bad = [
        (
            json!({"channel": "110", "caller_phone": "12", "description": "打架", "location": {"lat": lat, "lng": lng}}),
            "caller_phone",
        ),
        (
            json!({"channel": "999", "caller_phone": "13812345678", "description": "打架", "location": {"lat": lat, "lng": lng}}),
            "channel",
        ),
        (
            json!({"channel": "110", "caller_phone": "13812345678", "description": "打架", "location": {"lat": 0.5, "lng": 0.5}}),
            "location",
        ),
        (
            json!({"channel": "110", "caller_phone": "13812345678", "description": "打架", "location": {"lat": 95.0, "lng": 0.5}}),
            "location.lat",
        ),
        (
            json!({"channel": "110", "caller_phone": "13812345678", "description": "打架", "address": "火星路不存在999号"}),
            "address",
        ),
        (
            json!({"channel": "110", "caller_phone": "13812345678", "description": "  ", "location": {"lat": lat, "lng": lng}}),
            "description",
        ),
    ];
    for (body, field) in bad {
        let (st, e) = post_call(&app, &t, body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {e}");
        assert_eq!(e["error"]["field"], field, "{body} -> {e}");
    }
    // Unknown incident and unit: 404 with the error shape.
    let (st, e) = app.get("/api/v1/incidents/987654", &t).await;
    assert_eq!(
        (st, error_code(&e).as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (st, _) = status(987654, "en_route").await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Intake by address: the street's point, with the address kept.
    let street = {
        let city = app.state.city().unwrap();
        city.router.streets().streets()[0].name.clone()
    };
    let (st, r) = post_call(
        &app,
        &t,
        json!({"channel": "12345", "caller_phone": "13812345678", "description": "楼下广场舞音乐太吵了", "address": format!("{street}18号")}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{street}: {r}");
    assert_eq!(r["incident"]["address"], format!("{street}18号"));

    // Lists: filters and jurisdiction.
    let (_, l) = app.get("/api/v1/incidents?open=true&limit=10", &t).await;
    assert_eq!(l["total"].as_i64(), Some(2), "{l}");
    let (st, _) = app.get("/api/v1/incidents?status=bogus", &t).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, tax) = app.get("/api/v1/taxonomy", &t).await;
    assert_eq!(st, StatusCode::OK);
    assert!(tax["types"].as_array().unwrap().len() >= 9);

    // KPIs and console statistics over what happened above.
    let (st, k) = app.get("/api/v1/kpis", &t).await;
    assert_eq!(st, StatusCode::OK, "{k}");
    let all = &k["groups"][0];
    assert!(all["type_code"].is_null(), "{k}");
    assert_eq!(all["count"], 3, "{k}");
    assert_eq!(all["call_to_dispatch"]["n"], 1, "{k}");
    assert_eq!(all["dispatch_to_arrival"]["n"], 1, "{k}");
    assert!(all["call_to_dispatch"]["median_s"].as_i64().unwrap() < 60);
    assert_eq!(all["compliance"]["target_s"], 60);
    assert_eq!(all["yoy"]["count_previous"], 0);
    let (st, e) = app.get("/api/v1/kpis?from=yesterday", &t).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("from"))
    );
    let (_, today) = app.get("/api/v1/stats/today", &t).await;
    assert_eq!(today["today"]["incidents"], 3, "{today}");
    assert_eq!(today["today"]["calls"], 3);
    assert_eq!(today["today"]["closed"], 1);
    let (_, hm) = app.get("/api/v1/stats/heatmap?res=9&hours=2", &t).await;
    let cells = hm["cells"].as_array().unwrap();
    assert_eq!(
        cells
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum::<u64>(),
        3,
        "{hm}"
    );
    assert!(cells[0]["boundary"].as_array().unwrap().len() >= 5);
    let (_, tr) = app.get("/api/v1/stats/trend?days=7", &t).await;
    assert_eq!(tr["days"].as_array().unwrap().len(), 7);
    assert_eq!(tr["days"][6]["count"], 3, "{tr}");
    app.stop().await;
}

#[tokio::test]
async fn unacknowledged_dispatch_escalates_to_the_next_unit() {
    let app = TestApp::demo().await;
    app.state
        .dispatch
        .set_escalation_policy(pingan_dispatch::EscalationPolicy {
            ack_timeout_s: 1,
            max_redispatches: 1,
            district_timeout_s: 1,
        });
    let t = app.login("dispatcher").await;
    let (lat, lng) = unit_point(&app, &t).await;
    let (_, r) = post_call(
        &app,
        &t,
        json!({"channel": "110", "caller_phone": "13812345678", "description": "有人在超市偷东西被抓住了", "location": {"lat": lat, "lng": lng}}),
    )
    .await;
    let id = r["incident"]["id"].as_i64().unwrap();
    let (_, rec) = app
        .get(&format!("/api/v1/incidents/{id}/recommendations"), &t)
        .await;
    let first = rec["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["first_responder"] == false)
        .unwrap()["unit_id"]
        .as_i64()
        .unwrap();
    let (st, _) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/dispatch"),
            Some(&t),
            Some(json!({"unit_ids": [first]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mut kinds = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let (_, d) = app.get(&format!("/api/v1/incidents/{id}"), &t).await;
        kinds = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect();
        if kinds.iter().any(|k| k == "escalated") {
            break;
        }
    }
    let pos = |k: &str| kinds.iter().position(|x| x == k);
    assert!(pos("unit_cancelled").is_some(), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "dispatched").count(),
        2,
        "{kinds:?}"
    );
    assert!(
        pos("escalated").unwrap() > pos("unit_cancelled").unwrap(),
        "{kinds:?}"
    );
    let (_, u) = app.get(&format!("/api/v1/units/{first}"), &t).await;
    assert_eq!(u["status"], "available");
    app.stop().await;
}

#[tokio::test]
async fn diversion_survives_a_failing_partner() {
    let app = TestApp::demo().await;
    app.state
        .dispatch
        .set_retry_policy(pingan_dispatch::RetryPolicy {
            base_delay_ms: 50,
            max_delay_ms: 200,
            max_attempts: 20,
            total_timeout_ms: 60_000,
            request_timeout_ms: 2_000,
        });
    // A real partner endpoint: fails the first three requests, then accepts.
    let hits = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let (h2, b2) = (hits.clone(), bodies.clone());
    let partner = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (h, b) = (h2.clone(), b2.clone());
            async move {
                let n = h.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let sig = headers
                    .get("x-pingan-signature")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                b.lock().unwrap().push((sig, body));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, partner).await.unwrap() });
    app.state
        .store
        .upsert_partner(&pingan_store::PartnerRow {
            code: "12345".into(),
            name: "市民服务热线".into(),
            webhook_url: format!("http://{addr}/hook"),
            secret: "s3cret".into(),
            updated_at: 1,
        })
        .await
        .unwrap();

    let t = app.login("dispatcher").await;
    let (lat, lng) = unit_point(&app, &t).await;
    let (_, r) = post_call(
        &app,
        &t,
        json!({"channel": "12345", "caller_phone": "13812345678", "description": "小区路灯坏了好几天了没人修", "location": {"lat": lat, "lng": lng}}),
    )
    .await;
    let id = r["incident"]["id"].as_i64().unwrap();
    let (st, d) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/divert"),
            Some(&t),
            Some(json!({"partners": ["12345"], "note": "请市政维修"})),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{d}");
    let hid = d["handoffs"][0]["id"].as_i64().unwrap();
    let mut handoff = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, inc) = app.get(&format!("/api/v1/incidents/{id}"), &t).await;
        handoff = inc["handoffs"][0].clone();
        if handoff["status"] == "sent" {
            break;
        }
    }
    assert_eq!(handoff["status"], "sent", "{handoff}");
    assert_eq!(handoff["attempts"], 4);
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "delivered exactly once");
    let payload: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(payload["incident"]["id"], r["incident"]["number"]);
    assert_eq!(payload["recipient"]["id"], "12345");
    pingan_dispatch::diversion::verify(
        b"s3cret",
        &got[0].0,
        got[0].1.as_bytes(),
        pingan_core::Timestamp(app.state.now_ms()),
        300,
    )
    .expect("valid signature");

    // A partner's key answers only for hand-offs to that partner: the 120
    // key cannot touch the 12345 hand-off; keys must name a known partner.
    let admin = app.login("admin").await;
    let city = app.get("/api/v1/auth/me", &admin).await.1["org_id"].clone();
    let mut keys = Vec::new();
    for code in ["12345", "120"] {
        let (st, k) = app
            .call(
                "POST",
                "/api/v1/apikeys",
                Some(&admin),
                Some(json!({"name": format!("partner-{code}"), "role": "partner", "org_id": city, "partner": code})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{k}");
        assert_eq!(k["partner"], code);
        keys.push(k["secret"].as_str().unwrap().to_string());
    }
    for (body, field) in [
        (
            json!({"name": "p-none", "role": "partner", "org_id": city}),
            "partner",
        ),
        (
            json!({"name": "p-bad", "role": "partner", "org_id": city, "partner": "911"}),
            "partner",
        ),
        (
            json!({"name": "s-p", "role": "sensor", "org_id": city, "partner": "120"}),
            "partner",
        ),
    ] {
        let (st, e) = app
            .call("POST", "/api/v1/apikeys", Some(&admin), Some(body))
            .await;
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{e}"
        );
    }
    let (st, e) = app
        .call(
            "POST",
            &format!("/api/v1/handoffs/{hid}/status"),
            Some(&keys[1]),
            Some(json!({"status": "resolved", "feedback": "不是我们的"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    let (st, h) = app
        .call(
            "POST",
            &format!("/api/v1/handoffs/{hid}/status"),
            Some(&keys[0]),
            Some(json!({"status": "accepted", "feedback": "市政已派单"})),
        )
        .await;
    assert_eq!(
        (st, h["status"].as_str()),
        (StatusCode::OK, Some("accepted")),
        "{h}"
    );

    // Feedback an admin records (phoned in) goes through the same lifecycle:
    // a second acceptance is refused, then resolved; the incident can close.
    let (st, e) = app
        .call(
            "POST",
            &format!("/api/v1/handoffs/{hid}/status"),
            Some(&admin),
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    let (st, h) = app
        .call(
            "POST",
            &format!("/api/v1/handoffs/{hid}/status"),
            Some(&admin),
            Some(json!({"status": "resolved", "feedback": "已修复"})),
        )
        .await;
    assert_eq!(
        (st, h["feedback"].as_str()),
        (StatusCode::OK, Some("已修复")),
        "{h}"
    );
    let (st, c) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/close"),
            Some(&t),
            Some(json!({"disposition": "handled_by_partner"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    // The partner scope is required.
    let (st, _) = app
        .call(
            "POST",
            &format!("/api/v1/handoffs/{hid}/status"),
            Some(&t),
            Some(json!({"status": "resolved"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    app.stop().await;
}

/// Two dispatchers send the same unit to two incidents at the same moment:
/// exactly one wins, the other gets 409, and the loser's incident
/// keeps no trace of the unit (the unit's move is compare-and-set inside the
/// incident's transaction). Repeated so the requests really overlap.
#[tokio::test]
async fn two_dispatchers_racing_for_one_unit_cannot_both_win() {
    let app = TestApp::demo().await;
    let t = app.login("dispatcher").await;
    let (lat, lng) = unit_point(&app, &t).await;
    for round in 0..8 {
        let mut incidents = Vec::new();
        for k in 0..2 {
            let (st, v) = post_call(
                &app,
                &t,
                json!({
                    "channel": "110",
                    "caller_phone": format!("1391234{round}{k}00"),
                    "description": "路口有人打架",
                    "location": {"lat": lat, "lng": lng},
                }),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{v}");
            incidents.push(v["incident"]["id"].as_i64().unwrap());
        }
        let (_, recs) = app
            .get(
                &format!("/api/v1/incidents/{}/recommendations", incidents[0]),
                &t,
            )
            .await;
        let unit = recs["items"][0]["unit_id"].as_i64().unwrap();
        let paths: Vec<String> = incidents
            .iter()
            .map(|iid| format!("/api/v1/incidents/{iid}/dispatch"))
            .collect();
        let body = json!({"unit_ids": [unit]});
        let ((sa, a), (sb, b)) = tokio::join!(
            app.call("POST", &paths[0], Some(&t), Some(body.clone())),
            app.call("POST", &paths[1], Some(&t), Some(body.clone())),
        );
        let mut outcomes = [(sa, a, incidents[0]), (sb, b, incidents[1])];
        outcomes.sort_by_key(|o| o.0.as_u16());
        let [(won, _, winner), (lost, body, loser)] = outcomes;
        assert_eq!(
            (won, lost),
            (StatusCode::OK, StatusCode::CONFLICT),
            "{body}"
        );
        // Refused by the check before the change, or by the compare-and-set
        // inside it when both passed the check together.
        assert!(
            body["error"]["field"] == "unit_ids" || body["error"]["field"] == "status",
            "{body}"
        );
        let (_, u) = app.get(&format!("/api/v1/units/{unit}"), &t).await;
        assert_eq!(u["status"], "dispatched");
        assert_eq!(u["incident_id"].as_i64(), Some(winner));
        let (_, l) = app.get(&format!("/api/v1/incidents/{loser}"), &t).await;
        assert_eq!(l["status"], "classified", "{l}");
        assert!(
            l["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["kind"] != "dispatched"),
            "{l}"
        );
        // The unit stands down, ready for the next round.
        let (st, v) = app
            .call(
                "POST",
                &format!("/api/v1/units/{unit}/status"),
                Some(&t),
                Some(json!({"status": "available"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        // Standing down twice is refused: the unit is no longer dispatched.
        let (st, _) = app
            .call(
                "POST",
                &format!("/api/v1/units/{unit}/status"),
                Some(&t),
                Some(json!({"status": "available"})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
    }
    app.stop().await;
}
