//! Durable workflow timers, kept as columns on the rows they concern so they survive restarts: an
//! unanswered offer's one reminder (`offers.remind_at`) and its expiry (`offers.expires_at`). The
//! notifier's worker calls these on every tick; each is safe to run from several workers at once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use trellis_domain::offer::{OfferCommand, OfferStatus};
use trellis_domain::{Actor, OfferId, ReferralId};
use uuid::Uuid;

use crate::entity::{offer, organisation, service};
use crate::outbox::{NewEmail, OutboxJob};
use crate::{Store, StoreError};

fn awaiting_provider() -> Vec<&'static str> {
    [OfferStatus::Offered, OfferStatus::Waitlisted]
        .into_iter()
        .filter(|s| s.awaits_provider())
        .map(|s| s.as_str())
        .collect()
}

impl Store {
    /// Queues the one reminder for each unanswered offer whose reminder is due. Returns how many.
    pub async fn send_due_reminders(&self, now: DateTime<Utc>, limit: u64) -> Result<usize, StoreError> {
        let due: Vec<(Uuid, Uuid, Uuid)> = offer::Entity::find()
            .select_only()
            .columns([offer::Column::Id, offer::Column::ReferralId, offer::Column::ServiceId])
            .filter(offer::Column::Status.eq(OfferStatus::Offered.as_str()))
            .filter(offer::Column::RemindAt.lte(now))
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut sent = 0;
        for (offer_id, referral_id, service_id) in due {
            let txn = self.db.begin().await?;
            // Claim the reminder: only the worker that clears remind_at queues the email.
            let claimed = offer::Entity::update_many()
                .col_expr(offer::Column::RemindAt, Expr::value(Option::<DateTime<Utc>>::None))
                .filter(offer::Column::Id.eq(offer_id))
                .filter(offer::Column::RemindAt.lte(now))
                .filter(offer::Column::Status.eq(OfferStatus::Offered.as_str()))
                .exec(&txn)
                .await?;
            if claimed.rows_affected == 1 {
                let svc = service::Entity::find_by_id(service_id).one(&txn).await?;
                let recipient = match svc.as_ref().and_then(|s| s.email.clone()) {
                    Some(e) => Some(e),
                    None => match svc {
                        Some(s) => {
                            organisation::Entity::find_by_id(s.organisation_id).one(&txn).await?.and_then(|o| o.email)
                        }
                        None => None,
                    },
                };
                if let Some(recipient) = recipient {
                    NewEmail {
                        job: OutboxJob::OfferReminder { offer: OfferId(offer_id) },
                        recipient,
                        offer: Some(OfferId(offer_id)),
                        referral: Some(ReferralId(referral_id)),
                        due_at: now,
                    }
                    .write(&txn, now)
                    .await?;
                    sent += 1;
                }
            }
            txn.commit().await?;
        }
        Ok(sent)
    }

    /// Expires each unanswered offer past its deadline (the link worker is emailed and the referral
    /// flagged, in the same transaction). Returns how many.
    pub async fn expire_due_offers(&self, now: DateTime<Utc>, limit: u64) -> Result<usize, StoreError> {
        let due: Vec<(Uuid, i64)> = offer::Entity::find()
            .select_only()
            .columns([offer::Column::Id, offer::Column::Version])
            .filter(offer::Column::Status.is_in(awaiting_provider()))
            .filter(offer::Column::ExpiresAt.lte(now))
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut expired = 0;
        for (id, version) in due {
            let txn = self.db.begin().await?;
            let version = crate::convert::version(version)?;
            match self
                .transition_offer_in(&txn, OfferId(id), version, OfferCommand::Expire, &Actor::system(), now)
                .await
            {
                Ok(_) => {
                    txn.commit().await?;
                    expired += 1;
                }
                // Another worker, or the provider, got there first.
                Err(StoreError::Conflict { .. } | StoreError::Domain(_)) => txn.rollback().await?,
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }
}
