//! GraphQL types. They are the API's own and convert from domain and store types: storage rows never
//! leak into the schema, and the schema can change its shape without touching the rules.

use async_graphql::{ComplexObject, Context, Enum, ErrorExtensions, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use trellis_domain::offer as domain_offer;
use trellis_domain::referral as domain_referral;
use trellis_domain::{organisation as domain_org, values as domain_values};
use trellis_store::Store;
use trellis_store::accounts;
use trellis_store::directory;
use trellis_store::offers::{OfferRecord, ProviderOfferView};
use trellis_store::referrals::ReferralRecord;

use trellis_domain::access::KeyManagement;

use crate::error::{ApiError, ApiResult, OrApiError};

macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident => $domain:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
        #[allow(missing_docs)]
        pub enum $name { $($variant),+ }

        impl From<$domain> for $name {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => Self::$variant),+ }
            }
        }

        impl From<$name> for $domain {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$domain>::$variant),+ }
            }
        }
    };
}
/// For the other schema modules' enums that mirror domain ones.
pub(super) use mirror_enum;

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
    /// What matters to the person.
    Need => domain_values::Need {
        Loneliness, LowMood, PhysicalActivity, Debt, Benefits, Housing, CarerSupport, LongTermCondition,
        Bereavement, EmploymentAndLearning, Food, NewToTheArea
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
    /// Where an offer is in its lifecycle.
    OfferStatus => domain_offer::OfferStatus {
        Offered, Accepted, Declined, Waitlisted, Started, Finished, EndedEarly, Withdrawn, Expired
    }
);
mirror_enum!(
    /// Why a provider declined.
    DeclineReason => domain_offer::DeclineReason { AtCapacity, NotEligible, NotSuitable, Other }
);
mirror_enum!(
    /// Which details stand when a referral's person details differ from those its link worker service
    /// already held for the NHS number: `SUBMITTED` keeps this referral's as submitted; `HELD` replaces
    /// them with the service's latest other referral's.
    PersonDetailsChoice => trellis_domain::person::DetailsChoice { Submitted, Held }
);
mirror_enum!(
    /// What a party may do.
    Role => trellis_domain::Role { GpPractice, LinkWorker, Provider, NetworkLead, Admin, System }
);
mirror_enum!(
    /// What an organisation is.
    OrganisationKind => domain_org::OrganisationKind { GpPractice, LinkWorkerService, Provider, Locality }
);

/// The signed-in caller.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Me {
    /// The user.
    pub user: User,
    /// Their organisation.
    pub organisation: Organisation,
}

/// A user account.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct User {
    /// Its id.
    pub id: ID,
    /// The person's name.
    pub name: String,
    /// Their email address.
    pub email: String,
    /// Their role.
    pub role: Role,
    /// Their organisation's id.
    pub organisation_id: ID,
    /// Since when they may not sign in (offboarded by `disableUser`); null while they may.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<accounts::User> for User {
    fn from(u: accounts::User) -> Self {
        User {
            id: ID(u.id.to_string()),
            name: u.name,
            email: u.email,
            role: u.role.into(),
            organisation_id: ID(u.organisation.to_string()),
            disabled_at: u.disabled_at,
        }
    }
}

#[ComplexObject]
impl User {
    /// Their API keys, oldest first, never the tokens: an admin reads anyone's, a user its own, and
    /// anyone else is refused (`FORBIDDEN`).
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let actor = ctx.data::<crate::auth::Caller>()?.actor().api()?;
        let owner = super::inputs::user_id("userId", &self.id).api()?;
        if KeyManagement::of(&actor, owner) == KeyManagement::None {
            return Err(ApiError::Forbidden("read another user's API keys".into()).extend());
        }
        api_keys_of(ctx, owner).await
    }
}

#[ComplexObject]
impl Me {
    /// Your own API keys, oldest first, never the tokens: what to revoke or rotate.
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let principal = ctx.data::<crate::auth::Caller>()?.principal().api()?;
        api_keys_of(ctx, principal.user.id).await
    }
}

async fn api_keys_of(ctx: &Context<'_>, owner: trellis_domain::UserId) -> ApiResult<Vec<ApiKey>> {
    let keys = ctx.data::<Store>()?.api_keys_of(owner).await.api()?;
    Ok(keys.into_iter().map(ApiKey::from).collect())
}

/// An organisation in the locality.
#[derive(SimpleObject, Clone)]
pub struct Organisation {
    /// Its id.
    pub id: ID,
    /// What it is.
    pub kind: OrganisationKind,
    /// Its name.
    pub name: String,
    /// Its ODS code (GP practices).
    pub ods_code: Option<String>,
    /// Where it receives email.
    pub email: Option<String>,
    /// For a GP practice, the link worker service that receives its referrals.
    pub link_worker_service_id: Option<ID>,
    /// Its MESH mailbox id: where the message back to a GP practice is delivered.
    pub mesh_mailbox_id: Option<String>,
    /// For a link worker service: whether the referring practice also gets a message back at first
    /// contact, saying the person has been contacted.
    pub gp_message_at_first_contact: bool,
}

impl From<accounts::Organisation> for Organisation {
    fn from(o: accounts::Organisation) -> Self {
        Organisation {
            id: ID(o.id.to_string()),
            kind: o.kind.into(),
            name: o.name,
            ods_code: o.ods_code,
            email: o.email,
            link_worker_service_id: o.link_worker_service.map(|s| ID(s.to_string())),
            mesh_mailbox_id: o.mesh_mailbox,
            gp_message_at_first_contact: o.gp_message_at_first_contact,
        }
    }
}

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
    // their offers, not one per row.
    /// Its whole history, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> ApiResult<Vec<ReferralEvent>> {
        let loaders = ctx.data::<super::loaders::RequestLoaders>()?;
        let events = loaders.history.load_one(self.0.state.id).await.api()?.unwrap_or_default();
        Ok(events.into_iter().map(ReferralEvent).collect())
    }
    /// Its offers, oldest first.
    async fn offers(&self, ctx: &Context<'_>) -> ApiResult<Vec<Offer>> {
        let loaders = ctx.data::<super::loaders::RequestLoaders>()?;
        let offers = loaders.offers.load_one(self.0.state.id).await.api()?.unwrap_or_default();
        Ok(offers.into_iter().map(Offer).collect())
    }
    /// The person's current plan, in full: link workers only (`FORBIDDEN` for others). `null` until one
    /// is agreed.
    async fn plan(&self, ctx: &Context<'_>) -> ApiResult<Option<super::wellbeing::Plan>> {
        super::wellbeing::plan(ctx, self).await
    }
    /// Every agreed version of the plan, oldest first: link workers only.
    async fn plan_history(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::wellbeing::Plan>> {
        super::wellbeing::plan_history(ctx, self).await
    }
    /// The plan's summary (goals, reviews, actions' status; no scores): link workers, and the referring
    /// practice once the referral has closed.
    async fn plan_summary(&self, ctx: &Context<'_>) -> ApiResult<Option<super::wellbeing::PlanSummary>> {
        super::wellbeing::plan_summary(ctx, self).await
    }
    /// Wellbeing measures in the order taken, scored and banded: link workers, and the referring practice
    /// once the referral has closed.
    async fn measures(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::wellbeing::Measure>> {
        Ok(super::wellbeing::measures(ctx, self).await?.into_iter().map(Into::into).collect())
    }
    /// Per instrument, the baseline, the follow-up and the change between them: as `measures`.
    async fn wellbeing_change(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::wellbeing::WellbeingChange>> {
        Ok(super::wellbeing::changes(&super::wellbeing::measures(ctx, self).await?))
    }
    /// The message back to the referring practice (PRSB "message back to GP"), once the referral has
    /// closed: for the practice and the link worker service; `null` while it is open or for others.
    async fn gp_message(&self, ctx: &Context<'_>) -> ApiResult<Option<super::gp_message::GpMessage>> {
        super::gp_message::of(ctx, self).await
    }
    /// Why no follow-up measure was taken, when it closed as completed without one.
    async fn no_follow_up_reason(&self, ctx: &Context<'_>) -> ApiResult<Option<super::wellbeing::NoFollowUpReason>> {
        super::wellbeing::no_follow_up_reason(ctx, self).await
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

/// A referral handed to one provider's service (a FHIR R4 Task).
pub struct Offer(pub OfferRecord);

#[Object]
impl Offer {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.0.state.id.to_string())
    }
    /// Bumped by every change; send it back as `expectedVersion`.
    async fn version(&self) -> u32 {
        self.0.state.version
    }
    /// The reference the provider's emails carry (`OF-…`), so a phone call about an email can be matched
    /// to its offer.
    async fn reference(&self) -> String {
        trellis_store::notices::offer_reference(self.0.state.id)
    }
    /// The referral's id.
    async fn referral_id(&self) -> ID {
        ID(self.0.state.referral.to_string())
    }
    /// Where it is.
    async fn status(&self) -> OfferStatus {
        self.0.state.status.into()
    }
    /// The same state as FHIR R4 `Task.status`.
    async fn fhir_task_status(&self) -> &'static str {
        self.0.state.status.fhir_task_status()
    }
    /// Why it was declined.
    async fn decline_reason(&self) -> Option<DeclineReason> {
        self.0.state.decline_reason.map(Into::into)
    }
    /// The service's id.
    async fn service_id(&self) -> ID {
        ID(self.0.state.service.to_string())
    }
    /// The service's name.
    async fn service_name(&self) -> &str {
        &self.0.service_name
    }
    /// The provider's name.
    async fn provider_name(&self) -> &str {
        &self.0.provider_name
    }
    /// The offer this one came from (FHIR `Task.partOf`).
    async fn part_of_id(&self) -> Option<ID> {
        self.0.state.part_of.map(|p| ID(p.to_string()))
    }
    /// What the link worker wrote for the provider.
    async fn note_for_provider(&self) -> Option<&str> {
        self.0.note_for_provider.as_deref()
    }
    /// When it expires unanswered.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.state.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.state.updated_at
    }
    /// The emails about this offer and how their delivery went. A provider sees only the emails sent to
    /// it, never those (or their errors) sent to the link worker or the practice.
    async fn deliveries(&self, ctx: &Context<'_>) -> ApiResult<Vec<Delivery>> {
        let emails = ctx.data::<Store>()?.emails_for_offer(self.0.state.id).await.api()?;
        let actor = ctx.data::<crate::auth::Caller>()?.actor().api()?;
        let only_providers = actor.role == trellis_domain::Role::Provider;
        Ok(emails
            .into_iter()
            .filter(|e| !only_providers || e.kind.is_to_provider())
            .map(|e| Delivery {
                kind: e.kind.as_str().into(),
                status: e.status.as_str().into(),
                attempts: e.attempts,
                last_error: e.last_error,
                sent_at: e.sent_at,
                next_attempt_at: e.next_attempt_at,
            })
            .collect())
    }
}

/// An email about an offer and its delivery.
#[derive(SimpleObject)]
pub struct Delivery {
    /// What it is about (`offer_made`, `offer_reminder`, …).
    pub kind: String,
    /// `pending`, `sent` or `dead`.
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When the SMTP server accepted it.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it is next due, while pending.
    pub next_attempt_at: DateTime<Utc>,
}

/// What a provider sees of an offer made to it.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ProviderOffer {
    /// The person's first name.
    pub first_name: String,
    /// An age band, never the date of birth.
    pub age_band: String,
    /// What matters to them.
    pub needs: Vec<Need>,
    /// Contact details, once accepted.
    pub contact: Option<ContactDetails>,
    #[graphql(skip)]
    offer: OfferRecord,
}

impl ProviderOffer {
    /// The offer's id: the cursor of its row in `providerOffers`.
    pub(crate) fn offer_id(&self) -> trellis_domain::OfferId {
        self.offer.state.id
    }
}

#[ComplexObject]
impl ProviderOffer {
    /// The offer.
    async fn offer(&self) -> Offer {
        Offer(self.offer.clone())
    }
    /// The actions of the person's plan that name this service, once the provider sees the person
    /// (accepted, referral open); never the person's scores.
    async fn plan_actions(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::wellbeing::ProviderPlanAction>> {
        super::wellbeing::provider_actions(ctx, &self.offer, self.contact.is_some()).await
    }
}

impl From<ProviderOfferView> for ProviderOffer {
    fn from(v: ProviderOfferView) -> Self {
        ProviderOffer {
            first_name: v.first_name,
            age_band: v.age_band.into(),
            needs: v.needs.into_iter().map(Into::into).collect(),
            contact: v.contact.map(|c| ContactDetails {
                name: c.name,
                phone: c.phone,
                email: c.email,
                preferred_contact: c.preferred_contact,
            }),
            offer: v.offer,
        }
    }
}

/// How to reach the person, for a provider that accepted.
#[derive(SimpleObject)]
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

/// A service in the directory.
#[derive(SimpleObject)]
pub struct Service {
    /// Its id.
    pub id: ID,
    /// The provider organisation's id.
    pub organisation_id: ID,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Where offers go (the organisation's address when absent).
    pub email: Option<String>,
    /// Its web page.
    pub url: Option<String>,
    /// `active` (listed and open to offers) or `inactive`.
    pub status: String,
    /// Taxonomy term codes.
    pub taxonomy: Vec<String>,
    /// Youngest age it takes.
    pub min_age: Option<i32>,
    /// Oldest age it takes.
    pub max_age: Option<i32>,
    /// Eligibility in words.
    pub eligibility: Option<String>,
    /// When it runs.
    pub schedule: Option<String>,
    /// Where it happens.
    pub places: Vec<Place>,
    /// Live capacity.
    pub capacity: Option<Capacity>,
    /// Moves on with every change to the service or its capacity (an accepted offer taking a place
    /// included): pass it as `expectedVersion` to `updateService` and `updateServiceCapacity`, which
    /// answer `CONFLICT` when someone changed it since.
    pub version: u32,
}

/// Where a service happens.
#[derive(SimpleObject)]
pub struct Place {
    /// Its name.
    pub name: String,
    /// Its postcode.
    pub postcode: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
}

/// A service's capacity (HSDS 3.1 `service_capacity`).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Capacity {
    /// Places free.
    pub available: i32,
    /// Places in all.
    pub maximum: i32,
    /// What a place is.
    pub unit: String,
    /// `open`, `waitlist` or `closed`.
    pub status: String,
    /// When the provider last said so.
    pub updated_at: DateTime<Utc>,
}

#[ComplexObject]
impl Capacity {
    /// Whether the provider last confirmed it longer ago than this deployment trusts (14 days unless
    /// configured otherwise): the numbers may no longer be true.
    async fn stale(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(ctx.data::<trellis_store::Store>()?.policy().capacity_stale(self.updated_at, Utc::now()))
    }
}

impl From<directory::Service> for Service {
    fn from(s: directory::Service) -> Self {
        Service {
            id: ID(s.id.to_string()),
            organisation_id: ID(s.organisation.to_string()),
            name: s.name,
            description: s.description,
            email: s.email,
            url: s.url,
            status: s.status,
            taxonomy: s.taxonomy,
            min_age: s.min_age,
            max_age: s.max_age,
            eligibility: s.eligibility,
            schedule: s.schedule,
            places: s
                .places
                .into_iter()
                .map(|p| Place {
                    name: p.name,
                    postcode: p.postcode.map(String::from),
                    latitude: p.latitude,
                    longitude: p.longitude,
                })
                .collect(),
            capacity: s.capacity.map(|c| Capacity {
                available: c.available,
                maximum: c.maximum,
                unit: c.unit,
                status: c.status,
                updated_at: c.updated_at,
            }),
            version: s.version,
        }
    }
}

/// One audit entry.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// Its id.
    pub id: ID,
    /// When.
    pub at: DateTime<Utc>,
    /// What (`referral.read`, `referral.contacted`, `offer.accepted`, …).
    pub action: String,
    /// Who, by role.
    pub actor_role: Role,
    /// Who, by user id.
    pub actor_user_id: Option<ID>,
    /// For which organisation.
    pub actor_organisation_id: Option<ID>,
    /// The referral concerned.
    pub referral_id: Option<ID>,
    /// The offer concerned.
    pub offer_id: Option<ID>,
}

impl From<trellis_store::audit::AuditEntry> for AuditEntry {
    fn from(e: trellis_store::audit::AuditEntry) -> Self {
        AuditEntry {
            id: ID(e.id.to_string()),
            at: e.at,
            action: e.action,
            actor_role: e.actor.role.into(),
            actor_user_id: e.actor.user.map(|u| ID(u.to_string())),
            actor_organisation_id: e.actor.organisation.map(|o| ID(o.to_string())),
            referral_id: e.referral.map(|r| ID(r.to_string())),
            offer_id: e.offer.map(|o| ID(o.to_string())),
        }
    }
}

/// An API key as listed (its token is never shown again).
#[derive(SimpleObject)]
pub struct ApiKey {
    /// Its id.
    pub id: ID,
    /// Its owner.
    pub user_id: ID,
    /// What it is for.
    pub label: String,
    /// When issued.
    pub created_at: DateTime<Utc>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it was revoked (it never works again).
    pub revoked: bool,
    /// After when it is refused (`UNAUTHENTICATED`); a new key is issued with `issueApiKey`.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request, to within a minute; null if never. A key unused for long
    /// is one to revoke.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<accounts::ApiKey> for ApiKey {
    fn from(k: accounts::ApiKey) -> Self {
        ApiKey {
            id: ID(k.id.to_string()),
            user_id: ID(k.user.to_string()),
            label: k.label,
            created_at: k.created_at,
            revoked: k.revoked_at.is_some(),
            revoked_at: k.revoked_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
        }
    }
}
