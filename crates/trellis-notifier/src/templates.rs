//! One askama template pair (plain text and HTML) per kind of email, under `templates/`.
//!
//! Templates see only [`Letter`]s, which are built from the store's notices, so no personal data can
//! reach them: there is nowhere to put it. Everything is formatted here, in Rust, so templates only place
//! words.

use askama::Template;
use chrono::{DateTime, Utc};
use trellis_domain::directory::CapacityStatus;
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::referral::ClosureReason;
use trellis_domain::values::Need;
use trellis_store::capacity_checks::CapacityNotice;
use trellis_store::notices::{OfferNotice, ReferralNotice};
use trellis_store::outbox::JobKind;

use crate::NotifierError;

/// The words of one email.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// The name to send as, when it is not the configured one.
    pub sender_name: Option<String>,
}

/// What one email is about, with what its template needs. Each is named after its job's kind
/// ([`JobKind`]): its name (`<&str>::from(&letter)`) is that kind's stored name, so the kinds are listed once,
/// by the outbox's jobs, and a test checks that every kind of email has its letter.
#[derive(Clone, Debug, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Letter<'a> {
    /// To the provider: a new offer and its link.
    OfferMade {
        /// The offer.
        notice: &'a OfferNotice,
        /// The provider's link.
        link: &'a str,
        /// When the link stops working.
        link_expires_at: DateTime<Utc>,
    },
    /// To the provider: the offer still waits for an answer.
    OfferReminder {
        /// The offer.
        notice: &'a OfferNotice,
        /// The provider's link.
        link: &'a str,
        /// When the link stops working.
        link_expires_at: DateTime<Utc>,
    },
    /// To the link worker: the provider answered.
    OfferAnswered {
        /// The offer.
        notice: &'a OfferNotice,
        /// The answer (accepted, waitlisted or declined) as it was when the email was queued.
        answer: OfferStatus,
    },
    /// To the link worker: the offer expired unanswered.
    OfferExpired {
        /// The offer.
        notice: &'a OfferNotice,
    },
    /// To the link worker: a provider passed the person on to another service.
    OnwardOfferProposed {
        /// The onward offer.
        notice: &'a OfferNotice,
    },
    /// To the referring practice: its referral closed.
    ReferralClosed {
        /// The referral.
        notice: &'a ReferralNotice,
    },
    /// To the link worker: an email could not be delivered.
    DeliveryFailed {
        /// What the undelivered email was.
        failed_kind: JobKind,
        /// Where it was going (an organisation's or user's address, never the person's).
        failed_recipient: &'a str,
        /// How many times it was tried.
        attempts: u32,
        /// The offer it was about, if any.
        offer: Option<&'a OfferNotice>,
        /// The reference of the referral it was about, if any.
        referral_reference: Option<String>,
    },
    /// To the provider: the offer ended because its referral closed; the place is no longer needed.
    OfferEnded {
        /// The offer (only its reference, service and sender are shown).
        notice: &'a OfferNotice,
        /// How the offer ended (withdrawn, finished or ended early), as queued.
        ended: OfferStatus,
    },
    /// To the provider: please confirm a service's capacity, through the link.
    CapacityCheck {
        /// The service and its capacity as recorded.
        notice: &'a CapacityNotice,
        /// The capacity link.
        link: &'a str,
        /// When the link stops working.
        link_expires_at: DateTime<Utc>,
    },
    /// To the address a service's offers went to: they now go to another (organisations' addresses
    /// only).
    ServiceEmailChanged {
        /// The service.
        notice: &'a CapacityNotice,
        /// Where its offers go now; `None` for its organisation's own address.
        new_address: Option<&'a str>,
        /// When it was changed.
        changed_at: DateTime<Utc>,
    },
    /// To a member of staff who asked to sign in to the web console: the single-use sign-in link.
    SignInLink {
        /// The link.
        link: &'a str,
        /// When it stops working.
        link_expires_at: DateTime<Utc>,
    },
}

/// An offer's facts as the templates show them.
struct OfferFacts {
    reference: String,
    referral_reference: String,
    service: String,
    provider: String,
    sender: String,
    needs: Vec<&'static str>,
    offered_on: String,
    answer_by: String,
    onward_from: Option<String>,
    proposed_by: String,
}

impl OfferFacts {
    fn of(n: &OfferNotice) -> Self {
        OfferFacts {
            reference: n.reference.clone(),
            referral_reference: n.referral_reference.clone(),
            service: n.service_name.clone(),
            provider: n.provider_name.clone(),
            sender: n.link_worker_service_name.clone(),
            needs: n.needs.iter().map(|n| need_label(*n)).collect(),
            offered_on: day(n.offered_at),
            answer_by: day(n.expires_at),
            onward_from: n.onward_from.clone(),
            proposed_by: n.proposed_by.clone().unwrap_or_else(|| "A provider".into()),
        }
    }
}

struct ProviderOffer<'a> {
    subject: String,
    f: OfferFacts,
    link: &'a str,
    link_expires: String,
}

struct LinkWorkerOffer {
    subject: String,
    f: OfferFacts,
    outcome: String,
    sign_in: String,
}

struct ClosedReferral {
    subject: String,
    reference: String,
    reason: &'static str,
    sign_in: String,
}

/// An ended offer as its provider is told of it: references and organisations only, not even the needs.
struct EndedOffer {
    subject: String,
    reference: String,
    service: String,
    provider: String,
    sender: String,
    ended: &'static str,
}

struct FailedDelivery {
    subject: String,
    what: String,
    recipient: String,
    attempts: u32,
    referral_reference: Option<String>,
    f: Option<OfferFacts>,
    sign_in: String,
}

/// A service's capacity as a capacity check shows it.
struct RecordedCapacity {
    status: &'static str,
    places: String,
    updated_on: String,
}

struct CapacityCheckMail<'a> {
    subject: String,
    provider: String,
    service: String,
    recorded: Option<RecordedCapacity>,
    link: &'a str,
    link_expires: String,
}

struct SignInMail<'a> {
    subject: String,
    link: &'a str,
    expires_at: String,
}

struct ServiceEmailChangedMail {
    subject: String,
    provider: String,
    service: String,
    new_address: String,
    changed_on: String,
}

macro_rules! template_pair {
    ($text:ident, $html:ident, $ctx:ty, $text_path:literal, $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a $ctx,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $ctx,
        }
    };
}

template_pair!(OfferMadeText, OfferMadeHtml, ProviderOffer<'a>, "offer_made.txt", "offer_made.html");
template_pair!(OfferReminderText, OfferReminderHtml, ProviderOffer<'a>, "offer_reminder.txt", "offer_reminder.html");
template_pair!(OfferAnsweredText, OfferAnsweredHtml, LinkWorkerOffer, "offer_answered.txt", "offer_answered.html");
template_pair!(OfferExpiredText, OfferExpiredHtml, LinkWorkerOffer, "offer_expired.txt", "offer_expired.html");
template_pair!(
    OnwardOfferProposedText,
    OnwardOfferProposedHtml,
    LinkWorkerOffer,
    "onward_offer_proposed.txt",
    "onward_offer_proposed.html"
);
template_pair!(ReferralClosedText, ReferralClosedHtml, ClosedReferral, "referral_closed.txt", "referral_closed.html");
template_pair!(OfferEndedText, OfferEndedHtml, EndedOffer, "offer_ended.txt", "offer_ended.html");
template_pair!(DeliveryFailedText, DeliveryFailedHtml, FailedDelivery, "delivery_failed.txt", "delivery_failed.html");
template_pair!(
    CapacityCheckText,
    CapacityCheckHtml,
    CapacityCheckMail<'a>,
    "capacity_check.txt",
    "capacity_check.html"
);
template_pair!(SignInLinkText, SignInLinkHtml, SignInMail<'a>, "sign_in_link.txt", "sign_in_link.html");
template_pair!(
    ServiceEmailChangedText,
    ServiceEmailChangedHtml,
    ServiceEmailChangedMail,
    "service_email_changed.txt",
    "service_email_changed.html"
);

fn day(at: DateTime<Utc>) -> String {
    // UTC dates: Trellis serves one locality in England, where this is at most an hour off local time.
    at.format("%A %-d %B %Y").to_string()
}

fn pair(text: impl Template, html: impl Template) -> Result<(String, String), NotifierError> {
    Ok((text.render()?, html.render()?))
}

impl Letter<'_> {
    /// Renders the subject and both parts. `sign_in` is where link workers and practices sign in.
    pub fn render(&self, sign_in: &str) -> Result<Rendered, NotifierError> {
        let sign_in = sign_in.to_string();
        let mut sender_name = None;
        let (subject, (text, html)) = match *self {
            Self::OfferMade { notice, link, link_expires_at } => {
                let m = ProviderOffer {
                    subject: format!("Referral offer {} for {}", notice.reference, notice.service_name),
                    f: OfferFacts::of(notice),
                    link,
                    link_expires: day(link_expires_at),
                };
                sender_name = Some(notice.link_worker_service_name.clone());
                (m.subject.clone(), pair(OfferMadeText { m: &m }, OfferMadeHtml { m: &m })?)
            }
            Self::OfferReminder { notice, link, link_expires_at } => {
                let m = ProviderOffer {
                    subject: format!("Reminder: referral offer {} is waiting for your answer", notice.reference),
                    f: OfferFacts::of(notice),
                    link,
                    link_expires: day(link_expires_at),
                };
                sender_name = Some(notice.link_worker_service_name.clone());
                (m.subject.clone(), pair(OfferReminderText { m: &m }, OfferReminderHtml { m: &m })?)
            }
            Self::OfferAnswered { notice, answer } => {
                let outcome = answer_label(answer, notice.decline_reason);
                let m = LinkWorkerOffer {
                    subject: format!("Offer {} {}: {}", notice.reference, short_answer(answer), notice.service_name),
                    f: OfferFacts::of(notice),
                    outcome,
                    sign_in,
                };
                (m.subject.clone(), pair(OfferAnsweredText { m: &m }, OfferAnsweredHtml { m: &m })?)
            }
            Self::OfferExpired { notice } => {
                let m = LinkWorkerOffer {
                    subject: format!("Offer {} expired with no answer: {}", notice.reference, notice.service_name),
                    f: OfferFacts::of(notice),
                    outcome: "expired with no answer".into(),
                    sign_in,
                };
                (m.subject.clone(), pair(OfferExpiredText { m: &m }, OfferExpiredHtml { m: &m })?)
            }
            Self::OnwardOfferProposed { notice } => {
                let m = LinkWorkerOffer {
                    subject: format!(
                        "Onward offer {}: {} passed the person on to {}",
                        notice.reference,
                        notice.proposed_by.as_deref().unwrap_or("a provider"),
                        notice.service_name
                    ),
                    f: OfferFacts::of(notice),
                    outcome: "proposed as an onward offer".into(),
                    sign_in,
                };
                (m.subject.clone(), pair(OnwardOfferProposedText { m: &m }, OnwardOfferProposedHtml { m: &m })?)
            }
            Self::ReferralClosed { notice } => {
                let reason = notice.closure_reason.map(closure_label).unwrap_or("closed");
                let m = ClosedReferral {
                    subject: format!("Referral {} closed: {reason}", notice.reference),
                    reference: notice.reference.clone(),
                    reason,
                    sign_in,
                };
                (m.subject.clone(), pair(ReferralClosedText { m: &m }, ReferralClosedHtml { m: &m })?)
            }
            Self::DeliveryFailed { failed_kind, failed_recipient, attempts, offer, ref referral_reference } => {
                let about = offer
                    .map(|o| o.reference.clone())
                    .or_else(|| referral_reference.clone())
                    .unwrap_or_else(|| "a referral".into());
                let m = FailedDelivery {
                    subject: match failed_kind {
                        JobKind::GpMessage => {
                            format!("The message back to the GP about {about} could not be delivered")
                        }
                        _ => format!("Email about {about} could not be delivered"),
                    },
                    what: what_failed(failed_kind, offer),
                    recipient: failed_recipient.to_string(),
                    attempts,
                    referral_reference: referral_reference.clone(),
                    f: offer.map(OfferFacts::of),
                    sign_in,
                };
                (m.subject.clone(), pair(DeliveryFailedText { m: &m }, DeliveryFailedHtml { m: &m })?)
            }
            Self::CapacityCheck { notice, link, link_expires_at } => {
                let m = CapacityCheckMail {
                    subject: format!("Are the places at {} up to date?", notice.service_name),
                    provider: notice.provider_name.clone(),
                    service: notice.service_name.clone(),
                    recorded: notice.capacity.as_ref().map(|c| RecordedCapacity {
                        status: capacity_status_label(c.status),
                        places: format!("{} of {} {} free", c.available, c.maximum, c.unit),
                        updated_on: day(c.updated_at),
                    }),
                    link,
                    link_expires: day(link_expires_at),
                };
                (m.subject.clone(), pair(CapacityCheckText { m: &m }, CapacityCheckHtml { m: &m })?)
            }
            Self::OfferEnded { notice, ended } => {
                let m = EndedOffer {
                    subject: format!("Offer {} is no longer needed: {}", notice.reference, notice.service_name),
                    reference: notice.reference.clone(),
                    service: notice.service_name.clone(),
                    provider: notice.provider_name.clone(),
                    sender: notice.link_worker_service_name.clone(),
                    ended: match ended {
                        OfferStatus::Finished => "the activity is recorded as finished",
                        OfferStatus::EndedEarly => "the activity is recorded as ended early",
                        _ => "the offer has been withdrawn",
                    },
                };
                sender_name = Some(notice.link_worker_service_name.clone());
                (m.subject.clone(), pair(OfferEndedText { m: &m }, OfferEndedHtml { m: &m })?)
            }
            Self::SignInLink { link, link_expires_at } => {
                let m = SignInMail {
                    subject: "Your link to sign in to Trellis".into(),
                    link,
                    expires_at: link_expires_at.format("%H:%M UTC on %A %-d %B %Y").to_string(),
                };
                (m.subject.clone(), pair(SignInLinkText { m: &m }, SignInLinkHtml { m: &m })?)
            }
            Self::ServiceEmailChanged { notice, new_address, changed_at } => {
                let m = ServiceEmailChangedMail {
                    subject: format!("Offers for {} now go to another email address", notice.service_name),
                    provider: notice.provider_name.clone(),
                    service: notice.service_name.clone(),
                    new_address: new_address
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("{}'s main address", notice.provider_name)),
                    changed_on: day(changed_at),
                };
                (m.subject.clone(), pair(ServiceEmailChangedText { m: &m }, ServiceEmailChangedHtml { m: &m })?)
            }
        };
        Ok(Rendered { subject, text, html, sender_name })
    }
}

/// How a need reads in an email (the domain's label).
pub fn need_label(need: Need) -> &'static str {
    need.label()
}

/// How a service's capacity status reads in an email.
fn capacity_status_label(status: CapacityStatus) -> &'static str {
    match status {
        CapacityStatus::Open => "Yes, taking people now",
        CapacityStatus::Waitlist => "Taking names for a waiting list",
        CapacityStatus::Closed => "Not taking anyone at the moment",
    }
}

fn decline_label(reason: DeclineReason) -> &'static str {
    match reason {
        DeclineReason::AtCapacity => "no places at the moment",
        DeclineReason::NotEligible => "not eligible for the service",
        DeclineReason::NotSuitable => "the service is not suitable",
        DeclineReason::Other => "another reason",
    }
}

fn short_answer(answer: OfferStatus) -> &'static str {
    match answer {
        OfferStatus::Accepted => "accepted",
        OfferStatus::Waitlisted => "waitlisted",
        OfferStatus::Declined => "declined",
        _ => "answered",
    }
}

fn answer_label(answer: OfferStatus, reason: Option<DeclineReason>) -> String {
    match (answer, reason) {
        (OfferStatus::Accepted, _) => "accepted".into(),
        (OfferStatus::Waitlisted, _) => "put on the waiting list (accepted, but no place yet)".into(),
        (OfferStatus::Declined, Some(reason)) => format!("declined ({})", decline_label(reason)),
        (OfferStatus::Declined, None) => "declined".into(),
        (other, _) => other.as_str().replace('_', " "),
    }
}

fn closure_label(reason: ClosureReason) -> &'static str {
    match reason {
        ClosureReason::Completed => "completed",
        ClosureReason::DeclinedByPerson => "declined by the person",
        ClosureReason::UnableToContact => "unable to contact",
        ClosureReason::NotAppropriate => "not appropriate",
        ClosureReason::WithdrawnByReferrer => "withdrawn by the referrer",
        ClosureReason::MovedAway => "moved away",
        ClosureReason::Died => "died",
        ClosureReason::EnteredInError => "entered in error",
    }
}

fn what_failed(kind: JobKind, offer: Option<&OfferNotice>) -> String {
    let reference = offer.map(|o| o.reference.as_str()).unwrap_or("an offer");
    match kind {
        JobKind::OfferMade => format!("the offer email for {reference}"),
        JobKind::OfferReminder => format!("the reminder email for offer {reference}"),
        JobKind::OfferAnswered => format!("the email about the answer to offer {reference}"),
        JobKind::OfferExpired => format!("the email about the expiry of offer {reference}"),
        JobKind::OnwardOfferProposed => format!("the email about onward offer {reference}"),
        JobKind::ReferralClosed => "the email telling the referring practice that the referral closed".into(),
        JobKind::DeliveryFailed => "an email about an earlier delivery failure".into(),
        JobKind::CapacityCheck => "an email asking a provider to confirm a service's capacity".into(),
        JobKind::OfferEnded => format!("the email telling the provider that offer {reference} is no longer needed"),
        JobKind::ServiceEmailChanged => "an email saying where a service's offers now go".into(),
        JobKind::GpMessage => "the message back to the referring GP practice, over MESH to its mailbox".into(),
        JobKind::SignInLink => "a sign-in link for the web console".into(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use trellis_domain::{OfferId, ReferralId};
    use uuid::Uuid;

    use super::*;

    /// The kind a letter is named after.
    fn kind(letter: &Letter<'_>) -> JobKind {
        let name: &'static str = letter.into();
        JobKind::parse(name).unwrap_or_else(|| panic!("no kind of job is called {name}"))
    }

    fn notice() -> OfferNotice {
        let id = Uuid::parse_str("0190f3a2-7b1c-7d4e-8f00-1c2b3f9a4d5e").unwrap();
        OfferNotice {
            offer: OfferId(id),
            reference: "OF-3F9A-4D5E".into(),
            referral: ReferralId(id),
            referral_reference: "RF-3F9A-4D5E".into(),
            service_name: "Tea & Talk <Wednesdays>".into(),
            provider_name: "Green Spring Network".into(),
            link_worker_service_name: "Erewash PCN Link Workers".into(),
            needs: vec![Need::Loneliness, Need::LowMood],
            status: OfferStatus::Declined,
            decline_reason: Some(DeclineReason::AtCapacity),
            offered_at: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
            expires_at: Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap(),
            onward_from: None,
            proposed_by: None,
        }
    }

    fn capacity_notice() -> CapacityNotice {
        let id = Uuid::parse_str("0190f3a2-7b1c-7d4e-8f00-1c2b3f9a4d5e").unwrap();
        CapacityNotice {
            service: trellis_domain::ServiceId(id),
            service_name: "Tea & Talk <Wednesdays>".into(),
            provider_name: "Green Spring Network".into(),
            active: true,
            capacity: Some(trellis_store::capacity_checks::CurrentCapacity {
                available: 5,
                maximum: 20,
                unit: "places".into(),
                status: CapacityStatus::Waitlist,
                updated_at: Utc.with_ymd_and_hms(2026, 10, 26, 9, 0, 0).unwrap(),
            }),
        }
    }

    fn every_letter<'a>(n: &'a OfferNotice, r: &'a ReferralNotice, c: &'a CapacityNotice) -> Vec<Letter<'a>> {
        let link = "https://trellis.example/offers/tro_abc";
        let link_expires_at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        vec![
            Letter::OfferMade { notice: n, link, link_expires_at },
            Letter::OfferReminder { notice: n, link, link_expires_at },
            Letter::OfferAnswered { notice: n, answer: OfferStatus::Declined },
            Letter::OfferExpired { notice: n },
            Letter::OnwardOfferProposed { notice: n },
            Letter::ReferralClosed { notice: r },
            Letter::DeliveryFailed {
                failed_kind: JobKind::OfferMade,
                failed_recipient: "walks@greenspring.example",
                attempts: 8,
                offer: Some(n),
                referral_reference: Some("RF-3F9A-4D5E".into()),
            },
            Letter::CapacityCheck { notice: c, link: "https://trellis.example/capacity/trc_abc", link_expires_at },
            Letter::OfferEnded { notice: n, ended: OfferStatus::Withdrawn },
            Letter::ServiceEmailChanged {
                notice: c,
                new_address: Some("bookings@greenspring.example"),
                changed_at: link_expires_at,
            },
            Letter::SignInLink { link: "https://trellis.example/sign-in/tsi_abc", link_expires_at },
        ]
    }

    #[test]
    fn every_kind_renders_text_and_html_with_its_reference() {
        let n = notice();
        let r = ReferralNotice {
            referral: n.referral,
            reference: "RF-3F9A-4D5E".into(),
            status: trellis_domain::referral::ReferralStatus::Closed,
            closure_reason: Some(ClosureReason::Completed),
        };
        let c = capacity_notice();
        let letters = every_letter(&n, &r, &c);
        let kinds: Vec<JobKind> = letters.iter().map(kind).collect();
        let emails: Vec<JobKind> = JobKind::emails().collect();
        assert_eq!(kinds, emails, "one letter per kind of email (a GP message goes over MESH, not by letter)");
        for letter in letters {
            let out = letter.render("https://trellis.example").unwrap();
            let (reference, in_html) = match kind(&letter) {
                JobKind::ReferralClosed => ("RF-3F9A-4D5E", "RF-3F9A-4D5E"),
                JobKind::CapacityCheck | JobKind::ServiceEmailChanged => {
                    ("Tea & Talk <Wednesdays>", "Tea &#38; Talk &#60;Wednesdays&#62;")
                }
                JobKind::SignInLink => ("/sign-in/tsi_abc", "/sign-in/tsi_abc"),
                _ => ("OF-3F9A-4D5E", "OF-3F9A-4D5E"),
            };
            if kind(&letter) == JobKind::SignInLink {
                assert_eq!(out.subject, "Your link to sign in to Trellis");
            } else {
                assert!(out.subject.contains(reference), "{:?}: {}", kind(&letter), out.subject);
            }
            assert!(out.text.contains(reference), "{:?}: {}", kind(&letter), out.text);
            assert!(out.html.contains(in_html), "{:?}: {}", kind(&letter), out.html);
            assert!(out.html.contains("name=\"viewport\""), "{:?} is not phone-sized", kind(&letter));
            assert!(!out.text.contains("{{") && !out.html.contains("{%"), "{:?}", kind(&letter));
        }
    }

    #[test]
    fn a_changed_service_email_tells_the_old_address_where_offers_go_now_and_what_to_do_if_unexpected() {
        let c = capacity_notice();
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let moved =
            Letter::ServiceEmailChanged { notice: &c, new_address: Some("new@greenspring.example"), changed_at: at }
                .render("https://trellis.example")
                .unwrap();
        for part in [&moved.text, &moved.html] {
            assert!(part.contains("new@greenspring.example"), "{part}");
            assert!(part.contains("Monday 7 December 2026"), "{part}");
            assert!(part.contains("tell the administrator"), "{part}");
            assert!(!part.contains("/offers/") && !part.contains("/capacity/"), "no link to act with: {part}");
        }
        let to_main = Letter::ServiceEmailChanged { notice: &c, new_address: None, changed_at: at }
            .render("https://trellis.example")
            .unwrap();
        assert!(
            to_main.text.contains("Offers for Tea & Talk <Wednesdays> now go to: Green Spring Network's main address")
        );
    }

    #[test]
    fn an_offer_email_carries_the_link_the_needs_and_the_answer_by_date_and_comes_from_the_link_workers() {
        let n = notice();
        let link_expires_at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let out = Letter::OfferMade { notice: &n, link: "https://trellis.example/offers/tro_abc", link_expires_at }
            .render("https://trellis.example")
            .unwrap();
        assert_eq!(out.sender_name.as_deref(), Some("Erewash PCN Link Workers"));
        for part in [&out.text, &out.html] {
            assert!(part.contains("https://trellis.example/offers/tro_abc"));
            assert!(part.contains("Monday 7 December 2026"));
            assert!(part.contains("Loneliness or isolation"));
            assert!(part.contains("Low mood, stress or anxiety"));
        }
        assert!(out.text.contains("Tea & Talk <Wednesdays>"), "text is not escaped");
        assert!(out.html.contains("Tea &#38; Talk &#60;Wednesdays&#62;"), "html is escaped: {}", out.html);
    }

    #[test]
    fn a_capacity_check_shows_the_capacity_as_recorded_the_link_and_its_expiry() {
        let c = capacity_notice();
        let link_expires_at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        let letter =
            Letter::CapacityCheck { notice: &c, link: "https://trellis.example/capacity/trc_abc", link_expires_at };
        let out = letter.render("https://trellis.example").unwrap();
        assert_eq!(out.sender_name, None, "sent as Trellis itself");
        for part in [&out.text, &out.html] {
            assert!(part.contains("https://trellis.example/capacity/trc_abc"), "{part}");
            assert!(part.contains("5 of 20 places free"), "{part}");
            assert!(part.contains("Taking names for a waiting list"), "{part}");
            assert!(part.contains("Monday 26 October 2026"), "when it was last confirmed: {part}");
            assert!(part.contains("Monday 7 December 2026"), "when the link stops working: {part}");
            assert!(part.contains("Green Spring Network"), "{part}");
        }

        let unrecorded = CapacityNotice { capacity: None, ..capacity_notice() };
        let out =
            Letter::CapacityCheck { notice: &unrecorded, link: "https://t.example/capacity/trc_x", link_expires_at }
                .render("https://t.example")
                .unwrap();
        assert!(out.text.contains("Nothing yet: no places have been recorded."), "{}", out.text);
        assert!(out.html.contains("Nothing yet: no places have been recorded."), "{}", out.html);
    }

    #[test]
    fn the_provider_is_told_an_ended_offer_is_no_longer_needed_by_reference_without_the_needs() {
        let n = notice();
        let out =
            Letter::OfferEnded { notice: &n, ended: OfferStatus::EndedEarly }.render("https://t.example").unwrap();
        assert_eq!(out.sender_name.as_deref(), Some("Erewash PCN Link Workers"));
        for part in [&out.text, &out.html] {
            assert!(part.contains("no longer needed"), "{part}");
            assert!(part.contains("OF-3F9A-4D5E"), "{part}");
            assert!(part.contains("ended early"), "{part}");
            assert!(!part.contains("Loneliness") && !part.contains("RF-3F9A"), "only offer, service, sender: {part}");
            assert!(!part.contains("/offers/"), "no link: {part}");
        }
    }

    #[test]
    fn a_decline_tells_the_link_worker_the_reason_category() {
        let n = notice();
        let out =
            Letter::OfferAnswered { notice: &n, answer: OfferStatus::Declined }.render("https://t.example").unwrap();
        assert!(out.text.contains("declined (no places at the moment)"), "{}", out.text);
        assert!(out.text.contains("https://t.example"), "tells them where to sign in");
    }
}
