//! Protection against cross-site request forgery for the provider page's forms.
//!
//! The page has no session to bind a token to (the provider has no account), so it uses a double-submit
//! token: a random value in a `SameSite=Strict; HttpOnly` cookie set when the page is shown, repeated in
//! a hidden field of every form. Another site can make a browser send the form, but it can neither read
//! nor set the cookie, so it cannot make the two agree. On top of that, a POST is refused when the
//! browser itself says it comes from another site (`Sec-Fetch-Site: cross-site`) or names an `Origin`
//! other than Trellis's own.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, ORIGIN};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// The cookie holding the token.
pub(crate) const COOKIE_NAME: &str = "trellis_offer_csrf";

/// The form field repeating it.
pub(crate) const FIELD_NAME: &str = "csrf";

/// Hex characters in a token (256 random bits).
const TOKEN_HEX_LEN: usize = 64;

/// Why a POST was refused (for the log; the response says the same for all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `Sec-Fetch-Site: cross-site`.
    CrossSite,
    /// An `Origin` other than the configured public base URL's.
    ForeignOrigin,
    /// No token cookie.
    MissingCookie,
    /// No token field, or a body that is not a form.
    MissingField,
    /// Cookie and field disagree.
    Mismatch,
}

impl Refusal {
    /// A short name for the log.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CrossSite => "cross_site",
            Self::ForeignOrigin => "foreign_origin",
            Self::MissingCookie => "missing_cookie",
            Self::MissingField => "missing_field",
            Self::Mismatch => "mismatch",
        }
    }
}

/// A fresh random token.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_HEX_LEN / 2];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_HEX_LEN && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The token in the request's cookie, if it carries a well-formed one.
pub(crate) fn from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && well_formed(value))
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value carrying `token` for the offer page (`/offers`). `Secure` when Trellis is served
/// over HTTPS.
pub(crate) fn set_cookie(token: &str, public_base_url: &str) -> String {
    cookie_for_path(token, "/offers", public_base_url)
}

/// The `Set-Cookie` value carrying `token`, sent only to pages under `path`. `Secure` when Trellis is
/// served over HTTPS.
pub(crate) fn cookie_for_path(token: &str, path: &str, public_base_url: &str) -> String {
    let secure = if public_base_url.to_ascii_lowercase().starts_with("https://") { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; Path={path}; HttpOnly; SameSite=Strict{secure}")
}

/// Checks what the browser says about where a POST comes from, before the body is read.
pub(crate) fn check_headers(headers: &HeaderMap, public_base_url: &str) -> Result<(), Refusal> {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase());
    if fetch_site.as_deref() == Some("cross-site") {
        return Err(Refusal::CrossSite);
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().unwrap_or("").trim();
        let same_origin = origin_of(public_base_url).is_some_and(|own| normalise_origin(origin) == Some(own));
        // A browser serialises the origin of a POST as `null` when the page's referrer policy is
        // `no-referrer`, as this page's is. Sec-Fetch-Site, which web content cannot set, still tells the
        // truth then: accept `null` only when it says the form came from Trellis itself.
        let null_from_self = origin == "null" && fetch_site.as_deref() == Some("same-origin");
        if !(same_origin || null_from_self) {
            return Err(Refusal::ForeignOrigin);
        }
    }
    Ok(())
}

/// Checks that the form's token is the cookie's, in constant time. Returns the token.
pub(crate) fn check_token(headers: &HeaderMap, field: Option<&str>) -> Result<String, Refusal> {
    let cookie = from_cookie(headers).ok_or(Refusal::MissingCookie)?;
    let field = field.map(str::trim).filter(|f| !f.is_empty()).ok_or(Refusal::MissingField)?;
    if field.len() == cookie.len() && bool::from(field.as_bytes().ct_eq(cookie.as_bytes())) {
        Ok(cookie)
    } else {
        Err(Refusal::Mismatch)
    }
}

/// Checks a `POST` for forgery, in order: what the browser says about where it comes from, then that
/// its body is the page's form, then that the form's token (its anti-forgery `field`) is the cookie's.
/// Returns the form and the token.
pub(crate) fn check_form<F>(
    headers: &HeaderMap,
    public_base_url: &str,
    form: Result<Form<F>, FormRejection>,
    field: impl FnOnce(&F) -> Option<&str>,
) -> Result<(F, String), Refusal> {
    check_headers(headers, public_base_url)?;
    let Ok(Form(form)) = form else { return Err(Refusal::MissingField) };
    let token = check_token(headers, field(&form))?;
    Ok((form, token))
}

/// `scheme://host[:port]` of a base URL, lower-cased, without a default port: what a browser sends as
/// `Origin` for pages under it.
pub(crate) fn origin_of(base_url: &str) -> Option<String> {
    let (scheme, rest) = base_url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    normalise_origin(&format!("{scheme}://{authority}"))
}

fn normalise_origin(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    if authority.is_empty() || authority.contains(['/', '@', ' ']) {
        return None;
    }
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const BASE: &str = "https://Trellis.example.nhs.uk:443/app/";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn the_origin_of_a_base_url_drops_its_path_case_and_default_port() {
        assert_eq!(origin_of(BASE).as_deref(), Some("https://trellis.example.nhs.uk"));
        assert_eq!(origin_of("http://127.0.0.1:8080").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin_of("not a url"), None);
    }

    #[test]
    fn a_post_from_another_site_is_refused_whatever_its_token() {
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(check_headers(&cross, BASE), Err(Refusal::CrossSite));
        let foreign = headers(&[("origin", "https://evil.example")]);
        assert_eq!(check_headers(&foreign, BASE), Err(Refusal::ForeignOrigin));
        let lookalike = headers(&[("origin", "https://trellis.example.nhs.uk.evil.example")]);
        assert_eq!(check_headers(&lookalike, BASE), Err(Refusal::ForeignOrigin));
        let null_cross = headers(&[("origin", "null"), ("sec-fetch-site", "same-site")]);
        assert_eq!(check_headers(&null_cross, BASE), Err(Refusal::ForeignOrigin));
        let null_unattested = headers(&[("origin", "null")]);
        assert_eq!(check_headers(&null_unattested, BASE), Err(Refusal::ForeignOrigin));
    }

    #[test]
    fn a_post_from_trellis_itself_passes_the_header_checks() {
        assert_eq!(check_headers(&headers(&[]), BASE), Ok(()));
        let own = headers(&[("origin", "https://trellis.example.nhs.uk"), ("sec-fetch-site", "same-origin")]);
        assert_eq!(check_headers(&own, BASE), Ok(()));
        let no_referrer = headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]);
        assert_eq!(check_headers(&no_referrer, BASE), Ok(()));
    }

    #[test]
    fn the_token_must_be_in_both_the_cookie_and_the_field_and_agree() {
        let token = new_token();
        let other = new_token();
        assert_ne!(token, other);
        let cookie = format!("theme=dark; {COOKIE_NAME}={token}");
        let with_cookie = headers(&[("cookie", &cookie)]);
        assert_eq!(check_token(&with_cookie, Some(&token)), Ok(token.clone()));
        assert_eq!(check_token(&with_cookie, Some(&other)), Err(Refusal::Mismatch));
        assert_eq!(check_token(&with_cookie, Some(&token[..10])), Err(Refusal::Mismatch));
        assert_eq!(check_token(&with_cookie, None), Err(Refusal::MissingField));
        assert_eq!(check_token(&headers(&[]), Some(&token)), Err(Refusal::MissingCookie));
        let malformed = headers(&[("cookie", "trellis_offer_csrf=abc")]);
        assert_eq!(check_token(&malformed, Some("abc")), Err(Refusal::MissingCookie));
    }

    #[test]
    fn the_cookie_is_strict_http_only_scoped_to_offers_and_secure_over_https() {
        let c = set_cookie("ab", BASE);
        assert_eq!(c, "trellis_offer_csrf=ab; Path=/offers; HttpOnly; SameSite=Strict; Secure");
        assert!(!set_cookie("ab", "http://127.0.0.1:8080").contains("Secure"));
    }
}
