//! Exporting the directory as ORUK `/services` pages, in the same shape the import reads, so export →
//! import reproduces it.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Number;
use trellis_domain::ServiceId;
use uuid::Uuid;

use super::MAX_PER_PAGE;
use super::wire::*;
use crate::entity::{organisation, service, service_capacity, service_taxonomy, taxonomy_term};
use crate::{Store, StoreError};

impl Store {
    /// One page of the directory as ORUK `/services`, services in id order; `page` counts from 1.
    pub async fn oruk_services(&self, page: u64, per_page: u64) -> Result<Page<OrukService>, StoreError> {
        let (page, per_page) = (Ord::max(page, 1), Ord::clamp(per_page, 1, MAX_PER_PAGE));
        let total_items = service::Entity::find().count(&self.db).await?;
        let rows = service::Entity::find()
            .order_by_asc(service::Column::Id)
            .offset((page - 1).saturating_mul(per_page))
            .limit(per_page)
            .all(&self.db)
            .await?;
        let content = self.oruk_of(rows).await?;
        let total_pages = total_items.div_ceil(per_page);
        Ok(Page {
            total_items,
            total_pages,
            number: page,
            size: per_page,
            first_page: page == 1,
            last_page: page >= total_pages,
            empty: content.is_empty(),
            content,
        })
    }

    /// One service as ORUK nests it.
    pub async fn oruk_service(&self, id: ServiceId) -> Result<OrukService, StoreError> {
        let row = service::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        self.oruk_of(vec![row]).await?.pop().ok_or(StoreError::NotFound)
    }

    async fn oruk_of(&self, rows: Vec<service::Model>) -> Result<Vec<OrukService>, StoreError> {
        use std::collections::HashMap;

        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let organisations: HashMap<Uuid, organisation::Model> = organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(rows.iter().map(|r| r.organisation_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let terms: HashMap<Uuid, taxonomy_term::Model> =
            taxonomy_term::Entity::find().all(&self.db).await?.into_iter().map(|t| (t.id, t)).collect();
        let tags = service_taxonomy::Entity::find()
            .filter(service_taxonomy::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?;
        let capacities: HashMap<Uuid, service_capacity::Model> = service_capacity::Entity::find()
            .filter(service_capacity::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.service_id, c))
            .collect();
        let (links, locations) = self.service_locations(ids).await?;

        Ok(rows
            .into_iter()
            .map(|r| {
                let mut taxonomy: Vec<OrukTaxonomyTerm> = tags
                    .iter()
                    .filter(|t| t.service_id == r.id)
                    .filter_map(|t| terms.get(&t.taxonomy_term_id))
                    .map(|t| OrukTaxonomyTerm {
                        id: t.id.to_string(),
                        code: Some(t.code.clone()),
                        name: t.name.clone(),
                        vocabulary: Some(t.vocabulary.clone()),
                    })
                    .collect();
                taxonomy.sort_by(|a, b| a.code.cmp(&b.code));
                let service_at_locations = links
                    .iter()
                    .filter(|l| l.service_id == r.id)
                    .filter_map(|link| {
                        let l = locations.get(&link.location_id)?;
                        let address = (l.address.is_some() || l.postcode.is_some()).then(|| OrukAddress {
                            address_1: l.address.clone(),
                            city: None,
                            postal_code: l.postcode.clone(),
                            country: Some("GB".into()),
                        });
                        Some(OrukServiceAtLocation {
                            id: link.id.to_string(),
                            location: OrukLocation {
                                id: l.id.to_string(),
                                name: Some(l.name.clone()),
                                postcode: None,
                                latitude: l.latitude,
                                longitude: l.longitude,
                                physical_addresses: address.into_iter().collect(),
                                addresses: vec![],
                            },
                        })
                    })
                    .collect();
                let eligibilitys = if r.min_age.is_some() || r.max_age.is_some() || r.eligibility_description.is_some()
                {
                    vec![OrukEligibility {
                        eligibility: r.eligibility_description.clone(),
                        minimum_age: r.min_age.map(Number::from),
                        maximum_age: r.max_age.map(Number::from),
                    }]
                } else {
                    vec![]
                };
                let capacities = capacities
                    .get(&r.id)
                    .map(|c| OrukCapacity {
                        id: c.service_id.to_string(),
                        available: Some(Number::from(c.available)),
                        maximum: Some(Number::from(c.maximum)),
                        unit: Some(OrukUnit { id: c.unit.clone(), name: c.unit.clone() }),
                        updated: Some(c.updated_at),
                        status: Some(c.status.clone()),
                    })
                    .into_iter()
                    .collect();
                let organization = organisations.get(&r.organisation_id).map(|o| OrukOrganization {
                    id: o.id.to_string(),
                    name: o.name.clone(),
                    description: String::new(),
                    email: o.email.clone(),
                    website: None,
                });
                OrukService {
                    id: r.id.to_string(),
                    name: r.name,
                    description: Some(r.description),
                    url: r.url,
                    email: r.email,
                    status: Some(r.status),
                    minimum_age: r.min_age.map(Number::from),
                    maximum_age: r.max_age.map(Number::from),
                    eligibility_description: r.eligibility_description,
                    organization,
                    service_at_locations,
                    taxonomy_terms: taxonomy,
                    service_taxonomys: vec![],
                    attributes: vec![],
                    eligibilitys,
                    regular_schedules: r
                        .schedule_description
                        .map(|d| OrukSchedule { description: Some(d), ..OrukSchedule::default() })
                        .into_iter()
                        .collect(),
                    schedules: vec![],
                    capacities,
                }
            })
            .collect())
    }
}
