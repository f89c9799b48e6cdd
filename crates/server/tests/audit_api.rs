//! The audit log through the API: every personal-data read leaves a record,
//! logins succeed and fail on the record, auditors query by user, object and
//! time, the log is append-only through the API, and an edit in the database
//! breaks the hash chain at exactly that record.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Audit records matching a query, newest first.
async fn audit(app: &TestApp, auditor: &str, query: &str) -> Vec<Value> {
    let (st, body) = app.get(&format!("/api/v1/audit?{query}"), auditor).await;
    assert_eq!(st, StatusCode::OK, "{query}: {body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn personal_data_reads_and_logins_are_audited_and_queryable() {
    let app = TestApp::demo().await;
    let auditor = app.login("auditor").await;
    let t0 = app.state.now_ms();

    // A failed login is recorded against the name tried.
    let (st, _) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "guess"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let admin = app.login("admin").await;
    let logins = audit(&app, &auditor, "user=admin&action=auth.login").await;
    let outcomes: Vec<(&str, &str)> = logins
        .iter()
        .map(|r| (r["outcome"].as_str().unwrap(), r["role"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("ok", "admin"), ("denied", "anonymous")]);

    // Listing users records every id listed; reading one records that id.
    let (st, users) = app.get("/api/v1/users?limit=5", &admin).await;
    assert_eq!(st, StatusCode::OK);
    let listed: Vec<String> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].to_string())
        .collect();
    let id = listed[2].clone();
    let (st, _) = app.get(&format!("/api/v1/users/{id}"), &admin).await;
    assert_eq!(st, StatusCode::OK);
    let lists = audit(&app, &auditor, "user=admin&action=user.list").await;
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0]["object_ids"], json!(listed));
    assert_eq!(lists[0]["object_type"], "user");
    // By object: the list and the read both touched that user.
    let by_object = audit(&app, &auditor, &format!("object={id}&object_type=user")).await;
    let actions: Vec<&str> = by_object
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user.read", "user.list"]);
    assert!(by_object.iter().all(|r| r["user"] == "admin"));

    // A read outside the caller's jurisdiction is refused, and nothing is read.
    let officer = app.login("officer01").await;
    let (_, me) = app.get("/api/v1/auth/me", &officer).await;
    let other = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["org_id"] != me["org_id"])
        .unwrap()["id"]
        .clone();
    let (st, _) = app.get(&format!("/api/v1/users/{other}"), &officer).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "officers lack users:read");
    // The refused attempt is on the record, naming the user it tried to read.
    let tried = audit(&app, &auditor, "user=officer01&object_type=user").await;
    assert_eq!(tried.len(), 1, "{tried:?}");
    assert_eq!(
        (
            &tried[0]["action"],
            &tried[0]["outcome"],
            &tried[0]["object_ids"],
            &tried[0]["role"]
        ),
        (
            &json!("GET /api/v1/users/{id}"),
            &json!("denied"),
            &json!([other.to_string()]),
            &json!("station_officer")
        )
    );

    // An auditor of that station audits its people only.
    let (st, _) = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(
                json!({"username": "auditor_a", "display_name": "站审计", "password": PASSWORD,
                "role": "auditor", "org_id": me["org_id"]}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let station_auditor = app.login("auditor_a").await;
    let seen = audit(&app, &station_auditor, "limit=1000").await;
    let mut users: Vec<&str> = seen.iter().map(|r| r["user"].as_str().unwrap()).collect();
    users.sort();
    users.dedup();
    assert_eq!(users, ["auditor_a", "officer01"], "{seen:?}");

    // By time: a window before the test saw none of this; one from t0 does.
    let before = audit(&app, &auditor, &format!("user=admin&to={t0}")).await;
    assert!(before.iter().all(|r| r["action"] != "user.read"));
    let since = audit(&app, &auditor, &format!("user=admin&from={t0}")).await;
    let seen: Vec<&str> = since
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    // The failed login was recorded under the name tried, too.
    assert_eq!(
        seen,
        [
            "user.create",
            "user.read",
            "user.list",
            "auth.login",
            "auth.login"
        ]
    );
    let rfc = "2000-01-01T00:00:00Z";
    assert_eq!(
        audit(&app, &auditor, &format!("user=admin&from={rfc}&to={t0}"))
            .await
            .len(),
        before.len()
    );

    // Reading the audit log is itself audited.
    let reads = audit(&app, &auditor, "user=auditor&action=audit.read").await;
    assert!(reads.len() >= 6, "{reads:?}");
    assert!(reads.iter().all(|r| r["role"] == "auditor"));

    // Append-only through the API: the spec offers no write on the log, and a
    // write is a 405.
    let (_, spec) = app.call("GET", "/api/openapi.json", None, None).await;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if path.starts_with("/api/v1/audit") {
            let methods: Vec<&String> = item.as_object().unwrap().keys().collect();
            assert_eq!(methods, ["get"], "{path}");
        }
    }
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        let (st, body) = app.call(m, "/api/v1/audit", Some(&admin), None).await;
        assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED, "{m}");
        error_code(&body);
    }
    // A purpose stated on a read whose handler asks for none is kept, decoded
    // as the console sends it (percent-encoded UTF-8).
    let (st, _) = app
        .get_with(
            &format!("/api/v1/users/{id}"),
            &admin,
            &[("X-Purpose", "%E6%A0%B8%E6%9F%A5 7")],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let reads = audit(&app, &auditor, "user=admin&action=user.read").await;
    assert_eq!(reads[0]["purpose"], "核查 7", "{:?}", reads[0]);

    // Non-auditors other than admin cannot read it.
    let dispatcher = app.login("dispatcher").await;
    assert_eq!(
        app.get("/api/v1/audit", &dispatcher).await.0,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn the_chain_verifies_and_a_database_edit_is_detected() {
    let app = TestApp::demo().await;
    let auditor = app.login("auditor").await;
    let admin = app.login("admin").await;
    for i in 0..5 {
        let (st, _) = app
            .get(&format!("/api/v1/users?offset={i}&limit=3"), &admin)
            .await;
        assert_eq!(st, StatusCode::OK);
    }
    let (st, v) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["ok"].clone(), v["first_bad_seq"].clone()),
        (json!(true), Value::Null),
        "{v}"
    );
    let checked = v["checked"].as_u64().unwrap();
    assert!(checked >= 7, "{v}");
    assert_eq!(v["head_seq"].as_u64(), Some(checked), "{v}");

    // Rewrite who did the third user listing.
    let lists = audit(&app, &auditor, "action=user.list").await;
    let seq = lists[2]["seq"].as_i64().unwrap();
    let n = app
        .state
        .store
        .execute_raw(&format!(
            "UPDATE audit_log SET username = 'mallory' WHERE seq = {seq}"
        ))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let (_, v) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_bad_seq"].as_i64(), Some(seq), "{v}");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");

    // Putting it back heals the chain; deleting a record breaks it after the gap.
    app.state
        .store
        .execute_raw(&format!(
            "UPDATE audit_log SET username = 'admin' WHERE seq = {seq}"
        ))
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/audit/verify", &auditor).await.1["ok"],
        true
    );
    app.state
        .store
        .execute_raw(&format!("DELETE FROM audit_log WHERE seq = {seq}"))
        .await
        .unwrap();
    let (_, v) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_bad_seq"].as_i64(), Some(seq + 1), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn records_cut_off_the_end_are_caught_by_the_ledger_anchor() {
    let app = TestApp::demo().await;
    let auditor = app.login("auditor").await;
    let admin = app.login("admin").await;
    for i in 0..4 {
        let (st, _) = app
            .get(&format!("/api/v1/users?offset={i}&limit=2"), &admin)
            .await;
        assert_eq!(st, StatusCode::OK);
    }
    // The ledger anchors the chain head (every minute in service; now here).
    let anchored = app.state.ledger.anchor_audit_head(None).await.unwrap();
    let (_, v) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["anchored_seq"].as_i64(), Some(anchored), "{v}");

    // Cut the last three records: what is left is still a valid chain...
    let n = app
        .state
        .store
        .execute_raw(&format!(
            "DELETE FROM audit_log WHERE seq > {}",
            anchored - 3
        ))
        .await
        .unwrap();
    assert!(n >= 3, "{n}");
    let chain = app.state.store.audit_verify().await.unwrap();
    assert!(chain.ok(), "{chain:?}");
    // ...but not the one the ledger anchored. Reading the verdict is itself
    // audited, so the check looks at the record the anchor names.
    let (_, v) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_bad_seq"].as_i64(), Some(anchored - 2), "{v}");
    assert!(
        v["reason"].as_str().is_some_and(|r| r.contains("removed")),
        "{v}"
    );
    // The ledger audit reports it too.
    let report = pingan_server::ledger::audit_store(&app.state.store, app.state.ledger.verifier())
        .await
        .unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.to_string().contains(&format!("record #{anchored}"))),
        "{:?}",
        report.findings
    );
    app.stop().await;
}
