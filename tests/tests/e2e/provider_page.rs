//! The provider's offer page behind an email link, through the real server on SQLite and PostgreSQL:
//! opening changes nothing, answers are forms protected against forgery, contact details appear only
//! after accepting, and every link that cannot be used gets the same page. The last test drives the page
//! in headless Chromium from the link in an email delivered to a real SMTP server.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::referral::{ReferralCommand, ReferralStatus};
use trellis_domain::{OfferId, ReferralId};
use trellis_notifier::{Worker, WorkerSettings};
use trellis_store::links::LinkScope;
use trellis_store::notices::offer_reference;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_tests::link_pages::{LinkPages, Page, client, get, same_origin};
use trellis_tests::maildev::MailDev;
use trellis_tests::{Fixture, TestApp, on_both_databases, run_node, screenshot_dir};

const NHS: [&str; 3] = ["9434765919", "4010232137", "9990001200"];
const NOTE_FOR_PROVIDER: &str = "Keen on birdwatching; ring her after 2pm on the landline";
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
/// The offer page behind each link, through a browser-like HTTP client.
const OFFER_PAGE: LinkPages = LinkPages("/offers");
/// What only a provider that accepted may see.
const CONTACT_DETAILS: &[&str] = &["Hughes", "01154960123", "0115 496 0123", "margaret.hughes@example.org"];

// ---------------------------------------------------------------------------------------------------------
// Offers, links and what the database says about them.

/// An offer made to the fixture's walking group, with a live link.
struct LinkedOffer {
    id: OfferId,
    referral: ReferralId,
    token: String,
    expires_at: DateTime<Utc>,
}

/// A contacted referral for the person with NHS number `nhs`.
async fn contacted_referral(app: &TestApp, nhs: &str) -> ReferralId {
    let f = &app.fixture;
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let submitted = app.store.submit_referral(f.referral(nhs), None, &gp, Utc::now()).await.expect("submit");
    let id = submitted.referral.state.id;
    let contact = ReferralCommand::RecordContact { note: Some("Talked about walking".into()) };
    app.store.transition_referral(id, 1, contact, &lw, Utc::now()).await.expect("contact");
    id
}

/// Offers a new contacted referral to the walking group; the offer's email stays in the outbox.
async fn make_offer(app: &TestApp, nhs: &str) -> (OfferId, ReferralId, DateTime<Utc>) {
    let referral = contacted_referral(app, nhs).await;
    let lw = Fixture::actor(&app.fixture.link_worker);
    let expires_at = Utc::now() + TimeDelta::days(14);
    let timers = OfferTimers { expires_at, remind_at: Some(Utc::now() + TimeDelta::days(5)) };
    let note = Some(NOTE_FOR_PROVIDER.into());
    let offer = app
        .store
        .make_offer(OfferRequest::new(referral, app.fixture.walking_group.id, timers).with_note(note), &lw, Utc::now())
        .await
        .expect("make offer");
    (offer.state.id, referral, expires_at)
}

/// An offer with a link minted as the email would mint it.
async fn offer_with_link(app: &TestApp) -> LinkedOffer {
    let (id, referral, expires_at) = make_offer(app, NHS[0]).await;
    let token = app.store.mint_link(LinkScope::Offer(id), expires_at, Utc::now()).await.expect("link");
    LinkedOffer { id, referral, token, expires_at }
}

/// Everything a page view could change by mistake.
#[derive(Debug, PartialEq)]
struct Snapshot {
    offer: (OfferStatus, u32, Option<DeclineReason>),
    referral: (ReferralStatus, u32),
    history: usize,
    emails: usize,
}

async fn snapshot(app: &TestApp, offer: OfferId, referral: ReferralId) -> Snapshot {
    let lw = Fixture::actor(&app.fixture.link_worker);
    let o = app.store.offer(&lw, offer).await.expect("offer");
    let r = app.store.referral(&lw, referral, Utc::now()).await.expect("referral");
    Snapshot {
        offer: (o.state.status, o.state.version, o.state.decline_reason),
        referral: (r.state.status, r.state.version),
        history: app.store.offer_history(&lw, offer).await.expect("history").len(),
        emails: app.store.emails_for_offer(&lw, offer).await.expect("outbox").len(),
    }
}

async fn status_of(app: &TestApp, offer: OfferId) -> OfferStatus {
    let lw = Fixture::actor(&app.fixture.link_worker);
    app.store.offer(&lw, offer).await.expect("offer").state.status
}

// ---------------------------------------------------------------------------------------------------------
// What every page must carry.

fn assert_page_headers(page: &Page) {
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("x-robots-tag"), "noindex");
    assert_eq!(page.header("content-security-policy"), CSP);
    assert_eq!(page.header("x-frame-options"), "DENY");
}

fn assert_no_contact_details(body: &str) {
    for detail in CONTACT_DETAILS {
        assert!(!body.contains(detail), "contact detail {detail:?} shown before accepting");
    }
}

/// UK style, as the page writes dates.
fn day(at: DateTime<Utc>) -> String {
    at.format("%A %-d %B %Y").to_string()
}

// ---------------------------------------------------------------------------------------------------------
// Opening the link.

on_both_databases!(opening_the_link_shows_the_summary_and_changes_nothing, |app: TestApp| async move {
    let offer = offer_with_link(&app).await;
    let before = snapshot(&app, offer.id, offer.referral).await;

    let shown = get(&app, &format!("/offers/{}", offer.token), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_page_headers(&shown);
    assert_eq!(shown.header("content-type"), "text/html; charset=utf-8");
    let cookie = shown.header("set-cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/offers"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "cookie lacks {attribute}: {cookie}");
    }
    let body = &shown.body;
    assert!(body.contains("<html lang=\"en-GB\">"));
    assert!(body.contains("name=\"viewport\""));
    for expected in [
        "Margaret",
        "75-84",
        "Loneliness or isolation",
        "Being more active",
        "Keen on birdwatching; ring her after 2pm on the landline",
        "Long Eaton Walking Group",
        &offer_reference(offer.id),
        "Status: Waiting for your answer",
        &format!("Please answer by {}.", day(offer.expires_at)),
        "value=\"accept\"",
        "value=\"waitlist\"",
        "value=\"decline\"",
        "<legend>Why can you not offer a place?</legend>",
    ] {
        assert!(body.contains(expected), "the page lacks {expected:?}:\n{body}");
    }
    for reason in DeclineReason::ALL {
        let id = format!("reason-{}", reason.as_str());
        assert!(body.contains(&format!("id=\"{id}\"")) && body.contains(&format!("<label for=\"{id}\">")), "{id}");
    }
    assert!(body.contains("<label class=\"block\" for=\"note\">"));
    assert!(!body.contains("<script"), "no script");
    assert!(!body.contains("Confirm first attendance"));
    assert_no_contact_details(body);

    // A mail scanner opening it again, with and without the cookie, and HEAD.
    get(&app, &format!("/offers/{}", offer.token), None).await;
    get(&app, &format!("/offers/{}?done=accepted", offer.token), Some(&shown.cookie())).await;
    let head = client().head(format!("{}/offers/{}", app.base_url, offer.token)).send().await.expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(snapshot(&app, offer.id, offer.referral).await, before, "opening the link changed nothing");

    let again = get(&app, &format!("/offers/{}", offer.token), Some(&shown.cookie())).await;
    assert_eq!(again.csrf_field(), shown.csrf_field(), "an open page keeps its token, so two tabs both work");
    assert!(!again.body.contains("Thank you"), "a confirmation is only shown when it is true");

    let audit = app
        .store
        .audit_log(&trellis_store::audit::AuditFilter {
            referral: Some(offer.referral),
            limit: 50,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert!(audit.iter().filter(|e| e.action == "offer.link_opened").count() >= 4, "each opening is audited");
});

// ---------------------------------------------------------------------------------------------------------
// Forgery.

/// A POST that must be refused.
struct Forgery<'a> {
    what: &'static str,
    cookie: Option<&'a str>,
    form: Vec<(&'static str, &'a str)>,
    headers: Vec<(&'static str, String)>,
}

on_both_databases!(
    a_post_without_a_matching_token_or_from_another_site_is_refused_and_changes_nothing,
    |app: TestApp| async move {
        let offer = offer_with_link(&app).await;
        let session = OFFER_PAGE.open(&app, &offer.token).await;
        let before = snapshot(&app, offer.id, offer.referral).await;
        let other_token = "0".repeat(64);
        let own = same_origin(&app);
        let cookie = Some(session.cookie.as_str());
        let csrf = session.csrf.as_str();
        let accept = vec![("csrf", csrf), ("action", "accept")];
        let headers = |name: &'static str, value: &str| vec![(name, value.to_owned())];
        let attempts = [
            Forgery { what: "no cookie", cookie: None, form: accept.clone(), headers: own.clone() },
            Forgery { what: "no field", cookie, form: vec![("action", "accept")], headers: own.clone() },
            Forgery {
                what: "another token",
                cookie,
                form: vec![("csrf", &other_token), ("action", "accept")],
                headers: own.clone(),
            },
            Forgery {
                what: "empty field",
                cookie,
                form: vec![("csrf", ""), ("action", "accept")],
                headers: own.clone(),
            },
            Forgery {
                what: "cross-site, cookie and field right",
                cookie,
                form: accept.clone(),
                headers: headers("sec-fetch-site", "cross-site"),
            },
            Forgery {
                what: "foreign origin",
                cookie,
                form: accept.clone(),
                headers: headers("origin", "https://evil.example"),
            },
            Forgery {
                what: "lookalike origin",
                cookie,
                form: accept.clone(),
                headers: headers("origin", &format!("{}.evil.example", app.base_url)),
            },
            Forgery {
                what: "null origin, not attested same-origin",
                cookie,
                form: vec![("csrf", csrf), ("action", "decline"), ("reason", "other")],
                headers: headers("origin", "null"),
            },
        ];
        for Forgery { what, cookie, form, headers } in attempts {
            let refused = OFFER_PAGE.post(&app, &offer.token, cookie, &form, &headers).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{what}");
            assert_page_headers(&refused);
            assert!(refused.body.contains("Your answer was not saved"), "{what}: {}", refused.body);
            assert!(!refused.body.contains("Margaret"), "{what}: a refusal shows nothing of the offer");
        }
        // Not a form at all, as a cross-site `fetch` with text/plain could send.
        let text = client()
            .post(format!("{}/offers/{}", app.base_url, offer.token))
            .header(header::COOKIE, &session.cookie)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(format!("csrf={csrf}&action=accept"))
            .send()
            .await
            .expect("POST");
        assert_eq!(text.status(), StatusCode::FORBIDDEN);
        assert_eq!(snapshot(&app, offer.id, offer.referral).await, before, "no refused POST changed anything");

        // The same answer sent properly goes through.
        let sent = session.post(&app, &[("action", "accept")]).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        assert_eq!(status_of(&app, offer.id).await, OfferStatus::Accepted);
    }
);

// ---------------------------------------------------------------------------------------------------------
// Answers.

/// The reveal cookie an accepting answer set (its whole `Set-Cookie` value), if any.
fn reveal_set_cookie(page: &Page) -> Option<String> {
    page.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("trellis_offer_reveal="))
        .map(str::to_owned)
}

/// How often the contact details of `referral` were shown, by the audit log.
async fn contact_reads(app: &TestApp, referral: ReferralId) -> usize {
    let filter = trellis_store::audit::AuditFilter { referral: Some(referral), limit: 200, ..Default::default() };
    let log = app.store.audit_log(&filter).await.expect("audit");
    log.iter().filter(|e| e.action == "offer.contact_details_read").count()
}

on_both_databases!(accepting_shows_the_contact_details_and_how_to_confirm_attendance, |app: TestApp| async move {
    let offer = offer_with_link(&app).await;
    let session = OFFER_PAGE.open(&app, &offer.token).await;

    let accepted = session.post(&app, &[("action", "accept")]).await;
    assert_eq!(accepted.status, StatusCode::OK, "the answer to the acceptance is the page itself");
    assert_page_headers(&accepted);
    let after = snapshot(&app, offer.id, offer.referral).await;
    assert_eq!(after.offer, (OfferStatus::Accepted, 2, None));
    assert_eq!(after.referral, (ReferralStatus::Contacted, 2), "accepting alone does not move the referral");
    for expected in [
        "Thank you: you accepted this offer.",
        "Status: Accepted",
        "How to contact Margaret",
        "Margaret Hughes",
        "<a href=\"tel:01154960123\">0115 496 0123</a>",
        "margaret.hughes@example.org",
        "A phone call",
        "Confirm first attendance",
        "value=\"attended\"",
        &format!("The link works until {}.", day(Utc::now() + TimeDelta::days(7))),
    ] {
        assert!(accepted.body.contains(expected), "the page lacks {expected:?}:\n{}", accepted.body);
    }
    for gone in ["value=\"accept\"", "value=\"waitlist\"", "value=\"decline\""] {
        assert!(!accepted.body.contains(gone), "{gone} is no longer a choice");
    }
    assert_eq!(contact_reads(&app, offer.referral).await, 1, "showing them is audited");

    let set = reveal_set_cookie(&accepted).expect("a cookie to see them again");
    let path = format!("Path=/offers/{}", offer.token);
    for attribute in ["HttpOnly", "SameSite=Strict", path.as_str()] {
        assert!(set.split("; ").any(|a| a == attribute), "the reveal cookie lacks {attribute}: {set}");
    }
    let max_age: i64 = set.split("; ").find_map(|a| a.strip_prefix("Max-Age=")).expect("Max-Age").parse().unwrap();
    assert!((590..=600).contains(&max_age), "kept for minutes only: {set}");
    assert!(!set.contains("Secure"), "served over plain HTTP in this test");
    let reveal = set.split(';').next().expect("name=value").to_owned();
    assert!(!reveal.contains(offer.token.trim_start_matches("tro_")), "the cookie is not the link");

    // The same browser reloading the page within minutes sees them again.
    let both = format!("{}; {reveal}", session.cookie);
    let reloaded = get(&app, &OFFER_PAGE.path(&offer.token), Some(&both)).await;
    assert!(reloaded.body.contains("Margaret Hughes"), "{}", reloaded.body);
    assert_eq!(contact_reads(&app, offer.referral).await, 2, "each showing is audited");

    // A later plain GET of the link (a forwarded email, another browser) shows the offer without them.
    for cookie in [None, Some(session.cookie.as_str()), Some("trellis_offer_reveal=trv_0000")] {
        let plain = get(&app, &OFFER_PAGE.path(&offer.token), cookie).await;
        assert_eq!(plain.status, StatusCode::OK);
        assert_no_contact_details(&plain.body);
        assert!(plain.body.contains("Status: Accepted") && plain.body.contains("value=\"attended\""));
        assert!(plain.text().contains("Margaret's contact details were shown when you accepted."), "{}", plain.body);
    }
    let flagged = get(&app, &format!("/offers/{}?done=accepted", offer.token), Some(&session.cookie)).await;
    assert_no_contact_details(&flagged.body);
    assert!(!flagged.body.contains("contact details are below"), "no promise of what is not there");
    assert_eq!(contact_reads(&app, offer.referral).await, 2, "nothing shown, nothing audited");
});

on_both_databases!(a_provider_suggests_another_group_from_the_page_after_accepting, |app: TestApp| async move {
    use trellis_store::outbox::JobKind;

    let offer = offer_with_link(&app).await;
    let session = OFFER_PAGE.open(&app, &offer.token).await;
    assert!(
        !session.get(&app, &OFFER_PAGE.path(&offer.token)).await.body.contains("value=\"onward\""),
        "not before accepting"
    );
    let early = session.post(&app, &[("action", "onward"), ("service", "x"), ("onward_note", "x")]).await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY, "no service chosen");

    let now = Utc::now();
    let choir_org = app
        .store
        .create_organisation(
            trellis_store::accounts::NewOrganisation {
                gp_message_at_first_contact: false,
                mesh_mailbox: None,
                kind: trellis_domain::organisation::OrganisationKind::Provider,
                name: "Towpath Voices".into(),
                ods_code: None,
                email: trellis_domain::values::EmailAddress::parse("sing@towpath.example").ok(),
                link_worker_service: None,
            },
            now,
        )
        .await
        .expect("choir organisation");
    let choir = app
        .store
        .create_service(
            trellis_store::testing::plain_service(
                choir_org.id,
                "Men's Choir",
                "Singing under the bridge",
                "arts_and_culture",
            ),
            now,
        )
        .await
        .expect("choir");
    session.post(&app, &[("action", "accept")]).await;
    let page = session.get(&app, &OFFER_PAGE.path(&offer.token)).await;
    assert!(page.body.contains("Know a group that would suit Margaret too?"), "{}", page.body);
    assert!(page.body.contains("Men&#39;s Choir (Towpath Voices)"), "{}", page.body);
    let without_reason =
        session.post(&app, &[("action", "onward"), ("service", &choir.id.to_string()), ("onward_note", " ")]).await;
    assert_eq!(without_reason.status, StatusCode::UNPROCESSABLE_ENTITY);

    let passed = session
        .post(&app, &[("action", "onward"), ("service", &choir.id.to_string()), ("onward_note", "Loves to sing")])
        .await;
    assert_eq!(passed.status, StatusCode::SEE_OTHER);
    assert_eq!(passed.location(), format!("/offers/{}?done=passed-on", offer.token));
    assert!(session.get(&app, passed.location()).await.body.contains("the group you suggested has been asked"));

    let lw = Fixture::actor(&app.fixture.link_worker);
    let offers = app.store.offers_for_referral(&lw, offer.referral).await.expect("offers");
    assert_eq!(offers.len(), 2);
    assert_eq!((offers[1].state.part_of, offers[1].state.service), (Some(offer.id), choir.id));
    assert_eq!(offers[1].note_for_provider.as_deref(), Some("Loves to sing"));
    let kinds: Vec<JobKind> = app.store.outbox().await.expect("outbox").into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&JobKind::OnwardOfferProposed), "{kinds:?}");
});

on_both_databases!(acting_twice_shows_what_was_already_decided, |app: TestApp| async move {
    let offer = offer_with_link(&app).await;
    let session = OFFER_PAGE.open(&app, &offer.token).await;
    assert_eq!(session.post(&app, &[("action", "accept")]).await.status, StatusCode::OK);
    let decided = snapshot(&app, offer.id, offer.referral).await;

    for form in [
        vec![("action", "accept")],
        vec![("action", "decline"), ("reason", "at_capacity")],
        vec![("action", "waitlist")],
    ] {
        let again = session.post(&app, &form).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{form:?}: {}", again.body);
        assert_eq!(again.location(), format!("/offers/{}?done=unchanged", offer.token), "{form:?}");
    }
    assert_eq!(snapshot(&app, offer.id, offer.referral).await, decided, "nothing changed");

    let shown = session.get(&app, &format!("/offers/{}?done=unchanged", offer.token)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("Nothing was changed: this offer had already moved on before your answer arrived."));
    assert!(shown.body.contains("Status: Accepted"));
    assert_no_contact_details(&shown.body);
});

on_both_databases!(declining_records_the_reason_and_the_note, |app: TestApp| async move {
    let offer = offer_with_link(&app).await;
    let session = OFFER_PAGE.open(&app, &offer.token).await;
    let before = snapshot(&app, offer.id, offer.referral).await;

    // No reason: the page again, saying what to put right and keeping the note.
    let unreasoned = session.post(&app, &[("action", "decline"), ("note", "Full until <March>")]).await;
    assert_eq!(unreasoned.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_page_headers(&unreasoned);
    assert!(unreasoned.body.contains("<title>Error: Offer"));
    assert!(unreasoned.body.contains("<a href=\"#reason-at_capacity\">Choose why you cannot offer a place.</a>"));
    assert!(
        unreasoned.body.contains(">Full until &#60;March&#62;</textarea>")
            || unreasoned.body.contains(">Full until &lt;March&gt;</textarea>"),
        "{}",
        unreasoned.body
    );
    let bogus = session.post(&app, &[("action", "decline"), ("reason", "bored")]).await;
    assert_eq!(bogus.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = "x".repeat(4001);
    let too_long = session.post(&app, &[("action", "decline"), ("reason", "other"), ("note", &long)]).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.body.contains("Keep the note to 4000 characters or fewer."));
    let unknown = session.post(&app, &[("action", "delete")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(snapshot(&app, offer.id, offer.referral).await, before);

    // As a browser sends a textarea: CRLF line breaks.
    let note = "The group is for over-65s only.\r\nTry the Tuesday walk instead.";
    let declined = session.post(&app, &[("action", "decline"), ("reason", "not_eligible"), ("note", note)]).await;
    assert_eq!(declined.status, StatusCode::SEE_OTHER, "{}", declined.body);
    assert_eq!(declined.location(), format!("/offers/{}?done=declined", offer.token));
    let lw = Fixture::actor(&app.fixture.link_worker);
    let after = snapshot(&app, offer.id, offer.referral).await;
    assert_eq!(after.offer, (OfferStatus::Declined, 2, Some(DeclineReason::NotEligible)));
    let history = app.store.offer_history(&lw, offer.id).await.expect("history");
    assert_eq!(
        history.last().and_then(|e| e.note.as_deref()),
        Some("The group is for over-65s only.\nTry the Tuesday walk instead.")
    );

    let shown = session.get(&app, declined.location()).await;
    assert!(shown.body.contains("You declined this offer. The link worker has been told"));
    assert!(shown.body.contains("Status: Declined"));
    assert!(shown.body.contains("Reason: they are not eligible for this service."));
    assert!(!shown.body.contains("<form"), "nothing left to do");
    assert_no_contact_details(&shown.body);
});

on_both_databases!(waitlisting_keeps_the_offer_open_to_accept_later, |app: TestApp| async move {
    let offer = offer_with_link(&app).await;
    let session = OFFER_PAGE.open(&app, &offer.token).await;

    let waitlisted = session.post(&app, &[("action", "waitlist")]).await;
    assert_eq!(waitlisted.location(), format!("/offers/{}?done=waitlisted", offer.token));
    assert_eq!(status_of(&app, offer.id).await, OfferStatus::Waitlisted);
    let shown = session.get(&app, waitlisted.location()).await;
    assert!(shown.body.contains("Margaret is on your waiting list"));
    assert!(shown.body.contains("Status: On your waiting list"));
    assert!(shown.body.contains("value=\"accept\"") && shown.body.contains("value=\"decline\""));
    assert!(!shown.body.contains("value=\"waitlist\""));
    assert_no_contact_details(&shown.body);

    let accepted = session.post(&app, &[("action", "accept")]).await;
    assert_eq!(accepted.status, StatusCode::OK);
    assert!(accepted.body.contains("Margaret Hughes"), "accepting from the waiting list shows them too");
});

on_both_databases!(confirming_first_attendance_moves_the_referral_to_attending, |app: TestApp| async move {
    let offer = offer_with_link(&app).await;
    let session = OFFER_PAGE.open(&app, &offer.token).await;

    let early = session.post(&app, &[("action", "attended")]).await;
    assert_eq!(early.location(), format!("/offers/{}?done=unchanged", offer.token), "not before accepting");
    assert_eq!(status_of(&app, offer.id).await, OfferStatus::Offered);

    session.post(&app, &[("action", "accept")]).await;
    let attended = session.post(&app, &[("action", "attended")]).await;
    assert_eq!(attended.status, StatusCode::OK, "the confirmation is the answer: the link stops working now");
    let after = snapshot(&app, offer.id, offer.referral).await;
    assert_eq!(after.offer.0, OfferStatus::Started);
    assert_eq!(after.referral, (ReferralStatus::Attending, 3), "moved in the same transaction");

    assert!(attended.body.contains("Thank you: first attendance confirmed."));
    assert!(attended.body.contains("Status: Attending"));
    assert!(attended.text().contains(&format!("You confirmed Margaret's first attendance on {}.", day(Utc::now()))));
    assert!(!attended.body.contains("value=\"attended\""));
    assert!(!attended.body.contains("The link works until"));
    assert_no_contact_details(&attended.body);

    let later = session.get(&app, &OFFER_PAGE.path(&offer.token)).await;
    assert_eq!(later.status, StatusCode::NOT_FOUND, "the link no longer works");
    assert!(later.body.contains("This link is not valid"));
    let again = session.post(&app, &[("action", "attended")]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
});

// ---------------------------------------------------------------------------------------------------------
// Links that cannot be used.

on_both_databases!(unknown_tampered_and_expired_links_show_the_same_invalid_page, |app: TestApp| async move {
    let offer = offer_with_link(&app).await;
    let now = Utc::now();
    let expired = app
        .store
        .mint_link(LinkScope::Offer(offer.id), now - TimeDelta::minutes(1), now - TimeDelta::days(15))
        .await
        .expect("link");
    let last = offer.token.chars().last().expect("token");
    let tampered = format!("{}{}", &offer.token[..offer.token.len() - 1], if last == '0' { '1' } else { '0' });
    let unknown = format!("tro_{}", "ab".repeat(32));
    let cases = [
        ("expired", expired.clone()),
        ("tampered", tampered),
        ("unknown", unknown),
        ("truncated", offer.token[..20].to_owned()),
        ("another prefix", offer.token.replacen("tro_", "trl_", 1)),
        ("nonsense", "%F0%9F%92%A9".to_owned()),
        ("overlong", format!("tro_{}", "a".repeat(500))),
    ];
    let session = OFFER_PAGE.open(&app, &offer.token).await;
    let before = snapshot(&app, offer.id, offer.referral).await;

    let mut bodies = vec![];
    for (what, token) in &cases {
        let shown = get(&app, &format!("/offers/{token}"), None).await;
        assert_eq!(shown.status, StatusCode::NOT_FOUND, "{what}");
        assert_page_headers(&shown);
        assert!(shown.headers.get("set-cookie").is_none(), "{what}: no cookie for a dead link");
        assert!(shown.body.contains("This link is not valid"), "{what}");
        assert!(!shown.body.contains("Margaret") && !shown.body.contains("Walking"), "{what} leaks the offer");
        bodies.push(shown.body);
        // Acting through it, with a genuine cookie and token from a live page.
        let acted = OFFER_PAGE
            .post(
                &app,
                token,
                Some(&session.cookie),
                &[("csrf", &session.csrf), ("action", "accept")],
                &same_origin(&app),
            )
            .await;
        assert_eq!(acted.status, StatusCode::NOT_FOUND, "{what}");
        bodies.push(acted.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "one page for every reason");
    assert_eq!(snapshot(&app, offer.id, offer.referral).await, before);

    // The offer itself is fine: its live link still works.
    assert_eq!(session.post(&app, &[("action", "accept")]).await.status, StatusCode::OK);
});

// ---------------------------------------------------------------------------------------------------------
// Logs.

/// Collects what is logged.
#[derive(Clone)]
pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything this test process logs from now on: the production default (`info`) for all, and every
/// level for the API and the store. `None` when `TEST_LOG` already sent the logs elsewhere.
pub(crate) fn captured_logs() -> Option<Capture> {
    use tracing_subscriber::util::SubscriberInitExt;
    static LOGS: OnceLock<Option<Capture>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let capture = Capture(Arc::new(Mutex::new(Vec::new())));
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info,trellis_api=trace,trellis_store=trace")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
            .try_init()
            .ok()
            .map(|()| capture)
    })
    .clone()
}

on_both_databases!(the_link_token_is_never_logged, |app: TestApp| async move {
    let Some(logs) = captured_logs() else {
        eprintln!("TEST_LOG is set, so the logs go to the test output and cannot be searched here: not checked");
        return;
    };
    let offer = offer_with_link(&app).await;
    let session = OFFER_PAGE.open(&app, &offer.token).await;
    assert_eq!(session.post(&app, &[("action", "decline")]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        OFFER_PAGE.post(&app, &offer.token, None, &[("action", "accept")], &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let accepted = session.post(&app, &[("action", "accept")]).await;
    assert_eq!(accepted.status, StatusCode::OK);
    assert_eq!(session.post(&app, &[("action", "accept")]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, &format!("/offers/{}0", offer.token), None).await.status, StatusCode::NOT_FOUND);

    let logged = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
    assert!(logged.contains("provider answered"), "the capture works:\n{logged}");
    assert!(logged.contains("refused a POST that may be forged"));
    let secret = offer.token.trim_start_matches("tro_");
    assert!(!logged.contains(secret), "the token was logged:\n{logged}");
    let reveal = reveal_set_cookie(&accepted).expect("a reveal cookie");
    let grant = reveal.split(';').next().and_then(|c| c.strip_prefix("trellis_offer_reveal=trv_")).expect("grant");
    assert!(!logged.contains(grant), "the reveal grant was logged");
});

// ---------------------------------------------------------------------------------------------------------
// A real browser, from a real email.

/// Sends the outbox through the notifier's worker to `maildev`, as production does.
async fn deliver_outbox(app: &TestApp, maildev: &MailDev) {
    let worker =
        Worker::new(app.store.clone(), maildev.mailer(), WorkerSettings::new("provider-page-test", &app.base_url));
    for _ in 0..20 {
        let report = worker.tick(Utc::now()).await;
        assert_eq!(report.errors, 0, "{report:?}");
        if report.claimed == 0 {
            return;
        }
    }
    panic!("the outbox did not drain");
}

/// The provider link in an email's text, and the email's id at maildev.
fn link_in(email: &Value, base_url: &str) -> (String, String) {
    let text = email["text"].as_str().expect("a text part");
    let start = text.find(&format!("{base_url}/offers/")).expect("a provider link in the email");
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace() && *c != '>' && *c != ')').collect();
    let html = email["html"].as_str().expect("an HTML part");
    assert!(html.contains(&format!("href=\"{link}\"")), "the HTML part links to the same page");
    (email["id"].as_str().expect("maildev id").to_owned(), link)
}

on_both_databases!(the_provider_page_works_in_a_real_browser, |app: TestApp| async move {
    let backend = match app.store.connection().get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    let maildev = MailDev::start().await;
    // Three offers: one to accept and confirm, one to decline, one only opened (as a mail scanner would).
    let (accept_id, accept_referral, _) = make_offer(&app, NHS[0]).await;
    let (decline_id, decline_referral, _) = make_offer(&app, NHS[1]).await;
    let (opened_id, opened_referral, _) = make_offer(&app, NHS[2]).await;
    deliver_outbox(&app, &maildev).await;

    let emails = maildev.wait_for(3).await;
    let email_for = |offer: OfferId| {
        let reference = offer_reference(offer);
        let email = emails
            .iter()
            .find(|e| e["subject"].as_str().is_some_and(|s| s.contains(&reference)))
            .unwrap_or_else(|| panic!("no email for {reference}"));
        let (id, link) = link_in(email, &app.base_url);
        json!({ "emailHtml": format!("{}/api/email/{id}/html", maildev.web_url()), "link": link })
    };
    let (accept, decline, opened) = (email_for(accept_id), email_for(decline_id), email_for(opened_id));

    let now = Utc::now();
    let expired = app
        .store
        .mint_link(LinkScope::Offer(decline_id), now - TimeDelta::minutes(1), now - TimeDelta::days(15))
        .await
        .expect("link");
    let link = accept["link"].as_str().expect("link");
    let tampered = format!("{}{}", &link[..link.len() - 1], if link.ends_with('0') { '1' } else { '0' });
    let opened_before = snapshot(&app, opened_id, opened_referral).await;

    let dir = screenshot_dir("provider-page", backend);
    let config = json!({
        "baseUrl": app.base_url,
        "accept": accept,
        "decline": decline,
        "opened": opened,
        "expiredUrl": format!("{}/offers/{expired}", app.base_url),
        "tamperedUrl": tampered,
        "screenshots": dir,
        "label": backend,
    });
    let output =
        tokio::task::spawn_blocking(move || run_node("provider-page.mjs", &[&config.to_string()])).await.expect("node");
    println!("{output}");

    let lw = Fixture::actor(&app.fixture.link_worker);
    let accepted = snapshot(&app, accept_id, accept_referral).await;
    assert_eq!(accepted.offer.0, OfferStatus::Started, "accepted, then first attendance confirmed");
    assert_eq!(accepted.referral.0, ReferralStatus::Attending);
    let declined = snapshot(&app, decline_id, decline_referral).await;
    assert_eq!(declined.offer, (OfferStatus::Declined, 2, Some(DeclineReason::AtCapacity)));
    let note = app.store.offer_history(&lw, decline_id).await.expect("history").pop().and_then(|e| e.note);
    assert_eq!(note.as_deref(), Some("Full until March.\nTry us again then."), "typed in the browser, two lines");
    assert_eq!(snapshot(&app, opened_id, opened_referral).await, opened_before, "opening in a browser changed nothing");
    for shot in [
        "01-offer",
        "02-accepted",
        "02b-accepted-later",
        "03-attended",
        "04-decline-chosen",
        "05-declined",
        "06-invalid",
    ] {
        assert!(dir.join(format!("{shot}.png")).exists(), "screenshot {shot} missing");
    }
});
