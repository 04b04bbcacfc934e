//! Least privilege: each role, acting for its own or another organisation, is allowed or denied exactly
//! as DOMAIN.md says, and a denial for another organisation's data reveals nothing (`NOT_FOUND`, the
//! same answer as for an id that does not exist).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use trellis_domain::referral::ReferralCommand;
use trellis_store::offers::OfferTimers;
use trellis_store::testing::Fixture;
use trellis_tests::{TestApp, on_both_databases};

/// A contacted referral from the fixture's practice with an offer to the walking group.
async fn referral_with_offer(app: &TestApp) -> (String, String) {
    let store = &app.store;
    let f = &app.fixture;
    let now = Utc::now();
    let id = store
        .submit_referral(f.referral("9434765919"), None, &Fixture::actor(&f.gp), now)
        .await
        .unwrap()
        .referral
        .state
        .id;
    let lw = Fixture::actor(&f.link_worker);
    store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, now).await.unwrap();
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    let offer =
        store.make_offer(id, Some(2), f.walking_group.id, Some("note".into()), None, timers, &lw, now).await.unwrap();
    (id.to_string(), offer.state.id.to_string())
}

const READ_REFERRAL: &str = "query($id: ID!) { referral(id: $id) { id person { nhsNumber } } }";
const READ_OFFER: &str = "query($id: ID!) { offer(id: $id) { id status } }";
const CASELOAD: &str = "{ referrals { edges { node { id } } } }";
const CONTACT_ATTEMPT: &str = "mutation($id: ID!) { recordContactAttempt(input: { referralId: $id, expectedVersion: 2 }) { referral { version } } }";
const RESPOND: &str = "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 1, response: WAITLIST }) { offer { status } } }";
const AUDIT: &str = "{ auditLog { edges { node { action } } } }";
const CREATE_ADMIN: &str = "mutation($org: ID!) { createUser(input: { organisationId: $org, role: ADMIN, email: \"new.admin@example.org\", name: \"New\" }) { apiToken } }";

/// The outcome of one request: `ok`, or the error code.
fn outcome(r: &trellis_tests::GqlResponse) -> String {
    r.code().map(str::to_owned).unwrap_or_else(|| "ok".into())
}

on_both_databases!(every_role_sees_and_changes_only_what_is_its_own, |app: TestApp| async move {
    let (referral, offer) = referral_with_offer(&app).await;
    let t = app.tokens.clone();
    let locality = app.fixture.locality.id.to_string();
    let who: [(&str, Option<&str>); 8] = [
        ("gp", Some(&t.gp)),
        ("other_gp", Some(&t.other_gp)),
        ("link_worker", Some(&t.link_worker)),
        ("other_link_worker", Some(&t.other_link_worker)),
        ("provider", Some(&t.provider)),
        ("network_lead", Some(&t.network_lead)),
        ("admin", Some(&t.admin)),
        ("anonymous", None),
    ];
    // (operation, variables, expected outcome per caller in the order above)
    let table: Vec<(&str, Value, [&str; 8])> = vec![
        (
            "read referral",
            json!({ "id": referral }),
            ["ok", "NOT_FOUND", "ok", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "UNAUTHENTICATED"],
        ),
        (
            "read offer",
            json!({ "id": offer }),
            ["NOT_FOUND", "NOT_FOUND", "ok", "NOT_FOUND", "ok", "NOT_FOUND", "NOT_FOUND", "UNAUTHENTICATED"],
        ),
        ("caseload", json!({}), ["ok", "ok", "ok", "ok", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED"]),
        (
            "audit log",
            json!({}),
            ["FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "ok", "ok", "UNAUTHENTICATED"],
        ),
        (
            "create an admin",
            json!({ "org": locality }),
            ["FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "ok", "UNAUTHENTICATED"],
        ),
        (
            "answer an offer",
            json!({ "id": offer }),
            ["FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "ok", "FORBIDDEN", "FORBIDDEN", "UNAUTHENTICATED"],
        ),
        // Last, as it changes the referral: only its link worker service may log an attempt.
        (
            "log a contact attempt",
            json!({ "id": referral }),
            ["FORBIDDEN", "NOT_FOUND", "ok", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "UNAUTHENTICATED"],
        ),
    ];
    let mut mismatches = vec![];
    for (operation, variables, expected) in &table {
        let query = match *operation {
            "read referral" => READ_REFERRAL,
            "read offer" => READ_OFFER,
            "caseload" => CASELOAD,
            "audit log" => AUDIT,
            "create an admin" => CREATE_ADMIN,
            "answer an offer" => RESPOND,
            _ => CONTACT_ATTEMPT,
        };
        for ((caller, token), want) in who.iter().zip(expected) {
            // Mutations that succeed change state: run the allowed caller last so the others act on the
            // same version.
            let got = outcome(&app.graphql(*token, query, variables.clone()).await);
            if got != *want {
                mismatches.push(format!("{caller} {operation}: expected {want}, got {got}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");

    // Another practice's caseload is empty, not an error: it simply holds none of these.
    let other = app.ok(&t.other_gp, CASELOAD, json!({})).await;
    assert_eq!(other["referrals"]["edges"].as_array().unwrap().len(), 0);
});

on_both_databases!(a_provider_sees_a_summary_before_accepting_and_contact_details_after, |app: TestApp| async move {
    let (_, offer) = referral_with_offer(&app).await;
    let t = app.tokens.clone();
    let query =
        "{ providerOffers { firstName ageBand needs contact { name phone } offer { id status noteForProvider } } }";
    let before = app.ok(&t.provider, query, json!({})).await;
    assert_eq!(before.pointer("/providerOffers/0/firstName"), Some(&json!("Margaret")));
    assert_eq!(before.pointer("/providerOffers/0/contact"), Some(&Value::Null));
    let person_fields = app.graphql(Some(&t.provider), "{ providerOffers { person { nhsNumber } } }", json!({})).await;
    assert_eq!(person_fields.code(), Some("VALIDATION"), "the schema gives providers no person field");
    let accept = "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 1, response: ACCEPT }) { offer { status } } }";
    app.ok(&t.provider, accept, json!({ "id": offer })).await;
    let after = app.ok(&t.provider, query, json!({})).await;
    assert_eq!(after.pointer("/providerOffers/0/contact/phone"), Some(&json!("01154960123")));
});
