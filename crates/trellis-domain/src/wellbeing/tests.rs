#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

/// The published SWEMWBS conversion, written out as the issue and the user guide give it.
const PUBLISHED: [(u32, f64); 29] = [
    (7, 7.00),
    (8, 9.51),
    (9, 11.25),
    (10, 12.40),
    (11, 13.33),
    (12, 14.08),
    (13, 14.75),
    (14, 15.32),
    (15, 15.84),
    (16, 16.36),
    (17, 16.88),
    (18, 17.43),
    (19, 17.98),
    (20, 18.59),
    (21, 19.25),
    (22, 19.98),
    (23, 20.73),
    (24, 21.54),
    (25, 22.35),
    (26, 23.21),
    (27, 24.11),
    (28, 25.03),
    (29, 26.02),
    (30, 27.03),
    (31, 28.13),
    (32, 29.31),
    (33, 30.70),
    (34, 32.55),
    (35, 35.00),
];

/// Seven SWEMWBS answers summing to `raw` (7–35).
fn swemwbs_answers(raw: u32) -> Vec<Option<u8>> {
    let mut left = raw - 7;
    (0..7)
        .map(|_| {
            let extra = left.min(4);
            left -= extra;
            Some(1 + extra as u8)
        })
        .collect()
}

#[test]
fn every_raw_swemwbs_score_converts_to_the_published_metric_score() {
    for (raw, metric) in PUBLISHED {
        let scores = SWEMWBS_V1.score(&swemwbs_answers(raw)).unwrap();
        assert_eq!(scores.total, Some(Total { raw, metric }), "raw {raw}");
    }
}

#[test]
fn a_swemwbs_with_an_item_missing_is_refused_naming_the_item() {
    let mut answers = swemwbs_answers(21);
    answers[4] = None;
    let err = SWEMWBS_V1.score(&answers).unwrap_err();
    assert_eq!((err.field, err.reason), ("answers[4]", "must be answered"));
}

#[test]
fn answers_out_of_range_are_refused_naming_the_item_and_the_value() {
    let err = SWEMWBS_V1.score(&[Some(1), Some(6), Some(1), Some(1), Some(1), Some(1), Some(1)]).unwrap_err();
    assert_eq!((err.field, err.value.as_str()), ("answers[1]", "6"));
    let err = SWEMWBS_V1.score(&[Some(0); 7]).unwrap_err();
    assert_eq!(err.field, "answers[0]");
    let err = ONS4_V1.score(&[Some(11), None, None, None]).unwrap_err();
    assert_eq!((err.field, err.value.as_str()), ("answers[0]", "11"));
}

#[test]
fn answers_sent_as_any_integer_are_read_or_refused_naming_the_item() {
    assert_eq!(
        ONS4_V1.parse_answers(&[Some(0), None, Some(10), Some(3)]).unwrap(),
        vec![Some(0), None, Some(10), Some(3)]
    );
    let err = ONS4_V1.parse_answers(&[Some(1), Some(-1), None, None]).unwrap_err();
    assert_eq!((err.field, err.value.as_str()), ("answers[1]", "-1"));
    let err = SWEMWBS_V1.parse_answers(&[Some(3), Some(3), Some(3), Some(3), Some(3), Some(3), Some(300)]).unwrap_err();
    assert_eq!((err.field, err.value.as_str()), ("answers[6]", "300"));
}

#[test]
fn closing_as_completed_without_a_follow_up_needs_a_reason_and_records_it() {
    assert_eq!(reason_for_no_follow_up(true, Some(NoFollowUpReason::Declined)).unwrap(), None);
    assert_eq!(
        reason_for_no_follow_up(false, Some(NoFollowUpReason::NotAble)).unwrap(),
        Some(NoFollowUpReason::NotAble)
    );
    assert_eq!(reason_for_no_follow_up(false, None).unwrap_err().field, "noFollowUpReason");
    for reason in NoFollowUpReason::ALL {
        assert_eq!(NoFollowUpReason::parse(reason.as_str()).unwrap(), reason);
    }
}

#[test]
fn a_set_of_the_wrong_length_or_with_nothing_answered_is_refused() {
    assert_eq!(ONS4_V1.score(&[Some(5); 3]).unwrap_err().field, "answers");
    assert_eq!(SWEMWBS_V1.score(&[Some(3); 8]).unwrap_err().field, "answers");
    assert_eq!(ONS4_V1.score(&[None; 4]).unwrap_err().reason, "must answer at least one item");
}

#[test]
fn every_ons4_band_boundary_falls_where_the_ons_puts_it() {
    let positive = [
        (0, "low"),
        (4, "low"),
        (5, "medium"),
        (6, "medium"),
        (7, "high"),
        (8, "high"),
        (9, "very high"),
        (10, "very high"),
    ];
    let anxiety = [
        (0, "very low"),
        (1, "very low"),
        (2, "low"),
        (3, "low"),
        (4, "medium"),
        (5, "medium"),
        (6, "high"),
        (10, "high"),
    ];
    for item in &ONS4_V1.items[..3] {
        for (answer, band) in positive {
            assert_eq!(item.band(answer), Some(band), "{} {answer}", item.key);
        }
    }
    for (answer, band) in anxiety {
        assert_eq!(ONS4_V1.items[3].band(answer), Some(band), "anxiety {answer}");
    }
}

#[test]
fn ons4_items_are_scored_on_their_own_never_summed_and_one_may_be_left_unanswered() {
    let scores = ONS4_V1.score(&[Some(7), None, Some(3), Some(6)]).unwrap();
    assert_eq!(scores.total, None);
    let bands: Vec<_> = scores.items.iter().map(|i| i.band).collect();
    assert_eq!(bands, vec![Some("high"), None, Some("low"), Some("high")]);
}

#[test]
fn lower_anxiety_is_an_improvement_and_higher_satisfaction_is_too() {
    let baseline = ONS4_V1.score(&[Some(3), Some(5), Some(4), Some(8)]).unwrap();
    let follow_up = ONS4_V1.score(&[Some(6), Some(5), None, Some(4)]).unwrap();
    let change = change_between(&baseline, &follow_up).unwrap();
    let summary: Vec<_> = change.iter().map(|c| (c.key, c.change, c.direction)).collect();
    assert_eq!(
        summary,
        vec![
            ("life_satisfaction", 3.0, Direction::Improved),
            ("worthwhile", 0.0, Direction::Unchanged),
            ("anxiety", -4.0, Direction::Improved),
        ]
    );
}

#[test]
fn a_swemwbs_change_of_three_metric_points_is_meaningful_and_less_is_not() {
    let at = |raw| SWEMWBS_V1.score(&swemwbs_answers(raw)).unwrap();
    // 20 → 24: 18.59 → 21.54, +2.95: improved, not meaningful.
    let small = change_between(&at(20), &at(24)).unwrap()[0];
    assert_eq!((small.change, small.direction, small.meaningful), (2.95, Direction::Improved, Some(false)));
    // 20 → 25: 18.59 → 22.35, +3.76: meaningful.
    let large = change_between(&at(20), &at(25)).unwrap()[0];
    assert_eq!((large.change, large.meaningful), (3.76, Some(true)));
    // 25 → 20: worse, and meaningfully so.
    let worse = change_between(&at(25), &at(20)).unwrap()[0];
    assert_eq!((worse.direction, worse.meaningful), (Direction::Worse, Some(true)));
}

#[test]
fn measures_with_different_instruments_have_no_change_between_them() {
    let ons = ONS4_V1.score(&[Some(5); 4]).unwrap();
    let swemwbs = SWEMWBS_V1.score(&swemwbs_answers(20)).unwrap();
    assert_eq!(change_between(&ons, &swemwbs).unwrap_err().field, "instrument");
}

#[test]
fn an_unknown_instrument_or_version_is_refused() {
    assert_eq!(InstrumentCode::parse("wemwbs").unwrap_err().field, "instrument");
    assert_eq!(Instrument::find(InstrumentCode::Swemwbs, 2).unwrap_err().field, "version");
    assert_eq!(Instrument::find(InstrumentCode::Ons4, 1).unwrap().code, InstrumentCode::Ons4);
    assert_eq!(Instrument::current(InstrumentCode::Swemwbs).snomed, Some("718466001"));
}

#[test]
fn a_measure_is_dated_neither_in_the_future_nor_before_its_referral() {
    let referred = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
    let now = referred + Duration::days(30);
    assert!(check_taken_at(referred + Duration::days(1), referred, now).is_ok());
    assert_eq!(
        check_taken_at(now + Duration::minutes(1), referred, now).unwrap_err().reason,
        "must not be in the future"
    );
    assert_eq!(
        check_taken_at(referred - Duration::days(1), referred, now).unwrap_err().reason,
        "must not be before the referral was made"
    );
}

proptest! {
    #[test]
    fn any_valid_answer_set_scores_within_the_instruments_range(
        ons in proptest::collection::vec(proptest::option::of(0u8..=10), 4),
        swemwbs in proptest::collection::vec(1u8..=5, 7),
    ) {
        if ons.iter().any(Option::is_some) {
            let scores = ONS4_V1.score(&ons).unwrap();
            for item in &scores.items {
                prop_assert_eq!(item.band.is_some(), item.answer.is_some());
            }
        }
        let total = SWEMWBS_V1.score(&swemwbs.iter().copied().map(Some).collect::<Vec<_>>()).unwrap().total.unwrap();
        prop_assert!((7..=35).contains(&total.raw));
        prop_assert!((7.0..=35.0).contains(&total.metric));
    }

    #[test]
    fn any_answer_set_with_a_value_out_of_range_is_refused(
        mut answers in proptest::collection::vec(1u8..=5, 7),
        at in 0usize..7,
        bad in prop_oneof![Just(0u8), 6u8..=255],
    ) {
        answers[at] = bad;
        let err = SWEMWBS_V1.score(&answers.into_iter().map(Some).collect::<Vec<_>>()).unwrap_err();
        prop_assert_eq!(err.value, bad.to_string());
    }

    #[test]
    fn the_metric_score_never_falls_as_the_raw_score_rises(raw in 7u32..35) {
        let lower = SWEMWBS_V1.score(&swemwbs_answers(raw)).unwrap().total.unwrap().metric;
        let higher = SWEMWBS_V1.score(&swemwbs_answers(raw + 1)).unwrap().total.unwrap().metric;
        prop_assert!(higher > lower);
    }
}
