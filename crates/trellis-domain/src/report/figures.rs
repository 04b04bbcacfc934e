//! The raw counts behind a report, as the store aggregates them: never a person, only numbers by group.
//! Nothing here is suppressed yet; [`super::ImpactReport::from_figures`] does that.

use crate::OrganisationId;
use crate::offer::{DeclineReason, OfferStatus};
use crate::referral::{ClosureReason, ReferralStatus};
use crate::values::Need;
use crate::wellbeing::InstrumentCode;

use super::equity::{EthnicCategory, Sex};

/// An organisation a count is grouped by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The organisation.
    pub id: OrganisationId,
    /// Its name.
    pub name: String,
    /// Its ODS code, for a GP practice.
    pub ods_code: Option<String>,
}

/// A median and 90th percentile (nearest rank) over `values` values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    /// How many values.
    pub values: u64,
    /// Their median.
    pub median: Option<f64>,
    /// Their 90th percentile.
    pub p90: Option<f64>,
}

impl Spread {
    /// The spread of whole-number values given as `(value, how many)` counts, in any order: the
    /// median is the value at rank ⌈n/2⌉ and the 90th percentile at rank ⌈9n/10⌉ (nearest rank).
    pub fn from_counts(counts: impl IntoIterator<Item = (i64, u64)>) -> Spread {
        let mut counts: Vec<(i64, u64)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
        counts.sort_unstable();
        let values: u64 = counts.iter().map(|(_, n)| n).sum();
        let at_rank = |rank: u64| {
            let mut seen = 0;
            counts.iter().find(|(_, n)| {
                seen += n;
                seen >= rank
            })
        };
        let value = |rank| at_rank(rank).map(|(v, _)| *v as f64);
        Spread { values, median: value(values.div_ceil(2)), p90: value((9 * values).div_ceil(10)) }
    }
}

/// First contact for the period's referrals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContactFigures {
    /// Days from referral to first contact, over the referrals contacted.
    pub days: Spread,
    /// Referrals whose first contact was due by the time of the report, or that were contacted.
    pub due: u64,
    /// Of those, contacted by their due date.
    pub on_time: u64,
}

/// One provider's offers, by the offers' status now.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderFigures {
    /// The provider.
    pub provider: Source,
    /// Offers by status.
    pub by_status: Vec<(OfferStatus, u64)>,
    /// Hours from the offer to the provider's first answer.
    pub hours_to_answer: Spread,
}

/// Offers accepted and attended.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AttendanceFigures {
    /// Offers of the period ever accepted.
    pub accepted: u64,
    /// Of those, with a first attendance.
    pub attended: u64,
}

/// Closures of the period's referrals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClosureFigures {
    /// Closed referrals by reason (every closure carries one).
    pub by_reason: Vec<(ClosureReason, u64)>,
    /// Closed referrals with a follow-up wellbeing measure (a second measure with one instrument).
    pub with_outcome_measure: u64,
}

/// One score's change between baseline and follow-up, summed over people.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WellbeingFigures {
    /// The instrument.
    pub instrument: InstrumentCode,
    /// The score: an ONS4 item's key, or `total` for SWEMWBS.
    pub score: &'static str,
    /// People with both a baseline and a follow-up.
    pub people: u64,
    /// The sum of their changes (follow-up minus baseline).
    pub change_sum: f64,
    /// How many improved (for SWEMWBS, by at least the meaningful change).
    pub improved: u64,
}

/// Everything a report counts, for one period and set of filters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Referrals by the referring organisation.
    pub by_source: Vec<(Source, u64)>,
    /// Referrals by need (a referral may have several).
    pub by_need: Vec<(Need, u64)>,
    /// Referrals by month made (`(year, month)`).
    pub by_month: Vec<((i32, u32), u64)>,
    /// Referrals by status now.
    pub by_status: Vec<(ReferralStatus, u64)>,
    /// First contact.
    pub contact: ContactFigures,
    /// Offers by provider.
    pub providers: Vec<ProviderFigures>,
    /// Hours to answer over every provider.
    pub hours_to_answer: Spread,
    /// Declined offers by reason (`other` for a decline without one).
    pub decline_reasons: Vec<(DeclineReason, u64)>,
    /// Attendance.
    pub attendance: AttendanceFigures,
    /// Closures.
    pub closures: ClosureFigures,
    /// Wellbeing change per instrument and score.
    pub wellbeing: Vec<WellbeingFigures>,
    /// Referrals by whole years of age at referral.
    pub by_age: Vec<(u32, u64)>,
    /// Referrals by recorded sex (`None`: not recorded).
    pub by_sex: Vec<(Option<Sex>, u64)>,
    /// Referrals by recorded ethnic category (`None`: not recorded).
    pub by_ethnic_category: Vec<(Option<EthnicCategory>, u64)>,
}
