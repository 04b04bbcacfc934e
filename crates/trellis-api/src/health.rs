//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// `/healthz`: the process is up.
pub async fn live() -> &'static str {
    "ok"
}

/// `/readyz`: the database answers.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database timed out"),
    }
}
