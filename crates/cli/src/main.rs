//! The `pingan` binary: a thin shell that parses the command line, loads the
//! typed configuration and calls into the library crates.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use pingan_server::Config;
use pingan_server::demo::{CityMap, DemoOptions};
use pingan_store::Store;

/// mimalloc instead of glibc's malloc: the data hub's import and the
/// server's request path allocate heavily from several threads, where glibc's
/// arenas spent a fifth of the CPU (`pingan bench fusion` profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench_dispatch;
mod bench_fusion;
mod import;
mod source;

#[derive(Parser)]
#[command(name = "pingan", version, about = "平安 pingan — public-safety command and data-fusion platform", long_about = None)]
struct Cli {
    /// Configuration file (TOML). Settings can also come from PINGAN_* environment variables.
    #[arg(long, global = true, env = "PINGAN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and console server against a configured database.
    Serve(ServeArgs),
    /// Build (first run) and serve a complete demo city with logins for every role.
    Demo(DemoArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Organisation tree import/export (GeoJSON FeatureCollection).
    #[command(subcommand)]
    Org(OrgCmd),
    /// User administration.
    #[command(subcommand)]
    User(UserCmd),
    /// Verifiable case log: offline receipt verification, full audit, verifier key, benchmark.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    /// Replay an NDJSON sensor-event file through a fresh alert engine and print the alerts as NDJSON.
    Replay(ReplayArgs),
    /// Data hub sources (数据源): register a mapping TOML, list, show.
    #[command(subcommand)]
    Source(source::SourceCmd),
    /// Import files for a registered source through the data hub's ingest pipeline (resumable).
    Import(import::ImportArgs),
    /// Benchmarks that print their numbers.
    #[command(subcommand)]
    Bench(BenchCmd),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Data hub end to end: import+normalise+resolve+index rate, peak RSS, search p50/p99, precision/recall/F1.
    Fusion(bench_fusion::BenchFusionArgs),
    /// Dispatch: routing p50/p99, graph preprocessing time and memory, recommendation among 2,000 units, loopback HTTP round trips under 200 clients.
    Dispatch(bench_dispatch::BenchDispatchArgs),
}

#[derive(Args)]
struct ReplayArgs {
    /// NDJSON event file (the `POST /api/v1/events` wire format).
    file: PathBuf,
    /// Watches as served by `GET /api/v1/watches` (a JSON array, or the page with `items`).
    #[arg(long)]
    watches: Option<PathBuf>,
    /// Sensors as served by `GET /api/v1/sensors` (a JSON array, or the page with `items`).
    #[arg(long)]
    sensors: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Data directory holding the SQLite database (must exist; `serve` and `demo`
    /// create one) [default: PINGAN_DATA_DIR / `data_dir`, else ./pingan-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL (postgres://… or sqlite://…, created if missing) instead of
    /// SQLite in the data dir [default: PINGAN_DATABASE / `database`].
    #[arg(long)]
    database: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Listen address, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
    /// OpenStreetMap extract (PBF or XML) with the city's streets, for routing and the base map.
    #[arg(long)]
    osm: Option<PathBuf>,
}

#[derive(Args)]
struct DemoArgs {
    /// Port to listen on [default: the port of PINGAN_LISTEN / `listen`, else 8080];
    /// the host comes from there too (default 127.0.0.1).
    #[arg(long)]
    port: Option<u16>,
    /// Data directory; created if missing, reused if it already holds a demo city
    /// [default: PINGAN_DATA_DIR / `data_dir`, else ./pingan-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Password of every demo login (first run only) [default: pingan-demo].
    #[arg(long, env = "PINGAN_DEMO_PASSWORD")]
    demo_password: Option<String>,
    /// Seed of the generated city, same seed → same city (first run only)
    /// [default: `demo.seed` in the config file, else 2026].
    #[arg(long)]
    seed: Option<u64>,
    /// Run the demo on this OpenStreetMap extract (PBF or XML) instead of the generated city.
    #[arg(long)]
    osm: Option<PathBuf>,
    /// Database URL instead of SQLite in the data dir (postgres://…).
    #[arg(long)]
    database: Option<String>,
    /// Synthetic residents generated on the city's streets and imported from five
    /// departmental sources through the data hub's ingest pipeline (first run only).
    #[arg(long, default_value_t = 2000)]
    people: u64,
    /// Simulated calls per day, the demo's city life: calls, dispatch, units moving
    /// [default: PINGAN_DEMO_CALLS_PER_DAY / `demo.calls_per_day`, else 1500].
    #[arg(long)]
    calls_per_day: Option<f64>,
    /// Serve the demo city without simulated city life [default: simulate unless
    /// PINGAN_DEMO_SIMULATE / `demo.simulate` says false].
    #[arg(long)]
    no_simulate: bool,
}

/// The demo's password when neither the flag nor PINGAN_DEMO_PASSWORD gives one.
const DEFAULT_DEMO_PASSWORD: &str = "pingan-demo";

/// The demo's configuration: explicit flags win over the environment and the
/// config file, which win over the demo's defaults. Those differ from `serve`'s
/// in one place: the city is alive (`demo.simulate`) unless something said no.
fn demo_config(
    mut cfg: Config,
    explicit: &pingan_server::config::ExplicitSettings,
    a: &DemoArgs,
) -> anyhow::Result<Config> {
    if let Some(d) = &a.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(db) = &a.database {
        cfg.database = Some(db.clone());
    }
    if let Some(port) = a.port {
        let mut addr: std::net::SocketAddr = cfg
            .listen
            .parse()
            .with_context(|| format!("listen address {:?}", cfg.listen))?;
        addr.set_port(port);
        cfg.listen = addr.to_string();
    }
    if let Some(seed) = a.seed {
        cfg.demo.seed = seed;
    }
    if let Some(c) = a.calls_per_day {
        cfg.demo.calls_per_day = c;
    }
    cfg.demo.simulate = if a.no_simulate {
        false
    } else if explicit.contains("demo.simulate") {
        cfg.demo.simulate
    } else {
        true
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Binds the listen address before any slow start-up work, so a taken port
/// fails at once and names the address.
async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Re-walk the audit hash chain; exits non-zero and names the first broken record if tampered.
    Verify(StoreArgs),
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Create or update org nodes from a GeoJSON FeatureCollection (properties code, name, kind, parent_code).
    Import {
        /// The GeoJSON FeatureCollection file; features may come in any order.
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print the org tree with areas as a GeoJSON FeatureCollection.
    Export {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user (e.g. the first admin of a new deployment).
    Add {
        /// Login name: 2–64 letters, digits, '_', '-' or '.' (as in the API).
        #[arg(long)]
        username: String,
        /// Name shown in the console and the audit log (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// admin, commander, dispatcher, station_officer, analyst, auditor.
        #[arg(long)]
        role: String,
        /// Code of the org node the user belongs to.
        #[arg(long)]
        org_code: String,
        /// Password (at least 8 characters); or set PINGAN_NEW_PASSWORD.
        #[arg(long, env = "PINGAN_NEW_PASSWORD")]
        password: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn main() {
    let cli = Cli::parse();
    // A mistyped variable (`PINGAN_LISTENN`) would otherwise leave its setting
    // at the default without a word; warn, but do not refuse to start.
    for unknown in pingan_server::config::unknown_env_vars(std::env::vars()) {
        eprintln!("warning: {unknown}");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cli)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn load_config(file: Option<&Path>, store: Option<&StoreArgs>) -> anyhow::Result<Config> {
    let mut cfg = Config::load(file, std::env::vars())?;
    if let Some(s) = store {
        if let Some(d) = &s.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(db) = &s.database {
            cfg.database = Some(db.clone());
        }
    }
    cfg.validate()?;
    Ok(cfg)
}

fn init_logs(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PINGAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    // Colours only for a person at a terminal: a log file or a pipe to a
    // collector would get raw escape codes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the store of an existing deployment. Without `--database`, the data
/// dir must already hold the SQLite database: an admin command on a mistyped
/// `--data-dir` would otherwise create an empty one there and report on it
/// (e.g. "audit chain intact: 0 records"). Only `serve` and `demo` create.
pub(crate) async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    if cfg.database.is_none() {
        let db = Path::new(&cfg.database_url()).to_path_buf();
        if !db.is_file() {
            bail!(
                "no pingan database at {}; run `pingan serve` or `pingan demo` first, or pass --database",
                db.display()
            );
        }
    }
    create_store(cfg).await
}

/// Opens the store, creating the data dir and the SQLite database if missing
/// (`serve`, `demo`, or an explicit `--database`).
async fn create_store(cfg: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let url = cfg.database_url();
    Store::open(&url).await.with_context(|| {
        format!(
            "cannot open database {}",
            pingan_server::config::redact_url(&url)
        )
    })
}

/// Who an administrative action from the command line is audited as: the
/// shell account (there is no login), marked as the CLI.
fn cli_actor() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{user}")
}

/// Appends the audit record of an administrative action taken from the command
/// line, with the action names the API uses (`user.create`, `org.import`, …):
/// shell access must not be a way to create accounts or load data that the
/// auditors never see.
pub(crate) async fn audit_cli(
    store: &Store,
    action: &str,
    object_type: &str,
    object_ids: Vec<String>,
    detail: Option<String>,
) -> anyhow::Result<()> {
    let entry = pingan_server::audit::Audit::ok(action, object_type, object_ids)
        .detail(match detail {
            Some(d) => format!("pingan CLI: {d}"),
            None => "pingan CLI".into(),
        })
        .by(
            pingan_core::Clock::now(&pingan_core::SystemClock).millis(),
            None,
            &cli_actor(),
            "admin",
        );
    store
        .audit_append(&[entry])
        .await
        .with_context(|| format!("cannot write the audit record of {action}"))?;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Serve(a) => {
            let mut cfg = load_config(file, Some(&a.store))?;
            if let Some(l) = a.listen {
                cfg.listen = l;
            }
            cfg.validate()?;
            init_logs(&cfg);
            let listener = bind(&cfg.listen).await?;
            let store = create_store(&cfg).await?;
            let city = match &a.osm {
                Some(osm) => Some(load_city(osm, &cfg.data_dir).await?),
                None => None,
            };
            serve(listener, store, cfg, city, None, None, None).await
        }
        Command::Replay(a) => replay(&a),
        Command::Source(c) => source::run(file, c).await,
        Command::Import(a) => import::run(file, a).await,
        Command::Bench(BenchCmd::Dispatch(a)) => {
            // Quiet by default (the numbers are the output); PINGAN_LOG turns the
            // server's logs on, e.g. `sqlx::query=debug` lists every statement.
            if std::env::var_os("PINGAN_LOG").is_some() {
                init_logs(&Config::default());
            }
            bench_dispatch::run(a).await
        }
        Command::Bench(BenchCmd::Fusion(a)) => {
            tokio::task::spawn_blocking(move || bench_fusion::run_bench(&a)).await?
        }
        Command::Ledger(c) => ledger(file, c).await,
        Command::Demo(a) => {
            let (cfg, explicit) = Config::load_explicit(file, std::env::vars())?;
            let cfg = demo_config(cfg, &explicit, &a)?;
            init_logs(&cfg);
            // The seed was asked for (not defaulted): worth a warning if the
            // data dir's existing city has another.
            let seed_given = a.seed.is_some() || explicit.contains("demo.seed");
            demo(cfg, a, seed_given).await
        }
        Command::Audit(AuditCmd::Verify(s)) => {
            let cfg = load_config(file, Some(&s))?;
            let store = open_store(&cfg).await?;
            let v = store.audit_verify().await?;
            match v.first_bad {
                None => {
                    // A log cut short is still a valid chain: hold it against
                    // the newest anchor of its head in the ledger.
                    let anchor = pingan_server::ledger::check_audit_anchor(&store).await?;
                    if let Some(a) = &anchor
                        && let Some(problem) = &a.problem
                    {
                        bail!(
                            "audit log disagrees with ledger entry {}, which anchors record #{}: {problem}",
                            a.ledger_index,
                            a.audit_seq
                        );
                    }
                    println!(
                        "audit chain intact: {} records, head #{} {}",
                        v.checked, v.head_seq, v.head_hash
                    );
                    match anchor {
                        Some(a) => println!(
                            "anchored in the ledger up to record #{} (entry {})",
                            a.audit_seq, a.ledger_index
                        ),
                        None => println!("no anchor in the ledger yet"),
                    }
                    Ok(())
                }
                Some((seq, why)) => bail!(
                    "audit chain broken at record #{seq}: {why} ({} records before it verified)",
                    v.checked
                ),
            }
        }
        Command::Org(OrgCmd::Import { file: f, store: s }) => {
            let cfg = load_config(file, Some(&s))?;
            let store = open_store(&cfg).await?;
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            let now = pingan_core::Clock::now(&pingan_core::SystemClock).millis();
            let report = pingan_server::orgs::import_collection_report(&store, &text, now)
                .await
                .map_err(|e| geojson_error(&f, &text, e))?;
            let (c, u) = (report.created, report.updated);
            let mut ids = Vec::new();
            for code in feature_codes(&text) {
                if let Some(o) = store.get_org_by_code(&code).await? {
                    ids.push(o.id.to_string());
                }
            }
            audit_cli(
                &store,
                "org.import",
                "org",
                ids,
                Some(format!("{}: created {c}, updated {u}", f.display())),
            )
            .await?;
            // A changed parent_code moved a subtree: each move on the record,
            // as the API writes it.
            for m in &report.moved {
                audit_cli(
                    &store,
                    "org.move",
                    "org",
                    vec![m.id.to_string()],
                    Some(format!(
                        "parent {} -> {}",
                        m.from_parent.map_or("none".to_string(), |p| p.to_string()),
                        m.to_parent
                    )),
                )
                .await?;
            }
            println!("{}: {c} org nodes created, {u} updated", f.display());
            Ok(())
        }
        Command::Org(OrgCmd::Export { store: s }) => {
            let cfg = load_config(file, Some(&s))?;
            let store = open_store(&cfg).await?;
            let rows = store.all_orgs().await?;
            print_stdout(&serde_json::to_string_pretty(
                &pingan_server::orgs::feature_collection(&rows),
            )?)
        }
        Command::User(UserCmd::Add {
            username,
            display_name,
            role,
            org_code,
            password,
            store: s,
        }) => {
            // The same rule as `POST /api/v1/users`, checked before touching the store.
            pingan_server::api::users::check_username(&username)
                .map_err(|e| anyhow::anyhow!("--username {username:?}: {}", e.message))?;
            let cfg = load_config(file, Some(&s))?;
            let store = open_store(&cfg).await?;
            let r = pingan_server::auth::Role::parse(&role)
                .with_context(|| format!("--role {role:?} is not a role"))?;
            if r.is_machine() {
                bail!("--role {role}: machine roles use API keys (POST /api/v1/apikeys)");
            }
            if password.chars().count() < 8 {
                bail!("--password: at least 8 characters");
            }
            let org = store
                .get_org_by_code(&org_code)
                .await?
                .with_context(|| format!("--org-code {org_code:?}: no such org node"))?;
            pingan_server::api::users::check_role_org(r, &org)
                .map_err(|e| anyhow::anyhow!("--org-code {org_code:?}: {}", e.message))?;
            let hash = pingan_server::auth::hash_password(&password)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let now = pingan_core::Clock::now(&pingan_core::SystemClock).millis();
            let u = store
                .create_user(
                    &pingan_store::NewUser {
                        username: username.clone(),
                        display_name: display_name.unwrap_or(username),
                        password_hash: hash,
                        role: r.as_str().into(),
                        org_id: org.id,
                        unit_id: None,
                    },
                    now,
                )
                .await?;
            audit_cli(&store, "user.create", "user", vec![u.id.to_string()], None).await?;
            println!("user {} (#{}) created in {}", u.username, u.id, org.name);
            Ok(())
        }
    }
}

async fn load_city(osm: &Path, data_dir: &Path) -> anyhow::Result<CityMap> {
    let (osm, cache) = (osm.to_path_buf(), data_dir.join("cache"));
    tokio::task::spawn_blocking(move || CityMap::load(&osm, &cache)).await?
}

async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    cfg: Config,
    city: Option<CityMap>,
    banner: Option<String>,
    populate: Option<(u64, u64)>,
    demo_partners: Option<u64>,
) -> anyhow::Result<()> {
    let (router, state) =
        pingan_server::build(store.clone(), cfg, pingan_server::system_clock()).await?;
    if let Some(c) = city {
        // The geocoder falls back to the network's street names (call intake).
        state.fusion.set_streets(
            c.router
                .streets()
                .streets()
                .iter()
                .map(|s| (s.name.clone(), s.point)),
        );
        *state
            .city
            .write()
            .map_err(|_| anyhow::anyhow!("city lock poisoned"))? = Some(Arc::new(c));
    }
    if let Some((seed, people)) = populate {
        let t = std::time::Instant::now();
        let r = pingan_server::demo::populate_people(&state, seed, people).await?;
        println!(
            "demo population: {} people, {} source records read, {} accepted, {} rejected in {:.1} s",
            r.people,
            r.records_read,
            r.accepted,
            r.rejected,
            t.elapsed().as_secs_f64()
        );
        let a = pingan_server::alert_feed::seed_demo(&state, seed).await?;
        println!(
            "demo early warning: {} sensors, {} watches; a synthetic event feed raises alerts live",
            a.sensors, a.watches
        );
    }
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving");
    if let Some(seed) = demo_partners {
        // The demo city's partner agencies: webhook receivers on loopback that
        // verify each hand-off and report back to this server's feedback API.
        let settings = pingan_server::partner_sim::PartnerSimSettings {
            seed,
            ..Default::default()
        };
        let p = pingan_server::partner_sim::PartnerSim::start(
            &state,
            &format!("http://{addr}"),
            settings,
        )
        .await?;
        p.spawn_driver();
        println!(
            "demo partners 12345, 120, 119 and traffic take hand-offs on http://{}",
            p.addr()
        );
    }
    if let Some(b) = banner {
        println!("{b}");
    }
    println!("pingan listening on http://{addr}");
    pingan_server::serve(
        listener,
        router,
        pingan_server::shutdown_signal(),
        Duration::from_secs(30),
    )
    .await?;
    store.close().await;
    Ok(())
}

async fn demo(cfg: Config, a: DemoArgs, seed_given: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let listener = bind(&cfg.listen).await?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let osm = match &a.osm {
        Some(p) => p.clone(),
        None => pingan_server::demo::default_osm(&cfg.data_dir, cfg.demo.seed)?,
    };
    let city = load_city(&osm, &cfg.data_dir).await?;
    let store = create_store(&cfg).await?;
    let built_seed = store.get_meta("demo.seed").await?;
    let password = a
        .demo_password
        .clone()
        .unwrap_or_else(|| DEFAULT_DEMO_PASSWORD.to_string());
    let mut banner = String::new();
    // The city's own seed: the one asked for on the first run, else the one it
    // was built with (the partner simulation and population follow it).
    let seed = match &built_seed {
        None => {
            let opts = DemoOptions {
                seed: cfg.demo.seed,
                password: password.clone(),
                osm: a.osm.clone(),
            };
            let now = pingan_core::Clock::now(&pingan_core::SystemClock).millis();
            let logins = pingan_server::demo::build_city(&store, &city, &opts, now).await?;
            // The demo writes an org tree, units and accounts (an admin among
            // them) like any administrator would: the audit log says so.
            let why = format!("demo city, seed {}", cfg.demo.seed);
            let orgs = store.all_orgs().await?;
            let units = store.all_units().await?;
            for (action, object_type, ids) in [
                (
                    "org.import",
                    "org",
                    orgs.iter().map(|o| o.id).collect::<Vec<_>>(),
                ),
                ("unit.create", "unit", units.iter().map(|u| u.id).collect()),
                ("user.create", "user", logins.iter().map(|l| l.id).collect()),
            ] {
                let ids = ids.iter().map(i64::to_string).collect();
                audit_cli(&store, action, object_type, ids, Some(why.clone())).await?;
            }
            banner.push_str(&format!(
                "demo city built in {:.1} s in {}\n",
                started.elapsed().as_secs_f64(),
                cfg.data_dir.display()
            ));
            banner.push_str(&format!("logins (password {password:?}):\n"));
            for l in logins.iter().take(6) {
                banner.push_str(&format!("  {:<12} {:<16} {}\n", l.username, l.role, l.org));
            }
            if logins.len() > 6 {
                banner.push_str(&format!(
                    "  officer02 … officer{:02}  station_officer  one per station\n",
                    logins.len() - 5
                ));
            }
            cfg.demo.seed
        }
        Some(built) => {
            for w in
                reuse_warnings(&store, &cfg, built, seed_given, a.demo_password.as_deref()).await?
            {
                eprintln!("warning: {w}");
            }
            banner.push_str(&format!(
                "reusing the demo city in {} (delete it for a fresh one)\n",
                cfg.data_dir.display()
            ));
            banner.push_str(
                "logins: admin, commander, dispatcher, analyst, auditor, officer01…officer24\n",
            );
            built.parse().unwrap_or(cfg.demo.seed)
        }
    };
    let url = format!("http://{}", listener.local_addr()?);
    banner.push_str(&format!(
        "console: {url}/  API: {url}/api/v1  OpenAPI: {url}/api/openapi.json"
    ));
    let populate = built_seed.is_none().then_some((seed, a.people));
    serve(
        listener,
        store,
        cfg,
        Some(city),
        Some(banner),
        populate,
        Some(seed),
    )
    .await
}

/// What a re-run on an existing demo city ignores: a different seed or demo
/// password only apply to a fresh data dir, and silently serving the old city
/// would leave the caller logging in with a password that does not work.
async fn reuse_warnings(
    store: &Store,
    cfg: &Config,
    built_seed: &str,
    seed_given: bool,
    password: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let dir = cfg.data_dir.display();
    let mut warnings = Vec::new();
    if seed_given && built_seed != cfg.demo.seed.to_string() {
        warnings.push(format!(
            "{dir} already holds the demo city built with seed {built_seed}; seed {} is ignored and the existing city (its seed, its people, its passwords) is kept; delete {dir} for a new city",
            cfg.demo.seed
        ));
    }
    if let Some(pw) = password
        && let Some(admin) = store.get_user_by_username("admin").await?
        && !pingan_server::auth::verify_password(pw, &admin.password_hash)
    {
        warnings.push(format!(
            "the demo password given is not the existing city's: the logins in {dir} keep the password they were built with; delete {dir} for a new city with this one"
        ));
    }
    Ok(warnings)
}

/// Writes `text` and a newline to stdout. A reader that stops early
/// (`pingan org export | head`) ends the output quietly, where `println!`
/// would panic on the closed pipe.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// An org import error as a person fixing the file needs it: the file, the line
/// where the offending feature starts, its 1-based number and the field.
fn geojson_error(file: &Path, text: &str, e: pingan_server::orgs::ImportError) -> anyhow::Error {
    match e {
        pingan_server::orgs::ImportError::Feature {
            index,
            field,
            reason,
        } => {
            let at = match feature_lines(text).get(index) {
                Some(line) => format!("line {line}: "),
                None => String::new(),
            };
            anyhow::anyhow!(
                "{}: {at}feature {}: property `{field}` {reason}",
                file.display(),
                index + 1
            )
        }
        other => anyhow::anyhow!("{}: {other}", file.display()),
    }
}

/// The 1-based line on which each element of a FeatureCollection's top-level
/// `features` array starts. serde_json keeps no positions of values it parsed
/// successfully, so this scans the text: strings are skipped (a `[` or `"features"`
/// inside a name or property is not structure) and nesting depth is tracked.
fn feature_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut line = 1;
    // Open containers, innermost last: the top-level object is depth 1 and the
    // features array depth 2.
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    // Strings directly in the top-level object (keys and values), to know
    // which key an array belongs to.
    let (mut string, mut last_string, mut key) = (String::new(), String::new(), String::new());
    let (mut in_features, mut expecting) = (false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                if depth == 1 {
                    last_string = std::mem::take(&mut string);
                }
            } else if depth == 1 {
                string.push(c);
            }
            continue;
        }
        let at_features = in_features && depth == 2;
        if at_features && expecting && !c.is_whitespace() && c != ',' && c != ']' {
            lines.push(line);
            expecting = false;
        }
        match c {
            '"' => {
                in_string = true;
                string.clear();
            }
            ':' if depth == 1 => key = std::mem::take(&mut last_string),
            '[' if depth == 1 && key == "features" => {
                // A repeated key: serde_json keeps the last, so does this.
                lines.clear();
                (in_features, expecting) = (true, true);
                depth += 1;
            }
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth <= 1 {
                    in_features = false;
                }
            }
            ',' if at_features => expecting = true,
            _ => {}
        }
    }
    lines
}

/// The `code` property of every feature of a GeoJSON FeatureCollection (for the
/// audit record of an import; the import itself has validated the text).
fn feature_codes(text: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    v.get("features")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
        .filter_map(|f| f.pointer("/properties/code")?.as_str().map(str::to_string))
        .collect()
}

/// Reads a JSON array, or the `items` of an API page, from `path`.
fn json_items(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(match v {
        serde_json::Value::Object(mut o) => o.remove("items").unwrap_or_default(),
        other => other,
    })
}

fn replay(a: &ReplayArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let events = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let sensors: Vec<pingan_server::alerts::ReplaySensor> = match &a.sensors {
        Some(p) => serde_json::from_value(json_items(p)?)
            .with_context(|| format!("{} has unexpected sensor entries", p.display()))?,
        None => Vec::new(),
    };
    let watches: Vec<pingan_server::alerts::ReplayWatch> = match &a.watches {
        Some(p) => serde_json::from_value(json_items(p)?)
            .with_context(|| format!("{} has unexpected watch entries", p.display()))?,
        None => Vec::new(),
    };
    let (alerts, errors) = pingan_server::alerts::replay_file(&events, &sensors, &watches)?;
    let mut out = std::io::stdout().lock();
    for alert in &alerts {
        writeln!(out, "{}", serde_json::to_string(alert)?)?;
    }
    for e in &errors {
        // A line that is not JSON at all has no field to name.
        let field = if e.field.is_empty() {
            String::new()
        } else {
            format!("{}: ", e.field)
        };
        eprintln!("{}: line {}: {field}{}", a.file.display(), e.line, e.reason);
    }
    eprintln!("{} alerts, {} rejected lines", alerts.len(), errors.len());
    Ok(())
}

#[derive(Subcommand)]
enum LedgerCmd {
    /// Verify a receipt offline (no server, no database): checkpoint signature, entry, inclusion proof.
    Verify {
        /// Receipt JSON file (as in `GET /api/v1/ledger/entries/{index}` → `receipt`), or - for stdin.
        receipt: PathBuf,
        /// The log's verifier key string (`pingan ledger key`), or a file holding it.
        #[arg(long)]
        key: String,
    },
    /// Recompute the whole log from the store; lists every altered, missing or reordered entry and exits non-zero on any.
    Audit {
        #[command(flatten)]
        store: StoreArgs,
        /// Verifier key (string or file) to check the checkpoints with; default the data dir's own key.
        #[arg(long)]
        key: Option<String>,
    },
    /// Print the verifier key of a data dir's ledger (publish it for citizens and auditors).
    Key {
        /// Data directory holding ledger.key.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Measure appends/s through the service, proof and receipt times and bytes per entry on a fresh store.
    Bench {
        /// Entries to append.
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
        /// Appends outstanding at once.
        #[arg(long, default_value_t = 32_768)]
        in_flight: usize,
        /// Database URL (postgres://…); default a fresh SQLite file in a temp dir.
        #[arg(long)]
        database: Option<String>,
    },
}

/// A verifier key given inline or as a file holding it.
fn read_vkey(arg: &str) -> anyhow::Result<pingan_ledger::NoteVerifier> {
    let text = match std::fs::read_to_string(arg) {
        Ok(t) => t,
        Err(_) => arg.to_string(),
    };
    pingan_ledger::NoteVerifier::parse(text.trim()).with_context(|| format!("--key {arg:?}"))
}

async fn ledger(file: Option<&Path>, cmd: LedgerCmd) -> anyhow::Result<()> {
    match cmd {
        LedgerCmd::Verify { receipt, key } => {
            let verifier = read_vkey(&key)?;
            let json = if receipt.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&receipt)
                    .with_context(|| format!("cannot read {}", receipt.display()))?
            };
            let v = pingan_ledger::verify_receipt(json.trim(), &verifier)
                .with_context(|| format!("receipt {} does NOT verify", receipt.display()))?;
            println!(
                "receipt verified: entry {} (leaf {}) is in log {} at size {} (root {})",
                v.leaf_index,
                pingan_ledger::hash::to_hex(&v.leaf_hash),
                v.checkpoint.origin,
                v.checkpoint.size,
                pingan_ledger::hash::to_hex(&v.checkpoint.root)
            );
            if let Some(r) = v.record {
                println!("record: {}", r.to_canonical_json()?);
            }
            Ok(())
        }
        LedgerCmd::Audit { store: s, key } => {
            let cfg = load_config(file, Some(&s))?;
            // The store first: a data dir without a database is the clearer error.
            let store = open_store(&cfg).await?;
            let verifier = match key {
                Some(k) => read_vkey(&k)?,
                None => pingan_server::ledger::verifier_of_data_dir(&cfg.data_dir)
                    .context("no --key given and the data dir has no ledger key")?,
            };
            let report = pingan_server::ledger::audit_store(&store, &verifier).await?;
            println!(
                "ledger audit: {} entries read, tree size {}, {} checkpoints checked",
                report.entries_read, report.tree_size, report.checkpoints_checked
            );
            if let Some(root) = report.recomputed_root {
                println!("recomputed root {}", pingan_ledger::hash::to_hex(&root));
            }
            for f in &report.findings {
                println!("FINDING: {f}");
            }
            if report.is_clean() {
                println!("ledger intact");
                Ok(())
            } else {
                bail!("ledger audit found {} problems", report.findings.len())
            }
        }
        LedgerCmd::Key { data_dir } => {
            let cfg = load_config(file, None)?;
            let dir = data_dir.unwrap_or(cfg.data_dir);
            let v = pingan_server::ledger::verifier_of_data_dir(&dir)?;
            println!("{}", v.vkey());
            Ok(())
        }
        LedgerCmd::Bench {
            entries,
            in_flight,
            database,
        } => {
            let dir =
                std::env::temp_dir().join(format!("pingan-ledger-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let url = database.unwrap_or_else(|| dir.join("bench.db").display().to_string());
            let store = Store::open(&url).await?;
            let r = pingan_server::ledger::bench(&store, entries, in_flight.max(1)).await;
            store.close().await;
            let _ = std::fs::remove_dir_all(&dir);
            let r = r?;
            println!("ledger bench on {:?}", store.dialect());
            println!(
                "appends: {} entries in {:.2} s = {:.0} appends/s ({} batches, {:.0} entries/batch)",
                r.entries,
                r.append_secs,
                r.appends_per_sec,
                r.batches,
                r.entries as f64 / r.batches.max(1) as f64
            );
            println!(
                "inclusion proof from the store: {:.1} µs",
                r.inclusion_proof_micros
            );
            println!(
                "consistency proof from the store: {:.1} µs",
                r.consistency_proof_micros
            );
            println!("receipt (entry + proof): {:.1} µs", r.receipt_micros);
            println!(
                "storage: {:.1} bytes per entry (all tables)",
                r.bytes_per_entry
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_lines_finds_where_each_feature_starts() {
        let text = r#"{
  "type": "FeatureCollection",
  "name": "features [not this]",
  "bbox": [1, 2, 3, 4],
  "features": [
    {"type": "Feature", "properties": {"code": "510100", "features": [9]}, "geometry": null},
    {
      "type": "Feature",
      "properties": {"name": "a \"quoted\" {name} ["},
      "geometry": null
    }, {"type": "Feature"},
    7
  ]
}"#;
        assert_eq!(feature_lines(text), vec![6, 7, 11, 12]);
        assert_eq!(
            feature_lines(r#"{"features":[{"a":1},{"b":2}],"type":"FeatureCollection"}"#),
            vec![1, 1]
        );
        assert_eq!(feature_lines("{\"features\": []}"), Vec::<usize>::new());
        assert_eq!(feature_lines("not json"), Vec::<usize>::new());
    }

    /// The demo's configuration from `args` (after `pingan demo`) and `env`.
    fn demo_cfg(args: &[&str], env: &[(&str, &str)]) -> Config {
        let cli = Cli::try_parse_from(["pingan", "demo"].iter().chain(args)).unwrap();
        let Command::Demo(a) = cli.command else {
            panic!("not the demo command")
        };
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let (cfg, explicit) = Config::load_explicit(None, env).unwrap();
        demo_config(cfg, &explicit, &a).unwrap()
    }

    fn demo_view(c: &Config) -> (String, PathBuf, bool, f64, u64) {
        (
            c.listen.clone(),
            c.data_dir.clone(),
            c.demo.simulate,
            c.demo.calls_per_day,
            c.demo.seed,
        )
    }

    #[test]
    fn demo_flags_win_over_env_which_wins_over_defaults() {
        // Defaults: the demo simulates, unlike `serve`.
        assert_eq!(
            demo_view(&demo_cfg(&[], &[])),
            (
                "127.0.0.1:8080".into(),
                "pingan-data".into(),
                true,
                1500.0,
                2026
            )
        );
        let env = [
            ("PINGAN_DATA_DIR", "/srv/city"),
            ("PINGAN_LISTEN", "0.0.0.0:9000"),
            ("PINGAN_DEMO_SIMULATE", "false"),
            ("PINGAN_DEMO_CALLS_PER_DAY", "300"),
        ];
        assert_eq!(
            demo_view(&demo_cfg(&[], &env)),
            (
                "0.0.0.0:9000".into(),
                "/srv/city".into(),
                false,
                300.0,
                2026
            )
        );
        // Flags win; --port keeps the configured host.
        assert_eq!(
            demo_view(&demo_cfg(
                &[
                    "--port",
                    "9100",
                    "--data-dir",
                    "/tmp/c",
                    "--calls-per-day",
                    "50",
                    "--seed",
                    "7"
                ],
                &env
            )),
            ("0.0.0.0:9100".into(), "/tmp/c".into(), false, 50.0, 7)
        );
        assert!(!demo_cfg(&["--no-simulate"], &[]).demo.simulate);
        assert!(
            demo_cfg(&[], &[("PINGAN_DEMO_SIMULATE", "true")])
                .demo
                .simulate
        );
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every command, flag and argument in `pingan --help` and every
    /// subcommand's help says what it is.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "pingan", &mut missing);
        assert_eq!(missing, Vec::<String>::new());
    }
}
