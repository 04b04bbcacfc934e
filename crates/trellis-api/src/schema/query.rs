//! Queries: what each role may read.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ErrorExtensions, ID, Object};
use chrono::Utc;
use trellis_domain::Role;
use trellis_domain::access::ReferralScope;
use trellis_store::Store;
use trellis_store::audit::AuditFilter;
use trellis_store::referrals::ReferralFilter;

use super::inputs::{self, AuditLogFilterInput, ReferralFilterInput};
use super::types::{AuditEntry, Me, Offer, Organisation, ProviderOffer, Referral, Service, User};
use crate::ApiSettings;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// The root of every read.
#[derive(Default)]
pub struct Query;

/// The rows a list may hold when the request does not say (`first` absent, or a list with no `first`,
/// whose size is estimated as one page).
pub(super) const DEFAULT_PAGE: usize = 20;

/// What a list field costs towards the request's complexity limit: its children once per row it may
/// return, so `first: 100` costs a hundred times a row, not once. `first` out of range is refused by
/// the resolver anyway; here it only has to be bounded.
pub(super) fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.map_or(DEFAULT_PAGE, |n| usize::try_from(n.clamp(1, 1000)).unwrap_or(DEFAULT_PAGE));
    rows.saturating_mul(child_complexity).saturating_add(1)
}

fn page_size(ctx: &Context<'_>, first: Option<i32>) -> ApiResult<u64> {
    let max = ctx.data::<std::sync::Arc<ApiSettings>>()?.max_page_size;
    match first {
        None => Ok(20),
        Some(n) if n >= 1 && (n as usize) <= max => Ok(n as u64),
        Some(n) => Err(ApiError::Validation(trellis_domain::values::ValueError::new(
            "first",
            n.to_string(),
            "must be between 1 and the maximum page size",
        ))
        .extend()),
    }
}

#[Object(name = "JourneyQuery")]
impl Query {
    /// The caller: user, role and organisation.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Me> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        Ok(Me { user: p.user.clone().into(), organisation: p.organisation.clone().into() })
    }

    /// Referrals in the caller's scope, newest first: a practice's own referrals, or a link worker
    /// service's caseload. Keyset-paginated; each person listed is audited.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ReferralFilterInput>,
    ) -> ApiResult<Connection<String, Referral, EmptyFields, EmptyFields>> {
        let actor = ctx.data::<Caller>()?.require(&[Role::GpPractice, Role::LinkWorker], "list referrals").api()?;
        let scope = ReferralScope::of(&actor).ok_or(ApiError::Forbidden("list referrals".into())).api()?;
        let limit = page_size(ctx, first)?;
        let filter = filter.unwrap_or_default();
        let now = Utc::now();
        let query = ReferralFilter {
            scope,
            statuses: filter.statuses.unwrap_or_default().into_iter().map(Into::into).collect(),
            need: filter.need.map(Into::into),
            assigned_to: filter
                .assigned_to_id
                .as_ref()
                .map(|id| inputs::user_id("assignedToId", id))
                .transpose()
                .api()?,
            overdue_at: filter.overdue.unwrap_or(false).then_some(now),
            search: filter.search,
            before: after.map(|c| inputs::parse_id("after", &ID(c))).transpose().api()?,
            limit,
        };
        let page = ctx.data::<Store>()?.referral_page(&actor, &query, now).await.api()?;
        let mut connection = Connection::new(query.before.is_some(), page.has_next);
        connection.edges.extend(page.records.into_iter().map(|r| Edge::new(r.state.id.to_string(), Referral(r))));
        Ok(connection)
    }

    /// One referral with its history and offers, if the caller may read it (audited).
    async fn referral(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Referral> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = inputs::referral_id(&id).api()?;
        let record = ctx.data::<Store>()?.referral(&actor, id, Utc::now()).await.api()?;
        Ok(Referral(record))
    }

    /// One offer, for the link worker service that made it or the provider it went to.
    async fn offer(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Offer> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = inputs::offer_id(&id).api()?;
        Ok(Offer(ctx.data::<Store>()?.offer(&actor, id).await.api()?))
    }

    /// The offers made to the caller's provider organisation, newest first. Keyset-paginated; each
    /// accepted offer's contact details shown is audited.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn provider_offers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, ProviderOffer, EmptyFields, EmptyFields>> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Provider], "see provider offers").api()?;
        let limit = page_size(ctx, first)?;
        let before = after.map(|c| inputs::offer_id(&ID(c))).transpose().api()?;
        let page = ctx.data::<Store>()?.offers_for_provider(&actor, before, limit).await.api()?;
        let mut connection = Connection::new(before.is_some(), page.has_next);
        connection.edges.extend(page.offers.into_iter().map(|o| {
            let offer = ProviderOffer::from(o);
            Edge::new(offer.offer_id().to_string(), offer)
        }));
        Ok(connection)
    }

    /// The directory's active services.
    #[graphql(complexity = "page_cost(None, child_complexity)")]
    async fn services(&self, ctx: &Context<'_>) -> ApiResult<Vec<Service>> {
        ctx.data::<Caller>()?.actor().api()?;
        Ok(ctx.data::<Store>()?.services().await.api()?.into_iter().map(Into::into).collect())
    }

    /// Every organisation (network lead, admin), or the caller's own.
    #[graphql(complexity = "page_cost(None, child_complexity)")]
    async fn organisations(&self, ctx: &Context<'_>) -> ApiResult<Vec<Organisation>> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        if matches!(p.user.role, Role::NetworkLead | Role::Admin) {
            Ok(ctx.data::<Store>()?.organisations().await.api()?.into_iter().map(Into::into).collect())
        } else {
            Ok(vec![p.organisation.clone().into()])
        }
    }

    /// The users of an organisation: an admin's or network lead's view of any, anyone else's of their own.
    #[graphql(complexity = "page_cost(None, child_complexity)")]
    async fn users(&self, ctx: &Context<'_>, organisation_id: Option<ID>) -> ApiResult<Vec<User>> {
        let p = ctx.data::<Caller>()?.principal().api()?;
        let org = match organisation_id {
            Some(id) => inputs::organisation_id("organisationId", &id).api()?,
            None => p.organisation.id,
        };
        if org != p.organisation.id && !matches!(p.user.role, Role::NetworkLead | Role::Admin) {
            return Err(ApiError::NotFound.extend());
        }
        Ok(ctx.data::<Store>()?.users_of(org).await.api()?.into_iter().map(Into::into).collect())
    }

    /// The audit log, newest first (network lead, admin).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditLogFilterInput>,
    ) -> ApiResult<Connection<String, AuditEntry, EmptyFields, EmptyFields>> {
        ctx.data::<Caller>()?.require(&[Role::NetworkLead, Role::Admin], "read the audit log").api()?;
        let limit = page_size(ctx, first)?;
        let filter = filter.unwrap_or_default();
        let query = AuditFilter {
            referral: filter.referral_id.as_ref().map(inputs::referral_id).transpose().api()?,
            actor: filter.actor_user_id.as_ref().map(|id| inputs::user_id("actorUserId", id)).transpose().api()?,
            from: filter.from,
            until: filter.until,
            before: after.map(|c| inputs::parse_id::<uuid::Uuid>("after", &ID(c))).transpose().api()?,
            limit: limit + 1,
        };
        let mut rows = ctx.data::<Store>()?.audit_log(&query).await.api()?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let mut connection = Connection::new(query.before.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|e| Edge::new(e.id.to_string(), AuditEntry::from(e))));
        Ok(connection)
    }
}
