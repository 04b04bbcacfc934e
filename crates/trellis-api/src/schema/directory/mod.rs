//! The directory: reading and managing services, live capacity, and matching a person's needs to
//! services. The network lead manages any provider's services; a provider its own.

use std::sync::Arc;

mod types;

use async_graphql::{Context, ErrorExtensions, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::Utc;
use trellis_domain::directory::{Coordinates, MatchRequest};
use trellis_domain::values::{self as v, ValueError};
use trellis_domain::{OrganisationId, Role};
use trellis_store::Store;
use trellis_store::directory::{ServiceChanges, ServiceSearch};

pub use self::types::{CapacityStatus, Service, ServiceMatch, ServiceStatus};
use super::common::{Need, organisation_id, page_cost, service_id};
use crate::ApiSettings;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};
use crate::service_input::{self, CapacityText, PlaceText, ServiceText};

/// A place where a service happens.
#[derive(InputObject)]
pub struct LocationInput {
    /// Its name (`West Park pavilion`).
    pub name: String,
    /// Its postcode.
    pub postcode: Option<String>,
    /// Latitude (WGS84); give both or neither.
    pub latitude: Option<f64>,
    /// Longitude (WGS84); give both or neither.
    pub longitude: Option<f64>,
}

/// A service's capacity (HSDS 3.1 `service_capacity`) as its provider states it.
#[derive(InputObject)]
pub struct CapacityInput {
    /// Places free now.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// What a place is (`places` unless said).
    pub unit: Option<String>,
    /// Whether it takes people.
    pub status: CapacityStatus,
}

/// A service to add.
#[derive(InputObject)]
pub struct CreateServiceInput {
    /// The provider organisation that runs it: required for the network lead; a provider adds to its
    /// own.
    pub organisation_id: Option<ID>,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where offers go (the organisation's address when absent).
    pub email: Option<String>,
    /// Its web page (`https://…`).
    pub url: Option<String>,
    /// Listed or not (listed unless said).
    pub status: Option<ServiceStatus>,
    /// Taxonomy term codes (see `taxonomyTerms`).
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
    pub locations: Option<Vec<LocationInput>>,
    /// Its capacity now.
    pub capacity: Option<CapacityInput>,
}

/// Changes to a service: fields left out stay as they are; `null` clears an optional one.
#[derive(InputObject)]
pub struct UpdateServiceInput {
    /// The service.
    pub service_id: ID,
    /// The `version` the change was made from: `CONFLICT` when the service has changed since.
    pub expected_version: u32,
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new email, where its offers and their links go, or `null` for the organisation's. Only an
    /// admin or the provider that runs the service may change it (the network lead gets `FORBIDDEN`);
    /// each change is audited and the old address told.
    pub email: MaybeUndefined<String>,
    /// A new web page, or `null` for none.
    pub url: MaybeUndefined<String>,
    /// Listed or not.
    pub status: Option<ServiceStatus>,
    /// The whole new set of taxonomy term codes.
    pub taxonomy: Option<Vec<String>>,
    /// A new youngest age, or `null` for none.
    pub min_age: MaybeUndefined<i32>,
    /// A new oldest age, or `null` for none.
    pub max_age: MaybeUndefined<i32>,
    /// New eligibility words, or `null`.
    pub eligibility: MaybeUndefined<String>,
    /// A new schedule, or `null`.
    pub schedule: MaybeUndefined<String>,
    /// The whole new set of places.
    pub locations: Option<Vec<LocationInput>>,
}

/// A service's capacity now.
#[derive(InputObject)]
pub struct UpdateServiceCapacityInput {
    /// The service.
    pub service_id: ID,
    /// The `version` the numbers were read at: `CONFLICT` when the service has changed since (an
    /// accepted offer took a place, or someone else set them), so no place is given back by mistake.
    pub expected_version: u32,
    /// Places free now.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// What a place is (`places` unless said).
    pub unit: Option<String>,
    /// Whether it takes people.
    pub status: CapacityStatus,
}

/// Where the person is: a postcode, or a latitude and longitude.
#[derive(InputObject)]
pub struct NearInput {
    /// A UK postcode; it is placed by the directory's own locations (the same postcode, else the same
    /// outward code).
    pub postcode: Option<String>,
    /// Latitude (WGS84).
    pub latitude: Option<f64>,
    /// Longitude (WGS84).
    pub longitude: Option<f64>,
}

/// The new service.
#[derive(SimpleObject)]
pub struct CreateServicePayload {
    /// It.
    pub service: Service,
}

/// The changed service.
#[derive(SimpleObject)]
pub struct UpdateServicePayload {
    /// It, after the change.
    pub service: Service,
}

/// The service with its new capacity.
#[derive(SimpleObject)]
pub struct UpdateServiceCapacityPayload {
    /// It, with `capacity.updatedAt` now.
    pub service: Service,
}

fn validation(field: &'static str, value: impl Into<String>, reason: &'static str) -> async_graphql::Error {
    ApiError::Validation(ValueError::new(field, value, reason)).extend()
}

/// The places as the shared parser reads them.
fn place_texts(input: &Option<Vec<LocationInput>>) -> Option<Vec<PlaceText<'_>>> {
    input.as_ref().map(|ls| {
        ls.iter()
            .map(|l| PlaceText {
                name: &l.name,
                postcode: l.postcode.as_deref(),
                latitude: l.latitude,
                longitude: l.longitude,
            })
            .collect()
    })
}

/// The first of the fields the shared parser refused (it refuses none without saying which).
fn first(errors: Vec<ValueError>) -> ValueError {
    errors.into_iter().next().unwrap_or_else(|| ValueError::new("input", "", "is not valid"))
}

fn maybe<T, U>(
    value: MaybeUndefined<T>,
    parse: impl FnOnce(T) -> Result<U, ValueError>,
) -> Result<Option<Option<U>>, ValueError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(t) => parse(t).map(|u| Some(Some(u))),
    }
}

/// Directory queries.
#[derive(Default)]
pub struct DirectoryQuery;

#[Object]
impl DirectoryQuery {
    /// The directory's active services.
    #[graphql(complexity = "page_cost(None, child_complexity)")]
    async fn services(&self, ctx: &Context<'_>) -> ApiResult<Vec<Service>> {
        ctx.data::<Caller>()?.actor().api()?;
        Ok(ctx.data::<Store>()?.services().await.api()?.into_iter().map(Into::into).collect())
    }

    /// The taxonomy terms services are tagged with.
    async fn taxonomy_terms(&self) -> Vec<String> {
        trellis_store::directory::TAXONOMY.iter().map(|(code, _)| (*code).to_owned()).collect()
    }

    /// One service, listed or not.
    async fn service(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Service> {
        ctx.data::<Caller>()?.actor().api()?;
        let id = service_id(&id).api()?;
        Ok(ctx.data::<Store>()?.service(id).await.api()?.into())
    }

    /// Every service of an organisation, listed or not (the caller's own unless one is named).
    #[graphql(complexity = "page_cost(None, child_complexity)")]
    async fn organisation_services(&self, ctx: &Context<'_>, organisation_id: Option<ID>) -> ApiResult<Vec<Service>> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        let org = match organisation_id {
            Some(id) => self::organisation_id("organisationId", &id).api()?,
            None => p.organisation.id,
        };
        Ok(ctx.data::<Store>()?.services_of(org).await.api()?.into_iter().map(Into::into).collect())
    }

    /// Active services ranked by how well they fit a person: their needs (each need is met by some
    /// taxonomy terms, the most direct counting most), how near (great-circle distance from the
    /// service's nearest location), the ages it takes and its live capacity (open > waiting list >
    /// closed or stale). Each match says why.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn find_services(
        &self,
        ctx: &Context<'_>,
        needs: Vec<Need>,
        near: Option<NearInput>,
        radius_km: Option<f64>,
        age: Option<i32>,
        #[graphql(desc = "Only services open with places free, confirmed recently (false unless said).")]
        only_with_capacity: Option<bool>,
        first: Option<i32>,
    ) -> ApiResult<Vec<ServiceMatch>> {
        ctx.data::<Caller>()?.actor().api()?;
        let settings = ctx.data::<Arc<ApiSettings>>()?;
        let store = ctx.data::<Store>()?;
        let needs = v::Need::parse_list(needs.iter().map(|n| v::Need::from(*n).as_str())).api()?;
        let limit = match first {
            None => 20,
            Some(n) if n >= 1 && (n as usize) <= settings.max_page_size => n as usize,
            Some(n) => return Err(validation("first", n.to_string(), "must be between 1 and the maximum page size")),
        };
        if let Some(r) = radius_km
            && !(r.is_finite() && r > 0.0 && r <= 500.0)
        {
            return Err(validation("radiusKm", r.to_string(), "must be more than 0 and at most 500"));
        }
        if let Some(a) = age
            && !(0..=120).contains(&a)
        {
            return Err(validation("age", a.to_string(), "must be between 0 and 120"));
        }
        let near = match near {
            None if radius_km.is_some() => {
                return Err(validation("radiusKm", "", "needs near: a place to measure from"));
            }
            None => None,
            Some(n) => Some(locate(store, n).await?),
        };
        let now = Utc::now();
        let search = ServiceSearch {
            request: MatchRequest { needs, radius_km, age, only_with_capacity: only_with_capacity.unwrap_or(false) },
            near,
            now,
            limit,
        };
        let matches = store.find_services(&search).await.api()?;
        Ok(matches
            .into_iter()
            .map(|m| ServiceMatch {
                service: m.service.into(),
                score: m.score,
                distance_km: m.distance_km,
                needs_met: m.needs_met.into_iter().map(Into::into).collect(),
                reasons: m.reasons,
            })
            .collect())
    }
}

/// Where `near` points: its coordinates, or its postcode placed by the directory's own locations.
async fn locate(store: &Store, near: NearInput) -> ApiResult<Coordinates> {
    match (near.postcode.as_deref().map(str::trim).filter(|p| !p.is_empty()), near.latitude, near.longitude) {
        (None, Some(lat), Some(lon)) => Coordinates::parse(lat, lon).api(),
        (Some(p), None, None) => {
            let postcode = v::Postcode::parse(p).api()?;
            store.locate_postcode(&postcode).await.api()?.ok_or_else(|| {
                validation(
                    "near",
                    postcode.as_str(),
                    "cannot be located: no place in the directory shares its postcode or outward code",
                )
            })
        }
        _ => Err(validation("near", "", "give either a postcode or both latitude and longitude")),
    }
}

/// Directory mutations.
#[derive(Default)]
pub struct DirectoryMutation;

#[Object]
impl DirectoryMutation {
    /// Add a service (the network lead for any provider; a provider for itself).
    async fn create_service(&self, ctx: &Context<'_>, input: CreateServiceInput) -> ApiResult<CreateServicePayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::NetworkLead, Role::Provider], "manage services").api()?;
        let organisation: OrganisationId = match (&input.organisation_id, actor.role) {
            (Some(id), _) => organisation_id("organisationId", id).api()?,
            (None, Role::Provider) => actor.organisation.ok_or(ApiError::Forbidden("manage services".into())).api()?,
            (None, _) => return Err(validation("organisationId", "", "is required")),
        };
        let text = ServiceText {
            name: &input.name,
            description: &input.description,
            email: input.email.as_deref(),
            url: input.url.as_deref(),
            status: input.status.unwrap_or(ServiceStatus::Active).into(),
            taxonomy: input.taxonomy.clone(),
            min_age: input.min_age,
            max_age: input.max_age,
            eligibility: input.eligibility.as_deref(),
            schedule: input.schedule.as_deref(),
            places: place_texts(&input.locations).unwrap_or_default(),
        };
        let details = service_input::parse_details(&text).map_err(first).api()?;
        let capacity = match &input.capacity {
            Some(c) => Some(
                service_input::parse_capacity(&CapacityText {
                    available: c.available,
                    maximum: c.maximum,
                    unit: c.unit.as_deref(),
                    status: c.status.into(),
                })
                .api()?,
            ),
            None => None,
        };
        let service =
            ctx.data::<Store>()?.add_service(&actor, organisation, details, capacity, Utc::now()).await.api()?;
        Ok(CreateServicePayload { service: service.into() })
    }

    /// Change a service (the network lead, or the provider that runs it). Its `email` only the provider
    /// or an admin may change.
    async fn update_service(&self, ctx: &Context<'_>, input: UpdateServiceInput) -> ApiResult<UpdateServicePayload> {
        let roles = [Role::NetworkLead, Role::Provider, Role::Admin];
        let actor = ctx.data::<Caller>()?.require(&roles, "manage services").api()?;
        let id = service_id(&input.service_id).api()?;
        let changes = ServiceChanges {
            name: input.name.as_deref().map(service_input::name).transpose().api()?,
            description: input.description.as_deref().map(service_input::description).transpose().api()?,
            email: maybe(input.email, |e| service_input::email(Some(&e))).api()?.map(Option::flatten),
            url: maybe(input.url, |u| service_input::url(Some(&u))).api()?.map(Option::flatten),
            status: input.status.map(Into::into),
            taxonomy: input.taxonomy,
            min_age: maybe(input.min_age, Ok).api()?,
            max_age: maybe(input.max_age, Ok).api()?,
            eligibility: maybe(input.eligibility, |e| service_input::eligibility(Some(&e))).api()?.map(Option::flatten),
            schedule: maybe(input.schedule, |s| service_input::schedule(Some(&s))).api()?.map(Option::flatten),
            places: place_texts(&input.locations).map(|p| service_input::places(&p)).transpose().api()?,
        };
        let service =
            ctx.data::<Store>()?.update_service(&actor, id, input.expected_version, changes, Utc::now()).await.api()?;
        Ok(UpdateServicePayload { service: service.into() })
    }

    /// Say how many places a service has now (the provider that runs it, or the network lead). This
    /// also confirms the numbers, so they are no longer stale.
    async fn update_service_capacity(
        &self,
        ctx: &Context<'_>,
        input: UpdateServiceCapacityInput,
    ) -> ApiResult<UpdateServiceCapacityPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::NetworkLead, Role::Provider], "update capacity").api()?;
        let id = service_id(&input.service_id).api()?;
        let update = service_input::parse_capacity(&CapacityText {
            available: input.available,
            maximum: input.maximum,
            unit: input.unit.as_deref(),
            status: input.status.into(),
        })
        .api()?;
        let service = ctx
            .data::<Store>()?
            .update_service_capacity(&actor, id, input.expected_version, update, Utc::now())
            .await
            .api()?;
        Ok(UpdateServiceCapacityPayload { service: service.into() })
    }
}
