//! Signing in by an emailed link, and signing out.
//!
//! `POST /sign-in` answers the same for every address, known or not, and is limited per client address
//! and per address typed. `GET /sign-in/{token}` changes nothing (mail scanners follow links); its form
//! POSTs back to spend the link and open a session.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::values::EmailAddress;

use super::pages::{CheckEmailPage, ConfirmSignInPage, LinkEndedPage, SignInPage};
use super::{failure, form_token, page, refused, see_other, session_cookie, session_secret, start_page};
use crate::AppState;
use crate::auth::RateLimiter;
use crate::link_pages::csrf;

/// The email form.
#[derive(Deserialize)]
pub struct EmailForm {
    email: Option<String>,
    csrf: Option<String>,
}

/// The confirm and sign-out forms.
#[derive(Deserialize)]
pub struct TokenOnlyForm {
    csrf: Option<String>,
}

pub(super) async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    page(StatusCode::OK, &SignInPage { csrf, email: String::new(), error: None }, cookie)
}

fn too_many() -> Response {
    let mut response = super::problem(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "Too many sign-in attempts",
        "Wait a few minutes, then ask for a new sign-in link.",
    );
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("300"));
    response
}

pub(super) async fn request(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<EmailForm>, FormRejection>,
) -> Response {
    if !state.sign_ins.check(&RateLimiter::address_key(peer.ip())) {
        return too_many();
    }
    let (form, csrf) =
        match csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &EmailForm| f.csrf.as_deref()) {
            Ok(checked) => checked,
            Err(refusal) => return refused(refusal, "sign-in"),
        };
    let typed = form.email.unwrap_or_default();
    let Ok(address) = EmailAddress::parse(&typed) else {
        let error = if typed.trim().is_empty() {
            "Enter your work email address"
        } else {
            "Enter an email address in the correct format, like name@example.nhs.uk"
        };
        let page_ = SignInPage { csrf, email: typed.trim().to_owned(), error: Some(error.into()) };
        return page(StatusCode::UNPROCESSABLE_ENTITY, &page_, None);
    };
    if !state.sign_in_emails.check(&RateLimiter::token_key(&address.as_str().to_ascii_lowercase())) {
        return too_many();
    }
    match state.store.request_sign_in(address.as_str(), Utc::now()).await {
        Ok(sent) => tracing::info!(sent, "console: sign-in link asked for"),
        Err(e) => return failure(&e),
    }
    page(StatusCode::OK, &CheckEmailPage { email: address.as_str().to_owned() }, None)
}

fn link_ended() -> Response {
    page(StatusCode::NOT_FOUND, &LinkEndedPage, None)
}

pub(super) async fn confirm(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    match state.store.sign_in_link_user(&token, Utc::now()).await {
        Ok(Some(user)) => {
            let (csrf, cookie) = form_token(&state, &headers);
            page(StatusCode::OK, &ConfirmSignInPage { csrf, token, name: user.name }, cookie)
        }
        Ok(None) => link_ended(),
        Err(e) => failure(&e),
    }
}

pub(super) async fn redeem(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    form: Result<Form<TokenOnlyForm>, FormRejection>,
) -> Response {
    if let Err(refusal) =
        csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &TokenOnlyForm| f.csrf.as_deref())
    {
        return refused(refusal, "sign-in confirmation");
    }
    let now = Utc::now();
    let user = match state.store.redeem_sign_in_link(&token, now).await {
        Ok(Some(user)) => user,
        Ok(None) => return link_ended(),
        Err(e) => return failure(&e),
    };
    let opened = match state.store.open_session(user.id, None, state.settings.session_policy(), now).await {
        Ok(opened) => opened,
        Err(e) => return failure(&e),
    };
    tracing::info!(user = %user.id, session = %opened.session.id, "console: signed in");
    let mut response = see_other(start_page(user.role));
    let cookie = session_cookie(&state, &opened.secret, state.settings.session_max.as_secs());
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, v);
    }
    response
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenOnlyForm>, FormRejection>,
) -> Response {
    if let Err(refusal) =
        csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &TokenOnlyForm| f.csrf.as_deref())
    {
        return refused(refusal, "sign-out");
    }
    if let Some(secret) = session_secret(&headers)
        && let Err(e) = state.store.close_session(&secret).await
    {
        return failure(&e);
    }
    let mut response = see_other("/sign-in");
    if let Ok(v) = HeaderValue::from_str(&session_cookie(&state, "", 0)) {
        response.headers_mut().append(SET_COOKIE, v);
    }
    response
}
