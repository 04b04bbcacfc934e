//! One request, one audit entry per read: the entries of reads are de-duplicated per action and
//! subject within a request.
//!
//! A GraphQL request may ask for the same record many times (aliases, or the same referral on two
//! pages); the audit log should say that it was read, once, not grow by the request's fan-out. The API
//! runs each request inside [`within_one_request`]; its resolvers run in that task (async-graphql
//! joins them rather than spawning), so a task-local record of what was written reaches them all without
//! threading it through every store call. Outside a request scope (the worker, the CLI, the pages) every
//! entry is written as before. Only reads are de-duplicated: each change writes its own entry in its
//! own transaction.
//!
//! Each (action, subject) has a lock and a "written" flag. A read takes the lock, writes its entry
//! unless the flag is set, then sets it: a second read of the same record waits for the first's commit,
//! and writes the entry itself if that failed, so no read is ever answered unrecorded. A page takes the
//! locks of all its rows in one global order (so two pages cannot wait for each other) and writes one
//! listing naming the rows not yet listed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use uuid::Uuid;

use super::Audit;

/// (action, role, organisation, user, referral, offer).
pub(super) type Key = (String, &'static str, Option<Uuid>, Option<Uuid>, Option<Uuid>, Option<Uuid>);

/// Whether an entry is committed, behind the lock its writers take.
type Written = Arc<AsyncMutex<bool>>;

/// The reads of one request.
#[derive(Default)]
struct Request {
    entries: Mutex<HashMap<Key, Written>>,
}

tokio::task_local! {
    static REQUEST: Arc<Request>;
}

/// Runs `request` as one request for the audit log: a read of the same record by the same caller is
/// recorded once however often the request asks for it.
pub async fn within_one_request<F: Future>(request: F) -> F::Output {
    REQUEST.scope(Arc::new(Request::default()), request).await
}

fn entry(request: &Request, key: Key) -> Written {
    let mut entries = request.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Arc::clone(entries.entry(key).or_default())
}

/// The lock of `audit`'s entry in this request, taken, or `None` outside a request. The guard says
/// whether the entry is written; whoever writes it sets it.
pub(super) async fn lock(audit: &Audit<'_>) -> Option<OwnedMutexGuard<bool>> {
    let written = REQUEST.try_with(|request| entry(request, audit.key())).ok()?;
    Some(written.lock_owned().await)
}

/// One entry of a page, with its lock taken.
pub(super) type Locked<'a> = (Audit<'a>, OwnedMutexGuard<bool>);

/// The locks of `audits`' entries in this request, taken in key order, each with its audit, the ones
/// already written (and repeats) left out; outside a request, `audits` back untouched.
pub(super) async fn lock_all<'a>(audits: Vec<Audit<'a>>) -> Result<Vec<Locked<'a>>, Vec<Audit<'a>>> {
    let Ok(request) = REQUEST.try_with(Arc::clone) else { return Err(audits) };
    let mut keyed: Vec<(Key, Audit<'a>)> = audits.into_iter().map(|audit| (audit.key(), audit)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|later, first| later.0 == first.0);
    // The request's map is locked once for the whole page, not once a row.
    let (keys, audits): (Vec<Key>, Vec<Audit<'a>>) = keyed.into_iter().unzip();
    let entries: Vec<Written> = {
        let mut entries = request.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.into_iter().map(|key| Arc::clone(entries.entry(key).or_default())).collect()
    };
    let mut locked = Vec::with_capacity(audits.len());
    for (audit, written) in audits.into_iter().zip(entries) {
        let guard = written.lock_owned().await;
        if !*guard {
            locked.push((audit, guard));
        }
    }
    Ok(locked)
}
