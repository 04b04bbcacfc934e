//! `trellis import oruk <source>`: imports an Open Referral UK `/services` response into the directory.
//!
//! The source is a file holding one page (or a bare list of services), or the http(s) address of a
//! `/services` page, in which case every following page is fetched too: a `next` link when the page
//! gives one, else the same address with `page` one higher, until the last page, an empty page, or a
//! page already seen. Each page is imported as it arrives, idempotently (see
//! [`Store::import_oruk`]), so a run cut short can simply be repeated.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use trellis_store::Store;
use trellis_store::oruk::{ImportReport, Page};

/// More pages than any locality's directory has: a guard against a source that never says it is done.
const MAX_PAGES: usize = 10_000;

/// Imports the ORUK `/services` page(s) at `source` (a file path or an http(s) URL) and reports what
/// was created, updated and rejected.
pub async fn import_oruk(store: &Store, source: &str) -> anyhow::Result<ImportReport> {
    if source.starts_with("http://") || source.starts_with("https://") {
        return import_from_url(store, source).await;
    }
    let text = std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))?;
    let body: Value = serde_json::from_str(&text).with_context(|| format!("{source} is not JSON"))?;
    let page = read_page(body).with_context(|| format!("{source} is not an Open Referral UK /services page"))?;
    Ok(store.import_oruk(&page, chrono::Utc::now()).await?)
}

/// A page from a response body: a paged object, a bare list of services, or one service.
fn read_page(body: Value) -> anyhow::Result<Page<Value>> {
    let single = |content: Vec<Value>| Page {
        total_items: content.len() as u64,
        total_pages: 1,
        number: 1,
        size: content.len() as u64,
        first_page: true,
        last_page: true,
        empty: content.is_empty(),
        content,
    };
    match body {
        Value::Array(items) => Ok(single(items)),
        Value::Object(ref o) if o.contains_key("content") || o.contains_key("contents") => {
            Ok(serde_json::from_value(body)?)
        }
        Value::Object(ref o) if o.contains_key("id") && o.contains_key("name") => Ok(single(vec![body])),
        _ => bail!("expected a page with `content`, a list of services, or one service"),
    }
}

/// A `next` link, where a source gives one (`next` or `links.next`).
fn next_link(body: &Value) -> Option<String> {
    let link = body.get("next").or_else(|| body.pointer("/links/next")).and_then(Value::as_str);
    link.filter(|l| !l.is_empty()).map(String::from)
}

/// The address of the page after `current`, if there is one.
fn next_page(current: &reqwest::Url, link: Option<&str>, page: &Page<Value>) -> anyhow::Result<Option<reqwest::Url>> {
    if let Some(link) = link {
        return Ok(Some(current.join(link).context("the page's `next` link is not an address")?));
    }
    if page.last_page || page.content.is_empty() {
        return Ok(None);
    }
    let number = current
        .query_pairs()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(page.number.max(1));
    if page.total_pages > 0 && number >= page.total_pages {
        return Ok(None);
    }
    let mut next = current.clone();
    let others: Vec<(String, String)> =
        current.query_pairs().filter(|(k, _)| k != "page").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    next.query_pairs_mut().clear().extend_pairs(others).append_pair("page", &(number + 1).to_string());
    Ok(Some(next))
}

async fn import_from_url(store: &Store, source: &str) -> anyhow::Result<ImportReport> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("trellis/", env!("CARGO_PKG_VERSION"), " (Open Referral UK import)"))
        .build()?;
    let mut url = reqwest::Url::parse(source).with_context(|| format!("{source} is not an address"))?;
    let mut seen = HashSet::new();
    let mut report = ImportReport::default();
    for _ in 0..MAX_PAGES {
        if !seen.insert(url.to_string()) {
            break;
        }
        let body: Value = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("cannot fetch {url}"))?
            .error_for_status()
            .with_context(|| format!("{url} refused"))?
            .json()
            .await
            .with_context(|| format!("{url} did not answer with JSON"))?;
        let link = next_link(&body);
        let page = read_page(body).with_context(|| format!("{url} is not an Open Referral UK page"))?;
        report.merge(store.import_oruk(&page, chrono::Utc::now()).await?);
        match next_page(&url, link.as_deref(), &page)? {
            Some(next) => url = next,
            None => break,
        }
    }
    Ok(report)
}
