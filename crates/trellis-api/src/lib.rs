//! The Trellis API: a GraphQL schema for the three journeys (GP practice, link worker, network lead),
//! the axum router that serves it with authentication and limits, and the provider's offer pages.
//!
//! The schema is built apart from the transport: [`schema::schema_builder`] needs no database, so the
//! SDL can be exported and checked in; [`router`] wires it to HTTP with a [`Store`].
//!
//! # Layout
//! - [`settings`]: what a deployment can tune (limits, explorer, introspection, timers).
//! - [`error`]: typed GraphQL errors with `extensions.code`.
//! - [`auth`]: bearer tokens, the caller, and per-token rate limiting.
//! - [`schema`]: queries, mutations and the GraphQL types converted from domain and store types.
//! - [`explorer`]: GraphiQL at `GET /graphql`, its assets compiled in, so it works with no internet access.
//! - [`gp_message`]: the message back to the GP as a PDF download, once a referral has closed.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`console`]: the staff web console, signed in by an emailed link.
//! - [`network`]: the network view: its GraphQL query (one area, a page at a time, from the offer
//!   rollups) and the `/network` page.
//! - [`oruk`]: the directory as a public Open Referral UK 3.0 API.
//! - [`referral_input`]: a submitted referral's text parsed once, for the API and the console's form.
//! - [`link_pages`]: the provider's offer and capacity pages behind email links, their kit (headers,
//!   templates, forgery checks) and the guard counting failed links.
//! - [`security_headers`]: the headers every response carries (no sniffing, no framing, no caching, HSTS).
//! - [`service_input`]: a directory service's text parsed once, for the API and the console's forms.

pub mod auth;
pub mod console;
pub mod error;
pub mod explorer;
pub mod gp_message;
pub mod health;
pub mod link_pages;
pub mod network;
pub mod oruk;
pub mod referral_input;
pub mod reports;
pub mod schema;
pub mod security_headers;
pub mod service_input;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use trellis_store::Store;

pub use settings::ApiSettings;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Deployment settings.
    pub settings: Arc<ApiSettings>,
    /// The GraphQL schema, with the store and settings as data.
    pub schema: schema::TrellisSchema,
    /// Per-token request limiter.
    pub limiter: Arc<auth::RateLimiter>,
    /// Failed provider-link attempts per client address. Shared state, like [`AppState::limiter`], so
    /// every clone of the state counts into the same buckets.
    pub link_guard: Arc<link_pages::guard::LinkGuard>,
    /// Sign-in attempts (`/network`, the console) per client address.
    pub sign_ins: Arc<auth::RateLimiter>,
    /// Console sign-in links asked for, per address typed.
    pub sign_in_emails: Arc<auth::RateLimiter>,
    /// Turns to build an impact report ([`reports::turn`]).
    pub reports: Arc<tokio::sync::Semaphore>,
    /// GraphQL documents already parsed, by their text.
    pub documents: Arc<schema::documents::Documents>,
}

impl AppState {
    /// Builds the state for a store and settings.
    pub fn new(store: Store, settings: ApiSettings) -> Self {
        let settings = Arc::new(settings);
        let schema = schema::build_schema(store.clone(), settings.clone());
        let limiter = Arc::new(auth::RateLimiter::new(settings.rate_limit_per_minute));
        let link_guard = Arc::new(link_pages::guard::LinkGuard::new());
        let sign_ins = Arc::new(auth::RateLimiter::new(settings.sign_in_per_minute));
        let sign_in_emails = Arc::new(auth::RateLimiter::sign_in_emails());
        let reports = Arc::new(tokio::sync::Semaphore::new(reports::REPORTS_AT_ONCE));
        AppState {
            store,
            settings,
            schema,
            limiter,
            link_guard,
            sign_ins,
            sign_in_emails,
            reports,
            documents: Arc::default(),
        }
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit_bytes;
    let timeout = Duration::from_secs(state.settings.request_timeout_secs);
    Router::new()
        .route("/graphql", get(explorer::page).post(schema::graphql_handler))
        .route("/referrals/{id}/gp-message.pdf", get(gp_message::pdf))
        .route("/reports/{file}", get(reports::csv::download))
        .merge(explorer::routes())
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .merge(link_pages::routes(state.clone()))
        .merge(oruk::routes())
        .merge(network::page::routes())
        .merge(reports::page::routes())
        .merge(console::routes())
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(TraceLayer::new_for_http().make_span_with(link_pages::RedactedSpan))
        // Outermost, so that the limits' own refusals (413, 408) carry the headers too.
        .layer(axum::middleware::map_response_with_state(state, security_headers::add))
}

/// Serves the router on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
