//! The personal plan and wellbeing measures: `updatePlan`, `recordMeasure`, `instruments`, and the
//! types that `Referral.plan`, `planHistory`, `planSummary`, `measures` and `wellbeingChange` return.
//!
//! Resolvers parse, then call the store; who may see what is the domain's `plan_access`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use trellis_domain::plan::{self as domain_plan, ActionOwner, PlanAccess};
use trellis_domain::values::ValueError;
use trellis_domain::wellbeing::{self as domain_wellbeing, INSTRUMENTS};
use trellis_store::Store;
use trellis_store::wellbeing::{self as store_wellbeing, NewMeasure, PlanVersion};

use super::common::{Need, mirror_enum, referral_id, service_id};
use super::referrals::Referral;
use crate::ApiSettings;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, OrApiError};

/// A wellbeing instrument.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instrument {
    /// ONS personal wellbeing (ONS4).
    #[graphql(name = "ONS4")]
    Ons4,
    /// The Short Warwick-Edinburgh Mental Wellbeing Scale.
    Swemwbs,
}

impl From<domain_wellbeing::InstrumentCode> for Instrument {
    fn from(c: domain_wellbeing::InstrumentCode) -> Self {
        match c {
            domain_wellbeing::InstrumentCode::Ons4 => Instrument::Ons4,
            domain_wellbeing::InstrumentCode::Swemwbs => Instrument::Swemwbs,
        }
    }
}

impl From<Instrument> for domain_wellbeing::InstrumentCode {
    fn from(i: Instrument) -> Self {
        match i {
            Instrument::Ons4 => domain_wellbeing::InstrumentCode::Ons4,
            Instrument::Swemwbs => domain_wellbeing::InstrumentCode::Swemwbs,
        }
    }
}
mirror_enum!(
    /// Why no follow-up measure was taken before closing as completed.
    NoFollowUpReason => domain_wellbeing::NoFollowUpReason { Declined, NotAble, NotOffered }
);
mirror_enum!(
    /// Where an action of the plan stands.
    ActionStatus => domain_plan::ActionStatus { NotStarted, InProgress, Done, Dropped }
);
mirror_enum!(
    /// How far a goal was achieved at a review.
    GoalReview => domain_plan::GoalReview { Achieved, PartlyAchieved, NotAchieved }
);
mirror_enum!(
    /// Which way a score moved, judged by what is better on its scale.
    Direction => domain_wellbeing::Direction { Improved, Unchanged, Worse }
);

/// Who takes an action.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionOwnerKind {
    /// The person.
    Person,
    /// Their link worker.
    LinkWorker,
    /// A service of the directory (`serviceId` names it).
    Service,
}

// ---------------------------------------------------------------------------------------------------------
// Inputs.

/// One step towards a goal.
#[derive(InputObject)]
pub struct PlanActionInput {
    /// What is to be done.
    pub what: String,
    /// Who does it.
    pub who: ActionOwnerKind,
    /// The directory service, when `who` is `SERVICE`.
    pub service_id: Option<ID>,
    /// By when.
    pub by: NaiveDate,
    /// Where it stands (`NOT_STARTED` when absent).
    pub status: Option<ActionStatus>,
    /// The person's confidence that it will happen, 1–10.
    pub confidence: i32,
}

/// A goal, in the person's words.
#[derive(InputObject)]
pub struct PlanGoalInput {
    /// The goal.
    pub description: String,
    /// How important it is to the person, 1–10.
    pub importance: i32,
    /// Its actions.
    #[graphql(default)]
    pub actions: Vec<PlanActionInput>,
    /// How far it was achieved, at a review.
    pub review: Option<GoalReview>,
}

/// A new version of the person's plan, agreed with them.
#[derive(InputObject)]
pub struct UpdatePlanInput {
    /// The referral.
    pub referral_id: ID,
    /// The referral's version the caller saw.
    pub expected_version: u32,
    /// What matters to the person, in their own words.
    pub what_matters: String,
    /// Their needs and concerns.
    #[graphql(default)]
    pub needs: Vec<Need>,
    /// Their goals.
    #[graphql(default)]
    pub goals: Vec<PlanGoalInput>,
    /// When the plan is next reviewed.
    pub review_date: Option<NaiveDate>,
    /// That the person agreed to this version; a plan is refused without it.
    pub person_agreed: bool,
}

/// A wellbeing measure taken with the person.
#[derive(InputObject)]
pub struct RecordMeasureInput {
    /// The referral.
    pub referral_id: ID,
    /// The referral's version the caller saw.
    pub expected_version: u32,
    /// The instrument answered.
    pub instrument: Instrument,
    /// One answer per item, in order; `null` for an item left unanswered (ONS4 only).
    pub answers: Vec<Option<i32>>,
    /// When the person answered.
    pub taken_at: DateTime<Utc>,
}

fn action_from(a: PlanActionInput) -> Result<domain_plan::ActionDraft, ValueError> {
    let who = match (a.who, a.service_id) {
        (ActionOwnerKind::Person, _) => ActionOwner::Person,
        (ActionOwnerKind::LinkWorker, _) => ActionOwner::LinkWorker,
        (ActionOwnerKind::Service, Some(id)) => ActionOwner::Service(service_id(&id)?),
        (ActionOwnerKind::Service, None) => {
            return Err(ValueError::new("actions.serviceId", "", "must name the service that takes the action"));
        }
    };
    Ok(domain_plan::ActionDraft {
        what: a.what,
        who: Some(who),
        by: Some(a.by),
        status: a.status.map(|s| domain_plan::ActionStatus::from(s).as_str().to_owned()),
        confidence: i64::from(a.confidence),
    })
}

fn draft_from(input: UpdatePlanInput) -> Result<domain_plan::PlanDraft, ValueError> {
    let goals = input
        .goals
        .into_iter()
        .map(|g| {
            Ok(domain_plan::GoalDraft {
                description: g.description,
                importance: i64::from(g.importance),
                actions: g.actions.into_iter().map(action_from).collect::<Result<_, _>>()?,
                review: g.review.map(|r| domain_plan::GoalReview::from(r).as_str().to_owned()),
            })
        })
        .collect::<Result<_, ValueError>>()?;
    Ok(domain_plan::PlanDraft {
        what_matters: input.what_matters,
        needs: input.needs.into_iter().map(|n| trellis_domain::values::Need::from(n).as_str().to_owned()).collect(),
        goals,
        review_date: input.review_date,
        person_agreed: input.person_agreed,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Outputs.

/// One step towards a goal.
#[derive(SimpleObject)]
pub struct PlanAction {
    /// What.
    pub what: String,
    /// Who.
    pub who: ActionOwnerKind,
    /// The directory service, when a service takes it.
    pub service_id: Option<ID>,
    /// By when.
    pub by: NaiveDate,
    /// Where it stands.
    pub status: ActionStatus,
    /// The person's confidence, 1–10.
    pub confidence: i32,
}

/// A goal.
#[derive(SimpleObject)]
pub struct PlanGoal {
    /// The goal.
    pub description: String,
    /// How important it is to the person, 1–10.
    pub importance: i32,
    /// Its actions.
    pub actions: Vec<PlanAction>,
    /// How far it was achieved, once reviewed.
    pub review: Option<GoalReview>,
}

/// One agreed version of a person's plan (the PRSB care and support plan).
#[derive(SimpleObject)]
pub struct Plan {
    /// 1 for the first plan, then one more per change.
    pub version: u32,
    /// What matters to the person, in their own words.
    pub what_matters: String,
    /// Their needs and concerns.
    pub needs: Vec<Need>,
    /// Their goals.
    pub goals: Vec<PlanGoal>,
    /// When it is next reviewed.
    pub review_date: Option<NaiveDate>,
    /// The link worker who recorded the person's agreement.
    pub agreed_recorded_by_id: ID,
    /// When the agreement was recorded.
    pub agreed_at: DateTime<Utc>,
}

impl From<PlanVersion> for Plan {
    fn from(p: PlanVersion) -> Self {
        let plan = p.plan;
        Plan {
            version: p.version,
            what_matters: plan.what_matters,
            needs: plan.needs.into_iter().map(Into::into).collect(),
            goals: plan
                .goals
                .into_iter()
                .map(|g| PlanGoal {
                    description: g.description,
                    importance: i32::from(g.importance),
                    actions: g
                        .actions
                        .into_iter()
                        .map(|a| {
                            let (who, service_id) = match a.who {
                                ActionOwner::Person => (ActionOwnerKind::Person, None),
                                ActionOwner::LinkWorker => (ActionOwnerKind::LinkWorker, None),
                                ActionOwner::Service(s) => (ActionOwnerKind::Service, Some(ID(s.to_string()))),
                            };
                            PlanAction {
                                what: a.what,
                                who,
                                service_id,
                                by: a.by,
                                status: a.status.into(),
                                confidence: i32::from(a.confidence),
                            }
                        })
                        .collect(),
                    review: g.review.map(Into::into),
                })
                .collect(),
            review_date: plan.review_date,
            agreed_recorded_by_id: ID(plan.agreement.recorded_by.to_string()),
            agreed_at: plan.agreement.recorded_at,
        }
    }
}

/// An action in the practice's summary: what, and where it stands.
#[derive(SimpleObject)]
pub struct PlanSummaryAction {
    /// What.
    pub what: String,
    /// Where it stands.
    pub status: ActionStatus,
}

/// A goal in the practice's summary.
#[derive(SimpleObject)]
pub struct PlanSummaryGoal {
    /// The goal.
    pub description: String,
    /// How far it was achieved, once reviewed.
    pub review: Option<GoalReview>,
    /// Its actions.
    pub actions: Vec<PlanSummaryAction>,
}

/// What the referring practice sees of the plan once the referral has closed: no scores.
#[derive(SimpleObject)]
pub struct PlanSummary {
    /// What matters to the person.
    pub what_matters: String,
    /// Goals and their actions.
    pub goals: Vec<PlanSummaryGoal>,
}

impl From<domain_plan::PlanSummary> for PlanSummary {
    fn from(s: domain_plan::PlanSummary) -> Self {
        PlanSummary {
            what_matters: s.what_matters,
            goals: s
                .goals
                .into_iter()
                .map(|g| PlanSummaryGoal {
                    description: g.description,
                    review: g.review.map(Into::into),
                    actions: g
                        .actions
                        .into_iter()
                        .map(|a| PlanSummaryAction { what: a.what, status: a.status.into() })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// An action of the plan that names a provider's service, as that provider sees it: no scores.
#[derive(SimpleObject)]
pub struct ProviderPlanAction {
    /// The goal it serves.
    pub goal: String,
    /// What.
    pub what: String,
    /// By when.
    pub by: NaiveDate,
    /// Where it stands.
    pub status: ActionStatus,
}

/// One item's answer and band.
#[derive(SimpleObject)]
pub struct MeasureItem {
    /// Its number, from 1.
    pub number: i32,
    /// Its stable key (`life_satisfaction`, `anxiety`, `item_3`).
    pub key: &'static str,
    /// The answer, if given.
    pub answer: Option<i32>,
    /// Its band, where the item is banded (ONS4).
    pub band: Option<&'static str>,
}

/// A wellbeing measure, scored.
#[derive(SimpleObject)]
pub struct Measure {
    /// Its id.
    pub id: ID,
    /// The instrument.
    pub instrument: Instrument,
    /// The instrument version that scored it.
    pub instrument_version: u32,
    /// When the person answered.
    pub taken_at: DateTime<Utc>,
    /// Each item.
    pub items: Vec<MeasureItem>,
    /// The raw sum, for instruments that sum (SWEMWBS).
    pub raw_score: Option<u32>,
    /// The converted score, for instruments that sum (SWEMWBS metric score).
    pub metric_score: Option<f64>,
    /// The SNOMED CT code of the score, where one exists (718466001 for SWEMWBS).
    pub snomed_code: Option<&'static str>,
}

impl From<store_wellbeing::Measure> for Measure {
    fn from(m: store_wellbeing::Measure) -> Self {
        let instrument = m.scores.instrument;
        Measure {
            id: ID(m.id.to_string()),
            instrument: instrument.code.into(),
            instrument_version: instrument.version,
            taken_at: m.taken_at,
            items: m
                .scores
                .items
                .iter()
                .map(|i| MeasureItem {
                    number: i32::from(i.item.number),
                    key: i.item.key,
                    answer: i.answer.map(i32::from),
                    band: i.band,
                })
                .collect(),
            raw_score: m.scores.total.map(|t| t.raw),
            metric_score: m.scores.total.map(|t| t.metric),
            snomed_code: instrument.snomed,
        }
    }
}

/// How one score changed between the baseline and the follow-up.
#[derive(SimpleObject)]
pub struct ScoreChange {
    /// An item's key (ONS4), or `total` (SWEMWBS).
    pub key: &'static str,
    /// At the baseline.
    pub baseline: f64,
    /// At the follow-up.
    pub follow_up: f64,
    /// Follow-up minus baseline.
    pub change: f64,
    /// Better, the same or worse (lower anxiety is better).
    pub direction: Direction,
    /// Whether the change is meaningful for one person (SWEMWBS: 3 metric points or more).
    pub meaningful: Option<bool>,
}

/// A person's change with one instrument: the first measure (baseline) and the last (follow-up).
#[derive(SimpleObject)]
pub struct WellbeingChange {
    /// The instrument.
    pub instrument: Instrument,
    /// The first measure.
    pub baseline: Measure,
    /// The last measure, once there are two.
    pub follow_up: Option<Measure>,
    /// Per score, once there is a follow-up.
    pub changes: Vec<ScoreChange>,
}

impl From<store_wellbeing::WellbeingChange> for WellbeingChange {
    fn from(c: store_wellbeing::WellbeingChange) -> Self {
        WellbeingChange {
            instrument: c.instrument.into(),
            baseline: c.baseline.into(),
            follow_up: c.follow_up.map(Into::into),
            changes: c
                .changes
                .into_iter()
                .map(|s| ScoreChange {
                    key: s.key,
                    baseline: s.baseline,
                    follow_up: s.follow_up,
                    change: s.change,
                    direction: s.direction.into(),
                    meaningful: s.meaningful,
                })
                .collect(),
        }
    }
}

/// One question of an instrument.
#[derive(SimpleObject)]
pub struct InstrumentItem {
    /// Its number, from 1.
    pub number: i32,
    /// Its stable key.
    pub key: &'static str,
    /// Its wording: ONS4's is public; SWEMWBS's only where the deployment supplies its licensed wording,
    /// otherwise `Item N`.
    pub wording: String,
    /// Whether a lower answer is better (ONS4 anxiety).
    pub lower_is_better: bool,
}

/// An instrument, as data.
#[derive(SimpleObject)]
pub struct InstrumentInfo {
    /// Which.
    pub code: Instrument,
    /// Its version.
    pub version: u32,
    /// Its full name.
    pub name: &'static str,
    /// The lowest answer.
    pub min: i32,
    /// The highest answer.
    pub max: i32,
    /// Whether every item must be answered.
    pub all_items_required: bool,
    /// The SNOMED CT code of its score, where one exists.
    pub snomed_code: Option<&'static str>,
    /// Its questions.
    pub items: Vec<InstrumentItem>,
}

// ---------------------------------------------------------------------------------------------------------
// What `Referral` resolves through.

/// What the caller may see of `referral`'s plan and measures.
pub(super) fn access(ctx: &Context<'_>, referral: &Referral) -> ApiResult<PlanAccess> {
    let actor = ctx.data::<Caller>()?.actor().api()?;
    Ok(domain_plan::plan_access(&actor, &referral.0.state))
}

fn refused(what: &str) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    ApiError::Forbidden(format!("see the {what} of this referral")).extend()
}

/// `Referral.plan`: the link worker's, in full.
pub(super) async fn plan(ctx: &Context<'_>, referral: &Referral) -> ApiResult<Option<Plan>> {
    if access(ctx, referral)? != PlanAccess::Full {
        return Err(refused("plan"));
    }
    Ok(ctx.data::<Store>()?.plan_of(&referral.0).await.api()?.map(Into::into))
}

/// `Referral.planHistory`: every version, for the link worker.
pub(super) async fn plan_history(ctx: &Context<'_>, referral: &Referral) -> ApiResult<Vec<Plan>> {
    if access(ctx, referral)? != PlanAccess::Full {
        return Err(refused("plan history"));
    }
    Ok(ctx.data::<Store>()?.plan_history_of(&referral.0).await.api()?.into_iter().map(Into::into).collect())
}

/// `Referral.planSummary`: for the link worker, and for the practice once closed.
pub(super) async fn plan_summary(ctx: &Context<'_>, referral: &Referral) -> ApiResult<Option<PlanSummary>> {
    if access(ctx, referral)? == PlanAccess::Nothing {
        return Err(refused("plan summary"));
    }
    Ok(ctx.data::<Store>()?.plan_of(&referral.0).await.api()?.map(|p| p.plan.summary().into()))
}

/// `Referral.measures` and `wellbeingChange`: for the link worker, and for the practice once closed.
pub(super) async fn measures(ctx: &Context<'_>, referral: &Referral) -> ApiResult<Vec<store_wellbeing::Measure>> {
    if access(ctx, referral)? == PlanAccess::Nothing {
        return Err(refused("wellbeing measures"));
    }
    ctx.data::<Store>()?.measures_of(&referral.0).await.api()
}

/// `Referral.noFollowUpReason`.
pub(super) async fn no_follow_up_reason(ctx: &Context<'_>, referral: &Referral) -> ApiResult<Option<NoFollowUpReason>> {
    if access(ctx, referral)? == PlanAccess::Nothing {
        return Ok(None);
    }
    Ok(ctx.data::<Store>()?.missing_follow_up_of(&referral.0).await.api()?.map(Into::into))
}

/// `ProviderOffer.planActions`: the plan's actions that name the offer's service, once the provider may
/// see the person (it has accepted, and the referral is open).
pub(super) async fn provider_actions(
    ctx: &Context<'_>,
    offer: &trellis_store::offers::OfferRecord,
    contact_visible: bool,
) -> ApiResult<Vec<ProviderPlanAction>> {
    if !contact_visible {
        return Ok(vec![]);
    }
    let store = ctx.data::<Store>()?;
    let Some(plan) = store.plan_of_offer(offer).await.api()? else { return Ok(vec![]) };
    Ok(plan
        .plan
        .for_provider(offer.state.service)
        .actions
        .into_iter()
        .map(|a| ProviderPlanAction { goal: a.goal, what: a.what, by: a.by, status: a.status.into() })
        .collect())
}

// ---------------------------------------------------------------------------------------------------------
// Operations.

/// The instruments.
#[derive(Default)]
pub struct WellbeingQuery;

#[Object]
impl WellbeingQuery {
    /// The wellbeing instruments Trellis scores, with their items. SWEMWBS wording appears only where
    /// the deployment supplies it under its own licence.
    async fn instruments(&self, ctx: &Context<'_>) -> ApiResult<Vec<InstrumentInfo>> {
        ctx.data::<Caller>()?.actor().api()?;
        let wording = ctx.data::<std::sync::Arc<ApiSettings>>()?.swemwbs_wording.clone();
        Ok(INSTRUMENTS
            .iter()
            .map(|i| InstrumentInfo {
                code: i.code.into(),
                version: i.version,
                name: i.name,
                min: i32::from(i.min),
                max: i32::from(i.max),
                all_items_required: matches!(i.scoring, domain_wellbeing::Scoring::ConvertedSum { .. }),
                snomed_code: i.snomed,
                items: i
                    .items
                    .iter()
                    .map(|item| InstrumentItem {
                        number: i32::from(item.number),
                        key: item.key,
                        wording: item
                            .wording
                            .map(str::to_owned)
                            .or_else(|| {
                                let supplied =
                                    wording.as_ref().filter(|_| i.code == domain_wellbeing::InstrumentCode::Swemwbs);
                                supplied.and_then(|w| w.get(usize::from(item.number) - 1).cloned())
                            })
                            .unwrap_or_else(|| format!("Item {}", item.number)),
                        lower_is_better: item.better == domain_wellbeing::Better::Lower,
                    })
                    .collect(),
            })
            .collect())
    }
}

/// The plan changed.
#[derive(SimpleObject)]
pub struct UpdatePlanPayload {
    /// The referral after the change (its version bumped).
    pub referral: Referral,
    /// The new version of the plan.
    pub plan: Plan,
}

/// The measure recorded.
#[derive(SimpleObject)]
pub struct RecordMeasurePayload {
    /// The referral after the change (its version bumped).
    pub referral: Referral,
    /// The measure, scored.
    pub measure: Measure,
}

/// Changing the plan and recording measures.
#[derive(Default)]
pub struct WellbeingMutation;

#[Object]
impl WellbeingMutation {
    /// Record a new version of the person's plan, agreed with them. Link workers, from first contact
    /// until closure; takes the referral's `expectedVersion`.
    async fn update_plan(&self, ctx: &Context<'_>, input: UpdatePlanInput) -> ApiResult<UpdatePlanPayload> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = referral_id(&input.referral_id).api()?;
        let expected = input.expected_version;
        let draft = draft_from(input).api()?;
        let (record, plan) = ctx.data::<Store>()?.update_plan(id, expected, draft, &actor, Utc::now()).await.api()?;
        Ok(UpdatePlanPayload { referral: Referral(record), plan: plan.into() })
    }

    /// Record a wellbeing measure (ONS4 or SWEMWBS). The first is the baseline; the last before closure
    /// the follow-up. Link workers, from first contact until closure; takes `expectedVersion`.
    async fn record_measure(&self, ctx: &Context<'_>, input: RecordMeasureInput) -> ApiResult<RecordMeasurePayload> {
        let actor = ctx.data::<Caller>()?.actor().api()?;
        let id = referral_id(&input.referral_id).api()?;
        let new = NewMeasure {
            instrument: input.instrument.into(),
            answers: input.answers.into_iter().map(|a| a.map(i64::from)).collect(),
            taken_at: input.taken_at,
        };
        let (record, measure) =
            ctx.data::<Store>()?.record_measure(id, input.expected_version, new, &actor, Utc::now()).await.api()?;
        Ok(RecordMeasurePayload { referral: Referral(record), measure: measure.into() })
    }
}

/// The change per instrument, from a referral's measures.
pub(super) fn changes(measures: &[store_wellbeing::Measure]) -> Vec<WellbeingChange> {
    store_wellbeing::wellbeing_changes(measures).into_iter().map(Into::into).collect()
}
