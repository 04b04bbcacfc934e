//! Logs never carry personal data or secrets: a whole journey runs with Trellis's own crates logging at
//! debug (and everything else at info), and the captured output is searched for the person's details,
//! the bearer tokens and the provider's link.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use trellis_tests::{Backend, TestApp, doc_operation};

/// Everything the subscriber writes, kept for the test to search.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_logs_no_personal_data_and_no_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(
            "info,trellis=debug,trellis_api=debug,trellis_store=debug,trellis_notifier=debug,tower_http=debug",
        )
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

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
        .create_offer_link(offer_id, chrono::Utc::now() + chrono::Duration::days(14), chrono::Utc::now())
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

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request"), "the capture saw the server's logs");
    let secrets = [
        "9434765919",
        "943 476 5919",
        "Philippa",
        "Quennell",
        "1951-02-03",
        "07700",
        "philippa.quennell",
        "Acacia",
        "likes mornings",
        "would like to sing",
        &link,
        &t.gp,
        &t.link_worker,
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "the logs contain {secret:?}");
    }
}
