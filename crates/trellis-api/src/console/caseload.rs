//! The link worker's caseload (`GET /caseload`): the referrals its service works, filtered by status,
//! need, assigned to me and overdue first contact, searched by name or NHS number, 50 to a page with
//! keyset paging.
//!
//! The filters are a GET form, so they work without script, can be bookmarked, and survive paging (the
//! next page's link carries them). The list is `Store::referral_page`, the same query as GraphQL's
//! `referrals`, within the reader's scope; each person listed is audited there.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::referral::ReferralStatus;
use trellis_domain::values::Need;
use trellis_domain::{ReferralId, Role};
use trellis_store::referrals::{ReferralFilter, ReferralRecord};

use super::pages::{ReferralRow, Shell};
use super::{Staff, failure, form_token, page, problem, referral_list};
use crate::AppState;

/// The filters as the GET form sends them; every field is optional and an empty one is no filter.
#[derive(Deserialize, Default, Clone)]
pub struct CaseloadQuery {
    /// `open` (the default), `all`, or one status.
    status: Option<String>,
    /// A need's name.
    need: Option<String>,
    /// `yes`: only those assigned to the reader.
    mine: Option<String>,
    /// `yes`: only those whose first contact is overdue.
    overdue: Option<String>,
    /// A name or NHS number.
    q: Option<String>,
    /// The last referral of the previous page.
    after: Option<String>,
}

fn filled(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An option of a select.
pub(crate) struct Opt {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// One referral on the caseload.
pub(crate) struct CaseloadRow {
    pub row: ReferralRow,
    pub needs: String,
    pub assigned: &'static str,
}

/// The caseload page.
#[derive(askama::Template)]
#[template(path = "console/caseload.html")]
pub(crate) struct CaseloadPage {
    pub shell: Option<Shell>,
    pub statuses: Vec<Opt>,
    pub needs: Vec<Opt>,
    pub offer_mine: bool,
    pub mine: bool,
    pub overdue: bool,
    pub q: String,
    pub rows: Vec<CaseloadRow>,
    /// The next page's address, filters kept.
    pub next: Option<String>,
    /// The first page's address, filters kept, when this is a later page.
    pub first: Option<String>,
    pub filtered: bool,
}

/// The statuses a filter may choose: the value in the address, and what it lists.
fn statuses(value: &str) -> Option<Vec<ReferralStatus>> {
    let open = vec![ReferralStatus::Referred, ReferralStatus::Contacted, ReferralStatus::Attending];
    match value {
        "open" => Some(open),
        "all" => Some(Vec::new()),
        other => ReferralStatus::parse(other).ok().map(|s| vec![s]),
    }
}

const STATUS_CHOICES: [(&str, &str); 6] = [
    ("open", "Open (not closed)"),
    ("all", "Any status"),
    ("referred", "Referred"),
    ("contacted", "Contacted"),
    ("attending", "Attending"),
    ("closed", "Closed"),
];

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/caseload` with the filters of `q` (and `after`, when given).
fn address(q: &CaseloadQuery, after: Option<&str>) -> String {
    let pairs = [
        ("status", filled(&q.status)),
        ("need", filled(&q.need)),
        ("mine", filled(&q.mine)),
        ("overdue", filled(&q.overdue)),
        ("q", filled(&q.q)),
        ("after", after),
    ];
    let query: Vec<String> = pairs.iter().filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v)))).collect();
    if query.is_empty() { "/caseload".into() } else { format!("/caseload?{}", query.join("&")) }
}

fn unreadable(shell: Shell) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        Some(shell),
        "These filters could not be read",
        "The address holds a filter Trellis does not know. Choose the filters again from the caseload.",
    )
}

pub(super) async fn show(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CaseloadQuery>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    let scope = match referral_list::scope_of(&staff, &shell, "The caseload is for link workers and GP practices.") {
        Ok(scope) => scope,
        Err(response) => return response,
    };
    let status = filled(&q.status).unwrap_or("open");
    let Some(wanted) = statuses(status) else { return unreadable(shell) };
    let need = match filled(&q.need).map(Need::parse).transpose() {
        Ok(need) => need,
        Err(_) => return unreadable(shell),
    };
    let before = match filled(&q.after).map(|a| a.parse().map(ReferralId)).transpose() {
        Ok(before) => before,
        Err(_) => return unreadable(shell),
    };
    let offer_mine = staff.user.role == Role::LinkWorker;
    let mine = offer_mine && filled(&q.mine) == Some("yes");
    let overdue = filled(&q.overdue) == Some("yes");
    let search = filled(&q.q).map(str::to_owned);
    let now = Utc::now();
    let filter = ReferralFilter {
        statuses: wanted,
        need,
        assigned_to: mine.then_some(staff.user.id),
        overdue_at: overdue.then_some(now),
        search: search.clone(),
        ..referral_list::filter(scope, before)
    };
    let listed = match referral_list::read(&state, &staff, &filter, now).await {
        Ok(listed) => listed,
        Err(e) => return failure(&e),
    };
    let next = listed.next.map(|last| address(&q, Some(&last.to_string())));
    let rows = listed.records.iter().map(|r| row(r, &staff.user.id, now)).collect();
    let view = CaseloadPage {
        shell: Some(shell),
        statuses: STATUS_CHOICES
            .iter()
            .map(|(value, label)| Opt { value, label, selected: *value == status })
            .collect(),
        needs: Need::ALL
            .iter()
            .map(|n| Opt { value: n.as_str(), label: n.label(), selected: need == Some(*n) })
            .collect(),
        offer_mine,
        mine,
        overdue,
        q: search.unwrap_or_default(),
        rows,
        next,
        first: before.map(|_| address(&q, None)),
        filtered: status != "open" || need.is_some() || mine || overdue || filled(&q.q).is_some(),
    };
    page(StatusCode::OK, &view, cookie)
}

fn row(r: &ReferralRecord, me: &trellis_domain::UserId, now: chrono::DateTime<Utc>) -> CaseloadRow {
    let mut row = ReferralRow::of(r, now);
    if row.overdue {
        row.next_step = format!("First contact was due by {}", super::pages::day(r.contact_due_at));
    }
    let assigned = match r.state.assigned_to {
        Some(user) if user == *me => "You",
        Some(_) => "Another link worker",
        None => "Not assigned",
    };
    CaseloadRow { row, needs: r.needs.iter().map(|n| n.label()).collect::<Vec<_>>().join(", "), assigned }
}
