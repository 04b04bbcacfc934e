//! What a referral reads as: the referral, its person, consent and history, and the enums they carry.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use trellis_domain::referral as domain_referral;
use trellis_domain::values as domain_values;
use trellis_store::referrals::ReferralRecord;

use crate::error::{ApiResult, OrApiError};
use crate::schema::common::{EthnicCategory, Need, Role, Sex, mirror_enum};
use crate::schema::offers::Offer;
use crate::schema::{gp_message, loaders, wellbeing};

mirror_enum!(
    /// Where a referral is in its lifecycle.
    ReferralStatus => domain_referral::ReferralStatus { Referred, Contacted, Attending, Closed }
);
mirror_enum!(
    /// Why a referral closed.
    ClosureReason => domain_referral::ClosureReason {
        Completed, DeclinedByPerson, UnableToContact, NotAppropriate, WithdrawnByReferrer, MovedAway, Died, EnteredInError
    }
);
mirror_enum!(
    /// How soon the person should be contacted.
    Urgency => domain_values::Urgency { Routine, Urgent }
);
mirror_enum!(
    /// How the person likes to be contacted.
    ContactMethod => domain_values::ContactMethod { Phone, Text, Email, Letter }
);
mirror_enum!(
    /// Which details stand when a referral's person details differ from those its link worker service
    /// already held for the NHS number: `SUBMITTED` keeps this referral's as submitted; `HELD` replaces
    /// them with the service's latest other referral's.
    PersonDetailsChoice => trellis_domain::person::DetailsChoice { Submitted, Held }
);

/// The person a referral is for.
#[derive(SimpleObject, Clone)]
pub struct Person {
    /// NHS number, 10 digits.
    pub nhs_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Postcode.
    pub postcode: Option<String>,
    /// How they like to be contacted.
    pub preferred_contact: ContactMethod,
    /// Their sex, if the referrer recorded it.
    pub sex: Option<Sex>,
    /// Their ethnic category, if the referrer recorded it.
    pub ethnic_category: Option<EthnicCategory>,
}

/// Consent to share the referral with the network's providers.
#[derive(SimpleObject, Clone)]
pub struct Consent {
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// One person's social prescribing episode.
pub struct Referral(pub ReferralRecord);

#[Object]
impl Referral {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.state.id.to_string())
    }
    /// Bumped by every change; send it back as `expectedVersion`.
    async fn version(&self) -> u32 {
        self.0.state.version
    }
    /// Where it is.
    async fn status(&self) -> ReferralStatus {
        self.0.state.status.into()
    }
    /// Why it closed.
    async fn closure_reason(&self) -> Option<ClosureReason> {
        self.0.state.closure_reason.map(Into::into)
    }
    /// The SNOMED CT concept of the closure, where one exists (871711000000103 when declined).
    async fn closure_snomed_code(&self) -> Option<&'static str> {
        self.0.state.closure_reason.and_then(|r| r.snomed())
    }
    /// SNOMED CT 871731000000106, "Referral to social prescribing service".
    async fn snomed_code(&self) -> &'static str {
        domain_referral::SNOMED_REFERRAL_TO_SOCIAL_PRESCRIBING
    }
    /// The person, as this referral holds them: the details it was submitted with (or those its link
    /// worker chose to keep). Another organisation's submission for the same NHS number never changes them.
    async fn person(&self) -> Person {
        let d = &self.0.person.details;
        Person {
            nhs_number: d.nhs_number.as_str().into(),
            given_name: d.given_name.clone(),
            family_name: d.family_name.clone(),
            date_of_birth: d.date_of_birth,
            phone: d.phone.as_ref().map(|p| p.as_str().into()),
            email: d.email.as_ref().map(|e| e.as_str().into()),
            postcode: d.postcode.as_ref().map(|p| p.as_str().into()),
            preferred_contact: d.preferred_contact.into(),
            sex: d.sex.map(Into::into),
            ethnic_category: d.ethnic_category.map(Into::into),
        }
    }
    /// What matters to the person.
    async fn needs(&self) -> Vec<Need> {
        self.0.needs.iter().map(|n| (*n).into()).collect()
    }
    /// The referrer's words.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// How soon.
    async fn urgency(&self) -> Urgency {
        self.0.urgency.into()
    }
    /// Consent to share.
    async fn consent(&self) -> Consent {
        Consent { recorded_by: self.0.consent.recorded_by.clone(), recorded_at: self.0.consent.recorded_at }
    }
    /// The referring organisation's id.
    async fn referring_organisation_id(&self) -> ID {
        ID(self.0.state.referring_organisation.to_string())
    }
    /// The link worker service's id.
    async fn link_worker_service_id(&self) -> ID {
        ID(self.0.state.link_worker_service.to_string())
    }
    /// The assigned link worker's id.
    async fn assigned_to_id(&self) -> Option<ID> {
        self.0.state.assigned_to.map(|u| ID(u.to_string()))
    }
    /// When first contact is due.
    async fn contact_due_at(&self) -> DateTime<Utc> {
        self.0.contact_due_at
    }
    /// Whether first contact is overdue.
    async fn overdue(&self) -> bool {
        self.0.is_overdue(Utc::now())
    }
    /// Something for the link worker to look at (`offer_expired`, `delivery_failed`, or `details_differ`:
    /// the person's details differ from those the service already holds for the NHS number; settle it
    /// with `resolvePersonDetails`).
    async fn flag(&self) -> Option<&str> {
        self.0.flag.as_deref()
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.state.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.state.updated_at
    }
    // A `Referral` is only ever built from a read or write that checked the caller's scope, so its history
    // and offers are loaded without checking it again. They go through the request's loaders
    // (`schema::loaders`), so a page of referrals costs one query for all their histories and one for all
    // their offers, not one per row. The fields that wait on the store box what they wait on: async-graphql
    // runs every field of an object as one future, as large as its largest field's, and moves each into
    // a box; unboxed, each of a caseload page's 300 plain fields moved kilobytes.
    /// Its whole history, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> ApiResult<Vec<ReferralEvent>> {
        let loaders = ctx.data::<loaders::RequestLoaders>()?;
        let events = Box::pin(loaders.history.load_one(self.0.state.id)).await.api()?.unwrap_or_default();
        Ok(events.into_iter().map(ReferralEvent).collect())
    }
    /// Its offers, oldest first.
    async fn offers(&self, ctx: &Context<'_>) -> ApiResult<Vec<Offer>> {
        let loaders = ctx.data::<loaders::RequestLoaders>()?;
        let offers = Box::pin(loaders.offers.load_one(self.0.state.id)).await.api()?.unwrap_or_default();
        Ok(offers.into_iter().map(Offer).collect())
    }
    /// The person's current plan, in full: link workers only (`FORBIDDEN` for others). `null` until one
    /// is agreed.
    async fn plan(&self, ctx: &Context<'_>) -> ApiResult<Option<wellbeing::Plan>> {
        Box::pin(wellbeing::plan(ctx, self)).await
    }
    /// Every agreed version of the plan, oldest first: link workers only.
    async fn plan_history(&self, ctx: &Context<'_>) -> ApiResult<Vec<wellbeing::Plan>> {
        Box::pin(wellbeing::plan_history(ctx, self)).await
    }
    /// The plan's summary (goals, reviews, actions' status; no scores): link workers, and the referring
    /// practice once the referral has closed.
    async fn plan_summary(&self, ctx: &Context<'_>) -> ApiResult<Option<wellbeing::PlanSummary>> {
        Box::pin(wellbeing::plan_summary(ctx, self)).await
    }
    /// Wellbeing measures in the order taken, scored and banded: link workers, and the referring practice
    /// once the referral has closed.
    async fn measures(&self, ctx: &Context<'_>) -> ApiResult<Vec<wellbeing::Measure>> {
        Ok(Box::pin(wellbeing::measures(ctx, self)).await?.into_iter().map(Into::into).collect())
    }
    /// Per instrument, the baseline, the follow-up and the change between them: as `measures`.
    async fn wellbeing_change(&self, ctx: &Context<'_>) -> ApiResult<Vec<wellbeing::WellbeingChange>> {
        Ok(wellbeing::changes(&Box::pin(wellbeing::measures(ctx, self)).await?))
    }
    /// The message back to the referring practice (PRSB "message back to GP"), once the referral has
    /// closed: for the practice and the link worker service; `null` while it is open or for others.
    async fn gp_message(&self, ctx: &Context<'_>) -> ApiResult<Option<gp_message::GpMessage>> {
        Box::pin(gp_message::of(ctx, self)).await
    }
    /// Why no follow-up measure was taken, when it closed as completed without one.
    async fn no_follow_up_reason(&self, ctx: &Context<'_>) -> ApiResult<Option<wellbeing::NoFollowUpReason>> {
        Box::pin(wellbeing::no_follow_up_reason(ctx, self)).await
    }
}

/// One entry in a referral's history.
pub struct ReferralEvent(pub domain_referral::ReferralEvent);

#[Object]
impl ReferralEvent {
    /// The referral's version after this event.
    async fn version(&self) -> u32 {
        self.0.version
    }
    /// What happened (`opened`, `assigned`, `contact_attempted`, `contacted`, `attendance_recorded`,
    /// `activity_ended`, `closed`, `person_details_resolved`, `plan_updated`, `measure_recorded`).
    async fn kind(&self) -> &'static str {
        self.0.kind.name()
    }
    /// The status before.
    async fn from_status(&self) -> Option<ReferralStatus> {
        self.0.from.map(Into::into)
    }
    /// The status after.
    async fn to_status(&self) -> ReferralStatus {
        self.0.to.into()
    }
    /// The closure reason, for a closing event.
    async fn closure_reason(&self) -> Option<ClosureReason> {
        match self.0.kind {
            domain_referral::ReferralEventKind::Closed { reason } => Some(reason.into()),
            _ => None,
        }
    }
    /// Which details the link worker kept, for a `person_details_resolved` event.
    async fn kept_person_details(&self) -> Option<PersonDetailsChoice> {
        match self.0.kind {
            domain_referral::ReferralEventKind::PersonDetailsResolved { kept } => Some(kept.into()),
            _ => None,
        }
    }
    /// Who acted, by role.
    async fn actor_role(&self) -> Role {
        self.0.actor.role.into()
    }
    /// Who acted, by user id (none for a provider link or the system).
    async fn actor_user_id(&self) -> Option<ID> {
        self.0.actor.user.map(|u| ID(u.to_string()))
    }
    /// For which organisation.
    async fn actor_organisation_id(&self) -> Option<ID> {
        self.0.actor.organisation.map(|o| ID(o.to_string()))
    }
    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// What they wrote.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Whether the link worker marked the note for the referring GP practice (it goes into the message
    /// back to the GP).
    async fn note_for_gp(&self) -> bool {
        self.0.note_for_gp
    }
}
