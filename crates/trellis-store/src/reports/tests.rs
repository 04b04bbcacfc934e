#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Datelike, Duration, DurationRound, NaiveDate, Utc};
use trellis_domain::offer::{DeclineReason, OfferCommand, OfferStatus};
use trellis_domain::referral::{ClosureReason, ReferralCommand, ReferralStatus};
use trellis_domain::report::equity::age_on;
use trellis_domain::report::figures::{Source, Spread, WellbeingFigures};
use trellis_domain::report::{EthnicCategory, Figures, Period, ReportFilters, Sex};
use trellis_domain::values::{Need, NhsNumber};
use trellis_domain::wellbeing::{Instrument, InstrumentCode};
use trellis_domain::{Actor, ReferralId};

use crate::offers::{OfferRequest, OfferTimers};
use crate::testing::Fixture;
use crate::wellbeing::NewMeasure;
use crate::{Store, StoreError};

fn nhs(i: u32) -> String {
    (i * 10..i * 10 + 10)
        .flat_map(|stem| (0..10).map(move |c| format!("9993{stem:05}{c}")))
        .find(|n| NhsNumber::parse(n).is_ok())
        .unwrap()
}

fn sorted<K: Ord + Clone>(mut v: Vec<(K, u64)>) -> Vec<(K, u64)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

async fn version(store: &Store, lw: &Actor, id: ReferralId) -> u32 {
    store.referral(lw, id, Utc::now()).await.unwrap().state.version
}

// Eight referrals: six from the practice (two 35 days ago, four 2 days ago), two from the other
// practice. Contact, offers, attendance, closures, measures and equity fields as each comment says.
crate::both_databases!(
    a_hand_built_locality_is_counted_in_the_database_with_each_filter_narrowing_it,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
        let (early, late) = (now - Duration::days(35), now - Duration::days(2));
        let gp = Fixture::actor(&f.gp);
        let other_gp = Fixture::actor(&f.other_gp);
        let lw = Fixture::actor(&f.link_worker);
        let provider = Actor::provider_link(f.provider.id);
        let timers = OfferTimers { expires_at: now + Duration::days(14), remind_at: None };

        let mut ids = vec![];
        for i in 0..8u32 {
            let mut new = f.referral(&nhs(i));
            let (actor, at) = match i {
                0 | 1 => (&gp, early),
                6 | 7 => (&other_gp, late),
                _ => (&gp, late),
            };
            new.consent.as_mut().unwrap().recorded_at = at - Duration::days(1);
            match i {
                0 => {
                    (new.person.sex, new.person.ethnic_category) =
                        (Some(Sex::Female), Some(EthnicCategory::WhiteBritish))
                }
                1 => {
                    (new.person.sex, new.person.ethnic_category) = (Some(Sex::Male), Some(EthnicCategory::AsianIndian))
                }
                2 => new.person.date_of_birth = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                3 => new.needs = vec![Need::Debt],
                _ => {}
            }
            ids.push(store.submit_referral(new, None, actor, at).await.unwrap().referral.state.id);
        }
        let contact = |id, at| {
            let store = store.clone();
            async move {
                let v = version(&store, &lw, id).await;
                store.transition_referral(id, v, ReferralCommand::RecordContact { note: None }, &lw, at).await.unwrap();
            }
        };
        let offer = |id, at| {
            let store = store.clone();
            let service = f.walking_group.id;
            async move {
                let v = version(&store, &lw, id).await;
                store.make_offer(OfferRequest::new(id, service, timers).at_version(v), &lw, at).await.unwrap().state.id
            }
        };
        // 0: contacted after a day; offered, accepted after 2 hours, attended.
        contact(ids[0], early + Duration::days(1)).await;
        let o0 = offer(ids[0], early + Duration::days(2)).await;
        store
            .transition_offer(o0, 1, OfferCommand::Accept, &provider, early + Duration::days(2) + Duration::hours(2))
            .await
            .unwrap();
        store.transition_offer(o0, 2, OfferCommand::Start, &provider, early + Duration::days(5)).await.unwrap();
        // 1: contacted after ten days (late); offered, declined after 4 hours.
        contact(ids[1], early + Duration::days(10)).await;
        let o1 = offer(ids[1], early + Duration::days(11)).await;
        let decline = OfferCommand::Decline { reason: DeclineReason::AtCapacity, note: None };
        store
            .transition_offer(o1, 1, decline, &provider, early + Duration::days(11) + Duration::hours(4))
            .await
            .unwrap();
        // 2: contacted after a day; offered, accepted after 6 hours, not yet attended.
        contact(ids[2], late + Duration::days(1)).await;
        let o2 = offer(ids[2], late + Duration::days(1)).await;
        store
            .transition_offer(o2, 1, OfferCommand::Accept, &provider, late + Duration::days(1) + Duration::hours(6))
            .await
            .unwrap();
        // 3: closed unreached. 4, 6, 7: referred, not yet due.
        let v = version(&store, &lw, ids[3]).await;
        store
            .close_referral(ids[3], v, ClosureReason::UnableToContact, None, None, &lw, late + Duration::hours(1))
            .await
            .unwrap();
        // 5: contacted after a day, measured twice with both instruments, closed as completed.
        contact(ids[5], late + Duration::days(1)).await;
        let measures = [
            (InstrumentCode::Swemwbs, vec![Some(2); 7], 1),
            (InstrumentCode::Ons4, vec![Some(5), Some(5), Some(5), Some(5)], 2),
            (InstrumentCode::Swemwbs, vec![Some(4); 7], 3),
            (InstrumentCode::Ons4, vec![Some(7), Some(7), Some(7), Some(3)], 4),
        ];
        for (instrument, answers, hour) in measures {
            let v = version(&store, &lw, ids[5]).await;
            let taken_at = late + Duration::days(1) + Duration::hours(hour);
            let new = NewMeasure { instrument, answers, taken_at };
            store.record_measure(ids[5], v, new, &lw, taken_at).await.unwrap();
        }
        let v = version(&store, &lw, ids[5]).await;
        store
            .close_referral(
                ids[5],
                v,
                ClosureReason::Completed,
                None,
                None,
                &lw,
                late + Duration::days(1) + Duration::hours(5),
            )
            .await
            .unwrap();

        let period = Period::new((now - Duration::days(40)).date_naive(), now.date_naive()).unwrap();
        let all = store.report_figures(period, ReportFilters::default(), now).await.unwrap();
        let month = |t: chrono::DateTime<Utc>| (t.year(), t.month());
        let mut months = vec![(month(early), 2), (month(late), 6)];
        months.sort();
        let swemwbs =
            |a: u8| Instrument::current(InstrumentCode::Swemwbs).score(&[Some(a); 7]).unwrap().total.unwrap().metric;
        let age = |born: NaiveDate| age_on(born, late.date_naive());
        let mut ages = vec![
            (age(NaiveDate::from_ymd_opt(1948, 5, 17).unwrap()), 7),
            (age(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()), 1),
        ];
        ages.sort();
        let source = |o: &crate::accounts::Organisation, n| {
            (Source { id: o.id, name: o.name.clone(), ods_code: o.ods_code.clone() }, n)
        };
        let mut by_source = vec![source(&f.practice, 6), source(&f.other_practice, 2)];
        by_source.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let mut got_sources = all.by_source.clone();
        got_sources.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        assert_eq!(got_sources, by_source);
        assert_eq!(
            sorted(all.by_need.clone()),
            sorted(vec![(Need::Loneliness, 7), (Need::PhysicalActivity, 7), (Need::Debt, 1)])
        );
        assert_eq!(sorted(all.by_month.clone()), months);
        assert_eq!(
            sorted(all.by_status.clone()),
            [
                (ReferralStatus::Referred, 3),
                (ReferralStatus::Contacted, 2),
                (ReferralStatus::Attending, 1),
                (ReferralStatus::Closed, 2)
            ]
        );
        // Days to first contact: 1, 10, 1, 1; four contacted, three of them by the due date.
        assert_eq!(all.contact.due, 4);
        assert_eq!(all.contact.on_time, 3);
        assert_eq!(all.contact.days.values, 4);
        assert!((all.contact.days.median.unwrap() - 1.0).abs() < 1e-6, "{:?}", all.contact);
        assert!((all.contact.days.p90.unwrap() - 10.0).abs() < 1e-6, "{:?}", all.contact);
        // Offers: started, declined and accepted; answered after 2, 4 and 6 hours.
        assert_eq!(all.providers.len(), 1);
        let p = &all.providers[0];
        assert_eq!((p.provider.id, p.provider.name.as_str()), (f.provider.id, f.provider.name.as_str()));
        assert_eq!(
            sorted(p.by_status.clone()),
            [(OfferStatus::Accepted, 1), (OfferStatus::Declined, 1), (OfferStatus::Started, 1)]
        );
        let hours = |s: Spread| {
            (s.values, s.median.map(|h| (h * 1000.0).round() / 1000.0), s.p90.map(|h| (h * 1000.0).round() / 1000.0))
        };
        assert_eq!(hours(p.hours_to_answer), (3, Some(4.0), Some(6.0)));
        assert_eq!(hours(all.hours_to_answer), (3, Some(4.0), Some(6.0)));
        assert_eq!(all.decline_reasons, [(DeclineReason::AtCapacity, 1)]);
        assert_eq!((all.attendance.accepted, all.attendance.attended), (2, 1));
        assert_eq!(
            sorted(all.closures.by_reason.clone()),
            [(ClosureReason::Completed, 1), (ClosureReason::UnableToContact, 1)]
        );
        assert_eq!(all.closures.with_outcome_measure, 1);
        let mut wellbeing = all.wellbeing.clone();
        wellbeing.sort_by_key(|w| (w.instrument, w.score));
        let w =
            |instrument, score, change_sum| WellbeingFigures { instrument, score, people: 1, change_sum, improved: 1 };
        assert_eq!(
            wellbeing,
            [
                w(InstrumentCode::Ons4, "anxiety", -2.0),
                w(InstrumentCode::Ons4, "happiness", 2.0),
                w(InstrumentCode::Ons4, "life_satisfaction", 2.0),
                w(InstrumentCode::Ons4, "worthwhile", 2.0),
                w(InstrumentCode::Swemwbs, "total", ((swemwbs(4) - swemwbs(2)) * 100.0).round() / 100.0),
            ]
        );
        assert_eq!(sorted(all.by_age.clone()), ages);
        assert_eq!(sorted(all.by_sex.clone()), [(None, 6), (Some(Sex::Female), 1), (Some(Sex::Male), 1)]);
        assert_eq!(
            sorted(all.by_ethnic_category.clone()),
            [(None, 6), (Some(EthnicCategory::WhiteBritish), 1), (Some(EthnicCategory::AsianIndian), 1)]
        );

        let total = |f: &Figures| f.by_status.iter().map(|(_, n)| n).sum::<u64>();
        let with = |filters| store.report_figures(period, filters, now);
        let other = with(ReportFilters { practice: Some(f.other_practice.id), ..Default::default() }).await.unwrap();
        assert_eq!((total(&other), other.providers.len()), (2, 0));
        let worked =
            with(ReportFilters { link_worker_service: Some(f.service.id), ..Default::default() }).await.unwrap();
        assert_eq!(total(&worked), 6);
        let offered = with(ReportFilters { provider: Some(f.provider.id), ..Default::default() }).await.unwrap();
        assert_eq!((total(&offered), offered.attendance.accepted), (3, 2));
        let debt = with(ReportFilters { need: Some(Need::Debt), ..Default::default() }).await.unwrap();
        assert_eq!(debt.by_status, [(ReferralStatus::Closed, 1)]);
        let recent = Period::new((now - Duration::days(10)).date_naive(), now.date_naive()).unwrap();
        let recent = store.report_figures(recent, ReportFilters::default(), now).await.unwrap();
        assert_eq!((total(&recent), recent.contact.due, recent.decline_reasons.len()), (6, 2, 0));

        let wrong_kind = with(ReportFilters { practice: Some(f.service.id), ..Default::default() }).await;
        assert!(matches!(wrong_kind, Err(StoreError::UnknownReference("practice"))), "{wrong_kind:?}");
        let nobody = with(ReportFilters {
            provider: Some(trellis_domain::OrganisationId(uuid::Uuid::now_v7())),
            ..Default::default()
        })
        .await;
        assert!(matches!(nobody, Err(StoreError::UnknownReference("provider"))), "{nobody:?}");
    }
);
