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
    /// Open-loop phase: total offered round trips per second, one run each
    /// (comma-separated; `none` for no open-loop phase).
    #[arg(long, default_value = "50,100,200,400", value_parser = parse_rates)]
    rates: Rates,
    /// Length of each open-loop run, seconds.
    #[arg(long, default_value_t = 10.0)]
    rate_secs: f64,
    /// Seed of the demo city and the random points.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

const PASSWORD: &str = "pingan-bench";

/// Offered rates of the open-loop phase.
#[derive(Clone, Debug)]
pub(crate) struct Rates(Vec<f64>);

fn parse_rates(s: &str) -> Result<Rates, String> {
    if s.trim().is_empty() || s.trim() == "none" {
        return Ok(Rates(Vec::new()));
    }
    s.split(',')
        .map(|x| match x.trim().parse::<f64>() {
            Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
            _ => Err(format!(
                "{x:?} is not a positive number of round trips per second"
            )),
        })
        .collect::<Result<Vec<f64>, String>>()
        .map(Rates)
}

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
    let http = Http {
        client,
        base,
        token,
    };

    // 4a. Closed loop: every client starts its next round trip as soon as
    //     the last one ended.
    let points: Arc<Vec<LatLng>> =
        Arc::new((0..a.calls).map(|_| road_point(&mut rng, &city)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let meter = Meter::start();
    let mut tasks = Vec::with_capacity(a.clients);
    for _ in 0..a.clients {
        let (http, points, next) = (http.clone(), points.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = points.get(i) else {
                    break;
                };
                let t0 = Instant::now();
                out.push(cycle(&http, *p, i, t0).await);
            }
            out
        }));
    }
    let mut runs = Vec::with_capacity(a.calls);
    for t in tasks {
        runs.extend(t.await?);
    }
    let mut closed = Outcome::collect(runs, meter.stop());
    closed.settled = Some(settle(&state.store).await?);
    println!(
        "HTTP round trip POST /calls → GET recommendations → POST dispatch, {} clients on loopback, closed loop:",
        a.clients
    );
    closed.print(true);

    // 4b. Open loop: the same clients, each starting round trips at random
    //     (Poisson) times at a fixed total rate whether or not the server
    //     keeps up; a round trip's latency counts from its scheduled start, so
    //     time spent waiting behind a slow one is not hidden.
    let mut best_rate = None;
    let mut call_no = a.calls;
    for &rate in &a.rates.0 {
        let per_client = rate / a.clients as f64;
        let window = Duration::from_secs_f64(a.rate_secs);
        let meter = Meter::start();
        let origin = Instant::now();
        let mut tasks = Vec::with_capacity(a.clients);
        for c in 0..a.clients {
            // Each client's schedule and call points from its own stream.
            let mut crng = DemoRng::new(a.seed ^ ((c as u64 + 1) << 20) ^ rate.to_bits());
            let mut at = Duration::ZERO;
            let mut plan = Vec::new();
            loop {
                let gap = -(1.0 - crng.unit()).ln() / per_client;
                at += Duration::from_secs_f64(gap);
                if at >= window {
                    break;
                }
                plan.push((at, road_point(&mut crng, &city), call_no));
                call_no += 1;
            }
            let http = http.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(plan.len());
                for (at, p, i) in plan {
                    let due = origin + at;
                    tokio::time::sleep_until(due.into()).await;
                    out.push(cycle(&http, p, i, due).await);
                }
                out
            }));
        }
        let mut runs = Vec::new();
        for t in tasks {
            runs.extend(t.await?);
        }
        let mut o = Outcome::collect(runs, meter.stop());
        o.settled = Some(settle(&state.store).await?);
        println!(
            "HTTP round trip, {} clients on loopback, open loop at {rate} round trips/s offered for {} s:",
            a.clients, a.rate_secs
        );
        o.print(false);
        if o.errors.is_empty() && o.total.p99 < TARGET_P99 {
            best_rate = Some(rate);
        }
    }
    if !a.rates.0.is_empty() {
        match best_rate {
            Some(r) => println!(
                "highest offered rate with round-trip p99 < 20 ms under {} clients: {r} round trips/s",
                a.clients
            ),
            None => println!("no offered rate met round-trip p99 < 20 ms"),
        }
    }
    server.abort();
    state.store.close().await;
    if closed.done == 0 {
        bail!("no round trip completed");
    }
    Ok(())
}

const TARGET_P99: Duration = Duration::from_millis(20);

/// Waits until the work each round trip leaves behind is done (the ledger
/// feed has recorded every state change, no notification is due), so the
/// next phase starts clean and the CPU it took is counted with the phase.
async fn settle(store: &Store) -> anyhow::Result<Metered> {
    let meter = Meter::start();
    let limit = Instant::now() + Duration::from_secs(300);
    loop {
        let now = SystemClock.now().millis();
        let idle = store.ledger_feed_pending(1).await?.is_empty()
            && store.due_notifications(now, 1).await?.is_empty();
        if idle {
            return Ok(meter.stop());
        }
        if Instant::now() > limit {
            bail!("background work did not catch up within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The bench's HTTP client, server address and dispatcher token.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    base: String,
    token: Arc<str>,
}

/// Wall time, process CPU and load average around one phase.
struct Meter {
    started: Instant,
    cpu: Option<Duration>,
    load: Option<f64>,
}

struct Metered {
    wall: Duration,
    cpu: Option<Duration>,
    load_before: Option<f64>,
    load_after: Option<f64>,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            started: Instant::now(),
            cpu: process_cpu(),
            load: load_average(),
        }
    }

    fn stop(self) -> Metered {
        Metered {
            wall: self.started.elapsed(),
            cpu: match (self.cpu, process_cpu()) {
                (Some(b), Some(e)) => Some(e.saturating_sub(b)),
                _ => None,
            },
            load_before: self.load,
            load_after: load_average(),
        }
    }
}

/// The round trips of one phase, summarised.
struct Outcome {
    done: usize,
    requests: usize,
    total: Pct,
    posts: Pct,
    recs: Pct,
    dispatches: Pct,
    no_unit: usize,
    retries: usize,
    errors: Vec<String>,
    metered: Metered,
    /// The catch-up of background work after the phase.
    settled: Option<Metered>,
}

impl Outcome {
    fn collect(runs: Vec<Result<RoundTrip, String>>, metered: Metered) -> Outcome {
        let (mut totals, mut posts, mut recs, mut dispatches) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut no_unit, mut retries, mut requests, mut errors) = (0, 0, 0, Vec::new());
        for r in runs {
            match r {
                Ok(rt) => {
                    totals.push(rt.total);
                    posts.push(rt.post_call);
                    recs.push(rt.recommend);
                    requests += rt.requests;
                    match rt.dispatch {
                        Some(d) => dispatches.push(d),
                        None => no_unit += 1,
                    }
                    retries += rt.retries;
                }
                Err(e) => errors.push(e),
            }
        }
        Outcome {
            done: totals.len(),
            requests,
            total: pct(totals),
            posts: pct(posts),
            recs: pct(recs),
            dispatches: pct(dispatches),
            no_unit,
            retries,
            errors,
            metered,
            settled: None,
        }
    }

    fn print(&self, closed: bool) {
        let m = &self.metered;
        let wall = m.wall.as_secs_f64();
        println!(
            "  {} round trips in {wall:.2} s = {:.1} round trips/s ({:.1} requests/s, with each dispatched unit released after its round trip)",
            self.done,
            self.done as f64 / wall,
            self.requests as f64 / wall,
        );
        // Server and clients share this process: CPU per round trip covers
        // both ends (HTTP client, server, SQLite), as the machine pays for them.
        if let Some(cpu) = m.cpu.filter(|_| self.done > 0) {
            println!(
                "  process CPU {:.2} s over {wall:.2} s wall = {:.2} ms CPU per round trip ({:.2} cores busy)",
                cpu.as_secs_f64(),
                ms(cpu) / self.done as f64,
                cpu.as_secs_f64() / wall
            );
        }
        if let Some(st) = &self.settled
            && self.done > 0
        {
            let all = m.cpu.unwrap_or_default() + st.cpu.unwrap_or_default();
            println!(
                "  background work (ledger feed, notifications) caught up {:.2} s after the last round trip, using {:.2} s CPU: {:.2} ms CPU per round trip in all",
                st.wall.as_secs_f64(),
                st.cpu.unwrap_or_default().as_secs_f64(),
                ms(all) / self.done as f64
            );
        }
        if let (Some(b), Some(e)) = (m.load_before, m.load_after) {
            println!(
                "  load average (1 min) before {b:.2}, after {e:.2} (other work on the machine)"
            );
        }
        print_pct(
            if closed {
                "  round trip"
            } else {
                "  round trip (from its scheduled start)"
            },
            &self.total,
        );
        print_pct("  POST /calls", &self.posts);
        print_pct("  GET recommendations", &self.recs);
        print_pct("  POST dispatch", &self.dispatches);
        println!(
            "  {} calls found no free unit, {} dispatches retried the next unit after a 409, {} errors; target p99 < 20 ms: {}",
            self.no_unit,
            self.retries,
            self.errors.len(),
            if self.total.p99 < TARGET_P99 {
                "met"
            } else {
                "NOT met"
            }
        );
        if let Some(e) = self.errors.first() {
            println!("  first error: {e}");
        }
    }
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
    /// HTTP requests sent, the unmeasured release included.
    requests: usize,
}

async fn send(rb: reqwest::RequestBuilder, what: &str) -> Result<(u16, Value), String> {
    let resp = rb.send().await.map_err(|e| format!("{what}: {e}"))?;
    let st = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    Ok((st, v))
}

/// One dispatcher's cycle, timed from `start` (its scheduled time in the open
/// loop): the measured round trip, then the dispatched unit reports the
/// dispatch cancelled (available again), so units do not run out however
/// long the bench runs. A 409 on dispatch (another client took the unit)
/// moves on to the next recommended unit, as a dispatcher would.
async fn cycle(http: &Http, p: LatLng, i: usize, start: Instant) -> Result<RoundTrip, String> {
    let Http {
        client,
        base,
        token,
    } = http;
    let token: &str = token;
    let body = json!({
        "channel": "110",
        "caller_phone": format!("139{:08}", i % 100_000_000),
        "description": "有人在路口打架，请快来",
        "location": {"lat": p.lat(), "lng": p.lng()},
    });
    let t0 = Instant::now();
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
    let mut sent = None;
    let mut requests = 2;
    for u in units {
        requests += 1;
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
                sent = Some(u);
                break;
            }
            409 => retries += 1,
            _ => return Err(format!("POST dispatch answered {st}: {v}")),
        }
    }
    let total = start.elapsed();
    if let Some(u) = sent {
        requests += 1;
        let (st, v) = send(
            client
                .post(format!("{base}/api/v1/units/{u}/status"))
                .bearer_auth(token)
                .json(&json!({"status": "available"})),
            "POST unit status",
        )
        .await?;
        if st != 200 {
            return Err(format!("releasing unit {u} answered {st}: {v}"));
        }
    }
    Ok(RoundTrip {
        total,
        post_call,
        recommend,
        dispatch,
        retries,
        requests,
    })
}
