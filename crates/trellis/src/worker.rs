//! The email worker: drains the outbox and runs the offer timers, inside `serve` or on its own; and keeps
//! the configured Open Referral UK feeds in sync beside it.

use std::time::Duration;

use anyhow::{Context, bail};
use trellis_notifier::{
    Mailer, MailerSettings, SmtpCredentials, SmtpSecurity, SmtpSettings, TransportSettings, Worker, WorkerSettings,
};

use trellis_store::Store;

use trellis_gp_message::mesh::{MeshClient, MeshSettings};

use crate::settings::{MailArgs, MeshArgs, SmtpSecurity as SecurityArg, WorkerArgs};

/// Where `serve --demo` writes emails when no SMTP host is set.
pub const DEMO_OUTBOX: &str = "outbox";

/// The notifier's mailer settings from the command line: SMTP when a host is set; `.eml` files when
/// `--mail-to-files` says so, or for the demo. Otherwise an error: a server that silently wrote offers to a
/// folder nobody reads would leave providers never hearing of them, so mail fails closed.
pub fn mailer_settings(mail: &MailArgs, demo: bool) -> anyhow::Result<MailerSettings> {
    let transport = match (&mail.smtp_host, &mail.mail_to_files) {
        (Some(_), Some(_)) => bail!(
            "both an SMTP host (TRELLIS_SMTP_HOST) and --mail-to-files (TRELLIS_MAIL_TO_FILES) are set: choose one"
        ),
        (Some(host), None) => TransportSettings::Smtp(SmtpSettings {
            host: host.clone(),
            port: mail.smtp_port,
            security: match mail.smtp_security {
                SecurityArg::None => SmtpSecurity::None,
                SecurityArg::Starttls => SmtpSecurity::StartTls,
                SecurityArg::Tls => SmtpSecurity::Tls,
            },
            credentials: mail
                .smtp_username
                .clone()
                .map(|username| SmtpCredentials { username, password: mail.smtp_password.clone().unwrap_or_default() }),
            timeout: Duration::from_secs(30),
        }),
        (None, Some(dir)) => TransportSettings::Files { dir: dir.clone() },
        (None, None) if demo => TransportSettings::Files { dir: DEMO_OUTBOX.into() },
        (None, None) => bail!(
            "no SMTP host is set, so Trellis could not send email and will not start. Set TRELLIS_SMTP_HOST \
             (--smtp-host); or, for a trial, pass --mail-to-files DIR (TRELLIS_MAIL_TO_FILES) to write emails \
             as .eml files, or run `trellis serve --demo`"
        ),
    };
    Ok(MailerSettings { from: mail.mail_from.clone(), transport })
}

/// Says how email will go, before anything else starts: a warning when it goes to files.
pub fn log_transport(mail: &MailerSettings) {
    match &mail.transport {
        TransportSettings::Smtp(smtp) => {
            tracing::info!(host = %smtp.host, port = smtp.port, "email worker sending over SMTP")
        }
        TransportSettings::Files { dir } => {
            tracing::warn!(dir = %dir.display(), "no SMTP host: emails are written as .eml files and reach nobody")
        }
    }
}

/// Runs the worker over `store` with `mail` (from [`mailer_settings`]) until `shutdown` resolves; it
/// finishes the pass it is in first. `serve` passes its own store, so the process has one pool, one audit
/// committer and one principal cache; `trellis worker` alone opens one. Either way the store holds the
/// service levels (`Store::with_policy`), which the timers and capacity checks follow.
pub async fn run(
    store: Store,
    args: WorkerArgs,
    mail: MailerSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mailer = Mailer::from_settings(&mail).context("email settings")?;
    let mesh = mesh_client(&args.mesh)?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "trellis".into());
    let mut settings = WorkerSettings::new(format!("{host}:{}", std::process::id()), args.public_base_url.clone());
    settings.offer_link_ttl = store.policy().offer_expiry().to_std().unwrap_or(Duration::MAX);
    settings.capacity_check_every = Duration::from_secs(86_400 * args.capacity_check_every_days.max(1));
    settings.capacity_link_ttl = Duration::from_secs(86_400 * args.capacity_link_days.max(1));
    settings.idempotency_key_ttl = Duration::from_secs(86_400 * args.idempotency_key_days.max(1).unsigned_abs());
    let (stop_feeds, feeds_stopped) = tokio::sync::watch::channel(false);
    let feeds = (!args.feeds.oruk_feeds.is_empty()).then(|| {
        tracing::info!(feeds = args.feeds.oruk_feeds.len(), every = ?args.feeds.oruk_sync_every, "keeping ORUK feeds in sync");
        let mut stopped = feeds_stopped;
        tokio::spawn(crate::import::keep_in_sync(
            store.clone(),
            args.feeds.oruk_feeds.clone(),
            args.feeds.oruk_sync_every,
            crate::import::FetchLimits::default(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ))
    });
    let shutdown = async move {
        shutdown.await;
        let _ = stop_feeds.send(true);
    };
    let mut worker = Worker::new(store, mailer, settings);
    match mesh {
        Some(mesh) => {
            tracing::info!(mailbox = mesh.mailbox(), "the message back to GP practices goes over MESH");
            worker = worker.with_mesh(mesh);
        }
        None => tracing::info!(
            "no MESH (TRELLIS_MESH_URL): the message back to GP practices is downloaded from Trellis, not sent"
        ),
    }
    worker.run_until(shutdown).await;
    if let Some(feeds) = feeds {
        feeds.await.context("the ORUK feed sync")?;
    }
    Ok(())
}

/// The MESH client from the settings, when `TRELLIS_MESH_URL` is set: then the mailbox, password and
/// shared key must be set too, or the worker does not start (a half-configured MESH would fail every
/// message at the first attempt).
pub fn mesh_client(mesh: &MeshArgs) -> anyhow::Result<Option<MeshClient>> {
    let Some(url) = &mesh.mesh_url else { return Ok(None) };
    let required = |value: &Option<String>, name: &str| {
        value.clone().with_context(|| format!("TRELLIS_MESH_URL is set, so {name} must be set too"))
    };
    let settings = MeshSettings {
        url: url.clone(),
        mailbox: required(&mesh.mesh_mailbox, "TRELLIS_MESH_MAILBOX")?,
        password: required(&mesh.mesh_password, "TRELLIS_MESH_PASSWORD")?,
        shared_key: required(&mesh.mesh_shared_key, "TRELLIS_MESH_SHARED_KEY")?,
        client_certificate: mesh.mesh_client_cert.clone(),
        client_key: mesh.mesh_client_key.clone(),
        ca_certificate: mesh.mesh_ca_cert.clone(),
    };
    Ok(Some(MeshClient::new(settings).context("MESH settings")?))
}
