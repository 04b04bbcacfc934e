//! The network view: flows, capacity and offer statistics aggregated in SQL on both databases, and the
//! `/network` page in a real browser.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use trellis_api::ApiSettings;
use trellis_api::network::cache::{MAX_REMEMBERED, NetworkCache, Period};
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
use trellis_tests::{Backend, TestApp, on_both_backends, on_both_databases, repo_root, run_node};

const NETWORK: &str = "query($category: String) { network(category: $category) {
  organisations { id kind name }
  services { id name available maximum capacityStatus offers { offered open accepted declined expired acceptanceRate medianResponseHours declineReasons { reason count } } }
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

on_both_databases!(the_network_counts_offers_flows_and_capacity_per_service, |app: TestApp| async move {
    let (walking_provider, choir_provider) = traffic(&app).await;
    let data = app.ok(&app.tokens.network_lead, NETWORK, json!({})).await;
    let network = &data["network"];
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
    assert!(walking["offers"]["medianResponseHours"].as_f64().is_some_and(|h| (0.0..1.0).contains(&h)), "{walking}");
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

    let arts = app.ok(&app.tokens.link_worker, NETWORK, json!({ "category": "arts_and_culture" })).await;
    let names: Vec<&str> =
        arts["network"]["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Men's Choir"]);
    assert_eq!(arts["network"]["flows"].as_array().unwrap().len(), 1, "only the onward flow into the choir");

    for token in [&app.tokens.gp, &app.tokens.provider] {
        assert_eq!(app.graphql(Some(token), NETWORK, json!({})).await.code(), Some("FORBIDDEN"));
    }
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
    let out =
        tokio::task::spawn_blocking(move || run_node("network-page.mjs", &[&base, &lead, &gp, &dir])).await.unwrap();
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["landed"], json!("/network"), "a network lead starts on the network: {report}");
    assert_eq!(report["flows"], json!(2), "{report}");
    assert!(report["nodes"].as_u64().unwrap() >= 3, "{report}");
    assert!(report["tableRows"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(report["gpRefused"], json!(true), "{report}");
    assert_eq!(report["signedOut"], json!(true), "{report}");
    assert_eq!(report["afterSignOut"], json!("/sign-in"), "signed out, the network sends to sign-in: {report}");
    assert_eq!(report["violations"], json!([]), "axe-core finds no WCAG 2.2 AA violation: {report}");
    assert!(out_dir.join("network.png").exists());
}

const STATISTICS: &str = "{ network { statisticsAt services { name available offers { offered } } } }";

/// A fourth offer to the walking group, accepted: one more offered, one place fewer.
async fn another_accepted_offer(app: &TestApp) {
    let f = &app.fixture;
    let now = Utc::now();
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    let referral = contacted(app, 7).await;
    let lw = Fixture::actor(&f.link_worker);
    let offer = app
        .store
        .make_offer(OfferRequest::new(referral, f.walking_group.id, timers).at_version(2), &lw, now)
        .await
        .unwrap();
    let provider = Actor::provider_link(f.provider.id);
    app.store.transition_offer(offer.state.id, 1, OfferCommand::Accept, &provider, now).await.unwrap();
}

async fn walking_group_now(app: &TestApp) -> (Value, Value, Value) {
    let data = app.ok(&app.tokens.network_lead, STATISTICS, json!({})).await;
    let walking = service(&data["network"], "Long Eaton Walking Group");
    (data["network"]["statisticsAt"].clone(), walking["offers"]["offered"].clone(), walking["available"].clone())
}

async fn the_network_reuses_its_offer_statistics_within_their_time_to_live_while_capacity_stays_live(backend: Backend) {
    let settings = ApiSettings { network_statistics_ttl_secs: 3600, ..ApiSettings::default() };
    let app = TestApp::spawn_with(backend, settings).await;
    traffic(&app).await;
    let (computed_at, offered, available) = walking_group_now(&app).await;
    assert_eq!((offered, available), (json!(3), json!(4)));
    another_accepted_offer(&app).await;
    let (again_at, offered, available) = walking_group_now(&app).await;
    assert_eq!(again_at, computed_at, "the statistics were reused");
    assert_eq!((offered, available), (json!(3), json!(3)), "the count is as computed, the capacity is live");
}
on_both_backends!(the_network_reuses_its_offer_statistics_within_their_time_to_live_while_capacity_stays_live);

async fn the_network_computes_its_offer_statistics_again_once_they_are_older_than_their_time_to_live(backend: Backend) {
    let settings = ApiSettings { network_statistics_ttl_secs: 1, ..ApiSettings::default() };
    let app = TestApp::spawn_with(backend, settings).await;
    traffic(&app).await;
    let (computed_at, offered, _) = walking_group_now(&app).await;
    assert_eq!(offered, json!(3));
    another_accepted_offer(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let (again_at, offered, available) = walking_group_now(&app).await;
    assert!(again_at.as_str().unwrap() > computed_at.as_str().unwrap(), "{again_at} after {computed_at}");
    assert_eq!((offered, available), (json!(4), json!(3)));
}
on_both_backends!(the_network_computes_its_offer_statistics_again_once_they_are_older_than_their_time_to_live);

on_both_databases!(the_network_remembers_statistics_for_a_few_periods_only, |app: TestApp| async move {
    traffic(&app).await;
    let cache = NetworkCache::new(3600);
    let now = Utc::now();
    for days in 1..=10 {
        let period = Period::Between(now - Duration::days(days), now + Duration::seconds(1));
        let (graph, statistics) = cache.graph(&app.store, period, None).await.unwrap();
        let walking = graph.services.iter().find(|s| s.id == app.fixture.walking_group.id).unwrap();
        assert_eq!((walking.stats.offered, statistics.from), (3, now - Duration::days(days)));
        assert!(cache.remembered() <= MAX_REMEMBERED, "{} remembered after {days}", cache.remembered());
    }
});

on_both_databases!(a_query_asking_for_the_network_twice_is_answered_once_each, |app: TestApp| async move {
    traffic(&app).await;
    let twice = "{ recent: network { statisticsAt services { name } } arts: network(category: \"arts_and_culture\") { services { name } } }";
    // Both fields share the request's turn to build a graph: neither waits for the other's response.
    let answer =
        tokio::time::timeout(std::time::Duration::from_secs(10), app.ok(&app.tokens.network_lead, twice, json!({})))
            .await
            .expect("answered, not deadlocked");
    assert!(answer["recent"]["services"].as_array().unwrap().len() >= 2, "{answer}");
    assert_eq!(answer["arts"]["services"], json!([{ "name": "Men's Choir" }]));
});
