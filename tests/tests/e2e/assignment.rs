//! Who a referral may be given to, on both databases: only an active link worker of the referral's own
//! service. GraphQL's `assignReferral` refuses anyone else as `VALIDATION` at `linkWorkerId`, the
//! console's assign form says so at its field, and a refusal changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;
use trellis_domain::values::EmailAddress;
use trellis_domain::{ReferralId, Role, UserId};
use trellis_store::accounts::{NewUser, User};
use trellis_store::testing::Fixture;
use trellis_tests::TestApp;
use trellis_tests::console::{session_for, submit_from};
use trellis_tests::link_pages::get;

const ASSIGN: &str = "mutation($id: ID!, $lw: ID!) { assignReferral(input: { referralId: $id, expectedVersion: 1, \
                      linkWorkerId: $lw }) { referral { id version assignedToId } } }";

/// A referral from the fixture's practice to the fixture's link worker service.
async fn referral(app: &TestApp) -> ReferralId {
    let gp = Fixture::actor(&app.fixture.gp);
    app.store
        .submit_referral(app.fixture.referral("9434765919"), None, &gp, Utc::now())
        .await
        .unwrap()
        .referral
        .state
        .id
}

/// Another link worker of the fixture's service.
async fn colleague(app: &TestApp, email: &str) -> User {
    let new = NewUser {
        organisation: app.fixture.service.id,
        role: Role::LinkWorker,
        email: EmailAddress::parse(email).unwrap(),
        name: "Priya Link".into(),
    };
    app.store.create_user(new, Utc::now()).await.unwrap()
}

/// The referral's version, assignee and number of events, as its link worker reads them.
async fn unchanged_since_submission(app: &TestApp, id: ReferralId) -> bool {
    let lw = Fixture::actor(&app.fixture.link_worker);
    let record = app.store.referral(&lw, id, Utc::now()).await.unwrap();
    let events = app.store.referral_history(&lw, id).await.unwrap().len();
    (record.state.version, record.state.assigned_to, events) == (1, None, 1)
}

on_both_databases!(
    assigning_to_a_provider_another_services_link_worker_or_a_disabled_colleague_is_refused_and_changes_nothing,
    |app: TestApp| async move {
        let f = &app.fixture;
        let id = referral(&app).await;
        let disabled = colleague(&app, "left@erewash.example").await;
        app.store.disable_user(disabled.id, Utc::now()).await.unwrap();
        let refused: [(&str, UserId); 4] = [
            ("a provider user", f.provider_user.id),
            ("a link worker of another service", f.other_link_worker.id),
            ("a disabled colleague", disabled.id),
            ("no user at all", UserId(uuid::Uuid::now_v7())),
        ];
        for (who, to) in refused {
            let vars = json!({ "id": id.to_string(), "lw": to.to_string() });
            let answer = app.graphql(Some(&app.tokens.link_worker), ASSIGN, vars).await;
            assert_eq!((answer.code(), answer.field()), (Some("VALIDATION"), Some("linkWorkerId")), "{who}");
            assert!(unchanged_since_submission(&app, id).await, "{who}: the referral changed");
        }

        // The console's form, posted with a chosen id the page never offered.
        let session = session_for(&app, f.link_worker.id).await;
        let page = get(&app, &format!("/referrals/{id}"), Some(&session)).await;
        assert!(!page.body.contains(&f.provider_user.id.to_string()), "the form offers colleagues only");
        assert!(!page.body.contains(&disabled.id.to_string()), "the form offers no disabled colleague");
        let provider = f.provider_user.id.to_string();
        let answer = submit_from(&app, &session, &page, &format!("/referrals/{id}/assign"), &[("to", &provider)]).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.body);
        assert!(
            answer.text().contains("Choose a link worker of this referral's service whose account is active"),
            "{}",
            answer.text()
        );
        assert!(answer.body.contains("id=\"assign-to-error\""), "the error stands at the field");
        assert!(unchanged_since_submission(&app, id).await, "the console's refusal changed the referral");
    }
);

on_both_databases!(a_referral_is_assigned_to_an_active_colleague_of_its_service, |app: TestApp| async move {
    let id = referral(&app).await;
    let priya = colleague(&app, "priya@erewash.example").await;
    let vars = json!({ "id": id.to_string(), "lw": priya.id.to_string() });
    let data = app.ok(&app.tokens.link_worker, ASSIGN, vars).await;
    assert_eq!(data["assignReferral"]["referral"]["assignedToId"], priya.id.to_string());
    assert_eq!(data["assignReferral"]["referral"]["version"], 2);
    let lw = Fixture::actor(&app.fixture.link_worker);
    assert_eq!(app.store.referral(&lw, id, Utc::now()).await.unwrap().state.assigned_to, Some(priya.id));
});
