//! The provider's capacity page behind the link in a capacity-check email (`/capacity/{token}`).
//!
//! Like the offer page (see [`super::offer`]), and made with the same kit ([`super::kit`]): the link is the
//! provider's only key, to one service; opening it (`GET`) changes nothing at all; the change is a
//! `POST` from the page, checked for forgery first (the same double-submit token and
//! `Sec-Fetch-Site` / `Origin` checks, with the cookie scoped to `/capacity`), and answered with a
//! redirect back to the page (POST/redirect/GET) that confirms what was saved. Impossible numbers get
//! the page again, saying what to put right and keeping what was typed, and change nothing. The form
//! carries the service's version as the page read it: numbers saved from a page that an accepted offer
//! or another save has since overtaken are refused (`409`) and the page shows what is recorded now,
//! so a place taken meanwhile is never silently given back. A link that
//! is unknown, altered or expired gets the offer page's one plain "not valid" page. The token is never
//! logged here; only the link's id is.
//!
//! The page also lets the provider change the address its offers are emailed to (a second form,
//! `action=email`): the provider's own choice, which the network lead cannot make for it. The change is
//! audited with both addresses and the old address is told (`Store::change_service_email_via_link`).

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::directory::CapacityStatus;
use trellis_store::capacity_checks::{CapacityProblem, CapacityUpdate, CapacityUpdateError, LinkedService, MAX_PLACES};

use super::csrf;
use super::kit::{
    AntiForgery, LinkForm, checked_post, day, invalid_link, link_failed, render_with_cookie, see_other,
    with_page_headers,
};
use crate::AppState;

/// Where the page lives; also the anti-forgery cookie's path.
const PATH_PREFIX: &str = "/capacity";

/// The capacity page routes: `GET` and `POST` `/capacity/{token}`, with the offer page's headers.
pub fn routes() -> Router<AppState> {
    with_page_headers(Router::new().route("/capacity/{token}", get(show).post(update)))
}

/// The fields of the page's form.
#[derive(Debug, Default, Deserialize)]
struct UpdateForm {
    csrf: Option<String>,
    version: Option<String>,
    available: Option<String>,
    maximum: Option<String>,
    status: Option<String>,
    /// `email` for the form that changes where offers go; absent for the capacity form.
    action: Option<String>,
    email: Option<String>,
}

impl AntiForgery for UpdateForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `GET /capacity/{token}`: the service's capacity as recorded, and the form to change it. Writes
/// nothing.
async fn show(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(token)) = token else { return invalid_link() };
    match state.store.open_service_link(&token, Utc::now()).await {
        Ok(linked) => {
            tracing::debug!(link = %linked.link, "capacity link opened");
            let csrf = csrf::from_cookie(&headers).unwrap_or_else(csrf::new_token);
            let saved = done_flag(query.as_deref()) && linked.last_used_at.is_some();
            let mut page = CapacityPage::new(&linked, Entered::recorded(&linked), vec![], saved, &state, csrf.clone());
            if email_done_flag(query.as_deref()) && linked.last_used_at.is_some() {
                page.notice = Some(format!(
                    "Thank you: offers for {} now go to {}. The address they went to before has been told.",
                    linked.service_name,
                    linked.offers_email.as_deref().unwrap_or("your organisation's address")
                ));
            }
            capacity_page(StatusCode::OK, &page, &csrf, &state.settings.public_base_url)
        }
        Err(e) => link_failed(e),
    }
}

/// The capacity page's form, as a refusal speaks of it.
const CAPACITY_FORM: LinkForm = LinkForm {
    name: "capacity",
    sends: "update",
    from: "its own page",
    instead: "Please open the link in the email again and update the places on that page.",
};

/// `POST /capacity/{token}`: new capacity, checked for forgery first, then for sense.
async fn update(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<UpdateForm>, FormRejection>,
) -> Response {
    let (form, csrf, token) = match checked_post(&state, &headers, token, form, CAPACITY_FORM) {
        Ok(checked) => checked,
        Err(answer) => return *answer,
    };
    if form.action.as_deref().map(str::trim) == Some("email") {
        return change_email(&state, &token, &form, csrf).await;
    }
    let entered = Entered::from_form(&form);
    let capacity = match parse(&form) {
        Ok(capacity) => capacity,
        Err(errors) => return redisplay(&state, &token, entered, errors, csrf, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    // A page without a version (or with one that is not a number) was not made by this server as it is
    // now: 0 is never a service's version, so it is answered as out of date.
    let expected = form.version.as_deref().and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
    match state.store.update_capacity_via_link(&token, expected, capacity, Utc::now()).await {
        Ok(saved) => {
            tracing::info!(
                available = saved.available,
                maximum = saved.maximum,
                status = saved.status.as_str(),
                "capacity updated through a link"
            );
            see_page(&token)
        }
        Err(CapacityUpdateError::Rejected(problems)) => {
            let errors = problems.iter().map(FieldError::of_problem).collect();
            redisplay(&state, &token, entered, errors, csrf, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(CapacityUpdateError::Conflict { expected, current }) => {
            tracing::info!(expected, current, "capacity update refused: the page was out of date");
            let errors = vec![FieldError::out_of_date()];
            redisplay(&state, &token, entered, errors, csrf, StatusCode::CONFLICT).await
        }
        Err(CapacityUpdateError::Link(e)) => link_failed(e),
    }
}

/// Changes where the service's offers are emailed, from the page's second form.
async fn change_email(state: &AppState, token: &str, form: &UpdateForm, csrf: String) -> Response {
    let typed = form.email.as_deref().unwrap_or("").trim();
    let Ok(email) = trellis_domain::values::EmailAddress::parse(typed) else {
        let error = FieldError::new("email", "Enter an email address in the right form, like groups@example.org");
        let entered = Entered { email: Some(typed.chars().take(254).collect()), ..Entered::default() };
        return redisplay(state, token, entered, vec![error], csrf, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    match state.store.change_service_email_via_link(token, &email, Utc::now()).await {
        Ok(changed) => {
            tracing::info!(changed, "a service's offer email changed through a capacity link");
            see_other(&format!("{PATH_PREFIX}/{token}?done=email"))
        }
        Err(e) => link_failed(e),
    }
}

/// The page again (`422` for numbers to put right, `409` when it was out of date), saying what to do,
/// keeping what was typed, and showing what is recorded now (with its version, for the next save).
async fn redisplay(
    state: &AppState,
    token: &str,
    entered: Entered,
    errors: Vec<FieldError>,
    csrf: String,
    status: StatusCode,
) -> Response {
    match state.store.open_service_link(token, Utc::now()).await {
        Ok(linked) => {
            let entered = if entered.email.is_some() {
                Entered { email: entered.email, ..Entered::recorded(&linked) }
            } else {
                entered
            };
            let page = CapacityPage::new(&linked, entered, errors, false, state, csrf.clone());
            capacity_page(status, &page, &csrf, &state.settings.public_base_url)
        }
        Err(e) => link_failed(e),
    }
}

fn capacity_page(status: StatusCode, page: &CapacityPage, csrf: &str, public_base_url: &str) -> Response {
    render_with_cookie(status, page, &set_cookie(csrf, public_base_url))
}

/// The anti-forgery cookie, as the offer page sets it but sent only to `/capacity`.
fn set_cookie(token: &str, public_base_url: &str) -> String {
    csrf::cookie_for_path(token, PATH_PREFIX, public_base_url)
}

/// `303 See Other` back to the page, confirming the update.
fn see_page(token: &str) -> Response {
    see_other(&format!("{PATH_PREFIX}/{token}?done=updated"))
}

/// Whether the query says an update was just saved (`done=updated`).
fn done_flag(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|pair| pair == "done=updated"))
}

/// Whether the query says the offers' email address was just saved (`done=email`).
fn email_done_flag(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|pair| pair == "done=email"))
}

// ---------------------------------------------------------------------------------------------------------
// Reading the form.

/// A problem with what the provider sent, shown in the summary (linking to the control) and by the
/// control itself.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldError {
    /// `available`, `maximum`, `status` or `email`.
    field: &'static str,
    /// The id of the control to fix.
    target: &'static str,
    /// What went wrong and what to do.
    message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        let target = if field == "status" { "status-open" } else { field };
        FieldError { field, target, message: message.into() }
    }

    /// The page was read before an offer took a place or someone else saved: no single field is wrong,
    /// so the summary points at the first number to check again.
    fn out_of_date() -> FieldError {
        FieldError {
            field: "version",
            target: "available",
            message: "The places changed after you opened this page, so nothing was saved. \
                      Check what Trellis has now, then save again"
                .to_owned(),
        }
    }

    fn of_problem(problem: &CapacityProblem) -> FieldError {
        let message = match *problem {
            CapacityProblem::AvailableNegative { .. } => "Places free cannot be less than 0".to_owned(),
            CapacityProblem::MaximumOutOfRange { .. } => {
                format!("Places in all must be a number from 0 to {}", thousands(MAX_PLACES))
            }
            CapacityProblem::AvailableAboveMaximum { available, maximum } => {
                format!("Places free ({available}) cannot be more than places in all ({maximum})")
            }
        };
        FieldError::new(problem.field(), message)
    }
}

/// `10000` as `10,000`.
fn thousands(n: i32) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A whole number as typed: spaces around it are fine; a number too large for the store is kept as
/// the largest it can hold, so that it is refused as too large rather than as not a number.
fn whole_number(typed: Option<&str>) -> Option<i32> {
    let typed = typed?.trim();
    let digits = typed.strip_prefix('-').unwrap_or(typed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match typed.parse::<i64>() {
        Ok(n) => Some(i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })),
        Err(_) => Some(if typed.starts_with('-') { i32::MIN } else { i32::MAX }),
    }
}

/// The update a form asks for, or what to put right first. The store checks the numbers make sense.
fn parse(form: &UpdateForm) -> Result<CapacityUpdate, Vec<FieldError>> {
    let available = whole_number(form.available.as_deref());
    let maximum = whole_number(form.maximum.as_deref());
    let status = form.status.as_deref().and_then(|s| CapacityStatus::parse(s.trim()).ok());
    match (available, maximum, status) {
        (Some(available), Some(maximum), Some(status)) => Ok(CapacityUpdate { available, maximum, status }),
        _ => {
            let mut errors = Vec::new();
            if available.is_none() {
                errors.push(FieldError::new("available", "Enter how many places are free, as a whole number like 5"));
            }
            if maximum.is_none() {
                errors.push(FieldError::new(
                    "maximum",
                    "Enter how many places there are in all, as a whole number like 20",
                ));
            }
            if status.is_none() {
                errors.push(FieldError::new("status", "Choose whether you are taking people now"));
            }
            Err(errors)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The page.

/// What the form's controls hold: the recorded capacity on opening, what was typed after a problem.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Entered {
    available: String,
    maximum: String,
    status: Option<String>,
    /// What was typed as the new offers' address, after a problem with it.
    email: Option<String>,
}

impl Entered {
    fn recorded(linked: &LinkedService) -> Entered {
        match &linked.capacity {
            Some(c) => Entered {
                available: c.available.to_string(),
                maximum: c.maximum.to_string(),
                status: Some(c.status.as_str().to_owned()),
                email: None,
            },
            None => Entered::default(),
        }
    }

    fn from_form(form: &UpdateForm) -> Entered {
        // Only what fits in the box is worth showing again.
        let keep = |s: &Option<String>| s.as_deref().unwrap_or("").trim().chars().take(20).collect();
        Entered {
            available: keep(&form.available),
            maximum: keep(&form.maximum),
            status: form.status.clone(),
            email: None,
        }
    }
}

/// The capacity as recorded, in words.
struct Recorded {
    status: &'static str,
    places: String,
    updated: String,
}

/// One status as a radio button.
struct StatusChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// How a capacity status reads on the page.
fn status_label(status: CapacityStatus) -> &'static str {
    match status {
        CapacityStatus::Open => "Yes, we are taking people now",
        CapacityStatus::Waitlist => "We are taking names for a waiting list",
        CapacityStatus::Closed => "No, we are not taking anyone at the moment",
    }
}

/// The capacity page.
#[derive(Template)]
#[template(path = "capacity_page.html")]
struct CapacityPage {
    service: String,
    provider: String,
    notice: Option<String>,
    recorded: Option<Recorded>,
    stale_note: Option<String>,
    errors: Vec<FieldError>,
    available: String,
    available_error: Option<String>,
    maximum: String,
    maximum_error: Option<String>,
    statuses: Vec<StatusChoice>,
    status_error: Option<String>,
    /// Where offers go now, if anywhere.
    offers_email: Option<String>,
    /// What the new-address box holds.
    email: String,
    email_error: Option<String>,
    link_expires: String,
    csrf_field: &'static str,
    csrf: String,
    version: u32,
}

impl CapacityPage {
    fn new(
        linked: &LinkedService,
        entered: Entered,
        errors: Vec<FieldError>,
        saved: bool,
        state: &AppState,
        csrf: String,
    ) -> Self {
        let error_for = |field: &str| errors.iter().find(|e| e.field == field).map(|e| format!("{}.", e.message));
        let recorded = linked.capacity.as_ref().map(|c| Recorded {
            status: status_label(c.status),
            places: format!("{} of {} {} free", c.available, c.maximum, c.unit),
            updated: day(c.updated_at),
        });
        let stale_note = (linked.stale && linked.capacity.is_some()).then(|| {
            format!(
                "This was last confirmed more than {} days ago: please check it is still right.",
                state.store.policy().capacity_stale_after().num_days()
            )
        });
        CapacityPage {
            service: linked.service_name.clone(),
            provider: linked.provider_name.clone(),
            notice: saved.then(|| {
                format!("Thank you: the places at {} are saved. Link workers see them now.", linked.service_name)
            }),
            recorded,
            stale_note,
            available_error: error_for("available"),
            maximum_error: error_for("maximum"),
            status_error: error_for("status"),
            statuses: CapacityStatus::ALL
                .iter()
                .map(|s| StatusChoice {
                    value: s.as_str(),
                    label: status_label(*s),
                    checked: entered.status.as_deref() == Some(s.as_str()),
                })
                .collect(),
            offers_email: linked.offers_email.clone(),
            email: entered.email.clone().unwrap_or_default(),
            email_error: error_for("email"),
            available: entered.available,
            maximum: entered.maximum,
            errors,
            link_expires: day(linked.expires_at),
            csrf_field: csrf::FIELD_NAME,
            csrf,
            version: linked.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(available: &str, maximum: &str, status: Option<&str>) -> UpdateForm {
        UpdateForm {
            csrf: None,
            version: Some("1".into()),
            available: Some(available.into()),
            maximum: Some(maximum.into()),
            status: status.map(String::from),
            ..UpdateForm::default()
        }
    }

    #[test]
    fn whole_numbers_are_read_as_typed_and_huge_ones_kept_as_too_large() {
        assert_eq!(whole_number(Some(" 12 ")), Some(12));
        assert_eq!(whole_number(Some("0")), Some(0));
        assert_eq!(whole_number(Some("-3")), Some(-3));
        assert_eq!(whole_number(Some("99999999999999999999999")), Some(i32::MAX));
        assert_eq!(whole_number(Some("-99999999999")), Some(i32::MIN));
        for bad in ["", " ", "1.5", "five", "1e3", "+4", "--1", "-", "12a", "1 000"] {
            assert_eq!(whole_number(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(whole_number(None), None);
    }

    #[test]
    fn a_form_becomes_an_update_or_says_what_to_put_right() {
        assert_eq!(
            parse(&form("3", "10", Some("waitlist"))),
            Ok(CapacityUpdate { available: 3, maximum: 10, status: CapacityStatus::Waitlist })
        );
        let errors = parse(&form("x", "", Some("maybe"))).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.field, e.target)).collect();
        assert_eq!(fields, [("available", "available"), ("maximum", "maximum"), ("status", "status-open")]);
        assert_eq!(parse(&form("1", "2", None)).unwrap_err()[0].message, "Choose whether you are taking people now");
    }

    #[test]
    fn impossible_numbers_are_explained_in_words() {
        let e = FieldError::of_problem(&CapacityProblem::AvailableAboveMaximum { available: 12, maximum: 10 });
        assert_eq!(
            (e.field, e.message.as_str()),
            ("available", "Places free (12) cannot be more than places in all (10)")
        );
        let e = FieldError::of_problem(&CapacityProblem::MaximumOutOfRange { maximum: 10_001 });
        assert_eq!((e.field, e.message.as_str()), ("maximum", "Places in all must be a number from 0 to 10,000"));
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn only_the_done_flag_itself_confirms_a_save() {
        assert!(done_flag(Some("done=updated")));
        assert!(done_flag(Some("x=1&done=updated")));
        assert!(!done_flag(Some("done=updatedx")));
        assert!(!done_flag(None));
    }

    #[test]
    fn the_cookie_is_strict_http_only_scoped_to_capacity_and_secure_over_https() {
        assert_eq!(
            set_cookie("ab", "https://trellis.example"),
            format!("{}=ab; Path=/capacity; HttpOnly; SameSite=Strict; Secure", csrf::COOKIE_NAME)
        );
        assert!(!set_cookie("ab", "http://127.0.0.1:8080").contains("Secure"));
    }
}
