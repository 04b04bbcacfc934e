//! The row writers: what adding, changing or importing a service writes, and how an offer moves a
//! service's places. Every way in (management, the ORUK import, offers, capacity links) writes through
//! these, so a service's rows have one shape.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter,
};
use trellis_domain::directory::{self as rules, CapacityStatus, ServiceStatus};
use trellis_domain::offer::OfferStatus;
use trellis_domain::{Actor, OrganisationId, ServiceId};
use uuid::Uuid;

use super::{Capacity, Place};
use crate::StoreError;
use crate::audit::Audit;
use crate::convert::stored;
use crate::entity::{location, service, service_at_location, service_capacity, service_taxonomy, taxonomy_term};

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
    pub(super) fn from_place(place: Place) -> LocationRow {
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

impl TryFrom<service_capacity::Model> for Capacity {
    type Error = StoreError;
    fn try_from(m: service_capacity::Model) -> Result<Self, StoreError> {
        Ok(Capacity {
            available: m.available,
            maximum: m.maximum,
            unit: m.unit,
            status: stored("service_capacities.status", CapacityStatus::parse(&m.status))?,
            updated_at: m.updated_at,
        })
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
    capacity: Option<&Capacity>,
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
