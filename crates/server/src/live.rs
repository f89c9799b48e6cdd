//! Live updates: one broadcast channel of events, fanned out over SSE to each
//! subscriber filtered by its jurisdiction.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast;

use crate::auth::Principal;

/// An event for live subscribers. `org_path` scopes it to a jurisdiction;
/// `None` means city-wide (every authorised subscriber sees it).
#[derive(Debug, Clone)]
pub struct LiveEvent {
    pub name: &'static str,
    pub org_path: Option<String>,
    pub data: serde_json::Value,
}

/// An SSE stream of the events `who` may see whose names start with one of `prefixes`.
pub fn sse(
    who: Principal,
    rx: broadcast::Receiver<LiveEvent>,
    prefixes: &'static [&'static str],
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures::stream::unfold((rx, who), move |(mut rx, who)| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    if !prefixes.iter().any(|p| ev.name.starts_with(p)) {
                        continue;
                    }
                    if ev.org_path.as_deref().is_some_and(|p| !who.can_see(p)) {
                        continue;
                    }
                    let e = Event::default().event(ev.name).data(ev.data.to_string());
                    return Some((Ok(e), (rx, who)));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    let e = Event::default()
                        .event("resync")
                        .data(format!("{{\"missed\":{n}}}"));
                    return Some((Ok(e), (rx, who)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
