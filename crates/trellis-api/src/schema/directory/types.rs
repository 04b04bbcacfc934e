//! The directory as it reads: services, their places and live capacity, and matches.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use trellis_domain::directory as rules;
use trellis_store::directory;

use crate::error::ApiResult;
use crate::schema::common::{Need, mirror_enum};

mirror_enum!(
    /// Whether a service is listed.
    ServiceStatus => rules::ServiceStatus {
        /// Listed and open to offers.
        Active,
        /// Kept for its history, not offered.
        Inactive,
    }
);

mirror_enum!(
    /// Whether a service takes people now.
    CapacityStatus => rules::CapacityStatus {
        /// Taking people.
        Open,
        /// Taking names for a waiting list.
        Waitlist,
        /// Not taking anyone.
        Closed,
    }
);

/// A service in the directory: the store's service, read through (`status` and capacity's `status` as
/// their snake_case names).
pub struct Service(pub directory::Service);

/// A service in the directory.
#[Object]
impl Service {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The provider organisation's id.
    async fn organisation_id(&self) -> ID {
        ID(self.0.organisation.to_string())
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What it is.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Where offers go (the organisation's address when absent).
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Its web page.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// `active` (listed and open to offers) or `inactive`.
    async fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// Taxonomy term codes.
    async fn taxonomy(&self) -> &[String] {
        &self.0.taxonomy
    }
    /// Youngest age it takes.
    async fn min_age(&self) -> Option<i32> {
        self.0.min_age
    }
    /// Oldest age it takes.
    async fn max_age(&self) -> Option<i32> {
        self.0.max_age
    }
    /// Eligibility in words.
    async fn eligibility(&self) -> Option<&str> {
        self.0.eligibility.as_deref()
    }
    /// When it runs.
    async fn schedule(&self) -> Option<&str> {
        self.0.schedule.as_deref()
    }
    /// Where it happens.
    async fn places(&self) -> Vec<Place<'_>> {
        self.0.places.iter().map(Place).collect()
    }
    /// Live capacity.
    async fn capacity(&self) -> Option<Capacity<'_>> {
        self.0.capacity.as_ref().map(Capacity)
    }
    /// Moves on with every change to the service or its capacity (an accepted offer taking a place
    /// included): pass it as `expectedVersion` to `updateService` and `updateServiceCapacity`, which
    /// answer `CONFLICT` when someone changed it since.
    async fn version(&self) -> u32 {
        self.0.version
    }
}

/// Where a service happens.
pub struct Place<'a>(&'a directory::Place);

/// Where a service happens.
#[Object]
impl Place<'_> {
    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Its postcode.
    async fn postcode(&self) -> Option<String> {
        self.0.postcode.clone().map(String::from)
    }
    /// Latitude.
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }
    /// Longitude.
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }
}

/// A service's capacity (HSDS 3.1 `service_capacity`).
pub struct Capacity<'a>(&'a directory::Capacity);

/// A service's capacity (HSDS 3.1 `service_capacity`).
#[Object]
impl Capacity<'_> {
    /// Places free.
    async fn available(&self) -> i32 {
        self.0.available
    }
    /// Places in all.
    async fn maximum(&self) -> i32 {
        self.0.maximum
    }
    /// What a place is.
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    /// `open`, `waitlist` or `closed`.
    async fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// When the provider last said so.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Whether the provider last confirmed it longer ago than this deployment trusts (14 days unless
    /// configured otherwise): the numbers may no longer be true.
    async fn stale(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(ctx.data::<trellis_store::Store>()?.policy().capacity_stale(self.0.updated_at, Utc::now()))
    }
}

impl From<directory::Service> for Service {
    fn from(s: directory::Service) -> Self {
        Service(s)
    }
}

/// A service that fits a person, with how well and why.
#[derive(SimpleObject)]
pub struct ServiceMatch {
    /// The service; offer the person to it with `offerReferral`.
    pub service: Service,
    /// From 0 to 1: needs met (half), nearness (three tenths), places free (a fifth).
    pub score: f64,
    /// From the person to its nearest location, when both are known.
    pub distance_km: Option<f64>,
    /// The person's needs it meets.
    pub needs_met: Vec<Need>,
    /// Why it matched (`meets loneliness via befriending`, `2.1 km away`, `8 places free`).
    pub reasons: Vec<String>,
}
