//! The real server as a child process, and the operations the load clients send it over HTTP.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use uuid::Uuid;

use crate::load::Operation;
use crate::mix;
use crate::seed::{Seeded, nhs_exact};

/// The `trellis serve --no-worker` child process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// Starts `binary` on a free port against `database_url` and waits until `/readyz` answers.
    pub async fn start(binary: &Path, database_url: &str, pool: u32, log: &Path) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(binary)
            .args(["serve", "--no-worker", "--bind", &format!("127.0.0.1:{port}")])
            .env("TRELLIS_DATABASE_URL", database_url)
            .env("TRELLIS_DATABASE_MAX_CONNECTIONS", pool.to_string())
            .env("TRELLIS_RATE_LIMIT_PER_MINUTE", "1000000000")
            .env("TRELLIS_PUBLIC_BASE_URL", &base)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Server { child, base };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the server did not become ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Peak resident memory so far (`VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let pid = self.child.id().context("the server has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/<pid>/status")?;
        Ok(kb / 1024.0)
    }

    /// Peak resident memory since the last call (`VmHWM`, then reset by writing `5` to
    /// `/proc/<pid>/clear_refs`), in MiB: what one operation made the server hold at most.
    pub fn take_peak_rss_mib(&self) -> anyhow::Result<f64> {
        let peak = self.peak_rss_mib()?;
        let pid = self.child.id().context("the server has exited")?;
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5")?;
        Ok(peak)
    }

    /// Stops the server.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// A GraphQL client.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of the server at `base`.
    pub fn new(base: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Api { http, base: base.to_owned() })
    }

    /// Sends one query; an HTTP error or any GraphQL error is an error.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let (status, body) = self.post(token, query, variables).await?;
        let body: Value = serde_json::from_slice(body.as_ref()).with_context(|| format!("HTTP {status}"))?;
        let errors = body.get("errors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        checked(status, errors)?;
        Ok(body)
    }

    /// Like [`Api::gql`] for a large response whose data the client does not use: the body is checked
    /// for errors but not built into a JSON tree, so that the load generator, which shares the cores
    /// with the server, does not spend them on a value it throws away.
    pub async fn gql_unread(&self, token: &str, query: &str, variables: Value) -> anyhow::Result<()> {
        /// Only `errors` is kept; `data` is skipped without being built.
        #[derive(serde::Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Vec<Value>,
        }
        let (status, body) = self.post(token, query, variables).await?;
        let Errors { errors } = serde_json::from_slice(body.as_ref()).with_context(|| format!("HTTP {status}"))?;
        checked(status, &errors)
    }

    async fn post(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<(reqwest::StatusCode, impl AsRef<[u8]>)> {
        let response = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.bytes().await?))
    }
}

/// An HTTP error or any GraphQL error is an error.
fn checked(status: reqwest::StatusCode, errors: &[Value]) -> anyhow::Result<()> {
    if let Some(first) = errors.first() {
        bail!("HTTP {status}: {first}");
    }
    if !status.is_success() {
        bail!("HTTP {status}");
    }
    Ok(())
}

fn op<F, Fut>(f: F) -> Operation
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<bool>> + Send + 'static,
{
    Arc::new(move |c, i| Box::pin(f(c, i)))
}

const SUBMIT: &str = "mutation($input: SubmitReferralInput!) { submitReferral(input: $input) { referral { id version status } replayed } }";

/// `submitReferral` from the seeded practices' users, each with a fresh idempotency key and NHS number.
pub fn submit(api: &Api, seeded: &Seeded, nhs_from: u64) -> Operation {
    let api = api.clone();
    let gps: Arc<Vec<String>> = Arc::new(seeded.gps.iter().map(|(_, _, t)| t.clone()).collect());
    let counter = Arc::new(AtomicU64::new(nhs_from));
    op(move |client, _| {
        let api = api.clone();
        let token = gps[client % gps.len()].clone();
        let nhs = loop {
            if let Some(n) = nhs_exact(counter.fetch_add(1, Ordering::Relaxed)) {
                break n;
            }
        };
        async move {
            let input = json!({
                "idempotencyKey": Uuid::new_v4().to_string(),
                "person": { "nhsNumber": nhs, "givenName": "Bench", "familyName": "Person",
                            "dateOfBirth": "1970-05-01", "postcode": "NG1 1AA", "preferredContact": "LETTER" },
                "needs": ["LONELINESS"],
                "reason": "Isolated since a bereavement; would like company.",
                "urgency": "ROUTINE",
                "consent": { "given": true, "recordedBy": "Dr Bench", "recordedAt": Utc::now().to_rfc3339() },
            });
            api.gql(&token, SUBMIT, json!({ "input": input })).await?;
            Ok(true)
        }
    })
}

const CASELOAD: &str = "query($after: String) { referrals(first: 50, after: $after) { pageInfo { hasNextPage endCursor } nodes { id status urgency contactDueAt overdue person { givenName familyName nhsNumber } } } }";

/// A caseload page: each client walks the link worker service's referrals 50 at a time, newest first,
/// following `endCursor`, and starts again at the end.
pub fn caseload(api: &Api, seeded: &Seeded, clients: usize) -> Operation {
    let api = api.clone();
    let token = seeded.link_worker.1.clone();
    let cursors: Arc<Vec<Mutex<Option<String>>>> = Arc::new((0..clients).map(|_| Mutex::new(None)).collect());
    op(move |client, _| {
        let api = api.clone();
        let token = token.clone();
        let cursors = cursors.clone();
        async move {
            let after = cursors[client].lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
            let body = api.gql(&token, CASELOAD, json!({ "after": after })).await?;
            let page = &body["data"]["referrals"]["pageInfo"];
            let next = if page["hasNextPage"].as_bool() == Some(true) {
                page["endCursor"].as_str().map(str::to_owned)
            } else {
                None
            };
            *cursors[client].lock().map_err(|_| anyhow::anyhow!("poisoned"))? = next;
            Ok(true)
        }
    })
}

const REFERRAL: &str = "query($id: ID!) { referral(id: $id) { id version status reason person { givenName familyName nhsNumber } history { version kind fromStatus toStatus actorRole at note } offers { id status serviceName providerName } } }";

/// `referral(id)` with its history and offers, for referrals spread over the caseload.
pub fn referral(api: &Api, seeded: &Seeded) -> Operation {
    let api = api.clone();
    let token = seeded.link_worker.1.clone();
    let ids = Arc::new(seeded.caseload.clone());
    op(move |client, i| {
        let api = api.clone();
        let token = token.clone();
        let id = ids[(mix(client as u64 * 1_000_003 + i) % ids.len().max(1) as u64) as usize];
        async move {
            api.gql(&token, REFERRAL, json!({ "id": id })).await?;
            Ok(true)
        }
    })
}

const WHO_SAW: &str = "query($id: ID!) { auditLog(filter: { referralId: $id }, first: 50) { \
    pageInfo { hasNextPage endCursor } edges { node { id at action actorRole actorUserId actorOrganisationId referralId } } } }";

/// "Who saw this person's record": the network lead's audit log for one of `people`, newest 50 entries,
/// single reads and the caseload pages that listed them.
pub fn who_saw(api: &Api, seeded: &Seeded, people: Arc<Vec<Uuid>>) -> Operation {
    let api = api.clone();
    let token = seeded.lead_token.clone();
    let ids = people;
    op(move |client, i| {
        let api = api.clone();
        let token = token.clone();
        let id = ids[(mix(client as u64 * 2_000_003 + i) % ids.len().max(1) as u64) as usize];
        async move {
            api.gql_unread(&token, WHO_SAW, json!({ "id": id })).await?;
            Ok(true)
        }
    })
}

const OFFER: &str =
    "mutation($input: OfferReferralInput!) { offerReferral(input: $input) { offer { id status expiresAt } } }";

/// `offerReferral`: a contacted referral of the caseload offered to an active service.
pub fn offer(api: &Api, seeded: &Seeded) -> Operation {
    let api = api.clone();
    let token = seeded.link_worker.1.clone();
    let referrals = Arc::new(seeded.offerable.clone());
    let services = Arc::new(seeded.services.clone());
    op(move |client, i| {
        let api = api.clone();
        let token = token.clone();
        let h = mix(client as u64 * 7_000_003 + i);
        let (id, version) = referrals[(h % referrals.len().max(1) as u64) as usize];
        let service = services[((h >> 20) % services.len() as u64) as usize];
        async move {
            let input = json!({ "referralId": id, "expectedVersion": version, "serviceId": service,
                                "noteForProvider": "Prefers mornings." });
            api.gql(&token, OFFER, json!({ "input": input })).await?;
            Ok(true)
        }
    })
}

/// The provider accept: `GET /offers/{token}` as the email link opens it (taking the CSRF cookie and the
/// form's hidden field), then `POST` the accept form with same-origin headers. One operation is the pair.
/// Each link is used once; the operation reports exhaustion when the pool is spent.
pub fn accept(api: &Api, links: Vec<String>) -> Operation {
    let api = api.clone();
    let links = Arc::new(links);
    let next = Arc::new(AtomicUsize::new(0));
    op(move |_, _| {
        let api = api.clone();
        let i = next.fetch_add(1, Ordering::Relaxed);
        let link = links.get(i).cloned();
        async move {
            let Some(link) = link else { return Ok(false) };
            let url = format!("{}/offers/{link}", api.base);
            let page = api.http.get(&url).send().await?;
            if !page.status().is_success() {
                bail!("GET offer page: HTTP {}", page.status());
            }
            let cookie = set_cookie(&page, "trellis_offer_csrf").context("no CSRF cookie")?;
            let field = csrf_field(&page.text().await?)?;
            let posted =
                post_form(&api, &url, format!("trellis_offer_csrf={cookie}"), format!("csrf={field}&action=accept"))
                    .await?;
            let status = posted.status();
            if !(status.is_success() || status.is_redirection()) {
                bail!("POST accept: HTTP {status}");
            }
            Ok(true)
        }
    })
}

const FIND: &str = "query($needs: [Need!]!, $lat: Float!, $lon: Float!) { findServices(needs: $needs, near: { latitude: $lat, longitude: $lon }, radiusKm: 15, first: 20) { score distanceKm needsMet reasons service { id name capacity { status } } } }";

/// `findServices` for a few needs near points across the seeded towns (within 10 km of a town's centre).
pub fn find_services(api: &Api, seeded: &Seeded) -> Operation {
    let api = api.clone();
    let token = seeded.link_worker.1.clone();
    let towns = Arc::new(seeded.towns.clone());
    const NEEDS: [&[&str]; 4] =
        [&["LONELINESS"], &["LOW_MOOD", "PHYSICAL_ACTIVITY"], &["DEBT", "HOUSING"], &["BEREAVEMENT", "FOOD"]];
    op(move |client, i| {
        let api = api.clone();
        let token = token.clone();
        let h = mix(client as u64 * 13 + i);
        let needs = NEEDS[(h % 4) as usize];
        let town = towns[((h >> 40) % towns.len() as u64) as usize];
        let (lat, lon) = crate::seed::near(town, 10.0, h >> 8);
        async move {
            api.gql(&token, FIND, json!({ "needs": needs, "lat": lat, "lon": lon })).await?;
            Ok(true)
        }
    })
}

/// One locality's network as the network page draws it: every node with its capacity and offer
/// statistics, every flow, up to 100 providers (a seeded town has about 60).
const NETWORK: &str = "query($area: NetworkAreaInput!, $until: NaiveDate) { \
    network(area: $area, until: $until, first: 100) { from until statisticsAt hasNextPage endCursor \
    organisations { id kind name } \
    services { id organisationId name available maximum capacityStatus capacityUpdatedAt \
      offers { offered open accepted declined expired acceptanceRate medianResponseHours declineReasons { reason count } } } \
    flows { fromId toId kind count } } }";

/// The locality a request asks for: the seeded towns' link worker services in turn.
pub fn locality(seeded: &Seeded, client: usize, i: u64) -> Vec<Uuid> {
    let n = seeded.localities.len().max(1) as u64;
    seeded.localities.get((mix(client as u64 * 7_919 + i) % n) as usize).cloned().unwrap_or_default()
}

/// `network` for the network lead: one town's locality, the 90 days up to today, its statistics read
/// from the rollups for every request (nothing is reused between requests).
pub fn network(api: &Api, seeded: &Seeded) -> Operation {
    let api = api.clone();
    let token = seeded.lead_token.clone();
    let seeded = Arc::new(seeded.clone());
    op(move |client, i| {
        let api = api.clone();
        let token = token.clone();
        let area: Vec<String> = locality(&seeded, client, i).iter().map(Uuid::to_string).collect();
        async move {
            let until = chrono::Utc::now().date_naive().to_string();
            let variables = json!({ "area": { "linkWorkerServiceIds": area }, "until": until });
            api.gql_unread(&token, NETWORK, variables).await?;
            Ok(true)
        }
    })
}

/// Signs `user` in to the web console as a browser does: a sign-in link (minted by the store, as the
/// emailed one is), its confirmation page, then the confirming `POST`. Returns the `Cookie` header the
/// browser would then send (the session and the anti-forgery cookie).
pub async fn console_session(api: &Api, store: &trellis_store::Store, user: Uuid) -> anyhow::Result<String> {
    let now = Utc::now();
    let user = trellis_domain::UserId(user);
    let secret = store.create_sign_in_link(user, now + chrono::Duration::minutes(15), now).await?;
    let url = format!("{}/sign-in/{secret}", api.base);
    let page = api.http.get(&url).send().await?;
    if !page.status().is_success() {
        bail!("GET sign-in link: HTTP {}", page.status());
    }
    let csrf_cookie = set_cookie(&page, "trellis_offer_csrf").context("no CSRF cookie")?;
    let field = csrf_field(&page.text().await?)?;
    let confirmed = post_form(api, &url, format!("trellis_offer_csrf={csrf_cookie}"), format!("csrf={field}")).await?;
    let session = set_cookie(&confirmed, "trellis_session").context("no session cookie")?;
    Ok(format!("trellis_session={session}; trellis_offer_csrf={csrf_cookie}"))
}

/// The anti-forgery field's value in a page's form.
fn csrf_field(html: &str) -> anyhow::Result<String> {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .context("no CSRF field")
}

/// `POST`s a same-origin form with `cookie`, as a browser on one of the site's pages does.
async fn post_form(api: &Api, url: &str, cookie: String, body: String) -> anyhow::Result<reqwest::Response> {
    Ok(api
        .http
        .post(url)
        .header(reqwest::header::COOKIE, cookie)
        .header(reqwest::header::ORIGIN, api.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?)
}

/// The value of the cookie `name` that `response` sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(prefix.as_str()))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// One console page as a signed-in browser asks for it: the HTML, which must be a `200`.
async fn console_page(api: &Api, cookie: &str, path: &str) -> anyhow::Result<String> {
    let response = api.http.get(format!("{}{path}", api.base)).header(reqwest::header::COOKIE, cookie).send().await?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        bail!("GET {path}: HTTP {status}");
    }
    Ok(response.text().await?)
}

/// The caseload's "next page" link, if there is one (`/caseload?…after=…`).
fn next_page(html: &str) -> Option<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.starts_with("/caseload?") && href.contains("after="))
        .map(|href| href.replace("&amp;", "&"))
}

/// The console's caseload page as the link worker sees it in a browser, with every status
/// (`/caseload?status=all`, as the GraphQL caseload page lists them): each client walks the pages by
/// their "Next page" links, 50 referrals a page, newest first, and starts again at the end.
pub fn console_caseload(api: &Api, cookie: &str, clients: usize) -> Operation {
    let api = api.clone();
    let cookie = cookie.to_owned();
    let paths: Arc<Vec<Mutex<Option<String>>>> = Arc::new((0..clients).map(|_| Mutex::new(None)).collect());
    op(move |client, _| {
        let (api, cookie, paths) = (api.clone(), cookie.clone(), paths.clone());
        async move {
            let path = paths[client].lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
            let html = console_page(&api, &cookie, path.as_deref().unwrap_or("/caseload?status=all")).await?;
            *paths[client].lock().map_err(|_| anyhow::anyhow!("poisoned"))? = next_page(&html);
            Ok(true)
        }
    })
}

/// The console's page for one referral (person, history, offers), for referrals spread over the caseload.
pub fn console_referral(api: &Api, cookie: &str, seeded: &Seeded) -> Operation {
    let api = api.clone();
    let cookie = cookie.to_owned();
    let ids = Arc::new(seeded.caseload.clone());
    op(move |client, i| {
        let (api, cookie) = (api.clone(), cookie.clone());
        let id = ids[(mix(client as u64 * 1_000_003 + i) % ids.len().max(1) as u64) as usize];
        async move {
            console_page(&api, &cookie, &format!("/referrals/{id}")).await?;
            Ok(true)
        }
    })
}
