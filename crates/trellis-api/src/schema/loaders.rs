//! Batch loaders for the list fields every `Referral` on a page resolves: `offers` and `history`.
//!
//! Resolved one referral at a time they cost a query per row (a 50-row caseload page selecting both
//! ran about a hundred). Through async-graphql's [`DataLoader`] the rows' keys are gathered and each
//! field is one `IN (...)` query for the whole page ([`Store::offers_of_many`],
//! [`Store::events_of_many`]).
//!
//! A loader is made for each request ([`request_loaders`]) and never shared: nothing one caller loaded
//! can be served to another. Its keys are the ids of `Referral`s the request has already read in the
//! caller's scope, which is the only way a `Referral` is built, so the loaders do not check scope again.
//!
//! Its batches run inside the request's own task ([`with_loaders`]), not spawned, and only once
//! execution is waiting on something rather than merely pausing. Spawned, a batch starts its 1 ms wait
//! on another thread at once; but async-graphql resolves a list's rows 32 at a time, pausing between
//! groups, and on a busy machine the wait ended between groups, splitting a 50-row page into several
//! queries. Held until execution is stuck, a batch holds every row that will ask. A request that is
//! dropped drops its batches with it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::futures_util::future::BoxFuture;
use async_graphql::futures_util::stream::{FuturesUnordered, StreamExt};
use trellis_domain::ReferralId;
use trellis_domain::referral::ReferralEvent;
use trellis_store::offers::OfferRecord;
use trellis_store::{Store, StoreError};

use crate::error::ApiError;

/// A batch that could not be read. The cause is logged where it happened; the loader's error must be
/// `Clone` to reach every row that waited on the batch, which a database error is not.
#[derive(Clone, Copy, Debug)]
pub struct LoadFailed;

impl From<LoadFailed> for ApiError {
    fn from(_: LoadFailed) -> Self {
        ApiError::Internal
    }
}

fn failed(e: StoreError) -> LoadFailed {
    tracing::error!(error = %e, "batch load failed");
    LoadFailed
}

/// Loads the offers of a page of referrals, each referral's oldest first.
pub struct OffersOfReferrals(Store);

impl Loader<ReferralId> for OffersOfReferrals {
    type Value = Vec<OfferRecord>;
    type Error = LoadFailed;

    async fn load(&self, keys: &[ReferralId]) -> Result<HashMap<ReferralId, Self::Value>, Self::Error> {
        self.0.offers_of_many(keys).await.map_err(failed)
    }
}

/// Loads the histories of a page of referrals, each oldest first.
pub struct HistoriesOfReferrals(Store);

impl Loader<ReferralId> for HistoriesOfReferrals {
    type Value = Vec<ReferralEvent>;
    type Error = LoadFailed;

    async fn load(&self, keys: &[ReferralId]) -> Result<HashMap<ReferralId, Self::Value>, Self::Error> {
        self.0.events_of_many(keys).await.map_err(failed)
    }
}

/// One request's loaders, added to its data by [`super::graphql_handler`].
pub struct RequestLoaders {
    /// For `Referral.offers`.
    pub offers: DataLoader<OffersOfReferrals>,
    /// For `Referral.history`.
    pub history: DataLoader<HistoriesOfReferrals>,
}

/// Batches the loaders have started and [`with_loaders`] has yet to run.
type Batches = Arc<Mutex<Vec<BoxFuture<'static, ()>>>>;

/// Fresh loaders for one request over `store`, and the queue their batches wait in. Run the request
/// with [`with_loaders`] on that queue, or the loads never finish.
pub fn request_loaders(store: &Store) -> (RequestLoaders, LoaderBatches) {
    let batches = Batches::default();
    let queue = |batches: &Batches| {
        let batches = Arc::clone(batches);
        move |batch: BoxFuture<'static, ()>| match batches.lock() {
            Ok(mut waiting) => waiting.push(batch),
            // Poisoned only by a panic while it was held: this batch is dropped and its rows fail.
            Err(_) => drop(batch),
        }
    };
    let loaders = RequestLoaders {
        offers: DataLoader::new(OffersOfReferrals(store.clone()), queue(&batches)),
        history: DataLoader::new(HistoriesOfReferrals(store.clone()), queue(&batches)),
    };
    (loaders, LoaderBatches(batches))
}

/// Where one request's loaders queue their batches; see [`with_loaders`].
pub struct LoaderBatches(Batches);

/// Runs `execution` (the request) and, in the same task, the batches its loaders start, until the
/// request is answered.
pub async fn with_loaders<F: Future>(batches: LoaderBatches, execution: F) -> F::Output {
    let mut execution = std::pin::pin!(execution);
    let mut running = FuturesUnordered::new();
    std::future::poll_fn(|cx| {
        loop {
            let noticing = Arc::new(NoticesWaking { woken: AtomicBool::new(false), task: cx.waker().clone() });
            let waker = Waker::from(Arc::clone(&noticing));
            if let Poll::Ready(answer) = execution.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(answer);
            }
            // Woken while being polled: it paused with more to resolve (the next group of rows), which
            // may ask for more keys. Let it, before any batch starts.
            if noticing.woken.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
            let started = batches.0.lock().map(|mut waiting| std::mem::take(&mut *waiting)).unwrap_or_default();
            running.extend(started);
            let mut finished = false;
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {
                finished = true;
            }
            // A finished batch has answered its rows: give execution its turn now rather than waiting
            // for the wake-up it was sent.
            if !finished {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// Wakes the request's task, remembering that it did: how [`with_loaders`] tells a pause from a wait.
struct NoticesWaking {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for NoticesWaking {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.task.wake_by_ref();
    }
}
