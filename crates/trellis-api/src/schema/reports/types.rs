//! The report's GraphQL types: a table of rows of cells, each cell as printed and as a number. A
//! table's rows come a page at a time ([`ROWS_PER_PAGE`]), so a national report is never one value tree.

use std::sync::Arc;

use async_graphql::{Enum, Object, SimpleObject};
use chrono::NaiveDate;
use trellis_domain::disclosure::Shown;
use trellis_domain::report as domain;
use trellis_domain::values::ValueError;

use crate::error::{ApiError, ApiResult, OrApiError};

/// An impact report, shared by its tables: a table's rows are made GraphQL values only for the page
/// asked for.
pub struct ImpactReport(pub Arc<domain::ImpactReport>);

impl From<domain::ImpactReport> for ImpactReport {
    fn from(report: domain::ImpactReport) -> Self {
        ImpactReport(Arc::new(report))
    }
}

/// An impact report: the days it counts and its tables.
#[Object]
impl ImpactReport {
    /// The first day counted.
    async fn from(&self) -> NaiveDate {
        self.0.period.from()
    }
    /// The last day counted.
    async fn to(&self) -> NaiveDate {
        self.0.period.to()
    }
    /// Every table, in the order of the page.
    async fn tables(&self) -> Vec<ReportTable> {
        (0..self.0.tables.len()).map(|index| ReportTable { report: self.0.clone(), index }).collect()
    }
    /// One table by its name (as in `/reports/<name>.csv`).
    async fn table(&self, name: String) -> Option<ReportTable> {
        let index = self.0.tables.iter().position(|t| t.name == name)?;
        Some(ReportTable { report: self.0.clone(), index })
    }
}

/// How the page draws a table.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReportChart {
    /// A bar per row.
    Bars,
    /// A line through the rows (months).
    Line,
    /// The table alone.
    None,
}

/// A column: its stable name (the CSV header) and its heading.
#[derive(SimpleObject)]
pub struct ReportColumn {
    /// The stable snake_case name.
    pub key: String,
    /// The heading.
    pub title: String,
}

/// What a cell holds.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReportCellKind {
    /// A count.
    Count,
    /// A share, as a percentage in `label` and 0–1 in `value`.
    Share,
    /// A statistic: days, hours or a mean change.
    Number,
}

/// One cell.
#[derive(SimpleObject)]
pub struct ReportCell {
    /// What it holds.
    pub kind: ReportCellKind,
    /// As printed on the page and in the CSV: a number, `<5`, `*` (withheld) or empty (not shown).
    pub label: String,
    /// A count, when shown.
    pub count: Option<i64>,
    /// A share (0–1) or a statistic, when shown.
    pub value: Option<f64>,
    /// Whether the figure is hidden (`<5`, `*`, or a share or statistic not shown).
    pub suppressed: bool,
}

impl From<&domain::Cell> for ReportCell {
    fn from(cell: &domain::Cell) -> Self {
        let label = cell.label();
        match cell {
            domain::Cell::Count(shown) => ReportCell {
                kind: ReportCellKind::Count,
                label,
                count: shown.value().and_then(|n| i64::try_from(n).ok()),
                value: None,
                suppressed: !matches!(shown, Shown::Count(_)),
            },
            domain::Cell::Share(v) | domain::Cell::Number(v) => ReportCell {
                kind: if matches!(cell, domain::Cell::Share(_)) {
                    ReportCellKind::Share
                } else {
                    ReportCellKind::Number
                },
                label,
                count: None,
                value: *v,
                suppressed: v.is_none(),
            },
        }
    }
}

/// One row.
#[derive(SimpleObject)]
pub struct ReportRow {
    /// Its stable key (an ODS code, a need, `2026-11`, `total`).
    pub key: String,
    /// What a person reads.
    pub label: String,
    /// One cell per column.
    pub cells: Vec<ReportCell>,
}

/// The most rows of one table in one response: a table of a national network has thousands (a row
/// per provider or practice), and a response is built whole in memory. The CSV file has every row.
pub const ROWS_PER_PAGE: usize = 500;

/// A table of the report, as one of the report's.
pub struct ReportTable {
    report: Arc<domain::ImpactReport>,
    index: usize,
}

impl ReportTable {
    fn table(&self) -> &domain::Table {
        &self.report.tables[self.index]
    }
}

/// A table of the report.
#[Object]
impl ReportTable {
    /// Its stable name: the CSV is `/reports/<name>.csv`.
    async fn name(&self) -> &str {
        self.table().name
    }
    /// Its heading.
    async fn title(&self) -> &str {
        self.table().title
    }
    /// The column of row keys.
    async fn key_column(&self) -> ReportColumn {
        column(&self.table().key_column)
    }
    /// The column of row labels.
    async fn label_column(&self) -> ReportColumn {
        column(&self.table().label_column)
    }
    /// The figures' columns.
    async fn columns(&self) -> Vec<ReportColumn> {
        self.table().columns.iter().map(column).collect()
    }
    /// How many rows the table has, its total row included.
    async fn row_count(&self) -> usize {
        self.table().rows.len()
    }
    /// The rows in order, a total row last where there is one: `limit` of them (1 to 500, default
    /// 500) from the one at `offset` (default 0). A table of a whole national network can hold
    /// thousands: compare with `rowCount` and ask again from the next offset (its CSV has every row).
    async fn rows(
        &self,
        #[graphql(default = 0)] offset: i32,
        #[graphql(default_with = "ROWS_PER_PAGE as i32")] limit: i32,
    ) -> ApiResult<Vec<ReportRow>> {
        let offset = usize::try_from(offset)
            .map_err(|_| ApiError::Validation(ValueError::new("offset", offset.to_string(), "must not be negative")))
            .api()?;
        let limit = usize::try_from(limit)
            .ok()
            .filter(|n| (1..=ROWS_PER_PAGE).contains(n))
            .ok_or_else(|| ApiError::Validation(ValueError::new("limit", limit.to_string(), "must be from 1 to 500")))
            .api()?;
        Ok(self.table().rows.iter().skip(offset).take(limit).map(ReportRow::from).collect())
    }
    /// How the page draws it.
    async fn chart(&self) -> ReportChart {
        match self.table().chart {
            domain::Chart::Bars => ReportChart::Bars,
            domain::Chart::Line => ReportChart::Line,
            domain::Chart::None => ReportChart::None,
        }
    }
}

impl From<&domain::Row> for ReportRow {
    fn from(r: &domain::Row) -> Self {
        ReportRow { key: r.key.clone(), label: r.label.clone(), cells: r.cells.iter().map(ReportCell::from).collect() }
    }
}

fn column(c: &domain::Column) -> ReportColumn {
    ReportColumn { key: c.key.into(), title: c.title.into() }
}
