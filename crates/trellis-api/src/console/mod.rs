//! The staff web console: server-rendered pages for GP practices, link workers and network leads,
//! signed in by a link emailed to their work address ([`sign_in`]).
//!
//! - A session is server-side ([`trellis_store::sessions`]): the `trellis_session` cookie holds only a
//!   random id whose hash the database keeps; it ends when idle, after an absolute limit, on sign-out,
//!   and at once when its user is disabled.
//! - Every POST passes the link pages' anti-forgery checks ([`crate::link_pages::csrf`]): the
//!   browser's own `Sec-Fetch-Site` / `Origin`, and a double-submit token in a cookie and a hidden field.
//! - Handlers parse, then call the store functions GraphQL calls; access rules live there, not here.

mod actions;
mod caseload;
mod casework;
mod conflict;
mod directory;
mod find_services;
mod imports;
mod pages;
mod referral_form;
mod referral_list;
mod referrals;
mod sign_in;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use trellis_domain::Role;
use trellis_store::sessions::SessionPrincipal;

use crate::AppState;
use crate::link_pages::csrf;
use crate::link_pages::kit::{render, with_page_headers};

pub(crate) use pages::Shell;

/// The session cookie's name.
const SESSION_COOKIE: &str = "trellis_session";

/// The console's routes, with the link pages' headers (no caching, no referrer, a policy that loads
/// nothing but the page's own styles, no framing).
pub fn routes() -> Router<AppState> {
    let router = Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in::form).post(sign_in::request))
        .route("/sign-in/{token}", get(sign_in::confirm).post(sign_in::redeem))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/referrals", get(referrals::list))
        .route("/caseload", get(caseload::show))
        .route("/referrals/new", get(referral_form::form).post(referral_form::submit))
        .route("/referrals/{id}", get(referrals::show))
        .route("/referrals/{id}/withdraw", post(referrals::withdraw))
        .merge(actions::routes())
        .route("/directory", get(directory::list))
        .route("/directory/imports", get(imports::list))
        .route("/directory/services/new", get(directory::new_form).post(directory::create))
        .route("/directory/services/{id}", get(directory::show).post(directory::save_details))
        .route("/directory/services/{id}/capacity", post(directory::save_capacity));
    with_page_headers(router)
}

/// Where a signed-in person starts.
fn start_page(role: Role) -> &'static str {
    match role {
        Role::NetworkLead => "/network",
        Role::LinkWorker => "/caseload",
        _ => "/referrals",
    }
}

async fn home(state: axum::extract::State<AppState>, headers: HeaderMap) -> Response {
    match signed_in(&state, &headers).await {
        Ok(Some(staff)) => see_other(start_page(staff.user.role)),
        Ok(None) => see_other("/sign-in"),
        Err(response) => response,
    }
}

/// The session secret in the request's cookie, if any.
fn session_secret(headers: &HeaderMap) -> Option<String> {
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_owned())
    })
}

/// Who is signed in, if anyone: `Err` only when the database cannot say.
pub(crate) async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionPrincipal>, Response> {
    let Some(secret) = session_secret(headers) else { return Ok(None) };
    state.store.session(&secret, state.settings.session_policy(), Utc::now()).await.map_err(|e| failure(&e))
}

/// The signed-in member of staff a console handler serves: extracting it sends anyone else to
/// sign in (or shows the failure page when the database cannot say).
pub(crate) struct Staff(pub SessionPrincipal);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        signed_in(state, &parts.headers).await?.map(Staff).ok_or_else(|| see_other("/sign-in"))
    }
}

/// The `Set-Cookie` value for the session cookie (`""` with `Max-Age=0` ends it).
fn session_cookie(state: &AppState, value: &str, max_age_secs: u64) -> String {
    let secure = if state.settings.is_https() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// The anti-forgery token the browser holds, or a new one and the cookie that sets it.
pub(crate) fn form_token(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match csrf::from_cookie(headers) {
        Some(token) => (token, None),
        None => {
            let token = csrf::new_token();
            let cookie = csrf::cookie_for_path(&token, "/", &state.settings.public_base_url);
            (token, Some(cookie))
        }
    }
}

/// Renders `page`, setting the anti-forgery cookie when it is new.
pub(crate) fn page(status: StatusCode, page: &impl askama::Template, cookie: Option<String>) -> Response {
    let mut response = render(status, page);
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(SET_COOKIE, v);
    }
    response
}

/// `303 See Other` to one of the console's own paths.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

/// A plain page saying what went wrong.
pub(crate) fn problem(status: StatusCode, shell: Option<Shell>, heading: &str, message: &str) -> Response {
    render(status, &pages::ProblemPage { shell, heading: heading.into(), message: message.into() })
}

/// A form posted as name/value pairs, for forms whose fields vary (the directory's, the referral form).
pub(crate) type Posted = std::collections::HashMap<String, String>;

/// A posted form that passed the anti-forgery checks, with the frame of the page that answers it (which
/// carries the token for that page's forms); or the refusal page, naming `what` in the log.
#[allow(clippy::result_large_err, reason = "the refusal is a whole response, returned at once by the handler")]
pub(crate) fn checked_form(
    state: &AppState,
    headers: &HeaderMap,
    staff: &trellis_store::sessions::SessionPrincipal,
    form: Result<axum::Form<Posted>, axum::extract::rejection::FormRejection>,
    what: &str,
) -> Result<(Posted, Shell), Response> {
    csrf::check_form(headers, &state.settings.public_base_url, form, |f: &Posted| f.get("csrf").map(String::as_str))
        .map(|(posted, csrf)| (posted, Shell::of(staff, csrf)))
        .map_err(|refusal| refused(refusal, what))
}

/// A POST the anti-forgery checks refused.
pub(crate) fn refused(refusal: csrf::Refusal, form: &str) -> Response {
    tracing::warn!(refusal = refusal.as_str(), form, "console: a POST that may be forged was refused");
    problem(
        StatusCode::FORBIDDEN,
        None,
        "This form could not be sent",
        "Nothing was changed. Go back, reload the page and try again.",
    )
}

/// The store failed: logged (never a secret or a person's details), and a plain page.
pub(crate) fn failure(e: &trellis_store::StoreError) -> Response {
    if matches!(e, trellis_store::StoreError::Contended) {
        tracing::warn!("console: a change met another saved at the same moment and was not saved");
        return problem(
            StatusCode::CONFLICT,
            None,
            "Nothing was saved",
            "Someone else was saving a change to the same records at the same moment. Go back and try again.",
        );
    }
    tracing::error!(error = %e, "console: the store failed");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "Sorry, there is a problem with the service",
        "Nothing may have been saved. Try again in a few minutes.",
    )
}
