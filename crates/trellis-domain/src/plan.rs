//! The personal plan: the PRSB "care and support plan", co-produced by the person and their link worker.
//!
//! What matters to the person in their own words, their needs and concerns, goals (with how important each
//! is to them), actions per goal (what, who, by when, status, their confidence), a review date and, at each
//! review, how far each goal was achieved. Every version records that the person agreed to it, who
//! recorded that and when. [`PlanDraft::parse`] turns what a caller sent into a [`Plan`] or names the
//! field that is wrong; the views say what each reader may see of it. Who may change it, and when, is the
//! referral lifecycle's rule (`ReferralCommand::UpdatePlan`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Role};
use crate::ids::{ServiceId, UserId};
use crate::referral::{Referral, ReferralStatus};
use crate::values::needs::named_enum;
use crate::values::{Need, ValueError, required_text};

named_enum!(
    /// Where an action stands.
    ActionStatus, "actions.status", "is not an action status" {
        /// Not begun.
        NotStarted => "not_started",
        /// Under way.
        InProgress => "in_progress",
        /// Done.
        Done => "done",
        /// No longer pursued.
        Dropped => "dropped",
    }
);

named_enum!(
    /// How far a goal was achieved, as judged at a review.
    GoalReview, "goals.review", "is not a goal review status" {
        /// Achieved.
        Achieved => "achieved",
        /// Partly achieved.
        PartlyAchieved => "partly_achieved",
        /// Not achieved.
        NotAchieved => "not_achieved",
    }
);

/// Who takes an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "service", rename_all = "snake_case")]
pub enum ActionOwner {
    /// The person themselves.
    Person,
    /// Their link worker.
    LinkWorker,
    /// A service of the directory.
    Service(ServiceId),
}

/// One step towards a goal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// What is to be done.
    pub what: String,
    /// Who does it.
    pub who: ActionOwner,
    /// By when.
    pub by: NaiveDate,
    /// Where it stands.
    pub status: ActionStatus,
    /// The person's confidence that it will happen, 1–10.
    pub confidence: u8,
}

/// Something the person wants to achieve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    /// The goal, in the person's words.
    pub description: String,
    /// How important it is to the person, 1–10.
    pub importance: u8,
    /// The steps towards it.
    pub actions: Vec<Action>,
    /// How far it was achieved at the last review, once reviewed.
    pub review: Option<GoalReview>,
}

/// That the person agreed to this version of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    /// The link worker who recorded the person's agreement.
    pub recorded_by: UserId,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// One version of a person's plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// What matters to the person, in their own words.
    pub what_matters: String,
    /// Their needs and concerns.
    pub needs: Vec<Need>,
    /// Their goals.
    pub goals: Vec<Goal>,
    /// When the plan is next reviewed.
    pub review_date: Option<NaiveDate>,
    /// The person's agreement to this version.
    pub agreement: Agreement,
}

/// An action as a caller sends it.
#[derive(Clone, Debug, Default)]
pub struct ActionDraft {
    /// What.
    pub what: String,
    /// Who.
    pub who: Option<ActionOwner>,
    /// By when.
    pub by: Option<NaiveDate>,
    /// Status (`not_started` when absent).
    pub status: Option<String>,
    /// Confidence, 1–10.
    pub confidence: i64,
}

/// A goal as a caller sends it.
#[derive(Clone, Debug, Default)]
pub struct GoalDraft {
    /// The goal.
    pub description: String,
    /// Importance, 1–10.
    pub importance: i64,
    /// Its actions.
    pub actions: Vec<ActionDraft>,
    /// How far it was achieved, when reviewed.
    pub review: Option<String>,
}

/// A plan as a caller sends it, before it is known good.
#[derive(Clone, Debug, Default)]
pub struct PlanDraft {
    /// What matters to the person.
    pub what_matters: String,
    /// Needs and concerns, by name.
    pub needs: Vec<String>,
    /// Goals.
    pub goals: Vec<GoalDraft>,
    /// Review date.
    pub review_date: Option<NaiveDate>,
    /// Whether the person agreed to it: a plan is co-produced, so it is refused without.
    pub person_agreed: bool,
}

/// The longest free text a plan holds in one field.
const MAX_TEXT: usize = 2_000;
/// At most this many goals, and this many actions per goal: a plan a person can hold in mind.
const MAX_GOALS: usize = 20;
const MAX_ACTIONS: usize = 20;

fn score(field: &'static str, value: i64) -> Result<u8, ValueError> {
    u8::try_from(value)
        .ok()
        .filter(|v| (1..=10).contains(v))
        .ok_or_else(|| ValueError::new(field, value.to_string(), "must be from 1 to 10"))
}

impl PlanDraft {
    /// Parses the draft into a plan the person agreed to, recorded by `recorded_by` at `now`. Dates are
    /// checked only for sense (from 2000 on), since a plan may also record what was already done.
    pub fn parse(self, recorded_by: UserId, now: DateTime<Utc>) -> Result<Plan, ValueError> {
        if !self.person_agreed {
            return Err(ValueError::new("personAgreed", "false", "must be true: a plan is agreed with the person"));
        }
        let what_matters = required_text("whatMatters", &self.what_matters, MAX_TEXT)?;
        let needs =
            if self.needs.is_empty() { vec![] } else { Need::parse_list(self.needs.iter().map(String::as_str))? };
        if self.goals.len() > MAX_GOALS {
            return Err(ValueError::new("goals", self.goals.len().to_string(), "has too many goals"));
        }
        let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN);
        let goals = self
            .goals
            .into_iter()
            .map(|g| {
                if g.actions.len() > MAX_ACTIONS {
                    return Err(ValueError::new("goals.actions", g.actions.len().to_string(), "has too many actions"));
                }
                let actions = g
                    .actions
                    .into_iter()
                    .map(|a| {
                        let by = a.by.ok_or_else(|| ValueError::new("actions.by", "", "must be given"))?;
                        if by < earliest {
                            return Err(ValueError::new("actions.by", by.to_string(), "is not a plausible date"));
                        }
                        Ok(Action {
                            what: required_text("actions.what", &a.what, MAX_TEXT)?,
                            who: a.who.ok_or_else(|| ValueError::new("actions.who", "", "must be given"))?,
                            by,
                            status: a
                                .status
                                .as_deref()
                                .map(ActionStatus::parse)
                                .transpose()?
                                .unwrap_or(ActionStatus::NotStarted),
                            confidence: score("actions.confidence", a.confidence)?,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Goal {
                    description: required_text("goals.description", &g.description, MAX_TEXT)?,
                    importance: score("goals.importance", g.importance)?,
                    actions,
                    review: g.review.as_deref().map(GoalReview::parse).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(review) = self.review_date
            && review < earliest
        {
            return Err(ValueError::new("reviewDate", review.to_string(), "is not a plausible date"));
        }
        Ok(Plan {
            what_matters,
            needs,
            goals,
            review_date: self.review_date,
            agreement: Agreement { recorded_by, recorded_at: now },
        })
    }
}

/// What a provider that has accepted an offer sees of a plan: the actions that name its service, without
/// the person's scores (importance, confidence).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProviderPlanView {
    /// Each action that names the provider's service: (the goal it serves, what, by when, status).
    pub actions: Vec<ProviderAction>,
}

/// One action as a provider sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProviderAction {
    /// The goal it serves.
    pub goal: String,
    /// What.
    pub what: String,
    /// By when.
    pub by: NaiveDate,
    /// Where it stands.
    pub status: ActionStatus,
}

/// The summary a referring practice sees once the referral has closed: goals, how far each was achieved,
/// and their actions' status; no scores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// What matters to the person.
    pub what_matters: String,
    /// Each goal, with its actions.
    pub goals: Vec<GoalSummary>,
}

/// A goal in the practice's summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoalSummary {
    /// The goal.
    pub description: String,
    /// How far it was achieved, once reviewed.
    pub review: Option<GoalReview>,
    /// Its actions: what, and where each stands.
    pub actions: Vec<ActionSummary>,
}

/// An action in the practice's summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionSummary {
    /// What.
    pub what: String,
    /// Where it stands.
    pub status: ActionStatus,
}

impl Plan {
    /// The provider's view: only actions that name `service`.
    pub fn for_provider(&self, service: ServiceId) -> ProviderPlanView {
        let actions = self
            .goals
            .iter()
            .flat_map(|g| {
                g.actions.iter().filter(|a| a.who == ActionOwner::Service(service)).map(|a| ProviderAction {
                    goal: g.description.clone(),
                    what: a.what.clone(),
                    by: a.by,
                    status: a.status,
                })
            })
            .collect();
        ProviderPlanView { actions }
    }

    /// The practice's summary.
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            what_matters: self.what_matters.clone(),
            goals: self
                .goals
                .iter()
                .map(|g| GoalSummary {
                    description: g.description.clone(),
                    review: g.review,
                    actions: g
                        .actions
                        .iter()
                        .map(|a| ActionSummary { what: a.what.clone(), status: a.status })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// How much of a referral's plan and wellbeing measures a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanAccess {
    /// The link worker service that works it: everything, every version.
    Full,
    /// The referring practice, once the referral has closed: the plan's summary and the measures (the
    /// PRSB message back to the GP carries both).
    Summary,
    /// Anyone else, and the practice before closure.
    Nothing,
}

/// What `actor` may see of the plan and measures of `referral`. Providers see only the actions naming
/// their service, through an accepted offer ([`Plan::for_provider`]); network leads see aggregates only.
pub fn plan_access(actor: &Actor, referral: &Referral) -> PlanAccess {
    if actor.is(Role::LinkWorker, referral.link_worker_service) {
        PlanAccess::Full
    } else if actor.is(Role::GpPractice, referral.referring_organisation) && referral.status == ReferralStatus::Closed {
        PlanAccess::Summary
    } else {
        PlanAccess::Nothing
    }
}

#[cfg(test)]
mod tests;
