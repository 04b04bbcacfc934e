//! The audit log: every read and change of a person's record, by whom and when.
//!
//! A single record's read or change is one entry naming it (`referral`, `offer`); a listing (a caseload
//! page) is one entry naming every referral it showed ([`listing`]). Asked about one referral, the log
//! answers with both kinds.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use trellis_domain::{Actor, AuditEntryId, OfferId, ReferralId, UserId};
use uuid::Uuid;

use crate::entity::audit_log;
use crate::{Store, StoreError};

mod group_commit;
mod listing;
mod per_request;

pub(crate) use group_commit::GroupCommit;
pub use listing::{bins_holding, listed_bin};
pub use per_request::within_one_request;

/// One audit entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Its id (time-ordered: the log's cursor).
    pub id: AuditEntryId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What, as `noun.verb` (`referral.read`, `referral.contacted`, `offer.accepted`).
    pub action: String,
    /// The referral concerned, for an entry about one record.
    pub referral: Option<ReferralId>,
    /// The offer concerned.
    pub offer: Option<OfferId>,
    /// For a listing (`referral.listed`, one entry per page): every referral it showed. Empty otherwise,
    /// and for listings written before one entry per page (those name their referral in `referral`).
    pub listed: Vec<ReferralId>,
    /// Anything else worth keeping (never personal data).
    pub detail: Option<String>,
}

/// Which entries to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only the entries about this referral: "who saw or changed this person's record", the entries of
    /// single records and the listings that showed it.
    pub referral: Option<ReferralId>,
    /// Only this user's.
    pub actor: Option<UserId>,
    /// From this instant (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Entries older than this one (keyset cursor).
    pub before: Option<AuditEntryId>,
    /// At most this many.
    pub limit: u64,
}

/// What to record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Audit<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub referral: Option<ReferralId>,
    pub offer: Option<OfferId>,
    pub at: DateTime<Utc>,
}

impl Audit<'_> {
    fn model(&self, detail: Option<String>) -> audit_log::Model {
        audit_log::Model {
            id: Uuid::now_v7(),
            occurred_at: self.at,
            actor_role: self.actor.role.as_str().into(),
            actor_organisation_id: self.actor.organisation.map(|o| o.0),
            actor_user_id: self.actor.user.map(|u| u.0),
            action: self.action.into(),
            referral_id: self.referral.map(|r| r.0),
            offer_id: self.offer.map(|o| o.0),
            detail,
        }
    }

    /// Writes the entry on `conn` (a transaction, when it records a change).
    pub(crate) async fn write(&self, conn: &impl ConnectionTrait) -> Result<(), StoreError> {
        audit_log::Entity::insert(self.model(None).into_active_model()).exec_without_returning(conn).await?;
        Ok(())
    }

    /// Writes the entry with `detail` (never personal data) on `conn`.
    pub(crate) async fn write_detail(
        &self,
        conn: &impl ConnectionTrait,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        audit_log::Entity::insert(self.model(Some(detail.to_string())).into_active_model())
            .exec_without_returning(conn)
            .await?;
        Ok(())
    }

    /// Writes one entry for a listing that shows several people, naming each ([`listing`]); within one
    /// request ([`within_one_request`]), leaving out a referral this request has already listed (and
    /// writing nothing if none is left). Returns once the entry is committed.
    pub(crate) async fn write_listing(
        &self,
        db: &DatabaseConnection,
        referrals: impl IntoIterator<Item = ReferralId>,
    ) -> Result<(), StoreError> {
        let listing = Audit { referral: None, ..*self };
        let mut listed = per_request::lock_listings(&listing).await;
        let mut shown: Vec<ReferralId> = referrals.into_iter().collect();
        if let Some(listed) = &listed {
            shown.retain(|r| !listed.contains(&r.0));
        }
        if shown.is_empty() {
            return Ok(());
        }
        listing::write(db, listing.model(None), &shown).await?;
        if let Some(listed) = &mut listed {
            listed.extend(shown.iter().map(|r| r.0));
        }
        Ok(())
    }

    /// Commits the entry of a single read together with the entries of other reads waiting at the
    /// same time ([`GroupCommit`]); returns once it is committed. Within one request
    /// ([`within_one_request`]) the same read of the same record is written once: a second asker waits
    /// for the first's commit (and writes it itself if that failed).
    pub(crate) async fn commit(&self, store: &Store) -> Result<(), StoreError> {
        match per_request::lock(self).await {
            Some(mut written) => {
                if !*written {
                    store.audits.write(&store.db, self.model(None)).await?;
                    *written = true;
                }
                Ok(())
            }
            None => store.audits.write(&store.db, self.model(None)).await,
        }
    }

    /// What makes two entries of one request the same: who, what, and about which referral and offer.
    fn key(&self) -> (per_request::Head, per_request::Subject) {
        let head = (
            self.action.to_owned(),
            self.actor.role.as_str(),
            self.actor.organisation.map(|o| o.0),
            self.actor.user.map(|u| u.0),
        );
        (head, (self.referral.map(|r| r.0), self.offer.map(|o| o.0)))
    }
}

impl Store {
    /// Records an entry outside any change (reads of a person's record through other paths).
    pub async fn record_audit(
        &self,
        actor: &Actor,
        action: &str,
        referral: Option<ReferralId>,
        offer: Option<OfferId>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Audit { actor, action, referral, offer, at }.commit(self).await
    }

    /// Records an entry about no referral or offer, with `detail` (never personal data, never a secret):
    /// a provider link refused, say, with a pseudonym of the address it came from.
    pub async fn record_audit_detail(
        &self,
        actor: &Actor,
        action: &str,
        detail: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Audit { actor, action, referral: None, offer: None, at }.write_detail(&self.db, detail).await
    }

    /// Lists entries, newest first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = entries(self.db.get_database_backend(), filter).into_model::<EntryRow>().all(&self.db).await?;
        rows.into_iter()
            .map(|m| {
                Ok(AuditEntry {
                    id: AuditEntryId(m.id),
                    at: m.occurred_at,
                    actor: crate::convert::actor(&m.actor_role, m.actor_organisation_id, m.actor_user_id)?,
                    action: m.action,
                    referral: m.referral_id.map(ReferralId),
                    offer: m.offer_id.map(OfferId),
                    listed: listing::parse_listed(m.listed.as_deref())?,
                    detail: m.detail,
                })
            })
            .collect()
    }

    /// The statement [`Store::audit_log`] runs for `filter`, for a test to `EXPLAIN` (feature `testing`).
    #[cfg(feature = "testing")]
    pub fn audit_log_statement(&self, filter: &AuditFilter) -> sea_orm::Statement {
        use sea_orm::QueryTrait;
        let backend = self.db.get_database_backend();
        entries(backend, filter).build(backend)
    }
}

/// The query of [`Store::audit_log`].
fn entries(backend: DatabaseBackend, filter: &AuditFilter) -> Select<audit_log::Entity> {
    let mut query = audit_log::Entity::find().column_as(listing::listed_json(backend), "listed");
    if let Some(r) = filter.referral {
        query = query.filter(listing::mentioning(backend, r));
    }
    if let Some(u) = filter.actor {
        query = query.filter(audit_log::Column::ActorUserId.eq(u.0));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::Column::OccurredAt.gte(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::Column::OccurredAt.lt(until));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_log::Column::Id.lt(before.0));
    }
    query.order_by_desc(audit_log::Column::Id).limit(filter.limit)
}

/// An `audit_log` row with its listed referrals as JSON ([`listing::listed_json`]).
#[derive(FromQueryResult)]
struct EntryRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_role: String,
    actor_organisation_id: Option<Uuid>,
    actor_user_id: Option<Uuid>,
    action: String,
    referral_id: Option<Uuid>,
    offer_id: Option<Uuid>,
    detail: Option<String>,
    listed: Option<String>,
}
