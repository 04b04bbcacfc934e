//! What every page behind a link (and the network page) is made with: the headers, rendering askama
//! templates, the plain pages for a link that cannot be used or a failure, redirects, cookies, dates,
//! and request logs that never hold a link's token.
//!
//! The kit depends on no page and on no other part of [`super`] but [`super::csrf`]'s refusals, so each
//! page, and the guard that counts failed links, imports it without a circle.

use askama::Template;
use axum::extract::Path;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, REFERRER_POLICY, SET_COOKIE, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::MakeSpan;
use trellis_store::links::LinkError;

use super::csrf;
use crate::AppState;

/// The pages' policy: nothing may load but its own inline styles, forms post only to Trellis, and no
/// other site may frame it.
pub(crate) const CONTENT_SECURITY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers of a page behind a link: never cached, no referrer, not indexed, the
/// [`CONTENT_SECURITY`] policy, no framing and no type sniffing.
pub(crate) fn with_page_headers(router: Router<AppState>) -> Router<AppState> {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let router = router
        .layer(header(CACHE_CONTROL, "no-store"))
        .layer(header(REFERRER_POLICY, "no-referrer"))
        .layer(header(HeaderName::from_static("x-robots-tag"), "noindex"))
        .layer(header(CONTENT_SECURITY_POLICY, CONTENT_SECURITY));
    router
        .layer(header(X_FRAME_OPTIONS, "DENY"))
        .layer(header(HeaderName::from_static("x-content-type-options"), "nosniff"))
}

/// Marks a response as the "not valid" page of a link that could not be used: put in the response's
/// extensions by [`invalid_link`], read by [`super::guard`], never sent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InvalidLink;

/// What the page shows for a link that cannot be used, whatever the reason: unknown, altered or expired.
#[derive(Template)]
#[template(path = "provider_link_invalid.html")]
pub(crate) struct InvalidLinkPage;

/// What a malformed request or a failure gets.
#[derive(Template)]
#[template(path = "provider_problem.html")]
pub(crate) struct ProblemPage {
    pub heading: &'static str,
    pub message: &'static str,
}

/// A day as people in the UK write it: `Monday 7 December 2026`.
///
/// UTC, like the offer emails, so the page and the email name the same day: Trellis serves one locality
/// in England, where UTC is at most an hour off local time.
pub(crate) fn day(at: DateTime<Utc>) -> String {
    at.format("%A %-d %B %Y").to_string()
}

/// The value of the cookie `name`, if the request carries a plausible one (a prefix and hex digits).
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, value)| {
            *n == name && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .map(|(_, value)| value.to_owned())
}

/// Renders a page (see [`render`]) that sets the anti-forgery cookie: `set_cookie` is the header's value.
pub(crate) fn render_with_cookie(status: StatusCode, page: &impl askama::Template, set_cookie: &str) -> Response {
    let mut response = render(status, page);
    if let Ok(cookie) = HeaderValue::from_str(set_cookie) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// `303 See Other` to `location`, a page's own path with a token the store just accepted (so the prefix
/// and hex digits only); the plain "not valid" page should it not make a header.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
        Err(_) => invalid_link(),
    }
}

/// What a link that cannot be used gets ([`invalid_link`]), or a store failure while using one
/// ([`failure`]).
pub(crate) fn link_failed(e: LinkError) -> Response {
    match e {
        LinkError::Invalid => invalid_link(),
        LinkError::Store(e) => failure(&e),
    }
}

/// The one page for every link that cannot be used. `404` whatever the reason, so that an expired
/// link cannot be told from one that never existed. Marked ([`InvalidLink`]) for [`super::guard`], which counts
/// and audits failed attempts per client address.
pub(crate) fn invalid_link() -> Response {
    let mut response = render(StatusCode::NOT_FOUND, &InvalidLinkPage);
    response.extensions_mut().insert(InvalidLink);
    response
}

/// A link page's form, as its refusals speak of it: the same page for every link's form that may have
/// been forged, in that form's words.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkForm {
    /// Names the form in the log (`offer`, `capacity`).
    pub name: &'static str,
    /// What a provider sends with it (`answer`, `update`).
    pub sends: &'static str,
    /// The page it must be sent from (`its own offer page`).
    pub from: &'static str,
    /// What to do instead, as a sentence.
    pub instead: &'static str,
}

/// What a refused (possibly forged) `POST` from a link page gets, in its form's words.
#[derive(Template)]
#[template(path = "link_refused.html")]
struct RefusedPage {
    form: LinkForm,
}

/// A link page's `POST`, checked for forgery first ([`csrf::check_form`], on the form's `csrf` field) and
/// then for a token in its path: the form, its anti-forgery token and the link's token, or the answer to
/// give instead: for a `POST` that may be forged, the refusal logged and `403` with the page saying
/// nothing was saved and what to do (in `link_form`'s words); for a bad path, the "not valid" page.
pub(crate) fn checked_post<F: AntiForgery>(
    state: &AppState,
    headers: &HeaderMap,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<F>, FormRejection>,
    link_form: LinkForm,
) -> Result<(F, String, String), Box<Response>> {
    let (form, csrf) = csrf::check_form(headers, &state.settings.public_base_url, form, F::csrf)
        .map_err(|refusal| Box::new(refused(refusal, link_form.name, &RefusedPage { form: link_form })))?;
    let Ok(Path(token)) = token else { return Err(Box::new(invalid_link())) };
    Ok((form, csrf, token))
}

/// A form that carries the anti-forgery field.
pub(crate) trait AntiForgery {
    /// The form's anti-forgery field, as sent.
    fn csrf(&self) -> Option<&str>;
}

/// A `POST` that may be forged (see [`csrf`]): logged with why, and `page` (saying nothing was saved and
/// what to do) with `403`. `form` names the form in the log.
pub(crate) fn refused(refusal: csrf::Refusal, form: &str, page: &impl Template) -> Response {
    tracing::warn!(reason = refusal.as_str(), form, "refused a POST that may be forged");
    render(StatusCode::FORBIDDEN, page)
}

/// A plain page saying what went wrong and what to do.
pub(crate) fn problem(status: StatusCode, heading: &'static str, message: &'static str) -> Response {
    render(status, &ProblemPage { heading, message })
}

/// The store failed: logged here (never the token), and a plain page for the provider.
pub(crate) fn failure(e: &trellis_store::StoreError) -> Response {
    if matches!(e, trellis_store::StoreError::Contended) {
        tracing::warn!("provider page: an answer met another change saved at the same moment and was not saved");
        return problem(
            StatusCode::CONFLICT,
            "Your answer was not saved",
            "Someone else was saving a change to this referral at the same moment. Please open the link again \
             and send your answer again.",
        );
    }
    tracing::error!(error = %e, "provider page: the store failed");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, something went wrong",
        "Your answer may not have been saved. Please try again in a few minutes: opening the link again \
         shows what was saved.",
    )
}

/// Renders a page with `status`, or a bare `500` if the template fails.
pub(crate) fn render(status: StatusCode, page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "provider page: a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Sorry, something went wrong.").into_response()
        }
    }
}

/// Makes the request span of [`tower_http::trace::TraceLayer`] like its default does (method, URI,
/// version, at `DEBUG`), but with a provider link's token replaced by `[redacted]`, so that no log holds
/// a live link: `TraceLayer::new_for_http().make_span_with(RedactedSpan)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RedactedSpan;

impl<B> MakeSpan<B> for RedactedSpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        tracing::debug_span!(
            "request",
            method = %request.method(),
            uri = %redacted_uri(request.uri()),
            version = ?request.version(),
        )
    }
}

/// A request URI as it may be logged: the token of an `/offers/{token}` (or capacity link's
/// `/capacity/{token}`) path replaced by `[redacted]`.
pub fn redacted_uri(uri: &Uri) -> String {
    let path = uri.path();
    let shown = ["/offers/", "/capacity/", "/sign-in/"]
        .into_iter()
        .find_map(|prefix| {
            let rest = path.strip_prefix(prefix).filter(|rest| !rest.is_empty())?;
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            Some(format!("{prefix}[redacted]{tail}"))
        })
        .unwrap_or_else(|| path.to_owned());
    match uri.query() {
        Some(query) => format!("{shown}?{query}"),
        None => shown,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn days_are_written_the_uk_way() {
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0).unwrap();
        assert_eq!(day(at), "Monday 7 December 2026");
    }

    #[test]
    fn a_logged_uri_never_holds_a_link_token() {
        let uri: Uri = "http://t.example/offers/tro_abc123?done=accepted".parse().unwrap();
        assert_eq!(redacted_uri(&uri), "/offers/[redacted]?done=accepted");
        assert_eq!(redacted_uri(&"/offers/tro_abc/x".parse().unwrap()), "/offers/[redacted]/x");
        assert_eq!(
            redacted_uri(&"/capacity/trc_abc123?done=updated".parse().unwrap()),
            "/capacity/[redacted]?done=updated"
        );
        assert_eq!(redacted_uri(&"/graphql?x=1".parse().unwrap()), "/graphql?x=1");
        assert_eq!(redacted_uri(&"/offers/".parse().unwrap()), "/offers/");
    }
}
