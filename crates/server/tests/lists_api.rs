//! Lists, filters and input ranges of the administration API, black-box:
//! API keys and sources paginate like every other list, `/users` filters by
//! role, org subtree, disabled flag and name text and refuses unknown
//! parameters, alert filters refuse values no alert can have, API keys get
//! machine roles, a bounded lifetime and a name unique among the org's live
//! keys, the city bureau keeps an enabled admin, station officers sit at a
//! station, and a number too large for JSON says so.

mod common;

use common::{PASSWORD, TestApp, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MAPPINGS: [&str; 3] = [
    include_str!("../../fusion/examples/mappings/household_registry.toml"),
    include_str!("../../fusion/examples/mappings/hotel_stay.toml"),
    include_str!("../../fusion/examples/mappings/net_cafe.toml"),
];

/// Sends a request and asserts its status, returning the body.
async fn expect(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
    want: StatusCode,
) -> Value {
    let (st, b) = app.call(method, path, Some(token), body).await;
    assert_eq!(st, want, "{method} {path}: {b}");
    b
}

/// Asserts a 4xx error shape naming `field`, returning its code.
fn refused(body: &Value, field: &str) -> String {
    let code = error_code(body);
    assert_eq!(body["error"]["field"], field, "{body}");
    code
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

fn usernames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["username"].as_str().unwrap().to_string())
        .collect()
}

/// The demo's orgs: (city id, a district id, a station of that district).
async fn orgs(app: &TestApp, admin: &str) -> (i64, i64, i64) {
    let all = expect(
        app,
        "GET",
        "/api/v1/orgs?limit=1000",
        admin,
        None,
        StatusCode::OK,
    )
    .await;
    let items = all["items"].as_array().unwrap();
    let of_kind = |k: &'static str| items.iter().filter(move |o| o["kind"] == k);
    let city = of_kind("city").next().unwrap()["id"].as_i64().unwrap();
    let district = of_kind("district").next().unwrap()["id"].as_i64().unwrap();
    let station = of_kind("station")
        .find(|o| o["parent_id"].as_i64() == Some(district))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    (city, district, station)
}

async fn user_id(app: &TestApp, admin: &str, username: &str) -> i64 {
    let page = expect(
        app,
        "GET",
        &format!("/api/v1/users?q={username}&limit=1000"),
        admin,
        None,
        StatusCode::OK,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("no user {username}"))["id"]
        .as_i64()
        .unwrap()
}

async fn new_user(app: &TestApp, admin: &str, username: &str, role: &str, org: i64) -> i64 {
    let u = expect(
        app,
        "POST",
        "/api/v1/users",
        admin,
        Some(
            json!({"username": username, "display_name": username, "password": PASSWORD,
            "role": role, "org_id": org}),
        ),
        StatusCode::CREATED,
    )
    .await;
    u["id"].as_i64().unwrap()
}

async fn patch_user(app: &TestApp, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    app.call(
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(token),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn api_keys_and_sources_paginate_within_the_callers_subtree() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (city, _, station) = orgs(&app, &admin).await;
    let mut made = Vec::new();
    for (name, org) in [("k1", city), ("k2", city), ("k3", station), ("k4", city)] {
        let k = expect(
            &app,
            "POST",
            "/api/v1/apikeys",
            &admin,
            Some(json!({"name": name, "role": "sensor", "org_id": org})),
            StatusCode::CREATED,
        )
        .await;
        made.push(k["id"].as_i64().unwrap());
    }

    let all = expect(
        &app,
        "GET",
        "/api/v1/apikeys?limit=1000",
        &admin,
        None,
        StatusCode::OK,
    )
    .await;
    let all_ids = ids(&all);
    assert!(made.iter().all(|k| all_ids.contains(k)), "{all}");
    let total = all["total"].as_i64().unwrap();
    assert_eq!(total, all_ids.len() as i64);
    assert!(all_ids.windows(2).all(|w| w[0] < w[1]), "id order: {all}");

    let page = expect(
        &app,
        "GET",
        "/api/v1/apikeys?limit=2&offset=1",
        &admin,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&page["total"], &page["limit"], &page["offset"]),
        (&json!(total), &json!(2), &json!(1))
    );
    assert_eq!(ids(&page), all_ids[1..3]);
    assert!(page["items"][0].get("secret").is_none(), "{page}");

    // A station admin sees only its station's key.
    new_user(&app, &admin, "station_admin", "admin", station).await;
    let station_admin = app.login("station_admin").await;
    let page = expect(
        &app,
        "GET",
        "/api/v1/apikeys",
        &station_admin,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!((ids(&page), &page["total"]), (vec![made[2]], &json!(1)));

    // Bad paging and unknown parameters are 400s naming the parameter.
    for (query, field) in [
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("org=1", "org"),
    ] {
        let b = expect(
            &app,
            "GET",
            &format!("/api/v1/apikeys?{query}"),
            &admin,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(refused(&b, field), "invalid_query");
    }

    // Sources.
    let analyst = app.login("analyst").await;
    let mut sources = Vec::new();
    for m in MAPPINGS {
        let s = expect(
            &app,
            "POST",
            "/api/v1/sources",
            &analyst,
            Some(json!({"mapping_toml": m})),
            StatusCode::CREATED,
        )
        .await;
        sources.push(s["id"].as_i64().unwrap());
    }
    let page = expect(
        &app,
        "GET",
        "/api/v1/sources?limit=1&offset=1",
        &analyst,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (ids(&page), &page["total"], &page["limit"], &page["offset"]),
        (vec![sources[1]], &json!(3), &json!(1), &json!(1))
    );
    assert_eq!(page["items"][0]["records"], 0);
    let page = expect(
        &app,
        "GET",
        "/api/v1/sources",
        &analyst,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (ids(&page), &page["limit"], &page["offset"]),
        (sources.clone(), &json!(50), &json!(0))
    );
    let b = expect(
        &app,
        "GET",
        "/api/v1/sources?limit=1001",
        &analyst,
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    refused(&b, "limit");
    app.stop().await;
}

#[tokio::test]
async fn users_filter_by_role_org_disabled_and_text() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (city, district, station) = orgs(&app, &admin).await;
    let get = |query: String| {
        let (app, admin) = (&app, admin.clone());
        async move {
            expect(
                app,
                "GET",
                &format!("/api/v1/users?limit=1000&{query}"),
                &admin,
                None,
                StatusCode::OK,
            )
            .await
        }
    };

    let page = get("role=admin".into()).await;
    assert_eq!(
        (usernames(&page), &page["total"]),
        (vec!["admin".to_string()], &json!(1))
    );
    let officers = get("role=station_officer".into()).await;
    assert_eq!(officers["total"], 24);
    assert!(
        officers["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["role"] == "station_officer")
    );

    // org_id narrows to that node's subtree: 6 stations per district, one
    // officer each; the city holds everyone.
    let page = get(format!("org_id={district}&role=station_officer")).await;
    assert_eq!(page["total"], 6);
    let page = get(format!("org_id={station}")).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["org_id"], station);
    let officer = page["items"][0]["username"].as_str().unwrap().to_string();
    assert_eq!(get(format!("org_id={city}")).await["total"], 29);

    // Disabled flag.
    let victim = user_id(&app, &admin, &officer).await;
    expect(
        &app,
        "DELETE",
        &format!("/api/v1/users/{victim}"),
        &admin,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let page = get("disabled=true".into()).await;
    assert_eq!((ids(&page), &page["total"]), (vec![victim], &json!(1)));
    assert_eq!(get("disabled=false".into()).await["total"], 28);
    assert_eq!(
        get("disabled=false&role=station_officer".into()).await["total"],
        23
    );

    // Text: a case-insensitive substring of the username or display name.
    let page = get("q=OFFICER0".into()).await;
    assert_eq!(page["total"], 9);
    let page = get(format!("q={}", urlencode("指挥"))).await;
    assert_eq!(usernames(&page), ["commander"]);
    let page = get(format!("q={}", urlencode("50%"))).await;
    assert_eq!(page["total"], 0, "% is literal: {page}");
    assert_eq!(get("q=".into()).await["total"], 29);

    // Misspelt values and unknown parameters are refused, naming them.
    for (query, field) in [
        ("role=boss", "role"),
        ("role=sensor", "role"),
        ("rol=admin", "rol"),
        ("org_id=99999999", "org_id"),
    ] {
        let b = expect(
            &app,
            "GET",
            &format!("/api/v1/users?{query}"),
            &admin,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert_eq!(refused(&b, field), "invalid_query", "{query}");
    }
    let (st, b) = app.get("/api/v1/users?disabled=maybe", &admin).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(error_code(&b), "invalid_query");

    // A station admin filtering on the city node is outside its jurisdiction.
    new_user(&app, &admin, "station_admin", "admin", station).await;
    let station_admin = app.login("station_admin").await;
    let b = expect(
        &app,
        "GET",
        &format!("/api/v1/users?org_id={city}"),
        &station_admin,
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(error_code(&b), "forbidden");
    let page = expect(
        &app,
        "GET",
        "/api/v1/users?role=admin",
        &station_admin,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(usernames(&page), ["station_admin"]);
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn alert_filters_refuse_unknown_statuses_and_rules() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let purpose = [("X-Purpose", "列表核对")];
    for (query, field) in [
        ("status=bogus", "status"),
        ("rule=bogus", "rule"),
        ("status=new&rule=Sighting", "rule"),
    ] {
        let (st, b) = app
            .get_with(&format!("/api/v1/alerts?{query}"), &admin, &purpose)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{query}: {b}");
        assert_eq!(refused(&b, field), "invalid_query");
    }
    for query in ["status=closed", "rule=co_occurrence&status=new", ""] {
        let (st, b) = app
            .get_with(&format!("/api/v1/alerts?{query}"), &admin, &purpose)
            .await;
        assert_eq!(st, StatusCode::OK, "{query}: {b}");
        assert!(b["items"].is_array(), "{b}");
    }
    app.stop().await;
}

#[tokio::test]
async fn api_keys_have_machine_roles_bounded_lifetimes_and_unique_live_names() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (city, _, station) = orgs(&app, &admin).await;
    let create = |body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.call("POST", "/api/v1/apikeys", Some(&admin), Some(body))
                .await
        }
    };

    // Lifetime: 1..=3650 days.
    for days in [json!(0), json!(-1), json!(3651), json!(4294967295u64)] {
        let (st, b) = create(json!({"name": "cam", "role": "sensor", "org_id": city,
            "expires_in_days": days}))
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{days}: {b}");
        assert_eq!(refused(&b, "expires_in_days"), "invalid_field");
    }
    let t0 = app.state.now_ms();
    let (st, k) = create(
        json!({"name": "ten-years", "role": "sensor", "org_id": city,
        "expires_in_days": 3650}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    let expires = pingan_server::api::parse_time("t", k["expires_at"].as_str().unwrap()).unwrap();
    let t1 = app.state.now_ms();
    let ten_years = 3650 * 86_400_000;
    assert!((t0 + ten_years..=t1 + ten_years).contains(&expires), "{k}");
    let (st, k) = create(json!({"name": "one-day", "role": "sensor", "org_id": city,
        "expires_in_days": 1}))
    .await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    let secret = k["secret"].as_str().unwrap();
    let (st, me) = app.get("/api/v1/auth/me", secret).await;
    assert_eq!(
        (st, &me["role"]),
        (StatusCode::OK, &json!("sensor")),
        "born live"
    );

    // Only machine roles.
    for role in ["admin", "dispatcher", "station_officer"] {
        let (st, b) =
            create(json!({"name": format!("svc-{role}"), "role": role, "org_id": city})).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{role}: {b}");
        assert_eq!(refused(&b, "role"), "invalid_field");
    }

    // A name is unique among one org's live keys.
    let (st, first) = create(json!({"name": "cam1", "role": "sensor", "org_id": city})).await;
    assert_eq!(st, StatusCode::CREATED, "{first}");
    let (st, b) = create(json!({"name": "cam1", "role": "partner", "org_id": city,
        "partner": "120"}))
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(refused(&b, "name"), "conflict");
    let (st, b) = create(json!({"name": "cam1", "role": "sensor", "org_id": station})).await;
    assert_eq!(st, StatusCode::CREATED, "another org: {b}");
    expect(
        &app,
        "DELETE",
        &format!("/api/v1/apikeys/{}", first["id"]),
        &admin,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let (st, b) = create(json!({"name": "cam1", "role": "sensor", "org_id": city})).await;
    assert_eq!(st, StatusCode::CREATED, "after revocation: {b}");
    app.stop().await;
}

#[tokio::test]
async fn the_city_bureau_keeps_an_enabled_admin() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (city, district, station) = orgs(&app, &admin).await;
    let me = user_id(&app, &admin, "admin").await;
    // Alone at the root: no demotion, no disabling, no move.
    for (body, field) in [
        (json!({"role": "analyst"}), "role"),
        (json!({"disabled": true}), "disabled"),
        (json!({"org_id": district}), "org_id"),
    ] {
        let (st, b) = patch_user(&app, &admin, me, body.clone()).await;
        assert_eq!(st, StatusCode::CONFLICT, "{body}: {b}");
        assert_eq!(refused(&b, field), "conflict");
    }
    // Changes that keep it an enabled root admin pass.
    let (st, b) = patch_user(
        &app,
        &admin,
        me,
        json!({"role": "admin", "display_name": "管理员"}),
    )
    .await;
    assert_eq!((st, &b["role"]), (StatusCode::OK, &json!("admin")), "{b}");
    let admin = app.login("admin").await;

    // A station admin does not count; a disabled root admin does not either.
    new_user(&app, &admin, "station_admin", "admin", station).await;
    let spare = new_user(&app, &admin, "spare_admin", "admin", city).await;
    expect(
        &app,
        "DELETE",
        &format!("/api/v1/users/{spare}"),
        &admin,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let (st, b) = patch_user(&app, &admin, me, json!({"role": "commander"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");

    // With the spare enabled again, the demo admin may step down; then the
    // spare is the last one, and nobody may demote or disable it.
    let (st, b) = patch_user(&app, &admin, spare, json!({"disabled": false})).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let spare_token = app.login("spare_admin").await;
    let (st, b) = patch_user(&app, &admin, me, json!({"role": "commander"})).await;
    assert_eq!(
        (st, &b["role"]),
        (StatusCode::OK, &json!("commander")),
        "{b}"
    );
    let (st, b) = patch_user(&app, &spare_token, spare, json!({"role": "analyst"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(refused(&b, "role"), "conflict");
    // The old admin, promoted back by the spare, may then disable it.
    expect(
        &app,
        "PATCH",
        &format!("/api/v1/users/{me}"),
        &spare_token,
        Some(json!({"role": "admin"})),
        StatusCode::OK,
    )
    .await;
    let admin = app.login("admin").await;
    expect(
        &app,
        "DELETE",
        &format!("/api/v1/users/{spare}"),
        &admin,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    // And now it is the last again: the stale admin check still holds.
    let (st, b) = patch_user(&app, &admin, me, json!({"disabled": true})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    app.stop().await;
}

#[tokio::test]
async fn station_officers_sit_at_a_station() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (city, district, station) = orgs(&app, &admin).await;
    for org in [city, district] {
        let (st, b) = app
            .call(
                "POST",
                "/api/v1/users",
                Some(&admin),
                Some(
                    json!({"username": format!("so{org}"), "display_name": "民警",
                    "password": PASSWORD, "role": "station_officer", "org_id": org}),
                ),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(refused(&b, "org_id"), "invalid_field");
    }
    new_user(&app, &admin, "so_station", "station_officer", station).await;
    // Other roles may sit at any level.
    new_user(&app, &admin, "commander_station", "commander", station).await;
    new_user(&app, &admin, "dispatcher_district", "dispatcher", district).await;

    // An analyst at the city cannot become a station officer there; an
    // officer cannot move up to the district.
    let analyst = user_id(&app, &admin, "analyst").await;
    let (st, b) = patch_user(&app, &admin, analyst, json!({"role": "station_officer"})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(refused(&b, "org_id"), "invalid_field");
    let officer = user_id(&app, &admin, "so_station").await;
    let (st, b) = patch_user(&app, &admin, officer, json!({"org_id": district})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(refused(&b, "org_id"), "invalid_field");
    // Moving it up together with a role change is fine.
    let (st, b) = patch_user(
        &app,
        &admin,
        officer,
        json!({"org_id": district, "role": "dispatcher"}),
    )
    .await;
    assert_eq!(
        (st, &b["org_id"]),
        (StatusCode::OK, &json!(district)),
        "{b}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_number_too_large_for_json_says_so() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let body = format!(
        r#"{{"username":"big","display_name":"big","password":"{PASSWORD}","role":"analyst","org_id":1e400}}"#
    );
    let (st, b) = app
        .raw(
            "POST",
            "/api/v1/users",
            Some(&admin),
            "application/json",
            body.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(refused(&b, "org_id"), "invalid_field");
    assert_eq!(b["error"]["message"], "number out of range");
    app.stop().await;
}
