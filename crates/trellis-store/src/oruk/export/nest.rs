//! Services built from their rows, fully nested as ORUK 3.0 has them: organisation, services at
//! locations with their location and address, schedule, attributes with their taxonomy terms, contact
//! and capacity. A few queries for a whole page, whatever its size.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::taxonomy::term_of;
use crate::entity::{location, organisation, service, service_capacity, service_taxonomy, taxonomy_term};
use crate::oruk::wire::*;
use crate::{Store, StoreError};

/// A location as ORUK has it, with its address where Trellis has an address line or a postcode.
pub(super) fn location_of(l: &location::Model) -> Location {
    let address = (l.address.is_some() || l.postcode.is_some()).then(|| Address {
        id: derived_id(l.id, "address"),
        location_id: l.id,
        address_1: l.address.clone().unwrap_or_default(),
        city: String::new(),
        state_province: String::new(),
        postal_code: l.postcode.clone().unwrap_or_default(),
        country: "GB".into(),
        address_type: "physical".into(),
    });
    Location {
        id: l.id,
        location_type: "physical".into(),
        name: l.name.clone(),
        latitude: l.latitude,
        longitude: l.longitude,
        addresses: address.into_iter().collect(),
    }
}

fn capacity_of(c: &service_capacity::Model) -> Capacity {
    Capacity {
        id: derived_id(c.service_id, "capacity"),
        service_id: c.service_id,
        available: c.available,
        maximum: c.maximum,
        unit: Unit { id: derived_id(Uuid::nil(), &format!("unit:{}", c.unit)), name: c.unit.clone() },
        updated: c.updated_at,
        status: c.status.clone(),
    }
}

impl Store {
    /// Nests each service row, keeping their order.
    pub(super) async fn nest(&self, rows: Vec<service::Model>) -> Result<Vec<Service>, StoreError> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let organisations: HashMap<Uuid, organisation::Model> = organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(rows.iter().map(|r| r.organisation_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
        let tags = service_taxonomy::Entity::find()
            .filter(service_taxonomy::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?;
        let terms: HashMap<Uuid, taxonomy_term::Model> = taxonomy_term::Entity::find()
            .filter(taxonomy_term::Column::Id.is_in(tags.iter().map(|t| t.taxonomy_term_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let capacities: HashMap<Uuid, service_capacity::Model> = service_capacity::Entity::find()
            .filter(service_capacity::Column::ServiceId.is_in(ids.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.service_id, c))
            .collect();
        let (links, locations) = self.service_locations(ids).await?;

        let mut services = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(o) = organisations.get(&r.organisation_id) else {
                return Err(StoreError::Corrupt("services.organisation_id"));
            };
            let mut attributes: Vec<Attribute> = tags
                .iter()
                .filter(|t| t.service_id == r.id)
                .filter_map(|t| terms.get(&t.taxonomy_term_id))
                .map(|t| Attribute {
                    id: derived_id(r.id, &format!("attribute:{}", t.id)),
                    link_id: r.id,
                    link_type: "service".into(),
                    link_entity: "service".into(),
                    taxonomy_term_id: t.id,
                    taxonomy_term: term_of(t),
                })
                .collect();
            attributes.sort_by(|a, b| (&a.taxonomy_term.code, a.id).cmp(&(&b.taxonomy_term.code, b.id)));
            let service_at_locations = links
                .iter()
                .filter(|l| l.service_id == r.id)
                .filter_map(|link| {
                    let l = locations.get(&link.location_id)?;
                    Some(ServiceAtLocation {
                        id: link.id,
                        service_id: r.id,
                        location_id: l.id,
                        location: location_of(l),
                        service: None,
                    })
                })
                .collect();
            services.push(Service {
                id: r.id,
                organization_id: o.id,
                organization: Organization {
                    id: o.id,
                    name: o.name.clone(),
                    description: String::new(),
                    email: o.email.clone(),
                },
                name: r.name,
                description: r.description,
                url: r.url,
                contacts: r
                    .email
                    .iter()
                    .map(|email| Contact { id: derived_id(r.id, "contact"), service_id: r.id, email: email.clone() })
                    .collect(),
                email: r.email,
                status: r.status,
                minimum_age: r.min_age,
                maximum_age: r.max_age,
                eligibility_description: r.eligibility_description,
                service_at_locations,
                schedules: r
                    .schedule_description
                    .map(|description| Schedule { id: derived_id(r.id, "schedule"), service_id: r.id, description })
                    .into_iter()
                    .collect(),
                attributes,
                capacities: capacities.get(&r.id).map(capacity_of).into_iter().collect(),
            });
        }
        Ok(services)
    }
}
