//! Provider links: the secret in an offer email that lets a provider with no account act on that one
//! offer.
//!
//! A link is minted when its email is rendered for sending, so the raw token exists only in the email
//! and only its SHA-256 hash is stored. It is scoped to one offer and expires. Opening it changes
//! nothing; acting through it applies the provider's command to the offer, each action at most once
//! (the offer's lifecycle refuses a repeat, and the caller shows what was already decided).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, TransactionTrait};
use trellis_domain::offer::OfferCommand;
use trellis_domain::{Actor, OfferId, OrganisationId};
use uuid::Uuid;

use crate::entity::{offer, offer_link};
use crate::offers::ProviderOfferView;
use crate::tokens::{hash_secret, new_secret};
use crate::{Store, StoreError};

/// Prefix of provider link tokens.
pub const LINK_TOKEN_PREFIX: &str = "tro_";

/// Why a link cannot be used. Deliberately coarse: the page says the same for all, so it leaks nothing
/// about whether an offer exists.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Unknown, altered, or expired.
    #[error("this link is not valid")]
    Invalid,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An offer reached through a live link.
#[derive(Clone, Debug)]
pub struct LinkedOffer {
    /// The link's id (for audit and rate limiting, never shown).
    pub link: Uuid,
    /// The provider organisation acting through it.
    pub provider: OrganisationId,
    /// What the provider may see now.
    pub view: ProviderOfferView,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl LinkedOffer {
    /// The actor a link stands for.
    pub fn actor(&self) -> Actor {
        Actor::provider_link(self.provider)
    }
}

/// The outcome of acting through a link.
#[derive(Clone, Debug)]
pub enum LinkAction {
    /// The command was applied.
    Applied(LinkedOffer),
    /// The offer had already moved on; nothing changed. Shows what was decided.
    AlreadyDecided(LinkedOffer),
}

impl Store {
    /// Mints a link for an offer, returning the raw token (to put in the email, and nowhere else).
    pub async fn create_offer_link(
        &self,
        offer: OfferId,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let (token, token_hash) = new_secret(LINK_TOKEN_PREFIX);
        let model = offer_link::Model {
            id: Uuid::now_v7(),
            offer_id: offer.0,
            token_hash,
            expires_at,
            used_at: None,
            created_at: now,
        };
        offer_link::Entity::insert(model.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(token)
    }

    async fn live_link(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(offer_link::Model, OrganisationId), LinkError> {
        if !token.starts_with(LINK_TOKEN_PREFIX) || token.len() > 128 {
            return Err(LinkError::Invalid);
        }
        let link = offer_link::Entity::find()
            .filter(offer_link::Column::TokenHash.eq(hash_secret(token)))
            .one(&self.db)
            .await
            .map_err(StoreError::from)?
            .filter(|l| l.expires_at > now)
            .ok_or(LinkError::Invalid)?;
        let offer = offer::Entity::find_by_id(link.offer_id)
            .one(&self.db)
            .await
            .map_err(StoreError::from)?
            .ok_or(LinkError::Invalid)?;
        Ok((link, OrganisationId(offer.provider_organisation_id)))
    }

    /// Opens a link: what the provider may see, changing nothing but the audit log.
    pub async fn open_offer_link(&self, token: &str, now: DateTime<Utc>) -> Result<LinkedOffer, LinkError> {
        let (link, provider) = self.live_link(token, now).await?;
        let actor = Actor::provider_link(provider);
        let view = self.provider_view(&actor, OfferId(link.offer_id), now).await?;
        crate::audit::Audit {
            actor: &actor,
            action: "offer.link_opened",
            referral: Some(view.offer.state.referral),
            offer: Some(view.offer.state.id),
            at: now,
        }
        .commit(self)
        .await
        .map_err(LinkError::Store)?;
        Ok(LinkedOffer { link: link.id, provider, view, expires_at: link.expires_at })
    }

    /// Acts through a link. A command the offer's state no longer allows changes nothing and reports
    /// what was already decided; a concurrent answer is the same.
    pub async fn act_on_offer_link(
        &self,
        token: &str,
        command: OfferCommand,
        now: DateTime<Utc>,
    ) -> Result<LinkAction, LinkError> {
        let (link, provider) = self.live_link(token, now).await?;
        let actor = Actor::provider_link(provider);
        let offer_id = OfferId(link.offer_id);
        let txn = self.db.begin().await.map_err(StoreError::from)?;
        let current = offer::Entity::find_by_id(offer_id.0)
            .one(&txn)
            .await
            .map_err(StoreError::from)?
            .ok_or(LinkError::Invalid)?;
        let version = crate::convert::version(current.version)?;
        let outcome = self.transition_offer_in(&txn, offer_id, version, command, &actor, now).await;
        let applied = match outcome {
            Ok(_) => {
                offer_link::Entity::update_many()
                    .col_expr(offer_link::Column::UsedAt, Expr::value(now))
                    .filter(offer_link::Column::Id.eq(link.id))
                    .exec(&txn)
                    .await
                    .map_err(StoreError::from)?;
                txn.commit().await.map_err(StoreError::from)?;
                true
            }
            Err(StoreError::Domain(_) | StoreError::Conflict { .. }) => {
                txn.rollback().await.map_err(StoreError::from)?;
                false
            }
            Err(other) => return Err(other.into()),
        };
        let view = self.provider_view(&actor, offer_id, now).await?;
        let linked = LinkedOffer { link: link.id, provider, view, expires_at: link.expires_at };
        Ok(if applied { LinkAction::Applied(linked) } else { LinkAction::AlreadyDecided(linked) })
    }

    /// Proposes, through a link, an onward offer from the linked offer to another service (FHIR
    /// `Task.partOf`), as the provider may once it has accepted. `Ok(None)` when the offer's state no
    /// longer allows it (nothing changes); the link worker is told in the same transaction.
    pub async fn propose_onward_via_link(
        &self,
        token: &str,
        service: trellis_domain::ServiceId,
        note: Option<String>,
        timers: crate::offers::OfferTimers,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::offers::OfferRecord>, LinkError> {
        let (link, provider) = self.live_link(token, now).await?;
        let actor = Actor::provider_link(provider);
        let parent = offer::Entity::find_by_id(link.offer_id)
            .one(&self.db)
            .await
            .map_err(StoreError::from)?
            .ok_or(LinkError::Invalid)?;
        let referral = trellis_domain::ReferralId(parent.referral_id);
        match self.make_offer(referral, None, service, note, Some(OfferId(parent.id)), timers, &actor, now).await {
            Ok(record) => Ok(Some(record)),
            Err(StoreError::Domain(_) | StoreError::Conflict { .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
}
