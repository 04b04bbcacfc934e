//! Hostile input to the value-type parsers: whatever arrives, a parser returns a value or a typed error
//! naming its field and carrying the input — never a panic — and what it accepts is a fixed point.

use chrono::NaiveDate;
use proptest::prelude::*;
use trellis_domain::values::{self, DateOfBirth, EmailAddress, Need, NhsNumber, PhoneNumber, Postcode};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
}

/// Any text, biased towards the characters the parsers care about.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9 +()@.\\-A-Za-z]{0,40}",
        "[\\x00-\\x1f\\u{80}-\\u{10ffff}]{0,12}",
        Just("9".repeat(10_000)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn nhs_numbers_parse_or_say_why(input in hostile()) {
        match NhsNumber::parse(&input) {
            Ok(n) => {
                prop_assert_eq!(n.as_str().len(), 10);
                prop_assert_eq!(NhsNumber::parse(&n.to_string()).ok(), Some(n));
            }
            Err(e) => prop_assert_eq!((e.field, e.value.as_str()), ("nhsNumber", input.as_str())),
        }
    }

    #[test]
    fn every_nine_digit_stem_has_at_most_one_valid_check_digit(stem in "[0-9]{9}") {
        let valid = (0..10).filter(|c| NhsNumber::parse(&format!("{stem}{c}")).is_ok()).count();
        prop_assert!(valid <= 1);
    }

    #[test]
    fn postcodes_parse_to_a_fixed_point_or_say_why(input in hostile()) {
        match Postcode::parse(&input) {
            Ok(p) => prop_assert_eq!(Postcode::parse(p.as_str()).ok(), Some(p)),
            Err(e) => prop_assert_eq!(e.field, "postcode"),
        }
    }

    #[test]
    fn emails_parse_to_a_fixed_point_or_say_why(input in hostile()) {
        match EmailAddress::parse(&input) {
            Ok(e) => prop_assert_eq!(EmailAddress::parse(e.as_str()).ok(), Some(e)),
            Err(e) => prop_assert_eq!(e.field, "email"),
        }
    }

    #[test]
    fn phones_parse_to_a_fixed_point_or_say_why(input in hostile()) {
        match PhoneNumber::parse(&input) {
            Ok(p) => prop_assert_eq!(PhoneNumber::parse(p.as_str()).ok(), Some(p)),
            Err(e) => prop_assert_eq!(e.field, "phone"),
        }
    }

    #[test]
    fn dates_of_birth_are_never_in_the_future_or_implausible(input in hostile(), days in -60_000i64..60_000) {
        if let Err(e) = DateOfBirth::parse_iso(&input, today()) {
            prop_assert_eq!(e.field, "dateOfBirth");
        }
        let date = today() + chrono::Duration::days(days);
        match DateOfBirth::parse(date, today()) {
            Ok(dob) => prop_assert!(dob.date() <= today() && dob.age_on(today()) <= 120),
            Err(e) => prop_assert!(date > today() || e.reason == "gives an implausible age"),
        }
    }

    #[test]
    fn need_lists_and_free_text_never_panic(items in proptest::collection::vec(hostile(), 0..6), text in hostile()) {
        let _ = Need::parse_list(items.iter().map(String::as_str));
        match values::required_text("reason", &text, 4000) {
            Ok(t) => prop_assert!(!t.is_empty() && t.chars().count() <= 4000),
            Err(e) => prop_assert_eq!(e.field, "reason"),
        }
    }
}
