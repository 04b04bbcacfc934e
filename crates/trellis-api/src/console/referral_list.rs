//! The reader's referrals a page at a time, for the practice's list and the link worker's caseload: the
//! same `Store::referral_page` as GraphQL's `referrals`, within the reader's scope, newest first, 50 to a
//! page, each page after the last referral of the one before.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use trellis_domain::ReferralId;
use trellis_domain::access::ReferralScope;
use trellis_store::StoreError;
use trellis_store::referrals::{ReferralFilter, ReferralRecord};
use trellis_store::sessions::SessionPrincipal;

use super::pages::Shell;
use super::problem;
use crate::AppState;

/// Referrals on one page.
const PAGE_SIZE: u64 = 50;

/// The referrals `staff` may read; for anyone else, the page saying whom the list is for (`for_whom`).
#[allow(clippy::result_large_err, reason = "the refusal is a whole response, returned at once by the handler")]
pub(super) fn scope_of(staff: &SessionPrincipal, shell: &Shell, for_whom: &str) -> Result<ReferralScope, Response> {
    ReferralScope::of(&staff.actor())
        .ok_or_else(|| problem(StatusCode::FORBIDDEN, Some(shell.clone()), "Not available", for_whom))
}

/// Every referral in `scope`, the page after `before`: narrow it with struct update syntax.
pub(super) fn filter(scope: ReferralScope, before: Option<ReferralId>) -> ReferralFilter {
    ReferralFilter {
        scope,
        statuses: Vec::new(),
        need: None,
        assigned_to: None,
        overdue_at: None,
        search: None,
        before,
        limit: PAGE_SIZE,
    }
}

/// One page of a list: its referrals, and the referral the next page starts after, if there is one.
pub(super) struct Listed {
    /// The referrals, newest first.
    pub records: Vec<ReferralRecord>,
    /// The last referral on this page, when more follow.
    pub next: Option<ReferralId>,
}

/// Reads one page for `staff` (each person listed is audited by the store).
pub(super) async fn read(
    state: &AppState,
    staff: &SessionPrincipal,
    filter: &ReferralFilter,
    now: DateTime<Utc>,
) -> Result<Listed, StoreError> {
    let page = state.store.referral_page(&staff.actor(), filter, now).await?;
    let next = if page.has_next { page.records.last().map(|r| r.state.id) } else { None };
    Ok(Listed { records: page.records, next })
}
