//! The periodic capacity check, end to end on SQLite and PostgreSQL: the durable timer queues one email
//! per due service and never two (across passes and across workers), the email reaches a real SMTP
//! server (maildev) with a link that works, and the capacity page behind the link changes nothing when
//! opened, refuses forged and impossible updates, saves real ones (with their time and an audit entry),
//! and shows the offer page's one "not valid" page for every link that cannot be used. The last test
//! drives the page in headless Chromium from the email as received.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use trellis_domain::ServiceId;
use trellis_domain::directory::{CapacityStatus, ServiceStatus};
use trellis_notifier::{Worker, WorkerSettings};
use trellis_store::audit::AuditFilter;
use trellis_store::capacity_checks::{CapacityProblem, CapacityUpdate, CapacityUpdateError, CurrentCapacity};
use trellis_store::directory::ServiceChanges;
use trellis_store::links::LinkError;
use trellis_store::links::LinkScope;
use trellis_store::outbox::{DeliveryStatus, JobKind, OutboxJob};
use trellis_store::testing;
use trellis_store::{DatabaseSettings, Store};
use trellis_tests::link_pages::{LinkPages, Page, client, get, same_origin};
use trellis_tests::maildev::MailDev;
use trellis_tests::{
    Backend, Fixture, TestApp, TestDb, init_test_logging, on_both_backends, on_both_databases, run_node, screenshot_dir,
};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
/// The capacity page behind each link, through a browser-like HTTP client.
const CAPACITY_PAGE: LinkPages = LinkPages("/capacity");
const EVERY: TimeDelta = TimeDelta::days(28);

/// Two instants the database stores as the same (PostgreSQL keeps microseconds).
fn same_instant(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> bool {
    a.is_some_and(|a| (a - b).abs() < TimeDelta::milliseconds(1))
}

/// Another service of the fixture's provider, under one taxonomy term, with no address of its own and no
/// capacity recorded.
async fn plain_service(
    store: &Store,
    f: &Fixture,
    name: &str,
    description: &str,
    term: &str,
    now: DateTime<Utc>,
) -> ServiceId {
    store.create_service(testing::plain_service(f.provider.id, name, description, term), now).await.expect(name).id
}

// ---------------------------------------------------------------------------------------------------------
// The timer.

async fn the_timer_queues_one_check_per_due_service_and_none_twice(backend: Backend) {
    init_test_logging();
    let (db, store) = TestDb::migrated(backend).await;
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let walking = f.walking_group.id;
    let allotment = plain_service(
        &store,
        &f,
        "Green Spring Allotment",
        "Growing vegetables together on Tuesdays.",
        "nature_and_green",
        now,
    )
    .await;
    // A service taken out of the directory is never asked.
    let choir = plain_service(&store, &f, "Community Choir", "Singing for everyone.", "arts_and_culture", now).await;
    let lead = Fixture::actor(&f.network_lead);
    let retire = ServiceChanges { status: Some(ServiceStatus::Inactive), ..Default::default() };
    let version = store.service(choir).await.expect("choir").version;
    store.update_service(&lead, choir, version, retire, now).await.expect("retire the choir");

    // New services are first asked `every` after they were created.
    assert_eq!(store.queue_due_capacity_checks(now, EVERY, 100).await.expect("queue"), 0);
    let first_due = store.next_capacity_check(walking).await.expect("timer").expect("scheduled");
    assert!(first_due > now + TimeDelta::days(27) && first_due <= now + EVERY, "{first_due}");
    assert!(store.next_capacity_check(allotment).await.expect("timer").is_some());
    assert_eq!(store.next_capacity_check(choir).await.expect("timer"), None, "an inactive service is not scheduled");
    assert_eq!(store.queue_due_capacity_checks(now + TimeDelta::days(27), EVERY, 100).await.expect("queue"), 0);

    // Due: two workers, each with its own connection pool as two processes would have, run at once.
    let other = Store::connect(&DatabaseSettings { url: db.url.clone(), max_connections: 4 }).await.expect("store");
    let due = now + TimeDelta::days(29);
    let (a, b) = tokio::join!(
        store.queue_due_capacity_checks(due, EVERY, 100),
        other.queue_due_capacity_checks(due, EVERY, 100)
    );
    assert_eq!(a.expect("worker a") + b.expect("worker b"), 2, "one check for each due service, between them");
    let (a, b) = tokio::join!(
        store.queue_due_capacity_checks(due, EVERY, 100),
        other.queue_due_capacity_checks(due + TimeDelta::hours(1), EVERY, 100)
    );
    assert_eq!((a.expect("a"), b.expect("b")), (0, 0), "none twice");

    let checks = |rows: Vec<trellis_store::outbox::OutboxEmail>| -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = rows
            .into_iter()
            .filter_map(|r| match r.job {
                OutboxJob::CapacityCheck { service } => Some((r.recipient, service.0.to_string())),
                _ => None,
            })
            .collect();
        found.sort();
        found
    };
    let queued = checks(store.outbox().await.expect("outbox"));
    let mut expected = vec![
        ("hello@greenspring.example".to_owned(), allotment.to_string()),
        ("walks@greenspring.example".to_owned(), walking.to_string()),
    ];
    expected.sort();
    assert_eq!(queued, expected, "to the service's address, else its organisation's");
    let rows = store.outbox().await.expect("outbox");
    assert!(rows.iter().all(|r| r.status == DeliveryStatus::Pending && r.offer.is_none() && r.referral.is_none()));
    assert!(same_instant(store.next_capacity_check(walking).await.expect("timer"), due + EVERY), "next one scheduled");

    // The next round, `every` later.
    assert_eq!(store.queue_due_capacity_checks(due + TimeDelta::days(27), EVERY, 100).await.expect("queue"), 0);
    let second = due + TimeDelta::days(29);
    assert_eq!(other.queue_due_capacity_checks(second, EVERY, 100).await.expect("queue"), 2);

    // A provider that confirms its capacity meanwhile (here through the directory) is not asked again
    // until `every` after that.
    let confirmed_at = second + TimeDelta::days(20);
    let provider = Fixture::actor(&f.provider_user);
    let capacity = trellis_store::directory::CapacityUpdate {
        available: 3,
        maximum: 20,
        unit: "places".into(),
        status: CapacityStatus::Open,
    };
    let version = store.service(walking).await.expect("walking").version;
    store.update_service_capacity(&provider, walking, version, capacity, confirmed_at).await.expect("confirm capacity");
    let third = second + TimeDelta::days(29);
    assert_eq!(store.queue_due_capacity_checks(third, EVERY, 100).await.expect("queue"), 1, "only the allotment");
    assert!(same_instant(store.next_capacity_check(walking).await.expect("timer"), confirmed_at + EVERY));
    assert_eq!(checks(store.outbox().await.expect("outbox")).len(), 5);
    other.close().await.expect("close");
}
on_both_backends!(the_timer_queues_one_check_per_due_service_and_none_twice);

// ---------------------------------------------------------------------------------------------------------
// A real SMTP server (maildev).

fn worker(app: &TestApp, maildev: &MailDev, id: &str) -> Worker {
    Worker::new(app.store.clone(), maildev.mailer(), WorkerSettings::new(id, &app.base_url))
}

/// Passes at `now` until one queues and claims nothing; returns how many checks were queued.
async fn drain(worker: &Worker, now: DateTime<Utc>) -> usize {
    let mut queued = 0;
    for _ in 0..20 {
        let report = worker.tick(now).await;
        assert_eq!(report.errors, 0, "{report:?}");
        queued += report.capacity_checks_queued;
        if report.claimed == 0 && report.capacity_checks_queued == 0 {
            return queued;
        }
    }
    panic!("the outbox did not drain");
}

/// The capacity link in an email's text (checked to be the HTML part's too).
fn link_in(email: &Value, base_url: &str) -> String {
    let text = email["text"].as_str().expect("a text part");
    let start = text.find(&format!("{base_url}/capacity/")).expect("a capacity link in the email");
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    let html = email["html"].as_str().expect("an HTML part");
    assert!(html.contains(&format!("href=\"{link}\"")), "the HTML part links to the same page");
    link
}

on_both_databases!(a_capacity_check_email_arrives_with_a_working_link, |app: TestApp| async move {
    let maildev = MailDev::start().await;
    let due = Utc::now() + TimeDelta::days(29);
    let (first, second) = (worker(&app, &maildev, "w1"), worker(&app, &maildev, "w2"));
    assert_eq!(drain(&first, Utc::now()).await, 0, "not due yet");
    assert_eq!(drain(&first, due).await, 1);
    assert_eq!(drain(&second, due).await, 0, "another worker finds nothing more to ask");

    let emails = maildev.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(maildev.emails().await.len(), 1, "one email");
    let email = &emails[0];
    assert_eq!(email["to"][0]["address"], "walks@greenspring.example");
    assert_eq!(email["subject"], "Are the places at Long Eaton Walking Group up to date?");
    let row = store_row(&app).await;
    assert_eq!((row.status, row.attempts), (DeliveryStatus::Sent, 1));
    assert_eq!(email["headers"]["message-id"].as_str(), Some(row.message_id.as_str()));
    let text = email["text"].as_str().expect("text");
    let html = email["html"].as_str().expect("html");
    for part in [text, html] {
        assert!(part.contains("Long Eaton Walking Group") && part.contains("Green Spring Network"), "{part}");
        assert!(part.contains("5 of 20 places free"), "the capacity as recorded: {part}");
        assert!(part.contains("Yes, taking people now"), "{part}");
        let expiry = (due + TimeDelta::days(14)).format("%A %-d %B %Y").to_string();
        assert!(part.contains(&expiry), "the link's expiry, {expiry}: {part}");
    }

    let link = link_in(email, &app.base_url);
    let token = link.rsplit('/').next().expect("token").to_owned();
    assert!(token.starts_with("trc_") && token.len() == 4 + 64, "256 random bits: {token}");
    let opened = client().get(&link).send().await.expect("GET");
    assert_eq!(opened.status(), StatusCode::OK);
    let body = opened.text().await.expect("body");
    assert!(body.contains("<h1>Places at Long Eaton Walking Group</h1>"), "{body}");
    let linked = app.store.open_service_link(&token, Utc::now()).await.expect("the link opens");
    assert_eq!((linked.service, linked.provider), (app.fixture.walking_group.id, app.fixture.provider.id));
});

async fn store_row(app: &TestApp) -> trellis_store::outbox::OutboxEmail {
    let rows = app.store.outbox().await.expect("outbox");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    rows.into_iter().next().expect("a row")
}

// ---------------------------------------------------------------------------------------------------------
// The page (through `CAPACITY_PAGE`, a browser-like client that keeps its cookie by hand and does not
// follow redirects).

/// A live link to the fixture's walking group, minted as the email would mint it.
async fn walking_link(app: &TestApp) -> String {
    let now = Utc::now();
    app.store
        .mint_link(LinkScope::Service(app.fixture.walking_group.id), now + TimeDelta::days(14), now)
        .await
        .expect("link")
}

/// Everything opening or a refused update could change by mistake.
#[derive(Debug, PartialEq)]
struct Snapshot {
    capacity: Option<CurrentCapacity>,
    link_used_at: Option<DateTime<Utc>>,
    next_check: Option<DateTime<Utc>>,
    outbox: usize,
    audit: usize,
}

async fn snapshot(app: &TestApp, token: &str) -> Snapshot {
    let service = app.fixture.walking_group.id;
    let linked = app.store.open_service_link(token, Utc::now()).await.expect("live link");
    Snapshot {
        capacity: app.store.capacity_notice(service).await.expect("notice").capacity,
        link_used_at: linked.last_used_at,
        next_check: app.store.next_capacity_check(service).await.expect("timer"),
        outbox: app.store.outbox().await.expect("outbox").len(),
        // Less the entries a refused link is meant to leave (see `trellis_api::link_pages::guard`).
        audit: app
            .store
            .audit_log(&AuditFilter { limit: 10_000, ..Default::default() })
            .await
            .expect("audit")
            .iter()
            .filter(|e| !e.action.ends_with(".link_rejected") && !e.action.ends_with(".link_rate_limited"))
            .count(),
    }
}

async fn capacity(app: &TestApp) -> CurrentCapacity {
    let notice = app.store.capacity_notice(app.fixture.walking_group.id).await.expect("notice");
    notice.capacity.expect("a capacity")
}

fn assert_page_headers(page: &Page) {
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("x-robots-tag"), "noindex");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("content-security-policy"), CSP);
}

// ---------------------------------------------------------------------------------------------------------
// Opening the link.

on_both_databases!(opening_the_link_shows_the_capacity_and_changes_nothing, |app: TestApp| async move {
    let token = walking_link(&app).await;
    let before = snapshot(&app, &token).await;

    let shown = get(&app, &format!("/capacity/{token}"), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_page_headers(&shown);
    assert_eq!(shown.header("content-type"), "text/html; charset=utf-8");
    let cookie = shown.header("set-cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/capacity"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "cookie lacks {attribute}: {cookie}");
    }
    let body = &shown.body;
    for expected in [
        "<html lang=\"en-GB\">",
        "name=\"viewport\"",
        "<title>Places at Long Eaton Walking Group – Trellis</title>",
        "<h1>Places at Long Eaton Walking Group</h1>",
        "5 of 20 places free",
        "Yes, we are taking people now",
        "<label class=\"block\" for=\"available\">Places free now</label>",
        "<label class=\"block\" for=\"maximum\">Places in all</label>",
        "id=\"available\" name=\"available\"",
        "value=\"5\"",
        "value=\"20\"",
        "<legend>Are you taking people now?</legend>",
        "<input type=\"radio\" id=\"status-open\" name=\"status\" value=\"open\" checked>",
        "<label for=\"status-waitlist\">",
        "<label for=\"status-closed\">",
        "Save places",
        "This page is for Green Spring Network only",
    ] {
        assert!(body.contains(expected), "the page lacks {expected:?}:\n{body}");
    }
    assert!(!body.contains("<script"), "no script");
    assert!(!body.contains("Thank you"), "nothing was saved");

    // Mail scanners opening it again, with and without the cookie, with a hand-made flag, and HEAD.
    get(&app, &format!("/capacity/{token}"), None).await;
    let flagged = get(&app, &format!("/capacity/{token}?done=updated"), Some(&shown.cookie())).await;
    assert!(!flagged.body.contains("Thank you"), "a confirmation is only shown when something was saved");
    let head = client().head(format!("{}/capacity/{token}", app.base_url)).send().await.expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(snapshot(&app, &token).await, before, "opening the link changed nothing");

    let again = get(&app, &format!("/capacity/{token}"), Some(&shown.cookie())).await;
    assert_eq!(again.csrf_field(), shown.csrf_field(), "an open page keeps its token, so two tabs both work");
});

// ---------------------------------------------------------------------------------------------------------
// Forgery.

/// A forged POST: what it is, the cookie it carries, its form, and its request headers.
type Attempt<'a> = (&'a str, Option<&'a str>, Vec<(&'a str, &'a str)>, Vec<(&'static str, String)>);

/// An impossible update: places free, places in all, status, and the (control, message) pairs it gets.
type Impossible = (&'static str, &'static str, Option<&'static str>, &'static [(&'static str, &'static str)]);

/// A sensible update, with the anti-forgery field when given.
fn update_form(csrf: Option<&str>) -> Vec<(&str, &str)> {
    let mut form: Vec<(&str, &str)> = csrf.map(|c| ("csrf", c)).into_iter().collect();
    form.extend([("available", "1"), ("maximum", "9"), ("status", "open")]);
    form
}

on_both_databases!(a_post_without_a_matching_token_or_from_another_site_is_refused, |app: TestApp| async move {
    let token = walking_link(&app).await;
    let session = CAPACITY_PAGE.open(&app, &token).await;
    let before = snapshot(&app, &token).await;
    let other = "0".repeat(64);
    let own = same_origin(&app);
    let cookie = Some(session.cookie.as_str());
    let csrf = Some(session.csrf.as_str());
    let attempts: Vec<Attempt> = vec![
        ("no cookie", None, update_form(csrf), own.clone()),
        ("no field", cookie, update_form(None), own.clone()),
        ("another token", cookie, update_form(Some(&other)), own.clone()),
        ("empty field", cookie, update_form(Some("")), own.clone()),
        ("cross-site", cookie, update_form(csrf), vec![("sec-fetch-site", "cross-site".into())]),
        ("foreign origin", cookie, update_form(csrf), vec![("origin", "https://evil.example".into())]),
        ("lookalike origin", cookie, update_form(csrf), vec![("origin", format!("{}.evil.example", app.base_url))]),
        ("null origin, unattested", cookie, update_form(csrf), vec![("origin", "null".into())]),
    ];
    for (what, cookie, form, headers) in attempts {
        let refused = CAPACITY_PAGE.post(&app, &token, cookie, &form, &headers).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{what}");
        assert_page_headers(&refused);
        assert!(refused.body.contains("Your update was not saved"), "{what}: {}", refused.body);
        assert!(!refused.body.contains("Walking Group"), "{what}: a refusal shows nothing of the service");
    }
    // Not a form at all, as a cross-site `fetch` with text/plain could send.
    let text = client()
        .post(format!("{}/capacity/{token}", app.base_url))
        .header(header::COOKIE, &session.cookie)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(format!("csrf={}&available=1&maximum=9&status=open", session.csrf))
        .send()
        .await
        .expect("POST");
    assert_eq!(text.status(), StatusCode::FORBIDDEN);
    assert_eq!(snapshot(&app, &token).await, before, "no refused POST changed anything");

    let sent = session.post(&app, &[("available", "1"), ("maximum", "9"), ("status", "open")]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "the same update sent properly goes through: {}", sent.body);
});

// ---------------------------------------------------------------------------------------------------------
// Updating.

on_both_databases!(an_update_saves_the_capacity_and_its_time_and_shows_a_confirmation, |app: TestApp| async move {
    let token = walking_link(&app).await;
    let session = CAPACITY_PAGE.open(&app, &token).await;
    let recorded = capacity(&app).await;
    let before = Utc::now();

    let saved = session.post(&app, &[("available", " 2 "), ("maximum", "12"), ("status", "waitlist")]).await;
    let after = Utc::now();
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_page_headers(&saved);
    assert_eq!(saved.header("location"), format!("/capacity/{token}?done=updated"));
    let now = capacity(&app).await;
    assert_eq!(
        (now.available, now.maximum, now.status, now.unit.as_str()),
        (2, 12, CapacityStatus::Waitlist, "places"),
        "saved, keeping its unit"
    );
    assert!(now.updated_at > recorded.updated_at, "updated_at moves on");
    assert!(
        now.updated_at >= before - TimeDelta::milliseconds(1) && now.updated_at <= after,
        "stamped when saved: {}",
        now.updated_at
    );

    let audit = app
        .store
        .audit_log(&AuditFilter { from: Some(before - TimeDelta::seconds(1)), limit: 100, ..Default::default() })
        .await
        .expect("audit");
    let entry = audit.iter().find(|e| e.action == "service.capacity_updated").expect("an audit entry");
    assert_eq!(entry.actor, trellis_domain::Actor::provider_link(app.fixture.provider.id), "by the provider's link");
    let detail: Value = serde_json::from_str(entry.detail.as_deref().expect("detail")).expect("JSON detail");
    assert_eq!(
        detail,
        json!({ "service": app.fixture.walking_group.id, "available": 2, "maximum": 12, "status": "waitlist" })
    );

    let shown = session.get(&app, saved.header("location")).await;
    assert_eq!(shown.status, StatusCode::OK);
    for expected in [
        "Thank you: the places at Long Eaton Walking Group are saved. Link workers see them now.",
        "role=\"status\"",
        "2 of 12 places free",
        "We are taking names for a waiting list",
        "<input type=\"radio\" id=\"status-waitlist\" name=\"status\" value=\"waitlist\" checked>",
    ] {
        assert!(shown.body.contains(expected), "the page lacks {expected:?}:\n{}", shown.body);
    }

    // A slip put right straight away: the link keeps working until it expires.
    let corrected = session.post(&app, &[("available", "0"), ("maximum", "12"), ("status", "closed")]).await;
    assert_eq!(corrected.status, StatusCode::SEE_OTHER);
    let now = capacity(&app).await;
    assert_eq!((now.available, now.maximum, now.status), (0, 12, CapacityStatus::Closed));
});

/// Where the walking group's offers are emailed now.
async fn offers_email(app: &TestApp) -> Option<String> {
    app.store.service(app.fixture.walking_group.id).await.expect("service").email
}

on_both_databases!(the_provider_changes_where_offers_go_from_its_capacity_page, |app: TestApp| async move {
    let token = walking_link(&app).await;
    let session = CAPACITY_PAGE.open(&app, &token).await;
    let original = offers_email(&app).await;
    let shown = session.get(&app, &CAPACITY_PAGE.path(&token)).await;
    let current = original.clone().or_else(|| app.fixture.provider.email.clone()).expect("an address");
    assert!(
        shown
            .body
            .contains(&format!("Trellis emails offers for Long Eaton Walking Group to <strong>{current}</strong>"))
    );

    let wrong = session.post(&app, &[("action", "email"), ("email", "not an address")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("<a href=\"#email\">Enter an email address in the right form"), "{}", wrong.body);
    assert!(wrong.body.contains("value=\"not an address\""), "what was typed is kept");
    assert_eq!(offers_email(&app).await, original, "nothing changed");

    let saved = session.post(&app, &[("action", "email"), ("email", " bookings@greenspring.example ")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.header("location"), format!("/capacity/{token}?done=email"));
    assert_eq!(offers_email(&app).await.as_deref(), Some("bookings@greenspring.example"));
    let confirmed = session.get(&app, saved.header("location")).await;
    assert!(
        confirmed.body.contains("offers for Long Eaton Walking Group now go to bookings@greenspring.example"),
        "{}",
        confirmed.body
    );

    let audit = app.store.audit_log(&AuditFilter { limit: 100, ..Default::default() }).await.expect("audit");
    let entry = audit.iter().find(|e| e.action == "service.email_changed").expect("audited");
    assert_eq!(entry.actor, trellis_domain::Actor::provider_link(app.fixture.provider.id));
    let detail: Value = serde_json::from_str(entry.detail.as_deref().expect("detail")).expect("JSON");
    assert_eq!((&detail["old"], &detail["new"]), (&json!(original), &json!("bookings@greenspring.example")));
    let told: Vec<_> = app
        .store
        .outbox()
        .await
        .expect("outbox")
        .into_iter()
        .filter(|e| e.kind == JobKind::ServiceEmailChanged)
        .map(|e| e.recipient)
        .collect();
    assert_eq!(told, [current], "the old address is told");
});

on_both_databases!(impossible_numbers_are_refused_with_a_clear_message_and_change_nothing, |app: TestApp| async move {
    let token = walking_link(&app).await;
    let session = CAPACITY_PAGE.open(&app, &token).await;
    let before = snapshot(&app, &token).await;
    let cases: [Impossible; 10] = [
        ("12", "10", Some("open"), &[("available", "Places free (12) cannot be more than places in all (10)")]),
        ("-1", "10", Some("open"), &[("available", "Places free cannot be less than 0")]),
        ("5", "10001", Some("open"), &[("maximum", "Places in all must be a number from 0 to 10,000")]),
        ("5", "99999999999", Some("open"), &[("maximum", "Places in all must be a number from 0 to 10,000")]),
        ("five", "10", Some("open"), &[("available", "Enter how many places are free, as a whole number like 5")]),
        ("1.5", "10", Some("open"), &[("available", "Enter how many places are free, as a whole number like 5")]),
        (
            "",
            "",
            Some("open"),
            &[
                ("available", "Enter how many places are free, as a whole number like 5"),
                ("maximum", "Enter how many places there are in all, as a whole number like 20"),
            ],
        ),
        ("3", "10", None, &[("status-open", "Choose whether you are taking people now")]),
        ("3", "10", Some("maybe"), &[("status-open", "Choose whether you are taking people now")]),
        ("3", "10", Some(""), &[("status-open", "Choose whether you are taking people now")]),
    ];
    for (available, maximum, status, errors) in cases {
        let mut form = vec![("available", available), ("maximum", maximum)];
        if let Some(status) = status {
            form.push(("status", status));
        }
        let what = format!("{form:?}");
        let refused = session.post(&app, &form).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", refused.body);
        assert_page_headers(&refused);
        let body = &refused.body;
        assert!(body.contains("<title>Error: Places at Long Eaton Walking Group"), "{what}");
        assert!(body.contains("There is a problem"), "{what}");
        for (target, message) in errors {
            assert!(
                body.contains(&format!("<a href=\"#{target}\">{message}</a>")),
                "{what}: summary lacks {message:?}"
            );
            assert!(body.contains(&format!("<span class=\"visually-hidden\">Error:</span> {message}.")), "{what}");
        }
        assert!(
            body.contains(&format!("id=\"available\" name=\"available\" type=\"text\" inputmode=\"numeric\" spellcheck=\"false\" autocomplete=\"off\" value=\"{}\"", available.trim())),
            "{what}: what was typed is kept"
        );
        assert!(!body.contains("Thank you"), "{what}");
    }
    assert_eq!(snapshot(&app, &token).await, before, "no impossible update changed anything");

    // The store refuses them too, whoever calls it.
    let update = CapacityUpdate { available: 12, maximum: 10, status: CapacityStatus::Open };
    let version = app.store.service(app.fixture.walking_group.id).await.expect("walking").version;
    match app.store.update_capacity_via_link(&token, version, update, Utc::now()).await {
        Err(CapacityUpdateError::Rejected(problems)) => {
            assert_eq!(problems, vec![CapacityProblem::AvailableAboveMaximum { available: 12, maximum: 10 }]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(snapshot(&app, &token).await, before);
});

// ---------------------------------------------------------------------------------------------------------
// Links that cannot be used.

on_both_databases!(expired_tampered_and_unknown_links_get_the_offer_pages_invalid_page, |app: TestApp| async move {
    let token = walking_link(&app).await;
    let now = Utc::now();
    let service = app.fixture.walking_group.id;
    let expired = app
        .store
        .mint_link(LinkScope::Service(service), now - TimeDelta::minutes(1), now - TimeDelta::days(15))
        .await
        .expect("link");
    let last = token.chars().last().expect("token");
    let tampered = format!("{}{}", &token[..token.len() - 1], if last == '0' { '1' } else { '0' });
    let cases = [
        ("expired", expired.clone()),
        ("tampered", tampered),
        ("unknown", format!("trc_{}", "ab".repeat(32))),
        ("truncated", token[..20].to_owned()),
        ("an offer link's prefix", token.replacen("trc_", "tro_", 1)),
        ("nonsense", "%F0%9F%92%A9".to_owned()),
        ("overlong", format!("trc_{}", "a".repeat(500))),
    ];
    let session = CAPACITY_PAGE.open(&app, &token).await;
    let before = snapshot(&app, &token).await;
    // The offer page's page for a link that cannot be used.
    let offer_invalid = get(&app, &format!("/offers/tro_{}", "cd".repeat(32)), None).await;
    assert_eq!(offer_invalid.status, StatusCode::NOT_FOUND);

    for (what, bad) in &cases {
        let shown = get(&app, &format!("/capacity/{bad}"), None).await;
        assert_eq!(shown.status, StatusCode::NOT_FOUND, "{what}");
        assert_page_headers(&shown);
        assert!(shown.headers.get("set-cookie").is_none(), "{what}: no cookie for a dead link");
        assert_eq!(shown.body, offer_invalid.body, "{what}: the same page as the offer page's");
        assert!(!shown.body.contains("Walking"), "{what} leaks the service");
        let acted = CAPACITY_PAGE
            .post(
                &app,
                bad,
                Some(&session.cookie),
                &[("csrf", &session.csrf), ("available", "1"), ("maximum", "2"), ("status", "open")],
                &same_origin(&app),
            )
            .await;
        assert_eq!(acted.status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(acted.body, offer_invalid.body, "{what}");
    }
    // Nor does a capacity link open an offer page.
    assert_eq!(get(&app, &format!("/offers/{token}"), None).await.status, StatusCode::NOT_FOUND);
    let update = CapacityUpdate { available: 1, maximum: 2, status: CapacityStatus::Open };
    assert!(matches!(
        app.store.update_capacity_via_link(&expired, 1, update, Utc::now()).await,
        Err(CapacityUpdateError::Link(LinkError::Invalid))
    ));
    assert_eq!(snapshot(&app, &token).await, before);

    // The link itself expires: the live one, once past its time.
    let later = Utc::now() + TimeDelta::days(15);
    assert!(matches!(app.store.open_service_link(&token, later).await, Err(LinkError::Invalid)));
});

// ---------------------------------------------------------------------------------------------------------
// A real browser, from a real email.

on_both_databases!(the_capacity_page_works_in_a_real_browser, |app: TestApp| async move {
    let backend = match app.store.connection().get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    let maildev = MailDev::start().await;
    assert_eq!(drain(&worker(&app, &maildev, "w1"), Utc::now() + TimeDelta::days(29)).await, 1);
    let emails = maildev.wait_for(1).await;
    let email = &emails[0];
    let link = link_in(email, &app.base_url);
    let id = email["id"].as_str().expect("maildev id");

    let now = Utc::now();
    let expired = app
        .store
        .mint_link(
            LinkScope::Service(app.fixture.walking_group.id),
            now - TimeDelta::minutes(1),
            now - TimeDelta::days(15),
        )
        .await
        .expect("link");
    let dir = screenshot_dir("capacity-page", backend);
    let config = json!({
        "baseUrl": app.base_url,
        "emailHtml": format!("{}/api/email/{id}/html", maildev.web_url()),
        "link": link,
        "expiredUrl": format!("{}/capacity/{expired}", app.base_url),
        "screenshots": dir,
        "label": backend,
    });
    let output =
        tokio::task::spawn_blocking(move || run_node("capacity-page.mjs", &[&config.to_string()])).await.expect("node");
    println!("{output}");

    let saved = capacity(&app).await;
    assert_eq!(
        (saved.available, saved.maximum, saved.status),
        (3, 15, CapacityStatus::Waitlist),
        "as typed in the browser"
    );
    let email = app.store.service(app.fixture.walking_group.id).await.expect("service").email;
    assert_eq!(email.as_deref(), Some("bookings@greenspring.example"), "the offers' address as typed in the browser");
    for shot in ["01-capacity", "02-problem", "03-saved", "03b-email-saved", "04-invalid"] {
        assert!(dir.join(format!("{shot}.png")).exists(), "screenshot {shot} missing");
    }
});
