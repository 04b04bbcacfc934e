//! `/network`: a page that shows the network to network leads and link workers — an SVG picture of
//! link worker services, providers and the flows of offers between them, and a capacity table.
//!
//! A browser cannot send a bearer header on navigation, so the person pastes their API token once into
//! a sign-in form. That opens a server-side session ([`trellis_store::sessions`]): the cookie holds only
//! a random session id (`HttpOnly; SameSite=Strict`, scoped to `/network`, `Secure` over HTTPS), never
//! the token. The session ends when idle, after an absolute limit, on sign-out, and at once when its
//! user is disabled or the key it was opened with is revoked; each request checks all of that in one
//! query. Sign-in attempts are limited per client address.
//!
//! The page is made with the link pages' kit ([`crate::link_pages`]): the same askama layout, the same
//! headers, and the same anti-forgery checks on both forms (sign-in and sign-out, both POSTs): the
//! browser's own `Sec-Fetch-Site` / `Origin`, and a double-submit token in a cookie and a hidden field.
//! What the page draws is worked out in [`view`]; the templates only place it.

mod view;

use std::net::SocketAddr;

use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::Role;

use super::cache::Period;
use super::graphql::network_from;
use crate::AppState;
use crate::auth::RateLimiter;
use crate::link_pages::csrf;
use crate::link_pages::kit::{ProblemPage, cookie_value, refused, render, render_with_cookie, with_page_headers};
use view::{NetworkPage, RefusedPage, SignInPage};

const COOKIE_NAME: &str = "trellis_network";

/// Where the session and anti-forgery cookies are sent.
const PATH: &str = "/network";

/// The `/network` routes, with the link pages' headers.
pub fn routes() -> Router<AppState> {
    with_page_headers(
        Router::new()
            .route("/network", get(page))
            .route("/network/sign-in", post(sign_in))
            .route("/network/sign-out", post(sign_out)),
    )
}

/// Filters a person can choose on the page.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    days: Option<i64>,
    category: Option<String>,
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
    csrf: Option<String>,
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: Option<String>,
}

/// A page with a form: the anti-forgery token the browser already holds (or a new one, set as a cookie
/// for `/network`) goes into the page's hidden fields.
fn with_form<T: askama::Template>(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> T,
) -> Response {
    match csrf::from_cookie(headers) {
        Some(token) => render(status, &page(token)),
        None => {
            let token = csrf::new_token();
            let cookie = csrf::cookie_for_path(&token, PATH, &state.settings.public_base_url);
            render_with_cookie(status, &page(token), &cookie)
        }
    }
}

fn sign_in_response(state: &AppState, headers: &HeaderMap, status: StatusCode, message: &'static str) -> Response {
    with_form(state, headers, status, |csrf| SignInPage { message, csrf_field: csrf::FIELD_NAME, csrf })
}

/// The database could not be reached: a plain page, the cause logged.
fn unavailable(what: &str, e: &dyn std::fmt::Display, message: &'static str) -> Response {
    tracing::error!(error = %e, "network page: {what} failed");
    render(StatusCode::SERVICE_UNAVAILABLE, &ProblemPage { heading: "Unavailable", message })
}

const NO_DATABASE: &str = "Trellis cannot reach its database. Please try again in a few minutes.";

fn redirect(location: &'static str, cookie: String) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, HeaderValue::from_static(location))]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

fn session_cookie(state: &AppState, value: &str, max_age_secs: u64) -> String {
    let secure = if state.settings.is_https() { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Path={PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

fn may_see_the_network(role: Role) -> bool {
    matches!(role, Role::NetworkLead | Role::LinkWorker)
}

const NOT_FOR_YOU: &str = "The network view is for network leads and link workers.";

async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    if !state.sign_ins.check(&RateLimiter::address_key(peer.ip())) {
        let page = ProblemPage {
            heading: "Too many attempts",
            message: "Too many sign-in attempts from this address. Wait a minute and try again.",
        };
        let mut response = render(StatusCode::TOO_MANY_REQUESTS, &page);
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    let form =
        match csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &SignInForm| f.csrf.as_deref()) {
            Ok((form, _)) => form,
            Err(refusal) => return refused(refusal, "network sign-in", &RefusedPage),
        };
    let principal = match state.store.authenticate(form.token.trim()).await {
        Ok(principal) => principal,
        Err(e) => return unavailable("authentication", &e, NO_DATABASE),
    };
    match principal {
        Some(p) if may_see_the_network(p.user.role) => {
            let now = Utc::now();
            match state.store.open_session(p.user.id, Some(p.api_key), state.settings.session_policy(), now).await {
                Ok(opened) => {
                    tracing::info!(user = %p.user.id, session = %opened.session.id, "network page: signed in");
                    redirect("/network", session_cookie(&state, &opened.secret, state.settings.session_max.as_secs()))
                }
                Err(e) => unavailable("opening a session", &e, NO_DATABASE),
            }
        }
        Some(_) => sign_in_response(&state, &headers, StatusCode::FORBIDDEN, NOT_FOR_YOU),
        None => sign_in_response(&state, &headers, StatusCode::UNAUTHORIZED, "That token was not recognised."),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    if let Err(refusal) =
        csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &SignOutForm| f.csrf.as_deref())
    {
        return refused(refusal, "network sign-out", &RefusedPage);
    }
    if let Some(secret) = cookie_value(&headers, COOKIE_NAME)
        && let Err(e) = state.store.close_session(&secret).await
    {
        return unavailable(
            "closing a session",
            &e,
            "Trellis cannot reach its database, so you are still signed in. Please try again in a few minutes.",
        );
    }
    redirect("/network", session_cookie(&state, "", 0))
}

async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    let Some(secret) = cookie_value(&headers, COOKIE_NAME) else {
        return sign_in_response(&state, &headers, StatusCode::OK, "");
    };
    let principal = match state.store.session(&secret, state.settings.session_policy(), Utc::now()).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            let ended = "Your sign-in has ended. Please sign in again.";
            return sign_in_response(&state, &headers, StatusCode::UNAUTHORIZED, ended);
        }
        Err(e) => return unavailable("reading the session", &e, NO_DATABASE),
    };
    if !may_see_the_network(principal.user.role) {
        return sign_in_response(&state, &headers, StatusCode::FORBIDDEN, NOT_FOR_YOU);
    }
    let days = query.days.unwrap_or(90).clamp(1, 3650);
    let category = query.category.filter(|c| !c.trim().is_empty());
    // The turn is kept until the page is rendered; the page is far smaller than the graph.
    let turn = state.network.turn().await;
    match state.network.graph(&state.store, Period::LastDays(days), category.clone()).await {
        Ok((graph, statistics)) => {
            let network = network_from(graph, &statistics);
            drop(turn);
            let user = principal.user.name.clone();
            with_form(&state, &headers, StatusCode::OK, |csrf| {
                NetworkPage::new(&network, user, days, category.as_deref(), csrf)
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "network page: query failed");
            let page = ProblemPage { heading: "Something went wrong", message: "The network could not be drawn." };
            render(StatusCode::INTERNAL_SERVER_ERROR, &page)
        }
    }
}
