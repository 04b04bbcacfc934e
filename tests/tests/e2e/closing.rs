//! Closing a referral ends what is open, through the real server on SQLite and PostgreSQL: the provider's
//! link page then says the place is no longer needed and shows no contact details, an answer from it
//! changes nothing, and each provider is emailed (over real SMTP) by reference only.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use trellis_domain::offer::OfferStatus;
use trellis_domain::referral::ReferralCommand;
use trellis_domain::{OfferId, ReferralId};
use trellis_notifier::{Worker, WorkerSettings};
use trellis_store::links::LinkScope;
use trellis_store::notices::offer_reference;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::outbox::JobKind;
use trellis_tests::link_pages::LinkPages;
use trellis_tests::maildev::MailDev;
use trellis_tests::{Fixture, TestApp, on_both_databases};

const NHS: &str = "9434765919";
const OFFER_PAGE: LinkPages = LinkPages("/offers");
/// What only a provider that accepted an open referral may see, and no email may carry.
const PERSONAL: &[&str] =
    &["Hughes", "01154960123", "0115 496 0123", "margaret.hughes@example.org", "NG10 1AB", "1948", NHS];

/// A contacted referral with an offer to the walking group and a live link to it.
async fn offer_with_link(app: &TestApp) -> (ReferralId, OfferId, String) {
    let f = &app.fixture;
    let lw = Fixture::actor(&f.link_worker);
    let id = app.store.submit_referral(f.referral(NHS), None, &Fixture::actor(&f.gp), Utc::now()).await.unwrap();
    let referral = id.referral.state.id;
    app.store
        .transition_referral(referral, 1, ReferralCommand::RecordContact { note: None }, &lw, Utc::now())
        .await
        .unwrap();
    let timers = OfferTimers { expires_at: Utc::now() + TimeDelta::days(14), remind_at: None };
    let offer =
        app.store.make_offer(OfferRequest::new(referral, f.walking_group.id, timers), &lw, Utc::now()).await.unwrap();
    let token = app
        .store
        .mint_link(LinkScope::Offer(offer.state.id), Utc::now() + TimeDelta::days(14), Utc::now())
        .await
        .unwrap();
    (referral, offer.state.id, token)
}

const CLOSE: &str = "mutation($id: ID!, $v: Int!) { closeReferral(input: { referralId: $id, expectedVersion: $v, reason: DECLINED_BY_PERSON }) { referral { status offers { status fhirTaskStatus } } } }";

on_both_databases!(
    once_the_referral_closes_the_link_page_says_the_place_is_no_longer_needed_and_shows_no_contact_details,
    |app: TestApp| async move {
        let (referral, offer, token) = offer_with_link(&app).await;
        let session = OFFER_PAGE.open(&app, &token).await;
        // The accepting answer shows the contact details (and its browser may see them for a few minutes).
        let accepted = session.post(&app, &[("action", "accept")]).await;
        assert_eq!(accepted.status, StatusCode::OK);
        assert!(accepted.body.contains("01154960123"), "accepted: contact details shown");

        let closed = app.ok(&app.tokens.link_worker, CLOSE, json!({ "id": referral.to_string(), "v": 2 })).await;
        assert_eq!(
            closed.pointer("/closeReferral/referral/offers/0"),
            Some(&json!({ "status": "WITHDRAWN", "fhirTaskStatus": "cancelled" })),
            "{closed}"
        );
        let page = session.get(&app, &OFFER_PAGE.path(&token)).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert!(text.contains("No longer needed"), "{text}");
        assert!(text.contains("referral has closed, so this place is no longer needed"), "{text}");
        for detail in PERSONAL {
            assert!(!page.body.contains(detail), "{detail:?} shown for a closed referral:\n{}", page.body);
        }
        for choice in
            ["value=\"accept\"", "value=\"waitlist\"", "value=\"decline\"", "value=\"attended\"", "value=\"onward\""]
        {
            assert!(!page.body.contains(choice), "{choice} offered for a closed referral");
        }

        // An offer that closing left open (as it did before it ended offers): still nothing to do.
        let db = app.store.connection();
        let literal = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => format!("'{}'", offer.0),
            _ => format!("X'{}'", offer.0.simple()),
        };
        sea_orm::ConnectionTrait::execute_unprepared(
            db,
            &format!("UPDATE offers SET status = 'accepted' WHERE id = {literal}"),
        )
        .await
        .unwrap();
        let page = session.get(&app, &OFFER_PAGE.path(&token)).await;
        for detail in PERSONAL {
            assert!(!page.body.contains(detail), "{detail:?} shown for a closed referral:\n{}", page.body);
        }
        let attended = session.post(&app, &[("action", "attended")]).await;
        assert_eq!(attended.status, StatusCode::SEE_OTHER);
        assert!(attended.location().ends_with("?done=unchanged"), "{}", attended.location());
        let lw = Fixture::actor(&app.fixture.link_worker);
        assert_eq!(app.store.offer(&lw, offer).await.unwrap().state.status, OfferStatus::Accepted, "nothing changed");

        let start = "mutation($id: ID!) { updateOffer(input: { offerId: $id, expectedVersion: 3, update: START }) { offer { status } } }";
        let refused = app.graphql(Some(&app.tokens.provider), start, json!({ "id": offer.to_string() })).await;
        assert_eq!(refused.code(), Some("INVALID_TRANSITION"), "{:?}", refused.errors);
        let contact =
            app.ok(&app.tokens.provider, "{ providerOffers { nodes { contact { name } } } }", json!({})).await;
        assert_eq!(contact.pointer("/providerOffers/nodes/0/contact"), Some(&Value::Null), "{contact}");
    }
);

on_both_databases!(
    closing_emails_each_provider_that_the_place_is_no_longer_needed_by_reference_only,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let worker =
            Worker::new(app.store.clone(), maildev.mailer(), WorkerSettings::new("closing", "http://trellis.test"));
        let (referral, offer, _) = offer_with_link(&app).await;
        app.ok(&app.tokens.link_worker, CLOSE, json!({ "id": referral.to_string(), "v": 2 })).await;
        let rows = app.store.emails_for_offer(&Fixture::actor(&app.fixture.link_worker), offer).await.unwrap();
        assert_eq!(rows.iter().filter(|r| r.kind == JobKind::OfferEnded).count(), 1, "{rows:?}");
        for _ in 0..10 {
            if worker.tick(Utc::now()).await.claimed == 0 {
                break;
            }
        }
        let emails = maildev.emails().await;
        let ended: Vec<&Value> =
            emails.iter().filter(|e| e["subject"].as_str().unwrap_or_default().contains("no longer needed")).collect();
        assert_eq!(ended.len(), 1, "{emails:?}");
        let email = ended[0];
        assert_eq!(email["to"][0]["address"], json!("walks@greenspring.example"));
        let text = email["text"].as_str().unwrap_or_default();
        assert!(text.contains(&offer_reference(offer)), "{text}");
        assert!(text.contains("Long Eaton Walking Group") && text.contains("Erewash PCN Link Workers"), "{text}");
        let source = maildev.source(email).await;
        for detail in PERSONAL.iter().chain(&["Margaret", "Loneliness", "/offers/"]) {
            assert!(!source.contains(detail), "the email carries {detail:?}:\n{source}");
        }
    }
);
