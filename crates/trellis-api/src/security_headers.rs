//! Headers every response carries, whatever route made it.
//!
//! - `X-Content-Type-Options: nosniff`, and no framing by another site (`X-Frame-Options: DENY`, and
//!   `frame-ancestors 'none'` in a default `Content-Security-Policy` that loads nothing).
//! - `Referrer-Policy: no-referrer`: a page's address may hold a link's secret.
//! - `Cache-Control: no-store`: GraphQL answers, the link pages and the network page carry personal or
//!   operational data that no browser or proxy should keep. The only exception is the public Open
//!   Referral UK directory (`/oruk`), which says its own.
//! - `Strict-Transport-Security` when Trellis is reached over HTTPS.
//!
//! A route that sets one of these itself (the pages' own policies, the explorer's script policy) keeps
//! its own: defaults are only added where a header is missing.

use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

use crate::AppState;

/// The policy of a response that does not say: load nothing, be framed by no one.
pub const DEFAULT_CONTENT_SECURITY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// One year, as HSTS preload lists expect.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the defaults to `response`.
pub async fn add(State(state): State<AppState>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    let mut default = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    default(X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(X_FRAME_OPTIONS, "DENY");
    default(REFERRER_POLICY, "no-referrer");
    default(CACHE_CONTROL, "no-store");
    default(CONTENT_SECURITY_POLICY, DEFAULT_CONTENT_SECURITY);
    if state.settings.is_https() {
        default(STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}
