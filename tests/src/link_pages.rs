//! A browser-like HTTP client for the pages behind an email link (the offer page, the capacity page):
//! it does not follow redirects and keeps the anti-forgery cookie by hand.

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

use crate::TestApp;

/// A response as a page.
pub struct Page {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: String,
}

impl Page {
    /// The header `name`, or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// `name=value` of the anti-forgery cookie the page set.
    pub fn cookie(&self) -> String {
        let set = self.header("set-cookie");
        assert!(set.starts_with("trellis_offer_csrf="), "no anti-forgery cookie: {set:?}");
        set.split(';').next().unwrap_or_default().to_owned()
    }

    /// The anti-forgery field of the page's forms.
    pub fn csrf_field(&self) -> String {
        self.hidden_field("csrf").expect("a csrf field")
    }

    /// The value of the page's hidden field `name` (the capacity page's `version`), if it has one.
    pub fn hidden_field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        Some(self.body[start..].chars().take_while(|c| *c != '"').collect())
    }

    /// Where it redirects to.
    pub fn location(&self) -> &str {
        self.header("location")
    }

    /// The body with the HTML escapes of its text undone, for reading sentences with apostrophes.
    pub fn text(&self) -> String {
        [("&#39;", "'"), ("&#x27;", "'"), ("&quot;", "\""), ("&#34;", "\""), ("&lt;", "<"), ("&gt;", ">")]
            .iter()
            .fold(self.body.clone(), |text, (escaped, plain)| text.replace(escaped, plain))
            .replace("&amp;", "&")
    }
}

/// A client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn page(response: reqwest::Response) -> Page {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Page { status, headers, body }
}

/// `GET` `path` of the app, with `cookie` (`name=value`) when given.
pub async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let mut request = client().get(format!("{}{path}", app.base_url));
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    page(request.send().await.expect("GET")).await
}

/// The headers a browser sends with a form posted from the app's own page.
pub fn same_origin(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![("origin", app.base_url.clone()), ("sec-fetch-site", "same-origin".into())]
}

/// `POST` `form` to `path` of the app, with `cookie` when given and the request `headers`.
pub async fn post(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
    headers: &[(&'static str, String)],
) -> Page {
    let mut request = client().post(format!("{}{path}", app.base_url)).form(form);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    page(request.send().await.expect("POST")).await
}

/// The pages behind the links with one path prefix (`/offers`, `/capacity`), each at `<prefix>/<token>`.
#[derive(Clone, Copy, Debug)]
pub struct LinkPages(pub &'static str);

impl LinkPages {
    /// The path of the page for `token`.
    pub fn path(self, token: &str) -> String {
        format!("{}/{token}", self.0)
    }

    /// Opens the page for `token` (which must answer `200`) and keeps its cookie and form token.
    pub async fn open(self, app: &TestApp, token: &str) -> Session {
        Session::open(app, &self.path(token)).await
    }

    /// `POST` `form` to the page for `token`, with `cookie` when given and the request `headers`.
    pub async fn post(
        self,
        app: &TestApp,
        token: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
        headers: &[(&'static str, String)],
    ) -> Page {
        post(app, &self.path(token), cookie, form, headers).await
    }
}

/// A session on one page: its cookie and form token, as a browser would hold them.
pub struct Session {
    path: String,
    /// `name=value` of the anti-forgery cookie.
    pub cookie: String,
    /// The anti-forgery field of the page's forms.
    pub csrf: String,
    /// The `version` field of the page the browser shows now (the capacity page's): a browser that
    /// posts follows the redirect or reads the page it gets back, so it holds the latest one.
    version: std::sync::Mutex<Option<String>>,
}

impl Session {
    /// Opens the page at `path` (which must answer `200`) and keeps its cookie and form token.
    pub async fn open(app: &TestApp, path: &str) -> Session {
        let shown = get(app, path, None).await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        let version = std::sync::Mutex::new(shown.hidden_field("version"));
        Session { path: path.to_owned(), cookie: shown.cookie(), csrf: shown.csrf_field(), version }
    }

    /// The `version` field of the page as the browser shows it now, if the page has one.
    pub fn version(&self) -> Option<String> {
        self.version.lock().expect("version").clone()
    }

    /// Posts the page's form with `fields`, as the page itself would (same origin), with the hidden
    /// `version` of the page shown (unless `fields` give one); then reads the page the browser would
    /// show next (the one answered, or the one redirected to) for its version.
    pub async fn post(&self, app: &TestApp, fields: &[(&str, &str)]) -> Page {
        let version = self.version();
        let mut form = vec![("csrf", self.csrf.as_str())];
        if let Some(v) = version.as_deref()
            && !fields.iter().any(|(name, _)| *name == "version")
        {
            form.push(("version", v));
        }
        form.extend_from_slice(fields);
        let answered = post(app, &self.path, Some(&self.cookie), &form, &same_origin(app)).await;
        if version.is_some() {
            let next = if answered.status == StatusCode::SEE_OTHER {
                get(app, answered.location(), Some(&self.cookie)).await.hidden_field("version")
            } else {
                answered.hidden_field("version")
            };
            if next.is_some() {
                *self.version.lock().expect("version") = next;
            }
        }
        answered
    }

    /// `GET` `path` with the session's cookie.
    pub async fn get(&self, app: &TestApp, path: &str) -> Page {
        get(app, path, Some(&self.cookie)).await
    }
}
