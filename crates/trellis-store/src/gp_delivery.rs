//! The message back to the GP on its way through the outbox: queued in the transaction that closes the
//! referral, and in the one that records first contact where the link worker service turns that on (for a
//! practice with a MESH mailbox); built when the worker sends it, and tracked on MESH until the practice's
//! system acknowledges it or MESH gives up.
//!
//! The row holds only the referral, the occasion and the version, like every outbox row: the message, which
//! is full of personal data, is built from the committed referral at send time and never stored. Its id is
//! derived from the three ([`crate::gp_messages::message_id`]), so every attempt sends the same document
//! with the same MESH `mex-LocalID`.
//!
//! A correction (a link worker marks or unmarks a note for the GP after the message was queued) queues the
//! next version, which says in its bundle that it replaces the one before.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use trellis_domain::referral::ReferralStatus;
use trellis_domain::{Actor, ReferralId};
use trellis_gp_message::content::{MessageBack, Occasion};

use crate::audit::Audit;
use crate::entity::{email_outbox, organisation, referral, referral_event};
use crate::ids::OutboxId;
use crate::outbox::{DeliveryStatus, JobKind, MeshStatus, NewEmail, OutboxEmail, OutboxJob};
use crate::referrals::ReferralRecord;
use crate::rows::with_person;
use crate::{Store, StoreError};

/// Queues the message back about `referral_row` for `occasion`, in the caller's transaction, when the
/// referring practice has a MESH mailbox. Without one nothing is queued: the practice reads the message in
/// Trellis (`Referral.gpMessage`, the PDF download).
pub(crate) async fn queue_gp_message(
    conn: &impl ConnectionTrait,
    referral_row: &referral::Model,
    occasion: Occasion,
    version: u32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let practice = organisation::Entity::find_by_id(referral_row.referring_organisation_id).one(conn).await?;
    let Some(mailbox) = practice.and_then(|p| p.mesh_mailbox_id) else { return Ok(false) };
    let referral = ReferralId(referral_row.id);
    NewEmail {
        job: OutboxJob::GpMessage { referral, occasion, version },
        recipient: mailbox,
        offer: None,
        referral: Some(referral),
        due_at: now,
    }
    .write(conn, now)
    .await?;
    Ok(true)
}

/// The latest version queued of each message back about `referral`, by occasion; none for a message never
/// queued (the practice has no mailbox, or the occasion has not come).
pub(crate) async fn latest_versions(
    conn: &impl ConnectionTrait,
    referral: ReferralId,
) -> Result<HashMap<Occasion, u32>, StoreError> {
    let rows = email_outbox::Entity::find()
        .filter(email_outbox::Column::ReferralId.eq(referral.0))
        .filter(email_outbox::Column::Kind.eq(JobKind::GpMessage.as_str()))
        .all(conn)
        .await?;
    let mut latest = HashMap::new();
    for row in rows {
        if let OutboxJob::GpMessage { occasion, version, .. } = OutboxJob::from_row(&row.kind, &row.payload)? {
            let at = latest.entry(occasion).or_insert(version);
            *at = (*at).max(version);
        }
    }
    Ok(latest)
}

/// What marking (or unmarking) a note for the GP did.
#[derive(Clone, Debug)]
pub struct NoteForGpMarked {
    /// The referral, as it stands after the change.
    pub referral: ReferralRecord,
    /// The corrected messages queued, one for each message back already on its way to the practice:
    /// its occasion and its new version. None when nothing had been queued (the practice reads the
    /// message in Trellis, which shows the change at once) or the note already stood as asked.
    pub corrections: Vec<(Occasion, u32)>,
}

impl Store {
    /// Marks the note of `referral`'s event `event_version` for the referring GP practice (`for_gp`), or
    /// unmarks it, after it was written. Where a message back about the referral has already been queued
    /// to the practice's MESH mailbox (at closure, or at first contact), a corrected message is queued in the
    /// same transaction: the next version, which replaces the previous one (`relatesTo`). The change is
    /// audited. A note already standing as asked changes nothing. Two link workers correcting at once: one
    /// wins, the other gets a conflict.
    pub async fn mark_note_for_gp(
        &self,
        id: ReferralId,
        event_version: u32,
        for_gp: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<NoteForGpMarked, StoreError> {
        let txn = self.db.begin().await?;
        let row = referral::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let state = crate::referrals::state_from(&row)?;
        if !trellis_domain::access::may_read_referral(actor, &state) {
            return Err(StoreError::NotFound);
        }
        let event_row = referral_event::Entity::find()
            .filter(referral_event::Column::ReferralId.eq(id.0))
            .filter(referral_event::Column::Version.eq(i64::from(event_version)))
            .one(&txn)
            .await?
            .ok_or(StoreError::UnknownReference("eventVersion"))?;
        let (event_id, was) = (event_row.id, event_row.note_for_gp);
        crate::referrals::event_from(event_row)?.remark_note_for_gp(&state, for_gp, actor)?;
        if was == for_gp {
            txn.rollback().await?;
            let referral = self.referral_unaudited(actor, id).await?;
            return Ok(NoteForGpMarked { referral, corrections: vec![] });
        }
        let changed = referral_event::Entity::update_many()
            .col_expr(referral_event::Column::NoteForGp, Expr::value(for_gp))
            .filter(referral_event::Column::Id.eq(event_id))
            .filter(referral_event::Column::NoteForGp.eq(was))
            .exec(&txn)
            .await?;
        if changed.rows_affected != 1 {
            return Err(StoreError::Conflict { expected: state.version, current: state.version });
        }
        let action = if for_gp { "referral.note_for_gp_marked" } else { "referral.note_for_gp_unmarked" };
        Audit { actor, action, referral: Some(id), offer: None, at: now }.write(&txn).await?;
        let mut corrections = vec![];
        for (occasion, latest) in latest_versions(&txn, id).await? {
            let version = latest + 1;
            let queued = queue_gp_message(&txn, &row, occasion, version, now).await.map_err(|e| match e {
                // Another correction took this version first.
                StoreError::Database(db) if StoreError::is_unique_violation(&db) => {
                    StoreError::Conflict { expected: latest, current: version }
                }
                other => other,
            })?;
            if queued {
                let action = "referral.gp_message_corrected";
                Audit { actor, action, referral: Some(id), offer: None, at: now }.write(&txn).await?;
                corrections.push((occasion, version));
            }
        }
        txn.commit().await?;
        let referral = self.referral_unaudited(actor, id).await?;
        Ok(NoteForGpMarked { referral, corrections })
    }

    /// `version` of the message back to send for `referral` on `occasion`, built now from the committed
    /// referral; `None` if there is nothing to send (a closing message for a referral not closed). The read
    /// is audited as the system's.
    pub async fn gp_message_to_send(
        &self,
        referral: ReferralId,
        occasion: Occasion,
        version: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<MessageBack>, StoreError> {
        let row =
            with_person(referral::Entity::find_by_id(referral.0)).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let record = crate::referrals::record_from(row.referral, row.person)?;
        let system = Actor::system();
        let action = "referral.gp_message_built";
        Audit { actor: &system, action, referral: Some(referral), offer: None, at: now }.write(&self.db).await?;
        if occasion == Occasion::Closure && record.state.status != ReferralStatus::Closed {
            return Ok(None);
        }
        self.build_gp_message(&record, occasion, version, now).await.map(Some)
    }

    /// Sent GP messages whose delivery MESH has not settled yet and whose next check is due (a sent row's
    /// `next_attempt_at` is when to ask MESH again), oldest first.
    pub async fn gp_messages_to_track(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<OutboxEmail>, StoreError> {
        let rows = email_outbox::Entity::find()
            .filter(email_outbox::Column::Kind.eq(JobKind::GpMessage.as_str()))
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
        id: OutboxId,
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
            .filter(email_outbox::Column::Id.eq(id.0))
            .filter(email_outbox::Column::MeshStatus.eq(MeshStatus::Accepted.as_str()))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        if status == MeshStatus::Failed {
            let row = email_outbox::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
            crate::notices::tell_of_failure(&txn, &row, now).await?;
        }
        txn.commit().await?;
        Ok(true)
    }
}
