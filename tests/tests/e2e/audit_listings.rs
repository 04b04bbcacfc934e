//! The audit of caseload pages over HTTP, on both databases: a GraphQL `referrals` page and the console's
//! `/caseload` each write one entry naming everyone they show, the network lead's audit log finds it in
//! each person's history, and a page whose entry cannot be written is not answered.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use trellis_store::audit::AuditFilter;
use trellis_store::testing::refuse_audit_listings;
use trellis_tests::console::session_for;
use trellis_tests::link_pages::get;
use trellis_tests::{Fixture, TestApp};

const PAGE: &str = "query($first: Int) { referrals(first: $first) { edges { node { id } } } }";

const WHO_SAW: &str = "query($id: ID!) { auditLog(filter: { referralId: $id }, first: 50) { \
     edges { node { action actorUserId referralId listedReferralIds } } } }";

/// Three referrals in the fixture link worker's caseload, as GraphQL ids, sorted.
async fn three_referrals(app: &TestApp) -> Vec<String> {
    let f = &app.fixture;
    let gp = Fixture::actor(&f.gp);
    let mut ids = Vec::new();
    for nhs in ["9434765919", "4010232137", "9434765870"] {
        let submitted = app.store.submit_referral(f.referral(nhs), None, &gp, Utc::now()).await.unwrap();
        ids.push(submitted.referral.state.id.to_string());
    }
    ids.sort();
    ids
}

fn sorted_strings(values: &Value) -> Vec<String> {
    let mut ids: Vec<String> = values.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

on_both_databases!(
    a_graphql_page_and_a_console_caseload_page_each_write_one_entry_that_every_person_on_it_shows,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let f = app.fixture.clone();
        let ids = three_referrals(&app).await;
        let page = app.ok(&t.link_worker, PAGE, json!({ "first": 3 })).await;
        let on_page: Vec<&str> =
            page["referrals"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
        assert_eq!(on_page.len(), 3);
        let session = session_for(&app, f.link_worker.id).await;
        let console = get(&app, "/caseload", Some(&session)).await;
        assert_eq!(console.status, StatusCode::OK);
        assert!(ids.iter().all(|id| console.body.contains(&format!("href=\"/referrals/{id}\""))));

        for id in &ids {
            let who = app.ok(&t.network_lead, WHO_SAW, json!({ "id": id })).await;
            let listings: Vec<&Value> = who["auditLog"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["node"])
                .filter(|n| n["action"] == "referral.listed")
                .collect();
            assert_eq!(listings.len(), 2, "the GraphQL page and the console page showed {id}: {who:#}");
            for listing in listings {
                assert_eq!(listing["actorUserId"], json!(f.link_worker.id.to_string()));
                assert_eq!(listing["referralId"], Value::Null, "a listing is about the page, not one record");
                assert_eq!(sorted_strings(&listing["listedReferralIds"]), ids);
            }
        }
        let by_worker = AuditFilter { actor: Some(f.link_worker.id), limit: 500, ..Default::default() };
        let entries = app.store.audit_log(&by_worker).await.unwrap();
        assert_eq!(entries.iter().filter(|e| e.action == "referral.listed").count(), 2, "one entry per page");
    }
);

on_both_databases!(a_caseload_page_whose_audit_entry_cannot_be_written_is_not_answered, |app: TestApp| async move {
    let t = app.tokens.clone();
    let ids = three_referrals(&app).await;
    let session = session_for(&app, app.fixture.link_worker.id).await;
    refuse_audit_listings(&app.store).await;

    let refused = app.graphql(Some(&t.link_worker), PAGE, json!({ "first": 3 })).await;
    assert_eq!(refused.code(), Some("INTERNAL"), "{refused:#?}");
    let answer = format!("{:?}", refused);
    assert!(ids.iter().all(|id| !answer.contains(id.as_str())), "no referral is sent: {answer}");

    let console = get(&app, "/caseload", Some(&session)).await;
    assert_eq!(console.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(ids.iter().all(|id| !console.body.contains(id.as_str())), "no referral is shown: {}", console.body);
    assert!(!console.body.contains("Hughes"), "no person is shown");
});
