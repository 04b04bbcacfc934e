use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::person::{DetailsChoice, PersonDetails, example as person};

const REFERRER: OrganisationId = OrganisationId(Uuid::from_u128(1));
const SERVICE: OrganisationId = OrganisationId(Uuid::from_u128(2));
const PROVIDER: OrganisationId = OrganisationId(Uuid::from_u128(3));
const LOCALITY: OrganisationId = OrganisationId(Uuid::from_u128(4));
const ELSEWHERE: OrganisationId = OrganisationId(Uuid::from_u128(99));
const WORKER: UserId = UserId(Uuid::from_u128(10));

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

/// The actor of `role` in its own organisation for this referral.
fn own(role: Role) -> Actor {
    let org = match role {
        Role::GpPractice => REFERRER,
        Role::LinkWorker => SERVICE,
        Role::Provider => PROVIDER,
        Role::NetworkLead | Role::Admin => LOCALITY,
        Role::System => return Actor::system(),
    };
    Actor::user(UserId(Uuid::from_u128(20)), role, org)
}

/// A submission from the practice to the service, as the rules accept it.
fn accepted() -> AcceptedSubmission {
    AcceptedSubmission::for_tests(REFERRER, SERVICE)
}

fn referral_in(status: ReferralStatus) -> Referral {
    let (mut r, _) =
        Referral::open(ReferralId(Uuid::from_u128(7)), &accepted(), &person(), None, &own(Role::GpPractice), t0())
            .unwrap();
    r.status = status;
    r.version = 5;
    r
}

fn evidence() -> AttendanceEvidence {
    AttendanceEvidence {
        offer: OfferId(Uuid::from_u128(70)),
        referral: ReferralId(Uuid::from_u128(7)),
        provider_organisation: PROVIDER,
        offer_status: OfferStatus::Accepted,
    }
}

/// Every command once, labelled for the table.
fn commands() -> Vec<(&'static str, ReferralCommand)> {
    vec![
        ("assign", ReferralCommand::Assign { to: WORKER }),
        ("attempt", ReferralCommand::RecordContactAttempt { note: Some("no answer".into()) }),
        ("contact", ReferralCommand::RecordContact { note: None }),
        ("attend", ReferralCommand::RecordAttendance { evidence: None, note: None }),
        ("attend_confirmed", ReferralCommand::RecordAttendance { evidence: Some(evidence()), note: None }),
        ("end_activity", ReferralCommand::EndActivity { note: None }),
        ("close_completed", ReferralCommand::Close { reason: ClosureReason::Completed, note: None }),
        ("withdraw", ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: None }),
        ("plan", ReferralCommand::UpdatePlan { plan_version: 1 }),
        ("measure", ReferralCommand::RecordMeasure { instrument: crate::wellbeing::InstrumentCode::Ons4 }),
        ("resolve", ReferralCommand::ResolvePersonDetails { keep: DetailsChoice::Held, note: None }),
    ]
}

use ReferralStatus::{Attending as A, Closed as X, Contacted as C, Referred as R};

/// The table of docs/domain.md, written out: (command, role acting for its own organisation, states it may act from,
/// the status afterwards). Anything missing is refused.
const ALLOWED: &[(&str, Role, &[ReferralStatus], Option<ReferralStatus>)] = &[
    ("assign", Role::LinkWorker, &[R, C, A], None),
    ("attempt", Role::LinkWorker, &[R, C, A], None),
    ("contact", Role::LinkWorker, &[R], Some(C)),
    ("attend", Role::LinkWorker, &[C], Some(A)),
    ("attend_confirmed", Role::LinkWorker, &[C], Some(A)),
    ("attend_confirmed", Role::Provider, &[C], Some(A)),
    ("end_activity", Role::LinkWorker, &[A], Some(C)),
    ("close_completed", Role::LinkWorker, &[R, C, A], Some(X)),
    ("withdraw", Role::LinkWorker, &[R, C, A], Some(X)),
    ("withdraw", Role::GpPractice, &[R], Some(X)),
    ("plan", Role::LinkWorker, &[C, A], None),
    ("measure", Role::LinkWorker, &[C, A], None),
    // Only a referral whose details were flagged as differing has anything to resolve.
    ("resolve", Role::LinkWorker, &[], None),
];

#[test]
fn every_state_command_and_role_is_allowed_or_refused_exactly_as_the_domain_table_says() {
    let mut checked = 0;
    for status in ReferralStatus::ALL.iter().copied() {
        for (label, command) in commands() {
            for role in Role::ALL {
                let referral = referral_in(status);
                let rows: Vec<_> = ALLOWED.iter().filter(|(l, r, _, _)| *l == label && *r == role).collect();
                let result = referral.handle(command.clone(), &own(role), t0() + Duration::hours(1));
                match rows.first() {
                    None => assert!(
                        matches!(result, Err(DomainError::Forbidden { .. })),
                        "{role:?} {label} from {status:?}: expected Forbidden, got {result:?}"
                    ),
                    Some((_, _, from, to)) if from.contains(&status) => {
                        let (next, event) = result.unwrap_or_else(|e| panic!("{role:?} {label} from {status:?}: {e}"));
                        assert_eq!(next.status, to.unwrap_or(status), "{role:?} {label} from {status:?}");
                        assert_eq!((next.version, event.version), (6, 6));
                        assert_eq!(event.from, Some(status));
                    }
                    Some(_) => assert!(
                        matches!(result, Err(DomainError::InvalidTransition { .. })),
                        "{role:?} {label} from {status:?}: expected InvalidTransition, got {result:?}"
                    ),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * 11 * 6);
}

#[test]
fn the_same_role_acting_for_another_organisation_is_always_forbidden() {
    for status in ReferralStatus::ALL.iter().copied() {
        for (label, command) in commands() {
            for role in [Role::GpPractice, Role::LinkWorker, Role::Provider] {
                let stranger = Actor::user(UserId(Uuid::from_u128(30)), role, ELSEWHERE);
                let result = referral_in(status).decide(command.clone(), &stranger, t0());
                assert!(
                    matches!(result, Err(DomainError::Forbidden { .. })),
                    "{role:?} {label} from {status:?}: {result:?}"
                );
            }
        }
    }
}

#[test]
fn a_provider_cannot_confirm_attendance_on_an_offer_it_has_not_accepted() {
    let referral = referral_in(C);
    for offer_status in [OfferStatus::Offered, OfferStatus::Declined, OfferStatus::Withdrawn] {
        let evidence = AttendanceEvidence { offer_status, ..evidence() };
        let result = referral.decide(
            ReferralCommand::RecordAttendance { evidence: Some(evidence), note: None },
            &own(Role::Provider),
            t0(),
        );
        assert!(matches!(result, Err(DomainError::Forbidden { .. })), "{offer_status:?}");
    }
    let other_referral = AttendanceEvidence { referral: ReferralId(Uuid::from_u128(8)), ..evidence() };
    let result = referral.decide(
        ReferralCommand::RecordAttendance { evidence: Some(other_referral), note: None },
        &own(Role::Provider),
        t0(),
    );
    assert!(matches!(result, Err(DomainError::Forbidden { .. })));
}

#[test]
fn a_gp_practice_may_withdraw_only_while_referred_and_may_not_close_for_other_reasons() {
    let gp = own(Role::GpPractice);
    let withdraw = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: None };
    let (closed, event) = referral_in(R).handle(withdraw.clone(), &gp, t0()).unwrap();
    assert_eq!((closed.status, closed.closure_reason), (X, Some(ClosureReason::WithdrawnByReferrer)));
    assert_eq!(event.kind, ReferralEventKind::Closed { reason: ClosureReason::WithdrawnByReferrer });
    assert_eq!(
        referral_in(C).decide(withdraw, &gp, t0()).unwrap_err(),
        DomainError::InvalidTransition { state: "contacted", action: "withdraw" }
    );
    assert_eq!(
        referral_in(R)
            .decide(ReferralCommand::Close { reason: ClosureReason::Completed, note: None }, &gp, t0())
            .unwrap_err(),
        DomainError::Forbidden { role: Role::GpPractice, action: "close" }
    );
}

#[test]
fn an_accepted_submission_opens_referred_at_version_one_between_its_organisations() {
    let id = ReferralId(Uuid::from_u128(5));
    let (r, e) = Referral::open(id, &accepted(), &person(), None, &own(Role::GpPractice), t0()).unwrap();
    assert_eq!((r.status, r.version, e.from, e.to), (R, 1, None, R));
    assert_eq!((r.referring_organisation, r.link_worker_service), (REFERRER, SERVICE));
}

#[test]
fn an_overlong_note_is_refused_as_invalid() {
    let note = Some("x".repeat(MAX_NOTE_CHARS + 1));
    let result = referral_in(R).decide(
        ReferralCommand::RecordContact { note: note.map(Into::into) },
        &own(Role::LinkWorker),
        t0(),
    );
    assert!(matches!(result, Err(DomainError::Invalid(ValueError { field: "note", .. }))), "{result:?}");
}

#[test]
fn declining_social_prescribing_carries_its_snomed_code() {
    assert_eq!(ClosureReason::DeclinedByPerson.snomed(), Some("871711000000103"));
    assert_eq!(ClosureReason::Completed.snomed(), None);
}

use crate::values::ValueError;

#[test]
fn a_submission_whose_details_differ_from_those_the_service_holds_opens_flagged_and_replays_so() {
    let id = ReferralId(Uuid::from_u128(5));
    let held = person();
    let same = Referral::open(id, &accepted(), &person(), Some(&held), &own(Role::GpPractice), t0()).unwrap();
    assert!(!same.0.details_differ);
    let other = PersonDetails { given_name: "Eve".into(), ..person() };
    let (r, e) = Referral::open(id, &accepted(), &other, Some(&held), &own(Role::GpPractice), t0()).unwrap();
    assert!(r.details_differ);
    assert_eq!(Referral::replay(&[e]), Some(r));
}

#[test]
fn the_link_worker_resolves_differing_details_once_and_as_an_event_while_open() {
    let flagged = |status| Referral { details_differ: true, ..referral_in(status) };
    let resolve = |keep| ReferralCommand::ResolvePersonDetails { keep, note: None };
    for status in [R, C, A] {
        let (next, event) =
            flagged(status).handle(resolve(DetailsChoice::Submitted), &own(Role::LinkWorker), t0()).unwrap();
        assert!(!next.details_differ);
        assert_eq!((next.status, next.version), (status, 6));
        assert_eq!(event.kind, ReferralEventKind::PersonDetailsResolved { kept: DetailsChoice::Submitted });
        assert!(matches!(
            next.decide(resolve(DetailsChoice::Held), &own(Role::LinkWorker), t0()),
            Err(DomainError::InvalidTransition { .. })
        ));
    }
    assert!(matches!(
        flagged(X).decide(resolve(DetailsChoice::Held), &own(Role::LinkWorker), t0()),
        Err(DomainError::InvalidTransition { state: "closed", .. })
    ));
    for role in [Role::GpPractice, Role::Provider, Role::NetworkLead, Role::Admin, Role::System] {
        assert!(matches!(
            flagged(R).decide(resolve(DetailsChoice::Held), &own(role), t0()),
            Err(DomainError::Forbidden { .. })
        ));
    }
}

fn any_command() -> impl Strategy<Value = ReferralCommand> {
    prop_oneof![
        Just(ReferralCommand::Assign { to: WORKER }),
        Just(ReferralCommand::RecordContactAttempt { note: None }),
        Just(ReferralCommand::RecordContact { note: Some("spoke on the phone".into()) }),
        Just(ReferralCommand::RecordAttendance { evidence: None, note: None }),
        Just(ReferralCommand::RecordAttendance { evidence: Some(evidence()), note: None }),
        Just(ReferralCommand::EndActivity { note: None }),
        proptest::sample::select(ClosureReason::ALL).prop_map(|reason| ReferralCommand::Close { reason, note: None }),
        proptest::sample::select(DetailsChoice::ALL)
            .prop_map(|keep| ReferralCommand::ResolvePersonDetails { keep, note: None }),
    ]
}

fn any_actor() -> impl Strategy<Value = Actor> {
    (proptest::sample::select(Role::ALL.to_vec()), any::<bool>()).prop_map(|(role, foreign)| {
        if foreign && role != Role::System { Actor::user(WORKER, role, ELSEWHERE) } else { own(role) }
    })
}

proptest! {
    #[test]
    fn invariants_hold_over_any_sequence_of_commands(steps in proptest::collection::vec((any_command(), any_actor(), 0i64..10_000), 0..40)) {
        let other = PersonDetails { family_name: "Byron".into(), ..person() };
        let (mut state, first) = Referral::open(ReferralId(Uuid::from_u128(7)), &accepted(), &other, Some(&person()), &own(Role::GpPractice), t0()).unwrap();
        let mut history = vec![first];
        let mut at = t0();
        for (command, actor, minutes) in steps {
            at += Duration::minutes(minutes);
            let was_closed = state.status == ReferralStatus::Closed;
            match state.handle(command, &actor, at) {
                Ok((next, event)) => {
                    prop_assert!(!was_closed, "closed is terminal");
                    prop_assert_eq!(next.version, state.version + 1, "the version strictly increases by one");
                    prop_assert_eq!(event.version, next.version);
                    history.push(event);
                    state = next;
                }
                Err(_) => prop_assert_eq!(state.version as usize, history.len(), "a refusal changes nothing"),
            }
        }
        prop_assert_eq!(Referral::replay(&history), Some(state), "replaying the history reproduces the state");
    }
}

#[test]
fn only_a_link_workers_note_can_be_marked_for_the_gp() {
    let lw = own(Role::LinkWorker);
    let contact = |note: Option<&str>| {
        referral_in(R).decide(ReferralCommand::RecordContact { note: note.map(Into::into) }, &lw, t0()).unwrap()
    };
    let marked = contact(Some("walks with a friend")).with_note_for_gp(true).unwrap();
    assert!(marked.note_for_gp);
    assert!(!contact(Some("for the record")).with_note_for_gp(false).unwrap().note_for_gp);
    let nothing_to_mark = contact(None).with_note_for_gp(true);
    assert!(
        matches!(nothing_to_mark, Err(DomainError::Invalid(ValueError { field: "forGp", .. }))),
        "{nothing_to_mark:?}"
    );
    let withdraw = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: Some("moved".into()) };
    let by_practice = referral_in(R).decide(withdraw, &own(Role::GpPractice), t0()).unwrap().with_note_for_gp(true);
    assert!(matches!(by_practice, Err(DomainError::Forbidden { .. })), "{by_practice:?}");
}

#[test]
fn a_note_can_be_marked_or_unmarked_for_the_gp_later_only_by_a_link_worker_of_the_service_working_it() {
    let lw = own(Role::LinkWorker);
    let referral = referral_in(ReferralStatus::Closed);
    let written = referral_in(R)
        .decide(ReferralCommand::RecordContact { note: Some("walks with a friend".into()) }, &lw, t0())
        .unwrap();
    let marked = written.clone().remark_note_for_gp(&referral, true, &lw).unwrap();
    assert!(marked.note_for_gp);
    assert!(!marked.remark_note_for_gp(&referral, false, &lw).unwrap().note_for_gp, "unmarked again");

    let elsewhere = Actor { organisation: Some(PROVIDER), ..lw };
    for who in [own(Role::GpPractice), own(Role::Provider), own(Role::Admin), Actor::system(), elsewhere] {
        let refused = written.clone().remark_note_for_gp(&referral, true, &who);
        assert!(matches!(refused, Err(DomainError::Forbidden { .. })), "{who:?}: {refused:?}");
    }

    let no_note = referral_in(R).decide(ReferralCommand::RecordContact { note: None }, &lw, t0()).unwrap();
    let refused = no_note.remark_note_for_gp(&referral, true, &lw);
    assert!(matches!(refused, Err(DomainError::Invalid(ValueError { field: "eventVersion", .. }))), "{refused:?}");
    let withdraw = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: Some("moved".into()) };
    let practice_note = referral_in(R).decide(withdraw, &own(Role::GpPractice), t0()).unwrap();
    let refused = practice_note.remark_note_for_gp(&referral, true, &lw);
    assert!(matches!(refused, Err(DomainError::Invalid(_))), "only a link worker's note: {refused:?}");
}
