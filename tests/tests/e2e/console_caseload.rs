//! The link worker's caseload in the console over HTTP, on both databases: its filters (status, need,
//! assigned to me, overdue) and search by name or NHS number, overdue first contacts marked in words,
//! 50 to a page with the filters kept across pages, and only the service's own referrals.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use trellis_domain::referral::{ClosureReason, ReferralCommand};
use trellis_domain::values::Need;
use trellis_store::referrals::{Consent, NewReferral, ReferralRecord};
use trellis_store::testing::Fixture;
use trellis_tests::TestApp;
use trellis_tests::console::sign_in;
use trellis_tests::link_pages::get;
use trellis_tests::maildev::MailDev;

/// The referrals a caseload page lists, by the links of its rows.
fn listed(body: &str) -> usize {
    body.matches("<td><a href=\"/referrals/").count()
}

fn lists(body: &str, r: &ReferralRecord) -> bool {
    body.contains(&format!("href=\"/referrals/{}\"", r.state.id))
}

fn named(f: &Fixture, nhs: &str, given: &str, family: &str, needs: Vec<Need>) -> NewReferral {
    let mut new = f.referral(nhs);
    new.person.given_name = given.into();
    new.person.family_name = family.into();
    new.needs = needs;
    new
}

on_both_databases!(
    the_caseload_filters_by_status_need_assignee_and_overdue_and_searches_by_name_or_nhs_number,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let f = &app.fixture;
        let gp = Fixture::actor(&f.gp);
        let worker = Fixture::actor(&f.link_worker);
        let now = Utc::now();
        // Submitted a month ago: first contact is overdue.
        let mut old = named(f, "9434765919", "Margaret", "Hughes", vec![Need::Loneliness]);
        old.consent = Some(Consent { recorded_by: "Dr Patel".into(), recorded_at: now - Duration::days(31) });
        let overdue = app.store.submit_referral(old, None, &gp, now - Duration::days(30)).await.unwrap().referral;
        let assigned = named(f, "9434765870", "Peter", "Jones", vec![Need::Debt]);
        let assigned = app.store.submit_referral(assigned, None, &gp, now).await.unwrap().referral;
        let to_me = ReferralCommand::Assign { to: f.link_worker.id };
        app.store.transition_referral(assigned.state.id, assigned.state.version, to_me, &worker, now).await.unwrap();
        let closed = named(f, "9434765870", "Rita", "Shah", vec![Need::Debt]);
        let closed = app.store.submit_referral(closed, None, &gp, now).await.unwrap().referral;
        let withdraw = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: None };
        app.store.transition_referral(closed.state.id, closed.state.version, withdraw, &gp, now).await.unwrap();
        let other_gp = Fixture::actor(&f.other_gp);
        let elsewhere =
            app.store.submit_referral(f.referral("9434765919"), None, &other_gp, now).await.unwrap().referral;

        let session = sign_in(&app, &maildev, &f.link_worker.email).await;
        let open = |query: &'static str| {
            let session = session.clone();
            let app = &app;
            async move {
                let page = get(app, &format!("/caseload{query}"), Some(&session)).await;
                assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
                page.text()
            }
        };

        // Open referrals by default; another service's referral never.
        let all_open = open("").await;
        assert!(lists(&all_open, &overdue) && lists(&all_open, &assigned), "{all_open}");
        assert!(!lists(&all_open, &closed), "closed referrals are not open");
        assert!(!lists(&all_open, &elsewhere), "another service's referral is not on this caseload");
        assert_eq!(listed(&all_open), 2);
        // The overdue first contact is marked in words, not colour alone.
        let row = &all_open[all_open.find(&overdue.state.id.to_string()).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(row.contains(">Overdue</span>") && row.contains("First contact was due by"), "{row}");
        assert!(
            !all_open[all_open.find(&assigned.state.id.to_string()).unwrap()..]
                .split("</tr>")
                .next()
                .unwrap()
                .contains("Overdue")
        );

        let only_overdue = open("?overdue=yes").await;
        assert!(lists(&only_overdue, &overdue) && listed(&only_overdue) == 1, "{only_overdue}");
        assert!(only_overdue.contains("id=\"overdue\" name=\"overdue\" value=\"yes\" checked"), "the filter is kept");
        let mine = open("?mine=yes").await;
        assert!(lists(&mine, &assigned) && listed(&mine) == 1, "{mine}");
        assert!(mine.contains("<td>You</td>"));
        let debt = open("?need=debt").await;
        assert!(lists(&debt, &assigned) && listed(&debt) == 1, "{debt}");
        assert!(debt.contains("<option value=\"debt\" selected>"), "the chosen need stays chosen");
        let by_name = open("?q=jones").await;
        assert!(lists(&by_name, &assigned) && listed(&by_name) == 1, "{by_name}");
        let by_number = open("?q=943+476+5919").await;
        assert!(lists(&by_number, &overdue) && listed(&by_number) == 1, "{by_number}");
        assert!(by_number.contains("value=\"943 476 5919\""), "the search is kept in its box");
        let only_closed = open("?status=closed").await;
        assert!(lists(&only_closed, &closed) && listed(&only_closed) == 1, "{only_closed}");
        assert!(only_closed.contains("Outcome: Withdrawn by the referrer"));
        assert_eq!(listed(&open("?status=all").await), 3);
        assert_eq!(listed(&open("?status=closed&need=loneliness").await), 0);
        assert!(open("?status=closed&need=loneliness").await.contains("No referrals match these filters."));

        let unknown = get(&app, "/caseload?status=lost", Some(&session)).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let bad_cursor = get(&app, "/caseload?after=yesterday", Some(&session)).await;
        assert_eq!(bad_cursor.status, StatusCode::BAD_REQUEST);
    }
);

on_both_databases!(
    the_caseload_pages_fifty_at_a_time_newest_first_and_keeps_its_filters_on_the_next_page,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let f = &app.fixture;
        let gp = Fixture::actor(&f.gp);
        let mut made = Vec::new();
        for _ in 0..51 {
            made.push(
                app.store.submit_referral(f.referral("9434765919"), None, &gp, Utc::now()).await.unwrap().referral,
            );
        }
        let debt = named(f, "9434765870", "Peter", "Jones", vec![Need::Debt]);
        app.store.submit_referral(debt, None, &gp, Utc::now()).await.unwrap();
        let session = sign_in(&app, &maildev, &f.link_worker.email).await;

        let first = get(&app, "/caseload?need=loneliness&q=hughes", Some(&session)).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(listed(&first.body), 50);
        assert!(lists(&first.body, made.last().unwrap()), "newest first");
        assert!(!lists(&first.body, &made[0]), "the oldest is on the next page");
        let oldest_shown = &made[1];
        let next = format!("/caseload?need=loneliness&#38;q=hughes&#38;after={}", oldest_shown.state.id);
        assert!(
            first.body.contains(&format!("href=\"{next}\"")),
            "the next page keeps the filters: {}",
            first.body.split("Next page").next().unwrap().rsplit("<p>").next().unwrap()
        );
        let second = get(&app, &next.replace("&#38;", "&"), Some(&session)).await;
        assert_eq!(listed(&second.body), 1);
        assert!(lists(&second.body, &made[0]));
        assert!(!second.body.contains("Next page"));
        assert!(
            second.body.contains("href=\"/caseload?need=loneliness&#38;q=hughes\""),
            "back to the first page, filters kept"
        );
    }
);

on_both_databases!(
    a_practice_user_reaches_its_referrals_and_a_link_worker_starts_on_the_caseload,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let session = sign_in(&app, &maildev, &app.fixture.link_worker.email).await;
        let home = get(&app, "/", Some(&session)).await;
        assert_eq!((home.status, home.location()), (StatusCode::SEE_OTHER, "/caseload"));
        let caseload = get(&app, "/caseload", Some(&session)).await;
        assert!(caseload.body.contains("<a href=\"/caseload\">Caseload</a>"));
        assert!(caseload.text().contains("Assigned to me"));
        let lead = sign_in(&app, &maildev, &app.fixture.network_lead.email).await;
        assert_eq!(get(&app, "/caseload", Some(&lead)).await.status, StatusCode::FORBIDDEN);
    }
);
