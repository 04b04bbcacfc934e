//! The network graph query: the locality as nodes and flows, for network leads and link workers.

use std::sync::OnceLock;

use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use tokio::sync::{Semaphore, SemaphorePermit};
use trellis_domain::Role;
use trellis_domain::values::ValueError;
use trellis_store::Store;
use trellis_store::network::{NetworkFilter, NetworkGraph, OfferStats};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// The network query.
#[derive(Default)]
pub struct NetworkQuery;

/// The locality as a graph.
#[derive(SimpleObject)]
pub struct Network {
    /// Held until the graph has been resolved into the response (see [`computing`]).
    #[graphql(skip)]
    pub permit: Option<SemaphorePermit<'static>>,
    /// Start of the period counted.
    pub from: DateTime<Utc>,
    /// End of the period counted.
    pub until: DateTime<Utc>,
    /// Link worker services and providers.
    pub organisations: Vec<NetworkOrganisation>,
    /// Services with capacity and offer statistics.
    pub services: Vec<NetworkService>,
    /// Offer flows between organisations, weighted by count.
    pub flows: Vec<NetworkFlow>,
}

/// An organisation node.
#[derive(SimpleObject)]
pub struct NetworkOrganisation {
    /// Its id.
    pub id: ID,
    /// `link_worker_service` or `provider`.
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// A service node.
#[derive(SimpleObject)]
pub struct NetworkService {
    /// Its id.
    pub id: ID,
    /// Its provider's id.
    pub organisation_id: ID,
    /// Its name.
    pub name: String,
    /// Places free.
    pub available: Option<i32>,
    /// Places in all.
    pub maximum: Option<i32>,
    /// `open`, `waitlist` or `closed`.
    pub capacity_status: Option<String>,
    /// When the provider last updated its capacity.
    pub capacity_updated_at: Option<DateTime<Utc>>,
    /// Offers and how they went.
    pub offers: NetworkOfferStats,
}

/// Offer statistics for a service in the period.
#[derive(SimpleObject)]
pub struct NetworkOfferStats {
    /// Offers made.
    pub offered: i64,
    /// Still waiting on the provider.
    pub open: i64,
    /// Accepted.
    pub accepted: i64,
    /// Declined.
    pub declined: i64,
    /// Expired unanswered.
    pub expired: i64,
    /// Accepted among answered, 0–1.
    pub acceptance_rate: Option<f64>,
    /// Median hours to the provider's first answer.
    pub median_response_hours: Option<f64>,
    /// Why offers were declined.
    pub decline_reasons: Vec<DeclineCount>,
}

/// A decline reason and how often it was given.
#[derive(SimpleObject)]
pub struct DeclineCount {
    /// The reason.
    pub reason: String,
    /// How often.
    pub count: i64,
}

/// Offers from one organisation to another.
#[derive(SimpleObject)]
pub struct NetworkFlow {
    /// Where offers came from.
    pub from_id: ID,
    /// The provider they went to.
    pub to_id: ID,
    /// `referral` (link worker service → provider) or `onward` (provider → provider).
    pub kind: String,
    /// How many offers.
    pub count: i64,
}

impl From<OfferStats> for NetworkOfferStats {
    fn from(s: OfferStats) -> Self {
        NetworkOfferStats {
            acceptance_rate: s.acceptance_rate(),
            offered: s.offered,
            open: s.open,
            accepted: s.accepted,
            declined: s.declined,
            expired: s.expired,
            median_response_hours: s.median_response_hours,
            decline_reasons: s
                .decline_reasons
                .into_iter()
                .map(|(reason, count)| DeclineCount { reason, count })
                .collect(),
        }
    }
}

/// Converts the store's graph for the API.
pub fn network_from(graph: NetworkGraph, from: DateTime<Utc>, until: DateTime<Utc>) -> Network {
    Network {
        permit: None,
        from,
        until,
        organisations: graph
            .organisations
            .into_iter()
            .map(|o| NetworkOrganisation { id: ID(o.id.to_string()), kind: o.kind, name: o.name })
            .collect(),
        services: graph
            .services
            .into_iter()
            .map(|s| NetworkService {
                id: ID(s.id.to_string()),
                organisation_id: ID(s.organisation.to_string()),
                name: s.name,
                available: s.capacity.as_ref().map(|c| c.0),
                maximum: s.capacity.as_ref().map(|c| c.1),
                capacity_status: s.capacity.as_ref().map(|c| c.2.clone()),
                capacity_updated_at: s.capacity.as_ref().map(|c| c.3),
                offers: s.stats.into(),
            })
            .collect(),
        flows: graph
            .flows
            .into_iter()
            .map(|f| NetworkFlow {
                from_id: ID(f.from.to_string()),
                to_id: ID(f.to.to_string()),
                kind: f.kind.into(),
                count: f.count,
            })
            .collect(),
    }
}

/// How many network graphs are computed and resolved at once: one per core. A graph of a large network
/// is tens of megabytes while it is built and resolved, and its work is mostly the database's on the
/// same cores, so more at once only adds memory, not speed; the rest wait their turn.
fn computing() -> &'static Semaphore {
    static GATE: OnceLock<Semaphore> = OnceLock::new();
    GATE.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)))
}

/// The period asked for: `from`/`until`, defaulting to the last 90 days.
pub fn period(
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let until = until.unwrap_or_else(|| Utc::now() + Duration::seconds(1));
    let from = from.unwrap_or(until - Duration::days(90));
    if from >= until {
        return Err(ApiError::Validation(ValueError::new("from", from.to_rfc3339(), "must be before until")));
    }
    Ok((from, until))
}

#[Object]
impl NetworkQuery {
    /// The locality as one graph: organisations and services with live capacity, open offers,
    /// acceptance rate, decline reasons and median time to respond; flows of offers between them
    /// (network leads and link workers). The period defaults to the last 90 days; `category` is a
    /// taxonomy code such as `physical_activity`.
    async fn network(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        category: Option<String>,
    ) -> ApiResult<Network> {
        ctx.data::<Caller>()?.require(&[Role::NetworkLead, Role::LinkWorker], "see the network").api()?;
        let (from, until) = period(from, until).map_err(|e| e.extend())?;
        let filter = NetworkFilter { from, until, category: category.filter(|c| !c.trim().is_empty()) };
        let permit = computing().acquire().await.map_err(|e| async_graphql::Error::new(e.to_string()))?;
        let graph = ctx.data::<Store>()?.network(&filter).await.api()?;
        Ok(Network { permit: Some(permit), ..network_from(graph, from, until) })
    }
}
