//! Demo life end to end: the simulator, stepped on a manual clock over the
//! demo city, takes calls through intake, dispatches, moves units along the
//! roads, brings incidents to closed, and the KPIs API reports the response
//! times it produced.
//!
//! With the demo's partner agencies on loopback (`partner_sim`), it diverts a
//! non-police call to 12345 and a fire with injuries to 119 and 120 (police
//! units go too); the receivers verify each delivery's signature, refuse
//! forged ones, ride out an outage through the platform's durable retry, and
//! report back through the feedback API onto the incident's timeline; 12345
//! sends an urgent case back to 110 and police go; a restart of both
//! simulators mid-case picks the case up again from the record; an hour of
//! generated city life with random outages, rejections and returns loses
//! nothing.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::PASSWORD;
use pingan_core::{Clock, LatLng, Timestamp};
use pingan_dispatch::diversion::{self, HandoffPayload};
use pingan_dispatch::{Channel, Partner, Priority, SimCall};
use pingan_server::demo::{CityMap, DemoOptions};
use pingan_server::partner_sim::{PartnerSim, PartnerSimSettings, PartnerStats, Receipt};
use pingan_server::sim::{SimSettings, Simulator, StepReport};
use pingan_server::{AppState, Config};
use reqwest::StatusCode;
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
    /// A bearer token for the demo login `user`.
    async fn login(&self, user: &str) -> String {
        let login: Value = self
            .client
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        login["token"].as_str().unwrap().to_string()
    }

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

/// The demo city served on 127.0.0.1:0 with `clock` as the server clock,
/// its data in a directory named after `tag`.
async fn start(clock: Arc<ManualClock>, tag: &str) -> App {
    let dir = std::env::temp_dir().join(format!("pingan-test-sim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("roads-cache");
    let city = {
        // One test prepares the street network's cache; the others load it.
        static FIRST: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _first = FIRST.lock().unwrap_or_else(|e| e.into_inner());
        let osm = pingan_server::demo::default_osm(&cache, 2026).unwrap();
        CityMap::load(&osm, &cache).unwrap()
    };
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
    let app = start(clock.clone(), "life").await;
    let token = app.login("commander").await;

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
    // Every simulated call wrote caller data, and each is on the audit record.
    let (_, audited) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                username: Some("simulator".into()),
                action: Some("call.create".into()),
                ..Default::default()
            },
            pingan_store::Page {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(audited as usize, total.calls);
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

/// The demo city on a manual clock with the partner agencies on loopback and
/// a simulator the test feeds calls to.
struct PartnerApp {
    app: App,
    clock: Arc<ManualClock>,
    partners: Arc<PartnerSim>,
    sim: Simulator,
    token: String,
}

impl std::ops::Deref for PartnerApp {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

/// [`start`] at 10:00 Beijing time plus the partner agencies as `partners`
/// says and a simulator generating `calls_per_day` of its own.
async fn start_with_partners(
    tag: &str,
    partners: PartnerSimSettings,
    calls_per_day: f64,
) -> PartnerApp {
    let clock = Arc::new(ManualClock(AtomicI64::new(
        Timestamp::from_civil_utc(2026, 11, 24, 2, 0, 0).millis(),
    )));
    let app = start(clock.clone(), tag).await;
    let partners = PartnerSim::start(&app.state, &app.base, partners)
        .await
        .unwrap();
    let token = app.login("dispatcher").await;
    let mut sim = Simulator::new(SimSettings {
        seed: 5,
        calls_per_day,
        dispatch_delay_s: (10, 20),
        ack_delay_s: (5, 10),
        ..SimSettings::default()
    })
    .unwrap();
    // The first step starts the simulator's clock.
    sim.step(&app.state).await.unwrap();
    PartnerApp {
        app,
        clock,
        partners,
        sim,
        token,
    }
}

impl PartnerApp {
    async fn get(&self, path: &str) -> Value {
        self.app.call("GET", path, &self.token, None).await
    }
    /// A point on the road beside the `n`th positioned patrol car.
    fn road_point(&self, n: usize) -> LatLng {
        let mut cars: Vec<_> = self
            .state
            .dispatch
            .units()
            .into_iter()
            .filter(|u| u.kind == "patrol_car" && u.position.is_some())
            .collect();
        cars.sort_by_key(|u| u.id);
        cars[n * 37 % cars.len()].position.unwrap()
    }

    /// A caller's call, placed now, handed to the simulator.
    async fn place_call(&mut self, description: &str, at: LatLng, truth: &str) -> i64 {
        let c = SimCall {
            at: self.clock.now(),
            channel: Channel::Tel110,
            caller_phone: "13912345678".into(),
            description: description.into(),
            point: at,
            true_type: truth.into(),
            true_priority: Priority::P3,
        };
        let id = self.sim.add_call(&self.app.state, &c).await.unwrap();
        let row = self.app.state.store.get_incident(id).await.unwrap();
        assert_eq!(row.type_code.as_deref(), Some(truth), "{description}");
        id
    }

    /// Moves the city on in 10-second steps (simulator, partners' feedback,
    /// the outbox woken so deliveries follow the manual clock) until `done`
    /// holds or `max_steps` have passed; returns the summed step reports.
    async fn run_until<F>(&mut self, max_steps: usize, mut done: F) -> StepReport
    where
        F: AsyncFnMut(&PartnerApp) -> bool,
    {
        let mut total = StepReport::default();
        for _ in 0..max_steps {
            self.clock.0.fetch_add(10_000, Ordering::SeqCst);
            let r = self.sim.step(&self.app.state).await.unwrap();
            total.calls += r.calls;
            total.diverted += r.diverted;
            total.joint += r.joint;
            total.handoffs += r.handoffs;
            total.taken_back += r.taken_back;
            total.dispatched += r.dispatched;
            total.closed += r.closed;
            self.partners.run_due().await;
            self.app.state.dispatch.wake_outbox();
            // Real time for the outbox's HTTP round trip to the receiver.
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
            if done(&*self).await {
                return total;
            }
        }
        panic!("not done after {max_steps} steps: {total:?}");
    }

    async fn stop(self) {
        self.app.state.store.close().await;
        let _ = std::fs::remove_dir_all(&self.app.dir);
    }
}

/// Partners that neither fail, refuse nor return anything unless told to.
fn quiet() -> PartnerSimSettings {
    PartnerSimSettings {
        seed: 9,
        reject_pct: 0,
        return_pct: 0,
        outages_per_hour: 0.0,
        ..PartnerSimSettings::default()
    }
}

fn kinds(detail: &Value) -> Vec<String> {
    detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The incident's hand-off lines as (actor, detail).
fn handoff_lines(detail: &Value) -> Vec<(String, String)> {
    detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "handoff")
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Events recorded in a hand-off's stored history.
async fn history(s: &AppState, handoff_id: i64) -> Vec<(String, String)> {
    let row = s.store.get_handoff(handoff_id).await.unwrap();
    let h: Vec<Value> = serde_json::from_str(&row.history).unwrap();
    h.iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The one delivery `p` received for incident `number`, after checking its
/// signature with the secret registered for `p` and that it is addressed to
/// `p` about that incident; with its payload.
async fn delivered_once(app: &PartnerApp, number: &str, p: Partner) -> (Receipt, HandoffPayload) {
    let got: Vec<Receipt> = app
        .partners
        .receipts()
        .into_iter()
        .filter(|r| r.incident_number == number && r.partner == p)
        .collect();
    assert_eq!(got.len(), 1, "{p:?} got {number} {} times", got.len());
    let r = got.into_iter().next().unwrap();
    let key = secret(&app.state, p).await;
    diversion::verify(key.as_bytes(), &r.signature, &r.body, r.received_at, 300).unwrap();
    let payload: HandoffPayload = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(payload.recipient.id, p.code());
    assert_eq!(payload.incident.id, number);
    (r, payload)
}

async fn secret(s: &AppState, p: Partner) -> String {
    s.store
        .find_partner(p.code())
        .await
        .unwrap()
        .unwrap()
        .secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_police_and_joint_calls_are_handed_to_partners_who_report_back() {
    let mut app = start_with_partners("flow", quiet(), 0.0).await;
    // Registered: every partner at the receiver, each with its own secret.
    let mut secrets = Vec::new();
    for p in Partner::ALL {
        let row = app
            .state
            .store
            .find_partner(p.code())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.webhook_url, app.partners.webhook_url(p));
        assert!(row.secret.starts_with("whsec_") && row.secret.len() > 40);
        secrets.push(row.secret);
    }
    secrets.sort();
    secrets.dedup();
    assert_eq!(secrets.len(), Partner::ALL.len());

    let water = app
        .place_call(
            "小区停水两天了，一直没人来修，家里老人孩子都没水用",
            app.road_point(0),
            "non_police.utilities",
        )
        .await;
    let fire = app
        .place_call(
            "三楼着火了，有人受伤，还有人被困在里面",
            app.road_point(1),
            "fire",
        )
        .await;
    let total = app
        .run_until(900, async |a: &PartnerApp| {
            let w = a.state.store.get_incident(water).await.unwrap();
            let hs = a.state.store.incident_handoffs(fire).await.unwrap();
            w.status == "closed" && hs.len() == 2 && hs.iter().all(|h| h.status == "resolved")
        })
        .await;
    assert_eq!(
        (total.diverted, total.joint, total.handoffs),
        (1, 1, 3),
        "{total:?}"
    );
    assert_eq!(total.taken_back, 0);

    // The non-police call: handed to 12345 only, never to police, closed as
    // handled by the partner once 12345 reported it resolved.
    let d = app.get(&format!("/api/v1/incidents/{water}")).await;
    assert_eq!(d["status"], "closed");
    assert_eq!(d["disposition"], "handled_by_partner");
    let k = kinds(&d);
    assert!(k.contains(&"diverted".to_string()), "{k:?}");
    assert!(!k.contains(&"dispatched".to_string()), "{k:?}");
    let hs = d["handoffs"].as_array().unwrap();
    assert_eq!(hs.len(), 1);
    assert_eq!(
        (&hs[0]["partner"], &hs[0]["status"], &hs[0]["attempts"]),
        (&json!("12345"), &json!("resolved"), &json!(1))
    );
    let lines = handoff_lines(&d);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].0, "partner:12345");
    assert!(
        lines[0].1.starts_with("12345 accepted: 已受理"),
        "{lines:?}"
    );
    assert!(
        lines[1].1.starts_with("12345 resolved: 已办结"),
        "{lines:?}"
    );
    assert_eq!(hs[0]["feedback"], lines[1].1["12345 resolved: ".len()..]);

    // What 12345 received: one delivery, signed with its secret over the
    // exact body, addressed to it, carrying the incident.
    let number = d["number"].as_str().unwrap();
    let (r, payload) = delivered_once(&app, number, Partner::Hotline12345).await;
    assert_eq!(r.message_id, format!("{number}-12345"));
    assert_eq!(Some(r.handoff_id), hs[0]["id"].as_i64());
    assert_eq!(payload.incident.type_code, "non_police.utilities");
    assert!(!payload.police_responding);

    // The fire with injuries: 120 and 119 at once, police dispatched too.
    let d = app.get(&format!("/api/v1/incidents/{fire}")).await;
    let k = kinds(&d);
    assert!(k.contains(&"dispatched".to_string()), "{k:?}");
    let joint: Vec<&Value> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "diverted")
        .collect();
    assert_eq!(joint.len(), 1);
    assert_eq!(joint[0]["detail"], "joint: 120,119");
    let mut partners: Vec<&str> = d["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["partner"].as_str().unwrap())
        .collect();
    partners.sort();
    assert_eq!(partners, ["119", "120"]);
    let lines = handoff_lines(&d);
    for p in ["119", "120"] {
        let of: Vec<&str> = lines
            .iter()
            .filter(|(a, _)| *a == format!("partner:{p}"))
            .map(|(_, d)| d.split(':').next().unwrap())
            .collect();
        assert_eq!(of, [format!("{p} accepted"), format!("{p} resolved")]);
    }
    let number = d["number"].as_str().unwrap();
    for (p, other) in [(Partner::Ems120, "119"), (Partner::Fire119, "120")] {
        let (_, payload) = delivered_once(&app, number, p).await;
        assert!(payload.police_responding);
        assert_eq!(payload.also_sent_to, [other]);
    }

    assert_eq!(
        app.partners.stats(),
        PartnerStats {
            delivered: 3,
            feedback_sent: 6,
            ..PartnerStats::default()
        }
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_refuse_forgeries_and_lose_nothing_to_outages_or_restarts() {
    let mut app = start_with_partners("outage", quiet(), 0.0).await;

    // The demo's partner keys were created on the record, one per agency.
    let (created, n) = app
        .state
        .store
        .audit_query(
            &pingan_store::AuditFilter {
                username: Some("demo".into()),
                action: Some("apikey.create".into()),
                ..Default::default()
            },
            pingan_store::Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(n as usize, Partner::ALL.len(), "{created:?}");

    // Forged or damaged deliveries never get past the receiver.
    let url = app.partners.webhook_url(Partner::Hotline12345);
    let body = serde_json::to_vec(&json!({"message_id": "forged-1"})).unwrap();
    let now = app.clock.now();
    let own = secret(&app.state, Partner::Hotline12345).await;
    let ems = secret(&app.state, Partner::Ems120).await;
    let mut tampered = body.clone();
    tampered[2] ^= 1;
    let attempts: [(Option<String>, &Vec<u8>); 4] = [
        (None, &body),
        (Some(diversion::sign(b"guessed", now, &body)), &body),
        (Some(diversion::sign(ems.as_bytes(), now, &body)), &body),
        (Some(diversion::sign(own.as_bytes(), now, &body)), &tampered),
    ];
    for (sig, b) in attempts {
        let mut rb = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("X-Pingan-Handoff", "1")
            .body(b.clone());
        if let Some(s) = &sig {
            rb = rb.header(diversion::SIGNATURE_HEADER, s);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{sig:?}");
    }
    // The right secret over the exact body passes the signature check (this
    // body is then refused as not a hand-off document).
    let resp = app
        .client
        .post(&url)
        .header(
            diversion::SIGNATURE_HEADER,
            diversion::sign(own.as_bytes(), now, &body),
        )
        .header("X-Pingan-Handoff", "1")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.partners.stats(),
        PartnerStats {
            bad_signature: 4,
            malformed: 1,
            ..PartnerStats::default()
        }
    );
    assert!(app.partners.receipts().is_empty());

    // 12345 is down for 45 s when a non-police call is handed to it.
    app.partners
        .outage(Partner::Hotline12345, app.clock.now().plus_secs(45));
    let water = app
        .place_call(
            "楼道里的路灯坏了一个多星期了，晚上黑漆漆的没人修",
            app.road_point(2),
            "non_police.utilities",
        )
        .await;
    let total = app
        .run_until(900, async |a: &PartnerApp| {
            a.state.store.get_incident(water).await.unwrap().status == "closed"
        })
        .await;
    assert_eq!((total.diverted, total.handoffs), (1, 1), "{total:?}");
    let d = app.get(&format!("/api/v1/incidents/{water}")).await;
    assert_eq!(d["disposition"], "handled_by_partner");
    let hid = d["handoffs"][0]["id"].as_i64().unwrap();
    let events = history(&app.state, hid).await;
    let failed: Vec<&(String, String)> = events.iter().filter(|(e, _)| e == "failed").collect();
    assert!(!failed.is_empty(), "{events:?}");
    assert!(
        failed
            .iter()
            .all(|(_, why)| why == "partner answered 503 Service Unavailable"),
        "{failed:?}"
    );
    let names: Vec<&str> = events
        .iter()
        .map(|(e, _)| e.as_str())
        .skip(failed.len())
        .collect();
    assert_eq!(names, ["delivered", "accepted", "resolved"]);
    assert_eq!(
        d["handoffs"][0]["attempts"].as_u64(),
        Some(failed.len() as u64 + 1)
    );
    let number = d["number"].as_str().unwrap();
    assert_eq!(app.partners.receipts().len(), 1);
    delivered_once(&app, number, Partner::Hotline12345).await;
    let st = app.partners.stats();
    assert_eq!(
        (st.unavailable, st.delivered, st.duplicates, st.outages),
        (failed.len(), 1, 0, 1)
    );

    // 12345 sends an urgent case straight back to 110: the platform reopens
    // it and the simulated dispatcher sends police.
    let gas = app
        .place_call(
            "家里钥匙丢了进不去门，屋里好像有煤气味",
            app.road_point(3),
            "non_police.locked_out",
        )
        .await;
    let total = app
        .run_until(300, async |a: &PartnerApp| {
            a.state
                .store
                .get_incident(gas)
                .await
                .unwrap()
                .dispatched_at
                .is_some()
        })
        .await;
    assert_eq!(
        (total.diverted, total.taken_back, total.dispatched),
        (1, 1, 1),
        "{total:?}"
    );
    let d = app.get(&format!("/api/v1/incidents/{gas}")).await;
    assert_eq!(d["handoffs"][0]["status"], "returned_to_110");
    let k = kinds(&d);
    let at = |kind: &str| k.iter().position(|x| x == kind).unwrap();
    assert!(
        at("diverted") < at("reopened") && at("reopened") < at("dispatched"),
        "{k:?}"
    );
    let reopened = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "reopened")
        .unwrap();
    assert_eq!(reopened["actor"], "partner:12345");
    assert!(
        reopened["detail"].as_str().unwrap().contains("煤气"),
        "{reopened}"
    );

    // A restart while 12345 works on a case: a new simulator and new partner
    // agencies (new port, secrets and keys) pick it up from the record, and
    // it is still resolved and closed.
    let lamp = app
        .place_call(
            "小区门口的路灯坏了好几天了，晚上路过很不安全，希望尽快修好",
            app.road_point(4),
            "non_police.utilities",
        )
        .await;
    app.run_until(300, async |a: &PartnerApp| {
        let hs = a.state.store.incident_handoffs(lamp).await.unwrap();
        hs.first().is_some_and(|h| h.status == "accepted")
    })
    .await;
    let old = app.partners.clone();
    app.partners = PartnerSim::start(&app.state, &app.base, quiet())
        .await
        .unwrap();
    assert_ne!(app.partners.addr(), old.addr());
    assert_eq!(
        app.partners.pending(),
        1,
        "the accepted case is taken up again"
    );
    app.sim = Simulator::new(SimSettings {
        calls_per_day: 0.0,
        ..SimSettings::default()
    })
    .unwrap();
    app.sim.step(&app.app.state).await.unwrap();
    // (The new simulator also plays the officers still out on the gas call.)
    app.run_until(900, async |a: &PartnerApp| {
        a.state.store.get_incident(lamp).await.unwrap().status == "closed"
    })
    .await;
    let d = app.get(&format!("/api/v1/incidents/{lamp}")).await;
    assert_eq!(d["disposition"], "handled_by_partner");
    assert_eq!(d["handoffs"][0]["status"], "resolved");
    let lines = handoff_lines(&d);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].1.starts_with("12345 resolved: "), "{lines:?}");
    assert_eq!(app.partners.stats().feedback_sent, 1);
    // The old agencies' keys were revoked: their leftover feedback on the
    // case is refused and changes nothing.
    app.clock.0.fetch_add(2 * 3_600_000, Ordering::SeqCst);
    assert_eq!(old.run_due().await, 0);
    let st = old.stats();
    assert_eq!((st.feedback_sent, st.feedback_dropped), (4, 1), "{st:?}");
    let d = app.get(&format!("/api/v1/incidents/{lamp}")).await;
    assert_eq!(handoff_lines(&d).len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_city_life_hands_off_without_losing_anything() {
    let partners = PartnerSimSettings {
        seed: 3,
        reject_pct: 25,
        return_pct: 15,
        outages_per_hour: 4.0,
        outage_s: (20, 60),
        ..PartnerSimSettings::default()
    };
    let mut app = start_with_partners("partner-life", partners, 4_000.0).await;
    let mut steps = 0;
    // One simulated hour of generated calls.
    let total = app
        .run_until(400, async |_: &PartnerApp| {
            steps += 1;
            steps == 360
        })
        .await;
    assert!(total.diverted > 0 && total.joint > 0, "{total:?}");

    // Let deliveries already on the wire land (the clock stands still, so
    // nothing new falls due), then compare both sides.
    let mut last = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = (app.partners.stats(), app.partners.pending());
        if last == Some(now) {
            break;
        }
        last = Some(now);
    }
    let mut handoffs = Vec::new();
    let mut with_handoffs = 0;
    let mut partner_lines = 0;
    let mut id = 1;
    while let Some(row) = app.state.store.find_incident(id).await.unwrap() {
        let hs = app.state.store.incident_handoffs(id).await.unwrap();
        with_handoffs += usize::from(!hs.is_empty());
        if row.disposition.as_deref() == Some("handled_by_partner") {
            assert!(hs.iter().all(|h| h.status == "resolved"), "{hs:?}");
        }
        let timeline = app.state.store.incident_timeline(id).await.unwrap();
        partner_lines += timeline
            .iter()
            .filter(|t| t.entry.kind == "handoff" && t.entry.actor.starts_with("partner:"))
            .count();
        handoffs.extend(hs);
        id += 1;
    }
    assert_eq!(handoffs.len(), total.handoffs);
    assert_eq!(with_handoffs, total.diverted + total.joint);

    let st = app.partners.stats();
    eprintln!("one simulated hour: {total:?}; partners: {st:?}");
    let receipts = app.partners.receipts();
    let (mut delivered, mut failed) = (0, 0);
    for h in &handoffs {
        for (event, detail) in history(&app.state, h.id).await {
            match event.as_str() {
                "delivered" => delivered += 1,
                "failed" => {
                    assert_eq!(detail, "partner answered 503 Service Unavailable");
                    failed += 1;
                }
                _ => {}
            }
        }
        let got = receipts.iter().filter(|r| r.handoff_id == h.id).count();
        let sent = !matches!(h.status.as_str(), "queued" | "failed");
        assert_eq!(got, usize::from(sent), "{h:?}");
        if sent {
            let number = app
                .state
                .store
                .get_incident(h.incident_id)
                .await
                .unwrap()
                .number;
            let p = Partner::from_code(&h.partner).unwrap();
            assert_eq!(delivered_once(&app, &number, p).await.0.handoff_id, h.id);
        }
    }
    assert_eq!(
        (
            st.delivered,
            st.unavailable,
            st.bad_signature,
            st.duplicates
        ),
        (delivered, failed, 0, 0),
        "{st:?}"
    );
    assert_eq!(receipts.len(), delivered);
    assert_eq!(st.feedback_sent, partner_lines, "{st:?}");
    app.stop().await;
}
