//! The transactional email outbox.
//!
//! A change that should tell someone writes an outbox row in its own transaction, so an email is never
//! promised without the change, nor the change made without the email. Rows hold references, not
//! personal data; the notifier renders and sends them, claiming due rows so that two workers never send
//! the same row at once (`FOR UPDATE SKIP LOCKED` on PostgreSQL; one atomic `UPDATE … RETURNING` under
//! SQLite's single writer).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Statement,
};
use trellis_domain::{OfferId, ReferralId};
use uuid::Uuid;

use crate::convert::unreadable;
use crate::entity::email_outbox;
use crate::{Store, StoreError};

/// What an email is about; the notifier has one template per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmailKind {
    /// A provider is offered a referral (with the action link).
    OfferMade,
    /// A provider has not answered yet.
    OfferReminder,
    /// The link worker hears that a provider accepted, waitlisted or declined.
    OfferAnswered,
    /// The link worker hears that an offer expired unanswered.
    OfferExpired,
    /// The link worker hears that a provider proposed an onward offer.
    OnwardOfferProposed,
    /// The referring practice hears that its referral closed (reference only).
    ReferralClosed,
    /// The link worker hears that an email could not be delivered.
    DeliveryFailed,
    /// A provider is asked to confirm a service's capacity (with the capacity link).
    CapacityCheck,
    /// A provider hears that an offer ended because its referral closed: the place is no longer needed.
    OfferEnded,
    /// The address a service's offers went to hears that they now go elsewhere (organisations'
    /// addresses only, no personal data).
    ServiceEmailChanged,
    /// A member of staff asked to sign in to the web console (with the sign-in link).
    SignInLink,
}

impl EmailKind {
    /// Every kind.
    pub const ALL: [EmailKind; 11] = [
        Self::OfferMade,
        Self::OfferReminder,
        Self::OfferAnswered,
        Self::OfferExpired,
        Self::OnwardOfferProposed,
        Self::ReferralClosed,
        Self::DeliveryFailed,
        Self::CapacityCheck,
        Self::OfferEnded,
        Self::ServiceEmailChanged,
        Self::SignInLink,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OfferMade => "offer_made",
            Self::OfferReminder => "offer_reminder",
            Self::OfferAnswered => "offer_answered",
            Self::OfferExpired => "offer_expired",
            Self::OnwardOfferProposed => "onward_offer_proposed",
            Self::ReferralClosed => "referral_closed",
            Self::DeliveryFailed => "delivery_failed",
            Self::CapacityCheck => "capacity_check",
            Self::OfferEnded => "offer_ended",
            Self::ServiceEmailChanged => "service_email_changed",
            Self::SignInLink => "sign_in_link",
        }
    }

    /// Whether this kind of email about an offer goes to the offer's provider (the others about an offer go
    /// to its link worker), so that a provider is shown the delivery of its own emails only.
    pub fn is_to_provider(self) -> bool {
        matches!(self, Self::OfferMade | Self::OfferReminder | Self::OfferEnded)
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Delivery state of an outbox row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting to be sent (or retried).
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up after the maximum number of attempts.
    Dead,
    /// Not sent because it no longer applied (an offer answered or withdrawn before its email went).
    Skipped,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Dead => "dead",
            Self::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(Self::Pending),
            "sent" => Ok(Self::Sent),
            "dead" => Ok(Self::Dead),
            "skipped" => Ok(Self::Skipped),
            _ => Err(StoreError::Corrupt("email_outbox.status")),
        }
    }
}

/// One outbox row.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEmail {
    /// Its id.
    pub id: Uuid,
    /// What it is about.
    pub kind: EmailKind,
    /// Where it goes.
    pub recipient: String,
    /// References the template needs (ids, never personal data).
    pub payload: serde_json::Value,
    /// The stable Message-ID every attempt carries.
    pub message_id: String,
    /// The subject, once rendered and sent.
    pub subject: Option<String>,
    /// Where delivery is.
    pub status: DeliveryStatus,
    /// Attempts so far (counted when claimed, so a crash mid-send counts).
    pub attempts: u32,
    /// When it is next due.
    pub next_attempt_at: DateTime<Utc>,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// The offer concerned.
    pub offer: Option<OfferId>,
    /// The referral concerned.
    pub referral: Option<ReferralId>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When the SMTP server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<email_outbox::Model> for OutboxEmail {
    type Error = StoreError;
    fn try_from(m: email_outbox::Model) -> Result<Self, StoreError> {
        Ok(OutboxEmail {
            id: m.id,
            kind: EmailKind::parse(&m.kind).ok_or_else(|| StoreError::Corrupt("email_outbox.kind"))?,
            recipient: m.recipient,
            payload: serde_json::from_str(&m.payload).map_err(unreadable("email_outbox.payload"))?,
            message_id: m.message_id,
            subject: m.subject,
            status: DeliveryStatus::parse(&m.status)?,
            attempts: u32::try_from(m.attempts).unwrap_or(0),
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            offer: m.offer_id.map(OfferId),
            referral: m.referral_id.map(ReferralId),
            created_at: m.created_at,
            sent_at: m.sent_at,
        })
    }
}

/// An email to write in the same transaction as the change that causes it.
#[derive(Clone, Debug)]
pub(crate) struct NewEmail {
    pub kind: EmailKind,
    pub recipient: String,
    pub payload: serde_json::Value,
    pub offer: Option<OfferId>,
    pub referral: Option<ReferralId>,
    /// When it becomes due (now, or later for a reminder).
    pub due_at: DateTime<Utc>,
}

impl NewEmail {
    pub(crate) async fn write(self, conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        let model = email_outbox::Model {
            id,
            kind: self.kind.as_str().into(),
            recipient: self.recipient,
            payload: self.payload.to_string(),
            subject: None,
            message_id: format!("<{id}@outbox.trellis>"),
            status: DeliveryStatus::Pending.as_str().into(),
            attempts: 0,
            next_attempt_at: self.due_at,
            locked_until: None,
            locked_by: None,
            last_error: None,
            offer_id: self.offer.map(|o| o.0),
            referral_id: self.referral.map(|r| r.0),
            created_at: now,
            sent_at: None,
        };
        email_outbox::Entity::insert(model.into_active_model()).exec_without_returning(conn).await?;
        Ok(id)
    }
}

impl Store {
    /// Claims up to `limit` due rows for `worker` until `lease_until`; a row whose lease lapses (its worker
    /// died mid-send) is due again. Each claim counts as an attempt.
    pub async fn claim_due_emails(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEmail>, StoreError> {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Postgres => {
                "UPDATE email_outbox SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
                 AND (locked_until IS NULL OR locked_until < $3) ORDER BY next_attempt_at LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) RETURNING id"
            }
            _ => {
                "UPDATE email_outbox SET locked_by = ?, locked_until = ?, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= ? \
                 AND (locked_until IS NULL OR locked_until < ?) ORDER BY next_attempt_at LIMIT ?) RETURNING id"
            }
        };
        let values: Vec<sea_orm::Value> = match backend {
            DatabaseBackend::Postgres => vec![worker.into(), lease_until.into(), now.into(), i64::from(limit).into()],
            _ => vec![worker.into(), lease_until.into(), now.into(), now.into(), i64::from(limit).into()],
        };
        let rows = self.db.query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
        let ids = rows.iter().map(|r| r.try_get::<Uuid>("", "id")).collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let claimed = email_outbox::Entity::find()
            .filter(email_outbox::Column::Id.is_in(ids))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .order_by_asc(email_outbox::Column::NextAttemptAt)
            .all(&self.db)
            .await?;
        claimed.into_iter().map(OutboxEmail::try_from).collect()
    }

    /// Records that the SMTP server accepted a claimed row. Returns false if the claim was lost.
    pub async fn mark_email_sent(
        &self,
        id: Uuid,
        worker: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value(DeliveryStatus::Sent.as_str()))
            .col_expr(email_outbox::Column::Subject, Expr::value(subject))
            .col_expr(email_outbox::Column::SentAt, Expr::value(now))
            .col_expr(email_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(email_outbox::Column::LastError, Expr::value(Option::<String>::None))
            .filter(email_outbox::Column::Id.eq(id))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Records that a claimed row was not sent because it no longer applies. Returns false if the claim
    /// was lost.
    pub async fn mark_email_skipped(&self, id: Uuid, worker: &str, why: &str) -> Result<bool, StoreError> {
        let result = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value(DeliveryStatus::Skipped.as_str()))
            .col_expr(email_outbox::Column::LastError, Expr::value(why))
            .col_expr(email_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(email_outbox::Column::Id.eq(id))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Records a failed attempt: due again at `retry_at`, or dead when `retry_at` is `None`.
    pub async fn mark_email_failed(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let mut update = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::LastError, Expr::value(error.chars().take(500).collect::<String>()))
            .col_expr(email_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None));
        update = match retry_at {
            Some(at) => update.col_expr(email_outbox::Column::NextAttemptAt, Expr::value(at)),
            None => update.col_expr(email_outbox::Column::Status, Expr::value(DeliveryStatus::Dead.as_str())),
        };
        let result = update
            .filter(email_outbox::Column::Id.eq(id))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Every email about an offer, oldest first.
    pub async fn emails_for_offer(&self, offer: OfferId) -> Result<Vec<OutboxEmail>, StoreError> {
        let rows = email_outbox::Entity::find()
            .filter(email_outbox::Column::OfferId.eq(offer.0))
            .order_by_asc(email_outbox::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter().map(OutboxEmail::try_from).collect()
    }

    /// Every outbox row, oldest first (operations and tests).
    pub async fn outbox(&self) -> Result<Vec<OutboxEmail>, StoreError> {
        let rows = email_outbox::Entity::find().order_by_asc(email_outbox::Column::Id).all(&self.db).await?;
        rows.into_iter().map(OutboxEmail::try_from).collect()
    }
}
