//! A table's chart as the server draws it: bars for counts, a line for months. Only shown numbers are
//! drawn; a suppressed one is a labelled gap (`<5`, `*`), so the picture gives away nothing the table
//! does not. Every position is worked out here; the template only places the shapes.

use trellis_domain::report::{Cell, Chart, Table};

/// One bar and its labels.
pub struct Bar {
    pub y: u32,
    pub width: u32,
    pub label: String,
    pub value: String,
    pub value_x: u32,
}

/// One point of the line, with its month label.
pub struct Point {
    pub x: u32,
    pub y: u32,
    pub label: String,
    pub value: String,
    pub shown: bool,
}

/// A chart to draw.
pub enum Drawing {
    /// Horizontal bars, one per row.
    Bars { height: u32, bars: Vec<Bar> },
    /// A line through the months, broken where a month is suppressed.
    Line { segments: Vec<String>, points: Vec<Point> },
}

/// The drawing width in SVG units.
pub const WIDTH: u32 = 640;
const LABEL: u32 = 250;
const BAR_AREA: u32 = 330;
const ROW: u32 = 28;
/// The line chart's height.
pub const LINE_HEIGHT: u32 = 220;

fn first_cell(cells: &[Cell]) -> Option<&Cell> {
    cells.first()
}

fn scaled(value: u64, max: u64, span: u32) -> u32 {
    value.saturating_mul(u64::from(span)).checked_div(max).map_or(0, |v| u32::try_from(v).unwrap_or(span))
}

/// The drawing of `table`'s first column, if it is drawn.
pub fn drawing(table: &Table) -> Option<Drawing> {
    let rows: Vec<_> = table.rows.iter().filter(|r| r.key != "total").collect();
    let counts: Vec<Option<u64>> = rows.iter().map(|r| first_cell(&r.cells).and_then(Cell::count)).collect();
    let max = counts.iter().flatten().copied().max().unwrap_or(0);
    match table.chart {
        Chart::None => None,
        Chart::Bars => {
            let bars = rows
                .iter()
                .zip(&counts)
                .enumerate()
                .map(|(i, (row, count))| {
                    let width = count.map_or(0, |n| scaled(n, max, BAR_AREA));
                    Bar {
                        y: 8 + ROW * u32::try_from(i).unwrap_or(0),
                        width,
                        label: row.label.clone(),
                        value: first_cell(&row.cells).map(Cell::label).unwrap_or_default(),
                        value_x: LABEL + width + 6,
                    }
                })
                .collect::<Vec<_>>();
            Some(Drawing::Bars { height: 16 + ROW * u32::try_from(bars.len()).unwrap_or(0), bars })
        }
        Chart::Line => {
            let step = if rows.len() > 1 { (WIDTH - 80) / u32::try_from(rows.len() - 1).unwrap_or(1) } else { 0 };
            let points: Vec<Point> = rows
                .iter()
                .zip(&counts)
                .enumerate()
                .map(|(i, (row, count))| Point {
                    x: 50 + step * u32::try_from(i).unwrap_or(0),
                    y: LINE_HEIGHT - 40 - count.map_or(0, |n| scaled(n, max, LINE_HEIGHT - 70)),
                    label: row.key.clone(),
                    value: first_cell(&row.cells).map(Cell::label).unwrap_or_default(),
                    shown: count.is_some(),
                })
                .collect();
            let mut segments = vec![];
            let mut current: Vec<String> = vec![];
            for p in &points {
                if p.shown {
                    current.push(format!("{},{}", p.x, p.y));
                } else if !current.is_empty() {
                    segments.push(std::mem::take(&mut current).join(" "));
                }
            }
            if !current.is_empty() {
                segments.push(current.join(" "));
            }
            Some(Drawing::Line { segments, points })
        }
    }
}
