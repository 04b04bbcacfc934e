//! `/reports`: the console's impact report page for network leads. A period and filter form (GET, so
//! it works without JavaScript and the address can be shared), then each table under its heading: a
//! chart drawn by the server as SVG ([`super::svg`]), followed by the table as its accessible
//! alternative and a link to the same table as CSV. The numbers are the domain tables' cells, as in
//! GraphQL and the CSV files.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use trellis_domain::access::may_see_reports;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::report::{Chart, ImpactReport, Table};
use trellis_domain::values::Need;

use super::svg::{self, Bar, Drawing, Point};
use super::{ReportText, impact_report};
use crate::AppState;
use crate::console::{Shell, Staff, failure, form_token, page as console_page, problem};
use crate::error::ApiError;
use crate::link_pages::kit::with_page_headers;

/// The `/reports` route, with the console's headers.
pub fn routes() -> Router<AppState> {
    with_page_headers(Router::new().route("/reports", get(show)))
}

/// One choice of a drop-down.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

/// A table as the page shows it.
pub(crate) struct TableView {
    pub(crate) table: Table,
    pub(crate) id: String,
    pub(crate) chart: &'static str,
    pub(crate) height: u32,
    pub(crate) bars: Vec<Bar>,
    /// How many rows the table has when its chart draws only the largest ([`svg::MOST_BARS`]).
    pub(crate) bars_of: Option<usize>,
    pub(crate) segments: Vec<String>,
    pub(crate) points: Vec<Point>,
    pub(crate) csv_href: String,
}

/// The page.
#[derive(askama::Template)]
#[template(path = "console/reports.html")]
pub(crate) struct ReportsPage {
    pub(crate) shell: Option<Shell>,
    pub(crate) text: ReportText,
    pub(crate) error: Option<String>,
    pub(crate) practices: Vec<Choice>,
    pub(crate) services: Vec<Choice>,
    pub(crate) providers: Vec<Choice>,
    pub(crate) needs: Vec<Choice>,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) tables: Vec<TableView>,
    pub(crate) width: u32,
    pub(crate) line_height: u32,
}

fn choices(all: impl Iterator<Item = (String, String)>, typed: &str, everyone: &str) -> Vec<Choice> {
    std::iter::once(Choice { value: String::new(), label: everyone.into(), selected: typed.trim().is_empty() })
        .chain(all.map(|(value, label)| Choice { selected: typed.trim() == value, value, label }))
        .collect()
}

fn view(table: &Table, query: &str) -> TableView {
    let mut v = TableView {
        table: table.clone(),
        id: table.name.to_owned(),
        chart: match table.chart {
            Chart::Bars => "bars",
            Chart::Line => "line",
            Chart::None => "",
        },
        height: 0,
        bars: vec![],
        bars_of: None,
        segments: vec![],
        points: vec![],
        csv_href: format!("/reports/{}.csv?{query}", table.name),
    };
    match svg::drawing(table) {
        Some(Drawing::Bars { height, bars, of }) => (v.height, v.bars, v.bars_of) = (height, bars, of),
        Some(Drawing::Line { segments, points }) => (v.segments, v.points) = (segments, points),
        None => {}
    }
    v
}

fn query_of(report: &ImpactReport) -> String {
    let f = &report.filters;
    let mut q = format!("from={}&to={}", report.period.from(), report.period.to());
    for (name, id) in [("practice", f.practice), ("service", f.link_worker_service), ("provider", f.provider)] {
        if let Some(id) = id {
            q.push_str(&format!("&{name}={id}"));
        }
    }
    if let Some(need) = f.need {
        q.push_str(&format!("&need={}", need.as_str()));
    }
    q
}

async fn show(
    Staff(staff): Staff,
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ReportText>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (csrf, cookie) = form_token(&state, &headers);
    let shell = Shell::of(&staff, csrf);
    if !may_see_reports(staff.user.role) {
        let message = "Impact reports are for network leads.";
        return problem(StatusCode::FORBIDDEN, Some(shell), "Not available", message);
    }
    let text = query.map(|Query(q)| q).unwrap_or_default();
    let organisations = match state.store.organisations().await {
        Ok(all) => all,
        Err(e) => return failure(&e),
    };
    let of = |kind: OrganisationKind| {
        organisations.iter().filter(move |o| o.kind == kind).map(|o| {
            let label = match &o.ods_code {
                Some(ods) => format!("{} ({ods})", o.name),
                None => o.name.clone(),
            };
            (o.id.to_string(), label)
        })
    };
    let mut page = ReportsPage {
        shell: Some(shell),
        practices: choices(of(OrganisationKind::GpPractice), &text.practice, "All practices"),
        services: choices(of(OrganisationKind::LinkWorkerService), &text.service, "All link worker services"),
        providers: choices(of(OrganisationKind::Provider), &text.provider, "All providers"),
        needs: choices(
            Need::ALL.iter().map(|n| (n.as_str().to_owned(), n.label().to_owned())),
            &text.need,
            "All needs",
        ),
        from: text.from.clone(),
        to: text.to.clone(),
        text,
        error: None,
        tables: vec![],
        width: svg::WIDTH,
        line_height: svg::LINE_HEIGHT,
    };
    let parsed = page.text.parse(Utc::now().date_naive());
    let _turn = super::turn(&state.reports).await;
    let outcome = match parsed {
        Ok((period, filters)) => impact_report(&state.store, &staff.actor(), period, filters).await,
        Err(e) => Err(ApiError::Validation(e)),
    };
    match outcome {
        Ok(report) => {
            page.from = report.period.from().to_string();
            page.to = report.period.to().to_string();
            let query = query_of(&report);
            page.tables = report.tables.iter().map(|t| view(t, &query)).collect();
            console_page(StatusCode::OK, &page, cookie)
        }
        Err(ApiError::Validation(e)) => {
            page.error = Some(match e.field {
                "period.from" | "period.to" => {
                    format!("Enter the period as two dates, the first not after the last: {}", e.reason)
                }
                _ => "Choose the filters from the lists".to_owned(),
            });
            console_page(StatusCode::UNPROCESSABLE_ENTITY, &page, cookie)
        }
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Sorry, there is a problem with the service",
            "Try again in a few minutes.",
        ),
    }
}
