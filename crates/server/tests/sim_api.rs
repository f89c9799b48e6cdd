//! Demo life end to end: the simulator, stepped on a manual clock over the
//! demo city, takes calls through intake, dispatches, moves units along the
//! roads, brings incidents to closed, and the KPIs API reports the response
//! times it produced.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::PASSWORD;
use pingan_core::{Clock, LatLng, Timestamp};
use pingan_server::demo::{CityMap, DemoOptions};
use pingan_server::sim::{SimSettings, Simulator, StepReport};
use pingan_server::{AppState, Config};
use serde_json::{Value, json};

/// A clock the test moves by hand.
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

impl ManualClock {
    fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

struct App {
    base: String,
    client: reqwest::Client,
    state: AppState,
    dir: PathBuf,
}

impl App {
    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut rb = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("X-Purpose", "demo life test");
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let st = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert!(st.is_success(), "{method} {path}: {st} {v}");
        v
    }
}

/// The demo city served on 127.0.0.1:0 with `clock` as the server clock.
async fn start(clock: Arc<ManualClock>) -> App {
    let dir = std::env::temp_dir().join(format!("pingan-test-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("roads-cache");
    let osm = pingan_server::demo::default_osm(&cache, 2026).unwrap();
    let city = CityMap::load(&osm, &cache).unwrap();
    let store = pingan_store::Store::open(dir.join("pingan.db").to_str().unwrap())
        .await
        .unwrap();
    let opts = DemoOptions {
        seed: 2026,
        password: PASSWORD.into(),
        osm: None,
    };
    pingan_server::demo::build_city(&store, &city, &opts, clock.now().millis())
        .await
        .unwrap();
    let cfg = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    assert!(!cfg.demo.simulate, "the simulator is off unless asked for");
    let (router, state) = pingan_server::build(store, cfg, clock).await.unwrap();
    *state.city.write().unwrap() = Some(Arc::new(city));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    App {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        state,
        dir,
    }
}

fn add(a: &mut StepReport, b: StepReport) {
    a.calls += b.calls;
    a.dispatched += b.dispatched;
    a.acknowledged += b.acknowledged;
    a.arrived += b.arrived;
    a.cleared += b.cleared;
    a.closed += b.closed;
    a.merged += b.merged;
    a.moved += b.moved;
    a.refused += b.refused;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_city_takes_calls_moves_units_and_closes_incidents() {
    // 19:00 Beijing time, near the evening peak.
    let t0 = Timestamp::from_civil_utc(2026, 11, 24, 11, 0, 0);
    let clock = Arc::new(ManualClock(AtomicI64::new(t0.millis())));
    let app = start(clock.clone()).await;
    let login = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": "commander", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();

    let mut sim = Simulator::new(SimSettings {
        seed: 7,
        calls_per_day: 2_000.0,
        dispatch_delay_s: (10, 30),
        ack_delay_s: (5, 15),
        on_scene_s: (60, 180),
        report_s: (20, 60),
        ..SimSettings::default()
    })
    .unwrap();
    let city = app.state.city().unwrap();

    let mut total = StepReport::default();
    // unit id → positions seen while it was en route to an incident.
    let mut tracks: std::collections::HashMap<i64, Vec<(f64, f64)>> = Default::default();
    for step in 0..(50 * 12) {
        clock.advance_ms(5_000);
        let r = sim.step(&app.state).await.unwrap();
        add(&mut total, r);
        if step % 6 == 0 {
            let en_route = app
                .call(
                    "GET",
                    "/api/v1/units?status=en_route&limit=200",
                    &token,
                    None,
                )
                .await;
            for u in en_route["items"].as_array().unwrap() {
                let p = &u["position"];
                tracks
                    .entry(u["id"].as_i64().unwrap())
                    .or_default()
                    .push((p["lat"].as_f64().unwrap(), p["lng"].as_f64().unwrap()));
            }
        }
    }
    eprintln!("50 simulated minutes: {total:?}");
    assert!(total.calls >= 30, "{total:?}");
    assert!(total.dispatched >= 20, "{total:?}");
    assert!(total.acknowledged >= 15, "{total:?}");
    assert!(total.arrived >= 10, "{total:?}");
    assert!(total.cleared >= 5, "{total:?}");
    assert!(total.closed >= 3, "{total:?}");
    assert!(total.moved > 100, "{total:?}");

    // Units moved, and every observed position lies on a road.
    let moving = tracks
        .values()
        .filter(|t| t.windows(2).any(|w| w[0] != w[1]))
        .count();
    assert!(moving >= 5, "{} tracks, {moving} moving", tracks.len());
    for t in tracks.values() {
        for &(lat, lng) in t {
            let d = city
                .router
                .snap(LatLng::new(lat, lng).unwrap())
                .distance_m();
            assert!(d < 1.0, "position {lat},{lng} is {d} m off the road");
        }
    }

    // Closed incidents carry the whole lifecycle on their timeline.
    let closed = app
        .call(
            "GET",
            "/api/v1/incidents?status=closed&limit=100",
            &token,
            None,
        )
        .await;
    assert_eq!(
        closed["total"].as_u64().unwrap() as usize,
        total.closed + total.merged
    );
    let merged = closed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["disposition"].as_str().unwrap().starts_with("duplicate:"))
        .count();
    assert_eq!(merged, total.merged);
    let id = closed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| !i["disposition"].as_str().unwrap().starts_with("duplicate:"))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let detail = app
        .call("GET", &format!("/api/v1/incidents/{id}"), &token, None)
        .await;
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for want in [
        "created",
        "classified",
        "dispatched",
        "acknowledged",
        "en_route",
        "arrived",
        "unit_cleared",
        "closed",
    ] {
        assert!(kinds.contains(&want), "{want} missing from {kinds:?}");
    }
    assert_eq!(detail["timeline"][0]["actor"], "simulator");
    assert!(detail["disposition"].is_string(), "{detail}");
    assert!(detail["arrived_at"].is_string() && detail["closed_at"].is_string());

    // Every unit the simulator finished with is free again.
    let units = app
        .call(
            "GET",
            "/api/v1/units?status=on_scene&limit=500",
            &token,
            None,
        )
        .await;
    assert!(units["total"].as_u64().unwrap() as usize <= total.arrived - total.cleared);

    // KPIs now show real response times.
    let from = t0.to_rfc3339();
    let to = clock.now().to_rfc3339();
    let k = app
        .call(
            "GET",
            &format!("/api/v1/kpis?from={from}&to={to}"),
            &token,
            None,
        )
        .await;
    let all = k["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["type_code"].is_null())
        .expect("the all-types group");
    assert_eq!(all["count"].as_u64().unwrap() as usize, total.calls);
    assert!(
        all["call_to_dispatch"]["median_s"].as_i64().unwrap() >= 10,
        "{all}"
    );
    assert!(
        all["dispatch_to_arrival"]["median_s"].as_i64().unwrap() > 0,
        "{all}"
    );
    assert!(all["call_to_dispatch"]["n"].as_u64().unwrap() as usize >= total.dispatched);

    // Some callers evaluated their closed cases: at most one each, stars 1..=5,
    // and the per-station statistics add up to the list.
    let ev = app
        .call("GET", "/api/v1/evaluations?limit=1000", &token, None)
        .await;
    let n = ev["total"].as_u64().unwrap() as usize;
    assert!(
        n > 0 && n <= total.closed,
        "{n} evaluations for {} closed",
        total.closed
    );
    let items = ev["items"].as_array().unwrap();
    let mut seen = std::collections::HashSet::new();
    for e in items {
        assert!((1..=5).contains(&e["stars"].as_i64().unwrap()), "{e}");
        assert!(
            seen.insert(e["incident_id"].as_i64().unwrap()),
            "two for one case: {e}"
        );
    }
    let stats = app
        .call("GET", "/api/v1/evaluations/stats", &token, None)
        .await;
    let counted: u64 = stats["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted as usize, n);

    app.state.store.close().await;
    let _ = std::fs::remove_dir_all(&app.dir);
}
