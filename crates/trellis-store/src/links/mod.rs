//! Provider links: the secret in an email that lets a provider with no account act on one thing, an
//! offer made to it or one of its services' capacity, and on nothing else.
//!
//! One model for both scopes ([`LinkScope`]). A link is minted ([`Store::mint_link`]) when its email is
//! rendered for sending, so the raw token exists only in the email: 256 random bits behind a prefix that
//! names the scope, stored only as a SHA-256 hash, expiring. Verifying a token
//! ([`Store::verify_link`]) finds the link by its hash, refuses it once expired, and returns it with
//! the row of what it opens, read once, so an action through the link needs no second read of that row:
//! its version is the one the action writes against. An action marks the link used
//! ([`mark_link_used`]) in its own transaction. Opening a link changes nothing: mail scanners open
//! links.
//!
//! What each scope lets a provider do lives beside it: [`offer`] answers an offer and shows the person's
//! contact details once accepted; `crate::capacity_checks` confirms a service's capacity and changes
//! where its offers are emailed.

pub mod offer;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Select, SqlErr};
use trellis_domain::{OfferId, ServiceId};
use uuid::Uuid;

pub use offer::{LinkAction, LinkedOffer, REVEAL_TOKEN_PREFIX, RevealGrant};

use crate::entity::{offer as offer_row, offer_link, service, service_link};
use crate::ids::LinkId;
use crate::tokens::{hash_secret, new_secret};
use crate::{Store, StoreError};

/// The longest token worth hashing: a real one is its prefix and 64 hex digits.
const MAX_TOKEN_LEN: usize = 128;

/// What one link opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkScope {
    /// One offer, for the provider it was made to (`/offers/{token}`).
    Offer(OfferId),
    /// One service's capacity and offer address, for the provider that runs it (`/capacity/{token}`).
    Service(ServiceId),
}

impl LinkScope {
    /// The kind of scope, without its subject.
    pub fn kind(self) -> LinkKind {
        match self {
            LinkScope::Offer(_) => LinkKind::Offer,
            LinkScope::Service(_) => LinkKind::Service,
        }
    }

    fn subject(self) -> Uuid {
        match self {
            LinkScope::Offer(id) => id.0,
            LinkScope::Service(id) => id.0,
        }
    }
}

/// The kind of a [`LinkScope`], which a token's prefix names, so that neither kind opens the other's
/// page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// A link to an offer.
    Offer,
    /// A link to a service's capacity.
    Service,
}

impl LinkKind {
    /// The prefix of this kind's tokens.
    pub const fn token_prefix(self) -> &'static str {
        match self {
            LinkKind::Offer => "tro_",
            LinkKind::Service => "trc_",
        }
    }
}

/// Why a link cannot be used. Deliberately coarse: the page says the same for all, so it leaks nothing
/// about whether an offer or a service exists.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Unknown, altered, or expired.
    #[error("this link is not valid")]
    Invalid,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored link of either scope: the shape `offer_links` and `service_links` share.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredLink {
    /// The link's id (for audit, logs and reveal grants, never shown).
    pub id: LinkId,
    /// When it stops working at the latest.
    pub expires_at: DateTime<Utc>,
    /// When an action through it last changed something.
    pub used_at: Option<DateTime<Utc>>,
}

/// A link that has not expired, with the row of what it opens as verifying read it.
#[derive(Clone, Debug)]
pub(crate) struct Verified<Row> {
    /// The link.
    pub link: StoredLink,
    /// The offer or service it opens.
    pub subject: Row,
}

/// What a link can open: an entity whose rows one [`LinkKind`] of link points at.
pub(crate) trait LinkSubject: EntityTrait {
    /// The kind of link that opens this entity's rows.
    const KIND: LinkKind;
    /// The query for one row by id.
    fn by_id(id: Uuid) -> Select<Self>;
}

impl LinkSubject for offer_row::Entity {
    const KIND: LinkKind = LinkKind::Offer;
    fn by_id(id: Uuid) -> Select<Self> {
        Self::find_by_id(id)
    }
}

impl LinkSubject for service::Entity {
    const KIND: LinkKind = LinkKind::Service;
    fn by_id(id: Uuid) -> Select<Self> {
        Self::find_by_id(id)
    }
}

impl Store {
    /// Mints a link to `scope` that works until `expires_at` at the latest, returning the raw token (to
    /// put in the email, and nowhere else). `UnknownReference` when the offer or service does not exist.
    pub async fn mint_link(
        &self,
        scope: LinkScope,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let (token, token_hash) = new_secret(scope.kind().token_prefix());
        let (id, subject) = (Uuid::now_v7(), scope.subject());
        let inserted = match scope.kind() {
            LinkKind::Offer => {
                let row =
                    offer_link::Model { id, offer_id: subject, token_hash, expires_at, used_at: None, created_at: now };
                offer_link::Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await
            }
            LinkKind::Service => {
                let row = service_link::Model {
                    id,
                    service_id: subject,
                    token_hash,
                    expires_at,
                    used_at: None,
                    created_at: now,
                };
                service_link::Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await
            }
        };
        match inserted {
            Ok(_) => Ok(token),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) => {
                Err(StoreError::UnknownReference(match scope.kind() {
                    LinkKind::Offer => "offer",
                    LinkKind::Service => "service",
                }))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The link `token` names if it has not expired by `now`, with the row it opens. Anything else (a
    /// token of the other kind, an altered or unknown one, an expired link, a subject since deleted) is
    /// [`LinkError::Invalid`].
    pub(crate) async fn verify_link<S: LinkSubject>(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Verified<S::Model>, LinkError> {
        if !token.starts_with(S::KIND.token_prefix()) || token.len() > MAX_TOKEN_LEN {
            return Err(LinkError::Invalid);
        }
        let (link, subject) = self
            .find_link(S::KIND, &hash_secret(token))
            .await?
            .filter(|(l, _)| l.expires_at > now)
            .ok_or(LinkError::Invalid)?;
        let subject = S::by_id(subject).one(&self.db).await.map_err(StoreError::from)?.ok_or(LinkError::Invalid)?;
        Ok(Verified { link, subject })
    }

    /// The stored link of `kind` with this token hash, and the id of what it opens.
    async fn find_link(&self, kind: LinkKind, token_hash: &str) -> Result<Option<(StoredLink, Uuid)>, StoreError> {
        Ok(match kind {
            LinkKind::Offer => offer_link::Entity::find()
                .filter(offer_link::Column::TokenHash.eq(token_hash))
                .one(&self.db)
                .await?
                .map(|l| (StoredLink { id: LinkId(l.id), expires_at: l.expires_at, used_at: l.used_at }, l.offer_id)),
            LinkKind::Service => service_link::Entity::find()
                .filter(service_link::Column::TokenHash.eq(token_hash))
                .one(&self.db)
                .await?
                .map(|l| (StoredLink { id: LinkId(l.id), expires_at: l.expires_at, used_at: l.used_at }, l.service_id)),
        })
    }
}

/// Records, in the transaction of the action that used it, that the `kind` link `link` was used `now`.
pub(crate) async fn mark_link_used(
    txn: &impl ConnectionTrait,
    kind: LinkKind,
    link: LinkId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match kind {
        LinkKind::Offer => {
            offer_link::Entity::update_many()
                .col_expr(offer_link::Column::UsedAt, Expr::value(now))
                .filter(offer_link::Column::Id.eq(link.0))
                .exec(txn)
                .await?
        }
        LinkKind::Service => {
            service_link::Entity::update_many()
                .col_expr(service_link::Column::UsedAt, Expr::value(now))
                .filter(service_link::Column::Id.eq(link.0))
                .exec(txn)
                .await?
        }
    };
    Ok(())
}
