//! Console sessions and API keys, on both databases: an administrator revoking one of a user's keys ends
//! the user's console sessions at once; a user revoking its own key stays signed in.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::Utc;
use reqwest::StatusCode;
use trellis_tests::TestApp;
use trellis_tests::console::sign_in;
use trellis_tests::link_pages::get;
use trellis_tests::maildev::MailDev;

const REVOKE: &str = "mutation($id: ID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { revokedAt } } }";

on_both_databases!(
    an_admin_revoking_a_users_key_ends_their_console_session_but_revoking_your_own_does_not,
    |app: TestApp| async move {
        let maildev = MailDev::start().await;
        let f = &app.fixture;
        let worker = sign_in(&app, &maildev, &f.link_worker.email).await;
        let gp = sign_in(&app, &maildev, &f.gp.email).await;
        assert_eq!(get(&app, "/caseload", Some(&worker)).await.status, StatusCode::OK);
        assert_eq!(get(&app, "/referrals", Some(&gp)).await.status, StatusCode::OK);

        // The GP tidies away a key of its own: still signed in.
        let laptop = app.store.issue_api_key(f.gp.id, "laptop", Utc::now()).await.unwrap();
        let own = app.ok(&app.tokens.gp, REVOKE, serde_json::json!({ "id": laptop.id.to_string() })).await;
        assert!(own["revokeApiKey"]["apiKey"]["revokedAt"].is_string());
        assert_eq!(
            get(&app, "/referrals", Some(&gp)).await.status,
            StatusCode::OK,
            "revoking your own key keeps you in"
        );

        // An administrator revokes one of the link worker's keys: the console session ends with it.
        let key = app.store.issue_api_key(f.link_worker.id, "practice system", Utc::now()).await.unwrap();
        let revoked = app.ok(&app.tokens.admin, REVOKE, serde_json::json!({ "id": key.id.to_string() })).await;
        assert!(revoked["revokeApiKey"]["apiKey"]["revokedAt"].is_string());
        let after = get(&app, "/caseload", Some(&worker)).await;
        assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, "/sign-in"));
        assert_eq!(get(&app, "/referrals", Some(&gp)).await.status, StatusCode::OK, "other users stay signed in");

        // Another user's key is not the GP's to revoke, and says so no more than a missing key would.
        let other = app.store.issue_api_key(f.other_gp.id, "laptop", Utc::now()).await.unwrap();
        let refused =
            app.graphql(Some(&app.tokens.gp), REVOKE, serde_json::json!({ "id": other.id.to_string() })).await;
        assert_eq!(refused.code(), Some("NOT_FOUND"));
    }
);
