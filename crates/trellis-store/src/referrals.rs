//! Referrals: submitting them once (idempotently), reading and listing them within the reader's scope,
//! and moving them through their lifecycle with optimistic concurrency.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use trellis_domain::access::{Assignee, ReferralScope};
use trellis_domain::person::{DETAILS_DIFFER_FLAG, DetailsChoice};
use trellis_domain::referral::{
    ClosureReason, Referral, ReferralCommand, ReferralEvent, ReferralEventKind, ReferralStatus, Referrer,
};
use trellis_domain::report::{EthnicCategory, Sex};
use trellis_domain::values::{ContactMethod, EmailAddress, Need, NhsNumber, PhoneNumber, Postcode, Urgency};
use trellis_domain::{Actor, OrganisationId, PersonId, ReferralId, UserId};
use uuid::Uuid;

use crate::audit::Audit;
use crate::convert::{stored, unreadable, version};
use crate::entity::{idempotency_key, organisation, person, referral, referral_demographics, referral_event, user};
use crate::outbox::{NewEmail, Occasion, OutboxJob};
use crate::rows::{page_with_person, with_person};
use crate::{Store, StoreError};

/// The person a referral is for, as the referrer gives them and as the referral keeps them.
pub use trellis_domain::person::PersonDetails;

/// The person of one referral.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// What links the person's referrals (one per NHS number).
    pub id: PersonId,
    /// Their details as this referral holds them: as submitted, or as its link worker chose to keep.
    pub details: PersonDetails,
}

/// A referral to submit, and the person's consent to share it: the domain's, which
/// [`Store::submit_referral`] asks to accept.
pub use trellis_domain::referral::{Consent, NewReferral};

/// A client's key for safe retries, with a fingerprint of its request.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    /// The client's key.
    pub key: String,
    /// A hash of the request's content, as parsed: two requests that parse to the same values are the
    /// same request, however they were typed.
    pub request_hash: String,
    /// Keys written before this are forgotten: a reuse makes a new referral. Clients retry within
    /// minutes; a key remembered for ever would turn a much later, unrelated submission that happens
    /// to reuse it into a silent replay or a refusal.
    pub forget_before: DateTime<Utc>,
}

/// The outcome of a submission.
#[derive(Clone, Debug)]
pub struct Submission {
    /// The referral (new, or the one a retry refers to).
    pub referral: ReferralRecord,
    /// Whether this was a retry of an earlier submission.
    pub replayed: bool,
    /// Other open referrals for the same NHS number in the caller's scope.
    pub other_open_referrals: Vec<ReferralId>,
}

/// A page of referrals.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferralPage {
    /// The referrals on the page, newest first.
    pub records: Vec<ReferralRecord>,
    /// Whether more match beyond the page.
    pub has_next: bool,
}

/// A referral with everything a reader in scope may see.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferralRecord {
    /// Lifecycle state.
    pub state: Referral,
    /// The person.
    pub person: Person,
    /// What matters to them.
    pub needs: Vec<Need>,
    /// The referrer's words.
    pub reason: String,
    /// How soon.
    pub urgency: Urgency,
    /// Consent to share.
    pub consent: Consent,
    /// Who submitted it.
    pub referred_by: Option<UserId>,
    /// When first contact is due.
    pub contact_due_at: DateTime<Utc>,
    /// Something the link worker should look at (`offer_expired`, `delivery_failed`, …).
    pub flag: Option<String>,
}

impl ReferralRecord {
    /// Whether first contact is overdue at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.status == ReferralStatus::Referred && self.contact_due_at < now
    }
}

/// What to list, newest first, within a scope.
#[derive(Clone, Debug)]
pub struct ReferralFilter {
    /// Whose referrals.
    pub scope: ReferralScope,
    /// Only these statuses.
    pub statuses: Vec<ReferralStatus>,
    /// Only those with this need.
    pub need: Option<Need>,
    /// Only those assigned to this link worker.
    pub assigned_to: Option<UserId>,
    /// Only those whose first contact is overdue at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Name or NHS number.
    pub search: Option<String>,
    /// Referrals older than this one (keyset cursor).
    pub before: Option<ReferralId>,
    /// At most this many.
    pub limit: u64,
}

fn person_from(id: PersonId, m: referral_demographics::Model) -> Result<Person, StoreError> {
    Ok(Person { id, details: details_from(m)? })
}

pub(crate) fn details_from(m: referral_demographics::Model) -> Result<PersonDetails, StoreError> {
    Ok(PersonDetails {
        nhs_number: stored("nhs number", NhsNumber::parse(&m.nhs_number))?,
        given_name: m.given_name,
        family_name: m.family_name,
        date_of_birth: m.date_of_birth,
        phone: m
            .phone
            .as_deref()
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(unreadable("referral_demographics.phone"))?,
        email: m
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(unreadable("referral_demographics.email"))?,
        postcode: m
            .postcode
            .as_deref()
            .map(Postcode::parse)
            .transpose()
            .map_err(unreadable("referral_demographics.postcode"))?,
        preferred_contact: stored("contact method", ContactMethod::parse(&m.preferred_contact))?,
        sex: m.sex.as_deref().map(Sex::parse).transpose().map_err(unreadable("referral_demographics.sex"))?,
        ethnic_category: m
            .ethnic_category
            .as_deref()
            .map(EthnicCategory::parse)
            .transpose()
            .map_err(unreadable("referral_demographics.ethnic_category"))?,
    })
}

fn demographics_model(referral: ReferralId, d: &PersonDetails, at: DateTime<Utc>) -> referral_demographics::Model {
    referral_demographics::Model {
        referral_id: referral.0,
        nhs_number: d.nhs_number.as_str().into(),
        given_name: d.given_name.clone(),
        family_name: d.family_name.clone(),
        date_of_birth: d.date_of_birth,
        phone: d.phone.as_ref().map(|p| p.as_str().into()),
        email: d.email.as_ref().map(|e| e.as_str().into()),
        postcode: d.postcode.as_ref().map(|p| p.as_str().into()),
        preferred_contact: d.preferred_contact.as_str().into(),
        recorded_at: at,
        sex: d.sex.map(|s| s.as_str().into()),
        ethnic_category: d.ethnic_category.map(|e| e.as_str().into()),
    }
}

pub(crate) fn state_from(m: &referral::Model) -> Result<Referral, StoreError> {
    Ok(Referral {
        id: ReferralId(m.id),
        status: stored("referral status", ReferralStatus::parse(&m.status))?,
        version: version(m.version)?,
        referring_organisation: OrganisationId(m.referring_organisation_id),
        link_worker_service: OrganisationId(m.link_worker_service_id),
        assigned_to: m.assigned_to_user_id.map(UserId),
        closure_reason: m
            .closure_reason
            .as_deref()
            .map(ClosureReason::parse)
            .transpose()
            .map_err(unreadable("referrals.closure_reason"))?,
        details_differ: m.flag.as_deref() == Some(DETAILS_DIFFER_FLAG),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) fn record_from(
    m: referral::Model,
    person: referral_demographics::Model,
) -> Result<ReferralRecord, StoreError> {
    let needs: Vec<String> = serde_json::from_str(&m.needs).map_err(unreadable("referrals.needs"))?;
    Ok(ReferralRecord {
        state: state_from(&m)?,
        person: person_from(PersonId(m.person_id), person)?,
        needs: needs.iter().map(|n| stored("need", Need::parse(n))).collect::<Result<_, _>>()?,
        reason: m.reason,
        urgency: stored("urgency", Urgency::parse(&m.urgency))?,
        consent: Consent { recorded_by: m.consent_recorded_by, recorded_at: m.consent_recorded_at },
        referred_by: m.referred_by_user_id.map(UserId),
        contact_due_at: m.contact_due_at,
        flag: m.flag,
    })
}

fn event_model(event: &ReferralEvent) -> Result<referral_event::ActiveModel, StoreError> {
    Ok(referral_event::Model {
        id: Uuid::now_v7(),
        referral_id: event.referral.0,
        version: i64::from(event.version),
        kind: event.kind.name().into(),
        from_status: event.from.map(|s| s.as_str().into()),
        to_status: event.to.as_str().into(),
        actor_role: event.actor.role.as_str().into(),
        actor_organisation_id: event.actor.organisation.map(|o| o.0),
        actor_user_id: event.actor.user.map(|u| u.0),
        note: event.note.clone(),
        note_for_gp: event.note_for_gp,
        data: serde_json::to_string(&event.kind).map_err(unreadable("referral_events.data"))?,
        occurred_at: event.at,
    }
    .into_active_model())
}

pub(crate) fn event_from(m: referral_event::Model) -> Result<ReferralEvent, StoreError> {
    Ok(ReferralEvent {
        referral: ReferralId(m.referral_id),
        version: version(m.version)?,
        kind: serde_json::from_str::<ReferralEventKind>(&m.data).map_err(unreadable("referral_events.data"))?,
        from: m
            .from_status
            .as_deref()
            .map(ReferralStatus::parse)
            .transpose()
            .map_err(unreadable("referral_events.from_status"))?,
        to: stored("referral status", ReferralStatus::parse(&m.to_status))?,
        actor: crate::convert::actor(&m.actor_role, m.actor_organisation_id, m.actor_user_id)?,
        at: m.occurred_at,
        note: m.note,
        note_for_gp: m.note_for_gp,
    })
}

fn needs_json(needs: &[Need]) -> String {
    serde_json::Value::from(needs.iter().map(|n| n.as_str()).collect::<Vec<_>>()).to_string()
}

/// The column naming a scope's organisation, and the organisation.
fn scope_key(scope: ReferralScope) -> (referral::Column, Uuid) {
    match scope {
        ReferralScope::ReferredBy(org) => (referral::Column::ReferringOrganisationId, org.0),
        ReferralScope::WorkedBy(org) => (referral::Column::LinkWorkerServiceId, org.0),
    }
}

/// The SQL condition for a scope.
fn scope_condition(scope: ReferralScope) -> Condition {
    let (column, organisation) = scope_key(scope);
    Condition::all().add(column.eq(organisation))
}

impl Store {
    /// Submits a referral once, for the actor's organisation: the domain decides whether the actor may,
    /// checks consent, chooses the link worker service and sets the due date
    /// ([`NewReferral::accept`], under [`Store::policy`]). Every way in (the API, a console form, an
    /// import) calls this after parsing. With an idempotency key, a retry of the same request returns the
    /// first referral; the same key with a different request is refused.
    pub async fn submit_referral(
        &self,
        new: NewReferral,
        key: Option<IdempotencyKey>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Submission, StoreError> {
        crate::contention::retried(move || self.submit_referral_once(new.clone(), key.clone(), actor, now)).await
    }

    /// [`Store::submit_referral`], made once.
    async fn submit_referral_once(
        &self,
        new: NewReferral,
        key: Option<IdempotencyKey>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Submission, StoreError> {
        // The submission answers with what it wrote, not a fresh read: instants at the databases' precision.
        let now = now.trunc_subsecs(6);
        let id = ReferralId::new_at(now);
        let referrer = self.referrer(actor).await?;
        let accepted = new.accept(&referrer, actor, &self.policy, now)?;
        let scope = ReferralScope::of(actor).ok_or(StoreError::Corrupt("referral scope of an accepted referrer"))?;
        if !self.is_link_worker_service(accepted.link_worker_service()).await? {
            return Err(StoreError::UnknownReference("linkWorkerService"));
        }
        // A retry with the same idempotency key is caught by the key's unique index below, where the
        // transaction is rolled back and the first referral returned: no lookup before every submission.
        let txn = self.db.begin().await?;
        let new_person_id = PersonId::new_at(now);
        let person_id = self.upsert_person(&txn, new_person_id, &new.person, now).await?;
        // A person first written by this transaction has no other referrals yet.
        let other_open_referrals: Vec<ReferralId> = if person_id == new_person_id {
            vec![]
        } else {
            referral::Entity::find()
                .select_only()
                .column(referral::Column::Id)
                .filter(referral::Column::PersonId.eq(person_id.0))
                .filter(referral::Column::Status.ne(ReferralStatus::Closed.as_str()))
                .filter(scope_condition(scope))
                .into_tuple::<Uuid>()
                .all(&txn)
                .await?
                .into_iter()
                .map(ReferralId)
                .collect()
        };
        // What the link worker service already holds for this NHS number: its latest other referral's.
        let held = if person_id == new_person_id {
            None
        } else {
            Self::held_details(&txn, person_id, accepted.link_worker_service(), id).await?
        };
        let (state, event) = Referral::open(id, &accepted, &new.person, held.as_ref(), actor, now)?;

        let model = referral::Model {
            id: id.0,
            person_id: person_id.0,
            referring_organisation_id: accepted.referring_organisation().0,
            referred_by_user_id: actor.user.map(|u| u.0),
            link_worker_service_id: accepted.link_worker_service().0,
            assigned_to_user_id: None,
            status: state.status.as_str().into(),
            closure_reason: None,
            needs: needs_json(&new.needs),
            reason: new.reason,
            urgency: new.urgency.as_str().into(),
            consent_to_share: true,
            consent_recorded_by: accepted.consent().recorded_by.clone(),
            consent_recorded_at: accepted.consent().recorded_at.trunc_subsecs(6),
            version: i64::from(state.version),
            contact_due_at: accepted.contact_due_at().trunc_subsecs(6),
            flag: state.details_differ.then(|| DETAILS_DIFFER_FLAG.to_owned()),
            created_at: now,
            updated_at: now,
        };
        let person = demographics_model(id, &new.person, now);
        referral::Entity::insert(model.clone().into_active_model()).exec_without_returning(&txn).await?;
        referral_demographics::Entity::insert(person.clone().into_active_model()).exec_without_returning(&txn).await?;
        referral_event::Entity::insert(event_model(&event)?).exec_without_returning(&txn).await?;
        if let Some(key) = key {
            // An expired key is forgotten here, in the submission's own transaction, whether or not the
            // worker has purged it yet.
            idempotency_key::Entity::delete_many()
                .filter(idempotency_key::Column::OrganisationId.eq(actor_org(actor)?.0))
                .filter(idempotency_key::Column::Key.eq(key.key.as_str()))
                .filter(idempotency_key::Column::CreatedAt.lt(key.forget_before))
                .exec(&txn)
                .await?;
            let key_again = key.clone();
            let row = idempotency_key::Model {
                organisation_id: actor_org(actor)?.0,
                key: key.key,
                request_hash: key.request_hash,
                referral_id: id.0,
                created_at: now,
            };
            let inserted = idempotency_key::Entity::insert(row.into_active_model()).exec_without_returning(&txn).await;
            if let Err(e) = inserted {
                // A concurrent retry with the same key won the race: roll back and answer as its retry.
                if StoreError::is_unique_violation(&e) {
                    txn.rollback().await?;
                    let txn = self.db.begin().await?;
                    let existing = self.replayed_submission(&txn, &key_again, actor).await?;
                    let existing = existing.ok_or(StoreError::Corrupt("idempotency_keys"))?;
                    Audit {
                        actor,
                        action: "referral.submission_replayed",
                        referral: Some(existing),
                        offer: None,
                        at: now,
                    }
                    .write(&txn)
                    .await?;
                    txn.commit().await?;
                    let referral = self.referral_unaudited(actor, existing).await?;
                    return Ok(Submission { referral, replayed: true, other_open_referrals: vec![] });
                }
                return Err(e.into());
            }
        }
        Audit { actor, action: "referral.submitted", referral: Some(id), offer: None, at: now }.write(&txn).await?;
        txn.commit().await?;
        Ok(Submission { referral: record_from(model, person)?, replayed: false, other_open_referrals })
    }

    /// The organisation `actor` submits for, as recorded. An actor with none (the system) refers for
    /// nobody.
    async fn referrer(&self, actor: &Actor) -> Result<Referrer, StoreError> {
        let row =
            organisation::Entity::find_by_id(actor_org(actor)?.0).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        Ok(Referrer {
            organisation: OrganisationId(row.id),
            name: row.name,
            link_worker_service: row.link_worker_service_id.map(OrganisationId),
        })
    }

    /// Forgets the idempotency keys written before `before` (they no longer make a retry a replay);
    /// returns how many. The worker calls it on every pass; a submission forgets its own expired key
    /// itself, so how often this runs only bounds the table's size.
    pub async fn forget_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected)
    }

    async fn replayed_submission(
        &self,
        txn: &DatabaseTransaction,
        key: &IdempotencyKey,
        actor: &Actor,
    ) -> Result<Option<ReferralId>, StoreError> {
        let found = idempotency_key::Entity::find_by_id((actor_org(actor)?.0, key.key.clone())).one(txn).await?;
        match found {
            None => Ok(None),
            Some(row) if row.request_hash == key.request_hash => Ok(Some(ReferralId(row.referral_id))),
            Some(_) => Err(StoreError::IdempotencyKeyReused),
        }
    }

    /// The id of the person with this NHS number: `id` if this is the first referral for it. The row
    /// only links referrals; a later submission changes nothing in it (each referral keeps its own
    /// details), so the statement's update is a no-op that lets it return the existing id.
    async fn upsert_person(
        &self,
        txn: &DatabaseTransaction,
        id: PersonId,
        details: &PersonDetails,
        now: DateTime<Utc>,
    ) -> Result<PersonId, StoreError> {
        let model = person::Model {
            id: id.0,
            nhs_number: details.nhs_number.as_str().into(),
            given_name: details.given_name.clone(),
            family_name: details.family_name.clone(),
            date_of_birth: details.date_of_birth,
            phone: details.phone.as_ref().map(|p| p.as_str().into()),
            email: details.email.as_ref().map(|e| e.as_str().into()),
            postcode: details.postcode.as_ref().map(|p| p.as_str().into()),
            preferred_contact: details.preferred_contact.as_str().into(),
            created_at: now,
            updated_at: now,
        };
        use person::Column as P;
        let mut upsert = person::Entity::insert(model.into_active_model())
            .on_conflict(OnConflict::column(P::NhsNumber).update_column(P::NhsNumber).to_owned())
            .into_query();
        upsert.returning(Query::returning().columns([P::Id]));
        let row =
            txn.query_one_raw(txn.get_database_backend().build(&upsert)).await?.ok_or(StoreError::Corrupt("people"))?;
        Ok(PersonId(row.try_get("", "id")?))
    }

    /// The details `service` already holds for a person: those of its latest referral for them other
    /// than `except`.
    async fn held_details(
        conn: &impl ConnectionTrait,
        person: PersonId,
        service: OrganisationId,
        except: ReferralId,
    ) -> Result<Option<PersonDetails>, StoreError> {
        let latest = with_person(
            referral::Entity::find()
                .filter(referral::Column::PersonId.eq(person.0))
                .filter(referral::Column::LinkWorkerServiceId.eq(service.0))
                .filter(referral::Column::Id.ne(except.0))
                .order_by_desc(referral::Column::Id)
                .limit(1),
        )
        .one(conn)
        .await?;
        latest.map(|row| details_from(row.person)).transpose()
    }

    /// Reads one referral, if `actor` may; otherwise [`StoreError::NotFound`], so that guessing an id
    /// reveals nothing. The read is audited.
    pub async fn referral(
        &self,
        actor: &Actor,
        id: ReferralId,
        now: DateTime<Utc>,
    ) -> Result<ReferralRecord, StoreError> {
        let record = self.referral_unaudited(actor, id).await?;
        Audit { actor, action: "referral.read", referral: Some(id), offer: None, at: now }.commit(self).await?;
        Ok(record)
    }

    pub(crate) async fn referral_unaudited(&self, actor: &Actor, id: ReferralId) -> Result<ReferralRecord, StoreError> {
        let scope = ReferralScope::of(actor).ok_or(StoreError::NotFound)?;
        let row = with_person(referral::Entity::find_by_id(id.0).filter(scope_condition(scope)))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        record_from(row.referral, row.person)
    }

    /// A referral's whole history, oldest first, if `actor` may read it.
    pub async fn referral_history(&self, actor: &Actor, id: ReferralId) -> Result<Vec<ReferralEvent>, StoreError> {
        let scope = ReferralScope::of(actor).ok_or(StoreError::NotFound)?;
        referral::Entity::find_by_id(id.0)
            .filter(scope_condition(scope))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.events_of(id).await
    }

    /// The histories of many referrals already read in scope, each oldest first, in one query however
    /// many referrals are asked for. A referral with no events is absent (every stored referral has one).
    ///
    /// It does not check the scope again, so only pass ids of referrals the caller has read through
    /// [`Store::referral`] or [`Store::referrals`] (the API's `Referral` is only built from those).
    pub async fn events_of_many(
        &self,
        referrals: &[ReferralId],
    ) -> Result<std::collections::HashMap<ReferralId, Vec<ReferralEvent>>, StoreError> {
        let mut by_referral: std::collections::HashMap<ReferralId, Vec<ReferralEvent>> = Default::default();
        if referrals.is_empty() {
            return Ok(by_referral);
        }
        let rows = referral_event::Entity::find()
            .filter(referral_event::Column::ReferralId.is_in(referrals.iter().map(|r| r.0)))
            .order_by_asc(referral_event::Column::ReferralId)
            .order_by_asc(referral_event::Column::Version)
            .all(&self.db)
            .await?;
        for row in rows {
            let event = event_from(row)?;
            by_referral.entry(event.referral).or_default().push(event);
        }
        Ok(by_referral)
    }

    async fn events_of(&self, id: ReferralId) -> Result<Vec<ReferralEvent>, StoreError> {
        let rows = referral_event::Entity::find()
            .filter(referral_event::Column::ReferralId.eq(id.0))
            .order_by_asc(referral_event::Column::Version)
            .all(&self.db)
            .await?;
        rows.into_iter().map(event_from).collect()
    }

    /// Lists referrals in scope, newest first, with keyset pagination. Each person shown is audited.
    pub async fn referrals(
        &self,
        actor: &Actor,
        filter: &ReferralFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReferralRecord>, StoreError> {
        Ok(self.referral_page(actor, filter, now).await?.records)
    }

    /// One page of [`Store::referrals`] (at most `filter.limit`), and whether more follow. Only the
    /// people on the page are audited, not the one read to learn that more follow. The scope must be
    /// the actor's own: the audit finds a listing again by the organisation that listed it.
    pub async fn referral_page(
        &self,
        actor: &Actor,
        filter: &ReferralFilter,
        now: DateTime<Utc>,
    ) -> Result<ReferralPage, StoreError> {
        if ReferralScope::of(actor) != Some(filter.scope) {
            let action = "list referrals outside its own organisation";
            return Err(StoreError::Domain(trellis_domain::DomainError::Forbidden { role: actor.role, action }));
        }
        // The scope is the page's keyset: `page_with_person` adds it.
        let mut query = referral::Entity::find();
        if !filter.statuses.is_empty() {
            query = query.filter(referral::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
        }
        if let Some(need) = filter.need {
            query = query.filter(referral::Column::Needs.like(format!("%\"{}\"%", need.as_str())));
        }
        if let Some(user) = filter.assigned_to {
            query = query.filter(referral::Column::AssignedToUserId.eq(user.0));
        }
        if let Some(at) = filter.overdue_at {
            query = query
                .filter(referral::Column::Status.eq(ReferralStatus::Referred.as_str()))
                .filter(referral::Column::ContactDueAt.lt(at));
        }
        if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            // Each referral is found by the details it holds, not by what another referral said.
            use referral_demographics::Column as D;
            let people = match NhsNumber::parse(search) {
                Ok(nhs) => Query::select()
                    .column(D::ReferralId)
                    .from(referral_demographics::Entity)
                    .and_where(D::NhsNumber.eq(nhs.as_str()))
                    .to_owned(),
                Err(_) => {
                    let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
                    let name_matches = |col: D| {
                        Expr::expr(Func::lower(Expr::col(col)))
                            .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
                    };
                    Query::select()
                        .column(D::ReferralId)
                        .from(referral_demographics::Entity)
                        .cond_where(Condition::any().add(name_matches(D::GivenName)).add(name_matches(D::FamilyName)))
                        .to_owned()
                }
            };
            query = query.filter(referral::Column::Id.in_subquery(people));
        }
        if let Some(before) = filter.before {
            query = query.filter(referral::Column::Id.lt(before.0));
        }
        let (rows, has_next) = page_with_person(&self.db, scope_key(filter.scope), query, filter.limit).await?;
        let records =
            rows.into_iter().map(|row| record_from(row.referral, row.person)).collect::<Result<Vec<_>, _>>()?;
        let listing = Audit { actor, action: "referral.listed", referral: None, offer: None, at: now };
        listing.write_listing(&self.db, records.iter().map(|r| r.state.id)).await?;
        Ok(ReferralPage { records, has_next })
    }

    /// Applies a command to a referral made against `expected_version`; a note the command carries marked
    /// for the GP goes into the message back to the GP. A stale version is a conflict and changes nothing;
    /// so is losing a race to another writer.
    pub async fn transition_referral(
        &self,
        id: ReferralId,
        expected_version: u32,
        command: ReferralCommand,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ReferralRecord, StoreError> {
        // Every closure passes the same checks (a completed one needs its follow-up measure or a reason).
        if let ReferralCommand::Close { reason, note } = command {
            return self.close_referral(id, expected_version, reason, note, None, actor, now).await;
        }
        let event = crate::contention::retried(|| {
            let command = command.clone();
            async move {
                let txn = self.db.begin().await?;
                let event = self.transition_in(&txn, id, Some(expected_version), command, actor, now).await?;
                txn.commit().await?;
                Ok::<_, StoreError>(event)
            }
        })
        .await?;
        self.referral_unaudited(actor, event.referral).await
    }

    /// The transition inside a caller's transaction. `expected_version` is `None` only for changes that
    /// follow from another change in the same transaction (a provider's confirmed attendance).
    pub(crate) async fn transition_in(
        &self,
        txn: &DatabaseTransaction,
        id: ReferralId,
        expected_version: Option<u32>,
        command: ReferralCommand,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ReferralEvent, StoreError> {
        let row = referral::Entity::find_by_id(id.0).one(txn).await?.ok_or(StoreError::NotFound)?;
        let state = state_from(&row)?;
        let visible = trellis_domain::access::may_read_referral(actor, &state)
            || matches!(&command, ReferralCommand::RecordAttendance { evidence: Some(_), .. });
        if !visible {
            return Err(StoreError::NotFound);
        }
        let expected = expected_version.unwrap_or(state.version);
        if state.version != expected {
            return Err(StoreError::Conflict { expected, current: state.version });
        }
        let assignee = match &command {
            ReferralCommand::Assign { to } => Some(*to),
            _ => None,
        };
        let (next, event) = state.handle(command, actor, now)?;
        if let Some(to) = assignee {
            // Read in the transaction, so a user disabled or moved meanwhile is not given the referral.
            let candidate = Self::assignee_in(txn, to).await?;
            trellis_domain::access::check_assignee(&state, to, candidate.as_ref())?;
        }
        let mut update = referral::Entity::update_many()
            .col_expr(referral::Column::Status, Expr::value(next.status.as_str()))
            .col_expr(referral::Column::Version, Expr::value(i64::from(next.version)))
            .col_expr(referral::Column::UpdatedAt, Expr::value(now))
            .col_expr(referral::Column::AssignedToUserId, Expr::value(next.assigned_to.map(|u| u.0)))
            .col_expr(referral::Column::ClosureReason, Expr::value(next.closure_reason.map(|r| r.as_str())));
        // A change of status settles what a flag asked about, except differing details, which only the
        // link worker's choice (or closing, after which nothing is left to choose) settles.
        let resolved = matches!(event.kind, ReferralEventKind::PersonDetailsResolved { .. });
        let moved = next.status != state.status;
        if resolved || (moved && (!state.details_differ || next.status == ReferralStatus::Closed)) {
            update = update.col_expr(referral::Column::Flag, Expr::value(Option::<String>::None));
        }
        let result = update
            .filter(referral::Column::Id.eq(id.0))
            .filter(referral::Column::Version.eq(i64::from(expected)))
            .exec(txn)
            .await?;
        if result.rows_affected != 1 {
            return Err(StoreError::Conflict { expected, current: expected + 1 });
        }
        referral_event::Entity::insert(event_model(&event)?).exec_without_returning(txn).await.map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict { expected, current: expected + 1 }
            } else {
                e.into()
            }
        })?;
        let action = format!("referral.{}", event.kind.name());
        Audit { actor, action: &action, referral: Some(id), offer: None, at: now }.write(txn).await?;
        if let ReferralEventKind::PersonDetailsResolved { kept: DetailsChoice::Held } = event.kind {
            let person = PersonId(row.person_id);
            let held = Self::held_details(txn, person, state.link_worker_service, id)
                .await?
                .ok_or(StoreError::UnknownReference("heldDetails"))?;
            let replaced = sea_orm::ActiveModelTrait::reset_all(demographics_model(id, &held, now).into_active_model());
            referral_demographics::Entity::update(replaced).exec(txn).await?;
        }
        if event.kind == ReferralEventKind::Contacted {
            let service = organisation::Entity::find_by_id(row.link_worker_service_id).one(txn).await?;
            if service.is_some_and(|s| s.gp_message_at_first_contact) {
                crate::gp_delivery::queue_gp_message(txn, &row, Occasion::FirstContact, 1, now).await?;
            }
        }
        if let ReferralEventKind::Closed { reason } = event.kind {
            self.end_offers_of_closed_referral(txn, &row, reason, actor, now).await?;
            crate::gp_delivery::queue_gp_message(txn, &row, Occasion::Closure, 1, now).await?;
            let practice = organisation::Entity::find_by_id(row.referring_organisation_id).one(txn).await?;
            if let Some(email) = practice.and_then(|p| p.email) {
                NewEmail {
                    job: OutboxJob::ReferralClosed { referral: id, reason },
                    recipient: email,
                    offer: None,
                    referral: Some(id),
                    due_at: now,
                }
                .write(txn, now)
                .await?;
            }
        }
        Ok(event)
    }

    /// The user `id` as the assignment rule sees them, or `None` when there is no such user.
    async fn assignee_in(txn: &DatabaseTransaction, id: UserId) -> Result<Option<Assignee>, StoreError> {
        let row = user::Entity::find_by_id(id.0).one(txn).await?;
        Ok(row.map(crate::accounts::User::try_from).transpose()?.map(|u| u.as_assignee()))
    }

    /// Marks a referral for the link worker's attention without changing its state. Differing details
    /// are never overwritten by another flag: only the link worker's choice clears them.
    pub(crate) async fn flag_referral(
        conn: &impl ConnectionTrait,
        id: ReferralId,
        flag: &str,
    ) -> Result<(), StoreError> {
        referral::Entity::update_many()
            .col_expr(referral::Column::Flag, Expr::value(flag))
            .filter(referral::Column::Id.eq(id.0))
            .filter(
                Condition::any()
                    .add(referral::Column::Flag.is_null())
                    .add(referral::Column::Flag.ne(DETAILS_DIFFER_FLAG)),
            )
            .exec(conn)
            .await?;
        Ok(())
    }
}

fn actor_org(actor: &Actor) -> Result<OrganisationId, StoreError> {
    actor.organisation.ok_or(StoreError::Domain(trellis_domain::DomainError::Forbidden {
        role: actor.role,
        action: "submit referrals",
    }))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
