//! Offers: a referral handed to a provider's service, the provider's answer and its progress, and onward
//! offers. Each change takes `expectedVersion`; a stale one is `CONFLICT`.

mod inputs;
mod types;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::Utc;
use trellis_domain::Role;
use trellis_domain::offer::OfferCommand;
use trellis_domain::values::{self as v, ValueError};
use trellis_store::Store;
use trellis_store::offers::OfferRequest;

use self::inputs::*;
pub use self::types::{Offer, ProviderOffer};
use super::common::{offer_id, page_cost, page_size, referral_id, service_id};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// Reading offers.
#[derive(Default)]
pub struct OfferQuery;

#[Object]
impl OfferQuery {
    /// One offer, for the link worker service that made it or the provider it went to.
    async fn offer(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Offer> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = offer_id(&id).api()?;
        Ok(Offer(ctx.data::<Store>()?.offer(&actor, id).await.api()?))
    }

    /// The offers made to the caller's provider organisation, newest first. Keyset-paginated; each
    /// accepted offer's contact details shown is audited.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn provider_offers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, ProviderOffer, EmptyFields, EmptyFields>> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Provider], "see provider offers").api()?;
        let limit = page_size(ctx, first)?;
        let before = after.map(|c| offer_id(&ID(c))).transpose().api()?;
        let page = ctx.data::<Store>()?.offers_for_provider(&actor, before, limit).await.api()?;
        let mut connection = Connection::new(before.is_some(), page.has_next);
        connection.edges.extend(page.offers.into_iter().map(|o| {
            let offer = ProviderOffer::from(o);
            Edge::new(offer.offer_id().to_string(), offer)
        }));
        Ok(connection)
    }
}

/// The offer made.
#[derive(SimpleObject)]
pub struct OfferReferralPayload {
    /// The new offer.
    pub offer: Offer,
}

/// The answered offer.
#[derive(SimpleObject)]
pub struct RespondToOfferPayload {
    /// The offer after the answer.
    pub offer: Offer,
}

/// The updated offer.
#[derive(SimpleObject)]
pub struct UpdateOfferPayload {
    /// The offer after the update.
    pub offer: Offer,
}

/// The onward offer.
#[derive(SimpleObject)]
pub struct ProposeOnwardOfferPayload {
    /// The new offer (its `partOfId` is the offer it came from).
    pub offer: Offer,
}

/// Making and answering offers.
#[derive(Default)]
pub struct OfferMutation;

#[Object]
impl OfferMutation {
    /// Offer a referral to a service; the provider is emailed a link.
    async fn offer_referral(&self, ctx: &Context<'_>, input: OfferReferralInput) -> ApiResult<OfferReferralPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::LinkWorker], "make offers").api()?;
        let store = ctx.data::<Store>()?;
        let referral = referral_id(&input.referral_id).api()?;
        let service = service_id(&input.service_id).api()?;
        let note = v::optional_text("noteForProvider", input.note_for_provider.as_deref(), 2000).api()?;
        let offer = store
            .make_offer(
                OfferRequest::new(referral, service, store.policy().offer_timers(Utc::now()))
                    .at_version(input.expected_version)
                    .with_note(note),
                &actor,
                Utc::now(),
            )
            .await
            .api()?;
        Ok(OfferReferralPayload { offer: Offer(offer) })
    }

    /// A provider's answer to an offer made to it.
    async fn respond_to_offer(
        &self,
        ctx: &Context<'_>,
        input: RespondToOfferInput,
    ) -> ApiResult<RespondToOfferPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Provider], "answer offers").api()?;
        let id = offer_id(&input.offer_id).api()?;
        let command = match (input.response, input.decline_reason) {
            (OfferResponse::Accept, _) => OfferCommand::Accept,
            (OfferResponse::Waitlist, _) => OfferCommand::Waitlist,
            (OfferResponse::Decline, Some(reason)) => OfferCommand::Decline { reason: reason.into(), note: input.note },
            (OfferResponse::Decline, None) => {
                return Err(
                    ApiError::Validation(ValueError::new("declineReason", "", "is required to decline")).extend()
                );
            }
        };
        let offer = ctx
            .data::<Store>()?
            .transition_offer(id, input.expected_version, command, &actor, Utc::now())
            .await
            .api()?;
        Ok(RespondToOfferPayload { offer: Offer(offer) })
    }

    /// Record an offer's progress (attended, finished, ended early) or withdraw it.
    async fn update_offer(&self, ctx: &Context<'_>, input: UpdateOfferInput) -> ApiResult<UpdateOfferPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::LinkWorker, Role::Provider], "update offers").api()?;
        let id = offer_id(&input.offer_id).api()?;
        let command = match input.update {
            OfferUpdate::Start => OfferCommand::Start,
            OfferUpdate::Finish => OfferCommand::Finish,
            OfferUpdate::EndEarly => OfferCommand::EndEarly { note: input.note },
            OfferUpdate::Withdraw => OfferCommand::Withdraw { note: input.note },
        };
        let offer = ctx
            .data::<Store>()?
            .transition_offer(id, input.expected_version, command, &actor, Utc::now())
            .await
            .api()?;
        Ok(UpdateOfferPayload { offer: Offer(offer) })
    }

    /// A provider that accepted an offer proposes an onward offer to another service in the network.
    async fn propose_onward_offer(
        &self,
        ctx: &Context<'_>,
        input: ProposeOnwardOfferInput,
    ) -> ApiResult<ProposeOnwardOfferPayload> {
        let actor = ctx.data::<Caller>()?.require(&[Role::Provider], "propose onward offers").api()?;
        let store = ctx.data::<Store>()?;
        let from = offer_id(&input.from_offer_id).api()?;
        let service = service_id(&input.service_id).api()?;
        let note = v::optional_text("noteForProvider", input.note_for_provider.as_deref(), 2000).api()?;
        let parent = store.offer(&actor, from).await.api()?;
        let offer = store
            .make_offer(
                OfferRequest::new(parent.state.referral, service, store.policy().offer_timers(Utc::now()))
                    .with_note(note)
                    .onward_from(from),
                &actor,
                Utc::now(),
            )
            .await
            .api()?;
        Ok(ProposeOnwardOfferPayload { offer: Offer(offer) })
    }
}
