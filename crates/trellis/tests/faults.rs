//! Process-level fault tests: the real `trellis` binary, started as a child process on a loopback port
//! with a PostgreSQL database of its own, is killed, loses its database, or dies mid-send, and the
//! database is then checked for what `docs/reliability.md` promises.
//!
//! - [`a_server_killed_under_load_loses_no_acknowledged_referral_and_duplicates_none`]
//! - [`the_server_recovers_from_a_database_restart_without_being_restarted`]: stops the machine's shared
//!   PostgreSQL, so it is ignored here and run alone by `scripts/fault-tests`.
//! - [`a_worker_killed_mid_send_leaves_its_rows_to_the_next_worker_which_delivers_each_once`]
//! - [`two_servers_and_two_workers_on_one_database_lose_no_write_send_no_email_twice_and_cut_off_keys_within_a_second`]:
//!   several instances on one PostgreSQL, with keys revoked and a user disabled through `trellis admin`.
//!
//! Each test prints its figures as one `fault-figures {json}` line (shown with `--nocapture`). Each child
//! process logs to a file of its own, kept (and named on stderr) when a test fails. Every wait is bounded:
//! each test stops by itself within about a minute.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on the first surprise")]

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use trellis_domain::ReferralId;
use trellis_domain::referral::ReferralCommand;
use trellis_domain::values::NhsNumber;
use trellis_store::Store;
use trellis_store::offers::{OfferRequest, OfferTimers};
use trellis_store::outbox::DeliveryStatus;
use trellis_store::testing::{Backend, Fixture, TestDb};
use trellis_tests::maildev::{MailDev, free_port};

// ---------------------------------------------------------------------------------------------------------
// The binary as a child process.

/// A `trellis` child process logging to a file of its own; killed with SIGKILL when dropped.
struct Trellis {
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Trellis {
    /// Prepares `trellis ARGS` with `env` on top of this process's environment minus its `TRELLIS_*`
    /// variables; nothing runs until [`Trellis::spawn`].
    fn new(args: &[&str], env: &[(&str, &str)]) -> Trellis {
        let dir = std::env::temp_dir().join(format!("trellis-fault-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("log folder");
        Trellis {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            dir,
            child: None,
            starts: 0,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("trellis.log")
    }

    /// Starts the process (again), appending to the same log.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.starts += 1;
        let log = File::options().create(true).append(true).open(self.log_path()).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_trellis"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TRELLIS_") {
                command.env_remove(key);
            }
        }
        command
            .args(&self.args)
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        self.child = Some(command.spawn().expect("start the trellis binary"));
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown hook runs and in-flight work is cut off.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The exit status, if the process has ended by itself.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Trellis {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("trellis {:?} logs are kept in {}", self.args, self.log_path().display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `trellis serve --no-worker` on a fixed loopback port, so that a restarted server is where its clients
/// left it.
struct Server {
    process: Trellis,
    base_url: String,
    http: reqwest::Client,
}

impl Server {
    /// Starts the server on `db` with `env` added, and waits until `/readyz` says ready.
    async fn start(db: &TestDb, env: &[(&str, &str)]) -> Server {
        let bind = format!("127.0.0.1:{}", free_port());
        let base_url = format!("http://{bind}");
        let mut all = vec![("TRELLIS_DATABASE_URL", db.url.as_str()), ("TRELLIS_PUBLIC_BASE_URL", base_url.as_str())];
        all.extend_from_slice(env);
        let process = Trellis::new(&["serve", "--no-worker", "--bind", &bind], &all);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
        let mut server = Server { process, base_url, http };
        server.process.spawn();
        server.wait_until_ready().await;
        server
    }

    /// Kills the server with SIGKILL.
    fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts it again on the same port and database, and waits until it is ready.
    async fn restart(&mut self) {
        self.process.spawn();
        self.wait_until_ready().await;
    }

    /// `/readyz`'s status and how long it took to answer.
    async fn readyz(&self) -> (Option<u16>, Duration) {
        let started = Instant::now();
        let status = self.http.get(format!("{}/readyz", self.base_url)).send().await.ok().map(|r| r.status().as_u16());
        (status, started.elapsed())
    }

    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.exited() {
                panic!("trellis exited with {status}:\n{}", self.process.log());
            }
            if self.readyz().await.0 == Some(200) {
                return;
            }
            assert!(Instant::now() < deadline, "trellis was not ready within 30 s:\n{}", self.process.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Clients that submit referrals and retry until acknowledged, as a practice system would.

const SUBMIT: &str = "mutation SubmitReferral($input: SubmitReferralInput!) { \
    submitReferral(input: $input) { replayed referral { id } } }";

/// `count` distinct valid NHS numbers (the mod-11 check digit), from the 9-digit prefix `first` upwards.
fn nhs_numbers(first: u32, count: usize) -> Vec<String> {
    let numbers: Vec<String> = (first..)
        .filter_map(|prefix| {
            let digits = prefix.to_string();
            let sum: u32 = digits.bytes().zip((2..=10).rev()).map(|(d, weight)| u32::from(d - b'0') * weight).sum();
            match 11 - sum % 11 {
                10 => None,
                11 => Some(format!("{digits}0")),
                check => Some(format!("{digits}{check}")),
            }
        })
        .take(count)
        .collect();
    for n in &numbers {
        NhsNumber::parse(n).unwrap_or_else(|e| panic!("generated an invalid NHS number {n}: {e}"));
    }
    numbers
}

/// One referral a client must get acknowledged: its idempotency key and the exact body every retry resends.
#[derive(Clone, Debug)]
struct Submission {
    key: String,
    body: Value,
}

impl Submission {
    fn new(key: String, nhs_number: &str) -> Submission {
        let recorded_at = (Utc::now() - TimeDelta::hours(1)).to_rfc3339();
        let body = json!({ "query": SUBMIT, "variables": { "input": {
            "idempotencyKey": key,
            "person": {
                "nhsNumber": nhs_number, "givenName": "Margaret", "familyName": "Hughes",
                "dateOfBirth": "1946-05-17", "phone": "0115 496 0123", "postcode": "NG10 1AB",
                "preferredContact": "PHONE"
            },
            "needs": ["LONELINESS"],
            "reason": "Rarely goes out since her husband died.",
            "urgency": "ROUTINE",
            "consent": { "given": true, "recordedBy": "Dr Patel", "recordedAt": recorded_at }
        }}});
        Submission { key, body }
    }
}

/// What one request came back with.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// The referral's id, and whether this answer replayed an earlier commit.
    Acknowledged { id: String, replayed: bool },
    /// A clean refusal: the HTTP status, and for a GraphQL error its `extensions.code`.
    Refused { status: u16, code: Option<String> },
    /// No usable answer: refused or reset connection, or a body that is not a GraphQL response.
    Transport(String),
    /// Nothing within the client's timeout.
    TimedOut,
}

impl Outcome {
    /// A refusal the client can act on: a GraphQL error with a code, or a timeout or unavailable status.
    fn is_clean_refusal(&self) -> bool {
        matches!(self, Outcome::Refused { code: Some(_), .. } | Outcome::Refused { status: 408 | 503, .. })
    }
}

/// One request: when it started, how long it took and what came back.
#[derive(Clone, Debug)]
struct Attempt {
    started: Instant,
    elapsed: Duration,
    outcome: Outcome,
}

/// An acknowledged submission.
#[derive(Clone, Debug)]
struct Ack {
    key: String,
    id: String,
    replayed: bool,
}

/// Every request the clients of one test sent.
#[derive(Default)]
struct Traffic {
    attempts: Mutex<Vec<Attempt>>,
    acknowledged: AtomicUsize,
}

impl Traffic {
    fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().expect("traffic").clone()
    }

    fn count(&self, what: impl Fn(&Outcome) -> bool) -> usize {
        self.attempts.lock().expect("traffic").iter().filter(|a| what(&a.outcome)).count()
    }
}

async fn send(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Outcome {
    let response = match http.post(url).bearer_auth(token).json(body).send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Outcome::TimedOut,
        Err(e) => return Outcome::Transport(e.to_string()),
    };
    let status = response.status().as_u16();
    let body: Option<Value> = match response.json().await {
        Ok(body) => Some(body),
        Err(e) if e.is_timeout() => return Outcome::TimedOut,
        Err(_) => None,
    };
    let code = body.as_ref().and_then(|b| b.pointer("/errors/0/extensions/code")).and_then(Value::as_str);
    let id = body.as_ref().and_then(|b| b.pointer("/data/submitReferral/referral/id")).and_then(Value::as_str);
    let replayed = body.as_ref().and_then(|b| b.pointer("/data/submitReferral/replayed")).and_then(Value::as_bool);
    match (status, id, replayed) {
        (200, Some(id), Some(replayed)) => Outcome::Acknowledged { id: id.to_owned(), replayed },
        (200, _, _) if code.is_none() => Outcome::Transport(format!("an unexpected answer: {body:?}")),
        _ => Outcome::Refused { status, code: code.map(str::to_owned) },
    }
}

/// Sends `submission` until it is acknowledged, retrying after any error or timeout; panics past `deadline`.
async fn submit_until_acknowledged(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    submission: &Submission,
    deadline: Instant,
    traffic: &Traffic,
) -> Ack {
    loop {
        let started = Instant::now();
        let outcome = send(http, url, token, &submission.body).await;
        let attempt = Attempt { started, elapsed: started.elapsed(), outcome: outcome.clone() };
        traffic.attempts.lock().expect("traffic").push(attempt);
        if let Outcome::Acknowledged { id, replayed } = outcome {
            traffic.acknowledged.fetch_add(1, Ordering::SeqCst);
            return Ack { key: submission.key.clone(), id, replayed };
        }
        assert!(Instant::now() < deadline, "{} was never acknowledged; the last answer: {outcome:?}", submission.key);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client submitting `submissions` one after another, each until acknowledged.
fn client(
    server: &Server,
    token: &str,
    submissions: Vec<Submission>,
    deadline: Instant,
    traffic: &Arc<Traffic>,
) -> tokio::task::JoinHandle<Vec<Ack>> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
    let url = format!("{}/graphql", server.base_url);
    let (token, traffic) = (token.to_owned(), traffic.clone());
    tokio::spawn(async move {
        let mut acks = Vec::with_capacity(submissions.len());
        for submission in &submissions {
            acks.push(submit_until_acknowledged(&http, &url, &token, submission, deadline, &traffic).await);
        }
        acks
    })
}

// ---------------------------------------------------------------------------------------------------------
// What the database holds.

async fn count(store: &Store, sql: &str) -> usize {
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row");
    let n: i64 = row.try_get_by_index(0).expect("a count");
    usize::try_from(n).expect("a count")
}

/// How the acknowledged submissions compare with what the database holds.
#[derive(Debug)]
struct Ledger {
    /// Referrals in the database.
    referrals: usize,
    /// Acknowledged submissions whose key does not name the acknowledged referral, or whose referral is
    /// missing.
    lost: usize,
    /// Referrals beyond one per submission: unnamed by any key, or a second one for the same person.
    duplicated: usize,
}

async fn ledger(store: &Store, acks: &[Ack]) -> Ledger {
    let rows = store
        .connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT k.key, k.referral_id::text FROM idempotency_keys k JOIN referrals r ON r.id = k.referral_id",
        ))
        .await
        .expect("idempotency keys");
    let stored: HashMap<String, String> = rows
        .iter()
        .map(|row| (row.try_get_by_index(0).expect("key"), row.try_get_by_index(1).expect("referral id")))
        .collect();
    let lost = acks.iter().filter(|ack| stored.get(&ack.key) != Some(&ack.id)).count();
    let unkeyed = count(
        store,
        "SELECT count(*) FROM referrals r WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.referral_id = r.id)",
    )
    .await;
    let second_for_a_person = count(store, "SELECT count(*) - count(DISTINCT person_id) FROM referrals").await;
    let doubled_history = count(
        store,
        "SELECT count(*) FROM (SELECT referral_id FROM referral_events GROUP BY referral_id, version \
         HAVING count(*) > 1) d",
    )
    .await;
    assert_eq!(doubled_history, 0, "no event recorded twice");
    Ledger {
        referrals: count(store, "SELECT count(*) FROM referrals").await,
        lost,
        duplicated: unkeyed + second_for_a_person,
    }
}

/// Asserts each acknowledged submission exists exactly once, and nothing else does.
async fn assert_each_acknowledged_submission_stored_once(store: &Store, acks: &[Ack]) -> Ledger {
    let keys: HashSet<&str> = acks.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys.len(), acks.len(), "each key acknowledged once");
    let ids: HashSet<&str> = acks.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), acks.len(), "no two submissions acknowledged with one referral");
    let ledger = ledger(store, acks).await;
    assert_eq!((ledger.lost, ledger.duplicated), (0, 0), "{ledger:?}");
    assert_eq!(ledger.referrals, acks.len(), "one referral per acknowledged submission: {ledger:?}");
    ledger
}

/// A migrated PostgreSQL database with the fixture locality, and a token for its GP.
async fn locality() -> (TestDb, Store, Fixture, String) {
    let (db, store) = TestDb::migrated(Backend::Postgres).await;
    let fixture = Fixture::create(&store).await;
    let token = store.issue_api_key(fixture.gp.id, "fault tests", Utc::now()).await.expect("token").token;
    (db, store, fixture, token)
}

/// Asserts a process's log holds neither the bearer token nor any of the people's NHS numbers or names.
fn assert_log_holds_no_personal_data(log: &str, token: &str, nhs_numbers: &[String]) {
    assert!(!log.is_empty(), "the server logged nothing");
    assert!(!log.contains(token), "the bearer token is logged");
    for n in nhs_numbers {
        let spaced = format!("{} {} {}", &n[..3], &n[3..6], &n[6..]);
        assert!(!log.contains(n.as_str()) && !log.contains(&spaced), "NHS number {n} is logged");
    }
    for name in ["Margaret", "Hughes"] {
        assert!(!log.contains(name), "{name} is logged");
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------------------
// Crash under load.

const CLIENTS: usize = 8;
const PER_CLIENT: usize = 25;
/// The server is killed when this many submissions have been acknowledged, and restarted each time.
const KILL_AT: [usize; 2] = [50, 125];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_load_loses_no_acknowledged_referral_and_duplicates_none() {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(50);
    let (_db, store, _fixture, token) = locality().await;
    let mut server = Server::start(&_db, &[("TRELLIS_RATE_LIMIT_PER_MINUTE", "1000000")]).await;

    let numbers = nhs_numbers(400_000_000, CLIENTS * PER_CLIENT);
    let traffic = Arc::new(Traffic::default());
    let clients: Vec<_> = numbers
        .chunks(PER_CLIENT)
        .enumerate()
        .map(|(c, chunk)| {
            let submissions =
                chunk.iter().enumerate().map(|(i, nhs)| Submission::new(format!("crash-{c}-{i}"), nhs)).collect();
            client(&server, &token, submissions, deadline, &traffic)
        })
        .collect();

    let mut outages = Vec::new();
    for at in KILL_AT {
        while traffic.acknowledged.load(Ordering::SeqCst) < at {
            assert!(Instant::now() < deadline, "only {} acknowledged", traffic.acknowledged.load(Ordering::SeqCst));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = Instant::now();
        server.kill();
        server.restart().await;
        outages.push(millis(killed.elapsed()));
    }

    let mut acks = Vec::new();
    for client in clients {
        acks.extend(client.await.expect("a client gave up"));
    }
    let ledger = assert_each_acknowledged_submission_stored_once(&store, &acks).await;
    // Through both kills, the server's own logs hold no personal data and no token.
    assert_log_holds_no_personal_data(&server.process.log(), &token, &numbers);

    let requests = traffic.attempts().len();
    let figures = json!({
        "test": "a_server_killed_under_load_loses_no_acknowledged_referral_and_duplicates_none",
        "clients": CLIENTS,
        "submissions": acks.len(),
        "sigkills": KILL_AT.len(),
        "outage_ms": outages,
        "requests": requests,
        "retries": requests - acks.len(),
        "connection_errors": traffic.count(|o| matches!(o, Outcome::Transport(_))),
        "refused": traffic.count(|o| matches!(o, Outcome::Refused { .. })),
        "timed_out": traffic.count(|o| *o == Outcome::TimedOut),
        "acknowledged": acks.len(),
        "acknowledged_as_replay": acks.iter().filter(|a| a.replayed).count(),
        "referrals_stored": ledger.referrals,
        "lost": ledger.lost,
        "duplicated": ledger.duplicated,
        "seconds": started.elapsed().as_secs_f32(),
    });
    println!("fault-figures {figures}");
    assert_eq!(server.process.starts, 1 + KILL_AT.len() as u32);
}

// ---------------------------------------------------------------------------------------------------------
// Database restart.

/// The request timeout the server is given, in seconds: no request may take longer (plus a margin).
const REQUEST_TIMEOUT_SECS: u64 = 5;

/// Runs `pg_ctlcluster 15 main ACTION`, bypassing a systemd redirect where that option is known.
fn pg_ctlcluster(action: &str) -> bool {
    let run = |args: &[&str]| Command::new("pg_ctlcluster").args(args).status().is_ok_and(|s| s.success());
    run(&["--skip-systemctl-redirect", "15", "main", action]) || run(&["15", "main", action])
}

fn postgres_accepts_connections() -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], 5432).into(), Duration::from_secs(1)).is_ok()
        && Command::new("pg_isready").args(["-q", "-h", "127.0.0.1", "-p", "5432"]).status().is_ok_and(|s| s.success())
}

/// The machine's PostgreSQL, stopped until [`Outage::end`]; started again if the test fails first.
struct Outage {
    over: bool,
}

impl Outage {
    fn begin() -> Outage {
        assert!(pg_ctlcluster("stop"), "could not stop PostgreSQL with pg_ctlcluster");
        Outage { over: false }
    }

    /// Starts PostgreSQL and waits (up to 60 s) until it accepts connections.
    fn end(mut self) {
        self.over = true;
        assert!(pg_ctlcluster("start"), "could not start PostgreSQL with pg_ctlcluster");
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        // Asked again until it accepts connections: a stop still under way refuses a start.
        let deadline = Instant::now() + Duration::from_secs(60);
        if !self.over {
            self.over = true;
            let _ = pg_ctlcluster("start");
        }
        while !postgres_accepts_connections() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            if !postgres_accepts_connections() {
                let _ = pg_ctlcluster("start");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the machine's PostgreSQL: run by scripts/fault-tests"]
async fn the_server_recovers_from_a_database_restart_without_being_restarted() {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(55);
    let (db, store, _fixture, token) = locality().await;
    let timeout = REQUEST_TIMEOUT_SECS.to_string();
    let mut server = Server::start(
        &db,
        &[
            ("TRELLIS_REQUEST_TIMEOUT_SECS", timeout.as_str()),
            ("TRELLIS_RATE_LIMIT_PER_MINUTE", "1000000"),
            ("TRELLIS_DATABASE_MAX_CONNECTIONS", "4"),
        ],
    )
    .await;

    // A light load: four clients, each submitting one referral after another until told to stop.
    let traffic = Arc::new(Traffic::default());
    let stop = Arc::new(AtomicBool::new(false));
    let sequence = Arc::new(AtomicU64::new(0));
    let numbers = Arc::new(nhs_numbers(500_000_000, 2_000));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS * 3))
                .build()
                .expect("HTTP client");
            let url = format!("{}/graphql", server.base_url);
            let (token, traffic, stop, sequence, numbers) =
                (token.clone(), traffic.clone(), stop.clone(), sequence.clone(), numbers.clone());
            tokio::spawn(async move {
                let mut acks = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let n = usize::try_from(sequence.fetch_add(1, Ordering::SeqCst)).expect("a small number");
                    let submission = Submission::new(format!("restart-{n}"), &numbers[n]);
                    acks.push(submit_until_acknowledged(&http, &url, &token, &submission, deadline, &traffic).await);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                acks
            })
        })
        .collect();
    while traffic.acknowledged.load(Ordering::SeqCst) < 10 {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // PostgreSQL goes away: /readyz says so within its own 2 s timeout (plus a margin), every time.
    let outage_started = Instant::now();
    let outage = tokio::task::spawn_blocking(Outage::begin).await.expect("stopping PostgreSQL");
    let stopped_after = outage_started.elapsed();
    let mut readyz_during_outage = Vec::new();
    let unready_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < unready_until {
        let (status, took) = server.readyz().await;
        assert_eq!(status, Some(503), "/readyz while PostgreSQL is down");
        assert!(took < Duration::from_millis(3_000), "/readyz took {took:?} to say unready");
        readyz_during_outage.push(millis(took));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // It comes back: /readyz says ready again, with the same server process.
    let restart_started = Instant::now();
    // Dropping the outage waits until PostgreSQL accepts connections.
    tokio::task::spawn_blocking(move || outage.end()).await.expect("starting PostgreSQL");
    let mut ready_at = None;
    while ready_at.is_none() {
        assert!(Instant::now() < deadline, "/readyz never said ready again after PostgreSQL came back");
        if server.readyz().await.0 == Some(200) {
            ready_at = Some(Instant::now());
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let ready_at = ready_at.expect("ready");
    let recovered_after = ready_at - restart_started;

    // GraphQL works again without a restart: the load carries on, and every request from now succeeds.
    let acknowledged_at_recovery = traffic.acknowledged.load(Ordering::SeqCst);
    while traffic.acknowledged.load(Ordering::SeqCst) < acknowledged_at_recovery + 20 {
        assert!(Instant::now() < deadline, "the load did not resume after PostgreSQL came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut acks = Vec::new();
    for client in load {
        acks.extend(client.await.expect("a client gave up"));
    }
    assert!(server.process.exited().is_none() && server.process.starts == 1, "the server was never restarted");

    let attempts = traffic.attempts();
    let limit = Duration::from_secs(REQUEST_TIMEOUT_SECS) + Duration::from_millis(1_500);
    let slowest = attempts.iter().map(|a| a.elapsed).max().unwrap_or_default();
    let hung = attempts.iter().filter(|a| a.elapsed > limit || a.outcome == Outcome::TimedOut).count();
    for attempt in &attempts {
        assert!(attempt.elapsed <= limit, "a request hung past the request timeout: {attempt:?}");
        match &attempt.outcome {
            Outcome::Acknowledged { .. } => {}
            Outcome::Refused { status, code }
                if matches!(status, 401 | 403) || code.as_deref() == Some("UNAUTHENTICATED") =>
            {
                panic!("a database outage must not look like a bad token to the client: {attempt:?}")
            }
            refused if refused.is_clean_refusal() => {}
            other => panic!("not a clean error while the server stayed up: {other:?}"),
        }
    }
    let during: Vec<&Attempt> =
        attempts.iter().filter(|a| a.started >= outage_started && a.started < restart_started).collect();
    let refused_during = during.iter().filter(|a| matches!(a.outcome, Outcome::Refused { .. })).count();
    assert!(refused_during > 0, "the load reached the server while PostgreSQL was down");
    let after: Vec<&Attempt> = attempts.iter().filter(|a| a.started >= ready_at).collect();
    let failed_after: Vec<&&Attempt> =
        after.iter().filter(|a| !matches!(a.outcome, Outcome::Acknowledged { .. })).collect();
    assert!(failed_after.is_empty(), "requests failed after /readyz said ready: {failed_after:?}");
    let mut codes: Vec<String> = during
        .iter()
        .filter_map(|a| match &a.outcome {
            Outcome::Refused { status, code } => Some(format!("{status} {}", code.as_deref().unwrap_or("-"))),
            _ => None,
        })
        .collect();
    codes.sort_unstable();
    codes.dedup();

    let ledger = assert_each_acknowledged_submission_stored_once(&store, &acks).await;
    assert_log_holds_no_personal_data(&server.process.log(), &token, &numbers[..acks.len()]);
    let figures = json!({
        "test": "the_server_recovers_from_a_database_restart_without_being_restarted",
        "request_timeout_secs": REQUEST_TIMEOUT_SECS,
        "postgres_stop_ms": millis(stopped_after),
        "requests": attempts.len(),
        "requests_during_outage": during.len(),
        "refused_during_outage": refused_during,
        "refusals": codes,
        "slowest_request_ms": millis(slowest),
        "readyz_503_checks": readyz_during_outage.len(),
        "slowest_readyz_503_ms": readyz_during_outage.iter().max(),
        "ready_again_after_postgres_start_ms": millis(recovered_after),
        "requests_after_ready": after.len(),
        "failed_after_ready": failed_after.len(),
        "hung": hung,
        "server_restarts": server.process.starts - 1,
        "acknowledged": acks.len(),
        "acknowledged_as_replay": acks.iter().filter(|a| a.replayed).count(),
        "referrals_stored": ledger.referrals,
        "lost": ledger.lost,
        "duplicated": ledger.duplicated,
        "seconds": started.elapsed().as_secs_f32(),
    });
    println!("fault-figures {figures}");
    server.kill();
}

// ---------------------------------------------------------------------------------------------------------
// Worker crash.

/// An SMTP server that takes connections and never says a word: a send to it waits for the greeting until
/// the mailer's timeout, so a worker can be caught, and killed, mid-send.
struct SilentSmtp {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SilentSmtp {
    async fn start() -> SilentSmtp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        SilentSmtp { port, connections, task }
    }
}

impl Drop for SilentSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `trellis worker` sending over plain SMTP to `127.0.0.1:port`.
fn worker(db: &TestDb, smtp_port: u16) -> Trellis {
    let port = smtp_port.to_string();
    let mut worker = Trellis::new(
        &["worker"],
        &[
            ("TRELLIS_DATABASE_URL", db.url.as_str()),
            ("TRELLIS_SMTP_HOST", "127.0.0.1"),
            ("TRELLIS_SMTP_PORT", port.as_str()),
            ("TRELLIS_SMTP_SECURITY", "none"),
            ("TRELLIS_PUBLIC_BASE_URL", "http://trellis.test"),
        ],
    );
    worker.spawn();
    worker
}

/// The outbox rows' status, attempts and claimant, in id order.
async fn claims(store: &Store) -> Vec<(String, i32, Option<String>)> {
    let rows = store
        .connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT status, attempts, locked_by FROM email_outbox ORDER BY id",
        ))
        .await
        .expect("outbox");
    rows.iter()
        .map(|r| {
            (
                r.try_get_by_index(0).expect("status"),
                r.try_get_by_index(1).expect("attempts"),
                r.try_get_by_index(2).expect("locked_by"),
            )
        })
        .collect()
}

/// A referral assigned to the fixture's link worker, who has spoken to the person.
async fn contacted_referral(store: &Store, f: &Fixture) -> ReferralId {
    let lw = Fixture::actor(&f.link_worker);
    let submitted = store.submit_referral(f.referral("9434765919"), None, &Fixture::actor(&f.gp), Utc::now()).await;
    let id = submitted.expect("submit").referral.state.id;
    store
        .transition_referral(id, 1, ReferralCommand::Assign { to: f.link_worker.id }, &lw, Utc::now())
        .await
        .expect("assign");
    let contact = ReferralCommand::RecordContact { note: None };
    store.transition_referral(id, 2, contact, &lw, Utc::now()).await.expect("contact");
    id
}

const OFFERS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_send_leaves_its_rows_to_the_next_worker_which_delivers_each_once() {
    let started = Instant::now();
    let (db, store, f, _token) = locality().await;
    let referral = contacted_referral(&store, &f).await;
    let lw = Fixture::actor(&f.link_worker);
    for _ in 0..OFFERS {
        let timers = OfferTimers {
            expires_at: Utc::now() + TimeDelta::days(14),
            remind_at: Some(Utc::now() + TimeDelta::days(5)),
        };
        store
            .make_offer(OfferRequest::new(referral, f.walking_group.id, timers), &lw, Utc::now())
            .await
            .expect("offer");
    }

    // The worker claims every row and hangs on the first send; it is killed there.
    let silent = SilentSmtp::start().await;
    let mut first = worker(&db, silent.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    let dead_worker = loop {
        let rows = claims(&store).await;
        let claimant = rows.first().and_then(|r| r.2.clone());
        if silent.connections.load(Ordering::SeqCst) > 0 && rows.iter().all(|r| r.2.is_some()) {
            break claimant.expect("claimed");
        }
        assert!(first.exited().is_none(), "the worker exited:\n{}", first.log());
        assert!(Instant::now() < deadline, "the worker never got to sending: {rows:?}\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.kill();
    let rows = claims(&store).await;
    assert_eq!(rows.len(), OFFERS);
    assert!(
        rows.iter().all(|r| (r.0.as_str(), r.1, r.2.as_deref()) == ("pending", 1, Some(dead_worker.as_str()))),
        "left claimed, unsent, by the dead worker: {rows:?}"
    );

    // The next worker, with a working mail server, leaves the rows alone while the dead worker's lease holds ...
    let maildev = MailDev::start().await;
    let second = worker(&db, maildev.smtp_port());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !second.log().contains("outbox worker started") {
        assert!(Instant::now() < deadline, "the second worker did not start:\n{}", second.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(maildev.emails().await.is_empty(), "nothing is sent while another worker's lease holds");
    assert!(claims(&store).await.iter().all(|r| r.2.as_deref() == Some(dead_worker.as_str())));

    // ... and once the lease has lapsed (five minutes, stood in for by moving its end into the past) it takes
    // them and delivers each one once.
    let lapse =
        format!("UPDATE email_outbox SET locked_until = now() - interval '1 second' WHERE locked_by = '{dead_worker}'");
    store.connection().execute_unprepared(&lapse).await.expect("lapse the lease");
    let emails = maildev.wait_for(OFFERS).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let outbox = loop {
        let outbox = store.outbox().await.expect("outbox");
        if outbox.iter().all(|r| r.status == DeliveryStatus::Sent) {
            break outbox;
        }
        assert!(Instant::now() < deadline, "not every row was marked sent: {outbox:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(outbox.iter().all(|r| r.attempts == 2), "the crashed attempt counts: {outbox:#?}");
    assert!(claims(&store).await.iter().all(|r| r.2.as_deref() != Some(dead_worker.as_str())));
    let emails_now = maildev.emails().await;
    assert_eq!(emails_now.len(), OFFERS, "one message per row");
    let mut received: Vec<&str> =
        emails.iter().map(|e| e["headers"]["message-id"].as_str().unwrap_or_default()).collect();
    received.sort_unstable();
    let mut expected: Vec<&str> = outbox.iter().map(|r| r.message_id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(received, expected, "each row arrived exactly once");

    let distinct: HashSet<&str> = received.iter().copied().collect();
    let figures = json!({
        "test": "a_worker_killed_mid_send_leaves_its_rows_to_the_next_worker_which_delivers_each_once",
        "rows": OFFERS,
        "claimed_by_the_killed_worker": OFFERS,
        "delivered": emails_now.len(),
        "lost": expected.iter().filter(|id| !distinct.contains(*id)).count(),
        "duplicated": received.len() - distinct.len(),
        "attempts_per_row": 2,
        "seconds": started.elapsed().as_secs_f32(),
    });
    println!("fault-figures {figures}");
}

// ---------------------------------------------------------------------------------------------------------
// Several instances on one database.

/// Sends one GraphQL operation to `server` as `token`; the whole JSON answer.
async fn graphql(server: &Server, token: &str, query: &str, variables: Value) -> Value {
    let response = server
        .http
        .post(format!("{}/graphql", server.base_url))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("an answer");
    response.json().await.expect("a GraphQL answer")
}

/// Runs `trellis admin ARGS` on `db` to completion; its standard output.
fn admin(db: &TestDb, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .arg("admin")
        .args(args)
        .env("TRELLIS_DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run trellis admin");
    assert!(output.status.success(), "trellis admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// How long after `since` every server refuses `token` (polling every 20 ms, for at most 5 s).
async fn refused_by_all_after(servers: &[&Server], token: &str, since: Instant) -> Duration {
    let me = "{ me { user { id } } }";
    loop {
        let mut refused = true;
        for server in servers {
            let answer = graphql(server, token, me, json!({})).await;
            refused &= answer.pointer("/errors/0/extensions/code") == Some(&json!("UNAUTHENTICATED"));
        }
        if refused {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_secs(5), "still accepted 5 s after it was cut off");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const SUBMITTERS_PER_SERVER: usize = 2;
const PER_SUBMITTER: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_and_two_workers_on_one_database_lose_no_write_send_no_email_twice_and_cut_off_keys_within_a_second()
 {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(50);
    let (db, store, f, gp) = locality().await;
    let now = Utc::now();
    let lw = store.issue_api_key(f.link_worker.id, "faults", now).await.expect("token").token;
    let unlimited = [("TRELLIS_RATE_LIMIT_PER_MINUTE", "1000000")];
    let a = Server::start(&db, &unlimited).await;
    let b = Server::start(&db, &unlimited).await;
    let maildev = MailDev::start().await;
    let mut workers = [worker(&db, maildev.smtp_port()), worker(&db, maildev.smtp_port())];

    // Submissions through both servers at once: each acknowledged one stored once.
    let numbers = nhs_numbers(500_000_000, 2 * SUBMITTERS_PER_SERVER * PER_SUBMITTER);
    let traffic = Arc::new(Traffic::default());
    let clients: Vec<_> = numbers
        .chunks(PER_SUBMITTER)
        .enumerate()
        .map(|(c, chunk)| {
            let submissions =
                chunk.iter().enumerate().map(|(i, nhs)| Submission::new(format!("two-{c}-{i}"), nhs)).collect();
            client(if c % 2 == 0 { &a } else { &b }, &gp, submissions, deadline, &traffic)
        })
        .collect();
    let mut acks = Vec::new();
    for client in clients {
        acks.extend(client.await.expect("a client gave up"));
    }
    assert_each_acknowledged_submission_stored_once(&store, &acks).await;

    // The same transition sent to both servers at once: one applies it, the other is told CONFLICT.
    let contact =
        "mutation($id: ID!) { recordContact(input: { referralId: $id, expectedVersion: 1 }) { referral { version } } }";
    let mut conflicts = 0;
    for ack in &acks {
        let vars = json!({ "id": ack.id });
        let (from_a, from_b) = tokio::join!(graphql(&a, &lw, contact, vars.clone()), graphql(&b, &lw, contact, vars));
        let won = [&from_a, &from_b]
            .iter()
            .filter(|r| r.pointer("/data/recordContact/referral/version") == Some(&json!(2)))
            .count();
        let lost = [&from_a, &from_b]
            .iter()
            .filter(|r| r.pointer("/errors/0/extensions/code") == Some(&json!("CONFLICT")))
            .count();
        assert_eq!((won, lost), (1, 1), "{from_a} / {from_b}");
        conflicts += lost;
    }
    let events = count(&store, "SELECT count(*) FROM referral_events WHERE to_status = 'contacted'").await;
    assert_eq!(events, acks.len(), "each referral contacted once");

    // An offer per referral, alternately through each server; the two workers share the outbox.
    let offer = "mutation($id: ID!, $service: ID!) { offerReferral(input: { referralId: $id, expectedVersion: 2, \
        serviceId: $service }) { offer { id } } }";
    for (i, ack) in acks.iter().enumerate() {
        let server = if i % 2 == 0 { &a } else { &b };
        let answer =
            graphql(server, &lw, offer, json!({ "id": ack.id, "service": f.walking_group.id.to_string() })).await;
        assert!(answer.pointer("/data/offerReferral/offer/id").is_some(), "{answer}");
    }
    let wait = Instant::now() + Duration::from_secs(30);
    let outbox = loop {
        let outbox = store.outbox().await.expect("outbox");
        let done = |r: &&trellis_store::outbox::OutboxEmail| {
            matches!(r.status, DeliveryStatus::Sent | DeliveryStatus::Skipped)
        };
        if outbox.len() >= acks.len() && outbox.iter().all(|r| done(&r)) {
            break outbox.into_iter().filter(|r| r.status == DeliveryStatus::Sent).collect::<Vec<_>>();
        }
        assert!(Instant::now() < wait, "not every email was sent: {outbox:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(outbox.len() >= acks.len(), "an email per offer at least: {outbox:#?}");
    let emails = maildev.wait_for(outbox.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let emails_now = maildev.emails().await;
    assert_eq!(emails_now.len(), outbox.len(), "one message per outbox row, none twice");
    let mut received: Vec<&str> =
        emails.iter().map(|e| e["headers"]["message-id"].as_str().unwrap_or_default()).collect();
    received.sort_unstable();
    let mut expected: Vec<&str> = outbox.iter().map(|r| r.message_id.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(received, expected, "each row arrived exactly once");
    let senders: HashSet<String> = claims(&store).await.into_iter().filter_map(|(_, _, by)| by).collect();

    // A key and a user cut off through a third process (the CLI) are refused by both servers within a
    // second, though both had just accepted (and cached) them.
    let spare = store.issue_api_key(f.gp.id, "spare", Utc::now()).await.expect("token");
    let leaver = store.issue_api_key(f.provider_user.id, "leaver", Utc::now()).await.expect("token");
    for token in [&spare.token, &leaver.token] {
        for server in [&a, &b] {
            let answer = graphql(server, token, "{ me { user { id } } }", json!({})).await;
            assert!(answer.pointer("/data/me/user/id").is_some(), "{answer}");
        }
    }
    // Other traffic keeps both servers busy (and their caches warm) throughout, as in production.
    let busy = Arc::new(AtomicBool::new(true));
    let background = {
        let (busy, gp) = (busy.clone(), gp.clone());
        let urls = [a.base_url.clone(), b.base_url.clone()];
        let http = a.http.clone();
        tokio::spawn(async move {
            while busy.load(Ordering::SeqCst) {
                for url in &urls {
                    let _ = http
                        .post(format!("{url}/graphql"))
                        .bearer_auth(&gp)
                        .json(&json!({ "query": "{ me { user { id } } }" }))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    admin(&db, &["revoke-key", "--key", &spare.id.to_string()]);
    let revoked_after = refused_by_all_after(&[&a, &b], &spare.token, Instant::now()).await;
    admin(&db, &["disable-user", "--user", "gene@greenspring.example"]);
    let disabled_after = refused_by_all_after(&[&a, &b], &leaver.token, Instant::now()).await;
    busy.store(false, Ordering::SeqCst);
    background.await.expect("background traffic");
    assert!(revoked_after < Duration::from_secs(1), "a revoked key was accepted for {revoked_after:?}");
    assert!(disabled_after < Duration::from_secs(1), "a disabled user was accepted for {disabled_after:?}");
    let listed = admin(&db, &["list-keys", "--user", &f.gp.id.to_string()]);
    assert!(listed.lines().any(|l| l.starts_with(&spare.id.to_string()) && l.contains("revoked")), "{listed}");
    assert!(!listed.contains(&spare.token), "a listing never shows a token");
    graphql(&a, &gp, "{ me { user { id } } }", json!({}))
        .await
        .pointer("/data/me")
        .expect("the GP's own key still works");

    for w in &mut workers {
        assert!(w.exited().is_none(), "a worker died:\n{}", w.log());
    }
    let figures = json!({
        "test": "two_servers_and_two_workers_on_one_database_lose_no_write_send_no_email_twice_and_cut_off_keys_within_a_second",
        "servers": 2,
        "workers": workers.len(),
        "submissions": acks.len(),
        "racing_transitions": acks.len(),
        "conflicts": conflicts,
        "emails": emails_now.len(),
        "workers_that_sent": senders.len(),
        "revoked_key_refused_by_both_after_ms": millis(revoked_after),
        "disabled_user_refused_by_both_after_ms": millis(disabled_after),
        "seconds": started.elapsed().as_secs_f32(),
    });
    println!("fault-figures {figures}");
}
