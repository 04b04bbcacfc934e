//! `Referral.gpMessage`: the PRSB message back to the referring practice, once the referral has closed;
//! and `markNoteForGp`, the link worker's correction of what the practice is told.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use trellis_domain::plan::PlanAccess;
use trellis_store::Store;
use trellis_store::outbox::Occasion;

use super::common::{mirror_enum, referral_id};
use super::referrals::Referral;
use crate::ApiSettings;
use crate::auth::Caller;
use crate::error::{ApiResult, OrApiError};

/// The message back to the GP: what the practice files, as a PDF to download and as the GP Connect Send
/// Document payload (an ITK3 FHIR STU3 bundle, SNOMED CT coded).
#[derive(SimpleObject)]
pub struct GpMessage {
    /// Its id (the Composition's identifier): the same for every rendering of one version; a correction
    /// has a new one.
    pub id: ID,
    /// Which version it is: 1, then one more for each correction sent to the practice's MESH mailbox.
    pub version: u32,
    /// The id of the message this one corrects and replaces (the previous version), if any.
    pub replaces: Option<ID>,
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
        version: message.version,
        replaces: message.replaces.map(|r| ID(r.to_string())),
        title: message.title(),
        created_at: now,
        pdf_path: format!("/referrals/{}/gp-message.pdf", referral.0.state.id),
        fhir_bundle: bundle.to_string(),
    }))
}

mirror_enum!(
    /// Why a message back to the GP was sent.
    GpMessageOccasion => Occasion { Closure, FirstContact }
);

/// Mark the note of one event of a referral's history for the referring GP practice, or unmark it.
#[derive(InputObject)]
pub struct MarkNoteForGpInput {
    /// The referral.
    pub referral_id: ID,
    /// The event whose note it is, by its `version` in the referral's history.
    pub event_version: u32,
    /// `true` to include the note in the message back to the GP, `false` to take it out.
    pub for_gp: bool,
}

/// A corrected message back to the GP, queued to the practice's MESH mailbox.
#[derive(SimpleObject)]
pub struct GpMessageCorrection {
    /// Which message it corrects.
    pub occasion: GpMessageOccasion,
    /// Its version: it replaces the one before.
    pub version: u32,
}

/// What marking a note did.
#[derive(SimpleObject)]
pub struct MarkNoteForGpPayload {
    /// The referral as it now stands.
    pub referral: Referral,
    /// The corrected messages queued: one for each message already on its way to the practice over MESH.
    /// Empty when none was (the practice reads the message in Trellis, which shows the change at once) or
    /// the note already stood as asked.
    pub corrections: Vec<GpMessageCorrection>,
}

/// The message back to the GP's mutations.
#[derive(Default)]
pub struct GpMessageMutation;

#[Object]
impl GpMessageMutation {
    /// Mark a note for the referring GP practice, or unmark it, after it was written: link workers of the
    /// service working the referral, on notes written by link workers, at any stage (closed too). Where
    /// the message back has already gone (or is queued) to the practice's MESH mailbox, a corrected
    /// message is sent that replaces it. Audited.
    async fn mark_note_for_gp(&self, ctx: &Context<'_>, input: MarkNoteForGpInput) -> ApiResult<MarkNoteForGpPayload> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = referral_id(&input.referral_id).api()?;
        let marked = ctx
            .data::<Store>()?
            .mark_note_for_gp(id, input.event_version, input.for_gp, &actor, Utc::now())
            .await
            .api()?;
        Ok(MarkNoteForGpPayload {
            referral: Referral(marked.referral),
            corrections: marked
                .corrections
                .into_iter()
                .map(|(occasion, version)| GpMessageCorrection { occasion: occasion.into(), version })
                .collect(),
        })
    }
}
