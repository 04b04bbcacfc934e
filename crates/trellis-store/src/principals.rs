//! Recently authenticated principals, so a client's every request does not look its token up again,
//! and the means by which every server process on one database stops trusting them when a key is
//! revoked or a user disabled.
//!
//! # Revocation reaching every process
//! Each revocation of a key and each disabling of a user adds one to `auth_revocations.epoch` in the
//! same transaction. A process trusts its cache only while it has read that epoch within the last
//! [`EPOCH_CHECK_EVERY`] and found it unchanged; when the epoch has moved, the whole cache is dropped
//! (revocations are rare; re-reading a few principals is cheap). So a key revoked anywhere is refused
//! everywhere within [`EPOCH_CHECK_EVERY`] plus one round trip, on PostgreSQL with any number of
//! processes and on SQLite alike, and a process that cannot read the epoch does not trust its cache.
//!
//! # The straddling lookup
//! A lookup that read a key just before a revocation committed must not put it back into the cache
//! after the cache was cleared for that revocation. Every clear bumps a generation counter; a lookup
//! notes the generation before it reads the database and inserts only if it is still the same.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use trellis_domain::UserId;

use crate::accounts::Principal;
use crate::ids::ApiKeyId;

/// How long a looked-up principal is trusted without asking the database again, if no revocation
/// happens meanwhile. Revocations do not wait for it: see the module docs.
pub const PRINCIPAL_TTL: Duration = Duration::from_secs(10);

/// How stale this process's knowledge of the revocation epoch may be before the cache is not trusted
/// until the epoch is read again. It bounds how long a revoked key keeps working on another process.
pub const EPOCH_CHECK_EVERY: Duration = Duration::from_millis(250);

/// How often `api_keys.last_used_at` is written for one key at most: often enough to tell a dormant
/// key from a live one, rarely enough that a busy client costs no write per request.
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);

/// Beyond this many entries, expired ones are swept (and, if still full, all are dropped).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
struct Entry {
    principal: Principal,
    key_expires_at: DateTime<Utc>,
    at: Instant,
}

/// What this process last learnt of the revocation epoch.
#[derive(Debug, Default)]
struct EpochSeen {
    epoch: Option<i64>,
    /// When the read that learnt it was sent (not when it came back: the conservative end).
    checked_at: Option<Instant>,
}

/// Principals by the hash of their token.
#[derive(Debug, Default)]
pub(crate) struct PrincipalCache {
    entries: Mutex<HashMap<String, Entry>>,
    generation: AtomicU64,
    epoch: Mutex<EpochSeen>,
    last_used_written: Mutex<HashMap<ApiKeyId, Instant>>,
}

impl PrincipalCache {
    /// Whether the epoch was read recently enough for the cache to be trusted.
    pub(crate) fn epoch_is_fresh(&self) -> bool {
        let Ok(seen) = self.epoch.lock() else { return false };
        seen.checked_at.is_some_and(|at| at.elapsed() < EPOCH_CHECK_EVERY)
    }

    /// Records the epoch read by a query sent at `sent_at`; if it moved, every entry is dropped.
    pub(crate) fn observe_epoch(&self, epoch: i64, sent_at: Instant) {
        let Ok(mut seen) = self.epoch.lock() else { return };
        if seen.epoch.is_none_or(|known| epoch > known) {
            if seen.epoch.is_some() {
                self.clear();
            }
            seen.epoch = Some(epoch);
        }
        if seen.checked_at.is_none_or(|at| sent_at > at) {
            seen.checked_at = Some(sent_at);
        }
    }

    /// The generation a lookup notes before reading the database, for [`PrincipalCache::put`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The principal for `token_hash`, if looked up within the TTL and its key has not expired.
    pub(crate) fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(token_hash)?;
        (entry.at.elapsed() < PRINCIPAL_TTL && now < entry.key_expires_at).then(|| entry.principal.clone())
    }

    /// Remembers a principal read from the database by a lookup that began at `generation`, unless the
    /// cache was cleared since (a revocation may have committed after the read).
    pub(crate) fn put(&self, generation: u64, token_hash: String, principal: Principal, key_expires_at: DateTime<Utc>) {
        let Ok(mut entries) = self.entries.lock() else { return };
        // Checked under the lock that `clear` and `forget_*` take, so no clear slips in between.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.at.elapsed() < PRINCIPAL_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token_hash, Entry { principal, key_expires_at, at: Instant::now() });
    }

    /// Forgets every principal signed in with API key `key`.
    pub(crate) fn forget_key(&self, key: ApiKeyId) {
        self.forget(|p| p.api_key == key);
    }

    /// Forgets every principal of user `user`.
    pub(crate) fn forget_user(&self, user: UserId) {
        self.forget(|p| p.user.id == user);
    }

    fn forget(&self, matches: impl Fn(&Principal) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            entries.retain(|_, e| !matches(&e.principal));
        }
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            entries.clear();
        }
    }

    /// Whether this process should write `last_used_at` for `key` now; if so, notes that it does.
    pub(crate) fn claim_last_used_write(&self, key: ApiKeyId) -> bool {
        let Ok(mut written) = self.last_used_written.lock() else { return false };
        if written.get(&key).is_some_and(|at| at.elapsed() < LAST_USED_RESOLUTION) {
            return false;
        }
        if written.len() >= MAX_ENTRIES {
            written.retain(|_, at| at.elapsed() < LAST_USED_RESOLUTION);
        }
        written.insert(key, Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::accounts::{Organisation, User};
    use trellis_domain::organisation::OrganisationKind;
    use trellis_domain::{OrganisationId, Role};
    use uuid::Uuid;

    fn principal(key: ApiKeyId) -> Principal {
        let now = Utc::now();
        Principal {
            user: User {
                id: UserId(Uuid::now_v7()),
                organisation: OrganisationId(Uuid::now_v7()),
                role: Role::GpPractice,
                email: "gp@example.org".into(),
                name: "GP".into(),
                created_at: now,
                disabled_at: None,
            },
            organisation: Organisation {
                id: OrganisationId(Uuid::now_v7()),
                kind: OrganisationKind::GpPractice,
                name: "Practice".into(),
                ods_code: None,
                email: None,
                link_worker_service: None,
                mesh_mailbox: None,
                gp_message_at_first_contact: false,
                created_at: now,
            },
            api_key: key,
        }
    }

    #[test]
    fn a_lookup_that_straddles_a_revocation_does_not_cache_the_revoked_key() {
        let cache = PrincipalCache::default();
        let key = ApiKeyId(Uuid::now_v7());
        let generation = cache.generation();
        // The lookup has read the key; meanwhile the key is revoked and the cache told so.
        cache.forget_key(key);
        cache.put(generation, "hash".into(), principal(key), Utc::now() + chrono::Duration::days(1));
        assert_eq!(cache.get("hash", Utc::now()), None);
    }

    #[test]
    fn a_lookup_that_straddles_another_processs_revocation_does_not_cache_the_key() {
        let cache = PrincipalCache::default();
        cache.observe_epoch(3, Instant::now());
        let generation = cache.generation();
        cache.observe_epoch(4, Instant::now());
        cache.put(
            generation,
            "hash".into(),
            principal(ApiKeyId(Uuid::now_v7())),
            Utc::now() + chrono::Duration::days(1),
        );
        assert_eq!(cache.get("hash", Utc::now()), None);
    }

    #[test]
    fn a_moved_epoch_drops_every_cached_principal_and_an_unchanged_one_keeps_them() {
        let cache = PrincipalCache::default();
        cache.observe_epoch(7, Instant::now());
        let expires = Utc::now() + chrono::Duration::days(1);
        cache.put(cache.generation(), "a".into(), principal(ApiKeyId(Uuid::now_v7())), expires);
        cache.observe_epoch(7, Instant::now());
        assert!(cache.get("a", Utc::now()).is_some());
        cache.observe_epoch(8, Instant::now());
        assert!(cache.get("a", Utc::now()).is_none());
    }

    #[test]
    fn the_cache_is_not_trusted_until_the_epoch_has_been_read_recently() {
        let cache = PrincipalCache::default();
        assert!(!cache.epoch_is_fresh());
        cache.observe_epoch(1, Instant::now());
        assert!(cache.epoch_is_fresh());
        cache.observe_epoch(1, Instant::now() - EPOCH_CHECK_EVERY * 2);
        assert!(cache.epoch_is_fresh(), "an older read never makes the knowledge older");
    }

    #[test]
    fn a_cached_principal_whose_key_has_expired_is_not_returned() {
        let cache = PrincipalCache::default();
        let expires = Utc::now() + chrono::Duration::seconds(5);
        cache.put(cache.generation(), "a".into(), principal(ApiKeyId(Uuid::now_v7())), expires);
        assert!(cache.get("a", Utc::now()).is_some());
        assert!(cache.get("a", expires).is_none());
    }

    #[test]
    fn last_used_is_written_at_most_once_a_resolution_per_key() {
        let cache = PrincipalCache::default();
        let key = ApiKeyId(Uuid::now_v7());
        assert!(cache.claim_last_used_write(key));
        assert!(!cache.claim_last_used_write(key));
        assert!(cache.claim_last_used_write(ApiKeyId(Uuid::now_v7())));
    }
}
