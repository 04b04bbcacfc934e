//! Recently authenticated principals, so a client's every request does not look its token up again.
//!
//! An entry lives [`PRINCIPAL_TTL`] at most. Revoking a key through this store drops its entries at once;
//! another server process sharing the database notices a revocation (or a disabled user) within the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::accounts::Principal;

/// How long a looked-up principal is trusted without asking the database again.
pub const PRINCIPAL_TTL: Duration = Duration::from_secs(10);

/// Beyond this many entries, expired ones are swept (and, if still full, all are dropped).
const MAX_ENTRIES: usize = 10_000;

/// Principals by the hash of their token.
#[derive(Debug, Default)]
pub(crate) struct PrincipalCache {
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl PrincipalCache {
    /// The principal for `token_hash`, if looked up within the TTL.
    pub(crate) fn get(&self, token_hash: &str) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let (principal, at) = entries.get(token_hash)?;
        (at.elapsed() < PRINCIPAL_TTL).then(|| principal.clone())
    }

    /// Remembers a principal just read from the database.
    pub(crate) fn put(&self, token_hash: String, principal: Principal) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < PRINCIPAL_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token_hash, (principal, Instant::now()));
    }

    /// Forgets every principal signed in with API key `key`.
    pub(crate) fn forget_key(&self, key: Uuid) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (principal, _)| principal.api_key != key);
        }
    }
}
