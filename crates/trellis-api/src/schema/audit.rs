//! The audit log: who read or changed which record, when (network lead, admin); asked about one
//! referral, who saw that person's record, alone or on a listed page.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use trellis_domain::{AuditEntryId, Role};
use trellis_store::Store;
use trellis_store::audit::AuditFilter;

use super::common::{self, page_cost, page_size};
use crate::auth::Caller;
use crate::error::{ApiResult, OrApiError};

/// Reading the audit log.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
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
            referral: filter.referral_id.as_ref().map(common::referral_id).transpose().api()?,
            actor: filter.actor_user_id.as_ref().map(|id| common::user_id("actorUserId", id)).transpose().api()?,
            from: filter.from,
            until: filter.until,
            before: after.map(|c| common::parse_id::<AuditEntryId>("after", &ID(c))).transpose().api()?,
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

/// One audit entry.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// Its id.
    pub id: ID,
    /// When.
    pub at: DateTime<Utc>,
    /// What (`referral.read`, `referral.contacted`, `offer.accepted`, …).
    pub action: String,
    /// Who, by role.
    pub actor_role: common::Role,
    /// Who, by user id.
    pub actor_user_id: Option<ID>,
    /// For which organisation.
    pub actor_organisation_id: Option<ID>,
    /// The referral concerned, for an entry about one record.
    pub referral_id: Option<ID>,
    /// The offer concerned.
    pub offer_id: Option<ID>,
    /// For a listing (`referral.listed`, one entry per page shown): every referral it showed.
    pub listed_referral_ids: Vec<ID>,
}

impl From<trellis_store::audit::AuditEntry> for AuditEntry {
    fn from(e: trellis_store::audit::AuditEntry) -> Self {
        AuditEntry {
            id: ID(e.id.to_string()),
            at: e.at,
            action: e.action,
            actor_role: e.actor.role.into(),
            actor_user_id: e.actor.user.map(|u| ID(u.to_string())),
            actor_organisation_id: e.actor.organisation.map(|o| ID(o.to_string())),
            referral_id: e.referral.map(|r| ID(r.to_string())),
            offer_id: e.offer.map(|o| ID(o.to_string())),
            listed_referral_ids: e.listed.iter().map(|r| ID(r.to_string())).collect(),
        }
    }
}

/// Filters for the audit log.
#[derive(InputObject, Default)]
pub struct AuditLogFilterInput {
    /// Only the entries about this referral: who read or changed the person's record, including the
    /// listings (caseload pages) that showed it.
    pub referral_id: Option<ID>,
    /// Only this user.
    pub actor_user_id: Option<ID>,
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until (exclusive).
    pub until: Option<DateTime<Utc>>,
}
