//! Black-box test harness: a real pingan server on 127.0.0.1:0 over a fresh
//! SQLite store (or a throwaway PostgreSQL cluster, [`TestApp::on_postgres`])
//! holding the demo city, driven with reqwest.
#![allow(dead_code, unreachable_pub)]

#[path = "../../../store/tests/pg/mod.rs"]
pub mod pg;

use std::path::PathBuf;
use std::sync::Arc;

use pingan_server::demo::{CityMap, DemoOptions};
use pingan_server::{AppState, Config};
use reqwest::StatusCode;
use serde_json::Value;

pub const PASSWORD: &str = "pingan-demo";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("pingan-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The demo city's street network, prepared once per test binary.
fn city(dir: &std::path::Path) -> CityMap {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("roads-cache");
    // One thread prepares the network and fills the cache; the rest load it.
    static FIRST: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _first = FIRST.lock().unwrap_or_else(|e| e.into_inner());
    let osm = pingan_server::demo::default_osm(&cache, 2026).unwrap();
    let _ = dir;
    CityMap::load(&osm, &cache).unwrap()
}

/// Builds the app over `cfg.data_dir` the way a process start does, writing the
/// demo city into the store first when `with_city`.
async fn build_over(with_city: bool, cfg: Config) -> (axum::Router, AppState) {
    let dir = cfg.data_dir.clone();
    let url = cfg
        .database
        .clone()
        .unwrap_or_else(|| dir.join("pingan.db").to_str().unwrap().to_string());
    let store = pingan_store::Store::open(&url).await.unwrap();
    let city = city(&dir);
    if with_city {
        let opts = DemoOptions {
            seed: 2026,
            password: PASSWORD.into(),
            osm: None,
        };
        pingan_server::demo::build_city(
            &store,
            &city,
            &opts,
            pingan_server::system_clock().now().millis(),
        )
        .await
        .unwrap();
    }
    let (router, state) = pingan_server::build(store, cfg, pingan_server::system_clock())
        .await
        .unwrap();
    *state.city.write().unwrap() = Some(Arc::new(city));
    (router, state)
}

/// The app over an existing data dir without serving it, for restart tests:
/// `first` writes the demo city, later boots find it in the store.
pub async fn boot_over(dir: &std::path::Path, first: bool) -> AppState {
    let cfg = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    build_over(first, cfg).await.1
}

/// Takes a fight call in process (as `dispatcher`) at a positioned patrol
/// car and returns it with the police units recommended for it (P2, top 5),
/// ready for `dispatch::dispatch_units`.
pub async fn fight_call_beside_patrol_car(
    s: &AppState,
) -> (pingan_server::api::calls::CallResult, Vec<i64>) {
    s.dispatch.reload_units(s).await.unwrap();
    let u = s
        .dispatch
        .units()
        .into_iter()
        .find(|u| u.kind == "patrol_car" && u.position.is_some())
        .unwrap();
    let p = u.position.unwrap();
    let call = pingan_server::api::calls::intake(
        s,
        "dispatcher",
        pingan_server::api::calls::CallRequest {
            channel: "110".into(),
            caller_phone: "13812345678".into(),
            caller_name: None,
            description: "饭店门口有人打架".into(),
            location: Some(pingan_server::api::LatLngDto {
                lat: p.lat(),
                lng: p.lng(),
            }),
            address: None,
            time: None,
        },
    )
    .await
    .unwrap();
    let tc = call.incident.type_code.clone().unwrap();
    let recs =
        pingan_server::api::incidents::recommend_for(s, p, &tc, pingan_dispatch::Priority::P2, 5)
            .unwrap();
    let police = recs
        .iter()
        .filter(|r| !r.first_responder)
        .map(|r| r.unit_id)
        .collect();
    (call, police)
}

impl TestApp {
    /// The demo-city server over a throwaway PostgreSQL cluster on 127.0.0.1;
    /// keep the cluster until the app has stopped (it is removed on drop).
    pub async fn on_postgres(cfg: Config) -> (pg::TempPostgres, TestApp) {
        let pg = pg::TempPostgres::start();
        let app = Self::start(
            true,
            Config {
                database: Some(pg.url("postgres")),
                ..cfg
            },
        )
        .await;
        (pg, app)
    }

    /// A server with the demo city (orgs, units, users for every role).
    pub async fn demo() -> TestApp {
        Self::start(true, Config::default()).await
    }

    /// A server with a custom config.
    pub async fn with_config(cfg: Config) -> TestApp {
        Self::start(true, cfg).await
    }

    async fn start(with_city: bool, mut cfg: Config) -> TestApp {
        let dir = temp_dir("api");
        cfg.data_dir = dir.clone();
        let (router, state) = build_over(with_city, cfg).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = pingan_server::serve(
                listener,
                router,
                async {
                    let _ = rx.await;
                },
                std::time::Duration::from_secs(5),
            )
            .await;
        });
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            state,
            dir,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    pub async fn login(&self, user: &str) -> String {
        let (st, b) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({"username": user, "password": PASSWORD})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "login {user}: {b}");
        b["token"].as_str().unwrap().to_string()
    }

    /// Sends a request; returns status and parsed JSON body (Null if empty, String if not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        Self::finish(rb).await
    }

    /// Sends raw bytes with a content type and optional extra headers.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut rb = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .header("content-type", ctype)
            .body(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        Self::finish(rb).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn get_with(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut rb = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        Self::finish(rb).await
    }

    async fn finish(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = rb.send().await.unwrap();
        let st = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (st, v)
    }

    /// Stops the server. Every API test ends here, so every test also checks
    /// that no personal-data request it made went unaudited.
    pub async fn stop(mut self) {
        let unaudited = self.state.metrics.unaudited_routes();
        assert!(
            unaudited.is_empty(),
            "personal data answered without an audit record: {unaudited:?}"
        );
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        self.state.store.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asserts the body is the one error shape and returns its code.
pub fn error_code(body: &Value) -> String {
    let e = body
        .get("error")
        .unwrap_or_else(|| panic!("not the error shape: {body}"));
    assert!(
        e.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "error without message: {body}"
    );
    assert!(e.get("field").is_some(), "error without field key: {body}");
    e["code"].as_str().unwrap().to_string()
}
