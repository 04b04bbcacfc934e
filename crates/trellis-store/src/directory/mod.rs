//! The directory: services run by provider organisations, where they happen, what they help with, and
//! their live capacity. Shaped after Open Referral UK / HSDS so it can be imported and served.
//!
//! A network lead manages every provider's services, a provider its own ([`Store::add_service`],
//! [`Store::update_service`], [`Store::update_service_capacity`]). Capacity also moves with offers:
//! accepting one takes a place, and finishing or ending early gives it back, in the offer's own
//! transaction ([`adjust_capacity_for`]). [`Store::find_services`] filters candidates in SQL and scores
//! only those with the domain's [`assess`](trellis_domain::directory::assess).
//!
//! Where a service's offers are emailed is guarded apart: only an administrator or the provider itself
//! may change it ([`may_change_service_email`](trellis_domain::directory::may_change_service_email)), and
//! every change is audited with both addresses and told to the old one ([`record_email_change`]).

//!
//! # Layout
//!
//! - this module: the shapes a caller sees (a [`Service`], its [`Place`]s and [`Capacity`], what adding
//!   or changing one takes, a search and its matches);
//! - `rows`: the row writers every way in shares (management, the ORUK import, offers moving capacity);
//! - `manage`: adding and changing services and their capacity, with who may;
//! - `read`: one service, lists of them, and the loaders that give rows their taxonomy, places and
//!   capacity;
//! - `matching`: [`Store::find_services`], which filters in SQL, scores with the domain and builds its
//!   services with `read`'s loaders.

mod manage;
mod matching;
mod read;
mod rows;

use chrono::{DateTime, Utc};
use trellis_domain::directory::{CapacityStatus, Coordinates, MatchRequest, ServiceStatus};
use trellis_domain::values::{EmailAddress, Need, Postcode, ValueError};
use trellis_domain::{Actor, DomainError, OrganisationId, ServiceId};

#[allow(unused_imports, reason = "linked from the module documentation")]
use crate::Store;
use crate::StoreError;

pub(crate) use self::rows::{
    LocationRow, ServiceRow, TermSpec, adjust_capacity_for, audit, bump_service_version, insert_service_row,
    record_email_change, set_capacity, set_locations, set_taxonomy, update_service_row,
};
pub use trellis_domain::directory::TAXONOMY;

/// How many ids go into one `IN (…)` list: well under every backend's limit on bound parameters.
const CHUNK: usize = 500;

/// A place where a service happens.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    /// Its name.
    pub name: String,
    /// Its postcode.
    pub postcode: Option<Postcode>,
    /// Latitude (WGS84).
    pub latitude: Option<f64>,
    /// Longitude (WGS84).
    pub longitude: Option<f64>,
}

/// A service's capacity (HSDS 3.1 `service_capacity`) and whether it takes people now.
#[derive(Clone, Debug, PartialEq)]
pub struct Capacity {
    /// Places free now.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// What a place is (`places`, `appointments`).
    pub unit: String,
    /// Whether it takes people now.
    pub status: CapacityStatus,
    /// When the provider last said so.
    pub updated_at: DateTime<Utc>,
}

/// A service to add, for seeding and tests; people add services with [`Store::add_service`]. It is
/// what a network lead or provider describes ([`ServiceDetails`]) with whose it is and, unlike
/// `add_service`, capacity with its own `updated_at`, so a seed or test can make it stale.
#[derive(Clone, Debug)]
pub struct NewService {
    /// The provider organisation that runs it.
    pub organisation: OrganisationId,
    /// The service itself.
    pub details: ServiceDetails,
    /// Its capacity.
    pub capacity: Option<Capacity>,
}

/// A service as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Its id.
    pub id: ServiceId,
    /// The provider organisation.
    pub organisation: OrganisationId,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where offers go.
    pub email: Option<String>,
    /// Its web page.
    pub url: Option<String>,
    /// Whether it is listed.
    pub status: ServiceStatus,
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
    /// Counts every change to the service and its capacity (an accepted offer's place included): a
    /// change made against an older one is refused, so no one overwrites what they have not seen.
    pub version: u32,
}

/// A service as a network lead or provider describes it.
#[derive(Clone, Debug)]
pub struct ServiceDetails {
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where offers go; the organisation's address when absent.
    pub email: Option<EmailAddress>,
    /// Its web page.
    pub url: Option<String>,
    /// Whether it is listed.
    pub status: ServiceStatus,
    /// Taxonomy term codes, each already known to the directory.
    pub taxonomy: Vec<String>,
    /// Youngest age it takes.
    pub min_age: Option<i32>,
    /// Oldest age it takes.
    pub max_age: Option<i32>,
    /// Eligibility in words.
    pub eligibility: Option<String>,
    /// When it runs, in words.
    pub schedule: Option<String>,
    /// Where it happens.
    pub places: Vec<Place>,
}

/// Changes to a service: each `Some` replaces what is there (`Some(None)` clears an optional field);
/// `None` leaves it alone.
#[derive(Clone, Debug, Default)]
pub struct ServiceChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new email, or none.
    pub email: Option<Option<EmailAddress>>,
    /// A new web page, or none.
    pub url: Option<Option<String>>,
    /// Listed or not.
    pub status: Option<ServiceStatus>,
    /// The whole new set of taxonomy term codes.
    pub taxonomy: Option<Vec<String>>,
    /// A new youngest age, or none.
    pub min_age: Option<Option<i32>>,
    /// A new oldest age, or none.
    pub max_age: Option<Option<i32>>,
    /// New eligibility words, or none.
    pub eligibility: Option<Option<String>>,
    /// A new schedule, or none.
    pub schedule: Option<Option<String>>,
    /// The whole new set of places.
    pub places: Option<Vec<Place>>,
}

impl From<ServiceDetails> for ServiceChanges {
    /// Every field replaced by the details of a whole form: what the form leaves empty is cleared.
    fn from(d: ServiceDetails) -> Self {
        ServiceChanges {
            name: Some(d.name),
            description: Some(d.description),
            email: Some(d.email),
            url: Some(d.url),
            status: Some(d.status),
            taxonomy: Some(d.taxonomy),
            min_age: Some(d.min_age),
            max_age: Some(d.max_age),
            eligibility: Some(d.eligibility),
            schedule: Some(d.schedule),
            places: Some(d.places),
        }
    }
}

/// What a provider says about its capacity now.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityUpdate {
    /// Places free now.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// What a place is (`places`, `appointments`).
    pub unit: String,
    /// Whether it takes people.
    pub status: CapacityStatus,
}

/// A search of the directory for one person.
#[derive(Clone, Debug)]
pub struct ServiceSearch {
    /// Needs, radius, age and whether only services with places will do.
    pub request: MatchRequest,
    /// Where the person is, if known.
    pub near: Option<Coordinates>,
    /// Now, for how old capacity is and whether it is stale (by [`Store::policy`]).
    pub now: DateTime<Utc>,
    /// How many matches to return at most.
    pub limit: usize,
}

/// A service that fits, with how well and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceMatch {
    /// The service.
    pub service: Service,
    /// From 0 to 1; higher fits better.
    pub score: f64,
    /// From the person to its nearest location, when both are known.
    pub distance_km: Option<f64>,
    /// The person's needs it meets.
    pub needs_met: Vec<Need>,
    /// Why it matched, in words.
    pub reasons: Vec<String>,
}

fn invalid(e: ValueError) -> StoreError {
    StoreError::Domain(DomainError::Invalid(e))
}

fn forbidden(actor: &Actor, action: &'static str) -> StoreError {
    StoreError::Domain(DomainError::Forbidden { role: actor.role, action })
}
