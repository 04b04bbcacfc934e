//! The public Open Referral UK 3.0 API (`/oruk`) end to end, on SQLite and PostgreSQL: every endpoint's
//! answers validated against the profile's own JSON Schemas and OpenAPI by a third-party validator
//! (`tests/py/check_oruk.py`, PyPI `jsonschema`), the `/services` parameters and paging, refusals, what is
//! never served, and the round trip export → import into an empty database → export.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use crate::directory::import;

use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use trellis_api::{ApiSettings, AppState};
use trellis_domain::directory::ServiceStatus;
use trellis_domain::values::Postcode;
use trellis_store::Store;
use trellis_store::directory::{NewService, Place, ServiceDetails};
use trellis_store::testing::Fixture;
use trellis_tests::{Backend, TestApp, TestDb, on_both_databases, repo_root};

async fn get(base_url: &str, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base_url}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The body of a 200 answer.
async fn ok(base_url: &str, path: &str) -> Value {
    let (status, body) = get(base_url, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Every item of a listing, page by page, with each page as it was served.
async fn listing(base_url: &str, path: &str, per_page: u64) -> (Vec<Value>, Vec<Value>) {
    let (mut items, mut pages) = (vec![], vec![]);
    for page in 1.. {
        let body = ok(base_url, &format!("{path}?page={page}&per_page={per_page}")).await;
        items.extend(body["contents"].as_array().unwrap().iter().cloned());
        let last = body["last_page"] == true;
        pages.push(body);
        if last {
            break;
        }
    }
    (items, pages)
}

/// The services of a fixture page.
fn fixture_records(name: &str) -> Vec<Value> {
    let path = repo_root().join("tests/fixtures/oruk").join(name);
    let page: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    page["content"].as_array().unwrap().clone()
}

/// A service of the fixture's provider, at one place.
async fn add_service(
    store: &Store,
    f: &Fixture,
    name: &str,
    taxonomy: &[&str],
    ages: (Option<i32>, Option<i32>),
    status: ServiceStatus,
) -> String {
    let details = ServiceDetails {
        name: name.into(),
        description: format!("{name}, for the tests."),
        email: None,
        url: None,
        status,
        taxonomy: taxonomy.iter().map(|t| (*t).into()).collect(),
        min_age: ages.0,
        max_age: ages.1,
        eligibility: None,
        schedule: None,
        places: vec![Place {
            name: format!("{name} hall"),
            postcode: Postcode::parse("NG10 1AA").ok(),
            latitude: Some(52.9),
            longitude: Some(-1.28),
        }],
    };
    let new = NewService { organisation: f.provider.id, details, capacity: None };
    store.create_service(new, Utc::now()).await.unwrap().id.to_string()
}

/// What `check_oruk.py` says of `documents` (each `(endpoint, document)`).
fn third_party_validation(documents: &[(&str, Value)]) -> Value {
    let dir = std::env::temp_dir().join(format!("trellis-oruk-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("documents.json");
    let list: Vec<Value> = documents.iter().map(|(e, d)| json!({ "endpoint": e, "document": d })).collect();
    std::fs::write(&path, serde_json::to_vec(&list).unwrap()).unwrap();
    let root = repo_root();
    let out = std::process::Command::new(root.join("tests/py/.venv/bin/python"))
        .arg(root.join("tests/py/check_oruk.py"))
        .arg(root.join("tests/fixtures/oruk/3.0"))
        .arg(&path)
        .output()
        .expect("tests/py/.venv (scripts/ensure-prereqs)");
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

on_both_databases!(every_oruk_endpoint_answers_as_the_profiles_schemas_say, |app: TestApp| async move {
    let (store, f, base) = (&app.store, &app.fixture, app.base_url.as_str());
    // Some of everything: imported services (an outside vocabulary, an inactive one, addresses, ages,
    // capacity) and the fixture's walking group (email, schedule, eligibility, capacity).
    let records = fixture_records("services-page.json");
    let report = store.import_oruk("services-page.json", &records, Utc::now()).await.unwrap().report;
    assert_eq!(report.rejected, 0, "{report}");
    add_service(store, f, "Old Choir", &["arts_and_culture"], (None, None), ServiceStatus::Inactive).await;

    let mut documents: Vec<(&str, Value)> = vec![("root", ok(base, "/oruk/").await), ("root", ok(base, "/oruk").await)];
    let (services, pages) = listing(base, "/oruk/services", 2).await;
    assert_eq!(services.len(), 5, "the walking group and the four active imported services");
    documents.extend(pages.into_iter().map(|p| ("services", p)));
    for s in &services {
        documents.push(("service", ok(base, &format!("/oruk/services/{}", s["id"].as_str().unwrap())).await));
    }
    let (places, pages) = listing(base, "/oruk/service_at_locations", 3).await;
    assert_eq!(places.len(), 5, "one place each");
    documents.extend(pages.into_iter().map(|p| ("service_at_locations", p)));
    for p in &places {
        let one = ok(base, &format!("/oruk/service_at_locations/{}", p["id"].as_str().unwrap())).await;
        documents.push(("service_at_location", one));
    }
    let (taxonomies, pages) = listing(base, "/oruk/taxonomies", 1).await;
    documents.extend(pages.into_iter().map(|p| ("taxonomies", p)));
    for t in &taxonomies {
        documents.push(("taxonomy", ok(base, &format!("/oruk/taxonomies/{}", t["id"].as_str().unwrap())).await));
    }
    let (terms, pages) = listing(base, "/oruk/taxonomy_terms", 4).await;
    documents.extend(pages.into_iter().map(|p| ("taxonomy_terms", p)));
    for t in &terms {
        let one = ok(base, &format!("/oruk/taxonomy_terms/{}", t["id"].as_str().unwrap())).await;
        documents.push(("taxonomy_term", one));
    }

    // The documents hold every nested part the schemas describe, so validating them checks those parts.
    let all = Value::Array(documents.iter().map(|(_, d)| d.clone()).collect()).to_string();
    for part in ["\"location_type\"", "\"addresses\":[{", "\"schedules\":[{", "\"attributes\":[{", "\"contacts\":[{"] {
        assert!(all.contains(part), "no {part} was served");
    }
    let names: Vec<&str> = taxonomies.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tcv", "trellis"], "Trellis's own vocabulary and the imported one");

    // Two documents written the ways the issue found, which the validator must refuse: a location with
    // no type, and a page in ORUK 1's words.
    let mut untyped = documents.iter().find(|(e, _)| *e == "service").unwrap().1.clone();
    untyped["service_at_locations"][0]["location"].as_object_mut().unwrap().remove("location_type");
    let mut oruk_1 = documents.iter().find(|(e, _)| *e == "services").unwrap().1.clone();
    let page = oruk_1.as_object_mut().unwrap();
    let (contents, number) = (page.remove("contents").unwrap(), page.remove("page_number").unwrap());
    page.extend([("content".to_owned(), contents), ("number".to_owned(), number)]);
    let served = documents.len();
    documents.extend([("service", untyped), ("services", oruk_1)]);

    let verdict = third_party_validation(&documents);
    assert_eq!(verdict["checked"], json!(documents.len()), "{verdict}");
    let failed: Vec<u64> =
        verdict["failures"].as_array().unwrap().iter().map(|f| f["index"].as_u64().unwrap()).collect();
    assert_eq!(failed, [served as u64, served as u64 + 1], "only the two bad documents fail: {verdict:#}");
});

on_both_databases!(the_services_listing_pages_and_filters_as_the_profile_asks, |app: TestApp| async move {
    let (store, f, base) = (&app.store, &app.fixture, app.base_url.as_str());
    let art =
        add_service(store, f, "Art Club", &["arts_and_culture"], (Some(16), Some(25)), ServiceStatus::Active).await;
    let choir = add_service(store, f, "Choir", &["arts_and_culture"], (Some(65), None), ServiceStatus::Active).await;
    let allotment =
        add_service(store, f, "Allotment", &["nature_and_green"], (None, None), ServiceStatus::Active).await;
    let books = add_service(store, f, "Book Group", &["learning"], (Some(18), Some(99)), ServiceStatus::Active).await;
    let closed =
        add_service(store, f, "Closed Choir", &["arts_and_culture"], (Some(65), None), ServiceStatus::Inactive).await;
    let walking = f.walking_group.id.to_string();
    let ids = |page: &Value| -> Vec<String> {
        let mut ids: Vec<String> =
            page["contents"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<String>>()
    };

    // Paging, in the profile's words.
    let first = ok(base, "/oruk/services?per_page=2").await;
    let fields = ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty"];
    let paging = |p: &Value| fields.map(|k| p[k].clone());
    assert_eq!(paging(&first), [json!(5), json!(3), json!(1), json!(2), json!(true), json!(false), json!(false)]);
    let last = ok(base, "/oruk/services?page=3&per_page=2").await;
    assert_eq!(paging(&last), [json!(5), json!(3), json!(3), json!(1), json!(false), json!(true), json!(false)]);
    let beyond = ok(base, "/oruk/services?page=4&per_page=2").await;
    assert_eq!((&beyond["empty"], &beyond["size"], &beyond["contents"]), (&json!(true), &json!(0), &json!([])));
    let everything = ok(base, "/oruk/services").await;
    assert_eq!(ids(&everything), sorted(vec![&art, &choir, &allotment, &books, &walking]), "not the inactive one");
    let in_order: Vec<&str> =
        everything["contents"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(in_order.is_sorted(), "services come in id order, so pages are stable");

    // Each parameter narrows the list as the profile describes it.
    let terms = listing(base, "/oruk/taxonomy_terms", 50).await.0;
    let term = |code: &str| terms.iter().find(|t| t["code"] == code).unwrap()["id"].as_str().unwrap().to_owned();
    let trellis = ok(base, "/oruk/taxonomies").await["contents"][0]["id"].as_str().unwrap().to_owned();
    for (query, expected) in [
        ("search=CHOIR".to_owned(), vec![&choir]),
        ("search=art%20club,%20for".to_owned(), vec![&art]),
        ("search=%25".to_owned(), vec![]),
        (format!("taxonomy_term_id={}", term("arts_and_culture")), vec![&art, &choir]),
        (format!("taxonomy_term_id={}", term("nature_and_green")), vec![&allotment, &walking]),
        (format!("taxonomy_id={trellis}"), vec![&art, &choir, &allotment, &books, &walking]),
        (format!("taxonomy_id={}", uuid::Uuid::now_v7()), vec![]),
        (format!("taxonomy_term_id={}", uuid::Uuid::now_v7()), vec![]),
        ("minimum_age=18".to_owned(), vec![&choir, &books, &walking]),
        ("minimum_age=17.5".to_owned(), vec![&choir, &books, &walking]),
        ("minimum_age=0".to_owned(), vec![&art, &choir, &allotment, &books, &walking]),
        ("maximum_age=30".to_owned(), vec![&art]),
        ("maximum_age=99".to_owned(), vec![&art, &books]),
        (format!("minimum_age=18&taxonomy_term_id={}", term("arts_and_culture")), vec![&choir]),
        ("search=choir&page=2&per_page=1".to_owned(), vec![]),
    ] {
        let page = ok(base, &format!("/oruk/services?{query}")).await;
        assert_eq!(ids(&page), sorted(expected.clone()), "{query}");
        if !query.contains("page=") {
            assert_eq!(page["total_items"], json!(expected.len()), "{query}");
        }
    }
    let at_choir = ok(base, "/oruk/service_at_locations?search=choir").await;
    let served: Vec<&Value> = at_choir["contents"].as_array().unwrap().iter().map(|p| &p["service_id"]).collect();
    assert_eq!(served, [&json!(choir)], "services at locations take the same parameters");

    // What is not served, and what cannot be asked, is said plainly.
    let place_of_closed = place_of(store, &closed).await;
    for (path, expected) in [
        (format!("/oruk/services/{closed}"), 404),
        (format!("/oruk/services/{}", uuid::Uuid::now_v7()), 404),
        ("/oruk/services/not-an-id".into(), 404),
        (format!("/oruk/service_at_locations/{place_of_closed}"), 404),
        (format!("/oruk/service_at_locations/{}", uuid::Uuid::now_v7()), 404),
        ("/oruk/service_at_locations/x".into(), 404),
        (format!("/oruk/taxonomies/{}", uuid::Uuid::now_v7()), 404),
        ("/oruk/taxonomies/trellis".into(), 404),
        (format!("/oruk/taxonomy_terms/{}", uuid::Uuid::now_v7()), 404),
        ("/oruk/services?per_page=0".into(), 400),
        ("/oruk/services?per_page=100000".into(), 400),
        ("/oruk/services?page=abc".into(), 400),
        ("/oruk/services?page=0".into(), 400),
        ("/oruk/services?minimum_age=-1".into(), 400),
        ("/oruk/services?maximum_age=old".into(), 400),
        ("/oruk/services?taxonomy_term_id=arts_and_culture".into(), 400),
        ("/oruk/services?taxonomy_id=1".into(), 400),
        ("/oruk/services?day=MO".into(), 400),
        ("/oruk/service_at_locations?postcode=NG10%201AA".into(), 400),
        ("/oruk/taxonomies?per_page=abc".into(), 400),
        ("/oruk/taxonomy_terms?page=-2".into(), 400),
    ] {
        let (status, body) = get(base, &path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
        if expected == 400 {
            let named = path.split(['?', '=']).nth(1).unwrap();
            assert!(body["error"].as_str().unwrap().starts_with(named), "{path}: {body}");
        }
    }
    let all_places = listing(base, "/oruk/service_at_locations", 50).await.0;
    assert!(all_places.iter().all(|p| p["service_id"] != json!(closed)), "the inactive service's place is not served");
    let root = ok(base, "/oruk/").await;
    assert_eq!(root["version"], "3.0");

    // Nothing about people, whatever is asked.
    store.submit_referral(f.referral("9434765951"), None, &Fixture::actor(&f.gp), Utc::now()).await.unwrap();
    let mut text = String::new();
    for path in ["/oruk/services", "/oruk/service_at_locations", "/oruk/taxonomies", "/oruk/taxonomy_terms"] {
        text += &ok(base, path).await.to_string();
    }
    text += &ok(base, &format!("/oruk/services/{walking}")).await.to_string();
    for private in ["Margaret", "Hughes", "9434765951", "margaret.hughes", "Widowed"] {
        assert!(!text.contains(private), "the public directory must not mention {private}");
    }
    let response = reqwest::get(format!("{base}/oruk/services")).await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*", "readable from other sites");
});

/// The id of the (only) place a service is at, read from the database: the API serves no such thing for
/// an inactive service.
async fn place_of(store: &Store, service: &str) -> String {
    let backend = store.backend();
    let sql = if backend == sea_orm::DatabaseBackend::Postgres {
        "SELECT id FROM service_at_locations WHERE service_id = $1"
    } else {
        "SELECT id FROM service_at_locations WHERE service_id = ?"
    };
    let id: uuid::Uuid = service.parse().unwrap();
    let row = store
        .connection()
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
        .await
        .unwrap()
        .expect("a place");
    row.try_get_by_index::<uuid::Uuid>(0).unwrap().to_string()
}

/// Every service `base_url` serves, and every service at a location.
async fn export_of(base_url: &str) -> (Vec<Value>, Vec<Value>) {
    (listing(base_url, "/oruk/services", 2).await.0, listing(base_url, "/oruk/service_at_locations", 2).await.0)
}

on_both_databases!(
    exporting_and_importing_into_an_empty_database_reproduces_the_directory,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        // A directory with some of everything: an imported external vocabulary, several places, no
        // capacity, an inactive service, ages, a web page.
        app.store.import_oruk("services-page.json", &fixture_records("services-page.json"), Utc::now()).await.unwrap();
        app.ok(
            &t.provider,
            "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } } }",
            json!({ "input": {
                "name": "Two Parks Walk", "description": "Alternating parks.", "url": "https://greenspring.example/two",
                "taxonomy": ["physical_activity"], "minAge": 16, "maxAge": 90,
                "locations": [
                    { "name": "West Park", "postcode": "NG10 4AA", "latitude": 52.8987, "longitude": -1.2832 },
                    { "name": "Trent Lock", "postcode": "NG10 2FY", "latitude": 52.877, "longitude": -1.259 }
                ]
            } }),
        )
        .await;
        let exported = export_of(&app.base_url).await;
        assert_eq!(exported.0.len(), 6, "every active service");

        // Into an empty database, through the CLI's entry point following the pages by URL.
        let backend =
            if app.store.backend() == sea_orm::DatabaseBackend::Postgres { Backend::Postgres } else { Backend::Sqlite };
        let (_db, empty) = TestDb::migrated(backend).await;
        let source = format!("{}/oruk/services?per_page=2", app.base_url);
        let report = import::import_oruk(&empty, &source).await.unwrap().report;
        assert_eq!((report.created, report.updated, report.rejected, report.warned), (6, 0, 0, 0), "{report}");

        // Served from there, the directory is the same document: services, organisations, taxonomy,
        // locations, addresses, schedules, contacts and capacity, with the same ids.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let copy_url = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(empty.clone(), ApiSettings::default());
        tokio::spawn(trellis_api::serve(listener, state, std::future::pending()));
        let copied = export_of(&copy_url).await;
        assert_eq!(copied, exported);

        // Importing again changes nothing and duplicates nothing.
        let again = import::import_oruk(&empty, &source).await.unwrap().report;
        assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 6), "{again}");
        assert_eq!(export_of(&copy_url).await, exported);
    }
);
