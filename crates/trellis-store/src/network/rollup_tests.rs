//! The offer rollups and the impact reports' rollups equal a full recount after a random workload:
//! referrals made (with varied needs, sex and ethnic category), contacted, measured and closed; offers
//! made, answered, waitlisted, started, finished, ended early, withdrawn, passed on, ended by closing
//! their referral and expired by the timer, at times spread over weeks.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, DurationRound, NaiveDate};
use trellis_domain::offer::{DeclineReason, OfferCommand};
use trellis_domain::referral::{ClosureReason, ReferralCommand};
use trellis_domain::values::NhsNumber;
use trellis_domain::{Actor, OfferId, ReferralId};
use uuid::Uuid;

use chrono::Datelike;
use trellis_domain::report::{EthnicCategory, Sex};
use trellis_domain::values::Need;
use trellis_domain::wellbeing::InstrumentCode;

use super::*;
use crate::offers::{OfferRequest, OfferTimers};
use crate::testing::{Fixture, plain_service};
use crate::wellbeing::NewMeasure;

/// SplitMix64: a seeded, reproducible stream of choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn nhs(i: u32) -> String {
    (i * 10..i * 10 + 10)
        .flat_map(|stem| (0..10).map(move |c| format!("9993{stem:05}{c}")))
        .find(|n| NhsNumber::parse(n).is_ok())
        .unwrap()
}

/// One rollup row's key: day, service, provider, source, link worker service, onward, status, decline
/// reason, whole hours to the first answer (-1: none).
type Key = (NaiveDate, Uuid, Uuid, Uuid, Uuid, i32, String, String, i32);

/// The rollups, as stored (rows that fell to 0 left out).
async fn rollups(store: &Store) -> HashMap<Key, i64> {
    let rows = store
        .rows(
            "SELECT day, service_id, to_organisation_id, from_organisation_id, link_worker_service_id, onward, \
             status, decline_reason, response_hours, offers FROM offer_rollups",
            vec![],
        )
        .await
        .unwrap();
    let mut out = HashMap::new();
    for r in rows {
        let n: i64 = r.try_get_by_index(9).unwrap();
        if n != 0 {
            let key = (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
                r.try_get_by_index(3).unwrap(),
                r.try_get_by_index(4).unwrap(),
                r.try_get_by_index(5).unwrap(),
                r.try_get_by_index(6).unwrap(),
                r.try_get_by_index(7).unwrap(),
                r.try_get_by_index(8).unwrap(),
            );
            assert!(out.insert(key, n).is_none());
        }
    }
    out
}

/// Every offer counted again from the `offers` table, the key worked out in Rust.
async fn recount(store: &Store) -> HashMap<Key, i64> {
    let rows = store
        .rows(
            "SELECT o.created_at, o.service_id, o.provider_organisation_id, o.link_worker_service_id, \
             p.provider_organisation_id, o.status, o.decline_reason, o.first_answered_at \
             FROM offers o LEFT JOIN offers p ON p.id = o.part_of_offer_id",
            vec![],
        )
        .await
        .unwrap();
    let mut out = HashMap::new();
    for r in rows {
        let created: DateTime<Utc> = r.try_get_by_index(0).unwrap();
        let parent: Option<Uuid> = r.try_get_by_index(4).unwrap();
        let lws: Uuid = r.try_get_by_index(3).unwrap();
        let answered: Option<DateTime<Utc>> = r.try_get_by_index(7).unwrap();
        let reason: Option<String> = r.try_get_by_index(6).unwrap();
        let key = (
            created.date_naive(),
            r.try_get_by_index(1).unwrap(),
            r.try_get_by_index(2).unwrap(),
            parent.unwrap_or(lws),
            lws,
            i32::from(parent.is_some()),
            r.try_get_by_index(5).unwrap(),
            reason.unwrap_or_default(),
            answered.map_or(-1, |a| i32::try_from((a - created).num_seconds().div_euclid(3600)).unwrap()),
        );
        *out.entry(key).or_default() += 1;
    }
    out
}

/// What the network view should say of each service for the days `from` to `until`, from the recount.
fn expected_stats(counted: &HashMap<Key, i64>, from: NaiveDate, until: NaiveDate) -> HashMap<Uuid, OfferStats> {
    let mut stats: HashMap<Uuid, OfferStats> = HashMap::new();
    let mut hours: HashMap<Uuid, BTreeMap<i32, i64>> = HashMap::new();
    let mut reasons: HashMap<Uuid, BTreeMap<String, i64>> = HashMap::new();
    for ((day, service, _, _, _, _, status, reason, h), n) in counted {
        if *day < from || *day > until {
            continue;
        }
        let s = stats.entry(*service).or_default();
        s.offered += n;
        match status.as_str() {
            "offered" | "waitlisted" => s.open += n,
            "accepted" | "started" | "finished" | "ended_early" => s.accepted += n,
            "declined" => {
                s.declined += n;
                let reason = if reason.is_empty() { "other" } else { reason };
                *reasons.entry(*service).or_default().entry(reason.to_owned()).or_default() += n;
            }
            "expired" => s.expired += n,
            _ => {}
        }
        if *h >= 0 {
            *hours.entry(*service).or_default().entry(*h).or_default() += n;
        }
    }
    for (service, s) in &mut stats {
        s.median_response_hours = hours.get(service).and_then(median_hours);
        s.decline_reasons = reasons
            .get(service)
            .map(|r| {
                r.iter()
                    .map(|(reason, count)| DeclineCount {
                        reason: DeclineReason::parse(reason).unwrap(),
                        count: *count,
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    stats
}

/// A rollup row's key: span, need, bucket, figure, key, num.
type ReportKey = (String, String, NaiveDate, String, String, i32);

/// The reports' sums, as stored (rows that fell to 0 left out).
async fn report_rollups(store: &Store) -> HashMap<ReportKey, i64> {
    let sql = "SELECT span, need, bucket, figure, key, num, n FROM report_rollups WHERE n <> 0";
    let mut out = HashMap::new();
    for r in store.rows(sql, vec![]).await.unwrap() {
        let key = (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
            r.try_get_by_index(2).unwrap(),
            r.try_get_by_index(3).unwrap(),
            r.try_get_by_index(4).unwrap(),
            r.try_get_by_index(5).unwrap(),
        );
        assert!(out.insert(key, r.try_get_by_index(6).unwrap()).is_none());
    }
    out
}

/// Figures with every list in one order, to compare two readings.
fn sorted_figures(mut f: trellis_domain::report::Figures) -> String {
    f.by_source.sort_by_key(|(s, _)| s.id);
    f.by_need.sort();
    f.by_month.sort();
    f.by_status.sort();
    f.providers.sort_by_key(|p| p.provider.id);
    for p in &mut f.providers {
        p.by_status.sort();
    }
    f.decline_reasons.sort();
    f.closures.by_reason.sort();
    f.by_age.sort();
    f.by_sex.sort();
    f.by_ethnic_category.sort();
    f.wellbeing.sort_by_key(|w| (w.instrument, w.score));
    format!("{f:#?}")
}

async fn version_of(store: &Store, table: &str, id: Uuid) -> u32 {
    let rows = store.rows(&format!("SELECT version FROM {table} WHERE id = ?"), vec![Value::from(id)]).await.unwrap();
    let v: i64 = rows[0].try_get_by_index(0).unwrap();
    u32::try_from(v).unwrap()
}

async fn offer_row(store: &Store, id: Uuid) -> (Uuid, Uuid, String) {
    let rows = store
        .rows("SELECT referral_id, provider_organisation_id, status FROM offers WHERE id = ?", vec![Value::from(id)])
        .await
        .unwrap();
    (rows[0].try_get_by_index(0).unwrap(), rows[0].try_get_by_index(1).unwrap(), rows[0].try_get_by_index(2).unwrap())
}

crate::both_databases!(
    the_offer_and_report_rollups_equal_a_full_recount_after_a_random_workload,
    |store: Store| async move {
        let f = Fixture::create(&store).await;
        let mut choose = Choices(0x0ff3_2026);
        // Whole seconds, so both databases' arithmetic on times is exact.
        let mut now = (Utc::now() - Duration::days(30)).duration_trunc(Duration::seconds(1)).unwrap();
        let choir_org = store
            .create_organisation(
                crate::accounts::NewOrganisation {
                    gp_message_at_first_contact: false,
                    mesh_mailbox: None,
                    kind: OrganisationKind::Provider,
                    name: "Towpath Voices".into(),
                    ods_code: None,
                    email: Some(trellis_domain::values::EmailAddress::parse("sing@towpath.example").unwrap()),
                    link_worker_service: None,
                },
                now,
            )
            .await
            .unwrap();
        let choir = store
            .create_service(plain_service(choir_org.id, "Men's Choir", "Singing", "arts_and_culture"), now)
            .await
            .unwrap();
        let garden = store
            .create_service(plain_service(f.provider.id, "Allotment Club", "Growing", "nature_and_green"), now)
            .await
            .unwrap();
        let services = [f.walking_group.id, choir.id, garden.id];
        let workers = [
            (Fixture::actor(&f.gp), Fixture::actor(&f.link_worker)),
            (Fixture::actor(&f.other_gp), Fixture::actor(&f.other_link_worker)),
        ];
        let mut referrals: Vec<(ReferralId, Actor)> = vec![];
        let mut offers: Vec<OfferId> = vec![];
        let mut n_people = 0;
        // Offers still moving are the last few made: most answers come soon after the offer.
        let recent = |offers: &Vec<OfferId>, choose: &mut Choices| {
            let from = offers.len().saturating_sub(6);
            offers[from + choose.below(offers.len() - from)]
        };
        let needs = [Need::Loneliness, Need::Debt, Need::LowMood];
        let sexes = [None, Some(Sex::Female), Some(Sex::Male)];
        let ethnic = [None, Some(EthnicCategory::WhiteBritish), Some(EthnicCategory::BlackAfrican)];
        for _ in 0..300 {
            now += Duration::seconds(i64::try_from(choose.next() % (4 * 3600)).unwrap());
            let hours = 2 + i64::try_from(choose.next() % 200).unwrap();
            let timers = OfferTimers { expires_at: now + Duration::hours(hours), remind_at: None };
            match choose.below(17) {
                0..=2 => {
                    let (gp, lw) = &workers[choose.below(2)];
                    n_people += 1;
                    let mut new = f.referral(&nhs(n_people));
                    new.needs = vec![needs[choose.below(3)]];
                    if choose.below(2) == 0 {
                        new.needs.push(Need::PhysicalActivity);
                    }
                    (new.person.sex, new.person.ethnic_category) = (sexes[choose.below(3)], ethnic[choose.below(3)]);
                    let id = store.submit_referral(new, None, gp, now).await.unwrap().referral.state.id;
                    // Most are contacted at once, some hours later (or never, and fall due).
                    if choose.below(4) > 0 {
                        let at = now + Duration::hours(i64::try_from(choose.below(200)).unwrap());
                        store
                            .transition_referral(id, 1, ReferralCommand::RecordContact { note: None }, lw, at)
                            .await
                            .unwrap();
                    }
                    referrals.push((id, *lw));
                }
                15 | 16 if !referrals.is_empty() => {
                    let (referral, lw) = referrals[choose.below(referrals.len())];
                    let version = version_of(&store, "referrals", referral.0).await;
                    let (instrument, answers) = if choose.below(2) == 0 {
                        (InstrumentCode::Swemwbs, vec![Some(i64::try_from(1 + choose.below(5)).unwrap()); 7])
                    } else {
                        (InstrumentCode::Ons4, vec![Some(i64::try_from(choose.below(11)).unwrap()); 4])
                    };
                    let measure = NewMeasure { instrument, answers, taken_at: now };
                    let _ = store.record_measure(referral, version, measure, &lw, now).await;
                }
                3..=5 if !referrals.is_empty() => {
                    let (referral, lw) = &referrals[choose.below(referrals.len())];
                    let version = version_of(&store, "referrals", referral.0).await;
                    let service = services[choose.below(services.len())];
                    let request = OfferRequest::new(*referral, service, timers).at_version(version);
                    if let Ok(offer) = store.make_offer(request, lw, now).await {
                        offers.push(offer.state.id);
                    }
                }
                6..=11 if !offers.is_empty() => {
                    let offer = recent(&offers, &mut choose);
                    let (referral, provider, status) = offer_row(&store, offer.0).await;
                    let version = version_of(&store, "offers", offer.0).await;
                    let reason =
                        [DeclineReason::AtCapacity, DeclineReason::NotEligible, DeclineReason::Other][choose.below(3)];
                    let all = [
                        OfferCommand::Accept,
                        OfferCommand::Decline { reason, note: None },
                        OfferCommand::Waitlist,
                        OfferCommand::Start,
                        OfferCommand::Finish,
                        OfferCommand::EndEarly { note: None },
                        OfferCommand::Withdraw { note: None },
                    ];
                    // Mostly a move the offer's state allows; sometimes any, which must change nothing.
                    let likely: &[usize] = match status.as_str() {
                        "offered" => &[0, 0, 1, 2, 6],
                        "waitlisted" => &[0, 1, 6],
                        "accepted" => &[3, 3, 6],
                        "started" => &[4, 5],
                        _ => &[0, 1, 2, 3, 4, 5, 6],
                    };
                    let command = if choose.below(5) == 0 {
                        all[choose.below(7)].clone()
                    } else {
                        all[likely[choose.below(likely.len())]].clone()
                    };
                    let actor = if matches!(command, OfferCommand::Withdraw { .. }) {
                        referrals.iter().find(|(r, _)| r.0 == referral).unwrap().1
                    } else {
                        Actor::provider_link(trellis_domain::OrganisationId(provider))
                    };
                    // A move the lifecycle refuses changes nothing, in the offer or its rollup.
                    let _ = store.transition_offer(offer, version, command, &actor, now).await;
                }
                12 => {
                    let accepted = store.rows("SELECT id FROM offers WHERE status = 'accepted'", vec![]).await.unwrap();
                    if !accepted.is_empty() {
                        let parent = OfferId(accepted[choose.below(accepted.len())].try_get_by_index(0).unwrap());
                        let (referral, provider, _) = offer_row(&store, parent.0).await;
                        let service = services[choose.below(services.len())];
                        let request = OfferRequest::new(ReferralId(referral), service, timers).onward_from(parent);
                        let actor = Actor::provider_link(trellis_domain::OrganisationId(provider));
                        if let Ok(offer) = store.make_offer(request, &actor, now).await {
                            offers.push(offer.state.id);
                        }
                    }
                }
                13 if !referrals.is_empty() => {
                    let (referral, lw) = referrals[choose.below(referrals.len())];
                    let version = version_of(&store, "referrals", referral.0).await;
                    let reason = [ClosureReason::NotAppropriate, ClosureReason::MovedAway][choose.below(2)];
                    let _ = store.close_referral(referral, version, reason, None, None, &lw, now).await;
                }
                _ => {
                    store.expire_due_offers(now, 100).await.unwrap();
                }
            }
        }
        let counted = recount(&store).await;
        assert!(counted.len() > 20, "the workload made a variety of offers: {counted:?}");
        let statuses: std::collections::HashSet<&str> = counted.keys().map(|k| k.6.as_str()).collect();
        assert!(statuses.len() >= 6, "{statuses:?}");
        assert!(counted.keys().any(|k| k.5 == 1), "some offers were passed on");
        assert_eq!(rollups(&store).await, counted);

        // The network view reads the same figures: both link worker services, every provider, one page.
        let area = NetworkArea { link_worker_services: vec![f.service.id, f.other_service.id] };
        let until = now.date_naive();
        for from in [until - Duration::days(40), until - Duration::days(9)] {
            let filter = NetworkFilter { from, until, category: None };
            let page = store.network_page(&area, &filter, NetworkPageRequest { first: 10, after: None }).await.unwrap();
            let expected = expected_stats(&counted, from, until);
            for service in &page.graph.services {
                let want = expected.get(&service.id.0).cloned().unwrap_or_default();
                assert_eq!(service.stats, want, "{} from {from}", service.name);
            }
            let flows: i64 = page.graph.flows.iter().map(|f| f.count).sum();
            let want: i64 = page.graph.services.iter().filter_map(|s| expected.get(&s.id.0)).map(|s| s.offered).sum();
            assert_eq!(flows, want, "every offer of the period into the page's providers is in one flow");
            assert!(want > 0, "the period holds offers");
        }

        // The reports' sums, kept by the triggers, equal the sums of fact rows derived afresh from the
        // base tables; and a report reads the same figures from the sums as from the fact rows.
        let kept = report_rollups(&store).await;
        assert!(kept.keys().any(|k| k.0 == "m") && kept.keys().any(|k| k.1 == "debt"), "{kept:?}");
        let figures: std::collections::HashSet<&str> = kept.keys().map(|k| k.3.as_str()).collect();
        assert!(figures.len() >= 15, "the workload reached every figure but waiting: {figures:?}");
        store.rebuild_report_rollups().await.unwrap();
        assert_eq!(report_rollups(&store).await, kept);
        let today = now.date_naive();
        let month_start = today.with_day(1).unwrap();
        let periods = [
            (today - Duration::days(40), today),
            (month_start - Duration::days(1), today),
            (month_start, today),
            (today - Duration::days(5), today - Duration::days(2)),
        ];
        for (from, to) in periods {
            let period = trellis_domain::report::Period::new(from, to).unwrap();
            for need in [None, Some(Need::Debt), Some(Need::PhysicalActivity)] {
                let filters = trellis_domain::report::ReportFilters { need, ..Default::default() };
                let sums = store.figures_from(period, &filters, now, false).await.unwrap();
                let facts = store.figures_from(period, &filters, now, true).await.unwrap();
                assert_eq!(sorted_figures(sums), sorted_figures(facts), "{from} to {to}, {need:?}");
            }
        }
    }
);
