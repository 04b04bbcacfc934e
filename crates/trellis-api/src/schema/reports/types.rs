//! The report's GraphQL types: a table of rows of cells, each cell as printed and as a number.

use async_graphql::{Enum, Object, SimpleObject};
use chrono::NaiveDate;
use trellis_domain::disclosure::Shown;
use trellis_domain::report as domain;

/// An impact report.
pub struct ImpactReport(pub domain::ImpactReport);

impl From<domain::ImpactReport> for ImpactReport {
    fn from(report: domain::ImpactReport) -> Self {
        ImpactReport(report)
    }
}

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
        self.0.tables.iter().map(ReportTable::from).collect()
    }
    /// One table by its name (as in `/reports/<name>.csv`).
    async fn table(&self, name: String) -> Option<ReportTable> {
        self.0.table(&name).map(ReportTable::from)
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

/// A table of the report.
#[derive(SimpleObject)]
pub struct ReportTable {
    /// Its stable name: the CSV is `/reports/<name>.csv`.
    pub name: String,
    /// Its heading.
    pub title: String,
    /// The column of row keys.
    pub key_column: ReportColumn,
    /// The column of row labels.
    pub label_column: ReportColumn,
    /// The figures' columns.
    pub columns: Vec<ReportColumn>,
    /// The rows, a total row last where there is one.
    pub rows: Vec<ReportRow>,
    /// How the page draws it.
    pub chart: ReportChart,
}

fn column(c: &domain::Column) -> ReportColumn {
    ReportColumn { key: c.key.into(), title: c.title.into() }
}

impl From<&domain::Table> for ReportTable {
    fn from(t: &domain::Table) -> Self {
        ReportTable {
            name: t.name.into(),
            title: t.title.into(),
            key_column: column(&t.key_column),
            label_column: column(&t.label_column),
            columns: t.columns.iter().map(column).collect(),
            rows: t
                .rows
                .iter()
                .map(|r| ReportRow {
                    key: r.key.clone(),
                    label: r.label.clone(),
                    cells: r.cells.iter().map(ReportCell::from).collect(),
                })
                .collect(),
            chart: match t.chart {
                domain::Chart::Bars => ReportChart::Bars,
                domain::Chart::Line => ReportChart::Line,
                domain::Chart::None => ReportChart::None,
            },
        }
    }
}
