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
//! and writes the entry itself if that failed, so no read is ever answered unrecorded. Listings by one
//! caller share one lock and the set of referrals they have named: a page takes it, writes one listing
//! naming the rows not yet named, and adds them once it is committed. Pages of one request are so
//! listed one after another.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use uuid::Uuid;

use super::Audit;

/// Who read, and as what: (action, role, organisation, user).
pub(super) type Head = (String, &'static str, Option<Uuid>, Option<Uuid>);

/// What was read: (referral, offer).
pub(super) type Subject = (Option<Uuid>, Option<Uuid>);

/// Whether an entry is committed, behind the lock its writers take.
type Written = Arc<AsyncMutex<bool>>;

/// The reads of one request, by who read and then by what: a page's rows share one head, so it is
/// looked up (and its text copied) once a page, not once a row.
#[derive(Default)]
struct Request {
    entries: Mutex<HashMap<Head, HashMap<Subject, Written>>>,
    /// The referrals each caller's listings have named, behind the lock its pages take.
    listings: Mutex<HashMap<Head, Listed>>,
}

/// The referrals a caller's listings have named in a request.
type Listed = Arc<AsyncMutex<HashSet<Uuid>>>;

tokio::task_local! {
    static REQUEST: Arc<Request>;
}

/// Runs `request` as one request for the audit log: a read of the same record by the same caller is
/// recorded once however often the request asks for it.
pub async fn within_one_request<F: Future>(request: F) -> F::Output {
    REQUEST.scope(Arc::new(Request::default()), request).await
}

fn entry(request: &Request, (head, subject): (Head, Subject)) -> Written {
    let mut entries = request.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Arc::clone(entries.entry(head).or_default().entry(subject).or_default())
}

/// The lock of `audit`'s entry in this request, taken, or `None` outside a request. The guard says
/// whether the entry is written; whoever writes it sets it.
pub(super) async fn lock(audit: &Audit<'_>) -> Option<OwnedMutexGuard<bool>> {
    let written = REQUEST.try_with(|request| entry(request, audit.key())).ok()?;
    Some(written.lock_owned().await)
}

/// The lock of the listings `listing`'s caller makes in this request, taken, with the referrals they
/// have already named; `None` outside a request. A page holds it while its entry is written, so two
/// pages of one request are listed one after the other and the second names only what the first did
/// not.
pub(super) async fn lock_listings(listing: &Audit<'_>) -> Option<OwnedMutexGuard<HashSet<Uuid>>> {
    let request = REQUEST.try_with(Arc::clone).ok()?;
    let (head, _) = listing.key();
    let listed = {
        let mut listings = request.listings.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(listings.entry(head).or_default())
    };
    Some(listed.lock_owned().await)
}
