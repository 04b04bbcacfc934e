//! `impactReport`: the impact report's tables for a period and filters, for network leads. The same
//! tables as the CSV files and the console's page ([`crate::reports`]).

mod types;

use async_graphql::{Context, ErrorExtensions, ID, InputObject, Object};
use chrono::NaiveDate;
use trellis_domain::report::{Period, ReportFilters};
use trellis_store::Store;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};
use crate::schema::common::{Need, organisation_id};
use types::ImpactReport;

/// The days a report covers, both included (UTC).
#[derive(InputObject)]
pub struct ReportPeriodInput {
    /// The first day.
    pub from: NaiveDate,
    /// The last day (at most about five years after `from`).
    pub to: NaiveDate,
}

/// Which referrals a report counts; every filter narrows, none is the whole locality.
#[derive(InputObject, Default)]
pub struct ReportFiltersInput {
    /// Referrals made by this GP practice.
    pub practice_id: Option<ID>,
    /// Referrals worked by this link worker service.
    pub link_worker_service_id: Option<ID>,
    /// Referrals with an offer to this provider, and only those offers.
    pub provider_id: Option<ID>,
    /// Referrals for this need.
    pub need: Option<Need>,
}

/// The reports query.
#[derive(Default)]
pub struct ReportQuery;

fn parse(period: &ReportPeriodInput, filters: &ReportFiltersInput) -> Result<(Period, ReportFilters), ApiError> {
    let period = Period::new(period.from, period.to).map_err(ApiError::Validation)?;
    let id = |field, id: &Option<ID>| id.as_ref().map(|id| organisation_id(field, id)).transpose();
    let filters = ReportFilters {
        practice: id("practiceId", &filters.practice_id).map_err(ApiError::Validation)?,
        link_worker_service: id("linkWorkerServiceId", &filters.link_worker_service_id)
            .map_err(ApiError::Validation)?,
        provider: id("providerId", &filters.provider_id).map_err(ApiError::Validation)?,
        need: filters.need.map(Into::into),
    };
    Ok((period, filters))
}

#[Object]
impl ReportQuery {
    /// The impact report for the referrals made in `period` that pass `filters`, and what has happened
    /// to them and their offers since (network leads only). Counts from 1 to 4 are `<5`, a count that
    /// would let one be worked out from a total is withheld (`*`), and a share or statistic over too
    /// few is not given. Never a person.
    async fn impact_report(
        &self,
        ctx: &Context<'_>,
        period: ReportPeriodInput,
        filters: Option<ReportFiltersInput>,
    ) -> ApiResult<ImpactReport> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let (period, filters) = parse(&period, &filters.unwrap_or_default()).map_err(|e| e.extend())?;
        let store = ctx.data::<Store>()?;
        let report = crate::reports::impact_report(store, &actor, period, filters).await.map_err(|e| e.extend())?;
        Ok(report.into())
    }
}
