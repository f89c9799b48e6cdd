//! The org tree through the API: invalid or misplaced jurisdiction areas are
//! refused, imports refuse duplicate codes and move nodes whose parent changed,
//! `PATCH /orgs/{id}` moves a subtree, and `/geo/locate` answers only within the
//! caller's jurisdiction.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The demo org with this code.
async fn org_by_code(app: &TestApp, token: &str, code: &str) -> Value {
    let (st, orgs) = app.get("/api/v1/orgs?limit=1000", token).await;
    assert_eq!(st, StatusCode::OK);
    orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["code"] == code)
        .unwrap_or_else(|| panic!("no org {code}"))
        .clone()
}

/// The org's area as GeoJSON geometry.
async fn area_of(app: &TestApp, token: &str, id: i64) -> Value {
    let (st, f) = app.get(&format!("/api/v1/orgs/{id}/area"), token).await;
    assert_eq!(st, StatusCode::OK, "{f}");
    f["geometry"].clone()
}

/// South-west and north-east corners of a rectangular demo area.
fn corners(geometry: &Value) -> ((f64, f64), (f64, f64)) {
    let ring = geometry["coordinates"][0][0].as_array().unwrap();
    let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    for p in ring {
        let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
        lo = (lo.0.min(x), lo.1.min(y));
        hi = (hi.0.max(x), hi.1.max(y));
    }
    (lo, hi)
}

fn rect(lo: (f64, f64), hi: (f64, f64)) -> Value {
    json!({"type": "Polygon", "coordinates": [[
        [lo.0, lo.1], [hi.0, lo.1], [hi.0, hi.1], [lo.0, hi.1], [lo.0, lo.1]
    ]]})
}

fn bowtie(lo: (f64, f64), hi: (f64, f64)) -> Value {
    json!({"type": "Polygon", "coordinates": [[
        [lo.0, lo.1], [hi.0, hi.1], [hi.0, lo.1], [lo.0, hi.1], [lo.0, lo.1]
    ]]})
}

/// One org as an import feature.
fn feature(code: &str, name: Value, kind: &str, parent: &str, geometry: Value) -> Value {
    json!({"type": "Feature", "geometry": geometry, "properties": {
        "code": code, "name": name, "kind": kind, "parent_code": parent}})
}

/// Creates a station under district JC that must be refused with 422; returns
/// the error's field and message.
async fn new_station_refused(
    app: &TestApp,
    token: &str,
    code: &str,
    area: Value,
) -> (String, String) {
    let district = org_by_code(app, token, "510100-JC").await;
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/orgs",
            Some(token),
            Some(
                json!({"parent_id": district["id"], "kind": "station", "code": code,
                "name": "新派出所", "area": area}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (_, field, message) = error_of(&b);
    (field, message)
}

/// Posts an import that must be refused with 422; returns the error's field and message.
async fn import_refused(app: &TestApp, token: &str, features: Vec<Value>) -> (String, String) {
    let fc = json!({"type": "FeatureCollection", "features": features});
    let (st, b) = app
        .call("POST", "/api/v1/orgs/import", Some(token), Some(fc))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (_, field, message) = error_of(&b);
    (field, message)
}

fn error_of(body: &Value) -> (String, String, String) {
    let e = &body["error"];
    (
        error_code(body),
        e["field"].as_str().unwrap_or_default().to_string(),
        e["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn invalid_rings_are_refused_on_every_write_path() {
    let app = TestApp::demo().await;
    let t = app.login("admin").await;
    let s1 = org_by_code(&app, &t, "510100-JC-01").await;
    let id = s1["id"].as_i64().unwrap();
    let before = area_of(&app, &t, id).await;
    let (lo, hi) = corners(&before);

    // PUT /orgs/{id}/area with a bowtie: 422 naming the field, ring and segments.
    let (st, b) = app
        .call(
            "PUT",
            &format!("/api/v1/orgs/{id}/area"),
            Some(&t),
            Some(bowtie(lo, hi)),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (code, field, msg) = error_of(&b);
    assert_eq!(field, "area");
    assert!(
        msg.starts_with(
            "polygon 0 ring 0 intersects itself: segment 0 (from vertex 0) meets segment 2 at "
        ),
        "{code}: {msg}"
    );

    // A ring that is not closed, and one of three positions.
    let open = json!({"type": "Polygon", "coordinates": [[
        [lo.0, lo.1], [hi.0, lo.1], [hi.0, hi.1], [lo.0, hi.1]
    ]]});
    let (st, b) = app
        .call(
            "PUT",
            &format!("/api/v1/orgs/{id}/area"),
            Some(&t),
            Some(open),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&b).2.starts_with("polygon 0 ring 0 is not closed"),
        "{b}"
    );
    let short =
        json!({"type": "Polygon", "coordinates": [[[lo.0, lo.1], [hi.0, lo.1], [lo.0, lo.1]]]});
    let (st, b) = app
        .call(
            "PUT",
            &format!("/api/v1/orgs/{id}/area"),
            Some(&t),
            Some(short),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        error_of(&b)
            .2
            .starts_with("polygon 0 ring 0 has 3 positions"),
        "{b}"
    );

    // A 200k-vertex zero-area sliver along the station's southern edge.
    let n = 100_000;
    let mut ring: Vec<[f64; 2]> = (0..=n)
        .map(|i| [lo.0 + (hi.0 - lo.0) * i as f64 / n as f64, lo.1])
        .collect();
    ring.extend(
        (0..n)
            .rev()
            .map(|i| [lo.0 + (hi.0 - lo.0) * i as f64 / n as f64, lo.1]),
    );
    let started = std::time::Instant::now();
    let (st, b) = app
        .call(
            "PUT",
            &format!("/api/v1/orgs/{id}/area"),
            Some(&t),
            Some(json!({"type": "Polygon", "coordinates": [ring]})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(error_of(&b).2.contains("intersects itself"), "{b}");
    eprintln!("200k-vertex sliver refused in {:?}", started.elapsed());

    // POST /orgs with a bowtie under district JC.
    let (field, _) = new_station_refused(&app, &t, "BOW", bowtie(lo, hi)).await;
    assert_eq!(field, "area");

    // The import names the feature's geometry (0-based JSON path, 1-based number).
    let (field, msg) = import_refused(
        &app,
        &t,
        vec![
            feature(
                "510100-JC-01",
                json!("x"),
                "station",
                "510100-JC",
                before.clone(),
            ),
            feature(
                "510100-JC-02",
                json!("y"),
                "station",
                "510100-JC",
                bowtie(lo, hi),
            ),
        ],
    )
    .await;
    assert_eq!(field, "features[1].geometry");
    assert!(
        msg.starts_with(
            "feature 2 (features[1]): property `geometry` polygon 0 ring 0 intersects itself"
        ),
        "{msg}"
    );

    // Nothing changed.
    assert_eq!(area_of(&app, &t, id).await, before);
    let (_, after) = app.get(&format!("/api/v1/orgs/{id}"), &t).await;
    assert_eq!(after["name"], s1["name"]);
    app.stop().await;
}

#[tokio::test]
async fn areas_must_not_overlap_siblings_or_leave_their_district() {
    let app = TestApp::demo().await;
    let t = app.login("admin").await;
    let s1 = org_by_code(&app, &t, "510100-JC-01").await;
    let s2 = org_by_code(&app, &t, "510100-JC-02").await;
    let id = s1["id"].as_i64().unwrap();
    let before = area_of(&app, &t, id).await;
    let (lo, hi) = corners(&before);
    let w = hi.0 - lo.0;
    let put = |area: Value| {
        let (app, t) = (&app, &t);
        async move {
            app.call(
                "PUT",
                &format!("/api/v1/orgs/{id}/area"),
                Some(t),
                Some(area),
            )
            .await
        }
    };

    // Its own area again: borders shared with JC-02 and JC-03 are fine.
    let (st, b) = put(rect(lo, hi)).await;
    assert_eq!(st, StatusCode::OK, "{b}");

    // 10% wider to the east reaches into JC-02.
    let (st, b) = put(rect(lo, (hi.0 + w * 0.1, hi.1))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (_, field, msg) = error_of(&b);
    assert_eq!(field, "area");
    let named = format!(
        "area overlaps sibling 510100-JC-02 {} (org {})",
        s2["name"].as_str().unwrap(),
        s2["id"]
    );
    assert!(msg.starts_with(&named), "{msg}");

    // 10% wider to the west leaves district JC (and the city): 1/11 outside.
    let (st, b) = put(rect((lo.0 - w * 0.1, lo.1), hi)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let msg = error_of(&b).2;
    assert!(
        msg.starts_with("9.1% of the area lies outside its parent 510100-JC 锦城分局"),
        "{msg}"
    );

    // A new station on top of JC-01 is refused the same way.
    let (_, msg) = new_station_refused(&app, &t, "DUP", rect(lo, hi)).await;
    assert!(
        msg.starts_with(&format!(
            "area overlaps sibling 510100-JC-01 {}",
            s1["name"].as_str().unwrap()
        )),
        "{msg}"
    );

    // The same through an import names the feature.
    let (field, msg) = import_refused(
        &app,
        &t,
        vec![feature(
            "510100-JC-01",
            s1["name"].clone(),
            "station",
            "510100-JC",
            rect(lo, (hi.0 + w * 0.1, hi.1)),
        )],
    )
    .await;
    assert_eq!(field, "features[0].geometry");
    assert!(
        msg.starts_with(
            "feature 1 (features[0]): property `geometry` area overlaps sibling 510100-JC-02"
        ),
        "{msg}"
    );
    assert_eq!(area_of(&app, &t, id).await, before);
    app.stop().await;
}

#[tokio::test]
async fn the_demo_export_imports_back_unchanged() {
    let app = TestApp::demo().await;
    let t = app.login("admin").await;
    let (st, export) = app.get("/api/v1/geo/jurisdictions", &t).await;
    assert_eq!(st, StatusCode::OK);
    let n = export["features"].as_array().unwrap().len();
    assert!(n >= 25, "{n}");
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/orgs/import",
            Some(&t),
            Some(export.clone()),
        )
        .await;
    assert_eq!(
        (st, b),
        (StatusCode::OK, json!({"created": 0, "updated": n}))
    );
    let (_, again) = app.get("/api/v1/geo/jurisdictions", &t).await;
    assert_eq!(again, export);
    app.stop().await;
}

#[tokio::test]
async fn an_import_naming_a_code_twice_is_refused() {
    let app = TestApp::demo().await;
    let t = app.login("admin").await;
    let s1 = org_by_code(&app, &t, "510100-JC-01").await;
    let new1 = |name: &str| feature("NEW-1", json!(name), "station", "510100-JC", Value::Null);
    let (field, msg) = import_refused(
        &app,
        &t,
        vec![
            new1("甲派出所"),
            feature(
                "510100-JC-01",
                s1["name"].clone(),
                "station",
                "510100-JC",
                Value::Null,
            ),
            new1("乙派出所"),
        ],
    )
    .await;
    assert_eq!(field, "features[2].code");
    assert_eq!(
        msg,
        "feature 3 (features[2]): property `code` \"NEW-1\" is also the code of feature 1; a code may appear once per import"
    );
    let (_, orgs) = app.get("/api/v1/orgs?limit=1000", &t).await;
    assert!(
        !orgs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["code"] == "NEW-1")
    );
    app.stop().await;
}

async fn moves_of(app: &TestApp, id: i64) -> Vec<(String, Option<String>)> {
    let (recs, _) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                action: Some("org.move".into()),
                object_id: Some(id.to_string()),
                ..Default::default()
            },
            pingan_store::Page::default(),
        )
        .await
        .unwrap();
    recs.into_iter()
        .map(|r| (r.entry.username, r.entry.detail))
        .collect()
}

#[tokio::test]
async fn moving_an_org_takes_its_subtree_along_and_is_checked() {
    let app = TestApp::demo().await;
    let t = app.login("admin").await;
    let city = org_by_code(&app, &t, "510100").await;
    let jc = org_by_code(&app, &t, "510100-JC").await;
    let qy = org_by_code(&app, &t, "510100-QY").await;
    let s1 = org_by_code(&app, &t, "510100-JC-01").await;
    let (jc_id, qy_id) = (jc["id"].as_i64().unwrap(), qy["id"].as_i64().unwrap());

    // A new station without an area under JC, with a unit.
    let (st, new) = app
        .call(
            "POST",
            "/api/v1/orgs",
            Some(&t),
            Some(json!({"parent_id": jc_id, "kind": "station", "code": "MOVE-1", "name": "新建派出所"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{new}");
    let id = new["id"].as_i64().unwrap();
    let (st, unit) = app
        .call(
            "POST",
            "/api/v1/units",
            Some(&t),
            Some(json!({"callsign": "新建1", "kind": "patrol_car", "org_id": id})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{unit}");
    let unit_id = unit["id"].as_i64().unwrap();

    // PATCH with parent_id moves it, its path and its unit's path.
    let (st, moved) = app
        .call(
            "PATCH",
            &format!("/api/v1/orgs/{id}"),
            Some(&t),
            Some(json!({"parent_id": qy_id})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{moved}");
    assert_eq!(moved["parent_id"], qy_id);
    let row = app.state.store.get_org(id).await.unwrap();
    let path = format!("/{}/{qy_id}/{id}/", city["id"]);
    assert_eq!(row.path, path);
    assert_eq!(
        app.state.store.get_unit(unit_id).await.unwrap().org_path,
        path
    );
    assert_eq!(
        app.state.jurisdiction().node(id).unwrap().parent_id,
        Some(qy_id),
        "the running index was rebuilt"
    );
    assert_eq!(
        moves_of(&app, id).await,
        vec![(
            "admin".to_string(),
            Some(format!("parent {jc_id} -> {qy_id}"))
        )]
    );

    // Importing it with JC as parent_code moves it back.
    let fc = json!({"type": "FeatureCollection", "features": [
        feature("MOVE-1", json!("新建派出所"), "station", "510100-JC", Value::Null),
    ]});
    let (st, b) = app
        .call("POST", "/api/v1/orgs/import", Some(&t), Some(fc))
        .await;
    assert_eq!(
        (st, b),
        (StatusCode::OK, json!({"created": 0, "updated": 1}))
    );
    let path = format!("/{}/{jc_id}/{id}/", city["id"]);
    assert_eq!(app.state.store.get_org(id).await.unwrap().path, path);
    assert_eq!(
        app.state.store.get_unit(unit_id).await.unwrap().org_path,
        path
    );
    assert_eq!(moves_of(&app, id).await.len(), 2);

    // Refusals: into its own subtree, a station straight under the city, a
    // station whose area lies in another district, and an officer moving their
    // own station (they cannot see either district).
    let patch = |org: i64, to: i64| {
        let (app, t) = (&app, &t);
        async move {
            app.call(
                "PATCH",
                &format!("/api/v1/orgs/{org}"),
                Some(t),
                Some(json!({"parent_id": to})),
            )
            .await
        }
    };
    let (st, b) = patch(jc_id, s1["id"].as_i64().unwrap()).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(error_of(&b).1, "parent_id");
    assert!(
        error_of(&b).2.contains("which is in its own subtree"),
        "{b}"
    );
    let (st, b) = patch(id, city["id"].as_i64().unwrap()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        error_of(&b)
            .2
            .starts_with("a station cannot be under a city (510100 "),
        "{b}"
    );
    let (st, b) = patch(s1["id"].as_i64().unwrap(), qy_id).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        error_of(&b)
            .2
            .starts_with("100.0% of the area lies outside its parent 510100-QY"),
        "{b}"
    );
    let officer = app.login("officer01").await;
    let (_, me) = app.get("/api/v1/auth/me", &officer).await;
    let own = me["org_id"].as_i64().unwrap();
    let (st, b) = app
        .call(
            "PATCH",
            &format!("/api/v1/orgs/{own}"),
            Some(&officer),
            Some(json!({"parent_id": qy_id})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(moves_of(&app, s1["id"].as_i64().unwrap()).await, vec![]);
    app.stop().await;
}

#[tokio::test]
async fn locate_names_only_what_the_caller_may_see() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let officer = app.login("officer01").await;
    let (_, me) = app.get("/api/v1/auth/me", &officer).await;
    let own = me["org_id"].as_i64().unwrap();
    let (_, own_org) = app.get(&format!("/api/v1/orgs/{own}"), &admin).await;
    let centre = |g: &Value| {
        let (lo, hi) = corners(g);
        ((lo.1 + hi.1) / 2.0, (lo.0 + hi.0) / 2.0)
    };
    let mine = centre(&area_of(&app, &admin, own).await);
    // The station listed right after the officer's in the tree, under the same district.
    let (_, orgs) = app.get("/api/v1/orgs?limit=1000", &admin).await;
    let other = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["kind"] == "station" && o["id"] != own && o["parent_id"] == own_org["parent_id"]
        })
        .unwrap()
        .clone();
    let theirs = centre(&area_of(&app, &admin, other["id"].as_i64().unwrap()).await);
    let locate = |tok: &str, (lat, lng): (f64, f64)| {
        let (app, tok) = (&app, tok.to_string());
        async move {
            let (st, b) = app
                .get(&format!("/api/v1/geo/locate?lat={lat}&lng={lng}"), &tok)
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
            b
        }
    };

    let b = locate(&officer, mine).await;
    assert_eq!(b["station"]["id"], own);
    assert_eq!(b["station"]["code"], own_org["code"]);
    assert_eq!((&b["district"], &b["city"]), (&Value::Null, &Value::Null));
    assert_eq!(
        (&b["resolution"], &b["within_jurisdiction"]),
        (&json!("station"), &json!(true))
    );

    let outside = json!({"station": null, "district": null, "city": null,
        "resolution": "outside_jurisdiction", "distance_m": null, "within_jurisdiction": false});
    assert_eq!(locate(&officer, theirs).await, outside);
    // Far outside the city: the city bureau answers, which the officer cannot see.
    assert_eq!(locate(&officer, (40.0, 116.0)).await, outside);

    // The city-level admin gets every tier of the neighbouring station.
    let b = locate(&admin, theirs).await;
    assert_eq!(b["station"]["id"], other["id"]);
    assert_eq!(b["station"]["name"], other["name"]);
    assert_eq!(b["district"]["id"], own_org["parent_id"]);
    assert!(b["city"]["id"].is_i64(), "{b}");
    assert_eq!(b["within_jurisdiction"], true);
    app.stop().await;
}

#[tokio::test]
async fn an_import_refused_by_a_later_feature_writes_nothing() {
    let app = TestApp::demo().await;
    let t = app.login("admin").await;
    let (_, before) = app.get("/api/v1/geo/jurisdictions", &t).await;
    let f = |code: &str, kind: &str, parent: &str| {
        feature(code, json!("新"), kind, parent, Value::Null)
    };
    for (bad, field, msg) in [
        (
            f("NEW-2", "station", "NO-SUCH"),
            "features[1].parent_code",
            "feature 2 (features[1]): property `parent_code` \"NO-SUCH\" does not exist",
        ),
        (
            f("NEW-2", "station", "510100"),
            "features[1].kind",
            "feature 2 (features[1]): property `kind` a station cannot be under a city",
        ),
        (
            f("510100-JC-01", "district", "510100"),
            "features[1].kind",
            "feature 2 (features[1]): property `kind` \"510100-JC-01\" exists as a station; an import cannot change its kind",
        ),
    ] {
        let (got_field, got_msg) =
            import_refused(&app, &t, vec![f("NEW-1", "station", "510100-JC"), bad]).await;
        assert_eq!((got_field.as_str(), got_msg.as_str()), (field, msg));
    }
    let (_, after) = app.get("/api/v1/geo/jurisdictions", &t).await;
    assert_eq!(after, before);
    app.stop().await;
}

#[tokio::test]
async fn shrinking_a_district_may_not_strand_its_stations() {
    let app = TestApp::demo().await;
    let t = app.login("admin").await;
    let jc = org_by_code(&app, &t, "510100-JC").await;
    let s1 = org_by_code(&app, &t, "510100-JC-01").await;
    let id = jc["id"].as_i64().unwrap();
    // The district shrunk to its first station's rectangle.
    let small = area_of(&app, &t, s1["id"].as_i64().unwrap()).await;
    let (st, b) = app
        .call(
            "PUT",
            &format!("/api/v1/orgs/{id}/area"),
            Some(&t),
            Some(small),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let msg = error_of(&b).2;
    assert!(msg.starts_with("child 510100-JC-02 "), "{msg}");
    assert!(msg.contains("would lie 100.0% outside this area"), "{msg}");
    app.stop().await;
}
