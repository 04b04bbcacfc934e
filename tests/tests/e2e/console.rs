//! The staff web console over HTTP: signing in by an emailed link (delivered through real SMTP to
//! maildev), sessions, anti-forgery checks, and a GP practice's referral pages, on both databases.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use trellis_domain::referral::{ClosureReason, ReferralCommand};
use trellis_store::audit::AuditFilter;
use trellis_store::testing::Fixture;
use trellis_tests::console::{ask_for_link, emailed_link, sign_in, worker};
use trellis_tests::link_pages::{Page, get, post, same_origin};
use trellis_tests::maildev::MailDev;
use trellis_tests::{TestApp, run_node, screenshot_dir};

on_both_databases!(a_signed_out_visitor_is_sent_to_sign_in_and_pages_need_a_session, |app: TestApp| async move {
    let home = get(&app, "/", None).await;
    assert_eq!((home.status, home.location()), (StatusCode::SEE_OTHER, "/sign-in"));
    let list = get(&app, "/referrals", None).await;
    assert_eq!((list.status, list.location()), (StatusCode::SEE_OTHER, "/sign-in"));
    let forged = get(&app, "/referrals", Some("trellis_session=trs_0000")).await;
    assert_eq!((forged.status, forged.location()), (StatusCode::SEE_OTHER, "/sign-in"));
});

on_both_databases!(
    known_and_unknown_addresses_get_the_same_answer_and_only_a_user_gets_an_email,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let known = ask_for_link(&app, &app.fixture.gp.email).await;
        let unknown = ask_for_link(&app, "nobody@practice.example").await;
        assert_eq!(known.status, StatusCode::OK);
        assert_eq!(unknown.status, StatusCode::OK);
        let strip = |p: &Page, email: &str| p.body.replace(email, "EMAIL");
        assert_eq!(strip(&known, &app.fixture.gp.email), strip(&unknown, "nobody@practice.example"));
        worker(&app, &maildev).tick(Utc::now()).await;
        let emails = maildev.wait_for(1).await;
        assert_eq!(emails.len(), 1, "one email, to the user only");
        assert_eq!(emails[0]["to"][0]["address"].as_str(), Some(app.fixture.gp.email.as_str()));
    }
);

on_both_databases!(
    a_sign_in_link_opens_without_being_spent_signs_in_once_and_sign_out_ends_the_session,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        assert_eq!(ask_for_link(&app, &app.fixture.gp.email).await.status, StatusCode::OK);
        worker(&app, &maildev).tick(Utc::now()).await;
        let path = emailed_link(&maildev, &app.fixture.gp.email).await;
        // Opening the link twice (a mail scanner, then the person) spends nothing.
        assert_eq!(get(&app, &path, None).await.status, StatusCode::OK);
        let shown = get(&app, &path, None).await;
        assert_eq!(shown.status, StatusCode::OK);
        assert!(shown.text().contains(&format!("Sign in as {}", app.fixture.gp.name)));
        let cookie = shown.cookie();
        // Confirming without the form's token, or from another site, is refused and spends nothing.
        let no_token = post(&app, &path, Some(&cookie), &[], &same_origin(&app)).await;
        assert_eq!(no_token.status, StatusCode::FORBIDDEN);
        let cross_site = [("origin", "https://evil.example".to_owned()), ("sec-fetch-site", "cross-site".into())];
        let forged = post(&app, &path, Some(&cookie), &[("csrf", &shown.csrf_field())], &cross_site).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let confirmed = post(&app, &path, Some(&cookie), &[("csrf", &shown.csrf_field())], &same_origin(&app)).await;
        assert_eq!((confirmed.status, confirmed.location()), (StatusCode::SEE_OTHER, "/referrals"));
        let set = confirmed.header("set-cookie").to_owned();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"), "{set}");
        let session = format!("{}; {cookie}", set.split(';').next().unwrap());
        // Used once: the link is spent.
        let again = post(&app, &path, Some(&cookie), &[("csrf", &shown.csrf_field())], &same_origin(&app)).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert_eq!(get(&app, &path, None).await.status, StatusCode::NOT_FOUND);
        // Signed in; then signed out, the session no longer works.
        let list = get(&app, "/referrals", Some(&session)).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let csrf = list.csrf_field();
        let out = post(&app, "/sign-out", Some(&session), &[("csrf", &csrf)], &same_origin(&app)).await;
        assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/sign-in"));
        assert_eq!(get(&app, "/referrals", Some(&session)).await.location(), "/sign-in");
    }
);

on_both_databases!(an_expired_sign_in_link_and_a_disabled_users_link_do_not_sign_in, |app: TestApp| async move {
    let now = Utc::now();
    let expired = app.store.create_sign_in_link(app.fixture.gp.id, now - TimeDelta::seconds(1), now).await.unwrap();
    assert_eq!(get(&app, &format!("/sign-in/{expired}"), None).await.status, StatusCode::NOT_FOUND);
    let live = app.store.create_sign_in_link(app.fixture.gp.id, now + TimeDelta::minutes(15), now).await.unwrap();
    let shown = get(&app, &format!("/sign-in/{live}"), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    app.store.disable_user(app.fixture.gp.id, Utc::now()).await.unwrap();
    let cookie = shown.cookie();
    let confirmed =
        post(&app, &format!("/sign-in/{live}"), Some(&cookie), &[("csrf", &shown.csrf_field())], &same_origin(&app))
            .await;
    assert_eq!(confirmed.status, StatusCode::NOT_FOUND);
    assert!(
        !app.store.request_sign_in(&app.fixture.gp.email, Utc::now()).await.unwrap(),
        "no email for a disabled user"
    );
});

on_both_databases!(disabling_a_user_ends_their_console_session_at_once, |app: TestApp| async move {
    let maildev = MailDev::start().await;
    let session = sign_in(&app, &maildev, &app.fixture.link_worker.email).await;
    assert_eq!(get(&app, "/caseload", Some(&session)).await.status, StatusCode::OK);
    app.store.disable_user(app.fixture.link_worker.id, Utc::now()).await.unwrap();
    assert_eq!(get(&app, "/caseload", Some(&session)).await.location(), "/sign-in");
});

on_both_databases!(sign_in_links_are_limited_per_address_typed, |app: TestApp| async move {
    let statuses: Vec<StatusCode> = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(ask_for_link(&app, "someone@practice.example").await.status);
        }
        statuses
    };
    assert_eq!(statuses, [StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    assert_eq!(ask_for_link(&app, "someone.else@practice.example").await.status, StatusCode::OK);
});

on_both_databases!(a_practice_sees_its_own_referrals_and_withdraws_one_still_referred, |app: TestApp| async move {
    let maildev = MailDev::start().await;
    let f = &app.fixture;
    let gp = Fixture::actor(&f.gp);
    let own = app.store.submit_referral(f.referral("9434765919"), None, &gp, Utc::now()).await.unwrap().referral;
    let other_gp = Fixture::actor(&f.other_gp);
    let theirs =
        app.store.submit_referral(f.referral("9434765870"), None, &other_gp, Utc::now()).await.unwrap().referral;
    let session = sign_in(&app, &maildev, &f.gp.email).await;

    let list = get(&app, "/referrals", Some(&session)).await;
    assert!(list.body.contains(&format!("/referrals/{}", own.state.id)));
    assert!(!list.body.contains(&theirs.state.id.to_string()), "another practice's referral is not listed");
    assert!(list.text().contains("First contact due by"));

    let other = get(&app, &format!("/referrals/{}", theirs.state.id), Some(&session)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    let page = get(&app, &format!("/referrals/{}", own.state.id), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Withdraw referral"));
    let csrf = page.csrf_field();
    let path = format!("/referrals/{}/withdraw", own.state.id);
    // A stale version is a conflict and changes nothing.
    let stale = post(&app, &path, Some(&session), &[("csrf", &csrf), ("version", "0")], &same_origin(&app)).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let version = page.hidden_field("version").unwrap();
    let done = post(
        &app,
        &path,
        Some(&session),
        &[("csrf", &csrf), ("version", &version), ("note", "Seen by the practice nurse instead")],
        &same_origin(&app),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = get(&app, &format!("/referrals/{}", own.state.id), Some(&session)).await;
    assert!(after.text().contains("Withdrawn by the referrer"));
    assert!(!after.text().contains("Withdraw referral"));
});

on_both_databases!(
    a_practice_downloads_the_outcome_letter_of_a_closed_referral_from_its_page,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let f = &app.fixture;
        let gp = Fixture::actor(&f.gp);
        let own = app.store.submit_referral(f.referral("9434765919"), None, &gp, Utc::now()).await.unwrap().referral;
        let other_gp = Fixture::actor(&f.other_gp);
        let theirs =
            app.store.submit_referral(f.referral("9434765870"), None, &other_gp, Utc::now()).await.unwrap().referral;
        for (referral, actor) in [(&own, &gp), (&theirs, &other_gp)] {
            let close = ReferralCommand::Close { reason: ClosureReason::WithdrawnByReferrer, note: None };
            app.store
                .transition_referral(referral.state.id, referral.state.version, close, actor, Utc::now())
                .await
                .unwrap();
        }
        let session = sign_in(&app, &maildev, &f.gp.email).await;
        let letter = format!("/referrals/{}/gp-message.pdf", own.state.id);

        let page = get(&app, &format!("/referrals/{}", own.state.id), Some(&session)).await;
        assert!(page.body.contains(&format!("href=\"{letter}\"")), "the closed referral's page links its letter");
        let pdf = trellis_tests::link_pages::client()
            .get(format!("{}{letter}", app.base_url))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.status(), StatusCode::OK);
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"), "a PDF the practice can file");

        let signed_out = get(&app, &letter, None).await;
        assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
        let another_practices =
            get(&app, &format!("/referrals/{}/gp-message.pdf", theirs.state.id), Some(&session)).await;
        assert_eq!(another_practices.status, StatusCode::NOT_FOUND, "another practice's letter is not there to see");
    }
);

on_both_databases!(the_console_pages_pass_axe_wcag_22_aa_in_chromium_and_need_no_script, |app: TestApp| async move {
    let f = &app.fixture;
    let gp = Fixture::actor(&f.gp);
    let referral = app.store.submit_referral(f.referral("9434765919"), None, &gp, Utc::now()).await.unwrap().referral;
    let now = Utc::now();
    let token = app.store.create_sign_in_link(f.gp.id, now + TimeDelta::minutes(15), now).await.unwrap();
    let backend = match app.store.backend() {
        sea_orm::DatabaseBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    let dir = screenshot_dir("console", backend);
    let config = serde_json::json!({
        "url": app.base_url,
        "signInPath": format!("/sign-in/{token}"),
        "referralId": referral.state.id.to_string(),
        "outDir": dir,
    });
    let output =
        tokio::task::spawn_blocking(move || run_node("console-pages.mjs", &[&config.to_string()])).await.expect("node");
    let report: serde_json::Value = serde_json::from_str(output.trim().lines().last().unwrap()).expect(&output);
    assert_eq!(report["violations"], serde_json::json!([]), "axe-core found violations: {report:#}");
    assert_eq!(report["failedRequests"], serde_json::json!([]), "no failed requests");
    assert_eq!(report["pages"].as_array().unwrap().len(), 7, "{report:#}");
    assert_eq!(report["rows"], 1, "the practice's one referral is listed");
    for shot in ["01-sign-in", "02-sign-in-error", "05-referrals", "06-referral", "07-link-ended"] {
        assert!(dir.join(format!("{shot}.png")).exists(), "screenshot {shot} missing");
    }
});

on_both_databases!(
    an_admin_changes_a_users_email_audited_and_links_sent_to_the_old_address_stop_working,
    |app: TestApp| async move {
        let f = &app.fixture;
        let now = Utc::now();
        let old_link = app.store.create_sign_in_link(f.gp.id, now + TimeDelta::minutes(15), now).await.unwrap();
        let changed = app
        .ok(
            &app.tokens.admin,
            "mutation($id: ID!) { changeUserEmail(input: { userId: $id, email: \"Dr.Patel@New-Practice.example\" }) { user { email } } }",
            serde_json::json!({ "id": f.gp.id.to_string() }),
        )
        .await;
        assert_eq!(changed["changeUserEmail"]["user"]["email"], "Dr.Patel@new-practice.example");
        assert_eq!(get(&app, &format!("/sign-in/{old_link}"), None).await.status, StatusCode::NOT_FOUND);
        assert!(!app.store.request_sign_in(&f.gp.email, Utc::now()).await.unwrap(), "the old address gets nothing");
        assert!(app.store.request_sign_in("Dr.Patel@new-practice.example", Utc::now()).await.unwrap());
        let bad = app
        .graphql(
            Some(&app.tokens.admin),
            "mutation($id: ID!) { changeUserEmail(input: { userId: $id, email: \"not an address\" }) { user { email } } }",
            serde_json::json!({ "id": f.gp.id.to_string() }),
        )
        .await;
        assert_eq!(bad.errors[0]["extensions"]["code"], "VALIDATION");
        let filter = AuditFilter { actor: Some(f.admin.id), limit: 50, ..Default::default() };
        let audit = app.store.audit_log(&filter).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "user.email_changed"), "the change is audited");
    }
);
