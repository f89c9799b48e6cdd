//! Serves the built web console (`web/dist`) for every path the API does not
//! claim, with `index.html` as the single-page-app fallback.

use std::path::PathBuf;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

use crate::AppState;
use crate::error::ApiError;

/// Where the console's assets are: the configured dir, else `web/dist` in the
/// working directory or in the workspace the binary was built in.
pub fn web_dir(config: &crate::Config) -> Option<PathBuf> {
    if let Some(d) = &config.web_dir {
        return Some(d.clone());
    }
    let mut candidates = vec![PathBuf::from("web/dist")];
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/pingan → workspace root
        if let Some(root) = exe
            .parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.parent())
        {
            candidates.push(root.join("web/dist"));
        }
    }
    candidates
        .into_iter()
        .find(|d| d.join("index.html").exists())
}

/// Fallback handler: JSON 404 under `/api/`, otherwise the console's files with
/// `index.html` for client-side routes.
pub async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/") {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {path}"),
        )
        .into_response();
    }
    match web_dir(&state.config) {
        Some(dir) => {
            use tower::ServiceExt;
            let index = dir.join("index.html");
            let svc = ServeDir::new(dir).append_index_html_on_directories(true).fallback(ServeFile::new(index));
            match svc.oneshot(req).await {
                Ok(r) => r.into_response(),
                Err(e) => ApiError::internal(format!("serving the console failed: {e}")).into_response(),
            }
        }
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "console_not_built",
            "the web console is not built: run `npm ci && npm run build` in web/ (the README's setup command does this)",
        )
        .into_response(),
    }
}
