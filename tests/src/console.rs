//! Signing staff in to the web console as a browser would: the sign-in form, the emailed link
//! (delivered through real SMTP to maildev) and its confirmation.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use trellis_notifier::{Worker, WorkerSettings};

use crate::TestApp;
use crate::link_pages::{Page, get, post, same_origin};
use crate::maildev::{MailDev, decode_quoted_printable};

/// Asks for a sign-in link for `email` from a fresh sign-in page, as a browser would.
pub async fn ask_for_link(app: &TestApp, email: &str) -> Page {
    let form = get(app, "/sign-in", None).await;
    assert_eq!(form.status, StatusCode::OK);
    let cookie = form.cookie();
    post(app, "/sign-in", Some(&cookie), &[("csrf", &form.csrf_field()), ("email", email)], &same_origin(app)).await
}

/// A notifier worker for `app` that sends through `maildev`, polling fast.
pub fn worker(app: &TestApp, maildev: &MailDev) -> Worker {
    let settings = WorkerSettings {
        poll_interval: Duration::from_millis(50),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..WorkerSettings::new("console-test", app.base_url.clone())
    };
    Worker::new(app.store.clone(), maildev.mailer(), settings)
}

/// The sign-in path in the one email maildev holds for `to`.
pub async fn emailed_link(maildev: &MailDev, to: &str) -> String {
    let emails = maildev.wait_for(1).await;
    let email = emails.iter().find(|e| e["to"][0]["address"].as_str() == Some(to)).expect("an email to the user");
    let text = decode_quoted_printable(email["text"].as_str().unwrap());
    let start = text.find("/sign-in/tsi_").expect("a sign-in link");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// Signs `email` in through the whole round trip and returns the session cookie (`name=value`).
pub async fn sign_in(app: &TestApp, maildev: &MailDev, email: &str) -> String {
    assert_eq!(ask_for_link(app, email).await.status, StatusCode::OK);
    worker(app, maildev).tick(Utc::now()).await;
    let path = emailed_link(maildev, email).await;
    let shown = get(app, &path, None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let cookie = shown.cookie();
    let confirmed = post(app, &path, Some(&cookie), &[("csrf", &shown.csrf_field())], &same_origin(app)).await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER, "{}", confirmed.body);
    let set = confirmed.header("set-cookie");
    assert!(set.starts_with("trellis_session=trs_"), "{set}");
    format!("{}; {cookie}", set.split(';').next().unwrap())
}

/// Signs `user` in without the email round trip (tested above): a link minted by the store, opened
/// and confirmed over HTTP. Returns the cookies a browser would then send (session and anti-forgery).
pub async fn session_for(app: &TestApp, user: trellis_domain::UserId) -> String {
    let path = sign_in_path(app, user).await;
    let shown = get(app, &path, None).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let cookie = shown.cookie();
    let confirmed = post(app, &path, Some(&cookie), &[("csrf", &shown.csrf_field())], &same_origin(app)).await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER, "{}", confirmed.body);
    format!("{}; {cookie}", confirmed.header("set-cookie").split(';').next().unwrap())
}

/// Posts `form` to `path` from `page`, as its form would: with the page's anti-forgery token and the
/// version it showed (a referral's or a service's), from the same site, signed in as `session`.
pub async fn submit_from(app: &TestApp, session: &str, page: &Page, path: &str, form: &[(&str, &str)]) -> Page {
    let csrf = page.csrf_field();
    let version = page.hidden_field("version").expect("the page's version");
    let mut fields = vec![("csrf", csrf.as_str()), ("version", version.as_str())];
    fields.extend_from_slice(form);
    post(app, path, Some(session), &fields, &same_origin(app)).await
}

/// A fresh sign-in path (`/sign-in/tsi_…`) for `user`, for a browser test to open.
pub async fn sign_in_path(app: &TestApp, user: trellis_domain::UserId) -> String {
    let now = Utc::now();
    let secret = app.store.create_sign_in_link(user, now + chrono::TimeDelta::minutes(15), now).await.unwrap();
    format!("/sign-in/{secret}")
}
