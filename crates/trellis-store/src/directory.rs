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

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use trellis_domain::directory::{
    self as rules, Candidate, CapacityStatus, CapacityView, Coordinates, MatchRequest, ServiceStatus,
};
use trellis_domain::offer::OfferStatus;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::values::{EmailAddress, Need, Postcode, ValueError};
use trellis_domain::{Actor, DomainError, OrganisationId, ServiceId};
use uuid::Uuid;

use crate::audit::Audit;
use crate::convert::stored;
use crate::entity::{location, service, service_at_location, service_capacity, service_taxonomy, taxonomy_term};
use crate::{Store, StoreError};

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

/// A service to add, for seeding and tests; people add services with [`Store::add_service`].
#[derive(Clone, Debug)]
pub struct NewService {
    /// The provider organisation that runs it.
    pub organisation: OrganisationId,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where offers go; the organisation's address when absent.
    pub email: Option<EmailAddress>,
    /// Taxonomy term codes (`physical_activity`, `befriending`, …).
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
    pub place: Option<Place>,
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

/// The columns of a service row that its writers set.
#[derive(Clone, Debug)]
pub(crate) struct ServiceRow {
    pub organisation: Uuid,
    pub name: String,
    pub description: String,
    pub email: Option<String>,
    pub url: Option<String>,
    pub status: ServiceStatus,
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    pub eligibility: Option<String>,
    pub schedule: Option<String>,
}

/// A taxonomy term to tag a service with, created if the directory does not know its code.
#[derive(Clone, Debug)]
pub(crate) struct TermSpec {
    /// The id to give it if it is new.
    pub id: Option<Uuid>,
    pub code: String,
    pub name: String,
    pub vocabulary: String,
}

impl TermSpec {
    /// One of Trellis's own terms (or an already-known code) by its code.
    pub fn code(code: &str) -> TermSpec {
        TermSpec {
            id: None,
            code: code.to_owned(),
            name: rules::term_name(code).unwrap_or(code).to_owned(),
            vocabulary: "trellis".into(),
        }
    }
}

/// A location to put a service at; an existing row with its id is updated, otherwise one is added.
#[derive(Clone, Debug)]
pub(crate) struct LocationRow {
    pub id: Uuid,
    /// The id to give its service-at-location link, if free.
    pub link_id: Option<Uuid>,
    pub name: String,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl LocationRow {
    fn from_place(place: Place) -> LocationRow {
        LocationRow {
            id: Uuid::now_v7(),
            link_id: None,
            name: place.name,
            address: None,
            postcode: place.postcode.map(String::from),
            latitude: place.latitude,
            longitude: place.longitude,
        }
    }
}

/// A capacity to store.
#[derive(Clone, Debug)]
pub(crate) struct CapacityRow {
    pub available: i32,
    pub maximum: i32,
    pub unit: String,
    pub status: CapacityStatus,
    pub updated_at: DateTime<Utc>,
}

fn invalid(e: ValueError) -> StoreError {
    StoreError::Domain(DomainError::Invalid(e))
}

fn forbidden(actor: &Actor, action: &'static str) -> StoreError {
    StoreError::Domain(DomainError::Forbidden { role: actor.role, action })
}

/// Checks a place's coordinates: both or neither, and on the globe.
fn check_place(place: &Place) -> Result<(), StoreError> {
    match (place.latitude, place.longitude) {
        (Some(lat), Some(lon)) => Coordinates::parse(lat, lon).map(|_| ()).map_err(invalid),
        (None, None) => Ok(()),
        _ => Err(invalid(ValueError::new("locations", place.name.clone(), "needs both latitude and longitude"))),
    }
}

/// Inserts the service row.
pub(crate) async fn insert_service_row(
    conn: &impl ConnectionTrait,
    id: Uuid,
    row: &ServiceRow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    service::Entity::insert(
        service::Model {
            id,
            organisation_id: row.organisation,
            name: row.name.clone(),
            description: row.description.clone(),
            email: row.email.clone(),
            url: row.url.clone(),
            status: row.status.as_str().into(),
            min_age: row.min_age,
            max_age: row.max_age,
            eligibility_description: row.eligibility.clone(),
            schedule_description: row.schedule.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
        .into_active_model(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Overwrites the service row's columns and moves its version on. With `expected`, only if the row is
/// still at that version: otherwise nothing is written and the answer is `Conflict`.
pub(crate) async fn update_service_row(
    conn: &impl ConnectionTrait,
    id: Uuid,
    row: &ServiceRow,
    expected: Option<u32>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    bump_service_version(conn, id, expected).await?;
    service::Entity::update_many()
        .col_expr(service::Column::OrganisationId, Expr::value(row.organisation))
        .col_expr(service::Column::Name, Expr::value(row.name.clone()))
        .col_expr(service::Column::Description, Expr::value(row.description.clone()))
        .col_expr(service::Column::Email, Expr::value(row.email.clone()))
        .col_expr(service::Column::Url, Expr::value(row.url.clone()))
        .col_expr(service::Column::Status, Expr::value(row.status.as_str()))
        .col_expr(service::Column::MinAge, Expr::value(row.min_age))
        .col_expr(service::Column::MaxAge, Expr::value(row.max_age))
        .col_expr(service::Column::EligibilityDescription, Expr::value(row.eligibility.clone()))
        .col_expr(service::Column::ScheduleDescription, Expr::value(row.schedule.clone()))
        .col_expr(service::Column::UpdatedAt, Expr::value(now))
        .filter(service::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves a service's version on, first checking it is `expected` when one is given: the first write of
/// any change to a service, so that on PostgreSQL the service row is locked before its capacity is
/// touched and concurrent changes queue instead of overwriting one another.
pub(crate) async fn bump_service_version(
    conn: &impl ConnectionTrait,
    id: Uuid,
    expected: Option<u32>,
) -> Result<(), StoreError> {
    let mut update = service::Entity::update_many()
        .col_expr(service::Column::Version, Expr::col(service::Column::Version).add(1))
        .filter(service::Column::Id.eq(id));
    if let Some(expected) = expected {
        update = update.filter(service::Column::Version.eq(i64::from(expected)));
    }
    if update.exec(conn).await?.rows_affected == 0 {
        return Err(version_refusal(conn, id, expected).await);
    }
    Ok(())
}

/// Why a versioned write to a service changed nothing: the service is gone, or it is at another version.
async fn version_refusal(conn: &impl ConnectionTrait, id: Uuid, expected: Option<u32>) -> StoreError {
    match (service::Entity::find_by_id(id).one(conn).await, expected) {
        (Ok(Some(row)), Some(expected)) => match crate::convert::version(row.version) {
            Ok(current) => StoreError::Conflict { expected, current },
            Err(e) => e,
        },
        (Ok(_), _) => StoreError::NotFound,
        (Err(e), _) => e.into(),
    }
}

/// Replaces a service's taxonomy with `terms`, adding terms the directory does not know yet.
pub(crate) async fn set_taxonomy(
    conn: &impl ConnectionTrait,
    service_id: Uuid,
    terms: &[TermSpec],
) -> Result<(), StoreError> {
    service_taxonomy::Entity::delete_many()
        .filter(service_taxonomy::Column::ServiceId.eq(service_id))
        .exec(conn)
        .await?;
    let mut linked = HashSet::new();
    for spec in terms {
        let term = match taxonomy_term::Entity::find()
            .filter(taxonomy_term::Column::Code.eq(spec.code.as_str()))
            .one(conn)
            .await?
        {
            Some(t) => t.id,
            None => {
                let id = match spec.id {
                    Some(id) if taxonomy_term::Entity::find_by_id(id).one(conn).await?.is_none() => id,
                    _ => Uuid::now_v7(),
                };
                taxonomy_term::Entity::insert(
                    taxonomy_term::Model {
                        id,
                        code: spec.code.clone(),
                        name: spec.name.clone(),
                        vocabulary: spec.vocabulary.clone(),
                    }
                    .into_active_model(),
                )
                .exec_without_returning(conn)
                .await?;
                id
            }
        };
        if linked.insert(term) {
            service_taxonomy::Entity::insert(
                service_taxonomy::Model { service_id, taxonomy_term_id: term }.into_active_model(),
            )
            .exec_without_returning(conn)
            .await?;
        }
    }
    Ok(())
}

/// Puts a service at exactly `locations`: rows with a known id are updated, others added, and the
/// service's former locations that no service uses any more are removed.
pub(crate) async fn set_locations(
    conn: &impl ConnectionTrait,
    service_id: Uuid,
    organisation: Uuid,
    locations: &[LocationRow],
) -> Result<(), StoreError> {
    let former: Vec<Uuid> = service_at_location::Entity::find()
        .filter(service_at_location::Column::ServiceId.eq(service_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|l| l.location_id)
        .collect();
    service_at_location::Entity::delete_many()
        .filter(service_at_location::Column::ServiceId.eq(service_id))
        .exec(conn)
        .await?;
    let mut placed = HashSet::new();
    for l in locations {
        if !placed.insert(l.id) {
            continue;
        }
        let model = location::Model {
            id: l.id,
            organisation_id: organisation,
            name: l.name.clone(),
            address: l.address.clone(),
            postcode: l.postcode.clone(),
            latitude: l.latitude,
            longitude: l.longitude,
        };
        if location::Entity::find_by_id(l.id).one(conn).await?.is_some() {
            location::Entity::update(model.into_active_model().reset_all()).exec(conn).await?;
        } else {
            location::Entity::insert(model.into_active_model()).exec_without_returning(conn).await?;
        }
        let link_id = match l.link_id {
            Some(id) if service_at_location::Entity::find_by_id(id).one(conn).await?.is_none() => id,
            _ => Uuid::now_v7(),
        };
        service_at_location::Entity::insert(
            service_at_location::Model { id: link_id, service_id, location_id: l.id }.into_active_model(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    for old in former.into_iter().filter(|id| !placed.contains(id)) {
        let still_used = service_at_location::Entity::find()
            .filter(service_at_location::Column::LocationId.eq(old))
            .count(conn)
            .await?;
        if still_used == 0 {
            location::Entity::delete_by_id(old).exec(conn).await?;
        }
    }
    Ok(())
}

/// Sets (or, with `None`, removes) a service's capacity.
pub(crate) async fn set_capacity(
    conn: &impl ConnectionTrait,
    service_id: Uuid,
    capacity: Option<&CapacityRow>,
) -> Result<(), StoreError> {
    service_capacity::Entity::delete_many()
        .filter(service_capacity::Column::ServiceId.eq(service_id))
        .exec(conn)
        .await?;
    if let Some(c) = capacity {
        service_capacity::Entity::insert(
            service_capacity::Model {
                service_id,
                available: c.available,
                maximum: c.maximum,
                unit: c.unit.clone(),
                status: c.status.as_str().into(),
                updated_at: c.updated_at,
            }
            .into_active_model(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

/// Moves a service's free places with an offer: accepting one takes a place (never below none);
/// finishing, ending early, or withdrawing an accepted offer gives it back (never above the maximum).
///
/// It runs inside the offer's transition, so the offer and the count change together or not at all, and
/// it changes the count in one `UPDATE` so concurrent answers cannot lose a place. It moves the service's
/// version on, so a capacity set from a view older than this place is `Conflict`, never an overwrite. `updated_at` is left
/// alone: it says when a person last confirmed the numbers, which is what staleness is about.
pub(crate) async fn adjust_capacity_for(
    txn: &DatabaseTransaction,
    service_id: ServiceId,
    from: OfferStatus,
    to: OfferStatus,
) -> Result<(), StoreError> {
    let change = match (from, to) {
        (OfferStatus::Offered | OfferStatus::Waitlisted, OfferStatus::Accepted) => {
            "CASE WHEN available > 0 THEN available - 1 ELSE 0 END"
        }
        (OfferStatus::Started, OfferStatus::Finished | OfferStatus::EndedEarly)
        | (OfferStatus::Accepted, OfferStatus::Withdrawn) => {
            "CASE WHEN available < maximum THEN available + 1 ELSE available END"
        }
        _ => return Ok(()),
    };
    // The service row first: a provider's absolute set of its capacity holds it too, so the two queue
    // rather than one overwriting the other, and a set made against the count before this place was
    // taken is refused by its version.
    bump_service_version(txn, service_id.0, None).await?;
    service_capacity::Entity::update_many()
        .col_expr(service_capacity::Column::Available, Expr::cust(change))
        .filter(service_capacity::Column::ServiceId.eq(service_id.0))
        .exec(txn)
        .await?;
    Ok(())
}

/// Records who changed a service and how (service id and capacity only: never personal data).
pub(crate) async fn audit(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    Audit { actor, action, referral: None, offer: None, at: now }.write_detail(conn, &detail).await
}

/// Records, in the transaction that makes it, a change of where a service's offers are emailed: an audit
/// entry (`service.email_changed`) with the old and new address (organisations' addresses, not people's),
/// and an email to the old address (or, if the service had none, the organisation's, where its offers
/// went) saying so, so that a change its owner did not make does not go unnoticed.
pub(crate) async fn record_email_change(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    service: ServiceId,
    organisation: OrganisationId,
    old: Option<String>,
    new: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let detail = serde_json::json!({ "service": service, "old": old, "new": new });
    let (detail_old, detail_new) = (old.clone(), new);
    audit(txn, actor, "service.email_changed", detail.clone(), now).await?;
    let told = match old {
        Some(old) => Some(old),
        None => crate::entity::organisation::Entity::find_by_id(organisation.0).one(txn).await?.and_then(|o| o.email),
    };
    if let Some(recipient) = told {
        crate::outbox::NewEmail {
            job: crate::outbox::OutboxJob::ServiceEmailChanged { service, old: detail_old, new: detail_new },
            recipient,
            offer: None,
            referral: None,
            due_at: now,
        }
        .write(txn, now)
        .await?;
    }
    Ok(())
}

/// Validates a new or changed service's own fields.
fn check_details(
    name: &str,
    description: &str,
    min_age: Option<i32>,
    max_age: Option<i32>,
    places: &[Place],
) -> Result<(), StoreError> {
    trellis_domain::values::required_text("name", name, 200).map_err(invalid)?;
    trellis_domain::values::required_text("description", description, 4000).map_err(invalid)?;
    rules::check_ages(min_age, max_age).map_err(invalid)?;
    places.iter().try_for_each(check_place)
}

impl Store {
    /// Adds a service, with its place, taxonomy and capacity, in one transaction. For seeding and tests:
    /// it checks no caller (people go through [`Store::add_service`]).
    pub async fn create_service(&self, new: NewService, now: DateTime<Utc>) -> Result<Service, StoreError> {
        let capacity = match new.capacity {
            Some(c) => Some(CapacityRow {
                status: c.status,
                available: c.available,
                maximum: c.maximum,
                unit: c.unit,
                updated_at: c.updated_at,
            }),
            None => None,
        };
        let details = ServiceDetails {
            name: new.name,
            description: new.description,
            email: new.email,
            url: None,
            status: ServiceStatus::Active,
            taxonomy: new.taxonomy,
            min_age: new.min_age,
            max_age: new.max_age,
            eligibility: new.eligibility,
            schedule: new.schedule,
            places: new.place.into_iter().collect(),
        };
        self.insert_service(None, new.organisation, details, capacity, now).await
    }

    /// Adds a service for a provider organisation: the network lead for any provider, a provider for
    /// itself. Taxonomy codes must be known to the directory.
    pub async fn add_service(
        &self,
        actor: &Actor,
        organisation: OrganisationId,
        details: ServiceDetails,
        capacity: Option<CapacityUpdate>,
        now: DateTime<Utc>,
    ) -> Result<Service, StoreError> {
        if !rules::may_manage_services(actor, organisation) {
            return Err(forbidden(actor, "manage this organisation's services"));
        }
        let capacity = match capacity {
            Some(c) => {
                rules::check_capacity(c.available, c.maximum).map_err(invalid)?;
                Some(CapacityRow {
                    available: c.available,
                    maximum: c.maximum,
                    unit: c.unit,
                    status: c.status,
                    updated_at: now,
                })
            }
            None => None,
        };
        self.insert_service(Some(actor), organisation, details, capacity, now).await
    }

    /// Adds a service; with an actor, only known taxonomy terms are accepted and the change is audited.
    async fn insert_service(
        &self,
        actor: Option<&Actor>,
        organisation: OrganisationId,
        details: ServiceDetails,
        capacity: Option<CapacityRow>,
        now: DateTime<Utc>,
    ) -> Result<Service, StoreError> {
        check_details(&details.name, &details.description, details.min_age, details.max_age, &details.places)?;
        let org = self.organisation(organisation).await.map_err(|_| StoreError::UnknownReference("organisation"))?;
        if org.kind != OrganisationKind::Provider {
            return Err(StoreError::UnknownReference("organisation"));
        }
        let terms = self.term_specs(&details.taxonomy, actor.is_some()).await?;
        let txn = self.db.begin().await?;
        let id = ServiceId::new_at(now);
        let row = ServiceRow {
            organisation: org.id.0,
            name: details.name,
            description: details.description,
            email: details.email.map(String::from),
            url: details.url,
            status: details.status,
            min_age: details.min_age,
            max_age: details.max_age,
            eligibility: details.eligibility,
            schedule: details.schedule,
        };
        insert_service_row(&txn, id.0, &row, now).await?;
        set_taxonomy(&txn, id.0, &terms).await?;
        let locations: Vec<LocationRow> = details.places.into_iter().map(LocationRow::from_place).collect();
        set_locations(&txn, id.0, org.id.0, &locations).await?;
        set_capacity(&txn, id.0, capacity.as_ref()).await?;
        if let Some(actor) = actor {
            audit(&txn, actor, "service.created", serde_json::json!({ "service": id }), now).await?;
        }
        txn.commit().await?;
        self.service(id).await
    }

    /// The terms for some codes; with `known_only`, a code that is neither Trellis's own nor already in
    /// the directory is refused.
    async fn term_specs(&self, codes: &[String], known_only: bool) -> Result<Vec<TermSpec>, StoreError> {
        let mut specs = Vec::with_capacity(codes.len());
        for code in codes {
            let code = code.trim();
            let known = rules::term_name(code).is_some()
                || taxonomy_term::Entity::find()
                    .filter(taxonomy_term::Column::Code.eq(code))
                    .one(&self.db)
                    .await?
                    .is_some();
            if known_only && !known {
                return Err(invalid(ValueError::new("taxonomy", code, "is not a known taxonomy term")));
            }
            specs.push(TermSpec::code(code));
        }
        Ok(specs)
    }

    /// The service if `actor` may manage it.
    async fn managed_service(&self, actor: &Actor, id: ServiceId) -> Result<service::Model, StoreError> {
        let row = service::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        if !rules::may_manage_services(actor, OrganisationId(row.organisation_id)) {
            return Err(forbidden(actor, "manage another organisation's services"));
        }
        Ok(row)
    }

    /// Changes a service (the network lead, or the provider that runs it), if it is still at
    /// `expected_version`; otherwise `Conflict` and nothing changes. Its email, where its offers go, only
    /// the provider or an administrator may change: a change is audited with the old and new address, and
    /// the old address is told, in the same transaction.
    pub async fn update_service(
        &self,
        actor: &Actor,
        id: ServiceId,
        expected_version: u32,
        changes: ServiceChanges,
        now: DateTime<Utc>,
    ) -> Result<Service, StoreError> {
        let read = service::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let organisation = OrganisationId(read.organisation_id);
        let new_email = changes.email.clone().map(|e| e.map(String::from));
        let email_changes = new_email.as_ref().is_some_and(|e| *e != read.email);
        let others_change = changes.name.is_some()
            || changes.description.is_some()
            || changes.url.is_some()
            || changes.status.is_some()
            || changes.taxonomy.is_some()
            || changes.min_age.is_some()
            || changes.max_age.is_some()
            || changes.eligibility.is_some()
            || changes.schedule.is_some()
            || changes.places.is_some();
        let may_manage = rules::may_manage_services(actor, organisation);
        let may_change_email = rules::may_change_service_email(actor, organisation);
        if email_changes && !may_change_email {
            return Err(forbidden(actor, "change where a service's offers are emailed"));
        }
        if (others_change || !email_changes) && !may_manage {
            return Err(forbidden(actor, "manage another organisation's services"));
        }
        let terms = match &changes.taxonomy {
            Some(codes) => Some(self.term_specs(codes, true).await?),
            None => None,
        };
        let txn = self.db.begin().await?;
        // Merged with the row as it is inside the transaction; the versioned write below refuses it if
        // anyone changed the service since the caller read it, or since this read.
        let current = service::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let current_version = crate::convert::version(current.version)?;
        if current_version != expected_version {
            return Err(StoreError::Conflict { expected: expected_version, current: current_version });
        }
        let email_changes = new_email.as_ref().is_some_and(|e| *e != current.email);
        let old_email = current.email.clone();
        let status = match changes.status {
            Some(s) => s,
            None => ServiceStatus::parse(&current.status).map_err(|_| StoreError::Corrupt("services.status"))?,
        };
        let row = ServiceRow {
            organisation: current.organisation_id,
            name: changes.name.unwrap_or(current.name),
            description: changes.description.unwrap_or(current.description),
            email: new_email.unwrap_or(current.email),
            url: changes.url.unwrap_or(current.url),
            status,
            min_age: changes.min_age.unwrap_or(current.min_age),
            max_age: changes.max_age.unwrap_or(current.max_age),
            eligibility: changes.eligibility.unwrap_or(current.eligibility_description),
            schedule: changes.schedule.unwrap_or(current.schedule_description),
        };
        check_details(&row.name, &row.description, row.min_age, row.max_age, changes.places.as_deref().unwrap_or(&[]))?;
        update_service_row(&txn, id.0, &row, Some(expected_version), now).await?;
        if let Some(terms) = terms {
            set_taxonomy(&txn, id.0, &terms).await?;
        }
        if let Some(places) = changes.places {
            let locations: Vec<LocationRow> = places.into_iter().map(LocationRow::from_place).collect();
            set_locations(&txn, id.0, row.organisation, &locations).await?;
        }
        audit(&txn, actor, "service.updated", serde_json::json!({ "service": id }), now).await?;
        if email_changes {
            record_email_change(&txn, actor, id, organisation, old_email, row.email.clone(), now).await?;
        }
        txn.commit().await?;
        self.service(id).await
    }

    /// Records what a provider (or the network lead) says about a service's capacity now, if the service
    /// is still at `expected_version` (an accepted offer taking a place moves it on): the numbers are
    /// absolute, so a set made from an older view would silently undo that place.
    pub async fn update_service_capacity(
        &self,
        actor: &Actor,
        id: ServiceId,
        expected_version: u32,
        update: CapacityUpdate,
        now: DateTime<Utc>,
    ) -> Result<Service, StoreError> {
        self.managed_service(actor, id).await?;
        rules::check_capacity(update.available, update.maximum).map_err(invalid)?;
        let unit = trellis_domain::values::required_text("unit", &update.unit, 50).map_err(invalid)?;
        let txn = self.db.begin().await?;
        bump_service_version(&txn, id.0, Some(expected_version)).await?;
        set_capacity(
            &txn,
            id.0,
            Some(&CapacityRow {
                available: update.available,
                maximum: update.maximum,
                unit,
                status: update.status,
                updated_at: now,
            }),
        )
        .await?;
        let detail = serde_json::json!({
            "service": id,
            "available": update.available,
            "maximum": update.maximum,
            "status": update.status.as_str(),
        });
        audit(&txn, actor, "service.capacity_updated", detail, now).await?;
        txn.commit().await?;
        self.service(id).await
    }

    /// One service, whatever its status.
    pub async fn service(&self, id: ServiceId) -> Result<Service, StoreError> {
        let row = service::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        self.with_details(vec![row]).await?.pop().ok_or(StoreError::NotFound)
    }

    /// Every active service, by name.
    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let rows = service::Entity::find()
            .filter(service::Column::Status.eq(ServiceStatus::Active.as_str()))
            .order_by_asc(service::Column::Name)
            .all(&self.db)
            .await?;
        self.with_details(rows).await
    }

    /// Every service of one organisation, active or not, by name.
    pub async fn services_of(&self, organisation: OrganisationId) -> Result<Vec<Service>, StoreError> {
        let rows = service::Entity::find()
            .filter(service::Column::OrganisationId.eq(organisation.0))
            .order_by_asc(service::Column::Name)
            .all(&self.db)
            .await?;
        self.with_details(rows).await
    }

    /// Where a postcode is, as far as the directory knows: the mean of its locations with that
    /// postcode, else of those in the same outward code (`NG10`), else nothing.
    pub async fn locate_postcode(&self, postcode: &Postcode) -> Result<Option<Coordinates>, StoreError> {
        let located = |rows: Vec<location::Model>| {
            let points: Vec<Coordinates> = rows
                .into_iter()
                .filter_map(|l| Some(Coordinates { latitude: l.latitude?, longitude: l.longitude? }))
                .collect();
            Coordinates::centroid(&points)
        };
        let exact = location::Entity::find()
            .filter(location::Column::Postcode.eq(postcode.as_str()))
            .filter(location::Column::Latitude.is_not_null())
            .filter(location::Column::Longitude.is_not_null())
            .all(&self.db)
            .await?;
        if let Some(point) = located(exact) {
            return Ok(Some(point));
        }
        let district = location::Entity::find()
            .filter(location::Column::Postcode.starts_with(format!("{} ", postcode.outward())))
            .filter(location::Column::Latitude.is_not_null())
            .filter(location::Column::Longitude.is_not_null())
            .all(&self.db)
            .await?;
        Ok(located(district))
    }

    /// Active services ranked by how well they fit a person, best first, each with its reasons.
    ///
    /// SQL narrows the candidates (status, the needs' taxonomy terms, age, a latitude/longitude box
    /// around the radius, open capacity when asked), so only those are loaded and scored.
    pub async fn find_services(&self, search: &ServiceSearch) -> Result<Vec<ServiceMatch>, StoreError> {
        let request = &search.request;
        let codes: Vec<&str> = request.needs.iter().flat_map(|n| rules::terms_for(*n).iter().copied()).collect();
        let terms: HashMap<Uuid, String> = taxonomy_term::Entity::find()
            .filter(taxonomy_term::Column::Code.is_in(codes))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t.code))
            .collect();
        if terms.is_empty() {
            return Ok(vec![]);
        }
        let tagged = Query::select()
            .column(service_taxonomy::Column::ServiceId)
            .from(service_taxonomy::Entity)
            .and_where(service_taxonomy::Column::TaxonomyTermId.is_in(terms.keys().copied()))
            .to_owned();
        let mut query = service::Entity::find()
            .filter(service::Column::Status.eq(ServiceStatus::Active.as_str()))
            .filter(service::Column::Id.in_subquery(tagged));
        if let Some(age) = request.age {
            query = query
                .filter(Condition::any().add(service::Column::MinAge.is_null()).add(service::Column::MinAge.lte(age)))
                .filter(Condition::any().add(service::Column::MaxAge.is_null()).add(service::Column::MaxAge.gte(age)));
        }
        let bounds = match (search.near, request.radius_km) {
            (Some(near), Some(radius)) => Some(near.bounding_box(radius)),
            _ => None,
        };
        if let Some(b) = bounds {
            let nearby = Query::select()
                .column((service_at_location::Entity, service_at_location::Column::ServiceId))
                .from(service_at_location::Entity)
                .inner_join(
                    location::Entity,
                    Expr::col((location::Entity, location::Column::Id))
                        .equals((service_at_location::Entity, service_at_location::Column::LocationId)),
                )
                .and_where(location::Column::Latitude.between(b.min_latitude, b.max_latitude))
                .and_where(location::Column::Longitude.between(b.min_longitude, b.max_longitude))
                .to_owned();
            query = query.filter(service::Column::Id.in_subquery(nearby));
        }
        if request.only_with_capacity {
            let open = Query::select()
                .column(service_capacity::Column::ServiceId)
                .from(service_capacity::Entity)
                .and_where(service_capacity::Column::Status.eq(CapacityStatus::Open.as_str()))
                .and_where(service_capacity::Column::Available.gt(0))
                .and_where(service_capacity::Column::UpdatedAt.gte(self.policy.capacity_stale_before(search.now)))
                .to_owned();
            query = query.filter(service::Column::Id.in_subquery(open));
        }
        let rows = query.all(&self.db).await?;

        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
        let mut capacities: HashMap<Uuid, service_capacity::Model> = HashMap::new();
        let mut points: HashMap<Uuid, Vec<Coordinates>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            for t in service_taxonomy::Entity::find()
                .filter(service_taxonomy::Column::ServiceId.is_in(chunk.iter().copied()))
                .filter(service_taxonomy::Column::TaxonomyTermId.is_in(terms.keys().copied()))
                .all(&self.db)
                .await?
            {
                if let Some(code) = terms.get(&t.taxonomy_term_id) {
                    tags.entry(t.service_id).or_default().push(code.clone());
                }
            }
            for c in service_capacity::Entity::find()
                .filter(service_capacity::Column::ServiceId.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?
            {
                capacities.insert(c.service_id, c);
            }
            if search.near.is_some() {
                let links = service_at_location::Entity::find()
                    .filter(service_at_location::Column::ServiceId.is_in(chunk.iter().copied()))
                    .all(&self.db)
                    .await?;
                let mut located: HashMap<Uuid, Coordinates> = HashMap::new();
                for ls in links.chunks(CHUNK) {
                    for l in location::Entity::find()
                        .filter(location::Column::Id.is_in(ls.iter().map(|l| l.location_id)))
                        .all(&self.db)
                        .await?
                    {
                        if let (Some(latitude), Some(longitude)) = (l.latitude, l.longitude) {
                            located.insert(l.id, Coordinates { latitude, longitude });
                        }
                    }
                }
                for link in links {
                    if let Some(p) = located.get(&link.location_id) {
                        points.entry(link.service_id).or_default().push(*p);
                    }
                }
            }
        }

        let mut fits = Vec::new();
        for row in rows {
            let distance_km = search.near.and_then(|near| {
                points.get(&row.id)?.iter().map(|p| near.distance_km(p)).min_by(|a, b| a.total_cmp(b))
            });
            let capacity = capacities.get(&row.id).and_then(|c| {
                Some(CapacityView {
                    available: c.available,
                    unit: c.unit.clone(),
                    status: CapacityStatus::parse(&c.status).ok()?,
                    age_days: Ord::max((search.now - c.updated_at).num_days(), 0),
                    stale: self.policy.capacity_stale(c.updated_at, search.now),
                })
            });
            let candidate = Candidate {
                taxonomy: tags.remove(&row.id).unwrap_or_default(),
                distance_km,
                min_age: row.min_age,
                max_age: row.max_age,
                capacity,
            };
            if let Some(fit) = rules::assess(request, &candidate) {
                fits.push((row, distance_km, fit));
            }
        }
        fits.sort_by(|(a, da, fa), (b, db, fb)| {
            fb.score
                .total_cmp(&fa.score)
                .then_with(|| da.unwrap_or(f64::INFINITY).total_cmp(&db.unwrap_or(f64::INFINITY)))
                .then_with(|| a.name.cmp(&b.name))
        });
        fits.truncate(search.limit);
        let (rows, rest): (Vec<_>, Vec<_>) = fits.into_iter().map(|(row, d, fit)| (row, (d, fit))).unzip();
        let services = self.with_details(rows).await?;
        Ok(services
            .into_iter()
            .zip(rest)
            .map(|(service, (distance_km, fit))| ServiceMatch {
                service,
                score: fit.score,
                distance_km: distance_km.map(|d| (d * 100.0).round() / 100.0),
                needs_met: fit.needs_met,
                reasons: fit.reasons,
            })
            .collect())
    }

    /// Where some services happen: their links to locations, oldest first, and those locations by id.
    pub(crate) async fn service_locations(
        &self,
        services: impl IntoIterator<Item = Uuid>,
    ) -> Result<(Vec<service_at_location::Model>, HashMap<Uuid, location::Model>), StoreError> {
        let links = service_at_location::Entity::find()
            .filter(service_at_location::Column::ServiceId.is_in(services))
            .order_by_asc(service_at_location::Column::Id)
            .all(&self.db)
            .await?;
        let locations = location::Entity::find()
            .filter(location::Column::Id.is_in(links.iter().map(|l| l.location_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        Ok((links, locations))
    }

    /// Loads taxonomy, places and capacity for some service rows, keeping their order.
    pub(crate) async fn with_details(&self, rows: Vec<service::Model>) -> Result<Vec<Service>, StoreError> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let terms: HashMap<Uuid, String> =
            taxonomy_term::Entity::find().all(&self.db).await?.into_iter().map(|t| (t.id, t.code)).collect();
        let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
        let mut capacities: HashMap<Uuid, Capacity> = HashMap::new();
        let mut places: HashMap<Uuid, Vec<Place>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            for t in service_taxonomy::Entity::find()
                .filter(service_taxonomy::Column::ServiceId.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?
            {
                if let Some(code) = terms.get(&t.taxonomy_term_id) {
                    tags.entry(t.service_id).or_default().push(code.clone());
                }
            }
            for c in service_capacity::Entity::find()
                .filter(service_capacity::Column::ServiceId.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?
            {
                capacities.insert(
                    c.service_id,
                    Capacity {
                        available: c.available,
                        maximum: c.maximum,
                        unit: c.unit,
                        status: stored("service_capacities.status", CapacityStatus::parse(&c.status))?,
                        updated_at: c.updated_at,
                    },
                );
            }
            let (links, locations) = self.service_locations(chunk.iter().copied()).await?;
            for link in links {
                if let Some(l) = locations.get(&link.location_id) {
                    places.entry(link.service_id).or_default().push(Place {
                        name: l.name.clone(),
                        postcode: l.postcode.as_deref().and_then(|p| Postcode::parse(p).ok()),
                        latitude: l.latitude,
                        longitude: l.longitude,
                    });
                }
            }
        }
        rows.into_iter()
            .map(|r| {
                let mut taxonomy = tags.remove(&r.id).unwrap_or_default();
                taxonomy.sort();
                Ok(Service {
                    id: ServiceId(r.id),
                    organisation: OrganisationId(r.organisation_id),
                    taxonomy,
                    places: places.remove(&r.id).unwrap_or_default(),
                    capacity: capacities.remove(&r.id),
                    version: crate::convert::version(r.version)?,
                    name: r.name,
                    description: r.description,
                    email: r.email,
                    url: r.url,
                    status: stored("services.status", ServiceStatus::parse(&r.status))?,
                    min_age: r.min_age,
                    max_age: r.max_age,
                    eligibility: r.eligibility_description,
                    schedule: r.schedule_description,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

    use super::*;
    use crate::testing::Fixture;

    /// Services on a grid a kilometre and a half apart, 40 by 40 (60 km square), added in one
    /// transaction; every other one befriends, the rest give debt advice. Returns each befriending
    /// service's id and coordinates.
    async fn grid(store: &Store, f: &Fixture, centre: Coordinates) -> Vec<(Uuid, Coordinates)> {
        let now = Utc::now();
        let step = 1.5 / 111.195;
        let txn = store.db.begin().await.unwrap();
        let mut befriending = vec![];
        for i in -20..20 {
            for j in -20..20 {
                let at = Coordinates {
                    latitude: centre.latitude + f64::from(i) * step,
                    longitude: centre.longitude + f64::from(j) * step / centre.latitude.to_radians().cos(),
                };
                let id = Uuid::now_v7();
                let row = ServiceRow {
                    organisation: f.provider.id.0,
                    name: format!("Grid {i} {j}"),
                    description: "On the grid.".into(),
                    email: None,
                    url: None,
                    status: ServiceStatus::Active,
                    min_age: None,
                    max_age: None,
                    eligibility: None,
                    schedule: None,
                };
                insert_service_row(&txn, id, &row, now).await.unwrap();
                let term = if (i + j) % 2 == 0 { "befriending" } else { "advice_debt" };
                set_taxonomy(&txn, id, &[TermSpec::code(term)]).await.unwrap();
                let place = Place {
                    name: row.name,
                    postcode: None,
                    latitude: Some(at.latitude),
                    longitude: Some(at.longitude),
                };
                set_locations(&txn, id, f.provider.id.0, &[LocationRow::from_place(place)]).await.unwrap();
                let capacity = CapacityRow {
                    available: 3,
                    maximum: 10,
                    unit: "places".into(),
                    status: CapacityStatus::Open,
                    updated_at: now,
                };
                set_capacity(&txn, id, Some(&capacity)).await.unwrap();
                if term == "befriending" {
                    befriending.push((id, at));
                }
            }
        }
        txn.commit().await.unwrap();
        befriending
    }

    crate::both_databases!(
        matching_finds_exactly_the_services_within_the_radius_among_thousands,
        |store: Store| async move {
            let f = Fixture::create(&store).await;
            let centre = Coordinates { latitude: 52.9, longitude: -1.3 };
            let befriending = grid(&store, &f, centre).await;
            let now = Utc::now();
            let search = |radius_km: f64| ServiceSearch {
                request: MatchRequest {
                    needs: vec![Need::Loneliness],
                    radius_km: Some(radius_km),
                    age: None,
                    only_with_capacity: false,
                },
                near: Some(centre),
                now,
                limit: 10_000,
            };
            for radius in [0.5, 4.0, 10.0] {
                let started = std::time::Instant::now();
                let found = store.find_services(&search(radius)).await.unwrap();
                let took = started.elapsed();
                let mut expected: Vec<Uuid> =
                    befriending.iter().filter(|(_, at)| centre.distance_km(at) <= radius).map(|(id, _)| *id).collect();
                // The fixture's walking group, at Long Eaton, is within 10 km and meets loneliness too.
                if f.walking_group.places.iter().any(|p| {
                    centre.distance_km(&Coordinates { latitude: p.latitude.unwrap(), longitude: p.longitude.unwrap() })
                        <= radius
                }) {
                    expected.push(f.walking_group.id.0);
                }
                let mut got: Vec<Uuid> = found.iter().map(|m| m.service.id.0).collect();
                let distances: Vec<f64> = found
                    .iter()
                    .filter(|m| m.service.id != f.walking_group.id)
                    .map(|m| m.distance_km.unwrap())
                    .collect();
                assert!(distances.windows(2).all(|w| w[0] <= w[1]), "equal fits rank nearest first: {distances:?}");
                got.sort();
                expected.sort();
                assert_eq!(got, expected, "within {radius} km");
                eprintln!("{radius} km: {} of {} services in {took:?}", found.len(), befriending.len() * 2);
            }
        }
    );
}
