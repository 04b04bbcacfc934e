//! Adding and changing services and their capacity: the network lead for any provider, a provider for
//! its own, and where a service's offers are emailed only the provider or an administrator.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use trellis_domain::directory::{self as rules, Coordinates, ServiceStatus};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::values::ValueError;
use trellis_domain::{Actor, OrganisationId, ServiceId};

use super::rows::{
    LocationRow, ServiceRow, TermSpec, audit, bump_service_version, insert_service_row, record_email_change,
    set_capacity, set_locations, set_taxonomy, update_service_row,
};
use super::{Capacity, CapacityUpdate, NewService, Place, Service, ServiceChanges, ServiceDetails, forbidden, invalid};
use crate::entity::{service, taxonomy_term};
use crate::{Store, StoreError};

/// Checks a place's coordinates: both or neither, and on the globe.
fn check_place(place: &Place) -> Result<(), StoreError> {
    match (place.latitude, place.longitude) {
        (Some(lat), Some(lon)) => Coordinates::parse(lat, lon).map(|_| ()).map_err(invalid),
        (None, None) => Ok(()),
        _ => Err(invalid(ValueError::new("locations", place.name.clone(), "needs both latitude and longitude"))),
    }
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
        self.insert_service(None, new.organisation, new.details, new.capacity, now).await
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
                Some(Capacity {
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
        capacity: Option<Capacity>,
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
            Some(&Capacity {
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
}
