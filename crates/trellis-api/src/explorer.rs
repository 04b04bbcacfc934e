//! GraphiQL, the GraphQL ecosystem's explorer, served at `GET /graphql` from the binary itself.
//!
//! The stock GraphiQL page loads React and GraphiQL from a CDN, so it renders blank on an NHS network
//! or a laptop with no internet access. Here the built files of the `graphiql` npm package and the
//! React UMD builds it runs on are vendored in `assets/graphiql/` (with their licences and a README
//! naming the versions) and compiled into the binary, so the page needs nothing but Trellis. It gives
//! schema documentation, completion, history and a headers editor, where a person pastes their bearer
//! token.
//!
//! Off unless switched on (`--demo` does), assets included: a deployment with the explorer off serves
//! no GraphiQL at all. The page has a policy of its own: scripts and style sheets run only if they carry
//! the nonce fresh for each response, and every one of them is served by Trellis; no `eval`, no inline
//! style attributes, requests to Trellis only, no framing. The assets' URLs carry a hash of their
//! content, so they can be cached for a year and a new build is still fetched at once.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;

/// One file served under `/graphql/assets/`.
struct Asset {
    /// Its file name in the URL (and in `assets/`).
    name: &'static str,
    /// What the browser is told it is: a script with the wrong type is refused under `nosniff`.
    content_type: &'static str,
    /// The file, compiled in.
    bytes: &'static [u8],
}

/// Everything the page loads, in the order it loads them: React before ReactDOM before GraphiQL (the
/// UMD builds find each other as globals), and Trellis's own start-up script last.
const ASSETS: [Asset; 6] = [
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "explorer.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/explorer.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "explorer.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/explorer.js"),
    },
];

/// How long a browser may keep an asset: a year, as its URL changes whenever its content does.
const CACHE_FOR_A_YEAR: &str = "public, max-age=31536000, immutable";

/// Each asset's URL, `/graphql/assets/<name>?v=<the first 16 hex digits of its SHA-256>`, worked out
/// once.
static URLS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = hex::encode(Sha256::digest(asset.bytes));
            format!("/graphql/assets/{}?v={}", asset.name, &digest[..16])
        })
        .collect()
});

/// The explorer's routes: the page and its assets. `POST /graphql` is added beside them by the router.
pub fn routes() -> Router<AppState> {
    Router::new().route("/graphql/assets/{name}", get(asset))
}

/// `GET /graphql`: the explorer, unless switched off.
pub async fn page(State(state): State<AppState>) -> Response {
    if !state.settings.explorer {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let nonce = hex::encode(bytes);
    let mut response = Html(html(&nonce)).into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy(&nonce)) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `GET /graphql/assets/{name}`: one of the page's files, with its type and a year's caching. The
/// `v` in the URL is not checked: it is there only to make a new build's URLs new.
pub async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    if !state.settings.explorer {
        return StatusCode::NOT_FOUND.into_response();
    }
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
                (CACHE_CONTROL, HeaderValue::from_static(CACHE_FOR_A_YEAR)),
            ],
            asset.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The explorer's policy. Scripts and style sheets by `nonce` only (each is a file Trellis serves; the
/// nonce also lets GraphiQL's dialogs add the `<style>` element they need), fonts from the style
/// sheet's own `data:` URLs, images from Trellis or `data:`, requests to Trellis only, no framing.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; font-src data:; \
         img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; \
         frame-ancestors 'none'"
    )
}

/// The page: a title, a mount point, and the assets by `nonce`. The blank `data:` icon keeps the
/// browser from asking for a `/favicon.ico` that is not there (a 404 in the console).
fn html(nonce: &str) -> String {
    let mut head = String::new();
    for (asset, url) in ASSETS.iter().zip(URLS.iter()) {
        if asset.name.ends_with(".css") {
            head.push_str(&format!("<link rel=\"stylesheet\" href=\"{url}\" nonce=\"{nonce}\">\n"));
        } else {
            head.push_str(&format!("<script src=\"{url}\" nonce=\"{nonce}\" defer></script>\n"));
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Trellis GraphQL explorer</title>\n<link rel=\"icon\" href=\"data:,\">\n{head}</head>\n<body>\n\
         <main id=\"graphiql\"><h1>Trellis GraphQL explorer</h1>\
         <p>GraphiQL is loading. It needs JavaScript.</p></main>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_in_the_page_with_the_nonce_and_a_content_hash() {
        let page = html("abc");
        for url in URLS.iter() {
            assert!(page.contains(&format!("\"{url}\" nonce=\"abc\"")), "{url} in {page}");
            assert!(url.contains("?v="), "{url}");
        }
        assert!(!page.contains("http://") && !page.contains("https://"), "no external assets: {page}");
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_no_eval() {
        let policy = policy("abc");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(policy.contains("script-src 'nonce-abc';"), "{policy}");
        assert!(policy.contains("connect-src 'self';"), "{policy}");
    }
}
