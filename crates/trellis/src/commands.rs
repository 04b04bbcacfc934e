//! What each subcommand does.

use std::io::Write;

use anyhow::{Context, bail};
use chrono::Utc;
use tokio::net::TcpListener;
use trellis_domain::Role;
use trellis_domain::organisation::OrganisationKind;
use trellis_domain::values::EmailAddress;
use trellis_migration::{Migrator, MigratorTrait};
use trellis_store::accounts::{NewOrganisation, NewUser};
use trellis_store::{DatabaseSettings, Store};

use crate::demo;
use crate::settings::{AdminAction, Cli, Command, GlobalArgs, ImportSource, MigrateAction, ServeArgs};

/// Runs the chosen subcommand.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::ExportSchema { out } => export_schema(&out),
        Command::Migrate { action } => migrate(&cli.global, action).await,
        Command::Seed { demo } => {
            if !demo {
                bail!("nothing to seed: pass --demo for the demo locality");
            }
            let store = open(&cli.global).await?;
            demo::ensure(&store).await?;
            println!("Demo locality is in place.");
            Ok(())
        }
        Command::Admin { action } => admin(&cli.global, action).await,
        Command::Import { source: ImportSource::Oruk { source, every } } => {
            let store = open(&cli.global).await?;
            match every {
                Some(every) => {
                    let limits = crate::import::FetchLimits::default();
                    crate::import::keep_in_sync(store, vec![source], every, limits, shutdown_signal()).await;
                    Ok(())
                }
                None => import_once(&store, &source).await,
            }
        }
        Command::Serve(args) => serve(&cli.global, args).await,
        Command::Worker(args) => {
            let mail = crate::worker::mailer_settings(&args.mail, false)?;
            crate::worker::log_transport(&mail);
            let store = open(&cli.global).await?.with_policy(args.policy.policy());
            crate::worker::run(store, args, mail, shutdown_signal()).await
        }
    }
}

/// One import run, its report printed; a run that failed is an error (after its report is kept).
async fn import_once(store: &Store, source: &str) -> anyhow::Result<()> {
    let run = crate::import::import_oruk(store, source).await?;
    println!("import run {} from {}: {}", run.id, run.source, run.report);
    match (run.outcome, run.error) {
        (trellis_store::oruk::RunOutcome::Failed, Some(error)) => bail!("the import of {} failed: {error}", run.source),
        (trellis_store::oruk::RunOutcome::NotModified, _) => {
            println!("not modified since the last complete read");
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn connect(global: &GlobalArgs) -> anyhow::Result<Store> {
    let settings =
        DatabaseSettings { url: global.database_url.clone(), max_connections: global.database_max_connections };
    Store::connect(&settings)
        .await
        .with_context(|| format!("cannot connect to the database at {}", redacted(&global.database_url)))
}

/// Connects and applies pending migrations, as every long-running command does on start.
pub async fn open(global: &GlobalArgs) -> anyhow::Result<Store> {
    let store = connect(global).await?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// A database URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn export_schema(out: &std::path::Path) -> anyhow::Result<()> {
    let sdl = trellis_api::schema::sdl();
    if out.as_os_str() == "-" {
        std::io::stdout().write_all(sdl.as_bytes())?;
    } else {
        std::fs::write(out, sdl).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

async fn migrate(global: &GlobalArgs, action: MigrateAction) -> anyhow::Result<()> {
    let store = connect(global).await?;
    let db = store.connection();
    match action {
        MigrateAction::Up => Migrator::up(db, None).await?,
        MigrateAction::Down { all } => Migrator::down(db, if all { None } else { Some(1) }).await?,
        MigrateAction::Status => {
            for m in Migrator::get_migration_with_status(db).await? {
                println!("{:<10} {}", format!("{:?}", m.status()).to_lowercase(), m.name());
            }
        }
    }
    Ok(())
}

async fn admin(global: &GlobalArgs, action: AdminAction) -> anyhow::Result<()> {
    let store = open(global).await?;
    let now = Utc::now();
    let expires_at = now + chrono::Duration::days(global.api_key_expiry_days);
    let (role, email, name, organisation) = match action {
        AdminAction::CreateUser { role, email, name, organisation } => (role, email, name, organisation),
        AdminAction::DisableUser { user } => {
            let user = find_user(&store, &user).await?;
            let user = store.disable_user(user.id, now).await?;
            println!("Disabled user {}: none of their keys works any more.", user.id);
            return Ok(());
        }
        AdminAction::EnableUser { user } => {
            let user = find_user(&store, &user).await?;
            let user = store.enable_user(user.id).await?;
            println!("Enabled user {}: their live keys work again.", user.id);
            return Ok(());
        }
        AdminAction::ListKeys { user } => {
            let user = find_user(&store, &user).await?;
            print!("{}", key_table(&store.api_keys_of(user.id).await?, now));
            return Ok(());
        }
        AdminAction::RevokeKey { key } => {
            let id = key.parse().with_context(|| format!("{key} is not a key id"))?;
            store.api_key(id).await.with_context(|| format!("there is no key {id}"))?;
            let key = store.revoke_api_key(id, now).await?;
            // An operator revokes a key when the user's access is in doubt, as an admin does through
            // the API: the user's console sessions end with it.
            let sessions = store.close_sessions_of(key.user).await?;
            let at = key.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default();
            println!("Revoked key {} ({at}); ended {sessions} console session(s) of its user.", key.id);
            return Ok(());
        }
        AdminAction::IssueKey { user, label } => {
            let user = find_user(&store, &user).await?;
            let key = store.issue_api_key_until(user.id, &label, expires_at, None, now).await?;
            println!("Issued key {} for user {}, working until {}.", key.id, user.id, expires_at.to_rfc3339());
            println!("API token (shown once, store it safely): {}", key.token);
            return Ok(());
        }
        AdminAction::RebuildReportRollups => {
            let started = std::time::Instant::now();
            store.rebuild_report_rollups().await?;
            println!("Counted the report rollups again in {:.1} s.", started.elapsed().as_secs_f64());
            return Ok(());
        }
    };
    let role = Role::parse(&role).filter(|r| *r != Role::System).with_context(|| format!("unknown role {role}"))?;
    let email = EmailAddress::parse(&email)?;
    let organisation = match organisation {
        Some(id) => id.parse().with_context(|| format!("{id} is not an organisation id"))?,
        None if matches!(role, Role::Admin | Role::NetworkLead) => {
            let existing = store.organisations().await?.into_iter().find(|o| o.kind == OrganisationKind::Locality);
            match existing {
                Some(o) => o.id,
                None => {
                    let new = NewOrganisation {
                        gp_message_at_first_contact: false,
                        mesh_mailbox: None,
                        kind: OrganisationKind::Locality,
                        name: "Locality".into(),
                        ods_code: None,
                        email: None,
                        link_worker_service: None,
                    };
                    store.create_organisation(new, now).await?.id
                }
            }
        }
        None => bail!("--organisation is required for a {} user", role.as_str()),
    };
    let new = NewUser { organisation, role, email, name };
    let (user, key) =
        store.create_user_with_key(new, "created with trellis admin create-user", expires_at, now).await?;
    println!("Created {} user {} ({}).", role.as_str(), user.name, user.id);
    println!("API token (shown once, store it safely): {}", key.token);
    Ok(())
}

/// A user by id or by email address.
async fn find_user(store: &Store, user: &str) -> anyhow::Result<trellis_store::accounts::User> {
    let found = match user.parse::<uuid::Uuid>() {
        Ok(id) => store.user(trellis_domain::UserId(id)).await,
        Err(_) => store.user_by_email(&EmailAddress::parse(user)?).await,
    };
    found.with_context(|| format!("there is no user {user}"))
}

/// A user's keys as a plain table, one key a line, for `admin list-keys`.
fn key_table(keys: &[trellis_store::accounts::ApiKey], now: chrono::DateTime<Utc>) -> String {
    let time = |t: Option<chrono::DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string());
    let mut out = format!(
        "{:<36}  {:<8}  {:<17}  {:<17}  {:<17}  {}\n",
        "id", "state", "created", "last used", "expires", "label"
    );
    for k in keys {
        let state = match (k.revoked_at, k.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(e)) if e > now => "live",
            (None, _) => "expired",
        };
        out.push_str(&format!(
            "{:<36}  {:<8}  {:<17}  {:<17}  {:<17}  {}\n",
            k.id,
            state,
            time(Some(k.created_at)).unwrap_or_default(),
            time(k.last_used_at).unwrap_or_else(|| "never".into()),
            time(k.expires_at).unwrap_or_else(|| "-".into()),
            k.label
        ));
    }
    if keys.is_empty() {
        out.push_str("(no keys)\n");
    }
    out
}

async fn serve(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    // Before anything else: a server that cannot send email does not start (`--no-worker` sends none).
    let mail = if args.no_worker { None } else { Some(crate::worker::mailer_settings(&args.mail, args.demo)?) };
    if let Some(mail) = &mail {
        crate::worker::log_transport(mail);
    }
    let store = open(global).await?.with_policy(args.api.policy.policy());
    let listener = TcpListener::bind(&args.bind).await.with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    let mut settings = args.api.settings(args.demo, address)?;
    if args.demo {
        demo::ensure(&store).await?;
        demo::print_tokens(&store, &settings.public_base_url).await?;
    }
    settings.api_key_expiry_days = global.api_key_expiry_days;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = if let Some(mail) = mail {
        let worker_args = crate::settings::WorkerArgs {
            mail: args.mail.clone(),
            mesh: args.mesh.clone(),
            public_base_url: settings.public_base_url.clone(),
            policy: args.api.policy.clone(),
            capacity_check_every_days: args.capacity_check_every_days,
            capacity_link_days: args.capacity_link_days,
            idempotency_key_days: settings.idempotency_key_days,
            feeds: args.feeds.clone(),
        };
        let mut stop = stop_rx.clone();
        // The server's own store: one pool (on SQLite, the one connection), one audit committer.
        let store = store.clone();
        Some(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            crate::worker::run(store, worker_args, mail, stopped).await
        }))
    } else {
        None
    };
    tracing::info!(%address, "Trellis is listening: GraphQL at http://{address}/graphql");
    let state = trellis_api::AppState::new(store, settings);
    trellis_api::serve(listener, state, shutdown_signal()).await?;
    let _ = stop_tx.send(true);
    if let Some(worker) = worker {
        worker.await??;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
