//! Prometheus metrics: request counts and latencies by route template (bounded
//! labels), authorisation denials, and gauges other modules register.

use std::sync::atomic::AtomicI64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

pub struct Metrics {
    registry: std::sync::Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    denied: Family<RouteLabels, Counter>,
    unaudited: Family<RouteLabels, Counter>,
    unaudited_seen: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
    pub audit_records: Counter,
    pub units_total: Gauge<i64, AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pingan");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        let denied = Family::<RouteLabels, Counter>::default();
        let unaudited = Family::<RouteLabels, Counter>::default();
        let audit_records = Counter::default();
        let units_total = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template",
            latency.clone(),
        );
        registry.register(
            "authz_denied",
            "Requests refused for lack of permission",
            denied.clone(),
        );
        registry.register(
            "unaudited_personal_data",
            "Successful personal-data requests that appended no audit record (a defect; should stay 0)",
            unaudited.clone(),
        );
        registry.register(
            "audit_records",
            "Audit records appended",
            audit_records.clone(),
        );
        registry.register("units", "Units known", units_total.clone());
        Metrics {
            registry: std::sync::Mutex::new(registry),
            requests,
            latency,
            denied,
            unaudited,
            unaudited_seen: Default::default(),
            audit_records,
            units_total,
        }
    }

    pub fn denied(&self, route: &str) {
        self.denied
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .inc();
    }

    pub fn unaudited(&self, route: &str) {
        self.unaudited
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .inc();
        if let Ok(mut m) = self.unaudited_seen.lock() {
            *m.entry(route.to_string()).or_default() += 1;
        }
    }

    /// Routes that answered personal data without an audit record, with counts.
    pub fn unaudited_routes(&self) -> Vec<(String, u64)> {
        self.unaudited_seen
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// Registers a further metric (used by other modules at start-up).
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut r) = self.registry.lock() {
            r.register(name, help, metric);
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }
}

/// Middleware recording every request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let m = &state.metrics;
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route: route.clone(),
            status: resp.status().as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    resp
}
