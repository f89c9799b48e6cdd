//! Engine throughput and memory, printed as numbers.
//!
//! Setup: 2,000 fixed sensors plus drones; 1,000,000 single-plate sighting
//! watches; 10,000 per-person geofence watches (enter / exit / dwell circles);
//! 1,000 co-occurrence watches (half watched pairs, half "anyone with X",
//! city-wide, so every sensor keeps its recent-identifier buffer); 200
//! first-appearance area rules; spike counting on. Events are pre-generated:
//! 94 % unwatched plates, 4 % watched plates, 1 % co-occurrence targets,
//! 1 % geofenced people (drone detections with their own location).
//!
//! Measures single-core `process` throughput, `ingest` (tick + process, what
//! the server runs per event) throughput, and resident memory added by the
//! 1M watches (read from /proc/self/status, so it includes allocator overhead).
//!
//! Run: `cargo bench -p pingan-alert --bench engine` (`-- --quick` for a smaller run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use pingan_alert::spike::SplitMix64;
use pingan_alert::*;
use pingan_core::{LatLng, Timestamp};

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time of this thread in ns (the machine is shared, so wall time alone
/// would understate single-core throughput).
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

struct Timer {
    wall: Instant,
    cpu: Option<u64>,
}

impl Timer {
    fn start() -> Timer {
        Timer {
            wall: Instant::now(),
            cpu: cpu_ns(),
        }
    }

    /// `(wall seconds, cpu seconds)`.
    fn stop(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => wall,
        };
        (wall, cpu)
    }
}

fn plate(i: u64) -> Identifier {
    // Seven-character plates over a 34-symbol alphabet: realistic lengths.
    const A: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut s = String::from("川");
    let mut x = i;
    for _ in 0..6 {
        s.push(A[(x % A.len() as u64) as usize] as char);
        x /= A.len() as u64;
    }
    Identifier::new(IdentKind::Plate, &s).expect("valid plate")
}

fn card(i: u64) -> Identifier {
    Identifier::new(IdentKind::Card, &format!("SUP{i:07}")).expect("valid card")
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--bulk-memory") {
        bulk_memory(quick);
        return;
    }
    let n_watches: u64 = if quick { 100_000 } else { 1_000_000 };
    let n_fences: u64 = 10_000;
    let n_events: usize = if quick { 200_000 } else { 2_000_000 };
    let t0 = Timestamp::from_civil_utc(2026, 11, 2, 0, 0, 0);
    let centre = LatLng::new(30.65, 104.06).expect("valid");
    let mut rng = SplitMix64(1);

    let mut engine = Engine::new(EngineConfig {
        spike: Some(SpikeConfig::default()),
        ..EngineConfig::default()
    })
    .expect("valid config");
    let n_sensors = 2_000u64;
    let mut sensor_ids = Vec::new();
    for i in 0..n_sensors {
        let loc = centre.offset_m(
            (rng.next_f64() - 0.5) * 30_000.0,
            (rng.next_f64() - 0.5) * 30_000.0,
        );
        let id = format!("CP{i:05}");
        engine
            .register_sensor(
                SensorInfo {
                    id: id.clone(),
                    kind: SensorKind::Checkpoint,
                    location: Some(loc),
                    org_path: format!("/1/{}/{}/", i % 12, i % 200),
                },
                t0,
            )
            .expect("valid sensor");
        sensor_ids.push(id);
    }
    for i in 0..20 {
        engine
            .register_sensor(
                SensorInfo {
                    id: format!("UAV{i:02}"),
                    kind: SensorKind::Drone,
                    location: None,
                    org_path: format!("/1/{}/", i % 12),
                },
                t0,
            )
            .expect("valid sensor");
    }

    let base = |label: &str, target: Target, condition: Condition| WatchSpec {
        label: label.into(),
        target,
        scope: Scope::City,
        condition,
        active_from: t0,
        active_until: None,
        expires_at: t0.plus_secs(60 * 86_400),
        legal_basis: "公安机关办理刑事案件程序规定".into(),
        case_ref: "BENCH-0001".into(),
        owner: "u:bench".into(),
        priority: Priority::Normal,
        action: Action::default(),
    };

    let rss0 = rss_bytes();
    let t = Timer::start();
    for i in 0..n_watches {
        engine
            .add_watch(
                base(
                    "plate",
                    Target::Identifiers(vec![plate(i)]),
                    Condition::Sighting,
                ),
                t0,
            )
            .expect("valid watch");
    }
    let (_, add_secs) = t.stop();
    let rss1 = rss_bytes();

    let mut fence_centres = Vec::new();
    for i in 0..n_fences {
        let c = centre.offset_m(
            (rng.next_f64() - 0.5) * 30_000.0,
            (rng.next_f64() - 0.5) * 30_000.0,
        );
        fence_centres.push(c);
        let trigger = match i % 3 {
            0 => GeofenceTrigger::Enter,
            1 => GeofenceTrigger::Exit,
            _ => GeofenceTrigger::Dwell(Duration::from_secs(1800)),
        };
        engine
            .add_watch(
                base(
                    "zone",
                    Target::Identifiers(vec![card(i)]),
                    Condition::Geofence {
                        area: Polygon::circle(c, 300.0, 12),
                        trigger,
                    },
                ),
                t0,
            )
            .expect("valid watch");
    }
    for i in 0..1_000u64 {
        let companion = if i % 2 == 0 {
            Companion::Identifier(plate(50_000_000 + i))
        } else {
            Companion::Anyone
        };
        engine
            .add_watch(
                base(
                    "together",
                    Target::Identifiers(vec![plate(40_000_000 + i)]),
                    Condition::CoOccurrence {
                        companion,
                        within: Duration::from_secs(60),
                        times: 3,
                        window: Duration::from_secs(7 * 86_400),
                    },
                ),
                t0,
            )
            .expect("valid watch");
    }
    for i in 0..200u64 {
        let mut s = base(
            "stranger",
            Target::AnyIdentifier {
                kind: Some(IdentKind::Plate),
            },
            Condition::FirstAppearance {
                lookback: Duration::from_secs(86_400),
            },
        );
        s.scope = Scope::Area(Polygon::circle(fence_centres[i as usize * 7], 500.0, 16));
        engine.add_watch(s, t0).expect("valid watch");
    }

    // Pre-generate events so only matching is timed.
    let unwatched_pool: Vec<Identifier> = (0..200_000).map(|i| plate(10_000_000 + i)).collect();
    let mut events = Vec::with_capacity(n_events);
    for k in 0..n_events {
        let time = t0.plus_millis(3_600_000 + k as i64 * 5);
        let r = rng.next_u64() % 100;
        let sensor = &sensor_ids[(rng.next_u64() % n_sensors) as usize];
        let ev = match r {
            0..=93 => SensorEvent {
                sensor_id: sensor.clone(),
                time,
                kind: EventKind::PlateRead,
                identifiers: vec![
                    unwatched_pool[(rng.next_u64() % unwatched_pool.len() as u64) as usize].clone(),
                ],
                attributes: Default::default(),
                location: None,
            },
            94..=97 => SensorEvent {
                sensor_id: sensor.clone(),
                time,
                kind: EventKind::PlateRead,
                identifiers: vec![plate(rng.next_u64() % n_watches)],
                attributes: Default::default(),
                location: None,
            },
            98 => SensorEvent {
                sensor_id: sensor.clone(),
                time,
                kind: EventKind::PlateRead,
                identifiers: vec![
                    plate(40_000_000 + rng.next_u64() % 1_000),
                    plate(50_000_000 + rng.next_u64() % 1_000),
                ],
                attributes: Default::default(),
                location: None,
            },
            _ => {
                let who = rng.next_u64() % n_fences;
                let c = fence_centres[who as usize];
                let loc = c.offset_m(
                    (rng.next_f64() - 0.5) * 900.0,
                    (rng.next_f64() - 0.5) * 900.0,
                );
                SensorEvent {
                    sensor_id: format!("UAV{:02}", rng.next_u64() % 20),
                    time,
                    kind: EventKind::DroneDetection,
                    identifiers: vec![card(who)],
                    attributes: Default::default(),
                    location: Some(loc),
                }
            }
        };
        events.push(ev);
    }

    // Warm-up pass on a prefix (fills caches and rule state), then timed passes.
    let warm = n_events / 10;
    for ev in &events[..warm] {
        black_box(engine.process(ev, ev.time));
    }
    let t = Timer::start();
    let mut alerts = 0usize;
    for ev in &events[warm..] {
        alerts += black_box(engine.process(ev, ev.time)).len();
    }
    let (process_wall, process_cpu) = t.stop();
    let timed = (n_events - warm) as f64;

    // The same events again through `ingest` (tick + process), shifted in time.
    let shift = events.last().map_or(0, |e| e.time.millis() - t0.millis()) + 1;
    let mut effects = 0usize;
    let shifted: Vec<SensorEvent> = events[warm..]
        .iter()
        .map(|ev| {
            let mut e2 = ev.clone();
            e2.time = e2.time.plus_millis(shift);
            e2
        })
        .collect();
    let t = Timer::start();
    for ev in &shifted {
        effects += black_box(ingest(&mut engine, ev, ev.time)).len();
    }
    let (ingest_wall, ingest_cpu) = t.stop();

    println!(
        "pingan-alert engine bench ({})",
        if quick { "quick" } else { "full" }
    );
    println!(
        "  setup: {} sensors, {} sighting watches, {} geofences, 1000 co-occurrence, 200 area rules",
        n_sensors + 20,
        n_watches,
        n_fences
    );
    println!(
        "  add_watch: {:.0} watches/s ({:.2} s for {})",
        n_watches as f64 / add_secs,
        add_secs,
        n_watches
    );
    match (rss0, rss1) {
        (Some(a), Some(b)) => println!(
            "  memory: {:.1} MiB RSS for {} sighting watches = {:.0} bytes/watch",
            (b.saturating_sub(a)) as f64 / 1_048_576.0,
            n_watches,
            b.saturating_sub(a) as f64 / n_watches as f64
        ),
        _ => println!("  memory: /proc/self/status not available"),
    }
    println!(
        "  process: {:.0} events/s per CPU-second ({:.0} wall), {} events, {} alerts",
        timed / process_cpu,
        timed / process_wall,
        timed,
        alerts
    );
    println!(
        "  ingest (tick+process): {:.0} events/s per CPU-second ({:.0} wall), {} effects",
        timed / ingest_cpu,
        timed / ingest_wall,
        effects
    );
    // Wire parsing, as the HTTP edge does it for an NDJSON body.
    let body: String = shifted
        .iter()
        .take(200_000)
        .map(pingan_alert::wire::event_to_json)
        .collect::<Vec<_>>()
        .join("\n");
    let lines = body.lines().count();
    let t = Timer::start();
    let batch = parse_ndjson(&body, None, &ParseOptions::default(), &|id| {
        engine.has_sensor(id)
    });
    let (parse_wall, parse_cpu) = t.stop();
    assert_eq!(batch.events.len(), lines);
    println!(
        "  parse_ndjson: {:.0} lines per CPU-second ({:.0} wall), {:.1} MB body",
        lines as f64 / parse_cpu,
        lines as f64 / parse_wall,
        body.len() as f64 / 1e6
    );
    drop(batch);

    let st = engine.stats();
    println!(
        "  stats: events {} alerts {} suppressed {}",
        st.events, st.alerts, st.suppressed
    );
    drop(engine);
    // Measured in a fresh process: freed memory here would hide the growth.
    let mut args: Vec<String> = vec!["--bulk-memory".into()];
    if quick {
        args.push("--quick".into());
    }
    match std::env::current_exe().map(|exe| std::process::Command::new(exe).args(&args).output()) {
        Ok(Ok(out)) => print!("{}", String::from_utf8_lossy(&out.stdout)),
        _ => println!("  memory (bulk): could not start a child process"),
    }
}

/// The same number of identifiers as bulk lists (10 watches), the usual shape
/// of a stolen-vehicle or wanted-person list.
fn bulk_memory(quick: bool) {
    let n_watches: u64 = if quick { 100_000 } else { 1_000_000 };
    let t0 = Timestamp::from_civil_utc(2026, 11, 2, 0, 0, 0);
    let mut bulk = Engine::new(EngineConfig::default()).expect("valid config");
    let per = (n_watches / 10) as usize;
    let lists: Vec<Vec<Identifier>> = (0..10u64)
        .map(|w| (0..per as u64).map(|i| plate(w * per as u64 + i)).collect())
        .collect();
    let rss2 = rss_bytes();
    for list in lists {
        let spec = WatchSpec {
            label: "list".into(),
            target: Target::Identifiers(list),
            scope: Scope::City,
            condition: Condition::Sighting,
            active_from: t0,
            active_until: None,
            expires_at: t0.plus_secs(60 * 86_400),
            legal_basis: "公安机关办理刑事案件程序规定".into(),
            case_ref: "BENCH-0002".into(),
            owner: "u:bench".into(),
            priority: Priority::Normal,
            action: Action::default(),
        };
        bulk.add_watch(spec, t0).expect("valid watch");
    }
    if let (Some(a), Some(b)) = (rss2, rss_bytes()) {
        println!(
            "  memory: {:.1} MiB RSS for {} identifiers in 10 bulk watches = {:.0} bytes/identifier",
            b.saturating_sub(a) as f64 / 1_048_576.0,
            n_watches,
            b.saturating_sub(a) as f64 / n_watches as f64
        );
    }
    black_box(bulk.watch_count());
}
