//! The email worker: drains the outbox and runs the offer timers, inside `serve` or on its own.

use std::time::Duration;

use anyhow::Context;
use trellis_notifier::{
    Mailer, MailerSettings, SmtpCredentials, SmtpSecurity, SmtpSettings, TransportSettings, Worker, WorkerSettings,
};

use crate::settings::{GlobalArgs, MailArgs, SmtpSecurity as SecurityArg, WorkerArgs};

/// The notifier's mailer settings from the command line: SMTP when a host is set, else `.eml` files.
fn mailer_settings(mail: &MailArgs) -> MailerSettings {
    let transport = match &mail.smtp_host {
        Some(host) => TransportSettings::Smtp(SmtpSettings {
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
        None => TransportSettings::Files { dir: mail.outbox_dir.clone() },
    };
    MailerSettings { from: mail.mail_from.clone(), transport }
}

/// Runs the worker until `shutdown` resolves; it finishes the pass it is in first.
pub async fn run(
    global: &GlobalArgs,
    args: WorkerArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = crate::commands::open(global).await?;
    let mailer = Mailer::from_settings(&mailer_settings(&args.mail)).context("email settings")?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "trellis".into());
    let mut settings = WorkerSettings::new(format!("{host}:{}", std::process::id()), args.public_base_url.clone());
    settings.offer_link_ttl = Duration::from_secs(86_400 * args.offer_expiry_days.max(1) as u64);
    settings.capacity_check_every = Duration::from_secs(86_400 * args.capacity_check_every_days.max(1));
    settings.capacity_link_ttl = Duration::from_secs(86_400 * args.capacity_link_days.max(1));
    settings.idempotency_key_ttl = Duration::from_secs(86_400 * args.idempotency_key_days.max(1).unsigned_abs());
    match &args.mail.smtp_host {
        Some(host) => tracing::info!(%host, port = args.mail.smtp_port, "email worker sending over SMTP"),
        None => {
            tracing::info!(dir = %args.mail.outbox_dir.display(), "no SMTP host set: email worker writes .eml files")
        }
    }
    Worker::new(store, mailer, settings).run_until(shutdown).await;
    Ok(())
}
