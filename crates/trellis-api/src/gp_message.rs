//! The message back to the GP as a download: `GET /referrals/{id}/gp-message.pdf`, for the referring
//! practice (and the link worker service) once the referral has closed.
//!
//! Signed in with the same bearer token as GraphQL (rate limited the same way) or, from a browser, with the
//! web console's session; the read of the referral is audited like any other. Anyone who may not read the referral gets `404`, as for an id that does not
//! exist; one who may read it but not the message (the referral is still open) gets `404` too.

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use trellis_domain::plan::{PlanAccess, plan_access};

use crate::AppState;
use crate::auth::{self, RateLimiter};

/// Answers with a plain status and no body worth reading.
pub(crate) fn status(code: StatusCode) -> Response {
    (code, code.canonical_reason().unwrap_or_default()).into_response()
}

/// Who is downloading: the bearer token's caller (rate limited as GraphQL is) or, from a browser, the
/// console's signed-in user; otherwise the response to send (`401`, `429`, `503`). Shared by every
/// download (the message back to the GP, the reports' CSV files).
pub(crate) async fn download_actor(
    state: &AppState,
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
) -> Result<trellis_domain::Actor, Response> {
    let address = RateLimiter::address_key(peer.ip());
    let actor = match auth::bearer_token(headers) {
        Some(token) => {
            let actor = match auth::caller(&state.store, headers).await.map(|c| c.actor()) {
                Ok(Ok(actor)) => actor,
                Ok(Err(_)) | Err(crate::error::ApiError::Unauthenticated) => {
                    if !state.limiter.check(&address) {
                        return Err(status(StatusCode::TOO_MANY_REQUESTS));
                    }
                    return Err(status(StatusCode::UNAUTHORIZED));
                }
                Err(_) => return Err(status(StatusCode::SERVICE_UNAVAILABLE)),
            };
            if !state.limiter.check(&RateLimiter::token_key(token)) {
                return Err(status(StatusCode::TOO_MANY_REQUESTS));
            }
            actor
        }
        // A browser signed in to the console downloads it from the referral's page.
        None => match crate::console::signed_in(state, headers).await {
            Ok(Some(staff)) => staff.actor(),
            Ok(None) => {
                if !state.limiter.check(&address) {
                    return Err(status(StatusCode::TOO_MANY_REQUESTS));
                }
                return Err(status(StatusCode::UNAUTHORIZED));
            }
            Err(response) => return Err(response),
        },
    };
    Ok(actor)
}

/// `GET /referrals/{id}/gp-message.pdf`.
pub async fn pdf(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let actor = match download_actor(&state, peer, &headers).await {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let Ok(referral) = id.parse() else { return status(StatusCode::NOT_FOUND) };
    let now = Utc::now();
    let record = match state.store.referral(&actor, referral, now).await {
        Ok(record) => record,
        Err(trellis_store::StoreError::NotFound) => return status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, "could not read a referral for its message back");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    if plan_access(&actor, &record.state) == PlanAccess::Nothing {
        return status(StatusCode::NOT_FOUND);
    }
    let message = match state.store.gp_message_of(&record, now).await {
        Ok(Some(message)) => message,
        Ok(None) => return status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, "could not assemble a message back");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let body = trellis_gp_message::pdf::render(&message);
    let disposition = format!("attachment; filename=\"social-prescribing-outcome-{}.pdf\"", message.id);
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
