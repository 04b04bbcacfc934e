//! The counts behind impact reports, aggregated in the database: every query groups and counts in SQL,
//! on SQLite and PostgreSQL alike, and only counts (and medians, percentiles and sums of change) leave
//! the store, as the domain's [`Figures`]. Nothing here names or returns a person.
//!
//! A report follows a cohort: the referrals made in the period (UTC days) that pass the filters, and
//! what has happened to them and their offers since, up to the moment of the report.
//!
//! # Layout
//! - `cohort`: the period and filters as one SQL condition over `referrals r`, and the SQL helpers.
//! - `counts`: referrals, contact, offers, attendance, closures and equity.
//! - `wellbeing`: baseline and follow-up measures, scored by the domain and summed.

mod cohort;
mod counts;
mod wellbeing;

use chrono::{DateTime, Utc};
use trellis_domain::OrganisationId;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::report::{Figures, Period, ReportFilters};

use crate::entity::organisation;
use crate::{Store, StoreError};
use cohort::Cohort;
use sea_orm::EntityTrait;

impl Store {
    /// The counts for an impact report of `period` with `filters`, as of `now`. A filter naming an
    /// organisation that does not exist, or is not of the kind the filter asks for, is
    /// [`StoreError::UnknownReference`] naming the filter.
    pub async fn report_figures(
        &self,
        period: Period,
        filters: ReportFilters,
        now: DateTime<Utc>,
    ) -> Result<Figures, StoreError> {
        self.check_filter(filters.practice, OrganisationKind::GpPractice, "practice").await?;
        self.check_filter(filters.link_worker_service, OrganisationKind::LinkWorkerService, "linkWorkerService")
            .await?;
        self.check_filter(filters.provider, OrganisationKind::Provider, "provider").await?;
        let cohort = Cohort::new(self.db.get_database_backend(), period, filters);
        let mut figures = Figures {
            by_source: self.by_source(&cohort).await?,
            by_need: self.by_need(&cohort).await?,
            by_month: self.by_month(&cohort).await?,
            by_status: self.by_status(&cohort).await?,
            contact: self.contact(&cohort, now).await?,
            decline_reasons: self.decline_reasons(&cohort).await?,
            attendance: self.attendance(&cohort).await?,
            closures: self.closures(&cohort).await?,
            wellbeing: self.wellbeing_change(&cohort).await?,
            by_age: self.by_age(&cohort).await?,
            by_sex: self.by_sex(&cohort).await?,
            by_ethnic_category: self.by_ethnic_category(&cohort).await?,
            ..Figures::default()
        };
        (figures.providers, figures.hours_to_answer) = self.providers(&cohort).await?;
        Ok(figures)
    }

    async fn check_filter(
        &self,
        id: Option<OrganisationId>,
        kind: OrganisationKind,
        filter: &'static str,
    ) -> Result<(), StoreError> {
        let Some(id) = id else { return Ok(()) };
        let found = organisation::Entity::find_by_id(id.0).one(&self.db).await?;
        match found {
            Some(org) if org.kind == kind.as_str() => Ok(()),
            _ => Err(StoreError::UnknownReference(filter)),
        }
    }
}

#[cfg(test)]
mod tests;
