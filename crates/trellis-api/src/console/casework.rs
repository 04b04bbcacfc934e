//! The link worker's referral page: the referral in full (the person, consent, the history with who did
//! what, each offer with its reference, status and email deliveries, and the flags that need a look),
//! with a small form for each thing a link worker does next ([`super::actions`]).
//!
//! What a reader may see is the store's to decide: every read here goes through the scoped, audited
//! store functions the practice's page and GraphQL use.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use trellis_domain::offer::{OfferEvent, OfferStatus};
use trellis_domain::referral::{ClosureReason, ReferralEvent, ReferralStatus};
use trellis_domain::wellbeing::NoFollowUpReason;
use trellis_domain::{Actor, OrganisationId, ReferralId, Role, UserId};
use trellis_store::notices::{offer_reference, referral_reference};
use trellis_store::offers::OfferRecord;
use trellis_store::outbox::OutboxEmail;
use trellis_store::referrals::ReferralRecord;
use trellis_store::sessions::SessionPrincipal;
use trellis_store::{Store, StoreError};

use super::Shell;
use super::pages::{closure_label, day, event_label, status_label};

/// `7 December 2026 at 14:05`.
pub(crate) fn moment(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y at %H:%M").to_string()
}

/// The `?done=` a finished action leaves in the address, so the page says what happened.
#[derive(Deserialize, Default)]
pub struct ShowQuery {
    done: Option<String>,
}

impl ShowQuery {
    /// What the banner says after an action.
    pub(crate) fn banner(&self) -> Option<&'static str> {
        Some(match self.done.as_deref()? {
            "assigned" => "The referral is assigned.",
            "attempt" => "The contact attempt is recorded.",
            "contacted" => "First contact is recorded.",
            "offered" => "The offer is sent. The provider is emailed a link to answer it.",
            "attendance" => "Attendance is recorded.",
            "activity-ended" => "The activity is ended: the person needs another connection.",
            "offer-updated" => "The offer is updated.",
            "closed" => "The referral is closed.",
            _ => return None,
        })
    }
}

/// The names of who acted on a referral, looked up once each.
#[derive(Default)]
pub(crate) struct Names {
    users: HashMap<UserId, String>,
    organisations: HashMap<OrganisationId, String>,
}

impl Names {
    /// The names of the users and organisations among `actors` and `organisations`.
    pub(crate) async fn of(
        store: &Store,
        actors: Vec<Actor>,
        mut orgs: Vec<OrganisationId>,
    ) -> Result<Names, StoreError> {
        let mut names = Names::default();
        for actor in actors {
            orgs.extend(actor.organisation);
            if let Some(user) = actor.user
                && !names.users.contains_key(&user)
            {
                let name = match store.user(user).await {
                    Ok(u) => u.name,
                    Err(StoreError::NotFound) => "A former user".into(),
                    Err(e) => return Err(e),
                };
                names.users.insert(user, name);
            }
        }
        for org in orgs {
            if let Entry::Vacant(slot) = names.organisations.entry(org) {
                slot.insert(match store.organisation(org).await {
                    Ok(o) => o.name,
                    Err(StoreError::NotFound) => "A former organisation".into(),
                    Err(e) => return Err(e),
                });
            }
        }
        Ok(names)
    }

    /// A user's name, if known.
    pub(crate) fn user(&self, id: UserId) -> Option<&str> {
        self.users.get(&id).map(String::as_str)
    }

    /// An organisation's name, or `""`.
    pub(crate) fn organisation(&self, id: OrganisationId) -> &str {
        self.organisations.get(&id).map(String::as_str).unwrap_or_default()
    }

    /// Who acted, as a colleague would recognise them.
    pub(crate) fn who(&self, actor: &Actor) -> String {
        let org = actor.organisation.and_then(|o| self.organisations.get(&o));
        match (actor.role, actor.user.and_then(|u| self.users.get(&u)), org) {
            (Role::System, _, _) => "Trellis, on its own".into(),
            (_, Some(user), Some(org)) => format!("{user}, {org}"),
            (_, Some(user), None) => user.clone(),
            (Role::Provider, None, Some(org)) => format!("{org}, from the emailed link"),
            (_, None, Some(org)) => org.clone(),
            (_, None, None) => "Someone".into(),
        }
    }
}

/// One change in a referral's or an offer's history.
pub(crate) struct HistoryEntry {
    pub when: String,
    pub what: String,
    pub who: String,
    pub note: Option<String>,
    pub for_gp: bool,
}

impl HistoryEntry {
    /// A referral event.
    pub(crate) fn of_referral(e: &ReferralEvent, names: &Names) -> HistoryEntry {
        HistoryEntry {
            when: moment(e.at),
            what: event_label(&e.kind),
            who: names.who(&e.actor),
            note: e.note.clone(),
            for_gp: e.note_for_gp,
        }
    }

    /// An offer event, named by the offer's reference and service.
    pub(crate) fn of_offer(e: &OfferEvent, offer: &OfferRecord, names: &Names) -> HistoryEntry {
        HistoryEntry {
            when: moment(e.at),
            what: format!(
                "Offer {} to {}: {}",
                offer_reference(offer.state.id),
                offer.service_name,
                offer_status_label(e.to)
            ),
            who: names.who(&e.actor),
            note: e.note.clone(),
            for_gp: false,
        }
    }
}

/// An offer's status as people say it.
pub(crate) fn offer_status_label(status: OfferStatus) -> &'static str {
    match status {
        OfferStatus::Offered => "Offered, waiting for an answer",
        OfferStatus::Accepted => "Accepted",
        OfferStatus::Declined => "Declined",
        OfferStatus::Waitlisted => "On the waiting list",
        OfferStatus::Started => "Started: the person attends",
        OfferStatus::Finished => "Finished",
        OfferStatus::EndedEarly => "Ended early",
        OfferStatus::Withdrawn => "Withdrawn",
        OfferStatus::Expired => "Expired: no answer in time",
    }
}

/// What a link worker may record next about an offer in `status`, as the domain allows it
/// (`Offer::handle` still decides).
fn offer_updates(status: OfferStatus) -> Vec<Choice> {
    let choice = |value: &str, label: &str| Choice { value: value.into(), label: label.into(), checked: false };
    match status {
        OfferStatus::Offered | OfferStatus::Waitlisted => vec![choice("withdraw", "Withdraw the offer")],
        OfferStatus::Accepted => {
            vec![choice("start", "The person has started"), choice("withdraw", "Withdraw the offer")]
        }
        OfferStatus::Started => {
            vec![choice("finish", "The activity has finished"), choice("end_early", "The activity ended early")]
        }
        _ => Vec::new(),
    }
}

/// A value to choose in a form.
#[derive(Clone, Debug)]
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// One email about an offer and how its delivery went.
pub(crate) struct DeliveryLine {
    pub what: String,
    pub status: &'static str,
    pub failed: bool,
    pub attempts: u32,
    pub when: String,
    pub error: Option<String>,
}

impl DeliveryLine {
    fn of(e: &OutboxEmail) -> DeliveryLine {
        let what = match e.kind.as_str() {
            "offer_made" => "The offer, to the provider".into(),
            "offer_reminder" => "A reminder, to the provider".into(),
            "offer_answered" => "The provider's answer, to the link workers".into(),
            "offer_expired" => "The offer expired, to the link workers".into(),
            "onward_offer_proposed" => "An onward offer, to the link workers".into(),
            "offer_ended" => "No longer needed, to the provider".into(),
            "delivery_failed" => "A failed delivery, to the link workers".into(),
            other => other.replace('_', " "),
        };
        let status = match e.status.as_str() {
            "pending" if e.attempts > 0 => "Not sent yet: trying again",
            "pending" => "Waiting to be sent",
            "sent" => "Sent",
            "dead" => "Could not be delivered",
            "skipped" => "Not sent: no longer needed",
            _ => "Unknown",
        };
        DeliveryLine {
            what,
            status,
            failed: e.status.as_str() == "dead",
            attempts: e.attempts,
            when: moment(e.sent_at.unwrap_or(e.next_attempt_at)),
            error: e.last_error.clone(),
        }
    }
}

/// One offer in full, with the form that records what happened to it.
pub(crate) struct OfferCard {
    pub id: String,
    /// Its form's name (`offer-<id>`), the prefix of its fields' ids.
    pub form: String,
    pub version: u32,
    pub reference: String,
    pub service: String,
    pub provider: String,
    pub status: &'static str,
    pub made: String,
    pub expires: Option<String>,
    pub note: Option<String>,
    pub decline_reason: Option<String>,
    pub expired: bool,
    pub delivery_failed: bool,
    pub deliveries: Vec<DeliveryLine>,
    pub updates: Vec<Choice>,
}

impl OfferCard {
    fn of(o: &OfferRecord, emails: &[OutboxEmail], typed: &Typed) -> OfferCard {
        let deliveries: Vec<DeliveryLine> = emails.iter().map(DeliveryLine::of).collect();
        let form = format!("offer-{}", o.state.id);
        let mut updates = offer_updates(o.state.status);
        for u in &mut updates {
            u.checked = typed.form == form && typed.update == u.value;
        }

        OfferCard {
            id: o.state.id.to_string(),
            form,
            version: o.state.version,
            reference: offer_reference(o.state.id),
            service: o.service_name.clone(),
            provider: o.provider_name.clone(),
            status: offer_status_label(o.state.status),
            made: day(o.state.created_at),
            expires: matches!(o.state.status, OfferStatus::Offered | OfferStatus::Waitlisted)
                .then(|| moment(o.expires_at)),
            note: o.note_for_provider.clone(),
            decline_reason: o.state.decline_reason.map(|r| r.as_str().replace('_', " ")),
            expired: o.state.status == OfferStatus::Expired,
            delivery_failed: deliveries.iter().any(|d| d.failed),
            deliveries,
            updates,
        }
    }
}

/// What was typed into one of the page's forms, kept when the change could not be made.
#[derive(Clone, Debug, Default)]
pub(crate) struct Typed {
    /// Which form: `assign`, `attempt`, `contact`, `attendance`, `end-activity`, `close`, `offer-<id>`.
    pub form: String,
    pub note: String,
    pub for_gp: bool,
    pub to: String,
    pub reason: String,
    pub no_follow_up: String,
    pub update: String,
}

/// A change refused: the field to go back to (its element id) and what to do.
#[derive(Clone, Debug)]
pub(crate) struct FormError {
    pub field: String,
    pub message: String,
}

/// What a flag on a referral means.
fn flag_label(flag: &str) -> String {
    match flag {
        "offer_expired" => "An offer expired without an answer".into(),
        "delivery_failed" => "An email or message could not be delivered".into(),
        "details_differ" => "The person's details differ from an earlier referral".into(),
        other => other.replace('_', " "),
    }
}

/// Everything the page shows, read in scope.
pub(crate) struct Loaded {
    pub record: ReferralRecord,
    pub history: Vec<ReferralEvent>,
    pub offers: Vec<(OfferRecord, Vec<OutboxEmail>)>,
    pub colleagues: Vec<(UserId, String)>,
    pub names: Names,
}

impl Loaded {
    /// Reads the referral (audited), its history, its offers and their emails, as `actor` may.
    pub(crate) async fn read(
        store: &Store,
        actor: &Actor,
        id: ReferralId,
        now: DateTime<Utc>,
    ) -> Result<Loaded, StoreError> {
        let record = store.referral(actor, id, now).await?;
        let history = store.referral_history(actor, id).await?;
        let mut offers = Vec::new();
        for offer in store.offers_for_referral(actor, id).await? {
            let emails = store.emails_for_offer(actor, offer.state.id).await?;
            offers.push((offer, emails));
        }
        let colleagues = store
            .users_of(record.state.link_worker_service)
            .await?
            .into_iter()
            .filter(|u| trellis_domain::access::may_be_assigned(&u.as_assignee(), &record.state))
            .map(|u| (u.id, u.name))
            .collect();
        let assigned =
            record.state.assigned_to.map(|u| Actor { role: Role::LinkWorker, organisation: None, user: Some(u) });
        let actors: Vec<Actor> = history.iter().map(|e| e.actor).chain(assigned).collect();
        let orgs = vec![record.state.referring_organisation, record.state.link_worker_service];
        let names = Names::of(store, actors, orgs).await?;
        Ok(Loaded { record, history, offers, colleagues, names })
    }
}

/// The forms the page shows for the referral's status; the domain still decides each change.
pub(crate) struct Forms {
    pub assign: bool,
    pub attempt: bool,
    pub contact: bool,
    pub find: bool,
    pub attendance: bool,
    pub end_activity: bool,
    pub close: bool,
}

/// A link worker's referral page.
#[derive(Template)]
#[template(path = "console/casework.html")]
pub(crate) struct CaseworkPage {
    pub shell: Option<Shell>,
    /// The anti-forgery token of the page's forms.
    pub csrf: String,
    pub id: String,
    pub version: u32,
    pub reference: String,
    pub name: String,
    pub status: &'static str,
    pub outcome: Option<&'static str>,
    pub flags: Vec<String>,
    pub overdue: bool,
    pub banner: Option<&'static str>,
    pub error: Option<FormError>,
    pub typed: Typed,
    pub person: Vec<(&'static str, String)>,
    pub consent: String,
    pub details: Vec<(&'static str, String)>,
    pub needs: Vec<&'static str>,
    pub reason: String,
    pub offers: Vec<OfferCard>,
    pub history: Vec<HistoryEntry>,
    pub forms: Forms,
    pub colleagues: Vec<Choice>,
    pub closure_reasons: Vec<Choice>,
    pub no_follow_up_reasons: Vec<Choice>,
}

impl CaseworkPage {
    /// The page for what was read, with what `me` typed and the error it met, if any.
    pub(crate) fn of(
        shell: Shell,
        me: &SessionPrincipal,
        loaded: &Loaded,
        banner: Option<&'static str>,
        error: Option<FormError>,
        typed: Typed,
        now: DateTime<Utc>,
    ) -> CaseworkPage {
        let r = &loaded.record;
        let p = &r.person.details;
        let names = &loaded.names;
        let age = now.date_naive().years_since(p.date_of_birth).unwrap_or_default();
        let or_none = |v: Option<&str>| v.map(str::to_owned).unwrap_or_else(|| "Not given".into());
        let person = vec![
            ("NHS number", spaced(p.nhs_number.as_str())),
            ("Date of birth", format!("{} (aged {age})", p.date_of_birth.format("%-d %B %Y"))),
            ("Phone", or_none(p.phone.as_ref().map(|x| x.as_str()))),
            ("Email", or_none(p.email.as_ref().map(|x| x.as_str()))),
            ("Postcode", or_none(p.postcode.as_ref().map(|x| x.as_str()))),
            ("Prefers to be contacted by", capitalised(p.preferred_contact.as_str())),
        ];
        let assigned = match r.state.assigned_to {
            Some(u) => names.user(u).unwrap_or("A former user").to_owned(),
            None => "Not assigned yet".into(),
        };
        let details = vec![
            ("Reference", referral_reference(r.state.id)),
            ("Received", moment(r.state.created_at)),
            ("Referred by", names.organisation(r.state.referring_organisation).to_owned()),
            ("Urgency", if r.urgency.as_str() == "urgent" { "Urgent".into() } else { "Routine".into() }),
            ("First contact due by", day(r.contact_due_at)),
            ("Assigned to", assigned),
        ];
        let mut flags: Vec<String> = r.flag.as_deref().map(flag_label).into_iter().collect();
        if r.state.details_differ && r.flag.as_deref() != Some("details_differ") {
            flags.push(flag_label("details_differ"));
        }
        let offers: Vec<OfferCard> = loaded.offers.iter().map(|(o, emails)| OfferCard::of(o, emails, &typed)).collect();
        let status = r.state.status;
        let open = status != ReferralStatus::Closed;
        let chosen_colleague = if typed.form == "assign" && !typed.to.is_empty() {
            typed.to.clone()
        } else {
            r.state.assigned_to.unwrap_or(me.user.id).to_string()
        };
        let colleagues = loaded
            .colleagues
            .iter()
            .map(|(id, name)| {
                let value = id.to_string();
                let label = if *id == me.user.id { format!("{name} (you)") } else { name.clone() };
                Choice { checked: value == chosen_colleague, value, label }
            })
            .collect();
        let closure_reasons = ClosureReason::ALL
            .iter()
            .map(|c| Choice {
                value: c.as_str().into(),
                label: closure_label(*c).into(),
                checked: typed.form == "close" && typed.reason == c.as_str(),
            })
            .collect();
        let no_follow_up_reasons = NoFollowUpReason::ALL
            .iter()
            .map(|c| Choice {
                value: c.as_str().into(),
                label: no_follow_up_label(*c).into(),
                checked: typed.form == "close" && typed.no_follow_up == c.as_str(),
            })
            .collect();
        // A form refused is shown again whatever the status, so what was typed in it is not lost.
        let forms = Forms {
            assign: open || typed.form == "assign",
            attempt: open || typed.form == "attempt",
            contact: status == ReferralStatus::Referred || typed.form == "contact",
            find: open,
            attendance: status == ReferralStatus::Contacted || typed.form == "attendance",
            end_activity: status == ReferralStatus::Attending || typed.form == "end-activity",
            close: open || typed.form == "close",
        };
        CaseworkPage {
            csrf: shell.csrf.clone(),
            shell: Some(shell),
            id: r.state.id.to_string(),
            version: r.state.version,
            reference: referral_reference(r.state.id),
            name: format!("{} {}", p.given_name, p.family_name),
            status: status_label(status),
            outcome: r.state.closure_reason.map(closure_label),
            flags,
            overdue: r.is_overdue(now),
            banner,
            error,
            typed,
            person,
            consent: format!(
                "Consented to share with the network. Recorded by {} on {}.",
                r.consent.recorded_by,
                day(r.consent.recorded_at)
            ),
            details,
            needs: r.needs.iter().map(|n| n.label()).collect(),
            reason: r.reason.clone(),
            offers,
            history: loaded.history.iter().rev().map(|e| HistoryEntry::of_referral(e, names)).collect(),
            forms,
            colleagues,
            closure_reasons,
            no_follow_up_reasons,
        }
    }

    /// What was typed into the note of `form`, or nothing.
    pub(crate) fn note_of(&self, form: &str) -> &str {
        if self.typed.form == form { &self.typed.note } else { "" }
    }

    /// Whether `form`'s note was marked for the GP.
    pub(crate) fn for_gp_of(&self, form: &str) -> bool {
        self.typed.form == form && self.typed.for_gp
    }

    /// The error at `form`'s field `field` (element id `<form>-<field>`), if that is where it is.
    pub(crate) fn error_for(&self, form: &str, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.field.strip_prefix(form).and_then(|rest| rest.strip_prefix('-')) == Some(field))
            .map(|e| e.message.as_str())
    }

    /// The error at the field with element id `field`, if that is where it is.
    pub(crate) fn error_at(&self, field: &str) -> Option<&str> {
        self.error.as_ref().filter(|e| e.field == field).map(|e| e.message.as_str())
    }
}

/// Why no follow-up measure was taken, as people say it.
pub(crate) fn no_follow_up_label(r: NoFollowUpReason) -> &'static str {
    match r {
        NoFollowUpReason::Declined => "The person declined to answer",
        NoFollowUpReason::NotAble => "The person was not able to answer",
        NoFollowUpReason::NotOffered => "It was not offered",
    }
}

/// `943 476 5919`.
pub(crate) fn spaced(n: &str) -> String {
    if n.len() == 10 { format!("{} {} {}", &n[..3], &n[3..6], &n[6..]) } else { n.to_owned() }
}

/// `phone` → `Phone`.
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
