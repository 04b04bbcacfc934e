//! Referrals in the console: a practice's own list and one referral with its history, offers and
//! outcome; withdrawing one while it is still referred.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::access::ReferralScope;
use trellis_domain::referral::{ClosureReason, ReferralCommand, ReferralStatus};
use trellis_domain::{ReferralId, Role};
use trellis_store::StoreError;

use super::pages::{ReferralListPage, ReferralPage, ReferralRow, Shell};
use super::{Staff, failure, form_token, page, problem, referral_list, refused, see_other};
use crate::AppState;
use crate::link_pages::csrf;

/// The list's paging.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    after: Option<String>,
}

/// The withdraw form.
#[derive(Deserialize)]
pub struct WithdrawForm {
    version: Option<u32>,
    note: Option<String>,
    csrf: Option<String>,
}

fn not_found(shell: Shell) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        Some(shell),
        "Referral not found",
        "There is no referral at this address that you can see. Check the link, or go back to your referrals.",
    )
}

/// What a store error means to the person looking at a referral page.
fn store_refusal(e: &StoreError, shell: Shell, id: ReferralId) -> Response {
    match e {
        StoreError::NotFound => not_found(shell),
        StoreError::Conflict { .. } => problem(
            StatusCode::CONFLICT,
            Some(shell),
            "Someone else changed this referral",
            &format!(
                "Nothing was changed. The referral was updated since you opened it: open it again \
                 (/referrals/{id}) to see what changed, then try again if it still applies."
            ),
        ),
        StoreError::Domain(d) => {
            problem(StatusCode::UNPROCESSABLE_ENTITY, Some(shell), "This cannot be done", &d.to_string())
        }
        other => failure(other),
    }
}

pub(super) async fn list(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if staff.user.role == Role::LinkWorker {
        // A link worker's list is the caseload, with its filters.
        return see_other("/caseload");
    }
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let scope = match referral_list::scope_of(&staff, &shell, "Referrals are for GP practices and link workers.") {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let before = q.after.as_deref().and_then(|a| a.parse().ok()).map(ReferralId);
    let now = Utc::now();
    match referral_list::read(&state, &staff, &referral_list::filter(scope, before), now).await {
        Ok(listed) => {
            let next = listed.next.map(|last| last.to_string());
            let rows = listed.records.iter().map(|r| ReferralRow::of(r, now)).collect();
            page(StatusCode::OK, &ReferralListPage { shell: Some(shell), rows, next, paged: before.is_some() }, cookie)
        }
        Err(e) => failure(&e),
    }
}

fn parse_id(raw: &str) -> Option<ReferralId> {
    raw.parse().ok().map(ReferralId)
}

pub(super) async fn show(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(shown): Query<super::casework::ShowQuery>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let Some(id) = parse_id(&raw) else { return not_found(shell) };
    if staff.user.role == trellis_domain::Role::LinkWorker {
        // The link worker's page shows the referral in full, with the forms that work it.
        return super::actions::show(&state, &staff, shell, id, &shown, cookie).await;
    }
    let actor = staff.actor();
    let record = match state.store.referral(&actor, id, Utc::now()).await {
        Ok(record) => record,
        Err(e) => return store_refusal(&e, shell, id),
    };
    let history = match state.store.referral_history(&actor, id).await {
        Ok(history) => history,
        Err(e) => return store_refusal(&e, shell, id),
    };
    let offers = match state.store.offers_for_referral(&actor, id).await {
        Ok(offers) => offers,
        Err(e) => return store_refusal(&e, shell, id),
    };
    let may_withdraw = record.state.status == ReferralStatus::Referred
        && ReferralScope::of(&actor).is_some_and(|s| matches!(s, ReferralScope::ReferredBy(_)));
    let view = ReferralPage::of(shell, &record, &history, &offers, may_withdraw);
    page(StatusCode::OK, &view, cookie)
}

pub(super) async fn withdraw(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    form: Result<Form<WithdrawForm>, FormRejection>,
) -> Response {
    let (form, csrf) =
        match csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &WithdrawForm| f.csrf.as_deref()) {
            Ok(checked) => checked,
            Err(refusal) => return refused(refusal, "withdraw"),
        };
    let shell = Shell::of(&staff, csrf);
    let Some(id) = parse_id(&raw) else { return not_found(shell) };
    let Some(version) = form.version else {
        return problem(
            StatusCode::BAD_REQUEST,
            Some(shell),
            "This form could not be sent",
            "Reload the referral and try again.",
        );
    };
    let note = form.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let command = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: note.map(Into::into) };
    match state.store.transition_referral(id, version, command, &staff.actor(), Utc::now()).await {
        Ok(_) => see_other(&format!("/referrals/{id}")),
        Err(e) => store_refusal(&e, shell, id),
    }
}
