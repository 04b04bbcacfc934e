//! The referral's inputs, named `<Verb><Noun>Input`, and their parsing into domain values.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_domain::ReferralId;
use trellis_domain::referral::Note;
use trellis_domain::values as v;

use crate::referral_input::ReferralText;

use super::types::{ClosureReason, ContactMethod, PersonDetailsChoice, ReferralStatus, Urgency};
use crate::schema::common::{EthnicCategory, Need, Sex, referral_id};

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
    /// Their sex, if recorded (for equity reporting only).
    pub sex: Option<Sex>,
    /// Their ethnic category, if they stated it (for equity reporting only).
    pub ethnic_category: Option<EthnicCategory>,
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
            sex: p.sex.map(|s| trellis_domain::report::Sex::from(s).as_str()),
            ethnic_category: p.ethnic_category.map(|e| trellis_domain::report::EthnicCategory::from(e).as_str()),
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

/// What the inputs of the mutations that take a note and nothing else share: the referral, the version
/// the caller saw and the note, marked for the GP or not. Each input keeps its own words for its note, so
/// the fields are not flattened into one shared input.
pub trait NotedInput {
    /// The referral, the version and the note, parsed (the note first, as the mutations always checked).
    fn parsed(self) -> Result<(ReferralId, u32, Option<Note>), v::ValueError>;
}

macro_rules! noted_input {
    ($($input:ident),+ $(,)?) => {$(
        impl NotedInput for $input {
            fn parsed(self) -> Result<(ReferralId, u32, Option<Note>), v::ValueError> {
                let note = Note::given(self.note, self.for_gp)?;
                Ok((referral_id(&self.referral_id)?, self.expected_version, note))
            }
        }
    )+};
}

noted_input!(RecordContactAttemptInput, RecordContactInput, RecordAttendanceInput, EndActivityInput);

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
    pub no_follow_up_reason: Option<crate::schema::wellbeing::NoFollowUpReason>,
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
