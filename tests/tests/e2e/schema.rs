//! The GraphQL contract: the checked-in SDL matches the code, an independent implementation accepts it,
//! and a third-party client can drive the running server.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use trellis_tests::{Backend, TestApp, repo_root, run_node};

#[test]
fn the_checked_in_sdl_matches_the_schema_in_the_code() {
    let path = repo_root().join("graphql/schema.graphql");
    let committed = std::fs::read_to_string(&path).expect("graphql/schema.graphql");
    let generated = trellis_api::schema::sdl();
    assert!(
        committed == generated,
        "graphql/schema.graphql has drifted from the code; regenerate it with \
         `cargo run -p trellis -- export-schema --out graphql/schema.graphql` and review the diff"
    );
}

#[test]
fn graphql_js_builds_and_validates_the_checked_in_sdl() {
    let path = repo_root().join("graphql/schema.graphql");
    let out = run_node("validate-sdl.mjs", &[path.to_str().expect("utf-8 path")]);
    assert!(out.contains("\"mutations\""), "{out}");
}

async fn drive_with_graphql_request(backend: Backend) {
    // A third-party client starts with the standard introspection query: switched on for it.
    let settings = trellis_api::ApiSettings { introspection: true, ..trellis_api::ApiSettings::default() };
    let app = TestApp::spawn_with(backend, settings).await;
    let url = format!("{}/graphql", app.base_url);
    let (gp, lw) = (app.tokens.gp.clone(), app.tokens.link_worker.clone());
    let out =
        tokio::task::spawn_blocking(move || run_node("graphql-request-client.mjs", &[&url, &gp, &lw])).await.unwrap();
    assert!(out.contains("\"ok\":true"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_client_drives_the_server_on_sqlite() {
    drive_with_graphql_request(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_client_drives_the_server_on_postgres() {
    drive_with_graphql_request(Backend::Postgres).await;
}
