//! Referrals: submitting one, the caseload and one referral, and every change a link worker records on
//! its way from referred to closed. Each state-changing mutation takes `expectedVersion`; a stale one is
//! `CONFLICT`.

mod inputs;
mod types;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ErrorExtensions, ID, Object, SimpleObject};
use chrono::Utc;
use trellis_domain::Role;
use trellis_domain::access::ReferralScope;
use trellis_domain::referral::{ClosureReason, Note, ReferralCommand};
use trellis_store::Store;
use trellis_store::referrals::ReferralFilter;

use self::inputs::*;
pub use self::types::Referral;
use super::common::{self, page_cost, page_size, referral_id, user_id};
use crate::ApiSettings;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};
use crate::referral_input::parse_submission;

/// Reading referrals.
#[derive(Default)]
pub struct ReferralQuery;

#[Object]
impl ReferralQuery {
    /// Referrals in the caller's scope, newest first: a practice's own referrals, or a link worker
    /// service's caseload. Keyset-paginated; each person listed is audited.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn referrals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ReferralFilterInput>,
    ) -> ApiResult<Connection<String, Referral, EmptyFields, EmptyFields>> {
        let actor = ctx.data::<Caller>()?.require(&[Role::GpPractice, Role::LinkWorker], "list referrals").api()?;
        let scope = ReferralScope::of(&actor).ok_or(ApiError::Forbidden("list referrals".into())).api()?;
        let limit = page_size(ctx, first)?;
        let filter = filter.unwrap_or_default();
        let now = Utc::now();
        let query = ReferralFilter {
            scope,
            statuses: filter.statuses.unwrap_or_default().into_iter().map(Into::into).collect(),
            need: filter.need.map(Into::into),
            assigned_to: filter
                .assigned_to_id
                .as_ref()
                .map(|id| common::user_id("assignedToId", id))
                .transpose()
                .api()?,
            overdue_at: filter.overdue.unwrap_or(false).then_some(now),
            search: filter.search,
            before: after.map(|c| common::parse_id("after", &ID(c))).transpose().api()?,
            limit,
        };
        let page = ctx.data::<Store>()?.referral_page(&actor, &query, now).await.api()?;
        let mut connection = Connection::new(query.before.is_some(), page.has_next);
        connection.edges.extend(page.records.into_iter().map(|r| Edge::new(r.state.id.to_string(), Referral(r))));
        Ok(connection)
    }

    /// One referral with its history and offers, if the caller may read it (audited).
    async fn referral(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Referral> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = common::referral_id(&id).api()?;
        let record = ctx.data::<Store>()?.referral(&actor, id, Utc::now()).await.api()?;
        Ok(Referral(record))
    }
}

/// Changing referrals.
#[derive(Default)]
pub struct ReferralMutation;

macro_rules! referral_payload {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(SimpleObject)]
        pub struct $name {
            /// The referral after the change.
            pub referral: Referral,
        }
    )+};
}

referral_payload!(
    /// The withdrawn referral.
    WithdrawReferralPayload,
    /// The assigned referral.
    AssignReferralPayload,
    /// The referral with the attempt logged.
    RecordContactAttemptPayload,
    /// The contacted referral.
    RecordContactPayload,
    /// The attending referral.
    RecordAttendancePayload,
    /// The referral back to contacted.
    EndActivityPayload,
    /// The closed referral.
    CloseReferralPayload,
    /// The referral with the details that stand, its flag cleared.
    ResolvePersonDetailsPayload,
);

/// The outcome of a submission.
#[derive(SimpleObject)]
pub struct SubmitReferralPayload {
    /// The referral: new, or the first one when this was a retry.
    pub referral: Referral,
    /// Whether this was a retry of an earlier submission with the same key.
    pub replayed: bool,
    /// Other open referrals for the same NHS number in the caller's scope.
    pub other_open_referral_ids: Vec<ID>,
}

async fn transition(
    ctx: &Context<'_>,
    referral: &ID,
    expected_version: u32,
    command: ReferralCommand,
) -> ApiResult<Referral> {
    let actor = ctx.data::<Caller>()?.actor().api()?;
    let id = referral_id(referral).api()?;
    transition_as(ctx, &actor, id, expected_version, command).await
}

/// The command a note-taking mutation makes of its note, applied.
async fn noted(
    ctx: &Context<'_>,
    input: impl NotedInput,
    command: impl FnOnce(Option<Note>) -> ReferralCommand,
) -> ApiResult<Referral> {
    let actor = ctx.data::<Caller>()?.actor().api()?;
    let (id, expected_version, note) = input.parsed().api()?;
    transition_as(ctx, &actor, id, expected_version, command(note)).await
}

async fn transition_as(
    ctx: &Context<'_>,
    actor: &trellis_domain::Actor,
    id: trellis_domain::ReferralId,
    expected_version: u32,
    command: ReferralCommand,
) -> ApiResult<Referral> {
    let record =
        ctx.data::<Store>()?.transition_referral(id, expected_version, command, actor, Utc::now()).await.api()?;
    Ok(Referral(record))
}

#[Object]
impl ReferralMutation {
    /// Submit a referral (GP practice, or a link worker for a self-referral). Safe to retry with the same
    /// `idempotencyKey`.
    // Parses, then calls the store, whose one domain call decides who may refer, consent, the link
    // worker service and the due date.
    async fn submit_referral(&self, ctx: &Context<'_>, input: SubmitReferralInput) -> ApiResult<SubmitReferralPayload> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let settings = ctx.data::<std::sync::Arc<ApiSettings>>()?;
        let now = Utc::now();
        // Every field is parsed by the one parser the console's form shares; the API reports the first
        // that is wrong.
        let parsed = parse_submission(&input.text(), now, settings.idempotency_key_days)
            .map_err(|errors| errors.into_iter().next())
            .map_err(|first| first.map_or(ApiError::Internal, ApiError::Validation).extend())?;
        let (new, key) = (parsed.referral, parsed.key);
        let submission = ctx.data::<Store>()?.submit_referral(new, Some(key), &actor, now).await.api()?;
        Ok(SubmitReferralPayload {
            referral: Referral(submission.referral),
            replayed: submission.replayed,
            other_open_referral_ids: submission.other_open_referrals.into_iter().map(|r| ID(r.to_string())).collect(),
        })
    }

    /// Withdraw the practice's own referral while it is still `REFERRED`.
    async fn withdraw_referral(
        &self,
        ctx: &Context<'_>,
        input: WithdrawReferralInput,
    ) -> ApiResult<WithdrawReferralPayload> {
        let command =
            ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: input.note.map(Into::into) };
        Ok(WithdrawReferralPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Assign a referral to a link worker of its service.
    async fn assign_referral(&self, ctx: &Context<'_>, input: AssignReferralInput) -> ApiResult<AssignReferralPayload> {
        let to = user_id("linkWorkerId", &input.link_worker_id).api()?;
        let command = ReferralCommand::Assign { to };
        Ok(AssignReferralPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }

    /// Log an attempt to reach the person that did not succeed.
    async fn record_contact_attempt(
        &self,
        ctx: &Context<'_>,
        input: RecordContactAttemptInput,
    ) -> ApiResult<RecordContactAttemptPayload> {
        let referral = noted(ctx, input, |note| ReferralCommand::RecordContactAttempt { note }).await?;
        Ok(RecordContactAttemptPayload { referral })
    }

    /// Record the first real conversation with the person.
    async fn record_contact(&self, ctx: &Context<'_>, input: RecordContactInput) -> ApiResult<RecordContactPayload> {
        let referral = noted(ctx, input, |note| ReferralCommand::RecordContact { note }).await?;
        Ok(RecordContactPayload { referral })
    }

    /// Record that the person attends an activity.
    async fn record_attendance(
        &self,
        ctx: &Context<'_>,
        input: RecordAttendanceInput,
    ) -> ApiResult<RecordAttendancePayload> {
        let referral = noted(ctx, input, |note| ReferralCommand::RecordAttendance { evidence: None, note }).await?;
        Ok(RecordAttendancePayload { referral })
    }

    /// Record that the activity ended early and the person needs another connection.
    async fn end_activity(&self, ctx: &Context<'_>, input: EndActivityInput) -> ApiResult<EndActivityPayload> {
        let referral = noted(ctx, input, |note| ReferralCommand::EndActivity { note }).await?;
        Ok(EndActivityPayload { referral })
    }

    /// Close a referral with a reason; the referring practice is told by reference. Every open offer ends
    /// in the same change (withdrawn, or a started one finished or ended early as the reason implies) and
    /// its provider is told the place is no longer needed.
    async fn close_referral(&self, ctx: &Context<'_>, input: CloseReferralInput) -> ApiResult<CloseReferralPayload> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = referral_id(&input.referral_id).api()?;
        let no_follow_up = input.no_follow_up_reason.map(Into::into);
        let record = ctx
            .data::<Store>()?
            .close_referral(
                id,
                input.expected_version,
                input.reason.into(),
                Note::given(input.note, input.for_gp).api()?,
                no_follow_up,
                &actor,
                Utc::now(),
            )
            .await
            .api()?;
        Ok(CloseReferralPayload { referral: Referral(record) })
    }

    /// Choose which person details stand for a referral flagged `details_differ` (the submission's details
    /// differed from those the link worker service already held for the NHS number). Only the referral's
    /// link worker service may; it is an event in the referral's history and clears the flag.
    async fn resolve_person_details(
        &self,
        ctx: &Context<'_>,
        input: ResolvePersonDetailsInput,
    ) -> ApiResult<ResolvePersonDetailsPayload> {
        let command =
            ReferralCommand::ResolvePersonDetails { keep: input.keep.into(), note: input.note.map(Into::into) };
        Ok(ResolvePersonDetailsPayload {
            referral: transition(ctx, &input.referral_id, input.expected_version, command).await?,
        })
    }
}
