//! The offer lifecycle: a referral handed to one provider's service.
//!
//! Modelled on the FHIR R4 Task that the Gravity Project SDOH Clinical Care guide profiles for closed-loop
//! referrals, so every state maps onto `Task.status` (and `Task.statusReason` where one is needed).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::error::DomainError;
use crate::ids::{OfferId, OrganisationId, ReferralId, ServiceId};
use crate::referral::{ClosureReason, MAX_NOTE_CHARS, Referral, ReferralStatus};
use crate::values::needs::named_enum;

named_enum!(
    /// Where an offer is in its lifecycle.
    OfferStatus, "status", "is not an offer status" {
        /// Made, waiting for the provider.
        Offered => "offered",
        /// The provider will take the person.
        Accepted => "accepted",
        /// The provider cannot take the person.
        Declined => "declined",
        /// Accepted, but no place yet.
        Waitlisted => "waitlisted",
        /// The person attended.
        Started => "started",
        /// The activity finished.
        Finished => "finished",
        /// The activity ended before it finished.
        EndedEarly => "ended_early",
        /// The link worker took the offer back.
        Withdrawn => "withdrawn",
        /// No answer came in time.
        Expired => "expired",
    }
);

named_enum!(
    /// Why a provider declined.
    DeclineReason, "reason", "is not a decline reason" {
        /// No places.
        AtCapacity => "at_capacity",
        /// The person does not meet the service's eligibility.
        NotEligible => "not_eligible",
        /// The service is not right for the person.
        NotSuitable => "not_suitable",
        /// Something else, explained in the note.
        Other => "other",
    }
);

impl OfferStatus {
    /// FHIR R4 `Task.status` for this state.
    pub fn fhir_task_status(self) -> &'static str {
        match self {
            Self::Offered => "requested",
            Self::Accepted => "accepted",
            Self::Declined => "rejected",
            Self::Waitlisted => "on-hold",
            Self::Started => "in-progress",
            Self::Finished => "completed",
            Self::EndedEarly => "failed",
            Self::Withdrawn | Self::Expired => "cancelled",
        }
    }

    /// Whether the offer still waits on the provider's answer.
    pub fn awaits_provider(self) -> bool {
        matches!(self, Self::Offered | Self::Waitlisted)
    }

    /// Whether nothing more can happen to the offer.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Declined | Self::Finished | Self::EndedEarly | Self::Withdrawn | Self::Expired)
    }
}

/// One offer's state as the rules need it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Its id.
    pub id: OfferId,
    /// The referral it belongs to.
    pub referral: ReferralId,
    /// The service offered.
    pub service: ServiceId,
    /// The organisation that runs the service.
    pub provider_organisation: OrganisationId,
    /// The link worker service that owns the referral.
    pub link_worker_service: OrganisationId,
    /// The offer this one came from, for an onward offer (FHIR `Task.partOf`).
    pub part_of: Option<OfferId>,
    /// Where it is.
    pub status: OfferStatus,
    /// Why it was declined.
    pub decline_reason: Option<DeclineReason>,
    /// Bumped by every event.
    pub version: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When its last event happened.
    pub updated_at: DateTime<Utc>,
}

/// A change to an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfferCommand {
    /// The provider takes the person.
    Accept,
    /// The provider cannot take the person.
    Decline {
        /// Why.
        reason: DeclineReason,
        /// Any explanation.
        note: Option<String>,
    },
    /// The provider will take the person when a place frees up.
    Waitlist,
    /// The person attended.
    Start,
    /// The activity finished.
    Finish,
    /// The activity ended early.
    EndEarly {
        /// Why.
        note: Option<String>,
    },
    /// The link worker takes the offer back.
    Withdraw {
        /// Why.
        note: Option<String>,
    },
    /// No answer came in time.
    Expire,
}

impl OfferCommand {
    /// A short verb phrase for errors and audit entries.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline { .. } => "decline",
            Self::Waitlist => "waitlist",
            Self::Start => "record attendance",
            Self::Finish => "finish",
            Self::EndEarly { .. } => "end early",
            Self::Withdraw { .. } => "withdraw",
            Self::Expire => "expire",
        }
    }
}

/// One entry in an offer's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferEvent {
    /// The offer.
    pub offer: OfferId,
    /// The offer's version after this event.
    pub version: u32,
    /// The status before, `None` when the offer was made.
    pub from: Option<OfferStatus>,
    /// The status after.
    pub to: OfferStatus,
    /// Why it was declined, for a decline.
    pub decline_reason: Option<DeclineReason>,
    /// Who.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// What they wrote.
    pub note: Option<String>,
}

/// What is needed to make an offer.
#[derive(Clone, Debug)]
pub struct NewOffer<'a> {
    /// The new offer's id.
    pub id: OfferId,
    /// The referral, in its current state.
    pub referral: &'a Referral,
    /// The service offered.
    pub service: ServiceId,
    /// The organisation that runs it.
    pub provider_organisation: OrganisationId,
    /// For an onward offer, the offer it came from.
    pub part_of: Option<&'a Offer>,
    /// The link worker's words for the provider.
    pub note: Option<String>,
}

impl Offer {
    /// Makes an offer: a link worker of the referral's service, or a provider passing on a person it
    /// accepted (an onward offer). The person must have been contacted first, and the referral be open.
    pub fn make(new: NewOffer<'_>, actor: &Actor, at: DateTime<Utc>) -> Result<(Offer, OfferEvent), DomainError> {
        let referral = new.referral;
        let by_link_worker = actor.is(Role::LinkWorker, referral.link_worker_service);
        let onward_by_provider = new.part_of.is_some_and(|parent| {
            parent.referral == referral.id
                && actor.is(Role::Provider, parent.provider_organisation)
                && matches!(parent.status, OfferStatus::Accepted | OfferStatus::Started)
        });
        let action = if new.part_of.is_some() { "make an onward offer" } else { "make an offer" };
        if !(by_link_worker || onward_by_provider) {
            return Err(DomainError::Forbidden { role: actor.role, action });
        }
        if !matches!(referral.status, ReferralStatus::Contacted | ReferralStatus::Attending) {
            return Err(DomainError::InvalidTransition { state: referral.status.as_str(), action });
        }
        let note = crate::values::optional_text("note", new.note.as_deref(), MAX_NOTE_CHARS)?;
        let offer = Offer {
            id: new.id,
            referral: referral.id,
            service: new.service,
            provider_organisation: new.provider_organisation,
            link_worker_service: referral.link_worker_service,
            part_of: new.part_of.map(|p| p.id),
            status: OfferStatus::Offered,
            decline_reason: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        let event = OfferEvent {
            offer: offer.id,
            version: 1,
            from: None,
            to: OfferStatus::Offered,
            decline_reason: None,
            actor: *actor,
            at,
            note,
        };
        Ok((offer, event))
    }

    /// Decides whether `actor` may carry out `command` now, and if so returns the event to append.
    /// `referral` is the status of the offer's referral: once it is closed nobody may accept, waitlist or
    /// start the offer (a provider must not take on, or be shown, a person whose episode has ended).
    pub fn decide(
        &self,
        command: OfferCommand,
        referral: ReferralStatus,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<OfferEvent, DomainError> {
        use OfferCommand as C;
        use OfferStatus as S;

        let action = command.action();
        let provider = actor.is(Role::Provider, self.provider_organisation);
        let link_worker = actor.is(Role::LinkWorker, self.link_worker_service);
        let system = actor.role == Role::System;
        let (may, from_ok, to, reason, note): (bool, &[S], S, Option<DeclineReason>, Option<String>) = match command {
            C::Accept => (provider, &[S::Offered, S::Waitlisted], S::Accepted, None, None),
            C::Decline { reason, note } => (provider, &[S::Offered, S::Waitlisted], S::Declined, Some(reason), note),
            C::Waitlist => (provider, &[S::Offered], S::Waitlisted, None, None),
            C::Start => (provider || link_worker, &[S::Accepted], S::Started, None, None),
            C::Finish => (provider || link_worker, &[S::Started], S::Finished, None, None),
            C::EndEarly { note } => (provider || link_worker, &[S::Started], S::EndedEarly, None, note),
            C::Withdraw { note } => (link_worker, &[S::Offered, S::Waitlisted, S::Accepted], S::Withdrawn, None, note),
            C::Expire => (system, &[S::Offered, S::Waitlisted], S::Expired, None, None),
        };
        if !may {
            return Err(DomainError::Forbidden { role: actor.role, action });
        }
        if !from_ok.contains(&self.status) {
            return Err(DomainError::InvalidTransition { state: self.status.as_str(), action });
        }
        if referral == ReferralStatus::Closed && matches!(to, S::Accepted | S::Waitlisted | S::Started) {
            return Err(DomainError::InvalidTransition { state: "its referral is closed", action });
        }
        let note = crate::values::optional_text("note", note.as_deref(), MAX_NOTE_CHARS)?;
        Ok(OfferEvent {
            offer: self.id,
            version: self.version + 1,
            from: Some(self.status),
            to,
            decline_reason: reason,
            actor: *actor,
            at,
            note,
        })
    }

    /// How closing the offer's referral for `reason` ends the offer, as the event to append; `None` when
    /// the offer has already ended. An offer not yet under way (offered, waitlisted or accepted) is
    /// withdrawn (FHIR Task `cancelled`); a started one finishes when the referral completed and otherwise
    /// ends early. The closure itself was decided by [`Referral::decide`], so `actor` (who closed the
    /// referral) is not checked again here.
    pub fn end_with_referral(&self, reason: ClosureReason, actor: &Actor, at: DateTime<Utc>) -> Option<OfferEvent> {
        use OfferStatus as S;
        let to = match self.status {
            S::Offered | S::Waitlisted | S::Accepted => S::Withdrawn,
            S::Started if reason == ClosureReason::Completed => S::Finished,
            S::Started => S::EndedEarly,
            S::Declined | S::Finished | S::EndedEarly | S::Withdrawn | S::Expired => return None,
        };
        Some(OfferEvent {
            offer: self.id,
            version: self.version + 1,
            from: Some(self.status),
            to,
            decline_reason: None,
            actor: *actor,
            at,
            note: Some(format!("The referral was closed: {}.", reason.as_str().replace('_', " "))),
        })
    }

    /// The state after `event`.
    pub fn apply(&self, event: &OfferEvent) -> Offer {
        Offer {
            status: event.to,
            version: event.version,
            decline_reason: event.decline_reason.or(self.decline_reason),
            updated_at: event.at,
            ..self.clone()
        }
    }

    /// Decides and applies in one step.
    pub fn handle(
        &self,
        command: OfferCommand,
        referral: ReferralStatus,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<(Offer, OfferEvent), DomainError> {
        let event = self.decide(command, referral, actor, at)?;
        Ok((self.apply(&event), event))
    }
}

pub mod link;

#[cfg(test)]
mod tests;
