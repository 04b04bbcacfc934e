//! Bearer-token authentication and rate limiting.
//!
//! A request is counted against its token only once the token has authenticated; anything else (no
//! token, a token nobody holds) is counted against the client's address (the TCP peer, IPv6 by its
//! `/64`). So a client cannot get a fresh budget by making up a token per request: made-up tokens all
//! draw on its address's budget, and once that is spent they get `429` instead of `401`.

use std::num::NonZeroU32;

use axum::http::HeaderMap;
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};
use trellis_domain::{Actor, Role};
use trellis_store::Store;
use trellis_store::accounts::Principal;

use crate::error::ApiError;

/// The caller of one request: signed in or anonymous.
#[derive(Clone, Debug)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// The principal, or `UNAUTHENTICATED`.
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.0.as_ref().ok_or(ApiError::Unauthenticated)
    }

    /// The domain actor, or `UNAUTHENTICATED`.
    pub fn actor(&self) -> Result<Actor, ApiError> {
        self.principal().map(Principal::actor)
    }

    /// The actor if it holds one of `roles`, else `FORBIDDEN` (or `UNAUTHENTICATED`).
    pub fn require(&self, roles: &[Role], action: &str) -> Result<Actor, ApiError> {
        let actor = self.actor()?;
        if roles.contains(&actor.role) { Ok(actor) } else { Err(ApiError::Forbidden(action.into())) }
    }
}

/// The bearer token in `Authorization`, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves the caller from the request headers. A token that does not resolve is an error, not an
/// anonymous caller, so a typo in a token is not mistaken for signing out.
pub async fn caller(store: &Store, headers: &HeaderMap) -> Result<Caller, ApiError> {
    match bearer_token(headers) {
        None => Ok(Caller(None)),
        Some(token) => match store.authenticate(token).await {
            Ok(Some(principal)) => Ok(Caller(Some(principal))),
            Ok(None) => Err(ApiError::Unauthenticated),
            Err(e) => Err(e.into()),
        },
    }
}

/// A keyed limiter: one bucket per token (by its hash) or per anonymous client address.
pub struct RateLimiter {
    inner: DefaultKeyedRateLimiter<String>,
}

impl RateLimiter {
    /// Allows `per_minute` requests a minute per key, with bursts up to that many.
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        RateLimiter { inner: governor::RateLimiter::keyed(Quota::per_minute(per_minute)) }
    }

    /// Sign-in links asked for one address: three at once, then one every five minutes.
    pub fn sign_in_emails() -> Self {
        let burst = NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(std::time::Duration::from_secs(300)).map(|q| q.allow_burst(burst));
        RateLimiter { inner: governor::RateLimiter::keyed(quota.unwrap_or(Quota::per_hour(burst))) }
    }

    /// Whether a request under `key` may go ahead now.
    pub fn check(&self, key: &str) -> bool {
        let allowed = self.inner.check_key(&key.to_owned()).is_ok();
        if self.inner.len() > 100_000 {
            self.inner.retain_recent();
        }
        allowed
    }

    /// The key of an authenticated token: a hash of it, never the token itself.
    pub fn token_key(token: &str) -> String {
        format!("t:{}", hex::encode(&Sha256::digest(token.as_bytes())[..12]))
    }

    /// The key of a client address, for whatever did not authenticate.
    pub fn address_key(peer: std::net::IpAddr) -> String {
        format!("a:{}", crate::link_pages::guard::client_key(peer))
    }
}
