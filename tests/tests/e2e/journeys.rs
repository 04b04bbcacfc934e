//! The three journeys end to end against the real server, on SQLite and PostgreSQL, using the exact
//! operations printed in the user guides under `docs/`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::Utc;
use serde_json::{Value, json};
use trellis_domain::referral::ReferralCommand;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::testing::Fixture;
// `on_both_databases!` comes from the suite's `#[macro_use]`, not a `use`: `tests/logs.rs` includes this
// file and puts its own macro of that name in its place, to run every journey with its logs captured.
use trellis_tests::{TestApp, doc_operation};

const GP: &str = "gp-practice.md";
const LW: &str = "link-worker.md";
const LEAD: &str = "network-lead.md";

fn submit_input(key: &str, nhs: &str) -> Value {
    json!({ "input": {
        "idempotencyKey": key,
        "person": {
            "nhsNumber": nhs, "givenName": "Margaret", "familyName": "Hughes", "dateOfBirth": "1946-05-17",
            "phone": "0115 496 0123", "postcode": "NG10 1AB", "preferredContact": "PHONE"
        },
        "needs": ["LONELINESS", "PHYSICAL_ACTIVITY"],
        "reason": "Widowed last year and rarely goes out. Used to love walking.",
        "urgency": "ROUTINE",
        "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": "2026-11-23T09:30:00Z" }
    }})
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no string at {pointer} in {v:#}"))
}

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or_else(|| panic!("no number at {pointer} in {v:#}"))
}

on_both_databases!(
    a_referral_goes_from_practice_to_provider_and_the_practice_sees_the_outcome,
    |app: TestApp| async move {
        let t = app.tokens.clone();

        // The practice submits, and its system retries the same request: one referral.
        let submitted =
            app.ok(&t.gp, &doc_operation(GP, "SubmitReferral"), submit_input("emis-1", "943 476 5919")).await;
        let id = str_at(&submitted, "/submitReferral/referral/id").to_owned();
        assert_eq!(str_at(&submitted, "/submitReferral/referral/status"), "REFERRED");
        assert_eq!(str_at(&submitted, "/submitReferral/referral/snomedCode"), "871731000000106");
        let retried = app.ok(&t.gp, &doc_operation(GP, "SubmitReferral"), submit_input("emis-1", "943 476 5919")).await;
        assert_eq!(str_at(&retried, "/submitReferral/referral/id"), id);
        assert_eq!(retried.pointer("/submitReferral/replayed"), Some(&json!(true)));

        // The link worker finds it on the caseload, assigns it to themselves, tries, then makes contact.
        let caseload = app
            .ok(&t.link_worker, &doc_operation(LW, "Caseload"), json!({ "filter": { "statuses": ["REFERRED"] } }))
            .await;
        let edges = caseload.pointer("/referrals/edges").and_then(Value::as_array).unwrap();
        assert_eq!(edges.len(), 1);
        assert_eq!(str_at(&edges[0], "/node/id"), id);
        let me = app.fixture.link_worker.id.to_string();
        let assigned = app
            .ok(
                &t.link_worker,
                &doc_operation(LW, "AssignReferral"),
                json!({ "input": { "referralId": id, "expectedVersion": 1, "linkWorkerId": me } }),
            )
            .await;
        assert_eq!(str_at(&assigned, "/assignReferral/referral/assignedToId"), me);
        app.ok(
            &t.link_worker,
            &doc_operation(LW, "RecordContactAttempt"),
            json!({ "input": { "referralId": id, "expectedVersion": 2, "note": "No answer" } }),
        )
        .await;
        let contacted = app.ok(&t.link_worker, &doc_operation(LW, "RecordContact"), json!({ "input": { "referralId": id, "expectedVersion": 3, "note": "Would like to walk with others" } })).await;
        assert_eq!(str_at(&contacted, "/recordContact/referral/status"), "CONTACTED");

        // The link worker finds the walking group and offers Margaret to it.
        let services = app.ok(&t.link_worker, &doc_operation(LW, "Services"), json!({})).await;
        let walking = services["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "Long Eaton Walking Group")
            .expect("walking group listed");
        let offered = app
        .ok(&t.link_worker, &doc_operation(LW, "OfferReferral"), json!({ "input": { "referralId": id, "expectedVersion": 4, "serviceId": walking["id"], "noteForProvider": "Slow pace suits her" } }))
        .await;
        let offer_id = str_at(&offered, "/offerReferral/offer/id").to_owned();
        assert_eq!(str_at(&offered, "/offerReferral/offer/fhirTaskStatus"), "requested");

        // The provider accepts (as a provider user here; the email-link page is tested on its own).
        let accept =
            "mutation($input: RespondToOfferInput!) { respondToOffer(input: $input) { offer { status version } } }";
        let accepted = app
            .ok(
                &t.provider,
                accept,
                json!({ "input": { "offerId": offer_id, "expectedVersion": 1, "response": "ACCEPT" } }),
            )
            .await;
        assert_eq!(str_at(&accepted, "/respondToOffer/offer/status"), "ACCEPTED");

        // The link worker records attendance and the offer starting, then closes the referral.
        let attending = app
            .ok(
                &t.link_worker,
                &doc_operation(LW, "RecordAttendance"),
                json!({ "input": { "referralId": id, "expectedVersion": 4 } }),
            )
            .await;
        assert_eq!(str_at(&attending, "/recordAttendance/referral/status"), "ATTENDING");
        let started = app
            .ok(
                &t.link_worker,
                &doc_operation(LW, "UpdateOffer"),
                json!({ "input": { "offerId": offer_id, "expectedVersion": 2, "update": "START" } }),
            )
            .await;
        assert_eq!(str_at(&started, "/updateOffer/offer/fhirTaskStatus"), "in-progress");
        let detail = app.ok(&t.link_worker, &doc_operation(LW, "ReferralDetail"), json!({ "id": id })).await;
        let version = u64_at(&detail, "/referral/version");
        assert_eq!(detail.pointer("/referral/offers/0/deliveries/0/kind"), Some(&json!("offer_made")));
        let closed = app
        .ok(&t.link_worker, &doc_operation(LW, "CloseReferral"), json!({ "input": { "referralId": id, "expectedVersion": version, "reason": "COMPLETED", "noFollowUpReason": "NOT_OFFERED", "note": "Walks every week now" } }))
        .await;
        assert_eq!(str_at(&closed, "/closeReferral/referral/status"), "CLOSED");

        // The practice sees the outcome and the whole history.
        let outcome = app.ok(&t.gp, &doc_operation(GP, "ReferralOutcome"), json!({ "id": id })).await;
        assert_eq!(str_at(&outcome, "/referral/closureReason"), "COMPLETED");
        let kinds: Vec<&str> =
            outcome["referral"]["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["opened", "assigned", "contact_attempted", "contacted", "attendance_recorded", "closed"]);
        // Closing as completed finished the offer the person was attending.
        assert_eq!(outcome.pointer("/referral/offers/0/status"), Some(&json!("FINISHED")));
        let mine = app.ok(&t.gp, &doc_operation(GP, "MyReferrals"), json!({ "first": 10 })).await;
        assert_eq!(mine.pointer("/referrals/edges/0/node/status"), Some(&json!("CLOSED")));

        // The network lead sees the trail in the audit log.
        let audit = app
            .ok(
                &t.network_lead,
                &doc_operation(LEAD, "AuditLog"),
                json!({ "filter": { "referralId": id }, "first": 100 }),
            )
            .await;
        let actions: Vec<&str> = audit["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["action"].as_str().unwrap())
            .collect();
        for expected in [
            "referral.submitted",
            "referral.submission_replayed",
            "referral.listed",
            "referral.contacted",
            "offer.made",
            "offer.accepted",
            "referral.closed",
            "referral.read",
        ] {
            assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
        }
    }
);

on_both_databases!(a_practice_withdraws_a_referral_only_before_contact, |app: TestApp| async move {
    let t = app.tokens.clone();
    let first = app.ok(&t.gp, &doc_operation(GP, "SubmitReferral"), submit_input("k-1", "943 476 5919")).await;
    let id = str_at(&first, "/submitReferral/referral/id").to_owned();
    let withdrawn = app
        .ok(
            &t.gp,
            &doc_operation(GP, "WithdrawReferral"),
            json!({ "input": { "referralId": id, "expectedVersion": 1, "note": "Referred elsewhere" } }),
        )
        .await;
    assert_eq!(str_at(&withdrawn, "/withdrawReferral/referral/closureReason"), "WITHDRAWN_BY_REFERRER");

    let second = app.ok(&t.gp, &doc_operation(GP, "SubmitReferral"), submit_input("k-2", "401 023 2137")).await;
    let id2 = str_at(&second, "/submitReferral/referral/id").to_owned();
    app.ok(
        &t.link_worker,
        &doc_operation(LW, "RecordContact"),
        json!({ "input": { "referralId": id2, "expectedVersion": 1 } }),
    )
    .await;
    let refused = app
        .graphql(
            Some(&t.gp),
            &doc_operation(GP, "WithdrawReferral"),
            json!({ "input": { "referralId": id2, "expectedVersion": 2 } }),
        )
        .await;
    assert_eq!(refused.code(), Some("INVALID_TRANSITION"));
});

on_both_databases!(
    an_administrator_adds_a_practice_and_a_user_whose_token_works_until_revoked,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let orgs = app.ok(&t.network_lead, &doc_operation(LEAD, "Organisations"), json!({})).await;
        assert!(orgs["organisations"].as_array().unwrap().len() >= 6);
        let service = app
        .ok(&t.admin, &doc_operation(LEAD, "CreateOrganisation"), json!({ "input": { "kind": "LINK_WORKER_SERVICE", "name": "Ilkeston PCN Link Workers", "email": "lw@ilkeston.example" } }))
        .await;
        let service_id = str_at(&service, "/createOrganisation/organisation/id").to_owned();
        let practice = app
        .ok(&t.admin, &doc_operation(LEAD, "CreateOrganisation"), json!({ "input": { "kind": "GP_PRACTICE", "name": "Ilkeston Health Centre", "odsCode": "c81099", "linkWorkerServiceId": service_id } }))
        .await;
        assert_eq!(str_at(&practice, "/createOrganisation/organisation/odsCode"), "C81099");
        let practice_id = str_at(&practice, "/createOrganisation/organisation/id").to_owned();
        let created = app
        .ok(&t.admin, &doc_operation(LEAD, "CreateUser"), json!({ "input": { "organisationId": practice_id, "role": "GP_PRACTICE", "email": "dr.new@ilkeston.example", "name": "Dr New" } }))
        .await;
        let token = str_at(&created, "/createUser/apiToken").to_owned();
        let me = app.ok(&token, "{ me { user { name role } organisation { name } } }", json!({})).await;
        assert_eq!(str_at(&me, "/me/organisation/name"), "Ilkeston Health Centre");

        // The new practice refers to its own link worker service, not the fixture's.
        let submitted =
            app.ok(&token, &doc_operation(GP, "SubmitReferral"), submit_input("new-1", "943 476 5919")).await;
        let referral_id = str_at(&submitted, "/submitReferral/referral/id").to_owned();
        let other_service =
            app.graphql(Some(&t.link_worker), &doc_operation(LW, "ReferralDetail"), json!({ "id": referral_id })).await;
        assert_eq!(other_service.code(), Some("NOT_FOUND"));

        let keys = app.store.api_keys_of(created_user_id(&created)).await.unwrap();
        let revoked = app
            .ok(
                &t.admin,
                &doc_operation(LEAD, "RevokeApiKey"),
                json!({ "input": { "apiKeyId": keys[0].id.to_string() } }),
            )
            .await;
        assert!(revoked.pointer("/revokeApiKey/apiKey/revokedAt").is_some_and(|v| !v.is_null()));
        let after = app.graphql(Some(&token), "{ me { user { name } } }", json!({})).await;
        assert_eq!((after.status, after.code()), (401, Some("UNAUTHENTICATED")));
    }
);

fn created_user_id(created: &Value) -> trellis_domain::UserId {
    str_at(created, "/createUser/user/id").parse().unwrap()
}

on_both_databases!(
    a_network_lead_adds_a_service_and_a_link_worker_finds_it_and_sees_the_network,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let created = app
        .ok(
            &t.network_lead,
            &doc_operation(LEAD, "CreateService"),
            json!({ "input": {
                "organisationId": app.fixture.provider.id.to_string(),
                "name": "Tuesday Befriending Cafe",
                "description": "A warm drink and a chat with volunteers.",
                "taxonomy": ["befriending"],
                "minAge": 18,
                "locations": [{ "name": "Market Place", "postcode": "NG10 1AA", "latitude": 52.8990, "longitude": -1.2720 }],
                "capacity": { "available": 6, "maximum": 12, "status": "OPEN" }
            } }),
        )
        .await;
        let service_id = str_at(&created, "/createService/service/id").to_owned();
        let updated = app
            .ok(
                &t.network_lead,
                &doc_operation(LEAD, "UpdateServiceCapacity"),
                app.at_current_version(
                    json!({ "input": { "serviceId": service_id, "available": 3, "maximum": 12, "status": "OPEN" } }),
                )
                .await,
            )
            .await;
        assert_eq!(updated.pointer("/updateServiceCapacity/service/capacity/available"), Some(&json!(3)));
        assert_eq!(updated.pointer("/updateServiceCapacity/service/capacity/stale"), Some(&json!(false)));

        let found = app
        .ok(
            &t.link_worker,
            &doc_operation(LW, "FindServices"),
            json!({ "needs": ["LONELINESS"], "near": { "postcode": "NG10 1AA" }, "radiusKm": 10, "age": 78, "onlyWithCapacity": true }),
        )
        .await;
        let first = &found["findServices"][0];
        assert_eq!(str_at(first, "/service/id"), service_id);
        assert!(first["reasons"].as_array().is_some_and(|r| !r.is_empty()), "{first}");

        // The link worker offers the cafe to someone: its provider is then in the locality's network.
        let referral = app
            .store
            .submit_referral(app.fixture.referral("9434765005"), None, &Fixture::actor(&app.fixture.gp), Utc::now())
            .await
            .unwrap()
            .referral
            .state
            .id;
        let lw = Fixture::actor(&app.fixture.link_worker);
        app.store
            .transition_referral(referral, 1, ReferralCommand::RecordContact { note: None }, &lw, Utc::now())
            .await
            .unwrap();
        let timers = OfferTimers { expires_at: Utc::now() + chrono::Duration::days(14), remind_at: None };
        let cafe = trellis_domain::ServiceId(service_id.parse().unwrap());
        app.store.make_offer(OfferRequest::new(referral, cafe, timers).at_version(2), &lw, Utc::now()).await.unwrap();

        let area = json!({ "linkWorkerServiceIds": [app.fixture.service.id.to_string()] });
        let network = app.ok(&t.network_lead, &doc_operation(LEAD, "Network"), json!({ "area": area })).await;
        let names: Vec<&str> =
            network["network"]["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"Tuesday Befriending Cafe"), "{names:?}");
        let lw_view =
            app.ok(&t.link_worker, &doc_operation(LEAD, "Network"), json!({ "category": "befriending" })).await;
        let cafe = &lw_view["network"]["services"];
        assert_eq!(cafe.as_array().unwrap().len(), 1, "{cafe}");
        assert_eq!(cafe[0]["offers"]["open"], json!(1), "counted as soon as it was made: {cafe}");
    }
);

on_both_databases!(
    a_provider_passes_an_accepted_person_on_to_another_service_and_the_link_worker_is_told,
    |app: TestApp| async move {
        use trellis_store::outbox::JobKind;

        let t = app.tokens.clone();
        let submitted =
            app.ok(&t.gp, &doc_operation(GP, "SubmitReferral"), submit_input("onward-1", "943 476 5919")).await;
        let id = str_at(&submitted, "/submitReferral/referral/id").to_owned();
        app.ok(
            &t.link_worker,
            &doc_operation(LW, "RecordContact"),
            json!({ "input": { "referralId": id, "expectedVersion": 1 } }),
        )
        .await;
        let walking = app.fixture.walking_group.id.to_string();
        let offered = app
            .ok(
                &t.link_worker,
                &doc_operation(LW, "OfferReferral"),
                json!({ "input": { "referralId": id, "expectedVersion": 2, "serviceId": walking } }),
            )
            .await;
        let offer_id = str_at(&offered, "/offerReferral/offer/id").to_owned();
        let cafe = app
        .ok(&t.provider, &doc_operation(LEAD, "CreateService"), json!({ "input": { "name": "Friday Cafe", "description": "Tea and company", "taxonomy": ["befriending"] } }))
        .await;
        let cafe_id = str_at(&cafe, "/createService/service/id").to_owned();
        let onward = "mutation($input: ProposeOnwardOfferInput!) { proposeOnwardOffer(input: $input) { offer { id partOfId status serviceName } } }";

        // Not before the provider has accepted the person.
        let early = app.graphql(Some(&t.provider), onward, json!({ "input": { "fromOfferId": offer_id, "serviceId": cafe_id, "noteForProvider": "Would enjoy the cafe" } })).await;
        assert_eq!(early.code(), Some("FORBIDDEN"));
        let accept = "mutation($id: ID!) { respondToOffer(input: { offerId: $id, expectedVersion: 1, response: ACCEPT }) { offer { status } } }";
        app.ok(&t.provider, accept, json!({ "id": offer_id })).await;
        let proposed = app.ok(&t.provider, onward, json!({ "input": { "fromOfferId": offer_id, "serviceId": cafe_id, "noteForProvider": "Would enjoy the cafe" } })).await;
        assert_eq!(str_at(&proposed, "/proposeOnwardOffer/offer/partOfId"), offer_id);
        assert_eq!(str_at(&proposed, "/proposeOnwardOffer/offer/status"), "OFFERED");

        // The link worker sees both offers on the referral and is emailed about the onward one.
        let detail = app.ok(&t.link_worker, &doc_operation(LW, "ReferralDetail"), json!({ "id": id })).await;
        assert_eq!(detail["referral"]["offers"].as_array().unwrap().len(), 2);
        let kinds: Vec<JobKind> = app.store.outbox().await.unwrap().into_iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&JobKind::OnwardOfferProposed), "{kinds:?}");
        // Another organisation's provider cannot pass on an offer that is not its own.
        let stranger = app
            .graphql(
                Some(&t.link_worker),
                onward,
                json!({ "input": { "fromOfferId": offer_id, "serviceId": cafe_id } }),
            )
            .await;
        assert_eq!(stranger.code(), Some("FORBIDDEN"));
    }
);
