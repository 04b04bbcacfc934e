//! The message back to the GP on its way through the outbox: queued in the transaction that closes the
//! referral, and in the one that records first contact where the link worker service turns that on (for a
//! practice with a MESH mailbox); built when the worker sends it, and tracked on MESH until the practice's
//! system acknowledges it or MESH gives up.
//!
//! The row holds only the referral and the occasion, like every outbox row: the message, which is full of
//! personal data, is built from the committed referral at send time and never stored. Its id is derived
//! from the referral ([`crate::gp_messages::message_id`]), so every attempt sends the same document with
//! the same MESH `mex-LocalID`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use trellis_domain::{Actor, ReferralId};
use trellis_gp_message::content::{MessageBack, Occasion};
use uuid::Uuid;

use crate::audit::Audit;
use crate::entity::{email_outbox, organisation, referral};
use crate::outbox::{DeliveryStatus, EmailKind, MeshStatus, NewEmail, OutboxEmail, OutboxJob};
use crate::rows::with_person;
use crate::{Store, StoreError};

/// Queues the message back about `referral_row` for `occasion`, in the caller's transaction, when the
/// referring practice has a MESH mailbox. Without one nothing is queued: the practice reads the message in
/// Trellis (`Referral.gpMessage`, the PDF download).
pub(crate) async fn queue_gp_message(
    conn: &impl ConnectionTrait,
    referral_row: &referral::Model,
    occasion: Occasion,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let practice = organisation::Entity::find_by_id(referral_row.referring_organisation_id).one(conn).await?;
    let Some(mailbox) = practice.and_then(|p| p.mesh_mailbox_id) else { return Ok(false) };
    let referral = ReferralId(referral_row.id);
    NewEmail {
        job: OutboxJob::GpMessage { referral, occasion },
        recipient: mailbox,
        offer: None,
        referral: Some(referral),
        due_at: now,
    }
    .write(conn, now)
    .await?;
    Ok(true)
}

impl Store {
    /// The message back to send for `referral` on `occasion`, built now from the committed referral; `None`
    /// if there is nothing to send (a closing message for a referral not closed). The read is audited as the
    /// system's.
    pub async fn gp_message_to_send(
        &self,
        referral: ReferralId,
        occasion: Occasion,
        now: DateTime<Utc>,
    ) -> Result<Option<MessageBack>, StoreError> {
        let row =
            with_person(referral::Entity::find_by_id(referral.0)).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let record = crate::referrals::record_from(row.referral, row.person)?;
        let system = Actor::system();
        let action = "referral.gp_message_built";
        Audit { actor: &system, action, referral: Some(referral), offer: None, at: now }.write(&self.db).await?;
        match occasion {
            Occasion::Closure => self.gp_message_of(&record, now).await,
            Occasion::FirstContact => self.build_gp_message(&record, occasion, now).await.map(Some),
        }
    }

    /// Records that MESH accepted a claimed GP message as `mesh_message_id`; its delivery is tracked from
    /// `track_at`. Returns false if the claim was lost.
    pub async fn mark_gp_message_sent(
        &self,
        id: Uuid,
        worker: &str,
        mesh_message_id: &str,
        subject: &str,
        now: DateTime<Utc>,
        track_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value(DeliveryStatus::Sent.as_str()))
            .col_expr(email_outbox::Column::Subject, Expr::value(subject))
            .col_expr(email_outbox::Column::SentAt, Expr::value(now))
            .col_expr(email_outbox::Column::MeshMessageId, Expr::value(mesh_message_id))
            .col_expr(email_outbox::Column::MeshStatus, Expr::value(MeshStatus::Accepted.as_str()))
            .col_expr(email_outbox::Column::NextAttemptAt, Expr::value(track_at))
            .col_expr(email_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(email_outbox::Column::LastError, Expr::value(Option::<String>::None))
            .filter(email_outbox::Column::Id.eq(id))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Sent GP messages whose delivery MESH has not settled yet and whose next check is due (a sent row's
    /// `next_attempt_at` is when to ask MESH again), oldest first.
    pub async fn gp_messages_to_track(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<OutboxEmail>, StoreError> {
        let rows = email_outbox::Entity::find()
            .filter(email_outbox::Column::Kind.eq(EmailKind::GpMessage.as_str()))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Sent.as_str()))
            .filter(email_outbox::Column::MeshStatus.eq(MeshStatus::Accepted.as_str()))
            .filter(email_outbox::Column::NextAttemptAt.lte(now))
            .order_by_asc(email_outbox::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(OutboxEmail::try_from).collect()
    }

    /// Records what MESH says of a sent GP message: still on its way (asked again at `next_check`),
    /// acknowledged by the practice, or failed. A failure flags the referral and tells the link worker, in
    /// the same transaction, as a dead email does ([`Store::bury_email`]). Returns false if the row was no
    /// longer waiting for MESH (another worker recorded it first).
    pub async fn record_gp_message_tracking(
        &self,
        id: Uuid,
        status: MeshStatus,
        why: Option<&str>,
        next_check: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        let mut update = email_outbox::Entity::update_many();
        update = match status {
            MeshStatus::Accepted => update.col_expr(email_outbox::Column::NextAttemptAt, Expr::value(next_check)),
            settled => update.col_expr(email_outbox::Column::MeshStatus, Expr::value(settled.as_str())),
        };
        if let Some(why) = why {
            update = update
                .col_expr(email_outbox::Column::LastError, Expr::value(why.chars().take(500).collect::<String>()));
        }
        let result = update
            .filter(email_outbox::Column::Id.eq(id))
            .filter(email_outbox::Column::MeshStatus.eq(MeshStatus::Accepted.as_str()))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        if status == MeshStatus::Failed {
            let row = email_outbox::Entity::find_by_id(id).one(&txn).await?.ok_or(StoreError::NotFound)?;
            crate::notices::tell_of_failure(&txn, &row, now).await?;
        }
        txn.commit().await?;
        Ok(true)
    }
}
