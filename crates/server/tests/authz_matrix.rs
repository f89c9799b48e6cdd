//! The authorisation matrix: every operation of `/api/openapi.json` × every
//! role (and anonymous) × an object inside and one outside the caller's
//! jurisdiction. The spec is walked at run time, so a route added later is
//! covered without touching this file. Also: token revocation, expiry, disabled
//! users and API-key scopes.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use common::*;
use pingan_server::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One operation of the spec.
struct Op {
    method: String,
    path: String,
    /// Empty with `public`: no `security` at all.
    scopes: Vec<String>,
    public: bool,
    has_body: bool,
    /// (name, required, type) of query parameters.
    query: Vec<(String, bool, String)>,
    /// `x-personal-data`: "read", "write" or "reveal" when the operation
    /// touches personal data.
    personal: Option<String>,
    /// Whether it declares a required `X-Purpose` header.
    purpose_required: bool,
}

fn operations(spec: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("spec has paths") {
        for (method, op) in item.as_object().unwrap() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            let sec = op.get("security").and_then(Value::as_array);
            let public = sec.is_none_or(|a| a.is_empty());
            let scopes = sec
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|o| o.values())
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            let query = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        p["required"].as_bool().unwrap_or(false),
                        p["schema"]["type"].as_str().unwrap_or("string").to_string(),
                    )
                })
                .collect();
            let purpose_required = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "header" && p["name"] == "X-Purpose" && p["required"] == true);
            ops.push(Op {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                scopes,
                public,
                has_body: op.get("requestBody").is_some(),
                query,
                personal: op["x-personal-data"].as_str().map(str::to_string),
                purpose_required,
            });
        }
    }
    ops.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    ops
}

/// A caller in the matrix.
struct Who {
    label: &'static str,
    token: Option<String>,
    /// The username, for logging in again after the matrix calls logout.
    user: Option<&'static str>,
    /// The name its audit records carry.
    audit_name: String,
    scopes: HashSet<String>,
    org_id: i64,
}

impl Who {
    /// Any of the operation's scopes suffices (as in `auth::enforce`).
    fn may(&self, op: &Op) -> bool {
        op.public
            || op
                .scopes
                .iter()
                .any(|s| s == "authenticated" || self.scopes.contains(s))
    }
}

/// Ids from the demo city: side 0 is station A (officer01's), side 1 a
/// station B in another district.
struct Fixture {
    org: [i64; 2],
    district: [i64; 2],
    unit: [i64; 2],
    user: [i64; 2],
    key: [i64; 2],
    point: [(f64, f64); 2],
    parent: HashMap<i64, Option<i64>>,
}

impl Fixture {
    /// Whether `target` is in the subtree rooted at `root`.
    fn within(&self, root: i64, target: i64) -> bool {
        let mut cur = Some(target);
        while let Some(c) = cur {
            if c == root {
                return true;
            }
            cur = self.parent.get(&c).copied().flatten();
        }
        false
    }
}

/// Sends one request with an `X-Purpose` (personal-data reads need one); does
/// not read event streams, which never end.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut rb = app
        .client
        .request(method.parse().unwrap(), format!("{}{path}", app.base))
        .header("x-purpose", "authorisation matrix test")
        .timeout(Duration::from_secs(60));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = rb.send().await.unwrap();
    let st = resp.status();
    let sse = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/event-stream"));
    if sse {
        return (st, Value::Null);
    }
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (st, v)
}

async fn ok_json(app: &TestApp, method: &str, path: &str, token: &str, body: Value) -> Value {
    let (st, v) = send(app, method, path, Some(token), Some(&body)).await;
    assert!(st.is_success(), "{method} {path}: {st} {v}");
    v
}

async fn fixture(app: &TestApp, admin: &str, officer_org: i64) -> Fixture {
    let (_, orgs) = app.get("/api/v1/orgs?limit=1000", admin).await;
    let orgs = orgs["items"].as_array().unwrap().clone();
    let parent: HashMap<i64, Option<i64>> = orgs
        .iter()
        .map(|o| (o["id"].as_i64().unwrap(), o["parent_id"].as_i64()))
        .collect();
    let district_a = parent[&officer_org].unwrap();
    let b = orgs
        .iter()
        .find(|o| o["kind"] == "station" && o["parent_id"].as_i64() != Some(district_a))
        .expect("a station in another district")["id"]
        .as_i64()
        .unwrap();
    let org = [officer_org, b];
    let mut unit = [0; 2];
    let mut point = [(0.0, 0.0); 2];
    let mut user = [0; 2];
    let mut key = [0; 2];
    let (_, users) = app.get("/api/v1/users?limit=1000", admin).await;
    for side in 0..2 {
        let (_, units) = app
            .get(
                &format!("/api/v1/units?org_id={}&limit=1", org[side]),
                admin,
            )
            .await;
        let u = &units["items"][0];
        unit[side] = u["id"].as_i64().expect("station has a unit");
        let (_, area) = app
            .get(&format!("/api/v1/orgs/{}/area", org[side]), admin)
            .await;
        // A vertex of the station's own area: inside its jurisdiction.
        let mut c = &area["geometry"]["coordinates"];
        while c[0].is_array() {
            c = &c[0];
        }
        point[side] = (c[1].as_f64().unwrap(), c[0].as_f64().unwrap());
        user[side] = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["org_id"].as_i64() == Some(org[side]) && u["role"] == "station_officer")
            .expect("station has an officer")["id"]
            .as_i64()
            .unwrap();
        let k = ok_json(
            app,
            "POST",
            "/api/v1/apikeys",
            admin,
            json!({"name": format!("fixture-{side}"), "role": "sensor", "org_id": org[side]}),
        )
        .await;
        key[side] = k["id"].as_i64().unwrap();
    }
    Fixture {
        org,
        district: [district_a, parent[&b].unwrap()],
        unit,
        user,
        key,
        point,
        parent,
    }
}

/// What a request targets, for the jurisdiction expectation.
struct Built {
    path: String,
    body: Option<Value>,
    /// The org owning the object the request reads or writes, when known.
    target_org: Option<i64>,
    /// The body is a `{}` stand-in, refused as invalid before any jurisdiction check.
    placeholder: bool,
}

fn fresh_name(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{tag}{}",
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

/// Fills path ids, query parameters and a body for `op` aimed at `side`.
/// `fresh` replaces the path id (a throwaway object for DELETE) with its org.
fn build(op: &Op, fx: &Fixture, side: usize, fresh: Option<(i64, i64)>) -> Built {
    let mut target_org = None;
    let mut out = String::new();
    let mut prev = "";
    for seg in op.path.split('/').skip(1) {
        out.push('/');
        if seg.starts_with('{') {
            let known = match prev {
                "units" => Some((fx.unit[side], fx.org[side])),
                "orgs" => Some((fx.org[side], fx.org[side])),
                "users" => Some((fx.user[side], fx.org[side])),
                "apikeys" => Some((fx.key[side], fx.org[side])),
                _ => None,
            };
            match fresh.or(known) {
                Some((id, org)) => {
                    out.push_str(&id.to_string());
                    target_org = Some(org);
                }
                // A resource this test does not know: gating only.
                None => out.push('1'),
            }
        } else {
            out.push_str(seg);
        }
        prev = seg;
    }
    let (lat, lng) = fx.point[side];
    let mut q = Vec::new();
    for (name, required, ty) in &op.query {
        match name.as_str() {
            "org_id" => {
                q.push(format!("org_id={}", fx.org[side]));
                target_org = Some(fx.org[side]);
            }
            "lat" => q.push(format!("lat={lat}")),
            "lng" => q.push(format!("lng={lng}")),
            _ if *required => q.push(format!(
                "{name}={}",
                if ty == "integer" || ty == "number" {
                    "1"
                } else {
                    "x"
                }
            )),
            _ => {}
        }
    }
    if !q.is_empty() {
        out.push('?');
        out.push_str(&q.join("&"));
    }
    let org = fx.org[side];
    let body = match (op.method.as_str(), op.path.as_str()) {
        ("POST", "/api/v1/units") => {
            target_org = Some(org);
            Some(json!({"callsign": fresh_name("矩阵"), "kind": "patrol_car", "org_id": org}))
        }
        ("POST", "/api/v1/units/positions") => {
            target_org = Some(org);
            Some(json!([{"unit_id": fx.unit[side], "lat": lat, "lng": lng}]))
        }
        ("POST", "/api/v1/users") => {
            target_org = Some(org);
            Some(
                json!({"username": fresh_name("matrix"), "display_name": "矩阵", "password": "matrix-password",
                "role": "dispatcher", "org_id": org}),
            )
        }
        ("POST", "/api/v1/apikeys") => {
            target_org = Some(org);
            Some(json!({"name": fresh_name("matrix"), "role": "sensor", "org_id": org}))
        }
        ("POST", "/api/v1/orgs") => {
            // A new station under the side's district.
            target_org = Some(fx.district[side]);
            Some(json!({"parent_id": fx.district[side], "kind": "station",
                "code": fresh_name("MX"), "name": fresh_name("矩阵派出所")}))
        }
        _ if op.has_body => Some(json!({})),
        _ => None,
    };
    Built {
        path: out,
        placeholder: body.as_ref() == Some(&json!({})),
        body,
        target_org,
    }
}

/// Creates, as admin, a throwaway object of the resource `op` deletes, in the
/// side's station (or, for org nodes, under its district). Returns (id, org).
async fn throwaway(
    app: &TestApp,
    admin: &str,
    op: &Op,
    fx: &mut Fixture,
    side: usize,
) -> Option<(i64, i64)> {
    let org = fx.org[side];
    let (path, body) = match op.path.as_str() {
        "/api/v1/units/{id}" => (
            "/api/v1/units",
            json!({"callsign": fresh_name("临时"), "kind": "drone", "org_id": org}),
        ),
        "/api/v1/users/{id}" => (
            "/api/v1/users",
            json!({"username": fresh_name("tmp"), "display_name": "临时", "password": "matrix-password",
                "role": "analyst", "org_id": org}),
        ),
        "/api/v1/apikeys/{id}" => (
            "/api/v1/apikeys",
            json!({"name": fresh_name("tmp"), "role": "partner", "org_id": org, "partner": "12345"}),
        ),
        "/api/v1/orgs/{id}" => (
            "/api/v1/orgs",
            json!({"parent_id": fx.district[side], "kind": "station", "code": fresh_name("TMP"),
                "name": fresh_name("临时派出所")}),
        ),
        _ => return None,
    };
    let v = ok_json(app, "POST", path, admin, body).await;
    let id = v["id"].as_i64().unwrap();
    if path == "/api/v1/orgs" {
        fx.parent.insert(id, Some(fx.district[side]));
        return Some((id, id));
    }
    Some((id, org))
}

/// Checks the audit records a call to a personal-data operation left: every
/// success of a "read" or "write" (and of a "reveal" that revealed caller data
/// to a dispatch role) leaves an `ok` record in the caller's name, with the
/// stated purpose where one is required; every refusal of an authenticated
/// caller leaves a record that is not `ok`. The citizen portal's public routes
/// audit under the name `citizen`, a hit and a miss (404) alike; a request
/// they reject before any lookup touched nothing.
async fn audited(
    app: &TestApp,
    op: &Op,
    kind: &str,
    who: &Who,
    from_seq: i64,
    st: StatusCode,
    body: &Value,
) -> Result<Option<&'static str>, String> {
    if st == StatusCode::UNAUTHORIZED || (who.token.is_none() && !op.public) {
        return Ok(None);
    }
    let name = if op.public {
        "citizen"
    } else {
        who.audit_name.as_str()
    };
    let (records, _) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                username: Some(name.to_string()),
                ..Default::default()
            },
            pingan_store::Page {
                limit: 20,
                offset: 0,
            },
        )
        .await
        .unwrap();
    let new: Vec<_> = records.iter().filter(|r| r.seq > from_seq).collect();
    if st.is_success() {
        let reveals = matches!(
            who.label,
            "admin" | "commander" | "dispatcher" | "admin@station" | "commander@station"
        ) && body["items"].as_array().is_none_or(|a| !a.is_empty());
        if kind == "reveal" && !reveals {
            return Ok(None);
        }
        let ok: Vec<_> = new.iter().filter(|r| r.entry.outcome == "ok").collect();
        if ok.is_empty() {
            return Err(format!("{kind} succeeded and left no ok record for {name}"));
        }
        if op.purpose_required
            && !ok
                .iter()
                .any(|r| r.entry.purpose.as_deref() == Some("authorisation matrix test"))
        {
            return Err(format!(
                "records for {name} lack the stated purpose: {ok:?}"
            ));
        }
        Ok(Some("success"))
    } else if !op.public || st == StatusCode::NOT_FOUND {
        if !new.iter().any(|r| r.entry.outcome != "ok") {
            return Err(format!("refusal {st} left no record for {name}"));
        }
        Ok(Some("refusal"))
    } else {
        Ok(None)
    }
}

/// Every item with an `org_id` in a list answer must be inside the caller's subtree.
fn assert_list_within(who: &Who, fx: &Fixture, what: &str, body: &Value) {
    for it in body["items"].as_array().into_iter().flatten() {
        if let Some(o) = it.get("org_id").and_then(Value::as_i64) {
            assert!(
                fx.within(who.org_id, o),
                "{}: {what} lists an item of org {o} outside org {}: {it}",
                who.label,
                who.org_id
            );
        }
    }
}

#[tokio::test]
async fn every_operation_every_role_every_jurisdiction() {
    let app = TestApp::demo().await;
    matrix(&app).await;
    app.stop().await;
}

/// The same matrix over PostgreSQL: the grants and the audit records must not
/// depend on the adapter.
#[tokio::test]
async fn every_operation_every_role_every_jurisdiction_on_postgresql() {
    let (_pg, app) = TestApp::on_postgres(Config::default()).await;
    matrix(&app).await;
    app.stop().await;
}

async fn matrix(app: &TestApp) {
    let admin = app.login("admin").await;
    let (_, me) = app
        .get("/api/v1/auth/me", &app.login("officer01").await)
        .await;
    let officer_org = me["org_id"].as_i64().unwrap();
    let mut fx = fixture(app, &admin, officer_org).await;

    // Station-level holders of write scopes, so "in another station" is
    // exercised for writes too, not only for reads.
    for (name, role) in [("admin_a", "admin"), ("commander_a", "commander")] {
        ok_json(app, "POST", "/api/v1/users", &admin,
            json!({"username": name, "display_name": name, "password": PASSWORD, "role": role, "org_id": officer_org}))
        .await;
    }
    let mut whos = Vec::new();
    for (label, user) in [
        ("admin", "admin"),
        ("commander", "commander"),
        ("dispatcher", "dispatcher"),
        ("station_officer", "officer01"),
        ("analyst", "analyst"),
        ("auditor", "auditor"),
        ("admin@station", "admin_a"),
        ("commander@station", "commander_a"),
    ] {
        whos.push((label, app.login(user).await, Some(user)));
    }
    for (label, role) in [("partner_key", "partner"), ("sensor_key", "sensor")] {
        let mut body = json!({"name": label, "role": role, "org_id": officer_org});
        if role == "partner" {
            body["partner"] = json!("12345");
        }
        let k = ok_json(app, "POST", "/api/v1/apikeys", &admin, body).await;
        whos.push((label, k["secret"].as_str().unwrap().to_string(), None));
    }
    let mut callers = vec![Who {
        label: "anonymous",
        token: None,
        user: None,
        audit_name: String::new(),
        scopes: HashSet::new(),
        org_id: -1,
    }];
    for (label, token, user) in whos {
        let (st, me) = app.get("/api/v1/auth/me", &token).await;
        assert_eq!(st, StatusCode::OK, "{label}: {me}");
        callers.push(Who {
            label,
            scopes: me["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect(),
            org_id: me["org_id"].as_i64().unwrap(),
            token: Some(token),
            audit_name: user.map_or_else(|| format!("key:{label}"), str::to_string),
            user,
        });
    }
    assert_eq!(
        callers
            .iter()
            .find(|w| w.label == "station_officer")
            .unwrap()
            .org_id,
        fx.org[0]
    );

    let (st, spec) = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let ops = operations(&spec);
    assert!(ops.len() >= 25, "spec lists only {} operations", ops.len());

    let mut cells = 0usize;
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut audit_checks: BTreeMap<&str, usize> = BTreeMap::new();
    let mut audited_ok = HashSet::new();
    for op in &ops {
        let name = format!("{} {}", op.method, op.path);
        #[allow(clippy::needless_range_loop)]
        // callers[w] is logged in again (mutated) inside the loop
        for w in 0..callers.len() {
            let who = &callers[w];
            let may = who.token.is_some() && who.may(op);
            let mut cell = Vec::new();
            for side in 0..2 {
                let fresh = if may && op.method == "DELETE" {
                    throwaway(app, &admin, op, &mut fx, side).await
                } else {
                    None
                };
                let b = build(op, &fx, side, fresh);
                // A request that names no object is the same for both sides.
                if side == 1 && b.target_org.is_none() {
                    break;
                }
                let audit_from = app.state.store.audit_head().await.unwrap().0;
                let (st, body) = send(
                    app,
                    &op.method,
                    &b.path,
                    who.token.as_deref(),
                    b.body.as_ref(),
                )
                .await;
                cells += 1;
                cell.push(st.as_u16().to_string());
                let ctx = format!("{} {} as {} → {st} {body}", op.method, b.path, who.label);
                if st.is_server_error() {
                    failures.push(format!("server error: {ctx}"));
                    continue;
                }
                if st.is_client_error() {
                    // Every refusal speaks the one error shape (a batch that
                    // accepted nothing too, beside its per-item report).
                    error_code(&body);
                }
                let expect_ok = if who.token.is_none() {
                    if op.public {
                        st != StatusCode::UNAUTHORIZED && st != StatusCode::FORBIDDEN
                    } else {
                        st == StatusCode::UNAUTHORIZED
                    }
                } else if !may {
                    st == StatusCode::FORBIDDEN && body["error"]["code"] == "forbidden"
                } else {
                    match b.target_org {
                        Some(t) if !fx.within(who.org_id, t) => {
                            st == StatusCode::FORBIDDEN
                                || st == StatusCode::NOT_FOUND
                                || (b.placeholder
                                    && (st == StatusCode::BAD_REQUEST
                                        || st == StatusCode::UNPROCESSABLE_ENTITY))
                                // Batch positions reject the line naming the unit.
                                || (st == StatusCode::UNPROCESSABLE_ENTITY
                                    && body["accepted"] == 0
                                    && body["rejected"][0]["field"] == "unit_id")
                        }
                        _ => {
                            let city_only = op.path == "/api/v1/orgs/import"
                                && fx.parent.get(&who.org_id).copied().flatten().is_some();
                            if city_only {
                                st == StatusCode::FORBIDDEN
                            } else {
                                st != StatusCode::UNAUTHORIZED && st != StatusCode::FORBIDDEN
                            }
                        }
                    }
                };
                if !expect_ok {
                    failures.push(ctx.clone());
                }
                if let Some(kind) = &op.personal {
                    match audited(app, op, kind, who, audit_from, st, &body).await {
                        Ok(Some(what)) => {
                            *audit_checks.entry(what).or_default() += 1;
                            if what == "success" {
                                audited_ok.insert(name.clone());
                            }
                        }
                        Ok(None) => {}
                        Err(e) => failures.push(format!("audit: {e}: {ctx}")),
                    }
                }
                if st == StatusCode::OK && op.method == "GET" {
                    assert_list_within(who, &fx, &name, &body);
                }
                if st.is_success() && op.path == "/api/v1/units/positions" {
                    assert_eq!(body["accepted"], 1, "{name} as {}: {body}", who.label);
                }
            }
            rows.entry(name.clone()).or_default().push(cell.join("/"));
            // The matrix just revoked this caller's token: log in again.
            if op.path == "/api/v1/auth/logout"
                && let Some(user) = callers[w].user
            {
                callers[w].token = Some(app.login(user).await);
            }
        }
    }

    let labels: Vec<&str> = callers.iter().map(|w| w.label).collect();
    println!(
        "authorisation matrix: {} operations × {} callers, {cells} requests (cells: station A[/station B])",
        ops.len(),
        callers.len()
    );
    println!("{:<44} {}", "operation", labels.join(" | "));
    for (op, cols) in &rows {
        println!("{op:<44} {}", cols.join(" | "));
    }
    println!("personal-data calls whose audit records were checked: {audit_checks:?}");
    let personal_ops = ops.iter().filter(|o| o.personal.is_some()).count();
    assert!(
        personal_ops >= 30,
        "only {personal_ops} operations declare personal data"
    );
    let never: Vec<String> = ops
        .iter()
        .filter(|o| o.personal.is_some())
        .map(|o| format!("{} {}", o.method, o.path))
        .filter(|n| !audited_ok.contains(n))
        .collect();
    println!("personal-data operations that never succeeded in the matrix: {never:?}");
    assert!(
        audit_checks.get("refusal").copied().unwrap_or(0) >= personal_ops,
        "too few audited refusals checked: {audit_checks:?}"
    );
    assert!(
        failures.is_empty(),
        "{} authorisation failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn tokens_expire_revoke_and_die_with_their_user() {
    let app = TestApp::with_config(Config {
        token_ttl_minutes: 1,
        ..Config::default()
    })
    .await;

    // Logout revokes exactly the calling token.
    let t1 = app.login("dispatcher").await;
    let t2 = app.login("dispatcher").await;
    let (st, _) = app
        .call("POST", "/api/v1/auth/logout", Some(&t1), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = app.get("/api/v1/auth/me", &t1).await;
    assert_eq!(
        (st, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired or revoked")),
        "{body}"
    );
    assert_eq!(app.get("/api/v1/auth/me", &t2).await.0, StatusCode::OK);
    // A token in the URL opens live streams only: elsewhere it would end up in
    // proxy logs and browser history, so a write with one is refused.
    let (st, body) = app
        .call(
            "DELETE",
            &format!("/api/v1/units/1?access_token={t2}"),
            None,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("only by live streams")),
        "{body}"
    );
    let resp = app
        .client
        .get(format!("{}/api/v1/stream?access_token={t2}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    drop(resp);
    // A garbage token is no token.
    let (st, body) = app.get("/api/v1/units", "pat_not-a-token").await;
    assert_eq!(
        (st, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    // Sessions live token_ttl_minutes: the analyst's one session spans exactly 60 s.
    let t = app.login("analyst").await;
    let sql = "UPDATE sessions SET expires_at = expires_at - 120000 \
               WHERE user_id = (SELECT id FROM users WHERE username = 'analyst') \
               AND expires_at - created_at = 60000";
    assert_eq!(app.state.store.execute_raw(sql).await.unwrap(), 1);
    let (st, body) = app.get("/api/v1/units?limit=1", &t).await;
    assert_eq!(
        (st, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    // Logging in again works.
    let t = app.login("analyst").await;
    assert_eq!(app.get("/api/v1/units?limit=1", &t).await.0, StatusCode::OK);

    // A user disabled behind the API's back (no session revocation) is locked out.
    let tc = app.login("commander").await;
    assert_eq!(app.get("/api/v1/auth/me", &tc).await.0, StatusCode::OK);
    app.state
        .store
        .execute_raw("UPDATE users SET disabled = 1 WHERE username = 'commander'")
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/auth/me", &tc).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (st, _) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "commander", "password": PASSWORD})),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Disabling through the API revokes the sessions.
    let admin = app.login("admin").await;
    let to = app.login("officer02").await;
    let (_, me) = app.get("/api/v1/auth/me", &to).await;
    let id = me["id"].as_i64().unwrap();
    let (st, _) = app
        .call("DELETE", &format!("/api/v1/users/{id}"), Some(&admin), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/auth/me", &to).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

#[tokio::test]
async fn api_keys_carry_a_subset_of_scopes_and_die_when_revoked() {
    let app = TestApp::demo().await;
    let admin = app.login("admin").await;
    let (_, me) = app.get("/api/v1/auth/me", &admin).await;
    let city = me["org_id"].as_i64().unwrap();
    let create = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.call("POST", "/api/v1/apikeys", Some(&admin), Some(body))
                .await
        }
    };

    // A scope the role does not have is refused, naming the list entry.
    let (st, body) = create(json!({"name": "x", "role": "sensor", "org_id": city, "scopes": ["positions:write", "users:read"]})).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "scopes[1]");

    // A sensor key restricted to events:write cannot post positions.
    let (st, k) = create(json!({"name": "events-only", "role": "sensor", "org_id": city, "scopes": ["events:write"]})).await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    let secret = k["secret"].as_str().unwrap().to_string();
    let (_, me) = app.get("/api/v1/auth/me", &secret).await;
    assert_eq!(me["scopes"], json!(["events:write"]));
    assert_eq!(me["role"], "sensor");
    let (st, body) = app
        .call(
            "POST",
            "/api/v1/units/positions",
            Some(&secret),
            Some(json!([])),
        )
        .await;
    assert_eq!(
        (st, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );

    // The full sensor key can, via either header.
    let (st, k) = create(json!({"name": "full", "role": "sensor", "org_id": city})).await;
    assert_eq!(st, StatusCode::CREATED);
    let full = k["secret"].as_str().unwrap().to_string();
    let (_, me) = app.get("/api/v1/auth/me", &full).await;
    let mut scopes: Vec<&str> = me["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["events:write", "positions:write"]);
    let (_, units) = app.get("/api/v1/units?limit=1", &admin).await;
    let u = &units["items"][0];
    let report =
        json!([{"unit_id": u["id"], "lat": u["position"]["lat"], "lng": u["position"]["lng"]}]);
    let (st, body) = app
        .raw(
            "POST",
            "/api/v1/units/positions",
            None,
            "application/json",
            report.to_string().into_bytes(),
            &[("x-api-key", &full)],
        )
        .await;
    assert_eq!(
        (st, &body["accepted"]),
        (StatusCode::OK, &json!(1)),
        "{body}"
    );
    // A key never logs out; it is revoked by an administrator.
    let (st, body) = app
        .call("POST", "/api/v1/auth/logout", Some(&full), None)
        .await;
    assert_eq!(
        (st, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "not_a_session")
    );

    // Revoked → 401.
    let (st, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/apikeys/{}", k["id"]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = app.get("/api/v1/auth/me", &full).await;
    assert_eq!(
        (st, error_code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (_, keys) = app.get("/api/v1/apikeys", &admin).await;
    let listed = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == k["id"])
        .unwrap();
    assert_eq!(listed["revoked"], true);
    assert!(
        listed.get("secret").is_none(),
        "secret shown again: {listed}"
    );

    // Machine roles cannot log in with passwords or become users.
    let (st, body) = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "robot", "display_name": "r",
            "password": "long-enough", "role": "sensor", "org_id": city})),
        )
        .await;
    assert_eq!(
        (st, &body["error"]["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("role"))
    );
    app.stop().await;
}

#[tokio::test]
async fn password_guessing_is_throttled_and_audited() {
    let app = TestApp::demo().await;
    let wrong = json!({"username": "dispatcher", "password": "guess-guess"});
    for i in 0..5 {
        let (st, _) = app
            .call("POST", "/api/v1/auth/login", None, Some(wrong.clone()))
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The sixth try waits, even with the right password.
    let resp = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "dispatcher", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "rate_limited");
    // Other accounts from the same address are not locked out.
    let auditor = app.login("auditor").await;
    let (_, recs) = app
        .get("/api/v1/audit?user=dispatcher&action=auth.login", &auditor)
        .await;
    let outcomes: Vec<&str> = recs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "throttled",
            "denied",
            "denied",
            "denied",
            "denied",
            "denied"
        ]
    );
    app.stop().await;
}
