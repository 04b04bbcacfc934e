//! `trellis import oruk <source> [--every 6h]` and the worker's feeds: Open Referral UK (3.0 or 1) into
//! the directory.
//!
//! The source is a file holding one page (or a bare list of services, or one service), or the http(s)
//! address of a `/services` feed. A feed is read page by page (a `next` link when the page gives one,
//! else the same address with `page` one higher, until the last page by `last_page`/`last` or
//! `total_pages`/`totalPages`, an empty page, or a page already seen), each page imported as it arrives.
//! Its first page is asked for conditionally (`If-None-Match`, `If-Modified-Since` from the last complete
//! read): a 304 ends the run as "not modified". Every request has connect, read and overall timeouts and
//! a size limit; a page that breaks one, is not JSON, or is not an ORUK page ends the run as failed with
//! the reason, keeping the records already imported (each written whole). Only a feed read to its end
//! marks the services gone from it inactive. Every run is kept ([`Store::finish_oruk_import`]).

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde_json::Value;
use trellis_store::oruk::{FeedValidators, ImportRun, ImportRunRecord, RunEnding};
use trellis_store::{Store, StoreError};

/// More pages than any locality's directory has: a guard against a source that never says it is done.
const MAX_PAGES: usize = 10_000;

/// How long and how much one page of a feed may take.
#[derive(Clone, Debug)]
pub struct FetchLimits {
    /// To connect.
    pub connect_timeout: Duration,
    /// Between two reads of the answer.
    pub read_timeout: Duration,
    /// For a whole page, from asking to its last byte.
    pub page_timeout: Duration,
    /// The largest page read, in bytes; a larger one fails the run.
    pub max_page_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            page_timeout: Duration::from_secs(120),
            max_page_bytes: 5 * 1024 * 1024,
        }
    }
}

/// Imports `source` (a file path or an http(s) URL) as one run and keeps its report. A run that failed
/// (an unreadable file, a feed that timed out) is kept and returned with its reason, like any other:
/// only a database failure is an error here.
pub async fn import_oruk(store: &Store, source: &str) -> Result<ImportRunRecord, StoreError> {
    import_oruk_with(store, source, &FetchLimits::default()).await
}

/// [`import_oruk`] with these limits on fetching.
pub async fn import_oruk_with(
    store: &Store,
    source: &str,
    limits: &FetchLimits,
) -> Result<ImportRunRecord, StoreError> {
    let mut run = ImportRun::new(source, Utc::now());
    let ending = if source.starts_with("http://") || source.starts_with("https://") {
        follow_feed(store, &mut run, source, limits).await
    } else {
        import_file(store, &mut run, source).await
    };
    let ending = match ending {
        Ok(ending) => ending,
        Err(RunError::Source(reason)) => RunEnding::Failed(reason),
        Err(RunError::Store(e)) => {
            // Keep what is known of the run if the database lets us; the error is the answer either way.
            let _ = store.finish_oruk_import(run, RunEnding::Failed("the database failed".into()), Utc::now()).await;
            return Err(e);
        }
    };
    store.finish_oruk_import(run, ending, Utc::now()).await
}

/// Keeps `feeds` in sync: each read now and then every `every`, until `shutdown`. A run that fails is
/// kept and logged, and tried again at the next turn.
pub async fn keep_in_sync(
    store: Store,
    feeds: Vec<String>,
    every: Duration,
    limits: FetchLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        for feed in &feeds {
            match import_oruk_with(&store, feed, &limits).await {
                Ok(run) => tracing::info!(
                    run = %run.id, source = %run.source, outcome = ?run.outcome, error = run.error.as_deref(),
                    created = run.report.created, updated = run.report.updated, unchanged = run.report.unchanged,
                    warned = run.report.warned, rejected = run.report.rejected,
                    deactivated = run.report.deactivated, "ORUK feed synced"
                ),
                Err(e) => tracing::error!(error = %e, "ORUK feed sync could not be kept"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = &mut shutdown => return,
        }
    }
}

/// An interval such as `90s`, `30m`, `6h` or `1d`.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not an interval such as 30m, 6h or 1d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} is not an interval such as 30m, 6h or 1d")),
    };
    match n.checked_mul(seconds) {
        Some(0) | None => Err(format!("{text:?} must be at least one second and at most centuries")),
        Some(s) => Ok(Duration::from_secs(s)),
    }
}

/// Why a run stopped early: the source's fault (kept as the run's reason) or the database's.
enum RunError {
    Source(String),
    Store(StoreError),
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        RunError::Store(e)
    }
}

async fn import_file(store: &Store, run: &mut ImportRun, path: &str) -> Result<RunEnding, RunError> {
    let text = std::fs::read(path).map_err(|e| RunError::Source(format!("cannot read the file: {e}")))?;
    let body: Value =
        serde_json::from_slice(&text).map_err(|e| RunError::Source(format!("the file is not JSON: {e}")))?;
    let page = read_page(body).map_err(|e| RunError::Source(format!("the file {e}")))?;
    store.import_oruk_page(run, &page.records, Utc::now()).await?;
    Ok(RunEnding::Partial)
}

/// One page as a feed gives it.
struct FeedPage {
    records: Vec<Value>,
    number: Option<u64>,
    total_pages: Option<u64>,
    last: bool,
    next: Option<String>,
}

/// A page from a response body: an ORUK 3.0 page (`contents`, `page_number`, `total_pages`,
/// `last_page`), an ORUK 1 page (`content`, `number`, `totalPages`, `last`), a bare list of services,
/// or one service.
fn read_page(body: Value) -> Result<FeedPage, String> {
    let whole = |records: Vec<Value>| FeedPage { records, number: None, total_pages: None, last: true, next: None };
    let number = |body: &Value, keys: &[&str]| -> Result<Option<u64>, String> {
        let Some((key, v)) = keys.iter().find_map(|k| body.get(*k).filter(|v| !v.is_null()).map(|v| (k, v))) else {
            return Ok(None);
        };
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        n.map(Some).ok_or_else(|| format!("says {key} is {v}, which is not a page count"))
    };
    match body {
        Value::Array(items) => Ok(whole(items)),
        Value::Object(ref o) if o.contains_key("contents") || o.contains_key("content") => {
            let records = match o.get("contents").or_else(|| o.get("content")) {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) => vec![],
                Some(other) => return Err(format!("has `contents` that is not a list but {}", kind(other))),
                None => vec![],
            };
            let last = ["last_page", "last"].iter().any(|k| o.get(*k) == Some(&Value::Bool(true)));
            let next = body.get("next").or_else(|| body.pointer("/links/next"));
            let next = next.and_then(Value::as_str).filter(|l| !l.is_empty()).map(String::from);
            Ok(FeedPage {
                number: number(&body, &["page_number", "number"])?,
                total_pages: number(&body, &["total_pages", "totalPages"])?,
                records,
                last,
                next,
            })
        }
        Value::Object(ref o) if o.contains_key("id") && o.contains_key("name") => Ok(whole(vec![body])),
        other => Err(format!(
            "is not an Open Referral UK page: expected an object with `contents`, a list of services, or one \
             service, not {}",
            kind(&other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The address of the page after `current`, if there is one.
fn next_page(current: &reqwest::Url, page: &FeedPage) -> Result<Option<reqwest::Url>, String> {
    if let Some(link) = &page.next {
        return current.join(link).map(Some).map_err(|_| format!("has a `next` link that is not an address: {link}"));
    }
    if page.last || page.records.is_empty() {
        return Ok(None);
    }
    let asked = current.query_pairs().find(|(k, _)| k == "page").and_then(|(_, v)| v.parse::<u64>().ok());
    let number = asked.or(page.number).unwrap_or(1).max(1);
    if page.total_pages.is_some_and(|total| number >= total) {
        return Ok(None);
    }
    let mut next = current.clone();
    let others: Vec<(String, String)> =
        current.query_pairs().filter(|(k, _)| k != "page").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    next.query_pairs_mut().clear().extend_pairs(others).append_pair("page", &(number + 1).to_string());
    Ok(Some(next))
}

/// What asking for a page gave.
enum Fetched {
    NotModified,
    Page(Value, FeedValidators),
}

async fn follow_feed(
    store: &Store,
    run: &mut ImportRun,
    source: &str,
    limits: &FetchLimits,
) -> Result<RunEnding, RunError> {
    let client = reqwest::Client::builder()
        .connect_timeout(limits.connect_timeout)
        .read_timeout(limits.read_timeout)
        .timeout(limits.page_timeout)
        .user_agent(concat!("trellis/", env!("CARGO_PKG_VERSION"), " (Open Referral UK import)"))
        .build()
        .map_err(|e| RunError::Source(format!("cannot make an HTTP client: {e}")))?;
    let mut url = reqwest::Url::parse(source).map_err(|_| RunError::Source("the source is not an address".into()))?;
    let conditional = store.feed_validators(&run.source).await?;
    let mut validators = FeedValidators::default();
    let mut seen = HashSet::new();
    for n in 1..=MAX_PAGES {
        if !seen.insert(url.to_string()) {
            return Ok(RunEnding::Complete(validators));
        }
        let page_failed = |reason: String| RunError::Source(format!("page {n}: {reason}"));
        let asked = if n == 1 { Some(&conditional) } else { None };
        let (body, got) = match fetch(&client, &url, asked, limits).await.map_err(page_failed)? {
            Fetched::NotModified => return Ok(RunEnding::NotModified),
            Fetched::Page(body, got) => (body, got),
        };
        if n == 1 {
            validators = got;
        }
        let page = read_page(body).map_err(page_failed)?;
        store.import_oruk_page(run, &page.records, Utc::now()).await?;
        match next_page(&url, &page).map_err(page_failed)? {
            Some(next) => url = next,
            None => return Ok(RunEnding::Complete(validators)),
        }
    }
    Err(RunError::Source(format!("stopped after {MAX_PAGES} pages: the feed never said it was done")))
}

/// Asks for one page (conditionally when `conditional` holds validators) and reads it within `limits`.
async fn fetch(
    client: &reqwest::Client,
    url: &reqwest::Url,
    conditional: Option<&FeedValidators>,
    limits: &FetchLimits,
) -> Result<Fetched, String> {
    let mut request = client.get(url.clone()).header(ACCEPT, "application/json");
    if let Some(v) = conditional {
        if let Some(etag) = &v.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(date) = &v.last_modified {
            request = request.header(IF_MODIFIED_SINCE, date);
        }
    }
    let mut response = request.send().await.map_err(|e| http_failure(e, limits))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && conditional.is_some() {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!("the feed answered HTTP {status}"));
    }
    let too_big = || format!("is larger than the limit of {} bytes", limits.max_page_bytes);
    if response.content_length().is_some_and(|n| n > limits.max_page_bytes as u64) {
        return Err(too_big());
    }
    let header = |name| response.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok());
    let validators =
        FeedValidators { etag: header(ETAG).map(String::from), last_modified: header(LAST_MODIFIED).map(String::from) };
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| http_failure(e, limits))? {
        if body.len() + chunk.len() > limits.max_page_bytes {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    let body = serde_json::from_slice(&body).map_err(|e| format!("is not JSON: {e}"))?;
    Ok(Fetched::Page(body, validators))
}

/// Why a request failed, in words, without its address (which may carry a key).
fn http_failure(e: reqwest::Error, limits: &FetchLimits) -> String {
    if e.is_timeout() {
        format!(
            "the feed did not answer in time (connect {} s, read {} s, page {} s)",
            limits.connect_timeout.as_secs_f32(),
            limits.read_timeout.as_secs_f32(),
            limits.page_timeout.as_secs_f32()
        )
    } else if e.is_connect() {
        "could not connect to the feed".into()
    } else {
        let e = e.without_url();
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        reason
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on the first surprise")]

    use serde_json::json;

    use super::*;

    fn next(url: &str, body: Value) -> Option<String> {
        let page = read_page(body).unwrap();
        next_page(&reqwest::Url::parse(url).unwrap(), &page).unwrap().map(String::from)
    }

    #[test]
    fn oruk_3_and_oruk_1_pages_are_followed_to_their_last() {
        let three =
            |n: u64, last: bool| json!({ "page_number": n, "total_pages": 3, "last_page": last, "contents": [{}] });
        assert_eq!(
            next("https://d.example/services?per_page=2", three(1, false)).as_deref(),
            Some("https://d.example/services?per_page=2&page=2")
        );
        assert_eq!(next("https://d.example/services?page=3", three(3, true)), None);
        let one = |n: u64, last: bool| json!({ "number": n, "totalPages": 2, "last": last, "content": [{}] });
        assert_eq!(
            next("https://d.example/services", one(1, false)).as_deref(),
            Some("https://d.example/services?page=2")
        );
        assert_eq!(next("https://d.example/services?page=2", one(2, false)), None, "totalPages says it is the last");
        assert_eq!(next("https://d.example/services?page=2", one(2, true)), None);
        let linked = json!({ "contents": [{}], "links": { "next": "/services?cursor=abc" } });
        assert_eq!(
            next("https://d.example/services", linked).as_deref(),
            Some("https://d.example/services?cursor=abc")
        );
        assert_eq!(next("https://d.example/services", json!({ "contents": [] })), None, "an empty page ends it");
    }

    #[test]
    fn a_page_of_the_wrong_shape_is_refused_saying_what_was_found() {
        let refused = |body: Value| read_page(body).err().unwrap();
        assert_eq!(refused(json!({ "contents": "x" })), "has `contents` that is not a list but a string");
        assert_eq!(
            refused(json!({ "contents": [], "total_pages": "many" })),
            "says total_pages is \"many\", which is not a page count"
        );
        assert!(refused(json!(42)).ends_with("or one service, not a number"));
        assert_eq!(read_page(json!([{ "id": 1 }, { "id": 2 }])).unwrap().records.len(), 2);
        assert_eq!(read_page(json!({ "id": "s", "name": "One" })).unwrap().records.len(), 1);
    }
}
