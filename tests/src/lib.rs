#![allow(clippy::expect_used, clippy::unwrap_used, reason = "test support: a broken harness must fail the test loudly")]

//! Support for end-to-end tests: the real server, spawned on `127.0.0.1:0` with a database of its own
//! (a fresh SQLite file or a fresh PostgreSQL database), and a small GraphQL client; a real SMTP server
//! ([`maildev`]), and a browser-like client for the pages behind an email link ([`link_pages`]).
//!
//! Logs are silent unless `TEST_LOG=1`.

pub mod console;
pub mod link_pages;
pub mod maildev;
mod node;
pub mod service_versions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Once;

pub use node::run_node;
use serde_json::{Value, json};
use trellis_api::{ApiSettings, AppState};
use trellis_domain::policy::Policy;
use trellis_store::Store;
pub use trellis_store::testing::{Backend, Fixture, TestDb};

/// Bearer tokens for every fixture user.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// GP at the fixture's practice.
    pub gp: String,
    /// GP at the other practice.
    pub other_gp: String,
    /// Link worker at the fixture's service.
    pub link_worker: String,
    /// Link worker at the other service.
    pub other_link_worker: String,
    /// Provider user.
    pub provider: String,
    /// Network lead.
    pub network_lead: String,
    /// Administrator.
    pub admin: String,
}

/// A running server with its own database.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Direct access to its database.
    pub store: Store,
    /// The locality it was seeded with.
    pub fixture: Fixture,
    /// Tokens for the fixture's users.
    pub tokens: Tokens,
    /// Its settings.
    pub settings: ApiSettings,
    /// Its turns to build an impact report (`AppState::reports`).
    pub reports: std::sync::Arc<tokio::sync::Semaphore>,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _db: TestDb,
}

/// A GraphQL response.
#[derive(Debug, Clone)]
pub struct GqlResponse {
    /// The HTTP status.
    pub status: u16,
    /// `data`, or `null`.
    pub data: Value,
    /// `errors`, possibly empty.
    pub errors: Vec<Value>,
}

impl GqlResponse {
    /// The first error's `extensions.code`.
    pub fn code(&self) -> Option<&str> {
        self.errors.first()?.pointer("/extensions/code")?.as_str()
    }

    /// The first error's `extensions.field`.
    pub fn field(&self) -> Option<&str> {
        self.errors.first()?.pointer("/extensions/field")?.as_str()
    }
}

/// Starts test logging once, if `TEST_LOG` is set.
pub fn init_test_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_env_filter("info,sqlx=warn").with_test_writer().try_init();
        }
    });
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

impl TestApp {
    /// Spawns the server on `backend` with default settings.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, ApiSettings::default()).await
    }

    /// Spawns the server on `backend` with `settings`.
    pub async fn spawn_with(backend: Backend, settings: ApiSettings) -> TestApp {
        Self::spawn_with_policy(backend, settings, Policy::default()).await
    }

    /// Spawns the server on `backend` with `settings`, its store following `policy`.
    pub async fn spawn_with_policy(backend: Backend, mut settings: ApiSettings, policy: Policy) -> TestApp {
        init_test_logging();
        let (db, store) = TestDb::migrated(backend).await;
        let store = store.with_policy(policy);
        let fixture = Fixture::create(&store).await;
        let token = |user: &trellis_store::accounts::User| {
            let store = store.clone();
            let id = user.id;
            async move { store.issue_api_key(id, "test", chrono::Utc::now()).await.expect("token").token }
        };
        let tokens = Tokens {
            gp: token(&fixture.gp).await,
            other_gp: token(&fixture.other_gp).await,
            link_worker: token(&fixture.link_worker).await,
            other_link_worker: token(&fixture.other_link_worker).await,
            provider: token(&fixture.provider_user).await,
            network_lead: token(&fixture.network_lead).await,
            admin: token(&fixture.admin).await,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let base_url = format!("http://{address}");
        settings.public_base_url = base_url.clone();
        let state = AppState::new(store.clone(), settings.clone());
        let reports = state.reports.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = trellis_api::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        TestApp {
            address,
            base_url,
            store,
            fixture,
            tokens,
            settings,
            reports,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            _db: db,
        }
    }

    /// The HTTP client the app's helpers use.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a GraphQL operation as `token` (anonymous when `None`).
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> GqlResponse {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON body");
        GqlResponse {
            status,
            data: body.get("data").cloned().unwrap_or(Value::Null),
            errors: body.get("errors").and_then(Value::as_array).cloned().unwrap_or_default(),
        }
    }

    /// Sends an operation that must succeed, returning `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.graphql(Some(token), query, variables).await;
        assert!(response.errors.is_empty(), "unexpected errors: {:#?}", response.errors);
        response.data
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A fresh, empty folder for a browser test's screenshots: `test-output/<page>/<backend>` in the target
/// folder.
pub fn screenshot_dir(page: &str, backend: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"));
    let dir = target.join("test-output").join(page).join(backend);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Reads a named GraphQL operation from a fenced ```graphql block in a document under `docs/`, so that
/// the examples people read are the ones the tests run.
pub fn doc_operation(doc: &str, name: &str) -> String {
    let path = repo_root().join("docs").join(doc);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.split("```graphql")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| {
            block.split_whitespace().collect::<Vec<_>>().windows(2).any(|w| {
                matches!(w[0], "query" | "mutation") && (w[1] == name || w[1].starts_with(&format!("{name}(")))
            })
        })
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no operation {name} in {}", path.display()))
}

/// Runs an async test body against a freshly spawned app, once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await;
                ($body)(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let app = $crate::TestApp::spawn($crate::Backend::Postgres).await;
                ($body)(app).await;
            }
        }
    };
}

/// Runs `async fn $body(backend: Backend)` once on SQLite and once on PostgreSQL, for tests that want a
/// database (and its address) rather than a running server.
#[macro_export]
macro_rules! on_both_backends {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$body($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$body($crate::Backend::Postgres).await
            }
        }
    };
}
