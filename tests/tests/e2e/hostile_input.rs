//! Hostile input end to end: random records for the Open Referral UK importer and random field values for
//! the GraphQL API. Every one gets a typed answer, nothing panics, and a refused request stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use trellis_tests::{TestApp, on_both_databases};

/// `count` values drawn from `strategy` with a fixed seed, so a failure reproduces.
fn samples<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..count).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect()
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[ -~]{0,20}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::hash_map("[a-z_]{1,12}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A service-like record: the fields an ORUK feed uses, each present or not and of any type.
fn service_like() -> impl Strategy<Value = Value> {
    let field = |name: &'static str| (Just(name), proptest::option::of(any_json()));
    (
        field("id"),
        field("name"),
        field("description"),
        field("email"),
        field("url"),
        field("status"),
        field("organization"),
        field("service_at_locations"),
        field("taxonomy_terms"),
        field("eligibilitys"),
        prop_oneof![Just(Value::Null), "[a-z0-9-]{1,10}".prop_map(Value::from)],
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j, id)| {
            let mut record = serde_json::Map::new();
            for (name, value) in [a, b, c, d, e, f, g, h, i, j] {
                if let Some(v) = value {
                    record.insert(name.into(), v);
                }
            }
            if !id.is_null() {
                record.insert("id".into(), id);
            }
            Value::Object(record)
        })
}

on_both_databases!(
    the_oruk_importer_answers_every_random_record_with_a_report_and_never_panics,
    |app: TestApp| async move {
        let before = app.store.services().await.unwrap().len();
        let records = samples(prop_oneof![service_like(), any_json()], 200);
        let report = app.store.import_oruk("random", &records, chrono::Utc::now()).await.unwrap().report;
        assert_eq!(
            report.created + report.updated + report.unchanged + report.rejected,
            records.len(),
            "every record is accounted for"
        );
        assert!(report.rejections.iter().all(|r| !r.reason.is_empty()), "every refusal says why");
        assert!(
            report.warnings.iter().all(|w| !w.field.is_empty() && !w.reason.is_empty()),
            "every warning says where and why"
        );
        let after = app.store.services().await.unwrap().len();
        assert!(after <= before + report.created, "nothing stored beyond what was reported created");
    }
);

const SUBMIT: &str = "mutation($input: SubmitReferralInput!) { submitReferral(input: $input) { referral { id } } }";
const KNOWN_CODES: &[&str] = &[
    "VALIDATION",
    "FORBIDDEN",
    "NOT_FOUND",
    "CONFLICT",
    "INVALID_TRANSITION",
    "IDEMPOTENCY_KEY_REUSED",
    "QUERY_TOO_COMPLEX",
];

fn hostile_text() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::from),
        "[0-9 +()@.\\-A-Za-z]{0,30}".prop_map(Value::from),
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
    ]
}

on_both_databases!(random_field_values_get_typed_errors_and_store_nothing_when_refused, |app: TestApp| async move {
    let cases = samples(
        (
            hostile_text(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
            hostile_text(),
            any::<bool>(),
        ),
        120,
    );
    let mut accepted = 0usize;
    for (i, (nhs, given, dob, phone, postcode, email, reason, consent)) in cases.into_iter().enumerate() {
        let variables = json!({ "input": {
            "idempotencyKey": format!("fuzz-{i}"),
            "person": { "nhsNumber": nhs, "givenName": given, "familyName": "Lee", "dateOfBirth": dob, "phone": phone,
                        "postcode": postcode, "email": email, "preferredContact": "PHONE" },
            "needs": ["LONELINESS"], "reason": reason,
            "consent": { "given": consent, "recordedBy": "Dr Patel", "recordedAt": "2026-11-23T09:00:00Z" } } });
        let response = app.graphql(Some(&app.tokens.gp), SUBMIT, variables.clone()).await;
        assert!(response.status < 500, "case {i}: server error for {variables}");
        if response.errors.is_empty() {
            accepted += 1;
        } else {
            let code = response.code().unwrap_or("none");
            assert!(KNOWN_CODES.contains(&code), "case {i}: code {code} for {variables}: {:?}", response.errors);
        }
        let stored = app.ok(&app.tokens.gp, "{ referrals(first: 100) { edges { cursor } } }", json!({})).await;
        assert_eq!(
            stored["referrals"]["edges"].as_array().unwrap().len(),
            accepted,
            "case {i}: a refused request stored something"
        );
    }
    // Wrong types and out-of-range numbers in other mutations are typed errors too.
    for (query, variables) in [
        (
            "mutation($v: Int!) { recordContact(input: { referralId: \"x\", expectedVersion: $v }) { referral { id } } }",
            json!({ "v": 99_999_999_999i64 }),
        ),
        (
            "mutation($v: Int!) { recordContact(input: { referralId: \"not-an-id\", expectedVersion: $v }) { referral { id } } }",
            json!({ "v": -1 }),
        ),
        (
            "mutation { closeReferral(input: { referralId: \"00000000-0000-0000-0000-000000000000\", expectedVersion: 1, reason: BORED }) { referral { id } } }",
            json!({}),
        ),
        ("query($n: Int) { referrals(first: $n) { edges { cursor } } }", json!({ "n": 1_000_000 })),
        ("query($a: String) { referrals(after: $a) { edges { cursor } } }", json!({ "a": "' OR 1=1 --" })),
    ] {
        let response = app.graphql(Some(&app.tokens.link_worker), query, variables).await;
        assert!(response.status < 500);
        assert!(response.code().is_some_and(|c| KNOWN_CODES.contains(&c)), "{query}: {:?}", response.errors);
    }
});
