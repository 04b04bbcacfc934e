//! The directory as it reads: services, their places and live capacity, and matches.

use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};
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

/// A service in the directory.
#[derive(SimpleObject)]
pub struct Service {
    /// Its id.
    pub id: ID,
    /// The provider organisation's id.
    pub organisation_id: ID,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where offers go (the organisation's address when absent).
    pub email: Option<String>,
    /// Its web page.
    pub url: Option<String>,
    /// `active` (listed and open to offers) or `inactive`.
    pub status: String,
    /// Taxonomy term codes.
    pub taxonomy: Vec<String>,
    /// Youngest age it takes.
    pub min_age: Option<i32>,
    /// Oldest age it takes.
    pub max_age: Option<i32>,
    /// Eligibility in words.
    pub eligibility: Option<String>,
    /// When it runs.
    pub schedule: Option<String>,
    /// Where it happens.
    pub places: Vec<Place>,
    /// Live capacity.
    pub capacity: Option<Capacity>,
    /// Moves on with every change to the service or its capacity (an accepted offer taking a place
    /// included): pass it as `expectedVersion` to `updateService` and `updateServiceCapacity`, which
    /// answer `CONFLICT` when someone changed it since.
    pub version: u32,
}

/// Where a service happens.
#[derive(SimpleObject)]
pub struct Place {
    /// Its name.
    pub name: String,
    /// Its postcode.
    pub postcode: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
}

/// A service's capacity (HSDS 3.1 `service_capacity`).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Capacity {
    /// Places free.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// What a place is.
    pub unit: String,
    /// `open`, `waitlist` or `closed`.
    pub status: String,
    /// When the provider last said so.
    pub updated_at: DateTime<Utc>,
}

#[ComplexObject]
impl Capacity {
    /// Whether the provider last confirmed it longer ago than this deployment trusts (14 days unless
    /// configured otherwise): the numbers may no longer be true.
    async fn stale(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(ctx.data::<trellis_store::Store>()?.policy().capacity_stale(self.updated_at, Utc::now()))
    }
}

impl From<directory::Service> for Service {
    fn from(s: directory::Service) -> Self {
        Service {
            id: ID(s.id.to_string()),
            organisation_id: ID(s.organisation.to_string()),
            name: s.name,
            description: s.description,
            email: s.email,
            url: s.url,
            status: s.status.as_str().into(),
            taxonomy: s.taxonomy,
            min_age: s.min_age,
            max_age: s.max_age,
            eligibility: s.eligibility,
            schedule: s.schedule,
            places: s
                .places
                .into_iter()
                .map(|p| Place {
                    name: p.name,
                    postcode: p.postcode.map(String::from),
                    latitude: p.latitude,
                    longitude: p.longitude,
                })
                .collect(),
            capacity: s.capacity.map(|c| Capacity {
                available: c.available,
                maximum: c.maximum,
                unit: c.unit,
                status: c.status.as_str().into(),
                updated_at: c.updated_at,
            }),
            version: s.version,
        }
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
