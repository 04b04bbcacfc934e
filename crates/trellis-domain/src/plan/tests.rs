#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

fn walking_group() -> ServiceId {
    ServiceId(Uuid::from_u128(7))
}

fn draft() -> PlanDraft {
    PlanDraft {
        what_matters: "Getting out of the house and meeting people again".into(),
        needs: vec!["loneliness".into(), "physical_activity".into()],
        goals: vec![GoalDraft {
            description: "Walk with others once a week".into(),
            importance: 9,
            actions: vec![
                ActionDraft {
                    what: "Try the Tuesday walking group".into(),
                    who: Some(ActionOwner::Service(walking_group())),
                    by: Some(date(8)),
                    status: None,
                    confidence: 6,
                },
                ActionDraft {
                    what: "Buy walking shoes".into(),
                    who: Some(ActionOwner::Person),
                    by: Some(date(5)),
                    status: Some("done".into()),
                    confidence: 8,
                },
            ],
            review: None,
        }],
        review_date: Some(date(20)),
        person_agreed: true,
    }
}

fn recorder() -> UserId {
    UserId(Uuid::from_u128(1))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
}

#[test]
fn a_plan_records_that_the_person_agreed_who_recorded_it_and_when() {
    let plan = draft().parse(recorder(), now()).unwrap();
    assert_eq!(plan.agreement, Agreement { recorded_by: recorder(), recorded_at: now() });
    assert_eq!(plan.goals[0].actions[0].status, ActionStatus::NotStarted);
    assert_eq!(plan.goals[0].actions[1].status, ActionStatus::Done);
}

#[test]
fn a_plan_the_person_did_not_agree_to_is_refused() {
    let err = PlanDraft { person_agreed: false, ..draft() }.parse(recorder(), now()).unwrap_err();
    assert_eq!(err.field, "personAgreed");
}

#[test]
fn each_bad_part_of_a_plan_is_refused_naming_its_field() {
    type Spoil = Box<dyn Fn(&mut PlanDraft)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("whatMatters", Box::new(|d| d.what_matters = "  ".into())),
        ("needs", Box::new(|d| d.needs = vec!["boredom".into()])),
        ("goals.description", Box::new(|d| d.goals[0].description = String::new())),
        ("goals.importance", Box::new(|d| d.goals[0].importance = 11)),
        ("goals.importance", Box::new(|d| d.goals[0].importance = 0)),
        ("goals.review", Box::new(|d| d.goals[0].review = Some("mostly".into()))),
        ("actions.what", Box::new(|d| d.goals[0].actions[0].what = String::new())),
        ("actions.who", Box::new(|d| d.goals[0].actions[0].who = None)),
        ("actions.by", Box::new(|d| d.goals[0].actions[0].by = None)),
        ("actions.status", Box::new(|d| d.goals[0].actions[0].status = Some("paused".into()))),
        ("actions.confidence", Box::new(|d| d.goals[0].actions[0].confidence = -1)),
        ("reviewDate", Box::new(|d| d.review_date = NaiveDate::from_ymd_opt(1999, 12, 31))),
    ];
    for (field, spoil) in cases {
        let mut d = draft();
        spoil(&mut d);
        assert_eq!(d.parse(recorder(), now()).unwrap_err().field, field);
    }
}

#[test]
fn a_provider_sees_only_the_actions_that_name_its_service_without_scores() {
    let plan = draft().parse(recorder(), now()).unwrap();
    let view = plan.for_provider(walking_group());
    assert_eq!(
        view.actions,
        vec![ProviderAction {
            goal: "Walk with others once a week".into(),
            what: "Try the Tuesday walking group".into(),
            by: date(8),
            status: ActionStatus::NotStarted,
        }]
    );
    assert!(plan.for_provider(ServiceId(Uuid::from_u128(8))).actions.is_empty());
}

#[test]
fn the_practice_summary_keeps_goals_reviews_and_action_status() {
    let mut d = draft();
    d.goals[0].review = Some("partly_achieved".into());
    let summary = d.parse(recorder(), now()).unwrap().summary();
    assert_eq!(summary.goals[0].review, Some(GoalReview::PartlyAchieved));
    assert_eq!(
        summary.goals[0].actions[1],
        ActionSummary { what: "Buy walking shoes".into(), status: ActionStatus::Done }
    );
}

proptest! {
    #[test]
    fn importance_and_confidence_parse_exactly_when_from_one_to_ten(importance in -5i64..20, confidence in -5i64..20) {
        let mut d = draft();
        d.goals[0].importance = importance;
        d.goals[0].actions[0].confidence = confidence;
        let ok = (1..=10).contains(&importance) && (1..=10).contains(&confidence);
        prop_assert_eq!(d.parse(recorder(), now()).is_ok(), ok);
    }
}

#[test]
fn the_link_worker_sees_the_whole_plan_and_the_practice_a_summary_only_once_closed() {
    use crate::ids::{OrganisationId, ReferralId};
    let (practice, service) = (OrganisationId(Uuid::from_u128(10)), OrganisationId(Uuid::from_u128(20)));
    let referral = |status| Referral {
        id: ReferralId(Uuid::from_u128(3)),
        status,
        version: 4,
        referring_organisation: practice,
        link_worker_service: service,
        assigned_to: None,
        closure_reason: None,
        created_at: now(),
        updated_at: now(),
    };
    let lw = Actor::user(recorder(), Role::LinkWorker, service);
    let gp = Actor::user(recorder(), Role::GpPractice, practice);
    let open = referral(ReferralStatus::Attending);
    let closed = referral(ReferralStatus::Closed);
    assert_eq!((plan_access(&lw, &open), plan_access(&lw, &closed)), (PlanAccess::Full, PlanAccess::Full));
    assert_eq!((plan_access(&gp, &open), plan_access(&gp, &closed)), (PlanAccess::Nothing, PlanAccess::Summary));
    let others = [
        Actor::user(recorder(), Role::LinkWorker, practice),
        Actor::user(recorder(), Role::GpPractice, service),
        Actor::user(recorder(), Role::Provider, service),
        Actor::user(recorder(), Role::NetworkLead, service),
        Actor::user(recorder(), Role::Admin, service),
        Actor::system(),
    ];
    for actor in others {
        assert_eq!(plan_access(&actor, &closed), PlanAccess::Nothing, "{actor:?}");
    }
}
