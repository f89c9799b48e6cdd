//! Taxonomy administration: admins add and edit incident types (validated,
//! 422 naming the field; 409 on duplicates; 404 on unknown codes; 403 for
//! other roles), edits are audited, take effect for classification and call
//! intake at once, and are rebuilt from the store at start.

mod common;

use common::*;
use pingan_dispatch::Taxonomy;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn find<'a>(tax: &'a Value, code: &str) -> Option<&'a Value> {
    tax["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == code)
}

#[tokio::test]
async fn admins_edit_the_taxonomy_and_it_persists() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let disp = app.login("dispatcher").await;

    // Everyone with incident access reads it; only admins write.
    let (st, tax) = app.get("/api/v1/taxonomy", &disp).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(find(&tax, "noise").unwrap()["priority"], "P4");
    let new_type = json!({
        "code": "public_order.drone_nuisance", "parent": "public_order",
        "name_zh": "无人机扰民", "name_en": "Drone nuisance", "priority": "P3",
        "required_capabilities": ["law_enforcement"], "partners": ["12345"],
    });
    let (st, body) = app
        .call(
            "POST",
            "/api/v1/taxonomy",
            Some(&disp),
            Some(new_type.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
    error_code(&body);

    // Create.
    let (st, t) = app
        .call(
            "POST",
            "/api/v1/taxonomy",
            Some(&admin),
            Some(new_type.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    assert_eq!(t["priority"], "P3");
    assert_eq!(t["partners"], json!(["12345"]));
    assert_eq!(t["required_capabilities"], json!(["law_enforcement"]));
    assert_eq!(t["police_response"], true);
    let (_, tax) = app.get("/api/v1/taxonomy", &disp).await;
    assert_eq!(
        find(&tax, "public_order.drone_nuisance").unwrap()["name_zh"],
        "无人机扰民"
    );
    let (st, body) = app
        .call(
            "POST",
            "/api/v1/taxonomy",
            Some(&admin),
            Some(new_type.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["field"], "code");

    // Bad input is 422 naming the field.
    let bad = |patch: Value| {
        let mut b = new_type.clone();
        b["code"] = json!("public_order.other_thing");
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, field) in [
        (bad(json!({"priority": "P9"})), "priority"),
        (
            bad(json!({"required_capabilities": ["flying"]})),
            "required_capabilities",
        ),
        (bad(json!({"partners": ["999"]})), "partners"),
        (bad(json!({"parent": "no_such_root"})), "parent"),
        (bad(json!({"code": "Bad Code"})), "code"),
        (bad(json!({"name_zh": "  "})), "name_zh"),
        (
            bad(json!({"police_response": false, "partners": []})),
            "police_response",
        ),
    ] {
        let (st, r) = app
            .call("POST", "/api/v1/taxonomy", Some(&admin), Some(body))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {r}");
        assert_eq!(error_code(&r), "invalid_field");
        assert_eq!(r["error"]["field"], field, "{r}");
    }
    let (st, _) = app.get("/api/v1/taxonomy", &disp).await;
    assert_eq!(st, StatusCode::OK);

    // Edit a built-in type: noise becomes P3 and is diverted to 12345 by default.
    let (st, t) = app
        .call(
            "PUT",
            "/api/v1/taxonomy/noise",
            Some(&admin),
            Some(json!({"priority": "P3", "partners": ["12345"]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{t}");
    assert_eq!(
        (
            t["priority"].as_str(),
            t["name_zh"].as_str(),
            &t["partners"]
        ),
        (Some("P3"), Some("噪音扰民"), &json!(["12345"]))
    );
    let (st, r) = app
        .call(
            "PUT",
            "/api/v1/taxonomy/noise",
            Some(&admin),
            Some(json!({"priority": "urgent"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["error"]["field"], "priority");
    let (st, r) = app
        .call(
            "PUT",
            "/api/v1/taxonomy/no_such_type",
            Some(&admin),
            Some(json!({"priority": "P1"})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{r}");
    error_code(&r);

    // The edit is live: a noise call is suggested at the new default priority,
    // and confirming a new type without a priority takes its default.
    let (_, units) = app
        .get("/api/v1/units?limit=1&kind=patrol_car", &disp)
        .await;
    let pos = &units["items"][0]["position"];
    let (st, call) = app
        .call(
            "POST",
            "/api/v1/calls",
            Some(&disp),
            Some(json!({"channel": "110", "caller_phone": "13812345678",
                "description": "楼上半夜一直在跺脚拖椅子，吵得睡不着，都一点了", "location": pos})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{call}");
    assert_eq!(call["suggestion"]["type_code"], "noise");
    assert_eq!(call["suggestion"]["priority"], "P3");
    let id = call["incident"]["id"].as_i64().unwrap();
    let (st, inc) = app
        .call(
            "POST",
            &format!("/api/v1/incidents/{id}/classify"),
            Some(&disp),
            Some(json!({"type_code": "public_order.drone_nuisance"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{inc}");
    assert_eq!(
        (inc["type_name"].as_str(), inc["priority"].as_str()),
        (Some("无人机扰民"), Some("P3"))
    );

    // Audited with the stored spec.
    let auditor = app.login("auditor").await;
    let (st, log) = app
        .get("/api/v1/audit?object_type=taxonomy&limit=10", &auditor)
        .await;
    assert_eq!(st, StatusCode::OK, "{log}");
    let actions: Vec<(&str, &str)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["object_ids"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("taxonomy.create", "public_order.drone_nuisance")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("taxonomy.update", "noise")),
        "{actions:?}"
    );
    assert_eq!(
        actions.len(),
        2,
        "refused edits are not recorded: {actions:?}"
    );

    // Rebuilt from the store at start: built-ins plus the edits in order.
    app.state.dispatch.set_taxonomy(Taxonomy::builtin());
    assert!(
        app.state
            .dispatch
            .taxonomy()
            .get("public_order.drone_nuisance")
            .is_none()
    );
    let n = pingan_server::api::taxonomy::restore(&app.state)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let tax = app.state.dispatch.taxonomy();
    assert_eq!(
        tax.get("noise").unwrap().default_priority().to_string(),
        "P3"
    );
    assert_eq!(
        tax.get("public_order.drone_nuisance").unwrap().parent(),
        Some("public_order")
    );
    assert_eq!(tax.len(), Taxonomy::builtin().len() + 1);
    app.stop().await;
}
