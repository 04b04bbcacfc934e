//! Browser sessions on SQLite and PostgreSQL: stored as a hash, ended by idleness, by age, by signing
//! out, by disabling the user and by revoking the key they were opened with.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use trellis_store::Store;
use trellis_store::both_databases;
use trellis_store::sessions::{SESSION_PREFIX, SessionPolicy};
use trellis_store::testing::Fixture;

const POLICY: SessionPolicy =
    SessionPolicy { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(10 * 3600) };

fn minutes(m: i64) -> chrono::Duration {
    chrono::Duration::minutes(m)
}

async fn stored_text(store: &Store) -> String {
    let backend = store.backend();
    let rows = store
        .connection()
        .query_all_raw(Statement::from_string(backend, "SELECT id_hash FROM web_sessions"))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "id_hash").unwrap()).collect::<Vec<_>>().join(" ")
}

both_databases!(a_session_is_a_random_id_stored_only_as_its_hash_that_finds_its_user, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let key = store.issue_api_key(f.network_lead.id, "test", Utc::now()).await.unwrap();
    let now = Utc::now();
    let opened = store.open_session(f.network_lead.id, Some(key.id), POLICY, now).await.unwrap();
    let other = store.open_session(f.network_lead.id, Some(key.id), POLICY, now).await.unwrap();
    assert!(opened.secret.starts_with(SESSION_PREFIX));
    assert_eq!(opened.secret.len(), SESSION_PREFIX.len() + 64, "256 random bits, in hex");
    assert_ne!(opened.secret, other.secret);
    assert!(!format!("{opened:?}").contains(&opened.secret[SESSION_PREFIX.len()..]), "Debug hides the secret");
    let stored = stored_text(&store).await;
    assert!(!stored.contains(&opened.secret[SESSION_PREFIX.len()..]), "only a hash is stored");
    assert!(!stored.contains(&key.token), "the session is not the API token");

    let found = store.session(&opened.secret, POLICY, now + minutes(1)).await.unwrap().unwrap();
    assert_eq!(found.user.id, f.network_lead.id);
    assert_eq!(found.organisation.id, f.network_lead.organisation);
    assert_eq!(found.session.api_key, Some(key.id));
    assert_eq!(store.session(&key.token, POLICY, now).await.unwrap(), None, "an API token is not a session");
    assert_eq!(store.session("trs_made_up", POLICY, now).await.unwrap(), None);
});

both_databases!(a_session_ends_when_idle_and_after_its_absolute_limit_however_busy, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let start = Utc::now();
    let idle = store.open_session(f.link_worker.id, None, POLICY, start).await.unwrap();
    assert!(store.session(&idle.secret, POLICY, start + minutes(29)).await.unwrap().is_some());
    // Seen at 29 minutes: idle is counted from then.
    assert!(store.session(&idle.secret, POLICY, start + minutes(58)).await.unwrap().is_some());
    assert!(store.session(&idle.secret, POLICY, start + minutes(89)).await.unwrap().is_none(), "idle 31 minutes");

    let busy = store.open_session(f.link_worker.id, None, POLICY, start).await.unwrap();
    let mut at = start;
    while at < start + minutes(599) {
        at += minutes(20);
        let live = store.session(&busy.secret, POLICY, at).await.unwrap().is_some();
        assert_eq!(live, at < start + minutes(600), "at {} minutes", (at - start).num_minutes());
    }
    assert!(store.session(&busy.secret, POLICY, start + minutes(601)).await.unwrap().is_none(), "10 hours in all");
    // Ended sessions are swept when the next one opens.
    store.open_session(f.link_worker.id, None, POLICY, start + minutes(700)).await.unwrap();
    assert_eq!(stored_text(&store).await.split_whitespace().count(), 1);
});

both_databases!(
    a_session_ends_at_once_when_its_key_is_revoked_its_user_disabled_or_it_is_closed,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let now = Utc::now();
        let key = store.issue_api_key(f.network_lead.id, "test", now).await.unwrap();
        let by_key = store.open_session(f.network_lead.id, Some(key.id), POLICY, now).await.unwrap();
        let other_key = store.issue_api_key(f.network_lead.id, "other", now).await.unwrap();
        let by_other_key = store.open_session(f.network_lead.id, Some(other_key.id), POLICY, now).await.unwrap();
        store.revoke_api_key(key.id, now).await.unwrap();
        assert!(store.session(&by_key.secret, POLICY, now).await.unwrap().is_none(), "its key is revoked");
        assert!(store.session(&by_other_key.secret, POLICY, now).await.unwrap().is_some(), "another key's is not");

        let lw = store.open_session(f.link_worker.id, None, POLICY, now).await.unwrap();
        store
            .connection()
            .execute_unprepared(&format!(
                "UPDATE users SET disabled_at = created_at WHERE email = '{}'",
                f.link_worker.email
            ))
            .await
            .unwrap();
        assert!(store.session(&lw.secret, POLICY, now).await.unwrap().is_none(), "its user is disabled");

        assert!(store.close_session(&by_other_key.secret).await.unwrap());
        assert!(store.session(&by_other_key.secret, POLICY, now).await.unwrap().is_none(), "signed out");
        assert!(!store.close_session(&by_other_key.secret).await.unwrap(), "closing twice finds nothing");

        let a = store.open_session(f.gp.id, None, POLICY, now).await.unwrap();
        let b = store.open_session(f.gp.id, None, POLICY, now).await.unwrap();
        assert_eq!(store.close_sessions_of(f.gp.id).await.unwrap(), 2);
        for s in [a, b] {
            assert!(store.session(&s.secret, POLICY, now).await.unwrap().is_none());
        }
    }
);

both_databases!(a_session_signed_in_with_a_key_ends_when_the_key_expires, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let key = store.issue_api_key_until(f.network_lead.id, "short", now + minutes(5), None, now).await.unwrap();
    let opened = store.open_session(f.network_lead.id, Some(key.id), POLICY, now).await.unwrap();
    assert!(store.session(&opened.secret, POLICY, now + minutes(4)).await.unwrap().is_some(), "the key still lives");
    assert!(store.session(&opened.secret, POLICY, now + minutes(6)).await.unwrap().is_none(), "the key has expired");
});
