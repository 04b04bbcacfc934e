//! Impact reports for network leads, three ways out of one computation: GraphQL `impactReport`
//! (`crate::schema::reports`), CSV files (`GET /reports/<name>.csv`, [`csv`]) and the console's page
//! (`/reports`, [`page`]). Each asks [`impact_report`] with a period and filters parsed by
//! [`ReportText::parse`], and prints the same domain tables' cells, so their numbers agree.

pub mod csv;
pub mod page;
mod svg;

use chrono::{Duration, NaiveDate, Utc};
use trellis_domain::access::may_see_reports;
use trellis_domain::report::{ImpactReport, Period, ReportFilters};
use trellis_domain::values::{Need, ValueError};
use trellis_domain::{Actor, OrganisationId};
use trellis_store::Store;

use crate::error::ApiError;

/// A period and filters as text (a query string, a form), each way in turning its transport into this.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ReportText {
    /// The first day, `YYYY-MM-DD`; empty is 90 days before `to`.
    #[serde(default)]
    pub from: String,
    /// The last day, `YYYY-MM-DD`; empty is today.
    #[serde(default)]
    pub to: String,
    /// A GP practice's id; empty is every practice.
    #[serde(default)]
    pub practice: String,
    /// A link worker service's id; empty is every service.
    #[serde(default)]
    pub service: String,
    /// A provider's id; empty is every provider.
    #[serde(default)]
    pub provider: String,
    /// A need's name; empty is every need.
    #[serde(default)]
    pub need: String,
}

impl ReportText {
    /// The period and filters, or the first field that does not parse.
    pub fn parse(&self, today: NaiveDate) -> Result<(Period, ReportFilters), ValueError> {
        let date = |field: &'static str, text: &str| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| ValueError::new(field, text, "must be a date, YYYY-MM-DD"))
        };
        let to = if self.to.trim().is_empty() { today } else { date("period.to", &self.to)? };
        let from = if self.from.trim().is_empty() { to - Duration::days(89) } else { date("period.from", &self.from)? };
        let period = Period::new(from, to)?;
        let id = |field: &'static str, text: &str| -> Result<Option<OrganisationId>, ValueError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            uuid::Uuid::parse_str(text)
                .map(|u| Some(OrganisationId(u)))
                .map_err(|_| ValueError::new(field, text, "is not an id"))
        };
        let need = self.need.trim();
        let filters = ReportFilters {
            practice: id("practiceId", &self.practice)?,
            link_worker_service: id("linkWorkerServiceId", &self.service)?,
            provider: id("providerId", &self.provider)?,
            need: if need.is_empty() { None } else { Some(Need::parse(need)?) },
        };
        Ok((period, filters))
    }
}

/// How many impact reports are built at once, in every output (GraphQL, CSV, the page). A year of a
/// national network is a report of thousands of rows whose response is built whole (about 1.5 MB of
/// JSON, several times that while it is built): more at once would hold more of them in memory, and a
/// report keeps a core busy while it is built anyway. Others wait their turn.
pub const REPORTS_AT_ONCE: usize = 1;

/// Waits for a turn to build an impact report, held until the permit is dropped (after the response is
/// written).
pub async fn turn(reports: &std::sync::Arc<tokio::sync::Semaphore>) -> Option<tokio::sync::OwnedSemaphorePermit> {
    // The semaphore is never closed; were it, the report would be built without a turn.
    reports.clone().acquire_owned().await.ok()
}

/// The report `actor` asked for: network leads only ([`may_see_reports`]), `FORBIDDEN` otherwise; a
/// filter naming no organisation of its kind is `VALIDATION` naming the filter.
pub async fn impact_report(
    store: &Store,
    actor: &Actor,
    period: Period,
    filters: ReportFilters,
) -> Result<ImpactReport, ApiError> {
    if !may_see_reports(actor.role) {
        return Err(ApiError::Forbidden("see impact reports".into()));
    }
    let filter_name = |field: &'static str| match field {
        "practice" => "practiceId",
        "linkWorkerService" => "linkWorkerServiceId",
        "provider" => "providerId",
        other => other,
    };
    let figures = store.report_figures(period, filters, Utc::now()).await.map_err(|e| match e {
        trellis_store::StoreError::UnknownReference(field) => {
            ApiError::Validation(ValueError::new(filter_name(field), "", "is not an organisation of that kind"))
        }
        other => other.into(),
    })?;
    Ok(ImpactReport::from_figures(period, filters, &figures))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn an_empty_query_is_the_ninety_days_to_today_with_no_filters() {
        let (period, filters) = ReportText::default().parse(day("2026-11-26")).unwrap();
        assert_eq!((period.from(), period.to()), (day("2026-08-29"), day("2026-11-26")));
        assert_eq!(filters, ReportFilters::default());
    }

    #[test]
    fn a_bad_date_id_or_need_names_its_field() {
        let today = day("2026-11-26");
        let field = |text: ReportText| text.parse(today).unwrap_err().field;
        assert_eq!(field(ReportText { from: "26/11/2026".into(), ..Default::default() }), "period.from");
        assert_eq!(field(ReportText { from: "2026-12-01".into(), ..Default::default() }), "period.to");
        assert_eq!(field(ReportText { provider: "nope".into(), ..Default::default() }), "providerId");
        assert_eq!(field(ReportText { need: "boredom".into(), ..Default::default() }), "needs");
    }
}
