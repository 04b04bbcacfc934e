//! The HTTP edge: the headers every response carries, cookies and HSTS over HTTPS, and rate limits that
//! a made-up token cannot dodge.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::json;
use trellis_api::{ApiSettings, AppState};
use trellis_tests::console::session_for;
use trellis_tests::link_pages::{get, post, same_origin};
use trellis_tests::{Backend, TestApp};

/// An HTTP client whose requests come from `address` (any of 127.0.0.0/8 is this machine).
fn client_from(address: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(address))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// A made-up API token, different every time.
fn made_up_token() -> String {
    format!("trellis_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_nosniff_no_framing_a_referrer_policy_and_no_store_but_the_public_directory() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = client_from(Ipv4Addr::LOCALHOST);
    let url = |path: &str| format!("{}{path}", app.base_url);
    let responses = vec![
        (
            "graphql",
            client
                .post(url("/graphql"))
                .bearer_auth(&app.tokens.gp)
                .json(&json!({ "query": "{ me { user { id } } }" }))
                .send()
                .await
                .unwrap(),
        ),
        (
            "graphql refused",
            client
                .post(url("/graphql"))
                .bearer_auth(made_up_token())
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                .unwrap(),
        ),
        ("explorer (off)", client.get(url("/graphql")).send().await.unwrap()),
        ("healthz", client.get(url("/healthz")).send().await.unwrap()),
        ("readyz", client.get(url("/readyz")).send().await.unwrap()),
        ("network", client.get(url("/network")).send().await.unwrap()),
        ("offer link", client.get(url("/offers/tro_nothing")).send().await.unwrap()),
        ("capacity link", client.get(url("/capacity/trc_nothing")).send().await.unwrap()),
        ("unknown path", client.get(url("/nothing-here")).send().await.unwrap()),
        ("oruk", client.get(url("/oruk/services")).send().await.unwrap()),
    ];
    let (status, oversized) = oversized_post(&app.base_url, "/graphql", app.settings.body_limit_bytes + 1).await;
    assert_eq!(status, 413, "oversized");
    let headers =
        responses.iter().map(|(what, response)| (*what, response.headers())).chain([("oversized", &oversized)]);
    for (what, headers) in headers {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
        assert!(header("content-security-policy").contains("frame-ancestors 'none'"), "{what}");
        assert!(!header("referrer-policy").is_empty(), "{what}");
        assert!(header("strict-transport-security").is_empty(), "{what}: no HSTS over plain HTTP");
        let cache = header("cache-control");
        if what == "oruk" {
            assert!(cache.starts_with("public"), "{what}: the public directory may be cached: {cache}");
        } else {
            assert_eq!(cache, "no-store", "{what}");
        }
    }
}

/// POSTs a body of `length` bytes to `path` and returns the answer's status and headers. The server may
/// answer and close before the body is all sent (it refuses an oversized one by its length), so the body
/// is written alongside reading the answer, and a write the closed connection refuses is not a failure.
async fn oversized_post(base: &str, path: &str, length: usize) -> (u16, reqwest::header::HeaderMap) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reading, mut writing) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    let sending = tokio::spawn(async move {
        writing.write_all(head.as_bytes()).await?;
        writing.write_all(&vec![b'x'; length]).await
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = reading.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the connection closed before an answer: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&chunk[..read]);
    }
    sending.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in lines.take_while(|l| !l.is_empty()).filter_map(|l| l.split_once(':')) {
        headers.append(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    (status, headers)
}

/// Serves `store` with `settings` (which may claim HTTPS; the test still speaks HTTP to it).
async fn serve_with(store: trellis_store::Store, settings: ApiSettings) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(trellis_api::serve(listener, AppState::new(store, settings), async {
        let _ = stopped.await;
    }));
    (base, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_every_response_carries_hsts_and_the_console_session_cookie_is_secure() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let public = "https://trellis.example.nhs.uk";
    let settings = ApiSettings { public_base_url: public.into(), ..ApiSettings::default() };
    let (base, _stop) = serve_with(app.store.clone(), settings).await;
    let client = client_from(Ipv4Addr::LOCALHOST);
    for path in ["/healthz", "/sign-in", "/oruk/services"] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert!(header(&response, "strict-transport-security").starts_with("max-age="), "{path}");
    }
    let now = chrono::Utc::now();
    let link = app
        .store
        .create_sign_in_link(app.fixture.network_lead.id, now + chrono::TimeDelta::minutes(15), now)
        .await
        .unwrap();
    let shown = client.get(format!("{base}/sign-in/{link}")).send().await.unwrap();
    let csrf_cookie = header(&shown, "set-cookie").to_owned();
    assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
    let body = shown.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let csrf: String = body[body.find(marker).unwrap() + marker.len()..].chars().take_while(|c| *c != '"').collect();
    let signed_in = client
        .post(format!("{base}/sign-in/{link}"))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .header("origin", public)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status().as_u16(), 303);
    let cookie = header(&signed_in, "set-cookie");
    assert!(cookie.starts_with("trellis_session=trs_"), "{cookie}");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(cookie.contains(part), "{part} missing from {cookie}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_tokens_draw_on_their_address_budget_and_cannot_dodge_it() {
    let settings = ApiSettings { rate_limit_per_minute: 5, ..ApiSettings::default() };
    let app = TestApp::spawn_with(Backend::Sqlite, settings).await;
    let url = format!("{}/graphql", app.base_url);
    let query = json!({ "query": "{ me { user { id } } }" });
    let prober = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let mut statuses = vec![];
    for _ in 0..8 {
        let response = prober.post(&url).bearer_auth(made_up_token()).json(&query).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429; 3], "a fresh token buys no fresh budget: {statuses:?}");
    let anonymous = prober.post(&url).json(&query).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 429, "anonymous requests share the address's budget");
    // A real token has its own budget, even from that address; another address has its own too.
    let real = prober.post(&url).bearer_auth(&app.tokens.gp).json(&query).send().await.unwrap();
    assert_eq!(real.status().as_u16(), 200);
    let neighbour = client_from(Ipv4Addr::new(127, 0, 0, 3));
    let other = neighbour.post(&url).bearer_auth(made_up_token()).json(&query).send().await.unwrap();
    assert_eq!(other.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_out_only_by_a_post_from_its_own_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let both = session_for(&app, app.fixture.network_lead.id).await;
    let network = get(&app, "/network", Some(&both)).await;
    assert_eq!(network.status.as_u16(), 200);
    let csrf = network.csrf_field();

    let cross_site = [("origin", "https://evil.example".to_owned()), ("sec-fetch-site", "cross-site".to_owned())];
    let forged = post(&app, "/sign-out", Some(&both), &[("csrf", &csrf)], &cross_site).await;
    assert_eq!(forged.status.as_u16(), 403);
    let no_token = post(&app, "/sign-out", Some(&both), &[], &same_origin(&app)).await;
    assert_eq!(no_token.status.as_u16(), 403);
    let by_get = get(&app, "/sign-out", Some(&both)).await;
    assert!(by_get.status.is_client_error(), "{}", by_get.status);
    assert_eq!(get(&app, "/network", Some(&both)).await.status.as_u16(), 200, "still signed in");

    let out = post(&app, "/sign-out", Some(&both), &[("csrf", &csrf)], &same_origin(&app)).await;
    assert_eq!(out.status.as_u16(), 303);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    let after = get(&app, "/network", Some(&both)).await;
    assert_eq!(
        (after.status.as_u16(), after.header("location")),
        (303, "/sign-in"),
        "the old cookie ends with the session"
    );
}
