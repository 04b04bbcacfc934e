//! Matching: the active services that fit a person, filtered in SQL, scored by the domain's
//! [`assess`](trellis_domain::directory::assess), and built with the read loaders.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use trellis_domain::directory::{self as rules, Candidate, CapacityStatus, CapacityView, Coordinates, ServiceStatus};
use uuid::Uuid;

use super::{ServiceMatch, ServiceSearch};
use crate::entity::{location, service, service_at_location, service_capacity, service_taxonomy, taxonomy_term};
use crate::{Store, StoreError};

impl Store {
    /// Active services ranked by how well they fit a person, best first, each with its reasons.
    ///
    /// SQL narrows the candidates (status, the needs' taxonomy terms, age, a latitude/longitude box
    /// around the radius, open capacity when asked), so only those are loaded and scored.
    pub async fn find_services(&self, search: &ServiceSearch) -> Result<Vec<ServiceMatch>, StoreError> {
        let request = &search.request;
        let codes: Vec<&str> = request.needs.iter().flat_map(|n| rules::terms_for(*n).iter().copied()).collect();
        let terms: Vec<Uuid> = taxonomy_term::Entity::find()
            .filter(taxonomy_term::Column::Code.is_in(codes))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        if terms.is_empty() {
            return Ok(vec![]);
        }
        let tagged = Query::select()
            .column(service_taxonomy::Column::ServiceId)
            .from(service_taxonomy::Entity)
            .and_where(service_taxonomy::Column::TaxonomyTermId.is_in(terms))
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

        // The same loaders as every read of services: the candidates' details are loaded once, scored,
        // and the best become the services returned, with nothing read twice.
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut details = self.details_of(&ids).await?;
        let mut fits = Vec::new();
        for row in rows {
            let distance_km = search.near.and_then(|near| {
                details
                    .places
                    .get(&row.id)?
                    .iter()
                    .filter_map(|p| Some(Coordinates { latitude: p.latitude?, longitude: p.longitude? }))
                    .map(|p| near.distance_km(&p))
                    .min_by(|a, b| a.total_cmp(b))
            });
            let capacity = details.capacities.get(&row.id).map(|c| CapacityView {
                available: c.available,
                unit: c.unit.clone(),
                status: c.status,
                age_days: Ord::max((search.now - c.updated_at).num_days(), 0),
                stale: self.policy.capacity_stale(c.updated_at, search.now),
            });
            let candidate = Candidate {
                taxonomy: details.taxonomy.get(&row.id).cloned().unwrap_or_default(),
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
        fits.into_iter()
            .map(|(row, distance_km, fit)| {
                Ok(ServiceMatch {
                    service: details.service(row)?,
                    score: fit.score,
                    distance_km: distance_km.map(|d| (d * 100.0).round() / 100.0),
                    needs_met: fit.needs_met,
                    reasons: fit.reasons,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

    use chrono::Utc;
    use sea_orm::TransactionTrait;
    use trellis_domain::directory::MatchRequest;
    use trellis_domain::values::Need;

    use super::*;
    use crate::directory::rows::{
        LocationRow, ServiceRow, TermSpec, insert_service_row, set_capacity, set_locations, set_taxonomy,
    };
    use crate::directory::{Capacity, Place};
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
                let capacity = Capacity {
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
