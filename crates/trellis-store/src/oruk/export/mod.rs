//! The directory as ORUK 3.0: pages of services (filtered as the profile's `/services` parameters ask)
//! and services at locations, each fully nested, and single ones by id. Only active services are
//! served: an inactive one is kept for its history, not offered, so it is not public.
//!
//! Everything is ordered by id, and parts without rows of their own get derived ids, so the same
//! directory is always the same document (export → import elsewhere → export gives it again).
//!
//! # Layout
//!
//! - `nest`: services built from their rows, fully nested, a few queries per page;
//! - `taxonomy`: taxonomies (one per vocabulary) and taxonomy terms.

mod nest;
mod taxonomy;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};
use trellis_domain::ServiceId;
use trellis_domain::directory::ServiceStatus;
use uuid::Uuid;

use super::MAX_PER_PAGE;
use super::wire::{Page, Service, ServiceAtLocation};
use crate::entity::{service, service_at_location, service_taxonomy, taxonomy_term};
use crate::{Store, StoreError};

/// What `GET /services` narrows the directory to; every part left `None` leaves it wide.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceFilter {
    /// Words in the service's name or description (any case).
    pub search: Option<String>,
    /// Services with this taxonomy term.
    pub taxonomy_term_id: Option<Uuid>,
    /// Services with any term of this taxonomy.
    pub taxonomy_id: Option<Uuid>,
    /// Services whose minimum age is at least this (a service without one has none, so 0).
    pub minimum_age: Option<i32>,
    /// Services whose maximum age is at most this (a service without one takes any age, so none match).
    pub maximum_age: Option<i32>,
}

/// `(page, per_page)` made sensible: pages from 1, at most [`MAX_PER_PAGE`] to a page.
fn paging(page: u64, per_page: u64) -> (u64, u64) {
    (Ord::max(page, 1), Ord::clamp(per_page, 1, MAX_PER_PAGE))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn active() -> Condition {
    Condition::all().add(service::Column::Status.eq(ServiceStatus::Active.as_str()))
}

impl Store {
    /// The active services `filter` asks for, as a query.
    async fn filtered(&self, filter: &ServiceFilter) -> Result<Select<service::Entity>, StoreError> {
        let mut wanted = active();
        if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            let like = |column: service::Column| {
                Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()).escape('\\'))
            };
            wanted =
                wanted.add(Condition::any().add(like(service::Column::Name)).add(like(service::Column::Description)));
        }
        let mut terms: Option<Vec<Uuid>> = filter.taxonomy_term_id.map(|t| vec![t]);
        if let Some(taxonomy) = filter.taxonomy_id {
            let vocabulary = self.vocabulary_of(taxonomy).await?;
            let of_taxonomy: Vec<Uuid> = match vocabulary {
                Some(v) => taxonomy_term::Entity::find()
                    .filter(taxonomy_term::Column::Vocabulary.eq(v))
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|t| t.id)
                    .filter(|id| terms.as_ref().is_none_or(|wanted| wanted.contains(id)))
                    .collect(),
                None => vec![],
            };
            terms = Some(of_taxonomy);
        }
        if let Some(terms) = terms {
            let tagged = Query::select()
                .column(service_taxonomy::Column::ServiceId)
                .from(service_taxonomy::Entity)
                .and_where(service_taxonomy::Column::TaxonomyTermId.is_in(terms))
                .to_owned();
            wanted = wanted.add(service::Column::Id.in_subquery(tagged));
        }
        if let Some(age) = filter.minimum_age.filter(|age| *age > 0) {
            wanted = wanted.add(service::Column::MinAge.gte(age));
        }
        if let Some(age) = filter.maximum_age {
            wanted = wanted.add(service::Column::MaxAge.lte(age));
        }
        Ok(service::Entity::find().filter(wanted))
    }

    /// One page of the active services `filter` asks for, in id order, fully nested; `page` counts
    /// from 1.
    pub async fn oruk_services(
        &self,
        filter: &ServiceFilter,
        page: u64,
        per_page: u64,
    ) -> Result<Page<Service>, StoreError> {
        let (page, per_page) = paging(page, per_page);
        let query = self.filtered(filter).await?;
        let total_items = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(service::Column::Id)
            .offset((page - 1).saturating_mul(per_page))
            .limit(per_page)
            .all(&self.db)
            .await?;
        Ok(Page::new(self.nest(rows).await?, total_items, page, per_page))
    }

    /// One active service, fully nested.
    pub async fn oruk_service(&self, id: ServiceId) -> Result<Service, StoreError> {
        let row = service::Entity::find_by_id(id.0).filter(active()).one(&self.db).await?;
        self.nest(row.into_iter().collect()).await?.pop().ok_or(StoreError::NotFound)
    }

    /// One page of the places where the active services `filter` asks for happen, in id order, each
    /// with its location and its service; `page` counts from 1.
    pub async fn oruk_services_at_locations(
        &self,
        filter: &ServiceFilter,
        page: u64,
        per_page: u64,
    ) -> Result<Page<ServiceAtLocation>, StoreError> {
        let (page, per_page) = paging(page, per_page);
        let services = self.filtered(filter).await?.select_only().column(service::Column::Id).into_query();
        let query =
            service_at_location::Entity::find().filter(service_at_location::Column::ServiceId.in_subquery(services));
        let total_items = query.clone().count(&self.db).await?;
        let links = query
            .order_by_asc(service_at_location::Column::Id)
            .offset((page - 1).saturating_mul(per_page))
            .limit(per_page)
            .all(&self.db)
            .await?;
        Ok(Page::new(self.standing_alone(links).await?, total_items, page, per_page))
    }

    /// One place where an active service happens, with its location and its service.
    pub async fn oruk_service_at_location(&self, id: Uuid) -> Result<ServiceAtLocation, StoreError> {
        let link = service_at_location::Entity::find_by_id(id).one(&self.db).await?;
        self.standing_alone(link.into_iter().collect()).await?.pop().ok_or(StoreError::NotFound)
    }

    /// Services at locations on their own: each with its location, and its service nested but for
    /// its locations. Those of inactive services are left out.
    async fn standing_alone(
        &self,
        links: Vec<service_at_location::Model>,
    ) -> Result<Vec<ServiceAtLocation>, StoreError> {
        let ids: Vec<Uuid> = links.iter().map(|l| l.service_id).collect();
        let rows = service::Entity::find()
            .filter(active())
            .filter(service::Column::Id.is_in(ids))
            .order_by_asc(service::Column::Id)
            .all(&self.db)
            .await?;
        let services = self.nest(rows).await?;
        Ok(links
            .into_iter()
            .filter_map(|link| {
                let service = services.iter().find(|s| s.id == link.service_id)?;
                let mut at = service.service_at_locations.iter().find(|s| s.id == link.id)?.clone();
                let mut alone = service.clone();
                alone.service_at_locations = vec![];
                at.service = Some(Box::new(alone));
                Some(at)
            })
            .collect())
    }
}
