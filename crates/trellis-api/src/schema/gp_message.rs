//! `Referral.gpMessage`: the PRSB message back to the referring practice, once the referral has closed.

use async_graphql::{Context, ID, SimpleObject};
use chrono::{DateTime, Utc};
use trellis_domain::plan::PlanAccess;
use trellis_store::Store;

use super::referrals::Referral;
use crate::ApiSettings;
use crate::error::{ApiResult, OrApiError};

/// The message back to the GP: what the practice files, as a PDF to download and as the GP Connect Send
/// Document payload (an ITK3 FHIR STU3 bundle, SNOMED CT coded).
#[derive(SimpleObject)]
pub struct GpMessage {
    /// Its id (the Composition's identifier); the same referral always has the same message.
    pub id: ID,
    /// Its title, as the document shows it.
    pub title: &'static str,
    /// When this rendering was made.
    pub created_at: DateTime<Utc>,
    /// Where the PDF is downloaded, with the same bearer token (relative to Trellis's address).
    pub pdf_path: String,
    /// The ITK3 message bundle, as FHIR STU3 JSON.
    pub fhir_bundle: String,
}

/// The message for `referral`, for those who may see its plan's summary; `null` while it is open.
pub(super) async fn of(ctx: &Context<'_>, referral: &Referral) -> ApiResult<Option<GpMessage>> {
    if super::wellbeing::access(ctx, referral)? == PlanAccess::Nothing {
        return Ok(None);
    }
    let now = Utc::now();
    let Some(message) = ctx.data::<Store>()?.gp_message_of(&referral.0, now).await.api()? else {
        return Ok(None);
    };
    let sender = ctx.data::<std::sync::Arc<ApiSettings>>()?.public_base_url.clone();
    let pdf = trellis_gp_message::pdf::render(&message);
    let bundle = trellis_gp_message::bundle::message_bundle(&message, &pdf, &sender);
    Ok(Some(GpMessage {
        id: ID(message.id.to_string()),
        title: message.title(),
        created_at: now,
        pdf_path: format!("/referrals/{}/gp-message.pdf", referral.0.state.id),
        fhir_bundle: bundle.to_string(),
    }))
}
