//! The link worker's side of the web console over HTTP, on both databases: the referral in full, each
//! action's form, service search, the offer reference in the API, errors that keep what was typed, and
//! the conflict page when someone else changed the referral first. The last test drives it all in
//! headless Chromium, with email through maildev: the practice submits with the referral form, the
//! link worker works the referral by keyboard alone.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use trellis_domain::offer::{OfferCommand, OfferStatus};
use trellis_domain::referral::{ReferralCommand, ReferralEventKind, ReferralStatus};
use trellis_domain::values::EmailAddress;
use trellis_domain::{ReferralId, Role};
use trellis_notifier::{Worker, WorkerSettings};
use trellis_store::accounts::{NewUser, User};
use trellis_store::audit::AuditFilter;
use trellis_store::notices::offer_reference;
use trellis_store::offers::OfferRequest;
use trellis_store::testing::Fixture;
use trellis_tests::console::{session_for, sign_in, submit_from, worker};
use trellis_tests::link_pages::{Page, get, post, same_origin};
use trellis_tests::maildev::{MailDev, free_port, smtp_mailer};
use trellis_tests::{TestApp, run_node, screenshot_dir};

const NHS: &str = "9434765919";

/// A referral from the fixture's practice, as the GP submitted it.
async fn referral(app: &TestApp, nhs: &str) -> ReferralId {
    let gp = Fixture::actor(&app.fixture.gp);
    app.store.submit_referral(app.fixture.referral(nhs), None, &gp, Utc::now()).await.unwrap().referral.state.id
}

/// Another link worker of the fixture's service.
async fn colleague(app: &TestApp) -> User {
    let new = NewUser {
        organisation: app.fixture.service.id,
        role: Role::LinkWorker,
        email: EmailAddress::parse("priya@erewash.example").unwrap(),
        name: "Priya Link".into(),
    };
    app.store.create_user(new, Utc::now()).await.unwrap()
}

async fn status_of(app: &TestApp, id: ReferralId) -> (ReferralStatus, u32) {
    let lw = Fixture::actor(&app.fixture.link_worker);
    let r = app.store.referral(&lw, id, Utc::now()).await.unwrap();
    (r.state.status, r.state.version)
}

on_both_databases!(
    a_link_worker_sees_the_referral_in_full_with_each_offers_reference_deliveries_and_flags_and_the_read_is_audited,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let f = &app.fixture;
        let session = sign_in(&app, &maildev, &f.link_worker.email).await;
        let lw = Fixture::actor(&f.link_worker);
        let id = referral(&app, NHS).await;
        let contact = ReferralCommand::RecordContact { note: Some("Likes walking".into()) };
        app.store.transition_referral(id, 1, contact, &lw, Utc::now()).await.unwrap();
        let timers = app.store.policy().offer_timers(Utc::now());
        let sent = app
            .store
            .make_offer(OfferRequest::new(id, f.walking_group.id, timers).at_version(2), &lw, Utc::now())
            .await
            .unwrap();
        worker(&app, &maildev).tick(Utc::now()).await;
        // A second offer whose email cannot be delivered (nothing listens on the port) and which expires.
        let unsent = app
            .store
            .make_offer(OfferRequest::new(id, f.walking_group.id, timers).at_version(2), &lw, Utc::now())
            .await
            .unwrap();
        let failing = WorkerSettings {
            max_attempts: 1,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            ..WorkerSettings::new("failing", app.base_url.clone())
        };
        Worker::new(app.store.clone(), smtp_mailer(free_port()), failing).tick(Utc::now()).await;
        let system = trellis_domain::Actor::system();
        app.store.transition_offer(unsent.state.id, 1, OfferCommand::Expire, &system, Utc::now()).await.unwrap();

        let before = app
            .store
            .audit_log(&AuditFilter { actor: Some(f.link_worker.id), limit: 500, ..Default::default() })
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "referral.read" && e.referral == Some(id))
            .count();
        let page = get(&app, &format!("/referrals/{id}"), Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let text = page.text();
        for shown in [
            "Margaret Hughes",
            "943 476 5919",
            "17 May 1948",
            "01154960123",
            "margaret.hughes@example.org",
            "NG10 1AB",
            "Consented to share with the network. Recorded by Dr Patel",
            "Long Eaton Health Centre",
            "First contact made",
            "Sam Link, Erewash PCN Link Workers",
            "Likes walking",
            &offer_reference(sent.state.id),
            &offer_reference(unsent.state.id),
            "The offer, to the provider",
            "Sent",
            "Could not be delivered",
            "Delivery failed",
            "Offer expired",
            "Expired: no answer in time",
            "An offer expired without an answer",
        ] {
            assert!(text.contains(shown), "the page does not show {shown:?}");
        }
        let after = app
            .store
            .audit_log(&AuditFilter { actor: Some(f.link_worker.id), limit: 500, ..Default::default() })
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "referral.read" && e.referral == Some(id))
            .count();
        assert!(after > before, "opening the page is audited");

        // Another service's link worker cannot tell that it exists.
        let other = session_for(&app, f.other_link_worker.id).await;
        let theirs = get(&app, &format!("/referrals/{id}"), Some(&other)).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        assert!(!theirs.text().contains("Margaret"));
    }
);

/// The referral's page as `session` sees it.
async fn open_referral(app: &TestApp, session: &str, id: ReferralId) -> Page {
    get(app, &format!("/referrals/{id}"), Some(session)).await
}

on_both_databases!(
    a_link_worker_works_a_referral_through_its_forms_from_assignment_to_closure,
    |app: TestApp| async move {
        let f = &app.fixture;
        let id = referral(&app, NHS).await;
        let session = session_for(&app, f.link_worker.id).await;
        let path = |action: &str| format!("/referrals/{id}/{action}");
        let open = || open_referral(&app, &session, id);

        let page = open().await;
        let me = f.link_worker.id.to_string();
        let done = submit_from(&app, &session, &page, &path("assign"), &[("to", &me)]).await;
        assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, &*format!("/referrals/{id}?done=assigned")));
        let page = get(&app, done.location(), Some(&session)).await;
        assert!(page.text().contains("The referral is assigned."));
        let lw = Fixture::actor(&f.link_worker);
        assert_eq!(app.store.referral(&lw, id, Utc::now()).await.unwrap().state.assigned_to, Some(f.link_worker.id));

        let done = submit_from(&app, &session, &page, &path("contact-attempt"), &[("note", "No answer at 10am")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let page = open().await;
        let done =
            submit_from(&app, &session, &page, &path("contact"), &[("note", "Keen on walks"), ("for_gp", "yes")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let history = app.store.referral_history(&lw, id).await.unwrap();
        let kinds: Vec<_> = history.iter().map(|e| e.kind.clone()).collect();
        assert!(kinds.contains(&ReferralEventKind::ContactAttempted));
        let contacted = history.iter().find(|e| e.kind == ReferralEventKind::Contacted).unwrap();
        assert_eq!((contacted.note.as_deref(), contacted.note_for_gp), (Some("Keen on walks"), true));

        // Find services: near the person's postcode by default, each result saying why, how far, what room.
        let found = get(&app, &path("services"), Some(&session)).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        let text = found.text();
        assert!(text.contains("Long Eaton Walking Group") && text.contains("Green Spring Network"));
        assert!(text.contains("Why it matched") && text.contains(" km"), "{text}");
        assert!(text.contains("5 of 20 places free (open)"), "{text}");
        assert!(found.body.contains(&format!("name=\"service\" value=\"{}\"", f.walking_group.id)));
        let none = get(
            &app,
            &format!("{}?search=yes&needs=debt&postcode=NG10+1AB&radius=10", path("services")),
            Some(&session),
        )
        .await;
        assert!(none.text().contains("No services found"), "a need no service meets finds nothing");

        let form = get(&app, &format!("{}?service={}", path("offer"), f.walking_group.id), Some(&session)).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let service = f.walking_group.id.to_string();
        let note = "Loves birdwatching";
        let done = submit_from(&app, &session, &form, &path("offer"), &[("service", &service), ("note", note)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let offers = app.store.offers_for_referral(&lw, id).await.unwrap();
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].note_for_provider.as_deref(), Some(note));
        let offer = offers[0].state.id;

        // The provider accepts; the link worker records attendance, the offer's progress and closes.
        let provider = Fixture::actor(&f.provider_user);
        app.store.transition_offer(offer, 1, OfferCommand::Accept, &provider, Utc::now()).await.unwrap();
        let page = open().await;
        let done =
            submit_from(&app, &session, &page, &path("attendance"), &[("note", "First walk on Wednesday")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(status_of(&app, id).await.0, ReferralStatus::Attending);
        let offer_path = format!("/referrals/{id}/offers/{offer}");
        for (update, offer_version, expected) in
            [("start", "2", OfferStatus::Started), ("end_early", "3", OfferStatus::EndedEarly)]
        {
            let page = open().await;
            let form = [("update", update), ("offer_version", offer_version)];
            let done = submit_from(&app, &session, &page, &offer_path, &form).await;
            assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
            assert_eq!(app.store.offer(&lw, offer).await.unwrap().state.status, expected);
        }
        let page = open().await;
        let done = submit_from(&app, &session, &page, &path("end-activity"), &[("note", "Knee trouble")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(status_of(&app, id).await.0, ReferralStatus::Contacted);

        let page = open().await;
        let done = submit_from(
            &app,
            &session,
            &page,
            &path("close"),
            &[("reason", "completed"), ("no_follow_up", "declined"), ("note", "Walking on her own now")],
        )
        .await;
        assert_eq!(done.location(), format!("/referrals/{id}?done=closed"), "{}", done.body);
        let closed = app.store.referral(&lw, id, Utc::now()).await.unwrap();
        assert_eq!(closed.state.status, ReferralStatus::Closed);
        let page = open().await;
        assert!(page.text().contains("Outcome: Completed"));
        assert!(!page.body.contains(&format!("action=\"/referrals/{id}/close\"")), "no forms on a closed referral");
    }
);

on_both_databases!(
    an_offer_can_be_withdrawn_from_the_page_and_the_api_gives_each_offer_the_reference_its_emails_carry,
    |app: TestApp| async move {
        let f = &app.fixture;
        let lw = Fixture::actor(&f.link_worker);
        let id = referral(&app, NHS).await;
        let contact = ReferralCommand::RecordContact { note: None };
        app.store.transition_referral(id, 1, contact, &lw, Utc::now()).await.unwrap();
        let timers = app.store.policy().offer_timers(Utc::now());
        let offer = app
            .store
            .make_offer(OfferRequest::new(id, f.walking_group.id, timers).at_version(2), &lw, Utc::now())
            .await
            .unwrap();
        let data = app
            .ok(
                &app.tokens.link_worker,
                "query($id: ID!) { referral(id: $id) { offers { id reference } } }",
                serde_json::json!({ "id": id.to_string() }),
            )
            .await;
        assert_eq!(data["referral"]["offers"][0]["reference"], offer_reference(offer.state.id));
        assert!(offer_reference(offer.state.id).starts_with("OF-"));

        let session = session_for(&app, f.link_worker.id).await;
        let page = get(&app, &format!("/referrals/{id}"), Some(&session)).await;
        let path = format!("/referrals/{id}/offers/{}", offer.state.id);
        let done = submit_from(
            &app,
            &session,
            &page,
            &path,
            &[("update", "withdraw"), ("offer_version", "1"), ("note", "She found a group herself")],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let withdrawn = app.store.offer(&lw, offer.state.id).await.unwrap();
        assert_eq!(withdrawn.state.status, OfferStatus::Withdrawn);
    }
);

on_both_databases!(
    a_refused_change_shows_the_error_at_its_field_keeps_what_was_typed_and_changes_nothing,
    |app: TestApp| async move {
        let f = &app.fixture;
        let id = referral(&app, NHS).await;
        let session = session_for(&app, f.link_worker.id).await;
        let page = get(&app, &format!("/referrals/{id}"), Some(&session)).await;
        let before = status_of(&app, id).await;

        // Attendance before first contact: the domain refuses; the note is kept.
        let refused =
            submit_from(&app, &session, &page, &format!("/referrals/{id}/attendance"), &[("note", "Came to the walk")])
                .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        let text = refused.text();
        assert!(text.contains("There is a problem") && text.contains("Record attendance cannot be done now"), "{text}");
        assert!(refused.body.contains(">Came to the walk</textarea>"));
        assert!(text.contains("<title>Error: "));

        // Completed with no follow-up measure and no reason why: the store asks for it, keeping the rest.
        let refused = submit_from(
            &app,
            &session,
            &page,
            &format!("/referrals/{id}/close"),
            &[("reason", "completed"), ("note", "All done")],
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert!(refused.text().contains("Choose why no follow-up measure was taken"));
        assert!(refused.body.contains("href=\"#close-no-follow-up\""));
        assert!(refused.body.contains("value=\"completed\" checked"), "the reason chosen is kept");
        assert!(refused.body.contains(">All done</textarea>"));

        let no_reason =
            submit_from(&app, &session, &page, &format!("/referrals/{id}/close"), &[("note", "Oops")]).await;
        assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(no_reason.text().contains("Choose why the referral is closing"));
        assert_eq!(status_of(&app, id).await, before, "nothing changed");

        // A postcode that is not one, on the search: the error at the field, what was typed kept.
        let bad = get(
            &app,
            &format!("/referrals/{id}/services?search=yes&needs=loneliness&postcode=NOT+A+CODE&radius=ten"),
            Some(&session),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let text = bad.text();
        assert!(text.contains("Enter a full UK postcode") && text.contains("Enter a distance in kilometres"), "{text}");
        assert!(bad.body.contains("value=\"NOT A CODE\"") && bad.body.contains("value=\"ten\""));

        // From another site, or without the page's token: refused, nothing changed.
        let cross_site = [("origin", "https://evil.example".to_owned()), ("sec-fetch-site", "cross-site".into())];
        let version = page.hidden_field("version").unwrap();
        let forged = post(
            &app,
            &format!("/referrals/{id}/contact"),
            Some(&session),
            &[("csrf", &page.csrf_field()), ("version", &version)],
            &cross_site,
        )
        .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let tokenless = post(
            &app,
            &format!("/referrals/{id}/contact"),
            Some(&session),
            &[("version", &version)],
            &same_origin(&app),
        )
        .await;
        assert_eq!(tokenless.status, StatusCode::FORBIDDEN);
        assert_eq!(status_of(&app, id).await, before, "nothing changed");

        // A practice cannot work the referral through these forms: the domain says no.
        let gp = session_for(&app, f.gp.id).await;
        let gp_page = get(&app, &format!("/referrals/{id}"), Some(&gp)).await;
        let refused = submit_from(&app, &gp, &gp_page, &format!("/referrals/{id}/contact"), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.text().contains("only a link worker of the referral's service can do this"));
        assert_eq!(status_of(&app, id).await, before, "nothing changed");
    }
);

on_both_databases!(
    a_form_older_than_the_referral_shows_who_changed_what_keeps_what_was_typed_and_overwrites_nothing,
    |app: TestApp| async move {
        let f = &app.fixture;
        let id = referral(&app, NHS).await;
        let priya = colleague(&app).await;
        let session = session_for(&app, f.link_worker.id).await;
        let page = get(&app, &format!("/referrals/{id}"), Some(&session)).await;

        // Meanwhile, a colleague records first contact.
        let other = Fixture::actor(&priya);
        let contact = ReferralCommand::RecordContact { note: Some("Spoke to her daughter".into()) };
        app.store.transition_referral(id, 1, contact, &other, Utc::now()).await.unwrap();
        let (_, version) = status_of(&app, id).await;

        let stale = submit_from(
            &app,
            &session,
            &page,
            &format!("/referrals/{id}/contact-attempt"),
            &[("note", "Left a voicemail"), ("for_gp", "yes")],
        )
        .await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
        let text = stale.text();
        for shown in [
            "Someone else changed this referral",
            "First contact made",
            "Priya Link, Erewash PCN Link Workers",
            "Spoke to her daughter",
            "Record a contact attempt",
            "Left a voicemail",
            "Share the note with the GP",
        ] {
            assert!(text.contains(shown), "the conflict page does not show {shown:?}: {text}");
        }
        assert_eq!(status_of(&app, id).await.1, version, "nothing was written");
        let lw = Fixture::actor(&f.link_worker);
        let history = app.store.referral_history(&lw, id).await.unwrap();
        assert!(!history.iter().any(|e| e.kind == ReferralEventKind::ContactAttempted));

        // Saving what was typed, now knowing what changed, writes it against the version now.
        assert_eq!(stale.hidden_field("version"), Some(version.to_string()));
        let cookie_page = stale;
        let again = post(
            &app,
            &format!("/referrals/{id}/contact-attempt"),
            Some(&session),
            &[
                ("csrf", &cookie_page.csrf_field()),
                ("version", &version.to_string()),
                ("for_gp", "yes"),
                ("note", "Left a voicemail"),
            ],
            &same_origin(&app),
        )
        .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
        let history = app.store.referral_history(&lw, id).await.unwrap();
        let attempt = history.iter().find(|e| e.kind == ReferralEventKind::ContactAttempted).unwrap();
        assert_eq!(attempt.note.as_deref(), Some("Left a voicemail"));

        // An offer answered by its provider after the page was shown: the offer's change is named.
        let timers = app.store.policy().offer_timers(Utc::now());
        let (_, version) = status_of(&app, id).await;
        let offer = app
            .store
            .make_offer(OfferRequest::new(id, f.walking_group.id, timers).at_version(version), &lw, Utc::now())
            .await
            .unwrap();
        let page = get(&app, &format!("/referrals/{id}"), Some(&session)).await;
        let provider = Fixture::actor(&f.provider_user);
        app.store.transition_offer(offer.state.id, 1, OfferCommand::Accept, &provider, Utc::now()).await.unwrap();
        let stale = submit_from(
            &app,
            &session,
            &page,
            &format!("/referrals/{id}/offers/{}", offer.state.id),
            &[("update", "withdraw"), ("offer_version", "1"), ("note", "Found another group")],
        )
        .await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
        let text = stale.text();
        assert!(
            text.contains(&format!("Offer {} to Long Eaton Walking Group: Accepted", offer_reference(offer.state.id))),
            "{text}"
        );
        assert!(text.contains("Gene, Green Spring Network") && text.contains("Found another group"), "{text}");
        assert_eq!(app.store.offer(&lw, offer.state.id).await.unwrap().state.status, OfferStatus::Accepted);
    }
);

on_both_databases!(
    a_link_worker_works_a_referral_in_chromium_by_keyboard_alone_and_a_second_browser_meets_the_conflict_page,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let f = &app.fixture;
        let priya = colleague(&app).await;
        let now = Utc::now();
        let priya_link = app.store.create_sign_in_link(priya.id, now + TimeDelta::minutes(15), now).await.unwrap();
        let gp_link = app.store.create_sign_in_link(f.gp.id, now + TimeDelta::minutes(15), now).await.unwrap();

        // The notifier runs throughout, as in `trellis serve`, sending through maildev.
        let stop = Arc::new(AtomicBool::new(false));
        let running = {
            let (stop, worker) = (stop.clone(), worker(&app, &maildev));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    worker.tick(Utc::now()).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let backend = match app.store.backend() {
            sea_orm::DatabaseBackend::Postgres => "postgres",
            _ => "sqlite",
        };
        let dir = screenshot_dir("console-link-worker", backend);
        let config = serde_json::json!({
            "url": app.base_url,
            "maildev": maildev.web_url(),
            "linkWorkerEmail": f.link_worker.email,
            "providerEmail": "walks@greenspring.example",
            "gpPath": format!("/sign-in/{gp_link}"),
            "colleaguePath": format!("/sign-in/{priya_link}"),
            "outDir": dir,
        });
        let output = tokio::task::spawn_blocking(move || run_node("console-link-worker.mjs", &[&config.to_string()]))
            .await
            .expect("node");
        stop.store(true, Ordering::Relaxed);
        running.await.unwrap();
        let report: serde_json::Value = serde_json::from_str(output.trim().lines().last().unwrap()).expect(&output);
        assert_eq!(report["violations"], serde_json::json!([]), "axe-core found violations: {report:#}");
        assert_eq!(report["clicks"], 0, "the link worker's journey used no pointer: {report:#}");
        let pages: Vec<&str> =
            report["pages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        for name in [
            "referral",
            "find-services",
            "find-services-error",
            "offer-form",
            "referral-error",
            "conflict",
            "closed",
            "practice-outcome",
        ] {
            assert!(pages.iter().any(|p| p.ends_with(name)), "page {name} was not checked: {pages:?}");
            assert!(pages.iter().any(|p| dir.join(format!("{p}.png")).exists() && p.ends_with(name)));
        }

        // What the database says the journey did, to the referral the practice's form made.
        let id = ReferralId(report["referralId"].as_str().unwrap().parse().unwrap());
        let lw = Fixture::actor(&f.link_worker);
        let record = app.store.referral(&lw, id, Utc::now()).await.unwrap();
        assert_eq!(record.state.status, ReferralStatus::Closed);
        assert_eq!(record.state.assigned_to, Some(f.link_worker.id));
        assert_eq!(record.person.details.nhs_number.as_str(), NHS);
        let opened = app.store.referral_history(&lw, id).await.unwrap();
        assert_eq!(opened[0].actor.user, Some(f.gp.id), "the practice's form made it");
        let offers = app.store.offers_for_referral(&lw, id).await.unwrap();
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].note_for_provider.as_deref(), Some("Keen on birds; mornings suit her best"));
        let history = app.store.referral_history(&lw, id).await.unwrap();
        let by = |kind: ReferralEventKind| history.iter().find(|e| e.kind == kind).map(|e| e.actor.user);
        assert_eq!(by(ReferralEventKind::Contacted), Some(Some(f.link_worker.id)));
        assert_eq!(by(ReferralEventKind::ContactAttempted), Some(Some(priya.id)), "the colleague's change stands");
        let closing = history.iter().find(|e| matches!(e.kind, ReferralEventKind::Closed { .. })).unwrap();
        assert_eq!(closing.note.as_deref(), Some("Enjoying the walks"), "what was typed before the conflict was saved");
        let provider_answer = app.store.offer_history(&lw, offers[0].state.id).await.unwrap();
        assert!(provider_answer.iter().any(|e| e.to == OfferStatus::Accepted && e.actor.role == Role::Provider));
    }
);
