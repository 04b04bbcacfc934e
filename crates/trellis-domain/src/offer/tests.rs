use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ids::UserId;
use crate::person::example as person;
use crate::referral::Referral;

const REFERRER: OrganisationId = OrganisationId(Uuid::from_u128(1));
const SERVICE: OrganisationId = OrganisationId(Uuid::from_u128(2));
const PROVIDER: OrganisationId = OrganisationId(Uuid::from_u128(3));
const OTHER_PROVIDER: OrganisationId = OrganisationId(Uuid::from_u128(5));
const ELSEWHERE: OrganisationId = OrganisationId(Uuid::from_u128(99));

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

fn own(role: Role) -> Actor {
    let org = match role {
        Role::GpPractice => REFERRER,
        Role::LinkWorker => SERVICE,
        Role::Provider => PROVIDER,
        Role::NetworkLead | Role::Admin => ELSEWHERE,
        Role::System => return Actor::system(),
    };
    Actor::user(UserId(Uuid::from_u128(20)), role, org)
}

fn referral(status: ReferralStatus) -> Referral {
    let (mut r, _) = Referral::open(
        ReferralId(Uuid::from_u128(7)),
        &crate::referral::AcceptedSubmission::for_tests(REFERRER, SERVICE),
        &person(),
        None,
        &own(Role::GpPractice),
        t0(),
    )
    .unwrap();
    r.status = status;
    r
}

fn offer_in(status: OfferStatus) -> Offer {
    let r = referral(ReferralStatus::Contacted);
    let new = NewOffer {
        id: OfferId(Uuid::from_u128(70)),
        referral: &r,
        service: ServiceId(Uuid::from_u128(40)),
        provider_organisation: PROVIDER,
        part_of: None,
        note: Some("Loves singing".into()),
    };
    let (mut offer, _) = Offer::make(new, &own(Role::LinkWorker), t0()).unwrap();
    offer.status = status;
    offer
}

fn commands() -> Vec<(&'static str, OfferCommand)> {
    vec![
        ("accept", OfferCommand::Accept),
        ("decline", OfferCommand::Decline { reason: DeclineReason::AtCapacity, note: None }),
        ("waitlist", OfferCommand::Waitlist),
        ("start", OfferCommand::Start),
        ("finish", OfferCommand::Finish),
        ("end_early", OfferCommand::EndEarly { note: None }),
        ("withdraw", OfferCommand::Withdraw { note: None }),
        ("expire", OfferCommand::Expire),
    ]
}

use OfferStatus::*;

/// The offer transitions of `docs/domain.md` and who sets them.
const ALLOWED: &[(&str, &[Role], &[OfferStatus], OfferStatus)] = &[
    ("accept", &[Role::Provider], &[Offered, Waitlisted], Accepted),
    ("decline", &[Role::Provider], &[Offered, Waitlisted], Declined),
    ("waitlist", &[Role::Provider], &[Offered], Waitlisted),
    ("start", &[Role::Provider, Role::LinkWorker], &[Accepted], Started),
    ("finish", &[Role::Provider, Role::LinkWorker], &[Started], Finished),
    ("end_early", &[Role::Provider, Role::LinkWorker], &[Started], EndedEarly),
    ("withdraw", &[Role::LinkWorker], &[Offered, Waitlisted, Accepted], Withdrawn),
    ("expire", &[Role::System], &[Offered, Waitlisted], Expired),
];

#[test]
fn every_state_command_and_role_is_allowed_or_refused_exactly_as_the_domain_table_says() {
    for status in OfferStatus::ALL.iter().copied() {
        for (label, command) in commands() {
            for role in Role::ALL {
                let Some((_, roles, from, to)) = ALLOWED.iter().find(|row| row.0 == label) else {
                    panic!("{label} missing from the table");
                };
                let result = offer_in(status).handle(command.clone(), OPEN, &own(role), t0());
                if !roles.contains(&role) {
                    assert!(
                        matches!(result, Err(DomainError::Forbidden { .. })),
                        "{role:?} {label} from {status:?}: {result:?}"
                    );
                } else if from.contains(&status) {
                    let (next, event) = result.unwrap();
                    assert_eq!((next.status, event.from, event.version), (*to, Some(status), 2), "{role:?} {label}");
                } else {
                    assert!(
                        matches!(result, Err(DomainError::InvalidTransition { .. })),
                        "{role:?} {label} from {status:?}: {result:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn another_providers_organisation_cannot_act_on_the_offer() {
    let stranger = Actor::provider_link(OTHER_PROVIDER);
    for (label, command) in commands() {
        let result = offer_in(Offered).decide(command, OPEN, &stranger, t0());
        assert!(matches!(result, Err(DomainError::Forbidden { .. })), "{label}");
    }
}

#[test]
fn every_offer_state_maps_onto_a_fhir_task_status() {
    let mapped: Vec<_> = OfferStatus::ALL.iter().map(|s| (s.as_str(), s.fhir_task_status())).collect();
    assert_eq!(
        mapped,
        [
            ("offered", "requested"),
            ("accepted", "accepted"),
            ("declined", "rejected"),
            ("waitlisted", "on-hold"),
            ("started", "in-progress"),
            ("finished", "completed"),
            ("ended_early", "failed"),
            ("withdrawn", "cancelled"),
            ("expired", "cancelled"),
        ]
    );
}

#[test]
fn an_offer_needs_a_contacted_person_and_an_open_referral() {
    for status in [ReferralStatus::Referred, ReferralStatus::Closed] {
        let r = referral(status);
        let new = NewOffer {
            id: OfferId(Uuid::from_u128(71)),
            referral: &r,
            service: ServiceId(Uuid::from_u128(40)),
            provider_organisation: PROVIDER,
            part_of: None,
            note: None,
        };
        assert!(
            matches!(Offer::make(new, &own(Role::LinkWorker), t0()), Err(DomainError::InvalidTransition { .. })),
            "{status:?}"
        );
    }
}

#[test]
fn a_provider_that_accepted_may_make_an_onward_offer_that_records_where_it_came_from() {
    let r = referral(ReferralStatus::Attending);
    let parent = offer_in(Accepted);
    let onward = |parent| NewOffer {
        id: OfferId(Uuid::from_u128(72)),
        referral: &r,
        service: ServiceId(Uuid::from_u128(41)),
        provider_organisation: OTHER_PROVIDER,
        part_of: Some(parent),
        note: None,
    };
    let (offer, event) = Offer::make(onward(&parent), &own(Role::Provider), t0()).unwrap();
    assert_eq!((offer.part_of, offer.status, event.to), (Some(parent.id), Offered, Offered));

    let not_accepted = offer_in(Offered);
    assert!(matches!(
        Offer::make(onward(&not_accepted), &own(Role::Provider), t0()),
        Err(DomainError::Forbidden { .. })
    ));
    assert!(matches!(
        Offer::make(onward(&parent), &Actor::provider_link(OTHER_PROVIDER), t0()),
        Err(DomainError::Forbidden { .. })
    ));
}

#[test]
fn a_decline_keeps_its_reason() {
    let (offer, event) = offer_in(Offered)
        .handle(
            OfferCommand::Decline { reason: DeclineReason::NotEligible, note: Some("over 18s only".into()) },
            OPEN,
            &own(Role::Provider),
            t0(),
        )
        .unwrap();
    assert_eq!(
        (offer.decline_reason, event.decline_reason),
        (Some(DeclineReason::NotEligible), Some(DeclineReason::NotEligible))
    );
    assert_eq!(event.note.as_deref(), Some("over 18s only"));
}

/// The referral of an offer in the table tests: open, so only the offer's own state decides.
const OPEN: ReferralStatus = ReferralStatus::Contacted;

#[test]
fn nobody_may_accept_waitlist_or_start_an_offer_whose_referral_is_closed() {
    for (label, command, status, role) in [
        ("accept", OfferCommand::Accept, Offered, Role::Provider),
        ("accept", OfferCommand::Accept, Waitlisted, Role::Provider),
        ("waitlist", OfferCommand::Waitlist, Offered, Role::Provider),
        ("start", OfferCommand::Start, Accepted, Role::Provider),
        ("start", OfferCommand::Start, Accepted, Role::LinkWorker),
    ] {
        let result = offer_in(status).decide(command.clone(), ReferralStatus::Closed, &own(role), t0());
        assert!(
            matches!(result, Err(DomainError::InvalidTransition { state: "its referral is closed", .. })),
            "{label} from {status:?} by {role:?}: {result:?}"
        );
        assert!(offer_in(status).decide(command, OPEN, &own(role), t0()).is_ok(), "{label} while open");
    }
}

#[test]
fn closing_the_referral_withdraws_what_has_not_started_and_ends_what_has_as_the_reason_implies() {
    let closer = own(Role::LinkWorker);
    for (status, reason, ended) in [
        (Offered, ClosureReason::Completed, Some(Withdrawn)),
        (Waitlisted, ClosureReason::Died, Some(Withdrawn)),
        (Accepted, ClosureReason::DeclinedByPerson, Some(Withdrawn)),
        (Started, ClosureReason::Completed, Some(Finished)),
        (Started, ClosureReason::MovedAway, Some(EndedEarly)),
        (Started, ClosureReason::EnteredInError, Some(EndedEarly)),
        (Declined, ClosureReason::Completed, None),
        (Finished, ClosureReason::Completed, None),
        (EndedEarly, ClosureReason::Died, None),
        (Withdrawn, ClosureReason::Died, None),
        (Expired, ClosureReason::Died, None),
    ] {
        let offer = offer_in(status);
        let event = offer.end_with_referral(reason, &closer, t0());
        assert_eq!(event.as_ref().map(|e| e.to), ended, "{status:?} closed {reason:?}");
        if let Some(event) = event {
            assert_eq!((event.from, event.version), (Some(status), offer.version + 1));
            assert_eq!(offer.apply(&event).status.fhir_task_status() == "cancelled", ended == Some(Withdrawn));
        }
    }
}

fn any_command() -> impl Strategy<Value = OfferCommand> {
    proptest::sample::select(commands().into_iter().map(|(_, c)| c).collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn final_states_are_terminal_and_versions_only_grow(steps in proptest::collection::vec((any_command(), proptest::sample::select(Role::ALL.to_vec())), 0..30)) {
        let mut offer = offer_in(Offered);
        for (command, role) in steps {
            let before = offer.clone();
            match offer.handle(command, OPEN, &own(role), t0()) {
                Ok((next, _)) => {
                    prop_assert!(!before.status.is_final(), "{:?} is final", before.status);
                    prop_assert_eq!(next.version, before.version + 1);
                    offer = next;
                }
                Err(_) => prop_assert_eq!(&offer, &before),
            }
        }
    }
}
