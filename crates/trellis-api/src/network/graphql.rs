//! The network graph query: the locality as nodes and flows, for network leads and link workers.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use trellis_domain::access::NETWORK_VIEWERS;
use trellis_domain::values::ValueError;
use trellis_store::Store;
use trellis_store::network::{NetworkGraph, NetworkStatistics, OfferStats};

use super::cache::{NetworkCache, Period, Turn};
use super::held_until_sent::HeldUntilSent;
use super::in_turn::InTurn;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// The network query.
#[derive(Default)]
pub struct NetworkQuery;

/// The locality as a graph.
#[derive(SimpleObject)]
pub struct Network {
    /// The turn to build a graph ([`NetworkCache::turn`]), held until the graph has been resolved into
    /// the response when the request does not hold it until the response is sent.
    #[graphql(skip)]
    pub turn: Option<Turn>,
    /// Start of the period counted.
    pub from: DateTime<Utc>,
    /// End of the period counted.
    pub until: DateTime<Utc>,
    /// When the offer statistics and flows were computed. They are reused for a short while (30 s by
    /// default) for everyone asking for the same period and category; services and capacity are live.
    pub statistics_at: DateTime<Utc>,
    /// Link worker services and providers.
    pub organisations: InTurn<NetworkOrganisation>,
    /// Services with capacity and offer statistics.
    pub services: InTurn<NetworkService>,
    /// Offer flows between organisations, weighted by count.
    pub flows: InTurn<NetworkFlow>,
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
                .map(|d| DeclineCount { reason: d.reason.as_str().into(), count: d.count })
                .collect(),
        }
    }
}

/// Converts the store's graph for the API.
pub fn network_from(graph: NetworkGraph, statistics: &NetworkStatistics) -> Network {
    Network {
        turn: None,
        from: statistics.from,
        until: statistics.until,
        statistics_at: statistics.computed_at,
        organisations: InTurn(
            graph
                .organisations
                .into_iter()
                .map(|o| NetworkOrganisation { id: ID(o.id.to_string()), kind: o.kind.as_str().into(), name: o.name })
                .collect(),
        ),
        services: InTurn(
            graph
                .services
                .into_iter()
                .map(|s| NetworkService {
                    id: ID(s.id.to_string()),
                    organisation_id: ID(s.organisation.to_string()),
                    name: s.name,
                    available: s.capacity.as_ref().map(|c| c.available),
                    maximum: s.capacity.as_ref().map(|c| c.maximum),
                    capacity_status: s.capacity.as_ref().map(|c| c.status.as_str().into()),
                    capacity_updated_at: s.capacity.as_ref().map(|c| c.updated_at),
                    offers: s.stats.into(),
                })
                .collect(),
        ),
        flows: InTurn(
            graph
                .flows
                .into_iter()
                .map(|f| NetworkFlow {
                    from_id: ID(f.from.to_string()),
                    to_id: ID(f.to.to_string()),
                    kind: f.kind.as_str().into(),
                    count: f.count,
                })
                .collect(),
        ),
    }
}

/// The period asked for: `from`/`until`; without `until`, up to now; without either, the last 90 days.
pub fn period(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Result<Period, ApiError> {
    let (from, until) = match (from, until) {
        (None, None) => return Ok(Period::LastDays(90)),
        (from, until) => {
            let until = until.unwrap_or_else(|| Utc::now() + Duration::seconds(1));
            (from.unwrap_or(until - Duration::days(90)), until)
        }
    };
    if from >= until {
        return Err(ApiError::Validation(ValueError::new("from", from.to_rfc3339(), "must be before until")));
    }
    Ok(Period::Between(from, until))
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
        ctx.data::<Caller>()?.require(&NETWORK_VIEWERS, "see the network").api()?;
        let period = period(from, until).map_err(|e| e.extend())?;
        let category = category.filter(|c| !c.trim().is_empty());
        let cache = ctx.data::<Arc<NetworkCache>>()?;
        let turn = match ctx.data_opt::<Arc<HeldUntilSent>>() {
            Some(held) => {
                held.hold(cache.turn()).await;
                None
            }
            None => Some(cache.turn().await),
        };
        let (graph, statistics) = cache.graph(ctx.data::<Store>()?, period, category).await.api()?;
        Ok(Network { turn, ..network_from(graph, &statistics) })
    }
}
