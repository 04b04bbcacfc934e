//! The network view: one area, a page of providers at a time, its flows, capacity and offer statistics
//! from the offer rollups on both databases; typed refusals; and the `/network` page in a real browser.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use trellis_domain::offer::{DeclineReason, OfferCommand};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::referral::ReferralCommand;
use trellis_domain::values::{EmailAddress, NhsNumber};
use trellis_domain::{Actor, ReferralId};
use trellis_store::accounts::NewOrganisation;
use trellis_store::directory::{Capacity, NewService};
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::testing::{Fixture, plain_service};
use trellis_tests::console::sign_in_path;
use trellis_tests::{Backend, TestApp, on_both_databases, repo_root, run_node};

const NETWORK: &str = "query($area: NetworkAreaInput, $category: String, $first: Int, $after: String) {
  network(area: $area, category: $category, first: $first, after: $after) {
  hasNextPage endCursor
  organisations { id kind name }
  services { id organisationId name available maximum capacityStatus offers { offered open accepted declined expired acceptanceRate medianResponseHours declineReasons { reason count } } }
  flows { fromId toId kind count } } }";

/// Valid NHS numbers for several people.
fn nhs(i: u32) -> String {
    (i * 10..i * 10 + 10)
        .flat_map(|stem| (0..10).map(move |c| format!("9991{stem:05}{c}")))
        .find(|n| NhsNumber::parse(n).is_ok())
        .unwrap()
}

async fn contacted(app: &TestApp, i: u32) -> ReferralId {
    let f = &app.fixture;
    let id = app
        .store
        .submit_referral(f.referral(&nhs(i)), None, &Fixture::actor(&f.gp), Utc::now())
        .await
        .unwrap()
        .referral
        .state
        .id;
    app.store
        .transition_referral(
            id,
            1,
            ReferralCommand::RecordContact { note: None },
            &Fixture::actor(&f.link_worker),
            Utc::now(),
        )
        .await
        .unwrap();
    id
}

/// Three offers to the walking group (accepted, declined at capacity, open) and one onward offer from
/// the walking group's provider to a choir run by a second provider.
async fn traffic(app: &TestApp) -> (String, String) {
    let f = &app.fixture;
    let now = Utc::now();
    let lw = Fixture::actor(&f.link_worker);
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    let choir_org = app
        .store
        .create_organisation(
            NewOrganisation {
                gp_message_at_first_contact: false,
                mesh_mailbox: None,
                kind: OrganisationKind::Provider,
                name: "Towpath Voices".into(),
                ods_code: None,
                email: Some(EmailAddress::parse("sing@towpath.example").unwrap()),
                link_worker_service: None,
            },
            now,
        )
        .await
        .unwrap();
    let choir = app
        .store
        .create_service(
            NewService {
                capacity: Some(Capacity {
                    available: 0,
                    maximum: 30,
                    unit: "places".into(),
                    status: trellis_domain::directory::CapacityStatus::Waitlist,
                    updated_at: now,
                }),
                ..plain_service(choir_org.id, "Men's Choir", "Singing under the bridge", "arts_and_culture")
            },
            now,
        )
        .await
        .unwrap();
    let provider = Actor::provider_link(f.provider.id);
    let mut offers = vec![];
    for i in 0..3 {
        let referral = contacted(app, i).await;
        offers.push(
            app.store
                .make_offer(OfferRequest::new(referral, f.walking_group.id, timers).at_version(2), &lw, now)
                .await
                .unwrap(),
        );
    }
    app.store.transition_offer(offers[0].state.id, 1, OfferCommand::Accept, &provider, now).await.unwrap();
    let decline = OfferCommand::Decline { reason: DeclineReason::AtCapacity, note: None };
    app.store.transition_offer(offers[1].state.id, 1, decline, &provider, now).await.unwrap();
    app.store
        .make_offer(
            OfferRequest::new(offers[0].state.referral, choir.id, timers)
                .with_note(Some("Loves singing".into()))
                .onward_from(offers[0].state.id),
            &provider,
            now,
        )
        .await
        .unwrap();
    (f.provider.id.to_string(), choir_org.id.to_string())
}

fn service<'a>(network: &'a Value, name: &str) -> &'a Value {
    network["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn area(app: &TestApp) -> Value {
    json!({ "linkWorkerServiceIds": [app.fixture.service.id.to_string()] })
}

on_both_databases!(the_network_of_an_area_counts_offers_flows_and_capacity_per_service, |app: TestApp| async move {
    let (walking_provider, choir_provider) = traffic(&app).await;
    let data = app.ok(&app.tokens.network_lead, NETWORK, json!({ "area": area(&app) })).await;
    let network = &data["network"];
    assert_eq!(network["hasNextPage"], json!(false));
    let walking = service(network, "Long Eaton Walking Group");
    assert_eq!(walking["offers"]["offered"], json!(3));
    assert_eq!(
        (
            walking["offers"]["accepted"].clone(),
            walking["offers"]["declined"].clone(),
            walking["offers"]["open"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(walking["offers"]["acceptanceRate"], json!(0.5));
    assert_eq!(walking["offers"]["declineReasons"], json!([{ "reason": "at_capacity", "count": 1 }]));
    // Both answers came within the hour they were offered: whole hours, 0.
    assert_eq!(walking["offers"]["medianResponseHours"], json!(0.0), "{walking}");
    // Five places were free; the accepted offer took one.
    assert_eq!((walking["available"].clone(), walking["maximum"].clone()), (json!(4), json!(20)));
    let choir = service(network, "Men's Choir");
    assert_eq!((choir["capacityStatus"].clone(), choir["offers"]["open"].clone()), (json!("waitlist"), json!(1)));

    let service_org = app.fixture.service.id.to_string();
    let flows = network["flows"].as_array().unwrap();
    assert!(
        flows.contains(&json!({ "fromId": service_org, "toId": walking_provider, "kind": "referral", "count": 3 })),
        "{flows:?}"
    );
    assert!(
        flows.contains(&json!({ "fromId": walking_provider, "toId": choir_provider, "kind": "onward", "count": 1 })),
        "{flows:?}"
    );

    // A link worker's area is their own service unless they name another.
    let arts = app.ok(&app.tokens.link_worker, NETWORK, json!({ "category": "arts_and_culture" })).await;
    let names: Vec<&str> =
        arts["network"]["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Men's Choir"]);
    assert_eq!(arts["network"]["flows"].as_array().unwrap().len(), 1, "only the onward flow into the choir");

    // Another link worker service's area made no offers: no providers.
    let other = json!({ "linkWorkerServiceIds": [app.fixture.other_service.id.to_string()] });
    let empty = app.ok(&app.tokens.network_lead, NETWORK, json!({ "area": other })).await;
    assert_eq!(empty["network"]["services"], json!([]));

    for token in [&app.tokens.gp, &app.tokens.provider] {
        assert_eq!(app.graphql(Some(token), NETWORK, json!({ "area": area(&app) })).await.code(), Some("FORBIDDEN"));
    }
});

on_both_databases!(the_network_pages_through_an_areas_providers_by_name, |app: TestApp| async move {
    let (walking_provider, choir_provider) = traffic(&app).await;
    let first = app.ok(&app.tokens.network_lead, NETWORK, json!({ "area": area(&app), "first": 1 })).await;
    let first = &first["network"];
    assert_eq!(first["hasNextPage"], json!(true));
    // "Long Eaton …" (the walking group's provider) comes before "Towpath Voices".
    let providers = |page: &Value| -> Vec<String> {
        page["organisations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "provider")
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(providers(first), std::slice::from_ref(&walking_provider));
    assert!(
        first["services"].as_array().unwrap().iter().all(|s| s["organisationId"] == walking_provider.as_str()),
        "{first}"
    );
    assert_eq!(first["flows"].as_array().unwrap().len(), 1, "only the flow into the page's provider: {first}");
    let after = first["endCursor"].clone();
    let second =
        app.ok(&app.tokens.network_lead, NETWORK, json!({ "area": area(&app), "first": 1, "after": after })).await;
    let second = &second["network"];
    assert_eq!(second["hasNextPage"], json!(false));
    assert!(providers(second).contains(&choir_provider), "{second}");
    let names: Vec<&str> = second["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Men's Choir"]);
    // The onward flow into the choir, from the walking group's provider (named, though on another page).
    assert_eq!(second["flows"].as_array().unwrap().len(), 1, "{second}");
    assert!(providers(second).contains(&walking_provider), "the onward flow's source is a node: {second}");
});

on_both_databases!(a_bad_area_page_or_period_is_refused_as_validation_naming_the_field, |app: TestApp| async move {
    let lead = &app.tokens.network_lead;
    let cases = [
        (json!({}), "area"),
        (json!({ "area": { "linkWorkerServiceIds": [] } }), "area"),
        (json!({ "area": { "linkWorkerServiceIds": ["not-an-id"] } }), "area"),
        (json!({ "area": { "linkWorkerServiceIds": [app.fixture.provider.id.to_string()] } }), "area"),
        (json!({ "area": { "linkWorkerServiceIds": [uuid::Uuid::now_v7().to_string()] } }), "area"),
        (json!({ "area": { "linkWorkerServiceIds": vec![app.fixture.service.id.to_string(); 51] } }), "area"),
        (json!({ "area": area(&app), "first": 0 }), "first"),
        (json!({ "area": area(&app), "first": 101 }), "first"),
        (json!({ "area": area(&app), "after": "nope" }), "after"),
    ];
    for (variables, field) in cases {
        let answer = app.graphql(Some(lead), NETWORK, variables.clone()).await;
        assert_eq!(answer.code(), Some("VALIDATION"), "{variables}");
        assert_eq!(answer.field(), Some(field), "{variables}");
    }
    let backwards = "{ network(from: \"2026-02-01\", until: \"2026-01-01\") { services { id } } }";
    let answer = app.graphql(Some(&app.tokens.link_worker), backwards, json!({})).await;
    assert_eq!(answer.code(), Some("VALIDATION"));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_page_is_a_console_page_for_leads_and_draws_the_graph_in_a_real_browser() {
    let app = TestApp::spawn(Backend::Postgres).await;
    traffic(&app).await;
    let out_dir = repo_root().join("target/test-output/network");
    std::fs::create_dir_all(&out_dir).unwrap();
    let lead = sign_in_path(&app, app.fixture.network_lead.id).await;
    let gp = sign_in_path(&app, app.fixture.gp.id).await;
    let base = app.base_url.clone();
    let dir = out_dir.to_str().unwrap().to_owned();
    let area = app.fixture.service.id.to_string();
    let out = tokio::task::spawn_blocking(move || run_node("network-page.mjs", &[&base, &lead, &gp, &dir, &area]))
        .await
        .unwrap();
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["landed"], json!("/network"), "a network lead starts on the network: {report}");
    assert_eq!(report["chosen"], json!(true), "the locality chosen in the form is shown: {report}");
    assert_eq!(report["flows"], json!(2), "{report}");
    assert!(report["nodes"].as_u64().unwrap() >= 3, "{report}");
    assert!(report["tableRows"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(report["gpRefused"], json!(true), "{report}");
    assert_eq!(report["signedOut"], json!(true), "{report}");
    assert_eq!(report["afterSignOut"], json!("/sign-in"), "signed out, the network sends to sign-in: {report}");
    assert_eq!(report["violations"], json!([]), "axe-core finds no WCAG 2.2 AA violation: {report}");
    assert!(out_dir.join("network.png").exists());
}
