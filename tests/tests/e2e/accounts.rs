//! Offboarding and API keys through the real server, on SQLite and PostgreSQL: disabling a user, listing,
//! issuing (rotating) and revoking keys, keys that expire, and a user created with its first key in one
//! transaction. That a revocation reaches every server process is proven with two real processes in
//! `crates/trellis/tests/faults.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend};
use serde_json::{Value, json};
use trellis_api::ApiSettings;
use trellis_tests::link_pages::get;
use trellis_tests::{Backend, TestApp, doc_operation, on_both_databases};

const ME: &str = "{ me { user { id } } }";
const MY_KEYS: &str = "{ me { apiKeys { id label createdAt lastUsedAt expiresAt revoked revokedAt } } }";
const DISABLE: &str = "mutation($id: ID!) { disableUser(input: { userId: $id }) { user { id disabledAt } } }";
const ENABLE: &str = "mutation($id: ID!) { enableUser(input: { userId: $id }) { user { id disabledAt } } }";
const ISSUE: &str = "mutation($user: ID, $label: String!) { issueApiKey(input: { userId: $user, label: $label }) \
    { apiToken replacedApiKeyId apiKey { id userId label expiresAt revoked } } }";
const REVOKE: &str =
    "mutation($id: ID!) { revokeApiKey(input: { apiKeyId: $id }) { apiKey { id revoked revokedAt } } }";

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().unwrap()
}

on_both_databases!(
    a_disabled_users_keys_are_refused_at_once_everywhere_they_sign_in_until_enabled_again,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let lw = app.fixture.link_worker.id.to_string();
        app.ok(&t.link_worker, ME, json!({})).await;
        let disabled = app.ok(&t.admin, DISABLE, json!({ "id": lw })).await;
        assert!(disabled["disableUser"]["user"]["disabledAt"].is_string());
        let refused = app.graphql(Some(&t.link_worker), ME, json!({})).await;
        assert_eq!(refused.code(), Some("UNAUTHENTICATED"), "{refused:?}");
        let link = trellis_tests::console::sign_in_path(&app, app.fixture.link_worker.id).await;
        let sign_in = get(&app, &link, None).await;
        assert_eq!(sign_in.status.as_u16(), 404, "the console does not sign a disabled user in: {}", sign_in.body);
        // Disabling twice keeps the first time.
        let again = app.ok(&t.admin, DISABLE, json!({ "id": lw })).await;
        assert_eq!(again["disableUser"]["user"]["disabledAt"], disabled["disableUser"]["user"]["disabledAt"]);
        let enabled = app.ok(&t.admin, ENABLE, json!({ "id": lw })).await;
        assert_eq!(enabled["enableUser"]["user"]["disabledAt"], Value::Null);
        app.ok(&t.link_worker, ME, json!({})).await;
    }
);

on_both_databases!(an_admin_cannot_disable_itself_nor_an_unknown_user, |app: TestApp| async move {
    let t = app.tokens.clone();
    let own = app.graphql(Some(&t.admin), DISABLE, json!({ "id": app.fixture.admin.id.to_string() })).await;
    assert_eq!((own.code(), own.field()), (Some("VALIDATION"), Some("userId")));
    app.ok(&t.admin, ME, json!({})).await;
    let unknown = app.graphql(Some(&t.admin), DISABLE, json!({ "id": uuid::Uuid::now_v7().to_string() })).await;
    assert_eq!(unknown.code(), Some("NOT_FOUND"));
});

on_both_databases!(
    keys_are_listed_for_their_user_and_an_admin_with_when_each_was_last_used_and_when_it_expires,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let before = Utc::now();
        let mine = app.ok(&t.gp, MY_KEYS, json!({})).await;
        let keys = mine["me"]["apiKeys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let key = &keys[0];
        assert_eq!(key["revoked"], json!(false));
        assert!(time(&key["lastUsedAt"]) >= before - Duration::seconds(1), "this very request used it");
        let lifetime = time(&key["expiresAt"]) - time(&key["createdAt"]);
        assert_eq!(lifetime.num_hours(), 365 * 24);
        assert!(!mine.to_string().contains(&t.gp), "a listing never shows a token");

        // The admin reads the GP's keys; the network lead, who lists users, does not.
        let query = "query($org: ID!) { users(organisationId: $org) { id apiKeys { id } } }";
        let org = json!({ "org": app.fixture.practice.id.to_string() });
        let admin = app.ok(&t.admin, query, org.clone()).await;
        assert!(admin.to_string().contains(key["id"].as_str().unwrap()));
        let lead = app.graphql(Some(&t.network_lead), query, org.clone()).await;
        assert_eq!(lead.code(), Some("FORBIDDEN"), "{lead:?}");
        let other_gp = app.graphql(Some(&t.other_gp), query, org).await;
        assert!(other_gp.code().is_some(), "another practice reads no keys: {other_gp:?}");
    }
);

on_both_databases!(a_user_rotates_its_own_key_and_an_admin_issues_one_for_anyone, |app: TestApp| async move {
    let t = app.tokens.clone();
    let gp = app.fixture.gp.id.to_string();
    let rotated = app.ok(&t.gp, ISSUE, json!({ "label": "new laptop" })).await["issueApiKey"].clone();
    let new_token = rotated["apiToken"].as_str().unwrap().to_owned();
    assert_eq!(rotated["apiKey"]["userId"], json!(gp));
    assert!(rotated["replacedApiKeyId"].is_string(), "the calling key is replaced");
    assert_eq!(app.graphql(Some(&t.gp), ME, json!({})).await.code(), Some("UNAUTHENTICATED"), "old key revoked");
    app.ok(&new_token, ME, json!({})).await;
    let listed = app.ok(&new_token, MY_KEYS, json!({})).await;
    assert_eq!(listed["me"]["apiKeys"].as_array().unwrap().len(), 2, "one revoked, one live: {listed}");

    // Not for another user, whoever they are.
    let other = app
        .graphql(Some(&new_token), ISSUE, json!({ "user": app.fixture.other_gp.id.to_string(), "label": "x" }))
        .await;
    assert_eq!(other.code(), Some("FORBIDDEN"));
    let made_up =
        app.graphql(Some(&new_token), ISSUE, json!({ "user": uuid::Uuid::now_v7().to_string(), "label": "x" })).await;
    assert_eq!(made_up.code(), Some("FORBIDDEN"));

    // The admin issues one for the GP; the GP's own key and the admin's keep working.
    let issued =
        app.ok(&t.admin, ISSUE, json!({ "user": gp, "label": "practice system" })).await["issueApiKey"].clone();
    assert_eq!(issued["replacedApiKeyId"], Value::Null);
    app.ok(issued["apiToken"].as_str().unwrap(), ME, json!({})).await;
    app.ok(&new_token, ME, json!({})).await;
    app.ok(&t.admin, ME, json!({})).await;
});

on_both_databases!(a_key_revoked_by_an_id_from_the_listing_is_refused_at_once, |app: TestApp| async move {
    let t = app.tokens.clone();
    let issued =
        app.ok(&t.admin, ISSUE, json!({ "user": app.fixture.provider_user.id.to_string(), "label": "spare" })).await;
    let spare = issued["issueApiKey"]["apiToken"].as_str().unwrap().to_owned();
    app.ok(&spare, ME, json!({})).await;
    let keys = app.ok(&t.provider, MY_KEYS, json!({})).await;
    let spare_id = keys["me"]["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == json!("spare"))
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .unwrap();
    let revoked = app.ok(&t.provider, REVOKE, json!({ "id": spare_id })).await;
    assert_eq!(revoked["revokeApiKey"]["apiKey"]["revoked"], json!(true));
    assert_eq!(app.graphql(Some(&spare), ME, json!({})).await.code(), Some("UNAUTHENTICATED"));
    app.ok(&t.provider, ME, json!({})).await;
});

on_both_databases!(an_expired_key_is_refused_as_unauthenticated, |app: TestApp| async move {
    let now = Utc::now();
    let key =
        app.store.issue_api_key_until(app.fixture.gp.id, "old", now - Duration::minutes(1), None, now).await.unwrap();
    let refused = app.graphql(Some(&key.token), ME, json!({})).await;
    assert_eq!(refused.code(), Some("UNAUTHENTICATED"));
});

/// Keys issued through the API live as long as the deployment says.
async fn issued_keys_live_as_long_as_configured(backend: Backend) {
    let app = TestApp::spawn_with(backend, ApiSettings { api_key_expiry_days: 7, ..ApiSettings::default() }).await;
    let create = "mutation($org: ID!) { createUser(input: { organisationId: $org, role: GP_PRACTICE, \
        email: \"new@longeaton.example\", name: \"New GP\" }) { apiToken } }";
    let created = app.ok(&app.tokens.admin, create, json!({ "org": app.fixture.practice.id.to_string() })).await;
    let token = created["createUser"]["apiToken"].as_str().unwrap().to_owned();
    let keys = app.ok(&token, MY_KEYS, json!({})).await;
    let key = &keys["me"]["apiKeys"][0];
    assert_eq!((time(&key["expiresAt"]) - time(&key["createdAt"])).num_hours(), 7 * 24);
    let rotated = app.ok(&token, ISSUE, json!({ "label": "rotated" })).await;
    let expires = time(&rotated["issueApiKey"]["apiKey"]["expiresAt"]);
    assert!((expires - (Utc::now() + Duration::days(7))).num_seconds().abs() < 60);
}
trellis_tests::on_both_backends!(issued_keys_live_as_long_as_configured);

/// Makes every insert into `api_keys` fail, as a full disk or a lost connection would mid-way.
async fn refuse_new_keys(app: &TestApp, refuse: bool) {
    let db = app.store.connection();
    let sql = match (db.get_database_backend(), refuse) {
        (DatabaseBackend::Postgres, true) => {
            "CREATE FUNCTION refuse_key() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$; \
             CREATE TRIGGER refuse_key BEFORE INSERT ON api_keys FOR EACH ROW EXECUTE FUNCTION refuse_key();"
        }
        (DatabaseBackend::Postgres, false) => "DROP TRIGGER refuse_key ON api_keys; DROP FUNCTION refuse_key();",
        (_, true) => "CREATE TRIGGER refuse_key BEFORE INSERT ON api_keys BEGIN SELECT RAISE(ABORT, 'no'); END;",
        (_, false) => "DROP TRIGGER refuse_key;",
    };
    db.execute_unprepared(sql).await.unwrap();
}

on_both_databases!(
    a_user_whose_first_key_cannot_be_written_is_not_created_and_can_be_created_again,
    |app: TestApp| async move {
        let create = "mutation($org: ID!) { createUser(input: { organisationId: $org, role: GP_PRACTICE, \
            email: \"locum@longeaton.example\", name: \"Locum\" }) { user { id } apiToken } }";
        let org = json!({ "org": app.fixture.practice.id.to_string() });
        let users = "query($org: ID!) { users(organisationId: $org) { email } }";
        let before = app.ok(&app.tokens.admin, users, org.clone()).await;
        refuse_new_keys(&app, true).await;
        let failed = app.graphql(Some(&app.tokens.admin), create, org.clone()).await;
        assert_eq!(failed.code(), Some("INTERNAL"), "{failed:?}");
        refuse_new_keys(&app, false).await;
        assert_eq!(app.ok(&app.tokens.admin, users, org.clone()).await, before, "no user without a key");
        let created = app.ok(&app.tokens.admin, create, org).await;
        app.ok(created["createUser"]["apiToken"].as_str().unwrap(), ME, json!({})).await;
    }
);

on_both_databases!(
    the_operations_guides_offboarding_and_rotation_examples_work_as_written,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let rotated =
            app.ok(&t.provider, &doc_operation("operations.md", "RotateMyKey"), json!({ "label": "laptop" })).await;
        let token = rotated["issueApiKey"]["apiToken"].as_str().unwrap().to_owned();
        let keys = app.ok(&token, &doc_operation("operations.md", "MyKeys"), json!({})).await;
        assert_eq!(keys["me"]["apiKeys"].as_array().unwrap().len(), 2);
        let user = app.fixture.provider_user.id.to_string();
        app.ok(&t.admin, &doc_operation("operations.md", "DisableUser"), json!({ "userId": user })).await;
        assert_eq!(app.graphql(Some(&token), ME, json!({})).await.code(), Some("UNAUTHENTICATED"));
    }
);

const CREATE_ORGANISATION: &str = "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) { organisation { id meshMailboxId } } }";
const UPDATE_ORGANISATION: &str = "mutation($input: UpdateOrganisationInput!) { updateOrganisation(input: $input) { organisation { id name meshMailboxId } } }";

on_both_databases!(an_admin_gives_a_practice_its_mesh_mailbox_changes_it_and_removes_it, |app: TestApp| async move {
    let t = app.tokens.clone();
    let created = app
            .ok(
                &t.admin,
                CREATE_ORGANISATION,
                json!({ "input": { "kind": "GP_PRACTICE", "name": "Draycott Surgery", "odsCode": "C81699",
                                   "linkWorkerServiceId": app.fixture.service.id.to_string(), "meshMailboxId": " x26abc3 " } }),
            )
            .await;
    let practice = created["createOrganisation"]["organisation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["createOrganisation"]["organisation"]["meshMailboxId"], "X26ABC3");
    let changed = app
        .ok(
            &t.admin,
            UPDATE_ORGANISATION,
            json!({ "input": { "organisationId": practice, "meshMailboxId": "X26ABC2" } }),
        )
        .await;
    assert_eq!(changed["updateOrganisation"]["organisation"]["meshMailboxId"], "X26ABC2");
    assert_eq!(changed["updateOrganisation"]["organisation"]["name"], "Draycott Surgery", "the rest stays");
    let bad = app
        .graphql(
            Some(&t.admin),
            UPDATE_ORGANISATION,
            json!({ "input": { "organisationId": practice, "meshMailboxId": "X26-ABC2" } }),
        )
        .await;
    assert_eq!((bad.code(), bad.field()), (Some("VALIDATION"), Some("meshMailboxId")));
    let removed = app
        .ok(&t.admin, UPDATE_ORGANISATION, json!({ "input": { "organisationId": practice, "meshMailboxId": "" } }))
        .await;
    assert_eq!(removed["updateOrganisation"]["organisation"]["meshMailboxId"], Value::Null);
    let unknown = app
        .graphql(
            Some(&t.admin),
            UPDATE_ORGANISATION,
            json!({ "input": { "organisationId": uuid::Uuid::now_v7().to_string(), "name": "X" } }),
        )
        .await;
    assert_eq!(unknown.code(), Some("NOT_FOUND"));
});

const FIRST_CONTACT_SETTING: &str = "mutation($input: UpdateOrganisationInput!) { updateOrganisation(input: $input) { organisation { id gpMessageAtFirstContact } } }";

on_both_databases!(
    only_a_link_worker_service_turns_on_the_message_back_at_first_contact_and_only_an_admin_may,
    |app: TestApp| async move {
        let t = app.tokens.clone();
        let service = app.fixture.service.id.to_string();
        let on = json!({ "input": { "organisationId": service, "gpMessageAtFirstContact": true } });
        let set = app.ok(&t.admin, FIRST_CONTACT_SETTING, on.clone()).await;
        assert_eq!(set["updateOrganisation"]["organisation"]["gpMessageAtFirstContact"], true);
        let renamed = json!({ "input": { "organisationId": service, "name": "Erewash Social Prescribing" } });
        let kept = app.ok(&t.admin, FIRST_CONTACT_SETTING, renamed).await;
        assert_eq!(kept["updateOrganisation"]["organisation"]["gpMessageAtFirstContact"], true, "absent stays");
        let refused = app.graphql(Some(&t.link_worker), FIRST_CONTACT_SETTING, on).await;
        assert_eq!(refused.code(), Some("FORBIDDEN"), "an admin's setting");

        let practice = app.fixture.practice.id.to_string();
        let on_a_practice = json!({ "input": { "organisationId": practice, "gpMessageAtFirstContact": true } });
        let bad = app.graphql(Some(&t.admin), FIRST_CONTACT_SETTING, on_a_practice).await;
        assert_eq!((bad.code(), bad.field()), (Some("VALIDATION"), Some("gpMessageAtFirstContact")));
        let create =
            "mutation($input: CreateOrganisationInput!) { createOrganisation(input: $input) { organisation { id } } }";
        let new_practice = json!({ "input": { "kind": "GP_PRACTICE", "name": "Draycott Surgery", "odsCode": "C81699",
                                              "linkWorkerServiceId": service, "gpMessageAtFirstContact": true } });
        let bad = app.graphql(Some(&t.admin), create, new_practice).await;
        assert_eq!((bad.code(), bad.field()), (Some("VALIDATION"), Some("gpMessageAtFirstContact")));
    }
);
