//! The page a change meets when someone else changed the referral (or the offer) after the form was
//! shown: the store refused it (`StoreError::Conflict`) and nothing was saved. It says who changed what
//! since the version the form carried (the referral's history after it, and the offer's for an offer
//! update), keeps what was typed, and offers to save it against what is there now or to reload.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use trellis_domain::referral::ClosureReason;
use trellis_domain::wellbeing::NoFollowUpReason;
use trellis_domain::{ReferralId, ServiceId, UserId};
use trellis_store::StoreError;
use trellis_store::notices::referral_reference;
use trellis_store::sessions::SessionPrincipal;

use super::actions::{Action, ActionForm};
use super::casework::{HistoryEntry, Names, no_follow_up_label};
use super::pages::closure_label;
use super::{Shell, failure, problem};
use crate::AppState;

/// The conflict page.
#[derive(Template)]
#[template(path = "console/conflict.html")]
pub(crate) struct ConflictPage {
    pub shell: Option<Shell>,
    pub id: String,
    pub reference: String,
    pub name: String,
    /// What changed since the form was shown, oldest first.
    pub changes: Vec<HistoryEntry>,
    /// What the form was for.
    pub action: &'static str,
    /// What was typed, in words.
    pub typed: Vec<(&'static str, String)>,
    /// Where saving it anyway posts.
    pub path: String,
    /// The referral's version now.
    pub version: u32,
    /// The offer's version now, for an offer update.
    pub offer_version: Option<u32>,
    /// The form's other fields, carried as they were typed.
    pub hidden: Vec<(&'static str, String)>,
    /// The note as typed, editable.
    pub note: String,
    /// Whether the form had a note.
    pub has_note: bool,
}

fn update_label(update: &str) -> &str {
    match update {
        "start" => "The person has started",
        "finish" => "The activity has finished",
        "end_early" => "The activity ended early",
        "withdraw" => "Withdraw the offer",
        other => other,
    }
}

/// The conflict page for `action`, posted with `form` against the referral's `version`.
pub(super) async fn page(
    state: &AppState,
    staff: &SessionPrincipal,
    shell: Shell,
    id: ReferralId,
    action: Action,
    form: &ActionForm,
    version: u32,
) -> Response {
    match build(state, staff, shell.clone(), id, action, form, version).await {
        Ok(view) => super::page(StatusCode::CONFLICT, &view, None),
        Err(StoreError::NotFound) => problem(
            StatusCode::NOT_FOUND,
            Some(shell),
            "Referral not found",
            "There is no referral at this address that you can see. Check the link, or go back to your referrals.",
        ),
        Err(e) => failure(&e),
    }
}

async fn build(
    state: &AppState,
    staff: &SessionPrincipal,
    shell: Shell,
    id: ReferralId,
    action: Action,
    form: &ActionForm,
    version: u32,
) -> Result<ConflictPage, StoreError> {
    let store = &state.store;
    let actor = staff.actor();
    let record = store.referral(&actor, id, Utc::now()).await?;
    let since: Vec<_> = store.referral_history(&actor, id).await?.into_iter().filter(|e| e.version > version).collect();
    let (offer, offer_since) = match action {
        Action::UpdateOffer(offer_id) => {
            let offer = store.offer(&actor, offer_id).await?;
            let form_version = form.offer_version.as_deref().and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
            let events: Vec<_> =
                store.offer_history(&actor, offer_id).await?.into_iter().filter(|e| e.version > form_version).collect();
            (Some(offer), events)
        }
        _ => (None, Vec::new()),
    };
    let actors: Vec<_> = since.iter().map(|e| e.actor).chain(offer_since.iter().map(|e| e.actor)).collect();
    let names = Names::of(store, actors, Vec::new()).await?;
    let mut changes: Vec<(chrono::DateTime<Utc>, HistoryEntry)> =
        since.iter().map(|e| (e.at, HistoryEntry::of_referral(e, &names))).collect();
    if let Some(offer) = &offer {
        changes.extend(offer_since.iter().map(|e| (e.at, HistoryEntry::of_offer(e, offer, &names))));
    }
    changes.sort_by_key(|(at, _)| *at);

    let mut typed: Vec<(&'static str, String)> = Vec::new();
    let mut hidden: Vec<(&'static str, String)> = Vec::new();
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(to) = text(&form.to) {
        let name = match to.parse().ok().map(UserId) {
            Some(user) => store.user(user).await.map(|u| u.name).unwrap_or_else(|_| "Someone unknown".into()),
            None => "Someone unknown".into(),
        };
        typed.push(("Assign to", name));
        hidden.push(("to", to));
    }
    if let Some(service) = text(&form.service) {
        let name = match service.parse().ok().map(ServiceId) {
            Some(s) => store.service(s).await.map(|s| s.name).unwrap_or_else(|_| "A service".into()),
            None => "A service".into(),
        };
        typed.push(("Service", name));
        hidden.push(("service", service));
    }
    if let Some(update) = text(&form.update) {
        typed.push(("What happened", update_label(&update).to_owned()));
        hidden.push(("update", update));
    }
    if let Some(reason) = text(&form.reason) {
        let label = ClosureReason::parse(&reason).map(closure_label).unwrap_or("Not chosen");
        typed.push(("Reason for closing", label.to_owned()));
        hidden.push(("reason", reason));
    }
    if let Some(r) = text(&form.no_follow_up) {
        let label = NoFollowUpReason::parse(&r).map(no_follow_up_label).unwrap_or("Not chosen");
        typed.push(("Why no follow-up measure", label.to_owned()));
        hidden.push(("no_follow_up", r));
    }
    if form.for_gp.is_some() {
        typed.push(("Share the note with the GP", "Yes".into()));
        hidden.push(("for_gp", "yes".into()));
    }
    let note = form.note.clone().unwrap_or_default();
    if !note.trim().is_empty() {
        typed.push(("Note", note.clone()));
    }
    let p = &record.person.details;
    Ok(ConflictPage {
        shell: Some(shell),
        id: id.to_string(),
        reference: referral_reference(id),
        name: format!("{} {}", p.given_name, p.family_name),
        changes: changes.into_iter().map(|(_, c)| c).collect(),
        action: action.label(),
        typed,
        path: action.path(id),
        version: record.state.version,
        offer_version: offer.map(|o| o.state.version),
        hidden,
        has_note: action != Action::Assign,
        note,
    })
}
