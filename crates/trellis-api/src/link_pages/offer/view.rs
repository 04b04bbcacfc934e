//! What the provider page shows, formatted in Rust so the templates only place words.

use askama::Template;
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::values::{ContactMethod, Need};
use trellis_store::links::LinkedOffer;
use trellis_store::notices::offer_reference;

use crate::link_pages::kit::day;

/// A confirmation shown after the POST/redirect/GET round trip, named by the `done` query flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Done {
    /// The provider accepted.
    Accepted,
    /// The provider put the person on its waiting list.
    Waitlisted,
    /// The provider declined.
    Declined,
    /// The provider confirmed first attendance.
    Attended,
    /// The provider suggested another group (an onward offer).
    PassedOn,
    /// The offer had already moved on; nothing changed.
    Unchanged,
}

impl Done {
    const ALL: [Done; 6] =
        [Self::Accepted, Self::Waitlisted, Self::Declined, Self::Attended, Self::PassedOn, Self::Unchanged];

    /// The query flag's value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Waitlisted => "waitlisted",
            Self::Declined => "declined",
            Self::Attended => "attended",
            Self::PassedOn => "passed-on",
            Self::Unchanged => "unchanged",
        }
    }

    /// The flag in a query string such as `done=accepted`, if any.
    pub(crate) fn from_query(query: Option<&str>) -> Option<Done> {
        let value = query?.split('&').find_map(|pair| pair.strip_prefix("done="))?;
        Self::ALL.into_iter().find(|d| d.as_str() == value)
    }

    /// What the provider just did, as the offer's status now shows it.
    pub(crate) fn of_status(status: OfferStatus) -> Option<Done> {
        match status {
            OfferStatus::Accepted => Some(Self::Accepted),
            OfferStatus::Waitlisted => Some(Self::Waitlisted),
            OfferStatus::Declined => Some(Self::Declined),
            OfferStatus::Started => Some(Self::Attended),
            _ => None,
        }
    }

    /// The confirmation, if it still describes the offer (a hand-edited flag shows nothing).
    fn message(self, status: OfferStatus, first_name: &str) -> Option<String> {
        let passed_on_fits = self == Self::PassedOn && matches!(status, OfferStatus::Accepted | OfferStatus::Started);
        if self != Self::Unchanged && !passed_on_fits && Self::of_status(status) != Some(self) {
            return None;
        }
        Some(match self {
            Self::Accepted => format!(
                "Thank you: you accepted this offer. {first_name}'s contact details are below, and their link \
                 worker has been told."
            ),
            Self::Waitlisted => format!(
                "{first_name} is on your waiting list, and their link worker has been told. Come back to this \
                 page to accept when a place frees up."
            ),
            Self::Declined => "You declined this offer. The link worker has been told and will look for \
                               another option."
                .to_owned(),
            Self::Attended => "Thank you: first attendance confirmed. Their link worker can see it now.".to_owned(),
            Self::PassedOn => format!(
                "Thank you: the group you suggested has been asked to take {first_name} too, and their link worker \
                 has been told."
            ),
            Self::Unchanged => "Nothing was changed: this offer had already moved on before your answer arrived. \
                                Where it stands now is shown below."
                .to_owned(),
        })
    }
}

/// A problem with what the provider sent, shown above the form with a link to the control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FormError {
    /// What went wrong and what to do.
    pub message: String,
    /// The id of the control to fix.
    pub target: &'static str,
}

/// Another service in the network the provider may suggest, as an option in a list.
#[derive(Clone, Debug)]
pub(crate) struct ServiceChoice {
    /// The service's id, the form value.
    pub value: String,
    /// "Service (provider)".
    pub label: String,
    /// Whether it is chosen.
    pub selected: bool,
}

/// One decline reason as a radio button.
#[derive(Clone, Debug)]
pub(crate) struct ReasonChoice {
    /// The form value.
    pub value: &'static str,
    /// The visible label.
    pub label: &'static str,
    /// Whether it is chosen.
    pub checked: bool,
}

/// How to reach the person, once accepted.
#[derive(Clone, Debug)]
pub(crate) struct ContactView {
    /// Full name.
    pub name: String,
    /// Phone as shown, and as a `tel:` target.
    pub phone: Option<(String, String)>,
    /// Email.
    pub email: Option<String>,
    /// How they like to be contacted.
    pub preferred: String,
}

/// The offer page.
#[derive(Template)]
#[template(path = "provider_offer.html")]
pub(crate) struct OfferPage {
    pub reference: String,
    pub service: String,
    pub provider: String,
    pub first_name: String,
    pub age_band: &'static str,
    pub needs: Vec<&'static str>,
    pub note: Option<String>,
    pub status: &'static str,
    pub status_detail: String,
    pub notice: Option<String>,
    pub error: Option<FormError>,
    pub link_expires: String,
    pub can_accept: bool,
    pub can_waitlist: bool,
    pub can_decline: bool,
    pub can_confirm_attendance: bool,
    pub can_pass_on: bool,
    pub onward_services: Vec<ServiceChoice>,
    pub onward_note: String,
    pub contact: Option<ContactView>,
    /// Accepted, but the contact details are not shown to this opening of the link.
    pub contact_withheld: bool,
    /// Whether the link still works after this page (not once the first attendance is confirmed).
    pub link_live: bool,
    pub reasons: Vec<ReasonChoice>,
    pub decline_note: String,
    pub note_max: usize,
    pub csrf_field: &'static str,
    pub csrf: String,
}

/// The words for a decline reason.
pub(crate) fn reason_label(reason: DeclineReason) -> &'static str {
    match reason {
        DeclineReason::AtCapacity => "We have no places at the moment",
        DeclineReason::NotEligible => "They are not eligible for this service",
        DeclineReason::NotSuitable => "This service is not suitable for them",
        DeclineReason::Other => "Another reason (please say in the note)",
    }
}

fn contact_label(stored: &str) -> String {
    match ContactMethod::parse(stored) {
        Ok(ContactMethod::Phone) => "A phone call".into(),
        Ok(ContactMethod::Text) => "A text message".into(),
        Ok(ContactMethod::Email) => "An email".into(),
        Ok(ContactMethod::Letter) => "A letter".into(),
        Err(_) => stored.replace('_', " "),
    }
}

/// A UK number grouped for reading aloud (`01154960123` as `0115 496 0123`); anything else as stored.
fn phone_display(phone: &str) -> String {
    let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    if digits.len() != 11 || digits[0] != b'0' || phone.chars().any(|c| !(c.is_ascii_digit() || c == ' ')) {
        return phone.to_owned();
    }
    let groups: &[usize] = match (digits[1], digits[2], digits[3]) {
        (b'2', _, _) => &[3, 4, 4],
        (b'1', b'1', _) | (b'1', _, b'1') => &[4, 3, 4],
        (b'1' | b'7', _, _) => &[5, 6],
        _ => &[4, 3, 4],
    };
    let mut out = String::with_capacity(14);
    let mut at = 0;
    for len in groups {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(digits[at..at + len].iter().map(|b| char::from(*b)));
        at += len;
    }
    out
}

/// What the provider may do next, given where the offer is.
struct Choices {
    accept: bool,
    waitlist: bool,
    decline: bool,
    confirm_attendance: bool,
}

fn choices(status: OfferStatus) -> Choices {
    Choices {
        accept: matches!(status, OfferStatus::Offered | OfferStatus::Waitlisted),
        waitlist: status == OfferStatus::Offered,
        decline: matches!(status, OfferStatus::Offered | OfferStatus::Waitlisted),
        confirm_attendance: status == OfferStatus::Accepted,
    }
}

fn status_words(linked: &LinkedOffer) -> (&'static str, String) {
    let record = &linked.view.offer;
    let name = &linked.view.first_name;
    let when = day(record.state.updated_at);
    if linked.view.referral_closed {
        return (
            "No longer needed",
            format!(
                "{name}'s referral has closed, so this place is no longer needed. There is nothing more to do, \
                 and their contact details are no longer shown."
            ),
        );
    }
    match record.state.status {
        OfferStatus::Offered => {
            ("Waiting for your answer", format!("Please answer by {}.", day(record.expires_at.min(linked.expires_at))))
        }
        OfferStatus::Waitlisted => (
            "On your waiting list",
            format!(
                "You added {name} to your waiting list on {when}. When a place frees up, accept below; if it no \
                 longer suits, decline."
            ),
        ),
        OfferStatus::Accepted => (
            "Accepted",
            format!(
                "You accepted on {when}. Please get in touch with {name} to arrange their first session, then \
                 confirm when they have come."
            ),
        ),
        OfferStatus::Started => (
            "Attending",
            format!(
                "You confirmed {name}'s first attendance on {when}. There is nothing more to do here, so this \
                 link stops working now."
            ),
        ),
        OfferStatus::Finished => ("Finished", format!("The activity finished on {when}. There is nothing more to do.")),
        OfferStatus::EndedEarly => {
            ("Ended early", format!("The activity ended early on {when}. There is nothing more to do."))
        }
        OfferStatus::Declined => {
            let why = record.state.decline_reason.map(reason_label).unwrap_or("no reason given");
            ("Declined", format!("You declined this offer on {when}. Reason: {}.", why.to_lowercase()))
        }
        OfferStatus::Withdrawn => {
            ("Withdrawn", format!("The link worker withdrew this offer on {when}. There is nothing more to do."))
        }
        OfferStatus::Expired => {
            ("Expired", format!("This offer expired on {when} without an answer. There is nothing more to do."))
        }
    }
}

impl OfferPage {
    /// The page for an offer reached through a live link.
    pub(crate) fn new(
        linked: &LinkedOffer,
        done: Option<Done>,
        error: Option<FormError>,
        chosen_reason: Option<DeclineReason>,
        decline_note: String,
        csrf: String,
    ) -> OfferPage {
        let view = &linked.view;
        let record = &view.offer;
        let status = record.state.status;
        let (status_label, status_detail) = status_words(linked);
        // Nothing may be done for a person whose referral has closed: the place is no longer needed.
        let can = if view.referral_closed { choices(OfferStatus::Withdrawn) } else { choices(status) };
        OfferPage {
            reference: offer_reference(record.state.id),
            service: record.service_name.clone(),
            provider: record.provider_name.clone(),
            first_name: view.first_name.clone(),
            age_band: view.age_band,
            needs: view.needs.iter().copied().map(Need::label).collect(),
            note: record.note_for_provider.clone().filter(|n| !n.trim().is_empty()),
            status: status_label,
            status_detail,
            // "Contact details are below" only where they are.
            notice: done
                .filter(|d| *d != Done::Accepted || view.contact.is_some())
                .and_then(|d| d.message(status, &view.first_name)),
            error,
            link_expires: day(linked.expires_at),
            can_accept: can.accept,
            can_waitlist: can.waitlist,
            can_decline: can.decline,
            can_confirm_attendance: can.confirm_attendance,
            can_pass_on: !view.referral_closed && matches!(status, OfferStatus::Accepted | OfferStatus::Started),
            onward_services: Vec::new(),
            onward_note: String::new(),
            contact: view.contact.as_ref().map(|c| ContactView {
                name: c.name.clone(),
                phone: c
                    .phone
                    .as_deref()
                    .map(|p| (phone_display(p), p.chars().filter(|c| !c.is_whitespace()).collect())),
                email: c.email.clone(),
                preferred: contact_label(&c.preferred_contact),
            }),
            contact_withheld: status == OfferStatus::Accepted && view.contact.is_none(),
            link_live: !matches!(status, OfferStatus::Started | OfferStatus::Finished | OfferStatus::EndedEarly),
            reasons: DeclineReason::ALL
                .iter()
                .map(|r| ReasonChoice {
                    value: r.as_str(),
                    label: reason_label(*r),
                    checked: chosen_reason == Some(*r),
                })
                .collect(),
            decline_note,
            note_max: trellis_domain::referral::MAX_NOTE_CHARS,
            csrf_field: super::csrf::FIELD_NAME,
            csrf,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_done_flag_is_read_from_the_query_and_only_shown_when_it_still_holds() {
        assert_eq!(Done::from_query(Some("x=1&done=accepted")), Some(Done::Accepted));
        assert_eq!(Done::from_query(Some("done=<script>")), None);
        assert_eq!(Done::from_query(None), None);
        assert!(Done::Accepted.message(OfferStatus::Accepted, "Ann").is_some());
        assert!(Done::Accepted.message(OfferStatus::Declined, "Ann").is_none());
        assert!(Done::Unchanged.message(OfferStatus::Declined, "Ann").is_some());
    }

    #[test]
    fn uk_phone_numbers_are_grouped_for_reading() {
        assert_eq!(phone_display("01154960123"), "0115 496 0123");
        assert_eq!(phone_display("07700900123"), "07700 900123");
        assert_eq!(phone_display("02079460000"), "020 7946 0000");
        assert_eq!(phone_display("01332123456"), "01332 123456");
        assert_eq!(phone_display("03001234567"), "0300 123 4567");
        assert_eq!(phone_display("+44 115 496 0123"), "+44 115 496 0123");
    }

    #[test]
    fn only_the_choices_the_lifecycle_allows_are_offered() {
        let c = choices(OfferStatus::Offered);
        assert!(c.accept && c.waitlist && c.decline && !c.confirm_attendance);
        let c = choices(OfferStatus::Waitlisted);
        assert!(c.accept && !c.waitlist && c.decline && !c.confirm_attendance);
        let c = choices(OfferStatus::Accepted);
        assert!(!c.accept && !c.waitlist && !c.decline && c.confirm_attendance);
        for s in [OfferStatus::Started, OfferStatus::Declined, OfferStatus::Withdrawn, OfferStatus::Expired] {
            let c = choices(s);
            assert!(!c.accept && !c.waitlist && !c.decline && !c.confirm_attendance, "{s:?}");
        }
    }
}
