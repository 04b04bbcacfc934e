use chrono::NaiveDate;
use uuid::Uuid;

use super::figures::{
    AttendanceFigures, ClosureFigures, ContactFigures, ProviderFigures, Source, Spread, WellbeingFigures,
};
use super::*;
use crate::disclosure::Shown;
use crate::offer::OfferStatus;
use crate::referral::{ClosureReason, ReferralStatus};
use crate::wellbeing::InstrumentCode;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn period() -> Period {
    Period::new(day(2026, 9, 15), day(2026, 11, 30)).unwrap()
}

fn source(name: &str, ods: &str) -> Source {
    Source { id: OrganisationId(Uuid::now_v7()), name: name.into(), ods_code: Some(ods.into()) }
}

fn labels(table: &Table) -> Vec<(String, Vec<String>)> {
    table.rows.iter().map(|r| (r.key.clone(), r.cells.iter().map(Cell::label).collect())).collect()
}

fn column_of(table: &Table, column: usize) -> Vec<String> {
    table.rows.iter().map(|r| r.cells[column].label()).collect()
}

#[test]
fn a_period_ends_after_its_last_day_and_lists_the_months_it_touches() {
    let p = period();
    assert_eq!(p.start().to_rfc3339(), "2026-09-15T00:00:00+00:00");
    assert_eq!(p.end().to_rfc3339(), "2026-12-01T00:00:00+00:00");
    assert_eq!(p.months(), [(2026, 9), (2026, 10), (2026, 11)]);
    let across = Period::new(day(2025, 12, 31), day(2026, 1, 1)).unwrap();
    assert_eq!(across.months(), [(2025, 12), (2026, 1)]);
}

#[test]
fn a_period_that_ends_before_it_starts_or_runs_past_five_years_is_refused() {
    let backwards = Period::new(day(2026, 11, 2), day(2026, 11, 1)).unwrap_err();
    assert_eq!((backwards.field, backwards.reason), ("period.to", "is before the period's start"));
    assert!(Period::new(day(2020, 1, 1), day(2026, 1, 1)).is_err());
    assert!(Period::new(day(2026, 11, 1), day(2026, 11, 1)).is_ok(), "one day is a period");
}

#[test]
fn a_source_with_a_small_count_is_shown_as_fewer_than_five_and_the_next_smallest_is_withheld() {
    let figures = Figures {
        by_source: vec![
            (source("Abbey Surgery", "C84001"), 3),
            (source("Bridge Practice", "C84002"), 12),
            (source("Castle Medical", "C84003"), 40),
        ],
        ..Figures::default()
    };
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &figures);
    let table = report.table("referrals-by-source").unwrap();
    assert_eq!(
        labels(table),
        [
            ("C84001".to_owned(), vec!["<5".to_owned()]),
            ("C84002".to_owned(), vec!["*".to_owned()]),
            ("C84003".to_owned(), vec!["40".to_owned()]),
            ("total".to_owned(), vec!["55".to_owned()]),
        ]
    );
    assert_eq!(table.header(), ["ods_code", "source", "referrals"]);
    assert_eq!(table.row("C84001").unwrap().label, "Abbey Surgery");
}

#[test]
fn every_month_of_the_period_has_a_row_even_with_no_referrals() {
    let figures = Figures { by_month: vec![((2026, 9), 7), ((2026, 11), 20)], ..Figures::default() };
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &figures);
    let table = report.table("referrals-by-month").unwrap();
    assert_eq!(table.chart, Chart::Line);
    assert_eq!(column_of(table, 0), ["7", "0", "20", "27"]);
    assert_eq!(table.rows[1].label, "October 2026");
}

#[test]
fn a_provider_table_withholds_across_rows_and_columns_so_no_small_count_comes_back_from_a_total() {
    let provider = |name: &str, accepted, declined, waitlisted| ProviderFigures {
        provider: Source { id: OrganisationId(Uuid::now_v7()), name: name.into(), ods_code: None },
        by_status: vec![
            (OfferStatus::Accepted, accepted),
            (OfferStatus::Declined, declined),
            (OfferStatus::Waitlisted, waitlisted),
        ],
        hours_to_answer: Spread { values: 4, median: Some(2.0), p90: Some(3.0) },
    };
    let figures = Figures {
        providers: vec![
            provider("Arts Hub", 2, 6, 30),
            provider("Book Club", 10, 7, 8),
            provider("Cycle Club", 20, 50, 40),
        ],
        hours_to_answer: Spread { values: 120, median: Some(5.5), p90: Some(30.0) },
        ..Figures::default()
    };
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &figures);
    let table = report.table("offers-by-provider").unwrap();
    // offers made, accepted, declined, waitlisted, expired, awaiting, withdrawn, median hours.
    let rows: Vec<Vec<String>> = table.rows.iter().map(|r| r.cells.iter().map(Cell::label).collect()).collect();
    assert_eq!(rows[0], ["38", "<5", "*", "30", "0", "0", "0", ""], "four answers are too few for a median");
    assert_eq!(rows[1], ["25", "*", "*", "8", "0", "0", "0", ""]);
    assert_eq!(rows[2], ["110", "20", "50", "40", "0", "0", "0", ""]);
    assert_eq!(rows[3], ["173", "32", "63", "78", "0", "0", "0", "5.5"]);
    // No row or column of the counts has exactly one hidden cell.
    for r in 0..3 {
        let hidden =
            (1..7).filter(|&c| matches!(table.rows[r].cells[c], Cell::Count(s) if s.value().is_none())).count();
        assert_ne!(hidden, 1, "row {r}");
    }
    for c in 1..7 {
        let hidden =
            (0..3).filter(|&r| matches!(table.rows[r].cells[c], Cell::Count(s) if s.value().is_none())).count();
        assert_ne!(hidden, 1, "column {c}");
    }
}

#[test]
fn a_share_of_a_hidden_count_or_with_a_small_remainder_is_not_shown() {
    let figures = Figures {
        contact: ContactFigures { days: Spread { values: 9, median: Some(2.0), p90: Some(6.5) }, due: 10, on_time: 7 },
        attendance: AttendanceFigures { accepted: 20, attended: 12 },
        by_status: vec![(ReferralStatus::Referred, 30), (ReferralStatus::Closed, 3)],
        closures: ClosureFigures { by_reason: vec![(ClosureReason::Completed, 3)], with_outcome_measure: 0 },
        ..Figures::default()
    };
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &figures);
    let contact = report.table("first-contact").unwrap();
    // 7 of 10 on time leaves 3 late: the share would give the 3 away.
    assert_eq!(column_of(contact, 0), ["2.0", "6.5", "10", ""]);
    let attendance = report.table("attendance").unwrap();
    assert_eq!(column_of(attendance, 0), ["20", "60.0", "40.0"]);
    let closed = report.table("closed-loop").unwrap();
    // Three closed of 33: the count is "<5" and no share of it is shown.
    assert_eq!(column_of(closed, 0), ["<5", "", ""]);
    let reasons = report.table("closures-by-reason").unwrap();
    assert_eq!(reasons.row("completed").unwrap().cells[0].label(), "<5");
    assert_eq!(reasons.row("total").unwrap().cells[0], Cell::Count(Shown::FewerThanFive));
}

#[test]
fn a_count_withheld_in_the_status_table_stays_hidden_in_the_closed_loop_and_its_shares() {
    let figures = Figures {
        by_status: vec![
            (ReferralStatus::Referred, 2),
            (ReferralStatus::Contacted, 40),
            (ReferralStatus::Attending, 30),
            (ReferralStatus::Closed, 9),
        ],
        closures: ClosureFigures { by_reason: vec![(ClosureReason::Completed, 9)], with_outcome_measure: 6 },
        ..Figures::default()
    };
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &figures);
    let status = report.table("referrals-by-status").unwrap();
    assert_eq!(column_of(status, 0), ["<5", "40", "30", "*", "81"]);
    let closed = report.table("closed-loop").unwrap();
    assert_eq!(column_of(closed, 0), ["*", "", ""]);
    assert_eq!(
        report.table("closures-by-reason").unwrap().row("total").unwrap().cells[0],
        Cell::Count(Shown::Withheld)
    );
}

#[test]
fn wellbeing_shows_a_mean_change_and_share_improved_only_for_five_people_or_more() {
    let figures = Figures {
        wellbeing: vec![
            WellbeingFigures {
                instrument: InstrumentCode::Swemwbs,
                score: "total",
                people: 10,
                change_sum: 25.0,
                improved: 5,
            },
            WellbeingFigures {
                instrument: InstrumentCode::Ons4,
                score: "happiness",
                people: 8,
                change_sum: 8.0,
                improved: 5,
            },
            WellbeingFigures {
                instrument: InstrumentCode::Ons4,
                score: "anxiety",
                people: 3,
                change_sum: -6.0,
                improved: 3,
            },
        ],
        ..Figures::default()
    };
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &figures);
    let table = report.table("wellbeing").unwrap();
    assert_eq!(
        labels(table),
        [
            ("ons4_anxiety".to_owned(), vec!["<5".to_owned(), "".to_owned(), "".to_owned()]),
            // 5 of 8 improved leaves 3 who did not: the share would give them away.
            ("ons4_happiness".to_owned(), vec!["8".to_owned(), "1.0".to_owned(), "".to_owned()]),
            ("swemwbs_total".to_owned(), vec!["10".to_owned(), "2.5".to_owned(), "50.0".to_owned()]),
        ]
    );
    assert_eq!(table.header(), ["score", "measure", "people", "mean_change", "improved_percent"]);
}

#[test]
fn equity_tables_count_by_age_band_sex_and_ethnic_category_with_not_recorded_apart() {
    let figures = Figures {
        by_age: vec![(16, 2), (17, 4), (30, 9), (70, 12), (90, 1)],
        by_sex: vec![(Some(Sex::Female), 14), (Some(Sex::Male), 6), (None, 8)],
        by_ethnic_category: vec![
            (Some(EthnicCategory::WhiteBritish), 20),
            (Some(EthnicCategory::NotKnown), 3),
            (None, 5),
        ],
        ..Figures::default()
    };
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &figures);
    let ages = report.table("referrals-by-age-band").unwrap();
    // One person of 90 is "<5"; the next smallest band (6 under 18) is withheld with it.
    assert_eq!(ages.row("85+").unwrap().cells[0].label(), "<5");
    assert_eq!(ages.row("0-17").unwrap().cells[0].label(), "*");
    assert_eq!(ages.row("25-34").unwrap().cells[0].label(), "9");
    assert_eq!(ages.row("total").unwrap().cells[0].label(), "28");
    let sexes = report.table("referrals-by-sex").unwrap();
    assert_eq!(column_of(sexes, 0), ["14", "6", "0", "0", "8", "28"]);
    let ethnic = report.table("referrals-by-ethnic-category").unwrap();
    assert_eq!(ethnic.row("99").unwrap().cells[0].label(), "<5");
    assert_eq!(ethnic.row("not_recorded").unwrap().cells[0].label(), "*", "the next smallest non-zero");
    assert_eq!(ethnic.row("A").unwrap().label, "White - British");
}

#[test]
fn every_table_is_named_as_the_list_of_names_says_and_in_its_order() {
    let report = ImpactReport::from_figures(period(), ReportFilters::default(), &Figures::default());
    let names: Vec<&str> = report.tables.iter().map(|t| t.name).collect();
    assert_eq!(names, TABLE_NAMES);
    for table in &report.tables {
        for row in &table.rows {
            assert_eq!(row.cells.len(), table.columns.len(), "{}", table.name);
        }
    }
}

#[test]
fn a_spread_of_counted_whole_numbers_takes_the_nearest_rank_median_and_90th_percentile() {
    // 1, 1, 2, 3, 3, 3, 4, 9, 10, 12: rank 5 is 3 and rank 9 is 10.
    let spread = Spread::from_counts([(12, 1), (3, 3), (1, 2), (2, 1), (4, 1), (9, 1), (10, 1), (7, 0)]);
    assert_eq!(spread, Spread { values: 10, median: Some(3.0), p90: Some(10.0) });
    let one = Spread::from_counts([(5, 1)]);
    assert_eq!(one, Spread { values: 1, median: Some(5.0), p90: Some(5.0) });
    assert_eq!(Spread::from_counts([]), Spread { values: 0, median: None, p90: None });
    // Nine values: the median is rank 5, the 90th percentile rank 9 (⌈8.1⌉).
    let nine = Spread::from_counts([(1, 4), (2, 1), (3, 3), (4, 1)]);
    assert_eq!(nine, Spread { values: 9, median: Some(2.0), p90: Some(4.0) });
}
