//! From raw [`Figures`] to the protected tables of an [`ImpactReport`]: every count through
//! [`protect_line`] or [`protect_table`], every share through [`share`], every statistic through
//! [`statistic`].

use chrono::NaiveDate;

use crate::disclosure::{Shown, protect_line, protect_table};
use crate::offer::{DeclineReason, OfferStatus};
use crate::referral::{ClosureReason, ReferralStatus};
use crate::values::Need;
use crate::wellbeing::InstrumentCode;

use super::equity::{AgeBand, EthnicCategory, Sex};
use super::figures::{Figures, ProviderFigures, Spread};
use super::table::{Cell, Chart, Column, Figure, Row, Table, column, share, statistic};
use super::{ImpactReport, Period, ReportFilters};

const REFERRALS: Column = column("referrals", "Referrals");
const FIGURE: Column = column("figure", "Figure");
const MEASURE: Column = column("measure", "Measure");
const VALUE: Column = column("value", "Value");

/// The offer statuses a provider's row splits into (together they are every offer made), each with
/// the statuses counted under it.
const OFFER_COLUMNS: [(Column, &[OfferStatus]); 6] = [
    (
        column("accepted", "Accepted"),
        &[OfferStatus::Accepted, OfferStatus::Started, OfferStatus::Finished, OfferStatus::EndedEarly],
    ),
    (column("declined", "Declined"), &[OfferStatus::Declined]),
    (column("waitlisted", "Waitlisted"), &[OfferStatus::Waitlisted]),
    (column("expired", "Expired"), &[OfferStatus::Expired]),
    (column("awaiting_answer", "Awaiting an answer"), &[OfferStatus::Offered]),
    (column("withdrawn", "Withdrawn"), &[OfferStatus::Withdrawn]),
];

impl ImpactReport {
    /// The report of `figures`, counted for `period` and `filters`, with small numbers suppressed.
    pub fn from_figures(period: Period, filters: ReportFilters, figures: &Figures) -> ImpactReport {
        let (status_table, total, closed) = by_status(figures);
        let tables = vec![
            by_source(figures),
            by_need(figures),
            by_month(&period, figures),
            status_table,
            first_contact(figures),
            offers_by_provider(figures),
            decline_reasons(figures),
            attendance(figures),
            closed_loop(figures, total, closed),
            closures_by_reason(figures, closed),
            wellbeing(figures),
            by_age_band(figures),
            by_sex(figures),
            by_ethnic_category(figures),
        ];
        ImpactReport { period, filters, tables }
    }
}

/// A one-column table of counts with its total shown last, suppressed as one line.
fn counted_line(
    name: &'static str,
    title: &'static str,
    key_column: Column,
    rows: Vec<(String, String, u64)>,
    chart: Chart,
) -> Table {
    let counts: Vec<u64> = rows.iter().map(|r| r.2).collect();
    let shown = protect_line(&counts);
    let total = counts.iter().sum();
    let mut rows: Vec<Row> = rows
        .into_iter()
        .zip(shown)
        .map(|((key, label, _), shown)| Row { key, label, cells: vec![Cell::Count(shown)] })
        .collect();
    rows.push(total_row(vec![Cell::Count(Shown::count(total))]));
    Table { name, title, key_column, label_column: column("label", "Label"), columns: vec![REFERRALS], rows, chart }
}

fn total_row(cells: Vec<Cell>) -> Row {
    Row { key: "total".into(), label: "Total".into(), cells }
}

fn count_of<K: PartialEq>(counts: &[(K, u64)], key: &K) -> u64 {
    counts.iter().filter(|(k, _)| k == key).map(|(_, n)| n).sum()
}

fn by_source(f: &Figures) -> Table {
    let mut sources: Vec<_> = f.by_source.iter().collect();
    sources.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let rows = sources
        .into_iter()
        .map(|(s, n)| (s.ods_code.clone().unwrap_or_else(|| s.id.0.to_string()), s.name.clone(), *n))
        .collect();
    let mut table =
        counted_line("referrals-by-source", "Referrals by source", column("ods_code", "ODS code"), rows, Chart::Bars);
    table.label_column = column("source", "Referred by");
    table
}

fn by_need(f: &Figures) -> Table {
    let rows = Need::ALL.iter().map(|n| (n.as_str().to_owned(), need_label(*n), count_of(&f.by_need, n))).collect();
    let mut table = counted_line("referrals-by-need", "Referrals by need", column("need", "Need"), rows, Chart::Bars);
    // A referral may have several needs: the needs do not add up to the referrals, so no total.
    table.rows.pop();
    table
}

fn need_label(need: Need) -> String {
    let name = need.as_str().replace('_', " ");
    let mut chars = name.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn by_month(period: &Period, f: &Figures) -> Table {
    let rows = period
        .months()
        .into_iter()
        .map(|(y, m)| {
            let label = NaiveDate::from_ymd_opt(y, m, 1).map(|d| d.format("%B %Y").to_string()).unwrap_or_default();
            (format!("{y:04}-{m:02}"), label, count_of(&f.by_month, &(y, m)))
        })
        .collect();
    counted_line("referrals-by-month", "Referrals by month", column("month", "Month"), rows, Chart::Line)
}

/// The status table, and the total and closed referrals as it shows them.
fn by_status(f: &Figures) -> (Table, Figure, Figure) {
    let rows: Vec<(String, String, u64)> = ReferralStatus::ALL
        .iter()
        .map(|s| {
            let label = match s {
                ReferralStatus::Referred => "Open: referred, not yet contacted",
                ReferralStatus::Contacted => "Open: contacted",
                ReferralStatus::Attending => "Open: attending",
                ReferralStatus::Closed => "Closed",
            };
            (s.as_str().to_owned(), label.to_owned(), count_of(&f.by_status, s))
        })
        .collect();
    let total = rows.iter().map(|r| r.2).sum();
    let closed = count_of(&f.by_status, &ReferralStatus::Closed);
    let table =
        counted_line("referrals-by-status", "Referrals by status now", column("status", "Status"), rows, Chart::Bars);
    let shown = |key: &str| table.row(key).and_then(|r| r.cells.first()).and_then(count_shown);
    let total = Figure { count: total, shown: shown("total").unwrap_or(Shown::Withheld) };
    let closed = Figure { count: closed, shown: shown("closed").unwrap_or(Shown::Withheld) };
    (table, total, closed)
}

fn count_shown(cell: &Cell) -> Option<Shown> {
    match cell {
        Cell::Count(s) => Some(*s),
        _ => None,
    }
}

fn figures_table(name: &'static str, title: &'static str, rows: Vec<(&str, &str, Cell)>) -> Table {
    Table {
        name,
        title,
        key_column: FIGURE,
        label_column: MEASURE,
        columns: vec![VALUE],
        rows: rows
            .into_iter()
            .map(|(key, label, cell)| Row { key: key.into(), label: label.into(), cells: vec![cell] })
            .collect(),
        chart: Chart::None,
    }
}

fn spread_cells(spread: Spread) -> (Cell, Cell) {
    (Cell::Number(statistic(spread.values, spread.median)), Cell::Number(statistic(spread.values, spread.p90)))
}

fn first_contact(f: &Figures) -> Table {
    let c = &f.contact;
    let (median, p90) = spread_cells(c.days);
    let due = Figure::alone(c.due);
    let on_time = share(Figure::alone(c.on_time), due);
    figures_table(
        "first-contact",
        "First contact",
        vec![
            ("median_days", "Median days from referral to first contact", median),
            ("p90_days", "90th percentile of days from referral to first contact", p90),
            ("due", "Referrals whose first contact was due or made", Cell::Count(due.shown)),
            ("on_time_percent", "Contacted by the due date (%)", Cell::Share(on_time)),
        ],
    )
}

fn provider_counts(p: &ProviderFigures) -> Vec<u64> {
    OFFER_COLUMNS.iter().map(|(_, statuses)| statuses.iter().map(|s| count_of(&p.by_status, s)).sum()).collect()
}

fn offers_by_provider(f: &Figures) -> Table {
    let mut providers: Vec<&ProviderFigures> = f.providers.iter().collect();
    providers.sort_by(|a, b| a.provider.name.cmp(&b.provider.name));
    let counts: Vec<Vec<u64>> = providers.iter().map(|p| provider_counts(p)).collect();
    let shown = protect_table(&counts);
    let mut rows: Vec<Row> = providers
        .iter()
        .zip(&counts)
        .zip(shown)
        .map(|((p, counts), shown)| {
            let mut cells = vec![Cell::Count(Shown::count(counts.iter().sum()))];
            cells.extend(shown.into_iter().map(Cell::Count));
            cells.push(spread_cells(p.hours_to_answer).0);
            Row { key: p.provider.id.0.to_string(), label: p.provider.name.clone(), cells }
        })
        .collect();
    let column_totals: Vec<u64> = (0..OFFER_COLUMNS.len()).map(|c| counts.iter().map(|r| r[c]).sum()).collect();
    let mut totals = vec![Cell::Count(Shown::count(column_totals.iter().sum()))];
    totals.extend(column_totals.into_iter().map(|n| Cell::Count(Shown::count(n))));
    totals.push(spread_cells(f.hours_to_answer).0);
    rows.push(total_row(totals));
    let mut columns = vec![column("offers_made", "Offers made")];
    columns.extend(OFFER_COLUMNS.iter().map(|(c, _)| *c));
    columns.push(column("median_hours_to_answer", "Median hours to answer"));
    Table {
        name: "offers-by-provider",
        title: "Offers by provider",
        key_column: column("provider_id", "Provider id"),
        label_column: column("provider", "Provider"),
        columns,
        rows,
        chart: Chart::Bars,
    }
}

fn decline_reasons(f: &Figures) -> Table {
    let rows = DeclineReason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), r.as_str().replace('_', " "), count_of(&f.decline_reasons, r)))
        .collect();
    let mut table =
        counted_line("decline-reasons", "Offers declined, by reason", column("reason", "Reason"), rows, Chart::Bars);
    table.columns = vec![column("offers", "Offers")];
    table
}

fn attendance(f: &Figures) -> Table {
    let a = f.attendance;
    let accepted = Figure::alone(a.accepted);
    let attended = Figure::alone(a.attended);
    let missed = Figure::alone(a.accepted.saturating_sub(a.attended));
    figures_table(
        "attendance",
        "Attendance",
        vec![
            ("accepted", "Offers accepted", Cell::Count(accepted.shown)),
            ("attended_percent", "Accepted with a first attendance (%)", Cell::Share(share(attended, accepted))),
            ("did_not_attend_percent", "Did not attend (%)", Cell::Share(share(missed, accepted))),
        ],
    )
}

fn closed_loop(f: &Figures, total: Figure, closed: Figure) -> Table {
    let with_reason: u64 = f.closures.by_reason.iter().map(|(_, n)| n).sum();
    let with_reason = Figure {
        count: with_reason,
        shown: if with_reason == closed.count { closed.shown } else { Shown::count(with_reason) },
    };
    let with_outcome = Figure::alone(f.closures.with_outcome_measure);
    figures_table(
        "closed-loop",
        "Closed loop",
        vec![
            ("closed", "Referrals closed", Cell::Count(closed.shown)),
            (
                "closed_with_reason_percent",
                "Referrals closed with a reason (%)",
                Cell::Share(share(with_reason, total)),
            ),
            (
                "closed_with_outcome_percent",
                "Closed referrals with an outcome measure (%)",
                Cell::Share(share(with_outcome, closed)),
            ),
        ],
    )
}

fn closures_by_reason(f: &Figures, closed: Figure) -> Table {
    let rows = ClosureReason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), r.as_str().replace('_', " "), count_of(&f.closures.by_reason, r)))
        .collect();
    let mut table =
        counted_line("closures-by-reason", "Closures by reason", column("reason", "Reason"), rows, Chart::Bars);
    // The total is the closed referrals, shown as the status table shows them.
    if let Some(total) = table.rows.last_mut() {
        total.cells = vec![Cell::Count(closed.shown)];
    }
    table
}

fn wellbeing(f: &Figures) -> Table {
    let mut scores: Vec<_> = f.wellbeing.iter().collect();
    scores.sort_by_key(|w| (w.instrument, w.score));
    let rows = scores
        .into_iter()
        .map(|w| {
            let people = Figure::alone(w.people);
            let mean = statistic(w.people, (w.people > 0).then(|| w.change_sum / w.people as f64));
            let improved = share(Figure::alone(w.improved), people);
            let instrument = match w.instrument {
                InstrumentCode::Ons4 => "ONS4",
                InstrumentCode::Swemwbs => "SWEMWBS",
            };
            Row {
                key: format!("{}_{}", w.instrument.as_str(), w.score),
                label: format!("{instrument} {}", w.score.replace('_', " ")),
                cells: vec![Cell::Count(people.shown), Cell::Number(mean), Cell::Share(improved)],
            }
        })
        .collect();
    Table {
        name: "wellbeing",
        title: "Wellbeing: change from baseline to follow-up",
        key_column: column("score", "Score"),
        label_column: MEASURE,
        columns: vec![
            column("people", "People with a baseline and a follow-up"),
            column("mean_change", "Mean change"),
            column("improved_percent", "Improved (%)"),
        ],
        rows,
        chart: Chart::None,
    }
}

fn by_age_band(f: &Figures) -> Table {
    let rows = AgeBand::ALL
        .iter()
        .map(|band| {
            let n = f.by_age.iter().filter(|(age, _)| AgeBand::of(*age) == *band).map(|(_, n)| n).sum();
            (band.as_str().to_owned(), band.as_str().to_owned(), n)
        })
        .collect();
    counted_line("referrals-by-age-band", "Referrals by age band", column("age_band", "Age band"), rows, Chart::Bars)
}

fn by_sex(f: &Figures) -> Table {
    let rows = Sex::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), s.label().to_owned(), count_of(&f.by_sex, &Some(*s))))
        .chain([("not_recorded".to_owned(), "Not recorded".to_owned(), count_of(&f.by_sex, &None))])
        .collect();
    counted_line("referrals-by-sex", "Referrals by sex", column("sex", "Sex"), rows, Chart::Bars)
}

fn by_ethnic_category(f: &Figures) -> Table {
    let rows = EthnicCategory::ALL
        .iter()
        .map(|e| (e.as_str().to_owned(), e.label().to_owned(), count_of(&f.by_ethnic_category, &Some(*e))))
        .chain([("not_recorded".to_owned(), "Not recorded".to_owned(), count_of(&f.by_ethnic_category, &None))])
        .collect();
    counted_line(
        "referrals-by-ethnic-category",
        "Referrals by ethnic category",
        column("ethnic_category", "Ethnic category (NHS code)"),
        rows,
        Chart::Bars,
    )
}
