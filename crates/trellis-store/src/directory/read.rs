//! Reading services: one, the active ones, an organisation's, where a postcode is, and the loaders that
//! give service rows their taxonomy, places and capacity (which matching reuses).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use trellis_domain::directory::{Coordinates, ServiceStatus};
use trellis_domain::values::Postcode;
use trellis_domain::{OrganisationId, ServiceId};
use uuid::Uuid;

use super::{CHUNK, Capacity, Place, Service};
use crate::convert::stored;
use crate::entity::{location, service, service_at_location, service_capacity, service_taxonomy, taxonomy_term};
use crate::{Store, StoreError};

impl Store {
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
        let mut details = self.details_of(&ids).await?;
        rows.into_iter().map(|r| details.service(r)).collect()
    }

    /// The loaders: the taxonomy codes, places and capacity of some services, a few queries per
    /// [`CHUNK`] of ids whatever their number.
    pub(super) async fn details_of(&self, ids: &[Uuid]) -> Result<Details, StoreError> {
        let terms: HashMap<Uuid, String> =
            taxonomy_term::Entity::find().all(&self.db).await?.into_iter().map(|t| (t.id, t.code)).collect();
        let mut details = Details::default();
        for chunk in ids.chunks(CHUNK) {
            for t in service_taxonomy::Entity::find()
                .filter(service_taxonomy::Column::ServiceId.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?
            {
                if let Some(code) = terms.get(&t.taxonomy_term_id) {
                    details.taxonomy.entry(t.service_id).or_default().push(code.clone());
                }
            }
            for c in service_capacity::Entity::find()
                .filter(service_capacity::Column::ServiceId.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?
            {
                details.capacities.insert(c.service_id, Capacity::try_from(c)?);
            }
            let (links, locations) = self.service_locations(chunk.iter().copied()).await?;
            for link in links {
                if let Some(l) = locations.get(&link.location_id) {
                    details.places.entry(link.service_id).or_default().push(Place {
                        name: l.name.clone(),
                        postcode: l.postcode.as_deref().and_then(|p| Postcode::parse(p).ok()),
                        latitude: l.latitude,
                        longitude: l.longitude,
                    });
                }
            }
        }
        Ok(details)
    }
}

/// What the loaders found for some services, by service id.
#[derive(Default)]
pub(super) struct Details {
    /// Taxonomy codes, in no order.
    pub taxonomy: HashMap<Uuid, Vec<String>>,
    /// Places, oldest link first.
    pub places: HashMap<Uuid, Vec<Place>>,
    /// Capacity, where a service has said.
    pub capacities: HashMap<Uuid, Capacity>,
}

impl Details {
    /// The service of `row`, with its details taken out of these.
    pub(super) fn service(&mut self, r: service::Model) -> Result<Service, StoreError> {
        let mut taxonomy = self.taxonomy.remove(&r.id).unwrap_or_default();
        taxonomy.sort();
        Ok(Service {
            id: ServiceId(r.id),
            organisation: OrganisationId(r.organisation_id),
            taxonomy,
            places: self.places.remove(&r.id).unwrap_or_default(),
            capacity: self.capacities.remove(&r.id),
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
    }
}
