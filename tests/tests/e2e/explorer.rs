//! GraphiQL at `GET /graphql`: off unless switched on, served whole from the binary under a strict policy,
//! and usable in a real browser (schema documentation, completion, a query run with a pasted token) with
//! no failed request, no console error and no WCAG 2.2 AA violation that axe-core can find.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use serde_json::{Value, json};
use trellis_api::ApiSettings;
use trellis_tests::{Backend, TestApp, repo_root, run_node};

fn switched_on() -> ApiSettings {
    ApiSettings { explorer: true, introspection: true, ..ApiSettings::default() }
}

/// The URLs of the page's scripts and style sheets, in the order they appear.
fn asset_urls(page: &str) -> Vec<String> {
    page.split(['"']).filter(|part| part.starts_with("/graphql/assets/")).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_and_introspection_are_off_unless_switched_on_and_the_explorer_needs_no_internet() {
    let app = TestApp::spawn_with(Backend::Sqlite, switched_on()).await;
    let response = app.client().get(format!("{}/graphql", app.base_url)).send().await.unwrap();
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let page = response.text().await.unwrap();
    assert!(page.contains("<title>Trellis GraphQL explorer</title>"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"), "no external assets");
    // Its own policy: only scripts and style sheets carrying a nonce fresh for each response, no eval.
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap();
    assert!(nonce.len() >= 32, "{policy}");
    assert!(policy.contains(&format!("script-src 'nonce-{nonce}';")), "{policy}");
    assert!(policy.contains("connect-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
    assert!(!page.contains("<script>") && !page.contains("<style"), "no inline script or style");
    assert_eq!(
        page.matches("<script src=").count(),
        page.matches(&format!("nonce=\"{nonce}\" defer></script>")).count()
    );
    let again = app.client().get(format!("{}/graphql", app.base_url)).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(nonce), "a fresh nonce each time");

    // Every asset is served by Trellis, with its type, and kept for a year: its URL changes with it.
    let urls = asset_urls(&page);
    assert_eq!(urls.len(), 6, "{page}");
    for url in &urls {
        assert!(url.contains("?v="), "{url}");
        let asset = app.client().get(format!("{}{url}", app.base_url)).send().await.unwrap();
        assert_eq!(asset.status().as_u16(), 200, "{url}");
        let kind = asset.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = if url.contains(".css") { "text/css" } else { "text/javascript" };
        assert!(kind.starts_with(expected), "{url}: {kind}");
        assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable", "{url}");
        assert!(!asset.bytes().await.unwrap().is_empty(), "{url}");
    }
    let unknown = app.client().get(format!("{}/graphql/assets/secrets.txt", app.base_url)).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let introspect = app.graphql(Some(&app.tokens.gp), "{ __schema { queryType { name } } }", json!({})).await;
    assert!(introspect.errors.is_empty());

    // By default (no --demo, nothing switched on) all of it is off, the assets too.
    let locked = TestApp::spawn(Backend::Sqlite).await;
    let status = locked.client().get(format!("{}/graphql", locked.base_url)).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 404);
    let asset = locked.client().get(format!("{}{}", locked.base_url, urls[0])).send().await.unwrap().status();
    assert_eq!(asset.as_u16(), 404, "no GraphiQL at all while the explorer is off");
    let refused = locked.graphql(Some(&locked.tokens.gp), "{ __schema { queryType { name } } }", json!({})).await;
    assert!(refused.data["__schema"].is_null(), "introspection is off and reveals nothing: {:?}", refused.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_shows_the_schema_completes_and_runs_a_query_with_a_pasted_token_in_chromium_with_nothing_failing() {
    let app = TestApp::spawn_with(Backend::Sqlite, switched_on()).await;
    let out_dir = repo_root().join("target/test-output/explorer");
    std::fs::create_dir_all(&out_dir).unwrap();
    let (url, token, dir) =
        (format!("{}/graphql", app.base_url), app.tokens.gp.clone(), out_dir.to_str().unwrap().to_owned());
    let out = tokio::task::spawn_blocking(move || run_node("explorer-page.mjs", &[&url, &token, &dir])).await.unwrap();
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();

    assert_eq!(report["failedRequests"], json!([]), "{report}");
    assert_eq!(report["consoleErrors"], json!([]), "{report}");
    assert_eq!(report["external"], json!([]), "nothing is fetched from anywhere but Trellis: {report}");
    let fields = report["queryFields"].as_array().unwrap();
    for field in ["me", "referrals", "referral", "findServices", "network"] {
        assert!(fields.contains(&json!(field)), "the documentation lists Query.{field}: {report}");
    }
    let completions = report["completions"].as_array().unwrap();
    assert!(completions.contains(&json!("referrals")), "typing `refer` offers `referrals`: {report}");
    assert_eq!(report["result"]["data"]["me"]["user"]["role"], json!("GP_PRACTICE"), "{report}");
    assert!(report["authorizedPosts"].as_u64().unwrap() >= 1, "the pasted token was sent: {report}");
    let dialog_styles = report["dialogStyles"].as_array().unwrap();
    assert!(!dialog_styles.is_empty() && dialog_styles.iter().all(|s| s == &json!(true)), "{report}");
    assert_eq!(report["violations"], json!([]), "axe-core, WCAG 2.2 AA: {report}");
    assert!(out_dir.join("explorer.png").exists());
}
