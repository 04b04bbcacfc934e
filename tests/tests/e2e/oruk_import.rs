//! Open Referral UK imports that keep what is good in an imperfect feed, their kept reports, and feeds
//! kept in sync, on SQLite and PostgreSQL: the ORUK 3.0 profile's own example, and a real feed served
//! on 127.0.0.1 (pages, `ETag` / `Last-Modified`, a slow page, a huge page, a page that is not JSON).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use trellis_domain::directory::ServiceStatus;
use trellis_domain::referral::ReferralCommand;
use trellis_domain::{Role, ServiceId};
use trellis_store::Store;
use trellis_store::audit::AuditFilter;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::oruk::{FeedValidators, RunOutcome};
use trellis_tests::console::sign_in_path;
use trellis_tests::{Fixture, TestApp, on_both_databases, run_node, screenshot_dir};

use crate::directory::{fixture_path, import};

/// The profile's example service's id.
const EXAMPLE: &str = "ac148810-d857-441c-9679-408f346de14b";

const RUNS: &str = "{ importRuns(first: 10) { edges { node {
    source outcome error pages created updated unchanged warned rejected deactivated
    warnings { record field value reason } rejections { record reason }
} } } }";

on_both_databases!(
    the_profiles_example_imports_as_one_service_with_its_bad_location_left_out_and_named,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let run = import::import_oruk(&app.store, &fixture_path("example_service_full.json")).await.unwrap();
        let r = &run.report;
        assert_eq!((run.outcome, r.created, r.warned, r.rejected), (RunOutcome::Imported, 1, 1, 0), "{r}");
        let warned: Vec<(&str, &str, &str)> =
            r.warnings.iter().map(|w| (w.record.as_str(), w.field.as_str(), w.value.as_str())).collect();
        assert_eq!(
            warned,
            [
                (EXAMPLE, "service_at_locations[0].location.addresses[0].postal_code", "ABC 1234"),
                (EXAMPLE, "service_at_locations[0].location.latitude", "100"),
            ]
        );
        assert!(r.warnings.iter().all(|w| w.reason.ends_with("the location is left out")), "{r}");

        // The service, with its organisation, taxonomy, ages and schedule, under its own id; no place.
        let found = app
            .ok(
                &t.link_worker,
                "query($id: ID!) { service(id: $id) { id name organisationId status taxonomy minAge maxAge schedule places { name } } }",
                json!({ "id": EXAMPLE }),
            )
            .await;
        let s = &found["service"];
        assert_eq!((&s["name"], &s["status"]), (&json!("Community Counselling"), &json!("active")));
        assert_eq!((&s["minAge"], &s["maxAge"], &s["places"]), (&json!(12), &json!(100), &json!([])));
        assert_eq!(s["taxonomy"], json!(["name"]));
        assert!(s["schedule"].as_str().unwrap().starts_with("The service is available from 10 am to 6pm weekdays"));
        let orgs = app.ok(&t.network_lead, "{ organisations { id name } }", json!({})).await;
        let org = orgs["organisations"].as_array().unwrap().iter().find(|o| o["id"] == s["organisationId"]).unwrap();
        assert_eq!(org["name"], "Example Organization Inc.");

        // The run's report, for the network lead; the run audited as the system.
        let runs = app.ok(&t.network_lead, RUNS, json!({})).await;
        let node = &runs["importRuns"]["edges"][0]["node"];
        assert_eq!(
            (&node["outcome"], &node["created"], &node["warned"], &node["rejected"], &node["pages"]),
            (&json!("IMPORTED"), &json!(1), &json!(1), &json!(0), &json!(1))
        );
        assert_eq!(node["warnings"][1]["field"], "service_at_locations[0].location.latitude");
        assert_eq!(node["warnings"][1]["value"], "100");
        assert!(node["source"].as_str().unwrap().ends_with("example_service_full.json"));
        let refused = app.graphql(Some(&t.link_worker), RUNS, json!({})).await;
        assert_eq!(refused.code(), Some("FORBIDDEN"));
        let audit = app.store.audit_log(&AuditFilter { limit: 50, ..Default::default() }).await.unwrap();
        let entry = audit.iter().find(|e| e.action == "directory.imported").expect("the run is audited");
        assert_eq!(entry.actor.role, Role::System);
        let detail: Value = serde_json::from_str(entry.detail.as_deref().unwrap()).unwrap();
        assert_eq!((&detail["run"], &detail["created"]), (&json!(run.id), &json!(1)));
    }
);

// ---------------------------------------------------------------------------------------------------------
// A feed served on 127.0.0.1.

/// A directory's ORUK 3.0 feed: its pages, an `ETag` and `Last-Modified` that move when they change,
/// and endpoints that misbehave. Remembers the `If-None-Match` of each first-page request.
#[derive(Clone, Default)]
struct Feed {
    pages: Arc<Mutex<(u32, Vec<Vec<Value>>)>>,
    asked_if_none_match: Arc<Mutex<Vec<Option<String>>>>,
}

impl Feed {
    /// Serves `pages` at `/services`; returns the feed and its base address.
    async fn serve(pages: Vec<Vec<Value>>) -> (Feed, String) {
        let feed = Feed::default();
        feed.set(pages);
        let app = axum::Router::new()
            .route("/services", get(services))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    axum::Json(json!({ "contents": [] }))
                }),
            )
            .route("/huge", get(|| async { format!("{{\"contents\": [\"{}\"]}}", "x".repeat(10 * 1024 * 1024)) }))
            .route("/not-json", get(|| async { "<html><body>Service unavailable</body></html>" }))
            .route("/wrong-types", get(|| async { axum::Json(json!({ "contents": { "id": "a", "name": "b" } })) }))
            .route("/breaks-on-page-2", get(breaks_on_page_two))
            .with_state(feed.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (feed, url)
    }

    /// Changes the pages, and so the validators.
    fn set(&self, pages: Vec<Vec<Value>>) {
        let mut p = self.pages.lock().unwrap();
        *p = (p.0 + 1, pages);
    }
}

/// An ORUK 3.0 page.
fn page(number: usize, pages: &[Vec<Value>]) -> Value {
    json!({
        "total_items": pages.iter().map(Vec::len).sum::<usize>(), "total_pages": pages.len(),
        "page_number": number, "size": 2, "first_page": number == 1, "last_page": number == pages.len(),
        "empty": false, "contents": pages[number - 1],
    })
}

async fn services(State(feed): State<Feed>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    let number: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let (version, pages) = feed.pages.lock().unwrap().clone();
    let etag = format!("\"v{version}\"");
    let last_modified = format!("Wed, {:02} Nov 2026 10:00:00 GMT", 10 + version);
    if number == 1 {
        let asked = headers.get(header::IF_NONE_MATCH).map(|v| v.to_str().unwrap().to_owned());
        feed.asked_if_none_match.lock().unwrap().push(asked.clone());
        if asked.as_deref() == Some(etag.as_str()) {
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    let headers = [(header::ETAG, etag), (header::LAST_MODIFIED, last_modified)];
    (headers, axum::Json(page(number, &pages))).into_response()
}

async fn breaks_on_page_two(Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("page").map(String::as_str) {
        None | Some("1") => {
            let body = page(1, &[vec![feed_service("first", "First")], vec![]]);
            ([(header::ETAG, "\"broken\"")], axum::Json(body)).into_response()
        }
        _ => "{\"contents\": [".into_response(),
    }
}

/// The address of a server that answers one request with a 10 MB page in 64 KB chunks
/// (`Transfer-Encoding: chunked`, so no `Content-Length` to refuse it by).
async fn chunked_huge_page() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/services", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..160 {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if socket.write_all(&framed).await.is_err() {
                return; // the importer stopped reading at its limit
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    url
}

/// A service as an ORUK 3.0 feed gives it.
fn feed_service(id: &str, name: &str) -> Value {
    json!({
        "id": id, "name": name, "status": "active", "description": "From the feed.", "email": "hello@feed.example",
        "organization": { "id": "org-feed", "name": "Feed Organisation" },
        "schedules": [{ "description": "Mondays" }],
        "attributes": [{ "taxonomy_term": { "code": "befriending", "name": "Befriending" } }],
        "service_at_locations": [{ "id": format!("sal-{id}"), "location": {
            "id": format!("loc-{id}"), "name": "Hall", "latitude": 52.97, "longitude": -1.31,
            "addresses": [{ "address_1": "1 High St", "postal_code": "DE7 5RN" }]
        } }]
    })
}

async fn service_named(store: &Store, name: &str) -> ServiceId {
    let org = store.organisations().await.unwrap().into_iter().find(|o| o.name == "Feed Organisation").unwrap();
    store.services_of(org.id).await.unwrap().into_iter().find(|s| s.name == name).unwrap().id
}

on_both_databases!(
    a_feed_is_read_page_by_page_asked_conditionally_and_services_gone_from_it_are_marked_inactive_not_deleted,
    |app: TestApp| async move {
        let (feed, base) = Feed::serve(vec![
            vec![feed_service("a", "Service A"), feed_service("b", "Service B")],
            vec![feed_service("c", "Service C")],
        ])
        .await;
        // Credentials in the address are used, but kept out of the report network leads read.
        let url = format!("{}/services?per_page=2&api_key=k3y", base.replace("http://", "http://reader:s3cret@"));

        let first = import::import_oruk(&app.store, &url).await.unwrap();
        let r = &first.report;
        assert_eq!((first.outcome, first.pages, r.created, r.warned, r.rejected), (RunOutcome::Imported, 2, 3, 0, 0));
        assert!(!first.source.contains("s3cret") && !first.source.contains("k3y"), "{}", first.source);
        assert_eq!(
            app.store.feed_validators(&first.source).await.unwrap(),
            FeedValidators { etag: Some("\"v1\"".into()), last_modified: Some("Wed, 11 Nov 2026 10:00:00 GMT".into()) }
        );

        // Nothing changed: the first page answers 304 and the run says so.
        let second = import::import_oruk(&app.store, &url).await.unwrap();
        assert_eq!(
            (second.outcome, second.pages, second.report.created + second.report.unchanged),
            (RunOutcome::NotModified, 0, 0)
        );
        assert_eq!(*feed.asked_if_none_match.lock().unwrap(), [None, Some("\"v1\"".into())]);

        // Service B has an offer; then B leaves the feed and A changes.
        let b = service_named(&app.store, "Service B").await;
        let f = &app.fixture;
        let lw = Fixture::actor(&f.link_worker);
        let submitted = app
            .store
            .submit_referral(f.referral("9434765919"), None, &Fixture::actor(&f.gp), Utc::now())
            .await
            .unwrap();
        let referral = submitted.referral.state.id;
        app.store
            .transition_referral(referral, 1, ReferralCommand::RecordContact { note: None }, &lw, Utc::now())
            .await
            .unwrap();
        let timers = OfferTimers { expires_at: Utc::now() + TimeDelta::days(14), remind_at: None };
        let offer =
            app.store.make_offer(OfferRequest::new(referral, b, timers), &lw, Utc::now()).await.unwrap().state.id;
        feed.set(vec![vec![feed_service("a", "Service A, renamed"), feed_service("c", "Service C")]]);

        let third = import::import_oruk(&app.store, &url).await.unwrap();
        let r = &third.report;
        assert_eq!((r.created, r.updated, r.unchanged, r.deactivated), (0, 1, 1, 1), "{r}");
        let gone = app.store.service(b).await.unwrap();
        assert_eq!((gone.name.as_str(), gone.status), ("Service B", ServiceStatus::Inactive));
        assert_eq!(app.store.offer(&lw, offer).await.unwrap().state.service, b, "its offer stays");
        let audit = app.store.audit_log(&AuditFilter { limit: 100, ..Default::default() }).await.unwrap();
        let deactivated: Vec<_> = audit.iter().filter(|e| e.action == "service.deactivated").collect();
        assert_eq!(deactivated.len(), 1);
        assert_eq!(deactivated[0].actor.role, Role::System);
        assert!(deactivated[0].detail.as_deref().unwrap().contains(&b.to_string()));

        // B comes back: listed again.
        feed.set(vec![vec![
            feed_service("a", "Service A, renamed"),
            feed_service("b", "Service B"),
            feed_service("c", "Service C"),
        ]]);
        let fourth = import::import_oruk(&app.store, &url).await.unwrap();
        let r = &fourth.report;
        assert_eq!((r.created, r.updated, r.unchanged, r.deactivated), (0, 1, 2, 0), "{r}");
        assert_eq!(app.store.service(b).await.unwrap().status, ServiceStatus::Active);

        // Every run is kept, newest first, for the network lead.
        let runs = app.ok(&app.tokens.network_lead, RUNS, json!({})).await;
        let outcomes: Vec<(&Value, &Value)> = runs["importRuns"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (&e["node"]["outcome"], &e["node"]["deactivated"]))
            .collect();
        assert_eq!(
            outcomes,
            [
                (&json!("IMPORTED"), &json!(0)),
                (&json!("IMPORTED"), &json!(1)),
                (&json!("NOT_MODIFIED"), &json!(0)),
                (&json!("IMPORTED"), &json!(0))
            ]
        );
    }
);

on_both_databases!(
    a_feed_that_is_not_json_too_large_too_slow_or_misshapen_fails_with_a_clear_reason_and_half_writes_nothing,
    |app: TestApp| async move {
        let (_feed, base) = Feed::serve(vec![vec![]]).await;
        let before = app.store.services().await.unwrap().len();
        let limits = import::FetchLimits {
            read_timeout: Duration::from_secs(1),
            page_timeout: Duration::from_secs(2),
            ..import::FetchLimits::default()
        };
        for (path, reason) in [
            ("/not-json", "page 1: is not JSON: expected value at line 1 column 1"),
            ("/huge", "page 1: is larger than the limit of 5242880 bytes"),
            ("/slow", "page 1: the feed did not answer in time"),
            ("/wrong-types", "page 1: has `contents` that is not a list but an object"),
            ("/nowhere", "page 1: the feed answered HTTP 404 Not Found"),
        ] {
            let run = import::import_oruk_with(&app.store, &format!("{base}{path}"), &limits).await.unwrap();
            assert_eq!(run.outcome, RunOutcome::Failed, "{path}");
            let error = run.error.unwrap();
            assert!(error.starts_with(reason), "{path}: {error}");
            assert_eq!((run.report.created, run.report.rejected), (0, 0), "{path}");
        }
        // A huge page sent in chunks, with no length announced, is cut off at the limit as it arrives.
        let chunked = chunked_huge_page().await;
        let run = import::import_oruk_with(&app.store, &chunked, &limits).await.unwrap();
        assert_eq!(run.error.as_deref(), Some("page 1: is larger than the limit of 5242880 bytes"));
        assert_eq!(app.store.services().await.unwrap().len(), before, "nothing written");

        // A feed that breaks on its second page: the first page's record is imported whole, but the feed
        // was not read to its end, so nothing is marked inactive and its validators are not kept.
        let url = format!("{base}/breaks-on-page-2");
        let run = import::import_oruk_with(&app.store, &url, &limits).await.unwrap();
        assert_eq!((run.outcome, run.report.created, run.report.deactivated), (RunOutcome::Failed, 1, 0));
        assert!(run.error.as_deref().unwrap().starts_with("page 2: is not JSON"), "{:?}", run.error);
        assert_eq!(app.store.feed_validators(&run.source).await.unwrap(), FeedValidators::default());
        let first = app.store.service(service_named(&app.store, "First").await).await.unwrap();
        assert_eq!((first.places.len(), first.taxonomy.as_slice()), (1, ["befriending".to_owned()].as_slice()));

        // An unreadable file is a failed run too, with its reason.
        let run = import::import_oruk(&app.store, "/nonexistent/services.json").await.unwrap();
        assert_eq!(run.outcome, RunOutcome::Failed);
        assert!(run.error.unwrap().starts_with("cannot read the file"));

        let runs = app.ok(&app.tokens.network_lead, RUNS, json!({})).await;
        let errors: Vec<&str> = runs["importRuns"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["outcome"] == "FAILED")
            .map(|e| e["node"]["error"].as_str().unwrap())
            .collect();
        assert_eq!(errors.len(), 8, "{errors:?}");
    }
);

on_both_databases!(keeping_a_feed_in_sync_reads_it_again_at_each_interval_until_stopped, |app: TestApp| async move {
    let (_feed, base) = Feed::serve(vec![vec![feed_service("a", "Service A")]]).await;
    let every = import::parse_every("1s").unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sync = tokio::spawn(import::keep_in_sync(
        app.store.clone(),
        vec![format!("{base}/services")],
        every,
        import::FetchLimits::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut runs = vec![];
    for _ in 0..300 {
        runs = app.store.import_runs(None, 10).await.unwrap();
        if runs.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(()).unwrap();
    sync.await.unwrap();
    let outcomes: Vec<RunOutcome> = runs.iter().rev().take(2).map(|r| r.outcome).collect();
    assert_eq!(outcomes, [RunOutcome::Imported, RunOutcome::NotModified]);
});

#[test]
fn a_sync_interval_is_read_from_a_number_and_a_unit() {
    assert_eq!(import::parse_every("6h"), Ok(Duration::from_secs(6 * 3600)));
    assert_eq!(import::parse_every("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(import::parse_every("1d"), Ok(Duration::from_secs(86_400)));
    for bad in ["6", "h", "6x", "0h", "-1h", "99999999999999999999d"] {
        assert!(import::parse_every(bad).is_err(), "{bad}");
    }
}

on_both_databases!(
    the_import_reports_page_shows_each_run_with_its_warnings_to_the_network_lead_only_and_passes_axe_wcag_22_aa,
    |app: TestApp| async move {
        let f = &app.fixture;
        import::import_oruk(&app.store, &fixture_path("bad-records.json")).await.unwrap();
        import::import_oruk(&app.store, &fixture_path("example_service_full.json")).await.unwrap();
        import::import_oruk(&app.store, "/nonexistent/services.json").await.unwrap();
        let lead = sign_in_path(&app, f.network_lead.id).await;
        let gp = sign_in_path(&app, f.gp.id).await;
        let backend = match app.store.backend() {
            sea_orm::DatabaseBackend::Postgres => "postgres",
            _ => "sqlite",
        };
        let dir = screenshot_dir("console-imports", backend);
        let args = [app.base_url.clone(), lead, gp, dir.to_str().unwrap().to_owned()];
        let output = tokio::task::spawn_blocking(move || {
            run_node("console-imports.mjs", &args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .expect("node");
        let report: Value = serde_json::from_str(output.trim().lines().last().unwrap()).expect(&output);
        assert_eq!(report["violations"], json!([]), "axe-core found violations: {report:#}");
        assert_eq!(report["gpRefused"], true, "{report:#}");
        let runs: Vec<&str> = report["runs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert!(runs[0].ends_with("Failed") && runs[1].ends_with("Imported"), "{runs:?}");
        assert!(report["failures"][0].as_str().unwrap().starts_with("cannot read the file"), "{report:#}");
        let warnings = report["warnings"].to_string();
        for shown in ["ABC 1234", "service_at_locations[0].location.latitude", "nobody-at-example"] {
            assert!(warnings.contains(shown), "{shown} in {warnings}");
        }
        assert!(report["rejections"].to_string().contains("has no usable id"), "{report:#}");
    }
);
