//! The directory as its managers look through it: every service, listed or not, a page at a time, by
//! name, narrowed by a name search and a provider; the providers a person may add services for; and one
//! service opened to be changed.
//!
//! A page is one query with `LIMIT n + 1` ordered by `(name, id)` and continued after the last row's
//! name and id (keyset paging: a later page costs what the first does, and a service added meanwhile
//! neither repeats nor skips a row); only that page's taxonomy, places and capacity are then loaded.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use trellis_domain::directory as rules;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::{Actor, DomainError, OrganisationId, ServiceId};

use crate::accounts::Organisation;
use crate::directory::Service;
use crate::entity::{organisation, service};
use crate::{Store, StoreError};

/// Which services a directory page shows.
#[derive(Clone, Debug, Default)]
pub struct ServiceListFilter {
    /// Part of the name, any case; empty is every name.
    pub search: Option<String>,
    /// Only this provider's services.
    pub organisation: Option<OrganisationId>,
    /// Continue after this service (the last of the page before).
    pub after: Option<ServiceId>,
    /// How many to a page.
    pub limit: u64,
}

/// One page of services.
#[derive(Clone, Debug)]
pub struct ServiceListPage {
    /// The services, by name.
    pub services: Vec<Service>,
    /// Whether more follow the last.
    pub has_next: bool,
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl Store {
    /// A page of the directory, listed services and unlisted alike. The directory is not personal data:
    /// anyone signed in may read it, as through GraphQL's `service`.
    pub async fn service_list(&self, filter: &ServiceListFilter) -> Result<ServiceListPage, StoreError> {
        let mut query = service::Entity::find();
        if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            query = query.filter(
                Expr::expr(Func::lower(Expr::col(service::Column::Name))).like(LikeExpr::new(pattern).escape('\\')),
            );
        }
        if let Some(org) = filter.organisation {
            query = query.filter(service::Column::OrganisationId.eq(org.0));
        }
        if let Some(after) = filter.after {
            // An unknown cursor (a service removed meanwhile, or a made-up id) starts from the beginning.
            if let Some(last) = service::Entity::find_by_id(after.0).one(&self.db).await? {
                query = query.filter(Condition::any().add(service::Column::Name.gt(last.name.clone())).add(
                    Condition::all().add(service::Column::Name.eq(last.name)).add(service::Column::Id.gt(last.id)),
                ));
            }
        }
        let limit = Ord::max(filter.limit, 1);
        let mut rows = query
            .order_by_asc(service::Column::Name)
            .order_by_asc(service::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        Ok(ServiceListPage { services: self.with_details(rows).await?, has_next })
    }

    /// Every provider organisation, by name.
    pub async fn provider_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        organisation::Entity::find()
            .filter(organisation::Column::Kind.eq(OrganisationKind::Provider.as_str()))
            .order_by_asc(organisation::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Organisation::try_from)
            .collect()
    }

    /// The providers `actor` may add services for (the domain's
    /// [`may_manage_services`](rules::may_manage_services)): every one for the network lead, its own for
    /// a provider, none for anyone else.
    pub async fn providers_managed_by(&self, actor: &Actor) -> Result<Vec<Organisation>, StoreError> {
        let mut providers = self.provider_organisations().await?;
        providers.retain(|o| rules::may_manage_services(actor, o.id));
        Ok(providers)
    }

    /// One service, opened to be changed: `Forbidden` unless `actor` may manage it, `NotFound` if there is
    /// none.
    pub async fn service_to_manage(&self, actor: &Actor, id: ServiceId) -> Result<Service, StoreError> {
        let service = self.service(id).await?;
        if !rules::may_manage_services(actor, service.organisation) {
            return Err(StoreError::Domain(DomainError::Forbidden {
                role: actor.role,
                action: "manage another organisation's services",
            }));
        }
        Ok(service)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

    use chrono::Utc;

    use super::*;
    use crate::testing::Fixture;

    async fn add(store: &Store, f: &Fixture, name: &str) -> Service {
        let new = crate::testing::plain_service(f.provider.id, name, "A service.", "befriending");
        store.create_service(new, Utc::now()).await.unwrap()
    }

    crate::both_databases!(
        pages_of_the_directory_follow_on_by_name_with_none_repeated_or_skipped,
        |store: Store| async move {
            let f = Fixture::create(&store).await;
            for i in 0..7 {
                // Two services share each name, so the id breaks the tie.
                add(&store, &f, &format!("Group {}", i / 2)).await;
            }
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let filter = ServiceListFilter { after, limit: 3, ..Default::default() };
                let page = store.service_list(&filter).await.unwrap();
                assert!(page.services.len() <= 3);
                seen.extend(page.services.iter().map(|s| (s.name.clone(), s.id)));
                after = page.services.last().map(|s| s.id);
                if !page.has_next {
                    break;
                }
            }
            let mut sorted = seen.clone();
            sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.0.cmp(&b.1.0)));
            assert_eq!(seen, sorted, "by name, then id");
            assert_eq!(seen.len(), 8, "the seven added and the fixture's walking group, each once");
        }
    );

    crate::both_databases!(
        a_name_search_is_any_case_and_literal_and_a_provider_narrows_it,
        |store: Store| async move {
            let f = Fixture::create(&store).await;
            add(&store, &f, "Coffee 100% club").await;
            add(&store, &f, "Coffee morning").await;
            let find = |search: &str, organisation| ServiceListFilter {
                search: Some(search.into()),
                organisation,
                limit: 50,
                ..Default::default()
            };
            let names = |page: ServiceListPage| page.services.into_iter().map(|s| s.name).collect::<Vec<_>>();
            assert_eq!(
                names(store.service_list(&find("COFFEE", None)).await.unwrap()),
                ["Coffee 100% club", "Coffee morning"]
            );
            assert_eq!(names(store.service_list(&find("100%", None)).await.unwrap()), ["Coffee 100% club"]);
            assert!(names(store.service_list(&find("0% c", Some(f.practice.id))).await.unwrap()).is_empty());
            assert_eq!(
                names(store.service_list(&find("0% c", Some(f.provider.id))).await.unwrap()),
                ["Coffee 100% club"]
            );
        }
    );

    crate::both_databases!(only_a_manager_may_open_a_service_to_change_it, |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lead = Fixture::actor(&f.network_lead);
        let gp = Fixture::actor(&f.gp);
        assert_eq!(store.service_to_manage(&lead, f.walking_group.id).await.unwrap().id, f.walking_group.id);
        assert!(matches!(
            store.service_to_manage(&gp, f.walking_group.id).await,
            Err(StoreError::Domain(DomainError::Forbidden { .. }))
        ));
        assert_eq!(store.providers_managed_by(&lead).await.unwrap().len(), 1);
        assert!(store.providers_managed_by(&gp).await.unwrap().is_empty());
    });
}
