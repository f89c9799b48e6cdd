//! `pingan bench dispatch`: the dispatch benchmarks of issue 4, printed.
//!
//! 1. Road graph: import and contraction-hierarchy preprocessing time of the
//!    demo city, memory of the graph and the hierarchy (bytes), and the latency
//!    of point-to-point routing queries between pre-snapped random road points.
//! 2. Recommendation: the server's `recommend_for` (the code behind
//!    `GET /incidents/{id}/recommendations`) among `--units` positioned units.
//! 3. HTTP round trip on loopback: a real server in-process on 127.0.0.1:0
//!    over a fresh temp SQLite store; `--clients` concurrent clients each run
//!    `POST /calls` → `GET /incidents/{id}/recommendations` →
//!    `POST /incidents/{id}/dispatch` until `--calls` round trips are done.
//!    Closed loop: each client starts its next round trip when the last one
//!    ends, with the dispatcher's bearer token on every request. Prints
//!    throughput, p50/p99 per request and per round trip, the process's CPU
//!    time per round trip (server and clients together) and the load average,
//!    since the machine is shared.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use pingan_core::{Clock, LatLng, SystemClock};
use pingan_dispatch::{EscalationPolicy, Priority};
use pingan_server::Config;
use pingan_server::demo::{CityMap, DemoOptions, DemoRng};
use pingan_store::{NewUnit, Store};
use serde_json::{Value, json};

#[derive(Args)]
pub(crate) struct BenchDispatchArgs {
    /// Point-to-point routing queries.
    #[arg(long, default_value_t = 10_000)]
    queries: usize,
    /// Units with positions (the demo city's ~530, topped up with patrol cars).
    #[arg(long, default_value_t = 2_000)]
    units: usize,
    /// Recommendation queries.
    #[arg(long, default_value_t = 2_000)]
    recommendations: usize,
    /// HTTP round trips (each: POST /calls, GET recommendations, POST dispatch).
    #[arg(long, default_value_t = 1_000)]
    calls: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Seed of the demo city and the random points.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

const PASSWORD: &str = "pingan-bench";

/// Latency percentiles of a sample set.
struct Pct {
    n: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn pct(mut v: Vec<Duration>) -> Pct {
    v.sort_unstable();
    let at = |p: f64| {
        v.get(((v.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Pct {
        n: v.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: v.last().copied().unwrap_or_default(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_pct(name: &str, p: &Pct) {
    println!(
        "{name}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        p.n,
        ms(p.p50),
        ms(p.p99),
        ms(p.max)
    );
}

/// A random point on a road of the city.
fn road_point(rng: &mut DemoRng, city: &CityMap) -> LatLng {
    let b = city.bbox;
    let p = LatLng::new(
        b.min_lat + rng.unit() * (b.max_lat - b.min_lat),
        b.min_lng + rng.unit() * (b.max_lng - b.min_lng),
    )
    .unwrap_or_else(|_| b.center());
    city.router.snap(p).point()
}

pub(crate) async fn run(a: BenchDispatchArgs) -> anyhow::Result<()> {
    if a.clients == 0 || a.calls == 0 || a.queries == 0 || a.recommendations == 0 {
        bail!("--clients, --calls, --queries and --recommendations must be positive");
    }
    let dir = std::env::temp_dir().join(format!("pingan-bench-dispatch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let r = bench(&a, dir.clone()).await;
    let _ = std::fs::remove_dir_all(&dir);
    r
}

async fn bench(a: &BenchDispatchArgs, dir: PathBuf) -> anyhow::Result<()> {
    let mut rng = DemoRng::new(a.seed);

    // 1. Road graph.
    let osm = pingan_server::demo::default_osm(&dir, a.seed)?;
    let osm2 = osm.clone();
    let (city, import_t, prep_t) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let graph = pingan_roads::graph_from_file(&osm2)?;
        let import_t = t.elapsed();
        let t = Instant::now();
        let router = pingan_roads::Router::new(graph);
        let prep_t = t.elapsed();
        anyhow::Ok((CityMap::from_router(router, &osm2), import_t, prep_t))
    })
    .await??;
    let g = city.router.graph();
    let stats = g.stats();
    println!(
        "road graph (demo city, seed {}): {} nodes, {} segments, {} arcs",
        a.seed, stats.nodes, stats.segments, stats.arcs
    );
    println!(
        "graph import: {:.1} ms; contraction-hierarchy preprocessing: {:.1} ms",
        ms(import_t),
        ms(prep_t)
    );
    println!(
        "memory: graph {} bytes + hierarchy {} bytes = {} bytes",
        g.byte_size(),
        city.router.ch_byte_size(),
        g.byte_size() + city.router.ch_byte_size()
    );
    let pairs: Vec<_> = (0..a.queries)
        .map(|_| {
            let p = road_point(&mut rng, &city);
            let q = road_point(&mut rng, &city);
            (city.router.snap(p), city.router.snap(q))
        })
        .collect();
    let mut samples = Vec::with_capacity(pairs.len());
    let mut unreachable = 0;
    for (p, q) in &pairs {
        let t = Instant::now();
        let eta = std::hint::black_box(city.router.eta(p, q));
        samples.push(t.elapsed());
        unreachable += usize::from(eta.is_none());
    }
    print_pct("routing query (snapped point to point)", &pct(samples));
    if unreachable > 0 {
        println!("  ({unreachable} pairs unreachable)");
    }

    // 2. Store, demo city and extra units; the real server in-process.
    let store = Store::open(dir.join("bench.db").to_str().context("temp dir path")?).await?;
    let now = SystemClock.now().millis();
    let opts = DemoOptions {
        seed: a.seed,
        password: PASSWORD.into(),
        osm: None,
    };
    pingan_server::demo::build_city(&store, &city, &opts, now).await?;
    let have = store.all_units().await?.len();
    let stations: Vec<i64> = store
        .all_orgs()
        .await?
        .into_iter()
        .filter(|o| o.kind == "station")
        .map(|o| o.id)
        .collect();
    if a.units > have && !stations.is_empty() {
        let extra: Vec<NewUnit> = (0..a.units - have)
            .map(|i| {
                let p = road_point(&mut rng, &city);
                NewUnit {
                    callsign: format!("测试巡{}", i + 1),
                    kind: "patrol_car".into(),
                    org_id: stations[i % stations.len()],
                    status: "available".into(),
                    capabilities: ["patrol", "traffic", "armed", "transport"]
                        .map(String::from)
                        .to_vec(),
                    position: Some((p.lat(), p.lng())),
                }
            })
            .collect();
        store.create_units_bulk(&extra, now).await?;
    }
    let cfg = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    let (router, state) =
        pingan_server::build(store.clone(), cfg, pingan_server::system_clock()).await?;
    *state
        .city
        .write()
        .map_err(|_| anyhow::anyhow!("city lock poisoned"))? = Some(Arc::new(city));
    // Nobody acknowledges in a benchmark: keep escalation out of the numbers.
    state.dispatch.set_escalation_policy(EscalationPolicy {
        ack_timeout_s: 24 * 3600,
        ..EscalationPolicy::default()
    });
    state
        .dispatch
        .reload_units(&state)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let city = state.city().context("city")?;
    let positioned = state
        .dispatch
        .units()
        .iter()
        .filter(|u| u.position.is_some())
        .count();

    // 3. Recommendation among the positioned units.
    let tax = state.dispatch.taxonomy();
    let types: Vec<String> = tax
        .leaves()
        .filter(|t| t.police_response())
        .map(|t| t.code().to_string())
        .collect();
    let mut samples = Vec::with_capacity(a.recommendations);
    let mut found = 0usize;
    for i in 0..a.recommendations {
        let p = road_point(&mut rng, &city);
        let ty = &types[i % types.len()];
        let t = Instant::now();
        let recs = pingan_server::api::incidents::recommend_for(&state, p, ty, Priority::P2, 5)
            .map_err(|e| anyhow::anyhow!(e.message))?;
        samples.push(t.elapsed());
        found += recs.len();
    }
    let p = pct(samples);
    print_pct(
        &format!("recommendation among {positioned} positioned units (top 5 by road ETA)"),
        &p,
    );
    println!(
        "  mean {:.1} units recommended; target p99 < 5 ms: {}",
        found as f64 / a.recommendations as f64,
        if p.p99 < Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        }
    );

    // 4. HTTP round trips under concurrency.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = pingan_server::serve(
            listener,
            router,
            std::future::pending(),
            Duration::from_secs(1),
        )
        .await;
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients)
        .build()?;
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "dispatcher", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token: Arc<str> = login["token"]
        .as_str()
        .context("login answered without a token")?
        .into();
    let points: Arc<Vec<LatLng>> =
        Arc::new((0..a.calls).map(|_| road_point(&mut rng, &city)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let load_before = load_average();
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(a.clients);
    for _ in 0..a.clients {
        let (client, base, token, points, next) = (
            client.clone(),
            base.clone(),
            token.clone(),
            points.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = points.get(i) else {
                    break;
                };
                out.push(round_trip(&client, &base, &token, *p, i).await);
            }
            out
        }));
    }
    let mut totals = Vec::with_capacity(a.calls);
    let (mut posts, mut recs, mut dispatches) = (Vec::new(), Vec::new(), Vec::new());
    let (mut no_unit, mut retries, mut errors) = (0usize, 0usize, Vec::new());
    for t in tasks {
        for r in t.await? {
            match r {
                Ok(rt) => {
                    totals.push(rt.total);
                    posts.push(rt.post_call);
                    recs.push(rt.recommend);
                    if let Some(d) = rt.dispatch {
                        dispatches.push(d);
                    } else {
                        no_unit += 1;
                    }
                    retries += rt.retries;
                }
                Err(e) => errors.push(e),
            }
        }
    }
    let wall = started.elapsed();
    let cpu = match (cpu_before, process_cpu()) {
        (Some(b), Some(e)) => Some(e.saturating_sub(b)),
        _ => None,
    };
    server.abort();
    state.store.close().await;
    let done = totals.len();
    println!(
        "HTTP round trip POST /calls → GET recommendations → POST dispatch, {} clients on loopback:",
        a.clients
    );
    println!(
        "  {done} round trips in {:.2} s = {:.1} round trips/s ({:.1} requests/s)",
        wall.as_secs_f64(),
        done as f64 / wall.as_secs_f64(),
        (posts.len() + recs.len() + dispatches.len() + retries) as f64 / wall.as_secs_f64()
    );
    // Server and clients share this process: CPU per round trip covers both
    // ends (HTTP client, server, SQLite), as the machine pays for them.
    if let Some(cpu) = cpu.filter(|_| done > 0) {
        println!(
            "  process CPU {:.2} s over {:.2} s wall = {:.2} ms CPU per round trip ({:.2} cores busy)",
            cpu.as_secs_f64(),
            wall.as_secs_f64(),
            ms(cpu) / done as f64,
            cpu.as_secs_f64() / wall.as_secs_f64()
        );
    }
    if let (Some(b), Some(e)) = (load_before, load_average()) {
        println!("  load average (1 min) before {b:.2}, after {e:.2} (other work on the machine)");
    }
    let total = pct(totals);
    print_pct("  round trip", &total);
    print_pct("  POST /calls", &pct(posts));
    print_pct("  GET recommendations", &pct(recs));
    print_pct("  POST dispatch", &pct(dispatches));
    println!(
        "  {no_unit} calls found no free unit, {retries} dispatches retried the next unit after a 409, {} errors; target p99 < 20 ms: {}",
        errors.len(),
        if total.p99 < Duration::from_millis(20) {
            "met"
        } else {
            "NOT met"
        }
    );
    if let Some(e) = errors.first() {
        println!("  first error: {e}");
    }
    if done == 0 {
        bail!("no round trip completed");
    }
    Ok(())
}

/// User plus system CPU time of this process so far (Linux `/proc`).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The 1-minute load average (Linux `/proc`).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct RoundTrip {
    total: Duration,
    post_call: Duration,
    recommend: Duration,
    dispatch: Option<Duration>,
    retries: usize,
}

async fn send(rb: reqwest::RequestBuilder, what: &str) -> Result<(u16, Value), String> {
    let resp = rb.send().await.map_err(|e| format!("{what}: {e}"))?;
    let st = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    Ok((st, v))
}

/// One dispatcher's cycle; a 409 on dispatch (another client took the unit)
/// moves on to the next recommended unit, as a dispatcher would.
async fn round_trip(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    p: LatLng,
    i: usize,
) -> Result<RoundTrip, String> {
    let t0 = Instant::now();
    let body = json!({
        "channel": "110",
        "caller_phone": format!("139{:08}", i),
        "description": "有人在路口打架，请快来",
        "location": {"lat": p.lat(), "lng": p.lng()},
    });
    let (st, v) = send(
        client
            .post(format!("{base}/api/v1/calls"))
            .bearer_auth(token)
            .json(&body),
        "POST /calls",
    )
    .await?;
    if st != 201 {
        return Err(format!("POST /calls answered {st}: {v}"));
    }
    let post_call = t0.elapsed();
    let id = v["incident"]["id"].as_i64().ok_or("no incident id")?;
    let t1 = Instant::now();
    let (st, v) = send(
        client
            .get(format!("{base}/api/v1/incidents/{id}/recommendations"))
            .bearer_auth(token),
        "GET recommendations",
    )
    .await?;
    if st != 200 {
        return Err(format!("GET recommendations answered {st}: {v}"));
    }
    let recommend = t1.elapsed();
    let units: Vec<i64> = v["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["unit_id"].as_i64()).collect())
        .unwrap_or_default();
    let t2 = Instant::now();
    let mut dispatch = None;
    let mut retries = 0;
    for u in units {
        let (st, v) = send(
            client
                .post(format!("{base}/api/v1/incidents/{id}/dispatch"))
                .bearer_auth(token)
                .json(&json!({"unit_ids": [u]})),
            "POST dispatch",
        )
        .await?;
        match st {
            200 => {
                dispatch = Some(t2.elapsed());
                break;
            }
            409 => retries += 1,
            _ => return Err(format!("POST dispatch answered {st}: {v}")),
        }
    }
    Ok(RoundTrip {
        total: t0.elapsed(),
        post_call,
        recommend,
        dispatch,
        retries,
    })
}
