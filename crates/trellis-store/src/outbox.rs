//! The transactional email outbox.
//!
//! A change that should tell someone writes an outbox row in its own transaction, so an email is never
//! promised without the change, nor the change made without the email. Rows hold references, not
//! personal data; the notifier renders and sends them, claiming due rows so that two workers never send
//! the same row at once (`FOR UPDATE SKIP LOCKED` on PostgreSQL; one atomic `UPDATE … RETURNING` under
//! SQLite's single writer).
//!
//! What a row asks for is one [`OutboxJob`]: the store writes it and the notifier matches on it, so the
//! two cannot drift apart. It is stored as the row's `kind` (the job's tag) and `payload` (its fields as
//! JSON), the shape rows have always had, so rows written before the type existed still read.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Statement,
};
use serde::{Deserialize, Serialize};
use trellis_domain::offer::OfferStatus;
use trellis_domain::referral::ClosureReason;
use trellis_domain::{Actor, OfferId, ReferralId, Role, ServiceId, UserId};
pub use trellis_gp_message::content::Occasion;
use uuid::Uuid;

use crate::convert::unreadable;
use crate::entity::email_outbox;
use crate::ids::OutboxId;
use crate::{Store, StoreError};

impl JobKind {
    /// Every kind, in the order of [`OutboxJob`]'s variants.
    pub fn all() -> impl Iterator<Item = JobKind> {
        <JobKind as strum::IntoEnumIterator>::iter()
    }

    /// The kinds that go by email, each with its template pair in the notifier: all but
    /// [`JobKind::GpMessage`], which goes over MESH.
    pub fn emails() -> impl Iterator<Item = JobKind> {
        Self::all().filter(|k| *k != JobKind::GpMessage)
    }

    /// The stored name: the job's serde tag, its variant's name in snake case.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether this kind of email about an offer goes to the offer's provider (the others about an offer go
    /// to its link worker), so that a provider is shown the delivery of its own emails only.
    pub fn is_to_provider(self) -> bool {
        matches!(self, Self::OfferMade | Self::OfferReminder | Self::OfferEnded)
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::all().find(|k| k.as_str() == s)
    }
}

/// One job in the outbox, with the references its message needs (ids and outcomes, never personal data).
///
/// Serialised with its kind's stored name as the tag (`kind`) and its fields as the `payload`, exactly as
/// the row holds them; [`OutboxJob::kind`] gives the same name. Its kinds, [`JobKind`], are derived from
/// its variants, so a new job is one new variant here and nothing else to keep in step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(JobKind),
    doc = "What an outbox job is, without its references: an email (the notifier has one template pair per \
           kind) or the message back to the GP (over MESH). Stored in the row's `kind` column.",
    derive(Hash, strum::EnumIter, strum::IntoStaticStr),
    strum(serialize_all = "snake_case")
)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum OutboxJob {
    /// A provider is offered a referral.
    OfferMade {
        /// The offer.
        offer: OfferId,
    },
    /// A provider has not answered yet.
    OfferReminder {
        /// The offer.
        offer: OfferId,
    },
    /// The link worker hears the provider's answer.
    OfferAnswered {
        /// The offer.
        offer: OfferId,
        /// The answer as given: the offer may have moved on by the time the email goes.
        status: OfferStatus,
    },
    /// The link worker hears that an offer expired unanswered.
    OfferExpired {
        /// The offer.
        offer: OfferId,
    },
    /// The link worker hears that a provider proposed an onward offer.
    OnwardOfferProposed {
        /// The onward offer.
        offer: OfferId,
    },
    /// The referring practice hears that its referral closed.
    ReferralClosed {
        /// The referral.
        referral: ReferralId,
        /// Why it closed.
        reason: ClosureReason,
    },
    /// The link worker hears that a row could not be delivered.
    DeliveryFailed {
        /// The dead row.
        failed_email: OutboxId,
    },
    /// A provider is asked to confirm a service's capacity.
    CapacityCheck {
        /// The service.
        service: ServiceId,
    },
    /// A provider hears that an offer ended because its referral closed.
    OfferEnded {
        /// The offer.
        offer: OfferId,
        /// How it ended, as the closure decided.
        status: OfferStatus,
    },
    /// The old address of a service's offers hears that they now go elsewhere.
    ServiceEmailChanged {
        /// The service.
        service: ServiceId,
        /// Where its offers went (an organisation's address).
        old: Option<String>,
        /// Where they go now.
        new: Option<String>,
    },
    /// The message back to the referring practice, over MESH to the practice's mailbox.
    GpMessage {
        /// The referral it reports on.
        referral: ReferralId,
        /// Why it is sent (the outcome at closure, or first contact).
        occasion: Occasion,
        /// Which version of the message for this referral and occasion: 1, then one more for each
        /// correction, which replaces the one before. Rows written before corrections existed read as 1.
        #[serde(default = "first_version")]
        version: u32,
    },
    /// A member of staff asked to sign in to the web console; the link is minted when the email is
    /// composed.
    SignInLink {
        /// Who asked.
        user: UserId,
    },
}

/// The version of a GP message row written before corrections existed.
fn first_version() -> u32 {
    1
}

impl OutboxJob {
    /// Its kind, stored in the row's `kind` column.
    pub fn kind(&self) -> JobKind {
        self.into()
    }

    /// The offer it is about, if any.
    pub fn offer(&self) -> Option<OfferId> {
        match self {
            Self::OfferMade { offer }
            | Self::OfferReminder { offer }
            | Self::OfferAnswered { offer, .. }
            | Self::OfferExpired { offer }
            | Self::OnwardOfferProposed { offer }
            | Self::OfferEnded { offer, .. } => Some(*offer),
            _ => None,
        }
    }

    /// The row's `payload` column: the job's fields as JSON.
    fn payload(&self) -> Result<String, StoreError> {
        let mut tagged = serde_json::to_value(self).map_err(|_| StoreError::Corrupt("email_outbox.payload"))?;
        Ok(tagged.get_mut("payload").map(serde_json::Value::take).unwrap_or_default().to_string())
    }

    /// Reads a job back from a row's `kind` and `payload` columns.
    pub(crate) fn from_row(kind: &str, payload: &str) -> Result<Self, StoreError> {
        let payload: serde_json::Value = serde_json::from_str(payload).map_err(unreadable("email_outbox.payload"))?;
        serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
            .map_err(unreadable("email_outbox.payload"))
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
    pub id: OutboxId,
    /// What it is about (the job's kind).
    pub kind: JobKind,
    /// Where it goes.
    pub recipient: String,
    /// What to send, with the references it needs (ids, never personal data).
    pub job: OutboxJob,
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
    /// When the SMTP server (or MESH) accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// For a GP message, MESH's id for it once sent.
    pub mesh_message_id: Option<String>,
    /// For a GP message, what MESH last said of its delivery.
    pub mesh_status: Option<MeshStatus>,
}

/// What MESH says of a GP message it accepted: tracked until acknowledged or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeshStatus {
    /// MESH accepted it; the practice has not yet downloaded and acknowledged it.
    Accepted,
    /// The practice's system downloaded and acknowledged it: delivered.
    Acknowledged,
    /// MESH could not deliver it (undeliverable, expired, or an error): the referral is flagged.
    Failed,
}

impl MeshStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Acknowledged => "acknowledged",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "accepted" => Ok(Self::Accepted),
            "acknowledged" => Ok(Self::Acknowledged),
            "failed" => Ok(Self::Failed),
            _ => Err(StoreError::Corrupt("email_outbox.mesh_status")),
        }
    }
}

impl TryFrom<email_outbox::Model> for OutboxEmail {
    type Error = StoreError;
    fn try_from(m: email_outbox::Model) -> Result<Self, StoreError> {
        let job = OutboxJob::from_row(&m.kind, &m.payload)?;
        Ok(OutboxEmail {
            id: OutboxId(m.id),
            kind: job.kind(),
            recipient: m.recipient,
            job,
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
            mesh_message_id: m.mesh_message_id,
            mesh_status: m.mesh_status.as_deref().map(MeshStatus::parse).transpose()?,
        })
    }
}

/// How a sent row went.
#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    /// By email: the SMTP server accepted it.
    Smtp,
    /// Over MESH (a GP message): MESH accepted it as `message_id`, and its delivery is tracked from
    /// `track_at` until the practice acknowledges it or MESH fails it.
    Mesh {
        /// MESH's id for it.
        message_id: &'a str,
        /// When to first ask MESH how delivery is going.
        track_at: DateTime<Utc>,
    },
}

/// An email to write in the same transaction as the change that causes it.
#[derive(Clone, Debug)]
pub(crate) struct NewEmail {
    pub job: OutboxJob,
    pub recipient: String,
    /// The offer concerned, for [`Store::emails_for_offer`] (the job's own, or a failed row's).
    pub offer: Option<OfferId>,
    pub referral: Option<ReferralId>,
    /// When it becomes due (now, or later for a reminder).
    pub due_at: DateTime<Utc>,
}

impl NewEmail {
    pub(crate) async fn write(self, conn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<OutboxId, StoreError> {
        let id = OutboxId(Uuid::now_v7());
        // A GP message's id is its document's, the same for every attempt and every build of it: MESH's
        // `mex-LocalID`, so that a resend after a lost answer can be recognised.
        let message_id = match self.job {
            OutboxJob::GpMessage { referral, occasion, version } => {
                crate::gp_messages::message_id(referral, occasion, version).to_string()
            }
            _ => format!("<{id}@outbox.trellis>"),
        };
        let model = email_outbox::Model {
            id: id.0,
            kind: self.job.kind().as_str().into(),
            recipient: self.recipient,
            payload: self.job.payload()?,
            subject: None,
            message_id,
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
            mesh_message_id: None,
            mesh_status: None,
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

    /// Records that a claimed row was accepted for delivery, by the SMTP server or by MESH (`transport`).
    /// Returns false if the claim was lost.
    pub async fn mark_sent(
        &self,
        id: OutboxId,
        worker: &str,
        subject: &str,
        transport: Transport<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut update = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value(DeliveryStatus::Sent.as_str()))
            .col_expr(email_outbox::Column::Subject, Expr::value(subject))
            .col_expr(email_outbox::Column::SentAt, Expr::value(now))
            .col_expr(email_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(email_outbox::Column::LastError, Expr::value(Option::<String>::None));
        if let Transport::Mesh { message_id, track_at } = transport {
            // A sent row's `next_attempt_at` is when to ask MESH again how delivery is going.
            update = update
                .col_expr(email_outbox::Column::MeshMessageId, Expr::value(message_id))
                .col_expr(email_outbox::Column::MeshStatus, Expr::value(MeshStatus::Accepted.as_str()))
                .col_expr(email_outbox::Column::NextAttemptAt, Expr::value(track_at));
        }
        let result = update
            .filter(email_outbox::Column::Id.eq(id.0))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Records that a claimed row was not sent because it no longer applies. Returns false if the claim
    /// was lost.
    pub async fn mark_email_skipped(&self, id: OutboxId, worker: &str, why: &str) -> Result<bool, StoreError> {
        let result = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value(DeliveryStatus::Skipped.as_str()))
            .col_expr(email_outbox::Column::LastError, Expr::value(why))
            .col_expr(email_outbox::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(email_outbox::Column::Id.eq(id.0))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Records a failed attempt: due again at `retry_at`, or dead when `retry_at` is `None`.
    pub async fn mark_email_failed(
        &self,
        id: OutboxId,
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
            .filter(email_outbox::Column::Id.eq(id.0))
            .filter(email_outbox::Column::LockedBy.eq(worker))
            .filter(email_outbox::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// The emails about an offer that `actor` may see, oldest first. Only those who see the offer (its
    /// link worker service, the provider it went to, the practice that made its referral) see its emails;
    /// anyone else is answered `NotFound`, as for the offer itself. A provider sees only the emails sent
    /// to it, never those (or their errors) sent to the link worker or the practice.
    pub async fn emails_for_offer(&self, actor: &Actor, offer: OfferId) -> Result<Vec<OutboxEmail>, StoreError> {
        crate::offers::offer_in_sight(&self.db, actor, offer).await?;
        let rows = email_outbox::Entity::find()
            .filter(email_outbox::Column::OfferId.eq(offer.0))
            .order_by_asc(email_outbox::Column::Id)
            .all(&self.db)
            .await?;
        let provider = actor.role == Role::Provider;
        let emails = rows.into_iter().map(OutboxEmail::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(emails.into_iter().filter(|e| !provider || e.kind.is_to_provider()).collect())
    }

    /// Every outbox row, oldest first (operations and tests).
    pub async fn outbox(&self) -> Result<Vec<OutboxEmail>, StoreError> {
        let rows = email_outbox::Entity::find().order_by_asc(email_outbox::Column::Id).all(&self.db).await?;
        rows.into_iter().map(OutboxEmail::try_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_job() -> Vec<OutboxJob> {
        let offer = OfferId(Uuid::now_v7());
        let service = ServiceId(Uuid::now_v7());
        vec![
            OutboxJob::OfferMade { offer },
            OutboxJob::OfferReminder { offer },
            OutboxJob::OfferAnswered { offer, status: OfferStatus::Waitlisted },
            OutboxJob::OfferExpired { offer },
            OutboxJob::OnwardOfferProposed { offer },
            OutboxJob::ReferralClosed { referral: ReferralId(Uuid::now_v7()), reason: ClosureReason::MovedAway },
            OutboxJob::DeliveryFailed { failed_email: OutboxId(Uuid::now_v7()) },
            OutboxJob::CapacityCheck { service },
            OutboxJob::OfferEnded { offer, status: OfferStatus::EndedEarly },
            OutboxJob::ServiceEmailChanged { service, old: None, new: Some("new@example.org".into()) },
            OutboxJob::GpMessage { referral: ReferralId(Uuid::now_v7()), occasion: Occasion::Closure, version: 2 },
            OutboxJob::SignInLink { user: UserId(Uuid::now_v7()) },
        ]
    }

    #[test]
    fn every_job_is_stored_under_its_kinds_name_and_reads_back_the_same() {
        let jobs = every_job();
        let kinds: std::collections::HashSet<_> = jobs.iter().map(OutboxJob::kind).collect();
        assert_eq!(kinds.len(), JobKind::all().count(), "one job for every kind");
        for job in jobs {
            let tagged = serde_json::to_value(&job).unwrap();
            assert_eq!(tagged["kind"], job.kind().as_str(), "{job:?}");
            assert_eq!(OutboxJob::from_row(job.kind().as_str(), &job.payload().unwrap()).unwrap(), job);
        }
    }

    #[test]
    fn payloads_in_the_shape_written_before_jobs_were_typed_still_read() {
        let id = "0190f3a2-7b1c-7d4e-8f00-1c2b3f9a4d5e";
        let uuid = Uuid::parse_str(id).unwrap();
        let read = |kind: &str, payload: String| OutboxJob::from_row(kind, &payload).unwrap();
        assert_eq!(
            read("offer_answered", format!(r#"{{"offer":"{id}","status":"accepted"}}"#)),
            OutboxJob::OfferAnswered { offer: OfferId(uuid), status: OfferStatus::Accepted }
        );
        assert_eq!(
            read("referral_closed", format!(r#"{{"referral":"{id}","reason":"declined_by_person"}}"#)),
            OutboxJob::ReferralClosed { referral: ReferralId(uuid), reason: ClosureReason::DeclinedByPerson }
        );
        assert_eq!(
            read("service_email_changed", format!(r#"{{"service":"{id}","old":null,"new":"b@example.org"}}"#)),
            OutboxJob::ServiceEmailChanged { service: ServiceId(uuid), old: None, new: Some("b@example.org".into()) }
        );
        assert_eq!(
            read("delivery_failed", format!(r#"{{"failed_email":"{id}"}}"#)),
            OutboxJob::DeliveryFailed { failed_email: OutboxId(uuid) }
        );
        assert_eq!(
            read("gp_message", format!(r#"{{"referral":"{id}","occasion":"closure"}}"#)),
            OutboxJob::GpMessage { referral: ReferralId(uuid), occasion: Occasion::Closure, version: 1 },
            "a GP message queued before corrections is the first version"
        );
    }

    #[test]
    fn a_row_whose_payload_does_not_fit_its_kind_is_reported_corrupt() {
        let wrong = OutboxJob::from_row("offer_answered", r#"{"offer":"not-a-uuid"}"#);
        assert!(matches!(wrong, Err(StoreError::Corrupt("email_outbox.payload"))), "{wrong:?}");
        let unknown = OutboxJob::from_row("carrier_pigeon", "{}");
        assert!(matches!(unknown, Err(StoreError::Corrupt(_))), "{unknown:?}");
    }
}
