//! How long a provider's emailed link to an offer works, and how long it shows the person's contact
//! details.
//!
//! The link is a bearer secret in an ordinary email: whoever holds the email holds the link. Its life is
//! kept as short as the provider's work needs it:
//! - before an answer, until the link's own expiry, which for a reminder's link is never later than the
//!   offer's own deadline ([`link_expiry`]);
//! - once accepted, for [`LIFE_AFTER_ACCEPTANCE`] from the acceptance, to arrange and confirm the first
//!   session, and never beyond the link's own expiry, whichever comes first (a link is never given more
//!   life than it was minted with: an expired link stays expired however it was used);
//! - not at all once the first attendance is confirmed: nothing is left to do through it.
//!
//! The person's contact details are shown in answer to the accepting `POST`, and again only to the
//! browser that accepted, for [`CONTACT_DETAILS_SHOWN_FOR`]. A later plain `GET` of the link shows the
//! offer without them, so a forwarded or leaked email does not hand them on.

use chrono::{DateTime, TimeDelta, Utc};

use super::OfferStatus;

/// How long a link keeps working after the offer was accepted (unless the first attendance is confirmed
/// sooner): long enough to arrange a first session and confirm it.
pub const LIFE_AFTER_ACCEPTANCE: TimeDelta = TimeDelta::days(7);

/// How long the browser that accepted keeps seeing the contact details on reloading the page: long
/// enough to copy them down, short enough that a shared or stolen browser soon shows no more.
pub const CONTACT_DETAILS_SHOWN_FOR: TimeDelta = TimeDelta::minutes(10);

/// What a link minted for an email is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    /// The first email about the offer.
    Offer,
    /// The one reminder of an unanswered offer.
    Reminder,
}

/// When a link minted at `now` stops working: `ttl` from now, and for a reminder never after the offer's
/// own deadline (`offer_expires_at`), so that a reminder never outlives the offer it chases.
pub fn link_expiry(
    purpose: LinkPurpose,
    now: DateTime<Utc>,
    ttl: TimeDelta,
    offer_expires_at: DateTime<Utc>,
) -> DateTime<Utc> {
    let by_ttl = now.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC);
    match purpose {
        LinkPurpose::Offer => by_ttl,
        LinkPurpose::Reminder => by_ttl.min(offer_expires_at),
    }
}

/// Whether a link still works at `now`, given its own expiry, the offer's status and, if the offer was
/// accepted, when.
pub fn link_works(
    status: OfferStatus,
    link_expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    if now >= link_expires_at {
        return false;
    }
    match status {
        // The first attendance was confirmed: nothing is left to do through the link.
        OfferStatus::Started | OfferStatus::Finished | OfferStatus::EndedEarly => false,
        OfferStatus::Accepted => accepted_at.is_some_and(|at| now < at + LIFE_AFTER_ACCEPTANCE),
        _ => true,
    }
}

/// When the link stops working, as the page tells the provider: its own expiry, or a week after the
/// acceptance if that comes first.
pub fn works_until(link_expires_at: DateTime<Utc>, accepted_at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match accepted_at {
        Some(at) => link_expires_at.min(at + LIFE_AFTER_ACCEPTANCE),
        None => link_expires_at,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, 9, 0, 0).unwrap()
    }

    #[test]
    fn a_reminders_link_never_outlives_the_offer_and_an_offers_link_runs_its_ttl() {
        let ttl = TimeDelta::days(14);
        assert_eq!(link_expiry(LinkPurpose::Reminder, at(8), ttl, at(15)), at(15));
        assert_eq!(link_expiry(LinkPurpose::Reminder, at(1), TimeDelta::days(3), at(15)), at(4));
        assert_eq!(link_expiry(LinkPurpose::Offer, at(1), ttl, at(10)), at(15));
        assert_eq!(link_expiry(LinkPurpose::Offer, at(1), TimeDelta::MAX, at(10)), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn a_link_stops_a_week_after_acceptance_or_at_its_own_expiry() {
        let expires = at(20);
        assert!(link_works(OfferStatus::Offered, expires, None, at(19)));
        assert!(!link_works(OfferStatus::Offered, expires, None, at(20)));
        assert!(link_works(OfferStatus::Accepted, expires, Some(at(2)), at(8)));
        assert!(!link_works(OfferStatus::Accepted, expires, Some(at(2)), at(9)), "a week after acceptance");
        assert!(!link_works(OfferStatus::Accepted, at(5), Some(at(2)), at(6)), "its own expiry comes first");
        assert!(!link_works(OfferStatus::Accepted, expires, None, at(3)), "an acceptance with no time is not trusted");
        assert_eq!(works_until(expires, Some(at(2))), at(9));
        assert_eq!(works_until(at(5), Some(at(2))), at(5));
        assert_eq!(works_until(expires, None), expires);
    }

    #[test]
    fn a_link_stops_once_the_first_attendance_is_confirmed() {
        for status in [OfferStatus::Started, OfferStatus::Finished, OfferStatus::EndedEarly] {
            assert!(!link_works(status, at(20), Some(at(2)), at(3)), "{status:?}");
        }
        for status in [OfferStatus::Declined, OfferStatus::Withdrawn, OfferStatus::Expired, OfferStatus::Waitlisted] {
            assert!(link_works(status, at(20), None, at(3)), "{status:?} shows what was decided");
        }
    }
}
