//! What the console's pages show, formatted in Rust so the templates (`templates/console/`) only place
//! words.

use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use trellis_domain::Role;
use trellis_domain::referral::{ClosureReason, ReferralEvent, ReferralEventKind, ReferralStatus};
use trellis_store::notices::{offer_reference, referral_reference};
use trellis_store::offers::OfferRecord;
use trellis_store::referrals::ReferralRecord;
use trellis_store::sessions::SessionPrincipal;

/// The frame of a signed-in page: who is signed in, where they can go, and the sign-out form's token.
#[derive(Clone, Debug)]
pub(crate) struct Shell {
    /// The signed-in person's name.
    pub user: String,
    /// Their organisation's name.
    pub organisation: String,
    /// The header's links.
    pub nav: Vec<(&'static str, &'static str)>,
    /// The anti-forgery token for the page's forms.
    pub csrf: String,
}

impl Shell {
    /// The frame for `staff`.
    pub(crate) fn of(staff: &SessionPrincipal, csrf: String) -> Shell {
        let nav = match staff.user.role {
            Role::GpPractice => vec![("/referrals", "Your referrals")],
            Role::LinkWorker => vec![("/caseload", "Caseload"), ("/network", "Network")],
            Role::NetworkLead => vec![("/network", "Network"), ("/reports", "Reports"), ("/directory", "Directory")],
            _ => Vec::new(),
        };
        Shell { user: staff.user.name.clone(), organisation: staff.organisation.name.clone(), nav, csrf }
    }
}

/// `Monday 7 December 2026`.
pub(crate) fn day(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y").to_string()
}

fn birth_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// A status as people say it.
pub(crate) fn status_label(status: ReferralStatus) -> &'static str {
    match status {
        ReferralStatus::Referred => "Referred",
        ReferralStatus::Contacted => "Contacted",
        ReferralStatus::Attending => "Attending",
        ReferralStatus::Closed => "Closed",
    }
}

/// A closure reason as people say it.
pub(crate) fn closure_label(reason: ClosureReason) -> &'static str {
    match reason {
        ClosureReason::Completed => "Completed",
        ClosureReason::DeclinedByPerson => "Declined by the person",
        ClosureReason::UnableToContact => "Unable to contact",
        ClosureReason::NotAppropriate => "Not appropriate",
        ClosureReason::WithdrawnByReferrer => "Withdrawn by the referrer",
        ClosureReason::MovedAway => "Moved away",
        ClosureReason::Died => "Died",
        ClosureReason::EnteredInError => "Entered in error",
    }
}

fn spaced_nhs_number(n: &str) -> String {
    if n.len() == 10 { format!("{} {} {}", &n[..3], &n[3..6], &n[6..]) } else { n.to_owned() }
}

/// The email form.
#[derive(Template)]
#[template(path = "console/sign_in.html")]
pub(crate) struct SignInPage {
    pub csrf: String,
    pub email: String,
    pub error: Option<String>,
}

/// After asking for a link: the same for every address.
#[derive(Template)]
#[template(path = "console/check_email.html")]
pub(crate) struct CheckEmailPage {
    pub email: String,
}

/// An emailed link, opened: confirm to sign in.
#[derive(Template)]
#[template(path = "console/confirm_sign_in.html")]
pub(crate) struct ConfirmSignInPage {
    pub csrf: String,
    pub token: String,
    pub name: String,
}

/// A sign-in link that is used, expired or unknown (one page for all three).
#[derive(Template)]
#[template(path = "console/link_ended.html")]
pub(crate) struct LinkEndedPage;

/// A plain page saying what went wrong.
#[derive(Template)]
#[template(path = "console/problem.html")]
pub(crate) struct ProblemPage {
    pub shell: Option<Shell>,
    pub heading: String,
    pub message: String,
}

/// One referral in a list.
pub(crate) struct ReferralRow {
    pub id: String,
    pub reference: String,
    pub name: String,
    pub nhs_number: String,
    pub submitted: String,
    pub status: &'static str,
    pub next_step: String,
    pub overdue: bool,
}

impl ReferralRow {
    /// The row for `r`.
    pub(crate) fn of(r: &ReferralRecord, now: DateTime<Utc>) -> ReferralRow {
        let p = &r.person.details;
        let next_step = match (r.state.status, r.state.closure_reason) {
            (ReferralStatus::Referred, _) => format!("First contact due by {}", day(r.contact_due_at)),
            (ReferralStatus::Closed, Some(reason)) => {
                format!("Outcome: {}, closed {}", closure_label(reason), day(r.state.updated_at))
            }
            (ReferralStatus::Closed, None) => format!("Closed {}", day(r.state.updated_at)),
            (ReferralStatus::Contacted, _) => format!("Finding support, last update {}", day(r.state.updated_at)),
            (ReferralStatus::Attending, _) => {
                format!("Attending an activity, last update {}", day(r.state.updated_at))
            }
        };
        ReferralRow {
            id: r.state.id.to_string(),
            reference: referral_reference(r.state.id),
            name: format!("{} {}", p.given_name, p.family_name),
            nhs_number: spaced_nhs_number(p.nhs_number.as_str()),
            submitted: day(r.state.created_at),
            status: status_label(r.state.status),
            next_step,
            overdue: r.is_overdue(now),
        }
    }
}

/// A list of referrals.
#[derive(Template)]
#[template(path = "console/referrals.html")]
pub(crate) struct ReferralListPage {
    pub shell: Option<Shell>,
    pub rows: Vec<ReferralRow>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// Whether this is a later page.
    pub paged: bool,
}

/// One event in a referral's history.
pub(crate) struct HistoryLine {
    pub when: String,
    pub what: String,
    pub note: Option<String>,
}

/// An event in a referral's history as people say it.
pub(crate) fn event_label(kind: &ReferralEventKind) -> String {
    match kind {
        ReferralEventKind::Opened { .. } => "Referral received".into(),
        ReferralEventKind::Assigned { .. } => "Assigned to a link worker".into(),
        ReferralEventKind::ContactAttempted => "Tried to contact the person".into(),
        ReferralEventKind::Contacted => "First contact made".into(),
        ReferralEventKind::AttendanceRecorded { .. } => "Attendance recorded".into(),
        ReferralEventKind::ActivityEnded => "Activity ended".into(),
        ReferralEventKind::Closed { reason } => format!("Closed: {}", closure_label(*reason)),
        ReferralEventKind::PlanUpdated { .. } => "Plan updated".into(),
        ReferralEventKind::MeasureRecorded { .. } => "Wellbeing measure recorded".into(),
        ReferralEventKind::PersonDetailsResolved { .. } => "The person's details were confirmed".into(),
    }
}

/// One offer as a referral page lists it.
pub(crate) struct OfferLine {
    pub reference: String,
    pub service: String,
    pub provider: String,
    pub status: String,
    pub made: String,
}

/// One referral in full, as far as the reader may see it.
#[derive(Template)]
#[template(path = "console/referral.html")]
pub(crate) struct ReferralPage {
    pub shell: Option<Shell>,
    pub id: String,
    pub version: u32,
    pub reference: String,
    pub name: String,
    pub nhs_number: String,
    pub date_of_birth: String,
    pub status: &'static str,
    pub submitted: String,
    pub contact_due: String,
    pub needs: Vec<&'static str>,
    pub reason: String,
    pub urgency: &'static str,
    pub outcome: Option<&'static str>,
    pub history: Vec<HistoryLine>,
    pub offers: Vec<OfferLine>,
    pub may_withdraw: bool,
}

impl ReferralPage {
    /// The page for a referral read in scope.
    pub(crate) fn of(
        shell: Shell,
        r: &ReferralRecord,
        history: &[ReferralEvent],
        offers: &[OfferRecord],
        may_withdraw: bool,
    ) -> ReferralPage {
        let p = &r.person.details;
        ReferralPage {
            shell: Some(shell),
            id: r.state.id.to_string(),
            version: r.state.version,
            reference: referral_reference(r.state.id),
            name: format!("{} {}", p.given_name, p.family_name),
            nhs_number: spaced_nhs_number(p.nhs_number.as_str()),
            date_of_birth: birth_date(p.date_of_birth),
            status: status_label(r.state.status),
            submitted: day(r.state.created_at),
            contact_due: day(r.contact_due_at),
            needs: r.needs.iter().map(|n| n.label()).collect(),
            reason: r.reason.clone(),
            urgency: if r.urgency.as_str() == "urgent" { "Urgent" } else { "Routine" },
            outcome: r.state.closure_reason.map(closure_label),
            history: history
                .iter()
                .rev()
                .map(|e| HistoryLine { when: day(e.at), what: event_label(&e.kind), note: e.note.clone() })
                .collect(),
            offers: offers
                .iter()
                .map(|o| OfferLine {
                    reference: offer_reference(o.state.id),
                    service: o.service_name.clone(),
                    provider: o.provider_name.clone(),
                    status: o.state.status.as_str().replace('_', " "),
                    made: day(o.state.created_at),
                })
                .collect(),
            may_withdraw,
        }
    }
}
