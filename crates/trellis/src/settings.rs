//! Settings: defaults, overridden by `TRELLIS_*` environment variables, overridden by flags.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use trellis_domain::policy::Policy;

/// Trellis: a social prescribing referral network.
#[derive(Parser, Debug)]
#[command(name = "trellis", version, about, long_about = None)]
pub struct Cli {
    /// Settings every command shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// The database: an SQLite file (created if missing) or a PostgreSQL URL.
    #[arg(long, env = "TRELLIS_DATABASE_URL", default_value = "sqlite://trellis.db?mode=rwc", global = true)]
    pub database_url: String,
    /// PostgreSQL connection pool size (SQLite always uses one connection).
    #[arg(long, env = "TRELLIS_DATABASE_MAX_CONNECTIONS", default_value_t = 16, global = true)]
    pub database_max_connections: u32,
    /// Log format.
    #[arg(long, env = "TRELLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    /// How long a newly issued API key works, in days (`createUser`, `issueApiKey`, `admin create-user`,
    /// `admin issue-key`); after that it is refused and its user needs a new one.
    #[arg(long, env = "TRELLIS_API_KEY_EXPIRY_DAYS", default_value_t = 365, value_parser = clap::value_parser!(i64).range(1..=3650), global = true)]
    pub api_key_expiry_days: i64,
}

/// How logs are written.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (GraphQL API, provider pages, health checks) and the email worker.
    Serve(ServeArgs),
    /// Run only the email worker (outbox delivery, reminders, expiries).
    Worker(WorkerArgs),
    /// Apply or roll back database migrations.
    Migrate {
        /// What to do.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load data into the database.
    Seed {
        /// A demo locality: a PCN, three GP practices, link workers, a dozen providers, referrals in every state.
        #[arg(long)]
        demo: bool,
    },
    /// Administration: users, their API keys, and offboarding.
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Import data into the directory.
    Import {
        /// What to import.
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Print the GraphQL schema (SDL), or write it to a file.
    ExportSchema {
        /// Where to write it; `-` for standard output.
        #[arg(long, default_value = "-")]
        out: PathBuf,
    },
}

/// Migration actions.
#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last migration, or all with `--all`.
    Down {
        /// Roll back every migration.
        #[arg(long)]
        all: bool,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Importable sources.
#[derive(Subcommand, Debug)]
pub enum ImportSource {
    /// An Open Referral UK `/services` response: a JSON file, or the http(s) address of a page (every
    /// following page is fetched too). Re-importing updates rather than duplicates.
    Oruk {
        /// A file path or an http(s) URL.
        source: String,
        /// Keep the feed in sync: read it again at this interval (`30m`, `6h`, `1d`) until stopped.
        #[arg(long, value_parser = crate::import::parse_every)]
        every: Option<std::time::Duration>,
    },
}

/// Administration actions.
#[derive(Subcommand, Debug)]
pub enum AdminAction {
    /// Create a user and print their API token once.
    CreateUser {
        /// Their role: admin, network_lead, link_worker, gp_practice or provider.
        #[arg(long)]
        role: String,
        /// Their email address.
        #[arg(long)]
        email: String,
        /// Their name.
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Their organisation's id; for an admin or network lead with none given, the locality
        /// organisation is used (and created if there is none).
        #[arg(long)]
        organisation: Option<String>,
    },
    /// Disable a user (offboarding): every key of theirs is refused by every server within a second.
    DisableUser {
        /// The user's id or email address.
        #[arg(long)]
        user: String,
    },
    /// Let a disabled user sign in again with their keys that are neither revoked nor expired.
    EnableUser {
        /// The user's id or email address.
        #[arg(long)]
        user: String,
    },
    /// List a user's API keys (never the tokens): id, label, created, last used, expiry, revoked.
    ListKeys {
        /// The user's id or email address.
        #[arg(long)]
        user: String,
    },
    /// Revoke an API key by the id `list-keys` shows; every server refuses it within a second.
    RevokeKey {
        /// The key's id.
        #[arg(long)]
        key: String,
    },
    /// Issue a new API key for a user and print its token once.
    IssueKey {
        /// The user's id or email address.
        #[arg(long)]
        user: String,
        /// What it is for, to tell keys apart in `list-keys`.
        #[arg(long, default_value = "issued with trellis admin issue-key")]
        label: String,
    },
    /// Count the impact reports' rollups again from the records, after a bulk load that bypassed the
    /// database's triggers (one transaction; writes to referrals and offers wait for it).
    RebuildReportRollups,
}

/// HTTP server settings.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, env = "TRELLIS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Load the demo locality (if absent) and print demo tokens. Also switches on the explorer and
    /// introspection, and, with no SMTP host, writes emails as .eml files to ./outbox.
    #[arg(long, env = "TRELLIS_DEMO")]
    pub demo: bool,
    /// Do not run the email worker inside the server (run `trellis worker` separately).
    #[arg(long, env = "TRELLIS_NO_WORKER")]
    pub no_worker: bool,
    /// Days between the emails asking a provider to confirm a service's capacity.
    #[arg(long, env = "TRELLIS_CAPACITY_CHECK_EVERY_DAYS", default_value_t = 28)]
    pub capacity_check_every_days: u64,
    /// How long a capacity-check link works, in days.
    #[arg(long, env = "TRELLIS_CAPACITY_LINK_DAYS", default_value_t = 14)]
    pub capacity_link_days: u64,
    /// API behaviour.
    #[command(flatten)]
    pub api: ApiArgs,
    /// Open Referral UK feeds the worker keeps in sync.
    #[command(flatten)]
    pub feeds: FeedArgs,
    /// Email delivery.
    #[command(flatten)]
    pub mail: MailArgs,
    /// MESH delivery of the message back to GP practices.
    #[command(flatten)]
    pub mesh: MeshArgs,
}

/// MESH, for the message back to GP practices (GP Connect Send Document). Without `--mesh-url` no message
/// is sent over MESH: practices download it from Trellis, and queued messages are recorded as not sent.
#[derive(Args, Clone)]
pub struct MeshArgs {
    /// The MESH server (`https://msg.intspineservices.nhs.uk` for live; plain HTTP only to loopback).
    #[arg(long, env = "TRELLIS_MESH_URL")]
    pub mesh_url: Option<String>,
    /// Trellis's own MESH mailbox id.
    #[arg(long, env = "TRELLIS_MESH_MAILBOX")]
    pub mesh_mailbox: Option<String>,
    /// The mailbox's password.
    #[arg(long, env = "TRELLIS_MESH_PASSWORD", hide_env_values = true)]
    pub mesh_password: Option<String>,
    /// The MESH environment's shared key.
    #[arg(long, env = "TRELLIS_MESH_SHARED_KEY", hide_env_values = true)]
    pub mesh_shared_key: Option<String>,
    /// The client certificate (PEM) for mutual TLS.
    #[arg(long, env = "TRELLIS_MESH_CLIENT_CERT")]
    pub mesh_client_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "TRELLIS_MESH_CLIENT_KEY")]
    pub mesh_client_key: Option<std::path::PathBuf>,
    /// The MESH environment's CA bundle (PEM), trusted instead of the public roots.
    #[arg(long, env = "TRELLIS_MESH_CA_CERT")]
    pub mesh_ca_cert: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for MeshArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshArgs")
            .field("mesh_url", &self.mesh_url)
            .field("mesh_mailbox", &self.mesh_mailbox)
            .finish_non_exhaustive()
    }
}

/// The service levels, read by the server and the worker alike (a worker on its own runs the offer
/// timers and capacity checks by them too).
#[derive(Args, Debug, Clone)]
pub struct PolicyArgs {
    /// How long a provider has to answer an offer, in days.
    #[arg(long, env = "TRELLIS_OFFER_EXPIRY_DAYS", default_value_t = 14)]
    pub offer_expiry_days: i64,
    /// When an unanswered offer gets its one reminder, in days.
    #[arg(long, env = "TRELLIS_OFFER_REMINDER_DAYS", default_value_t = 5)]
    pub offer_reminder_days: i64,
    /// Working days within which a new referral should be contacted.
    #[arg(long, env = "TRELLIS_FIRST_CONTACT_WORKING_DAYS", default_value_t = 5)]
    pub first_contact_working_days: u32,
    /// Capacity a provider has not confirmed for this many days is shown as stale.
    #[arg(long, env = "TRELLIS_CAPACITY_STALE_AFTER_DAYS", default_value_t = 14)]
    pub capacity_stale_after_days: i64,
}

impl PolicyArgs {
    /// The service levels the store derives deadlines and staleness from.
    pub fn policy(&self) -> Policy {
        Policy {
            offer_expiry_days: self.offer_expiry_days,
            offer_reminder_days: self.offer_reminder_days,
            first_contact_working_days: self.first_contact_working_days,
            capacity_stale_after_days: self.capacity_stale_after_days,
            ..Policy::default()
        }
    }
}

/// Email worker settings.
#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Email delivery.
    #[command(flatten)]
    pub mail: MailArgs,
    /// MESH delivery of the message back to GP practices.
    #[command(flatten)]
    pub mesh: MeshArgs,
    /// The address people reach Trellis at, for links in emails.
    #[arg(long, env = "TRELLIS_PUBLIC_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub public_base_url: String,
    /// The service levels (offer expiry and reminder, first contact, capacity staleness).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Days between the emails asking a provider to confirm a service's capacity.
    #[arg(long, env = "TRELLIS_CAPACITY_CHECK_EVERY_DAYS", default_value_t = 28)]
    pub capacity_check_every_days: u64,
    /// How long a capacity-check link works, in days.
    #[arg(long, env = "TRELLIS_CAPACITY_LINK_DAYS", default_value_t = 14)]
    pub capacity_link_days: u64,
    /// How long a referral's idempotency key is remembered, in days; older keys are forgotten.
    #[arg(long, env = "TRELLIS_IDEMPOTENCY_KEY_DAYS", default_value_t = 30)]
    pub idempotency_key_days: i64,
    /// Open Referral UK feeds kept in sync.
    #[command(flatten)]
    pub feeds: FeedArgs,
}

/// Open Referral UK feeds the worker keeps in sync (none by default).
#[derive(Args, Debug, Clone)]
pub struct FeedArgs {
    /// A feed's `/services` address; repeat the flag, or separate addresses with commas in the variable.
    #[arg(long = "oruk-feed", env = "TRELLIS_ORUK_FEEDS", value_delimiter = ',')]
    pub oruk_feeds: Vec<String>,
    /// How often each feed is read (`30m`, `6h`, `1d`).
    #[arg(long, env = "TRELLIS_ORUK_SYNC_EVERY", default_value = "6h", value_parser = crate::import::parse_every)]
    pub oruk_sync_every: std::time::Duration,
}

/// API behaviour.
#[derive(Args, Debug, Clone)]
pub struct ApiArgs {
    /// The address people reach Trellis at, for links in emails and sign-in links (default: the
    /// address the server listens on, `http://127.0.0.1:<port>` when it listens on every interface).
    #[arg(long, env = "TRELLIS_PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// Allow GraphQL introspection (default: on with --demo, otherwise off).
    #[arg(long, env = "TRELLIS_INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,
    /// Serve the GraphQL explorer at GET /graphql (default: on with --demo, otherwise off).
    #[arg(long, env = "TRELLIS_EXPLORER", action = clap::ArgAction::Set)]
    pub explorer: Option<bool>,
    /// Requests per minute per token (or per anonymous address).
    #[arg(long, env = "TRELLIS_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u32,
    /// Largest request body, in bytes.
    #[arg(long, env = "TRELLIS_BODY_LIMIT_BYTES", default_value_t = 262_144)]
    pub body_limit_bytes: usize,
    /// Request timeout, in seconds.
    #[arg(long, env = "TRELLIS_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// The service levels (offer expiry and reminder, first contact, capacity staleness).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// A text file with the seven SWEMWBS items' wording, one per line, which the deploying organisation
    /// holds a licence for. Without it the items read "Item 1" … "Item 7".
    #[arg(long, env = "TRELLIS_SWEMWBS_WORDING_FILE")]
    pub swemwbs_wording_file: Option<PathBuf>,
    /// How long a referral's idempotency key is remembered, in days: a retry within it replays the
    /// first submission; after it a reuse of the key makes a new referral.
    #[arg(long, env = "TRELLIS_IDEMPOTENCY_KEY_DAYS", default_value_t = 30)]
    pub idempotency_key_days: i64,
    /// A console sign-in ends after this many minutes without a request.
    #[arg(long, env = "TRELLIS_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u64,
    /// A console sign-in ends this many hours after it began, however busy.
    #[arg(long, env = "TRELLIS_SESSION_MAX_HOURS", default_value_t = 10)]
    pub session_max_hours: u64,
}

impl ApiArgs {
    /// The API crate's settings for a server listening on `listening`. `demo` switches the explorer and
    /// introspection on unless they are set. Fails if a SWEMWBS wording file is named but unreadable or
    /// not seven non-empty lines.
    pub fn settings(&self, demo: bool, listening: SocketAddr) -> anyhow::Result<trellis_api::ApiSettings> {
        let swemwbs_wording = self.swemwbs_wording_file.as_deref().map(read_swemwbs_wording).transpose()?;
        Ok(trellis_api::ApiSettings {
            public_base_url: public_base_url(self.public_base_url.as_deref(), listening),
            introspection: self.introspection.unwrap_or(demo),
            explorer: self.explorer.unwrap_or(demo),
            session_idle: std::time::Duration::from_secs(60 * self.session_idle_minutes.max(1)),
            session_max: std::time::Duration::from_secs(3600 * self.session_max_hours.max(1)),
            rate_limit_per_minute: self.rate_limit_per_minute,
            body_limit_bytes: self.body_limit_bytes,
            request_timeout_secs: self.request_timeout_secs,
            idempotency_key_days: self.idempotency_key_days,
            swemwbs_wording,
            ..trellis_api::ApiSettings::default()
        })
    }
}

/// The address in links: the one given (without a trailing `/`), or the address the server listens on,
/// with `127.0.0.1` (or `::1`) for one that listens on every interface.
pub fn public_base_url(given: Option<&str>, listening: SocketAddr) -> String {
    if let Some(given) = given {
        return given.trim_end_matches('/').to_owned();
    }
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, listening.port()))
}

/// The SWEMWBS wording: exactly seven non-empty lines.
fn read_swemwbs_wording(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the SWEMWBS wording file {}", path.display()))?;
    let lines: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    anyhow::ensure!(
        lines.len() == 7,
        "the SWEMWBS wording file must hold 7 items, one per line; it holds {}",
        lines.len()
    );
    Ok(lines)
}

/// Email delivery: SMTP when a host is set; `.eml` files only when asked for (or with `--demo`).
#[derive(Args, Debug, Clone)]
pub struct MailArgs {
    /// SMTP server host. Required to send email: without it (or --mail-to-files), serve and worker
    /// refuse to start, except serve --demo.
    #[arg(long, env = "TRELLIS_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP server port.
    #[arg(long, env = "TRELLIS_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    /// SMTP connection security.
    #[arg(long, env = "TRELLIS_SMTP_SECURITY", value_enum, default_value_t = SmtpSecurity::Starttls)]
    pub smtp_security: SmtpSecurity,
    /// SMTP user name.
    #[arg(long, env = "TRELLIS_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// SMTP password (never logged).
    #[arg(long, env = "TRELLIS_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
    /// The From address of every email.
    #[arg(long, env = "TRELLIS_MAIL_FROM", default_value = "Trellis <no-reply@trellis.localhost>")]
    pub mail_from: String,
    /// Write emails as .eml files to this folder instead of sending them (no SMTP host). For trials
    /// and tests: nothing reaches anyone.
    #[arg(long, env = "TRELLIS_MAIL_TO_FILES", value_name = "DIR")]
    pub mail_to_files: Option<PathBuf>,
}

/// SMTP connection security.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection (loopback test servers only).
    None,
    /// Upgrade with STARTTLS.
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

/// Starts logging. `RUST_LOG` overrides the default filter.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, public_base_url};

    #[test]
    fn links_point_where_the_server_listens_unless_an_address_is_given() {
        let at = |a: &str| a.parse().expect("socket address");
        assert_eq!(public_base_url(None, at("127.0.0.1:9123")), "http://127.0.0.1:9123");
        assert_eq!(public_base_url(None, at("0.0.0.0:8080")), "http://127.0.0.1:8080");
        assert_eq!(public_base_url(None, at("[::]:8443")), "http://[::1]:8443");
        assert_eq!(public_base_url(None, at("192.0.2.7:80")), "http://192.0.2.7:80");
        let given = Some("https://trellis.example.nhs.uk/");
        assert_eq!(public_base_url(given, at("127.0.0.1:9123")), "https://trellis.example.nhs.uk");
    }

    #[test]
    fn a_worker_on_its_own_reads_every_service_level_as_the_server_does() {
        let levels = [
            "--offer-expiry-days",
            "10",
            "--offer-reminder-days",
            "3",
            "--first-contact-working-days",
            "2",
            "--capacity-stale-after-days",
            "7",
        ];
        let parse = |command: &str| {
            let cli = Cli::try_parse_from(["trellis", command].into_iter().chain(levels)).expect("arguments parse");
            match cli.command {
                Command::Worker(args) => args.policy.policy(),
                Command::Serve(args) => args.api.policy.policy(),
                other => panic!("unexpected command {other:?}"),
            }
        };
        let worker = parse("worker");
        assert_eq!(
            (
                worker.offer_expiry_days,
                worker.offer_reminder_days,
                worker.first_contact_working_days,
                worker.capacity_stale_after_days
            ),
            (10, 3, 2, 7)
        );
        assert_eq!(worker, parse("serve"));
    }

    #[test]
    fn the_worker_and_the_server_take_the_feeds_to_keep_in_sync_and_how_often() {
        let feeds = |command: &str, extra: &[&str]| {
            let cli = Cli::try_parse_from(["trellis", command].iter().chain(extra)).expect("arguments parse");
            match cli.command {
                Command::Worker(args) => args.feeds,
                Command::Serve(args) => args.feeds,
                other => panic!("unexpected command {other:?}"),
            }
        };
        let given = ["--oruk-feed", "https://a.example/services", "--oruk-feed", "https://b.example/services"];
        let worker = feeds("worker", &[&given[..], &["--oruk-sync-every", "30m"]].concat());
        assert_eq!(worker.oruk_feeds, ["https://a.example/services", "https://b.example/services"]);
        assert_eq!(worker.oruk_sync_every, std::time::Duration::from_secs(1800));
        let serve = feeds("serve", &[]);
        assert!(serve.oruk_feeds.is_empty(), "no feed unless one is configured");
        assert_eq!(serve.oruk_sync_every, std::time::Duration::from_secs(6 * 3600));
        assert!(Cli::try_parse_from(["trellis", "worker", "--oruk-sync-every", "often"]).is_err());
        let import = Cli::try_parse_from(["trellis", "import", "oruk", "https://a.example/services", "--every", "6h"]);
        assert!(matches!(
            import.expect("arguments parse").command,
            Command::Import { source: super::ImportSource::Oruk { every: Some(e), .. } } if e.as_secs() == 21_600
        ));
    }
}
