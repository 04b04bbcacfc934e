//! The network graph's offer statistics, computed once and reused for a short while.
//!
//! A graph of a large network aggregates every offer of its period (a few hundred milliseconds of
//! database work at a million referrals), and every network lead and link worker asking for the same
//! period and category gets the same figures. So the statistics and flows of a period are reused for
//! [`ApiSettings::network_statistics_ttl_secs`](crate::ApiSettings) (default 30 s), and requests that
//! arrive while they are being computed wait for that one computation instead of starting their own.
//! Services, capacity and organisation names are always read live. A graph says when its statistics
//! were computed (`statisticsAt`); a period "the last N days" moves with that instant.
//!
//! Graphs are also built one at a time: a graph of a large network is its share of the server's CPU
//! and, at a million referrals and ten thousand services, about 70 MB while it is resolved
//! (async-graphql builds the whole response as a value tree before writing it: measured with heaptrack,
//! `docs/benchmarks.md`). More at once would add memory without adding cores. A caller takes its
//! [`NetworkCache::turn`] before [`NetworkCache::graph`] and keeps it until the response is on its way
//! (through `POST /graphql`, until the body has been sent: [`super::held_until_sent`]).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{Mutex, OwnedMutexGuard};
use trellis_store::network::{NetworkFilter, NetworkGraph, NetworkStatistics};
use trellis_store::{Store, StoreError};

/// At most this many periods and categories are remembered (each is megabytes for a large network);
/// a new one makes room by forgetting those not being read at that moment.
pub const MAX_REMEMBERED: usize = 4;

/// Which offers a graph counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// Those made in this many days up to now.
    LastDays(i64),
    /// Those made from one instant (inclusive) to another.
    Between(DateTime<Utc>, DateTime<Utc>),
}

impl Period {
    /// The instants it covers, as of `now` (a second past it, to count what was offered this instant).
    pub fn at(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            Period::LastDays(days) => {
                let until = now + Duration::seconds(1);
                (until - Duration::days(days), until)
            }
            Period::Between(from, until) => (from, until),
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<NetworkStatistics>>>>;

/// The turn to build a graph: the next graph waits until it is dropped.
pub type Turn = OwnedMutexGuard<()>;

/// Statistics by period and category, and the turn to build a graph.
pub struct NetworkCache {
    ttl: Duration,
    slots: std::sync::Mutex<HashMap<(Period, Option<String>), Slot>>,
    one_at_a_time: Arc<Mutex<()>>,
}

impl NetworkCache {
    /// Reuses statistics for `ttl_secs` seconds; 0 computes them for every graph.
    pub fn new(ttl_secs: u64) -> Self {
        let ttl = Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 1_000).min(i64::MAX / 1_000));
        NetworkCache { ttl, slots: std::sync::Mutex::default(), one_at_a_time: Arc::default() }
    }

    /// Waits for the turn to build a graph.
    pub async fn turn(&self) -> Turn {
        Arc::clone(&self.one_at_a_time).lock_owned().await
    }

    /// The graph for `period` and `category`: live services and organisations, and statistics at most
    /// the time to live old. Take the [`NetworkCache::turn`] first.
    pub async fn graph(
        &self,
        store: &Store,
        period: Period,
        category: Option<String>,
    ) -> Result<(NetworkGraph, Arc<NetworkStatistics>), StoreError> {
        let (services, organisations, statistics) = tokio::join!(
            store.network_services(category.as_deref()),
            store.organisations(),
            self.statistics(store, period, category.clone()),
        );
        let statistics = statistics?;
        Ok((NetworkGraph::assemble(services?, organisations?, &statistics), statistics))
    }

    /// How many periods and categories have statistics remembered.
    pub fn remembered(&self) -> usize {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    async fn statistics(
        &self,
        store: &Store,
        period: Period,
        category: Option<String>,
    ) -> Result<Arc<NetworkStatistics>, StoreError> {
        if self.ttl <= Duration::zero() {
            return compute(store, period, category).await;
        }
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let key = (period, category.clone());
            if !slots.contains_key(&key) && slots.len() >= MAX_REMEMBERED {
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            Arc::clone(slots.entry(key).or_default())
        };
        // One computation per period and category at a time: the others wait here and reuse it.
        let mut cached = slot.lock().await;
        if let Some(statistics) = cached.as_ref().filter(|s| Utc::now() - s.computed_at < self.ttl) {
            return Ok(Arc::clone(statistics));
        }
        let statistics = compute(store, period, category).await?;
        *cached = Some(Arc::clone(&statistics));
        Ok(statistics)
    }
}

async fn compute(
    store: &Store,
    period: Period,
    category: Option<String>,
) -> Result<Arc<NetworkStatistics>, StoreError> {
    let now = Utc::now();
    let (from, until) = period.at(now);
    Ok(Arc::new(store.network_statistics(&NetworkFilter { from, until, category }, now).await?))
}
