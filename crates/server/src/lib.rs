//! pingan's HTTP API and the process around it.
//!
//! `router` assembles every route from the `api` modules into one
//! `utoipa_axum::router::OpenApiRouter`, so the OpenAPI document at
//! `/api/openapi.json` is generated from the same declarations that route
//! requests; the authorisation middleware ([`auth::enforce`]) reads each route's
//! required scope from that document. Domain logic lives in the pure crates;
//! this crate translates HTTP to calls on them and on the [`pingan_store::Store`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use pingan_core::{Clock, SystemClock, Timestamp};
use pingan_jurisdiction::Jurisdiction;
use pingan_store::Store;
use tokio::sync::broadcast;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub mod alert_feed;
pub mod alerts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod citizen;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod error;
pub mod fusion;
pub mod ledger;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod orgs;
pub mod partner_sim;
pub mod sim;
mod strict_json;

pub use config::Config;
pub use error::{ApiError, ApiResult};

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<metrics::Metrics>,
    pub route_scopes: Arc<auth::RouteScopes>,
    pub jurisdiction: Arc<RwLock<Arc<Jurisdiction>>>,
    /// The org tree's fingerprint (`Store::org_tree_version`) when the index
    /// was last built: the tree watch rebuilds only when the store's differs.
    jurisdiction_version: Arc<std::sync::Mutex<(i64, i64, i64)>>,
    pub live: broadcast::Sender<live::LiveEvent>,
    pub city: Arc<RwLock<Option<Arc<demo::CityMap>>>>,
    /// Computer-aided dispatch: taxonomy, classifier, unit index, workers.
    pub dispatch: Arc<dispatch::DispatchService>,
    /// The verifiable case log: `state.ledger.append(&record)`, `.receipt(index)`.
    pub ledger: Arc<ledger::LedgerService>,
    /// Citizen transparency: ledger feed worker (`state.citizen.feed.wake()` after a change the store queued),
    /// receipt codes, portal rate limits, notification outbox.
    pub citizen: Arc<citizen::CitizenService>,
    /// The early-warning worker (engine thread + persister).
    pub alerts: Arc<alerts::AlertService>,
    /// The data hub: sources, ingest, resolution, search, geocoding (`state.fusion.geocode(text)`).
    pub fusion: Arc<fusion::FusionService>,
    /// Failed logins per (username, client address) and per client address:
    /// password guessing is slowed to a trickle (see `api::session`).
    pub login_failures: Arc<LoginFailures>,
}

/// Token buckets that failed logins drain; a login is refused (429) while
/// either of its buckets is empty.
pub struct LoginFailures {
    /// 5 failures in a row for one account from one address, then one try
    /// per 30 s.
    pub per_account: citizen::Buckets,
    /// 20 failures from one address across accounts (password spraying), then
    /// one try per 10 s.
    pub per_address: citizen::Buckets,
}

impl Default for LoginFailures {
    fn default() -> Self {
        LoginFailures {
            per_account: citizen::Buckets::new(2, 5),
            per_address: citizen::Buckets::new(6, 20),
        }
    }
}

impl AppState {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    /// The current jurisdiction index (rebuilt when org areas change).
    pub fn jurisdiction(&self) -> Arc<Jurisdiction> {
        self.jurisdiction
            .read()
            .map(|j| j.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Rebuilds the jurisdiction index from the store.
    pub async fn reload_jurisdiction(&self) -> ApiResult<()> {
        // The fingerprint first: a change landing while the tree loads leaves
        // it older than the index, and the watch rebuilds once more.
        let version = self.store.org_tree_version().await?;
        let j = orgs::load_jurisdiction(&self.store).await?;
        match self.jurisdiction.write() {
            Ok(mut g) => *g = Arc::new(j),
            Err(p) => *p.into_inner() = Arc::new(j),
        }
        *self
            .jurisdiction_version
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = version;
        Ok(())
    }

    pub fn city(&self) -> Option<Arc<demo::CityMap>> {
        self.city.read().ok().and_then(|c| c.clone())
    }
}

/// How often the org tree is checked for changes made outside this process.
const TREE_WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Rebuilds the jurisdiction index when the org tree changes under the
/// running server (another process, e.g. `pingan org import`, or another
/// server on the same PostgreSQL database); the API's own changes rebuild it
/// at once and record the fingerprint they built from, so the watch does not
/// build the same tree again.
fn spawn_tree_watch(state: &AppState) {
    let s = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TREE_WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Ok(now) = s.store.org_tree_version().await else {
                continue;
            };
            let built = *s
                .jurisdiction_version
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if built != now {
                match s.reload_jurisdiction().await {
                    Ok(()) => tracing::info!("org tree changed: jurisdiction index rebuilt"),
                    Err(e) => {
                        tracing::warn!(error = %e.message, "cannot rebuild the jurisdiction index")
                    }
                }
            }
        }
    });
}

/// Builds the state and the full router (API, docs, metrics, console).
pub async fn build(
    store: Store,
    config: Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Router, AppState)> {
    let (api, openapi) = api::routes().split_for_parts();
    let openapi_json = serde_json::to_string(&openapi)?;
    let route_scopes = Arc::new(auth::RouteScopes::from_openapi(&openapi));
    let (live, _) = broadcast::channel(8192);
    let ledger = ledger::LedgerService::open(&store, &config.data_dir, clock.clone()).await?;
    ledger.spawn_audit_anchor(ledger::AUDIT_ANCHOR_EVERY);
    let jurisdiction_version = Arc::new(std::sync::Mutex::new(store.org_tree_version().await?));
    let jurisdiction = Arc::new(RwLock::new(Arc::new(
        orgs::load_jurisdiction(&store).await?,
    )));
    let alerts = alerts::AlertService::start(
        store.clone(),
        clock.clone(),
        live.clone(),
        jurisdiction.clone(),
        alerts::AlertConfig::from_settings(&config.alerts),
    )
    .await?;
    let fusion = fusion::FusionService::open(
        store.clone(),
        &config.data_dir,
        clock.clone(),
        jurisdiction.clone(),
    )
    .await?;
    let metrics = Arc::new(metrics::Metrics::new());
    let citizen = citizen::CitizenService::start(
        store.clone(),
        ledger.clone(),
        clock.clone(),
        jurisdiction.clone(),
        config.citizen.clone(),
        &metrics,
    )?;
    let state = AppState {
        citizen,
        fusion,
        jurisdiction,
        jurisdiction_version,
        alerts,
        store,
        config: Arc::new(config),
        clock,
        metrics,
        route_scopes,
        live,
        city: Arc::new(RwLock::new(None)),
        dispatch: Arc::new(dispatch::DispatchService::new()),
        ledger,
        login_failures: Arc::default(),
    };
    api::taxonomy::restore(&state)
        .await
        .map_err(|e| anyhow::anyhow!("restoring the taxonomy: {}", e.message))?;
    dispatch::restore_escalations(&state)
        .await
        .map_err(|e| anyhow::anyhow!("re-arming escalations: {}", e.message))?;
    dispatch::start_workers(&state);
    spawn_tree_watch(&state);
    alert_feed::spawn(&state);
    if state.config.demo.simulate {
        sim::spawn(&state);
    }
    let body_limit = state.config.body_limit_bytes;
    let request_id = HeaderName::from_static("x-request-id");
    let openapi_json: Arc<str> = openapi_json.into();
    let router = api
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::enforce,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let doc = openapi_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this method is not allowed on this route",
            )
        })
        .fallback(api::console::fallback)
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("the server hit an unexpected condition").into_response()
        }))
        // Every log line of a request (a 500's included) names its id and route.
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    request_id = %id,
                    method = %req.method(),
                    path = %req.uri().path(),
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));
    Ok((router, state))
}

/// Serves until ctrl-c/SIGTERM or `shutdown` resolves, then stops accepting and
/// lets in-flight requests finish (bounded by `drain`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // The peer address feeds the citizen portal's per-IP rate limits.
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    let handle = tokio::spawn(async move { server.await });
    let _ = rx.await;
    tracing::info!(
        drain_secs = drain.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    match tokio::time::timeout(drain, handle).await {
        Ok(r) => r??,
        Err(_) => tracing::warn!("in-flight requests did not finish in time"),
    }
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Wall-clock time.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
