//! Email delivery end to end: the store's outbox, the notifier's worker, lettre over SMTP, and a real SMTP
//! server (maildev, started on loopback by each test) read back through its HTTP API. Every test runs on
//! SQLite and on PostgreSQL.
//!
//! Time is passed to `Worker::tick`, so retries are driven by moving `now` forward, never by sleeping;
//! nothing here asserts how fast anything is.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use trellis_domain::offer::OfferCommand;
use trellis_domain::referral::{ClosureReason, ReferralCommand};
use trellis_domain::{OfferId, ReferralId};
use trellis_notifier::{Mailer, MailerSettings, TransportSettings, Worker, WorkerSettings};
use trellis_store::notices::{DELIVERY_FAILED_FLAG, offer_reference};
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::outbox::{DeliveryStatus, JobKind, OutboxEmail};
use trellis_store::{DatabaseSettings, Store};
use trellis_tests::maildev::{MailDev, decode_quoted_printable, free_port, smtp_mailer};
use trellis_tests::{Backend, Fixture, TestDb, init_test_logging, on_both_backends};

const NHS: &str = "9434765919";
const PUBLIC_BASE_URL: &str = "http://trellis.test";
const NOTE_FOR_PROVIDER: &str = "Keen on birdwatching; ring her after 2pm on the landline";
const CONTACT_NOTE: &str = "Talked about the canal walks she used to do";

/// Everything about the fixture's person, and the free text written about her, that no email may carry.
const PERSONAL_DATA: &[&str] = &[
    "Margaret",
    "Hughes",
    NHS,
    "943 476 5919",
    "1948-05-17",
    "17/05/1948",
    "17 May 1948",
    "0115 496 0123",
    "01154960123",
    "margaret.hughes@example.org",
    "NG10 1AB",
    "NG101AB",
    "birdwatching",
    "canal walks",
    "Widowed",
];

// ---------------------------------------------------------------------------------------------------------
// The system under test.

fn settings(worker_id: &str) -> WorkerSettings {
    WorkerSettings {
        poll_interval: Duration::from_millis(50),
        batch: 5,
        lease: Duration::from_secs(60),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..WorkerSettings::new(worker_id, PUBLIC_BASE_URL)
    }
}

/// A migrated database, its store, and the fixture locality.
async fn locality(backend: Backend) -> (TestDb, Store, Fixture) {
    init_test_logging();
    let (db, store) = TestDb::migrated(backend).await;
    let fixture = Fixture::create(&store).await;
    (db, store, fixture)
}

/// A referral assigned to the fixture's link worker, who has spoken to the person.
async fn contacted_referral(store: &Store, f: &Fixture) -> ReferralId {
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let submitted = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.expect("submit");
    let id = submitted.referral.state.id;
    let assign = ReferralCommand::Assign { to: f.link_worker.id };
    store.transition_referral(id, 1, assign, &lw, Utc::now()).await.expect("assign");
    let contact = ReferralCommand::RecordContact { note: Some(CONTACT_NOTE.into()) };
    store.transition_referral(id, 2, contact, &lw, Utc::now()).await.expect("contact");
    id
}

fn timers() -> OfferTimers {
    OfferTimers { expires_at: Utc::now() + TimeDelta::days(14), remind_at: Some(Utc::now() + TimeDelta::days(5)) }
}

async fn offer(store: &Store, f: &Fixture, referral: ReferralId) -> OfferId {
    let lw = Fixture::actor(&f.link_worker);
    let note = Some(NOTE_FOR_PROVIDER.into());
    let made = store
        .make_offer(OfferRequest::new(referral, f.walking_group.id, timers()).with_note(note), &lw, Utc::now())
        .await;
    made.expect("make offer").state.id
}

/// Passes at `now` until one claims nothing and queues nothing.
async fn drain(worker: &Worker, now: DateTime<Utc>) {
    for _ in 0..50 {
        let report = worker.tick(now).await;
        assert_eq!(report.errors, 0, "{report:?}");
        if report.claimed == 0
            && report.reminders_queued == 0
            && report.offers_expired == 0
            && report.capacity_checks_queued == 0
        {
            return;
        }
    }
    panic!("the outbox did not drain");
}

fn header<'a>(email: &'a Value, name: &str) -> &'a str {
    email["headers"][name].as_str().unwrap_or_default()
}

fn assert_no_personal_data(what: &str, content: &str) {
    let lower = content.to_lowercase();
    for needle in PERSONAL_DATA {
        assert!(!lower.contains(&needle.to_lowercase()), "{what} carries personal data {needle:?}:\n{content}");
    }
}

/// Checks the raw message and both decoded parts.
async fn assert_email_has_no_personal_data(maildev: &MailDev, email: &Value) {
    let subject = email["subject"].as_str().unwrap_or_default();
    assert_no_personal_data(&format!("raw message {subject:?}"), &maildev.source(email).await);
    assert_no_personal_data(&format!("text of {subject:?}"), email["text"].as_str().unwrap_or_default());
    assert_no_personal_data(&format!("html of {subject:?}"), email["html"].as_str().unwrap_or_default());
}

/// The token in a provider link found in `text`.
fn link_token(text: &str) -> String {
    let start = text.find(&format!("{PUBLIC_BASE_URL}/offers/")).expect("a provider link") + PUBLIC_BASE_URL.len() + 8;
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

fn of_kind(rows: &[OutboxEmail], kind: JobKind) -> Vec<&OutboxEmail> {
    rows.iter().filter(|r| r.kind == kind).collect()
}

// ---------------------------------------------------------------------------------------------------------
// (a) The offer email: the link, and nothing personal.

async fn an_offer_email_arrives_with_its_link_and_no_personal_data(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let maildev = MailDev::start().await;
    let worker = Worker::new(store.clone(), maildev.mailer(), settings("w1"));
    let referral = contacted_referral(&store, &f).await;
    let offer_id = offer(&store, &f, referral).await;

    drain(&worker, Utc::now()).await;

    let emails = maildev.wait_for(1).await;
    assert_eq!(emails.len(), 1);
    let email = &emails[0];
    let row = &store.emails_for_offer(&Fixture::actor(&f.link_worker), offer_id).await.expect("rows")[0];
    assert_eq!(row.status, DeliveryStatus::Sent);
    assert_eq!(row.attempts, 1);
    assert_eq!(header(email, "message-id"), row.message_id, "the row's stable Message-ID");
    assert_eq!(email["to"][0]["address"], "walks@greenspring.example");
    assert_eq!(email["from"][0]["name"], "Erewash PCN Link Workers", "sent in the link workers' name");
    let subject = email["subject"].as_str().expect("subject");
    assert!(subject.contains(&offer_reference(offer_id)), "{subject}");
    assert_eq!(row.subject.as_deref(), Some(subject));

    let text = email["text"].as_str().expect("text part");
    let html = email["html"].as_str().expect("html part");
    for part in [text, html] {
        assert!(part.contains("Long Eaton Walking Group"), "names the service");
        assert!(part.contains("Loneliness or isolation") && part.contains("Being more active"), "names the needs");
        assert!(part.contains(&offer_reference(offer_id)), "carries the reference");
    }
    assert!(maildev.source(email).await.contains("Content-Type: multipart/alternative"), "text and html parts");
    assert_email_has_no_personal_data(&maildev, email).await;

    // The link works: it opens this offer for this provider.
    let token = link_token(text);
    assert!(html.contains(&format!("{PUBLIC_BASE_URL}/offers/{token}")), "the html part has the same link");
    let opened = store.open_offer_link(&token, Utc::now()).await.expect("the link opens");
    assert_eq!(opened.view.offer.state.id, offer_id);
    assert_eq!(opened.provider, f.provider.id);
}
on_both_backends!(an_offer_email_arrives_with_its_link_and_no_personal_data);

/// Every kind of email, each arriving at the SMTP server, none carrying personal data.
async fn every_kind_of_email_arrives_without_personal_data(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let maildev = MailDev::start().await;
    let referral = contacted_referral(&store, &f).await;
    let lw = Fixture::actor(&f.link_worker);
    let provider = Fixture::actor(&f.provider_user);
    let now = Utc::now();

    // An offer whose email cannot be delivered: the link worker is told.
    let undeliverable = offer(&store, &f, referral).await;
    // Capacity is checked daily here, so the walking group's provider is asked during the passes below.
    let daily = |id| WorkerSettings { capacity_check_every: Duration::from_secs(86_400), ..settings(id) };
    let failing = WorkerSettings { max_attempts: 1, ..daily("failing") };
    let failing = Worker::new(store.clone(), smtp_mailer(free_port()), failing);
    assert_eq!(failing.tick(Utc::now()).await.dead, 1);

    let worker = Worker::new(store.clone(), maildev.mailer(), daily("w1"));
    // An offer, its reminder, and the provider's answer.
    let first = offer(&store, &f, referral).await;
    drain(&worker, now + TimeDelta::days(6)).await;
    store.transition_offer(first, 1, OfferCommand::Accept, &provider, Utc::now()).await.expect("accept");
    // The provider passes the person on, and another offer lapses unanswered.
    let onward_timers = timers();
    store
        .make_offer(
            OfferRequest::new(referral, f.walking_group.id, onward_timers).onward_from(first),
            &provider,
            Utc::now(),
        )
        .await
        .expect("onward offer");
    let lapsing = OfferTimers { expires_at: Utc::now() + TimeDelta::minutes(1), remind_at: None };
    store.make_offer(OfferRequest::new(referral, f.walking_group.id, lapsing), &lw, Utc::now()).await.expect("offer");
    drain(&worker, now + TimeDelta::days(6)).await;
    // An administrator moves where the walking group's offers go: the old address hears.
    let admin = Fixture::actor(&f.admin);
    let moved = trellis_domain::values::EmailAddress::parse("bookings@greenspring.example").expect("address");
    let changes = trellis_store::directory::ServiceChanges { email: Some(Some(moved)), ..Default::default() };
    let version = store.service(f.walking_group.id).await.expect("service").version;
    store.update_service(&admin, f.walking_group.id, version, changes, Utc::now()).await.expect("email changed");
    // The referral closes: the practice hears.
    let version = store.referral(&lw, referral, Utc::now()).await.expect("referral").state.version;
    let note = Some("Walking weekly now".into());
    let not_offered = Some(trellis_domain::wellbeing::NoFollowUpReason::NotOffered);
    let completed = ClosureReason::Completed;
    store.close_referral(referral, version, completed, note, not_offered, &lw, Utc::now()).await.expect("close");
    // A link worker asks to sign in to the console: the link goes by email.
    assert!(store.request_sign_in(&f.link_worker.email, Utc::now()).await.expect("sign-in asked for"));
    drain(&worker, now + TimeDelta::days(6)).await;

    let rows = store.outbox().await.expect("outbox");
    for kind in JobKind::emails() {
        assert!(
            of_kind(&rows, kind).iter().any(|r| r.status == DeliveryStatus::Sent),
            "no {kind:?} email was sent: {rows:#?}"
        );
    }
    assert_eq!(of_kind(&rows, JobKind::DeliveryFailed)[0].recipient, "sam@erewash.example", "to the assignee");
    assert_eq!(of_kind(&rows, JobKind::ReferralClosed)[0].recipient, "practice@longeaton.example");
    assert_eq!(of_kind(&rows, JobKind::ServiceEmailChanged)[0].recipient, "walks@greenspring.example", "the old one");
    let dead: Vec<_> = rows.iter().filter(|r| r.status == DeliveryStatus::Dead).collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].offer, Some(undeliverable));

    let sent = rows.iter().filter(|r| r.status == DeliveryStatus::Sent).count();
    let emails = maildev.wait_for(sent).await;
    assert_eq!(emails.len(), sent, "one message per sent row");
    for email in &emails {
        assert_email_has_no_personal_data(&maildev, email).await;
    }
    let closed =
        emails.iter().find(|e| e["subject"].as_str().is_some_and(|s| s.starts_with("Referral RF-"))).expect("closure");
    assert!(closed["text"].as_str().is_some_and(|t| t.contains("Reason: completed")), "{closed}");
    assert!(!closed["text"].as_str().unwrap_or_default().contains("Walking weekly"), "no closure note");
}
on_both_backends!(every_kind_of_email_arrives_without_personal_data);

/// A reminder is sent days after the offer; its link must still stop when the offer does.
async fn a_reminders_link_never_outlives_the_offer(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let maildev = MailDev::start().await;
    let worker = Worker::new(store.clone(), maildev.mailer(), settings("w1"));
    let referral = contacted_referral(&store, &f).await;
    let offer_id = offer(&store, &f, referral).await;
    let lw = Fixture::actor(&f.link_worker);
    let expires_at = store.offer(&lw, offer_id).await.expect("offer").expires_at;

    let now = Utc::now();
    drain(&worker, now).await;
    drain(&worker, now + TimeDelta::days(6)).await;
    let rows = store.emails_for_offer(&Fixture::actor(&f.link_worker), offer_id).await.expect("rows");
    let reminder = of_kind(&rows, JobKind::OfferReminder);
    assert_eq!(reminder.len(), 1, "{rows:#?}");
    let emails = maildev.wait_for(2).await;
    let email = emails.iter().find(|e| header(e, "message-id") == reminder[0].message_id).expect("the reminder");
    let token = link_token(email["text"].as_str().expect("text part"));

    let just_before = expires_at - TimeDelta::minutes(1);
    assert!(store.open_offer_link(&token, just_before).await.is_ok(), "it works while the offer does");
    let just_after = expires_at + TimeDelta::seconds(1);
    let late = store.open_offer_link(&token, just_after).await;
    assert!(matches!(late, Err(trellis_store::links::LinkError::Invalid)), "it outlived the offer: {late:?}");
}
on_both_backends!(a_reminders_link_never_outlives_the_offer);

// ---------------------------------------------------------------------------------------------------------
// (b) The SMTP server down, then up: retried, then each row delivered once.

async fn rows_are_retried_while_the_mail_server_is_down_then_each_is_delivered_once(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let (smtp_port, web_port) = (free_port(), free_port());
    let worker = Worker::new(store.clone(), smtp_mailer(smtp_port), settings("w1"));
    let referral = contacted_referral(&store, &f).await;
    for _ in 0..3 {
        offer(&store, &f, referral).await;
    }

    // Not started yet: every pass fails, and every row waits for another try.
    let mut now = Utc::now();
    for pass in 1..=3u32 {
        let report = worker.tick(now).await;
        assert_eq!((report.claimed, report.retrying, report.sent, report.dead), (3, 3, 0, 0), "pass {pass}");
        now += TimeDelta::hours(1);
    }
    for row in store.outbox().await.expect("outbox") {
        assert_eq!((row.status, row.attempts), (DeliveryStatus::Pending, 3));
        assert!(row.last_error.is_some() && row.next_attempt_at > row.created_at, "{row:?}");
    }

    // Started: each row is delivered, once.
    let mut maildev = MailDev::start_on(smtp_port, web_port).await;
    drain(&worker, now).await;
    let rows = store.outbox().await.expect("outbox");
    assert!(rows.iter().all(|r| r.status == DeliveryStatus::Sent && r.attempts == 4), "{rows:#?}");
    let first_server = maildev.wait_for(3).await;
    drain(&worker, now + TimeDelta::hours(1)).await;
    assert_eq!(maildev.emails().await.len(), 3, "nothing sent twice");

    // Stopped again: new rows wait (the pooled connection to the dead server is not trusted) ...
    maildev.stop();
    for _ in 0..2 {
        offer(&store, &f, referral).await;
    }
    now += TimeDelta::hours(2);
    let report = worker.tick(now).await;
    assert_eq!((report.claimed, report.retrying, report.sent), (2, 2, 0), "{report:?}");
    // ... and go when it is back.
    let maildev = MailDev::start_on(smtp_port, web_port).await;
    drain(&worker, now + TimeDelta::hours(1)).await;
    let second_server = maildev.wait_for(2).await;

    let rows = store.outbox().await.expect("outbox");
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.status == DeliveryStatus::Sent), "{rows:#?}");
    let mut received: Vec<&str> = first_server.iter().chain(&second_server).map(|e| header(e, "message-id")).collect();
    received.sort_unstable();
    let mut expected: Vec<&str> = rows.iter().map(|r| r.message_id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(received, expected, "each row arrived exactly once");
}
on_both_backends!(rows_are_retried_while_the_mail_server_is_down_then_each_is_delivered_once);

// ---------------------------------------------------------------------------------------------------------
// (c) Two workers on one database.

async fn two_workers_side_by_side_send_each_row_exactly_once(backend: Backend) {
    let (db, store, f) = locality(backend).await;
    let maildev = MailDev::start().await;
    let referral = contacted_referral(&store, &f).await;
    for _ in 0..20 {
        offer(&store, &f, referral).await;
    }
    // Each worker has its own connection pool, as two processes would.
    let other_store =
        Store::connect(&DatabaseSettings { url: db.url.clone(), max_connections: 4 }).await.expect("second store");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for (id, store) in [("worker-a", store.clone()), ("worker-b", other_store)] {
        let worker = Worker::new(store, maildev.mailer(), WorkerSettings { batch: 3, ..settings(id) });
        let mut stopped = stopped.clone();
        workers.push(tokio::spawn(worker.run_until(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })));
    }

    let mut rows = Vec::new();
    for _ in 0..600 {
        rows = store.outbox().await.expect("outbox");
        if rows.iter().all(|r| r.status != DeliveryStatus::Pending) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).expect("stop the workers");
    for worker in workers {
        worker.await.expect("worker stopped cleanly");
    }

    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r.status == DeliveryStatus::Sent && r.attempts == 1), "{rows:#?}");
    let emails = maildev.wait_for(20).await;
    assert_eq!(emails.len(), 20, "one message per row");
    let mut received: Vec<&str> = emails.iter().map(|e| header(e, "message-id")).collect();
    received.sort_unstable();
    received.dedup();
    assert_eq!(received.len(), 20, "no Message-ID twice");
}
on_both_backends!(two_workers_side_by_side_send_each_row_exactly_once);

// ---------------------------------------------------------------------------------------------------------
// (d) Giving up.

async fn a_row_that_fails_its_last_attempt_is_dead_and_the_link_worker_is_told(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let failing =
        Worker::new(store.clone(), smtp_mailer(free_port()), WorkerSettings { max_attempts: 3, ..settings("w1") });
    let referral = contacted_referral(&store, &f).await;
    let offer_id = offer(&store, &f, referral).await;

    let mut now = Utc::now();
    for attempt in 1..=3u32 {
        let report = failing.tick(now).await;
        let expected = if attempt < 3 { (1, 0) } else { (0, 1) };
        assert_eq!((report.retrying, report.dead), expected, "attempt {attempt}: {report:?}");
        now += TimeDelta::hours(1);
    }

    let rows = store.outbox().await.expect("outbox");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let dead = &rows[0];
    assert_eq!((dead.kind, dead.status, dead.attempts), (JobKind::OfferMade, DeliveryStatus::Dead, 3));
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("smtp")), "{dead:?}");
    let notice = &rows[1];
    assert_eq!((notice.kind, notice.status), (JobKind::DeliveryFailed, DeliveryStatus::Pending));
    assert_eq!(notice.recipient, "sam@erewash.example", "the assigned link worker");
    assert_eq!((notice.offer, notice.referral), (Some(offer_id), Some(referral)));
    let lw = Fixture::actor(&f.link_worker);
    let flagged = store.referral(&lw, referral, Utc::now()).await.expect("referral");
    assert_eq!(flagged.flag.as_deref(), Some(DELIVERY_FAILED_FLAG));

    // The notice reaches the link worker once mail works, and says what failed.
    let maildev = MailDev::start().await;
    let worker = Worker::new(store.clone(), maildev.mailer(), settings("w2"));
    drain(&worker, now).await;
    let emails = maildev.wait_for(1).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["to"][0]["address"], "sam@erewash.example");
    let text = emails[0]["text"].as_str().expect("text");
    assert!(text.contains(&offer_reference(offer_id)) && text.contains("walks@greenspring.example"), "{text}");
    assert_email_has_no_personal_data(&maildev, &emails[0]).await;
    assert_eq!(store.outbox().await.expect("outbox").len(), 2, "nothing more queued");
}
on_both_backends!(a_row_that_fails_its_last_attempt_is_dead_and_the_link_worker_is_told);

async fn a_delivery_failure_notice_that_cannot_be_delivered_is_not_followed_by_another(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let failing =
        Worker::new(store.clone(), smtp_mailer(free_port()), WorkerSettings { max_attempts: 2, ..settings("w1") });
    let referral = contacted_referral(&store, &f).await;
    offer(&store, &f, referral).await;

    let mut now = Utc::now();
    for _ in 0..10 {
        failing.tick(now).await;
        now += TimeDelta::hours(1);
    }
    let rows = store.outbox().await.expect("outbox");
    let kinds: Vec<_> = rows.iter().map(|r| (r.kind, r.status)).collect();
    assert_eq!(
        kinds,
        [(JobKind::OfferMade, DeliveryStatus::Dead), (JobKind::DeliveryFailed, DeliveryStatus::Dead)],
        "the failed notice is given up quietly"
    );
}
on_both_backends!(a_delivery_failure_notice_that_cannot_be_delivered_is_not_followed_by_another);

// ---------------------------------------------------------------------------------------------------------
// (e) No SMTP server: files.

async fn the_files_transport_writes_a_readable_eml_with_a_working_link(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let (dir, mailer) = files_mailer();
    let worker = Worker::new(store.clone(), mailer, settings("w1"));
    let referral = contacted_referral(&store, &f).await;
    let offer_id = offer(&store, &f, referral).await;

    drain(&worker, Utc::now()).await;

    let files = eml_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let row = &store.emails_for_offer(&Fixture::actor(&f.link_worker), offer_id).await.expect("rows")[0];
    assert_eq!(row.status, DeliveryStatus::Sent);
    let raw = std::fs::read_to_string(&files[0]).expect("read the .eml");
    let _ = std::fs::remove_dir_all(&dir);
    let eml = decode_quoted_printable(&raw);
    for expected in [
        format!("Message-ID: {}", row.message_id),
        "To: walks@greenspring.example".to_string(),
        format!("Subject: Referral offer {} for Long Eaton Walking Group", offer_reference(offer_id)),
        "multipart/alternative".to_string(),
        "Content-Type: text/plain; charset=utf-8".to_string(),
        "Content-Type: text/html; charset=utf-8".to_string(),
        "Hello Green Spring Network,".to_string(),
    ] {
        assert!(eml.contains(&expected), "{expected:?} is not in\n{eml}");
    }
    assert_no_personal_data("the .eml", &eml);
    let token = link_token(&eml);
    let opened = store.open_offer_link(&token, Utc::now()).await.expect("the link in the file opens");
    assert_eq!(opened.view.offer.state.id, offer_id);
}
on_both_backends!(the_files_transport_writes_a_readable_eml_with_a_working_link);

async fn an_offer_withdrawn_before_its_email_went_is_not_sent_to_the_provider(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let (dir, mailer) = files_mailer();
    let worker = Worker::new(store.clone(), mailer, settings("w1"));
    let referral = contacted_referral(&store, &f).await;
    let offer_id = offer(&store, &f, referral).await;
    let withdraw = OfferCommand::Withdraw { note: Some("Found a closer group".into()) };
    store.transition_offer(offer_id, 1, withdraw, &Fixture::actor(&f.link_worker), Utc::now()).await.expect("withdraw");

    drain(&worker, Utc::now()).await;

    let rows = store.emails_for_offer(&Fixture::actor(&f.link_worker), offer_id).await.expect("rows");
    assert_eq!(rows.iter().map(|r| r.status).collect::<Vec<_>>(), vec![DeliveryStatus::Skipped]);
    assert!(eml_files(&dir).is_empty(), "nothing was written for the provider");
    let _ = std::fs::remove_dir_all(&dir);
}
on_both_backends!(an_offer_withdrawn_before_its_email_went_is_not_sent_to_the_provider);

/// A mailer that writes `.eml` files, and the fresh folder it writes them in.
fn files_mailer() -> (PathBuf, Mailer) {
    let dir = std::env::temp_dir().join(format!("trellis-eml-{}", uuid::Uuid::new_v4().simple()));
    let mailer = Mailer::from_settings(&MailerSettings {
        from: "Trellis <noreply@trellis.test>".into(),
        transport: TransportSettings::Files { dir: dir.clone() },
    })
    .expect("files mailer");
    (dir, mailer)
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files
}

async fn a_worker_pass_forgets_idempotency_keys_older_than_its_setting(backend: Backend) {
    use trellis_store::referrals::IdempotencyKey;
    let (_db, store, f) = locality(backend).await;
    let gp = Fixture::actor(&f.gp);
    let now = Utc::now();
    let key = |k: &str| {
        Some(IdempotencyKey { key: k.into(), request_hash: "h".into(), forget_before: now - TimeDelta::days(3650) })
    };
    store.submit_referral(f.referral(NHS), key("ten-days-old"), &gp, now - TimeDelta::days(10)).await.unwrap();
    store.submit_referral(f.referral(NHS), key("fresh"), &gp, now).await.unwrap();
    // Kept for the default 30 days.
    let worker = Worker::new(store.clone(), smtp_mailer(free_port()), settings("w1"));
    assert_eq!(worker.tick(now).await.idempotency_keys_forgotten, 0);
    // A deployment that keeps them 7 days forgets the older one.
    let week = WorkerSettings { idempotency_key_ttl: Duration::from_secs(7 * 86_400), ..settings("w2") };
    let worker = Worker::new(store.clone(), smtp_mailer(free_port()), week);
    assert_eq!(worker.tick(now).await.idempotency_keys_forgotten, 1);
    let again = store.submit_referral(f.referral(NHS), key("fresh"), &gp, now).await.unwrap();
    assert!(again.replayed, "the fresh key is kept");
}
on_both_backends!(a_worker_pass_forgets_idempotency_keys_older_than_its_setting);
