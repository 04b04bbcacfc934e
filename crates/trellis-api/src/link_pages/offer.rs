//! The provider's offer page behind an email link.
//!
//! A provider has no account: the link in the offer email (`/offers/{token}`) is its only key, to that
//! one offer. Mail scanners and link previewers open such links, and some run scripts, so opening the
//! page (`GET`) changes nothing but the audit log. The page shows the offer's summary (first name, age
//! band, needs, the link worker's note, the service) and real buttons in forms; acting is a `POST` to the
//! same address, answered with a redirect back to the page (POST/redirect/GET) that says what was done.
//! The answer to the accepting `POST` is the page itself, showing the person's contact details, with a
//! cookie that lets that browser see them again on reloading the page for a few minutes (see
//! [`reveal_cookie`]); any other opening of the link shows the accepted offer without them, and a button
//! to confirm the first attendance, which moves the referral to attending. The answer to that is the
//! page too: the link stops working once the first attendance is confirmed, or a week after acceptance
//! (`trellis_domain::offer::link`).
//!
//! Every `POST` is checked for forgery before anything else (see [`super::csrf`]). A link that is
//! unknown, altered or expired gets the kit's one plain page, the same in every case, so the page leaks
//! nothing about whether an offer exists. The token is never logged here; only the link's id is.
//!
//! # Layout
//! - `view`: the page models and how dates, needs and reasons are worded.
//! - `templates/provider_offer.html`: the askama template, plain HTML with inline CSS and no script, on
//!   the kit's layout; a refused POST gets the kit's `templates/link_refused.html`.

mod view;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::offer::{DeclineReason, OfferCommand};
use trellis_domain::referral::MAX_NOTE_CHARS;
use trellis_store::links::LinkAction;

use super::csrf;
use super::kit::{
    AntiForgery, LinkForm, checked_post, cookie_value, invalid_link, link_failed, problem, render_with_cookie,
    see_other, with_page_headers,
};
use crate::AppState;
use view::{Done, FormError, OfferPage};

/// The provider page routes: `GET` and `POST` `/offers/{token}`.
pub fn routes() -> Router<AppState> {
    with_page_headers(Router::new().route("/offers/{token}", get(show).post(act)))
}

/// The fields of the page's forms.
#[derive(Debug, Default, Deserialize)]
struct ActForm {
    csrf: Option<String>,
    action: Option<String>,
    reason: Option<String>,
    note: Option<String>,
    service: Option<String>,
    onward_note: Option<String>,
}

impl AntiForgery for ActForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `GET /offers/{token}`: the offer as the provider may see it. Changes nothing but the audit log.
async fn show(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(token)) = token else { return invalid_link() };
    let grant = cookie_value(&headers, REVEAL_COOKIE);
    match state.store.open_offer_link_revealing(&token, grant.as_deref(), Utc::now()).await {
        Ok(linked) => {
            tracing::debug!(link = %linked.link, "provider link opened");
            let csrf = csrf::from_cookie(&headers).unwrap_or_else(csrf::new_token);
            let done = Done::from_query(query.as_deref());
            let mut page = OfferPage::new(&linked, done, None, None, String::new(), csrf.clone());
            page.onward_services = onward_choices(&state, &linked, None).await;
            offer_page(StatusCode::OK, &page, &csrf, &state.settings.public_base_url)
        }
        Err(e) => link_failed(e),
    }
}

/// The offer page's form, as a refusal speaks of it.
const OFFER_FORM: LinkForm = LinkForm {
    name: "offer",
    sends: "answer",
    from: "its own offer page",
    instead: "Please open the link in the offer email again and answer on that page.",
};

/// `POST /offers/{token}`: the provider's answer, checked for forgery first.
async fn act(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<ActForm>, FormRejection>,
) -> Response {
    let (form, csrf, token) = match checked_post(&state, &headers, token, form, OFFER_FORM) {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    if form.action.as_deref().map(str::trim) == Some("onward") {
        return pass_on(&state, &token, &form, csrf).await;
    }
    let command = match command(&form) {
        Ok(command) => command,
        Err(Unusable::UnknownAction) => {
            return problem(StatusCode::BAD_REQUEST, "This answer was not understood", BAD_REQUEST_MESSAGE);
        }
        Err(Unusable::Fix { error, reason, note }) => {
            return redisplay(&state, &token, error, reason, note, csrf).await;
        }
    };
    match state.store.act_on_offer_link(&token, command, Utc::now()).await {
        Ok(LinkAction::Applied(linked)) => {
            tracing::info!(link = %linked.link, status = linked.view.offer.state.status.as_str(), "provider answered");
            let done = Done::of_status(linked.view.offer.state.status).unwrap_or(Done::Unchanged);
            match (&linked.reveal, done) {
                // The contact details, in answer to the acceptance itself, and a cookie to see them again
                // for a few minutes in this browser only.
                (Some(grant), _) => {
                    let page = OfferPage::new(&linked, Some(done), None, None, String::new(), csrf.clone());
                    let base = &state.settings.public_base_url;
                    let mut response = offer_page(StatusCode::OK, &page, &csrf, base);
                    let cookie = reveal_cookie(&token, &grant.token, grant.expires_at - Utc::now(), base);
                    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                        response.headers_mut().append(SET_COOKIE, cookie);
                    }
                    response
                }
                // The link stops working now: the confirmation is the answer, not a page to come back to.
                (None, Done::Attended) => {
                    let page = OfferPage::new(&linked, Some(done), None, None, String::new(), csrf.clone());
                    offer_page(StatusCode::OK, &page, &csrf, &state.settings.public_base_url)
                }
                (None, done) => see_page(&token, done),
            }
        }
        Ok(LinkAction::AlreadyDecided(linked)) => {
            tracing::info!(link = %linked.link, "provider answer changed nothing: already decided");
            see_page(&token, Done::Unchanged)
        }
        Err(e) => link_failed(e),
    }
}

/// Suggests another group for the person: an onward offer from this one, which the link worker hears of.
async fn pass_on(state: &AppState, token: &str, form: &ActForm, csrf: String) -> Response {
    let note = form.onward_note.as_deref().unwrap_or("").replace("\r\n", "\n").replace(['\r', '\t'], " ");
    let service = form.service.as_deref().and_then(|s| s.trim().parse::<trellis_domain::ServiceId>().ok());
    let fix = |message: &str, target: &'static str| FormError { message: message.into(), target };
    let note_ok = trellis_domain::values::required_text("onward_note", &note, MAX_NOTE_CHARS);
    let problem_with = match (service, &note_ok) {
        (None, _) => Some(fix("Choose the group you suggest.", "onward-service")),
        (_, Err(_)) => Some(fix("Say why the group would suit them (in at most 4000 characters).", "onward-note")),
        _ => None,
    };
    if let (Some(service), Ok(note), None) = (service, note_ok.clone(), problem_with.clone()) {
        let now = Utc::now();
        let timers = state.store.policy().offer_timers(now);
        return match state.store.propose_onward_via_link(token, service, Some(note), timers, now).await {
            Ok(Some(_)) => see_page(token, Done::PassedOn),
            Ok(None) => see_page(token, Done::Unchanged),
            Err(trellis_store::links::LinkError::Store(trellis_store::StoreError::UnknownReference(_))) => {
                redisplay_onward(
                    state,
                    token,
                    fix("That group is not taking offers: choose another.", "onward-service"),
                    form,
                    csrf,
                )
                .await
            }
            Err(e) => link_failed(e),
        };
    }
    let error = problem_with.unwrap_or_else(|| fix("Choose the group you suggest.", "onward-service"));
    redisplay_onward(state, token, error, form, csrf).await
}

/// The page again after a problem with the onward form (`422`), keeping what the provider chose.
async fn redisplay_onward(state: &AppState, token: &str, error: FormError, form: &ActForm, csrf: String) -> Response {
    match state.store.open_offer_link(token, Utc::now()).await {
        Ok(linked) => {
            let mut page = OfferPage::new(&linked, None, Some(error), None, String::new(), csrf.clone());
            page.onward_services = onward_choices(state, &linked, form.service.as_deref()).await;
            page.onward_note = form.onward_note.clone().unwrap_or_default();
            offer_page(StatusCode::UNPROCESSABLE_ENTITY, &page, &csrf, &state.settings.public_base_url)
        }
        Err(e) => link_failed(e),
    }
}

/// The other active services in the network, for the onward form (only once the provider has accepted).
async fn onward_choices(
    state: &AppState,
    linked: &trellis_store::links::LinkedOffer,
    chosen: Option<&str>,
) -> Vec<view::ServiceChoice> {
    use trellis_domain::offer::OfferStatus;
    if !matches!(linked.view.offer.state.status, OfferStatus::Accepted | OfferStatus::Started) {
        return Vec::new();
    }
    let (services, organisations) = match (state.store.services().await, state.store.organisations().await) {
        (Ok(s), Ok(o)) => (s, o),
        _ => return Vec::new(),
    };
    services
        .into_iter()
        .filter(|s| s.id != linked.view.offer.state.service)
        .map(|s| {
            let provider = organisations.iter().find(|o| o.id == s.organisation).map(|o| o.name.as_str()).unwrap_or("");
            let value = s.id.to_string();
            view::ServiceChoice {
                selected: chosen == Some(value.as_str()),
                label: format!("{} ({provider})", s.name),
                value,
            }
        })
        .collect()
}

/// Why a form cannot be acted on.
enum Unusable {
    /// Not one of the page's actions: only a hand-made request sends this.
    UnknownAction,
    /// Something the provider can put right on the page.
    Fix { error: FormError, reason: Option<DeclineReason>, note: String },
}

/// The command a form asks for, with its free text made acceptable to the domain first, so that a
/// refusal there can only mean the offer has moved on.
fn command(form: &ActForm) -> Result<OfferCommand, Unusable> {
    match form.action.as_deref().map(str::trim) {
        Some("accept") => Ok(OfferCommand::Accept),
        Some("waitlist") => Ok(OfferCommand::Waitlist),
        Some("attended") => Ok(OfferCommand::Start),
        Some("decline") => {
            // Browsers send a textarea's line breaks as CRLF; the domain keeps text to printable
            // characters and `\n`.
            let note = form.note.as_deref().unwrap_or("").replace("\r\n", "\n").replace(['\r', '\t'], " ");
            let reason = form.reason.as_deref().and_then(|r| DeclineReason::parse(r.trim()).ok());
            let fix = |message: &str, target| Unusable::Fix {
                error: FormError { message: message.into(), target },
                reason,
                note: note.clone(),
            };
            let Some(reason) = reason else {
                return Err(fix("Choose why you cannot offer a place.", "reason-at_capacity"));
            };
            if note.trim().chars().count() > MAX_NOTE_CHARS {
                return Err(fix(&format!("Keep the note to {MAX_NOTE_CHARS} characters or fewer."), "note"));
            }
            let note = trellis_domain::values::optional_text("note", Some(&note), MAX_NOTE_CHARS)
                .map_err(|_| fix("The note has characters that cannot be saved: please retype it.", "note"))?;
            Ok(OfferCommand::Decline { reason, note })
        }
        _ => Err(Unusable::UnknownAction),
    }
}

/// The page again, with what to put right (`422`), keeping what the provider wrote.
async fn redisplay(
    state: &AppState,
    token: &str,
    error: FormError,
    reason: Option<DeclineReason>,
    note: String,
    csrf: String,
) -> Response {
    match state.store.open_offer_link(token, Utc::now()).await {
        Ok(linked) => {
            let page = OfferPage::new(&linked, None, Some(error), reason, note, csrf.clone());
            offer_page(StatusCode::UNPROCESSABLE_ENTITY, &page, &csrf, &state.settings.public_base_url)
        }
        Err(e) => link_failed(e),
    }
}

/// The cookie holding a [`trellis_store::links::RevealGrant`]: the accepting browser's proof that it may
/// see the contact details again for a few minutes.
const REVEAL_COOKIE: &str = "trellis_offer_reveal";

/// The `Set-Cookie` value carrying a reveal grant: sent back only to this link's own page (`Path`), never
/// to another site or script (`SameSite=Strict`, `HttpOnly`), kept no longer than the grant (`Max-Age`),
/// and `Secure` when Trellis is served over HTTPS. The grant itself is bound to the link in the store, so
/// the value shows nothing anywhere else.
fn reveal_cookie(link_token: &str, grant: &str, lasts: chrono::TimeDelta, public_base_url: &str) -> String {
    let secure = if public_base_url.to_ascii_lowercase().starts_with("https://") { "; Secure" } else { "" };
    let seconds = lasts.num_seconds().max(0);
    format!("{REVEAL_COOKIE}={grant}; Path=/offers/{link_token}; Max-Age={seconds}; HttpOnly; SameSite=Strict{secure}")
}

fn offer_page(status: StatusCode, page: &OfferPage, csrf: &str, public_base_url: &str) -> Response {
    render_with_cookie(status, page, &csrf::set_cookie(csrf, public_base_url))
}

/// `303 See Other` back to the page, saying what was done.
fn see_page(token: &str, done: Done) -> Response {
    see_other(&format!("/offers/{token}?done={}", done.as_str()))
}

const BAD_REQUEST_MESSAGE: &str =
    "Nothing was changed. Please go back to the offer page, reload it, and choose one of its buttons.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reveal_cookie_is_strict_http_only_scoped_to_its_link_short_lived_and_secure_over_https() {
        let minutes = chrono::TimeDelta::minutes(10);
        assert_eq!(
            reveal_cookie("tro_ab", "trv_cd", minutes, "https://t.example"),
            "trellis_offer_reveal=trv_cd; Path=/offers/tro_ab; Max-Age=600; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!reveal_cookie("tro_ab", "trv_cd", minutes, "http://127.0.0.1:8080").contains("Secure"));
        assert!(reveal_cookie("tro_ab", "trv_cd", -minutes, "http://x").contains("Max-Age=0;"));
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_static("a=1; trellis_offer_reveal=trv_0f"));
        assert_eq!(cookie_value(&headers, REVEAL_COOKIE).as_deref(), Some("trv_0f"));
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_static("trellis_offer_reveal=x;y"));
        assert_eq!(cookie_value(&headers, "trellis_offer_reveal").as_deref(), Some("x"));
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_static("trellis_offer_reveal=%27"));
        assert_eq!(cookie_value(&headers, REVEAL_COOKIE), None);
    }
}
