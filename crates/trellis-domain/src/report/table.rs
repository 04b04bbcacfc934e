//! A report table as every output shows it: the page, the CSV file and GraphQL read the same cells,
//! so their numbers agree by construction.

use crate::disclosure::{SMALLEST_SHOWN, Shown};

/// One cell of a report table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    /// A count, suppressed as [`Shown`] says.
    Count(Shown),
    /// A share from 0.0 to 1.0, or `None` when it may not be shown.
    Share(Option<f64>),
    /// A statistic (days, hours, a mean change), or `None` when too few values lie behind it.
    Number(Option<f64>),
}

impl Cell {
    /// As printed in a page or a CSV cell: a count, `<5` or `*`; a share as a percentage with one
    /// decimal; a statistic with one decimal; empty when not shown.
    pub fn label(&self) -> String {
        match self {
            Cell::Count(shown) => shown.label(),
            Cell::Share(share) => share.map(|s| format!("{:.1}", s * 100.0)).unwrap_or_default(),
            Cell::Number(n) => n.map(|n| format!("{n:.1}")).unwrap_or_default(),
        }
    }

    /// The count, when it is shown.
    pub fn count(&self) -> Option<u64> {
        match self {
            Cell::Count(shown) => shown.value(),
            _ => None,
        }
    }
}

/// A column: its stable snake_case name (a CSV header) and its heading on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The stable name, e.g. `referrals`.
    pub key: &'static str,
    /// The heading, e.g. `Referrals`.
    pub title: &'static str,
}

/// Shorthand for a [`Column`].
pub const fn column(key: &'static str, title: &'static str) -> Column {
    Column { key, title }
}

/// One row: a stable key (an ODS code, a need's name, `2026-11`), its label and its cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The stable key, e.g. `C84001`; `total` for a total row.
    pub key: String,
    /// What a person reads, e.g. the practice's name.
    pub label: String,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

/// How the page draws a table's first column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chart {
    /// Bars, one per row (total rows excepted).
    Bars,
    /// A line through the rows in order (months).
    Line,
    /// No chart: the table alone.
    None,
}

/// A table of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Its stable name: the CSV is `/reports/<name>.csv`.
    pub name: &'static str,
    /// Its heading.
    pub title: &'static str,
    /// The column of row keys (e.g. `ods_code`).
    pub key_column: Column,
    /// The column of row labels (e.g. `practice`).
    pub label_column: Column,
    /// The figures' columns.
    pub columns: Vec<Column>,
    /// The rows, a total row last where there is one.
    pub rows: Vec<Row>,
    /// How it is drawn.
    pub chart: Chart,
}

impl Table {
    /// The CSV header: the key and label columns, then each figure's.
    pub fn header(&self) -> Vec<&'static str> {
        [self.key_column.key, self.label_column.key].into_iter().chain(self.columns.iter().map(|c| c.key)).collect()
    }

    /// The row with this key.
    pub fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }
}

/// A count as a table showed it: the number behind it and what was shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figure {
    /// The number.
    pub count: u64,
    /// What was shown for it.
    pub shown: Shown,
}

impl Figure {
    /// A count standing alone (primary suppression only).
    pub fn alone(count: u64) -> Figure {
        Figure { count, shown: Shown::count(count) }
    }
}

/// `part / whole`, shown only when both were shown as numbers (a share of a hidden count would give it
/// back) and what is left of the whole (`whole - part`) is not 1 to 4 (its complement would give it).
pub fn share(part: Figure, whole: Figure) -> Option<f64> {
    let rest = whole.count.checked_sub(part.count)?;
    let shown = |f: Figure| matches!(f.shown, Shown::Count(_));
    if !shown(part) || !shown(whole) || (1..SMALLEST_SHOWN).contains(&rest) || whole.count < SMALLEST_SHOWN {
        return None;
    }
    Some(part.count as f64 / whole.count as f64)
}

/// A statistic computed over `values` values, shown only when there are at least [`SMALLEST_SHOWN`].
pub fn statistic(values: u64, value: Option<f64>) -> Option<f64> {
    value.filter(|_| values >= SMALLEST_SHOWN)
}
