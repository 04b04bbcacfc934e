//! What a caseload page and a provider's answer cost the database. `Referral.offers` and
//! `Referral.history` are loaded for the whole page at once (`trellis-api`'s `schema::loaders`), so the
//! statements a page runs do not grow with its rows; a provider's answer through its link reads the offer
//! once, when the link is verified, and acts on that row (`trellis-store`'s `links`). Counted from every
//! statement the store's pool sends (`StatementLog`, fed by sea-orm's metric callback), not from counters
//! the code under test reports about itself.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use trellis_domain::ReferralId;
use trellis_domain::offer::OfferStatus;
use trellis_domain::referral::ReferralCommand;
use trellis_store::links::LinkScope;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_tests::link_pages::LinkPages;
use trellis_tests::{Fixture, TestApp, on_both_databases};

const CASELOAD: &str = "query($first: Int) { referrals(first: $first) { edges { node { id \
     offers { id } history { kind } } } } }";

/// `n` referrals in the fixture link worker's caseload, each contacted and offered to the walking group
/// (so each has an offer and a history).
async fn offered_referrals(app: &TestApp, n: usize) -> Vec<ReferralId> {
    let f = &app.fixture;
    let lw = Fixture::actor(&f.link_worker);
    let mut ids = Vec::new();
    for _ in 0..n {
        let now = Utc::now();
        let referral =
            app.store.submit_referral(f.referral("9434765919"), None, &Fixture::actor(&f.gp), now).await.unwrap();
        let id = referral.referral.state.id;
        app.store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, now).await.unwrap();
        let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
        app.store.make_offer(OfferRequest::new(id, f.walking_group.id, timers).at_version(2), &lw, now).await.unwrap();
        ids.push(id);
    }
    ids
}

/// The caseload page of `first` rows and the SQL the store ran to answer it.
async fn caseload_page(app: &TestApp, first: usize) -> (Vec<Value>, Vec<String>) {
    app.store.statements().start();
    let data = app.ok(&app.tokens.link_worker, CASELOAD, json!({ "first": first })).await;
    let sql = app.store.statements().stop();
    let nodes: Vec<Value> = data["referrals"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert_eq!(nodes.len(), first, "the page has the rows asked for");
    (nodes, sql)
}

/// Statements that read a table, by its quoted or bare name after `FROM`.
fn reading(sql: &[String], table: &str) -> usize {
    sql.iter().filter(|s| s.contains(&format!("FROM \"{table}\"")) || s.contains(&format!("FROM {table} "))).count()
}

/// Everything the page itself ran. A token's principal is cached for the request, but whether the cache
/// re-reads the revocation counter (at most every 250 ms) depends on the clock, not on the page.
fn page_statements(sql: &[String]) -> Vec<&String> {
    sql.iter().filter(|s| !s.contains("auth_revocations")).collect()
}

on_both_databases!(
    a_caseload_page_with_offers_and_history_costs_the_same_number_of_statements_for_ten_rows_as_for_fifty,
    |app: TestApp| async move {
        let ids = offered_referrals(&app, 50).await;
        // The first request looks the token up; later ones find it cached.
        caseload_page(&app, 1).await;

        let (_, ten) = caseload_page(&app, 10).await;
        let (fifty_rows, fifty) = caseload_page(&app, 50).await;

        assert_eq!(reading(&fifty, "offers"), 1, "one read of offers for the page: {fifty:#?}");
        assert_eq!(reading(&fifty, "referral_events"), 1, "one read of histories for the page: {fifty:#?}");
        assert_eq!(reading(&ten, "offers"), reading(&fifty, "offers"));
        assert_eq!(reading(&ten, "referral_events"), reading(&fifty, "referral_events"));
        assert_eq!(
            page_statements(&ten).len(),
            page_statements(&fifty).len(),
            "ten rows ran {:#?}\nfifty rows ran {:#?}",
            page_statements(&ten),
            page_statements(&fifty)
        );

        // Batched, each row still gets its own offers and history, in order.
        let lw = Fixture::actor(&app.fixture.link_worker);
        for node in &fifty_rows {
            let id: ReferralId = ReferralId(node["id"].as_str().unwrap().parse().unwrap());
            assert!(ids.contains(&id));
            let offers: Vec<String> =
                app.store.offers_for_referral(&lw, id).await.unwrap().iter().map(|o| o.state.id.to_string()).collect();
            let shown: Vec<String> =
                node["offers"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
            assert_eq!(shown, offers);
            let history: Vec<&str> =
                app.store.referral_history(&lw, id).await.unwrap().iter().map(|e| e.kind.name()).collect();
            let shown: Vec<&str> =
                node["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
            assert_eq!(shown, history);
            assert!(shown.len() >= 2, "opened and contacted at least: {shown:?}");
        }
    }
);

on_both_databases!(a_providers_accepting_post_reads_the_offer_row_once, |app: TestApp| async move {
    let referral = *offered_referrals(&app, 1).await.first().unwrap();
    let lw = Fixture::actor(&app.fixture.link_worker);
    let id = app.store.offers_for_referral(&lw, referral).await.unwrap()[0].state.id;
    let token = app.store.mint_link(LinkScope::Offer(id), Utc::now() + Duration::days(14), Utc::now()).await.unwrap();
    let page = LinkPages("/offers").open(&app, &token).await;

    app.store.statements().start();
    let accepted = page.post(&app, &[("action", "accept")]).await;
    let sql = app.store.statements().stop();

    assert_eq!(accepted.status, StatusCode::OK, "the answer to the acceptance is the page: {}", accepted.body);
    assert_eq!(app.store.offer(&lw, id).await.unwrap().state.status, OfferStatus::Accepted);
    assert_eq!(reading(&sql, "offers"), 1, "verifying the link reads the offer; nothing reads it again: {sql:#?}");
    assert_eq!(reading(&sql, "offer_links"), 1, "the link is looked up once: {sql:#?}");
});
