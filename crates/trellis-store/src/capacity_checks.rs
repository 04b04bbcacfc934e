//! The periodic capacity check: every so often each active service's provider is emailed a link to
//! confirm or correct the service's capacity (HSDS 3.1 `service_capacity`), so that link workers see
//! places that are true, not a guess from months ago.
//!
//! The schedule is a durable timer per service (`capacity_checks.next_due_at`) that the notifier's
//! worker runs on every pass, like the offer timers: the worker that moves a due timer on (a conditional
//! `UPDATE … WHERE next_due_at <= now`) is the one that queues the email, in the same transaction, so
//! several workers never ask twice. A service with no timer yet is first asked `every` after it was
//! created; one whose capacity was confirmed more recently than `every` ago is not asked, and its timer
//! moves to `every` after that confirmation.
//!
//! The link is a [`crate::links`] link scoped to one service (`LinkScope::Service`), minted, verified
//! and marked as an offer's is. Opening it ([`Store::open_service_link`]) writes nothing at all. Updating through
//! it ([`Store::update_capacity_via_link`]) checks the numbers, writes the capacity and an audit entry
//! in one transaction, and may be repeated while the link lives: capacity is a current value, so a
//! second answer is a correction, not a replay.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use trellis_domain::directory::{CapacityStatus, ServiceStatus};
use trellis_domain::{Actor, OrganisationId, ServiceId};
use uuid::Uuid;

use crate::entity::{capacity_check, organisation, service, service_capacity};
use crate::ids::LinkId;
use crate::links::{LinkError, LinkKind, Verified, mark_link_used};
use crate::outbox::{NewEmail, OutboxJob};
use crate::{Store, StoreError};

/// The most places a service may say it has: more is a typing slip, not a community group.
pub const MAX_PLACES: i32 = 10_000;

/// What a place is when a service has never said (HSDS `unit`).
pub const DEFAULT_UNIT: &str = "places";

/// A service's capacity as last confirmed: the directory's own [`Capacity`](crate::directory::Capacity),
/// under the name the capacity pages and emails know it by.
pub use crate::directory::Capacity as CurrentCapacity;

/// A service as a capacity-check email may describe it: names and numbers, nothing about anyone.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityNotice {
    /// The service.
    pub service: ServiceId,
    /// Its name.
    pub service_name: String,
    /// The organisation that runs it.
    pub provider_name: String,
    /// Whether it is still listed (an email for a service taken out of the directory is not sent).
    pub active: bool,
    /// Its capacity as recorded, if ever.
    pub capacity: Option<CurrentCapacity>,
}

/// A service reached through a live capacity link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkedService {
    /// The link's id (for logs, never shown).
    pub link: LinkId,
    /// The service.
    pub service: ServiceId,
    /// The provider organisation acting through the link.
    pub provider: OrganisationId,
    /// The service's name.
    pub service_name: String,
    /// The provider's name.
    pub provider_name: String,
    /// Its capacity as recorded, if ever.
    pub capacity: Option<CurrentCapacity>,
    /// Whether that capacity is missing or older than the caller's limit.
    pub stale: bool,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// When the link was last used to update the capacity.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Where the service's offers are emailed now: its own address, else its organisation's.
    pub offers_email: Option<String>,
    /// The service's version as read: the page sends it back, so a save made from numbers an offer
    /// or someone else has since changed is refused rather than undoing them.
    pub version: u32,
}

impl LinkedService {
    /// The actor a capacity link stands for.
    pub fn actor(&self) -> Actor {
        Actor::provider_link(self.provider)
    }
}

/// New capacity for a service, as a provider gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityUpdate {
    /// Places free now.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// Whether it takes people now.
    pub status: CapacityStatus,
}

/// Why numbers given for a capacity are impossible. Each carries the values given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapacityProblem {
    /// Fewer than no places free.
    #[error("places free cannot be less than 0 (got {available})")]
    AvailableNegative {
        /// The value given.
        available: i32,
    },
    /// Fewer than no places, or more than [`MAX_PLACES`].
    #[error("places in all must be from 0 to {MAX_PLACES} (got {maximum})")]
    MaximumOutOfRange {
        /// The value given.
        maximum: i32,
    },
    /// More places free than there are places.
    #[error("places free ({available}) cannot be more than places in all ({maximum})")]
    AvailableAboveMaximum {
        /// Places free given.
        available: i32,
        /// Places in all given.
        maximum: i32,
    },
}

impl CapacityProblem {
    /// The field to put right: `available` or `maximum`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::AvailableNegative { .. } | Self::AvailableAboveMaximum { .. } => "available",
            Self::MaximumOutOfRange { .. } => "maximum",
        }
    }
}

impl CapacityUpdate {
    /// Everything impossible about these numbers (empty when they are fine): 0 ≤ available ≤ maximum ≤
    /// [`MAX_PLACES`].
    pub fn problems(&self) -> Vec<CapacityProblem> {
        let mut problems = Vec::new();
        if self.available < 0 {
            problems.push(CapacityProblem::AvailableNegative { available: self.available });
        }
        if !(0..=MAX_PLACES).contains(&self.maximum) {
            problems.push(CapacityProblem::MaximumOutOfRange { maximum: self.maximum });
        }
        if problems.is_empty() && self.available > self.maximum {
            problems.push(CapacityProblem::AvailableAboveMaximum { available: self.available, maximum: self.maximum });
        }
        problems
    }
}

/// Why capacity could not be updated through a link.
#[derive(Debug, thiserror::Error)]
pub enum CapacityUpdateError {
    /// The link cannot be used, or the store failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The numbers are impossible; nothing was changed.
    #[error("the capacity given is not possible")]
    Rejected(Vec<CapacityProblem>),
    /// The service changed since the page was read (someone else set the numbers, or an offer took a
    /// place); nothing was changed, and the page shows the numbers as they are now.
    #[error("the service changed since it was read: expected version {expected}, now {current}")]
    Conflict {
        /// The version the page was read at.
        expected: u32,
        /// The version now stored.
        current: u32,
    },
}

impl From<StoreError> for CapacityUpdateError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { expected, current } => CapacityUpdateError::Conflict { expected, current },
            e => CapacityUpdateError::Link(LinkError::Store(e)),
        }
    }
}

/// `at + d`, saturating instead of overflowing.
fn after(at: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn active() -> &'static str {
    ServiceStatus::Active.as_str()
}

impl Store {
    /// Queues the capacity-check email of each active service whose check is due at `now`, at most
    /// `limit` of them, and schedules each one's next check `every` later. Returns how many were queued.
    ///
    /// Safe to run from several workers at once: a due check is claimed by moving its timer on with a
    /// conditional `UPDATE`, and only the worker whose update took writes the email, in the same
    /// transaction.
    pub async fn queue_due_capacity_checks(
        &self,
        now: DateTime<Utc>,
        every: TimeDelta,
        limit: u64,
    ) -> Result<usize, StoreError> {
        self.schedule_unscheduled_capacity_checks(every, limit).await?;
        let active_services = Query::select()
            .column(service::Column::Id)
            .from(service::Entity)
            .and_where(service::Column::Status.eq(active()))
            .to_owned();
        let due: Vec<Uuid> = capacity_check::Entity::find()
            .select_only()
            .column(capacity_check::Column::ServiceId)
            .filter(capacity_check::Column::NextDueAt.lte(now))
            .filter(capacity_check::Column::ServiceId.in_subquery(active_services))
            .order_by_asc(capacity_check::Column::NextDueAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut queued = 0;
        for service_id in due {
            // Read before the transaction, so that its first statement is the claim: SQLite then waits its
            // turn to write instead of failing, as it must when a transaction that has read asks to write.
            let Some(svc) = service::Entity::find_by_id(service_id).one(&self.db).await? else { continue };
            let confirmed_at =
                service_capacity::Entity::find_by_id(service_id).one(&self.db).await?.map(|c| c.updated_at);
            // Confirmed since the last check was due (through the API, say): not worth asking yet.
            let (next_due_at, ask) = match confirmed_at {
                Some(at) if after(at, every) > now => (after(at, every), false),
                _ => (after(now, every), true),
            };
            let recipient = match svc.email {
                Some(e) => Some(e),
                None => {
                    organisation::Entity::find_by_id(svc.organisation_id).one(&self.db).await?.and_then(|o| o.email)
                }
            };
            let txn = self.db.begin().await?;
            let mut claim = capacity_check::Entity::update_many()
                .col_expr(capacity_check::Column::NextDueAt, Expr::value(next_due_at));
            if ask {
                claim = claim.col_expr(capacity_check::Column::LastQueuedAt, Expr::value(now));
            }
            let claimed = claim
                .filter(capacity_check::Column::ServiceId.eq(service_id))
                .filter(capacity_check::Column::NextDueAt.lte(now))
                .exec(&txn)
                .await?;
            if claimed.rows_affected != 1 {
                // Another worker moved it on first.
                txn.rollback().await?;
                continue;
            }
            if ask {
                match recipient {
                    Some(recipient) => {
                        NewEmail {
                            job: OutboxJob::CapacityCheck { service: ServiceId(service_id) },
                            recipient,
                            offer: None,
                            referral: None,
                            due_at: now,
                        }
                        .write(&txn, now)
                        .await?;
                        queued += 1;
                    }
                    None => tracing::warn!(service = %service_id, "no address to send a capacity check to"),
                }
            }
            txn.commit().await?;
        }
        Ok(queued)
    }

    /// Gives each active service that has no capacity-check timer one, due `every` after the service was
    /// created (at once, for a service older than that).
    async fn schedule_unscheduled_capacity_checks(&self, every: TimeDelta, limit: u64) -> Result<(), StoreError> {
        let scheduled =
            Query::select().column(capacity_check::Column::ServiceId).from(capacity_check::Entity).to_owned();
        let unscheduled: Vec<(Uuid, DateTime<Utc>)> = service::Entity::find()
            .select_only()
            .columns([service::Column::Id, service::Column::CreatedAt])
            .filter(service::Column::Status.eq(active()))
            .filter(service::Column::Id.not_in_subquery(scheduled))
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        if unscheduled.is_empty() {
            return Ok(());
        }
        let rows = unscheduled.into_iter().map(|(service_id, created_at)| {
            capacity_check::Model { service_id, next_due_at: after(created_at, every), last_queued_at: None }
                .into_active_model()
        });
        // Another worker may schedule the same services meanwhile: the first timer stands.
        capacity_check::Entity::insert_many(rows).on_conflict_do_nothing().exec_without_returning(&self.db).await?;
        Ok(())
    }

    /// When a service is next due a capacity check, if it has been scheduled.
    pub async fn next_capacity_check(&self, service: ServiceId) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(capacity_check::Entity::find_by_id(service.0).one(&self.db).await?.map(|c| c.next_due_at))
    }

    /// What a capacity-check email may say about a service.
    pub async fn capacity_notice(&self, service: ServiceId) -> Result<CapacityNotice, StoreError> {
        let svc = service::Entity::find_by_id(service.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let provider_name = organisation::Entity::find_by_id(svc.organisation_id)
            .one(&self.db)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        Ok(CapacityNotice {
            service,
            active: svc.status == active(),
            service_name: svc.name,
            provider_name,
            capacity: self.current_capacity(service).await?,
        })
    }

    async fn current_capacity(&self, service: ServiceId) -> Result<Option<CurrentCapacity>, StoreError> {
        service_capacity::Entity::find_by_id(service.0).one(&self.db).await?.map(CurrentCapacity::try_from).transpose()
    }

    /// Opens a capacity link: the service and its capacity as recorded, `stale` when that is missing or
    /// stale by [`Store::policy`]. Writes nothing: mail scanners open links.
    pub async fn open_service_link(&self, token: &str, now: DateTime<Utc>) -> Result<LinkedService, LinkError> {
        let Verified { link, subject: svc } = self.verify_link::<service::Entity>(token, now).await?;
        let service = ServiceId(svc.id);
        let provider =
            organisation::Entity::find_by_id(svc.organisation_id).one(&self.db).await.map_err(StoreError::from)?;
        let offers_email = svc.email.clone().or_else(|| provider.as_ref().and_then(|o| o.email.clone()));
        let provider_name = provider.map(|o| o.name).unwrap_or_default();
        let capacity = self.current_capacity(service).await?;
        let stale = capacity.as_ref().is_none_or(|c| self.policy.capacity_stale(c.updated_at, now));
        Ok(LinkedService {
            link: link.id,
            service,
            provider: OrganisationId(svc.organisation_id),
            service_name: svc.name,
            provider_name,
            capacity,
            stale,
            expires_at: link.expires_at,
            last_used_at: link.used_at,
            offers_email,
            version: crate::convert::version(svc.version)?,
        })
    }

    /// Sets a service's capacity through its link, stamped `now`, after checking the numbers (nothing is
    /// changed when they are impossible) and that the service is still at `expected_version`, the
    /// version the page showed (else `Conflict`: an offer took a place, or someone else set them). The capacity, the link's last use and an audit entry
    /// (`service.capacity_updated`, by the provider through its link) are written in one transaction.
    /// Returns the capacity as saved.
    pub async fn update_capacity_via_link(
        &self,
        token: &str,
        expected_version: u32,
        update: CapacityUpdate,
        now: DateTime<Utc>,
    ) -> Result<CurrentCapacity, CapacityUpdateError> {
        let Verified { link, subject: svc } = self.verify_link::<service::Entity>(token, now).await?;
        let problems = update.problems();
        if !problems.is_empty() {
            return Err(CapacityUpdateError::Rejected(problems));
        }
        let actor = Actor::provider_link(OrganisationId(svc.organisation_id));
        // Read before the transaction, so that its first statement writes (see the capacity checks above).
        let unit = service_capacity::Entity::find_by_id(svc.id)
            .one(&self.db)
            .await
            .map_err(StoreError::from)?
            .map(|c| c.unit)
            .unwrap_or_else(|| DEFAULT_UNIT.to_owned());
        let txn = self.db.begin().await.map_err(StoreError::from)?;
        crate::directory::bump_service_version(&txn, svc.id, Some(expected_version)).await?;
        let row = service_capacity::Model {
            service_id: svc.id,
            available: update.available,
            maximum: update.maximum,
            unit,
            status: update.status.as_str().into(),
            updated_at: now,
        };
        service_capacity::Entity::insert(row.clone().into_active_model())
            .on_conflict(
                OnConflict::column(service_capacity::Column::ServiceId)
                    .update_columns([
                        service_capacity::Column::Available,
                        service_capacity::Column::Maximum,
                        service_capacity::Column::Status,
                        service_capacity::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(StoreError::from)?;
        mark_link_used(&txn, LinkKind::Service, link.id, now).await?;
        let detail = serde_json::json!({
            "service": svc.id,
            "available": update.available,
            "maximum": update.maximum,
            "status": update.status.as_str(),
        });
        crate::directory::audit(&txn, &actor, "service.capacity_updated", detail, now).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(CurrentCapacity::try_from(row)?)
    }
}

impl Store {
    /// Changes, through a service's capacity link, where its offers are emailed: the provider's own
    /// choice, which the network lead cannot make for it. In one transaction: the new address, the
    /// link's last use, an audit entry with the old and new address (`service.email_changed`) and an
    /// email telling the old address. Returns whether anything changed (the same address changes
    /// nothing).
    pub async fn change_service_email_via_link(
        &self,
        token: &str,
        email: &trellis_domain::values::EmailAddress,
        now: DateTime<Utc>,
    ) -> Result<bool, LinkError> {
        let Verified { link, subject: svc } = self.verify_link::<service::Entity>(token, now).await?;
        let new = Some(email.as_str().to_owned());
        if svc.email == new {
            return Ok(false);
        }
        let actor = Actor::provider_link(OrganisationId(svc.organisation_id));
        let txn = self.db.begin().await.map_err(StoreError::from)?;
        let changed = service::Entity::update_many()
            .col_expr(service::Column::Email, Expr::value(new.clone()))
            .col_expr(service::Column::UpdatedAt, Expr::value(now))
            .filter(service::Column::Id.eq(svc.id))
            .exec(&txn)
            .await
            .map_err(StoreError::from)?;
        if changed.rows_affected != 1 {
            txn.rollback().await.map_err(StoreError::from)?;
            return Err(LinkError::Invalid);
        }
        mark_link_used(&txn, LinkKind::Service, link.id, now).await?;
        let (service, organisation) = (ServiceId(svc.id), OrganisationId(svc.organisation_id));
        crate::directory::record_email_change(&txn, &actor, service, organisation, svc.email, new, now).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(available: i32, maximum: i32) -> CapacityUpdate {
        CapacityUpdate { available, maximum, status: CapacityStatus::Open }
    }

    #[test]
    fn possible_capacities_have_no_problems() {
        for (available, maximum) in [(0, 0), (0, 10), (5, 20), (20, 20), (MAX_PLACES, MAX_PLACES)] {
            assert_eq!(update(available, maximum).problems(), vec![], "{available} of {maximum}");
        }
    }

    #[test]
    fn impossible_capacities_name_the_field_and_carry_the_values() {
        let cases = [
            (update(-1, 10), vec![CapacityProblem::AvailableNegative { available: -1 }]),
            (update(1, MAX_PLACES + 1), vec![CapacityProblem::MaximumOutOfRange { maximum: MAX_PLACES + 1 }]),
            (update(0, -3), vec![CapacityProblem::MaximumOutOfRange { maximum: -3 }]),
            (update(12, 10), vec![CapacityProblem::AvailableAboveMaximum { available: 12, maximum: 10 }]),
            (
                update(-1, -1),
                vec![
                    CapacityProblem::AvailableNegative { available: -1 },
                    CapacityProblem::MaximumOutOfRange { maximum: -1 },
                ],
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(given.problems(), expected, "{given:?}");
        }
        assert_eq!(CapacityProblem::AvailableAboveMaximum { available: 12, maximum: 10 }.field(), "available");
        assert_eq!(CapacityProblem::MaximumOutOfRange { maximum: 10_001 }.field(), "maximum");
        assert_eq!(
            CapacityProblem::AvailableAboveMaximum { available: 12, maximum: 10 }.to_string(),
            "places free (12) cannot be more than places in all (10)"
        );
    }

    #[test]
    fn time_arithmetic_saturates() {
        assert_eq!(after(DateTime::<Utc>::MAX_UTC, TimeDelta::days(1)), DateTime::<Utc>::MAX_UTC);
    }
}
