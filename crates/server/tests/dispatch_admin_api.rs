//! Dispatch administration end to end: merging a duplicate call's incident
//! into the original (calls re-attached, both timelines, the duplicate closed,
//! refusals with the error shape), and pending escalations surviving a
//! restart of the server over the same data dir.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post_call(app: &TestApp, token: &str, phone: &str, lat: f64, lng: f64) -> Value {
    let (st, r) = app
        .call(
            "POST",
            "/api/v1/calls",
            Some(token),
            Some(json!({"channel": "110", "caller_phone": phone,
                "description": "饭店门口有人打架，有人受伤了", "location": {"lat": lat, "lng": lng}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    r
}

async fn timeline(app: &TestApp, token: &str, id: i64) -> Vec<(String, String)> {
    let (st, d) = app.get(&format!("/api/v1/incidents/{id}"), token).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn merging_a_duplicate_call() {
    let app = TestApp::demo().await;
    let t = app.login("dispatcher").await;
    let (_, units) = app
        .get("/api/v1/units?limit=2&status=available&kind=patrol_car", &t)
        .await;
    let spot = |i: usize| {
        let p = &units["items"][i]["position"];
        (p["lat"].as_f64().unwrap(), p["lng"].as_f64().unwrap())
    };
    let (lat, lng) = spot(0);

    let a = post_call(&app, &t, "13812345678", lat, lng).await;
    let b = post_call(&app, &t, "13900001111", lat, lng).await;
    let (ida, idb) = (
        a["incident"]["id"].as_i64().unwrap(),
        b["incident"]["id"].as_i64().unwrap(),
    );
    let (na, nb) = (
        a["incident"]["number"].as_str().unwrap(),
        b["incident"]["number"].as_str().unwrap(),
    );
    assert_eq!(b["duplicates"][0]["incident_id"].as_i64(), Some(ida));

    // Bad requests first: nothing changes.
    let merge = |into: i64, body: Value| {
        let app = &app;
        let t = t.clone();
        async move {
            app.call(
                "POST",
                &format!("/api/v1/incidents/{into}/merge"),
                Some(&t),
                Some(body),
            )
            .await
        }
    };
    let (st, r) = merge(ida, json!({"from_incident_id": ida, "reason": "重复"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["error"]["field"], "from_incident_id");
    let (st, r) = merge(ida, json!({"from_incident_id": idb, "reason": "  "})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["error"]["field"], "reason");
    let (st, r) = merge(ida, json!({"from_incident_id": 999_999, "reason": "重复"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{r}");
    assert_eq!(error_code(&r), "not_found");
    let (st, r) = merge(ida, json!({"from": idb})).await;
    assert!(st.is_client_error(), "{r}");
    error_code(&r);
    let officer = app.login("officer01").await;
    let (st, r) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{ida}/merge"),
            Some(&officer),
            Some(json!({"from_incident_id": idb, "reason": "重复"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{r}");

    // The merge.
    let (st, m) = merge(
        ida,
        json!({"from_incident_id": idb, "reason": "同一起打架"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(m["incident"]["id"].as_i64(), Some(ida));
    assert_eq!(m["incident"]["status"], "classified");
    assert_eq!(m["merged"]["status"], "closed");
    assert_eq!(m["merged"]["disposition"], format!("duplicate:{na}"));
    assert_eq!(m["calls_moved"], 1);
    let calls = app.state.store.incident_calls(ida).await.unwrap();
    assert_eq!(
        calls
            .iter()
            .map(|c| c.call.caller_phone.as_str())
            .collect::<Vec<_>>(),
        ["13812345678", "13900001111"]
    );
    assert!(
        app.state
            .store
            .incident_calls(idb)
            .await
            .unwrap()
            .is_empty()
    );
    let ta = timeline(&app, &t, ida).await;
    let last = ta.last().unwrap();
    assert_eq!(last.0, "call_merged");
    assert!(
        last.1.contains(nb) && last.1.contains("同一起打架"),
        "{last:?}"
    );
    let tb = timeline(&app, &t, idb).await;
    let last = tb.last().unwrap();
    assert_eq!(last.0, "closed");
    assert!(last.1.contains(na), "{last:?}");

    // Merging again, or into a closed incident, is a conflict.
    let (st, r) = merge(ida, json!({"from_incident_id": idb, "reason": "重复"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{r}");
    assert_eq!(r["error"]["field"], "from_incident_id");
    let c = post_call(&app, &t, "13700002222", lat, lng).await;
    let idc = c["incident"]["id"].as_i64().unwrap();
    let (st, r) = merge(idb, json!({"from_incident_id": idc, "reason": "重复"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{r}");
    assert_eq!(r["error"]["field"], "id");

    // A duplicate that already has a unit on the way is not silently closed.
    let (la2, ln2) = spot(1);
    let d = post_call(&app, &t, "13600003333", la2, ln2).await;
    let idd = d["incident"]["id"].as_i64().unwrap();
    let unit = units["items"][1]["id"].as_i64().unwrap();
    let (st, r) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{idd}/dispatch"),
            Some(&t),
            Some(json!({"unit_ids": [unit]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let (st, r) = merge(ida, json!({"from_incident_id": idd, "reason": "重复"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{r}");
    assert_eq!(app.state.store.incident_calls(idd).await.unwrap().len(), 1);

    // Audited once, naming both incidents.
    let auditor = app.login("auditor").await;
    let (_, log) = app
        .get("/api/v1/audit?action=incident.merge&limit=10", &auditor)
        .await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{log}");
    assert_eq!(
        items[0]["object_ids"],
        json!([ida.to_string(), idb.to_string()])
    );
    app.stop().await;
}

#[test]
fn pending_escalations_survive_a_restart() {
    use pingan_dispatch::EscalationPolicy;
    let dir = std::env::temp_dir().join(format!("pingan-test-escalation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // First process: a call, a dispatch nobody acknowledges, then the process dies.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (id, first, next) = rt.block_on(async {
        let s = common::boot_over(&dir, true).await;
        s.dispatch.set_escalation_policy(EscalationPolicy {
            ack_timeout_s: 3,
            max_redispatches: 2,
            district_timeout_s: 600,
        });
        let (call, police) = common::fight_call_beside_patrol_car(&s).await;
        let id = call.incident.id;
        assert!(police.len() >= 2, "{police:?}");
        pingan_server::dispatch::dispatch_units(&s, id, &police[..1], "dispatcher", police.clone())
            .await
            .unwrap();
        let stored = s.store.pending_escalations().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].incident_id, id);
        let dispatched = s
            .store
            .get_incident(id)
            .await
            .unwrap()
            .dispatched_at
            .unwrap();
        // Due one acknowledgement timeout after the dispatch.
        let deadline = stored[0].deadline.unwrap();
        assert!(
            (dispatched + 3_000..dispatched + 4_000).contains(&deadline),
            "{deadline} vs dispatch at {dispatched}"
        );
        (id, police[0], police[1])
    });
    // Dropping the runtime stops every task of that "process" before the deadline.
    drop(rt);
    std::thread::sleep(std::time::Duration::from_millis(3_500));

    // Second process over the same data dir: the deadline passed while it was
    // down, so the re-armed escalation moves the job to the next unit.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = common::boot_over(&dir, false).await;
        let mut kinds = Vec::new();
        for _ in 0..40 {
            kinds = s
                .store
                .incident_timeline(id)
                .await
                .unwrap()
                .into_iter()
                .map(|t| (t.entry.kind, t.entry.unit_id))
                .collect::<Vec<_>>();
            if kinds.iter().filter(|k| k.0 == "dispatched").count() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        assert!(
            kinds.contains(&("unit_cancelled".to_string(), Some(first))),
            "{kinds:?}"
        );
        assert_eq!(
            kinds.last(),
            Some(&("dispatched".to_string(), Some(next))),
            "{kinds:?}"
        );
        assert_eq!(s.store.get_unit(first).await.unwrap().status, "available");
        assert_eq!(s.store.get_unit(next).await.unwrap().status, "dispatched");
        // The stored state follows: now waiting on the next unit.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let stored = s.store.pending_escalations().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(
            stored[0]
                .state
                .contains(&format!("\"current_unit\":\"{next}\"")),
            "{}",
            stored[0].state
        );
        s.store.close().await;
    });
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
