//! The personal plan and wellbeing measures of a referral, and closing a referral as completed with or
//! without a follow-up measure.
//!
//! A plan change and a measure are referral events (`plan_updated`, `measure_recorded`): they take the
//! referral's `expectedVersion`, bump it, and are audited in the same transaction as the row they write.
//! Every version of a plan is kept. A measure stores its answers and the instrument version that scores
//! them; scores, bands and change are derived on reading, by the domain's instruments.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait};
use trellis_domain::plan::{Plan, PlanDraft};
use trellis_domain::referral::{ClosureReason, Note, ReferralCommand};
use trellis_domain::wellbeing::{
    Instrument, InstrumentCode, NoFollowUpReason, ScoreChange, Scores, change_between, check_taken_at,
};
use trellis_domain::{Actor, DomainError, ReferralId, UserId};
use uuid::Uuid;

use crate::entity::{missing_follow_up, referral, referral_plan, wellbeing_measure};
use crate::offers::OfferRecord;
use crate::referrals::{ReferralRecord, state_from};
use crate::{Store, StoreError};

/// One agreed version of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanVersion {
    /// 1 for the first plan, then one more for each change.
    pub version: u32,
    /// The plan, with who recorded the person's agreement and when.
    pub plan: Plan,
}

/// A measure to record.
#[derive(Clone, Debug)]
pub struct NewMeasure {
    /// The instrument.
    pub instrument: InstrumentCode,
    /// One answer per item, in order; `None` where the person left an item unanswered.
    pub answers: Vec<Option<i64>>,
    /// When the person answered.
    pub taken_at: DateTime<Utc>,
}

/// A recorded measure, scored.
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    /// Its id.
    pub id: Uuid,
    /// The scores, by the instrument version it was recorded with.
    pub scores: Scores,
    /// When the person answered.
    pub taken_at: DateTime<Utc>,
    /// Who recorded it.
    pub recorded_by: UserId,
}

/// The change with one instrument between a person's baseline and follow-up.
#[derive(Clone, Debug, PartialEq)]
pub struct WellbeingChange {
    /// The instrument.
    pub instrument: InstrumentCode,
    /// The first measure.
    pub baseline: Measure,
    /// The last measure, once there are two.
    pub follow_up: Option<Measure>,
    /// Per score (an item of ONS4, the total of SWEMWBS), once there is a follow-up.
    pub changes: Vec<ScoreChange>,
}

fn corrupt(column: &'static str) -> StoreError {
    StoreError::Corrupt(column)
}

fn plan_from(m: referral_plan::Model) -> Result<PlanVersion, StoreError> {
    Ok(PlanVersion {
        version: u32::try_from(m.version).map_err(|_| corrupt("referral_plans.version"))?,
        plan: serde_json::from_str(&m.content).map_err(|_| corrupt("referral_plans.content"))?,
    })
}

fn measure_from(m: wellbeing_measure::Model) -> Result<Measure, StoreError> {
    let code = InstrumentCode::parse(&m.instrument).map_err(|_| corrupt("wellbeing_measures.instrument"))?;
    let version = u32::try_from(m.instrument_version).map_err(|_| corrupt("wellbeing_measures.instrument_version"))?;
    let instrument = Instrument::find(code, version).map_err(|_| corrupt("wellbeing_measures.instrument_version"))?;
    let answers: Vec<Option<u8>> =
        serde_json::from_str(&m.answers).map_err(|_| corrupt("wellbeing_measures.answers"))?;
    Ok(Measure {
        id: m.id,
        scores: instrument.score(&answers).map_err(|_| corrupt("wellbeing_measures.answers"))?,
        taken_at: m.taken_at,
        recorded_by: UserId(m.recorded_by_user_id),
    })
}

/// Each instrument's baseline, follow-up and change, from a referral's measures in the order taken.
pub fn wellbeing_changes(measures: &[Measure]) -> Vec<WellbeingChange> {
    InstrumentCode::ALL
        .into_iter()
        .filter_map(|code| {
            let taken: Vec<&Measure> = measures.iter().filter(|m| m.scores.instrument.code == code).collect();
            let baseline = (*taken.first()?).clone();
            let follow_up = taken.last().filter(|_| taken.len() > 1).map(|m| (*m).clone());
            let changes =
                follow_up.as_ref().and_then(|f| change_between(&baseline.scores, &f.scores).ok()).unwrap_or_default();
            Some(WellbeingChange { instrument: code, baseline, follow_up, changes })
        })
        .collect()
}

impl Store {
    /// Records a new version of a referral's plan, which the person agreed to, made against the
    /// referral's `expected_version`. Nothing is stored if the plan does not parse.
    pub async fn update_plan(
        &self,
        id: ReferralId,
        expected_version: u32,
        draft: PlanDraft,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(ReferralRecord, PlanVersion), StoreError> {
        crate::contention::retried(move || self.update_plan_once(id, expected_version, draft.clone(), actor, now)).await
    }

    /// [`Store::update_plan`], made once.
    async fn update_plan_once(
        &self,
        id: ReferralId,
        expected_version: u32,
        draft: PlanDraft,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(ReferralRecord, PlanVersion), StoreError> {
        let now = now.trunc_subsecs(6);
        let recorded_by = actor
            .user
            .ok_or(StoreError::Domain(DomainError::Forbidden { role: actor.role, action: "change the plan" }))?;
        let plan = draft.parse(recorded_by, now)?;
        let content = serde_json::to_string(&plan).map_err(|_| corrupt("referral_plans.content"))?;
        let txn = self.db.begin().await?;
        let latest = referral_plan::Entity::find()
            .filter(referral_plan::Column::ReferralId.eq(id.0))
            .order_by_desc(referral_plan::Column::Version)
            .one(&txn)
            .await?;
        let version = latest.map_or(1, |p| p.version.saturating_add(1));
        let plan_version = u32::try_from(version).map_err(|_| corrupt("referral_plans.version"))?;
        self.transition_in(&txn, id, Some(expected_version), ReferralCommand::UpdatePlan { plan_version }, actor, now)
            .await?;
        referral_plan::Entity::insert(
            referral_plan::Model {
                id: Uuid::now_v7(),
                referral_id: id.0,
                version,
                content,
                recorded_by_user_id: recorded_by.0,
                recorded_at: now,
            }
            .into_active_model(),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok((self.referral_unaudited(actor, id).await?, PlanVersion { version: plan_version, plan }))
    }

    /// Records a wellbeing measure against the referral's `expected_version`. The answers are scored by
    /// the instrument's current version; nothing is stored if they do not score, or if the measure is dated
    /// in the future or before the referral was made.
    pub async fn record_measure(
        &self,
        id: ReferralId,
        expected_version: u32,
        new: NewMeasure,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(ReferralRecord, Measure), StoreError> {
        crate::contention::retried(move || self.record_measure_once(id, expected_version, new.clone(), actor, now))
            .await
    }

    /// [`Store::record_measure`], made once.
    async fn record_measure_once(
        &self,
        id: ReferralId,
        expected_version: u32,
        new: NewMeasure,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(ReferralRecord, Measure), StoreError> {
        let now = now.trunc_subsecs(6);
        let recorded_by = actor.user.ok_or(StoreError::Domain(DomainError::Forbidden {
            role: actor.role,
            action: "record a wellbeing measure",
        }))?;
        let instrument = Instrument::current(new.instrument);
        let answers = instrument.parse_answers(&new.answers)?;
        let scores = instrument.score(&answers)?;
        let taken_at = new.taken_at.trunc_subsecs(6);
        let txn = self.db.begin().await?;
        let row = referral::Entity::find_by_id(id.0).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let state = state_from(&row)?;
        if !trellis_domain::access::may_read_referral(actor, &state) {
            return Err(StoreError::NotFound);
        }
        check_taken_at(taken_at, state.created_at, now)?;
        let command = ReferralCommand::RecordMeasure { instrument: new.instrument };
        self.transition_in(&txn, id, Some(expected_version), command, actor, now).await?;
        let measure_id = Uuid::now_v7();
        wellbeing_measure::Entity::insert(
            wellbeing_measure::Model {
                id: measure_id,
                referral_id: id.0,
                instrument: new.instrument.as_str().into(),
                instrument_version: i32::try_from(instrument.version).unwrap_or(i32::MAX),
                answers: serde_json::to_string(&answers).map_err(|_| corrupt("wellbeing_measures.answers"))?,
                taken_at,
                recorded_by_user_id: recorded_by.0,
                recorded_at: now,
            }
            .into_active_model(),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        let measure = Measure { id: measure_id, scores, taken_at, recorded_by };
        Ok((self.referral_unaudited(actor, id).await?, measure))
    }

    /// Closes a referral with a reason. Closing as completed without a follow-up measure (no instrument
    /// answered twice) needs the reason none was taken, which is recorded with the closure.
    #[allow(clippy::too_many_arguments, reason = "one command's parts, as the API passes them")]
    pub async fn close_referral(
        &self,
        id: ReferralId,
        expected_version: u32,
        reason: ClosureReason,
        note: Option<Note>,
        no_follow_up: Option<NoFollowUpReason>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ReferralRecord, StoreError> {
        crate::contention::retried(move || {
            self.close_referral_once(id, expected_version, reason, note.clone(), no_follow_up, actor, now)
        })
        .await
    }

    /// [`Store::close_referral`], made once.
    #[allow(clippy::too_many_arguments, reason = "one command's parts, as the API passes them")]
    async fn close_referral_once(
        &self,
        id: ReferralId,
        expected_version: u32,
        reason: ClosureReason,
        note: Option<Note>,
        no_follow_up: Option<NoFollowUpReason>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<ReferralRecord, StoreError> {
        let now = now.trunc_subsecs(6);
        let txn = self.db.begin().await?;
        // The transition first: a stale version is a conflict whatever else is wrong.
        self.transition_in(&txn, id, Some(expected_version), ReferralCommand::Close { reason, note }, actor, now)
            .await?;
        let missing = if reason == ClosureReason::Completed {
            let mut has_follow_up = false;
            for code in InstrumentCode::ALL {
                let taken = wellbeing_measure::Entity::find()
                    .filter(wellbeing_measure::Column::ReferralId.eq(id.0))
                    .filter(wellbeing_measure::Column::Instrument.eq(code.as_str()))
                    .count(&txn)
                    .await?;
                has_follow_up |= taken > 1;
            }
            trellis_domain::wellbeing::reason_for_no_follow_up(has_follow_up, no_follow_up)?
        } else {
            None
        };
        if let (Some(missing), Some(user)) = (missing, actor.user) {
            missing_follow_up::Entity::insert(
                missing_follow_up::Model {
                    referral_id: id.0,
                    reason: missing.as_str().into(),
                    recorded_by_user_id: user.0,
                    recorded_at: now,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        txn.commit().await?;
        self.referral_unaudited(actor, id).await
    }

    /// The current plan of a referral already read in scope, if one was agreed.
    pub async fn plan_of(&self, record: &ReferralRecord) -> Result<Option<PlanVersion>, StoreError> {
        self.latest_plan(record.state.id).await
    }

    /// The current plan of an offer's referral, for the provider's view of an offer it may see in full
    /// (the caller has read the offer in the provider's scope).
    pub async fn plan_of_offer(&self, offer: &OfferRecord) -> Result<Option<PlanVersion>, StoreError> {
        self.latest_plan(offer.state.referral).await
    }

    async fn latest_plan(&self, referral: ReferralId) -> Result<Option<PlanVersion>, StoreError> {
        referral_plan::Entity::find()
            .filter(referral_plan::Column::ReferralId.eq(referral.0))
            .order_by_desc(referral_plan::Column::Version)
            .one(&self.db)
            .await?
            .map(plan_from)
            .transpose()
    }

    /// Every version of a referral's plan, oldest first.
    pub async fn plan_history_of(&self, record: &ReferralRecord) -> Result<Vec<PlanVersion>, StoreError> {
        referral_plan::Entity::find()
            .filter(referral_plan::Column::ReferralId.eq(record.state.id.0))
            .order_by_asc(referral_plan::Column::Version)
            .all(&self.db)
            .await?
            .into_iter()
            .map(plan_from)
            .collect()
    }

    /// A referral's measures, in the order they were taken.
    pub async fn measures_of(&self, record: &ReferralRecord) -> Result<Vec<Measure>, StoreError> {
        wellbeing_measure::Entity::find()
            .filter(wellbeing_measure::Column::ReferralId.eq(record.state.id.0))
            .order_by_asc(wellbeing_measure::Column::TakenAt)
            .order_by_asc(wellbeing_measure::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(measure_from)
            .collect()
    }

    /// Why a referral closed as completed had no follow-up measure, if that was recorded.
    pub async fn missing_follow_up_of(&self, record: &ReferralRecord) -> Result<Option<NoFollowUpReason>, StoreError> {
        let row = missing_follow_up::Entity::find_by_id(record.state.id.0).one(&self.db).await?;
        row.map(|r| NoFollowUpReason::parse(&r.reason).map_err(|_| corrupt("missing_follow_ups.reason"))).transpose()
    }
}
