//! What the notifier may put in an email, and what happens when an email cannot be delivered.
//!
//! Email is not a secure channel for health data, so the notices here are built to hold none: an offer's
//! reference, the service, the needs categories, names of organisations, dates and outcomes. Nothing
//! about the person (name, NHS number, date of birth, contact details, postcode) and none of the free
//! text that people write (the link worker's note, a decline note, the referral reason) can reach a
//! template, because these types do not carry it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use trellis_domain::offer::{DeclineReason, OfferStatus};
use trellis_domain::referral::{ClosureReason, ReferralStatus};
use trellis_domain::values::Need;
use trellis_domain::{OfferId, ReferralId};
use uuid::Uuid;

use crate::convert::{stored, unreadable};
use crate::entity::{email_outbox, offer, organisation, referral, service};
use crate::ids::OutboxId;
use crate::offers::link_worker_recipient;
use crate::outbox::{DeliveryStatus, JobKind, NewEmail, OutboxEmail, OutboxJob};
use crate::{Store, StoreError};

/// The flag a referral carries when an email about it could not be delivered.
pub const DELIVERY_FAILED_FLAG: &str = "delivery_failed";

/// The short, human reference of an offer (`OF-1C2B-3F9A`): the random tail of its id, so that offers
/// made in the same minute still differ. For reading aloud and matching, never for lookup alone.
pub fn offer_reference(id: OfferId) -> String {
    short_reference("OF", id.0)
}

/// The short, human reference of a referral (`RF-1C2B-3F9A`), formed like [`offer_reference`].
pub fn referral_reference(id: ReferralId) -> String {
    short_reference("RF", id.0)
}

fn short_reference(prefix: &str, id: Uuid) -> String {
    let hex = id.simple().to_string().to_uppercase();
    // A simple UUID is always 32 ASCII hex digits; the last 8 are random in a UUIDv7.
    format!("{prefix}-{}-{}", &hex[24..28], &hex[28..32])
}

/// An offer as an email may describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferNotice {
    /// The offer.
    pub offer: OfferId,
    /// Its short reference.
    pub reference: String,
    /// The referral it belongs to.
    pub referral: ReferralId,
    /// The referral's short reference.
    pub referral_reference: String,
    /// The service offered.
    pub service_name: String,
    /// The organisation that runs it.
    pub provider_name: String,
    /// The link worker service that owns the referral (the offer's sender).
    pub link_worker_service_name: String,
    /// The referral's needs categories.
    pub needs: Vec<Need>,
    /// Where the offer is now.
    pub status: OfferStatus,
    /// Why it was declined (the category; never the provider's note).
    pub decline_reason: Option<DeclineReason>,
    /// When it was made.
    pub offered_at: DateTime<Utc>,
    /// When it expires unanswered.
    pub expires_at: DateTime<Utc>,
    /// For an onward offer, the reference of the offer it came from.
    pub onward_from: Option<String>,
    /// For an onward offer, the provider that proposed it (the one the person was first offered to).
    pub proposed_by: Option<String>,
}

/// A referral as an email to the referring practice may describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferralNotice {
    /// The referral.
    pub referral: ReferralId,
    /// Its short reference.
    pub reference: String,
    /// Where it is now.
    pub status: ReferralStatus,
    /// Why it closed, once closed.
    pub closure_reason: Option<ClosureReason>,
}

impl Store {
    /// What an email may say about an offer.
    pub async fn offer_notice(&self, id: OfferId) -> Result<OfferNotice, StoreError> {
        let row = offer::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let referral_row =
            referral::Entity::find_by_id(row.referral_id).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let svc = service::Entity::find_by_id(row.service_id)
            .one(&self.db)
            .await?
            .ok_or(StoreError::Corrupt("offers.service_id"))?;
        let org_name = |id: Uuid| async move {
            Ok::<_, StoreError>(
                organisation::Entity::find_by_id(id).one(&self.db).await?.map(|o| o.name).unwrap_or_default(),
            )
        };
        let parent = match row.part_of_offer_id {
            Some(p) => offer::Entity::find_by_id(p).one(&self.db).await?,
            None => None,
        };
        let proposed_by = match &parent {
            Some(p) => Some(org_name(p.provider_organisation_id).await?),
            None => None,
        };
        let needs: Vec<String> = serde_json::from_str(&referral_row.needs).map_err(unreadable("referrals.needs"))?;
        Ok(OfferNotice {
            offer: id,
            reference: offer_reference(id),
            referral: ReferralId(row.referral_id),
            referral_reference: referral_reference(ReferralId(row.referral_id)),
            service_name: svc.name,
            provider_name: org_name(row.provider_organisation_id).await?,
            link_worker_service_name: org_name(row.link_worker_service_id).await?,
            needs: needs.iter().map(|n| stored("need", Need::parse(n))).collect::<Result<_, _>>()?,
            status: stored("offer status", OfferStatus::parse(&row.status))?,
            decline_reason: row
                .decline_reason
                .as_deref()
                .map(DeclineReason::parse)
                .transpose()
                .map_err(unreadable("offers.decline_reason"))?,
            offered_at: row.created_at,
            expires_at: row.expires_at,
            onward_from: row.part_of_offer_id.map(|p| offer_reference(OfferId(p))),
            proposed_by,
        })
    }

    /// What an email may say about a referral.
    pub async fn referral_notice(&self, id: ReferralId) -> Result<ReferralNotice, StoreError> {
        let row = referral::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        Ok(ReferralNotice {
            referral: id,
            reference: referral_reference(id),
            status: stored("referral status", ReferralStatus::parse(&row.status))?,
            closure_reason: row
                .closure_reason
                .as_deref()
                .map(ClosureReason::parse)
                .transpose()
                .map_err(unreadable("referrals.closure_reason"))?,
        })
    }

    /// One outbox row.
    pub async fn outbox_email(&self, id: OutboxId) -> Result<OutboxEmail, StoreError> {
        email_outbox::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?.try_into()
    }

    /// Gives up on a claimed row after its last attempt. In the same transaction the row is marked dead,
    /// its referral is flagged [`DELIVERY_FAILED_FLAG`], and the link worker (the assignee, else the
    /// service's address) is queued a [`JobKind::DeliveryFailed`] email naming the row. A
    /// `DeliveryFailed` row that dies is only marked dead, so failures never feed on themselves.
    ///
    /// Returns false, changing nothing, if `worker` no longer holds the row.
    pub async fn bury_email(
        &self,
        id: OutboxId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let buried = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value(DeliveryStatus::Dead.as_str()))
            .col_expr(email_outbox::Column::LastError, Expr::value(error.chars().take(500).collect::<String>()))
            .col_expr(email_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(email_outbox::Column::Id.eq(id.0))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
        if buried.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        let row = email_outbox::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
        tell_of_failure(&txn, &row, now).await?;
        txn.commit().await?;
        Ok(true)
    }
}

/// After `row` could not be delivered, in the caller's transaction: flags its referral
/// [`DELIVERY_FAILED_FLAG`] and queues the link worker (the assignee, else the service's address) a
/// [`JobKind::DeliveryFailed`] email naming the row. Nothing for a `DeliveryFailed` row, so failures
/// never feed on themselves.
pub(crate) async fn tell_of_failure(
    txn: &impl sea_orm::ConnectionTrait,
    row: &email_outbox::Model,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let follow_up = row.kind != JobKind::DeliveryFailed.as_str();
    if let (true, Some(referral_id)) = (follow_up, row.referral_id) {
        let referral_row = referral::Entity::find_by_id(referral_id).one(txn).await?.ok_or(StoreError::NotFound)?;
        Store::flag_referral(txn, ReferralId(referral_id), DELIVERY_FAILED_FLAG).await?;
        if let Some(recipient) = link_worker_recipient(txn, &referral_row).await? {
            NewEmail {
                job: OutboxJob::DeliveryFailed { failed_email: OutboxId(row.id) },
                recipient,
                offer: row.offer_id.map(OfferId),
                referral: Some(ReferralId(referral_id)),
                due_at: now,
            }
            .write(txn, now)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_the_random_tail_of_the_id_in_two_groups() {
        let id = Uuid::parse_str("0190f3a2-7b1c-7d4e-8f00-1c2b3f9a4d5e").unwrap();
        assert_eq!(offer_reference(OfferId(id)), "OF-3F9A-4D5E");
        assert_eq!(referral_reference(ReferralId(id)), "RF-3F9A-4D5E");
    }
}
