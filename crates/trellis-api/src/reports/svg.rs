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
    /// Horizontal bars, one per row; of a table longer than [`MOST_BARS`], only its largest rows
    /// (`of` is then how many rows the table has).
    Bars { height: u32, bars: Vec<Bar>, of: Option<usize> },
    /// A line through the months, broken where a month is suppressed.
    Line { segments: Vec<String>, points: Vec<Point> },
}

/// The drawing width in SVG units.
pub const WIDTH: u32 = 640;
const LABEL: u32 = 250;
const BAR_AREA: u32 = 330;
const ROW: u32 = 28;
/// The most bars a chart draws: a national network's 2,500 providers would be a drawing 70,000 units
/// tall. A longer table's chart draws its largest rows, largest first; the table under it has every row.
pub const MOST_BARS: usize = 20;
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
            let mut drawn: Vec<_> = rows.iter().zip(&counts).collect();
            let of = (drawn.len() > MOST_BARS).then_some(drawn.len());
            if of.is_some() {
                // Ranked by the counts shown only: a suppressed one ranks with none, after every shown one.
                drawn.sort_by_key(|(_, count)| std::cmp::Reverse(**count));
                drawn.truncate(MOST_BARS);
            }
            let bars = drawn
                .into_iter()
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
            Some(Drawing::Bars { height: 16 + ROW * u32::try_from(bars.len()).unwrap_or(0), bars, of })
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

#[cfg(test)]
mod tests {
    use trellis_domain::disclosure::Shown;
    use trellis_domain::report::table::column;
    use trellis_domain::report::{Cell, Chart, Row, Table};

    use super::{Drawing, MOST_BARS, drawing};

    fn providers(counts: &[Shown]) -> Table {
        let rows = counts.iter().enumerate().map(|(i, shown)| Row {
            key: format!("p{i}"),
            label: format!("Provider {i}"),
            cells: vec![Cell::Count(*shown)],
        });
        Table {
            name: "offers-by-provider",
            title: "Offers by provider",
            key_column: column("provider_id", "Provider id"),
            label_column: column("provider", "Provider"),
            columns: vec![column("offers", "Offers")],
            rows: rows.chain([Row { key: "total".into(), label: "Total".into(), cells: vec![] }]).collect(),
            chart: Chart::Bars,
        }
    }

    fn bars(table: &Table) -> (Vec<String>, Option<usize>) {
        match drawing(table) {
            Some(Drawing::Bars { bars, of, .. }) => (bars.into_iter().map(|b| b.label).collect(), of),
            _ => panic!("bars expected"),
        }
    }

    #[test]
    fn a_short_table_is_drawn_whole_in_its_own_order() {
        let (labels, of) = bars(&providers(&[Shown::Count(5), Shown::Count(40), Shown::FewerThanFive]));
        assert_eq!(labels, ["Provider 0", "Provider 1", "Provider 2"]);
        assert_eq!(of, None);
    }

    #[test]
    fn a_long_table_draws_only_its_largest_shown_rows_largest_first_and_says_how_many_it_has() {
        // 2,500 providers: one withheld, one under five, the rest with 5, 6, 7, … offers.
        let mut counts: Vec<Shown> = (0..2_498).map(|i| Shown::Count(5 + i)).collect();
        counts.insert(7, Shown::Withheld);
        counts.insert(3, Shown::FewerThanFive);
        let table = providers(&counts);
        let (labels, of) = bars(&table);
        assert_eq!(of, Some(2_500), "the total row is not a provider");
        assert_eq!(labels.len(), MOST_BARS);
        let expected: Vec<String> = (0..MOST_BARS).map(|i| format!("Provider {}", 2_499 - i)).collect();
        assert_eq!(labels, expected, "the largest, largest first");
        let Some(Drawing::Bars { height, .. }) = drawing(&table) else { panic!("bars expected") };
        assert!(height < 16 + 28 * 21, "a drawing of {MOST_BARS} rows, not 2,500: {height}");
    }
}
