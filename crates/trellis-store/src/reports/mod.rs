//! The counts behind impact reports, aggregated in the database: only counts (and sums of change) leave
//! it, as the domain's [`Figures`]. Nothing here names or returns a person.
//!
//! A report follows a cohort: the referrals made in the period (UTC days) that pass the filters, and
//! what has happened to them and their offers since, up to the moment of the report.
//!
//! # Layout
//! - `rollups`: referrals, contact, offers, attendance, closures and equity, from the rollups the
//!   database keeps as referrals and offers change (or, for a narrowed report, their fact rows).
//!   Wellbeing change comes from counts of baseline and follow-up answers, which the domain scores.
//! - `cohort`: running a report's SQL on either database.

mod cohort;
mod rollups;

use chrono::{DateTime, Utc};
use trellis_domain::OrganisationId;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::report::{Figures, Period, ReportFilters};

use crate::entity::organisation;
use crate::{Store, StoreError};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, TransactionTrait};
use trellis_migration::report_rollups::{
    MEASURE_FACTS, OFFER_FACTS, REFERRAL_FACTS, refresh_measure_facts, refresh_offer_facts, refresh_referral_facts,
    rollup_backfill,
};

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
        self.rolled_up_figures(period, &filters, now).await
    }

    /// Counts the report rollups again from the base tables: every fact row derived afresh and summed.
    /// The triggers keep them as data changes; this is for after a bulk load that bypassed them, and
    /// shows that what they kept equals a full recount. On PostgreSQL it sums in bulk (the fact tables'
    /// own triggers are off for the transaction); SQLite's triggers sum each fact row as it is written.
    pub async fn rebuild_report_rollups(&self) -> Result<(), StoreError> {
        let b = self.db.get_database_backend();
        let txn = self.db.begin().await?;
        let facts = [&REFERRAL_FACTS, &OFFER_FACTS, &MEASURE_FACTS];
        if b == DatabaseBackend::Postgres {
            for f in facts {
                txn.execute_unprepared(&format!("ALTER TABLE {t} DISABLE TRIGGER tr_{t}_rollup", t = f.table)).await?;
            }
        }
        for table in [REFERRAL_FACTS.table, OFFER_FACTS.table, MEASURE_FACTS.table, "report_rollups"] {
            txn.execute_unprepared(&format!("DELETE FROM {table}")).await?;
        }
        txn.execute_unprepared(&refresh_referral_facts(b, "1 = 1")).await?;
        txn.execute_unprepared(&refresh_offer_facts(b, "1 = 1")).await?;
        txn.execute_unprepared(&refresh_measure_facts(b, None)).await?;
        if b == DatabaseBackend::Postgres {
            for f in facts {
                txn.execute_unprepared(&rollup_backfill(b, f)).await?;
                txn.execute_unprepared(&format!("ALTER TABLE {t} ENABLE TRIGGER tr_{t}_rollup", t = f.table)).await?;
            }
        }
        txn.commit().await?;
        Ok(())
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
