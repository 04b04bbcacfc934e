//! Logs never carry personal data or secrets. Every test here logs into one capture, a process-wide
//! subscriber with Trellis's own crates at debug (and everything else at info), and then searches all
//! that was captured so far:
//!
//! - **Every journey** of the end-to-end suite (`e2e/journeys.rs`, included here as it is) runs on
//!   SQLite and PostgreSQL, and the logs must hold none of the seeded names, NHS numbers, dates of birth,
//!   phone numbers or email addresses: those of the fixture, and every one the journeys submit (read from
//!   their source, so a journey added later is covered with its own data).
//! - One journey written for this test also looks for the bearer tokens and the provider's link.
//!
//! Lines carry no timestamps, and secrets are searched whole, so that no wall-clock digit or duration
//! can match a fragment of one by chance.
//!
//! This is a test binary of its own because the subscriber is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;
use trellis_domain::values::NhsNumber;
use trellis_store::links::LinkScope;
use trellis_tests::{Backend, TestApp, doc_operation, repo_root};

/// Everything the subscriber writes, kept for the tests to search.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The capture, installed as the process's subscriber by whichever test comes first.
fn capture() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter(
                "info,trellis=debug,trellis_api=debug,trellis_store=debug,trellis_notifier=debug,tower_http=debug",
            )
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .init();
        captured
    })
}

/// The quoted string after each `"key": "` in `source`.
fn values_of<'a>(source: &'a str, key: &str) -> Vec<&'a str> {
    let marker = format!("\"{key}\": \"");
    source.match_indices(&marker).filter_map(|(at, _)| source[at + marker.len()..].split('"').next()).collect()
}

/// Fails, naming the line, when `secret` is in the logs.
fn assert_not_logged(logs: &str, secret: &str) {
    if let Some(line) = logs.lines().find(|line| line.contains(secret)) {
        panic!("the logs contain {secret:?} in: {line}");
    }
}

/// Every piece of personal data the journeys and the fixture put into Trellis, in the forms a log line
/// could carry it.
fn personal_data() -> &'static BTreeSet<String> {
    static DATA: OnceLock<BTreeSet<String>> = OnceLock::new();
    DATA.get_or_init(|| {
        let journeys = std::fs::read_to_string(repo_root().join("tests/tests/e2e/journeys.rs")).unwrap();
        let mut data: BTreeSet<String> = BTreeSet::new();
        for key in ["givenName", "familyName", "dateOfBirth", "phone", "email"] {
            data.extend(values_of(&journeys, key).into_iter().map(str::to_owned));
        }
        // Every quoted string that is a valid NHS number, as written and as digits only.
        for literal in journeys.split('"').skip(1).step_by(2) {
            if let Ok(nhs) = NhsNumber::parse(literal) {
                data.insert(literal.to_owned());
                data.insert(nhs.as_str().to_owned());
            }
        }
        // The fixture's person (`Fixture::referral`) and its staff.
        data.extend(
            ["Margaret", "Hughes", "0115 496 0123", "margaret.hughes@example.org", "Dr Patel", "Dr Jones", "Sam Link"]
                .map(str::to_owned),
        );
        data.extend(["Alex Link", "Andrea", "dr.patel@longeaton.example", "sam@erewash.example"].map(str::to_owned));
        // Phone numbers also without their spaces.
        let phones: Vec<String> = data
            .iter()
            .filter(|v| v.starts_with('0') && v.chars().all(|c| c.is_ascii_digit() || c == ' '))
            .map(|v| v.replace(' ', ""))
            .collect();
        data.extend(phones);
        data.retain(|v| v.len() >= 4);
        data
    })
}

/// Runs one journey on `backend` into the capture, then searches everything captured so far.
async fn logs_nothing_personal<F, Fut>(backend: Backend, journey: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let captured = capture();
    let app = TestApp::spawn(backend).await;
    journey(app).await;
    let logs = captured.text();
    assert!(logs.contains("request"), "the capture saw the server's logs");
    let data = personal_data();
    assert!(data.len() > 10, "the journeys' data was found: {data:?}");
    for value in data {
        assert_not_logged(&logs, value);
    }
}

/// The journeys' own test macro, redefined here: each journey runs through [`logs_nothing_personal`].
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                crate::logs_nothing_personal(trellis_tests::Backend::Sqlite, $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                crate::logs_nothing_personal(trellis_tests::Backend::Postgres, $body).await;
            }
        }
    };
}

/// Every journey of the end-to-end suite, as it is there.
#[path = "e2e/journeys.rs"]
mod journeys;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_logs_no_personal_data_and_no_secrets() {
    let captured = capture();
    let app = TestApp::spawn(Backend::Postgres).await;
    let t = app.tokens.clone();
    let input = json!({ "input": {
        "idempotencyKey": "log-1",
        "person": { "nhsNumber": "943 476 5919", "givenName": "Philippa", "familyName": "Quennell", "dateOfBirth": "1951-02-03",
                    "phone": "07700 900456", "email": "philippa.quennell@example.org", "postcode": "NG10 1AB", "preferredContact": "PHONE" },
        "needs": ["LONELINESS"], "reason": "Recently bereaved, lives alone on Acacia Avenue.",
        "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": "2026-11-23T09:00:00Z" } } });
    let submitted = app.ok(&t.gp, &doc_operation("gp-practice.md", "SubmitReferral"), input.clone()).await;
    app.ok(&t.gp, &doc_operation("gp-practice.md", "SubmitReferral"), input).await;
    let id = submitted["submitReferral"]["referral"]["id"].as_str().unwrap().to_owned();
    app.ok(
        &t.link_worker,
        &doc_operation("link-worker.md", "RecordContact"),
        json!({ "input": { "referralId": id, "expectedVersion": 1, "note": "Philippa would like to sing" } }),
    )
    .await;
    let services = app.ok(&t.link_worker, &doc_operation("link-worker.md", "Services"), json!({})).await;
    let offer = app
        .ok(&t.link_worker, &doc_operation("link-worker.md", "OfferReferral"), json!({ "input": { "referralId": id, "expectedVersion": 2, "serviceId": services["services"][0]["id"], "noteForProvider": "Philippa likes mornings" } }))
        .await;
    let offer_id: trellis_domain::OfferId = offer["offerReferral"]["offer"]["id"].as_str().unwrap().parse().unwrap();
    let link = app
        .store
        .mint_link(LinkScope::Offer(offer_id), chrono::Utc::now() + chrono::Duration::days(14), chrono::Utc::now())
        .await
        .unwrap();
    let page = app.client().get(format!("{}/offers/{link}", app.base_url)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    app.ok(&t.link_worker, &doc_operation("link-worker.md", "ReferralDetail"), json!({ "id": id })).await;
    let refused = app.graphql(Some(&t.gp), &doc_operation("gp-practice.md", "SubmitReferral"), json!({ "input": { "idempotencyKey": "log-2",
        "person": { "nhsNumber": "9434765918", "givenName": "Philippa", "familyName": "Quennell", "dateOfBirth": "1951-02-03", "phone": "07700 900456", "preferredContact": "PHONE" },
        "needs": ["LONELINESS"], "reason": "x", "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": "2026-11-23T09:00:00Z" } } })).await;
    assert_eq!(refused.code(), Some("VALIDATION"));
    drop(app);

    let logs = captured.text();
    assert!(logs.contains("request"), "the capture saw the server's logs");
    let secrets = [
        "9434765919",
        "943 476 5919",
        "Philippa",
        "Quennell",
        "1951-02-03",
        "07700 900456",
        "07700900456",
        "NG10 1AB",
        "philippa.quennell",
        "Acacia",
        "likes mornings",
        "would like to sing",
        &link,
        &t.gp,
        &t.link_worker,
    ];
    for secret in secrets {
        assert_not_logged(&logs, secret);
    }
}
