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
        Command::Import { source: ImportSource::Oruk { source } } => {
            let store = open(&cli.global).await?;
            let report = crate::import::import_oruk(&store, &source).await?;
            println!("{report}");
            Ok(())
        }
        Command::Serve(args) => serve(&cli.global, args).await,
        Command::Worker(args) => {
            let mail = crate::worker::mailer_settings(&args.mail, false)?;
            crate::worker::log_transport(&mail);
            crate::worker::run(&cli.global, args, mail, shutdown_signal()).await
        }
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
    let AdminAction::CreateUser { role, email, name, organisation } = action;
    let store = open(global).await?;
    let now = Utc::now();
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
    let user = store.create_user(NewUser { organisation, role, email, name }, now).await?;
    let key = store.issue_api_key(user.id, "created with trellis admin create-user", now).await?;
    println!("Created {} user {} ({}).", role.as_str(), user.name, user.id);
    println!("API token (shown once, store it safely): {}", key.token);
    Ok(())
}

async fn serve(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    // Before anything else: a server that cannot send email does not start (`--no-worker` sends none).
    let mail = if args.no_worker { None } else { Some(crate::worker::mailer_settings(&args.mail, args.demo)?) };
    if let Some(mail) = &mail {
        crate::worker::log_transport(mail);
    }
    let store = open(global).await?;
    if args.demo {
        demo::ensure(&store).await?;
        demo::print_tokens(&store).await?;
    }
    let settings = args.api.settings(args.demo)?;
    let listener = TcpListener::bind(&args.bind).await.with_context(|| format!("cannot listen on {}", args.bind))?;
    let address = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = if let Some(mail) = mail {
        let worker_args = crate::settings::WorkerArgs {
            mail: args.mail.clone(),
            public_base_url: settings.public_base_url.clone(),
            offer_expiry_days: settings.offer_expiry_days,
            capacity_check_every_days: args.capacity_check_every_days,
            capacity_link_days: args.capacity_link_days,
        };
        let mut stop = stop_rx.clone();
        let global = global.clone();
        Some(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            crate::worker::run(&global, worker_args, mail, stopped).await
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
