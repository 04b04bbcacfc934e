//! Offers as they read: the offer (a FHIR R4 Task), its emails, and what a provider sees of one.

use async_graphql::{ComplexObject, Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use trellis_domain::offer as domain_offer;
use trellis_store::Store;
use trellis_store::offers::{OfferRecord, ProviderOfferView};

use crate::error::{ApiResult, OrApiError};
use crate::schema::common::{Need, mirror_enum};
use crate::schema::wellbeing;

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
        let actor = ctx.data::<crate::auth::Caller>()?.actor().api()?;
        let emails = ctx.data::<Store>()?.emails_for_offer(&actor, self.0.state.id).await.api()?;
        Ok(emails
            .into_iter()
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
    async fn plan_actions(&self, ctx: &Context<'_>) -> ApiResult<Vec<wellbeing::ProviderPlanAction>> {
        wellbeing::provider_actions(ctx, &self.offer, self.contact.is_some()).await
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
