//! The pages behind the links in providers' emails: the offer page (`/offers/{token}`) and the capacity
//! page (`/capacity/{token}`), made with one kit.
//!
//! A provider has no account: the link is its only key, to one offer or one service (the store's
//! `links`). Opening a page changes nothing; acting is a `POST` from the page, checked for forgery
//! first; every link that cannot be used gets the same plain page; and failed attempts are counted per
//! client address.
//!
//! # Layout
//! Imports point one way, from the pages to the kit: `offer`, `capacity`, `guard` → `kit` → `csrf`.
//! - [`kit`]: headers, rendering, the plain pages, redirects, cookies, dates, redacted request logs.
//! - [`csrf`]: the double-submit token and the `Sec-Fetch-Site` / `Origin` checks.
//! - [`guard`]: failed link attempts, counted per client address, audited and limited.
//! - [`offer`]: the offer page.
//! - [`capacity`]: the capacity page.

pub mod capacity;
pub(crate) mod csrf;
pub mod guard;
pub(crate) mod kit;
pub mod offer;

use axum::Router;

pub use kit::{RedactedSpan, redacted_uri};

use crate::AppState;

/// The link pages' routes, with the guard that counts failed links around them.
pub fn routes(state: AppState) -> Router<AppState> {
    offer::routes().merge(capacity::routes()).layer(axum::middleware::from_fn_with_state(state, guard::guard))
}
