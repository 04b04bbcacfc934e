//! The audit of listings on SQLite and PostgreSQL: a page writes one entry naming everyone it shows,
//! "who saw this person" finds it (with the single reads and changes, newest first, page by page), a
//! request lists a person once, pages answered at the same time each have their own, a page whose
//! entry cannot be written is not answered, and on PostgreSQL a page's people are read only by the
//! statement that writes its entry.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use trellis_domain::access::ReferralScope;
use trellis_domain::{Actor, ReferralId, UserId};
use trellis_store::audit::{AuditEntry, AuditFilter, within_one_request};
use trellis_store::referrals::{ReferralFilter, ReferralPage};
use trellis_store::testing::{Backend, Fixture, TestDb, refuse_audit_listings};
use trellis_store::{Store, StoreError, both_databases};
use uuid::Uuid;

const NHS: [&str; 3] = ["9434765919", "4010232137", "9434765870"];

/// The link worker service's caseload, `limit` to a page.
fn caseload(f: &Fixture, limit: u64) -> ReferralFilter {
    ReferralFilter {
        scope: ReferralScope::WorkedBy(f.service.id),
        statuses: vec![],
        need: None,
        assigned_to: None,
        overdue_at: None,
        search: None,
        before: None,
        limit,
    }
}

/// Three referrals in the fixture service's caseload, oldest first.
async fn three_referrals(store: &Store, f: &Fixture) -> Vec<ReferralId> {
    let gp = Fixture::actor(&f.gp);
    let mut ids = Vec::new();
    for nhs in NHS {
        ids.push(store.submit_referral(f.referral(nhs), None, &gp, Utc::now()).await.unwrap().referral.state.id);
    }
    ids
}

async fn page(store: &Store, reader: &Actor, filter: &ReferralFilter) -> ReferralPage {
    store.referral_page(reader, filter, Utc::now()).await.unwrap()
}

fn shown(page: &ReferralPage) -> Vec<ReferralId> {
    let mut ids: Vec<_> = page.records.iter().map(|r| r.state.id).collect();
    ids.sort();
    ids
}

/// `user`'s listings, newest first.
async fn listings_by(store: &Store, user: UserId) -> Vec<AuditEntry> {
    let all = store.audit_log(&AuditFilter { actor: Some(user), limit: 1000, ..Default::default() }).await.unwrap();
    all.into_iter().filter(|e| e.action == "referral.listed").collect()
}

fn sorted(mut ids: Vec<ReferralId>) -> Vec<ReferralId> {
    ids.sort();
    ids
}

async fn about(store: &Store, referral: ReferralId) -> Vec<AuditEntry> {
    store.audit_log(&AuditFilter { referral: Some(referral), limit: 1000, ..Default::default() }).await.unwrap()
}

both_databases!(
    a_page_writes_one_audit_entry_naming_everyone_it_shows_and_each_persons_history_shows_it,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        let ids = three_referrals(&store, &f).await;

        let first = page(&store, &lw, &caseload(&f, 2)).await;
        assert!(first.has_next, "a third referral follows the page");
        let listings = listings_by(&store, f.link_worker.id).await;
        assert_eq!(listings.len(), 1, "one entry for a page of two: {listings:#?}");
        let entry = &listings[0];
        assert_eq!(sorted(entry.listed.clone()), shown(&first));
        assert_eq!((entry.referral, entry.offer, entry.actor), (None, None, lw));
        for id in shown(&first) {
            assert!(about(&store, id).await.iter().any(|e| e.id == entry.id), "{id}'s history shows the page");
        }
        let unshown = *ids.iter().find(|id| !shown(&first).contains(id)).unwrap();
        assert!(
            about(&store, unshown).await.iter().all(|e| e.action != "referral.listed"),
            "the person the page did not show is not listed"
        );

        let whole = page(&store, &lw, &caseload(&f, 3)).await;
        assert_eq!((whole.records.len(), whole.has_next), (3, false));
        let listings = listings_by(&store, f.link_worker.id).await;
        assert_eq!(listings.len(), 2, "one more entry for the next page");
        assert_eq!(sorted(listings[0].listed.clone()), sorted(ids.clone()), "the newest first");
        for id in ids {
            assert_eq!(
                about(&store, id).await.iter().filter(|e| e.action == "referral.listed").count(),
                if id == unshown { 1 } else { 2 }
            );
        }
    }
);

both_databases!(
    who_saw_a_person_is_every_entry_about_them_newest_first_and_pages_by_its_cursor,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        let other_lw = Fixture::actor(&f.other_link_worker);
        let ids = three_referrals(&store, &f).await;
        let person = ids[0];
        // Read alone, listed with others, and listed pages that do not show them.
        page(&store, &lw, &caseload(&f, 3)).await;
        store.referral(&lw, person, Utc::now()).await.unwrap();
        store.referral(&lw, ids[1], Utc::now()).await.unwrap();
        page(&store, &lw, &caseload(&f, 1)).await;
        let elsewhere = ReferralFilter { scope: ReferralScope::WorkedBy(f.other_service.id), ..caseload(&f, 50) };
        page(&store, &other_lw, &elsewhere).await;
        page(&store, &lw, &caseload(&f, 3)).await;
        store.referral(&lw, person, Utc::now()).await.unwrap();

        // What the whole log says about the person, worked out here rather than by the query under test.
        let everything = store.audit_log(&AuditFilter { limit: 1000, ..Default::default() }).await.unwrap();
        let expected: Vec<_> = everything
            .iter()
            .filter(|e| e.referral == Some(person) || e.listed.contains(&person))
            .map(|e| e.id)
            .collect();
        let actions: Vec<&str> =
            everything.iter().filter(|e| expected.contains(&e.id)).map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["referral.read", "referral.listed", "referral.read", "referral.listed", "referral.submitted"]
        );

        let mut walked = Vec::new();
        let mut before = None;
        loop {
            let filter = AuditFilter { referral: Some(person), before, limit: 2, ..Default::default() };
            let page = store.audit_log(&filter).await.unwrap();
            walked.extend(page.iter().map(|e| e.id));
            match page.last() {
                Some(last) if page.len() == 2 => before = Some(last.id),
                _ => break,
            }
        }
        assert_eq!(walked, expected, "newest first, every entry once, two at a time");
    }
);

both_databases!(
    who_saw_a_person_finds_every_page_that_showed_them_by_practice_or_service_from_any_cursor,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let (lw, gp) = (Fixture::actor(&f.link_worker), Fixture::actor(&f.gp));
        let mut ids = Vec::new();
        for i in 0..12 {
            let submitted = store.submit_referral(f.referral(NHS[i % 3]), None, &gp, Utc::now()).await.unwrap();
            ids.push(submitted.referral.state.id);
        }
        // Pages of every size from every cursor, by the service's link worker and by the practice's GP.
        let mut dice = 0x2545_f491_4f6c_dd1d_u64;
        let mut roll = |n: usize| {
            dice ^= dice << 13;
            dice ^= dice >> 7;
            dice ^= dice << 17;
            usize::try_from(dice % n as u64).unwrap()
        };
        for _ in 0..40 {
            let (reader, scope) = if roll(2) == 0 {
                (&lw, ReferralScope::WorkedBy(f.service.id))
            } else {
                (&gp, ReferralScope::ReferredBy(f.practice.id))
            };
            let limit = 1 + roll(5) as u64;
            let before = (roll(3) > 0).then(|| ids[roll(ids.len())]);
            page(&store, reader, &ReferralFilter { scope, before, ..caseload(&f, limit) }).await;
        }

        // Each person's entries as the whole log says, against what "who saw" finds.
        let everything = store.audit_log(&AuditFilter { limit: 10_000, ..Default::default() }).await.unwrap();
        for id in &ids {
            let expected: Vec<_> =
                everything.iter().filter(|e| e.referral == Some(*id) || e.listed.contains(id)).map(|e| e.id).collect();
            let filter = AuditFilter { referral: Some(*id), limit: 10_000, ..Default::default() };
            let found: Vec<_> = store.audit_log(&filter).await.unwrap().into_iter().map(|e| e.id).collect();
            assert_eq!(found, expected, "who saw {id}");
            assert!(expected.len() > 1, "{id} was listed at least once: the test would prove nothing otherwise");
        }
    }
);

both_databases!(within_one_request_a_person_already_listed_is_not_listed_again, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let ids = three_referrals(&store, &f).await;
    let (two, three) = within_one_request(async {
        (page(&store, &lw, &caseload(&f, 2)).await, page(&store, &lw, &caseload(&f, 3)).await)
    })
    .await;
    let listings = listings_by(&store, f.link_worker.id).await;
    assert_eq!(listings.len(), 2);
    assert_eq!(sorted(listings[1].listed.clone()), shown(&two));
    let new: Vec<_> = shown(&three).into_iter().filter(|id| !shown(&two).contains(id)).collect();
    assert_eq!(listings[0].listed, new, "only the person the request had not listed yet");

    within_one_request(async {
        page(&store, &lw, &caseload(&f, 3)).await;
        page(&store, &lw, &caseload(&f, 3)).await;
    })
    .await;
    let listings = listings_by(&store, f.link_worker.id).await;
    assert_eq!(listings.len(), 3, "a new request lists again, once");
    assert_eq!(sorted(listings[0].listed.clone()), sorted(ids));
});

both_databases!(a_page_whose_audit_entry_cannot_be_written_is_refused, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    three_referrals(&store, &f).await;
    refuse_audit_listings(&store).await;
    let refused = store.referral_page(&lw, &caseload(&f, 50), Utc::now()).await;
    assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    assert!(listings_by(&store, f.link_worker.id).await.is_empty());
});

both_databases!(
    pages_answered_at_the_same_time_each_have_their_own_entry_committed_before_they_answer,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        three_referrals(&store, &f).await;
        // Many pages at once, each writing its entry while the others read and write theirs.
        let pages: Vec<_> = (0..24u64)
            .map(|i| {
                let (store, filter) = (store.clone(), caseload(&f, 1 + i % 3));
                tokio::spawn(async move {
                    let page = page(&store, &lw, &filter).await;
                    // Read back on another connection as soon as the page is answered.
                    let committed = listings_by(&store, lw.user.unwrap()).await;
                    assert!(
                        committed.iter().any(|e| sorted(e.listed.clone()) == shown(&page)),
                        "the page's entry is committed when it answers"
                    );
                    shown(&page)
                })
            })
            .collect();
        let mut shown_by_pages = Vec::new();
        for page in pages {
            shown_by_pages.push(page.await.unwrap());
        }
        let mut written: Vec<_> =
            listings_by(&store, f.link_worker.id).await.into_iter().map(|e| sorted(e.listed)).collect();
        shown_by_pages.sort();
        written.sort();
        assert_eq!(written, shown_by_pages, "one entry per page, naming exactly whom it showed");
    }
);

both_databases!(
    pages_answered_at_the_same_time_are_all_refused_when_their_entries_cannot_be_written,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        three_referrals(&store, &f).await;
        refuse_audit_listings(&store).await;
        let pages: Vec<_> = (0..12)
            .map(|_| {
                let (store, filter) = (store.clone(), caseload(&f, 50));
                tokio::spawn(async move { store.referral_page(&lw, &filter, Utc::now()).await })
            })
            .collect();
        for page in pages {
            let refused = page.await.unwrap();
            assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
        }
        assert!(listings_by(&store, f.link_worker.id).await.is_empty());
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_listing_and_its_index_rows_commit_together_or_not_at_all() {
    let (_db, store) = TestDb::migrated(Backend::Sqlite).await;
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    three_referrals(&store, &f).await;
    store
        .connection()
        .execute_unprepared(
            "CREATE TRIGGER refuse_index_rows BEFORE INSERT ON audit_log_referrals \
             BEGIN SELECT RAISE(ABORT, 'index rows refused'); END",
        )
        .await
        .unwrap();
    let refused = store.referral_page(&lw, &caseload(&f, 50), Utc::now()).await;
    assert!(matches!(refused, Err(StoreError::Database(_))), "{refused:?}");
    assert!(listings_by(&store, f.link_worker.id).await.is_empty(), "no entry without its index rows");
}

/// `statement` with its values written into it, for `EXECUTE` of a prepared statement.
fn literal_values(statement: &Statement) -> String {
    let values = statement.values.as_ref().map(|v| v.0.clone()).unwrap_or_default();
    let literals: Vec<String> = values
        .into_iter()
        .map(|value| match value {
            sea_orm::Value::Uuid(Some(u)) => format!("'{u}'::uuid"),
            sea_orm::Value::BigUnsigned(Some(n)) => n.to_string(),
            sea_orm::Value::String(Some(text)) => format!("'{text}'"),
            other => panic!("no literal for {other:?}"),
        })
        .collect();
    literals.join(", ")
}

/// The plan PostgreSQL runs `statement` with: as sent (a custom plan) or, `generic`, as a prepared
/// statement planned once for any values.
async fn plan_of(db: &sea_orm::DatabaseConnection, statement: &Statement, generic: bool) -> String {
    let txn = db.begin().await.unwrap();
    let explain = if generic {
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan").await.unwrap();
        txn.execute_unprepared(&format!("PREPARE who_saw AS {}", statement.sql)).await.unwrap();
        Statement::from_string(
            DatabaseBackend::Postgres,
            format!("EXPLAIN EXECUTE who_saw({})", literal_values(statement)),
        )
    } else {
        Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!("EXPLAIN {}", statement.sql),
            statement.values.clone().map(|v| v.0).unwrap_or_default(),
        )
    };
    let rows = txn.query_all_raw(explain).await.unwrap();
    if generic {
        txn.execute_unprepared("DEALLOCATE who_saw").await.unwrap();
    }
    txn.rollback().await.unwrap();
    rows.iter().map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap()).collect::<Vec<_>>().join("\n")
}

/// `audit_log` listings by `service`, one naming each of `pages`, binned as the store bins them.
fn listings_sql(service: Uuid, pages: &[Vec<Uuid>]) -> String {
    let rows: Vec<String> = pages
        .iter()
        .map(|ids| {
            let array = ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",");
            format!("('{{{array}}}'::uuid[])")
        })
        .collect();
    format!(
        "INSERT INTO audit_log (id, occurred_at, actor_role, actor_organisation_id, action, referral_ids, listed_bin) \
         SELECT gen_random_uuid(), now(), 'link_worker', '{service}', 'referral.listed', ids, \
         audit_listed_bin((SELECT r FROM unnest(ids) r ORDER BY r LIMIT 1), (SELECT r FROM unnest(ids) r ORDER BY r DESC LIMIT 1)) \
         FROM (VALUES {}) AS pages (ids)",
        rows.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_who_saw_a_person_reads_only_their_entries_whatever_the_plan_and_however_often_listed() {
    let (_db, store) = TestDb::migrated(Backend::Postgres).await;
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let ids = three_referrals(&store, &f).await;
    // A log of 2,000 pages of 50 other people of the same service, made around the same time (their
    // bins are near the person's), 2,000 single reads, and 200 pages listing `often` (the statistics then
    // say `often` is on one entry in twenty: walking the log from its newest entry finds 50 of them
    // soonest, the plan an old form of the query took).
    let often = ids[1];
    let others: Vec<Vec<Uuid>> = (0..2_000).map(|_| (0..50).map(|_| Uuid::now_v7()).collect()).collect();
    let db = store.connection();
    for pages in others.chunks(500) {
        db.execute_unprepared(&listings_sql(f.service.id.0, pages)).await.unwrap();
    }
    db.execute_unprepared(
        "INSERT INTO audit_log (id, occurred_at, actor_role, action, referral_id) \
         SELECT gen_random_uuid(), now(), 'link_worker', 'referral.read', gen_random_uuid() \
         FROM generate_series(1, 2000)",
    )
    .await
    .unwrap();
    db.execute_unprepared(&listings_sql(f.service.id.0, &vec![vec![often.0]; 200])).await.unwrap();
    page(&store, &lw, &caseload(&f, 3)).await;
    db.execute_unprepared("ANALYZE audit_log").await.unwrap();

    for (person, generic) in [(ids[0], false), (ids[0], true), (often, false), (often, true)] {
        let filter = AuditFilter { referral: Some(person), limit: 50, ..Default::default() };
        let plan = plan_of(db, &store.audit_log_statement(&filter), generic).await;
        let context = format!("{} plan, {person}:\n{plan}", if generic { "generic" } else { "custom" });
        assert!(plan.contains("ix_audit_listed_bin"), "the listings are found by their bins, {context}");
        assert!(plan.contains("ix_audit_referral "), "single records through their own index, {context}");
        assert!(!plan.contains("Seq Scan on audit_log"), "the log is never scanned, {context}");
    }
    let entries = store.audit_log(&AuditFilter { referral: Some(ids[0]), limit: 50, ..Default::default() }).await;
    let actions: Vec<String> = entries.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["referral.listed", "referral.submitted"]);
    let often_entries =
        store.audit_log(&AuditFilter { referral: Some(often), limit: 50, ..Default::default() }).await.unwrap();
    assert_eq!(often_entries.len(), 50);
    assert!(often_entries.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert!(often_entries[0].listed.contains(&often), "the caseload page, the newest");
}

/// The bin the store gives a listing as it is written (`listed_bin`) is the one migration
/// `m20261127_000021` gave the listings written before it (`audit_listed_bin`), and one of the bins
/// "who saw" looks up for each id the listing names (`bins_holding`), for ids at every distance apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_listing_is_binned_as_the_migration_binned_those_before_and_found_by_each_id() {
    let (_db, store) = TestDb::migrated(Backend::Postgres).await;
    let mut pairs = Vec::new();
    for shift in 0_u32..56 {
        let lowest = 0x0190_f3a2_7b4c_7def_8000_0000_0000_0001_u128 + (u128::from(shift) << 77);
        pairs.push((Uuid::from_u128(lowest), Uuid::from_u128(lowest + (1_u128 << (70 + shift)))));
        pairs.push((Uuid::from_u128(lowest), Uuid::from_u128(lowest)));
    }
    let values: Vec<String> = pairs.iter().map(|(a, b)| format!("('{a}'::uuid, '{b}'::uuid)")).collect();
    let sql = format!(
        "SELECT lowest, highest, audit_listed_bin(lowest, highest) FROM (VALUES {}) AS listings (lowest, highest)",
        values.join(", ")
    );
    let rows = store.connection().query_all_raw(Statement::from_string(DatabaseBackend::Postgres, sql)).await.unwrap();
    assert_eq!(rows.len(), pairs.len());
    for row in rows {
        let (lowest, highest): (Uuid, Uuid) = (row.try_get_by_index(0).unwrap(), row.try_get_by_index(1).unwrap());
        let migrated: i64 = row.try_get_by_index(2).unwrap();
        let written = trellis_store::audit::listed_bin(lowest, highest);
        assert_eq!(migrated, written, "{lowest} .. {highest}");
        for id in [lowest, highest] {
            let bins = trellis_store::audit::bins_holding(ReferralId(id));
            assert!(bins.contains(&written), "{id} is found in the listing of {lowest} .. {highest}");
        }
    }
}

/// On PostgreSQL a page is two statements: its referrals with their people, then its entry, whose values
/// are all parameters (PostgreSQL plans the `INSERT` once per connection, not once per page); the entry
/// names only the people shown, not the one read to learn that more follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_page_is_read_with_its_people_in_one_statement_and_listed_by_one_fully_bound_insert() {
    let (_db, store) = TestDb::migrated(Backend::Postgres).await;
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let ids = three_referrals(&store, &f).await;

    store.statements().start();
    let first = page(&store, &lw, &caseload(&f, 2)).await;
    let sql = store.statements().stop();

    assert_eq!((first.records.len(), first.has_next), (2, true));
    assert_eq!(sql.len(), 2, "two statements for the page: {sql:#?}");
    assert!(sql[0].contains("FROM \"referrals\"") && sql[0].contains("referral_demographics"), "{sql:#?}");
    assert!(sql[1].starts_with("INSERT INTO audit_log"), "then the entry: {sql:#?}");
    assert!(sql[1].ends_with("VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS uuid[]), $8)"), "every value bound: {sql:#?}");
    let entry = store.audit_log(&AuditFilter { limit: 1, ..AuditFilter::default() }).await.unwrap();
    let mut listed = entry[0].listed.clone();
    listed.sort();
    assert_eq!(listed, shown(&first), "the entry names the two shown, not the third");
    assert!(!shown(&first).contains(&ids[0]), "the oldest is the one read only to learn that more follow");
}

both_databases!(
    a_referral_without_its_people_fails_the_page_showing_it_never_the_page_that_only_learns_more_follow,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        let ids = three_referrals(&store, &f).await;
        let first = page(&store, &lw, &caseload(&f, 2)).await;
        assert!(!shown(&first).contains(&ids[0]), "the oldest is read only to learn that more follow");

        let db = store.connection();
        let mark = if db.get_database_backend() == DatabaseBackend::Postgres { "$1" } else { "?" };
        let without = format!("DELETE FROM referral_demographics WHERE referral_id = {mark}");
        let deleted = db
            .execute_raw(Statement::from_sql_and_values(db.get_database_backend(), without, [ids[0].0.into()]))
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 1);
        let again = page(&store, &lw, &caseload(&f, 2)).await;
        assert_eq!((shown(&again), again.has_next), (shown(&first), true), "its missing people are not needed");
        let whole = store.referral_page(&lw, &caseload(&f, 3), Utc::now()).await;
        assert!(matches!(whole, Err(StoreError::Corrupt(_))), "shown without its people, never left out: {whole:?}");
    }
);
