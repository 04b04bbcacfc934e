//! Bad input gets a clear, typed error and stores nothing; abusive requests are refused cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use serde_json::{Value, json};
use trellis_api::ApiSettings;
use trellis_tests::{Backend, TestApp, on_both_databases};

const SUBMIT: &str =
    "mutation($input: SubmitReferralInput!) { submitReferral(input: $input) { referral { id version } } }";

fn input(key: &str, person: Value) -> Value {
    let mut p = json!({ "nhsNumber": "9434765919", "givenName": "Ann", "familyName": "Lee", "dateOfBirth": "1960-01-01", "phone": "01332 123456", "preferredContact": "PHONE" });
    if let (Some(p), Some(changes)) = (p.as_object_mut(), person.as_object()) {
        for (k, v) in changes {
            p.insert(k.clone(), v.clone());
        }
    }
    json!({ "input": { "idempotencyKey": key, "person": p, "needs": ["LONELINESS"], "reason": "Isolated",
        "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": "2026-01-01T00:00:00Z" } } })
}

async fn referral_count(app: &TestApp) -> usize {
    app.ok(&app.tokens.gp, "{ referrals(first: 100) { edges { cursor } } }", json!({})).await["referrals"]["edges"]
        .as_array()
        .map_or(0, Vec::len)
}

on_both_databases!(
    each_bad_field_is_refused_with_validation_and_its_name_and_nothing_is_stored,
    |app: TestApp| async move {
        let gp = app.tokens.gp.clone();
        let cases = [
            (json!({ "nhsNumber": "9434765918" }), "nhsNumber"),
            (json!({ "nhsNumber": "12345" }), "nhsNumber"),
            (json!({ "postcode": "NOT A POSTCODE" }), "postcode"),
            (json!({ "dateOfBirth": "2999-01-01" }), "dateOfBirth"),
            (json!({ "dateOfBirth": "01/02/1960" }), "dateOfBirth"),
            (json!({ "email": "ann@" }), "email"),
            (json!({ "phone": "12" }), "phone"),
            (json!({ "givenName": "   " }), "givenName"),
            (json!({ "phone": null, "preferredContact": "PHONE" }), "preferredContact"),
        ];
        for (i, (person, field)) in cases.into_iter().enumerate() {
            let r = app.graphql(Some(&gp), SUBMIT, input(&format!("bad-{i}"), person.clone())).await;
            assert_eq!((r.code(), r.field()), (Some("VALIDATION"), Some(field)), "{person}: {:?}", r.errors);
        }
        let mut no_needs = input("no-needs", json!({}));
        no_needs["input"]["needs"] = json!([]);
        assert_eq!(app.graphql(Some(&gp), SUBMIT, no_needs).await.field(), Some("needs"));
        let mut no_consent = input("no-consent", json!({}));
        no_consent["input"]["consent"]["given"] = json!(false);
        assert_eq!(app.graphql(Some(&gp), SUBMIT, no_consent).await.field(), Some("consent"));
        let mut wrong_type = input("wrong-type", json!({}));
        wrong_type["input"]["needs"] = json!(["BOREDOM"]);
        assert_eq!(app.graphql(Some(&gp), SUBMIT, wrong_type).await.code(), Some("VALIDATION"));
        assert_eq!(referral_count(&app).await, 0, "nothing stored after refused requests");
    }
);

on_both_databases!(
    sex_and_ethnic_category_are_optional_stored_with_the_referral_and_an_unknown_value_is_validation,
    |app: TestApp| async move {
        let gp = app.tokens.gp.clone();
        let read = "mutation($input: SubmitReferralInput!) { submitReferral(input: $input) { referral { person { sex ethnicCategory } } } }";
        let recorded = input("equity", json!({ "sex": "FEMALE", "ethnicCategory": "ASIAN_BANGLADESHI" }));
        let person = app.ok(&gp, read, recorded).await["submitReferral"]["referral"]["person"].clone();
        assert_eq!(person, json!({ "sex": "FEMALE", "ethnicCategory": "ASIAN_BANGLADESHI" }));
        let unrecorded = input("no-equity", json!({ "nhsNumber": "9434765870" }));
        let person = app.ok(&gp, read, unrecorded).await["submitReferral"]["referral"]["person"].clone();
        assert_eq!(person, json!({ "sex": null, "ethnicCategory": null }));
        let wrong = app.graphql(Some(&gp), SUBMIT, input("wrong-code", json!({ "ethnicCategory": "K" }))).await;
        assert_eq!(wrong.code(), Some("VALIDATION"), "{:?}", wrong.errors);
        assert_eq!(referral_count(&app).await, 2);
    }
);

on_both_databases!(a_stale_version_is_a_conflict_that_names_both_versions, |app: TestApp| async move {
    let gp = app.tokens.gp.clone();
    let id = app.ok(&gp, SUBMIT, input("k", json!({}))).await["submitReferral"]["referral"]["id"].clone();
    let contact = "mutation($id: ID!, $v: Int!) { recordContact(input: { referralId: $id, expectedVersion: $v }) { referral { version } } }";
    app.ok(&app.tokens.link_worker, contact, json!({ "id": id, "v": 1 })).await;
    let stale = app.graphql(Some(&app.tokens.link_worker), contact, json!({ "id": id, "v": 1 })).await;
    assert_eq!(stale.code(), Some("CONFLICT"));
    assert_eq!(stale.errors[0]["extensions"]["expectedVersion"], json!(1));
    assert_eq!(stale.errors[0]["extensions"]["currentVersion"], json!(2));
});

on_both_databases!(an_idempotency_key_reused_for_a_different_request_is_refused, |app: TestApp| async move {
    let gp = app.tokens.gp.clone();
    app.ok(&gp, SUBMIT, input("same", json!({}))).await;
    let reused = app.graphql(Some(&gp), SUBMIT, input("same", json!({ "givenName": "Annie" }))).await;
    assert_eq!(reused.code(), Some("IDEMPOTENCY_KEY_REUSED"));
    assert_eq!(referral_count(&app).await, 1);
});

on_both_databases!(unknown_tokens_and_anonymous_callers_are_unauthenticated, |app: TestApp| async move {
    let bad = app.graphql(Some("trellis_0000"), "{ me { user { name } } }", json!({})).await;
    assert_eq!((bad.status, bad.code()), (401, Some("UNAUTHENTICATED")));
    let anonymous = app.graphql(None, "{ me { user { name } } }", json!({})).await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));
});

on_both_databases!(malformed_oversized_batched_and_too_deep_requests_get_clean_errors, |app: TestApp| async move {
    let url = format!("{}/graphql", app.base_url);
    let client = app.client();
    let malformed =
        client.post(&url).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let wrong_type = client.post(&url).header("content-type", "text/plain").body("hello").send().await.unwrap();
    assert!(wrong_type.status().is_client_error(), "{}", wrong_type.status());
    let huge = "x".repeat(app.settings.body_limit_bytes + 1);
    // On a connection of its own: the server may close it after refusing the body, and a pooled
    // connection closed that way would fail the next request for a reason this test is not about.
    let oversized = reqwest::Client::new()
        .post(&url)
        .json(&json!({ "query": format!("{{ me {{ user {{ name }} }} }} #{huge}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status().as_u16(), 413);
    let batch = client
        .post(&url)
        .json(&json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]))
        .send()
        .await
        .unwrap();
    assert!(batch.status().is_client_error(), "batches are refused: {}", batch.status());
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {}{{ name }}{} }} }} }} }}",
        "{ ofType ".repeat(16),
        " }".repeat(16)
    );
    let too_deep = app.graphql(Some(&app.tokens.gp), &deep, json!({})).await;
    assert_eq!(too_deep.code(), Some("VALIDATION"), "{:?}", too_deep.errors);
    // The server is unharmed.
    app.ok(&app.tokens.gp, "{ me { user { name } } }", json!({})).await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_over_its_rate_limit_is_refused_while_others_carry_on() {
    let settings = ApiSettings { rate_limit_per_minute: 5, ..ApiSettings::default() };
    let app = TestApp::spawn_with(Backend::Sqlite, settings).await;
    let mut codes = vec![];
    for _ in 0..7 {
        let r = app.graphql(Some(&app.tokens.gp), "{ me { user { name } } }", json!({})).await;
        codes.push((r.status, r.code().map(str::to_owned)));
    }
    assert_eq!(codes[4], (200, None));
    assert_eq!(codes[6], (429, Some("RATE_LIMITED".into())));
    app.ok(&app.tokens.link_worker, "{ me { user { name } } }", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_the_database() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let ready = app.client().get(format!("{}/readyz", app.base_url)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let live = app.client().get(format!("{}/healthz", app.base_url)).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
}

on_both_databases!(clients_racing_over_http_on_one_version_get_one_success_and_conflicts, |app: TestApp| async move {
    let id = app.ok(&app.tokens.gp, SUBMIT, input("race", json!({}))).await["submitReferral"]["referral"]["id"].clone();
    let attempt = "mutation($id: ID!) { recordContactAttempt(input: { referralId: $id, expectedVersion: 1, note: \"racing\" }) { referral { version } } }";
    let app = std::sync::Arc::new(app);
    let racers: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            let id = id.clone();
            tokio::spawn(async move { app.graphql(Some(&app.tokens.link_worker), attempt, json!({ "id": id })).await })
        })
        .collect();
    let mut outcomes = vec![];
    for racer in racers {
        let r = racer.await.unwrap();
        outcomes.push(r.code().unwrap_or("ok").to_owned());
    }
    assert_eq!(outcomes.iter().filter(|c| *c == "ok").count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().filter(|c| *c != "ok").all(|c| c == "CONFLICT"), "{outcomes:?}");
    let history = app
        .ok(
            &app.tokens.link_worker,
            "query($id: ID!) { referral(id: $id) { history { version } } }",
            json!({ "id": id }),
        )
        .await;
    let versions: Vec<u64> =
        history["referral"]["history"].as_array().unwrap().iter().map(|e| e["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2], "no gaps, no doubles");
});

on_both_databases!(an_overly_complex_query_is_refused_while_other_clients_carry_on, |app: TestApp| async move {
    // Within the depth limit but far over the complexity budget: many aliased copies of a listing.
    let wide: String = (0..250)
        .map(|i| format!("a{i}: referrals(first: 100) {{ edges {{ node {{ id status reason }} }} }} "))
        .collect();
    let app = std::sync::Arc::new(app);
    let abuse: Vec<_> = (0..20)
        .map(|_| {
            let (app, wide) = (app.clone(), wide.clone());
            tokio::spawn(async move {
                app.graphql(Some(&app.tokens.other_link_worker), &format!("{{ {wide} }}"), json!({})).await
            })
        })
        .collect();
    // A normal client, meanwhile, is served as usual.
    for _ in 0..10 {
        let me = app.graphql(Some(&app.tokens.gp), "{ me { user { name } } }", json!({})).await;
        assert!(me.errors.is_empty() && me.status == 200, "{:?}", me.errors);
    }
    for a in abuse {
        let refused = a.await.unwrap();
        assert_eq!(refused.code(), Some("QUERY_TOO_COMPLEX"), "{:?}", refused.errors);
        assert!(
            refused.errors[0]["message"].as_str().unwrap_or("").to_lowercase().contains("complex"),
            "{:?}",
            refused.errors
        );
    }
});
