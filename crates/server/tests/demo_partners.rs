//! The demo's partner agencies end to end: the simulator, stepped on a manual
//! clock over the demo city with the partner simulator's receivers on
//! loopback, diverts a non-police call to 12345 and a fire with injuries to
//! 119 and 120 (police units go too); the receivers verify each delivery's
//! signature, refuse forged ones, ride out an outage through the platform's
//! durable retry, and report back through the feedback API onto the
//! incident's timeline; 12345 sends an urgent case back to 110 and police go.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::PASSWORD;
use pingan_core::{Clock, LatLng, Timestamp};
use pingan_dispatch::diversion::{self, HandoffPayload};
use pingan_dispatch::{Channel, Partner, Priority, SimCall};
use pingan_server::AppState;
use pingan_server::demo::{CityMap, DemoOptions};
use pingan_server::partner_sim::{PartnerSim, PartnerSimSettings, PartnerStats};
use pingan_server::sim::{SimSettings, Simulator, StepReport};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A clock the test moves by hand.
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

struct App {
    base: String,
    client: reqwest::Client,
    state: AppState,
    clock: Arc<ManualClock>,
    partners: Arc<PartnerSim>,
    sim: Simulator,
    token: String,
    dir: PathBuf,
}

/// The demo city served on 127.0.0.1:0 on a manual clock, with the partner
/// agencies as `partners` says and a simulator generating `calls_per_day`.
async fn start(tag: &str, partners: PartnerSimSettings, calls_per_day: f64) -> App {
    let dir =
        std::env::temp_dir().join(format!("pingan-test-partners-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // 10:00 Beijing time.
    let clock = Arc::new(ManualClock(AtomicI64::new(
        Timestamp::from_civil_utc(2026, 11, 24, 2, 0, 0).millis(),
    )));
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("roads-cache");
    let city = {
        // One test prepares the street network's cache; the other loads it.
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
    let cfg = pingan_server::Config {
        data_dir: dir.clone(),
        ..Default::default()
    };
    let (router, state) = pingan_server::build(store, cfg, clock.clone())
        .await
        .unwrap();
    *state.city.write().unwrap() = Some(Arc::new(city));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let partners = PartnerSim::start(&state, &base, partners).await.unwrap();
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "dispatcher", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut sim = Simulator::new(SimSettings {
        seed: 5,
        calls_per_day,
        dispatch_delay_s: (10, 20),
        ack_delay_s: (5, 10),
        ..SimSettings::default()
    })
    .unwrap();
    // The first step starts the simulator's clock.
    sim.step(&state).await.unwrap();
    App {
        base,
        client,
        state,
        clock,
        partners,
        sim,
        token: login["token"].as_str().unwrap().to_string(),
        dir,
    }
}

impl App {
    async fn get(&self, path: &str) -> Value {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
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
    async fn call(&mut self, description: &str, at: LatLng, truth: &str) -> i64 {
        let c = SimCall {
            at: self.clock.now(),
            channel: Channel::Tel110,
            caller_phone: "13912345678".into(),
            description: description.into(),
            point: at,
            true_type: truth.into(),
            true_priority: Priority::P3,
        };
        let id = self.sim.add_call(&self.state, &c).await.unwrap();
        let row = self.state.store.get_incident(id).await.unwrap();
        assert_eq!(row.type_code.as_deref(), Some(truth), "{description}");
        id
    }

    /// Moves the city on in 10-second steps (simulator, partners' feedback,
    /// the outbox woken so deliveries follow the manual clock) until `done`
    /// holds or `max_steps` have passed; returns the summed step reports.
    async fn run_until<F>(&mut self, max_steps: usize, mut done: F) -> StepReport
    where
        F: AsyncFnMut(&App) -> bool,
    {
        let mut total = StepReport::default();
        for _ in 0..max_steps {
            self.clock.0.fetch_add(10_000, Ordering::SeqCst);
            let r = self.sim.step(&self.state).await.unwrap();
            total.calls += r.calls;
            total.diverted += r.diverted;
            total.joint += r.joint;
            total.handoffs += r.handoffs;
            total.taken_back += r.taken_back;
            total.dispatched += r.dispatched;
            total.closed += r.closed;
            self.partners.run_due().await;
            self.state.dispatch.wake_outbox();
            // Real time for the outbox's HTTP round trip to the receiver.
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
            if done(&*self).await {
                return total;
            }
        }
        panic!("not done after {max_steps} steps: {total:?}");
    }

    async fn stop(self) {
        self.state.store.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
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
    let mut app = start("flow", quiet(), 0.0).await;
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
        .call(
            "小区停水两天了，一直没人来修，家里老人孩子都没水用",
            app.road_point(0),
            "non_police.utilities",
        )
        .await;
    let fire = app
        .call(
            "三楼着火了，有人受伤，还有人被困在里面",
            app.road_point(1),
            "fire",
        )
        .await;
    let total = app
        .run_until(900, async |a: &App| {
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
    let got: Vec<_> = app
        .partners
        .receipts()
        .into_iter()
        .filter(|r| r.incident_number == number)
        .collect();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.partner, Partner::Hotline12345);
    assert_eq!(r.message_id, format!("{number}-12345"));
    assert_eq!(Some(r.handoff_id), hs[0]["id"].as_i64());
    let key = secret(&app.state, Partner::Hotline12345).await;
    diversion::verify(key.as_bytes(), &r.signature, &r.body, r.received_at, 300).unwrap();
    let payload: HandoffPayload = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(payload.recipient.id, "12345");
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
        let got: Vec<_> = app
            .partners
            .receipts()
            .into_iter()
            .filter(|r| r.incident_number == number && r.partner == p)
            .collect();
        assert_eq!(got.len(), 1, "{p:?}");
        let key = secret(&app.state, p).await;
        diversion::verify(
            key.as_bytes(),
            &got[0].signature,
            &got[0].body,
            got[0].received_at,
            300,
        )
        .unwrap();
        let payload: HandoffPayload = serde_json::from_slice(&got[0].body).unwrap();
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
async fn forged_deliveries_are_refused_and_an_outage_loses_nothing() {
    let mut app = start("outage", quiet(), 0.0).await;

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
        .call(
            "楼道里的路灯坏了一个多星期了，晚上黑漆漆的没人修",
            app.road_point(2),
            "non_police.utilities",
        )
        .await;
    let total = app
        .run_until(900, async |a: &App| {
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
    let got: Vec<_> = app
        .partners
        .receipts()
        .into_iter()
        .filter(|r| r.incident_number == number)
        .collect();
    assert_eq!(got.len(), 1, "delivered exactly once");
    let st = app.partners.stats();
    assert_eq!(
        (st.unavailable, st.delivered, st.duplicates, st.outages),
        (failed.len(), 1, 0, 1)
    );

    // 12345 sends an urgent case straight back to 110: the platform reopens
    // it and the simulated dispatcher sends police.
    let gas = app
        .call(
            "家里钥匙丢了进不去门，屋里好像有煤气味",
            app.road_point(3),
            "non_police.locked_out",
        )
        .await;
    let total = app
        .run_until(300, async |a: &App| {
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
    let mut app = start("life", partners, 4_000.0).await;
    let mut steps = 0;
    // One simulated hour of generated calls.
    let total = app
        .run_until(400, async |_: &App| {
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
        let got: Vec<_> = receipts.iter().filter(|r| r.handoff_id == h.id).collect();
        let sent = !matches!(h.status.as_str(), "queued" | "failed");
        assert_eq!(got.len(), usize::from(sent), "{h:?}");
        if let Some(r) = got.first() {
            assert_eq!(r.partner.code(), h.partner);
            let key = secret(&app.state, r.partner).await;
            diversion::verify(key.as_bytes(), &r.signature, &r.body, r.received_at, 300).unwrap();
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
