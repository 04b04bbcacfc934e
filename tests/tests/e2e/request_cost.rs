//! What one request may cost: `providerOffers` is a page, lists count by their `first`, a request with
//! too many root fields or aliases is refused before it reads (or audits) anything, and the audit rows
//! of one request are written once per action and subject.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use trellis_domain::OfferId;
use trellis_domain::offer::OfferCommand;
use trellis_domain::referral::ReferralCommand;
use trellis_store::audit::AuditFilter;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_tests::{Fixture, TestApp, on_both_databases};

/// Offers of new referrals to the walking group, each accepted by its provider (so a provider reading
/// them reads contact details, which is audited); newest last.
async fn accepted_offers(app: &TestApp, n: usize) -> Vec<OfferId> {
    let f = &app.fixture;
    let (lw, provider) = (Fixture::actor(&f.link_worker), Fixture::actor(&f.provider_user));
    let mut offers = Vec::new();
    for _ in 0..n {
        let now = Utc::now();
        let referral =
            app.store.submit_referral(f.referral("9434765919"), None, &Fixture::actor(&f.gp), now).await.unwrap();
        let id = referral.referral.state.id;
        app.store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, now).await.unwrap();
        let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
        let offer = app
            .store
            .make_offer(OfferRequest::new(id, f.walking_group.id, timers).at_version(2), &lw, now)
            .await
            .unwrap()
            .state
            .id;
        app.store.transition_offer(offer, 1, OfferCommand::Accept, &provider, now).await.unwrap();
        offers.push(offer);
    }
    offers
}

async fn audit_rows(app: &TestApp) -> i64 {
    let db = app.store.connection();
    let sql = "SELECT COUNT(*) FROM audit_log";
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

const PAGE: &str = "query($first: Int, $after: String) { providerOffers(first: $first, after: $after) { \
     pageInfo { hasNextPage endCursor } edges { cursor node { firstName contact { phone } offer { id } } } } }";

fn ids(page: &Value) -> Vec<String> {
    page["providerOffers"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["offer"]["id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_databases!(provider_offers_come_a_page_at_a_time_newest_first, |app: TestApp| async move {
    let offers = accepted_offers(&app, 5).await;
    let newest_first: Vec<String> = offers.iter().rev().map(ToString::to_string).collect();
    let provider = app.tokens.provider.clone();

    let first = app.ok(&provider, PAGE, json!({ "first": 2 })).await;
    assert_eq!(ids(&first), newest_first[..2]);
    assert_eq!(first["providerOffers"]["pageInfo"]["hasNextPage"], true);
    let mut seen = ids(&first);
    let mut after = first["providerOffers"]["pageInfo"]["endCursor"].clone();
    loop {
        let page = app.ok(&provider, PAGE, json!({ "first": 2, "after": after })).await;
        seen.extend(ids(&page));
        if page["providerOffers"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["providerOffers"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, newest_first, "every offer once, newest first");

    let none = app.graphql(Some(&provider), PAGE, json!({ "first": 0 })).await;
    assert_eq!((none.code(), none.field()), (Some("VALIDATION"), Some("first")));
});

on_both_databases!(
    four_hundred_and_fifty_aliases_of_provider_offers_are_refused_and_write_no_audit_rows,
    |app: TestApp| async move {
        accepted_offers(&app, 5).await;
        let provider = app.tokens.provider.clone();
        let wide: String = (0..450)
            .map(|i| format!("a{i}: providerOffers {{ edges {{ node {{ contact {{ name phone }} }} }} }} "))
            .collect();
        let before = audit_rows(&app).await;
        let refused = app.graphql(Some(&provider), &format!("{{ {wide} }}"), json!({})).await;
        assert_eq!(refused.code(), Some("QUERY_TOO_COMPLEX"), "{:?}", refused.errors);
        assert!(refused.data.is_null() || refused.data == json!({}), "nothing is answered: {}", refused.data);
        assert_eq!(audit_rows(&app).await, before, "no audit rows for a refused request");

        // As many root fields as allowed still work (each with its own read).
        let allowed: String = (0..trellis_api::schema::cost::MAX_ROOT_FIELDS)
            .map(|i| format!("a{i}: providerOffers(first: 1) {{ edges {{ cursor }} }} "))
            .collect();
        app.ok(&provider, &format!("{{ {allowed} }}"), json!({})).await;
        // And standard clients' introspection is not counted as too complex.
        let introspection = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } \
             types { kind name fields(includeDeprecated: true) { name args { name type { kind name ofType { kind name } } } \
             type { kind name ofType { kind name ofType { kind name } } } } } directives { name locations } } }";
        app.ok(&provider, introspection, json!({})).await;
    }
);

on_both_databases!(one_request_audits_each_read_of_a_record_once_however_often_it_asks, |app: TestApp| async move {
    let offers = accepted_offers(&app, 3).await;
    let provider = app.tokens.provider.clone();
    let twice = "{ a: providerOffers { edges { node { contact { phone } } } } \
                   b: providerOffers { edges { node { contact { phone } } } } }";
    let before = audit_rows(&app).await;
    app.ok(&provider, twice, json!({})).await;
    assert_eq!(audit_rows(&app).await - before, 3, "one contact_details_read per offer, not one per alias");

    // Each request is its own: asking again is audited again.
    app.ok(&provider, twice, json!({})).await;
    assert_eq!(audit_rows(&app).await - before, 6);

    // The same holds for a referral read through two aliases, and for a caseload listed twice.
    let referral =
        app.store.offer(&Fixture::actor(&app.fixture.link_worker), offers[0]).await.unwrap().state.referral.to_string();
    let lw = app.tokens.link_worker.clone();
    let before = audit_rows(&app).await;
    app.ok(
        &lw,
        "query($id: ID!) { a: referral(id: $id) { id } b: referral(id: $id) { status } }",
        json!({ "id": referral }),
    )
    .await;
    assert_eq!(audit_rows(&app).await - before, 1);
    let before = audit_rows(&app).await;
    let listed = app
        .ok(
            &lw,
            "{ a: referrals(first: 10) { edges { cursor } } b: referrals(first: 10) { edges { cursor } } }",
            json!({}),
        )
        .await;
    let rows = listed["a"]["edges"].as_array().unwrap().len();
    assert!(rows >= 3, "{listed}");
    // A page is one audit entry naming everyone on it; the second alias lists no one again.
    assert_eq!(audit_rows(&app).await - before, 1, "a caseload listed twice in one request is audited once");
    let newest = app.store.audit_log(&AuditFilter { limit: 1, ..AuditFilter::default() }).await.unwrap();
    let named: BTreeSet<_> = newest[0].listed.iter().collect();
    assert_eq!((newest[0].listed.len(), named.len()), (rows, rows), "each person shown is named once");
});

on_both_databases!(list_fields_cost_what_their_first_asks_for, |app: TestApp| async move {
    let gp = app.tokens.gp.clone();
    let fields = "id version status closureReason closureSnomedCode snomedCode needs reason urgency \
                  referringOrganisationId linkWorkerServiceId assignedToId contactDueAt overdue flag createdAt updatedAt \
                  person { nhsNumber givenName familyName dateOfBirth phone email postcode preferredContact } \
                  history { version } offers { id status }";
    let small = format!("{{ referrals(first: 5) {{ edges {{ node {{ {fields} }} }} }} }}");
    app.ok(&gp, &small, json!({})).await;
    // The same selection for a hundred rows is a hundred times the work: over the budget.
    let large = format!("{{ referrals(first: 100) {{ edges {{ node {{ {fields} }} }} }} }}");
    let refused = app.graphql(Some(&gp), &large, json!({})).await;
    assert_eq!(refused.code(), Some("QUERY_TOO_COMPLEX"), "{:?}", refused.errors);
    // A variable `first` is counted the same way.
    let variable = format!("query($n: Int) {{ referrals(first: $n) {{ edges {{ node {{ {fields} }} }} }} }}");
    let refused = app.graphql(Some(&gp), &variable, json!({ "n": 100 })).await;
    assert_eq!(refused.code(), Some("QUERY_TOO_COMPLEX"), "{:?}", refused.errors);
    app.ok(&gp, &variable, json!({ "n": 5 })).await;
});
