//! The offers' inputs.

use async_graphql::{ID, InputObject};

use super::types::DeclineReason;

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
