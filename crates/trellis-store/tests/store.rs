//! The store on SQLite and PostgreSQL: submissions, scoping, optimistic concurrency, offers and the outbox.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, SubsecRound, Timelike, Utc};
use trellis_domain::access::ReferralScope;
use trellis_domain::offer::{OfferCommand, OfferStatus};
use trellis_domain::policy::Policy;
use trellis_domain::referral::{ClosureReason, Referral, ReferralCommand, ReferralStatus};
use trellis_domain::values::Urgency;
use trellis_domain::wellbeing::NoFollowUpReason;
use trellis_domain::{DomainError, ReferralId};
use trellis_store::audit::AuditFilter;
use trellis_store::both_databases;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::outbox::{JobKind, Transport};
use trellis_store::referrals::{IdempotencyKey, NewReferral, ReferralFilter};
use trellis_store::testing::Fixture;
use trellis_store::{Store, StoreError};

const NHS: &str = "9434765919";
const NHS_2: &str = "4010232137";

fn key(k: &str, hash: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey {
        key: k.into(),
        request_hash: hash.into(),
        forget_before: chrono::Utc::now() - chrono::Duration::days(30),
    })
}

/// A referral the fixture's GP has just submitted.
async fn submitted_referral(store: &Store, f: &Fixture) -> ReferralId {
    store.submit_referral(f.referral(NHS), None, &Fixture::actor(&f.gp), Utc::now()).await.unwrap().referral.state.id
}

async fn contacted_referral(store: &Store, f: &Fixture) -> ReferralId {
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let submitted = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap();
    let id = submitted.referral.state.id;
    store
        .transition_referral(
            id,
            1,
            ReferralCommand::RecordContact { note: Some("Talked about walking".into()) },
            &lw,
            Utc::now(),
        )
        .await
        .unwrap();
    id
}

fn timers() -> OfferTimers {
    OfferTimers { expires_at: Utc::now() + Duration::days(14), remind_at: Some(Utc::now() + Duration::days(5)) }
}

/// A contacted referral offered to the fixture's walking group by its link worker.
async fn offered_to_walking_group(store: &Store, f: &Fixture) -> trellis_store::offers::OfferRecord {
    let id = contacted_referral(store, f).await;
    let request = OfferRequest::new(id, f.walking_group.id, timers()).at_version(2);
    store.make_offer(request, &Fixture::actor(&f.link_worker), Utc::now()).await.unwrap()
}

both_databases!(a_submitted_referral_is_stored_with_its_person_and_opening_event, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let gp = Fixture::actor(&f.gp);
    let s = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap();
    assert!(!s.replayed);
    assert_eq!(s.referral.state.status, ReferralStatus::Referred);
    assert_eq!(s.referral.state.version, 1);
    assert_eq!(s.referral.person.details.nhs_number.as_str(), NHS);
    assert_eq!(s.referral.state.link_worker_service, f.service.id);
    let history = store.referral_history(&gp, s.referral.state.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(Referral::replay(&history).unwrap(), s.referral.state);
});

both_databases!(
    a_retry_with_the_same_key_returns_the_same_referral_and_a_changed_request_is_refused,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let gp = Fixture::actor(&f.gp);
        let first = store.submit_referral(f.referral(NHS), key("k-1", "h-1"), &gp, Utc::now()).await.unwrap();
        let retry = store.submit_referral(f.referral(NHS), key("k-1", "h-1"), &gp, Utc::now()).await.unwrap();
        assert!(retry.replayed);
        assert_eq!(retry.referral.state.id, first.referral.state.id);
        let reused = store.submit_referral(f.referral(NHS_2), key("k-1", "h-2"), &gp, Utc::now()).await;
        assert!(matches!(reused, Err(StoreError::IdempotencyKeyReused)), "{reused:?}");
        let all = store.referrals(&gp, &filter(ReferralScope::ReferredBy(f.practice.id)), Utc::now()).await.unwrap();
        assert_eq!(all.len(), 1, "nothing duplicated, nothing extra stored");
    }
);

both_databases!(a_second_open_referral_for_the_same_person_is_reported, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let gp = Fixture::actor(&f.gp);
    let first = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap();
    assert!(first.other_open_referrals.is_empty());
    let second = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap();
    assert_eq!(second.other_open_referrals, vec![first.referral.state.id]);
});

fn filter(scope: ReferralScope) -> ReferralFilter {
    ReferralFilter {
        scope,
        statuses: vec![],
        need: None,
        assigned_to: None,
        overdue_at: None,
        search: None,
        before: None,
        limit: 50,
    }
}

both_databases!(nobody_reads_another_organisations_referral_by_guessing_its_id, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let id = submitted_referral(&store, &f).await;
    for outsider in [&f.other_gp, &f.other_link_worker, &f.provider_user, &f.network_lead, &f.admin] {
        let actor = Fixture::actor(outsider);
        assert!(
            matches!(store.referral(&actor, id, Utc::now()).await, Err(StoreError::NotFound)),
            "{:?}",
            outsider.role
        );
        assert!(matches!(store.referral_history(&actor, id).await, Err(StoreError::NotFound)));
    }
    assert!(store.referral(&Fixture::actor(&f.link_worker), id, Utc::now()).await.is_ok());
    let other = store
        .referrals(&Fixture::actor(&f.other_gp), &filter(ReferralScope::ReferredBy(f.other_practice.id)), Utc::now())
        .await
        .unwrap();
    assert!(other.is_empty());
});

both_databases!(a_transition_against_a_stale_version_is_a_conflict_and_changes_nothing, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let id = contacted_referral(&store, &f).await;
    let stale = store
        .transition_referral(
            id,
            1,
            ReferralCommand::Close { reason: ClosureReason::Completed, note: None },
            &lw,
            Utc::now(),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict { expected: 1, current: 2 })), "{stale:?}");
    let now = store.referral(&lw, id, Utc::now()).await.unwrap();
    assert_eq!((now.state.status, now.state.version), (ReferralStatus::Contacted, 2));
    assert_eq!(store.referral_history(&lw, id).await.unwrap().len(), 2);
});

both_databases!(concurrent_writers_on_one_version_produce_exactly_one_winner, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let id = submitted_referral(&store, &f).await;
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .transition_referral(
                    id,
                    1,
                    ReferralCommand::RecordContactAttempt { note: Some(format!("try {i}").into()) },
                    &lw,
                    Utc::now(),
                )
                .await
        })
    });
    let results: Vec<_> = futures_join(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::Conflict { .. }))).count();
    assert_eq!((wins, conflicts), (1, 7), "{results:?}");
    let history = store.referral_history(&lw, id).await.unwrap();
    assert_eq!(history.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 2], "no gaps, no doubles");
});

/// A change the database stops to break a deadlock saved nothing, so the store makes it again: it is
/// saved once. Here a second transaction holds every rollup row the change must add to, then waits for the
/// referral row the change has just locked: PostgreSQL stops the change, which has waited the longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_change_stopped_to_break_a_deadlock_is_made_again_and_saved_once() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let (_db, store) = trellis_store::testing::TestDb::migrated(trellis_store::testing::Backend::Postgres).await;
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let id = submitted_referral(&store, &f).await;
    let count = |sql: &'static str| {
        let store = store.clone();
        async move {
            let row = store.connection().query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await;
            row.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap()
        }
    };
    let deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()";
    let deadlocks_before = count(deadlocks).await;

    let other = store.connection().begin().await.unwrap();
    // This side waits long enough that the change's side is the one to find the deadlock.
    other.execute_unprepared("SET LOCAL deadlock_timeout = '30s'").await.unwrap();
    other.execute_unprepared("SELECT 1 FROM report_rollups FOR UPDATE").await.unwrap();
    let change = tokio::spawn({
        let store = store.clone();
        async move {
            let contact = ReferralCommand::RecordContact { note: Some("Talked about walking".into()) };
            store.transition_referral(id, 1, contact, &lw, Utc::now()).await
        }
    });
    let waiting =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
    while count(waiting).await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let touch = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE referrals SET updated_at = updated_at WHERE id = $1",
        [id.0.into()],
    );
    other.execute_raw(touch).await.unwrap();
    other.rollback().await.unwrap();

    let saved = change.await.unwrap().unwrap();
    assert_eq!((saved.state.status, saved.state.version), (ReferralStatus::Contacted, 2));
    let history = store.referral_history(&lw, id).await.unwrap();
    assert_eq!(history.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 2], "saved once");
    // The first try was stopped: PostgreSQL counted the deadlock (its statistics arrive within seconds).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while count(deadlocks).await == deadlocks_before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(count(deadlocks).await, deadlocks_before + 1, "the change met one deadlock");
}

async fn futures_join<T: Send + 'static>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = vec![];
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.unwrap());
    }
    out
}

both_databases!(a_refused_transition_is_a_typed_domain_error, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let gp = Fixture::actor(&f.gp);
    let id = contacted_referral(&store, &f).await;
    let withdraw = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: None };
    let result = store.transition_referral(id, 2, withdraw, &gp, Utc::now()).await;
    assert!(
        matches!(result, Err(StoreError::Domain(DomainError::InvalidTransition { state: "contacted", .. }))),
        "{result:?}"
    );
});

both_databases!(making_an_offer_writes_its_event_and_an_outbox_email_in_one_transaction, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let id = contacted_referral(&store, &f).await;
    let offer = store
        .make_offer(
            OfferRequest::new(id, f.walking_group.id, timers())
                .at_version(2)
                .with_note(Some("Would love a walk".into())),
            &lw,
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(offer.state.status, OfferStatus::Offered);
    assert_eq!(offer.state.provider_organisation, f.provider.id);
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].kind, outbox[0].recipient.as_str()), (JobKind::OfferMade, "walks@greenspring.example"));
    assert!(!serde_json::to_string(&outbox[0].job).unwrap().contains("Margaret"), "no personal data in the outbox");

    let refused =
        store.make_offer(OfferRequest::new(id, f.walking_group.id, timers()).at_version(1), &lw, Utc::now()).await;
    assert!(matches!(refused, Err(StoreError::Conflict { .. })));
    assert_eq!(store.outbox().await.unwrap().len(), 1, "a refused offer writes no email");
});

both_databases!(a_provider_confirming_attendance_moves_the_referral_to_attending, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let provider = Fixture::actor(&f.provider_user);
    let id = contacted_referral(&store, &f).await;
    let offer = store
        .make_offer(OfferRequest::new(id, f.walking_group.id, timers()).at_version(2), &lw, Utc::now())
        .await
        .unwrap();
    let before = store.provider_view(&provider, offer.state.id, Utc::now()).await.unwrap();
    assert_eq!((before.first_name.as_str(), before.age_band, before.contact.is_none()), ("Margaret", "75-84", true));
    let accepted =
        store.transition_offer(offer.state.id, 1, OfferCommand::Accept, &provider, Utc::now()).await.unwrap();
    let after = store.provider_view(&provider, offer.state.id, Utc::now()).await.unwrap();
    assert_eq!(after.contact.unwrap().phone.as_deref(), Some("01154960123"));
    store
        .transition_offer(offer.state.id, accepted.state.version, OfferCommand::Start, &provider, Utc::now())
        .await
        .unwrap();
    let referral = store.referral(&lw, id, Utc::now()).await.unwrap();
    assert_eq!((referral.state.status, referral.state.version), (ReferralStatus::Attending, 3));
    let kinds: Vec<_> = store.outbox().await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![JobKind::OfferMade, JobKind::OfferAnswered]);
});

both_databases!(closing_a_referral_tells_the_practice_by_reference_and_reads_are_audited, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let id = contacted_referral(&store, &f).await;
    store
        .close_referral(id, 2, ClosureReason::Completed, None, Some(NoFollowUpReason::NotOffered), &lw, Utc::now())
        .await
        .unwrap();
    let email = store.outbox().await.unwrap().pop().unwrap();
    assert_eq!((email.kind, email.recipient.as_str()), (JobKind::ReferralClosed, "practice@longeaton.example"));
    store.referral(&Fixture::actor(&f.gp), id, Utc::now()).await.unwrap();
    let log = store
        .audit_log(&trellis_store::audit::AuditFilter { referral: Some(id), limit: 50, ..Default::default() })
        .await
        .unwrap();
    let actions: Vec<_> = log.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["referral.submitted", "referral.contacted", "referral.closed", "referral.read"]);
});

both_databases!(the_caseload_filters_and_pages_by_keyset, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    for nhs in [NHS, NHS_2, "9990001200"] {
        let mut r = f.referral(nhs);
        if nhs == NHS_2 {
            r.person.family_name = "O'Brien".into();
            r.needs = vec![trellis_domain::values::Need::Debt];
        }
        store.submit_referral(r, None, &gp, Utc::now()).await.unwrap();
    }
    let scope = ReferralScope::WorkedBy(f.service.id);
    let page1 = store.referrals(&lw, &ReferralFilter { limit: 2, ..filter(scope) }, Utc::now()).await.unwrap();
    let page2 = store
        .referrals(&lw, &ReferralFilter { limit: 2, before: Some(page1[1].state.id), ..filter(scope) }, Utc::now())
        .await
        .unwrap();
    assert_eq!((page1.len(), page2.len()), (2, 1));
    assert!(page1[0].state.id > page1[1].state.id && page1[1].state.id > page2[0].state.id, "newest first, no overlap");
    let by_name = store
        .referrals(&lw, &ReferralFilter { search: Some("o'bri".into()), ..filter(scope) }, Utc::now())
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);
    let by_nhs = store
        .referrals(&lw, &ReferralFilter { search: Some("401 023 2137".into()), ..filter(scope) }, Utc::now())
        .await
        .unwrap();
    assert_eq!(by_nhs[0].person.details.family_name, "O'Brien");
    let by_need = store
        .referrals(&lw, &ReferralFilter { need: Some(trellis_domain::values::Need::Debt), ..filter(scope) }, Utc::now())
        .await
        .unwrap();
    assert_eq!(by_need.len(), 1);
    let overdue = store
        .referrals(
            &lw,
            &ReferralFilter { overdue_at: Some(Utc::now() + Duration::days(30)), ..filter(scope) },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(overdue.len(), 3);
});

/// On PostgreSQL a caseload page is planned once per connection, and that one plan walks the scope's
/// `(organisation, id)` index down from the cursor, for a practice's referrals and a service's alike:
/// never the primary key filtered by organisation, never a sort of the organisation's referrals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_caseload_page_is_planned_once_per_connection_down_its_scopes_index() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let (_db, store) = trellis_store::testing::TestDb::migrated(trellis_store::testing::Backend::Postgres).await;
    let f = Fixture::create(&store).await;
    // 10 000 referrals (valid NHS numbers, each its own person) with statistics: one in a hundred for the
    // other practice and its service.
    let bulk = format!(
        "WITH digits AS (SELECT i, lpad(i::text, 9, '0') AS d FROM generate_series(1, 11200) AS i), \
         checked AS (SELECT i, d, (11 - (SELECT sum(substr(d, k, 1)::int * (11 - k)) \
           FROM generate_series(1, 9) AS k) % 11) % 11 AS c FROM digits), \
         n AS (SELECT row_number() OVER (ORDER BY i) AS i, d || c AS nhs, gen_random_uuid() AS person, \
           gen_random_uuid() AS referral FROM checked WHERE c <> 10 LIMIT 10000), \
         p AS (INSERT INTO people (id, nhs_number, given_name, family_name, date_of_birth, preferred_contact, \
           created_at, updated_at) SELECT person, nhs, 'Given', 'Family', '1970-01-01', \
           'letter', now(), now() FROM n), \
         r AS (INSERT INTO referrals (id, person_id, referring_organisation_id, link_worker_service_id, status, \
           needs, reason, urgency, consent_to_share, consent_recorded_by, consent_recorded_at, version, \
           contact_due_at, created_at, updated_at) SELECT referral, person, \
           CASE WHEN i % 100 = 0 THEN '{op}'::uuid ELSE '{p}'::uuid END, \
           CASE WHEN i % 100 = 0 THEN '{os}'::uuid ELSE '{s}'::uuid END, \
           'referred', '[\"loneliness\"]', 'Bulk', 'routine', true, 'Dr Bulk', now(), 1, now(), now(), now() FROM n) \
         SELECT 1",
        op = f.other_practice.id.0,
        p = f.practice.id.0,
        os = f.other_service.id.0,
        s = f.service.id.0,
    );
    let db = store.connection();
    let sql = |text: String| Statement::from_string(DbBackend::Postgres, text);
    // Loaded as a bulk load is, without the reports' triggers (they would look up each row's referral
    // in a table with no statistics yet).
    let load = db.begin().await.unwrap();
    load.execute_raw(sql("SET LOCAL session_replication_role = replica".into())).await.unwrap();
    load.execute_raw(sql(bulk)).await.unwrap();
    load.execute_raw(sql("INSERT INTO referral_demographics (referral_id, nhs_number, given_name, family_name, \
         date_of_birth, preferred_contact, recorded_at) SELECT r.id, p.nhs_number, p.given_name, p.family_name, \
         p.date_of_birth, p.preferred_contact, now() FROM referrals r JOIN people p ON p.id = r.person_id"
        .into()))
        .await
        .unwrap();
    load.commit().await.unwrap();
    db.execute_raw(sql("ANALYZE referrals, referral_demographics".into())).await.unwrap();

    let service = ReferralScope::WorkedBy(f.service.id);
    let practice = ReferralScope::ReferredBy(f.practice.id);
    let cases = [
        (Fixture::actor(&f.link_worker), service, f.service.id, f.other_service.id, "service"),
        (Fixture::actor(&f.gp), practice, f.practice.id, f.other_practice.id, "referrer"),
    ];
    for (reader, scope, organisation, small, index) in cases {
        let first = store.referral_page(&reader, &ReferralFilter { limit: 50, ..filter(scope) }, Utc::now()).await;
        let cursor = first.unwrap().records[49].state.id;
        store.statements().start();
        let next = ReferralFilter { limit: 50, before: Some(cursor), ..filter(scope) };
        store.referral_page(&reader, &next, Utc::now()).await.unwrap();
        let page = store.statements().stop().remove(0);
        let (cursor_is_1, scope_is_2) = (r#""referrals"."id" < $1"#, "= ANY(CAST($2 AS uuid[]))");
        assert!(page.contains(cursor_is_1) && page.contains(scope_is_2) && !page.contains("$3"), "{page}");

        // As the server's connections run it: prepared once, its parameters the organisation as text.
        let txn = db.begin().await.unwrap();
        txn.execute_raw(sql(format!("PREPARE page (uuid, text) AS {page}"))).await.unwrap();
        let args = |organisation: uuid::Uuid| format!("('{}', '{{{organisation}}}')", cursor.0);
        for _ in 0..5 {
            txn.execute_raw(sql(format!("EXECUTE page {}", args(organisation.0)))).await.unwrap();
        }
        for organisation in [organisation.0, small.0] {
            let rows = txn.query_all_raw(sql(format!("EXPLAIN EXECUTE page {}", args(organisation)))).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect();
            let whole = plan.join("\n");
            // The page's referrals are the first 51 entries of the scope's index below the cursor: the
            // line under the limit is that walk, with no sort between (how their people are joined is
            // the planner's to choose by the tables' sizes).
            let limit = plan.iter().position(|line| line.contains("Limit")).expect("a limit");
            let walk = format!("Index Scan Backward using ix_referrals_{index}_id on referrals");
            assert!(plan[limit + 1].contains(&walk), "{whole}");
            assert!(plan[limit + 2].contains("ANY (($2)::uuid[])") && plan[limit + 2].contains("$1"), "{whole}");
            assert!(!whole.contains("referrals_pkey") && !whole.contains("Seq Scan on referrals"), "{whole}");
        }
        txn.rollback().await.unwrap();
    }
}

// A page is decoded with its first row's types checked and the rest taken as the first's (on PostgreSQL):
// a detail the newest referral left empty must still be read, with its own value, from the older ones.
both_databases!(a_page_reads_each_referrals_own_details_whatever_the_newest_left_empty, |store: Store| async move {
    use trellis_domain::report::{EthnicCategory, Sex};
    let f = Fixture::create(&store).await;
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let mut oldest = f.referral(NHS);
    (oldest.person.sex, oldest.person.ethnic_category) = (Some(Sex::Female), Some(EthnicCategory::WhiteBritish));
    let mut middle = f.referral(NHS_2);
    middle.person.given_name = "Tomasz".into();
    (middle.person.sex, middle.person.ethnic_category) = (Some(Sex::Male), Some(EthnicCategory::AsianIndian));
    let mut newest = f.referral("9990001200");
    (newest.person.phone, newest.person.email, newest.person.postcode) = (None, None, None);
    newest.person.preferred_contact = trellis_domain::values::ContactMethod::Letter;
    let mut ids = Vec::new();
    for r in [oldest, middle, newest] {
        ids.push(store.submit_referral(r, None, &gp, Utc::now()).await.unwrap().referral.state.id);
    }
    store
        .transition_referral(ids[1], 1, ReferralCommand::Assign { to: f.link_worker.id }, &lw, Utc::now())
        .await
        .unwrap();
    let page = store.referrals(&lw, &filter(ReferralScope::WorkedBy(f.service.id)), Utc::now()).await.unwrap();
    assert_eq!(page.iter().map(|r| r.state.id).collect::<Vec<_>>(), ids.iter().rev().copied().collect::<Vec<_>>());
    for listed in &page {
        let read_alone = store.referral(&lw, listed.state.id, Utc::now()).await.unwrap();
        assert_eq!(listed, &read_alone, "a row of the page reads as the referral read on its own");
    }
    assert_eq!(page[2].person.details.sex, Some(Sex::Female));
    assert_eq!(page[1].person.details.given_name, "Tomasz");
    assert_eq!(page[1].state.assigned_to, Some(f.link_worker.id));
    assert!(page[0].person.details.phone.is_none() && page[1].person.details.phone.is_some());
});

both_databases!(migrations_roll_down_and_up_again, |store: Store| async move {
    use trellis_migration::{Migrator, MigratorTrait};
    Migrator::down(store.connection(), None).await.unwrap();
    assert!(Migrator::get_applied_migrations(store.connection()).await.unwrap().is_empty());
    Migrator::up(store.connection(), None).await.unwrap();
    Fixture::create(&store).await;
});

both_databases!(concurrent_answers_to_one_offer_produce_exactly_one_winner, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let id = contacted_referral(&store, &f).await;
    let offer = store
        .make_offer(OfferRequest::new(id, f.walking_group.id, timers()).at_version(2), &lw, Utc::now())
        .await
        .unwrap();
    let provider = trellis_domain::Actor::provider_link(f.provider.id);
    let answers = (0..6).map(|i| {
        let store = store.clone();
        let command = if i % 2 == 0 { OfferCommand::Accept } else { OfferCommand::Waitlist };
        tokio::spawn(async move { store.transition_offer(offer.state.id, 1, command, &provider, Utc::now()).await })
    });
    let results = futures_join(answers).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(
        results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(StoreError::Conflict { .. }))),
        "{results:?}"
    );
    let history = store.offer_history(&lw, offer.state.id).await.unwrap();
    assert_eq!(history.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 2], "no gaps, no doubles");
});

both_databases!(
    emails_claimed_by_a_worker_that_died_are_claimed_again_when_its_lease_lapses,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        offered_to_walking_group(&store, &f).await;
        let now = Utc::now();
        let claimed = store.claim_due_emails("crashed", now, now + Duration::seconds(30), 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        // While the lease holds, nobody else may take the row.
        assert!(
            store
                .claim_due_emails("other", now + Duration::seconds(10), now + Duration::seconds(40), 10)
                .await
                .unwrap()
                .is_empty()
        );
        // The first worker never reports back; once its lease lapses another worker takes the row.
        let later = now + Duration::seconds(31);
        let reclaimed = store.claim_due_emails("other", later, later + Duration::seconds(30), 10).await.unwrap();
        assert_eq!((reclaimed.len(), reclaimed[0].id, reclaimed[0].attempts), (1, claimed[0].id, 2));
        // And the dead worker's late report is refused: the row is not marked sent twice.
        assert!(!store.mark_sent(claimed[0].id, "crashed", "subject", Transport::Smtp, later).await.unwrap());
        assert!(store.mark_sent(claimed[0].id, "other", "subject", Transport::Smtp, later).await.unwrap());
    }
);

both_databases!(a_submission_is_routed_and_dated_by_the_stores_policy_whoever_calls, |store: Store| async move {
    let slow = Policy { first_contact_working_days: 10, ..Policy::default() };
    let store = store.with_policy(slow);
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    // A link worker's self-referral is worked by its own service and referred by it.
    let lw = Fixture::actor(&f.link_worker);
    let own = store.submit_referral(f.referral(NHS), None, &lw, now).await.unwrap().referral;
    assert_eq!((own.state.referring_organisation, own.state.link_worker_service), (f.service.id, f.service.id));
    let due = slow.contact_due(Urgency::Routine, now.trunc_subsecs(6));
    assert_eq!(own.contact_due_at, due.trunc_subsecs(6));
    // A practice's referral goes to its link worker service.
    let gp = Fixture::actor(&f.gp);
    let practice = store.submit_referral(f.referral(NHS_2), None, &gp, now).await.unwrap().referral;
    assert_eq!(practice.state.link_worker_service, f.service.id);
});

both_databases!(a_refused_submission_says_why_and_stores_nothing, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let provider = Fixture::actor(&f.provider_user);
    let forbidden = store.submit_referral(f.referral(NHS), None, &provider, now).await;
    assert!(
        matches!(forbidden, Err(StoreError::Domain(DomainError::Forbidden { action: "submit referrals", .. }))),
        "{forbidden:?}"
    );
    let without_consent = NewReferral { consent: None, ..f.referral(NHS) };
    let refused = store.submit_referral(without_consent, None, &Fixture::actor(&f.gp), now).await;
    assert!(
        matches!(&refused, Err(StoreError::Domain(DomainError::Invalid(v))) if v.field == "consent"),
        "{refused:?}"
    );
    let lw = Fixture::actor(&f.link_worker);
    let scope = ReferralScope::of(&lw).unwrap();
    let stored = store.referrals(&lw, &filter(scope), now).await.unwrap();
    assert!(stored.is_empty(), "nothing was stored");
});

both_databases!(a_submission_answers_with_exactly_what_a_later_read_returns, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let gp = Fixture::actor(&f.gp);
    // An instant with nanoseconds, finer than either database keeps.
    let now = Utc::now().with_nanosecond(123_456_789).unwrap();
    let mut new = f.referral(NHS);
    new.consent.as_mut().expect("the fixture consents").recorded_at = now - Duration::minutes(5);
    let submitted = store.submit_referral(new, None, &gp, now).await.unwrap();
    let read = store.referral(&gp, submitted.referral.state.id, Utc::now()).await.unwrap();
    assert_eq!(submitted.referral, read);
});

both_databases!(a_revoked_key_is_refused_at_once_though_it_was_just_used, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let key = store.issue_api_key(f.gp.id, "practice system", Utc::now()).await.unwrap();
    let signed_in = store.authenticate(&key.token).await.unwrap().expect("a live key signs in");
    assert_eq!(signed_in.user.id, f.gp.id);
    assert_eq!(store.authenticate(&key.token).await.unwrap(), Some(signed_in));
    store.revoke_api_key(key.id, Utc::now()).await.unwrap();
    assert_eq!(store.authenticate(&key.token).await.unwrap(), None);
});

both_databases!(
    concurrent_reads_each_answer_only_after_their_own_audit_entry_is_committed,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let id = contacted_referral(&store, &f).await;
        let lw = Fixture::actor(&f.link_worker);
        // Later than the referral's own entries, so that only the reads fall from `start` on.
        let start = (Utc::now() + Duration::hours(1)).with_nanosecond(0).unwrap();
        let mut reads = tokio::task::JoinSet::new();
        for i in 0..40 {
            let store = store.clone();
            // Each read is told apart by its instant, one second apart.
            let at = start + Duration::seconds(i);
            reads.spawn(async move {
                store.referral(&lw, id, at).await.unwrap();
                let own = AuditFilter {
                    referral: Some(id),
                    from: Some(at),
                    until: Some(at + Duration::seconds(1)),
                    limit: 10,
                    ..Default::default()
                };
                let entries = store.audit_log(&own).await.unwrap();
                assert_eq!(
                    entries.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
                    ["referral.read"],
                    "read {i}"
                );
            });
        }
        while let Some(read) = reads.join_next().await {
            read.unwrap();
        }
        let all = AuditFilter { referral: Some(id), from: Some(start), limit: 100, ..Default::default() };
        assert_eq!(store.audit_log(&all).await.unwrap().len(), 40);
    }
);

// ---------------------------------------------------------------------------------------------------------
// Offboarding and keys.

both_databases!(a_disabled_users_keys_stop_working_at_once_and_work_again_once_enabled, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let key = store.issue_api_key(f.gp.id, "practice system", Utc::now()).await.unwrap();
    assert!(store.authenticate(&key.token).await.unwrap().is_some(), "signed in, and cached");
    let disabled = store.disable_user(f.gp.id, Utc::now()).await.unwrap();
    assert!(disabled.disabled_at.is_some());
    assert_eq!(store.authenticate(&key.token).await.unwrap(), None);
    let enabled = store.enable_user(f.gp.id).await.unwrap();
    assert_eq!(enabled.disabled_at, None);
    assert!(store.authenticate(&key.token).await.unwrap().is_some());
});

both_databases!(an_expired_key_is_refused_even_when_it_was_cached, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let past = store.issue_api_key_until(f.gp.id, "old", now - Duration::seconds(1), None, now).await.unwrap();
    assert_eq!(store.authenticate(&past.token).await.unwrap(), None);
    let soon = store.issue_api_key_until(f.gp.id, "short", now + Duration::milliseconds(600), None, now).await.unwrap();
    assert!(store.authenticate(&soon.token).await.unwrap().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(store.authenticate(&soon.token).await.unwrap(), None, "the cache does not outlive the key");
    let listed = store.api_keys_of(f.gp.id).await.unwrap();
    assert!(listed.iter().all(|k| k.expires_at.is_some()));
});

both_databases!(a_key_issued_without_a_lifetime_works_for_a_year, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let key = store.issue_api_key(f.gp.id, "practice system", now).await.unwrap();
    let expires_at = store.api_key(key.id).await.unwrap().expires_at.unwrap();
    assert!((expires_at - (now + Duration::days(365))).num_milliseconds().abs() < 1_000, "{expires_at} from {now}");
});

both_databases!(last_used_at_is_written_on_first_use_and_not_again_within_a_minute, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let key = store.issue_api_key(f.gp.id, "practice system", Utc::now()).await.unwrap();
    assert_eq!(store.api_key(key.id).await.unwrap().last_used_at, None);
    store.authenticate(&key.token).await.unwrap().unwrap();
    let first = store.api_key(key.id).await.unwrap().last_used_at.expect("the first use is recorded");
    for _ in 0..5 {
        store.authenticate(&key.token).await.unwrap().unwrap();
    }
    assert_eq!(store.api_key(key.id).await.unwrap().last_used_at, Some(first));
});

both_databases!(rotating_a_key_issues_a_new_one_and_revokes_the_old_in_one_step, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let old = store.issue_api_key(f.gp.id, "old", now).await.unwrap();
    store.authenticate(&old.token).await.unwrap().unwrap();
    let new = store.issue_api_key_until(f.gp.id, "new", now + Duration::days(30), Some(old.id), now).await.unwrap();
    assert_eq!(store.authenticate(&old.token).await.unwrap(), None);
    assert!(store.authenticate(&new.token).await.unwrap().is_some());
    // Another user's key cannot be the one replaced: nothing is issued.
    let other = store.issue_api_key(f.other_gp.id, "theirs", now).await.unwrap();
    let refused = store.issue_api_key_until(f.gp.id, "x", now + Duration::days(1), Some(other.id), now).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(store.api_keys_of(f.gp.id).await.unwrap().len(), 2, "the old key and the new, no other");
    assert!(store.authenticate(&other.token).await.unwrap().is_some());
});

/// Two stores on one database stand for two server processes.
async fn a_revocation_through_another_process_is_honoured_within_a_second(backend: trellis_store::testing::Backend) {
    let (db, here) = trellis_store::testing::TestDb::migrated(backend).await;
    let there =
        Store::connect(&trellis_store::DatabaseSettings { url: db.url.clone(), max_connections: 4 }).await.unwrap();
    let f = Fixture::create(&here).await;
    let revoked = here.issue_api_key(f.gp.id, "to revoke", Utc::now()).await.unwrap();
    let disabled_user = here.issue_api_key(f.link_worker.id, "to disable", Utc::now()).await.unwrap();
    let kept = here.issue_api_key(f.provider_user.id, "kept", Utc::now()).await.unwrap();
    for token in [&revoked.token, &disabled_user.token, &kept.token] {
        assert!(here.authenticate(token).await.unwrap().is_some(), "cached here");
    }
    there.revoke_api_key(revoked.id, Utc::now()).await.unwrap();
    there.disable_user(f.link_worker.id, Utc::now()).await.unwrap();
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_secs(1);
    loop {
        let a = here.authenticate(&revoked.token).await.unwrap();
        let b = here.authenticate(&disabled_user.token).await.unwrap();
        if a.is_none() && b.is_none() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still accepted after a second: {:?} {:?}", a, b);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() <= trellis_store::EPOCH_CHECK_EVERY + std::time::Duration::from_millis(200));
    assert!(here.authenticate(&kept.token).await.unwrap().is_some(), "other keys still work");
    there.close().await.unwrap();
}

mod a_revocation_through_another_process_is_honoured_within_a_second {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        super::a_revocation_through_another_process_is_honoured_within_a_second(trellis_store::testing::Backend::Sqlite)
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        super::a_revocation_through_another_process_is_honoured_within_a_second(
            trellis_store::testing::Backend::Postgres,
        )
        .await
    }
}
// Idempotency keys expire.

fn key_forgetting(k: &str, hash: &str, forget_before: chrono::DateTime<Utc>) -> Option<IdempotencyKey> {
    Some(IdempotencyKey { key: k.into(), request_hash: hash.into(), forget_before })
}

both_databases!(
    an_idempotency_key_older_than_its_lifetime_is_forgotten_and_a_reuse_makes_a_new_referral,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let gp = Fixture::actor(&f.gp);
        let now = Utc::now();
        let then = now - Duration::days(31);
        let first = store
            .submit_referral(f.referral(NHS), key_forgetting("k", "h", then - Duration::days(30)), &gp, then)
            .await
            .unwrap();
        // Within its lifetime a retry replays; past it, the key is forgotten.
        let within = store
            .submit_referral(
                f.referral(NHS),
                key_forgetting("k", "h", then - Duration::days(29)),
                &gp,
                then + Duration::days(1),
            )
            .await
            .unwrap();
        assert!(within.replayed);
        let after = store
            .submit_referral(f.referral(NHS), key_forgetting("k", "h", now - Duration::days(30)), &gp, now)
            .await
            .unwrap();
        assert!(!after.replayed, "a key 31 days old is forgotten");
        assert_ne!(after.referral.state.id, first.referral.state.id);
        // The key now names the new referral.
        let retry = store
            .submit_referral(f.referral(NHS), key_forgetting("k", "h", now - Duration::days(30)), &gp, now)
            .await
            .unwrap();
        assert!(retry.replayed);
        assert_eq!(retry.referral.state.id, after.referral.state.id);
    }
);

both_databases!(the_worker_forgets_expired_idempotency_keys_and_keeps_the_others, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let gp = Fixture::actor(&f.gp);
    let now = Utc::now();
    let long_ago = now - Duration::days(40);
    let never = long_ago - Duration::days(3650);
    store.submit_referral(f.referral(NHS), key_forgetting("old", "h-old", never), &gp, long_ago).await.unwrap();
    store.submit_referral(f.referral(NHS_2), key_forgetting("new", "h-new", never), &gp, now).await.unwrap();
    assert_eq!(store.forget_idempotency_keys(now - Duration::days(30)).await.unwrap(), 1);
    // Gone: even a submission that would never forget a key on its own is a new request now, not a
    // reuse of "old" with a different request.
    let reused =
        store.submit_referral(f.referral(NHS_2), key_forgetting("old", "h-other", never), &gp, now).await.unwrap();
    assert!(!reused.replayed);
    // Kept: still a replay.
    let kept = store.submit_referral(f.referral(NHS_2), key_forgetting("new", "h-new", never), &gp, now).await.unwrap();
    assert!(kept.replayed);
});

// ---------------------------------------------------------------------------------------------------------
// No silent overwrite of services.

both_databases!(an_accept_racing_an_absolute_capacity_set_never_loses_the_place_it_took, |store: Store| async move {
    use trellis_domain::directory::CapacityStatus;
    use trellis_store::directory::CapacityUpdate;

    let f = Fixture::create(&store).await;
    let (lw, provider) = (Fixture::actor(&f.link_worker), Fixture::actor(&f.provider_user));
    let service = f.walking_group.id;
    let capacity =
        |available| CapacityUpdate { available, maximum: 20, unit: "places".into(), status: CapacityStatus::Open };
    let (mut sets_won, mut sets_refused) = (0, 0);
    for round in 0..12 {
        let version = store.service(service).await.unwrap().version;
        store.update_service_capacity(&provider, service, version, capacity(5), Utc::now()).await.unwrap();
        let referral = contacted_referral(&store, &f).await;
        let now = Utc::now();
        let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
        let offer = store
            .make_offer(OfferRequest::new(referral, service, timers).at_version(2), &lw, now)
            .await
            .unwrap()
            .state
            .id;
        // The provider's page was read here: 5 free.
        let read_at = store.service(service).await.unwrap().version;
        let accept = store.transition_offer(offer, 1, OfferCommand::Accept, &provider, Utc::now());
        let set = store.update_service_capacity(&provider, service, read_at, capacity(10), Utc::now());
        let (accepted, set) = if round % 2 == 0 {
            tokio::join!(accept, set)
        } else {
            let (set, accepted) = tokio::join!(set, accept);
            (accepted, set)
        };
        accepted.expect("the accept always succeeds");
        let available = store.service(service).await.unwrap().capacity.unwrap().available;
        match set {
            // The set came first; the accept then took a place from it.
            Ok(_) => {
                sets_won += 1;
                assert_eq!(available, 9, "round {round}: the set's 10, less the place taken");
            }
            // The accept came first; the set, made from a view without it, is refused.
            Err(StoreError::Conflict { expected, current }) => {
                sets_refused += 1;
                assert_eq!(expected, read_at);
                assert!(current > read_at);
                assert_eq!(available, 4, "round {round}: the place taken stands");
            }
            Err(e) => panic!("round {round}: {e:?}"),
        }
    }
    println!("capacity sets that came first: {sets_won}; refused for coming after the accept: {sets_refused}");
    assert_eq!(sets_won + sets_refused, 12);
});
both_databases!(
    a_stored_value_that_no_longer_parses_is_an_error_naming_its_column_never_the_value,
    |store: Store| async move {
        use sea_orm::ConnectionTrait;
        let f = Fixture::create(&store).await;
        let gp = Fixture::actor(&f.gp);
        let id = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap().referral.state.id;
        // A phone number that no longer parses, as a hand edit or a bug might leave one.
        let corrupt = "UPDATE referral_demographics SET phone = '0115 496 0123 ext CALL-ME'";
        store.connection().execute_unprepared(corrupt).await.unwrap();
        let err = store.referral(&gp, id, Utc::now()).await.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, StoreError::Corrupt(_)), "{shown}");
        assert!(shown.contains("phone"), "the error names the column: {shown}");
        assert!(!shown.contains("CALL-ME") && !shown.contains("0115"), "the error carries the value: {shown}");
    }
);

both_databases!(
    outbox_rows_written_before_jobs_were_typed_are_still_claimed_as_typed_jobs,
    |store: Store| async move {
        use sea_orm::ConnectionTrait;
        use sea_orm::sea_query::{Alias, Query};
        use trellis_domain::OfferId;
        use trellis_store::outbox::OutboxJob;

        let offer = uuid::Uuid::now_v7();
        let now = Utc::now() - Duration::minutes(1);
        // Exactly the payloads the store wrote with string keys, before `OutboxJob`.
        let old = [
            ("offer_made", format!(r#"{{"offer":"{offer}"}}"#)),
            ("offer_ended", format!(r#"{{"offer":"{offer}","status":"withdrawn"}}"#)),
        ];
        for (n, (kind, payload)) in old.into_iter().enumerate() {
            let id = uuid::Uuid::now_v7();
            let due = now + Duration::seconds(n as i64);
            let insert = Query::insert()
                .into_table(Alias::new("email_outbox"))
                .columns(
                    ["id", "kind", "recipient", "payload", "message_id", "status", "attempts", "next_attempt_at"]
                        .into_iter()
                        .chain(["offer_id", "created_at"])
                        .map(Alias::new),
                )
                .values_panic([
                    id.into(),
                    kind.into(),
                    "walks@greenspring.example".into(),
                    payload.into(),
                    format!("<{id}@outbox.trellis>").into(),
                    "pending".into(),
                    0i32.into(),
                    due.into(),
                    offer.into(),
                    now.into(),
                ])
                .to_owned();
            store.connection().execute(&insert).await.unwrap();
        }
        let claimed = store.claim_due_emails("w1", Utc::now(), Utc::now() + Duration::minutes(5), 10).await.unwrap();
        let jobs: Vec<_> = claimed.into_iter().map(|e| (e.kind, e.job)).collect();
        assert_eq!(
            jobs,
            [
                (JobKind::OfferMade, OutboxJob::OfferMade { offer: OfferId(offer) }),
                (JobKind::OfferEnded, OutboxJob::OfferEnded { offer: OfferId(offer), status: OfferStatus::Withdrawn }),
            ]
        );
    }
);

both_databases!(
    an_offers_emails_are_read_only_by_those_who_see_the_offer_and_a_provider_reads_only_its_own,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        let offer = offered_to_walking_group(&store, &f).await.state.id;
        let provider = Fixture::actor(&f.provider_user);
        store.transition_offer(offer, 1, OfferCommand::Accept, &provider, Utc::now()).await.unwrap();
        let kinds = |emails: Vec<trellis_store::outbox::OutboxEmail>| emails.iter().map(|e| e.kind).collect::<Vec<_>>();

        let all = vec![JobKind::OfferMade, JobKind::OfferAnswered];
        assert_eq!(kinds(store.emails_for_offer(&lw, offer).await.unwrap()), all, "its link worker service");
        let gp = Fixture::actor(&f.gp);
        assert_eq!(kinds(store.emails_for_offer(&gp, offer).await.unwrap()), all, "the referring practice");
        let to_provider = vec![JobKind::OfferMade];
        assert_eq!(kinds(store.emails_for_offer(&provider, offer).await.unwrap()), to_provider, "its provider");
        for (who, user) in [
            ("another service's link worker", &f.other_link_worker),
            ("another practice", &f.other_gp),
            ("the network lead", &f.network_lead),
            ("an administrator", &f.admin),
        ] {
            let refused = store.emails_for_offer(&Fixture::actor(user), offer).await;
            assert!(matches!(refused, Err(StoreError::NotFound)), "{who}: {refused:?}");
        }
        let another_provider = trellis_domain::Actor::provider_link(f.other_service.id);
        assert!(matches!(store.emails_for_offer(&another_provider, offer).await, Err(StoreError::NotFound)));
    }
);
