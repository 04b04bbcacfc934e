//! The referral lifecycle: referred → contacted → attending → closed.
//!
//! [`Referral::decide`] is the one pure function behind every change: given the current state, a command,
//! the actor and the time, it returns the event to append or says exactly why not. [`Referral::apply`]
//! folds an event into the state, so [`Referral::replay`] rebuilds any referral from its history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::error::DomainError;
use crate::ids::{OfferId, OrganisationId, ReferralId, UserId};
use crate::offer::OfferStatus;
use crate::person::{DetailsChoice, PersonDetails};
use crate::values::ValueError;
use crate::values::needs::named_enum;
use crate::wellbeing::InstrumentCode;

mod submission;
pub use submission::{AcceptedSubmission, Consent, NewReferral, Referrer};

/// SNOMED CT 871731000000106 "Referral to social prescribing service".
pub const SNOMED_REFERRAL_TO_SOCIAL_PRESCRIBING: &str = "871731000000106";
/// SNOMED CT 871711000000103 "Social prescribing declined".
pub const SNOMED_SOCIAL_PRESCRIBING_DECLINED: &str = "871711000000103";

named_enum!(
    /// Where a referral is in its lifecycle.
    ReferralStatus, "status", "is not a referral status" {
        /// A referral exists and nobody has spoken with the person yet.
        Referred => "referred",
        /// A link worker has had a first real conversation with the person.
        Contacted => "contacted",
        /// The person attends at least one activity from an accepted offer.
        Attending => "attending",
        /// Finished, with a reason. Terminal.
        Closed => "closed",
    }
);

named_enum!(
    /// Why a referral was closed.
    ClosureReason, "reason", "is not a closure reason" {
        /// The person got what they needed.
        Completed => "completed",
        /// The person declined social prescribing (SNOMED 871711000000103).
        DeclinedByPerson => "declined_by_person",
        /// Nobody could reach the person.
        UnableToContact => "unable_to_contact",
        /// Social prescribing was not the right support.
        NotAppropriate => "not_appropriate",
        /// The referring organisation withdrew the referral.
        WithdrawnByReferrer => "withdrawn_by_referrer",
        /// The person moved out of the area.
        MovedAway => "moved_away",
        /// The person died.
        Died => "died",
        /// The referral should never have existed.
        EnteredInError => "entered_in_error",
    }
);

impl ClosureReason {
    /// The SNOMED CT concept recorded with this closure, where one exists.
    pub fn snomed(self) -> Option<&'static str> {
        (self == ClosureReason::DeclinedByPerson).then_some(SNOMED_SOCIAL_PRESCRIBING_DECLINED)
    }
}

/// The state of one referral that the lifecycle rules need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Its id.
    pub id: ReferralId,
    /// Where it is in the lifecycle.
    pub status: ReferralStatus,
    /// Bumped by every event; a change made against an older version is a conflict.
    pub version: u32,
    /// The organisation that referred (usually a GP practice).
    pub referring_organisation: OrganisationId,
    /// The link worker service that works it.
    pub link_worker_service: OrganisationId,
    /// The link worker it is assigned to, if any.
    pub assigned_to: Option<UserId>,
    /// Why it closed, once closed.
    pub closure_reason: Option<ClosureReason>,
    /// Whether its person's details differ from those its link worker service already held for the NHS
    /// number when it was submitted, until the link worker chooses which stand.
    pub details_differ: bool,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When its last event happened.
    pub updated_at: DateTime<Utc>,
}

/// What an offer contributes when a provider confirms the person's first attendance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceEvidence {
    /// The offer the person attends.
    pub offer: OfferId,
    /// The referral the offer belongs to.
    pub referral: ReferralId,
    /// The provider organisation the offer was made to.
    pub provider_organisation: OrganisationId,
    /// The offer's state when attendance was confirmed.
    pub offer_status: OfferStatus,
}

/// What a person writes with a change: for the record, and, where a link worker marks it `for_gp`, for
/// the referring GP practice too (it then goes into the message back to the GP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The words.
    pub text: String,
    /// Whether it is marked for the referring GP practice.
    pub for_gp: bool,
}

impl Note {
    /// A note as an entry point receives it: the words if any, marked for the GP or not. Only a note can
    /// be marked (`forGp`).
    pub fn given(text: Option<String>, for_gp: bool) -> Result<Option<Note>, ValueError> {
        match text {
            Some(text) => Ok(Some(Note { text, for_gp })),
            None if for_gp => Err(ValueError::new("forGp", "true", "only a note can be marked for the GP")),
            None => Ok(None),
        }
    }
}

/// A note for the record only.
impl From<String> for Note {
    fn from(text: String) -> Note {
        Note { text, for_gp: false }
    }
}

/// A note for the record only.
impl From<&str> for Note {
    fn from(text: &str) -> Note {
        Note { text: text.to_owned(), for_gp: false }
    }
}

/// A change someone asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferralCommand {
    /// Give the referral to a link worker of its service.
    Assign {
        /// The link worker.
        to: UserId,
    },
    /// Log a failed attempt to reach the person (not a transition).
    RecordContactAttempt {
        /// What was tried.
        note: Option<Note>,
    },
    /// The first real conversation happened: referred → contacted.
    RecordContact {
        /// What was talked about, what matters to the person.
        note: Option<Note>,
    },
    /// The person attends an activity: contacted → attending.
    RecordAttendance {
        /// The offer attended, required when a provider confirms it.
        evidence: Option<AttendanceEvidence>,
        /// Any note.
        note: Option<Note>,
    },
    /// The activity ended early and the person needs another connection: attending → contacted.
    EndActivity {
        /// Why.
        note: Option<Note>,
    },
    /// Close the episode with a reason.
    Close {
        /// Why.
        reason: ClosureReason,
        /// Any note.
        note: Option<Note>,
    },
    /// Record a new version of the person's plan, which they agreed to (not a transition).
    UpdatePlan {
        /// The plan's version after this change.
        plan_version: u32,
    },
    /// Record a wellbeing measure taken with the person (not a transition).
    RecordMeasure {
        /// The instrument answered.
        instrument: InstrumentCode,
    },
    /// Choose which details stand for a referral flagged because its person's details differed from
    /// those the link worker service already held.
    ResolvePersonDetails {
        /// Which details stand.
        keep: DetailsChoice,
        /// Any note.
        note: Option<Note>,
    },
}

impl ReferralCommand {
    /// A short verb phrase for errors and audit entries.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Assign { .. } => "assign",
            Self::RecordContactAttempt { .. } => "record a contact attempt",
            Self::RecordContact { .. } => "record contact",
            Self::RecordAttendance { .. } => "record attendance",
            Self::EndActivity { .. } => "end the activity",
            Self::Close { reason: ClosureReason::WithdrawnByReferrer, .. } => "withdraw",
            Self::Close { .. } => "close",
            Self::UpdatePlan { .. } => "change the plan",
            Self::RecordMeasure { .. } => "record a wellbeing measure",
            Self::ResolvePersonDetails { .. } => "resolve the person's details",
        }
    }
}

/// What happened, as stored in the referral's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReferralEventKind {
    /// The referral was made.
    Opened {
        /// Who referred.
        referring_organisation: OrganisationId,
        /// Who works it.
        link_worker_service: OrganisationId,
        /// Whether the submitted details differed from those the service already held (absent in
        /// events written before the flag existed, which never differed).
        #[serde(default)]
        details_differ: bool,
    },
    /// It was assigned to a link worker.
    Assigned {
        /// The link worker.
        to: UserId,
    },
    /// Someone tried and failed to reach the person.
    ContactAttempted,
    /// First real conversation.
    Contacted,
    /// The person attends an activity.
    AttendanceRecorded {
        /// The offer attended, when known.
        offer: Option<OfferId>,
    },
    /// The activity ended early.
    ActivityEnded,
    /// Closed.
    Closed {
        /// Why.
        reason: ClosureReason,
    },
    /// A new version of the plan was agreed and recorded.
    PlanUpdated {
        /// The plan's version.
        plan_version: u32,
    },
    /// A wellbeing measure was recorded.
    MeasureRecorded {
        /// The instrument answered.
        instrument: InstrumentCode,
    },
    /// The link worker chose which of the person's differing details stand.
    PersonDetailsResolved {
        /// Which.
        kept: DetailsChoice,
    },
}

impl ReferralEventKind {
    /// The stable snake_case name stored alongside the event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "opened",
            Self::Assigned { .. } => "assigned",
            Self::ContactAttempted => "contact_attempted",
            Self::Contacted => "contacted",
            Self::AttendanceRecorded { .. } => "attendance_recorded",
            Self::ActivityEnded => "activity_ended",
            Self::Closed { .. } => "closed",
            Self::PlanUpdated { .. } => "plan_updated",
            Self::MeasureRecorded { .. } => "measure_recorded",
            Self::PersonDetailsResolved { .. } => "person_details_resolved",
        }
    }
}

/// One entry in a referral's append-only history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralEvent {
    /// The referral.
    pub referral: ReferralId,
    /// The referral's version after this event (1 for the opening event).
    pub version: u32,
    /// What happened.
    pub kind: ReferralEventKind,
    /// The status before, `None` for the opening event.
    pub from: Option<ReferralStatus>,
    /// The status after.
    pub to: ReferralStatus,
    /// Who did it.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// What the person who did it wrote.
    pub note: Option<String>,
    /// Whether the link worker marked the note for the referring GP practice: only a marked note goes
    /// into the message back to the GP.
    pub note_for_gp: bool,
}

impl ReferralEvent {
    /// The event with its note marked for the referring GP practice (`for_gp`), or left for the record
    /// only. Only a note can be marked, and only by the link worker service working the referral.
    pub fn with_note_for_gp(mut self, for_gp: bool) -> Result<ReferralEvent, DomainError> {
        if !for_gp {
            return Ok(self);
        }
        if self.note.is_none() {
            return Err(ValueError::new("forGp", "true", "only a note can be marked for the GP").into());
        }
        if self.actor.role != Role::LinkWorker {
            return Err(DomainError::Forbidden { role: self.actor.role, action: "mark a note for the GP" });
        }
        self.note_for_gp = true;
        Ok(self)
    }

    /// The event with its note marked for the referring GP practice, or unmarked, after it was written:
    /// the correction of what the practice is told. Only a link worker of the service working `referral`
    /// may do it, and only to a note a link worker wrote (the one kind that may be marked at all).
    pub fn remark_note_for_gp(
        mut self,
        referral: &Referral,
        for_gp: bool,
        actor: &Actor,
    ) -> Result<ReferralEvent, DomainError> {
        if actor.role != Role::LinkWorker || actor.organisation != Some(referral.link_worker_service) {
            return Err(DomainError::Forbidden { role: actor.role, action: "mark a note for the GP" });
        }
        if self.note.is_none() || self.actor.role != Role::LinkWorker {
            let why = "has no note by a link worker to mark for the GP";
            return Err(ValueError::new("eventVersion", self.version.to_string(), why).into());
        }
        self.note_for_gp = for_gp;
        Ok(self)
    }
}

/// Longest note a person may write on an event.
pub const MAX_NOTE_CHARS: usize = 4000;

impl Referral {
    /// Opens the referral a submission the rules accepted ([`NewReferral::accept`], which checked who
    /// may refer) asks for. `held` is what the link worker service already holds for the same NHS number
    /// (its latest other referral's details), if anything: when `submitted` differs from it the referral
    /// is still made, flagged for the link worker to choose which details stand.
    pub fn open(
        id: ReferralId,
        accepted: &AcceptedSubmission,
        submitted: &PersonDetails,
        held: Option<&PersonDetails>,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<(Referral, ReferralEvent), DomainError> {
        let event = ReferralEvent {
            referral: id,
            version: 1,
            kind: ReferralEventKind::Opened {
                referring_organisation: accepted.referring_organisation(),
                link_worker_service: accepted.link_worker_service(),
                details_differ: held.is_some_and(|h| submitted.differs_from(h)),
            },
            from: None,
            to: ReferralStatus::Referred,
            actor: *actor,
            at,
            note: None,
            note_for_gp: false,
        };
        let referral = Referral::replay(std::slice::from_ref(&event))
            .ok_or(DomainError::InvalidTransition { state: "new", action: "refer" })?;
        Ok((referral, event))
    }

    /// Decides whether `actor` may carry out `command` now, and if so returns the event to append.
    pub fn decide(
        &self,
        command: ReferralCommand,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<ReferralEvent, DomainError> {
        use ReferralCommand as C;
        use ReferralStatus as S;

        let action = command.action();
        let is_link_worker = actor.is(Role::LinkWorker, self.link_worker_service);
        let forbidden = DomainError::Forbidden { role: actor.role, action };
        let invalid = DomainError::InvalidTransition { state: self.status.as_str(), action };

        let (kind, to, note) = match command {
            C::Assign { to } => {
                require(is_link_worker, forbidden)?;
                require(self.status != S::Closed, invalid)?;
                (ReferralEventKind::Assigned { to }, self.status, None)
            }
            C::RecordContactAttempt { note } => {
                require(is_link_worker, forbidden)?;
                require(self.status != S::Closed, invalid)?;
                (ReferralEventKind::ContactAttempted, self.status, note)
            }
            C::RecordContact { note } => {
                require(is_link_worker, forbidden)?;
                require(self.status == S::Referred, invalid)?;
                (ReferralEventKind::Contacted, S::Contacted, note)
            }
            C::RecordAttendance { evidence, note } => {
                let provider_confirms = evidence.is_some_and(|e| {
                    e.referral == self.id
                        && actor.is(Role::Provider, e.provider_organisation)
                        && matches!(e.offer_status, OfferStatus::Accepted | OfferStatus::Started)
                });
                require(is_link_worker || provider_confirms, forbidden)?;
                require(self.status == S::Contacted, invalid)?;
                (ReferralEventKind::AttendanceRecorded { offer: evidence.map(|e| e.offer) }, S::Attending, note)
            }
            C::EndActivity { note } => {
                require(is_link_worker, forbidden)?;
                require(self.status == S::Attending, invalid)?;
                (ReferralEventKind::ActivityEnded, S::Contacted, note)
            }
            C::Close { reason, note } => {
                let referrer_withdraws = actor.is(Role::GpPractice, self.referring_organisation)
                    && reason == ClosureReason::WithdrawnByReferrer;
                require(is_link_worker || referrer_withdraws, forbidden)?;
                require(self.status != S::Closed, invalid.clone())?;
                require(is_link_worker || self.status == S::Referred, invalid)?;
                (ReferralEventKind::Closed { reason }, S::Closed, note)
            }
            // The plan and the measures are worked with the person, from first contact until closure.
            C::UpdatePlan { plan_version } => {
                require(is_link_worker, forbidden)?;
                require(matches!(self.status, S::Contacted | S::Attending), invalid)?;
                (ReferralEventKind::PlanUpdated { plan_version }, self.status, None)
            }
            C::RecordMeasure { instrument } => {
                require(is_link_worker, forbidden)?;
                require(matches!(self.status, S::Contacted | S::Attending), invalid)?;
                (ReferralEventKind::MeasureRecorded { instrument }, self.status, None)
            }
            C::ResolvePersonDetails { keep, note } => {
                require(is_link_worker, forbidden)?;
                require(self.status != S::Closed, invalid.clone())?;
                let nothing_to_resolve =
                    DomainError::InvalidTransition { state: "its details were not flagged", action };
                require(self.details_differ, nothing_to_resolve)?;
                (ReferralEventKind::PersonDetailsResolved { kept: keep }, self.status, note)
            }
        };
        let for_gp = note.as_ref().is_some_and(|n| n.for_gp);
        let note = crate::values::optional_text("note", note.as_ref().map(|n| n.text.as_str()), MAX_NOTE_CHARS)?;
        ReferralEvent {
            referral: self.id,
            version: self.version + 1,
            kind,
            from: Some(self.status),
            to,
            actor: *actor,
            at,
            note,
            note_for_gp: false,
        }
        .with_note_for_gp(for_gp)
    }

    /// The state after `event`. The event must have come from [`Referral::decide`] on this state.
    pub fn apply(&self, event: &ReferralEvent) -> Referral {
        let mut next = self.clone();
        next.status = event.to;
        next.version = event.version;
        next.updated_at = event.at;
        match &event.kind {
            ReferralEventKind::Assigned { to } => next.assigned_to = Some(*to),
            ReferralEventKind::Closed { reason } => {
                next.closure_reason = Some(*reason);
                // Nothing is left to choose about a closed referral's details.
                next.details_differ = false;
            }
            ReferralEventKind::PersonDetailsResolved { .. } => next.details_differ = false,
            _ => {}
        }
        next
    }

    /// Decides and applies in one step.
    pub fn handle(
        &self,
        command: ReferralCommand,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<(Referral, ReferralEvent), DomainError> {
        let event = self.decide(command, actor, at)?;
        Ok((self.apply(&event), event))
    }

    /// Rebuilds a referral from its whole history; `None` unless the history starts with its opening.
    pub fn replay(events: &[ReferralEvent]) -> Option<Referral> {
        let (first, rest) = events.split_first()?;
        let ReferralEventKind::Opened { referring_organisation, link_worker_service, details_differ } = first.kind
        else {
            return None;
        };
        let opened = Referral {
            id: first.referral,
            status: first.to,
            version: first.version,
            referring_organisation,
            link_worker_service,
            assigned_to: None,
            closure_reason: None,
            details_differ,
            created_at: first.at,
            updated_at: first.at,
        };
        Some(rest.iter().fold(opened, |state, event| state.apply(event)))
    }
}

fn require(condition: bool, otherwise: DomainError) -> Result<(), DomainError> {
    if condition { Ok(()) } else { Err(otherwise) }
}

#[cfg(test)]
mod tests;
