//! Impact reports (issue 17): for a period, filtered by GP practice, link worker service, provider and
//! need, what happened to referrals and offers, as tables of counts, shares and statistics with small
//! numbers suppressed ([`crate::disclosure`]). Never a person: only aggregates.
//!
//! The store counts ([`Figures`]); [`ImpactReport::from_figures`] turns the counts into protected
//! [`Table`]s; the page, the CSV files and GraphQL print those same tables' cells, so they agree.
//!
//! # Layout
//! - [`equity`]: age bands, and the optional sex and NHS ethnic category a referral may record.
//! - [`figures`]: the raw counts the store hands over.
//! - [`table`]: the table model every output prints, and the share and statistic rules.
//! - `build`: from figures to tables.

mod build;
pub mod equity;
pub mod figures;
pub mod table;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::OrganisationId;
use crate::values::{Need, ValueError};

pub use equity::{AgeBand, EthnicCategory, Sex};
pub use figures::Figures;
pub use table::{Cell, Chart, Column, Row, Table};

/// The longest period a report covers, in days (about five years).
pub const LONGEST_PERIOD_DAYS: i64 = 1830;

/// The days a report covers: referrals (and offers) made from `from` to `to`, both included (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

impl Period {
    /// The period from `from` to `to` inclusive: `to` not before `from`, and at most
    /// [`LONGEST_PERIOD_DAYS`] long.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Period, ValueError> {
        if to < from {
            return Err(ValueError::new("period.to", to.to_string(), "is before the period's start"));
        }
        if (to - from).num_days() >= LONGEST_PERIOD_DAYS {
            return Err(ValueError::new("period.to", to.to_string(), "makes the period longer than five years"));
        }
        Ok(Period { from, to })
    }

    /// The first day.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last day.
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// The first instant (midnight UTC at the start of the first day).
    pub fn start(&self) -> DateTime<Utc> {
        self.from.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// The instant after the period (midnight UTC at the end of the last day).
    pub fn end(&self) -> DateTime<Utc> {
        (self.to + Duration::days(1)).and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// The months the period touches, as `(year, month)`, in order.
    pub fn months(&self) -> Vec<(i32, u32)> {
        let mut months = vec![];
        let (mut y, mut m) = (self.from.year(), self.from.month());
        while (y, m) <= (self.to.year(), self.to.month()) {
            months.push((y, m));
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        months
    }
}

/// Which referrals and offers a report counts. Every filter narrows; none set is the whole locality.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportFilters {
    /// Referrals made by this GP practice (and their offers).
    pub practice: Option<OrganisationId>,
    /// Referrals worked by this link worker service (and their offers).
    pub link_worker_service: Option<OrganisationId>,
    /// Referrals with an offer to this provider, and only the offers to it.
    pub provider: Option<OrganisationId>,
    /// Referrals for this need (and their offers).
    pub need: Option<Need>,
}

/// An impact report: its period, its filters and its tables, small numbers suppressed.
#[derive(Clone, Debug, PartialEq)]
pub struct ImpactReport {
    /// The period counted.
    pub period: Period,
    /// The filters applied.
    pub filters: ReportFilters,
    /// The tables, in the order the page shows them.
    pub tables: Vec<Table>,
}

impl ImpactReport {
    /// The table named `name` (as in `/reports/<name>.csv`).
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// Every table's name, in the order of the report.
pub const TABLE_NAMES: [&str; 14] = [
    "referrals-by-source",
    "referrals-by-need",
    "referrals-by-month",
    "referrals-by-status",
    "first-contact",
    "offers-by-provider",
    "decline-reasons",
    "attendance",
    "closed-loop",
    "closures-by-reason",
    "wellbeing",
    "referrals-by-age-band",
    "referrals-by-sex",
    "referrals-by-ethnic-category",
];
