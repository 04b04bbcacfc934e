//! GraphQL inputs, named `<Verb><Noun>Input`, and their parsing into domain values.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_domain::values::{self as v, ValueError};
use trellis_domain::{OfferId, OrganisationId, ReferralId, ServiceId, UserId};

use crate::referral_input::ReferralText;

use super::types::{
    ClosureReason, ContactMethod, DeclineReason, Need, OrganisationKind, PersonDetailsChoice, ReferralStatus, Role,
    Urgency,
};

/// Parses an id argument, naming the field when it is not one.
pub fn parse_id<T: From<uuid::Uuid>>(field: &'static str, id: &ID) -> Result<T, ValueError> {
    uuid::Uuid::parse_str(id.as_str()).map(T::from).map_err(|_| ValueError::new(field, id.as_str(), "is not an id"))
}

/// Shorthands for the ids the inputs carry.
pub fn referral_id(id: &ID) -> Result<ReferralId, ValueError> {
    parse_id("referralId", id)
}
/// An offer id.
pub fn offer_id(id: &ID) -> Result<OfferId, ValueError> {
    parse_id("offerId", id)
}
/// A service id.
pub fn service_id(id: &ID) -> Result<ServiceId, ValueError> {
    parse_id("serviceId", id)
}
/// A user id.
pub fn user_id(field: &'static str, id: &ID) -> Result<UserId, ValueError> {
    parse_id(field, id)
}
/// An organisation id.
pub fn organisation_id(field: &'static str, id: &ID) -> Result<OrganisationId, ValueError> {
    parse_id(field, id)
}

/// The person being referred.
#[derive(InputObject, Serialize, Clone)]
pub struct PersonInput {
    /// NHS number (spaces allowed).
    pub nhs_number: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// UK phone number.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Home postcode.
    pub postcode: Option<String>,
    /// How they like to be contacted.
    pub preferred_contact: ContactMethod,
}

impl SubmitReferralInput {
    /// The submission as text, for the one parser every way in shares
    /// ([`crate::referral_input::parse_submission`]).
    pub fn text(&self) -> ReferralText<'_> {
        let p = &self.person;
        ReferralText {
            idempotency_key: &self.idempotency_key,
            nhs_number: &p.nhs_number,
            given_name: &p.given_name,
            family_name: &p.family_name,
            date_of_birth: &p.date_of_birth,
            phone: p.phone.as_deref(),
            email: p.email.as_deref(),
            postcode: p.postcode.as_deref(),
            preferred_contact: p.preferred_contact.as_str(),
            needs: self.needs.iter().map(|n| v::Need::from(*n).as_str()).collect(),
            reason: &self.reason,
            urgency: v::Urgency::from(self.urgency).as_str(),
            consent_given: self.consent.given,
            consent_recorded_by: &self.consent.recorded_by,
            consent_recorded_at: self.consent.recorded_at,
        }
    }
}

impl ContactMethod {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        v::ContactMethod::from(self).as_str()
    }
}

/// The person's consent to share their referral with the network.
#[derive(InputObject, Serialize, Clone)]
pub struct ConsentInput {
    /// Whether they consented. A referral cannot be made without it.
    pub given: bool,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// A referral to submit.
#[derive(InputObject, Serialize, Clone)]
pub struct SubmitReferralInput {
    /// A key unique to this submission; a retry with the same key and input returns the same referral.
    #[serde(skip)]
    pub idempotency_key: String,
    /// The person.
    pub person: PersonInput,
    /// What matters to them (at least one).
    pub needs: Vec<Need>,
    /// Why they are referred, in the referrer's words.
    pub reason: String,
    /// How soon.
    #[graphql(default_with = "Urgency::Routine")]
    pub urgency: Urgency,
    /// Consent to share with the network.
    pub consent: ConsentInput,
}

/// Withdraw a referral the practice made, while it is still `REFERRED`.
#[derive(InputObject)]
pub struct WithdrawReferralInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// Why.
    pub note: Option<String>,
}

/// Assign a referral to a link worker of its service.
#[derive(InputObject)]
pub struct AssignReferralInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// The link worker.
    pub link_worker_id: ID,
}

/// A note on a referral, for the mutations that take nothing else.
#[derive(InputObject)]
pub struct RecordContactAttemptInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// What was tried.
    pub note: Option<String>,
    /// Marks the note for the referring GP practice: it then goes into the message back to the GP. Unmarked
    /// notes are for the record only and never reach the practice's record. Needs a note.
    #[graphql(default)]
    pub for_gp: bool,
}

/// The first real conversation with the person.
#[derive(InputObject)]
pub struct RecordContactInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// What matters to them; the start of their plan.
    pub note: Option<String>,
    /// Marks the note for the referring GP practice: it then goes into the message back to the GP. Unmarked
    /// notes are for the record only and never reach the practice's record. Needs a note.
    #[graphql(default)]
    pub for_gp: bool,
}

/// The person attends an activity.
#[derive(InputObject)]
pub struct RecordAttendanceInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// Any note.
    pub note: Option<String>,
    /// Marks the note for the referring GP practice: it then goes into the message back to the GP. Unmarked
    /// notes are for the record only and never reach the practice's record. Needs a note.
    #[graphql(default)]
    pub for_gp: bool,
}

/// The activity ended early; the person needs another connection.
#[derive(InputObject)]
pub struct EndActivityInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// Why.
    pub note: Option<String>,
    /// Marks the note for the referring GP practice: it then goes into the message back to the GP. Unmarked
    /// notes are for the record only and never reach the practice's record. Needs a note.
    #[graphql(default)]
    pub for_gp: bool,
}

/// Close a referral.
#[derive(InputObject)]
pub struct CloseReferralInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// Why.
    pub reason: ClosureReason,
    /// Any note (for the record; it reaches the practice only when marked `forGp`).
    pub note: Option<String>,
    /// Marks the note for the referring GP practice: it then goes into the message back to the GP. Unmarked
    /// notes are for the record only and never reach the practice's record. Needs a note.
    #[graphql(default)]
    pub for_gp: bool,
    /// Why no follow-up wellbeing measure was taken: required to close as `COMPLETED` without one.
    pub no_follow_up_reason: Option<super::wellbeing::NoFollowUpReason>,
}

/// Choose which of a flagged referral's person details stand (its flag is `details_differ`).
#[derive(InputObject)]
pub struct ResolvePersonDetailsInput {
    /// The referral.
    pub referral_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// Which details stand for this referral.
    pub keep: PersonDetailsChoice,
    /// Any note (for the record).
    pub note: Option<String>,
}

/// Offer a referral to a service in the directory.
#[derive(InputObject)]
pub struct OfferReferralInput {
    /// The referral.
    pub referral_id: ID,
    /// The referral's version the caller saw.
    pub expected_version: u32,
    /// The service.
    pub service_id: ID,
    /// What the provider should know (shown to it before it accepts: no contact details here).
    pub note_for_provider: Option<String>,
}

/// How a provider answers an offer.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum OfferResponse {
    /// Take the person.
    Accept,
    /// Cannot take the person (give a reason).
    Decline,
    /// Take the person when a place frees up.
    Waitlist,
}

/// A provider's answer to an offer.
#[derive(InputObject)]
pub struct RespondToOfferInput {
    /// The offer.
    pub offer_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// The answer.
    pub response: OfferResponse,
    /// Why, when declining.
    pub decline_reason: Option<DeclineReason>,
    /// Any note.
    pub note: Option<String>,
}

/// What happened with an accepted offer, or its withdrawal.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum OfferUpdate {
    /// The person attended.
    Start,
    /// The activity finished.
    Finish,
    /// The activity ended early.
    EndEarly,
    /// The link worker takes the offer back.
    Withdraw,
}

/// Record an offer's progress.
#[derive(InputObject)]
pub struct UpdateOfferInput {
    /// The offer.
    pub offer_id: ID,
    /// The version the caller saw.
    pub expected_version: u32,
    /// What happened.
    pub update: OfferUpdate,
    /// Any note.
    pub note: Option<String>,
}

/// Propose an onward offer from an accepted one to another service (a provider).
#[derive(InputObject)]
pub struct ProposeOnwardOfferInput {
    /// The accepted offer it comes from.
    pub from_offer_id: ID,
    /// The service to offer.
    pub service_id: ID,
    /// Why.
    pub note_for_provider: Option<String>,
}

/// Add an organisation.
#[derive(InputObject)]
pub struct CreateOrganisationInput {
    /// What it is.
    pub kind: OrganisationKind,
    /// Its name.
    pub name: String,
    /// ODS code (GP practices).
    pub ods_code: Option<String>,
    /// Where it receives email.
    pub email: Option<String>,
    /// For a GP practice, the link worker service that receives its referrals.
    pub link_worker_service_id: Option<ID>,
    /// Its MESH mailbox id (`X26ABC2`): where the message back to a GP practice is delivered.
    pub mesh_mailbox_id: Option<String>,
    /// For a link worker service: the referring practice also gets a message back at first contact,
    /// saying the person has been contacted (it always gets one at closure).
    #[graphql(default)]
    pub gp_message_at_first_contact: bool,
}

/// Change an organisation's name, email, MESH mailbox or message back at first contact (admin). An absent
/// field stays as it is; an empty `email` or `meshMailboxId` removes it.
#[derive(InputObject)]
pub struct UpdateOrganisationInput {
    /// The organisation.
    pub organisation_id: ID,
    /// A new name.
    pub name: Option<String>,
    /// A new email address; empty removes it.
    pub email: Option<String>,
    /// A new MESH mailbox id; empty removes it.
    pub mesh_mailbox_id: Option<String>,
    /// For a link worker service: turn the message back to the practice at first contact on or off.
    pub gp_message_at_first_contact: Option<bool>,
}

/// Add a user; the payload carries their API token, shown once.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// The organisation.
    pub organisation_id: ID,
    /// The role (must fit the organisation).
    pub role: Role,
    /// Email address.
    pub email: String,
    /// Name.
    pub name: String,
}

/// Revoke an API key.
#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    /// The key, from `apiKeys` on `Me` or `User`.
    pub api_key_id: ID,
}

/// Issue an API key: an admin for any user; any user for itself, replacing the key it calls with.
#[derive(InputObject)]
pub struct IssueApiKeyInput {
    /// Whose key; the caller when absent.
    pub user_id: Option<ID>,
    /// What it is for ("practice system", "laptop"), to tell keys apart in `apiKeys`.
    pub label: String,
}

/// Disable a user (offboarding): its keys stop working on every server at once.
#[derive(InputObject)]
pub struct DisableUserInput {
    /// The user.
    pub user_id: ID,
}

/// Let a disabled user sign in again with its live keys.
#[derive(InputObject)]
pub struct EnableUserInput {
    /// The user.
    pub user_id: ID,
}

/// Change the work address a user's console sign-in links go to.
#[derive(InputObject)]
pub struct ChangeUserEmailInput {
    /// The user.
    pub user_id: ID,
    /// The new work email address.
    pub email: String,
}

/// Filters for the caseload.
#[derive(InputObject, Default)]
pub struct ReferralFilterInput {
    /// Only these statuses.
    pub statuses: Option<Vec<ReferralStatus>>,
    /// Only with this need.
    pub need: Option<Need>,
    /// Only assigned to this link worker.
    pub assigned_to_id: Option<ID>,
    /// Only those whose first contact is overdue.
    pub overdue: Option<bool>,
    /// A name or NHS number.
    pub search: Option<String>,
}

/// Filters for the audit log.
#[derive(InputObject, Default)]
pub struct AuditLogFilterInput {
    /// Only this referral.
    pub referral_id: Option<ID>,
    /// Only this user.
    pub actor_user_id: Option<ID>,
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until (exclusive).
    pub until: Option<DateTime<Utc>>,
}
