//! Impact reports, as a network lead asks for them: the whole network or one filter, for a quarter or a
//! year up to today. The service is asked over GraphQL for every table and cell; its baseline is the
//! store's own report queries, called in process on a pool of the same size (the same SQL over the
//! same rollups, without HTTP, GraphQL, suppression or the tables' layout).

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use trellis_domain::OrganisationId;
use trellis_domain::report::{Period, ReportFilters};
use trellis_domain::values::Need;
use trellis_store::Store;
use uuid::Uuid;

use crate::http::Api;
use crate::load::Operation;
use crate::mix;
use crate::seed::Seeded;

/// What a report is narrowed to.
#[derive(Clone, Copy, Debug)]
pub enum Filter {
    /// The whole network.
    Network,
    /// One GP practice.
    Practice,
    /// One link worker service.
    LinkWorkerService,
    /// One provider.
    Provider,
    /// One need.
    Need,
}

/// One report the bench asks for.
#[derive(Clone, Copy, Debug)]
pub struct Ask {
    /// Its row in the report.
    pub name: &'static str,
    /// The period's length in days, ending today.
    pub days: i64,
    /// Its filter, a different one of its kind for each request.
    pub filter: Filter,
}

/// The reports measured.
pub const ASKS: &[Ask] = &[
    Ask { name: "impactReport (whole network, 90 days)", days: 90, filter: Filter::Network },
    Ask { name: "impactReport (whole network, 12 months)", days: 365, filter: Filter::Network },
    Ask { name: "impactReport (one need, 12 months)", days: 365, filter: Filter::Need },
    Ask { name: "impactReport (one link worker service, 12 months)", days: 365, filter: Filter::LinkWorkerService },
    Ask { name: "impactReport (one practice, 12 months)", days: 365, filter: Filter::Practice },
    Ask { name: "impactReport (one provider, 12 months)", days: 365, filter: Filter::Provider },
];

const NEEDS: &[Need] = &[Need::Loneliness, Need::LowMood, Need::PhysicalActivity, Need::Debt, Need::Housing];

/// The period of `ask`, ending today (UTC).
fn period(ask: &Ask) -> (NaiveDate, NaiveDate) {
    let to = Utc::now().date_naive();
    (to - Duration::days(ask.days - 1), to)
}

/// The filters of request `i` of `client`.
fn filters(ask: &Ask, seeded: &Seeded, client: usize, i: u64) -> ReportFilters {
    let pick = |ids: &[Uuid]| ids.get((mix(client as u64 * 7_919 + i) % ids.len().max(1) as u64) as usize).copied();
    let org = |ids: &[Uuid]| pick(ids).map(OrganisationId);
    let mut f = ReportFilters::default();
    match ask.filter {
        Filter::Network => {}
        Filter::Practice => f.practice = org(&seeded.practices),
        Filter::LinkWorkerService => f.link_worker_service = org(&seeded.link_worker_services),
        Filter::Provider => f.provider = org(&seeded.providers),
        Filter::Need => f.need = Some(NEEDS[(mix(client as u64 + i) % NEEDS.len() as u64) as usize]),
    }
    f
}

const REPORT: &str = "query($period: ReportPeriodInput!, $filters: ReportFiltersInput) { \
    impactReport(period: $period, filters: $filters) { from to \
      tables { name columns { key } rowCount rows { key label cells { label count value suppressed } } } } }";

fn filters_json(f: &ReportFilters) -> Value {
    json!({
        "practiceId": f.practice.map(|o| o.0.to_string()),
        "linkWorkerServiceId": f.link_worker_service.map(|o| o.0.to_string()),
        "providerId": f.provider.map(|o| o.0.to_string()),
        "need": f.need.map(|n| n.as_str().to_uppercase()),
    })
}

/// `impactReport` for the network lead: every table, its row count and every cell of its first page of
/// rows (500, the most one response holds).
pub fn service(api: &Api, seeded: &Seeded, ask: Ask) -> Operation {
    let api = api.clone();
    let seeded = Arc::new(seeded.clone());
    Arc::new(move |client, i| {
        let api = api.clone();
        let token = seeded.lead_token.clone();
        let (from, to) = period(&ask);
        let filters = filters(&ask, &seeded, client, i);
        Box::pin(async move {
            let variables = json!({ "period": { "from": from, "to": to }, "filters": filters_json(&filters) });
            api.gql_unread(&token, REPORT, variables).await?;
            Ok(true)
        })
    })
}

/// The store's report queries for the same report, in process.
pub fn baseline(store: &Store, seeded: &Seeded, ask: Ask) -> Operation {
    let store = store.clone();
    let seeded = Arc::new(seeded.clone());
    Arc::new(move |client, i| {
        let store = store.clone();
        let (from, to) = period(&ask);
        let filters = filters(&ask, &seeded, client, i);
        Box::pin(async move {
            let period = Period::new(from, to)?;
            store.report_figures(period, filters, Utc::now()).await?;
            Ok(true)
        })
    })
}
