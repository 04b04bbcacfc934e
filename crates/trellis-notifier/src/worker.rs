//! The outbox worker: runs the offer timers and the capacity checks, then claims due outbox rows,
//! renders and sends them, and records the outcome.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use trellis_domain::offer::link::{LinkPurpose, link_expiry};
use trellis_gp_message::mesh::MeshClient;
use trellis_store::Store;
use trellis_store::links::LinkScope;
use trellis_store::outbox::{MeshStatus, OutboxEmail, OutboxJob, Transport};
use trellis_store::sign_in::SIGN_IN_LINK_LIFETIME;

use crate::NotifierError;
use crate::mailer::{Mailer, OutgoingEmail};
use crate::templates::Letter;

/// How a worker paces itself.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Names this worker on the rows it claims; unique per running worker (host and process id do).
    pub worker_id: String,
    /// How long to wait after a pass that found nothing more to do.
    pub poll_interval: Duration,
    /// Rows claimed per pass; also the most offers reminded or expired per pass.
    pub batch: u32,
    /// How long a claim holds; a row whose lease lapses (its worker died) is due again. A pass stops
    /// sending at half the lease, so keep it well above `batch` times the SMTP timeout.
    pub lease: Duration,
    /// Attempts before a row is given up (dead) and the link worker told. At least 1.
    pub max_attempts: u32,
    /// The wait after the first failure; each further failure doubles it, plus up to half again at random
    /// so that rows failing together do not retry together.
    pub base_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Where Trellis is reached from outside, without a trailing slash (`https://trellis.example`):
    /// provider links are `{public_base_url}/offers/{token}`.
    pub public_base_url: String,
    /// How long a provider link minted for an email keeps working.
    pub offer_link_ttl: Duration,
    /// How often each active service's provider is asked to confirm its capacity. A new service is first
    /// asked this long after it was created; one whose capacity was confirmed meanwhile, this long after
    /// that.
    pub capacity_check_every: Duration,
    /// How long the capacity link in a capacity-check email keeps working.
    pub capacity_link_ttl: Duration,
    /// How long a referral's idempotency key is remembered; each pass forgets the older ones.
    pub idempotency_key_ttl: Duration,
    /// How often MESH is asked about a GP message it accepted, until it is acknowledged or failed.
    pub mesh_track_every: Duration,
}

impl WorkerSettings {
    /// The defaults: poll every 5 s, 20 rows a pass, 5 min lease, 8 attempts from 1 min apart doubling up
    /// to 6 h (about 2 h from first to last attempt), links good for 14 days, capacity checked every 28 days.
    pub fn new(worker_id: impl Into<String>, public_base_url: impl Into<String>) -> Self {
        WorkerSettings {
            worker_id: worker_id.into(),
            poll_interval: Duration::from_secs(5),
            batch: 20,
            lease: Duration::from_secs(5 * 60),
            max_attempts: 8,
            base_backoff: Duration::from_secs(60),
            max_backoff: Duration::from_secs(6 * 60 * 60),
            public_base_url: public_base_url.into(),
            offer_link_ttl: Duration::from_secs(14 * 24 * 60 * 60),
            capacity_check_every: Duration::from_secs(28 * 24 * 60 * 60),
            capacity_link_ttl: Duration::from_secs(14 * 24 * 60 * 60),
            idempotency_key_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            mesh_track_every: Duration::from_secs(5 * 60),
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Reminders queued for unanswered offers.
    pub reminders_queued: usize,
    /// Offers expired unanswered.
    pub offers_expired: usize,
    /// Capacity-check emails queued for services whose check was due.
    pub capacity_checks_queued: usize,
    /// Idempotency keys forgotten for being older than `idempotency_key_ttl`.
    pub idempotency_keys_forgotten: u64,
    /// Lapsed grants to see an accepted offer's contact details again, forgotten.
    pub reveal_grants_forgotten: u64,
    /// Rows claimed for sending.
    pub claimed: usize,
    /// Rows the mail server accepted.
    pub sent: usize,
    /// Rows that failed and will be tried again.
    pub retrying: usize,
    /// Rows that failed their last attempt and were given up.
    pub dead: usize,
    /// Rows whose claim lapsed before the outcome was recorded (another worker may have them).
    pub lost_claims: usize,
    /// Claimed rows left unsent because the pass ran past half the lease; due again when it lapses.
    pub deferred: usize,
    /// Provider emails not sent because their offer had moved on, or their service left the directory.
    pub skipped: usize,
    /// Store failures (logged), after which the pass went on with its next step.
    pub errors: usize,
    /// GP messages MESH reported acknowledged by the practice in this pass.
    pub gp_messages_acknowledged: usize,
    /// GP messages MESH reported failed in this pass (each flags its referral).
    pub gp_messages_failed: usize,
}

/// Drains the outbox. Several workers may run against one database: each row is claimed by one at a time.
#[derive(Debug)]
pub struct Worker {
    store: Store,
    mailer: Mailer,
    mesh: Option<MeshClient>,
    settings: WorkerSettings,
}

/// What a delivered row was: its subject, and MESH's id for a GP message.
struct Delivered {
    subject: String,
    mesh_message_id: Option<String>,
}

/// `at + d`, saturating instead of overflowing.
fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d).ok().and_then(|d| at.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The wait after failed attempt number `attempt` (1-based): `base · 2^(attempt-1)`, capped at `max`,
/// plus a random fraction of up to half of that.
pub fn backoff(base: Duration, max: Duration, attempt: u32, rng: &mut impl Rng) -> Duration {
    let doubling = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let delay = base.saturating_mul(doubling).min(max);
    delay.saturating_add(delay.mul_f64(rng.random_range(0.0..0.5)))
}

impl Worker {
    /// A worker over `store` sending through `mailer`.
    pub fn new(store: Store, mailer: Mailer, mut settings: WorkerSettings) -> Self {
        settings.max_attempts = settings.max_attempts.max(1);
        settings.batch = settings.batch.max(1);
        settings.public_base_url = settings.public_base_url.trim_end_matches('/').to_string();
        Worker { store, mailer, mesh: None, settings }
    }

    /// Sends the messages back to GP practices through `mesh`. Without it they are skipped, "not sent".
    pub fn with_mesh(mut self, mesh: MeshClient) -> Self {
        self.mesh = Some(mesh);
        self
    }

    /// Its settings.
    pub fn settings(&self) -> &WorkerSettings {
        &self.settings
    }

    /// Runs passes until `shutdown` completes: straight on while a pass fills its batch, else after
    /// `poll_interval`. A pass under way is finished first, so no claimed row is left mid-send.
    pub async fn run_until(self, shutdown: impl Future) {
        let mut shutdown = std::pin::pin!(shutdown);
        tracing::info!(worker = %self.settings.worker_id, mailer = ?self.mailer, "outbox worker started");
        loop {
            let report = self.tick(Utc::now()).await;
            let busy = report.claimed >= self.settings.batch as usize && report.errors == 0;
            let pause = if busy { Duration::ZERO } else { self.settings.poll_interval };
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!(worker = %self.settings.worker_id, "outbox worker stopped");
    }

    /// One pass at `now`: queue due reminders, expire overdue offers, queue due capacity checks, forget
    /// expired idempotency keys, then send
    /// what is due. A failing
    /// step is logged and counted, and the pass goes on, so a stuck timer never stops mail.
    pub async fn tick(&self, now: DateTime<Utc>) -> TickReport {
        let started = Instant::now();
        // Time moves on during a pass (SMTP is slow); outcomes are stamped with `now` plus that.
        let clock = || later(now, started.elapsed());
        let worker = self.settings.worker_id.as_str();
        let limit = u64::from(self.settings.batch);
        let mut report = TickReport::default();

        match self.store.send_due_reminders(now, limit).await {
            Ok(n) => report.reminders_queued = n,
            Err(e) => {
                tracing::warn!(worker, error = %e, "queueing offer reminders failed");
                report.errors += 1;
            }
        }
        match self.store.expire_due_offers(now, limit).await {
            Ok(n) => report.offers_expired = n,
            Err(e) => {
                tracing::warn!(worker, error = %e, "expiring offers failed");
                report.errors += 1;
            }
        }
        let every = TimeDelta::from_std(self.settings.capacity_check_every).unwrap_or(TimeDelta::MAX);
        match self.store.queue_due_capacity_checks(now, every, limit).await {
            Ok(n) => report.capacity_checks_queued = n,
            Err(e) => {
                tracing::warn!(worker, error = %e, "queueing capacity checks failed");
                report.errors += 1;
            }
        }
        let forget_before = now - TimeDelta::from_std(self.settings.idempotency_key_ttl).unwrap_or(TimeDelta::MAX);
        match self.store.forget_idempotency_keys(forget_before).await {
            Ok(n) => report.idempotency_keys_forgotten = n,
            Err(e) => {
                tracing::warn!(worker, error = %e, "forgetting expired idempotency keys failed");
                report.errors += 1;
            }
        }
        match self.store.forget_lapsed_reveal_grants(now).await {
            Ok(n) => report.reveal_grants_forgotten = n,
            Err(e) => {
                tracing::warn!(worker, error = %e, "forgetting lapsed reveal grants failed");
                report.errors += 1;
            }
        }
        let claimed = match self
            .store
            .claim_due_emails(worker, now, later(now, self.settings.lease), self.settings.batch)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(worker, error = %e, "claiming due emails failed");
                report.errors += 1;
                return report;
            }
        };
        report.claimed = claimed.len();
        for row in claimed {
            // Past half the lease, leave the rest to lapse and be claimed again, rather than risk sending a
            // row that another worker has claimed meanwhile.
            if started.elapsed() >= self.settings.lease / 2 {
                report.deferred += 1;
                continue;
            }
            if let Some(why) = self.obsolete(&row).await {
                match self.store.mark_email_skipped(row.id, worker, why).await {
                    Ok(true) => report.skipped += 1,
                    Ok(false) => report.lost_claims += 1,
                    Err(e) => {
                        tracing::warn!(worker, email = %row.id, error = %e, "recording a skipped email failed");
                        report.errors += 1;
                    }
                }
                continue;
            }
            let outcome = self.deliver(&row, clock()).await;
            if let Err(e) = self.record(&row, outcome, clock(), &mut report).await {
                // The claim lapses and the row is tried again.
                tracing::warn!(worker, email = %row.id, error = %e, "recording an email's outcome failed");
                report.errors += 1;
            }
        }
        if report.deferred > 0 {
            tracing::warn!(
                worker,
                deferred = report.deferred,
                "sending ran past half the lease; the rest wait for it to lapse"
            );
        }
        self.track_gp_messages(now, &mut report).await;
        report
    }

    /// Asks MESH about the GP messages it accepted whose check is due, and records each answer.
    async fn track_gp_messages(&self, now: DateTime<Utc>, report: &mut TickReport) {
        let Some(mesh) = &self.mesh else { return };
        let worker = self.settings.worker_id.as_str();
        let rows = match self.store.gp_messages_to_track(now, u64::from(self.settings.batch)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(worker, error = %e, "listing GP messages to track failed");
                report.errors += 1;
                return;
            }
        };
        for row in rows {
            let Some(mesh_id) = &row.mesh_message_id else { continue };
            let (status, why) = match mesh.track(mesh_id).await {
                Ok(tracking) => crate::gp_delivery::settled(&tracking),
                Err(e) => {
                    tracing::warn!(worker, email = %row.id, error = %e, "tracking a GP message on MESH failed; will ask again");
                    (MeshStatus::Accepted, None)
                }
            };
            let next_check = later(now, self.settings.mesh_track_every);
            match self.store.record_gp_message_tracking(row.id, status, why.as_deref(), next_check, now).await {
                Ok(true) if status == MeshStatus::Acknowledged => {
                    tracing::info!(worker, email = %row.id, mailbox = %row.recipient, "GP message acknowledged by the practice");
                    report.gp_messages_acknowledged += 1;
                }
                Ok(true) if status == MeshStatus::Failed => {
                    tracing::error!(worker, email = %row.id, mailbox = %row.recipient, why = why.as_deref().unwrap_or_default(), "MESH could not deliver a GP message; the referral is flagged and the link worker told");
                    report.gp_messages_failed += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(worker, email = %row.id, error = %e, "recording a GP message's tracking failed");
                    report.errors += 1;
                }
            }
        }
    }

    async fn record(
        &self,
        row: &OutboxEmail,
        outcome: Result<Delivered, NotifierError>,
        at: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), NotifierError> {
        let worker = self.settings.worker_id.as_str();
        let kind = row.kind.as_str();
        match outcome {
            Ok(Delivered { subject, mesh_message_id: Some(mesh_id) }) => {
                let track_at = later(at, self.settings.mesh_track_every);
                let mesh = Transport::Mesh { message_id: &mesh_id, track_at };
                if self.store.mark_sent(row.id, worker, &subject, mesh, at).await? {
                    tracing::info!(worker, email = %row.id, kind, mailbox = %row.recipient, mesh_message = %mesh_id, "GP message accepted by MESH");
                    report.sent += 1;
                } else {
                    tracing::warn!(worker, email = %row.id, kind, "GP message sent after its claim lapsed; MESH may hold it twice (same local id)");
                    report.lost_claims += 1;
                }
            }
            Ok(Delivered { subject, mesh_message_id: None }) => {
                if self.store.mark_sent(row.id, worker, &subject, Transport::Smtp, at).await? {
                    tracing::debug!(worker, email = %row.id, kind, attempt = row.attempts, "email sent");
                    report.sent += 1;
                } else {
                    tracing::warn!(worker, email = %row.id, kind, "email sent after its claim lapsed; it may be sent twice");
                    report.lost_claims += 1;
                }
            }
            Err(error) if error.is_permanent() => {
                let error = error.to_string();
                if self.store.bury_email(row.id, worker, &error, at).await? {
                    tracing::error!(worker, email = %row.id, kind, mailbox = %row.recipient, attempts = row.attempts, %error, "given up at once: the refusal is permanent, retrying cannot help; the referral is flagged and the link worker told (check TRELLIS_MESH_PASSWORD, TRELLIS_MESH_SHARED_KEY and the practice's MESH mailbox id)");
                    report.dead += 1;
                } else {
                    report.lost_claims += 1;
                }
            }
            Err(error) if row.attempts >= self.settings.max_attempts => {
                let error = error.to_string();
                if self.store.bury_email(row.id, worker, &error, at).await? {
                    tracing::error!(worker, email = %row.id, kind, attempts = row.attempts, %error, "email given up after its last attempt");
                    report.dead += 1;
                } else {
                    report.lost_claims += 1;
                }
            }
            Err(error) => {
                let wait =
                    backoff(self.settings.base_backoff, self.settings.max_backoff, row.attempts, &mut rand::rng());
                let retry_at = later(at, wait);
                let error = error.to_string();
                if self.store.mark_email_failed(row.id, worker, &error, Some(retry_at)).await? {
                    tracing::warn!(worker, email = %row.id, kind, attempt = row.attempts, %retry_at, %error, "email not sent; will retry");
                    report.retrying += 1;
                } else {
                    report.lost_claims += 1;
                }
            }
        }
        Ok(())
    }

    /// Why a provider's offer email or reminder no longer applies: the offer was answered, withdrawn or
    /// expired after the email was queued (an SMTP outage can make that gap long). Likewise a capacity
    /// check for a service taken out of the directory meanwhile.
    async fn obsolete(&self, row: &OutboxEmail) -> Option<&'static str> {
        match row.job {
            OutboxJob::GpMessage { .. } if self.mesh.is_none() => {
                Some("not sent: MESH is not configured (the practice can download the message from Trellis)")
            }
            OutboxJob::OfferMade { offer } | OutboxJob::OfferReminder { offer } => {
                let notice = self.store.offer_notice(offer).await.ok()?;
                (!notice.status.awaits_provider()).then_some("the offer no longer awaits the provider's answer")
            }
            OutboxJob::CapacityCheck { service } => {
                let notice = self.store.capacity_notice(service).await.ok()?;
                (!notice.active).then_some("the service is no longer in the directory")
            }
            _ => None,
        }
    }

    /// Renders and sends one row: an email through the mailer, a GP message through MESH.
    async fn deliver(&self, row: &OutboxEmail, now: DateTime<Utc>) -> Result<Delivered, NotifierError> {
        if let (&OutboxJob::GpMessage { referral, occasion, version }, Some(mesh)) = (&row.job, &self.mesh) {
            let (subject, mesh_id) =
                crate::gp_delivery::send(&self.store, mesh, row, referral, (occasion, version), now).await?;
            return Ok(Delivered { subject, mesh_message_id: Some(mesh_id) });
        }
        let email = self.compose(row, now).await?;
        self.mailer.send(&email).await?;
        Ok(Delivered { subject: email.subject, mesh_message_id: None })
    }

    async fn compose(&self, row: &OutboxEmail, now: DateTime<Utc>) -> Result<OutgoingEmail, NotifierError> {
        let sign_in = self.settings.public_base_url.as_str();
        let rendered = match &row.job {
            &OutboxJob::OfferMade { offer } | &OutboxJob::OfferReminder { offer } => {
                let notice = self.store.offer_notice(offer).await?;
                // Minted now, so the raw token exists only in this email. A retry mints another; the
                // unsent one is harmless, being scoped to the same offer and expiring. A reminder's link
                // never outlives the offer it chases.
                let first = matches!(row.job, OutboxJob::OfferMade { .. });
                let purpose = if first { LinkPurpose::Offer } else { LinkPurpose::Reminder };
                let link_expires_at = link_expiry(
                    purpose,
                    now,
                    TimeDelta::from_std(self.settings.offer_link_ttl).unwrap_or(TimeDelta::MAX),
                    notice.expires_at,
                );
                let token = self.store.mint_link(LinkScope::Offer(offer), link_expires_at, now).await?;
                let link = format!("{}/offers/{token}", self.settings.public_base_url);
                let letter = if first {
                    Letter::OfferMade { notice: &notice, link: &link, link_expires_at }
                } else {
                    Letter::OfferReminder { notice: &notice, link: &link, link_expires_at }
                };
                letter.render(sign_in)?
            }
            &OutboxJob::OfferAnswered { offer, status } => {
                let notice = self.store.offer_notice(offer).await?;
                // The answer as queued: the offer may have moved on (waitlisted, then accepted) since.
                Letter::OfferAnswered { notice: &notice, answer: status }.render(sign_in)?
            }
            &OutboxJob::OfferExpired { offer } => {
                let notice = self.store.offer_notice(offer).await?;
                Letter::OfferExpired { notice: &notice }.render(sign_in)?
            }
            &OutboxJob::OnwardOfferProposed { offer } => {
                let notice = self.store.offer_notice(offer).await?;
                Letter::OnwardOfferProposed { notice: &notice }.render(sign_in)?
            }
            &OutboxJob::ReferralClosed { referral, .. } => {
                let notice = self.store.referral_notice(referral).await?;
                Letter::ReferralClosed { notice: &notice }.render(sign_in)?
            }
            &OutboxJob::DeliveryFailed { failed_email } => {
                let failed = self.store.outbox_email(failed_email).await?;
                let offer = match failed.offer {
                    Some(id) => Some(self.store.offer_notice(id).await?),
                    None => None,
                };
                Letter::DeliveryFailed {
                    failed_kind: failed.kind,
                    failed_recipient: &failed.recipient,
                    attempts: failed.attempts,
                    offer: offer.as_ref(),
                    referral_reference: failed.referral.map(trellis_store::notices::referral_reference),
                }
                .render(sign_in)?
            }
            &OutboxJob::OfferEnded { offer, status } => {
                let notice = self.store.offer_notice(offer).await?;
                // How it ended as queued, like an answer.
                Letter::OfferEnded { notice: &notice, ended: status }.render(sign_in)?
            }
            &OutboxJob::CapacityCheck { service } => {
                let notice = self.store.capacity_notice(service).await?;
                // Minted now, like an offer link: the raw token exists only in this email.
                let link_expires_at = later(now, self.settings.capacity_link_ttl);
                let token = self.store.mint_link(LinkScope::Service(service), link_expires_at, now).await?;
                let link = format!("{}/capacity/{token}", self.settings.public_base_url);
                Letter::CapacityCheck { notice: &notice, link: &link, link_expires_at }.render(sign_in)?
            }
            OutboxJob::SignInLink { user } => {
                // Minted now, like an offer link: the raw token exists only in this email.
                let link_expires_at = later(now, SIGN_IN_LINK_LIFETIME);
                let token = self.store.create_sign_in_link(*user, link_expires_at, now).await?;
                let link = format!("{}/sign-in/{token}", self.settings.public_base_url);
                Letter::SignInLink { link: &link, link_expires_at }.render(sign_in)?
            }
            OutboxJob::GpMessage { .. } => return Err(NotifierError::NoGpMessage),
            OutboxJob::ServiceEmailChanged { service, new, .. } => {
                let notice = self.store.capacity_notice(*service).await?;
                Letter::ServiceEmailChanged { notice: &notice, new_address: new.as_deref(), changed_at: row.created_at }
                    .render(sign_in)?
            }
        };
        Ok(OutgoingEmail {
            message_id: row.message_id.clone(),
            to: row.recipient.clone(),
            sender_name: rendered.sender_name,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_with_up_to_half_again_of_jitter_and_stops_at_the_cap() {
        let base = Duration::from_secs(60);
        let max = Duration::from_secs(3600);
        let mut rng = rand::rng();
        for _ in 0..200 {
            for (attempt, floor) in [(1, 60), (2, 120), (3, 240), (7, 3600), (40, 3600), (u32::MAX, 3600)] {
                let wait = backoff(base, max, attempt, &mut rng);
                let floor = Duration::from_secs(floor);
                assert!(wait >= floor && wait < floor.mul_f64(1.5), "attempt {attempt}: {wait:?}");
            }
        }
        assert_eq!(backoff(base, max, 0, &mut rng).as_secs() / 60, 1, "attempt 0 is treated as the first");
    }

    #[test]
    fn time_arithmetic_saturates_instead_of_panicking() {
        assert_eq!(later(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)), DateTime::<Utc>::MAX_UTC);
        assert_eq!(later(DateTime::<Utc>::MIN_UTC, Duration::MAX), DateTime::<Utc>::MAX_UTC);
    }
}
