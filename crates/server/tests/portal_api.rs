//! Citizen transparency end to end over the demo city: receipt code at
//! intake, the incident's lifecycle recorded as ledger leaves whose receipts
//! verify offline, the public portal (right and wrong code or digits, no
//! personal data, rate limits with Retry-After), notifications through a real
//! local webhook that fails and then recovers (each delivered exactly once,
//! attempts in the delivery log), the "no channel" outbox, one evaluation per
//! closed case with supervisor follow-up and statistics, and watches (created,
//! cancelled, expired by the engine) and alert dispositions in the log.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use pingan_ledger::{LeafRecord, verify_receipt};
use pingan_server::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PHONE: &str = "13812345678";
const CALLER: &str = "王小明";
const PURPOSE: (&str, &str) = ("X-Purpose", "notification audit");

/// Polls `f` every 50 ms until it yields a value (at most 30 s).
async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..600 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A position of an available patrol car, and its id.
async fn patrol_car(app: &TestApp, token: &str) -> (i64, f64, f64) {
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
        .expect("a positioned patrol car")
        .clone();
    (
        u["id"].as_i64().unwrap(),
        u["position"]["lat"].as_f64().unwrap(),
        u["position"]["lng"].as_f64().unwrap(),
    )
}

async fn take_call(app: &TestApp, token: &str, lat: f64, lng: f64) -> (i64, String) {
    let (st, r) = app
        .call(
            "POST",
            "/api/v1/calls",
            Some(token),
            Some(json!({"channel": "110", "caller_phone": PHONE, "caller_name": CALLER,
                        "description": "楼上邻居深夜装修噪音很大", "location": {"lat": lat, "lng": lng}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    let code = r["receipt_code"]
        .as_str()
        .expect("receipt code")
        .to_string();
    (r["incident"]["id"].as_i64().unwrap(), code)
}

async fn portal(app: &TestApp, code: &str, phone4: &str) -> (StatusCode, Value) {
    app.call(
        "GET",
        &format!("/api/v1/public/cases/{code}?phone4={phone4}"),
        None,
        None,
    )
    .await
}

async fn evaluate(app: &TestApp, code: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        "POST",
        &format!("/api/v1/public/cases/{code}/evaluation"),
        None,
        Some(body),
    )
    .await
}

/// A webhook on 127.0.0.1 that answers 500 to its first `fail` requests and
/// 200 afterwards; it records `(status answered, idempotency key, body)`.
type Hits = Arc<Mutex<Vec<(u16, String, Value)>>>;

async fn flaky_webhook(fail: usize) -> (String, Hits) {
    let hits: Hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                let h = h.clone();
                async move {
                    let mut v = h.lock().unwrap();
                    let status = if v.len() < fail { 500 } else { 200 };
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|k| k.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    v.push((status, key, body.0));
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/sms"), hits)
}

#[tokio::test]
async fn receipt_portal_ledger_notifications_and_evaluation() {
    let (url, hits) = flaky_webhook(3).await;
    let mut cfg = Config::default();
    cfg.citizen.notify_webhook_url = Some(url);
    cfg.citizen.notify_backoff_ms = 50;
    cfg.citizen.notify_backoff_max_ms = 200;
    cfg.citizen.notify_timeout_ms = 2_000;
    // This test polls the portal; the limits have their own test.
    cfg.citizen.portal_ip_burst = 1_000;
    cfg.citizen.portal_ip_per_minute = 60_000;
    cfg.citizen.portal_code_burst = 1_000;
    cfg.citizen.portal_code_per_minute = 60_000;
    let app = TestApp::with_config(cfg).await;
    let t = app.login("dispatcher").await;
    let (unit, lat, lng) = patrol_car(&app, &t).await;

    // Intake: a receipt code of 12 unambiguous symbols, shown to the call taker.
    let (id, code) = take_call(&app, &t, lat, lng).await;
    assert_eq!(code.len(), 14, "{code}");
    let plain: String = code.chars().filter(|c| *c != '-').collect();
    assert!(
        plain
            .bytes()
            .all(|b| pingan_server::citizen::CODE_ALPHABET.contains(&b)),
        "{code}"
    );
    // Only its hash is stored.
    let stored = app
        .state
        .store
        .citizen_case_by_incident(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.code_hash,
        pingan_server::citizen::code_hash(&plain).to_vec()
    );

    // The portal answers with the code (any case, dashes optional) and the right digits.
    let (st, case) = portal(&app, &plain.to_lowercase(), "5678").await;
    assert_eq!(st, StatusCode::OK, "{case}");
    assert_eq!(case["status"], "classified");
    assert_eq!(case["status_name"], "已受理");
    assert!(
        case["station"].as_str().unwrap().ends_with("派出所"),
        "{case}"
    );
    assert_eq!(case["evaluation"]["can_evaluate"], false);
    // Evaluating before closure is a conflict.
    let (st, e) = evaluate(&app, &code, json!({"phone4": "5678", "stars": 5})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");

    // Wrong code and wrong digits give the same answer.
    let (st1, b1) = portal(&app, &code, "5679").await;
    let mut other = plain.clone().into_bytes();
    other[0] = if other[0] == b'2' { b'3' } else { b'2' };
    let (st2, b2) = portal(&app, std::str::from_utf8(&other).unwrap(), "5678").await;
    let (st3, b3) = portal(&app, "not-a-code", "5678").await;
    assert_eq!(
        (st1, st2, st3),
        (
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND
        )
    );
    assert_eq!(b1, b2);
    assert_eq!(b1, b3);
    assert_eq!(error_code(&b1), "not_found");
    let (st, e) = portal(&app, &code, "56").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "phone4");

    // Lifecycle: dispatch, arrive, clear, close.
    let post = |path: String, body: Value| {
        let (app, t) = (&app, t.clone());
        async move {
            let (st, b) = app.call("POST", &path, Some(&t), Some(body)).await;
            assert_eq!(st, StatusCode::OK, "{path}: {b}");
            b
        }
    };
    post(
        format!("/api/v1/incidents/{id}/dispatch"),
        json!({"unit_ids": [unit]}),
    )
    .await;
    for s in ["acknowledged", "en_route", "on_scene", "cleared"] {
        post(format!("/api/v1/units/{unit}/status"), json!({"status": s})).await;
    }
    post(
        format!("/api/v1/incidents/{id}/close"),
        json!({"disposition": "mediated"}),
    )
    .await;

    // The ledger records every state change in order, each leaf provable.
    let store = app.state.store.clone();
    let leaves = eventually("the closed state in the ledger", || {
        let store = store.clone();
        async move {
            let l = store.case_leaves(id).await.unwrap();
            (l.last().map(|x| x.status.as_str()) == Some("closed")).then_some(l)
        }
    })
    .await;
    let statuses: Vec<&str> = leaves.iter().map(|l| l.status.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "created",
            "classified",
            "dispatched",
            "acknowledged",
            "en_route",
            "on_scene",
            "cleared",
            "closed"
        ]
    );
    let verifier = app.state.ledger.verifier().clone();
    let mut prev: Option<String> = None;
    for l in &leaves {
        let (st, e) = app
            .call(
                "GET",
                &format!("/api/v1/ledger/entries/{}", l.leaf_index),
                None,
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{e}");
        let v = verify_receipt(&e["receipt"].to_string(), &verifier).unwrap();
        let Some(LeafRecord::CaseState(c)) = v.record else {
            panic!("leaf {} is not a case state: {e}", l.leaf_index);
        };
        assert_eq!(
            (c.from.clone(), c.to.as_str()),
            (prev.clone(), l.status.as_str())
        );
        assert!(c.number.starts_with("JQ"));
        // The caller enters the log only as the case's one salted commitment.
        assert_eq!(
            c.subject.map(|s| s.0.to_vec()),
            Some(stored.subject.clone())
        );
        let text = e["receipt"]["entry"].as_str().unwrap();
        assert!(!text.contains("5678") && !text.contains(CALLER), "{text}");
        prev = Some(c.to);
    }
    let subject = pingan_ledger::Commitment(stored.subject.clone().try_into().unwrap());
    assert!(
        app.state
            .ledger
            .check_personal(&subject, PHONE.as_bytes())
            .await
            .unwrap()
    );

    // The portal now shows the closed case with the proof of its latest state.
    let (st, case) = portal(&app, &code, "5678").await;
    assert_eq!(st, StatusCode::OK, "{case}");
    assert_eq!(case["status"], "closed");
    assert_eq!(case["status_name"], "已办结");
    assert!(case["closed_at"].is_string() && case["arrived_at"].is_string());
    let kinds: Vec<&str> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"created"));
    assert_eq!(kinds.last(), Some(&"closed"));
    assert!(case["timeline"][0].get("actor").is_none());
    let text = case.to_string();
    for secret in [PHONE, CALLER, "dispatcher", "138****5678", "楼上邻居"] {
        assert!(!text.contains(secret), "portal leaks {secret}: {text}");
    }
    let ledger = &case["ledger"];
    assert_eq!(
        ledger["leaf_index"].as_i64(),
        Some(leaves.last().unwrap().leaf_index)
    );
    assert_eq!(
        ledger["leaf_indexes"].as_array().unwrap().len(),
        leaves.len()
    );
    let v = verify_receipt(&ledger["receipt"].to_string(), &verifier).unwrap();
    assert_eq!(v.leaf_index, ledger["leaf_index"].as_u64().unwrap());
    assert_eq!(ledger["checkpoint"].as_str().unwrap(), {
        let r: pingan_ledger::Receipt = serde_json::from_value(ledger["receipt"].clone()).unwrap();
        r.checkpoint
    });
    assert_eq!(case["evaluation"]["can_evaluate"], true);

    // One evaluation per closed case; bad input names its field.
    let (st, e) = evaluate(&app, &code, json!({"phone4": "5678", "stars": 6})).await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stars"))
    );
    let long = "好".repeat(501);
    let (st, e) = evaluate(
        &app,
        &code,
        json!({"phone4": "5678", "stars": 2, "comment": long}),
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("comment"))
    );
    let (st, e) = evaluate(&app, &code, json!({"phone4": "0000", "stars": 2})).await;
    assert_eq!((st, &e), (StatusCode::NOT_FOUND, &b1));
    let (st, ev) = evaluate(
        &app,
        &code,
        json!({"phone4": "5678", "stars": 2, "comment": "等了很久才到"}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{ev}");
    assert_eq!(ev["stars"], 2);
    let (st, e) = evaluate(&app, &code, json!({"phone4": "5678", "stars": 5})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{e}");
    let (_, case) = portal(&app, &code, "5678").await;
    assert_eq!(
        (
            case["evaluation"]["can_evaluate"].as_bool(),
            case["evaluation"]["stars"].as_i64()
        ),
        (Some(false), Some(2))
    );

    // Supervisors: list low evaluations, follow up, statistics per station.
    // Comments are personal data: the list needs a purpose and is audited.
    let cmd = app.login("commander").await;
    let review = ("X-Purpose", "低分评价回访");
    let (st, e) = app.get("/api/v1/evaluations?max_stars=3", &cmd).await;
    assert_eq!(
        (st, error_code(&e).as_str()),
        (StatusCode::BAD_REQUEST, "purpose_required")
    );
    let (st, list) = app
        .get_with("/api/v1/evaluations?max_stars=3", &cmd, &[review])
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1);
    let item = &list["items"][0];
    assert_eq!(
        (item["incident_id"].as_i64(), item["stars"].as_i64()),
        (Some(id), Some(2))
    );
    assert_eq!(item["comment"], "等了很久才到");
    assert!(item["follow_up"].is_null());
    let eid = item["id"].as_i64().unwrap();
    let (st, none) = app
        .get_with("/api/v1/evaluations?max_stars=1", &cmd, &[review])
        .await;
    assert_eq!((st, none["total"].as_i64()), (StatusCode::OK, Some(0)));
    let (st, e) = app
        .get_with("/api/v1/evaluations?max_stars=9", &cmd, &[review])
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("max_stars"))
    );
    let (st, e) = app
        .call(
            "POST",
            &format!("/api/v1/evaluations/{eid}/follow-up"),
            Some(&cmd),
            Some(json!({"note": " "})),
        )
        .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("note"))
    );
    let (st, f) = app
        .call(
            "POST",
            &format!("/api/v1/evaluations/{eid}/follow-up"),
            Some(&cmd),
            Some(json!({"note": "已电话回访并致歉"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{f}");
    assert_eq!(
        (
            f["follow_up"]["note"].as_str(),
            f["follow_up"]["by"].as_str()
        ),
        (Some("已电话回访并致歉"), Some("commander"))
    );
    let (st, stats) = app.get("/api/v1/evaluations/stats", &cmd).await;
    assert_eq!(st, StatusCode::OK, "{stats}");
    let s0 = &stats["items"][0];
    assert_eq!(stats["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            s0["count"].as_i64(),
            s0["mean"].as_f64(),
            s0["low"].as_i64(),
            s0["follow_up_rate"].as_f64()
        ),
        (Some(1), Some(2.0), Some(1), Some(1.0))
    );
    assert_eq!(s0["distribution"], json!([0, 1, 0, 0, 0]));
    assert_eq!(s0["org_name"], case["station"]);
    // Dispatchers have no access to evaluations.
    let (st, _) = app.get_with("/api/v1/evaluations", &t, &[review]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Notifications: 受理 (with the code), 已派警, 已到场, 已办结 — each delivered
    // exactly once although the webhook failed the first three requests.
    let delivered = eventually("four delivered notifications", || {
        let hits = hits.clone();
        async move {
            let ok: Vec<(String, Value)> = hits
                .lock()
                .unwrap()
                .iter()
                .filter(|h| h.0 == 200)
                .map(|h| (h.1.clone(), h.2.clone()))
                .collect();
            (ok.len() >= 4).then_some(ok)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = hits.lock().unwrap().clone();
    assert_eq!(all.iter().filter(|h| h.0 == 500).count(), 3);
    assert_eq!(
        all.iter().filter(|h| h.0 == 200).count(),
        4,
        "a message was delivered twice"
    );
    let mut templates: Vec<&str> = delivered
        .iter()
        .map(|d| d.1["template"].as_str().unwrap())
        .collect();
    templates.sort();
    assert_eq!(templates, ["accepted", "closed", "dispatched", "on_scene"]);
    let mut keys: Vec<&String> = delivered.iter().map(|d| &d.0).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4);
    let accepted = delivered
        .iter()
        .find(|d| d.1["template"] == "accepted")
        .unwrap();
    assert_eq!(accepted.1["to"], PHONE);
    let text = accepted.1["text"].as_str().unwrap();
    assert!(
        text.contains(&code) && text.contains("已受理") && text.contains("后4位"),
        "{text}"
    );
    let closed = delivered
        .iter()
        .find(|d| d.1["template"] == "closed")
        .unwrap();
    assert!(closed.1["text"].as_str().unwrap().contains("已办结"));

    // The delivery log (admins/auditors, X-Purpose) shows every attempt.
    let auditor = app.login("auditor").await;
    let (st, log) = app
        .get_with(
            &format!("/api/v1/notifications?incident_id={id}"),
            &auditor,
            &[PURPOSE],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{log}");
    assert_eq!(log["total"], 4);
    let items = log["items"].as_array().unwrap();
    let mut failed_attempts = 0;
    for n in items {
        assert_eq!(n["status"], "delivered", "{n}");
        assert_eq!(n["recipient_masked"], "138****5678");
        assert!(n.get("body").is_none() && !n.to_string().contains(&code));
        let attempts = n["log"].as_array().unwrap();
        assert_eq!(attempts.len() as i64, n["attempts"].as_i64().unwrap());
        let (last, before) = attempts.split_last().unwrap();
        assert_eq!(
            (last["status_code"].as_i64(), last["channel"].as_str()),
            (Some(200), Some("webhook"))
        );
        for a in before {
            assert_eq!(
                (a["status_code"].as_i64(), a["error"].as_str()),
                (Some(500), Some("HTTP 500"))
            );
        }
        failed_attempts += before.len();
    }
    assert_eq!(failed_attempts, 3);
    let (st, e) = app
        .get(&format!("/api/v1/notifications?incident_id={id}"), &auditor)
        .await;
    assert_eq!(
        (st, error_code(&e).as_str()),
        (StatusCode::BAD_REQUEST, "purpose_required")
    );
    let (st, _) = app.get_with("/api/v1/notifications", &t, &[PURPOSE]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Portal lookups are audited as the citizen, including misses.
    let (st, audit) = app
        .get("/api/v1/audit?user=citizen&limit=200", &auditor)
        .await;
    assert_eq!(st, StatusCode::OK, "{audit}");
    let outcomes: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(outcomes.contains(&("portal.lookup", "ok")), "{audit}");
    assert!(
        outcomes.contains(&("portal.lookup", "not_found")),
        "{audit}"
    );
    assert!(outcomes.contains(&("portal.evaluate", "ok")), "{audit}");
    assert!(
        outcomes.contains(&("portal.evaluate", "conflict")),
        "{audit}"
    );
    // The supervisor's reads of the evaluation (its comment) are on record
    // with their purpose: the two successful list reads, one of them empty.
    let (st, audit) = app
        .get(
            "/api/v1/audit?user=commander&action=evaluation.read&limit=10",
            &auditor,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{audit}");
    let reads: Vec<(Value, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["object_ids"].clone(), a["purpose"].as_str().unwrap()))
        .collect();
    assert_eq!(reads.len(), 2, "{audit}");
    assert!(
        reads.contains(&(json!([eid.to_string()]), "低分评价回访")),
        "{audit}"
    );
    assert!(reads.contains(&(json!([]), "低分评价回访")), "{audit}");
    app.stop().await;
}

/// A lookup from a given client address (the test config trusts X-Forwarded-For).
async fn lookup_from(app: &TestApp, ip: &str, code: &str) -> (StatusCode, Option<String>) {
    let r = app
        .client
        .get(format!(
            "{}/api/v1/public/cases/{code}?phone4=5678",
            app.base
        ))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status(), retry)
}

#[tokio::test]
async fn rate_limits_no_channel_outbox_and_watches_in_the_ledger() {
    let mut cfg = Config::default();
    cfg.citizen.portal_ip_burst = 3;
    cfg.citizen.portal_ip_per_minute = 1;
    cfg.citizen.portal_code_burst = 2;
    cfg.citizen.portal_code_per_minute = 1;
    cfg.citizen.trust_forwarded_for = true;
    let app = TestApp::with_config(cfg).await;
    let t = app.login("dispatcher").await;
    let (_, lat, lng) = patrol_car(&app, &t).await;
    let (id, code) = take_call(&app, &t, lat, lng).await;

    // Per IP: three lookups, then 429 with Retry-After.
    for wrong in ["2345-6789-ABCD", "2345-6789-ABCE", "2345-6789-ABCF"] {
        assert_eq!(
            lookup_from(&app, "10.0.0.1", wrong).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let (st, retry) = lookup_from(&app, "10.0.0.1", &code).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    // Per code: two lookups of one code from anywhere, then 429.
    assert_eq!(lookup_from(&app, "10.0.0.2", &code).await.0, StatusCode::OK);
    assert_eq!(lookup_from(&app, "10.0.0.3", &code).await.0, StatusCode::OK);
    assert_eq!(
        lookup_from(&app, "10.0.0.4", &code).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let (st, body) = app
        .call(
            "GET",
            &format!("/api/v1/public/cases/{code}?phone4=5678"),
            None,
            None,
        )
        .await;
    // (the test client's own address has a fresh bucket, the code does not)
    assert_eq!(
        (st, error_code(&body).as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );

    // Without a channel the outbox keeps the message and says why.
    let admin = app.login("admin").await;
    let log = eventually("the receipt message held for lack of a channel", || {
        let (app, admin) = (&app, admin.clone());
        async move {
            let (_, log) = app
                .get_with(
                    &format!("/api/v1/notifications?incident_id={id}"),
                    &admin,
                    &[PURPOSE],
                )
                .await;
            (log["items"][0]["status"] == "no_channel").then_some(log)
        }
    })
    .await;
    assert_eq!(log["total"], 1);
    let n = &log["items"][0];
    assert_eq!(
        (n["template"].as_str(), n["attempts"].as_i64()),
        (Some("accepted"), Some(1))
    );
    assert_eq!(n["log"][0]["channel"], "none");
    assert_eq!(n["log"][0]["error"], "no channel configured");
    assert_eq!(n["last_error"], "no channel configured");

    // Watches: creation and cancellation are logged with commitments only.
    let analyst = app.login("analyst").await;
    let plate = "川A12345";
    let (st, w) = app
        .raw(
            "POST",
            "/api/v1/watches",
            Some(&analyst),
            "application/json",
            json!({
                "label": "盗抢车辆",
                "target": {"type": "identifiers", "identifiers": [{"kind": "plate", "value": plate}]},
                "legal_basis": "公安机关办理刑事案件程序规定 第二百六十四条",
                "case_ref": "CASE-2026-009",
                "expires_at": app.state.now_ms() + 86_400_000,
                "priority": "high"
            })
            .to_string()
            .into_bytes(),
            &[("X-Purpose", "案件侦查 CASE-2026-009")],
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{w}");
    let wid = w["id"].as_i64().unwrap();
    let (st, _) = app
        .raw(
            "DELETE",
            &format!("/api/v1/watches/{wid}"),
            Some(&analyst),
            "application/json",
            vec![],
            &[("X-Purpose", "案件侦查 CASE-2026-009")],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let name = format!("watch-{wid}");
    let ledger = app.state.ledger.clone();
    let found = eventually("both watch events in the ledger", || {
        let (ledger, name) = (ledger.clone(), name.clone());
        async move {
            let size = ledger.head().size;
            let mut out = Vec::new();
            for i in 0..size {
                let r = ledger.receipt(i).await.ok()?;
                let entry = r.entry.clone()?;
                if let Ok(LeafRecord::Watch(w)) = LeafRecord::from_canonical_json(entry.as_bytes())
                    && w.watch == name
                {
                    out.push((w, entry, r));
                }
            }
            (out.len() == 2).then_some(out)
        }
    })
    .await;
    assert_eq!(found[0].0.action, pingan_ledger::WatchAction::Created);
    assert_eq!(found[1].0.action, pingan_ledger::WatchAction::Changed);
    for (w, entry, receipt) in &found {
        assert!(
            !entry.contains(plate) && !entry.contains("CASE-2026-009"),
            "{entry}"
        );
        assert!(w.subject.is_some() && w.rule_digest.is_some());
        receipt.verify(app.state.ledger.verifier()).unwrap();
    }
    // The two versions of the definition differ (status changed).
    assert_ne!(found[0].0.rule_digest, found[1].0.rule_digest);
    app.stop().await;
}

/// Every leaf of the log whose record `pick` selects, in log order, with its
/// receipt verified against the log's key.
async fn leaves_where<T>(app: &TestApp, pick: impl Fn(LeafRecord) -> Option<T>) -> Vec<T> {
    let ledger = &app.state.ledger;
    let mut out = Vec::new();
    for i in 0..ledger.head().size {
        let r = ledger.receipt(i).await.unwrap();
        r.verify(ledger.verifier()).unwrap();
        let entry = r.entry.clone().unwrap();
        if let Some(t) = pick(LeafRecord::from_canonical_json(entry.as_bytes()).unwrap()) {
            out.push(t);
        }
    }
    out
}

#[tokio::test]
async fn alert_dispositions_and_expired_watches_enter_the_ledger() {
    use geo::Centroid;
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let analyst = app.login("analyst").await;
    let officer = app.login("officer01").await;
    let user = app
        .state
        .store
        .get_user_by_username("officer01")
        .await
        .unwrap()
        .unwrap();
    let j = app.state.jurisdiction();
    let c = j
        .node(user.org_id)
        .unwrap()
        .area
        .clone()
        .unwrap()
        .centroid()
        .unwrap();
    let (st, body) = app
        .call(
            "POST",
            "/api/v1/sensors",
            Some(&admin),
            Some(json!({"id": "CP-P1", "kind": "checkpoint", "name": "卡口 P1", "org_id": user.org_id,
                "location": {"lat": c.y(), "lng": c.x()}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, key) = app
        .call(
            "POST",
            "/api/v1/apikeys",
            Some(&admin),
            Some(json!({"name": "checkpoint feed", "role": "sensor", "org_id": user.org_id})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{key}");
    let key = key["secret"].as_str().unwrap().to_string();
    let plate = "川A54321";
    let purpose = ("X-Purpose", "案件侦查 CASE-2026-010");
    // A watch that expires in three seconds.
    let (st, w) = app
        .raw(
            "POST",
            "/api/v1/watches",
            Some(&analyst),
            "application/json",
            json!({
                "label": "盗抢车辆",
                "target": {"type": "identifiers", "identifiers": [{"kind": "plate", "value": plate}]},
                "legal_basis": "公安机关办理刑事案件程序规定 第二百六十四条",
                "case_ref": "CASE-2026-010",
                "expires_at": app.state.now_ms() + 3_000,
                "priority": "high"
            })
            .to_string()
            .into_bytes(),
            &[purpose],
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{w}");
    let wid = w["id"].as_i64().unwrap();
    let event = json!({"sensor_id": "CP-P1", "time": app.state.now_ms(), "kind": "plate_read",
        "identifiers": [{"kind": "plate", "value": plate}]});
    let (st, body) = app
        .raw(
            "POST",
            "/api/v1/events",
            Some(&key),
            "application/x-ndjson",
            event.to_string().into_bytes(),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    app.state.alerts.flush().await.unwrap();
    let (_, list) = app
        .get_with(
            &format!("/api/v1/alerts?watch_id={wid}"),
            &admin,
            &[purpose],
        )
        .await;
    let alert = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["watch_id"] == wid)
        .unwrap_or_else(|| panic!("no alert of watch {wid}: {list}"))["id"]
        .as_i64()
        .unwrap();
    for (step, body) in [
        ("ack", json!({})),
        ("verify", json!({"note": "核实车牌一致"})),
        (
            "close",
            json!({"outcome": "true_positive", "note": "已处置"}),
        ),
    ] {
        let (st, b) = app
            .call(
                "POST",
                &format!("/api/v1/alerts/{alert}/{step}"),
                Some(&officer),
                Some(body),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{step}: {b}");
    }

    // Dispositions in order; the watch created, then expired by the engine.
    let name = format!("alert-{alert}");
    let dispositions = eventually("three alert dispositions in the ledger", || {
        let (app, name) = (&app, name.clone());
        async move {
            let d = leaves_where(app, |r| match r {
                LeafRecord::AlertDisposition(a) if a.alert == name => Some(a.disposition),
                _ => None,
            })
            .await;
            (d.len() == 3).then_some(d)
        }
    })
    .await;
    assert_eq!(
        dispositions,
        ["acknowledged", "verified", "closed:true_positive"]
    );
    let name = format!("watch-{wid}");
    let actions = eventually("the watch's expiry in the ledger", || {
        let (app, name) = (&app, name.clone());
        async move {
            let a = leaves_where(app, |r| match r {
                LeafRecord::Watch(w) if w.watch == name => Some(w.action),
                _ => None,
            })
            .await;
            (a.len() == 2).then_some(a)
        }
    })
    .await;
    assert_eq!(
        actions,
        [
            pingan_ledger::WatchAction::Created,
            pingan_ledger::WatchAction::Expired
        ]
    );
    app.stop().await;
}
