//! The demo city serves, logins work, the spec lists every route.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn demo_city_serves_and_logins_work() {
    let app = TestApp::demo().await;
    let (st, h) = app.call("GET", "/healthz", None, None).await;
    assert_eq!((st, h["status"].as_str()), (StatusCode::OK, Some("ok")));
    for user in [
        "admin",
        "commander",
        "dispatcher",
        "analyst",
        "auditor",
        "officer01",
        "officer24",
    ] {
        let t = app.login(user).await;
        let (st, me) = app.get("/api/v1/auth/me", &t).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(me["username"], user);
    }
    let t = app.login("admin").await;
    let (_, units) = app.get("/api/v1/units?limit=1", &t).await;
    assert!(units["total"].as_i64().unwrap() >= 500, "{units}");
    let (_, orgs) = app.get("/api/v1/orgs?limit=1000", &t).await;
    let kinds: Vec<&str> = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "city").count(), 1);
    assert!(kinds.iter().filter(|k| **k == "district").count() >= 4);
    assert!(kinds.iter().filter(|k| **k == "station").count() >= 20);
    let (st, spec) = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(spec["paths"]["/api/v1/units/{id}"]["get"].is_object());
    let (st, m) = app.call("GET", "/metrics", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        m.as_str().unwrap().contains("# TYPE pingan_http_requests"),
        "{m}"
    );
    app.stop().await;
}

#[tokio::test]
async fn one_stations_area_exports_and_imports_back_unchanged() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (_, me) = app
        .get("/api/v1/auth/me", &app.login("officer01").await)
        .await;
    let station = me["org_id"].as_i64().unwrap();
    let (_, org) = app.get(&format!("/api/v1/orgs/{station}"), &admin).await;
    let (_, district) = app
        .get(&format!("/api/v1/orgs/{}", org["parent_id"]), &admin)
        .await;
    let (st, feature) = app
        .get(&format!("/api/v1/orgs/{station}/area"), &admin)
        .await;
    assert_eq!(st, StatusCode::OK, "{feature}");
    assert_eq!(feature["properties"]["parent_code"], district["code"]);
    let (st, r) = app
        .call(
            "POST",
            "/api/v1/orgs/import",
            Some(&admin),
            Some(json!({"type": "FeatureCollection", "features": [feature.clone()]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(
        (r["created"].as_i64(), r["updated"].as_i64()),
        (Some(0), Some(1))
    );
    let (_, again) = app
        .get(&format!("/api/v1/orgs/{station}/area"), &admin)
        .await;
    assert_eq!(again["geometry"], feature["geometry"]);
    app.stop().await;
}

#[tokio::test]
async fn org_changes_made_outside_the_server_reach_its_lookup() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (_, bbox) = app.get("/api/v1/geo/bbox", &admin).await;
    let at = format!(
        "/api/v1/geo/locate?lat={}&lng={}",
        bbox["center"]["lat"], bbox["center"]["lng"]
    );
    let (st, here) = app.get(&at, &admin).await;
    assert_eq!(st, StatusCode::OK, "{here}");
    let station = here["station"]["id"]
        .as_i64()
        .expect("the centre is in a station");
    // What `pingan org import` does beside a running server: a write to the
    // database that the server's own API never saw.
    app.state
        .store
        .execute_raw(&format!(
            "UPDATE orgs SET name = '改名派出所', updated_at = updated_at + 1 WHERE id = {station}"
        ))
        .await
        .unwrap();
    let mut seen = String::new();
    for _ in 0..50 {
        let (_, now) = app.get(&at, &admin).await;
        seen = now["station"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if seen == "改名派出所" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(seen, "改名派出所");
    app.stop().await;
}
