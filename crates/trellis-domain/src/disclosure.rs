//! Disclosure control for impact reports: small numbers are never shown.
//!
//! - **Primary suppression.** A count from 1 to 4 is shown as "<5" ([`Shown::FewerThanFive`]); zero
//!   is shown, since it names no one.
//! - **Secondary suppression.** In a table whose rows and columns are totalled, a line (row or column)
//!   with exactly one hidden cell would let a reader subtract it back out of the total, so the next
//!   smallest cell in that line is withheld too ([`Shown::Withheld`]): a non-zero one if there is one,
//!   else a zero, so that a reader cannot tell which of the two holds what. Withholding a cell can
//!   leave another line with one hidden cell, so this repeats until no line has exactly one. A line of
//!   one cell has no total of its own (its total would be the cell).
//! - **Rates and statistics.** A rate is not shown when its denominator is under 5, nor when its
//!   numerator is 1 to 4 (the rate times the shown denominator would give the number back). A median,
//!   percentile or mean of fewer than 5 values is not shown.
//!
//! Every report output (the page, CSV and GraphQL) goes through these functions, so they agree.

use serde::Serialize;

/// The smallest count a report shows as a number (other than zero).
pub const SMALLEST_SHOWN: u64 = 5;

/// What a report may show for one count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Shown {
    /// The count itself: zero or at least [`SMALLEST_SHOWN`].
    Count(u64),
    /// A count from 1 to 4.
    FewerThanFive,
    /// A count withheld so that a hidden one cannot be worked out from a total.
    Withheld,
}

impl Shown {
    /// A count on its own (primary suppression only): for a figure with no total beside it.
    pub fn count(count: u64) -> Shown {
        if (1..SMALLEST_SHOWN).contains(&count) { Shown::FewerThanFive } else { Shown::Count(count) }
    }

    /// As printed in a page or a CSV cell: the number, `<5`, or `*` when withheld.
    pub fn label(self) -> String {
        match self {
            Shown::Count(n) => n.to_string(),
            Shown::FewerThanFive => "<5".into(),
            Shown::Withheld => "*".into(),
        }
    }

    /// The number, when it is shown.
    pub fn value(self) -> Option<u64> {
        match self {
            Shown::Count(n) => Some(n),
            Shown::FewerThanFive | Shown::Withheld => None,
        }
    }

    fn is_hidden(self) -> bool {
        !matches!(self, Shown::Count(_))
    }
}

/// A table of counts (`rows[r][c]`) whose row and column totals are shown beside it, with primary
/// and secondary suppression applied. Rows may differ in length; a missing cell is not a cell. No
/// line of two or more cells is left with exactly one hidden cell.
pub fn protect_table(rows: &[Vec<u64>]) -> Vec<Vec<Shown>> {
    let mut shown: Vec<Vec<Shown>> = rows.iter().map(|row| row.iter().map(|&n| Shown::count(n)).collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let lines: Vec<Vec<(usize, usize)>> = (0..rows.len())
        .map(|r| (0..rows[r].len()).map(|c| (r, c)).collect())
        .chain((0..columns).map(|c| (0..rows.len()).filter(|&r| c < rows[r].len()).map(|r| (r, c)).collect()))
        .filter(|line: &Vec<(usize, usize)>| line.len() > 1)
        .collect();
    while let Some((r, c)) = lines.iter().find_map(|line| next_to_withhold(rows, &shown, line)) {
        shown[r][c] = Shown::Withheld;
    }
    shown
}

/// One line of counts with its total shown (a bar chart's bars, a column of a breakdown).
pub fn protect_line(counts: &[u64]) -> Vec<Shown> {
    protect_table(&[counts.to_vec()]).pop().unwrap_or_default()
}

/// In a line with exactly one hidden cell, the cell to withhold with it: the smallest non-zero shown
/// cell, else a shown zero (the first of equals).
fn next_to_withhold(rows: &[Vec<u64>], shown: &[Vec<Shown>], line: &[(usize, usize)]) -> Option<(usize, usize)> {
    let hidden = line.iter().filter(|&&(r, c)| shown[r][c].is_hidden()).count();
    if hidden != 1 {
        return None;
    }
    line.iter().copied().filter(|&(r, c)| !shown[r][c].is_hidden()).min_by_key(|&(r, c)| (rows[r][c] == 0, rows[r][c]))
}

/// A share `numerator / denominator` (0.0–1.0), when it may be shown.
pub fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    let small = |n: u64| (1..SMALLEST_SHOWN).contains(&n);
    if denominator < SMALLEST_SHOWN || small(numerator) || numerator > denominator {
        return None;
    }
    Some(numerator as f64 / denominator as f64)
}

/// The `q`-quantile (0.0–1.0, nearest rank) of `values`, when there are enough to show one.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if (values.len() as u64) < SMALLEST_SHOWN || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank - 1).copied()
}

/// The mean of `values`, when there are enough to show one.
pub fn mean(values: &[f64]) -> Option<f64> {
    ((values.len() as u64) >= SMALLEST_SHOWN).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn counts_of_one_to_four_are_shown_as_fewer_than_five_and_zero_is_shown() {
        let labels: Vec<String> = [0, 1, 4, 5, 12].into_iter().map(|n| Shown::count(n).label()).collect();
        assert_eq!(labels, ["0", "<5", "<5", "5", "12"]);
    }

    #[test]
    fn a_line_with_one_small_count_withholds_the_next_smallest_so_the_total_gives_nothing_away() {
        let shown = protect_line(&[3, 40, 9, 0, 12]);
        assert_eq!(shown, [Shown::FewerThanFive, Shown::Count(40), Shown::Withheld, Shown::Count(0), Shown::Count(12)]);
    }

    #[test]
    fn a_zero_is_withheld_when_a_line_has_nothing_else_to_hide_behind() {
        // Row 0 hides 3 and withholds 10; column 0 then has 3 as its only hidden cell and nothing but a
        // zero to hide it behind, so that zero goes, and row 1 then needs its other zero withheld too.
        let shown = protect_table(&[vec![3, 10], vec![0, 0]]);
        assert_eq!(shown, [[Shown::FewerThanFive, Shown::Withheld], [Shown::Withheld, Shown::Withheld]]);
    }

    #[test]
    fn a_line_with_two_small_counts_needs_no_more() {
        assert_eq!(protect_line(&[3, 2, 20]), [Shown::FewerThanFive, Shown::FewerThanFive, Shown::Count(20)]);
    }

    #[test]
    fn withholding_in_a_row_carries_on_into_the_columns_it_touches() {
        // Row 0 hides 2 and withholds 6; column 0 then holds one hidden cell (2), so 10 goes too, and
        // row 1 then holds one hidden cell (10), so its next smallest (7) goes, which column 1 needed.
        let shown = protect_table(&[vec![2, 6, 30], vec![10, 7, 8], vec![20, 50, 40]]);
        let labels: Vec<Vec<String>> = shown.iter().map(|r| r.iter().map(|s| s.label()).collect()).collect();
        assert_eq!(labels, [["<5", "*", "30"], ["*", "*", "8"], ["20", "50", "40"]]);
        let rows = [vec![2, 6, 30], vec![10, 7, 8], vec![20, 50, 40]];
        assert_no_line_has_one_recoverable_cell(&rows, &shown);
    }

    #[test]
    fn rates_need_a_denominator_of_five_and_no_small_numerator() {
        assert_eq!(rate(3, 4), None);
        assert_eq!(rate(3, 40), None);
        assert_eq!(rate(0, 40), Some(0.0));
        assert_eq!(rate(10, 40), Some(0.25));
        assert_eq!(rate(41, 40), None);
    }

    #[test]
    fn statistics_of_fewer_than_five_values_are_not_shown() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), None);
        assert_eq!(quantile(&[5.0, 1.0, 4.0, 2.0, 3.0], 0.5), Some(3.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9), Some(9.0));
        assert_eq!(mean(&[1.0, 2.0]), None);
        assert_eq!(mean(&[1.0, 2.0, 3.0, 4.0, 5.0]), Some(3.0));
    }

    /// A single hidden cell in a row or column of two or more could be recovered from its total.
    fn assert_no_line_has_one_recoverable_cell(rows: &[Vec<u64>], shown: &[Vec<Shown>]) {
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut lines: Vec<Vec<(usize, usize)>> =
            (0..rows.len()).map(|r| (0..rows[r].len()).map(|c| (r, c)).collect()).collect();
        lines.extend((0..columns).map(|c| (0..rows.len()).filter(|&r| c < rows[r].len()).map(|r| (r, c)).collect()));
        for line in lines.into_iter().filter(|line| line.len() > 1) {
            let hidden = line.iter().filter(|&&(r, c)| shown[r][c].is_hidden()).count();
            assert_ne!(hidden, 1, "line {line:?} of {rows:?} gives away a cell");
        }
    }

    proptest! {
        #[test]
        fn no_table_shows_a_small_count_or_lets_one_be_worked_out(
            rows in prop::collection::vec(prop::collection::vec(0u64..30, 1..6), 1..6)
        ) {
            let shown = protect_table(&rows);
            for (row, cells) in rows.iter().zip(&shown) {
                for (&n, &s) in row.iter().zip(cells) {
                    prop_assert!(!matches!(s, Shown::Count(1..=4)));
                    if let Shown::Count(v) = s { prop_assert_eq!(v, n); }
                    if s == Shown::FewerThanFive { prop_assert!((1..5).contains(&n)); }
                }
            }
            assert_no_line_has_one_recoverable_cell(&rows, &shown);
        }
    }
}
