//! The GraphQL schema, built apart from the web framework so its SDL can be produced with no database.
//!
//! # Layout
//!
//! One module per feature, each holding its own query and mutation parts, its object types and its
//! inputs; [`QueryRoot`] and [`MutationRoot`] merge them into the one `Query` and `Mutation`:
//!
//! - `referrals`: submitting, the caseload, one referral and every change on its way to closed;
//! - `offers`: offers to providers, their answers and progress, onward offers;
//! - `directory`: services, capacity and matching;
//! - `imports`: Open Referral UK import runs and their reports;
//! - `accounts`: the caller, organisations, users and API keys;
//! - `audit`: the audit log;
//! - `wellbeing`: the plan, the measures and the instruments;
//! - `gp_message`: the message back to the GP on a closed referral;
//! - the network view, whose query lives with its page in `crate::network`.
//!
//! `common` holds what they share (id arguments, paging, the enums more than one returns), [`cost`]
//! the limits checked before a document runs, [`documents`] the parsed documents kept for reuse, and
//! [`loaders`] the per-request batch loaders.

mod accounts;
mod audit;
mod common;
pub mod cost;
mod directory;
pub mod documents;
mod gp_message;
mod imports;
pub mod loaders;
mod offers;
mod referrals;
mod reports;
mod wellbeing;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Response, Schema, SchemaBuilder};
use async_graphql_axum::GraphQLRequest;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use trellis_store::Store;

/// Every query, feature by feature: accounts, referrals, offers, the directory and its import runs, the
/// audit log, the network and the instruments.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    accounts::AccountQuery,
    referrals::ReferralQuery,
    offers::OfferQuery,
    directory::DirectoryQuery,
    imports::ImportQuery,
    audit::AuditQuery,
    crate::network::graphql::NetworkQuery,
    wellbeing::WellbeingQuery,
    reports::ReportQuery,
);

/// Every mutation, feature by feature: referrals, offers, accounts, the directory, the plan's and
/// measures', and the message back to the GP's corrections.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    referrals::ReferralMutation,
    offers::OfferMutation,
    accounts::AccountMutation,
    directory::DirectoryMutation,
    wellbeing::WellbeingMutation,
    gp_message::GpMessageMutation,
);

use crate::auth::{self, RateLimiter};
use crate::{ApiSettings, AppState};

/// The Trellis schema.
pub type TrellisSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Depth and complexity limits: tight enough to refuse abusive queries, loose enough for standard
/// clients' introspection queries (which need depth ~15 and complexity in the hundreds).
pub const MAX_DEPTH: usize = 15;
/// See [`MAX_DEPTH`]. Lists count once per row their `first` asks for (a page of 100 audit entries
/// with their seven fields is about 1,200), so the budget is for rows × fields: a full page of a
/// dozen fields passes, a full page of everything a referral has does not.
pub const MAX_COMPLEXITY: usize = 2500;

/// The schema with its limits and no data: enough to print the SDL.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema as SDL, as checked in at `graphql/schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// The schema with its data.
pub fn build_schema(store: Store, settings: Arc<ApiSettings>) -> TrellisSchema {
    let builder = schema_builder().data(store).data(settings.clone());
    if settings.introspection { builder.finish() } else { builder.disable_introspection().finish() }
}

/// `POST /graphql`: rate limit, authenticate, execute. Batched requests are refused by the extractor.
pub async fn graphql_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> HttpResponse {
    let too_many =
        || error_response(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down and retry", "RATE_LIMITED");
    let address = RateLimiter::address_key(peer.ip());
    let token = auth::bearer_token(&headers);
    // Anonymous requests draw on the address's budget before anything else is done for them.
    if token.is_none() && !state.limiter.check(&address) {
        return too_many();
    }
    let mut request = request.into_inner();
    state.documents.parse(&mut request);
    // Refused before any token lookup or read: a document that fans out past the limits costs only its
    // parse (which execution reuses). One that does not parse is left for execution to explain.
    let mut report = false;
    if let Ok(document) = request.parsed_query() {
        if let Err(too_complex) = cost::check(document) {
            return error_response(StatusCode::OK, &too_complex.message(), QUERY_TOO_COMPLEX);
        }
        report = cost::selects_root_field(document, "impactReport");
    }
    let caller = match auth::caller(&state.store, &headers).await {
        Ok(caller) => caller,
        // Only a token that resolves to nobody is the caller's fault, and it is counted against the
        // address: made-up tokens get no budget of their own. A database that cannot be asked is ours,
        // and temporary: a 401 would tell a client its token is bad and not to retry.
        Err(e @ crate::error::ApiError::Unauthenticated) => {
            if !state.limiter.check(&address) {
                return too_many();
            }
            return error_response(StatusCode::UNAUTHORIZED, &e.to_string(), e.code());
        }
        Err(e) => return error_response(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), e.code()),
    };
    // A token's own budget, once it has shown whose it is.
    if let Some(token) = token.filter(|_| caller.0.is_some())
        && !state.limiter.check(&RateLimiter::token_key(token))
    {
        return too_many();
    }
    // Loaders live for this request only, so nothing one caller loaded is served to another.
    let (loaders, batches) = loaders::request_loaders(&state.store);
    let request = request.data(caller).data(loaders);
    // An impact report is built whole and large: a few at a time, each held to its last byte.
    let _report_turn = if report { Some(crate::reports::turn(&state.reports).await) } else { None };
    let execution = loaders::with_loaders(batches, state.schema.execute(request));
    let response = with_error_codes(trellis_store::audit::within_one_request(execution).await);
    async_graphql_axum::GraphQLResponse::from(response).into_response()
}

fn error_response(status: StatusCode, message: &str, code: &str) -> HttpResponse {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, Json(body)).into_response()
}

/// The code of a request refused for what it would cost: too many root fields or aliases
/// ([`cost::check`]), or over the complexity limit, where each list counts once per row its `first` asks.
pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";

/// async-graphql's message for a document over [`MAX_COMPLEXITY`].
const COMPLEXITY_REFUSAL: &str = "Query is too complex.";

/// Gives every error a code: resolver errors carry their own; a document over the complexity limit is
/// `QUERY_TOO_COMPLEX`; anything else was refused before execution (a parse error, an unknown field, a
/// wrong input type, a query too deep) and is `VALIDATION`.
///
/// Done on the finished response rather than in a schema extension: any extension puts every field's
/// resolution through the extension chain, which stood out in profiles of a 50-row caseload page.
pub fn with_error_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            let code = if error.message == COMPLEXITY_REFUSAL { QUERY_TOO_COMPLEX } else { "VALIDATION" };
            extensions.set("code", code);
        }
    }
    response
}
