//! The console's referral form over HTTP, on both databases: every error shown at once (in the summary
//! and by its field) with what was typed kept and nothing stored; a fixed form submits and lands on the
//! new referral; a double submission makes one referral; and the practice's list shows what happens
//! next, or the outcome.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{DateTime, Duration, TimeDelta, Utc};
use reqwest::StatusCode;
use trellis_domain::access::ReferralScope;
use trellis_domain::referral::{ClosureReason, ReferralCommand};
use trellis_domain::report::EthnicCategory;
use trellis_store::referrals::{Consent, ReferralFilter};
use trellis_store::testing::Fixture;
use trellis_tests::console::sign_in;
use trellis_tests::link_pages::{Page, get, post, same_origin};
use trellis_tests::maildev::MailDev;
use trellis_tests::{TestApp, run_node, screenshot_dir};

/// How many referrals the GP's practice has made.
async fn practice_referrals(app: &TestApp) -> usize {
    let gp = Fixture::actor(&app.fixture.gp);
    let filter = ReferralFilter {
        scope: ReferralScope::of(&gp).unwrap(),
        statuses: Vec::new(),
        need: None,
        assigned_to: None,
        overdue_at: None,
        search: None,
        before: None,
        limit: 100,
    };
    app.store.referrals(&gp, &filter, Utc::now()).await.unwrap().len()
}

/// A complete, valid form for `nhs`, as the page `form` was shown.
fn filled(form: &Page, nhs: &str, today: DateTime<Utc>) -> Vec<(String, String)> {
    let day = today.format("%-d").to_string();
    let month = today.format("%-m").to_string();
    let year = today.format("%Y").to_string();
    [
        ("csrf", form.csrf_field()),
        ("idempotency_key", form.hidden_field("idempotency_key").unwrap()),
        ("nhs_number", nhs.into()),
        ("given_name", "Margaret".into()),
        ("family_name", "Hughes".into()),
        ("dob_day", "14".into()),
        ("dob_month", "3".into()),
        ("dob_year", "1956".into()),
        ("phone", "01332 123456".into()),
        ("email", String::new()),
        ("postcode", "de1 1aa".into()),
        ("preferred_contact", "phone".into()),
        ("need_loneliness", "yes".into()),
        ("need_debt", "yes".into()),
        ("reason", "Lives alone since her husband died; would like company.".into()),
        ("urgency", "routine".into()),
        ("consent", "yes".into()),
        ("consent_recorded_by", "Dr Patel".into()),
        ("consent_day", day),
        ("consent_month", month),
        ("consent_year", year),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn with(mut fields: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    fields.retain(|(k, _)| k != name);
    if !value.is_empty() {
        fields.push((name.into(), value.into()));
    }
    fields
}

async fn send(app: &TestApp, session: &str, fields: &[(String, String)]) -> Page {
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post(app, "/referrals/new", Some(session), &form, &same_origin(app)).await
}

on_both_databases!(
    the_form_shows_every_error_by_its_field_keeps_what_was_typed_and_stores_nothing_until_fixed,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let session = sign_in(&app, &maildev, &app.fixture.gp.email).await;
        let list = get(&app, "/referrals", Some(&session)).await;
        assert!(list.body.contains("href=\"/referrals/new\""), "the practice's list links to the form");
        let form = get(&app, "/referrals/new", Some(&session)).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.text().contains(&format!("value=\"{}\"", app.fixture.gp.name)), "consent recorded by the user");
        let now = Utc::now();

        // A wrong check digit, no family name, no need and no consent: all four at once.
        let wrong = with(
            with(with(filled(&form, "943 476 5918", now), "family_name", ""), "need_loneliness", ""),
            "need_debt",
            "",
        );
        let wrong = with(wrong, "consent", "");
        let shown = send(&app, &session, &wrong).await;
        assert_eq!(shown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", shown.body);
        let text = shown.text();
        assert!(text.contains("<title>Error: Submit a referral"), "the title says there is an error");
        assert!(text.contains("There is a problem"));
        for (href, message) in [
            ("#nhs-number", "Enter a valid NHS number: the check digit does not match"),
            ("#family-name", "Enter the person's family name"),
            ("#needs", "Select at least one thing that matters to the person"),
            ("#consent", "Confirm the person has consented to share their referral with the network"),
        ] {
            assert!(text.contains(&format!("<a href=\"{href}\">{message}</a>")), "summary links {message} to {href}");
            assert_eq!(text.matches(message).count(), 2, "{message}: in the summary and by the field");
        }
        let summary_order: Vec<usize> = ["#nhs-number", "#family-name", "#needs", "#consent"]
            .iter()
            .map(|h| text.find(&format!("<a href=\"{h}\">")).unwrap())
            .collect();
        assert!(summary_order.is_sorted(), "the summary lists errors in the order of the form");
        assert!(
            text.contains("aria-describedby=\"nhs-number-hint nhs-number-error\""),
            "the error is tied to its field"
        );
        // What was typed is kept, including the idempotency key.
        assert!(text.contains("value=\"943 476 5918\""));
        assert!(text.contains("value=\"Margaret\""));
        assert!(text.contains("Lives alone since her husband died; would like company."));
        assert!(text.contains("value=\"de1 1aa\""));
        assert!(text.contains("id=\"preferred-contact\" name=\"preferred_contact\" value=\"phone\" checked"));
        assert_eq!(shown.hidden_field("idempotency_key"), form.hidden_field("idempotency_key"));
        assert_eq!(practice_referrals(&app).await, 0, "nothing is stored on error");

        // A sex or ethnic group not in the lists is refused by its field, and the list keeps the choice.
        let odd = with(with(filled(&form, "943 476 5919", now), "sex", "f"), "ethnic_category", "H");
        let shown = send(&app, &session, &odd).await;
        assert_eq!(shown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", shown.body);
        assert!(shown.text().contains("<a href=\"#sex\">Select the person's sex from the list, or Not recorded</a>"));
        assert!(shown.text().contains("<option value=\"H\" selected>Asian or Asian British - Indian</option>"));
        assert_eq!(practice_referrals(&app).await, 0);

        // Fixed, it submits and lands on the new referral, with the ethnic group recorded.
        let right = with(filled(&form, "943 476 5919", now), "ethnic_category", "H");
        let done = send(&app, &session, &right).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let location = done.location().to_owned();
        assert!(location.starts_with("/referrals/"), "{location}");
        let page = get(&app, &location, Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("Margaret Hughes") && page.text().contains("943 476 5919"));
        assert!(page.text().contains("Loneliness or isolation") && page.text().contains("Debt or money worries"));
        assert_eq!(practice_referrals(&app).await, 1);
        let gp = Fixture::actor(&app.fixture.gp);
        let id: uuid::Uuid = location.trim_start_matches("/referrals/").parse().unwrap();
        let stored = app.store.referral(&gp, trellis_domain::ReferralId(id), Utc::now()).await.unwrap();
        let details = &stored.person.details;
        assert_eq!((details.sex, details.ethnic_category), (None, Some(EthnicCategory::AsianIndian)));
    }
);

on_both_databases!(
    a_double_submission_makes_one_referral_and_the_same_form_changed_after_it_is_refused,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let session = sign_in(&app, &maildev, &app.fixture.gp.email).await;
        let form = get(&app, "/referrals/new", Some(&session)).await;
        let fields = filled(&form, "9434765919", Utc::now());
        let (first, second) = tokio::join!(send(&app, &session, &fields), send(&app, &session, &fields));
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
        assert_eq!(second.status, StatusCode::SEE_OTHER, "{}", second.body);
        assert_eq!(first.location(), second.location(), "both land on the one referral");
        assert_eq!(practice_referrals(&app).await, 1);
        // Back, changed and sent again with the same key: refused, nothing more stored.
        let changed = send(&app, &session, &with(fields, "reason", "Something else entirely.")).await;
        assert_eq!(changed.status, StatusCode::CONFLICT, "{}", changed.body);
        assert!(changed.text().contains("This form was already sent"));
        assert_eq!(practice_referrals(&app).await, 1);
        // A new form has a new key, and makes a second referral.
        let again = get(&app, "/referrals/new", Some(&session)).await;
        assert_ne!(again.hidden_field("idempotency_key"), form.hidden_field("idempotency_key"));
        let second_referral = send(&app, &session, &filled(&again, "9434765870", Utc::now())).await;
        assert_eq!(second_referral.status, StatusCode::SEE_OTHER, "{}", second_referral.body);
        assert_eq!(practice_referrals(&app).await, 2);
    }
);

on_both_databases!(
    the_form_refuses_a_forged_post_a_form_without_its_key_a_future_consent_and_a_network_lead,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let session = sign_in(&app, &maildev, &app.fixture.gp.email).await;
        let form = get(&app, "/referrals/new", Some(&session)).await;
        let fields = filled(&form, "9434765919", Utc::now());
        let as_pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let cross_site = [("origin", "https://evil.example".to_owned()), ("sec-fetch-site", "cross-site".into())];
        let forged = post(&app, "/referrals/new", Some(&session), &as_pairs, &cross_site).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let next_year = (Utc::now() + chrono::Duration::days(400)).format("%Y").to_string();
        let future = send(&app, &session, &with(fields.clone(), "consent_year", &next_year)).await;
        assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            future
                .text()
                .contains("<a href=\"#consent-day\">The date consent was recorded must be today or in the past</a>")
        );
        let unreal = send(&app, &session, &with(fields, "dob_month", "13")).await;
        assert!(unreal.text().contains("<a href=\"#dob-day\">Date of birth must be a real date, like 14 3 1956</a>"));
        assert_eq!(practice_referrals(&app).await, 0);

        let lead = sign_in(&app, &maildev, &app.fixture.network_lead.email).await;
        assert_eq!(get(&app, "/referrals/new", Some(&lead)).await.status, StatusCode::FORBIDDEN);
    }
);

on_both_databases!(
    the_practices_list_shows_the_next_step_with_its_date_and_the_outcome_once_closed,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let f = &app.fixture;
        let gp = Fixture::actor(&f.gp);
        let open = app.store.submit_referral(f.referral("9434765919"), None, &gp, Utc::now()).await.unwrap().referral;
        let closed = app.store.submit_referral(f.referral("9434765870"), None, &gp, Utc::now()).await.unwrap().referral;
        let command = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: None };
        app.store.transition_referral(closed.state.id, closed.state.version, command, &gp, Utc::now()).await.unwrap();
        let session = sign_in(&app, &maildev, &f.gp.email).await;
        let list = get(&app, "/referrals", Some(&session)).await.text();
        let today = Utc::now().format("%-d %B %Y").to_string();
        let due = open.contact_due_at.format("%-d %B %Y").to_string();
        assert!(list.contains(&format!("First contact due by {due}")), "{list}");
        assert!(list.contains(&format!("Outcome: Withdrawn by the referrer, closed {today}")), "{list}");
        assert!(list.contains(">Referred<") && list.contains(">Closed<"), "each row's status");
    }
);

on_both_databases!(
    in_chromium_a_wrong_nhs_number_is_fixed_after_the_error_and_the_form_and_caseload_pass_axe_wcag_22_aa,
    |app: TestApp| async move {
        let f = &app.fixture;
        let now = Utc::now();
        // An overdue referral for the caseload's filters to find.
        let mut overdue = f.referral("9434765870");
        overdue.consent = Some(Consent { recorded_by: "Dr Patel".into(), recorded_at: now - Duration::days(31) });
        let gp = Fixture::actor(&f.gp);
        app.store.submit_referral(overdue, None, &gp, now - Duration::days(30)).await.unwrap();
        let gp_link = app.store.create_sign_in_link(f.gp.id, now + TimeDelta::minutes(15), now).await.unwrap();
        let worker_link =
            app.store.create_sign_in_link(f.link_worker.id, now + TimeDelta::minutes(15), now).await.unwrap();
        let backend = match app.store.backend() {
            sea_orm::DatabaseBackend::Postgres => "postgres",
            _ => "sqlite",
        };
        let dir = screenshot_dir("console-referral-form", backend);
        let config = serde_json::json!({
            "url": app.base_url,
            "gpSignInPath": format!("/sign-in/{gp_link}"),
            "workerSignInPath": format!("/sign-in/{worker_link}"),
            "outDir": dir,
        });
        let output = tokio::task::spawn_blocking(move || run_node("console-referral-form.mjs", &[&config.to_string()]))
            .await
            .expect("node");
        let report: serde_json::Value = serde_json::from_str(output.trim().lines().last().unwrap()).expect(&output);
        assert_eq!(report["violations"], serde_json::json!([]), "axe-core found violations: {report:#}");
        assert_eq!(report["failedRequests"], serde_json::json!([]), "no failed requests");
        assert_eq!(report["pages"].as_array().unwrap().len(), 6, "{report:#}");
        // The referral the browser submitted is stored once, with the NHS number as fixed.
        let id: uuid::Uuid = report["referral"].as_str().unwrap().parse().unwrap();
        let stored = app.store.referral(&gp, trellis_domain::ReferralId(id), Utc::now()).await.unwrap();
        assert_eq!(stored.person.details.nhs_number.as_str(), "9434765919");
        assert_eq!(stored.person.details.given_name, "Ada");
        assert_eq!(practice_referrals(&app).await, 2, "the seeded referral and the one submitted");
        assert_eq!(report["practiceRows"], 2);
        assert_eq!(report["caseloadHasReferral"], true);
        assert_eq!(report["filteredRows"], 1, "only the overdue referral: {report:#}");
        assert_eq!(report["overdueTags"], 1, "marked overdue in words");
        for shot in [
            "01-referral-form",
            "02-referral-form-errors",
            "03-submitted-referral",
            "05-caseload",
            "06-caseload-filtered",
        ] {
            assert!(dir.join(format!("{shot}.png")).exists(), "screenshot {shot} missing");
        }
    }
);
