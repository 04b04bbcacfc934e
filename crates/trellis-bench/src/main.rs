//! `trellis-bench`: measured throughput and latency of the real Trellis server against the database's own
//! rate for the same work.
//!
//! One run seeds a fresh database (PostgreSQL or SQLite) at a chosen size, starts the release `trellis`
//! binary on it (`serve --no-worker`, on a free port, with the rate limit lifted), drives it over HTTP with
//! concurrent clients for each operation in turn, and — in the same run, right after each service
//! measurement — runs a raw-SQL baseline of the same database work on a pool of the same size. The ratio of
//! the two is the figure that holds on a noisy shared machine; the absolute numbers are not.
//!
//! Build the server first: `cargo build --release -p trellis`. See `docs/benchmarks.md`.
//!
//! # Layout
//! - [`seed`]: a fresh database at a chosen size, written with multi-row `INSERT`s.
//! - [`http`]: the server child process and the operations sent to it.
//! - [`baseline`]: the raw-SQL baselines.
//! - [`load`]: concurrent closed-loop clients and latency percentiles.
//! - [`reports`]: impact reports, the whole network and each filter, against the store's own queries.

mod baseline;
mod cpu;
mod http;
mod load;
mod reports;
mod seed;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Parser;
use sea_orm::{ConnectionTrait, Database};
use trellis_domain::OfferId;
use trellis_store::{DatabaseSettings, Store};

use crate::load::Measured;

/// Seeds a database, starts the release server on it and measures it against raw SQL.
#[derive(Parser, Debug)]
#[command(name = "trellis-bench", version, about)]
struct Args {
    /// Run on PostgreSQL: a URL the bench can create databases with (it creates `trellis_bench_<referrals>`,
    /// dropping any earlier one of that name). Without it, SQLite is used.
    #[arg(long, env = "TRELLIS_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// The SQLite file to create (replaced if it exists), when no PostgreSQL URL is given.
    #[arg(long, default_value = "target/bench/trellis-bench.db")]
    sqlite: PathBuf,
    /// Referrals to seed.
    #[arg(long, default_value_t = 10_000)]
    referrals: u64,
    /// Directory services to seed.
    #[arg(long, default_value_t = 1_000)]
    services: u64,
    /// Concurrent clients per operation.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds each operation (and each baseline) runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Connection pool size, for the server and the baseline alike (SQLite always uses one).
    #[arg(long, default_value_t = 16)]
    pool: u32,
    /// The release server binary.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release/trellis"))]
    server_binary: PathBuf,
    /// Where to write the markdown report (it is printed too).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Keep the PostgreSQL database afterwards.
    #[arg(long)]
    keep_database: bool,
    /// Seconds of the single-client latency pass for the read operations (0 to skip it).
    #[arg(long, default_value_t = 3)]
    latency_seconds: u64,
    /// Most offer links minted for the provider-accept operation.
    #[arg(long, default_value_t = 4_000)]
    accept_links: usize,
    /// Run only these operations (comma-separated: submit, caseload, referral, console, audit, offer,
    /// accept, find, network, reports). `audit` ("who saw this person") reads the log the operations before it wrote.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Args {
    fn runs(&self, operation: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == operation)
    }
}

/// SplitMix64: a cheap, well-spread hash for choosing rows without a random number generator.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The URL of database `name` on the same server as `url`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").context("not a URL")? + 3;
    let host_end = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("MemTotal:")).map(|v| v.trim().to_owned()))
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    format!("{cores} cores, {memory} memory")
}

const GRAPHQL_CASELOAD: &str = "referrals (caseload page, 50)";
const CONSOLE_CASELOAD: &str = "console caseload page (HTML, 50)";
const CONSOLE_REFERRAL: &str = "console referral page (HTML)";
const WHO_SAW: &str = "auditLog by referral (who saw this person, 50)";
/// `network` for one town's locality, up to 100 providers, its statistics read for every request.
const NETWORK: &str = "network (one locality, statistics fresh)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.server_binary.exists() {
        bail!("no server binary at {}: run `cargo build --release -p trellis` first", args.server_binary.display());
    }
    let (url, backend, pg_admin) = match &args.postgres_url {
        Some(admin_url) => {
            let name = format!("trellis_bench_{}", args.referrals);
            let admin = Database::connect(admin_url.as_str()).await.context("connecting to PostgreSQL")?;
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            (with_database(admin_url, &name)?, "PostgreSQL", Some((admin, name)))
        }
        None => {
            if let Some(dir) = args.sqlite.parent() {
                std::fs::create_dir_all(dir)?;
            }
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", args.sqlite.display()));
            }
            (format!("sqlite://{}?mode=rwc", args.sqlite.display()), "SQLite", None)
        }
    };
    let pool = if pg_admin.is_some() { args.pool } else { 1 };

    let store = Store::connect(&DatabaseSettings { url: url.clone(), max_connections: pool }).await?;
    store.migrate().await?;
    eprintln!("seeding {} referrals, {} services on {backend}…", args.referrals, args.services);
    let seeded = seed::seed(&store, seed::SeedSize { referrals: args.referrals, services: args.services }).await?;
    eprintln!("seeded in {:.1} s", seeded.seconds);

    // Offer links for the provider accept, minted as the outbox email would.
    let now = Utc::now();
    let expires = now + chrono::Duration::days(14);
    let mut links = Vec::new();
    for chunk in seeded.open_offers.iter().take(args.accept_links).collect::<Vec<_>>().chunks(256) {
        let minted = chunk.iter().map(|id| {
            let store = store.clone();
            let id = OfferId(**id);
            async move { store.mint_link(trellis_store::links::LinkScope::Offer(id), expires, now).await }
        });
        let mut handles = Vec::new();
        for f in minted {
            handles.push(tokio::spawn(f));
        }
        for h in handles {
            links.push(h.await??);
        }
    }

    let log = std::env::temp_dir().join(format!("trellis-bench-server-{}.log", std::process::id()));
    let server = http::Server::start(&args.server_binary, &url, pool, &log).await?;
    eprintln!("server at {} (log: {})", server.base, log.display());
    let api = http::Api::new(&server.base)?;
    let d = Duration::from_secs(args.seconds);
    let c = args.clients;
    let db = store.connection();

    let mut rows: Vec<Row> = Vec::new();
    // The server's peak memory until now (start-up), then each operation's own.
    let mut peaks: Vec<(String, f64)> = vec![("start-up".into(), server.take_peak_rss_mib()?)];
    let mut measure = async |name: &str, service: load::Operation, raw: Vec<load::Operation>| {
        eprintln!("{name}…");
        let before = cpu::sample(server.pid());
        let service = load::run(name, c, d, service).await;
        let mut cpu = vec![spent(before, server.pid(), &service, true)];
        if let Ok(peak) = server.take_peak_rss_mib() {
            peaks.push((name.to_owned(), peak));
        }
        let mut baselines = Vec::new();
        for raw in raw {
            let before = cpu::sample(server.pid());
            let measured = load::run(name, c, d, raw).await;
            cpu.push(spent(before, server.pid(), &measured, false));
            baselines.push(measured);
        }
        let rates: Vec<String> = baselines.iter().map(|r| format!("{:.0}", r.rate())).collect();
        eprintln!("  {:.0} req/s (raw SQL: {})", service.rate(), rates.join(", "));
        let mut baselines = baselines.into_iter();
        rows.push(Row { service, raw: baselines.next(), raw_audited: baselines.next(), cpu });
    };
    if args.runs("submit") {
        let (service, raw) = (http::submit(&api, &seeded, 700_000_000), baseline::submit(db, &seeded, 800_000_000));
        measure("submitReferral", service, vec![raw]).await;
    }
    if args.runs("caseload") {
        let raw = vec![baseline::caseload(db, &seeded, c, false), baseline::caseload(db, &seeded, c, true)];
        measure(GRAPHQL_CASELOAD, http::caseload(&api, &seeded, c), raw).await;
    }
    if args.runs("referral") {
        let raw = vec![baseline::referral(db, &seeded, false), baseline::referral(db, &seeded, true)];
        measure("referral(id) with history", http::referral(&api, &seeded), raw).await;
    }
    let console = if args.runs("console") {
        Some(http::console_session(&api, &store, seeded.link_worker.0).await.context("console sign-in")?)
    } else {
        None
    };
    if let Some(cookie) = &console {
        measure(CONSOLE_CASELOAD, http::console_caseload(&api, cookie, c), vec![]).await;
        measure(CONSOLE_REFERRAL, http::console_referral(&api, cookie, &seeded), vec![]).await;
    }
    let mut who_saw_plan = None;
    let mut who_saw_people = None;
    if args.runs("audit") {
        // The audit log was empty when the seed took statistics; the reads above have written to it since,
        // as a live database's autovacuum would have noticed.
        db.execute_unprepared("ANALYZE").await?;
        let people = std::sync::Arc::new(baseline::who_saw_people(db, &seeded).await?);
        who_saw_plan = Some(who_saw_plan_of(db, &people).await?);
        measure(WHO_SAW, http::who_saw(&api, &seeded, people.clone()), vec![baseline::who_saw(db, people.clone())])
            .await;
        who_saw_people = Some(people);
    }
    if args.runs("offer") {
        measure("offerReferral", http::offer(&api, &seeded), vec![]).await;
    }
    if args.runs("accept") {
        measure("provider accept (GET page + POST)", http::accept(&api, links), vec![]).await;
    }
    if args.runs("find") {
        measure("findServices", http::find_services(&api, &seeded), vec![]).await;
    }
    if args.runs("network") {
        measure(NETWORK, http::network(&api, &seeded), vec![baseline::network(db, &seeded)]).await;
    }
    if args.runs("reports") {
        for ask in reports::ASKS {
            let raw = vec![reports::baseline(&store, &seeded, *ask)];
            measure(ask.name, reports::service(&api, &seeded, *ask), raw).await;
        }
    }

    // The same reads one at a time: latency without queueing behind 31 other clients on two cores.
    let mut single = Vec::new();
    if args.latency_seconds > 0 {
        let d1 = Duration::from_secs(args.latency_seconds);
        let mut reads = vec![
            ("caseload", GRAPHQL_CASELOAD, http::caseload(&api, &seeded, 1)),
            ("referral", "referral(id) with history", http::referral(&api, &seeded)),
            ("find", "findServices", http::find_services(&api, &seeded)),
            ("network", NETWORK, http::network(&api, &seeded)),
        ];
        if let Some(cookie) = &console {
            reads.push(("console", CONSOLE_CASELOAD, http::console_caseload(&api, cookie, 1)));
            reads.push(("console", CONSOLE_REFERRAL, http::console_referral(&api, cookie, &seeded)));
        }
        if let Some(people) = &who_saw_people {
            reads.push(("audit", WHO_SAW, http::who_saw(&api, &seeded, people.clone())));
        }
        for ask in reports::ASKS {
            reads.push(("reports", ask.name, reports::service(&api, &seeded, *ask)));
        }
        for (_, name, op) in reads.into_iter().filter(|(key, _, _)| args.runs(key)) {
            eprintln!("{name}, one client…");
            single.push(load::run(name, 1, d1, op).await);
        }
    }

    peaks.push(("one client at a time".into(), server.take_peak_rss_mib()?));
    let rss = peaks.iter().map(|(_, p)| *p).fold(0.0, f64::max);
    server.stop().await?;
    store.close().await?;
    if let Some((admin, name)) = pg_admin
        && !args.keep_database
    {
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
    }

    let mut report = report(&args, backend, &seeded, &rows, &single, rss);
    let peaks: Vec<String> = peaks.iter().map(|(name, p)| format!("{name} {p:.0}")).collect();
    let _ = writeln!(report, "\nServer peak resident memory by operation (MiB): {}.", peaks.join(" · "));
    if let Some(plan) = who_saw_plan {
        let _ = write!(
            report,
            "\nThe plan of \"who saw this person\" (raw SQL, one caseload referral):\n\n```\n{plan}\n```\n"
        );
    }
    println!("{report}");
    if let Some(path) = &args.report {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &report).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `EXPLAIN ANALYZE` (PostgreSQL) or `EXPLAIN QUERY PLAN` (SQLite) of the raw "who saw" query for the
/// newest referral of the caseload, on the audit log the earlier operations wrote.
async fn who_saw_plan_of(db: &sea_orm::DatabaseConnection, people: &[uuid::Uuid]) -> anyhow::Result<String> {
    let backend = db.get_database_backend();
    let Some(referral) = people.first() else { return Ok("(no referral)".into()) };
    let statement = baseline::who_saw_statement(backend, *referral);
    let (prefix, column) = if backend == sea_orm::DatabaseBackend::Postgres {
        ("EXPLAIN (ANALYZE, COSTS OFF)", "QUERY PLAN")
    } else {
        ("EXPLAIN QUERY PLAN", "detail")
    };
    let explain = sea_orm::Statement::from_sql_and_values(
        backend,
        format!("{prefix} {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let mut lines = Vec::new();
    for row in db.query_all_raw(explain).await? {
        lines.push(row.try_get::<String>("", column)?);
    }
    Ok(lines.join("\n"))
}

/// One operation's measurements: the service, its bare raw-SQL baseline and, for reads, the baseline with
/// the audit entries the service writes.
struct Row {
    service: Measured,
    raw: Option<Measured>,
    raw_audited: Option<Measured>,
    /// CPU per request by process: the service's, then each baseline's in order.
    cpu: Vec<Option<cpu::PerRequest>>,
}

/// The CPU per request of `measured`, since `before`.
fn spent(
    before: Option<cpu::Sample>,
    server: Option<u32>,
    measured: &Measured,
    with_server: bool,
) -> Option<cpu::PerRequest> {
    before?.per_request(&cpu::sample(server)?, measured.ok, with_server)
}

/// Rate and ratio cells for a baseline: `raw req/s`, `service / raw`.
fn versus(service: &Measured, raw: Option<&Measured>) -> (String, String) {
    match raw {
        Some(r) if r.rate() > 0.0 => {
            (format!("{:.0}", r.rate()), format!("{:.0} %", 100.0 * service.rate() / r.rate()))
        }
        Some(_) => ("0".into(), "–".into()),
        None => ("–".into(), "–".into()),
    }
}

/// CPU per request by process at 32 clients, for each operation and its baselines (from `/proc`).
fn cpu_table(out: &mut String, rows: &[Row]) {
    if rows.iter().all(|r| r.cpu.iter().all(Option::is_none)) {
        return;
    }
    let _ = writeln!(
        out,
        "\nCPU per request by process (ms; `/proc`, the measured window; PostgreSQL is every `postgres` process on this machine):\n"
    );
    let _ = writeln!(
        out,
        "| operation | measured | PostgreSQL | server | load generator (and the baseline's SQL client) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for row in rows {
        let sides = ["service", "raw SQL", "raw + audit"];
        for (side, spent) in sides.iter().zip(&row.cpu) {
            let Some(c) = spent else { continue };
            let server = c.server.map_or_else(|| "–".to_owned(), |s| format!("{s:.2}"));
            let _ = writeln!(out, "| {} | {side} | {:.2} | {server} | {:.2} |", row.service.name, c.postgres, c.bench);
        }
    }
}

fn report(args: &Args, backend: &str, seeded: &seed::Seeded, rows: &[Row], single: &[Measured], rss: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {backend}, {} referrals, {} services\n", args.referrals, args.services);
    let _ = writeln!(
        out,
        "{} · {} · {} clients · {} s per operation · pool {} · release server, `serve --no-worker`\n",
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
        args.clients,
        args.seconds,
        if backend == "SQLite" { 1 } else { args.pool },
    );
    let counts: Vec<String> = seeded.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(out, "Seeded in {:.1} s: {}.\n", seeded.seconds, counts.join(", "));
    let _ = writeln!(
        out,
        "| operation | ok | errors | req/s | p50 ms | p95 ms | p99 ms | raw SQL req/s | raw p99 ms | service / raw | raw + audit req/s | service / (raw + audit) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for Row { service: s, raw, raw_audited, .. } in rows {
        let (raw_rate, ratio) = versus(s, raw.as_ref());
        let raw_p99 = raw.as_ref().map(|r| format!("{:.1}", r.p99)).unwrap_or_else(|| "–".into());
        let (audited_rate, audited_ratio) = versus(s, raw_audited.as_ref());
        let exhausted = if s.exhausted { " (pool spent)" } else { "" };
        let _ = writeln!(
            out,
            "| {}{exhausted} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {raw_rate} | {raw_p99} | {ratio} | {audited_rate} | {audited_ratio} |",
            s.name,
            s.ok,
            s.errors,
            s.rate(),
            s.p50,
            s.p95,
            s.p99
        );
    }
    if !single.is_empty() {
        let _ = writeln!(out, "\nOne client at a time, {} s each:\n", args.latency_seconds);
        let _ = writeln!(out, "| operation | ok | errors | req/s | p50 ms | p95 ms | p99 ms |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        for m in single {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} |",
                m.name,
                m.ok,
                m.errors,
                m.rate(),
                m.p50,
                m.p95,
                m.p99
            );
        }
    }
    let rate = |name: &str| rows.iter().find(|r| r.service.name == name).map(|r| r.service.rate());
    if let (Some(console), Some(graphql)) = (rate(CONSOLE_CASELOAD), rate(GRAPHQL_CASELOAD))
        && graphql > 0.0
    {
        let _ = writeln!(
            out,
            "\nConsole caseload page (HTML) / GraphQL caseload page, same run: {:.0} %.",
            100.0 * console / graphql
        );
    }
    let raw = |name: &str| rows.iter().find(|r| r.service.name == name).and_then(|r| r.raw.as_ref()).map(|m| m.rate());
    if let (Some(page), Some(scan)) = (rate(GRAPHQL_CASELOAD), raw(GRAPHQL_CASELOAD))
        && scan > 0.0
    {
        let _ = writeln!(
            out,
            "\nAudited caseload page (GraphQL) / bare caseload scan, same run: {:.0} % (issue 17's target: at least 40 %).",
            100.0 * page / scan
        );
    }
    cpu_table(&mut out, rows);
    let _ = writeln!(out, "\nServer peak resident memory (VmHWM, the whole run): {rss:.0} MiB.");
    for Row { service: s, raw, raw_audited, .. } in rows {
        let measured = std::iter::once(s).chain(raw.iter()).chain(raw_audited.iter());
        for m in measured.chain(single.iter().filter(|m| m.name == s.name)) {
            if let Some(e) = &m.first_error {
                let _ = writeln!(out, "\nFirst error in {} ({} errors): `{}`", m.name, m.errors, e.replace('`', "'"));
            }
        }
    }
    out
}
