//! Patient safety in the store, on SQLite and PostgreSQL: each referral keeps the demographics it was
//! submitted with, details that differ are flagged for the link worker, and closing a referral ends its
//! offers so that no provider can take up (or see) a person whose episode has ended.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, Statement};
use trellis_domain::access::ReferralScope;
use trellis_domain::offer::{OfferCommand, OfferStatus};
use trellis_domain::person::DetailsChoice;
use trellis_domain::referral::{ClosureReason, Referral, ReferralCommand, ReferralEventKind, ReferralStatus};
use trellis_domain::values::{PhoneNumber, Postcode};
use trellis_domain::{DomainError, ReferralId};
use trellis_store::audit::AuditFilter;
use trellis_store::both_databases;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::outbox::JobKind;
use trellis_store::referrals::{NewReferral, ReferralFilter};
use trellis_store::testing::{Fixture, plain_service};
use trellis_store::{Store, StoreError};

const NHS: &str = "9434765919";

fn timers() -> OfferTimers {
    OfferTimers { expires_at: Utc::now() + Duration::days(14), remind_at: Some(Utc::now() + Duration::days(5)) }
}

fn filter(scope: ReferralScope, search: Option<&str>) -> ReferralFilter {
    ReferralFilter {
        scope,
        statuses: vec![],
        need: None,
        assigned_to: None,
        overdue_at: None,
        search: search.map(String::from),
        before: None,
        limit: 50,
    }
}

/// The same NHS number as `f.referral`, submitted by the other practice to the other link worker service,
/// with another name, phone and postcode: a mistyped NHS number, or a hostile practice.
fn from_the_other_practice(f: &Fixture) -> NewReferral {
    let mut new = f.referral(NHS);
    new.person.given_name = "Eve".into();
    new.person.family_name = "Mallory".into();
    new.person.phone = PhoneNumber::parse("07700 900999").ok();
    new.person.postcode = Postcode::parse("DE1 1AA").ok();
    new
}

/// The first practice's referral, contacted, with an offer the provider accepted.
async fn accepted_offer(store: &Store, f: &Fixture) -> (ReferralId, trellis_domain::OfferId) {
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let id = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap().referral.state.id;
    store.transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, Utc::now()).await.unwrap();
    let offer = store
        .make_offer(OfferRequest::new(id, f.walking_group.id, timers()).at_version(2), &lw, Utc::now())
        .await
        .unwrap();
    let provider = Fixture::actor(&f.provider_user);
    store.transition_offer(offer.state.id, 1, OfferCommand::Accept, &provider, Utc::now()).await.unwrap();
    (id, offer.state.id)
}

both_databases!(
    a_second_practices_submission_for_the_same_nhs_number_changes_nothing_the_first_referral_shows,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let (id, offer) = accepted_offer(&store, &f).await;
        let other = store
            .submit_referral(from_the_other_practice(&f), None, &Fixture::actor(&f.other_gp), Utc::now())
            .await
            .unwrap();
        assert_eq!(other.referral.person.details.given_name, "Eve", "the other practice's referral holds its own");
        assert!(other.other_open_referrals.is_empty(), "the first practice's referral is not the other's to see");

        for reader in [&f.gp, &f.link_worker] {
            let seen = store.referral(&Fixture::actor(reader), id, Utc::now()).await.unwrap();
            assert_eq!(seen.person.details, f.referral(NHS).person, "{:?} sees what was submitted", reader.role);
        }
        let provider = store.provider_view(&Fixture::actor(&f.provider_user), offer, Utc::now()).await.unwrap();
        let contact = provider.contact.expect("accepted: contact details shown");
        assert_eq!(contact.name, "Margaret Hughes");
        assert_eq!(contact.phone.as_deref(), Some("01154960123"));
        assert_eq!(provider.first_name, "Margaret");

        let lw = Fixture::actor(&f.link_worker);
        let scope = ReferralScope::WorkedBy(f.service.id);
        let by_name = store.referrals(&lw, &filter(scope, Some("margaret")), Utc::now()).await.unwrap();
        assert_eq!(by_name.iter().map(|r| r.state.id).collect::<Vec<_>>(), vec![id]);
        assert!(store.referrals(&lw, &filter(scope, Some("eve")), Utc::now()).await.unwrap().is_empty());
        let by_nhs = store.referrals(&lw, &filter(scope, Some(NHS)), Utc::now()).await.unwrap();
        assert_eq!(by_nhs.len(), 1);
        assert_eq!(by_nhs[0].person.details.given_name, "Margaret");
        let theirs = store
            .referrals(
                &Fixture::actor(&f.other_link_worker),
                &filter(ReferralScope::WorkedBy(f.other_service.id), Some(NHS)),
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(theirs.iter().map(|r| r.person.details.given_name.as_str()).collect::<Vec<_>>(), ["Eve"]);
    }
);

both_databases!(
    the_nhs_number_still_links_a_persons_open_referrals_within_the_callers_scope,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let gp = Fixture::actor(&f.gp);
        let first = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap();
        let mut moved = f.referral(NHS);
        moved.person.postcode = Postcode::parse("NG10 9ZZ").ok();
        let second = store.submit_referral(moved, None, &gp, Utc::now()).await.unwrap();
        assert_eq!(second.other_open_referrals, vec![first.referral.state.id]);
        assert_eq!(second.referral.person.id, first.referral.person.id, "one person, linked by NHS number");
        let elsewhere = store
            .submit_referral(from_the_other_practice(&f), None, &Fixture::actor(&f.other_gp), Utc::now())
            .await
            .unwrap();
        assert!(elsewhere.other_open_referrals.is_empty());
    }
);

both_databases!(
    details_that_differ_from_those_the_service_holds_are_flagged_and_the_link_worker_chooses_which_stand,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let gp = Fixture::actor(&f.gp);
        let lw = Fixture::actor(&f.link_worker);
        let first = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap().referral;
        assert_eq!(first.flag, None);
        let same = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap().referral;
        assert_eq!(same.flag, None, "the same details again are not flagged");
        let elsewhere = store
            .submit_referral(from_the_other_practice(&f), None, &Fixture::actor(&f.other_gp), Utc::now())
            .await
            .unwrap()
            .referral;
        assert_eq!(elsewhere.flag, None, "another service held nothing for the NHS number");

        let mut new_phone = f.referral(NHS);
        new_phone.person.phone = PhoneNumber::parse("07700 900555").ok();
        let flagged = store.submit_referral(new_phone.clone(), None, &gp, Utc::now()).await.unwrap().referral;
        assert_eq!(flagged.flag.as_deref(), Some("details_differ"));
        assert!(flagged.state.details_differ);
        assert_eq!(flagged.person.details, new_phone.person, "the referral is made with what was submitted");
        let id = flagged.state.id;

        // Neither progress nor another flag settles the question; only the link worker's choice does.
        let contacted = store
            .transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, Utc::now())
            .await
            .unwrap();
        assert_eq!(contacted.flag.as_deref(), Some("details_differ"));
        let refused = store
            .transition_referral(
                id,
                2,
                ReferralCommand::ResolvePersonDetails { keep: DetailsChoice::Held, note: None },
                &gp,
                Utc::now(),
            )
            .await;
        assert!(
            matches!(refused, Err(StoreError::NotFound | StoreError::Domain(DomainError::Forbidden { .. }))),
            "{refused:?}"
        );
        let stale = store
            .transition_referral(
                id,
                1,
                ReferralCommand::ResolvePersonDetails { keep: DetailsChoice::Held, note: None },
                &lw,
                Utc::now(),
            )
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict { expected: 1, current: 2 })), "{stale:?}");

        let resolved = store
            .transition_referral(
                id,
                2,
                ReferralCommand::ResolvePersonDetails {
                    keep: DetailsChoice::Held,
                    note: Some("checked with the GP".into()),
                },
                &lw,
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!((resolved.flag, resolved.state.version), (None, 3));
        assert_eq!(resolved.person.details, f.referral(NHS).person, "the details the service held now stand");
        let again = store.referral(&lw, id, Utc::now()).await.unwrap();
        assert_eq!(again.person.details.phone, PhoneNumber::parse("0115 496 0123").ok());
        let history = store.referral_history(&lw, id).await.unwrap();
        assert_eq!(Referral::replay(&history), Some(again.state.clone()), "the history reproduces the state");
        assert_eq!(
            history.last().unwrap().kind,
            ReferralEventKind::PersonDetailsResolved { kept: DetailsChoice::Held }
        );
        let audit =
            store.audit_log(&AuditFilter { referral: Some(id), limit: 200, ..Default::default() }).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "referral.person_details_resolved"), "{audit:?}");
        let twice = store
            .transition_referral(
                id,
                3,
                ReferralCommand::ResolvePersonDetails { keep: DetailsChoice::Submitted, note: None },
                &lw,
                Utc::now(),
            )
            .await;
        assert!(matches!(twice, Err(StoreError::Domain(DomainError::InvalidTransition { .. }))), "{twice:?}");

        // Keeping what was submitted leaves this referral's details, and every other referral's, as they are.
        let mut new_name = f.referral(NHS);
        new_name.person.family_name = "Hughes-Smith".into();
        let flagged = store.submit_referral(new_name.clone(), None, &gp, Utc::now()).await.unwrap().referral;
        assert_eq!(flagged.flag.as_deref(), Some("details_differ"));
        let kept = store
            .transition_referral(
                flagged.state.id,
                1,
                ReferralCommand::ResolvePersonDetails { keep: DetailsChoice::Submitted, note: None },
                &lw,
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!((kept.flag, kept.person.details), (None, new_name.person));
        assert_eq!(
            store.referral(&lw, first.state.id, Utc::now()).await.unwrap().person.details,
            f.referral(NHS).person
        );

        // Closing a flagged referral leaves nothing to choose.
        let mut new_postcode = f.referral(NHS);
        new_postcode.person.postcode = Postcode::parse("NG10 9ZZ").ok();
        let flagged = store.submit_referral(new_postcode, None, &gp, Utc::now()).await.unwrap().referral;
        assert_eq!(flagged.flag.as_deref(), Some("details_differ"));
        let close = ReferralCommand::Close { reason: ClosureReason::EnteredInError, note: None };
        let closed = store.transition_referral(flagged.state.id, 1, close, &lw, Utc::now()).await.unwrap();
        assert_eq!(closed.flag, None);
    }
);

both_databases!(
    closing_a_referral_ends_every_open_offer_in_the_same_transaction_and_tells_each_provider,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        let provider = Fixture::actor(&f.provider_user);
        let mut choir = plain_service(f.provider.id, "Men's Choir", "Singing on Thursdays", "arts_and_culture");
        choir.details.email = trellis_domain::values::EmailAddress::parse("choir@greenspring.example").ok();
        let choir = store.create_service(choir, Utc::now()).await.unwrap();
        let mut cafe = plain_service(f.provider.id, "Memory Cafe", "Tea and talk", "befriending");
        cafe.details.email = trellis_domain::values::EmailAddress::parse("cafe@greenspring.example").ok();
        let cafe = store.create_service(cafe, Utc::now()).await.unwrap();

        let (id, accepted) = accepted_offer(&store, &f).await;
        let places =
            |store: Store| async move { store.service(f.walking_group.id).await.unwrap().capacity.unwrap().available };
        assert_eq!(places(store.clone()).await, 4, "accepting took a place");
        let waitlisted =
            store.make_offer(OfferRequest::new(id, choir.id, timers()).at_version(2), &lw, Utc::now()).await.unwrap();
        store.transition_offer(waitlisted.state.id, 1, OfferCommand::Waitlist, &provider, Utc::now()).await.unwrap();
        let offered =
            store.make_offer(OfferRequest::new(id, cafe.id, timers()).at_version(2), &lw, Utc::now()).await.unwrap();
        let before = store.outbox().await.unwrap().len();

        let closed = store
            .transition_referral(
                id,
                2,
                ReferralCommand::Close { reason: ClosureReason::Died, note: None },
                &lw,
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(closed.state.status, ReferralStatus::Closed);
        for offer in [accepted, waitlisted.state.id, offered.state.id] {
            let now = store.offer(&lw, offer).await.unwrap();
            assert_eq!((now.state.status, now.state.status.fhir_task_status()), (OfferStatus::Withdrawn, "cancelled"));
            let history = store.offer_history(&lw, offer).await.unwrap();
            assert_eq!(history.last().unwrap().to, OfferStatus::Withdrawn);
            assert_eq!(history.last().unwrap().actor, lw);
        }
        assert_eq!(places(store.clone()).await, 5, "the accepted place was given back");

        let outbox = store.outbox().await.unwrap();
        let ended: Vec<_> = outbox[before..].iter().filter(|e| e.kind == JobKind::OfferEnded).collect();
        let mut recipients: Vec<&str> = ended.iter().map(|e| e.recipient.as_str()).collect();
        recipients.sort_unstable();
        assert_eq!(recipients, ["cafe@greenspring.example", "choir@greenspring.example", "walks@greenspring.example"]);
        for email in ended {
            let payload = serde_json::to_string(&email.job).unwrap();
            assert!(!payload.contains("Margaret") && !payload.contains(NHS) && !payload.contains("0115"), "{payload}");
            assert_eq!(email.referral, Some(id));
        }
        let audit =
            store.audit_log(&AuditFilter { referral: Some(id), limit: 200, ..Default::default() }).await.unwrap();
        assert_eq!(audit.iter().filter(|e| e.action == "offer.withdrawn").count(), 3, "{audit:?}");

        let refused = store.transition_offer(waitlisted.state.id, 3, OfferCommand::Accept, &provider, Utc::now()).await;
        assert!(matches!(refused, Err(StoreError::Domain(DomainError::InvalidTransition { .. }))), "{refused:?}");
    }
);

both_databases!(a_started_offer_ends_as_the_closure_reason_implies, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let lw = Fixture::actor(&f.link_worker);
    let provider = Fixture::actor(&f.provider_user);
    for (reason, ends) in
        [(ClosureReason::Completed, OfferStatus::Finished), (ClosureReason::MovedAway, OfferStatus::EndedEarly)]
    {
        let (id, offer) = accepted_offer(&store, &f).await;
        store.transition_offer(offer, 2, OfferCommand::Start, &provider, Utc::now()).await.unwrap();
        let attending = store.referral(&lw, id, Utc::now()).await.unwrap();
        assert_eq!(attending.state.status, ReferralStatus::Attending);
        // No wellbeing follow-up was taken in this test: say why, as a completed closure must.
        let not_offered = Some(trellis_domain::wellbeing::NoFollowUpReason::NotOffered);
        store.close_referral(id, attending.state.version, reason, None, not_offered, &lw, Utc::now()).await.unwrap();
        assert_eq!(store.offer(&lw, offer).await.unwrap().state.status, ends, "{reason:?}");
        let place_back = store.service(f.walking_group.id).await.unwrap().capacity.unwrap().available;
        assert_eq!(place_back, 5, "{reason:?}: the place is given back");
    }
});

both_databases!(
    an_offer_left_open_on_a_closed_referral_cannot_be_taken_up_and_shows_no_contact_details,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let lw = Fixture::actor(&f.link_worker);
        let provider = Fixture::actor(&f.provider_user);
        let (id, offer) = accepted_offer(&store, &f).await;
        store
            .transition_referral(
                id,
                2,
                ReferralCommand::Close { reason: ClosureReason::DeclinedByPerson, note: None },
                &lw,
                Utc::now(),
            )
            .await
            .unwrap();
        // As an offer of a referral closed before closing ended offers would still be: open.
        let reopen = |status: &str| {
            let backend = store.connection().get_database_backend();
            let sql = match backend {
                sea_orm::DatabaseBackend::Postgres => "UPDATE offers SET status = $1, version = 10 WHERE id = $2",
                _ => "UPDATE offers SET status = ?, version = 10 WHERE id = ?",
            };
            Statement::from_sql_and_values(backend, sql, [status.into(), offer.0.into()])
        };
        store.connection().execute_raw(reopen("accepted")).await.unwrap();
        let view = store.provider_view(&provider, offer, Utc::now()).await.unwrap();
        assert!(view.referral_closed);
        assert_eq!(view.contact, None, "no contact details for a closed referral");
        let start = store.transition_offer(offer, 10, OfferCommand::Start, &provider, Utc::now()).await;
        assert!(
            matches!(
                start,
                Err(StoreError::Domain(DomainError::InvalidTransition { state: "its referral is closed", .. }))
            ),
            "{start:?}"
        );
        let by_link_worker = store.transition_offer(offer, 10, OfferCommand::Start, &lw, Utc::now()).await;
        assert!(matches!(by_link_worker, Err(StoreError::Domain(DomainError::InvalidTransition { .. }))));
        store.connection().execute_raw(reopen("offered")).await.unwrap();
        for command in [OfferCommand::Accept, OfferCommand::Waitlist] {
            let refused = store.transition_offer(offer, 10, command, &provider, Utc::now()).await;
            assert!(matches!(refused, Err(StoreError::Domain(DomainError::InvalidTransition { .. }))), "{refused:?}");
        }
        assert_eq!(store.offer(&lw, offer).await.unwrap().state.status, OfferStatus::Offered, "nothing changed");
    }
);

both_databases!(
    the_migration_gives_each_existing_referral_a_snapshot_of_its_person_as_stored,
    |store: Store| async move {
        use trellis_migration::{Migrator, MigratorTrait};
        let f = Fixture::create(&store).await;
        let gp = Fixture::actor(&f.gp);
        let first = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap().referral.state.id;
        let second =
            store.submit_referral(f.referral("4010232137"), None, &gp, Utc::now()).await.unwrap().referral.state.id;
        // Back to the schema before snapshots, where the shared people row was what every reader saw...
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        let snapshot = names.iter().position(|n| n == "m20261126_000001_snapshot_referral_demographics").unwrap();
        let steps = u32::try_from(names.len() - snapshot).unwrap();
        Migrator::down(store.connection(), Some(steps)).await.unwrap();
        store.connection().execute_unprepared("UPDATE people SET given_name = 'Margery', phone = NULL").await.unwrap();
        // ...and forward again: each referral keeps what its readers saw on the day of the migration.
        Migrator::up(store.connection(), None).await.unwrap();
        for id in [first, second] {
            let r = store.referral(&gp, id, Utc::now()).await.unwrap();
            assert_eq!((r.person.details.given_name.as_str(), r.person.details.phone.clone()), ("Margery", None));
            assert_eq!(r.person.details.family_name, "Hughes");
        }
        let found = store
            .referrals(&gp, &filter(ReferralScope::ReferredBy(f.practice.id), Some("margery")), Utc::now())
            .await
            .unwrap();
        assert_eq!(found.len(), 2);
    }
);

both_databases!(
    an_offer_made_while_the_referral_closes_is_refused_or_ended_never_left_open,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let gp = Fixture::actor(&f.gp);
        let lw = Fixture::actor(&f.link_worker);
        for _ in 0..12 {
            let id = store.submit_referral(f.referral(NHS), None, &gp, Utc::now()).await.unwrap().referral.state.id;
            store
                .transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, &lw, Utc::now())
                .await
                .unwrap();
            let close = ReferralCommand::Close { reason: ClosureReason::MovedAway, note: None };
            let (closed, offered) = tokio::join!(
                store.transition_referral(id, 2, close, &lw, Utc::now()),
                store.make_offer(OfferRequest::new(id, f.walking_group.id, timers()), &lw, Utc::now()),
            );
            closed.unwrap();
            if let Err(e) = &offered {
                assert!(matches!(e, StoreError::Domain(DomainError::InvalidTransition { .. })), "{e:?}");
            }
            for offer in store.offers_for_referral(&lw, id).await.unwrap() {
                assert_eq!(offer.state.status, OfferStatus::Withdrawn, "no offer of a closed referral is left open");
            }
        }
    }
);
