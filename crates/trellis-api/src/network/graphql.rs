//! The network query: one area of the network, a page of providers at a time, for network leads and
//! link workers. Its statistics are read from the offer rollups for every request.

use async_graphql::{Context, ErrorExtensions, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use trellis_domain::access::NETWORK_VIEWERS;
use trellis_domain::values::ValueError;
use trellis_domain::{OrganisationId, Role};
use trellis_store::Store;
use trellis_store::network::{MAX_AREA, NetworkArea, NetworkFilter, NetworkPage, NetworkPageRequest, OfferStats};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// The most providers a page holds; 25 when `first` is not given.
pub const MAX_PROVIDERS: u64 = 100;
/// Providers on a page when `first` is not given.
pub const DEFAULT_PROVIDERS: u64 = 25;
/// The longest period counted, in days.
pub const MAX_DAYS: i64 = 3_660;

/// The network query.
#[derive(Default)]
pub struct NetworkQuery;

/// Where to look at the network: a locality, named by its link worker services.
#[derive(InputObject)]
pub struct NetworkAreaInput {
    /// The link worker services of the locality (1 to 50). Its providers are those their people were
    /// offered to in the period, by a link worker or onward by a provider.
    pub link_worker_service_ids: Vec<ID>,
}

/// One page of an area's network.
#[derive(SimpleObject)]
pub struct Network {
    /// The first day counted (UTC).
    pub from: NaiveDate,
    /// The last day counted (UTC), included.
    pub until: NaiveDate,
    /// When the page was read: its statistics are the offer rollups as of then.
    pub statistics_at: DateTime<Utc>,
    /// The area's link worker services, the page's providers, and providers that passed people on to
    /// them.
    pub organisations: Vec<NetworkOrganisation>,
    /// The page's providers' services, with capacity and offer statistics.
    pub services: Vec<NetworkService>,
    /// Offer flows into the page's providers, weighted by count: from the area's link worker services,
    /// and onward from other providers.
    pub flows: Vec<NetworkFlow>,
    /// Whether more providers follow.
    pub has_next_page: bool,
    /// The last provider of this page: pass it as `after` for the next.
    pub end_cursor: Option<String>,
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

/// Converts the store's page for the API.
pub fn network_from(page: NetworkPage, filter: &NetworkFilter) -> Network {
    let graph = page.graph;
    Network {
        from: filter.from,
        until: filter.until,
        statistics_at: page.read_at,
        organisations: graph
            .organisations
            .into_iter()
            .map(|o| NetworkOrganisation { id: ID(o.id.to_string()), kind: o.kind.as_str().into(), name: o.name })
            .collect(),
        services: graph
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
        flows: graph
            .flows
            .into_iter()
            .map(|f| NetworkFlow {
                from_id: ID(f.from.to_string()),
                to_id: ID(f.to.to_string()),
                kind: f.kind.as_str().into(),
                count: f.count,
            })
            .collect(),
        has_next_page: page.has_next_page,
        end_cursor: page.end_cursor.map(|c| c.to_string()),
    }
}

/// The days asked for: `from` to `until`, both included; without `until`, up to today (UTC); without
/// `from`, the 90 days up to `until`. At most [`MAX_DAYS`].
pub fn period(from: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let until = until.unwrap_or_else(|| Utc::now().date_naive());
    let from = from.unwrap_or(until - Duration::days(89));
    if from > until {
        return Err(ApiError::Validation(ValueError::new("from", from.to_string(), "must not be after until")));
    }
    if (until - from).num_days() >= MAX_DAYS {
        return Err(ApiError::Validation(ValueError::new("from", from.to_string(), "is too long before until")));
    }
    Ok((from, until))
}

/// The area asked for: the link worker services named, or, when none is given, a link worker's own.
pub fn area(
    ids: Option<&[ID]>,
    caller_role: Role,
    caller_organisation: Option<OrganisationId>,
) -> Result<NetworkArea, ApiError> {
    let invalid = |input: String, reason: &'static str| ApiError::Validation(ValueError::new("area", input, reason));
    let link_worker_services = match ids {
        Some(ids) => ids.iter().map(|id| parse_id("area", id)).collect::<Result<Vec<OrganisationId>, _>>()?,
        None if caller_role == Role::LinkWorker => caller_organisation.into_iter().collect(),
        None => return Err(invalid(String::new(), "must name at least one link worker service")),
    };
    if link_worker_services.is_empty() {
        return Err(invalid(String::new(), "must name at least one link worker service"));
    }
    if link_worker_services.len() > MAX_AREA {
        return Err(invalid(link_worker_services.len().to_string(), "names more than 50 link worker services"));
    }
    Ok(NetworkArea { link_worker_services })
}

/// The page asked for: `first` providers (1 to [`MAX_PROVIDERS`]) after the provider `after`.
pub fn page_request(first: Option<i32>, after: Option<&str>) -> Result<NetworkPageRequest, ApiError> {
    let first = match first {
        None => DEFAULT_PROVIDERS,
        Some(n) if n >= 1 && n as u64 <= MAX_PROVIDERS => n as u64,
        Some(n) => {
            return Err(ApiError::Validation(ValueError::new("first", n.to_string(), "must be between 1 and 100")));
        }
    };
    let after = after.map(|a| parse_id("after", &ID(a.to_owned()))).transpose()?;
    Ok(NetworkPageRequest { first, after })
}

/// Parses an id argument, naming the field when it is not one.
fn parse_id(field: &'static str, id: &ID) -> Result<OrganisationId, ValueError> {
    uuid::Uuid::parse_str(id.as_str())
        .map(OrganisationId)
        .map_err(|_| ValueError::new(field, id.as_str(), "is not an id"))
}

#[Object]
impl NetworkQuery {
    /// One area of the network (network leads and link workers): the area's link worker services, a
    /// page of the providers its people were offered to in the period (by name), their services with live
    /// capacity, open offers, acceptance rate, decline reasons and median hours to respond, and the
    /// flows of offers into them. The area defaults to a link worker's own service; a network lead
    /// names one. The period is whole UTC days, the last 90 by default; `category` is a taxonomy code
    /// such as `physical_activity`.
    #[allow(clippy::too_many_arguments, reason = "each is an argument of the GraphQL field")]
    async fn network(
        &self,
        ctx: &Context<'_>,
        area: Option<NetworkAreaInput>,
        from: Option<NaiveDate>,
        until: Option<NaiveDate>,
        category: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Network> {
        let actor = ctx.data::<Caller>()?.require(&NETWORK_VIEWERS, "see the network").api()?;
        let area =
            self::area(area.as_ref().map(|a| a.link_worker_service_ids.as_slice()), actor.role, actor.organisation)
                .map_err(|e| e.extend())?;
        let (from, until) = period(from, until).map_err(|e| e.extend())?;
        let page = page_request(first, after.as_deref()).map_err(|e| e.extend())?;
        let filter = NetworkFilter { from, until, category: category.filter(|c| !c.trim().is_empty()) };
        let network = ctx.data::<Store>()?.network_page(&area, &filter, page).await.api()?;
        Ok(network_from(network, &filter))
    }
}
