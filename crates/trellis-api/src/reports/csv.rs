//! `GET /reports/<name>.csv?from=…&to=…&practice=…&service=…&provider=…&need=…`: one table of the
//! impact report as CSV (RFC 4180): one header row of stable snake_case column names, then a row per
//! table row, each cell as the page prints it (`<5`, `*` when withheld, empty for a share or statistic
//! not shown). Signed in as for every download: a bearer token or the console's session.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use trellis_domain::report::{TABLE_NAMES, Table};

use super::{ReportText, impact_report};
use crate::AppState;
use crate::error::ApiError;
use crate::gp_message::{download_actor, status};

/// One CSV field: quoted when it holds a comma, quote or line break; text that a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@` and not a number) is prefixed with `'`.
fn field(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err();
    let text = if formula { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The table as CSV, lines ending in CRLF.
pub fn to_csv(table: &Table) -> String {
    let mut out = table.header().join(",");
    out.push_str("\r\n");
    for row in &table.rows {
        let cells = [field(&row.key), field(&row.label)].into_iter().chain(row.cells.iter().map(|c| field(&c.label())));
        out.push_str(&cells.collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

fn refused(code: StatusCode, message: &str) -> Response {
    (code, [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], message.to_owned())
        .into_response()
}

/// `GET /reports/{file}`, where the file is `<name>.csv`.
pub async fn download(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(file): Path<String>,
    query: Result<Query<ReportText>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let actor = match download_actor(&state, peer, &headers).await {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let Some(name) = file.strip_suffix(".csv").and_then(|n| TABLE_NAMES.iter().find(|t| **t == n)) else {
        return status(StatusCode::NOT_FOUND);
    };
    let Ok(Query(text)) = query else { return refused(StatusCode::BAD_REQUEST, "the query string does not parse") };
    let (period, filters) = match text.parse(Utc::now().date_naive()) {
        Ok(parsed) => parsed,
        Err(e) => return refused(StatusCode::BAD_REQUEST, &format!("{} {}", e.field, e.reason)),
    };
    let _turn = super::turn(&state.reports).await;
    let report = match impact_report(&state.store, &actor, period, filters).await {
        Ok(report) => report,
        Err(ApiError::Forbidden(_)) => return status(StatusCode::FORBIDDEN),
        Err(ApiError::Validation(e)) => {
            return refused(StatusCode::BAD_REQUEST, &format!("{} {}", e.field, e.reason));
        }
        Err(_) => return status(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let Some(table) = report.table(name) else { return status(StatusCode::NOT_FOUND) };
    let filename = format!("attachment; filename=\"{name}-{}-to-{}.csv\"", period.from(), period.to());
    let mut response = to_csv(table).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&filename) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use trellis_domain::report::figures::Source;
    use trellis_domain::report::{Figures, ImpactReport, Period, ReportFilters};

    use super::*;

    #[test]
    fn a_table_is_one_header_row_then_its_rows_with_small_numbers_as_the_page_shows_them() {
        let source = |name: &str, ods: &str| Source {
            id: trellis_domain::OrganisationId(uuid::Uuid::now_v7()),
            name: name.into(),
            ods_code: Some(ods.into()),
        };
        let figures = Figures {
            by_source: vec![
                (source("Abbey, Surgery", "C84001"), 3),
                (source("=HYPERLINK(1)", "C84002"), 9),
                (source("Castle", "C84003"), 30),
            ],
            ..Figures::default()
        };
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let report = ImpactReport::from_figures(Period::new(day, day).unwrap(), ReportFilters::default(), &figures);
        let csv = to_csv(report.table("referrals-by-source").unwrap());
        assert_eq!(
            csv,
            "ods_code,source,referrals\r\nC84002,'=HYPERLINK(1),*\r\nC84001,\"Abbey, Surgery\",<5\r\nC84003,Castle,30\r\ntotal,Total,42\r\n"
        );
    }
}
