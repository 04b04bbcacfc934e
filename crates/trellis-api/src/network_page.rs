//! `/network`: a page that shows the network to network leads and link workers — an SVG picture of
//! link worker services, providers and the flows of offers between them, and a capacity table.
//!
//! A browser cannot send a bearer header on navigation, so the person pastes their API token once into
//! a sign-in form. That opens a server-side session ([`trellis_store::sessions`]): the cookie holds only
//! a random session id (`HttpOnly; SameSite=Strict`, scoped to `/network`, `Secure` over HTTPS), never
//! the token. The session ends when idle, after an absolute limit, on sign-out, and at once when its
//! user is disabled or the key it was opened with is revoked; each request checks all of that in one
//! query. Sign-in attempts are limited per client address. Both forms (sign-in and sign-out) are POSTs
//! with the provider pages' anti-forgery checks ([`crate::link_pages::csrf`]): the browser's own
//! `Sec-Fetch-Site` / `Origin`, and a double-submit token in a cookie and a hidden field.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;

use crate::network_cache::Period;
use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use trellis_domain::Role;

use crate::AppState;
use crate::auth::RateLimiter;
use crate::link_pages::csrf;
use crate::schema::network::{Network, network_from};

const COOKIE_NAME: &str = "trellis_network";

/// Where the session and anti-forgery cookies are sent.
const PATH: &str = "/network";

/// The `/network` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/network", get(page))
        .route("/network/sign-in", post(sign_in))
        .route("/network/sign-out", post(sign_out))
}

/// Filters a person can choose on the page.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    days: Option<i64>,
    category: Option<String>,
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
    csrf: Option<String>,
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_owned())
    })
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

/// A page with a form: the anti-forgery token the browser already holds (or a new one, set as a cookie
/// for `/network`) goes into the page's hidden fields.
fn with_form(state: &AppState, headers: &HeaderMap, status: StatusCode, body: impl FnOnce(&str) -> String) -> Response {
    let (token, fresh) = match csrf::from_cookie(headers) {
        Some(token) => (token, false),
        None => (csrf::new_token(), true),
    };
    let mut response = html(status, body(&token));
    if fresh && let Ok(v) = HeaderValue::from_str(&csrf::cookie_for_path(&token, PATH, &state.settings.public_base_url))
    {
        response.headers_mut().append(SET_COOKIE, v);
    }
    response
}

fn sign_in_response(state: &AppState, headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    with_form(state, headers, status, |csrf| sign_in_page(message, csrf))
}

fn refused(refusal: csrf::Refusal, form: &str) -> Response {
    tracing::info!(refusal = refusal.as_str(), form, "network page: form refused");
    html(
        StatusCode::FORBIDDEN,
        shell(
            "Not allowed",
            "<p>This form must be sent from the Trellis network page itself. <a href=\"/network\">Go to the network view</a>.</p>",
        ),
    )
}

fn redirect(location: &str, cookie: String) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

fn session_cookie(state: &AppState, value: &str, max_age_secs: u64) -> String {
    let secure = if state.settings.is_https() { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Path={PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    if !state.sign_ins.check(&RateLimiter::address_key(peer.ip())) {
        let mut response = html(
            StatusCode::TOO_MANY_REQUESTS,
            shell(
                "Too many attempts",
                "<p>Too many sign-in attempts from this address. Wait a minute and try again.</p>",
            ),
        );
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    let form =
        match csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &SignInForm| f.csrf.as_deref()) {
            Ok((form, _)) => form,
            Err(refusal) => return refused(refusal, "sign-in"),
        };
    let principal = match state.store.authenticate(form.token.trim()).await {
        Ok(principal) => principal,
        Err(e) => {
            tracing::error!(error = %e, "network page: authentication failed");
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                shell("Unavailable", "<p>Trellis cannot reach its database.</p>"),
            );
        }
    };
    match principal {
        Some(p) if matches!(p.user.role, Role::NetworkLead | Role::LinkWorker) => {
            let now = Utc::now();
            match state.store.open_session(p.user.id, Some(p.api_key), state.settings.session_policy(), now).await {
                Ok(opened) => {
                    tracing::info!(user = %p.user.id, session = %opened.session.id, "network page: signed in");
                    redirect("/network", session_cookie(&state, &opened.secret, state.settings.session_max.as_secs()))
                }
                Err(e) => {
                    tracing::error!(error = %e, "network page: opening a session failed");
                    html(
                        StatusCode::SERVICE_UNAVAILABLE,
                        shell("Unavailable", "<p>Trellis cannot reach its database.</p>"),
                    )
                }
            }
        }
        Some(_) => sign_in_response(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            "The network view is for network leads and link workers.",
        ),
        None => sign_in_response(&state, &headers, StatusCode::UNAUTHORIZED, "That token was not recognised."),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    if let Err(refusal) =
        csrf::check_form(&headers, &state.settings.public_base_url, form, |f: &SignOutForm| f.csrf.as_deref())
    {
        return refused(refusal, "sign-out");
    }
    if let Some(secret) = cookie_session(&headers)
        && let Err(e) = state.store.close_session(&secret).await
    {
        tracing::error!(error = %e, "network page: closing a session failed");
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            shell("Unavailable", "<p>Trellis cannot reach its database; you are still signed in.</p>"),
        );
    }
    redirect("/network", session_cookie(&state, "", 0))
}

async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    let Some(secret) = cookie_session(&headers) else {
        return sign_in_response(&state, &headers, StatusCode::OK, "");
    };
    let principal = match state.store.session(&secret, state.settings.session_policy(), Utc::now()).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return sign_in_response(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                "Your sign-in has ended. Please sign in again.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "network page: reading the session failed");
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                shell("Unavailable", "<p>Trellis cannot reach its database.</p>"),
            );
        }
    };
    if !matches!(principal.user.role, Role::NetworkLead | Role::LinkWorker) {
        return sign_in_response(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            "The network view is for network leads and link workers.",
        );
    }
    let days = query.days.unwrap_or(90).clamp(1, 3650);
    let category = query.category.filter(|c| !c.trim().is_empty());
    // The turn is kept until the page is rendered; the page is far smaller than the graph.
    let turn = state.network.turn().await;
    match state.network.graph(&state.store, Period::LastDays(days), category.clone()).await {
        Ok((graph, statistics)) => {
            let network = network_from(graph, &statistics);
            drop(turn);
            let user = principal.user.name.clone();
            with_form(&state, &headers, StatusCode::OK, |csrf| {
                network_page(&network, &user, days, category.as_deref(), csrf)
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "network page: query failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                shell("Something went wrong", "<p>The network could not be drawn.</p>"),
            )
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#212b32;background:#f0f4f5}\
header{background:#005eb8;color:#fff;padding:.75rem 1rem;display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;gap:.5rem}\
header h1{margin:0;font-size:1.25rem}main{padding:1rem;max-width:72rem;margin:auto}\
form.filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:end;margin-bottom:1rem}\
label{display:block;font-weight:600;margin-bottom:.25rem}select,input{font-size:1rem;padding:.4rem}\
button{font-size:1rem;padding:.5rem 1rem;background:#007f3b;color:#fff;border:0;border-radius:4px;cursor:pointer}\
button.secondary{background:#425563}:focus{outline:3px solid #ffeb3b;outline-offset:2px}\
figure{margin:0 0 1.5rem;background:#fff;border:1px solid #d8dde0;border-radius:4px;padding:.5rem;overflow-x:auto}\
figcaption{font-size:.9rem;color:#4c6272}table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border:1px solid #d8dde0;padding:.4rem .5rem;text-align:left;font-size:.9rem}th{background:#e8edee}\
.open{color:#007f3b;font-weight:600}.waitlist{color:#8a5300;font-weight:600}.closed{color:#d5281b;font-weight:600}\
.wrap{overflow-x:auto}.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}";

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Trellis</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

fn sign_in_page(message: &str, csrf: &str) -> String {
    let note = if message.is_empty() {
        String::new()
    } else {
        format!("<p role=\"alert\"><strong>{}</strong></p>", escape(message))
    };
    shell(
        "Sign in to the network view",
        &format!(
            "<header><h1>Trellis network view</h1></header><main><h2>Sign in</h2>{note}\
             <p>Paste your Trellis API token. It is not kept: signing in starts a session for this page, \
             which ends after a while without use, or when you sign out.</p>\
             <form method=\"post\" action=\"/network/sign-in\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"token\">API token</label>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required size=\"48\">\
             <p><button type=\"submit\">Sign in</button></p></form></main>"
        ),
    )
}

/// A node's place in the picture.
struct Point {
    x: f64,
    y: f64,
}

fn network_page(network: &Network, user: &str, days: i64, category: Option<&str>, csrf: &str) -> String {
    let services_by_org: HashMap<&str, Vec<&crate::schema::network::NetworkService>> =
        network.services.iter().fold(HashMap::new(), |mut m, s| {
            m.entry(s.organisation_id.as_str()).or_default().push(s);
            m
        });
    let sources: Vec<_> = network.organisations.iter().filter(|o| o.kind == "link_worker_service").collect();
    let providers: Vec<_> = network.organisations.iter().filter(|o| o.kind == "provider").collect();
    let rows = sources.len().max(providers.len()).max(1);
    let height = 80.0 + rows as f64 * 56.0;
    let width = 980.0;
    let mut at: HashMap<&str, Point> = HashMap::new();
    let spread = |i: usize, n: usize| 50.0 + (i as f64 + 0.5) * (height - 80.0) / n.max(1) as f64;
    for (i, o) in sources.iter().enumerate() {
        at.insert(o.id.as_str(), Point { x: 260.0, y: spread(i, sources.len()) });
    }
    for (i, o) in providers.iter().enumerate() {
        at.insert(o.id.as_str(), Point { x: 620.0, y: spread(i, providers.len()) });
    }

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"graph-title graph-desc\">\
         <title id=\"graph-title\">Referral flows in the network</title>\
         <desc id=\"graph-desc\">Link worker services on the left, providers on the right; lines are offers made, thicker for more. \
         Dashed arcs are onward offers between providers. Circle colour shows capacity: green open, amber waitlist, red closed.</desc>\
         <text x=\"260\" y=\"24\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"14\">Link worker services</text>\
         <text x=\"620\" y=\"24\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"14\">Providers</text>"
    );
    let name_of =
        |id: &str| network.organisations.iter().find(|o| o.id.as_str() == id).map(|o| o.name.as_str()).unwrap_or("?");
    for flow in &network.flows {
        let (Some(a), Some(b)) = (at.get(flow.from_id.as_str()), at.get(flow.to_id.as_str())) else { continue };
        let stroke = 1.5 + (flow.count as f64).sqrt() * 2.0;
        let title = format!(
            "{} → {}: {} offer{}",
            name_of(&flow.from_id),
            name_of(&flow.to_id),
            flow.count,
            if flow.count == 1 { "" } else { "s" }
        );
        if flow.kind == "onward" {
            // Onward arcs bow to the left of the providers, clear of their labels.
            let bulge = a.x - 60.0 - (a.y - b.y).abs() * 0.35;
            let _ = write!(
                svg,
                "<path class=\"flow onward\" d=\"M {} {} C {bulge} {} {bulge} {} {} {}\" fill=\"none\" stroke=\"#7c2855\" stroke-dasharray=\"6 4\" stroke-width=\"{stroke:.1}\"><title>{}</title></path>",
                a.x - 14.0,
                a.y,
                a.y,
                b.y,
                b.x - 14.0,
                b.y,
                escape(&title)
            );
        } else {
            let _ = write!(
                svg,
                "<path class=\"flow referral\" d=\"M {} {} C {} {} {} {} {} {}\" fill=\"none\" stroke=\"#005eb8\" stroke-opacity=\"0.6\" stroke-width=\"{stroke:.1}\"><title>{}</title></path>",
                a.x + 14.0,
                a.y,
                (a.x + b.x) / 2.0,
                a.y,
                (a.x + b.x) / 2.0,
                b.y,
                b.x - 14.0,
                b.y,
                escape(&title)
            );
        }
    }
    for o in &sources {
        let p = &at[o.id.as_str()];
        let _ = write!(
            svg,
            "<g class=\"node source\"><circle cx=\"{}\" cy=\"{}\" r=\"14\" fill=\"#005eb8\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text></g>",
            p.x,
            p.y,
            p.x - 20.0,
            p.y + 4.0,
            escape(&o.name)
        );
    }
    for o in &providers {
        let p = &at[o.id.as_str()];
        let services = services_by_org.get(o.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let (free, total): (i32, i32) =
            services.iter().fold((0, 0), |(f, t), s| (f + s.available.unwrap_or(0), t + s.maximum.unwrap_or(0)));
        let status =
            if services.iter().any(|s| s.capacity_status.as_deref() == Some("open") && s.available.unwrap_or(0) > 0) {
                ("#007f3b", "open")
            } else if services.iter().any(|s| matches!(s.capacity_status.as_deref(), Some("open" | "waitlist"))) {
                ("#ffb81c", "waitlist")
            } else {
                ("#d5281b", "closed")
            };
        let open_offers: i64 = services.iter().map(|s| s.offers.open).sum();
        let _ = write!(
            svg,
            "<g class=\"node provider\"><circle cx=\"{}\" cy=\"{}\" r=\"14\" fill=\"{}\"><title>{}: {free} of {total} places free ({}), {open_offers} open offers</title></circle>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\">{} ({free}/{total})</text></g>",
            p.x,
            p.y,
            status.0,
            escape(&o.name),
            status.1,
            p.x + 20.0,
            p.y + 4.0,
            escape(&o.name)
        );
    }
    svg.push_str("</svg>");

    let mut table = String::from(
        "<div class=\"wrap\"><table><caption class=\"visually-hidden\">Capacity and offers by service</caption><thead><tr>\
         <th scope=\"col\">Service</th><th scope=\"col\">Provider</th><th scope=\"col\">Places free</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Open offers</th><th scope=\"col\">Accepted</th><th scope=\"col\">Declined</th><th scope=\"col\">Acceptance</th>\
         <th scope=\"col\">Median response</th><th scope=\"col\">Decline reasons</th></tr></thead><tbody>",
    );
    for s in &network.services {
        let status = s.capacity_status.as_deref().unwrap_or("unknown");
        let reasons = s
            .offers
            .decline_reasons
            .iter()
            .map(|d| format!("{} ×{}", d.reason.replace('_', " "), d.count))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.name),
            escape(name_of(&s.organisation_id)),
            match (s.available, s.maximum) {
                (Some(a), Some(m)) => format!("{a} of {m}"),
                _ => "not given".into(),
            },
            escape(status),
            escape(status),
            s.offers.open,
            s.offers.accepted,
            s.offers.declined,
            s.offers.acceptance_rate.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "–".into()),
            s.offers
                .median_response_hours
                .map(|h| if h < 48.0 { format!("{h:.1} h") } else { format!("{:.1} days", h / 24.0) })
                .unwrap_or_else(|| "–".into()),
            escape(&reasons),
        );
    }
    table.push_str("</tbody></table></div>");

    let day_options = [30, 90, 365]
        .iter()
        .map(|d| format!("<option value=\"{d}\"{}>Last {d} days</option>", if *d == days { " selected" } else { "" }))
        .collect::<String>();
    let category_options = std::iter::once(("", "All kinds of service"))
        .chain(trellis_store::directory::TAXONOMY.iter().copied())
        .map(|(code, label)| {
            format!(
                "<option value=\"{code}\"{}>{}</option>",
                if Some(code) == category { " selected" } else { "" },
                escape(label)
            )
        })
        .collect::<String>();
    let total_offers: i64 = network.flows.iter().map(|f| f.count).sum();
    shell(
        "Network view",
        &format!(
            "<header><h1>Trellis network view</h1><form method=\"post\" action=\"/network/sign-out\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><span>{}</span> \
             <button class=\"secondary\" type=\"submit\">Sign out</button></form></header><main>\
             <form class=\"filters\" method=\"get\" action=\"/network\"><div><label for=\"days\">Period</label><select id=\"days\" name=\"days\">{day_options}</select></div>\
             <div><label for=\"category\">Kind of service</label><select id=\"category\" name=\"category\">{category_options}</select></div>\
             <div><button type=\"submit\">Show</button></div></form>\
             <h2>Who refers to whom</h2><figure>{svg}<figcaption>{} organisations, {} services, {total_offers} offers in the period.</figcaption></figure>\
             <h2>Capacity and offers by service</h2>{table}</main>",
            escape(user),
            network.organisations.len(),
            network.services.len(),
        ),
    )
}
