//! The public, read-only Open Referral UK endpoints of the directory, so other local directories and apps
//! can use it: `GET /oruk/services?page=&per_page=` (pages count from 1) and `GET /oruk/services/{id}`.
//!
//! They serve only public directory data (organisations, services, locations, taxonomy, capacity),
//! never anything about referrals or people, need no token, and are rate limited per client address like
//! anonymous GraphQL requests, whatever token a request carries.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use trellis_domain::ServiceId;
use trellis_store::StoreError;
use trellis_store::oruk::MAX_PER_PAGE;

use crate::AppState;
use crate::auth::RateLimiter;

/// Items per page when the caller does not say.
pub const DEFAULT_PER_PAGE: u64 = 50;

/// The `/oruk` routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/oruk/services", get(services)).route("/oruk/services/{id}", get(service))
}

/// Any answer, readable from a web page on another site (the data is public and no credentials are
/// involved).
fn public(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    // Public directory data, the same for everyone: caches may keep it a minute.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}

fn problem(status: StatusCode, message: &str) -> Response {
    public(status, serde_json::json!({ "error": message }))
}

fn failed(e: StoreError) -> Response {
    match e {
        StoreError::NotFound => problem(StatusCode::NOT_FOUND, "no such service"),
        e => {
            tracing::error!(error = %e, "oruk export failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// Counted per client address whatever the request carries: the endpoints need no token, so a token
/// (made up or not) buys no budget of its own here.
fn allowed(state: &AppState, peer: SocketAddr) -> bool {
    state.limiter.check(&RateLimiter::address_key(peer.ip()))
}

/// A positive whole number from the query string, `default` when it is absent, or why it is wrong.
fn number(query: &HashMap<String, String>, name: &str, default: u64, max: u64) -> Result<u64, String> {
    match query.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("{name} must be a whole number from 1 to {max}")),
        },
    }
}

/// `GET /oruk/services`: one page of the directory's services, fully nested.
async fn services(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !allowed(&state, peer) {
        return problem(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down and retry");
    }
    let paging = number(&query, "page", 1, u64::from(u32::MAX))
        .and_then(|page| Ok((page, number(&query, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?)));
    let (page, per_page) = match paging {
        Ok(paging) => paging,
        Err(message) => return problem(StatusCode::BAD_REQUEST, &message),
    };
    match state.store.oruk_services(page, per_page).await {
        Ok(page) => public(StatusCode::OK, page),
        Err(e) => failed(e),
    }
}

/// `GET /oruk/services/{id}`: one service, fully nested.
async fn service(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response {
    if !allowed(&state, peer) {
        return problem(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down and retry");
    }
    let Ok(id) = id.parse::<ServiceId>() else {
        return problem(StatusCode::NOT_FOUND, "no such service");
    };
    match state.store.oruk_service(id).await {
        Ok(service) => public(StatusCode::OK, service),
        Err(e) => failed(e),
    }
}
