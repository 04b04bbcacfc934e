//! The network's service levels as one value: how long a provider has to answer an offer and when it is
//! reminded, how soon a new referral must be contacted, and how old a provider's capacity may be before
//! it is no longer trusted. A deployment tunes the numbers; every deadline and staleness test is derived
//! here, so the API, the link pages and the store cannot disagree about them.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::add_working_days;
use crate::values::Urgency;

/// The service levels a deployment runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Days a provider has to answer an offer before it expires.
    pub offer_expiry_days: i64,
    /// Days after an offer is made that an unanswered offer gets its one reminder (none when that is not
    /// before the expiry).
    pub offer_reminder_days: i64,
    /// Working days within which a routine referral should be contacted.
    pub first_contact_working_days: u32,
    /// Working days within which an urgent referral should be contacted.
    pub urgent_first_contact_working_days: u32,
    /// Capacity a provider last confirmed longer ago than this many days is stale: shown as such, and
    /// matching stops counting on it. Negative numbers count as zero.
    pub capacity_stale_after_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            offer_expiry_days: 14,
            offer_reminder_days: 5,
            first_contact_working_days: 5,
            urgent_first_contact_working_days: 1,
            capacity_stale_after_days: 14,
        }
    }
}

/// When an unanswered offer is chased and when it lapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferTimers {
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When to send the one reminder.
    pub remind_at: Option<DateTime<Utc>>,
}

impl Policy {
    /// The timers of an offer made at `now`: it expires after the expiry days, and is reminded once only
    /// when the reminder falls before the expiry.
    pub fn offer_timers(&self, now: DateTime<Utc>) -> OfferTimers {
        let expires_at = plus_days(now, self.offer_expiry_days);
        let remind_at = plus_days(now, self.offer_reminder_days);
        OfferTimers { expires_at, remind_at: (remind_at < expires_at).then_some(remind_at) }
    }

    /// How long an offer stays open, at least a day: also how long its email's link may live.
    pub fn offer_expiry(&self) -> TimeDelta {
        TimeDelta::try_days(self.offer_expiry_days.max(1)).unwrap_or(TimeDelta::MAX)
    }

    /// When first contact with a referral made at `now` with `urgency` is due, in working days.
    pub fn contact_due(&self, urgency: Urgency, now: DateTime<Utc>) -> DateTime<Utc> {
        let days = match urgency {
            Urgency::Urgent => self.urgent_first_contact_working_days,
            Urgency::Routine => self.first_contact_working_days,
        };
        add_working_days(now, days)
    }

    /// How long capacity is trusted after a provider confirmed it.
    pub fn capacity_stale_after(&self) -> TimeDelta {
        TimeDelta::try_days(self.capacity_stale_after_days.max(0)).unwrap_or(TimeDelta::MAX)
    }

    /// Capacity confirmed before this instant is stale at `now` (for filtering in a query).
    pub fn capacity_stale_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(self.capacity_stale_after()).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Whether capacity a provider confirmed at `updated` is stale at `now`.
    pub fn capacity_stale(&self, updated: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        updated < self.capacity_stale_before(now)
    }
}

/// `at` moved by `days` calendar days, held at the end of time rather than overflowing.
fn plus_days(at: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    TimeDelta::try_days(days).and_then(|d| at.checked_add_signed(d)).unwrap_or(if days < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone, Weekday};
    use proptest::prelude::*;

    use super::*;

    fn friday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
    }

    #[test]
    fn an_offer_expires_after_its_days_and_is_reminded_before_then() {
        let timers = Policy::default().offer_timers(friday());
        assert_eq!(timers.expires_at, friday() + TimeDelta::days(14));
        assert_eq!(timers.remind_at, Some(friday() + TimeDelta::days(5)));
    }

    #[test]
    fn a_reminder_not_before_the_expiry_is_not_sent() {
        let same = Policy { offer_expiry_days: 5, offer_reminder_days: 5, ..Policy::default() };
        assert_eq!(same.offer_timers(friday()).remind_at, None);
        let later = Policy { offer_expiry_days: 3, offer_reminder_days: 5, ..Policy::default() };
        assert_eq!(later.offer_timers(friday()).remind_at, None);
    }

    #[test]
    fn absurd_day_counts_saturate_instead_of_panicking() {
        let policy = Policy { offer_expiry_days: i64::MAX, offer_reminder_days: i64::MIN, ..Policy::default() };
        let timers = policy.offer_timers(friday());
        assert_eq!(timers.expires_at, DateTime::<Utc>::MAX_UTC);
        assert_eq!(timers.remind_at, Some(DateTime::<Utc>::MIN_UTC));
        assert_eq!(policy.offer_expiry(), TimeDelta::MAX);
    }

    #[test]
    fn an_offer_link_lives_at_least_a_day() {
        assert_eq!(Policy { offer_expiry_days: 0, ..Policy::default() }.offer_expiry(), TimeDelta::days(1));
        assert_eq!(Policy::default().offer_expiry(), TimeDelta::days(14));
    }

    #[test]
    fn first_contact_is_due_in_working_days_by_urgency() {
        let policy = Policy::default();
        // Five working days from a Friday is the next Friday; one is the Monday.
        assert_eq!(policy.contact_due(Urgency::Routine, friday()), friday() + TimeDelta::days(7));
        assert_eq!(policy.contact_due(Urgency::Urgent, friday()), friday() + TimeDelta::days(3));
        let slower = Policy { first_contact_working_days: 10, ..policy };
        assert_eq!(slower.contact_due(Urgency::Routine, friday()), friday() + TimeDelta::days(14));
    }

    #[test]
    fn capacity_is_stale_once_older_than_the_days_allowed() {
        let policy = Policy::default();
        let now = friday();
        assert!(!policy.capacity_stale(now - TimeDelta::days(14), now), "exactly the limit is still trusted");
        assert!(policy.capacity_stale(now - TimeDelta::days(14) - TimeDelta::seconds(1), now));
        assert!(!policy.capacity_stale(now, now));
        let month = Policy { capacity_stale_after_days: 30, ..policy };
        assert!(!month.capacity_stale(now - TimeDelta::days(21), now));
        assert!(month.capacity_stale(now - TimeDelta::days(42), now));
    }

    #[test]
    fn negative_staleness_counts_as_zero_days() {
        let policy = Policy { capacity_stale_after_days: -3, ..Policy::default() };
        assert_eq!(policy.capacity_stale_before(friday()), friday());
        assert!(!policy.capacity_stale(friday(), friday()));
    }

    proptest! {
        #[test]
        fn contact_is_due_on_a_working_day_no_sooner_than_the_days_given(
            start in 0i64..4_000_000_000,
            days in 1u32..60,
            urgent in any::<bool>(),
        ) {
            let now = DateTime::<Utc>::from_timestamp(start, 0).unwrap();
            let policy = Policy { first_contact_working_days: days, urgent_first_contact_working_days: days, ..Policy::default() };
            let urgency = if urgent { Urgency::Urgent } else { Urgency::Routine };
            let due = policy.contact_due(urgency, now);
            prop_assert!(!matches!(due.weekday(), Weekday::Sat | Weekday::Sun));
            prop_assert!(due - now >= TimeDelta::days(i64::from(days)));
            // At most two weekend days for every five working days, plus a starting weekend.
            prop_assert!(due - now <= TimeDelta::days(i64::from(days) + 2 * (i64::from(days) / 5 + 1)));
        }

        #[test]
        fn staleness_agrees_with_its_own_cutoff(
            age_secs in -1_000_000i64..100_000_000,
            stale_days in -5i64..400,
        ) {
            let now = friday();
            let policy = Policy { capacity_stale_after_days: stale_days, ..Policy::default() };
            let updated = now - TimeDelta::seconds(age_secs);
            prop_assert_eq!(policy.capacity_stale(updated, now), updated < policy.capacity_stale_before(now));
            prop_assert_eq!(
                policy.capacity_stale(updated, now),
                TimeDelta::seconds(age_secs) > TimeDelta::days(stale_days.max(0))
            );
        }

        #[test]
        fn a_reminder_is_always_before_the_expiry(
            expiry in -30i64..60,
            reminder in -30i64..60,
        ) {
            let policy = Policy { offer_expiry_days: expiry, offer_reminder_days: reminder, ..Policy::default() };
            let timers = policy.offer_timers(friday());
            prop_assert!(timers.remind_at.is_none_or(|r| r < timers.expires_at));
            prop_assert_eq!(timers.remind_at.is_some(), reminder < expiry);
        }
    }
}
