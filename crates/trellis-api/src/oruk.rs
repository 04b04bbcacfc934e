//! The public, read-only Open Referral UK 3.0 API of the directory, as the profile's OpenAPI describes
//! it, so other local directories and apps can use it:
//!
//! - `GET /oruk/`: the API's version and profile;
//! - `GET /oruk/services` (`search`, `taxonomy_term_id`, `taxonomy_id`, `minimum_age`, `maximum_age`,
//!   `page`, `per_page`) and `GET /oruk/services/{id}`, fully nested;
//! - `GET /oruk/service_at_locations` (the same parameters) and `GET /oruk/service_at_locations/{id}`;
//! - `GET /oruk/taxonomies(/{id})` and `GET /oruk/taxonomy_terms(/{id})`.
//!
//! Pages count from 1. A parameter that does not parse, or one of the profile's that Trellis cannot
//! honour (`day`, `postcode`, …), is a 400 naming it; an unknown id is a 404. They serve only public
//! directory data (organisations, active services, locations, taxonomy, capacity), never anything about
//! referrals or people, need no token, and are rate limited per client address like anonymous GraphQL
//! requests, whatever token a request carries.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use trellis_domain::ServiceId;
use trellis_store::StoreError;
use trellis_store::oruk::wire::ApiInfo;
use trellis_store::oruk::{MAX_PER_PAGE, ServiceFilter};
use uuid::Uuid;

use crate::AppState;
use crate::auth::RateLimiter;

/// Items per page when the caller does not say.
pub const DEFAULT_PER_PAGE: u64 = 50;

/// The oldest age a filter may name.
const MAX_AGE: f64 = 150.0;

/// The longest search text.
const MAX_SEARCH: usize = 200;

/// Parameters of the profile's `/services` that Trellis does not filter by: refused rather than
/// silently ignored, so a client never takes an unfiltered page for a filtered one.
const UNSUPPORTED: &[&str] =
    &["start_time", "end_time", "day", "postcode", "proximity", "organization_id", "modified_after"];

/// The `/oruk` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oruk", get(info))
        .route("/oruk/", get(info))
        .route("/oruk/services", get(services))
        .route("/oruk/services/{id}", get(service))
        .route("/oruk/service_at_locations", get(services_at_locations))
        .route("/oruk/service_at_locations/{id}", get(service_at_location))
        .route("/oruk/taxonomies", get(taxonomies))
        .route("/oruk/taxonomies/{id}", get(taxonomy))
        .route("/oruk/taxonomy_terms", get(taxonomy_terms))
        .route("/oruk/taxonomy_terms/{id}", get(taxonomy_term))
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

fn answer<T: Serialize>(found: Result<T, StoreError>, what: &str) -> Response {
    match found {
        Ok(body) => public(StatusCode::OK, body),
        Err(StoreError::NotFound) => problem(StatusCode::NOT_FOUND, &format!("no such {what}")),
        Err(e) => {
            tracing::error!(error = %e, "oruk export failed");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// A request within its client address's budget: extracting it refuses one over it with a 429.
/// Counted per address whatever the request carries: the endpoints need no token, so a token (made
/// up or not) buys no budget of its own here.
struct WithinBudget;

impl FromRequestParts<AppState> for WithinBudget {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|_| problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))?;
        if state.limiter.check(&RateLimiter::address_key(peer.ip())) {
            Ok(WithinBudget)
        } else {
            Err(problem(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down and retry"))
        }
    }
}

type Params = HashMap<String, String>;

/// A parameter's text, absent when empty.
fn text<'a>(query: &'a Params, name: &str) -> Option<&'a str> {
    query.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// A positive whole number, `default` when it is absent, or why it is wrong.
fn number(query: &Params, name: &str, default: u64, max: u64) -> Result<u64, String> {
    match text(query, name) {
        None => Ok(default),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("{name} must be a whole number from 1 to {max}")),
        },
    }
}

/// `(page, per_page)`.
fn paging(query: &Params) -> Result<(u64, u64), String> {
    Ok((number(query, "page", 1, u64::from(u32::MAX))?, number(query, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?))
}

fn id_param(query: &Params, name: &str) -> Result<Option<Uuid>, String> {
    text(query, name).map(|s| Uuid::parse_str(s).map_err(|_| format!("{name} must be a UUID"))).transpose()
}

/// An age, a number from 0 to [`MAX_AGE`], rounded towards what the filter means by it.
fn age(query: &Params, name: &str, round: fn(f64) -> f64) -> Result<Option<i32>, String> {
    let Some(s) = text(query, name) else { return Ok(None) };
    match s.parse::<f64>() {
        Ok(n) if (0.0..=MAX_AGE).contains(&n) => Ok(Some(round(n) as i32)),
        _ => Err(format!("{name} must be a number from 0 to {MAX_AGE}")),
    }
}

/// The service filter the profile's `/services` parameters ask for.
fn service_filter(query: &Params) -> Result<ServiceFilter, String> {
    if let Some(name) = UNSUPPORTED.iter().find(|name| text(query, name).is_some()) {
        return Err(format!("{name} is not supported by this directory"));
    }
    let search = text(query, "search").map(str::to_owned);
    if search.as_ref().is_some_and(|s| s.chars().count() > MAX_SEARCH) {
        return Err(format!("search must be at most {MAX_SEARCH} characters"));
    }
    let filter = ServiceFilter {
        search,
        taxonomy_term_id: id_param(query, "taxonomy_term_id")?,
        taxonomy_id: id_param(query, "taxonomy_id")?,
        // "A minimum age of at least" the value: a service starting at 17.5 would start at 18.
        minimum_age: age(query, "minimum_age", f64::ceil)?,
        // "A maximum age equal to or below" the value.
        maximum_age: age(query, "maximum_age", f64::floor)?,
    };
    Ok(filter)
}

/// `GET /oruk/`: the API's version, its profile and its OpenAPI description.
async fn info(_: WithinBudget) -> Response {
    public(StatusCode::OK, ApiInfo::default())
}

/// `GET /oruk/services`: one page of the directory's active services, fully nested.
async fn services(State(state): State<AppState>, _: WithinBudget, Query(query): Query<Params>) -> Response {
    let asked = service_filter(&query).and_then(|filter| Ok((filter, paging(&query)?)));
    match asked {
        Ok((filter, (page, per_page))) => answer(state.store.oruk_services(&filter, page, per_page).await, "service"),
        Err(message) => problem(StatusCode::BAD_REQUEST, &message),
    }
}

/// `GET /oruk/services/{id}`: one active service, fully nested.
async fn service(State(state): State<AppState>, _: WithinBudget, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<ServiceId>() else {
        return problem(StatusCode::NOT_FOUND, "no such service");
    };
    answer(state.store.oruk_service(id).await, "service")
}

/// `GET /oruk/service_at_locations`: one page of the places active services happen at.
async fn services_at_locations(
    State(state): State<AppState>,
    _: WithinBudget,
    Query(query): Query<Params>,
) -> Response {
    let asked = service_filter(&query).and_then(|filter| Ok((filter, paging(&query)?)));
    match asked {
        Ok((filter, (page, per_page))) => {
            answer(state.store.oruk_services_at_locations(&filter, page, per_page).await, "service at location")
        }
        Err(message) => problem(StatusCode::BAD_REQUEST, &message),
    }
}

/// `GET /oruk/service_at_locations/{id}`: one, with its location and its service.
async fn service_at_location(State(state): State<AppState>, _: WithinBudget, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return problem(StatusCode::NOT_FOUND, "no such service at location");
    };
    answer(state.store.oruk_service_at_location(id).await, "service at location")
}

/// `GET /oruk/taxonomies`: one page of the taxonomies.
async fn taxonomies(State(state): State<AppState>, _: WithinBudget, Query(query): Query<Params>) -> Response {
    match paging(&query) {
        Ok((page, per_page)) => answer(state.store.oruk_taxonomies(page, per_page).await, "taxonomy"),
        Err(message) => problem(StatusCode::BAD_REQUEST, &message),
    }
}

/// `GET /oruk/taxonomies/{id}`: one taxonomy.
async fn taxonomy(State(state): State<AppState>, _: WithinBudget, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return problem(StatusCode::NOT_FOUND, "no such taxonomy");
    };
    answer(state.store.oruk_taxonomy(id).await, "taxonomy")
}

/// `GET /oruk/taxonomy_terms`: one page of the taxonomy terms.
async fn taxonomy_terms(State(state): State<AppState>, _: WithinBudget, Query(query): Query<Params>) -> Response {
    match paging(&query) {
        Ok((page, per_page)) => answer(state.store.oruk_taxonomy_terms(page, per_page).await, "taxonomy term"),
        Err(message) => problem(StatusCode::BAD_REQUEST, &message),
    }
}

/// `GET /oruk/taxonomy_terms/{id}`: one taxonomy term.
async fn taxonomy_term(State(state): State<AppState>, _: WithinBudget, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return problem(StatusCode::NOT_FOUND, "no such taxonomy term");
    };
    answer(state.store.oruk_taxonomy_term(id).await, "taxonomy term")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on the first surprise")]

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn ages_are_rounded_towards_what_each_filter_means() {
        let filter = service_filter(&params(&[("minimum_age", "17.5"), ("maximum_age", "64.5")])).unwrap();
        assert_eq!((filter.minimum_age, filter.maximum_age), (Some(18), Some(64)));
    }

    #[test]
    fn a_bad_or_unsupported_parameter_is_refused_naming_it() {
        for (name, value) in [
            ("minimum_age", "-1"),
            ("maximum_age", "old"),
            ("minimum_age", "NaN"),
            ("taxonomy_term_id", "befriending"),
            ("taxonomy_id", "1"),
            ("day", "MO"),
            ("postcode", "NG10 1AA"),
        ] {
            let refused = service_filter(&params(&[(name, value)])).unwrap_err();
            assert!(refused.starts_with(name), "{name}={value}: {refused}");
        }
        assert!(service_filter(&params(&[("search", &"x".repeat(201))])).unwrap_err().starts_with("search"));
        assert!(paging(&params(&[("per_page", "0")])).unwrap_err().starts_with("per_page"));
    }

    #[test]
    fn blank_parameters_are_the_same_as_none() {
        let filter = service_filter(&params(&[("search", "  "), ("minimum_age", ""), ("day", "")])).unwrap();
        assert_eq!(filter, ServiceFilter::default());
        assert_eq!(paging(&params(&[])).unwrap(), (1, DEFAULT_PER_PAGE));
    }
}
