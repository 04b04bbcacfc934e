//! Provider links on SQLite and PostgreSQL: how long a link to an offer works after acceptance, to whom
//! it shows the person's contact details, and who may change the address offers (and their links) are
//! emailed to.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use trellis_domain::offer::OfferCommand;
use trellis_domain::referral::ReferralCommand;
use trellis_domain::values::EmailAddress;
use trellis_domain::{DomainError, Role};
use trellis_domain::{OfferId, ReferralId};
use trellis_store::audit::AuditFilter;
use trellis_store::both_databases;
use trellis_store::directory::ServiceChanges;
use trellis_store::links::{LinkAction, LinkError, LinkedOffer};
use trellis_store::links::{LinkKind, LinkScope};
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::outbox::OutboxJob;
use trellis_store::testing::Fixture;
use trellis_store::{Store, StoreError};

const NHS: [&str; 2] = ["9434765919", "4010232137"];

/// An offer of a contacted referral to the walking group, with a link good for 14 days from `now`.
async fn linked_offer(store: &Store, f: &Fixture, nhs: &str, now: DateTime<Utc>) -> (OfferId, ReferralId, String) {
    let gp = Fixture::actor(&f.gp);
    let lw = Fixture::actor(&f.link_worker);
    let submitted = store.submit_referral(f.referral(nhs), None, &gp, now).await.unwrap();
    let referral = submitted.referral.state.id;
    let contact = ReferralCommand::RecordContact { note: None };
    store.transition_referral(referral, 1, contact, &lw, now).await.unwrap();
    let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };
    let offer = store.make_offer(OfferRequest::new(referral, f.walking_group.id, timers), &lw, now).await.unwrap();
    let token = store.mint_link(LinkScope::Offer(offer.state.id), now + Duration::days(14), now).await.unwrap();
    (offer.state.id, referral, token)
}

fn applied(action: Result<LinkAction, LinkError>) -> LinkedOffer {
    match action {
        Ok(LinkAction::Applied(linked)) => linked,
        other => panic!("not applied: {other:?}"),
    }
}

async fn contact_reads(store: &Store, referral: ReferralId) -> usize {
    let filter = AuditFilter { referral: Some(referral), limit: 100, ..Default::default() };
    store.audit_log(&filter).await.unwrap().iter().filter(|e| e.action == "offer.contact_details_read").count()
}

both_databases!(a_link_stops_working_a_week_after_acceptance, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let (_, _, token) = linked_offer(&store, &f, NHS[0], now).await;
    let accepted = applied(store.act_on_offer_link(&token, OfferCommand::Accept, now).await);
    assert_eq!(accepted.expires_at, now + Duration::days(7), "the page says when it stops");

    let six_days = now + Duration::days(6);
    assert!(store.open_offer_link(&token, six_days).await.is_ok(), "still works within the week");
    let a_week = now + Duration::days(7) + Duration::seconds(1);
    assert!(matches!(store.open_offer_link(&token, a_week).await, Err(LinkError::Invalid)));
    let attended = store.act_on_offer_link(&token, OfferCommand::Start, a_week).await;
    assert!(matches!(attended, Err(LinkError::Invalid)), "nor can it act: {attended:?}");
});

both_databases!(a_link_accepted_near_its_expiry_still_stops_at_its_own_expiry, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let (_, _, token) = linked_offer(&store, &f, NHS[0], now).await;
    let late = now + Duration::days(13);
    let accepted = applied(store.act_on_offer_link(&token, OfferCommand::Accept, late).await);
    let off_by = accepted.expires_at - (now + Duration::days(14));
    assert!(off_by.num_milliseconds().abs() < 1, "whichever comes first: {}", accepted.expires_at);
    assert!(store.open_offer_link(&token, now + Duration::days(14) - Duration::seconds(1)).await.is_ok());
    let past = store.open_offer_link(&token, now + Duration::days(14)).await;
    assert!(matches!(past, Err(LinkError::Invalid)), "acceptance never lengthens a link: {past:?}");
});

both_databases!(a_link_stops_working_once_the_first_attendance_is_confirmed, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let (offer, _, token) = linked_offer(&store, &f, NHS[0], now).await;
    applied(store.act_on_offer_link(&token, OfferCommand::Accept, now).await);
    let started = applied(store.act_on_offer_link(&token, OfferCommand::Start, now).await);
    assert!(started.view.contact.is_none(), "the confirmation shows no contact details");

    let later = now + Duration::minutes(1);
    assert!(matches!(store.open_offer_link(&token, later).await, Err(LinkError::Invalid)));
    let again = store.act_on_offer_link(&token, OfferCommand::Start, later).await;
    assert!(matches!(again, Err(LinkError::Invalid)), "{again:?}");
    // A link minted later (say a retried email) for the same offer does not work either.
    let fresh = store.mint_link(LinkScope::Offer(offer), later + Duration::days(14), later).await.unwrap();
    assert!(matches!(store.open_offer_link(&fresh, later).await, Err(LinkError::Invalid)));
});

both_databases!(
    contact_details_are_shown_to_the_accepting_action_and_its_browser_for_minutes_only,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let now = Utc::now();
        let (_, referral, token) = linked_offer(&store, &f, NHS[0], now).await;
        let opened = store.open_offer_link(&token, now).await.unwrap();
        assert!(opened.view.contact.is_none() && opened.reveal.is_none(), "not before accepting");

        let accepted = applied(store.act_on_offer_link(&token, OfferCommand::Accept, now).await);
        assert!(accepted.view.contact.is_some(), "in answer to the acceptance");
        let grant = accepted.reveal.clone().expect("a grant for the accepting browser");
        assert_eq!(grant.expires_at, now + Duration::minutes(10));
        assert!(!format!("{accepted:?}").contains(&grant.token), "the grant never prints");
        assert_eq!(contact_reads(&store, referral).await, 1);

        let plain = store.open_offer_link(&token, now).await.unwrap();
        assert!(plain.view.contact.is_none(), "a plain opening shows the offer without them");
        let soon = now + Duration::minutes(9);
        let with_grant = store.open_offer_link_revealing(&token, Some(&grant.token), soon).await.unwrap();
        assert!(with_grant.view.contact.is_some(), "the accepting browser sees them again for a while");
        assert_eq!(contact_reads(&store, referral).await, 2, "each showing is audited");

        let lapsed = now + Duration::minutes(10);
        let late = store.open_offer_link_revealing(&token, Some(&grant.token), lapsed).await.unwrap();
        assert!(late.view.contact.is_none(), "not once the grant has lapsed");
        let guessed = format!("trv_{}", "0".repeat(64));
        let forged = store.open_offer_link_revealing(&token, Some(&guessed), soon).await.unwrap();
        assert!(forged.view.contact.is_none(), "not for a made-up grant");
        let again = store.act_on_offer_link(&token, OfferCommand::Accept, soon).await.unwrap();
        let LinkAction::AlreadyDecided(again) = again else { panic!("accepted twice") };
        assert!(again.view.contact.is_none() && again.reveal.is_none(), "a repeated acceptance reveals nothing");

        // The grant is bound to its link: it shows nothing of another offer, even one that was accepted.
        let (_, other_referral, other) = linked_offer(&store, &f, NHS[1], now).await;
        applied(store.act_on_offer_link(&other, OfferCommand::Accept, now).await);
        let elsewhere = store.open_offer_link_revealing(&other, Some(&grant.token), soon).await.unwrap();
        assert!(elsewhere.view.contact.is_none(), "a grant is not reusable for another offer");
        assert_eq!(contact_reads(&store, referral).await, 2);
        assert_eq!(contact_reads(&store, other_referral).await, 1);
    }
);

both_databases!(lapsed_reveal_grants_are_forgotten_and_live_ones_kept, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let (_, _, early) = linked_offer(&store, &f, NHS[0], now).await;
    let (_, _, late) = linked_offer(&store, &f, NHS[1], now).await;
    let early_grant = applied(store.act_on_offer_link(&early, OfferCommand::Accept, now).await).reveal.unwrap();
    let later = now + Duration::minutes(6);
    let late_grant = applied(store.act_on_offer_link(&late, OfferCommand::Accept, later).await).reveal.unwrap();

    assert_eq!(store.forget_lapsed_reveal_grants(now + Duration::minutes(9)).await.unwrap(), 0, "none lapsed yet");
    let at = now + Duration::minutes(12);
    assert_eq!(store.forget_lapsed_reveal_grants(at).await.unwrap(), 1, "the first acceptance's grant lapsed");
    let kept = store.open_offer_link_revealing(&late, Some(&late_grant.token), at).await.unwrap();
    assert!(kept.view.contact.is_some(), "a live grant still shows the details");
    let gone = store.open_offer_link_revealing(&early, Some(&early_grant.token), at).await.unwrap();
    assert!(gone.view.contact.is_none());
    assert_eq!(store.forget_lapsed_reveal_grants(at).await.unwrap(), 0, "forgetting again finds nothing");
    assert_eq!(store.forget_lapsed_reveal_grants(later + Duration::minutes(10)).await.unwrap(), 1);
});

both_databases!(a_provider_account_still_sees_the_contact_details_of_its_accepted_offers, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let (offer, _, token) = linked_offer(&store, &f, NHS[0], now).await;
    applied(store.act_on_offer_link(&token, OfferCommand::Accept, now).await);
    let provider = Fixture::actor(&f.provider_user);
    let view = store.provider_view(&provider, offer, now).await.unwrap();
    assert!(view.contact.is_some(), "an authenticated provider is not limited by the link's rules");
    let other: Result<_, StoreError> = store.provider_summary(&Fixture::actor(&f.gp), offer, now).await;
    assert!(matches!(other, Err(StoreError::NotFound)));
});

/// The audit entries (oldest first) and outbox emails about changes of a service's email, as
/// `(old, new, by)` and `(recipient, new)`.
async fn email_changes(store: &Store) -> (Vec<(Value, Value, Role)>, Vec<(String, Value)>) {
    let audit = store.audit_log(&AuditFilter { limit: 500, ..Default::default() }).await.unwrap();
    let audited = audit
        .iter()
        .rev()
        .filter(|e| e.action == "service.email_changed")
        .map(|e| {
            let d: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
            (d["old"].clone(), d["new"].clone(), e.actor.role)
        })
        .collect();
    let told = store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.job {
            OutboxJob::ServiceEmailChanged { new, .. } => Some((e.recipient, serde_json::json!(new))),
            _ => None,
        })
        .collect();
    (audited, told)
}

fn email_change(address: &str) -> ServiceChanges {
    ServiceChanges { email: Some(Some(EmailAddress::parse(address).unwrap())), ..Default::default() }
}

both_databases!(
    a_network_lead_cannot_change_where_a_services_offers_go_but_an_admin_and_the_provider_can,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let now = Utc::now();
        let service = f.walking_group.id;
        let original = store.service(service).await.unwrap().email;
        let lead = Fixture::actor(&f.network_lead);

        let refused = store
            .update_service(
                &lead,
                service,
                version_of(&store, service).await,
                email_change("lead@elsewhere.example"),
                now,
            )
            .await;
        assert!(matches!(refused, Err(StoreError::Domain(DomainError::Forbidden { .. }))), "{refused:?}");
        let mixed = ServiceChanges { name: Some("Renamed".into()), ..email_change("lead@elsewhere.example") };
        let refused = store.update_service(&lead, service, version_of(&store, service).await, mixed, now).await;
        assert!(matches!(refused, Err(StoreError::Domain(DomainError::Forbidden { .. }))), "not with other changes");
        let same = ServiceChanges {
            email: Some(original.as_deref().map(|e| EmailAddress::parse(e).unwrap())),
            ..Default::default()
        };
        store
            .update_service(&lead, service, version_of(&store, service).await, same, now)
            .await
            .expect("the same address is no change");
        let renamed = ServiceChanges { name: Some("Long Eaton Walks".into()), ..Default::default() };
        store
            .update_service(&lead, service, version_of(&store, service).await, renamed, now)
            .await
            .expect("the lead still manages the rest");
        assert_eq!(store.service(service).await.unwrap().email, original, "unchanged");
        assert_eq!(email_changes(&store).await, (vec![], vec![]), "nothing audited or told");

        let admin = Fixture::actor(&f.admin);
        store
            .update_service(
                &admin,
                service,
                version_of(&store, service).await,
                email_change("fixed@greenspring.example"),
                now,
            )
            .await
            .unwrap();
        let provider = Fixture::actor(&f.provider_user);
        store
            .update_service(
                &provider,
                service,
                version_of(&store, service).await,
                email_change("walks2@greenspring.example"),
                now,
            )
            .await
            .unwrap();
        let renamed_by_admin = ServiceChanges { name: Some("Admin's name".into()), ..Default::default() };
        let refused =
            store.update_service(&admin, service, version_of(&store, service).await, renamed_by_admin, now).await;
        assert!(matches!(refused, Err(StoreError::Domain(DomainError::Forbidden { .. }))), "only the email");

        let (audited, told) = email_changes(&store).await;
        let old = original.clone().map(Value::from).unwrap_or(Value::Null);
        assert_eq!(
            audited,
            vec![
                (old, json!("fixed@greenspring.example"), Role::Admin),
                (json!("fixed@greenspring.example"), json!("walks2@greenspring.example"), Role::Provider),
            ],
            "each change audited with the old and new address"
        );
        let first_told = original.unwrap_or_else(|| f.provider.email.clone().unwrap());
        assert_eq!(
            told,
            vec![
                (first_told, json!("fixed@greenspring.example")),
                ("fixed@greenspring.example".to_owned(), json!("walks2@greenspring.example")),
            ],
            "the old address is told each time"
        );
    }
);

both_databases!(the_provider_changes_its_services_email_through_its_capacity_link, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let service = f.walking_group.id;
    let original = store.service(service).await.unwrap().email;
    let token = store.mint_link(LinkScope::Service(service), now + Duration::days(14), now).await.unwrap();
    let new = EmailAddress::parse("groups@greenspring.example").unwrap();

    assert!(store.change_service_email_via_link(&token, &new, now).await.unwrap());
    assert!(!store.change_service_email_via_link(&token, &new, now).await.unwrap(), "the same again changes nothing");
    assert_eq!(store.service(service).await.unwrap().email.as_deref(), Some(new.as_str()));
    let linked = store.open_service_link(&token, now).await.unwrap();
    assert_eq!(linked.offers_email.as_deref(), Some("groups@greenspring.example"));
    let (audited, told) = email_changes(&store).await;
    assert_eq!(audited.len(), 1);
    assert_eq!((audited[0].1.clone(), audited[0].2), (json!("groups@greenspring.example"), Role::Provider));
    assert_eq!(told.len(), 1);
    assert_eq!(Some(told[0].0.clone()), original.or_else(|| f.provider.email.clone()));

    let expired = store
        .mint_link(LinkScope::Service(service), now - Duration::minutes(1), now - Duration::days(15))
        .await
        .unwrap();
    let other = EmailAddress::parse("thief@elsewhere.example").unwrap();
    assert!(matches!(store.change_service_email_via_link(&expired, &other, now).await, Err(LinkError::Invalid)));
});

/// The service's version as it stands: each change below is made from a fresh read.
async fn version_of(store: &Store, service: trellis_domain::ServiceId) -> u32 {
    store.service(service).await.unwrap().version
}

both_databases!(a_link_to_an_offer_or_a_service_that_does_not_exist_is_not_minted, |store: Store| async move {
    let f = Fixture::create(&store).await;
    let now = Utc::now();
    let nowhere = [
        (LinkScope::Offer(OfferId(uuid::Uuid::now_v7())), "offer"),
        (LinkScope::Service(trellis_domain::ServiceId(uuid::Uuid::now_v7())), "service"),
    ];
    for (scope, named) in nowhere {
        let minted = store.mint_link(scope, now + Duration::days(14), now).await;
        assert!(matches!(minted, Err(StoreError::UnknownReference(n)) if n == named), "{scope:?}: {minted:?}");
    }
    let (_, _, token) = linked_offer(&store, &f, NHS[0], now).await;
    assert!(token.starts_with(LinkKind::Offer.token_prefix()));
    let service = store.mint_link(LinkScope::Service(f.walking_group.id), now + Duration::days(14), now).await.unwrap();
    assert!(service.starts_with(LinkKind::Service.token_prefix()));
    assert!(
        matches!(store.open_offer_link(&service, now).await, Err(LinkError::Invalid)),
        "a capacity link opens no offer"
    );
    assert!(
        matches!(store.open_service_link(&token, now).await, Err(LinkError::Invalid)),
        "an offer link opens no capacity page"
    );
});
