//! No silent overwrite of services: `updateService`, `updateServiceCapacity` and the provider's capacity
//! page change a service only at the version they read, and an accepted offer's place moves it on.
//! Also: a referral's idempotency key matches the request as parsed, not as typed.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;
use trellis_domain::OfferId;
use trellis_domain::offer::OfferCommand;
use trellis_domain::referral::ReferralCommand;
use trellis_store::links::LinkScope;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_tests::link_pages::{LinkPages, Session};
use trellis_tests::{Fixture, TestApp, on_both_databases};

const SERVICE: &str = "query($id: ID!) { service(id: $id) { version name capacity { available maximum status } } }";
const UPDATE: &str =
    "mutation($input: UpdateServiceInput!) { updateService(input: $input) { service { version name } } }";
const CAPACITY: &str = "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { \
     service { version capacity { available } } } }";

/// An offer of a new contacted referral to the walking group, not yet answered.
async fn offer(app: &TestApp) -> OfferId {
    let f = &app.fixture;
    let lw = Fixture::actor(&f.link_worker);
    let now = Utc::now();
    let id = app.store.submit_referral(f.referral("9434765919"), None, &Fixture::actor(&f.gp), now).await.unwrap();
    let id = id.referral.state.id;
    app.store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, now).await.unwrap();
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    app.store
        .make_offer(OfferRequest::new(id, f.walking_group.id, timers).at_version(2), &lw, now)
        .await
        .unwrap()
        .state
        .id
}

async fn accept(app: &TestApp, offer: OfferId) {
    let provider = Fixture::actor(&app.fixture.provider_user);
    app.store.transition_offer(offer, 1, OfferCommand::Accept, &provider, Utc::now()).await.unwrap();
}

on_both_databases!(
    a_service_change_from_a_stale_version_is_a_conflict_and_changes_nothing,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let id = app.fixture.walking_group.id.to_string();
        let read = app.ok(&t.provider, SERVICE, json!({ "id": id })).await;
        let v = read["service"]["version"].as_u64().unwrap();

        let renamed = app
            .ok(&t.provider, UPDATE, json!({ "input": { "serviceId": id, "expectedVersion": v, "name": "Strollers" } }))
            .await;
        assert_eq!(renamed["updateService"]["service"]["version"], json!(v + 1));

        // The network lead, working from the page it read before that rename, is told and changes nothing.
        let stale = app
            .graphql(
                Some(&t.network_lead),
                UPDATE,
                json!({ "input": { "serviceId": id, "expectedVersion": v, "name": "Walkers" } }),
            )
            .await;
        assert_eq!(stale.code(), Some("CONFLICT"), "{:?}", stale.errors);
        assert_eq!(stale.errors[0]["extensions"]["expectedVersion"], json!(v));
        assert_eq!(stale.errors[0]["extensions"]["currentVersion"], json!(v + 1));
        let capacity = json!({ "input": { "serviceId": id, "expectedVersion": v, "available": 1, "maximum": 9, "status": "OPEN" } });
        let stale = app.graphql(Some(&t.network_lead), CAPACITY, capacity).await;
        assert_eq!(stale.code(), Some("CONFLICT"), "{:?}", stale.errors);

        let now = app.ok(&t.provider, SERVICE, json!({ "id": id })).await;
        assert_eq!(now["service"]["name"], "Strollers");
        assert_eq!(now["service"]["version"], json!(v + 1));
        assert_eq!(now["service"]["capacity"], read["service"]["capacity"], "capacity untouched");
    }
);

on_both_databases!(a_capacity_set_read_before_an_offer_was_accepted_is_refused, |app: TestApp| async move {
    let t = app.tokens.clone();
    let id = app.fixture.walking_group.id.to_string();
    let offer = offer(&app).await;
    let read = app.ok(&t.provider, SERVICE, json!({ "id": id })).await;
    let (v, available) =
        (read["service"]["version"].as_u64().unwrap(), read["service"]["capacity"]["available"].as_i64().unwrap());

    accept(&app, offer).await;
    let taken = app.ok(&t.provider, SERVICE, json!({ "id": id })).await;
    assert_eq!(taken["service"]["capacity"]["available"], json!(available - 1), "the accept took a place");
    assert!(taken["service"]["version"].as_u64().unwrap() > v, "and moved the version on");

    // The provider types back the number it read: that would hand the place back. Refused.
    let set = json!({ "input": { "serviceId": id, "expectedVersion": v, "available": available, "maximum": 20, "status": "OPEN" } });
    assert_eq!(app.graphql(Some(&t.provider), CAPACITY, set).await.code(), Some("CONFLICT"));
    let after = app.ok(&t.provider, SERVICE, json!({ "id": id })).await;
    assert_eq!(after["service"]["capacity"]["available"], json!(available - 1));
});

const CAPACITY_PAGE: LinkPages = LinkPages("/capacity");

on_both_databases!(
    a_capacity_page_opened_before_an_offer_was_accepted_saves_nothing_and_shows_the_numbers_now,
    |app: TestApp| async move {
        let service = app.fixture.walking_group.id;
        let now = Utc::now();
        let token = app.store.mint_link(LinkScope::Service(service), now + Duration::days(14), now).await.unwrap();
        let offer = offer(&app).await;
        let session = Session::open(&app, &CAPACITY_PAGE.path(&token)).await;
        let opened_at = session.version().expect("the page carries the service's version");
        let available = app.store.service(service).await.unwrap().capacity.unwrap().available;

        accept(&app, offer).await;
        let typed = (available.to_string(), "20");
        let refused = session.post(&app, &[("available", &typed.0), ("maximum", typed.1), ("status", "open")]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
        assert!(refused.text().contains("The places changed after you opened this page"), "{}", refused.body);
        assert!(refused.body.contains(&format!("{} of 20", available - 1)), "the numbers now are shown");
        assert_eq!(app.store.service(service).await.unwrap().capacity.unwrap().available, available - 1);
        assert_ne!(session.version(), Some(opened_at), "the page shown carries the version now");

        // Having seen the numbers now, the provider saves again, and it is saved.
        let saved = session.post(&app, &[("available", "7"), ("maximum", "20"), ("status", "open")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(app.store.service(service).await.unwrap().capacity.unwrap().available, 7);

        // A form with no version (a page from before versions, or made by hand) saves nothing.
        let hand_made =
            session.post(&app, &[("version", ""), ("available", "3"), ("maximum", "20"), ("status", "open")]).await;
        assert_eq!(hand_made.status, StatusCode::CONFLICT);
        assert_eq!(app.store.service(service).await.unwrap().capacity.unwrap().available, 7);
    }
);

// ---------------------------------------------------------------------------------------------------------
// Idempotency keys match the request as parsed.

const SUBMIT: &str =
    "mutation($input: SubmitReferralInput!) { submitReferral(input: $input) { referral { id } replayed } }";

fn submission(nhs: &str, postcode: &str, given: &str, needs: &[&str]) -> serde_json::Value {
    json!({ "input": {
        "idempotencyKey": "retry-me",
        "person": {
            "nhsNumber": nhs, "givenName": given, "familyName": "Hughes", "dateOfBirth": "1948-05-17",
            "preferredContact": "PHONE", "phone": "0115 496 0123", "postcode": postcode
        },
        "needs": needs,
        "reason": "Rarely goes out.",
        "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": "2026-01-01T09:00:00Z" }
    }})
}

on_both_databases!(a_retry_that_formats_the_same_values_differently_is_the_same_request, |app: TestApp| async move {
    let gp = app.tokens.gp.clone();
    let first =
        app.ok(&gp, SUBMIT, submission("9434765919", "NG10 1AB", "Margaret", &["LONELINESS", "LOW_MOOD"])).await;
    let id = first["submitReferral"]["referral"]["id"].clone();
    for (what, retry) in [
        ("spaces in the NHS number", submission("943 476 5919", "NG10 1AB", "Margaret", &["LONELINESS", "LOW_MOOD"])),
        ("a postcode in lower case", submission("9434765919", "ng10 1ab", "Margaret", &["LONELINESS", "LOW_MOOD"])),
        (
            "a name with spaces around it",
            submission("9434765919", "NG10 1AB", " Margaret ", &["LONELINESS", "LOW_MOOD"]),
        ),
        ("needs in another order", submission("9434765919", "NG10 1AB", "Margaret", &["LOW_MOOD", "LONELINESS"])),
    ] {
        let replayed = app.graphql(Some(&gp), SUBMIT, retry).await;
        assert!(replayed.errors.is_empty(), "{what}: {:?}", replayed.errors);
        assert_eq!(replayed.data["submitReferral"]["replayed"], true, "{what}");
        assert_eq!(replayed.data["submitReferral"]["referral"]["id"], id, "{what}");
    }
    // A different value is still a different request.
    let other = app.graphql(Some(&gp), SUBMIT, submission("9434765919", "NG10 1AB", "Margot", &["LONELINESS"])).await;
    assert_eq!(other.code(), Some("IDEMPOTENCY_KEY_REUSED"));
});
