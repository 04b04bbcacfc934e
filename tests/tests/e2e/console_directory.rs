//! The network lead's directory management in the console over HTTP, on both databases: the list with
//! its search, provider filter and paging; adding a service (every mistake shown, nothing stored on
//! error); saving details and capacity against the version read, a stale version refused with what was
//! typed kept; and the pages in Chromium under axe-core with a network lead's whole journey.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use chrono::{TimeDelta, Utc};
use reqwest::StatusCode;
use trellis_domain::ServiceId;
use trellis_store::audit::AuditFilter;
use trellis_store::directory::{Capacity, NewService, Service};
use trellis_tests::console::{session_for, sign_in_path};
use trellis_tests::link_pages::{get, post, same_origin};
use trellis_tests::{TestApp, run_node, screenshot_dir};

/// Adds a service for the fixture's provider, its capacity confirmed `days_ago`.
async fn add(app: &TestApp, name: &str, days_ago: i64) -> Service {
    let now = Utc::now();
    let new = NewService {
        capacity: Some(Capacity {
            available: 2,
            maximum: 8,
            unit: "places".into(),
            status: trellis_domain::directory::CapacityStatus::Open,
            updated_at: now - TimeDelta::days(days_ago),
        }),
        ..trellis_store::testing::plain_service(app.fixture.provider.id, name, "A service for the test.", "befriending")
    };
    app.store.create_service(new, now).await.unwrap()
}

/// The ids of the services a list page links to, in order.
fn listed_ids(body: &str) -> Vec<String> {
    body.match_indices("<td><a href=\"/directory/services/")
        .map(|(i, m)| body[i + m.len()..].chars().take_while(|c| *c != '"').collect())
        .collect()
}

/// The whole form of a new service, correct, with `changes` over it.
fn new_service_form<'a>(provider: &'a str, csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("provider", provider),
        ("name", "Chair yoga"),
        ("description", "Gentle yoga sitting down."),
        ("email", "yoga@provider.example"),
        ("url", "https://yoga.example/chair"),
        ("taxonomy_physical_activity", "yes"),
        ("taxonomy_mental_health_peer_support", "yes"),
        ("min_age", "50"),
        ("max_age", ""),
        ("eligibility", "Anyone over 50"),
        ("schedule", "Thursdays 2pm"),
        ("place_name", "St John's hall"),
        ("place_postcode", "ng10 1aa"),
        ("place_latitude", "52.9"),
        ("place_longitude", "-1.27"),
        ("available", "4"),
        ("maximum", "12"),
        ("unit", "places"),
        ("capacity_status", "open"),
    ];
    for (name, value) in changes {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    form
}

on_both_databases!(
    the_directory_lists_services_with_provider_listing_and_capacity_and_searches_by_name_and_provider,
    |app: TestApp| async move {
        let f = &app.fixture;
        let stale = add(&app, "Stale supper club", 400).await;
        let unlisted = add(&app, "Retired knitting circle", 0).await;
        let lead = trellis_domain::Actor::user(f.network_lead.id, f.network_lead.role, f.network_lead.organisation);
        let changes = trellis_store::directory::ServiceChanges {
            status: Some(trellis_domain::directory::ServiceStatus::Inactive),
            ..Default::default()
        };
        app.store.update_service(&lead, unlisted.id, unlisted.version, changes, Utc::now()).await.unwrap();
        let session = session_for(&app, f.network_lead.id).await;

        let list = get(&app, "/directory", Some(&session)).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert!(list.body.contains("<a href=\"/directory\">Directory</a>"), "the lead's header links to it");
        let text = list.text();
        assert!(text.contains("Long Eaton Walking Group") && text.contains(&f.provider.name));
        assert!(text.contains("5 of 20 places free"), "the walking group's capacity");
        assert_eq!(listed_ids(&list.body).len(), 3, "listed and unlisted services alike");
        let row = |id: ServiceId| {
            let at = list.body.find(&format!("/directory/services/{}", id.0)).unwrap();
            list.body[at..].split("</tr>").next().unwrap().to_owned()
        };
        assert!(row(unlisted.id).contains("Not listed"));
        assert!(!row(f.walking_group.id).contains("Not listed"));
        assert!(row(stale.id).contains("Stale"), "capacity older than the policy allows is stale");
        assert!(!row(f.walking_group.id).contains("Stale"));

        let found = get(&app, "/directory?q=SUPPER", Some(&session)).await;
        assert_eq!(listed_ids(&found.body), [stale.id.0.to_string()]);
        let other = get(&app, &format!("/directory?provider={}", f.practice.id.0), Some(&session)).await;
        assert!(listed_ids(&other.body).is_empty(), "a practice runs no services");
        assert!(other.text().contains("No services match"));
        let theirs = get(&app, &format!("/directory?q=walking&provider={}", f.provider.id.0), Some(&session)).await;
        assert_eq!(listed_ids(&theirs.body), [f.walking_group.id.0.to_string()]);
    }
);

on_both_databases!(
    the_directory_shows_fifty_services_to_a_page_and_the_next_page_continues,
    |app: TestApp| async move {
        for i in 0..55 {
            add(&app, &format!("Group {i:02}"), 0).await;
        }
        let session = session_for(&app, app.fixture.network_lead.id).await;
        let first = get(&app, "/directory?q=group", Some(&session)).await;
        let first_ids = listed_ids(&first.body);
        assert_eq!(first_ids.len(), 50);
        // The link is HTML: its `&` is escaped.
        let marker = "<p><a href=\"/directory?q=group&#38;after=";
        let start = first.body.find(marker).expect("a next page link") + "<p><a href=\"".len();
        let next = first.body[start..].split('"').next().unwrap().replace("&#38;", "&");
        let second = get(&app, &next, Some(&session)).await;
        let second_ids = listed_ids(&second.body);
        assert_eq!(second_ids.len(), 6, "the rest: five groups and the walking group, whose name has \"Group\" too");
        assert!(second_ids.iter().all(|id| !first_ids.contains(id)), "none repeated");
        assert!(second.body.contains("Back to the first page"));
        assert!(!second.body.contains("after="), "no page after the last");
    }
);

on_both_databases!(
    adding_a_service_with_mistakes_shows_each_error_by_its_field_stores_nothing_and_keeps_what_was_typed,
    |app: TestApp| async move {
        let f = &app.fixture;
        let session = session_for(&app, f.network_lead.id).await;
        let form = get(&app, "/directory/services/new", Some(&session)).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.text().contains(&f.provider.name), "the provider organisations are offered");
        let csrf = form.csrf_field();
        let provider = f.provider.id.0.to_string();
        let before = app.store.services_of(f.provider.id).await.unwrap().len();

        let wrong = new_service_form(
            &provider,
            &csrf,
            &[("name", "  "), ("url", "yoga.example"), ("place_postcode", "NOT A POSTCODE"), ("maximum", "3")],
        );
        let refused = post(&app, "/directory/services/new", Some(&session), &wrong, &same_origin(&app)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let text = refused.text();
        assert!(text.contains("<title>Error: Add a service"), "the title says there is an error");
        for (href, message) in [
            ("#name", "Enter the service's name"),
            ("#url", "Enter a web address that starts with https:// or http://"),
            ("#place_postcode", "Enter a real postcode, like NG10 1AA"),
            ("#maximum", "Places in all must be at least the places free"),
        ] {
            assert!(text.contains(&format!("<a href=\"{href}\">{message}</a>")), "summary: {message}\n{text}");
            let inline = format!("id=\"{}-error\"><span class=\"visually-hidden\">Error:</span> {message}", &href[1..]);
            assert!(text.contains(&inline), "inline: {message}");
        }
        assert!(
            text.contains("value=\"Gentle yoga sitting down.\"")
                || text.contains(">Gentle yoga sitting down.</textarea>")
        );
        assert!(text.contains("value=\"NOT A POSTCODE\""), "what was typed is kept, wrong or not");
        assert!(text.contains("name=\"taxonomy_physical_activity\" value=\"yes\" checked"), "ticked boxes stay ticked");
        assert_eq!(app.store.services_of(f.provider.id).await.unwrap().len(), before, "nothing stored on error");

        let right = new_service_form(&provider, &csrf, &[]);
        let added = post(&app, "/directory/services/new", Some(&session), &right, &same_origin(&app)).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let id: uuid::Uuid =
            added.location().trim_start_matches("/directory/services/").split('?').next().unwrap().parse().unwrap();
        let service = app.store.service(ServiceId(id)).await.unwrap();
        assert_eq!(service.name, "Chair yoga");
        assert_eq!(service.organisation, f.provider.id);
        assert_eq!(service.email.as_deref(), Some("yoga@provider.example"));
        assert_eq!(service.taxonomy, ["mental_health_peer_support", "physical_activity"]);
        assert_eq!((service.min_age, service.max_age), (Some(50), None));
        assert_eq!(service.places[0].postcode.as_ref().unwrap().as_str(), "NG10 1AA");
        assert_eq!(service.places[0].latitude, Some(52.9));
        let capacity = service.capacity.unwrap();
        assert_eq!((capacity.available, capacity.maximum, capacity.status.as_str()), (4, 12, "open"));
        let shown = get(&app, added.location(), Some(&session)).await;
        assert!(shown.text().contains("The service was added."));
        let filter = AuditFilter { actor: Some(f.network_lead.id), limit: 100, ..Default::default() };
        let audit = app.store.audit_log(&filter).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "service.created"), "the addition is audited");
    }
);

on_both_databases!(
    details_and_capacity_save_against_the_version_read_and_a_stale_version_keeps_what_was_typed_and_saves_nothing,
    |app: TestApp| async move {
        let f = &app.fixture;
        let session = session_for(&app, f.network_lead.id).await;
        let path = format!("/directory/services/{}", f.walking_group.id.0);
        let opened = get(&app, &path, Some(&session)).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
        let csrf = opened.csrf_field();
        let version = opened.hidden_field("version").unwrap();
        assert_eq!(version, f.walking_group.version.to_string());
        assert!(opened.body.contains("value=\"Long Eaton Walking Group\""), "the details are in the form");
        assert!(
            opened.text().contains("Only the provider or an administrator can change where offers are emailed"),
            "the network lead is shown the email, not given a field"
        );

        // Capacity first: saved, and the version moves on.
        let capacity = [
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("available", "0"),
            ("maximum", "20"),
            ("unit", "places"),
            ("capacity_status", "waitlist"),
        ];
        let saved = post(&app, &format!("{path}/capacity"), Some(&session), &capacity, &same_origin(&app)).await;
        assert_eq!(
            (saved.status, saved.location()),
            (StatusCode::SEE_OTHER, format!("{path}?saved=capacity").as_str())
        );
        let now = app.store.service(f.walking_group.id).await.unwrap();
        let c = now.capacity.as_ref().unwrap();
        assert_eq!((c.available, c.status.as_str()), (0, "waitlist"));
        assert_eq!(now.version, f.walking_group.version + 1);

        // The details form was read before that: refused, nothing saved, the typing kept.
        let details = [
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("listed", "active"),
            ("name", "Long Eaton Walking Group (Tuesdays)"),
            ("description", "Walks in the park."),
            ("taxonomy_physical_activity", "yes"),
            ("place_name", "West Park"),
            ("place_postcode", "NG10 4AA"),
            ("email", "someone.else@elsewhere.example"),
        ];
        let stale = post(&app, &path, Some(&session), &details, &same_origin(&app)).await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        let text = stale.text();
        assert!(text.contains("Someone else changed this service"));
        assert!(text.contains("value=\"Long Eaton Walking Group (Tuesdays)\""), "what was typed is kept");
        assert!(text.contains(&format!("<a href=\"{path}\">Reload the service</a>")));
        assert!(stale.hidden_field("version").unwrap() == version, "sending it again is refused again");
        let unchanged = app.store.service(f.walking_group.id).await.unwrap();
        assert_eq!(unchanged.name, "Long Eaton Walking Group");
        assert_eq!(unchanged.version, now.version);

        // From the reloaded page the change saves; the email the lead may not set is left alone.
        let reloaded = get(&app, &path, Some(&session)).await;
        let fresh = reloaded.hidden_field("version").unwrap();
        let mut again = details.to_vec();
        again.retain(|(n, _)| *n != "version");
        again.push(("version", &fresh));
        let done = post(&app, &path, Some(&session), &again, &same_origin(&app)).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let changed = app.store.service(f.walking_group.id).await.unwrap();
        assert_eq!(changed.name, "Long Eaton Walking Group (Tuesdays)");
        assert_eq!(changed.email, f.walking_group.email, "the lead does not choose where offers are emailed");
        assert_eq!(changed.places[0].postcode.as_ref().unwrap().as_str(), "NG10 4AA");
        assert_eq!(changed.capacity.as_ref().unwrap().available, 0, "capacity untouched by the details form");
    }
);

on_both_databases!(
    a_capacity_with_mistakes_is_refused_by_each_field_and_a_forged_post_changes_nothing,
    |app: TestApp| async move {
        let f = &app.fixture;
        let session = session_for(&app, f.network_lead.id).await;
        let path = format!("/directory/services/{}", f.walking_group.id.0);
        let opened = get(&app, &path, Some(&session)).await;
        let csrf = opened.csrf_field();
        let version = opened.hidden_field("version").unwrap();
        let wrong =
            [("csrf", csrf.as_str()), ("version", &version), ("available", "many"), ("maximum", ""), ("unit", "")];
        let refused = post(&app, &format!("{path}/capacity"), Some(&session), &wrong, &same_origin(&app)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let text = refused.text();
        for message in [
            "Places free must be a whole number, 0 or more",
            "Enter how many places there are in all",
            "Select whether the service is taking people",
        ] {
            assert!(text.contains(message), "{message}");
        }
        assert!(text.contains("value=\"many\""));
        let cross_site = [("origin", "https://evil.example".to_owned()), ("sec-fetch-site", "cross-site".into())];
        let right = [
            ("csrf", csrf.as_str()),
            ("version", &version),
            ("available", "1"),
            ("maximum", "2"),
            ("capacity_status", "open"),
        ];
        let forged = post(&app, &format!("{path}/capacity"), Some(&session), &right, &cross_site).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let service = app.store.service(f.walking_group.id).await.unwrap();
        assert_eq!((service.version, service.capacity.unwrap().available), (f.walking_group.version, 5));
    }
);

on_both_databases!(
    staff_who_do_not_manage_services_cannot_add_or_change_them_from_the_console,
    |app: TestApp| async move {
        let f = &app.fixture;
        let session = session_for(&app, f.gp.id).await;
        let list = get(&app, "/directory", Some(&session)).await;
        assert_eq!(list.status, StatusCode::OK, "the directory is readable, as through the API");
        assert!(!list.body.contains("Add a service"));
        assert!(!list.body.contains("<a href=\"/directory\">Directory</a>"), "not in a practice's header");
        let form = get(&app, "/directory/services/new", Some(&session)).await;
        assert_eq!(form.status, StatusCode::FORBIDDEN);
        let csrf = list.csrf_field();
        let provider = f.provider.id.0.to_string();
        let before = app.store.services_of(f.provider.id).await.unwrap().len();
        let attempt = new_service_form(&provider, &csrf, &[]);
        let refused = post(&app, "/directory/services/new", Some(&session), &attempt, &same_origin(&app)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(app.store.services_of(f.provider.id).await.unwrap().len(), before);
        let path = format!("/directory/services/{}", f.walking_group.id.0);
        assert_eq!(get(&app, &path, Some(&session)).await.status, StatusCode::FORBIDDEN);
        let version = f.walking_group.version.to_string();
        let capacity = [
            ("csrf", csrf.as_str()),
            ("version", &version),
            ("available", "0"),
            ("maximum", "1"),
            ("capacity_status", "closed"),
        ];
        let changed = post(&app, &format!("{path}/capacity"), Some(&session), &capacity, &same_origin(&app)).await;
        assert_eq!(changed.status, StatusCode::FORBIDDEN);
        assert_eq!(app.store.service(f.walking_group.id).await.unwrap().version, f.walking_group.version);
        assert_eq!(get(&app, "/directory", None).await.location(), "/sign-in", "signed out, sent to sign in");
    }
);

on_both_databases!(
    the_directory_pages_pass_axe_wcag_22_aa_and_a_network_lead_adds_a_service_fixing_a_mistake_then_changes_its_capacity,
    |app: TestApp| async move {
        let f = &app.fixture;
        add(&app, "Stale supper club", 400).await;
        let path = sign_in_path(&app, f.network_lead.id).await;
        let backend = match app.store.backend() {
            sea_orm::DatabaseBackend::Postgres => "postgres",
            _ => "sqlite",
        };
        let dir = screenshot_dir("console-directory", backend);
        let config = serde_json::json!({
            "url": app.base_url,
            "signInPath": path,
            "provider": f.provider.name,
            "walkingGroupId": f.walking_group.id.0.to_string(),
            "outDir": dir,
        });
        let output = tokio::task::spawn_blocking(move || run_node("console-directory.mjs", &[&config.to_string()]))
            .await
            .expect("node");
        let report: serde_json::Value = serde_json::from_str(output.trim().lines().last().unwrap()).expect(&output);
        assert_eq!(report["violations"], serde_json::json!([]), "axe-core found violations: {report:#}");
        assert_eq!(report["failedRequests"], serde_json::json!([]), "no failed requests");
        let services = app.store.services_of(f.provider.id).await.unwrap();
        let added = services.iter().find(|s| s.name == "Men's shed").expect("the service the lead added");
        assert_eq!(added.places[0].postcode.as_ref().unwrap().as_str(), "NG10 2BB");
        let c = added.capacity.as_ref().unwrap();
        assert_eq!((c.available, c.maximum, c.status.as_str()), (3, 10, "waitlist"), "the capacity the lead set last");
        for shot in ["01-directory", "02-new-service-error", "03-service", "04-service-capacity-error", "05-conflict"] {
            assert!(dir.join(format!("{shot}.png")).exists(), "screenshot {shot} missing");
        }
    }
);
