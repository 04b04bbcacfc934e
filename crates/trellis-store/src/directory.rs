//! The directory: services run by provider organisations, where they happen, what they help with, and
//! their live capacity. Shaped after Open Referral UK / HSDS so it can be imported and served.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait};
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::values::{EmailAddress, Postcode};
use trellis_domain::{OrganisationId, ServiceId};
use uuid::Uuid;

use crate::entity::{location, service, service_at_location, service_capacity, service_taxonomy, taxonomy_term};
use crate::{Store, StoreError};

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
    /// `open`, `waitlist` or `closed`.
    pub status: String,
    /// When the provider last said so.
    pub updated_at: DateTime<Utc>,
}

/// A service to add.
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
    /// `active` or `inactive`.
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
}

/// The taxonomy Trellis starts with: the kinds of community support link workers connect people to.
pub const TAXONOMY: &[(&str, &str)] = &[
    ("physical_activity", "Physical activity"),
    ("arts_and_culture", "Arts and culture"),
    ("nature_and_green", "Nature and green"),
    ("befriending", "Befriending"),
    ("advice_debt", "Advice: debt"),
    ("advice_benefits", "Advice: benefits"),
    ("advice_housing", "Advice: housing"),
    ("mental_health_peer_support", "Mental health peer support"),
    ("learning", "Learning"),
    ("volunteering", "Volunteering"),
    ("carers", "Carers"),
    ("welcome_and_integration", "Welcome and integration"),
];

impl Store {
    /// Adds a service, with its place, taxonomy and capacity, in one transaction.
    pub async fn create_service(&self, new: NewService, now: DateTime<Utc>) -> Result<Service, StoreError> {
        let org =
            self.organisation(new.organisation).await.map_err(|_| StoreError::UnknownReference("organisation"))?;
        if org.kind != OrganisationKind::Provider {
            return Err(StoreError::UnknownReference("organisation"));
        }
        let txn = self.db.begin().await?;
        let id = ServiceId::new_at(now);
        service::Entity::insert(
            service::Model {
                id: id.0,
                organisation_id: org.id.0,
                name: new.name,
                description: new.description,
                email: new.email.map(String::from),
                url: None,
                status: "active".into(),
                min_age: new.min_age,
                max_age: new.max_age,
                eligibility_description: new.eligibility,
                schedule_description: new.schedule,
                created_at: now,
                updated_at: now,
            }
            .into_active_model(),
        )
        .exec_without_returning(&txn)
        .await?;
        for code in &new.taxonomy {
            let term = match taxonomy_term::Entity::find()
                .filter(taxonomy_term::Column::Code.eq(code.as_str()))
                .one(&txn)
                .await?
            {
                Some(t) => t.id,
                None => {
                    let name = TAXONOMY.iter().find(|(c, _)| c == code).map(|(_, n)| *n).unwrap_or(code.as_str());
                    let term_id = Uuid::now_v7();
                    taxonomy_term::Entity::insert(
                        taxonomy_term::Model {
                            id: term_id,
                            code: code.clone(),
                            name: name.into(),
                            vocabulary: "trellis".into(),
                        }
                        .into_active_model(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
                    term_id
                }
            };
            service_taxonomy::Entity::insert(
                service_taxonomy::Model { service_id: id.0, taxonomy_term_id: term }.into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        if let Some(place) = new.place {
            let location_id = Uuid::now_v7();
            location::Entity::insert(
                location::Model {
                    id: location_id,
                    organisation_id: org.id.0,
                    name: place.name,
                    address: None,
                    postcode: place.postcode.map(String::from),
                    latitude: place.latitude,
                    longitude: place.longitude,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
            service_at_location::Entity::insert(
                service_at_location::Model { id: Uuid::now_v7(), service_id: id.0, location_id }.into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        if let Some(c) = new.capacity {
            service_capacity::Entity::insert(
                service_capacity::Model {
                    service_id: id.0,
                    available: c.available,
                    maximum: c.maximum,
                    unit: c.unit,
                    status: c.status,
                    updated_at: c.updated_at,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        self.service(id).await
    }

    /// One service.
    pub async fn service(&self, id: ServiceId) -> Result<Service, StoreError> {
        let row = service::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        Ok(self.with_details(vec![row]).await?.remove(0))
    }

    /// Every active service, by name.
    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let rows = service::Entity::find()
            .filter(service::Column::Status.eq("active"))
            .order_by_asc(service::Column::Name)
            .all(&self.db)
            .await?;
        self.with_details(rows).await
    }

    async fn with_details(&self, rows: Vec<service::Model>) -> Result<Vec<Service>, StoreError> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let terms: std::collections::HashMap<Uuid, String> =
            taxonomy_term::Entity::find().all(&self.db).await?.into_iter().map(|t| (t.id, t.code)).collect();
        let tags = service_taxonomy::Entity::find()
            .filter(service_taxonomy::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?;
        let capacities = service_capacity::Entity::find()
            .filter(service_capacity::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?;
        let links = service_at_location::Entity::find()
            .filter(service_at_location::Column::ServiceId.is_in(ids))
            .all(&self.db)
            .await?;
        let locations: std::collections::HashMap<Uuid, location::Model> = location::Entity::find()
            .filter(location::Column::Id.is_in(links.iter().map(|l| l.location_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| Service {
                id: ServiceId(r.id),
                organisation: OrganisationId(r.organisation_id),
                taxonomy: tags
                    .iter()
                    .filter(|t| t.service_id == r.id)
                    .filter_map(|t| terms.get(&t.taxonomy_term_id).cloned())
                    .collect(),
                places: links
                    .iter()
                    .filter(|l| l.service_id == r.id)
                    .filter_map(|l| locations.get(&l.location_id))
                    .map(|l| Place {
                        name: l.name.clone(),
                        postcode: l.postcode.as_deref().and_then(|p| Postcode::parse(p).ok()),
                        latitude: l.latitude,
                        longitude: l.longitude,
                    })
                    .collect(),
                capacity: capacities.iter().find(|c| c.service_id == r.id).map(|c| Capacity {
                    available: c.available,
                    maximum: c.maximum,
                    unit: c.unit.clone(),
                    status: c.status.clone(),
                    updated_at: c.updated_at,
                }),
                name: r.name,
                description: r.description,
                email: r.email,
                status: r.status,
                min_age: r.min_age,
                max_age: r.max_age,
                eligibility: r.eligibility_description,
                schedule: r.schedule_description,
            })
            .collect())
    }
}
