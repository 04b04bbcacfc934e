//! The directory end to end, on SQLite and PostgreSQL: who may manage services, live capacity (updates,
//! staleness, offers taking and giving back places), matching a person's needs to services, and the
//! Open Referral UK import (the export, and the round trip through it, are `oruk.rs`'s).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

// The binary has no library target; its import entry point is compiled into this test as it is into
// the binary, so the CLI's own code is what these tests run.
#[path = "../../../crates/trellis/src/import.rs"]
pub(crate) mod import;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use trellis_api::ApiSettings;
use trellis_domain::directory::ServiceStatus;
use trellis_domain::policy::Policy;
use trellis_domain::referral::ReferralCommand;
use trellis_domain::values::{EmailAddress, Postcode};
use trellis_domain::{OrganisationId, Role};
use trellis_store::Store;
use trellis_store::accounts::{NewOrganisation, NewUser};
use trellis_store::directory::{Capacity, NewService, Place, ServiceDetails};
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::testing::Fixture;
use trellis_tests::{Backend, TestApp, on_both_databases, repo_root};

macro_rules! service_fields {
    () => {
        "id organisationId name description email url status taxonomy minAge maxAge eligibility schedule \
         places { name postcode latitude longitude } capacity { available maximum unit status updatedAt stale }"
    };
}

const CREATE: &str = concat!(
    "mutation($input: CreateServiceInput!) { createService(input: $input) { service { ",
    service_fields!(),
    " } } }"
);
const UPDATE: &str = concat!(
    "mutation($input: UpdateServiceInput!) { updateService(input: $input) { service { ",
    service_fields!(),
    " } } }"
);
const CAPACITY: &str = concat!(
    "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { service { ",
    service_fields!(),
    " } } }"
);
const SERVICE: &str = concat!("query($id: ID!) { service(id: $id) { ", service_fields!(), " } }");
const FIND: &str =
    "query($needs: [Need!]!, $near: NearInput, $radiusKm: Float, $age: Int, $only: Boolean, $first: Int) {
  findServices(needs: $needs, near: $near, radiusKm: $radiusKm, age: $age, onlyWithCapacity: $only, first: $first) {
    service { id name } score distanceKm needsMet reasons
  }
}";

/// Long Eaton, where the fixture's walking group meets.
const CENTRE: (f64, f64) = (52.8987, -1.2832);
/// Degrees of latitude in one kilometre.
const KM: f64 = 1.0 / 111.195;

pub(crate) fn fixture_path(name: &str) -> String {
    repo_root().join("tests/fixtures/oruk").join(name).to_str().expect("utf-8 path").to_owned()
}

/// The records of a fixture page.
fn fixture_records(name: &str) -> Vec<Value> {
    let page: Value = serde_json::from_str(&std::fs::read_to_string(fixture_path(name)).unwrap()).unwrap();
    page["content"].as_array().unwrap().clone()
}

fn names(found: &Value) -> Vec<String> {
    found["findServices"].as_array().unwrap().iter().map(|m| m["service"]["name"].as_str().unwrap().into()).collect()
}

/// A second provider organisation with a signed-in user.
async fn other_provider(app: &TestApp) -> (OrganisationId, String) {
    let now = Utc::now();
    let org = app
        .store
        .create_organisation(
            NewOrganisation {
                gp_message_at_first_contact: false,
                mesh_mailbox: None,
                kind: trellis_domain::organisation::OrganisationKind::Provider,
                name: "Sawley Sports Club".into(),
                ods_code: None,
                email: EmailAddress::parse("hello@sawley.example").ok(),
                link_worker_service: None,
            },
            now,
        )
        .await
        .unwrap();
    let user = app
        .store
        .create_user(
            NewUser {
                organisation: org.id,
                role: Role::Provider,
                email: EmailAddress::parse("coach@sawley.example").unwrap(),
                name: "Coach".into(),
            },
            now,
        )
        .await
        .unwrap();
    (org.id, app.store.issue_api_key(user.id, "test", now).await.unwrap().token)
}

/// A service of the fixture's provider at a place, added straight to the store.
#[allow(clippy::too_many_arguments)]
async fn service_at(
    store: &Store,
    f: &Fixture,
    name: &str,
    taxonomy: &[&str],
    (latitude, longitude): (f64, f64),
    postcode: &str,
    capacity: Option<(i32, &str, i64)>,
    ages: (Option<i32>, Option<i32>),
) -> String {
    let now = Utc::now();
    let s = store
        .create_service(
            NewService {
                organisation: f.provider.id,
                details: ServiceDetails {
                    name: name.into(),
                    description: format!("{name}, for the tests."),
                    email: None,
                    url: None,
                    status: ServiceStatus::Active,
                    taxonomy: taxonomy.iter().map(|t| (*t).into()).collect(),
                    min_age: ages.0,
                    max_age: ages.1,
                    eligibility: None,
                    schedule: None,
                    places: vec![Place {
                        name: format!("{name} hall"),
                        postcode: Postcode::parse(postcode).ok(),
                        latitude: Some(latitude),
                        longitude: Some(longitude),
                    }],
                },
                capacity: capacity.map(|(available, status, days_old)| Capacity {
                    available,
                    maximum: 20,
                    unit: "places".into(),
                    status: trellis_domain::directory::CapacityStatus::parse(status).expect("a capacity status"),
                    updated_at: now - Duration::days(days_old),
                }),
            },
            now,
        )
        .await
        .unwrap();
    s.id.to_string()
}

on_both_databases!(a_provider_manages_its_own_services_and_the_network_lead_any_providers, |app: TestApp| async move {
    let t = app.tokens.clone();
    let provider = app.fixture.provider.id.to_string();
    let input = |extra: Value| {
        let mut input = json!({
            "name": "Tuesday Tea Dance", "description": "Ballroom and a brew.", "email": "dance@greenspring.example",
            "url": "https://greenspring.example/dance", "taxonomy": ["physical_activity", "befriending"],
            "minAge": 50, "eligibility": "Over 50s", "schedule": "Tuesdays 14:00",
            "locations": [{ "name": "Long Eaton Town Hall", "postcode": "ng10 1hu", "latitude": 52.8986, "longitude": -1.2714 }],
            "capacity": { "available": 10, "maximum": 30, "status": "OPEN" }
        });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        json!({ "input": input })
    };

    // A provider adds a service to its own organisation.
    let created = app.ok(&t.provider, CREATE, input(json!({}))).await;
    let s = created["createService"]["service"].clone();
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(s["organisationId"], json!(provider));
    assert_eq!(
        (&s["status"], &s["email"], &s["minAge"]),
        (&json!("active"), &json!("dance@greenspring.example"), &json!(50))
    );
    assert_eq!(s["taxonomy"], json!(["befriending", "physical_activity"]));
    assert_eq!(
        s["places"],
        json!([{ "name": "Long Eaton Town Hall", "postcode": "NG10 1HU", "latitude": 52.8986, "longitude": -1.2714 }])
    );
    assert_eq!(s["capacity"]["unit"], "places");
    assert_eq!(
        (&s["capacity"]["available"], &s["capacity"]["status"], &s["capacity"]["stale"]),
        (&json!(10), &json!("open"), &json!(false))
    );

    // Nobody else but the network lead may: the others are refused by role.
    for token in [&t.gp, &t.link_worker, &t.admin] {
        assert_eq!(app.graphql(Some(token), CREATE, input(json!({}))).await.code(), Some("FORBIDDEN"));
    }
    assert_eq!(app.graphql(None, CREATE, input(json!({}))).await.code(), Some("UNAUTHENTICATED"));

    // The network lead names the provider, which must be one.
    let missing = app.graphql(Some(&t.network_lead), CREATE, input(json!({}))).await;
    assert_eq!((missing.code(), missing.field()), (Some("VALIDATION"), Some("organisationId")));
    let by_lead =
        app.ok(&t.network_lead, CREATE, input(json!({ "organisationId": provider, "name": "Lead's dance" }))).await;
    assert_eq!(by_lead["createService"]["service"]["organisationId"], json!(provider));
    let practice = app.fixture.practice.id.to_string();
    let not_provider = app.graphql(Some(&t.network_lead), CREATE, input(json!({ "organisationId": practice }))).await;
    assert_eq!((not_provider.code(), not_provider.field()), (Some("VALIDATION"), Some("organisation")));

    // Another provider may neither add to nor change this provider's services.
    let (_, other) = other_provider(&app).await;
    assert_eq!(
        app.graphql(Some(&other), CREATE, input(json!({ "organisationId": provider }))).await.code(),
        Some("FORBIDDEN")
    );
    let rename = json!({ "input": { "serviceId": id, "name": "Mine now" } });
    assert_eq!(app.graphql(Some(&other), UPDATE, app.at_current_version(rename).await).await.code(), Some("FORBIDDEN"));
    let nowhere = json!({ "input": { "serviceId": uuid::Uuid::now_v7().to_string(), "name": "Ghost" } });
    assert_eq!(
        app.graphql(Some(&t.provider), UPDATE, app.at_current_version(nowhere).await).await.code(),
        Some("NOT_FOUND")
    );

    // Bad values are refused, naming the field.
    for (extra, field) in [
        (json!({ "taxonomy": ["knitting"] }), "taxonomy"),
        (json!({ "locations": [{ "name": "Hall", "postcode": "nowhere" }] }), "postcode"),
        (json!({ "locations": [{ "name": "Hall", "latitude": 52.9 }] }), "locations"),
        (json!({ "url": "javascript:alert(1)" }), "url"),
        (json!({ "email": "not-an-email" }), "email"),
        (json!({ "minAge": 70, "maxAge": 20 }), "minAge"),
        (json!({ "name": " " }), "name"),
        (json!({ "capacity": { "available": 5, "maximum": 2, "status": "OPEN" } }), "maximum"),
    ] {
        let refused = app.graphql(Some(&t.provider), CREATE, input(extra.clone())).await;
        assert_eq!((refused.code(), refused.field()), (Some("VALIDATION"), Some(field)), "{extra}");
    }

    // The provider changes it: fields left out stay, `null` clears, and inactive takes it off the list.
    let changed = app
        .ok(
            &t.provider,
            UPDATE,
            app.at_current_version(json!({ "input": {
                "serviceId": id, "name": "Tea Dance", "url": null, "status": "INACTIVE",
                "locations": [{ "name": "St Laurence Hall", "postcode": "NG10 1JS" }]
            } }))
            .await,
        )
        .await;
    let s = &changed["updateService"]["service"];
    assert_eq!((&s["name"], &s["url"], &s["status"]), (&json!("Tea Dance"), &Value::Null, &json!("inactive")));
    assert_eq!((&s["description"], &s["minAge"]), (&json!("Ballroom and a brew."), &json!(50)));
    assert_eq!(
        s["places"],
        json!([{ "name": "St Laurence Hall", "postcode": "NG10 1JS", "latitude": null, "longitude": null }])
    );
    assert_eq!(s["capacity"]["available"], 10, "capacity is changed on its own");
    let listed = app.ok(&t.link_worker, "{ services { id } }", json!({})).await;
    assert!(!listed["services"].as_array().unwrap().iter().any(|x| x["id"] == json!(id)), "inactive is not listed");
    let own = app.ok(&t.provider, "{ organisationServices { id status } }", json!({})).await;
    assert!(own["organisationServices"].as_array().unwrap().contains(&json!({ "id": id, "status": "inactive" })));

    // The network lead may change any provider's service.
    let by_lead = app
        .ok(
            &t.network_lead,
            UPDATE,
            app.at_current_version(json!({ "input": { "serviceId": id, "status": "ACTIVE", "minAge": null } })).await,
        )
        .await;
    assert_eq!(
        (&by_lead["updateService"]["service"]["status"], &by_lead["updateService"]["service"]["minAge"]),
        (&json!("active"), &Value::Null)
    );
    let read = app.ok(&t.link_worker, SERVICE, json!({ "id": id })).await;
    assert_eq!(read["service"]["name"], "Tea Dance");

    // Every change is audited, with who made it.
    let audit =
        app.ok(&t.network_lead, "{ auditLog(first: 100) { edges { node { action actorRole } } } }", json!({})).await;
    let entries: Vec<(String, String)> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["action"].as_str().unwrap().into(), e["node"]["actorRole"].as_str().unwrap().into()))
        .collect();
    for expected in [
        ("service.created", "PROVIDER"),
        ("service.created", "NETWORK_LEAD"),
        ("service.updated", "PROVIDER"),
        ("service.updated", "NETWORK_LEAD"),
    ] {
        assert!(entries.contains(&(expected.0.into(), expected.1.into())), "{expected:?} in {entries:?}");
    }
});

on_both_databases!(
    a_provider_updates_capacity_and_capacity_not_confirmed_for_two_weeks_is_stale,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let walking = app.fixture.walking_group.id.to_string();
        let update = |available: i32, maximum: i32, status: &str| json!({ "input": { "serviceId": walking, "available": available, "maximum": maximum, "status": status } });
        let updated = app.ok(&t.provider, CAPACITY, app.at_current_version(update(3, 10, "WAITLIST")).await).await;
        let c = &updated["updateServiceCapacity"]["service"]["capacity"];
        assert_eq!(
            (&c["available"], &c["maximum"], &c["unit"], &c["status"], &c["stale"]),
            (&json!(3), &json!(10), &json!("places"), &json!("waitlist"), &json!(false))
        );
        app.ok(&t.network_lead, CAPACITY, app.at_current_version(update(4, 10, "OPEN")).await).await;
        let audit = app.ok(&t.network_lead, "{ auditLog { edges { node { action } } } }", json!({})).await;
        let updates = audit["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["action"] == "service.capacity_updated")
            .count();
        assert_eq!(updates, 2, "each update is audited");

        let (_, other) = other_provider(&app).await;
        assert_eq!(
            app.graphql(Some(&other), CAPACITY, app.at_current_version(update(1, 10, "OPEN")).await).await.code(),
            Some("FORBIDDEN")
        );
        assert_eq!(
            app.graphql(Some(&t.link_worker), CAPACITY, app.at_current_version(update(1, 10, "OPEN")).await)
                .await
                .code(),
            Some("FORBIDDEN")
        );
        let too_many =
            app.graphql(Some(&t.provider), CAPACITY, app.at_current_version(update(11, 10, "OPEN")).await).await;
        assert_eq!((too_many.code(), too_many.field()), (Some("VALIDATION"), Some("maximum")));
        let negative =
            app.graphql(Some(&t.provider), CAPACITY, app.at_current_version(update(-1, 10, "OPEN")).await).await;
        assert_eq!((negative.code(), negative.field()), (Some("VALIDATION"), Some("available")));
        let ghost = json!({ "input": { "serviceId": uuid::Uuid::now_v7().to_string(), "available": 1, "maximum": 1, "status": "OPEN" } });
        assert_eq!(
            app.graphql(Some(&t.provider), CAPACITY, app.at_current_version(ghost).await).await.code(),
            Some("NOT_FOUND")
        );

        // Capacity last confirmed three weeks ago is stale until the provider confirms it again.
        let old = service_at(
            &app.store,
            &app.fixture,
            "Old News",
            &["learning"],
            CENTRE,
            "NG10 4AA",
            Some((6, "open", 21)),
            (None, None),
        )
        .await;
        let read = app.ok(&t.link_worker, SERVICE, json!({ "id": old })).await;
        assert_eq!(read["service"]["capacity"]["stale"], true);
        let confirmed = app
            .ok(
                &t.provider,
                CAPACITY,
                app.at_current_version(
                    json!({ "input": { "serviceId": old, "available": 6, "maximum": 20, "status": "OPEN" } }),
                )
                .await,
            )
            .await;
        assert_eq!(confirmed["updateServiceCapacity"]["service"]["capacity"]["stale"], false);
    }
);

async fn how_old_capacity_may_be_is_configurable(backend: Backend) {
    let policy = Policy { capacity_stale_after_days: 30, ..Policy::default() };
    let app = TestApp::spawn_with_policy(backend, ApiSettings::default(), policy).await;
    let (store, f) = (&app.store, &app.fixture);
    let three_weeks =
        service_at(store, f, "Three Weeks", &["learning"], CENTRE, "NG10 4AA", Some((1, "open", 21)), (None, None))
            .await;
    let six_weeks =
        service_at(store, f, "Six Weeks", &["learning"], CENTRE, "NG10 4AA", Some((1, "open", 42)), (None, None)).await;
    let stale = |id: String| {
        let app = &app;
        async move {
            app.ok(&app.tokens.link_worker, SERVICE, json!({ "id": id })).await["service"]["capacity"]["stale"].clone()
        }
    };
    assert_eq!(stale(three_weeks).await, false);
    assert_eq!(stale(six_weeks).await, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn how_old_capacity_may_be_is_configurable_on_sqlite() {
    how_old_capacity_may_be_is_configurable(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn how_old_capacity_may_be_is_configurable_on_postgres() {
    how_old_capacity_may_be_is_configurable(Backend::Postgres).await;
}

/// A contacted referral for the person with this NHS number, offered to a service: the offer's id.
async fn offer_to(app: &TestApp, service: &str, nhs: &str) -> String {
    let (store, f, now) = (&app.store, &app.fixture, Utc::now());
    let id = store.submit_referral(f.referral(nhs), None, &Fixture::actor(&f.gp), now).await.unwrap().referral.state.id;
    let lw = Fixture::actor(&f.link_worker);
    store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, now).await.unwrap();
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    let service = service.parse().unwrap();
    store.make_offer(OfferRequest::new(id, service, timers).at_version(2), &lw, now).await.unwrap().state.id.to_string()
}

const RESPOND: &str = "mutation($id: ID!, $v: Int!, $r: OfferResponse!) {
  respondToOffer(input: { offerId: $id, expectedVersion: $v, response: $r, declineReason: AT_CAPACITY }) { offer { version status } }
}";
const PROGRESS: &str = "mutation($id: ID!, $v: Int!, $u: OfferUpdate!) {
  updateOffer(input: { offerId: $id, expectedVersion: $v, update: $u }) { offer { version status } }
}";

on_both_databases!(
    accepting_an_offer_takes_a_place_and_finishing_or_ending_early_gives_it_back,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let walking = app.fixture.walking_group.id.to_string();
        let capacity = || {
            let (app, walking) = (&app, walking.clone());
            async move {
                app.ok(&app.tokens.link_worker, SERVICE, json!({ "id": walking })).await["service"]["capacity"].clone()
            }
        };
        let respond = |offer: String, version: u64, response: &'static str| {
            let app = &app;
            async move {
                let r =
                    app.ok(&app.tokens.provider, RESPOND, json!({ "id": offer, "v": version, "r": response })).await;
                r["respondToOffer"]["offer"]["version"].as_u64().unwrap()
            }
        };
        let progress = |offer: String, version: u64, update: &'static str| {
            let app = &app;
            async move {
                let r =
                    app.ok(&app.tokens.link_worker, PROGRESS, json!({ "id": offer, "v": version, "u": update })).await;
                r["updateOffer"]["offer"]["version"].as_u64().unwrap()
            }
        };
        let before = capacity().await;
        assert_eq!((&before["available"], &before["maximum"]), (&json!(5), &json!(20)));

        // Accepted, started, finished: one place taken, then given back.
        let first = offer_to(&app, &walking, "9434765900").await;
        let v = respond(first.clone(), 1, "ACCEPT").await;
        let after_accept = capacity().await;
        assert_eq!(after_accept["available"], 4);
        assert_eq!(
            after_accept["updatedAt"], before["updatedAt"],
            "only a person confirming the numbers refreshes them"
        );
        let v = progress(first.clone(), v, "START").await;
        assert_eq!(capacity().await["available"], 4);
        progress(first, v, "FINISH").await;
        assert_eq!(capacity().await["available"], 5);

        // Ended early gives the place back too.
        let second = offer_to(&app, &walking, "9434765919").await;
        let v = respond(second.clone(), 1, "ACCEPT").await;
        let v = progress(second.clone(), v, "START").await;
        assert_eq!(capacity().await["available"], 4);
        progress(second, v, "END_EARLY").await;
        assert_eq!(capacity().await["available"], 5);

        // A waiting list place taken up counts when accepted; a withdrawn acceptance frees it; declining
        // never took one.
        let third = offer_to(&app, &walking, "9434765927").await;
        let v = respond(third.clone(), 1, "WAITLIST").await;
        assert_eq!(capacity().await["available"], 5);
        let v = respond(third.clone(), v, "ACCEPT").await;
        assert_eq!(capacity().await["available"], 4);
        progress(third, v, "WITHDRAW").await;
        assert_eq!(capacity().await["available"], 5);
        let fourth = offer_to(&app, &walking, "9434765935").await;
        respond(fourth, 1, "DECLINE").await;
        assert_eq!(capacity().await["available"], 5);

        // Never below none, never above the maximum.
        let full = json!({ "input": { "serviceId": walking, "available": 0, "maximum": 20, "status": "WAITLIST" } });
        app.ok(&t.provider, CAPACITY, app.at_current_version(full).await).await;
        let fifth = offer_to(&app, &walking, "9434765943").await;
        let v = respond(fifth.clone(), 1, "ACCEPT").await;
        assert_eq!(capacity().await["available"], 0);
        let all_free = json!({ "input": { "serviceId": walking, "available": 20, "maximum": 20, "status": "OPEN" } });
        app.ok(&t.provider, CAPACITY, app.at_current_version(all_free).await).await;
        let v = progress(fifth.clone(), v, "START").await;
        progress(fifth, v, "FINISH").await;
        assert_eq!(capacity().await["available"], 20);
    }
);

on_both_databases!(find_services_ranks_by_need_distance_age_and_capacity_and_says_why, |app: TestApp| async move {
    let t = app.tokens.clone();
    let (store, f) = (&app.store, &app.fixture);
    let north = |km: f64| (CENTRE.0 + km * KM, CENTRE.1);
    let adults = (Some(18), None);
    service_at(store, f, "Befriending Circle", &["befriending"], north(1.0), "NG10 1AA", Some((8, "open", 1)), adults)
        .await;
    service_at(
        store,
        f,
        "Art Club",
        &["arts_and_culture"],
        north(-0.5),
        "NG10 1AB",
        Some((3, "open", 1)),
        (None, None),
    )
    .await;
    service_at(
        store,
        f,
        "Far Befrienders",
        &["befriending"],
        north(30.0),
        "DE1 1AA",
        Some((10, "open", 1)),
        (None, None),
    )
    .await;
    service_at(
        store,
        f,
        "Full Friends",
        &["befriending"],
        north(1.5),
        "NG10 1AD",
        Some((0, "closed", 1)),
        (None, None),
    )
    .await;
    service_at(
        store,
        f,
        "Stale Friends",
        &["befriending"],
        north(1.2),
        "NG10 1AE",
        Some((5, "open", 30)),
        (None, None),
    )
    .await;
    service_at(
        store,
        f,
        "Youth Befriending",
        &["befriending"],
        north(0.8),
        "NG10 1AF",
        Some((4, "open", 1)),
        (None, Some(25)),
    )
    .await;
    service_at(store, f, "Debt Advice", &["advice_debt"], north(0.3), "NG10 1AG", Some((2, "open", 1)), (None, None))
        .await;
    let at_centre = json!({ "latitude": CENTRE.0, "longitude": CENTRE.1 });

    // Loneliness, within 10 km, for a 70-year-old: the befriending circle fits best; the walking group
    // meets loneliness less directly (through nature and green); too far, too old and the wrong need are
    // left out; closed and stale capacity rank lowest.
    let found = app
        .ok(&t.link_worker, FIND, json!({ "needs": ["LONELINESS"], "near": at_centre, "radiusKm": 10, "age": 70 }))
        .await;
    assert_eq!(
        names(&found),
        ["Befriending Circle", "Long Eaton Walking Group", "Art Club", "Stale Friends", "Full Friends"]
    );
    let best = &found["findServices"][0];
    assert_eq!(
        best["reasons"],
        json!(["meets loneliness via befriending", "1.0 km away", "8 places free", "takes ages 18+"])
    );
    assert_eq!(
        (&best["needsMet"], &best["distanceKm"], &best["score"]),
        (&json!(["LONELINESS"]), &json!(1.0), &json!(0.925))
    );
    let reasons = |i: usize| found["findServices"][i]["reasons"].as_array().unwrap().clone();
    assert!(reasons(1).contains(&json!("meets loneliness via nature and green")), "{:?}", reasons(1));
    assert!(reasons(3).contains(&json!("capacity last confirmed 30 days ago")), "{:?}", reasons(3));
    assert!(reasons(4).contains(&json!("closed to new people")), "{:?}", reasons(4));

    // Only services with places free and confirmed recently.
    let open = app
        .ok(
            &t.link_worker,
            FIND,
            json!({ "needs": ["LONELINESS"], "near": at_centre, "radiusKm": 10, "age": 70, "only": true }),
        )
        .await;
    assert_eq!(names(&open), ["Befriending Circle", "Long Eaton Walking Group", "Art Club"]);

    // Without a radius, far services are ranked too; a younger person is offered the youth group; `first`
    // limits the list.
    let anywhere = app.ok(&t.link_worker, FIND, json!({ "needs": ["LONELINESS"], "near": at_centre, "age": 20 })).await;
    let far = anywhere["findServices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["service"]["name"] == "Far Befrienders")
        .unwrap();
    assert!(far["distanceKm"].as_f64().unwrap() > 29.0, "{far}");
    assert!(names(&anywhere).contains(&"Youth Befriending".to_owned()));
    let two = app.ok(&t.link_worker, FIND, json!({ "needs": ["LONELINESS"], "near": at_centre, "first": 2 })).await;
    assert_eq!(names(&two).len(), 2);

    // With no place given, distance plays no part and is not mentioned.
    let debt = app.ok(&t.link_worker, FIND, json!({ "needs": ["DEBT"] })).await;
    assert_eq!(names(&debt), ["Debt Advice"]);
    assert_eq!(debt["findServices"][0]["reasons"], json!(["meets debt via advice: debt", "2 places free"]));
    assert_eq!(debt["findServices"][0]["distanceKm"], Value::Null);

    // A postcode the directory knows is placed where its locations are; an unknown one in a known
    // district at the district's centre; one in an unknown district cannot be placed.
    let by_postcode = app
        .ok(
            &t.link_worker,
            FIND,
            json!({ "needs": ["LONELINESS"], "near": { "postcode": "ng101aa" }, "radiusKm": 0.25 }),
        )
        .await;
    assert_eq!(names(&by_postcode)[0], "Befriending Circle");
    assert!(by_postcode["findServices"][0]["reasons"].as_array().unwrap().contains(&json!("0.0 km away")));
    assert!(by_postcode["findServices"].as_array().unwrap().iter().all(|m| m["distanceKm"].as_f64().unwrap() <= 0.25));
    let district = app
        .ok(&t.link_worker, FIND, json!({ "needs": ["LONELINESS"], "near": { "postcode": "NG10 9ZZ" }, "radiusKm": 5 }))
        .await;
    assert!(!names(&district).is_empty());
    let unknown = app
        .graphql(Some(&t.link_worker), FIND, json!({ "needs": ["LONELINESS"], "near": { "postcode": "SW1A 1AA" } }))
        .await;
    assert_eq!((unknown.code(), unknown.field()), (Some("VALIDATION"), Some("near")));
    assert!(unknown.errors[0]["message"].as_str().unwrap().contains("cannot be located"), "{:?}", unknown.errors);

    // Inputs that make no sense are refused, naming the field.
    for (variables, field) in [
        (json!({ "needs": ["LONELINESS"], "near": { "postcode": "XYZ" } }), "postcode"),
        (json!({ "needs": ["LONELINESS"], "radiusKm": 5 }), "radiusKm"),
        (json!({ "needs": ["LONELINESS"], "near": at_centre, "radiusKm": -1 }), "radiusKm"),
        (
            json!({ "needs": ["LONELINESS"], "near": { "postcode": "NG10 1AA", "latitude": 52.9, "longitude": -1.2 } }),
            "near",
        ),
        (json!({ "needs": ["LONELINESS"], "near": { "latitude": 95.0, "longitude": 0.0 } }), "latitude"),
        (json!({ "needs": [] }), "needs"),
        (json!({ "needs": ["LONELINESS"], "age": 200 }), "age"),
    ] {
        let refused = app.graphql(Some(&t.link_worker), FIND, variables.clone()).await;
        assert_eq!((refused.code(), refused.field()), (Some("VALIDATION"), Some(field)), "{variables}");
    }
    assert_eq!(app.graphql(None, FIND, json!({ "needs": ["LONELINESS"] })).await.code(), Some("UNAUTHENTICATED"));
});

on_both_databases!(importing_an_oruk_page_twice_writes_it_once_and_duplicates_nothing, |app: TestApp| async move {
    let t = app.tokens.clone();
    let path = fixture_path("services-page.json");
    let first = app.store.import_oruk(&path, &fixture_records("services-page.json"), Utc::now()).await.unwrap().report;
    assert_eq!((first.created, first.updated, first.rejected, first.warned), (5, 0, 0, 0), "{first}");
    // The second time through the CLI's entry point, from the same file: nothing changed, nothing written.
    let second = import::import_oruk(&app.store, &path).await.unwrap().report;
    assert_eq!((second.created, second.updated, second.unchanged, second.rejected), (0, 0, 5, 0), "{second}");
    assert_eq!(
        app.store.oruk_services(&Default::default(), 1, 100).await.unwrap().total_items,
        5,
        "the fixture's service and the four active ones imported"
    );

    // Organisations are created once, or matched by name to a provider already there.
    let mut providers: Vec<String> = app
        .store
        .organisations()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.kind == trellis_domain::organisation::OrganisationKind::Provider)
        .map(|o| o.name)
        .collect();
    providers.sort();
    assert_eq!(providers, ["Erewash Voluntary Action", "Green Spring Network", "The Conservation Volunteers"]);

    let listed = app.ok(&t.link_worker, concat!("{ services { ", service_fields!(), " } }"), json!({})).await;
    let by_name = |name: &str| {
        listed["services"].as_array().unwrap().iter().find(|s| s["name"] == name).cloned().unwrap_or(Value::Null)
    };
    let cafe = by_name("Chatty Café");
    assert_eq!(cafe["taxonomy"], json!(["befriending"]), "a term named like one of Trellis's is Trellis's");
    assert_eq!(
        cafe["places"],
        json!([{ "name": "Ilkeston Library", "postcode": "DE7 5RN", "latitude": 52.9706, "longitude": -1.309 }])
    );
    assert_eq!(
        (&cafe["minAge"], &cafe["eligibility"], &cafe["schedule"]),
        (&json!(18), &json!("Adults"), &json!("Tuesdays 10:00 to 12:00"))
    );
    assert_eq!((&cafe["email"], &cafe["url"]), (&json!("cafe@eva.example"), &json!("https://eva.example/chatty-cafe")));
    assert_eq!(
        (&cafe["capacity"]["available"], &cafe["capacity"]["maximum"], &cafe["capacity"]["status"]),
        (&json!(6), &json!(12), &json!("open"))
    );
    let money = by_name("Money Matters");
    assert_eq!(money["taxonomy"], json!(["advice_benefits", "advice_debt"]));
    assert_eq!(money["capacity"]["status"], "waitlist");
    let shed = by_name("Kirk Hallam Men's Shed");
    assert_eq!((&shed["minAge"], &shed["schedule"]), (&json!(18), &json!("MO,TH 09:30 15:00")));
    assert_eq!(
        shed["places"],
        json!([{ "name": "The Shed", "postcode": "DE7 4HX", "latitude": null, "longitude": null }])
    );
    let art = by_name("Canal Art Club");
    assert_eq!(art["organisationId"], json!(app.fixture.provider.id.to_string()));
    assert_eq!((&art["taxonomy"], &art["capacity"]["status"]), (&json!(["arts_and_culture"]), &json!("open")));
    assert_eq!(by_name("Shipley Green Gym"), Value::Null, "temporarily closed is imported as inactive");
    let tcv = app.ok(&t.network_lead, "{ organisations { id name } }", json!({})).await;
    let tcv = tcv["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "The Conservation Volunteers")
        .unwrap()["id"]
        .clone();
    let gym = app
        .ok(
            &t.link_worker,
            "query($o: ID) { organisationServices(organisationId: $o) { status taxonomy } }",
            json!({ "o": tcv }),
        )
        .await;
    assert_eq!(
        gym["organisationServices"],
        json!([{ "status": "inactive", "taxonomy": ["nature_and_green", "tcv-conservation"] }])
    );

    // Imported services are matched like any other.
    let found = app
        .ok(&t.link_worker, FIND, json!({ "needs": ["LONELINESS"], "near": { "postcode": "DE7 5RN" }, "radiusKm": 2 }))
        .await;
    assert_eq!(names(&found)[0], "Chatty Café");
    assert!(
        found["findServices"][0]["reasons"].as_array().unwrap().contains(&json!("meets loneliness via befriending"))
    );
});

on_both_databases!(
    only_records_without_a_usable_id_or_name_are_rejected_and_the_rest_import_without_their_bad_parts,
    |app: TestApp| async move {
        let report = import::import_oruk(&app.store, &fixture_path("bad-records.json")).await.unwrap().report;
        assert_eq!((report.created, report.updated, report.warned, report.rejected), (4, 0, 3, 4), "{report}");
        let rejected: Vec<(&str, &str)> =
            report.rejections.iter().map(|r| (r.record.as_str(), r.reason.as_str())).collect();
        assert_eq!(
            rejected,
            [
                ("no-name", "has no usable name (name: none)"),
                ("#5", "has no usable id (id: none)"),
                ("#6", "is not a JSON object (\"not even an object\"), so it has no id or name"),
                ("108", "has no usable name (name: [\"not\",\"a\",\"name\"])"),
            ]
        );
        let warned: Vec<(&str, &str, &str)> =
            report.warnings.iter().map(|w| (w.record.as_str(), w.field.as_str(), w.value.as_str())).collect();
        assert_eq!(
            warned,
            [
                ("bad-postcode", "service_at_locations[0].location.postcode", "NOT A POSTCODE"),
                ("bad-email", "email", "nobody-at-example"),
                ("no-org", "organization", "null"),
            ]
        );
        let again = import::import_oruk(&app.store, &fixture_path("bad-records.json")).await.unwrap().report;
        assert_eq!((again.created, again.unchanged, again.rejected), (0, 4, 4), "{again}");
        let services = app.ok(&app.tokens.link_worker, "{ services { name places { name } email } }", json!({})).await;
        let services = services["services"].as_array().unwrap();
        for (name, places) in
            [("Sawley Walking Football", 0), ("Somewhere", 0), ("Email Trouble", 0), ("Orphan Service", 0)]
        {
            let s = services.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name} was imported"));
            assert_eq!(s["places"].as_array().unwrap().len(), places, "{name}");
        }
        let trouble = services.iter().find(|s| s["name"] == "Email Trouble").unwrap();
        assert_eq!(trouble["email"], Value::Null, "the bad email is left out");
    }
);
