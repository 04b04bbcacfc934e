//! The message back to the GP through the outbox and over MESH, end to end: the store queues it in the
//! closing transaction, the notifier's worker builds and sends it to NHS England's own MESH sandbox, the
//! practice's side reads it back with NHS England's `mesh-client`, `fhir.resources` parses the bundle as
//! STU3 and `pdftotext` reads the PDF. Every test runs on SQLite and on PostgreSQL.
//!
//! Time is passed to `Worker::tick`, so retries are driven by moving `now` forward, never by sleeping.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use trellis_domain::ReferralId;
use trellis_domain::referral::{ClosureReason, Note, ReferralCommand};
use trellis_domain::wellbeing::NoFollowUpReason;
use trellis_gp_message::WORKFLOW_ID;
use trellis_gp_message::mesh::MeshClient;
use trellis_gp_message::sandbox::{PASSWORD, PRACTICE_MAILBOX, Sandbox, TRELLIS_MAILBOX, venv};
use trellis_notifier::{Mailer, MailerSettings, TransportSettings, Worker, WorkerSettings};
use trellis_store::accounts::OrganisationChanges;
use trellis_store::audit::AuditFilter;
use trellis_store::notices::DELIVERY_FAILED_FLAG;
use trellis_store::outbox::{DeliveryStatus, JobKind, MeshStatus, Occasion, OutboxEmail, OutboxJob};
use trellis_store::{Store, StoreError};
use trellis_tests::maildev::MailDev;
use trellis_tests::{
    Backend, Fixture, TestApp, TestDb, init_test_logging, on_both_backends, on_both_databases, repo_root,
};

const NHS: &str = "9434765919";
/// Written on the contact and never marked for the GP: it must never reach the practice.
const UNMARKED_NOTE: &str = "Talked about the canal walks she used to do";
/// Written at closure and marked for the GP: it reaches the practice.
const MARKED_NOTE: &str = "Goes to the allotment group every Tuesday";

/// A migrated database, its store, and the fixture locality whose practice has the sandbox's practice
/// mailbox.
async fn locality(backend: Backend) -> (TestDb, Store, Fixture) {
    init_test_logging();
    let (db, store) = TestDb::migrated(backend).await;
    let f = Fixture::create(&store).await;
    let changes = OrganisationChanges { mesh_mailbox: Some(Some(PRACTICE_MAILBOX.into())), ..Default::default() };
    store.update_organisation(&Fixture::actor(&f.admin), f.practice.id, changes).await.expect("mailbox");
    (db, store, f)
}

/// A referral assigned to the fixture's link worker, contacted with a note for the record, then closed for
/// `reason` with a note marked for the GP.
async fn closed_referral(store: &Store, f: &Fixture, reason: ClosureReason) -> ReferralId {
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let id = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.expect("submit").referral.state.id;
    store.transition_referral(id, 1, ReferralCommand::Assign { to: f.link_worker.id }, &lw, Utc::now()).await.unwrap();
    let contact = ReferralCommand::RecordContact { note: Some(UNMARKED_NOTE.into()) };
    store.transition_referral(id, 2, contact, &lw, Utc::now()).await.expect("contact");
    let no_follow_up = (reason == ClosureReason::Completed).then_some(NoFollowUpReason::NotOffered);
    store
        .close_referral(
            id,
            3,
            reason,
            Some(Note { text: MARKED_NOTE.into(), for_gp: true }),
            no_follow_up,
            &lw,
            Utc::now(),
        )
        .await
        .expect("close");
    id
}

fn worker(store: &Store, mailer: Mailer, mesh: MeshClient) -> Worker {
    let settings = WorkerSettings {
        batch: 5,
        lease: Duration::from_secs(60),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        mesh_track_every: Duration::from_secs(60),
        ..WorkerSettings::new("w1", "http://trellis.test")
    };
    Worker::new(store.clone(), mailer, settings).with_mesh(mesh)
}

fn gp_messages(rows: &[OutboxEmail]) -> Vec<&OutboxEmail> {
    rows.iter().filter(|r| r.kind == JobKind::GpMessage).collect()
}

/// The one GP message row.
async fn the_gp_message(store: &Store) -> OutboxEmail {
    let rows = store.outbox().await.expect("outbox");
    let found = gp_messages(&rows);
    assert_eq!(found.len(), 1, "exactly one GP message queued: {rows:#?}");
    found[0].clone()
}

/// The bundle as a third party reads it: `check_gp_message.py` (fhir.resources STU3 and pdftotext).
fn third_party_reading(bundle: &[u8]) -> Value {
    let dir = std::env::temp_dir().join(format!("trellis-gp-delivery-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("bundle.json");
    std::fs::write(&path, bundle).unwrap();
    let out = std::process::Command::new(venv("python"))
        .arg(repo_root().join("tests/py/check_gp_message.py"))
        .arg(&path)
        .output()
        .expect("python (run scripts/ensure-prereqs)");
    let _ = std::fs::remove_dir_all(&dir);
    let reading: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(reading["ok"], true, "{reading}");
    reading
}

/// The practice's inbox, read and acknowledged with mesh-client: the one message's bundle bytes.
fn the_one_message_in_the_practice_inbox(sandbox: &Sandbox, local_id: &str) -> Vec<u8> {
    let inbox = sandbox.inbox(PRACTICE_MAILBOX);
    assert_eq!(inbox.len(), 1, "exactly one message: {inbox:?}");
    let message = &inbox[0];
    assert_eq!(message["sender"], TRELLIS_MAILBOX);
    assert_eq!(message["workflow_id"], WORKFLOW_ID);
    assert_eq!(message["local_id"], local_id, "the stable local id");
    base64::engine::general_purpose::STANDARD.decode(message["body_b64"].as_str().unwrap()).unwrap()
}

/// A pass at `now` after which the GP message is sent (the emails the closure queued go too, as files).
async fn tick_until_sent(worker: &Worker, store: &Store, now: DateTime<Utc>) {
    let report = worker.tick(now).await;
    assert_eq!((report.errors, report.dead, report.retrying), (0, 0, 0), "{report:?}");
    assert_eq!(the_gp_message(store).await.status, DeliveryStatus::Sent, "{report:?}");
}

/// A mailer that writes the closure's emails as files, so that they go at once and only the GP message is
/// left to MESH.
fn files_mailer() -> Mailer {
    let dir = std::env::temp_dir().join(format!("trellis-gp-delivery-mail-{}", uuid::Uuid::new_v4()));
    Mailer::from_settings(&MailerSettings {
        from: "Trellis <t@trellis.test>".into(),
        transport: TransportSettings::Files { dir },
    })
    .expect("files mailer")
}

// ---------------------------------------------------------------------------------------------------------

async fn closing_a_referral_puts_exactly_one_readable_message_in_the_practice_inbox(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let sandbox = Sandbox::start().await;
    let referral = closed_referral(&store, &f, ClosureReason::Completed).await;
    let row = the_gp_message(&store).await;
    assert_eq!(
        (row.recipient.as_str(), row.status, row.referral),
        (PRACTICE_MAILBOX, DeliveryStatus::Pending, Some(referral))
    );
    let payload = serde_json::to_string(&row.job).unwrap();
    assert!(!payload.contains(NHS) && !payload.contains("Margaret"), "the row holds references only: {payload}");

    let worker = worker(&store, files_mailer(), sandbox.trellis());
    let now = Utc::now();
    tick_until_sent(&worker, &store, now).await;
    let sent = the_gp_message(&store).await;
    assert_eq!((sent.status, sent.mesh_status), (DeliveryStatus::Sent, Some(MeshStatus::Accepted)));
    let mesh_id = sent.mesh_message_id.clone().expect("MESH's id recorded");

    let bundle = the_one_message_in_the_practice_inbox(&sandbox, &sent.message_id);
    let reading = third_party_reading(&bundle);
    assert_eq!(reading["nhs_number"], serde_json::json!([NHS]));
    let pdf_text = reading["pdf_text"].as_str().unwrap();
    assert!(pdf_text.contains("943 476 5919"), "the NHS number: {pdf_text}");
    assert!(pdf_text.contains("Closed: completed"), "the outcome: {pdf_text}");
    let text = String::from_utf8_lossy(&bundle);
    assert!(!text.contains(UNMARKED_NOTE) && !pdf_text.contains(UNMARKED_NOTE), "an unmarked note never goes");
    assert!(pdf_text.contains(MARKED_NOTE) && text.contains(MARKED_NOTE), "the marked note goes: {pdf_text}");

    // The practice acknowledged it (mesh-client did): the next check records that, and nothing is sent again.
    let report = worker.tick(now + TimeDelta::minutes(2)).await;
    assert_eq!((report.gp_messages_acknowledged, report.sent), (1, 0), "{report:?}");
    let settled = the_gp_message(&store).await;
    assert_eq!((settled.mesh_status, settled.mesh_message_id), (Some(MeshStatus::Acknowledged), Some(mesh_id)));
    let report = worker.tick(now + TimeDelta::hours(1)).await;
    assert_eq!((report.claimed, report.gp_messages_acknowledged), (0, 0), "settled rows are left alone: {report:?}");
    assert!(sandbox.inbox(PRACTICE_MAILBOX).is_empty(), "never a second message");
}
on_both_backends!(closing_a_referral_puts_exactly_one_readable_message_in_the_practice_inbox);

async fn a_message_queued_while_mesh_is_down_is_delivered_once_when_it_is_back(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let mut sandbox = Sandbox::stopped();
    closed_referral(&store, &f, ClosureReason::Completed).await;
    let worker = worker(&store, files_mailer(), sandbox.trellis());

    let mut now = Utc::now();
    let report = worker.tick(now).await;
    assert_eq!((report.retrying, report.dead), (1, 0), "only the GP message waits: {report:?}");
    let waiting = the_gp_message(&store).await;
    assert_eq!((waiting.status, waiting.mesh_message_id.as_deref()), (DeliveryStatus::Pending, None));
    assert!(waiting.last_error.as_deref().is_some_and(|e| e.contains("MESH is unavailable")), "{waiting:?}");

    sandbox.restart().await;
    now += TimeDelta::hours(1);
    tick_until_sent(&worker, &store, now).await;
    for _ in 0..3 {
        now += TimeDelta::hours(1);
        let report = worker.tick(now).await;
        assert_eq!(report.sent, 0, "sent once only: {report:?}");
    }
    let sent = the_gp_message(&store).await;
    the_one_message_in_the_practice_inbox(&sandbox, &sent.message_id);
}
on_both_backends!(a_message_queued_while_mesh_is_down_is_delivered_once_when_it_is_back);

async fn a_wrong_shared_key_gives_the_message_up_at_once_flags_the_referral_and_tells_the_link_worker(
    backend: Backend,
) {
    let (_db, store, f) = locality(backend).await;
    let logs = crate::provider_page::captured_logs();
    let sandbox = Sandbox::start().await;
    let referral = closed_referral(&store, &f, ClosureReason::Completed).await;
    let maildev = MailDev::start().await;
    let wrong_key = sandbox.client(TRELLIS_MAILBOX, PASSWORD, "NotTheKey");
    let worker = worker(&store, maildev.mailer(), wrong_key);

    let report = worker.tick(Utc::now()).await;
    assert_eq!((report.dead, report.retrying), (1, 0), "dead at the first refusal: {report:?}");
    let dead = the_gp_message(&store).await;
    assert_eq!((dead.status, dead.attempts), (DeliveryStatus::Dead, 1));
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("refused the mailbox's credentials")), "{dead:?}");
    let lw = Fixture::actor(&f.link_worker);
    let flagged = store.referral(&lw, referral, Utc::now()).await.expect("referral");
    assert_eq!(flagged.flag.as_deref(), Some(DELIVERY_FAILED_FLAG));

    // The link worker hears, by email, with nothing about the person.
    let report = worker.tick(Utc::now()).await;
    assert_eq!(report.sent, 1, "the delivery-failed email: {report:?}");
    let emails = maildev.wait_for(2).await;
    let notice = emails
        .iter()
        .find(|e| e["to"][0]["address"] == "sam@erewash.example")
        .unwrap_or_else(|| panic!("no email to the link worker: {emails:#?}"));
    let subject = notice["subject"].as_str().unwrap();
    assert!(subject.starts_with("The message back to the GP about RF-"), "{subject}");
    let source = maildev.source(notice).await;
    for personal in [NHS, "943 476 5919", "Margaret", "Hughes", UNMARKED_NOTE] {
        assert!(!source.contains(personal), "the notice carries {personal:?}:\n{source}");
    }
    assert!(sandbox.inbox(PRACTICE_MAILBOX).is_empty(), "nothing reached the practice");

    let Some(logs) = logs else {
        eprintln!("TEST_LOG is set, so the logs go to the test output and cannot be searched here: not checked");
        return;
    };
    let logged = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
    let line = logged
        .lines()
        .find(|l| l.contains(&dead.id.to_string()) && l.contains("given up at once"))
        .unwrap_or_else(|| panic!("no clear log line for the dead message:\n{logged}"));
    assert!(line.contains("ERROR") && line.contains("refused the mailbox's credentials"), "{line}");
    for personal in [NHS, "943 476 5919", "Margaret", "Hughes"] {
        assert!(!line.contains(personal), "the log line carries {personal:?}: {line}");
    }
}
on_both_backends!(a_wrong_shared_key_gives_the_message_up_at_once_flags_the_referral_and_tells_the_link_worker);

async fn a_referral_closed_as_declined_reaches_the_practice_coded_871711000000103(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let sandbox = Sandbox::start().await;
    closed_referral(&store, &f, ClosureReason::DeclinedByPerson).await;
    let worker = worker(&store, files_mailer(), sandbox.trellis());
    tick_until_sent(&worker, &store, Utc::now()).await;
    let sent = the_gp_message(&store).await;
    let reading = third_party_reading(&the_one_message_in_the_practice_inbox(&sandbox, &sent.message_id));
    let codes: Vec<&str> = reading["codes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(codes.contains(&"871711000000103"), "{codes:?}");
}
on_both_backends!(a_referral_closed_as_declined_reaches_the_practice_coded_871711000000103);

async fn without_mesh_or_a_mailbox_nothing_is_sent_and_nothing_retries(backend: Backend) {
    init_test_logging();
    let (_db, store) = TestDb::migrated(backend).await;
    let f = Fixture::create(&store).await;
    // A practice with no mailbox: nothing is queued; the message is still there to download.
    let referral = closed_referral(&store, &f, ClosureReason::Completed).await;
    assert!(gp_messages(&store.outbox().await.unwrap()).is_empty(), "no mailbox, no job");
    let gp = Fixture::actor(&f.gp);
    let record = store.referral(&gp, referral, Utc::now()).await.unwrap();
    assert!(store.gp_message_of(&record, Utc::now()).await.unwrap().is_some(), "still built for the practice");

    // A practice with a mailbox but no MESH configured: the job is recorded as not sent, once.
    let changes = OrganisationChanges { mesh_mailbox: Some(Some(PRACTICE_MAILBOX.into())), ..Default::default() };
    store.update_organisation(&Fixture::actor(&f.admin), f.practice.id, changes).await.unwrap();
    let other = store.submit_referral(f.referral("4010232137"), None, &gp, Utc::now()).await.unwrap();
    let lw = Fixture::actor(&f.link_worker);
    let id = other.referral.state.id;
    store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, Utc::now()).await.unwrap();
    store.close_referral(id, 2, ClosureReason::MovedAway, None, None, &lw, Utc::now()).await.unwrap();
    let no_mesh = Worker::new(store.clone(), files_mailer(), WorkerSettings::new("w1", "http://trellis.test"));
    let report = no_mesh.tick(Utc::now()).await;
    assert_eq!((report.skipped, report.dead, report.retrying), (1, 0, 0), "{report:?}");
    let row = the_gp_message(&store).await;
    assert_eq!(row.status, DeliveryStatus::Skipped);
    assert!(row.last_error.as_deref().is_some_and(|e| e.starts_with("not sent: MESH is not configured")), "{row:?}");
    let report = no_mesh.tick(Utc::now() + TimeDelta::days(1)).await;
    assert_eq!(report.claimed, 0, "nothing piles up: {report:?}");
}
on_both_backends!(without_mesh_or_a_mailbox_nothing_is_sent_and_nothing_retries);

/// The GP message rows for `occasion`.
async fn gp_messages_for(store: &Store, occasion: Occasion) -> Vec<OutboxEmail> {
    let rows = store.outbox().await.expect("outbox");
    gp_messages(&rows)
        .into_iter()
        .filter(|r| matches!(r.job, OutboxJob::GpMessage { occasion: o, .. } if o == occasion))
        .cloned()
        .collect()
}

/// The link worker service turns the message at first contact on (or leaves it off); a referral is then
/// contacted and closed, the worker sending after each step. What reached the practice, in order.
async fn messages_for_a_contacted_then_closed_referral(backend: Backend, at_first_contact: bool) -> Vec<Value> {
    let (_db, store, f) = locality(backend).await;
    let admin = Fixture::actor(&f.admin);
    let changes = OrganisationChanges { gp_message_at_first_contact: Some(at_first_contact), ..Default::default() };
    let service = store.update_organisation(&admin, f.service.id, changes).await.expect("setting");
    assert_eq!(service.gp_message_at_first_contact, at_first_contact);
    let sandbox = Sandbox::start().await;
    let worker = worker(&store, files_mailer(), sandbox.trellis());
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let id = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.expect("submit").referral.state.id;
    store.transition_referral(id, 1, ReferralCommand::Assign { to: f.link_worker.id }, &lw, Utc::now()).await.unwrap();
    let contact = ReferralCommand::RecordContact { note: Some(UNMARKED_NOTE.into()) };
    store.transition_referral(id, 2, contact, &lw, Utc::now()).await.expect("contact");

    let mut received = vec![];
    let first_contact = gp_messages_for(&store, Occasion::FirstContact).await;
    assert_eq!(first_contact.len(), usize::from(at_first_contact), "queued with the contact: {first_contact:#?}");
    let now = Utc::now();
    let report = worker.tick(now).await;
    assert_eq!((report.errors, report.dead, report.retrying), (0, 0, 0), "{report:?}");
    if let Some(row) = first_contact.first() {
        received.push(third_party_reading(&the_one_message_in_the_practice_inbox(&sandbox, &row.message_id)));
    } else {
        assert!(sandbox.inbox(PRACTICE_MAILBOX).is_empty(), "nothing at first contact when it is off");
    }

    store
        .close_referral(id, 3, ClosureReason::Completed, None, Some(NoFollowUpReason::NotOffered), &lw, now)
        .await
        .unwrap();
    let report = worker.tick(now + TimeDelta::minutes(5)).await;
    assert_eq!((report.errors, report.dead, report.retrying), (0, 0, 0), "{report:?}");
    let closing = gp_messages_for(&store, Occasion::Closure).await;
    assert_eq!(closing.len(), 1, "{closing:#?}");
    if let Some(row) = first_contact.first() {
        assert_ne!(row.message_id, closing[0].message_id, "each message has its own id");
    }
    received.push(third_party_reading(&the_one_message_in_the_practice_inbox(&sandbox, &closing[0].message_id)));
    received
}

async fn a_service_that_turns_it_on_sends_a_first_contact_message_and_then_the_closing_one(backend: Backend) {
    let received = messages_for_a_contacted_then_closed_referral(backend, true).await;
    assert_eq!(received.len(), 2);
    let contacted = received[0]["pdf_text"].as_str().unwrap();
    assert!(contacted.contains("Social prescribing: person contacted"), "{contacted}");
    assert!(contacted.contains("The link worker has contacted the person."), "{contacted}");
    assert!(contacted.contains("943 476 5919") && !contacted.contains("Outcome"), "{contacted}");
    assert!(!received[0]["sections"].to_string().contains("Outcome"), "no outcome yet: {}", received[0]);
    let closed = received[1]["pdf_text"].as_str().unwrap();
    assert!(closed.contains("Social prescribing: outcome of referral") && closed.contains("Closed: completed"));
    for reading in &received {
        assert!(!reading["pdf_text"].as_str().unwrap().contains(UNMARKED_NOTE), "an unmarked note never goes");
    }
}
on_both_backends!(a_service_that_turns_it_on_sends_a_first_contact_message_and_then_the_closing_one);

async fn a_service_that_leaves_it_off_sends_only_the_closing_message(backend: Backend) {
    let received = messages_for_a_contacted_then_closed_referral(backend, false).await;
    assert_eq!(received.len(), 1);
    assert!(received[0]["pdf_text"].as_str().unwrap().contains("Closed: completed"), "{}", received[0]);
}
on_both_backends!(a_service_that_leaves_it_off_sends_only_the_closing_message);

// ---------------------------------------------------------------------------------------------------------
// Corrections.

const MARK_NOTE: &str = "mutation($id: ID!, $event: Int!, $forGp: Boolean!) {
    markNoteForGp(input: { referralId: $id, eventVersion: $event, forGp: $forGp }) {
        referral { id history { version note noteForGp } }
        corrections { occasion version }
    }
}";

/// The link worker unmarks, through the API, the closing note that went to the practice: a corrected
/// message (version 2) reaches the practice's inbox and replaces the first, which the practice's side reads
/// with fhir.resources; the practice sees the corrected version in Trellis; the change is audited.
async fn a_note_unmarked_after_the_message_went_sends_a_correction_that_replaces_it(app: TestApp) {
    let (store, f) = (&app.store, &app.fixture);
    let changes = OrganisationChanges { mesh_mailbox: Some(Some(PRACTICE_MAILBOX.into())), ..Default::default() };
    store.update_organisation(&Fixture::actor(&f.admin), f.practice.id, changes).await.expect("mailbox");
    let sandbox = Sandbox::start().await;
    let referral = closed_referral(store, f, ClosureReason::Completed).await;
    let worker = worker(store, files_mailer(), sandbox.trellis());
    let now = Utc::now();
    tick_until_sent(&worker, store, now).await;
    let first = the_gp_message(store).await;
    let first_reading = third_party_reading(&the_one_message_in_the_practice_inbox(&sandbox, &first.message_id));
    assert_eq!((&first_reading["version"], &first_reading["replaces"]), (&json!("1"), &json!([])));
    assert!(first_reading["pdf_text"].as_str().unwrap().contains(MARKED_NOTE));

    // Event 4 is the closure, whose note was marked for the GP.
    let vars = json!({ "id": referral.to_string(), "event": 4, "forGp": false });
    let out = app.ok(&app.tokens.link_worker, MARK_NOTE, vars.clone()).await;
    let marked = &out["markNoteForGp"];
    assert_eq!(marked["corrections"], json!([{ "occasion": "CLOSURE", "version": 2 }]), "{out}");
    assert_eq!(marked["referral"]["history"][3]["noteForGp"], false, "{out}");

    let rows = gp_messages_for(store, Occasion::Closure).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let second = &rows[1];
    assert!(matches!(second.job, OutboxJob::GpMessage { version: 2, .. }), "{second:?}");
    assert_ne!(second.message_id, first.message_id, "a correction is a new document");
    let report = worker.tick(now + TimeDelta::minutes(5)).await;
    assert_eq!((report.errors, report.dead, report.retrying, report.sent), (0, 0, 0, 1), "{report:?}");
    let reading = third_party_reading(&the_one_message_in_the_practice_inbox(&sandbox, &second.message_id));
    assert_eq!(reading["version"], "2");
    assert_eq!(reading["replaces"], json!([first.message_id]), "relatesTo replaces the first: {reading}");
    assert_eq!(reading["sections"][0], "Correction");
    let pdf_text = reading["pdf_text"].as_str().unwrap();
    assert!(pdf_text.contains("Correction (version 2)") && pdf_text.contains(&first.message_id), "{pdf_text}");
    assert!(!pdf_text.contains(MARKED_NOTE) && !pdf_text.contains(UNMARKED_NOTE), "the note is gone: {pdf_text}");
    assert!(pdf_text.contains("Closed: completed"), "the outcome still: {pdf_text}");

    // The practice sees the corrected version in Trellis too.
    let seen = app
        .ok(
            &app.tokens.gp,
            "query($id: ID!) { referral(id: $id) { gpMessage { id version replaces } } }",
            json!({ "id": referral.to_string() }),
        )
        .await;
    let message = &seen["referral"]["gpMessage"];
    assert_eq!((&message["id"], &message["version"]), (&json!(second.message_id), &json!(2)), "{seen}");
    assert_eq!(message["replaces"], json!(first.message_id));

    // Asking again for what already stands changes nothing and sends nothing.
    let again = app.ok(&app.tokens.link_worker, MARK_NOTE, vars).await;
    assert_eq!(again["markNoteForGp"]["corrections"], json!([]), "{again}");
    assert_eq!(gp_messages_for(store, Occasion::Closure).await.len(), 2);

    let filter = AuditFilter { referral: Some(referral), limit: 200, ..Default::default() };
    let actions: Vec<String> = store.audit_log(&filter).await.unwrap().into_iter().map(|e| e.action).collect();
    for action in ["referral.note_for_gp_unmarked", "referral.gp_message_corrected"] {
        assert_eq!(actions.iter().filter(|a| *a == action).count(), 1, "{action} once: {actions:?}");
    }
}
on_both_databases!(a_note_unmarked_after_the_message_went_sends_a_correction_that_replaces_it, |app| {
    a_note_unmarked_after_the_message_went_sends_a_correction_that_replaces_it(app)
});

/// Only the link worker service working the referral may mark a note, only a note a link worker wrote,
/// and only an event that exists; each refusal is typed and changes nothing.
async fn marking_a_note_for_the_gp_is_refused_with_a_typed_error_where_it_does_not_apply(app: TestApp) {
    let (store, f) = (&app.store, &app.fixture);
    let referral = closed_referral(store, f, ClosureReason::Completed).await;
    let id = referral.to_string();
    let try_mark = |token: &str, event: u32| {
        let vars = json!({ "id": id, "event": event, "forGp": true });
        let token = token.to_owned();
        let app = &app;
        async move { app.graphql(Some(&token), MARK_NOTE, vars).await }
    };
    assert_eq!(try_mark(&app.tokens.gp, 3).await.code(), Some("FORBIDDEN"), "the practice reads but may not mark");
    assert_eq!(try_mark(&app.tokens.other_link_worker, 3).await.code(), Some("NOT_FOUND"));
    assert_eq!(try_mark(&app.tokens.provider, 3).await.code(), Some("NOT_FOUND"));
    let no_note = try_mark(&app.tokens.link_worker, 2).await;
    assert_eq!((no_note.code(), no_note.field()), (Some("VALIDATION"), Some("eventVersion")), "{no_note:?}");
    let no_event = try_mark(&app.tokens.link_worker, 99).await;
    assert_eq!((no_event.code(), no_event.field()), (Some("VALIDATION"), Some("eventVersion")), "{no_event:?}");
    let lw = Fixture::actor(&f.link_worker);
    let history = store.referral_history(&lw, referral).await.unwrap();
    assert!(!history[2].note_for_gp, "the contact note is still unmarked");
    let filter = AuditFilter { referral: Some(referral), limit: 200, ..Default::default() };
    let actions: Vec<String> = store.audit_log(&filter).await.unwrap().into_iter().map(|e| e.action).collect();
    assert!(!actions.iter().any(|a| a.starts_with("referral.note_for_gp")), "{actions:?}");
}
on_both_databases!(marking_a_note_for_the_gp_is_refused_with_a_typed_error_where_it_does_not_apply, |app| {
    marking_a_note_for_the_gp_is_refused_with_a_typed_error_where_it_does_not_apply(app)
});

/// Two link workers correcting the same sent message at once: one correction wins; the other gets a
/// conflict (or, where the database serialises them, comes after it as the next version); never two
/// documents with one version.
async fn two_corrections_at_once_never_make_two_messages_of_one_version(backend: Backend) {
    let (_db, store, f) = locality(backend).await;
    let referral = closed_referral(&store, &f, ClosureReason::Completed).await;
    let lw = Fixture::actor(&f.link_worker);
    let (a, b) = tokio::join!(
        store.mark_note_for_gp(referral, 3, true, &lw, Utc::now()),
        store.mark_note_for_gp(referral, 4, false, &lw, Utc::now()),
    );
    let mut versions: Vec<u32> = vec![];
    for result in [a, b] {
        match result {
            Ok(marked) => versions.extend(marked.corrections.iter().map(|(_, v)| *v)),
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => panic!("neither a correction nor a conflict: {other:?}"),
        }
    }
    versions.sort_unstable();
    assert!(versions == [2] || versions == [2, 3], "{versions:?}");
    let mut queued: Vec<u32> = gp_messages_for(&store, Occasion::Closure)
        .await
        .iter()
        .map(|r| match r.job {
            OutboxJob::GpMessage { version, .. } => version,
            _ => unreachable!(),
        })
        .collect();
    queued.sort_unstable();
    let expected: Vec<u32> = std::iter::once(1).chain(versions).collect();
    assert_eq!(queued, expected, "one row per version, and only the winners'");
}
on_both_backends!(two_corrections_at_once_never_make_two_messages_of_one_version);
