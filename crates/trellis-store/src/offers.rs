//! Offers: a referral handed to one provider's service, and what the provider may see of it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use trellis_domain::access::ReferralScope;
use trellis_domain::offer::{DeclineReason, NewOffer, Offer, OfferCommand, OfferEvent, OfferStatus};
use trellis_domain::referral::{AttendanceEvidence, ClosureReason, ReferralCommand, ReferralStatus};
use trellis_domain::values::{DateOfBirth, Need};
use trellis_domain::{Actor, OfferId, OrganisationId, ReferralId, Role, ServiceId};
use uuid::Uuid;

use crate::audit::Audit;
use crate::convert::{stored, unreadable, version};
use crate::entity::{offer, offer_event, organisation, referral, referral_demographics, service, user};
use crate::outbox::{NewEmail, OutboxJob};
use crate::referrals::state_from;
use crate::{Store, StoreError};

/// An offer with the names a reader needs.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferRecord {
    /// Lifecycle state.
    pub state: Offer,
    /// The service's name.
    pub service_name: String,
    /// The provider's name.
    pub provider_name: String,
    /// What the link worker wrote for the provider.
    pub note_for_provider: Option<String>,
    /// When it expires unanswered.
    pub expires_at: DateTime<Utc>,
    /// When the provider gets a reminder, if still unanswered.
    pub remind_at: Option<DateTime<Utc>>,
}

/// What a provider sees: a summary before accepting; contact details only after.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderOfferView {
    /// The offer.
    pub offer: OfferRecord,
    /// The person's first name.
    pub first_name: String,
    /// An age band, never the date of birth.
    pub age_band: &'static str,
    /// What matters to them.
    pub needs: Vec<Need>,
    /// Contact details, once the provider has accepted, and only while the referral is open.
    pub contact: Option<ContactDetails>,
    /// Whether the referral has closed, so the place is no longer needed.
    pub referral_closed: bool,
}

/// A page of the offers made to a provider.
#[derive(Clone, Debug)]
pub struct ProviderOfferPage {
    /// The offers on the page, newest first.
    pub offers: Vec<ProviderOfferView>,
    /// Whether older ones follow.
    pub has_next: bool,
}

/// How to reach the person, shown to a provider that accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactDetails {
    /// Full name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// How they like to be contacted.
    pub preferred_contact: String,
}

/// When an unanswered offer is chased and when it lapses: [`Store::policy`] makes them.
pub use trellis_domain::policy::OfferTimers;

/// An offer to make ([`Store::make_offer`]). A link worker acts against the referral's
/// `expected_version`; a provider proposing an onward offer names the offer it accepted in `part_of`.
#[derive(Clone, Debug)]
pub struct OfferRequest {
    /// The referral offered.
    pub referral: ReferralId,
    /// The referral's version the link worker saw; `None` for a provider's onward offer, which does not
    /// change the referral.
    pub expected_version: Option<u32>,
    /// The service offered to.
    pub service: ServiceId,
    /// What the link worker (or proposing provider) tells the provider.
    pub note: Option<String>,
    /// The accepted offer this one is onward from.
    pub part_of: Option<OfferId>,
    /// When it is chased and when it lapses.
    pub timers: OfferTimers,
}

impl OfferRequest {
    /// An offer of `referral` to `service` with `timers`: no version checked, no note, not onward.
    pub fn new(referral: ReferralId, service: ServiceId, timers: OfferTimers) -> Self {
        OfferRequest { referral, expected_version: None, service, note: None, part_of: None, timers }
    }

    /// Made against the referral's `version`, as a link worker's offer is.
    pub fn at_version(self, version: u32) -> Self {
        OfferRequest { expected_version: Some(version), ..self }
    }

    /// With what to tell the provider.
    pub fn with_note(self, note: Option<String>) -> Self {
        OfferRequest { note, ..self }
    }

    /// Onward from the accepted offer `parent`, as a provider proposes.
    pub fn onward_from(self, parent: OfferId) -> Self {
        OfferRequest { part_of: Some(parent), ..self }
    }
}

fn state_of(m: &offer::Model) -> Result<Offer, StoreError> {
    Ok(Offer {
        id: OfferId(m.id),
        referral: ReferralId(m.referral_id),
        service: ServiceId(m.service_id),
        provider_organisation: OrganisationId(m.provider_organisation_id),
        link_worker_service: OrganisationId(m.link_worker_service_id),
        part_of: m.part_of_offer_id.map(OfferId),
        status: stored("offer status", OfferStatus::parse(&m.status))?,
        decline_reason: m
            .decline_reason
            .as_deref()
            .map(DeclineReason::parse)
            .transpose()
            .map_err(unreadable("offers.decline_reason"))?,
        version: version(m.version)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn event_model(e: &OfferEvent) -> offer_event::ActiveModel {
    offer_event::Model {
        id: Uuid::now_v7(),
        offer_id: e.offer.0,
        version: i64::from(e.version),
        from_status: e.from.map(|s| s.as_str().into()),
        to_status: e.to.as_str().into(),
        decline_reason: e.decline_reason.map(|r| r.as_str().into()),
        actor_role: e.actor.role.as_str().into(),
        actor_organisation_id: e.actor.organisation.map(|o| o.0),
        actor_user_id: e.actor.user.map(|u| u.0),
        note: e.note.clone(),
        occurred_at: e.at,
    }
    .into_active_model()
}

/// Whether `actor` may see this offer: the link worker service that owns it or the provider it went to.
fn may_see(actor: &Actor, offer: &Offer) -> bool {
    actor.is(Role::LinkWorker, offer.link_worker_service) || actor.is(Role::Provider, offer.provider_organisation)
}

/// The offer `id`'s row if `actor` may see it ([`may_see`]); `NotFound` otherwise, as for no such offer.
async fn visible_offer(
    conn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    id: OfferId,
) -> Result<offer::Model, StoreError> {
    let row = offer::Entity::find_by_id(id.0).one(conn).await?.ok_or(StoreError::NotFound)?;
    if !may_see(actor, &state_of(&row)?) {
        return Err(StoreError::NotFound);
    }
    Ok(row)
}

/// `Ok` if `actor` sees offer `id` in any way: as the offer itself ([`may_see`]) or as one of the offers
/// of a referral it may read (the referring practice following its referral). `NotFound` otherwise.
pub(crate) async fn offer_in_sight(
    conn: &impl sea_orm::ConnectionTrait,
    actor: &Actor,
    id: OfferId,
) -> Result<(), StoreError> {
    let row = offer::Entity::find_by_id(id.0).one(conn).await?.ok_or(StoreError::NotFound)?;
    if may_see(actor, &state_of(&row)?) {
        return Ok(());
    }
    let scope = ReferralScope::of(actor).ok_or(StoreError::NotFound)?;
    let referral = referral::Entity::find_by_id(row.referral_id).one(conn).await?.ok_or(StoreError::NotFound)?;
    if scope.covers(&state_from(&referral)?) { Ok(()) } else { Err(StoreError::NotFound) }
}

impl Store {
    async fn offer_record(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        m: offer::Model,
    ) -> Result<OfferRecord, StoreError> {
        let mut records = self.offer_records(conn, vec![m]).await?;
        records.pop().ok_or(StoreError::NotFound)
    }

    /// Offers with their service and provider names, loaded with one query each for all the offers.
    async fn offer_records(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        rows: Vec<offer::Model>,
    ) -> Result<Vec<OfferRecord>, StoreError> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let services: std::collections::HashMap<Uuid, String> = service::Entity::find()
            .filter(service::Column::Id.is_in(rows.iter().map(|r| r.service_id)))
            .all(conn)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let providers: std::collections::HashMap<Uuid, String> = organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(rows.iter().map(|r| r.provider_organisation_id)))
            .all(conn)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        rows.into_iter()
            .map(|m| {
                let service_name =
                    services.get(&m.service_id).cloned().ok_or(StoreError::Corrupt("offers.service_id"))?;
                Ok(OfferRecord {
                    state: state_of(&m)?,
                    service_name,
                    provider_name: providers.get(&m.provider_organisation_id).cloned().unwrap_or_default(),
                    note_for_provider: m.note_for_provider,
                    expires_at: m.expires_at,
                    remind_at: m.remind_at,
                })
            })
            .collect()
    }

    /// Offers a referral to a service, as `request` says, by `actor` at `now`.
    pub async fn make_offer(
        &self,
        request: OfferRequest,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<OfferRecord, StoreError> {
        crate::contention::retried(move || self.make_offer_once(request.clone(), actor, now)).await
    }

    /// [`Store::make_offer`], made once.
    async fn make_offer_once(
        &self,
        request: OfferRequest,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<OfferRecord, StoreError> {
        let OfferRequest { referral: referral_id, expected_version, service: service_id, note, part_of, timers } =
            request;
        let txn = self.db.begin().await?;
        // Locked (PostgreSQL; SQLite has one writer anyway) so that an offer is never made to a referral being
        // closed at the same moment: closing ends the offers it can see, and this one waits to see the closure.
        let referral_row = referral::Entity::find_by_id(referral_id.0)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let referral = state_from(&referral_row)?;
        let parent = match part_of {
            Some(id) => {
                let row = offer::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
                let parent = state_of(&row)?;
                if !may_see(actor, &parent) || parent.referral != referral.id {
                    return Err(StoreError::NotFound);
                }
                Some(parent)
            }
            None => {
                if !trellis_domain::access::may_read_referral(actor, &referral) {
                    return Err(StoreError::NotFound);
                }
                None
            }
        };
        if let Some(expected) = expected_version
            && expected != referral.version
        {
            return Err(StoreError::Conflict { expected, current: referral.version });
        }
        let svc = service::Entity::find_by_id(service_id.0)
            .one(&txn)
            .await?
            .filter(|s| s.status == "active")
            .ok_or(StoreError::UnknownReference("service"))?;
        let new = NewOffer {
            id: OfferId::new_at(now),
            referral: &referral,
            service: service_id,
            provider_organisation: OrganisationId(svc.organisation_id),
            part_of: parent.as_ref(),
            note,
        };
        let (state, event) = Offer::make(new, actor, now)?;
        let model = offer::Model {
            id: state.id.0,
            referral_id: referral.id.0,
            service_id: service_id.0,
            provider_organisation_id: svc.organisation_id,
            link_worker_service_id: referral.link_worker_service.0,
            part_of_offer_id: state.part_of.map(|p| p.0),
            status: state.status.as_str().into(),
            decline_reason: None,
            note_for_provider: event.note.clone(),
            version: i64::from(state.version),
            expires_at: timers.expires_at,
            remind_at: timers.remind_at,
            created_at: now,
            updated_at: now,
        };
        offer::Entity::insert(model.clone().into_active_model()).exec_without_returning(&txn).await?;
        offer_event::Entity::insert(event_model(&event)).exec_without_returning(&txn).await?;
        let action = if part_of.is_some() { "offer.onward_proposed" } else { "offer.made" };
        Audit { actor, action, referral: Some(referral.id), offer: Some(state.id), at: now }.write(&txn).await?;

        let recipient = provider_recipient(&txn, &svc).await?.ok_or(StoreError::UnknownReference("service email"))?;
        NewEmail {
            job: OutboxJob::OfferMade { offer: state.id },
            recipient,
            offer: Some(state.id),
            referral: Some(referral.id),
            due_at: now,
        }
        .write(&txn, now)
        .await?;
        if part_of.is_some() {
            let job = OutboxJob::OnwardOfferProposed { offer: state.id };
            tell_link_worker(&txn, &referral_row, job, now).await?;
        }
        let record = self.offer_record(&txn, model).await?;
        txn.commit().await?;
        Ok(record)
    }

    /// One offer, if `actor` may see it.
    pub async fn offer(&self, actor: &Actor, id: OfferId) -> Result<OfferRecord, StoreError> {
        let row = visible_offer(&self.db, actor, id).await?;
        self.offer_record(&self.db, row).await
    }

    /// The offers of a referral that `actor` may read, oldest first.
    pub async fn offers_for_referral(
        &self,
        actor: &Actor,
        referral: ReferralId,
    ) -> Result<Vec<OfferRecord>, StoreError> {
        let scope = ReferralScope::of(actor).ok_or(StoreError::NotFound)?;
        let row = referral::Entity::find_by_id(referral.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        if !scope.covers(&state_from(&row)?) {
            return Err(StoreError::NotFound);
        }
        self.offers_in(referral).await
    }

    /// The offers of many referrals already read in scope, each referral's oldest first, in one query
    /// (and one each for the services' and providers' names) however many referrals are asked for: a
    /// caseload page's offers cost the same for ten rows as for fifty. A referral with no offers is absent.
    ///
    /// It does not check the scope again, so only pass ids of referrals the caller has read through
    /// [`Store::referral`] or [`Store::referrals`] (the API's `Referral` is only built from those).
    pub async fn offers_of_many(
        &self,
        referrals: &[ReferralId],
    ) -> Result<std::collections::HashMap<ReferralId, Vec<OfferRecord>>, StoreError> {
        let mut by_referral: std::collections::HashMap<ReferralId, Vec<OfferRecord>> = Default::default();
        if referrals.is_empty() {
            return Ok(by_referral);
        }
        let rows = offer::Entity::find()
            .filter(offer::Column::ReferralId.is_in(referrals.iter().map(|r| r.0)))
            .order_by_asc(offer::Column::Id)
            .all(&self.db)
            .await?;
        for record in self.offer_records(&self.db, rows).await? {
            by_referral.entry(record.state.referral).or_default().push(record);
        }
        Ok(by_referral)
    }

    async fn offers_in(&self, referral: ReferralId) -> Result<Vec<OfferRecord>, StoreError> {
        let rows = offer::Entity::find()
            .filter(offer::Column::ReferralId.eq(referral.0))
            .order_by_asc(offer::Column::Id)
            .all(&self.db)
            .await?;
        self.offer_records(&self.db, rows).await
    }

    /// One page of the offers made to a provider organisation, newest first: at most `limit`, older than
    /// the offer `before` when given (keyset), and whether more follow. A page, not every offer: each
    /// accepted offer's contact details read is audited, so an unbounded list made one request cost as
    /// much as the provider's whole history.
    pub async fn offers_for_provider(
        &self,
        actor: &Actor,
        before: Option<OfferId>,
        limit: u64,
    ) -> Result<ProviderOfferPage, StoreError> {
        let Some(org) = actor.organisation.filter(|_| actor.role == Role::Provider) else {
            return Err(StoreError::NotFound);
        };
        let mut query = offer::Entity::find().filter(offer::Column::ProviderOrganisationId.eq(org.0));
        if let Some(before) = before {
            query = query.filter(offer::Column::Id.lt(before.0));
        }
        let mut rows = query.order_by_desc(offer::Column::Id).limit(limit + 1).all(&self.db).await?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut offers = Vec::with_capacity(rows.len());
        for r in rows {
            offers.push(self.provider_view_of(actor, r, Utc::now()).await?);
        }
        Ok(ProviderOfferPage { offers, has_next })
    }

    /// What a provider may see of one offer made to it; reading contact details is audited.
    pub async fn provider_view(
        &self,
        actor: &Actor,
        id: OfferId,
        now: DateTime<Utc>,
    ) -> Result<ProviderOfferView, StoreError> {
        let row = offer::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        if !actor.is(Role::Provider, OrganisationId(row.provider_organisation_id)) {
            return Err(StoreError::NotFound);
        }
        self.provider_view_of(actor, row, now).await
    }

    /// What a provider sees of one offer made to it, without the contact details even once accepted
    /// (so nothing is audited as read): what a provider's link shows on a plain `GET`.
    pub async fn provider_summary(
        &self,
        actor: &Actor,
        id: OfferId,
        now: DateTime<Utc>,
    ) -> Result<ProviderOfferView, StoreError> {
        let row = offer::Entity::find_by_id(id.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        if !actor.is(Role::Provider, OrganisationId(row.provider_organisation_id)) {
            return Err(StoreError::NotFound);
        }
        self.provider_view_with(actor, row, now, false).await
    }

    async fn provider_view_of(
        &self,
        actor: &Actor,
        row: offer::Model,
        now: DateTime<Utc>,
    ) -> Result<ProviderOfferView, StoreError> {
        self.provider_view_with(actor, row, now, true).await
    }

    /// The provider's view of `row`, with the contact details once accepted if `with_contact`.
    pub(crate) async fn provider_view_with(
        &self,
        actor: &Actor,
        row: offer::Model,
        now: DateTime<Utc>,
        with_contact: bool,
    ) -> Result<ProviderOfferView, StoreError> {
        let referral_row =
            referral::Entity::find_by_id(row.referral_id).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        // The person as this referral holds them, never as another organisation's submission said.
        let p = referral_demographics::Entity::find_by_id(referral_row.id)
            .one(&self.db)
            .await?
            .ok_or(StoreError::Corrupt("referral_demographics"))?;
        let referral_closed = referral_row.status == ReferralStatus::Closed.as_str();
        let needs: Vec<String> = serde_json::from_str(&referral_row.needs).map_err(unreadable("referrals.needs"))?;
        let record = self.offer_record(&self.db, row).await?;
        let accepted = matches!(
            record.state.status,
            OfferStatus::Accepted | OfferStatus::Started | OfferStatus::Finished | OfferStatus::EndedEarly
        );
        let dob = DateOfBirth::parse(p.date_of_birth, now.date_naive())
            .map_err(unreadable("referral_demographics.date_of_birth"))?;
        // A closed referral's person is no longer the provider's to contact.
        let contact = if accepted && with_contact && !referral_closed {
            Audit {
                actor,
                action: "offer.contact_details_read",
                referral: Some(record.state.referral),
                offer: Some(record.state.id),
                at: now,
            }
            .commit(self)
            .await?;
            Some(ContactDetails {
                name: format!("{} {}", p.given_name, p.family_name),
                phone: p.phone,
                email: p.email,
                preferred_contact: p.preferred_contact,
            })
        } else {
            None
        };
        Ok(ProviderOfferView {
            offer: record,
            first_name: p.given_name,
            age_band: dob.age_band(now.date_naive()),
            needs: needs.iter().map(|n| stored("need", Need::parse(n))).collect::<Result<_, _>>()?,
            contact,
            referral_closed,
        })
    }

    /// An offer's history, oldest first, if `actor` may see the offer.
    pub async fn offer_history(&self, actor: &Actor, id: OfferId) -> Result<Vec<OfferEvent>, StoreError> {
        self.offer(actor, id).await?;
        let rows = offer_event::Entity::find()
            .filter(offer_event::Column::OfferId.eq(id.0))
            .order_by_asc(offer_event::Column::Version)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|m| {
                Ok(OfferEvent {
                    offer: OfferId(m.offer_id),
                    version: version(m.version)?,
                    from: m
                        .from_status
                        .as_deref()
                        .map(OfferStatus::parse)
                        .transpose()
                        .map_err(unreadable("offer_events.from_status"))?,
                    to: stored("offer status", OfferStatus::parse(&m.to_status))?,
                    decline_reason: m
                        .decline_reason
                        .as_deref()
                        .map(DeclineReason::parse)
                        .transpose()
                        .map_err(unreadable("offer_events.decline_reason"))?,
                    actor: crate::convert::actor(&m.actor_role, m.actor_organisation_id, m.actor_user_id)?,
                    at: m.occurred_at,
                    note: m.note,
                })
            })
            .collect()
    }

    /// Applies a command to an offer made against `expected_version`, with its consequences in the same
    /// transaction: the link worker is told of an answer; a provider's confirmed attendance moves the
    /// referral to attending; an expiry flags the referral.
    pub async fn transition_offer(
        &self,
        id: OfferId,
        expected_version: u32,
        command: OfferCommand,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<OfferRecord, StoreError> {
        crate::contention::retried(move || {
            self.transition_offer_once(id, expected_version, command.clone(), actor, now)
        })
        .await
    }

    /// [`Store::transition_offer`], made once.
    async fn transition_offer_once(
        &self,
        id: OfferId,
        expected_version: u32,
        command: OfferCommand,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<OfferRecord, StoreError> {
        let txn = self.db.begin().await?;
        let row = self.transition_offer_in(&txn, id, expected_version, command, actor, now).await?;
        let record = self.offer_record(&txn, row).await?;
        txn.commit().await?;
        Ok(record)
    }

    pub(crate) async fn transition_offer_in(
        &self,
        txn: &DatabaseTransaction,
        id: OfferId,
        expected_version: u32,
        command: OfferCommand,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<offer::Model, StoreError> {
        let row = offer::Entity::find_by_id(id.0).one(txn).await?.ok_or(StoreError::NotFound)?;
        let current = version(row.version)?;
        if current != expected_version {
            let state = state_of(&row)?;
            if !(may_see(actor, &state) || actor.role == Role::System) {
                return Err(StoreError::NotFound);
            }
            return Err(StoreError::Conflict { expected: expected_version, current });
        }
        self.transition_read_offer_in(txn, row, command, actor, now).await
    }

    /// Applies a command to an offer as the caller read it (`row`, perhaps before `txn` began), with its
    /// consequences, writing against the version read: `Conflict` if it has moved on since. Returns the
    /// row as written, without reading it again.
    pub(crate) async fn transition_read_offer_in(
        &self,
        txn: &DatabaseTransaction,
        row: offer::Model,
        command: OfferCommand,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<offer::Model, StoreError> {
        let state = state_of(&row)?;
        if !(may_see(actor, &state) || actor.role == Role::System) {
            return Err(StoreError::NotFound);
        }
        let (id, expected_version) = (state.id, state.version);
        let referral_row =
            referral::Entity::find_by_id(state.referral.0).one(txn).await?.ok_or(StoreError::NotFound)?;
        let referral_status = stored("referral status", ReferralStatus::parse(&referral_row.status))?;
        let (next, event) = state.handle(command, referral_status, actor, now)?;
        let result = offer::Entity::update_many()
            .col_expr(offer::Column::Status, Expr::value(next.status.as_str()))
            .col_expr(offer::Column::Version, Expr::value(i64::from(next.version)))
            .col_expr(offer::Column::DeclineReason, Expr::value(next.decline_reason.map(|r| r.as_str())))
            .col_expr(offer::Column::UpdatedAt, Expr::value(now))
            .filter(offer::Column::Id.eq(id.0))
            .filter(offer::Column::Version.eq(i64::from(expected_version)))
            .exec(txn)
            .await?;
        if result.rows_affected != 1 {
            return Err(StoreError::Conflict { expected: expected_version, current: expected_version + 1 });
        }
        offer_event::Entity::insert(event_model(&event)).exec_without_returning(txn).await.map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict { expected: expected_version, current: expected_version + 1 }
            } else {
                e.into()
            }
        })?;
        crate::directory::adjust_capacity_for(txn, state.service, state.status, next.status).await?;
        let action = format!("offer.{}", next.status.as_str());
        Audit { actor, action: &action, referral: Some(state.referral), offer: Some(id), at: now }.write(txn).await?;

        match next.status {
            OfferStatus::Accepted | OfferStatus::Declined | OfferStatus::Waitlisted => {
                let job = OutboxJob::OfferAnswered { offer: id, status: next.status };
                tell_link_worker(txn, &referral_row, job, now).await?;
            }
            OfferStatus::Expired => {
                Self::flag_referral(txn, state.referral, "offer_expired").await?;
                tell_link_worker(txn, &referral_row, OutboxJob::OfferExpired { offer: id }, now).await?;
            }
            OfferStatus::Started if referral_row.status == ReferralStatus::Contacted.as_str() => {
                let evidence = AttendanceEvidence {
                    offer: id,
                    referral: state.referral,
                    provider_organisation: state.provider_organisation,
                    offer_status: next.status,
                };
                let command = ReferralCommand::RecordAttendance { evidence: Some(evidence), note: None };
                self.transition_in(txn, state.referral, None, command, actor, now).await?;
            }
            _ => {}
        }
        Ok(offer::Model {
            status: next.status.as_str().into(),
            version: i64::from(next.version),
            decline_reason: next.decline_reason.map(|r| r.as_str().into()),
            updated_at: now,
            ..row
        })
    }
}

impl Store {
    /// Ends every open offer of a referral that `actor` has just closed for `reason`, in the closing
    /// transaction: each gets the event [`Offer::end_with_referral`] decides, the places it held are given
    /// back, and its provider is told by email (references only) that the place is no longer needed.
    pub(crate) async fn end_offers_of_closed_referral(
        &self,
        txn: &DatabaseTransaction,
        referral_row: &referral::Model,
        reason: ClosureReason,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let open = [OfferStatus::Offered, OfferStatus::Waitlisted, OfferStatus::Accepted, OfferStatus::Started];
        let rows = offer::Entity::find()
            .filter(offer::Column::ReferralId.eq(referral_row.id))
            .filter(offer::Column::Status.is_in(open.map(OfferStatus::as_str)))
            .order_by_asc(offer::Column::Id)
            .all(txn)
            .await?;
        for row in rows {
            let state = state_of(&row)?;
            let Some(event) = state.end_with_referral(reason, actor, now) else { continue };
            let next = state.apply(&event);
            let result = offer::Entity::update_many()
                .col_expr(offer::Column::Status, Expr::value(next.status.as_str()))
                .col_expr(offer::Column::Version, Expr::value(i64::from(next.version)))
                .col_expr(offer::Column::UpdatedAt, Expr::value(now))
                .filter(offer::Column::Id.eq(row.id))
                .filter(offer::Column::Version.eq(row.version))
                .exec(txn)
                .await?;
            if result.rows_affected != 1 {
                // A provider answered at the same moment: the closure is retried against what it did.
                return Err(StoreError::Conflict { expected: state.version, current: state.version + 1 });
            }
            offer_event::Entity::insert(event_model(&event)).exec_without_returning(txn).await?;
            crate::directory::adjust_capacity_for(txn, state.service, state.status, next.status).await?;
            let action = format!("offer.{}", next.status.as_str());
            Audit { actor, action: &action, referral: Some(state.referral), offer: Some(state.id), at: now }
                .write(txn)
                .await?;
            let svc = service::Entity::find_by_id(row.service_id).one(txn).await?;
            let recipient = match &svc {
                Some(svc) => provider_recipient(txn, svc).await?,
                None => None,
            };
            if let Some(recipient) = recipient {
                NewEmail {
                    job: OutboxJob::OfferEnded { offer: state.id, status: next.status },
                    recipient,
                    offer: Some(state.id),
                    referral: Some(state.referral),
                    due_at: now,
                }
                .write(txn, now)
                .await?;
            }
        }
        Ok(())
    }
}

/// Where offers to `svc` go: the service's own address, else its organisation's.
async fn provider_recipient(
    conn: &impl sea_orm::ConnectionTrait,
    svc: &service::Model,
) -> Result<Option<String>, StoreError> {
    match svc.email.clone() {
        Some(e) => Ok(Some(e)),
        None => Ok(organisation::Entity::find_by_id(svc.organisation_id).one(conn).await?.and_then(|o| o.email)),
    }
}

/// Queues an email about `offer` to the referral's link worker (see [`link_worker_recipient`]), in the
/// caller's transaction; nothing when the service has no address.
async fn tell_link_worker(
    conn: &impl sea_orm::ConnectionTrait,
    referral_row: &referral::Model,
    job: OutboxJob,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if let Some(recipient) = link_worker_recipient(conn, referral_row).await? {
        let referral = Some(ReferralId(referral_row.id));
        let offer = job.offer();
        NewEmail { job, recipient, offer, referral, due_at: now }.write(conn, now).await?;
    }
    Ok(())
}

/// Where to tell the link worker: the assigned link worker, else the service's shared address.
pub(crate) async fn link_worker_recipient(
    conn: &impl sea_orm::ConnectionTrait,
    referral_row: &referral::Model,
) -> Result<Option<String>, StoreError> {
    if let Some(assignee) = referral_row.assigned_to_user_id
        && let Some(u) = user::Entity::find_by_id(assignee).one(conn).await?
    {
        return Ok(Some(u.email));
    }
    Ok(organisation::Entity::find_by_id(referral_row.link_worker_service_id).one(conn).await?.and_then(|o| o.email))
}
