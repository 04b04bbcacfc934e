//! Links to one offer: what a provider that has no account may do with the link in an offer email.
//!
//! Acting through the link applies the provider's command to the offer, each action at most once (the
//! offer's lifecycle refuses a repeat, and the caller shows what was already decided). The offer row
//! verifying read is the one the command is decided and written against: one read of the offer per
//! action.
//!
//! How long the link works is the domain's rule ([`trellis_domain::offer::link`]): a week after the offer
//! was accepted at most, and not at all once the first attendance is confirmed. The person's contact
//! details are shown in answer to the accepting action and then only to the browser holding the
//! [`RevealGrant`] that action minted, for a few minutes; opening the link otherwise shows the offer
//! without them. Every showing of them is audited (`offer.contact_details_read`).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, TransactionTrait};
use trellis_domain::offer::link::{CONTACT_DETAILS_SHOWN_FOR, link_works, works_until};
use trellis_domain::offer::{OfferCommand, OfferStatus};
use trellis_domain::{Actor, OfferId, OrganisationId};
use uuid::Uuid;

use super::{LinkError, LinkKind, StoredLink, mark_link_used};
use crate::entity::{offer, offer_event, offer_link_reveal};
use crate::ids::LinkId;
use crate::offers::{OfferRequest, ProviderOfferView};
use crate::tokens::{hash_secret, new_secret};
use crate::{Store, StoreError};

/// Prefix of the grants that show an accepted offer's contact details again ([`RevealGrant`]).
pub const REVEAL_TOKEN_PREFIX: &str = "trv_";

/// An offer reached through a live link.
#[derive(Clone, Debug)]
pub struct LinkedOffer {
    /// The link's id (for audit and rate limiting, never shown).
    pub link: LinkId,
    /// The provider organisation acting through it.
    pub provider: OrganisationId,
    /// What the provider may see now: the contact details only in answer to the accepting action, or
    /// to the browser holding that action's [`RevealGrant`].
    pub view: ProviderOfferView,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// Minted by the action that accepted the offer: for the accepting browser's cookie, and nowhere
    /// else.
    pub reveal: Option<RevealGrant>,
}

/// Lets the browser that accepted an offer through a link see the contact details again, for a few
/// minutes ([`CONTACT_DETAILS_SHOWN_FOR`]). The raw value exists only in that browser's cookie; only its
/// hash is stored, bound to the link, so it shows nothing through another link or for another offer.
#[derive(Clone)]
pub struct RevealGrant {
    /// The raw value, for the cookie.
    pub token: String,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for RevealGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevealGrant").field("token", &"[redacted]").field("expires_at", &self.expires_at).finish()
    }
}

/// A link to an offer that works now, with the offer's row as verifying read it and what decides how
/// long the link works.
struct LiveLink {
    link: StoredLink,
    offer: offer::Model,
    provider: OrganisationId,
    status: OfferStatus,
    works_until: DateTime<Utc>,
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
    /// Verifies an offer link and applies the offer's own limits ([`link_works`]): reads the offer once.
    async fn live_offer_link(&self, token: &str, now: DateTime<Utc>) -> Result<LiveLink, LinkError> {
        let verified = self.verify_link::<offer::Entity>(token, now).await?;
        let (link, offer) = (verified.link, verified.subject);
        let status = crate::convert::stored("offer status", OfferStatus::parse(&offer.status))?;
        let accepted_at = match status {
            OfferStatus::Accepted => self.accepted_at(OfferId(offer.id)).await?,
            _ => None,
        };
        if !link_works(status, link.expires_at, accepted_at, now) {
            return Err(LinkError::Invalid);
        }
        let works_until = works_until(link.expires_at, accepted_at);
        Ok(LiveLink { link, provider: OrganisationId(offer.provider_organisation_id), offer, status, works_until })
    }

    /// When an offer was last accepted, from its history.
    async fn accepted_at(&self, offer: OfferId) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(offer_event::Entity::find()
            .filter(offer_event::Column::OfferId.eq(offer.0))
            .filter(offer_event::Column::ToStatus.eq(OfferStatus::Accepted.as_str()))
            .order_by_desc(offer_event::Column::Version)
            .one(&self.db)
            .await?
            .map(|e| e.occurred_at))
    }

    /// Whether `grant` (a reveal cookie's value) was minted for `link` and has not lapsed.
    async fn grant_holds(&self, link: LinkId, grant: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !grant.starts_with(REVEAL_TOKEN_PREFIX) || grant.len() > 128 {
            return Ok(false);
        }
        Ok(offer_link_reveal::Entity::find()
            .filter(offer_link_reveal::Column::TokenHash.eq(hash_secret(grant)))
            .filter(offer_link_reveal::Column::LinkId.eq(link.0))
            .filter(offer_link_reveal::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Forgets the reveal grants that lapsed before `now` (a lapsed grant shows nothing; only its hash was
    /// ever stored); returns how many. The worker calls it on every pass, so the table holds only the
    /// grants of the last few minutes' acceptances.
    pub async fn forget_lapsed_reveal_grants(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = offer_link_reveal::Entity::delete_many()
            .filter(offer_link_reveal::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }

    /// Opens a link: what the provider may see, without the contact details, changing nothing but the
    /// audit log.
    pub async fn open_offer_link(&self, token: &str, now: DateTime<Utc>) -> Result<LinkedOffer, LinkError> {
        self.open_offer_link_revealing(token, None, now).await
    }

    /// Opens a link from a browser that may hold a [`RevealGrant`] (`grant`, its cookie's value): the
    /// contact details are shown, and their reading audited, only if the grant was minted for this link by
    /// its accepting action, has not lapsed, and the offer is still accepted.
    pub async fn open_offer_link_revealing(
        &self,
        token: &str,
        grant: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<LinkedOffer, LinkError> {
        let live = self.live_offer_link(token, now).await?;
        let actor = Actor::provider_link(live.provider);
        let revealed = match grant {
            Some(grant) if live.status == OfferStatus::Accepted => self.grant_holds(live.link.id, grant, now).await?,
            _ => false,
        };
        let view = self.provider_view_with(&actor, live.offer, now, revealed).await?;
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
        Ok(LinkedOffer {
            link: live.link.id,
            provider: live.provider,
            view,
            expires_at: live.works_until,
            reveal: None,
        })
    }

    /// Acts through a link, against the offer as verifying the link read it. A command the offer's state
    /// no longer allows changes nothing and reports what was already decided; a concurrent answer (the
    /// offer's version moved on since) is the same. An acceptance leaves the link at most a week
    /// ([`trellis_domain::offer::link::LIFE_AFTER_ACCEPTANCE`], never past its own expiry), mints a
    /// [`RevealGrant`] for the accepting browser in the acceptance's transaction, and answers with the
    /// contact details (their reading audited).
    pub async fn act_on_offer_link(
        &self,
        token: &str,
        command: OfferCommand,
        now: DateTime<Utc>,
    ) -> Result<LinkAction, LinkError> {
        crate::contention::retried(move || self.act_on_offer_link_once(token, command.clone(), now)).await
    }

    /// [`Store::act_on_offer_link`], made once.
    async fn act_on_offer_link_once(
        &self,
        token: &str,
        command: OfferCommand,
        now: DateTime<Utc>,
    ) -> Result<LinkAction, LinkError> {
        let live = self.live_offer_link(token, now).await?;
        let (link, provider) = (live.link, live.provider);
        let actor = Actor::provider_link(provider);
        let accepting = matches!(command, OfferCommand::Accept);
        let txn = self.db.begin().await.map_err(StoreError::from)?;
        let outcome = self.transition_read_offer_in(&txn, live.offer.clone(), command, &actor, now).await;
        let mut expires_at = live.works_until;
        let mut reveal = None;
        let (row, applied) = match outcome {
            Ok(row) => {
                if accepting {
                    expires_at = works_until(link.expires_at, Some(now));
                    let (token, token_hash) = new_secret(REVEAL_TOKEN_PREFIX);
                    let grant = offer_link_reveal::Model {
                        id: Uuid::now_v7(),
                        link_id: link.id.0,
                        token_hash,
                        expires_at: now + CONTACT_DETAILS_SHOWN_FOR,
                        created_at: now,
                    };
                    reveal = Some(RevealGrant { token, expires_at: grant.expires_at });
                    offer_link_reveal::Entity::insert(grant.into_active_model())
                        .exec_without_returning(&txn)
                        .await
                        .map_err(StoreError::from)?;
                }
                mark_link_used(&txn, LinkKind::Offer, link.id, now).await?;
                txn.commit().await.map_err(StoreError::from)?;
                (row, true)
            }
            // The offer as read was already past this command: it is what was decided.
            Err(StoreError::Domain(_)) => {
                txn.rollback().await.map_err(StoreError::from)?;
                (live.offer, false)
            }
            // Another answer landed since the link was verified: show that one.
            Err(StoreError::Conflict { .. }) => {
                txn.rollback().await.map_err(StoreError::from)?;
                let current = offer::Entity::find_by_id(live.offer.id).one(&self.db).await;
                (current.map_err(StoreError::from)?.ok_or(LinkError::Invalid)?, false)
            }
            Err(other) => return Err(other.into()),
        };
        let view = self.provider_view_with(&actor, row, now, reveal.is_some()).await?;
        let linked = LinkedOffer { link: link.id, provider, view, expires_at, reveal };
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
        crate::contention::retried(move || self.propose_onward_via_link_once(token, service, note.clone(), timers, now))
            .await
    }

    /// [`Store::propose_onward_via_link`], made once.
    async fn propose_onward_via_link_once(
        &self,
        token: &str,
        service: trellis_domain::ServiceId,
        note: Option<String>,
        timers: crate::offers::OfferTimers,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::offers::OfferRecord>, LinkError> {
        let live = self.live_offer_link(token, now).await?;
        let actor = Actor::provider_link(live.provider);
        let referral = trellis_domain::ReferralId(live.offer.referral_id);
        let parent = OfferId(live.offer.id);
        match self
            .make_offer(OfferRequest::new(referral, service, timers).with_note(note).onward_from(parent), &actor, now)
            .await
        {
            Ok(record) => Ok(Some(record)),
            Err(StoreError::Domain(_) | StoreError::Conflict { .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
}
