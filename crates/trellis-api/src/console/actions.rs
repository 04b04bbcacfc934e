//! What a link worker does to a referral from its page: each a small form, posted with the page's
//! anti-forgery token and the version the page showed, parsed here and handed to the same store
//! functions GraphQL calls (`schema/mutation.rs`). The store and the domain decide who may: a refusal
//! comes back as the page again with the error at the field and what was typed kept, and a stale
//! version as the conflict page ([`super::conflict`]).

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::offer::OfferCommand;
use trellis_domain::referral::{ClosureReason, Note, ReferralCommand};
use trellis_domain::values::{self as v, ValueError};
use trellis_domain::wellbeing::NoFollowUpReason;
use trellis_domain::{DomainError, OfferId, ReferralId, ServiceId, UserId};
use trellis_store::StoreError;
use trellis_store::offers::OfferRequest;

use super::casework::{CaseworkPage, FormError, Loaded, ShowQuery, Typed};
use super::find_services::{OfferFormPage, offer_form_page};
use super::{Shell, Staff, conflict, failure, form_token, page, problem, refused, see_other};
use crate::AppState;
use crate::link_pages::csrf;

/// Every action form's fields; each form sends the ones it has.
#[derive(Deserialize, Default, Clone, Debug)]
pub struct ActionForm {
    pub(crate) csrf: Option<String>,
    /// The referral's version the page showed.
    pub(crate) version: Option<String>,
    /// The offer's version the page showed (offer updates).
    pub(crate) offer_version: Option<String>,
    pub(crate) note: Option<String>,
    pub(crate) for_gp: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) no_follow_up: Option<String>,
    pub(crate) service: Option<String>,
    pub(crate) update: Option<String>,
}

/// Which form was posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Assign,
    Attempt,
    Contact,
    Attendance,
    EndActivity,
    Close,
    Offer,
    UpdateOffer(OfferId),
}

impl Action {
    /// The form's name on the page (and the prefix of its fields' ids).
    pub(crate) fn form(self) -> String {
        match self {
            Action::Assign => "assign".into(),
            Action::Attempt => "attempt".into(),
            Action::Contact => "contact".into(),
            Action::Attendance => "attendance".into(),
            Action::EndActivity => "end-activity".into(),
            Action::Close => "close".into(),
            Action::Offer => "offer".into(),
            Action::UpdateOffer(id) => format!("offer-{id}"),
        }
    }

    /// Where the form posts.
    pub(crate) fn path(self, referral: ReferralId) -> String {
        match self {
            Action::Assign => format!("/referrals/{referral}/assign"),
            Action::Attempt => format!("/referrals/{referral}/contact-attempt"),
            Action::Contact => format!("/referrals/{referral}/contact"),
            Action::Attendance => format!("/referrals/{referral}/attendance"),
            Action::EndActivity => format!("/referrals/{referral}/end-activity"),
            Action::Close => format!("/referrals/{referral}/close"),
            Action::Offer => format!("/referrals/{referral}/offer"),
            Action::UpdateOffer(offer) => format!("/referrals/{referral}/offers/{offer}"),
        }
    }

    /// What the form does, in words.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Action::Assign => "Assign the referral",
            Action::Attempt => "Record a contact attempt",
            Action::Contact => "Record first contact",
            Action::Attendance => "Record attendance",
            Action::EndActivity => "End the activity",
            Action::Close => "Close the referral",
            Action::Offer => "Offer to a service",
            Action::UpdateOffer(_) => "Update the offer",
        }
    }

    /// The `?done=` the referral page shows after it.
    fn done(self) -> &'static str {
        match self {
            Action::Assign => "assigned",
            Action::Attempt => "attempt",
            Action::Contact => "contacted",
            Action::Attendance => "attendance",
            Action::EndActivity => "activity-ended",
            Action::Close => "closed",
            Action::Offer => "offered",
            Action::UpdateOffer(_) => "offer-updated",
        }
    }

    /// The element id of the form's first field: where an error with no field of its own points.
    pub(crate) fn first_field(self) -> String {
        match self {
            Action::Assign => "assign-to".into(),
            Action::Close => "close-reason".into(),
            Action::Offer => "offer-note".into(),
            Action::UpdateOffer(id) => format!("offer-{id}-update"),
            other => format!("{}-note", other.form()),
        }
    }
}

/// What the form typed, to show again.
pub(crate) fn typed(action: Action, form: &ActionForm) -> Typed {
    Typed {
        form: action.form(),
        note: form.note.clone().unwrap_or_default(),
        for_gp: form.for_gp.is_some(),
        to: form.to.clone().unwrap_or_default(),
        reason: form.reason.clone().unwrap_or_default(),
        no_follow_up: form.no_follow_up.clone().unwrap_or_default(),
        update: form.update.clone().unwrap_or_default(),
    }
}

/// A parsed change, ready for the store.
enum Change {
    Referral { command: ReferralCommand },
    Close { reason: ClosureReason, note: Option<Note>, no_follow_up: Option<NoFollowUpReason> },
    Offer { service: ServiceId, note: Option<String> },
    UpdateOffer { offer: OfferId, version: u32, command: OfferCommand },
}

fn note_of(form: &ActionForm) -> Option<String> {
    form.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned)
}

/// Parses the form into the change it asks for; a value that does not parse is an error at its field.
fn parse(action: Action, form: &ActionForm) -> Result<Change, FormError> {
    let at = |field: String, message: &str| FormError { field, message: message.into() };
    let text = note_of(form);
    // The note for the record, marked for the GP or not (a mark without words is refused at its field).
    let marked =
        || Note::given(text.clone(), form.for_gp.is_some()).map_err(|e| field_error(action, &DomainError::Invalid(e)));
    let referral = |command| Ok(Change::Referral { command });
    match action {
        Action::Assign => {
            let to = form
                .to
                .as_deref()
                .and_then(|t| t.parse().ok())
                .map(UserId)
                .ok_or_else(|| at(action.first_field(), "Choose the link worker to assign the referral to"))?;
            referral(ReferralCommand::Assign { to })
        }
        Action::Attempt => referral(ReferralCommand::RecordContactAttempt { note: marked()? }),
        Action::Contact => referral(ReferralCommand::RecordContact { note: marked()? }),
        Action::Attendance => referral(ReferralCommand::RecordAttendance { evidence: None, note: marked()? }),
        Action::EndActivity => referral(ReferralCommand::EndActivity { note: marked()? }),
        Action::Close => {
            let reason = form
                .reason
                .as_deref()
                .and_then(|r| ClosureReason::parse(r).ok())
                .ok_or_else(|| at(action.first_field(), "Choose why the referral is closing"))?;
            let no_follow_up = match form.no_follow_up.as_deref().filter(|r| !r.is_empty()) {
                None => None,
                Some(r) => Some(
                    NoFollowUpReason::parse(r)
                        .map_err(|_| at("close-no-follow-up".into(), "Choose why no follow-up measure was taken"))?,
                ),
            };
            Ok(Change::Close { reason, note: marked()?, no_follow_up })
        }
        Action::Offer => {
            let service = form
                .service
                .as_deref()
                .and_then(|s| s.parse().ok())
                .map(ServiceId)
                .ok_or_else(|| at(action.first_field(), "Choose a service from the search results"))?;
            let note = v::optional_text("noteForProvider", text.as_deref(), 2000)
                .map_err(|e| field_error(action, &DomainError::Invalid(e)))?;
            Ok(Change::Offer { service, note })
        }
        Action::UpdateOffer(offer) => {
            let version = form
                .offer_version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| at(action.first_field(), "Reload the referral and try again"))?;
            let command = match form.update.as_deref() {
                Some("start") => OfferCommand::Start,
                Some("finish") => OfferCommand::Finish,
                Some("end_early") => OfferCommand::EndEarly { note: text },
                Some("withdraw") => OfferCommand::Withdraw { note: text },
                _ => return Err(at(action.first_field(), "Choose what happened to the offer")),
            };
            Ok(Change::UpdateOffer { offer, version, command })
        }
    }
}

/// A refusal from the domain, as an error at the form's field.
pub(crate) fn field_error(action: Action, e: &DomainError) -> FormError {
    let form = action.form();
    match e {
        DomainError::Invalid(ValueError { field, reason, .. }) => {
            let (id, name) = match *field {
                "note" | "noteForProvider" => (format!("{form}-note"), "The note"),
                "noFollowUpReason" => ("close-no-follow-up".to_owned(), "Why no follow-up measure was taken"),
                "forGp" => (format!("{form}-for-gp"), "Sharing with the GP"),
                _ => (action.first_field(), "A value"),
            };
            let message = match *field {
                "noFollowUpReason" => {
                    "Choose why no follow-up measure was taken: the referral is closing as completed without one"
                        .to_owned()
                }
                "forGp" => "Write a note to share it with the GP".to_owned(),
                trellis_domain::access::ASSIGNEE_FIELD => {
                    "Choose a link worker of this referral's service whose account is active: \
                     the referral cannot be given to that person"
                        .to_owned()
                }
                _ => format!("{name} {reason}"),
            };
            FormError { field: id, message }
        }
        DomainError::InvalidTransition { state, .. } => FormError {
            field: action.first_field(),
            message: format!("{} cannot be done now: it is {}", action.label(), state.replace('_', " ")),
        },
        DomainError::Forbidden { .. } => FormError {
            field: action.first_field(),
            message: format!("{}: only a link worker of the referral's service can do this", action.label()),
        },
    }
}

fn not_found(shell: Shell) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        Some(shell),
        "Referral not found",
        "There is no referral at this address that you can see. Check the link, or go back to your referrals.",
    )
}

fn bad_form(shell: Shell) -> Response {
    problem(StatusCode::BAD_REQUEST, Some(shell), "This form could not be sent", "Reload the referral and try again.")
}

/// The referral page again, with the error at its field and what was typed.
async fn again_with_error(
    state: &AppState,
    staff: &trellis_store::sessions::SessionPrincipal,
    shell: Shell,
    id: ReferralId,
    action: Action,
    form: &ActionForm,
    error: FormError,
) -> Response {
    let now = Utc::now();
    if staff.user.role != trellis_domain::Role::LinkWorker {
        // The forms belong to the link worker's page; anyone else is told, on a page of its own.
        return problem(StatusCode::UNPROCESSABLE_ENTITY, Some(shell), "This cannot be done", &error.message);
    }
    if action == Action::Offer {
        let service = form.service.as_deref().and_then(|s| s.parse().ok()).map(ServiceId);
        return match service {
            Some(service) => {
                match offer_form_page(state, staff, shell.clone(), id, service, note_of(form), Some(error)).await {
                    Ok(view) => page(StatusCode::UNPROCESSABLE_ENTITY, &view, None),
                    Err(e) => refusal(&e, shell),
                }
            }
            None => bad_form(shell),
        };
    }
    match Loaded::read(&state.store, &staff.actor(), id, now).await {
        Ok(loaded) => {
            let view = CaseworkPage::of(shell, staff, &loaded, None, Some(error), typed(action, form), now);
            page(StatusCode::UNPROCESSABLE_ENTITY, &view, None)
        }
        Err(e) => refusal(&e, shell),
    }
}

fn refusal(e: &StoreError, shell: Shell) -> Response {
    match e {
        StoreError::NotFound => not_found(shell),
        other => failure(other),
    }
}

/// Checks, parses and makes the change `action` asks for.
async fn act(
    action: Action,
    staff: Staff,
    state: AppState,
    headers: HeaderMap,
    raw: String,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let Staff(staff) = staff;
    let (form, csrf) =
        match csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &ActionForm| f.csrf.as_deref()) {
            Ok(checked) => checked,
            Err(refusal) => return refused(refusal, "referral action"),
        };
    let shell = Shell::of(&staff, csrf);
    let Some(id) = raw.parse().ok().map(ReferralId) else { return not_found(shell) };
    let Some(version) = form.version.as_deref().and_then(|v| v.parse::<u32>().ok()) else { return bad_form(shell) };
    let change = match parse(action, &form) {
        Ok(change) => change,
        Err(error) => return again_with_error(&state, &staff, shell, id, action, &form, error).await,
    };
    let actor = staff.actor();
    let now = Utc::now();
    let store = &state.store;
    let done = match change {
        Change::Referral { command } => store.transition_referral(id, version, command, &actor, now).await.map(|_| ()),
        Change::Close { reason, note, no_follow_up } => {
            store.close_referral(id, version, reason, note, no_follow_up, &actor, now).await.map(|_| ())
        }
        Change::Offer { service, note } => store
            .make_offer(
                OfferRequest::new(id, service, store.policy().offer_timers(now)).at_version(version).with_note(note),
                &actor,
                now,
            )
            .await
            .map(|_| ()),
        Change::UpdateOffer { offer, version: offer_version, command } => {
            store.transition_offer(offer, offer_version, command, &actor, now).await.map(|_| ())
        }
    };
    match done {
        Ok(()) => see_other(&format!("/referrals/{id}?done={}", action.done())),
        Err(StoreError::Conflict { .. }) => conflict::page(&state, &staff, shell, id, action, &form, version).await,
        Err(StoreError::Domain(DomainError::Forbidden { .. })) => problem(
            StatusCode::FORBIDDEN,
            Some(shell),
            "You cannot do this",
            &format!(
                "{}: only a link worker of the referral's service can do this. Nothing was changed.",
                action.label()
            ),
        ),
        Err(StoreError::Domain(e)) => {
            again_with_error(&state, &staff, shell, id, action, &form, field_error(action, &e)).await
        }
        Err(StoreError::Contended) => {
            let message = "Someone else was saving a change to this referral at the same moment, so nothing was \
                           saved: check and submit again"
                .to_owned();
            let error = FormError { field: action.first_field(), message };
            again_with_error(&state, &staff, shell, id, action, &form, error).await
        }
        Err(StoreError::UnknownReference(what)) => {
            let message = match what {
                "service" => "That service is no longer taking offers: search again".to_owned(),
                "service email" => "That service has no address for offers: choose another".to_owned(),
                other => format!("The {other} does not exist"),
            };
            let error = FormError { field: action.first_field(), message };
            again_with_error(&state, &staff, shell, id, action, &form, error).await
        }
        Err(e) => refusal(&e, shell),
    }
}

macro_rules! action_handler {
    ($($name:ident => $action:expr),+ $(,)?) => {$(
        pub(super) async fn $name(
            staff: Staff,
            State(state): State<AppState>,
            headers: HeaderMap,
            Path(raw): Path<String>,
            form: Result<Form<ActionForm>, FormRejection>,
        ) -> Response {
            act($action, staff, state, headers, raw, form).await
        }
    )+};
}

action_handler!(
    assign => Action::Assign,
    contact_attempt => Action::Attempt,
    contact => Action::Contact,
    attendance => Action::Attendance,
    end_activity => Action::EndActivity,
    close => Action::Close,
    offer => Action::Offer,
);

pub(super) async fn update_offer(
    staff: Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((raw, offer)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    match offer.parse().ok().map(OfferId) {
        Some(offer) => act(Action::UpdateOffer(offer), staff, state, headers, raw, form).await,
        None => {
            let (csrf, _) = form_token(&state, &headers);
            not_found(Shell::of(&staff.0, csrf))
        }
    }
}

/// The offer form, from a search result's "Offer" button.
pub(super) async fn offer_form(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    axum::extract::Query(q): axum::extract::Query<super::find_services::OfferQuery>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let Some(id) = raw.parse().ok().map(ReferralId) else { return not_found(shell) };
    let Some(service) = q.service.as_deref().and_then(|s| s.parse().ok()).map(ServiceId) else {
        return see_other(&format!("/referrals/{id}/services"));
    };
    match offer_form_page(&state, &staff, shell.clone(), id, service, None, None).await {
        Ok(view) => page(StatusCode::OK, &view as &OfferFormPage, cookie),
        Err(e) => refusal(&e, shell),
    }
}

/// The link worker's page for referral `id`, with the banner of the action just done.
pub(super) async fn show(
    state: &AppState,
    staff: &trellis_store::sessions::SessionPrincipal,
    shell: Shell,
    id: ReferralId,
    shown: &ShowQuery,
    cookie: Option<String>,
) -> Response {
    let now = Utc::now();
    match Loaded::read(&state.store, &staff.actor(), id, now).await {
        Ok(loaded) => {
            let view = CaseworkPage::of(shell, staff, &loaded, shown.banner(), None, Typed::default(), now);
            page(StatusCode::OK, &view, cookie)
        }
        Err(e) => refusal(&e, shell),
    }
}

/// The routes of the link worker's actions and the service search.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/referrals/{id}/services", get(super::find_services::search))
        .route("/referrals/{id}/offer", get(offer_form).post(offer))
        .route("/referrals/{id}/assign", post(assign))
        .route("/referrals/{id}/contact-attempt", post(contact_attempt))
        .route("/referrals/{id}/contact", post(contact))
        .route("/referrals/{id}/attendance", post(attendance))
        .route("/referrals/{id}/end-activity", post(end_activity))
        .route("/referrals/{id}/close", post(close))
        .route("/referrals/{id}/offers/{offer}", post(update_offer))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;

    fn form(fields: &[(&str, &str)]) -> ActionForm {
        let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        ActionForm {
            note: get("note"),
            for_gp: get("for_gp"),
            to: get("to"),
            reason: get("reason"),
            no_follow_up: get("no_follow_up"),
            service: get("service"),
            update: get("update"),
            offer_version: get("offer_version"),
            ..ActionForm::default()
        }
    }

    #[test]
    fn closing_without_a_reason_or_with_an_unknown_one_is_an_error_at_the_reasons() {
        for fields in [&[][..], &[("reason", "bored")][..]] {
            let Err(error) = parse(Action::Close, &form(fields)) else { panic!("parsed {fields:?}") };
            assert_eq!(error.field, "close-reason");
        }
        let Err(error) = parse(Action::Close, &form(&[("reason", "completed"), ("no_follow_up", "x")])) else {
            panic!("an unknown no-follow-up reason parsed")
        };
        assert_eq!(error.field, "close-no-follow-up");
    }

    #[test]
    fn an_offer_update_needs_a_known_update_and_the_offers_version() {
        let offer = OfferId(uuid::Uuid::now_v7());
        let action = Action::UpdateOffer(offer);
        let no_version = parse(action, &form(&[("update", "start")]));
        assert!(matches!(no_version, Err(FormError { ref field, .. }) if *field == format!("offer-{offer}-update")));
        assert!(parse(action, &form(&[("update", "explode"), ("offer_version", "2")])).is_err());
        let Ok(Change::UpdateOffer { version, command, .. }) =
            parse(action, &form(&[("update", "end_early"), ("offer_version", "2"), ("note", " knee ")]))
        else {
            panic!("a good update did not parse")
        };
        assert_eq!((version, command), (2, OfferCommand::EndEarly { note: Some("knee".into()) }));
    }

    #[test]
    fn a_refusal_points_at_the_field_it_is_about() {
        let too_long = DomainError::Invalid(ValueError::new("note", "…", "must be at most 4000 characters"));
        let error = field_error(Action::Contact, &too_long);
        assert_eq!(
            (error.field.as_str(), error.message.as_str()),
            ("contact-note", "The note must be at most 4000 characters")
        );
        let missing = DomainError::Invalid(ValueError::new("noFollowUpReason", "", "is required"));
        assert_eq!(field_error(Action::Close, &missing).field, "close-no-follow-up");
        let state = DomainError::InvalidTransition { state: "referred", action: "record_attendance" };
        let error = field_error(Action::Attendance, &state);
        assert_eq!(error.field, "attendance-note");
        assert!(error.message.contains("it is referred"), "{}", error.message);
    }
}
