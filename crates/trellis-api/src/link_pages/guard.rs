//! Guessing at provider links: failed attempts at `/offers/{token}` and `/capacity/{token}` are counted
//! per client address, audited, and refused with `429` past a limit.
//!
//! A link's token carries 256 random bits, so guessing one is hopeless whatever this module does; what it
//! bounds is what a scanner hammering junk (or long-dead) links can cost: audit rows, log lines and page
//! renders, and it makes the probing visible to whoever reads the audit log.
//!
//! # Decisions
//! - **Only failures count.** A link that opens or acts is not counted, and still works for an address
//!   that is over the limit. Providers reach Trellis from shared addresses (a council or charity network
//!   behind one NAT, a mail-security gateway that pre-opens every link in an organisation's inbox): a
//!   scanner on the same address must not lock a provider out of answering an offer. The cost is that
//!   an address over the limit can still tell a live link (`200`) from a dead one (`429`), exactly as it
//!   could before the limit (`200` against `404`): with 256-bit tokens that tells a guesser nothing.
//! - **The limit**: [`MAX_FAILED_ATTEMPTS`] per [`WINDOW`] per address, as a token bucket that refills
//!   one attempt every `WINDOW / MAX_FAILED_ATTEMPTS`. The offer page and the capacity page share it: a
//!   scanner is a scanner.
//! - **The refusal** is one plain page, the same for `GET` and `POST` and for every token, with
//!   `Retry-After`: it says nothing about whether any link exists. It is only ever given instead of the
//!   "not valid" page, so a refused request has already been looked up and changed nothing.
//! - **The address** is the TCP peer, as for the GraphQL limiter. IPv6 addresses count by their `/64`,
//!   which one client usually holds whole. Behind a reverse proxy every client shares the proxy's
//!   address: junk from anyone then reaches the limit sooner, and, as valid links are never refused, no
//!   provider is locked out by it.
//! - **The audit**: each counted failure is an entry (`offer.link_rejected`, `service.link_rejected`);
//!   once an address is over the limit, one entry per address per window says so
//!   (`offer.link_rate_limited`, `service.link_rate_limited`) instead of one per request, so a flood
//!   cannot grow the audit log without bound. Entries are recorded by the system actor (no party is known)
//!   and never hold the token or the address: only a pseudonym of the address, a keyed hash whose key
//!   lives in this process's memory, so entries from one address can be told apart from another's but
//!   not traced back to it (an unkeyed hash of an IPv4 address is reversed by trying all 2³² of them).
//! - **The state** lives in [`crate::AppState`], in memory: per process, lost on restart. A restart
//!   gives a scanner a fresh allowance, which costs nothing that matters.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_LENGTH, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use rand::RngCore;
use sha2::{Digest, Sha256};
use trellis_domain::Actor;

use super::kit::{InvalidLink, ProblemPage, render};
use crate::AppState;

/// Failed link attempts allowed from one address in [`WINDOW`].
pub const MAX_FAILED_ATTEMPTS: u32 = 20;

/// The window [`MAX_FAILED_ATTEMPTS`] is counted over.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);

/// How many addresses may be tracked before those with nothing left to remember are dropped.
const MAX_TRACKED: usize = 100_000;

/// Which page a link is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LinkKind {
    /// `/offers/{token}`.
    Offer,
    /// `/capacity/{token}`.
    Capacity,
}

impl LinkKind {
    fn of(path: &str) -> Option<LinkKind> {
        if path.starts_with("/offers/") {
            Some(LinkKind::Offer)
        } else if path.starts_with("/capacity/") {
            Some(LinkKind::Capacity)
        } else {
            None
        }
    }

    fn rejected(self) -> &'static str {
        match self {
            LinkKind::Offer => "offer.link_rejected",
            LinkKind::Capacity => "service.link_rejected",
        }
    }

    fn rate_limited(self) -> &'static str {
        match self {
            LinkKind::Offer => "offer.link_rate_limited",
            LinkKind::Capacity => "service.link_rate_limited",
        }
    }
}

/// What is decided about one failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Within the limit: the "not valid" page, and an audit entry.
    Counted,
    /// Over the limit: `429`, waiting this long; `first` when this is the address's first refusal in
    /// the window (and so audited).
    Limited { retry_after: Duration, first: bool },
}

/// The failed-attempt counters, one per client address.
pub struct LinkGuard {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    refusals_audited: DefaultKeyedRateLimiter<IpAddr>,
    pseudonym_key: [u8; 32],
}

impl Default for LinkGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl LinkGuard {
    /// Counters with nothing counted yet, and a fresh key for address pseudonyms.
    pub fn new() -> Self {
        let burst = NonZeroU32::new(MAX_FAILED_ATTEMPTS).unwrap_or(NonZeroU32::MIN);
        let failures = Quota::with_period(WINDOW / MAX_FAILED_ATTEMPTS)
            .map(|q| q.allow_burst(burst))
            .unwrap_or_else(|| Quota::per_minute(burst));
        let once = Quota::with_period(WINDOW).unwrap_or_else(|| Quota::per_hour(NonZeroU32::MIN));
        let mut pseudonym_key = [0u8; 32];
        rand::rng().fill_bytes(&mut pseudonym_key);
        LinkGuard {
            failures: governor::RateLimiter::keyed(failures),
            refusals_audited: governor::RateLimiter::keyed(once),
            pseudonym_key,
        }
    }

    /// Counts a failed attempt from `ip`.
    fn failed(&self, ip: IpAddr) -> Verdict {
        let key = client_key(ip);
        let verdict = match self.failures.check_key(&key) {
            Ok(()) => Verdict::Counted,
            Err(not_until) => Verdict::Limited {
                retry_after: not_until.wait_time_from(self.failures.clock().now()),
                first: self.refusals_audited.check_key(&key).is_ok(),
            },
        };
        if self.failures.len() > MAX_TRACKED {
            self.failures.retain_recent();
            self.refusals_audited.retain_recent();
        }
        verdict
    }

    /// A stable pseudonym for `ip` in this process: a keyed hash, never the address.
    fn pseudonym(&self, ip: IpAddr) -> String {
        let mut hash = Sha256::new();
        hash.update(self.pseudonym_key);
        match client_key(ip) {
            IpAddr::V4(v4) => hash.update(v4.octets()),
            IpAddr::V6(v6) => hash.update(v6.octets()),
        }
        hex::encode(&hash.finalize()[..12])
    }
}

/// The address a client is counted under: IPv4 as it is (IPv4-mapped IPv6 as IPv4), IPv6 by its `/64`.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::from(u64::MAX)))),
        v4 => v4,
    }
}

/// Middleware for the link pages' routes: lets the page answer, then, if it was the "not valid" page,
/// counts and audits the failure, and past the limit answers `429` instead.
pub(crate) async fn guard(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let kind = LinkKind::of(request.uri().path());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let Some(kind) = kind.filter(|_| response.extensions().get::<InvalidLink>().is_some()) else {
        return response;
    };
    let guard = &state.link_guard;
    let client = guard.pseudonym(peer.ip());
    let verdict = guard.failed(peer.ip());
    let action = match verdict {
        Verdict::Counted => Some(kind.rejected()),
        Verdict::Limited { first: true, .. } => Some(kind.rate_limited()),
        Verdict::Limited { first: false, .. } => None,
    };
    if let Some(action) = action {
        let detail = serde_json::json!({ "client": client, "method": method });
        if let Err(e) = state.store.record_audit_detail(&Actor::system(), action, &detail, Utc::now()).await {
            // The answer stands: a failed audit write must not turn "not valid" into a failure page.
            tracing::error!(error = %e, action, "could not audit a refused provider link");
        }
    }
    match verdict {
        Verdict::Counted => response,
        Verdict::Limited { retry_after, first } => {
            if first {
                tracing::warn!(client = %client, "too many invalid provider links from one address: refusing");
            }
            too_many(response, retry_after)
        }
    }
}

/// The `429` page, in place of the "not valid" page `response`, whose headers it keeps.
fn too_many(response: Response, retry_after: Duration) -> Response {
    let page = render(
        StatusCode::TOO_MANY_REQUESTS,
        &ProblemPage {
            heading: "Too many attempts",
            message: "Too many links that could not be used have been opened from your network. Please \
                      wait a few minutes, then open the link in your email again.",
        },
    );
    let (mut parts, _) = response.into_parts();
    let (page_parts, body) = page.into_parts();
    parts.status = page_parts.status;
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(SET_COOKIE);
    parts.headers.extend(page_parts.headers);
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    parts.headers.insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    parts.extensions.remove::<InvalidLink>();
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_is_refused_after_the_limit_and_audited_once_when_it_is() {
        let guard = LinkGuard::new();
        for attempt in 0..MAX_FAILED_ATTEMPTS {
            assert_eq!(guard.failed(ip("203.0.113.7")), Verdict::Counted, "attempt {attempt}");
        }
        let Verdict::Limited { retry_after, first: true } = guard.failed(ip("203.0.113.7")) else {
            panic!("not limited")
        };
        assert!(retry_after > Duration::ZERO && retry_after <= WINDOW / MAX_FAILED_ATTEMPTS);
        assert!(matches!(guard.failed(ip("203.0.113.7")), Verdict::Limited { first: false, .. }));
        assert_eq!(guard.failed(ip("203.0.113.8")), Verdict::Counted, "another address has its own allowance");
    }

    #[test]
    fn an_ipv6_client_counts_by_its_slash_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), client_key(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(client_key(ip("2001:db8:1:2:aaaa::1")), client_key(ip("2001:db8:1:3::1")));
        assert_eq!(client_key(ip("::ffff:198.51.100.1")), ip("198.51.100.1"));
    }

    #[test]
    fn a_pseudonym_is_stable_per_address_and_never_the_address() {
        let guard = LinkGuard::new();
        let pseudonym = guard.pseudonym(ip("192.0.2.55"));
        assert_eq!(pseudonym, guard.pseudonym(ip("192.0.2.55")));
        assert_eq!(pseudonym.len(), 24, "96 bits of a keyed hash, in hex");
        assert_ne!(pseudonym, LinkGuard::new().pseudonym(ip("192.0.2.55")), "keyed per process");
    }
}
