//! Bad input on every route. The walker reads `/api/openapi.json` at run time
//! and, for every operation (so routes added later are covered without touching
//! this file), sends malformed path ids, bad query parameters and broken bodies
//! as an admin (and as a sensor key where the route takes machine input). Every
//! answer must be a 4xx in the one error shape `{"error":{"code","message","field"}}`
//! — never a 5xx, never a hang — and where the cause is unambiguous (syntax
//! error, wrong type, wrong content type, oversized body) the exact status,
//! code and field are checked. A second test sends otherwise valid bodies that
//! name unknown or foreign objects.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use pingan_server::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The body limit the walker's server runs with; small, so "oversized" is cheap.
const BODY_LIMIT: usize = 64 * 1024;
/// An id no demo object has.
const UNKNOWN_ID: &str = "987654321";

#[derive(Debug, Clone)]
struct Param {
    name: String,
    /// `path` or `query`.
    location: String,
    /// The first non-null JSON type of its schema (`integer`, `number`, `string`, `boolean`).
    ty: String,
    required: bool,
    /// `minimum: 0` (unsigned).
    unsigned: bool,
}

#[derive(Debug)]
struct Op {
    method: String,
    path: String,
    params: Vec<Param>,
    /// Declared content type and resolved schema of the request body.
    body: Option<(String, Value)>,
    scopes: Vec<String>,
}

impl Op {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn path_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.location == "path")
    }

    fn query_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.location == "query")
    }
}

/// Follows `$ref`s (and a nullable `oneOf`) to the schema itself.
fn resolve<'a>(spec: &'a Value, mut s: &'a Value) -> &'a Value {
    loop {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap();
            s = &spec["components"]["schemas"][name];
            continue;
        }
        if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
            let non_null: Vec<&Value> = alts.iter().filter(|a| a["type"] != "null").collect();
            if non_null.len() == 1 {
                s = non_null[0];
                continue;
            }
        }
        return s;
    }
}

/// The first non-null type of a schema, if it declares one.
fn first_type(s: &Value) -> Option<String> {
    match &s["type"] {
        Value::String(t) => Some(t.clone()),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_string),
        _ => None,
    }
}

fn operations(spec: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("spec has paths") {
        for (method, op) in item.as_object().unwrap() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path" || p["in"] == "query")
                .map(|p| Param {
                    name: p["name"].as_str().unwrap().to_string(),
                    location: p["in"].as_str().unwrap().to_string(),
                    ty: first_type(&p["schema"]).unwrap_or_else(|| "string".into()),
                    required: p["required"].as_bool().unwrap_or(false),
                    unsigned: p["schema"]["minimum"].as_f64() == Some(0.0),
                })
                .collect();
            let body = op
                .get("requestBody")
                .and_then(|b| b["content"].as_object())
                .and_then(|c| c.iter().next())
                .map(|(ct, m)| (ct.clone(), resolve(spec, &m["schema"]).clone()));
            let scopes = op
                .get("security")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|o| o.values())
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            ops.push(Op {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                params,
                body,
                scopes,
            });
        }
    }
    ops.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    ops
}

/// A value of the wrong JSON type for `schema`, or `None` when the schema
/// accepts anything (free-form JSON) so no value is wrong by type alone.
fn wrong_value(spec: &Value, schema: &Value) -> Option<Value> {
    let s = resolve(spec, schema);
    if s.get("enum").is_some() {
        return Some(json!(12345));
    }
    if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
        // Alternatives (tagged enums, "time as string or epoch ms"): a nested
        // list of booleans is none of them.
        return (!alts.is_empty()).then(|| json!([[true]]));
    }
    match first_type(s)?.as_str() {
        // Not a number: some string fields also take epoch milliseconds.
        "string" => Some(json!(true)),
        "integer" | "number" | "boolean" | "array" => Some(json!("abc")),
        "object" if s.get("properties").is_some() => Some(json!(12345)),
        _ => None,
    }
}

/// A query parameter that names a time.
fn is_time_param(p: &Param) -> bool {
    p.ty == "string"
        && matches!(
            p.name.as_str(),
            "since" | "until" | "from" | "to" | "at" | "before" | "after"
        )
}

/// A well-formed value for a parameter, used while another one is malformed.
fn good_value(p: &Param) -> String {
    match (p.name.as_str(), p.ty.as_str()) {
        ("lat", _) => "31.23".into(),
        ("lng", _) => "121.47".into(),
        (_, "integer" | "number") => "1".into(),
        (_, "boolean") => "true".into(),
        _ => "x".into(),
    }
}

/// Builds the request path with `path_value(param)` for path parameters and the
/// given query pairs.
fn url(op: &Op, path_value: &dyn Fn(&Param) -> String, query: &[(String, String)]) -> String {
    let mut out = op.path.clone();
    for p in op.path_params() {
        out = out.replace(&format!("{{{}}}", p.name), &path_value(p));
    }
    if !query.is_empty() {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

/// The required query parameters, well-formed.
fn required_query(op: &Op, except: &str) -> Vec<(String, String)> {
    op.query_params()
        .filter(|p| p.required && p.name != except)
        .map(|p| (p.name.clone(), good_value(p)))
        .collect()
}

/// One probe's expectation beyond "4xx in the error shape".
#[derive(Debug, Clone, Copy)]
struct Expect {
    status: Option<u16>,
    code: Option<&'static str>,
    /// The field the error must name; `Some("")` means "don't check".
    field: Option<&'static str>,
}

impl Expect {
    /// This status and code, any field.
    const fn exact(status: u16, code: &'static str) -> Expect {
        Expect {
            status: Some(status),
            code: Some(code),
            field: None,
        }
    }
}

const ANY_4XX: Expect = Expect {
    status: None,
    code: None,
    field: None,
};

/// The collection a templated path belongs to: `/api/v1/sources/{id}/records`
/// → `/api/v1/sources`.
fn collection(template: &str) -> &str {
    match template.find("/{") {
        Some(i) => &template[..i],
        None => template,
    }
}

/// The id of one existing object per collection that can be listed, so body
/// probes reach handlers that load the object before reading the body.
async fn existing_ids(app: &TestApp, token: &str, ops: &[Op]) -> HashMap<String, String> {
    let mut ids = HashMap::new();
    for op in ops {
        let coll = collection(&op.path);
        if coll == op.path || ids.contains_key(coll) {
            continue;
        }
        let (st, v) = app
            .get_with(
                &format!("{coll}?limit=1"),
                token,
                &[("x-purpose", "bad-input walker")],
            )
            .await;
        if !st.is_success() {
            continue;
        }
        let first = v
            .get("items")
            .unwrap_or(&v)
            .get(0)
            .and_then(|i| i.get("id"));
        let id = match first {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => continue,
        };
        ids.insert(coll.to_string(), id);
    }
    ids
}

struct Walker<'a> {
    app: &'a TestApp,
    real_ids: HashMap<String, String>,
    failures: Vec<String>,
    probes: usize,
}

impl Walker<'_> {
    #[allow(clippy::too_many_arguments)]
    async fn probe(
        &mut self,
        what: &str,
        caller: &str,
        token: &str,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        expect: Expect,
        field: Option<&str>,
    ) {
        self.probes += 1;
        let mut rb = self
            .app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.app.base))
            .bearer_auth(token)
            .header("x-purpose", "bad-input walker")
            .timeout(Duration::from_secs(30));
        if let Some((ct, bytes)) = body {
            rb = rb.header("content-type", ct).body(bytes);
        }
        let ctx = format!("{what}: {method} {path} as {caller}");
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                self.failures.push(format!("{ctx} → no answer ({e})"));
                return;
            }
        };
        let st = resp.status();
        let sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        if sse {
            self.failures
                .push(format!("{ctx} → {st} opened an event stream"));
            return;
        }
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => {
                self.failures.push(format!("{ctx} → body unreadable ({e})"));
                return;
            }
        };
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let ctx = format!("{ctx} → {st} {v}");
        if !st.is_client_error() {
            self.failures.push(format!("not a 4xx: {ctx}"));
            return;
        }
        let e = &v["error"];
        let shaped = e["code"].as_str().is_some_and(|c| !c.is_empty())
            && e["message"].as_str().is_some_and(|m| !m.is_empty())
            && e.get("field").is_some_and(|f| f.is_null() || f.is_string());
        if !shaped {
            self.failures.push(format!("not the error shape: {ctx}"));
            return;
        }
        if matches!(st, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            self.failures
                .push(format!("refused before the input was looked at: {ctx}"));
            return;
        }
        if let Some(want) = expect.status
            && st.as_u16() != want
        {
            self.failures.push(format!("expected {want}: {ctx}"));
            return;
        }
        if let Some(want) = expect.code
            && e["code"] != want
        {
            self.failures.push(format!("expected code {want}: {ctx}"));
            return;
        }
        let want_field = field.or(expect.field);
        if let Some(want) = want_field
            && !want.is_empty()
        {
            let got = e["field"].as_str().unwrap_or("");
            let ok = got == want
                || got.starts_with(&format!("{want}."))
                || got.starts_with(&format!("{want}["));
            if !ok {
                self.failures.push(format!("expected field {want}: {ctx}"));
            }
        }
    }

    /// Every probe for one operation, as one caller.
    async fn walk(&mut self, spec: &Value, op: &Op, caller: &str, token: &str) {
        let m = op.method.as_str();
        let existing = self
            .real_ids
            .get(collection(&op.path))
            .cloned()
            .unwrap_or_else(|| "1".to_string());
        let real = |_: &Param| existing.clone();
        let unknown = |_: &Param| UNKNOWN_ID.to_string();
        let no_body = op.body.is_none();
        // A body-less request to a route that wants one fails on the body first;
        // path and query probes send a valid empty object to JSON routes instead.
        let filler: Option<(&str, Vec<u8>)> = match &op.body {
            Some((ct, _)) if ct == "application/json" => Some(("application/json", b"{}".to_vec())),
            _ => None,
        };

        // Path parameters: not a number, out of range, negative, unknown.
        for p in op.path_params() {
            let name = op.name();
            if p.ty == "integer" {
                let mut probes: Vec<(&str, String)> = vec![
                    ("non-numeric path id", "abc".into()),
                    ("path id beyond i64", "99999999999999999999999".into()),
                    ("fractional path id", "1.5".into()),
                ];
                if p.unsigned {
                    probes.push(("negative unsigned path id", "-1".into()));
                }
                for (what, bad) in probes {
                    let path = url(
                        op,
                        &|q: &Param| {
                            if q.name == p.name {
                                bad.clone()
                            } else {
                                "1".into()
                            }
                        },
                        &required_query(op, ""),
                    );
                    self.probe(
                        &format!("{what} ({name})"),
                        caller,
                        token,
                        m,
                        &path,
                        filler.clone(),
                        Expect::exact(400, "invalid_path"),
                        Some(&p.name),
                    )
                    .await;
                }
            }
            // Unknown ids: only where the request is otherwise complete, so
            // the answer is about the id (body routes fail on the body first).
            if no_body {
                let path = url(op, &unknown, &required_query(op, ""));
                self.probe(
                    &format!("unknown path id ({name})"),
                    caller,
                    token,
                    m,
                    &path,
                    None,
                    ANY_4XX,
                    None,
                )
                .await;
            }
        }

        // Query parameters: wrong types, out-of-range pages, bad times, missing required ones.
        for p in op.query_params() {
            let name = op.name();
            let mut bad: Vec<(&str, &str, Expect)> = Vec::new();
            let invalid_query = Expect::exact(400, "invalid_query");
            match p.ty.as_str() {
                "integer" => {
                    bad.push(("non-numeric integer", "abc", invalid_query));
                    bad.push(("fractional integer", "2.5", invalid_query));
                    if p.name == "limit" || p.name == "offset" || p.unsigned {
                        bad.push(("negative", "-1", ANY_4XX));
                    }
                    if p.name == "limit" {
                        bad.push(("huge limit", "100000000", ANY_4XX));
                    }
                }
                "number" => {
                    bad.push(("non-numeric number", "abc", invalid_query));
                    bad.push(("out-of-range number", "999", ANY_4XX));
                    bad.push(("not finite", "NaN", ANY_4XX));
                }
                "boolean" => bad.push(("not a boolean", "maybe", invalid_query)),
                _ if is_time_param(p) => {
                    bad.push(("not a time", "yesterday", ANY_4XX));
                    bad.push(("impossible date", "2026-13-45T25:61:00Z", ANY_4XX));
                }
                _ => {}
            }
            for (what, value, expect) in bad {
                let mut q = required_query(op, &p.name);
                q.push((p.name.clone(), value.into()));
                let path = url(op, &real, &q);
                self.probe(
                    &format!("{what} query {} ({name})", p.name),
                    caller,
                    token,
                    m,
                    &path,
                    filler.clone(),
                    expect,
                    Some(&p.name),
                )
                .await;
            }
            if p.required {
                let path = url(op, &real, &required_query(op, &p.name));
                self.probe(
                    &format!("missing required query {} ({name})", p.name),
                    caller,
                    token,
                    m,
                    &path,
                    filler.clone(),
                    ANY_4XX,
                    Some(&p.name),
                )
                .await;
            }
        }

        // Bodies.
        let Some((ct, schema)) = &op.body else {
            return;
        };
        // An id that exists in the demo (or a plausible one), so a handler that
        // looks the object up before reading the body still gets to the body.
        let path = url(op, &real, &required_query(op, ""));
        let name = op.name();
        let json_body = ct == "application/json";
        // Routes whose declared body is not JSON (uploads, sensor feeds) parse
        // through their own pipelines; for them a broken JSON document only has
        // to be refused in the error shape.
        let malformed = if json_body {
            Expect::exact(400, "malformed_json")
        } else {
            ANY_4XX
        };
        self.probe(
            &format!("malformed JSON ({name})"),
            caller,
            token,
            m,
            &path,
            Some(("application/json", b"{not json".to_vec())),
            malformed,
            None,
        )
        .await;
        self.probe(
            &format!("truncated JSON ({name})"),
            caller,
            token,
            m,
            &path,
            Some(("application/json", br#"{"a": [1, 2"#.to_vec())),
            malformed,
            None,
        )
        .await;
        for (what, doc) in [
            ("a number", "42"),
            ("a string", "\"text\""),
            ("null", "null"),
            ("an array", "[]"),
            ("an object", "{}"),
        ] {
            let wrong_top = match first_type(schema).as_deref() {
                Some("array") => what != "an array",
                Some("object") => what != "an object",
                _ => false,
            };
            if wrong_top {
                self.probe(
                    &format!("JSON of the wrong type: {what} ({name})"),
                    caller,
                    token,
                    m,
                    &path,
                    Some(("application/json", doc.as_bytes().to_vec())),
                    ANY_4XX,
                    None,
                )
                .await;
            }
        }
        if json_body {
            self.probe(
                &format!("text/plain content type ({name})"),
                caller,
                token,
                m,
                &path,
                Some(("text/plain", b"{}".to_vec())),
                Expect::exact(415, "unsupported_media_type"),
                None,
            )
            .await;
            self.probe(
                &format!("form content type ({name})"),
                caller,
                token,
                m,
                &path,
                Some(("application/x-www-form-urlencoded", b"a=1".to_vec())),
                Expect::exact(415, "unsupported_media_type"),
                None,
            )
            .await;
        } else {
            self.probe(
                &format!("image content type ({name})"),
                caller,
                token,
                m,
                &path,
                Some(("image/gif", b"GIF89a".to_vec())),
                Expect::exact(415, "unsupported_media_type"),
                None,
            )
            .await;
        }
        let mut big = b"{\"pad\":\"".to_vec();
        big.resize(BODY_LIMIT + 1024, b'a');
        big.extend_from_slice(b"\"}");
        self.probe(
            &format!("oversized body ({name})"),
            caller,
            token,
            m,
            &path,
            Some(("application/json", big)),
            Expect::exact(413, "body_too_large"),
            None,
        )
        .await;

        // Each property with a value of the wrong type, alone: serde stops at the
        // first bad field, so the error must name exactly that one.
        let (item_schema, wrap): (&Value, bool) = match first_type(schema).as_deref() {
            Some("array") => (resolve(spec, &schema["items"]), true),
            _ => (schema, false),
        };
        if let Some(props) = item_schema.get("properties").and_then(Value::as_object) {
            for (prop, ps) in props {
                let Some(bad) = wrong_value(spec, ps) else {
                    continue;
                };
                let mut doc = json!({ prop.clone(): bad });
                let field = if wrap {
                    doc = json!([doc]);
                    format!("[0].{prop}")
                } else {
                    prop.clone()
                };
                self.probe(
                    &format!("wrong-typed field {prop} ({name})"),
                    caller,
                    token,
                    m,
                    &path,
                    Some(("application/json", doc.to_string().into_bytes())),
                    Expect::exact(422, "invalid_field"),
                    Some(&field),
                )
                .await;
            }
        }
    }
}

/// Creates an API key of `role` in `org` and returns its secret.
async fn api_key(app: &TestApp, admin: &str, role: &str, org: i64) -> String {
    let (st, k) = app
        .call(
            "POST",
            "/api/v1/apikeys",
            Some(admin),
            Some(json!({"name": format!("bad-input-{role}"), "role": role, "org_id": org})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{k}");
    k["secret"].as_str().unwrap().to_string()
}

async fn test_app() -> TestApp {
    TestApp::with_config(Config {
        body_limit_bytes: BODY_LIMIT,
        ..Config::default()
    })
    .await
}

#[tokio::test]
async fn every_route_answers_bad_input_with_a_4xx_in_the_error_shape() {
    let app = test_app().await;
    walk_every_route(&app).await;
    app.stop().await;
}

/// The same walk over PostgreSQL, where some input SQLite takes (text with a
/// NUL) is an error of the database itself.
#[tokio::test]
async fn every_route_answers_bad_input_on_postgresql_too() {
    let (_pg, app) = TestApp::on_postgres(Config {
        body_limit_bytes: BODY_LIMIT,
        ..Config::default()
    })
    .await;
    walk_every_route(&app).await;
    app.stop().await;
}

/// Every operation of the spec, probed as admin (and as a sensor key where
/// machines post): each answer must be a 4xx in the error shape.
async fn walk_every_route(app: &TestApp) {
    let admin = app.login("admin").await;
    let (_, me) = app.get("/api/v1/auth/me", &admin).await;
    let sensor = api_key(app, &admin, "sensor", me["org_id"].as_i64().unwrap()).await;

    let (st, spec) = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(st, StatusCode::OK);
    let ops = operations(&spec);
    assert!(ops.len() >= 60, "spec lists only {} operations", ops.len());
    let query_params: usize = ops.iter().map(|o| o.query_params().count()).sum();
    assert!(
        query_params >= 30,
        "the spec declares only {query_params} query parameters"
    );

    // One data source, so the record-upload route's body handling is reached.
    let (st, src) = app
        .call(
            "POST",
            "/api/v1/sources",
            Some(&admin),
            Some(json!({"mapping_toml": include_str!(
                "../../fusion/examples/mappings/household_registry.toml"
            )})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{src}");
    let real_ids = existing_ids(app, &admin, &ops).await;
    assert!(
        real_ids.contains_key("/api/v1/units") && real_ids.contains_key("/api/v1/sources"),
        "{real_ids:?}"
    );
    let mut w = Walker {
        app,
        real_ids,
        failures: Vec::new(),
        probes: 0,
    };
    for op in &ops {
        w.walk(&spec, op, "admin", &admin).await;
        let machine = op
            .scopes
            .iter()
            .any(|s| s == "events:write" || s == "positions:write");
        if machine {
            w.walk(&spec, op, "sensor key", &sensor).await;
        }
    }
    let probes = w.probes;
    let failures = std::mem::take(&mut w.failures);
    assert!(probes > 300, "only {probes} probes sent");
    assert!(
        failures.is_empty(),
        "{} of {probes} bad-input probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing the walker sent broke the server or the audit chain.
    let (st, h) = app.call("GET", "/healthz", None, None).await;
    assert_eq!(st, StatusCode::OK, "{h}");
    let v = app.state.store.audit_verify().await.unwrap();
    assert!(v.ok(), "{v:?}");
}

/// Asserts a 422 in the error shape naming `field`.
fn assert_invalid(st: StatusCode, body: &Value, field: &str, what: &str) {
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    assert_eq!(error_code(body), "invalid_field", "{what}: {body}");
    assert_eq!(body["error"]["field"], field, "{what}: {body}");
}

#[tokio::test]
async fn bodies_naming_unknown_or_foreign_objects_are_refused() {
    let app = test_app().await;
    let admin = app.login("admin").await;
    let (_, me) = app
        .get("/api/v1/auth/me", &app.login("officer01").await)
        .await;
    let station_a = me["org_id"].as_i64().unwrap();
    let (_, orgs) = app.get("/api/v1/orgs?limit=1000", &admin).await;
    let station_b = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "station" && o["id"].as_i64() != Some(station_a))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let unit_of = |org: i64| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (_, u) = app
                .get(&format!("/api/v1/units?org_id={org}&limit=1"), &admin)
                .await;
            u["items"][0]["id"].as_i64().expect("station has a unit")
        }
    };
    let (unit_a, unit_b) = (unit_of(station_a).await, unit_of(station_b).await);
    let unknown: i64 = UNKNOWN_ID.parse().unwrap();
    let user = |name: &str, unit: Option<i64>| {
        json!({"username": name, "display_name": "测试", "password": "bad-input-pw",
            "role": "station_officer", "org_id": station_a, "unit_id": unit})
    };

    // POST /users: unknown unit, another station's unit, a wrong-typed role.
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(user("u_unknown", Some(unknown))),
        )
        .await;
    assert_invalid(st, &b, "unit_id", "unknown unit");
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(user("u_foreign", Some(unit_b))),
        )
        .await;
    assert_invalid(st, &b, "unit_id", "another station's unit");
    let mut bad_role = user("u_role", None);
    bad_role["role"] = json!(12345);
    let (st, b) = app
        .call("POST", "/api/v1/users", Some(&admin), Some(bad_role))
        .await;
    assert_invalid(st, &b, "role", "role 12345");
    let mut no_org = user("u_org", None);
    no_org["org_id"] = json!(unknown);
    let (st, b) = app
        .call("POST", "/api/v1/users", Some(&admin), Some(no_org))
        .await;
    assert_invalid(st, &b, "org_id", "unknown org");
    // Its own station's unit is fine.
    let (st, created) = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(user("u_ok", Some(unit_a))),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert_eq!(created["unit_id"], unit_a);
    let uid = created["id"].as_i64().unwrap();

    // PATCH /users/{id}: the same checks, and moving the user away from its unit's station.
    let path = format!("/api/v1/users/{uid}");
    let (st, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"unit_id": unknown})),
        )
        .await;
    assert_invalid(st, &b, "unit_id", "patch: unknown unit");
    let (st, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"unit_id": unit_b})),
        )
        .await;
    assert_invalid(st, &b, "unit_id", "patch: another station's unit");
    let (st, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"org_id": station_b})),
        )
        .await;
    assert_invalid(
        st,
        &b,
        "unit_id",
        "patch: move away from the unit's station",
    );
    let (st, b) = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"org_id": station_b, "unit_id": unit_b})),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::OK,
        "move with a unit of the new station: {b}"
    );
    assert_eq!(
        (b["org_id"].as_i64(), b["unit_id"].as_i64()),
        (Some(station_b), Some(unit_b))
    );
    let (st, b) = app
        .call("PATCH", &path, Some(&admin), Some(json!({"role": 12345})))
        .await;
    assert_invalid(st, &b, "role", "patch: role 12345");

    // Other bodies that name an org or unit.
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/units",
            Some(&admin),
            Some(json!({"callsign": "坏输入1", "kind": "patrol_car", "org_id": unknown})),
        )
        .await;
    assert_invalid(st, &b, "org_id", "unit in an unknown org");
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/apikeys",
            Some(&admin),
            Some(json!({"name": "bad", "role": "sensor", "org_id": unknown})),
        )
        .await;
    assert_invalid(st, &b, "org_id", "api key in an unknown org");
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/units/positions",
            Some(&admin),
            Some(json!([{"unit_id": unknown, "lat": 31.2, "lng": 121.4}])),
        )
        .await;
    assert_invalid(st, &b, "[0].unit_id", "position of an unknown unit");
    assert_eq!(b["rejected"][0]["field"], "unit_id", "{b}");
    // A station's sensor key cannot report for another station's unit.
    let officer = api_key(&app, &admin, "sensor", station_a).await;
    let (st, b) = app
        .call("POST", "/api/v1/units/positions", Some(&officer),
            Some(json!([{"unit_id": unit_a, "lat": 31.2, "lng": 121.4}, {"unit_id": unit_b, "lat": 31.2, "lng": 121.4}])))
        .await;
    assert_eq!(
        (st, b["accepted"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{b}"
    );
    assert_eq!(
        (
            b["rejected"][0]["line"].as_i64(),
            b["rejected"][0]["field"].as_str()
        ),
        (Some(2), Some("unit_id")),
        "{b}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_array_is_never_taken_for_an_object() {
    let app = test_app().await;
    // serde would read ["admin", "pingan-demo"] as {username, password}.
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!(["admin", PASSWORD])),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(error_code(&b), "invalid_field");
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expected a JSON object, got an array")),
        "{b}"
    );
    // A GeoJSON-style [lng, lat] pair must not become {lat, lng}.
    let dispatcher = app.login("dispatcher").await;
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/calls",
            Some(&dispatcher),
            Some(json!({"channel": "110", "caller_phone": "13800138000",
                "description": "有人打架", "location": [30.66, 60.17]})),
        )
        .await;
    assert_invalid(st, &b, "location", "location as an array");
    app.stop().await;
}

#[tokio::test]
async fn text_with_a_nul_is_refused_wherever_it_comes_in() {
    let app = test_app().await;
    nul_probes(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn text_with_a_nul_is_refused_on_postgresql() {
    let (_pg, app) = TestApp::on_postgres(Config::default()).await;
    nul_probes(&app).await;
    app.stop().await;
}

/// PostgreSQL cannot store U+0000: it must never reach the store (nor an
/// audit record group-committed with other requests' records).
async fn nul_probes(app: &TestApp) {
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin\u{0}", "password": "x"})),
        )
        .await;
    assert_invalid(st, &b, "username", "NUL in a JSON string");
    let admin = app.login("admin").await;
    let (st, b) = app
        .get_with(
            "/api/v1/search?q=%E5%BC%A0%00",
            &admin,
            &[("X-Purpose", "nul probe")],
        )
        .await;
    assert_eq!(
        (st, error_code(&b), &b["error"]["field"]),
        (StatusCode::BAD_REQUEST, "invalid_query".into(), &json!("q")),
        "{b}"
    );
    let (st, b) = app.get("/api/v1/sensors/CP%00", &admin).await;
    assert_eq!(
        (st, error_code(&b), &b["error"]["field"]),
        (StatusCode::BAD_REQUEST, "invalid_path".into(), &json!("id")),
        "{b}"
    );
    // The refused search was audited, and the chain still verifies.
    let auditor = app.login("auditor").await;
    let (_, v) = app.get("/api/v1/audit/verify", &auditor).await;
    assert_eq!(v["ok"], true, "{v}");
}
