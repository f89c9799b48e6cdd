//! HTTP NDJSON ingest benchmark for the early-warning service, on loopback.
//!
//! Starts the real server over a fresh SQLite store with 100 checkpoint
//! sensors and 10 000 single-plate watches, then
//! 1. posts NDJSON batches as fast as a few connections can (429/503 answers
//!    are retried after a pause, as a sensor gateway would) and prints the
//!    maximum accepted events/s, both at the HTTP edge and through to
//!    persisted raw events;
//! 2. posts at a fixed rate (default 50 000 events/s, 500-event batches,
//!    1 000 batches) with one newly watched plate per batch and prints the
//!    event → alert latency percentiles: from the moment the batch is handed
//!    to the HTTP client to the `alert.created` live broadcast, which the
//!    server sends only after the alert row is committed (stored and
//!    broadcast = visible). Raw events are written behind alerts, so this
//!    latency does not include storing the batch's raw events.
//!
//! Both phases go through the full edge: HTTP, sensor-key authentication,
//! NDJSON validation with per-line rejections, admission control and the
//! per-request audit record. The client runs in the same process (loopback),
//! so its CPU counts against the server's; request bodies are shared
//! `Bytes`, so retries and resends do not copy them. The machine load
//! (`/proc/loadavg`) is printed before and after: on a shared machine the
//! numbers mean little without it.
//!
//! `cargo run --release -p pingan-server --example alert_ingest -- [EVENTS] [BATCH] [RATE] [ROUNDS]`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use pingan_server::alerts::{IdentDto, TargetDto, TimeDto, WatchSpecDto};
use pingan_store::{NewApiKey, NewOrg, NewSensor, NewWatch};

const SENSORS: usize = 100;
const WATCHES: usize = 10_000;

fn watched_plate(i: usize) -> String {
    format!("川W{i:05}")
}

fn plate(rng: &mut u64) -> String {
    // xorshift: deterministic, no dependency.
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    format!("川A{:05}", *rng % 100_000)
}

fn batch(rng: &mut u64, n: usize, now: i64, extra: Option<&str>) -> Bytes {
    let mut s = String::with_capacity(n * 130);
    for i in 0..n {
        let p = match (i, extra) {
            (0, Some(x)) => x.to_string(),
            _ => plate(rng),
        };
        let sensor = (*rng as usize + i) % SENSORS;
        s.push_str(&format!(
            "{{\"sensor_id\":\"CP-{sensor:03}\",\"time\":{now},\"kind\":\"plate_read\",\"identifiers\":[{{\"kind\":\"plate\",\"value\":\"{p}\"}}]}}\n"
        ));
    }
    Bytes::from(s)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Posts until accepted; returns the status, the accepted count and how many
/// 429/503 answers were retried first.
async fn post(client: &reqwest::Client, url: &str, key: &str, body: Bytes) -> (u16, usize, usize) {
    let mut refused = 0;
    loop {
        let r = client
            .post(url)
            .bearer_auth(key)
            .header("content-type", "application/x-ndjson")
            .body(body.clone())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        if status == 503 || status == 429 {
            refused += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let v: serde_json::Value = r.json().await.expect("json body");
        return (
            status,
            v["accepted"].as_u64().unwrap_or(0) as usize,
            refused,
        );
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric argument"))
        .collect();
    let total = args.first().copied().unwrap_or(1_000_000);
    let batch_size = args.get(1).copied().unwrap_or(5_000);
    let rate = args.get(2).copied().unwrap_or(50_000);
    let rounds = args.get(3).copied().unwrap_or(1_000).min(WATCHES);
    println!("load average at start: {}", loadavg());

    let dir = std::env::temp_dir().join(format!("pingan-alert-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = pingan_store::Store::open(dir.join("pingan.db").to_str().unwrap()).await?;
    let now = pingan_server::system_clock().now().millis();
    let city = store
        .create_org(
            &NewOrg {
                parent_id: None,
                kind: "city".into(),
                code: "C".into(),
                name: "市局".into(),
                area: None,
            },
            now,
        )
        .await?;
    for i in 0..SENSORS {
        store
            .create_sensor(
                &NewSensor {
                    id: format!("CP-{i:03}"),
                    kind: "checkpoint".into(),
                    name: format!("卡口{i}"),
                    org_id: city.id,
                    position: Some((30.6 + i as f64 * 1e-3, 104.0)),
                },
                now,
            )
            .await?;
    }
    let secret = pingan_server::auth::new_secret(pingan_server::auth::API_KEY_PREFIX);
    store
        .create_api_key(
            &NewApiKey {
                name: "bench".into(),
                key_hash: pingan_server::auth::secret_hash(&secret),
                role: "sensor".into(),
                org_id: city.id,
                scopes: vec!["events:write".into()],
                expires_at: None,
                partner: None,
            },
            now,
        )
        .await?;
    for i in 0..WATCHES {
        let dto = WatchSpecDto {
            label: Some(format!("W{i}")),
            target: TargetDto::Identifiers {
                identifiers: vec![IdentDto {
                    kind: "plate".into(),
                    value: watched_plate(i),
                }],
            },
            scope: Default::default(),
            condition: Default::default(),
            active_from: Some(TimeDto::Millis(now - 60_000)),
            active_until: None,
            expires_at: Some(TimeDto::Millis(now + 86_400_000)),
            legal_basis: Some("bench".into()),
            case_ref: Some("BENCH".into()),
            owner: Some("bench".into()),
            priority: None,
            notify_orgs: vec![],
            notify_users: vec![],
        };
        store
            .create_watch(
                &NewWatch {
                    label: format!("W{i}"),
                    spec: serde_json::to_string(&dto)?,
                    legal_basis: "bench".into(),
                    case_ref: "BENCH".into(),
                    owner: "bench".into(),
                    org_path: city.path.clone(),
                    expires_at: now + 86_400_000,
                    created_by: "bench".into(),
                },
                now,
            )
            .await?;
    }
    let cfg = pingan_server::Config {
        data_dir: dir.clone(),
        body_limit_bytes: 64 * 1024 * 1024,
        ..Default::default()
    };
    let (router, state) = pingan_server::build(store, cfg, pingan_server::system_clock()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/api/v1/events", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let client = reqwest::Client::new();
    let secret = Arc::new(secret);

    // 1. Throughput.
    let conns = 4;
    let batches = total.div_ceil(batch_size);
    let mut bodies = Vec::with_capacity(batches);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let t_now = pingan_server::system_clock().now().millis();
    for _ in 0..batches {
        bodies.push(batch(&mut rng, batch_size, t_now, None));
    }
    let bodies = Arc::new(bodies);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (client, url, key, bodies) =
            (client.clone(), url.clone(), secret.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let (mut accepted, mut refused) = (0, 0);
            for b in bodies.iter().skip(c).step_by(conns) {
                let (_, a, r) = post(&client, &url, &key, b.clone()).await;
                accepted += a;
                refused += r;
            }
            (accepted, refused)
        }));
    }
    let (mut accepted, mut refused) = (0, 0);
    for t in tasks {
        let (a, r) = t.await?;
        accepted += a;
        refused += r;
    }
    let edge = started.elapsed();
    state.alerts.flush().await.map_err(|e| anyhow::anyhow!(e))?;
    let persisted = started.elapsed();
    let (stored, hits) = state.store.count_events().await?;
    println!(
        "max throughput: {accepted} events in batches of {batch_size} over {conns} connections: \
         {:.0} events/s accepted at the edge ({:.2} s, {refused} answers 429/503 retried), \
         {:.0} events/s through engine and store ({:.2} s); {stored} raw events stored, {hits} hits",
        accepted as f64 / edge.as_secs_f64(),
        edge.as_secs_f64(),
        accepted as f64 / persisted.as_secs_f64(),
        persisted.as_secs_f64()
    );

    // 2. Latency at a fixed rate: each batch carries one newly watched plate.
    let mut live = state.live.subscribe();
    let sent: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Default::default();
    // Submission → HTTP answer, to tell a slow edge from a slow alert path.
    let answered: Arc<std::sync::Mutex<Vec<f64>>> = Default::default();
    let small = 500usize;
    let period = Duration::from_secs_f64(small as f64 / rate as f64);
    let sender = {
        let (client, url, key, sent, answered) = (
            client.clone(),
            url.clone(),
            secret.clone(),
            sent.clone(),
            answered.clone(),
        );
        tokio::spawn(async move {
            let mut rng = 7u64;
            let mut tick = tokio::time::interval(period);
            for i in 0..rounds {
                tick.tick().await;
                let t = pingan_server::system_clock().now().millis();
                let body = batch(&mut rng, small, t, Some(&watched_plate(i)));
                let t0 = Instant::now();
                sent.lock().unwrap().insert(format!("W{i}"), t0);
                let (client, url, key, answered) =
                    (client.clone(), url.clone(), key.clone(), answered.clone());
                tokio::spawn(async move {
                    post(&client, &url, &key, body).await;
                    answered
                        .lock()
                        .unwrap()
                        .push(t0.elapsed().as_secs_f64() * 1e3);
                });
            }
        })
    };
    let mut lat = Vec::new();
    let deadline = Instant::now()
        + Duration::from_secs(60 + 2 * rounds as u64 * period.as_millis() as u64 / 1000);
    while lat.len() < rounds && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), live.recv()).await {
            Ok(Ok(ev)) if ev.name == "alert.created" => {
                let label = ev.data["label"].as_str().unwrap_or_default().to_string();
                if let Some(t0) = sent.lock().unwrap().remove(&label) {
                    lat.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => println!("live stream lagged: {e}"),
            Err(_) => break,
        }
    }
    sender.await?;
    lat.sort_by(f64::total_cmp);
    let mut http = answered.lock().unwrap().clone();
    http.sort_by(f64::total_cmp);
    println!(
        "latency at {rate} events/s ({small}-event batches): {} of {rounds} alerts, event→alert p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  HTTP answer (accepted and audited) p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(&http, 0.5),
        pct(&http, 0.9),
        pct(&http, 0.99),
        http.last().copied().unwrap_or(f64::NAN)
    );
    println!("load average at end: {}", loadavg());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
